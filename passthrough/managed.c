// SPDX-License-Identifier: GPL-2.0-only
/*
 * managed=on: the host device is moved to vfio-pci before the attach and
 * back to its driver after the remove, so that the driver after equals the
 * driver before (libvirt's <hostdev managed='yes'>).
 *
 * Two ways, one at a time per host:
 *  - sysfs through vfio/ (vfio_bind_*), when no libvirt connection is given;
 *  - libvirt's public node-device API when -libvirt-uri is given, so that
 *    libvirt's own bookkeeping (its list of detached devices) stays right.
 * In both, libvirt's IOMMU group check runs first: it only reads sysfs, and
 * refusing before anything moves is what keeps a failed add side-effect free.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "passthrough/priv.h"

/* libvirt's node device name of a PCI device: "pci_0000_00_03_0". */
static void pt_managed_nodedev_name(const char *bdf, char *buf, size_t len)
{
	snprintf(buf, len, "pci_%s", bdf);
	for (char *c = buf; *c; c++)
		if (*c == ':' || *c == '.')
			*c = '_';
}

static const char *pt_managed_virt_msg(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

/* libvirt prints errors to stderr by default; ferry reports them itself. */
static void pt_managed_virt_quiet(void *data, virErrorPtr e)
{
}

static int pt_managed_virt_open(const char *uri, const char *bdf, const char *name,
				virConnectPtr *conn, virNodeDevicePtr *dev, char *err,
				size_t errlen)
{
	virSetErrorFunc(NULL, pt_managed_virt_quiet);
	*conn = virConnectOpen(uri);
	if (!*conn) {
		snprintf(err, errlen, "-device host=%s,managed=on: cannot connect to libvirt at "
			 "%s: %s", bdf, uri, pt_managed_virt_msg());
		return -ECONNREFUSED;
	}
	*dev = virNodeDeviceLookupByName(*conn, name);
	if (!*dev) {
		snprintf(err, errlen, "-device host=%s,managed=on: libvirt at %s has no node "
			 "device %s: %s (virsh nodedev-list --cap pci lists them)", bdf, uri,
			 name, pt_managed_virt_msg());
		virConnectClose(*conn);
		return -ENOENT;
	}
	return 0;
}

static int pt_managed_virt_detach(const char *uri, const char *bdf, char *err, size_t errlen)
{
	virConnectPtr conn;
	virNodeDevicePtr dev;
	char name[32];
	int ret;

	pt_managed_nodedev_name(bdf, name, sizeof(name));
	ret = pt_managed_virt_open(uri, bdf, name, &conn, &dev, err, errlen);
	if (ret)
		return ret;
	if (virNodeDeviceDetachFlags(dev, "vfio", 0) < 0) {
		snprintf(err, errlen, "-device host=%s,managed=on: libvirt could not detach %s "
			 "to vfio: %s", bdf, name, pt_managed_virt_msg());
		ret = -EIO;
	}
	virNodeDeviceFree(dev);
	virConnectClose(conn);
	return ret;
}

static int pt_managed_virt_reattach(const char *uri, const char *bdf, char *err,
				    size_t errlen)
{
	virConnectPtr conn;
	virNodeDevicePtr dev;
	char name[32];
	int ret;

	pt_managed_nodedev_name(bdf, name, sizeof(name));
	ret = pt_managed_virt_open(uri, bdf, name, &conn, &dev, err, errlen);
	if (ret)
		return ret;
	if (virNodeDeviceReAttach(dev) < 0) {
		snprintf(err, errlen, "-device host=%s,managed=on: libvirt could not reattach %s "
			 "to its host driver: %s", bdf, name, pt_managed_virt_msg());
		ret = -EIO;
	}
	virNodeDeviceFree(dev);
	virConnectClose(conn);
	return ret;
}

int pt_managed_prepare(const struct passthrough_vm_config *cfg, const struct passthrough_opts *opts,
		       struct pt_managed *m, char *err, size_t errlen)
{
	struct vfio_err verr = { 0 };
	struct vfio_bdf bdf;
	int ret;

	memset(m, 0, sizeof(*m));
	if (!opts->managed)
		return 0;
	ret = vfio_bdf_parse(opts->host, &bdf, &verr);
	if (ret) {
		snprintf(err, errlen, "-device host=%s: %s", opts->host, verr.msg);
		return ret;
	}
	ret = vfio_bind_check_group(cfg->sys, &bdf, &verr);
	if (ret) {
		snprintf(err, errlen, "-device host=%s,managed=on: %s", opts->host, verr.msg);
		return ret;
	}
	if (cfg->libvirt_uri) {
		ret = pt_managed_virt_detach(cfg->libvirt_uri, opts->host, err, errlen);
		if (ret)
			return ret;
		m->libvirt = true;
	} else {
		ret = vfio_bind_vfio_pci(cfg->sys, &bdf, &m->bind, &verr);
		if (ret) {
			snprintf(err, errlen, "-device host=%s,managed=on: %s", opts->host,
				 verr.msg);
			return ret;
		}
	}
	m->active = true;
	return 0;
}

int pt_managed_release(const struct passthrough_vm_config *cfg,
		       const struct passthrough_opts *opts, struct pt_managed *m, char *err,
		       size_t errlen)
{
	struct vfio_err verr = { 0 };
	int ret = 0;

	if (!m->active)
		return 0;
	m->active = false;
	if (m->libvirt)
		return pt_managed_virt_reattach(cfg->libvirt_uri, opts->host, err, errlen);
	ret = vfio_bind_restore(cfg->sys, &m->bind, &verr);
	if (ret)
		snprintf(err, errlen, "-device host=%s,managed=on: %s", opts->host, verr.msg);
	return ret;
}
