#include "ram_map.h"

void ram_map_init(struct ram_map *m, uint64_t size, int split)
{
	m->low = split && size > RAM_MAP_LOW_MAX ? RAM_MAP_LOW_MAX : size;
	m->high = size - m->low;
}

int ram_map_offset(const struct ram_map *m, uint64_t gpa, uint64_t len, uint64_t *off)
{
	if (len == 0)
		return -1;
	if (gpa < m->low) {
		if (len > m->low - gpa)
			return -1;
		*off = gpa;
		return 0;
	}
	if (!m->high || gpa < RAM_MAP_HIGH_BASE || gpa - RAM_MAP_HIGH_BASE >= m->high ||
	    len > m->high - (gpa - RAM_MAP_HIGH_BASE))
		return -1;
	*off = m->low + (gpa - RAM_MAP_HIGH_BASE);
	return 0;
}

uint64_t ram_map_end(const struct ram_map *m)
{
	return m->high ? RAM_MAP_HIGH_BASE + m->high : m->low;
}
