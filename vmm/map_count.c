#include "map_count.h"

#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYSCTL "/proc/sys/vm/max_map_count"
#define RECORD "/run/memvisor/max_map_count"
#define MUTEX  "/run/memvisor/max_map_count.lock"

static int lock_fd = -1;        /* RECORD: shared for our life, exclusive only to put the value back */
static uint64_t raised_to;      /* what this VMM set, for its log line */

static int read_u64(const char *path, uint64_t *v)
{
	FILE *f = fopen(path, "re");
	int ok = f && fscanf(f, "%" SCNu64, v) == 1;

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

/* The write happens at fclose, so its result is the write's: one fclose, checked. */
static int write_sysctl(uint64_t v)
{
	FILE *f = fopen(SYSCTL, "we");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f, "%" PRIu64 "\n", v) > 0;
	ok &= fclose(f) == 0;
	return ok ? 0 : -1;
}

/* The record in the lock file: "was=N set=N", or nothing. */
static int record_read(uint64_t *was, uint64_t *set)
{
	char buf[96];
	ssize_t n = pread(lock_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return sscanf(buf, "was=%" SCNu64 " set=%" SCNu64, was, set) == 2 ? 0 : -1;
}

static void record_write(uint64_t was, uint64_t set)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "was=%" PRIu64 " set=%" PRIu64 "\n", was, set);

	if (ftruncate(lock_fd, 0) || pwrite(lock_fd, buf, (size_t)n, 0) != n)
		console_log(NULL, "page sharing: cannot record vm.max_map_count in %s: %s", RECORD, strerror(errno));
}

/*
 * Looking, raising, recording and putting back happen one VMM at a time,
 * under a second file's lock held for moments (the record's own lock is
 * held shared by every running VMM, so it cannot serve).  -1 if none.
 */
static int mutex_take(void)
{
	int fd = open(MUTEX, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd >= 0 && flock(fd, LOCK_EX)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void mutex_give(int fd)
{
	if (fd >= 0)
		close(fd);   /* and the lock with it */
}

void map_count_acquire(uint64_t want)
{
	uint64_t have, was, set;
	int mutex = -1;

	if (want > INT32_MAX)
		want = INT32_MAX;   /* the sysctl is an int */
	if (mkdir("/run/memvisor", 0700) && errno != EEXIST) {
		lock_fd = -1;
	} else {
		mutex = mutex_take();
		lock_fd = mutex < 0 ? -1 : open(RECORD, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (read_u64(SYSCTL, &have)) {
		console_log(NULL, "page sharing: cannot read %s: %s", SYSCTL, strerror(errno));
		goto shared;
	}
	if (have >= want)
		goto shared;
	if (lock_fd < 0) {
		console_log(NULL, "page sharing: vm.max_map_count is %" PRIu64 " and will not be raised: no lock file %s "
			    "(%s); at most %" PRIu64 " pages will be shared", have, RECORD, strerror(errno),
			    have > 8192 ? (have - 8192) / 2 : 0);
		mutex_give(mutex);
		return;
	}
	if (write_sysctl(want)) {
		console_log(NULL, "page sharing: vm.max_map_count is %" PRIu64 " and cannot be raised (%s): at most %"
			    PRIu64 " pages will be shared", have, strerror(errno), have > 8192 ? (have - 8192) / 2 : 0);
		goto shared;
	}
	/* The first raise records the value found; a later one keeps it. */
	if (record_read(&was, &set))
		was = have;
	record_write(was, want);
	raised_to = want;
	console_log(NULL, "page sharing: raised vm.max_map_count from %" PRIu64 " to %" PRIu64
		    " (a shared page is a mapping of its own; %" PRIu64 " comes back when the last VMM leaves)",
		    have, want, was);
shared:
	/* Nobody holds it exclusively outside the mutex, so this does not wait. */
	if (lock_fd >= 0)
		flock(lock_fd, LOCK_SH);
	mutex_give(mutex);
}

void map_count_release(void)
{
	uint64_t was, set, now;
	int mutex;

	if (lock_fd < 0)
		return;
	mutex = mutex_take();
	/* Our mappings are gone by now.  Exclusive only if no other VMM holds it. */
	if (mutex < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
		if (raised_to)
			console_log(NULL, "page sharing: vm.max_map_count stays raised: another VMM runs "
				    "(the last one to leave puts it back)");
	} else if (!record_read(&was, &set)) {
		if (read_u64(SYSCTL, &now) == 0 && now == set) {
			if (write_sysctl(was))
				console_log(NULL, "page sharing: cannot put vm.max_map_count back to %" PRIu64 ": %s",
					    was, strerror(errno));
			else
				console_log(NULL, "page sharing: vm.max_map_count back to %" PRIu64, was);
		} else {
			console_log(NULL, "page sharing: vm.max_map_count left at %" PRIu64 ": changed since it was "
				    "raised to %" PRIu64, now, set);
		}
		if (ftruncate(lock_fd, 0))
			console_log(NULL, "page sharing: cannot clear %s: %s", RECORD, strerror(errno));
	}
	close(lock_fd);
	mutex_give(mutex);
	lock_fd = -1;
	raised_to = 0;
}
