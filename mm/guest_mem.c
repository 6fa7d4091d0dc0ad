/*
 * Guest memory's life cycle and fault service: set-up from pagemap, the
 * fault thread and the dispatch by page state, the VMM's own reads,
 * reconciliation with the kernel, activity sampling and the figures.
 * Swap-in, eviction and the compression cache live in gm_swapin.c,
 * gm_evict.c and gm_zip.c.
 */
#include "gm_internal.h"
#include "guest_mem.h"
#include "mm_host.h"
#include "pagemap.h"
#include "pshare.h"
#include "thread_name.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define MSGS_PER_READ 16

/* Change page p's state, keeping the per-state counts and the host's total. */
void gm_set_state(struct guest_mem *gm, uint32_t p, enum gm_state s, uint8_t flags)
{
	enum gm_state old = st(gm, p);

	if (resident(old) != resident(s))
		mm_host_account(gm->host, resident(s) ? 1 : -1);
	gm->n_state[old]--;
	gm->n_state[s]++;
	/* Queue membership outlives states: only the queue's pop clears it. */
	gm->state[p] = (uint8_t)(s | flags | (gm->state[p] & GM_INZQ));
}

void gm_set_run(struct guest_mem *gm, uint32_t p, uint32_t n, enum gm_state s, uint8_t first_flags)
{
	for (uint32_t i = 0; i < n; i++)
		gm_set_state(gm, p + i, s, (uint8_t)((gm->state[p + i] & GM_SAMPLE) | (i == 0 ? first_flags : 0)));
}

void gm_for_runs(struct guest_mem *gm, const uint32_t *v, unsigned n,
		 void (*fn)(struct guest_mem *gm, uint32_t first, uint32_t count, int arg), int arg)
{
	for (unsigned i = 0, j; i < n; i = j) {
		j = gm_run_end(v, i, n);
		fn(gm, v[i], v[j - 1] - v[i] + 1, arg);
	}
}

void gm_log(struct guest_mem *gm, const char *fmt, ...)
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

void *gm_alloc_pages(size_t n)
{
	void *p = mmap(NULL, n * GM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void gm_free_pages(void *p, size_t n)
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
			gm_set_state(gm, base + i, (e[i] & PM_PFN_MASK) == gm->zero_pfn && gm->zero_pfn ?
				  GM_ZERO : GM_PRESENT, 0);
			gm->n_mapped++;
		}
	}
	free(e);
	return 0;
}

int gm_zip_init(struct guest_mem *gm, const struct guest_mem_config *cfg, char *err,
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
	if (cfg->fault_poll_us > FAULT_POLL_MAX_US)
		return ERR("fault polling takes 0-%d microseconds", FAULT_POLL_MAX_US);
	fault_poll_init(&gm->poll, (uint64_t)cfg->fault_poll_us * 1000);
	gm->nsample = cfg->sample_pages ? cfg->sample_pages : GM_DEFAULT_SAMPLE_PAGES;
	if (gm->fault_around > 64 || gm->prefetch > SWAP_READ_MAX || gm->nsample > 10000)
		return ERR("fault_around takes 1-64 pages, prefetch 1-%d, sampling at most 10000", SWAP_READ_MAX);
	if (gm->nsample > gm->npages)
		gm->nsample = gm->npages;
	gm->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)ram ^ now_ns();

	gm->state = calloc(gm->npages, 1);
	gm->slot = malloc((size_t)gm->npages * sizeof(uint32_t));
	gm->hash = XXH3_64bits;
	gm->share_rate = cfg->share_rate;
	if (cfg->share && !(gm->phash = calloc(gm->npages, sizeof(uint32_t))))
		return ERR("out of memory for page hashes");
	gm->ram_fd = -1;
	if (cfg->share && cfg->pshare) {
		gm->ps = cfg->pshare;
		gm->ram_fd = cfg->ram_fd;
		gm->share_group = cfg->share_group;
		gm->frame = malloc((size_t)gm->npages * sizeof(uint32_t));
		gm->brk_buf = gm_alloc_pages(1);
		if (!gm->frame || !gm->brk_buf)
			return ERR("out of memory for page sharing");
		memset(gm->frame, 0xff, (size_t)gm->npages * sizeof(uint32_t));
		/* What the loader wrote is private already; a page it only read
		 * was filled into the memfd, and would hide a hole from userfaultfd. */
		if (fallocate(gm->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)gm->size))
			return ERR("emptying the guest RAM memfd: %s", strerror(errno));
	}
	gm->sample_idx = calloc(gm->nsample, sizeof(uint32_t));
	/* Read-only and never written, so it is the kernel's zero page and costs no memory. */
	gm->zero_buf = mmap(NULL, (size_t)GM_FAULT_AROUND_MAX * GM_PAGE, PROT_READ,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gm->zero_buf == MAP_FAILED)
		gm->zero_buf = NULL;
	gm->io_buf = gm_alloc_pages(gm->prefetch);
	gm->ahead_buf = gm_alloc_pages(gm->prefetch);
	gm->stage = gm_alloc_pages(SWAP_BATCH_MAX);
	gm->sample_buf = gm_alloc_pages(gm->nsample);
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
		gm_log(gm, "kernel lacks userfaultfd write-protect for anonymous memory: swapping is off");
	if (uffd_register(&gm->uffd, ram, gm->size, uerr, sizeof(uerr)) < 0)
		return ERR("%s", uerr);
	if (cfg->ksm_mergeable && madvise(ram, gm->size, MADV_MERGEABLE))
		return ERR("MADV_MERGEABLE: %s (a kernel without KSM?)", strerror(errno));
	gm->swap_disabled = !gm->uffd.has_wp && !gm->kernel_swap;

	gm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (gm->stop_fd < 0)
		return ERR("eventfd: %s", strerror(errno));
	if (gm->kernel_swap)
		return 0; /* the host's swap holds the pages: no file of ours */
	if (cfg->compress && gm_zip_init(gm, cfg, err, errlen))
		return -1;
	gm->swap = swapfile_open(cfg->swap_dir, gm->name, cfg->swap_max_pages ? cfg->swap_max_pages : gm->npages,
				 cfg->swap_encrypt ? SWAPFILE_ENCRYPT : 0, uerr, sizeof(uerr));
	if (!gm->swap)
		return ERR("%s", uerr);
	return 0;
}

/* ---- fault service -------------------------------------------------------- */

void gm_fail(struct guest_mem *gm, const char *msg)
{
	if (gm->fatal)
		gm->fatal(gm->fatal_ctx, msg);
	else
		gm_log(gm, "%s", msg);
}

/* Room for win more pages: the host stays high, the VM inside its limit and any revoked target. */
static int may_grow(struct guest_mem *gm, unsigned win)
{
	if (over_limit(gm, win) || (gm->revoked && held_pages(gm) + win > gm->sztgt))
		return 0;
	return !gm->host || mm_host_roomy(gm->host, win);
}

/*
 * Which pages [*lo, *hi) around p a first-touch fault may fill.  A guest
 * that fills memory in order, upwards (a kernel zeroing its page
 * structures, unpacking an initramfs) or downwards (a bzImage moving
 * itself to the top of its buffer with a backward copy), would otherwise
 * pay a round trip per fault_around pages, or per page going down.  As
 * swap-in readahead does, a fault at the page just past the last window,
 * on either side, doubles it, up to GM_FAULT_AROUND_MAX.  Grown windows
 * end on a boundary of their own size, so a guest that fills an aligned
 * range gets no page beyond it; and they are taken only while the host
 * stays in the high state and the VM inside its limit (a fast guest would
 * otherwise run past the limit before the host's thread looks), where a
 * few unused zeroed pages cost nothing that sharing's zero scan does not
 * take back.
 */
static void first_touch_window(struct guest_mem *gm, uint32_t p, uint32_t *lo, uint32_t *hi)
{
	int up = p == gm->ft_hi, down = p + 1 == gm->ft_lo;
	unsigned win = gm->fault_around;
	uint64_t end = (uint64_t)p + win;

	if ((up || down) && gm->ft_win >= gm->fault_around) {
		win = gm->ft_win * 2 > GM_FAULT_AROUND_MAX ? GM_FAULT_AROUND_MAX : gm->ft_win * 2;
		if (!may_grow(gm, win))
			win = gm->fault_around;
	}
	*lo = p;
	if (win > gm->fault_around) {
		if (down) {
			*lo = p / win * win;
			end = (uint64_t)p + 1;
		} else {
			end = ((uint64_t)p / win + 1) * win;
		}
	}
	*hi = (uint32_t)(end < gm->npages ? end : gm->npages);
	gm->ft_win = win;
}

static int untouched(const struct guest_mem *gm, uint32_t p)
{
	return st(gm, p) == GM_UNTOUCHED && !(gm->state[p] & GM_SAMPLE);
}

/* Map pages [i, i + n): the zero page for a read, zeroed host pages for a write. */
static int map_zeroed(struct guest_mem *gm, uint32_t i, uint32_t n, int write)
{
	if (write)
		return uffd_copy(gm->uffd.fd, page(gm, i), gm->zero_buf, (size_t)n * GM_PAGE, 0);
	return uffd_zeropage(gm->uffd.fd, page(gm, i), (size_t)n * GM_PAGE, 0);
}

/* First touch: zero page for a read, zeroed host pages for a write. */
static void fault_untouched(struct guest_mem *gm, uint32_t p, int write)
{
	uint32_t lo, hi, a = p, b = p + 1;
	int rc;

	first_touch_window(gm, p, &lo, &hi);
	while (a > lo && untouched(gm, a - 1))
		a--;
	while (b < hi && untouched(gm, b))
		b++;
	rc = map_zeroed(gm, a, b - a, write);
	if (rc == -EEXIST) {
		/*
		 * Someone (the kernel, for the VMM's own write) mapped a page of
		 * the run: the ioctl stopped there, having mapped the pages before
		 * it and not those after, which may hold p (a window grown
		 * downwards starts below p).  Page by page, then: each is mapped
		 * now, by us or before us.
		 */
		rc = 0;
		for (uint32_t i = a; i < b && !rc; i++)
			if ((rc = map_zeroed(gm, i, 1, write)) == -EEXIST)
				rc = 0;
		uffd_wake(gm->uffd.fd, page(gm, p), GM_PAGE);
	}
	if (rc) {
		char msg[128];
		snprintf(msg, sizeof(msg), "cannot map a first-touch page at gpa 0x%llx: %s",
			 (unsigned long long)p * GM_PAGE, strerror(-rc));
		gm_fail(gm, msg);
		return;
	}
	gm->ft_lo = a;
	gm->ft_hi = b;
	for (uint32_t i = a; i < b; i++)
		gm_set_state(gm, i, write ? GM_PRESENT : GM_ZERO, i == p ? GM_REF : 0);
	gm->n_mapped += b - a;
}

static void fault_sampled(struct guest_mem *gm, uint32_t p)
{
	unsigned i;
	int rc;

	for (i = 0; i < gm->sample_live; i++)
		if (gm->sample_idx[i] == p)
			break;
	if (i == gm->sample_live) {
		gm_fail(gm, "internal error: sampled page without a saved copy");
		return;
	}
	rc = uffd_copy(gm->uffd.fd, page(gm, p), gm->sample_buf + (size_t)i * GM_PAGE, GM_PAGE, 0);
	if (rc) {
		char msg[128];
		snprintf(msg, sizeof(msg), "restoring a sampled page: %s", strerror(-rc));
		gm_fail(gm, msg);
		return;
	}
	gm_set_state(gm, p, GM_PRESENT, GM_REF);
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
	case GM_BALLOONED:
		/* The guest touched a page it gave up: a zero page, as a first touch gets. */
		gm_set_state(gm, p, GM_UNTOUCHED, 0);
		fault_untouched(gm, p, write);
		break;
	case GM_ZERO:
		/* Dropped by sampling: map the zero page (or a fresh page) again. */
		gm_set_state(gm, p, GM_UNTOUCHED, 0);
		gm->n_mapped--;
		fault_untouched(gm, p, write);
		break;
	case GM_SWAPPED:
	case GM_READING:
		kind = GM_FAULT_SWAPIN;
		gm_fault_swapped(gm, p);
		break;
	case GM_SAMPLED:
		kind = GM_FAULT_SAMPLE;
		fault_sampled(gm, p);
		break;
	case GM_ZIPPED:
	case GM_SAME:
		kind = GM_FAULT_UNZIP;
		gm_fault_unzip(gm, p, write);
		break;
	case GM_PRESENT:
	case GM_EVICTING:
	case GM_MERGING:
	case GM_SHARED:   /* its frame is there to read */
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
	/* Reads of a shared page never fault: this is a write, the share breaks. */
	if (s == GM_SHARED) {
		if (gm->host) {
			pthread_mutex_unlock(&gm->lock);
			mm_host_gate(gm->host, 1, &gm->stopping);
			pthread_mutex_lock(&gm->lock);
		}
		if (st(gm, p) == GM_SHARED) {
			gm_break_share(gm, p);
			gm->faults[GM_FAULT_COW]++;
			hist_add(&gm->fault_hist, now_ns() - t0);
			hist_add(&gm->fault_hist_kind[GM_FAULT_COW], now_ns() - t0);
		} else {
			uffd_wake(gm->uffd.fd, page(gm, p), GM_PAGE);
		}
		pthread_mutex_unlock(&gm->lock);
		return;
	}
	/* A page being evicted is mapped, so any fault on it is a write to its
	 * write-protected copy, whether or not the fault said so (a KVM
	 * memory-fault exit does not). */
	if (wp || s == GM_EVICTING || s == GM_MERGING) {
		/* A guest write raced with an eviction or a merge: the write wins. */
		if (s == GM_EVICTING || s == GM_MERGING)
			gm_set_state(gm, p, GM_PRESENT, GM_REF);
		gm->faults[GM_FAULT_WP]++;
		gm_wp(gm, p, 1, 0);
		pthread_mutex_unlock(&gm->lock);
		return;
	}
	/* A fault that takes host memory may wait for reclaim (the low state). */
	if (gm->host && ((s == GM_UNTOUCHED || s == GM_ZERO || s == GM_BALLOONED) ? write :
			 (s == GM_SWAPPED || s == GM_READING || s == GM_SAMPLED || s == GM_ZIPPED ||
			  s == GM_SAME))) {
		unsigned n = s == GM_SWAPPED || s == GM_READING ? gm->prefetch :
			     s == GM_UNTOUCHED || s == GM_ZERO ? gm->fault_around : 1;
		/* Past its limit, the VM's pages go now, not at the host thread's next period. */
		int over = over_limit(gm, n);

		pthread_mutex_unlock(&gm->lock);
		if (over)
			mm_host_kick(gm->host);
		mm_host_gate(gm->host, n, &gm->stopping);
		pthread_mutex_lock(&gm->lock);
		s = st(gm, p);
	}
	kind = serve(gm, p, s, write);
	gm->faults[kind]++;
	hist_add(&gm->fault_hist, now_ns() - t0);
	hist_add(&gm->fault_hist_kind[kind], now_ns() - t0);
	pthread_mutex_unlock(&gm->lock);
}

/* The pages [*first, *last] that [gpa, gpa + len) touches: 1, 0 for nothing to do, -EFAULT outside RAM. */
static int span(const struct guest_mem *gm, uint64_t gpa, size_t len, uint32_t *first, uint32_t *last)
{
	if (len == 0)
		return 0;
	if (gpa >= gm->size || len > gm->size - gpa)
		return -EFAULT;
	*first = (uint32_t)(gpa / GM_PAGE);
	*last = (uint32_t)((gpa + len - 1) / GM_PAGE);
	return 1;
}

/*
 * Make page p ready for the VMM's own access (lock held): 1 if it is, 0
 * if it had to be brought in (swap-in drops the lock: look again).  A
 * write breaks a share and wins over an eviction or a merge, as a guest
 * write does; a kernel-swapped page faults back in through the kernel.
 */
static int ready(struct guest_mem *gm, uint32_t p, int write)
{
	enum gm_state s = st(gm, p);

	if (write && s == GM_SHARED)
		gm_break_share(gm, p);
	else if (s == GM_ZERO && (write || (gm->state[p] & GM_SAMPLE))) {
		/*
		 * Sampling unmaps a zero page, and a write would make one data
		 * that the state still calls zero: serve it as a fault does, so
		 * our memcpy never faults under our own lock and the page is
		 * PRESENT once written.
		 */
		serve(gm, p, s, write);
		return 0;
	} else if (write && (s == GM_EVICTING || s == GM_MERGING))
		gm_set_state(gm, p, GM_PRESENT, GM_REF);
	else if (s != GM_PRESENT && s != GM_ZERO && s != GM_KSWAPPED && s != GM_EVICTING && s != GM_SHARED &&
		 s != GM_MERGING) {
		serve(gm, p, s, write);
		return 0;
	}
	return 1;
}

static int vmm_access(struct guest_mem *gm, uint64_t gpa, void *buf, size_t len, int write)
{
	uint32_t first, last;
	int rc = span(gm, gpa, len, &first, &last);

	if (rc <= 0)
		return rc;
	pthread_mutex_lock(&gm->lock);
	for (int round = 0; round < 8; round++) {
		int all = 1;

		for (uint32_t p = first; p <= last; p++)
			all &= ready(gm, p, write);
		if (!all)
			continue;
		if (write) {
			/* Nothing may be write-protected under our own lock: the fault would wait for it. */
			gm_wp(gm, first, last - first + 1, 0);
			memcpy(gm->ram + gpa, buf, len);
		} else {
			memcpy(buf, gm->ram + gpa, len);
		}
		pthread_mutex_unlock(&gm->lock);
		return 0;
	}
	pthread_mutex_unlock(&gm->lock);
	return -EAGAIN;
}

int guest_mem_read(struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	return vmm_access(gm, gpa, dst, len, 0);
}

int guest_mem_write(struct guest_mem *gm, uint64_t gpa, const void *src, size_t len)
{
	return vmm_access(gm, gpa, (void *)(uintptr_t)src, len, 1);
}

/*
 * Spin up to the poll window for the next message (fault_poll.h); returns
 * what read(2) returned, or 0 when the window passed with nothing.
 */
static ssize_t spin_for_faults(struct guest_mem *gm, struct uffd_msg *msgs, size_t len)
{
	uint64_t window = gm->poll.window_ns, t0, t;
	ssize_t n = 0;

	if (!window || (gm->host && !fault_poll_claim(&gm->host->fault_spinning, gm->host->fault_spinners)))
		return 0;
	t0 = now_ns();
	do {
		n = read(gm->uffd.fd, msgs, len);
		if (n > 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		n = 0;
		/* Let a vCPU that shares this CPU run: it is likely the one about to fault. */
		sched_yield();
		t = now_ns();
	} while (t - t0 < window);
	if (gm->host)
		fault_poll_release(&gm->host->fault_spinning);
	gm->poll_ns += now_ns() - t0;
	if (n > 0)
		gm->poll_hits++;
	return n;
}

static void *fault_thread(void *arg)
{
	struct guest_mem *gm = arg;
	struct uffd_msg msgs[MSGS_PER_READ];
	struct pollfd pfd[2] = {
		{ .fd = gm->uffd.fd, .events = POLLIN },
		{ .fd = gm->stop_fd, .events = POLLIN },
	};
	uint64_t served = 0;         /* when the last batch was served (0: none yet) */

	for (;;) {
		ssize_t n = served ? spin_for_faults(gm, msgs, sizeof(msgs)) : 0;

		if (!n) {
			if (poll(pfd, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				gm_log(gm, "fault thread: poll: %s", strerror(errno));
				break;
			}
			if (pfd[1].revents)
				break;
			n = read(gm->uffd.fd, msgs, sizeof(msgs));
			if (n > 0 && served)
				fault_poll_slept(&gm->poll, now_ns() - served);
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			gm_log(gm, "fault thread: read: %s", strerror(errno));
			break;
		}
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
			if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			guest_mem_fault(gm, msgs[i].arg.pagefault.address,
					(msgs[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0,
					(msgs[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) != 0);
		}
		served = now_ns();
	}
	return NULL;
}

int guest_mem_start(struct guest_mem *gm, char *err, size_t errlen)
{
	int e = pthread_create(&gm->thread, NULL, fault_thread, gm);

	if (e)
		return ERR("cannot start the fault thread: %s", strerror(e));
	gm->thread_started = 1;
	thread_name(gm->thread, "fault-%s", gm->name);
	return 0;
}

void guest_mem_stop(struct guest_mem *gm)
{
	uint64_t one = 1;

	if (!gm->thread_started)
		return;
	if (write(gm->stop_fd, &one, sizeof(one)) != sizeof(one))
		gm_log(gm, "cannot signal the fault thread: %s", strerror(errno));
	pthread_join(gm->thread, NULL);
	gm->thread_started = 0;
}

void guest_mem_destroy(struct guest_mem *gm)
{
	guest_mem_stop(gm);
	for (uint32_t p = 0; gm->ps && gm->frame && p < gm->npages; p++)
		if (gm->frame[p] != SLOT_NONE && pshare_put(gm->ps, gm->frame[p]))
			mm_host_account(gm->host, -1);
	free(gm->frame);
	gm->frame = NULL;
	gm_free_pages(gm->brk_buf, 1);
	gm->brk_buf = NULL;
	mm_host_account(gm->host, -(int64_t)held_pages(gm));
	mm_host_account_zip(gm->host, -(int64_t)gm->zip_accounted);
	gm->zip_accounted = 0;
	zip_free(gm->zip);
	gm->zip = NULL;
	zpool_destroy(&gm->zpool);
	gm_free_pages(gm->zout, SWAP_BATCH_MAX);
	gm_free_pages(gm->zbuf, gm->prefetch);
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
	free(gm->phash);
	gm->phash = NULL;
	free(gm->sample_idx);
	gm_free_pages(gm->zero_buf, GM_FAULT_AROUND_MAX);
	gm_free_pages(gm->io_buf, gm->prefetch);
	gm_free_pages(gm->ahead_buf, gm->prefetch);
	gm_free_pages(gm->stage, SWAP_BATCH_MAX);
	gm_free_pages(gm->sample_buf, gm->nsample);
	gm->state = NULL;
	gm->slot = NULL;
	pthread_mutex_destroy(&gm->lock);
	pthread_mutex_destroy(&gm->evict_lock);
	pthread_cond_destroy(&gm->io_cond);
}

void guest_mem_forget_hints(struct guest_mem *gm)
{
	if (gm->ps)
		pshare_forget(gm->ps, gm);
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
					gm_set_state(gm, p + i, GM_PRESENT,
						  (uint8_t)(GM_REF | (gm->state[p + i] & GM_SAMPLE)));
				/* The kernel swapped it back in: the guest touched it. */
				if (st(gm, p + i) == GM_KSWAPPED && (e[i] & PM_PRESENT)) {
					gm_set_state(gm, p + i, GM_PRESENT, GM_REF);
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
				gm_set_state(gm, p, GM_PRESENT, 0);
			else
				gm_fail(gm, "cannot restore a sampled page");
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

		if (gm->state[p] & GM_SAMPLE || s == GM_EVICTING || s == GM_MERGING || s == GM_SAMPLED)
			continue; /* drawn twice, or busy: the sample is a little smaller */
		/* A kswapped sample counts as touched once reconcile sees it back. */
		if (s == GM_PRESENT) {
			gm_wp(gm, p, 1, 1);
			memcpy(gm->sample_buf + (size_t)taken * GM_PAGE, page(gm, p), GM_PAGE);
			if (madvise(page(gm, p), GM_PAGE, MADV_DONTNEED)) {
				gm_wp(gm, p, 1, 0);
				continue;
			}
			gm_set_state(gm, p, GM_SAMPLED, 0);
		} else if (s == GM_ZERO) {
			uint64_t e = 0;
			int written;
			/*
			 * Write-protected before the look: a guest write between the
			 * look and the drop would otherwise make the kernel copy the
			 * zero page, and the drop would throw the write away.  Now it
			 * waits for our lock and lands on the page's next first touch.
			 */
			gm_wp(gm, p, 1, 1);
			/* Written since reconcile looked (the zero page got a private copy): data, not a sample. */
			written = !gm->zero_pfn || pagemap_read(gm->pagemap_fd, page(gm, p), 1, &e) ||
				  ((e & PM_PRESENT) && (e & PM_PFN_MASK) != gm->zero_pfn);
			if (!written)
				madvise(page(gm, p), GM_PAGE, MADV_DONTNEED);
			gm_wp(gm, p, 1, 0);
			if (written) {
				if (gm->zero_pfn && (e & PM_PRESENT))
					gm_set_state(gm, p, GM_PRESENT, GM_REF);
				continue;
			}
		}
		gm->state[p] |= GM_SAMPLE;
		gm->sample_idx[taken++] = p;
	}
	gm->sample_live = taken;
	pthread_mutex_unlock(&gm->lock);
}

/* ---- accounting ----------------------------------------------------------------- */

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int guest_mem_set_shares(struct guest_mem *gm, unsigned shares, char *err, size_t errlen)
{
	if (shares < 1 || shares > 1000000)
		return ERR("shares: %u is not 1-1000000", shares);
	pthread_mutex_lock(&gm->lock);
	gm->shares = shares;
	pthread_mutex_unlock(&gm->lock);
	return 0;
}

int guest_mem_set_reservation(struct guest_mem *gm, uint64_t bytes, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&gm->lock);
	if (bytes > gm->size || (gm->limit && bytes / GM_PAGE > gm->limit))
		rc = ERR("reservation: %llu MiB is more than the VM's memory or its limit",
			 (unsigned long long)(bytes >> 20));
	else
		gm->reservation = bytes / GM_PAGE;
	pthread_mutex_unlock(&gm->lock);
	return rc;
}

int guest_mem_set_limit(struct guest_mem *gm, uint64_t bytes, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&gm->lock);
	if (bytes && bytes / GM_PAGE < gm->reservation)
		rc = ERR("limit: %llu MiB is less than the VM's reservation (%llu MiB)",
			 (unsigned long long)(bytes >> 20), (unsigned long long)(gm->reservation * GM_PAGE >> 20));
	else
		gm->limit = bytes / GM_PAGE;
	pthread_mutex_unlock(&gm->lock);
	return rc;
}

int guest_mem_set_zip_max_pct(struct guest_mem *gm, unsigned pct, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&gm->lock);
	if (!gm->zip)
		rc = ERR("zip_max_pct: this VM has no compression cache (--no-compress or --swap-backend kernel)");
	else if (pct > 100)
		rc = ERR("zip_max_pct: %u is not 0-100", pct);
	else if (gm->size / 100 * pct > (uint64_t)gm->zpool.nchunks * ZPOOL_CHUNK + ZPOOL_CHUNK - 1)
		rc = ERR("zip_max_pct: at most %u at run time (room for the cache is reserved when the VM starts; "
			 "start it with a higher zip_max_pct to raise it further)",
			 (unsigned)(((uint64_t)gm->zpool.nchunks * ZPOOL_CHUNK * 100 + gm->size / 2) / gm->size));
	else
		zpool_set_limit(&gm->zpool, gm->size / 100 * pct);
	pthread_mutex_unlock(&gm->lock);
	return rc;
}

void guest_mem_fault_hists(struct guest_mem *gm, struct hist out[GM_FAULT_KINDS])
{
	pthread_mutex_lock(&gm->lock);
	memcpy(out, gm->fault_hist_kind, sizeof(gm->fault_hist_kind));
	pthread_mutex_unlock(&gm->lock);
}

int guest_mem_excess(struct guest_mem *gm, int64_t *over_target, int64_t *idle)
{
	int rc = -1;
	uint64_t consumed;

	pthread_mutex_lock(&gm->lock);
	consumed = held_pages(gm) * GM_PAGE;
	if (consumed && !gm->swap_disabled && (!gm->swap_full || gm->zip)) {
		*idle = (int64_t)consumed - (int64_t)(gm->active_frac * (double)gm->size);
		/* Only a VM the policy took memory from: a growing VM is above a target that is a period old. */
		*over_target = gm->revoked ? (int64_t)consumed - (int64_t)(gm->sztgt * GM_PAGE) : 0;
		rc = 0;
	}
	pthread_mutex_unlock(&gm->lock);
	return rc;
}

static uint64_t meta_bytes(const struct guest_mem *gm)
{
	/* State and slot; with compression, chunk records (the age queue lives in
	 * the cache's objects); with sharing, the page hash and the frame number. */
	uint64_t per_page = sizeof(uint8_t) + sizeof(uint32_t) + (gm->phash ? sizeof(uint32_t) : 0) +
			    (gm->frame ? sizeof(uint32_t) : 0);

	return (uint64_t)gm->npages * per_page + (gm->zip ? (uint64_t)gm->zpool.nchunks * 48 : 0);
}

static uint64_t buffer_bytes(const struct guest_mem *gm)
{
	return (2ULL * gm->prefetch + SWAP_BATCH_MAX + gm->nsample +
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

void guest_mem_usage(struct guest_mem *gm, uint64_t *consumed, uint64_t *ballooned, uint64_t *reclaimed)
{
	pthread_mutex_lock(&gm->lock);
	*consumed = held_pages(gm);
	*ballooned = gm->n_state[GM_BALLOONED];
	*reclaimed = gm->n_state[GM_SWAPPED] + gm->n_state[GM_KSWAPPED] + gm->n_state[GM_READING] +
		     gm->n_state[GM_ZIPPED] + gm->n_state[GM_SAME];
	pthread_mutex_unlock(&gm->lock);
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
	s->zip_cap = (uint64_t)gm->zpool.limit * ZPOOL_CHUNK;
	s->zipped = gm->zipped;
	s->unzipped = gm->unzipped;
	s->zip_writebacks = gm->zip_writebacks;
	s->zip_cold_writebacks = gm->zip_cold_writebacks;
	s->scan_zero = gm->scan_zero;
	s->ballooned = gm->n_state[GM_BALLOONED];
	s->reported = gm->reported;
	s->shared = gm->n_state[GM_SHARED];
	s->share_merges = gm->share_merges;
	s->share_breaks = gm->share_breaks;
	s->share_differ = gm->share_differ;
	s->share_victims = gm->share_victims;
	/* A frame of n sharers saves n - 1 pages: each of them is credited (n - 1) / n. */
	for (uint32_t p = 0; s->shared && p < gm->npages; p++)
		if (st(gm, p) == GM_SHARED) {
			uint32_t n = pshare_refs(gm->ps, gm->frame[p]);
			s->share_saved_milli += n ? 1000ULL * (n - 1) / n : 0;
		}
	s->evicting = gm->n_state[GM_EVICTING] * GM_PAGE;
	s->sampled = gm->n_state[GM_SAMPLED] * GM_PAGE;
	s->swapins = gm->swapins;
	s->swapouts = gm->swapouts;
	s->swapin_faults = gm->swapin_faults;
	memcpy(s->faults, gm->faults, sizeof(s->faults));
	s->poll_hits = gm->poll_hits;
	s->poll_ns = gm->poll_ns;
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
