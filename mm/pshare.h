/*
 * The host's store of shared pages: canonical frames in one memfd, and a
 * hash table that finds them by content hash.
 *
 * A frame is one 4 KiB page of the memfd at offset frame * 4096.  Guest
 * pages that hold the same content map that offset MAP_PRIVATE, so all
 * of them read one host page, and a write gets the writer a private copy.
 * The table maps (XXH3-64 of the content, share group) to either a frame
 * or a hint: a guest page seen once with that hash, a candidate partner
 * for the next page that hashes the same.  A table entry only says where
 * to look; the caller confirms every match with a full compare.
 *
 * Groups keep VMs that must not share apart (ESX's salting): the group
 * is part of the key, so pages of different groups never meet.
 *
 * Thread-safe; the lock is the innermost of the memory manager's (never
 * held while taking a guest_mem lock).  No KVM, no guest_mem inside.
 */
#ifndef MEMVISOR_MM_PSHARE_H
#define MEMVISOR_MM_PSHARE_H

#include "slots.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PSHARE_FRAME_MAX (1u << 24)   /* 64 GiB of distinct shared content */
#define PSHARE_HINT_MAX  (1u << 22)   /* hints kept before they are all dropped */
#define PSHARE_MAP_SLACK 8192         /* mappings left for everything else in the process */

enum ps_kind { PS_NONE, PS_FRAME, PS_HINT };

struct ps_entry {
	uint64_t hash;
	void *owner;            /* the hint's guest memory; NULL for a frame */
	uint32_t group;
	uint32_t val;           /* frame number, or the hint's page */
	uint8_t used;
};

struct ps_frame {
	uint64_t hash;
	uint32_t group;
	uint32_t refs;          /* guest pages mapping it */
};

struct pshare_stats {
	uint64_t frames;        /* live frames: host pages spent on shared content */
	uint64_t refs;          /* guest pages backed by frames */
	uint64_t hints;
	uint64_t frames_made, frames_freed;
	uint64_t hint_drops;    /* times the hints were all dropped for room */
	uint64_t map_limit;     /* vm.max_map_count when the store was made */
	int map_limited;        /* merging stopped at the limit (raise vm.max_map_count) */
};

struct pshare {
	pthread_mutex_t lock;
	int fd;                 /* the frames' memfd */
	uint8_t *view;          /* the memfd mapped shared, max_frames pages of address space */
	uint32_t max_frames;    /* PSHARE_FRAME_MAX, or fewer (pshare_init_frames) */
	struct slots free;      /* frame numbers */
	struct ps_frame *frame; /* by frame number, sized to free.capacity */
	uint32_t frame_cap;
	struct ps_entry *tab;   /* open addressing, linear probing */
	uint32_t mask;          /* table size - 1 */
	uint32_t used;          /* entries in the table */
	uint64_t refs, hints;
	uint64_t map_limit;
	int map_limited;
	struct pshare_stats st;
};

int pshare_init(struct pshare *ps, char *err, size_t errlen);
/* The same with room for max_frames frames (tests under Valgrind, which cannot map 64 GiB). */
int pshare_init_frames(struct pshare *ps, uint32_t max_frames, char *err, size_t errlen);
void pshare_destroy(struct pshare *ps);

/*
 * What (hash, group) leads to.  A frame comes back with a reference
 * taken (*val is its number), so it cannot go away while the caller
 * compares and maps it: pshare_put it if the merge does not happen.
 * A hint comes back as *owner and its page in *val.
 */
enum ps_kind pshare_lookup(struct pshare *ps, uint64_t hash, uint32_t group, void **owner, uint32_t *val);

/* Remember (owner, page) as the hint for (hash, group), unless a frame has that key. */
void pshare_hint(struct pshare *ps, uint64_t hash, uint32_t group, void *owner, uint32_t page);

/* Forget the hint for (hash, group) if it still names (owner, page). */
void pshare_unhint(struct pshare *ps, uint64_t hash, uint32_t group, void *owner, uint32_t page);

/* Forget every hint naming owner (its VM is going away). */
void pshare_forget(struct pshare *ps, void *owner);

/*
 * A new frame holding content (4 KiB), keyed by (hash, group) in place of
 * any hint, with `refs` references.  Returns its number, or SLOT_NONE
 * when there is no frame number or no memory left.
 */
uint32_t pshare_make(struct pshare *ps, uint64_t hash, uint32_t group, const void *content, uint32_t refs);

/*
 * Room for one more shared page?  Each can split a mapping of guest RAM
 * in three, so 2 * refs mappings must stay under vm.max_map_count.
 */
int pshare_room(struct pshare *ps);

/* vm.max_map_count, 0 if unreadable. */
uint64_t pshare_map_count_limit(void);

void pshare_get(struct pshare *ps, uint32_t frame);

/* Drop a reference; returns 1 when that was the last and the frame's host page is freed. */
int pshare_put(struct pshare *ps, uint32_t frame);

/* The frame's content, readable while the caller holds a reference. */
static inline const uint8_t *pshare_data(const struct pshare *ps, uint32_t frame)
{
	return ps->view + (size_t)frame * 4096;
}

uint32_t pshare_refs(struct pshare *ps, uint32_t frame);
void pshare_get_stats(struct pshare *ps, struct pshare_stats *st);

#endif
