/*
 * The sharing scanner's visit to one VM: hash pages with XXH3 at the
 * scanner's pace, skip those that changed since the last visit (KSM's
 * volatile check), give all-zero pages back, mapped to the shared zero
 * page, and merge other pages with identical ones of this VM or of VMs
 * in its share group into one frame of the host's store (pshare).
 *
 * A zero page's COW break is the kernel's: reconciliation sees it.  A
 * frame is mapped MAP_PRIVATE over the guest page and write-protected
 * through userfaultfd, so reads hit the frame without a fault, and a
 * write reaches us first: gm_break_share gives the writer its own page
 * again, at the page's home offset in the RAM memfd.  Every remap goes
 * through a mapping whose content is already right, so an access in the
 * moment before userfaultfd covers the new mapping reads the right bytes
 * (docs/sharing.md).
 */
#include "gm_internal.h"
#include "mm_host.h"
#include "pagemap.h"
#include "pshare.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#define SHARE_BATCH 256  /* candidates merged together: fewer, longer runs (64: 950 ns a page looked at, 256: 765) */

static int all_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned i = 0; i < GM_PAGE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

/* Give the run's pages back and map the zero page in their place. */
static void to_zero_page(struct guest_mem *gm, uint32_t p, uint32_t n, int unused)
{
	int mapped;

	(void)unused;
	if (gm_unmap(gm, p, n)) {
		gm_wp(gm, p, n, 0);
		return;
	}
	/* Mapped at once, so the guest's next read does not even fault. */
	mapped = uffd_zeropage(gm->uffd.fd, page(gm, p), (size_t)n * GM_PAGE, 0) == 0;
	for (uint32_t i = 0; i < n; i++) {
		/* Left unmapped, its next access maps the zero page as a first touch does. */
		gm_set_state(gm, p + i, mapped ? GM_ZERO : GM_UNTOUCHED, 0);
		gm->n_mapped -= !mapped;
	}
	gm->scan_zero += n;
}

/*
 * Pages that looked all zero twice: check again under write protection
 * (a guest write now waits for the lock) and swap them for the zero page,
 * a run at a time (lock held).
 */
static void share_zeros(struct guest_mem *gm, uint32_t *v, unsigned n)
{
	unsigned k = 0;

	gm_for_runs(gm, v, n, gm_wp, 1);
	for (unsigned i = 0; i < n; i++) {
		if (all_zero(page(gm, v[i])))
			v[k++] = v[i];
		else
			gm_wp(gm, v[i], 1, 0);
	}
	gm_for_runs(gm, v, k, to_zero_page, 0);
}

static off_t home_off(uint32_t p)
{
	return (off_t)p * GM_PAGE;
}

/* Userfaultfd on page p's new mapping (the remap dropped it). */
static int cover(struct guest_mem *gm, uint32_t p)
{
	char err[160];

	if (uffd_register(&gm->uffd, page(gm, p), GM_PAGE, err, sizeof(err)) == 0)
		return 0;
	gm_fail(gm, err);
	return -1;
}

/* Page p was present or shared but a write in the remap's moment made it private. */
static int written_meanwhile(struct guest_mem *gm, uint32_t p)
{
	uint64_t e;

	return pagemap_read(gm->pagemap_fd, page(gm, p), 1, &e) == 0 && (e & PM_PRESENT) && !(e & PM_FILE);
}

static void drop_ref(struct guest_mem *gm, uint32_t f)
{
	if (pshare_put(gm->ps, f))
		mm_host_account(gm->host, -1);
}

void gm_break_share(struct guest_mem *gm, uint32_t p)
{
	uint32_t f = gm->frame[p];
	int rc;

	/* The frame's content, or the private copy a write before our cover made. */
	memcpy(gm->brk_buf, page(gm, p), GM_PAGE);
	if (pwrite(gm->ram_fd, gm->brk_buf, GM_PAGE, home_off(p)) != GM_PAGE ||
	    mmap(page(gm, p), GM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, gm->ram_fd,
		 home_off(p)) == MAP_FAILED) {
		char msg[128];
		snprintf(msg, sizeof(msg), "cannot give gpa 0x%llx its own page back: %s",
			 (unsigned long long)p * GM_PAGE, strerror(errno));
		gm_fail(gm, msg);
		return;
	}
	if (cover(gm, p))
		return;
	/* The home copy goes; a private copy made by a write meanwhile stays. */
	fallocate(gm->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, home_off(p), GM_PAGE);
	if (written_meanwhile(gm, p))
		rc = uffd_wake(gm->uffd.fd, page(gm, p), GM_PAGE);
	else if ((rc = uffd_copy(gm->uffd.fd, page(gm, p), gm->brk_buf, GM_PAGE, 0)) == -EEXIST)
		rc = uffd_wake(gm->uffd.fd, page(gm, p), GM_PAGE);
	if (rc) {
		char msg[128];
		snprintf(msg, sizeof(msg), "mapping a broken share at gpa 0x%llx: %s",
			 (unsigned long long)p * GM_PAGE, strerror(-rc));
		gm_fail(gm, msg);
		return;
	}
	gm_set_state(gm, p, GM_PRESENT, GM_REF);
	gm->frame[p] = SLOT_NONE;
	gm->share_breaks++;
	drop_ref(gm, f);
}

/*
 * Map frame f over page p, which is write-protected and holds the same
 * bytes; the caller's reference on f becomes the page's.  -1 (nothing
 * changed) if the mapping cannot be made.
 */
static int map_frame(struct guest_mem *gm, uint32_t p, uint32_t f)
{
	if (mmap(page(gm, p), GM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, gm->ps->fd,
		 (off_t)f * GM_PAGE) == MAP_FAILED)
		return -1;
	gm_set_state(gm, p, GM_SHARED, 0);
	gm->frame[p] = f;
	gm->share_merges++;
	if (cover(gm, p))
		return 0;
	gm_wp(gm, p, 1, 1);
	if (written_meanwhile(gm, p))
		gm_break_share(gm, p);
	return 0;
}

int gm_share_victim(struct guest_mem *gm, uint32_t p, const void *copy)
{
	void *owner;
	uint32_t f;

	if (!pshare_room(gm->ps) ||
	    pshare_lookup(gm->ps, gm->hash(copy, GM_PAGE), gm->share_group, &owner, &f) != PS_FRAME)
		return 0;
	if (memcmp(copy, pshare_data(gm->ps, f), GM_PAGE) || map_frame(gm, p, f)) {
		drop_ref(gm, f);
		return 0;
	}
	gm->share_victims++;
	return 1;
}

/* Write-protected pages p of gm and q of o hold the same bytes? If not, release both. */
static int same_locked(struct guest_mem *gm, uint32_t p, const void *other, struct guest_mem *o, uint32_t q)
{
	if (memcmp(page(gm, p), other, GM_PAGE) == 0)
		return 1;
	gm->share_differ++;
	gm_wp(gm, p, 1, 0);
	if (o)
		gm_wp(o, q, 1, 0);
	return 0;
}

/*
 * Merge page p (hash unchanged since the last visit) with its twin, if it
 * has one.  Returns 1 if it compared pages (the caller then lets faults in).
 */
static int share_page(struct guest_mem *gm, uint32_t p, uint64_t hash)
{
	struct pshare *ps = gm->ps;
	struct guest_mem *o;
	void *owner;
	uint32_t v, f;
	int compared = 1;

	switch (pshare_lookup(ps, hash, gm->share_group, &owner, &v)) {
	case PS_NONE:
		pshare_hint(ps, hash, gm->share_group, gm, p);
		return 0;
	case PS_FRAME:
		gm_wp(gm, p, 1, 1);
		if (!same_locked(gm, p, pshare_data(ps, v), NULL, 0)) {
			drop_ref(gm, v);
		} else if (map_frame(gm, p, v)) {
			gm_wp(gm, p, 1, 0);
			drop_ref(gm, v);
		}
		return 1;
	case PS_HINT:
		break;
	}
	o = owner;
	if (o == gm && v == p)
		return 0;
	/* The hint's VM is visited by this thread alone, but its faults take its lock. */
	if (o != gm && pthread_mutex_trylock(&o->lock))
		return 0;
	if (!gm_takeable(o, v)) {
		pshare_hint(ps, hash, gm->share_group, gm, p);
		compared = 0;
		goto out;
	}
	gm_wp(gm, p, 1, 1);
	gm_wp(o, v, 1, 1);
	if (!same_locked(gm, p, page(o, v), o, v)) {
		pshare_hint(ps, hash, gm->share_group, gm, p);
		goto out;
	}
	f = pshare_make(ps, hash, gm->share_group, page(gm, p), 2);
	if (f == SLOT_NONE) {
		gm_wp(gm, p, 1, 0);
		gm_wp(o, v, 1, 0);
		goto out;
	}
	mm_host_account(gm->host, 1);
	if (map_frame(gm, p, f)) {
		gm_wp(gm, p, 1, 0);
		drop_ref(gm, f);
	}
	if (map_frame(o, v, f)) {
		gm_wp(o, v, 1, 0);
		drop_ref(gm, f);
	}
out:
	if (o != gm)
		pthread_mutex_unlock(&o->lock);
	return compared;
}

unsigned guest_mem_scan(struct guest_mem *gm, unsigned budget, uint64_t zero_hash, unsigned *wrapped)
{
	uint32_t zeros[SHARE_BATCH];
	unsigned done = 0, nz = 0;

	if (!gm->phash)
		return 0;
	pthread_mutex_lock(&gm->lock);
	while (done < budget) {
		uint32_t p = gm->scan_cursor;
		uint32_t h;
		uint64_t full;

		gm->scan_cursor = p + 1 == gm->npages ? 0 : p + 1;
		if (gm->scan_cursor == 0)
			(*wrapped)++;
		done++;
		if (!gm_takeable(gm, p))
			continue;
		full = gm->hash(page(gm, p), GM_PAGE);
		h = (uint32_t)full | 1; /* never 0, which means "not seen yet" */
		if (h != gm->phash[p]) {
			gm->phash[p] = h; /* new or changed since the last visit: wait a round */
			continue;
		}
		if (full != zero_hash) {
			/* A merge takes a few system calls: let faults in after each. */
			if (gm->ps && pshare_room(gm->ps) && share_page(gm, p, full)) {
				pthread_mutex_unlock(&gm->lock);
				pthread_mutex_lock(&gm->lock);
			}
			continue;
		}
		zeros[nz++] = p;
		if (nz == SHARE_BATCH || gm->scan_cursor == 0) {
			share_zeros(gm, zeros, nz);
			nz = 0;
			/* Let faults in between batches. */
			pthread_mutex_unlock(&gm->lock);
			pthread_mutex_lock(&gm->lock);
		}
	}
	share_zeros(gm, zeros, nz);
	pthread_mutex_unlock(&gm->lock);
	return done;
}
