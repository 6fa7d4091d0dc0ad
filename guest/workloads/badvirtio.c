/*
 * badvirtio: a hostile driver.  It brings the balloon up as the real
 * driver does, then hands the device one broken request (kind=loop: a
 * descriptor chain that loops; range: a buffer outside guest RAM; huge:
 * a 4 GiB buffer; pfn: a page number outside RAM; statsflood: a second
 * stats buffer before the first came back), and reports whether the
 * device gave up on it (DEVICE_NEEDS_RESET).  The VMM must log it, mark
 * the device broken and go on; the guest's memory must not change.
 * kind=deflate gives back 16 pages the balloon never held, pages this
 * workload is using: the device must ignore it, and their bytes must stay.
 */
#include "workloads.h"

#include "abi.h"
#include "balloon-driver/vballoon.h"
#include "pattern.h"
#include "plat.h"

int wl_badvirtio(struct args *a)
{
	static const char *const kinds[] = { "loop", "range", "huge", "pfn", "deflate", "statsflood", 0 };
	struct vballoon b;
	unsigned k, bad = 0;
	uint32_t status;
	uint8_t *own;

	if (args_choice(a, "kind", kinds, 0, &k) || args_all_taken(a, "badvirtio", "kind"))
		return MV_EXIT_BAD_ARGS;
	/* 16 pages of our own, with known bytes, for kind=deflate to name. */
	own = wl_alloc("badvirtio", 16 * PAGE_BYTES);
	if (!own)
		return MV_EXIT_NO_MEMORY;
	for (unsigned i = 0; i < 16; i++)
		pattern_fill(own + i * PAGE_BYTES, PAT_RANDOM, i, 77);
	if (vballoon_probe(&b))
		return MV_EXIT_EXCEPTION;
	status = vballoon_send_broken(&b, k, (uint64_t)(uintptr_t)own);
	for (unsigned i = 0; i < 16; i++) {
		uint64_t want, got;
		bad += pattern_check(own + i * PAGE_BYTES, PAT_RANDOM, i, 77, 0, &want, &got) >= 0;
	}
	plat_say("RESULT workload=badvirtio kind=%s device_status=0x%x needs_reset=%u bad_pages=%u", kinds[k], status,
		 (status & 0x40) ? 1u : 0u, bad);
	return bad ? MV_EXIT_VERIFY_FAIL : MV_EXIT_OK;
}
