/*
 * Exceptions and device interrupts.  The test guest has no recoverable faults: every exception
 * is a bug or a deliberate test, so it is reported and the VM ends.
 */
#include "kernel.h"

void trap_handler(struct trap_frame *f);

static const char *const names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection",
	"reserved 22", "reserved 23", "reserved 24", "reserved 25", "reserved 26",
	"reserved 27", "#HV hypervisor injection", "#VC VMM communication",
	"#SX security", "reserved 31",
};

void trap_handler(struct trap_frame *f)
{
	uint64_t cr2 = 0;

	if (f->vector >= IRQ_VECTOR_BASE) {
		irq_handler((unsigned)(f->vector - IRQ_VECTOR_BASE));
		return;
	}
	if (f->vector == 14)
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	kprintf("exception %s vector=%lu err=0x%lx rip=0x%lx addr=0x%lx rsp=0x%lx rflags=0x%lx ring=%lu",
		f->vector < 32 ? names[f->vector] : "?", f->vector, f->error, f->rip,
		cr2, f->rsp, f->rflags, f->cs & 3);
	kexit(MV_EXIT_EXCEPTION);
}
