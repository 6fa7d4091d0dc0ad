/*
 * The balloon driver's main loop, for the workloads that idle (balloon,
 * cache): follow the device's target for a while, saying on the console
 * what the driver does, so a student can follow it.
 */
#ifndef MEMVISOR_GUEST_BALLOON_FOLLOW_H
#define MEMVISOR_GUEST_BALLOON_FOLLOW_H

#include <stdint.h>
#include "balloon-driver/vballoon.h"

struct follow_result {
	int64_t inflated, deflated;   /* pages */
	uint64_t targets;             /* target changes seen */
};

/* Follow the target until `secs` seconds after `start` (a TSC value). */
void balloon_follow(struct vballoon *b, uint64_t start, uint64_t secs, struct follow_result *r);

#endif
