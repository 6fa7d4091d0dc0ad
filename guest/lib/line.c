#include "line.h"

#include <stdint.h>

#include "fmt.h"
#include "io.h"

void line_vsend(struct mv_line *line, size_t text_cap, const char *fmt, va_list ap)
{
	line->len = (uint32_t)fmt_vformat(line->text, text_cap, fmt, ap);
	outl(MV_PORT_LINE, (uint32_t)(uintptr_t)line);
}
