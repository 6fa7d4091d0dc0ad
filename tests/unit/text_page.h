/* Test helper: a page of English-like words that compresses as prose does. */
#ifndef MEMVISOR_TESTS_TEXT_PAGE_H
#define MEMVISOR_TESTS_TEXT_PAGE_H

#include <stddef.h>
#include <stdint.h>

/* Different for every seed, the same every time for one seed. */
static inline void text_page(uint8_t *p, unsigned seed, size_t size)
{
	static const char *const words[] = { "the ", "memory ", "of ", "a ", "virtual ", "machine ",
					     "is ", "shared ", "page ", "and ", "swapped ", "out " };
	uint32_t x = seed * 2654435761u + 1;
	size_t n = 0;

	while (n < size) {
		const char *w;
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		w = words[x % 12];
		for (; *w && n < size; w++)
			p[n++] = (uint8_t)*w;
	}
}

#endif
