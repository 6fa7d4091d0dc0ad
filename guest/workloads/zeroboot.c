/*
 * zeroboot: write zeros over all the RAM the guest can allocate, as
 * Windows does at boot, then stay up for SECS seconds touching nothing,
 * so that the VMM's sharing scanner can find the zero pages and give
 * their memory back.  Reports how much it zeroed.
 */
#include "workloads.h"

#include "abi.h"
#include "pattern.h"
#include "plat.h"

int wl_zeroboot(struct args *a)
{
	uint64_t secs, khz = plat_tsc_khz(), bytes, t0, deadline;
	uint8_t *buf;

	if (args_uint(a, "secs", 10, &secs) || args_all_taken(a, "zeroboot", "secs"))
		return MV_EXIT_BAD_ARGS;
	/* All but a little: the allocator's own pages and the report need some. */
	bytes = plat_free_bytes();
	bytes = bytes > 64 * PAGE_BYTES ? bytes - 64 * PAGE_BYTES : 0;
	buf = plat_alloc(bytes);
	if (!buf)
		return MV_EXIT_NO_MEMORY;
	t0 = rdtsc_ordered();
	for (uint64_t i = 0; i < bytes; i += 8)
		*(volatile uint64_t *)(buf + i) = 0;
	plat_say("zeroboot: zeroed %lu MiB in %lu ms; idle for %lu s",
		 (unsigned long)(bytes >> 20), (unsigned long)(tsc_to_ns(rdtsc_ordered() - t0, khz) / 1000000),
		 (unsigned long)secs);
	deadline = rdtsc_ordered() + secs * khz * 1000;
	while (rdtsc_ordered() < deadline)
		__asm__ volatile("pause");
	plat_say("RESULT workload=zeroboot zeroed_mb=%lu secs=%lu", (unsigned long)(bytes >> 20),
		 (unsigned long)secs);
	return MV_EXIT_OK;
}
