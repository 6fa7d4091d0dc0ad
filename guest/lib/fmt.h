/*
 * A small printf-style formatter for the freestanding guest (both rings):
 * %s %c %d %i %u %x %p %%, with l/ll/z modifiers, a width and the '0' and
 * '-' flags.  No floating point: ring 0 must not touch SSE.
 */
#ifndef MEMVISOR_GUEST_FMT_H
#define MEMVISOR_GUEST_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Writes at most cap-1 bytes and a NUL; returns the bytes written. */
size_t fmt_vformat(char *buf, size_t cap, const char *fmt, va_list ap);
size_t fmt_format(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
