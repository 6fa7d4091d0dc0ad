/*
 * A VM's swap file: 4 KiB slots in a file created 0600 under the swap
 * directory, written and read through io_uring with O_DIRECT where the
 * filesystem allows it.  Writes go out in batches, asynchronously, and are
 * waited for together; reads bring in a contiguous run of slots at once
 * (swap-in with prefetch).  The file is removed by swapfile_close.
 *
 * Three rings: one for the reclaim thread's writes, one for swap-in reads
 * the fault service waits for, and one for a single readahead left in
 * flight while the guest runs on.  None needs a lock of its own: the
 * caller serialises each ring's users (guest_mem does, per VM).
 */
#ifndef MEMVISOR_MM_SWAPFILE_H
#define MEMVISOR_MM_SWAPFILE_H

#include "slots.h"

#include <stddef.h>
#include <stdint.h>

#define SWAP_BATCH_MAX 64          /* pages in one write batch */
#define SWAP_READ_MAX  256         /* slots in one read */

struct swap_write {
	uint32_t slot;
	const void *buf;           /* 4 KiB, 4 KiB aligned */
	int result;                /* out: 0 or -errno */
};

struct swapfile;

/* swapfile_open flags */
#define SWAPFILE_ENCRYPT 1u        /* pages sealed at rest (swapcrypt.h): a random key per file */

/*
 * Create "<dir>/memvisor-<pid>-<name>.swap" (0600, never an existing file)
 * able to grow to max_slots slots.  Returns NULL with the reason in err.
 * Encrypted, a read whose page fails to authenticate is -EBADMSG.
 */
struct swapfile *swapfile_open(const char *dir, const char *name, uint32_t max_slots, unsigned flags,
			       char *err, size_t errlen);

/* Close the rings and remove the file. */
void swapfile_close(struct swapfile *sf);

/* The slot allocator (used by one thread at a time: the caller's lock). */
struct slots *swapfile_slots(struct swapfile *sf);

/* Submit all writes at once and wait for them; each gets its result. */
int swapfile_write_batch(struct swapfile *sf, struct swap_write *w, unsigned n);

/* Read `count` consecutive slots from `slot` into buf (count * 4 KiB, aligned). */
int swapfile_read(struct swapfile *sf, uint32_t slot, unsigned count, void *buf);

/*
 * Readahead: start reading `count` slots from `slot` into buf and return at
 * once; finish waits for it (0, or -errno; a short read is -EIO).  One at
 * a time: a second start before the finish is -EBUSY.  swapfile_close
 * waits for one still in flight.
 */
int swapfile_read_start(struct swapfile *sf, uint32_t slot, unsigned count, void *buf);
int swapfile_read_finish(struct swapfile *sf);

/* Whether O_DIRECT is in use, whether pages are encrypted, and the file's path. */
int swapfile_direct(const struct swapfile *sf);
int swapfile_encrypted(const struct swapfile *sf);
const char *swapfile_path(const struct swapfile *sf);

#endif
