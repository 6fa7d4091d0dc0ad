/*
 * The PC devices a Linux guest needs beside PCI: COM1 (a 16550A on 0x3f8,
 * IRQ 4), the ACPI power-management ports the FADT names (PM1 event and
 * control blocks: S5 powers off) and the reset register (0xcf9), the
 * keyboard controller's reset command, and quiet open bus for the ports
 * Linux probes and PCs leave empty (0x80 delays, absent UARTs, CMOS).
 * It tells the VM how the guest ended: power-off, reboot or a kernel panic
 * (seen on the console).  One lock per VM; any thread may feed input.
 */
#ifndef MEMVISOR_PC_PLATFORM_H
#define MEMVISOR_PC_PLATFORM_H

#include "uart.h"

#include <pthread.h>
#include <stdint.h>

#define PC_COM1_PORT  0x3f8
#define PC_COM1_IRQ   4
#define PC_LINE_MAX   256

enum pc_end { PC_POWER_OFF, PC_REBOOT, PC_PANIC };

struct pc_platform {
	pthread_mutex_t lock;
	struct uart com1;
	uint16_t pm1_sts, pm1_en, pm1_cnt;
	int vm_fd;                          /* KVM_IRQ_LINE; -1: no line (tests) */
	void (*out)(void *ctx, uint8_t byte);       /* COM1's output */
	void (*end)(void *ctx, enum pc_end how, const char *why);
	void *ctx;
	char line[PC_LINE_MAX];             /* the console line so far, for panics */
	unsigned line_len;
	char panic[PC_LINE_MAX];            /* "Kernel panic - not syncing: ..." */
	uint64_t ignored_ports;             /* open-bus accesses, for the log */
};

void pc_platform_init(struct pc_platform *p, int vm_fd,
		      void (*out)(void *ctx, uint8_t byte),
		      void (*end)(void *ctx, enum pc_end how, const char *why), void *ctx);
void pc_platform_destroy(struct pc_platform *p);

/* A vCPU's port access: 1 if one of these devices took it (data filled for a read). */
int pc_platform_io(struct pc_platform *p, uint16_t port, int write, void *data, unsigned len);

/* Bytes typed at the console: how many COM1 took (its FIFO may be full). */
unsigned pc_platform_input(struct pc_platform *p, const uint8_t *buf, unsigned len);

#endif
