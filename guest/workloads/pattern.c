#include "pattern.h"

const char *const pattern_names[] = { "random", "zero", "text", 0 };

static const char *const words[32] = {
	"the", "memory", "of", "a", "virtual", "machine", "is", "shared",
	"page", "and", "host", "guest", "balloon", "swap", "to", "in",
	"compressed", "working", "set", "idle", "tax", "with", "reclaim", "for",
	"state", "free", "high", "soft", "hard", "low", "kernel", "data",
};

static uint64_t mix(uint64_t index, uint64_t seed)
{
	/* splitmix64 finaliser: neighbouring indexes get unrelated streams. */
	uint64_t z = index * 0x9e3779b97f4a7c15ull + seed + 0x632be59bd9b4e019ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void fill_text(char *b, uint64_t state)
{
	unsigned pos = 0, col = 0;

	while (pos < PAGE_BYTES) {
		uint64_t r = xorshift(&state);
		const char *w = words[r & 31];

		for (; *w && pos < PAGE_BYTES; w++, pos++, col++)
			b[pos] = *w;
		if (pos < PAGE_BYTES) {
			b[pos++] = col > 60 ? '\n' : ' ';
			col = col > 60 ? 0 : col + 1;
		}
	}
}

void pattern_fill(void *page, enum pattern p, uint64_t index, uint64_t seed)
{
	uint64_t *w = page;
	uint64_t state = mix(index, seed);

	switch (p) {
	case PAT_RANDOM:
		for (unsigned i = 0; i < PAGE_BYTES / 8; i++)
			w[i] = xorshift(&state);
		break;
	case PAT_ZERO:
		for (unsigned i = 0; i < PAGE_BYTES / 8; i++)
			w[i] = 0;
		break;
	case PAT_TEXT:
		fill_text(page, state);
		break;
	}
}

void pattern_stamp(void *page, uint64_t index, uint64_t seed)
{
	uint64_t *w = page;

	w[0] = index;
	w[1] = seed;
}

int64_t pattern_check(const void *page, enum pattern p, uint64_t index, uint64_t seed, int stamped,
		      uint64_t *want, uint64_t *got)
{
	uint64_t expect[PAGE_BYTES / 8];
	const uint64_t *w = page;

	pattern_fill(expect, p, index, seed);
	if (stamped)
		pattern_stamp(expect, index, seed);
	for (unsigned i = 0; i < PAGE_BYTES / 8; i++) {
		if (w[i] != expect[i]) {
			*want = expect[i];
			*got = w[i];
			return (int64_t)i * 8;
		}
	}
	return -1;
}
