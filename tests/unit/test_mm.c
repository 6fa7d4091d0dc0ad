/*
 * Unit tests for mm/, the memory manager library: no KVM involved.
 */
#include "../../mm/memstate.h"

#include <check.h>
#include <stdlib.h>

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

static Suite *mm_suite(void)
{
	Suite *s = suite_create("mm");
	TCase *tc = tcase_create("memstate");

	tcase_add_test(tc, min_free_sliding_scale);
	tcase_add_test(tc, thresholds_are_esx_fractions);
	tcase_add_test(tc, falls_and_climbs_with_hysteresis);
	tcase_add_test(tc, no_flapping_on_noise);
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
