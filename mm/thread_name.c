#include "thread_name.h"

#include <stdarg.h>
#include <stdio.h>

void thread_name(pthread_t t, const char *fmt, ...)
{
	char name[16];              /* the kernel's TASK_COMM_LEN */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	/* A name is a convenience: failing to set one changes nothing else. */
	(void)pthread_setname_np(t, name);
}
