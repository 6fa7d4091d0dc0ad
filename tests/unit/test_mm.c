/*
 * Unit tests for mm/, the memory manager library: no KVM involved.
 */
#include "../../mm/alloc_policy.h"
#include "../../mm/fault_poll.h"
#include "../../mm/hist.h"
#include "../../mm/memstate.h"
#include "../../mm/pshare.h"
#include "../../mm/slots.h"
#include "../../mm/swapcrypt.h"
#include "../../mm/swapfile.h"
#include "../../mm/zip.h"
#include "../../mm/zpool.h"
#include "text_page.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

/* Buckets tile the values with no gap, each at most 1/HIST_SUB wider than the one before. */
START_TEST(histogram_buckets_tile_and_stay_narrow)
{
	static struct hist h;
	uint64_t prev = 0;

	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		uint64_t up = hist_bucket_upper(b);

		ck_assert_uint_eq(hist_bucket(up), b);
		if (b) {
			ck_assert_uint_gt(up, prev);
			ck_assert_uint_eq(hist_bucket(prev + 1), b);
		}
		if (b > HIST_SUB && up != UINT64_MAX)
			ck_assert_uint_le((up - prev) * HIST_SUB, prev + 1);
		prev = up;
		if (up == UINT64_MAX)
			break;
	}
	ck_assert_uint_lt(hist_bucket(UINT64_MAX), HIST_BUCKETS);
	ck_assert_uint_eq(hist_bucket_upper(hist_bucket(UINT64_MAX)), UINT64_MAX);
	/* A percentile is the upper bound of its bucket: within 1/HIST_SUB of the value. */
	for (int i = 0; i < 1000; i++)
		hist_add(&h, i < 500 ? 37800 : 40000 + (uint64_t)i);
	ck_assert_uint_ge(hist_quantile(&h, 0.25), 37800);
	ck_assert_uint_le(hist_quantile(&h, 0.25), 37800 + 37800 / HIST_SUB);
	ck_assert_uint_eq(hist_quantile(&h, 1.0), 40999);
}
END_TEST

START_TEST(min_free_sliding_scale)
{
	/* 6% of the first 4 GiB, 4% to 12 GiB, 2% to 28 GiB, 1% above. */
	ck_assert_uint_eq(memstate_min_free(0), 0);
	ck_assert_uint_eq(memstate_min_free(100 * MIB), 6 * MIB);
	ck_assert_uint_eq(memstate_min_free(4 * GIB), 4 * GIB * 6 / 100);
	ck_assert_uint_eq(memstate_min_free(12 * GIB), 4 * GIB * 6 / 100 + 8 * GIB * 4 / 100);
	/* ESX documents about 899 MB for 28 GB. */
	ck_assert_uint_ge(memstate_min_free(28 * GIB), 895 * MIB);
	ck_assert_uint_le(memstate_min_free(28 * GIB), 905 * MIB);
	ck_assert_uint_eq(memstate_min_free(128 * GIB) - memstate_min_free(28 * GIB),
			  100 * GIB / 100);
	/* Monotonic in the budget. */
	for (uint64_t b = 0; b < 40 * GIB; b += 64 * MIB + 4096)
		ck_assert_uint_le(memstate_min_free(b), memstate_min_free(b + 64 * MIB));
}
END_TEST

START_TEST(thresholds_are_esx_fractions)
{
	struct memstate ms;

	memstate_init(&ms, 1 * GIB);
	ck_assert_uint_eq(ms.min_free, GIB * 6 / 100);
	ck_assert_uint_eq(ms.enter[MEM_SOFT], ms.min_free * 64 / 100);
	ck_assert_uint_eq(ms.enter[MEM_HARD], ms.min_free * 32 / 100);
	ck_assert_uint_eq(ms.enter[MEM_LOW], ms.min_free * 16 / 100);
	for (int s = MEM_SOFT; s <= MEM_LOW; s++)
		ck_assert_uint_gt(ms.leave[s], ms.enter[s]);
	ck_assert_int_eq(ms.state, MEM_HIGH);
}
END_TEST

START_TEST(falls_and_climbs_with_hysteresis)
{
	struct memstate ms;
	uint64_t m;

	memstate_init(&ms, 1 * GIB);
	m = ms.min_free;
	ck_assert_int_eq(memstate_update(&ms, m), MEM_HIGH);
	ck_assert_int_eq(memstate_update(&ms, m * 63 / 100), MEM_SOFT);
	/* Just above the soft threshold is not enough to climb back. */
	ck_assert_int_eq(memstate_update(&ms, m * 66 / 100), MEM_SOFT);
	ck_assert_int_eq(memstate_update(&ms, m * 81 / 100), MEM_SOFT);
	ck_assert_int_eq(memstate_update(&ms, m * 83 / 100), MEM_HIGH);
	ck_assert_uint_eq(ms.transitions, 2);

	/* A sudden drop skips states at once. */
	ck_assert_int_eq(memstate_update(&ms, m * 10 / 100), MEM_LOW);
	ck_assert_int_eq(memstate_update(&ms, m * 17 / 100), MEM_LOW);
	ck_assert_int_eq(memstate_update(&ms, m * 25 / 100), MEM_HARD);
	ck_assert_int_eq(memstate_update(&ms, m * 31 / 100), MEM_HARD);
	ck_assert_int_eq(memstate_update(&ms, m * 47 / 100), MEM_HARD);
	ck_assert_int_eq(memstate_update(&ms, m * 49 / 100), MEM_SOFT);
	/* Recovery climbs one state per update. */
	memstate_update(&ms, 0);
	ck_assert_int_eq(ms.state, MEM_LOW);
	ck_assert_int_eq(memstate_update(&ms, 2 * m), MEM_HARD);
	ck_assert_int_eq(memstate_update(&ms, 2 * m), MEM_SOFT);
	ck_assert_int_eq(memstate_update(&ms, 2 * m), MEM_HIGH);
}
END_TEST

START_TEST(fault_polling_adapts_as_halt_polling_does)
{
	struct fault_poll fp;
	atomic_uint spinning = 0;

	fault_poll_init(&fp, 200000);
	ck_assert_uint_eq(fp.window_ns, 0);
	/* Faults that come back within the maximum grow the window: 10 us, then doubling, capped. */
	fault_poll_slept(&fp, 30000);
	ck_assert_uint_eq(fp.window_ns, FAULT_POLL_START_NS);
	fault_poll_slept(&fp, 30000);
	ck_assert_uint_eq(fp.window_ns, 20000);
	for (int i = 0; i < 10; i++)
		fault_poll_slept(&fp, 200000);
	ck_assert_uint_eq(fp.window_ns, 200000);
	/* One wait past the maximum: a quiet VM spins no more. */
	fault_poll_slept(&fp, 200001);
	ck_assert_uint_eq(fp.window_ns, 0);
	/* Off stays off. */
	fault_poll_init(&fp, 0);
	fault_poll_slept(&fp, 0);
	ck_assert_uint_eq(fp.window_ns, 0);
	/* A maximum under the start value is still the cap. */
	fault_poll_init(&fp, 5000);
	fault_poll_slept(&fp, 1000);
	ck_assert_uint_eq(fp.window_ns, 5000);

	/* All CPUs but one may spin; one CPU never spins. */
	ck_assert_uint_eq(fault_poll_spinners_for(1), 0);
	ck_assert_uint_eq(fault_poll_spinners_for(2), 1);
	ck_assert_uint_eq(fault_poll_spinners_for(8), 7);
	ck_assert_uint_eq(fault_poll_spinners_for(-1), 0);
	ck_assert_int_eq(fault_poll_claim(&spinning, 2), 1);
	ck_assert_int_eq(fault_poll_claim(&spinning, 2), 1);
	ck_assert_int_eq(fault_poll_claim(&spinning, 2), 0);
	fault_poll_release(&spinning);
	ck_assert_int_eq(fault_poll_claim(&spinning, 2), 1);
	ck_assert_int_eq(fault_poll_claim(&spinning, 0), 0);
	ck_assert_uint_eq(spinning, 2);
}
END_TEST

START_TEST(no_flapping_on_noise)
{
	struct memstate ms;
	uint64_t m, before;

	memstate_init(&ms, 512 * MIB);
	m = ms.min_free;
	memstate_update(&ms, m * 30 / 100);
	ck_assert_int_eq(ms.state, MEM_HARD);
	before = ms.transitions;
	/* Noise of +-5% of minFree around the hard threshold changes nothing. */
	for (int i = 0; i < 1000; i++)
		memstate_update(&ms, m * 32 / 100 + (uint64_t)(rand() % 11) * m / 100 - m * 5 / 100);
	ck_assert_uint_eq(ms.transitions, before);
	ck_assert_str_eq(memstate_name(ms.state), "hard");
}
END_TEST

START_TEST(slots_are_consecutive_and_unique)
{
	struct slots s;

	ck_assert_int_eq(slots_init(&s, 10, 1000), 0);
	for (uint32_t i = 0; i < 1000; i++)
		ck_assert_uint_eq(slots_alloc(&s), i);   /* grows past the first 64 */
	ck_assert_uint_eq(s.used, 1000);
	ck_assert_uint_eq(s.high_water, 1000);
	ck_assert_uint_eq(slots_alloc(&s), SLOT_NONE);  /* the limit holds */
	ck_assert_uint_eq(s.used, 1000);
	slots_free_all(&s);
}
END_TEST

START_TEST(slots_release_and_reuse)
{
	struct slots s;
	uint32_t a;

	ck_assert_int_eq(slots_init(&s, 64, 128), 0);
	for (int i = 0; i < 100; i++)
		slots_alloc(&s);
	ck_assert_int_eq(slots_release(&s, 7), 0);
	ck_assert_int_eq(slots_release(&s, 7), -1);     /* double free refused */
	ck_assert_int_eq(slots_release(&s, 100), -1);   /* never allocated */
	ck_assert_int_eq(slots_release(&s, 5000), -1);  /* out of range */
	ck_assert(!slots_in_use(&s, 7));
	/* Next fit: continue after the last allocation before reusing 7. */
	ck_assert_uint_eq(slots_alloc(&s), 100);
	for (int i = 101; i < 128; i++)
		ck_assert_uint_eq(slots_alloc(&s), (uint32_t)i);
	a = slots_alloc(&s);
	ck_assert_uint_eq(a, 7);
	ck_assert_uint_eq(slots_alloc(&s), SLOT_NONE);
	ck_assert_uint_eq(s.used, 128);
	slots_free_all(&s);
}
END_TEST

START_TEST(slots_random_against_model)
{
	enum { LIMIT = 3000 };
	static unsigned char model[LIMIT];
	struct slots s;
	uint32_t used = 0;

	memset(model, 0, sizeof(model));
	ck_assert_int_eq(slots_init(&s, 1, LIMIT), 0);
	srand(12345);
	for (int step = 0; step < 200000; step++) {
		if (rand() % 3) {
			uint32_t x = slots_alloc(&s);
			if (used == LIMIT) {
				ck_assert_uint_eq(x, SLOT_NONE);
				continue;
			}
			ck_assert_uint_lt(x, LIMIT);
			ck_assert_uint_eq(model[x], 0);
			model[x] = 1;
			used++;
		} else {
			uint32_t x = (uint32_t)rand() % LIMIT;
			ck_assert_int_eq(slots_release(&s, x), model[x] ? 0 : -1);
			used -= model[x];
			model[x] = 0;
		}
		ck_assert_uint_eq(s.used, used);
	}
	for (uint32_t i = 0; i < LIMIT; i++)
		ck_assert_int_eq(slots_in_use(&s, i), model[i]);
	slots_free_all(&s);
}
END_TEST

/* ---- compression ----------------------------------------------------------- */

START_TEST(zip_round_trips_and_refuses_what_does_not_fit)
{
	static uint8_t page[ZIP_PAGE], back[ZIP_PAGE], out[ZIP_PAGE];
	struct zip *z = zip_new(ZIP_DEFAULT_LEVEL);
	size_t n;

	ck_assert_ptr_nonnull(z);
	for (unsigned seed = 0; seed < 50; seed++) {
		text_page(page, seed, ZIP_PAGE);
		n = zip_compress(z, page, out, 2048);
		ck_assert_uint_gt(n, 0);
		ck_assert_uint_le(n, 2048);
		memset(back, 0xaa, sizeof(back));
		ck_assert_int_eq(zip_decompress(z, out, n, back), 0);
		ck_assert_mem_eq(page, back, ZIP_PAGE);
		/* A damaged or short input never yields a page. */
		ck_assert_int_eq(zip_decompress(z, out, n / 2, back), -1);
	}
	/* Random bytes do not shrink to half a page. */
	srand(7);
	for (unsigned i = 0; i < ZIP_PAGE; i++)
		page[i] = (uint8_t)rand();
	ck_assert_uint_eq(zip_compress(z, page, out, 2048), 0);
	zip_free(z);
	ck_assert_ptr_null(zip_new(ZIP_LEVEL_MAX + 1));
	ck_assert_ptr_null(zip_new(ZIP_LEVEL_MIN - 1));
}
END_TEST

START_TEST(zip_same_filled_pages)
{
	static uint8_t page[ZIP_PAGE];
	uint32_t w = 1;

	memset(page, 0, sizeof(page));
	ck_assert_int_eq(zip_same_filled(page, &w), 1);
	ck_assert_uint_eq(w, 0);
	zip_fill(page, 0xdeadbeef);
	ck_assert_int_eq(zip_same_filled(page, &w), 1);
	ck_assert_uint_eq(w, 0xdeadbeef);
	page[4095] ^= 1;            /* one bit off, at the very end */
	ck_assert_int_eq(zip_same_filled(page, &w), 0);
	zip_fill(page, 0x11111111);
	page[5] = 0;                /* the two halves of the first word differ */
	ck_assert_int_eq(zip_same_filled(page, &w), 0);
}
END_TEST

START_TEST(zpool_packs_by_class_and_frees_whole_chunks)
{
	struct zpool zp;
	uint32_t h[300];
	size_t len;
	uint8_t *d;

	ck_assert_int_eq(zpool_init(&zp, 4 * ZPOOL_CHUNK), 0);
	/* 1000 bytes + 2 of length: the 1024-byte class, 16 to a chunk. */
	for (unsigned i = 0; i < 16; i++) {
		h[i] = zpool_alloc(&zp, 1000);
		ck_assert_uint_ne(h[i], ZPOOL_NONE);
		d = zpool_data(&zp, h[i], &len);
		ck_assert_uint_eq(len, 1000);
		memset(d, (int)i, len);
	}
	ck_assert_uint_eq(zp.chunks_used, 1);
	ck_assert_uint_eq(zpool_bytes(&zp), ZPOOL_CHUNK);
	h[16] = zpool_alloc(&zp, 1000);
	ck_assert_uint_eq(zp.chunks_used, 2);
	/* Another class never shares a chunk. */
	h[17] = zpool_alloc(&zp, 10);
	ck_assert_uint_eq(zp.chunks_used, 3);
	/* Contents stay apart. */
	for (unsigned i = 0; i < 16; i++) {
		d = zpool_data(&zp, h[i], &len);
		for (size_t k = 0; k < len; k++)
			ck_assert_uint_eq(d[k], i);
	}
	ck_assert_uint_eq(zp.objects, 18);
	ck_assert_uint_eq(zp.data_bytes, 17 * 1000 + 10);
	/* Freeing the second chunk's only object gives the chunk back. */
	ck_assert_int_eq(zpool_free(&zp, h[16]), 0);
	ck_assert_uint_eq(zp.chunks_used, 2);
	ck_assert_int_eq(zpool_free(&zp, h[16]), -1);      /* twice: refused */
	ck_assert_int_eq(zpool_free(&zp, 0x7fffff00u), -1); /* never issued */
	ck_assert_ptr_null(zpool_data(&zp, h[16], &len));
	/* A full chunk with one hole takes the next object of its class. */
	ck_assert_int_eq(zpool_free(&zp, h[3]), 0);
	h[3] = zpool_alloc(&zp, 1010); /* 1012 bytes: the same 1024-byte class */
	ck_assert_uint_eq(zp.chunks_used, 2);
	ck_assert_uint_eq(h[3] >> 8, h[0] >> 8);
	/* Out-of-range sizes. */
	ck_assert_uint_eq(zpool_alloc(&zp, 0), ZPOOL_NONE);
	ck_assert_uint_eq(zpool_alloc(&zp, ZPOOL_MAX_DATA + 1), ZPOOL_NONE);
	zpool_destroy(&zp);
}
END_TEST

START_TEST(zpool_stops_at_its_cap)
{
	struct zpool zp;
	unsigned n = 0;

	ck_assert_int_eq(zpool_init(&zp, 3 * ZPOOL_CHUNK + 100), 0);
	ck_assert_uint_eq(zp.nchunks, 3);
	/* 2000-byte objects: 8 to a chunk, 24 fit in 3 chunks. */
	while (zpool_alloc(&zp, 2000) != ZPOOL_NONE)
		n++;
	ck_assert_uint_eq(n, 24);
	ck_assert_uint_eq(zpool_bytes(&zp), 3 * ZPOOL_CHUNK);
	zpool_destroy(&zp);
}
END_TEST

static void *owner_of(uint32_t i)
{
	return (void *)(uintptr_t)(0x1000 + (i & 3) * 0x100);
}

/* The table against a model: 200000 keys, so it grows three times over. */
START_TEST(pshare_table_finds_frames_and_hints_by_hash_and_group)
{
	enum { N = 200000 };
	struct pshare ps;
	char err[256];
	static uint8_t page[4096];
	void *owner;
	uint32_t v, f;

	ck_assert_msg(pshare_init_frames(&ps, 1u << 16, err, sizeof(err)) == 0, "%s", err);
	for (uint32_t i = 0; i < N; i++)
		pshare_hint(&ps, (uint64_t)i * 0x9e3779b97f4a7c15ULL, i % 3, owner_of(i), i);
	ck_assert_uint_eq(ps.hints, N);
	/* Every other hint goes: backward-shift deletion must keep the rest reachable. */
	for (uint32_t i = 0; i < N; i += 2)
		pshare_unhint(&ps, (uint64_t)i * 0x9e3779b97f4a7c15ULL, i % 3, owner_of(i), i);
	/* A stale unhint (another page now) changes nothing. */
	pshare_unhint(&ps, 1 * 0x9e3779b97f4a7c15ULL, 1, owner_of(1), 12345);
	for (uint32_t i = 0; i < N; i++) {
		enum ps_kind k = pshare_lookup(&ps, (uint64_t)i * 0x9e3779b97f4a7c15ULL, i % 3, &owner, &v);
		if (i % 2 == 0) {
			ck_assert_int_eq(k, PS_NONE);
		} else {
			ck_assert_int_eq(k, PS_HINT);
			ck_assert_ptr_eq(owner, owner_of(i));
			ck_assert_uint_eq(v, i);
		}
	}
	/* The group is part of the key. */
	ck_assert_int_eq(pshare_lookup(&ps, 1 * 0x9e3779b97f4a7c15ULL, 2, &owner, &v), PS_NONE);

	/* A frame replaces the hint under its key, and lookups take references. */
	memset(page, 7, sizeof(page));
	f = pshare_make(&ps, 3 * 0x9e3779b97f4a7c15ULL, 0, page, 2);
	ck_assert_uint_ne(f, SLOT_NONE);
	ck_assert_mem_eq(pshare_data(&ps, f), page, sizeof(page));
	ck_assert_int_eq(pshare_lookup(&ps, 3 * 0x9e3779b97f4a7c15ULL, 0, &owner, &v), PS_FRAME);
	ck_assert_uint_eq(v, f);
	ck_assert_uint_eq(pshare_refs(&ps, f), 3);
	/* A hint never displaces a frame. */
	pshare_hint(&ps, 3 * 0x9e3779b97f4a7c15ULL, 0, owner_of(0), 99);
	ck_assert_int_eq(pshare_lookup(&ps, 3 * 0x9e3779b97f4a7c15ULL, 0, &owner, &v), PS_FRAME);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pshare_put(&ps, f), 0);
	ck_assert_int_eq(pshare_put(&ps, f), 1); /* the last reference frees it */
	ck_assert_int_eq(pshare_lookup(&ps, 3 * 0x9e3779b97f4a7c15ULL, 0, &owner, &v), PS_NONE);

	/* A VM that goes takes its hints along, and only its own. */
	pshare_forget(&ps, owner_of(1));
	for (uint32_t i = 1; i < N; i += 2) {
		enum ps_kind k = pshare_lookup(&ps, (uint64_t)i * 0x9e3779b97f4a7c15ULL, i % 3, &owner, &v);
		ck_assert_int_eq(k, ((i & 3) == 1 || i == 3 ? PS_NONE : PS_HINT)); /* 3: the frame's, gone */
	}
	pshare_destroy(&ps);
}
END_TEST

/* ---- allocation between VMs ------------------------------------------------ */

START_TEST(idle_memory_costs_four_times_an_active_page)
{
	struct alloc_vm busy = { .shares = 1000, .active = 1.0 }, idle = { .shares = 1000, .active = 0.0 };

	/* tau = 0.75: k = 4, so an idle page costs four active ones. */
	ck_assert_double_eq_tol(alloc_ratio(&busy, 1000, 0.75), 1.0, 1e-9);
	ck_assert_double_eq_tol(alloc_ratio(&idle, 1000, 0.75), 0.25, 1e-9);
	idle.active = 0.5;  /* half active: 0.5 + 4 * 0.5 = 2.5 */
	ck_assert_double_eq_tol(alloc_ratio(&idle, 1000, 0.75), 0.4, 1e-9);
	/* No tax: shares per page alone. */
	ck_assert_double_eq_tol(alloc_ratio(&idle, 1000, 0.0), 1.0, 1e-9);
}
END_TEST

START_TEST(revocation_takes_from_the_idle_vm_first)
{
	struct alloc_vm v[2] = {
		{ .memsz = 1000, .consumed = 800, .shares = 1000, .active = 0.05, .balloon = 1 },
		{ .memsz = 1000, .consumed = 800, .shares = 1000, .active = 0.9, .balloon = 1 },
	};

	alloc_targets(v, 2, 1200, 0.75);
	ck_assert_uint_eq(v[0].target + v[1].target, 1200);
	ck_assert_uint_lt(v[0].target, v[1].target);
	ck_assert_uint_eq(v[1].target, 800);       /* the busy VM keeps all it uses */
	ck_assert_uint_eq(v[0].balloon_target, 400);
	ck_assert_uint_eq(v[1].balloon_target, 0);
	/* Plenty for both: no balloon. */
	alloc_targets(v, 2, 5000, 0.75);
	ck_assert_uint_eq(v[0].balloon_target + v[1].balloon_target, 0);
	/*
	 * Pages the host swapped are still the VM's: swapping 300 of the idle
	 * VM's 800 leaves its want and its balloon target where they were.
	 */
	v[0].consumed = 500;
	v[0].reclaimed = 300;
	alloc_targets(v, 2, 1200, 0.75);
	ck_assert_uint_eq(v[0].target, 400);
	ck_assert_uint_eq(v[0].balloon_target, 400);
}
END_TEST

START_TEST(shares_set_the_split_and_reservations_and_limits_hold)
{
	struct alloc_vm v[2] = {
		{ .memsz = 1000, .consumed = 1000, .shares = 2000, .active = 1.0, .balloon = 1 },
		{ .memsz = 1000, .consumed = 1000, .shares = 1000, .active = 1.0, .balloon = 1 },
	};

	/* Equal activity, shares 2:1: the targets split about 2:1. */
	alloc_targets(v, 2, 1200, 0.75);
	ck_assert_uint_eq(v[0].target + v[1].target, 1200);
	ck_assert_uint_ge(v[0].target, 780);
	ck_assert_uint_le(v[0].target, 820);
	/* A reservation is never taken. */
	v[1].reservation = 600;
	alloc_targets(v, 2, 1200, 0.75);
	ck_assert_uint_ge(v[1].target, 600);
	ck_assert_uint_eq(v[0].target, 600);
	/* Less than the reservations: they hold anyway (the host swaps instead). */
	alloc_targets(v, 2, 100, 0.75);
	ck_assert_uint_eq(v[1].target, 600);
	ck_assert_uint_eq(v[0].target, 0);
	/* A limit caps a VM even with memory to spare, and its balloon takes the rest. */
	v[1].reservation = 0;
	v[0].limit = 300;
	alloc_targets(v, 2, 5000, 0.75);
	ck_assert_uint_eq(v[0].target, 300);
	ck_assert_uint_eq(v[0].balloon_target, 700);
	/* Without a balloon, no balloon target. */
	v[0].balloon = 0;
	alloc_targets(v, 2, 5000, 0.75);
	ck_assert_uint_eq(v[0].balloon_target, 0);
}
END_TEST

START_TEST(memory_states_call_for_the_seeds_table_3)
{
	ck_assert_uint_eq(memstate_actions(MEM_HIGH), ACT_SHARE);
	ck_assert_uint_eq(memstate_actions(MEM_SOFT), ACT_SHARE | ACT_BALLOON);
	ck_assert_uint_eq(memstate_actions(MEM_HARD), ACT_SHARE | ACT_BALLOON | ACT_COMPRESS | ACT_SWAP);
	ck_assert_uint_eq(memstate_actions(MEM_LOW),
			  ACT_SHARE | ACT_BALLOON | ACT_COMPRESS | ACT_SWAP | ACT_BLOCK);
}
END_TEST

static void fill_page(uint8_t *p, uint32_t seed)
{
	for (unsigned i = 0; i < 4096; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

START_TEST(swapcrypt_round_trips_and_refuses_what_changed)
{
	char err[128];
	struct swapcrypt *sc = swapcrypt_new(5000, err, sizeof(err));
	static uint8_t plain[4096], sealed[3][4096], buf[3 * 4096];
	struct swapcrypt_seal seal[3];

	ck_assert_ptr_nonnull(sc);
	fill_page(plain, 1);
	/* Slots 4095-4097 straddle two of the seal tables. */
	for (int i = 0; i < 3; i++) {
		swapcrypt_seal(sc, 4095 + i, plain, sealed[i], &seal[i]);
		ck_assert_int_eq(swapcrypt_commit(sc, 4095 + i, &seal[i]), 0);
		ck_assert_int_ne(memcmp(sealed[i], plain, 4096), 0);
	}
	/* The same page sealed twice is two different ciphertexts (fresh nonces). */
	ck_assert_int_ne(memcmp(sealed[0], sealed[1], 4096), 0);
	for (int i = 0; i < 3; i++)
		memcpy(buf + i * 4096, sealed[i], 4096);
	ck_assert_int_eq(swapcrypt_open(sc, 4095, 3, buf), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(memcmp(buf + i * 4096, plain, 4096), 0);

	/* One flipped bit: refused, and the page is zeroed rather than passed on. */
	memcpy(buf, sealed[1], 4096);
	buf[2000] ^= 1;
	ck_assert_int_eq(swapcrypt_open(sc, 4096, 1, buf), -EBADMSG);
	for (int i = 0; i < 4096; i++)
		ck_assert_uint_eq(buf[i], 0);
	/* A page moved to another slot, and a slot never written: refused. */
	memcpy(buf, sealed[1], 4096);
	ck_assert_int_eq(swapcrypt_open(sc, 4097, 1, buf), -EBADMSG);
	memcpy(buf, sealed[1], 4096);
	ck_assert_int_eq(swapcrypt_open(sc, 7, 1, buf), -EBADMSG);
	/* An old copy of a slot since rewritten: refused (its nonce is gone). */
	swapcrypt_seal(sc, 4096, plain, sealed[2], &seal[2]);
	ck_assert_int_eq(swapcrypt_commit(sc, 4096, &seal[2]), 0);
	memcpy(buf, sealed[1], 4096);
	ck_assert_int_eq(swapcrypt_open(sc, 4096, 1, buf), -EBADMSG);
	/* Past the table: refused, never read beyond it. */
	ck_assert_int_eq(swapcrypt_commit(sc, 9000, &seal[0]), -EINVAL);
	ck_assert_int_eq(swapcrypt_open(sc, 9000, 1, buf), -EBADMSG);
	swapcrypt_free(sc);
}
END_TEST

/* Through the swap file: pages on disk are not the guest's bytes, and come back whole. */
START_TEST(encrypted_swapfile_keeps_no_plaintext)
{
	char dir[] = "/tmp/memvisor-unit-XXXXXX", err[256];
	struct swapfile *sf;
	struct swap_write w[8];
	uint8_t *pages = aligned_alloc(4096, 8 * 4096), *back = aligned_alloc(4096, 8 * 4096);
	static uint8_t raw[8 * 4096];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	sf = swapfile_open(dir, "unit", 64, SWAPFILE_ENCRYPT, err, sizeof(err));
	ck_assert_msg(sf != NULL, "%s", err);
	ck_assert_int_eq(swapfile_encrypted(sf), 1);
	for (int i = 0; i < 8; i++) {
		fill_page(pages + i * 4096, (uint32_t)i);
		w[i] = (struct swap_write){ .slot = slots_alloc(swapfile_slots(sf)), .buf = pages + i * 4096 };
	}
	ck_assert_int_eq(swapfile_write_batch(sf, w, 8), 0);
	for (int i = 0; i < 8; i++)
		fill_page(back + i * 4096, (uint32_t)i);   /* the caller's pages stay plain */
	ck_assert_int_eq(memcmp(back, pages, 8 * 4096), 0);
	fd = open(swapfile_path(sf), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, raw, sizeof(raw), 0), (ssize_t)sizeof(raw));
	close(fd);
	for (int i = 0; i < 8; i++)
		ck_assert_int_ne(memcmp(raw + i * 4096, pages + i * 4096, 4096), 0);
	memset(back, 0, 8 * 4096);
	ck_assert_int_eq(swapfile_read(sf, w[0].slot, 8, back), 0);
	ck_assert_int_eq(memcmp(back, pages, 8 * 4096), 0);
	memset(back, 0, 8 * 4096);
	ck_assert_int_eq(swapfile_read_start(sf, w[2].slot, 4, back), 0);
	ck_assert_int_eq(swapfile_read_finish(sf), 0);
	ck_assert_int_eq(memcmp(back, pages + 2 * 4096, 4 * 4096), 0);
	swapfile_close(sf);
	ck_assert_int_eq(rmdir(dir), 0);   /* the file went with close */
	free(pages);
	free(back);
}
END_TEST

static Suite *mm_suite(void)
{
	Suite *s = suite_create("mm");
	TCase *tc = tcase_create("memstate");

	tcase_add_test(tc, histogram_buckets_tile_and_stay_narrow);
	tcase_add_test(tc, min_free_sliding_scale);
	tcase_add_test(tc, thresholds_are_esx_fractions);
	tcase_add_test(tc, falls_and_climbs_with_hysteresis);
	tcase_add_test(tc, no_flapping_on_noise);
	tcase_add_test(tc, fault_polling_adapts_as_halt_polling_does);
	suite_add_tcase(s, tc);

	tc = tcase_create("slots");
	tcase_add_test(tc, slots_are_consecutive_and_unique);
	tcase_add_test(tc, slots_release_and_reuse);
	tcase_add_test(tc, slots_random_against_model);
	suite_add_tcase(s, tc);

	tc = tcase_create("compression");
	tcase_add_test(tc, zip_round_trips_and_refuses_what_does_not_fit);
	tcase_add_test(tc, zip_same_filled_pages);
	tcase_add_test(tc, zpool_packs_by_class_and_frees_whole_chunks);
	tcase_add_test(tc, zpool_stops_at_its_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("allocation");
	tcase_add_test(tc, idle_memory_costs_four_times_an_active_page);
	tcase_add_test(tc, revocation_takes_from_the_idle_vm_first);
	tcase_add_test(tc, shares_set_the_split_and_reservations_and_limits_hold);
	tcase_add_test(tc, memory_states_call_for_the_seeds_table_3);
	suite_add_tcase(s, tc);

	tc = tcase_create("swap encryption");
	tcase_add_test(tc, swapcrypt_round_trips_and_refuses_what_changed);
	tcase_add_test(tc, encrypted_swapfile_keeps_no_plaintext);
	suite_add_tcase(s, tc);

	tc = tcase_create("sharing");
	tcase_add_test(tc, pshare_table_finds_frames_and_hints_by_hash_and_group);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mm_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
