#ifndef MEMVISOR_GUEST_FAULT_H
#define MEMVISOR_GUEST_FAULT_H

#include "lib/args.h"

/* The guest-only workload that faults on purpose. */
int wl_fault(struct args *a);

#endif
