/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: power management and reset, the hardware side of what the
 * FADT and DSDT (vmm/acpi.h) announce.
 *
 *  - ACPI PM1a event block (PM1_STS, PM1_EN) and control block (PM1_CNT):
 *    SCI_EN reads as set (ACPI mode, no SMI_CMD); writing SLP_EN with
 *    SLP_TYP = PM_SLP_TYP_S5 (the \_S5 package) requests power-off; the
 *    fixed power button sets PWRBTN_STS and raises the SCI.
 *  - GPE0 block: 16 general-purpose events (status + enable) for ACPI
 *    hot-plug notifications; pm_raise_gpe() sets a status bit.
 *  - The SCI is a level interrupt on PM_SCI_GSI, high while any enabled
 *    status bit is set.
 *  - Reset: port 0xcf9 bit 2 (reached through the PCI host, which owns the
 *    0xcf8 dword; plug pm_rcr_read/pm_rcr_write into pci_host_config) and
 *    the i8042's pulse-reset commands on port 0x64 (0xfe, or 0xd1 with bit 0
 *    clear).  The i8042 is a controller with no keyboard and no mouse behind
 *    it, so probes get answers instead of timeouts.
 */
#ifndef FERRY_VMM_PM_H
#define FERRY_VMM_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/irq.h"

#define PM_PM1A_EVT_PORT	0x600	/* 4 bytes: PM1_STS, PM1_EN */
#define PM_PM1A_EVT_LEN		4
#define PM_PM1A_CNT_PORT	0x604	/* 2 bytes: PM1_CNT */
#define PM_PM1A_CNT_LEN		2
#define PM_GPE0_PORT		0x620	/* 4 bytes: GPE0_STS[2], GPE0_EN[2] */
#define PM_GPE0_LEN		4
#define PM_GPE0_COUNT		16
#define PM_RESET_PORT		0xcf9
#define PM_RESET_VALUE		0x06	/* SYS_RST | RST_CPU */
#define PM_I8042_DATA_PORT	0x60
#define PM_I8042_CMD_PORT	0x64
#define PM_SCI_GSI		9
#define PM_SLP_TYP_S5		5

enum pm_request {
	PM_REQUEST_POWEROFF,
	PM_REQUEST_RESET,
};

struct pm_config {
	struct vmm_bus *bus;
	struct vmm_irq_line sci;
	/*
	 * The guest asked to power off or reset.  Runs on the vCPU thread, inside
	 * the port access: it must only record the request (signal an eventfd,
	 * set a flag and kick the vCPUs), never tear the VM down.
	 */
	void (*request)(void *opaque, enum pm_request req);
	void *opaque;
};

struct pm;

int pm_new(const struct pm_config *cfg, struct pm **out);
void pm_free(struct pm *pm);

/* Presses the ACPI fixed power button (QMP system_powerdown).  Any thread. */
void pm_press_power_button(struct pm *pm);
/* Sets GPE0 status bit @gpe (< PM_GPE0_COUNT); -EINVAL otherwise.  Any thread. */
int pm_raise_gpe(struct pm *pm, unsigned int gpe);
/*
 * Drives GPE @gpe as a level-triggered input (the DSDT's _Lxx method): while
 * @level is true its status bit is set and cannot be cleared, so an event
 * raised before the guest's ACPI is up (ACPICA clears every GPE status when
 * it starts) is still seen once the guest enables the GPE.  The source
 * lowers the level once the guest has acknowledged it.  Any thread.
 */
int pm_set_gpe_level(struct pm *pm, unsigned int gpe, bool level);

/* Port 0xcf9, for pci_host_config.rcr_read/rcr_write (@opaque is the pm). */
uint8_t pm_rcr_read(void *opaque);
void pm_rcr_write(void *opaque, uint8_t val);

#endif /* FERRY_VMM_PM_H */
