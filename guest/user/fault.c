/*
 * fault: makes ring 3 fault on purpose, to show (and test) that ring 0
 * reports an exception with its vector, address and rip, and ends the VM
 * with MV_EXIT_EXCEPTION.
 *   kind=unmapped  read the first byte past the end of RAM   (#PF, 14)
 *   kind=kernel    write into ring 0's supervisor-only image (#PF, 14)
 *   kind=ud        an invalid opcode                          (#UD, 6)
 *   kind=gp        hlt, a privileged instruction              (#GP, 13)
 */
#include "fault.h"

#include "abi.h"
#include "sys.h"
#include "workloads/plat.h"

static const char *const kinds[] = { "unmapped", "kernel", "ud", "gp", 0 };

int wl_fault(struct args *a)
{
	unsigned kind;

	if (args_choice(a, "kind", kinds, 0, &kind) || args_all_taken(a, "fault", "kind"))
		return MV_EXIT_BAD_ARGS;
	plat_say("fault: about to fault on purpose (%s)", kinds[kind]);
	switch (kind) {
	case 0:
		(void)*(volatile uint64_t *)(uintptr_t)user_boot.ram_size;
		break;
	case 1:
		*(volatile uint64_t *)(uintptr_t)0x200000 = 0;
		break;
	case 2:
		__asm__ volatile("ud2");
		break;
	case 3:
		__asm__ volatile("hlt");
		break;
	}
	plat_say("fault: the %s access did not fault", kinds[kind]);
	return MV_EXIT_VERIFY_FAIL;
}
