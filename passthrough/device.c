// SPDX-License-Identifier: GPL-2.0-only
/*
 * A passthrough device: the VFIO attach of a host device, its reset, and its
 * release in the kernel's order (docs/passthrough.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passthrough/priv.h"

static void pt_device_err(char *err, size_t errlen, const struct passthrough_opts *opts,
			  const struct vfio_err *verr, int ret)
{
	if (!err || !errlen)
		return;
	if (verr->msg[0])
		snprintf(err, errlen, "-device host=%s: %s", opts->host, verr->msg);
	else
		snprintf(err, errlen, "-device host=%s: %s", opts->host, strerror(-ret));
}

int passthrough_device_add(struct passthrough_host *host, const struct passthrough_opts *opts,
			   struct passthrough_device **out, char *err, size_t errlen)
{
	struct passthrough_device *dev;
	struct vfio_sys *sys = host->cfg.sys;
	bool fd_taken = false;
	int ret;

	if (!opts->host[0]) {
		snprintf(err, errlen, "passthrough: no host device given (host=DDDD:BB:DD.F)");
		ret = -EINVAL;
		goto err_fd;
	}
	if (opts->id[0] && passthrough_host_find(host, opts->id)) {
		snprintf(err, errlen, "-device host=%s: id '%s' is already used", opts->host,
			 opts->id);
		ret = -EEXIST;
		goto err_fd;
	}
	for (struct passthrough_device *d = host->devices; d; d = d->next) {
		if (!strcmp(d->opts.host, opts->host)) {
			snprintf(err, errlen, "-device host=%s: this host device is already "
				 "passed through%s%s", opts->host, d->opts.id[0] ? " as " : "",
				 d->opts.id);
			ret = -EBUSY;
			goto err_fd;
		}
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		ret = -ENOMEM;
		goto err_fd;
	}
	dev->host = host;
	dev->req_efd = -1;
	dev->opts = *opts;
	dev->sys = sys;
	pthread_mutex_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->irq_lock, NULL);
	/* managed=on: the device moves to vfio-pci first (managed.c). */
	ret = pt_managed_prepare(&host->cfg, opts, &dev->managed, err, errlen);
	if (ret)
		goto err_free;
	/* The container, or the IOAS of iommufd= (host.c); it takes opts->fd over. */
	fd_taken = true;
	ret = pt_host_attach(host, opts, &dev->vdev, err, errlen);
	if (ret)
		goto err_managed;
	/*
	 * The guest must find the device as after power-on, not as the last
	 * user (a host driver or an earlier VM) left it.  A device without
	 * function-level reset is used as it is, which is what the kernel's
	 * own open did to it.
	 */
	if (vfio_device_info(dev->vdev)->flags & VFIO_DEVICE_FLAGS_RESET) {
		ret = vfio_devfd_reset(sys, vfio_device_fd(dev->vdev));
		if (ret) {
			snprintf(err, errlen, "-device host=%s: the device does not reset "
				 "(VFIO_DEVICE_RESET: %s); check dmesg for the device's state",
				 opts->host, strerror(-ret));
			goto err_detach;
		}
	}
	dev->fd = vfio_device_fd(dev->vdev);
	ret = pt_config_init(dev, err, errlen);
	if (ret)
		goto err_detach;
	dev->next = host->devices;
	host->devices = dev;
	host->nr_devices++;
	/* Last: it cannot fail, and from now on the loop may call back with @dev. */
	pt_request_init(dev);
	*out = dev;
	return 0;

err_detach:
	vfio_device_detach(dev->vdev, NULL);
err_managed:
	/* The add's error is the one to report; a failed give-back goes to stderr. */
	if (dev->managed.active) {
		char merr[512];

		if (pt_managed_release(&host->cfg, opts, &dev->managed, merr, sizeof(merr)))
			fprintf(stderr, "ferry: %s\n", merr);
	}
err_free:
	pthread_mutex_destroy(&dev->irq_lock);
	pthread_mutex_destroy(&dev->irq_lock);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
err_fd:
	if (!fd_taken)
		pt_host_close_fd(host, opts);
	return ret;
}

int passthrough_device_remove(struct passthrough_device *dev, char *err, size_t errlen)
{
	struct passthrough_host *host = dev->host;
	struct vfio_err verr = { 0 };
	int ret;

	for (struct passthrough_device **p = &host->devices; *p; p = &(*p)->next) {
		if (*p == dev) {
			*p = dev->next;
			host->nr_devices--;
			break;
		}
	}
	/*
	 * The request interrupt first: no unplug is asked for a device being
	 * removed, and its eventfd goes while the device fd still exists.
	 */
	pt_request_release(dev);
	/* Interrupts off (VFIO, irqfds, routes) while the device fd still exists. */
	pthread_mutex_lock(&dev->lock);
	pthread_mutex_lock(&dev->irq_lock);
	pt_irq_release(dev);
	pthread_mutex_unlock(&dev->irq_lock);
	pthread_mutex_unlock(&dev->lock);
	/* The guest loses the BARs before the device fd they are mmaps of goes. */
	pt_bars_release(dev);
	pt_config_release(dev);
	ret = vfio_device_detach(dev->vdev, &verr);
	if (ret && dev->req_asked) {
		/*
		 * The host asked for the device (request.c): its unbind goes on
		 * as soon as the device fd is closed, and the kernel detaches
		 * the group from the container itself, so the group's own
		 * teardown may find nothing left to undo.  The detach releases
		 * everything regardless; this is not a failure of the removal.
		 */
		fprintf(stderr, "ferry: passthrough %s: the host took the device back as soon as "
			"ferry closed it, and the kernel had already detached its group: %s "
			"(expected; nothing is left open)\n", dev->opts.host,
			verr.msg[0] ? verr.msg : strerror(-ret));
		ret = 0;
	} else if (ret) {
		pt_device_err(err, errlen, &dev->opts, &verr, ret);
	}
	/* Only now no fd of the device is left, so vfio-pci can let it go. */
	if (dev->managed.active) {
		int mret;

		if (ret) {
			char merr[512];

			mret = pt_managed_release(&host->cfg, &dev->opts, &dev->managed, merr,
						  sizeof(merr));
			if (mret)
				fprintf(stderr, "ferry: %s\n", merr);
		} else {
			ret = pt_managed_release(&host->cfg, &dev->opts, &dev->managed, err,
						 errlen);
		}
	}
	pthread_mutex_destroy(&dev->lock);
	free(dev);
	return ret;
}

int passthrough_device_set_intx_gsi(struct passthrough_device *dev, int gsi, char *err,
				    size_t errlen)
{
	int ret;

	pthread_mutex_lock(&dev->lock);
	pthread_mutex_lock(&dev->irq_lock);
	ret = pt_intx_set_gsi(dev, gsi);
	pthread_mutex_unlock(&dev->irq_lock);
	pthread_mutex_unlock(&dev->lock);
	if (ret)
		snprintf(err, errlen, "-device host=%s: cannot connect its INTx pin to GSI %d "
			 "(VFIO_DEVICE_SET_IRQS or KVM_IRQFD: %s)", dev->opts.host, gsi,
			 strerror(-ret));
	return ret;
}

int passthrough_device_reset(struct passthrough_device *dev)
{
	int ret = 0;

	pthread_mutex_lock(&dev->lock);
	pthread_mutex_lock(&dev->irq_lock);
	pt_irq_reset(dev);
	pthread_mutex_unlock(&dev->irq_lock);
	if (vfio_device_info(dev->vdev)->flags & VFIO_DEVICE_FLAGS_RESET) {
		ret = vfio_devfd_reset(dev->sys, dev->fd);
		if (ret)
			fprintf(stderr, "ferry: passthrough %s: VFIO_DEVICE_RESET failed (%s): the "
				"guest gets the device as it is; check dmesg for its state\n",
				dev->opts.id[0] ? dev->opts.id : dev->opts.host, strerror(-ret));
	}
	/* The BARs leave the guest: the bus lock is taken, irq_lock must not be held. */
	pt_config_reset(dev);
	pthread_mutex_lock(&dev->irq_lock);
	pt_irq_update(dev);
	pthread_mutex_unlock(&dev->irq_lock);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

int passthrough_host_reset(struct passthrough_host *host)
{
	int ret = 0;

	for (struct passthrough_device *d = host->devices; d; d = d->next) {
		int r = passthrough_device_reset(d);

		if (r && !ret)
			ret = r;
	}
	return ret;
}

int passthrough_device_slot(const struct passthrough_device *dev)
{
	return dev->opts.slot;
}

const char *passthrough_device_id(const struct passthrough_device *dev)
{
	return dev->opts.id;
}

const char *passthrough_device_host(const struct passthrough_device *dev)
{
	return dev->opts.host;
}

struct vfio_device *passthrough_device_vfio(struct passthrough_device *dev)
{
	return dev->vdev;
}
