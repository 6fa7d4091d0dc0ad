#include "vballoon.h"

#include "guest/lib/io.h"
#include "guest/workloads/plat.h"

#define PAGE 4096u
#define VENDOR_VIRTIO 0x1af4u
#define DEVICE_BALLOON 0x1045u

/* Common configuration offsets and status bits (VIRTIO 1.x 4.1.4.3). */
enum {
	DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c, STATUS = 0x14, Q_SELECT = 0x16, Q_SIZE = 0x18,
	Q_ENABLE = 0x1c, Q_NOFF = 0x1e, Q_DESC = 0x20, Q_AVAIL = 0x28, Q_USED = 0x30,
};
enum { ACK = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8 };
/* Feature bits (5.5.3) and statistics tags (5.5.6.3). */
enum { F_MUST_TELL_HOST = 1u << 0, F_STATS_VQ = 1u << 1, F_DEFLATE_ON_OOM = 1u << 2 };
enum { S_MEMFREE = 4, S_MEMTOT = 5, S_AVAIL = 6, S_CACHES = 7 };
#define AVAIL_F_NO_INTERRUPT 1u
#define DESC_F_NEXT 1u

/* BAR 0 through the configuration access capability: offset, length, then the data bytes. */
static void window(struct vballoon *b, uint32_t off, unsigned len)
{
	pci_cfg_write(b->slot, b->cfgcap + 8, off);
	pci_cfg_write(b->slot, b->cfgcap + 12, len);
}

static uint32_t bar_read(struct vballoon *b, uint32_t off, unsigned len)
{
	uint32_t v;

	window(b, off, len);
	v = pci_cfg_read(b->slot, b->cfgcap + 16);
	return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

static void bar_write(struct vballoon *b, uint32_t off, unsigned len, uint32_t v)
{
	window(b, off, len);
	pci_cfg_write(b->slot, b->cfgcap + 16, v);
}

static void bar_write64(struct vballoon *b, uint32_t off, uint64_t v)
{
	bar_write(b, off, 4, (uint32_t)v);
	bar_write(b, off + 4, 4, (uint32_t)(v >> 32));
}

/* The slot of the balloon on bus 0, or -1. */
static int find(void)
{
	for (unsigned slot = 0; slot < 32; slot++)
		if (pci_cfg_read(slot, 0) == (DEVICE_BALLOON << 16 | VENDOR_VIRTIO))
			return (int)slot;
	return -1;
}

/* Read the virtio capabilities: where each region lives in BAR 0. */
static int read_caps(struct vballoon *b)
{
	unsigned seen = 0;

	for (unsigned at = pci_cfg_read(b->slot, 0x34) & 0xfc, n = 0; at && n < 48; n++) {
		uint32_t head = pci_cfg_read(b->slot, at);
		unsigned type = head >> 24 & 0xff;
		uint32_t off = pci_cfg_read(b->slot, at + 8);

		if ((head & 0xff) == 0x09 && (pci_cfg_read(b->slot, at + 4) & 0xff) == 0) {
			seen |= 1u << type;
			if (type == 1)
				b->common = off;
			else if (type == 2) {
				b->notify = off;
				b->notify_mult = pci_cfg_read(b->slot, at + 16);
			} else if (type == 3)
				b->isr = off;
			else if (type == 4)
				b->device = off;
			else if (type == 5)
				b->cfgcap = at;
		}
		at = head >> 8 & 0xfc;
	}
	return (seen & 0x3e) == 0x3e ? 0 : -1; /* common, notify, isr, device, pci-cfg */
}

static void put_desc(struct vb_queue *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = q->desc + 16u * i;

	__builtin_memcpy(d, &addr, 8);
	__builtin_memcpy(d + 8, &len, 4);
	__builtin_memcpy(d + 12, &flags, 2);
	__builtin_memcpy(d + 14, &next, 2);
}

/* Make descriptor 0 available once more and tell the device. */
static void post(struct vballoon *b, unsigned qn)
{
	struct vb_queue *q = &b->q[qn];

	q->avail[2 + q->avail_idx % q->size] = 0;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->avail[1] = ++q->avail_idx;
	bar_write(b, b->notify + q->notify_off * b->notify_mult, 2, qn);
}

static int setup_queue(struct vballoon *b, unsigned qn)
{
	struct vb_queue *q = &b->q[qn];
	uint16_t size;

	bar_write(b, b->common + Q_SELECT, 2, qn);
	size = (uint16_t)bar_read(b, b->common + Q_SIZE, 2);
	if (!size)
		return -1;
	q->size = size < 64 ? size : 64;
	q->desc = plat_alloc(PAGE);
	q->avail = plat_alloc(PAGE);
	q->used = plat_alloc(PAGE);
	if (!q->desc || !q->avail || !q->used)
		return -1;
	bar_write(b, b->common + Q_SIZE, 2, q->size);
	bar_write64(b, b->common + Q_DESC, (uint64_t)(uintptr_t)q->desc);
	bar_write64(b, b->common + Q_AVAIL, (uint64_t)(uintptr_t)q->avail);
	bar_write64(b, b->common + Q_USED, (uint64_t)(uintptr_t)q->used);
	q->notify_off = (uint16_t)bar_read(b, b->common + Q_NOFF, 2);
	/* Inflate and deflate are waited for in place; only stats need an interrupt. */
	q->avail[0] = qn == 2 ? 0 : AVAIL_F_NO_INTERRUPT;
	bar_write(b, b->common + Q_ENABLE, 2, 1);
	return bar_read(b, b->common + Q_ENABLE, 2) == 1 ? 0 : -1;
}

static void fill_stats(struct vballoon *b)
{
	uint64_t free = plat_free_bytes(), cache = plat_cache_bytes();
	const struct vb_stat st[VB_NSTATS] = {
		{ S_MEMFREE, free }, { S_MEMTOT, plat_ram_bytes() }, { S_AVAIL, free + cache }, { S_CACHES, cache },
	};

	for (unsigned i = 0; i < VB_NSTATS; i++)
		b->stats[i] = st[i];
	put_desc(&b->q[2], 0, (uint64_t)(uintptr_t)b->stats, sizeof(st), 0, 0);
	post(b, 2);
	b->stats_sent++;
}

static int oom_deflate(void *ctx, uint64_t bytes);

int vballoon_probe(struct vballoon *b)
{
	int slot = find();
	uint32_t status;

	for (unsigned i = 0; i < sizeof(*b); i++)
		((uint8_t *)b)[i] = 0;
	if (slot < 0) {
		plat_say("balloon: no virtio-balloon on PCI bus 0 (was the VMM run with --no-balloon?)");
		return -1;
	}
	b->slot = (unsigned)slot;
	if (read_caps(b)) {
		plat_say("balloon: 00:%02x.0 lacks a virtio capability it needs", b->slot);
		return -1;
	}
	/* VIRTIO 3.1.1: reset, acknowledge, negotiate, set the queues up, go. */
	bar_write(b, b->common + STATUS, 1, 0);
	bar_write(b, b->common + STATUS, 1, ACK);
	bar_write(b, b->common + STATUS, 1, ACK | DRIVER);
	bar_write(b, b->common + DFSELECT, 4, 1);
	if (!(bar_read(b, b->common + DF, 4) & 1)) {
		plat_say("balloon: the device does not offer VIRTIO_F_VERSION_1");
		return -1;
	}
	bar_write(b, b->common + DFSELECT, 4, 0);
	bar_write(b, b->common + GFSELECT, 4, 0);
	b->features = bar_read(b, b->common + DF, 4) & (F_MUST_TELL_HOST | F_STATS_VQ | F_DEFLATE_ON_OOM);
	bar_write(b, b->common + GF, 4, b->features);
	bar_write(b, b->common + GFSELECT, 4, 1);
	bar_write(b, b->common + GF, 4, 1);                                   /* VERSION_1 */
	bar_write(b, b->common + STATUS, 1, ACK | DRIVER | FEATURES_OK);
	if (!(bar_read(b, b->common + STATUS, 1) & FEATURES_OK)) {
		plat_say("balloon: the device refused our features");
		return -1;
	}
	b->pfns = plat_alloc(PAGE);
	b->maxchunks = (uint32_t)(plat_ram_bytes() / PAGE / VB_CHUNK + 1);
	b->chunks = plat_alloc((uint64_t)b->maxchunks * sizeof(struct vb_chunk));
	b->stats = plat_alloc(PAGE);
	if (!b->pfns || !b->chunks || !b->stats || setup_queue(b, 0) || setup_queue(b, 1) ||
	    ((b->features & F_STATS_VQ) && setup_queue(b, 2))) {
		plat_say("balloon: cannot set the queues up");
		return -1;
	}
	/* The line firmware gave the device; the guest kernel hands it to us. */
	b->irq = pci_cfg_read(b->slot, 0x3c) & 0xff;
	b->irq_on = plat_irq_attach(b->irq, &b->irqs) == 0;
	bar_write(b, b->common + STATUS, 1, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	status = bar_read(b, b->common + STATUS, 1);
	/* 5.5.6.3: the first stats buffer goes over at once; the device returns it to ask for more. */
	if (b->features & F_STATS_VQ)
		fill_stats(b);
	if (b->features & F_DEFLATE_ON_OOM)
		plat_on_oom(oom_deflate, b);
	plat_say("balloon: virtio-balloon at 00:%02x.0 ready: queues of %u, status 0x%x, target %u pages, "
		 "features%s%s%s, %s %u",
		 b->slot, b->q[0].size, status, vballoon_target(b), b->features & F_MUST_TELL_HOST ? " must-tell-host" : "",
		 b->features & F_STATS_VQ ? " stats" : "", b->features & F_DEFLATE_ON_OOM ? " deflate-on-oom" : "",
		 b->irq_on ? "interrupts on IRQ" : "no interrupt line: polling; IRQ", b->irq);
	return status & 0x40 ? -1 : 0; /* DEVICE_NEEDS_RESET */
}

uint32_t vballoon_target(struct vballoon *b)
{
	return bar_read(b, b->device + 0, 4);
}

unsigned vballoon_service(struct vballoon *b)
{
	unsigned isr;

	if (!b->irq_on)
		return 2;
	if (b->irqs == b->irqs_seen)
		return 0;
	b->irqs_seen = b->irqs;
	/* Reading the ISR lowers the level-triggered line; only then may it be unmasked. */
	isr = bar_read(b, b->isr, 1);
	plat_irq_unmask(b->irq);
	if ((b->features & F_STATS_VQ) && b->q[2].used[1] != b->stats_used) {
		b->stats_used = b->q[2].used[1];
		fill_stats(b);
	}
	return isr;
}

/* Hand n page numbers to queue qn and wait for the device to take them. */
static int tell(struct vballoon *b, unsigned qn, uint64_t gpa, uint32_t n)
{
	struct vb_queue *q = &b->q[qn];

	for (uint32_t i = 0; i < n; i++)
		b->pfns[i] = (uint32_t)(gpa / PAGE + i);
	put_desc(q, 0, (uint64_t)(uintptr_t)b->pfns, 4 * n, 0, 0);
	post(b, qn);
	b->requests++;
	/* The device takes the buffer while handling the notification. */
	for (unsigned spin = 0; q->used[1] != q->avail_idx; spin++)
		if (spin > 1000000)
			return -1;
	return 0;
}

uint32_t vballoon_send_broken(struct vballoon *b, unsigned kind, uint64_t gpa)
{
	struct vb_queue *q = &b->q[0];
	uint64_t pfns = (uint64_t)(uintptr_t)b->pfns;
	unsigned qn = 0;

	switch (kind) {
	case 0: /* 0 -> 1 -> 0 ... */
		put_desc(q, 0, pfns, 4, DESC_F_NEXT, 1);
		put_desc(q, 1, pfns, 4, DESC_F_NEXT, 0);
		break;
	case 1:
		put_desc(q, 0, plat_ram_bytes() + PAGE, 4, 0, 0);
		break;
	case 2:
		put_desc(q, 0, pfns, 0xffffffffu, 0, 0);
		break;
	case 3:
		b->pfns[0] = (uint32_t)(plat_ram_bytes() / PAGE + 10);
		put_desc(q, 0, pfns, 4, 0, 0);
		break;
	case 4: /* a deflate of 16 pages the balloon never held: pages the guest is using */
		qn = 1;
		for (unsigned i = 0; i < 16; i++)
			b->pfns[i] = (uint32_t)(gpa / PAGE + i);
		put_desc(&b->q[1], 0, pfns, 64, 0, 0);
		break;
	default: /* a second stats buffer while the device still holds the first */
		if (!(b->features & F_STATS_VQ))
			return bar_read(b, b->common + STATUS, 1);
		qn = 2;
		put_desc(&b->q[2], 0, (uint64_t)(uintptr_t)b->stats, VB_NSTATS * sizeof(struct vb_stat), 0, 0);
		break;
	}
	post(b, qn);
	return bar_read(b, b->common + STATUS, 1);
}

/* Pages for the balloon: the oldest cache first, then free pages; none when nothing spare is left. */
static void *take_pages(struct vballoon *b, uint32_t want, uint32_t *n)
{
	uint64_t got;
	void *p = plat_cache_take((uint64_t)want * PAGE, &got);

	if (p) {
		*n = (uint32_t)(got / PAGE);
		b->from_cache += *n;
		return p;
	}
	/* Smaller runs when the pool has no long one left. */
	b->inflating = 1;
	for (*n = want; *n && !(p = plat_alloc((uint64_t)*n * PAGE)); *n /= 2)
		;
	b->inflating = 0;
	if (p)
		b->from_free += *n;
	return p;
}

static uint64_t stamp_word(uint64_t seed, uint64_t gpa, unsigned i)
{
	uint64_t z = seed ^ (gpa + i * 8) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
	return (z ^ (z >> 29)) | 1;   /* never 0: a stamped page is never all zero */
}

static void stamp_pages(struct vballoon *b, uint64_t gpa, uint32_t pages)
{
	for (uint64_t a = gpa; a < gpa + (uint64_t)pages * PAGE; a += PAGE) {
		uint64_t *w = (uint64_t *)(uintptr_t)a;
		for (unsigned i = 0; i < PAGE / 8; i++)
			w[i] = stamp_word(b->stamp, a, i);
	}
}

/* What came back from the host: zeroed, our stamp, or anything else. */
static void check_pages(struct vballoon *b, uint64_t gpa, uint32_t pages)
{
	for (uint64_t a = gpa; a < gpa + (uint64_t)pages * PAGE; a += PAGE) {
		const uint64_t *w = (const uint64_t *)(uintptr_t)a;
		unsigned zero = 0, own = 0;

		for (unsigned i = 0; i < PAGE / 8; i++) {
			zero += w[i] == 0;
			own += w[i] == stamp_word(b->stamp, a, i);
		}
		if (zero == PAGE / 8)
			b->back_zero++;
		else if (own == PAGE / 8)
			b->back_own++;
		else
			b->back_foreign++;
	}
}

static int deflate_last(struct vballoon *b)
{
	struct vb_chunk c = b->chunks[b->nchunks - 1];

	/* Tell the host first, then use the pages again (MUST_TELL_HOST). */
	if (tell(b, 1, c.gpa, c.pages))
		return -1;
	if (b->stamp)
		check_pages(b, c.gpa, c.pages);
	b->nchunks--;
	plat_free((void *)(uintptr_t)c.gpa, (uint64_t)c.pages * PAGE);
	b->held -= c.pages;
	bar_write(b, b->device + 4, 4, (uint32_t)b->held);
	return (int)c.pages;
}

/* DEFLATE_ON_OOM: give back enough for the allocation that would fail. */
static int oom_deflate(void *ctx, uint64_t bytes)
{
	struct vballoon *b = ctx;
	uint64_t freed = 0;
	int n;

	if (b->inflating)
		return 0;
	while (freed < bytes && b->nchunks && (n = deflate_last(b)) > 0)
		freed += (uint64_t)n * PAGE;
	if (freed) {
		b->oom_pages += freed / PAGE;
		plat_say("balloon: an allocation of %lu KiB would fail: gave back %lu pages (deflate on OOM), holding %lu",
			 (unsigned long)(bytes >> 10), (unsigned long)(freed / PAGE), (unsigned long)b->held);
	}
	return freed != 0;
}

int64_t vballoon_step(struct vballoon *b)
{
	uint64_t target = vballoon_target(b);

	if (b->held < target) {
		uint32_t want = target - b->held < VB_CHUNK ? (uint32_t)(target - b->held) : VB_CHUNK, n;
		void *p;

		if (b->nchunks == b->maxchunks || !(p = take_pages(b, want, &n)))
			return 0;
		if (b->stamp)
			stamp_pages(b, (uint64_t)(uintptr_t)p, n);
		if (tell(b, 0, (uint64_t)(uintptr_t)p, n)) {
			plat_free(p, (uint64_t)n * PAGE);
			return 0;
		}
		b->chunks[b->nchunks++] = (struct vb_chunk){ (uint64_t)(uintptr_t)p, n };
		b->held += n;
		bar_write(b, b->device + 4, 4, (uint32_t)b->held); /* actual */
		return n;
	}
	if (b->held > target && b->nchunks && b->held - b->chunks[b->nchunks - 1].pages >= target) {
		int n = deflate_last(b);
		return n > 0 ? -(int64_t)n : 0;
	}
	return 0;
}
