#include "line.h"

#include <stdint.h>

#include "fmt.h"

void line_vsend(struct mv_line *line, size_t text_cap, const char *fmt, va_list ap)
{
	uint32_t gpa = (uint32_t)(uintptr_t)line;

	line->len = (uint32_t)fmt_vformat(line->text, text_cap, fmt, ap);
	__asm__ volatile("outl %0, %1" : : "a"(gpa), "Nd"((uint16_t)MV_PORT_LINE) : "memory");
}
