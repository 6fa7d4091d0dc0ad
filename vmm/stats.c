#include "stats.h"

#include "../mm/pagemap.h"
#include "../mm/pshare.h"
#include "../mm/share_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MB(x) ((double)(x) / 1048576.0)

FILE *stats_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FILE *f;

	if (fd < 0) {
		snprintf(err, errlen, "--stats: cannot create '%s': %s", path, strerror(errno));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "--stats: '%s': %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

/* Per-second rate of a cumulative count since this VM's previous line. */
static double rate(uint64_t now, uint64_t *prev, double t, double t_prev)
{
	double r = t > t_prev ? (double)(now - *prev) / (t - t_prev) : 0;

	*prev = now;
	return r;
}

/* Compression figures, per VM and summed for the host (esxtop's ZIP columns). */
struct zip_totals {
	uint64_t stored, cache, zipped, unzipped;
};

static void write_zip(FILE *f, const struct zip_totals *z)
{
	fprintf(f, ",\"zip_mb\":%.2f,\"zipsaved_mb\":%.2f,\"zip_cache_mb\":%.2f,\"zipped\":%llu,\"unzipped\":%llu",
		MB(z->stored), z->stored > z->cache ? MB(z->stored - z->cache) : 0.0, MB(z->cache),
		(unsigned long long)z->zipped, (unsigned long long)z->unzipped);
}

/* The guest's own figures, as its balloon driver last reported them (only the tags it sent). */
static void write_guest_stats(FILE *f, const struct balloon_figures *bf)
{
	static const char *const names[BALLOON_STAT_TAGS] = {
		[0] = "guest_swap_in", [1] = "guest_swap_out", [2] = "guest_major_faults", [3] = "guest_minor_faults",
		[4] = "guest_free_mb", [5] = "guest_total_mb", [6] = "guest_avail_mb", [7] = "guest_caches_mb",
	};

	fprintf(f, ",\"guest_stats_updates\":%llu", (unsigned long long)bf->stats_updates);
	for (unsigned t = 0; t < 8; t++) {
		if (!(bf->stats_seen & 1u << t))
			continue;
		if (t >= 4)
			fprintf(f, ",\"%s\":%.2f", names[t], MB(bf->stats[t]));
		else
			fprintf(f, ",\"%s\":%llu", names[t], (unsigned long long)bf->stats[t]);
	}
}

static void write_vm(FILE *f, double t, struct vm *vm, enum vm_state st, int code, struct zip_totals *sum,
		     int advance)
{
	/* Rates are since the previous line that advanced them: a look in between moves nothing. */
	uint64_t pswr = vm->prev_swr, psww = vm->prev_sww, pzip = vm->prev_zip, punzip = vm->prev_unzip;
	struct guest_mem_stats m;
	struct zip_totals z;
	int64_t rss = -1, anon = -1;
	uint64_t kpresent, kprivate;

	if (vm->gm_inited) {
		/* Kernel-swapped pages come back unseen: look before counting. */
		if (vm->gm.kernel_swap)
			guest_mem_reconcile(&vm->gm);
		guest_mem_get_stats(&vm->gm, &m);
		/* The kernel's own count of the pages backing guest RAM, and of
		 * those that are private: what the VM consumes, frames apart. */
		if (pagemap_count(vm->gm.pagemap_fd, vm->ram, vm->ram_size / 4096, vm->gm.zero_pfn, &kpresent,
				  &kprivate) == 0) {
			rss = (int64_t)(kpresent * 4096);
			anon = (int64_t)(kprivate * 4096);
		}
	} else {
		m = vm->last_mem;
	}
	fprintf(f, "{\"t\":%.3f,\"vm\":\"%s\",\"run_state\":\"%s\"", t, vm->name, vm_state_name(st));
	if (st != VM_RUNNING && st != VM_CREATED)
		fprintf(f, ",\"exit_code\":%d", code);
	fprintf(f, ",\"vcpus\":%u,\"memsz_mb\":%.1f,\"mapped_mb\":%.2f,\"consumed_mb\":%.2f,"
		"\"zero_mb\":%.2f,\"tchd_mb\":%.2f,\"swcur_mb\":%.2f,\"swr\":%llu,\"sww\":%llu,"
		"\"swr_s\":%.0f,\"sww_s\":%.0f,\"swapin_faults\":%llu,\"swr_ahead\":%llu,\"zero_faults\":%llu,"
		"\"fault_p50_us\":%.1f,\"fault_p99_us\":%.1f,\"fault_max_us\":%.1f,"
		"\"poll_hits\":%llu,\"poll_ms\":%.1f,"
		"\"meta_kb\":%.1f,\"meta_pct\":%.3f,\"ovhd_mb\":%.2f,\"swap_full\":%s,\"swap_errors\":%llu",
		vm->nvcpus, MB(vm->ram_size), MB(m.mapped), MB(m.consumed), MB(m.zero), MB(m.active),
		MB(m.swapped), (unsigned long long)m.swapins, (unsigned long long)m.swapouts,
		rate(m.swapins, &pswr, t, vm->prev_t), rate(m.swapouts, &psww, t, vm->prev_t),
		(unsigned long long)m.swapin_faults, (unsigned long long)m.readahead_pages,
		(unsigned long long)m.faults[GM_FAULT_ZERO],
		(double)m.fault_p50_ns / 1e3, (double)m.fault_p99_ns / 1e3, (double)m.fault_max_ns / 1e3,
		(unsigned long long)m.poll_hits, (double)m.poll_ns / 1e6,
		(double)m.meta_bytes / 1024.0, vm->ram_size ? 100.0 * (double)m.meta_bytes / (double)vm->ram_size : 0,
		MB(m.meta_bytes + m.buffer_bytes), m.swap_full ? "true" : "false",
		(unsigned long long)m.swap_errors);
	if (rss >= 0)
		fprintf(f, ",\"kernel_rss_mb\":%.2f", MB(rss));
	if (anon >= 0)
		fprintf(f, ",\"kernel_anon_mb\":%.2f", MB(anon));
	/* The balloon (MCTLSZ, MCTLTGT) and what the guest reported free. */
	fprintf(f, ",\"mctlsz_mb\":%.2f,\"reported_mb\":%.2f,\"sztgt_mb\":%.2f", MB(m.ballooned * GM_PAGE),
		MB(m.reported * GM_PAGE), MB(vm->gm.sztgt * GM_PAGE));
	if (vm->has_balloon) {
		struct balloon_figures bf = vm->last_balloon;

		if (vm->dev_inited)
			devices_balloon_figures(&vm->dev, &bf);
		fprintf(f, ",\"mctltgt_mb\":%.2f,\"balloon_actual_mb\":%.2f,\"balloon_broken\":%s,\"balloon_irqs\":%llu",
			MB(bf.target_pages * GM_PAGE), MB(bf.actual_pages * GM_PAGE), bf.broken ? "true" : "false",
			(unsigned long long)bf.irqs);
		write_guest_stats(f, &bf);
	}
	fprintf(f, ",\"shrd_mb\":%.2f,\"shrdsvd_mb\":%.2f,\"share_merges\":%llu,\"share_breaks\":%llu,"
		"\"share_differ\":%llu,\"share_victims\":%llu",
		MB(m.shared * GM_PAGE), MB(m.share_saved_milli * GM_PAGE / 1000),
		(unsigned long long)m.share_merges, (unsigned long long)m.share_breaks,
		(unsigned long long)m.share_differ, (unsigned long long)m.share_victims);
	/* Same-filled pages count as stored: they are kept, in no space at all. */
	z = (struct zip_totals){ (m.zip_pages + m.same_pages) * GM_PAGE, m.zip_bytes, m.zipped, m.unzipped };
	write_zip(f, &z);
	fprintf(f, ",\"zip_s\":%.0f,\"unzip_s\":%.0f,\"zip_ratio\":%.2f,\"zip_same_mb\":%.2f,"
		"\"zip_cap_mb\":%.2f,\"zip_writebacks\":%llu,\"zip_cold_writebacks\":%llu,\"zero_shared\":%llu",
		rate(m.zipped, &pzip, t, vm->prev_t), rate(m.unzipped, &punzip, t, vm->prev_t),
		m.zip_bytes ? (double)(m.zip_pages * GM_PAGE) / (double)m.zip_bytes : 0.0,
		MB(m.same_pages * GM_PAGE), MB(m.zip_cap), (unsigned long long)m.zip_writebacks,
		(unsigned long long)m.zip_cold_writebacks, (unsigned long long)m.scan_zero);
	sum->stored += z.stored;
	sum->cache += z.cache;
	sum->zipped += z.zipped;
	sum->unzipped += z.unzipped;
	fputs("}\n", f);
	if (advance) {
		vm->prev_swr = pswr;
		vm->prev_sww = psww;
		vm->prev_zip = pzip;
		vm->prev_unzip = punzip;
		vm->prev_t = t;
	}
}

void stats_write(FILE *f, double t, struct vm *vms, unsigned nvms, struct mm_host *host,
		 struct share_scan *scan, int advance)
{
	struct share_scan_stats sc;
	struct mm_host_stats h;
	struct zip_totals zsum = { 0 };
	unsigned running = 0;

	for (unsigned i = 0; i < nvms; i++) {
		struct vm *vm = &vms[i];
		enum vm_state st;
		int code;

		pthread_mutex_lock(&vm->lock);
		st = vm->state;
		code = vm->exit_code;
		pthread_mutex_unlock(&vm->lock);
		running += st == VM_RUNNING;
		write_vm(f, t, vm, st, code, &zsum, advance);
	}
	mm_host_get_stats(host, &h);
	fprintf(f, "{\"t\":%.3f,\"host\":true,\"vms\":%u,\"vms_running\":%u,\"state\":\"%s\","
		"\"budget_mb\":%.1f,\"free_mb\":%.2f,\"consumed_mb\":%.2f,\"ovhd_mb\":%.2f,"
		"\"min_free_mb\":%.2f,\"state_changes\":%llu,\"blocked_faults\":%llu,\"direct_reclaim_mb\":%.2f,"
		"\"swap_exhausted\":%s",
		t, nvms, running, memstate_name(h.state), MB(h.budget), MB(h.free), MB(h.consumed),
		MB(h.overhead), MB(h.min_free), (unsigned long long)h.transitions,
		(unsigned long long)h.blocked_faults, MB(h.direct_pages * GM_PAGE), h.swap_exhausted ? "true" : "false");
	fprintf(f, ",\"high_s\":%.1f,\"soft_s\":%.1f,\"hard_s\":%.1f,\"low_s\":%.1f", h.state_ms[MEM_HIGH] / 1e3,
		h.state_ms[MEM_SOFT] / 1e3, h.state_ms[MEM_HARD] / 1e3, h.state_ms[MEM_LOW] / 1e3);
	write_zip(f, &zsum);
	share_scan_get_stats(scan, &sc);
	fprintf(f, ",\"scan_pages\":%llu,\"scan_full\":%llu,\"scan_cpu_ms\":%.1f,\"scan_ns_per_page\":%.0f,"
		"\"scan_capped_ticks\":%llu",
		(unsigned long long)sc.scanned, (unsigned long long)sc.full_scans, (double)sc.cpu_ns / 1e6,
		sc.scanned ? (double)sc.cpu_ns / (double)sc.scanned : 0.0, (unsigned long long)sc.ticks_capped);
	if (scan->ps) {
		struct pshare_stats ps;
		struct stat fst;

		pshare_get_stats(scan->ps, &ps);
		/* ESX's PSHARE: guest memory backed by frames, the frames, the difference. */
		fprintf(f, ",\"pshare_shared_mb\":%.2f,\"pshare_common_mb\":%.2f,\"pshare_saving_mb\":%.2f,"
			"\"pshare_hints\":%llu,\"pshare_map_limited\":%s",
			MB(ps.refs * 4096), MB(ps.frames * 4096), MB((ps.refs - ps.frames) * 4096),
			(unsigned long long)ps.hints, ps.map_limited ? "true" : "false");
		/* The kernel's count of the frames' pages. */
		if (fstat(scan->ps->fd, &fst) == 0)
			fprintf(f, ",\"kernel_frames_mb\":%.2f", MB((uint64_t)fst.st_blocks * 512));
	}
	fputs("}\n", f);
	fflush(f);
}
