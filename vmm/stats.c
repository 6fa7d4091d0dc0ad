#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

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

void stats_write(FILE *f, double t, struct vm *vms, unsigned nvms, uint64_t host_mem)
{
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
		fprintf(f, "{\"t\":%.3f,\"vm\":\"%s\",\"memsz_mb\":%.1f,\"vcpus\":%u,\"run_state\":\"%s\"",
			t, vm->name, (double)vm->ram_size / 1048576.0, vm->nvcpus, vm_state_name(st));
		if (st != VM_RUNNING && st != VM_CREATED)
			fprintf(f, ",\"exit_code\":%d", code);
		fputs("}\n", f);
	}
	fprintf(f, "{\"t\":%.3f,\"host\":true,\"vms\":%u,\"vms_running\":%u", t, nvms, running);
	if (host_mem)
		fprintf(f, ",\"budget_mb\":%.1f", (double)host_mem / 1048576.0);
	fputs("}\n", f);
	fflush(f);
}
