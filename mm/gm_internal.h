/*
 * What the parts of guest_mem share, and nothing outside mm/guest_mem*.c
 * and mm/gm_*.c may use: page-state helpers and the calls between the
 * fault service (guest_mem.c), swap-in (gm_swapin.c), eviction
 * (gm_evict.c) and the compression cache (gm_zip.c).  Unless a comment
 * says otherwise, every function here runs with gm->lock held.
 */
#ifndef MEMVISOR_MM_GM_INTERNAL_H
#define MEMVISOR_MM_GM_INTERNAL_H

#include "guest_mem.h"

#include <stddef.h>
#include <sys/mman.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline enum gm_state st(const struct guest_mem *gm, uint32_t p)
{
	return (enum gm_state)(gm->state[p] & GM_STATE_MASK);
}

/* States with a host page of their own: what the VM consumes. */
static inline int resident(enum gm_state s)
{
	return s == GM_PRESENT || s == GM_EVICTING || s == GM_MERGING;
}

static inline uint64_t held_pages(const struct guest_mem *gm)
{
	return gm->n_state[GM_PRESENT] + gm->n_state[GM_EVICTING] + gm->n_state[GM_MERGING];
}

/* Whether n more pages would take the VM past its limit (no limit: never). */
static inline int over_limit(const struct guest_mem *gm, uint64_t n)
{
	return gm->limit && held_pages(gm) + n > gm->limit;
}

static inline void *page(const struct guest_mem *gm, uint32_t p)
{
	return gm->ram + (uint64_t)p * GM_PAGE;
}

/* Resident and outside the activity sample: what eviction and the scanner may take. */
static inline int gm_takeable(const struct guest_mem *gm, uint32_t p)
{
	return st(gm, p) == GM_PRESENT && !(gm->state[p] & GM_SAMPLE);
}

/* Write-protect (on) or release pages [p, p + n). */
static inline void gm_wp(struct guest_mem *gm, uint32_t p, uint32_t n, int on)
{
	uffd_writeprotect(gm->uffd.fd, page(gm, p), (size_t)n * GM_PAGE, on);
}

/*
 * Give pages [p, p + n) back to the kernel; their next access faults to
 * us.  A file-backed mapping (the RAM memfd of a sharing VM) keeps a
 * write-protect marker where a protected page was, and UFFDIO_ZEROPAGE
 * turns such a slot away: clear the markers (this wakes any writer, who
 * faults again and waits for the lock).
 */
static inline int gm_unmap(struct guest_mem *gm, uint32_t p, uint32_t n)
{
	if (madvise(page(gm, p), (size_t)n * GM_PAGE, MADV_DONTNEED))
		return -1;
	if (gm->ram_fd >= 0)
		gm_wp(gm, p, n, 0);
	return 0;
}

/* guest_mem.c */
void gm_set_state(struct guest_mem *gm, uint32_t p, enum gm_state s, uint8_t flags);
/* Pages [p, p + n) to state s, each keeping its sample mark; the first also gets first_flags. */
void gm_set_run(struct guest_mem *gm, uint32_t p, uint32_t n, enum gm_state s, uint8_t first_flags);
/* Where the run of consecutive pages that starts at v[i] ends: its last index + 1. */
static inline unsigned gm_run_end(const uint32_t *v, unsigned i, unsigned n)
{
	unsigned j = i + 1;

	while (j < n && v[j] == v[j - 1] + 1)
		j++;
	return j;
}

/* fn(gm, first, count, arg) for each run of consecutive pages in the ascending v[0..n). */
void gm_for_runs(struct guest_mem *gm, const uint32_t *v, unsigned n,
		 void (*fn)(struct guest_mem *gm, uint32_t first, uint32_t count, int arg), int arg);
void gm_log(struct guest_mem *gm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gm_fail(struct guest_mem *gm, const char *msg);   /* the VM cannot go on */
void *gm_alloc_pages(size_t n);                        /* any lock, or none */
void gm_free_pages(void *p, size_t n);

/* gm_swapin.c */
unsigned gm_swapin_window(struct guest_mem *gm, uint32_t p);
void gm_fault_swapped(struct guest_mem *gm, uint32_t p); /* drops the lock for its read */

/* gm_evict.c: the swap file's side of eviction */
int gm_file_room(struct guest_mem *gm);
uint32_t gm_alloc_slot(struct guest_mem *gm);
void gm_write_failed(struct guest_mem *gm, int rc);
void gm_drop_evicted(struct guest_mem *gm, const uint32_t *d, unsigned n, uint8_t *failed);

/* gm_zip.c: drop a compressed or same-filled page's copy (it is not needed any more). */
void gm_zip_forget(struct guest_mem *gm, uint32_t p);

/* gm_share.c: shared page p to a hole in its home (content not kept): 0, or -1. */
int gm_unshare_to_hole(struct guest_mem *gm, uint32_t p);

/* gm_share.c: give shared page p (write-protected, or its write pending) its own page again. */
void gm_break_share(struct guest_mem *gm, uint32_t p);
/*
 * Map evicting page p (its bytes staged in copy) to a frame that holds
 * them, or to a new frame with the hinted page of the same bytes, when
 * that page's VM is not busy; 1 if done.  The caller holds the host's
 * vms_lock (if there is a host), so the hint's VM cannot go meanwhile.
 */
int gm_share_victim(struct guest_mem *gm, uint32_t p, const void *copy);

/* gm_zip.c */
enum { TO_FILE, TO_ZIP, TO_SAME };                      /* where a victim goes */
int gm_zip_init(struct guest_mem *gm, const struct guest_mem_config *cfg, char *err, size_t errlen);
void gm_fault_unzip(struct guest_mem *gm, uint32_t p, int write);
void gm_zip_make_room(struct guest_mem *gm);            /* drops the lock for its write */
void gm_zip_classify(struct guest_mem *gm, unsigned n, uint8_t *kind, uint32_t *len); /* unlocked */
unsigned gm_zip_store(struct guest_mem *gm, const uint32_t *v, unsigned n, uint8_t *kind,
		      const uint32_t *len);

#endif
