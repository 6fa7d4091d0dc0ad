/*
 * Workload arguments: the command line "workload=NAME key=value ..." split
 * in place into key/value pairs.  A workload takes the keys it knows; any
 * key left untaken is an error, so a typo never goes unnoticed.
 */
#ifndef MEMVISOR_GUEST_ARGS_H
#define MEMVISOR_GUEST_ARGS_H

#include <stdint.h>

#define ARGS_MAX 32
#define ARGS_ERR_MAX 200

struct arg {
	const char *key;
	const char *val;
	int taken;
};

struct args {
	unsigned n;
	struct arg v[ARGS_MAX];
	char err[ARGS_ERR_MAX];
};

/* Splits line (modified in place).  -1 with a->err set on bad syntax. */
int args_split(struct args *a, char *line);

/* The value of key, or NULL when absent; marks it taken. */
const char *args_take(struct args *a, const char *key);

/*
 * Typed getters: absent keys give def (and return 0); a malformed value
 * returns -1 with a->err naming the key and the value.
 */
int args_size(struct args *a, const char *key, uint64_t def, uint64_t *out);
int args_uint(struct args *a, const char *key, uint64_t def, uint64_t *out);
/* One of the NULL-terminated choices; *out is its index. */
int args_choice(struct args *a, const char *key, const char *const *choices, unsigned def, unsigned *out);

/* 0 if every key was taken, else -1 with a->err naming the first stray one. */
int args_all_taken(struct args *a, const char *workload, const char *known);

/* "16M", "1G", "4096", "64k": bytes.  -1 on garbage or overflow. */
int parse_size(const char *s, uint64_t *out);
int parse_uint(const char *s, uint64_t *out);

int str_eq(const char *a, const char *b);

#endif
