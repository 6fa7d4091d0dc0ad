/* The workloads' platform inside the test guest's ring 3. */
#include <stdarg.h>

#include "lib/line.h"
#include "sys.h"
#include "workloads/plat.h"

static union {
	struct mv_line line;
	char bytes[sizeof(struct mv_line) + MV_LINE_MAX + 1];
} out;

void *plat_alloc(uint64_t bytes)
{
	uint64_t gpa = sys_call(SYS_ALLOC_PAGES, (bytes + MV_PAGE_SIZE - 1) / MV_PAGE_SIZE, 0);

	/* RAM is identity mapped: the gpa is the address. */
	return gpa == SYS_ERR ? 0 : (void *)(uintptr_t)gpa;
}

void plat_free(void *p, uint64_t bytes)
{
	sys_call(SYS_FREE_PAGES, (uint64_t)(uintptr_t)p, (bytes + MV_PAGE_SIZE - 1) / MV_PAGE_SIZE);
}

uint64_t plat_free_bytes(void)
{
	return sys_call(SYS_FREE_COUNT, 0, 0) * MV_PAGE_SIZE;
}

uint64_t plat_ram_bytes(void)
{
	return user_boot.ram_size;
}

uint64_t plat_tsc_khz(void)
{
	return user_boot.tsc_khz;
}

unsigned plat_cpus(void)
{
	return user_boot.vcpu_count;
}

const char *plat_name(void)
{
	return user_boot.vm_name;
}

void plat_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line_vsend(&out.line, MV_LINE_MAX + 1, fmt, ap);
	va_end(ap);
}

void plat_event(uint32_t event)
{
	outl(MV_PORT_EVENT, event);
}

int plat_pageout(void *p, uint64_t bytes)
{
	static struct mv_range r;

	/* RAM is identity mapped: the address is the gpa. */
	r.gpa = (uint64_t)(uintptr_t)p;
	r.len = bytes;
	outl(MV_PORT_PAGEOUT, (uint32_t)(uintptr_t)&r);
	return 0;
}
