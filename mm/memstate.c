#include "memstate.h"

#define GIB (1ULL << 30)

uint64_t memstate_min_free(uint64_t budget)
{
	static const struct { uint64_t upto; unsigned pct; } scale[] = {
		{ 4 * GIB, 6 }, { 12 * GIB, 4 }, { 28 * GIB, 2 }, { UINT64_MAX, 1 },
	};
	uint64_t from = 0, total = 0;

	for (unsigned i = 0; i < sizeof(scale) / sizeof(scale[0]) && budget > from; i++) {
		uint64_t part = (budget < scale[i].upto ? budget : scale[i].upto) - from;
		total += part / 100 * scale[i].pct + part % 100 * scale[i].pct / 100;
		from = scale[i].upto;
	}
	return total;
}

void memstate_init(struct memstate *ms, uint64_t budget)
{
	uint64_t m = memstate_min_free(budget);
	/* Percentages of minFree: threshold of each state, and the one above. */
	static const unsigned pct[4] = { 100, 64, 32, 16 };

	ms->min_free = m;
	ms->enter[MEM_HIGH] = UINT64_MAX;
	ms->leave[MEM_HIGH] = 0;
	for (int s = MEM_SOFT; s <= MEM_LOW; s++) {
		ms->enter[s] = m * pct[s] / 100;
		ms->leave[s] = m * (pct[s] + pct[s - 1]) / 200;
	}
	ms->state = MEM_HIGH;
	ms->transitions = 0;
}

void memstate_set_budget(struct memstate *ms, uint64_t budget)
{
	enum mem_state s = ms->state;
	uint64_t t = ms->transitions;

	memstate_init(ms, budget);
	ms->state = s;
	ms->transitions = t;
}

enum mem_state memstate_update(struct memstate *ms, uint64_t free_bytes)
{
	enum mem_state s = ms->state;

	while (s < MEM_LOW && free_bytes < ms->enter[s + 1])
		s++;
	if (s == ms->state && s > MEM_HIGH && free_bytes >= ms->leave[s])
		s--;
	if (s != ms->state) {
		ms->state = s;
		ms->transitions++;
	}
	return s;
}

const char *memstate_name(enum mem_state s)
{
	static const char *const names[] = { "high", "soft", "hard", "low" };

	return (unsigned)s < 4 ? names[s] : "?";
}
