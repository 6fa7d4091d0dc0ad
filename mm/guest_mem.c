#include "guest_mem.h"
#include "mm_host.h"
#include "pagemap.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define MSGS_PER_READ 16
#define ZIP_ACCEPT_PCT 90  /* a full compression cache takes pages again below this */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static enum gm_state st(const struct guest_mem *gm, uint32_t p)
{
	return (enum gm_state)(gm->state[p] & GM_STATE_MASK);
}

/* Change page p's state, keeping the per-state counts (lock held). */
static int resident(enum gm_state s)
{
	return s == GM_PRESENT || s == GM_EVICTING;
}

static void set_state(struct guest_mem *gm, uint32_t p, enum gm_state s, uint8_t flags)
{
	enum gm_state old = st(gm, p);

	if (resident(old) != resident(s))
		mm_host_account(gm->host, resident(s) ? 1 : -1);
	gm->n_state[old]--;
	gm->n_state[s]++;
	/* Queue membership outlives states: only the queue's pop clears it. */
	gm->state[p] = (uint8_t)(s | flags | (gm->state[p] & GM_INZQ));
}

/* Pages with a host page of their own: what the VM consumes. */
static uint64_t held_pages(const struct guest_mem *gm)
{
	return gm->n_state[GM_PRESENT] + gm->n_state[GM_EVICTING];
}

static void *page(const struct guest_mem *gm, uint32_t p)
{
	return gm->ram + (uint64_t)p * GM_PAGE;
}

static void logf_(struct guest_mem *gm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct guest_mem *gm, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (gm->log)
		gm->log(gm->fatal_ctx, msg);
	else
		fprintf(stderr, "mm: %s: %s\n", gm->name, msg);
}

static void *alloc_pages(size_t n)
{
	void *p = mmap(NULL, n * GM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void free_pages(void *p, size_t n)
{
	if (p)
		munmap(p, n * GM_PAGE);
}

/* Learn which pages the VMM already wrote (kernel image, boot data). */
static int scan_initial(struct guest_mem *gm)
{
	enum { CHUNK = 4096 };
	uint64_t *e = malloc(CHUNK * sizeof(uint64_t));

	if (!e)
		return -ENOMEM;
	gm->n_state[GM_UNTOUCHED] = gm->npages;
	for (uint32_t base = 0; base < gm->npages; base += CHUNK) {
		uint32_t n = gm->npages - base < CHUNK ? gm->npages - base : CHUNK;
		int rc = pagemap_read(gm->pagemap_fd, page(gm, base), n, e);
		if (rc) {
			free(e);
			return rc;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (!(e[i] & PM_PRESENT))
				continue;
			set_state(gm, base + i, (e[i] & PM_PFN_MASK) == gm->zero_pfn && gm->zero_pfn ?
				  GM_ZERO : GM_PRESENT, 0);
			gm->n_mapped++;
		}
	}
	free(e);
	return 0;
}

static int zip_cache_init(struct guest_mem *gm, const struct guest_mem_config *cfg, char *err,
			  size_t errlen);

int guest_mem_init(struct guest_mem *gm, const struct guest_mem_config *cfg, uint8_t *ram,
		   struct mm_host *host, char *err, size_t errlen)
{
	char uerr[256];
	int rc;

	memset(gm, 0, sizeof(*gm));
	gm->uffd.fd = -1;
	gm->stop_fd = -1;
	gm->pagemap_fd = -1;
	pthread_mutex_init(&gm->lock, NULL);
	pthread_mutex_init(&gm->evict_lock, NULL);
	pthread_cond_init(&gm->io_cond, NULL);
	gm->zq_head = gm->zq_tail = SLOT_NONE;
	snprintf(gm->name, sizeof(gm->name), "%s", cfg->name);
	if (cfg->size == 0 || cfg->size % GM_PAGE || cfg->size / GM_PAGE > UINT32_MAX - 1)
		return ERR("guest memory size %llu is not a usable multiple of 4 KiB",
			   (unsigned long long)cfg->size);
	gm->ram = ram;
	gm->size = cfg->size;
	gm->npages = (uint32_t)(cfg->size / GM_PAGE);
	gm->host = host;
	gm->fault_around = cfg->fault_around ? cfg->fault_around : GM_DEFAULT_FAULT_AROUND;
	gm->prefetch = cfg->prefetch ? cfg->prefetch : GM_DEFAULT_PREFETCH;
	gm->nsample = cfg->sample_pages ? cfg->sample_pages : GM_DEFAULT_SAMPLE_PAGES;
	if (gm->fault_around > 64 || gm->prefetch > SWAP_READ_MAX || gm->nsample > 10000)
		return ERR("fault_around takes 1-64 pages, prefetch 1-%d, sampling at most 10000", SWAP_READ_MAX);
	if (gm->nsample > gm->npages)
		gm->nsample = gm->npages;
	gm->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)ram ^ now_ns();

	gm->state = calloc(gm->npages, 1);
	gm->slot = malloc((size_t)gm->npages * sizeof(uint32_t));
	gm->sample_idx = calloc(gm->nsample, sizeof(uint32_t));
	gm->zero_buf = alloc_pages(gm->fault_around);
	gm->io_buf = alloc_pages(gm->prefetch);
	gm->ahead_buf = alloc_pages(gm->prefetch);
	gm->stage = alloc_pages(SWAP_BATCH_MAX);
	gm->sample_buf = alloc_pages(gm->nsample);
	if (!gm->state || !gm->slot || !gm->sample_idx || !gm->zero_buf || !gm->io_buf || !gm->ahead_buf ||
	    !gm->stage || !gm->sample_buf)
		return ERR("out of memory for page metadata");
	memset(gm->slot, 0xff, (size_t)gm->npages * sizeof(uint32_t));

	rc = pagemap_open();
	if (rc < 0)
		return ERR("cannot open /proc/self/pagemap: %s", strerror(-rc));
	gm->pagemap_fd = rc;
	gm->zero_pfn = pagemap_zero_pfn(gm->pagemap_fd);
	rc = scan_initial(gm);
	if (rc)
		return ERR("reading pagemap: %s", strerror(-rc));

	gm->sigbus = cfg->sigbus;
	gm->kernel_swap = cfg->kernel_swap;
	gm->ra_win = 1;
	if (uffd_open(&gm->uffd, cfg->sigbus, uerr, sizeof(uerr)) < 0)
		return ERR("%s", uerr);
	if (!gm->uffd.has_wp && !gm->kernel_swap)
		logf_(gm, "kernel lacks userfaultfd write-protect for anonymous memory: swapping is off");
	if (uffd_register(&gm->uffd, ram, gm->size, uerr, sizeof(uerr)) < 0)
		return ERR("%s", uerr);
	gm->swap_disabled = !gm->uffd.has_wp && !gm->kernel_swap;

	gm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (gm->stop_fd < 0)
		return ERR("eventfd: %s", strerror(errno));
	if (gm->kernel_swap)
		return 0; /* the host's swap holds the pages: no file of ours */
	if (cfg->compress && zip_cache_init(gm, cfg, err, errlen))
		return -1;
	gm->swap = swapfile_open(cfg->swap_dir, gm->name,
				 cfg->swap_max_pages ? cfg->swap_max_pages : gm->npages, uerr, sizeof(uerr));
	if (!gm->swap)
		return ERR("%s", uerr);
	return 0;
}

/* ---- compression cache ------------------------------------------------------ */

static int zip_cache_init(struct guest_mem *gm, const struct guest_mem_config *cfg, char *err, size_t errlen)
{
	unsigned pct = cfg->zip_max_pct;
	int rc;

	gm->zip_threshold = cfg->zip_threshold;
	if (!gm->zip_threshold || gm->zip_threshold > GM_ZIP_THRESHOLD_MAX || pct > 100)
		return ERR("compression: threshold 1-%u bytes and cap 0-100%% of memory",
			   GM_ZIP_THRESHOLD_MAX);
	gm->zip = zip_new(cfg->zip_level);
	if (!gm->zip)
		return ERR("compression: zstd refused level %d (%d to %d)", cfg->zip_level, ZIP_LEVEL_MIN,
			   ZIP_LEVEL_MAX);
	rc = zpool_init(&gm->zpool, gm->size / 100 * pct);
	if (rc)
		return ERR("compression cache: %s", strerror(-rc));
	gm->znext = malloc((size_t)gm->npages * sizeof(uint32_t));
	gm->zout = alloc_pages(SWAP_BATCH_MAX);
	gm->zbuf = alloc_pages(gm->prefetch);
	if (!gm->znext || !gm->zout || !gm->zbuf)
		return ERR("out of memory for the compression cache");
	return 0;
}

/* Tell the host what the cache's chunks hold now (they count against the budget). */
static void zip_account(struct guest_mem *gm)
{
	uint64_t now = zpool_bytes(&gm->zpool);

	mm_host_account_zip(gm->host, (int64_t)now - (int64_t)gm->zip_accounted);
	gm->zip_accounted = now;
}

/* Append p to the age queue, unless an older entry of it is still there. */
static void zq_push(struct guest_mem *gm, uint32_t p)
{
	if (gm->state[p] & GM_INZQ)
		return;
	gm->state[p] |= GM_INZQ;
	gm->znext[p] = SLOT_NONE;
	if (gm->zq_tail == SLOT_NONE)
		gm->zq_head = p;
	else
		gm->znext[gm->zq_tail] = p;
	gm->zq_tail = p;
}

/* The oldest compressed page, or SLOT_NONE; entries gone stale are dropped. */
static uint32_t zq_pop(struct guest_mem *gm)
{
	while (gm->zq_head != SLOT_NONE) {
		uint32_t p = gm->zq_head;

		gm->zq_head = gm->znext[p];
		if (gm->zq_head == SLOT_NONE)
			gm->zq_tail = SLOT_NONE;
		gm->state[p] &= (uint8_t)~GM_INZQ;
		if (st(gm, p) == GM_ZIPPED)
			return p;
	}
	return SLOT_NONE;
}

/* ---- fault service -------------------------------------------------------- */

static void fail_vm(struct guest_mem *gm, const char *msg)
{
	if (gm->fatal)
		gm->fatal(gm->fatal_ctx, msg);
	else
		logf_(gm, "%s", msg);
}

/* First touch: zero page for a read, zeroed host pages for a write. */
static void fault_untouched(struct guest_mem *gm, uint32_t p, int write)
{
	uint32_t run = 1;
	int rc;

	while (run < gm->fault_around && p + run < gm->npages &&
	       st(gm, p + run) == GM_UNTOUCHED && !(gm->state[p + run] & GM_SAMPLE))
		run++;
	if (write)
		rc = uffd_copy(gm->uffd.fd, page(gm, p), gm->zero_buf, (size_t)run * GM_PAGE, 0);
	else
		rc = uffd_zeropage(gm->uffd.fd, page(gm, p), (size_t)run * GM_PAGE, 0);
	if (rc == -EEXIST) {
		/* Someone (the kernel, for the VMM's own write) mapped it: just go on. */
		uffd_wake(gm->uffd.fd, page(gm, p), GM_PAGE);
		run = 1;
	} else if (rc) {
		char msg[128];
		snprintf(msg, sizeof(msg), "cannot map a first-touch page at gpa 0x%llx: %s",
			 (unsigned long long)p * GM_PAGE, strerror(-rc));
		fail_vm(gm, msg);
		return;
	}
	for (uint32_t i = 0; i < run; i++)
		set_state(gm, p + i, write ? GM_PRESENT : GM_ZERO, i == 0 ? GM_REF : 0);
	gm->n_mapped += run;
}

/*
 * The swap-in window, as the kernel's readahead grows its own: a fault at
 * or just past the end of the previous run is a sequential access and
 * doubles the window, up to the prefetch limit; any other fault starts
 * over at one page, so random access reads no page it did not ask for.
 */
static unsigned swapin_window(struct guest_mem *gm, uint32_t p)
{
	if (p >= gm->ra_next && p - gm->ra_next <= gm->ra_win)
		gm->ra_win = gm->ra_win * 2 > gm->prefetch ? gm->prefetch : gm->ra_win * 2;
	else
		gm->ra_win = 1;
	return gm->ra_win;
}

/* Swapped pages from p on whose slots follow on from p's, at most max. */
static uint32_t slot_run(const struct guest_mem *gm, uint32_t p, unsigned max)
{
	uint32_t run = 1;

	while (run < max && p + run < gm->npages && st(gm, p + run) == GM_SWAPPED &&
	       gm->slot[p + run] == gm->slot[p] + run)
		run++;
	return run;
}

/*
 * Pages [p, p + run) have been read into buf: map them with one
 * UFFDIO_COPY, which also wakes whoever waits on them, and free their
 * slots.  The first page is the one the guest asked for, unless ahead.
 */
static int map_read_pages(struct guest_mem *gm, uint32_t p, uint32_t run, const uint8_t *buf, int ahead)
{
	int rc = uffd_copy(gm->uffd.fd, page(gm, p), buf, (size_t)run * GM_PAGE, 0);

	if (rc) {
		char msg[160];
		snprintf(msg, sizeof(msg), "UFFDIO_COPY of swapped-in pages at gpa 0x%llx: %s",
			 (unsigned long long)p * GM_PAGE, strerror(-rc));
		fail_vm(gm, msg);
		return rc;
	}
	for (uint32_t i = 0; i < run; i++) {
		slots_release(swapfile_slots(gm->swap), gm->slot[p + i]);
		gm->slot[p + i] = SLOT_NONE;
		/* Prefetched pages keep their sample mark: untouched so far. */
		set_state(gm, p + i, GM_PRESENT,
			  i == 0 && !ahead ? GM_REF : (uint8_t)(gm->state[p + i] & GM_SAMPLE));
	}
	gm->swapins += run;
	if (ahead)
		gm->readahead_pages += run;
	return 0;
}

static void swapin_failed(struct guest_mem *gm, uint32_t p, uint32_t slot, int rc)
{
	char msg[160];

	gm->swap_errors++;
	snprintf(msg, sizeof(msg), "swap-in of gpa 0x%llx from slot %u failed after 3 tries: %s",
		 (unsigned long long)p * GM_PAGE, slot, strerror(-rc));
	fail_vm(gm, msg);
}

/* Complete the readahead in flight (lock held; the read is mostly done). */
static void finish_ahead(struct guest_mem *gm)
{
	uint32_t p = gm->ahead_first, n = gm->ahead_n;
	int rc = swapfile_read_finish(gm->swap);

	gm->ahead_n = 0;
	/* A failed readahead costs nothing: the pages wait, swapped, for their fault. */
	for (uint32_t i = 0; i < n; i++)
		set_state(gm, p + i, GM_SWAPPED, (uint8_t)(gm->state[p + i] & GM_SAMPLE));
	if (!rc)
		map_read_pages(gm, p, n, gm->ahead_buf, 1);
	pthread_cond_broadcast(&gm->io_cond);
}

/* Start reading the run at q while the guest works through the last one. */
static void start_ahead(struct guest_mem *gm, uint32_t q)
{
	uint32_t n;

	if (gm->ahead_n || q >= gm->npages || st(gm, q) != GM_SWAPPED)
		return;
	n = slot_run(gm, q, gm->prefetch);
	if (swapfile_read_start(gm->swap, gm->slot[q], n, gm->ahead_buf))
		return;
	for (uint32_t i = 0; i < n; i++)
		set_state(gm, q + i, GM_READING, (uint8_t)(gm->state[q + i] & GM_SAMPLE));
	gm->ahead_first = q;
	gm->ahead_n = n;
	gm->ra_next = q + n;
}

/*
 * Swap-in (lock held): one read of a contiguous slot run, one UFFDIO_COPY.
 * Once a sequential stream has grown the window to its limit, the next
 * run is read ahead while the guest consumes this one, so its next fault
 * finds the data in memory (swap-in then costs a fault and a copy).
 */
static void fault_swapped(struct guest_mem *gm, uint32_t p)
{
	uint32_t s, run;
	int rc = -EIO;

	if (gm->ahead_n) {
		int hit = p >= gm->ahead_first && p - gm->ahead_first < gm->ahead_n;
		finish_ahead(gm);
		if (hit && st(gm, p) == GM_PRESENT) {
			gm->swapin_faults++;
			start_ahead(gm, gm->ra_next);
			return;
		}
	}
	/* Another thread reads it, or uses the buffer: wait, then look again. */
	while (st(gm, p) == GM_READING || (st(gm, p) == GM_SWAPPED && gm->io_busy))
		pthread_cond_wait(&gm->io_cond, &gm->lock);
	if (st(gm, p) != GM_SWAPPED) {
		uffd_wake(gm->uffd.fd, page(gm, p), GM_PAGE);
		return;
	}
	s = gm->slot[p];
	run = slot_run(gm, p, swapin_window(gm, p));
	gm->ra_next = p + run;
	for (uint32_t i = 0; i < run; i++)
		set_state(gm, p + i, GM_READING, (uint8_t)(gm->state[p + i] & GM_SAMPLE));
	gm->io_busy = 1;
	pthread_mutex_unlock(&gm->lock);
	for (int tries = 0; tries < 3 && rc; tries++)
		rc = swapfile_read(gm->swap, s, run, gm->io_buf);
	pthread_mutex_lock(&gm->lock);
	for (uint32_t i = 0; i < run; i++)
		set_state(gm, p + i, GM_SWAPPED, (uint8_t)(gm->state[p + i] & GM_SAMPLE));
	if (rc)
		swapin_failed(gm, p, s, rc);
	else if (!map_read_pages(gm, p, run, gm->io_buf, 0))
		gm->swapin_faults++;
	gm->io_busy = 0;
	pthread_cond_broadcast(&gm->io_cond);
	if (!rc && gm->prefetch > 1 && gm->ra_win == gm->prefetch)
		start_ahead(gm, gm->ra_next);
}

static int cached(enum gm_state s)
{
	return s == GM_ZIPPED || s == GM_SAME;
}

static int zero_filled(const struct guest_mem *gm, uint32_t p)
{
	return st(gm, p) == GM_SAME && gm->slot[p] == 0;
}

/* Decompress (or fill) cached page p into dst; -1 if its data is damaged. */
static int unzip_page(struct guest_mem *gm, uint32_t p, uint8_t *dst)
{
	size_t len;
	void *data;

	if (st(gm, p) == GM_SAME) {
		zip_fill(dst, gm->slot[p]);
		return 0;
	}
	data = zpool_data(&gm->zpool, gm->slot[p], &len);
	return data && !zip_decompress(gm->zip, data, len, dst) ? 0 : -1;
}

/*
 * A compressed or same-filled page: decompress (or fill) it, with the
 * cached pages after it when the faults run sequentially (the swap-in
 * window), and map them with one UFFDIO_COPY.  A read of zero-filled
 * pages maps the shared zero page instead, so they take no memory again.
 */
static void fault_unzip(struct guest_mem *gm, uint32_t p, int write)
{
	uint32_t run = 1, win = swapin_window(gm, p);
	char msg[128];
	int rc;

	if (!write && zero_filled(gm, p)) {
		while (run < win && p + run < gm->npages && zero_filled(gm, p + run))
			run++;
		if (uffd_zeropage(gm->uffd.fd, page(gm, p), (size_t)run * GM_PAGE, 0) == 0) {
			for (uint32_t i = 0; i < run; i++) {
				set_state(gm, p + i, GM_ZERO,
					  i == 0 ? GM_REF : (uint8_t)(gm->state[p + i] & GM_SAMPLE));
				gm->slot[p + i] = SLOT_NONE;
			}
			gm->unzipped += run;
			gm->ra_next = p + run;
			return;
		}
		run = 1;
	}
	while (run < win && p + run < gm->npages && cached(st(gm, p + run)))
		run++;
	for (uint32_t i = 0; i < run; i++) {
		if (unzip_page(gm, p + i, gm->zbuf + (size_t)i * GM_PAGE) == 0)
			continue;
		if (i == 0) {
			snprintf(msg, sizeof(msg), "compressed page at gpa 0x%llx is damaged",
				 (unsigned long long)p * GM_PAGE);
			fail_vm(gm, msg);
			return;
		}
		run = i; /* a neighbour's turn comes with its own fault */
		break;
	}
	rc = uffd_copy(gm->uffd.fd, page(gm, p), gm->zbuf, (size_t)run * GM_PAGE, 0);
	if (rc) {
		snprintf(msg, sizeof(msg), "UFFDIO_COPY of a decompressed page at gpa 0x%llx: %s",
			 (unsigned long long)p * GM_PAGE, strerror(-rc));
		fail_vm(gm, msg);
		return;
	}
	for (uint32_t i = 0; i < run; i++) {
		if (st(gm, p + i) == GM_ZIPPED)
			zpool_free(&gm->zpool, gm->slot[p + i]);
		gm->slot[p + i] = SLOT_NONE;
		/* Neighbours keep their sample mark: untouched so far. */
		set_state(gm, p + i, GM_PRESENT, i == 0 ? GM_REF : (uint8_t)(gm->state[p + i] & GM_SAMPLE));
	}
	zip_account(gm);
	gm->unzipped += run;
	gm->ra_next = p + run;
}

static void fault_sampled(struct guest_mem *gm, uint32_t p)
{
	unsigned i;
	int rc;

	for (i = 0; i < gm->sample_live; i++)
		if (gm->sample_idx[i] == p)
			break;
	if (i == gm->sample_live) {
		fail_vm(gm, "internal error: sampled page without a saved copy");
		return;
	}
	rc = uffd_copy(gm->uffd.fd, page(gm, p), gm->sample_buf + (size_t)i * GM_PAGE, GM_PAGE, 0);
	if (rc) {
		char msg[128];
		snprintf(msg, sizeof(msg), "restoring a sampled page: %s", strerror(-rc));
		fail_vm(gm, msg);
		return;
	}
	set_state(gm, p, GM_PRESENT, GM_REF);
}

/* Bring page p in (under gm->lock); returns what kind of fault it was. */
static enum gm_fault_kind serve(struct guest_mem *gm, uint32_t p, enum gm_state s, int write)
{
	enum gm_fault_kind kind = GM_FAULT_ZERO;

	gm->state[p] &= (uint8_t)~GM_SAMPLE; /* touched during its sample period */
	switch (s) {
	case GM_UNTOUCHED:
		fault_untouched(gm, p, write);
		break;
	case GM_ZERO:
		/* Dropped by sampling: map the zero page (or a fresh page) again. */
		set_state(gm, p, GM_UNTOUCHED, 0);
		gm->n_mapped--;
		fault_untouched(gm, p, write);
		break;
	case GM_SWAPPED:
	case GM_READING:
		kind = GM_FAULT_SWAPIN;
		fault_swapped(gm, p);
		break;
	case GM_SAMPLED:
		kind = GM_FAULT_SAMPLE;
		fault_sampled(gm, p);
		break;
	case GM_ZIPPED:
	case GM_SAME:
		kind = GM_FAULT_UNZIP;
		fault_unzip(gm, p, write);
		break;
	case GM_PRESENT:
	case GM_EVICTING:
	case GM_KSWAPPED: /* the kernel's own swap-in path serves these */
	case GM_NSTATES:
		/* Already resolved (another vCPU's fault on the same page). */
		uffd_wake(gm->uffd.fd, page(gm, p), GM_PAGE);
		break;
	}
	return kind;
}

void guest_mem_fault(struct guest_mem *gm, uint64_t addr, int write, int wp)
{
	uint64_t t0 = now_ns();
	uint32_t p;
	enum gm_fault_kind kind;
	enum gm_state s;

	if (addr < (uint64_t)(uintptr_t)gm->ram || addr - (uint64_t)(uintptr_t)gm->ram >= gm->size)
		return;
	p = (uint32_t)((addr - (uint64_t)(uintptr_t)gm->ram) / GM_PAGE);

	pthread_mutex_lock(&gm->lock);
	s = st(gm, p);
	/* A page being evicted is mapped, so any fault on it is a write to its
	 * write-protected copy, whether or not the fault said so (a KVM
	 * memory-fault exit does not). */
	if (wp || s == GM_EVICTING) {
		/* A guest write raced with an eviction: the write wins. */
		if (s == GM_EVICTING)
			set_state(gm, p, GM_PRESENT, GM_REF);
		gm->faults[GM_FAULT_WP]++;
		uffd_writeprotect(gm->uffd.fd, page(gm, p), GM_PAGE, 0);
		pthread_mutex_unlock(&gm->lock);
		return;
	}
	/* A fault that takes host memory may wait for reclaim (the low state). */
	if (gm->host && ((s == GM_UNTOUCHED || s == GM_ZERO) ? write :
			 (s == GM_SWAPPED || s == GM_READING || s == GM_SAMPLED || s == GM_ZIPPED ||
			  s == GM_SAME))) {
		pthread_mutex_unlock(&gm->lock);
		mm_host_gate(gm->host, s == GM_SWAPPED || s == GM_READING ? gm->prefetch :
			     s == GM_UNTOUCHED || s == GM_ZERO ? gm->fault_around : 1,
			     &gm->stopping);
		pthread_mutex_lock(&gm->lock);
		s = st(gm, p);
	}
	kind = serve(gm, p, s, write);
	gm->faults[kind]++;
	hist_add(&gm->fault_hist, now_ns() - t0);
	pthread_mutex_unlock(&gm->lock);
}

int guest_mem_read(struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	uint32_t first, last;

	if (len == 0)
		return 0;
	if (gpa >= gm->size || len > gm->size - gpa)
		return -EFAULT;
	first = (uint32_t)(gpa / GM_PAGE);
	last = (uint32_t)((gpa + len - 1) / GM_PAGE);
	pthread_mutex_lock(&gm->lock);
	/* Swap-in drops the lock for its I/O, so check again until all stay in. */
	for (int round = 0; round < 8; round++) {
		int all = 1;
		for (uint32_t p = first; p <= last; p++) {
			enum gm_state s = st(gm, p);
			/* A kernel-swapped page faults back in through the kernel. */
			if (s == GM_PRESENT || s == GM_ZERO || s == GM_EVICTING || s == GM_KSWAPPED)
				continue;
			all = 0;
			serve(gm, p, s, 0);
		}
		if (all) {
			memcpy(dst, gm->ram + gpa, len);
			pthread_mutex_unlock(&gm->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&gm->lock);
	return -EAGAIN;
}

static void *fault_thread(void *arg)
{
	struct guest_mem *gm = arg;
	struct uffd_msg msgs[MSGS_PER_READ];
	struct pollfd pfd[2] = {
		{ .fd = gm->uffd.fd, .events = POLLIN },
		{ .fd = gm->stop_fd, .events = POLLIN },
	};

	for (;;) {
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			logf_(gm, "fault thread: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		n = read(gm->uffd.fd, msgs, sizeof(msgs));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			logf_(gm, "fault thread: read: %s", strerror(errno));
			break;
		}
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
			if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			guest_mem_fault(gm, msgs[i].arg.pagefault.address,
					(msgs[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0,
					(msgs[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) != 0);
		}
	}
	return NULL;
}

int guest_mem_start(struct guest_mem *gm, char *err, size_t errlen)
{
	int e = pthread_create(&gm->thread, NULL, fault_thread, gm);

	if (e)
		return ERR("cannot start the fault thread: %s", strerror(e));
	gm->thread_started = 1;
	return 0;
}

void guest_mem_stop(struct guest_mem *gm)
{
	uint64_t one = 1;

	if (!gm->thread_started)
		return;
	if (write(gm->stop_fd, &one, sizeof(one)) != sizeof(one))
		logf_(gm, "cannot signal the fault thread: %s", strerror(errno));
	pthread_join(gm->thread, NULL);
	gm->thread_started = 0;
}

void guest_mem_destroy(struct guest_mem *gm)
{
	guest_mem_stop(gm);
	mm_host_account(gm->host, -(int64_t)held_pages(gm));
	mm_host_account_zip(gm->host, -(int64_t)gm->zip_accounted);
	gm->zip_accounted = 0;
	zip_free(gm->zip);
	gm->zip = NULL;
	zpool_destroy(&gm->zpool);
	free(gm->znext);
	gm->znext = NULL;
	free_pages(gm->zout, SWAP_BATCH_MAX);
	free_pages(gm->zbuf, gm->prefetch);
	gm->zout = gm->zbuf = NULL;
	gm->host = NULL;
	swapfile_close(gm->swap);
	gm->swap = NULL;
	if (gm->uffd.fd >= 0)
		close(gm->uffd.fd);
	if (gm->stop_fd >= 0)
		close(gm->stop_fd);
	if (gm->pagemap_fd >= 0)
		close(gm->pagemap_fd);
	gm->uffd.fd = gm->stop_fd = gm->pagemap_fd = -1;
	free(gm->state);
	free(gm->slot);
	free(gm->sample_idx);
	free_pages(gm->zero_buf, gm->fault_around);
	free_pages(gm->io_buf, gm->prefetch);
	free_pages(gm->ahead_buf, gm->prefetch);
	free_pages(gm->stage, SWAP_BATCH_MAX);
	free_pages(gm->sample_buf, gm->nsample);
	gm->state = NULL;
	gm->slot = NULL;
	pthread_mutex_destroy(&gm->lock);
	pthread_mutex_destroy(&gm->evict_lock);
	pthread_cond_destroy(&gm->io_cond);
}

/* ---- eviction ------------------------------------------------------------- */

/* Clock: present pages not referenced since the hand last passed (lock held). */
static unsigned pick_victims(struct guest_mem *gm, uint32_t *v, unsigned want)
{
	unsigned n = 0;

	for (uint64_t steps = 0; steps < 2ULL * gm->npages && n < want; steps++) {
		uint32_t p = gm->clock_hand;
		uint8_t s = gm->state[p];

		gm->clock_hand = p + 1 == gm->npages ? 0 : p + 1;
		if ((s & GM_STATE_MASK) != GM_PRESENT || (s & GM_SAMPLE))
			continue;
		if (s & GM_REF) {
			gm->state[p] = (uint8_t)(s & ~GM_REF); /* second chance */
			continue;
		}
		v[n++] = p;
	}
	return n;
}

/* Apply fn to runs of consecutive page numbers in v (sorted by the clock). */
static void for_runs(struct guest_mem *gm, const uint32_t *v, unsigned n,
		     void (*fn)(struct guest_mem *, uint32_t, uint32_t))
{
	for (unsigned i = 0; i < n;) {
		unsigned j = i + 1;
		while (j < n && v[j] == v[j - 1] + 1)
			j++;
		fn(gm, v[i], v[j - 1] - v[i] + 1);
		i = j;
	}
}

static void wp_run(struct guest_mem *gm, uint32_t p, uint32_t n)
{
	uffd_writeprotect(gm->uffd.fd, page(gm, p), (size_t)n * GM_PAGE, 1);
}

static void pageout_run(struct guest_mem *gm, uint32_t p, uint32_t n)
{
	if (madvise(page(gm, p), (size_t)n * GM_PAGE, MADV_PAGEOUT) && !gm->kswap_refused) {
		logf_(gm, "MADV_PAGEOUT: %s", strerror(errno));
		gm->kswap_refused = 1;
	}
}

/*
 * Kernel-swap mode (lock held, released on return): hand the victims to
 * the host's swap and keep as kswapped those that really left.
 */
static unsigned page_out(struct guest_mem *gm, const uint32_t *v, unsigned n)
{
	uint64_t e;
	unsigned freed = 0;

	for_runs(gm, v, n, pageout_run);
	for (unsigned i = 0; i < n; i++) {
		if (pagemap_read(gm->pagemap_fd, page(gm, v[i]), 1, &e) || (e & PM_PRESENT))
			continue; /* still resident: swap off or full, or touched again */
		set_state(gm, v[i], GM_KSWAPPED, 0);
		gm->swapouts++;
		freed++;
	}
	if (n && !freed && !gm->kswap_refused) {
		logf_(gm, "MADV_PAGEOUT left every page resident: is host swap on, and not full?");
		gm->kswap_refused = 1;
	}
	if (n && !freed)
		gm->swap_full = 1;
	else if (freed)
		gm->kswap_refused = gm->swap_full = 0;
	pthread_mutex_unlock(&gm->lock);
	return freed;
}

/* Free slots in the swap file, clearing "full" once a batch's worth is back. */
static int file_room(struct guest_mem *gm)
{
	struct slots *sl = swapfile_slots(gm->swap);

	if (gm->swap_full && sl->limit - sl->used >= SWAP_BATCH_MAX)
		gm->swap_full = 0; /* only then: no flapping */
	return !gm->swap_full && sl->used < sl->limit;
}

static uint32_t alloc_slot(struct guest_mem *gm)
{
	uint32_t slot = slots_alloc(swapfile_slots(gm->swap));

	if (slot == SLOT_NONE) {
		/* Loud the first time; a VM that keeps filling it is told every 10 s. */
		if (!gm->swap_full && now_ns() - gm->swap_full_logged_ns >= 10000000000ULL) {
			logf_(gm, "swap file '%s' is full (%u slots): no swapping until slots free up",
			      swapfile_path(gm->swap), swapfile_slots(gm->swap)->limit);
			gm->swap_full_logged_ns = now_ns();
		}
		gm->swap_full = 1;
	}
	return slot;
}

static void write_failed(struct guest_mem *gm, int rc)
{
	gm->swap_errors++;
	if (!gm->swap_disabled)
		logf_(gm, "swap write failed (%s): pages stay where they were, swapping stops", strerror(-rc));
	gm->swap_disabled = 1;
}

/* An eviction that cannot finish: the page stays, writable again. */
static void keep_resident(struct guest_mem *gm, uint32_t p)
{
	set_state(gm, p, GM_PRESENT, 0);
	uffd_writeprotect(gm->uffd.fd, page(gm, p), GM_PAGE, 0);
}

/* The evicting page's content is safe elsewhere: give its host page back. */
static int drop_evicted(struct guest_mem *gm, uint32_t p)
{
	if (madvise(page(gm, p), GM_PAGE, MADV_DONTNEED)) {
		keep_resident(gm, p);
		return -1;
	}
	return 0;
}

/*
 * When the compression cache is nearly at its cap, write its oldest pages
 * to the swap file (lock held throughout, dropped for the write): they are
 * decompressed into the stage and stored as plain pages, so swap-in never
 * needs to know where a slot's content came from.
 */
static void zip_make_room(struct guest_mem *gm)
{
	struct swap_write w[SWAP_BATCH_MAX];
	uint32_t v[SWAP_BATCH_MAX], h[SWAP_BATCH_MAX];
	unsigned n = 0;
	int rc;

	/*
	 * Full: refuse new pages (same-filled ones cost nothing and still come
	 * in) until faults have drained the cache below ZIP_ACCEPT_PCT of its
	 * cap, as zswap's accept_threshold_percent does.  Otherwise every
	 * victim would be compressed only to be written out a moment later.
	 */
	if (gm->zpool.chunks_used + 2 > gm->zpool.nchunks)
		gm->zip_refusing = 1;
	else if ((uint64_t)gm->zpool.chunks_used * 100 < (uint64_t)gm->zpool.nchunks * ZIP_ACCEPT_PCT)
		gm->zip_refusing = 0;
	if (gm->zpool.chunks_used + 2 <= gm->zpool.nchunks || !file_room(gm))
		return;
	while (n < SWAP_BATCH_MAX) {
		uint32_t p = zq_pop(gm);
		size_t len;
		void *data;

		if (p == SLOT_NONE)
			break;
		data = zpool_data(&gm->zpool, gm->slot[p], &len);
		if (!data || zip_decompress(gm->zip, data, len, gm->stage + (size_t)n * GM_PAGE)) {
			zq_push(gm, p); /* leave it; its fault will report the damage */
			break;
		}
		w[n].slot = alloc_slot(gm);
		if (w[n].slot == SLOT_NONE) {
			zq_push(gm, p);
			break;
		}
		w[n].buf = gm->stage + (size_t)n * GM_PAGE;
		v[n] = p;
		h[n] = gm->slot[p];
		n++;
	}
	if (!n)
		return;
	pthread_mutex_unlock(&gm->lock);
	rc = swapfile_write_batch(gm->swap, w, n);
	pthread_mutex_lock(&gm->lock);
	for (unsigned i = 0; i < n; i++) {
		uint32_t p = v[i];
		/* Faulted back meanwhile, or the write failed: the cache keeps it. */
		if (st(gm, p) != GM_ZIPPED || gm->slot[p] != h[i] || w[i].result) {
			slots_release(swapfile_slots(gm->swap), w[i].slot);
			if (st(gm, p) == GM_ZIPPED)
				zq_push(gm, p);
			continue;
		}
		zpool_free(&gm->zpool, h[i]);
		gm->slot[p] = w[i].slot;
		set_state(gm, p, GM_SWAPPED, 0);
		gm->zip_writebacks++;
		gm->swapouts++;
	}
	zip_account(gm);
	if (rc)
		write_failed(gm, rc);
}

enum { TO_FILE, TO_ZIP, TO_SAME };

/*
 * Where each staged victim goes: same-filled, compressed into zout (its
 * length in len) when it shrinks to the threshold, or the swap file.
 * Runs unlocked: the stage and zout belong to the one eviction running.
 */
static void classify(struct guest_mem *gm, unsigned n, uint8_t *kind, uint32_t *len)
{
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *pg = gm->stage + (size_t)i * GM_PAGE;
		uint32_t word;
		size_t z;

		kind[i] = TO_FILE;
		if (!gm->zip)
			continue;
		if (zip_same_filled(pg, &word)) {
			kind[i] = TO_SAME;
			len[i] = word;
			continue;
		}
		if (gm->zip_refusing)
			continue;
		z = zip_compress(gm->zip, pg, gm->zout + (size_t)i * GM_PAGE, gm->zip_threshold);
		if (z) {
			kind[i] = TO_ZIP;
			len[i] = (uint32_t)z;
		}
	}
}

/* Victims that compressed well go into the cache (lock held); returns pages freed. */
static unsigned store_zipped(struct guest_mem *gm, const uint32_t *v, unsigned n, uint8_t *kind,
			     const uint32_t *len)
{
	unsigned freed = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t p = v[i], h = 0;

		if (kind[i] == TO_FILE || st(gm, p) != GM_EVICTING)
			continue;
		if (kind[i] == TO_ZIP) {
			h = zpool_alloc(&gm->zpool, len[i]);
			if (h == ZPOOL_NONE) {
				kind[i] = TO_FILE; /* the cache is at its cap: to the file */
				continue;
			}
			memcpy(zpool_data(&gm->zpool, h, &(size_t){ 0 }), gm->zout + (size_t)i * GM_PAGE, len[i]);
		}
		if (drop_evicted(gm, p)) {
			if (kind[i] == TO_ZIP)
				zpool_free(&gm->zpool, h);
			continue;
		}
		gm->slot[p] = kind[i] == TO_ZIP ? h : len[i];
		set_state(gm, p, kind[i] == TO_ZIP ? GM_ZIPPED : GM_SAME, 0);
		if (kind[i] == TO_ZIP)
			zq_push(gm, p);
		gm->zipped++;
		freed++;
	}
	zip_account(gm);
	return freed;
}

/*
 * Evict the victims (lock held, released on return): write-protect them
 * (from then on a guest write cancels a page's eviction), copy them to
 * the stage, keep those that compress well in the compression cache, and
 * write the rest to the swap file; only then free their host pages.
 * Returns pages freed.
 */
static unsigned swap_out(struct guest_mem *gm, const uint32_t *victims, unsigned nv)
{
	struct swap_write w[SWAP_BATCH_MAX];
	uint32_t v[SWAP_BATCH_MAX], fv[SWAP_BATCH_MAX], len[SWAP_BATCH_MAX];
	uint8_t kind[SWAP_BATCH_MAX];
	unsigned freed = 0, nf = 0, n = 0;
	int rc;

	if (gm->kernel_swap)
		return page_out(gm, victims, nv);
	if (gm->zip)
		zip_make_room(gm);
	/* That may have dropped the lock: take only victims still as chosen. */
	for (unsigned i = 0; i < nv; i++)
		if (st(gm, victims[i]) == GM_PRESENT && !(gm->state[victims[i]] & GM_SAMPLE))
			v[n++] = victims[i];
	if (!gm->zip && !file_room(gm))
		n = 0;
	for (unsigned i = 0; i < n; i++)
		set_state(gm, v[i], GM_EVICTING, 0);
	for_runs(gm, v, n, wp_run);
	pthread_mutex_unlock(&gm->lock);
	if (!n)
		return 0;

	for (unsigned i = 0; i < n; i++)
		memcpy(gm->stage + (size_t)i * GM_PAGE, page(gm, v[i]), GM_PAGE);
	classify(gm, n, kind, len);

	pthread_mutex_lock(&gm->lock);
	if (gm->zip)
		freed = store_zipped(gm, v, n, kind, len);
	/* The rest go to the file, staged where they are. */
	for (unsigned i = 0; i < n; i++) {
		if (kind[i] != TO_FILE || st(gm, v[i]) != GM_EVICTING)
			continue;
		w[nf].slot = alloc_slot(gm);
		if (w[nf].slot == SLOT_NONE) {
			keep_resident(gm, v[i]);
			continue;
		}
		w[nf].buf = gm->stage + (size_t)i * GM_PAGE;
		fv[nf++] = v[i];
	}
	if (!nf) {
		pthread_mutex_unlock(&gm->lock);
		return freed;
	}
	pthread_mutex_unlock(&gm->lock);
	rc = swapfile_write_batch(gm->swap, w, nf);

	pthread_mutex_lock(&gm->lock);
	for (unsigned i = 0; i < nf; i++) {
		uint32_t p = fv[i];
		if (st(gm, p) != GM_EVICTING || w[i].result || drop_evicted(gm, p)) {
			/* Cancelled by a guest write, or the write failed: it stays. */
			slots_release(swapfile_slots(gm->swap), w[i].slot);
			if (st(gm, p) == GM_EVICTING)
				keep_resident(gm, p);
			continue;
		}
		gm->slot[p] = w[i].slot;
		set_state(gm, p, GM_SWAPPED, 0);
		gm->swapouts++;
		freed++;
	}
	if (rc)
		write_failed(gm, rc);
	pthread_mutex_unlock(&gm->lock);
	return freed;
}

unsigned guest_mem_evict(struct guest_mem *gm, unsigned want)
{
	uint32_t v[SWAP_BATCH_MAX];
	unsigned freed = 0;

	if (want > SWAP_BATCH_MAX)
		want = SWAP_BATCH_MAX;
	pthread_mutex_lock(&gm->evict_lock);
	pthread_mutex_lock(&gm->lock);
	if (gm->swap_disabled)
		pthread_mutex_unlock(&gm->lock);
	else
		freed = swap_out(gm, v, pick_victims(gm, v, want));
	pthread_mutex_unlock(&gm->evict_lock);
	return freed;
}

uint64_t guest_mem_pageout(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint32_t v[SWAP_BATCH_MAX], p, end;
	uint64_t freed = 0;

	if (gpa >= gm->size || len > gm->size - gpa || !len)
		return 0;
	p = (uint32_t)(gpa / GM_PAGE);
	end = (uint32_t)((gpa + len + GM_PAGE - 1) / GM_PAGE);
	pthread_mutex_lock(&gm->evict_lock);
	while (p < end) {
		unsigned n = 0, got;

		pthread_mutex_lock(&gm->lock);
		if (gm->swap_disabled) {
			pthread_mutex_unlock(&gm->lock);
			break;
		}
		for (; p < end && n < SWAP_BATCH_MAX; p++)
			if (st(gm, p) == GM_PRESENT && !(gm->state[p] & GM_SAMPLE))
				v[n++] = p;
		got = swap_out(gm, v, n);
		freed += got;
		if (n && !got && gm->swap_full)
			break; /* no room left: the rest stays resident */
	}
	pthread_mutex_unlock(&gm->evict_lock);
	return freed;
}

/* ---- reconciliation with the kernel's view ------------------------------------ */

void guest_mem_reconcile(struct guest_mem *gm)
{
	enum { CHUNK = 4096 };
	uint64_t e[256];

	for (uint32_t base = 0; base < gm->npages; base += CHUNK) {
		uint32_t end = gm->npages - base < CHUNK ? gm->npages : base + CHUNK;
		int any = 0;

		pthread_mutex_lock(&gm->lock);
		/* Without frame numbers a zero page cannot be told from a real one. */
		for (uint32_t p = base; p < end && !any; p++)
			any = (st(gm, p) == GM_ZERO && gm->zero_pfn) || st(gm, p) == GM_KSWAPPED;
		pthread_mutex_unlock(&gm->lock);
		if (!any)
			continue;
		for (uint32_t p = base; p < end; p += 256) {
			uint32_t n = end - p < 256 ? end - p : 256;
			if (pagemap_read(gm->pagemap_fd, page(gm, p), n, e))
				return;
			pthread_mutex_lock(&gm->lock);
			for (uint32_t i = 0; i < n; i++) {
				/* A write to the zero page got a private copy from the kernel. */
				if (st(gm, p + i) == GM_ZERO && (e[i] & PM_PRESENT) && gm->zero_pfn &&
				    (e[i] & PM_PFN_MASK) != gm->zero_pfn)
					set_state(gm, p + i, GM_PRESENT,
						  (uint8_t)(GM_REF | (gm->state[p + i] & GM_SAMPLE)));
				/* The kernel swapped it back in: the guest touched it. */
				if (st(gm, p + i) == GM_KSWAPPED && (e[i] & PM_PRESENT)) {
					set_state(gm, p + i, GM_PRESENT, GM_REF);
					gm->swapins++;
				}
			}
			pthread_mutex_unlock(&gm->lock);
		}
	}
}

/* ---- activity sampling (TCHD) ------------------------------------------------- */

static uint64_t next_rand(struct guest_mem *gm)
{
	/* xorshift64*: cheap, and good enough to pick sample pages. */
	gm->rng ^= gm->rng >> 12;
	gm->rng ^= gm->rng << 25;
	gm->rng ^= gm->rng >> 27;
	return gm->rng * 0x2545f4914f6cdd1dULL;
}

void guest_mem_sample(struct guest_mem *gm)
{
	unsigned touched = 0, taken = 0;

	pthread_mutex_lock(&gm->lock);
	/* Close the period: untouched samples go back in place, unseen by the guest. */
	for (unsigned i = 0; i < gm->sample_live; i++) {
		uint32_t p = gm->sample_idx[i];
		if (!(gm->state[p] & GM_SAMPLE)) {
			touched++;
			continue;
		}
		gm->state[p] &= (uint8_t)~GM_SAMPLE;
		if (st(gm, p) == GM_SAMPLED) {
			if (uffd_copy(gm->uffd.fd, page(gm, p), gm->sample_buf + (size_t)i * GM_PAGE,
				      GM_PAGE, 1) == 0)
				set_state(gm, p, GM_PRESENT, 0);
			else
				fail_vm(gm, "cannot restore a sampled page");
		}
	}
	if (gm->sample_live) {
		double f = (double)touched / gm->sample_live;
		/* Rise fast, fall slowly, as ESX smooths its estimate. */
		gm->active_frac += (f > gm->active_frac ? 0.7 : 0.15) * (f - gm->active_frac);
	}

	/* Open the next period: make each sample's next access fault to us. */
	for (unsigned i = 0; i < gm->nsample; i++) {
		uint32_t p = (uint32_t)(next_rand(gm) % gm->npages);
		enum gm_state s = st(gm, p);

		if (gm->state[p] & GM_SAMPLE || s == GM_EVICTING || s == GM_SAMPLED)
			continue; /* drawn twice, or busy: the sample is a little smaller */
		/* A kswapped sample counts as touched once reconcile sees it back. */
		if (s == GM_PRESENT) {
			uffd_writeprotect(gm->uffd.fd, page(gm, p), GM_PAGE, 1);
			memcpy(gm->sample_buf + (size_t)taken * GM_PAGE, page(gm, p), GM_PAGE);
			if (madvise(page(gm, p), GM_PAGE, MADV_DONTNEED)) {
				uffd_writeprotect(gm->uffd.fd, page(gm, p), GM_PAGE, 0);
				continue;
			}
			set_state(gm, p, GM_SAMPLED, 0);
		} else if (s == GM_ZERO) {
			madvise(page(gm, p), GM_PAGE, MADV_DONTNEED);
		}
		gm->state[p] |= GM_SAMPLE;
		gm->sample_idx[taken++] = p;
	}
	gm->sample_live = taken;
	pthread_mutex_unlock(&gm->lock);
}

/* ---- accounting ----------------------------------------------------------------- */

int64_t guest_mem_idle_excess(struct guest_mem *gm)
{
	int64_t excess = INT64_MIN;
	uint64_t consumed;

	pthread_mutex_lock(&gm->lock);
	consumed = held_pages(gm) * GM_PAGE;
	if (consumed && !gm->swap_disabled && (!gm->swap_full || gm->zip))
		excess = (int64_t)consumed - (int64_t)(gm->active_frac * (double)gm->size);
	pthread_mutex_unlock(&gm->lock);
	return excess;
}

static uint64_t meta_bytes(const struct guest_mem *gm)
{
	/* State and slot; with compression, the age queue link and chunk records. */
	uint64_t per_page = sizeof(uint8_t) + sizeof(uint32_t) + (gm->zip ? sizeof(uint32_t) : 0);

	return (uint64_t)gm->npages * per_page + (gm->zip ? (uint64_t)gm->zpool.nchunks * 48 : 0);
}

static uint64_t buffer_bytes(const struct guest_mem *gm)
{
	return ((uint64_t)gm->fault_around + 2ULL * gm->prefetch + SWAP_BATCH_MAX + gm->nsample +
		(gm->zip ? SWAP_BATCH_MAX + gm->prefetch : 0)) * GM_PAGE;
}

uint64_t guest_mem_overhead(struct guest_mem *gm)
{
	uint64_t mapped;

	pthread_mutex_lock(&gm->lock);
	mapped = held_pages(gm) + gm->n_state[GM_ZERO];
	pthread_mutex_unlock(&gm->lock);
	/* Host page tables: 8 bytes per mapped page, plus the upper levels. */
	return meta_bytes(gm) + buffer_bytes(gm) + mapped * 8 + mapped * 8 / 512;
}

void guest_mem_get_stats(struct guest_mem *gm, struct guest_mem_stats *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&gm->lock);
	s->memsz = gm->size;
	s->mapped = gm->n_mapped * GM_PAGE;
	s->consumed = held_pages(gm) * GM_PAGE;
	s->zero = gm->n_state[GM_ZERO] * GM_PAGE;
	s->swapped = (gm->n_state[GM_SWAPPED] + gm->n_state[GM_KSWAPPED] + gm->n_state[GM_READING]) * GM_PAGE;
	s->readahead_pages = gm->readahead_pages;
	s->zip_pages = gm->n_state[GM_ZIPPED];
	s->same_pages = gm->n_state[GM_SAME];
	s->zip_bytes = zpool_bytes(&gm->zpool);
	s->zip_data_bytes = gm->zpool.data_bytes;
	s->zip_cap = (uint64_t)gm->zpool.nchunks * ZPOOL_CHUNK;
	s->zipped = gm->zipped;
	s->unzipped = gm->unzipped;
	s->zip_writebacks = gm->zip_writebacks;
	s->evicting = gm->n_state[GM_EVICTING] * GM_PAGE;
	s->sampled = gm->n_state[GM_SAMPLED] * GM_PAGE;
	s->swapins = gm->swapins;
	s->swapouts = gm->swapouts;
	s->swapin_faults = gm->swapin_faults;
	memcpy(s->faults, gm->faults, sizeof(s->faults));
	s->active = (uint64_t)(gm->active_frac * (double)gm->size);
	s->meta_bytes = meta_bytes(gm);
	s->buffer_bytes = buffer_bytes(gm);
	s->fault_p50_ns = hist_quantile(&gm->fault_hist, 0.50);
	s->fault_p99_ns = hist_quantile(&gm->fault_hist, 0.99);
	s->fault_max_ns = gm->fault_hist.max;
	s->swap_errors = gm->swap_errors;
	s->swap_disabled = gm->swap_disabled;
	s->swap_full = gm->swap_full;
	pthread_mutex_unlock(&gm->lock);
}
