/*
 * The compression cache's side of guest memory: which victims it keeps,
 * its age queue, writing its oldest pages to the file when full, and
 * faults on compressed and same-filled pages.  docs/compression.md.
 */
#include "gm_internal.h"
#include "mm_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define ZIP_ACCEPT_PCT 90  /* a full compression cache takes pages again below this */

int gm_zip_init(struct guest_mem *gm, const struct guest_mem_config *cfg, char *err, size_t errlen)
{
	unsigned pct = cfg->zip_max_pct;
	int rc;

	gm->zip_threshold = cfg->zip_threshold;
	if (!gm->zip_threshold || gm->zip_threshold > GM_ZIP_THRESHOLD_MAX || pct > 100)
		return ERR("compression: threshold 1-%u bytes and cap 0-100%% of memory",
			   GM_ZIP_THRESHOLD_MAX);
	gm->zip = zip_new(cfg->zip_level);
	if (!gm->zip)
		return ERR("compression: zstd refused level %d (%d to %d)", cfg->zip_level, ZIP_LEVEL_MIN,
			   ZIP_LEVEL_MAX);
	rc = zpool_init(&gm->zpool, gm->size / 100 * pct);
	if (rc)
		return ERR("compression cache: %s", strerror(-rc));
	gm->zout = gm_alloc_pages(SWAP_BATCH_MAX);
	gm->zbuf = gm_alloc_pages(gm->prefetch);
	if (!gm->zout || !gm->zbuf)
		return ERR("out of memory for the compression cache");
	return 0;
}

/* Tell the host what the cache's chunks hold now (they count against the budget). */
static void zip_account(struct guest_mem *gm)
{
	uint64_t now = zpool_bytes(&gm->zpool);

	mm_host_account_zip(gm->host, (int64_t)now - (int64_t)gm->zip_accounted);
	gm->zip_accounted = now;
}

/*
 * The age queue's record of compressed page p, kept in front of its data
 * in the cache: only cached pages pay for it.  Objects are 2-byte
 * aligned, hence the copies.
 */
struct zq_rec {
	uint32_t next, prev;     /* pages; SLOT_NONE at the ends */
	uint32_t stamp;          /* gm->back_in when it joined the queue */
};

_Static_assert(sizeof(struct zq_rec) + GM_ZIP_THRESHOLD_MAX == ZPOOL_MAX_DATA,
	       "the threshold leaves room for the record");

static uint8_t *zq_obj(struct guest_mem *gm, uint32_t p, size_t *len)
{
	return zpool_data(&gm->zpool, gm->slot[p], len);
}

static struct zq_rec zq_get(struct guest_mem *gm, uint32_t p)
{
	struct zq_rec r;
	size_t len;

	memcpy(&r, zq_obj(gm, p, &len), sizeof(r));
	return r;
}

static void zq_put(struct guest_mem *gm, uint32_t p, const struct zq_rec *r)
{
	size_t len;

	memcpy(zq_obj(gm, p, &len), r, sizeof(*r));
}

/* Take p out of the age queue, if it is in it (before its object is freed). */
static void zq_unlink(struct guest_mem *gm, uint32_t p)
{
	struct zq_rec r, n;

	if (!(gm->state[p] & GM_INZQ))
		return;
	gm->state[p] &= (uint8_t)~GM_INZQ;
	r = zq_get(gm, p);
	if (r.prev == SLOT_NONE) {
		gm->zq_head = r.next;
	} else {
		n = zq_get(gm, r.prev);
		n.next = r.next;
		zq_put(gm, r.prev, &n);
	}
	if (r.next == SLOT_NONE) {
		gm->zq_tail = r.prev;
	} else {
		n = zq_get(gm, r.next);
		n.prev = r.prev;
		zq_put(gm, r.next, &n);
	}
}

/*
 * Append compressed page p (its handle in its slot) to the age queue,
 * stamped with the count of pages brought back so far.  The queue
 * holds exactly the compressed pages, in the order they went in.
 */
static void zq_push(struct guest_mem *gm, uint32_t p)
{
	struct zq_rec r, t;

	/* First out of its old place: were p the tail, it would link to itself. */
	zq_unlink(gm, p);
	r = (struct zq_rec){ .next = SLOT_NONE, .prev = gm->zq_tail, .stamp = gm->back_in };
	gm->state[p] |= GM_INZQ;
	zq_put(gm, p, &r);
	if (gm->zq_tail == SLOT_NONE) {
		gm->zq_head = p;
	} else {
		t = zq_get(gm, gm->zq_tail);
		t.next = p;
		zq_put(gm, gm->zq_tail, &t);
	}
	gm->zq_tail = p;
}

/* The oldest compressed page, taken out of the queue; SLOT_NONE if none. */
static uint32_t zq_pop(struct guest_mem *gm)
{
	uint32_t p = gm->zq_head;

	if (p != SLOT_NONE)
		zq_unlink(gm, p);
	return p;
}

/*
 * Whether the oldest compressed page is cold: more pages have come back
 * from the cache and the swap file since it went in than the two now
 * hold.  A page of a working set that cycles comes back before every
 * other page out has come back once; a page still out after that is one
 * the guest has stopped reading, and is better on the disk than in the
 * cache's capped memory.
 */
static int zq_head_cold(struct guest_mem *gm)
{
	return gm->zq_head != SLOT_NONE && gm->back_in - zq_get(gm, gm->zq_head).stamp >
						   gm->n_state[GM_ZIPPED] + gm->n_state[GM_SWAPPED];
}

/* The compressed data of cached page p (after its queue record), and its length. */
static const uint8_t *zip_data(struct guest_mem *gm, uint32_t p, size_t *len)
{
	uint8_t *obj = zq_obj(gm, p, len);

	if (!obj || *len <= sizeof(struct zq_rec))
		return NULL;
	*len -= sizeof(struct zq_rec);
	return obj + sizeof(struct zq_rec);
}

static int cached(enum gm_state s)
{
	return s == GM_ZIPPED || s == GM_SAME;
}

static int zero_filled(const struct guest_mem *gm, uint32_t p)
{
	return st(gm, p) == GM_SAME && gm->slot[p] == 0;
}

/* Decompress (or fill) cached page p into dst; -1 if its data is damaged. */
static int unzip_page(struct guest_mem *gm, uint32_t p, uint8_t *dst)
{
	const uint8_t *data;
	size_t len;

	if (st(gm, p) == GM_SAME) {
		zip_fill(dst, gm->slot[p]);
		return 0;
	}
	data = zip_data(gm, p, &len);
	return data && !zip_decompress(gm->zip, data, len, dst) ? 0 : -1;
}

/*
 * A compressed or same-filled page: decompress (or fill) it, with the
 * cached pages after it when the faults run sequentially (the swap-in
 * window), and map them with one UFFDIO_COPY.  A read of zero-filled
 * pages maps the shared zero page instead, so they take no memory again.
 */
void gm_fault_unzip(struct guest_mem *gm, uint32_t p, int write)
{
	uint32_t run = 1, win = gm_swapin_window(gm, p);
	char msg[128];
	int rc;

	if (!write && zero_filled(gm, p)) {
		while (run < win && p + run < gm->npages && zero_filled(gm, p + run))
			run++;
		if (uffd_zeropage(gm->uffd.fd, page(gm, p), (size_t)run * GM_PAGE, 0) == 0) {
			gm_set_run(gm, p, run, GM_ZERO, GM_REF);
			for (uint32_t i = 0; i < run; i++)
				gm->slot[p + i] = SLOT_NONE;
			gm->unzipped += run;
			gm->ra_next = p + run;
			return;
		}
		run = 1;
	}
	while (run < win && p + run < gm->npages && cached(st(gm, p + run)))
		run++;
	for (uint32_t i = 0; i < run; i++) {
		if (unzip_page(gm, p + i, gm->zbuf + (size_t)i * GM_PAGE) == 0)
			continue;
		if (i == 0) {
			snprintf(msg, sizeof(msg), "compressed page at gpa 0x%llx is damaged",
				 (unsigned long long)p * GM_PAGE);
			gm_fail(gm, msg);
			return;
		}
		run = i; /* a neighbour's turn comes with its own fault */
		break;
	}
	rc = uffd_copy(gm->uffd.fd, page(gm, p), gm->zbuf, (size_t)run * GM_PAGE, 0);
	if (rc) {
		snprintf(msg, sizeof(msg), "UFFDIO_COPY of a decompressed page at gpa 0x%llx: %s",
			 (unsigned long long)p * GM_PAGE, strerror(-rc));
		gm_fail(gm, msg);
		return;
	}
	for (uint32_t i = 0; i < run; i++) {
		if (st(gm, p + i) == GM_ZIPPED) {
			zq_unlink(gm, p + i);
			zpool_free(&gm->zpool, gm->slot[p + i]);
			gm->back_in++;
		}
		gm->slot[p + i] = SLOT_NONE;
	}
	/* Neighbours keep their sample mark: untouched so far. */
	gm_set_run(gm, p, run, GM_PRESENT, GM_REF);
	zip_account(gm);
	gm->unzipped += run;
	gm->ra_next = p + run;
}

void gm_zip_forget(struct guest_mem *gm, uint32_t p)
{
	if (st(gm, p) == GM_ZIPPED) {
		zq_unlink(gm, p);
		zpool_free(&gm->zpool, gm->slot[p]);
		zip_account(gm);
	}
	gm->slot[p] = SLOT_NONE;
}

/*
 * When the compression cache is nearly at its cap, write its oldest pages
 * to the swap file (lock held throughout, dropped for the write): they are
 * decompressed into the stage and stored as plain pages, so swap-in never
 * needs to know where a slot's content came from.  While it refuses new
 * pages, its cold pages go to the file, so that the room they held takes
 * pages again.
 */
void gm_zip_make_room(struct guest_mem *gm)
{
	struct swap_write w[SWAP_BATCH_MAX];
	uint32_t v[SWAP_BATCH_MAX], h[SWAP_BATCH_MAX];
	unsigned n = 0, moved = 0;
	int rc, cold;

	/*
	 * Full: refuse new pages (same-filled ones cost nothing and still come
	 * in) until faults have drained the cache below ZIP_ACCEPT_PCT of its
	 * cap, as zswap's accept_threshold_percent does.  Otherwise every
	 * victim would be compressed only to be written out a moment later.
	 */
	if (gm->zpool.chunks_used + 2 > gm->zpool.limit)
		gm->zip_refusing = 1;
	else if ((uint64_t)gm->zpool.chunks_used * 100 < (uint64_t)gm->zpool.limit * ZIP_ACCEPT_PCT)
		gm->zip_refusing = 0;
	if (!gm_file_room(gm))
		return;
	/*
	 * Refusing sends the newest victims to the file, and in a working set
	 * that cycles those are the pages needed last: right, as long as what
	 * the cache holds is what comes back first.  A cold page does not.
	 */
	cold = gm->zip_refusing && zq_head_cold(gm);
	if (!cold && gm->zpool.chunks_used + 2 <= gm->zpool.limit)
		return;
	while (n < SWAP_BATCH_MAX && (!cold || zq_head_cold(gm))) {
		uint32_t p = zq_pop(gm);
		const uint8_t *data;
		size_t len;

		if (p == SLOT_NONE)
			break;
		data = zip_data(gm, p, &len);
		if (!data || zip_decompress(gm->zip, data, len, gm->stage + (size_t)n * GM_PAGE)) {
			zq_push(gm, p); /* leave it; its fault will report the damage */
			break;
		}
		w[n].slot = gm_alloc_slot(gm);
		if (w[n].slot == SLOT_NONE) {
			zq_push(gm, p);
			break;
		}
		w[n].buf = gm->stage + (size_t)n * GM_PAGE;
		v[n] = p;
		h[n] = gm->slot[p];
		n++;
	}
	if (!n)
		return;
	pthread_mutex_unlock(&gm->lock);
	rc = swapfile_write_batch(gm->swap, w, n);
	pthread_mutex_lock(&gm->lock);
	for (unsigned i = 0; i < n; i++) {
		uint32_t p = v[i];
		/*
		 * Faulted back meanwhile, or the write failed: the cache keeps it.
		 * A page faulted back cannot have been compressed again under the
		 * same handle meanwhile: evictions run one at a time (evict_lock).
		 */
		if (st(gm, p) != GM_ZIPPED || gm->slot[p] != h[i] || w[i].result) {
			slots_release(swapfile_slots(gm->swap), w[i].slot);
			if (st(gm, p) == GM_ZIPPED)
				zq_push(gm, p);
			continue;
		}
		zpool_free(&gm->zpool, h[i]);
		gm->slot[p] = w[i].slot;
		gm_set_state(gm, p, GM_SWAPPED, 0);
		gm->zip_writebacks++;
		gm->swapouts++;
		moved++;
	}
	zip_account(gm);
	if (cold) {
		gm->zip_cold_writebacks += moved;
		if (gm->zpool.chunks_used + 2 <= gm->zpool.limit)
			gm->zip_refusing = 0;
	}
	if (rc)
		gm_write_failed(gm, rc);
}

/*
 * Where each staged victim goes: same-filled, compressed into zout (its
 * length in len) when it shrinks to the threshold, or the swap file.
 * Runs unlocked: the stage and zout belong to the one eviction running.
 */
void gm_zip_classify(struct guest_mem *gm, unsigned n, uint8_t *kind, uint32_t *len)
{
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *pg = gm->stage + (size_t)i * GM_PAGE;
		uint32_t word;
		size_t z;

		kind[i] = TO_FILE;
		if (!gm->zip)
			continue;
		if (zip_same_filled(pg, &word)) {
			kind[i] = TO_SAME;
			len[i] = word;
			continue;
		}
		if (gm->zip_refusing)
			continue;
		z = zip_compress(gm->zip, pg, gm->zout + (size_t)i * GM_PAGE, gm->zip_threshold);
		if (z) {
			kind[i] = TO_ZIP;
			len[i] = (uint32_t)z;
		}
	}
}

/* Victims that compressed well go into the cache (lock held); returns pages freed. */
unsigned gm_zip_store(struct guest_mem *gm, const uint32_t *v, unsigned n, uint8_t *kind,
		      const uint32_t *len)
{
	uint32_t d[SWAP_BATCH_MAX], h[SWAP_BATCH_MAX];
	uint8_t failed[SWAP_BATCH_MAX], at[SWAP_BATCH_MAX];
	unsigned nd = 0, freed = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t p = v[i];

		if (kind[i] == TO_FILE || st(gm, p) != GM_EVICTING)
			continue;
		h[nd] = len[i]; /* same-filled: its word */
		if (kind[i] == TO_ZIP) {
			h[nd] = zpool_alloc(&gm->zpool, sizeof(struct zq_rec) + len[i]);
			if (h[nd] == ZPOOL_NONE) {
				kind[i] = TO_FILE; /* the cache is at its cap: to the file */
				continue;
			}
			memcpy((uint8_t *)zpool_data(&gm->zpool, h[nd], &(size_t){ 0 }) + sizeof(struct zq_rec),
			       gm->zout + (size_t)i * GM_PAGE, len[i]);
		}
		at[nd] = (uint8_t)i;
		d[nd++] = p;
	}
	if (!nd)
		return 0;
	gm_drop_evicted(gm, d, nd, failed);
	for (unsigned j = 0; j < nd; j++) {
		uint32_t p = d[j];
		int zipped = kind[at[j]] == TO_ZIP;

		if (failed[j]) {
			if (zipped)
				zpool_free(&gm->zpool, h[j]);
			continue;
		}
		gm->slot[p] = h[j];
		gm_set_state(gm, p, zipped ? GM_ZIPPED : GM_SAME, 0);
		if (zipped)
			zq_push(gm, p);
		gm->zipped++;
		freed++;
	}
	zip_account(gm);
	return freed;
}
