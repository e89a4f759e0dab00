// SPDX-License-Identifier: GPL-2.0-only
/*
 * Thin wrappers of a device fd, however it was obtained (group
 * GET_DEVICE_FD or the cdev /dev/vfio/devices/vfioX).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

int vfio_devfd_open_cdev(struct vfio_sys *sys, const char *name)
{
	char path[64];

	if (strchr(name, '/') || snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name) >=
	    (int)sizeof(path))
		return -EINVAL;
	return sys->open(sys, path, O_RDWR);
}

int vfio_devfd_bind_iommufd(struct vfio_sys *sys, int fd, int iommufd, uint32_t *dev_id)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = iommufd };
	int ret = sys->ioctl(sys, fd, VFIO_DEVICE_BIND_IOMMUFD, &b);

	if (ret < 0)
		return ret;
	*dev_id = b.out_devid;
	return 0;
}

int vfio_devfd_attach_pt(struct vfio_sys *sys, int fd, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = pt_id };
	int ret = sys->ioctl(sys, fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

	return ret < 0 ? ret : 0;
}

int vfio_devfd_detach_pt(struct vfio_sys *sys, int fd)
{
	struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };
	int ret = sys->ioctl(sys, fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);

	return ret < 0 ? ret : 0;
}

int vfio_devfd_get_info(struct vfio_sys *sys, int fd, struct vfio_dev_info *out)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int ret = sys->ioctl(sys, fd, VFIO_DEVICE_GET_INFO, &info);

	if (ret < 0)
		return ret;
	out->flags = info.flags;
	out->num_regions = info.num_regions;
	out->num_irqs = info.num_irqs;
	return 0;
}

void vfio_region_release(struct vfio_region *region)
{
	free(region->sparse);
	region->sparse = NULL;
	region->nr_sparse = 0;
	region->has_sparse = false;
}

static int region_cap(const struct vfio_info_cap_header *cap, size_t avail, void *arg)
{
	struct vfio_region *region = arg;

	if (cap->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
		const struct vfio_region_info_cap_sparse_mmap *s = (const void *)cap;
		size_t n;

		if (avail < sizeof(*s))
			return -EPROTO;
		n = s->nr_areas;
		if (n > (avail - sizeof(*s)) / sizeof(s->areas[0]))
			return -EPROTO;
		free(region->sparse);
		region->sparse = calloc(n ? n : 1, sizeof(*region->sparse));
		if (!region->sparse)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			region->sparse[i].offset = s->areas[i].offset;
			region->sparse[i].size = s->areas[i].size;
		}
		region->nr_sparse = n;
		region->has_sparse = true;
	} else if (cap->id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
		region->msix_mappable = true;
	}
	return 0;
}

#define REGION_INFO_MAX (1u << 20)

int vfio_devfd_get_region(struct vfio_sys *sys, int fd, uint32_t index,
			  struct vfio_region *out)
{
	struct vfio_region res = { .index = index };
	struct vfio_region_info *info;
	size_t size = sizeof(*info);
	int ret;

	for (;;) {
		info = calloc(1, size);
		if (!info)
			return -ENOMEM;
		info->argsz = size;
		info->index = index;
		ret = sys->ioctl(sys, fd, VFIO_DEVICE_GET_REGION_INFO, info);
		if (ret < 0)
			goto out;
		if (info->argsz <= size)
			break;
		if (info->argsz > REGION_INFO_MAX) {
			ret = -EPROTO;
			goto out;
		}
		size = info->argsz;
		free(info);
	}
	res.flags = info->flags;
	res.size = info->size;
	res.offset = info->offset;
	if (info->flags & VFIO_REGION_INFO_FLAG_CAPS) {
		ret = vfio_cap_walk(info, size, sizeof(*info), info->cap_offset, region_cap, &res);
		if (ret) {
			vfio_region_release(&res);
			goto out;
		}
	}
	*out = res;
	ret = 0;
out:
	free(info);
	return ret;
}

int vfio_devfd_get_irq(struct vfio_sys *sys, int fd, uint32_t index, struct vfio_irq *out)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = index };
	int ret = sys->ioctl(sys, fd, VFIO_DEVICE_GET_IRQ_INFO, &info);

	if (ret < 0)
		return ret;
	out->index = info.index;
	out->flags = info.flags;
	out->count = info.count;
	return 0;
}

/* The kernel caps vectors per index well below this (MSI-X: 2048). */
#define IRQ_SET_MAX 4096

static int irq_set(struct vfio_sys *sys, int fd, uint32_t flags, uint32_t index,
		   uint32_t start, uint32_t count, const int32_t *efds)
{
	size_t data = (flags & VFIO_IRQ_SET_DATA_EVENTFD) ? count * sizeof(int32_t) : 0;
	struct vfio_irq_set *set;
	int ret;

	if (count > IRQ_SET_MAX)
		return -EINVAL;
	set = calloc(1, sizeof(*set) + data);
	if (!set)
		return -ENOMEM;
	set->argsz = sizeof(*set) + data;
	set->flags = flags;
	set->index = index;
	set->start = start;
	set->count = count;
	if (data)
		memcpy(set->data, efds, data);
	ret = sys->ioctl(sys, fd, VFIO_DEVICE_SET_IRQS, set);
	free(set);
	/*
	 * Enabling MSI/MSI-X returns a positive count when the host could
	 * allocate fewer vectors than asked: nothing is enabled then.
	 */
	if (ret > 0)
		return -ENOSPC;
	return ret < 0 ? ret : 0;
}

int vfio_devfd_irq_set_eventfds(struct vfio_sys *sys, int fd, uint32_t index,
				uint32_t start, uint32_t count, const int32_t *efds)
{
	if (count == 0)
		return irq_set(sys, fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			       index, start, 0, NULL);
	if (!efds)
		return -EINVAL;
	return irq_set(sys, fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		       index, start, count, efds);
}

int vfio_devfd_irq_unmask_eventfd(struct vfio_sys *sys, int fd, uint32_t index,
				  uint32_t start, int32_t efd)
{
	return irq_set(sys, fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, index,
		       start, 1, &efd);
}

int vfio_devfd_irq_action(struct vfio_sys *sys, int fd, uint32_t index, uint32_t start,
			  uint32_t count, uint32_t action)
{
	if (action != VFIO_IRQ_SET_ACTION_MASK && action != VFIO_IRQ_SET_ACTION_UNMASK &&
	    action != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;
	return irq_set(sys, fd, VFIO_IRQ_SET_DATA_NONE | action, index, start, count, NULL);
}

int vfio_devfd_reset(struct vfio_sys *sys, int fd)
{
	int ret = sys->ioctl(sys, fd, VFIO_DEVICE_RESET, NULL);

	return ret < 0 ? ret : 0;
}

#define HOT_RESET_MAX 4096

int vfio_devfd_hot_reset_info(struct vfio_sys *sys, int fd, struct vfio_hot_reset_dep **out,
			      uint32_t *nr, uint32_t *flags)
{
	struct vfio_pci_hot_reset_info *info = NULL;
	struct vfio_hot_reset_dep *deps;
	uint32_t cap = 4;
	int ret;

	for (;;) {
		size_t size = sizeof(*info) + cap * sizeof(info->devices[0]);
		struct vfio_pci_hot_reset_info *ninfo = realloc(info, size);

		if (!ninfo) {
			free(info);
			return -ENOMEM;
		}
		info = ninfo;
		memset(info, 0, size);
		info->argsz = size;
		ret = sys->ioctl(sys, fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info);
		/* ENOSPC: count now says how many devices there are. */
		if (ret != -ENOSPC)
			break;
		if (info->count <= cap || info->count > HOT_RESET_MAX) {
			ret = -EPROTO;
			break;
		}
		cap = info->count;
	}
	if (ret < 0)
		goto out;
	if (info->count > cap) {
		ret = -EPROTO;
		goto out;
	}
	deps = calloc(info->count ? info->count : 1, sizeof(*deps));
	if (!deps) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < info->count; i++) {
		const struct vfio_pci_dependent_device *d = &info->devices[i];

		deps[i].group = d->group_id;
		deps[i].bdf.domain = d->segment;
		deps[i].bdf.bus = d->bus;
		deps[i].bdf.dev = d->devfn >> 3;
		deps[i].bdf.fn = d->devfn & 7;
	}
	*out = deps;
	*nr = info->count;
	if (flags)
		*flags = info->flags;
	ret = 0;
out:
	free(info);
	return ret;
}

static int region_check(const struct vfio_region *region, uint64_t off, uint64_t len,
			uint32_t need)
{
	if (!(region->flags & need))
		return -EINVAL;
	if (off > region->size || len > region->size - off)
		return -EINVAL;
	return 0;
}

int vfio_devfd_region_read(struct vfio_sys *sys, int fd, const struct vfio_region *region,
			   uint64_t off, void *buf, size_t len)
{
	ssize_t n;
	int ret;

	ret = region_check(region, off, len, VFIO_REGION_INFO_FLAG_READ);
	if (ret)
		return ret;
	n = sys->pread(sys, fd, buf, len, region->offset + off);
	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

int vfio_devfd_region_write(struct vfio_sys *sys, int fd, const struct vfio_region *region,
			    uint64_t off, const void *buf, size_t len)
{
	ssize_t n;
	int ret;

	ret = region_check(region, off, len, VFIO_REGION_INFO_FLAG_WRITE);
	if (ret)
		return ret;
	n = sys->pwrite(sys, fd, buf, len, region->offset + off);
	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

int vfio_devfd_region_mmap(struct vfio_sys *sys, int fd, const struct vfio_region *region,
			   uint64_t off, size_t len, int prot, void **addr)
{
	bool inside = !region->has_sparse;
	int ret;

	ret = region_check(region, off, len, VFIO_REGION_INFO_FLAG_MMAP);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < region->nr_sparse && !inside; i++) {
		const struct vfio_sparse_area *a = &region->sparse[i];

		inside = off >= a->offset && off - a->offset <= a->size &&
			 len <= a->size - (off - a->offset);
	}
	if (!inside || len == 0)
		return -EINVAL;
	return sys->mmap(sys, fd, region->offset + off, len, prot, addr);
}
