/*
 * The control socket: a Unix stream socket that takes one JSON request
 * per line and gives one JSON reply per line, served from the VMM's main
 * thread (so a command sees the VMs as that thread does).  It is created
 * 0600 and a peer that is neither its owner nor root is turned away.
 * A malformed or oversized request gets an error reply and the connection
 * stays usable; many clients may be connected at once, and one that
 * vanishes mid-request harms nothing.
 */
#ifndef MEMVISOR_VMM_CONTROL_H
#define MEMVISOR_VMM_CONTROL_H

#include <poll.h>
#include <stdio.h>
#include "json.h"

#define CONTROL_MAX_CLIENTS 32
#define CONTROL_MAX_REQUEST 4096

struct control_client {
	int fd;                          /* -1: free slot */
	size_t len;
	int discarding;                  /* an oversized request: skip to its newline */
	char buf[CONTROL_MAX_REQUEST + 1];
};

struct control {
	int fd;
	char path[108];
	struct control_client cl[CONTROL_MAX_CLIENTS];
	unsigned long requests, refused;
};

/*
 * The reply to one request: write a JSON object (no newline) to out, e.g.
 * {"ok":true,...} or {"ok":false,"error":"..."}.
 */
typedef void (*control_fn)(void *ctx, const struct json_obj *req, FILE *out);

/* $XDG_RUNTIME_DIR/memvisor-PID.sock, else /run/memvisor/vmm-PID.sock (the directory made 0700). */
int control_default_path(char *buf, size_t cap, char *err, size_t errlen);

/* Listen at path (an existing socket there is replaced): 0, or -1 with err. */
int control_open(struct control *c, const char *path, char *err, size_t errlen);

/* The descriptors to poll for reading: the listener, then each client.  Returns how many. */
unsigned control_pollfds(const struct control *c, struct pollfd *p, unsigned max);

/* After poll: accept, read, answer every whole request. */
void control_serve(struct control *c, const struct pollfd *p, unsigned n, control_fn fn, void *ctx);

/* Close every connection and remove the socket. */
void control_close(struct control *c);

/* One reply object saying why a request failed. */
void control_error(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
