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
		uint64_t gpa = palloc_alloc(a0);
		return gpa ? gpa : SYS_ERR;
	}
	case SYS_FREE_PAGES:
		return palloc_free(a0, a1) ? SYS_ERR : 0;
	case SYS_FREE_COUNT:
		return palloc_free_pages();
	default:
		return SYS_ERR;
	}
}
