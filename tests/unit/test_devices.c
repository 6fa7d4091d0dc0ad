/*
 * Unit tests for the VMM's device models, on plain memory: the split
 * virtqueue, fed well-formed and hostile rings.
 */
#include "../../vmm/virtq.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

/* ---- a guest memory of 64 KiB ---------------------------------------------- */

#define RAM_SIZE 65536u
static uint8_t ram[RAM_SIZE];

static int ram_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	(void)ctx;
	if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
		return -1;
	memcpy(dst, ram + gpa, len);
	return 0;
}

static int ram_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	(void)ctx;
	if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
		return -1;
	memcpy(ram + gpa, src, len);
	return 0;
}

static const struct vq_mem mem = { NULL, RAM_SIZE, ram_read, ram_write };

/* The driver's side, as a test writes it: a queue of 8 at fixed places. */
#define QSIZE 8
#define DESC  0x1000u
#define AVAIL 0x2000u
#define USED  0x3000u

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + DESC + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Make chain `head` available as the n-th entry (n from 0). */
static void offer(uint16_t n, uint16_t head)
{
	uint16_t idx = (uint16_t)(n + 1);

	memcpy(ram + AVAIL + 4 + 2u * (n % QSIZE), &head, 2);
	memcpy(ram + AVAIL + 2, &idx, 2);
}

static struct virtq q;
static struct vq_chain c;
static struct vq_buf b[8];

static void fresh_queue(void)
{
	memset(ram, 0, sizeof(ram));
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, DESC, AVAIL, USED), 0);
}

static void pop_breaks(const char *why)
{
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), -1);
	ck_assert_int_eq(q.broken, 1);
	ck_assert_msg(strstr(q.why, why), "why: '%s', wanted '%s'", q.why, why);
	/* Broken stays broken. */
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), -1);
	ck_assert_int_eq(virtq_push(&q, &mem, 0, 0), -1);
}

START_TEST(virtq_setup_checks_the_layout)
{
	ck_assert_int_eq(virtq_setup(&q, &mem, 6, DESC, AVAIL, USED), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "power of 2"));
	ck_assert_int_eq(virtq_setup(&q, &mem, 0, DESC, AVAIL, USED), -1);
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, DESC + 8, AVAIL, USED), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "misaligned"));
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, DESC, AVAIL, RAM_SIZE - 8), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "outside guest RAM"));
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, UINT64_MAX - 15, AVAIL, USED), -1);
	ck_assert_int_eq(virtq_setup(&q, &mem, QSIZE, DESC, AVAIL, USED), 0);
}
END_TEST

START_TEST(virtq_takes_chains_and_gives_them_back)
{
	uint16_t used_idx;
	uint32_t id, len;

	fresh_queue();
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 0); /* empty */
	/* Chain 2 -> 5: 100 readable bytes, then 200 writable ones. */
	desc(2, 0x8000, 100, VIRTQ_DESC_F_NEXT, 5);
	desc(5, 0x9000, 200, VIRTQ_DESC_F_WRITE, 0);
	offer(0, 2);
	desc(7, 0xa000, 4096, 0, 0);
	offer(1, 7);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 1);
	ck_assert_uint_eq(c.head, 2);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_uint_eq(c.readable, 100);
	ck_assert_uint_eq(c.writable, 200);
	ck_assert_uint_eq(b[0].gpa, 0x8000);
	ck_assert_int_eq(b[0].write, 0);
	ck_assert_uint_eq(b[1].gpa, 0x9000);
	ck_assert_int_eq(b[1].write, 1);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 1);
	ck_assert_uint_eq(c.head, 7);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 0);
	ck_assert_int_eq(virtq_push(&q, &mem, 2, 150), 0);
	memcpy(&used_idx, ram + USED + 2, 2);
	memcpy(&id, ram + USED + 4, 4);
	memcpy(&len, ram + USED + 8, 4);
	ck_assert_uint_eq(used_idx, 1);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 150);
	/* The ring wraps: 20 more chains through a queue of 8. */
	for (uint16_t n = 2; n < 22; n++) {
		desc(n % QSIZE, 0x8000, 8, 0, 0);
		offer(n, n % QSIZE);
		ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 1 << 20), 1);
		ck_assert_uint_eq(c.head, n % QSIZE);
		ck_assert_int_eq(virtq_push(&q, &mem, c.head, 0), 0);
	}
	ck_assert_int_eq(q.broken, 0);
}
END_TEST

START_TEST(virtq_breaks_on_a_loop)
{
	fresh_queue();
	desc(0, 0x8000, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x8000, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0, 0);
	pop_breaks("loops");
}
END_TEST

START_TEST(virtq_breaks_on_a_self_loop)
{
	fresh_queue();
	desc(3, 0x8000, 8, VIRTQ_DESC_F_NEXT, 3);
	offer(0, 3);
	pop_breaks("loops");
}
END_TEST

START_TEST(virtq_breaks_on_buffers_outside_ram)
{
	fresh_queue();
	desc(0, RAM_SIZE - 4, 8, 0, 0);
	offer(0, 0);
	pop_breaks("outside guest RAM");
	fresh_queue();
	desc(0, UINT64_MAX - 3, 8, 0, 0); /* wraps around */
	offer(0, 0);
	pop_breaks("outside guest RAM");
}
END_TEST

START_TEST(virtq_breaks_on_a_huge_length)
{
	fresh_queue();
	desc(0, 0x8000, 0xffffffffu, 0, 0);
	offer(0, 0);
	pop_breaks("outside guest RAM");
	fresh_queue();
	desc(0, 0x8000, 0x1000, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x8000, 0x1000, 0, 0);
	offer(0, 0);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 8, 0x1800), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "longer than"));
}
END_TEST

START_TEST(virtq_breaks_on_bad_indexes)
{
	uint16_t idx = 9;

	fresh_queue();
	offer(0, 8); /* head outside a queue of 8 */
	pop_breaks("outside the queue");
	fresh_queue();
	desc(0, 0x8000, 8, VIRTQ_DESC_F_NEXT, 200);
	offer(0, 0);
	pop_breaks("next 200");
	fresh_queue();
	memcpy(ram + AVAIL + 2, &idx, 2); /* 9 available in a queue of 8 */
	pop_breaks("claims 9 buffers");
}
END_TEST

START_TEST(virtq_breaks_on_what_the_device_cannot_take)
{
	fresh_queue();
	desc(0, 0x8000, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x8000, 8, 0, 0);
	offer(0, 0);
	pop_breaks("readable buffer after a writable");
	fresh_queue();
	desc(0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
	pop_breaks("indirect");
	fresh_queue();
	for (uint16_t i = 0; i < 4; i++)
		desc(i, 0x8000, 8, i < 3 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0, 0);
	ck_assert_int_eq(virtq_pop(&q, &mem, &c, b, 3, 1 << 20), -1);
	ck_assert_ptr_nonnull(strstr(q.why, "more than 3 buffers"));
}
END_TEST

static Suite *devices_suite(void)
{
	Suite *s = suite_create("devices");
	TCase *tc = tcase_create("virtq");

	tcase_add_test(tc, virtq_setup_checks_the_layout);
	tcase_add_test(tc, virtq_takes_chains_and_gives_them_back);
	tcase_add_test(tc, virtq_breaks_on_a_loop);
	tcase_add_test(tc, virtq_breaks_on_a_self_loop);
	tcase_add_test(tc, virtq_breaks_on_buffers_outside_ram);
	tcase_add_test(tc, virtq_breaks_on_a_huge_length);
	tcase_add_test(tc, virtq_breaks_on_bad_indexes);
	tcase_add_test(tc, virtq_breaks_on_what_the_device_cannot_take);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(devices_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
