/*
 * A 16550A UART, as Linux's 8250 driver probes and drives it: the
 * registers behind DLAB, a 16-byte receive FIFO, the interrupt
 * identification by priority (received data, then transmitter empty),
 * the THRE interrupt re-armed by IER writes, and the modem-control
 * loopback the driver tests.  Transmission is instant.  Pure: bytes out
 * and the interrupt line go through callbacks; the caller serialises.
 */
#ifndef MEMVISOR_UART_H
#define MEMVISOR_UART_H

#include <stdint.h>

#define UART_PORTS     8
#define UART_RX_FIFO   16

struct uart {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, msr;
	uint8_t rx[UART_RX_FIFO];
	unsigned rx_head, rx_count;
	int thr_pending;            /* THRE interrupt not yet acknowledged */
	int irq_level;              /* the INTR output as last reported */
	void (*tx)(void *ctx, uint8_t byte);
	void (*irq)(void *ctx, int level);
	void *ctx;
};

void uart_init(struct uart *u, void (*tx)(void *ctx, uint8_t byte),
	       void (*irq)(void *ctx, int level), void *ctx);

/* A guest access to register off (0-7). */
uint8_t uart_read(struct uart *u, unsigned off);
void uart_write(struct uart *u, unsigned off, uint8_t value);

/* Input from the host side: bytes taken (0 when the FIFO is full). */
unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len);

#endif
