/*
 * Swap-in: the adaptive window, one read per run of slots, and the
 * readahead that keeps the next run in flight while a guest streams.
 */
#include "gm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The most pages a swap-in fault brings to a VM at its limit, unless it has more room. */
#define SWAPIN_LIMIT_WINDOW 16

/*
 * The swap-in window, as the kernel's readahead grows its own: a fault at
 * or just past the end of the previous run is a sequential access and
 * doubles the window, up to the prefetch limit; any other fault starts
 * over at one page, so random access reads no page it did not ask for.
 */
unsigned gm_swapin_window(struct guest_mem *gm, uint32_t p)
{
	if (p >= gm->ra_next && p - gm->ra_next <= gm->ra_win)
		gm->ra_win = gm->ra_win * 2 > gm->prefetch ? gm->prefetch : gm->ra_win * 2;
	else
		gm->ra_win = 1;
	/* At its limit a VM's window holds what is left under it, 16 pages at
	 * least: its swap-ins then go no faster than the host's thread can
	 * push pages out, and the limit holds. */
	if (over_limit(gm, gm->ra_win)) {
		uint64_t held = held_pages(gm), room = gm->limit > held ? gm->limit - held : 0;
		unsigned cap = room > SWAPIN_LIMIT_WINDOW ? (unsigned)room : SWAPIN_LIMIT_WINDOW;

		return gm->ra_win < cap ? gm->ra_win : cap;
	}
	return gm->ra_win;
}

/* Swapped pages from p on whose slots follow on from p's, at most max. */
static uint32_t slot_run(const struct guest_mem *gm, uint32_t p, unsigned max)
{
	uint32_t run = 1;

	while (run < max && p + run < gm->npages && st(gm, p + run) == GM_SWAPPED &&
	       gm->slot[p + run] == gm->slot[p] + run)
		run++;
	return run;
}

/*
 * Pages [p, p + run) have been read into buf: map them with one
 * UFFDIO_COPY, which also wakes whoever waits on them, and free their
 * slots.  The first page is the one the guest asked for, unless ahead.
 */
static int map_read_pages(struct guest_mem *gm, uint32_t p, uint32_t run, const uint8_t *buf, int ahead)
{
	int rc = uffd_copy(gm->uffd.fd, page(gm, p), buf, (size_t)run * GM_PAGE, 0);

	if (rc) {
		char msg[160];
		snprintf(msg, sizeof(msg), "UFFDIO_COPY of swapped-in pages at gpa 0x%llx: %s",
			 (unsigned long long)p * GM_PAGE, strerror(-rc));
		gm_fail(gm, msg);
		return rc;
	}
	for (uint32_t i = 0; i < run; i++) {
		slots_release(swapfile_slots(gm->swap), gm->slot[p + i]);
		gm->slot[p + i] = SLOT_NONE;
	}
	/* Prefetched pages keep their sample mark: untouched so far. */
	gm_set_run(gm, p, run, GM_PRESENT, ahead ? 0 : GM_REF);
	gm->swapins += run;
	gm->back_in += run;
	if (ahead)
		gm->readahead_pages += run;
	return 0;
}

static void swapin_failed(struct guest_mem *gm, uint32_t p, uint32_t slot, int rc)
{
	char msg[224];

	gm->swap_errors++;
	snprintf(msg, sizeof(msg), "swap-in of gpa 0x%llx from slot %u failed after 3 tries: %s",
		 (unsigned long long)p * GM_PAGE, slot,
		 rc == -EBADMSG ? "the page failed to authenticate (changed on disk); not handed to the guest"
				: strerror(-rc));
	gm_fail(gm, msg);
}

/* Complete the readahead in flight (lock held; the read is mostly done). */
static void finish_ahead(struct guest_mem *gm)
{
	uint32_t p = gm->ahead_first, n = gm->ahead_n;
	int rc = swapfile_read_finish(gm->swap);

	gm->ahead_n = 0;
	/* A failed readahead costs nothing: the pages wait, swapped, for their fault. */
	gm_set_run(gm, p, n, GM_SWAPPED, 0);
	if (!rc)
		map_read_pages(gm, p, n, gm->ahead_buf, 1);
	pthread_cond_broadcast(&gm->io_cond);
}

/* Start reading the run at q while the guest works through the last one. */
static void start_ahead(struct guest_mem *gm, uint32_t q)
{
	uint32_t n;

	if (gm->ahead_n || q >= gm->npages || st(gm, q) != GM_SWAPPED)
		return;
	/* At its limit a VM gets what it faults on, not a stream of pages
	 * that the host's thread would have to push out again. */
	if (over_limit(gm, gm->prefetch))
		return;
	n = slot_run(gm, q, gm->prefetch);
	if (swapfile_read_start(gm->swap, gm->slot[q], n, gm->ahead_buf))
		return;
	gm_set_run(gm, q, n, GM_READING, 0);
	gm->ahead_first = q;
	gm->ahead_n = n;
	gm->ra_next = q + n;
}

/*
 * Swap-in (lock held): one read of a contiguous slot run, one UFFDIO_COPY.
 * Once a sequential stream has grown the window to its limit, the next
 * run is read ahead while the guest consumes this one, so its next fault
 * finds the data in memory (swap-in then costs a fault and a copy).
 */
void gm_fault_swapped(struct guest_mem *gm, uint32_t p)
{
	uint32_t s, run;
	int rc = -EIO;

	if (gm->ahead_n) {
		int hit = p >= gm->ahead_first && p - gm->ahead_first < gm->ahead_n;
		finish_ahead(gm);
		if (hit && st(gm, p) == GM_PRESENT) {
			gm->swapin_faults++;
			start_ahead(gm, gm->ra_next);
			return;
		}
	}
	/* Another thread reads it, or uses the buffer: wait, then look again. */
	while (st(gm, p) == GM_READING || (st(gm, p) == GM_SWAPPED && gm->io_busy))
		pthread_cond_wait(&gm->io_cond, &gm->lock);
	if (st(gm, p) != GM_SWAPPED) {
		uffd_wake(gm->uffd.fd, page(gm, p), GM_PAGE);
		return;
	}
	s = gm->slot[p];
	run = slot_run(gm, p, gm_swapin_window(gm, p));
	gm->ra_next = p + run;
	gm_set_run(gm, p, run, GM_READING, 0);
	gm->io_busy = 1;
	pthread_mutex_unlock(&gm->lock);
	for (int tries = 0; tries < 3 && rc; tries++)
		rc = swapfile_read(gm->swap, s, run, gm->io_buf);
	pthread_mutex_lock(&gm->lock);
	gm_set_run(gm, p, run, GM_SWAPPED, 0);
	if (rc)
		swapin_failed(gm, p, s, rc);
	else if (!map_read_pages(gm, p, run, gm->io_buf, 0))
		gm->swapin_faults++;
	gm->io_busy = 0;
	pthread_cond_broadcast(&gm->io_cond);
	if (!rc && gm->prefetch > 1 && gm->ra_win == gm->prefetch)
		start_ahead(gm, gm->ra_next);
}
