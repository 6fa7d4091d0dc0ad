/*
 * memvisor's VMM: `vmm run ...` starts every configured VM in this one
 * process, each vCPU on its own thread, and waits for them all.  The exit
 * status is 0 when every VM exited 0, else the first non-zero code in the
 * order the VMs ended; VMM errors use sysexits(3) codes (docs/cli.md).
 */
#include "config.h"
#include "console_input.h"
#include "console.h"
#include "control.h"
#include "control_cmds.h"
#include "kvm.h"
#include "leftovers.h"
#include "map_count.h"
#include "stats.h"
#include "vm.h"
#include "fault_probe.h"
#include "../mm/pshare.h"
#include "../mm/swapcrypt.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define MEMVISOR_VERSION "0.1"

static const char usage_text[] =
"usage: vmm run [--host-mem SIZE] [--stats FILE] [--swap-dir DIR] [--fault-service MODE]\n"
"               [--prefetch N] [--fault-poll-us US] [--swap-backend file|kernel] [--swap-encrypt]\n"
"               [--no-compress] [--zip-level N] [--zip-threshold BYTES]\n"
"               [--no-share] [--share-rate PAGES] [--share-cpu PCT] [--ksm] [--no-balloon] [--balloon-stats SECS] [--idle-tax PCT]\n"
"               --vm name=NAME,mem=SIZE[,kernel=FILE][,initrd=FILE][,vcpus=N] [--append \"CMDLINE\"]\n"
"               [--vm ... [--append ...]] ...\n"
"       vmm run --mem SIZE [--kernel FILE] [--initrd FILE] [--append \"CMDLINE\"]\n"
"       vmm --help | --version\n"
"\n"
"Runs one or more VMs in this process, each vCPU on its own thread.\n"
"\n"
"  --vm SPEC         add a VM; SPEC is a comma-separated list of\n"
"                      name=NAME   1-31 characters of A-Z a-z 0-9 _ . - (unique)\n"
"                      mem=SIZE    guest RAM, a multiple of 2M (test guest: at most 64G)\n"
"                      kernel=FILE guest ELF64 image (default: guest.elf beside vmm),\n"
"                                  or a Linux bzImage (64-bit boot protocol, ACPI,\n"
"                                  COM1 on ttyS0; mem 64M-64G, past 3G at 4G; docs/linux-guests.md)\n"
"                      initrd=FILE a Linux guest's initramfs\n"
"                      vcpus=N     vCPUs, 1-64 (default 1)\n"
"                      zip_max_pct=N  compression cache cap, 0-100% of mem\n"
"                                  (default 10, as ESX's Mem.MemZipMaxPct)\n"
"                      share_group=N  pages are shared only between VMs of one\n"
"                                  group, 0-1000000 (default 0: one group)\n"
"                      share_rate=N   most pages a second the sharing scanner\n"
"                                  looks at in this VM (default: its even share)\n"
"                      balloon=SIZE   balloon target pinned from the start\n"
"                      balloon_at=SECS:SIZE  the pinned target becomes SIZE\n"
"                                  SECS after the VM starts (e.g. 3:0 deflates)\n"
"                      shares=N       claim on memory against the other VMs\n"
"                                  (default 1000)\n"
"                      reservation=SIZE  memory never taken from this VM\n"
"                      limit=SIZE     memory this VM never gets beyond\n"
"  --append CMDLINE  guest command line of the --vm before it; the test guest\n"
"                    reads \"workload=NAME key=value ...\" (see docs/guest.md)\n"
"  --mem SIZE        single-VM shorthand: one VM named vm0 (with --kernel, --append)\n"
"  --kernel FILE     the single VM's kernel\n"
"  --initrd FILE     the single VM's initramfs (Linux guests)\n"
"  --host-mem SIZE   memory the VMM may spend on all guests together, overhead\n"
"                    included (default: this machine's free memory); beyond it\n"
"                    the VMM swaps guest pages to per-VM swap files\n"
"  --stats FILE      write JSON lines (per VM and host) every second and at exit\n"
"  --swap-dir DIR    where per-VM swap files go (default: a fresh directory under\n"
"                    $TMPDIR or /var/tmp, removed at exit)\n"
"  --prefetch N      most swapped pages read back per swap-in fault, 1-256: the\n"
"                    window doubles on sequential faults up to N, and the next\n"
"                    run is read ahead (default 128; docs/memory.md has the\n"
"                    measurement)\n"
"  --fault-poll-us US  longest a VM's fault thread spins for the next fault\n"
"                    before it sleeps, 0-10000 (default 200; 0: never spins).\n"
"                    The spin adapts as KVM's halt polling does, and at most\n"
"                    all CPUs but one spin at once (docs/memory.md)\n"
"  --no-share        no page-sharing scanner\n"
"  --no-balloon      no virtio-balloon device in the VMs\n"
"  --balloon-stats SECS  ask each guest's balloon driver for its memory stats\n"
"                    this often (default 1; 0: never)\n"
"  --idle-tax PCT    ESX's idle memory tax, 0-99 (default 75: an idle page\n"
"                    costs 4 active ones when memory is taken back)\n"
"  --share-rate PAGES  pages the sharing scanner hashes a second, whole host\n"
"                    (default 20000, about 1% of a core here)\n"
"  --share-cpu PCT    the most of one CPU the sharing scanner may use, 1-100\n"
"                    (default 2; on a slow or emulated CPU it scans fewer pages)\n"
"  --ksm             mark guest RAM MADV_MERGEABLE for Linux KSM (a bench peer;\n"
"                    use with --no-share, and start ksmd yourself)\n"
"  --no-compress     no compression cache: reclaimed pages go straight to swap\n"
"  --zip-level N     zstd level for the compression cache, -7 to 19 (default -1)\n"
"  --zip-threshold BYTES\n"
"                    keep a page compressed if it shrinks to this or less,\n"
"                    64-4094 (default 2048: half a page, as ESX)\n"
"  --swap-backend file|kernel\n"
"                    file: per-VM swap files through io_uring (default);\n"
"                    kernel: MADV_PAGEOUT to the host's swap, swap-in by the\n"
"                    kernel's own fault path (a bench peer; needs swapon)\n"
"  --swap-encrypt    encrypt and authenticate swap-file pages (XChaCha20-Poly1305,\n"
"                    a random key per swap file, held only in memory): a page\n"
"                    changed on disk is never handed back (docs/reliability.md)\n"
"  --fault-service auto|thread|vcpu\n"
"                    who serves guest page faults: a thread per VM, or the vCPU\n"
"                    thread on KVM memory-fault exits (Linux 6.8+); default auto\n"
"\n"
"SIZE is a number of bytes with an optional K, M, G or T suffix (powers of 1024).\n"
"Guest console lines go to stdout as \"[NAME] text\"; VMM messages go to stderr.\n"
"\n"
"Exit status: 0 if every VM exited 0, else the first non-zero exit code in the\n"
"order VMs ended. VMM errors: 64 bad usage or configuration, 65 bad kernel file,\n"
"66 kernel file unreadable, 69 /dev/kvm unusable, 70 a VM crashed (triple fault,\n"
"emulation failure, unhandled exit), 71 system error, 128+N stopped by signal N.\n"
"\n"
"Example:\n"
"  vmm run --vm name=a,mem=256M --append \"workload=memstress size=128M ws=64M\" \\\n"
"          --vm name=b,mem=256M --append \"workload=verify size=128M seed=7\"\n";

static volatile sig_atomic_t kicked;

static void on_kick(int sig)
{
	(void)sig;
	kicked = 1; /* only interrupts KVM_RUN; vm->done carries the meaning */
}

static void default_kernel(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0) {
		snprintf(buf, len, "build/guest.elf");
		return;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, len, "%s/guest.elf", exe);
}

static void host_log(void *ctx, const char *msg)
{
	(void)ctx;
	console_log(NULL, "%s", msg);
}

/*
 * Where swap files go: --swap-dir, or a fresh directory under $TMPDIR
 * (default /var/tmp: /tmp is often tmpfs, i.e. RAM, where swapping to
 * would defeat the point).  made: we created it, and remove it at exit.
 */
static const char *swap_base(void)
{
	const char *base = getenv("TMPDIR");

	return base && *base ? base : "/var/tmp";
}

static int swap_dir_setup(const char *given, char *dir, size_t len, int *made, int *lock_fd, char *err,
			  size_t errlen)
{
	const char *base = swap_base();
	struct stat st;

	*made = 0;
	if (given) {
		if (stat(given, &st) || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "--swap-dir: '%s' is not a directory", given);
			return EX_USAGE;
		}
		if (access(given, W_OK | X_OK)) {
			snprintf(err, errlen, "--swap-dir: cannot write into '%s': %s", given, strerror(errno));
			return EX_CANTCREAT;
		}
		snprintf(dir, len, "%s", given);
		return 0;
	}
	/* Our pid in the name: a VMM that finds it after we crashed knows it may go. */
	snprintf(dir, len, "%s/memvisor-swap-%d-XXXXXX", base, (int)getpid());
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "cannot create a swap directory under '%s': %s (use --swap-dir)",
			 base, strerror(errno));
		return EX_CANTCREAT;
	}
	*made = 1;
	/* Held until exit: a VMM that starts meanwhile sees this directory is in use. */
	*lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lock_fd >= 0 && flock(*lock_fd, LOCK_EX | LOCK_NB))
		console_log(NULL, "cannot lock swap directory '%s': %s", dir, strerror(errno));
	return 0;
}

/* Which fault service to use (1: vCPU threads, 0: a fault thread), and why. */
static int pick_fault_service(const struct host_config *cfg, struct kvm_sys *kvm,
			      char *why, size_t len, char *err, size_t errlen)
{
	char probe[120];
	int vcpu_ok;

	if (cfg->fault_service == FAULT_SERVICE_THREAD) {
		snprintf(why, len, "a fault thread per VM (--fault-service thread)");
		return 0;
	}
	vcpu_ok = fault_probe_memory_exit(kvm, probe, sizeof(probe));
	if (cfg->fault_service == FAULT_SERVICE_VCPU && !vcpu_ok) {
		snprintf(err, errlen, "--fault-service vcpu: not on this KVM: %s", probe);
		return -1;
	}
	if (!vcpu_ok) {
		snprintf(why, len, "a fault thread per VM (probe: %s)", probe);
		return 0;
	}
	snprintf(why, len, "each vCPU thread serves its own faults (probe: %s)", probe);
	return 1;
}

static int all_done(struct vm *vms, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!atomic_load(&vms[i].done))
			return 0;
	return 1;
}

static void report(const struct vm *vm, uint64_t t0)
{
	double end_ms = (double)(vm->t_end_ns - t0) / 1e6;
	uint64_t tw = atomic_load(&vm->t_workload_ns);
	char work[64] = "";

	if (tw)
		snprintf(work, sizeof(work), ", workload started at %.1f ms", (double)(tw - t0) / 1e6);
	if (vm->state == VM_EXITED)
		console_log(vm->name, "exited with code %d at %.1f ms after VMM start%s",
			    vm->exit_code, end_ms, work);
	else
		console_log(vm->name, "%s (exit code %d) at %.1f ms after VMM start%s: %s",
			    vm_state_name(vm->state), vm->exit_code, end_ms, work, vm->why);
}

/* /sys/kernel/mm/ksm/run: '1' merging, '0' stopped, '?' no KSM. */
static char ksm_run_state(void)
{
	FILE *f = fopen("/sys/kernel/mm/ksm/run", "re");
	int c = f ? fgetc(f) : EOF;

	if (f)
		fclose(f);
	return c == EOF ? '?' : (char)c;
}

/*
 * Each shared page may take a mapping of its own: room for two per guest
 * page, raised as root if need be (map_count.h).  Without room the
 * scanner stops merging at the limit (pshare_room), and the stats say so.
 */
static void map_count_for_sharing(const struct host_config *cfg)
{
	uint64_t pages = 0;

	for (unsigned i = 0; i < cfg->nvms; i++)
		pages += cfg->vms[i].mem / 4096;
	map_count_acquire(2 * pages + PSHARE_MAP_SLACK + 65530);
}

/* Each second's figures, when there is a stats file. */
static void write_stats(FILE *stats, uint64_t t0, struct vm *vms, unsigned n, struct mm_host *host,
			struct share_scan *scan)
{
	if (stats)
		stats_write(stats, (double)(vm_now_ns() - t0) / 1e9, vms, n, host, scan, 1);
}

static int run_host(struct host_config *cfg, uint64_t t0)
{
	struct kvm_sys kvm;
	struct vm *vms;
	struct mm_host host;
	struct share_scan scan;
	struct pshare ps;
	int ps_inited = 0;
	struct guest_mem_config mem;
	FILE *stats = NULL;
	char err[512], kernel[PATH_MAX + 16], swap_dir[PATH_MAX], service[256];
	unsigned created = 0, first_seq = 0;
	int rc = 0, status = 0, made_dir = 0, dir_lock = -1, sigbus;
	sigset_t stop_set;
	struct control ctl = { .fd = -1 };
	struct console_input cin = { 0 };
	struct ctl_ctx cctx;
	char ctl_path[108];
	int sfd = -1;
	struct sigaction sa;
	uint64_t next_stats, budget;

	/*
	 * SIGINT/SIGTERM/SIGHUP are taken by this thread alone, in its loop: blocked
	 * before any thread exists, since every thread inherits the mask and a
	 * thread that had them unblocked would die of them, leaving the swap
	 * files behind.  One that comes during start-up waits for the loop.
	 */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGHUP);   /* a closed terminal: stop cleanly too, swap files removed */
	sigaddset(&stop_set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &stop_set, NULL);

	if (kvm_sys_open(&kvm, "/dev/kvm", err, sizeof(err))) {
		console_log(NULL, "error: %s", err);
		return EX_UNAVAILABLE;
	}
	sigbus = pick_fault_service(cfg, &kvm, service, sizeof(service), err, sizeof(err));
	if (sigbus < 0) {
		console_log(NULL, "error: %s", err);
		kvm_sys_close(&kvm);
		return EX_UNAVAILABLE;
	}
	{
		struct leftovers gone;

		leftovers_sweep(swap_base(), cfg->swap_dir, &gone);
		if (gone.dirs + gone.files + gone.sockets)
			console_log(NULL, "cleaned up after VMMs that are gone: %u swap directories, %u swap files "
				    "(%.1f MiB of guest memory), %u control sockets",
				    gone.dirs, gone.files, (double)gone.bytes / 1048576.0, gone.sockets);
	}
	rc = swap_dir_setup(cfg->swap_dir, swap_dir, sizeof(swap_dir), &made_dir, &dir_lock, err, sizeof(err));
	if (rc) {
		console_log(NULL, "error: %s", err);
		kvm_sys_close(&kvm);
		return rc;
	}
	/* Compression needs our own swap path: the kernel-swap peer goes without. */
	mem = (struct guest_mem_config){ .swap_dir = swap_dir, .sigbus = sigbus, .prefetch = cfg->prefetch,
					 .fault_poll_us = cfg->fault_poll_us,
					 .kernel_swap = cfg->kernel_swap,
					 .compress = cfg->compress && !cfg->kernel_swap,
					 .swap_encrypt = cfg->swap_encrypt,
					 .zip_level = cfg->zip_level, .zip_threshold = cfg->zip_threshold,
					 .share = cfg->share, .ksm_mergeable = cfg->ksm };
	budget = cfg->host_mem ? cfg->host_mem : mm_host_machine_free();
	mm_host_init(&host, budget);
	host.idle_tax = cfg->idle_tax_pct / 100.0;
	host.log = host_log;
	share_scan_init(&scan, &host, cfg->share_rate, cfg->share_cpu_pct);
	if (cfg->share) {
		map_count_for_sharing(cfg);
		ps_inited = 1;
		if (pshare_init(&ps, err, sizeof(err))) {
			console_log(NULL, "error: %s", err);
			rc = EX_OSERR;
			goto out_host;
		}
		mem.pshare = scan.ps = &ps;
	}
	console_log(NULL, "host memory %.1f MiB (%s), minFree %.1f MiB; fault service: %s; swap files in %s",
		    (double)budget / 1048576.0, cfg->host_mem ? "--host-mem" : "free memory of this machine",
		    (double)host.ms.min_free / 1048576.0, service, swap_dir);
	if (!sigbus && cfg->fault_poll_us && host.fault_spinners)
		console_log(NULL, "fault threads spin up to %u us for their next fault, %u at a time (--fault-poll-us)",
			    cfg->fault_poll_us, host.fault_spinners);
	if (cfg->ksm)
		console_log(NULL, "guest RAM is MADV_MERGEABLE: Linux KSM may merge it (ksmd run=%c)",
			    ksm_run_state());
	if (cfg->share)
		console_log(NULL, "page sharing: scanner at %u pages a second, at most %u%% of a CPU (all-zero pages "
			    "go to the zero page, identical pages to one frame per share group)", cfg->share_rate,
			    cfg->share_cpu_pct);
	if (mem.compress)
		console_log(NULL, "compression cache: zstd level %d, a page is kept if it shrinks to %u bytes or less",
			    cfg->zip_level, cfg->zip_threshold);
	if (cfg->swap_encrypt)
		console_log(NULL, "swap files encrypted: %s, a random key per file, kept in memory only",
			    swapcrypt_cipher());
	if (cfg->kernel_swap)
		console_log(NULL, "swap backend: kernel (MADV_PAGEOUT to host swap, %.1f MiB free of it%s)",
			    (double)mm_host_meminfo("SwapFree") / 1048576.0,
			    mm_host_meminfo("SwapTotal") ? "" : "; swap is OFF, nothing can be swapped");

	vms = calloc(cfg->nvms, sizeof(*vms));
	if (!vms) {
		rc = EX_OSERR;
		goto out_host;
	}
	default_kernel(kernel, sizeof(kernel));
	for (unsigned i = 0; i < cfg->nvms; i++) {
		cfg->vms[i].no_balloon = !cfg->balloon;
		cfg->vms[i].balloon_stats_ms = cfg->balloon_stats_ms;
	}
	for (; created < cfg->nvms; created++) {
		rc = vm_create(&vms[created], &cfg->vms[created], &kvm, kernel, &host, &mem,
			       err, sizeof(err));
		if (rc) {
			console_log(cfg->vms[created].name, "error: %s", err);
			created++;
			goto out;
		}
	}
	if (cfg->stats_path) {
		stats = stats_open(cfg->stats_path, err, sizeof(err));
		if (!stats) {
			console_log(NULL, "error: %s", err);
			rc = EX_CANTCREAT;
			goto out;
		}
	}
	/* The control socket: a --control that cannot be made is an error, the default place only a warning. */
	if (cfg->control_path) {
		if (control_open(&ctl, cfg->control_path, err, sizeof(err))) {
			console_log(NULL, "error: %s", err);
			rc = EX_CANTCREAT;
			goto out;
		}
	} else if (control_default_path(ctl_path, sizeof(ctl_path), err, sizeof(err)) ||
		   control_open(&ctl, ctl_path, err, sizeof(err))) {
		console_log(NULL, "warning: no control socket: %s", err);
	}
	if (ctl.fd >= 0)
		console_log(NULL, "control socket: %s (vmmctl --control %s ...)", ctl.path, ctl.path);
	sfd = signalfd(-1, &stop_set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		console_log(NULL, "error: signalfd: %s", strerror(errno));
		rc = EX_OSERR;
		goto out;
	}
	if (mm_host_start(&host)) {
		console_log(NULL, "error: cannot start the memory manager's thread");
		rc = EX_OSERR;
		goto out;
	}
	if (cfg->share && share_scan_start(&scan)) {
		console_log(NULL, "error: cannot start the page-sharing scanner");
		rc = EX_OSERR;
		goto out;
	}

	/* SIGUSR2 tells this thread a VM ended, SIGUSR1 kicks a vCPU out of KVM_RUN. */
	vm_set_finish_notify(pthread_self());
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	for (unsigned i = 0; i < created; i++) {
		if (vm_start(&vms[i], err, sizeof(err))) {
			console_log(vms[i].name, "error: %s", err);
			for (unsigned j = 0; j < created; j++)
				vm_finish(&vms[j], VM_STOPPED, EX_OSERR, "VMM start-up failed");
			break;
		}
	}

	/* One Linux VM on a terminal: its serial console is the terminal. */
	if (created == 1 && vms[0].linux_guest && console_input_start(&cin)) {
		vms[0].raw_console = 1;
		console_log(vms[0].name, "the terminal is its serial console (Ctrl-A x stops the VMM)");
	}
	next_stats = vm_now_ns() + 1000000000ULL;
	/* Without a stats file, the socket's stats set the base of the per-second rates themselves. */
	cctx = (struct ctl_ctx){ vms, created, &host, &scan, t0, stats == NULL };
	for (;;) {
		struct pollfd pfd[1 + 1 + CONTROL_MAX_CLIENTS + 1];
		int in_fd = console_input_fd(&cin);
		struct signalfd_siginfo si;
		int sig = 0, done = all_done(vms, created);
		unsigned nc;

		/* A VM that ended gives its memory back to those still running. */
		for (unsigned i = 0; i < created; i++) {
			if (atomic_load(&vms[i].done) && !vms[i].reaped)
				vm_reap(&vms[i]);
			vm_balloon_tick(&vms[i], vm_now_ns());
		}
		if (done)
			break;
		/* Signals and control requests, or 100 ms. */
		pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		nc = control_pollfds(&ctl, pfd + 1, CONTROL_MAX_CLIENTS + 1);
		pfd[1 + nc] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
		/* Typed input the UART could not take yet is retried soon. */
		if (poll(pfd, 2 + nc, cin.npending ? 5 : 100) > 0) {
			if ((pfd[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				sig = (int)si.ssi_signo;
			control_serve(&ctl, pfd + 1, nc, ctl_handle, &cctx);
		}
		if (cin.active && console_input_pump(&cin, &vms[0].pc, in_fd >= 0 && (pfd[1 + nc].revents & (POLLIN | POLLHUP)))) {
			console_input_stop(&cin);
			console_log(NULL, "stopped from the console: stopping all VMs");
			for (unsigned i = 0; i < created; i++)
				vm_finish(&vms[i], VM_STOPPED, 0, "stopped from the console (Ctrl-A x)");
			mm_host_stop(&host);
		}
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			char why[64];
			snprintf(why, sizeof(why), "stopped by %s", strsignal(sig));
			console_log(NULL, "%s: stopping all VMs", strsignal(sig));
			for (unsigned i = 0; i < created; i++)
				vm_finish(&vms[i], VM_STOPPED, 128 + sig, why);
			/* Faults held in the low state must not keep a VM from stopping. */
			mm_host_stop(&host);
		}
		if (vm_now_ns() >= next_stats) {
			write_stats(stats, t0, vms, created, &host, &scan);
			next_stats += 1000000000ULL;
		}
	}
	write_stats(stats, t0, vms, created, &host, &scan);
	console_input_stop(&cin);

	for (unsigned i = 0; i < created; i++) {
		report(&vms[i], t0);
		if (vms[i].exit_code && (!first_seq || vms[i].finish_seq < first_seq)) {
			first_seq = vms[i].finish_seq;
			status = vms[i].exit_code;
		}
	}
	rc = status;
out:
	control_close(&ctl);
	if (sfd >= 0)
		close(sfd);
	share_scan_stop(&scan);
	mm_host_stop(&host);
	if (stats)
		fclose(stats);
	for (unsigned i = 0; i < created; i++)
		vm_destroy(&vms[i]);
	free(vms);
out_host:
	share_scan_destroy(&scan);
	if (ps_inited) {
		pshare_destroy(&ps);
		map_count_release();
	}
	mm_host_destroy(&host);
	if (made_dir && rmdir(swap_dir))
		console_log(NULL, "cannot remove swap directory '%s': %s", swap_dir, strerror(errno));
	if (dir_lock >= 0)
		close(dir_lock);
	kvm_sys_close(&kvm);
	return rc;
}

int main(int argc, char **argv)
{
	struct host_config cfg;
	char err[512];
	uint64_t t0 = vm_now_ns();
	int rc;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("memvisor vmm %s\n", MEMVISOR_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run") != 0) {
		console_log(NULL, "error: unknown command '%s' (see vmm --help)", argv[1]);
		return EX_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_text, stdout);
			return 0;
		}
	}
	if (config_parse_run(argc - 2, argv + 2, &cfg, err, sizeof(err))) {
		console_log(NULL, "error: %s", err);
		config_free(&cfg);
		return EX_USAGE;
	}
	rc = run_host(&cfg, t0);
	config_free(&cfg);
	return rc;
}
