/*
 * What the VMM writes into guest RAM, and into the vCPU registers, before
 * the test guest's first instruction: the boot GDT, identity page tables,
 * the boot-info block and the command line (layout in guest/abi.h), and the
 * 64-bit long-mode register state.  Pure: fills buffers and structs only.
 */
#ifndef MEMVISOR_BOOT_LAYOUT_H
#define MEMVISOR_BOOT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct boot_params {
	uint64_t ram_size;      /* multiple of 2 MiB, at most MV_MAX_RAM */
	uint64_t tsc_khz;
	uint64_t image_start;
	uint64_t image_end;     /* first byte past the image */
	const char *cmdline;    /* NULL: empty */
	unsigned vcpus;
	const char *vm_name;
};

/*
 * Check that RAM can hold the boot structures, the image and the guest's
 * minimum free memory.  Returns 0, or -1 with the reason in err.
 */
int boot_check_ram(uint64_t ram_size, uint64_t image_end, char *err, size_t errlen);

/* Write GDT, page tables, boot info and command line.  -1 on a bad cmdline. */
int boot_layout_write(uint8_t *ram, const struct boot_params *bp, char *err, size_t errlen);

/* Long-mode entry state of vCPU `index` (guest/abi.h describes it). */
void boot_cpu_state(struct kvm_sregs *sregs, struct kvm_regs *regs,
		    uint64_t entry, unsigned index);

#endif
