#include "kernel.h"

#include <stdarg.h>
#include "lib/fmt.h"

static struct {
	uint32_t len;
	char text[256];
} kline;

void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kline.len = (uint32_t)fmt_vformat(kline.text, sizeof(kline.text), fmt, ap);
	va_end(ap);
	/* Identity mapped: the address is the gpa the VMM reads. */
	outl(MV_PORT_LINE, (uint32_t)(uintptr_t)&kline);
}

void kexit(uint32_t code)
{
	outl(MV_PORT_EXIT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}
