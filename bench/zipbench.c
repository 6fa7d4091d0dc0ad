/*
 * zipbench: what the compression cache costs per 4 KiB page, for each of
 * the workloads' patterns, with the cache's own compressor (mm/zip):
 * compress and decompress time (p50 over many pages), the ratio, how many
 * pages would be kept (shrink to the threshold), how many are
 * same-filled.  usage: zipbench [LEVEL [THRESHOLD]]
 * Prints one line per pattern:
 *   "zip pattern=.. compress_us=.. decompress_us=.. ratio=.. kept_pct=.. same_pct=.."
 * and the page-sharing scanner's floor, XXH3-64 of one page (p50):
 *   "hash xxh3_ns=.."
 */
#include "../mm/hist.h"
#include "../mm/zip.h"
#include "workloads/pattern.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xxhash.h>

#define PAGES 4096

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	int level = argc > 1 ? atoi(argv[1]) : ZIP_DEFAULT_LEVEL;
	size_t threshold = argc > 2 ? (size_t)atoi(argv[2]) : 2048;
	static uint8_t page[ZIP_PAGE], out[2 * ZIP_PAGE], back[ZIP_PAGE]; /* room for any output */
	struct zip *z = zip_new(level);

	if (!z || threshold < 64 || threshold > ZIP_PAGE) {
		fprintf(stderr, "usage: %s [LEVEL %d..%d [THRESHOLD 64..4096]]\n", argv[0], ZIP_LEVEL_MIN,
			ZIP_LEVEL_MAX);
		return 2;
	}
	for (unsigned pat = 0; pattern_names[pat]; pat++) {
		static struct hist hc, hd;
		uint64_t in = 0, stored = 0, kept = 0, same = 0;

		hc = (struct hist){ 0 };
		hd = (struct hist){ 0 };
		for (unsigned i = 0; i < PAGES; i++) {
			uint64_t t0, t1, t2;
			uint32_t word;
			size_t n;

			pattern_fill(page, (enum pattern)pat, i, 1);
			same += zip_same_filled(page, &word);
			t0 = now_ns();
			n = zip_compress(z, page, out, sizeof(out));
			t1 = now_ns();
			if (!n || zip_decompress(z, out, n, back)) {
				fprintf(stderr, "zipbench: round trip failed on a %s page\n", pattern_names[pat]);
				return 1;
			}
			t2 = now_ns();
			hist_add(&hc, t1 - t0);
			hist_add(&hd, t2 - t1);
			in += ZIP_PAGE;
			stored += n;
			kept += n <= threshold;
		}
		printf("zip pattern=%s level=%d compress_us=%.2f decompress_us=%.2f ratio=%.2f kept_pct=%.1f same_pct=%.1f\n",
		       pattern_names[pat], level, (double)hist_quantile(&hc, 0.5) / 1e3,
		       (double)hist_quantile(&hd, 0.5) / 1e3, (double)in / (double)stored,
		       100.0 * (double)kept / PAGES, 100.0 * (double)same / PAGES);
	}
	zip_free(z);
	{
		static struct hist hh;
		volatile uint64_t sink = 0;

		for (unsigned i = 0; i < PAGES; i++) {
			uint64_t t0;
			pattern_fill(page, PAT_RANDOM, i, 1);
			t0 = now_ns();
			sink += XXH3_64bits(page, ZIP_PAGE);
			hist_add(&hh, now_ns() - t0);
		}
		(void)sink;
		printf("hash xxh3_ns=%llu\n", (unsigned long long)hist_quantile(&hh, 0.5));
	}
	return 0;
}
