#include "workloads.h"

#include "abi.h"
#include "pattern.h"
#include "plat.h"

int wl_touch(struct args *a)
{
	uint64_t pages, t0, ns;
	volatile uint8_t *buf;

	if (wl_pages(a, "size", 0, &pages) || args_all_taken(a, "touch", "size"))
		return MV_EXIT_BAD_ARGS;
	buf = wl_alloc("touch", pages * PAGE_BYTES);
	if (!buf)
		return MV_EXIT_NO_MEMORY;
	/* One byte per page: the cost is the first-touch fault, not the write. */
	t0 = rdtsc_ordered();
	for (uint64_t i = 0; i < pages; i++)
		buf[i * PAGE_BYTES] = 1;
	ns = tsc_to_ns(rdtsc_ordered() - t0, plat_tsc_khz());
	plat_say("RESULT workload=touch pages=%lu ns=%lu pages_per_s=%lu", (unsigned long)pages,
		 (unsigned long)ns, (unsigned long)(ns ? (double)pages * 1e9 / (double)ns : 0));
	return MV_EXIT_OK;
}
