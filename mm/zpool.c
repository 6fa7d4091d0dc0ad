#include "zpool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define OBJS_MAX (ZPOOL_CHUNK / ZPOOL_CLASS)  /* 256: fits the handle's low byte */
#define NIL UINT32_MAX

struct zchunk {
	uint64_t used_map[OBJS_MAX / 64];
	uint32_t prev, next;       /* in its class's partial list, or the free list */
	uint16_t used;
	uint8_t cls;               /* class index; object size (cls + 1) * 64 */
	uint8_t live;              /* 1: holds objects of cls */
};

static unsigned obj_size(unsigned cls)
{
	return (cls + 1) * ZPOOL_CLASS;
}

static unsigned objs_per_chunk(unsigned cls)
{
	return ZPOOL_CHUNK / obj_size(cls);
}

static uint8_t *obj_ptr(struct zpool *zp, uint32_t c, unsigned i)
{
	return zp->base + (size_t)c * ZPOOL_CHUNK + (size_t)i * obj_size(zp->chunk[c].cls);
}

int zpool_init(struct zpool *zp, uint64_t cap)
{
	memset(zp, 0, sizeof(*zp));
	zp->nchunks = (uint32_t)(cap / ZPOOL_CHUNK);
	zp->limit = zp->nchunks;
	zp->free_chunk = NIL;
	for (unsigned k = 0; k < ZPOOL_CLASSES; k++)
		zp->partial[k] = NIL;
	if (!zp->nchunks)
		return 0;
	zp->base = mmap(NULL, (size_t)zp->nchunks * ZPOOL_CHUNK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (zp->base == MAP_FAILED) {
		zp->base = NULL;
		return -errno;
	}
	zp->chunk = calloc(zp->nchunks, sizeof(*zp->chunk));
	if (!zp->chunk) {
		zpool_destroy(zp);
		return -ENOMEM;
	}
	/* Free list in address order: the pool grows from its start. */
	for (uint32_t c = zp->nchunks; c-- > 0;) {
		zp->chunk[c].next = zp->free_chunk;
		zp->free_chunk = c;
	}
	return 0;
}

uint32_t zpool_set_limit(struct zpool *zp, uint64_t cap)
{
	uint64_t n = cap / ZPOOL_CHUNK;

	zp->limit = n < zp->nchunks ? (uint32_t)n : zp->nchunks;
	return zp->limit;
}

void zpool_destroy(struct zpool *zp)
{
	if (zp->base)
		munmap(zp->base, (size_t)zp->nchunks * ZPOOL_CHUNK);
	free(zp->chunk);
	memset(zp, 0, sizeof(*zp));
}

static void unlink_partial(struct zpool *zp, uint32_t c)
{
	struct zchunk *ch = &zp->chunk[c];

	if (ch->prev != NIL)
		zp->chunk[ch->prev].next = ch->next;
	else
		zp->partial[ch->cls] = ch->next;
	if (ch->next != NIL)
		zp->chunk[ch->next].prev = ch->prev;
	ch->prev = ch->next = NIL;
}

static void push_partial(struct zpool *zp, uint32_t c)
{
	struct zchunk *ch = &zp->chunk[c];

	ch->prev = NIL;
	ch->next = zp->partial[ch->cls];
	if (ch->next != NIL)
		zp->chunk[ch->next].prev = c;
	zp->partial[ch->cls] = c;
}

uint32_t zpool_alloc(struct zpool *zp, size_t len)
{
	unsigned cls, i;
	uint32_t c;
	struct zchunk *ch;

	if (len == 0 || len > ZPOOL_MAX_DATA)
		return ZPOOL_NONE;
	cls = (unsigned)((len + 2 + ZPOOL_CLASS - 1) / ZPOOL_CLASS) - 1;
	c = zp->partial[cls];
	if (c == NIL) {
		c = zp->free_chunk;
		/* Chunks already in use above a lowered cap stay until they empty. */
		if (c == NIL || zp->chunks_used >= zp->limit)
			return ZPOOL_NONE;
		zp->free_chunk = zp->chunk[c].next;
		ch = &zp->chunk[c];
		memset(ch, 0, sizeof(*ch));
		ch->cls = (uint8_t)cls;
		ch->live = 1;
		zp->chunks_used++;
		push_partial(zp, c);
	}
	ch = &zp->chunk[c];
	for (i = 0; ch->used_map[i / 64] & (1ULL << (i % 64)); i++)
		;
	ch->used_map[i / 64] |= 1ULL << (i % 64);
	if (++ch->used == objs_per_chunk(cls))
		unlink_partial(zp, c);
	{
		uint16_t n = (uint16_t)len;
		memcpy(obj_ptr(zp, c, i), &n, 2);
	}
	zp->objects++;
	zp->data_bytes += len;
	return c << 8 | i;
}

static int valid(const struct zpool *zp, uint32_t h)
{
	uint32_t c = h >> 8, i = h & 0xff;

	return h != ZPOOL_NONE && c < zp->nchunks && zp->chunk[c].live &&
	       i < objs_per_chunk(zp->chunk[c].cls) && (zp->chunk[c].used_map[i / 64] & (1ULL << (i % 64)));
}

void *zpool_data(struct zpool *zp, uint32_t h, size_t *len)
{
	uint16_t n;
	uint8_t *p;

	if (!valid(zp, h))
		return NULL;
	p = obj_ptr(zp, h >> 8, h & 0xff);
	memcpy(&n, p, 2);
	*len = n;
	return p + 2;
}

int zpool_free(struct zpool *zp, uint32_t h)
{
	uint32_t c = h >> 8, i = h & 0xff;
	struct zchunk *ch;
	size_t len;

	if (!zpool_data(zp, h, &len))
		return -1;
	ch = &zp->chunk[c];
	if (ch->used == objs_per_chunk(ch->cls))
		push_partial(zp, c); /* full until now: it has room again */
	ch->used_map[i / 64] &= ~(1ULL << (i % 64));
	ch->used--;
	zp->objects--;
	zp->data_bytes -= len;
	if (ch->used == 0) {
		/* Empty: back to the kernel and onto the free list. */
		unlink_partial(zp, c);
		madvise(zp->base + (size_t)c * ZPOOL_CHUNK, ZPOOL_CHUNK, MADV_DONTNEED);
		ch->live = 0;
		ch->next = zp->free_chunk;
		zp->free_chunk = c;
		zp->chunks_used--;
	}
	return 0;
}
