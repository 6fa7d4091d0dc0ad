#include "zip.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

struct zip {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

struct zip *zip_new(int level)
{
	struct zip *z;

	if (level < ZIP_LEVEL_MIN || level > ZIP_LEVEL_MAX)
		return NULL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->c = ZSTD_createCCtx();
	z->d = ZSTD_createDCtx();
	/* A 4 KiB window covers a page; no size field or checksum in the
	 * frame: the cache knows both, and every byte saved counts. */
	if (!z->c || !z->d ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->c, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->c, ZSTD_c_windowLog, 12)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->c, ZSTD_c_contentSizeFlag, 0)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->c, ZSTD_c_checksumFlag, 0)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->c, ZSTD_c_dictIDFlag, 0))) {
		zip_free(z);
		return NULL;
	}
	return z;
}

void zip_free(struct zip *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

size_t zip_compress(struct zip *z, const void *page, void *dst, size_t cap)
{
	size_t n = ZSTD_compress2(z->c, dst, cap, page, ZIP_PAGE);

	/* dstSize_tooSmall is the common "does not pay" case, not a failure. */
	return ZSTD_isError(n) ? 0 : n;
}

int zip_decompress(struct zip *z, const void *src, size_t len, void *page)
{
	size_t n = ZSTD_decompressDCtx(z->d, page, ZIP_PAGE, src, len);

	return !ZSTD_isError(n) && n == ZIP_PAGE ? 0 : -1;
}

int zip_same_filled(const void *page, uint32_t *word)
{
	const uint64_t *w = page;
	uint64_t first = w[0];

	/* Both halves of the first 8 bytes alike, then every 8 bytes alike. */
	if ((uint32_t)first != (uint32_t)(first >> 32))
		return 0;
	for (unsigned i = 1; i < ZIP_PAGE / 8; i++)
		if (w[i] != first)
			return 0;
	*word = (uint32_t)first;
	return 1;
}

void zip_fill(void *page, uint32_t word)
{
	uint32_t *w = page;

	if (word == 0) {
		memset(page, 0, ZIP_PAGE);
		return;
	}
	for (unsigned i = 0; i < ZIP_PAGE / 4; i++)
		w[i] = word;
}
