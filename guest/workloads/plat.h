/*
 * What a workload needs from where it runs.  The test guest's ring 3
 * (user/plat_guest.c) and a plain Linux process (host/memstress_host.c)
 * both provide it, so the same compiled loops run in both places and
 * their figures compare like with like.
 */
#ifndef MEMVISOR_GUEST_PLAT_H
#define MEMVISOR_GUEST_PLAT_H

#include <stdint.h>

/* Page-aligned memory, or NULL when there is not enough. */
void *plat_alloc(uint64_t bytes);
void plat_free(void *p, uint64_t bytes);
uint64_t plat_free_bytes(void);
uint64_t plat_ram_bytes(void);
uint64_t plat_tsc_khz(void);
unsigned plat_cpus(void);
const char *plat_name(void);

/*
 * The page cache (the test guest's; a Linux process has none here and gets
 * NULL / 0): memory whose contents may be dropped at any time, oldest
 * first, when an allocation needs room or the balloon takes it.
 */
void *plat_cache_add(uint64_t bytes);
int plat_cache_has(const void *p, uint64_t bytes);    /* 1 if still cached */
uint64_t plat_cache_bytes(void);                       /* cached now */
uint64_t plat_cache_dropped_bytes(void);               /* dropped so far */
/* Drop up to max_bytes (<= 16 MiB) of the oldest cache and own those pages; *got says how much. */
void *plat_cache_take(uint64_t max_bytes, uint64_t *got);

/*
 * A device interrupt line (the test guest only): each interrupt masks the
 * line and adds 1 to *counter; the driver unmasks it once the device is
 * quiet.  0, or -1.
 */
int plat_irq_attach(unsigned irq, volatile uint64_t *counter);
int plat_irq_unmask(unsigned irq);

/*
 * Called when plat_alloc would fail, before it does: the hook frees what
 * it can (a balloon deflating on OOM) and returns nonzero if it freed any,
 * and the allocation is tried again.
 */
void plat_on_oom(int (*hook)(void *ctx, uint64_t bytes), void *ctx);

/* One console line (no '\n' needed). */
void plat_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A milestone the VMM timestamps (MV_EVENT_*); nothing on a host. */
void plat_event(uint32_t event);

/* Have the pages of [p, p + bytes) swapped out now; 0, or -1 if refused. */
int plat_pageout(void *p, uint64_t bytes);

/*
 * The guest-physical address that backs p now, or UINT64_MAX when it
 * cannot be known (a host process, or not root): what a report of a bad
 * page needs to be matched with the VMM's side.
 */
uint64_t plat_phys_addr(const void *p);

/* Give the CPU up for about us microseconds (the guest has nothing to do, as HLT would say). */
void plat_idle_us(uint64_t us);

static inline uint64_t rdtsc_ordered(void)
{
	uint32_t lo, hi;

	/* lfence keeps the page reads from moving across the timestamp. */
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Cycles to nanoseconds without overflow for runs of days. */
static inline uint64_t tsc_to_ns(uint64_t cycles, uint64_t khz)
{
	return cycles / khz * 1000000u + cycles % khz * 1000000u / khz;
}

#endif
