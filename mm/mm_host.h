/*
 * The host side of the memory manager: one memory budget shared by every
 * VM of the process (the "ESX memory"), the host memory state computed
 * from it, and the reclaim thread that acts on the state (the seed's
 * Table 3; so far: swapping in the hard and low states, and blocking
 * allocating faults in the low state).
 *
 * free = budget - (consumed + overhead + compression cache of every VM).  Each period the
 * thread recomputes the state; in hard or low it swaps out pages, from the
 * VM whose resident memory exceeds its estimated active memory the most,
 * until free memory climbs back out of the hard state.  Once a second it
 * reconciles page states with the kernel and closes the activity sample.
 */
#ifndef MEMVISOR_MM_MM_HOST_H
#define MEMVISOR_MM_MM_HOST_H

#include "guest_mem.h"
#include "memstate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define MM_HOST_MAX_VMS 64
#define MM_RECLAIM_PERIOD_MS 5       /* in hard and low */
#define MM_IDLE_PERIOD_MS 50         /* in high and soft */
#define MM_SAMPLE_PERIOD_MS 1000     /* TCHD sampling and reconciliation */
#define MM_RECLAIM_SLICE_MS 50       /* longest reclaim pass before other duties */
#define MM_BALLOON_PERIOD_MS 200     /* allocation and balloon targets are recomputed this often */

struct mm_host_stats {
	enum mem_state state;
	uint64_t budget, free, consumed, overhead, min_free;
	uint64_t transitions;
	uint64_t blocked_faults;     /* faults held in the low state */
	uint64_t direct_pages;       /* pages those faults' threads reclaimed while held */
	int swap_exhausted;
	uint64_t state_ms[4];        /* time spent in each state so far (MEM_HIGH..MEM_LOW) */
};

struct mm_host {
	uint64_t budget;
	struct memstate ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* state changes */
	pthread_rwlock_t vms_lock;   /* the VM list: written by add and remove, read by the passes of
				      * this thread and of the sharing scanner, which run side by side */
	struct guest_mem *vms[MM_HOST_MAX_VMS];
	unsigned nvms;
	pthread_t thread;
	int started;
	atomic_int stop;
	atomic_ullong consumed_pages;  /* present pages of every VM, kept by guest_mem */
	atomic_ullong overhead_bytes;  /* refreshed each period */
	atomic_llong zip_bytes;        /* compression caches' chunks, kept by guest_mem */
	atomic_uint fault_spinning;    /* fault threads spinning for their next fault now */
	unsigned fault_spinners;       /* how many may (fault_poll.h) */
	int kick;                      /* reclaim wanted now (under lock) */
	atomic_int vm_busy[MM_HOST_MAX_VMS]; /* a reclaimer is evicting vms[i] now */
	unsigned direct_max;           /* held faults that may reclaim at once (under lock) */
	unsigned direct_now;           /* how many do now (under lock) */
	uint64_t direct_pages;         /* what they reclaimed (under lock) */
	uint64_t free, consumed, overhead;
	uint64_t blocked_faults;
	int swap_exhausted;
	uint64_t last_log_ms;        /* state-change lines are rate limited */
	uint64_t state_ms[4];        /* time in each state, up to state_since_ms (under lock) */
	uint64_t state_since_ms;
	unsigned quiet_transitions;
	double idle_tax;             /* tau (ALLOC_DEFAULT_TAX) */
	void (*log)(void *ctx, const char *msg);
	void *log_ctx;
};

void mm_host_init(struct mm_host *h, uint64_t budget);
int mm_host_add(struct mm_host *h, struct guest_mem *gm);
/* Take a VM out (it stopped): the reclaim thread no longer touches it. */
void mm_host_remove(struct mm_host *h, struct guest_mem *gm);
int mm_host_start(struct mm_host *h);
void mm_host_stop(struct mm_host *h);
void mm_host_destroy(struct mm_host *h);

/*
 * Called before a fault takes `pages` more host pages: wakes the reclaim
 * thread when free memory is low, and blocks the caller while the host is
 * in the low state (ESX's blocking), so no VM runs past the budget.
 * While it is held, the caller's thread reclaims alongside the host's
 * thread (Linux's direct reclaim), up to direct_max threads at once, each
 * from a VM no other reclaimer is evicting: compression is CPU work, and
 * one thread alone leaves the other CPUs idle while every VM waits.  A
 * VM that is being stopped sets *cancel (and calls mm_host_wake) so its
 * fault thread never waits forever.  The caller holds no guest_mem lock
 * and no vms_lock.
 */
void mm_host_gate(struct mm_host *h, unsigned pages, const atomic_int *cancel);

/* Whether `pages` more host pages would still leave the host in the high state. */
int mm_host_roomy(struct mm_host *h, unsigned pages);

/* Have the host's thread look now (a VM went past its limit). */
void mm_host_kick(struct mm_host *h);

/* Wake faults waiting in the gate, to look at their cancel flag again. */
void mm_host_wake(struct mm_host *h);

/* guest_mem's bookkeeping: pages entered (+) or left (-) the present state. */
static inline void mm_host_account(struct mm_host *h, int64_t pages)
{
	if (h)
		atomic_fetch_add(&h->consumed_pages, (unsigned long long)pages);
}

/* guest_mem's bookkeeping: its compression cache grew (+) or shrank (-). */
static inline void mm_host_account_zip(struct mm_host *h, int64_t bytes)
{
	if (h)
		atomic_fetch_add(&h->zip_bytes, bytes);
}

/* One reclaim step (the thread's body, exposed for tests). */
void mm_host_step(struct mm_host *h);

void mm_host_get_stats(struct mm_host *h, struct mm_host_stats *st);

/*
 * A new budget at run time (the control socket's host-mem): thresholds
 * follow it, and the thread looks at once, so shrinking it starts
 * reclamation and growing it lets blocked faults go.
 */
void mm_host_set_budget(struct mm_host *h, uint64_t budget);

/* Free memory of this machine (MemAvailable), the default budget. */
uint64_t mm_host_machine_free(void);

/* A /proc/meminfo field in bytes ("SwapFree", say), 0 if absent. */
uint64_t mm_host_meminfo(const char *key);

#endif
