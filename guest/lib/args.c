#include "args.h"

#include "fmt.h"

int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int args_split(struct args *a, char *line)
{
	char *p = line;

	a->n = 0;
	a->err[0] = '\0';
	for (;;) {
		char *tok;

		while (is_space(*p))
			p++;
		if (!*p)
			return 0;
		tok = p;
		while (*p && !is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
		if (a->n == ARGS_MAX) {
			fmt_format(a->err, sizeof(a->err), "more than %u arguments", ARGS_MAX);
			return -1;
		}
		a->v[a->n].key = tok;
		a->v[a->n].val = 0;
		a->v[a->n].taken = 0;
		for (char *q = tok; *q; q++) {
			if (*q == '=') {
				*q = '\0';
				a->v[a->n].val = q + 1;
				break;
			}
		}
		if (!a->v[a->n].val || !tok[0]) {
			fmt_format(a->err, sizeof(a->err), "argument '%s' is not key=value", tok);
			return -1;
		}
		a->n++;
	}
}

const char *args_take(struct args *a, const char *key)
{
	const char *val = 0;

	/* The last occurrence wins, as on most command lines. */
	for (unsigned i = 0; i < a->n; i++) {
		if (str_eq(a->v[i].key, key)) {
			a->v[i].taken = 1;
			val = a->v[i].val;
		}
	}
	return val;
}

int parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d;
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char digits[24];
	unsigned n = 0, shift = 0;
	uint64_t v;

	while (s[n] >= '0' && s[n] <= '9') {
		if (n + 1 >= sizeof(digits))
			return -1;
		digits[n] = s[n];
		n++;
	}
	digits[n] = '\0';
	switch (s[n]) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -1;
	}
	if (s[n] && s[n + 1])
		return -1;
	if (parse_uint(digits, &v) || v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int args_size(struct args *a, const char *key, uint64_t def, uint64_t *out)
{
	const char *v = args_take(a, key);

	*out = def;
	if (!v)
		return 0;
	if (parse_size(v, out)) {
		fmt_format(a->err, sizeof(a->err), "bad size '%s' for %s (use bytes or a K/M/G suffix)", v, key);
		return -1;
	}
	return 0;
}

int args_uint(struct args *a, const char *key, uint64_t def, uint64_t *out)
{
	const char *v = args_take(a, key);

	*out = def;
	if (!v)
		return 0;
	if (parse_uint(v, out)) {
		fmt_format(a->err, sizeof(a->err), "bad number '%s' for %s", v, key);
		return -1;
	}
	return 0;
}

int args_choice(struct args *a, const char *key, const char *const *choices, unsigned def, unsigned *out)
{
	const char *v = args_take(a, key);

	*out = def;
	if (!v)
		return 0;
	for (unsigned i = 0; choices[i]; i++) {
		if (str_eq(choices[i], v)) {
			*out = i;
			return 0;
		}
	}
	fmt_format(a->err, sizeof(a->err), "bad value '%s' for %s", v, key);
	return -1;
}

int args_all_taken(struct args *a, const char *workload, const char *known)
{
	for (unsigned i = 0; i < a->n; i++) {
		if (!a->v[i].taken) {
			fmt_format(a->err, sizeof(a->err), "unknown option '%s' for workload %s (known: %s)",
				   a->v[i].key, workload, known);
			return -1;
		}
	}
	return 0;
}
