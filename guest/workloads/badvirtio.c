/*
 * badvirtio: a hostile driver.  It brings the balloon up as the real
 * driver does, then hands the device one broken request (kind=loop: a
 * descriptor chain that loops; range: a buffer outside guest RAM; huge:
 * a 4 GiB buffer; pfn: a page number outside RAM), and reports whether
 * the device gave up on it (DEVICE_NEEDS_RESET).  The VMM must log it,
 * mark the device broken and go on; the guest's memory must not change.
 */
#include "workloads.h"

#include "abi.h"
#include "balloon-driver/vballoon.h"
#include "plat.h"

int wl_badvirtio(struct args *a)
{
	static const char *const kinds[] = { "loop", "range", "huge", "pfn", 0 };
	struct vballoon b;
	unsigned k;
	uint32_t status;

	if (args_choice(a, "kind", kinds, 0, &k) || args_all_taken(a, "badvirtio", "kind"))
		return MV_EXIT_BAD_ARGS;
	if (vballoon_probe(&b))
		return MV_EXIT_EXCEPTION;
	status = vballoon_send_broken(&b, k);
	plat_say("RESULT workload=badvirtio kind=%s device_status=0x%x needs_reset=%u", kinds[k], status,
		 (status & 0x40) ? 1u : 0u);
	return MV_EXIT_OK;
}
