/*
 * The virtio-balloon device (VIRTIO 1.x, section 5.5) over the modern
 * PCI transport.
 *
 * Offered features: MUST_TELL_HOST, STATS_VQ, DEFLATE_ON_OOM and
 * PAGE_REPORTING (and VERSION_1).  Queues: 0 inflate, 1 deflate,
 * 2 stats, 3 reporting (free page hinting is not offered, so reporting
 * takes index 3, as Linux numbers them).  Configuration: `num_pages`,
 * the target the host sets, and `actual`, what the driver says it holds.
 *
 * What the guest hands over is checked: page numbers must lie in guest
 * RAM, page-number buffers must be whole 32-bit entries, stats whole
 * 10-byte entries, reported ranges page-aligned inside RAM.  A driver
 * that breaks a rule gets the device marked broken (virtio_pci_fail),
 * one log line, and no effect on memory.
 *
 * Memory itself is the backend's: the device says which pages went to
 * the balloon and came back; the memory manager frees and restores them.
 * Not thread-safe: the VMM serialises it with the transport.
 */
#ifndef MEMVISOR_VMM_VIRTIO_BALLOON_H
#define MEMVISOR_VMM_VIRTIO_BALLOON_H

#include "virtio_pci.h"

#include <stdint.h>

#define VIRTIO_ID_BALLOON 5
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5

enum { BALLOON_Q_INFLATE, BALLOON_Q_DEFLATE, BALLOON_Q_STATS, BALLOON_Q_REPORTING, BALLOON_NQUEUES };

#define BALLOON_STAT_TAGS 16          /* tags 0-15: Linux 6.12's set */
#define BALLOON_PFNS_MAX  4096        /* page numbers in one inflate or deflate buffer chain */
#define BALLOON_QUEUE_MAX 128         /* entries in each queue; a chain may use them all */
#define BALLOON_RUN_MAX   256         /* consecutive page numbers handed to the backend at once */

/* The memory manager's side: 0 on success. */
struct balloon_backend {
	void *ctx;
	/* The guest gave pages [pfn, pfn + n) up (n <= BALLOON_RUN_MAX): done[i]
	 * set for each the backend took; returns how many it took. */
	unsigned (*inflate)(void *ctx, uint32_t pfn, uint32_t n, uint8_t *done);
	int (*deflate)(void *ctx, uint32_t pfn);                  /* ... and takes it back */
	int (*report)(void *ctx, uint64_t gpa, uint64_t len);     /* free pages the guest reported */
};

struct virtio_balloon {
	struct virtio_pci vp;
	struct balloon_backend be;
	uint32_t npages;              /* pages of guest RAM: the most a target may be */
	uint32_t pfn_end;             /* one past the highest page number of RAM (a hole may lie below) */
	uint64_t *held;               /* bitmap by page number: pages in the balloon */
	uint32_t pfns[BALLOON_PFNS_MAX]; /* the chain being taken, checked whole before any of it is done */
	uint32_t num_pages;           /* the target */
	uint32_t actual;              /* as the driver reports it */
	uint64_t ballooned;           /* pages in the balloon now (MCTLSZ) */
	uint64_t inflated, deflated, reported_bytes;   /* cumulative */
	uint64_t stats[BALLOON_STAT_TAGS];
	uint32_t stats_seen;          /* bitmap of tags the driver has reported */
	uint64_t stats_updates;
	int stats_held;               /* the driver's stats buffer is with us */
	uint16_t stats_head;
};

/* npages of RAM at page numbers below pfn_end (the backend turns away those in a hole). */
int virtio_balloon_init(struct virtio_balloon *b, uint32_t npages, uint32_t pfn_end,
			const struct balloon_backend *be, const struct vq_mem *mem, uint64_t bar_addr);
void virtio_balloon_destroy(struct virtio_balloon *b);

/* A new target (pages the guest should give up): the driver hears of it by a config interrupt. */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages);

/* Ask the driver for fresh stats (hand its buffer back), if it gave us one: 1 if asked. */
int virtio_balloon_request_stats(struct virtio_balloon *b);

#endif
