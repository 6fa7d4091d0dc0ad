#include "hist.h"

unsigned hist_bucket(uint64_t v)
{
	unsigned msb, sub;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	/* The HIST_BITS bits below the top bit pick the sub-bucket. */
	sub = (unsigned)(v >> (msb - HIST_BITS)) & (HIST_SUB - 1);
	return (msb - HIST_BITS + 1) * HIST_SUB + sub;
}

uint64_t hist_bucket_upper(unsigned b)
{
	unsigned msb, sub;

	if (b < HIST_SUB)
		return b;
	msb = b / HIST_SUB + HIST_BITS - 1;
	sub = b % HIST_SUB;
	if (msb >= 63 && sub == HIST_SUB - 1)
		return UINT64_MAX;
	return ((uint64_t)(HIST_SUB + sub + 1) << (msb - HIST_BITS)) - 1;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[hist_bucket(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen > rank) {
			uint64_t up = hist_bucket_upper(b);
			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned b = 0; b < HIST_BUCKETS; b++)
		into->bucket[b] += from->bucket[b];
	into->count += from->count;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
}
