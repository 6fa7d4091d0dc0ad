/*
 * Typing into a Linux guest's serial console: when the VMM runs one Linux
 * VM with its stdin and stdout on a terminal, the terminal goes raw and
 * keys go to COM1, as with QEMU's -nographic.  Ctrl-A x stops the VMM,
 * Ctrl-A Ctrl-A sends a Ctrl-A.  The terminal is restored at exit, also
 * when the VMM dies of a signal it handles.  Input the UART's FIFO cannot
 * take yet waits here, so a paste is not cut short.
 */
#ifndef MEMVISOR_CONSOLE_INPUT_H
#define MEMVISOR_CONSOLE_INPUT_H

#include "pc_platform.h"

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_INPUT_PENDING 4096

struct console_input {
	int active;                 /* the terminal is raw and its keys go to COM1 */
	int escape;                 /* Ctrl-A seen, the next key is a command */
	uint8_t pending[CONSOLE_INPUT_PENDING];
	size_t npending;
};

/* Take the terminal when stdin and stdout are one; returns 1 if it did. */
int console_input_start(struct console_input *ci);

/* stdin's fd while the VMM should poll it (not while input is pending), else -1. */
int console_input_fd(const struct console_input *ci);

/*
 * stdin is readable, or pending input may fit now: move bytes into COM1.
 * Returns 1 when the user asked to stop (Ctrl-A x, or the terminal closed).
 */
int console_input_pump(struct console_input *ci, struct pc_platform *pc, int readable);

void console_input_stop(struct console_input *ci);

#endif
