/*
 * ESX's allocation between VMs (Waldspurger, OSDI 2002), as pure
 * arithmetic: each VM's allocation target (SZTGT) out of the memory the
 * host can give, and the balloon target (MCTLTGT) that brings a VM down
 * to it; plus the seed's Table 3, which technique each host memory state
 * calls for.
 *
 * Targets come from min-funding revocation: while the VMs want more than
 * there is, memory is taken, a step at a time, from the VM that pays the
 * least for it: the lowest shares per page, where an idle page costs
 * k = 1 / (1 - tau) times an active one (the idle memory tax, tau = 0.75
 * by default as in ESX, so k = 4).  No VM goes below its reservation or
 * above its limit.
 */
#ifndef MEMVISOR_MM_ALLOC_POLICY_H
#define MEMVISOR_MM_ALLOC_POLICY_H

#include "memstate.h"

#include <stdint.h>

#define ALLOC_DEFAULT_TAX    0.75
#define ALLOC_DEFAULT_SHARES 1000u

struct alloc_vm {
	/* in, pages */
	uint64_t memsz, consumed, ballooned;
	uint64_t reclaimed;            /* swapped or compressed: the VM's, though the host holds none of it */
	uint64_t reservation, limit;   /* limit 0: memsz */
	double active;                 /* fraction of its memory in use (TCHD / MEMSZ) */
	unsigned shares;
	int balloon;                   /* has a balloon the policy may set */
	/* out, pages */
	uint64_t want;                 /* what it would hold, within limit and reservation */
	uint64_t target;               /* SZTGT: want, less what was revoked */
	uint64_t balloon_target;       /* MCTLTGT */
};

/* Shares per page of a VM holding `pages`, with the idle tax: the lower, the sooner it gives. */
double alloc_ratio(const struct alloc_vm *v, uint64_t pages, double tax);

/* Targets for n VMs sharing `avail` pages. */
void alloc_targets(struct alloc_vm *v, unsigned n, uint64_t avail, double tax);

/* The seed's Table 3: what each state calls for. */
enum { ACT_SHARE = 1, ACT_BALLOON = 2, ACT_COMPRESS = 4, ACT_SWAP = 8, ACT_BLOCK = 16 };
unsigned memstate_actions(enum mem_state s);

#endif
