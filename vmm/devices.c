#include "devices.h"

#include "kvm.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* After a driver's write: has `actual` reached a timed target? (lock held) */
static void check_timed(struct vm_devices *d)
{
	char msg[200];
	double ms, mib;

	if (!d->timing || d->balloon.actual != d->balloon.num_pages)
		return;
	d->timing = 0;
	ms = (double)(mono_ns() - d->timed_ns) / 1e6;
	mib = (double)(d->balloon.actual > d->timed_from ? d->balloon.actual - d->timed_from
							 : d->timed_from - d->balloon.actual) / 256.0;
	snprintf(msg, sizeof(msg), "balloon: actual reached the target, %u pages, %.1f ms after it was set: "
		 "%s %.0f MiB at %.0f MiB/s", d->balloon.actual, ms,
		 d->balloon.actual > d->timed_from ? "inflated" : "deflated", mib, ms > 0 ? mib * 1000 / ms : 0);
	if (d->log)
		d->log(d->log_ctx, msg);
}

/*
 * The device models speak guest-physical addresses; the memory manager
 * takes offsets in the RAM buffer.  Anything in the hole below 4 GiB, or
 * straddling its edge, is not RAM: the access fails, the page is refused.
 */
static int mem_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct vm_devices *d = ctx;
	uint64_t off;

	if (len == 0)
		return 0;
	return ram_map_offset(&d->map, gpa, len, &off) || guest_mem_read(d->gm, off, dst, len) ? -1 : 0;
}

static int mem_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct vm_devices *d = ctx;
	uint64_t off;

	if (len == 0)
		return 0;
	return ram_map_offset(&d->map, gpa, len, &off) || guest_mem_write(d->gm, off, src, len) ? -1 : 0;
}

/* The memory manager's page for the guest's page number pfn: 0, or -1 in the hole. */
static int ram_page(const struct vm_devices *d, uint32_t pfn, uint32_t *p)
{
	uint64_t off;

	if (ram_map_offset(&d->map, (uint64_t)pfn * GM_PAGE, GM_PAGE, &off))
		return -1;
	*p = (uint32_t)(off / GM_PAGE);
	return 0;
}

static unsigned be_inflate(void *ctx, uint32_t pfn, uint32_t n, uint8_t *done)
{
	struct vm_devices *d = ctx;
	unsigned got = 0;
	uint64_t off;
	uint32_t p;

	if (ram_map_offset(&d->map, (uint64_t)pfn * GM_PAGE, (uint64_t)n * GM_PAGE, &off) == 0)
		return guest_mem_balloon_inflate_run(d->gm, (uint32_t)(off / GM_PAGE), n, done);
	/* The run reaches into a hole, or across it: a page at a time. */
	for (uint32_t i = 0; i < n; i++) {
		done[i] = ram_page(d, pfn + i, &p) == 0 && guest_mem_balloon_inflate(d->gm, p) == 0;
		got += done[i];
	}
	return got;
}

static int be_deflate(void *ctx, uint32_t pfn)
{
	struct vm_devices *d = ctx;
	uint32_t p;

	return ram_page(d, pfn, &p) ? -1 : guest_mem_balloon_deflate(d->gm, p);
}

static int be_report(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vm_devices *d = ctx;
	uint64_t off;

	if (ram_map_offset(&d->map, gpa, len, &off) == 0)
		guest_mem_report_free(d->gm, off, len);
	return 0;
}

/* The balloon is embedded here: from its transport back to the VM's devices. */
static struct vm_devices *of_balloon(struct virtio_pci *vp)
{
	return (struct vm_devices *)((char *)vp - offsetof(struct vm_devices, balloon) -
				     offsetof(struct virtio_balloon, vp));
}

static void balloon_log(struct virtio_pci *vp, const char *msg)
{
	struct vm_devices *d = of_balloon(vp);

	if (d->log)
		d->log(d->log_ctx, msg);
}

/* Level-triggered: up while the device has an unread ISR, down when the driver reads it. */
static void balloon_irq(struct virtio_pci *vp, int level)
{
	struct vm_devices *d = of_balloon(vp);

	if (level)
		d->irqs_raised++;
	if (d->vm_fd >= 0 && kvm_irq_line(d->vm_fd, DEVICES_BALLOON_IRQ, level) && d->log)
		d->log(d->log_ctx, "KVM_IRQ_LINE failed: the balloon's interrupt is lost");
}

int devices_init(struct vm_devices *d, struct guest_mem *gm, const struct ram_map *map, int vm_fd, int balloon,
		 uint32_t balloon_pages, void (*log)(void *ctx, const char *msg), void *log_ctx)
{
	const struct balloon_backend be = { d, be_inflate, be_deflate, be_report };

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	pci_bus_init(&d->bus);
	d->gm = gm;
	d->map = *map;
	d->log = log;
	d->log_ctx = log_ctx;
	d->vm_fd = vm_fd;
	d->mem = (struct vq_mem){ d, ram_map_end(map), mem_read, mem_write };
	if (!balloon)
		return 0;
	if (virtio_balloon_init(&d->balloon, gm->npages, (uint32_t)(ram_map_end(map) / GM_PAGE), &be, &d->mem,
				DEVICES_BAR_BASE) ||
	    pci_bus_add(&d->bus, &d->balloon.vp.pci, DEVICES_BALLOON_SLOT))
		return -1;
	d->balloon.vp.log = balloon_log;
	d->balloon.vp.irq = balloon_irq;
	/* What firmware would have written; the driver reads its line here. */
	d->balloon.vp.pci.cfg[PCI_INT_LINE] = DEVICES_BALLOON_IRQ;
	d->balloon_on = 1;
	/* A pinned target: the driver finds it when it reads the configuration. */
	d->balloon.num_pages = balloon_pages > gm->npages ? gm->npages : balloon_pages;
	return 0;
}

void devices_destroy(struct vm_devices *d)
{
	if (d->balloon_on)
		virtio_balloon_destroy(&d->balloon);
	d->balloon_on = 0;
	pthread_mutex_destroy(&d->lock);
}

int devices_io(struct vm_devices *d, uint16_t port, int write, void *data, unsigned len)
{
	int taken;

	if (port != PCI_CONFIG_ADDR && (port < PCI_CONFIG_DATA || port > PCI_CONFIG_DATA + 3))
		return 0;
	pthread_mutex_lock(&d->lock);
	taken = pci_io(&d->bus, port, write, data, len);
	if (write && d->balloon_on)
		check_timed(d);
	pthread_mutex_unlock(&d->lock);
	return taken;
}

int devices_mmio(struct vm_devices *d, uint64_t gpa, int write, void *data, unsigned len)
{
	int taken;

	pthread_mutex_lock(&d->lock);
	taken = pci_mmio(&d->bus, gpa, write, data, len);
	if (write && d->balloon_on)
		check_timed(d);
	pthread_mutex_unlock(&d->lock);
	return taken;
}

void devices_balloon_target(struct vm_devices *d, uint64_t pages, int timed)
{
	if (!d->balloon_on)
		return;
	pthread_mutex_lock(&d->lock);
	if (timed) {
		d->timing = 1;
		d->timed_ns = mono_ns();
		d->timed_from = d->balloon.actual;
	}
	virtio_balloon_set_target(&d->balloon, pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages);
	pthread_mutex_unlock(&d->lock);
}

void devices_balloon_poll_stats(struct vm_devices *d)
{
	if (!d->balloon_on)
		return;
	pthread_mutex_lock(&d->lock);
	virtio_balloon_request_stats(&d->balloon);
	pthread_mutex_unlock(&d->lock);
}

void devices_balloon_figures(struct vm_devices *d, struct balloon_figures *f)
{
	memset(f, 0, sizeof(*f));
	if (!d->balloon_on)
		return;
	pthread_mutex_lock(&d->lock);
	f->target_pages = d->balloon.num_pages;
	f->actual_pages = d->balloon.actual;
	f->ballooned_pages = d->balloon.ballooned;
	f->broken = d->balloon.vp.broken;
	f->irqs = d->irqs_raised;
	f->stats_updates = d->balloon.stats_updates;
	f->stats_seen = d->balloon.stats_seen;
	memcpy(f->stats, d->balloon.stats, sizeof(f->stats));
	pthread_mutex_unlock(&d->lock);
}
