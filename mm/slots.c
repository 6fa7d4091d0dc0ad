#include "slots.h"

#include <stdlib.h>
#include <string.h>

static size_t words(uint32_t n)
{
	return ((size_t)n + 63) / 64;
}

int slots_init(struct slots *s, uint32_t initial, uint32_t limit)
{
	memset(s, 0, sizeof(*s));
	if (initial > limit)
		initial = limit;
	if (initial < 64)
		initial = 64;
	s->bits = calloc(words(initial), sizeof(uint64_t));
	if (!s->bits)
		return -1;
	s->capacity = (uint32_t)(words(initial) * 64);
	s->limit = limit;
	return 0;
}

void slots_free_all(struct slots *s)
{
	free(s->bits);
	memset(s, 0, sizeof(*s));
}

static int grow(struct slots *s)
{
	uint64_t want = (uint64_t)s->capacity * 2;
	size_t old = words(s->capacity), nw;
	uint64_t *b;

	if (s->capacity >= s->limit)
		return -1;
	if (want > s->limit)
		want = s->limit;
	nw = words((uint32_t)want);
	b = realloc(s->bits, nw * sizeof(uint64_t));
	if (!b)
		return -1;
	memset(b + old, 0, (nw - old) * sizeof(uint64_t));
	s->bits = b;
	s->capacity = (uint32_t)(nw * 64);
	return 0;
}

/* First clear bit at or after `from` below `end`, or SLOT_NONE. */
static uint32_t find_clear(const struct slots *s, uint32_t from, uint32_t end)
{
	for (uint32_t w = from / 64; (uint64_t)w * 64 < end; w++) {
		uint64_t free_bits = ~s->bits[w];
		if (w == from / 64)
			free_bits &= ~0ULL << (from % 64);
		if (free_bits) {
			uint32_t slot = w * 64 + (uint32_t)__builtin_ctzll(free_bits);
			return slot < end ? slot : SLOT_NONE;
		}
	}
	return SLOT_NONE;
}

uint32_t slots_alloc(struct slots *s)
{
	uint32_t end, slot;

	for (;;) {
		end = s->capacity < s->limit ? s->capacity : s->limit;
		slot = find_clear(s, s->cursor < end ? s->cursor : 0, end);
		if (slot == SLOT_NONE && s->cursor)
			slot = find_clear(s, 0, end);
		if (slot != SLOT_NONE)
			break;
		if (grow(s))
			return SLOT_NONE;
	}
	s->bits[slot / 64] |= 1ULL << (slot % 64);
	s->used++;
	s->cursor = slot + 1;
	if (slot + 1 > s->high_water)
		s->high_water = slot + 1;
	return slot;
}

int slots_release(struct slots *s, uint32_t slot)
{
	if (!slots_in_use(s, slot))
		return -1;
	s->bits[slot / 64] &= ~(1ULL << (slot % 64));
	s->used--;
	return 0;
}

int slots_in_use(const struct slots *s, uint32_t slot)
{
	return slot < s->capacity && (s->bits[slot / 64] >> (slot % 64)) & 1;
}
