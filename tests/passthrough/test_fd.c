// SPDX-License-Identifier: GPL-2.0-only
/*
 * fd= of a passthrough device on the kernel model: a manager opens the
 * device's group node (ferry may run unprivileged) and passes the fd.
 * passthrough must use it instead of opening the node, and own it from the
 * call on: the device's removal closes it, and so does every failed add,
 * including one refused before the attach.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "pt_fixture.h"

static struct pt_fixture t;

/* Group 7 is not viable: 01:02.0 stays on a host driver. */
static const struct pt_fixture_dev devs[] = {
	{ "0000:00:03.0", 0x1234, 0x11e8, 5, "vfio-pci" },
	{ "0000:00:04.0", 0x1234, 0x11e8, 6, "vfio-pci" },
	{ "0000:01:01.0", 0x1234, 0x11e8, 7, "vfio-pci" },
	{ "0000:01:02.0", 0x1234, 0x11e8, 7, "e1000e" },
};

/* The fixture with the host made and the fault injector recording. */
static void setup_with(struct kmodel_config kcfg, const struct passthrough_iommufd *objs,
		       size_t nr_objs)
{
	struct pt_fixture_config c = {
		.kernel = kcfg,
		PT_FIXTURE_DEVS(devs),
		.ram_buffers = 1,
	};

	pt_fixture_setup(&t, &c);
	t.cfg.iommufds = objs;
	t.cfg.nr_iommufds = nr_objs;
	pt_fixture_host_new(&t);
	fault_sys_record(&t.fault, true);
}

static void setup(void)
{
	setup_with(kmodel_config_legacy(), NULL, 0);
}

static const struct passthrough_iommufd one_obj[] = { { .id = "ifd0" } };

static void setup_iommufd(void)
{
	setup_with(kmodel_config_iommufd(), one_obj, 1);
}

static void teardown(void)
{
	pt_fixture_teardown(&t);
}

TestSuite(fd, .init = setup, .fini = teardown);

/* The manager's open, not ferry's: straight into the model. */
static int manager_open(const char *path)
{
	int fd = t.ms->open(t.ms, path, O_RDWR);

	cr_assert_geq(fd, 0, "open %s: %d", path, fd);
	return fd;
}

static int ferry_opens_of(const char *path)
{
	int n = 0;

	for (size_t i = 0; i < t.fault.nlog; i++)
		n += t.fault.log[i].op == FAULT_OPEN && !strcmp(t.fault.log[i].path, path);
	return n;
}

/* Parses @spec, sets fd, adds: returns passthrough_device_add()'s result. */
static int add_with_fd(const char *spec, int fd, struct passthrough_device **dev)
{
	struct passthrough_opts o;

	cr_assert_eq(passthrough_opts_parse(spec, &o, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_eq(o.fd, -1, "no fd unless given");
	o.fd = fd;
	t.err[0] = '\0';
	return passthrough_device_add(t.host, &o, dev, t.err, sizeof(t.err));
}

Test(fd, the_option_is_a_number)
{
	struct passthrough_opts o;

	cr_assert_eq(passthrough_opts_parse("vfio-pci,host=00:03.0,fd=17", &o, t.err,
					    sizeof(t.err)), 0, "%s", t.err);
	cr_assert_eq(o.fd, 17);
	cr_assert_eq(passthrough_opts_parse("vfio-pci,host=00:03.0,fd=-1", &o, t.err,
					    sizeof(t.err)), -EINVAL);
	cr_assert(strstr(t.err, "fd=-1: give the number of an open file descriptor"), "%s",
		  t.err);
	cr_assert_eq(passthrough_opts_parse("vfio-pci,host=00:03.0,fd=3x", &o, t.err,
					    sizeof(t.err)), -EINVAL);
	cr_assert_eq(passthrough_opts_parse("vfio-pci,host=00:03.0,fd=3,fd=4", &o, t.err,
					    sizeof(t.err)), -EINVAL);
	cr_assert(strstr(t.err, "fd is given twice"), "%s", t.err);
}

Test(fd, a_passed_group_fd_is_used_and_closed_on_removal)
{
	struct passthrough_device *dev = NULL;
	int gfd = manager_open("/dev/vfio/5");

	cr_assert_eq(add_with_fd("vfio-pci,host=00:03.0,id=d0", gfd, &dev), 0, "%s", t.err);
	cr_assert_eq(ferry_opens_of("/dev/vfio/5"), 0, "ferry opened the group node itself");
	cr_assert_eq(vfio_device_group_fd(passthrough_device_vfio(dev)), gfd);
	cr_assert_eq(passthrough_device_remove(dev, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_eq(kmodel_live_fds(t.km), t.base_fds + 1, "the container alone stays");
	/* The group is free again: the passed fd was closed. */
	t.ms->close(t.ms, manager_open("/dev/vfio/5"));
}

Test(fd, an_add_refused_before_the_attach_closes_the_fd)
{
	struct passthrough_device *dev = NULL, *dup = NULL;
	unsigned int before;

	cr_assert_eq(add_with_fd("vfio-pci,host=00:04.0,id=d0", -1, &dev), 0, "%s", t.err);
	before = kmodel_live_fds(t.km);
	/* The same id again: refused before any attach, and the fd is closed all the same. */
	cr_assert_eq(add_with_fd("vfio-pci,host=00:03.0,id=d0", manager_open("/dev/vfio/5"),
				 &dup), -EEXIST);
	cr_assert(strstr(t.err, "id 'd0' is already used"), "%s", t.err);
	cr_assert_eq(kmodel_live_fds(t.km), before, "the passed group fd leaked");
	t.ms->close(t.ms, manager_open("/dev/vfio/5"));
	cr_assert_eq(passthrough_device_remove(dev, t.err, sizeof(t.err)), 0, "%s", t.err);
}

Test(fd, a_failed_attach_closes_the_fd)
{
	struct passthrough_device *dev = NULL;
	unsigned int before = kmodel_live_fds(t.km);

	/* Group 7 is not viable (01:02.0 is on e1000e). */
	cr_assert_lt(add_with_fd("vfio-pci,host=01:01.0", manager_open("/dev/vfio/7"), &dev), 0);
	cr_assert(strstr(t.err, "e1000e"), "%s", t.err);
	cr_assert_eq(kmodel_live_fds(t.km), before, "the passed group fd leaked");
	t.ms->close(t.ms, manager_open("/dev/vfio/7"));
}

/* With iommufd=, fd= is the device's cdev (libvirt's way with iommufd). */
Test(fd_cdev, a_passed_cdev_fd_is_used_and_closed_on_removal, .init = setup_iommufd,
     .fini = teardown)
{
	struct passthrough_device *dev = NULL;
	struct vfio_bdf bdf;
	char cdev[32], path[64];
	int cfd;

	cr_assert_eq(vfio_bdf_parse("0000:00:03.0", &bdf, NULL), 0);
	cr_assert_eq(vfio_host_device_cdev(t.ms, &bdf, cdev, sizeof(cdev)), 0);
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	cfd = manager_open(path);
	cr_assert_eq(add_with_fd("vfio-pci,host=00:03.0,iommufd=ifd0", cfd, &dev), 0, "%s",
		     t.err);
	cr_assert_eq(ferry_opens_of(path), 0, "ferry opened the cdev itself");
	cr_assert_eq(vfio_device_fd(passthrough_device_vfio(dev)), cfd);
	cr_assert_eq(kmodel_device_bound(t.km, "0000:00:03.0"), 1);
	cr_assert_eq(passthrough_device_remove(dev, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_eq(kmodel_device_open_count(t.km, "0000:00:03.0"), 0, "the cdev was closed");
}
