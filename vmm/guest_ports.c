#include "guest_ports.h"
#include "../guest/abi.h"

#include <stdio.h>
#include <string.h>

#define PORT_WARNINGS_MAX 5

static void warn(struct vm *vm, const char *what, uint16_t port, uint64_t value)
{
	unsigned n = atomic_fetch_add(&vm->port_warnings, 1);

	if (n < PORT_WARNINGS_MAX)
		console_log(vm->name, "%s (port 0x%x, value 0x%llx)%s", what, port,
			    (unsigned long long)value,
			    n + 1 == PORT_WARNINGS_MAX ? "; further port warnings suppressed" : "");
}

static uint32_t load(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;

	memcpy(&v, p, size > 4 ? 4 : size);
	return v;
}

/* The guest wrote the gpa of a struct mv_line: check it, then print. */
static void line_write(struct vm *vm, uint64_t gpa)
{
	char text[MV_LINE_MAX];
	uint32_t len;

	if (gpa > vm->ram_size || vm->ram_size - gpa < sizeof(struct mv_line) ||
	    guest_mem_read(&vm->gm, gpa, &len, sizeof(len))) {
		warn(vm, "line write outside guest RAM", MV_PORT_LINE, gpa);
		return;
	}
	if (len > MV_LINE_MAX || vm->ram_size - gpa - sizeof(struct mv_line) < len) {
		warn(vm, "line write with a bad length", MV_PORT_LINE, len);
		return;
	}
	/* Through the memory manager: the page may be swapped out by now. */
	if (guest_mem_read(&vm->gm, gpa + sizeof(struct mv_line), text, len)) {
		warn(vm, "line text could not be read", MV_PORT_LINE, gpa);
		return;
	}
	console_write(&vm->con, text, len);
}

/* The guest asked for a range of its RAM to be swapped out now. */
static void pageout_request(struct vm *vm, uint64_t gpa)
{
	struct mv_range r;
	uint64_t t0, pages;

	if (guest_mem_read(&vm->gm, gpa, &r, sizeof(r))) {
		warn(vm, "pageout request outside guest RAM", MV_PORT_PAGEOUT, gpa);
		return;
	}
	if (r.gpa >= vm->ram_size || r.len > vm->ram_size - r.gpa || r.len == 0) {
		warn(vm, "pageout of a range outside guest RAM", MV_PORT_PAGEOUT, r.gpa);
		return;
	}
	t0 = vm_now_ns();
	pages = guest_mem_pageout(&vm->gm, r.gpa, r.len);
	console_log(vm->name, "pageout at the guest's request: %llu of %llu pages swapped out in %.1f ms",
		    (unsigned long long)pages, (unsigned long long)((r.len + 4095) / 4096),
		    (double)(vm_now_ns() - t0) / 1e6);
}

static int port_out(struct vcpu *v, uint16_t port, unsigned size, uint32_t value)
{
	struct vm *vm = v->vm;
	char why[64];

	/* The debug ports carry a 32-bit value or a gpa: nothing narrower. */
	if ((port == MV_PORT_EXIT || port == MV_PORT_LINE || port == MV_PORT_PAGEOUT || port == MV_PORT_IDLE) &&
	    size != 4) {
		warn(vm, "this port needs a 32-bit write", port, value);
		return 0;
	}
	switch (port) {
	case MV_PORT_COM1:
		console_putc(&vm->con, (char)(value & 0xff));
		return 0;
	case MV_PORT_EXIT:
		snprintf(why, sizeof(why), "guest exit code %u", value);
		/* A process exit status has 8 bits: keep "non-zero" non-zero. */
		vm_finish(vm, VM_EXITED, value > 255 ? 255 : (int)value, why);
		return 1;
	case MV_PORT_LINE:
		line_write(vm, value);
		return 0;
	case MV_PORT_EVENT:
		if (value == MV_EVENT_WORKLOAD_START) {
			unsigned long long zero = 0;
			atomic_compare_exchange_strong(&vm->t_workload_ns, &zero, vm_now_ns());
		}
		return 0;
	case MV_PORT_PAGEOUT:
		pageout_request(vm, value);
		return 0;
	case MV_PORT_IDLE:
		/* The vCPU's thread sleeps, so the host's CPUs go to VMs with work: a paravirtual HLT. */
		if (value == 0 || value > MV_IDLE_MAX_US) {
			warn(vm, "idle of a bad length ignored", port, value);
			return 0;
		}
		{
			struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)value * 1000 };
			nanosleep(&ts, NULL);
		}
		return 0;
	default:
		/* COM1's other registers and stray ports are ignored, like open bus. */
		if (port >= MV_PORT_COM1 && port < MV_PORT_COM1 + 8)
			return 0;
		warn(vm, "write to an unknown port ignored", port, value);
		return 0;
	}
}

static uint32_t port_in(struct vcpu *v, uint16_t port)
{
	if (port == MV_PORT_COM1_LSR)
		return 0x60; /* transmitter empty and idle: never wait */
	if (port >= MV_PORT_COM1 && port < MV_PORT_COM1 + 8)
		return 0;
	warn(v->vm, "read of an unknown port gave all ones", port, 0);
	return 0xffffffffu;
}

int guest_ports_io(struct vcpu *v, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;

	if (size != 1 && size != 2 && size != 4) {
		warn(v->vm, "port access of a bad size", run->io.port, size);
		return 0;
	}
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		/* A Linux guest's PC devices: COM1, ACPI power management, reset. */
		if (v->vm->linux_guest &&
		    pc_platform_io(&v->vm->pc, run->io.port, run->io.direction == KVM_EXIT_IO_OUT, data, size))
			continue;
		/* PCI configuration space: the VM's devices. */
		if (devices_io(&v->vm->dev, run->io.port, run->io.direction == KVM_EXIT_IO_OUT, data, size))
			continue;
		if (run->io.direction == KVM_EXIT_IO_OUT) {
			if (port_out(v, run->io.port, size, load(data, size)))
				return 1;
		} else {
			uint32_t value = port_in(v, run->io.port);
			memcpy(data, &value, size);
		}
	}
	return 0;
}
