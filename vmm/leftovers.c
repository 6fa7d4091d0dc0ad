#include "leftovers.h"

#include "console.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

	if (pid <= 0)
		return 0;
	/* Ours: we have made nothing yet, so it is an earlier process's that had our pid. */
	if (pid == (int)getpid())
		return 1;
	if (kill(pid, 0) && errno == ESRCH)
		return 1;
	/* Alive: a VMM still, or a pid handed on to some other program? */
	comm_of("self", mine, sizeof(mine));
	snprintf(p, sizeof(p), "%d", pid);
	comm_of(p, theirs, sizeof(theirs));
	return mine[0] && theirs[0] && strcmp(mine, theirs) != 0;
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

/* A stream over the directory dfd, from its start (its own offset: not a dup's). */
static DIR *list_dir(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	return d;
}

/*
 * Whether a regular file of ours, opened without following a symlink, is
 * held by nobody: a live VMM keeps an flock on each of its swap files
 * (and directories), whatever its name or pid namespace.
 */
static int unlocked_file_of_ours(int dfd, const char *name, struct stat *st)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int ok;

	if (fd < 0)
		return 0;
	ok = !fstat(fd, st) && S_ISREG(st->st_mode) && st->st_uid == geteuid() && !flock(fd, LOCK_EX | LOCK_NB);
	close(fd);
	return ok;
}

/* Remove the stale swap files directly in the directory dfd; 1 if anything else is there. */
static int sweep_files(int dfd, const char *where, int only_pid, struct leftovers *out)
{
	DIR *d = list_dir(dfd);
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
		if (!pid || (only_pid && pid != only_pid) || !unlocked_file_of_ours(dfd, e->d_name, &st) ||
		    unlinkat(dfd, e->d_name, 0)) {
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
	d = list_dir(*fd);
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
		/* Its VMM holds an flock on it for its whole life. */
		if (flock(dfd, LOCK_EX | LOCK_NB)) {
			close(dfd);
			continue;
		}
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

/* A socket nobody listens on: connecting is refused (a live VMM, whatever its name, accepts). */
static int socket_dead(const char *dir, const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, dead;

	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s", dir, name) >= sizeof(a.sun_path))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	dead = connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno == ECONNREFUSED;
	close(fd);
	return dead;
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
		    !S_ISSOCK(st.st_mode) || st.st_uid != geteuid() || !socket_dead(dir, e->d_name) ||
		    unlinkat(dfd, e->d_name, 0))
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
