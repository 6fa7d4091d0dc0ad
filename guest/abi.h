/*
 * The contract between the memvisor VMM and its own test guest.
 *
 * Both sides include this header; nothing else is shared.  It fixes the
 * guest-physical layout the VMM builds before the first instruction, the
 * boot-info block, the entry register state and the I/O ports the guest
 * uses to talk back.  docs/architecture.md explains the why of each choice.
 *
 * Freestanding: only fixed-width types, no libc.
 */
#ifndef MEMVISOR_GUEST_ABI_H
#define MEMVISOR_GUEST_ABI_H

#include <stdint.h>

/* ---- guest-physical layout built by the VMM (identity mapped) ---------- */

#define MV_PAGE_SIZE        4096ULL
#define MV_HUGE_PAGE_SIZE   (2ULL << 20)

#define MV_BOOT_GDT_GPA     0x1000ULL  /* VMM's boot GDT: null, code64 0x08, data 0x10 */
#define MV_BOOTINFO_GPA     0x2000ULL  /* struct mv_bootinfo */
#define MV_CMDLINE_GPA      0x2400ULL  /* NUL-terminated command line */
#define MV_CMDLINE_MAX      3072u      /* bytes, including the NUL */
#define MV_BOOT_PML4_GPA    0x3000ULL  /* VMM's boot page tables: PML4, PDPT, */
#define MV_BOOT_PDPT_GPA    0x4000ULL  /* then one PD per GiB of RAM */
#define MV_BOOT_PD_GPA      0x5000ULL
#define MV_MAX_RAM          (64ULL << 30) /* 64 PDs fit below the boot stack */
#define MV_BOOT_STACK_TOP   0x80000ULL /* RSP at entry (stack grows down to 0x60000) */
#define MV_IMAGE_MIN_GPA    0x100000ULL /* the ELF's PT_LOAD segments start at or above */
#define MV_MIN_FREE_BYTES   (2ULL << 20) /* RAM the guest needs past its image */

/* ---- boot-info block --------------------------------------------------- */

#define MV_BOOTINFO_MAGIC   0x49425653u /* "SVBI" little endian: 'S','V','B','I' */
#define MV_BOOTINFO_VERSION 1u
#define MV_VM_NAME_MAX      32u        /* including the NUL */

struct mv_bootinfo {
	uint32_t magic;        /* MV_BOOTINFO_MAGIC */
	uint32_t version;      /* MV_BOOTINFO_VERSION */
	uint64_t ram_size;     /* bytes of RAM at gpa 0 .. ram_size-1 */
	uint64_t tsc_khz;      /* TSC frequency from KVM_GET_TSC_KHZ */
	uint64_t free_start;   /* first gpa above the image (page aligned) */
	uint64_t image_start;  /* lowest gpa of the loaded image */
	uint64_t cmdline_gpa;  /* MV_CMDLINE_GPA */
	uint32_t cmdline_len;  /* strlen of the command line */
	uint32_t vcpu_count;   /* vCPUs created for this VM */
	char     vm_name[MV_VM_NAME_MAX];
	uint64_t boot_tsc;     /* host TSC read just before the first KVM_RUN */
};

/*
 * Entry state of every vCPU: 64-bit long mode, CPL 0, paging on with the
 * boot page tables (all RAM identity mapped with 2 MiB pages, RW, user),
 * CS=0x08 DS=ES=SS=FS=GS=0x10 from the boot GDT, EFER = LME|LMA|SCE|NXE
 * (the guest cannot write EFER on kvm_pvm), CR4 = PAE|OSFXSR|OSXMMEXCPT,
 * CR0 = PE|MP|ET|NE|WP|PG, RFLAGS = 0x2 (IF clear), RSP = MV_BOOT_STACK_TOP
 * (vCPU n > 0: MV_BOOT_STACK_TOP - n*1024), RIP = ELF entry,
 * RDI = MV_BOOTINFO_GPA, RSI = vCPU index.
 */

/* ---- I/O ports --------------------------------------------------------- */

/* 16550 UART, transmit only: a byte to THR is console output. */
#define MV_PORT_COM1        0x3f8
#define MV_PORT_COM1_LSR    0x3fd      /* reads 0x60: THR empty, idle */

/*
 * memvisor debug ports.  One port exit costs 8-10 us here, so a whole line
 * goes out in one exit: the guest writes (outl) the gpa of a struct
 * mv_line to MV_PORT_LINE.  The VMM checks that gpa and len lie in RAM.
 */
#define MV_PORT_EXIT        0x700      /* outl: exit code; the VM ends */
#define MV_PORT_LINE        0x704      /* outl: gpa of struct mv_line */
#define MV_PORT_EVENT       0x708      /* outl: an MV_EVENT_* milestone, timed by the VMM */
#define MV_PORT_PAGEOUT     0x70c      /* outl: gpa of struct mv_range to swap out now */
#define MV_PORT_IDLE        0x710      /* outl: microseconds (1-MV_IDLE_MAX_US) to give the CPU up */
#define MV_IDLE_MAX_US      100000u    /* so a stop request waits at most this long */
#define MV_LINE_MAX         1024u      /* bytes of text in one line write */

#define MV_EVENT_WORKLOAD_START 1u     /* ring 3 is about to run the workload */

/*
 * A request to swap a range of the guest's RAM out now, whatever the
 * reclaim policy says (a test and bench hook: the pass after it measures
 * swap-in alone).  The vCPU waits until it is done; page-aligned inward.
 */
struct mv_range {
	uint64_t gpa;
	uint64_t len;
};

struct mv_line {
	uint32_t len;          /* bytes in text, <= MV_LINE_MAX */
	char     text[];       /* one or more lines; a missing final '\n' is added */
};

/* ---- guest exit codes (the VMM passes them through) -------------------- */

#define MV_EXIT_OK          0
#define MV_EXIT_VERIFY_FAIL 1          /* verify found bad pages */
#define MV_EXIT_BAD_ARGS    2          /* unknown workload, key or value */
#define MV_EXIT_EXCEPTION   3          /* unexpected exception or fault */
#define MV_EXIT_NO_MEMORY   4          /* the guest allocator ran out */

#endif
