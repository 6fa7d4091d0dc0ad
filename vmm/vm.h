/*
 * One virtual machine of the host process: its guest RAM, its vCPUs (one
 * thread each), its console and its fate.  A VM ends once: by the guest's
 * exit port, by a failure of one of its vCPUs, or when the host stops it;
 * the first of these sets its exit code and the others are ignored.
 */
#ifndef MEMVISOR_VM_H
#define MEMVISOR_VM_H

#include "config.h"
#include "console.h"
#include "devices.h"
#include "kvm.h"
#include "pc_platform.h"
#include "../mm/guest_mem.h"
#include "../mm/mm_host.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* A Linux guest's command line when --append gives none. */
#define LINUX_DEFAULT_CMDLINE "console=ttyS0"

enum vm_state { VM_CREATED, VM_RUNNING, VM_EXITED, VM_FAILED, VM_STOPPED };

struct vm;

#define VCPU_DUMP_MAX 2048

struct vcpu {
	struct vm *vm;
	unsigned index;
	struct kvm_vcpu_handle h;
	pthread_t thread;
	atomic_int started;          /* its thread exists (set after pthread_create); read by whoever kicks it */
	atomic_int dump_want;        /* vm_dump_vcpus asks: the thread describes itself at its next kick */
	int dump_done;               /* under vm->lock */
	char dump[VCPU_DUMP_MAX];    /* under vm->lock */
};

struct vm {
	char name[CONFIG_NAME_MAX];
	const struct vm_config *cfg;
	int fd;
	uint8_t *ram;
	int ram_fd;                 /* the memfd behind ram when pages are shared, else -1 */
	uint64_t ram_size;
	struct ram_map map;          /* where guest-physical RAM is in ram (a Linux guest's is split) */
	uint64_t entry;
	uint64_t tsc_khz;
	unsigned nvcpus;
	struct vcpu *vcpus;
	struct console con;
	struct guest_mem gm;        /* guest RAM as the memory manager owns it */
	struct mm_host *host;
	int gm_inited;              /* guest_mem_init was called: destroy it */
	int linux_guest;            /* a bzImage: ACPI, COM1 and the PM ports (pc) */
	struct pc_platform pc;
	int pc_inited;
	int raw_console;            /* COM1 straight to the terminal (interactive) */
	struct vm_devices dev;      /* PCI and the balloon */
	int dev_inited;
	int has_balloon;
	int balloon_at_done;        /* balloon_at's target has been set */
	atomic_int balloon_pinned;  /* the control socket set the target: the policy leaves it */
	uint64_t next_stats_poll_ns;   /* since t_start_ns */
	struct balloon_figures last_balloon; /* the balloon's figures when it was reaped */
	int reaped;                 /* vCPUs joined and memory given back */
	struct guest_mem_stats last_mem; /* memory figures when it was reaped */
	uint64_t prev_swr, prev_sww;     /* the stats file's rates */
	uint64_t prev_zip, prev_unzip;
	double prev_t;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int done;            /* set once, before vCPUs are kicked */
	enum vm_state state;
	int exit_code;
	unsigned finish_seq;        /* order in which VMs ended, from 1 */
	char why[256];

	uint64_t t_start_ns;        /* monotonic: first KVM_RUN */
	atomic_ullong t_workload_ns; /* MV_EVENT_WORKLOAD_START, 0 if never */
	uint64_t t_end_ns;
	atomic_uint port_warnings;
};

/*
 * Load the kernel, build guest RAM and the vCPUs, and hand the RAM to the
 * memory manager (mem: the host-wide settings; name and size come from
 * cfg).  Returns 0, or a sysexits(3) code with the reason in err;
 * vm_destroy is safe after either.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct kvm_sys *kvm,
	      const char *default_kernel, struct mm_host *host,
	      const struct guest_mem_config *mem, char *err, size_t errlen);

/* Start one thread per vCPU. */
int vm_start(struct vm *vm, char *err, size_t errlen);

/* End the VM (first caller wins) and kick its vCPUs out of KVM_RUN. */
void vm_finish(struct vm *vm, enum vm_state state, int code, const char *why);

/*
 * Thread to wake (with SIGUSR2, which it keeps blocked and waits for) when
 * any VM ends, so the host notices at once rather than at its next tick.
 */
void vm_set_finish_notify(pthread_t thread);

/* Wait for every vCPU thread. */
void vm_join(struct vm *vm);

/*
 * Each vCPU thread kicked out of KVM_RUN to describe itself (registers,
 * run state, LAPIC timer) into its vcpu's dump, the guest then going on.
 * Waits up to wait_ms for those whose thread has started; returns how
 * many answered (dump_done), or -1 if the VM has finished.  For a guest
 * that seems stuck: where it is.
 */
int vm_dump_vcpus(struct vm *vm, unsigned wait_ms);

/*
 * A VM that ended: join its vCPUs, take it off the host budget, remove its
 * swap file and free its RAM, so the VMs still running get the memory.
 */
void vm_reap(struct vm *vm);

/*
 * The main thread's tick (every 100 ms): a balloon_at target that is due,
 * and the guest's memory stats every --balloon-stats.
 */
void vm_balloon_tick(struct vm *vm, uint64_t now_ns);

void vm_destroy(struct vm *vm);

const char *vm_state_name(enum vm_state s);

/* CLOCK_MONOTONIC in ns. */
uint64_t vm_now_ns(void);

/* The vCPU thread's body (vcpu.c). */
void *vcpu_thread(void *arg);

#endif
