// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO_ATTACH_GROUP_FD on the kernel model: a manager opens /dev/vfio/N and
 * hands the fd over (ferry runs unprivileged).  ferry must not open the node
 * itself, must own the fd from the call on (closing it on every failure and
 * when it already holds the group), and the kernel's own check must catch an
 * fd of the wrong group.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "env.h"

static struct env e;

static void setup_legacy(void)
{
	struct kmodel_config cfg = kmodel_config_legacy();

	env_init(&e, &cfg, VFIO_BACKEND_CONTAINER, true);
	env_add_ram(&e, 0);
	fault_sys_record(&e.fault, true);
}

static void teardown(void)
{
	env_fini(&e);
}

static struct kmodel_group_state group(unsigned int id)
{
	struct kmodel_group_state st;

	cr_assert_eq(kmodel_group_state(e.km, id, &st), 0);
	return st;
}

/* The manager's open: straight into the model, not through ferry's sys table. */
static int manager_open_group(unsigned int id)
{
	struct vfio_sys *ms = kmodel_sys(e.km);
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/vfio/%u", id);
	fd = ms->open(ms, path, O_RDWR);
	cr_assert_geq(fd, 0, "open %s: %d", path, fd);
	return fd;
}

static int ferry_opened(const char *prefix)
{
	int n = 0;

	for (size_t i = 0; i < e.fault.nlog; i++)
		n += e.fault.log[i].op == FAULT_OPEN && !strncmp(e.fault.log[i].path, prefix,
								 strlen(prefix));
	return n;
}

Test(vfio_group_fd, a_passed_group_fd_is_used_and_owned, .init = setup_legacy,
     .fini = teardown)
{
	struct vfio_attach_opts opts = { .flags = VFIO_ATTACH_GROUP_FD };
	struct vfio_err err = { 0 };
	struct vfio_device *dev;
	int gfd = manager_open_group(5);

	opts.group_fd = gfd;
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", &opts, &dev, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(ferry_opened("/dev/vfio/5"), 0, "ferry opened the group node itself");
	cr_assert_eq(vfio_device_group_fd(dev), gfd);
	cr_assert(group(5).container, "the passed group joined the container");
	cr_assert_eq(group(5).device_fds, 1);
	cr_assert_eq(kmodel_mappings(e.km, vfio_ctx_container_fd(e.ctx), 0, NULL, 0), 1,
		     "guest RAM mapped for the device's DMA");
	cr_assert_eq(vfio_device_detach(dev, &err), 0, "%s", err.msg);
	cr_assert_not(group(5).opened, "detach closes the passed group fd");
	/* And the group can be opened again by whoever comes next. */
	kmodel_sys(e.km)->close(kmodel_sys(e.km), manager_open_group(5));
}

Test(vfio_group_fd, the_second_device_of_a_group_shares_it, .init = setup_legacy,
     .fini = teardown)
{
	struct vfio_attach_opts opts = { .flags = VFIO_ATTACH_GROUP_FD };
	struct vfio_err err = { 0 };
	struct vfio_device *a, *b;
	int before;

	opts.group_fd = manager_open_group(7);
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:01:01.0", &opts, &a, &err), 0, "%s",
		     err.msg);
	/* ferry holds group 7 already: a second fd given for it is closed, the group kept. */
	opts.group_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(opts.group_fd, 0);
	before = env_count_fds();
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:01:02.0", &opts, &b, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(vfio_device_group_fd(b), vfio_device_group_fd(a));
	cr_assert_eq(vfio_ctx_group_count(e.ctx), 1);
	cr_assert_eq(env_count_fds(), before - 1 + 1, "the spare fd closed, one device fd opened");
	cr_assert_eq(ferry_opened("/dev/vfio/7"), 0);
	cr_assert_eq(vfio_device_detach(b, &err), 0, "%s", err.msg);
	cr_assert(group(7).opened, "the group stays while a device uses it");
	cr_assert_eq(vfio_device_detach(a, &err), 0, "%s", err.msg);
	cr_assert_not(group(7).opened);
}

Test(vfio_group_fd, the_fd_of_another_group_is_refused_and_closed, .init = setup_legacy,
     .fini = teardown)
{
	struct vfio_attach_opts opts = { .flags = VFIO_ATTACH_GROUP_FD };
	struct vfio_err err = { 0 };
	struct env_snap before, after;
	struct vfio_device *dev;
	int ret;

	env_snap(&e, &before);
	opts.group_fd = manager_open_group(6);	/* the device is in group 5 */
	ret = vfio_device_attach(e.ctx, "0000:00:03.0", &opts, &dev, &err);
	cr_assert_lt(ret, 0);
	cr_assert(strstr(err.msg, "is that fd /dev/vfio/5, the device's group?"), "%s", err.msg);
	cr_assert_not(group(6).opened, "the wrong group's fd was closed");
	cr_assert_not(group(6).container, "and left no container behind");
	env_snap(&e, &after);
	env_snap_expect_equal(&before, &after, "wrong group fd");
	cr_assert_eq(vfio_ctx_group_count(e.ctx), 0);
}

Test(vfio_group_fd, a_non_group_fd_is_refused_and_closed, .init = setup_legacy,
     .fini = teardown)
{
	struct vfio_attach_opts opts = { .flags = VFIO_ATTACH_GROUP_FD };
	struct vfio_err err = { 0 };
	struct vfio_device *dev;
	int before;

	opts.group_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(opts.group_fd, 0);
	before = env_count_fds();
	cr_assert_lt(vfio_device_attach(e.ctx, "0000:00:03.0", &opts, &dev, &err), 0);
	cr_assert(strstr(err.msg, "the fd given for group 5 is not a VFIO group"), "%s",
		  err.msg);
	cr_assert(strstr(err.msg, "/dev/vfio/5"), "%s", err.msg);
	cr_assert_eq(env_count_fds(), before - 1, "the passed fd is closed");
	cr_assert_eq(ferry_opened("/dev/vfio/"), 0, "no fallback to opening the node");
}

Test(vfio_group_fd, a_group_fd_needs_the_container_backend, .fini = teardown)
{
	struct kmodel_config cfg = kmodel_config_iommufd();
	struct vfio_attach_opts opts = { .flags = VFIO_ATTACH_GROUP_FD };
	struct vfio_err err = { 0 };
	struct vfio_device *dev;
	int before;

	env_init(&e, &cfg, VFIO_BACKEND_IOMMUFD, true);
	opts.group_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(opts.group_fd, 0);
	before = env_count_fds();
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", &opts, &dev, &err), -EINVAL);
	cr_assert(strstr(err.msg, "container backend"), "%s", err.msg);
	cr_assert_eq(env_count_fds(), before - 1, "the passed fd is closed");
}
