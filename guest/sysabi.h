/*
 * The contract between the test guest's ring 0 and its ring 3: system call
 * numbers and the block ring 0 fills in before it drops to ring 3.
 *
 * System calls go through `int3` (see kernel/entry.S for why not
 * `syscall`): number in RAX, arguments in RDI, RSI, RDX; result in RAX.
 * RCX, R11, RDI, RSI, RDX, R8-R10 are clobbered.  The TSS I/O bitmap
 * opens the console, line, exit and event ports to ring 3, so printing
 * needs no system call at all.
 */
#ifndef MEMVISOR_GUEST_SYSABI_H
#define MEMVISOR_GUEST_SYSABI_H

#include <stdint.h>
#include "abi.h"

enum {
	SYS_EXIT = 0,        /* (code): ends the VM with that exit code */
	SYS_ALLOC_PAGES = 1, /* (npages): gpa of npages contiguous pages, or 0 */
	SYS_FREE_PAGES = 2,  /* (gpa, npages): 0, or -1 if not an allocated range */
	SYS_FREE_COUNT = 3,  /* (): pages the allocator still has free */
};

#define SYS_ERR ((uint64_t)-1)

/* Filled by ring 0, read by ring 3 (its address arrives in RDI). */
struct user_boot {
	uint64_t ram_size;
	uint64_t tsc_khz;
	uint64_t boot_tsc;
	uint32_t vcpu_count;
	char     vm_name[MV_VM_NAME_MAX];
	char     cmdline[MV_CMDLINE_MAX];
};

/* Selectors of the guest's own GDT (user ones carry RPL 3). */
#define USER_STACK_BYTES (64 * 1024)

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b
#define SEL_UCODE 0x23
#define SEL_TSS   0x28

#endif
