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
	struct kmodel *km = kmodel_new(NULL);

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
	kmodel_free(km);
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
	kmodel_free(km);
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
	kmodel_free(km);
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
	kmodel_free(km);
	cr_expect_eq(count_proc_fds(), before, "kmodel_free() closes every fd it made");
}

Test(kmodel, tree_removed_on_free)
{
	struct kmodel *km = host_one();
	char root[128];
	struct stat st;

	snprintf(root, sizeof(root), "%s", kmodel_root(km));
	cr_assert_eq(stat(root, &st), 0);
	kmodel_free(km);
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
	kmodel_free(km);
}

Test(kmodel, from_sys_only_recognises_models)
{
	struct kmodel *km = host_one();

	cr_expect_eq(kmodel_from_sys(kmodel_sys(km)), km);
	cr_expect_null(kmodel_from_sys(vfio_sys_linux()));
	kmodel_free(km);
}

Test(kmodel, getrlimit_reports_the_models_memlock)
{
	struct kmodel *km = host_one();
	struct vfio_sys *sys = kmodel_sys(km);
	struct rlimit rl;

	kmodel_set_memlock(km, 1 << 20);
	cr_assert_eq(sys->getrlimit(sys, RLIMIT_MEMLOCK, &rl), 0);
	cr_expect_eq(rl.rlim_cur, 1 << 20);
	kmodel_free(km);
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
	kmodel_free(km);
}
