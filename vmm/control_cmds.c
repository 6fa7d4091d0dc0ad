#include "control_cmds.h"

#include "control.h"
#include "size.h"
#include "stats.h"
#include "vm.h"
#include "../mm/alloc_policy.h"
#include "../mm/hist.h"
#include "../mm/mm_host.h"
#include "../mm/share_scan.h"

#include <stdlib.h>
#include <string.h>

#define MB(x) ((double)(x) / 1048576.0)

static const char *const fault_kinds[GM_FAULT_KINDS] = {
	[GM_FAULT_ZERO] = "zero", [GM_FAULT_SWAPIN] = "swapin", [GM_FAULT_SAMPLE] = "sample",
	[GM_FAULT_WP] = "wp", [GM_FAULT_UNZIP] = "unzip", [GM_FAULT_COW] = "cow",
};

/* A string argument that must be there. */
static const char *arg(const struct json_obj *req, const char *key, FILE *out)
{
	const char *v = json_get(req, key, NULL);

	if (!v || !*v)
		control_error(out, "'%s' is missing", key);
	return v && *v ? v : NULL;
}

/* The running VM the request names (by "vm"), or NULL after an error reply. */
static struct vm *find_vm(struct ctl_ctx *c, const struct json_obj *req, FILE *out)
{
	const char *name = arg(req, "vm", out);

	if (!name)
		return NULL;
	for (unsigned i = 0; i < c->nvms; i++) {
		struct vm *vm = &c->vms[i];

		if (strcmp(vm->name, name))
			continue;
		if (!vm->gm_inited || vm->reaped || atomic_load(&vm->done)) {
			control_error(out, "VM '%s' has ended", name);
			return NULL;
		}
		return vm;
	}
	control_error(out, "no VM named '%s'", name);
	return NULL;
}

static int parse_uint_arg(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	*v = strtoull(s, &end, 10);
	return *end || *v > max ? -1 : 0;
}

static void cmd_list(struct ctl_ctx *c, FILE *out)
{
	fputs("{\"ok\":true,\"vms\":[", out);
	for (unsigned i = 0; i < c->nvms; i++) {
		struct vm *vm = &c->vms[i];
		enum vm_state st;

		pthread_mutex_lock(&vm->lock);
		st = vm->state;
		pthread_mutex_unlock(&vm->lock);
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_put_string(out, vm->name);
		fprintf(out, ",\"state\":\"%s\",\"mem_mb\":%.0f,\"vcpus\":%u,\"balloon\":%s", vm_state_name(st),
			MB(vm->ram_size), vm->nvcpus, vm->has_balloon ? "true" : "false");
		if (vm->gm_inited && !vm->reaped)
			fprintf(out, ",\"shares\":%u,\"reservation_mb\":%.2f,\"limit_mb\":%.2f,\"balloon_pinned\":%s",
				vm->gm.shares ? vm->gm.shares : ALLOC_DEFAULT_SHARES, MB(vm->gm.reservation * GM_PAGE), MB(vm->gm.limit * GM_PAGE),
				atomic_load(&vm->balloon_pinned) ? "true" : "false");
		fputc('}', out);
	}
	fputs("]}", out);
}

/* Whether a stats line is VM `name`'s (NULL: any line). */
static int line_is(const char *l, size_t len, const char *name)
{
	char key[96];

	if (!name)
		return 1;
	snprintf(key, sizeof(key), "\"vm\":\"%s\",", name);
	return memmem(l, len, key, strlen(key)) != NULL && !memmem(l, len, "\"host\":true", 11);
}

/* Writes each stats line of `name` (NULL: every line) to out, if any; returns how many. */
static unsigned each_line(const char *snap, const char *name, FILE *out)
{
	unsigned n = 0;

	for (const char *l = snap; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (len && line_is(l, len, name)) {
			if (out)
				fprintf(out, "%s%.*s", n ? "," : "", (int)len, l);
			n++;
		}
		l += len + (nl != NULL);
	}
	return n;
}

/* The stats file's lines, now: every VM's and the host's, or one VM's. */
static void cmd_stats(struct ctl_ctx *c, const struct json_obj *req, FILE *out)
{
	const char *only = json_get(req, "vm", NULL);
	char *snap = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&snap, &len);

	if (!m) {
		control_error(out, "out of memory");
		return;
	}
	stats_write(m, (double)(vm_now_ns() - c->t0) / 1e9, c->vms, c->nvms, c->host, c->scan, c->advance_rates);
	fclose(m);
	if (only && !each_line(snap, only, NULL)) {
		control_error(out, "no VM named '%s'", only);
	} else {
		fputs("{\"ok\":true,\"stats\":[", out);
		each_line(snap, only, out);
		fputs("]}", out);
	}
	free(snap);
}

static void cmd_balloon(struct ctl_ctx *c, const struct json_obj *req, FILE *out)
{
	struct vm *vm = find_vm(c, req, out);
	const char *size = vm ? arg(req, "size", out) : NULL;
	uint64_t bytes;
	char err[160];

	if (!size)
		return;
	if (!vm->has_balloon) {
		control_error(out, "VM '%s' has no balloon (--no-balloon)", vm->name);
		return;
	}
	if (!strcmp(size, "auto")) {
		atomic_store(&vm->balloon_pinned, 0);
		fputs("{\"ok\":true,\"balloon\":\"auto\"}", out);
		return;
	}
	if (size_parse(size, &bytes, err, sizeof(err)) || bytes % GM_PAGE || bytes > vm->ram_size) {
		control_error(out, "balloon: '%s' is not a size in whole 4 KiB pages up to the VM's %llu MiB", size,
			      (unsigned long long)(vm->ram_size >> 20));
		return;
	}
	atomic_store(&vm->balloon_pinned, 1);
	devices_balloon_target(&vm->dev, bytes / GM_PAGE, 1);
	fprintf(out, "{\"ok\":true,\"target_mb\":%.2f}", MB(bytes));
}

static void cmd_set(struct ctl_ctx *c, const struct json_obj *req, FILE *out)
{
	struct vm *vm = find_vm(c, req, out);
	const char *key = vm ? arg(req, "key", out) : NULL;
	const char *value = key ? arg(req, "value", out) : NULL;
	unsigned long long n;
	uint64_t bytes;
	char err[256];
	int rc;

	if (!value)
		return;
	if (!strcmp(key, "shares") || !strcmp(key, "zip_max_pct")) {
		if (parse_uint_arg(value, 1000000, &n)) {
			control_error(out, "set %s: '%s' is not a whole number", key, value);
			return;
		}
		rc = !strcmp(key, "shares") ? guest_mem_set_shares(&vm->gm, (unsigned)n, err, sizeof(err))
					    : guest_mem_set_zip_max_pct(&vm->gm, (unsigned)n, err, sizeof(err));
	} else if (!strcmp(key, "reservation") || !strcmp(key, "limit")) {
		char serr[160];

		if (!strcmp(value, "none") && !strcmp(key, "limit"))
			bytes = 0;
		else if (size_parse(value, &bytes, serr, sizeof(serr)) || (!strcmp(key, "limit") && bytes == 0)) {
			control_error(out, "set %s: '%s' is not a size%s", key, value,
				      !strcmp(key, "limit") ? " above 0 (or none)" : "");
			return;
		}
		if (bytes > vm->ram_size) {
			control_error(out, "set %s: %s is more than the VM's %llu MiB", key, value,
				      (unsigned long long)(vm->ram_size >> 20));
			return;
		}
		rc = !strcmp(key, "limit") ? guest_mem_set_limit(&vm->gm, bytes, err, sizeof(err))
					   : guest_mem_set_reservation(&vm->gm, bytes, err, sizeof(err));
	} else {
		control_error(out, "set: '%s' is not shares, reservation, limit or zip_max_pct", key);
		return;
	}
	if (rc) {
		control_error(out, "set %s", err);
		return;
	}
	fprintf(out, "{\"ok\":true,\"vm\":");
	json_put_string(out, vm->name);
	fprintf(out, ",\"key\":\"%s\",\"value\":", key);
	json_put_string(out, value);
	fputc('}', out);
}

static void cmd_host_mem(struct ctl_ctx *c, const struct json_obj *req, FILE *out)
{
	const char *size = arg(req, "size", out);
	uint64_t bytes;
	char err[160];

	if (!size)
		return;
	if (size_parse(size, &bytes, err, sizeof(err)) || bytes < (16ULL << 20)) {
		control_error(out, "host-mem: '%s' is not a size of at least 16M", size);
		return;
	}
	mm_host_set_budget(c->host, bytes);
	fprintf(out, "{\"ok\":true,\"budget_mb\":%.1f}", MB(bytes));
}

static void cmd_scan_rate(struct ctl_ctx *c, const struct json_obj *req, FILE *out)
{
	const char *rate = arg(req, "rate", out);
	unsigned long long n;

	if (!rate)
		return;
	if (!c->scan->ps && !c->scan->rate) {
		control_error(out, "scan-rate: page sharing is off (--no-share)");
		return;
	}
	if (parse_uint_arg(rate, 10000000, &n) || n < 100) {
		control_error(out, "scan-rate: '%s' is not 100-10000000 pages a second", rate);
		return;
	}
	share_scan_set_rate(c->scan, (unsigned)n);
	fprintf(out, "{\"ok\":true,\"rate\":%llu}", n);
}

static void cmd_state(struct ctl_ctx *c, FILE *out)
{
	struct mm_host_stats h;
	struct memstate ms;

	mm_host_get_stats(c->host, &h);
	pthread_mutex_lock(&c->host->lock);
	ms = c->host->ms;
	pthread_mutex_unlock(&c->host->lock);
	fprintf(out, "{\"ok\":true,\"state\":\"%s\",\"budget_mb\":%.1f,\"free_mb\":%.2f,\"min_free_mb\":%.2f,"
		"\"thresholds\":[", memstate_name(h.state), MB(h.budget), MB(h.free), MB(ms.min_free));
	for (int s = MEM_SOFT; s <= MEM_LOW; s++)
		fprintf(out, "%s{\"state\":\"%s\",\"enter_below_mb\":%.2f,\"leave_at_mb\":%.2f}", s == MEM_SOFT ? "" : ",",
			memstate_name((enum mem_state)s), MB(ms.enter[s]), MB(ms.leave[s]));
	fprintf(out, "],\"transitions\":%llu,\"blocked_faults\":%llu,\"seconds_in\":{\"high\":%.1f,\"soft\":%.1f,"
		"\"hard\":%.1f,\"low\":%.1f}}", (unsigned long long)h.transitions, (unsigned long long)h.blocked_faults,
		h.state_ms[MEM_HIGH] / 1e3, h.state_ms[MEM_SOFT] / 1e3, h.state_ms[MEM_HARD] / 1e3, h.state_ms[MEM_LOW] / 1e3);
}

static void cmd_swap_latency(struct ctl_ctx *c, const struct json_obj *req, FILE *out)
{
	struct vm *vm = find_vm(c, req, out);
	struct hist *hs;

	if (!vm)
		return;
	hs = malloc(sizeof(struct hist) * GM_FAULT_KINDS);
	if (!hs) {
		control_error(out, "out of memory");
		return;
	}
	guest_mem_fault_hists(&vm->gm, hs);
	fputs("{\"ok\":true,\"vm\":", out);
	json_put_string(out, vm->name);
	fputs(",\"kinds\":[", out);
	for (unsigned k = 0; k < GM_FAULT_KINDS; k++) {
		const struct hist *h = &hs[k];
		int first = 1;

		fprintf(out, "%s{\"kind\":\"%s\",\"count\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
			"\"buckets\":[", k ? "," : "", fault_kinds[k], (unsigned long long)h->count,
			(double)hist_quantile(h, 0.5) / 1e3, (double)hist_quantile(h, 0.99) / 1e3, (double)h->max / 1e3);
		/* Only the buckets that counted something: [upper bound in ns, count]. */
		for (unsigned b = 0; b < HIST_BUCKETS; b++)
			if (h->bucket[b]) {
				fprintf(out, "%s[%llu,%llu]", first ? "" : ",", (unsigned long long)hist_bucket_upper(b),
					(unsigned long long)h->bucket[b]);
				first = 0;
			}
		fputs("]}", out);
	}
	fputs("]}", out);
	free(hs);
}

/* Where each vCPU of a VM is: kicked out of KVM_RUN to say so, then on its way again. */
static void cmd_regs(struct ctl_ctx *c, const struct json_obj *req, FILE *out)
{
	struct vm *vm = find_vm(c, req, out);
	int answered;

	if (!vm)
		return;
	answered = vm_dump_vcpus(vm, 2000);
	if (answered < 0) {
		control_error(out, "regs: VM '%s' has finished", vm->name);
		return;
	}
	fputs("{\"ok\":true,\"vm\":", out);
	json_put_string(out, vm->name);
	fputs(",\"vcpus\":[", out);
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		fprintf(out, "%s{\"vcpu\":%u,\"answered\":%s,\"text\":", i ? "," : "", i,
			vm->vcpus[i].dump_done ? "true" : "false");
		/* One that did not answer in 2 s is in KVM_RUN and not coming out: a fault that waits, say. */
		json_put_string(out, vm->vcpus[i].dump_done ? vm->vcpus[i].dump
				     : vm->vcpus[i].started ? "no answer within 2 s" : "its thread has not started");
		fputc('}', out);
	}
	pthread_mutex_unlock(&vm->lock);
	fputs("]}", out);
}

void ctl_handle(void *ctx, const struct json_obj *req, FILE *out)
{
	struct ctl_ctx *c = ctx;
	const char *cmd = json_get(req, "cmd", NULL);

	if (!cmd)
		control_error(out, "a request needs \"cmd\" (list, stats, balloon, set, host-mem, scan-rate, state, "
			      "swap-latency, regs)");
	else if (!strcmp(cmd, "list"))
		cmd_list(c, out);
	else if (!strcmp(cmd, "stats"))
		cmd_stats(c, req, out);
	else if (!strcmp(cmd, "balloon"))
		cmd_balloon(c, req, out);
	else if (!strcmp(cmd, "set"))
		cmd_set(c, req, out);
	else if (!strcmp(cmd, "host-mem"))
		cmd_host_mem(c, req, out);
	else if (!strcmp(cmd, "scan-rate"))
		cmd_scan_rate(c, req, out);
	else if (!strcmp(cmd, "state"))
		cmd_state(c, out);
	else if (!strcmp(cmd, "swap-latency"))
		cmd_swap_latency(c, req, out);
	else if (!strcmp(cmd, "regs"))
		cmd_regs(c, req, out);
	else
		control_error(out, "unknown command '%s' (list, stats, balloon, set, host-mem, scan-rate, state, "
			      "swap-latency, regs)", cmd);
}
