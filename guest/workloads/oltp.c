/*
 * oltp: a DVD-store-like database server, for the seed paper's
 * overcommitment sweep.  The database's buffer pool (db=SIZE) takes
 * transactions: each reads TXN_READS random pages and rewrites one.  The
 * operating system's file cache (cache=SIZE, the guest's page cache) holds
 * what the database read at start and is idle afterwards, as a cache
 * mostly is.  The balloon driver gets the CPU between transactions, as a
 * guest kernel thread would.  Throughput is transactions a second; at the
 * end every buffer-pool page is checked.
 */
#include "workloads.h"

#include "abi.h"
#include "balloon_follow.h"
#include "pattern.h"
#include "plat.h"

#define TXN_READS 8
#define TICK_TXNS 64   /* transactions between two looks at the balloon */

static volatile uint64_t sink;

static uint64_t sum_page(const uint64_t *p)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < PAGE_BYTES / 8; i += 8)
		s += p[i];
	return s;
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

int wl_oltp(struct args *a)
{
	unsigned pat;
	uint64_t db, cache, secs, seed, khz = plat_tsc_khz(), rnd, txns = 0, sec_txns = 0, bad = 0, sum = 0;
	uint64_t t0, start, deadline, next_report, sec_start;
	uint8_t *pool, *fc = 0;
	struct vballoon b;
	struct follower f;
	int driver;

	if (wl_pages(a, "db", 0, &db) || args_size(a, "cache", 0, &cache) || args_uint(a, "secs", 10, &secs) ||
	    args_uint(a, "seed", 1, &seed) || args_choice(a, "pattern", pattern_names, PAT_RANDOM, &pat) ||
	    args_all_taken(a, "oltp", "db cache secs seed pattern"))
		return MV_EXIT_BAD_ARGS;
	cache /= PAGE_BYTES;
	rnd = 0x9e3779b97f4a7c15ULL ^ seed;
	t0 = rdtsc_ordered();
	/* The file cache first: what the server read from disk at start (other bytes than the pool's). */
	if (cache && (fc = plat_cache_add(cache * PAGE_BYTES)) != 0)
		for (uint64_t i = 0; i < cache; i++)
			pattern_fill(fc + i * PAGE_BYTES, PAT_TEXT, i, ~seed);
	pool = wl_alloc("oltp", db * PAGE_BYTES);
	if (!pool)
		return MV_EXIT_NO_MEMORY;
	for (uint64_t i = 0; i < db; i++)
		pattern_fill(pool + i * PAGE_BYTES, pat, i, seed);
	plat_say("oltp: buffer pool %lu MiB, file cache %lu MiB, loaded in %lu ms; running %lu s",
		 (unsigned long)(db * PAGE_BYTES >> 20), (unsigned long)(fc ? cache * PAGE_BYTES >> 20 : 0),
		 (unsigned long)(tsc_to_ns(rdtsc_ordered() - t0, khz) / 1000000), (unsigned long)secs);
	driver = vballoon_probe(&b) == 0;
	if (driver)
		follower_init(&f, &b);

	start = sec_start = rdtsc_ordered();
	deadline = start + secs * khz * 1000;
	next_report = start + khz * 1000;
	for (uint64_t now = start; now < deadline; now = rdtsc_ordered()) {
		for (unsigned t = 0; t < TICK_TXNS; t++) {
			for (unsigned r = 0; r < TXN_READS; r++)
				sum += sum_page((const uint64_t *)(pool + next_rand(&rnd) % db * PAGE_BYTES));
			/* The write: the page gets its own contents again, so the end check still holds. */
			uint64_t w = next_rand(&rnd) % db;
			pattern_fill(pool + w * PAGE_BYTES, pat, w, seed);
		}
		txns += TICK_TXNS;
		sec_txns += TICK_TXNS;
		if (driver)
			follower_tick(&f);
		if (now >= next_report) {
			plat_say("oltp: %lu s, %lu txn/s", (unsigned long)((now - start) / (khz * 1000)),
				 (unsigned long)(sec_txns * 1000000000ULL / (tsc_to_ns(now - sec_start, khz) + 1)));
			sec_txns = 0;
			sec_start = now;
			next_report = now + khz * 1000;
		}
	}
	sink = sum;
	for (uint64_t i = 0; i < db; i++) {
		uint64_t want, got;

		if (pattern_check(pool + i * PAGE_BYTES, pat, i, seed, 0, &want, &got) >= 0 && bad++ < 10)
			plat_say("oltp: BAD page %lu: want 0x%016lx got 0x%016lx", (unsigned long)i,
				 (unsigned long)want, (unsigned long)got);
	}
	plat_say("RESULT workload=oltp db_mb=%lu cache_mb=%lu secs=%lu txns=%lu txn_per_s=%lu bad_pages=%lu "
		 "balloon_pages=%lu cache_kept_mb=%lu",
		 (unsigned long)(db * PAGE_BYTES >> 20), (unsigned long)(fc ? cache * PAGE_BYTES >> 20 : 0),
		 (unsigned long)secs, (unsigned long)txns,
		 (unsigned long)(txns * 1000000000ULL / (tsc_to_ns(rdtsc_ordered() - start, khz) + 1)),
		 (unsigned long)bad, (unsigned long)(driver ? b.held : 0), (unsigned long)(plat_cache_bytes() >> 20));
	return bad ? MV_EXIT_VERIFY_FAIL : MV_EXIT_OK;
}
