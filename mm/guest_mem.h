/*
 * A VM's guest RAM as the memory manager owns it.
 *
 * The RAM is an anonymous private mapping registered with userfaultfd for
 * missing-page and write-protect faults.  A compact per-page state (one
 * byte, plus a swap slot number) says where each page's content is:
 *
 *   untouched  never touched: the first read maps the shared zero page
 *              (no host memory), the first write a fresh zeroed page
 *   zero       mapped to the shared zero page
 *   present    backed by a host page of its own ("consumed")
 *   evicting   being written to swap: write-protected, still present
 *   swapped    in a slot of the VM's swap file; the host page is freed
 *   reading    swapped, and being read back (a fault's read, or readahead)
 *   sampled    dropped for one activity-sampling period; its content
 *              waits in a small side buffer
 *   zipped     compressed into the VM's compression cache (slot: its handle)
 *   same       one 32-bit word repeated over the page (slot: the word);
 *              nothing stored
 *   kswapped   handed to the host kernel's swap with MADV_PAGEOUT (the
 *              kernel-mechanism mode, a bench peer): the kernel brings it
 *              back on the next touch without telling us, and
 *              guest_mem_reconcile notices from pagemap
 *
 * Faults are served by a thread per VM (the KVM memory-fault exit, where a
 * kernel offers it, is the vmm's business: it calls guest_mem_fault too).
 * Eviction write-protects a page before copying it out, so a guest write
 * racing with the copy cancels the eviction instead of being lost.
 */
#ifndef MEMVISOR_MM_GUEST_MEM_H
#define MEMVISOR_MM_GUEST_MEM_H

#include "fault_poll.h"
#include "hist.h"
#include "swapfile.h"
#include "uffd.h"
#include "zip.h"
#include "zpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define GM_PAGE 4096u

enum gm_state { GM_UNTOUCHED, GM_ZERO, GM_PRESENT, GM_EVICTING, GM_SWAPPED, GM_SAMPLED, GM_KSWAPPED,
		GM_READING, GM_ZIPPED, GM_SAME, GM_SHARED, GM_MERGING, GM_BALLOONED, GM_NSTATES };
#define GM_STATE_MASK 0x0fu
#define GM_REF        0x10u  /* faulted in since the clock hand last passed */
#define GM_SAMPLE     0x20u  /* in this period's activity sample, untouched so far */
#define GM_INZQ       0x40u  /* in the compression cache's age queue */

enum gm_fault_kind { GM_FAULT_ZERO, GM_FAULT_SWAPIN, GM_FAULT_SAMPLE, GM_FAULT_WP, GM_FAULT_UNZIP,
		    GM_FAULT_COW, GM_FAULT_KINDS };

struct mm_host;
struct pshare;

struct guest_mem_config {
	const char *name;
	uint64_t size;               /* bytes, a multiple of 4 KiB */
	const char *swap_dir;
	uint32_t swap_max_pages;     /* 0: as many as the VM has */
	unsigned fault_around;       /* untouched pages filled per first-touch fault (1-64); the
				      * window grows on sequential faults (GM_FAULT_AROUND_MAX) */
	unsigned prefetch;           /* most swapped pages read per swap-in fault (1-SWAP_READ_MAX) */
	unsigned fault_poll_us;      /* longest spin for the next fault before sleeping (fault_poll.h); 0: never */
	unsigned sample_pages;       /* pages per activity-sampling period (ESX: 100) */
	int sigbus;                  /* faults come as KVM memory-fault exits, not messages */
	int kernel_swap;             /* swap out with MADV_PAGEOUT to host swap, no swap file */
	int compress;                /* compression cache in front of the swap file */
	int swap_encrypt;            /* swap-file pages encrypted and authenticated (swapcrypt.h) */
	int share;                   /* the sharing scanner may look at this VM's pages */
	int ksm_mergeable;           /* MADV_MERGEABLE: Linux KSM may merge (a bench peer) */
	struct pshare *pshare;       /* with share: the host's frames, for non-zero sharing */
	int ram_fd;                  /* with pshare: the memfd ram maps MAP_PRIVATE (offset = gpa) */
	uint32_t share_group;        /* with pshare: VMs share only within a group */
	unsigned share_rate;         /* most pages a second the scanner looks at in this VM (0: its even share) */
	int zip_level;               /* zstd level (ZIP_DEFAULT_LEVEL) */
	unsigned zip_threshold;      /* keep a page compressed if it shrinks to this many bytes */
	unsigned zip_max_pct;        /* cache cap, % of the VM's memory (ESX Mem.MemZipMaxPct);
				      * 0: only same-filled pages are kept */
};

#define GM_DEFAULT_ZIP_THRESHOLD 2048
#define GM_DEFAULT_ZIP_MAX_PCT   10
#define GM_ZIP_THRESHOLD_MAX     (ZPOOL_MAX_DATA - 12u)  /* room for the age queue's record */

#define GM_DEFAULT_FAULT_AROUND 16
/* A run of first-touch faults, each at the page just past the last one's
 * window (above or below), doubles the window up to this (2 MiB) while the
 * host is in the high state and the VM inside its limit. */
#define GM_FAULT_AROUND_MAX     512
#define GM_DEFAULT_PREFETCH     128
#define GM_DEFAULT_SAMPLE_PAGES 100

struct guest_mem_stats {
	uint64_t memsz, mapped, consumed, zero, swapped, evicting, sampled;
	uint64_t swapins, swapouts, swapin_faults;     /* pages, pages, faults */
	uint64_t readahead_pages;                      /* of swapins, read ahead of a fault */
	uint64_t zip_pages, same_pages;                /* now in the cache (compressed, same-filled) */
	uint64_t zip_bytes, zip_data_bytes, zip_cap;   /* cache chunks held, data stored, cap */
	uint64_t zipped, unzipped, zip_writebacks;     /* cumulative pages */
	uint64_t zip_cold_writebacks;                  /* of those, pages gone cold in the cache */
	uint64_t scan_zero;                            /* cumulative pages zero-shared by the scanner */
	uint64_t ballooned;                            /* pages in the balloon now (MCTLSZ) */
	uint64_t reported;                             /* cumulative pages released by free page reporting */
	uint64_t shared, share_saved_milli;            /* pages backed by frames; thousandths of
							* pages that saves (SHRDSVD) */
	uint64_t share_merges, share_breaks, share_differ; /* cumulative: merged, broken by writes,
							    * hash matches the compare refused */
	uint64_t share_victims;                        /* cumulative: victims shared, not stored */
	uint64_t faults[GM_FAULT_KINDS];
	uint64_t poll_hits, poll_ns;                   /* cumulative: batches of messages caught spinning; time spun */
	uint64_t active;                               /* bytes: the TCHD estimate */
	uint64_t meta_bytes, buffer_bytes;
	uint64_t fault_p50_ns, fault_p99_ns, fault_max_ns;
	uint64_t swap_errors;
	int swap_disabled;           /* after a write error, or no uffd-wp */
	int swap_full;               /* every slot taken, for now */
};

struct guest_mem {
	char name[32];
	uint8_t *ram;
	uint64_t size;
	uint32_t npages;
	uint8_t *state;
	uint32_t *slot;
	struct uffd_info uffd;
	int pagemap_fd;
	uint64_t zero_pfn;
	struct swapfile *swap;
	struct mm_host *host;        /* NULL: never blocks (unit tests) */
	unsigned fault_around, prefetch, nsample;
	int sigbus;

	pthread_mutex_t lock;
	pthread_t thread;
	int thread_started;
	int stop_fd;                 /* eventfd: ends the fault thread */
	atomic_int stopping;         /* the VM is ending: never wait in the gate */

	uint8_t *zero_buf;           /* GM_FAULT_AROUND_MAX pages, read-only: the kernel's zero page */
	uint32_t ft_lo, ft_hi;       /* the last first-touch window's pages [ft_lo, ft_hi) */
	unsigned ft_win;             /* that window's size, before it was cut short */
	uint8_t *io_buf;             /* prefetch pages, for swap-in */
	int io_busy;                 /* a thread is reading into io_buf, unlocked */
	pthread_cond_t io_cond;      /* io_busy cleared, or pages left "reading" */
	uint8_t *ahead_buf;          /* prefetch pages, for the readahead in flight */
	uint32_t ahead_first, ahead_n; /* its pages; ahead_n 0: none in flight */
	uint8_t *stage;              /* SWAP_BATCH_MAX pages, for swap-out */
	uint8_t *sample_buf;         /* nsample pages */
	uint32_t *sample_idx;
	unsigned sample_live;        /* samples taken in the current period */

	/* Page counts by state, and cumulative counters (under lock). */
	uint64_t n_state[GM_NSTATES];
	uint64_t n_mapped;
	uint64_t swapins, swapouts, swapin_faults, swap_errors;
	uint64_t readahead_pages;    /* swapped in ahead of the guest's faults */
	uint64_t faults[GM_FAULT_KINDS];
	struct fault_poll poll;      /* the fault thread's own */
	atomic_ullong poll_hits, poll_ns;
	struct hist fault_hist;
	struct hist fault_hist_kind[GM_FAULT_KINDS];   /* the same, by kind */
	int swap_disabled;
	int swap_full;
	uint64_t swap_full_logged_ns;
	uint32_t clock_hand;
	uint32_t ra_next;            /* page after the last swap-in run */
	unsigned ra_win;             /* current swap-in window, 1..prefetch */
	int kernel_swap;
	int kswap_refused;           /* MADV_PAGEOUT left pages resident: host swap off or full */

	/* Compression cache (zip NULL: off). */
	struct zip *zip;
	struct zpool zpool;
	unsigned zip_threshold;
	uint32_t zq_head, zq_tail;   /* the age queue: the compressed pages, oldest first (gm_zip.c) */
	uint32_t back_in;            /* pages brought back from the cache or the file (wraps) */
	uint8_t *zout;               /* SWAP_BATCH_MAX compressed results */
	uint8_t *zbuf;               /* prefetch pages: decompression target */
	uint64_t zip_accounted;      /* chunk bytes told to the host */
	int zip_refusing;            /* full: new pages go to the file until it drains */
	uint64_t zipped, unzipped, zip_writebacks, zip_cold_writebacks;
	pthread_mutex_t evict_lock;  /* one eviction at a time: it owns stage and zout */

	/* Page sharing (phash NULL: off); the scanner's thread alone uses these but the counts. */
	uint32_t *phash;             /* each page's hash when last scanned (0: never) */
	uint32_t scan_cursor;
	uint64_t scan_zero;          /* pages the scanner found all zero and unmapped */
	struct pshare *ps;           /* non-zero sharing (NULL: zero pages only) */
	int ram_fd;
	uint32_t share_group;
	unsigned share_rate;         /* pages a second, 0: no cap of its own */
	uint32_t *frame;             /* by page: the frame a shared page maps */
	uint8_t *brk_buf;            /* one page: the content of a share being broken */
	uint64_t (*hash)(const void *data, size_t len);  /* XXH3-64; a test forces collisions */
	uint64_t share_merges, share_breaks, share_differ;
	uint64_t share_victims;      /* eviction victims mapped to a frame instead of stored */
	uint64_t reported;           /* pages released by free page reporting */
	uint64_t rng;
	double active_frac;          /* smoothed fraction of pages touched per period */

	/* Allocation (set by the VMM before the host's thread starts; the targets by that thread). */
	unsigned shares;             /* 0: ALLOC_DEFAULT_SHARES */
	uint64_t reservation, limit; /* pages; limit 0: none */
	void (*balloon_set)(void *ctx, uint64_t pages);  /* NULL: no balloon the policy may steer */
	void *balloon_ctx;
	uint64_t sztgt, mctltgt;     /* the policy's last targets, pages */
	int revoked;                 /* the policy took some of its want: a swap victim if over SZTGT */

	void (*fatal)(void *ctx, const char *msg);
	void *fatal_ctx;
	void (*log)(void *ctx, const char *msg);
};

/*
 * Take over `ram` (size bytes, already mapped and possibly partly written):
 * learn which pages are present from pagemap, register the range with
 * userfaultfd, create the swap file.  0, or -1 with the reason in err.
 */
int guest_mem_init(struct guest_mem *gm, const struct guest_mem_config *cfg, uint8_t *ram,
		   struct mm_host *host, char *err, size_t errlen);

/* Start and stop the fault-service thread. */
int guest_mem_start(struct guest_mem *gm, char *err, size_t errlen);
void guest_mem_stop(struct guest_mem *gm);

/* Stop, close the uffd and remove the swap file; the RAM mapping stays. */
void guest_mem_destroy(struct guest_mem *gm);

/*
 * Serve one fault at host address addr (write: a write access; wp: a
 * write-protect fault).  Used by the fault thread, and by a vCPU thread
 * that got the gpa from a KVM memory-fault exit.
 */
void guest_mem_fault(struct guest_mem *gm, uint64_t addr, int write, int wp);

/*
 * The VMM's own read of guest memory (a console line, say): brings the
 * pages in first and copies under the lock, so it never faults, even where
 * faults raise SIGBUS (KVM memory-fault mode).  0, -EFAULT outside RAM.
 */
int guest_mem_read(struct guest_mem *gm, uint64_t gpa, void *dst, size_t len);

/*
 * The VMM's own write into guest memory (a device's used ring): the
 * pages are brought in, a share is broken and an eviction or a merge
 * under way loses to it, as a guest write does.  0, -EFAULT outside RAM.
 */
int guest_mem_write(struct guest_mem *gm, uint64_t gpa, const void *src, size_t len);

/* Swap out up to `want` pages chosen by the clock; returns pages freed. */
unsigned guest_mem_evict(struct guest_mem *gm, unsigned want);

/*
 * Swap out every resident page of [gpa, gpa + len) now, whatever the
 * clock says: the guest's own request (a test and bench hook, so that a
 * following pass measures swap-in alone).  Returns pages freed.
 */
uint64_t guest_mem_pageout(struct guest_mem *gm, uint64_t gpa, uint64_t len);

/*
 * Catch up with what the kernel did behind our back: a write to the zero
 * page, or (kernel-swap mode) a kernel-swapped page faulted back in.
 */
void guest_mem_reconcile(struct guest_mem *gm);

/*
 * The sharing scanner's visit (its thread only): hash up to `budget`
 * pages from where the last visit stopped.  A resident page whose hash is
 * the zero page's, unchanged since the previous visit (a page that
 * changed is likely to change again), and all zero on a full compare
 * under write protection, is unmapped and mapped to the shared zero page.
 * Returns pages scanned; *wrapped counts passes over the whole VM.
 */
unsigned guest_mem_scan(struct guest_mem *gm, unsigned budget, uint64_t zero_hash, unsigned *wrapped);

/* The VM leaves the host: the sharing table forgets its pages (vms_lock held for writing). */
void guest_mem_forget_hints(struct guest_mem *gm);

/*
 * Ballooning, the memory manager's side (the balloon device's backend).
 * Inflate: the guest gave page pfn up; its host memory goes, whatever
 * holds it (a page, a swap slot, a compressed copy, a share), and it
 * counts as ballooned until deflated.  A guest touch of it still works
 * and gets a zero page.  0, or -1 if the page is busy right now (being
 * evicted, merged, read or sampled, or in host swap) and stays as it is.
 * Deflate: the page is the guest's again, zero-filled on its next touch.
 */
int guest_mem_balloon_inflate(struct guest_mem *gm, uint32_t pfn);
int guest_mem_balloon_deflate(struct guest_mem *gm, uint32_t pfn);
/* Inflate pages [pfn, pfn + n) at once (resident neighbours in one madvise):
 * done[i] says whether pfn + i went in; returns how many did. */
unsigned guest_mem_balloon_inflate_run(struct guest_mem *gm, uint32_t pfn, uint32_t n, uint8_t *done);

/* Free page reporting: release the whole pages of [gpa, gpa + len), not counted as ballooned. */
uint64_t guest_mem_report_free(struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Close the current activity sample and open the next one. */
void guest_mem_sample(struct guest_mem *gm);

void guest_mem_get_stats(struct guest_mem *gm, struct guest_mem_stats *st);

/*
 * Run-time controls (the control socket).  The policy's inputs take effect
 * at its next period; a lower compression cap drains the cache to it.
 * Each returns 0, or -1 with the reason in err.
 */
int guest_mem_set_shares(struct guest_mem *gm, unsigned shares, char *err, size_t errlen);
int guest_mem_set_reservation(struct guest_mem *gm, uint64_t bytes, char *err, size_t errlen);
int guest_mem_set_limit(struct guest_mem *gm, uint64_t bytes, char *err, size_t errlen);   /* 0: none */
int guest_mem_set_zip_max_pct(struct guest_mem *gm, unsigned pct, char *err, size_t errlen);

/* The fault-latency histograms, by kind (GM_FAULT_*). */
void guest_mem_fault_hists(struct guest_mem *gm, struct hist out[GM_FAULT_KINDS]);

/* What the allocation policy needs, cheaply: pages consumed, ballooned, and swapped or compressed. */
void guest_mem_usage(struct guest_mem *gm, uint64_t *consumed, uint64_t *ballooned, uint64_t *reclaimed);

/*
 * For the reclaim thread: bytes this VM holds beyond its allocation
 * target (consumed - SZTGT; 0 unless the policy revoked some of its want) and beyond its
 * active estimate (consumed - TCHD).  Returns -1 if it has nothing it can
 * swap now, else 0.
 */
int guest_mem_excess(struct guest_mem *gm, int64_t *over_target, int64_t *idle);

/* Overhead bytes: per-page metadata, buffers, and the page tables' estimate. */
uint64_t guest_mem_overhead(struct guest_mem *gm);


#endif
