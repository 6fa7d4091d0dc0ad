/*
 * Unit tests for the VMM's device models, on plain memory: the split
 * virtqueue, fed well-formed and hostile rings, and PCI bus 0 as the
 * guest sees it through configuration mechanism #1.
 */
#include "../lib/flat_ram.h"
#include "../../vmm/pci.h"
#include "../../vmm/virtio_balloon.h"
#include "../../vmm/virtio_pci.h"
#include "../../vmm/virtq.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

/* ---- a guest memory of 64 KiB ---------------------------------------------- */

#define RAM_SIZE 65536u
static uint8_t ram[RAM_SIZE];

static struct flat_ram flat = { ram, RAM_SIZE };
static const struct vq_mem mem = { &flat, RAM_SIZE, flat_ram_read, flat_ram_write };

/* The driver's side, as a test writes it: a queue of 8 at fixed places. */
#define QSIZE 8
#define DESC  0x1000u
#define AVAIL 0x2000u
#define USED  0x3000u

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + DESC + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Make chain `head` available as the n-th entry (n from 0). */
static void offer(uint16_t n, uint16_t head)
{
	uint16_t idx = (uint16_t)(n + 1);

	memcpy(ram + AVAIL + 4 + 2u * (n % QSIZE), &head, 2);
	memcpy(ram + AVAIL + 2, &idx, 2);
}

static struct virtq q;
static struct vq_chain c;
static struct vq_buf b[8];

static void fresh_queue(void)
{
	memset(ram, 0, sizeof(ram));
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, DESC, AVAIL, USED), 0);
}

static void pop_breaks(const char *why)
{
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), -1);
	ck_assert_int_eq(q.broken, 1);
	ck_assert_msg(strstr(q.why, why), "why: '%s', wanted '%s'", q.why, why);
	/* Broken stays broken. */
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), -1);
	ck_assert_int_eq(virtq_push(&q, &mem, 0, 0), -1);
}

START_TEST(virtq_setup_checks_the_layout)
{
	ck_assert_int_eq(virtq_setup(&q, &mem, 6, DESC, AVAIL, USED), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "power of 2"));
	ck_assert_int_eq(virtq_setup(&q, &mem, 0, DESC, AVAIL, USED), -1);
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, DESC + 8, AVAIL, USED), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "misaligned"));
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, DESC, AVAIL, RAM_SIZE - 8), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "outside guest RAM"));
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, UINT64_MAX - 15, AVAIL, USED), -1);
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, DESC, AVAIL, USED), 0);
}
END_TEST

START_TEST(virtq_takes_chains_and_gives_them_back)
{
	uint16_t used_idx;
	uint32_t id, len;

	fresh_queue();
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 0); /* empty */
	/* Chain 2 -> 5: 100 readable bytes, then 200 writable ones. */
	desc(2, 0x8000, 100, VIRTQ_DESC_F_NEXT, 5);
	desc(5, 0x9000, 200, VIRTQ_DESC_F_WRITE, 0);
	offer(0, 2);
	desc(7, 0xa000, 4096, 0, 0);
	offer(1, 7);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 1);
	ck_assert_uint_eq(c.head, 2);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_uint_eq(c.readable, 100);
	ck_assert_uint_eq(c.writable, 200);
	ck_assert_uint_eq(b[0].gpa, 0x8000);
	ck_assert_int_eq(b[0].write, 0);
	ck_assert_uint_eq(b[1].gpa, 0x9000);
	ck_assert_int_eq(b[1].write, 1);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 1);
	ck_assert_uint_eq(c.head, 7);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 0);
	ck_assert_int_eq(virtq_push(&q, &mem, 2, 150), 0);
	memcpy(&used_idx, ram + USED + 2, 2);
	memcpy(&id, ram + USED + 4, 4);
	memcpy(&len, ram + USED + 8, 4);
	ck_assert_uint_eq(used_idx, 1);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 150);
	/* The ring wraps: 20 more chains through a queue of 8. */
	for (uint16_t n = 2; n < 22; n++) {
		desc(n % QSIZE, 0x8000, 8, 0, 0);
		offer(n, n % QSIZE);
		ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 1);
		ck_assert_uint_eq(c.head, n % QSIZE);
		ck_assert_int_eq(virtq_push(&q, &mem, c.head, 0), 0);
	}
	ck_assert_int_eq(q.broken, 0);
}
END_TEST

START_TEST(virtq_breaks_on_a_loop)
{
	fresh_queue();
	desc(0, 0x8000, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x8000, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0, 0);
	pop_breaks("loops");
}
END_TEST

START_TEST(virtq_breaks_on_a_self_loop)
{
	fresh_queue();
	desc(3, 0x8000, 8, VIRTQ_DESC_F_NEXT, 3);
	offer(0, 3);
	pop_breaks("loops");
}
END_TEST

START_TEST(virtq_breaks_on_buffers_outside_ram)
{
	fresh_queue();
	desc(0, RAM_SIZE - 4, 8, 0, 0);
	offer(0, 0);
	pop_breaks("outside guest RAM");
	fresh_queue();
	desc(0, UINT64_MAX - 3, 8, 0, 0); /* wraps around */
	offer(0, 0);
	pop_breaks("outside guest RAM");
}
END_TEST

START_TEST(virtq_breaks_on_a_huge_length)
{
	fresh_queue();
	desc(0, 0x8000, 0xffffffffu, 0, 0);
	offer(0, 0);
	pop_breaks("outside guest RAM");
	fresh_queue();
	desc(0, 0x8000, 0x1000, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x8000, 0x1000, 0, 0);
	offer(0, 0);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 0x1800), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "longer than"));
}
END_TEST

START_TEST(virtq_breaks_on_bad_indexes)
{
	uint16_t idx = 9;

	fresh_queue();
	offer(0, 8); /* head outside a queue of 8 */
	pop_breaks("outside the queue");
	fresh_queue();
	desc(0, 0x8000, 8, VIRTQ_DESC_F_NEXT, 200);
	offer(0, 0);
	pop_breaks("next 200");
	fresh_queue();
	memcpy(ram + AVAIL + 2, &idx, 2); /* 9 available in a queue of 8 */
	pop_breaks("claims 9 buffers");
}
END_TEST

START_TEST(virtq_breaks_on_what_the_device_cannot_take)
{
	fresh_queue();
	desc(0, 0x8000, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x8000, 8, 0, 0);
	offer(0, 0);
	pop_breaks("readable buffer after a writable");
	fresh_queue();
	desc(0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
	pop_breaks("indirect");
	fresh_queue();
	for (uint16_t i = 0; i < 4; i++)
		desc(i, 0x8000, 8, i < 3 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0, 0);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 3, 1 << 20), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "more than 3 buffers"));
}
END_TEST

/* ---- PCI ------------------------------------------------------------------ */

static uint32_t cfg_read(struct pci_bus *bus, unsigned slot, unsigned reg, unsigned len)
{
	uint32_t a = 0x80000000u | slot << 11 | (reg & 0xfc), v = 0;

	ck_assert_int_eq(pci_io(bus, PCI_CONFIG_ADDR, 1, &a, 4), 1);
	ck_assert_int_eq(pci_io(bus, (uint16_t)(PCI_CONFIG_DATA + (reg & 3)), 0, &v, len), 1);
	return v;
}

static void cfg_write(struct pci_bus *bus, unsigned slot, unsigned reg, uint32_t v, unsigned len)
{
	uint32_t a = 0x80000000u | slot << 11 | (reg & 0xfc);

	ck_assert_int_eq(pci_io(bus, PCI_CONFIG_ADDR, 1, &a, 4), 1);
	ck_assert_int_eq(pci_io(bus, (uint16_t)(PCI_CONFIG_DATA + (reg & 3)), 1, &v, len), 1);
}

START_TEST(pci_host_bridge_and_empty_slots)
{
	struct pci_bus bus;
	uint32_t a = 0x00010000u, v; /* bus 1, latch disabled */

	pci_bus_init(&bus);
	ck_assert_uint_eq(cfg_read(&bus, 0, PCI_VENDOR_ID, 4), 0x00081b36);
	ck_assert_uint_eq(cfg_read(&bus, 0, PCI_REVISION, 4) >> 8, 0x060000);
	ck_assert_uint_eq(cfg_read(&bus, 0, PCI_CLASS_PROG, 4), 0xffffffff);             /* a dword that crosses a dword: refused */
	ck_assert_uint_eq(cfg_read(&bus, 0, PCI_HEADER_TYPE, 1), 0);
	ck_assert_uint_eq(cfg_read(&bus, 0, PCI_DEVICE_ID, 2), 0x0008);
	ck_assert_uint_eq(cfg_read(&bus, 5, PCI_VENDOR_ID, 4), 0xffffffff);   /* empty slot */
	ck_assert_int_eq(pci_io(&bus, PCI_CONFIG_ADDR, 1, &a, 4), 1);
	ck_assert_int_eq(pci_io(&bus, PCI_CONFIG_DATA, 0, &v, 4), 1);
	ck_assert_uint_eq(v, 0xffffffff);                                     /* disabled latch */
	a = 0x80010000u;
	ck_assert_int_eq(pci_io(&bus, PCI_CONFIG_ADDR, 1, &a, 4), 1);
	ck_assert_int_eq(pci_io(&bus, PCI_CONFIG_DATA, 0, &v, 4), 1);
	ck_assert_uint_eq(v, 0xffffffff);                                     /* bus 1 */
	ck_assert_int_eq(pci_io(&bus, 0x80, 0, &v, 1), 0);                    /* not our port */
	/* IDs are read-only. */
	cfg_write(&bus, 0, PCI_VENDOR_ID, 0x12345678, 4);
	ck_assert_uint_eq(cfg_read(&bus, 0, PCI_VENDOR_ID, 4), 0x00081b36);
}
END_TEST

static unsigned bar_reads, bar_writes;
static uint64_t last_off;

static void t_bar_read(struct pci_dev *d, int bar, uint64_t off, void *data, unsigned len)
{
	(void)d;
	(void)bar;
	bar_reads++;
	last_off = off;
	memset(data, 0xab, len);
}

static void t_bar_write(struct pci_dev *d, int bar, uint64_t off, const void *data, unsigned len)
{
	(void)d;
	(void)bar;
	(void)data;
	(void)len;
	bar_writes++;
	last_off = off;
}

static const struct pci_bar_ops t_ops = { t_bar_read, t_bar_write, NULL };

START_TEST(pci_bars_size_move_and_decode)
{
	struct pci_bus bus;
	struct pci_dev d;
	uint8_t buf[4];

	pci_bus_init(&bus);
	pci_dev_init(&d, 0x1af4, 0x1045, 1, 0xff0000, 0x1af4, 0x0040);
	d.ops = &t_ops;
	ck_assert_int_eq(pci_add_bar(&d, 0, 0x4000, 1, 0xfe000000), 0);
	ck_assert_int_eq(pci_add_bar(&d, 1, 0x3000, 0, 0), -1);   /* not a power of 2 */
	ck_assert_int_eq(pci_add_bar(&d, 2, 0x4000, 1, 0x1000), -1); /* misaligned */
	ck_assert_int_eq(pci_bus_add(&bus, &d, 3), 0);
	ck_assert_int_eq(pci_bus_add(&bus, &d, 3), -1);
	ck_assert_int_eq(pci_bus_add(&bus, &d, 32), -1);
	ck_assert_uint_eq(cfg_read(&bus, 3, PCI_INT_PIN, 1), 1);
	/* Sizing, as firmware and Linux do it: all ones, read back, restore. */
	cfg_write(&bus, 3, PCI_BAR0, 0xffffffff, 4);
	cfg_write(&bus, 3, PCI_BAR0 + 4, 0xffffffff, 4);
	ck_assert_uint_eq(cfg_read(&bus, 3, PCI_BAR0, 4), 0xffffc004);  /* 16 KiB, 64-bit memory */
	ck_assert_uint_eq(cfg_read(&bus, 3, PCI_BAR0 + 4, 4), 0xffffffff);
	cfg_write(&bus, 3, PCI_BAR0, 0xc0000000, 4);
	cfg_write(&bus, 3, PCI_BAR0 + 4, 0x1, 4);
	/* Memory decoding off: the BAR decodes nothing. */
	ck_assert_uint_eq(pci_bar_addr(&d, 0), 0);
	ck_assert_int_eq(pci_mmio(&bus, 0x1c0000010ULL, 0, buf, 4), 0);
	cfg_write(&bus, 3, PCI_COMMAND, PCI_COMMAND_MEMORY | 0xf800, 2);  /* reserved bits stay 0 */
	ck_assert_uint_eq(cfg_read(&bus, 3, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	ck_assert_uint_eq(pci_bar_addr(&d, 0), 0x1c0000000ULL);
	ck_assert_int_eq(pci_mmio(&bus, 0x1c0000010ULL, 0, buf, 4), 1);
	ck_assert_uint_eq(last_off, 0x10);
	ck_assert_uint_eq(buf[0], 0xab);
	ck_assert_int_eq(pci_mmio(&bus, 0x1c0003ffcULL, 1, buf, 4), 1);
	ck_assert_uint_eq(last_off, 0x3ffc);
	ck_assert_uint_eq(bar_writes, 1);
	ck_assert_int_eq(pci_mmio(&bus, 0x1c0003ffeULL, 1, buf, 4), 0);   /* runs past the BAR */
	ck_assert_int_eq(pci_mmio(&bus, 0x1c0004000ULL, 0, buf, 4), 0);
	/* INTx: the status bit, masked by the command register's disable bit. */
	pci_set_intx(&d, 1);
	ck_assert_int_eq(pci_intx_asserted(&d), 1);
	ck_assert_uint_eq(cfg_read(&bus, 3, PCI_STATUS, 2) & PCI_STATUS_INTR, PCI_STATUS_INTR);
	cfg_write(&bus, 3, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_OFF, 2);
	ck_assert_int_eq(pci_intx_asserted(&d), 0);
}
END_TEST

START_TEST(pci_capabilities_chain)
{
	struct pci_bus bus;
	struct pci_dev d;
	uint8_t cap1[16] = { PCI_CAP_ID_VNDR, 0, 16, 1 }, cap2[20] = { PCI_CAP_ID_VNDR, 0, 20, 2 };
	unsigned at, n = 0;

	pci_bus_init(&bus);
	pci_dev_init(&d, 0x1af4, 0x1045, 1, 0xff0000, 0x1af4, 0x0040);
	ck_assert_uint_eq(pci_add_cap(&d, cap1, sizeof(cap1)), 0x40);
	ck_assert_uint_eq(pci_add_cap(&d, cap2, sizeof(cap2)), 0x50);
	ck_assert_int_eq(pci_bus_add(&bus, &d, 1), 0);
	ck_assert_uint_eq(cfg_read(&bus, 1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
	for (at = cfg_read(&bus, 1, PCI_CAP_PTR, 1); at; at = cfg_read(&bus, 1, at + 1, 1)) {
		ck_assert_uint_eq(cfg_read(&bus, 1, at, 1), PCI_CAP_ID_VNDR);
		ck_assert_uint_eq(cfg_read(&bus, 1, at + 3, 1), ++n);
		ck_assert_uint_lt(n, 3);
	}
	ck_assert_uint_eq(n, 2);
	/* A capability that does not fit is refused. */
	{
		uint8_t big[200] = { PCI_CAP_ID_VNDR };
		ck_assert_uint_eq(pci_add_cap(&d, big, sizeof(big)), 0);
	}
}
END_TEST

/* ---- virtio-pci modern transport -------------------------------------------------- */

#define VBAR 0x100000000ULL
static struct pci_bus vbus;
static struct virtio_pci vp;
static unsigned notified[4], irq_level, resets, oks;
static uint8_t devcfg[8];

static void t_notify(struct virtio_pci *v, unsigned qn)
{
	(void)v;
	notified[qn]++;
}

static void t_cfg_read(struct virtio_pci *v, unsigned off, void *data, unsigned len)
{
	(void)v;
	memcpy(data, devcfg + off, len);
}

static void t_cfg_write(struct virtio_pci *v, unsigned off, const void *data, unsigned len)
{
	(void)v;
	memcpy(devcfg + off, data, len);
}

static void t_reset(struct virtio_pci *v)
{
	(void)v;
	resets++;
}

static void t_ok(struct virtio_pci *v)
{
	(void)v;
	oks++;
}

static void t_irq(struct virtio_pci *v, int level)
{
	(void)v;
	irq_level = (unsigned)level;
}

static const struct virtio_dev_ops t_dev = {
	.device_id = 5, .features = 1u << 1 | 1u << 5, .nqueues = 3, .queue_max = 8, .config_size = 8,
	.notify = t_notify, .config_read = t_cfg_read, .config_write = t_cfg_write, .reset = t_reset,
	.driver_ok = t_ok,
};

static uint32_t vr(unsigned off, unsigned len)
{
	uint32_t v = 0;

	ck_assert_int_eq(pci_mmio(&vbus, VBAR + off, 0, &v, len), 1);
	return v;
}

static void vw(unsigned off, uint32_t v, unsigned len)
{
	ck_assert_int_eq(pci_mmio(&vbus, VBAR + off, 1, &v, len), 1);
}

static void vp_open(void)
{
	memset(ram, 0, sizeof(ram));
	memset(notified, 0, sizeof(notified));
	irq_level = resets = oks = 0;
	pci_bus_init(&vbus);
	ck_assert_int_eq(virtio_pci_init(&vp, &t_dev, NULL, &mem, VBAR), 0);
	vp.irq = t_irq;
	ck_assert_int_eq(pci_bus_add(&vbus, &vp.pci, 2), 0);
	cfg_write(&vbus, 2, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

/* The config offset of the PCI configuration access capability (cfg_type 5), 0 if none. */
static unsigned vp_cfg_cap(void)
{
	for (unsigned at = vp.pci.cfg[PCI_CAP_PTR]; at; at = vp.pci.cfg[at + 1])
		if (vp.pci.cfg[at] == PCI_CAP_ID_VNDR && vp.pci.cfg[at + 3] == 5)
			return at;
	return 0;
}

/* The driver's start, as VIRTIO 3.1.1 orders it; returns the status it reads back. */
static uint32_t negotiate(uint64_t features)
{
	vw(VIRTIO_COMMON_STATUS, 0, 1);
	vw(VIRTIO_COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	vw(VIRTIO_COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	vw(VIRTIO_COMMON_GFSELECT, 0, 4);
	vw(VIRTIO_COMMON_GF, (uint32_t)features, 4);
	vw(VIRTIO_COMMON_GFSELECT, 1, 4);
	vw(VIRTIO_COMMON_GF, (uint32_t)(features >> 32), 4);
	vw(VIRTIO_COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
	return vr(VIRTIO_COMMON_STATUS, 1);
}

START_TEST(virtio_pci_announces_its_regions)
{
	unsigned types = 0;

	vp_open();
	ck_assert_uint_eq(cfg_read(&vbus, 2, PCI_VENDOR_ID, 4), 0x10451af4);
	ck_assert_uint_eq(cfg_read(&vbus, 2, PCI_REVISION, 1), 1);
	ck_assert_uint_ge(cfg_read(&vbus, 2, PCI_SUBSYS_ID, 2), 0x40);
	for (unsigned at = cfg_read(&vbus, 2, PCI_CAP_PTR, 1); at; at = cfg_read(&vbus, 2, at + 1, 1)) {
		unsigned type = cfg_read(&vbus, 2, at + 3, 1), off = cfg_read(&vbus, 2, at + 8, 4);
		ck_assert_uint_eq(cfg_read(&vbus, 2, at, 1), PCI_CAP_ID_VNDR);
		ck_assert_uint_eq(cfg_read(&vbus, 2, at + 4, 1), 0); /* BAR 0 */
		types |= 1u << type;
		if (type == 1)
			ck_assert_uint_eq(off, VIRTIO_PCI_COMMON);
		if (type == 2) {
			ck_assert_uint_eq(cfg_read(&vbus, 2, at + 2, 1), 20);
			ck_assert_uint_eq(off, VIRTIO_PCI_NOTIFY);
			ck_assert_uint_eq(cfg_read(&vbus, 2, at + 16, 4), VIRTIO_PCI_NOTIFY_MULT);
		}
		if (type == 3)
			ck_assert_uint_eq(off, VIRTIO_PCI_ISR);
		if (type == 4)
			ck_assert_uint_eq(cfg_read(&vbus, 2, at + 12, 4), 8);
		if (type == 5)
			ck_assert_uint_eq(cfg_read(&vbus, 2, at + 2, 1), 20);
	}
	ck_assert_uint_eq(types, 0x3e);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_NUMQ, 2), 3);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}
END_TEST

/* The PCI configuration access capability: BAR 0 through config space alone. */
START_TEST(virtio_pci_reaches_its_bar_through_config_space)
{
	unsigned at;

	vp_open();
	at = vp_cfg_cap();
	ck_assert_uint_ne(at, 0);
	cfg_write(&vbus, 2, at + 4, 0, 1);                          /* bar 0 */
	cfg_write(&vbus, 2, at + 8, VIRTIO_COMMON_NUMQ, 4);          /* offset */
	cfg_write(&vbus, 2, at + 12, 2, 4);                          /* length */
	ck_assert_uint_eq(cfg_read(&vbus, 2, at + 16, 2), 3);       /* num_queues */
	cfg_write(&vbus, 2, at + 8, VIRTIO_COMMON_STATUS, 4);
	cfg_write(&vbus, 2, at + 12, 1, 4);
	cfg_write(&vbus, 2, at + 16, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_STATUS, 1), VIRTIO_STATUS_ACKNOWLEDGE);
	/* Outside the BAR, or a length the window cannot hold: nothing happens. */
	cfg_write(&vbus, 2, at + 8, VIRTIO_PCI_BAR_SIZE - 1, 4);
	cfg_write(&vbus, 2, at + 12, 4, 4);
	cfg_write(&vbus, 2, at + 16, 0xffffffff, 4);
	cfg_write(&vbus, 2, at + 12, 8, 4);
	cfg_write(&vbus, 2, at + 16, 0, 4);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_STATUS, 1), VIRTIO_STATUS_ACKNOWLEDGE);
	/* Memory decoding off does not close the window: it is config space. */
	cfg_write(&vbus, 2, PCI_COMMAND, 0, 2);
	cfg_write(&vbus, 2, at + 8, VIRTIO_COMMON_NUMQ, 4);
	cfg_write(&vbus, 2, at + 12, 2, 4);
	ck_assert_uint_eq(cfg_read(&vbus, 2, at + 16, 2), 3);
}
END_TEST

START_TEST(virtio_pci_negotiates_features)
{
	vp_open();
	vw(VIRTIO_COMMON_DFSELECT, 0, 4);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_DF, 4), 1u << 1 | 1u << 5);
	vw(VIRTIO_COMMON_DFSELECT, 1, 4);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_DF, 4), 1);           /* VERSION_1 */
	/* Without VERSION_1 (a legacy driver), and with a feature not offered: refused. */
	ck_assert_uint_eq(negotiate(1u << 1) & VIRTIO_STATUS_FEATURES_OK, 0);
	ck_assert_uint_eq(negotiate(1ULL << 32 | 1u << 3) & VIRTIO_STATUS_FEATURES_OK, 0);
	ck_assert_uint_eq(negotiate(1ULL << 32 | 1u << 5) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
	ck_assert_int_eq(virtio_pci_has(&vp, 5), 1);
	ck_assert_int_eq(virtio_pci_has(&vp, 1), 0);
	/* Features are fixed once accepted. */
	vw(VIRTIO_COMMON_GFSELECT, 0, 4);
	vw(VIRTIO_COMMON_GF, 1u << 1, 4);
	ck_assert_int_eq(virtio_pci_has(&vp, 1), 0);
	ck_assert_uint_ge(resets, 3);
}
END_TEST

START_TEST(virtio_pci_sets_queues_up_and_takes_kicks)
{
	vp_open();
	ck_assert_uint_eq(negotiate(1ULL << 32) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
	vw(VIRTIO_COMMON_Q_SELECT, 1, 2);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_Q_SIZE, 2), 8);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_Q_NOFF, 2), 1);
	vw(VIRTIO_COMMON_Q_SIZE, 4, 2);
	vw(VIRTIO_COMMON_Q_DESCLO, DESC, 4);
	vw(VIRTIO_COMMON_Q_DESCHI, 0, 4);
	vw(VIRTIO_COMMON_Q_AVAILLO, AVAIL, 4);
	vw(VIRTIO_COMMON_Q_USEDLO, USED, 4);
	vw(VIRTIO_COMMON_Q_ENABLE, 1, 2);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_Q_ENABLE, 2), 1);
	/* Once enabled, its layout is fixed. */
	vw(VIRTIO_COMMON_Q_DESCLO, 0x5000, 4);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_Q_DESCLO, 4), DESC);
	/* A queue past the last reads as size 0. */
	vw(VIRTIO_COMMON_Q_SELECT, 3, 2);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_Q_SIZE, 2), 0);
	ck_assert_ptr_null(virtio_pci_queue(&vp, 1)); /* not before DRIVER_OK */
	vw(VIRTIO_COMMON_STATUS, 0xf, 1);
	ck_assert_uint_eq(oks, 1);
	ck_assert_ptr_nonnull(virtio_pci_queue(&vp, 1));
	ck_assert_ptr_null(virtio_pci_queue(&vp, 0));  /* never enabled */
	vw(VIRTIO_PCI_NOTIFY + 4, 1, 2);
	vw(VIRTIO_PCI_NOTIFY + 0, 0, 2);
	ck_assert_uint_eq(notified[1], 1);
	ck_assert_uint_eq(notified[0], 0);
	/* Used buffers: the line goes up, reading the ISR says why and lowers it. */
	virtio_pci_interrupt(&vp, VIRTIO_ISR_QUEUE);
	ck_assert_uint_eq(irq_level, 1);
	ck_assert_uint_eq(vr(VIRTIO_PCI_ISR, 1), VIRTIO_ISR_QUEUE);
	ck_assert_uint_eq(irq_level, 0);
	ck_assert_uint_eq(vr(VIRTIO_PCI_ISR, 1), 0);
	/* Device configuration, within its 8 bytes only. */
	vw(VIRTIO_PCI_DEVICE + 4, 0x1234, 4);
	ck_assert_uint_eq(vr(VIRTIO_PCI_DEVICE + 4, 4), 0x1234);
	ck_assert_uint_eq(vr(VIRTIO_PCI_DEVICE + 6, 4), 0);      /* runs past: reads 0 */
	virtio_pci_config_changed(&vp);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_CFGGEN, 1), 1);
	ck_assert_uint_eq(vr(VIRTIO_PCI_ISR, 1), VIRTIO_ISR_CONFIG);
}
END_TEST

START_TEST(virtio_pci_fails_a_bad_driver_until_reset)
{
	vp_open();
	negotiate(1ULL << 32);
	vw(VIRTIO_COMMON_Q_SELECT, 0, 2);
	vw(VIRTIO_COMMON_Q_SIZE, 6, 2);                              /* not a power of 2 */
	ck_assert_uint_eq(vr(VIRTIO_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, VIRTIO_STATUS_NEEDS_RESET);
	ck_assert_int_eq(vp.broken, 1);
	vw(VIRTIO_COMMON_STATUS, 0, 1);                              /* reset */
	ck_assert_int_eq(vp.broken, 0);
	negotiate(1ULL << 32);
	vw(VIRTIO_COMMON_Q_SELECT, 0, 2);
	vw(VIRTIO_COMMON_Q_DESCLO, RAM_SIZE - 16, 4);                /* ring outside RAM */
	vw(VIRTIO_COMMON_Q_ENABLE, 1, 2);
	ck_assert_int_eq(vp.broken, 1);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_Q_ENABLE, 2), 0);
	vw(VIRTIO_COMMON_STATUS, 0, 1);
	/* DRIVER_OK without FEATURES_OK. */
	vw(VIRTIO_COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK, 1);
	ck_assert_int_eq(vp.broken, 1);
	ck_assert_uint_eq(oks, 0);
}
END_TEST

/* ---- virtio-balloon ------------------------------------------------------------------ */

static struct virtio_balloon bal;
static unsigned inflates, deflates, reports;
static uint64_t report_gpa, report_len;

static unsigned runs;

/* Takes every page; counts pages and the runs they came in. */
static unsigned be_inflate(void *ctx, uint32_t pfn, uint32_t n, uint8_t *done)
{
	(void)ctx;
	(void)pfn;
	memset(done, 1, n);
	inflates += n;
	runs++;
	return n;
}

static int be_deflate(void *ctx, uint32_t pfn)
{
	(void)ctx;
	(void)pfn;
	deflates++;
	return 0;
}

static int be_report(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	reports++;
	report_gpa = gpa;
	report_len = len;
	return 0;
}

static const struct balloon_backend be = { NULL, be_inflate, be_deflate, be_report };

/* The driver's queue n: 8 entries, its three parts at 0x1000 * (4 + 3n) and on. */
struct tq {
	uint64_t desc, avail, used;
	uint16_t next; /* avail entries made */
};
static struct tq tqs[BALLOON_NQUEUES];

static void tdesc(struct tq *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + t->desc + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void tkick(unsigned qn, uint16_t head)
{
	struct tq *t = &tqs[qn];
	uint16_t idx = (uint16_t)(t->next + 1);

	memcpy(ram + t->avail + 4 + 2u * (t->next % 8), &head, 2);
	memcpy(ram + t->avail + 2, &idx, 2);
	t->next = idx;
	ck_assert_int_eq(pci_mmio(&vbus, VBAR + VIRTIO_PCI_NOTIFY + 4 * qn, 1, &qn, 2), 1);
}

static uint16_t tused(unsigned qn)
{
	uint16_t idx;

	memcpy(&idx, ram + tqs[qn].used + 2, 2);
	return idx;
}

static void balloon_open(void)
{
	memset(ram, 0, sizeof(ram));
	inflates = deflates = reports = runs = 0;
	irq_level = 0;
	pci_bus_init(&vbus);
	/* 256 pages of "RAM": the test's 64 KiB is only where the rings live. */
	ck_assert_int_eq(virtio_balloon_init(&bal, 256, 256, &be, &mem, VBAR), 0);
	bal.vp.irq = t_irq;
	ck_assert_int_eq(pci_bus_add(&vbus, &bal.vp.pci, 4), 0);
	cfg_write(&vbus, 4, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	ck_assert_uint_eq(cfg_read(&vbus, 4, PCI_DEVICE_ID, 2), 0x1045);
	ck_assert_uint_eq(negotiate(1ULL << 32 | 1u << VIRTIO_BALLOON_F_STATS_VQ | 1u << VIRTIO_BALLOON_F_PAGE_REPORTING)
			  & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
	for (unsigned qn = 0; qn < BALLOON_NQUEUES; qn++) {
		struct tq *t = &tqs[qn];
		*t = (struct tq){ 0x1000u * (4 + 3 * qn), 0x1000u * (5 + 3 * qn), 0x1000u * (6 + 3 * qn), 0 };
		vw(VIRTIO_COMMON_Q_SELECT, qn, 2);
		vw(VIRTIO_COMMON_Q_SIZE, 8, 2);
		vw(VIRTIO_COMMON_Q_DESCLO, (uint32_t)t->desc, 4);
		vw(VIRTIO_COMMON_Q_AVAILLO, (uint32_t)t->avail, 4);
		vw(VIRTIO_COMMON_Q_USEDLO, (uint32_t)t->used, 4);
		vw(VIRTIO_COMMON_Q_ENABLE, 1, 2);
	}
	vw(VIRTIO_COMMON_STATUS, 0xf, 1);
	ck_assert_int_eq(bal.vp.broken, 0);
}

static void pfns_at(uint64_t gpa, const uint32_t *pfn, unsigned n)
{
	memcpy(ram + gpa, pfn, 4u * n);
}

/* Consecutive page numbers reach the memory manager as one run (one madvise there). */
START_TEST(balloon_hands_consecutive_pages_over_in_runs)
{
	uint32_t in[16], all[256];
	unsigned n = 0;

	balloon_open();
	virtio_balloon_set_target(&bal, 256);
	for (uint32_t p = 10; p < 20; p++)
		in[n++] = p;
	in[n++] = 30, in[n++] = 31, in[n++] = 50, in[n++] = 12, in[n++] = 20;
	pfns_at(0xf000, in, n);
	tdesc(&tqs[0], 0, 0xf000, 4 * n, 0, 0);
	tkick(0, 0);
	ck_assert_uint_eq(inflates, 14);        /* 12 twice: once */
	ck_assert_uint_eq(runs, 3);             /* in order: 10-20, 30-31, 50 */
	ck_assert_uint_eq(bal.ballooned, 14);
	/* All of RAM: the pages held already split it into the runs between them. */
	for (uint32_t p = 0; p < 256; p++)
		all[p] = p;
	pfns_at(0xf000, all, 256); /* the first chain is done with */
	tdesc(&tqs[0], 1, 0xf000, 4 * 256, 0, 0);
	tkick(0, 1);
	ck_assert_uint_eq(inflates, 256);
	ck_assert_uint_eq(runs, 3 + 4);         /* 0-9, 21-29, 32-49, 51-255 */
	ck_assert_uint_eq(bal.ballooned, 256);
	ck_assert_int_eq(bal.vp.broken, 0);
}
END_TEST

START_TEST(balloon_inflates_and_deflates)
{
	static const uint32_t in[] = { 3, 4, 5, 4 }, out[] = { 4, 200 };

	balloon_open();
	virtio_balloon_set_target(&bal, 3);
	ck_assert_uint_eq(vr(VIRTIO_PCI_DEVICE, 4), 3);            /* num_pages */
	ck_assert_uint_eq(vr(VIRTIO_PCI_ISR, 1), VIRTIO_ISR_CONFIG);
	virtio_balloon_set_target(&bal, 100000);                     /* more than RAM: all of it */
	ck_assert_uint_eq(vr(VIRTIO_PCI_DEVICE, 4), 256);
	pfns_at(0xf000, in, 4);
	tdesc(&tqs[0], 0, 0xf000, 16, 0, 0);
	tkick(0, 0);
	ck_assert_uint_eq(tused(0), 1);
	ck_assert_uint_eq(inflates, 3);                              /* page 4 twice: once */
	ck_assert_uint_eq(bal.ballooned, 3);
	ck_assert_uint_eq(irq_level, 1);
	vw(VIRTIO_PCI_DEVICE + 4, 3, 4);                             /* actual */
	ck_assert_uint_eq(bal.actual, 3);
	vw(VIRTIO_PCI_DEVICE, 7, 4);                                 /* num_pages is the host's */
	ck_assert_uint_eq(bal.num_pages, 256);
	pfns_at(0xf100, out, 2);
	tdesc(&tqs[1], 0, 0xf100, 8, 0, 0);
	tkick(1, 0);
	ck_assert_uint_eq(deflates, 1);                              /* 200 was not in the balloon */
	ck_assert_uint_eq(bal.ballooned, 2);
	ck_assert_int_eq(bal.vp.broken, 0);
	/* A reset gives the rest back. */
	vw(VIRTIO_COMMON_STATUS, 0, 1);
	ck_assert_uint_eq(bal.ballooned, 0);
	ck_assert_uint_eq(deflates, 3);
	virtio_balloon_destroy(&bal);
}
END_TEST

/* VRING_AVAIL_F_NO_INTERRUPT: the driver that waits in place gets no interrupt for used buffers. */
START_TEST(balloon_honours_no_interrupt)
{
	static const uint32_t in[] = { 3 };
	uint16_t flags = VIRTQ_AVAIL_F_NO_INTERRUPT;

	balloon_open();
	virtio_balloon_set_target(&bal, 8);
	ck_assert_uint_eq(vr(VIRTIO_PCI_ISR, 1), VIRTIO_ISR_CONFIG);  /* the target's interrupt, read and gone */
	ck_assert_uint_eq(irq_level, 0);
	memcpy(ram + tqs[0].avail, &flags, 2);
	pfns_at(0xf000, in, 1);
	tdesc(&tqs[0], 0, 0xf000, 4, 0, 0);
	tkick(0, 0);
	ck_assert_uint_eq(tused(0), 1);
	ck_assert_uint_eq(inflates, 1);
	ck_assert_uint_eq(irq_level, 0);
	ck_assert_uint_eq(vr(VIRTIO_PCI_ISR, 1), 0);
	/* Flags back to 0: the next used buffer interrupts. */
	flags = 0;
	memcpy(ram + tqs[0].avail, &flags, 2);
	tkick(0, 0);
	ck_assert_uint_eq(tused(0), 2);
	ck_assert_uint_eq(irq_level, 1);
	ck_assert_uint_eq(vr(VIRTIO_PCI_ISR, 1), VIRTIO_ISR_QUEUE);
	ck_assert_uint_eq(irq_level, 0);
	virtio_balloon_destroy(&bal);
}
END_TEST

START_TEST(balloon_refuses_pages_outside_ram)
{
	static const uint32_t in[] = { 3, 256 };

	balloon_open();
	pfns_at(0xf000, in, 2);
	tdesc(&tqs[0], 0, 0xf000, 8, 0, 0);
	tkick(0, 0);
	ck_assert_int_eq(bal.vp.broken, 1);
	ck_assert_uint_eq(vr(VIRTIO_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET, VIRTIO_STATUS_NEEDS_RESET);
	ck_assert_uint_eq(tused(0), 0);
	ck_assert_uint_eq(inflates, 0);          /* page 3 neither: the chain is checked whole first */
	/* Broken: later kicks do nothing at all. */
	tdesc(&tqs[0], 1, 0xf000, 4, 0, 0);
	tkick(0, 1);
	ck_assert_uint_eq(inflates, 0);
	virtio_balloon_destroy(&bal);
}
END_TEST

START_TEST(balloon_refuses_malformed_buffers)
{
	balloon_open();
	tdesc(&tqs[0], 0, 0xf000, 6, 0, 0);                          /* not whole page numbers */
	tkick(0, 0);
	ck_assert_int_eq(bal.vp.broken, 1);
	virtio_balloon_destroy(&bal);

	balloon_open();
	tdesc(&tqs[0], 0, 0xf000, 8, VIRTQ_DESC_F_NEXT, 0);          /* a loop */
	tkick(0, 0);
	ck_assert_int_eq(bal.vp.broken, 1);
	virtio_balloon_destroy(&bal);

	balloon_open();
	tdesc(&tqs[0], 0, 0xf000, 1u << 20, 0, 0);                   /* beyond RAM */
	tkick(0, 0);
	ck_assert_int_eq(bal.vp.broken, 1);
	ck_assert_uint_eq(inflates, 0);
	virtio_balloon_destroy(&bal);

	balloon_open();
	tdesc(&tqs[2], 0, 0xf000, 15, 0, 0);                         /* stats: not 10-byte entries */
	tkick(2, 0);
	ck_assert_int_eq(bal.vp.broken, 1);
	virtio_balloon_destroy(&bal);

	balloon_open();
	tdesc(&tqs[3], 0, 0x4800, 0x1000, VIRTQ_DESC_F_WRITE, 0);   /* reported range not page-aligned */
	tkick(3, 0);
	ck_assert_int_eq(bal.vp.broken, 1);
	ck_assert_uint_eq(reports, 0);
	virtio_balloon_destroy(&bal);
}
END_TEST

START_TEST(balloon_keeps_stats_and_takes_reports)
{
	uint8_t e[20] = { 0 };
	uint64_t v0 = 111, v5 = 555;
	uint16_t t5 = 5;

	balloon_open();
	memcpy(e + 2, &v0, 8);
	memcpy(e + 10, &t5, 2);
	memcpy(e + 12, &v5, 8);
	memcpy(ram + 0xf200, e, sizeof(e));
	tdesc(&tqs[2], 0, 0xf200, 20, 0, 0);
	tkick(2, 0);
	ck_assert_uint_eq(bal.stats[0], 111);
	ck_assert_uint_eq(bal.stats[5], 555);
	ck_assert_uint_eq(bal.stats_seen, 1u << 0 | 1u << 5);
	ck_assert_uint_eq(tused(2), 0);                             /* held until the host asks */
	ck_assert_int_eq(virtio_balloon_request_stats(&bal), 1);
	ck_assert_uint_eq(tused(2), 1);
	ck_assert_int_eq(virtio_balloon_request_stats(&bal), 0);    /* nothing held now */
	tdesc(&tqs[3], 0, 0x4000, 0x2000, VIRTQ_DESC_F_WRITE, 0);
	tkick(3, 0);
	ck_assert_uint_eq(reports, 1);
	ck_assert_uint_eq(report_gpa, 0x4000);
	ck_assert_uint_eq(report_len, 0x2000);
	ck_assert_uint_eq(tused(3), 1);
	ck_assert_int_eq(bal.vp.broken, 0);
	virtio_balloon_destroy(&bal);
}
END_TEST

static Suite *devices_suite(void)
{
	Suite *s = suite_create("devices");
	TCase *tc = tcase_create("virtq");

	tcase_add_test(tc, virtq_setup_checks_the_layout);
	tcase_add_test(tc, virtq_takes_chains_and_gives_them_back);
	tcase_add_test(tc, virtq_breaks_on_a_loop);
	tcase_add_test(tc, virtq_breaks_on_a_self_loop);
	tcase_add_test(tc, virtq_breaks_on_buffers_outside_ram);
	tcase_add_test(tc, virtq_breaks_on_a_huge_length);
	tcase_add_test(tc, virtq_breaks_on_bad_indexes);
	tcase_add_test(tc, virtq_breaks_on_what_the_device_cannot_take);
	suite_add_tcase(s, tc);

	tc = tcase_create("pci");
	tcase_add_test(tc, pci_host_bridge_and_empty_slots);
	tcase_add_test(tc, pci_bars_size_move_and_decode);
	tcase_add_test(tc, pci_capabilities_chain);
	suite_add_tcase(s, tc);

	tc = tcase_create("virtio-pci");
	tcase_add_test(tc, virtio_pci_announces_its_regions);
	tcase_add_test(tc, virtio_pci_negotiates_features);
	tcase_add_test(tc, virtio_pci_reaches_its_bar_through_config_space);
	tcase_add_test(tc, virtio_pci_sets_queues_up_and_takes_kicks);
	tcase_add_test(tc, virtio_pci_fails_a_bad_driver_until_reset);
	suite_add_tcase(s, tc);

	tc = tcase_create("balloon");
	tcase_add_test(tc, balloon_inflates_and_deflates);
	tcase_add_test(tc, balloon_hands_consecutive_pages_over_in_runs);
	tcase_add_test(tc, balloon_honours_no_interrupt);
	tcase_add_test(tc, balloon_refuses_pages_outside_ram);
	tcase_add_test(tc, balloon_refuses_malformed_buffers);
	tcase_add_test(tc, balloon_keeps_stats_and_takes_reports);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(devices_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
