#include "workloads.h"

#include "abi.h"
#include "lib/fmt.h"
#include "pattern.h"
#include "plat.h"

const struct workload common_workloads[] = {
	{ "hello", wl_hello },
	{ "touch", wl_touch },
	{ "memstress", wl_memstress },
	{ "verify", wl_verify },
	{ "zeroboot", wl_zeroboot },
	{ "dup", wl_dup },
	{ "lspci", wl_lspci },
	{ "balloon", wl_balloon },
	{ "badvirtio", wl_badvirtio },
	{ "cache", wl_cache },
	{ "oltp", wl_oltp },
	{ "vdi", wl_vdi },
	{ 0, 0 },
};

static const struct workload *find(const struct workload *t, const char *name)
{
	for (; t && t->name; t++)
		if (str_eq(t->name, name))
			return t;
	return 0;
}

static void list_names(char *buf, size_t cap, const struct workload *extra)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct workload *t = common_workloads; t->name; t++)
		n += fmt_format(buf + n, cap - n, " %s", t->name);
	for (const struct workload *t = extra; t && t->name; t++)
		n += fmt_format(buf + n, cap - n, " %s", t->name);
}

int workload_dispatch(char *cmdline, const struct workload *extra)
{
	static struct args a;
	const struct workload *w;
	const char *name;
	int rc;

	if (args_split(&a, cmdline)) {
		plat_say("guest: %s", a.err);
		return MV_EXIT_BAD_ARGS;
	}
	name = args_take(&a, "workload");
	if (!name)
		name = "hello";
	w = find(extra, name);
	if (!w)
		w = find(common_workloads, name);
	if (!w) {
		char known[160];
		list_names(known, sizeof(known), extra);
		plat_say("guest: unknown workload '%s' (known:%s)", name, known);
		return MV_EXIT_BAD_ARGS;
	}
	plat_event(MV_EVENT_WORKLOAD_START);
	rc = w->run(&a);
	if (rc == MV_EXIT_BAD_ARGS && a.err[0])
		plat_say("%s: %s", w->name, a.err);
	return rc;
}

void *wl_alloc(const char *wl, uint64_t bytes)
{
	void *p = plat_alloc(bytes);

	if (!p)
		plat_say("%s: cannot allocate %lu MiB: %lu MiB free", wl, (unsigned long)(bytes >> 20),
			 (unsigned long)(plat_free_bytes() >> 20));
	return p;
}

int wl_pages(struct args *a, const char *key, uint64_t def, uint64_t *pages)
{
	uint64_t bytes;

	if (args_size(a, key, def, &bytes))
		return -1;
	if (bytes == 0) {
		fmt_format(a->err, sizeof(a->err), "%s= is required and must be above 0", key);
		return -1;
	}
	if (bytes > MV_MAX_RAM) {
		fmt_format(a->err, sizeof(a->err), "%s=%lu is larger than any guest (%lu GiB)", key,
			   (unsigned long)bytes, (unsigned long)(MV_MAX_RAM >> 30));
		return -1;
	}
	*pages = (bytes + PAGE_BYTES - 1) / PAGE_BYTES;
	return 0;
}
