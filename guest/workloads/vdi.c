/*
 * vdi: a desktop user, for the seed paper's VDI sweep.  The "operating
 * system" (os=SIZE) is the same in every VM given the same osseed, as a
 * fleet of desktops cloned from one image is, so page sharing can merge
 * it; the user's own data (ws=SIZE) differs per seed.  The user thinks
 * (think=MS, the balloon driver gets the CPU meanwhile, as a guest
 * kernel's thread would), then does an operation: a burst of page
 * touches (burst=PAGES), a quarter of them reads of OS pages, the rest
 * reads and a one-word write-back of their own data.  Each operation is
 * timed; the RESULT line gives its percentiles (the paper's 95th), and at
 * the end every page is checked.
 */
#include "workloads.h"

#include "abi.h"
#include "balloon_follow.h"
#include "mm/hist.h"
#include "pattern.h"
#include "plat.h"

static struct hist ops;
static volatile uint64_t sink;

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

static uint64_t q_us(uint64_t cycles, uint64_t khz)
{
	return tsc_to_ns(cycles, khz) / 1000;
}

/* Pages of buf (n of them, from seed) that no longer hold their pattern. */
static uint64_t check(const uint8_t *buf, uint64_t n, uint64_t seed)
{
	uint64_t bad = 0, want, got;

	for (uint64_t i = 0; i < n; i++)
		if (pattern_check(buf + i * PAGE_BYTES, PAT_TEXT, i, seed, 0, &want, &got) >= 0)
			bad++;
	return bad;
}

int wl_vdi(struct args *a)
{
	uint64_t os, ws, secs, think, burst, seed, osseed, histout, khz = plat_tsc_khz();
	uint64_t rnd, nops = 0, start, deadline, bad;
	uint8_t *osmem, *mine;
	struct vballoon b;
	struct follower f;
	int driver;

	if (wl_pages(a, "os", 0, &os) || wl_pages(a, "ws", 0, &ws) || args_uint(a, "secs", 10, &secs) ||
	    args_uint(a, "think", 200, &think) || args_uint(a, "burst", 256, &burst) ||
	    args_uint(a, "seed", 1, &seed) || args_uint(a, "osseed", 1000, &osseed) ||
	    args_uint(a, "hist", 0, &histout) ||
	    args_all_taken(a, "vdi", "os ws secs think burst seed osseed hist"))
		return MV_EXIT_BAD_ARGS;
	if (!burst || burst > 65536) {
		plat_say("vdi: burst= is 1 to 65536 pages");
		return MV_EXIT_BAD_ARGS;
	}
	osmem = wl_alloc("vdi", os * PAGE_BYTES);
	mine = wl_alloc("vdi", ws * PAGE_BYTES);
	if (!osmem || !mine)
		return MV_EXIT_NO_MEMORY;
	/* Text: what programs and documents look like, and what compresses like them. */
	for (uint64_t i = 0; i < os; i++)
		pattern_fill(osmem + i * PAGE_BYTES, PAT_TEXT, i, osseed);
	for (uint64_t i = 0; i < ws; i++)
		pattern_fill(mine + i * PAGE_BYTES, PAT_TEXT, i, seed);
	plat_say("vdi: %lu MiB of OS (seed %lu), %lu MiB of the user's own; %lu pages an operation, %lu ms to think",
		 (unsigned long)(os * PAGE_BYTES >> 20), (unsigned long)osseed, (unsigned long)(ws * PAGE_BYTES >> 20),
		 (unsigned long)burst, (unsigned long)think);
	driver = vballoon_probe(&b) == 0;
	if (driver)
		follower_init(&f, &b);
	rnd = 0x9e3779b97f4a7c15ULL ^ seed;
	start = rdtsc_ordered();
	deadline = start + secs * khz * 1000;
	while (rdtsc_ordered() < deadline) {
		uint64_t t0, until = rdtsc_ordered() + think * khz;

		/* Thinking leaves the CPU to the other desktops, in short naps so the balloon driver runs. */
		for (uint64_t now = rdtsc_ordered(); now < until; now = rdtsc_ordered()) {
			uint64_t left_us = (until - now) / (khz / 1000 ? khz / 1000 : 1);

			if (driver)
				follower_tick(&f);
			plat_idle_us(left_us > 10000 ? 10000 : left_us ? left_us : 1);
		}
		t0 = rdtsc_ordered();
		for (uint64_t i = 0; i < burst; i++) {
			uint64_t r = next_rand(&rnd);

			if ((r & 3) == 0 && os) {
				sink += *(volatile const uint64_t *)(osmem + (r >> 2) % os * PAGE_BYTES + 64);
			} else if (ws) {
				volatile uint64_t *w = (volatile uint64_t *)(mine + (r >> 2) % ws * PAGE_BYTES);
				*w = *w;   /* a write, and the page still checks */
			}
		}
		hist_add(&ops, rdtsc_ordered() - t0);
		nops++;
	}
	bad = check(osmem, os, osseed) + check(mine, ws, seed);
	plat_say("RESULT workload=vdi ops=%lu burst=%lu p50_us=%lu p95_us=%lu p99_us=%lu max_us=%lu bad_pages=%lu "
		 "balloon_pages=%lu",
		 (unsigned long)nops, (unsigned long)burst, (unsigned long)q_us(hist_quantile(&ops, 0.5), khz),
		 (unsigned long)q_us(hist_quantile(&ops, 0.95), khz), (unsigned long)q_us(hist_quantile(&ops, 0.99), khz),
		 (unsigned long)q_us(ops.max, khz), (unsigned long)bad, (unsigned long)(driver ? b.held : 0));
	if (histout)
		wl_hist_print("vdi", &ops, khz);
	return bad ? MV_EXIT_VERIFY_FAIL : MV_EXIT_OK;
}
