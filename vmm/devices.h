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
#include "ram_map.h"
#include "virtio_balloon.h"

#include <pthread.h>
#include <stdint.h>

#define DEVICES_BALLOON_SLOT 1
#define DEVICES_BAR_BASE     0x8000000000ULL   /* 512 GiB: above the most RAM a VM may have */
/*
 * The balloon's INTx pin A goes to irqchip line 10, one of the lines PC
 * firmware hands PCI devices.  The line stays on the VMM's side: a guest
 * may rewrite the Interrupt Line register (Linux does) without moving it.
 */
#define DEVICES_BALLOON_IRQ  10

struct vm_devices {
	pthread_mutex_t lock;
	struct pci_bus bus;
	struct vq_mem mem;
	struct guest_mem *gm;
	struct ram_map map;        /* guest-physical addresses to gm's offsets */
	int balloon_on;
	struct virtio_balloon balloon;
	void (*log)(void *ctx, const char *msg);
	void *log_ctx;
	int vm_fd;                 /* for KVM_IRQ_LINE; -1 in unit tests */
	/* A target set by hand (balloon_at): when, from what, so reaching it can be timed. */
	int timing;
	uint64_t timed_ns;
	uint32_t timed_from;
	uint64_t irqs_raised;      /* times the balloon's line went up */
};

/* balloon_pages: the target to start from (a pinned balloon=SIZE), 0 for none. */
int devices_init(struct vm_devices *d, struct guest_mem *gm, const struct ram_map *map, int vm_fd, int balloon,
		 uint32_t balloon_pages, void (*log)(void *ctx, const char *msg), void *log_ctx);
void devices_destroy(struct vm_devices *d);

/* A vCPU's port or MMIO exit: 1 if a device took it (data filled for a read), else 0. */
int devices_io(struct vm_devices *d, uint16_t port, int write, void *data, unsigned len);
int devices_mmio(struct vm_devices *d, uint64_t gpa, int write, void *data, unsigned len);

struct balloon_figures {
	uint64_t target_pages, actual_pages, ballooned_pages;
	int broken;
	uint64_t irqs;                      /* interrupts raised */
	uint64_t stats_updates;             /* stats buffers the driver filled */
	uint32_t stats_seen;                /* bitmap of the tags it reported */
	uint64_t stats[BALLOON_STAT_TAGS];  /* the last value of each */
};
void devices_balloon_figures(struct vm_devices *d, struct balloon_figures *f);

/*
 * A new balloon target, in pages (the driver hears of it by a configuration
 * interrupt).  timed: log how long the driver takes to report `actual` at
 * the target, and at what rate (for targets set by hand, not the policy's).
 */
void devices_balloon_target(struct vm_devices *d, uint64_t pages, int timed);

/* Ask the driver for fresh memory stats (returns its buffer, raises the line). */
void devices_balloon_poll_stats(struct vm_devices *d);

#endif
