/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: struct vmm, shared by the files that make up the machine
 * (machine.c: build, run, reset, free; pt.c: its passthrough devices).
 */
#ifndef FERRY_VMM_MACHINE_H
#define FERRY_VMM_MACHINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/boot.h"
#include "vmm/vmm.h"

struct vmm_cpu {
	struct vmm *vmm;
	struct vcpu *vcpu;
	pthread_t thread;
	bool started;
};

/* A passthrough device on the guest's PCI bus (hotplug.c), one per slot. */
enum machine_dev_state {
	MACHINE_DEV_FREE,
	MACHINE_DEV_PRESENT,
	MACHINE_DEV_UNPLUGGING,		/* device_del asked the guest; not ejected yet */
};

#define MACHINE_SLOTS		32
#define MACHINE_DEV_ID_MAX	63	/* PASSTHROUGH_ID_MAX */

struct machine_dev {
	enum machine_dev_state state;
	struct passthrough_device *pt;
	char id[MACHINE_DEV_ID_MAX + 1];	/* "" when it has none */
	char path[96];				/* its QOM path */
	char driver[16];			/* "vfio-pci" or "passthrough" */
};

/* The guest's eject of a slot, queued from inside the port access. */
struct machine_eject {
	struct vmm *vmm;
	unsigned int slot;
};

struct vmm {
	struct vmm_config cfg;

	struct mem_map *map;
	struct mem_ram *ram;
	struct kvm_vm *kvm;
	struct vmm_bus *bus;
	struct vmm_loop *loop;
	bool loop_started;
	struct serial *serial;
	struct pm *pm;
	struct pci_host *pci;
	struct passthrough_host *pt;
	int serial_out_fd;	/* owned when serial is a file */

	struct vmm_cpu *cpus;
	unsigned int nr_cpus;
	struct boot_config boot;	/* what boot_load() loads, again at each reset */
	struct boot_ram boot_ram;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vmm_state state;
	bool started;		/* vmm_start() created the vCPU threads */
	bool stop_req;
	bool stop_reported;	/* VMM_EVENT_SHUTDOWN has been handed to the handler */
	enum vmm_stop_reason reason;
	bool pause_req;
	bool reset_req;
	unsigned int nr_resets;
	unsigned int nr_parked;
	unsigned int nr_exited;

	vmm_event_fn event_fn;		/* called without vmm->lock held */
	void *event_opaque;

	/*
	 * hotplug.c: the devices on the guest's bus.  dev_lock guards devs[]
	 * and serialises passthrough_device_add/remove (QMP's loop thread,
	 * a vCPU's eject); never taken inside a bus access.
	 */
	struct hotplug *hotplug;
	pthread_mutex_t dev_lock;
	struct machine_dev devs[MACHINE_SLOTS];
	unsigned int nr_anon;			/* anonymous devices named so far */
	struct machine_eject ejects[MACHINE_SLOTS];
	/* BAR moves queued by vCPUs and not yet run (pt.c's defer). */
	pthread_mutex_t defer_lock;
	pthread_cond_t defer_cond;
	unsigned int defers;
};

void machine_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * pt.c: the VM's passthrough host and its devices.  attach_all attaches the
 * -device devices before any vCPU runs (on failure the caller frees the
 * machine, and machine_pt_free() releases what was attached); machine_pt_free()
 * takes them out of the guest's PCI bus and releases them in BRIEF rule 4's
 * order, after the vCPU threads are joined and before the bus, VM and RAM go.
 */
int machine_pt_attach_all(struct vmm *vmm, char *err, size_t errlen);
void machine_pt_free(struct vmm *vmm);
/*
 * Connects @dev's INTx pin to the GSI of its slot (as the DSDT's _PRT says);
 * call it once the device is on the guest's bus (cold or hot-plugged).
 */
int machine_pt_connect_intx(struct vmm *vmm, struct passthrough_device *dev, unsigned int slot,
			    char *err, size_t errlen);

/* machine.c: calls the event handler (without vmm->lock). */
void machine_emit_device(struct vmm *vmm, enum vmm_event ev, const struct vmm_event_device *dev);

/*
 * hotplug.c: the hot-plug controller and the device table.
 * machine_hotplug_new() before the devices are attached; each -device is
 * recorded with machine_hotplug_record() once it is on the bus;
 * machine_hotplug_reset() (vCPUs parked) finishes the unplugs the guest
 * will never answer now; machine_hotplug_free() takes every device off the
 * guest's bus (the vCPUs are joined) before machine_pt_free() releases them.
 */
int machine_hotplug_new(struct vmm *vmm, char *err, size_t errlen);
void machine_hotplug_record(struct vmm *vmm, struct passthrough_device *dev, unsigned int slot,
			    const char *spec);
/* pt.c: a passthrough device's config space on the PCI host. */
extern const struct pci_func_ops machine_pt_cfg_ops;
void machine_hotplug_reset(struct vmm *vmm);
void machine_hotplug_free(struct vmm *vmm);
/*
 * Runs @fn(@arg) after the current bus access (vmm_bus_after_access), and
 * counts it until it has run: a device is freed only once no BAR move
 * queued for it can still run (machine_defer_drain()).
 */
int machine_defer_after_access(struct vmm *vmm, void (*fn)(void *arg), void *arg);
void machine_defer_drain(struct vmm *vmm);

#endif /* FERRY_VMM_MACHINE_H */
