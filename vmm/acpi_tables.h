/*
 * The ACPI tables a Linux guest reads at boot: RSDP, XSDT, FADT with FACS,
 * MADT and a DSDT.  The FADT gives the PM1 event and control blocks and the
 * reset register, so Linux's own power-off (S5) and reboot reach the VMM as
 * port writes; the MADT lists the vCPUs' local APICs and KVM's IOAPIC; the
 * DSDT holds \_S5 and the PCI host bridge PCI0 with its windows (_CRS) and
 * the INTx routing of the slots in use (_PRT).  Pure: writes into a buffer.
 */
#ifndef MEMVISOR_ACPI_TABLES_H
#define MEMVISOR_ACPI_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* The ports the FADT names: the VMM's power-management device answers them. */
#define ACPI_PM1A_EVT_PORT  0x600   /* 4 bytes: PM1 status, PM1 enable */
#define ACPI_PM1A_CNT_PORT  0x604   /* 2 bytes: SCI_EN, SLP_TYP, SLP_EN */
#define ACPI_RESET_PORT     0xcf9
#define ACPI_RESET_VALUE    0x06
#define ACPI_SCI_IRQ        9
#define ACPI_S5_SLP_TYP     5       /* what \_S5 tells Linux to write */
#define ACPI_PM1_SCI_EN     0x0001
#define ACPI_PM1_SLP_EN     0x2000
#define ACPI_MAX_PCI_IRQS   8

struct acpi_pci_irq {
	unsigned slot;              /* device number on bus 0 */
	unsigned irq;               /* the GSI its INTA# raises */
};

struct acpi_config {
	unsigned vcpus;
	uint64_t mem64_base, mem64_size;    /* the 64-bit PCI window (BARs) */
	unsigned npci;
	struct acpi_pci_irq pci[ACPI_MAX_PCI_IRQS];
};

/*
 * Write the tables at guest-physical base (16-byte aligned) into buf, which
 * is the guest's view of [base, base + room).  Returns the RSDP's gpa (base),
 * or 0 when room is too small.
 */
uint64_t acpi_tables_write(uint8_t *buf, uint64_t base, size_t room, const struct acpi_config *cfg);

#endif
