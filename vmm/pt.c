// SPDX-License-Identifier: GPL-2.0-only
/*
 * The machine's passthrough devices: the passthrough_vm_ops that let
 * passthrough/ put its BARs on the VM's bus (dependency injection: it never
 * includes vmm/ headers), and the devices' places on the guest's PCI bus.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "passthrough/passthrough.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/pci.h"

/*
 * Passthrough devices: passthrough/ calls back through these to put its BARs
 * on the bus (dependency injection: it never includes vmm/ headers).
 */
static void machine_pt_bar_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	passthrough_bar_access(opaque, off, data, len, false);
}

static void machine_pt_bar_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	passthrough_bar_access(opaque, off, (void *)data, len, true);
}

static const struct vmm_bus_ops machine_pt_bar_ops = {
	.read = machine_pt_bar_read,
	.write = machine_pt_bar_write,
};

static enum vmm_bus_space machine_pt_space(enum passthrough_space space)
{
	return space == PASSTHROUGH_PIO ? VMM_BUS_PIO : VMM_BUS_MMIO;
}

static int machine_pt_trap_add(void *opaque, enum passthrough_space space, uint64_t base,
			       uint64_t len, struct passthrough_bar *bar)
{
	struct vmm *vmm = opaque;

	return vmm_bus_register(vmm->bus, machine_pt_space(space), base, len,
				&machine_pt_bar_ops, bar);
}

static int machine_pt_trap_del(void *opaque, enum passthrough_space space, uint64_t base)
{
	struct vmm *vmm = opaque;

	return vmm_bus_unregister(vmm->bus, machine_pt_space(space), base);
}

static int machine_pt_defer(void *opaque, void (*fn)(void *arg), void *arg)
{
	/* Counted, so that an unplug waits for the moves queued for its device. */
	return machine_defer_after_access(opaque, fn, arg);
}

static const struct passthrough_vm_ops machine_pt_ops = {
	.trap_add = machine_pt_trap_add,
	.trap_del = machine_pt_trap_del,
	.defer = machine_pt_defer,
};

static uint32_t machine_pt_cfg_read(void *opaque, unsigned int off, unsigned int len)
{
	return passthrough_device_cfg_read(opaque, off, len);
}

static void machine_pt_cfg_write(void *opaque, unsigned int off, unsigned int len, uint32_t val)
{
	passthrough_device_cfg_write(opaque, off, len, val);
}

const struct pci_func_ops machine_pt_cfg_ops = {
	.cfg_read = machine_pt_cfg_read,
	.cfg_write = machine_pt_cfg_write,
};

int machine_pt_attach_all(struct vmm *vmm, char *err, size_t errlen)
{
	struct passthrough_vm_config pc = {
		.sys = vfio_sys_linux(),
		.vm_fd = kvm_vm_fd(vmm->kvm),
		.map = vmm->map,
		.cap_ipc_lock = passthrough_process_can_lock(),
		.backend = VFIO_BACKEND_CONTAINER,
		.ops = &machine_pt_ops,
		.vm = vmm,
	};
	struct passthrough_device *dev;
	struct passthrough_opts opts;
	int ret, slot;

	/* Made even without -device: QMP's device_add may bring the first one. */
	ret = passthrough_host_new(&pc, &vmm->pt, err, errlen);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < vmm->cfg.nr_devices; i++) {
		ret = passthrough_opts_parse(vmm->cfg.devices[i].spec, &opts, err, errlen);
		if (ret)
			return ret;
		ret = passthrough_device_add(vmm->pt, &opts, &dev, err, errlen);
		if (ret)
			return ret;
		slot = passthrough_device_slot(dev);
		if (slot < 0)
			slot = pci_host_free_slot(vmm->pci);
		ret = slot < 0 ? slot : pci_host_add(vmm->pci, PCI_DEVFN(slot, 0),
						     &machine_pt_cfg_ops, dev);
		if (ret) {
			machine_err(err, errlen, "-device %s: %s", vmm->cfg.devices[i].spec,
				ret == -EEXIST ? "its slot (addr=) is taken" :
				ret == -ENOSPC ? "no free slot on the guest's PCI bus" :
				strerror(-ret));
			passthrough_device_remove(dev, NULL, 0);
			return ret;
		}
		machine_hotplug_record(vmm, dev, slot, vmm->cfg.devices[i].spec);
	}
	return 0;
}

void machine_pt_free(struct vmm *vmm)
{
	/* machine_hotplug_free() took the devices off the guest's bus. */
	passthrough_host_free(vmm->pt);
	vmm->pt = NULL;
}
