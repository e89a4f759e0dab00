// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the model's own API: building and inspecting a host, its fake
 * sysfs/procfs, fd accounting and the call log.  The kernel's rules are
 * tested in tests/contract, against the model and the real kernel alike.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmodel.h"

/*
 * Every model a test makes is tracked so that the suite's .fini frees it
 * even when an assertion ends the test early (its tree would stay in /tmp).
 */
static struct kmodel *tracked[4];

static struct kmodel *track(struct kmodel *km)
{
	for (size_t i = 0; km && i < sizeof(tracked) / sizeof(tracked[0]); i++) {
		if (!tracked[i]) {
			tracked[i] = km;
			return km;
		}
	}
	return km;
}

static void free_tracked(struct kmodel *km)
{
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
		if (tracked[i] == km)
			tracked[i] = NULL;
	kmodel_free(km);
}

static void fini(void)
{
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
		free_tracked(tracked[i]);
}

TestSuite(kmodel, .fini = fini);

static unsigned int count_proc_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned int n = 0;

	cr_assert(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static struct kmodel *host_one(void)
{
	struct kmodel *km = track(kmodel_new(NULL));

	cr_assert(km);
	cr_assert_eq(kmodel_add_device(km, "0000:00:03.0", 0x1234, 0x11e8, 7), 0);
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", "vfio-pci"), 0);
	return km;
}

Test(kmodel, sysfs_tree_reads_like_the_kernels)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	char buf[256];
	ssize_t n;
	int fd;

	n = sys->readlink(sys, "/sys/bus/pci/devices/0000:00:03.0/iommu_group", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_expect_str_eq(buf, "../../../kernel/iommu_groups/7");
	n = sys->readlink(sys, "/sys/bus/pci/devices/0000:00:03.0/driver", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_expect_str_eq(buf, "../../../bus/pci/drivers/vfio-pci");
	n = sys->readdir(sys, "/sys/kernel/iommu_groups/7/devices", buf, sizeof(buf));
	cr_assert_eq(n, 13);
	cr_expect_str_eq(buf, "0000:00:03.0");
	fd = sys->open(sys, "/sys/bus/pci/devices/0000:00:03.0/vendor", O_RDONLY);
	cr_assert_geq(fd, 0);
	n = sys->pread(sys, fd, buf, sizeof(buf) - 1, 0);
	cr_assert_eq(n, 7);
	buf[n] = '\0';
	cr_expect_str_eq(buf, "0x1234\n");
	sys->close(sys, fd);
	n = sys->readdir(sys, "/sys/bus/pci/devices/0000:00:03.0/vfio-dev", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_expect_str_eq(buf, "vfio0");
	free_tracked(km);
}

Test(kmodel, unbind_removes_driver_link_and_node)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	struct kmodel_group_state st;
	char buf[64];

	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", NULL), 0);
	cr_expect_eq(sys->readlink(sys, "/sys/bus/pci/devices/0000:00:03.0/driver", buf,
				   sizeof(buf)), -ENOENT);
	cr_expect_eq(sys->open(sys, "/dev/vfio/7", O_RDWR), -ENOENT);
	cr_assert_eq(kmodel_group_state(km, 7, &st), 0);
	cr_expect_not(st.node);
	cr_expect(st.viable, "an unbound device leaves its group viable");
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", "e1000e"), 0);
	cr_assert_eq(kmodel_group_state(km, 7, &st), 0);
	cr_expect_not(st.viable);
	free_tracked(km);
}

Test(kmodel, holder_appears_in_procfs)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	char buf[256];
	ssize_t n;
	int fd;

	cr_assert_eq(kmodel_hold_group(km, 7, 4242, "qemu-system-x86"), 0);
	n = sys->readdir(sys, "/proc", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_expect_str_eq(buf, "4242");
	n = sys->readlink(sys, "/proc/4242/fd/3", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_expect_str_eq(buf, "/dev/vfio/7");
	fd = sys->open(sys, "/proc/4242/comm", O_RDONLY);
	cr_assert_geq(fd, 0);
	n = sys->pread(sys, fd, buf, sizeof(buf) - 1, 0);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_expect_str_eq(buf, "qemu-system-x86\n");
	sys->close(sys, fd);
	cr_expect_eq(sys->open(sys, "/dev/vfio/7", O_RDWR), -EBUSY);
	cr_assert_eq(kmodel_release_group(km, 7), 0);
	fd = sys->open(sys, "/dev/vfio/7", O_RDWR);
	cr_expect_geq(fd, 0);
	cr_expect_eq(sys->readlink(sys, "/proc/4242/fd/3", buf, sizeof(buf)), -ENOENT);
	free_tracked(km);
}

Test(kmodel, model_fds_are_real_fds_and_free_closes_them)
{
	unsigned int before = count_proc_fds();
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	int g, c;

	g = sys->open(sys, "/dev/vfio/7", O_RDWR);
	c = sys->open(sys, "/dev/vfio/vfio", O_RDWR);
	cr_assert_geq(g, 0);
	cr_assert_geq(c, 0);
	cr_expect_eq(kmodel_live_fds(km), 2);
	cr_expect_eq(count_proc_fds(), before + 2 + 1 /* BAR memfd */);
	cr_expect_eq(sys->close(sys, c), 0);
	cr_expect_eq(kmodel_live_fds(km), 1);
	free_tracked(km);
	cr_expect_eq(count_proc_fds(), before, "kmodel_free() closes every fd it made");
}

Test(kmodel, tree_removed_on_free)
{
	struct kmodel *km = host_one();
	char root[128];
	struct stat st;

	snprintf(root, sizeof(root), "%s", kmodel_root(km));
	cr_assert_eq(stat(root, &st), 0);
	free_tracked(km);
	cr_expect_neq(stat(root, &st), 0);
}

Test(kmodel, log_records_calls)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	struct vfio_group_status st = { .argsz = sizeof(st) };
	int g;

	kmodel_log_enable(km, true);
	g = sys->open(sys, "/dev/vfio/7", O_RDWR);
	cr_assert_geq(g, 0);
	cr_assert_eq(sys->ioctl(sys, g, VFIO_GROUP_GET_STATUS, &st), 0);
	cr_expect(strstr(kmodel_log(km), "open /dev/vfio/7 = "));
	cr_expect(strstr(kmodel_log(km), "VFIO_GROUP_GET_STATUS = 0"));
	kmodel_log_clear(km);
	cr_expect_str_eq(kmodel_log(km), "");
	free_tracked(km);
}

Test(kmodel, from_sys_only_recognises_models)
{
	struct kmodel *km = host_one();

	cr_expect_eq(kmodel_from_sys(kmodel_sys(km)), km);
	cr_expect_null(kmodel_from_sys(vfio_sys_linux()));
	free_tracked(km);
}

Test(kmodel, getrlimit_reports_the_models_memlock)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	struct rlimit rl;

	kmodel_set_memlock(km, 1 << 20);
	cr_assert_eq(sys->getrlimit(sys, RLIMIT_MEMLOCK, &rl), 0);
	cr_expect_eq(rl.rlim_cur, 1 << 20);
	free_tracked(km);
}

Test(kmodel, bar_mmap_and_pread_see_the_same_bytes)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	int g, c, d, one = 0;
	uint32_t v = 0;
	void *p;

	g = sys->open(sys, "/dev/vfio/7", O_RDWR);
	c = sys->open(sys, "/dev/vfio/vfio", O_RDWR);
	one = c;
	cr_assert_eq(sys->ioctl(sys, g, VFIO_GROUP_SET_CONTAINER, &one), 0);
	cr_assert_eq(sys->ioctl(sys, c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), 0);
	d = sys->ioctl(sys, g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0");
	cr_assert_geq(d, 0);
	cr_assert_eq(sys->mmap(sys, d, 0, 4096, PROT_READ | PROT_WRITE, &p), 0);
	cr_expect_eq(*(volatile uint32_t *)p, 0x010000ed);
	*(volatile uint32_t *)((char *)p + 8) = 5;
	cr_assert_eq(sys->pread(sys, d, &v, 4, 8), 4);
	cr_expect_eq(v, 5);
	sys->munmap(sys, p, 4096);
	free_tracked(km);
}

/* ---- rules the lab cannot show (no such hardware or kernel there) ---- */

static int vfio_file_op(struct vfio_sys *sys, int kv, uint64_t op, int fd)
{
	int32_t v = fd;
	struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_FILE, .attr = op,
					.addr = (uintptr_t)&v };

	return sys->ioctl(sys, kv, KVM_SET_DEVICE_ATTR, &attr);
}

static int kvm_vfio_dev(struct vfio_sys *sys, int *kvm, int *vm)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };

	*kvm = sys->open(sys, "/dev/kvm", O_RDWR);
	cr_assert_geq(*kvm, 0);
	*vm = sys->ioctl(sys, *kvm, KVM_CREATE_VM, NULL);
	cr_assert_geq(*vm, 0);
	cr_assert_eq(sys->ioctl(sys, *vm, KVM_CREATE_DEVICE, &cd), 0);
	return cd.fd;
}

static int kvm_vfio_dev_again(struct vfio_sys *sys, int vm)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };

	cr_assert_eq(sys->ioctl(sys, vm, KVM_CREATE_DEVICE, &cd), 0);
	return cd.fd;
}

static int cdev_bind(struct vfio_sys *sys, int cd, int ictx)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = ictx };

	return sys->ioctl(sys, cd, VFIO_DEVICE_BIND_IOMMUFD, &b);
}

Test(kmodel, an_old_kernels_kvm_vfio_refuses_a_cdev_fd)
{
	struct kmodel_config cfg = kmodel_config_iommufd();
	struct kmodel *km;
	struct vfio_sys *sys;
	int kvm, vm, kv, cd, g;

	cfg.kvm_vfio_cdev = false;
	km = track(kmodel_new(&cfg));
	cr_assert(km);
	sys = kmodel_sys(km);
	cr_assert_eq(kmodel_add_device(km, "0000:00:03.0", 0x1234, 0x11e8, 7), 0);
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", "vfio-pci"), 0);
	kv = kvm_vfio_dev(sys, &kvm, &vm);
	cd = sys->open(sys, "/dev/vfio/devices/vfio0", O_RDWR);
	cr_assert_geq(cd, 0);
	cr_expect_eq(vfio_file_op(sys, kv, KVM_DEV_VFIO_FILE_ADD, cd), -EINVAL);
	sys->close(sys, cd);
	g = sys->open(sys, "/dev/vfio/7", O_RDWR);
	cr_expect_eq(vfio_file_op(sys, kv, KVM_DEV_VFIO_FILE_ADD, g), 0, "groups still are");
	free_tracked(km);
}

/* The device sees KVM only if its file was registered before it was opened/bound. */
Test(kmodel, kvm_reaches_a_device_registered_before_bind)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	int kvm, vm, kv, cd, ictx;

	kv = kvm_vfio_dev(sys, &kvm, &vm);
	ictx = sys->open(sys, "/dev/iommu", O_RDWR);
	cd = sys->open(sys, "/dev/vfio/devices/vfio0", O_RDWR);
	cr_assert_eq(vfio_file_op(sys, kv, KVM_DEV_VFIO_FILE_ADD, cd), 0);
	cr_assert_eq(cdev_bind(sys, cd, ictx), 0);
	cr_expect_eq(kmodel_device_kvm(km, "0000:00:03.0"), 1);
	/* kvm-vfio holds the file: closing the fd alone does not unbind */
	cr_assert_eq(sys->close(sys, cd), 0);
	cr_expect_eq(kmodel_device_bound(km, "0000:00:03.0"), 1);
	sys->close(sys, kv);
	cr_expect_eq(kmodel_device_bound(km, "0000:00:03.0"), 0);
	cr_expect_eq(kmodel_device_kvm(km, "0000:00:03.0"), -EBADFD);
	kv = kvm_vfio_dev_again(sys, vm);
	cd = sys->open(sys, "/dev/vfio/devices/vfio0", O_RDWR);
	cr_assert_eq(cdev_bind(sys, cd, ictx), 0);
	cr_assert_eq(vfio_file_op(sys, kv, KVM_DEV_VFIO_FILE_ADD, cd), 0);
	cr_expect_eq(kmodel_device_kvm(km, "0000:00:03.0"), 0, "registered after bind: no KVM");
	free_tracked(km);
}

Test(kmodel, msix_bar_reports_msix_mappable_and_sparse_areas)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	struct vfio_region_sparse_mmap_area areas[2] = { { 0, 0x2000 }, { 0x3000, 0x1000 } };
	union {
		struct vfio_region_info ri;
		uint8_t raw[512];
	} u = { .ri = { .argsz = sizeof(struct vfio_region_info), .index = 2 } };
	bool msix = false, sparse = false;
	int g, c, d;

	cr_assert_eq(kmodel_device_set_msix(km, "0000:00:03.0", 8, 2, 0x2000), 0);
	cr_assert_eq(kmodel_device_set_sparse_mmap(km, "0000:00:03.0", 2, areas, 2), 0);
	g = sys->open(sys, "/dev/vfio/7", O_RDWR);
	c = sys->open(sys, "/dev/vfio/vfio", O_RDWR);
	cr_assert_eq(sys->ioctl(sys, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	d = sys->ioctl(sys, g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0");
	cr_assert_geq(d, 0);
	cr_assert_eq(sys->ioctl(sys, d, VFIO_DEVICE_GET_REGION_INFO, &u.ri), 0);
	cr_assert(u.ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
	cr_assert(u.ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	cr_assert_gt(u.ri.argsz, sizeof(u.ri));
	u.ri.argsz = sizeof(u);
	cr_assert_eq(sys->ioctl(sys, d, VFIO_DEVICE_GET_REGION_INFO, &u.ri), 0);
	for (uint32_t off = u.ri.cap_offset; off;) {
		struct vfio_info_cap_header *h = (void *)(u.raw + off);

		if (h->id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE)
			msix = true;
		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			struct vfio_region_info_cap_sparse_mmap *s = (void *)h;

			sparse = s->nr_areas == 2 && s->areas[1].offset == 0x3000;
		}
		off = h->next;
	}
	cr_expect(msix);
	cr_expect(sparse);
	{
		struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };

		cr_assert_eq(sys->ioctl(sys, d, VFIO_DEVICE_GET_IRQ_INFO, &ii), 0);
		cr_expect_eq(ii.count, 8);
	}
	free_tracked(km);
}

Test(kmodel, without_interrupt_remapping_set_iommu_is_eperm)
{
	struct kmodel_config cfg = kmodel_config_legacy();
	struct kmodel *km;
	struct vfio_sys *sys;
	int g, c;

	cfg.irq_remap = false;
	km = track(kmodel_new(&cfg));
	cr_assert(km);
	sys = kmodel_sys(km);
	cr_assert_eq(kmodel_add_device(km, "0000:00:03.0", 0x1234, 0x11e8, 7), 0);
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", "vfio-pci"), 0);
	g = sys->open(sys, "/dev/vfio/7", O_RDWR);
	c = sys->open(sys, "/dev/vfio/vfio", O_RDWR);
	cr_assert_eq(sys->ioctl(sys, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	cr_expect_eq(sys->ioctl(sys, c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU),
		     -EPERM);
	free_tracked(km);
}

/* vfio_device_remove_group(): the last vfio device leaving revokes an open group. */
Test(kmodel, unbinding_the_last_device_revokes_an_open_group)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	struct vfio_group_status st = { .argsz = sizeof(st) };
	int g, c, d;

	g = sys->open(sys, "/dev/vfio/7", O_RDWR);
	c = sys->open(sys, "/dev/vfio/vfio", O_RDWR);
	cr_assert_eq(sys->ioctl(sys, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	d = sys->ioctl(sys, g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0");
	cr_assert_geq(d, 0);
	cr_expect_eq(kmodel_bind(km, "0000:00:03.0", NULL), -EBUSY, "an open device stays bound");
	cr_assert_eq(sys->close(sys, d), 0);
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", NULL), 0);
	cr_expect_eq(sys->ioctl(sys, g, VFIO_GROUP_GET_STATUS, &st), -ENODEV);
	cr_expect_eq(sys->ioctl(sys, g, VFIO_GROUP_SET_CONTAINER, &c), -EINVAL,
		     "compat: the iommufd is still set");
	cr_assert_eq(sys->close(sys, g), 0);
	free_tracked(km);
}

/* A host driver cannot probe while userspace owns the group's DMA. */
Test(kmodel, host_driver_cannot_bind_into_an_owned_group)
{
	struct kmodel *km = track(kmodel_new(NULL));
	struct vfio_sys *sys;
	int cd, ictx;

	cr_assert(km);
	sys = kmodel_sys(km);
	cr_assert_eq(kmodel_add_device(km, "0000:01:01.0", 0x1234, 0x11e8, 9), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:01:02.0", 0x1234, 0x11e8, 9), 0);
	cr_assert_eq(kmodel_bind(km, "0000:01:01.0", "vfio-pci"), 0);
	ictx = sys->open(sys, "/dev/iommu", O_RDWR);
	cd = sys->open(sys, "/dev/vfio/devices/vfio0", O_RDWR);
	cr_assert_eq(cdev_bind(sys, cd, ictx), 0);
	cr_expect_eq(kmodel_bind(km, "0000:01:02.0", "e1000e"), -EBUSY);
	cr_expect_eq(kmodel_bind(km, "0000:01:02.0", "pci-stub"), 0, "driver_managed_dma");
	free_tracked(km);
}

/* iommufd pins when a domain arrives and refuses one over a mapped reserved range. */
Test(kmodel, ioas_pins_and_checks_reserved_iova_at_attach)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	size_t len = 64 << 10;
	void *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	struct iommu_ioas_map m = {
		.size = sizeof(m), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
		.user_va = (uintptr_t)buf, .length = len, .iova = 0xfee00000,
	};
	struct iommu_ioas_unmap u = { .size = sizeof(u), .iova = 0xfee00000, .length = len };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	int cd, ictx;

	cr_assert_neq(buf, MAP_FAILED);
	ictx = sys->open(sys, "/dev/iommu", O_RDWR);
	cd = sys->open(sys, "/dev/vfio/devices/vfio0", O_RDWR);
	cr_assert_eq(cdev_bind(sys, cd, ictx), 0);
	cr_assert_eq(sys->ioctl(sys, ictx, IOMMU_IOAS_ALLOC, &a), 0);
	m.ioas_id = u.ioas_id = at.pt_id = a.out_ioas_id;
	cr_assert_eq(sys->ioctl(sys, ictx, IOMMU_IOAS_MAP, &m), 0);
	cr_expect_eq(kmodel_pinned_bytes(km), 0);
	cr_expect_eq(sys->ioctl(sys, cd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), -EADDRINUSE);
	cr_assert_eq(sys->ioctl(sys, ictx, IOMMU_IOAS_UNMAP, &u), 0);
	m.iova = 1 << 20;
	cr_assert_eq(sys->ioctl(sys, ictx, IOMMU_IOAS_MAP, &m), 0);
	kmodel_set_memlock(km, len / 2);
	cr_expect_eq(sys->ioctl(sys, cd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), -ENOMEM);
	kmodel_set_memlock(km, len);
	cr_assert_eq(sys->ioctl(sys, cd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), 0);
	cr_expect_eq(kmodel_pinned_bytes(km), len);
	{
		uint32_t pt = 0;

		cr_assert_eq(kmodel_device_attached_pt(km, "0000:00:03.0", &pt), 0);
		cr_expect_eq(pt, a.out_ioas_id);
	}
	/* an allocated IOVA avoids the reserved window */
	m.flags = IOMMU_IOAS_MAP_READABLE;
	m.iova = 0;
	kmodel_set_memlock(km, 1ULL << 40);
	cr_assert_eq(sys->ioctl(sys, ictx, IOMMU_IOAS_MAP, &m), 0);
	cr_expect(m.iova + len <= 0xfee00000 || m.iova > 0xfeefffff);
	cr_assert_eq(sys->close(sys, cd), 0);
	cr_expect_eq(kmodel_pinned_bytes(km), 0, "the last domain gone unpins");
	free_tracked(km);
	munmap(buf, len);
}

/* container_users: 1 for the group, + 1 per open device (not per fd). */
Test(kmodel, container_users_count_devices_not_fds)
{
	struct kmodel_config cfg = kmodel_config_legacy();
	struct kmodel *km = track(kmodel_new(&cfg));
	struct vfio_sys *sys;
	struct kmodel_group_state st;
	int g, c, d1, d2;

	cr_assert(km);
	sys = kmodel_sys(km);
	cr_assert_eq(kmodel_add_device(km, "0000:00:03.0", 0x1234, 0x11e8, 7), 0);
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", "vfio-pci"), 0);
	g = sys->open(sys, "/dev/vfio/7", O_RDWR);
	c = sys->open(sys, "/dev/vfio/vfio", O_RDWR);
	cr_assert_eq(sys->ioctl(sys, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	cr_assert_eq(sys->ioctl(sys, c, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), 0);
	d1 = sys->ioctl(sys, g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0");
	d2 = sys->ioctl(sys, g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:03.0");
	cr_assert(d1 >= 0 && d2 >= 0);
	cr_assert_eq(kmodel_group_state(km, 7, &st), 0);
	cr_expect_eq(st.container_users, 2);
	cr_expect_eq(st.device_fds, 2);
	cr_expect_eq(kmodel_device_open_count(km, "0000:00:03.0"), 2);
	cr_expect_eq(kmodel_container_has_iommu(km, c), 1);
	sys->close(sys, d1);
	sys->close(sys, d2);
	sys->close(sys, g);
	cr_expect_eq(kmodel_container_has_iommu(km, c), 0, "the last group took the IOMMU");
	free_tracked(km);
}
