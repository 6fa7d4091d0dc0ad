#include "size.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int size_parse(const char *text, uint64_t *out, char *err, size_t errlen)
{
	const char *p = text;
	uint64_t value = 0;
	unsigned shift = 0;

	if (!text || !*text) {
		snprintf(err, errlen, "empty size");
		return -1;
	}
	if (!isdigit((unsigned char)*p)) {
		snprintf(err, errlen, "bad size '%s': expected digits with an optional K/M/G/T suffix", text);
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - d) / 10) {
			snprintf(err, errlen, "bad size '%s': too large", text);
			return -1;
		}
		value = value * 10 + d;
	}
	switch (toupper((unsigned char)*p)) {
	case 'K': shift = 10; p++; break;
	case 'M': shift = 20; p++; break;
	case 'G': shift = 30; p++; break;
	case 'T': shift = 40; p++; break;
	default: break;
	}
	if (shift && (p[0] == 'i' || p[0] == 'I') && (p[1] == 'B' || p[1] == 'b'))
		p += 2;
	else if (p[0] == 'B' || p[0] == 'b')
		p++;
	if (*p) {
		snprintf(err, errlen, "bad size '%s': unexpected '%s' (use K, M, G or T)", text, p);
		return -1;
	}
	if (shift && value > (UINT64_MAX >> shift)) {
		snprintf(err, errlen, "bad size '%s': too large", text);
		return -1;
	}
	*out = value << shift;
	return 0;
}

void size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char suffix[] = "KMGT";
	int i = -1;

	while (i < 3 && bytes && (bytes & 1023) == 0) {
		bytes >>= 10;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)bytes, suffix[i]);
}
