/*
 * Loader for the test guest: an ELF64 x86-64 executable whose PT_LOAD
 * segments are copied to guest-physical addresses (p_paddr).  Pure: works
 * on a file image in memory and a RAM buffer, so the unit tests feed it
 * hostile files without KVM.
 */
#ifndef MEMVISOR_ELF_LOADER_H
#define MEMVISOR_ELF_LOADER_H

#include <stddef.h>
#include <stdint.h>

struct elf_image {
	uint64_t entry;        /* entry point (identity mapped: also a gpa) */
	uint64_t lowest;       /* lowest gpa written */
	uint64_t end;          /* first gpa past the highest segment (incl. bss) */
	unsigned segments;     /* PT_LOAD segments loaded */
};

/* Does the buffer start with the ELF magic? */
int elf_is_elf(const uint8_t *file, size_t len);

/*
 * Validate every header and segment first, then copy the segments into
 * ram and zero their bss.  Every segment must lie in [min_gpa, ram_size),
 * be identity linked (p_vaddr == p_paddr) and fit in the file; the entry
 * must lie in an executable segment.  Returns 0, or -1 with the reason in
 * err and ram untouched; -2 when the file is sound but RAM is too small
 * for it (img->end then says how much it needs).
 */
int elf_load(const uint8_t *file, size_t len, uint8_t *ram, uint64_t ram_size,
	     uint64_t min_gpa, struct elf_image *img, char *err, size_t errlen);

#endif
