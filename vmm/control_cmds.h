/*
 * The control socket's commands (docs/user-guide.md lists them): run by
 * the VMM's main thread against its VMs, the memory manager and the
 * sharing scanner.  The stats come from the snapshot the main thread
 * takes each second, the same lines as the stats file.
 */
#ifndef MEMVISOR_VMM_CONTROL_CMDS_H
#define MEMVISOR_VMM_CONTROL_CMDS_H

#include <stddef.h>
#include "json.h"

struct vm;
struct mm_host;
struct share_scan;

struct ctl_ctx {
	struct vm *vms;
	unsigned nvms;
	struct mm_host *host;
	struct share_scan *scan;
	const char *snapshot;   /* the last stats lines, NUL-terminated; NULL before the first */
};

void ctl_handle(void *ctx, const struct json_obj *req, FILE *out);

#endif
