/*
 * Host memory states, as ESX computes them: free host memory against
 * minFree.  minFree follows ESX's sliding scale over the host budget (6% of
 * the first 4 GiB, 4% up to 12 GiB, 2% up to 28 GiB, 1% above), and the
 * soft, hard and low states begin below 64%, 32% and 16% of it.
 *
 * Each threshold is split in two so that the state does not flap: the
 * host falls into a state when free memory drops below its threshold, and
 * climbs out of it only when free memory rises past the midpoint between
 * that threshold and the one above (100% of minFree above soft).
 */
#ifndef MEMVISOR_MM_MEMSTATE_H
#define MEMVISOR_MM_MEMSTATE_H

#include <stdint.h>

enum mem_state { MEM_HIGH, MEM_SOFT, MEM_HARD, MEM_LOW };

struct memstate {
	uint64_t min_free;         /* bytes */
	uint64_t enter[4];         /* fall into state s when free < enter[s] */
	uint64_t leave[4];         /* climb out of s when free >= leave[s] */
	enum mem_state state;
	uint64_t transitions;
};

/* minFree for a host budget of `budget` bytes. */
uint64_t memstate_min_free(uint64_t budget);

/* Thresholds for this budget; the state starts high. */
void memstate_init(struct memstate *ms, uint64_t budget);

/* New thresholds for a new budget; the state and its history stay (the next update moves it). */
void memstate_set_budget(struct memstate *ms, uint64_t budget);

/*
 * Feed the current free memory; returns the (possibly new) state.  A big
 * drop may skip states; a recovery climbs one state per call at most, so
 * every climb is seen and logged.
 */
enum mem_state memstate_update(struct memstate *ms, uint64_t free_bytes);

const char *memstate_name(enum mem_state s);

#endif
