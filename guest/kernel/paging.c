#include "kernel.h"

#define PTE_P  0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_PS 0x80ull


#define MAX_PDS (MV_MAX_RAM >> 30)

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pds[MAX_PDS][512] __attribute__((aligned(4096)));

void paging_init(uint64_t ram_size)
{
	uint64_t huge = ram_size / MV_HUGE_PAGE_SIZE;
	uint64_t npds = (huge + 511) / 512;

	/* .bss is zero, so only present entries are written. */
	pml4[0] = (uint64_t)(uintptr_t)pdpt | PTE_P | PTE_RW | PTE_US;
	for (uint64_t i = 0; i < npds; i++)
		pdpt[i] = (uint64_t)(uintptr_t)pds[i] | PTE_P | PTE_RW | PTE_US;
	for (uint64_t p = 0; p < huge; p++) {
		uint64_t pa = p * MV_HUGE_PAGE_SIZE;
		uint64_t flags = PTE_P | PTE_RW | PTE_PS | (pa >= USER_SPACE_START ? PTE_US : 0);
		pds[p / 512][p % 512] = pa | flags;
	}
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)(uintptr_t)pml4) : "memory");
}
