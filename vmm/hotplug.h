/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: ACPI PCI hot-plug of the root bus, the way the guest's own
 * acpiphp driver expects it.
 *
 * The DSDT (vmm/acpi.c) gives every slot 1..31 of \_SB.PCI0 a Device with
 * _ADR, _SUN and _EJ0, and \_GPE._L01 (level GPE HOTPLUG_GPE) reads this
 * controller and Notify()s slots: 1 (device check: something appeared) or 3
 * (eject request: the host wants it back).  The guest then scans the slot,
 * or stops using the device and evaluates its _EJ0, which writes the eject
 * register.  Registers, 32 bits each, one bit per slot, at
 * LAYOUT_HOTPLUG_PORT:
 *
 *   0x0 INS  read: slots to check (a device was added); write 1s to clear
 *   0x4 REQ  read: slots the host asks to eject;         write 1s to clear
 *   0x8 EJ   write: the guest ejects these slots (reads 0)
 *   0xc OCC  read: slots with a device now (information for debugging)
 *
 * The GPE is a level input asserted while INS or REQ has a bit: a request
 * made before the guest's ACPI is up is seen once it is.  The method reads
 * both and clears exactly the bits it read, so a bit set meanwhile is not lost.
 */
#ifndef FERRY_VMM_HOTPLUG_H
#define FERRY_VMM_HOTPLUG_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"

#define HOTPLUG_GPE		1	/* \_GPE._L01 */
#define HOTPLUG_REG_INS		0x0
#define HOTPLUG_REG_REQ		0x4
#define HOTPLUG_REG_EJ		0x8
#define HOTPLUG_REG_OCC		0xc
/* Slot 0 is the host bridge: never hot-pluggable. */
#define HOTPLUG_SLOTS_MASK	0xfffffffeu

struct hotplug_config {
	struct vmm_bus *bus;
	uint16_t port;
	/* Drives the GPE input (pm_set_gpe_level).  Called under the controller's lock. */
	void (*set_gpe)(void *opaque, bool level);
	/*
	 * The guest ejected @slot (its _EJ0 ran).  On the vCPU thread, inside
	 * the port access under the bus lock: it must only queue the removal
	 * (vmm_bus_after_access), never do it.
	 */
	void (*eject)(void *opaque, unsigned int slot);
	void *opaque;
};

struct hotplug;

int hotplug_new(const struct hotplug_config *cfg, struct hotplug **out);
void hotplug_free(struct hotplug *hp);

/* A device appeared in @slot: asks the guest to check it.  Any thread. */
void hotplug_insert(struct hotplug *hp, unsigned int slot);
/* Asks the guest to give back the device in @slot.  Any thread. */
void hotplug_request_eject(struct hotplug *hp, unsigned int slot);
/* Marks @slot occupied or empty (the OCC register). */
void hotplug_set_occupied(struct hotplug *hp, unsigned int slot, bool occupied);
/* Forgets the requests not yet seen (machine reset). */
void hotplug_reset(struct hotplug *hp);
/* The register values, for tests: ins, req, occ. */
void hotplug_state(struct hotplug *hp, uint32_t *ins, uint32_t *req, uint32_t *occ);

#endif /* FERRY_VMM_HOTPLUG_H */
