/*
 * Physical page allocator: a sorted array of free extents.  Workloads ask
 * for large contiguous ranges a few times per run, so first fit over a
 * short array is all it needs, and it keeps ring 0's instruction count low.
 */
#include "kernel.h"

#define MAX_EXTENTS 512
#define PAGE_SHIFT 12

struct extent {
	uint64_t start, end; /* page numbers, end exclusive */
};

static struct extent ext[MAX_EXTENTS];
static unsigned next;
static uint64_t lo_page, hi_page, nfree;

void palloc_init(uint64_t start, uint64_t end)
{
	lo_page = (start + MV_PAGE_SIZE - 1) >> PAGE_SHIFT;
	hi_page = end >> PAGE_SHIFT;
	next = 0;
	nfree = 0;
	if (hi_page > lo_page) {
		ext[0].start = lo_page;
		ext[0].end = hi_page;
		next = 1;
		nfree = hi_page - lo_page;
	}
}

uint64_t palloc_alloc(uint64_t npages)
{
	if (npages == 0)
		return 0;
	for (unsigned i = 0; i < next; i++) {
		if (ext[i].end - ext[i].start < npages)
			continue;
		uint64_t page = ext[i].start;
		ext[i].start += npages;
		if (ext[i].start == ext[i].end) {
			for (unsigned j = i + 1; j < next; j++)
				ext[j - 1] = ext[j];
			next--;
		}
		nfree -= npages;
		return page << PAGE_SHIFT;
	}
	return 0;
}

int palloc_free(uint64_t gpa, uint64_t npages)
{
	uint64_t s = gpa >> PAGE_SHIFT, e = s + npages;
	unsigned i;

	/* Whatever ring 3 passes: aligned, inside the pool, not free already. */
	if ((gpa & (MV_PAGE_SIZE - 1)) || npages == 0 || s < lo_page || e > hi_page || e < s)
		return -1;
	for (i = 0; i < next && ext[i].start < e; i++)
		if (ext[i].end > s)
			return -1;
	/* i is the first extent after [s, e). */
	int join_prev = i > 0 && ext[i - 1].end == s;
	int join_next = i < next && ext[i].start == e;
	if (join_prev && join_next) {
		ext[i - 1].end = ext[i].end;
		for (unsigned j = i + 1; j < next; j++)
			ext[j - 1] = ext[j];
		next--;
	} else if (join_prev) {
		ext[i - 1].end = e;
	} else if (join_next) {
		ext[i].start = s;
	} else {
		if (next == MAX_EXTENTS)
			return -1;
		for (unsigned j = next; j > i; j--)
			ext[j] = ext[j - 1];
		ext[i].start = s;
		ext[i].end = e;
		next++;
	}
	nfree += npages;
	return 0;
}

uint64_t palloc_free_pages(void)
{
	return nfree;
}
