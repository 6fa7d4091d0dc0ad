#include "kernel.h"

#include "sysabi.h"

uint64_t syscall_dispatch(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2);

uint64_t syscall_dispatch(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	(void)a2;
	switch (nr) {
	case SYS_EXIT:
		kexit((uint32_t)a0);
	case SYS_ALLOC_PAGES: {
		uint64_t gpa = pcache_alloc(a0);
		return gpa ? gpa : SYS_ERR;
	}
	case SYS_FREE_PAGES:
		return palloc_free(a0, a1) ? SYS_ERR : 0;
	case SYS_FREE_COUNT:
		return palloc_free_pages();
	case SYS_CACHE_ADD: {
		uint64_t gpa = pcache_add(a0);
		return gpa ? gpa : SYS_ERR;
	}
	case SYS_CACHE_TAKE: {
		uint64_t r = pcache_take(a0);
		return r ? r : SYS_ERR;
	}
	case SYS_CACHE_HAS:
		return (uint64_t)pcache_has(a0, a1);
	case SYS_CACHE_COUNT:
		return a0 ? pcache_dropped() : pcache_pages();
	case SYS_IRQ_ATTACH:
		return irq_attach(a0, a1) ? SYS_ERR : 0;
	case SYS_IRQ_UNMASK:
		return irq_unmask(a0) ? SYS_ERR : 0;
	default:
		return SYS_ERR;
	}
}
