/*
 * KVM API pieces newer than Debian 12's linux-libc-dev (6.1): the
 * memory-fault exit of Linux 6.8, which gives the vCPU thread the gpa of a
 * fault the kernel could not resolve (with UFFD_FEATURE_SIGBUS, a
 * userfault).  Values from include/uapi/linux/kvm.h.
 */
#ifndef MEMVISOR_KVM_COMPAT_H
#define MEMVISOR_KVM_COMPAT_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO 232
#endif
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39
#endif

/* kvm_run's exit union member `memory_fault` (6.8+). */
struct kvm_memory_fault_compat {
	uint64_t flags;
	uint64_t gpa;
	uint64_t size;
};

static inline const struct kvm_memory_fault_compat *kvm_run_memory_fault(const struct kvm_run *run)
{
	/* Every member of the exit union starts where `mmio` does. */
	return (const struct kvm_memory_fault_compat *)((const char *)run + offsetof(struct kvm_run, mmio));
}

#endif
