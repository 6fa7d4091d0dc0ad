/*
 * The test workloads.  Each takes its key=value arguments, runs, prints
 * progress and one final "RESULT workload=NAME key=value ..." line
 * (docs/guest.md), and returns the guest exit code (abi.h MV_EXIT_*).
 */
#ifndef MEMVISOR_GUEST_WORKLOADS_H
#define MEMVISOR_GUEST_WORKLOADS_H

#include "lib/args.h"

struct workload {
	const char *name;
	int (*run)(struct args *a);
};

int wl_hello(struct args *a);
int wl_touch(struct args *a);
int wl_memstress(struct args *a);
int wl_verify(struct args *a);
int wl_zeroboot(struct args *a);
int wl_dup(struct args *a);
int wl_lspci(struct args *a);
int wl_balloon(struct args *a);
int wl_badvirtio(struct args *a);
int wl_cache(struct args *a);
int wl_oltp(struct args *a);
int wl_vdi(struct args *a);

/* The workloads every platform has, NULL-terminated. */
extern const struct workload common_workloads[];

/*
 * Runs the command line "workload=NAME key=value ...": finds NAME among
 * extra (may be NULL) and common_workloads, default hello.  Bad arguments
 * give one line naming the problem and MV_EXIT_BAD_ARGS.
 */
int workload_dispatch(char *cmdline, const struct workload *extra);

/*
 * Shared by the workloads.  wl_pages takes a SIZE argument as a page count
 * (def 0: the key is required); -1 with a->err set when bad.  wl_alloc gets
 * memory or says why not.
 */
int wl_pages(struct args *a, const char *key, uint64_t def, uint64_t *pages);
void *wl_alloc(const char *wl, uint64_t bytes);

/* hist=1: print a latency histogram (TSC cycles) as HIST lines in ns (hist_print.c). */
#define CONSOLE_SAFE_LINE 900
struct hist;
void wl_hist_print(const char *wl, const struct hist *h, uint64_t khz);

#endif
