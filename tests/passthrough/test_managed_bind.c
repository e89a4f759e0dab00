// SPDX-License-Identifier: GPL-2.0-only
/*
 * managed=on's sysfs half (vfio/bind.c) on the kernel model: libvirt's group
 * check, the driver_override/unbind/drivers_probe sequence and its undo, and
 * a fault at every call of the sequence leaving the device where it was.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "vfio/vfio.h"
#include "kmodel.h"
#include "fault_sys.h"

static struct kmodel *km;
static struct vfio_sys *sys;

/*
 * group 5: 00:03.0 on e1000 (alone)        group 6: 00:04.0 unbound
 * group 7: 01:01.0 unbound, 01:02.0 snd_hda  group 8: 02:00.0 nvme, 02:00.1 bridge (pcieport)
 * group 9: 03:00.0 on vfio-pci, held by another process
 * (The model refuses a second host driver in one group, hence 01:01.0 unbound.)
 */
static void setup(void)
{
	km = kmodel_new(NULL);
	cr_assert_not_null(km);
	sys = kmodel_sys(km);
	cr_assert_eq(kmodel_add_device(km, "0000:00:03.0", 0x8086, 0x100e, 5), 0);
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", "e1000"), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:00:04.0", 0x1234, 0x11e8, 6), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:01:01.0", 0x1b36, 0x0010, 7), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:01:02.0", 0x8086, 0x293e, 7), 0);
	cr_assert_eq(kmodel_bind(km, "0000:01:02.0", "snd_hda_intel"), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:02:00.0", 0x1b36, 0x0010, 8), 0);
	cr_assert_eq(kmodel_bind(km, "0000:02:00.0", "nvme"), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:02:00.1", 0x8086, 0x244e, 8), 0);
	cr_assert_eq(kmodel_device_set_class(km, "0000:02:00.1", 0x060400), 0);
	cr_assert_eq(kmodel_bind(km, "0000:02:00.1", "pcieport"), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:03:00.0", 0x1234, 0x11e8, 9), 0);
	cr_assert_eq(kmodel_bind(km, "0000:03:00.0", "vfio-pci"), 0);
}

static void teardown(void)
{
	kmodel_free(km);
}

static struct vfio_bdf bdf(const char *s)
{
	struct vfio_bdf b;

	cr_assert_eq(vfio_bdf_parse(s, &b, NULL), 0);
	return b;
}

static const char *driver(struct vfio_sys *s, const char *name)
{
	static char buf[64];
	struct vfio_bdf b = bdf(name);

	cr_assert_eq(vfio_host_device_driver(s, &b, buf, sizeof(buf)), 0);
	return buf;
}

TestSuite(managed_bind, .init = setup, .fini = teardown);

Test(managed_bind, host_driver_to_vfio_and_back)
{
	struct vfio_bdf a = bdf("0000:00:03.0");
	struct vfio_err err = { 0 };
	struct vfio_bind b;

	cr_assert_eq(vfio_bind_vfio_pci(sys, &a, &b, &err), 0, "%s", err.msg);
	cr_assert(b.changed);
	cr_assert_str_eq(b.orig_driver, "e1000");
	cr_assert_str_eq(driver(sys, "0000:00:03.0"), "vfio-pci");
	cr_assert_str_eq(kmodel_device_override(km, "0000:00:03.0"), "vfio-pci");
	/* vfio-pci made the cdev and the group node: the device is usable. */
	cr_assert_eq(vfio_host_device_cdev(sys, &a, (char[16]){ 0 }, 16), 0);

	cr_assert_eq(vfio_bind_restore(sys, &b, &err), 0, "%s", err.msg);
	cr_assert_str_eq(driver(sys, "0000:00:03.0"), "e1000");
	cr_assert_str_eq(kmodel_device_override(km, "0000:00:03.0"), "");
	cr_assert_eq(vfio_host_device_cdev(sys, &a, (char[16]){ 0 }, 16), -ENOENT);
}

Test(managed_bind, already_on_vfio_pci_is_left_alone)
{
	struct vfio_bdf a = bdf("0000:03:00.0");
	struct vfio_bind b;

	kmodel_log_enable(km, true);
	cr_assert_eq(vfio_bind_vfio_pci(sys, &a, &b, NULL), 0);
	cr_assert_not(b.changed);
	cr_assert_null(strstr(kmodel_log(km), "sysfs write"), "%s", kmodel_log(km));
	cr_assert_eq(vfio_bind_restore(sys, &b, NULL), 0);
	cr_assert_str_eq(driver(sys, "0000:03:00.0"), "vfio-pci");
}

Test(managed_bind, unbound_device_returns_unbound)
{
	struct vfio_bdf a = bdf("0000:00:04.0");
	struct vfio_bind b;

	cr_assert_eq(vfio_bind_vfio_pci(sys, &a, &b, NULL), 0);
	cr_assert(b.changed);
	cr_assert_str_eq(b.orig_driver, "");
	cr_assert_str_eq(driver(sys, "0000:00:04.0"), "vfio-pci");
	cr_assert_eq(vfio_bind_restore(sys, &b, NULL), 0);
	cr_assert_str_eq(driver(sys, "0000:00:04.0"), "");
}

Test(managed_bind, open_device_is_not_unbound)
{
	struct vfio_bdf a = bdf("0000:00:03.0");
	struct vfio_err err = { 0 };
	struct vfio_bind b;
	char cdev[16], path[64];
	uint32_t devid;
	int fd, ictx;

	cr_assert_eq(vfio_bind_vfio_pci(sys, &a, &b, NULL), 0);
	cr_assert_eq(vfio_host_device_cdev(sys, &a, cdev, sizeof(cdev)), 0);
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	fd = sys->open(sys, path, O_RDWR);
	cr_assert_geq(fd, 0);
	/* Open for the kernel once bound to an iommufd (device->open_count). */
	ictx = vfio_iommufd_open(sys);
	cr_assert_geq(ictx, 0);
	cr_assert_eq(vfio_devfd_bind_iommufd(sys, fd, ictx, &devid), 0);
	cr_assert_lt(vfio_bind_restore(sys, &b, &err), 0);
	cr_assert(strstr(err.msg, "0000:00:03.0"), "%s", err.msg);
	cr_assert_str_eq(driver(sys, "0000:00:03.0"), "vfio-pci");
	sys->close(sys, fd);
	sys->close(sys, ictx);
	cr_assert_eq(vfio_bind_restore(sys, &b, NULL), 0);
	cr_assert_str_eq(driver(sys, "0000:00:03.0"), "e1000");
}

Test(managed_bind, group_check)
{
	struct vfio_err err = { 0 };
	struct vfio_bdf a;

	a = bdf("0000:00:03.0");
	cr_assert_eq(vfio_bind_check_group(sys, &a, &err), 0, "%s", err.msg);
	/* A bridge in the group is fine. */
	a = bdf("0000:02:00.0");
	cr_assert_eq(vfio_bind_check_group(sys, &a, &err), 0, "%s", err.msg);

	/* A member still on a host driver is refused, by name. */
	a = bdf("0000:01:01.0");
	cr_assert_eq(vfio_bind_check_group(sys, &a, &err), -EBUSY);
	cr_assert(strstr(err.msg, "0000:01:02.0"), "%s", err.msg);
	cr_assert(strstr(err.msg, "snd_hda_intel"), "%s", err.msg);
	cr_assert(strstr(err.msg, "group 7"), "%s", err.msg);
	cr_assert_eq(kmodel_bind(km, "0000:01:02.0", NULL), 0);
	cr_assert_eq(vfio_bind_check_group(sys, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(kmodel_bind(km, "0000:01:02.0", "vfio-pci"), 0);
	cr_assert_eq(vfio_bind_check_group(sys, &a, &err), 0, "%s", err.msg);

	/* A device another VM holds is refused, naming the process. */
	cr_assert_eq(kmodel_hold_group(km, 9, 4242, "qemu-system-x86"), 0);
	a = bdf("0000:03:00.0");
	cr_assert_eq(vfio_bind_check_group(sys, &a, &err), -EBUSY);
	cr_assert(strstr(err.msg, "4242"), "%s", err.msg);
	cr_assert(strstr(err.msg, "qemu-system-x86"), "%s", err.msg);
	cr_assert_eq(kmodel_release_group(km, 9), 0);
	cr_assert_eq(vfio_bind_check_group(sys, &a, &err), 0, "%s", err.msg);

	a = bdf("0000:05:00.0");
	cr_assert_eq(vfio_bind_check_group(sys, &a, &err), -ENOENT);
	cr_assert(strstr(err.msg, "0000:05:00.0"), "%s", err.msg);
}

/* Every call of the bind sequence, failed in turn: the device stays on e1000. */
Test(managed_bind, fault_at_each_bind_step_leaves_driver)
{
	struct vfio_bdf a = bdf("0000:00:03.0");
	struct fault_sys f;
	struct vfio_bind b;
	unsigned long total;

	fault_sys_init(&f, sys);
	cr_assert_eq(vfio_bind_vfio_pci(fault_sys_table(&f), &a, &b, NULL), 0);
	total = f.calls;
	cr_assert_gt(total, 6);
	cr_assert_eq(vfio_bind_restore(sys, &b, NULL), 0);

	for (unsigned long n = 1; n <= total; n++) {
		struct vfio_err err = { 0 };
		char what[128];
		int ret;

		fault_sys_arm(&f, n, EIO);
		ret = vfio_bind_vfio_pci(fault_sys_table(&f), &a, &b, &err);
		fault_sys_disarm(&f);
		fault_call_describe(&f.failed, what, sizeof(what));
		if (f.failed.op == FAULT_CLOSE) {
			/* A failed close of a sysfs file after its write: the write happened. */
			if (!ret)
				cr_assert_eq(vfio_bind_restore(sys, &b, NULL), 0);
		} else {
			cr_assert_lt(ret, 0, "call %lu (%s) failed but bind succeeded", n, what);
			cr_assert(strstr(err.msg, "0000:00:03.0"), "%s", err.msg);
		}
		cr_assert_str_eq(driver(sys, "0000:00:03.0"), "e1000", "after failing %s", what);
		cr_assert_str_eq(kmodel_device_override(km, "0000:00:03.0"), "",
				 "after failing %s", what);
	}
}

/* A failed restore says so; the device is never lost: a second restore ends on e1000. */
Test(managed_bind, fault_at_each_restore_step_recovers)
{
	struct vfio_bdf a = bdf("0000:00:03.0");
	struct fault_sys f;
	struct vfio_bind b;
	unsigned long total;

	fault_sys_init(&f, sys);
	cr_assert_eq(vfio_bind_vfio_pci(sys, &a, &b, NULL), 0);
	cr_assert_eq(vfio_bind_restore(fault_sys_table(&f), &b, NULL), 0);
	total = f.calls;
	cr_assert_gt(total, 4);

	for (unsigned long n = 1; n <= total; n++) {
		struct vfio_err err = { 0 };
		char what[128];
		int ret;

		cr_assert_eq(vfio_bind_vfio_pci(sys, &a, &b, NULL), 0);
		fault_sys_arm(&f, n, EIO);
		ret = vfio_bind_restore(fault_sys_table(&f), &b, &err);
		fault_sys_disarm(&f);
		fault_call_describe(&f.failed, what, sizeof(what));
		if (ret)
			cr_assert(strstr(err.msg, "0000:00:03.0"), "%s", err.msg);
		cr_assert_eq(vfio_bind_restore(sys, &b, &err), 0, "after failing %s: %s", what,
			     err.msg);
		cr_assert_str_eq(driver(sys, "0000:00:03.0"), "e1000", "after failing %s", what);
		cr_assert_str_eq(kmodel_device_override(km, "0000:00:03.0"), "");
	}
}

/* pci-stub before: the give-back must not let the native driver take it. */
Test(managed_bind, pci_stub_is_given_back_to_pci_stub)
{
	struct vfio_bdf a = bdf("0000:00:03.0");
	struct vfio_err err = { 0 };
	struct vfio_bind b;

	int fd;

	/* Native driver e1000 (setup), now held by pci-stub. */
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", NULL), 0);
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", "pci-stub"), 0);
	cr_assert_eq(vfio_bind_vfio_pci(sys, &a, &b, &err), 0, "%s", err.msg);
	cr_assert_str_eq(b.orig_driver, "pci-stub");
	cr_assert_str_eq(driver(sys, "0000:00:03.0"), "vfio-pci");
	cr_assert_eq(vfio_bind_restore(sys, &b, &err), 0, "%s", err.msg);
	cr_assert_str_eq(driver(sys, "0000:00:03.0"), "pci-stub");
	cr_assert_str_eq(kmodel_device_override(km, "0000:00:03.0"), "");
	/* And a plain probe now is the kernel's usual one: the native driver. */
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", NULL), 0);
	fd = sys->open(sys, "/sys/bus/pci/drivers_probe", O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(sys->pwrite(sys, fd, "0000:00:03.0", 12, 0), 12);
	sys->close(sys, fd);
	cr_assert_str_eq(driver(sys, "0000:00:03.0"), "e1000");
}
