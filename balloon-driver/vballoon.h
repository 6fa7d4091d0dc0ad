/*
 * The test guest's virtio-balloon driver.  It runs in ring 3 with port
 * I/O alone: it finds the device on PCI bus 0 through configuration
 * mechanism #1 and reaches the device's BAR through the PCI configuration
 * access capability, so the guest maps no device memory.  Its queues live
 * in ordinary guest pages (RAM is identity mapped).
 *
 * Inflating takes the oldest page-cache pages first (dropping their
 * contents), then free pages, in runs of up to VB_CHUNK pages, and tells
 * the device their numbers; deflating tells the device first and then
 * gives them back to the pool (MUST_TELL_HOST honoured).  The device's
 * INTx line reaches ring 3 through the guest kernel (plat_irq_attach):
 * a configuration change (a new target) or a returned stats buffer shows
 * as a counter going up, and vballoon_service does the rest.  With
 * DEFLATE_ON_OOM the driver gives pages back when an allocation would
 * otherwise fail.
 */
#ifndef MEMVISOR_BALLOON_DRIVER_VBALLOON_H
#define MEMVISOR_BALLOON_DRIVER_VBALLOON_H

#include <stdint.h>

#define VB_CHUNK 64u          /* pages taken from the pool at once */

struct vb_queue {
	uint16_t size, notify_off, avail_idx;
	uint8_t *desc;            /* desc table, avail and used rings: a page each */
	volatile uint16_t *avail;
	volatile uint16_t *used;
};

struct vb_chunk {
	uint64_t gpa;
	uint32_t pages;
};

/* One statistic, as the device reads it (VIRTIO 1.x 5.5.6.3). */
struct vb_stat {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

#define VB_NSTATS 4           /* free, total, available, caches */

struct vballoon {
	unsigned slot;            /* PCI slot of the device */
	unsigned cfgcap;          /* config offset of its PCI configuration access capability */
	unsigned irq;             /* the line the Interrupt Line register names */
	int irq_on;               /* attached: wait for interrupts rather than poll */
	uint32_t common, notify, device, isr;   /* BAR 0 offsets of those regions */
	uint32_t notify_mult;
	uint32_t features;        /* device feature bits 0-31 taken */
	struct vb_queue q[3];     /* inflate, deflate, stats */
	volatile uint64_t irqs;   /* bumped by the guest kernel on each interrupt */
	uint64_t irqs_seen;
	struct vb_stat *stats;    /* the stats buffer */
	uint16_t stats_used;      /* stats buffers the device has given back */
	uint64_t stats_sent;      /* stats updates handed over */
	int inflating;            /* the OOM hook leaves the balloon alone meanwhile */
	uint64_t from_cache, from_free, oom_pages;   /* pages taken each way, given back on OOM */
	uint32_t *pfns;           /* a page of page numbers: one request */
	struct vb_chunk *chunks;  /* what the balloon holds, in the order taken */
	uint32_t nchunks, maxchunks;
	uint64_t held;            /* pages in the balloon */
	uint64_t requests;        /* buffers handed to the device */
	/*
	 * stamp: if not 0, every page is filled with a pattern of its own (from
	 * this seed) before the host gets it, and looked at when it comes back:
	 * zeroed (the host dropped it), still ours (it kept it), or foreign,
	 * which would be another VM's old data or damage.
	 */
	uint64_t stamp;
	uint64_t back_zero, back_own, back_foreign;
};

/* Find the device and bring it up; 0, or -1 after saying why on the console. */
int vballoon_probe(struct vballoon *b);

/* The device's target (num_pages). */
uint32_t vballoon_target(struct vballoon *b);

/*
 * Whatever the device asked for since the last call: read (and so clear)
 * its ISR when an interrupt came, take the line back, and hand over fresh
 * stats if the device returned the buffer.  Returns the ISR bits (2: the
 * configuration, so the target, changed); without an interrupt line it
 * returns 2 every time, so the caller polls.
 */
unsigned vballoon_service(struct vballoon *b);

/*
 * One step toward the target: inflate up to VB_CHUNK pages, or deflate
 * the last run taken if that does not go below the target.  Returns the
 * pages moved (negative: deflated), 0 if there is nothing (more) to do
 * or the pool is empty.
 */
int64_t vballoon_step(struct vballoon *b);

/*
 * For the hostile-guest tests only: hand the device one broken request
 * (0 a descriptor loop, 1 a buffer outside RAM, 2 a 4 GiB buffer, 3 a
 * page number outside RAM, all on the inflate queue; 4 a deflate of the
 * 16 pages at gpa, which the balloon never held; 5 a second stats buffer
 * before the first was returned) and return the device status.
 */
uint32_t vballoon_send_broken(struct vballoon *b, unsigned kind, uint64_t gpa);

#endif
