/*
 * Unit tests for what a Linux guest reads before and while it boots: the
 * bzImage loader (zero page, e820, initrd, page tables, hostile headers),
 * the ACPI tables (checksums, pointers, the DSDT's AML structure) and the
 * 16550A model under the probe sequence of Linux's 8250 driver.
 */
#include "../../vmm/acpi_tables.h"
#include "../../vmm/linux_boot.h"
#include "../../vmm/uart.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

static uint16_t rd16(const uint8_t *p, size_t off) { uint16_t v; memcpy(&v, p + off, 2); return v; }
static uint32_t rd32(const uint8_t *p, size_t off) { uint32_t v; memcpy(&v, p + off, 4); return v; }
static uint64_t rd64(const uint8_t *p, size_t off) { uint64_t v; memcpy(&v, p + off, 8); return v; }
static void wr16(uint8_t *p, size_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void wr32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }

/* ---- bzImage loader ---------------------------------------------------- */

#define KLEN     (64 * 1024)
#define SETUP    2               /* setup sectors: the kernel starts at 3 * 512 */

/* A bzImage as far as the loader reads it: setup header, then kernel bytes. */
static uint8_t *fake_bzimage(void)
{
	uint8_t *k = calloc(1, KLEN);

	k[0x1f1] = SETUP;
	wr16(k, 0x1fe, 0xaa55);
	k[0x200] = 0xeb;
	k[0x201] = 0x6a;                      /* the header runs to 0x26c */
	memcpy(k + 0x202, "HdrS", 4);
	wr16(k, 0x206, 0x020f);
	wr32(k, 0x22c, 0x7fffffff);           /* initrd_addr_max */
	wr16(k, 0x236, 0x3);                  /* XLF_KERNEL_64 | above 4G */
	wr32(k, 0x238, 2047);                 /* cmdline_size */
	wr32(k, 0x260, 8u << 20);             /* init_size */
	for (size_t i = (SETUP + 1) * 512; i < KLEN; i++)
		k[i] = (uint8_t)(i * 7);
	return k;
}

static struct linux_boot boot_of(const uint8_t *k, uint64_t ram)
{
	return (struct linux_boot){ .ram_size = ram, .kernel = k, .kernel_len = KLEN,
				    .cmdline = "console=ttyS0 mv.run=report", .rsdp_gpa = 0xe0000 };
}

START_TEST(linux_boot_places_kernel_zero_page_and_initrd)
{
	const uint64_t ram_size = 128ULL << 20;
	uint8_t *ram = calloc(1, ram_size), *k = fake_bzimage();
	uint8_t initrd[10000];
	struct linux_boot lb = boot_of(k, ram_size);
	struct linux_image img;
	const uint8_t *zp = ram + LB_ZERO_PAGE_GPA;
	uint64_t ram_total = 0;

	memset(initrd, 0x5a, sizeof(initrd));
	lb.initrd = initrd;
	lb.initrd_len = sizeof(initrd);
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), 0);
	ck_assert_uint_eq(img.version, 0x020f);
	ck_assert_uint_eq(img.entry, LB_KERNEL_GPA + 0x200);
	ck_assert_mem_eq(ram + LB_KERNEL_GPA, k + (SETUP + 1) * 512, KLEN - (SETUP + 1) * 512);

	/* The setup header is copied, then the loader's own fields. */
	ck_assert_mem_eq(zp + 0x202, "HdrS", 4);
	ck_assert_uint_eq(zp[0x210], 0xff);
	ck_assert_uint_eq(zp[0x211] & 1, 1);
	ck_assert_uint_eq(rd32(zp, 0x228), LB_CMDLINE_GPA);
	ck_assert_str_eq((const char *)ram + LB_CMDLINE_GPA, "console=ttyS0 mv.run=report");
	ck_assert_uint_eq(rd64(zp, 0x070), 0xe0000);

	/* The initrd sits page-aligned at the top of RAM, whole. */
	ck_assert_uint_eq(img.initrd_gpa % 4096, 0);
	ck_assert_uint_le(img.initrd_gpa + sizeof(initrd), ram_size);
	ck_assert_uint_gt(img.initrd_gpa + sizeof(initrd), ram_size - 4096);
	ck_assert_uint_eq(rd32(zp, 0x218), img.initrd_gpa);
	ck_assert_uint_eq(rd32(zp, 0x21c), sizeof(initrd));
	ck_assert_mem_eq(ram + img.initrd_gpa, initrd, sizeof(initrd));

	/* e820: RAM is all of it but the PC holes; the APIC pages are reserved. */
	ck_assert_uint_eq(zp[0x1e8], 6);
	for (unsigned i = 0; i < zp[0x1e8]; i++) {
		size_t e = 0x2d0 + i * 20;
		if (rd32(zp, e + 16) == 1)
			ram_total += rd64(zp, e + 8);
		else
			ck_assert_uint_eq(rd32(zp, e + 16), 2);
	}
	ck_assert_uint_eq(ram_total, ram_size - (LB_KERNEL_GPA - LB_EBDA_GPA));

	/* Identity map: PML4[0] -> PDPT -> PD, 2 MiB pages, up to 4 GiB. */
	uint64_t pdpt = rd64(ram, LB_PML4_GPA) & ~0xfffULL;
	ck_assert_uint_eq(pdpt, LB_PDPT_GPA);
	for (uint64_t gpa = 0; gpa < (4ULL << 30); gpa += 1ULL << 29) {
		uint64_t pd = rd64(ram, pdpt + (gpa >> 30) * 8) & ~0xfffULL;
		uint64_t pde = rd64(ram, pd + ((gpa >> 21) & 511) * 8);
		ck_assert_uint_eq(pde & 0x81, 0x81);
		ck_assert_uint_eq(pde & ~0xfffULL, gpa);
	}
	/* __BOOT_CS is long-mode code, __BOOT_DS writable data. */
	ck_assert_uint_eq(rd64(ram, LB_GDT_GPA + 0x10), 0x00af9a000000ffffULL);
	ck_assert_uint_eq(rd64(ram, LB_GDT_GPA + 0x18), 0x00cf92000000ffffULL);
	free(ram);
	free(k);
}
END_TEST

/*
 * Past 3 GiB, RAM goes on at 4 GiB: e820 has the low RAM end at 3 GiB and
 * a second RAM range above the hole.  No initrd, so only the first
 * megabytes of the (smaller) buffer are written.
 */
START_TEST(linux_boot_puts_ram_past_3g_above_the_hole)
{
	const uint64_t buf = 64ULL << 20, ram_size = 5ULL << 30;
	uint8_t *ram = calloc(1, buf), *k = fake_bzimage(), *zp = ram + LB_ZERO_PAGE_GPA;
	struct linux_boot lb = boot_of(k, ram_size);
	struct linux_image img;
	uint64_t ram_total = 0, low_end = 0, high_start = 0, high_len = 0;

	ck_assert_msg(linux_boot_write(ram, &lb, &img, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(zp[0x1e8], 7);
	for (unsigned i = 0; i < zp[0x1e8]; i++) {
		size_t e = 0x2d0 + i * 20;
		uint64_t a = rd64(zp, e), n = rd64(zp, e + 8);

		if (rd32(zp, e + 16) != 1)
			continue;
		ram_total += n;
		if (a == LB_KERNEL_GPA)
			low_end = a + n;
		if (a >= (4ULL << 30))
			high_start = a, high_len = n;
		/* No RAM in the hole, where the IOAPIC and the local APIC are. */
		ck_assert(a + n <= (3ULL << 30) || a >= (4ULL << 30));
	}
	ck_assert_uint_eq(low_end, 3ULL << 30);
	ck_assert_uint_eq(high_start, 4ULL << 30);
	ck_assert_uint_eq(high_len, 2ULL << 30);
	ck_assert_uint_eq(ram_total, ram_size - (LB_KERNEL_GPA - LB_EBDA_GPA));
	free(ram);
	free(k);
}
END_TEST

START_TEST(linux_boot_refuses_what_it_cannot_boot)
{
	const uint64_t ram_size = 128ULL << 20;
	uint8_t *ram = calloc(1, ram_size), *k = fake_bzimage();
	struct linux_boot lb = boot_of(k, ram_size);
	struct linux_image img;
	static char longline[3000];
	static uint8_t big_initrd[120 << 20];

	memcpy(k + 0x202, "HdrX", 4);
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a Linux bzImage"));
	memcpy(k + 0x202, "HdrS", 4);

	wr16(k, 0x206, 0x020b);
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too old"));
	wr16(k, 0x206, 0x020f);

	wr16(k, 0x236, 0);
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "64-bit entry"));
	wr16(k, 0x236, 3);

	k[0x1f1] = 200;                       /* setup beyond the file */
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "damaged"));
	k[0x1f1] = SETUP;

	lb.ram_size = 32ULL << 20;
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -2);
	ck_assert_ptr_nonnull(strstr(err, "64 MiB to 65536 MiB"));
	lb.ram_size = 65ULL << 30;
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -2);
	lb.ram_size = ram_size;

	wr32(k, 0x260, (uint32_t)ram_size);   /* unpacks to all of RAM */
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -2);
	ck_assert_ptr_nonnull(strstr(err, "too little memory"));
	wr32(k, 0x260, 8u << 20);

	memset(longline, 'x', sizeof(longline) - 1);
	lb.cmdline = longline;
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -2);
	ck_assert_ptr_nonnull(strstr(err, "at most 2047"));
	lb.cmdline = NULL;

	lb.initrd = big_initrd;
	lb.initrd_len = sizeof(big_initrd);
	ck_assert_int_eq(linux_boot_write(ram, &lb, &img, err, sizeof(err)), -2);
	ck_assert_ptr_nonnull(strstr(err, "does not fit"));
	free(ram);
	free(k);
}
END_TEST

START_TEST(linux_cpu_state_enters_long_mode)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	memset(&s, 0, sizeof(s));
	linux_cpu_state(&s, &r, 0x100200);
	ck_assert_uint_eq(r.rip, 0x100200);
	ck_assert_uint_eq(r.rsi, LB_ZERO_PAGE_GPA);
	ck_assert_uint_eq(r.rflags & 0x200, 0);          /* interrupts off */
	ck_assert_uint_eq(s.cs.selector, 0x10);
	ck_assert_uint_eq(s.cs.l, 1);
	ck_assert_uint_eq(s.ds.selector, 0x18);
	ck_assert_uint_eq(s.efer & 0x500, 0x500);
	ck_assert_uint_eq(s.cr0 & 0x80000001ULL, 0x80000001ULL);
	ck_assert_uint_eq(s.cr3, LB_PML4_GPA);
}
END_TEST

/* ---- ACPI tables ------------------------------------------------------- */

#define ACPI_BASE 0xe0000ULL
#define ACPI_ROOM 0x20000

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* A table by its gpa, checked: in the buffer, its signature, a zero sum. */
static const uint8_t *table(const uint8_t *buf, uint64_t gpa, const char *sig)
{
	ck_assert_uint_ge(gpa, ACPI_BASE);
	ck_assert_uint_lt(gpa - ACPI_BASE + 36, ACPI_ROOM);
	const uint8_t *t = buf + (gpa - ACPI_BASE);
	ck_assert_mem_eq(t, sig, 4);
	ck_assert_uint_le(gpa - ACPI_BASE + rd32(t, 4), ACPI_ROOM);
	ck_assert_uint_eq(sum(t, rd32(t, 4)), 0);
	return t;
}

/* PkgLength at p: its value, and how many bytes it took. */
static size_t pkglen(const uint8_t *p, size_t *bytes)
{
	unsigned follow = p[0] >> 6;
	size_t v = follow ? (size_t)(p[0] & 0x0f) : (size_t)(p[0] & 0x3f);

	for (unsigned i = 0; i < follow; i++)
		v |= (size_t)p[1 + i] << (4 + 8 * i);
	*bytes = 1 + follow;
	return v;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return hay + i;
	return NULL;
}

START_TEST(acpi_tables_are_consistent)
{
	static uint8_t buf[ACPI_ROOM];
	struct acpi_config cfg = { .vcpus = 3, .mem64_base = 0x8000000000ULL, .mem64_size = 1ULL << 30,
				   .npci = 1, .pci = { { 1, 10 } } };
	uint64_t rsdp = acpi_tables_write(buf, ACPI_BASE, sizeof(buf), &cfg);

	ck_assert_uint_eq(rsdp, ACPI_BASE);
	ck_assert_mem_eq(buf, "RSD PTR ", 8);
	ck_assert_uint_eq(sum(buf, 20), 0);
	ck_assert_uint_eq(sum(buf, 36), 0);
	ck_assert_uint_eq(buf[15], 2);

	const uint8_t *xsdt = table(buf, rd64(buf, 24), "XSDT");
	ck_assert_uint_eq(rd32(xsdt, 4), 36 + 2 * 8);
	const uint8_t *fadt = table(buf, rd64(xsdt, 36), "FACP");
	const uint8_t *madt = table(buf, rd64(xsdt, 44), "APIC");
	ck_assert_uint_eq(rd32(fadt, 4), 276);
	ck_assert_uint_eq(rd32(fadt, 56), ACPI_PM1A_EVT_PORT);
	ck_assert_uint_eq(rd32(fadt, 64), ACPI_PM1A_CNT_PORT);
	ck_assert_uint_eq(rd16(fadt, 46), ACPI_SCI_IRQ);
	ck_assert_uint_eq(rd32(fadt, 112) & (1u << 10), 1u << 10);    /* reset register */
	ck_assert_uint_eq(rd64(fadt, 116 + 4), ACPI_RESET_PORT);
	ck_assert_uint_eq(fadt[128], ACPI_RESET_VALUE);
	ck_assert_uint_eq(rd64(fadt, 140), rd32(fadt, 40));            /* X_DSDT = DSDT */
	ck_assert_uint_eq(rd64(fadt, 132) % 64, 0);                    /* FACS aligned */
	ck_assert_mem_eq(buf + (rd64(fadt, 132) - ACPI_BASE), "FACS", 4);

	/* MADT: one enabled local APIC per vCPU, then the IOAPIC. */
	unsigned lapics = 0, ioapics = 0;
	for (size_t off = 44; off < rd32(madt, 4); off += madt[off + 1]) {
		ck_assert_uint_ge(madt[off + 1], 2);
		if (madt[off] == 0) {
			ck_assert_uint_eq(madt[off + 3], lapics);
			ck_assert_uint_eq(rd32(madt, off + 4), 1);
			lapics++;
		} else if (madt[off] == 1) {
			ck_assert_uint_eq(rd32(madt, off + 4), 0xfec00000u);
			ioapics++;
		}
	}
	ck_assert_uint_eq(lapics, 3);
	ck_assert_uint_eq(ioapics, 1);

	/* DSDT: its top-level terms end exactly at the table's end. */
	const uint8_t *dsdt = table(buf, rd32(fadt, 40), "DSDT");
	size_t len = rd32(dsdt, 4), off = 36, n;
	ck_assert_uint_eq(dsdt[off], 0x10);                            /* Scope(\_SB) */
	off += 1 + pkglen(dsdt + off + 1, &n);
	ck_assert_uint_eq(dsdt[off], 0x08);                            /* Name(_S5_, ...) */
	ck_assert_mem_eq(dsdt + off + 1, "_S5_", 4);
	ck_assert_uint_eq(dsdt[off + 5], 0x12);
	size_t s5 = off + 6;
	off = s5 + pkglen(dsdt + s5, &n);
	ck_assert_uint_eq(off, len);
	ck_assert_uint_eq(dsdt[s5 + n], 4);                            /* four elements */
	ck_assert_uint_eq(dsdt[s5 + n + 1], 0x0a);                     /* BytePrefix 5 */
	ck_assert_uint_eq(dsdt[s5 + n + 2], ACPI_S5_SLP_TYP);

	/* PCI0 is a PNP0A03 with a _CRS holding the 64-bit window, and a _PRT. */
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t prt_entry[] = { 0x0c, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x0a, 10 };
	ck_assert_ptr_nonnull(find(dsdt, len, "PCI0", 4));
	ck_assert_ptr_nonnull(find(dsdt, len, hid, sizeof(hid)));
	ck_assert_ptr_nonnull(find(dsdt, len, "_CRS", 4));
	ck_assert_ptr_nonnull(find(dsdt, len, prt_entry, sizeof(prt_entry)));
	const uint8_t *q = find(dsdt, len, (const uint8_t[]){ 0x8a, 43, 0 }, 3);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(rd64(q, 14), 0x8000000000ULL);
	ck_assert_uint_eq(rd64(q, 22), 0x8000000000ULL + (1ULL << 30) - 1);

	/* Too little room, a misaligned base, no vCPUs: refused, not overrun. */
	ck_assert_uint_eq(acpi_tables_write(buf, ACPI_BASE, 200, &cfg), 0);
	ck_assert_uint_eq(acpi_tables_write(buf, ACPI_BASE + 4, sizeof(buf), &cfg), 0);
	cfg.vcpus = 0;
	ck_assert_uint_eq(acpi_tables_write(buf, ACPI_BASE, sizeof(buf), &cfg), 0);
}
END_TEST

/* ---- 16550A ------------------------------------------------------------ */

struct wire {
	char out[64];
	unsigned nout;
	int level, edges;
};

static void tx(void *ctx, uint8_t b)
{
	struct wire *w = ctx;
	if (w->nout < sizeof(w->out))
		w->out[w->nout++] = (char)b;
}

static void irq(void *ctx, int level)
{
	struct wire *w = ctx;
	w->edges += level && !w->level;
	w->level = level;
}

START_TEST(uart_passes_linux_8250_probes)
{
	struct uart u;
	struct wire w = { 0 };

	uart_init(&u, tx, irq, &w);
	/* autoconfig: IER keeps what is written to its low nibble. */
	uart_write(&u, 1, 0);
	ck_assert_uint_eq(uart_read(&u, 1) & 0x0f, 0);
	uart_write(&u, 1, 0x0f);
	ck_assert_uint_eq(uart_read(&u, 1) & 0x0f, 0x0f);
	uart_write(&u, 1, 0);
	/* Loopback: RTS and OUT2 come back as CTS and DCD. */
	uart_write(&u, 4, 0x10 | 0x0a);
	ck_assert_uint_eq(uart_read(&u, 6) & 0xf0, 0x90);
	uart_write(&u, 4, 0);
	/* A FIFO: IIR's top bits say 16550A. */
	uart_write(&u, 2, 0x01);
	ck_assert_uint_eq(uart_read(&u, 2) & 0xc0, 0xc0);
	/* Divisor latch behind DLAB, registers untouched by it. */
	uart_write(&u, 3, 0x80);
	uart_write(&u, 0, 0x01);
	uart_write(&u, 1, 0x00);
	ck_assert_uint_eq(uart_read(&u, 0), 0x01);
	uart_write(&u, 3, 0x03);
	ck_assert_uint_eq(uart_read(&u, 3), 0x03);
	ck_assert_uint_eq(uart_read(&u, 1), 0);
	/* Scratch register. */
	uart_write(&u, 7, 0xa5);
	ck_assert_uint_eq(uart_read(&u, 7), 0xa5);
	ck_assert_uint_eq(w.nout, 0);
}
END_TEST

START_TEST(uart_interrupts_like_a_16550)
{
	struct uart u;
	struct wire w = { 0 };
	uint8_t in[20];

	uart_init(&u, tx, irq, &w);
	uart_write(&u, 4, 0x08);                      /* OUT2: interrupts reach the bus */
	/* The THRE test: enabling THRI raises it again each time. */
	uart_write(&u, 1, 0x02);
	ck_assert_int_eq(w.level, 1);
	ck_assert_uint_eq(uart_read(&u, 2) & 0x0f, 0x02);
	ck_assert_int_eq(w.level, 0);                 /* reading IIR acknowledged it */
	ck_assert_uint_eq(uart_read(&u, 2) & 0x0f, 0x01);
	uart_write(&u, 1, 0);
	uart_write(&u, 1, 0x02);
	ck_assert_uint_eq(uart_read(&u, 2) & 0x0f, 0x02);

	/* Each byte sent goes out and makes a fresh edge. */
	int edges = w.edges;
	uart_write(&u, 0, 'h');
	uart_write(&u, 0, 'i');
	ck_assert_int_eq(w.nout, 2);
	ck_assert_mem_eq(w.out, "hi", 2);
	ck_assert_int_eq(w.edges, edges + 2);
	ck_assert_uint_eq(uart_read(&u, 5) & 0x60, 0x60);

	/* Received data outranks THRE, and LSR says it is there. */
	uart_write(&u, 1, 0x03);
	memset(in, 'x', sizeof(in));
	ck_assert_uint_eq(uart_receive(&u, in, sizeof(in)), UART_RX_FIFO);
	ck_assert_uint_eq(uart_read(&u, 5) & 1, 1);
	ck_assert_uint_eq(uart_read(&u, 2) & 0x0f, 0x04);
	for (unsigned i = 0; i < UART_RX_FIFO; i++)
		ck_assert_uint_eq(uart_read(&u, 0), 'x');
	ck_assert_uint_eq(uart_read(&u, 5) & 1, 0);
	ck_assert_uint_eq(uart_read(&u, 2) & 0x0f, 0x02);
	ck_assert_uint_eq(uart_read(&u, 2) & 0x0f, 0x01);
	ck_assert_int_eq(w.level, 0);

	/* Without OUT2 the line stays low whatever is pending. */
	uart_write(&u, 4, 0);
	ck_assert_uint_eq(uart_receive(&u, in, 1), 1);
	ck_assert_int_eq(w.level, 0);
	ck_assert_uint_eq(uart_read(&u, 2) & 0x0f, 0x04);
	/* Out-of-range registers float high and change nothing. */
	ck_assert_uint_eq(uart_read(&u, 9), 0xff);
	uart_write(&u, 9, 0x12);
}
END_TEST

static Suite *linux_suite(void)
{
	Suite *s = suite_create("linux");
	TCase *tc = tcase_create("boot");

	tcase_add_test(tc, linux_boot_places_kernel_zero_page_and_initrd);
	tcase_add_test(tc, linux_boot_puts_ram_past_3g_above_the_hole);
	tcase_add_test(tc, linux_boot_refuses_what_it_cannot_boot);
	tcase_add_test(tc, linux_cpu_state_enters_long_mode);
	tcase_add_test(tc, acpi_tables_are_consistent);
	tcase_add_test(tc, uart_passes_linux_8250_probes);
	tcase_add_test(tc, uart_interrupts_like_a_16550);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(linux_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
