// SPDX-License-Identifier: GPL-2.0-only
/*
 * Devices and their groups: the full attach and detach.
 *
 * Ownership mirrors the kernel (seed 003): a device holds its group, a group
 * holds the ctx's container.  There is one struct vfio_group per group id
 * (a group node has one opener), counted by the devices using it.
 *
 * Attach is all or nothing: each step that changed something is undone, in
 * reverse, when a later one fails.  Detach never stops half way: it releases
 * everything it can, in the kernel's order, and reports the first failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

/* @given_fd: a pre-opened /dev/vfio/@id (-1: open it here); consumed either way. */
static int group_get(struct vfio_ctx *ctx, unsigned int id, int given_fd,
		     struct vfio_group **out, struct vfio_err *err)
{
	struct vfio_sys *sys = ctx->sys;
	struct vfio_group *g;
	char path[32];
	uint32_t flags;
	int ret;

	for (g = ctx->groups; g; g = g->next) {
		if (g->id == id) {
			if (given_fd >= 0)
				sys->close(sys, given_fd);
			g->refs++;
			*out = g;
			return 0;
		}
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		if (given_fd >= 0)
			sys->close(sys, given_fd);
		return vfio_err_set(err, -ENOMEM, "out of memory");
	}
	g->ctx = ctx;
	g->id = id;
	snprintf(path, sizeof(path), "/dev/vfio/%u", id);
	ret = given_fd >= 0 ? given_fd : vfio_group_open(sys, id);
	if (ret < 0) {
		vfio_explain_open(sys, id, path, ret, err);
		goto err_free;
	}
	g->fd = ret;
	/* Nothing else may happen to a group that is not viable. */
	ret = vfio_group_get_status(sys, g->fd, &flags);
	if (ret && given_fd >= 0) {
		vfio_err_set(err, ret, "the fd given for group %u is not a VFIO group "
			     "(VFIO_GROUP_GET_STATUS: %s): pass an fd of %s", id, strerror(-ret),
			     path);
		goto err_close;
	}
	if (ret) {
		vfio_err_set(err, ret, "VFIO_GROUP_GET_STATUS of group %u: %s", id, strerror(-ret));
		goto err_close;
	}
	if (!(flags & VFIO_GROUP_FLAGS_VIABLE)) {
		ret = vfio_explain_not_viable(sys, id, err);
		goto err_close;
	}
	ret = vfio_ctx_container_join(ctx, g->fd, id, err);
	if (ret)
		goto err_close;
	/*
	 * Registered before any device fd exists: a device picks up the
	 * group's KVM when it is first opened.
	 */
	if (ctx->opts.vm_fd >= 0) {
		ret = vfio_ctx_kvm_get(ctx, err);
		if (ret < 0)
			goto err_leave;
		ret = vfio_kvm_file_add(sys, ctx->kvm_fd, g->fd);
		if (ret) {
			vfio_err_set(err, ret, "registering group %u with kvm-vfio "
				     "(KVM_DEV_VFIO_FILE_ADD): %s", id, strerror(-ret));
			goto err_leave;
		}
		g->kvm_added = true;
	}
	g->refs = 1;
	g->next = ctx->groups;
	ctx->groups = g;
	*out = g;
	return 0;

err_leave:
	vfio_ctx_container_leave(ctx, g->fd, NULL);
err_close:
	sys->close(sys, g->fd);
	vfio_ctx_container_put(ctx);
err_free:
	free(g);
	return ret;
}

/* Keeps the first error: it is the one that explains the rest. */
static void keep_first(int *first, int ret)
{
	if (ret && !*first)
		*first = ret;
}

static int group_put(struct vfio_group *g, struct vfio_err *err)
{
	struct vfio_ctx *ctx = g->ctx;
	struct vfio_sys *sys = ctx->sys;
	struct vfio_group **pp;
	int ret = 0, r;

	if (--g->refs)
		return 0;
	for (pp = &ctx->groups; *pp != g; pp = &(*pp)->next)
		;
	*pp = g->next;
	if (g->kvm_added) {
		/* On failure KVM keeps a reference to the group file until the VM goes. */
		r = vfio_kvm_file_del(sys, ctx->kvm_fd, g->fd);
		if (r && !ret)
			ret = vfio_err_set(err, r, "dropping group %u from kvm-vfio "
					   "(KVM_DEV_VFIO_FILE_DEL): %s; KVM keeps the group "
					   "until the VM exits", g->id, strerror(-r));
	}
	keep_first(&ret, vfio_ctx_container_leave(ctx, g->fd, ret ? NULL : err));
	r = sys->close(sys, g->fd);
	if (r && !ret)
		ret = vfio_err_set(err, r, "closing group %u: %s", g->id, strerror(-r));
	r = vfio_ctx_container_put(ctx);
	if (r && !ret)
		ret = vfio_err_set(err, r, "closing the VFIO container: %s", strerror(-r));
	free(g);
	return ret;
}

/* BDF -> canonical name, ids checked, driver is vfio-pci, group id. */
static int device_resolve(struct vfio_ctx *ctx, const char *bdfs, struct vfio_device *dev,
			  struct vfio_err *err)
{
	struct vfio_sys *sys = ctx->sys;
	uint16_t vendor, device;
	char driver[64];
	int ret;

	ret = vfio_bdf_parse(bdfs, &dev->bdf, err);
	if (ret)
		return ret;
	vfio_bdf_format(&dev->bdf, dev->name, sizeof(dev->name));
	ret = vfio_host_device_ids(sys, &dev->bdf, &vendor, &device);
	if (ret == -ENOENT)
		return vfio_err_set(err, ret,
				    "no PCI device %s on this host (/sys/bus/pci/devices/%s does "
				    "not exist); `lspci -D` lists the devices", dev->name,
				    dev->name);
	if (ret)
		return vfio_err_set(err, ret, "reading the ids of %s in sysfs: %s", dev->name,
				    strerror(-ret));
	ret = vfio_host_device_driver(sys, &dev->bdf, driver, sizeof(driver));
	if (ret)
		return vfio_err_set(err, ret, "reading the driver of %s in sysfs: %s", dev->name,
				    strerror(-ret));
	if (!vfio_driver_is_vfio(driver))
		return vfio_explain_driver(sys, dev->name, driver, err);
	ret = vfio_host_device_group(sys, &dev->bdf, &dev->group_id);
	if (ret == -ENOENT)
		return vfio_err_set(err, ret,
				    "device %s has no IOMMU group: the host IOMMU is off. Enable "
				    "VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (or "
				    "amd_iommu=on); `dmesg | grep -i -e DMAR -e IOMMU` shows its "
				    "state", dev->name);
	if (ret)
		return vfio_err_set(err, ret, "reading the IOMMU group of %s: %s", dev->name,
				    strerror(-ret));
	return 0;
}

static bool attach_has_group(struct vfio_ctx *ctx, unsigned int id)
{
	for (struct vfio_group *g = ctx->groups; g; g = g->next) {
		if (g->id == id)
			return true;
	}
	return false;
}

/* @group_fd: a pre-opened group (-1: open it here); consumed either way. */
static int device_attach_group(struct vfio_ctx *ctx, struct vfio_device *dev, int group_fd,
			       struct vfio_err *err)
{
	struct vfio_sys *sys = ctx->sys;
	bool given = group_fd >= 0 && !attach_has_group(ctx, dev->group_id);
	int ret;

	ret = group_get(ctx, dev->group_id, group_fd, &dev->group, err);
	if (ret)
		return ret;
	ret = vfio_group_get_device_fd(sys, dev->group->fd, dev->name);
	if (ret < 0 && given) {
		vfio_err_set(err, ret, "getting device %s from the group fd given "
			     "(VFIO_GROUP_GET_DEVICE_FD): %s; is that fd /dev/vfio/%u, the "
			     "device's group?", dev->name, strerror(-ret), dev->group_id);
		goto err_put;
	}
	if (ret < 0) {
		vfio_err_set(err, ret, "getting device %s from group %u "
			     "(VFIO_GROUP_GET_DEVICE_FD): %s", dev->name, dev->group_id,
			     strerror(-ret));
		goto err_put;
	}
	dev->fd = ret;
	ret = vfio_devfd_get_info(sys, dev->fd, &dev->info);
	if (ret) {
		vfio_err_set(err, ret, "VFIO_DEVICE_GET_INFO of %s: %s", dev->name,
			     strerror(-ret));
		goto err_close;
	}
	return 0;

err_close:
	sys->close(sys, dev->fd);
err_put:
	group_put(dev->group, NULL);
	return ret;
}

/* Whether a member of IOMMU group @group is bound to a driver other than vfio's. */
static bool attach_group_on_host_driver(struct vfio_sys *sys, unsigned int group)
{
	struct vfio_bdf bdfs[64];
	int n = vfio_host_group_devices(sys, group, bdfs, sizeof(bdfs) / sizeof(bdfs[0]));

	for (int i = 0; i < n && i < (int)(sizeof(bdfs) / sizeof(bdfs[0])); i++) {
		char driver[64];

		if (!vfio_host_device_driver(sys, &bdfs[i], driver, sizeof(driver)) && *driver &&
		    !vfio_driver_is_vfio(driver))
			return true;
	}
	return false;
}

/* @cdev_fd: a pre-opened cdev (-1: open it here); closed on failure either way. */
static int device_attach_cdev(struct vfio_ctx *ctx, struct vfio_device *dev, int cdev_fd,
			      struct vfio_err *err)
{
	struct vfio_sys *sys = ctx->sys;
	char cdev[32], path[64];
	int ret;

	/* The IOAS first: without iommufd nothing else of this backend can work. */
	ret = vfio_ctx_ioas_get(ctx, err);
	if (ret) {
		if (cdev_fd >= 0)
			sys->close(sys, cdev_fd);
		return ret;
	}
	if (cdev_fd >= 0) {
		snprintf(path, sizeof(path), "the cdev fd %d", cdev_fd);
		dev->fd = cdev_fd;
		goto opened;
	}
	ret = vfio_host_device_cdev(sys, &dev->bdf, cdev, sizeof(cdev));
	if (ret) {
		if (ret == -ENOENT)
			vfio_err_set(err, ret, "device %s has no VFIO cdev "
				     "(/sys/bus/pci/devices/%s/vfio-dev): the kernel lacks "
				     "CONFIG_VFIO_DEVICE_CDEV; use the container backend",
				     dev->name, dev->name);
		else
			vfio_err_set(err, ret, "finding the VFIO cdev of %s: %s", dev->name,
				     strerror(-ret));
		goto err_put;
	}
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	ret = vfio_devfd_open_cdev(sys, cdev);
	if (ret < 0) {
		vfio_explain_open(sys, dev->group_id, path, ret, err);
		goto err_put;
	}
	dev->fd = ret;
opened:
	/* kvm-vfio must know the device before it is bound (the kernel's rule). */
	if (ctx->opts.vm_fd >= 0) {
		ret = vfio_ctx_kvm_get(ctx, err);
		if (ret < 0)
			goto err_close;
		ret = vfio_kvm_file_add(sys, ctx->kvm_fd, dev->fd);
		if (ret) {
			if (ret == -EINVAL || ret == -EBADF)
				vfio_err_set(err, ret,
					     "kvm-vfio refused the cdev of %s "
					     "(KVM_DEV_VFIO_FILE_ADD: %s): kernels before 6.6 "
					     "accept only group fds there. "
					     "Use the container backend on this kernel", dev->name,
					     strerror(-ret));
			else
				vfio_err_set(err, ret, "registering %s with kvm-vfio: %s",
					     dev->name, strerror(-ret));
			goto err_close;
		}
		dev->kvm_added = true;
	}
	ret = vfio_devfd_bind_iommufd(sys, dev->fd, ctx->container_fd, &dev->dev_id);
	if (ret) {
		/*
		 * The cdev opens freely; the group's single owner and its
		 * viability (no member on a host driver) are enforced here.
		 * The group node path checks GET_STATUS first; this path has
		 * no group node, so sysfs says whether it was viability.
		 */
		if ((ret == -EPERM || ret == -EBUSY) && attach_group_on_host_driver(sys,
										      dev->group_id))
			vfio_explain_not_viable(sys, dev->group_id, err);
		else if (ret == -EBUSY)
			vfio_explain_open(sys, dev->group_id, path, ret, err);
		else
			vfio_err_set(err, ret, "binding %s to the iommufd "
				     "(VFIO_DEVICE_BIND_IOMMUFD): %s", dev->name, strerror(-ret));
		goto err_kvm;
	}
	dev->bound = true;
	ret = vfio_devfd_attach_pt(sys, dev->fd, ctx->ioas_id);
	if (ret) {
		if (ret == -EADDRINUSE || ret == -EINVAL)
			vfio_err_set(err, ret,
				     "attaching %s to the IOAS failed (%s): guest RAM overlaps an "
				     "IOVA range the device reserves (e.g. the MSI window "
				     "0xfee00000-0xfeefffff on x86); lay guest RAM out around it",
				     dev->name, strerror(-ret));
		else
			vfio_err_set(err, ret, "attaching %s to the IOAS "
				     "(VFIO_DEVICE_ATTACH_IOMMUFD_PT): %s", dev->name,
				     strerror(-ret));
		goto err_kvm;
	}
	dev->attached = true;
	ret = vfio_devfd_get_info(sys, dev->fd, &dev->info);
	if (ret) {
		vfio_err_set(err, ret, "VFIO_DEVICE_GET_INFO of %s: %s", dev->name,
			     strerror(-ret));
		goto err_detach;
	}
	/* Last: the device's reserved regions now shrink what RAM may use. */
	ret = vfio_ctx_ioas_refresh(ctx, err);
	if (ret)
		goto err_detach;
	return 0;

err_detach:
	vfio_devfd_detach_pt(sys, dev->fd);
	dev->attached = false;
err_kvm:
	if (dev->kvm_added)
		vfio_kvm_file_del(sys, ctx->kvm_fd, dev->fd);
	dev->kvm_added = false;
err_close:
	/* Closing the cdev unbinds it from the iommufd. */
	sys->close(sys, dev->fd);
	dev->bound = false;
err_put:
	vfio_ctx_ioas_put(ctx, NULL);
	return ret;
}

int vfio_device_attach(struct vfio_ctx *ctx, const char *bdfs,
		       const struct vfio_attach_opts *opts, struct vfio_device **out,
		       struct vfio_err *err)
{
	int cdev_fd = opts && (opts->flags & VFIO_ATTACH_CDEV_FD) ? opts->cdev_fd : -1;
	int group_fd = opts && (opts->flags & VFIO_ATTACH_GROUP_FD) ? opts->group_fd : -1;
	struct vfio_device *dev;
	int ret;

	vfio_err_clear(err);
	if (opts && (opts->flags & ~(VFIO_ATTACH_CDEV_FD | VFIO_ATTACH_GROUP_FD))) {
		ret = vfio_err_set(err, -EINVAL, "unknown attach flags 0x%x", opts->flags);
		goto err_cdev;
	}
	if (cdev_fd >= 0 && ctx->opts.backend != VFIO_BACKEND_IOMMUFD) {
		ret = vfio_err_set(err, -EINVAL, "a device cdev fd needs the iommufd backend");
		goto err_cdev;
	}
	if (group_fd >= 0 && ctx->opts.backend == VFIO_BACKEND_IOMMUFD) {
		ret = vfio_err_set(err, -EINVAL, "a group fd needs the container backend (an "
				   "iommufd device is passed as its cdev fd)");
		goto err_cdev;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		ret = vfio_err_set(err, -ENOMEM, "out of memory");
		goto err_cdev;
	}
	dev->ctx = ctx;
	dev->fd = -1;
	ret = device_resolve(ctx, bdfs, dev, err);
	if (ret)
		goto err_free;
	for (struct vfio_device *o = ctx->devices; o; o = o->next) {
		if (vfio_bdf_equal(&o->bdf, &dev->bdf)) {
			ret = vfio_err_set(err, -EEXIST, "device %s is already attached",
					   dev->name);
			goto err_free;
		}
	}
	if (ctx->opts.backend == VFIO_BACKEND_IOMMUFD) {
		ret = device_attach_cdev(ctx, dev, cdev_fd, err);
		cdev_fd = -1;	/* consumed, success or not */
	} else {
		ret = device_attach_group(ctx, dev, group_fd, err);
		group_fd = -1;	/* consumed, success or not */
	}
	if (ret)
		goto err_free;
	dev->next = ctx->devices;
	ctx->devices = dev;
	*out = dev;
	return 0;

err_free:
	free(dev);
err_cdev:
	if (cdev_fd >= 0)
		ctx->sys->close(ctx->sys, cdev_fd);
	if (group_fd >= 0)
		ctx->sys->close(ctx->sys, group_fd);
	return ret;
}

int vfio_device_detach(struct vfio_device *dev, struct vfio_err *err)
{
	struct vfio_ctx *ctx;
	struct vfio_sys *sys;
	struct vfio_device **pp;
	int ret = 0, r;

	if (!dev)
		return 0;
	vfio_err_clear(err);
	ctx = dev->ctx;
	sys = ctx->sys;
	for (pp = &ctx->devices; *pp && *pp != dev; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = dev->next;
	if (dev->group) {
		/* The device fd first: until it closes, UNSET_CONTAINER is EBUSY. */
		r = sys->close(sys, dev->fd);
		if (r)
			ret = vfio_err_set(err, r, "closing device %s: %s", dev->name,
					   strerror(-r));
		keep_first(&ret, group_put(dev->group, ret ? NULL : err));
	} else {
		if (dev->attached) {
			r = vfio_devfd_detach_pt(sys, dev->fd);
			if (r)
				ret = vfio_err_set(err, r, "detaching %s from the IOAS: %s",
						   dev->name, strerror(-r));
		}
		if (dev->kvm_added) {
			r = vfio_kvm_file_del(sys, ctx->kvm_fd, dev->fd);
			if (r && !ret)
				ret = vfio_err_set(err, r, "dropping %s from kvm-vfio "
						   "(KVM_DEV_VFIO_FILE_DEL): %s; KVM keeps the "
						   "device file until the VM exits", dev->name,
						   strerror(-r));
		}
		/* Closing unbinds from the iommufd, whatever failed above. */
		r = sys->close(sys, dev->fd);
		if (r && !ret)
			ret = vfio_err_set(err, r, "closing device %s: %s", dev->name,
					   strerror(-r));
		keep_first(&ret, vfio_ctx_ioas_put(ctx, ret ? NULL : err));
	}
	free(dev);
	return ret;
}

int vfio_device_fd(const struct vfio_device *dev)
{
	return dev->fd;
}

const struct vfio_bdf *vfio_device_bdf(const struct vfio_device *dev)
{
	return &dev->bdf;
}

const char *vfio_device_name(const struct vfio_device *dev)
{
	return dev->name;
}

const struct vfio_dev_info *vfio_device_info(const struct vfio_device *dev)
{
	return &dev->info;
}

unsigned int vfio_device_group_id(const struct vfio_device *dev)
{
	return dev->group_id;
}

int vfio_device_group_fd(const struct vfio_device *dev)
{
	return dev->group ? dev->group->fd : -1;
}
