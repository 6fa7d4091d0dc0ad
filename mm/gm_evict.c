/*
 * Eviction: victims by the clock (or a range on request), write-protected
 * and staged, then kept compressed, written to the swap file, or handed
 * to the host's swap (kernel-swap mode); only then are host pages freed.
 */
#include "gm_internal.h"
#include "mm_host.h"
#include "pagemap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static int picked(const uint32_t *v, unsigned n, uint32_t p)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i] == p)
			return 1;
	return 0;
}

/*
 * Clock: present pages not referenced since the hand last passed (lock
 * held).  The hand may go round twice, to take pages whose second chance
 * it used up on the first lap; a VM with fewer victims than wanted would
 * then have the ones of the first lap chosen again, and eviction stores
 * each victim once.
 */
static unsigned pick_victims(struct guest_mem *gm, uint32_t *v, unsigned want)
{
	unsigned n = 0;

	for (uint64_t steps = 0; steps < 2ULL * gm->npages && n < want; steps++) {
		uint32_t p = gm->clock_hand;

		gm->clock_hand = p + 1 == gm->npages ? 0 : p + 1;
		if (!gm_takeable(gm, p))
			continue;
		if (gm->state[p] & GM_REF) {
			gm->state[p] &= (uint8_t)~GM_REF; /* second chance */
			continue;
		}
		if (steps >= gm->npages && picked(v, n, p))
			continue;
		v[n++] = p;
	}
	return n;
}

static void pageout_run(struct guest_mem *gm, uint32_t p, uint32_t n, int unused)
{
	(void)unused;
	if (madvise(page(gm, p), (size_t)n * GM_PAGE, MADV_PAGEOUT) && !gm->kswap_refused) {
		gm_log(gm, "MADV_PAGEOUT: %s", strerror(errno));
		gm->kswap_refused = 1;
	}
}

/*
 * Kernel-swap mode (lock held, released on return): hand the victims to
 * the host's swap and keep as kswapped those that really left.
 */
static unsigned page_out(struct guest_mem *gm, const uint32_t *v, unsigned n)
{
	uint64_t e;
	unsigned freed = 0;

	gm_for_runs(gm, v, n, pageout_run, 0);
	for (unsigned i = 0; i < n; i++) {
		if (pagemap_read(gm->pagemap_fd, page(gm, v[i]), 1, &e) || (e & PM_PRESENT))
			continue; /* still resident: swap off or full, or touched again */
		gm_set_state(gm, v[i], GM_KSWAPPED, 0);
		gm->swapouts++;
		freed++;
	}
	if (n && !freed && !gm->kswap_refused) {
		gm_log(gm, "MADV_PAGEOUT left every page resident: is host swap on, and not full?");
		gm->kswap_refused = 1;
	}
	if (n && !freed)
		gm->swap_full = 1;
	else if (freed)
		gm->kswap_refused = gm->swap_full = 0;
	pthread_mutex_unlock(&gm->lock);
	return freed;
}

/* Free slots in the swap file, clearing "full" once a batch's worth is back. */
int gm_file_room(struct guest_mem *gm)
{
	struct slots *sl = swapfile_slots(gm->swap);

	if (gm->swap_full && sl->limit - sl->used >= SWAP_BATCH_MAX)
		gm->swap_full = 0; /* only then: no flapping */
	return !gm->swap_full && sl->used < sl->limit;
}

uint32_t gm_alloc_slot(struct guest_mem *gm)
{
	uint32_t slot = slots_alloc(swapfile_slots(gm->swap));

	if (slot == SLOT_NONE) {
		/* Loud the first time; a VM that keeps filling it is told every 10 s. */
		if (!gm->swap_full && now_ns() - gm->swap_full_logged_ns >= 10000000000ULL) {
			gm_log(gm, "swap file '%s' is full (%u slots): no swapping until slots free up",
			      swapfile_path(gm->swap), swapfile_slots(gm->swap)->limit);
			gm->swap_full_logged_ns = now_ns();
		}
		gm->swap_full = 1;
	}
	return slot;
}

void gm_write_failed(struct guest_mem *gm, int rc)
{
	gm->swap_errors++;
	if (!gm->swap_disabled)
		gm_log(gm, "swap write failed (%s): pages stay where they were, swapping stops", strerror(-rc));
	gm->swap_disabled = 1;
}

/* An eviction that cannot finish: the page stays, writable again. */
static void keep_resident(struct guest_mem *gm, uint32_t p)
{
	gm_set_state(gm, p, GM_PRESENT, 0);
	gm_wp(gm, p, 1, 0);
}

/*
 * The evicting pages d[0..n) have their content safe elsewhere: give
 * their host pages back, one madvise per run of neighbours, since each
 * call flushes the TLBs of every CPU that runs this process (an IPI
 * apiece, and under a hypervisor an exit).  Where the kernel refuses,
 * the pages stay resident, writable again, and failed[i] says so.
 */
void gm_drop_evicted(struct guest_mem *gm, const uint32_t *d, unsigned n, uint8_t *failed)
{
	for (unsigned i = 0, j; i < n; i = j) {
		j = gm_run_end(d, i, n);
		if (gm_unmap(gm, d[i], j - i) == 0) {
			memset(failed + i, 0, j - i);
			continue;
		}
		/*
		 * A run may span mappings (a page that was shared had a mapping
		 * of its own), and a call that failed part way may have dropped
		 * those before the failure: page by page, then, so that each
		 * page's fate is known.
		 */
		for (unsigned k = i; k < j; k++) {
			failed[k] = gm_unmap(gm, d[k], 1) != 0;
			if (failed[k])
				keep_resident(gm, d[k]);
		}
	}
}

/*
 * Evict the victims (lock held, released on return): write-protect them
 * (from then on a guest write cancels a page's eviction), copy them to
 * the stage, keep those that compress well in the compression cache, and
 * write the rest to the swap file; only then free their host pages.
 * Returns pages freed.
 */
static unsigned swap_out(struct guest_mem *gm, const uint32_t *victims, unsigned nv)
{
	struct swap_write w[SWAP_BATCH_MAX];
	uint32_t v[SWAP_BATCH_MAX], fv[SWAP_BATCH_MAX], dv[SWAP_BATCH_MAX], len[SWAP_BATCH_MAX];
	uint8_t kind[SWAP_BATCH_MAX], failed[SWAP_BATCH_MAX];
	unsigned freed = 0, nf = 0, nd = 0, n = 0;
	int rc;

	if (gm->kernel_swap)
		return page_out(gm, victims, nv);
	if (gm->zip)
		gm_zip_make_room(gm);
	/* That may have dropped the lock: take only victims still as chosen. */
	for (unsigned i = 0; i < nv; i++)
		if (gm_takeable(gm, victims[i]))
			v[n++] = victims[i];
	if (!gm->zip && !gm_file_room(gm))
		n = 0;
	for (unsigned i = 0; i < n; i++)
		gm_set_state(gm, v[i], GM_EVICTING, 0);
	gm_for_runs(gm, v, n, gm_wp, 1);
	/*
	 * Copied under the lock: a VMM write may make a victim present again
	 * and sampling or the balloon then unmap it, and a copy from an
	 * unmapped page would wait on a fault that this thread may be the one
	 * to serve (a held fault's thread reclaims, docs/memory.md).
	 */
	for (unsigned i = 0; i < n; i++)
		memcpy(gm->stage + (size_t)i * GM_PAGE, page(gm, v[i]), GM_PAGE);
	pthread_mutex_unlock(&gm->lock);
	if (!n)
		return 0;
	gm_zip_classify(gm, n, kind, len);

	pthread_mutex_lock(&gm->lock);
	/* A victim that a frame holds already, or that a page the scanner saw
	 * holds too, is shared, not stored (the seed's order for the hard
	 * state: share first, then compress, then swap). */
	for (unsigned i = 0; gm->ps && i < n; i++)
		if (st(gm, v[i]) == GM_EVICTING && gm_share_victim(gm, v[i], gm->stage + (size_t)i * GM_PAGE))
			freed++;
	if (gm->zip)
		freed += gm_zip_store(gm, v, n, kind, len);
	/* The rest go to the file, staged where they are. */
	for (unsigned i = 0; i < n; i++) {
		if (kind[i] != TO_FILE || st(gm, v[i]) != GM_EVICTING)
			continue;
		w[nf].slot = gm_alloc_slot(gm);
		if (w[nf].slot == SLOT_NONE) {
			keep_resident(gm, v[i]);
			continue;
		}
		w[nf].buf = gm->stage + (size_t)i * GM_PAGE;
		fv[nf++] = v[i];
	}
	pthread_mutex_unlock(&gm->lock);
	if (!nf)
		return freed;
	rc = swapfile_write_batch(gm->swap, w, nf);

	pthread_mutex_lock(&gm->lock);
	for (unsigned i = 0; i < nf; i++) {
		uint32_t p = fv[i];
		if (st(gm, p) != GM_EVICTING || w[i].result) {
			/* Cancelled by a guest write, or the write failed: it stays. */
			slots_release(swapfile_slots(gm->swap), w[i].slot);
			if (st(gm, p) == GM_EVICTING)
				keep_resident(gm, p);
			continue;
		}
		w[nd] = w[i];
		dv[nd++] = p;
	}
	gm_drop_evicted(gm, dv, nd, failed);
	for (unsigned i = 0; i < nd; i++) {
		uint32_t p = dv[i];
		if (failed[i]) {
			slots_release(swapfile_slots(gm->swap), w[i].slot);
			continue;
		}
		gm->slot[p] = w[i].slot;
		gm_set_state(gm, p, GM_SWAPPED, 0);
		gm->swapouts++;
		freed++;
	}
	if (rc)
		gm_write_failed(gm, rc);
	pthread_mutex_unlock(&gm->lock);
	return freed;
}

unsigned guest_mem_evict(struct guest_mem *gm, unsigned want)
{
	uint32_t v[SWAP_BATCH_MAX];
	unsigned freed = 0;

	if (want > SWAP_BATCH_MAX)
		want = SWAP_BATCH_MAX;
	pthread_mutex_lock(&gm->evict_lock);
	pthread_mutex_lock(&gm->lock);
	if (gm->swap_disabled)
		pthread_mutex_unlock(&gm->lock);
	else
		freed = swap_out(gm, v, pick_victims(gm, v, want));
	pthread_mutex_unlock(&gm->evict_lock);
	return freed;
}

uint64_t guest_mem_pageout(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint32_t v[SWAP_BATCH_MAX], p, end;
	uint64_t freed = 0;

	if (gpa >= gm->size || len > gm->size - gpa || !len)
		return 0;
	p = (uint32_t)(gpa / GM_PAGE);
	end = (uint32_t)((gpa + len + GM_PAGE - 1) / GM_PAGE);
	/* A victim may pair with a hinted page of another VM: the registry's
	 * lock keeps that VM from going away meanwhile, as for the host thread. */
	if (gm->host)
		pthread_rwlock_rdlock(&gm->host->vms_lock);
	pthread_mutex_lock(&gm->evict_lock);
	while (p < end) {
		unsigned n = 0, got;

		pthread_mutex_lock(&gm->lock);
		if (gm->swap_disabled) {
			pthread_mutex_unlock(&gm->lock);
			break;
		}
		for (; p < end && n < SWAP_BATCH_MAX; p++)
			if (gm_takeable(gm, p))
				v[n++] = p;
		got = swap_out(gm, v, n);
		freed += got;
		if (n && !got && gm->swap_full)
			break; /* no room left: the rest stays resident */
	}
	pthread_mutex_unlock(&gm->evict_lock);
	if (gm->host)
		pthread_rwlock_unlock(&gm->host->vms_lock);
	return freed;
}
