// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd (/dev/iommu) and the device cdev (/dev/vfio/devices/vfioX):
 * drivers/iommu/iommufd/{ioas,main}.c and drivers/vfio/device_cdev.c.
 * Skipped on a kernel without them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct.h"

static struct ct ct;
static char cdev_path[64];

static void fini(void)
{
	ct_teardown(&ct);
}

TestSuite(iommufd, .fini = fini);

static void setup_iommufd(bool need_cdev)
{
	ct_setup(&ct, CT_NEED_ONE);
	if (!ct.iommufd)
		ct_skip(&ct, "no /dev/iommu on this kernel");
	if (need_cdev && ct.dev[0].cdev < 0)
		ct_skip(&ct, "%s has no VFIO cdev on this kernel", ct.dev[0].bdf);
	snprintf(cdev_path, sizeof(cdev_path), "/dev/vfio/devices/vfio%d", ct.dev[0].cdev);
}

static uint32_t ioas_alloc(int ictx)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	int ret = ct_ioctl(&ct, ictx, IOMMU_IOAS_ALLOC, &a);

	cr_assert_eq(ret, 0, "IOAS_ALLOC: %s", strerror(-ret));
	return a.out_ioas_id;
}

static int bind(int cdev, int ictx, uint32_t *devid)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = ictx };
	int ret = ct_ioctl(&ct, cdev, VFIO_DEVICE_BIND_IOMMUFD, &b);

	if (devid)
		*devid = b.out_devid;
	return ret;
}

static int attach(int cdev, uint32_t pt)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = pt };

	return ct_ioctl(&ct, cdev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);
}

static int detach(int cdev)
{
	struct vfio_device_detach_iommufd_pt dt = { .argsz = sizeof(dt) };

	return ct_ioctl(&ct, cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt);
}

static int destroy(int ictx, uint32_t id)
{
	struct iommu_destroy ds = { .size = sizeof(ds), .id = id };

	return ct_ioctl(&ct, ictx, IOMMU_DESTROY, &ds);
}

static int ioas_map(int ictx, uint32_t ioas, uint64_t iova, void *va, uint64_t len)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas, .user_va = (uintptr_t)va, .length = len, .iova = iova,
	};

	return ct_ioctl(&ct, ictx, IOMMU_IOAS_MAP, &m);
}

static int ioas_unmap(int ictx, uint32_t ioas, uint64_t iova, uint64_t len, uint64_t *done)
{
	struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = iova,
				      .length = len };
	int ret = ct_ioctl(&ct, ictx, IOMMU_IOAS_UNMAP, &u);

	if (done)
		*done = u.length;
	return ret;
}

/* The ranges of @ioas; returns their count. */
static int ioas_ranges(int ictx, uint32_t ioas, struct iommu_iova_range *r, uint32_t max)
{
	struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = ioas,
					    .num_iovas = max, .allowed_iovas = (uintptr_t)r };
	int ret = ct_ioctl(&ct, ictx, IOMMU_IOAS_IOVA_RANGES, &q);

	cr_assert_eq(ret, 0, "IOAS_IOVA_RANGES: %s", strerror(-ret));
	return q.num_iovas;
}

static bool in_ranges(const struct iommu_iova_range *r, int n, uint64_t iova, uint64_t len)
{
	for (int i = 0; i < n; i++)
		if (iova >= r[i].start && iova + len - 1 <= r[i].last)
			return true;
	return false;
}

Test(iommufd, iova_ranges_with_too_small_an_array_is_emsgsize)
{
	struct iommu_iova_range r[8];
	struct iommu_ioas_iova_ranges q = { .size = sizeof(q) };
	int ictx;

	setup_iommufd(false);
	ictx = ct_open(&ct, "/dev/iommu");
	q.ioas_id = ioas_alloc(ictx);
	cr_expect_eq(ct_ioctl(&ct, ictx, IOMMU_IOAS_IOVA_RANGES, &q), -EMSGSIZE);
	cr_expect_geq(q.num_iovas, 1, "num_iovas says how many there are");
	cr_expect_geq(ioas_ranges(ictx, q.ioas_id, r, 8), 1);
	q.ioas_id = 9999;
	cr_expect_eq(ct_ioctl(&ct, ictx, IOMMU_IOAS_IOVA_RANGES, &q), -ENOENT);
	ct_close(&ct, ictx);
}

/*
 * Opening a cdev blocks nothing; BIND_IOMMUFD does: it is EBUSY while the
 * group is open, and while a cdev is bound the group cannot be opened.
 */
Test(iommufd, cdev_bind_and_the_group_exclude_each_other)
{
	int g, cd, ictx, ret;

	setup_iommufd(true);
	ictx = ct_open(&ct, "/dev/iommu");
	g = ct_open_group(&ct);
	cd = ct_open(&ct, cdev_path);
	cr_expect_eq(bind(cd, ictx, NULL), -EBUSY, "bind while the group is open");
	ct_close(&ct, g);
	cr_assert_eq(bind(cd, ictx, NULL), 0);
	ret = ct.sys->open(ct.sys, ct.group_path, O_RDWR);
	cr_expect_eq(ret, -EBUSY, "group open while a cdev is bound: %d", ret);
	if (ret >= 0)
		ct_close(&ct, ret);
	ct_close(&ct, cd);
	g = ct_open_group(&ct);
	ct_close(&ct, g);
	ct_close(&ct, ictx);
}

Test(iommufd, an_unbound_cdev_answers_only_bind)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int cd;

	setup_iommufd(true);
	cd = ct_open(&ct, cdev_path);
	cr_expect_eq(ct_ioctl(&ct, cd, VFIO_DEVICE_GET_INFO, &info), -EINVAL);
	ct_close(&ct, cd);
}

Test(iommufd, bind_checks_its_iommufd)
{
	int cd, efd, ictx;

	setup_iommufd(true);
	cd = ct_open(&ct, cdev_path);
	efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	cr_expect_eq(bind(cd, efd, NULL), -EBADFD);
	cr_expect_eq(bind(cd, -1, NULL), -EINVAL);
	ictx = ct_open(&ct, "/dev/iommu");
	cr_expect_eq(bind(cd, ictx, NULL), 0);
	cr_expect_eq(bind(cd, ictx, NULL), -EINVAL, "bound once only");
	close(efd);
	ct_close(&ct, cd);
	ct_close(&ct, ictx);
}

Test(iommufd, a_device_binds_through_one_cdev_fd_only)
{
	int cd1, cd2, ictx;

	setup_iommufd(true);
	ictx = ct_open(&ct, "/dev/iommu");
	cd1 = ct_open(&ct, cdev_path);
	cd2 = ct_open(&ct, cdev_path);
	cr_assert_eq(bind(cd1, ictx, NULL), 0);
	cr_expect_eq(bind(cd2, ictx, NULL), -EINVAL);
	ct_close(&ct, cd2);
	ct_close(&ct, cd1);
	ct_close(&ct, ictx);
}

/*
 * Attach gives the IOAS a domain: reserved IOVA appears in its ranges and
 * maps there fail; an IOAS with a device on it cannot be destroyed.
 */
Test(iommufd, attach_map_detach_destroy)
{
	struct iommu_iova_range r[16];
	size_t len = 64 << 10;
	void *buf = ct_buffer(len);
	uint64_t done = 0;
	uint32_t ioas, devid = 0;
	int cd, ictx, n;

	setup_iommufd(true);
	ictx = ct_open(&ct, "/dev/iommu");
	cd = ct_open(&ct, cdev_path);
	cr_assert_eq(bind(cd, ictx, &devid), 0);
	cr_expect_neq(devid, 0);
	ioas = ioas_alloc(ictx);
	cr_expect_eq(attach(cd, 9999), -ENOENT);
	cr_assert_eq(attach(cd, ioas), 0);
	n = ioas_ranges(ictx, ioas, r, 16);
	cr_expect_not(in_ranges(r, n, 0xfee00000, 4096), "the MSI window is reserved");
	cr_expect_eq(ioas_map(ictx, ioas, 0xfee00000, buf, 4096), -EINVAL);
	cr_assert_eq(ioas_map(ictx, ioas, 1 << 20, buf, len), 0);
	cr_expect_eq(ioas_map(ictx, ioas, (1 << 20) + 4096, buf, 4096), -EEXIST);
	cr_expect_eq(destroy(ictx, ioas), -EBUSY, "an IOAS in use");
	cr_expect_eq(detach(cd), 0);
	cr_expect_eq(ioas_unmap(ictx, ioas, 1 << 20, len, &done), 0);
	cr_expect_eq(done, len);
	cr_expect_eq(ioas_unmap(ictx, ioas, 1 << 20, len, NULL), -ENOENT, "nothing left there");
	cr_expect_eq(destroy(ictx, ioas), 0);
	cr_expect_eq(destroy(ictx, ioas), -ENOENT);
	ct_close(&ct, cd);
	ct_close(&ct, ictx);
	munmap(buf, len);
}

Test(iommufd, hwpt_alloc_and_attach)
{
	struct iommu_hwpt_alloc h = { .size = sizeof(h) };
	uint32_t ioas, devid = 0;
	int cd, ictx;

	setup_iommufd(true);
	ictx = ct_open(&ct, "/dev/iommu");
	cd = ct_open(&ct, cdev_path);
	cr_assert_eq(bind(cd, ictx, &devid), 0);
	ioas = ioas_alloc(ictx);
	h.dev_id = devid;
	h.pt_id = ioas;
	cr_assert_eq(ct_ioctl(&ct, ictx, IOMMU_HWPT_ALLOC, &h), 0);
	cr_expect_neq(h.out_hwpt_id, 0);
	cr_expect_eq(attach(cd, h.out_hwpt_id), 0);
	cr_expect_eq(destroy(ictx, h.out_hwpt_id), -EBUSY);
	cr_expect_eq(destroy(ictx, ioas), -EBUSY, "the HWPT holds its IOAS");
	cr_expect_eq(detach(cd), 0);
	cr_expect_eq(destroy(ictx, h.out_hwpt_id), 0);
	cr_expect_eq(destroy(ictx, ioas), 0);
	ct_close(&ct, cd);
	ct_close(&ct, ictx);
}

Test(iommufd, rlimit_mode_is_set_before_any_object)
{
	struct iommu_option opt = { .size = sizeof(opt), .option_id = IOMMU_OPTION_RLIMIT_MODE,
				    .op = IOMMU_OPTION_OP_GET };
	int ictx;

	setup_iommufd(false);
	ictx = ct_open(&ct, "/dev/iommu");
	cr_assert_eq(ct_ioctl(&ct, ictx, IOMMU_OPTION, &opt), 0);
	cr_expect_eq(opt.val64, 0, "per-user accounting by default");
	opt.op = IOMMU_OPTION_OP_SET;
	opt.val64 = 1;
	cr_expect_eq(ct_ioctl(&ct, ictx, IOMMU_OPTION, &opt), 0);
	opt.op = IOMMU_OPTION_OP_GET;
	cr_assert_eq(ct_ioctl(&ct, ictx, IOMMU_OPTION, &opt), 0);
	cr_expect_eq(opt.val64, 1);
	ioas_alloc(ictx);
	opt.op = IOMMU_OPTION_OP_SET;
	opt.val64 = 0;
	cr_expect_eq(ct_ioctl(&ct, ictx, IOMMU_OPTION, &opt), -EBUSY);
	ct_close(&ct, ictx);
}

/* Without a domain an IOAS maps anything and pins nothing. */
Test(iommufd, an_ioas_without_a_device_has_no_reserved_iova)
{
	struct iommu_iova_range r[4];
	size_t len = 4096;
	void *buf = ct_buffer(len);
	uint32_t ioas;
	int ictx, n;

	setup_iommufd(false);
	ictx = ct_open(&ct, "/dev/iommu");
	ioas = ioas_alloc(ictx);
	n = ioas_ranges(ictx, ioas, r, 4);
	cr_expect_eq(n, 1);
	cr_expect_eq(r[0].start, 0);
	cr_expect_eq(r[0].last, UINT64_MAX);
	cr_expect_eq(ioas_map(ictx, ioas, 0xfee00000, buf, len), 0);
	if (ct.km)
		cr_expect_eq(kmodel_pinned_bytes(ct.km), 0);
	ct_close(&ct, ictx);
	munmap(buf, len);
}
