// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_IOMMU_MAP_DMA / UNMAP_DMA through the container (type1's
 * vfio_dma_do_map()/do_unmap(), or iommufd's compat layer over
 * iopt_map_user_pages()/iopt_unmap_iova()).  Each test opens a device
 * first: that is when iommufd's IOAS gets a domain, pins pages and learns
 * the host's reserved IOVA.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct.h"

static struct ct ct;
static int g = -1, c = -1, d = -1;

static void fini(void)
{
	ct_teardown(&ct);
}

TestSuite(dma, .fini = fini);

static int map(uint64_t iova, void *vaddr, uint64_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr, .iova = iova, .size = size,
	};

	return ct_ioctl(&ct, c, VFIO_IOMMU_MAP_DMA, &m);
}

static int unmap(uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = size,
	};
	int ret = ct_ioctl(&ct, c, VFIO_IOMMU_UNMAP_DMA, &u);

	if (unmapped)
		*unmapped = u.size;
	return ret;
}

Test(dma, map_then_unmap_reports_the_size)
{
	size_t len = 64 << 10;
	void *buf = ct_buffer(len);
	uint64_t done = 0;

	ct_setup_device(&ct, &g, &c, &d);
	cr_assert_eq(map(1 << 20, buf, len), 0);
	if (ct.km) {
		struct kmodel_mapping m[2];

		cr_expect_eq(kmodel_mappings(ct.km, c, 0, m, 2), 1);
		cr_expect_eq(m[0].iova, 1 << 20);
		cr_expect_eq(kmodel_pinned_bytes(ct.km), len);
	}
	cr_expect_eq(unmap(1 << 20, len, &done), 0);
	cr_expect_eq(done, len);
	ct_close_device(&ct, g, c, d);
	munmap(buf, len);
}

Test(dma, overlapping_map_is_eexist)
{
	size_t len = 64 << 10;
	void *buf = ct_buffer(2 * len);

	ct_setup_device(&ct, &g, &c, &d);
	cr_assert_eq(map(1 << 20, buf, len), 0);
	cr_expect_eq(map(1 << 20, buf, len), -EEXIST);
	cr_expect_eq(map((1 << 20) + len / 2, buf, len), -EEXIST);
	cr_expect_eq(map((1 << 20) - len / 2, buf, len), -EEXIST);
	cr_expect_eq(map((1 << 20) + len, buf, len), 0, "adjacent is not overlapping");
	ct_close_device(&ct, g, c, d);
	munmap(buf, 2 * len);
}

/* x86: the MSI window 0xfee00000-0xfeefffff is reserved IOVA. */
Test(dma, map_into_reserved_iova_is_einval)
{
	struct vfio_iova_range r[16];
	size_t len = 4096;
	void *buf = ct_buffer(len);
	int n;

	ct_setup_device(&ct, &g, &c, &d);
	n = ct_container_ranges(&ct, c, r, 16);
	cr_assert_gt(n, 0);
	cr_expect_not(ct_iova_in_ranges(r, n, 0xfee00000, len),
		      "the MSI window is outside the valid IOVA ranges");
	cr_expect_eq(map(0xfee00000, buf, len), -EINVAL);
	/* just past the top of the last range: the IOMMU's aperture */
	if (r[n - 1].end < UINT64_MAX - len)
		cr_expect_eq(map(r[n - 1].end + 1, buf, len), -EINVAL);
	ct_close_device(&ct, g, c, d);
	munmap(buf, len);
}

Test(dma, unaligned_or_empty_map_is_einval)
{
	size_t len = 8192;
	char *buf = ct_buffer(len);

	ct_setup_device(&ct, &g, &c, &d);
	cr_expect_eq(map((1 << 20) + 1, buf, 4096), -EINVAL);
	cr_expect_eq(map(1 << 20, buf, 0), -EINVAL);
	ct_close_device(&ct, g, c, d);
	munmap(buf, len);
}

Test(dma, map_of_unmapped_memory_is_efault)
{
	size_t len = 16384;
	void *buf;

	/*
	 * The hole is made last: anything allocated after the munmap (the
	 * set-up's, or ASan's) could be placed in it and make it memory again.
	 */
	ct_setup_device(&ct, &g, &c, &d);
	buf = ct_buffer(len);
	munmap(buf, len);
	cr_expect_eq(map(1 << 20, buf, len), -EFAULT);
	if (ct.km)
		cr_expect_eq(kmodel_mappings(ct.km, c, 0, NULL, 0), 0, "nothing left behind");
	ct_close_device(&ct, g, c, d);
}

/*
 * Pinned pages count against RLIMIT_MEMLOCK unless the process has
 * CAP_IPC_LOCK; over the limit the map fails with ENOMEM and leaves nothing.
 */
Test(dma, map_beyond_memlock_is_enomem)
{
	size_t len = 256 << 10;
	void *buf = ct_buffer(len);

	ct_setup_device(&ct, &g, &c, &d);
	ct_limit_memlock(&ct, 128 << 10);
	cr_expect_eq(map(1 << 20, buf, len), -ENOMEM);
	cr_expect_eq(map(1 << 20, buf, 64 << 10), 0, "within the limit it maps");
	ct_close_device(&ct, g, c, d);
	munmap(buf, len);
}

/* type1v2 refuses to split a mapping (EINVAL); iommufd says ENOENT. */
Test(dma, unmap_that_splits_a_mapping_fails)
{
	size_t len = 64 << 10;
	void *buf = ct_buffer(len);
	int ret;

	ct_setup_device(&ct, &g, &c, &d);
	cr_assert_eq(map(1 << 20, buf, len), 0);
	ret = unmap(1 << 20, len / 2, NULL);
	cr_expect_eq(ret, ct.compat ? -ENOENT : -EINVAL, "splitting unmap: %d", ret);
	cr_expect_eq(map(1 << 20, buf, len), -EEXIST, "the mapping is still there");
	ct_close_device(&ct, g, c, d);
	munmap(buf, len);
}

Test(dma, unmap_all_removes_every_mapping)
{
	size_t len = 64 << 10;
	void *buf = ct_buffer(len);
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .flags = VFIO_DMA_UNMAP_FLAG_ALL,
	};

	ct_setup_device(&ct, &g, &c, &d);
	cr_assert_eq(ct_ioctl_val(&ct, c, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL), 1);
	cr_assert_eq(map(1 << 20, buf, len), 0);
	cr_assert_eq(map(2 << 20, buf, len), 0);
	cr_expect_eq(ct_ioctl(&ct, c, VFIO_IOMMU_UNMAP_DMA, &u), 0);
	cr_expect_eq(u.size, 2 * len);
	u.iova = 4096;
	cr_expect_eq(ct_ioctl(&ct, c, VFIO_IOMMU_UNMAP_DMA, &u), -EINVAL,
		     "UNMAP_ALL wants iova and size 0");
	ct_close_device(&ct, g, c, d);
	munmap(buf, len);
}

/*
 * type1 limits the number of mappings (dma_entry_limit, reported as
 * DMA_AVAIL): at zero, MAP_DMA is ENOSPC.  The real kernel's limit is a
 * module parameter read when the IOMMU is set, so the test lowers it around
 * SET_IOMMU; iommufd has no such limit.
 */
Test(dma, map_beyond_dma_entry_limit_is_enospc)
{
	static const char param[] = "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit";
	char saved[32] = "";
	size_t len = 4096;
	void *buf = ct_buffer(2 * len);
	ssize_t n = 0;
	int fd = -1;

	ct_setup(&ct, CT_NEED_ONE);
	if (ct.compat)
		ct_skip(&ct, "iommufd has no dma_entry_limit (it reports DMA_AVAIL U32_MAX)");
	g = ct_open_group(&ct);
	c = ct_open(&ct, "/dev/vfio/vfio");
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	if (ct.km) {
		kmodel_set_dma_avail(ct.km, 1);
	} else {
		fd = open(param, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			ct_skip(&ct, "%s: %s", param, strerror(errno));
		n = pread(fd, saved, sizeof(saved) - 1, 0);
		cr_assert_gt(n, 0);
		cr_assert_eq(pwrite(fd, "1\n", 2, 0), 2, "cannot lower dma_entry_limit");
	}
	cr_assert_eq(ct_ioctl_val(&ct, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
	if (fd >= 0) {
		cr_assert_eq(pwrite(fd, saved, n, 0), n, "restoring dma_entry_limit");
		close(fd);
	}
	d = ct_device_fd(&ct, g, 0);
	cr_expect_eq(map(1 << 20, buf, len), 0);
	cr_expect_eq(map(2 << 20, (char *)buf + len, len), -ENOSPC);
	cr_expect_eq(unmap(1 << 20, len, NULL), 0);
	cr_expect_eq(map(2 << 20, (char *)buf + len, len), 0, "an unmap gives the entry back");
	ct_close_device(&ct, g, c, d);
	munmap(buf, 2 * len);
}

/*
 * Reserved IOVA is known once a device is attached.  type1 learns it when
 * the group joins the IOMMU, so the MSI window is refused before any device
 * is open.  iommufd's compat IOAS learns it only when the first device is
 * attached (at GET_DEVICE_FD): before, it reports one range of everything
 * and maps the MSI window; the attach then fails with EADDRINUSE.
 */
Test(dma, reserved_iova_is_known_from_the_first_device)
{
	struct vfio_iova_range r[16];
	size_t len = 4096;
	void *buf = ct_buffer(len);
	int n, ret;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	n = ct_container_ranges(&ct, c, r, 16);
	cr_assert_gt(n, 0);
	if (!ct.compat) {
		cr_expect_not(ct_iova_in_ranges(r, n, 0xfee00000, len));
		cr_expect_eq(map(0xfee00000, buf, len), -EINVAL);
	} else {
		cr_expect(ct_iova_in_ranges(r, n, 0xfee00000, len),
			  "compat, no device yet: the MSI window is not reserved");
		cr_assert_eq(map(0xfee00000, buf, len), 0);
		ret = ct_ioctl(&ct, g, VFIO_GROUP_GET_DEVICE_FD, ct.dev[0].bdf);
		cr_expect_eq(ret, -EADDRINUSE, "attach over a mapped reserved range: %d", ret);
		if (ret >= 0)
			ct_close(&ct, ret);
		cr_assert_eq(unmap(0xfee00000, len, NULL), 0);
	}
	d = ct_device_fd(&ct, g, 0);
	n = ct_container_ranges(&ct, c, r, 16);
	cr_expect_not(ct_iova_in_ranges(r, n, 0xfee00000, len),
		      "with a device: the MSI window is reserved");
	ct_close_device(&ct, g, c, d);
	munmap(buf, len);
}

/*
 * When pages are pinned: type1 at MAP_DMA (its container always has a
 * domain), iommufd when the IOAS gets its first domain.  So over
 * RLIMIT_MEMLOCK, type1 fails the map and iommufd's compat layer fails the
 * first GET_DEVICE_FD instead, both with ENOMEM.
 */
Test(dma, pinning_happens_at_map_or_at_first_attach)
{
	size_t len = 256 << 10;
	void *buf = ct_buffer(len);
	int ret;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	ct_limit_memlock(&ct, 128 << 10);
	ret = map(1 << 20, buf, len);
	if (!ct.compat) {
		cr_expect_eq(ret, -ENOMEM, "type1 pins at map: %d", ret);
	} else {
		cr_expect_eq(ret, 0, "compat without a device pins nothing: %d", ret);
		ret = ct_ioctl(&ct, g, VFIO_GROUP_GET_DEVICE_FD, ct.dev[0].bdf);
		cr_expect_eq(ret, -ENOMEM, "compat pins at the first attach: %d", ret);
		if (ret >= 0)
			ct_close(&ct, ret);
		cr_assert_eq(unmap(1 << 20, len, NULL), 0);
	}
	d = ct_device_fd(&ct, g, 0);
	ct_close_device(&ct, g, c, d);
	munmap(buf, len);
}
