/*
 * vm.max_map_count for page sharing, agreed between every VMM on the host.
 * A shared page may be a mapping of its own, so a VMM with sharing on may
 * need the limit raised (as root).  Lowering it under a running VMM could
 * make a share impossible to break, so the value found before the first
 * raise comes back only when the last VMM leaves: each holds a shared
 * flock on /run/memvisor/max_map_count for its life, and that file records
 * the value found and the value raised to.  The VMM that gets the lock
 * exclusively at exit puts the old value back, if nobody changed it
 * meanwhile; after a VMM killed outright, the next one to leave does.
 * Starting and leaving take turns under max_map_count.lock, for moments.
 */
#ifndef MEMVISOR_MAP_COUNT_H
#define MEMVISOR_MAP_COUNT_H

#include <stdint.h>

/* Take the shared lock and raise the limit to `want` if it is lower; says what it did. */
void map_count_acquire(uint64_t want);

/* Leave: the last VMM out puts the recorded value back.  Says what it did. */
void map_count_release(void);

#endif
