/*
 * thread_name: name a thread for ps -L, top -H, gdb and /proc/PID/task/
 * (a hang's dump says which thread is the fault thread, which a vCPU).
 */
#ifndef MEMVISOR_MM_THREAD_NAME_H
#define MEMVISOR_MM_THREAD_NAME_H

#include <pthread.h>

/* Name thread t from a printf format; Linux keeps the first 15 bytes. */
void thread_name(pthread_t t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
