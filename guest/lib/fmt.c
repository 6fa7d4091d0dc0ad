#include "fmt.h"

#include <stdint.h>

struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, unsigned width, int left, char pad)
{
	size_t fill = width > n ? width - n : 0;

	if (!left)
		while (fill--)
			put(o, pad);
	for (size_t i = 0; i < n; i++)
		put(o, s[i]);
	if (left)
		while (fill--)
			put(o, ' ');
}

static void put_number(struct out *o, uint64_t v, int neg, unsigned base, unsigned width, int left, char pad)
{
	char tmp[24];
	size_t n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		tmp[sizeof(tmp) - 1 - n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg) {
		if (pad == '0') {
			/* The sign goes before zero padding. */
			put(o, '-');
			if (width)
				width--;
		} else {
			tmp[sizeof(tmp) - 1 - n++] = '-';
		}
	}
	put_padded(o, tmp + sizeof(tmp) - n, n, width, left, pad);
}

size_t fmt_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = { buf, cap, 0 };

	for (const char *p = fmt; *p; p++) {
		unsigned width = 0, lng = 0;
		int left = 0;
		char pad = ' ';

		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		for (; *p == '-' || *p == '0'; p++) {
			if (*p == '-')
				left = 1;
			else
				pad = '0';
		}
		for (; *p >= '0' && *p <= '9'; p++)
			width = width * 10 + (unsigned)(*p - '0');
		for (; *p == 'l' || *p == 'z'; p++)
			lng++;
		if (left)
			pad = ' ';
		switch (*p) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			put_number(&o, mag, v < 0, 10, width, left, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_number(&o, v, 0, *p == 'x' ? 16 : 10, width, left, pad);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_number(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 0, 16, width, left, pad);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			put_padded(&o, &c, 1, width, left, ' ');
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t n = 0;
			if (!s)
				s = "(null)";
			while (s[n])
				n++;
			put_padded(&o, s, n, width, left, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case '\0':
			p--; /* a lone '%' at the end */
			break;
		default:
			put(&o, '%');
			put(&o, *p);
			break;
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

size_t fmt_format(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = fmt_vformat(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}
