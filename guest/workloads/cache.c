/*
 * cache: fill SIZE of the guest's page cache, the way a disk cache holds
 * clean file pages, then idle for SECS seconds with the balloon driver
 * running.  Under balloon pressure the guest drops its oldest cache first
 * (it can be read again from disk: here it is simply gone), then gives
 * free pages.  At the end every extent still cached is checked: what the
 * guest kept must be exactly what it wrote.
 */
#include "workloads.h"

#include "abi.h"
#include "balloon_follow.h"
#include "pattern.h"
#include "plat.h"

#define EXTENT_PAGES 512u   /* 2 MiB, like a large file's worth of cache */
#define REPORT_BAD_MAX 10

/* Check the pages of one extent; returns how many differ. */
static uint64_t check_extent(const uint8_t *p, uint64_t first, uint64_t n, uint64_t seed, uint64_t *reported)
{
	uint64_t bad = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t want, got;
		int64_t off = pattern_check(p + i * PAGE_BYTES, PAT_TEXT, first + i, seed, 1, &want, &got);

		if (off < 0)
			continue;
		bad++;
		if ((*reported)++ < REPORT_BAD_MAX)
			plat_say("cache: BAD page %lu (address 0x%lx): at byte %ld want 0x%016lx got 0x%016lx",
				 (unsigned long)(first + i), (unsigned long)(uintptr_t)(p + i * PAGE_BYTES), (long)off,
				 (unsigned long)want, (unsigned long)got);
	}
	return bad;
}

int wl_cache(struct args *a)
{
	uint64_t pages, secs, seed, next, nfilled = 0, kept = 0, bad = 0, reported = 0, khz = plat_tsc_khz();
	uint64_t t0, start;
	uint8_t **ext;
	struct vballoon b;
	struct follow_result r = { 0, 0, 0 };
	int driver;

	if (wl_pages(a, "size", 0, &pages) || args_uint(a, "secs", 10, &secs) || args_uint(a, "seed", 1, &seed) ||
	    args_all_taken(a, "cache", "size secs seed"))
		return MV_EXIT_BAD_ARGS;
	next = (pages + EXTENT_PAGES - 1) / EXTENT_PAGES;
	ext = wl_alloc("cache", (next * sizeof(*ext) + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES);
	if (!ext)
		return MV_EXIT_NO_MEMORY;
	t0 = rdtsc_ordered();
	for (uint64_t e = 0; e < next; e++) {
		uint64_t n = pages - e * EXTENT_PAGES < EXTENT_PAGES ? pages - e * EXTENT_PAGES : EXTENT_PAGES;

		ext[e] = plat_cache_add(n * PAGE_BYTES);
		if (!ext[e]) {
			plat_say("cache: no room for more cache after %lu MiB (%lu MiB free)",
				 (unsigned long)(nfilled * PAGE_BYTES >> 20), (unsigned long)(plat_free_bytes() >> 20));
			next = e;
			break;
		}
		for (uint64_t i = 0; i < n; i++) {
			pattern_fill(ext[e] + i * PAGE_BYTES, PAT_TEXT, e * EXTENT_PAGES + i, seed);
			pattern_stamp(ext[e] + i * PAGE_BYTES, e * EXTENT_PAGES + i, seed);
		}
		nfilled += n;
	}
	plat_say("cache: filled %lu MiB of page cache (text, %lu extents of up to 2 MiB) in %lu ms; %lu MiB free; "
		 "idling %lu s",
		 (unsigned long)(nfilled * PAGE_BYTES >> 20), (unsigned long)next,
		 (unsigned long)(tsc_to_ns(rdtsc_ordered() - t0, khz) / 1000000), (unsigned long)(plat_free_bytes() >> 20),
		 (unsigned long)secs);
	driver = vballoon_probe(&b) == 0;
	start = rdtsc_ordered();
	if (driver)
		balloon_follow(&b, start, secs, &r);
	else
		while (rdtsc_ordered() < start + secs * khz * 1000)
			__builtin_ia32_pause();

	for (uint64_t e = 0; e < next; e++) {
		uint64_t n = nfilled - e * EXTENT_PAGES < EXTENT_PAGES ? nfilled - e * EXTENT_PAGES : EXTENT_PAGES;

		if (!plat_cache_has(ext[e], n * PAGE_BYTES))
			continue;
		kept += n;
		bad += check_extent(ext[e], e * EXTENT_PAGES, n, seed, &reported);
	}
	plat_say("RESULT workload=cache cache_mb=%lu kept_mb=%lu dropped_mb=%lu bad_pages=%lu balloon_pages=%lu "
		 "from_cache=%lu from_free=%lu inflated=%ld deflated=%ld irqs=%lu",
		 (unsigned long)(nfilled * PAGE_BYTES >> 20), (unsigned long)(kept * PAGE_BYTES >> 20),
		 (unsigned long)(plat_cache_dropped_bytes() >> 20), (unsigned long)bad,
		 (unsigned long)(driver ? b.held : 0), (unsigned long)(driver ? b.from_cache : 0),
		 (unsigned long)(driver ? b.from_free : 0), (long)r.inflated, (long)r.deflated,
		 (unsigned long)(driver ? b.irqs : 0));
	return bad ? MV_EXIT_VERIFY_FAIL : MV_EXIT_OK;
}
