/*
 * Thin wrappers over the /dev/kvm API: open and check it, create VMs and
 * vCPUs, register guest RAM, give vCPUs a CPUID table.  Every failure
 * comes back as -1 with a message that names the ioctl and the cause.
 */
#ifndef MEMVISOR_KVM_H
#define MEMVISOR_KVM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct kvm_sys {
	int fd;                      /* /dev/kvm */
	size_t run_size;             /* KVM_GET_VCPU_MMAP_SIZE */
	int max_vcpus;
	struct kvm_cpuid2 *cpuid;    /* KVM_GET_SUPPORTED_CPUID */
	int tsc_deadline;            /* KVM_CAP_TSC_DEADLINE_TIMER */
	int memory_fault_info;       /* KVM_CAP_MEMORY_FAULT_INFO: gpa on a failed fault */
};

struct kvm_vcpu_handle {
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

/* Open /dev/kvm and check the API version and every capability we use. */
int kvm_sys_open(struct kvm_sys *kvm, const char *path, char *err, size_t errlen);
void kvm_sys_close(struct kvm_sys *kvm);

/* A VM with the in-kernel irqchip (PIC, IOAPIC, LAPIC). */
int kvm_vm_create(struct kvm_sys *kvm, int *vm_fd, char *err, size_t errlen);

/* The in-kernel i8254 PIT (Linux guests), on IRQ 0 of KVM's irqchip. */
int kvm_create_pit(int vm_fd, char *err, size_t errlen);

/* Drive a level-triggered interrupt line (an INTx pin routed to IRQ irq). */
int kvm_irq_line(int vm_fd, unsigned irq, int level);

/* Guest RAM: memory slot `slot`, size bytes at gpa from host memory. */
int kvm_vm_set_ram(int vm_fd, unsigned slot, uint64_t gpa, void *host, uint64_t size, char *err, size_t errlen);

/* Create vCPU `index`, map its kvm_run, give it CPUID (APIC ID = index). */
int kvm_vcpu_create(struct kvm_sys *kvm, int vm_fd, unsigned index,
		    struct kvm_vcpu_handle *vcpu, char *err, size_t errlen);
void kvm_vcpu_destroy(struct kvm_vcpu_handle *vcpu);

/* TSC frequency the guest sees, in kHz; 0 if KVM cannot tell. */
uint64_t kvm_vcpu_tsc_khz(const struct kvm_vcpu_handle *vcpu);

/* Human-readable register dump for a failed vCPU (several lines). */
void kvm_vcpu_describe(const struct kvm_vcpu_handle *vcpu, const uint8_t *ram,
		       uint64_t ram_size, char *buf, size_t len);

/*
 * Why a vCPU may be waiting (one or two lines): its run state
 * (KVM_GET_MP_STATE: halted, runnable...), and with the in-kernel
 * LAPIC its timer (LVT, initial and current count, TSC deadline against
 * the TSC) and the highest vector pending and in service.
 */
void kvm_vcpu_describe_wait(const struct kvm_vcpu_handle *vcpu, char *buf, size_t len);

/* Name of a KVM_EXIT_* reason, or NULL. */
const char *kvm_exit_name(uint32_t reason);

#endif
