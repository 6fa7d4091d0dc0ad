#include "alloc_policy.h"

double alloc_ratio(const struct alloc_vm *v, uint64_t pages, double tax)
{
	double k = 1.0 / (1.0 - tax), f = v->active < 0 ? 0 : v->active > 1 ? 1 : v->active;

	if (!pages)
		return 1e300; /* holding nothing: nothing to take */
	return (double)v->shares / ((double)pages * (f + k * (1.0 - f)));
}

static uint64_t cap(const struct alloc_vm *v)
{
	return v->limit && v->limit < v->memsz ? v->limit : v->memsz;
}

void alloc_targets(struct alloc_vm *v, unsigned n, uint64_t avail, double tax)
{
	uint64_t total = 0;

	/*
	 * What each VM would hold without a balloon or swapping, within its
	 * limit and above its reservation.  Swapped pages count: otherwise a
	 * VM that the host swaps would look as if it wanted less, and its
	 * balloon would deflate just when it should hold.
	 */
	for (unsigned i = 0; i < n; i++) {
		uint64_t want = v[i].consumed + v[i].ballooned + v[i].reclaimed;

		if (want > cap(&v[i]))
			want = cap(&v[i]);
		if (want < v[i].reservation)
			want = v[i].reservation;
		v[i].want = v[i].target = want;
		total += want;
	}
	/* Min-funding revocation: take from the VM that pays least per page. */
	while (total > avail) {
		unsigned low = n;
		uint64_t step;

		for (unsigned i = 0; i < n; i++)
			if (v[i].target > v[i].reservation &&
			    (low == n || alloc_ratio(&v[i], v[i].target, tax) < alloc_ratio(&v[low], v[low].target, tax)))
				low = i;
		if (low == n)
			break; /* every VM at its reservation: nothing more to take */
		step = v[low].memsz / 64 ? v[low].memsz / 64 : 1;
		if (step > total - avail)
			step = total - avail;
		if (step > v[low].target - v[low].reservation)
			step = v[low].target - v[low].reservation;
		v[low].target -= step;
		total -= step;
	}
	/* The balloon holds what a VM uses beyond its target. */
	for (unsigned i = 0; i < n; i++) {
		uint64_t use = v[i].consumed + v[i].ballooned + v[i].reclaimed;

		v[i].balloon_target = v[i].balloon && use > v[i].target ? use - v[i].target : 0;
		if (v[i].balloon_target > v[i].memsz - v[i].reservation)
			v[i].balloon_target = v[i].memsz - v[i].reservation;
	}
}

unsigned memstate_actions(enum mem_state s)
{
	switch (s) {
	case MEM_HIGH: return ACT_SHARE;
	case MEM_SOFT: return ACT_SHARE | ACT_BALLOON;
	case MEM_HARD: return ACT_SHARE | ACT_BALLOON | ACT_COMPRESS | ACT_SWAP;
	case MEM_LOW: return ACT_SHARE | ACT_BALLOON | ACT_COMPRESS | ACT_SWAP | ACT_BLOCK;
	}
	return 0;
}
