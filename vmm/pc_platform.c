#include "pc_platform.h"
#include "acpi_tables.h"
#include "kvm.h"

#include <stdio.h>
#include <string.h>

#define KBD_DATA    0x60
#define KBD_CMD     0x64
#define KBD_RESET   0xfe
#define POST_PORT   0x80
#define CMOS_INDEX  0x70
#define CMOS_DATA   0x71
#define PCI_CFB     0xcfb        /* Linux's conf1 probe writes a byte here */

static void com1_irq(void *ctx, int level)
{
	struct pc_platform *p = ctx;

	if (p->vm_fd >= 0)
		kvm_irq_line(p->vm_fd, PC_COM1_IRQ, level);
}

/*
 * COM1's bytes go out, and Linux's panic report is watched for: the line
 * "---[ end Kernel panic - not syncing: WHY ]---" is its last word, after
 * which it spins or reboots on a timer.
 */
static void com1_tx(void *ctx, uint8_t byte)
{
	struct pc_platform *p = ctx;
	static const char start[] = "Kernel panic - not syncing: ";
	static const char end[] = "---[ end Kernel panic";

	if (p->out)
		p->out(p->ctx, byte);
	if (byte != '\n') {
		if (byte != '\r' && p->line_len < PC_LINE_MAX - 1)
			p->line[p->line_len++] = (char)byte;
		return;
	}
	p->line[p->line_len] = '\0';
	p->line_len = 0;
	const char *s = strstr(p->line, start);
	if (s && !p->panic[0])
		snprintf(p->panic, sizeof(p->panic), "%s", s + strlen(start));
	if (strstr(p->line, end) && p->end) {
		char why[PC_LINE_MAX + 64];
		snprintf(why, sizeof(why), "the guest kernel panicked: %s", p->panic[0] ? p->panic : "(no reason seen)");
		p->end(p->ctx, PC_PANIC, why);
	}
}

void pc_platform_init(struct pc_platform *p, int vm_fd,
		      void (*out)(void *ctx, uint8_t byte),
		      void (*end)(void *ctx, enum pc_end how, const char *why), void *ctx)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->vm_fd = vm_fd;
	p->out = out;
	p->end = end;
	p->ctx = ctx;
	uart_init(&p->com1, com1_tx, com1_irq, p);
}

void pc_platform_destroy(struct pc_platform *p)
{
	pthread_mutex_destroy(&p->lock);
}

static uint8_t pm_read(struct pc_platform *p, unsigned off)
{
	uint16_t cnt = (uint16_t)(p->pm1_cnt | ACPI_PM1_SCI_EN);

	switch (off) {
	case 0: return (uint8_t)p->pm1_sts;
	case 1: return (uint8_t)(p->pm1_sts >> 8);
	case 2: return (uint8_t)p->pm1_en;
	case 3: return (uint8_t)(p->pm1_en >> 8);
	case 4: return (uint8_t)cnt;
	default: return (uint8_t)(cnt >> 8);
	}
}

/* One byte of the PM1 blocks; returns 1 when the write asks for S5. */
static int pm_write(struct pc_platform *p, unsigned off, uint8_t v)
{
	switch (off) {
	case 0: p->pm1_sts &= (uint16_t)~v; return 0;              /* write 1 to clear */
	case 1: p->pm1_sts &= (uint16_t)~(v << 8); return 0;
	case 2: p->pm1_en = (uint16_t)((p->pm1_en & 0xff00) | v); return 0;
	case 3: p->pm1_en = (uint16_t)((p->pm1_en & 0x00ff) | v << 8); return 0;
	case 4: p->pm1_cnt = (uint16_t)((p->pm1_cnt & 0xff00) | v); return 0;
	default:
		p->pm1_cnt = (uint16_t)((p->pm1_cnt & 0x00ff) | v << 8);
		if (p->pm1_cnt & ACPI_PM1_SLP_EN) {
			unsigned typ = (p->pm1_cnt >> 10) & 7;
			p->pm1_cnt &= (uint16_t)~ACPI_PM1_SLP_EN;
			return typ == ACPI_S5_SLP_TYP;
		}
		return 0;
	}
}

/* Ports nobody answers on this PC: reads float high, writes vanish, quietly. */
static int open_bus(uint16_t port)
{
	return port == POST_PORT || port == CMOS_INDEX || port == CMOS_DATA || port == PCI_CFB ||
	       port == KBD_DATA ||
	       (port >= 0x2f8 && port < 0x300) || (port >= 0x3e8 && port < 0x3f0) ||
	       (port >= 0x2e8 && port < 0x2f0);
}

int pc_platform_io(struct pc_platform *p, uint16_t port, int write, void *data, unsigned len)
{
	uint8_t *b = data;
	enum pc_end how = PC_POWER_OFF;
	const char *why = NULL;

	if (len == 0 || len > 4)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (port >= PC_COM1_PORT && port + len <= PC_COM1_PORT + UART_PORTS) {
		for (unsigned i = 0; i < len; i++) {
			if (write)
				uart_write(&p->com1, port - PC_COM1_PORT + i, b[i]);
			else
				b[i] = uart_read(&p->com1, port - PC_COM1_PORT + i);
		}
	} else if (port >= ACPI_PM1A_EVT_PORT && port + len <= ACPI_PM1A_CNT_PORT + 2) {
		for (unsigned i = 0; i < len; i++) {
			if (!write)
				b[i] = pm_read(p, port - ACPI_PM1A_EVT_PORT + i);
			else if (pm_write(p, port - ACPI_PM1A_EVT_PORT + i, b[i]))
				why = "the guest powered off (ACPI S5)";
		}
	} else if (port == ACPI_RESET_PORT && len == 1) {
		/* Bit 2 starts the reset; the others only choose its kind. */
		if (write && (b[0] & 0x04)) {
			how = PC_REBOOT;
			why = "the guest rebooted (ACPI reset register)";
		} else if (!write) {
			b[0] = 0;
		}
	} else if (port == KBD_CMD && len == 1) {
		if (write && b[0] == KBD_RESET) {
			how = PC_REBOOT;
			why = "the guest rebooted (keyboard controller reset)";
		} else if (!write) {
			b[0] = 0;       /* input buffer empty: a waiting reboot goes on */
		}
	} else if (open_bus(port)) {
		if (!write)
			memset(b, 0xff, len);
		p->ignored_ports++;
	} else {
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	pthread_mutex_unlock(&p->lock);
	if (why && p->end)
		p->end(p->ctx, how, why);
	return 1;
}

unsigned pc_platform_input(struct pc_platform *p, const uint8_t *buf, unsigned len)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = uart_receive(&p->com1, buf, len);
	pthread_mutex_unlock(&p->lock);
	return n;
}
