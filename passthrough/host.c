// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM's passthrough host: one vfio_ctx for the VM's container, one more
 * per -object iommufd (its IOAS), each with the memory/ listener that keeps
 * its DMA list equal to guest RAM, and the VM's one kvm-vfio device, which
 * they share.
 *
 * Invariant: while the host lives, every ctx's DMA list holds exactly the
 * MEM_REGION_RAM regions of the map (IOVA = guest physical address).  A
 * listener is replayed the current RAM on registration, and vfio/ fills a
 * container or IOAS from the list when its first group or device needs it,
 * so one made at any time (first device, or a device added after all others
 * went) maps all of RAM, once per container or IOAS.
 *
 * The kvm-vfio device: KVM allows one per VM, and a VM that mixes a
 * container and iommufds has several ctxs; each would create its own and the
 * second would get EBUSY.  So the first ctx that needs one creates it and the
 * host lends it to the others (vfio_ctx_lend_kvm).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cap-ng.h>
#include <linux/capability.h>

#include "memory/memory.h"
#include "passthrough/priv.h"

/* One -object iommufd: its ctx (one IOAS) and the listener feeding it RAM. */
struct pt_iommufd_space {
	char id[PASSTHROUGH_ID_MAX + 1];
	struct vfio_ctx *ctx;
	struct mem_listener *listener;
};

/* The listeners' opaque is the ctx they feed. */
static int pt_host_region_add(void *opaque, const struct mem_region *region)
{
	struct vfio_ctx *ctx = opaque;
	struct vfio_err verr = { 0 };

	/* Device memory (a passed-through BAR) is the guest's, not DMA-able RAM. */
	if (!(region->flags & MEM_REGION_RAM))
		return 0;
	return vfio_ctx_dma_add(ctx, region->gpa, (uint64_t)(uintptr_t)region->hva,
				region->size, &verr);
}

static void pt_host_region_del(void *opaque, const struct mem_region *region)
{
	struct vfio_ctx *ctx = opaque;

	if (!(region->flags & MEM_REGION_RAM))
		return;
	/*
	 * Cannot fail for a range the list holds; an unmap the kernel refuses
	 * is undone when the container closes.
	 */
	vfio_ctx_dma_remove(ctx, region->gpa, region->size, NULL);
}

static const struct mem_listener_ops pt_host_ram_ops = {
	.region_add = pt_host_region_add,
	.region_del = pt_host_region_del,
};

bool passthrough_process_can_lock(void)
{
	if (capng_get_caps_process())
		return false;
	return capng_have_capability(CAPNG_EFFECTIVE, CAP_IPC_LOCK) == 1;
}

/* Checks the iommufd objects: ids are well formed and unique. */
static int pt_host_check_iommufds(const struct passthrough_vm_config *cfg, char *err,
				  size_t errlen)
{
	if (cfg->nr_iommufds && !cfg->iommufds)
		goto bad;
	for (size_t i = 0; i < cfg->nr_iommufds; i++) {
		const struct passthrough_iommufd *o = &cfg->iommufds[i];

		if (!o->id || !o->id[0] || strlen(o->id) > PASSTHROUGH_ID_MAX ||
		    (o->has_fd && o->fd < 0))
			goto bad;
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(cfg->iommufds[j].id, o->id)) {
				snprintf(err, errlen, "-object iommufd,id=%s: the id is used "
					 "twice", o->id);
				return -EEXIST;
			}
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "passthrough: invalid iommufd objects in the VM configuration");
	return -EINVAL;
}

static void pt_host_free_spaces(struct passthrough_host *host)
{
	for (size_t i = 0; i < host->nr_iommufds; i++) {
		struct pt_iommufd_space *sp = &host->iommufds[i];

		if (sp->listener)
			mem_map_unlisten(host->cfg.map, sp->listener);
		vfio_ctx_free(sp->ctx);
	}
	free(host->iommufds);
	host->iommufds = NULL;
	host->nr_iommufds = 0;
}

/*
 * One ctx per iommufd object.  Nothing is opened in the kernel here: the
 * IOAS is made when the object's first device attaches.
 */
static int pt_host_new_spaces(struct passthrough_host *host, char *err, size_t errlen)
{
	const struct passthrough_vm_config *cfg = &host->cfg;
	int ret;

	if (!cfg->nr_iommufds)
		return 0;
	host->iommufds = calloc(cfg->nr_iommufds, sizeof(*host->iommufds));
	if (!host->iommufds)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->nr_iommufds; i++) {
		const struct passthrough_iommufd *o = &cfg->iommufds[i];
		struct pt_iommufd_space *sp = &host->iommufds[i];
		struct vfio_ctx_opts copts = {
			.backend = VFIO_BACKEND_IOMMUFD,
			.vm_fd = cfg->vm_fd,
			.cap_ipc_lock = cfg->cap_ipc_lock,
			.has_iommufd = o->has_fd,
			.iommufd = o->has_fd ? o->fd : -1,
		};

		snprintf(sp->id, sizeof(sp->id), "%s", o->id);
		ret = vfio_ctx_new(cfg->sys, &copts, &sp->ctx);
		if (ret) {
			snprintf(err, errlen, "-object iommufd,id=%s: cannot create its VFIO "
				 "context: %s", o->id, strerror(-ret));
			return ret;
		}
		host->nr_iommufds = i + 1;
		ret = mem_map_listen(cfg->map, &pt_host_ram_ops, sp->ctx, &sp->listener);
		if (ret) {
			snprintf(err, errlen, "-object iommufd,id=%s: cannot list guest RAM for "
				 "DMA: %s", o->id, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int passthrough_host_new(const struct passthrough_vm_config *cfg,
			 struct passthrough_host **out, char *err, size_t errlen)
{
	struct vfio_ctx_opts copts = {
		.backend = cfg->backend,
		.vm_fd = cfg->vm_fd,
		.cap_ipc_lock = cfg->cap_ipc_lock,
	};
	struct passthrough_host *host;
	int ret;

	if (!cfg->sys || !cfg->map || (cfg->backend != VFIO_BACKEND_CONTAINER &&
				       cfg->backend != VFIO_BACKEND_IOMMUFD_COMPAT)) {
		snprintf(err, errlen, "passthrough: invalid VM configuration");
		return -EINVAL;
	}
	ret = pt_host_check_iommufds(cfg, err, errlen);
	if (ret)
		return ret;
	host = calloc(1, sizeof(*host));
	if (!host)
		return -ENOMEM;
	host->cfg = *cfg;
	/* The objects are copied: the caller's array need not outlive the call. */
	host->cfg.iommufds = NULL;
	host->cfg.nr_iommufds = 0;
	if (cfg->nr_iommufds) {
		struct passthrough_iommufd *objs = calloc(cfg->nr_iommufds, sizeof(*objs));

		if (!objs) {
			ret = -ENOMEM;
			goto err_free;
		}
		host->cfg.iommufds = objs;
		host->cfg.nr_iommufds = cfg->nr_iommufds;
		for (size_t i = 0; i < cfg->nr_iommufds; i++) {
			objs[i] = cfg->iommufds[i];
			objs[i].id = strdup(cfg->iommufds[i].id);
			if (!objs[i].id) {
				ret = -ENOMEM;
				goto err_free;
			}
		}
	}
	ret = vfio_ctx_new(cfg->sys, &copts, &host->ctx);
	if (ret) {
		snprintf(err, errlen, "passthrough: cannot create the VFIO context: %s",
			 strerror(-ret));
		goto err_free;
	}
	ret = mem_map_listen(cfg->map, &pt_host_ram_ops, host->ctx, &host->listener);
	if (ret) {
		snprintf(err, errlen, "passthrough: cannot list guest RAM for DMA: %s",
			 strerror(-ret));
		goto err_ctx;
	}
	ret = pt_host_new_spaces(host, err, errlen);
	if (ret)
		goto err_spaces;
	*out = host;
	return 0;

err_spaces:
	pt_host_free_spaces(host);
	mem_map_unlisten(cfg->map, host->listener);
err_ctx:
	vfio_ctx_free(host->ctx);
err_free:
	for (size_t i = 0; i < host->cfg.nr_iommufds; i++)
		free((char *)host->cfg.iommufds[i].id);
	free((void *)host->cfg.iommufds);
	free(host);
	return ret;
}

void passthrough_host_free(struct passthrough_host *host)
{
	char err[1024];

	if (!host)
		return;
	while (host->devices) {
		struct passthrough_device *dev = host->devices;
		char name[PASSTHROUGH_ID_MAX + 1];

		snprintf(name, sizeof(name), "%s", dev->opts.id[0] ? dev->opts.id : dev->opts.host);
		/* Nobody is left to tell but the operator. */
		if (passthrough_device_remove(dev, err, sizeof(err)))
			fprintf(stderr, "ferry: passthrough %s: %s\n", name, err);
	}
	pt_host_free_spaces(host);
	mem_map_unlisten(host->cfg.map, host->listener);
	/* No device is left, so the ctxs have nothing open: they cannot refuse. */
	vfio_ctx_free(host->ctx);
	for (size_t i = 0; i < host->cfg.nr_iommufds; i++)
		free((char *)host->cfg.iommufds[i].id);
	free((void *)host->cfg.iommufds);
	free(host);
}

static struct pt_iommufd_space *pt_host_space(struct passthrough_host *host, const char *id)
{
	for (size_t i = 0; i < host->nr_iommufds; i++) {
		if (!strcmp(host->iommufds[i].id, id))
			return &host->iommufds[i];
	}
	return NULL;
}

struct vfio_ctx *passthrough_host_iommufd_ctx(struct passthrough_host *host, const char *id)
{
	struct pt_iommufd_space *sp = pt_host_space(host, id);

	return sp ? sp->ctx : NULL;
}

/* "the VM's container" or "iommufd object X", for messages. */
static void pt_host_backend_name(const char *iommufd, char *buf, size_t len)
{
	if (iommufd[0])
		snprintf(buf, len, "-object iommufd,id=%s", iommufd);
	else
		snprintf(buf, len, "the VM's VFIO container");
}

/*
 * A group has one owner in the kernel: its node is opened once, and a cdev
 * bound to an iommufd excludes the group node (EBUSY).  So every device of
 * one IOMMU group must use the same ctx; say so plainly instead of letting
 * the kernel answer EBUSY with ferry itself as the holder.
 */
static int pt_host_check_group(struct passthrough_host *host, const struct passthrough_opts *opts,
			       char *err, size_t errlen)
{
	struct vfio_bdf bdf;
	unsigned int group;
	char have[PASSTHROUGH_ID_MAX + 32], want[PASSTHROUGH_ID_MAX + 32];

	if (vfio_bdf_parse(opts->host, &bdf, NULL) ||
	    vfio_host_device_group(host->cfg.sys, &bdf, &group))
		return 0;	/* the attach explains what is wrong with the device */
	for (struct passthrough_device *d = host->devices; d; d = d->next) {
		if (!strcmp(d->opts.iommufd, opts->iommufd) ||
		    vfio_device_group_id(d->vdev) != group)
			continue;
		pt_host_backend_name(d->opts.iommufd, have, sizeof(have));
		pt_host_backend_name(opts->iommufd, want, sizeof(want));
		snprintf(err, errlen, "-device host=%s: its IOMMU group %u is already used by "
			 "%s%s%s through %s; the devices of one IOMMU group share one owner, so "
			 "they cannot also use %s: give every device of group %u the same "
			 "iommufd= (or none)", opts->host, group, d->opts.host,
			 d->opts.id[0] ? " as " : "", d->opts.id, have, want, group);
		return -EBUSY;
	}
	return 0;
}

/*
 * The VM's kvm-vfio device is created by the first ctx that registers a
 * group or cdev (so an attach that fails early creates none); every other
 * ctx borrows it.  All ctxs live as long as the host, so the owner's fd
 * outlives every use of the borrowed one.
 */
static int pt_host_kvm_share(struct passthrough_host *host, struct vfio_ctx *ctx,
			     const struct passthrough_opts *opts, char *err, size_t errlen)
{
	int fd = vfio_ctx_kvm_fd(host->ctx), ret;

	if (host->cfg.vm_fd < 0 || vfio_ctx_kvm_fd(ctx) >= 0)
		return 0;
	for (size_t i = 0; fd < 0 && i < host->nr_iommufds; i++)
		fd = vfio_ctx_kvm_fd(host->iommufds[i].ctx);
	if (fd < 0)
		return 0;	/* none yet: @ctx creates it */
	ret = vfio_ctx_lend_kvm(ctx, fd);
	if (ret)
		snprintf(err, errlen, "-device host=%s: cannot share the VM's kvm-vfio device: "
			 "%s", opts->host, strerror(-ret));
	return ret;
}

void pt_host_close_fd(struct passthrough_host *host, const struct passthrough_opts *opts)
{
	if (opts->fd >= 0)
		host->cfg.sys->close(host->cfg.sys, opts->fd);
}

int pt_host_attach(struct passthrough_host *host, const struct passthrough_opts *opts,
		   struct vfio_device **vdev, char *err, size_t errlen)
{
	struct vfio_err verr = { 0 };
	struct vfio_ctx *ctx = host->ctx;
	/* A caller's fd: the device's cdev with iommufd=, else its group node. */
	struct vfio_attach_opts aopts = {
		.flags = opts->fd < 0 ? 0 : opts->iommufd[0] ? VFIO_ATTACH_CDEV_FD :
			 VFIO_ATTACH_GROUP_FD,
		.cdev_fd = opts->iommufd[0] ? opts->fd : -1,
		.group_fd = opts->iommufd[0] ? -1 : opts->fd,
	};
	int ret;

	if (opts->iommufd[0]) {
		struct pt_iommufd_space *sp = pt_host_space(host, opts->iommufd);

		if (!sp) {
			snprintf(err, errlen, "-device host=%s: iommufd=%s names no iommufd "
				 "object: add -object iommufd,id=%s to the command line",
				 opts->host, opts->iommufd, opts->iommufd);
			pt_host_close_fd(host, opts);
			return -ENOENT;
		}
		ctx = sp->ctx;
	}
	ret = pt_host_check_group(host, opts, err, errlen);
	if (!ret)
		ret = pt_host_kvm_share(host, ctx, opts, err, errlen);
	if (ret) {
		pt_host_close_fd(host, opts);
		return ret;
	}
	ret = vfio_device_attach(ctx, opts->host, &aopts, vdev, &verr);
	if (!ret)
		return 0;
	if (!verr.msg[0])
		snprintf(verr.msg, sizeof(verr.msg), "%s", strerror(-ret));
	if (opts->iommufd[0] && ret == -ENOENT && strstr(verr.msg, "/dev/iommu")) {
		/* vfio/ says "use the container backend": here that is dropping iommufd=. */
		char *tail = strstr(verr.msg, " Use the container backend");

		if (tail)
			*tail = '\0';
		snprintf(err, errlen, "-device host=%s,iommufd=%s: %s Drop iommufd=%s to use the "
			 "VM's VFIO container instead", opts->host, opts->iommufd, verr.msg,
			 opts->iommufd);
	} else {
		snprintf(err, errlen, "-device host=%s: %s", opts->host, verr.msg);
	}
	return ret;
}

struct vfio_ctx *passthrough_host_ctx(struct passthrough_host *host)
{
	return host->ctx;
}

size_t passthrough_host_device_count(const struct passthrough_host *host)
{
	return host->nr_devices;
}

struct passthrough_device *passthrough_host_find(struct passthrough_host *host, const char *id)
{
	for (struct passthrough_device *d = host->devices; d; d = d->next) {
		if (d->opts.id[0] && !strcmp(d->opts.id, id))
			return d;
	}
	return NULL;
}
