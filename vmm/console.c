#include "console.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* stdout gone: the guest keeps running regardless */
		buf += n;
		len -= (size_t)n;
	}
}

static void emit(struct console *con, const char *text, size_t len)
{
	char out[CONSOLE_LINE_MAX + 64];
	size_t n = (size_t)snprintf(out, sizeof(out), "[%s] ", con->name);

	for (size_t i = 0; i < len && n < sizeof(out) - 1; i++) {
		unsigned char c = (unsigned char)text[i];
		out[n++] = (c < 0x20 && c != '\t') || c == 0x7f ? '.' : (char)c;
	}
	out[n++] = '\n';
	pthread_mutex_lock(&out_lock);
	write_all(con->out_fd, out, n);
	pthread_mutex_unlock(&out_lock);
}

void console_init(struct console *con, const char *name, int out_fd)
{
	memset(con, 0, sizeof(*con));
	snprintf(con->name, sizeof(con->name), "%s", name);
	con->out_fd = out_fd;
}

void console_putc(struct console *con, char c)
{
	if (c == '\n') {
		emit(con, con->line, con->len);
		con->len = 0;
		return;
	}
	if (c == '\r')
		return;
	con->line[con->len++] = c;
	if (con->len == sizeof(con->line)) {
		emit(con, con->line, con->len);
		con->len = 0;
	}
}

void console_write(struct console *con, const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		console_putc(con, text[i]);
	if (con->len)
		console_flush(con);
}

void console_flush(struct console *con)
{
	if (con->len) {
		emit(con, con->line, con->len);
		con->len = 0;
	}
}

void console_log(const char *name, const char *fmt, ...)
{
	char buf[4096];
	int n;
	va_list ap;

	n = name ? snprintf(buf, sizeof(buf), "vmm: %s: ", name) : snprintf(buf, sizeof(buf), "vmm: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	pthread_mutex_lock(&out_lock);
	write_all(STDERR_FILENO, buf, (size_t)n);
	pthread_mutex_unlock(&out_lock);
}
