#include "balloon_follow.h"

#include "plat.h"

/* While short of the target, look for spare pages again this often. */
#define RETRY_MS 200
/* The longest a tick moves pages before it lets the workload go on. */
#define TICK_MS 5

static void say_held(const struct vballoon *b, uint64_t target, uint64_t since, uint64_t khz)
{
	plat_say("balloon: holding %lu pages (%lu MiB)%s, %lu ms after the target came; so far %lu pages from "
		 "cache, %lu free, %lu requests",
		 (unsigned long)b->held, (unsigned long)(b->held >> 8),
		 b->held == target ? ", the target" :
		 b->held < target ? " (short of the target: no cache or free pages left)" :
		 " (above the target by less than a run: runs go back whole)",
		 (unsigned long)(tsc_to_ns(rdtsc_ordered() - since, khz) / 1000000), (unsigned long)b->from_cache,
		 (unsigned long)b->from_free, (unsigned long)b->requests);
}

void follower_init(struct follower *f, struct vballoon *b)
{
	*f = (struct follower){ .b = b, .khz = plat_tsc_khz(), .last_target = ~0ULL, .settled = 1 };
	f->target_at = f->next_look = rdtsc_ordered();
}

void follower_tick(struct follower *f)
{
	struct vballoon *b = f->b;
	uint64_t now = rdtsc_ordered(), target;
	int64_t moved;
	/* A new target comes with an interrupt (without a line: look every 10 ms). */
	unsigned isr = vballoon_service(b);

	if (!(isr & 2) && f->settled && now < f->next_look)
		return;
	target = vballoon_target(b);
	if (target != f->last_target) {
		plat_say("balloon: target %lu pages (%lu MiB), holding %lu: %s", (unsigned long)target,
			 (unsigned long)(target >> 8), (unsigned long)b->held,
			 target > b->held ? "inflating" : target < b->held ? "deflating" : "nothing to do");
		f->last_target = target;
		f->target_at = now;
		f->r.targets++;
	}
	/*
	 * Steps for up to TICK_MS, so a busy workload that ticks rarely still
	 * moves its balloon at a useful rate; the interrupt counter is looked at
	 * again at the next tick.
	 */
	for (uint64_t until = now + f->khz * TICK_MS;;) {
		moved = vballoon_step(b);
		if (moved > 0)
			f->r.inflated += moved;
		else if (moved < 0)
			f->r.deflated -= moved;
		if (moved == 0 || rdtsc_ordered() >= until)
			break;
	}
	if (moved == 0 && !f->settled)
		say_held(b, target, f->target_at, f->khz);
	f->settled = moved == 0;
	/* Short of the target: look for spare pages again now and then. */
	f->next_look = b->held < target ? now + f->khz * RETRY_MS : b->irq_on ? ~0ULL : now + f->khz * 10;
}

void balloon_follow(struct vballoon *b, uint64_t start, uint64_t secs, struct follow_result *r)
{
	struct follower f;
	uint64_t deadline = start + secs * plat_tsc_khz() * 1000;

	follower_init(&f, b);
	while (rdtsc_ordered() < deadline) {
		uint64_t before = f.r.inflated + f.r.deflated + f.r.targets;

		follower_tick(&f);
		if (f.r.inflated + f.r.deflated + f.r.targets == before)
			__builtin_ia32_pause();
	}
	*r = f.r;
}
