/*
 * The page-sharing scanner: one thread for the host that visits every
 * VM's pages in turn at a bounded rate (pages per second for the whole
 * host, the part ESX's Mem.ShareScanGHz and Mem.ShareRateMax play), and
 * what it has cost.  The per-page work is guest_mem_scan.
 */
#ifndef MEMVISOR_MM_SHARE_SCAN_H
#define MEMVISOR_MM_SHARE_SCAN_H

#include "mm_host.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SHARE_DEFAULT_RATE 20000u   /* pages a second: 78 MiB/s, ~1% of a core here */
#define SHARE_DEFAULT_CPU_PCT 2u    /* the most of one CPU the scanner may use */
#define SHARE_TICK_MS 20

struct pshare;

struct share_scan_stats {
	uint64_t scanned;            /* pages looked at */
	uint64_t full_scans;         /* passes over a whole VM */
	uint64_t cpu_ns;             /* the scanner thread's CPU time */
	uint64_t ticks_capped;       /* ticks skipped to stay within cpu_pct */
};

struct share_scan {
	struct mm_host *host;        /* whose VMs it visits */
	unsigned rate;
	unsigned cpu_pct;            /* 1-100: the most of one CPU it may use */
	int64_t cpu_credit_ns;       /* the scanner thread's alone */
	uint64_t zero_hash;          /* XXH3-64 of a zero page */
	struct pshare *ps;           /* the host's frames (NULL: zero pages only), for the figures */
	pthread_t thread;
	int started;
	atomic_int stop;
	pthread_mutex_t lock;        /* the stats */
	struct share_scan_stats st;
};

/*
 * Visit host's VMs at `rate` pages a second, once started, and never with
 * more than cpu_pct percent of one CPU (1-100): the page rate alone would
 * take a slow or emulated CPU over (ESX bounds its scan by the host's
 * GHz, Mem.ShareScanGHz, for the same reason).
 */
void share_scan_init(struct share_scan *s, struct mm_host *host, unsigned rate, unsigned cpu_pct);
int share_scan_start(struct share_scan *s);
void share_scan_stop(struct share_scan *s);
void share_scan_destroy(struct share_scan *s);
void share_scan_get_stats(struct share_scan *s, struct share_scan_stats *out);

/* One tick's work (the thread's body, for tests): up to `pages` pages; returns its CPU time in ns. */
uint64_t share_scan_tick(struct share_scan *s, unsigned pages);

/*
 * Whether the thread runs its next tick under the CPU cap: each tick
 * interval earns cpu_pct% of its length, each tick spends what it used
 * (spent_ns, the previous tick's CPU time); at most a second's earnings
 * are kept, so an idle scanner does not save up for a long burst.
 */
int share_scan_may_tick(struct share_scan *s, uint64_t spent_ns);

/* A new host-wide rate, from the next tick on. */
void share_scan_set_rate(struct share_scan *s, unsigned rate);

/* Pages per tick for a rate in pages a second. */
static inline unsigned share_scan_tick_pages(unsigned rate)
{
	return rate * SHARE_TICK_MS / 1000;
}

#endif
