/*
 * verify: the "no guest byte is ever lost" check.  Every page gets content
 * derived from (page index, seed) with the index and seed stamped in its
 * first 16 bytes; then every page is read back and compared, PASSES times.
 * pattern=zero is the exception: its pages stay all zero, unstamped, so
 * that the VMM sees truly zero pages, and they must still be all zero.
 * Whatever the VMM did in between (zero pages, swapping, compression,
 * sharing, ballooning), the content must come back bit for bit.
 * pageout=1 has the whole buffer swapped out between writing and checking.
 * secs=N goes on checking, pass after pass, for N seconds.
 */
#include "workloads.h"

#include "abi.h"
#include "pattern.h"
#include "plat.h"

#define REPORT_BAD_MAX 10

static uint64_t scratch[PAGE_BYTES / 8];

/* How many of page's words differ from what page index i of this seed should hold; first and last. */
static unsigned diff_words(const uint64_t *page, unsigned pat, uint64_t i, uint64_t seed, unsigned *first,
			   unsigned *last)
{
	unsigned n = 0;

	pattern_fill(scratch, pat, i, seed);
	if (pat != PAT_ZERO)
		pattern_stamp(scratch, i, seed);
	for (unsigned w = 0; w < PAGE_BYTES / 8; w++) {
		if (page[w] == scratch[w])
			continue;
		if (!n++)
			*first = w;
		*last = w;
	}
	return n;
}

/*
 * What a bad page holds instead, so that a report tells a stale or
 * foreign page from a torn one: how much of it is wrong, whose content
 * its first wrong word is (random pattern: the fills are unique), and
 * whether it is still wrong a moment later.
 */
static void describe_bad(const uint64_t *page, unsigned pat, uint64_t i, uint64_t seed, uint64_t pages)
{
	unsigned first = 0, last = 0, n = diff_words(page, pat, i, seed, &first, &last), f2 = 0, l2 = 0, n2;
	uint64_t got = page[first], from = pages, at = 0, gpa = plat_phys_addr(page);

	if (pat == PAT_RANDOM) {
		for (uint64_t j = 0; j < pages && from == pages; j++) {
			pattern_fill(scratch, pat, j, seed);
			pattern_stamp(scratch, j, seed);
			for (unsigned w = 0; w < PAGE_BYTES / 8; w++)
				if (scratch[w] == got) {
					from = j, at = w;
					break;
				}
		}
	}
	if (gpa != UINT64_MAX)
		plat_say("verify: page %lu is at guest-physical 0x%lx", (unsigned long)i, (unsigned long)gpa);
	plat_idle_us(200000);
	n2 = diff_words(page, pat, i, seed, &f2, &l2);
	if (from < pages)
		plat_say("verify: page %lu: %u of %u words wrong (words %u-%u); word %u is page %lu's word %lu; "
			 "200 ms later %u wrong", (unsigned long)i, n, PAGE_BYTES / 8, first, last, first,
			 (unsigned long)from, (unsigned long)at, n2);
	else
		plat_say("verify: page %lu: %u of %u words wrong (words %u-%u), word %u from no page of this run; "
			 "200 ms later %u wrong", (unsigned long)i, n, PAGE_BYTES / 8, first, last, first, n2);
}

int wl_verify(struct args *a)
{
	uint64_t pages, seed, passes, pageout, secs, done = 0, khz = plat_tsc_khz();
	uint64_t t0, write_ns, check_start, next_report, bad = 0, bitmap_bytes;
	unsigned pat;
	uint8_t *buf;
	uint64_t *badmap;

	if (wl_pages(a, "size", 0, &pages) || args_uint(a, "seed", 1, &seed) ||
	    args_uint(a, "passes", 1, &passes) || args_uint(a, "pageout", 0, &pageout) || args_uint(a, "secs", 0, &secs) ||
	    args_choice(a, "pattern", pattern_names, PAT_RANDOM, &pat) ||
	    args_all_taken(a, "verify", "size seed passes pattern pageout secs"))
		return MV_EXIT_BAD_ARGS;
	if (!passes) {
		plat_say("verify: passes= must be at least 1");
		return MV_EXIT_BAD_ARGS;
	}
	/* A page found bad in several passes counts once. */
	bitmap_bytes = ((pages + 63) / 64 * 8 + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
	buf = wl_alloc("verify", pages * PAGE_BYTES);
	if (!buf)
		return MV_EXIT_NO_MEMORY;
	badmap = wl_alloc("verify", bitmap_bytes);
	if (!badmap)
		return MV_EXIT_NO_MEMORY;
	__builtin_memset(badmap, 0, bitmap_bytes);

	t0 = rdtsc_ordered();
	for (uint64_t i = 0; i < pages; i++) {
		pattern_fill(buf + i * PAGE_BYTES, pat, i, seed);
		if (pat != PAT_ZERO)
			pattern_stamp(buf + i * PAGE_BYTES, i, seed);
	}
	write_ns = tsc_to_ns(rdtsc_ordered() - t0, khz);
	plat_say("verify: wrote %lu pages (%s, seed %lu) in %lu ms; checking %lu passes",
		 (unsigned long)pages, pattern_names[pat], (unsigned long)seed,
		 (unsigned long)(write_ns / 1000000), (unsigned long)passes);
	if (pageout && plat_pageout(buf, pages * PAGE_BYTES)) {
		plat_say("verify: pageout refused");
		return MV_EXIT_NO_MEMORY;
	}

	check_start = rdtsc_ordered();
	next_report = check_start + khz * 1000;
	/* secs=N: keep checking, pass after pass, until N seconds have gone (at least `passes`). */
	for (uint64_t pass = 0; pass < passes || (secs && rdtsc_ordered() - check_start < secs * khz * 1000); pass++) {
		done++;
		for (uint64_t i = 0; i < pages; i++) {
			uint64_t want, got;
			int64_t off = pattern_check(buf + i * PAGE_BYTES, pat, i, seed, pat != PAT_ZERO, &want,
							   &got);

			if (off >= 0 && !(badmap[i / 64] & (1ull << (i % 64)))) {
				badmap[i / 64] |= 1ull << (i % 64);
				if (bad++ < REPORT_BAD_MAX)
					plat_say("verify: BAD page %lu (address 0x%lx) pass %lu: at byte %ld want 0x%016lx got 0x%016lx",
						 (unsigned long)i, (unsigned long)(uintptr_t)(buf + i * PAGE_BYTES),
						 (unsigned long)pass + 1, (long)off, (unsigned long)want,
						 (unsigned long)got);
				if (bad <= REPORT_BAD_MAX)
					describe_bad((const uint64_t *)(buf + i * PAGE_BYTES), pat, i, seed, pages);
			}
			if ((i & 255) == 0 && rdtsc_ordered() >= next_report) {
				plat_say("verify: pass %lu/%lu, %lu%% checked, %lu bad pages so far",
					 (unsigned long)pass + 1, (unsigned long)(pass + 1 > passes ? pass + 1 : passes),
					 (unsigned long)(i * 100 / pages), (unsigned long)bad);
				next_report = rdtsc_ordered() + khz * 1000;
			}
		}
	}
	plat_say("RESULT workload=verify pages=%lu passes=%lu pattern=%s seed=%lu bad_pages=%lu "
		 "write_ms=%lu check_ms=%lu",
		 (unsigned long)pages, (unsigned long)done, pattern_names[pat], (unsigned long)seed,
		 (unsigned long)bad, (unsigned long)(write_ns / 1000000),
		 (unsigned long)(tsc_to_ns(rdtsc_ordered() - check_start, khz) / 1000000));
	return bad ? MV_EXIT_VERIFY_FAIL : MV_EXIT_OK;
}
