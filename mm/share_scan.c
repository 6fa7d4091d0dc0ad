#include "share_scan.h"
#include "thread_name.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int share_scan_may_tick(struct share_scan *s, uint64_t spent_ns)
{
	int64_t earn = (int64_t)SHARE_TICK_MS * 1000000 * s->cpu_pct / 100, cap = earn * (1000 / SHARE_TICK_MS);

	s->cpu_credit_ns += earn - (int64_t)spent_ns;
	if (s->cpu_credit_ns > cap)
		s->cpu_credit_ns = cap;
	if (s->cpu_credit_ns > 0)
		return 1;
	pthread_mutex_lock(&s->lock);
	s->st.ticks_capped++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

uint64_t share_scan_tick(struct share_scan *s, unsigned pages)
{
	struct mm_host *h = s->host;
	uint64_t scanned = 0, t0 = thread_cpu_ns(), spent;
	unsigned wrapped = 0;

	pthread_rwlock_rdlock(&h->vms_lock);
	/* An even share each, so a big VM does not starve the others, and no
	 * more than a VM's own rate where it has one. */
	for (unsigned i = 0; i < h->nvms; i++) {
		unsigned budget = pages / h->nvms + 1, own = share_scan_tick_pages(h->vms[i]->share_rate);

		if (h->vms[i]->share_rate && own < budget)
			budget = own ? own : 1;
		scanned += guest_mem_scan(h->vms[i], budget, s->zero_hash, &wrapped);
	}
	pthread_rwlock_unlock(&h->vms_lock);
	spent = thread_cpu_ns() - t0;
	pthread_mutex_lock(&s->lock);
	s->st.scanned += scanned;
	s->st.full_scans += wrapped;
	s->st.cpu_ns += spent;
	pthread_mutex_unlock(&s->lock);
	return spent;
}

static void *scan_thread(void *arg)
{
	struct share_scan *s = arg;
	struct timespec next, now;
	uint64_t spent = 0;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&s->stop)) {
		spent = share_scan_may_tick(s, spent) ? share_scan_tick(s, share_scan_tick_pages(s->rate)) : 0;
		/* Ticks on a fixed clock, so time spent merging does not slow the
		 * rate; a scanner that fell behind by more than a tick starts afresh
		 * rather than making up for it in a burst. */
		next.tv_nsec += SHARE_TICK_MS * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1 ||
		    (now.tv_sec - next.tv_sec) * 1000000000L + (now.tv_nsec - next.tv_nsec) > SHARE_TICK_MS * 1000000L)
			next = now;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

void share_scan_init(struct share_scan *s, struct mm_host *host, unsigned rate, unsigned cpu_pct)
{
	static const uint8_t zero[4096];

	memset(s, 0, sizeof(*s));
	s->host = host;
	s->rate = rate;
	s->cpu_pct = cpu_pct < 1 ? 1 : cpu_pct > 100 ? 100 : cpu_pct;
	s->zero_hash = XXH3_64bits(zero, sizeof(zero));
	pthread_mutex_init(&s->lock, NULL);
}

void share_scan_set_rate(struct share_scan *s, unsigned rate)
{
	pthread_mutex_lock(&s->lock);
	s->rate = rate;
	pthread_mutex_unlock(&s->lock);
}

int share_scan_start(struct share_scan *s)
{
	int e = pthread_create(&s->thread, NULL, scan_thread, s);

	if (e)
		return -e;
	s->started = 1;
	thread_name(s->thread, "share-scan");
	return 0;
}

void share_scan_stop(struct share_scan *s)
{
	if (!s->started)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	s->started = 0;
}

void share_scan_destroy(struct share_scan *s)
{
	share_scan_stop(s);
	pthread_mutex_destroy(&s->lock);
}

void share_scan_get_stats(struct share_scan *s, struct share_scan_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	pthread_mutex_unlock(&s->lock);
}
