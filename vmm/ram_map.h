/*
 * Where a VM's guest-physical RAM lives in the VMM's one RAM buffer.
 * A PC has a hole below 4 GiB (PCI, the IOAPIC, the local APIC), so a
 * Linux guest's RAM goes at [0, 3 GiB) and whatever does not fit there
 * at [4 GiB, ...), both from one contiguous buffer: the memory manager
 * (mm/) only ever sees offsets in that buffer.  The test guest's RAM is
 * flat: the offset is the address.
 */
#ifndef MEMVISOR_VMM_RAM_MAP_H
#define MEMVISOR_VMM_RAM_MAP_H

#include <stdint.h>

#define RAM_MAP_LOW_MAX   (3ULL << 30)   /* RAM below the 32-bit hole */
#define RAM_MAP_HIGH_BASE (4ULL << 30)   /* where the rest starts */

struct ram_map {
	uint64_t low;   /* bytes at gpa 0 */
	uint64_t high;  /* bytes at RAM_MAP_HIGH_BASE (0: none) */
};

/* size bytes of RAM; split: below and above the hole (Linux), else flat. */
void ram_map_init(struct ram_map *m, uint64_t size, int split);

/*
 * The buffer offset of [gpa, gpa + len): 0 with *off set, or -1 when the
 * range is empty or not all inside one stretch of RAM (it touches the
 * hole or runs past the end).
 */
int ram_map_offset(const struct ram_map *m, uint64_t gpa, uint64_t len, uint64_t *off);

/* One past the highest guest-physical address of RAM. */
uint64_t ram_map_end(const struct ram_map *m);

#endif
