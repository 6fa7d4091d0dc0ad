/*
 * The kernel's own view of our memory: /proc/self/pagemap entries (is a
 * page present, which frame backs it) and the Rss that /proc/self/smaps
 * gives a range.  The memory manager reconciles its page states with the
 * first, and the tests hold its "consumed" figure against the second.
 */
#ifndef MEMVISOR_MM_PAGEMAP_H
#define MEMVISOR_MM_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#define PM_PRESENT   (1ULL << 63)
#define PM_SWAP      (1ULL << 62)
#define PM_FILE      (1ULL << 61)  /* a file page (a shared frame), not a private one */
#define PM_PFN_MASK  ((1ULL << 55) - 1)

/* Open /proc/self/pagemap; -errno on failure. */
int pagemap_open(void);

/* Read the entries of npages pages from addr; 0 or -errno. */
int pagemap_read(int fd, const void *addr, size_t npages, uint64_t *out);

/*
 * The frame number of the shared zero page, found by read-faulting a fresh
 * anonymous page; 0 if the kernel hides frame numbers (no CAP_SYS_ADMIN).
 */
uint64_t pagemap_zero_pfn(int fd);

/*
 * Of npages pages from addr: those with a host page (*present: the zero
 * page left out, as smaps Rss does) and those of them that are private
 * (*private_pages: shared frames, file pages, left out).  Cheaper than
 * smaps when sharing has split guest RAM into many mappings.  0 or -errno.
 */
int pagemap_count(int fd, const void *addr, size_t npages, uint64_t zero_pfn, uint64_t *present,
		  uint64_t *private_pages);

/* Sum of smaps Rss (bytes) over the mappings inside [addr, addr+len); -errno. */
int64_t smaps_rss(const void *addr, size_t len);

/* The same for another smaps field ("Anonymous:": private pages, shared frames left out). */
int64_t smaps_sum(const void *addr, size_t len, const char *field);

#endif
