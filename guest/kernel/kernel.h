/*
 * Ring 0 of the test guest, internal interfaces.  Ring 0 is emulated on
 * kvm_pvm, so everything here is short and runs once or per system call.
 */
#ifndef MEMVISOR_GUEST_KERNEL_H
#define MEMVISOR_GUEST_KERNEL_H

#include <stdint.h>
#include "abi.h"
#include "lib/io.h"

/* Saved by isr_common (entry.S), lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Boot structures and ring 0's image live below this; ring 3 may not. */
#define USER_SPACE_START (4ull << 20)

/* cpu.c: GDT with TSS (and ring 3's I/O bitmap), IDT for the 32
 * exceptions (vector 3 being the system-call gate) and the 16 PIC lines. */
void cpu_init(void);

/* paging.c: identity map [0, ram) with 2 MiB pages; below 4 MiB (boot
 * structures and ring 0's image) is supervisor-only. */
void paging_init(uint64_t ram_size);

/* palloc.c: physical page allocator over [start, end). */
void palloc_init(uint64_t start, uint64_t end);
uint64_t palloc_alloc(uint64_t npages);               /* gpa, or 0 */
int palloc_free(uint64_t gpa, uint64_t npages);       /* 0, or -1 */
uint64_t palloc_free_pages(void);

/* pcache.c: the page cache (see sysabi.h's SYS_CACHE_*). */
#define PCACHE_TAKE_MAX 4096
uint64_t pcache_alloc(uint64_t npages);      /* palloc_alloc, dropping cache when it must */
uint64_t pcache_add(uint64_t npages);        /* gpa of new cache pages, or 0 */
uint64_t pcache_take(uint64_t max_pages);    /* gpa | (pages - 1) of dropped cache, or 0 */
int pcache_has(uint64_t gpa, uint64_t npages);
uint64_t pcache_pages(void);
uint64_t pcache_dropped(void);

/* irq.c: the PICs, and device lines handed to ring 3 (see sysabi.h). */
#define IRQ_LINES 16
#define IRQ_VECTOR_BASE 32
void irq_init(uint64_t user_start, uint64_t ram_size);
int irq_attach(uint64_t irq, uint64_t counter_addr);  /* 0, or -1 */
int irq_unmask(uint64_t irq);                         /* 0, or -1 */
void irq_handler(unsigned irq);

/* kprint.c: one console line through the line port; the VM exit port. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void kexit(uint32_t code);

/* entry.S */
__attribute__((noreturn)) void enter_user(uint64_t rip, uint64_t rsp, uint64_t arg);
void cpu_reload_segments(void);
void syscall_gate(void);
extern const uint64_t isr_table[IRQ_VECTOR_BASE + IRQ_LINES];
extern char kstack_top[];

#endif
