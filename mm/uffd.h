/*
 * Thin wrappers over userfaultfd(2): open one with the features the memory
 * manager needs (missing-page faults, write protection, thread ids), and
 * the ioctls that resolve faults.  Each returns 0 or -errno.
 */
#ifndef MEMVISOR_MM_UFFD_H
#define MEMVISOR_MM_UFFD_H

#include <stddef.h>
#include <stdint.h>

struct uffd_info {
	int fd;
	int has_wp;                /* UFFD_FEATURE_PAGEFAULT_FLAG_WP for anonymous memory */
	uint64_t features;
};

/*
 * Open a userfaultfd (non-blocking, close-on-exec) and do the API
 * handshake.  sigbus: faults raise SIGBUS (for KVM: an EFAULT exit with the
 * gpa) instead of queueing a message.
 */
int uffd_open(struct uffd_info *u, int sigbus, char *err, size_t errlen);

/* The features this kernel's userfaultfd offers (0 if none at all). */
uint64_t uffd_probe_features(void);

/* Register [addr, addr+len) for missing faults, and write-protect faults if available. */
int uffd_register(const struct uffd_info *u, void *addr, size_t len, char *err, size_t errlen);

int uffd_copy(int fd, void *dst, const void *src, size_t len, int dontwake);
int uffd_zeropage(int fd, void *dst, size_t len, int dontwake);
int uffd_wake(int fd, void *addr, size_t len);
/* Write-protect (wp=1) or unprotect and wake (wp=0) a range. */
int uffd_writeprotect(int fd, void *addr, size_t len, int wp);

#endif
