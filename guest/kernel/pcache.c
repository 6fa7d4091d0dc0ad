/*
 * The guest's page cache: memory a workload filled with data it can lose,
 * the way a disk cache holds clean file pages.  Extents are kept oldest
 * first in a ring, so dropping the oldest and adding the newest cost O(1)
 * emulated instructions.  An allocation that finds no free run drops cache
 * (oldest first) until one appears; the balloon driver takes cache pages
 * before free ones (pcache_take).
 */
#include "kernel.h"

#define PAGE_SHIFT 12
#define MAX_CACHE 2048

struct cext {
	uint64_t start, end; /* page numbers, end exclusive */
};

static struct cext ring[MAX_CACHE];
static unsigned head, count;
static uint64_t cached, dropped;

static struct cext *oldest(void)
{
	return &ring[head];
}

static void pop_oldest(void)
{
	head = (head + 1) % MAX_CACHE;
	count--;
}

uint64_t pcache_add(uint64_t npages)
{
	uint64_t gpa;

	if (count == MAX_CACHE || !(gpa = pcache_alloc(npages)))
		return 0;
	ring[(head + count) % MAX_CACHE] = (struct cext){ gpa >> PAGE_SHIFT, (gpa >> PAGE_SHIFT) + npages };
	count++;
	cached += npages;
	return gpa;
}

/* The oldest extent goes back to the free pool: 1, or 0 if there is no cache. */
static int drop_oldest(void)
{
	struct cext *c;

	if (!count)
		return 0;
	c = oldest();
	if (palloc_free(c->start << PAGE_SHIFT, c->end - c->start))
		return 0; /* the free list is full: keep the cache rather than lose pages */
	cached -= c->end - c->start;
	dropped += c->end - c->start;
	pop_oldest();
	return 1;
}

uint64_t pcache_alloc(uint64_t npages)
{
	uint64_t gpa;

	while (!(gpa = palloc_alloc(npages)) && drop_oldest())
		;
	return gpa;
}

uint64_t pcache_take(uint64_t max_pages)
{
	struct cext *c;
	uint64_t n, page;

	if (!count || max_pages == 0 || max_pages > PCACHE_TAKE_MAX)
		return 0;
	c = oldest();
	n = c->end - c->start < max_pages ? c->end - c->start : max_pages;
	page = c->start;
	c->start += n;
	if (c->start == c->end)
		pop_oldest();
	cached -= n;
	dropped += n;
	return page << PAGE_SHIFT | (n - 1);
}

int pcache_has(uint64_t gpa, uint64_t npages)
{
	uint64_t s = gpa >> PAGE_SHIFT, e = s + npages;

	for (unsigned i = 0; i < count; i++) {
		const struct cext *c = &ring[(head + i) % MAX_CACHE];
		if (c->start <= s && e <= c->end)
			return 1;
	}
	return 0;
}

uint64_t pcache_pages(void)
{
	return cached;
}

uint64_t pcache_dropped(void)
{
	return dropped;
}
