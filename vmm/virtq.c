#include "virtq.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Every field is little-endian, as this host is: plain loads and stores. */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static int broken(struct virtq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int broken(struct virtq *q, const char *fmt, ...)
{
	va_list ap;

	if (!q->broken) {
		va_start(ap, fmt);
		vsnprintf(q->why, sizeof(q->why), fmt, ap);
		va_end(ap);
	}
	q->broken = 1;
	return -1;
}

/* [gpa, gpa + len) inside RAM, without overflow. */
static int in_ram(const struct vq_mem *m, uint64_t gpa, uint64_t len)
{
	return gpa <= m->size && len <= m->size - gpa;
}

int virtq_setup(struct virtq *q, const struct vq_mem *m, uint16_t size, uint64_t desc, uint64_t avail,
		uint64_t used)
{
	memset(q, 0, sizeof(*q));
	if (size == 0 || (size & (size - 1)))
		return broken(q, "queue size %u is not a power of 2", size);
	q->size = size;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	if (desc % 16 || avail % 2 || used % 4)
		return broken(q, "misaligned ring (descriptors 0x%" PRIx64 ", driver 0x%" PRIx64 ", device 0x%" PRIx64 ")",
			      desc, avail, used);
	if (!in_ram(m, desc, 16ULL * size) || !in_ram(m, avail, 6 + 2ULL * size) || !in_ram(m, used, 6 + 8ULL * size))
		return broken(q, "ring outside guest RAM (descriptors 0x%" PRIx64 ", driver 0x%" PRIx64 ", device 0x%" PRIx64 ")",
			      desc, avail, used);
	return 0;
}

static int read_u16(struct virtq *q, const struct vq_mem *m, uint64_t gpa, uint16_t *v)
{
	if (m->read(m->ctx, gpa, v, sizeof(*v)))
		return broken(q, "cannot read guest memory at 0x%" PRIx64, gpa);
	return 0;
}

int virtq_pop(struct virtq *q, const struct vq_mem *m, struct vq_chain *c, struct vq_buf *bufs, unsigned max,
	      uint64_t max_bytes)
{
	uint16_t idx, head, i;
	unsigned seen = 0;
	int writable = 0;

	if (q->broken || !q->size)
		return q->broken ? -1 : 0;
	if (read_u16(q, m, q->avail + 2, &idx))
		return -1;
	if ((uint16_t)(idx - q->last_avail) == 0)
		return 0;
	if ((uint16_t)(idx - q->last_avail) > q->size)
		return broken(q, "driver claims %u buffers in a queue of %u", (uint16_t)(idx - q->last_avail), q->size);
	/* The entries the index announces were written before it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (read_u16(q, m, q->avail + 4 + 2ULL * (q->last_avail % q->size), &head))
		return -1;
	if (head >= q->size)
		return broken(q, "chain head %u is outside the queue of %u", head, q->size);

	memset(c, 0, sizeof(*c));
	c->head = head;
	for (i = head;; ) {
		struct vq_desc d;

		/* A chain visits each descriptor at most once: a longer one loops. */
		if (++seen > q->size)
			return broken(q, "descriptor chain from %u loops", head);
		if (m->read(m->ctx, q->desc + 16ULL * i, &d, sizeof(d)))
			return broken(q, "cannot read descriptor %u", i);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return broken(q, "indirect descriptor %u, a feature not offered", i);
		if (!in_ram(m, d.addr, d.len))
			return broken(q, "descriptor %u: buffer 0x%" PRIx64 "+%u is outside guest RAM", i, d.addr, d.len);
		if (d.flags & VIRTQ_DESC_F_WRITE)
			writable = 1;
		else if (writable)
			return broken(q, "descriptor %u: a readable buffer after a writable one", i);
		if (c->n == max)
			return broken(q, "chain from %u has more than %u buffers", head, max);
		if (c->readable + c->writable + d.len > max_bytes)
			return broken(q, "chain from %u is longer than %" PRIu64 " bytes", head, max_bytes);
		bufs[c->n++] = (struct vq_buf){ .gpa = d.addr, .len = d.len, .write = writable };
		if (writable)
			c->writable += d.len;
		else
			c->readable += d.len;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return broken(q, "descriptor %u: next %u is outside the queue of %u", i, d.next, q->size);
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

int virtq_push(struct virtq *q, const struct vq_mem *m, uint16_t head, uint32_t written)
{
	struct { uint32_t id, len; } e = { head, written };
	uint16_t next;

	if (q->broken || !q->size)
		return -1;
	if (m->write(m->ctx, q->used + 4 + 8ULL * (q->used_idx % q->size), &e, sizeof(e)))
		return broken(q, "cannot write the used ring");
	/* The entry is visible before the index that announces it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	next = (uint16_t)(q->used_idx + 1);
	if (m->write(m->ctx, q->used + 2, &next, sizeof(next)))
		return broken(q, "cannot write the used index");
	q->used_idx = next;
	return 0;
}

int virtq_wants_interrupt(struct virtq *q, const struct vq_mem *m)
{
	uint16_t flags;

	/*
	 * A full barrier, not a release one: the used index we stored must be
	 * visible before we load the flags.  A driver re-enabling interrupts
	 * clears NO_INTERRUPT, fences, then looks at the used index; with the
	 * store and the load reordered (x86 allows it) each side would see the
	 * other's old value, and the driver would wait for an interrupt that
	 * never comes (the spec's used buffer notification suppression).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (m->read(m->ctx, q->avail, &flags, sizeof(flags)))
		return 1;
	return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
}
