/*
 * vCPU 0's ring-0 start: descriptor tables, page tables, the page
 * allocator, then ring 3 with the boot facts it needs.
 */
#include "kernel.h"

#include "sysabi.h"

void kmain(const struct mv_bootinfo *bi);

/* Ring 3's side (user/): its entry point, boot block and stack. */
extern void user_main(const struct user_boot *ub);
extern struct user_boot user_boot;
extern char user_stack[USER_STACK_BYTES];

static void copy_str(char *dst, const char *src, uint64_t len, uint64_t cap)
{
	uint64_t i;

	for (i = 0; i < len && i + 1 < cap && src[i]; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

void kmain(const struct mv_bootinfo *bi)
{
	if (bi->magic != MV_BOOTINFO_MAGIC || bi->version != MV_BOOTINFO_VERSION) {
		kprintf("guest: boot info at 0x%lx has magic 0x%x version %u, want 0x%x version %u",
			(uint64_t)(uintptr_t)bi, bi->magic, bi->version,
			MV_BOOTINFO_MAGIC, MV_BOOTINFO_VERSION);
		kexit(MV_EXIT_BAD_ARGS);
	}
	if (bi->ram_size > MV_MAX_RAM || bi->free_start >= bi->ram_size ||
	    bi->cmdline_gpa + MV_CMDLINE_MAX > bi->ram_size) {
		kprintf("guest: boot info is inconsistent: ram %lu bytes, free from 0x%lx",
			bi->ram_size, bi->free_start);
		kexit(MV_EXIT_BAD_ARGS);
	}
	cpu_init();
	paging_init(bi->ram_size);
	palloc_init(bi->free_start, bi->ram_size);
	irq_init(USER_SPACE_START, bi->ram_size);

	user_boot.ram_size = bi->ram_size;
	user_boot.tsc_khz = bi->tsc_khz;
	user_boot.boot_tsc = bi->boot_tsc;
	user_boot.vcpu_count = bi->vcpu_count;
	copy_str(user_boot.vm_name, bi->vm_name, MV_VM_NAME_MAX, MV_VM_NAME_MAX);
	copy_str(user_boot.cmdline, (const char *)(uintptr_t)bi->cmdline_gpa,
		 bi->cmdline_len, MV_CMDLINE_MAX);

	/* As if called: RSP + 8 is 16-byte aligned at a function's entry. */
	enter_user((uint64_t)(uintptr_t)user_main, (uint64_t)(uintptr_t)(user_stack + USER_STACK_BYTES) - 8,
		   (uint64_t)(uintptr_t)&user_boot);
}
