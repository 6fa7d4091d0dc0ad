/*
 * Unit tests for the pure parts of the test guest, built for the host:
 * argument parsing, the formatter, the page allocator, the page cache
 * and the page patterns that verify depends on.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/kernel/kernel.h"
#include "guest/lib/args.h"
#include "guest/lib/fmt.h"
#include "guest/workloads/pattern.h"

START_TEST(sizes_parse)
{
	uint64_t v;

	ck_assert_int_eq(parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(parse_size("16M", &v), 0);
	ck_assert_uint_eq(v, 16ull << 20);
	ck_assert_int_eq(parse_size("2g", &v), 0);
	ck_assert_uint_eq(v, 2ull << 30);
	ck_assert_int_eq(parse_size("64k", &v), 0);
	ck_assert_uint_eq(v, 64ull << 10);
	ck_assert_int_eq(parse_size("", &v), -1);
	ck_assert_int_eq(parse_size("M", &v), -1);
	ck_assert_int_eq(parse_size("12Q", &v), -1);
	ck_assert_int_eq(parse_size("1MB", &v), -1);
	ck_assert_int_eq(parse_size("-1M", &v), -1);
	ck_assert_int_eq(parse_size("99999999999999999999", &v), -1);
	ck_assert_int_eq(parse_size("17179869184G", &v), -1); /* 2^64 bytes */
}
END_TEST

START_TEST(args_split_and_take)
{
	struct args a;
	char line[] = "workload=memstress  size=32M ws=16M\tpattern=text size=64M";
	uint64_t v;
	unsigned c;

	ck_assert_int_eq(args_split(&a, line), 0);
	ck_assert_uint_eq(a.n, 5);
	ck_assert_str_eq(args_take(&a, "workload"), "memstress");
	ck_assert_int_eq(args_size(&a, "size", 0, &v), 0);
	ck_assert_uint_eq(v, 64ull << 20); /* the last one wins */
	ck_assert_int_eq(args_all_taken(&a, "memstress", "size"), -1);
	ck_assert_msg(strstr(a.err, "'ws'") != NULL, "%s", a.err);
	ck_assert_int_eq(args_size(&a, "ws", 0, &v), 0);
	ck_assert_int_eq(args_choice(&a, "pattern", pattern_names, 0, &c), 0);
	ck_assert_uint_eq(c, PAT_TEXT);
	ck_assert_int_eq(args_all_taken(&a, "memstress", "size ws pattern"), 0);
	ck_assert_int_eq(args_uint(&a, "passes", 7, &v), 0);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(args_reject_bad_input)
{
	struct args a;
	char bare[] = "workload=touch size";
	char bad[] = "passes=3x pattern=purple";
	char many[40 * 4 + 1];
	uint64_t v;
	unsigned c;

	ck_assert_int_eq(args_split(&a, bare), -1);
	ck_assert_msg(strstr(a.err, "'size'") != NULL, "%s", a.err);
	ck_assert_int_eq(args_split(&a, bad), 0);
	ck_assert_int_eq(args_uint(&a, "passes", 1, &v), -1);
	ck_assert_int_eq(args_choice(&a, "pattern", pattern_names, 0, &c), -1);
	ck_assert_msg(strstr(a.err, "purple") != NULL, "%s", a.err);
	for (unsigned i = 0; i < 40; i++)
		memcpy(many + i * 4, "a=1 ", 4);
	many[sizeof(many) - 1] = '\0';
	ck_assert_int_eq(args_split(&a, many), -1);
}
END_TEST

START_TEST(fmt_formats)
{
	char b[64];

	fmt_format(b, sizeof(b), "%s=%d %u %lu %x %05d %-4s|%c %%", "k", -42, 7u, (unsigned long)1 << 40,
		   255u, -3, "ab", 'z');
	ck_assert_str_eq(b, "k=-42 7 1099511627776 ff -0003 ab  |z %");
	/* Truncation keeps the NUL and reports what was kept. */
	ck_assert_uint_eq(fmt_format(b, 8, "%s", "0123456789"), 7);
	ck_assert_str_eq(b, "0123456");
	fmt_format(b, sizeof(b), "%ld %lx", (long)INT64_MIN, (unsigned long)UINT64_MAX);
	ck_assert_str_eq(b, "-9223372036854775808 ffffffffffffffff");
}
END_TEST

#define P(n) ((uint64_t)(n) << 12)

START_TEST(palloc_allocates_and_merges)
{
	palloc_init(P(100), P(200));
	ck_assert_uint_eq(palloc_free_pages(), 100);
	ck_assert_uint_eq(palloc_alloc(10), P(100));
	ck_assert_uint_eq(palloc_alloc(10), P(110));
	ck_assert_uint_eq(palloc_alloc(90), 0);       /* only 80 left */
	ck_assert_uint_eq(palloc_alloc(0), 0);
	ck_assert_int_eq(palloc_free(P(100), 10), 0);  /* a hole before */
	ck_assert_uint_eq(palloc_alloc(5), P(100));   /* first fit */
	ck_assert_int_eq(palloc_free(P(110), 10), 0);  /* joins the tail */
	ck_assert_int_eq(palloc_free(P(100), 5), 0);   /* joins both */
	ck_assert_uint_eq(palloc_free_pages(), 100);
	ck_assert_uint_eq(palloc_alloc(100), P(100));  /* one extent again */
}
END_TEST

START_TEST(palloc_rejects_bad_frees)
{
	palloc_init(P(100), P(200));
	ck_assert_uint_eq(palloc_alloc(50), P(100));
	ck_assert_int_eq(palloc_free(P(100) + 1, 1), -1);      /* unaligned */
	ck_assert_int_eq(palloc_free(P(99), 1), -1);           /* below the pool */
	ck_assert_int_eq(palloc_free(P(199), 2), -1);          /* past it */
	ck_assert_int_eq(palloc_free(P(149), 2), -1);          /* overlaps free */
	ck_assert_int_eq(palloc_free(P(120), 0), -1);
	ck_assert_int_eq(palloc_free(UINT64_MAX & ~0xfffull, 4), -1); /* wraps */
	ck_assert_int_eq(palloc_free(P(120), 1), 0);
	ck_assert_int_eq(palloc_free(P(120), 1), -1);          /* double free */
	ck_assert_uint_eq(palloc_free_pages(), 51);
}
END_TEST

START_TEST(palloc_runs_out_of_extents_cleanly)
{
	unsigned freed = 0;

	palloc_init(P(0x1000), P(0x1000 + 4096));
	ck_assert_uint_eq(palloc_alloc(4096), P(0x1000));
	/* Every other page: each free is its own extent, until the array is full. */
	for (unsigned i = 0; i < 4096; i += 2)
		freed += palloc_free(P(0x1000 + i), 1) == 0;
	ck_assert_uint_gt(freed, 0);
	ck_assert_uint_lt(freed, 2048);
	ck_assert_uint_eq(palloc_free_pages(), freed);
}
END_TEST

START_TEST(pcache_drops_oldest_first)
{
	uint64_t a, b, c, r, x;

	palloc_init(P(0x100), P(0x100 + 100));
	a = pcache_add(30);
	x = palloc_alloc(30);
	b = pcache_add(30);
	ck_assert_uint_eq(a, P(0x100));
	ck_assert_uint_eq(b, P(0x100 + 60));
	ck_assert_int_eq(palloc_free(x, 30), 0);
	ck_assert_uint_eq(pcache_pages(), 60);
	ck_assert_int_eq(pcache_has(a, 30), 1);
	ck_assert_int_eq(pcache_has(a + P(0) + 29 * 4096, 2), 0);  /* straddles two extents */
	/* Free runs of 30 and 10: an allocation of 50 drops the oldest extent (next to the 30), and only it. */
	c = pcache_alloc(50);
	ck_assert_uint_ne(c, 0);
	ck_assert_int_eq(pcache_has(a, 30), 0);
	ck_assert_int_eq(pcache_has(b, 30), 1);
	ck_assert_uint_eq(pcache_pages(), 30);
	ck_assert_uint_eq(pcache_dropped(), 30);
	/* The balloon takes part of the oldest extent: gpa | (pages - 1). */
	r = pcache_take(8);
	ck_assert_uint_eq(r & ~0xfffull, b);
	ck_assert_uint_eq((r & 0xfff) + 1, 8);
	ck_assert_int_eq(pcache_has(b, 8), 0);
	ck_assert_int_eq(pcache_has(b + 8 * 4096, 22), 1);
	r = pcache_take(100);
	ck_assert_uint_eq((r & 0xfff) + 1, 22);
	ck_assert_uint_eq(pcache_pages(), 0);
	ck_assert_uint_eq(pcache_take(1), 0);                      /* nothing left */
	ck_assert_uint_eq(pcache_take(PCACHE_TAKE_MAX + 1), 0);    /* more than one answer can say */
	/* No cache, no room: the allocation fails rather than loop. */
	ck_assert_uint_eq(pcache_alloc(1000), 0);
}
END_TEST

START_TEST(patterns_regenerate_and_catch_changes)
{
	static uint8_t page[PAGE_BYTES] __attribute__((aligned(8)));
	uint64_t want, got;

	for (unsigned p = PAT_RANDOM; p <= PAT_TEXT; p++) {
		pattern_fill(page, p, 12345, 9);
		pattern_stamp(page, 12345, 9);
		ck_assert_int_eq(pattern_check(page, p, 12345, 9, 1, &want, &got), -1);
		ck_assert_int_ne(pattern_check(page, p, 12346, 9, 1, &want, &got), -1);
		ck_assert_int_ne(pattern_check(page, p, 12345, 8, 1, &want, &got), -1);
		page[4000] ^= 0x01;
		ck_assert_int_eq(pattern_check(page, p, 12345, 9, 1, &want, &got), 4000 & ~7);
		ck_assert_uint_ne(want, got);
	}
}
END_TEST

static Suite *guest_suite(void)
{
	Suite *s = suite_create("guest");
	TCase *t = tcase_create("pure");

	tcase_add_test(t, sizes_parse);
	tcase_add_test(t, args_split_and_take);
	tcase_add_test(t, args_reject_bad_input);
	tcase_add_test(t, fmt_formats);
	tcase_add_test(t, palloc_allocates_and_merges);
	tcase_add_test(t, palloc_rejects_bad_frees);
	tcase_add_test(t, palloc_runs_out_of_extents_cleanly);
	tcase_add_test(t, pcache_drops_oldest_first);
	tcase_add_test(t, patterns_regenerate_and_catch_changes);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(guest_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
