/*
 * Storage for the compression cache: compressed pages packed densely in
 * 16 KiB chunks, one size class per chunk.  Classes are 64 bytes apart;
 * an object is a 2-byte length and the data, rounded up to its class, so
 * a page that compressed to 1000 bytes takes 1024.  A chunk that empties
 * goes back to the kernel at once, so the memory the pool holds is its
 * chunks in use, never more than the cap it was made with.
 *
 * A handle is a 32-bit name for one object (chunk << 8 | index), small
 * enough to live where a swapped page keeps its slot number.  Not
 * thread-safe: the caller's lock covers it.
 */
#ifndef MEMVISOR_MM_ZPOOL_H
#define MEMVISOR_MM_ZPOOL_H

#include <stddef.h>
#include <stdint.h>

#define ZPOOL_CHUNK    16384u
#define ZPOOL_CLASS    64u
#define ZPOOL_CLASSES  (4096u / ZPOOL_CLASS)
#define ZPOOL_MAX_DATA (4096u - 2u)   /* the largest object's data */
#define ZPOOL_NONE     UINT32_MAX

struct zchunk;

struct zpool {
	uint8_t *base;             /* reserved, cap bytes; committed as used */
	uint32_t nchunks;          /* room reserved, in chunks */
	uint32_t limit;            /* the cap in force, in chunks (<= nchunks; lowered and raised at run time) */
	struct zchunk *chunk;
	uint32_t partial[ZPOOL_CLASSES]; /* chunks of that class with room */
	uint32_t free_chunk;       /* never-used or emptied chunks */
	uint32_t chunks_used;
	uint64_t objects, data_bytes; /* what is stored, without rounding */
};

/* Reserve room for cap bytes (rounded down to chunks), all of it in force: 0 or -errno. */
int zpool_init(struct zpool *zp, uint64_t cap);

/* A new cap in force, at most what was reserved: the chunks it allows. */
uint32_t zpool_set_limit(struct zpool *zp, uint64_t cap);
void zpool_destroy(struct zpool *zp);

/* Room for len bytes of data (1..ZPOOL_MAX_DATA): a handle, or ZPOOL_NONE when the cap is reached. */
uint32_t zpool_alloc(struct zpool *zp, size_t len);

/* The data of an object and its length. */
void *zpool_data(struct zpool *zp, uint32_t handle, size_t *len);

/* Free an object; -1 (and nothing changes) if the handle is not in use. */
int zpool_free(struct zpool *zp, uint32_t handle);

/* Memory the pool holds: its chunks in use. */
static inline uint64_t zpool_bytes(const struct zpool *zp)
{
	return (uint64_t)zp->chunks_used * ZPOOL_CHUNK;
}

#endif
