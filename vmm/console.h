/*
 * Guest console output: each VM's bytes are gathered into lines and every
 * line goes to stdout as "[NAME] text" in a single write, under one lock,
 * so lines of several VMs never interleave mid-line.  Control characters a
 * guest sends are shown as '.', so a guest cannot drive the terminal.
 */
#ifndef MEMVISOR_CONSOLE_H
#define MEMVISOR_CONSOLE_H

#include <stddef.h>

#define CONSOLE_LINE_MAX 1024

struct console {
	char name[32];
	char line[CONSOLE_LINE_MAX];
	size_t len;
	int out_fd;                 /* where lines go (stdout) */
};

void console_init(struct console *con, const char *name, int out_fd);

/* One byte from the UART: a '\n' or a full buffer ends the line. */
void console_putc(struct console *con, char c);

/* A block of text (one or more lines); a missing final '\n' is implied. */
void console_write(struct console *con, const char *text, size_t len);

/* Emit a pending partial line, e.g. when the VM stops. */
void console_flush(struct console *con);

/* A VMM message about one VM (or NULL) on stderr, as "vmm: NAME: text". */
void console_log(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
