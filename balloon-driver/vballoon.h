/*
 * The test guest's virtio-balloon driver.  It runs in ring 3 with port
 * I/O alone: it finds the device on PCI bus 0 through configuration
 * mechanism #1 and reaches the device's BAR through the PCI configuration
 * access capability, so the guest maps no device memory.  Its queues live
 * in ordinary guest pages (RAM is identity mapped).
 *
 * Inflating takes pages from the guest kernel's free pool (in runs of up
 * to VB_CHUNK pages) and tells the device their numbers; deflating tells
 * the device first and then gives them back to the pool (MUST_TELL_HOST
 * honoured).  Interrupts are not delivered yet, so the caller polls the
 * target (vballoon_target) instead of waiting for a config interrupt.
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

struct vballoon {
	unsigned slot;            /* PCI slot of the device */
	unsigned cfgcap;          /* config offset of its PCI configuration access capability */
	uint32_t common, notify, device;   /* BAR 0 offsets of those regions */
	uint32_t notify_mult;
	struct vb_queue q[2];     /* inflate, deflate */
	uint32_t *pfns;           /* a page of page numbers: one request */
	struct vb_chunk *chunks;  /* what the balloon holds, in the order taken */
	uint32_t nchunks, maxchunks;
	uint64_t held;            /* pages in the balloon */
	uint64_t requests;        /* buffers handed to the device */
};

/* Find the device and bring it up; 0, or -1 after saying why on the console. */
int vballoon_probe(struct vballoon *b);

/* The device's target (num_pages). */
uint32_t vballoon_target(struct vballoon *b);

/*
 * One step toward the target: inflate up to VB_CHUNK pages, or deflate
 * the last run taken if that does not go below the target.  Returns the
 * pages moved (negative: deflated), 0 if there is nothing (more) to do
 * or the pool is empty.
 */
int64_t vballoon_step(struct vballoon *b);

/*
 * For the hostile-guest tests only: hand the inflate queue one broken
 * request (0 a descriptor loop, 1 a buffer outside RAM, 2 a 4 GiB
 * buffer, 3 a page number outside RAM) and return the device status.
 */
uint32_t vballoon_send_broken(struct vballoon *b, unsigned kind);

#endif
