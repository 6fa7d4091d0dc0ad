#include "virtio_pci.h"

#include <stdio.h>
#include <string.h>

#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_ISR    3
#define CFG_DEVICE 4
#define CFG_PCI    5

struct virtio_pci_cap {
	uint8_t cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2];
	uint32_t offset, length;
};

static void add_cap(struct virtio_pci *vp, uint8_t type, uint32_t offset, uint32_t length, int notify)
{
	struct {
		struct virtio_pci_cap cap;
		uint32_t mult;
	} c = { { PCI_CAP_ID_VNDR, 0, 0, type, 0, 0, { 0, 0 }, offset, length }, VIRTIO_PCI_NOTIFY_MULT };
	uint8_t len = notify ? sizeof(c) : sizeof(c.cap);

	c.cap.cap_len = len;
	pci_add_cap(&vp->pci, &c, len);
}

/*
 * VIRTIO_PCI_CAP_PCI_CFG, which the specification requires: a window in
 * config space onto BAR 0.  The driver writes the cap's bar, offset and
 * length, then reads or writes pci_cfg_data: no mapping of the BAR
 * needed, as a driver with port I/O alone (ours, in ring 3) wants.
 */
static void add_pci_cfg_cap(struct virtio_pci *vp)
{
	struct {
		struct virtio_pci_cap cap;
		uint8_t data[4];
	} c = { { PCI_CAP_ID_VNDR, 0, sizeof(c), CFG_PCI, 0, 0, { 0, 0 }, 0, 0 }, { 0 } };
	uint8_t at = pci_add_cap(&vp->pci, &c, sizeof(c));

	if (!at)
		return;
	vp->pci_cfg = at;
	vp->pci.wmask[at + 4] = 0xff;                     /* bar */
	memset(vp->pci.wmask + at + 8, 0xff, 4);          /* offset */
	memset(vp->pci.wmask + at + 12, 0xff, 4);         /* length */
	memset(vp->pci.wmask + at + 16, 0xff, 4);         /* pci_cfg_data */
	vp->pci.hook_lo = (uint8_t)(at + 16);
	vp->pci.hook_hi = (uint8_t)(at + 20);
}

static void bar_read(struct pci_dev *d, int bar, uint64_t off, void *data, unsigned len);
static void bar_write(struct pci_dev *d, int bar, uint64_t off, const void *data, unsigned len);
static void cfg_window(struct pci_dev *d, unsigned reg, unsigned len, int write);
static const struct pci_bar_ops bar_ops = { bar_read, bar_write, cfg_window };

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_dev_ops *ops, void *dev, const struct vq_mem *mem,
		    uint64_t bar_addr)
{
	memset(vp, 0, sizeof(*vp));
	if (ops->nqueues > VIRTIO_PCI_MAX_QUEUES || ops->config_size > 0x1000 || !ops->queue_max ||
	    (ops->queue_max & (ops->queue_max - 1)) || ops->queue_max > VIRTQ_MAX_SIZE)
		return -1;
	vp->ops = ops;
	vp->dev = dev;
	vp->mem = mem;
	/* Modern-only: device ID 0x1040 + virtio ID, revision 1; a subsystem ID of 0x40 or more. */
	pci_dev_init(&vp->pci, 0x1af4, (uint16_t)(0x1040 + ops->device_id), 1, 0xff0000, 0x1af4, 0x0040);
	vp->pci.ops = &bar_ops;
	vp->pci.ctx = vp;
	if (pci_add_bar(&vp->pci, 0, VIRTIO_PCI_BAR_SIZE, 1, bar_addr))
		return -1;
	add_cap(vp, CFG_COMMON, VIRTIO_PCI_COMMON, VIRTIO_COMMON_SIZE, 0);
	add_cap(vp, CFG_ISR, VIRTIO_PCI_ISR, 1, 0);
	add_cap(vp, CFG_DEVICE, VIRTIO_PCI_DEVICE, ops->config_size ? ops->config_size : 4, 0);
	add_cap(vp, CFG_NOTIFY, VIRTIO_PCI_NOTIFY, VIRTIO_PCI_NOTIFY_MULT * ops->nqueues, 1);
	add_pci_cfg_cap(vp);
	return 0;
}

static void reset(struct virtio_pci *vp)
{
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->status = 0;
	vp->isr = 0;
	vp->qsel = 0;
	vp->broken = 0;
	memset(vp->q, 0, sizeof(vp->q));
	if (vp->irq)
		vp->irq(vp, 0);
	pci_set_intx(&vp->pci, 0);
	if (vp->ops->reset)
		vp->ops->reset(vp);
}

void virtio_pci_fail(struct virtio_pci *vp, const char *why)
{
	char msg[256];

	if (vp->broken)
		return;
	vp->broken = 1;
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	snprintf(msg, sizeof(msg), "virtio device %u: %s; device marked broken until the driver resets it",
		 vp->ops->device_id, why);
	if (vp->log)
		vp->log(vp, msg);
	virtio_pci_config_changed(vp);
}

void virtio_pci_interrupt(struct virtio_pci *vp, uint8_t why)
{
	vp->isr |= why;
	pci_set_intx(&vp->pci, 1);
	if (vp->irq && pci_intx_asserted(&vp->pci))
		vp->irq(vp, 1);
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	vp->generation++;
	if (vp->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_pci_interrupt(vp, VIRTIO_ISR_CONFIG);
}

int virtio_pci_has(const struct virtio_pci *vp, unsigned bit)
{
	return bit < 64 && (vp->driver_features >> bit) & 1;
}

struct virtq *virtio_pci_queue(struct virtio_pci *vp, unsigned q)
{
	if (q >= vp->ops->nqueues || !vp->q[q].enable || vp->broken || !(vp->status & VIRTIO_STATUS_DRIVER_OK))
		return NULL;
	return &vp->q[q].vq;
}

/* The driver's status write: negotiation checks, and reset on 0. */
static void set_status(struct virtio_pci *vp, uint8_t s)
{
	uint64_t offered = vp->ops->features | (1ULL << VIRTIO_F_VERSION_1);

	if (s == 0) {
		reset(vp);
		return;
	}
	if ((s & VIRTIO_STATUS_FEATURES_OK) && !(vp->status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((vp->driver_features & ~offered) || !virtio_pci_has(vp, VIRTIO_F_VERSION_1)))
		s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK; /* refused: the driver sees the bit clear */
	if ((s & VIRTIO_STATUS_DRIVER_OK) && !(vp->status & VIRTIO_STATUS_DRIVER_OK)) {
		vp->status = (uint8_t)(s | (vp->status & VIRTIO_STATUS_NEEDS_RESET));
		if (!(s & VIRTIO_STATUS_FEATURES_OK))
			virtio_pci_fail(vp, "DRIVER_OK without FEATURES_OK");
		else if (vp->ops->driver_ok && !vp->broken)
			vp->ops->driver_ok(vp);
		return;
	}
	vp->status = (uint8_t)(s | (vp->status & VIRTIO_STATUS_NEEDS_RESET));
}

static void enable_queue(struct virtio_pci *vp, struct virtio_queue *q)
{
	if (virtq_setup(&q->vq, vp->mem, q->size, q->desc, q->avail, q->used)) {
		char why[200];
		snprintf(why, sizeof(why), "queue %u: %s", vp->qsel, q->vq.why);
		virtio_pci_fail(vp, why);
		return;
	}
	q->enable = 1;
}

static uint64_t common_read(struct virtio_pci *vp, unsigned off)
{
	struct virtio_queue *q = vp->qsel < vp->ops->nqueues ? &vp->q[vp->qsel] : NULL;
	uint64_t offered = vp->ops->features | (1ULL << VIRTIO_F_VERSION_1);

	switch (off) {
	case VIRTIO_COMMON_DFSELECT: return vp->dfselect;
	case VIRTIO_COMMON_DF: return vp->dfselect < 2 ? (uint32_t)(offered >> (32 * vp->dfselect)) : 0;
	case VIRTIO_COMMON_GFSELECT: return vp->gfselect;
	case VIRTIO_COMMON_GF: return vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0;
	case VIRTIO_COMMON_MSIX: return VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_COMMON_NUMQ: return vp->ops->nqueues;
	case VIRTIO_COMMON_STATUS: return vp->status;
	case VIRTIO_COMMON_CFGGEN: return vp->generation;
	case VIRTIO_COMMON_Q_SELECT: return vp->qsel;
	/* A queue that does not exist reads as size 0: the driver stops there. */
	case VIRTIO_COMMON_Q_SIZE: return q ? (q->size ? q->size : vp->ops->queue_max) : 0;
	case VIRTIO_COMMON_Q_MSIX: return VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_COMMON_Q_ENABLE: return q ? q->enable : 0;
	case VIRTIO_COMMON_Q_NOFF: return q ? vp->qsel : 0;
	case VIRTIO_COMMON_Q_DESCLO: return q ? (uint32_t)q->desc : 0;
	case VIRTIO_COMMON_Q_DESCHI: return q ? q->desc >> 32 : 0;
	case VIRTIO_COMMON_Q_AVAILLO: return q ? (uint32_t)q->avail : 0;
	case VIRTIO_COMMON_Q_AVAILHI: return q ? q->avail >> 32 : 0;
	case VIRTIO_COMMON_Q_USEDLO: return q ? (uint32_t)q->used : 0;
	case VIRTIO_COMMON_Q_USEDHI: return q ? q->used >> 32 : 0;
	default: return 0;
	}
}

static void set_lo(uint64_t *v, uint32_t lo)
{
	*v = (*v & ~0xffffffffULL) | lo;
}

static void set_hi(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffULL) | (uint64_t)hi << 32;
}

static void common_write(struct virtio_pci *vp, unsigned off, uint32_t v)
{
	struct virtio_queue *q = vp->qsel < vp->ops->nqueues ? &vp->q[vp->qsel] : NULL;
	/* Queue fields only change while the queue is off, and before DRIVER_OK. */
	int q_writable = q && !q->enable;

	switch (off) {
	case VIRTIO_COMMON_DFSELECT: vp->dfselect = v; break;
	case VIRTIO_COMMON_GFSELECT: vp->gfselect = v; break;
	case VIRTIO_COMMON_GF:
		if (vp->gfselect < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
			if (vp->gfselect == 0)
				set_lo(&vp->driver_features, v);
			else
				set_hi(&vp->driver_features, v);
		}
		break;
	case VIRTIO_COMMON_STATUS: set_status(vp, (uint8_t)v); break;
	case VIRTIO_COMMON_Q_SELECT: vp->qsel = (uint16_t)v; break;
	case VIRTIO_COMMON_Q_SIZE:
		if (!q_writable)
			break;
		if (v == 0 || v > vp->ops->queue_max || (v & (v - 1)))
			virtio_pci_fail(vp, "queue size not a power of 2 up to the maximum");
		else
			q->size = (uint16_t)v;
		break;
	case VIRTIO_COMMON_Q_ENABLE:
		if (q_writable && v == 1) {
			if (!q->size)
				q->size = vp->ops->queue_max;
			enable_queue(vp, q);
		}
		break;
	case VIRTIO_COMMON_Q_DESCLO: if (q_writable) set_lo(&q->desc, v); break;
	case VIRTIO_COMMON_Q_DESCHI: if (q_writable) set_hi(&q->desc, v); break;
	case VIRTIO_COMMON_Q_AVAILLO: if (q_writable) set_lo(&q->avail, v); break;
	case VIRTIO_COMMON_Q_AVAILHI: if (q_writable) set_hi(&q->avail, v); break;
	case VIRTIO_COMMON_Q_USEDLO: if (q_writable) set_lo(&q->used, v); break;
	case VIRTIO_COMMON_Q_USEDHI: if (q_writable) set_hi(&q->used, v); break;
	default: break; /* read-only fields and the MSI-X vectors (none offered) */
	}
}

/* Common-config fields have one natural width each; other accesses read 0 and write nothing. */
static unsigned field_width(unsigned off)
{
	switch (off) {
	case VIRTIO_COMMON_STATUS:
	case VIRTIO_COMMON_CFGGEN:
		return 1;
	case VIRTIO_COMMON_MSIX:
	case VIRTIO_COMMON_NUMQ:
	case VIRTIO_COMMON_Q_SELECT:
	case VIRTIO_COMMON_Q_SIZE:
	case VIRTIO_COMMON_Q_MSIX:
	case VIRTIO_COMMON_Q_ENABLE:
	case VIRTIO_COMMON_Q_NOFF:
		return 2;
	default:
		return off < VIRTIO_COMMON_SIZE && off % 4 == 0 ? 4 : 0;
	}
}

/* An access to pci_cfg_data: forward it to BAR 0 at the cap's offset, for the cap's length. */
static void cfg_window(struct pci_dev *d, unsigned reg, unsigned len, int write)
{
	struct virtio_pci *vp = d->ctx;
	uint8_t *cap = d->cfg + vp->pci_cfg;
	uint32_t off, n;

	(void)reg;
	(void)len;
	memcpy(&off, cap + 8, 4);
	memcpy(&n, cap + 12, 4);
	/* Only BAR 0 exists; lengths 1, 2 and 4 fit the window; the access stays inside the BAR. */
	if (cap[4] != 0 || (n != 1 && n != 2 && n != 4) || off > VIRTIO_PCI_BAR_SIZE - n)
		return;
	if (write)
		bar_write(d, 0, off, cap + 16, n);
	else
		bar_read(d, 0, off, cap + 16, n);
}

static void bar_read(struct pci_dev *d, int bar, uint64_t off, void *data, unsigned len)
{
	struct virtio_pci *vp = d->ctx;
	uint64_t v = 0;

	(void)bar;
	memset(data, 0, len);
	if (off < VIRTIO_PCI_COMMON + VIRTIO_COMMON_SIZE) {
		if (field_width((unsigned)off) == len)
			v = common_read(vp, (unsigned)off);
		else if (len == 8 && (off == VIRTIO_COMMON_Q_DESCLO || off == VIRTIO_COMMON_Q_AVAILLO ||
				      off == VIRTIO_COMMON_Q_USEDLO))
			v = common_read(vp, (unsigned)off) | common_read(vp, (unsigned)off + 4) << 32;
		memcpy(data, &v, len);
	} else if (off == VIRTIO_PCI_ISR && len == 1) {
		/* Reading says why, and takes the interrupt back. */
		*(uint8_t *)data = vp->isr;
		vp->isr = 0;
		pci_set_intx(&vp->pci, 0);
		if (vp->irq)
			vp->irq(vp, 0);
	} else if (off >= VIRTIO_PCI_DEVICE && off - VIRTIO_PCI_DEVICE + len <= vp->ops->config_size &&
		   vp->ops->config_read) {
		vp->ops->config_read(vp, (unsigned)(off - VIRTIO_PCI_DEVICE), data, len);
	}
}

static void bar_write(struct pci_dev *d, int bar, uint64_t off, const void *data, unsigned len)
{
	struct virtio_pci *vp = d->ctx;
	uint64_t v = 0;

	(void)bar;
	memcpy(&v, data, len < 8 ? len : 8);
	if (off < VIRTIO_PCI_COMMON + VIRTIO_COMMON_SIZE) {
		if (field_width((unsigned)off) == len) {
			common_write(vp, (unsigned)off, (uint32_t)v);
		} else if (len == 8 && field_width((unsigned)off) == 4) {
			common_write(vp, (unsigned)off, (uint32_t)v);
			common_write(vp, (unsigned)off + 4, (uint32_t)(v >> 32));
		}
	} else if (off >= VIRTIO_PCI_NOTIFY && off < VIRTIO_PCI_NOTIFY + VIRTIO_PCI_NOTIFY_MULT * vp->ops->nqueues) {
		unsigned qn = (unsigned)(off - VIRTIO_PCI_NOTIFY) / VIRTIO_PCI_NOTIFY_MULT;
		if (!vp->broken && virtio_pci_queue(vp, qn) && vp->ops->notify)
			vp->ops->notify(vp, qn);
	} else if (off >= VIRTIO_PCI_DEVICE && off - VIRTIO_PCI_DEVICE + len <= vp->ops->config_size &&
		   vp->ops->config_write && !vp->broken) {
		vp->ops->config_write(vp, (unsigned)(off - VIRTIO_PCI_DEVICE), data, len);
	}
}
