/*
 * The command line of `vmm run`, parsed into a host configuration.
 * Pure: no KVM, no files opened; every error is a one-line message.
 */
#ifndef MEMVISOR_CONFIG_H
#define MEMVISOR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_VMS      64
#define CONFIG_NAME_MAX     32      /* including the NUL */
#define CONFIG_MAX_VCPUS    64
#define CONFIG_PATH_MAX     4096
#define CONFIG_MAX_GROUP    1000000

struct vm_config {
	char name[CONFIG_NAME_MAX];
	uint64_t mem;               /* bytes of guest RAM */
	const char *kernel;         /* NULL: the default test guest */
	const char *initrd;         /* a Linux guest's initramfs, NULL: none */
	unsigned vcpus;
	unsigned zip_max_pct;       /* compression cache cap, % of mem (default 10) */
	unsigned share_group;       /* pages are shared only within a group (default 0) */
	unsigned share_rate;        /* the scanner's most pages a second in this VM (0: no cap) */
	uint64_t balloon;           /* balloon=SIZE: a target pinned from the start, bytes */
	int balloon_pinned;         /* balloon= or balloon_at= given: the policy leaves this balloon alone */
	uint64_t balloon_at_ns;     /* balloon_at=SECS:SIZE: when the pinned target changes (0: never) */
	uint64_t balloon_at;        /*   and to what, bytes */
	unsigned shares;            /* shares=N (default ALLOC_DEFAULT_SHARES) */
	uint64_t reservation, limit; /* bytes; limit 0: none */
	int no_balloon;             /* from the host's --no-balloon */
	unsigned balloon_stats_ms;  /* from the host's --balloon-stats */
	const char *append;         /* guest command line, NULL: empty */
	char *spec;                 /* owned copy of the --vm text (kernel points in) */
};

/* Who serves guest page faults: detected, or forced. */
enum { FAULT_SERVICE_AUTO, FAULT_SERVICE_THREAD, FAULT_SERVICE_VCPU };

struct host_config {
	uint64_t host_mem;          /* 0: not given */
	const char *stats_path;     /* NULL: no stats file */
	const char *control_path;   /* --control; NULL: the default place (control.h) */
	const char *swap_dir;       /* NULL: a fresh temporary directory */
	int fault_service;          /* FAULT_SERVICE_* */
	unsigned prefetch;          /* swapped pages read per swap-in fault; 0: default */
	unsigned fault_poll_us;     /* longest spin of a fault thread for its next fault; 0: none */
	int kernel_swap;            /* --swap-backend kernel: MADV_PAGEOUT to host swap */
	int compress;               /* compression cache on (default; --no-compress) */
	int swap_encrypt;           /* --swap-encrypt: swap-file pages sealed with a per-run key */
	int share;                  /* page-sharing scanner on (default; --no-share) */
	unsigned share_rate;        /* --share-rate: pages a second, host-wide */
	unsigned share_cpu_pct;     /* --share-cpu: the most of one CPU the scanner uses */
	int ksm;                    /* --ksm: guest RAM MADV_MERGEABLE (the KSM peer) */
	int balloon;                /* a virtio-balloon in every VM (default; --no-balloon) */
	unsigned idle_tax_pct;      /* --idle-tax: tau in percent (default 75) */
	unsigned balloon_stats_ms;  /* --balloon-stats: guest stats polled this often (0: never) */
	int zip_level;              /* --zip-level: zstd level */
	unsigned zip_threshold;     /* --zip-threshold: bytes a page must shrink to */
	unsigned nvms;
	struct vm_config vms[CONFIG_MAX_VMS];
};

/*
 * Parse the arguments that follow "run".  Strings in the result point into
 * argv or into copies freed by config_free.  Returns 0, or -1 with the
 * reason in err.
 */
int config_parse_run(int argc, char **argv, struct host_config *cfg,
		     char *err, size_t errlen);

/* Free what config_parse_run allocated (safe on a failed parse too). */
void config_free(struct host_config *cfg);

/* Check a VM name: 1-31 characters of [A-Za-z0-9_.-]. */
int config_valid_name(const char *name);

#endif
