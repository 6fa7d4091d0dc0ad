/*
 * dup: memory that other VMs may hold too.  Fills SIZE with content
 * derived from (page index, SEED) alone, so VMs given the same seed hold
 * the same pages (and the pages of one VM all differ), then for SECS
 * seconds reads every page over and over, and rewrites a few (REWRITE
 * pages in a thousand each second, with content no other VM has): the
 * churn a sharing scanner must cope with.  At the end it checks every
 * page against the seed it was last written from: bad_pages must be 0.
 */
#include "workloads.h"

#include "abi.h"
#include "pattern.h"
#include "plat.h"

static volatile uint64_t sink;

int wl_dup(struct args *a)
{
	uint64_t pages, seed, secs, rewrite, khz = plat_tsc_khz();
	uint64_t start, now, deadline, passes = 0, rewritten = 0, cursor = 0, sum = 0, bad = 0;
	uint64_t *gen;
	uint8_t *buf;

	if (wl_pages(a, "size", 0, &pages) || args_uint(a, "seed", 1, &seed) ||
	    args_uint(a, "secs", 10, &secs) || args_uint(a, "rewrite", 10, &rewrite) ||
	    args_all_taken(a, "dup", "size seed secs rewrite"))
		return MV_EXIT_BAD_ARGS;
	if (rewrite > 1000) {
		plat_say("dup: rewrite= is pages in a thousand a second, at most 1000");
		return MV_EXIT_BAD_ARGS;
	}
	buf = wl_alloc("dup", pages * PAGE_BYTES);
	gen = wl_alloc("dup", (pages * sizeof(uint64_t) + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES);
	if (!buf || !gen)
		return MV_EXIT_NO_MEMORY;
	for (uint64_t i = 0; i < pages; i++) {
		pattern_fill(buf + i * PAGE_BYTES, PAT_RANDOM, i, seed);
		gen[i] = seed;
	}
	plat_say("dup: filled %lu MiB from seed %lu; reading for %lu s, rewriting %lu pages in 1000 a second",
		 (unsigned long)(pages * PAGE_BYTES >> 20), (unsigned long)seed, (unsigned long)secs,
		 (unsigned long)rewrite);
	start = rdtsc_ordered();
	deadline = start + secs * khz * 1000;
	while ((now = rdtsc_ordered()) < deadline) {
		/* The rewrites due by now, spread over the buffer by a stride. */
		uint64_t due = (now - start) / khz * pages * rewrite / 1000000;

		for (; rewritten < due; rewritten++) {
			cursor = (cursor + 7919) % pages;
			gen[cursor] = seed ^ (rewritten + 1) << 32;
			pattern_fill(buf + cursor * PAGE_BYTES, PAT_RANDOM, cursor, gen[cursor]);
		}
		for (uint64_t i = 0; i < pages; i++) {
			const uint64_t *w = (const uint64_t *)(buf + i * PAGE_BYTES);
			for (unsigned k = 0; k < PAGE_BYTES / 8; k += 8)
				sum += w[k];
		}
		passes++;
	}
	sink = sum;
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t want, got;
		int64_t off = pattern_check(buf + i * PAGE_BYTES, PAT_RANDOM, i, gen[i], 0, &want, &got);

		if (off >= 0 && bad++ < 8)
			plat_say("dup: BAD page %lu at byte %ld: want 0x%016lx got 0x%016lx", (unsigned long)i,
				 (long)off, (unsigned long)want, (unsigned long)got);
	}
	plat_say("RESULT workload=dup size_mb=%lu seed=%lu passes=%lu rewritten=%lu bad_pages=%lu",
		 (unsigned long)(pages * PAGE_BYTES >> 20), (unsigned long)seed, (unsigned long)passes,
		 (unsigned long)rewritten, (unsigned long)bad);
	return bad ? MV_EXIT_VERIFY_FAIL : MV_EXIT_OK;
}
