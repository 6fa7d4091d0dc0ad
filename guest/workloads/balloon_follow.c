#include "balloon_follow.h"

#include "plat.h"

/* While short of the target, look for spare pages again this often. */
#define RETRY_MS 200

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

void balloon_follow(struct vballoon *b, uint64_t start, uint64_t secs, struct follow_result *r)
{
	uint64_t khz = plat_tsc_khz(), deadline = start + secs * khz * 1000, last_target = ~0ULL;
	uint64_t target_at = start, next_look = start;
	int settled = 1;

	r->inflated = r->deflated = 0;
	r->targets = 0;
	for (uint64_t now = rdtsc_ordered(); now < deadline; now = rdtsc_ordered()) {
		uint64_t target;
		int64_t moved;
		/* A new target comes with an interrupt (without a line: look every 10 ms). */
		unsigned isr = vballoon_service(b);

		if (!(isr & 2) && settled && now < next_look) {
			__builtin_ia32_pause();
			continue;
		}
		target = vballoon_target(b);
		if (target != last_target) {
			plat_say("balloon: target %lu pages (%lu MiB), holding %lu: %s", (unsigned long)target,
				 (unsigned long)(target >> 8), (unsigned long)b->held,
				 target > b->held ? "inflating" : target < b->held ? "deflating" : "nothing to do");
			last_target = target;
			target_at = now;
			r->targets++;
		}
		/* One step at a time, so an interrupt is seen between steps. */
		moved = vballoon_step(b);
		if (moved > 0)
			r->inflated += moved;
		else if (moved < 0)
			r->deflated -= moved;
		if (moved == 0 && !settled)
			say_held(b, target, target_at, khz);
		settled = moved == 0;
		/* Short of the target: look for spare pages again now and then. */
		next_look = b->held < target ? now + khz * RETRY_MS : b->irq_on ? deadline : now + khz * 10;
	}
}
