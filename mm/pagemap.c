#include "pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int pagemap_open(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int pagemap_read(int fd, const void *addr, size_t npages, uint64_t *out)
{
	off_t off = (off_t)((uintptr_t)addr / 4096 * sizeof(uint64_t));
	size_t want = npages * sizeof(uint64_t), got = 0;

	while (got < want) {
		ssize_t n = pread(fd, (char *)out + got, want - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	return 0;
}

int pagemap_count(int fd, const void *addr, size_t npages, uint64_t zero_pfn, uint64_t *present,
		  uint64_t *private_pages)
{
	uint64_t e[512];

	*present = *private_pages = 0;
	for (size_t done = 0; done < npages;) {
		size_t n = npages - done < 512 ? npages - done : 512;
		int rc = pagemap_read(fd, (const uint8_t *)addr + done * 4096, n, e);

		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (!(e[i] & PM_PRESENT) || (zero_pfn && (e[i] & PM_PFN_MASK) == zero_pfn))
				continue;
			(*present)++;
			*private_pages += !(e[i] & PM_FILE);
		}
		done += n;
	}
	return 0;
}

uint64_t pagemap_zero_pfn(int fd)
{
	volatile uint8_t *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t e = 0;

	if (p == MAP_FAILED)
		return 0;
	(void)p[0]; /* a read fault maps the zero page */
	if (pagemap_read(fd, (const void *)p, 1, &e) < 0 || !(e & PM_PRESENT))
		e = 0;
	munmap((void *)p, 4096);
	return e & PM_PFN_MASK;
}

int64_t smaps_rss(const void *addr, size_t len)
{
	return smaps_sum(addr, len, "Rss:");
}

int64_t smaps_sum(const void *addr, size_t len, const char *field)
{
	size_t flen = strlen(field);
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int inside = 0;
	int64_t total = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t a, b;
		unsigned long kb;

		/* Mapping headers start "lo-hi "; field lines start "Name:". */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &a, &b) == 2) {
			inside = a >= lo && b <= hi;
			continue;
		}
		if (inside && !strncmp(line, field, flen) && sscanf(line + flen, " %lu kB", &kb) == 1)
			total += (int64_t)kb * 1024;
	}
	fclose(f);
	return total;
}
