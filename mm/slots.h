/*
 * Slot allocator for a swap file: slot n is the 4 KiB at offset n * 4096.
 * A bitmap with a next-fit cursor, so consecutive allocations get
 * consecutive slots (swap-outs of neighbouring pages land next to each
 * other, and prefetch on swap-in reads a contiguous run).  The slot count
 * grows on demand up to a limit; growth fails cleanly at the limit.
 */
#ifndef MEMVISOR_MM_SLOTS_H
#define MEMVISOR_MM_SLOTS_H

#include <stdint.h>

#define SLOT_NONE UINT32_MAX

struct slots {
	uint64_t *bits;        /* 1 = in use */
	uint32_t capacity;     /* slots the bitmap covers */
	uint32_t limit;        /* never more than this many slots */
	uint32_t used;
	uint32_t cursor;       /* next-fit start */
	uint32_t high_water;   /* highest slot ever used + 1 (file size) */
};

/* Returns 0, or -1 if memory for the bitmap cannot be had. */
int slots_init(struct slots *s, uint32_t initial, uint32_t limit);
void slots_free_all(struct slots *s);

/* A free slot, or SLOT_NONE when every slot up to the limit is taken. */
uint32_t slots_alloc(struct slots *s);

/* Release a slot; returns -1 (and changes nothing) if it was not in use. */
int slots_release(struct slots *s, uint32_t slot);

int slots_in_use(const struct slots *s, uint32_t slot);

#endif
