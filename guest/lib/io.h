/* Port I/O for both rings (ring 3 through the TSS I/O bitmap). */
#ifndef MEMVISOR_GUEST_IO_H
#define MEMVISOR_GUEST_IO_H

#include <stdint.h>

/* "memory": the VMM may read guest memory the port write points at. */
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

#endif
