#include "workloads.h"

#include "abi.h"
#include "mm/hist.h"
#include "pattern.h"
#include "plat.h"

static struct hist lat;

int wl_touch(struct args *a)
{
	uint64_t pages, t0, ns, prev, histout, khz = plat_tsc_khz();
	volatile uint8_t *buf;

	if (wl_pages(a, "size", 0, &pages) || args_uint(a, "hist", 0, &histout) || args_all_taken(a, "touch", "size hist"))
		return MV_EXIT_BAD_ARGS;
	buf = wl_alloc("touch", pages * PAGE_BYTES);
	if (!buf)
		return MV_EXIT_NO_MEMORY;
	/* One byte per page: the cost is the first-touch fault, not the write. */
	t0 = prev = rdtsc_ordered();
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t now;
		buf[i * PAGE_BYTES] = 1;
		now = rdtsc_ordered();
		hist_add(&lat, now - prev);
		prev = now;
	}
	ns = tsc_to_ns(prev - t0, khz);
	plat_say("RESULT workload=touch pages=%lu ns=%lu pages_per_s=%lu p50_ns=%lu p99_ns=%lu max_ns=%lu",
		 (unsigned long)pages, (unsigned long)ns,
		 (unsigned long)(ns ? (double)pages * 1e9 / (double)ns : 0),
		 (unsigned long)tsc_to_ns(hist_quantile(&lat, 0.5), khz),
		 (unsigned long)tsc_to_ns(hist_quantile(&lat, 0.99), khz),
		 (unsigned long)tsc_to_ns(lat.max, khz));
	if (histout)
		wl_hist_print("touch", &lat, khz);
	return MV_EXIT_OK;
}
