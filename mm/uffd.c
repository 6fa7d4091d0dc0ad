#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

uint64_t uffd_probe_features(void)
{
	struct uffdio_api probe = { .api = UFFD_API };
	int pfd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	uint64_t f = 0;

	if (pfd >= 0) {
		if (ioctl(pfd, UFFDIO_API, &probe) == 0)
			f = probe.features;
		close(pfd);
	}
	return f;
}

int uffd_open(struct uffd_info *u, int sigbus, char *err, size_t errlen)
{
	struct uffdio_api api = { .api = UFFD_API };
	uint64_t wanted = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_THREAD_ID;

	memset(u, 0, sizeof(*u));
	u->fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0) {
		int e = errno;
		snprintf(err, errlen, "userfaultfd: %s%s", strerror(e),
			 e == EPERM ? " (needs root, CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1)" : "");
		return -e;
	}
	/* Ask for what the kernel offers of what we want; WP is optional. */
	wanted &= uffd_probe_features();
	if (sigbus)
		wanted |= UFFD_FEATURE_SIGBUS;
	api.features = wanted;
	if (ioctl(u->fd, UFFDIO_API, &api) < 0) {
		int e = errno;
		snprintf(err, errlen, "UFFDIO_API: %s", strerror(e));
		close(u->fd);
		u->fd = -1;
		return -e;
	}
	u->features = api.features;
	u->has_wp = (api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) != 0;
	return 0;
}

int uffd_register(const struct uffd_info *u, void *addr, size_t len, char *err, size_t errlen)
{
	struct uffdio_register reg = {
		.range = { .start = (uint64_t)(uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | (u->has_wp ? UFFDIO_REGISTER_MODE_WP : 0),
	};

	if (ioctl(u->fd, UFFDIO_REGISTER, &reg) < 0) {
		int e = errno;
		snprintf(err, errlen, "UFFDIO_REGISTER of %zu bytes: %s", len, strerror(e));
		return -e;
	}
	if (!(reg.ioctls & (1ULL << _UFFDIO_COPY)) || !(reg.ioctls & (1ULL << _UFFDIO_ZEROPAGE))) {
		snprintf(err, errlen, "UFFDIO_REGISTER: the range does not support COPY and ZEROPAGE");
		return -EINVAL;
	}
	return 0;
}

#define UFFD_PAGE 4096u

/*
 * A range over two VMAs is refused whole, with ENOENT (a page remapped
 * on its own, e.g. a shared page, splits guest RAM's mapping, and older
 * kernels do not merge it back): do it page by page.  A page already
 * mapped (EEXIST) past the first is someone else's work and is skipped;
 * on the first page EEXIST goes back to the caller, which knows what it
 * means.
 */
static int per_page(int fd, void *dst, const void *src, size_t len, int dontwake)
{
	for (size_t off = 0; off < len; off += UFFD_PAGE) {
		int rc = src ? uffd_copy(fd, (char *)dst + off, (const char *)src + off, UFFD_PAGE, dontwake)
			     : uffd_zeropage(fd, (char *)dst + off, UFFD_PAGE, dontwake);
		if (rc == -EEXIST && off > 0)
			continue;
		if (rc)
			return rc;
	}
	return 0;
}

int uffd_copy(int fd, void *dst, const void *src, size_t len, int dontwake)
{
	struct uffdio_copy c = {
		.dst = (uint64_t)(uintptr_t)dst,
		.src = (uint64_t)(uintptr_t)src,
		.len = len,
		.mode = dontwake ? UFFDIO_COPY_MODE_DONTWAKE : 0,
	};

	while (ioctl(fd, UFFDIO_COPY, &c) < 0) {
		if (errno == ENOENT && c.len > UFFD_PAGE)
			return per_page(fd, (void *)(uintptr_t)c.dst, (const void *)(uintptr_t)c.src, c.len, dontwake);
		if (errno != EAGAIN)
			return -errno;
		/* Partly done (the mm changed under us): finish the rest. */
		if (c.copy > 0) {
			c.dst += (uint64_t)c.copy;
			c.src += (uint64_t)c.copy;
			c.len -= (uint64_t)c.copy;
		}
		c.copy = 0;
	}
	return 0;
}

int uffd_zeropage(int fd, void *dst, size_t len, int dontwake)
{
	struct uffdio_zeropage z = {
		.range = { .start = (uint64_t)(uintptr_t)dst, .len = len },
		.mode = dontwake ? UFFDIO_ZEROPAGE_MODE_DONTWAKE : 0,
	};

	while (ioctl(fd, UFFDIO_ZEROPAGE, &z) < 0) {
		if (errno == ENOENT && z.range.len > UFFD_PAGE)
			return per_page(fd, (void *)(uintptr_t)z.range.start, NULL, z.range.len, dontwake);
		if (errno != EAGAIN)
			return -errno;
		if (z.zeropage > 0) {
			z.range.start += (uint64_t)z.zeropage;
			z.range.len -= (uint64_t)z.zeropage;
		}
		z.zeropage = 0;
	}
	return 0;
}

int uffd_wake(int fd, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (uint64_t)(uintptr_t)addr, .len = len };

	return ioctl(fd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

int uffd_writeprotect(int fd, void *addr, size_t len, int wp)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uint64_t)(uintptr_t)addr, .len = len },
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
}
