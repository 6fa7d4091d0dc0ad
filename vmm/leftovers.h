/*
 * What a VMM that died without cleaning up (SIGKILL, an abort, a bug) left
 * behind: its swap directory and swap files, which hold guest memory, and
 * its control socket.  Each carries its owner's pid in its name, so the
 * next VMM to start removes those whose owner is gone.  Only entries of
 * the kinds we create, owned by our user, are touched; symlinks never.
 * Gone means: the pid is free, ours (we have made nothing yet), or another
 * program's; and a live VMM's flock (on its swap directory and each swap
 * file) or listening socket protects what it has, whatever its name.
 */
#ifndef MEMVISOR_LEFTOVERS_H
#define MEMVISOR_LEFTOVERS_H

#include <stdint.h>

struct leftovers {
	unsigned dirs, files, sockets;
	uint64_t bytes;            /* in the swap files removed */
};

/*
 * Sweep `swap_base` (where fresh swap directories are made) and, if not
 * NULL, `swap_dir` (a --swap-dir), and the two places default control
 * sockets go.  Each removal is logged; the totals land in *out.
 */
void leftovers_sweep(const char *swap_base, const char *swap_dir, struct leftovers *out);

/* Whether the VMM with this pid has ended (or the pid is ours, or now names another program). */
int leftovers_owner_gone(int pid);

#endif
