#include "kernel.h"

#include <stdarg.h>
#include "lib/line.h"

static union {
	struct mv_line line;
	char bytes[sizeof(struct mv_line) + 256];
} kline;

void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line_vsend(&kline.line, sizeof(kline.bytes) - sizeof(struct mv_line), fmt, ap);
	va_end(ap);
}

void kexit(uint32_t code)
{
	outl(MV_PORT_EXIT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}
