#include "pshare.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define TAB_INITIAL (1u << 16)
#define FRAME_GROW 4096u

/*
 * The slot from the key.  The hash is XXH3 already, but tests force it
 * to one value, and the group must spread too: mix both.
 */
static uint32_t home(const struct pshare *ps, uint64_t hash, uint32_t group)
{
	uint64_t x = hash ^ ((uint64_t)group * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (uint32_t)x & ps->mask;
}

static struct ps_entry *find(struct pshare *ps, uint64_t hash, uint32_t group)
{
	for (uint32_t i = home(ps, hash, group);; i = (i + 1) & ps->mask) {
		struct ps_entry *e = &ps->tab[i];
		if (!e->used)
			return NULL;
		if (e->hash == hash && e->group == group)
			return e;
	}
}

/* Backward-shift deletion: no tombstones, so lookups stay short. */
static void erase(struct pshare *ps, struct ps_entry *e)
{
	uint32_t hole = (uint32_t)(e - ps->tab);

	if (e->owner)
		ps->hints--;
	for (uint32_t i = (hole + 1) & ps->mask; ps->tab[i].used; i = (i + 1) & ps->mask) {
		uint32_t h = home(ps, ps->tab[i].hash, ps->tab[i].group);
		/* Move entry i into the hole if the hole lies on its probe path. */
		if (((i - h) & ps->mask) >= ((i - hole) & ps->mask)) {
			ps->tab[hole] = ps->tab[i];
			hole = i;
		}
	}
	memset(&ps->tab[hole], 0, sizeof(ps->tab[hole]));
	ps->used--;
}

static void put_entry(struct pshare *ps, const struct ps_entry *src)
{
	uint32_t i = home(ps, src->hash, src->group);

	while (ps->tab[i].used)
		i = (i + 1) & ps->mask;
	ps->tab[i] = *src;
	ps->tab[i].used = 1;
	ps->used++;
}

static int rehash(struct pshare *ps, uint32_t size, int keep_hints)
{
	struct ps_entry *old = ps->tab, *tab = calloc(size, sizeof(*tab));
	uint32_t old_size = ps->mask + 1;

	if (!tab)
		return -1;
	ps->tab = tab;
	ps->mask = size - 1;
	ps->used = 0;
	ps->hints = 0;
	for (uint32_t i = 0; i < old_size; i++) {
		if (!old[i].used || (old[i].owner && !keep_hints))
			continue;
		put_entry(ps, &old[i]);
		ps->hints += old[i].owner != NULL;
	}
	free(old);
	return 0;
}

/* Room for one more entry: grow at half full; past the hint limit, drop the hints. */
static int make_room(struct pshare *ps)
{
	if (ps->hints >= PSHARE_HINT_MAX) {
		ps->st.hint_drops++;
		return rehash(ps, ps->mask + 1, 0);
	}
	if (ps->used + 1 > (ps->mask + 1) / 2)
		return rehash(ps, (ps->mask + 1) * 2, 1);
	return 0;
}

int pshare_init(struct pshare *ps, char *err, size_t errlen)
{
	return pshare_init_frames(ps, PSHARE_FRAME_MAX, err, errlen);
}

int pshare_init_frames(struct pshare *ps, uint32_t max_frames, char *err, size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	ps->max_frames = max_frames;
	ps->fd = -1;
	ps->view = MAP_FAILED;
	pthread_mutex_init(&ps->lock, NULL);
	ps->fd = memfd_create("memvisor-frames", MFD_CLOEXEC);
	if (ps->fd < 0)
		return ERR("memfd_create for shared frames: %s", strerror(errno));
	if (ftruncate(ps->fd, (off_t)max_frames * 4096))
		return ERR("sizing the shared-frame memfd: %s", strerror(errno));
	/* Address space only: a frame costs a page once written. */
	ps->view = mmap(NULL, (size_t)max_frames * 4096, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_NORESERVE, ps->fd, 0);
	if (ps->view == MAP_FAILED)
		return ERR("mapping the shared-frame memfd: %s", strerror(errno));
	if (slots_init(&ps->free, FRAME_GROW, max_frames))
		return ERR("out of memory for the frame allocator");
	ps->tab = calloc(TAB_INITIAL, sizeof(*ps->tab));
	if (!ps->tab)
		return ERR("out of memory for the sharing hash table");
	ps->mask = TAB_INITIAL - 1;
	ps->map_limit = pshare_map_count_limit();
	return 0;
}

uint64_t pshare_map_count_limit(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

int pshare_room(struct pshare *ps)
{
	int ok;

	pthread_mutex_lock(&ps->lock);
	ok = 2 * (ps->refs + 2) + PSHARE_MAP_SLACK <= ps->map_limit;
	if (!ok)
		ps->map_limited = 1;
	pthread_mutex_unlock(&ps->lock);
	return ok;
}

void pshare_destroy(struct pshare *ps)
{
	if (ps->view != MAP_FAILED)
		munmap(ps->view, (size_t)ps->max_frames * 4096);
	if (ps->fd >= 0)
		close(ps->fd);
	ps->view = MAP_FAILED;
	ps->fd = -1;
	slots_free_all(&ps->free);
	free(ps->frame);
	free(ps->tab);
	ps->frame = NULL;
	ps->tab = NULL;
	pthread_mutex_destroy(&ps->lock);
}

enum ps_kind pshare_lookup(struct pshare *ps, uint64_t hash, uint32_t group, void **owner, uint32_t *val)
{
	enum ps_kind k = PS_NONE;
	struct ps_entry *e;

	pthread_mutex_lock(&ps->lock);
	e = find(ps, hash, group);
	if (e) {
		*owner = e->owner;
		*val = e->val;
		k = e->owner ? PS_HINT : PS_FRAME;
		if (k == PS_FRAME) {
			ps->frame[e->val].refs++;
			ps->refs++;
		}
	}
	pthread_mutex_unlock(&ps->lock);
	return k;
}

void pshare_hint(struct pshare *ps, uint64_t hash, uint32_t group, void *owner, uint32_t page)
{
	struct ps_entry *e;

	pthread_mutex_lock(&ps->lock);
	e = find(ps, hash, group);
	if (e && e->owner) {
		e->owner = owner;
		e->val = page;
	} else if (!e && make_room(ps) == 0) {
		put_entry(ps, &(struct ps_entry){ .hash = hash, .group = group, .owner = owner, .val = page });
		ps->hints++;
	}
	pthread_mutex_unlock(&ps->lock);
}

void pshare_unhint(struct pshare *ps, uint64_t hash, uint32_t group, void *owner, uint32_t page)
{
	struct ps_entry *e;

	pthread_mutex_lock(&ps->lock);
	e = find(ps, hash, group);
	if (e && e->owner == owner && e->val == page)
		erase(ps, e);
	pthread_mutex_unlock(&ps->lock);
}

void pshare_forget(struct pshare *ps, void *owner)
{
	pthread_mutex_lock(&ps->lock);
	/* Erasing shifts later entries back: look at the same slot again. */
	for (uint32_t i = 0; i <= ps->mask;) {
		if (ps->tab[i].used && ps->tab[i].owner == owner)
			erase(ps, &ps->tab[i]);
		else
			i++;
	}
	pthread_mutex_unlock(&ps->lock);
}

uint32_t pshare_make(struct pshare *ps, uint64_t hash, uint32_t group, const void *content, uint32_t refs)
{
	uint32_t f = SLOT_NONE;
	struct ps_entry *e;

	pthread_mutex_lock(&ps->lock);
	e = find(ps, hash, group);
	if (e && !e->owner)
		goto out; /* a frame has the key already: the caller should have used it */
	if (e)
		erase(ps, e);
	if (make_room(ps))
		goto out;
	f = slots_alloc(&ps->free);
	if (f == SLOT_NONE)
		goto out;
	if (f >= ps->frame_cap) {
		uint32_t cap = ps->free.capacity + FRAME_GROW;
		struct ps_frame *nf = realloc(ps->frame, (size_t)cap * sizeof(*nf));
		if (!nf) {
			slots_release(&ps->free, f);
			f = SLOT_NONE;
			goto out;
		}
		ps->frame = nf;
		ps->frame_cap = cap;
	}
	memcpy(ps->view + (size_t)f * 4096, content, 4096);
	ps->frame[f] = (struct ps_frame){ .hash = hash, .group = group, .refs = refs };
	ps->refs += refs;
	put_entry(ps, &(struct ps_entry){ .hash = hash, .group = group, .val = f });
	ps->st.frames_made++;
out:
	pthread_mutex_unlock(&ps->lock);
	return f;
}

void pshare_get(struct pshare *ps, uint32_t frame)
{
	pthread_mutex_lock(&ps->lock);
	ps->frame[frame].refs++;
	ps->refs++;
	pthread_mutex_unlock(&ps->lock);
}

int pshare_put(struct pshare *ps, uint32_t frame)
{
	struct ps_frame *fr;
	int last = 0;

	pthread_mutex_lock(&ps->lock);
	fr = &ps->frame[frame];
	fr->refs--;
	ps->refs--;
	if (fr->refs == 0) {
		struct ps_entry *e = find(ps, fr->hash, fr->group);
		if (e && !e->owner && e->val == frame)
			erase(ps, e);
		/* No guest page maps it now: its host page goes back to the kernel. */
		fallocate(ps->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)frame * 4096, 4096);
		slots_release(&ps->free, frame);
		ps->st.frames_freed++;
		last = 1;
	}
	pthread_mutex_unlock(&ps->lock);
	return last;
}

uint32_t pshare_refs(struct pshare *ps, uint32_t frame)
{
	uint32_t r;

	pthread_mutex_lock(&ps->lock);
	r = ps->frame[frame].refs;
	pthread_mutex_unlock(&ps->lock);
	return r;
}

void pshare_get_stats(struct pshare *ps, struct pshare_stats *st)
{
	pthread_mutex_lock(&ps->lock);
	*st = ps->st;
	st->frames = ps->free.used;
	st->refs = ps->refs;
	st->hints = ps->hints;
	st->map_limit = ps->map_limit;
	st->map_limited = ps->map_limited;
	pthread_mutex_unlock(&ps->lock);
}
