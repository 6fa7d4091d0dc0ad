#include "json.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

struct in {
	const char *p, *end;
	char *err;
	size_t errlen;
};

static int fail(struct in *in, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in->err, in->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void skip_ws(struct in *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\r' || *in->p == '\n'))
		in->p++;
}

static int hex4(struct in *in, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++, in->p++) {
		char c;

		if (in->p >= in->end)
			return fail(in, "a \\u escape is cut short");
		c = *in->p;
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return fail(in, "a \\u escape has a non-hex digit");
	}
	return 0;
}

/* A string at in->p (after its opening quote) into out[cap]. */
static int string(struct in *in, char *out, size_t cap, const char *what)
{
	size_t n = 0;

	for (;;) {
		char c;

		if (in->p >= in->end)
			return fail(in, "a %s string has no closing quote", what);
		c = *in->p++;
		if (c == '"')
			break;
		if ((unsigned char)c < 0x20)
			return fail(in, "a control character inside a %s string", what);
		if (c == '\\') {
			if (in->p >= in->end)
				return fail(in, "a %s string ends in a backslash", what);
			c = *in->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned v;

				if (hex4(in, &v))
					return -1;
				/* Names and sizes are ASCII: anything else is refused, not mangled. */
				if (v == 0 || v > 0x7f)
					return fail(in, "only ASCII \\u escapes (1-7f) are taken");
				c = (char)v;
				break;
			}
			default:
				return fail(in, "a bad escape \\%c in a %s string", c, what);
			}
		}
		if (n + 1 >= cap)
			return fail(in, "a %s string is longer than %zu bytes", what, cap - 1);
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/* A number or literal: the bytes as written. */
static int scalar(struct in *in, char *out, size_t cap)
{
	size_t n = 0;

	while (in->p < in->end && (strchr("+-.eE", *in->p) || (*in->p >= '0' && *in->p <= '9') ||
				  (*in->p >= 'a' && *in->p <= 'z'))) {
		if (n + 1 >= cap)
			return fail(in, "a value is longer than %zu bytes", cap - 1);
		out[n++] = *in->p++;
	}
	out[n] = '\0';
	if (!n)
		return fail(in, "a value must be a string, a number, true, false or null (no objects or arrays)");
	if (((out[0] >= 'a' && out[0] <= 'z') && strcmp(out, "true") && strcmp(out, "false") && strcmp(out, "null")))
		return fail(in, "'%s' is not a JSON value", out);
	return 0;
}

int json_parse_object(const char *text, size_t len, struct json_obj *o, char *err, size_t errlen)
{
	struct in in = { text, text + len, err, errlen };

	memset(o, 0, sizeof(*o));
	skip_ws(&in);
	if (in.p >= in.end || *in.p++ != '{')
		return fail(&in, "a request is one JSON object on one line");
	skip_ws(&in);
	if (in.p < in.end && *in.p == '}') {
		in.p++;
	} else {
		for (;;) {
			unsigned i = o->n;

			skip_ws(&in);
			if (in.p >= in.end || *in.p++ != '"')
				return fail(&in, "expected a quoted key");
			if (i == JSON_MAX_KEYS)
				return fail(&in, "more than %d keys", JSON_MAX_KEYS);
			if (string(&in, o->key[i], JSON_MAX_KEY, "key"))
				return -1;
			for (unsigned j = 0; j < i; j++)
				if (!strcmp(o->key[j], o->key[i]))
					return fail(&in, "key '%s' given twice", o->key[i]);
			skip_ws(&in);
			if (in.p >= in.end || *in.p++ != ':')
				return fail(&in, "expected ':' after key '%s'", o->key[i]);
			skip_ws(&in);
			if (in.p < in.end && *in.p == '"') {
				in.p++;
				if (string(&in, o->val[i], JSON_MAX_VALUE, "value"))
					return -1;
				o->is_str[i] = 1;
			} else if (scalar(&in, o->val[i], JSON_MAX_VALUE)) {
				return -1;
			}
			o->n++;
			skip_ws(&in);
			if (in.p < in.end && *in.p == ',') {
				in.p++;
				continue;
			}
			if (in.p < in.end && *in.p == '}') {
				in.p++;
				break;
			}
			return fail(&in, "expected ',' or '}' after the value of '%s'", o->key[i]);
		}
	}
	skip_ws(&in);
	if (in.p != in.end)
		return fail(&in, "bytes after the object");
	return 0;
}

const char *json_get(const struct json_obj *o, const char *key, int *is_str)
{
	for (unsigned i = 0; i < o->n; i++)
		if (!strcmp(o->key[i], key)) {
			if (is_str)
				*is_str = o->is_str[i];
			return o->val[i];
		}
	return NULL;
}

/* Length of the well-formed UTF-8 sequence at s (2-4 bytes), or 0. */
static unsigned utf8_len(const unsigned char *s)
{
	unsigned n = s[0] >= 0xf5 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	uint32_t cp;

	if (!n)
		return 0;
	for (unsigned i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	cp = n == 2 ? (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu)
	   : n == 3 ? (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu)
		    : (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Replies echo what a client sent: bytes that are not UTF-8 become U+FFFD, so a reply is always JSON. */
void json_put_string(FILE *f, const char *s)
{
	fputc('"', f);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		unsigned n;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else if (c < 0x80)
			fputc(c, f);
		else if ((n = utf8_len((const unsigned char *)s))) {
			fwrite(s, 1, n, f);
			s += n;
			continue;
		} else
			fputs("\\ufffd", f);
		s++;
	}
	fputc('"', f);
}
