#include "swapfile.h"

#include "swapcrypt.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096u

/*
 * A test hook: MEMVISOR_SWAP_FAULTS makes swap I/O fail on purpose, so the
 * tests can show what the memory manager does with ENOSPC, EIO and short
 * transfers.  Comma-separated KIND=ERR@AFTER[*COUNT]: KIND write or read
 * (a completion fails) or submit (a write batch's io_uring_submit fails,
 * its entries left queued), ERR eio, enospc or short, AFTER the requests of that kind that succeed
 * first (counted over the whole process), COUNT how many then fail
 * (default: all of them).  Unset, it costs one branch per request.
 */
struct fault_rule {
	int on, err;               /* err: -EIO, -ENOSPC, or 1 for a short transfer */
	unsigned long after, count;
	unsigned long seen;        /* requests so far (under fault_lock) */
};
static struct fault_rule fault_write, fault_read, fault_submit;
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

static void faults_parse(void)
{
	const char *env = getenv("MEMVISOR_SWAP_FAULTS");
	char buf[256], *save = NULL;

	if (!env || strlen(env) >= sizeof(buf))
		return;
	strcpy(buf, env);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char kind[8], err[8];
		unsigned long after = 0, count = ~0UL;
		struct fault_rule *r;

		if (sscanf(item, "%7[a-z]=%7[a-z]@%lu*%lu", kind, err, &after, &count) < 3)
			continue;
		r = !strcmp(kind, "write") ? &fault_write : !strcmp(kind, "read") ? &fault_read
		  : !strcmp(kind, "submit") ? &fault_submit : NULL;
		if (!r)
			continue;
		r->err = !strcmp(err, "enospc") ? -ENOSPC : !strcmp(err, "short") ? 1 : -EIO;
		r->after = after;
		r->count = count;
		r->on = 1;
	}
}

/* The injected outcome of the next request of this kind: 0 (none), an -errno, or 1 (short). */
static int fault_next(struct fault_rule *r)
{
	int out = 0;

	pthread_once(&fault_once, faults_parse);
	if (!r->on)
		return 0;
	pthread_mutex_lock(&fault_lock);
	if (r->seen >= r->after && r->seen - r->after < r->count)
		out = r->err;
	r->seen++;
	pthread_mutex_unlock(&fault_lock);
	return out;
}

struct swapfile {
	int fd;
	int direct;
	struct io_uring wring;     /* reclaim thread: batched writes */
	struct io_uring rring;     /* fault service: reads it waits for */
	struct io_uring aring;     /* fault service: one readahead in flight */
	int ahead;                 /* a readahead is in flight */
	int wbroken;               /* the write ring could not be made again after a failed submit */
	uint32_t ahead_slot;       /* ... of these slots, into this buffer */
	unsigned ahead_count;
	void *ahead_buf;
	struct swapcrypt *crypt;   /* NULL: pages go out as they are */
	uint8_t *sealed;           /* encrypted: a write batch's ciphertext */
	struct swapcrypt_seal seals[SWAP_BATCH_MAX];
	struct slots slots;
	char path[4096];
};

struct swapfile *swapfile_open(const char *dir, const char *name, uint32_t max_slots, unsigned flags,
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
	sf->fd = open(sf->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (sf->fd < 0) {
		snprintf(err, errlen, "cannot create swap file '%s': %s", sf->path, strerror(errno));
		free(sf);
		return NULL;
	}
	/*
	 * O_DIRECT after the file exists: an open(O_CREAT|O_DIRECT) that tmpfs
	 * refuses has created the file all the same, and a retry would meet
	 * O_EXCL.  Where it is refused, buffered I/O still works.
	 */
	if (fcntl(sf->fd, F_SETFL, O_DIRECT) == 0)
		sf->direct = 1;
	/* Held while open: a VMM sweeping what crashed ones left sees this file is in use. */
	(void)flock(sf->fd, LOCK_EX | LOCK_NB);
	e = io_uring_queue_init(SWAP_BATCH_MAX, &sf->wring, 0);
	if (!e) {
		e = io_uring_queue_init(8, &sf->rring, 0);
		if (e)
			io_uring_queue_exit(&sf->wring);
	}
	if (!e) {
		e = io_uring_queue_init(2, &sf->aring, 0);
		if (e) {
			io_uring_queue_exit(&sf->rring);
			io_uring_queue_exit(&sf->wring);
		}
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
	if (flags & SWAPFILE_ENCRYPT) {
		sf->crypt = swapcrypt_new(max_slots, err, errlen);
		if (sf->crypt && posix_memalign((void **)&sf->sealed, PAGE, (size_t)SWAP_BATCH_MAX * PAGE)) {
			sf->sealed = NULL;
			snprintf(err, errlen, "out of memory for the swap file's write buffer");
		}
		if (!sf->crypt || !sf->sealed) {
			swapfile_close(sf);
			return NULL;
		}
	}
	return sf;
}

void swapfile_close(struct swapfile *sf)
{
	if (!sf)
		return;
	if (sf->ahead)
		(void)swapfile_read_finish(sf);
	if (!sf->wbroken)
		io_uring_queue_exit(&sf->wring);
	io_uring_queue_exit(&sf->rring);
	io_uring_queue_exit(&sf->aring);
	if (sf->fd >= 0)
		close(sf->fd);
	unlink(sf->path);
	slots_free_all(&sf->slots);
	swapcrypt_free(sf->crypt);
	free(sf->sealed);
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

int swapfile_encrypted(const struct swapfile *sf)
{
	return sf->crypt != NULL;
}

const char *swapfile_path(const struct swapfile *sf)
{
	return sf->path;
}

/* Entries first .. first + n - 1 of a batch, written as one request. */
struct run {
	unsigned first, n;
};

/* Wait for `n` completions; each run's result lands in all its entries. */
static int reap(struct io_uring *ring, struct swap_write *w, const struct run *runs, unsigned n)
{
	int failed = 0;

	for (unsigned done = 0; done < n; done++) {
		struct io_uring_cqe *cqe;
		const struct run *r;
		int e, res;

		do {
			e = io_uring_wait_cqe(ring, &cqe);
		} while (e == -EINTR);
		if (e)
			return e;
		r = &runs[cqe->user_data];
		res = cqe->res;
		{
			int f = fault_next(&fault_write);   /* the test hook: as if the device said so */
			if (f)
				res = f < 0 ? f : (int)(r->n * PAGE) - 512;
		}
		/* A short write is an error: the slots would read back torn. */
		res = res == (int)(r->n * PAGE) ? 0 : (res < 0 ? res : -EIO);
		for (unsigned i = 0; i < r->n; i++)
			w[r->first + i].result = res;
		/* The first failure says why (ENOSPC is worth telling apart from EIO). */
		if (res && !failed)
			failed = res;
		io_uring_cqe_seen(ring, cqe);
	}
	return failed;
}

/*
 * Entries whose slots and buffers both follow on from the one before go
 * out as one request: a 4 KiB write costs nearly as much as a 256 KiB one
 * on a virtual disk, and the reclaim thread stages a batch contiguously
 * into slots the next-fit allocator handed out in a row.
 */
int swapfile_write_batch(struct swapfile *sf, struct swap_write *w, unsigned n)
{
	struct run runs[SWAP_BATCH_MAX];
	const uint8_t *src[SWAP_BATCH_MAX];
	unsigned nruns = 0, queued = 0, submitted = 0;
	int e = 0, failed;

	if (n > SWAP_BATCH_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		w[i].result = -ECANCELED;
		src[i] = w[i].buf;
		if (sf->crypt) {
			/* Sealed into our own buffer: the caller's page stays plain (a failed write keeps it). */
			src[i] = sf->sealed + (size_t)i * PAGE;
			swapcrypt_seal(sf->crypt, w[i].slot, w[i].buf, sf->sealed + (size_t)i * PAGE, &sf->seals[i]);
		}
		if (nruns && w[i].slot == w[i - 1].slot + 1 && src[i] == src[i - 1] + PAGE) {
			runs[nruns - 1].n++;
			continue;
		}
		runs[nruns++] = (struct run){ i, 1 };
	}
	for (unsigned r = 0; r < nruns; r++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&sf->wring);
		if (!sqe)
			break;
		io_uring_prep_write(sqe, sf->fd, src[runs[r].first], runs[r].n * PAGE,
				    (uint64_t)w[runs[r].first].slot * PAGE);
		io_uring_sqe_set_data64(sqe, r);
		queued++;
	}
	if (sf->wbroken)
		return -EIO;
	while (submitted < queued) {
		int f = submitted ? 0 : fault_next(&fault_submit);   /* the test hook */

		if (f) {
			e = f < 0 ? f : -EAGAIN;
			break;
		}
		e = io_uring_submit(&sf->wring);
		if (e == -EINTR)
			continue;
		if (e <= 0)
			break;
		submitted += (unsigned)e;
	}
	failed = submitted < queued ? (e < 0 ? e : -EIO) : 0;
	e = submitted ? reap(&sf->wring, w, runs, submitted) : 0;
	e = e ? e : failed;
	if (failed) {
		/* Entries left queued would go out with the next batch, over buffers reused by then. */
		io_uring_queue_exit(&sf->wring);
		sf->wbroken = io_uring_queue_init(SWAP_BATCH_MAX, &sf->wring, 0) != 0;
	}
	/* Whatever landed is sealed for reading back, even when the batch as a whole failed. */
	for (unsigned i = 0; sf->crypt && i < n; i++) {
		int c = w[i].result ? 0 : swapcrypt_commit(sf->crypt, w[i].slot, &sf->seals[i]);
		if (c) {
			w[i].result = c;
			e = e ? e : c;
		}
	}
	/* Runs that found no free submission entry were never written. */
	return e ? e : (queued < nruns ? -EBUSY : 0);
}

static int submit_read(struct io_uring *ring, int fd, uint32_t slot, unsigned count, void *buf)
{
	struct io_uring_sqe *sqe;
	int e;

	if (count == 0 || count > SWAP_READ_MAX)
		return -EINVAL;
	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, count * PAGE, (uint64_t)slot * PAGE);
	io_uring_sqe_set_data64(sqe, count);
	do {
		e = io_uring_submit(ring);
	} while (e == -EINTR);
	return e < 0 ? e : 0;
}

/* Wait for the one read in flight on ring; a short read is -EIO. */
static int wait_read(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int e, res;
	uint64_t count;

	do {
		e = io_uring_wait_cqe(ring, &cqe);
	} while (e == -EINTR);
	if (e)
		return e;
	res = cqe->res;
	count = io_uring_cqe_get_data64(cqe);
	io_uring_cqe_seen(ring, cqe);
	{
		int f = fault_next(&fault_read);   /* the test hook */
		if (f)
			res = f < 0 ? f : (int)(count * PAGE) - 512;
	}
	if (res < 0)
		return res;
	return res == (int)(count * PAGE) ? 0 : -EIO;
}

/* A read that landed: opened in place if sealed. */
static int opened(struct swapfile *sf, int e, uint32_t slot, unsigned count, void *buf)
{
	return e || !sf->crypt ? e : swapcrypt_open(sf->crypt, slot, count, buf);
}

int swapfile_read(struct swapfile *sf, uint32_t slot, unsigned count, void *buf)
{
	int e = submit_read(&sf->rring, sf->fd, slot, count, buf);

	return opened(sf, e ? e : wait_read(&sf->rring), slot, count, buf);
}

int swapfile_read_start(struct swapfile *sf, uint32_t slot, unsigned count, void *buf)
{
	int e;

	if (sf->ahead)
		return -EBUSY;
	e = submit_read(&sf->aring, sf->fd, slot, count, buf);
	sf->ahead = !e;
	sf->ahead_slot = slot;
	sf->ahead_count = count;
	sf->ahead_buf = buf;
	return e;
}

int swapfile_read_finish(struct swapfile *sf)
{
	if (!sf->ahead)
		return -EINVAL;
	sf->ahead = 0;
	return opened(sf, wait_read(&sf->aring), sf->ahead_slot, sf->ahead_count, sf->ahead_buf);
}
