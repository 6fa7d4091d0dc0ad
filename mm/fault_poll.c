#include "fault_poll.h"

void fault_poll_init(struct fault_poll *fp, uint64_t max_ns)
{
	fp->max_ns = max_ns;
	fp->window_ns = 0;
}

void fault_poll_slept(struct fault_poll *fp, uint64_t waited_ns)
{
	if (waited_ns > fp->max_ns) {
		fp->window_ns = 0;
		return;
	}
	fp->window_ns = fp->window_ns ? fp->window_ns * 2 : FAULT_POLL_START_NS;
	if (fp->window_ns > fp->max_ns)
		fp->window_ns = fp->max_ns;
}

unsigned fault_poll_spinners_for(long ncpus)
{
	/* On one CPU a spinner only keeps the faulting vCPU from running. */
	return ncpus > 1 ? (unsigned)(ncpus - 1) : 0;
}

int fault_poll_claim(atomic_uint *spinning, unsigned max)
{
	unsigned n = atomic_load(spinning);

	while (n < max)
		if (atomic_compare_exchange_weak(spinning, &n, n + 1))
			return 1;
	return 0;
}

void fault_poll_release(atomic_uint *spinning)
{
	atomic_fetch_sub(spinning, 1);
}
