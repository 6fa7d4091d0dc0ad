/*
 * hist=1 on a timing workload: its whole latency histogram on the console,
 * for plots (scripts/swapin-latency.sh reads it).  Lines of at most 24
 * buckets, each "UPPER_NS:COUNT" for a non-empty bucket, so no line is cut
 * at the console's line length.
 */
#include "workloads.h"

#include "lib/fmt.h"
#include "mm/hist.h"
#include "plat.h"

void wl_hist_print(const char *wl, const struct hist *h, uint64_t khz)
{
	char line[CONSOLE_SAFE_LINE];
	size_t n = 0;
	unsigned in_line = 0, part = 0;

	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		if (!h->bucket[b])
			continue;
		if (!in_line)
			n = fmt_format(line, sizeof(line), "HIST workload=%s part=%u", wl, part++);
		n += fmt_format(line + n, sizeof(line) - n, " %lu:%lu",
				(unsigned long)tsc_to_ns(hist_bucket_upper(b), khz), (unsigned long)h->bucket[b]);
		if (++in_line == 24) {
			plat_say("%s", line);
			in_line = 0;
		}
	}
	if (in_line)
		plat_say("%s", line);
	plat_say("HIST workload=%s end samples=%lu", wl, (unsigned long)h->count);
}
