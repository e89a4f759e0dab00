// SPDX-License-Identifier: GPL-2.0-only
/*
 * The container's rules: /dev/vfio/vfio as type1 (drivers/vfio/container.c,
 * vfio_iommu_type1.c) or as iommufd's compat layer (iommufd/vfio_compat.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "ct.h"

static struct ct ct;

static void fini(void)
{
	ct_teardown(&ct);
}

TestSuite(container, .fini = fini);

Test(container, api_version_and_type1v2_extension)
{
	int c;

	ct_setup(&ct, CT_NEED_ONE);
	c = ct_open(&ct, "/dev/vfio/vfio");
	cr_expect_eq(ct_ioctl(&ct, c, VFIO_GET_API_VERSION, NULL), VFIO_API_VERSION);
	cr_expect_eq(ct_ioctl_val(&ct, c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 1);
	cr_expect_eq(ct_ioctl_val(&ct, c, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU), 1);
	cr_expect_eq(ct_ioctl_val(&ct, c, VFIO_CHECK_EXTENSION, 0x7777), 0);
	ct_close(&ct, c);
}

/* No group, no IOMMU: type1 says EINVAL, compat ENODEV (no compat IOAS yet). */
Test(container, set_iommu_before_any_group_fails)
{
	int c, ret;

	ct_setup(&ct, CT_NEED_ONE);
	c = ct_open(&ct, "/dev/vfio/vfio");
	ret = ct_ioctl_val(&ct, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
	cr_expect_eq(ret, ct.compat ? -ENODEV : -EINVAL, "SET_IOMMU without a group: %d", ret);
	ct_close(&ct, c);
}

/* type1: once per container; compat: no such state, it just succeeds again. */
Test(container, set_iommu_twice)
{
	int g, c, ret;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	ret = ct_ioctl_val(&ct, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
	cr_expect_eq(ret, ct.compat ? 0 : -EINVAL, "second SET_IOMMU: %d", ret);
	ct_close(&ct, g);
	ct_close(&ct, c);
}

Test(container, set_iommu_of_an_unknown_type_fails)
{
	int g, c, ret;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	c = ct_open(&ct, "/dev/vfio/vfio");
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	ret = ct_ioctl_val(&ct, c, VFIO_SET_IOMMU, 0x7777);
	/* type1: no driver claims it (ENODEV); compat: EINVAL */
	cr_expect_eq(ret, ct.compat ? -EINVAL : -ENODEV, "SET_IOMMU(0x7777): %d", ret);
	ct_close(&ct, g);
	ct_close(&ct, c);
}

Test(container, iommu_ioctls_before_set_iommu)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	int g, c, ret;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	c = ct_open(&ct, "/dev/vfio/vfio");
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	ret = ct_ioctl(&ct, c, VFIO_IOMMU_GET_INFO, &info);
	/* type1 passes no ioctl on without a driver; compat has its IOAS */
	cr_expect_eq(ret, ct.compat ? 0 : -EINVAL, "GET_INFO before SET_IOMMU: %d", ret);
	ct_close(&ct, g);
	ct_close(&ct, c);
}

/*
 * The argsz protocol: too small for the capabilities -> success with
 * VFIO_IOMMU_INFO_CAPS, argsz raised to what is needed, no chain; asked
 * again with that size -> cap_offset and a chain with the IOVA ranges and
 * dma_avail.
 */
Test(container, get_info_grows_argsz_then_gives_the_chain)
{
	struct vfio_iommu_type1_info small = { .argsz = sizeof(small) };
	union {
		struct vfio_iommu_type1_info info;
		uint8_t raw[4096];
	} u;
	bool ranges = false, avail = false;
	uint32_t dma_avail = 0;
	int g, c, d;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	d = ct_device_fd(&ct, g, 0);
	cr_assert_eq(ct_ioctl(&ct, c, VFIO_IOMMU_GET_INFO, &small), 0);
	cr_expect(small.flags & VFIO_IOMMU_INFO_PGSIZES);
	cr_expect(small.flags & VFIO_IOMMU_INFO_CAPS);
	cr_expect_neq(small.iova_pgsizes & 4096, 0, "4 KiB pages: %#llx",
		      (unsigned long long)small.iova_pgsizes);
	cr_assert_gt(small.argsz, sizeof(small), "argsz says how much the chain needs");
	cr_assert_lt(small.argsz, sizeof(u));
	cr_expect_eq(small.cap_offset, 0);
	memset(&u, 0xa5, sizeof(u));
	u.info.argsz = small.argsz;
	cr_assert_eq(ct_ioctl(&ct, c, VFIO_IOMMU_GET_INFO, &u.info), 0);
	cr_expect_eq(u.info.cap_offset, sizeof(u.info));
	for (uint32_t off = u.info.cap_offset, hops = 0; off && hops < 16; hops++) {
		struct vfio_info_cap_header *h = (void *)(u.raw + off);

		cr_assert_lt(off, small.argsz);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)
			ranges = ((struct vfio_iommu_type1_info_cap_iova_range *)h)->nr_iovas > 0;
		if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			avail = true;
			dma_avail = ((struct vfio_iommu_type1_info_dma_avail *)h)->avail;
		}
		off = h->next;
	}
	cr_expect(ranges, "IOVA range capability with ranges");
	cr_expect(avail, "DMA_AVAIL capability");
	/* iommufd has no entry limit and says U32_MAX; type1 its dma_entry_limit */
	if (ct.compat)
		cr_expect_eq(dma_avail, UINT32_MAX);
	else
		cr_expect_gt(dma_avail, 0);
	ct_close(&ct, d);
	ct_close(&ct, g);
	ct_close(&ct, c);
}

/*
 * A group holds its container: closing the container fd first leaves the
 * container (and its IOMMU) working for the group.
 */
Test(container, the_group_keeps_a_closed_container_alive)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	int g, c, d;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	ct_close(&ct, c);
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_GET_STATUS, &st), 0);
	cr_expect(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
	d = ct_device_fd(&ct, g, 0);
	ct_close(&ct, d);
	ct_close(&ct, g);
}

/*
 * The last group out takes the IOMMU with it (type1: the container is
 * deprivileged and every mapping dropped, so the same IOVA maps again after
 * a group re-attaches).  The compat layer keeps its IOAS, and its mappings,
 * for as long as the iommufd lives.
 */
Test(container, last_group_out_drops_the_mappings)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	size_t len = 64 << 10;
	void *buf = ct_buffer(len);
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)buf, .iova = 1 << 20, .size = len,
	};
	int g, c, d, ret;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	d = ct_device_fd(&ct, g, 0);
	cr_assert_eq(ct_ioctl(&ct, c, VFIO_IOMMU_MAP_DMA, &map), 0);
	ct_close(&ct, d);
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	ret = ct_ioctl(&ct, c, VFIO_IOMMU_GET_INFO, &info);
	cr_expect_eq(ret, ct.compat ? 0 : -EINVAL, "GET_INFO with no group left: %d", ret);
	if (ct.km && !ct.compat)
		cr_expect_eq(kmodel_pinned_bytes(ct.km), 0);
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	cr_assert_eq(ct_ioctl_val(&ct, c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
	d = ct_device_fd(&ct, g, 0);
	ret = ct_ioctl(&ct, c, VFIO_IOMMU_MAP_DMA, &map);
	cr_expect_eq(ret, ct.compat ? -EEXIST : 0, "the same map after re-attach: %d", ret);
	ct_close(&ct, d);
	ct_close(&ct, g);
	ct_close(&ct, c);
	munmap(buf, len);
}
