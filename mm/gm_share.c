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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#define SHARE_BATCH 256  /* zero pages given back together: fewer, longer runs (64: 950 ns a page looked at, 256: 765) */
#define MERGE_BATCH 64   /* candidates merged together, the VM's faults waiting meanwhile */

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

/* Userfaultfd on pages [p, p + n)'s new mapping (the remap dropped it). */
static int cover(struct guest_mem *gm, uint32_t p, uint32_t n)
{
	char err[160];

	if (uffd_register(&gm->uffd, page(gm, p), (size_t)n * GM_PAGE, err, sizeof(err)) == 0)
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
	if (cover(gm, p, 1))
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

int gm_unshare_to_hole(struct guest_mem *gm, uint32_t p)
{
	uint32_t f = gm->frame[p];

	/* A touch before the cover finds a hole and gets zeros: what a ballooned page reads. */
	if (mmap(page(gm, p), GM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, gm->ram_fd,
		 home_off(p)) == MAP_FAILED)
		return -1;
	if (cover(gm, p, 1))
		return -1;
	fallocate(gm->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, home_off(p), GM_PAGE);
	gm->frame[p] = SLOT_NONE;
	drop_ref(gm, f);
	return 0;
}

/*
 * Map frames [f, f + n) over pages [p, p + n), which are write-protected
 * and merging, or evicting for gm_share_victim (a guest write meanwhile
 * set them present again: those the caller leaves out) and hold the same bytes; the caller's references
 * become the pages'.  One mmap for the run.  On failure nothing changed.
 */
static int map_run(struct guest_mem *gm, uint32_t p, uint32_t f, uint32_t n)
{
	uint64_t e[SHARE_BATCH];

	if (mmap(page(gm, p), (size_t)n * GM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, gm->ps->fd,
		 (off_t)f * GM_PAGE) == MAP_FAILED)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		gm_set_state(gm, p + i, GM_SHARED, 0);
		gm->frame[p + i] = f + i;
	}
	gm->share_merges += n;
	if (cover(gm, p, n))
		return 0;
	gm_wp(gm, p, n, 1);
	/* A write between the mmap and the cover made a private copy: break at once. */
	for (uint32_t done = 0, k; done < n; done += k) {
		k = n - done < SHARE_BATCH ? n - done : SHARE_BATCH;
		if (pagemap_read(gm->pagemap_fd, page(gm, p + done), k, e))
			break;
		for (uint32_t i = 0; i < k; i++)
			if ((e[i] & PM_PRESENT) && !(e[i] & PM_FILE))
				gm_break_share(gm, p + done + i);
	}
	return 0;
}

/* A merge that will not happen: the page is the guest's again, the frame reference goes. */
static void unmerge(struct guest_mem *gm, uint32_t p, uint32_t f)
{
	if (st(gm, p) == GM_MERGING) {
		gm_set_state(gm, p, GM_PRESENT, 0);
		gm_wp(gm, p, 1, 0);
	}
	drop_ref(gm, f);
}

/* Pages p[0..n) of gm (lock held) to frames f[0..n): sorted, then a run at a time. */
static void map_frames(struct guest_mem *gm, uint32_t *p, uint32_t *f, unsigned n)
{
	/* Insertion sort by page: a batch is short and mostly in order already. */
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && p[j - 1] > p[j]; j--) {
			uint32_t tp = p[j], tf = f[j];
			p[j] = p[j - 1], f[j] = f[j - 1];
			p[j - 1] = tp, f[j - 1] = tf;
		}
	for (unsigned i = 0; i < n;) {
		unsigned j = i + 1;

		if (st(gm, p[i]) != GM_MERGING) { /* a write won */
			drop_ref(gm, f[i]);
			i++;
			continue;
		}
		while (j < n && p[j] == p[j - 1] + 1 && f[j] == f[j - 1] + 1 && st(gm, p[j]) == GM_MERGING)
			j++;
		if (map_run(gm, p[i], f[i], j - i))
			for (unsigned k = i; k < j; k++)
				unmerge(gm, p[k], f[k]);
		i = j;
	}
}

/* A page to merge: with frame f (a reference held), or with hint page q of VM o. */
struct cand {
	struct guest_mem *o;    /* NULL: a frame */
	uint32_t p, q, f;
	uint64_t hash;
};

/* What the table says of stable page p: 1 if it is a candidate (*c filled), 0 if only a hint was left. */
static int candidate(struct guest_mem *gm, uint32_t p, uint64_t hash, struct cand *c)
{
	void *owner;
	uint32_t v;

	if (!pshare_room(gm->ps))
		return 0;
	switch (pshare_lookup(gm->ps, hash, gm->share_group, &owner, &v)) {
	case PS_FRAME:
		*c = (struct cand){ .o = NULL, .p = p, .f = v, .hash = hash };
		return 1;
	case PS_HINT:
		if (owner == gm && v == p)
			return 0;
		*c = (struct cand){ .o = owner, .p = p, .q = v, .f = SLOT_NONE, .hash = hash };
		return 1;
	case PS_NONE:
		break;
	}
	pshare_hint(gm->ps, hash, gm->share_group, gm, p);
	return 0;
}

struct other_side {
	struct guest_mem *o;
	uint32_t q, f;
};

static int by_vm_then_page(const void *a, const void *b)
{
	const struct other_side *x = a, *y = b;

	if (x->o != y->o)
		return (uintptr_t)x->o < (uintptr_t)y->o ? -1 : 1;
	return x->q < y->q ? -1 : x->q > y->q;
}

/*
 * Pair page p of gm, whose bytes are `bytes`, with hint page q of VM o
 * (o's lock held): compare under write protection and put both in a new
 * frame, q merging.  The frame number (two references), or SLOT_NONE if
 * they differ (then p becomes the hint if hint_p) or no frame could be had.
 */
static uint32_t pair_up(struct guest_mem *gm, uint32_t p, const void *bytes, uint64_t hash,
			struct guest_mem *o, uint32_t q, int hint_p)
{
	uint32_t f;

	gm_wp(o, q, 1, 1);
	if (memcmp(bytes, page(o, q), GM_PAGE)) {
		gm->share_differ++;
		if (hint_p)
			pshare_hint(gm->ps, hash, gm->share_group, gm, p);
		f = SLOT_NONE;
	} else {
		f = pshare_make(gm->ps, hash, gm->share_group, bytes, 2);
	}
	if (f == SLOT_NONE) {
		/* In gm itself, q may be a candidate of this batch yet: the batch releases it. */
		if (o != gm)
			gm_wp(o, q, 1, 0);
		return SLOT_NONE;
	}
	mm_host_account(gm->host, 1);
	gm_set_state(o, q, GM_MERGING, 0);
	return f;
}

/*
 * Victim p (lock held) and hint page q of VM o hold the same bytes:
 * both to one new frame.  Eviction holds gm's lock and may not wait for
 * o's (the scanner holds two), so a busy o keeps its page for the scan.
 */
static int pair_victim(struct guest_mem *gm, uint32_t p, const void *copy, uint64_t hash,
		       struct guest_mem *o, uint32_t q)
{
	uint32_t f = SLOT_NONE;

	if (o != gm && pthread_mutex_trylock(&o->lock))
		return 0;
	if (gm_takeable(o, q)) {
		f = pair_up(gm, p, copy, hash, o, q, 0);
		if (f != SLOT_NONE)
			map_frames(o, &q, &(uint32_t){ f }, 1);
		else if (o == gm) /* pair_up leaves that to a batch; here there is none */
			gm_wp(gm, q, 1, 0);
	}
	if (o != gm)
		pthread_mutex_unlock(&o->lock);
	if (f == SLOT_NONE)
		return 0;
	if (map_run(gm, p, f, 1)) {
		drop_ref(gm, f);
		return 0;
	}
	return 1;
}

int gm_share_victim(struct guest_mem *gm, uint32_t p, const void *copy)
{
	uint64_t hash;
	void *owner;
	uint32_t v;

	if (!pshare_room(gm->ps))
		return 0;
	hash = gm->hash(copy, GM_PAGE);
	switch (pshare_lookup(gm->ps, hash, gm->share_group, &owner, &v)) {
	case PS_FRAME:
		if (memcmp(copy, pshare_data(gm->ps, v), GM_PAGE) || map_run(gm, p, v, 1)) {
			drop_ref(gm, v);
			return 0;
		}
		break;
	case PS_HINT:
		if ((owner == gm && v == p) || !pair_victim(gm, p, copy, hash, owner, v))
			return 0;
		break;
	case PS_NONE:
		return 0;
	}
	gm->share_victims++;
	return 1;
}

/*
 * Merge a batch of candidates of gm (lock held).  All of them are
 * write-protected together, compared, and then mapped a run at a time:
 * consecutive pages on consecutive frames take one mmap and one
 * registration.  The partners in other VMs are mapped last, one VM at a
 * time under its lock.  Between the compare and the map a page is
 * "merging": a guest write meanwhile wins, as it does over eviction.
 */
static void share_batch(struct guest_mem *gm, struct cand *c, unsigned n)
{
	uint32_t mp[2 * MERGE_BATCH], mf[2 * MERGE_BATCH];
	struct other_side os[MERGE_BATCH];
	unsigned nm = 0, no = 0;

	/* Write-protect the candidates a run of neighbours at a time. */
	for (unsigned i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && c[j].p == c[j - 1].p + 1; j++)
			;
		gm_wp(gm, c[i].p, c[j - 1].p - c[i].p + 1, 1);
	}
	for (unsigned i = 0; i < n; i++) {
		struct guest_mem *o = c[i].o;
		uint32_t p = c[i].p, f;

		if (st(gm, p) != GM_PRESENT) {
			/* Taken by an earlier pair of this batch. */
			if (!o)
				drop_ref(gm, c[i].f);
			continue;
		}
		if (!o) {
			if (memcmp(page(gm, p), pshare_data(gm->ps, c[i].f), GM_PAGE)) {
				gm->share_differ++;
				drop_ref(gm, c[i].f);
				continue;
			}
			gm_set_state(gm, p, GM_MERGING, 0);
			mp[nm] = p, mf[nm++] = c[i].f;
			continue;
		}
		/* The hint's VM is visited by this thread alone, but its faults take its lock. */
		if (o != gm && pthread_mutex_trylock(&o->lock))
			continue;
		if (!gm_takeable(o, c[i].q)) {
			/* The hint's page is out (or going): p, here now, is the better hint. */
			pshare_hint(gm->ps, c[i].hash, gm->share_group, gm, p);
		} else if ((f = pair_up(gm, p, page(gm, p), c[i].hash, o, c[i].q, 1)) != SLOT_NONE) {
			gm_set_state(gm, p, GM_MERGING, 0);
			mp[nm] = p, mf[nm++] = f;
			if (o == gm)
				mp[nm] = c[i].q, mf[nm++] = f;
			else
				os[no++] = (struct other_side){ o, c[i].q, f };
		}
		if (o != gm)
			pthread_mutex_unlock(&o->lock);
	}
	/* What did not pair up is the guest's to write again. */
	for (unsigned i = 0; i < n; i++) {
		if (st(gm, c[i].p) == GM_PRESENT)
			gm_wp(gm, c[i].p, 1, 0);
		if (c[i].o == gm && st(gm, c[i].q) == GM_PRESENT)
			gm_wp(gm, c[i].q, 1, 0);
	}
	map_frames(gm, mp, mf, nm);

	qsort(os, no, sizeof(os[0]), by_vm_then_page);
	for (unsigned i = 0; i < no;) {
		struct guest_mem *o = os[i].o;
		unsigned k = 0;

		/* Only this thread waits for a second VM's lock (eviction only tries one): no deadlock. */
		pthread_mutex_lock(&o->lock);
		for (; i < no && os[i].o == o; i++, k++)
			mp[k] = os[i].q, mf[k] = os[i].f;
		map_frames(o, mp, mf, k);
		pthread_mutex_unlock(&o->lock);
	}
}

unsigned guest_mem_scan(struct guest_mem *gm, unsigned budget, uint64_t zero_hash, unsigned *wrapped)
{
	uint32_t zeros[SHARE_BATCH];
	struct cand c[MERGE_BATCH];
	unsigned done = 0, nz = 0, nc = 0;

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
			if (gm->ps && candidate(gm, p, full, &c[nc]) && ++nc == MERGE_BATCH) {
				share_batch(gm, c, nc);
				nc = 0;
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
	share_batch(gm, c, nc);
	pthread_mutex_unlock(&gm->lock);
	return done;
}
