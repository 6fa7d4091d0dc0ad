/*
 * Unit tests for mm/, the memory manager library: no KVM involved.
 */
#include "../../mm/memstate.h"
#include "../../mm/slots.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

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

static Suite *mm_suite(void)
{
	Suite *s = suite_create("mm");
	TCase *tc = tcase_create("memstate");

	tcase_add_test(tc, min_free_sliding_scale);
	tcase_add_test(tc, thresholds_are_esx_fractions);
	tcase_add_test(tc, falls_and_climbs_with_hysteresis);
	tcase_add_test(tc, no_flapping_on_noise);
	suite_add_tcase(s, tc);

	tc = tcase_create("slots");
	tcase_add_test(tc, slots_are_consecutive_and_unique);
	tcase_add_test(tc, slots_release_and_reuse);
	tcase_add_test(tc, slots_random_against_model);
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
