/* Ring 3's entry: run the workload on the command line, exit with its code. */
#include "fault.h"
#include "sys.h"
#include "workloads/workloads.h"

void user_main(const struct user_boot *ub);

struct user_boot user_boot;
char user_stack[USER_STACK_BYTES] __attribute__((aligned(16)));

static const struct workload guest_workloads[] = {
	{ "fault", wl_fault },
	{ 0, 0 },
};

void user_main(const struct user_boot *ub)
{
	static char cmdline[MV_CMDLINE_MAX];

	for (unsigned i = 0; i < MV_CMDLINE_MAX; i++)
		cmdline[i] = ub->cmdline[i];
	sys_exit((uint32_t)workload_dispatch(cmdline, guest_workloads));
}
