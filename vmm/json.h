/*
 * Just enough JSON for the control socket: one flat object per request,
 * {"key": value, ...} with string, number, true, false or null values,
 * and string escaping for replies.  Anything else (nesting, arrays, bad
 * escapes, duplicate keys, trailing bytes) is refused with a reason.
 */
#ifndef MEMVISOR_VMM_JSON_H
#define MEMVISOR_VMM_JSON_H

#include <stdio.h>

#define JSON_MAX_KEYS  16
#define JSON_MAX_KEY   32
#define JSON_MAX_VALUE 256

struct json_obj {
	unsigned n;
	char key[JSON_MAX_KEYS][JSON_MAX_KEY];
	char val[JSON_MAX_KEYS][JSON_MAX_VALUE];   /* strings unescaped; numbers and literals as written */
	int is_str[JSON_MAX_KEYS];
};

/* Parse text[0..len) as one flat object: 0, or -1 with the reason in err. */
int json_parse_object(const char *text, size_t len, struct json_obj *o, char *err, size_t errlen);

/* The value of key, or NULL.  *is_str says whether it was a JSON string. */
const char *json_get(const struct json_obj *o, const char *key, int *is_str);

/* s as a JSON string, quotes included. */
void json_put_string(FILE *f, const char *s);

#endif
