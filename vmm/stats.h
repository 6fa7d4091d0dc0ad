/*
 * The --stats file: one JSON object per line, per VM and for the host,
 * once a second and again at exit.  docs/stats.md lists every field.
 */
#ifndef MEMVISOR_STATS_H
#define MEMVISOR_STATS_H

#include "vm.h"
#include "../mm/share_scan.h"

#include <stdio.h>

/* Open (truncate) the stats file.  Returns NULL with the reason in err. */
FILE *stats_open(const char *path, char *err, size_t errlen);

/*
 * One line per VM, then the host line; t is seconds since VMM start.  The
 * per-second rates are since the last call with advance set (the stats
 * file's lines); a look in between (the control socket's) leaves them.
 */
void stats_write(FILE *f, double t, struct vm *vms, unsigned nvms, struct mm_host *host,
		 struct share_scan *scan, int advance);

#endif
