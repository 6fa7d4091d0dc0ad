/*
 * The virtio-pci modern transport (VIRTIO 1.x, section 4.1) for one
 * device: a PCI function (vendor 0x1af4, device 0x1040 + virtio ID,
 * revision 1) whose BAR 0, 16 KiB of 64-bit memory, holds the common
 * configuration (0x0000), the ISR status byte (0x1000), the device
 * configuration (0x2000) and the notification area (0x3000, 4 bytes a
 * queue), each announced by a vendor capability in config space, and a
 * fifth capability reaches BAR 0 through config space alone.
 *
 * Feature negotiation follows the status bits: FEATURES_OK only sticks
 * when the driver took VERSION_1 and nothing the device did not offer.
 * Queues are checked as the driver enables them (virtq_setup).
 *
 * Interrupts are INTx (pin A): the ISR byte says why (bit 0 a used
 * buffer, bit 1 a configuration change), and reading it clears it and
 * lowers the line.  No MSI-X capability is offered, so a driver uses
 * INTx, which Linux's virtio_pci supports; docs/balloon.md says why.
 *
 * Not thread-safe: the caller serialises accesses and device work.
 */
#ifndef MEMVISOR_VMM_VIRTIO_PCI_H
#define MEMVISOR_VMM_VIRTIO_PCI_H

#include "pci.h"
#include "virtq.h"

#include <stdint.h>

#define VIRTIO_F_VERSION_1      32
#define VIRTIO_PCI_MAX_QUEUES   8
#define VIRTIO_PCI_BAR_SIZE     0x4000
#define VIRTIO_PCI_COMMON       0x0000
#define VIRTIO_PCI_ISR          0x1000
#define VIRTIO_PCI_DEVICE       0x2000
#define VIRTIO_PCI_NOTIFY       0x3000
#define VIRTIO_PCI_NOTIFY_MULT  4
#define VIRTIO_MSI_NO_VECTOR    0xffff

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* Common configuration offsets. */
#define VIRTIO_COMMON_DFSELECT   0x00
#define VIRTIO_COMMON_DF         0x04
#define VIRTIO_COMMON_GFSELECT   0x08
#define VIRTIO_COMMON_GF         0x0c
#define VIRTIO_COMMON_MSIX       0x10
#define VIRTIO_COMMON_NUMQ       0x12
#define VIRTIO_COMMON_STATUS     0x14
#define VIRTIO_COMMON_CFGGEN     0x15
#define VIRTIO_COMMON_Q_SELECT   0x16
#define VIRTIO_COMMON_Q_SIZE     0x18
#define VIRTIO_COMMON_Q_MSIX     0x1a
#define VIRTIO_COMMON_Q_ENABLE   0x1c
#define VIRTIO_COMMON_Q_NOFF     0x1e
#define VIRTIO_COMMON_Q_DESCLO   0x20
#define VIRTIO_COMMON_Q_DESCHI   0x24
#define VIRTIO_COMMON_Q_AVAILLO  0x28
#define VIRTIO_COMMON_Q_AVAILHI  0x2c
#define VIRTIO_COMMON_Q_USEDLO   0x30
#define VIRTIO_COMMON_Q_USEDHI   0x34
#define VIRTIO_COMMON_SIZE       0x3c

struct virtio_pci;

/* What a device model gives the transport. */
struct virtio_dev_ops {
	uint16_t device_id;            /* virtio device ID (the balloon: 5) */
	uint64_t features;             /* offered */
	unsigned nqueues;
	uint16_t queue_max;            /* entries a queue may have */
	unsigned config_size;          /* bytes of device configuration */
	void (*notify)(struct virtio_pci *vp, unsigned queue);  /* the driver kicked a queue */
	void (*config_read)(struct virtio_pci *vp, unsigned off, void *data, unsigned len);
	void (*config_write)(struct virtio_pci *vp, unsigned off, const void *data, unsigned len);
	void (*reset)(struct virtio_pci *vp);        /* the driver reset the device */
	void (*driver_ok)(struct virtio_pci *vp);    /* the driver is ready */
};

struct virtio_queue {
	uint16_t size;                 /* as the driver set it */
	uint16_t enable;
	uint64_t desc, avail, used;
	struct virtq vq;               /* valid once enabled */
};

struct virtio_pci {
	struct pci_dev pci;
	const struct virtio_dev_ops *ops;
	void *dev;                     /* the device model */
	const struct vq_mem *mem;
	void (*irq)(struct virtio_pci *vp, int level);  /* raise (1) or lower (0) INTx */
	void (*log)(struct virtio_pci *vp, const char *msg);
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint8_t status, generation, isr;
	uint16_t qsel;
	struct virtio_queue q[VIRTIO_PCI_MAX_QUEUES];
	int broken;                    /* the device gave up on this driver: it waits for a reset */
	uint8_t pci_cfg;               /* config offset of the PCI configuration access capability */
};

/* Set the function up, its BAR 0 at bar_addr (16 KiB aligned; 0: let the guest place it). */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_dev_ops *ops, void *dev, const struct vq_mem *mem,
		    uint64_t bar_addr);

/* Tell the driver: used buffers (VIRTIO_ISR_QUEUE) or a configuration change (VIRTIO_ISR_CONFIG). */
#define VIRTIO_ISR_QUEUE  1
#define VIRTIO_ISR_CONFIG 2
void virtio_pci_interrupt(struct virtio_pci *vp, uint8_t why);
void virtio_pci_config_changed(struct virtio_pci *vp);

/*
 * The driver broke a rule: log why once, set DEVICE_NEEDS_RESET, and do
 * nothing more for it until it resets the device.
 */
void virtio_pci_fail(struct virtio_pci *vp, const char *why);

/* Did the driver accept feature `bit`? */
int virtio_pci_has(const struct virtio_pci *vp, unsigned bit);

/* Queue q, once enabled and the driver is ready; else NULL. */
struct virtq *virtio_pci_queue(struct virtio_pci *vp, unsigned q);

#endif
