/*
 * Device interrupts, UIO-style.  The two 8259 PICs (the in-kernel irqchip's)
 * deliver IRQ n at vector 32 + n.  Ring 0's handler only masks the line,
 * acknowledges the PIC and bumps a counter in ring 3's memory: every
 * instruction here is emulated (about 1 us each), and the driver's work
 * (reading the device's ISR, which lowers a level-triggered line) is
 * ring 3's.  Ring 3 unmasks the line when it has done that.
 */
#include "kernel.h"

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1
#define ELCR1     0x4d0   /* edge/level control: a 1 bit makes that IRQ level-triggered */
#define ELCR2     0x4d1
#define PIC_EOI   0x20

static volatile uint64_t *counter[IRQ_LINES];
static uint64_t user_lo, user_hi;  /* where ring 3's memory is */
static uint16_t imr = 0xffff;       /* all masked but the cascade, from pic_init on */

static void write_imr(void)
{
	outb(PIC1_DATA, (uint8_t)imr);
	outb(PIC2_DATA, (uint8_t)(imr >> 8));
}

void irq_init(uint64_t user_start, uint64_t ram_size)
{
	user_lo = user_start;
	user_hi = ram_size;
	/* ICW1-4: cascade, vectors 32-39 and 40-47, slave on IRQ 2, 8086 mode. */
	outb(PIC1_CMD, 0x11);
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, IRQ_VECTOR_BASE);
	outb(PIC2_DATA, IRQ_VECTOR_BASE + 8);
	outb(PIC1_DATA, 4);
	outb(PIC2_DATA, 2);
	outb(PIC1_DATA, 1);
	outb(PIC2_DATA, 1);
	imr = 0xffff & ~(1u << 2);
	write_imr();
}

int irq_attach(uint64_t irq, uint64_t counter_addr)
{
	uint16_t port = irq < 8 ? ELCR1 : ELCR2;

	/* Whatever ring 3 passes: a real line (not the cascade), an aligned word of its own memory. */
	if (irq >= IRQ_LINES || irq == 2 || (counter_addr & 7) || counter_addr < user_lo ||
	    counter_addr > user_hi - 8)
		return -1;
	counter[irq] = (volatile uint64_t *)(uintptr_t)counter_addr;
	/* PCI INTx is level-triggered and shared-capable. */
	outb(port, (uint8_t)(inb(port) | 1u << (irq & 7)));
	return irq_unmask(irq);
}

int irq_unmask(uint64_t irq)
{
	if (irq >= IRQ_LINES || !counter[irq])
		return -1;
	imr &= (uint16_t)~(1u << irq);
	write_imr();
	return 0;
}

void irq_handler(unsigned irq)
{
	if (irq >= IRQ_LINES)
		return;
	if (counter[irq]) {
		/* Masked until ring 3 has quietened the device, or a level line would fire again at once. */
		imr |= (uint16_t)(1u << irq);
		write_imr();
		(*counter[irq])++;
	}
	if (irq >= 8)
		outb(PIC2_CMD, PIC_EOI);
	outb(PIC1_CMD, PIC_EOI);
}
