/*
 * Split virtqueues (VIRTIO 1.x, section 2.7) from the device's side:
 * take the chains the driver made available, hand back used ones.
 *
 * Everything here comes from the guest and is checked before use: ring
 * indexes, descriptor indexes and chains (a loop, or a chain longer than
 * the queue), buffer addresses and lengths against guest RAM, and the
 * order of readable and writable buffers.  A queue that breaks a rule is
 * marked broken, with the reason, and is never touched again: the
 * device model decides what that means for the device (the balloon marks
 * itself broken and logs it once).
 *
 * Guest memory is reached through an accessor, so the same code runs on
 * guest RAM in the VMM and on a plain buffer in the unit tests.
 */
#ifndef MEMVISOR_VMM_VIRTQ_H
#define MEMVISOR_VMM_VIRTQ_H

#include <stddef.h>
#include <stdint.h>

#define VIRTQ_MAX_SIZE   32768u
#define VIRTQ_DESC_F_NEXT     1u
#define VIRTQ_DESC_F_WRITE    2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u

/* Guest physical memory as the device sees it: 0, or -1 when [gpa, gpa + len) is not RAM. */
struct vq_mem {
	void *ctx;
	uint64_t size;    /* RAM is [0, size) */
	int (*read)(void *ctx, uint64_t gpa, void *dst, size_t len);
	int (*write)(void *ctx, uint64_t gpa, const void *src, size_t len);
};

struct virtq {
	uint16_t size;          /* entries, a power of 2; 0: not set up */
	uint64_t desc, avail, used;  /* guest physical addresses of the three parts */
	uint16_t last_avail;    /* next avail ring entry to take */
	uint16_t used_idx;      /* next used ring entry to fill */
	int broken;
	char why[160];          /* what broke it */
};

/* One buffer of a chain: device-readable (write 0) or device-writable (write 1). */
struct vq_buf {
	uint64_t gpa;
	uint32_t len;
	int write;
};

/* A chain taken from the ring. */
struct vq_chain {
	uint16_t head;          /* give it back with this */
	unsigned n;             /* buffers */
	uint64_t readable, writable;  /* total bytes of each kind */
};

/*
 * Check the layout the driver set up (size a power of 2 up to
 * VIRTQ_MAX_SIZE, alignments, all three parts inside RAM) and start from
 * index 0.  0, or -1 with the queue marked broken.
 */
int virtq_setup(struct virtq *q, const struct vq_mem *m, uint16_t size, uint64_t desc, uint64_t avail,
		uint64_t used);

/*
 * Take the next available chain into bufs[0..max): 1 if one was taken,
 * 0 if the ring is empty, -1 if the queue is (now) broken.  A chain with
 * more than `max` buffers, or more than `max_bytes` in all, breaks the
 * queue: a device knows what it can use.
 */
int virtq_pop(struct virtq *q, const struct vq_mem *m, struct vq_chain *c, struct vq_buf *bufs, unsigned max,
	      uint64_t max_bytes);

/* Give chain `head` back with `written` bytes written into it: 0, or -1 (broken). */
int virtq_push(struct virtq *q, const struct vq_mem *m, uint16_t head, uint32_t written);

/*
 * Whether the driver wants an interrupt for used buffers: not when it set
 * VRING_AVAIL_F_NO_INTERRUPT (a hint the device may honour; EVENT_IDX is
 * not offered).  An unreadable flags word asks for one.
 */
int virtq_wants_interrupt(struct virtq *q, const struct vq_mem *m);

#endif
