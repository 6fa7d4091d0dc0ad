#include "vm.h"
#include "boot_layout.h"
#include "elf_loader.h"
#include "acpi_tables.h"
#include "linux_boot.h"
#include "../guest/abi.h"
#include "../mm/thread_name.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define ERR(code, ...) (snprintf(err, errlen, __VA_ARGS__), (code))
#define KERNEL_FILE_MAX (512ULL << 20)

static atomic_uint finish_counter;
static pthread_t notify_thread;
static atomic_int notify_set;

void vm_set_finish_notify(pthread_t thread)
{
	notify_thread = thread;
	atomic_store(&notify_set, 1);
}

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *vm_state_name(enum vm_state s)
{
	switch (s) {
	case VM_CREATED: return "created";
	case VM_RUNNING: return "running";
	case VM_EXITED: return "exited";
	case VM_FAILED: return "failed";
	case VM_STOPPED: return "stopped";
	}
	return "?";
}

/* Read a whole regular file (what: "kernel", "initrd"); returns 0 or a sysexits code. */
static int read_file(const char *what, const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ERR(EX_NOINPUT, "cannot open %s '%s': %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ERR(EX_NOINPUT, "%s '%s' is not a regular file", what, path);
	}
	if (st.st_size == 0 || (uint64_t)st.st_size > KERNEL_FILE_MAX) {
		close(fd);
		return ERR(EX_DATAERR, "%s '%s' has a bad size (%lld bytes)", what, path,
			   (long long)st.st_size);
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len);
	if (!*buf) {
		close(fd);
		return ERR(EX_OSERR, "out of memory reading '%s'", path);
	}
	while (done < *len) {
		ssize_t n = read(fd, *buf + done, *len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			free(*buf);
			*buf = NULL;
			return ERR(EX_NOINPUT, "cannot read %s '%s': %s", what, path, strerror(e));
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

/*
 * A Linux bzImage: ACPI tables in the BIOS area, then the kernel, zero
 * page, command line and initrd by the boot protocol.
 */
static int load_linux(struct vm *vm, const char *path, const uint8_t *file, size_t len,
		      char *err, size_t errlen)
{
	const struct vm_config *cfg = vm->cfg;
	struct acpi_config ac = {
		.vcpus = cfg->vcpus,
		.mem64_base = DEVICES_BAR_BASE,
		.mem64_size = 1ULL << 30,
		.npci = 1,
		.pci = { { DEVICES_BALLOON_SLOT, DEVICES_BALLOON_IRQ } },
	};
	struct linux_boot lb = {
		.ram_size = vm->ram_size,
		.kernel = file,
		.kernel_len = len,
		.cmdline = cfg->append ? cfg->append : LINUX_DEFAULT_CMDLINE,
	};
	struct linux_image img;
	uint8_t *initrd = NULL;
	size_t initrd_len = 0;
	char lerr[256];
	int rc;

	if (cfg->vcpus > 255)
		return ERR(EX_USAGE, "a Linux guest takes at most 255 vCPUs");
	if (cfg->initrd) {
		rc = read_file("initrd", cfg->initrd, &initrd, &initrd_len, err, errlen);
		if (rc)
			return rc;
		lb.initrd = initrd;
		lb.initrd_len = initrd_len;
	}
	lb.rsdp_gpa = acpi_tables_write(vm->ram + LB_BIOS_GPA, LB_BIOS_GPA, LB_BIOS_END - LB_BIOS_GPA, &ac);
	if (!lb.rsdp_gpa) {
		free(initrd);
		return ERR(EX_SOFTWARE, "the ACPI tables do not fit below 1 MiB");
	}
	rc = linux_boot_write(vm->ram, &lb, &img, lerr, sizeof(lerr));
	free(initrd);
	if (rc)
		return ERR(rc == -2 ? EX_USAGE : EX_DATAERR, "kernel '%s': %s", path, lerr);
	vm->entry = img.entry;
	vm->linux_guest = 1;
	console_log(vm->name, "Linux bzImage, boot protocol %u.%02u, initrd %zu KiB at 0x%llx, %u vCPU%s",
		    img.version >> 8, img.version & 0xff, initrd_len >> 10,
		    (unsigned long long)img.initrd_gpa, cfg->vcpus, cfg->vcpus == 1 ? "" : "s");
	return 0;
}

/* An ELF64 test guest, or a Linux bzImage; name what the file looks like otherwise. */
static int load_kernel(struct vm *vm, const char *path, struct elf_image *img,
		       char *err, size_t errlen)
{
	uint8_t *file = NULL;
	size_t len = 0;
	char lerr[200];
	int rc = read_file("kernel", path, &file, &len, err, errlen);

	if (rc)
		return rc;
	if (linux_is_bzimage(file, len)) {
		rc = load_linux(vm, path, file, len, err, errlen);
		free(file);
		return rc;
	}
	if (!elf_is_elf(file, len)) {
		free(file);
		return ERR(EX_DATAERR, "kernel '%s' is neither an ELF64 executable nor a Linux bzImage", path);
	}
	if (vm->cfg->initrd) {
		free(file);
		return ERR(EX_USAGE, "initrd '%s': only a Linux guest takes an initrd", vm->cfg->initrd);
	}
	rc = elf_load(file, len, vm->ram, vm->ram_size, MV_IMAGE_MIN_GPA, img, lerr, sizeof(lerr));
	free(file);
	if (rc == -2 && boot_check_ram(vm->ram_size, img->end, lerr, sizeof(lerr)))
		return ERR(EX_USAGE, "kernel '%s': %s", path, lerr);
	if (rc)
		return ERR(EX_DATAERR, "kernel '%s': %s", path, lerr);
	return 0;
}

static void mem_log(void *ctx, const char *msg)
{
	struct vm *vm = ctx;

	console_log(vm->name, "%s", msg);
}

/* The allocation policy's balloon target for this VM. */
static void balloon_set(void *ctx, uint64_t pages)
{
	struct vm *vm = ctx;

	/* A target set through the control socket holds until it says "auto". */
	if (atomic_load(&vm->balloon_pinned))
		return;
	devices_balloon_target(&vm->dev, pages, 0);
}

/* COM1 of a Linux guest: its bytes go to the console, or the terminal. */
static void pc_out(void *ctx, uint8_t byte)
{
	struct vm *vm = ctx;

	if (vm->raw_console) {
		ssize_t n;
		do
			n = write(STDOUT_FILENO, &byte, 1);
		while (n < 0 && errno == EINTR);
		return;
	}
	console_putc(&vm->con, (char)byte);
}

/* A Linux guest powered off, rebooted or panicked: the VM ends with that. */
static void pc_end(void *ctx, enum pc_end how, const char *why)
{
	struct vm *vm = ctx;

	console_log(vm->name, "%s", why);
	if (how == PC_PANIC)
		vm_finish(vm, VM_FAILED, EX_SOFTWARE, why);
	else
		vm_finish(vm, VM_EXITED, 0, why);
}

/* The memory manager could not serve a fault: the VM cannot go on. */
static void mem_fatal(void *ctx, const char *msg)
{
	struct vm *vm = ctx;

	console_log(vm->name, "error: guest memory: %s", msg);
	vm_finish(vm, VM_FAILED, EX_SOFTWARE, msg);
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct kvm_sys *kvm,
	      const char *default_kernel, struct mm_host *host,
	      const struct guest_mem_config *mem, char *err, size_t errlen)
{
	const char *kernel = cfg->kernel ? cfg->kernel : default_kernel;
	struct elf_image img;
	struct boot_params bp;
	char lerr[256];
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->fd = -1;
	vm->ram_fd = -1;
	vm->cfg = cfg;
	snprintf(vm->name, sizeof(vm->name), "%s", cfg->name);
	console_init(&vm->con, vm->name, STDOUT_FILENO);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);

	if (cfg->mem % MV_HUGE_PAGE_SIZE || cfg->mem > MV_MAX_RAM || cfg->mem < MV_HUGE_PAGE_SIZE) {
		/* Same words as the full check below, before mapping anything. */
		boot_check_ram(cfg->mem, MV_IMAGE_MIN_GPA, lerr, sizeof(lerr));
		return ERR(EX_USAGE, "%s", lerr);
	}
	if (cfg->vcpus > (unsigned)kvm->max_vcpus)
		return ERR(EX_USAGE, "vcpus=%u is more than KVM allows (%d)", cfg->vcpus, kvm->max_vcpus);

	vm->ram_size = cfg->mem;
	/* With sharing, RAM is a private mapping of a memfd that stays empty: it
	 * behaves as anonymous memory, and gives a page whose share breaks a
	 * home to go back to (docs/sharing.md). */
	if (mem->share && mem->pshare) {
		vm->ram_fd = memfd_create(vm->name, MFD_CLOEXEC);
		if (vm->ram_fd < 0 || ftruncate(vm->ram_fd, (off_t)vm->ram_size))
			return ERR(EX_OSERR, "guest RAM memfd: %s", strerror(errno));
	}
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_NORESERVE | (vm->ram_fd < 0 ? MAP_ANONYMOUS : 0), vm->ram_fd, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return ERR(EX_OSERR, "cannot map %llu MiB of guest RAM: %s",
			   (unsigned long long)(vm->ram_size >> 20), strerror(errno));
	}
	/* 4 KiB host pages: reclaim works page by page. */
	madvise(vm->ram, vm->ram_size, MADV_NOHUGEPAGE);

	memset(&img, 0, sizeof(img));
	rc = load_kernel(vm, kernel, &img, err, errlen);
	if (rc)
		return rc;
	if (!vm->linux_guest) {
		if (boot_check_ram(vm->ram_size, img.end, lerr, sizeof(lerr)))
			return ERR(EX_USAGE, "%s", lerr);
		vm->entry = img.entry;
	}

	/* A Linux guest's RAM skips the PCI and APIC hole below 4 GiB (its e820 says so). */
	ram_map_init(&vm->map, vm->ram_size, vm->linux_guest);
	if (kvm_vm_create(kvm, &vm->fd, lerr, sizeof(lerr)) ||
	    kvm_vm_set_ram(vm->fd, 0, 0, vm->ram, vm->map.low, lerr, sizeof(lerr)) ||
	    (vm->map.high && kvm_vm_set_ram(vm->fd, 1, RAM_MAP_HIGH_BASE, vm->ram + vm->map.low, vm->map.high, lerr,
					    sizeof(lerr))))
		return ERR(EX_OSERR, "%s", lerr);
	/* Linux calibrates against the PIT and wants it on IRQ 0. */
	if (vm->linux_guest && kvm_create_pit(vm->fd, lerr, sizeof(lerr)))
		return ERR(EX_OSERR, "%s", lerr);

	vm->vcpus = calloc(cfg->vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return ERR(EX_OSERR, "out of memory");
	for (unsigned i = 0; i < cfg->vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct kvm_sregs sregs;
		struct kvm_regs regs;

		v->vm = vm;
		v->index = i;
		if (kvm_vcpu_create(kvm, vm->fd, i, &v->h, lerr, sizeof(lerr)))
			return ERR(EX_OSERR, "%s", lerr);
		vm->nvcpus++;
		/* Linux starts its other vCPUs itself, by INIT and SIPI through KVM's APICs. */
		if (vm->linux_guest && i > 0)
			continue;
		if (ioctl(v->h.fd, KVM_GET_SREGS, &sregs) < 0)
			return ERR(EX_OSERR, "KVM_GET_SREGS: %s", strerror(errno));
		if (vm->linux_guest)
			linux_cpu_state(&sregs, &regs, vm->entry);
		else
			boot_cpu_state(&sregs, &regs, vm->entry, i);
		if (ioctl(v->h.fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(v->h.fd, KVM_SET_REGS, &regs) < 0)
			return ERR(EX_OSERR, "setting vCPU %u registers: %s", i, strerror(errno));
	}
	vm->tsc_khz = kvm_vcpu_tsc_khz(&vm->vcpus[0].h);
	if (!vm->tsc_khz)
		return ERR(EX_UNAVAILABLE, "KVM_GET_TSC_KHZ gave no TSC frequency");

	bp = (struct boot_params){
		.ram_size = vm->ram_size,
		.tsc_khz = vm->tsc_khz,
		.image_start = img.lowest,
		.image_end = img.end,
		.cmdline = cfg->append,
		.vcpus = cfg->vcpus,
		.vm_name = vm->name,
	};
	if (!vm->linux_guest && boot_layout_write(vm->ram, &bp, lerr, sizeof(lerr)))
		return ERR(EX_USAGE, "%s", lerr);

	/* From here the memory manager owns guest RAM: what the loader wrote is present. */
	struct guest_mem_config gc = *mem;
	gc.name = vm->name;
	gc.size = vm->ram_size;
	gc.zip_max_pct = cfg->zip_max_pct;
	gc.ram_fd = vm->ram_fd;
	gc.share_group = cfg->share_group;
	gc.share_rate = cfg->share_rate;
	vm->gm_inited = 1;
	if (guest_mem_init(&vm->gm, &gc, vm->ram, host, lerr, sizeof(lerr)))
		return ERR(EX_OSERR, "guest memory: %s", lerr);
	vm->gm.log = mem_log;
	vm->gm.fatal = mem_fatal;
	vm->gm.fatal_ctx = vm;
	if (mm_host_add(host, &vm->gm))
		return ERR(EX_USAGE, "too many VMs for one memory manager (at most %d)", MM_HOST_MAX_VMS);
	if (cfg->balloon > cfg->mem)
		return ERR(EX_USAGE, "balloon=%llu MiB is more than the VM's memory",
			   (unsigned long long)(cfg->balloon >> 20));
	if (cfg->reservation > cfg->mem || (cfg->limit && cfg->limit < cfg->reservation))
		return ERR(EX_USAGE, "reservation=%llu MiB is more than the VM's memory or its limit",
			   (unsigned long long)(cfg->reservation >> 20));
	vm->gm.shares = cfg->shares;
	vm->gm.reservation = cfg->reservation / GM_PAGE;
	vm->gm.limit = cfg->limit / GM_PAGE;
	vm->dev_inited = 1;
	vm->has_balloon = !cfg->no_balloon;
	if (devices_init(&vm->dev, &vm->gm, &vm->map, vm->fd, vm->has_balloon, (uint32_t)(cfg->balloon / GM_PAGE), mem_log, vm))
		return ERR(EX_OSERR, "cannot set up the VM's devices");
	if (vm->linux_guest) {
		pc_platform_init(&vm->pc, vm->fd, pc_out, pc_end, vm);
		vm->pc_inited = 1;
	}
	/* The policy steers the balloon, unless balloon=SIZE pinned its target. */
	if (vm->has_balloon && !cfg->balloon_pinned) {
		vm->gm.balloon_set = balloon_set;
		vm->gm.balloon_ctx = vm;
	}
	vm->host = host;
	vm->state = VM_CREATED;
	return 0;
}

int vm_start(struct vm *vm, char *err, size_t errlen)
{
	char lerr[200];

	if (guest_mem_start(&vm->gm, lerr, sizeof(lerr)))
		return ERR(EX_OSERR, "%s", lerr);
	vm->t_start_ns = vm_now_ns();
	vm->state = VM_RUNNING;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		int e = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (e) {
			vm_finish(vm, VM_FAILED, EX_OSERR, "cannot start a vCPU thread");
			return ERR(EX_OSERR, "pthread_create: %s", strerror(e));
		}
		vm->vcpus[i].started = 1;
		thread_name(vm->vcpus[i].thread, "vcpu%u-%s", i, vm->name);
	}
	return 0;
}

/*
 * Out of KVM_RUN, or not into the next one: the signal ends a KVM_RUN under
 * way, and immediate_exit makes one that has not started yet return at once.
 */
static void kick(struct vcpu *v)
{
	if (v->h.run)
		__atomic_store_n(&v->h.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->started && !pthread_equal(v->thread, pthread_self()))
		pthread_kill(v->thread, SIGUSR1);
}

void vm_finish(struct vm *vm, enum vm_state state, int code, const char *why)
{
	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->done)) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	vm->state = state;
	vm->exit_code = code;
	vm->t_end_ns = vm_now_ns();
	vm->finish_seq = atomic_fetch_add(&finish_counter, 1) + 1;
	snprintf(vm->why, sizeof(vm->why), "%s", why ? why : "");
	atomic_store(&vm->done, 1);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		kick(&vm->vcpus[i]);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (atomic_load(&notify_set))
		pthread_kill(notify_thread, SIGUSR2);
}

/* vCPUs that have described themselves since the request (vm->lock held). */
static int dumps_done(const struct vm *vm)
{
	int n = 0;

	for (unsigned i = 0; i < vm->nvcpus; i++)
		n += vm->vcpus[i].dump_done;
	return n;
}

int vm_dump_vcpus(struct vm *vm, unsigned wait_ms)
{
	struct timespec until;
	int answered, asked = 0;

	clock_gettime(CLOCK_REALTIME, &until); /* vm->cond's clock */
	until.tv_nsec += (long)wait_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&vm->lock);
	if (atomic_load(&vm->done)) {
		pthread_mutex_unlock(&vm->lock);
		return -1;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->dump_done = 0;
		if (!v->started)
			continue;
		/* Asked first, then the kick: a thread between KVM_RUNs sees one or the other. */
		atomic_store(&v->dump_want, 1);
		kick(v);
		asked++;
	}
	/* A vCPU whose thread never started has nothing to say: not waited for. */
	while (dumps_done(vm) < asked && !atomic_load(&vm->done) &&
	       pthread_cond_timedwait(&vm->cond, &vm->lock, &until) != ETIMEDOUT)
		;
	answered = dumps_done(vm);
	pthread_mutex_unlock(&vm->lock);
	return answered;
}

void vm_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = 0;
	}
	console_flush(&vm->con);
}

void vm_balloon_tick(struct vm *vm, uint64_t now_ns)
{
	const struct vm_config *cfg = vm->cfg;
	uint64_t since;

	if (!vm->t_start_ns || !vm->dev_inited || !vm->has_balloon || atomic_load(&vm->done))
		return;
	since = now_ns - vm->t_start_ns;
	if (cfg->balloon_at_ns && !vm->balloon_at_done && since >= cfg->balloon_at_ns) {
		vm->balloon_at_done = 1;
		devices_balloon_target(&vm->dev, cfg->balloon_at / GM_PAGE, 1);
		console_log(vm->name, "balloon target now %llu MiB (balloon_at)",
			    (unsigned long long)(cfg->balloon_at >> 20));
	}
	if (cfg->balloon_stats_ms && since >= vm->next_stats_poll_ns) {
		devices_balloon_poll_stats(&vm->dev);
		vm->next_stats_poll_ns = since + cfg->balloon_stats_ms * 1000000ULL;
	}
}

static void release_memory(struct vm *vm)
{
	if (vm->gm_inited) {
		/* The last figures: first catch up with what the kernel did. */
		guest_mem_reconcile(&vm->gm);
		guest_mem_get_stats(&vm->gm, &vm->last_mem);
	}
	if (vm->host)
		mm_host_remove(vm->host, &vm->gm);
	vm->host = NULL;
	if (vm->dev_inited) {
		devices_balloon_figures(&vm->dev, &vm->last_balloon);
		devices_destroy(&vm->dev);
	}
	vm->dev_inited = 0;
	if (vm->gm_inited)
		guest_mem_destroy(&vm->gm);
	vm->gm_inited = 0;
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	vm->ram_fd = -1;
}

void vm_reap(struct vm *vm)
{
	if (vm->reaped)
		return;
	/* Its fault thread may wait in the low state: let it go. */
	atomic_store(&vm->gm.stopping, 1);
	if (vm->host)
		mm_host_wake(vm->host);
	vm_join(vm);
	release_memory(vm);
	vm->reaped = 1;
}

void vm_destroy(struct vm *vm)
{
	vm_reap(vm);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		kvm_vcpu_destroy(&vm->vcpus[i].h);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nvcpus = 0;
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
	if (vm->pc_inited)
		pc_platform_destroy(&vm->pc);
	vm->pc_inited = 0;
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
}
