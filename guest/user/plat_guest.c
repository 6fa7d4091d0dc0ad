/* The workloads' platform inside the test guest's ring 3. */
#include <stdarg.h>

#include "lib/line.h"
#include "sys.h"
#include "workloads/plat.h"

static union {
	struct mv_line line;
	char bytes[sizeof(struct mv_line) + MV_LINE_MAX + 1];
} out;

static int (*oom_hook)(void *ctx, uint64_t bytes);
static void *oom_ctx;

static uint64_t pages_of(uint64_t bytes)
{
	return (bytes + MV_PAGE_SIZE - 1) / MV_PAGE_SIZE;
}

void *plat_alloc(uint64_t bytes)
{
	uint64_t gpa;

	/* The kernel drops cache first; then the balloon, if it deflates on OOM. */
	while ((gpa = sys_call(SYS_ALLOC_PAGES, pages_of(bytes), 0)) == SYS_ERR && oom_hook &&
	       oom_hook(oom_ctx, bytes))
		;
	/* RAM is identity mapped: the gpa is the address. */
	return gpa == SYS_ERR ? 0 : (void *)(uintptr_t)gpa;
}

void plat_on_oom(int (*hook)(void *ctx, uint64_t bytes), void *ctx)
{
	oom_hook = hook;
	oom_ctx = ctx;
}

void *plat_cache_add(uint64_t bytes)
{
	uint64_t gpa = sys_call(SYS_CACHE_ADD, pages_of(bytes), 0);

	return gpa == SYS_ERR ? 0 : (void *)(uintptr_t)gpa;
}

int plat_cache_has(const void *p, uint64_t bytes)
{
	return sys_call(SYS_CACHE_HAS, (uint64_t)(uintptr_t)p, pages_of(bytes)) == 1;
}

uint64_t plat_cache_bytes(void)
{
	return sys_call(SYS_CACHE_COUNT, 0, 0) * MV_PAGE_SIZE;
}

uint64_t plat_cache_dropped_bytes(void)
{
	return sys_call(SYS_CACHE_COUNT, 1, 0) * MV_PAGE_SIZE;
}

void *plat_cache_take(uint64_t max_bytes, uint64_t *got)
{
	uint64_t r = sys_call(SYS_CACHE_TAKE, max_bytes / MV_PAGE_SIZE, 0);

	*got = 0;
	if (r == SYS_ERR)
		return 0;
	*got = ((r & (MV_PAGE_SIZE - 1)) + 1) * MV_PAGE_SIZE;
	return (void *)(uintptr_t)(r & ~(uint64_t)(MV_PAGE_SIZE - 1));
}

int plat_irq_attach(unsigned irq, volatile uint64_t *counter)
{
	return sys_call(SYS_IRQ_ATTACH, irq, (uint64_t)(uintptr_t)counter) == SYS_ERR ? -1 : 0;
}

int plat_irq_unmask(unsigned irq)
{
	return sys_call(SYS_IRQ_UNMASK, irq, 0) == SYS_ERR ? -1 : 0;
}

void plat_free(void *p, uint64_t bytes)
{
	sys_call(SYS_FREE_PAGES, (uint64_t)(uintptr_t)p, pages_of(bytes));
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

void plat_idle_us(uint64_t us)
{
	while (us) {
		uint32_t part = us > MV_IDLE_MAX_US ? MV_IDLE_MAX_US : (uint32_t)us;

		outl(MV_PORT_IDLE, part);
		us -= part;
	}
}

uint64_t plat_phys_addr(const void *p)
{
	return (uint64_t)(uintptr_t)p; /* identity mapped */
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
