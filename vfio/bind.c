// SPDX-License-Identifier: GPL-2.0-only
/*
 * Managed binding: moving a host device to vfio-pci before ferry uses it and
 * back to its own driver afterwards, through sysfs, as libvirt's nodedev
 * detach/reattach do.  driver_override (not new_id) is the mechanism because
 * it applies to this one device only: other devices with the same ids stay
 * with their driver.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

#define PCI_BUS "/sys/bus/pci"

bool vfio_bind_driver_is_user(const char *driver)
{
	return !strcmp(driver, "vfio-pci") || !strcmp(driver, "pci-stub");
}

/* Writes @text to sysfs file @path in one write (sysfs acts on each write). */
static int bind_write(struct vfio_sys *sys, const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, ret;

	fd = sys->open(sys, path, O_WRONLY);
	if (fd < 0)
		return fd;
	n = sys->pwrite(sys, fd, text, len, 0);
	ret = n < 0 ? (int)n : (size_t)n != len ? -EIO : 0;
	sys->close(sys, fd);
	return ret;
}

static bool bind_is_bridge(struct vfio_sys *sys, const char *bdfs)
{
	char path[PATH_MAX], text[32];
	unsigned long class;
	char *end;

	snprintf(path, sizeof(path), PCI_BUS "/devices/%s/class", bdfs);
	if (vfio_host_read_text(sys, path, text, sizeof(text)))
		return false;
	class = strtoul(text, &end, 16);
	return end != text && (class >> 8) == 0x0604;
}

int vfio_bind_check_group(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			  struct vfio_err *err)
{
	char name[VFIO_BDF_STRLEN], other[VFIO_BDF_STRLEN], drv[64], path[64], comm[32];
	struct vfio_bdf members[64];
	unsigned int group;
	pid_t pid;
	int n, ret;

	vfio_bdf_format(bdf, name, sizeof(name));
	ret = vfio_host_device_group(sys, bdf, &group);
	if (ret == -ENOENT)
		return vfio_err_set(err, ret,
				    "%s has no IOMMU group: the host has no IOMMU enabled "
				    "(boot with intel_iommu=on or amd_iommu=on) or no such device",
				    name);
	if (ret)
		return vfio_err_set(err, ret, "cannot read the IOMMU group of %s: %s", name,
				    strerror(-ret));
	n = vfio_host_group_devices(sys, group, members, 64);
	if (n < 0)
		return vfio_err_set(err, n, "cannot list IOMMU group %u: %s", group,
				    strerror(-n));
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++) {
		if (vfio_bdf_equal(&members[i], bdf))
			continue;
		vfio_bdf_format(&members[i], other, sizeof(other));
		ret = vfio_host_device_driver(sys, &members[i], drv, sizeof(drv));
		if (ret)
			return vfio_err_set(err, ret, "cannot read the driver of %s: %s", other,
					    strerror(-ret));
		if (!*drv || vfio_bind_driver_is_user(drv) || bind_is_bridge(sys, other))
			continue;
		return vfio_err_set(err, -EBUSY,
				    "%s shares IOMMU group %u with %s, which the host driver %s "
				    "still uses: a group goes to a VM whole. Unbind %s from %s "
				    "(or pass it through too) first",
				    name, group, other, drv, other, drv);
	}
	snprintf(path, sizeof(path), "/dev/vfio/%u", group);
	ret = vfio_host_find_holder(sys, path, &pid, comm, sizeof(comm));
	if (ret > 0)
		return vfio_err_set(err, -EBUSY,
				    "%s is in use: IOMMU group %u (%s) is held by process %d (%s), "
				    "another VM or VFIO user; stop it or detach the device there",
				    name, group, path, (int)pid, comm);
	return 0;
}

/* Reads @bdfs's driver into @drv; "" when unbound. */
static int bind_driver(struct vfio_sys *sys, const struct vfio_bdf *bdf, char *drv, size_t len)
{
	return vfio_host_device_driver(sys, bdf, drv, len);
}

/*
 * Back to @orig.  driver_override is set to @orig for the probe, so that
 * only @orig can take the device (without it the probe would give it to
 * whichever driver matches first: the native driver of a device that was on
 * pci-stub, say), and cleared afterwards so later probes are the kernel's
 * usual ones.  A device that was unbound is only unbound.  Each step is
 * tried even when one before failed, and a second call finishes what a
 * failed one left: the aim is the original state, and the first failure is
 * what is returned.
 */
static int bind_return(struct vfio_sys *sys, const char *name, const struct vfio_bdf *bdf,
		       const char *orig)
{
	char path[PATH_MAX], drv[64];
	int ret, first = 0;

	snprintf(path, sizeof(path), PCI_BUS "/devices/%s/driver_override", name);
	if (*orig) {
		ret = bind_write(sys, path, orig);
		if (ret)
			return ret;
	}
	ret = bind_driver(sys, bdf, drv, sizeof(drv));
	if (ret)
		return ret;
	if (*drv && strcmp(drv, orig)) {
		char unbind[PATH_MAX];

		snprintf(unbind, sizeof(unbind), PCI_BUS "/drivers/%s/unbind", drv);
		ret = bind_write(sys, unbind, name);
		if (ret)
			return ret;
		*drv = '\0';
	}
	if (!*drv && *orig) {
		ret = bind_write(sys, PCI_BUS "/drivers_probe", name);
		first = first ?: ret;
	}
	ret = bind_write(sys, path, "\n");
	first = first ?: ret;
	ret = bind_driver(sys, bdf, drv, sizeof(drv));
	if (ret)
		return first ?: ret;
	return first ?: strcmp(drv, orig) ? -EIO : 0;
}

int vfio_bind_vfio_pci(struct vfio_sys *sys, const struct vfio_bdf *bdf, struct vfio_bind *b,
		       struct vfio_err *err)
{
	char name[VFIO_BDF_STRLEN], path[PATH_MAX], drv[64];
	const char *step;
	int ret;

	memset(b, 0, sizeof(*b));
	b->bdf = *bdf;
	vfio_bdf_format(bdf, name, sizeof(name));
	ret = bind_driver(sys, bdf, b->orig_driver, sizeof(b->orig_driver));
	if (ret)
		return vfio_err_set(err, ret, "cannot read the driver of %s: %s", name,
				    strerror(-ret));
	if (!strcmp(b->orig_driver, "vfio-pci"))
		return 0;

	step = "writing vfio-pci to driver_override";
	snprintf(path, sizeof(path), PCI_BUS "/devices/%s/driver_override", name);
	ret = bind_write(sys, path, "vfio-pci");
	if (ret)
		goto err_restore;
	if (*b->orig_driver) {
		step = "unbinding the current driver";
		snprintf(path, sizeof(path), PCI_BUS "/drivers/%s/unbind", b->orig_driver);
		ret = bind_write(sys, path, name);
		if (ret)
			goto err_restore;
	}
	step = "probing (drivers_probe)";
	ret = bind_write(sys, PCI_BUS "/drivers_probe", name);
	if (ret)
		goto err_restore;
	step = "reading the driver after the probe";
	ret = bind_driver(sys, bdf, drv, sizeof(drv));
	if (ret)
		goto err_restore;
	if (strcmp(drv, "vfio-pci")) {
		ret = -ENODEV;
		step = "checking the probe bound vfio-pci (is the vfio-pci module loaded? "
		       "modprobe vfio-pci)";
		goto err_restore;
	}
	b->changed = true;
	return 0;

err_restore:
	if (bind_return(sys, name, bdf, b->orig_driver))
		return vfio_err_set(err, ret,
				    "binding %s to vfio-pci failed at %s: %s; returning it to "
				    "%s failed too: check /sys/bus/pci/devices/%s/driver",
				    name, step, strerror(-ret),
				    *b->orig_driver ? b->orig_driver : "no driver", name);
	return vfio_err_set(err, ret, "binding %s to vfio-pci failed at %s: %s; it is back on %s",
			    name, step, strerror(-ret),
			    *b->orig_driver ? b->orig_driver : "no driver");
}

int vfio_bind_restore(struct vfio_sys *sys, const struct vfio_bind *b, struct vfio_err *err)
{
	char name[VFIO_BDF_STRLEN];
	int ret;

	if (!b->changed)
		return 0;
	vfio_bdf_format(&b->bdf, name, sizeof(name));
	ret = bind_return(sys, name, &b->bdf, b->orig_driver);
	if (ret)
		return vfio_err_set(err, ret,
				    "returning %s from vfio-pci to %s failed: %s; check "
				    "/sys/bus/pci/devices/%s/driver and bind it by hand",
				    name, *b->orig_driver ? b->orig_driver : "no driver",
				    strerror(-ret), name);
	return 0;
}
