/*
 * The port I/O a test guest uses (guest/abi.h): the COM1 transmit register,
 * and the memvisor debug ports for exit code, whole lines and milestones.
 * Every value the guest supplies is checked; a bad one is logged (a few
 * times per VM) and ignored.
 */
#ifndef MEMVISOR_GUEST_PORTS_H
#define MEMVISOR_GUEST_PORTS_H

#include "vm.h"

/*
 * Handle one KVM_EXIT_IO of vCPU v (all `count` repetitions of a string
 * instruction).  Returns 1 if the guest ended the VM, else 0.
 */
int guest_ports_io(struct vcpu *v, struct kvm_run *run);

#endif
