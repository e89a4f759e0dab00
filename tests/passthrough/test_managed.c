// SPDX-License-Identifier: GPL-2.0-only
/*
 * managed=on through passthrough_device_add/remove on the kernel model: the
 * device moves to vfio-pci for the attach and back to its driver after the
 * remove (and after passthrough_host_free, ferry's exit); a refused group
 * check or a failed attach leaves it where it was.  -libvirt-uri against
 * libvirt's test driver: the lookup by node-device name, and what its
 * missing detach support makes ferry say.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pt_fixture.h"

static struct pt_fixture t;

/* The libvirt test driver's node-device file and its URI, when a test makes them. */
static struct {
	char uri[128];
	char node_xml[64];
} lv;

/*
 * 00:05.0 alone in group 8 on e1000e; 01:01.0 unbound and 01:02.0 on e1000e
 * share group 7; 02:00.0 alone in group 9 on vfio-pci.
 */
static const struct pt_fixture_dev devs[] = {
	{ "0000:00:05.0", 0x8086, 0x10d3, 8, "e1000e" },
	{ "0000:01:01.0", 0x1234, 0x11e8, 7, NULL },
	{ "0000:01:02.0", 0x8086, 0x10d3, 7, "e1000e" },
	{ "0000:02:00.0", 0x1234, 0x11e8, 9, "vfio-pci" },
};

static void setup(void)
{
	struct pt_fixture_config c = {
		.kernel = kmodel_config_iommufd(),
		PT_FIXTURE_DEVS(devs),
		.ram_buffers = 1,
	};

	memset(&lv, 0, sizeof(lv));
	pt_fixture_setup(&t, &c);
}

static void teardown(void)
{
	pt_fixture_teardown(&t);
	if (lv.node_xml[0])
		unlink(lv.node_xml);
}

static void host_new(void)
{
	pt_fixture_host_new(&t);
}

static int add(const char *spec, struct passthrough_device **dev)
{
	return pt_fixture_add(&t, spec, dev);
}

static const char *driver(const char *name)
{
	static char buf[64];
	struct vfio_bdf b;

	cr_assert_eq(vfio_bdf_parse(name, &b, NULL), 0);
	cr_assert_eq(vfio_host_device_driver(t.ms, &b, buf, sizeof(buf)), 0);
	return buf;
}

TestSuite(managed, .init = setup, .fini = teardown);

Test(managed, opts)
{
	struct passthrough_opts o;

	cr_assert_eq(passthrough_opts_parse("passthrough,host=00:05.0,managed=on", &o, t.err,
					    sizeof(t.err)), 0, "%s", t.err);
	cr_assert(o.managed);
	cr_assert_eq(passthrough_opts_parse("passthrough,host=00:05.0", &o, NULL, 0), 0);
	cr_assert_not(o.managed);
	cr_assert_eq(passthrough_opts_parse("passthrough,host=00:05.0,managed=maybe", &o, t.err,
					    sizeof(t.err)), -EINVAL);
	cr_assert(strstr(t.err, "managed=maybe"), "%s", t.err);
	cr_assert_eq(passthrough_opts_parse("passthrough,host=00:05.0,managed=on,managed=off", &o, t.err,
					    sizeof(t.err)), -EINVAL);
}

Test(managed, add_binds_and_remove_gives_back)
{
	struct passthrough_device *dev;
	int ret;

	host_new();
	/* Without managed=on a device on a host driver is refused, untouched. */
	cr_assert_neq(add("passthrough,host=0000:00:05.0,id=nic", &dev), 0);
	cr_assert_str_eq(driver("0000:00:05.0"), "e1000e");

	ret = add("passthrough,host=0000:00:05.0,id=nic,managed=on", &dev);
	cr_assert_eq(ret, 0, "%d %s", ret, t.err);
	cr_assert_str_eq(driver("0000:00:05.0"), "vfio-pci");
	cr_assert_eq(kmodel_device_open_count(t.km, "0000:00:05.0"), 1);
	ret = passthrough_device_remove(dev, t.err, sizeof(t.err));
	cr_assert_eq(ret, 0, "%d %s", ret, t.err);
	cr_assert_str_eq(driver("0000:00:05.0"), "e1000e");
	cr_assert_str_eq(kmodel_device_override(t.km, "0000:00:05.0"), "");

	/* Again (a second hot-plug of the same device). */
	cr_assert_eq(add("passthrough,host=0000:00:05.0,id=nic,managed=on", &dev), 0, "%s", t.err);
	cr_assert_str_eq(driver("0000:00:05.0"), "vfio-pci");
	cr_assert_eq(passthrough_device_remove(dev, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_str_eq(driver("0000:00:05.0"), "e1000e");
}

Test(managed, host_free_gives_back)
{
	struct passthrough_device *dev;

	host_new();
	cr_assert_eq(add("passthrough,host=0000:00:05.0,managed=on", &dev), 0, "%s", t.err);
	cr_assert_str_eq(driver("0000:00:05.0"), "vfio-pci");
	passthrough_host_free(t.host);
	t.host = NULL;
	cr_assert_str_eq(driver("0000:00:05.0"), "e1000e");
}

Test(managed, already_on_vfio_pci_stays_there)
{
	struct passthrough_device *dev;

	host_new();
	cr_assert_eq(add("passthrough,host=0000:02:00.0,managed=on", &dev), 0, "%s", t.err);
	cr_assert_eq(passthrough_device_remove(dev, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_str_eq(driver("0000:02:00.0"), "vfio-pci");
}

Test(managed, group_check_refuses_naming_the_member)
{
	struct passthrough_device *dev;

	host_new();
	cr_assert_eq(add("passthrough,host=0000:01:01.0,managed=on", &dev), -EBUSY);
	cr_assert_null(dev);
	cr_assert(strstr(t.err, "0000:01:02.0"), "%s", t.err);
	cr_assert(strstr(t.err, "e1000e"), "%s", t.err);
	cr_assert(strstr(t.err, "managed=on"), "%s", t.err);
	cr_assert_str_eq(driver("0000:01:01.0"), "");
	cr_assert_str_eq(driver("0000:01:02.0"), "e1000e");
}

Test(managed, held_elsewhere_is_refused)
{
	struct passthrough_device *dev;

	host_new();
	cr_assert_eq(kmodel_hold_group(t.km, 9, 4242, "qemu-system-x86"), 0);
	cr_assert_eq(add("passthrough,host=0000:02:00.0,managed=on", &dev), -EBUSY);
	cr_assert(strstr(t.err, "4242"), "%s", t.err);
	cr_assert(strstr(t.err, "qemu-system-x86"), "%s", t.err);
	cr_assert_eq(kmodel_release_group(t.km, 9), 0);
}

/* The attach fails after the bind: the device goes back before the error is returned. */
Test(managed, failed_attach_gives_back)
{
	struct passthrough_device *dev;

	host_new();
	fault_sys_arm_ioctl(&t.fault, VFIO_GROUP_SET_CONTAINER, 1, EIO);
	cr_assert_lt(add("passthrough,host=0000:00:05.0,managed=on", &dev), 0);
	fault_sys_disarm(&t.fault);
	cr_assert_eq(t.fault.injected, 1);
	cr_assert_null(dev);
	cr_assert_str_eq(driver("0000:00:05.0"), "e1000e");
	cr_assert_str_eq(kmodel_device_override(t.km, "0000:00:05.0"), "");
}

/* libvirt's test driver with one PCI node device, pci_0000_00_05_0. */
static void libvirt_test_node(void)
{
	static const char xml[] =
		"<node>\n"
		"  <device>\n"
		"    <name>pci_0000_00_05_0</name>\n"
		"    <parent>computer</parent>\n"
		"    <capability type='pci'>\n"
		"      <domain>0</domain><bus>0</bus><slot>5</slot><function>0</function>\n"
		"      <product id='0x10d3'/>\n"
		"      <vendor id='0x8086'/>\n"
		"    </capability>\n"
		"  </device>\n"
		"</node>\n";
	int fd;

	snprintf(lv.node_xml, sizeof(lv.node_xml), "/tmp/ferry-libvirt-node-XXXXXX");
	fd = mkstemp(lv.node_xml);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, xml, sizeof(xml) - 1), (ssize_t)sizeof(xml) - 1);
	close(fd);
	snprintf(lv.uri, sizeof(lv.uri), "test://%s", lv.node_xml);
	t.cfg.libvirt_uri = lv.uri;
}

Test(managed, libvirt_unknown_node_device)
{
	struct passthrough_device *dev;

	libvirt_test_node();
	cr_assert_eq(kmodel_add_device(t.km, "0000:03:00.0", 0x1234, 0x11e8, 10), 0);
	cr_assert_eq(kmodel_bind(t.km, "0000:03:00.0", "e1000e"), 0);
	host_new();
	cr_assert_eq(add("passthrough,host=0000:03:00.0,managed=on", &dev), -ENOENT);
	cr_assert(strstr(t.err, "pci_0000_03_00_0"), "%s", t.err);
	cr_assert(strstr(t.err, lv.uri), "%s", t.err);
	cr_assert_str_eq(driver("0000:03:00.0"), "e1000e");
}

Test(managed, libvirt_unreachable)
{
	struct passthrough_device *dev;

	t.cfg.libvirt_uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock";
	host_new();
	cr_assert_eq(add("passthrough,host=0000:00:05.0,managed=on", &dev), -ECONNREFUSED);
	cr_assert(strstr(t.err, "cannot connect to libvirt"), "%s", t.err);
	cr_assert_str_eq(driver("0000:00:05.0"), "e1000e");
}

/*
 * The test driver finds the device by name but implements no detach
 * (libvirt 9.0's test driver has no nodeDeviceDetachFlags): ferry reports
 * libvirt's error and nothing moved; sysfs was not touched behind libvirt.
 */
Test(managed, libvirt_detach_error_is_reported)
{
	struct passthrough_device *dev;
	int ret;

	libvirt_test_node();
	host_new();
	ret = add("passthrough,host=0000:00:05.0,managed=on", &dev);
	cr_assert_eq(ret, -EIO, "%d %s", ret, t.err);
	cr_assert(strstr(t.err, "libvirt could not detach pci_0000_00_05_0"), "%s", t.err);
	/* libvirt's own words: the lookup worked, the detach is what is missing. */
	cr_assert(strstr(t.err, "not supported"), "%s", t.err);
	cr_assert_str_eq(driver("0000:00:05.0"), "e1000e");
	cr_assert_str_eq(kmodel_device_override(t.km, "0000:00:05.0"), "");
}
