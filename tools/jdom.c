#include "jdom.h"

#include <stdlib.h>
#include <string.h>

struct in {
	const char *p;
	int depth;
};

static void ws(struct in *in)
{
	while (*in->p == ' ' || *in->p == '\t' || *in->p == '\r' || *in->p == '\n')
		in->p++;
}

static int value(struct in *in, struct jval *v);

static char *string(struct in *in)
{
	size_t cap = 16, n = 0;
	char *s = malloc(cap);

	if (!s || *in->p++ != '"') {
		free(s);
		return NULL;
	}
	for (;;) {
		char c = *in->p++;

		if (!c)
			goto bad;
		if (c == '"')
			break;
		if (c == '\\') {
			c = *in->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned v = 0;

				for (int i = 0; i < 4; i++) {
					char h = *in->p++;
					v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 :
							      h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
					if (!h)
						goto bad;
				}
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			case '"': case '\\': case '/': break;
			default: goto bad;
			}
		}
		if (n + 2 > cap) {
			char *t = realloc(s, cap *= 2);
			if (!t)
				goto bad;
			s = t;
		}
		s[n++] = c;
	}
	s[n] = '\0';
	return s;
bad:
	free(s);
	return NULL;
}

static int push(struct jval *v, char *key, struct jval *item)
{
	struct jval *items = realloc(v->items, (v->n + 1) * sizeof(*items));

	if (!items)
		return -1;
	v->items = items;
	if (v->type == J_OBJ) {
		char **keys = realloc(v->keys, (v->n + 1) * sizeof(*keys));
		if (!keys)
			return -1;
		v->keys = keys;
		v->keys[v->n] = key;
	}
	v->items[v->n++] = *item;
	return 0;
}

static int container(struct in *in, struct jval *v, char close)
{
	in->p++;
	ws(in);
	if (*in->p == close) {
		in->p++;
		return 0;
	}
	for (;;) {
		struct jval item = { 0 };
		char *key = NULL;

		ws(in);
		if (close == '}') {
			if (!(key = string(in)))
				return -1;
			ws(in);
			if (*in->p++ != ':') {
				free(key);
				return -1;
			}
		}
		if (value(in, &item) || push(v, key, &item)) {
			free(key);
			jdom_free(&item);
			return -1;
		}
		ws(in);
		if (*in->p == ',') {
			in->p++;
			continue;
		}
		if (*in->p++ == close)
			return 0;
		return -1;
	}
}

static int scalar_or_container(struct in *in, struct jval *v)
{
	char *end;

	switch (*in->p) {
	case '{':
		v->type = J_OBJ;
		return container(in, v, '}');
	case '[':
		v->type = J_ARR;
		return container(in, v, ']');
	case '"':
		v->type = J_STR;
		return (v->str = string(in)) ? 0 : -1;
	default:
		break;
	}
	if (!strncmp(in->p, "true", 4) || !strncmp(in->p, "false", 5)) {
		v->type = J_BOOL;
		v->num = *in->p == 't';
		in->p += *in->p == 't' ? 4 : 5;
		return 0;
	}
	if (!strncmp(in->p, "null", 4)) {
		in->p += 4;
		return 0;
	}
	v->type = J_NUM;
	v->num = strtod(in->p, &end);
	if (end == in->p)
		return -1;
	in->p = end;
	return 0;
}

/* Nesting is bounded, so a hostile reply cannot exhaust the stack. */
static int value(struct in *in, struct jval *v)
{
	int rc;

	ws(in);
	memset(v, 0, sizeof(*v));
	if (++in->depth > 32)
		return -1;
	rc = scalar_or_container(in, v);
	in->depth--;
	return rc;
}

struct jval *jdom_parse(const char *text)
{
	struct in in = { text, 0 };
	struct jval *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	if (value(&in, v)) {
		jdom_free(v);
		free(v);
		return NULL;
	}
	ws(&in);
	if (*in.p) {
		jdom_free(v);
		free(v);
		return NULL;
	}
	return v;
}

void jdom_free(struct jval *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		jdom_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

const struct jval *jdom_get(const struct jval *o, const char *key)
{
	if (!o || o->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return &o->items[i];
	return NULL;
}

double jdom_num(const struct jval *o, const char *key, double def)
{
	const struct jval *v = jdom_get(o, key);

	return v && (v->type == J_NUM || v->type == J_BOOL) ? v->num : def;
}

const char *jdom_str(const struct jval *o, const char *key, const char *def)
{
	const struct jval *v = jdom_get(o, key);

	return v && v->type == J_STR ? v->str : def;
}
