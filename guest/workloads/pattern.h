/*
 * Page contents for the workloads, derived from (page index, seed) so a
 * page can be regenerated and checked later:
 *   random  incompressible bytes (xorshift64*), no two pages alike;
 *   text    English-like words: compresses about 3-4x, as text does;
 *   zero    all zero bytes.
 * verify stamps the index and seed into the first 16 bytes of every page,
 * so even zero pages differ and a page that lands at the wrong address is
 * caught.
 */
#ifndef MEMVISOR_GUEST_PATTERN_H
#define MEMVISOR_GUEST_PATTERN_H

#include <stdint.h>

#define PAGE_BYTES 4096u

enum pattern { PAT_RANDOM, PAT_ZERO, PAT_TEXT };
extern const char *const pattern_names[]; /* NULL-terminated, enum order */

void pattern_fill(void *page, enum pattern p, uint64_t index, uint64_t seed);
void pattern_stamp(void *page, uint64_t index, uint64_t seed);

/*
 * Compares page with what pattern_fill (+ stamp when stamped) wrote:
 * -1 if equal, else the offset of the first differing 8-byte word, with
 * the expected and found words.
 */
int64_t pattern_check(const void *page, enum pattern p, uint64_t index, uint64_t seed, int stamped,
		      uint64_t *want, uint64_t *got);

#endif
