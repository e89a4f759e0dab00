// SPDX-License-Identifier: GPL-2.0-only
/*
 * The group node's rules (drivers/vfio/group.c): one opener, viability,
 * SET/UNSET_CONTAINER, GET_DEVICE_FD, and the device fd's hold on the group.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ct.h"

static struct ct ct;

static void fini(void)
{
	ct_teardown(&ct);
}

TestSuite(group, .fini = fini);

static uint32_t group_status(int group)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	int ret = ct_ioctl(&ct, group, VFIO_GROUP_GET_STATUS, &st);

	cr_assert_eq(ret, 0, "GET_STATUS: %s", strerror(-ret));
	return st.flags;
}

Test(group, second_open_is_ebusy)
{
	int g, ret;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	ret = ct.sys->open(ct.sys, ct.group_path, O_RDWR);
	cr_expect_eq(ret, -EBUSY, "second open of %s: %d", ct.group_path, ret);
	if (ret >= 0)
		ct_close(&ct, ret);
	ct_close(&ct, g);
	g = ct_open_group(&ct);
	ct_close(&ct, g);
}

/* Finds, through /proc, the process that has @path open; 0 if none. */
static pid_t find_holder(const char *path)
{
	static char pids[1 << 16];
	ssize_t n = ct.sys->readdir(ct.sys, "/proc", pids, sizeof(pids));

	cr_assert_geq(n, 0, "readdir /proc: %s", strerror(-n));
	for (char *p = pids; p < pids + n; p += strlen(p) + 1) {
		char dir[64], fds[4096];
		ssize_t m;

		if (*p < '1' || *p > '9' || (pid_t)atoi(p) == getpid())
			continue;
		if (snprintf(dir, sizeof(dir), "/proc/%s/fd", p) >= (int)sizeof(dir))
			continue;
		m = ct.sys->readdir(ct.sys, dir, fds, sizeof(fds));
		for (char *f = fds; m > 0 && f < fds + m; f += strlen(f) + 1) {
			char link[128], target[128];
			ssize_t k;

			if (snprintf(link, sizeof(link), "%s/%s", dir, f) >= (int)sizeof(link))
				continue;
			k = ct.sys->readlink(ct.sys, link, target, sizeof(target) - 1);
			if (k <= 0)
				continue;
			target[k] = '\0';
			if (!strcmp(target, path))
				return atoi(p);
		}
	}
	return 0;
}

Test(group, held_by_another_process_is_ebusy_and_procfs_names_it)
{
	char path[64], comm[64];
	pid_t holder;
	ssize_t n;
	int ret, fd;

	ct_setup(&ct, CT_NEED_ONE);
	holder = ct_hold_group_elsewhere(&ct);
	ret = ct.sys->open(ct.sys, ct.group_path, O_RDWR);
	cr_expect_eq(ret, -EBUSY, "open of a group another process holds: %d", ret);
	if (ret >= 0)
		ct_close(&ct, ret);
	cr_expect_eq(find_holder(ct.group_path), holder,
		     "/proc/PID/fd shows who holds %s", ct.group_path);
	snprintf(path, sizeof(path), "/proc/%d/comm", holder);
	fd = ct_open_ro(&ct, path);
	n = ct.sys->pread(ct.sys, fd, comm, sizeof(comm) - 1, 0);
	cr_expect_gt(n, 1, "/proc/%d/comm names the process", holder);
	ct_close(&ct, fd);
	ct_release_holder(&ct, holder);
	fd = ct_open_group(&ct);
	ct_close(&ct, fd);
}

Test(group, status_is_viable_then_container_set)
{
	int g, c;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	cr_expect_eq(group_status(g), VFIO_GROUP_FLAGS_VIABLE);
	c = ct_open(&ct, "/dev/vfio/vfio");
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	cr_expect_eq(group_status(g), VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	cr_expect_eq(group_status(g), VFIO_GROUP_FLAGS_VIABLE);
	ct_close(&ct, g);
	ct_close(&ct, c);
}

Test(group, status_with_short_argsz_is_einval)
{
	struct vfio_group_status st = { .argsz = 4 };
	int g;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_GET_STATUS, &st), -EINVAL);
	ct_close(&ct, g);
}

/*
 * Not viable: a type1 container claims the group's DMA at SET_CONTAINER and
 * fails with EPERM; iommufd claims per device at GET_DEVICE_FD, so there
 * SET_CONTAINER works, the status even says VIABLE, and GET_DEVICE_FD fails.
 */
Test(group, not_viable_group_is_refused)
{
	int g, c, ret;

	ct_setup(&ct, CT_NEED_NOT_VIABLE);
	g = ct_open_group(&ct);
	cr_expect_eq(group_status(g) & VFIO_GROUP_FLAGS_VIABLE, 0);
	c = ct_open(&ct, "/dev/vfio/vfio");
	ret = ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c);
	if (!ct.compat) {
		cr_expect_eq(ret, -EPERM, "type1 SET_CONTAINER of a non-viable group: %d", ret);
	} else {
		cr_assert_eq(ret, 0, "compat SET_CONTAINER of a non-viable group: %d", ret);
		cr_expect_eq(group_status(g),
			     VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
		ret = ct_ioctl(&ct, g, VFIO_GROUP_GET_DEVICE_FD, ct.dev[0].bdf);
		cr_expect_eq(ret, -EPERM, "compat GET_DEVICE_FD in a non-viable group: %d", ret);
		if (ret >= 0)
			ct_close(&ct, ret);
	}
	ct_close(&ct, g);
	ct_close(&ct, c);
}

Test(group, set_container_with_an_eventfd_is_refused)
{
	int g, efd, ret;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	ret = ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &efd);
	/* EBADFD since iommufd came to group.c (6.2); 6.1 said EINVAL (lab-verified) */
	cr_expect_eq(ret, ct.pre_6_2 ? -EINVAL : -EBADFD, "SET_CONTAINER(eventfd): %d", ret);
	cr_expect_eq(group_status(g), VFIO_GROUP_FLAGS_VIABLE);
	close(efd);
	ct_close(&ct, g);
}

Test(group, set_container_with_a_closed_fd_is_ebadf)
{
	int g, efd;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	close(efd);
	cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &efd), -EBADF);
	ct_close(&ct, g);
}

Test(group, set_container_twice_is_einval)
{
	int g, c1, c2;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	c1 = ct_open(&ct, "/dev/vfio/vfio");
	c2 = ct_open(&ct, "/dev/vfio/vfio");
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c1), 0);
	cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c1), -EINVAL);
	cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c2), -EINVAL);
	ct_close(&ct, g);
	ct_close(&ct, c1);
	ct_close(&ct, c2);
}

Test(group, set_container_accepts_an_iommufd)
{
	int g, ictx, d;

	ct_setup(&ct, CT_NEED_ONE);
	if (!ct.iommufd)
		ct_skip(&ct, "no /dev/iommu on this kernel");
	g = ct_open_group(&ct);
	ictx = ct_open(&ct, "/dev/iommu");
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &ictx), 0);
	cr_expect_eq(group_status(g), VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
	/* no VFIO_SET_IOMMU on this path: the compat IOAS exists already */
	d = ct_device_fd(&ct, g, 0);
	ct_close(&ct, d);
	ct_close(&ct, g);
	ct_close(&ct, ictx);
}

Test(group, unset_without_a_container_is_einval)
{
	int g;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
	ct_close(&ct, g);
}

/*
 * Only the 1 -> 0 transition: a type1 container counts the open device as a
 * user and refuses.  iommufd's path has no such count: UNSET just drops the
 * iommufd while the device stays bound to it.
 */
Test(group, unset_with_a_device_open)
{
	int g, c, d, ret;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	d = ct_device_fd(&ct, g, 0);
	ret = ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL);
	if (!ct.compat) {
		cr_expect_eq(ret, -EBUSY, "type1 UNSET_CONTAINER with a device open: %d", ret);
		cr_expect_eq(group_status(g) & VFIO_GROUP_FLAGS_CONTAINER_SET,
			     VFIO_GROUP_FLAGS_CONTAINER_SET);
		ct_close(&ct, d);
		cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	} else {
		cr_expect_eq(ret, 0, "compat UNSET_CONTAINER with a device open: %d", ret);
		cr_expect_eq(group_status(g) & VFIO_GROUP_FLAGS_CONTAINER_SET, 0);
		ct_close(&ct, d);
	}
	ct_close(&ct, g);
	ct_close(&ct, c);
}

/*
 * Seed 003: with a type1 container the device fd holds the group file, so
 * closing the group fd does not release the group; it is busy until the
 * device fd closes.  Linux 6.12 takes that hold only on the container path:
 * with iommufd (compat) the group file is released at once and can be
 * reopened while the device fd lives on.
 */
Test(group, device_fd_keeps_the_group_open)
{
	int g, c, d, ret;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	d = ct_device_fd(&ct, g, 0);
	ct_close(&ct, g);
	ret = ct.sys->open(ct.sys, ct.group_path, O_RDWR);
	if (!ct.compat) {
		cr_expect_eq(ret, -EBUSY, "reopen while a device fd holds the group: %d", ret);
		if (ret >= 0)
			ct_close(&ct, ret);
		ct_close(&ct, d);
		g = ct_open_group(&ct);
		cr_expect_eq(group_status(g), VFIO_GROUP_FLAGS_VIABLE,
			     "the last close detached the container");
		ct_close(&ct, g);
	} else {
		cr_expect_geq(ret, 0, "compat: reopen with a device fd open: %d", ret);
		if (ret >= 0) {
			/* the device is still bound to the iommufd: DMA owned, not viable */
			cr_expect_eq(group_status(ret), 0);
			ct_close(&ct, ret);
		}
		ct_close(&ct, d);
	}
	ct_close(&ct, c);
}

Test(group, get_device_fd_needs_a_container)
{
	int g;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_GET_DEVICE_FD, ct.dev[0].bdf), -EINVAL);
	ct_close(&ct, g);
}

/* type1: no IOMMU set, no device (EINVAL); compat: the IOAS is there already. */
Test(group, get_device_fd_before_set_iommu)
{
	int g, c, ret;

	ct_setup(&ct, CT_NEED_ONE);
	g = ct_open_group(&ct);
	c = ct_open(&ct, "/dev/vfio/vfio");
	cr_assert_eq(ct_ioctl(&ct, g, VFIO_GROUP_SET_CONTAINER, &c), 0);
	ret = ct_ioctl(&ct, g, VFIO_GROUP_GET_DEVICE_FD, ct.dev[0].bdf);
	if (!ct.compat)
		cr_expect_eq(ret, -EINVAL, "type1 GET_DEVICE_FD before SET_IOMMU: %d", ret);
	else
		cr_expect_geq(ret, 0, "compat GET_DEVICE_FD before SET_IOMMU: %d", ret);
	if (ret >= 0)
		ct_close(&ct, ret);
	ct_close(&ct, g);
	ct_close(&ct, c);
}

Test(group, get_device_fd_of_an_unknown_device_is_enodev)
{
	int g, c;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_GET_DEVICE_FD, "0000:ff:1f.7"), -ENODEV);
	ct_close(&ct, g);
	ct_close(&ct, c);
}

Test(group, a_device_may_be_opened_twice_through_its_group)
{
	int g, c, d1, d2;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	d1 = ct_device_fd(&ct, g, 0);
	d2 = ct_device_fd(&ct, g, 0);
	cr_expect_neq(d1, d2);
	ct_close(&ct, d1);
	ct_close(&ct, d2);
	ct_close(&ct, g);
	ct_close(&ct, c);
}

/* Each open device of the group is a container user (type1). */
Test(group, every_open_device_of_the_group_blocks_unset)
{
	int g, c, d0, d1, ret;

	ct_setup(&ct, CT_NEED_TWO_IN_GROUP);
	ct_group_with_container(&ct, &g, &c);
	d0 = ct_device_fd(&ct, g, 0);
	d1 = ct_device_fd(&ct, g, 1);
	if (!ct.compat) {
		ct_close(&ct, d0);
		cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
		ct_close(&ct, d1);
		cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	} else {
		ret = ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL);
		cr_expect_eq(ret, 0, "compat UNSET with two devices open: %d", ret);
		ct_close(&ct, d0);
		ct_close(&ct, d1);
	}
	ct_close(&ct, g);
	ct_close(&ct, c);
}

/* Hot-unplug: once everything is closed the group can be opened again at once. */
Test(group, full_teardown_frees_the_group_for_reuse)
{
	int g, c, d;

	ct_setup(&ct, CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	d = ct_device_fd(&ct, g, 0);
	ct_close(&ct, d);
	cr_expect_eq(ct_ioctl(&ct, g, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	ct_close(&ct, g);
	ct_close(&ct, c);
	g = ct_open_group(&ct);
	cr_expect_eq(group_status(g), VFIO_GROUP_FLAGS_VIABLE);
	ct_close(&ct, g);
	if (ct.km) {
		struct kmodel_group_state st;

		cr_assert_eq(kmodel_group_state(ct.km, ct.dev[0].group, &st), 0);
		cr_expect_not(st.opened);
		cr_expect_eq(kmodel_live_fds(ct.km), 0);
	}
}
