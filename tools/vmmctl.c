/*
 * vmmctl: the control socket's client.  `vmmctl [--control PATH] [--json]
 * COMMAND ...` sends one request and prints the reply as a table (or as
 * the JSON itself); `vmmctl top` is a live view of the memory panel, as
 * esxtop's, refreshed each second.
 */
#include "jdom.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY (16u << 20)

static int json_out;

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vmmctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

static void usage(FILE *f)
{
	fputs("usage: vmmctl [--control PATH] [--json] COMMAND [ARGS]\n"
	      "commands:\n"
	      "  list                         the VMs: state, memory, shares, reservation, limit\n"
	      "  stats [VM]                   everything in the stats file, now\n"
	      "  balloon VM SIZE|auto         set VM's balloon target (pinned), or give it back to the policy\n"
	      "  set VM KEY VALUE             KEY: shares, reservation, limit (SIZE or none), zip_max_pct\n"
	      "  host-mem SIZE                the host's memory budget, now\n"
	      "  scan-rate N                  pages a second the sharing scanner hashes\n"
	      "  state                        the host memory state and its thresholds\n"
	      "  swap-latency VM              fault latency by kind, with the histogram's buckets\n"
	      "  regs VM                      where each vCPU is: registers, run state, LAPIC timer\n"
	      "  top [--sort COL] [--batch N] a live view (esxtop's memory panel); keys: q quit,\n"
	      "                               < > sort column, r reverse; --batch: N plain screens\n"
	      "The socket: --control, else $MEMVISOR_CONTROL, else the only memvisor socket in\n"
	      "$XDG_RUNTIME_DIR or /run/memvisor.\n", f);
}

/* The only live socket in dir whose name starts with prefix: 0 found, -1 none; exits on two. */
static int scan_dir(const char *dir, const char *prefix, char *found, size_t cap, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (strncmp(e->d_name, prefix, strlen(prefix)) || l < 5 || strcmp(e->d_name + l - 5, ".sock"))
			continue;
		if ((*n)++)
			die(3, "several VMMs are running (%s and %s/%s): say which with --control", found, dir, e->d_name);
		snprintf(found, cap, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	return 0;
}

static void find_socket(char *path, size_t cap)
{
	const char *env = getenv("MEMVISOR_CONTROL"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n = 0;

	if (env && *env) {
		snprintf(path, cap, "%s", env);
		return;
	}
	if (xdg && *xdg)
		scan_dir(xdg, "memvisor-", path, cap, &n);
	scan_dir("/run/memvisor", "vmm-", path, cap, &n);
	if (!n)
		die(3, "no memvisor control socket found (is build/vmm running? else give --control PATH)");
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(a.sun_path))
		die(3, "socket path too long: %s", path);
	strcpy(a.sun_path, path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die(3, "cannot connect to %s: %s", path, strerror(errno));
	return fd;
}

/* Send one request line, read one reply line (malloc'd), or NULL if the VMM went away. */
static char *request(int fd, const char *req)
{
	size_t cap = 65536, n = 0;
	char *buf;

	/* A send that fails may still leave a reply to read (a VMM that turned us away). */
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) >= 0)
		(void)!send(fd, "\n", 1, MSG_NOSIGNAL);
	buf = malloc(cap);
	while (buf) {
		ssize_t r = read(fd, buf + n, cap - n - 1);
		char *nl;

		if (r <= 0) {
			free(buf);
			return NULL;
		}
		n += (size_t)r;
		buf[n] = '\0';
		if ((nl = memchr(buf, '\n', n))) {
			*nl = '\0';
			return buf;
		}
		if (n + 1 == cap) {
			char *t = cap >= MAX_REPLY ? NULL : realloc(buf, cap *= 2);
			if (!t)
				free(buf);
			buf = t;
		}
	}
	return NULL;
}

/* s as a JSON string into out. */
/* s as a JSON string into out; -1 if it does not fit (never a cut value). */
static int jstr(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	out[n++] = '"';
	for (; *s && n + 8 < cap; s++) {
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		if ((unsigned char)*s < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", (unsigned char)*s);
			continue;
		}
		out[n++] = *s;
	}
	out[n++] = '"';
	out[n] = '\0';
	return *s ? -1 : 0;
}

/* {"cmd":cmd, k1:v1, ...} from pairs of key names and argv values. */
static void build(char *out, size_t cap, const char *cmd, int nargs, const char *const *keys, char **vals)
{
	char v[1024];
	size_t n = (size_t)snprintf(out, cap, "{\"cmd\":\"%s\"", cmd);

	for (int i = 0; i < nargs && n < cap; i++) {
		if (jstr(v, sizeof(v), vals[i]))
			die(2, "argument %d is too long once escaped for JSON", i + 1);
		n += (size_t)snprintf(out + n, cap - n, ",\"%s\":%s", keys[i], v);
	}
	snprintf(out + n, cap - n, "}");
}

static double mb(const struct jval *o, const char *k)
{
	return jdom_num(o, k, 0);
}

static void print_list(const struct jval *r)
{
	const struct jval *vms = jdom_get(r, "vms");

	printf("%-16s %-8s %8s %5s %7s %9s %9s %s\n", "NAME", "STATE", "MEM MB", "VCPU", "SHARES", "RESV MB",
	       "LIMIT MB", "BALLOON");
	for (size_t i = 0; vms && i < vms->n; i++) {
		const struct jval *v = &vms->items[i];
		const struct jval *b = jdom_get(v, "balloon");
		char limit[32] = "none";

		if (mb(v, "limit_mb") > 0)
			snprintf(limit, sizeof(limit), "%.0f", mb(v, "limit_mb"));
		printf("%-16s %-8s %8.0f %5.0f %7.0f %9.0f %9s %s\n", jdom_str(v, "name", "?"), jdom_str(v, "state", "?"),
		       mb(v, "mem_mb"), mb(v, "vcpus"), mb(v, "shares"), mb(v, "reservation_mb"), limit,
		       !b || !b->num ? "none" : jdom_num(v, "balloon_pinned", 0) ? "pinned" : "policy");
	}
}

static void print_pairs(const struct jval *o)
{
	for (size_t i = 0; i < o->n; i++) {
		const struct jval *v = &o->items[i];

		if (v->type == J_NUM)
			printf("  %-22s %.10g\n", o->keys[i], v->num);
		else if (v->type == J_STR)
			printf("  %-22s %s\n", o->keys[i], v->str);
		else if (v->type == J_BOOL)
			printf("  %-22s %s\n", o->keys[i], v->num ? "true" : "false");
	}
}

static void print_stats(const struct jval *r)
{
	const struct jval *st = jdom_get(r, "stats");

	for (size_t i = 0; st && i < st->n; i++) {
		const struct jval *o = &st->items[i];

		if (jdom_get(o, "host"))
			printf("host (t=%.1f s)\n", mb(o, "t"));
		else
			printf("vm %s (t=%.1f s)\n", jdom_str(o, "vm", "?"), mb(o, "t"));
		print_pairs(o);
	}
}

static void print_state(const struct jval *r)
{
	const struct jval *th = jdom_get(r, "thresholds");

	printf("state %s: free %.1f MiB of a %.1f MiB budget (minFree %.1f MiB), %.0f state changes, %.0f faults held\n",
	       jdom_str(r, "state", "?"), mb(r, "free_mb"), mb(r, "budget_mb"), mb(r, "min_free_mb"),
	       mb(r, "transitions"), mb(r, "blocked_faults"));
	printf("%-6s %16s %16s %12s\n", "STATE", "ENTER BELOW MB", "LEAVE AT MB", "SECONDS IN");
	printf("%-6s %16s %16s %12.1f\n", "high", "-", "-", jdom_num(jdom_get(r, "seconds_in"), "high", 0));
	for (size_t i = 0; th && i < th->n; i++) {
		const char *name = jdom_str(&th->items[i], "state", "?");

		printf("%-6s %16.2f %16.2f %12.1f\n", name, mb(&th->items[i], "enter_below_mb"),
		       mb(&th->items[i], "leave_at_mb"), jdom_num(jdom_get(r, "seconds_in"), name, 0));
	}
}

static void print_latency(const struct jval *r)
{
	const struct jval *k = jdom_get(r, "kinds");

	printf("fault latency of VM %s\n%-8s %10s %10s %10s %10s\n", jdom_str(r, "vm", "?"), "KIND", "COUNT", "P50 US",
	       "P99 US", "MAX US");
	for (size_t i = 0; k && i < k->n; i++) {
		const struct jval *o = &k->items[i];
		const struct jval *b = jdom_get(o, "buckets");

		printf("%-8s %10.0f %10.1f %10.1f %10.1f\n", jdom_str(o, "kind", "?"), mb(o, "count"), mb(o, "p50_us"),
		       mb(o, "p99_us"), mb(o, "max_us"));
		for (size_t j = 0; b && j < b->n; j++)
			if (b->items[j].type == J_ARR && b->items[j].n == 2)
				printf("    <= %10.1f us %10.0f\n", b->items[j].items[0].num / 1e3, b->items[j].items[1].num);
	}
}

static void print_regs(const struct jval *r)
{
	const struct jval *v = jdom_get(r, "vcpus");

	for (size_t i = 0; v && i < v->n; i++)
		printf("VM %s vCPU %.0f%s:\n%s\n", jdom_str(r, "vm", "?"), jdom_num(&v->items[i], "vcpu", 0),
		       jdom_num(&v->items[i], "answered", 0) ? "" : " (did not answer)",
		       jdom_str(&v->items[i], "text", ""));
}

/* ---- top ------------------------------------------------------------------------ */

struct col {
	const char *name;
	int width;
	const char *key;     /* stats field, or NULL for a computed one */
};

/* esxtop's memory panel, in the order columns are dropped from the right on a narrow terminal. */
static const struct col cols[] = {
	{ "MEMSZ", 7, "memsz_mb" }, { "SZTGT", 7, "sztgt_mb" }, { "TCHD", 7, "tchd_mb" }, { "%ACTV", 6, NULL },
	{ "MCTLSZ", 7, "mctlsz_mb" }, { "MCTLTGT", 8, "mctltgt_mb" }, { "SWCUR", 7, "swcur_mb" },
	{ "SWR/s", 7, "swr_s" }, { "SWW/s", 7, "sww_s" }, { "ZIP/s", 7, "zip_s" }, { "UNZIP/s", 8, "unzip_s" },
	{ "SHRD", 7, "shrd_mb" }, { "ZERO", 7, "zero_mb" }, { "SHRDSVD", 8, "shrdsvd_mb" },
	{ "CACHEUSD", 9, "zip_cache_mb" }, { "OVHD", 7, "ovhd_mb" },
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))
#define NAME_W 12

static double colval(const struct jval *vm, unsigned c)
{
	if (!cols[c].key) {
		double memsz = mb(vm, "memsz_mb");
		return memsz > 0 ? 100.0 * mb(vm, "tchd_mb") / memsz : 0;
	}
	return mb(vm, cols[c].key);
}

static unsigned sort_col;
static int sort_rev;

static int cmp_rows(const void *a, const void *b)
{
	double x = colval(*(const struct jval *const *)a, sort_col), y = colval(*(const struct jval *const *)b, sort_col);
	int r = x < y ? 1 : x > y ? -1 : 0;  /* largest first, as esxtop */

	return sort_rev ? -r : r;
}

static int term_width(void)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	/* Not a terminal (a log, a pipe): every column, unless COLUMNS says otherwise. */
	return c && atoi(c) > 0 ? atoi(c) : 1000;
}

/* One screen: the host line, the column heads, a row per VM. */
static void draw(const struct jval *r, int interactive)
{
	const struct jval *st = jdom_get(r, "stats"), *host = NULL;
	const struct jval *rows[256];
	size_t nrows = 0;
	int width = term_width(), used = NAME_W;
	unsigned shown = 0;
	double swcur = 0, swr = 0, mctl = 0, mctltgt = 0;
	char line[512];
	int n;

	for (size_t i = 0; st && i < st->n; i++) {
		if (jdom_get(&st->items[i], "host"))
			host = &st->items[i];
		else if (nrows < 256 && !strcmp(jdom_str(&st->items[i], "run_state", ""), "running"))
			rows[nrows++] = &st->items[i];
	}
	for (size_t i = 0; i < nrows; i++) {
		swcur += mb(rows[i], "swcur_mb");
		swr += mb(rows[i], "swr_s");
		mctl += mb(rows[i], "mctlsz_mb");
		mctltgt += mb(rows[i], "mctltgt_mb");
	}
	while (shown < NCOLS && used + cols[shown].width + 1 <= width)
		used += cols[shown++].width + 1;
	if (sort_col >= shown)
		sort_col = 0;
	qsort(rows, nrows, sizeof(rows[0]), cmp_rows);
	if (interactive)
		fputs("\033[H\033[2J", stdout);
	if (host) {
		n = snprintf(line, sizeof(line), "t=%.0fs MEM state %s  budget %.0f MB  free %.0f MB  minFree %.0f MB",
			     mb(host, "t"), jdom_str(host, "state", "?"), mb(host, "budget_mb"), mb(host, "free_mb"),
			     mb(host, "min_free_mb"));
		printf("%.*s\n", width, line);
		n = snprintf(line, sizeof(line), "PSHARE/MB shared %.0f common %.0f saving %.0f   ZIP/MB zipped %.0f saved %.0f",
			     mb(host, "pshare_shared_mb"), mb(host, "pshare_common_mb"), mb(host, "pshare_saving_mb"),
			     mb(host, "zip_mb"), mb(host, "zipsaved_mb"));
		printf("%.*s\n", width, line);
		n = snprintf(line, sizeof(line), "SWAP/MB curr %.0f  r/s %.0f   MEMCTL/MB curr %.0f target %.0f",
			     swcur, swr, mctl, mctltgt);
		printf("%.*s\n", width, line);
		(void)n;
	}
	putchar('\n');
	printf("%-*s", NAME_W, "NAME");
	for (unsigned c = 0; c < shown; c++)
		printf(" %s%*s%s", c == sort_col && interactive ? "\033[7m" : "", cols[c].width, cols[c].name,
		       c == sort_col && interactive ? "\033[0m" : "");
	putchar('\n');
	for (size_t i = 0; i < nrows; i++) {
		printf("%-*.*s", NAME_W, NAME_W, jdom_str(rows[i], "vm", "?"));
		for (unsigned c = 0; c < shown; c++)
			printf(" %*.*f", cols[c].width, cols[c].key && strstr(cols[c].key, "_s") ? 0 : 1, colval(rows[i], c));
		putchar('\n');
	}
	if (shown < NCOLS)
		printf("(%u more columns: widen the terminal)\n", (unsigned)(NCOLS - shown));
	if (interactive)
		printf("sorted by %s%s; q quit, < > sort column, r reverse\n", cols[sort_col].name,
		       sort_rev ? " (smallest first)" : "");
	fflush(stdout);
}

static struct termios saved;
static int raw_on;

static void raw_off(void)
{
	if (raw_on) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fputs("\033[?25h", stdout);
		fflush(stdout);
	}
	raw_on = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	raw_off();
	_exit(0);
}

static int top(int fd, int argc, char **argv)
{
	long batch = -1;
	int interactive;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			batch = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--sort") && i + 1 < argc) {
			unsigned c;
			for (c = 0; c < NCOLS && strcasecmp(cols[c].name, argv[i + 1]); c++)
				;
			if (c == NCOLS)
				die(2, "top: no column '%s'", argv[i + 1]);
			sort_col = c;
			i++;
		} else {
			die(2, "top: unknown argument '%s' (--sort COL, --batch N)", argv[i]);
		}
	}
	interactive = batch < 0 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (interactive) {
		struct termios t;

		tcgetattr(STDIN_FILENO, &saved);
		t = saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
		raw_on = 1;
		atexit(raw_off);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		fputs("\033[?25l", stdout);
	}
	for (long k = 0; batch < 0 || k < batch; k++) {
		char *reply = request(fd, "{\"cmd\":\"stats\"}");
		struct jval *r;
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		struct timespec until, now;

		if (!reply) {
			raw_off();
			printf("the VMM has ended\n");
			return 0;
		}
		r = jdom_parse(reply);
		if (r && jdom_num(r, "ok", 0))
			draw(r, interactive);
		else if (!interactive)
			printf("(no stats yet)\n");
		jdom_free(r);
		free(r);
		free(reply);
		if (!interactive) {
			putchar('\n');
			if (batch < 0 || k + 1 < batch)
				sleep(1);
			continue;
		}
		/* Keys for a second, then the next screen. */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		for (;;) {
			long ms;
			char ch;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (until.tv_sec - now.tv_sec) * 1000 + (until.tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0 || poll(&p, 1, (int)ms) <= 0)
				break;
			if (read(STDIN_FILENO, &ch, 1) != 1)
				break;
			if (ch == 'q')
				return 0;
			if (ch == '>')
				sort_col = (sort_col + 1) % NCOLS;
			else if (ch == '<')
				sort_col = (sort_col + NCOLS - 1) % NCOLS;
			else if (ch == 'r')
				sort_rev = !sort_rev;
			else
				continue;
			break;  /* redraw at once */
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const k_vm[] = { "vm" }, *const k_balloon[] = { "vm", "size" },
				 *const k_set[] = { "vm", "key", "value" }, *const k_size[] = { "size" },
				 *const k_rate[] = { "rate" };
	static const struct {
		const char *name;
		int min, max;
		const char *const *keys;
	} cmds[] = {
		{ "list", 0, 0, NULL }, { "stats", 0, 1, k_vm }, { "balloon", 2, 2, k_balloon }, { "set", 3, 3, k_set },
		{ "host-mem", 1, 1, k_size }, { "scan-rate", 1, 1, k_rate }, { "state", 0, 0, NULL },
		{ "swap-latency", 1, 1, k_vm }, { "regs", 1, 1, k_vm },
	};
	char path[512] = "", req[8192];
	const char *cmd;
	char *reply;
	struct jval *r;
	int i = 1, fd, nargs, ok;
	unsigned c;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--control") && i + 1 < argc)
			snprintf(path, sizeof(path), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json_out = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[i++];
	if (!strcmp(cmd, "top")) {
		if (!*path)
			find_socket(path, sizeof(path));
		return top(connect_to(path), argc - i, argv + i);
	}
	/* A mistyped command is told as such, before any socket is looked for. */
	for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmds[c].name, cmd); c++)
		;
	if (c == sizeof(cmds) / sizeof(cmds[0])) {
		fprintf(stderr, "vmmctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	nargs = argc - i;
	if (nargs < cmds[c].min || nargs > cmds[c].max)
		die(2, "%s takes %d to %d arguments (vmmctl --help)", cmd, cmds[c].min, cmds[c].max);
	/* The VMM takes values of up to 255 bytes: say so here rather than send a cut one. */
	for (int a = i; a < argc; a++)
		if (strlen(argv[a]) > 255)
			die(2, "an argument is longer than 255 bytes: %.40s...", argv[a]);
	build(req, sizeof(req), cmd, nargs, cmds[c].keys, argv + i);
	if (!*path)
		find_socket(path, sizeof(path));
	fd = connect_to(path);
	reply = request(fd, req);
	if (!reply)
		die(3, "the VMM closed the connection without a reply");
	r = jdom_parse(reply);
	if (!r)
		die(3, "the VMM's reply is not JSON: %.200s", reply);
	ok = jdom_num(r, "ok", 0) != 0;
	if (json_out)
		puts(reply);
	else if (!ok)
		fprintf(stderr, "vmmctl: %s\n", jdom_str(r, "error", "failed"));
	else if (!strcmp(cmd, "list"))
		print_list(r);
	else if (!strcmp(cmd, "stats"))
		print_stats(r);
	else if (!strcmp(cmd, "state"))
		print_state(r);
	else if (!strcmp(cmd, "swap-latency"))
		print_latency(r);
	else if (!strcmp(cmd, "regs"))
		print_regs(r);
	else
		printf("ok: %s\n", reply);
	jdom_free(r);
	free(r);
	free(reply);
	close(fd);
	return ok ? 0 : 1;
}
