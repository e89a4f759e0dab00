// SPDX-License-Identifier: GPL-2.0-only
/* vmm/pm.c: PM1 sleep control, SCI, GPE, reset paths, the i8042. */
#include <criterion/criterion.h>
#include <errno.h>

#include "vmm/bus.h"
#include "vmm/pci.h"
#include "vmm/pm.h"

struct rig {
	struct vmm_bus *bus;
	struct pm *pm;
	int poweroffs, resets;
	bool sci;
	int sci_changes;
};

static int rig_sci(void *opaque, uint32_t gsi, bool level)
{
	struct rig *r = opaque;

	cr_assert_eq(gsi, PM_SCI_GSI);
	cr_assert_neq(r->sci, level, "the SCI is only driven on a change");
	r->sci = level;
	r->sci_changes++;
	return 0;
}

static void rig_request(void *opaque, enum pm_request req)
{
	struct rig *r = opaque;

	if (req == PM_REQUEST_POWEROFF)
		r->poweroffs++;
	else if (req == PM_REQUEST_RESET)
		r->resets++;
}

static void rig_up(struct rig *r)
{
	struct pm_config cfg;

	*r = (struct rig){ .bus = vmm_bus_new() };
	cfg = (struct pm_config){
		.bus = r->bus, .request = rig_request, .opaque = r,
		.sci = { .set = rig_sci, .opaque = r, .gsi = PM_SCI_GSI },
	};
	cr_assert_eq(pm_new(&cfg, &r->pm), 0);
}

static void rig_down(struct rig *r)
{
	pm_free(r->pm);
	vmm_bus_free(r->bus);
}

static uint32_t in(struct rig *r, uint16_t port, unsigned int len)
{
	uint32_t v = 0;

	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, port, &v, len, false), "port %#x", port);
	return v;
}

static void out(struct rig *r, uint16_t port, unsigned int len, uint32_t v)
{
	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, port, &v, len, true), "port %#x", port);
}

Test(pm, s5_powers_off)
{
	struct rig r;

	rig_up(&r);
	cr_assert_eq(in(&r, PM_PM1A_CNT_PORT, 2) & 1, 1, "SCI_EN: ACPI mode");
	/* ACPICA writes SLP_TYP first, then SLP_TYP | SLP_EN. */
	out(&r, PM_PM1A_CNT_PORT, 2, PM_SLP_TYP_S5 << 10 | 1);
	cr_assert_eq(r.poweroffs, 0);
	cr_assert_eq(in(&r, PM_PM1A_CNT_PORT, 2), PM_SLP_TYP_S5 << 10 | 1);
	out(&r, PM_PM1A_CNT_PORT, 2, PM_SLP_TYP_S5 << 10 | 1 << 13 | 1);
	cr_assert_eq(r.poweroffs, 1);
	cr_assert_eq(in(&r, PM_PM1A_CNT_PORT, 2) & (1 << 13), 0, "SLP_EN reads zero");
	/* Byte access to the high half works the same. */
	out(&r, PM_PM1A_CNT_PORT + 1, 1, (PM_SLP_TYP_S5 << 2) | 0x20);
	cr_assert_eq(r.poweroffs, 2);
	/* A sleep type the DSDT never offered does nothing. */
	out(&r, PM_PM1A_CNT_PORT, 2, 3 << 10 | 1 << 13);
	cr_assert_eq(r.poweroffs, 2);
	cr_assert_eq(r.resets, 0);
	rig_down(&r);
}

Test(pm, power_button_raises_sci_when_enabled)
{
	struct rig r;

	rig_up(&r);
	pm_press_power_button(r.pm);
	cr_assert_eq(in(&r, PM_PM1A_EVT_PORT, 2), 0x0100);
	cr_assert_not(r.sci, "PWRBTN_EN is still clear");
	out(&r, PM_PM1A_EVT_PORT + 2, 2, 0x0100);
	cr_assert(r.sci);
	cr_assert_eq(in(&r, PM_PM1A_EVT_PORT + 2, 2), 0x0100);
	/* Writing zero clears nothing; writing one clears the status. */
	out(&r, PM_PM1A_EVT_PORT, 2, 0);
	cr_assert(r.sci);
	out(&r, PM_PM1A_EVT_PORT, 2, 0x0100);
	cr_assert_not(r.sci);
	cr_assert_eq(in(&r, PM_PM1A_EVT_PORT, 4), 0x01000000u, "one dword: STS low, EN high");
	rig_down(&r);
}

Test(pm, gpe_raise_enable_clear)
{
	struct rig r;

	rig_up(&r);
	cr_assert_eq(pm_raise_gpe(r.pm, 16), -EINVAL);
	cr_assert_eq(pm_raise_gpe(r.pm, 9), 0);
	cr_assert_eq(in(&r, PM_GPE0_PORT, 2), 0x0200);
	cr_assert_not(r.sci);
	out(&r, PM_GPE0_PORT + 3, 1, 0x02);	/* GPE0_EN bit 9, byte access */
	cr_assert(r.sci);
	cr_assert_eq(in(&r, PM_GPE0_PORT + 2, 2), 0x0200);
	out(&r, PM_GPE0_PORT + 1, 1, 0x02);
	cr_assert_not(r.sci);
	cr_assert_eq(in(&r, PM_GPE0_PORT, 2), 0);
	rig_down(&r);
}

Test(pm, reset_control_register)
{
	struct rig r;

	rig_up(&r);
	pm_rcr_write(r.pm, 0x02);
	cr_assert_eq(r.resets, 0);
	cr_assert_eq(pm_rcr_read(r.pm), 0x02);
	pm_rcr_write(r.pm, PM_RESET_VALUE);
	cr_assert_eq(r.resets, 1);
	cr_assert_eq(pm_rcr_read(r.pm), 0x02, "RST_CPU self-clears");
	rig_down(&r);
}

Test(pm, i8042_answers_and_resets)
{
	struct rig r;

	rig_up(&r);
	cr_assert_eq(in(&r, 0x64, 1) & 0x03, 0, "output empty, input empty");
	out(&r, 0x64, 1, 0xaa);
	cr_assert_eq(in(&r, 0x64, 1) & 0x01, 1);
	cr_assert_eq(in(&r, 0x60, 1), 0x55);
	cr_assert_eq(in(&r, 0x64, 1) & 0x01, 0);
	out(&r, 0x64, 1, 0x20);
	cr_assert_eq(in(&r, 0x60, 1), 0x45);
	out(&r, 0x64, 1, 0x60);
	out(&r, 0x60, 1, 0x65);
	out(&r, 0x64, 1, 0x20);
	cr_assert_eq(in(&r, 0x60, 1), 0x65);
	out(&r, 0x64, 1, 0xad);
	out(&r, 0x64, 1, 0x20);
	cr_assert_eq(in(&r, 0x60, 1), 0x75);
	/* A byte for a keyboard that is not there goes nowhere. */
	out(&r, 0x60, 1, 0xff);
	cr_assert_eq(in(&r, 0x64, 1) & 0x01, 0);
	cr_assert_eq(r.resets, 0);
	/* Linux's reboot=k: pulse the reset line. */
	out(&r, 0x64, 1, 0xfe);
	cr_assert_eq(r.resets, 1);
	out(&r, 0x64, 1, 0xff);
	cr_assert_eq(r.resets, 1, "0xff pulses no line");
	out(&r, 0x64, 1, 0xd1);
	out(&r, 0x60, 1, 0xfe);
	cr_assert_eq(r.resets, 2);
	/* The PIT's port 0x61 neighbours are not claimed. */
	uint8_t v;

	cr_assert_not(vmm_bus_access(r.bus, VMM_BUS_PIO, 0x61, &v, 1, false));
	cr_assert_eq(r.poweroffs, 0);
	rig_down(&r);
}

/* The FADT's reset register, 0xcf9, as wired on the machine: through the PCI host. */
Test(pm, acpi_reset_register_through_the_pci_host)
{
	struct rig r;
	struct pci_host *host;
	struct pci_host_config pc;
	uint32_t addr = 0x80000000u;

	rig_up(&r);
	pc = (struct pci_host_config){
		.bus = r.bus, .ecam_base = 0xe0000000ull, .ecam_buses = 1,
		.rcr_read = pm_rcr_read, .rcr_write = pm_rcr_write, .rcr_opaque = r.pm,
	};
	cr_assert_eq(pci_host_new(&pc, &host), 0);
	/* Config-address traffic on the same dword does not reset. */
	out(&r, 0xcf8, 4, addr);
	cr_assert_eq(in(&r, 0xcf8, 4), addr);
	cr_assert_eq(r.resets, 0);
	out(&r, PM_RESET_PORT, 1, PM_RESET_VALUE);
	cr_assert_eq(r.resets, 1);
	cr_assert_eq(in(&r, PM_RESET_PORT, 1), 0x02);
	cr_assert_eq(in(&r, 0xcf8, 4), addr, "the latch is untouched");
	pci_host_free(host);
	rig_down(&r);
}

/*
 * A level GPE input (ACPI hot-plug): its status cannot be cleared while the
 * input is asserted, so an event raised before ACPICA starts (which clears
 * every GPE status) is still there when the guest enables the GPE.
 */
Test(pm, gpe_level_input_survives_clearing)
{
	struct rig r;

	rig_up(&r);
	cr_assert_eq(pm_set_gpe_level(r.pm, 16, true), -EINVAL);
	cr_assert_eq(pm_set_gpe_level(r.pm, 1, true), 0);
	cr_assert_eq(in(&r, PM_GPE0_PORT, 2), 0x0002);
	out(&r, PM_GPE0_PORT, 2, 0xffff);	/* what ACPICA does at start */
	cr_assert_eq(in(&r, PM_GPE0_PORT, 2), 0x0002, "still asserted");
	cr_assert_not(r.sci);
	out(&r, PM_GPE0_PORT + 2, 2, 0x0002);
	cr_assert(r.sci);
	/* The source is acknowledged: the level drops, then the status clears. */
	cr_assert_eq(pm_set_gpe_level(r.pm, 1, false), 0);
	cr_assert(r.sci, "the status stays until the guest clears it");
	out(&r, PM_GPE0_PORT, 1, 0x02);
	cr_assert_not(r.sci);
	cr_assert_eq(in(&r, PM_GPE0_PORT, 2), 0);
	rig_down(&r);
}
