// SPDX-License-Identifier: GPL-2.0-only
/*
 * The context: the one container (or iommufd + IOAS) all groups share, and
 * the one kvm-vfio device of the VM.
 *
 * Invariant: the container/IOAS exists while ctx->users > 0, and while it
 * exists every range of the DMA list is mapped in it.  The last group to
 * leave unmaps the list before UNSET_CONTAINER; the container fd is closed
 * only after that group's fd (the kernel's teardown order, docs/vfio.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

int vfio_ctx_new(struct vfio_sys *sys, const struct vfio_ctx_opts *opts,
		 struct vfio_ctx **out)
{
	struct vfio_ctx *ctx;

	if (!sys || !opts || (opts->backend != VFIO_BACKEND_CONTAINER &&
			      opts->backend != VFIO_BACKEND_IOMMUFD &&
			      opts->backend != VFIO_BACKEND_IOMMUFD_COMPAT))
		return -EINVAL;
	if (opts->has_iommufd && (opts->backend != VFIO_BACKEND_IOMMUFD || opts->iommufd < 0))
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->sys = sys;
	ctx->opts = *opts;
	ctx->container_fd = -1;
	ctx->kvm_fd = -1;
	*out = ctx;
	return 0;
}

int vfio_ctx_free(struct vfio_ctx *ctx)
{
	if (!ctx)
		return 0;
	if (ctx->devices || ctx->groups || ctx->users)
		return -EBUSY;
	if (ctx->kvm_fd >= 0 && !ctx->kvm_lent)
		ctx->sys->close(ctx->sys, ctx->kvm_fd);
	free(ctx->ranges);
	free(ctx->dma);
	free(ctx);
	return 0;
}

struct vfio_sys *vfio_ctx_sys(struct vfio_ctx *ctx)
{
	return ctx->sys;
}

int vfio_ctx_lend_kvm(struct vfio_ctx *ctx, int kvm_dev_fd)
{
	if (kvm_dev_fd < 0)
		return -EINVAL;
	if (ctx->kvm_fd >= 0)
		return ctx->kvm_fd == kvm_dev_fd && ctx->kvm_lent ? 0 : -EBUSY;
	ctx->kvm_fd = kvm_dev_fd;
	ctx->kvm_lent = true;
	return 0;
}

int vfio_ctx_container_fd(struct vfio_ctx *ctx)
{
	return ctx->container_fd;
}

uint32_t vfio_ctx_ioas_id(struct vfio_ctx *ctx)
{
	return ctx->users ? ctx->ioas_id : 0;
}

int vfio_ctx_kvm_fd(struct vfio_ctx *ctx)
{
	return ctx->kvm_fd;
}

size_t vfio_ctx_group_count(struct vfio_ctx *ctx)
{
	size_t n = 0;

	for (struct vfio_group *g = ctx->groups; g; g = g->next)
		n++;
	return n;
}

size_t vfio_ctx_iova_ranges(struct vfio_ctx *ctx, const struct vfio_iova_span **ranges)
{
	*ranges = ctx->ranges;
	return ctx->users ? ctx->nr_ranges : 0;
}

static void ctx_set_ranges(struct vfio_ctx *ctx, struct vfio_iova_span *ranges, uint32_t nr)
{
	free(ctx->ranges);
	ctx->ranges = ranges;
	ctx->nr_ranges = nr;
}

static int ctx_explain_container_open(struct vfio_ctx *ctx, int errnum, struct vfio_err *err)
{
	if (ctx->opts.backend == VFIO_BACKEND_IOMMUFD_COMPAT) {
		if (errnum == -ENOENT)
			return vfio_err_set(err, errnum,
					    "/dev/iommu does not exist: this kernel has no iommufd "
					    "(CONFIG_IOMMUFD; try `modprobe iommufd`). Use the "
					    "container backend instead");
		return vfio_err_set(err, errnum, "opening /dev/iommu as a VFIO container: %s",
				    strerror(-errnum));
	}
	switch (errnum) {
	case -ENOENT:
		return vfio_err_set(err, errnum,
				    "/dev/vfio/vfio does not exist: the VFIO container driver is "
				    "not loaded. Load it with `modprobe vfio-pci` (which loads "
				    "vfio and vfio_iommu_type1), or use the iommufd backend");
	case -EACCES:
	case -EPERM:
		return vfio_err_set(err, errnum,
				    "no permission to open /dev/vfio/vfio: run ferry as root or "
				    "give its user access to the node");
	case -EPROTONOSUPPORT:
		return vfio_err_set(err, errnum,
				    "/dev/vfio/vfio speaks a VFIO API version other than %d",
				    VFIO_API_VERSION);
	default:
		return vfio_err_set(err, errnum, "opening the VFIO container /dev/vfio/vfio: %s",
				    strerror(-errnum));
	}
}

static int ctx_explain_set_iommu(int errnum, unsigned int group, struct vfio_err *err)
{
	if (errnum == -EPERM)
		return vfio_err_set(err, errnum,
				    "the kernel refused to set up the IOMMU for group %u "
				    "(VFIO_SET_IOMMU: EPERM): the platform has no interrupt "
				    "remapping, so a device could forge interrupts. See `dmesg | "
				    "grep -i -e vfio -e remapping`; enable interrupt remapping "
				    "(intremap=on / the BIOS setting) or, knowing the risk, load "
				    "vfio_iommu_type1 with allow_unsafe_interrupts=1 (echo 1 > "
				    "/sys/module/vfio_iommu_type1/parameters/"
				    "allow_unsafe_interrupts)",
				    group);
	if (errnum == -ENODEV)
		return vfio_err_set(err, errnum,
				    "the VFIO container offers neither the TYPE1v2 nor the TYPE1 "
				    "IOMMU: load vfio_iommu_type1 (`modprobe vfio_iommu_type1`)");
	return vfio_err_set(err, errnum, "VFIO_SET_IOMMU for group %u: %s", group,
			    strerror(-errnum));
}

/* Reads what the container accepts now (groups add reserved regions). */
static int ctx_container_read_info(struct vfio_ctx *ctx, struct vfio_err *err)
{
	struct vfio_iommu_info info;
	int ret;

	ret = vfio_container_get_info(ctx->sys, ctx->container_fd, &info);
	if (ret)
		return vfio_err_set(err, ret, "VFIO_IOMMU_GET_INFO: %s", strerror(-ret));
	if (info.has_ranges) {
		ctx_set_ranges(ctx, info.ranges, info.nr_ranges);
		info.ranges = NULL;
	} else {
		/* No IOVA capability (old kernel): the kernel alone will judge. */
		ctx_set_ranges(ctx, NULL, 0);
	}
	ctx->has_dma_avail = info.has_dma_avail;
	/* The kernel's count already excludes the mappings in place. */
	ctx->dma_avail = info.dma_avail;
	vfio_iommu_info_release(&info);
	return 0;
}

int vfio_ctx_container_join(struct vfio_ctx *ctx, int group_fd, unsigned int group,
			    struct vfio_err *err)
{
	struct vfio_sys *sys = ctx->sys;
	bool first = ctx->users == 0;
	int ret;

	if (ctx->container_fd < 0) {
		if (ctx->opts.backend == VFIO_BACKEND_IOMMUFD_COMPAT)
			ret = vfio_container_open_iommufd(sys);
		else
			ret = vfio_container_open(sys);
		if (ret < 0)
			return ctx_explain_container_open(ctx, ret, err);
		ctx->container_fd = ret;
	}
	ret = vfio_group_set_container(sys, group_fd, ctx->container_fd);
	if (ret)
		return vfio_err_set(err, ret, "VFIO_GROUP_SET_CONTAINER for group %u: %s",
				    group, strerror(-ret));
	if (first) {
		/* The IOMMU type can only be set once a group is in the container. */
		ret = vfio_container_set_iommu_best(sys, ctx->container_fd);
		if (ret < 0) {
			ctx_explain_set_iommu(ret, group, err);
			goto err_unset;
		}
		ret = ctx_container_read_info(ctx, err);
		if (ret)
			goto err_unset;
		ret = vfio_dma_fill(ctx, err);
		if (ret)
			goto err_unset;
	} else {
		/*
		 * The kernel refused the group if the existing mappings hit its
		 * reserved regions; what is left usable may have shrunk.
		 */
		ret = ctx_container_read_info(ctx, err);
		if (ret)
			goto err_unset;
	}
	ctx->users++;
	return 0;

err_unset:
	/* The kernel drops the container's IOMMU with its last group. */
	vfio_group_unset_container(sys, group_fd);
	return ret;
}

int vfio_ctx_container_leave(struct vfio_ctx *ctx, int group_fd, struct vfio_err *err)
{
	int ret = 0, r;

	if (ctx->users == 1)
		ret = vfio_dma_unfill(ctx, err);
	r = vfio_group_unset_container(ctx->sys, group_fd);
	if (r && !ret)
		ret = vfio_err_set(err, r, "VFIO_GROUP_UNSET_CONTAINER: %s", strerror(-r));
	/* Closing the group fd detaches it from the container even so. */
	ctx->users--;
	return ret;
}

int vfio_ctx_container_put(struct vfio_ctx *ctx)
{
	int ret;

	if (ctx->users || ctx->container_fd < 0)
		return 0;
	/* The fd is gone even when close reports an error. */
	ret = ctx->sys->close(ctx->sys, ctx->container_fd);
	ctx->container_fd = -1;
	ctx_set_ranges(ctx, NULL, 0);
	ctx->has_dma_avail = false;
	ctx->dma_avail = 0;
	return ret;
}

int vfio_ctx_ioas_refresh(struct vfio_ctx *ctx, struct vfio_err *err)
{
	struct vfio_iova_span *ranges;
	uint32_t nr;
	int ret;

	ret = vfio_iommufd_iova_ranges(ctx->sys, ctx->container_fd, ctx->ioas_id, &ranges, &nr,
				       NULL);
	if (ret)
		return vfio_err_set(err, ret, "IOMMU_IOAS_IOVA_RANGES: %s", strerror(-ret));
	ctx_set_ranges(ctx, ranges, nr);
	return 0;
}

int vfio_ctx_ioas_get(struct vfio_ctx *ctx, struct vfio_err *err)
{
	struct vfio_sys *sys = ctx->sys;
	int ret;

	if (ctx->users) {
		ctx->users++;
		return 0;
	}
	ret = ctx->opts.has_iommufd ? ctx->opts.iommufd : vfio_iommufd_open(sys);
	if (ret < 0) {
		if (ret == -ENOENT)
			return vfio_err_set(err, ret,
					    "/dev/iommu does not exist: this kernel has no iommufd "
					    "(CONFIG_IOMMUFD; try `modprobe iommufd`). Use the "
					    "container backend instead");
		return vfio_err_set(err, ret, "opening /dev/iommu: %s", strerror(-ret));
	}
	ctx->container_fd = ret;
	ret = vfio_iommufd_ioas_alloc(sys, ctx->container_fd, &ctx->ioas_id);
	if (ret) {
		vfio_err_set(err, ret, "IOMMU_IOAS_ALLOC: %s", strerror(-ret));
		goto err_close;
	}
	ret = vfio_ctx_ioas_refresh(ctx, err);
	if (ret)
		goto err_destroy;
	ret = vfio_dma_fill(ctx, err);
	if (ret)
		goto err_destroy;
	ctx->users = 1;
	return 0;

err_destroy:
	vfio_iommufd_destroy(sys, ctx->container_fd, ctx->ioas_id);
err_close:
	if (!ctx->opts.has_iommufd)
		sys->close(sys, ctx->container_fd);
	ctx->container_fd = -1;
	ctx->ioas_id = 0;
	ctx_set_ranges(ctx, NULL, 0);
	return ret;
}

int vfio_ctx_ioas_put(struct vfio_ctx *ctx, struct vfio_err *err)
{
	struct vfio_sys *sys = ctx->sys;
	int ret, r;

	if (--ctx->users)
		return 0;
	ret = vfio_dma_unfill(ctx, err);
	r = vfio_iommufd_destroy(sys, ctx->container_fd, ctx->ioas_id);
	if (r && !ret)
		ret = vfio_err_set(err, r, "IOMMU_DESTROY of IOAS %u: %s", ctx->ioas_id,
				   strerror(-r));
	/*
	 * Closing the iommufd frees the IOAS and its mappings whatever failed
	 * above.  A pre-opened iommufd is the caller's to close.
	 */
	if (!ctx->opts.has_iommufd) {
		r = sys->close(sys, ctx->container_fd);
		if (r && !ret)
			ret = vfio_err_set(err, r, "closing the iommufd: %s", strerror(-r));
	}
	ctx->container_fd = -1;
	ctx->ioas_id = 0;
	ctx_set_ranges(ctx, NULL, 0);
	return ret;
}

int vfio_ctx_kvm_get(struct vfio_ctx *ctx, struct vfio_err *err)
{
	int ret;

	if (ctx->opts.vm_fd < 0)
		return -ENODEV;
	if (ctx->kvm_fd >= 0)
		return ctx->kvm_fd;
	ret = vfio_kvm_device_create(ctx->sys, ctx->opts.vm_fd);
	if (ret < 0) {
		if (ret == -ENODEV || ret == -ENXIO)
			return vfio_err_set(err, ret,
					    "KVM has no kvm-vfio device (KVM_CREATE_DEVICE: %s): "
					    "the kernel was built without CONFIG_KVM_VFIO",
					    strerror(-ret));
		return vfio_err_set(err, ret, "creating the kvm-vfio device: %s",
				    strerror(-ret));
	}
	/* A VM may have only one; it lives as long as the VM, so keep it. */
	ctx->kvm_fd = ret;
	return ret;
}
