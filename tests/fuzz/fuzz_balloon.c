/*
 * libFuzzer harness: the virtio-balloon device on PCI bus 0, driven by
 * whatever the input says a guest does: configuration-space accesses
 * through ports 0xCF8/0xCFC, BAR accesses (common configuration, ISR,
 * device configuration, notifications), writes anywhere in guest RAM
 * (descriptor tables, rings, page-number buffers, stats), host-side
 * target changes and stats requests.  One opcode also performs a proper
 * driver start with queues at known places, so the fuzzer reaches the
 * queue processing without a corpus.  Besides what ASan and UBSan catch,
 * the harness aborts if the device ever acts on memory that is not the
 * guest's (a page number or a reported range outside RAM), or loses
 * count of the pages in its balloon.
 */
#include "tests/lib/flat_ram.h"
#include "vmm/pci.h"
#include "vmm/virtio_balloon.h"
#include "vmm/virtio_pci.h"
#include "vmm/virtq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAM_SIZE (256u << 10)
#define NPAGES   (RAM_SIZE / 4096)
#define BAR      0x8000000000ULL
#define SLOT     1

static uint8_t ram[RAM_SIZE];

/*
 * The memory manager's side, which keeps its own record of the balloon:
 * a page outside the guest's RAM, a run longer than promised, a page
 * given that the backend holds already or taken back that it does not
 * hold is a bug in the device.  It turns some pages away (as busy pages
 * are), so the device's record of what it holds is put to the test.
 */
static uint8_t in_balloon[NPAGES];

static unsigned be_inflate(void *ctx, uint32_t pfn, uint32_t n, uint8_t *done)
{
	unsigned got = 0;

	(void)ctx;
	if (!n || n > BALLOON_RUN_MAX || pfn >= NPAGES || n > NPAGES - pfn)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		if (in_balloon[pfn + i])
			abort();
		done[i] = (pfn + i) % 7 != 3;
		in_balloon[pfn + i] = done[i];
		got += done[i];
	}
	return got;
}

static int be_deflate(void *ctx, uint32_t pfn)
{
	(void)ctx;
	if (pfn >= NPAGES || !in_balloon[pfn])
		abort();
	in_balloon[pfn] = 0;
	return 0;
}

static int be_report(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa || gpa % 4096 || len % 4096)
		abort();
	return 0;
}

static struct flat_ram flat = { ram, RAM_SIZE };
static const struct vq_mem mem = { &flat, RAM_SIZE, flat_ram_read, flat_ram_write };
static const struct balloon_backend be = { NULL, be_inflate, be_deflate, be_report };

struct in {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct in *in, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint32_t)*in->p << (8 * i);
	return v;
}

static void bar_write(struct pci_bus *bus, unsigned off, uint32_t v, unsigned len)
{
	pci_mmio(bus, BAR + off, 1, &v, len);
}

/* The start VIRTIO 3.1.1 orders, every feature taken, queue q of 8 at 0x1000 * (1 + 3q) and on. */
static void driver_start(struct pci_bus *bus, unsigned nq)
{
	uint32_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, bar_lo = (uint32_t)BAR | 4, bar_hi = (uint32_t)(BAR >> 32);
	uint32_t addr = 0x80000000u | SLOT << 11;

	pci_io(bus, PCI_CONFIG_ADDR, 1, &(uint32_t){ addr | 0x10 }, 4);
	pci_io(bus, PCI_CONFIG_DATA, 1, &bar_lo, 4);
	pci_io(bus, PCI_CONFIG_ADDR, 1, &(uint32_t){ addr | 0x14 }, 4);
	pci_io(bus, PCI_CONFIG_DATA, 1, &bar_hi, 4);
	pci_io(bus, PCI_CONFIG_ADDR, 1, &(uint32_t){ addr | PCI_COMMAND }, 4);
	pci_io(bus, PCI_CONFIG_DATA, 1, &cmd, 2);
	bar_write(bus, VIRTIO_COMMON_STATUS, 0, 1);
	bar_write(bus, VIRTIO_COMMON_STATUS, 3, 1);
	bar_write(bus, VIRTIO_COMMON_GFSELECT, 0, 4);
	bar_write(bus, VIRTIO_COMMON_GF, 0x27, 4);
	bar_write(bus, VIRTIO_COMMON_GFSELECT, 1, 4);
	bar_write(bus, VIRTIO_COMMON_GF, 1, 4);
	bar_write(bus, VIRTIO_COMMON_STATUS, 0xb, 1);
	for (unsigned q = 0; q < nq && q < BALLOON_NQUEUES; q++) {
		bar_write(bus, VIRTIO_COMMON_Q_SELECT, q, 2);
		bar_write(bus, VIRTIO_COMMON_Q_SIZE, 8, 2);
		bar_write(bus, VIRTIO_COMMON_Q_DESCLO, 0x1000u * (1 + 3 * q), 4);
		bar_write(bus, VIRTIO_COMMON_Q_AVAILLO, 0x1000u * (2 + 3 * q), 4);
		bar_write(bus, VIRTIO_COMMON_Q_USEDLO, 0x1000u * (3 + 3 * q), 4);
		bar_write(bus, VIRTIO_COMMON_Q_ENABLE, 1, 2);
	}
	bar_write(bus, VIRTIO_COMMON_STATUS, 0xf, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pci_bus bus;
	static struct virtio_balloon bal;
	struct in in = { data, size };

	memset(ram, 0, sizeof(ram));
	memset(in_balloon, 0, sizeof(in_balloon));
	pci_bus_init(&bus);
	if (virtio_balloon_init(&bal, NPAGES, NPAGES, &be, &mem, BAR) || pci_bus_add(&bus, &bal.vp.pci, SLOT))
		abort();
	while (in.n) {
		unsigned op = take(&in, 1) % 9;
		uint32_t off = take(&in, 2), v;
		static const unsigned lens[4] = { 1, 2, 4, 8 };
		unsigned len = lens[take(&in, 1) % 4];
		uint64_t buf = 0;

		switch (op) {
		case 0: /* a BAR write */
			v = take(&in, 4);
			buf = v;
			pci_mmio(&bus, BAR + off % VIRTIO_PCI_BAR_SIZE, 1, &buf, len);
			break;
		case 1: /* a BAR read */
			pci_mmio(&bus, BAR + off % VIRTIO_PCI_BAR_SIZE, 0, &buf, len);
			break;
		case 2: /* a configuration write: the address latch, then the data port */
			v = 0x80000000u | (off & 0x1fffff);
			pci_io(&bus, PCI_CONFIG_ADDR, 1, &v, 4);
			v = take(&in, 4);
			pci_io(&bus, PCI_CONFIG_DATA + (off >> 14 & 3), 1, &v, len > 4 ? 4 : len);
			break;
		case 3: /* a configuration read */
			v = 0x80000000u | (off & 0x1fffff);
			pci_io(&bus, PCI_CONFIG_ADDR, 1, &v, 4);
			pci_io(&bus, PCI_CONFIG_DATA + (off >> 14 & 3), 0, &v, len > 4 ? 4 : len);
			break;
		case 4: { /* the guest writes its RAM: rings, descriptors, buffers */
			uint32_t at = (off * 16u) % RAM_SIZE;
			size_t n = in.n < 32 ? in.n : 32;

			if (n > RAM_SIZE - at)
				n = RAM_SIZE - at;
			memcpy(ram + at, in.p, n);
			in.p += n;
			in.n -= n;
			break;
		}
		case 5:
			virtio_balloon_set_target(&bal, off);
			break;
		case 6:
			virtio_balloon_request_stats(&bal);
			break;
		case 7:
			driver_start(&bus, 1 + off % BALLOON_NQUEUES);
			break;
		default: /* kick a queue */
			v = off % 6;
			pci_mmio(&bus, BAR + VIRTIO_PCI_NOTIFY + 4 * v, 1, &v, 2);
			break;
		}
	}
	/* The device's count and the backend's agree. */
	for (uint32_t p = 0; p < NPAGES; p++)
		bal.ballooned -= in_balloon[p];
	if (bal.ballooned)
		abort();
	virtio_balloon_destroy(&bal);
	return 0;
}
