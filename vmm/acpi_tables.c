#include "acpi_tables.h"

#include <string.h>

/*
 * A byte buffer for AML and tables.  Writes past the end are counted, not
 * done, so one check at the end says whether everything fitted.
 */
struct bytes {
	uint8_t *p;
	size_t n, cap;
};

static void emit(struct bytes *b, const void *src, size_t len)
{
	if (b->n + len <= b->cap)
		memcpy(b->p + b->n, src, len);
	b->n += len;
}

static void emit8(struct bytes *b, uint8_t v) { emit(b, &v, 1); }
static void emit16(struct bytes *b, uint16_t v) { emit(b, &v, 2); }
static void emit32(struct bytes *b, uint32_t v) { emit(b, &v, 4); }
static void emit64(struct bytes *b, uint64_t v) { emit(b, &v, 8); }

/* --- AML ---------------------------------------------------------------- */

#define AML_ZERO      0x00
#define AML_ONE       0x01
#define AML_NAME      0x08
#define AML_BYTE      0x0a
#define AML_WORD      0x0b
#define AML_DWORD     0x0c
#define AML_QWORD     0x0e
#define AML_SCOPE     0x10
#define AML_BUFFER    0x11
#define AML_PACKAGE   0x12
#define AML_EXT       0x5b
#define AML_DEVICE    0x82
#define AML_ROOT      0x5c

static void aml_int(struct bytes *b, uint64_t v)
{
	if (v == 0) {
		emit8(b, AML_ZERO);
	} else if (v == 1) {
		emit8(b, AML_ONE);
	} else if (v <= 0xff) {
		emit8(b, AML_BYTE);
		emit8(b, (uint8_t)v);
	} else if (v <= 0xffff) {
		emit8(b, AML_WORD);
		emit16(b, (uint16_t)v);
	} else if (v <= 0xffffffffu) {
		emit8(b, AML_DWORD);
		emit32(b, (uint32_t)v);
	} else {
		emit8(b, AML_QWORD);
		emit64(b, v);
	}
}

/* PkgLength counts itself: pick the shortest encoding that holds the total. */
static void aml_pkglen(struct bytes *b, size_t body)
{
	if (body + 1 < 0x40) {
		emit8(b, (uint8_t)(body + 1));
	} else if (body + 2 < 0x1000) {
		size_t t = body + 2;
		emit8(b, (uint8_t)(0x40 | (t & 0xf)));
		emit8(b, (uint8_t)(t >> 4));
	} else {
		size_t t = body + 3;
		emit8(b, (uint8_t)(0x80 | (t & 0xf)));
		emit8(b, (uint8_t)(t >> 4));
		emit8(b, (uint8_t)(t >> 12));
	}
}

/* op [ext] PkgLength body */
static void aml_wrap(struct bytes *b, const uint8_t *op, size_t oplen, const struct bytes *body)
{
	emit(b, op, oplen);
	aml_pkglen(b, body->n);
	emit(b, body->p, body->n);
}

#define SCRATCH(name, size) uint8_t name##_mem[size]; struct bytes name = { name##_mem, 0, sizeof(name##_mem) }

static void aml_name(struct bytes *b, const char seg[4])
{
	emit8(b, AML_NAME);
	emit(b, seg, 4);
}

/* EisaId("PNP0A03"): three letters of 5 bits, then four hex digits, big-endian. */
static uint32_t eisa_id(const char *id)
{
	unsigned hex = 0;
	for (int i = 3; i < 7; i++)
		hex = hex << 4 | (unsigned)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10);
	uint16_t vendor = (uint16_t)(((id[0] - 0x40) & 0x1f) << 10 | ((id[1] - 0x40) & 0x1f) << 5 |
				     ((id[2] - 0x40) & 0x1f));
	return (uint32_t)(vendor >> 8) | (uint32_t)(vendor & 0xff) << 8 |
	       (uint32_t)(hex >> 8) << 16 | (uint32_t)(hex & 0xff) << 24;
}

/* Word/DWord/QWord address space descriptors: producer, min and max fixed. */
enum { RT_MEM = 0, RT_IO = 1, RT_BUS = 2 };

static void res_word(struct bytes *b, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	emit8(b, 0x88);
	emit16(b, 13);
	emit8(b, type);
	emit8(b, 0x0c);
	emit8(b, tflags);
	emit16(b, 0);
	emit16(b, min);
	emit16(b, max);
	emit16(b, 0);
	emit16(b, (uint16_t)(max - min + 1));
}

static void res_dword_mem(struct bytes *b, uint32_t min, uint32_t max)
{
	emit8(b, 0x87);
	emit16(b, 23);
	emit8(b, RT_MEM);
	emit8(b, 0x0c);
	emit8(b, 0x01);              /* read-write, non-cacheable */
	emit32(b, 0);
	emit32(b, min);
	emit32(b, max);
	emit32(b, 0);
	emit32(b, max - min + 1);
}

static void res_qword_mem(struct bytes *b, uint64_t min, uint64_t len)
{
	emit8(b, 0x8a);
	emit16(b, 43);
	emit8(b, RT_MEM);
	emit8(b, 0x0c);
	emit8(b, 0x01);
	emit64(b, 0);
	emit64(b, min);
	emit64(b, min + len - 1);
	emit64(b, 0);
	emit64(b, len);
}

static void pci0_crs(struct bytes *b, const struct acpi_config *cfg)
{
	SCRATCH(r, 256);
	static const uint8_t cfg_ports[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };

	res_word(&r, RT_BUS, 0, 0, 0xff);
	emit(&r, cfg_ports, sizeof(cfg_ports));
	res_word(&r, RT_IO, 0x03, 0x0000, 0x0cf7);
	res_word(&r, RT_IO, 0x03, 0x0d00, 0xffff);
	res_dword_mem(&r, 0xc0000000u, 0xfebfffffu);
	if (cfg->mem64_size)
		res_qword_mem(&r, cfg->mem64_base, cfg->mem64_size);
	emit8(&r, 0x79);             /* end tag, checksum 0: "not computed" */
	emit8(&r, 0x00);

	SCRATCH(buf, 300);
	aml_int(&buf, r.n);
	emit(&buf, r.p, r.n);
	aml_name(b, "_CRS");
	aml_wrap(b, (const uint8_t[]){ AML_BUFFER }, 1, &buf);
}

/* One _PRT entry per slot in use: INTA# straight to a GSI (source 0). */
static void pci0_prt(struct bytes *b, const struct acpi_config *cfg)
{
	SCRATCH(list, 512);

	emit8(&list, (uint8_t)cfg->npci);
	for (unsigned i = 0; i < cfg->npci; i++) {
		SCRATCH(e, 32);
		emit8(&e, 4);
		aml_int(&e, (uint64_t)cfg->pci[i].slot << 16 | 0xffff);
		aml_int(&e, 0);         /* pin A */
		aml_int(&e, 0);         /* source: none, a GSI */
		aml_int(&e, cfg->pci[i].irq);
		aml_wrap(&list, (const uint8_t[]){ AML_PACKAGE }, 1, &e);
	}
	aml_name(b, "_PRT");
	aml_wrap(b, (const uint8_t[]){ AML_PACKAGE }, 1, &list);
}

static void dsdt_body(struct bytes *b, const struct acpi_config *cfg)
{
	SCRATCH(dev, 1024);
	emit(&dev, "PCI0", 4);
	aml_name(&dev, "_HID");
	aml_int(&dev, eisa_id("PNP0A03"));
	aml_name(&dev, "_ADR");
	aml_int(&dev, 0);
	aml_name(&dev, "_UID");
	aml_int(&dev, 0);
	pci0_crs(&dev, cfg);
	pci0_prt(&dev, cfg);

	SCRATCH(scope, 1100);
	emit(&scope, (const uint8_t[]){ AML_ROOT, '_', 'S', 'B', '_' }, 5);
	aml_wrap(&scope, (const uint8_t[]){ AML_EXT, AML_DEVICE }, 2, &dev);
	aml_wrap(b, (const uint8_t[]){ AML_SCOPE }, 1, &scope);

	/* \_S5: the SLP_TYP values Linux writes to PM1a_CNT (and PM1b) to power off. */
	SCRATCH(s5, 16);
	emit8(&s5, 4);
	aml_int(&s5, ACPI_S5_SLP_TYP);
	aml_int(&s5, ACPI_S5_SLP_TYP);
	aml_int(&s5, 0);
	aml_int(&s5, 0);
	aml_name(b, "_S5_");
	aml_wrap(b, (const uint8_t[]){ AML_PACKAGE }, 1, &s5);
}

/* --- tables ------------------------------------------------------------- */

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)(0 - sum);
}

#define SDT_HEADER 36

/* Signature, revision and the OEM fields; length and checksum come at the end. */
static size_t sdt_begin(struct bytes *b, const char sig[4], uint8_t rev)
{
	size_t at = b->n;
	emit(b, sig, 4);
	emit32(b, 0);
	emit8(b, rev);
	emit8(b, 0);
	emit(b, "MEMVSR", 6);
	emit(b, "MEMVISOR", 8);
	emit32(b, 1);
	emit(b, "MVSR", 4);
	emit32(b, 1);
	return at;
}

static void sdt_end(struct bytes *b, size_t at)
{
	uint32_t len = (uint32_t)(b->n - at);
	if (b->n > b->cap)
		return;
	memcpy(b->p + at + 4, &len, 4);
	b->p[at + 9] = checksum(b->p + at, len);
}

static void align(struct bytes *b, size_t a)
{
	while (b->n % a)
		emit8(b, 0);
}

/* Generic Address Structure: a system I/O register. */
static void gas_io(struct bytes *b, uint16_t port, uint8_t bits)
{
	emit8(b, 1);
	emit8(b, bits);
	emit8(b, 0);
	emit8(b, bits == 8 ? 1 : bits == 16 ? 2 : 3);
	emit64(b, port);
}

static void gas_none(struct bytes *b)
{
	emit32(b, 0);
	emit64(b, 0);
}

static void fadt(struct bytes *b, uint64_t dsdt, uint64_t facs)
{
	size_t at = sdt_begin(b, "FACP", 6);

	emit32(b, (uint32_t)facs);
	emit32(b, (uint32_t)dsdt);
	emit8(b, 0);                        /* reserved */
	emit8(b, 0);                        /* preferred PM profile: unspecified */
	emit16(b, ACPI_SCI_IRQ);
	emit32(b, 0);                       /* SMI_CMD 0: already in ACPI mode */
	emit32(b, 0);                       /* ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT */
	emit32(b, ACPI_PM1A_EVT_PORT);
	emit32(b, 0);
	emit32(b, ACPI_PM1A_CNT_PORT);
	emit32(b, 0);
	emit32(b, 0);                       /* PM2_CNT */
	emit32(b, 0);                       /* PM_TMR: none, Linux uses kvmclock and the TSC */
	emit32(b, 0);                       /* GPE0 */
	emit32(b, 0);                       /* GPE1 */
	emit8(b, 4);                        /* PM1_EVT_LEN */
	emit8(b, 2);                        /* PM1_CNT_LEN */
	emit8(b, 0);
	emit8(b, 0);
	emit32(b, 0);                       /* GPE lengths, GPE1 base, CST_CNT */
	emit16(b, 0x65);                    /* P_LVL2_LAT > 100: C2 not supported */
	emit16(b, 0x3e9);                   /* P_LVL3_LAT > 1000: C3 not supported */
	emit32(b, 0);                       /* FLUSH_SIZE, FLUSH_STRIDE */
	emit8(b, 0);                        /* DUTY_OFFSET, DUTY_WIDTH, alarms, CENTURY */
	emit8(b, 0);
	emit8(b, 0);
	emit8(b, 0);
	emit8(b, 0);
	emit16(b, 1u << 2 | 1u << 5);       /* IAPC_BOOT_ARCH: no VGA, no CMOS RTC */
	emit8(b, 0);
	/* WBINVD, power and sleep buttons are control methods (none), reset register. */
	emit32(b, 1u << 0 | 1u << 4 | 1u << 5 | 1u << 10);
	gas_io(b, ACPI_RESET_PORT, 8);
	emit8(b, ACPI_RESET_VALUE);
	emit16(b, 0);                       /* ARM_BOOT_ARCH */
	emit8(b, 0);                        /* FADT minor version */
	emit64(b, facs);
	emit64(b, dsdt);
	gas_io(b, ACPI_PM1A_EVT_PORT, 32);
	gas_none(b);
	gas_io(b, ACPI_PM1A_CNT_PORT, 16);
	gas_none(b);
	gas_none(b);                        /* PM2_CNT */
	gas_none(b);                        /* PM_TMR */
	gas_none(b);                        /* GPE0 */
	gas_none(b);                        /* GPE1 */
	gas_none(b);                        /* SLEEP_CONTROL */
	gas_none(b);                        /* SLEEP_STATUS */
	emit64(b, 0);                       /* hypervisor vendor */
	sdt_end(b, at);
}

static void madt(struct bytes *b, unsigned vcpus)
{
	size_t at = sdt_begin(b, "APIC", 4);

	emit32(b, (uint32_t)0xfee00000u);   /* local APIC address */
	emit32(b, 1);                       /* PCAT_COMPAT: there are 8259s (KVM's), masked */
	for (unsigned i = 0; i < vcpus; i++) {
		emit8(b, 0);                /* processor local APIC */
		emit8(b, 8);
		emit8(b, (uint8_t)i);       /* ACPI processor UID */
		emit8(b, (uint8_t)i);       /* APIC ID, as CPUID leaf 1 gives it */
		emit32(b, 1);               /* enabled */
	}
	emit8(b, 1);                        /* I/O APIC */
	emit8(b, 12);
	emit8(b, 0);                        /* its ID */
	emit8(b, 0);
	emit32(b, (uint32_t)0xfec00000u);
	emit32(b, 0);                       /* GSI base */
	/* The SCI, as ACPI wants it: level triggered, active high. */
	emit8(b, 2);
	emit8(b, 10);
	emit8(b, 0);                        /* ISA */
	emit8(b, ACPI_SCI_IRQ);
	emit32(b, ACPI_SCI_IRQ);
	emit16(b, 0x0d);
	/* LINT1 of every local APIC is NMI. */
	emit8(b, 4);
	emit8(b, 6);
	emit8(b, 0xff);
	emit16(b, 0x05);
	emit8(b, 1);
	sdt_end(b, at);
}

uint64_t acpi_tables_write(uint8_t *buf, uint64_t base, size_t room, const struct acpi_config *cfg)
{
	struct bytes b = { buf, 0, room };
	size_t xsdt_at, fadt_at, facs_at, dsdt_at, madt_at, at;

	if (base % 16 || cfg->npci > ACPI_MAX_PCI_IRQS || cfg->vcpus == 0 || cfg->vcpus > 255)
		return 0;
	/* RSDP (ACPI 2.0): the pointers are filled in once the others are placed. */
	emit(&b, "RSD PTR ", 8);
	emit8(&b, 0);
	emit(&b, "MEMVSR", 6);
	emit8(&b, 2);
	emit32(&b, 0);
	emit32(&b, 36);
	emit64(&b, 0);
	emit8(&b, 0);
	emit(&b, (const uint8_t[3]){ 0 }, 3);

	align(&b, 64);
	facs_at = b.n;                      /* FACS: no checksum, 64-byte aligned */
	emit(&b, "FACS", 4);
	emit32(&b, 64);
	emit(&b, (const uint8_t[56]){ [24] = 2 }, 56);   /* version 2 at offset 32 */

	dsdt_at = b.n;
	at = sdt_begin(&b, "DSDT", 2);
	dsdt_body(&b, cfg);
	sdt_end(&b, at);

	align(&b, 8);
	fadt_at = b.n;
	fadt(&b, base + dsdt_at, base + facs_at);

	align(&b, 8);
	madt_at = b.n;
	madt(&b, cfg->vcpus);

	align(&b, 8);
	xsdt_at = b.n;
	at = sdt_begin(&b, "XSDT", 1);
	emit64(&b, base + fadt_at);
	emit64(&b, base + madt_at);
	sdt_end(&b, at);

	if (b.n > room)
		return 0;
	memcpy(buf + 24, &(uint64_t){ base + xsdt_at }, 8);
	buf[8] = checksum(buf, 20);
	buf[32] = checksum(buf, 36);
	return base;
}
