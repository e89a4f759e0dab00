// SPDX-License-Identifier: GPL-2.0-only
/*
 * The machine's passthrough devices: the passthrough_vm_ops that let
 * passthrough/ put its BARs on the VM's bus (dependency injection: it never
 * includes vmm/ headers), and the devices' places on the guest's PCI bus.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "passthrough/passthrough.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/pci.h"

/*
 * Passthrough devices: passthrough/ calls back through these to put its BARs
 * on the bus (dependency injection: it never includes vmm/ headers).
 *
 * Each trap counts the guest accesses it served, i.e. the vCPU exits to
 * ferry for that BAR range (accesses to a BAR's mmap are memslots and never
 * get here).  With FERRY_DEBUG_EXITS=1 in the environment, the count is
 * printed when the trap is removed (the BAR moves or is disabled, the device
 * goes, ferry exits):
 *   ferry: exits: mmio trap 0xfe000000+0x100000: 12 guest accesses
 */
struct machine_pt_trap {
	struct machine_pt_trap *next;
	struct vmm *vmm;
	enum passthrough_space space;
	uint64_t base, len;
	struct passthrough_bar *bar;
	uint64_t exits;			/* atomic: any vCPU */
};

/* Traps of every machine, found again at trap_del (traps are few). */
static pthread_mutex_t machine_pt_traps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct machine_pt_trap *machine_pt_traps;

static void machine_pt_bar_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct machine_pt_trap *t = opaque;

	__atomic_fetch_add(&t->exits, 1, __ATOMIC_RELAXED);
	passthrough_bar_access(t->bar, off, data, len, false);
}

static void machine_pt_bar_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct machine_pt_trap *t = opaque;

	__atomic_fetch_add(&t->exits, 1, __ATOMIC_RELAXED);
	passthrough_bar_access(t->bar, off, (void *)data, len, true);
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
	struct machine_pt_trap *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	*t = (struct machine_pt_trap){ .vmm = vmm, .space = space, .base = base, .len = len,
				       .bar = bar };
	ret = vmm_bus_register(vmm->bus, machine_pt_space(space), base, len,
			       &machine_pt_bar_ops, t);
	if (ret) {
		free(t);
		return ret;
	}
	pthread_mutex_lock(&machine_pt_traps_lock);
	t->next = machine_pt_traps;
	machine_pt_traps = t;
	pthread_mutex_unlock(&machine_pt_traps_lock);
	return 0;
}

static int machine_pt_trap_del(void *opaque, enum passthrough_space space, uint64_t base)
{
	struct vmm *vmm = opaque;
	struct machine_pt_trap *t = NULL;
	const char *dbg;
	int ret;

	/* After this no vCPU is inside the trap's ops: the bus lock is taken. */
	ret = vmm_bus_unregister(vmm->bus, machine_pt_space(space), base);
	if (ret)
		return ret;
	pthread_mutex_lock(&machine_pt_traps_lock);
	for (struct machine_pt_trap **p = &machine_pt_traps; *p; p = &(*p)->next) {
		if ((*p)->vmm == vmm && (*p)->space == space && (*p)->base == base) {
			t = *p;
			*p = t->next;
			break;
		}
	}
	pthread_mutex_unlock(&machine_pt_traps_lock);
	if (!t)
		return 0;
	dbg = getenv("FERRY_DEBUG_EXITS");
	if (dbg && *dbg && strcmp(dbg, "0"))
		fprintf(stderr, "ferry: exits: %s trap 0x%llx+0x%llx: %llu guest accesses\n",
			space == PASSTHROUGH_PIO ? "pio" : "mmio", (unsigned long long)t->base,
			(unsigned long long)t->len,
			(unsigned long long)__atomic_load_n(&t->exits, __ATOMIC_RELAXED));
	free(t);
	return 0;
}

static int machine_pt_defer(void *opaque, void (*fn)(void *arg), void *arg)
{
	/* Counted, so that an unplug waits for the moves queued for its device. */
	return machine_defer_after_access(opaque, fn, arg);
}

/* Interrupts: KVM MSI routes and irqfds (vmm/kvm.h). */
static int machine_pt_gsi_alloc_msi(void *opaque, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	return kvm_gsi_alloc_msi(((struct vmm *)opaque)->kvm, addr, data, gsi);
}

static int machine_pt_gsi_update_msi(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	return kvm_gsi_update_msi(((struct vmm *)opaque)->kvm, gsi, addr, data);
}

static int machine_pt_gsi_free(void *opaque, uint32_t gsi)
{
	return kvm_gsi_free(((struct vmm *)opaque)->kvm, gsi);
}

static int machine_pt_irqfd_assign(void *opaque, int fd, uint32_t gsi, int resample_fd)
{
	return kvm_irqfd_assign(((struct vmm *)opaque)->kvm, fd, gsi, resample_fd);
}

static int machine_pt_irqfd_deassign(void *opaque, int fd, uint32_t gsi)
{
	return kvm_irqfd_deassign(((struct vmm *)opaque)->kvm, fd, gsi);
}

/*
 * Fds passthrough/ asks the event loop to watch (VFIO's request eventfd):
 * its callback has the loop's shape.  vmm_loop_del_fd() returns only once
 * the callback is not running, as fd_unwatch promises.
 */
static int machine_pt_fd_watch(void *opaque, int fd, void (*fn)(void *arg, uint32_t events),
			       void *arg)
{
	return vmm_loop_add_fd(((struct vmm *)opaque)->loop, fd, EPOLLIN, fn, arg);
}

static int machine_pt_fd_unwatch(void *opaque, int fd)
{
	return vmm_loop_del_fd(((struct vmm *)opaque)->loop, fd);
}

/*
 * The host wants a device back (VFIO's request interrupt): the unplug that
 * device_del starts.  The request comes from inside a loop callback, which
 * a device's removal waits for (fd_unwatch) while it holds dev_lock, so the
 * unplug itself runs as deferred loop work, with the device named by its
 * host address: by then it may be gone.
 */
struct machine_pt_unplug {
	struct vmm *vmm;
	char host[VFIO_BDF_STRLEN];
};

static void machine_pt_unplug_run(void *opaque)
{
	struct machine_pt_unplug *u = opaque;
	struct vmm *vmm = u->vmm;
	char path[sizeof(vmm->devs[0].path)], err[256];
	enum machine_dev_state state = MACHINE_DEV_FREE;

	/* ferry is stopping: its teardown closes the device, which is what the host waits for. */
	if (vmm_get_state(vmm) == VMM_STATE_STOPPED)
		goto out;
	pthread_mutex_lock(&vmm->dev_lock);
	for (unsigned int slot = 1; slot < MACHINE_SLOTS; slot++) {
		struct machine_dev *d = &vmm->devs[slot];

		if (d->state != MACHINE_DEV_FREE && d->pt &&
		    !strcmp(passthrough_device_host(d->pt), u->host)) {
			state = d->state;
			memcpy(path, d->path, sizeof(path));
			break;
		}
	}
	pthread_mutex_unlock(&vmm->dev_lock);
	if (state == MACHINE_DEV_FREE) {
		fprintf(stderr, "ferry: host requested device %s back, but it is not on the "
			"guest's PCI bus, so ferry cannot unplug it from the guest: if ferry "
			"still holds it, quit ferry to release it\n", u->host);
		goto out;
	}
	if (state == MACHINE_DEV_UNPLUGGING) {
		fprintf(stderr, "ferry: device %s: its unplug is already pending; the host gets "
			"it back once the guest ejects it\n", u->host);
		goto out;
	}
	/* Another request (device_del) may have come in between: then that one is pending. */
	if (vmm_device_del(vmm, path, err, sizeof(err)) == -ENODEV)
		fprintf(stderr, "ferry: host requested device %s back: %s\n", u->host, err);
out:
	free(u);
}

static int machine_pt_request_unplug(void *opaque, struct passthrough_device *dev)
{
	struct vmm *vmm = opaque;
	struct machine_pt_unplug *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	u->vmm = vmm;
	snprintf(u->host, sizeof(u->host), "%s", passthrough_device_host(dev));
	ret = vmm_loop_defer(vmm->loop, machine_pt_unplug_run, u);
	if (ret)
		free(u);
	return ret;
}

static const struct passthrough_vm_ops machine_pt_ops = {
	.trap_add = machine_pt_trap_add,
	.trap_del = machine_pt_trap_del,
	.defer = machine_pt_defer,
	.gsi_alloc_msi = machine_pt_gsi_alloc_msi,
	.gsi_update_msi = machine_pt_gsi_update_msi,
	.gsi_free = machine_pt_gsi_free,
	.irqfd_assign = machine_pt_irqfd_assign,
	.irqfd_deassign = machine_pt_irqfd_deassign,
	.fd_watch = machine_pt_fd_watch,
	.fd_unwatch = machine_pt_fd_unwatch,
	.request_unplug = machine_pt_request_unplug,
};

int machine_pt_connect_intx(struct vmm *vmm, struct passthrough_device *dev, unsigned int slot,
			    char *err, size_t errlen)
{
	uint32_t pin = passthrough_device_cfg_read(dev, PCI_INTERRUPT_PIN, 1);

	if (pin < 1 || pin > 4)
		return 0;
	return passthrough_device_set_intx_gsi(dev, (int)pci_host_intx_gsi(slot, pin), err,
					       errlen);
}

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
		.libvirt_uri = vmm->cfg.libvirt_uri,
	};
	struct passthrough_iommufd *objs = NULL;
	struct passthrough_device *dev;
	struct passthrough_opts opts;
	int ret, slot;

	/* Made even without -device: QMP's device_add may bring the first one. */
	/* -object iommufd: one IOAS each, for the devices with iommufd=ID. */
	if (vmm->cfg.nr_iommufds) {
		objs = calloc(vmm->cfg.nr_iommufds, sizeof(*objs));
		if (!objs)
			return -ENOMEM;
		for (unsigned int i = 0; i < vmm->cfg.nr_iommufds; i++)
			objs[i] = (struct passthrough_iommufd){
				.id = vmm->cfg.iommufds[i].id,
				.has_fd = vmm->cfg.iommufds[i].fd >= 0,
				.fd = vmm->cfg.iommufds[i].fd,
			};
		pc.iommufds = objs;
		pc.nr_iommufds = vmm->cfg.nr_iommufds;
	}
	/* The host copies the objects. */
	ret = passthrough_host_new(&pc, &vmm->pt, err, errlen);
	free(objs);
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
		ret = machine_pt_connect_intx(vmm, dev, (unsigned int)slot, err, errlen);
		if (ret) {
			pci_host_remove(vmm->pci, PCI_DEVFN(slot, 0));
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
