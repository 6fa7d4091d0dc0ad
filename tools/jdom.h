/*
 * A small JSON reader for vmmctl: the control socket's replies parsed into
 * a tree (objects, arrays, strings, numbers, literals), then looked up.
 */
#ifndef MEMVISOR_TOOLS_JDOM_H
#define MEMVISOR_TOOLS_JDOM_H

#include <stddef.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	double num;               /* J_NUM, and J_BOOL as 0/1 */
	char *str;                /* J_STR */
	size_t n;                 /* J_ARR, J_OBJ: elements */
	struct jval *items;       /* J_ARR, J_OBJ */
	char **keys;              /* J_OBJ */
};

/* Parse the whole of text: a tree, or NULL (malformed). */
struct jval *jdom_parse(const char *text);
void jdom_free(struct jval *v);

/* o[key], or NULL. */
const struct jval *jdom_get(const struct jval *o, const char *key);
/* o[key] as a number (def if absent or not a number) or a string (def if not a string). */
double jdom_num(const struct jval *o, const char *key, double def);
const char *jdom_str(const struct jval *o, const char *key, const char *def);

#endif
