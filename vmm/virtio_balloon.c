#include "virtio_balloon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u
#define STAT_BYTES 10u       /* le16 tag, le64 value: packed */

static struct virtio_balloon *of(struct virtio_pci *vp)
{
	return vp->dev;
}

static int held(const struct virtio_balloon *b, uint32_t pfn)
{
	return (b->held[pfn / 64] >> (pfn % 64)) & 1;
}

static void set_held(struct virtio_balloon *b, uint32_t pfn, int on)
{
	if (on)
		b->held[pfn / 64] |= 1ULL << (pfn % 64);
	else
		b->held[pfn / 64] &= ~(1ULL << (pfn % 64));
}

/* A run of consecutive page numbers on their way into the balloon. */
struct pfn_run {
	uint32_t first, n;
};

/* Hand the run to the backend; mark what it took as held. */
static void inflate_run(struct virtio_balloon *b, struct pfn_run *r)
{
	uint8_t done[BALLOON_RUN_MAX];

	if (!r->n)
		return;
	b->be.inflate(b->be.ctx, r->first, r->n, done);
	for (uint32_t i = 0; i < r->n; i++) {
		if (!done[i])
			continue; /* the memory manager keeps it as it was */
		set_held(b, r->first + i, 1);
		b->ballooned++;
		b->inflated++;
	}
	r->n = 0;
}

/* Page pfn (checked) into the balloon, by way of the run: a page given twice changes nothing. */
static void inflate_one(struct virtio_balloon *b, struct pfn_run *r, uint32_t pfn)
{
	if (r->n && pfn == r->first + r->n && r->n < BALLOON_RUN_MAX && !held(b, pfn)) {
		r->n++;
		return;
	}
	/* The run ends here: pfn starts the next, unless the balloon holds it already. */
	inflate_run(b, r);
	if (!held(b, pfn))
		*r = (struct pfn_run){ pfn, 1 };
}

static void deflate_one(struct virtio_balloon *b, uint32_t pfn)
{
	/* A page taken back unasked for changes nothing. */
	if (!held(b, pfn) || b->be.deflate(b->be.ctx, pfn))
		return;
	set_held(b, pfn, 0);
	b->ballooned--;
	b->deflated++;
}

static int by_number(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Page numbers of one chain, inflating (1) or deflating (0): 0, or -1
 * with the device failed, and then nothing done.  Inflated pages go in
 * ascending order, so that those the driver gave in any order still make
 * runs.
 */
static int take_pfns(struct virtio_balloon *b, const struct vq_chain *c, const struct vq_buf *bufs, int inflate)
{
	struct pfn_run run = { 0, 0 };
	uint32_t n = 0;
	char why[160];

	for (unsigned i = 0; i < c->n; i++) {
		uint32_t k = bufs[i].len / 4;

		/* virtq_pop held the chain to BALLOON_PFNS_MAX page numbers. */
		if (bufs[i].write || bufs[i].len % 4 || k > BALLOON_PFNS_MAX - n) {
			snprintf(why, sizeof(why), "%s buffer of %u bytes is not readable whole page numbers",
				 inflate ? "inflate" : "deflate", bufs[i].len);
			goto failed;
		}
		if (b->vp.mem->read(b->vp.mem->ctx, bufs[i].gpa, b->pfns + n, bufs[i].len)) {
			snprintf(why, sizeof(why), "cannot read %u page numbers at gpa 0x%" PRIx64, k, bufs[i].gpa);
			goto failed;
		}
		for (uint32_t j = n; j < n + k; j++)
			if (b->pfns[j] >= b->pfn_end) {
				snprintf(why, sizeof(why), "page number 0x%x is outside guest RAM (below 0x%x)",
					 b->pfns[j], b->pfn_end);
				goto failed;
			}
		n += k;
	}
	if (!inflate) {
		for (uint32_t j = 0; j < n; j++)
			deflate_one(b, b->pfns[j]);
		return 0;
	}
	qsort(b->pfns, n, sizeof(b->pfns[0]), by_number);
	for (uint32_t j = 0; j < n; j++)
		if (j == 0 || b->pfns[j] != b->pfns[j - 1])
			inflate_one(b, &run, b->pfns[j]);
	inflate_run(b, &run);
	return 0;
failed:
	virtio_pci_fail(&b->vp, why);
	return -1;
}

static void stats_take(struct virtio_balloon *b, const struct vq_chain *c, const struct vq_buf *bufs)
{
	uint8_t e[STAT_BYTES];

	if (c->n != 1 || bufs[0].write || bufs[0].len % STAT_BYTES) {
		virtio_pci_fail(&b->vp, "stats buffer is not one readable run of 10-byte entries");
		return;
	}
	for (uint32_t off = 0; off < bufs[0].len; off += STAT_BYTES) {
		uint16_t tag;
		uint64_t val;

		if (b->vp.mem->read(b->vp.mem->ctx, bufs[0].gpa + off, e, sizeof(e))) {
			virtio_pci_fail(&b->vp, "cannot read a stats entry");
			return;
		}
		memcpy(&tag, e, 2);
		memcpy(&val, e + 2, 8);
		if (tag < BALLOON_STAT_TAGS) { /* tags from later drivers: skipped */
			b->stats[tag] = val;
			b->stats_seen |= 1u << tag;
		}
	}
	b->stats_updates++;
	b->stats_held = 1;
	b->stats_head = c->head;
}

static int take_range(struct virtio_balloon *b, const struct vq_buf *buf)
{
	char why[160];

	if (buf->gpa % PAGE || buf->len % PAGE || !buf->len) {
		snprintf(why, sizeof(why), "reported range 0x%" PRIx64 "+0x%x is not whole pages", buf->gpa, buf->len);
		virtio_pci_fail(&b->vp, why);
		return -1;
	}
	if (b->be.report(b->be.ctx, buf->gpa, buf->len) == 0)
		b->reported_bytes += buf->len;
	return 0;
}

static void notify(struct virtio_pci *vp, unsigned qn)
{
	struct virtio_balloon *b = of(vp);
	/* A chain may be as long as its queue: Linux's page reporting sends up to 32 ranges in one. */
	struct vq_buf bufs[BALLOON_QUEUE_MAX];
	struct virtq *q = virtio_pci_queue(vp, qn);
	struct vq_chain c;
	int used = 0, rc;

	if (!q)
		return;
	while (!vp->broken && (rc = virtq_pop(q, vp->mem, &c, bufs, BALLOON_QUEUE_MAX,
					      qn == BALLOON_Q_REPORTING ? ~0ULL : 4ULL * BALLOON_PFNS_MAX)) == 1) {
		switch (qn) {
		case BALLOON_Q_INFLATE:
		case BALLOON_Q_DEFLATE:
			if (take_pfns(b, &c, bufs, qn == BALLOON_Q_INFLATE))
				return;
			break;
		case BALLOON_Q_STATS:
			/* Kept until the host wants the next update (virtio_balloon_request_stats). */
			if (b->stats_held) {
				virtio_pci_fail(vp, "a second stats buffer before the first was returned");
				return;
			}
			stats_take(b, &c, bufs);
			continue;
		case BALLOON_Q_REPORTING:
			for (unsigned i = 0; i < c.n; i++)
				if (take_range(b, &bufs[i]))
					return;
			break;
		}
		if (virtq_push(q, vp->mem, c.head, 0))
			break;
		used = 1;
	}
	if (rc < 0 && q->broken) {
		char why[200];
		snprintf(why, sizeof(why), "queue %u: %s", qn, q->why);
		virtio_pci_fail(vp, why);
		return;
	}
	if (used && virtq_wants_interrupt(q, vp->mem))
		virtio_pci_interrupt(vp, VIRTIO_ISR_QUEUE);
}

static void config_read(struct virtio_pci *vp, unsigned off, void *data, unsigned len)
{
	struct virtio_balloon *b = of(vp);
	uint8_t cfg[16] = { 0 };

	memcpy(cfg, &b->num_pages, 4);
	memcpy(cfg + 4, &b->actual, 4);
	memcpy(data, cfg + off, len);
}

static void config_write(struct virtio_pci *vp, unsigned off, const void *data, unsigned len)
{
	struct virtio_balloon *b = of(vp);

	/* Only `actual` is the driver's to write. */
	if (off == 4 && len == 4)
		memcpy(&b->actual, data, 4);
}

static void reset(struct virtio_pci *vp)
{
	struct virtio_balloon *b = of(vp);

	/* The pages stay in the balloon: a new driver starts from an empty
	 * balloon of its own, so they go back to the guest (zero-filled). */
	for (uint32_t p = 0; p < b->pfn_end; p++)
		if (held(b, p) && b->be.deflate(b->be.ctx, p) == 0) {
			set_held(b, p, 0);
			b->ballooned--;
			b->deflated++;
		}
	b->actual = 0;
	b->stats_held = 0;
}

/*
 * Linux primes the stats queue with its first buffer, and kicks, before it
 * sets DRIVER_OK; that kick found no live queue, so take what waits now.
 */
static void driver_ok(struct virtio_pci *vp)
{
	for (unsigned qn = 0; qn < BALLOON_NQUEUES; qn++)
		notify(vp, qn);
}

static const struct virtio_dev_ops balloon_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.features = 1u << VIRTIO_BALLOON_F_MUST_TELL_HOST | 1u << VIRTIO_BALLOON_F_STATS_VQ |
		    1u << VIRTIO_BALLOON_F_DEFLATE_ON_OOM | 1u << VIRTIO_BALLOON_F_PAGE_REPORTING,
	.nqueues = BALLOON_NQUEUES,
	.queue_max = BALLOON_QUEUE_MAX,
	.config_size = 16,
	.notify = notify,
	.driver_ok = driver_ok,
	.config_read = config_read,
	.config_write = config_write,
	.reset = reset,
};

int virtio_balloon_init(struct virtio_balloon *b, uint32_t npages, uint32_t pfn_end,
			const struct balloon_backend *be, const struct vq_mem *mem, uint64_t bar_addr)
{
	memset(b, 0, sizeof(*b));
	b->npages = npages;
	b->pfn_end = pfn_end;
	b->be = *be;
	b->held = calloc((pfn_end + 63) / 64, sizeof(uint64_t));
	if (!b->held || virtio_pci_init(&b->vp, &balloon_ops, b, mem, bar_addr))
		return -1;
	return 0;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	free(b->held);
	b->held = NULL;
}

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages)
{
	if (pages > b->npages)
		pages = b->npages;
	if (pages == b->num_pages)
		return;
	b->num_pages = pages;
	virtio_pci_config_changed(&b->vp);
}

int virtio_balloon_request_stats(struct virtio_balloon *b)
{
	struct virtq *q = virtio_pci_queue(&b->vp, BALLOON_Q_STATS);

	if (!q || !b->stats_held)
		return 0;
	b->stats_held = 0;
	if (virtq_push(q, b->vp.mem, b->stats_head, 0))
		return 0;
	virtio_pci_interrupt(&b->vp, VIRTIO_ISR_QUEUE);
	return 1;
}
