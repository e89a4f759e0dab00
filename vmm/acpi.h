/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: the ACPI tables ferry hands to the guest.
 *
 * RSDP (rev 2) -> XSDT -> FADT (-> FACS, DSDT), MADT, MCFG.  Not hardware-
 * reduced: the FADT names the PM1a event/control and GPE0 blocks of vmm/pm.h
 * (SCI on GSI 9, level, active high), the reset register at 0xcf9, a fixed
 * power button, and no i8042 or VGA (Linux then leaves those alone).  The
 * DSDT is generated with vmm/aml.h: \_SB.PCI0 (PNP0A08, its _CRS windows
 * and _PRT, and with hot-plug its slots), \_SB.MRES (PNP0C02 reserving ECAM),
 * \_SB.COM1, \_S5, and with hot-plug \_GPE._L01.
 */
#ifndef FERRY_VMM_ACPI_H
#define FERRY_VMM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS 255	/* xAPIC ids in the MADT */

struct acpi_config {
	unsigned int ncpus;	/* 1..ACPI_MAX_CPUS, LAPIC ids 0..ncpus-1 */
	/* The 64-bit PCI MMIO window above RAM; size 0 announces none. */
	uint64_t mmio64_base;
	uint64_t mmio64_size;
	/* ferry has no CMOS RTC; set when one is emulated so Linux probes it. */
	bool has_cmos_rtc;
	/*
	 * ACPI PCI hot-plug (vmm/hotplug.h): slots 1..31 of PCI0 as Devices
	 * with _ADR, _SUN and _EJ0, the controller's registers at this port,
	 * and \_GPE._L01 notifying the slots.  0: no hot-plug.
	 */
	uint16_t hotplug_port;
};

/*
 * Writes every table into @mem, which the guest sees at @guest_addr
 * (16-byte aligned; e.g. LAYOUT_ACPI_START, where a legacy scan also finds
 * the RSDP), using at most @room bytes.  *@rsdp_addr gets the RSDP's guest
 * address for boot_params.acpi_rsdp_addr.  -ENOSPC when @room is too small,
 * -EINVAL for a bad config.
 */
int acpi_build_tables(const struct acpi_config *cfg, void *mem, uint64_t guest_addr,
		      size_t room, uint64_t *rsdp_addr);

#endif /* FERRY_VMM_ACPI_H */
