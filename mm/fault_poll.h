/*
 * How long a VM's fault thread spins for the next userfaultfd message
 * before it sleeps in poll(2): KVM's halt polling, applied to fault
 * service.  Waking a sleeping thread costs far more than the fault it
 * serves on a virtualized host (a bare userfaultfd round trip measured
 * 45 us with the handler asleep and 14 us with it spinning, on the kvm_pvm
 * machine of docs/memory.md), and faults come in bursts: a guest that
 * faults once is usually back within tens of microseconds.
 *
 * The window adapts as KVM's halt_poll_ns does: it starts at 0, grows
 * (to FAULT_POLL_START_NS, then doubling up to the maximum) each time a
 * fault came after the spin gave up but within the maximum, so that a
 * longer spin would have caught it; and drops to 0 when the wait was longer
 * than the maximum, so a quiet VM costs no CPU.  A fault caught while
 * spinning leaves the window as it is.
 *
 * Spinning takes a CPU from the vCPUs, so a host lets only so many fault
 * threads spin at once (fault_poll_claim).
 */
#ifndef MEMVISOR_MM_FAULT_POLL_H
#define MEMVISOR_MM_FAULT_POLL_H

#include <stdatomic.h>
#include <stdint.h>

#define FAULT_POLL_DEFAULT_US 200    /* KVM's halt_poll_ns default on x86 */
#define FAULT_POLL_MAX_US 10000
#define FAULT_POLL_START_NS 10000u   /* KVM's halt_poll_ns_grow_start */

struct fault_poll {
	uint64_t max_ns;             /* 0: never spin */
	uint64_t window_ns;          /* how long the next spin may last */
};

void fault_poll_init(struct fault_poll *fp, uint64_t max_ns);

/* The fault thread slept, and the next fault came waited_ns after the previous batch ended. */
void fault_poll_slept(struct fault_poll *fp, uint64_t waited_ns);

/* Spinners allowed at once on a host with ncpus CPUs: all but one. */
unsigned fault_poll_spinners_for(long ncpus);

/* Take one of max spinning places (0: all taken), and give it back. */
int fault_poll_claim(atomic_uint *spinning, unsigned max);
void fault_poll_release(atomic_uint *spinning);

#endif
