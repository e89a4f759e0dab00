// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI tables (vmm/acpi.h).  Layouts per the ACPI 6.x specification,
 * chapter 5; the FADT is revision 6 (276 bytes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/acpi.h"
#include "vmm/aml.h"
#include "vmm/hotplug.h"
#include "vmm/layout.h"
#include "vmm/pci.h"
#include "vmm/pm.h"

#define ACPI_OEM_ID		"FERRY "
#define ACPI_OEM_TABLE_ID	"FERRYVM "
#define ACPI_CREATOR_ID		"FRRY"
#define ACPI_HEADER_SIZE	36

#define RSDP_SIZE		36
#define FACS_SIZE		64
#define FADT_SIZE		276
#define MCFG_SIZE		(ACPI_HEADER_SIZE + 8 + 16)

/* FADT flags */
#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_SLP_BUTTON		(1u << 5)	/* no fixed sleep button */
#define FADT_FIX_RTC		(1u << 6)	/* no RTC wake status in PM1 */
#define FADT_RESET_REG_SUP	(1u << 10)
#define FADT_HEADLESS		(1u << 12)

/* FADT IA-PC boot architecture flags */
#define BOOT_LEGACY_DEVICES	(1u << 0)
#define BOOT_NO_VGA		(1u << 2)
#define BOOT_NO_CMOS_RTC	(1u << 5)

/* Generic Address Structure */
#define GAS_SYSTEM_IO		1
#define GAS_ACCESS_BYTE		1
#define GAS_ACCESS_WORD		2

/* MADT */
#define MADT_PCAT_COMPAT	1
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_NMI		4
#define MPS_ACTIVE_HIGH		0x1
#define MPS_LEVEL		(0x3 << 2)

/* Hands out 16-byte aligned, zeroed blocks of the tables area. */
struct acpi_area {
	uint8_t *mem;
	uint64_t guest;
	size_t room, used;
};

static uint8_t *acpi_alloc(struct acpi_area *ar, size_t size, size_t align, uint64_t *gpa)
{
	size_t at = (ar->used + align - 1) & ~(align - 1);

	if (at > ar->room || size > ar->room - at)
		return NULL;
	ar->used = at + size;
	memset(ar->mem + at, 0, size);
	*gpa = ar->guest + at;
	return ar->mem + at;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint8_t acpi_checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum += *p++;
	return -sum;
}

static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put32(t + 24, 1);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put32(t + 32, 1);
}

/* Last, once the table's bytes are final. */
static void acpi_seal(uint8_t *t)
{
	uint32_t len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;

	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

static void acpi_gas_io(uint8_t *g, uint16_t port, unsigned int len, uint8_t access)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = len * 8;
	g[2] = 0;
	g[3] = access;
	put64(g + 4, port);
}

/* ---- DSDT ---- */

#define HP_FIELD_PREFIX	"\\_SB.PCI0."

static void hp_slot_name(char *buf, size_t len, const char *prefix, unsigned int slot)
{
	snprintf(buf, len, "%sS%02X", prefix, slot);
}

/*
 * Inside PCI0: the controller's registers as fields, and one Device per
 * slot.  acpiphp takes a Device with _ADR and _EJ0 under the root bridge
 * for a hot-plug slot; without _STA it asks config space whether a device
 * is there, which is where ferry puts it (or takes it away).
 */
static void dsdt_hotplug_slots(struct aml *a, uint16_t port)
{
	char name[32];

	aml_opregion(a, "HPIO", AML_SPACE_IO, port, LAYOUT_HOTPLUG_LEN);
	aml_field_begin(a, "HPIO", AML_FIELD_DWORD | AML_FIELD_WRITE_AS_ZEROS);
	aml_field_unit(a, "HPIN", 32);
	aml_field_unit(a, "HPRQ", 32);
	aml_field_unit(a, "HPEJ", 32);
	aml_field_unit(a, "HPOC", 32);
	aml_end(a);
	for (unsigned int slot = 1; slot < PCI_HOST_SLOTS; slot++) {
		hp_slot_name(name, sizeof(name), "", slot);
		aml_device_begin(a, name);
		aml_name_decl(a, "_ADR");
		aml_int(a, (uint64_t)slot << 16);	/* function 0 */
		aml_name_decl(a, "_SUN");
		aml_int(a, slot);
		/* _EJ0 (Arg0: 1, eject): the slot's bit in EJ; ferry takes it away. */
		aml_method_begin(a, "_EJ0", 1, false);
		aml_byte(a, AML_STORE);
		aml_int(a, 1ull << slot);
		aml_name(a, HP_FIELD_PREFIX "HPEJ");
		aml_end(a);
		aml_end(a);
	}
}

/*
 * \_GPE._L01: reads INS and REQ, acknowledges exactly what it read, and
 * notifies each slot: 1 (device check) for INS, 3 (eject request) for REQ.
 * Level-triggered: ACPICA clears the status after the method, when the
 * acknowledged input has gone low.
 */
static void dsdt_hotplug_gpe(struct aml *a)
{
	char method[8], name[32];

	snprintf(method, sizeof(method), "_L%02X", HOTPLUG_GPE);
	aml_scope_begin(a, "\\_GPE");
	aml_method_begin(a, method, 0, false);
	aml_byte(a, AML_STORE);
	aml_name(a, HP_FIELD_PREFIX "HPIN");
	aml_byte(a, AML_LOCAL0);
	aml_byte(a, AML_STORE);
	aml_name(a, HP_FIELD_PREFIX "HPRQ");
	aml_byte(a, AML_LOCAL0 + 1);
	aml_byte(a, AML_STORE);
	aml_byte(a, AML_LOCAL0);
	aml_name(a, HP_FIELD_PREFIX "HPIN");
	aml_byte(a, AML_STORE);
	aml_byte(a, AML_LOCAL0 + 1);
	aml_name(a, HP_FIELD_PREFIX "HPRQ");
	for (unsigned int slot = 1; slot < PCI_HOST_SLOTS; slot++) {
		hp_slot_name(name, sizeof(name), HP_FIELD_PREFIX, slot);
		for (unsigned int local = 0; local < 2; local++) {
			aml_if_begin(a);
			aml_byte(a, AML_AND);
			aml_byte(a, AML_LOCAL0 + local);
			aml_int(a, 1ull << slot);
			aml_byte(a, AML_ZERO);		/* no target */
			aml_byte(a, AML_NOTIFY);
			aml_name(a, name);
			aml_int(a, local ? 3 : 1);
			aml_end(a);
		}
	}
	aml_end(a);
	aml_end(a);
}

static void dsdt_pci0(struct aml *a, const struct acpi_config *cfg)
{
	aml_device_begin(a, "PCI0");
	aml_name_decl(a, "_HID");
	aml_eisaid(a, "PNP0A08");	/* PCI Express root */
	aml_name_decl(a, "_CID");
	aml_eisaid(a, "PNP0A03");	/* PCI root */
	aml_name_decl(a, "_UID");
	aml_int(a, 0);
	aml_name_decl(a, "_SEG");
	aml_int(a, 0);
	aml_name_decl(a, "_BBN");
	aml_int(a, 0);

	/*
	 * What the root bridge decodes: its buses, the config ports, the ISA
	 * ports below them (COM1, PM, i8042 live there), the PCI I/O window and
	 * the MMIO windows.  ECAM is not a window: MRES reserves it.
	 */
	aml_name_decl(a, "_CRS");
	aml_buffer_begin(a);
	aml_res_word_bus(a, 0, LAYOUT_PCI_ECAM_SIZE / (1 << 20) - 1);
	aml_res_io(a, 0xcf8, 0xcf8, 1, 8);
	aml_res_word_io(a, 0x0000, 0x0cf7);
	aml_res_word_io(a, LAYOUT_PCI_IO_START, LAYOUT_PCI_IO_START + LAYOUT_PCI_IO_SIZE - 1);
	aml_res_dword_mem(a, LAYOUT_PCI_MMIO32_START,
			  LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE - 1, false);
	if (cfg->mmio64_size)
		aml_res_qword_mem(a, cfg->mmio64_base, cfg->mmio64_base + cfg->mmio64_size - 1,
				  false);
	aml_res_end(a);
	aml_end(a);

	/* INTx routing: Package { address (slot, any function), pin, source, GSI }. */
	aml_name_decl(a, "_PRT");
	aml_package_begin(a, PCI_HOST_SLOTS * 4);
	for (unsigned int slot = 0; slot < PCI_HOST_SLOTS; slot++) {
		for (unsigned int pin = 1; pin <= 4; pin++) {
			aml_package_begin(a, 4);
			aml_int(a, (uint64_t)slot << 16 | 0xffff);
			aml_int(a, pin - 1);
			aml_int(a, 0);
			aml_int(a, pci_host_intx_gsi(slot, pin));
			aml_end(a);
		}
	}
	aml_end(a);
	if (cfg->hotplug_port)
		dsdt_hotplug_slots(a, cfg->hotplug_port);
	aml_end(a);
}

static void dsdt_mres(struct aml *a)
{
	aml_device_begin(a, "MRES");
	aml_name_decl(a, "_HID");
	aml_eisaid(a, "PNP0C02");	/* motherboard resources */
	aml_name_decl(a, "_UID");
	aml_int(a, 0);
	aml_name_decl(a, "_CRS");
	aml_buffer_begin(a);
	/* Linux only trusts the MCFG window when a PNP0C02 reserves it. */
	aml_res_mem32_fixed(a, LAYOUT_PCI_ECAM_START, LAYOUT_PCI_ECAM_SIZE, true);
	aml_res_end(a);
	aml_end(a);
	aml_end(a);
}

static void dsdt_com1(struct aml *a)
{
	aml_device_begin(a, "COM1");
	aml_name_decl(a, "_HID");
	aml_eisaid(a, "PNP0501");	/* 16550A-compatible UART */
	aml_name_decl(a, "_UID");
	aml_int(a, 1);
	aml_name_decl(a, "_STA");
	aml_int(a, 0x0f);		/* present, enabled, shown, working */
	aml_name_decl(a, "_CRS");
	aml_buffer_begin(a);
	aml_res_io(a, LAYOUT_COM1_PORT, LAYOUT_COM1_PORT, 1, 8);
	aml_res_irq(a, 1u << LAYOUT_COM1_GSI);
	aml_res_end(a);
	aml_end(a);
	aml_end(a);
}

static int acpi_build_dsdt(const struct acpi_config *cfg, uint8_t **out, size_t *len)
{
	struct aml a;

	aml_init(&a);
	aml_scope_begin(&a, "\\_SB");
	dsdt_pci0(&a, cfg);
	dsdt_mres(&a);
	dsdt_com1(&a);
	aml_end(&a);

	/* S5 (soft off): SLP_TYPa, SLP_TYPb (no PM1b), reserved. */
	aml_name_decl(&a, "\\_S5");
	aml_package_begin(&a, 4);
	aml_int(&a, PM_SLP_TYP_S5);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_end(&a);
	if (cfg->hotplug_port)
		dsdt_hotplug_gpe(&a);
	return aml_finish(&a, out, len);
}

/* ---- Fixed tables ---- */

static void acpi_fill_fadt(uint8_t *t, const struct acpi_config *cfg, uint64_t facs,
			   uint64_t dsdt)
{
	uint16_t boot = BOOT_LEGACY_DEVICES | BOOT_NO_VGA;

	if (!cfg->has_cmos_rtc)
		boot |= BOOT_NO_CMOS_RTC;

	acpi_header(t, "FACP", FADT_SIZE, 6);
	/*
	 * FACS only in X_FIRMWARE_CTRL: the spec wants FIRMWARE_CTRL zero then
	 * (Linux installs the FACS once per non-zero field).  DSDT in both.
	 */
	put32(t + 40, dsdt);
	put16(t + 46, PM_SCI_GSI);
	/* SMI_CMD 0: always in ACPI mode, nothing to switch. */
	put32(t + 56, PM_PM1A_EVT_PORT);
	put32(t + 64, PM_PM1A_CNT_PORT);
	put32(t + 80, PM_GPE0_PORT);
	t[88] = PM_PM1A_EVT_LEN;
	t[89] = PM_PM1A_CNT_LEN;
	t[92] = PM_GPE0_LEN;
	/* No C2/C3: latencies above the limits say so. */
	put16(t + 96, 101);
	put16(t + 98, 1001);
	put16(t + 109, boot);
	put32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC |
			       FADT_RESET_REG_SUP | FADT_HEADLESS);
	acpi_gas_io(t + 116, PM_RESET_PORT, 1, GAS_ACCESS_BYTE);
	t[128] = PM_RESET_VALUE;
	t[131] = 0;		/* FADT minor version: ACPI 6.0 */
	put64(t + 132, facs);
	put64(t + 140, dsdt);
	acpi_gas_io(t + 148, PM_PM1A_EVT_PORT, PM_PM1A_EVT_LEN, GAS_ACCESS_WORD);
	acpi_gas_io(t + 172, PM_PM1A_CNT_PORT, PM_PM1A_CNT_LEN, GAS_ACCESS_WORD);
	acpi_gas_io(t + 220, PM_GPE0_PORT, PM_GPE0_LEN, GAS_ACCESS_BYTE);
	memcpy(t + 268, "FERRY\0\0\0", 8);	/* hypervisor vendor identity */
	acpi_seal(t);
}

static size_t madt_size(unsigned int ncpus)
{
	return ACPI_HEADER_SIZE + 8 + 8 * ncpus + 12 + 2 * 10 + 6;
}

static void acpi_fill_madt(uint8_t *t, unsigned int ncpus)
{
	uint8_t *e = t + ACPI_HEADER_SIZE + 8;

	acpi_header(t, "APIC", madt_size(ncpus), 5);
	put32(t + 36, LAYOUT_LAPIC_START);
	put32(t + 40, MADT_PCAT_COMPAT);	/* KVM's 8259s are there too */
	for (unsigned int i = 0; i < ncpus; i++, e += 8) {
		e[0] = MADT_LAPIC;
		e[1] = 8;
		e[2] = i;			/* ACPI processor UID */
		e[3] = i;			/* APIC id: KVM's vCPU id */
		put32(e + 4, 1);		/* enabled */
	}
	e[0] = MADT_IOAPIC;
	e[1] = 12;
	e[2] = 0;				/* KVM's IOAPIC id */
	put32(e + 4, LAYOUT_IOAPIC_START);
	put32(e + 8, 0);			/* GSI base */
	e += 12;
	/* The PIT's IRQ 0 is wired to IOAPIC pin 2. */
	e[0] = MADT_ISO;
	e[1] = 10;
	e[2] = 0;				/* ISA */
	e[3] = 0;
	put32(e + 4, 2);
	put16(e + 8, 0);			/* bus defaults: edge, high */
	e += 10;
	/* The SCI: level, active high (pm.c drives the line high to assert). */
	e[0] = MADT_ISO;
	e[1] = 10;
	e[2] = 0;
	e[3] = PM_SCI_GSI;
	put32(e + 4, PM_SCI_GSI);
	put16(e + 8, MPS_ACTIVE_HIGH | MPS_LEVEL);
	e += 10;
	/* LINT1 of every processor is the NMI input. */
	e[0] = MADT_LAPIC_NMI;
	e[1] = 6;
	e[2] = 0xff;
	put16(e + 3, 0);
	e[5] = 1;
	acpi_seal(t);
}

static void acpi_fill_mcfg(uint8_t *t)
{
	uint8_t *e = t + ACPI_HEADER_SIZE + 8;

	acpi_header(t, "MCFG", MCFG_SIZE, 1);
	put64(e, LAYOUT_PCI_ECAM_START);
	put16(e + 8, 0);			/* segment */
	e[10] = 0;				/* first bus */
	e[11] = LAYOUT_PCI_ECAM_SIZE / (1 << 20) - 1;
	acpi_seal(t);
}

int acpi_build_tables(const struct acpi_config *cfg, void *mem, uint64_t guest_addr,
		      size_t room, uint64_t *rsdp_addr)
{
	struct acpi_area ar = { .mem = mem, .guest = guest_addr, .room = room };
	uint64_t rsdp_gpa = 0, facs_gpa = 0, dsdt_gpa = 0, fadt_gpa = 0, madt_gpa = 0;
	uint64_t mcfg_gpa = 0, xsdt_gpa = 0;
	uint8_t *rsdp, *facs, *dsdt, *fadt, *madt, *mcfg, *xsdt, *aml;
	size_t aml_len;
	int ret;

	if (!cfg->ncpus || cfg->ncpus > ACPI_MAX_CPUS || (guest_addr & 15) ||
	    (cfg->mmio64_size && cfg->mmio64_base + cfg->mmio64_size - 1 < cfg->mmio64_base))
		return -EINVAL;
	ret = acpi_build_dsdt(cfg, &aml, &aml_len);
	if (ret)
		return ret;

	ret = -ENOSPC;
	rsdp = acpi_alloc(&ar, RSDP_SIZE, 16, &rsdp_gpa);
	facs = acpi_alloc(&ar, FACS_SIZE, 64, &facs_gpa);
	dsdt = acpi_alloc(&ar, ACPI_HEADER_SIZE + aml_len, 16, &dsdt_gpa);
	fadt = acpi_alloc(&ar, FADT_SIZE, 16, &fadt_gpa);
	madt = acpi_alloc(&ar, madt_size(cfg->ncpus), 16, &madt_gpa);
	mcfg = acpi_alloc(&ar, MCFG_SIZE, 16, &mcfg_gpa);
	xsdt = acpi_alloc(&ar, ACPI_HEADER_SIZE + 3 * 8, 16, &xsdt_gpa);
	if (!rsdp || !facs || !dsdt || !fadt || !madt || !mcfg || !xsdt)
		goto out;

	memcpy(facs, "FACS", 4);
	put32(facs + 4, FACS_SIZE);
	facs[32] = 2;				/* version */

	acpi_header(dsdt, "DSDT", ACPI_HEADER_SIZE + aml_len, 2);	/* 2: 64-bit integers */
	memcpy(dsdt + ACPI_HEADER_SIZE, aml, aml_len);
	acpi_seal(dsdt);

	acpi_fill_fadt(fadt, cfg, facs_gpa, dsdt_gpa);
	acpi_fill_madt(madt, cfg->ncpus);
	acpi_fill_mcfg(mcfg);

	acpi_header(xsdt, "XSDT", ACPI_HEADER_SIZE + 3 * 8, 1);
	put64(xsdt + ACPI_HEADER_SIZE, fadt_gpa);
	put64(xsdt + ACPI_HEADER_SIZE + 8, madt_gpa);
	put64(xsdt + ACPI_HEADER_SIZE + 16, mcfg_gpa);
	acpi_seal(xsdt);

	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, ACPI_OEM_ID, 6);
	rsdp[15] = 2;				/* revision: XSDT present */
	put32(rsdp + 20, RSDP_SIZE);
	put64(rsdp + 24, xsdt_gpa);
	rsdp[8] = acpi_checksum(rsdp, 20);
	rsdp[32] = acpi_checksum(rsdp, RSDP_SIZE);

	*rsdp_addr = rsdp_gpa;
	ret = 0;
out:
	free(aml);
	return ret;
}
