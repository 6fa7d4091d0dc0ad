#include "mm_host.h"
#include "alloc_policy.h"
#include "fault_poll.h"
#include "thread_name.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mm_host_init(struct mm_host *h, uint64_t budget)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(h, 0, sizeof(*h));
	h->budget = budget;
	h->idle_tax = ALLOC_DEFAULT_TAX;
	h->fault_spinners = fault_poll_spinners_for(cpus);
	/* With the host's thread, one reclaimer per CPU. */
	h->direct_max = cpus > 1 ? (unsigned)cpus - 1 : 0;
	memstate_init(&h->ms, budget);
	h->state_since_ms = now_ms();
	pthread_mutex_init(&h->lock, NULL);
	{
		pthread_rwlockattr_t a;

		/* Adding or removing a VM must not wait behind the passes forever. */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&h->vms_lock, &a);
		pthread_rwlockattr_destroy(&a);
	}
	pthread_cond_init(&h->cond, NULL);
	h->free = budget;
}

int mm_host_add(struct mm_host *h, struct guest_mem *gm)
{
	int rc = -1;

	pthread_rwlock_wrlock(&h->vms_lock);
	if (h->nvms < MM_HOST_MAX_VMS) {
		h->vms[h->nvms++] = gm;
		rc = 0;
	}
	pthread_rwlock_unlock(&h->vms_lock);
	return rc;
}

void mm_host_remove(struct mm_host *h, struct guest_mem *gm)
{
	pthread_rwlock_wrlock(&h->vms_lock);
	for (unsigned i = 0; i < h->nvms; i++) {
		if (h->vms[i] == gm) {
			h->vms[i] = h->vms[--h->nvms];
			/* The scanner meets hints only in its visits, under this lock. */
			guest_mem_forget_hints(gm);
			break;
		}
	}
	pthread_rwlock_unlock(&h->vms_lock);
}

static void host_log(struct mm_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void host_log(struct mm_host *h, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h->log)
		h->log(h->log_ctx, msg);
	else
		fprintf(stderr, "mm: %s\n", msg);
}

static uint64_t free_now(struct mm_host *h)
{
	uint64_t used = atomic_load(&h->consumed_pages) * GM_PAGE + atomic_load(&h->overhead_bytes) +
			(uint64_t)atomic_load(&h->zip_bytes);

	return used < h->budget ? h->budget - used : 0;
}

/*
 * Recompute free memory and the state; returns the state.  Held faults'
 * threads call it too, so the log's rate limit is kept under the lock.
 */
static enum mem_state update_state(struct mm_host *h)
{
	uint64_t free;
	enum mem_state old, s;
	unsigned quiet = 0;
	int say = 0;

	pthread_mutex_lock(&h->lock);
	/* Read under the lock: with several reclaimers, an older figure must not land last. */
	free = free_now(h);
	old = h->ms.state;
	s = memstate_update(&h->ms, free);
	if (s != old) {
		uint64_t t = now_ms();

		if (h->state_since_ms)
			h->state_ms[old] += t - h->state_since_ms;
		h->state_since_ms = t;
		/* Under steady pressure the state can change many times a second. */
		if (t - h->last_log_ms >= 1000 || s == MEM_HIGH) {
			say = 1;
			quiet = h->quiet_transitions;
			h->last_log_ms = t;
			h->quiet_transitions = 0;
		} else {
			h->quiet_transitions++;
		}
	}
	h->free = free;
	h->consumed = atomic_load(&h->consumed_pages) * GM_PAGE;
	h->overhead = atomic_load(&h->overhead_bytes);
	if (s != old)
		pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (say) {
		char more[64] = "";

		if (quiet)
			snprintf(more, sizeof(more), "; %u more changes not shown", quiet);
		host_log(h, "host memory state %s -> %s (free %.1f MiB, minFree %.1f MiB%s)", memstate_name(old),
			 memstate_name(s), (double)free / 1048576.0, (double)h->ms.min_free / 1048576.0, more);
	}
	return s;
}

static void refresh_overhead(struct mm_host *h)
{
	uint64_t overhead = 0;

	for (unsigned i = 0; i < h->nvms; i++)
		overhead += guest_mem_overhead(h->vms[i]);
	atomic_store(&h->overhead_bytes, overhead);
}

/*
 * As ESX: swap from the VM furthest above its allocation target, the one
 * the policy is taking memory from; among VMs within their targets, the
 * one with the most memory above its active estimate.  A helper (a held
 * fault's thread) passes over VMs another reclaimer is evicting, and
 * takes from a VM within its target only when no VM is above its own.
 * Returns the VM's index, or -1.
 */
static int pick_vm(struct mm_host *h, const int *skip, int helper)
{
	int best = -1, any_over = 0;
	int64_t best_over = 0, best_idle = 0;

	for (unsigned i = 0; i < h->nvms; i++) {
		int64_t over, idle;

		if (skip[i] || guest_mem_excess(h->vms[i], &over, &idle))
			continue;
		if (over < 0)
			over = 0;
		any_over |= over > 0;
		if (helper && atomic_load(&h->vm_busy[i]))
			continue;
		if (best < 0 || over > best_over || (over == best_over && idle > best_idle)) {
			best_over = over;
			best_idle = idle;
			best = (int)i;
		}
	}
	return helper && any_over && best_over == 0 ? -1 : best;
}

/* Evict up to `want` pages of vms[i], whose busy mark the caller holds (vms_lock held). */
static unsigned evict_marked(struct mm_host *h, int i, uint64_t want)
{
	unsigned got = guest_mem_evict(h->vms[i], want > SWAP_BATCH_MAX ? SWAP_BATCH_MAX : (unsigned)want);

	atomic_fetch_sub(&h->vm_busy[i], 1);
	return got;
}

static void reclaim(struct mm_host *h)
{
	int skip[MM_HOST_MAX_VMS] = { 0 };
	uint64_t target = h->ms.leave[MEM_HARD], free;
	/* Bounded, so sampling and reconciliation still get their turn
	 * under pressure that never lets up. */
	uint64_t until = now_ms() + MM_RECLAIM_SLICE_MS;

	while (!atomic_load(&h->stop) && (free = free_now(h)) < target && now_ms() < until) {
		int i = pick_vm(h, skip, 0);

		if (i < 0) {
			if (!h->swap_exhausted)
				host_log(h, "nothing left to reclaim (swap full, failed or off): "
					 "allocating faults wait in the low state");
			h->swap_exhausted = 1;
			return;
		}
		/* The reclaim thread goes where the policy says, busy or not. */
		atomic_fetch_add(&h->vm_busy[i], 1);
		if (evict_marked(h, i, (target - free + GM_PAGE - 1) / GM_PAGE) == 0)
			skip[i] = 1;
		update_state(h);
	}
	h->swap_exhausted = 0;
}

/* A held fault's thread: one batch from a VM nobody else is evicting; pages freed. */
static unsigned direct_reclaim(struct mm_host *h)
{
	int skip[MM_HOST_MAX_VMS] = { 0 };
	unsigned got = 0;
	int i;

	pthread_rwlock_rdlock(&h->vms_lock);
	/* Claim the VM: another helper may have picked it since it looked idle. */
	while ((i = pick_vm(h, skip, 1)) >= 0) {
		int idle = 0;

		if (atomic_compare_exchange_strong(&h->vm_busy[i], &idle, 1)) {
			got = evict_marked(h, i, SWAP_BATCH_MAX);
			break;
		}
		skip[i] = 1;
	}
	pthread_rwlock_unlock(&h->vms_lock);
	if (got)
		update_state(h);
	return got;
}

/*
 * A limit holds whatever the host's state and whether or not the guest
 * runs a balloon driver: beyond it, the VM's own pages are swapped (its
 * balloon, when it has one, takes over within a policy period).
 */
static void enforce_limits(struct mm_host *h)
{
	for (unsigned i = 0; i < h->nvms; i++) {
		struct guest_mem *gm = h->vms[i];
		uint64_t consumed, ballooned, reclaimed;

		if (!gm->limit)
			continue;
		guest_mem_usage(gm, &consumed, &ballooned, &reclaimed);
		while (consumed > gm->limit && !atomic_load(&h->stop)) {
			uint64_t over = consumed - gm->limit;

			if (guest_mem_evict(gm, over > SWAP_BATCH_MAX ? SWAP_BATCH_MAX : (unsigned)over) == 0)
				break;
			guest_mem_usage(gm, &consumed, &ballooned, &reclaimed);
		}
	}
}

void mm_host_set_budget(struct mm_host *h, uint64_t budget)
{
	pthread_mutex_lock(&h->lock);
	h->budget = budget;
	memstate_set_budget(&h->ms, budget);
	h->kick = 1;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

void mm_host_step(struct mm_host *h)
{
	enforce_limits(h);
	/* The seed's Table 3: the host compresses and swaps in the hard and low states only. */
	if (memstate_actions(update_state(h)) & (ACT_COMPRESS | ACT_SWAP))
		reclaim(h);
}

/*
 * ESX's allocation: targets for every VM out of what the host can give
 * while staying out of the soft state, and balloon targets that bring
 * each VM to its target (vms_lock held).  A VM takes memory back as soon
 * as there is room: its balloon target falls with the others' demand.
 */
static void balloon_pass(struct mm_host *h)
{
	struct alloc_vm v[MM_HOST_MAX_VMS];
	uint64_t vm_pages = 0, all = atomic_load(&h->consumed_pages), frames, keep, spend, avail;

	for (unsigned i = 0; i < h->nvms; i++) {
		struct guest_mem *gm = h->vms[i];
		uint64_t consumed, ballooned, reclaimed;

		guest_mem_usage(gm, &consumed, &ballooned, &reclaimed);
		v[i] = (struct alloc_vm){
			.memsz = gm->npages, .consumed = consumed, .ballooned = ballooned, .reclaimed = reclaimed,
			.reservation = gm->reservation, .limit = gm->limit, .active = gm->active_frac,
			.shares = gm->shares ? gm->shares : ALLOC_DEFAULT_SHARES, .balloon = gm->balloon_set != NULL,
		};
		vm_pages += v[i].consumed;
	}
	/* Shared frames and caches are the host's: what is left is the VMs'. */
	frames = all > vm_pages ? all - vm_pages : 0;
	keep = h->ms.leave[MEM_SOFT] + atomic_load(&h->overhead_bytes) + (uint64_t)atomic_load(&h->zip_bytes);
	spend = h->budget > keep ? (h->budget - keep) / GM_PAGE : 0;
	avail = spend > frames ? spend - frames : 0;
	alloc_targets(v, h->nvms, avail, h->idle_tax);
	for (unsigned i = 0; i < h->nvms; i++) {
		struct guest_mem *gm = h->vms[i];

		/*
		 * Memory is short (hard, low): a balloon does not give back what
		 * it holds.  Its VM may look under target only because its
		 * deflated pages are not touched yet; handing more back would just
		 * be taken again by swapping.
		 */
		if (h->ms.state >= MEM_HARD && v[i].balloon_target < gm->mctltgt)
			v[i].balloon_target = gm->mctltgt;
		/*
		 * Table 3: the high state takes nothing more for the others (a
		 * limit still holds); a balloon there deflates as the targets rise,
		 * not merely because free memory crossed the soft threshold, which
		 * would give back pages the next period takes again.
		 */
		if (!(memstate_actions(h->ms.state) & ACT_BALLOON) && v[i].balloon_target > gm->mctltgt) {
			uint64_t use = v[i].consumed + v[i].ballooned + v[i].reclaimed;
			uint64_t cap = v[i].limit && v[i].limit < v[i].memsz ? v[i].limit : v[i].memsz;
			uint64_t over_limit = use > cap ? use - cap : 0;

			v[i].balloon_target = gm->mctltgt > over_limit ? gm->mctltgt : over_limit;
		}
		gm->sztgt = v[i].target;
		gm->revoked = v[i].target < v[i].want;
		gm->mctltgt = v[i].balloon_target;
		if (gm->balloon_set)
			gm->balloon_set(gm->balloon_ctx, v[i].balloon_target);
	}
}

static void *host_thread(void *arg)
{
	struct mm_host *h = arg;
	uint64_t next_sample = now_ms() + MM_SAMPLE_PERIOD_MS, next_balloon = now_ms();

	while (!atomic_load(&h->stop)) {
		enum mem_state s;
		struct timespec ts;

		pthread_rwlock_rdlock(&h->vms_lock);
		refresh_overhead(h);
		mm_host_step(h);
		if (now_ms() >= next_sample) {
			for (unsigned i = 0; i < h->nvms; i++) {
				guest_mem_reconcile(h->vms[i]);
				guest_mem_sample(h->vms[i]);
			}
			next_sample += MM_SAMPLE_PERIOD_MS;
		}
		if (now_ms() >= next_balloon) {
			balloon_pass(h);
			next_balloon = now_ms() + MM_BALLOON_PERIOD_MS;
		}
		pthread_rwlock_unlock(&h->vms_lock);
		pthread_mutex_lock(&h->lock);
		s = h->ms.state;
		if (!h->kick) {
			/* Sleep a period, or until a fault says memory runs short. */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (s >= MEM_HARD ? MM_RECLAIM_PERIOD_MS : MM_IDLE_PERIOD_MS) * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&h->cond, &h->lock, &ts);
		}
		h->kick = 0;
		pthread_mutex_unlock(&h->lock);
	}
	return NULL;
}

int mm_host_start(struct mm_host *h)
{
	int e = pthread_create(&h->thread, NULL, host_thread, h);

	if (e)
		return -e;
	h->started = 1;
	thread_name(h->thread, "memstate");
	return 0;
}

void mm_host_stop(struct mm_host *h)
{
	atomic_store(&h->stop, 1);
	pthread_mutex_lock(&h->lock);
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (h->started)
		pthread_join(h->thread, NULL);
	h->started = 0;
}

void mm_host_destroy(struct mm_host *h)
{
	mm_host_stop(h);
	pthread_mutex_destroy(&h->lock);
	pthread_rwlock_destroy(&h->vms_lock);
	pthread_cond_destroy(&h->cond);
}

/* Free memory once `pages` more are taken (0 if they do not fit). */
static uint64_t free_after(struct mm_host *h, unsigned pages)
{
	uint64_t free = free_now(h), need = (uint64_t)pages * GM_PAGE;

	return free > need ? free - need : 0;
}

void mm_host_gate(struct mm_host *h, unsigned pages, const atomic_int *cancel)
{
	uint64_t free = free_after(h, pages);

	if (free >= h->ms.enter[MEM_HARD] && h->ms.state < MEM_LOW)
		return;
	pthread_mutex_lock(&h->lock);
	h->kick = 1;
	pthread_cond_broadcast(&h->cond);
	if (free < h->ms.enter[MEM_LOW] && h->ms.state < MEM_LOW && !atomic_load(&h->stop)) {
		/* Falling into low right now: do not wait a period to notice. */
		pthread_mutex_unlock(&h->lock);
		update_state(h);
		pthread_mutex_lock(&h->lock);
	}
	if (h->ms.state == MEM_LOW && !atomic_load(&h->stop) && !atomic_load(cancel)) {
		h->blocked_faults++;
		while (h->ms.state == MEM_LOW && !atomic_load(&h->stop) && !atomic_load(cancel)) {
			if (h->direct_now < h->direct_max) {
				unsigned got;

				h->direct_now++;
				pthread_mutex_unlock(&h->lock);
				got = direct_reclaim(h);
				pthread_mutex_lock(&h->lock);
				h->direct_now--;
				h->direct_pages += got;
				/* What changed meanwhile broadcast while we held no lock: look again. */
				if (got || h->ms.state != MEM_LOW || atomic_load(&h->stop) || atomic_load(cancel))
					continue;
			}
			pthread_cond_wait(&h->cond, &h->lock);
		}
	}
	pthread_mutex_unlock(&h->lock);
}

int mm_host_roomy(struct mm_host *h, unsigned pages)
{
	return free_after(h, pages) >= h->ms.enter[MEM_SOFT] && h->ms.state == MEM_HIGH;
}

void mm_host_kick(struct mm_host *h)
{
	pthread_mutex_lock(&h->lock);
	h->kick = 1;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

void mm_host_wake(struct mm_host *h)
{
	pthread_mutex_lock(&h->lock);
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

void mm_host_get_stats(struct mm_host *h, struct mm_host_stats *s)
{
	pthread_mutex_lock(&h->lock);
	s->state = h->ms.state;
	s->budget = h->budget;
	s->free = h->free;
	s->consumed = h->consumed;
	s->overhead = h->overhead;
	s->min_free = h->ms.min_free;
	s->transitions = h->ms.transitions;
	s->blocked_faults = h->blocked_faults;
	s->direct_pages = h->direct_pages;
	s->swap_exhausted = h->swap_exhausted;
	memcpy(s->state_ms, h->state_ms, sizeof(s->state_ms));
	if (h->state_since_ms)
		s->state_ms[h->ms.state] += now_ms() - h->state_since_ms;
	pthread_mutex_unlock(&h->lock);
}

uint64_t mm_host_meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	size_t klen = strlen(key);
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':' &&
		    sscanf(line + klen + 1, "%llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

uint64_t mm_host_machine_free(void)
{
	return mm_host_meminfo("MemAvailable");
}
