/*
 * PCI bus 0 as a guest sees it: configuration mechanism #1 (an address
 * latch at port 0xCF8, data at 0xCFC-0xCFF), a host bridge at 00:00.0,
 * and the devices a VM has, each with its 256-byte configuration space,
 * memory BARs the guest can size and move, and a capability list.
 *
 * Only function 0 of bus 0 exists; anything else reads as all ones, as
 * an empty slot does.  Config writes go through a per-byte mask of
 * writable bits, so a guest can only change what a real device lets it
 * change.  BAR accesses reach the device only while memory decoding is
 * on in its command register.
 */
#ifndef MEMVISOR_VMM_PCI_H
#define MEMVISOR_VMM_PCI_H

#include <stdint.h>

#define PCI_SLOTS         32
#define PCI_CONFIG_ADDR   0xcf8
#define PCI_CONFIG_DATA   0xcfc

/* Configuration space offsets used here. */
#define PCI_VENDOR_ID     0x00
#define PCI_DEVICE_ID     0x02
#define PCI_COMMAND       0x04
#define PCI_STATUS        0x06
#define PCI_REVISION      0x08
#define PCI_CLASS_PROG    0x09
#define PCI_HEADER_TYPE   0x0e
#define PCI_BAR0          0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID     0x2e
#define PCI_CAP_PTR       0x34
#define PCI_INT_LINE      0x3c
#define PCI_INT_PIN       0x3d

#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_OFF 0x400
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_STATUS_INTR     0x08
#define PCI_CAP_ID_VNDR     0x09

struct pci_dev;

/* A device's BAR space: off within the BAR, len 1, 2, 4 or 8. */
struct pci_bar_ops {
	void (*read)(struct pci_dev *d, int bar, uint64_t off, void *data, unsigned len);
	void (*write)(struct pci_dev *d, int bar, uint64_t off, const void *data, unsigned len);
	/* Config bytes [hook_lo, hook_hi) are live: called before a read, after a (masked) write. */
	void (*config)(struct pci_dev *d, unsigned reg, unsigned len, int write);
};

struct pci_bar {
	uint64_t size;          /* 0: no BAR here */
	int is64;               /* a 64-bit memory BAR (takes this slot and the next) */
};

struct pci_dev {
	uint8_t cfg[256];
	uint8_t wmask[256];     /* writable bits of each byte */
	struct pci_bar bar[6];
	uint8_t cap_end;        /* where the next capability goes */
	uint8_t cap_last;       /* the last capability's offset (0: none yet) */
	uint8_t hook_lo, hook_hi;  /* config bytes the device serves itself (ops->config) */
	const struct pci_bar_ops *ops;
	void *ctx;              /* the device model's */
};

struct pci_bus {
	uint32_t addr;          /* the 0xCF8 latch */
	struct pci_dev *dev[PCI_SLOTS];
	struct pci_dev host_bridge;
};

/* Bus 0 with its host bridge at slot 0. */
void pci_bus_init(struct pci_bus *b);

/* A function-0, header-type-0 device with these IDs and class (0xCCSSPP). */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint8_t revision, uint32_t class_code,
		  uint16_t subsys_vendor, uint16_t subsys_id);

/* A memory BAR of `size` bytes (a power of 2, at least 4 KiB) at `addr`; 0 or -1. */
int pci_add_bar(struct pci_dev *d, int bar, uint64_t size, int is64, uint64_t addr);

/* Append a capability (cap[0] is its ID; its next pointer is filled in): its offset, or 0 if full. */
uint8_t pci_add_cap(struct pci_dev *d, const void *cap, uint8_t len);

/* INTx pin A: the device's interrupt status bit, and whether the pin is asserted. */
void pci_set_intx(struct pci_dev *d, int level);
int pci_intx_asserted(const struct pci_dev *d);

/* Put d in slot (1-31): 0, or -1 if taken or out of range. */
int pci_bus_add(struct pci_bus *b, struct pci_dev *d, int slot);

/* Where BAR `bar` of d is now (0 while unassigned or memory decoding is off). */
uint64_t pci_bar_addr(const struct pci_dev *d, int bar);

/*
 * A port access: 1 if it was the config mechanism's (data filled for a
 * read), 0 if the port is not ours.  len is 1, 2 or 4.
 */
int pci_io(struct pci_bus *b, uint16_t port, int write, void *data, unsigned len);

/* An MMIO access: 1 if a device's BAR decodes gpa (and it was served), else 0. */
int pci_mmio(struct pci_bus *b, uint64_t gpa, int write, void *data, unsigned len);

#endif
