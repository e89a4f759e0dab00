// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmm/hotplug.c's controller on a bus with vmm/pm.c's GPE block, driven as
 * the DSDT's methods drive it: device checks and eject requests raise the
 * level GPE until the guest's _L01 acknowledges what it read; _EJ0's write
 * reaches the machine's eject callback with the slot, inside the access.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "vmm/bus.h"
#include "vmm/hotplug.h"
#include "vmm/layout.h"
#include "vmm/machine.h"
#include "vmm/pm.h"

struct rig {
	struct vmm_bus *bus;
	struct pm *pm;
	struct hotplug *hp;
	bool sci;
	unsigned int ejected[8];
	int nr_ejected;
};

static int rig_sci(void *opaque, uint32_t gsi, bool level)
{
	((struct rig *)opaque)->sci = level;
	return 0;
}

static void rig_set_gpe(void *opaque, bool level)
{
	cr_assert_eq(pm_set_gpe_level(((struct rig *)opaque)->pm, HOTPLUG_GPE, level), 0);
}

/* A no-op after-access, so rig_eject's probe of "inside an access" is harmless. */
static void rig_nop(void *opaque)
{
}

static void rig_eject(void *opaque, unsigned int slot)
{
	struct rig *r = opaque;

	cr_assert_eq(vmm_bus_after_access(rig_nop, NULL), 0,
		     "the eject arrives inside the guest's access");
	r->ejected[r->nr_ejected++] = slot;
}

static void rig_up(struct rig *r)
{
	struct pm_config pc;
	struct hotplug_config hc;

	*r = (struct rig){ .bus = vmm_bus_new() };
	pc = (struct pm_config){ .bus = r->bus,
				 .sci = { .set = rig_sci, .opaque = r, .gsi = PM_SCI_GSI } };
	cr_assert_eq(pm_new(&pc, &r->pm), 0);
	hc = (struct hotplug_config){ .bus = r->bus, .port = LAYOUT_HOTPLUG_PORT,
				      .set_gpe = rig_set_gpe, .eject = rig_eject, .opaque = r };
	cr_assert_eq(hotplug_new(&hc, &r->hp), 0);
	/* The guest's ACPI is up: GPE 1 enabled. */
	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, PM_GPE0_PORT + 2,
				 &(uint16_t){ 1u << HOTPLUG_GPE }, 2, true));
}

static void rig_down(struct rig *r)
{
	hotplug_free(r->hp);
	pm_free(r->pm);
	vmm_bus_free(r->bus);
}

static uint32_t hp_in(struct rig *r, unsigned int reg)
{
	uint32_t v = 0;

	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, LAYOUT_HOTPLUG_PORT + reg, &v, 4, false));
	return v;
}

static void hp_out(struct rig *r, unsigned int reg, unsigned int len, uint32_t v)
{
	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, LAYOUT_HOTPLUG_PORT + reg, &v, len, true));
}

static uint16_t gpe_sts(struct rig *r)
{
	uint16_t v = 0;

	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, PM_GPE0_PORT, &v, 2, false));
	return v;
}

static void gpe_clear(struct rig *r)
{
	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, PM_GPE0_PORT, &(uint16_t){ 0xffff }, 2,
				 true));
}

/* What \_GPE._L01 does: read both, write back exactly what was read. */
static void guest_gpe_method(struct rig *r, uint32_t *ins, uint32_t *req)
{
	*ins = hp_in(r, HOTPLUG_REG_INS);
	*req = hp_in(r, HOTPLUG_REG_REQ);
	hp_out(r, HOTPLUG_REG_INS, 4, *ins);
	hp_out(r, HOTPLUG_REG_REQ, 4, *req);
}

Test(hotplug, insert_raises_the_gpe_until_acknowledged)
{
	uint32_t ins, req;
	struct rig r;

	rig_up(&r);
	cr_assert_not(r.sci);
	hotplug_insert(r.hp, 2);
	cr_assert(r.sci);
	cr_assert_eq(gpe_sts(&r), 1u << HOTPLUG_GPE);
	/* Clearing the status alone does not help: the input is a level. */
	gpe_clear(&r);
	cr_assert(r.sci);
	hotplug_insert(r.hp, 7);	/* a second device before the method runs */
	guest_gpe_method(&r, &ins, &req);
	cr_assert_eq(ins, (1u << 2) | (1u << 7));
	cr_assert_eq(req, 0);
	cr_assert_eq(hp_in(&r, HOTPLUG_REG_INS), 0);
	gpe_clear(&r);
	cr_assert_not(r.sci);
	cr_assert_eq(gpe_sts(&r), 0);
	/* Slot 0 (the host bridge) and slots past 31 are never announced. */
	hotplug_insert(r.hp, 0);
	hotplug_insert(r.hp, 32);
	cr_assert_eq(hp_in(&r, HOTPLUG_REG_INS), 0);
	cr_assert_not(r.sci);
	rig_down(&r);
}

Test(hotplug, a_bit_set_while_the_method_runs_is_not_lost)
{
	uint32_t ins, req;
	struct rig r;

	rig_up(&r);
	hotplug_insert(r.hp, 3);
	ins = hp_in(&r, HOTPLUG_REG_INS);
	hotplug_request_eject(r.hp, 4);		/* between the method's reads and acks */
	req = 0;
	hp_out(&r, HOTPLUG_REG_INS, 4, ins);
	hp_out(&r, HOTPLUG_REG_REQ, 4, req);
	gpe_clear(&r);
	cr_assert(r.sci, "REQ is still pending");
	guest_gpe_method(&r, &ins, &req);
	cr_assert_eq(ins, 0);
	cr_assert_eq(req, 1u << 4);
	gpe_clear(&r);
	cr_assert_not(r.sci);
	rig_down(&r);
}

Test(hotplug, eject_reaches_the_machine_with_the_slot)
{
	uint32_t ins, req;
	struct rig r;

	rig_up(&r);
	hotplug_set_occupied(r.hp, 5, true);
	hotplug_set_occupied(r.hp, 31, true);
	cr_assert_eq(hp_in(&r, HOTPLUG_REG_OCC), (1u << 5) | (1u << 31));
	hotplug_request_eject(r.hp, 5);
	guest_gpe_method(&r, &ins, &req);
	cr_assert_eq(req, 1u << 5);
	/* _EJ0 of slot 5: a dword write. */
	hp_out(&r, HOTPLUG_REG_EJ, 4, 1u << 5);
	cr_assert_eq(r.nr_ejected, 1);
	cr_assert_eq(r.ejected[0], 5);
	/* A byte write reaches the right bits: slot 31 is bit 7 of byte 3. */
	hp_out(&r, HOTPLUG_REG_EJ + 3, 1, 0x80);
	cr_assert_eq(r.nr_ejected, 2);
	cr_assert_eq(r.ejected[1], 31);
	/* Slot 0 cannot be ejected; EJ reads as 0. */
	hp_out(&r, HOTPLUG_REG_EJ, 4, 1);
	cr_assert_eq(r.nr_ejected, 2);
	cr_assert_eq(hp_in(&r, HOTPLUG_REG_EJ), 0);
	rig_down(&r);
}

Test(hotplug, an_eject_answers_a_pending_request)
{
	struct rig r;

	rig_up(&r);
	hotplug_request_eject(r.hp, 9);
	cr_assert(r.sci);
	/* The guest ejects before its GPE method ran (or on its own). */
	hp_out(&r, HOTPLUG_REG_EJ, 4, 1u << 9);
	cr_assert_eq(hp_in(&r, HOTPLUG_REG_REQ), 0);
	gpe_clear(&r);
	cr_assert_not(r.sci);
	rig_down(&r);
}

Test(hotplug, reset_forgets_pending_requests)
{
	uint32_t ins, req, occ;
	struct rig r;

	rig_up(&r);
	hotplug_set_occupied(r.hp, 2, true);
	hotplug_insert(r.hp, 2);
	hotplug_request_eject(r.hp, 6);
	hotplug_reset(r.hp);
	hotplug_state(r.hp, &ins, &req, &occ);
	cr_assert_eq(ins, 0);
	cr_assert_eq(req, 0);
	cr_assert_eq(occ, 1u << 2, "what is plugged stays plugged");
	gpe_clear(&r);
	cr_assert_not(r.sci);
	rig_down(&r);
}

/*
 * pt.c's deferred BAR moves are counted: machine_defer_drain() (what an
 * unplug does before it frees the device) returns only once a move queued
 * by a vCPU's config write has run, however late that vCPU runs it.
 */
struct drain_rig {
	struct vmm vmm;
	struct vmm_bus *bus;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool queued;
	_Atomic bool moved;
};

static void drain_move(void *arg)
{
	struct drain_rig *r = arg;

	usleep(200 * 1000);	/* the vCPU is slow to get there */
	atomic_store(&r->moved, true);
}

static void drain_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct drain_rig *r = opaque;

	cr_assert_eq(machine_defer_after_access(&r->vmm, drain_move, r), 0);
	pthread_mutex_lock(&r->lock);
	r->queued = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static const struct vmm_bus_ops drain_ops = { .write = drain_write };

static void *drain_vcpu(void *arg)
{
	struct drain_rig *r = arg;
	uint32_t v = 1;

	cr_assert(vmm_bus_access(r->bus, VMM_BUS_MMIO, 0x1000, &v, 4, true));
	return NULL;
}

Test(hotplug, drain_waits_for_queued_bar_moves)
{
	static struct drain_rig r;
	pthread_t vcpu;

	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.vmm.defer_lock, NULL);
	pthread_cond_init(&r.vmm.defer_cond, NULL);
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	r.bus = vmm_bus_new();
	cr_assert_eq(vmm_bus_register(r.bus, VMM_BUS_MMIO, 0x1000, 0x1000, &drain_ops, &r), 0);
	/* Outside an access there is nothing to defer to: the caller runs it itself. */
	cr_assert_eq(machine_defer_after_access(&r.vmm, drain_move, &r), -EPERM);
	cr_assert_eq(r.vmm.defers, 0);

	cr_assert_eq(pthread_create(&vcpu, NULL, drain_vcpu, &r), 0);
	pthread_mutex_lock(&r.lock);
	while (!r.queued)
		pthread_cond_wait(&r.cond, &r.lock);
	pthread_mutex_unlock(&r.lock);
	machine_defer_drain(&r.vmm);
	cr_assert(atomic_load(&r.moved), "drain returned before the queued move ran");
	cr_assert_eq(r.vmm.defers, 0);
	pthread_join(vcpu, NULL);
	machine_defer_drain(&r.vmm);	/* nothing queued: returns at once */
	vmm_bus_free(r.bus);
}
