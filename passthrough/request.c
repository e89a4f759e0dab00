// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host asking for a device back: VFIO's request interrupt
 * (VFIO_PCI_REQ_IRQ_INDEX).
 *
 * When the host unbinds a device from vfio-pci while ferry holds it, the
 * kernel's remove path waits until the last device fd is closed, and while
 * it waits it signals the request eventfd again and again.  Unanswered, the
 * unbind hangs until ferry exits.  The answer is a guest-visible unplug: the
 * VMM asks the guest to eject the device, the guest lets go of it, and the
 * VMM removes it (passthrough_device_remove), which closes the device fd and
 * lets the unbind finish.
 *
 * Threads: the eventfd's callback runs on the VM's event loop; release runs
 * on whichever thread removes the device, and waits (fd_unwatch) until the
 * callback is not running, so the callback may use @dev without a lock.
 * The only state the two share after attach is req_asked, set once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "passthrough/priv.h"

static const struct passthrough_vm_ops *pt_req_ops(struct passthrough_device *dev)
{
	return dev->host->cfg.ops;
}

static void *pt_req_vm(struct passthrough_device *dev)
{
	return dev->host->cfg.vm;
}

/* "0000:00:02.0 (id nic0)" or "0000:00:02.0 (no id)". */
static void pt_req_name(const struct passthrough_device *dev, char *buf, size_t len)
{
	if (dev->opts.id[0])
		snprintf(buf, len, "%s (id %s)", dev->opts.host, dev->opts.id);
	else
		snprintf(buf, len, "%s (no id)", dev->opts.host);
}

/* On the VM's event loop: the kernel signalled the request. */
static void pt_req_signalled(void *arg, uint32_t events)
{
	struct passthrough_device *dev = arg;
	char name[PASSTHROUGH_ID_MAX + 32];
	uint64_t cnt;
	int ret;

	(void)events;
	/* Drained every time: the loop watches the fd level-triggered. */
	if (read(dev->req_efd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return;
	/* The kernel repeats the request until the fd is closed: one unplug is enough. */
	if (__atomic_exchange_n(&dev->req_asked, true, __ATOMIC_ACQ_REL))
		return;
	pt_req_name(dev, name, sizeof(name));
	fprintf(stderr, "ferry: host requested device %s back; unplugging it from the guest\n",
		name);
	ret = pt_req_ops(dev)->request_unplug(pt_req_vm(dev), dev);
	if (ret)
		fprintf(stderr, "ferry: host requested device %s back, but its unplug could not "
			"be started (%s): the host's unbind waits until the device is removed "
			"(device_del, or quit ferry)\n", name, strerror(-ret));
}

static bool pt_req_supported(struct passthrough_device *dev)
{
	const struct passthrough_vm_ops *ops = pt_req_ops(dev);
	struct vfio_irq irq;

	if (!ops || !ops->fd_watch || !ops->fd_unwatch || !ops->request_unplug)
		return false;
	if (vfio_device_info(dev->vdev)->num_irqs <= VFIO_PCI_REQ_IRQ_INDEX)
		return false;
	/* A failed query means no request interrupt, as for a count other than one. */
	return !vfio_devfd_get_irq(dev->sys, dev->fd, VFIO_PCI_REQ_IRQ_INDEX, &irq) &&
	       irq.count == 1 && (irq.flags & VFIO_IRQ_INFO_EVENTFD);
}

void pt_request_init(struct passthrough_device *dev)
{
	char name[PASSTHROUGH_ID_MAX + 32];
	const char *what;
	int32_t efd;
	int ret;

	dev->req_efd = -1;
	dev->req_asked = false;
	if (!pt_req_supported(dev))
		return;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		ret = -errno;
		what = "eventfd";
		goto err;
	}
	ret = vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &efd);
	if (ret) {
		what = "VFIO_DEVICE_SET_IRQS";
		goto err_close;
	}
	/* Watched only once registered: the callback may then assume req_efd is set. */
	dev->req_efd = efd;
	ret = pt_req_ops(dev)->fd_watch(pt_req_vm(dev), efd, pt_req_signalled, dev);
	if (ret) {
		what = "the VM's event loop";
		goto err_unregister;
	}
	return;

err_unregister:
	dev->req_efd = -1;
	vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_REQ_IRQ_INDEX, 0, 0, NULL);
err_close:
	close(efd);
err:
	pt_req_name(dev, name, sizeof(name));
	fprintf(stderr, "ferry: passthrough %s: VFIO's request interrupt is not registered "
		"(%s: %s): if the host unbinds the device from vfio-pci, the unbind waits "
		"until ferry releases it (device_del, or quit)\n", name, what, strerror(-ret));
}

void pt_request_release(struct passthrough_device *dev)
{
	const struct passthrough_vm_ops *ops = pt_req_ops(dev);
	char name[PASSTHROUGH_ID_MAX + 32];
	int ret;

	if (dev->req_efd < 0)
		return;
	/* The kernel stops signalling first, then the loop stops watching. */
	ret = vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_REQ_IRQ_INDEX, 0, 0, NULL);
	if (ret) {
		/* Harmless: closing the device fd releases the kernel's reference. */
		pt_req_name(dev, name, sizeof(name));
		fprintf(stderr, "ferry: passthrough %s: unregistering VFIO's request interrupt "
			"failed (%s); the device's release drops it\n", name, strerror(-ret));
	}
	ops->fd_unwatch(pt_req_vm(dev), dev->req_efd);
	close(dev->req_efd);
	dev->req_efd = -1;
}

bool passthrough_device_has_request(const struct passthrough_device *dev)
{
	return dev->req_efd >= 0;
}
