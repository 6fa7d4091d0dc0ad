/* Parsing and printing of memory sizes ("512M", "2G", "4096"). */
#ifndef MEMVISOR_SIZE_H
#define MEMVISOR_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a size: decimal digits with an optional K, M, G or T suffix (powers
 * of 1024, either case, an optional trailing "iB" or "B").  Rejects empty
 * strings, signs, garbage, and values that overflow 64 bits.  On error
 * returns -1 and writes the reason to err.
 */
int size_parse(const char *text, uint64_t *out, char *err, size_t errlen);

/* Print a size the way size_parse reads it, exact when possible ("64M"). */
void size_format(uint64_t bytes, char *buf, size_t len);

#endif
