// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmm/acpi.c and vmm/aml.c: table structure and checksums, and every table
 * disassembled by iasl (acpica-tools) without an error or warning.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/acpi.h"
#include "vmm/aml.h"
#include "vmm/layout.h"
#include "vmm/pm.h"

#define BASE LAYOUT_ACPI_START
#define ROOM 0x20000

static uint8_t mem[ROOM];

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* The table at guest address @gpa, checked for signature and checksum. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t;

	cr_assert_geq(gpa, BASE);
	cr_assert_lt(gpa, BASE + ROOM);
	t = mem + (gpa - BASE);
	cr_assert_eq(memcmp(t, sig, 4), 0, "expected %s", sig);
	cr_assert_leq(gpa - BASE + get32(t + 4), ROOM);
	cr_assert_eq(sum(t, get32(t + 4)), 0, "%s checksum", sig);
	return t;
}

static const struct acpi_config cfg2 = {
	.ncpus = 2, .mmio64_base = 0x8000000000ull, .mmio64_size = 0x8000000000ull,
};

static uint64_t build(const struct acpi_config *cfg)
{
	uint64_t rsdp = 0;

	memset(mem, 0xa5, sizeof(mem));
	cr_assert_eq(acpi_build_tables(cfg, mem, BASE, ROOM, &rsdp), 0);
	return rsdp;
}

Test(acpi, structure_and_checksums)
{
	uint64_t rsdp_gpa = build(&cfg2);
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *mcfg, *facs;

	cr_assert_eq(rsdp_gpa & 15, 0);
	rsdp = mem + (rsdp_gpa - BASE);
	cr_assert_eq(memcmp(rsdp, "RSD PTR ", 8), 0);
	cr_assert_eq(sum(rsdp, 20), 0);
	cr_assert_eq(sum(rsdp, 36), 0);
	cr_assert_eq(rsdp[15], 2);
	cr_assert_eq(get32(rsdp + 20), 36);

	xsdt = table(get64(rsdp + 24), "XSDT");
	cr_assert_eq(get32(xsdt + 4), 36 + 3 * 8);
	fadt = table(get64(xsdt + 36), "FACP");
	madt = table(get64(xsdt + 44), "APIC");
	mcfg = table(get64(xsdt + 52), "MCFG");

	/* FADT: the PM blocks, SCI, reset register, DSDT and FACS. */
	cr_assert_eq(get32(fadt + 4), 276);
	cr_assert_eq(fadt[8], 6);
	cr_assert_eq(fadt[46], PM_SCI_GSI);
	cr_assert_eq(get32(fadt + 56), PM_PM1A_EVT_PORT);
	cr_assert_eq(get32(fadt + 64), PM_PM1A_CNT_PORT);
	cr_assert_eq(get32(fadt + 112) & (1u << 20), 0, "not hardware-reduced");
	cr_assert_neq(get32(fadt + 112) & (1u << 10), 0, "reset register supported");
	cr_assert_eq(fadt[116], 1, "reset register in I/O space");
	cr_assert_eq(get64(fadt + 120), PM_RESET_PORT);
	cr_assert_eq(fadt[128], PM_RESET_VALUE);
	cr_assert_eq(fadt[109] & 0x02, 0, "no i8042 announced");
	table(get64(fadt + 140), "DSDT");
	cr_assert_eq(get64(fadt + 140), get32(fadt + 40));
	cr_assert_eq(get32(fadt + 36), 0, "FIRMWARE_CTRL must be 0 when X_FIRMWARE_CTRL is set");
	facs = mem + (get64(fadt + 132) - BASE);
	cr_assert_eq(get64(fadt + 132) & 63, 0);
	cr_assert_eq(memcmp(facs, "FACS", 4), 0);

	/* MADT: one LAPIC per vCPU, the IOAPIC, two overrides, the NMI. */
	cr_assert_eq(get32(madt + 36), LAYOUT_LAPIC_START);
	const uint8_t *e = madt + 44, *end = madt + get32(madt + 4);
	int lapics = 0, ioapics = 0, isos = 0;

	while (e < end) {
		cr_assert_gt(e[1], 0);
		if (e[0] == 0) {
			cr_assert_eq(e[3], lapics);
			lapics++;
		} else if (e[0] == 1) {
			cr_assert_eq(get32(e + 4), LAYOUT_IOAPIC_START);
			cr_assert_eq(get32(e + 8), 0);
			ioapics++;
		} else if (e[0] == 2) {
			if (e[3] == 0)
				cr_assert_eq(get32(e + 4), 2);
			else
				cr_assert(e[3] == 9 && get32(e + 4) == 9 &&
					  (e[8] | e[9] << 8) == 0xd);
			isos++;
		}
		e += e[1];
	}
	cr_assert_eq(e, end);
	cr_assert_eq(lapics, 2);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(isos, 2);

	cr_assert_eq(get64(mcfg + 44), LAYOUT_PCI_ECAM_START);
	cr_assert_eq(mcfg[55], 255);
}

Test(acpi, bad_configs_and_small_room)
{
	uint64_t rsdp;

	cr_assert_eq(acpi_build_tables(&(struct acpi_config){ .ncpus = 0 }, mem, BASE, ROOM,
				       &rsdp), -EINVAL);
	cr_assert_eq(acpi_build_tables(&(struct acpi_config){ .ncpus = 256 }, mem, BASE, ROOM,
				       &rsdp), -EINVAL);
	cr_assert_eq(acpi_build_tables(&cfg2, mem, BASE + 8, ROOM, &rsdp), -EINVAL);
	cr_assert_eq(acpi_build_tables(&cfg2, mem, BASE, 512, &rsdp), -ENOSPC);
	cr_assert_eq(acpi_build_tables(&(struct acpi_config){ .ncpus = 255 }, mem, BASE, ROOM,
				       &rsdp), 0);
}

/* Runs "iasl <args> <file>" in @dir; returns its output. */
static char *run_iasl(const char *dir, const char *args, const char *file, int *status)
{
	char cmd[512], *out;
	FILE *p;
	size_t n = 0, cap = 1 << 16;

	snprintf(cmd, sizeof(cmd), "cd '%s' && iasl %s '%s' 2>&1", dir, args, file);
	p = popen(cmd, "r");
	cr_assert(p, "cannot run iasl (apt-get install acpica-tools)");
	out = calloc(1, cap);
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	*status = pclose(p);
	return out;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert(f, "%s missing", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	cr_assert_eq(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void dump(const char *dir, const char *name, const uint8_t *t, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f);
	cr_assert_eq(fwrite(t, 1, len, f), len);
	fclose(f);
}

static void dump_table(const char *dir, const char *name, const uint8_t *t)
{
	dump(dir, name, t, get32(t + 4));
}

/* iasl -d succeeds and says nothing alarming; returns the .dsl text. */
static char *disassemble(const char *dir, const char *name, const uint8_t *t)
{
	char dat[64], dsl[256], *log, *text;
	int status;

	snprintf(dat, sizeof(dat), "%s.dat", name);
	dump(dir, dat, t, get32(t + 4));
	log = run_iasl(dir, "-d", dat, &status);
	cr_assert_eq(status, 0, "iasl -d %s failed:\n%s", name, log);
	cr_assert_null(strstr(log, "Error"), "iasl -d %s:\n%s", name, log);
	cr_assert_null(strstr(log, "Warning"), "iasl -d %s:\n%s", name, log);
	cr_assert_null(strstr(log, "AE_"), "iasl -d %s:\n%s", name, log);
	free(log);
	snprintf(dsl, sizeof(dsl), "%s/%s.dsl", dir, name);
	text = slurp(dsl);
	cr_assert_null(strstr(text, "Incorrect"), "%s:\n%s", name, text);
	cr_assert_null(strstr(text, "Invalid"), "%s:\n%s", name, text);
	return text;
}

static void rm_rf(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(acpi, iasl_disassembles_every_table)
{
	char dir[] = "/tmp/ferry-acpi-XXXXXX", *text, *log;
	uint64_t rsdp_gpa = build(&cfg2);
	const uint8_t *rsdp = mem + (rsdp_gpa - BASE), *xsdt, *fadt, *dsdt;
	int status;

	cr_assert(mkdtemp(dir));
	xsdt = table(get64(rsdp + 24), "XSDT");
	fadt = table(get64(xsdt + 36), "FACP");
	dsdt = table(get64(fadt + 140), "DSDT");

	/*
	 * The RSDP has no standard header, and iasl 20200925 refuses to load a
	 * bare one ("does not contain a valid ACPI table"): it is checked field
	 * by field in structure_and_checksums instead.
	 */
	(void)rsdp;
	free(disassemble(dir, "xsdt", xsdt));
	text = disassemble(dir, "facp", fadt);
	cr_assert(strstr(text, "Signature : \"FACP\""), "%s", text);
	free(text);
	free(disassemble(dir, "facs", mem + (get64(fadt + 132) - BASE)));
	free(disassemble(dir, "apic", table(get64(xsdt + 44), "APIC")));
	free(disassemble(dir, "mcfg", table(get64(xsdt + 52), "MCFG")));

	text = disassemble(dir, "dsdt", dsdt);
	cr_assert(strstr(text, "Scope (\\_SB)"), "%s", text);
	cr_assert(strstr(text, "Device (PCI0)"), "%s", text);
	cr_assert(strstr(text, "EisaId (\"PNP0A08\")"), "%s", text);
	cr_assert(strstr(text, "Device (COM1)"), "%s", text);
	cr_assert(strstr(text, "EisaId (\"PNP0501\")"), "%s", text);
	cr_assert(strstr(text, "0x03F8"), "%s", text);
	cr_assert(strstr(text, "IRQNoFlags ()"), "%s", text);
	cr_assert(strstr(text, "{4}"), "%s", text);
	cr_assert(strstr(text, "Name (\\_S5, Package (0x04)"), "%s", text);
	cr_assert(strstr(text, "EisaId (\"PNP0C02\")"), "%s", text);
	cr_assert(strstr(text, "0xC0000000"), "%s", text);
	cr_assert(strstr(text, "0x0000008000000000"), "%s", text);
	cr_assert(strstr(text, "Name (_PRT, Package (0x80)"), "%s", text);
	/* PCI0 sits inside \_SB: the disassembler's nesting says so. */
	cr_assert_lt(strstr(text, "Scope (\\_SB)"), strstr(text, "Device (PCI0)"));
	free(text);

	/* And the DSDT compiles back from its own disassembly without errors. */
	log = run_iasl(dir, "-p dsdt2", "dsdt.dsl", &status);
	cr_assert_eq(status, 0, "%s", log);
	cr_assert(strstr(log, "0 Errors"), "%s", log);
	free(log);
	rm_rf(dir);
}

/*
 * ACPICA's own interpreter (acpiexec) loads the tables as an OS would and
 * evaluates what Linux evaluates: \_S5 for power-off, PCI0's _CRS and _PRT.
 */
Test(acpi, acpiexec_loads_and_evaluates)
{
	char dir[] = "/tmp/ferry-acpiexec-XXXXXX", cmd[512], *out;
	uint64_t rsdp_gpa = build(&cfg2);
	const uint8_t *rsdp = mem + (rsdp_gpa - BASE), *xsdt, *fadt;
	FILE *p;
	size_t n;

	cr_assert(mkdtemp(dir));
	xsdt = table(get64(rsdp + 24), "XSDT");
	fadt = table(get64(xsdt + 36), "FACP");
	dump_table(dir, "dsdt.dat", table(get64(fadt + 140), "DSDT"));
	dump_table(dir, "facp.dat", fadt);
	dump_table(dir, "apic.dat", table(get64(xsdt + 44), "APIC"));
	dump_table(dir, "mcfg.dat", table(get64(xsdt + 52), "MCFG"));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && timeout 60 acpiexec -b 'evaluate \\_S5; evaluate \\_SB.PCI0._PRT; "
		 "evaluate \\_SB.COM1._CRS' dsdt.dat facp.dat apic.dat mcfg.dat 2>&1", dir);
	p = popen(cmd, "r");
	cr_assert(p, "cannot run acpiexec (apt-get install acpica-tools)");
	out = calloc(1, 1 << 20);
	n = fread(out, 1, (1 << 20) - 1, p);
	out[n] = 0;
	cr_assert_eq(pclose(p), 0, "%s", out);

	cr_assert(strstr(out, "1 ACPI AML tables successfully acquired and loaded"), "%s", out);
	cr_assert_null(strstr(out, "ACPI Error"), "%s", out);
	cr_assert_null(strstr(out, "ACPI Warning"), "%s", out);
	cr_assert(strstr(out, "Initialized GPE 00 to 0F [_GPE] 2 regs on interrupt 0x9 (SCI)"),
		  "%s", out);
	/* \_S5 = { 5, 0, 0, 0 }: the SLP_TYP pm.c powers off on. */
	cr_assert(strstr(out, "Evaluation of \\_S5 returned"), "%s", out);
	cr_assert(strstr(out, "[Package] Contains 4 Elements:\n    [Integer] = 0000000000000005"),
		  "%s", out);
	/* _PRT: 32 slots x 4 pins. */
	cr_assert(strstr(out, "[Package] Contains 128 Elements:"), "%s", out);
	/* COM1's _CRS: the IO descriptor for 0x3f8 and IRQ 4 (mask 0x0010). */
	cr_assert(strstr(out, "47 01 F8 03 F8 03 01 08 22 10 00 79"), "%s", out);
	free(out);
	rm_rf(dir);
}

static const uint8_t *wrap_ssdt(const uint8_t *aml, size_t len)
{
	static uint8_t t[4096];

	cr_assert_leq(36 + len, sizeof(t));
	memset(t, 0, 36);
	memcpy(t, "SSDT", 4);
	t[4] = (36 + len) & 0xff;
	t[5] = (36 + len) >> 8;
	t[8] = 2;
	memcpy(t + 10, "FERRY ", 6);
	memcpy(t + 16, "TESTAML ", 8);
	memcpy(t + 36, aml, len);
	t[9] = -sum(t, 36 + len);
	return t;
}

/* What ACPI PCI hot-plug will need: regions, fields, methods, If, Notify. */
Test(acpi, aml_builder_control_flow_through_iasl)
{
	char dir[] = "/tmp/ferry-aml-XXXXXX", *text;
	struct aml a;
	uint8_t *code;
	size_t len;

	aml_init(&a);
	aml_scope_begin(&a, "\\_SB");
	aml_device_begin(&a, "PCI0");
	aml_name_decl(&a, "_HID");
	aml_eisaid(&a, "PNP0A03");
	aml_device_begin(&a, "S01");
	aml_name_decl(&a, "_ADR");
	aml_int(&a, 0x10000);
	aml_method_begin(&a, "_EJ0", 1, false);
	aml_byte(&a, AML_STORE);
	aml_int(&a, 2);
	aml_name(&a, "^^PCEJ");
	aml_end(&a);
	aml_end(&a);
	aml_end(&a);
	aml_opregion(&a, "PCST", AML_SPACE_IO, 0xae00, 8);
	aml_field_begin(&a, "PCST", AML_FIELD_DWORD | AML_FIELD_WRITE_AS_ZEROS);
	aml_field_unit(&a, "PCIU", 32);
	aml_field_skip(&a, 32);
	aml_end(&a);
	aml_name_decl(&a, "PCEJ");
	aml_int(&a, 0);
	aml_end(&a);
	aml_scope_begin(&a, "\\_GPE");
	aml_method_begin(&a, "_E01", 0, true);
	aml_if_begin(&a);
	aml_byte(&a, AML_LEQUAL);
	aml_byte(&a, AML_AND);
	aml_name(&a, "\\_SB.PCIU");
	aml_int(&a, 2);
	aml_byte(&a, AML_ZERO);
	aml_int(&a, 2);
	aml_byte(&a, AML_NOTIFY);
	aml_name(&a, "\\_SB.PCI0.S01");
	aml_int(&a, 1);
	aml_end(&a);
	aml_else_begin(&a);
	aml_byte(&a, AML_RETURN);
	aml_int(&a, 0x123456789ull);
	aml_end(&a);
	aml_end(&a);
	aml_end(&a);
	cr_assert_eq(aml_finish(&a, &code, &len), 0);

	cr_assert(mkdtemp(dir));
	text = disassemble(dir, "ssdt", wrap_ssdt(code, len));
	cr_assert(strstr(text, "OperationRegion (PCST, SystemIO, 0xAE00, 0x08)"), "%s", text);
	cr_assert(strstr(text, "PCIU,   32"), "%s", text);
	cr_assert(strstr(text, "Method (_EJ0, 1, NotSerialized)"), "%s", text);
	cr_assert(strstr(text, "Method (_E01, 0, Serialized)"), "%s", text);
	cr_assert(strstr(text, "Notify (\\_SB.PCI0.S01, One)"), "%s", text);
	cr_assert(strstr(text, "0x0000000123456789"), "%s", text);
	cr_assert(strstr(text, "Else"), "%s", text);
	free(text);
	free(code);
	rm_rf(dir);
}

Test(acpi, aml_builder_errors_are_sticky)
{
	struct aml a;
	uint8_t *code;
	size_t len;

	aml_init(&a);
	aml_device_begin(&a, "TOOLONG");
	aml_end(&a);
	cr_assert_eq(aml_finish(&a, &code, &len), -EINVAL);

	aml_init(&a);
	aml_device_begin(&a, "OPEN");
	cr_assert_eq(aml_finish(&a, &code, &len), -EINVAL, "unbalanced");

	aml_init(&a);
	aml_end(&a);
	cr_assert_eq(aml_finish(&a, &code, &len), -EINVAL);

	aml_init(&a);
	aml_eisaid(&a, "pnp0a03");
	cr_assert_eq(aml_finish(&a, &code, &len), -EINVAL);
}

Test(acpi, aml_pkglength_encodings)
{
	struct aml a;
	uint8_t *code;
	size_t len;
	/* Each side of the 1/2 and 2/3 byte boundaries. */
	static const size_t sizes[] = { 0, 60, 61, 4091, 4092, 70000 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t body = sizes[i], n, total;
		uint8_t *fill = calloc(1, body + 1);

		aml_init(&a);
		aml_scope_begin(&a, "\\");
		aml_bytes(&a, fill, body);
		aml_end(&a);
		cr_assert_eq(aml_finish(&a, &code, &len), 0);
		cr_assert_eq(code[0], 0x10);
		n = (code[1] >> 6) + 1;
		total = n == 1 ? code[1] & 0x3f : code[1] & 0x0f;
		for (size_t j = 1; j < n; j++)
			total |= (size_t)code[1 + j] << (4 + 8 * (j - 1));
		/* PkgLength counts itself, the name ("\\" and NullName) and the body. */
		cr_assert_eq(total, n + 2 + body, "body %zu", body);
		cr_assert_eq(len, 1 + total);
		cr_assert_eq(n, body + 3 < 0x40 ? 1 : body + 4 < 0x1000 ? 2 : 3, "body %zu", body);
		free(code);
		free(fill);
	}
}

/* ---- ACPI PCI hot-plug (vmm/hotplug.h) ---- */

static const struct acpi_config cfg_hp = {
	.ncpus = 2, .mmio64_base = 0x8000000000ull, .mmio64_size = 0x8000000000ull,
	.hotplug_port = LAYOUT_HOTPLUG_PORT,
};

static const uint8_t *build_dsdt(const struct acpi_config *cfg, const uint8_t **fadt_out)
{
	uint64_t rsdp_gpa = build(cfg);
	const uint8_t *rsdp = mem + (rsdp_gpa - BASE), *xsdt, *fadt;

	xsdt = table(get64(rsdp + 24), "XSDT");
	fadt = table(get64(xsdt + 36), "FACP");
	if (fadt_out)
		*fadt_out = fadt;
	return table(get64(fadt + 140), "DSDT");
}

Test(acpi, hotplug_off_has_no_slots)
{
	char dir[] = "/tmp/ferry-acpi-XXXXXX", *text;

	cr_assert(mkdtemp(dir));
	text = disassemble(dir, "dsdt", build_dsdt(&cfg2, NULL));
	cr_assert_null(strstr(text, "HPIO"), "%s", text);
	cr_assert_null(strstr(text, "Device (S01)"), "%s", text);
	cr_assert_null(strstr(text, "_L01"), "%s", text);
	free(text);
	rm_rf(dir);
}

/*
 * What acpiphp looks for: under PCI0, one Device per slot 1..31 with _ADR
 * (slot << 16), _SUN and _EJ0; never slot 0 (the host bridge).
 */
Test(acpi, hotplug_slots_and_gpe_through_iasl)
{
	char dir[] = "/tmp/ferry-acpi-XXXXXX", *text, *log, want[128];
	int status;

	cr_assert(mkdtemp(dir));
	text = disassemble(dir, "dsdt", build_dsdt(&cfg_hp, NULL));
	cr_assert(strstr(text, "OperationRegion (HPIO, SystemIO, 0x0680, 0x10)"), "%s", text);
	cr_assert(strstr(text, "Field (HPIO, DWordAcc, NoLock, WriteAsZeros)"), "%s", text);
	cr_assert_null(strstr(text, "Device (S00)"), "%s", text);
	for (unsigned int slot = 1; slot < 32; slot++) {
		char *dev, *next;

		snprintf(want, sizeof(want), "Device (S%02X)", slot);
		dev = strstr(text, want);
		cr_assert(dev, "%s missing", want);
		next = strstr(dev + 1, "Device (");
		snprintf(want, sizeof(want), "Name (_ADR, 0x%08X)", slot << 16);
		cr_assert(strstr(dev, want) && (!next || strstr(dev, want) < next), "%s", want);
		if (slot == 1)
			snprintf(want, sizeof(want), "Name (_SUN, One)");
		else
			snprintf(want, sizeof(want), "Name (_SUN, 0x%02X)", slot);
		cr_assert(strstr(dev, want) && (!next || strstr(dev, want) < next), "%s", want);
		/* iasl prints a byte as 0x02, a word as 0x0100, a dword as 0x00010000. */
		snprintf(want, sizeof(want), "\\_SB.PCI0.HPEJ = 0x%0*X",
			 slot < 8 ? 2 : slot < 16 ? 4 : 8, 1u << slot);
		cr_assert(strstr(dev, want) && (!next || strstr(dev, want) < next), "%s", want);
		snprintf(want, sizeof(want), "Notify (\\_SB.PCI0.S%02X, One)", slot);
		cr_assert(strstr(text, want), "%s", want);
		snprintf(want, sizeof(want), "Notify (\\_SB.PCI0.S%02X, 0x03)", slot);
		cr_assert(strstr(text, want), "%s", want);
	}
	cr_assert(strstr(text, "Method (_L01, 0, NotSerialized)"), "%s", text);
	cr_assert(strstr(text, "Local0 = \\_SB.PCI0.HPIN"), "%s", text);
	cr_assert(strstr(text, "\\_SB.PCI0.HPIN = Local0"), "%s", text);
	cr_assert(strstr(text, "\\_SB.PCI0.HPRQ = Local1"), "%s", text);
	free(text);
	log = run_iasl(dir, "-p dsdt2", "dsdt.dsl", &status);
	cr_assert_eq(status, 0, "%s", log);
	cr_assert(strstr(log, "0 Errors"), "%s", log);
	free(log);
	rm_rf(dir);
}

/*
 * ACPICA runs the GPE method as the guest would: a test SSDT puts device
 * checks for slots 2 and 5 in INS and eject requests for 3 and 31 in REQ,
 * then calls \_GPE._L01, which must notify exactly those.  (acpiexec's
 * SystemIO is plain memory, so the W1C acknowledgement is not modelled.)
 */
Test(acpi, hotplug_acpiexec_notifies_slots)
{
	char dir[] = "/tmp/ferry-acpiexec-XXXXXX", cmd[768], *out;
	const uint8_t *fadt, *dsdt = build_dsdt(&cfg_hp, &fadt);
	struct aml a;
	uint8_t *code;
	size_t len, n;
	FILE *p;

	aml_init(&a);
	aml_method_begin(&a, "\\TST1", 0, false);
	aml_byte(&a, AML_STORE);
	aml_int(&a, 0x24);
	aml_name(&a, "\\_SB.PCI0.HPIN");
	aml_byte(&a, AML_STORE);
	aml_int(&a, 0x80000008);
	aml_name(&a, "\\_SB.PCI0.HPRQ");
	aml_name(&a, "\\_GPE._L01");
	aml_end(&a);
	cr_assert_eq(aml_finish(&a, &code, &len), 0);

	cr_assert(mkdtemp(dir));
	dump_table(dir, "dsdt.dat", dsdt);
	dump_table(dir, "facp.dat", fadt);
	dump_table(dir, "ssdt.dat", wrap_ssdt(code, len));
	free(code);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && timeout 60 acpiexec -b 'evaluate \\TST1; evaluate "
		 "\\_SB.PCI0.S1F._EJ0 1; evaluate \\_SB.PCI0.S07._SUN' dsdt.dat facp.dat ssdt.dat "
		 "2>&1", dir);
	p = popen(cmd, "r");
	cr_assert(p, "cannot run acpiexec (apt-get install acpica-tools)");
	out = calloc(1, 1 << 20);
	n = fread(out, 1, (1 << 20) - 1, p);
	out[n] = 0;
	cr_assert_eq(pclose(p), 0, "%s", out);
	cr_assert(strstr(out, "2 ACPI AML tables successfully acquired and loaded"), "%s", out);
	cr_assert_null(strstr(out, "ACPI Error"), "%s", out);
	cr_assert(strstr(out, "Notify on [S02_]"), "%s", out);
	cr_assert(strstr(out, "Notify on [S05_]"), "%s", out);
	cr_assert(strstr(out, "Notify on [S03_]"), "%s", out);
	cr_assert(strstr(out, "Notify on [S1F_]"), "%s", out);
	cr_assert(strstr(strstr(out, "[S02_]"), "Value 0x01 (Device Check)"), "%s", out);
	cr_assert(strstr(strstr(out, "[S1F_]"), "Value 0x03 (Eject Request)"), "%s", out);
	/* Four notifies, no more. */
	n = 0;
	for (char *q = out; (q = strstr(q, "Received a System Notify")); q++)
		n++;
	cr_assert_eq(n, 4, "%s", out);
	cr_assert(strstr(out, "No object was returned from evaluation of \\_SB.PCI0.S1F._EJ0"),
		  "%s", out);
	cr_assert(strstr(out, "[Integer] = 0000000000000007"), "%s", out);
	free(out);
	rm_rf(dir);
}
