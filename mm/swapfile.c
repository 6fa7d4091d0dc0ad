#include "swapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096u

struct swapfile {
	int fd;
	int direct;
	struct io_uring wring;     /* reclaim thread: batched writes */
	struct io_uring rring;     /* fault thread: reads */
	struct slots slots;
	char path[4096];
};

struct swapfile *swapfile_open(const char *dir, const char *name, uint32_t max_slots,
			       char *err, size_t errlen)
{
	struct swapfile *sf = calloc(1, sizeof(*sf));
	int e;

	if (!sf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sf->fd = -1;
	if ((size_t)snprintf(sf->path, sizeof(sf->path), "%s/memvisor-%d-%s.swap", dir,
			     (int)getpid(), name) >= sizeof(sf->path)) {
		snprintf(err, errlen, "swap directory path too long");
		free(sf);
		return NULL;
	}
	/* O_EXCL: never write guest memory into a file someone prepared. */
	sf->fd = open(sf->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0600);
	if (sf->fd >= 0) {
		sf->direct = 1;
	} else if (errno == EINVAL) {
		/* tmpfs and some others refuse O_DIRECT: buffered I/O still works. */
		sf->fd = open(sf->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (sf->fd < 0) {
		snprintf(err, errlen, "cannot create swap file '%s': %s", sf->path, strerror(errno));
		free(sf);
		return NULL;
	}
	e = io_uring_queue_init(SWAP_BATCH_MAX, &sf->wring, 0);
	if (!e) {
		e = io_uring_queue_init(8, &sf->rring, 0);
		if (e)
			io_uring_queue_exit(&sf->wring);
	}
	if (e) {
		snprintf(err, errlen, "io_uring_queue_init: %s", strerror(-e));
		close(sf->fd);
		unlink(sf->path);
		free(sf);
		return NULL;
	}
	if (slots_init(&sf->slots, 1024, max_slots)) {
		snprintf(err, errlen, "out of memory for swap slots");
		swapfile_close(sf);
		return NULL;
	}
	return sf;
}

void swapfile_close(struct swapfile *sf)
{
	if (!sf)
		return;
	io_uring_queue_exit(&sf->wring);
	io_uring_queue_exit(&sf->rring);
	if (sf->fd >= 0)
		close(sf->fd);
	unlink(sf->path);
	slots_free_all(&sf->slots);
	free(sf);
}

struct slots *swapfile_slots(struct swapfile *sf)
{
	return &sf->slots;
}

int swapfile_direct(const struct swapfile *sf)
{
	return sf->direct;
}

const char *swapfile_path(const struct swapfile *sf)
{
	return sf->path;
}

/* Wait for `n` completions; results land in w[user_data].result. */
static int reap(struct io_uring *ring, struct swap_write *w, unsigned n)
{
	int failed = 0;

	for (unsigned done = 0; done < n; done++) {
		struct io_uring_cqe *cqe;
		int e;

		do {
			e = io_uring_wait_cqe(ring, &cqe);
		} while (e == -EINTR);
		if (e)
			return e;
		{
			struct swap_write *x = &w[cqe->user_data];
			/* A short write is an error: the slot would read back torn. */
			x->result = cqe->res == (int)PAGE ? 0 : (cqe->res < 0 ? cqe->res : -EIO);
			failed |= x->result != 0;
		}
		io_uring_cqe_seen(ring, cqe);
	}
	return failed ? -EIO : 0;
}

int swapfile_write_batch(struct swapfile *sf, struct swap_write *w, unsigned n)
{
	unsigned queued = 0;
	int e;

	if (n > SWAP_BATCH_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&sf->wring);
		if (!sqe)
			break;
		io_uring_prep_write(sqe, sf->fd, w[i].buf, PAGE, (uint64_t)w[i].slot * PAGE);
		io_uring_sqe_set_data64(sqe, i);
		w[i].result = -EINPROGRESS;
		queued++;
	}
	do {
		e = io_uring_submit(&sf->wring);
	} while (e == -EINTR);
	if (e < 0)
		return e;
	return reap(&sf->wring, w, queued);
}

int swapfile_read(struct swapfile *sf, uint32_t slot, unsigned count, void *buf)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int e, res;

	if (count == 0 || count > SWAP_READ_MAX)
		return -EINVAL;
	sqe = io_uring_get_sqe(&sf->rring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, sf->fd, buf, count * PAGE, (uint64_t)slot * PAGE);
	do {
		e = io_uring_submit(&sf->rring);
	} while (e == -EINTR);
	if (e < 0)
		return e;
	do {
		e = io_uring_wait_cqe(&sf->rring, &cqe);
	} while (e == -EINTR);
	if (e)
		return e;
	res = cqe->res;
	io_uring_cqe_seen(&sf->rring, cqe);
	if (res < 0)
		return res;
	return res == (int)(count * PAGE) ? 0 : -EIO;
}
