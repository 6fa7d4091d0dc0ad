/*
 * memstress-host: the guest's workloads as a plain Linux process, built
 * from the same objects with the same flags, so `make bench` can put the
 * guest's figures next to the host's.
 *   usage: memstress-host [workload=NAME] key=value ...   (default memstress)
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "workloads/plat.h"
#include "workloads/workloads.h"

static uint64_t tsc_khz;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The guest gets the TSC rate from KVM; here it is measured against
 * CLOCK_MONOTONIC over 200 ms (error well under 0.1%). */
static uint64_t calibrate_tsc_khz(void)
{
	uint64_t n0 = mono_ns(), t0 = rdtsc_ordered(), n1, t1;
	struct timespec nap = { 0, 200 * 1000 * 1000 };

	nanosleep(&nap, NULL);
	n1 = mono_ns();
	t1 = rdtsc_ordered();
	return (t1 - t0) * 1000000u / (n1 - n0);
}

void *plat_alloc(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void plat_free(void *p, uint64_t bytes)
{
	munmap(p, bytes);
}

uint64_t plat_free_bytes(void)
{
	struct sysinfo si;

	return sysinfo(&si) ? 0 : (uint64_t)si.freeram * si.mem_unit;
}

uint64_t plat_ram_bytes(void)
{
	struct sysinfo si;

	return sysinfo(&si) ? 0 : (uint64_t)si.totalram * si.mem_unit;
}

uint64_t plat_tsc_khz(void)
{
	return tsc_khz;
}

unsigned plat_cpus(void)
{
	return (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
}

const char *plat_name(void)
{
	return "host";
}

void plat_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* A Linux process has no page cache, interrupt lines or balloon of ours. */
void *plat_cache_add(uint64_t bytes)
{
	(void)bytes;
	return NULL;
}

int plat_cache_has(const void *p, uint64_t bytes)
{
	(void)p;
	(void)bytes;
	return 0;
}

uint64_t plat_cache_bytes(void)
{
	return 0;
}

uint64_t plat_cache_dropped_bytes(void)
{
	return 0;
}

void *plat_cache_take(uint64_t max_bytes, uint64_t *got)
{
	(void)max_bytes;
	*got = 0;
	return NULL;
}

int plat_irq_attach(unsigned irq, volatile uint64_t *counter)
{
	(void)irq;
	(void)counter;
	return -1;
}

int plat_irq_unmask(unsigned irq)
{
	(void)irq;
	return -1;
}

void plat_on_oom(int (*hook)(void *ctx, uint64_t bytes), void *ctx)
{
	(void)hook;
	(void)ctx;
}

void plat_event(uint32_t event)
{
	(void)event;
}

void plat_idle_us(uint64_t us)
{
	usleep((useconds_t)us);
}

int plat_pageout(void *p, uint64_t bytes)
{
	return madvise(p, bytes, MADV_PAGEOUT) ? -1 : 0;
}

/*
 * From /proc/self/pagemap: bit 63 present, bits 0-54 the frame (zero
 * unless root).  Inside a Linux guest the frame is guest-physical.
 */
uint64_t plat_phys_addr(const void *p)
{
	uint64_t e = 0, va = (uint64_t)(uintptr_t)p;
	long pg = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, &e, sizeof(e), (off_t)(va / (uint64_t)pg * sizeof(e)));

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(e) || !(e >> 63) || !(e & ((1ULL << 55) - 1)))
		return UINT64_MAX;
	return (e & ((1ULL << 55) - 1)) * (uint64_t)pg + va % (uint64_t)pg;
}

int main(int argc, char **argv)
{
	static char cmdline[MV_CMDLINE_MAX];
	size_t len = 0;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s [workload=NAME] key=value ...   (default workload=memstress)\n"
		       "Runs the test guest's workloads as a host process; see docs/guest.md.\n", argv[0]);
		return 0;
	}
	if (argc < 2 || strncmp(argv[1], "workload=", 9))
		len = (size_t)snprintf(cmdline, sizeof(cmdline), "workload=memstress");
	for (int i = 1; i < argc; i++) {
		int n = snprintf(cmdline + len, sizeof(cmdline) - len, "%s%s", len ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(cmdline) - len) {
			fprintf(stderr, "memstress-host: error: arguments longer than %u bytes\n", MV_CMDLINE_MAX);
			return MV_EXIT_BAD_ARGS;
		}
		len += (size_t)n;
	}
	tsc_khz = calibrate_tsc_khz();
	return workload_dispatch(cmdline, NULL);
}
