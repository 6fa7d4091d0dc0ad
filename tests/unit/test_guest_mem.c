/*
 * Unit tests for mm/guest_mem and mm/mm_host on a plain memory region
 * with userfaultfd: the test thread plays the guest.  No KVM involved.
 */
#include "../../mm/guest_mem.h"
#include "../../mm/mm_host.h"
#include "../../mm/pagemap.h"
#include "../../mm/pshare.h"
#include "../../mm/share_scan.h"
#include "text_page.h"

#include <xxhash.h>

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1ULL << 20)
#define PG 4096u

static char err[512];

/* Each region's own name: two in one process must not share a swap file. */
static const char *region_name(void)
{
	static char names[8][16];
	static unsigned n;
	char *name = names[n++ % 8];

	snprintf(name, sizeof(names[0]), "unit%u", n);
	return name;
}

struct region {
	uint8_t *ram;
	size_t size;
	struct guest_mem gm;
};

static void region_open_cfg(struct region *r, size_t size, unsigned prefetch, unsigned zip_max_pct)
{
	struct guest_mem_config cfg = {
		.name = region_name(), .size = size, .swap_dir = "/tmp", .fault_around = 4, .prefetch = prefetch,
		.compress = zip_max_pct > 0, .zip_level = ZIP_DEFAULT_LEVEL,
		.zip_threshold = GM_DEFAULT_ZIP_THRESHOLD, .zip_max_pct = zip_max_pct, .share = 1,
	};

	r->size = size;
	r->ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(r->ram, MAP_FAILED);
	madvise(r->ram, size, MADV_NOHUGEPAGE);
	ck_assert_msg(guest_mem_init(&r->gm, &cfg, r->ram, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(guest_mem_start(&r->gm, err, sizeof(err)) == 0, "%s", err);
}

static void region_open_prefetch(struct region *r, size_t size, unsigned prefetch)
{
	region_open_cfg(r, size, prefetch, 0);
}

static void region_open(struct region *r, size_t size)
{
	region_open_prefetch(r, size, 8);
}

static void region_close(struct region *r)
{
	guest_mem_destroy(&r->gm);
	munmap(r->ram, r->size);
}

static uint64_t pattern(uint32_t page, uint32_t word, uint32_t seed)
{
	uint64_t x = ((uint64_t)page << 32 | word) ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ULL);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static void fill(uint8_t *ram, uint32_t first, uint32_t n, uint32_t seed)
{
	for (uint32_t p = first; p < first + n; p++)
		for (uint32_t w = 0; w < PG / 8; w++)
			((uint64_t *)(ram + (size_t)p * PG))[w] = pattern(p, w, seed);
}

static uint32_t bad_pages(uint8_t *ram, uint32_t first, uint32_t n, uint32_t seed)
{
	uint32_t bad = 0;

	for (uint32_t p = first; p < first + n; p++)
		for (uint32_t w = 0; w < PG / 8; w++)
			if (((uint64_t *)(ram + (size_t)p * PG))[w] != pattern(p, w, seed)) {
				bad++;
				break;
			}
	return bad;
}

START_TEST(first_read_costs_nothing)
{
	struct region r;
	struct guest_mem_stats s;
	volatile uint8_t sum = 0;

	region_open(&r, 4 * MIB);
	for (size_t off = 0; off < r.size; off += PG)
		sum += r.ram[off];
	ck_assert_uint_eq(sum, 0);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.mapped, 4 * MIB);
	ck_assert_uint_eq(s.zero, 4 * MIB);
	ck_assert_uint_eq(s.consumed, 0);
	ck_assert_int_le(smaps_rss(r.ram, r.size), 0);
	region_close(&r);
}
END_TEST

START_TEST(writes_consume_and_match_the_kernel)
{
	struct region r;
	struct guest_mem_stats s;
	int64_t rss;

	region_open(&r, 8 * MIB);
	fill(r.ram, 0, 1024, 1);                 /* 4 MiB written */
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.consumed, 4 * MIB);
	rss = smaps_rss(r.ram, r.size);
	ck_assert_int_eq(rss, (int64_t)s.consumed);
	/* A read maps the zero page; a later write is the kernel's copy-on-write. */
	for (uint32_t p = 1024; p < 1536; p++)
		(void)*(volatile uint8_t *)(r.ram + (size_t)p * PG);
	fill(r.ram, 1024, 512, 2);
	guest_mem_reconcile(&r.gm);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.consumed, 6 * MIB);
	ck_assert_uint_eq(s.zero, 0);
	ck_assert_int_eq(smaps_rss(r.ram, r.size), (int64_t)s.consumed);
	region_close(&r);
}
END_TEST

/* An in-order fill, upwards or downwards, doubles the first-touch window; a strided one keeps it. */
START_TEST(sequential_first_touches_grow_the_window)
{
	struct region r;
	struct guest_mem_stats s;
	uint64_t n0;

	region_open(&r, 32 * MIB);
	/* Pages 0-2047 in order: windows of 4, 4, 8, 16 ... 512, 512, 512,
	 * each ending on a boundary of its size, so nothing past 8 MiB is mapped. */
	for (uint32_t p = 0; p < 2048; p++)
		r.ram[(size_t)p * PG] = 1;
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.faults[GM_FAULT_ZERO], 11);
	ck_assert_uint_eq(s.consumed, 8 * MIB);
	/* Every 8th page of the next 8 MiB, from its 4th: no fault lands next
	 * to the last window, so each maps fault_around (4) pages. */
	n0 = s.faults[GM_FAULT_ZERO];
	for (uint32_t p = 2048 + 3; p < 4096; p += 8)
		r.ram[(size_t)p * PG] = 1;
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.faults[GM_FAULT_ZERO] - n0, 256);
	ck_assert_uint_eq(s.consumed, 8 * MIB + 256ULL * 4 * PG);
	/* Pages 8191 down to 4096 (a backward copy): the last page alone, then
	 * windows of 7, 8, 16 ... 256, and 512 seven times, each starting on a
	 * boundary of its size. */
	n0 = s.faults[GM_FAULT_ZERO];
	for (uint32_t p = 8191; p >= 4096; p--)
		r.ram[(size_t)p * PG] = 1;
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.faults[GM_FAULT_ZERO] - n0, 15);
	ck_assert_uint_eq(s.consumed, 8 * MIB + 256ULL * 4 * PG + 16 * MIB);
	ck_assert_int_eq(smaps_rss(r.ram, r.size), (int64_t)s.consumed);
	region_close(&r);
}
END_TEST

/* Touch every 8th page of a region whose fault thread spins up to poll_us; its stats after. */
static void touch_with_polling(unsigned poll_us, struct guest_mem_stats *s)
{
	struct guest_mem_config cfg = {
		.name = region_name(), .size = 8 * MIB, .swap_dir = "/tmp", .fault_around = 1, .prefetch = 1,
		.fault_poll_us = poll_us,
	};
	struct region r = { .size = 8 * MIB };

	r.ram = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(r.ram, MAP_FAILED);
	madvise(r.ram, r.size, MADV_NOHUGEPAGE);
	ck_assert_msg(guest_mem_init(&r.gm, &cfg, r.ram, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(guest_mem_start(&r.gm, err, sizeof(err)) == 0, "%s", err);
	for (uint32_t p = 3; p < 2048; p += 8)
		r.ram[(size_t)p * PG] = (uint8_t)p;
	for (uint32_t p = 3; p < 2048; p += 8)
		ck_assert_uint_eq(r.ram[(size_t)p * PG], (uint8_t)p);
	guest_mem_get_stats(&r.gm, s);
	ck_assert_uint_eq(s->faults[GM_FAULT_ZERO], 256);
	region_close(&r);
}

START_TEST(the_fault_thread_spins_for_the_next_fault_only_when_asked)
{
	struct guest_mem_stats s;

	/* One thread faulting page after page comes back within microseconds:
	 * once the window has grown, the spin catches its faults. */
	touch_with_polling(5000, &s);
	ck_assert_uint_gt(s.poll_hits, 0);
	ck_assert_uint_gt(s.poll_ns, 0);
	touch_with_polling(0, &s);
	ck_assert_uint_eq(s.poll_hits, 0);
	ck_assert_uint_eq(s.poll_ns, 0);
}
END_TEST

START_TEST(swap_out_and_in_keeps_every_byte)
{
	struct region r;
	struct guest_mem_stats s;
	unsigned freed = 0;

	region_open(&r, 8 * MIB);
	fill(r.ram, 0, 2048, 7);
	/* Everything was just faulted in; the clock needs a pass to clear REF. */
	for (int i = 0; i < 100 && freed < 1024; i++)
		freed += guest_mem_evict(&r.gm, 64);
	ck_assert_uint_ge(freed, 1024);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.swapped, (uint64_t)freed * PG);
	ck_assert_uint_eq(s.swapouts, freed);
	ck_assert_uint_eq(s.consumed, (2048ULL - freed) * PG);
	ck_assert_int_eq(smaps_rss(r.ram, r.size), (int64_t)s.consumed);
	ck_assert_uint_eq(bad_pages(r.ram, 0, 2048, 7), 0);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.swapped, 0);
	ck_assert_uint_eq(s.swapins, freed);
	/* Sequential reads swap in with prefetch: fewer faults than pages. */
	ck_assert_uint_lt(s.swapin_faults, s.swapins);
	ck_assert_uint_eq(swapfile_slots(r.gm.swap)->used, 0);
	region_close(&r);
}
END_TEST

START_TEST(pageout_swaps_a_range_and_a_sequential_pass_reads_ahead)
{
	struct region r;
	struct guest_mem_stats s;

	region_open_prefetch(&r, 16 * MIB, 64);
	fill(r.ram, 0, 4096, 5);
	/* Outside RAM, or empty: nothing happens. */
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, 16 * MIB, PG), 0);
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, 8 * MIB, 9 * MIB), 0);
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, 0, 0), 0);
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, 0, 16 * MIB), 4096);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.consumed, 0);
	ck_assert_uint_eq(s.swapped, 16 * MIB);
	ck_assert_int_le(smaps_rss(r.ram, r.size), 0);
	ck_assert_uint_eq(swapfile_slots(r.gm.swap)->used, 4096);

	ck_assert_uint_eq(bad_pages(r.ram, 0, 4096, 5), 0);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.swapins, 4096);
	ck_assert_uint_eq(s.swapped, 0);
	/* The window grows to 64 and the stream is read ahead. */
	ck_assert_uint_le(s.swapin_faults, 4096 / 64 + 8);
	ck_assert_uint_ge(s.readahead_pages, 4096 / 2);
	ck_assert_uint_eq(swapfile_slots(r.gm.swap)->used, 0);
	ck_assert_int_eq(smaps_rss(r.ram, r.size), (int64_t)s.consumed);
	region_close(&r);
}
END_TEST

/* A region (prefetch 64) whose every page was written from seed, then paged out. */
static void region_swapped_out(struct region *r, size_t size, uint32_t seed)
{
	uint32_t n = (uint32_t)(size / PG);

	region_open_prefetch(r, size, 64);
	fill(r->ram, 0, n, seed);
	ck_assert_uint_eq(guest_mem_pageout(&r->gm, 0, size), n);
}

/* Past its limit a VM's swap-ins come 16 pages a fault, with nothing read ahead. */
START_TEST(a_vm_at_its_limit_swaps_in_small_windows)
{
	struct region r;
	struct guest_mem_stats s;

	region_swapped_out(&r, 16 * MIB, 5);
	r.gm.limit = 2048;  /* 8 MiB; with no host thread here nothing is pushed out again */
	ck_assert_uint_eq(bad_pages(r.ram, 0, 4096, 5), 0);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.swapins, 4096);
	/* The first 8 MiB in windows of up to 64 (a few dozen faults), the
	 * rest 16 pages a fault: 128 faults at least. */
	ck_assert_uint_ge(s.swapin_faults, 2048 / 16);
	ck_assert_uint_le(s.swapin_faults, 2048 / 16 + 2048 / 8);
	ck_assert_uint_le(s.readahead_pages, 2048);
	region_close(&r);
}
END_TEST

START_TEST(a_backward_pass_reads_no_neighbours)
{
	struct region r;
	struct guest_mem_stats s;

	region_swapped_out(&r, 8 * MIB, 6);
	/* Every other page, from the top down: no fault follows on from the last run. */
	for (uint32_t p = 2047; p >= 1024; p -= 2)
		(void)*(volatile uint64_t *)(r.ram + (size_t)p * PG);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.swapins, 512);
	ck_assert_uint_eq(s.swapin_faults, 512);
	ck_assert_uint_eq(s.readahead_pages, 0);
	ck_assert_uint_eq(bad_pages(r.ram, 0, 2048, 6), 0);
	region_close(&r);
}
END_TEST

/* Text in pages [first, first + n), each page its own. */
static void fill_text(uint8_t *ram, uint32_t first, uint32_t n)
{
	for (uint32_t p = first; p < first + n; p++)
		text_page(ram + (size_t)p * PG, p, PG);
}

static uint32_t bad_text_pages(uint8_t *ram, uint32_t first, uint32_t n)
{
	static uint8_t want[PG];
	uint32_t bad = 0;

	for (uint32_t p = first; p < first + n; p++) {
		text_page(want, p, PG);
		bad += memcmp(ram + (size_t)p * PG, want, PG) != 0;
	}
	return bad;
}

START_TEST(compressible_pages_stay_in_the_cache)
{
	struct region r;
	struct guest_mem_stats s;

	region_open_cfg(&r, 16 * MIB, 64, 50);
	fill_text(r.ram, 0, 1024);
	fill(r.ram, 1024, 1024, 9);                       /* random: incompressible */
	memset(r.ram + 2048ULL * PG, 0, 1024ULL * PG);    /* zero-filled */
	/* One word repeated; up to an aligned 2 MiB, as the grown first-touch
	 * window maps (a shorter fill would leave zeroed pages beyond it). */
	for (uint32_t p = 3072; p < 3072 + 512; p++)
		for (uint32_t w = 0; w < PG / 4; w++)
			((uint32_t *)(r.ram + (size_t)p * PG))[w] = 0x5a5a0000u + p;
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, 0, (3072ULL + 512) * PG), 3072 + 512);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.zip_pages, 1024);
	ck_assert_uint_eq(s.same_pages, 1024 + 512);
	ck_assert_uint_eq(s.swapped, 1024ULL * PG);       /* only the random ones */
	ck_assert_uint_eq(s.consumed, 0);
	/* Text shrinks well below half a page; the chunks hold at most the data plus rounding. */
	ck_assert_uint_lt(s.zip_data_bytes, 1024ULL * PG / 2);
	ck_assert_uint_le(s.zip_bytes, s.zip_data_bytes + 1024ULL * 64 + 2 * ZPOOL_CHUNK);
	ck_assert_uint_eq(s.zipped, 1024 + 1024 + 512);

	ck_assert_uint_eq(bad_text_pages(r.ram, 0, 1024), 0);
	ck_assert_uint_eq(bad_pages(r.ram, 1024, 1024, 9), 0);
	for (uint32_t p = 2048; p < 3072; p++)
		ck_assert_uint_eq(*(volatile uint64_t *)(r.ram + (size_t)p * PG + 8), 0);
	for (uint32_t p = 3072; p < 3072 + 512; p++)
		ck_assert_uint_eq(((uint32_t *)(r.ram + (size_t)p * PG))[PG / 4 - 1], 0x5a5a0000u + p);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.zip_pages + s.same_pages, 0);
	ck_assert_uint_eq(s.zip_bytes, 0);                /* every chunk given back */
	ck_assert_uint_eq(s.unzipped, 1024 + 1024 + 512);
	/* Zero-filled pages read back as the shared zero page: no memory again. */
	ck_assert_uint_eq(s.zero, 1024ULL * PG);
	ck_assert_int_eq(smaps_rss(r.ram, r.size), (int64_t)s.consumed);
	region_close(&r);
}
END_TEST

/* The clock goes round twice for a batch; a VM with fewer pages than that gives each once. */
START_TEST(a_vm_with_few_pages_has_each_evicted_once)
{
	struct region r;
	struct guest_mem_stats s;
	uint64_t held;
	unsigned freed;

	region_open_cfg(&r, 16 * MIB, 64, 50);
	fill_text(r.ram, 0, 10);
	guest_mem_get_stats(&r.gm, &s);
	held = s.consumed / PG;
	ck_assert_uint_ge(held, 10);
	ck_assert_uint_lt(held, 64);
	freed = guest_mem_evict(&r.gm, 64);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(freed, held);
	ck_assert_uint_eq(s.zipped, held);
	ck_assert_uint_eq(s.zip_pages, 10);
	ck_assert_uint_eq(s.same_pages, held - 10);
	ck_assert_uint_eq(s.consumed, 0);
	ck_assert_uint_eq(bad_text_pages(r.ram, 0, 10), 0);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.zip_pages, 0);
	region_close(&r);
}
END_TEST

START_TEST(a_full_cache_sends_its_oldest_pages_to_the_file)
{
	struct region r;
	struct guest_mem_stats s;
	uint32_t zipped_first = UINT32_MAX;

	/* 1% of 16 MiB: 10 chunks, room for a few hundred text pages only. */
	region_open_cfg(&r, 16 * MIB, 64, 1);
	fill_text(r.ram, 0, 4096);
	for (uint32_t p = 0; p < 4096; p += 64)           /* oldest first */
		guest_mem_pageout(&r.gm, (uint64_t)p * PG, 64ULL * PG);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.consumed, 0);
	ck_assert_uint_gt(s.zip_writebacks, 1000);
	ck_assert_uint_le(s.zip_bytes, s.zip_cap);
	ck_assert_uint_eq(s.zip_pages * PG + s.swapped, 4096ULL * PG);
	/* Age order: everything older than the oldest page still cached went to the file. */
	for (uint32_t p = 0; p < 4096 && zipped_first == UINT32_MAX; p++)
		if ((r.gm.state[p] & GM_STATE_MASK) == GM_ZIPPED)
			zipped_first = p;
	ck_assert_uint_lt(zipped_first, 4096);
	for (uint32_t p = 0; p < zipped_first; p++)
		ck_assert_uint_eq(r.gm.state[p] & GM_STATE_MASK, GM_SWAPPED);
	ck_assert_uint_ge(zipped_first, 4096 - s.zip_pages - 64);
	ck_assert_uint_eq(bad_text_pages(r.ram, 0, 4096), 0);
	region_close(&r);
}
END_TEST

/* Pages of a region in one state. */
static uint32_t pages_in(const struct region *r, uint32_t first, uint32_t n, enum gm_state want)
{
	uint32_t k = 0;

	for (uint32_t p = first; p < first + n; p++)
		k += (r->gm.state[p] & GM_STATE_MASK) == want;
	return k;
}

START_TEST(cold_pages_leave_a_full_cache_to_the_pages_that_cycle)
{
	struct region r;
	struct guest_mem_stats s;
	const uint32_t n = 2048, cold = 512, c0 = 512; /* the cold set: [c0, c0 + cold) */

	/* 10% of 16 MiB: room for about 1000 text pages, fewer than go out. */
	region_open_cfg(&r, 16 * MIB, 64, 10);
	fill_text(r.ram, 0, n);
	/* Out in order, so the cold set enters the cache behind the first hot pages. */
	for (uint32_t p = 0; p < n; p += 64)
		ck_assert_uint_eq(guest_mem_pageout(&r.gm, (uint64_t)p * PG, 64ULL * PG), 64);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_gt(pages_in(&r, c0, cold, GM_ZIPPED), cold / 2);
	ck_assert_uint_eq(s.zip_cold_writebacks, 0);
	/* The hot pages cycle: each pass reads them and sends them out again;
	 * the cold set is never read. */
	for (int pass = 0; pass < 8; pass++)
		for (uint32_t p = 0; p < n; p += 64) {
			if (p >= c0 && p < c0 + cold)
				continue;
			ck_assert_uint_eq(bad_text_pages(r.ram, p, 64), 0);
			guest_mem_pageout(&r.gm, (uint64_t)p * PG, 64ULL * PG);
		}
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_gt(s.zip_cold_writebacks, cold / 2);
	ck_assert_uint_le(s.zip_cold_writebacks, s.zip_writebacks);
	/* The cache holds hot pages only (the age queue alone left 64 cold ones). */
	ck_assert_msg(pages_in(&r, c0, cold, GM_ZIPPED) == 0, "%u cold pages still in the cache",
		      pages_in(&r, c0, cold, GM_ZIPPED));
	ck_assert_uint_eq(bad_text_pages(r.ram, 0, n), 0);
	region_close(&r);
}
END_TEST

START_TEST(a_full_cache_refuses_pages_until_faults_drain_it)
{
	struct region r;
	struct guest_mem_stats s;
	uint64_t zipped, swapped;
	uint32_t p = 0, q = 0;

	/* 20% of 16 MiB: ~200 chunks, so one write-back (64 pages) frees only ~3% of it. */
	region_open_cfg(&r, 16 * MIB, 64, 20);
	fill_text(r.ram, 0, 4096);
	do {
		guest_mem_pageout(&r.gm, (uint64_t)p * PG, 64ULL * PG);
		p += 64;
		guest_mem_get_stats(&r.gm, &s);
	} while (s.zip_writebacks == 0 && p < 4096);
	ck_assert_uint_lt(p, 3584);
	zipped = s.zip_pages;
	swapped = s.swapped;
	/* Still over 90% of the cap: new pages go straight to the file. */
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, (uint64_t)p * PG, 256ULL * PG), 256);
	p += 256;
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.zip_pages, zipped);
	ck_assert_uint_eq(s.swapped, swapped + 256ULL * PG);
	/* Faults on the oldest cached pages empty their chunks ... */
	while ((r.gm.state[q] & GM_STATE_MASK) != GM_ZIPPED)
		q++;
	ck_assert_uint_eq(bad_text_pages(r.ram, q, 512), 0);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_le(s.zip_pages, zipped - 512); /* (the window may bring in a few more) */
	zipped = s.zip_pages;
	/* ... and below 90% the cache takes pages again. */
	guest_mem_pageout(&r.gm, (uint64_t)p * PG, 64ULL * PG);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.zip_pages, zipped + 64);
	ck_assert_uint_eq(bad_text_pages(r.ram, 0, 4096), 0);
	region_close(&r);
}
END_TEST

/* One pass of the sharing scanner over the whole region. */
static void scan_all(struct region *r)
{
	static const uint8_t zero[PG];
	unsigned wrapped = 0;

	guest_mem_scan(&r->gm, r->gm.npages, XXH3_64bits(zero, PG), &wrapped);
	ck_assert_uint_eq(wrapped, 1);
}

START_TEST(the_scanner_gives_zero_pages_back)
{
	struct region r;
	struct guest_mem_stats s;

	region_open(&r, 8 * MIB);
	memset(r.ram, 0, 1024ULL * PG);                /* written zeros: resident */
	fill(r.ram, 1024, 1024, 4);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.consumed, 8 * MIB);
	scan_all(&r);                                  /* first sight: hashes only */
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.consumed, 8 * MIB);
	/* A page that changes between visits is volatile: not merged on the next. */
	r.ram[5 * PG] = 1;
	scan_all(&r);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.scan_zero, 1023);
	ck_assert_uint_eq(s.zero, 1023ULL * PG);
	ck_assert_uint_eq(s.consumed, 8 * MIB - 1023ULL * PG);
	ck_assert_int_eq(smaps_rss(r.ram, r.size), (int64_t)s.consumed);
	/* Reads see zeros and cost nothing; the other pages are untouched. */
	for (uint32_t p = 0; p < 1024; p++)
		ck_assert_uint_eq(*(volatile uint64_t *)(r.ram + (size_t)p * PG + 64), 0);
	ck_assert_uint_eq(r.ram[5 * PG], 1);
	ck_assert_uint_eq(bad_pages(r.ram, 1024, 1024, 4), 0);
	/* A write to a shared zero page gets a page of its own, counted again. */
	r.ram[7 * PG + 9] = 42;
	guest_mem_reconcile(&r.gm);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(r.ram[7 * PG + 9], 42);
	ck_assert_uint_eq(s.consumed, 8 * MIB - 1022ULL * PG);
	ck_assert_int_eq(smaps_rss(r.ram, r.size), (int64_t)s.consumed);
	region_close(&r);
}
END_TEST

/* A region whose RAM is a private memfd mapping, sharing frames through ps. */
static void region_open_shared(struct region *r, size_t size, struct pshare *ps, uint32_t group)
{
	int fd = memfd_create("unit-ram", MFD_CLOEXEC);
	struct guest_mem_config cfg = {
		.name = region_name(), .size = size, .swap_dir = "/tmp", .fault_around = 4, .prefetch = 8,
		.share = 1, .pshare = ps, .ram_fd = fd, .share_group = group,
	};

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	r->size = size;
	r->ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	ck_assert_ptr_ne(r->ram, MAP_FAILED);
	ck_assert_msg(guest_mem_init(&r->gm, &cfg, r->ram, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(guest_mem_start(&r->gm, err, sizeof(err)) == 0, "%s", err);
}

static void region_close_shared(struct region *r)
{
	int fd = r->gm.ram_fd;

	region_close(r);
	close(fd);
}

static uint64_t frames_in_kernel(const struct pshare *ps)
{
	struct stat st;

	ck_assert_int_eq(fstat(ps->fd, &st), 0);
	return (uint64_t)st.st_blocks * 512 / PG;
}

static uint64_t all_faults(struct region *r)
{
	struct guest_mem_stats s;
	uint64_t n = 0;

	guest_mem_get_stats(&r->gm, &s);
	for (int k = 0; k < GM_FAULT_KINDS; k++)
		n += s.faults[k];
	return n;
}

/* Mappings inside the region: a run of shared pages on consecutive frames is one. */
static unsigned mappings(struct region *r)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 && lo >= (uintptr_t)r->ram &&
		    hi <= (uintptr_t)r->ram + r->size)
			n++;
	}
	fclose(f);
	return n;
}

/* Private pages by the kernel's count: what the VM consumes, frames apart. */
static int64_t anon_bytes(struct region *r)
{
	return smaps_sum(r->ram, r->size, "Anonymous:");
}

static void pshare_open(struct pshare *ps)
{
	ck_assert_msg(pshare_init(ps, err, sizeof(err)) == 0, "%s", err);
	if (ps->map_limit < 65530)
		ps->map_limit = 65530; /* a small test needs no more; /proc may be unreadable */
}

START_TEST(identical_pages_share_one_frame_and_a_write_breaks_only_its_own)
{
	struct region a, b;
	struct pshare ps;
	struct pshare_stats pst;
	struct guest_mem_stats s;
	uint64_t fa, fb;

	pshare_open(&ps);
	region_open_shared(&a, 4 * MIB, &ps, 0);
	region_open_shared(&b, 4 * MIB, &ps, 0);
	fill(a.ram, 0, 256, 9);
	fill(b.ram, 0, 256, 9);   /* the same 256 pages as a's */
	fill(b.ram, 256, 256, 10);
	/* Two sightings each (the volatile check), then a's hints meet b's pages. */
	scan_all(&a);
	scan_all(&b);
	scan_all(&a);
	scan_all(&b);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.frames, 256);
	ck_assert_uint_eq(pst.refs, 512);
	ck_assert_uint_eq(frames_in_kernel(&ps), 256);
	guest_mem_get_stats(&a.gm, &s);
	ck_assert_uint_eq(s.shared, 256);
	ck_assert_uint_eq(s.consumed, 0);
	ck_assert_uint_eq(s.share_saved_milli, 256 * 500);
	guest_mem_get_stats(&b.gm, &s);
	ck_assert_uint_eq(s.shared, 256);
	ck_assert_uint_eq(s.consumed, 256ULL * PG);
	ck_assert_int_eq(anon_bytes(&a), 0);
	ck_assert_int_eq(anon_bytes(&b), 256 * PG);
	/* Merged in runs: 256 shared pages and the rest of RAM, a handful of mappings, not 257. */
	ck_assert_uint_le(mappings(&a), 8);
	ck_assert_uint_le(mappings(&b), 8);

	/* Reads hit the frames: no fault, and the bytes are right. */
	fa = all_faults(&a);
	fb = all_faults(&b);
	ck_assert_uint_eq(bad_pages(a.ram, 0, 256, 9), 0);
	ck_assert_uint_eq(bad_pages(b.ram, 0, 256, 9), 0);
	ck_assert_uint_eq(all_faults(&a), fa);
	ck_assert_uint_eq(all_faults(&b), fb);

	/* A write breaks a's share alone: b still reads the frame. */
	a.ram[3 * PG + 8] ^= 0xff;
	ck_assert_uint_eq(bad_pages(a.ram, 3, 1, 9), 1);
	a.ram[3 * PG + 8] ^= 0xff;
	ck_assert_uint_eq(bad_pages(a.ram, 0, 256, 9), 0);
	ck_assert_uint_eq(bad_pages(b.ram, 0, 256, 9), 0);
	guest_mem_get_stats(&a.gm, &s);
	ck_assert_uint_eq(s.shared, 255);
	ck_assert_uint_eq(s.share_breaks, 1);
	ck_assert_uint_eq(s.consumed, PG);
	ck_assert_int_eq(anon_bytes(&a), PG);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.frames, 256);
	ck_assert_uint_eq(pst.refs, 511);

	/* Evicted again, the page (its bytes are the frame's once more) is
	 * shared rather than stored: sharing comes first. */
	ck_assert_uint_eq(guest_mem_pageout(&a.gm, 0, 256ULL * PG), 1);
	guest_mem_get_stats(&a.gm, &s);
	ck_assert_uint_eq(s.share_victims, 1);
	ck_assert_uint_eq(s.shared, 256);
	ck_assert_uint_eq(s.swapouts, 0);
	ck_assert_uint_eq(bad_pages(a.ram, 0, 256, 9), 0);

	/* A page whose bytes no frame holds is an ordinary page: it swaps out and back. */
	a.ram[3 * PG + 8] ^= 0xff;
	ck_assert_uint_eq(guest_mem_pageout(&a.gm, 0, 256ULL * PG), 1);
	guest_mem_get_stats(&a.gm, &s);
	ck_assert_uint_eq(s.swapouts, 1);
	a.ram[3 * PG + 8] ^= 0xff;
	ck_assert_uint_eq(bad_pages(a.ram, 0, 256, 9), 0);

	/* The last sharer's write frees the frame. */
	b.ram[3 * PG] = 1;
	guest_mem_get_stats(&b.gm, &s);
	ck_assert_uint_eq(s.share_breaks, 1);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.frames, 255);
	ck_assert_uint_eq(frames_in_kernel(&ps), 255);
	ck_assert_uint_eq(b.ram[3 * PG], 1);

	/* A VM that goes drops its references; the other still reads its pages. */
	region_close_shared(&a);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.refs, 255);
	ck_assert_uint_eq(bad_pages(b.ram, 4, 252, 9), 0);
	region_close_shared(&b);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.frames, 0);
	ck_assert_uint_eq(frames_in_kernel(&ps), 0);
	pshare_destroy(&ps);
}
END_TEST

/* Eviction shares first even where no frame exists yet: a hinted page elsewhere will do. */
START_TEST(a_victim_pairs_with_the_page_the_scanner_saw)
{
	struct region a, b;
	struct pshare ps;
	struct pshare_stats pst;
	struct guest_mem_stats s;
	uint64_t held_a, held_b;
	int64_t anon_a, anon_b;

	pshare_open(&ps);
	region_open_shared(&a, 4 * MIB, &ps, 0);
	region_open_shared(&b, 4 * MIB, &ps, 0);
	fill(a.ram, 0, 256, 9);
	fill(b.ram, 0, 256, 9);
	fill(b.ram, 256, 16, 10);  /* no partner anywhere: these swap */
	scan_all(&a);
	scan_all(&a);               /* a's pages are the hints; b is never scanned */
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.frames, 0);
	guest_mem_get_stats(&a.gm, &s);
	held_a = s.consumed;
	guest_mem_get_stats(&b.gm, &s);
	held_b = s.consumed;
	anon_a = anon_bytes(&a);
	anon_b = anon_bytes(&b);

	ck_assert_uint_eq(guest_mem_pageout(&b.gm, 0, 272ULL * PG), 272);
	guest_mem_get_stats(&b.gm, &s);
	ck_assert_uint_eq(s.share_victims, 256);
	ck_assert_uint_eq(s.shared, 256);
	ck_assert_uint_eq(s.swapouts, 16);
	ck_assert_uint_eq(s.consumed, held_b - 272 * PG);
	guest_mem_get_stats(&a.gm, &s);
	ck_assert_uint_eq(s.shared, 256);
	ck_assert_uint_eq(s.swapouts, 0);
	ck_assert_uint_eq(s.consumed, held_a - 256 * PG);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.frames, 256);
	ck_assert_uint_eq(pst.refs, 512);
	ck_assert_uint_eq(frames_in_kernel(&ps), 256);
	ck_assert_int_eq(anon_bytes(&a), anon_a - 256 * PG);
	ck_assert_int_eq(anon_bytes(&b), anon_b - 272 * PG);
	ck_assert_uint_eq(bad_pages(a.ram, 0, 256, 9), 0);
	ck_assert_uint_eq(bad_pages(b.ram, 0, 256, 9), 0);
	ck_assert_uint_eq(bad_pages(b.ram, 256, 16, 10), 0);

	/* A write breaks one side's share only. */
	a.ram[7 * PG] ^= 1;
	ck_assert_uint_eq(bad_pages(a.ram, 7, 1, 9), 1);
	ck_assert_uint_eq(bad_pages(b.ram, 0, 256, 9), 0);
	region_close_shared(&a);
	region_close_shared(&b);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.frames, 0);
	pshare_destroy(&ps);
}
END_TEST

/* A hint whose page went to swap gives way to a page that is here. */
START_TEST(a_hint_on_a_swapped_page_moves_to_one_that_is_here)
{
	struct region a, b;
	struct pshare ps;
	struct guest_mem_stats s;

	pshare_open(&ps);
	region_open_shared(&a, 4 * MIB, &ps, 0);
	region_open_shared(&b, 4 * MIB, &ps, 0);
	fill(a.ram, 0, 256, 9);
	fill(b.ram, 0, 256, 9);
	scan_all(&a);
	scan_all(&a);
	ck_assert_uint_eq(guest_mem_pageout(&a.gm, 0, 256ULL * PG), 256); /* the hints' own pages: swapped */
	scan_all(&b);
	scan_all(&b);               /* b's pages find the hints gone, and take their place */
	guest_mem_get_stats(&b.gm, &s);
	ck_assert_uint_eq(s.shared, 0);
	/* a's pages come back; one visit (their hashes are known) pairs them with b's. */
	ck_assert_uint_eq(bad_pages(a.ram, 0, 256, 9), 0);
	scan_all(&a);
	guest_mem_get_stats(&a.gm, &s);
	ck_assert_uint_eq(s.shared, 256);
	guest_mem_get_stats(&b.gm, &s);
	ck_assert_uint_eq(s.shared, 256);
	ck_assert_uint_eq(bad_pages(a.ram, 0, 256, 9), 0);
	ck_assert_uint_eq(bad_pages(b.ram, 0, 256, 9), 0);
	region_close_shared(&a);
	region_close_shared(&b);
	pshare_destroy(&ps);
}
END_TEST

static uint64_t one_hash(const void *data, size_t len)
{
	(void)data;
	(void)len;
	return 42;
}

START_TEST(a_forced_hash_collision_never_merges_different_pages)
{
	struct region a, b;
	struct pshare ps;
	struct pshare_stats pst;
	struct guest_mem_stats sa, sb;
	static uint8_t other[PG];
	uint32_t f;

	pshare_open(&ps);
	region_open_shared(&a, 2 * MIB, &ps, 0);
	region_open_shared(&b, 2 * MIB, &ps, 0);
	a.gm.hash = b.gm.hash = one_hash; /* every page hashes the same */
	fill(a.ram, 0, 64, 1);
	fill(b.ram, 0, 64, 2);
	for (int round = 0; round < 3; round++) {
		scan_all(&a);
		scan_all(&b);
	}
	guest_mem_get_stats(&a.gm, &sa);
	guest_mem_get_stats(&b.gm, &sb);
	ck_assert_uint_eq(sa.shared + sb.shared, 0);
	ck_assert_uint_gt(sa.share_differ + sb.share_differ, 100);
	ck_assert_uint_eq(bad_pages(a.ram, 0, 64, 1), 0);
	ck_assert_uint_eq(bad_pages(b.ram, 0, 64, 2), 0);

	/* A frame under the same hash, with other bytes: it is compared, and refused. */
	memset(other, 0x5a, sizeof(other));
	f = pshare_make(&ps, 42, 0, other, 1);
	ck_assert_uint_ne(f, SLOT_NONE);
	scan_all(&a);
	guest_mem_get_stats(&a.gm, &sa);
	ck_assert_uint_eq(sa.shared, 0);
	ck_assert_uint_eq(pshare_refs(&ps, f), 1);
	ck_assert_uint_eq(bad_pages(a.ram, 0, 64, 1), 0);
	/* ... while a page that really holds those bytes joins it. */
	memcpy(a.ram + 10 * PG, other, PG);
	scan_all(&a);
	scan_all(&a);
	guest_mem_get_stats(&a.gm, &sa);
	ck_assert_uint_eq(sa.shared, 1);
	ck_assert_uint_eq(pshare_refs(&ps, f), 2);
	ck_assert_uint_eq(bad_pages(a.ram, 0, 10, 1), 0);
	ck_assert_uint_eq(bad_pages(a.ram, 11, 53, 1), 0);
	ck_assert_mem_eq(a.ram + 10 * PG, other, PG);
	region_close_shared(&a);
	region_close_shared(&b);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.refs, 1);
	ck_assert_int_eq(pshare_put(&ps, f), 1);
	pshare_destroy(&ps);
}
END_TEST

START_TEST(share_groups_keep_vms_apart_but_not_a_vm_from_itself)
{
	struct region a, b;
	struct pshare ps;
	struct guest_mem_stats sa, sb;

	pshare_open(&ps);
	region_open_shared(&a, 2 * MIB, &ps, 1);
	region_open_shared(&b, 2 * MIB, &ps, 2);
	fill(a.ram, 0, 128, 5);
	fill(b.ram, 0, 128, 5);                        /* the same as a's, another group */
	memcpy(a.ram + 200 * PG, a.ram + 7 * PG, PG);  /* a twin inside a */
	for (int round = 0; round < 2; round++) {
		scan_all(&a);
		scan_all(&b);
	}
	guest_mem_get_stats(&a.gm, &sa);
	guest_mem_get_stats(&b.gm, &sb);
	ck_assert_uint_eq(sa.shared, 2);
	ck_assert_uint_eq(sb.shared, 0);
	ck_assert_uint_eq(bad_pages(a.ram, 0, 128, 5), 0);
	ck_assert_uint_eq(bad_pages(b.ram, 0, 128, 5), 0);
	ck_assert_mem_eq(a.ram + 200 * PG, a.ram + 7 * PG, PG);
	region_close_shared(&a);
	region_close_shared(&b);
	pshare_destroy(&ps);
}
END_TEST

/* Pages the guest gives up go, whatever held them; touched again, they read zero. */
START_TEST(ballooned_pages_leave_whatever_held_them)
{
	struct region r;
	struct pshare ps;
	struct pshare_stats pst;
	struct guest_mem_stats s, s0;
	volatile uint8_t sink;

	pshare_open(&ps);
	region_open_shared(&r, 4 * MIB, &ps, 0);
	fill(r.ram, 0, 64, 3);
	sink = r.ram[100 * PG];                                    /* a zero page */
	(void)sink;
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, 32ULL * PG, 16ULL * PG), 16);
	memcpy(r.ram + 51 * PG, r.ram + 50 * PG, PG);              /* twins: they share a frame */
	scan_all(&r);
	scan_all(&r);
	guest_mem_get_stats(&r.gm, &s0);
	ck_assert_uint_eq(s0.shared, 2);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.frames, 1);

	for (uint32_t p = 0; p < 16; p++)                         /* present */
		ck_assert_int_eq(guest_mem_balloon_inflate(&r.gm, p), 0);
	for (uint32_t p = 32; p < 40; p++)                        /* swapped */
		ck_assert_int_eq(guest_mem_balloon_inflate(&r.gm, p), 0);
	ck_assert_int_eq(guest_mem_balloon_inflate(&r.gm, 100), 0); /* zero page */
	ck_assert_int_eq(guest_mem_balloon_inflate(&r.gm, 200), 0); /* never touched */
	ck_assert_int_eq(guest_mem_balloon_inflate(&r.gm, 51), 0);  /* shared */
	ck_assert_int_eq(guest_mem_balloon_inflate(&r.gm, 1024), -1); /* outside RAM */
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.ballooned, 27);
	ck_assert_uint_eq(s.consumed, s0.consumed - 16ULL * PG);
	ck_assert_uint_eq(s.swapped, s0.swapped - 8ULL * PG);
	ck_assert_uint_eq(s.shared, 1);
	ck_assert_int_eq(anon_bytes(&r), (int64_t)s.consumed);
	pshare_get_stats(&ps, &pst);
	ck_assert_uint_eq(pst.refs, 1);                             /* page 50 keeps the frame */
	ck_assert_uint_eq(bad_pages(r.ram, 50, 1, 3), 0);
	ck_assert_uint_eq(bad_pages(r.ram, 16, 16, 3), 0);          /* the rest is untouched */
	ck_assert_uint_eq(bad_pages(r.ram, 40, 8, 3), 0);

	/* Touched again, a ballooned page reads zero and is the guest's again. */
	ck_assert_uint_eq(*(volatile uint64_t *)(r.ram + 5 * PG + 8), 0);
	r.ram[6 * PG] = 9;
	ck_assert_uint_eq(r.ram[6 * PG], 9);
	ck_assert_uint_eq(*(volatile uint64_t *)(r.ram + 51 * PG), 0);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.ballooned, 24);
	/* Deflated pages are zero-filled on their next touch. */
	for (uint32_t p = 32; p < 40; p++)
		ck_assert_int_eq(guest_mem_balloon_deflate(&r.gm, p), 0);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.ballooned, 16);
	ck_assert_uint_eq(*(volatile uint64_t *)(r.ram + 33 * PG), 0);

	/* Free page reporting: released, not counted as ballooned. */
	guest_mem_get_stats(&r.gm, &s0);
	ck_assert_uint_eq(guest_mem_report_free(&r.gm, 16ULL * PG, 8ULL * PG), 8);
	ck_assert_uint_eq(guest_mem_report_free(&r.gm, 16ULL * PG + 1, PG), 0);   /* not whole pages */
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.reported, 8);
	ck_assert_uint_eq(s.ballooned, 16);
	ck_assert_uint_eq(s.consumed, s0.consumed - 8ULL * PG);
	ck_assert_uint_eq(*(volatile uint64_t *)(r.ram + 20 * PG), 0);
	ck_assert_uint_eq(bad_pages(r.ram, 24, 8, 3), 0);
	region_close_shared(&r);
	pshare_destroy(&ps);
}
END_TEST

/* A run of page numbers goes in together, whatever held each page. */
START_TEST(a_balloon_run_takes_every_kind_of_page_at_once)
{
	struct region r;
	struct guest_mem_stats s, s0;
	static uint8_t done[128];
	volatile uint8_t sink;

	region_open(&r, 4 * MIB);
	fill(r.ram, 0, 64, 3);
	sink = r.ram[100 * PG];                                    /* a zero page */
	(void)sink;
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, 16ULL * PG, 8ULL * PG), 8);
	guest_mem_get_stats(&r.gm, &s0);
	ck_assert_uint_eq(s0.swapped, 8ULL * PG);

	ck_assert_uint_eq(guest_mem_balloon_inflate_run(&r.gm, 0, 128, done), 128);
	for (unsigned i = 0; i < 128; i++)
		ck_assert_uint_eq(done[i], 1);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.ballooned, 128);
	ck_assert_uint_eq(s.swapped, 0);
	ck_assert_int_eq(anon_bytes(&r), (int64_t)s.consumed);
	ck_assert_uint_lt(s.consumed, s0.consumed);
	for (unsigned p = 0; p < 128; p++)
		ck_assert_uint_eq(*(volatile uint64_t *)(r.ram + (size_t)p * PG + 8), 0);
	/* Past the end of RAM: nothing, and nothing said done. */
	memset(done, 1, sizeof(done));
	ck_assert_uint_eq(guest_mem_balloon_inflate_run(&r.gm, 1000, 100, done), 0);
	ck_assert_uint_eq(done[0] | done[99], 0);
	region_close(&r);
}
END_TEST

/* The VMM's own writes (a device's used ring) land whatever state the page is in. */
START_TEST(vmm_writes_reach_every_kind_of_page)
{
	struct region r;
	struct pshare ps;
	struct guest_mem_stats s;
	uint64_t v = 0x1122334455667788ULL, got;

	pshare_open(&ps);
	region_open_shared(&r, 2 * MIB, &ps, 0);
	fill(r.ram, 0, 32, 4);
	memcpy(r.ram + 20 * PG, r.ram + 21 * PG, PG);             /* twins */
	scan_all(&r);
	scan_all(&r);
	ck_assert_uint_eq(guest_mem_pageout(&r.gm, 0, 8ULL * PG), 8);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.shared, 2);
	ck_assert_int_eq(guest_mem_write(&r.gm, 3 * PG + 16, &v, 8), 0);    /* swapped */
	ck_assert_int_eq(guest_mem_write(&r.gm, 20 * PG + 16, &v, 8), 0);   /* shared */
	ck_assert_int_eq(guest_mem_write(&r.gm, 100 * PG + 16, &v, 8), 0);  /* untouched */
	ck_assert_int_eq(guest_mem_write(&r.gm, 10 * PG - 4, &v, 8), 0);    /* across two pages */
	ck_assert_int_eq(guest_mem_write(&r.gm, r.size - 4, &v, 8), -EFAULT);
	ck_assert_int_eq(guest_mem_read(&r.gm, 3 * PG + 16, &got, 8), 0);
	ck_assert_uint_eq(got, v);
	memcpy(&got, r.ram + 20 * PG + 16, 8);
	ck_assert_uint_eq(got, v);
	memcpy(&got, r.ram + 100 * PG + 16, 8);
	ck_assert_uint_eq(got, v);
	memcpy(&got, r.ram + 10 * PG - 4, 8);
	ck_assert_uint_eq(got, v);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_uint_eq(s.shared, 1);                             /* 21 still reads the frame */
	ck_assert_uint_eq(bad_pages(r.ram, 21, 1, 4), 0);
	ck_assert_uint_eq(bad_pages(r.ram, 4, 4, 4), 0);
	region_close_shared(&r);
	pshare_destroy(&ps);
}
END_TEST

/* The scanner's pace: each tick shares its pages evenly, and ticks add up to the rate. */
START_TEST(the_scanner_keeps_to_its_rate)
{
	struct region a, b;
	struct mm_host host;
	struct share_scan sc;
	struct share_scan_stats st;
	unsigned per_tick = share_scan_tick_pages(1000);

	ck_assert_uint_eq(per_tick * (1000 / SHARE_TICK_MS), 1000);
	region_open(&a, 2 * MIB);
	region_open(&b, 2 * MIB);
	mm_host_init(&host, 64 * MIB);
	ck_assert_int_eq(mm_host_add(&host, &a.gm), 0);
	ck_assert_int_eq(mm_host_add(&host, &b.gm), 0);
	share_scan_init(&sc, &host, 1000, 100);
	for (int t = 0; t < 100; t++)
		share_scan_tick(&sc, per_tick);
	share_scan_get_stats(&sc, &st);
	/* An even share each, rounded up: 11 pages a VM a tick. */
	ck_assert_uint_eq(st.scanned, 100 * 2 * (per_tick / 2 + 1));
	ck_assert_uint_eq(st.full_scans, 2 * (100 * (per_tick / 2 + 1) / 512));
	ck_assert_uint_gt(st.cpu_ns, 0);
	/* A VM's own rate caps its share: 100 pages a second is 2 a tick. */
	a.gm.share_rate = 100;
	for (int t = 0; t < 100; t++)
		share_scan_tick(&sc, per_tick);
	share_scan_get_stats(&sc, &st);
	ck_assert_uint_eq(st.scanned, 100 * 2 * (per_tick / 2 + 1) + 100 * (2 + per_tick / 2 + 1));
	share_scan_destroy(&sc);
	mm_host_remove(&host, &a.gm);
	mm_host_remove(&host, &b.gm);
	mm_host_destroy(&host);
	region_close(&a);
	region_close(&b);
}
END_TEST

/* The CPU cap: a tick interval earns cpu_pct% of 20 ms, a tick spends what it used. */
static unsigned ticks_costing(struct share_scan *sc, unsigned intervals, uint64_t cost_ns)
{
	unsigned ran = 0;
	uint64_t spent = 0;

	for (unsigned t = 0; t < intervals; t++) {
		int go = share_scan_may_tick(sc, spent);

		spent = go ? cost_ns : 0;
		ran += (unsigned)go;
	}
	return ran;
}

START_TEST(the_scanner_keeps_to_its_cpu_share)
{
	struct mm_host host;
	struct share_scan sc;
	struct share_scan_stats st;

	mm_host_init(&host, 64 * MIB);
	/* 2% of 20 ms is 400 us: ticks that cost less all run. */
	share_scan_init(&sc, &host, 1000, 2);
	ck_assert_uint_eq(ticks_costing(&sc, 1000, 300000), 1000);
	share_scan_get_stats(&sc, &st);
	ck_assert_uint_eq(st.ticks_capped, 0);
	share_scan_destroy(&sc);
	/* A 10 ms tick takes 25 intervals' earnings: about 40 of them in 1000. */
	share_scan_init(&sc, &host, 1000, 2);
	ck_assert_uint_ge(ticks_costing(&sc, 1000, 10000000), 39);
	ck_assert_uint_le(ticks_costing(&sc, 1000, 10000000), 41);
	share_scan_get_stats(&sc, &st);
	ck_assert_uint_gt(st.ticks_capped, 1800);
	/* Idle a long time, it keeps a second's earnings (20 ms) and no more: three 10 ms ticks, then it waits. */
	ck_assert_uint_eq(ticks_costing(&sc, 5000, 0), 5000);
	ck_assert_uint_eq(ticks_costing(&sc, 10, 10000000), 3);
	share_scan_destroy(&sc);
	/* At 100% a tick that takes most of its interval never waits. */
	share_scan_init(&sc, &host, 1000, 100);
	ck_assert_uint_eq(ticks_costing(&sc, 100, 15000000), 100);
	share_scan_destroy(&sc);
	mm_host_destroy(&host);
}
END_TEST

struct writer {
	uint8_t *ram;
	uint32_t npages;
	atomic_int stop;
	_Atomic uint64_t rounds;
};

/*
 * Keep rewriting every page's first word with the round number.  The
 * short rest between rounds lets some evictions finish: a writer that
 * never rests cancels every one of them on a loaded machine, and the
 * test would then race nothing.
 */
static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	const struct timespec rest = { 0, 100 * 1000 };

	while (!atomic_load(&w->stop)) {
		atomic_fetch_add(&w->rounds, 1);
		for (uint32_t p = 0; p < w->npages; p++)
			*(volatile uint64_t *)(w->ram + (size_t)p * PG) = atomic_load(&w->rounds);
		nanosleep(&rest, NULL);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(writes_racing_with_eviction_are_never_lost)
{
	struct region r;
	struct writer w;
	pthread_t t;
	uint64_t last;
	double deadline;
	struct guest_mem_stats s;

	region_open(&r, 4 * MIB);
	memset(&w, 0, sizeof(w));
	w.ram = r.ram;
	w.npages = 1024;
	pthread_create(&t, NULL, writer_thread, &w);
	/*
	 * Evict while the writer runs at least 20 rounds over every page, until
	 * enough evictions both finished and were faulted back; the deadline
	 * only stops a run that would never get there, which then fails below.
	 */
	deadline = now_s() + 60;
	do {
		guest_mem_evict(&r.gm, 64);
		guest_mem_get_stats(&r.gm, &s);
	} while (now_s() < deadline &&
		 (atomic_load(&w.rounds) < 20 || s.swapouts <= 1000 || s.swapin_faults <= 10));
	atomic_store(&w.stop, 1);
	pthread_join(t, NULL);
	last = atomic_load(&w.rounds);
	ck_assert_uint_gt(s.swapouts, 1000);
	ck_assert_uint_gt(s.swapin_faults, 10);
	/* Writes did land on pages being evicted: the race was run. */
	ck_assert_uint_gt(s.faults[GM_FAULT_WP], 0);
	/* The last round wrote every page: each must hold it. */
	for (uint32_t p = 0; p < 1024; p++) {
		uint64_t v = *(volatile uint64_t *)(r.ram + (size_t)p * PG);
		ck_assert_msg(v == last, "page %u holds %llu, last round %llu",
			      p, (unsigned long long)v, (unsigned long long)last);
	}
	ck_assert_uint_gt(last, 1);
	region_close(&r);
}
END_TEST

START_TEST(sampling_estimates_active_memory)
{
	struct region r;
	struct guest_mem_stats s;

	region_open(&r, 16 * MIB);
	fill(r.ram, 0, 4096, 3);
	/* Touch the first quarter between samples, several periods. */
	for (int period = 0; period < 12; period++) {
		guest_mem_sample(&r.gm);
		for (uint32_t p = 0; p < 1024; p++)
			(void)*(volatile uint8_t *)(r.ram + (size_t)p * PG);
	}
	guest_mem_sample(&r.gm);
	guest_mem_get_stats(&r.gm, &s);
	/* 100 samples: a quarter is active, give or take sampling noise. */
	ck_assert_uint_ge(s.active, 2 * MIB);
	ck_assert_uint_le(s.active, 7 * MIB);
	/* Sampling loses nothing and leaves the books right. */
	ck_assert_uint_eq(bad_pages(r.ram, 0, 4096, 3), 0);
	guest_mem_sample(&r.gm);
	guest_mem_get_stats(&r.gm, &s);
	ck_assert_int_eq(smaps_rss(r.ram, r.size), (int64_t)(s.consumed));
	region_close(&r);
}
END_TEST

START_TEST(host_reclaims_down_to_budget)
{
	struct region r;
	struct mm_host h;
	struct mm_host_stats hs;
	struct guest_mem_config cfg = { .name = "hostvm", .size = 32 * MIB, .swap_dir = "/tmp" };

	r.size = cfg.size;
	r.ram = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	madvise(r.ram, r.size, MADV_NOHUGEPAGE);
	mm_host_init(&h, 16 * MIB);
	ck_assert_msg(guest_mem_init(&r.gm, &cfg, r.ram, &h, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(mm_host_add(&h, &r.gm), 0);
	ck_assert_int_eq(guest_mem_start(&r.gm, err, sizeof(err)), 0);
	ck_assert_int_eq(mm_host_start(&h), 0);
	/* Write twice the budget: the host must swap to keep up, never lose data. */
	fill(r.ram, 0, 8192, 11);
	ck_assert_uint_eq(bad_pages(r.ram, 0, 8192, 11), 0);
	mm_host_get_stats(&h, &hs);
	ck_assert_uint_ge(r.gm.swapouts, 4096);
	ck_assert_uint_le(hs.consumed + hs.overhead, 16 * MIB);
	/* It got there through the memory states: high, then hard or worse. */
	ck_assert_uint_ge(hs.transitions, 1);
	mm_host_stop(&h);
	guest_mem_destroy(&r.gm);
	mm_host_destroy(&h);
	munmap(r.ram, r.size);
}
END_TEST

struct filler {
	uint8_t *ram;
	uint32_t npages, seed;
};

static void *filler_thread(void *arg)
{
	struct filler *f = arg;

	fill(f->ram, 0, f->npages, f->seed);
	return NULL;
}

START_TEST(held_faults_reclaim_alongside_the_host_thread)
{
	struct region r[2];
	struct filler f[2];
	pthread_t t[2];
	struct mm_host h;
	struct mm_host_stats hs;

	mm_host_init(&h, 24 * MIB);
	h.direct_max = 2; /* whatever this machine's CPUs */
	for (int i = 0; i < 2; i++) {
		struct guest_mem_config cfg = { .name = region_name(), .size = 32 * MIB, .swap_dir = "/tmp" };

		r[i].size = cfg.size;
		r[i].ram = mmap(NULL, r[i].size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
		ck_assert_ptr_ne(r[i].ram, MAP_FAILED);
		madvise(r[i].ram, r[i].size, MADV_NOHUGEPAGE);
		ck_assert_msg(guest_mem_init(&r[i].gm, &cfg, r[i].ram, &h, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(mm_host_add(&h, &r[i].gm), 0);
		ck_assert_int_eq(guest_mem_start(&r[i].gm, err, sizeof(err)), 0);
	}
	ck_assert_int_eq(mm_host_start(&h), 0);
	/* Both write 32 MiB at once on 24: their faults are held, and reclaim too. */
	for (int i = 0; i < 2; i++) {
		f[i] = (struct filler){ .ram = r[i].ram, .npages = 8192, .seed = 21u + (uint32_t)i };
		pthread_create(&t[i], NULL, filler_thread, &f[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++)
		ck_assert_uint_eq(bad_pages(r[i].ram, 0, 8192, 21u + (uint32_t)i), 0);
	mm_host_get_stats(&h, &hs);
	ck_assert_uint_ge(hs.blocked_faults, 1);
	ck_assert_uint_ge(hs.direct_pages, 1);
	ck_assert_uint_le(hs.consumed + hs.overhead, 24 * MIB);
	ck_assert_uint_ge(r[0].gm.swapouts + r[1].gm.swapouts, 2 * 8192 - 6144);
	mm_host_stop(&h);
	for (int i = 0; i < 2; i++) {
		guest_mem_destroy(&r[i].gm);
		munmap(r[i].ram, r[i].size);
	}
	mm_host_destroy(&h);
}
END_TEST

static Suite *guest_mem_suite(void)
{
	Suite *s = suite_create("guest_mem");
	TCase *tc = tcase_create("uffd");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, first_read_costs_nothing);
	tcase_add_test(tc, writes_consume_and_match_the_kernel);
	tcase_add_test(tc, sequential_first_touches_grow_the_window);
	tcase_add_test(tc, swap_out_and_in_keeps_every_byte);
	tcase_add_test(tc, pageout_swaps_a_range_and_a_sequential_pass_reads_ahead);
	tcase_add_test(tc, a_vm_at_its_limit_swaps_in_small_windows);
	tcase_add_test(tc, a_backward_pass_reads_no_neighbours);
	tcase_add_test(tc, compressible_pages_stay_in_the_cache);
	tcase_add_test(tc, a_vm_with_few_pages_has_each_evicted_once);
	tcase_add_test(tc, a_full_cache_sends_its_oldest_pages_to_the_file);
	tcase_add_test(tc, cold_pages_leave_a_full_cache_to_the_pages_that_cycle);
	tcase_add_test(tc, a_full_cache_refuses_pages_until_faults_drain_it);
	tcase_add_test(tc, the_scanner_gives_zero_pages_back);
	tcase_add_test(tc, identical_pages_share_one_frame_and_a_write_breaks_only_its_own);
	tcase_add_test(tc, a_victim_pairs_with_the_page_the_scanner_saw);
	tcase_add_test(tc, a_hint_on_a_swapped_page_moves_to_one_that_is_here);
	tcase_add_test(tc, a_forced_hash_collision_never_merges_different_pages);
	tcase_add_test(tc, share_groups_keep_vms_apart_but_not_a_vm_from_itself);
	tcase_add_test(tc, the_scanner_keeps_to_its_rate);
	tcase_add_test(tc, the_scanner_keeps_to_its_cpu_share);
	tcase_add_test(tc, the_fault_thread_spins_for_the_next_fault_only_when_asked);
	tcase_add_test(tc, ballooned_pages_leave_whatever_held_them);
	tcase_add_test(tc, a_balloon_run_takes_every_kind_of_page_at_once);
	tcase_add_test(tc, vmm_writes_reach_every_kind_of_page);
	tcase_add_test(tc, writes_racing_with_eviction_are_never_lost);
	tcase_add_test(tc, sampling_estimates_active_memory);
	tcase_add_test(tc, host_reclaims_down_to_budget);
	tcase_add_test(tc, held_faults_reclaim_alongside_the_host_thread);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(guest_mem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
