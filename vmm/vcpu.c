/*
 * The vCPU thread: KVM_RUN in a loop, one switch over exit reasons.
 * Anything the VMM cannot handle fails this VM alone, with the exit
 * reason and the registers, and leaves the other VMs running.
 */
#include "vm.h"
#include "guest_ports.h"
#include "kvm_compat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sysexits.h>

static void vcpu_fail(struct vcpu *v, const char *what)
{
	char regs[1024];
	char why[256];

	kvm_vcpu_describe(&v->h, v->vm->ram, v->vm->ram_size, regs, sizeof(regs));
	snprintf(why, sizeof(why), "vCPU %u: %s", v->index, what);
	console_log(v->vm->name, "%s\n%s", why, regs);
	vm_finish(v->vm, VM_FAILED, EX_SOFTWARE, why);
}

/* Asked by vm_dump_vcpus: where this vCPU is, for the control thread. */
static void vcpu_dump(struct vcpu *v)
{
	char regs[1024], wait[512];
	struct vm *vm = v->vm;

	kvm_vcpu_describe(&v->h, vm->ram, vm->ram_size, regs, sizeof(regs));
	kvm_vcpu_describe_wait(&v->h, wait, sizeof(wait));
	pthread_mutex_lock(&vm->lock);
	snprintf(v->dump, sizeof(v->dump), "%s\n%s", wait, regs);
	v->dump_done = 1;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

static void describe_internal_error(const struct kvm_run *run, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "internal error (KVM_EXIT_INTERNAL_ERROR, suberror %u%s)",
				    run->internal.suberror,
				    run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
				    ": instruction emulation failed" : "");
	for (uint32_t i = 0; i < run->internal.ndata && i < 8 && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%llx", i ? " " : " data ",
				      (unsigned long long)run->internal.data[i]);
}

/* An AP of the test guest halts for good: park its thread until the VM ends. */
static void park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->lock);
	while (!atomic_load(&vm->done))
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

/*
 * KVM could not fault a page in because userfaultfd raised SIGBUS on it:
 * this thread serves the fault itself, with the gpa KVM gives, and runs
 * the vCPU again.  Returns 0 if served.
 */
static int serve_memory_fault(struct vcpu *v, const struct kvm_run *run)
{
	const struct kvm_memory_fault_compat *mf = kvm_run_memory_fault(run);
	struct vm *vm = v->vm;
	uint64_t off;

	if (!vm->gm.sigbus || run->exit_reason != KVM_EXIT_MEMORY_FAULT)
		return -1;
	if (ram_map_offset(&vm->map, mf->gpa, mf->size, &off))
		return -1;
	for (uint64_t a = off & ~(uint64_t)(GM_PAGE - 1); a < off + mf->size; a += GM_PAGE)
		guest_mem_fault(&vm->gm, (uint64_t)(uintptr_t)vm->ram + a, 0, 0);
	return 0;
}

/* Returns 1 when the thread should stop. */
static int handle_exit(struct vcpu *v, struct kvm_run *run)
{
	char what[256];
	const char *name;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return guest_ports_io(v, run);
	case KVM_EXIT_MMIO:
		/* A device's BAR, or open bus: reads see all ones, writes vanish. */
		if (run->mmio.len <= sizeof(run->mmio.data) &&
		    devices_mmio(&v->vm->dev, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data, run->mmio.len))
			return 0;
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		return 0;
	case KVM_EXIT_HLT: /* only without the in-kernel irqchip, which keeps hlt inside KVM */
		if (v->index == 0) {
			vcpu_fail(v, "halted with no interrupt source (KVM_EXIT_HLT on the boot vCPU)");
			return 1;
		}
		park(v);
		return 1;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fail(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		return 1;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "entry failed (KVM_EXIT_FAIL_ENTRY, reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fail(v, what);
		return 1;
	case KVM_EXIT_INTERNAL_ERROR:
		describe_internal_error(run, what, sizeof(what));
		vcpu_fail(v, what);
		return 1;
	case KVM_EXIT_INTR:
		return 0;
	default:
		name = kvm_exit_name(run->exit_reason);
		snprintf(what, sizeof(what), "unhandled exit reason %u%s%s%s", run->exit_reason,
			 name ? " (" : "", name ? name : "", name ? ")" : "");
		vcpu_fail(v, what);
		return 1;
	}
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct kvm_run *run = v->h.run;

	while (!atomic_load(&vm->done)) {
		if (ioctl(v->h.fd, KVM_RUN, 0) < 0) {
			int e = errno;
			if (e == EINTR || e == EAGAIN) {
				/* A kick: vm->done says whether it was the last one. */
				run->immediate_exit = 0;
				if (atomic_exchange(&v->dump_want, 0))
					vcpu_dump(v);
				continue;
			}
			if (e == EFAULT && serve_memory_fault(v, run) == 0)
				continue;
			char what[128];
			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(e));
			vcpu_fail(v, what);
			break;
		}
		if (handle_exit(v, run))
			break;
	}
	return NULL;
}
