#include "boot_layout.h"
#include "../guest/abi.h"

#include <stdio.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

#define PTE_P   0x1ULL
#define PTE_RW  0x2ULL
#define PTE_US  0x4ULL
#define PTE_PS  0x80ULL

#define CR0_PE  (1ULL << 0)
#define CR0_MP  (1ULL << 1)
#define CR0_ET  (1ULL << 4)
#define CR0_NE  (1ULL << 5)
#define CR0_WP  (1ULL << 16)
#define CR0_PG  (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

#define SEL_CODE 0x08
#define SEL_DATA 0x10

static void put64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, sizeof(v));
}

int boot_check_ram(uint64_t ram_size, uint64_t image_end, char *err, size_t errlen)
{
	uint64_t need = ((image_end + MV_PAGE_SIZE - 1) & ~(MV_PAGE_SIZE - 1)) + MV_MIN_FREE_BYTES;

	if (ram_size % MV_HUGE_PAGE_SIZE)
		return ERR("guest memory %llu bytes is not a multiple of 2M",
			   (unsigned long long)ram_size);
	if (ram_size > MV_MAX_RAM)
		return ERR("guest memory %lluM is more than the test guest's maximum of %lluG",
			   (unsigned long long)(ram_size >> 20), (unsigned long long)(MV_MAX_RAM >> 30));
	if (ram_size < need)
		return ERR("guest memory %lluK is too small: this guest needs at least %lluK",
			   (unsigned long long)(ram_size >> 10),
			   (unsigned long long)(((need + MV_HUGE_PAGE_SIZE - 1) & ~(MV_HUGE_PAGE_SIZE - 1)) >> 10));
	return 0;
}

int boot_layout_write(uint8_t *ram, const struct boot_params *bp, char *err, size_t errlen)
{
	struct mv_bootinfo bi;
	uint64_t gib = (bp->ram_size + (1ULL << 30) - 1) >> 30;
	size_t cmdlen = bp->cmdline ? strlen(bp->cmdline) : 0;

	if (cmdlen >= MV_CMDLINE_MAX)
		return ERR("command line is %zu bytes, at most %u allowed", cmdlen, MV_CMDLINE_MAX - 1);

	/* Flat 64-bit code and data descriptors; the guest loads its own GDT. */
	put64(ram, MV_BOOT_GDT_GPA + 0, 0);
	put64(ram, MV_BOOT_GDT_GPA + SEL_CODE, 0x00af9a000000ffffULL);
	put64(ram, MV_BOOT_GDT_GPA + SEL_DATA, 0x00cf92000000ffffULL);

	/* Identity map all RAM with 2 MiB pages, so no workload takes a guest #PF. */
	memset(ram + MV_BOOT_PML4_GPA, 0, MV_PAGE_SIZE * (2 + gib));
	put64(ram, MV_BOOT_PML4_GPA, MV_BOOT_PDPT_GPA | PTE_P | PTE_RW | PTE_US);
	for (uint64_t g = 0; g < gib; g++)
		put64(ram, MV_BOOT_PDPT_GPA + g * 8,
		      (MV_BOOT_PD_GPA + g * MV_PAGE_SIZE) | PTE_P | PTE_RW | PTE_US);
	for (uint64_t a = 0; a < bp->ram_size; a += MV_HUGE_PAGE_SIZE)
		put64(ram, MV_BOOT_PD_GPA + (a / MV_HUGE_PAGE_SIZE) * 8,
		      a | PTE_P | PTE_RW | PTE_US | PTE_PS);

	memset(&bi, 0, sizeof(bi));
	bi.magic = MV_BOOTINFO_MAGIC;
	bi.version = MV_BOOTINFO_VERSION;
	bi.ram_size = bp->ram_size;
	bi.tsc_khz = bp->tsc_khz;
	bi.image_start = bp->image_start;
	bi.free_start = (bp->image_end + MV_PAGE_SIZE - 1) & ~(MV_PAGE_SIZE - 1);
	bi.cmdline_gpa = MV_CMDLINE_GPA;
	bi.cmdline_len = (uint32_t)cmdlen;
	bi.vcpu_count = bp->vcpus;
	snprintf(bi.vm_name, sizeof(bi.vm_name), "%s", bp->vm_name ? bp->vm_name : "");
	memcpy(ram + MV_BOOTINFO_GPA, &bi, sizeof(bi));

	memset(ram + MV_CMDLINE_GPA, 0, MV_CMDLINE_MAX);
	if (cmdlen)
		memcpy(ram + MV_CMDLINE_GPA, bp->cmdline, cmdlen);
	return 0;
}

static void flat_segment(struct kvm_segment *s, uint16_t sel, int code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	if (code) {
		s->type = 11;   /* execute/read, accessed */
		s->l = 1;
	} else {
		s->type = 3;    /* read/write, accessed */
		s->db = 1;
	}
}

void boot_cpu_state(struct kvm_sregs *sregs, struct kvm_regs *regs,
		    uint64_t entry, unsigned index)
{
	flat_segment(&sregs->cs, SEL_CODE, 1);
	flat_segment(&sregs->ds, SEL_DATA, 0);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->gdt.base = MV_BOOT_GDT_GPA;
	sregs->gdt.limit = 3 * 8 - 1;
	sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs->cr3 = MV_BOOT_PML4_GPA;
	sregs->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	/* The guest cannot write EFER on kvm_pvm (#GP), so SCE is set here. */
	sregs->efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rflags = 0x2;
	regs->rsp = MV_BOOT_STACK_TOP - (uint64_t)index * 1024;
	regs->rdi = MV_BOOTINFO_GPA;
	regs->rsi = index;
}
