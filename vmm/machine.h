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
	struct passthrough_host *pt;	/* NULL without -device */
	unsigned int *pt_devfns;	/* the guest functions of its devices */
	unsigned int nr_pt;
	int serial_out_fd;	/* owned when serial is a file */

	struct vmm_cpu *cpus;
	unsigned int nr_cpus;
	struct boot_config boot;	/* what boot_load() loads, again at each reset */
	struct boot_ram boot_ram;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vmm_state state;
	bool stop_req;
	enum vmm_stop_reason reason;
	bool pause_req;
	bool reset_req;
	unsigned int nr_resets;
	unsigned int nr_parked;
	unsigned int nr_exited;

	vmm_event_fn event_fn;		/* called without vmm->lock held */
	void *event_opaque;
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

#endif /* FERRY_VMM_MACHINE_H */
