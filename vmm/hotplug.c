// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI PCI hot-plug (vmm/hotplug.h): the controller the DSDT's methods talk
 * to, and the machine's devices on the guest's bus (vmm_device_add,
 * vmm_device_del, vmm_pci_list in vmm/vmm.h).
 *
 * Lifetimes and threads:
 *  - device_add runs on QMP's loop thread: attach (passthrough), put on the
 *    bus (pci_host_add), then tell the guest (INS + GPE).
 *  - device_del only asks the guest (REQ + GPE).
 *  - The guest's _EJ0 writes EJ on a vCPU thread, inside the bus access: the
 *    controller only queues the removal after the access (outside the bus
 *    lock, before the vCPU resumes), where it takes the device off the
 *    guest's bus, waits until no BAR move queued by any vCPU can still run
 *    (machine_defer_drain: such a move holds the device), releases it in
 *    BRIEF rule 4's order (passthrough_device_remove) and only then reports
 *    VMM_EVENT_DEVICE_DELETED.  So the slot reads empty by the time _EJ0
 *    returns, and the event means the group can be opened again.
 *  - vmm->dev_lock serialises all of this; it is never taken inside a bus
 *    access, and nothing holding a bus or PCI lock waits for it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passthrough/passthrough.h"
#include "vmm/bus.h"
#include "vmm/hotplug.h"
#include "vmm/layout.h"
#include "vmm/machine.h"
#include "vmm/pci.h"
#include "vmm/pm.h"

/* ---- The controller ---- */

struct hotplug {
	struct hotplug_config cfg;
	pthread_mutex_t lock;
	uint32_t ins, req, occ;
	bool level;
};

/* Under hp->lock. */
static void hotplug_update(struct hotplug *hp)
{
	bool level = (hp->ins | hp->req) != 0;

	if (level != hp->level) {
		hp->level = level;
		if (hp->cfg.set_gpe)
			hp->cfg.set_gpe(hp->cfg.opaque, level);
	}
}

static void hotplug_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct hotplug *hp = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&hp->lock);
	for (unsigned int i = 0; i < len; i++) {
		unsigned int b = offset + i;
		uint32_t reg = 0;

		switch (b & ~3u) {
		case HOTPLUG_REG_INS:
			reg = hp->ins;
			break;
		case HOTPLUG_REG_REQ:
			reg = hp->req;
			break;
		case HOTPLUG_REG_OCC:
			reg = hp->occ;
			break;
		}
		out[i] = reg >> (8 * (b & 3));
	}
	pthread_mutex_unlock(&hp->lock);
}

static void hotplug_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct hotplug *hp = opaque;
	uint32_t ej = 0;

	/* Registers are written whole or byte by byte: place the bytes. */
	pthread_mutex_lock(&hp->lock);
	for (unsigned int i = 0; i < len; i++) {
		unsigned int b = offset + i;
		uint32_t v = (uint32_t)((const uint8_t *)data)[i] << (8 * (b & 3));

		switch (b & ~3u) {
		case HOTPLUG_REG_INS:
			hp->ins &= ~v;
			break;
		case HOTPLUG_REG_REQ:
			hp->req &= ~v;
			break;
		case HOTPLUG_REG_EJ:
			ej |= v;
			break;
		}
	}
	ej &= HOTPLUG_SLOTS_MASK;
	/* An eject answers the request, whoever asked. */
	hp->req &= ~ej;
	hotplug_update(hp);
	pthread_mutex_unlock(&hp->lock);
	for (unsigned int slot = 1; slot < 32; slot++)
		if ((ej & (1u << slot)) && hp->cfg.eject)
			hp->cfg.eject(hp->cfg.opaque, slot);
}

static const struct vmm_bus_ops hotplug_ops = { .read = hotplug_read, .write = hotplug_write };

int hotplug_new(const struct hotplug_config *cfg, struct hotplug **out)
{
	struct hotplug *hp;
	int ret;

	if (!cfg->bus)
		return -EINVAL;
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return -ENOMEM;
	hp->cfg = *cfg;
	pthread_mutex_init(&hp->lock, NULL);
	ret = vmm_bus_register(cfg->bus, VMM_BUS_PIO, cfg->port, LAYOUT_HOTPLUG_LEN, &hotplug_ops,
			       hp);
	if (ret) {
		pthread_mutex_destroy(&hp->lock);
		free(hp);
		return ret;
	}
	*out = hp;
	return 0;
}

void hotplug_free(struct hotplug *hp)
{
	if (!hp)
		return;
	vmm_bus_unregister(hp->cfg.bus, VMM_BUS_PIO, hp->cfg.port);
	pthread_mutex_destroy(&hp->lock);
	free(hp);
}

static void hotplug_set(struct hotplug *hp, uint32_t *reg, unsigned int slot)
{
	if (slot == 0 || slot >= 32)
		return;
	pthread_mutex_lock(&hp->lock);
	*reg |= 1u << slot;
	hotplug_update(hp);
	pthread_mutex_unlock(&hp->lock);
}

void hotplug_insert(struct hotplug *hp, unsigned int slot)
{
	hotplug_set(hp, &hp->ins, slot);
}

void hotplug_request_eject(struct hotplug *hp, unsigned int slot)
{
	hotplug_set(hp, &hp->req, slot);
}

void hotplug_set_occupied(struct hotplug *hp, unsigned int slot, bool occupied)
{
	if (slot == 0 || slot >= 32)
		return;
	pthread_mutex_lock(&hp->lock);
	if (occupied)
		hp->occ |= 1u << slot;
	else
		hp->occ &= ~(1u << slot);
	pthread_mutex_unlock(&hp->lock);
}

void hotplug_reset(struct hotplug *hp)
{
	pthread_mutex_lock(&hp->lock);
	hp->ins = 0;
	hp->req = 0;
	hotplug_update(hp);
	pthread_mutex_unlock(&hp->lock);
}

void hotplug_state(struct hotplug *hp, uint32_t *ins, uint32_t *req, uint32_t *occ)
{
	pthread_mutex_lock(&hp->lock);
	*ins = hp->ins;
	*req = hp->req;
	*occ = hp->occ;
	pthread_mutex_unlock(&hp->lock);
}

/* ---- Deferred BAR moves, counted ---- */

struct machine_deferred {
	struct vmm *vmm;
	void (*fn)(void *arg);
	void *arg;
};

static void machine_deferred_run(void *opaque)
{
	struct machine_deferred *d = opaque;
	struct vmm *vmm = d->vmm;

	d->fn(d->arg);
	free(d);
	pthread_mutex_lock(&vmm->defer_lock);
	vmm->defers--;
	pthread_cond_broadcast(&vmm->defer_cond);
	pthread_mutex_unlock(&vmm->defer_lock);
}

int machine_defer_after_access(struct vmm *vmm, void (*fn)(void *arg), void *arg)
{
	struct machine_deferred *d = malloc(sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	*d = (struct machine_deferred){ .vmm = vmm, .fn = fn, .arg = arg };
	pthread_mutex_lock(&vmm->defer_lock);
	vmm->defers++;
	pthread_mutex_unlock(&vmm->defer_lock);
	ret = vmm_bus_after_access(machine_deferred_run, d);
	if (ret) {
		pthread_mutex_lock(&vmm->defer_lock);
		vmm->defers--;
		pthread_cond_broadcast(&vmm->defer_cond);
		pthread_mutex_unlock(&vmm->defer_lock);
		free(d);
	}
	return ret;
}

/*
 * Waits until every counted move has run.  Called with the device already
 * off the bus, so no new move for it can be queued; moves of other devices
 * are short, so this ends.  Not from a thread with moves of its own queued.
 */
void machine_defer_drain(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->defer_lock);
	while (vmm->defers)
		pthread_cond_wait(&vmm->defer_cond, &vmm->defer_lock);
	pthread_mutex_unlock(&vmm->defer_lock);
}

/* ---- The machine's devices ---- */

static void machine_hp_set_gpe(void *opaque, bool level)
{
	struct vmm *vmm = opaque;

	pm_set_gpe_level(vmm->pm, HOTPLUG_GPE, level);
}

/*
 * Under dev_lock, vCPUs not touching the device any more (its slot is off
 * the bus).  Releases it and fills @id/@path for the event.
 */
static void machine_dev_release(struct vmm *vmm, unsigned int slot, char *id, char *path)
{
	struct machine_dev *d = &vmm->devs[slot];
	char err[512] = "";

	machine_defer_drain(vmm);
	hotplug_set_occupied(vmm->hotplug, slot, false);
	if (passthrough_device_remove(d->pt, err, sizeof(err)))
		fprintf(stderr, "ferry: unplug of %s: %s\n", d->path, err);
	memcpy(id, d->id, sizeof(d->id));
	memcpy(path, d->path, sizeof(d->path));
	memset(d, 0, sizeof(*d));
}

static void machine_dev_deleted_event(struct vmm *vmm, const char *id, const char *path)
{
	struct vmm_event_device ev = { .id = id[0] ? id : NULL, .path = path };

	machine_emit_device(vmm, VMM_EVENT_DEVICE_DELETED, &ev);
}

/* After the guest's eject access, on its vCPU thread, outside the bus lock. */
static void machine_hp_ejected(void *opaque)
{
	struct machine_eject *e = opaque;
	struct vmm *vmm = e->vmm;
	char id[MACHINE_DEV_ID_MAX + 1], path[96];
	struct machine_dev *d;

	pthread_mutex_lock(&vmm->dev_lock);
	d = &vmm->devs[e->slot];
	if (d->state == MACHINE_DEV_FREE) {
		/* An eject of an empty slot (or a second one): nothing there. */
		pthread_mutex_unlock(&vmm->dev_lock);
		return;
	}
	/* Off the bus first: the write lock waits out config accesses in flight. */
	pci_host_remove(vmm->pci, PCI_DEVFN(e->slot, 0));
	machine_dev_release(vmm, e->slot, id, path);
	pthread_mutex_unlock(&vmm->dev_lock);
	machine_dev_deleted_event(vmm, id, path);
}

static void machine_hp_eject(void *opaque, unsigned int slot)
{
	struct vmm *vmm = opaque;
	struct machine_eject *e = &vmm->ejects[slot];

	e->vmm = vmm;
	e->slot = slot;
	if (vmm_bus_after_access(machine_hp_ejected, e))
		fprintf(stderr, "ferry: the guest's eject of slot %u could not be queued\n", slot);
}

int machine_hotplug_new(struct vmm *vmm, char *err, size_t errlen)
{
	struct hotplug_config hc = {
		.bus = vmm->bus,
		.port = LAYOUT_HOTPLUG_PORT,
		.set_gpe = machine_hp_set_gpe,
		.eject = machine_hp_eject,
		.opaque = vmm,
	};
	int ret = hotplug_new(&hc, &vmm->hotplug);

	if (ret)
		machine_err(err, errlen, "cannot create the PCI hot-plug controller: %s",
			    strerror(-ret));
	return ret;
}

static void machine_dev_name(struct vmm *vmm, struct machine_dev *d, const char *id,
			     const char *driver)
{
	snprintf(d->id, sizeof(d->id), "%s", id);
	if (id[0])
		snprintf(d->path, sizeof(d->path), "/machine/peripheral/%s", id);
	else
		snprintf(d->path, sizeof(d->path), "/machine/peripheral-anon/device[%u]",
			 vmm->nr_anon++);
	snprintf(d->driver, sizeof(d->driver), "%s",
		 driver && !strcmp(driver, "vfio-pci") ? "vfio-pci" : "passthrough");
}

void machine_hotplug_record(struct vmm *vmm, struct passthrough_device *dev, unsigned int slot,
			    const char *spec)
{
	struct machine_dev *d = &vmm->devs[slot];
	/* The -device text was checked already: its driver is the first item or driver=. */
	bool vfio_pci = !strncmp(spec, "vfio-pci", 8) && (spec[8] == ',' || !spec[8]);
	const char *driver = vfio_pci || strstr(spec, "driver=vfio-pci") ? "vfio-pci" :
									   "passthrough";

	pthread_mutex_lock(&vmm->dev_lock);
	d->state = MACHINE_DEV_PRESENT;
	d->pt = dev;
	machine_dev_name(vmm, d, passthrough_device_id(dev), driver);
	hotplug_set_occupied(vmm->hotplug, slot, true);
	pthread_mutex_unlock(&vmm->dev_lock);
}

/* The slot of device @id (or of QOM path @id), or -1. */
static int machine_dev_find(struct vmm *vmm, const char *id)
{
	for (int slot = 1; slot < MACHINE_SLOTS; slot++) {
		struct machine_dev *d = &vmm->devs[slot];

		if (d->state != MACHINE_DEV_FREE &&
		    ((d->id[0] && !strcmp(d->id, id)) || !strcmp(d->path, id)))
			return slot;
	}
	return -1;
}

/* The lowest slot free both here and on the PCI host, or -1. */
static int machine_free_slot(struct vmm *vmm)
{
	for (int slot = 1; slot < MACHINE_SLOTS; slot++) {
		if (vmm->devs[slot].state != MACHINE_DEV_FREE)
			continue;
		if (pci_host_cfg_read(vmm->pci, 0, PCI_DEVFN(slot, 0), PCI_VENDOR_ID, 2) == 0xffff)
			return slot;
	}
	return -1;
}

/*
 * An add that ferry had to open the device for, refused for want of a
 * privilege: after -run-with user= ferry cannot open /dev/vfio/N, and the way
 * on is the manager's fd.  Said when ferry runs without root's file access,
 * whatever the reason.
 */
static void machine_explain_unprivileged(int fd_given, int ret, char *err, size_t errlen)
{
	size_t len = err ? strlen(err) : 0;

	if (fd_given >= 0 || (ret != -EACCES && ret != -EPERM) || !err || geteuid() == 0)
		return;
	snprintf(err + len, errlen - len, ". ferry runs as uid %u without the privilege to open "
		 "/dev/vfio/N (it dropped it with -run-with user=): open the group yourself and "
		 "pass the fd with getfd (SCM_RIGHTS), then device_add ...,fd=NAME",
		 (unsigned int)geteuid());
}

int vmm_device_add(struct vmm *vmm, const struct vmm_device_prop *props, size_t nr_props,
		   int fd, char *err, size_t errlen)
{
	struct passthrough_device *dev;
	struct passthrough_opts opts;
	const char *driver = NULL;
	int ret, slot;

	passthrough_opts_init(&opts);
	for (size_t i = 0; i < nr_props; i++) {
		if (!strcmp(props[i].key, "driver"))
			driver = props[i].value;
		if (!strcmp(props[i].key, "fd")) {
			machine_err(err, errlen, "fd: pass the file descriptor itself (QMP: getfd, "
				    "then fd=NAME), not a number");
			ret = -EINVAL;
			goto err_fd;
		}
		ret = passthrough_opts_set(&opts, props[i].key, props[i].value, err, errlen);
		if (ret)
			goto err_fd;
	}
	if (!driver) {
		machine_err(err, errlen, "no driver: give driver=vfio-pci (or passthrough)");
		ret = -EINVAL;
		goto err_fd;
	}
	if (!opts.host[0]) {
		machine_err(err, errlen, "which host device? give host=DDDD:BB:DD.F (see "
			    "`lspci -D` on the host)");
		ret = -EINVAL;
		goto err_fd;
	}
	if (vmm_get_state(vmm) == VMM_STATE_STOPPED) {
		machine_err(err, errlen, "the machine has stopped: no device can be added");
		ret = -ESHUTDOWN;
		goto err_fd;
	}
	if (!vmm->pt) {
		machine_err(err, errlen, "this machine cannot take passthrough devices");
		ret = -ENODEV;
		goto err_fd;
	}

	pthread_mutex_lock(&vmm->dev_lock);
	if (opts.id[0] && machine_dev_find(vmm, opts.id) >= 0) {
		machine_err(err, errlen, "Duplicate device ID '%s'", opts.id);
		ret = -EEXIST;
		goto out;
	}
	slot = opts.slot;
	if (slot < 0) {
		slot = machine_free_slot(vmm);
		if (slot < 0) {
			machine_err(err, errlen, "no free slot on the guest's PCI bus");
			ret = -ENOSPC;
			goto out;
		}
	} else if (vmm->devs[slot].state != MACHINE_DEV_FREE) {
		struct machine_dev *d = &vmm->devs[slot];

		machine_err(err, errlen, "PCI slot %#x is in use by %s%s", slot,
			    d->id[0] ? d->id : d->path,
			    d->state == MACHINE_DEV_UNPLUGGING ? " (its unplug is pending)" : "");
		ret = -EEXIST;
		goto out;
	}
	opts.fd = fd;
	fd = -1;	/* passthrough_device_add() takes it over, whatever happens */
	ret = passthrough_device_add(vmm->pt, &opts, &dev, err, errlen);
	if (ret) {
		machine_explain_unprivileged(opts.fd, ret, err, errlen);
		goto out;
	}
	/* Its INTx line (the slot's GSI) is wired before the guest can see it. */
	ret = machine_pt_connect_intx(vmm, dev, slot, err, errlen);
	if (ret) {
		passthrough_device_remove(dev, NULL, 0);
		goto out;
	}
	ret = pci_host_add(vmm->pci, PCI_DEVFN(slot, 0), &machine_pt_cfg_ops, dev);
	if (ret) {
		machine_err(err, errlen, "PCI slot %#x is taken", slot);
		passthrough_device_remove(dev, NULL, 0);
		goto out;
	}
	vmm->devs[slot].state = MACHINE_DEV_PRESENT;
	vmm->devs[slot].pt = dev;
	machine_dev_name(vmm, &vmm->devs[slot], opts.id, driver);
	hotplug_set_occupied(vmm->hotplug, slot, true);
	/*
	 * Before the guest's first instruction (-S) there is nobody to tell:
	 * it finds the device at boot, as a -device.  vmm_resume() takes
	 * dev_lock, so the state cannot change under us.
	 */
	if (vmm_get_state(vmm) != VMM_STATE_CREATED)
		hotplug_insert(vmm->hotplug, slot);
out:
	pthread_mutex_unlock(&vmm->dev_lock);
err_fd:
	if (fd >= 0)
		close(fd);
	return ret;
}

int vmm_device_del(struct vmm *vmm, const char *id, char *err, size_t errlen)
{
	char del_id[MACHINE_DEV_ID_MAX + 1], del_path[96];
	bool released = false;
	int slot, ret = 0;

	pthread_mutex_lock(&vmm->dev_lock);
	slot = machine_dev_find(vmm, id);
	if (slot < 0) {
		machine_err(err, errlen, "Device '%s' not found", id);
		ret = -ENODEV;
	} else if (vmm->devs[slot].state == MACHINE_DEV_UNPLUGGING) {
		machine_err(err, errlen, "Device %s is already in the process of unplug", id);
		ret = -EBUSY;
	} else if (vmm_get_state(vmm) == VMM_STATE_CREATED) {
		/* No guest has run (-S): nobody to ask, nothing uses it; as its eject. */
		pci_host_remove(vmm->pci, PCI_DEVFN(slot, 0));
		machine_dev_release(vmm, slot, del_id, del_path);
		released = true;
	} else {
		vmm->devs[slot].state = MACHINE_DEV_UNPLUGGING;
		hotplug_request_eject(vmm->hotplug, slot);
	}
	pthread_mutex_unlock(&vmm->dev_lock);
	if (released)
		machine_dev_deleted_event(vmm, del_id, del_path);
	return ret;
}

/* The guest is gone (vCPUs parked): nobody will answer the pending unplugs. */
void machine_hotplug_reset(struct vmm *vmm)
{
	char id[MACHINE_DEV_ID_MAX + 1], path[96];

	hotplug_reset(vmm->hotplug);
	for (unsigned int slot = 1; slot < MACHINE_SLOTS; slot++) {
		pthread_mutex_lock(&vmm->dev_lock);
		if (vmm->devs[slot].state != MACHINE_DEV_UNPLUGGING) {
			pthread_mutex_unlock(&vmm->dev_lock);
			continue;
		}
		pci_host_remove(vmm->pci, PCI_DEVFN(slot, 0));
		machine_dev_release(vmm, slot, id, path);
		pthread_mutex_unlock(&vmm->dev_lock);
		machine_dev_deleted_event(vmm, id, path);
	}
}

void machine_hotplug_free(struct vmm *vmm)
{
	/* The devices themselves go with the passthrough host, newest first. */
	for (unsigned int slot = 1; slot < MACHINE_SLOTS; slot++) {
		if (vmm->devs[slot].state != MACHINE_DEV_FREE)
			pci_host_remove(vmm->pci, PCI_DEVFN(slot, 0));
		memset(&vmm->devs[slot], 0, sizeof(vmm->devs[slot]));
	}
	hotplug_free(vmm->hotplug);
	vmm->hotplug = NULL;
}

/* ---- What the guest sees, for query-pci ---- */

static uint32_t cfg_rd(struct vmm *vmm, unsigned int slot, unsigned int off, unsigned int len)
{
	return pci_host_cfg_read(vmm->pci, 0, PCI_DEVFN(slot, 0), off, len);
}

static void machine_pci_bars(struct vmm *vmm, unsigned int slot, struct vmm_pci_info *p,
			     struct passthrough_device *dev)
{
	struct vfio_sys *sys = vfio_ctx_sys(passthrough_host_ctx(vmm->pt));
	int fd = vfio_device_fd(passthrough_device_vfio(dev));

	for (int i = 0; i < VMM_PCI_BARS; i++) {
		uint32_t lo = cfg_rd(vmm, slot, PCI_BASE_ADDRESS_0 + 4 * i, 4);
		struct vmm_pci_bar *b = &p->bars[i];
		struct vfio_region r;

		if (vfio_devfd_get_region(sys, fd, VFIO_PCI_BAR0_REGION_INDEX + i, &r))
			continue;
		b->size = r.size;
		vfio_region_release(&r);
		if (!b->size)
			continue;
		b->io = lo & PCI_BASE_ADDRESS_SPACE_IO;
		if (b->io) {
			b->addr = lo & PCI_BASE_ADDRESS_IO_MASK;
			continue;
		}
		b->prefetch = lo & PCI_BASE_ADDRESS_MEM_PREFETCH;
		b->mem64 = (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
		b->addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
		if (b->mem64 && i + 1 < VMM_PCI_BARS) {
			b->addr |= (uint64_t)cfg_rd(vmm, slot, PCI_BASE_ADDRESS_0 + 4 * (i + 1), 4)
				   << 32;
			i++;
		}
	}
}

static void machine_pci_fill(struct vmm *vmm, unsigned int slot, struct vmm_pci_info *p)
{
	uint32_t v;

	memset(p, 0, sizeof(*p));
	p->slot = slot;
	v = cfg_rd(vmm, slot, PCI_VENDOR_ID, 4);
	p->vendor = v;
	p->device = v >> 16;
	v = cfg_rd(vmm, slot, PCI_CLASS_REVISION, 4);
	p->revision = v;
	p->class_code = v >> 8;
	v = cfg_rd(vmm, slot, PCI_SUBSYSTEM_VENDOR_ID, 4);
	p->subsystem_vendor = v;
	p->subsystem = v >> 16;
	p->irq_line = cfg_rd(vmm, slot, PCI_INTERRUPT_LINE, 1);
	p->irq_pin = cfg_rd(vmm, slot, PCI_INTERRUPT_PIN, 1);
}

int vmm_pci_list(struct vmm *vmm, struct vmm_pci_info **out, size_t *nr)
{
	struct vmm_pci_info *list = calloc(MACHINE_SLOTS, sizeof(*list));
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	pthread_mutex_lock(&vmm->dev_lock);
	for (unsigned int slot = 0; slot < MACHINE_SLOTS; slot++) {
		struct machine_dev *d = &vmm->devs[slot];
		struct vmm_pci_info *p = &list[n];

		if (slot && d->state == MACHINE_DEV_FREE)
			continue;
		if (cfg_rd(vmm, slot, PCI_VENDOR_ID, 2) == 0xffff)
			continue;
		machine_pci_fill(vmm, slot, p);
		if (slot) {
			p->is_device = true;
			p->unplug_pending = d->state == MACHINE_DEV_UNPLUGGING;
			snprintf(p->id, sizeof(p->id), "%s", d->id);
			snprintf(p->path, sizeof(p->path), "%s", d->path);
			snprintf(p->driver, sizeof(p->driver), "%s", d->driver);
			snprintf(p->host, sizeof(p->host), "%s", passthrough_device_host(d->pt));
			machine_pci_bars(vmm, slot, p, d->pt);
		}
		n++;
	}
	pthread_mutex_unlock(&vmm->dev_lock);
	*out = list;
	*nr = n;
	return 0;
}
