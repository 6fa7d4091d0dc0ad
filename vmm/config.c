#include "config.h"
#include "size.h"
#include "../mm/guest_mem.h"
#include "../mm/share_scan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int config_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= CONFIG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return 0;
	}
	return 1;
}

static int parse_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Seconds with up to 3 decimals, 0.001-3600, as milliseconds. */
static int parse_millis(const char *s, unsigned *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.001 && v <= 3600))
		return -1;
	*ms = (unsigned)(v * 1000 + 0.5);
	return 0;
}

/* One "key=value" item of a --vm list; key and value are NUL-terminated. */
static int vm_set_key(struct vm_config *vm, const char *key, char *value,
		      unsigned *seen, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "mem", "kernel", "vcpus", "zip_max_pct", "share_group",
					    "share_rate", "balloon", "shares", "reservation", "limit", "balloon_at",
					    "initrd" };
	char serr[160];
	unsigned bit = 0;

	for (bit = 0; bit < sizeof(keys) / sizeof(keys[0]); bit++)
		if (!strcmp(key, keys[bit]))
			break;
	if (bit == sizeof(keys) / sizeof(keys[0]))
		return ERR("--vm: unknown key '%s' (known: name, mem, kernel, vcpus, zip_max_pct, share_group, "
			   "share_rate, balloon, shares, reservation, limit, balloon_at, initrd)", key);
	if (*seen & (1u << bit))
		return ERR("--vm: key '%s' given twice", key);
	*seen |= 1u << bit;
	if (!*value)
		return ERR("--vm: key '%s' has an empty value", key);

	switch (bit) {
	case 0:
		if (!config_valid_name(value))
			return ERR("--vm: bad name '%s': use 1-%d characters of A-Z a-z 0-9 _ . -",
				   value, CONFIG_NAME_MAX - 1);
		snprintf(vm->name, sizeof(vm->name), "%s", value);
		return 0;
	case 1:
		if (size_parse(value, &vm->mem, serr, sizeof(serr)))
			return ERR("--vm mem: %s", serr);
		return 0;
	case 2:
		if (strlen(value) >= CONFIG_PATH_MAX)
			return ERR("--vm kernel: path too long");
		vm->kernel = value;
		return 0;
	case 3:
		if (parse_uint(value, 1, CONFIG_MAX_VCPUS, &vm->vcpus))
			return ERR("--vm: bad vcpus '%s': expected 1-%d", value, CONFIG_MAX_VCPUS);
		return 0;
	case 4:
		if (parse_uint(value, 0, 100, &vm->zip_max_pct))
			return ERR("--vm: bad zip_max_pct '%s': expected 0-100", value);
		return 0;
	case 5:
		if (parse_uint(value, 0, CONFIG_MAX_GROUP, &vm->share_group))
			return ERR("--vm: bad share_group '%s': expected 0-%d", value, CONFIG_MAX_GROUP);
		return 0;
	case 6:
		if (parse_uint(value, 100, 10000000, &vm->share_rate))
			return ERR("--vm: bad share_rate '%s': expected 100-10000000 pages a second", value);
		return 0;
	case 7:
		if (size_parse(value, &vm->balloon, serr, sizeof(serr)) || vm->balloon % 4096)
			return ERR("--vm: bad balloon '%s': a size in whole 4 KiB pages", value);
		vm->balloon_pinned = 1;
		return 0;
	case 8:
		if (parse_uint(value, 1, 1000000, &vm->shares))
			return ERR("--vm: bad shares '%s': expected 1-1000000", value);
		return 0;
	case 9:
		if (size_parse(value, &vm->reservation, serr, sizeof(serr)))
			return ERR("--vm reservation: %s", serr);
		return 0;
	case 10:
		if (size_parse(value, &vm->limit, serr, sizeof(serr)) || vm->limit == 0)
			return ERR("--vm: bad limit '%s': a size above 0", value);
		return 0;
	case 12:
		if (strlen(value) >= CONFIG_PATH_MAX)
			return ERR("--vm initrd: path too long");
		vm->initrd = value;
		return 0;
	default: {
		char *colon = strchr(value, ':');
		unsigned ms;

		if (!colon)
			return ERR("--vm: bad balloon_at '%s': SECS:SIZE, e.g. 2.5:0", value);
		*colon = '\0';
		if (parse_millis(value, &ms) || ms == 0 || size_parse(colon + 1, &vm->balloon_at, serr, sizeof(serr)) ||
		    vm->balloon_at % 4096)
			return ERR("--vm: bad balloon_at '%s:%s': SECS (0.001-3600) then a size in whole 4 KiB pages",
				   value, colon + 1);
		vm->balloon_at_ns = ms * 1000000ULL;
		vm->balloon_pinned = 1;
		return 0;
	}
	}
}

/* Parse "name=a,mem=64M,...": the string is modified in place. */
static int parse_vm_spec(char *spec, struct vm_config *vm, char *err, size_t errlen)
{
	unsigned seen = 0;
	char *save = NULL;

	memset(vm, 0, sizeof(*vm));
	vm->vcpus = 1;
	vm->zip_max_pct = GM_DEFAULT_ZIP_MAX_PCT;
	if (!*spec)
		return ERR("--vm: empty specification");
	for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (!eq)
			return ERR("--vm: '%s' is not key=value", item);
		*eq = '\0';
		if (vm_set_key(vm, item, eq + 1, &seen, err, errlen))
			return -1;
	}
	if (!(seen & 1u))
		return ERR("--vm: name= is required");
	if (!(seen & 2u))
		return ERR("--vm %s: mem= is required", vm->name);
	return 0;
}

/* "--opt VALUE" or "--opt=VALUE": returns the value or NULL, advancing *i. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt,
			     int *matched, char *err, size_t errlen)
{
	size_t n = strlen(opt);
	const char *a = argv[*i];

	*matched = 0;
	if (strncmp(a, opt, n) != 0)
		return NULL;
	if (a[n] == '=') {
		*matched = 1;
		return a + n + 1;
	}
	if (a[n] != '\0')
		return NULL;
	*matched = 1;
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "%s needs a value", opt);
		return NULL;
	}
	return argv[++*i];
}

void config_free(struct host_config *cfg)
{
	for (unsigned i = 0; i < cfg->nvms; i++) {
		free(cfg->vms[i].spec);
		cfg->vms[i].spec = NULL;
	}
}

int config_parse_run(int argc, char **argv, struct host_config *cfg,
		     char *err, size_t errlen)
{
	struct vm_config single = { .name = "vm0", .vcpus = 1, .zip_max_pct = GM_DEFAULT_ZIP_MAX_PCT };
	int have_single = 0, have_mem = 0, append_for = -1;
	char serr[160];

	memset(cfg, 0, sizeof(*cfg));
	cfg->compress = 1;
	cfg->share = 1;
	cfg->balloon = 1;
	cfg->idle_tax_pct = 75;
	cfg->balloon_stats_ms = 1000;
	cfg->share_rate = SHARE_DEFAULT_RATE;
	cfg->share_cpu_pct = SHARE_DEFAULT_CPU_PCT;
	cfg->zip_level = ZIP_DEFAULT_LEVEL;
	cfg->zip_threshold = GM_DEFAULT_ZIP_THRESHOLD;
	cfg->fault_poll_us = FAULT_POLL_DEFAULT_US;
	for (int i = 0; i < argc; i++) {
		const char *v;
		int m;

#define OPTION(name) ((v = opt_value(argc, argv, &i, name, &m, err, errlen)), m)
		if (OPTION("--host-mem")) {
			if (!v)
				return -1;
			if (size_parse(v, &cfg->host_mem, serr, sizeof(serr)))
				return ERR("--host-mem: %s", serr);
			if (cfg->host_mem == 0)
				return ERR("--host-mem: must be more than 0");
		} else if (OPTION("--fault-service")) {
			if (!v)
				return -1;
			if (!strcmp(v, "auto"))
				cfg->fault_service = FAULT_SERVICE_AUTO;
			else if (!strcmp(v, "thread"))
				cfg->fault_service = FAULT_SERVICE_THREAD;
			else if (!strcmp(v, "vcpu"))
				cfg->fault_service = FAULT_SERVICE_VCPU;
			else
				return ERR("--fault-service: '%s' is not auto, thread or vcpu", v);
		} else if (OPTION("--swap-backend")) {
			if (!v)
				return -1;
			if (!strcmp(v, "file"))
				cfg->kernel_swap = 0;
			else if (!strcmp(v, "kernel"))
				cfg->kernel_swap = 1;
			else
				return ERR("--swap-backend: '%s' is not file or kernel", v);
		} else if (!strcmp(argv[i], "--swap-encrypt")) {
			cfg->swap_encrypt = 1;
		} else if (!strcmp(argv[i], "--no-compress")) {
			cfg->compress = 0;
		} else if (!strcmp(argv[i], "--no-balloon")) {
			cfg->balloon = 0;
		} else if (OPTION("--idle-tax")) {
			if (!v)
				return -1;
			if (parse_uint(v, 0, 99, &cfg->idle_tax_pct))
				return ERR("--idle-tax: '%s' is not a percentage from 0 to 99", v);
		} else if (OPTION("--balloon-stats")) {
			if (!v)
				return -1;
			if (strcmp(v, "0") && parse_millis(v, &cfg->balloon_stats_ms))
				return ERR("--balloon-stats: '%s' is not 0 or 0.001-3600 seconds", v);
			if (!strcmp(v, "0"))
				cfg->balloon_stats_ms = 0;
		} else if (!strcmp(argv[i], "--no-share")) {
			cfg->share = 0;
		} else if (!strcmp(argv[i], "--ksm")) {
			cfg->ksm = 1;
		} else if (OPTION("--share-rate")) {
			if (!v)
				return -1;
			if (parse_uint(v, 100, 10000000, &cfg->share_rate))
				return ERR("--share-rate: '%s' is not a number of pages a second from 100 to 10000000", v);
		} else if (OPTION("--share-cpu")) {
			if (!v)
				return -1;
			if (parse_uint(v, 1, 100, &cfg->share_cpu_pct))
				return ERR("--share-cpu: '%s' is not a percentage of one CPU from 1 to 100", v);
		} else if (OPTION("--zip-level")) {
			char *end;
			long n;
			if (!v)
				return -1;
			errno = 0;
			n = strtol(v, &end, 10);
			if (errno || end == v || *end || n < ZIP_LEVEL_MIN || n > ZIP_LEVEL_MAX)
				return ERR("--zip-level: '%s' is not a zstd level from %d to %d", v,
					   ZIP_LEVEL_MIN, ZIP_LEVEL_MAX);
			cfg->zip_level = (int)n;
		} else if (OPTION("--zip-threshold")) {
			if (!v)
				return -1;
			if (parse_uint(v, 64, GM_ZIP_THRESHOLD_MAX, &cfg->zip_threshold))
				return ERR("--zip-threshold: '%s' is not a number of bytes from 64 to %u", v,
					   GM_ZIP_THRESHOLD_MAX);
		} else if (OPTION("--prefetch")) {
			if (!v)
				return -1;
			if (parse_uint(v, 1, SWAP_READ_MAX, &cfg->prefetch))
				return ERR("--prefetch: '%s' is not a number of pages from 1 to %d", v, SWAP_READ_MAX);
		} else if (OPTION("--fault-poll-us")) {
			if (!v)
				return -1;
			if (parse_uint(v, 0, FAULT_POLL_MAX_US, &cfg->fault_poll_us))
				return ERR("--fault-poll-us: '%s' is not a number of microseconds from 0 to %d", v,
					   FAULT_POLL_MAX_US);
		} else if (OPTION("--swap-dir")) {
			if (!v)
				return -1;
			if (!*v)
				return ERR("--swap-dir: empty directory name");
			cfg->swap_dir = v;
		} else if (OPTION("--control")) {
			if (!v)
				return -1;
			if (!*v)
				return ERR("--control: empty socket path");
			cfg->control_path = v;
		} else if (OPTION("--stats")) {
			if (!v)
				return -1;
			if (!*v)
				return ERR("--stats: empty file name");
			cfg->stats_path = v;
		} else if (OPTION("--vm")) {
			char *copy;
			if (!v)
				return -1;
			if (have_single && !have_mem && !single.kernel)
				return ERR("--append must follow the --vm it applies to (or use --mem)");
			if (have_single)
				return ERR("--vm cannot be mixed with --mem/--kernel");
			if (cfg->nvms == CONFIG_MAX_VMS)
				return ERR("too many VMs (at most %d)", CONFIG_MAX_VMS);
			/* Parse a copy: argv stays intact for ps and error messages. */
			copy = strdup(v);
			if (!copy)
				return ERR("out of memory");
			if (parse_vm_spec(copy, &cfg->vms[cfg->nvms], err, errlen)) {
				free(copy);
				return -1;
			}
			cfg->vms[cfg->nvms].spec = copy;
			append_for = (int)cfg->nvms++;
			for (int j = 0; j < append_for; j++)
				if (!strcmp(cfg->vms[j].name, cfg->vms[append_for].name))
					return ERR("two VMs are named '%s'", cfg->vms[j].name);
		} else if (OPTION("--append")) {
			struct vm_config *target;
			if (!v)
				return -1;
			/* Before any --vm it belongs to the --mem shorthand VM. */
			target = append_for >= 0 ? &cfg->vms[append_for] : &single;
			if (target->append)
				return ERR("--append given twice for VM '%s'", target->name);
			target->append = v;
			have_single |= (target == &single);
		} else if (OPTION("--mem")) {
			if (!v)
				return -1;
			if (cfg->nvms)
				return ERR("--mem cannot be mixed with --vm");
			if (have_mem)
				return ERR("--mem given twice");
			if (size_parse(v, &single.mem, serr, sizeof(serr)))
				return ERR("--mem: %s", serr);
			have_mem = have_single = 1;
		} else if (OPTION("--kernel")) {
			if (!v)
				return -1;
			if (cfg->nvms)
				return ERR("--kernel cannot be mixed with --vm (use kernel= in --vm)");
			if (single.kernel)
				return ERR("--kernel given twice");
			if (!*v)
				return ERR("--kernel: empty file name");
			single.kernel = v;
			have_single = 1;
		} else if (OPTION("--initrd")) {
			if (!v)
				return -1;
			if (cfg->nvms)
				return ERR("--initrd cannot be mixed with --vm (use initrd= in --vm)");
			if (single.initrd)
				return ERR("--initrd given twice");
			if (!*v)
				return ERR("--initrd: empty file name");
			single.initrd = v;
			have_single = 1;
		} else {
			if (argv[i][0] == '-')
				return ERR("unknown option '%s' (see vmm --help)", argv[i]);
			return ERR("unexpected argument '%s' (see vmm --help)", argv[i]);
		}
#undef OPTION
	}
	if (have_single) {
		if (!have_mem)
			return ERR("--mem SIZE is required");
		cfg->vms[0] = single;
		cfg->nvms = 1;
	}
	if (cfg->nvms == 0)
		return ERR("no VM given: use --vm name=NAME,mem=SIZE or --mem SIZE");
	if (cfg->swap_encrypt && cfg->kernel_swap)
		return ERR("--swap-encrypt: the kernel swap backend writes no swap file of ours to encrypt "
			   "(use dm-crypt on the host's swap)");
	return 0;
}
