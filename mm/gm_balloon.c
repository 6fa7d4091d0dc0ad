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
	gm->n_mapped -= touched(s);
	gm_set_state(gm, p, to, 0);
	return 0;
}

int guest_mem_balloon_inflate(struct guest_mem *gm, uint32_t pfn)
{
	int rc;

	if (pfn >= gm->npages)
		return -1;
	pthread_mutex_lock(&gm->lock);
	rc = release(gm, pfn, GM_BALLOONED);
	pthread_mutex_unlock(&gm->lock);
	return rc;
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
	uint64_t done = 0;

	if (gpa % GM_PAGE || len % GM_PAGE || gpa > gm->size || len > gm->size - gpa)
		return 0;
	pthread_mutex_lock(&gm->lock);
	for (uint64_t p = gpa / GM_PAGE; p < (gpa + len) / GM_PAGE; p++) {
		enum gm_state s = st(gm, (uint32_t)p);
		/* Nothing to give back from a page that holds nothing. */
		if (s != GM_UNTOUCHED && s != GM_BALLOONED && release(gm, (uint32_t)p, GM_UNTOUCHED) == 0)
			done++;
	}
	gm->reported += done;
	pthread_mutex_unlock(&gm->lock);
	return done;
}
