/*
 * mmbench: the two floor figures a swap-in cannot beat, measured on this
 * machine with the memory manager's own building blocks:
 *   read  one 4 KiB read of a random swap-file slot, io_uring, queue depth 1
 *         (O_DIRECT where the filesystem allows it)
 *   uffd  the bare userfaultfd round trip: a thread touches a missing page,
 *         a handler thread resolves it with UFFDIO_COPY, the toucher resumes
 *         (the handler sleeps in poll(2) between faults)
 *   uffd_spin  the same with a handler that spins on its non-blocking
 *         userfaultfd instead of sleeping, as the VMM's fault thread does
 *         while its poll window lasts (--fault-poll-us)
 * usage: mmbench DIR [PAGES]   (DIR: where the test swap file goes)
 * and what --swap-encrypt adds to each page that goes out and comes back:
 *   seal  encrypt a 4 KiB page and take its tag (swapcrypt_seal)
 *   open  check the tag and decrypt it in place (swapcrypt_open)
 * Prints "read p50_us=.. p99_us=.. max_us=.. direct=0|1",
 * "uffd p50_us=.. p99_us=.. max_us=..", the same for "uffd_spin", and "seal"/"open" lines in the same form.
 */
#include "../mm/hist.h"
#include "../mm/slots.h"
#include "../mm/swapcrypt.h"
#include "../mm/swapfile.h"
#include "../mm/uffd.h"

#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void print(const char *what, const struct hist *h, const char *extra)
{
	printf("%s p50_us=%.1f p99_us=%.1f max_us=%.1f samples=%llu%s\n", what,
	       (double)hist_quantile(h, 0.5) / 1e3, (double)hist_quantile(h, 0.99) / 1e3,
	       (double)h->max / 1e3, (unsigned long long)h->count, extra);
}

static int bench_read(const char *dir, uint32_t pages)
{
	static struct hist h;
	char err[256], extra[32];
	struct swap_write w[SWAP_BATCH_MAX];
	uint8_t *buf = aligned_alloc(4096, (size_t)SWAP_BATCH_MAX * 4096);
	struct swapfile *sf = swapfile_open(dir, "mmbench", pages, 0, err, sizeof(err));
	uint64_t rng = 88172645463325252ull;

	if (!sf || !buf) {
		fprintf(stderr, "mmbench: %s\n", sf ? "out of memory" : err);
		return 1;
	}
	memset(buf, 0x5a, (size_t)SWAP_BATCH_MAX * 4096);
	/* Fill the file, so every read hits real blocks. */
	for (uint32_t done = 0; done < pages; done += SWAP_BATCH_MAX) {
		unsigned n = pages - done < SWAP_BATCH_MAX ? pages - done : SWAP_BATCH_MAX;
		for (unsigned i = 0; i < n; i++) {
			w[i].slot = slots_alloc(swapfile_slots(sf));
			w[i].buf = buf + (size_t)i * 4096;
		}
		if (swapfile_write_batch(sf, w, n)) {
			fprintf(stderr, "mmbench: writing the test file failed\n");
			swapfile_close(sf);
			return 1;
		}
	}
	for (int i = 0; i < 4000; i++) {
		uint64_t t0;
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		t0 = now_ns();
		if (swapfile_read(sf, (uint32_t)(rng % pages), 1, buf)) {
			fprintf(stderr, "mmbench: read failed\n");
			break;
		}
		hist_add(&h, now_ns() - t0);
	}
	snprintf(extra, sizeof(extra), " direct=%d", swapfile_direct(sf));
	print("read", &h, extra);
	swapfile_close(sf);
	free(buf);
	return 0;
}

struct uffd_bench {
	struct uffd_info u;
	uint8_t *area;
	uint8_t *src;
	int spin;
	int stop;
};

static void *handler(void *arg)
{
	struct uffd_bench *b = arg;
	struct uffd_msg m;
	struct pollfd p = { .fd = b->u.fd, .events = POLLIN };

	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		if (!b->spin && poll(&p, 1, 100) <= 0)
			continue;
		if (read(b->u.fd, &m, sizeof(m)) != sizeof(m) || m.event != UFFD_EVENT_PAGEFAULT) {
			if (b->spin)
				sched_yield();
			continue;
		}
		uffd_copy(b->u.fd, (void *)(uintptr_t)(m.arg.pagefault.address & ~4095ull), b->src, 4096, 0);
	}
	return NULL;
}

static int bench_uffd(uint32_t pages, int spin)
{
	static struct hist hs[2];
	struct hist *hp = &hs[spin != 0];
	struct uffd_bench b = { .spin = spin };
	char err[256];
	pthread_t t;

	b.area = mmap(NULL, (size_t)pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b.src = aligned_alloc(4096, 4096);
	if (b.area == MAP_FAILED || !b.src || uffd_open(&b.u, 0, err, sizeof(err)) < 0 ||
	    uffd_register(&b.u, b.area, (size_t)pages * 4096, err, sizeof(err)) < 0) {
		fprintf(stderr, "mmbench: uffd: %s\n", err);
		return 1;
	}
	memset(b.src, 1, 4096);
	pthread_create(&t, NULL, handler, &b);
	for (uint32_t i = 0; i < pages; i++) {
		uint64_t t0 = now_ns();
		(void)*(volatile uint8_t *)(b.area + (size_t)i * 4096);
		hist_add(hp, now_ns() - t0);
	}
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	print(spin ? "uffd_spin" : "uffd", hp, "");
	close(b.u.fd);
	munmap(b.area, (size_t)pages * 4096);
	free(b.src);
	return 0;
}

static int bench_crypt(uint32_t pages)
{
	static struct hist hs, ho;
	static uint8_t plain[4096], sealed[4096];
	struct swapcrypt_seal seal;
	char err[128];
	struct swapcrypt *sc = swapcrypt_new(pages, err, sizeof(err));

	if (!sc) {
		fprintf(stderr, "mmbench: %s\n", err);
		return 1;
	}
	for (uint32_t i = 0; i < pages; i++) {
		uint64_t t0;
		memset(plain, (int)i, sizeof(plain));
		t0 = now_ns();
		swapcrypt_seal(sc, i, plain, sealed, &seal);
		hist_add(&hs, now_ns() - t0);
		if (swapcrypt_commit(sc, i, &seal))
			break;
		t0 = now_ns();
		if (swapcrypt_open(sc, i, 1, sealed)) {
			fprintf(stderr, "mmbench: a sealed page did not open\n");
			swapcrypt_free(sc);
			return 1;
		}
		hist_add(&ho, now_ns() - t0);
	}
	print("seal", &hs, "");
	print("open", &ho, "");
	swapcrypt_free(sc);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t pages = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 65536;

	if (argc < 2 || pages < 64) {
		fprintf(stderr, "usage: %s DIR [PAGES >= 64]\n", argv[0]);
		return 2;
	}
	return bench_read(argv[1], pages) | bench_uffd(pages / 4, 0) | bench_uffd(pages / 4, 1) | bench_crypt(pages / 4);
}
