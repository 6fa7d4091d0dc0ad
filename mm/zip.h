/*
 * Page compression for the compression cache: zstd with contexts kept
 * from page to page (one-shot calls pay the context set-up on every
 * 4 KiB page), and the same-filled check that lets a page of one
 * repeated word be stored as that word alone.
 *
 * Level -1 is the default, by measurement on this project's machine with
 * reused contexts (docs/compression.md): on English-like text it
 * compresses a page in ~19 us and decompresses it in ~6 us at a ratio of
 * ~2.7, where level 1 takes ~25 and ~10 us for ~3.2.
 */
#ifndef MEMVISOR_MM_ZIP_H
#define MEMVISOR_MM_ZIP_H

#include <stddef.h>
#include <stdint.h>

#define ZIP_PAGE          4096u
#define ZIP_DEFAULT_LEVEL (-1)
#define ZIP_LEVEL_MIN     (-7)
#define ZIP_LEVEL_MAX     19

struct zip;

/* NULL if zstd cannot make its contexts or the level is out of range. */
struct zip *zip_new(int level);
void zip_free(struct zip *z);

/* Compress one page into dst: its length, or 0 if it needs more than cap. */
size_t zip_compress(struct zip *z, const void *page, void *dst, size_t cap);

/* Decompress len bytes into one page: 0, or -1 if it is not exactly a page. */
int zip_decompress(struct zip *z, const void *src, size_t len, void *page);

/* Whether the page is one 32-bit word repeated, and which. */
int zip_same_filled(const void *page, uint32_t *word);

/* Fill a page with a repeated 32-bit word. */
void zip_fill(void *page, uint32_t word);

#endif
