// SPDX-License-Identifier: GPL-2.0-only
/* Thin wrappers of iommufd (/dev/iommu): IOAS, mappings, HWPT, options. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

int vfio_iommufd_open(struct vfio_sys *sys)
{
	return sys->open(sys, "/dev/iommu", O_RDWR);
}

int vfio_iommufd_ioas_alloc(struct vfio_sys *sys, int fd, uint32_t *ioas_id)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	int ret = sys->ioctl(sys, fd, IOMMU_IOAS_ALLOC, &a);

	if (ret < 0)
		return ret;
	*ioas_id = a.out_ioas_id;
	return 0;
}

/* Guards against a kernel (or model) that keeps asking for more. */
#define RANGES_MAX 65536

static int span_cmp(const void *a, const void *b)
{
	const struct vfio_iova_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int vfio_iommufd_iova_ranges(struct vfio_sys *sys, int fd, uint32_t ioas_id,
			     struct vfio_iova_span **out, uint32_t *nr, uint64_t *alignment)
{
	struct iommu_iova_range *buf = NULL;
	struct iommu_ioas_iova_ranges r;
	struct vfio_iova_span *spans;
	uint32_t cap = 8;
	int ret;

	for (;;) {
		struct iommu_iova_range *nbuf = realloc(buf, cap * sizeof(*buf));

		if (!nbuf) {
			free(buf);
			return -ENOMEM;
		}
		buf = nbuf;
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.ioas_id = ioas_id;
		r.num_iovas = cap;
		r.allowed_iovas = (uintptr_t)buf;
		ret = sys->ioctl(sys, fd, IOMMU_IOAS_IOVA_RANGES, &r);
		/* EMSGSIZE: num_iovas now says how many exist. */
		if (ret != -EMSGSIZE)
			break;
		if (r.num_iovas <= cap || r.num_iovas > RANGES_MAX) {
			ret = -EPROTO;
			break;
		}
		cap = r.num_iovas;
	}
	if (ret < 0)
		goto out;
	if (r.num_iovas > cap) {
		ret = -EPROTO;
		goto out;
	}
	spans = calloc(r.num_iovas ? r.num_iovas : 1, sizeof(*spans));
	if (!spans) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < r.num_iovas; i++) {
		spans[i].start = buf[i].start;
		spans[i].last = buf[i].last;
		if (spans[i].last < spans[i].start) {
			free(spans);
			ret = -EPROTO;
			goto out;
		}
	}
	/* Sorted, like the container's: the hole search walks them in order. */
	qsort(spans, r.num_iovas, sizeof(*spans), span_cmp);
	*out = spans;
	*nr = r.num_iovas;
	if (alignment)
		*alignment = r.out_iova_alignment;
	ret = 0;
out:
	free(buf);
	return ret;
}

int vfio_iommufd_map(struct vfio_sys *sys, int fd, uint32_t ioas_id, uint64_t iova,
		     uint64_t vaddr, uint64_t size)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = vaddr,
		.length = size,
		.iova = iova,
	};
	int ret = sys->ioctl(sys, fd, IOMMU_IOAS_MAP, &m);

	return ret < 0 ? ret : 0;
}

int vfio_iommufd_unmap(struct vfio_sys *sys, int fd, uint32_t ioas_id, uint64_t iova,
		       uint64_t size, uint64_t *unmapped)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = size,
	};
	int ret = sys->ioctl(sys, fd, IOMMU_IOAS_UNMAP, &u);

	if (ret < 0)
		return ret;
	if (unmapped)
		*unmapped = u.length;
	return 0;
}

int vfio_iommufd_hwpt_alloc(struct vfio_sys *sys, int fd, uint32_t dev_id, uint32_t pt_id,
			    uint32_t flags, uint32_t *hwpt_id)
{
	struct iommu_hwpt_alloc h = {
		.size = sizeof(h),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = IOMMU_HWPT_DATA_NONE,
	};
	int ret = sys->ioctl(sys, fd, IOMMU_HWPT_ALLOC, &h);

	if (ret < 0)
		return ret;
	*hwpt_id = h.out_hwpt_id;
	return 0;
}

int vfio_iommufd_destroy(struct vfio_sys *sys, int fd, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };
	int ret = sys->ioctl(sys, fd, IOMMU_DESTROY, &d);

	return ret < 0 ? ret : 0;
}

static int iommufd_option(struct vfio_sys *sys, int fd, uint16_t op, uint64_t *val)
{
	struct iommu_option o = {
		.size = sizeof(o),
		.option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = op,
		.object_id = 0,		/* RLIMIT_MODE is global to the iommufd */
		.val64 = *val,
	};
	int ret = sys->ioctl(sys, fd, IOMMU_OPTION, &o);

	if (ret < 0)
		return ret;
	*val = o.val64;
	return 0;
}

int vfio_iommufd_rlimit_mode_get(struct vfio_sys *sys, int fd, uint64_t *mode)
{
	*mode = 0;
	return iommufd_option(sys, fd, IOMMU_OPTION_OP_GET, mode);
}

int vfio_iommufd_rlimit_mode_set(struct vfio_sys *sys, int fd, uint64_t mode)
{
	return iommufd_option(sys, fd, IOMMU_OPTION_OP_SET, &mode);
}
