/*
 * A flat guest RAM for the device tests and the fuzzer: the reader and
 * writer that a struct vq_mem takes, over a plain array, refusing any
 * access that does not lie wholly inside it (as guest_mem does).
 */
#ifndef MEMVISOR_TESTS_FLAT_RAM_H
#define MEMVISOR_TESTS_FLAT_RAM_H

#include <stdint.h>
#include <string.h>

struct flat_ram {
	uint8_t *base;
	uint64_t size;
};

static inline int flat_ram_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	const struct flat_ram *r = ctx;

	if (gpa > r->size || len > r->size - gpa)
		return -1;
	memcpy(dst, r->base + gpa, len);
	return 0;
}

static inline int flat_ram_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	const struct flat_ram *r = ctx;

	if (gpa > r->size || len > r->size - gpa)
		return -1;
	memcpy(r->base + gpa, src, len);
	return 0;
}

#endif
