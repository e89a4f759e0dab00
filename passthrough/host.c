// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM's passthrough host: one vfio_ctx per VM, and the memory/ listener
 * that keeps the ctx's DMA list equal to guest RAM.
 *
 * Invariant: while the host lives, the ctx's DMA list holds exactly the
 * MEM_REGION_RAM regions of the map (IOVA = guest physical address).  The
 * listener is replayed the current RAM on registration, and vfio/ fills a
 * container from the list when the first group needs one, so a container
 * made at any time (first device, or a device added after all others went)
 * maps all of RAM, once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cap-ng.h>
#include <linux/capability.h>

#include "memory/memory.h"
#include "passthrough/priv.h"

static int pt_host_region_add(void *opaque, const struct mem_region *region)
{
	struct passthrough_host *host = opaque;
	struct vfio_err verr = { 0 };

	/* Device memory (a passed-through BAR) is the guest's, not DMA-able RAM. */
	if (!(region->flags & MEM_REGION_RAM))
		return 0;
	return vfio_ctx_dma_add(host->ctx, region->gpa, (uint64_t)(uintptr_t)region->hva,
				region->size, &verr);
}

static void pt_host_region_del(void *opaque, const struct mem_region *region)
{
	struct passthrough_host *host = opaque;

	if (!(region->flags & MEM_REGION_RAM))
		return;
	/*
	 * Cannot fail for a range the list holds; an unmap the kernel refuses
	 * is undone when the container closes.
	 */
	vfio_ctx_dma_remove(host->ctx, region->gpa, region->size, NULL);
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
	host = calloc(1, sizeof(*host));
	if (!host)
		return -ENOMEM;
	host->cfg = *cfg;
	ret = vfio_ctx_new(cfg->sys, &copts, &host->ctx);
	if (ret) {
		snprintf(err, errlen, "passthrough: cannot create the VFIO context: %s",
			 strerror(-ret));
		goto err_free;
	}
	ret = mem_map_listen(cfg->map, &pt_host_ram_ops, host, &host->listener);
	if (ret) {
		snprintf(err, errlen, "passthrough: cannot list guest RAM for DMA: %s",
			 strerror(-ret));
		goto err_ctx;
	}
	*out = host;
	return 0;

err_ctx:
	vfio_ctx_free(host->ctx);
err_free:
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
	mem_map_unlisten(host->cfg.map, host->listener);
	/* No device is left, so the ctx has nothing open but kvm-vfio: it cannot refuse. */
	vfio_ctx_free(host->ctx);
	free(host);
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
