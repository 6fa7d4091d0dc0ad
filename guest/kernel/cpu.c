#include "kernel.h"

#include <stddef.h>

#include "sysabi.h"

/*
 * Ring 3 reaches its ports through the TSS I/O bitmap: kvm_pvm clears
 * IOPL on the way to ring 3, so IOPL 3 alone does not do it.
 */
#define IOMAP_BYTES ((0xcff + 1 + 7) / 8)   /* up to PCI configuration data */

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
	/* A 0 bit lets ring 3 use that port; the last byte must be all ones. */
	uint8_t iomap[IOMAP_BYTES + 1];
} __attribute__((packed));

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct table_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static struct tss tss = {
	.iomap_base = offsetof(struct tss, iomap),
	.iomap = { [0 ... IOMAP_BYTES] = 0xff },
};
static struct idt_gate idt[IRQ_VECTOR_BASE + IRQ_LINES];
static uint64_t gdt[7] = {
	0,
	0x00af9a000000ffffull, /* 0x08 kernel code, 64-bit */
	0x00cf92000000ffffull, /* 0x10 kernel data */
	0x00cff2000000ffffull, /* 0x18 user data, DPL 3 */
	0x00affa000000ffffull, /* 0x20 user code, 64-bit, DPL 3 */
	0, 0,                  /* 0x28 TSS, two slots */
};

static void set_tss_descriptor(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss;
	uint64_t limit = sizeof(tss) - 1;

	gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[6] = base >> 32;
}

static void allow_ports(unsigned first, unsigned count)
{
	for (unsigned p = first; p < first + count; p++)
		tss.iomap[p / 8] &= (uint8_t)~(1u << (p % 8));
}

void cpu_init(void)
{
	struct table_ptr gp = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
	struct table_ptr ip = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	/* Exceptions from ring 3 land on ring 0's stack. */
	tss.rsp[0] = (uint64_t)(uintptr_t)kstack_top;
	allow_ports(MV_PORT_COM1, 8);
	allow_ports(MV_PORT_EXIT, MV_PORT_IDLE + 4 - MV_PORT_EXIT);
	allow_ports(0xcf8, 8);  /* PCI configuration mechanism #1, for ring-3 drivers */
	set_tss_descriptor();
	for (unsigned v = 0; v < IRQ_VECTOR_BASE + IRQ_LINES; v++) {
		uint64_t off = v == 3 ? (uint64_t)(uintptr_t)syscall_gate : isr_table[v];
		idt[v].off_lo = (uint16_t)off;
		idt[v].sel = SEL_KCODE;
		idt[v].ist = 0;
		/* Interrupt gates, ring 0 only, but for the int3 system-call gate. */
		idt[v].type = v == 3 ? 0xee : 0x8e;
		idt[v].off_mid = (uint16_t)(off >> 16);
		idt[v].off_hi = (uint32_t)(off >> 32);
		idt[v].zero = 0;
	}
	__asm__ volatile("lgdt %0" : : "m"(gp));
	cpu_reload_segments();
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
	__asm__ volatile("lidt %0" : : "m"(ip));
}
