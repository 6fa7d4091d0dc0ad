#include "leftovers.h"

#include "console.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A process's name as the kernel keeps it (comm), or "" when unknown. */
static void comm_of(const char *pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

int leftovers_owner_gone(int pid)
{
	char mine[32], theirs[32], p[16];

	if (pid <= 0 || pid == (int)getpid())
		return 0;
	if (kill(pid, 0) && errno == ESRCH)
		return 1;
	/* Alive: a VMM still, or a pid handed on to some other program? */
	comm_of("self", mine, sizeof(mine));
	snprintf(p, sizeof(p), "%d", pid);
	comm_of(p, theirs, sizeof(theirs));
	return mine[0] && theirs[0] && strcmp(mine, theirs) != 0;
}

int leftovers_other_vmm(void)
{
	char mine[32], theirs[32];
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;

	comm_of("self", mine, sizeof(mine));
	while (d && !found && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		comm_of(e->d_name, theirs, sizeof(theirs));
		if (mine[0] && !strcmp(mine, theirs))
			found = (int)pid;
	}
	if (d)
		closedir(d);
	return found;
}

/* The pid in NAME if it is "<prefix><pid><suffix-start>...", else 0. */
static int pid_in(const char *name, const char *prefix, char after)
{
	size_t n = strlen(prefix);
	char *end;
	long pid;

	if (strncmp(name, prefix, n) || name[n] < '1' || name[n] > '9')
		return 0;
	pid = strtol(name + n, &end, 10);
	if (*end != after || pid <= 0 || pid > 0x3fffffff)
		return 0;
	return (int)pid;
}

static int ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

/* A swap file of a gone VMM ("memvisor-<pid>-<name>.swap"): its pid, else 0. */
static int stale_swap_file(const char *name)
{
	int pid = pid_in(name, "memvisor-", '-');

	return pid && ends_with(name, ".swap") && leftovers_owner_gone(pid) ? pid : 0;
}

/* Remove the stale swap files directly in the directory dfd; 1 if anything else is there. */
static int sweep_files(int dfd, const char *where, int only_pid, struct leftovers *out)
{
	DIR *d = fdopendir(dup(dfd));
	struct dirent *e;
	int other = 0;

	if (!d)
		return 1;
	while ((e = readdir(d))) {
		struct stat st;
		int pid;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		pid = stale_swap_file(e->d_name);
		if (!pid || (only_pid && pid != only_pid) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid() || unlinkat(dfd, e->d_name, 0)) {
			other = 1;
			continue;
		}
		out->files++;
		out->bytes += (uint64_t)st.st_blocks * 512;
		console_log(NULL, "removed swap file '%s/%s' (%.1f MiB) of VMM %d, which is gone", where,
			    e->d_name, (double)st.st_blocks * 512 / 1048576.0, pid);
	}
	closedir(d);
	return other;
}

/* The directory at path, as a descriptor for the *at() calls and a stream to list it; NULL if neither. */
static DIR *open_dir(const char *path, int *fd)
{
	DIR *d;

	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	d = fdopendir(dup(*fd));
	if (!d)
		close(*fd);
	return d;
}

static void sweep_swap_base(const char *base, struct leftovers *out)
{
	int bfd;
	DIR *d = open_dir(base, &bfd);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int pid = pid_in(e->d_name, "memvisor-swap-", '-');
		char where[4096];
		struct stat st;
		int dfd;

		if (!pid || !leftovers_owner_gone(pid) ||
		    fstatat(bfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid())
			continue;
		dfd = openat(bfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue;
		snprintf(where, sizeof(where), "%s/%s", base, e->d_name);
		/* Only the files that VMM made: a directory holding anything else stays. */
		if (sweep_files(dfd, where, pid, out)) {
			console_log(NULL, "left '%s' of VMM %d, which is gone, in place: it holds files memvisor did not make",
				    where, pid);
		} else if (!unlinkat(bfd, e->d_name, AT_REMOVEDIR)) {
			out->dirs++;
			console_log(NULL, "removed swap directory '%s' of VMM %d, which is gone", where, pid);
		}
		close(dfd);
	}
	closedir(d);
	/* Swap files made straight in this directory (an older --swap-dir run). */
	(void)sweep_files(bfd, base, 0, out);
	close(bfd);
}

static void sweep_sockets(const char *dir, const char *prefix, struct leftovers *out)
{
	int dfd;
	DIR *d = open_dir(dir, &dfd);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int pid = pid_in(e->d_name, prefix, '.');
		struct stat st;

		if (!pid || strcmp(strchr(e->d_name + strlen(prefix), '.'), ".sock") ||
		    !leftovers_owner_gone(pid) || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISSOCK(st.st_mode) || st.st_uid != geteuid() || unlinkat(dfd, e->d_name, 0))
			continue;
		out->sockets++;
		console_log(NULL, "removed control socket '%s/%s' of VMM %d, which is gone", dir, e->d_name, pid);
	}
	closedir(d);
	close(dfd);
}

void leftovers_sweep(const char *swap_base, const char *swap_dir, struct leftovers *out)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	memset(out, 0, sizeof(*out));
	if (swap_base)
		sweep_swap_base(swap_base, out);
	if (swap_dir) {
		int dfd = open(swap_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			(void)sweep_files(dfd, swap_dir, 0, out);
			close(dfd);
		}
	}
	sweep_sockets("/run/memvisor", "vmm-", out);
	if (xdg && *xdg)
		sweep_sockets(xdg, "memvisor-", out);
}
