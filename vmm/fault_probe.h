/*
 * Does this KVM give the vCPU thread the gpa of a fault that userfaultfd
 * refused (UFFD_FEATURE_SIGBUS)?  KVM_CAP_MEMORY_FAULT_INFO says it might;
 * only a run says it does (kvm_pvm advertises the capability, yet fails
 * KVM_RUN with EFAULT and exit reason 0).  So a throw-away VM reads one
 * missing page, and the answer is what KVM_RUN returned.
 */
#ifndef MEMVISOR_FAULT_PROBE_H
#define MEMVISOR_FAULT_PROBE_H

#include "kvm.h"

#include <stddef.h>

/* 1: KVM_EXIT_MEMORY_FAULT with the right gpa; 0: not (why says what came). */
int fault_probe_memory_exit(struct kvm_sys *kvm, char *why, size_t len);

#endif
