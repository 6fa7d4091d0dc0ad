#include "uart.h"

#include <string.h>

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI     0x01
#define IER_THRI    0x02
#define IER_MSI     0x08
#define IIR_NONE    0x01
#define IIR_MSI     0x00
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_FIFO    0xc0
#define FCR_ENABLE  0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB    0x80
#define MCR_DTR     0x01
#define MCR_RTS     0x02
#define MCR_OUT1    0x04
#define MCR_OUT2    0x08
#define MCR_LOOP    0x10
#define LSR_DR      0x01
#define LSR_THRE    0x20
#define LSR_TEMT    0x40
#define MSR_DELTA   0x0f
#define MSR_CTS     0x10
#define MSR_DSR     0x20
#define MSR_RI      0x40
#define MSR_DCD     0x80

static uint8_t iir_id(const struct uart *u)
{
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thr_pending)
		return IIR_THRI;
	if ((u->ier & IER_MSI) && (u->msr & MSR_DELTA))
		return IIR_MSI;
	return IIR_NONE;
}

/*
 * The line as a PC wires it: OUT2 gates the UART's interrupt onto the bus,
 * and Linux sets OUT2 when it wants interrupts.
 */
static void update_irq(struct uart *u)
{
	int level = iir_id(u) != IIR_NONE && (u->mcr & MCR_OUT2);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->irq)
			u->irq(u->ctx, level);
	}
}

/* Modem status in loopback: the outputs come back on the inputs. */
static uint8_t modem_status(struct uart *u)
{
	uint8_t in;

	if (!(u->mcr & MCR_LOOP))
		return (uint8_t)((u->msr & MSR_DELTA) | MSR_DCD | MSR_DSR | MSR_CTS);
	in = 0;
	if (u->mcr & MCR_RTS)
		in |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		in |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		in |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		in |= MSR_DCD;
	return (uint8_t)((u->msr & MSR_DELTA) | in);
}

void uart_init(struct uart *u, void (*tx)(void *ctx, uint8_t byte),
	       void (*irq)(void *ctx, int level), void *ctx)
{
	memset(u, 0, sizeof(*u));
	u->tx = tx;
	u->irq = irq;
	u->ctx = ctx;
	u->dll = 0x0c;              /* 9600 baud, as after a reset */
}

static void rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count < UART_RX_FIFO) {
		u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO] = byte;
		u->rx_count++;
	}
}

uint8_t uart_read(struct uart *u, unsigned off)
{
	uint8_t v = 0xff;

	switch (off) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		v = 0;
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
			u->rx_count--;
		}
		break;
	case IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case IIR_FCR:
		v = iir_id(u);
		/* Reading the THRE identification acknowledges it. */
		if (v == IIR_THRI)
			u->thr_pending = 0;
		if (u->fcr & FCR_ENABLE)
			v |= IIR_FIFO;
		break;
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		return (uint8_t)(LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0));
	case MSR:
		v = modem_status(u);
		u->msr &= (uint8_t)~MSR_DELTA;
		break;
	case SCR:
		return u->scr;
	default:
		return 0xff;
	}
	update_irq(u);
	return v;
}

void uart_write(struct uart *u, unsigned off, uint8_t value)
{
	switch (off) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = value;
			return;
		}
		/* The byte leaves at once; the fresh THRE makes a new edge on the line. */
		u->thr_pending = 0;
		update_irq(u);
		if (u->mcr & MCR_LOOP)
			rx_push(u, value);
		else if (u->tx)
			u->tx(u->ctx, value);
		u->thr_pending = 1;
		break;
	case IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = value;
			return;
		}
		/* Enabling THRI with the transmitter empty raises it, as a 16550 does. */
		if ((value & IER_THRI) && !(u->ier & IER_THRI))
			u->thr_pending = 1;
		u->ier = value & 0x0f;
		break;
	case IIR_FCR:
		u->fcr = value & 0xc9;
		if (value & FCR_CLEAR_RX)
			u->rx_head = u->rx_count = 0;
		break;
	case LCR:
		u->lcr = value;
		return;
	case MCR:
		u->mcr = value & 0x1f;
		break;
	case SCR:
		u->scr = value;
		return;
	default:
		return;            /* LSR and MSR are read-only */
	}
	update_irq(u);
}

unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len)
{
	unsigned n = 0;

	if (u->mcr & MCR_LOOP)
		return len;         /* in loopback the line is cut: input is lost, as on hardware */
	while (n < len && u->rx_count < UART_RX_FIFO)
		rx_push(u, buf[n++]);
	if (n)
		update_irq(u);
	return n;
}
