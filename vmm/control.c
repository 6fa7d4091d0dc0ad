#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define SEND_WAIT_MS 1000   /* a client that does not read its reply for this long is dropped */

int control_default_path(char *buf, size_t cap, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg && *xdg) {
		n = snprintf(buf, cap, "%s/memvisor-%d.sock", xdg, (int)getpid());
	} else {
		if (mkdir("/run/memvisor", 0700) && errno != EEXIST)
			return ERR("--control: cannot create /run/memvisor: %s", strerror(errno));
		n = snprintf(buf, cap, "/run/memvisor/vmm-%d.sock", (int)getpid());
	}
	if (n < 0 || (size_t)n >= cap)
		return ERR("--control: the default socket path is too long");
	return 0;
}

int control_open(struct control *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->cl[i].fd = -1;
	if (strlen(path) >= sizeof(a.sun_path))
		return ERR("--control: '%s' is longer than a socket path may be (%zu bytes)", path,
			   sizeof(a.sun_path) - 1);
	/* Replace a stale socket, never a file of another kind. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return ERR("--control: '%s' exists and is not a socket", path);
		unlink(path);
	}
	strcpy(a.sun_path, path);
	strcpy(c->path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return ERR("--control: socket: %s", strerror(errno));
	/* Born 0600: no moment at which another user could connect. */
	old = umask(0177);
	rc = bind(c->fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc || listen(c->fd, 16)) {
		int e = errno;
		close(c->fd);
		c->fd = -1;
		return ERR("--control: cannot listen at '%s': %s", path, strerror(e));
	}
	return 0;
}

unsigned control_pollfds(const struct control *c, struct pollfd *p, unsigned max)
{
	unsigned n = 0;

	if (c->fd < 0 || max == 0)
		return 0;
	p[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS && n < max; i++)
		if (c->cl[i].fd >= 0)
			p[n++] = (struct pollfd){ .fd = c->cl[i].fd, .events = POLLIN };
	return n;
}

static void drop(struct control_client *cl)
{
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
	cl->discarding = 0;
}

/* The whole reply, or the client goes: 0, or -1 (dropped). */
static int send_all(struct control_client *cl, const char *s, size_t len)
{
	while (len) {
		ssize_t w = send(cl->fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			s += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = cl->fd, .events = POLLOUT };

			if (poll(&p, 1, SEND_WAIT_MS) == 1 && (p.revents & POLLOUT))
				continue;
		}
		drop(cl);
		return -1;
	}
	return 0;
}

void control_error(FILE *out, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fputs("{\"ok\":false,\"error\":", out);
	json_put_string(out, msg);
	fputc('}', out);
}

static void reply(struct control_client *cl, const char *line, size_t len, control_fn fn, void *ctx)
{
	struct json_obj req;
	char err[256];
	char *text = NULL;
	size_t tlen = 0;
	FILE *out = open_memstream(&text, &tlen);

	if (!out) {
		drop(cl);
		return;
	}
	if (json_parse_object(line, len, &req, err, sizeof(err)))
		control_error(out, "bad request: %s", err);
	else
		fn(ctx, &req, out);
	fputc('\n', out);
	fclose(out);
	send_all(cl, text, tlen);
	free(text);
}

static void accept_clients(struct control *c)
{
	for (;;) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		unsigned i;

		if (fd < 0)
			return;
		/* The socket is 0600 already; this also covers a root-made socket handed around by fd. */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) || (cr.uid != 0 && cr.uid != geteuid())) {
			static const char no[] = "{\"ok\":false,\"error\":\"only the VMM's owner or root may use this socket\"}\n";
			(void)!send(fd, no, sizeof(no) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			c->refused++;
			continue;
		}
		for (i = 0; i < CONTROL_MAX_CLIENTS && c->cl[i].fd >= 0; i++)
			;
		if (i == CONTROL_MAX_CLIENTS) {
			static const char full[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";
			(void)!send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			c->refused++;
			continue;
		}
		c->cl[i] = (struct control_client){ .fd = fd };
	}
}

/* Take what the client sent; answer each whole line. */
static void read_client(struct control *c, struct control_client *cl, control_fn fn, void *ctx)
{
	for (;;) {
		ssize_t r = read(cl->fd, cl->buf + cl->len, CONTROL_MAX_REQUEST - cl->len);
		char *nl;

		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
			drop(cl);  /* gone, perhaps mid-request: what it sent is dropped with it */
			return;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		cl->len += (size_t)r;
		while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len)) != NULL) {
			size_t line = (size_t)(nl - cl->buf);

			if (cl->discarding) {
				cl->discarding = 0;
			} else if (line) {
				c->requests++;
				reply(cl, cl->buf, line, fn, ctx);
			}
			if (cl->fd < 0)
				return;
			memmove(cl->buf, nl + 1, cl->len - line - 1);
			cl->len -= line + 1;
		}
		if (cl->len == CONTROL_MAX_REQUEST) {
			/* No newline in a full buffer: refuse it once, then skip to its end. */
			if (!cl->discarding) {
				char msg[96];
				int n = snprintf(msg, sizeof(msg),
						 "{\"ok\":false,\"error\":\"a request is at most %d bytes\"}\n",
						 CONTROL_MAX_REQUEST);
				if (send_all(cl, msg, (size_t)n))
					return;
			}
			cl->discarding = 1;
			cl->len = 0;
		}
	}
}

void control_serve(struct control *c, const struct pollfd *p, unsigned n, control_fn fn, void *ctx)
{
	for (unsigned k = 0; k < n; k++) {
		if (!p[k].revents)
			continue;
		if (p[k].fd == c->fd) {
			accept_clients(c);
			continue;
		}
		for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
			if (c->cl[i].fd == p[k].fd) {
				read_client(c, &c->cl[i], fn, ctx);
				break;
			}
	}
}

void control_close(struct control *c)
{
	/* Never opened (or already closed): there are no clients either. */
	if (c->fd < 0)
		return;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->cl[i].fd >= 0)
			drop(&c->cl[i]);
	close(c->fd);
	unlink(c->path);
	c->fd = -1;
}
