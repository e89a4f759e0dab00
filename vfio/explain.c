// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a person is told when the host is not ready for passthrough: the
 * device's driver, the group's other devices, the process holding a group.
 * Each message says what is wrong and the commands that fix it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

bool vfio_driver_is_vfio(const char *driver)
{
	size_t n = strlen(driver);

	/* vfio-pci itself or a vendor variant of it (mlx5_vfio_pci, ...). */
	return !strcmp(driver, "vfio-pci") ||
	       (n > 9 && !strcmp(driver + n - 9, "_vfio_pci"));
}

/* The three commands that hand @name to vfio-pci. */
static void explain_rebind(struct vfio_err *err, const char *name, const char *driver)
{
	vfio_err_append(err, "\n  echo vfio-pci > /sys/bus/pci/devices/%s/driver_override", name);
	if (driver && *driver)
		vfio_err_append(err, "\n  echo %s > /sys/bus/pci/devices/%s/driver/unbind", name,
				name);
	vfio_err_append(err, "\n  echo %s > /sys/bus/pci/drivers_probe", name);
}

int vfio_explain_driver(struct vfio_sys *sys, const char *name, const char *driver,
			struct vfio_err *err)
{
	if (*driver)
		vfio_err_set(err, -EINVAL,
			     "device %s is bound to driver %s, not vfio-pci. Hand it to vfio-pci "
			     "(the host loses the device; `modprobe vfio-pci` first if needed):",
			     name, driver);
	else
		vfio_err_set(err, -EINVAL,
			     "device %s is not bound to any driver; it must be bound to vfio-pci "
			     "(`modprobe vfio-pci` first if needed):", name);
	explain_rebind(err, name, driver);
	return -EINVAL;
}

int vfio_explain_not_viable(struct vfio_sys *sys, unsigned int group, struct vfio_err *err)
{
	struct vfio_bdf bdfs[64];
	int n;

	vfio_err_set(err, -EPERM,
		     "IOMMU group %u is not viable: every device in it must be bound to vfio-pci "
		     "or to no driver, because devices of one group can reach each other's DMA.",
		     group);
	n = vfio_host_group_devices(sys, group, bdfs, sizeof(bdfs) / sizeof(bdfs[0]));
	if (n < 0) {
		vfio_err_append(err, " (cannot list /sys/kernel/iommu_groups/%u/devices: %s)",
				group, strerror(-n));
		return -EPERM;
	}
	vfio_err_append(err, " Its devices:");
	for (int i = 0; i < n && i < (int)(sizeof(bdfs) / sizeof(bdfs[0])); i++) {
		char name[VFIO_BDF_STRLEN], driver[64];
		int ret;

		vfio_bdf_format(&bdfs[i], name, sizeof(name));
		ret = vfio_host_device_driver(sys, &bdfs[i], driver, sizeof(driver));
		if (ret)
			snprintf(driver, sizeof(driver), "? (%s)", strerror(-ret));
		vfio_err_append(err, "\n  %s: %s", name, *driver ? driver : "no driver");
		if (!ret && *driver && !vfio_driver_is_vfio(driver))
			vfio_err_append(err, " <- not allowed");
	}
	for (int i = 0; i < n && i < (int)(sizeof(bdfs) / sizeof(bdfs[0])); i++) {
		char name[VFIO_BDF_STRLEN], driver[64];

		vfio_bdf_format(&bdfs[i], name, sizeof(name));
		if (vfio_host_device_driver(sys, &bdfs[i], driver, sizeof(driver)) ||
		    !*driver || vfio_driver_is_vfio(driver))
			continue;
		vfio_err_append(err, "\nRebind %s (from %s) to vfio-pci:", name, driver);
		explain_rebind(err, name, driver);
	}
	return -EPERM;
}

/* Names the process holding @path, or says why it cannot. */
static void explain_holder(struct vfio_sys *sys, const char *path, struct vfio_err *err,
			   bool *found)
{
	char comm[64];
	pid_t pid;
	int ret;

	ret = vfio_host_find_holder(sys, path, &pid, comm, sizeof(comm));
	if (ret == 1) {
		vfio_err_append(err, " by process %d (%s) through %s", (int)pid, comm, path);
		*found = true;
	} else if (ret < 0 && !*found) {
		vfio_err_append(err, " (cannot tell by whom: reading /proc failed: %s)",
				strerror(-ret));
		*found = true;	/* one explanation is enough */
	}
}

int vfio_explain_open(struct vfio_sys *sys, unsigned int group, const char *path,
		      int errnum, struct vfio_err *err)
{
	char *list = NULL;
	bool found = false;
	ssize_t n;

	switch (errnum) {
	case -ENOENT:
		n = vfio_host_readdir_all(sys, "/dev/vfio", &list);
		free(list);
		if (n == -ENOENT)
			return vfio_err_set(err, errnum,
					    "/dev/vfio does not exist: the vfio-pci driver is not "
					    "loaded. Load it with `modprobe vfio-pci` and bind the "
					    "device to it");
		return vfio_err_set(err, errnum,
				    "%s does not exist although its device is bound to vfio-pci: "
				    "the kernel made no node for IOMMU group %u (a no-IOMMU group "
				    "is /dev/vfio/noiommu-N; check `ls /dev/vfio` and "
				    "`dmesg | grep -i vfio`)", path, group);
	case -EBUSY: {
		char gpath[32];
		struct vfio_bdf bdfs[64];
		int nd;

		snprintf(gpath, sizeof(gpath), "/dev/vfio/%u", group);
		vfio_err_set(err, errnum, "IOMMU group %u is in use", group);
		explain_holder(sys, gpath, err, &found);
		/* The group and its devices' cdevs exclude each other. */
		nd = vfio_host_group_devices(sys, group, bdfs, sizeof(bdfs) / sizeof(bdfs[0]));
		for (int i = 0; i < nd && i < 64 && !found; i++) {
			char cdev[32], cpath[64];

			if (vfio_host_device_cdev(sys, &bdfs[i], cdev, sizeof(cdev)))
				continue;
			snprintf(cpath, sizeof(cpath), "/dev/vfio/devices/%s", cdev);
			explain_holder(sys, cpath, err, &found);
		}
		if (!found)
			vfio_err_append(err,
					" by another process that /proc does not show (another PID "
					"namespace or user?)");
		vfio_err_append(err,
				". A group can be open in one process only: stop that process "
				"or hot-unplug the device from it first");
		return errnum;
	}
	case -EACCES:
	case -EPERM:
		return vfio_err_set(err, errnum,
				    "no permission to open %s: run ferry as root, or give its user "
				    "the node (`chown <user> %s`, as libvirt does)", path, path);
	default:
		return vfio_err_set(err, errnum, "opening %s: %s", path, strerror(-errnum));
	}
}
