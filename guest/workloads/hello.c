#include "workloads.h"

#include "abi.h"
#include "plat.h"

int wl_hello(struct args *a)
{
	if (args_all_taken(a, "hello", "none"))
		return MV_EXIT_BAD_ARGS;
	plat_say("hello from the memvisor test guest: vm %s, %lu MiB RAM, %u vCPUs, TSC %lu kHz",
		 plat_name(), (unsigned long)(plat_ram_bytes() >> 20), plat_cpus(),
		 (unsigned long)plat_tsc_khz());
	plat_say("RESULT workload=hello status=ok ram_mb=%lu vcpus=%u",
		 (unsigned long)(plat_ram_bytes() >> 20), plat_cpus());
	return MV_EXIT_OK;
}
