/*
 * The contract between the test guest's ring 0 and its ring 3: system call
 * numbers and the block ring 0 fills in before it drops to ring 3.
 *
 * System calls go through `int3` (see kernel/entry.S for why not
 * `syscall`): number in RAX, arguments in RDI, RSI, RDX; result in RAX.
 * RCX, R11, RDI, RSI, RDX, R8-R10 are clobbered.  The TSS I/O bitmap
 * opens the console, line, exit and event ports to ring 3, so printing
 * needs no system call at all.
 */
#ifndef MEMVISOR_GUEST_SYSABI_H
#define MEMVISOR_GUEST_SYSABI_H

#include <stdint.h>
#include "abi.h"

enum {
	SYS_EXIT = 0,        /* (code): ends the VM with that exit code */
	SYS_ALLOC_PAGES = 1, /* (npages): gpa of npages contiguous pages, or 0 */
	SYS_FREE_PAGES = 2,  /* (gpa, npages): 0, or -1 if not an allocated range */
	SYS_FREE_COUNT = 3,  /* (): pages the allocator still has free */
	/*
	 * (irq, &counter): ring 3 takes PIC line irq (level-triggered): each
	 * interrupt masks the line and adds 1 to the 64-bit counter, which
	 * must be ring 3's memory.  0, or -1.
	 */
	SYS_IRQ_ATTACH = 4,
	SYS_IRQ_UNMASK = 5,  /* (irq): take the line's interrupts again; 0, or -1 */
	/*
	 * The page cache: pages whose contents may be dropped at any time.
	 * SYS_ALLOC_PAGES drops the oldest cache when no free run is long enough.
	 */
	SYS_CACHE_ADD = 6,   /* (npages): gpa of npages new cache pages, or -1 */
	SYS_CACHE_TAKE = 7,  /* (max): drop up to max (<= 4096) of the oldest cache pages and own
	                        them: gpa | (pages - 1), or -1 when there is no cache */
	SYS_CACHE_HAS = 8,   /* (gpa, npages): 1 if all of them are still cache, else 0 */
	SYS_CACHE_COUNT = 9, /* (0): pages cached now; (1): pages dropped so far */
};

#define SYS_ERR ((uint64_t)-1)

/* Filled by ring 0, read by ring 3 (its address arrives in RDI). */
struct user_boot {
	uint64_t ram_size;
	uint64_t tsc_khz;
	uint64_t boot_tsc;
	uint32_t vcpu_count;
	char     vm_name[MV_VM_NAME_MAX];
	char     cmdline[MV_CMDLINE_MAX];
};

/* Selectors of the guest's own GDT (user ones carry RPL 3). */
#define USER_STACK_BYTES (64 * 1024)

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b
#define SEL_UCODE 0x23
#define SEL_TSS   0x28

#endif
