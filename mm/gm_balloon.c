/*
 * Ballooning and free page reporting, the memory manager's side: the
 * guest gave pages up, so their host memory goes, whatever holds it.
 */
#include "gm_internal.h"
#include "pagemap.h"

#include <string.h>

/* n_mapped counts the pages a guest has touched: all but untouched and ballooned ones. */
static int touched(enum gm_state s)
{
	return s != GM_UNTOUCHED && s != GM_BALLOONED;
}

/* Page p, its host memory gone, is `to` now (lock held). */
static void released(struct guest_mem *gm, uint32_t p, enum gm_state s, enum gm_state to)
{
	gm->n_mapped -= touched(s);
	gm_set_state(gm, p, to, 0);
}

/* Free page p's host memory and put it in state `to` (lock held): 0, or -1 if busy. */
static int release(struct guest_mem *gm, uint32_t p, enum gm_state to)
{
	enum gm_state s = st(gm, p);
	uint64_t e;

	switch (s) {
	case GM_PRESENT:
	case GM_ZERO:
		if (gm_unmap(gm, p, 1))
			return -1;
		break;
	case GM_UNTOUCHED:
	case GM_BALLOONED:
		break;
	case GM_SWAPPED:
		slots_release(swapfile_slots(gm->swap), gm->slot[p]);
		gm->slot[p] = SLOT_NONE;
		break;
	case GM_ZIPPED:
	case GM_SAME:
		gm_zip_forget(gm, p);
		break;
	case GM_SHARED:
		if (gm_unshare_to_hole(gm, p))
			return -1;
		/* A write in the remap's moment made it the guest's page again. */
		if (pagemap_read(gm->pagemap_fd, page(gm, p), 1, &e) == 0 && (e & PM_PRESENT)) {
			gm_set_state(gm, p, GM_PRESENT, GM_REF);
			return -1;
		}
		break;
	default:
		return -1; /* evicting, merging, being read, sampled, or in host swap */
	}
	released(gm, p, s, to);
	return 0;
}

/*
 * Pages [p, p + n) to state `to` (lock held), done[i] set for each that
 * went (done may be NULL); returns how many went.  Mapped neighbours go
 * in one madvise: each call costs the host a TLB flush of the VM's CPUs,
 * and a guest gives pages up in long runs (Firecracker merges its
 * balloon's page numbers into ranges likewise).
 */
static unsigned release_run(struct guest_mem *gm, uint32_t p, uint32_t n, enum gm_state to, uint8_t *done)
{
	unsigned got = 0;

	for (uint32_t i = 0, j; i < n; i = j) {
		enum gm_state s = st(gm, p + i);

		j = i + 1;
		if (s != GM_PRESENT && s != GM_ZERO) {
			int ok = release(gm, p + i, to) == 0;

			if (done)
				done[i] = (uint8_t)ok;
			got += (unsigned)ok;
			continue;
		}
		while (j < n && (st(gm, p + j) == GM_PRESENT || st(gm, p + j) == GM_ZERO))
			j++;
		if (gm_unmap(gm, p + i, j - i)) {
			if (done)
				memset(done + i, 0, j - i);
			continue;
		}
		for (uint32_t k = i; k < j; k++)
			released(gm, p + k, st(gm, p + k), to);
		if (done)
			memset(done + i, 1, j - i);
		got += j - i;
	}
	return got;
}

int guest_mem_balloon_inflate(struct guest_mem *gm, uint32_t pfn)
{
	uint8_t done;

	return guest_mem_balloon_inflate_run(gm, pfn, 1, &done) == 1 ? 0 : -1;
}

unsigned guest_mem_balloon_inflate_run(struct guest_mem *gm, uint32_t pfn, uint32_t n, uint8_t *done)
{
	unsigned got;

	memset(done, 0, n);
	if (pfn >= gm->npages || n > gm->npages - pfn)
		return 0;
	pthread_mutex_lock(&gm->lock);
	got = release_run(gm, pfn, n, GM_BALLOONED, done);
	pthread_mutex_unlock(&gm->lock);
	return got;
}

int guest_mem_balloon_deflate(struct guest_mem *gm, uint32_t pfn)
{
	if (pfn >= gm->npages)
		return -1;
	pthread_mutex_lock(&gm->lock);
	/* Touched meanwhile, it is the guest's already. */
	if (st(gm, pfn) == GM_BALLOONED)
		gm_set_state(gm, pfn, GM_UNTOUCHED, 0);
	pthread_mutex_unlock(&gm->lock);
	return 0;
}

uint64_t guest_mem_report_free(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint32_t end;
	uint64_t got = 0;

	if (gpa % GM_PAGE || len % GM_PAGE || gpa > gm->size || len > gm->size - gpa)
		return 0;
	end = (uint32_t)((gpa + len) / GM_PAGE);
	pthread_mutex_lock(&gm->lock);
	/* Nothing to give back from a page that holds nothing: the runs between those go. */
	for (uint32_t p = (uint32_t)(gpa / GM_PAGE), q; p < end; p = q) {
		q = p + 1;
		if (!touched(st(gm, p)))
			continue;
		while (q < end && touched(st(gm, q)))
			q++;
		got += release_run(gm, p, q - p, GM_UNTOUCHED, NULL);
	}
	gm->reported += got;
	pthread_mutex_unlock(&gm->lock);
	return got;
}
