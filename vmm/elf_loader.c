#include "elf_loader.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define MAX_PHDRS 64

int elf_is_elf(const uint8_t *file, size_t len)
{
	return len >= SELFMAG && memcmp(file, ELFMAG, SELFMAG) == 0;
}

/* a + b <= limit, without wrapping. */
static int fits(uint64_t a, uint64_t b, uint64_t limit)
{
	return a <= limit && b <= limit - a;
}

static int check_header(const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	if (!elf_is_elf((const uint8_t *)eh, len))
		return ERR("not an ELF file");
	if (len < sizeof(*eh))
		return ERR("truncated ELF header (%zu bytes)", len);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return ERR("not a 64-bit ELF (class %u)", eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return ERR("not a little-endian ELF");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return ERR("unknown ELF version");
	if (eh->e_machine != EM_X86_64)
		return ERR("ELF machine %u is not x86-64", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return ERR("ELF type %u is not an executable (ET_EXEC)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return ERR("bad program header size %u", eh->e_phentsize);
	if (eh->e_phnum == 0 || eh->e_phnum > MAX_PHDRS)
		return ERR("bad program header count %u", eh->e_phnum);
	if (!fits(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len))
		return ERR("program headers lie outside the file");
	return 0;
}

static int check_segment(const Elf64_Phdr *ph, unsigned idx, size_t len, uint64_t ram_size,
			 uint64_t min_gpa, char *err, size_t errlen)
{
	if (ph->p_filesz > ph->p_memsz)
		return ERR("segment %u: file size larger than memory size", idx);
	if (!fits(ph->p_offset, ph->p_filesz, len))
		return ERR("segment %u: data lies outside the file", idx);
	if (ph->p_vaddr != ph->p_paddr)
		return ERR("segment %u: vaddr 0x%llx != paddr 0x%llx (the guest must be identity linked)",
			   idx, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_paddr);
	if (ph->p_paddr < min_gpa)
		return ERR("segment %u at 0x%llx is below 0x%llx, where the VMM keeps boot data",
			   idx, (unsigned long long)ph->p_paddr, (unsigned long long)min_gpa);
	if (ph->p_memsz > UINT64_MAX - ph->p_paddr)
		return ERR("segment %u: address 0x%llx + size 0x%llx overflows", idx,
			   (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz);
	/* A well-formed segment past the end of RAM: the RAM is too small. */
	if (!fits(ph->p_paddr, ph->p_memsz, ram_size))
		return 1;
	return 0;
}

int elf_load(const uint8_t *file, size_t len, uint8_t *ram, uint64_t ram_size,
	     uint64_t min_gpa, struct elf_image *img, char *err, size_t errlen)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[MAX_PHDRS];
	int entry_ok = 0, too_small = 0;

	memset(img, 0, sizeof(*img));
	/* Copy headers out: the file buffer need not be aligned. */
	memcpy(&eh, file, len < sizeof(eh) ? len : sizeof(eh));
	if (check_header(&eh, len, err, errlen))
		return -1;
	memcpy(ph, file + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));

	img->lowest = UINT64_MAX;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		int rc = check_segment(&ph[i], i, len, ram_size, min_gpa, err, errlen);
		if (rc < 0)
			return -1;
		too_small |= rc;
		if (ph[i].p_paddr < img->lowest)
			img->lowest = ph[i].p_paddr;
		if (ph[i].p_paddr + ph[i].p_memsz > img->end)
			img->end = ph[i].p_paddr + ph[i].p_memsz;
		if ((ph[i].p_flags & PF_X) && eh.e_entry >= ph[i].p_vaddr &&
		    eh.e_entry - ph[i].p_vaddr < ph[i].p_memsz)
			entry_ok = 1;
		img->segments++;
	}
	if (img->segments == 0)
		return ERR("no loadable segment");
	if (too_small) {
		snprintf(err, errlen, "it needs guest RAM up to 0x%llx, more than the %llu bytes given",
			 (unsigned long long)img->end, (unsigned long long)ram_size);
		return -2;
	}
	if (!entry_ok)
		return ERR("entry point 0x%llx is not in an executable segment",
			   (unsigned long long)eh.e_entry);

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		memcpy(ram + ph[i].p_paddr, file + ph[i].p_offset, ph[i].p_filesz);
		memset(ram + ph[i].p_paddr + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
	}
	img->entry = eh.e_entry;
	return 0;
}
