/*
 * A VM's devices behind PCI: bus 0 with its host bridge and, unless
 * ballooning is off, a virtio-balloon at 00:01.0 whose BAR sits above
 * guest RAM.  Port and MMIO exits of every vCPU come here; one lock per
 * VM serialises the device models.  Guest memory is reached through the
 * memory manager, so a device never trips over a page that is swapped,
 * compressed or shared.
 */
#ifndef MEMVISOR_VMM_DEVICES_H
#define MEMVISOR_VMM_DEVICES_H

#include "../mm/guest_mem.h"
#include "pci.h"
#include "virtio_balloon.h"

#include <pthread.h>
#include <stdint.h>

#define DEVICES_BALLOON_SLOT 1
#define DEVICES_BAR_BASE     0x8000000000ULL   /* 512 GiB: above the most RAM a VM may have */

struct vm_devices {
	pthread_mutex_t lock;
	struct pci_bus bus;
	struct vq_mem mem;
	struct guest_mem *gm;
	int balloon_on;
	struct virtio_balloon balloon;
	void (*log)(void *ctx, const char *msg);
	void *log_ctx;
};

/* balloon_pages: the target to start from (a pinned balloon=SIZE), 0 for none. */
int devices_init(struct vm_devices *d, struct guest_mem *gm, int balloon, uint32_t balloon_pages,
		 void (*log)(void *ctx, const char *msg), void *log_ctx);
void devices_destroy(struct vm_devices *d);

/* A vCPU's port or MMIO exit: 1 if a device took it (data filled for a read), else 0. */
int devices_io(struct vm_devices *d, uint16_t port, int write, void *data, unsigned len);
int devices_mmio(struct vm_devices *d, uint64_t gpa, int write, void *data, unsigned len);

struct balloon_figures {
	uint64_t target_pages, actual_pages, ballooned_pages;
	int broken;
};
void devices_balloon_figures(struct vm_devices *d, struct balloon_figures *f);

/* A new balloon target, in pages (the driver sees it at its next look). */
void devices_balloon_target(struct vm_devices *d, uint64_t pages);

#endif
