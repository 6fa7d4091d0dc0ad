#include "kvm.h"
#include "kvm_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define CPUID_MAX_ENTRIES 256

static const struct {
	int cap;
	const char *name;
	const char *why;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM from the VMM's own mapping" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "a CPUID table per vCPU" },
	{ KVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ", "the guest's TSC frequency" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping a running vCPU without races" },
};

static int get_supported_cpuid(struct kvm_sys *kvm, char *err, size_t errlen)
{
	/* E2BIG means the buffer is too small: grow and retry. */
	for (unsigned n = 64; n <= CPUID_MAX_ENTRIES; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return ERR("out of memory");
		c->nent = n;
		if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			kvm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return ERR("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	}
	return ERR("KVM_GET_SUPPORTED_CPUID: more than %d entries", CPUID_MAX_ENTRIES);
}

int kvm_sys_open(struct kvm_sys *kvm, const char *path, char *err, size_t errlen)
{
	int version, size;

	memset(kvm, 0, sizeof(*kvm));
	kvm->fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return ERR("%s does not exist: this machine has no KVM (is the kvm module loaded?)", path);
		if (e == EACCES || e == EPERM)
			return ERR("%s: permission denied (run as root or join the group that owns it)", path);
		return ERR("cannot open %s: %s", path, strerror(e));
	}
	version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		int e = errno;
		kvm_sys_close(kvm);
		if (version < 0)
			return ERR("%s: KVM_GET_API_VERSION failed: %s", path, strerror(e));
		return ERR("%s: KVM API version %d, need %d", path, version, KVM_API_VERSION);
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			kvm_sys_close(kvm);
			return ERR("%s lacks %s, needed for %s", path, required_caps[i].name,
				   required_caps[i].why);
		}
	}
	size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run)) {
		kvm_sys_close(kvm);
		return ERR("KVM_GET_VCPU_MMAP_SIZE: %s", size < 0 ? strerror(errno) : "too small");
	}
	kvm->run_size = (size_t)size;
	kvm->max_vcpus = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = 4; /* the API's documented minimum */
	kvm->memory_fault_info = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_FAULT_INFO) > 0;
	kvm->tsc_deadline = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	if (get_supported_cpuid(kvm, err, errlen)) {
		kvm_sys_close(kvm);
		return -1;
	}
	return 0;
}

void kvm_sys_close(struct kvm_sys *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
	free(kvm->cpuid);
	kvm->cpuid = NULL;
}

int kvm_vm_create(struct kvm_sys *kvm, int *vm_fd, char *err, size_t errlen)
{
	int fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);

	if (fd < 0)
		return ERR("KVM_CREATE_VM: %s", strerror(errno));
	/* Only VMX needs the TSS page (real-mode emulation); harmless elsewhere. */
	if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(fd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) {
		int e = errno;
		close(fd);
		return ERR("KVM_SET_TSS_ADDR: %s", strerror(e));
	}
	/* VMX's identity-map page for unpaged guest modes, just below the TSS (also VMX only). */
	if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t idmap = 0xfffbc000ULL;
		if (ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
			int e = errno;
			close(fd);
			return ERR("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(e));
		}
	}
	/*
	 * The in-kernel irqchip (PIC, IOAPIC, LAPIC): a device raises its INTx
	 * line with KVM_IRQ_LINE from any thread, and the guest's PIC or IOAPIC
	 * routes it, with no interrupt-window exits in the VMM.
	 */
	if (ioctl(fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		int e = errno;
		close(fd);
		return ERR("KVM_CREATE_IRQCHIP: %s", strerror(e));
	}
	*vm_fd = fd;
	return 0;
}

int kvm_create_pit(int vm_fd, char *err, size_t errlen)
{
	/* The dummy speaker answers port 0x61, which Linux reads for the PIT's gate. */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return ERR("KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

int kvm_irq_line(int vm_fd, unsigned irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level ? 1 : 0 };

	return ioctl(vm_fd, KVM_IRQ_LINE, &l) < 0 ? -1 : 0;
}

int kvm_vm_set_ram(int vm_fd, unsigned slot, uint64_t gpa, void *host, uint64_t size, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return ERR("KVM_SET_USER_MEMORY_REGION (slot %u, %llu bytes at 0x%llx): %s", slot,
			   (unsigned long long)size, (unsigned long long)gpa, strerror(errno));
	return 0;
}

static int set_cpuid(struct kvm_sys *kvm, int fd, unsigned index, char *err, size_t errlen)
{
	size_t bytes = sizeof(*kvm->cpuid) + kvm->cpuid->nent * sizeof(kvm->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(bytes);
	int rc = 0;

	if (!c)
		return ERR("out of memory");
	memcpy(c, kvm->cpuid, bytes);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1) {
			e->ebx = (e->ebx & 0x00ffffffu) | (index << 24); /* initial APIC ID */
			e->ecx |= 1u << 31;                               /* hypervisor present */
			/* KVM's LAPIC has the TSC deadline timer, but the supported table leaves the bit to us. */
			if (kvm->tsc_deadline)
				e->ecx |= 1u << 24;
		}
		/* The x2APIC topology leaves carry each vCPU's own ID. */
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = index;
	}
	if (ioctl(fd, KVM_SET_CPUID2, c) < 0)
		rc = ERR("KVM_SET_CPUID2: %s", strerror(errno));
	free(c);
	return rc;
}

int kvm_vcpu_create(struct kvm_sys *kvm, int vm_fd, unsigned index,
		    struct kvm_vcpu_handle *vcpu, char *err, size_t errlen)
{
	void *run;

	vcpu->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	vcpu->run = NULL;
	if (vcpu->fd < 0)
		return ERR("KVM_CREATE_VCPU %u: %s", index, strerror(errno));
	run = mmap(NULL, kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		int e = errno;
		close(vcpu->fd);
		vcpu->fd = -1;
		return ERR("mmap of vCPU %u's kvm_run: %s", index, strerror(e));
	}
	vcpu->run = run;
	vcpu->run_size = kvm->run_size;
	if (set_cpuid(kvm, vcpu->fd, index, err, errlen)) {
		kvm_vcpu_destroy(vcpu);
		return -1;
	}
	return 0;
}

void kvm_vcpu_destroy(struct kvm_vcpu_handle *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

uint64_t kvm_vcpu_tsc_khz(const struct kvm_vcpu_handle *vcpu)
{
	int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

	return khz > 0 ? (uint64_t)khz : 0;
}

const char *kvm_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
		[KVM_EXIT_IO] = "KVM_EXIT_IO",
		[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
		[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
		[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
		[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
		[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
		[KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
		[KVM_EXIT_NMI] = "KVM_EXIT_NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
	};

	if (reason < sizeof(names) / sizeof(names[0]))
		return names[reason];
	return NULL;
}

void kvm_vcpu_describe(const struct kvm_vcpu_handle *vcpu, const uint8_t *ram,
		       uint64_t ram_size, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	size_t n = 0;

#define OUT(...) do { if (n < len) n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__); } while (0)
	buf[0] = '\0';
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		OUT("  (registers unavailable: %s)", strerror(errno));
		return;
	}
	OUT("  rip=%016llx rsp=%016llx rflags=%08llx cpl=%u\n",
	    (unsigned long long)r.rip, (unsigned long long)r.rsp,
	    (unsigned long long)r.rflags, s.cs.selector & 3u);
	OUT("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
	    (unsigned long long)r.rax, (unsigned long long)r.rbx,
	    (unsigned long long)r.rcx, (unsigned long long)r.rdx);
	OUT("  rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx\n",
	    (unsigned long long)r.rsi, (unsigned long long)r.rdi,
	    (unsigned long long)r.rbp, (unsigned long long)r.r8);
	OUT("  cr0=%08llx cr2=%016llx cr3=%016llx cr4=%08llx efer=%llx\n",
	    (unsigned long long)s.cr0, (unsigned long long)s.cr2,
	    (unsigned long long)s.cr3, (unsigned long long)s.cr4, (unsigned long long)s.efer);
	OUT("  cs=%04x ss=%04x gdt=%llx/%x idt=%llx/%x tr=%04x",
	    s.cs.selector, s.ss.selector, (unsigned long long)s.gdt.base, s.gdt.limit,
	    (unsigned long long)s.idt.base, s.idt.limit, s.tr.selector);
	/* The test guest is identity mapped, so rip is also a gpa. */
	if (ram && r.rip < ram_size && ram_size - r.rip >= 16) {
		OUT("\n  code at rip:");
		for (int i = 0; i < 16; i++)
			OUT(" %02x", ram[r.rip + (uint64_t)i]);
	}
#undef OUT
}

static const char *mp_state_name(uint32_t s)
{
	static const char *const names[] = {
		[KVM_MP_STATE_RUNNABLE] = "runnable", [KVM_MP_STATE_UNINITIALIZED] = "uninitialized",
		[KVM_MP_STATE_INIT_RECEIVED] = "init received", [KVM_MP_STATE_HALTED] = "halted",
		[KVM_MP_STATE_SIPI_RECEIVED] = "sipi received",
	};

	return s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "other";
}

static uint32_t lapic_reg(const struct kvm_lapic_state *l, unsigned off)
{
	uint32_t v;

	memcpy(&v, l->regs + off, 4);
	return v;
}

/* The highest vector set in the 256-bit LAPIC register at off (ISR, IRR), or -1. */
static int lapic_top(const struct kvm_lapic_state *l, unsigned off)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = lapic_reg(l, off + 0x10u * (unsigned)i);
		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

#define OUT(...) do { if (n < len) n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__); } while (0)
void kvm_vcpu_describe_wait(const struct kvm_vcpu_handle *vcpu, char *buf, size_t len)
{
	struct kvm_mp_state mp;
	struct kvm_lapic_state l;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[2];
	} m = { .h = { .nmsrs = 2 }, .e = { { .index = 0x10 }, { .index = 0x6e0 } } }; /* TSC, TSC_DEADLINE */
	size_t n = 0;

	buf[0] = '\0';
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) == 0)
		OUT("  run state %s", mp_state_name(mp.mp_state));
	else
		OUT("  run state unknown (%s)", strerror(errno));
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &l) < 0) {
		OUT("; no in-kernel LAPIC");
		return;
	}
	{
		uint32_t lvtt = lapic_reg(&l, 0x320);
		static const char *const modes[] = { "one-shot", "periodic", "tsc-deadline", "reserved" };

		OUT("\n  lapic timer: lvt 0x%05x (vector %u, %s%s) initial %u current %u divide 0x%x",
		    lvtt, lvtt & 0xff, modes[(lvtt >> 17) & 3], lvtt & (1u << 16) ? ", masked" : "",
		    lapic_reg(&l, 0x380), lapic_reg(&l, 0x390), lapic_reg(&l, 0x3e0));
	}
	if (ioctl(vcpu->fd, KVM_GET_MSRS, &m) == 2)
		OUT("; tsc 0x%llx deadline 0x%llx%s", (unsigned long long)m.e[0].data, (unsigned long long)m.e[1].data,
		    m.e[1].data && m.e[1].data < m.e[0].data ? " (passed)" : "");
	OUT("; irr top %d isr top %d tpr 0x%x", lapic_top(&l, 0x200), lapic_top(&l, 0x100), lapic_reg(&l, 0x80));
}
#undef OUT
