/*
 * lspci: walk PCI bus 0 through configuration mechanism #1 from ring 3,
 * the way a driver finds its device: print each function's IDs and
 * class, size its BAR 0 (write all ones, read back, restore) and list
 * its capabilities, naming virtio's.  Nothing is changed on the way out.
 */
#include "workloads.h"

#include "abi.h"
#include "lib/io.h"
#include "plat.h"

/* BAR 0's size in bytes, 0 if there is none. */
static uint64_t bar0_size(unsigned slot, int *is64)
{
	uint32_t lo = pci_cfg_read(slot, 0x10), hi = 0, szlo, szhi = 0xffffffffu;
	uint64_t mask;

	*is64 = (lo & 0x7) == 0x4;
	if (*is64)
		hi = pci_cfg_read(slot, 0x14);
	pci_cfg_write(slot, 0x10, 0xffffffffu);
	szlo = pci_cfg_read(slot, 0x10);
	pci_cfg_write(slot, 0x10, lo);
	if (*is64) {
		pci_cfg_write(slot, 0x14, 0xffffffffu);
		szhi = pci_cfg_read(slot, 0x14);
		pci_cfg_write(slot, 0x14, hi);
	}
	/* A BAR that kept none of the ones is not there. */
	if (!(szlo & ~0xfu) && (!*is64 || !szhi))
		return 0;
	mask = (uint64_t)szhi << 32 | (szlo & ~0xfu);
	return ~mask + 1;
}

static const char *const virtio_cfg[] = { "?", "common", "notify", "isr", "device", "pci-cfg" };

static void caps(unsigned slot)
{
	if (!(pci_cfg_read(slot, 0x04) >> 16 & 0x10))
		return;
	for (unsigned at = pci_cfg_read(slot, 0x34) & 0xfc, n = 0; at && n < 48; n++) {
		uint32_t head = pci_cfg_read(slot, at);
		unsigned id = head & 0xff, type = head >> 24 & 0xff;

		if (id == 0x09 && (pci_cfg_read(slot, 0) & 0xffff) == 0x1af4)
			plat_say("pci 00:%02x.0   capability at 0x%02x: virtio %s, bar %u, offset 0x%x, length 0x%x", slot,
				 at, type < 6 ? virtio_cfg[type] : "?", pci_cfg_read(slot, at + 4) & 0xff,
				 pci_cfg_read(slot, at + 8), pci_cfg_read(slot, at + 12));
		else
			plat_say("pci 00:%02x.0   capability at 0x%02x: id 0x%02x", slot, at, id);
		at = head >> 8 & 0xfc;
	}
}

int wl_lspci(struct args *a)
{
	unsigned found = 0, balloons = 0;

	if (args_all_taken(a, "lspci", "none"))
		return MV_EXIT_BAD_ARGS;
	for (unsigned slot = 0; slot < 32; slot++) {
		uint32_t id = pci_cfg_read(slot, 0), cls, sub;
		uint64_t size;
		int is64;

		if (id == 0xffffffffu)
			continue;
		found++;
		cls = pci_cfg_read(slot, 0x08);
		sub = pci_cfg_read(slot, 0x2c);
		size = bar0_size(slot, &is64);
		balloons += id == 0x10451af4u;
		plat_say("pci 00:%02x.0 %04x:%04x class %06x rev %02x subsystem %04x:%04x bar0 %lu KiB%s%s", slot,
			 id & 0xffff, id >> 16, cls >> 8, cls & 0xff, sub & 0xffff, sub >> 16,
			 (unsigned long)(size >> 10), size ? (is64 ? " mem64" : " mem32") : "",
			 id == 0x10451af4u ? " (virtio-balloon)" : "");
		caps(slot);
	}
	plat_say("RESULT workload=lspci functions=%u balloons=%u", found, balloons);
	return MV_EXIT_OK;
}
