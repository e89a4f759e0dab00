// SPDX-License-Identifier: GPL-2.0-only
/* Thin wrappers of the legacy container /dev/vfio/vfio (type1). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

int vfio_container_api_version(struct vfio_sys *sys, int fd)
{
	return sys->ioctl(sys, fd, VFIO_GET_API_VERSION, NULL);
}

static int container_open(struct vfio_sys *sys, const char *path)
{
	int fd, ret;

	fd = sys->open(sys, path, O_RDWR);
	if (fd < 0)
		return fd;
	ret = vfio_container_api_version(sys, fd);
	if (ret >= 0 && ret != VFIO_API_VERSION)
		ret = -EPROTONOSUPPORT;
	if (ret < 0) {
		sys->close(sys, fd);
		return ret;
	}
	return fd;
}

int vfio_container_open(struct vfio_sys *sys)
{
	return container_open(sys, "/dev/vfio/vfio");
}

int vfio_container_open_iommufd(struct vfio_sys *sys)
{
	return container_open(sys, "/dev/iommu");
}

int vfio_container_check_extension(struct vfio_sys *sys, int fd, unsigned long ext)
{
	/* The argument is passed by value, not through a pointer. */
	return sys->ioctl(sys, fd, VFIO_CHECK_EXTENSION, (void *)ext);
}

int vfio_container_set_iommu(struct vfio_sys *sys, int fd, unsigned long type)
{
	int ret = sys->ioctl(sys, fd, VFIO_SET_IOMMU, (void *)type);

	return ret < 0 ? ret : 0;
}

int vfio_container_set_iommu_best(struct vfio_sys *sys, int fd)
{
	static const unsigned long types[] = { VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int ret = vfio_container_check_extension(sys, fd, types[i]);

		if (ret < 0)
			return ret;
		if (ret == 0)
			continue;
		ret = vfio_container_set_iommu(sys, fd, types[i]);
		return ret < 0 ? ret : (int)types[i];
	}
	return -ENODEV;
}

void vfio_iommu_info_release(struct vfio_iommu_info *info)
{
	free(info->ranges);
	memset(info, 0, sizeof(*info));
}

static int span_cmp(const void *a, const void *b)
{
	const struct vfio_iova_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int info_cap(const struct vfio_info_cap_header *cap, size_t avail, void *arg)
{
	struct vfio_iommu_info *info = arg;

	if (cap->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
		const struct vfio_iommu_type1_info_cap_iova_range *r = (const void *)cap;
		size_t n;

		if (avail < sizeof(*r))
			return -EPROTO;
		n = r->nr_iovas;
		if (n > (avail - sizeof(*r)) / sizeof(r->iova_ranges[0]))
			return -EPROTO;
		free(info->ranges);
		info->ranges = calloc(n ? n : 1, sizeof(*info->ranges));
		if (!info->ranges)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			/* type1's end is inclusive, like iommufd's last. */
			info->ranges[i].start = r->iova_ranges[i].start;
			info->ranges[i].last = r->iova_ranges[i].end;
			if (info->ranges[i].last < info->ranges[i].start)
				return -EPROTO;
		}
		qsort(info->ranges, n, sizeof(*info->ranges), span_cmp);
		info->nr_ranges = n;
		info->has_ranges = true;
	} else if (cap->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
		const struct vfio_iommu_type1_info_dma_avail *d = (const void *)cap;

		if (avail < sizeof(*d))
			return -EPROTO;
		info->dma_avail = d->avail;
		info->has_dma_avail = true;
	}
	return 0;
}

/* Guards against a kernel (or model) that keeps asking for more. */
#define INFO_MAX (1u << 20)

int vfio_container_get_info(struct vfio_sys *sys, int fd, struct vfio_iommu_info *out)
{
	struct vfio_iommu_type1_info *info;
	struct vfio_iommu_info res = { 0 };
	size_t size = sizeof(*info);
	int ret;

	for (;;) {
		info = calloc(1, size);
		if (!info)
			return -ENOMEM;
		info->argsz = size;
		ret = sys->ioctl(sys, fd, VFIO_IOMMU_GET_INFO, info);
		if (ret < 0)
			goto out;
		/* A kernel with caps that did not fit says how much it needs. */
		if (info->argsz <= size)
			break;
		if (info->argsz > INFO_MAX) {
			ret = -EPROTO;
			goto out;
		}
		size = info->argsz;
		free(info);
	}
	if (info->flags & VFIO_IOMMU_INFO_PGSIZES)
		res.pgsizes = info->iova_pgsizes;
	if (info->flags & VFIO_IOMMU_INFO_CAPS) {
		ret = vfio_cap_walk(info, size, sizeof(*info), info->cap_offset, info_cap, &res);
		if (ret) {
			vfio_iommu_info_release(&res);
			goto out;
		}
	}
	*out = res;
	ret = 0;
out:
	free(info);
	return ret;
}

int vfio_container_map_dma(struct vfio_sys *sys, int fd, uint64_t iova, uint64_t vaddr,
			   uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = vaddr,
		.iova = iova,
		.size = size,
	};
	int ret = sys->ioctl(sys, fd, VFIO_IOMMU_MAP_DMA, &map);

	return ret < 0 ? ret : 0;
}

int vfio_container_unmap_dma(struct vfio_sys *sys, int fd, uint64_t iova, uint64_t size,
			     uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};
	int ret = sys->ioctl(sys, fd, VFIO_IOMMU_UNMAP_DMA, &unmap);

	if (ret < 0)
		return ret;
	if (unmapped)
		*unmapped = unmap.size;
	return 0;
}
