/*
 * Latency histogram: log-linear buckets (16 per power of two, so a reported
 * percentile is within 6.25% of the true value), fixed memory, no per-sample
 * storage.  Values are nanoseconds.
 */
#ifndef MEMVISOR_MM_HIST_H
#define MEMVISOR_MM_HIST_H

#include <stdint.h>

#define HIST_BITS 4                 /* bits below the top one that pick a sub-bucket */
#define HIST_SUB (1u << HIST_BITS)
#define HIST_BUCKETS (64 * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	uint64_t bucket[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t v);

/* The value at quantile q (0..1): the upper bound of its bucket, capped at max. */
uint64_t hist_quantile(const struct hist *h, double q);

/* Bucket index of v, and the largest value a bucket holds. */
unsigned hist_bucket(uint64_t v);
uint64_t hist_bucket_upper(unsigned b);

void hist_merge(struct hist *into, const struct hist *from);

#endif
