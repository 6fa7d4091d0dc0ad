/*
 * balloon: run the balloon driver for SECS seconds, following the
 * device's target (a new one comes with an interrupt), and say what it
 * does so it can be followed on the console.
 * With warm=SIZE it first writes SIZE of memory and frees it again: free
 * guest memory that still costs the host, which is what a balloon is
 * for.  With alloc=SIZE it then allocates SIZE, which may need the
 * balloon to deflate on OOM.  With check=SEED every page the balloon takes
 * is stamped first and checked when it comes back: it must read as zero
 * (the host dropped it) or as the stamp (it kept it), never anything else.
 */
#include "workloads.h"

#include "abi.h"
#include "balloon_follow.h"
#include "plat.h"

/* bytes of new memory with every page written (so the host backs it), or NULL. */
static uint8_t *written(const char *wl, uint64_t bytes)
{
	uint8_t *p = wl_alloc(wl, bytes);

	for (uint64_t i = 0; p && i < bytes; i += 4096)
		p[i] = 1;
	return p;
}

int wl_balloon(struct args *a)
{
	struct vballoon b;
	struct follow_result r;
	uint64_t secs, warm, alloc, check;

	if (args_uint(a, "secs", 5, &secs) || args_size(a, "warm", 0, &warm) || args_size(a, "alloc", 0, &alloc) ||
	    args_uint(a, "check", 0, &check) || args_all_taken(a, "balloon", "secs warm alloc check"))
		return MV_EXIT_BAD_ARGS;
	if (warm) {
		uint8_t *p = written("balloon", warm);

		if (!p)
			return MV_EXIT_NO_MEMORY;
		plat_free(p, warm);
		plat_say("balloon: wrote %lu MiB and freed it: free in the guest, still backed by the host",
			 (unsigned long)(warm >> 20));
	}
	if (vballoon_probe(&b))
		return MV_EXIT_EXCEPTION;
	b.stamp = check;
	balloon_follow(&b, rdtsc_ordered(), secs, &r);
	if (alloc) {
		/* More than is free: with DEFLATE_ON_OOM the balloon gives pages back rather than let this fail. */
		if (!written("balloon", alloc))
			return MV_EXIT_NO_MEMORY;
		plat_say("balloon: allocated and wrote %lu MiB with the balloon holding %lu pages",
			 (unsigned long)(alloc >> 20), (unsigned long)b.held);
	}
	plat_say("RESULT workload=balloon target_pages=%lu actual_pages=%lu inflated=%ld deflated=%ld requests=%lu "
		 "from_cache=%lu from_free=%lu oom_pages=%lu irqs=%lu stats_sent=%lu back_zero=%lu back_own=%lu "
		 "back_foreign=%lu",
		 (unsigned long)vballoon_target(&b), (unsigned long)b.held, (long)r.inflated, (long)r.deflated,
		 (unsigned long)b.requests, (unsigned long)b.from_cache, (unsigned long)b.from_free,
		 (unsigned long)b.oom_pages, (unsigned long)b.irqs, (unsigned long)b.stats_sent,
		 (unsigned long)b.back_zero, (unsigned long)b.back_own, (unsigned long)b.back_foreign);
	return MV_EXIT_OK;
}
