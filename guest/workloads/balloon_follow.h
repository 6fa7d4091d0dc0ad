/*
 * The balloon driver's main loop for the workloads: follow the device's
 * target, saying on the console what the driver does, so a student can
 * follow it.  The idle workloads (balloon, cache) call balloon_follow;
 * a busy one (oltp) calls follower_tick between units of its own work,
 * as a guest kernel's balloon thread would get the CPU now and then.
 */
#ifndef MEMVISOR_GUEST_BALLOON_FOLLOW_H
#define MEMVISOR_GUEST_BALLOON_FOLLOW_H

#include <stdint.h>
#include "balloon-driver/vballoon.h"

struct follow_result {
	int64_t inflated, deflated;   /* pages */
	uint64_t targets;             /* target changes seen */
};

struct follower {
	struct vballoon *b;
	struct follow_result r;
	uint64_t khz, last_target, target_at, next_look;
	int settled;
};

void follower_init(struct follower *f, struct vballoon *b);

/* At most one step toward the target (a run of pages), if anything is due. */
void follower_tick(struct follower *f);

/* Follow the target until `secs` seconds after `start` (a TSC value). */
void balloon_follow(struct vballoon *b, uint64_t start, uint64_t secs, struct follow_result *r);

#endif
