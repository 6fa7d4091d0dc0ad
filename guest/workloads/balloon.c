/*
 * balloon: run the balloon driver for SECS seconds, following the
 * device's target (polled every 10 ms: interrupts are not delivered
 * yet), and say what it does so it can be followed on the console.
 * With warm=SIZE it first writes SIZE of memory and frees it again: free
 * guest memory that still costs the host, which is what a balloon is
 * for.
 */
#include "workloads.h"

#include "abi.h"
#include "balloon-driver/vballoon.h"
#include "plat.h"

int wl_balloon(struct args *a)
{
	struct vballoon b;
	uint64_t secs, warm, khz = plat_tsc_khz(), start, deadline, next_poll, reached = 0, last_target = ~0ULL;
	int64_t inflated = 0, deflated = 0;

	if (args_uint(a, "secs", 5, &secs) || args_size(a, "warm", 0, &warm) ||
	    args_all_taken(a, "balloon", "secs warm"))
		return MV_EXIT_BAD_ARGS;
	if (warm) {
		uint8_t *p = wl_alloc("balloon", warm);

		if (!p)
			return MV_EXIT_NO_MEMORY;
		for (uint64_t i = 0; i < warm; i += 4096)
			p[i] = 1;
		plat_free(p, warm);
		plat_say("balloon: wrote %lu MiB and freed it: free in the guest, still backed by the host",
			 (unsigned long)(warm >> 20));
	}
	if (vballoon_probe(&b))
		return MV_EXIT_EXCEPTION;
	start = rdtsc_ordered();
	deadline = start + secs * khz * 1000;
	next_poll = start;
	while (rdtsc_ordered() < deadline) {
		uint64_t target;
		int64_t moved;

		if (rdtsc_ordered() < next_poll)
			continue;
		target = vballoon_target(&b);
		if (target != last_target) {
			plat_say("balloon: target %lu pages (%lu MiB), holding %lu: %s", (unsigned long)target,
				 (unsigned long)(target >> 8), (unsigned long)b.held,
				 target > b.held ? "inflating" : target < b.held ? "deflating" : "nothing to do");
			last_target = target;
			reached = 0;
		}
		/* Move until there is nothing to do, then look again in 10 ms. */
		while ((moved = vballoon_step(&b)) != 0) {
			if (moved > 0)
				inflated += moved;
			else
				deflated -= moved;
		}
		if (!reached) {
			reached = rdtsc_ordered();
			plat_say("balloon: holding %lu pages (%lu MiB)%s, %lu ms after start, %lu requests",
				 (unsigned long)b.held, (unsigned long)(b.held >> 8),
				 b.held == target ? ", the target" :
				 b.held < target ? " (short of the target: the pool ran dry)" :
				 " (above the target by less than a run: runs go back whole)",
				 (unsigned long)(tsc_to_ns(reached - start, khz) / 1000000), (unsigned long)b.requests);
		}
		next_poll = rdtsc_ordered() + khz * 10;
	}
	plat_say("RESULT workload=balloon target_pages=%lu actual_pages=%lu inflated=%ld deflated=%ld requests=%lu",
		 (unsigned long)vballoon_target(&b), (unsigned long)b.held, (long)inflated, (long)deflated,
		 (unsigned long)b.requests);
	return MV_EXIT_OK;
}
