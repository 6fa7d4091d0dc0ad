#include "linux_boot.h"
#include "ram_map.h"

#include <stdio.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
/* The image is sound, the VM's settings (memory, command line) do not suit it. */
#define CFG_ERR(...) (snprintf(err, errlen, __VA_ARGS__), -2)

/* Offsets in the zero page (struct boot_params) and the setup header. */
#define BP_ACPI_RSDP        0x070
#define BP_EXT_RAMDISK_IMG  0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE     0x0c8
#define BP_E820_ENTRIES     0x1e8
#define HDR_SETUP_SECTS     0x1f1
#define HDR_BOOT_FLAG       0x1fe
#define HDR_JUMP            0x200
#define HDR_MAGIC           0x202
#define HDR_VERSION         0x206
#define HDR_TYPE_OF_LOADER  0x210
#define HDR_LOADFLAGS       0x211
#define HDR_RAMDISK_IMAGE   0x218
#define HDR_RAMDISK_SIZE    0x21c
#define HDR_CMD_LINE_PTR    0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_XLOADFLAGS      0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_INIT_SIZE       0x260
#define BP_E820_TABLE       0x2d0
#define E820_MAX            128

#define LOADED_HIGH         0x01
#define XLF_KERNEL_64       0x01
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02
#define E820_RAM            1
#define E820_RESERVED       2

#define PTE_P   0x1ULL
#define PTE_RW  0x2ULL
#define PTE_PS  0x80ULL

/* __BOOT_CS and __BOOT_DS of arch/x86/include/asm/segment.h. */
#define BOOT_CS 0x10
#define BOOT_DS 0x18

static uint16_t get16(const uint8_t *p, size_t off) { uint16_t v; memcpy(&v, p + off, 2); return v; }
static uint32_t get32(const uint8_t *p, size_t off) { uint32_t v; memcpy(&v, p + off, 4); return v; }
static void put32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }

int linux_is_bzimage(const uint8_t *file, size_t len)
{
	return len > HDR_MAGIC + 4 && memcmp(file + HDR_MAGIC, "HdrS", 4) == 0;
}

static void e820_add(uint8_t *zp, uint64_t addr, uint64_t size, uint32_t type)
{
	uint8_t n = zp[BP_E820_ENTRIES];
	size_t off = BP_E820_TABLE + (size_t)n * 20;

	put64(zp, off, addr);
	put64(zp, off + 8, size);
	put32(zp, off + 16, type);
	zp[BP_E820_ENTRIES] = (uint8_t)(n + 1);
}

static void write_gdt_and_tables(uint8_t *ram)
{
	memset(ram + LB_GDT_GPA, 0, 4 * 8);
	put64(ram, LB_GDT_GPA + BOOT_CS, 0x00af9a000000ffffULL);  /* 64-bit code */
	put64(ram, LB_GDT_GPA + BOOT_DS, 0x00cf92000000ffffULL);  /* data */

	/* The boot protocol wants the kernel, zero page and command line mapped 1:1. */
	memset(ram + LB_PML4_GPA, 0, 0x1000 * 6);
	put64(ram, LB_PML4_GPA, LB_PDPT_GPA | PTE_P | PTE_RW);
	for (uint64_t g = 0; g < 4; g++) {
		put64(ram, LB_PDPT_GPA + g * 8, (LB_PD_GPA + g * 0x1000) | PTE_P | PTE_RW);
		for (uint64_t i = 0; i < 512; i++)
			put64(ram, LB_PD_GPA + g * 0x1000 + i * 8,
			      ((g << 30) + (i << 21)) | PTE_P | PTE_RW | PTE_PS);
	}
}

int linux_boot_write(uint8_t *ram, const struct linux_boot *lb, struct linux_image *img,
		     char *err, size_t errlen)
{
	const uint8_t *k = lb->kernel;
	size_t setup_end, pm_off, pm_len, cmdlen = lb->cmdline ? strlen(lb->cmdline) : 0;
	uint32_t cmdline_size, init_size, initrd_max;
	uint8_t *zp = ram + LB_ZERO_PAGE_GPA;
	unsigned setup_sects;
	struct ram_map map;

	memset(img, 0, sizeof(*img));
	if (!linux_is_bzimage(k, lb->kernel_len) || lb->kernel_len < 0x1000)
		return ERR("not a Linux bzImage (no HdrS setup header)");
	if (get16(k, HDR_BOOT_FLAG) != 0xaa55)
		return ERR("bzImage has a bad boot flag 0x%04x", get16(k, HDR_BOOT_FLAG));
	img->version = get16(k, HDR_VERSION);
	if (img->version < 0x020c)
		return ERR("bzImage boot protocol %u.%02u is too old: 2.12 or later is needed for the 64-bit entry",
			   img->version >> 8, img->version & 0xff);
	if (!(get16(k, HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return ERR("this kernel has no 64-bit entry point (xloadflags lacks XLF_KERNEL_64)");
	if (lb->ram_size % (2ULL << 20) || lb->ram_size < LB_MIN_RAM || lb->ram_size > LB_MAX_RAM)
		return CFG_ERR("a Linux guest needs %llu MiB to %llu MiB of memory, in whole 2 MiB (got %llu MiB)",
			   (unsigned long long)(LB_MIN_RAM >> 20), (unsigned long long)(LB_MAX_RAM >> 20),
			   (unsigned long long)(lb->ram_size >> 20));

	ram_map_init(&map, lb->ram_size, 1);
	setup_sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
	pm_off = ((size_t)setup_sects + 1) * 512;
	setup_end = HDR_JUMP + 2 + k[HDR_JUMP + 1];
	if (pm_off >= lb->kernel_len || setup_end > pm_off || setup_end > 0x1000)
		return ERR("bzImage setup header is damaged (setup_sects %u, %zu bytes)", setup_sects, lb->kernel_len);
	pm_len = lb->kernel_len - pm_off;
	init_size = get32(k, HDR_INIT_SIZE);
	if (init_size < pm_len)
		init_size = (uint32_t)pm_len;
	img->kernel_end = LB_KERNEL_GPA + init_size;
	if (img->kernel_end + (16ULL << 20) > map.low)
		return CFG_ERR("%llu MiB is too little memory for this kernel (it unpacks to %u MiB)",
			   (unsigned long long)(lb->ram_size >> 20), init_size >> 20);

	cmdline_size = get32(k, HDR_CMDLINE_SIZE);
	if (cmdline_size >= LB_CMDLINE_MAX)
		cmdline_size = LB_CMDLINE_MAX - 1;
	if (cmdlen > cmdline_size)
		return CFG_ERR("command line is %zu bytes, this kernel takes at most %u", cmdlen, cmdline_size);

	memcpy(ram + LB_KERNEL_GPA, k + pm_off, pm_len);

	memset(zp, 0, 0x1000);
	memcpy(zp + HDR_SETUP_SECTS, k + HDR_SETUP_SECTS, setup_end - HDR_SETUP_SECTS);
	zp[HDR_TYPE_OF_LOADER] = 0xff;          /* "undefined" boot loader */
	zp[HDR_LOADFLAGS] |= LOADED_HIGH;

	memset(ram + LB_CMDLINE_GPA, 0, cmdlen + 1);
	memcpy(ram + LB_CMDLINE_GPA, lb->cmdline ? lb->cmdline : "", cmdlen);
	put32(zp, HDR_CMD_LINE_PTR, (uint32_t)LB_CMDLINE_GPA);
	put32(zp, BP_EXT_CMD_LINE, 0);

	if (lb->initrd && lb->initrd_len) {
		uint64_t top = map.low; /* below the hole, where gpa and offset agree */
		initrd_max = get32(k, HDR_INITRD_ADDR_MAX);
		if (!(get16(k, HDR_XLOADFLAGS) & XLF_CAN_BE_LOADED_ABOVE_4G) && initrd_max && top > (uint64_t)initrd_max + 1)
			top = (uint64_t)initrd_max + 1;
		if (lb->initrd_len > top || ((top - lb->initrd_len) & ~0xfffULL) < img->kernel_end)
			return CFG_ERR("the initrd (%zu MiB) does not fit in memory above the kernel: give the VM more",
				   lb->initrd_len >> 20);
		img->initrd_gpa = (top - lb->initrd_len) & ~0xfffULL;
		memcpy(ram + img->initrd_gpa, lb->initrd, lb->initrd_len);
		put32(zp, HDR_RAMDISK_IMAGE, (uint32_t)img->initrd_gpa);
		put32(zp, HDR_RAMDISK_SIZE, (uint32_t)lb->initrd_len);
		put32(zp, BP_EXT_RAMDISK_IMG, (uint32_t)(img->initrd_gpa >> 32));
		put32(zp, BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)lb->initrd_len >> 32));
	}
	if (lb->rsdp_gpa && img->version >= 0x020e)
		put64(zp, BP_ACPI_RSDP, lb->rsdp_gpa);

	e820_add(zp, 0, LB_EBDA_GPA, E820_RAM);
	e820_add(zp, LB_EBDA_GPA, 0xa0000 - LB_EBDA_GPA, E820_RESERVED);
	e820_add(zp, LB_BIOS_GPA, LB_BIOS_END - LB_BIOS_GPA, E820_RESERVED);
	e820_add(zp, LB_KERNEL_GPA, map.low - LB_KERNEL_GPA, E820_RAM);
	e820_add(zp, LB_IOAPIC_GPA, 0x1000, E820_RESERVED);
	e820_add(zp, LB_LAPIC_GPA, 0x1000, E820_RESERVED);
	if (map.high)
		e820_add(zp, RAM_MAP_HIGH_BASE, map.high, E820_RAM);

	write_gdt_and_tables(ram);
	img->entry = LB_KERNEL_GPA + 0x200;
	return 0;
}

static void segment(struct kvm_segment *s, uint16_t sel, int code)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffff;
	s->selector = sel;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->type = code ? 11 : 3;
	s->l = code ? 1 : 0;
	s->db = code ? 0 : 1;
}

void linux_cpu_state(struct kvm_sregs *sregs, struct kvm_regs *regs, uint64_t entry)
{
	segment(&sregs->cs, BOOT_CS, 1);
	segment(&sregs->ds, BOOT_DS, 0);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->gdt.base = LB_GDT_GPA;
	sregs->gdt.limit = 4 * 8 - 1;
	sregs->cr0 = 0x80000011ULL;           /* PG, ET, PE */
	sregs->cr3 = LB_PML4_GPA;
	sregs->cr4 = 0x20ULL;                 /* PAE */
	sregs->efer = 0x500ULL;               /* LME, LMA */

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rflags = 0x2;                   /* interrupts off */
	regs->rsi = LB_ZERO_PAGE_GPA;
}
