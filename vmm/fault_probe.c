#include "fault_probe.h"
#include "boot_layout.h"
#include "kvm_compat.h"
#include "../guest/abi.h"
#include "../mm/uffd.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROBE_RAM   (4ULL << 20)
#define PROBE_CODE  MV_IMAGE_MIN_GPA
#define PROBE_GPA   0x300000ULL    /* never written: missing when the guest reads it */

static int run_probe(struct kvm_sys *kvm, uint8_t *ram, char *why, size_t len)
{
	struct kvm_vcpu_handle h = { .fd = -1 };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	char err[200];
	int vm_fd = -1, rc = 0;

	if (kvm_vm_create(kvm, &vm_fd, err, sizeof(err)) ||
	    kvm_vm_set_ram(vm_fd, 0, 0, ram, PROBE_RAM, err, sizeof(err)) ||
	    kvm_vcpu_create(kvm, vm_fd, 0, &h, err, sizeof(err))) {
		snprintf(why, len, "probe VM: %s", err);
		goto out;
	}
	if (ioctl(h.fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(why, len, "probe VM: KVM_GET_SREGS: %s", strerror(errno));
		goto out;
	}
	boot_cpu_state(&sregs, &regs, PROBE_CODE, 0);
	if (ioctl(h.fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(h.fd, KVM_SET_REGS, &regs) < 0) {
		snprintf(why, len, "probe VM: setting registers: %s", strerror(errno));
		goto out;
	}
	if (ioctl(h.fd, KVM_RUN, 0) == 0) {
		snprintf(why, len, "KVM_RUN returned exit reason %u instead of failing", h.run->exit_reason);
	} else if (errno != EFAULT) {
		snprintf(why, len, "KVM_RUN failed with %s, not EFAULT", strerror(errno));
	} else if (h.run->exit_reason != KVM_EXIT_MEMORY_FAULT) {
		snprintf(why, len, "KVM_RUN failed with EFAULT and exit reason %u: no gpa",
			 h.run->exit_reason);
	} else if (kvm_run_memory_fault(h.run)->gpa != PROBE_GPA) {
		snprintf(why, len, "memory-fault exit at gpa 0x%llx, not 0x%llx",
			 (unsigned long long)kvm_run_memory_fault(h.run)->gpa, PROBE_GPA);
	} else {
		snprintf(why, len, "KVM memory-fault exits give the gpa");
		rc = 1;
	}
out:
	if (h.fd >= 0)
		kvm_vcpu_destroy(&h);
	if (vm_fd >= 0)
		close(vm_fd);
	return rc;
}

int fault_probe_memory_exit(struct kvm_sys *kvm, char *why, size_t len)
{
	/* movb 0x300000, %al; hlt */
	static const uint8_t code[] = { 0x8a, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, 0xf4 };
	struct boot_params bp = {
		.ram_size = PROBE_RAM, .tsc_khz = 1, .image_start = PROBE_CODE,
		.image_end = PROBE_CODE + MV_PAGE_SIZE, .cmdline = "", .vcpus = 1, .vm_name = "probe",
	};
	struct uffd_info u = { .fd = -1 };
	char err[200];
	uint8_t *ram;
	int rc = 0;

	if (!kvm->memory_fault_info) {
		snprintf(why, len, "no KVM_CAP_MEMORY_FAULT_INFO");
		return 0;
	}
	if (!(uffd_probe_features() & UFFD_FEATURE_SIGBUS)) {
		snprintf(why, len, "userfaultfd lacks UFFD_FEATURE_SIGBUS");
		return 0;
	}
	ram = mmap(NULL, PROBE_RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED) {
		snprintf(why, len, "probe VM: mmap: %s", strerror(errno));
		return 0;
	}
	memcpy(ram + PROBE_CODE, code, sizeof(code));
	if (boot_layout_write(ram, &bp, err, sizeof(err))) {
		snprintf(why, len, "probe VM: %s", err);
	} else if (uffd_open(&u, 1, err, sizeof(err)) < 0 ||
		   uffd_register(&u, ram, PROBE_RAM, err, sizeof(err)) < 0) {
		snprintf(why, len, "probe VM: %s", err);
	} else {
		rc = run_probe(kvm, ram, why, len);
	}
	if (u.fd >= 0)
		close(u.fd);
	munmap(ram, PROBE_RAM);
	return rc;
}
