#include "console_input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_A 0x01

static struct termios saved;
static int saved_valid;

static void restore_terminal(void)
{
	if (saved_valid)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	saved_valid = 0;
}

int console_input_start(struct console_input *ci)
{
	struct termios raw;

	memset(ci, 0, sizeof(*ci));
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || tcgetattr(STDIN_FILENO, &saved))
		return 0;
	raw = saved;
	/* Keys as they are typed, Ctrl-C included; output keeps its newline mapping for our own log. */
	raw.c_iflag &= (tcflag_t)~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_lflag &= (tcflag_t)~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw))
		return 0;
	saved_valid = 1;
	atexit(restore_terminal);
	ci->active = 1;
	return 1;
}

int console_input_fd(const struct console_input *ci)
{
	return ci->active && ci->npending == 0 ? STDIN_FILENO : -1;
}

int console_input_pump(struct console_input *ci, struct pc_platform *pc, int readable)
{
	uint8_t buf[256];

	if (!ci->active)
		return 0;
	if (readable && ci->npending == 0) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return 1;
		for (ssize_t i = 0; i < n; i++) {
			uint8_t c = buf[i];
			if (ci->escape) {
				ci->escape = 0;
				if (c == 'x' || c == 'X')
					return 1;
				if (c != CTRL_A)
					continue;       /* an unknown command: dropped */
			} else if (c == CTRL_A) {
				ci->escape = 1;
				continue;
			}
			if (ci->npending < sizeof(ci->pending))
				ci->pending[ci->npending++] = c;
		}
	}
	if (ci->npending) {
		unsigned took = pc_platform_input(pc, ci->pending, (unsigned)ci->npending);
		memmove(ci->pending, ci->pending + took, ci->npending - took);
		ci->npending -= took;
	}
	return 0;
}

void console_input_stop(struct console_input *ci)
{
	if (ci->active)
		restore_terminal();
	ci->active = 0;
}
