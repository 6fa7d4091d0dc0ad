/* Ring 3's system calls (sysabi.h); ports are written with lib/io.h's outl. */
#ifndef MEMVISOR_GUEST_SYS_H
#define MEMVISOR_GUEST_SYS_H

#include <stdint.h>
#include "lib/io.h"
#include "sysabi.h"

static inline uint64_t sys_call(uint64_t nr, uint64_t a0, uint64_t a1)
{
	uint64_t ret;

	__asm__ volatile("int3"
			 : "=a"(ret), "+D"(a0), "+S"(a1)
			 : "a"(nr)
			 : "rcx", "r11", "rdx", "r8", "r9", "r10", "memory", "cc");
	return ret;
}

__attribute__((noreturn)) static inline void sys_exit(uint32_t code)
{
	sys_call(SYS_EXIT, code, 0);
	__builtin_unreachable();
}

extern struct user_boot user_boot;

#endif
