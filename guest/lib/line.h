/*
 * One console line through the VMM's line port (abi.h): formatted into a
 * struct mv_line and sent with a single port write.  Used by both rings;
 * the buffer must be identity mapped (its address is the gpa).
 */
#ifndef MEMVISOR_GUEST_LINE_H
#define MEMVISOR_GUEST_LINE_H

#include <stdarg.h>
#include <stddef.h>

#include "abi.h"

void line_vsend(struct mv_line *line, size_t text_cap, const char *fmt, va_list ap);

#endif
