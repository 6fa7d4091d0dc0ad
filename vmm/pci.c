#include "pci.h"

#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint8_t revision, uint32_t class_code,
		  uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d, 0, sizeof(*d));
	put16(d->cfg + PCI_VENDOR_ID, vendor);
	put16(d->cfg + PCI_DEVICE_ID, device);
	d->cfg[PCI_REVISION] = revision;
	d->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	d->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	d->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	d->cfg[PCI_HEADER_TYPE] = 0x00;
	put16(d->cfg + PCI_SUBSYS_VENDOR, subsys_vendor);
	put16(d->cfg + PCI_SUBSYS_ID, subsys_id);
	/* The guest may turn memory decoding, bus mastering and INTx off and on. */
	put16(d->wmask + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_OFF);
	d->wmask[PCI_INT_LINE] = 0xff;
	d->cap_end = 0x40;
}

int pci_add_bar(struct pci_dev *d, int bar, uint64_t size, int is64, uint64_t addr)
{
	uint32_t lo;

	if (bar < 0 || bar > (is64 ? 4 : 5) || size < 4096 || (size & (size - 1)) || addr % size ||
	    (!is64 && (size > (1ULL << 31) || addr >> 32)))
		return -1;
	d->bar[bar] = (struct pci_bar){ .size = size, .is64 = is64 };
	lo = (uint32_t)addr | (is64 ? 0x4 : 0x0);     /* memory, 32- or 64-bit, not prefetchable */
	put32(d->cfg + PCI_BAR0 + 4 * bar, lo);
	put32(d->wmask + PCI_BAR0 + 4 * bar, (uint32_t)~(size - 1) & ~0xfu);
	if (is64) {
		put32(d->cfg + PCI_BAR0 + 4 * (bar + 1), (uint32_t)(addr >> 32));
		put32(d->wmask + PCI_BAR0 + 4 * (bar + 1), (uint32_t)(~(size - 1) >> 32));
	}
	return 0;
}

uint8_t pci_add_cap(struct pci_dev *d, const void *cap, uint8_t len)
{
	uint8_t at = d->cap_end;

	if (len < 2 || (unsigned)at + len > 256)
		return 0;
	memcpy(d->cfg + at, cap, len);
	d->cfg[at + 1] = 0;
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = at;
	else
		d->cfg[PCI_CAP_PTR] = at;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->cap_last = at;
	d->cap_end = (uint8_t)((at + len + 3) & ~3u);
	return at;
}

void pci_set_intx(struct pci_dev *d, int level)
{
	if (level)
		d->cfg[PCI_STATUS] |= PCI_STATUS_INTR;
	else
		d->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTR;
}

int pci_intx_asserted(const struct pci_dev *d)
{
	return (d->cfg[PCI_STATUS] & PCI_STATUS_INTR) && !(d->cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_OFF >> 8));
}

void pci_bus_init(struct pci_bus *b)
{
	memset(b, 0, sizeof(*b));
	/* Red Hat's "QEMU PCIe host bridge" ID: no driver of Linux's expects quirks of it. */
	pci_dev_init(&b->host_bridge, 0x1b36, 0x0008, 0, 0x060000, 0x1af4, 0x1100);
	b->dev[0] = &b->host_bridge;
}

int pci_bus_add(struct pci_bus *b, struct pci_dev *d, int slot)
{
	if (slot < 1 || slot >= PCI_SLOTS || b->dev[slot])
		return -1;
	b->dev[slot] = d;
	d->cfg[PCI_INT_PIN] = 1; /* INTA# */
	return 0;
}

uint64_t pci_bar_addr(const struct pci_dev *d, int bar)
{
	uint64_t a;

	if (bar < 0 || bar > 5 || !d->bar[bar].size || !(d->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY))
		return 0;
	a = get32(d->cfg + PCI_BAR0 + 4 * bar) & ~0xfULL;
	if (d->bar[bar].is64)
		a |= (uint64_t)get32(d->cfg + PCI_BAR0 + 4 * (bar + 1)) << 32;
	return a;
}

/* The device and register the latch points at, or NULL (disabled, another bus or function, empty slot). */
static struct pci_dev *latched(struct pci_bus *b, unsigned *reg)
{
	uint32_t a = b->addr;

	if (!(a & 0x80000000u) || ((a >> 16) & 0xff) != 0 || ((a >> 8) & 0x7) != 0)
		return NULL;
	*reg = a & 0xfc;
	return b->dev[(a >> 11) & 0x1f];
}

int pci_io(struct pci_bus *b, uint16_t port, int write, void *data, unsigned len)
{
	struct pci_dev *d;
	unsigned reg, off;

	if (port == PCI_CONFIG_ADDR && len == 4) {
		if (write)
			memcpy(&b->addr, data, 4);
		else
			memcpy(data, &b->addr, 4);
		return 1;
	}
	if (port < PCI_CONFIG_DATA || port > PCI_CONFIG_DATA + 3)
		return 0;
	off = port - PCI_CONFIG_DATA;
	if ((len != 1 && len != 2 && len != 4) || off + len > 4) {
		if (!write)
			memset(data, 0xff, len);
		return 1; /* a split access: ignored, as hardware would not make one */
	}
	d = latched(b, &reg);
	if (!d) {
		if (!write)
			memset(data, 0xff, len);
		return 1;
	}
	reg += off;
	int hooked = d->ops && d->ops->config && reg < d->hook_hi && reg + len > d->hook_lo;
	if (!write) {
		if (hooked)
			d->ops->config(d, reg, len, 0);
		memcpy(data, d->cfg + reg, len);
		return 1;
	}
	for (unsigned i = 0; i < len; i++) {
		uint8_t m = d->wmask[reg + i], v = ((const uint8_t *)data)[i];
		d->cfg[reg + i] = (uint8_t)((d->cfg[reg + i] & ~m) | (v & m));
	}
	if (hooked)
		d->ops->config(d, reg, len, 1);
	return 1;
}

int pci_mmio(struct pci_bus *b, uint64_t gpa, int write, void *data, unsigned len)
{
	for (int s = 1; s < PCI_SLOTS; s++) {
		struct pci_dev *d = b->dev[s];

		if (!d || !d->ops)
			continue;
		for (int i = 0; i < 6; i++) {
			uint64_t base = pci_bar_addr(d, i);

			if (!base || gpa < base || gpa - base >= d->bar[i].size || len > d->bar[i].size - (gpa - base))
				continue;
			if (write)
				d->ops->write(d, i, gpa - base, data, len);
			else
				d->ops->read(d, i, gpa - base, data, len);
			return 1;
		}
	}
	return 0;
}
