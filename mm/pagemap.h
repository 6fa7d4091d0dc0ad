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

/* Sum of smaps Rss (bytes) over the mappings inside [addr, addr+len); -errno. */
int64_t smaps_rss(const void *addr, size_t len);

#endif
