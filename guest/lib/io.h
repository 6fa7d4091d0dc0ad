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

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* PCI configuration mechanism #1, bus 0, function 0: a dword of slot's config space. */
static inline uint32_t pci_cfg_read(unsigned slot, unsigned reg)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc));
	return inl(0xcfc);
}

static inline void pci_cfg_write(unsigned slot, unsigned reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc));
	outl(0xcfc, v);
}

#endif
