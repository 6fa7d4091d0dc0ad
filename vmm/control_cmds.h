/*
 * The control socket's commands (docs/user-guide.md lists them): run by
 * the VMM's main thread against its VMs, the memory manager and the
 * sharing scanner.  `stats` gives the stats file's lines, taken at the
 * moment of the request; its per-second rates are since the file's last
 * line, or without a file since the previous request.
 */
#ifndef MEMVISOR_VMM_CONTROL_CMDS_H
#define MEMVISOR_VMM_CONTROL_CMDS_H

#include <stddef.h>
#include <stdint.h>
#include "json.h"

struct vm;
struct mm_host;
struct share_scan;

struct ctl_ctx {
	struct vm *vms;
	unsigned nvms;
	struct mm_host *host;
	struct share_scan *scan;
	uint64_t t0;            /* VMM start (vm_now_ns), for the lines' t */
	int advance_rates;      /* no stats file: rates are since the previous stats request */
};

void ctl_handle(void *ctx, const struct json_obj *req, FILE *out);

#endif
