/*
 * Booting a Linux bzImage by the x86 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst): the protected-mode kernel at 1 MiB,
 * the zero page with the setup header, an e820 map and the initrd, the
 * command line, identity page tables and a GDT with __BOOT_CS/__BOOT_DS,
 * and the vCPU state at the 64-bit entry point (load address + 0x200).
 * Pure: reads the image from a buffer, writes guest RAM and structs only.
 */
#ifndef MEMVISOR_LINUX_BOOT_H
#define MEMVISOR_LINUX_BOOT_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/* Guest-physical layout of what the VMM writes before Linux runs. */
#define LB_GDT_GPA        0x1000ULL
#define LB_PML4_GPA       0x3000ULL
#define LB_PDPT_GPA       0x4000ULL
#define LB_PD_GPA         0x5000ULL    /* four PDs: the first 4 GiB with 2 MiB pages */
#define LB_ZERO_PAGE_GPA  0x9000ULL
#define LB_CMDLINE_GPA    0x20000ULL
#define LB_CMDLINE_MAX    0x10000ULL   /* the buffer; the kernel's cmdline_size may be less */
#define LB_EBDA_GPA       0x9fc00ULL   /* low RAM ends here, as on a PC */
#define LB_BIOS_GPA       0xe0000ULL   /* 0xe0000-0xfffff: reserved, ACPI tables live here */
#define LB_BIOS_END       0x100000ULL
#define LB_KERNEL_GPA     0x100000ULL
#define LB_MAX_RAM        (64ULL << 30) /* past 3 GiB, RAM goes on at 4 GiB (vmm/ram_map.h) */
#define LB_MIN_RAM        (64ULL << 20)

#define LB_IOAPIC_GPA     0xfec00000ULL
#define LB_LAPIC_GPA      0xfee00000ULL

/* 1 if the buffer holds a bzImage (the "HdrS" setup header). */
int linux_is_bzimage(const uint8_t *file, size_t len);

struct linux_boot {
	uint64_t ram_size;          /* multiple of 2 MiB, LB_MIN_RAM..LB_MAX_RAM */
	const uint8_t *kernel;      /* the bzImage */
	size_t kernel_len;
	const uint8_t *initrd;      /* NULL: none */
	size_t initrd_len;
	const char *cmdline;        /* NULL: empty */
	uint64_t rsdp_gpa;          /* 0: none (the kernel scans 0xe0000-0xfffff) */
};

/* What the loader placed, for the log and for tests. */
struct linux_image {
	uint16_t version;           /* boot protocol, e.g. 0x020f */
	uint64_t kernel_end;        /* first byte past the kernel's init_size */
	uint64_t initrd_gpa;        /* 0: none */
	uint64_t entry;             /* 64-bit entry point */
};

/*
 * Check the image and write it, the zero page, e820, command line, initrd,
 * GDT and page tables into ram (ram_size bytes).  Returns 0; -1 with a
 * one-line reason in err when the image will not do (not a bzImage, too
 * old a protocol, no 64-bit entry, a damaged header); -2 when the VM's
 * settings do not suit it (its memory, too long a command line, an
 * initrd that does not fit).
 */
int linux_boot_write(uint8_t *ram, const struct linux_boot *lb, struct linux_image *img,
		     char *err, size_t errlen);

/* The vCPU state at the 64-bit entry: long mode, flat segments, rsi = zero page. */
void linux_cpu_state(struct kvm_sregs *sregs, struct kvm_regs *regs, uint64_t entry);

#endif
