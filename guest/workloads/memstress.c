/*
 * memstress: the workload of the seed paper's experiments.  Fill SIZE with
 * a pattern, then read the first WS bytes a whole page at a time, round
 * robin, timing every page with the TSC.  When the VMM has taken pages
 * away, the slow reads are the faults; the histogram shows them.
 * pageout=1 has all of SIZE swapped out between the fill and the reads,
 * so that a sequential first pass measures swap-in and nothing else.
 * idle=SECS waits between the fill and the reads (for the sharing
 * scanner, say); write=1 also stores each page's first word back as it
 * was, so the access takes a write fault (a copy-on-write break on a
 * shared page) and the content stays checkable; hist=1 prints the
 * latency histogram (HIST lines).  hold=SECS goes on reading, untimed,
 * after the timed reads: VMs that share a host and started their reads
 * apart then each time theirs under the same pressure, instead of the last
 * one to finish running alone at memory speed at the end.
 */
#include "workloads.h"

#include "abi.h"
#include "lib/fmt.h"
#include "mm/hist.h"
#include "pattern.h"
#include "plat.h"

static struct hist total, second;
static const char *const orders[] = { "seq", "random", 0 };
static volatile uint64_t sink;

static inline uint64_t read_page(const uint64_t *p)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < PAGE_BYTES / 8; i++)
		s += p[i];
	return s;
}

static uint64_t mib_per_s(uint64_t pages, uint64_t ns)
{
	return ns ? (uint64_t)((double)pages * PAGE_BYTES / (1 << 20) * 1e9 / (double)ns) : 0;
}

static uint64_t q_ns(const struct hist *h, double q, uint64_t khz)
{
	return tsc_to_ns(hist_quantile(h, q), khz);
}

int wl_memstress(struct args *a)
{
	uint64_t size, ws, passes, secs, pageout, seed, delay, rate, check, idle, write, histout, hold, bad = 0,
		 pageout_ns = 0, khz = plat_tsc_khz();
	uint64_t t0, fill_ns, start, now, prev, deadline = 0, next_report, sec_start;
	uint64_t pages_read = 0, done_passes = 0, sec_pages = 0, sum = 0;
	unsigned pat, order;
	uint64_t rnd = 0x2545f4914f6cdd1dull;
	uint8_t *buf;
	char verdict[32];

	if (wl_pages(a, "size", 0, &size) || wl_pages(a, "ws", size * PAGE_BYTES, &ws) ||
	    args_choice(a, "pattern", pattern_names, PAT_RANDOM, &pat) ||
	    args_uint(a, "passes", 0, &passes) || args_uint(a, "secs", 0, &secs) ||
	    args_choice(a, "order", orders, 0, &order) || args_uint(a, "pageout", 0, &pageout) ||
	    args_uint(a, "seed", 1, &seed) || args_uint(a, "delay", 0, &delay) || args_uint(a, "rate", 0, &rate) ||
	    args_uint(a, "verify", 0, &check) || args_uint(a, "idle", 0, &idle) || args_uint(a, "write", 0, &write) ||
	    args_uint(a, "hist", 0, &histout) || args_uint(a, "hold", 0, &hold) ||
	    args_all_taken(a, "memstress",
			   "size ws pattern passes secs order pageout seed delay rate verify idle write hist hold"))
		return MV_EXIT_BAD_ARGS;
	if (ws > size) {
		plat_say("memstress: ws (%lu pages) is larger than size (%lu pages)",
			 (unsigned long)ws, (unsigned long)size);
		return MV_EXIT_BAD_ARGS;
	}
	if (passes && secs) {
		plat_say("memstress: give passes= or secs=, not both");
		return MV_EXIT_BAD_ARGS;
	}
	if (!passes && !secs)
		passes = 3;
	/* delay=SECS: idle first, so another VM's workload is under way. */
	for (t0 = rdtsc_ordered(); rdtsc_ordered() - t0 < delay * khz * 1000;)
		__builtin_ia32_pause();
	buf = wl_alloc("memstress", size * PAGE_BYTES);
	if (!buf)
		return MV_EXIT_NO_MEMORY;

	t0 = rdtsc_ordered();
	for (uint64_t i = 0, j = 0; i < size; i++) {
		/*
		 * rate=MIB: the working set grows at most this many MiB a second,
		 * and what is there so far is read over and over meanwhile: a
		 * working set that grows, not a fill followed by use.
		 */
		while (rate && tsc_to_ns(rdtsc_ordered() - t0, khz) < i * PAGE_BYTES * 1000000000.0 / ((double)rate * 1048576))
			sum += i ? read_page((const uint64_t *)(buf + (j++ % i) * PAGE_BYTES)) : 0;
		pattern_fill(buf + i * PAGE_BYTES, pat, i, seed);
	}
	fill_ns = tsc_to_ns(rdtsc_ordered() - t0, khz);
	plat_say("memstress: filled %lu MiB (%s) in %lu ms; reading %lu MiB, %s %lu",
		 (unsigned long)(size * PAGE_BYTES >> 20), pattern_names[pat],
		 (unsigned long)(fill_ns / 1000000), (unsigned long)(ws * PAGE_BYTES >> 20),
		 secs ? "seconds" : "passes", (unsigned long)(secs ? secs : passes));
	if (pageout) {
		t0 = rdtsc_ordered();
		if (plat_pageout(buf, size * PAGE_BYTES)) {
			plat_say("memstress: pageout refused");
			return MV_EXIT_NO_MEMORY;
		}
		pageout_ns = tsc_to_ns(rdtsc_ordered() - t0, khz);
	}
	for (t0 = rdtsc_ordered(); rdtsc_ordered() - t0 < idle * khz * 1000;)
		__builtin_ia32_pause();

	start = prev = sec_start = rdtsc_ordered();
	next_report = start + khz * 1000;
	if (secs)
		deadline = start + secs * khz * 1000;
	for (;;) {
		for (uint64_t i = 0; i < ws; i++) {
			uint64_t pg = i;
			if (order) {
				/* random: a page drawn anew each time (xorshift), no neighbour help */
				rnd ^= rnd >> 12;
				rnd ^= rnd << 25;
				rnd ^= rnd >> 27;
				pg = (rnd * 0x2545f4914f6cdd1dull >> 11) % ws;
			}
			sum += read_page((const uint64_t *)(buf + pg * PAGE_BYTES));
			if (write) {
				volatile uint64_t *w = (volatile uint64_t *)(buf + pg * PAGE_BYTES);
				*w = *w;
			}
			now = rdtsc_ordered();
			hist_add(&total, now - prev);
			hist_add(&second, now - prev);
			prev = now;
			pages_read++;
			sec_pages++;
			if (now >= next_report) {
				plat_say("memstress: %lu s, pass %lu, %lu MiB/s, p50 %lu ns, p99 %lu ns, max %lu ns",
					 (unsigned long)((now - start) / (khz * 1000)),
					 (unsigned long)done_passes + 1,
					 (unsigned long)mib_per_s(sec_pages, tsc_to_ns(now - sec_start, khz)),
					 (unsigned long)q_ns(&second, 0.5, khz), (unsigned long)q_ns(&second, 0.99, khz),
					 (unsigned long)tsc_to_ns(second.max, khz));
				__builtin_memset(&second, 0, sizeof(second));
				sec_pages = 0;
				/* The report's own cost is not charged to the next page. */
				prev = sec_start = rdtsc_ordered();
				next_report = prev + khz * 1000;
			}
			if (deadline && now >= deadline)
				goto out;
		}
		done_passes++;
		if (!deadline && done_passes == passes)
			break;
	}
out:
	now = tsc_to_ns(prev - start, khz);
	for (uint64_t t = rdtsc_ordered(), i = 0; hold && rdtsc_ordered() - t < hold * khz * 1000; i = (i + 1) % ws)
		sum += read_page((const uint64_t *)(buf + i * PAGE_BYTES));
	sink = sum;
	/* verify=1: every page must still hold what the fill wrote. */
	verdict[0] = '\0';
	for (uint64_t i = 0; check && i < size; i++) {
		uint64_t want, got;

		if (pattern_check(buf + i * PAGE_BYTES, pat, i, seed, 0, &want, &got) >= 0 && bad++ < 10)
			plat_say("memstress: BAD page %lu: want 0x%016lx got 0x%016lx", (unsigned long)i,
				 (unsigned long)want, (unsigned long)got);
	}
	if (check)
		fmt_format(verdict, sizeof(verdict), " bad_pages=%lu", (unsigned long)bad);
	plat_say("RESULT workload=memstress size_mb=%lu ws_mb=%lu pattern=%s order=%s passes=%lu pages_read=%lu "
		 "mb_per_s=%lu p50_ns=%lu p99_ns=%lu p999_ns=%lu max_ns=%lu fill_ms=%lu read_ms=%lu "
		 "pageout_ms=%lu%s",
		 (unsigned long)(size * PAGE_BYTES >> 20), (unsigned long)(ws * PAGE_BYTES >> 20),
		 pattern_names[pat], orders[order], (unsigned long)done_passes, (unsigned long)pages_read,
		 (unsigned long)mib_per_s(pages_read, now), (unsigned long)q_ns(&total, 0.5, khz),
		 (unsigned long)q_ns(&total, 0.99, khz), (unsigned long)q_ns(&total, 0.999, khz),
		 (unsigned long)tsc_to_ns(total.max, khz), (unsigned long)(fill_ns / 1000000),
		 (unsigned long)(now / 1000000), (unsigned long)(pageout_ns / 1000000), verdict);
	if (histout)
		wl_hist_print("memstress", &total, khz);
	return bad ? MV_EXIT_VERIFY_FAIL : MV_EXIT_OK;
}
