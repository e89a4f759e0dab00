// SPDX-License-Identifier: GPL-2.0-only
/* The -device passthrough option parser: what it accepts and what it says when it refuses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "passthrough/passthrough.h"

static struct passthrough_opts o;
static char err[512];

static int parse(const char *spec)
{
	err[0] = '\0';
	return passthrough_opts_parse(spec, &o, err, sizeof(err));
}

static void expect_refused(const char *spec, const char *needle)
{
	cr_assert_eq(parse(spec), -EINVAL, "'%s' was accepted", spec);
	cr_expect(strstr(err, needle), "'%s': message '%s' lacks '%s'", spec, err, needle);
	/* Every refusal names the option the user typed. */
	cr_expect(strstr(err, spec), "'%s': message '%s' does not quote the option", spec, err);
}

Test(opts, full_form)
{
	cr_assert_eq(parse("passthrough,host=0000:01:00.0,id=nic0,addr=5"), 0, "%s", err);
	cr_expect_str_eq(o.host, "0000:01:00.0");
	cr_expect_str_eq(o.id, "nic0");
	cr_expect_eq(o.slot, 5);
}

Test(opts, vfio_pci_alias_short_bdf_and_defaults)
{
	cr_assert_eq(parse("vfio-pci,host=03:1f.7"), 0, "%s", err);
	cr_expect_str_eq(o.host, "0000:03:1f.7");
	cr_expect_str_eq(o.id, "");
	cr_expect_eq(o.slot, -1);
}

Test(opts, driver_as_a_key_and_qemu_style_addr)
{
	cr_assert_eq(parse("driver=vfio-pci,host=0000:00:03.0,addr=0x1f"), 0, "%s", err);
	cr_expect_eq(o.slot, 31);
	cr_assert_eq(parse("passthrough,host=0000:00:03.0,addr=04.0,bus=pcie.0"), 0, "%s", err);
	cr_expect_eq(o.slot, 4);
	cr_assert_eq(parse("passthrough,host=0000:00:03.0,addr=0xa,bus=pci.0"), 0, "%s", err);
	cr_expect_eq(o.slot, 10);
}

Test(opts, sysfsdev_names_the_device)
{
	cr_assert_eq(parse("vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:06:12.2"), 0, "%s", err);
	cr_expect_str_eq(o.host, "0000:06:12.2");
	expect_refused("vfio-pci,sysfsdev=/sys/devices/pci0000:00/0000:06:12.2",
		       "/sys/bus/pci/devices/");
	expect_refused("vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:06:12.2,host=06:12.2",
		       "not both");
}

Test(opts, malformed_host)
{
	expect_refused("passthrough,host=0000:01:00", "not a PCI address");
	expect_refused("passthrough,host=01:20.0", "not a PCI address");
	expect_refused("passthrough,host=0000:01:00.0x", "lspci -D");
}

Test(opts, unknown_and_repeated_keys)
{
	expect_refused("passthrough,host=01:00.0,rombar=0", "unknown property 'rombar'");
	expect_refused("passthrough,host=01:00.0,host=02:00.0", "host is given twice");
	expect_refused("passthrough,host=01:00.0,x", "'x' is not a property");
	expect_refused("passthrough,host=01:00.0,,id=a", "stray comma");
	expect_refused("passthrough,host=01:00.0,id=", "id has no value");
}

Test(opts, driver_and_host_are_required)
{
	expect_refused("e1000,host=01:00.0", "not a passthrough device");
	expect_refused("host=01:00.0", "no driver");
	expect_refused("passthrough,id=a", "host=DDDD:BB:DD.F");
}

Test(opts, bad_addr_and_bus)
{
	expect_refused("passthrough,host=01:00.0,addr=0", "slot 0 is out of range");
	expect_refused("passthrough,host=01:00.0,addr=0x20", "out of range");
	expect_refused("passthrough,host=01:00.0,addr=3.1", "function 0");
	expect_refused("passthrough,host=01:00.0,addr=zz", "not a PCI slot");
	expect_refused("passthrough,host=01:00.0,addr=3.", "not a PCI slot");
	expect_refused("passthrough,host=01:00.0,bus=pci.1", "one PCI bus");
}

Test(opts, bad_ids)
{
	expect_refused("passthrough,host=01:00.0,id=0abc", "starts with a letter");
	expect_refused("passthrough,host=01:00.0,id=a/b", "only letters");
	expect_refused("passthrough,host=01:00.0,id="
		       "a123456789012345678901234567890123456789012345678901234567890123",
		       "1 to 63");
}

Test(opts, set_one_by_one_as_qmp_does)
{
	passthrough_opts_init(&o);
	cr_assert_eq(passthrough_opts_set(&o, "driver", "vfio-pci", err, sizeof(err)), 0);
	cr_assert_eq(passthrough_opts_set(&o, "host", "0000:06:12.2", err, sizeof(err)), 0);
	cr_assert_eq(passthrough_opts_set(&o, "id", "hostdev0", err, sizeof(err)), 0);
	cr_assert_eq(passthrough_opts_set(&o, "bus", "pci.0", err, sizeof(err)), 0);
	cr_assert_eq(passthrough_opts_set(&o, "addr", "0x2", err, sizeof(err)), 0);
	cr_expect_str_eq(o.host, "0000:06:12.2");
	cr_expect_str_eq(o.id, "hostdev0");
	cr_expect_eq(o.slot, 2);
	cr_expect_eq(passthrough_opts_set(&o, "x-igd", "on", err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "unknown property 'x-igd'"), "%s", err);
	/* A refused value leaves the earlier one. */
	cr_expect_eq(passthrough_opts_set(&o, "host", "nope", err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(o.host, "0000:06:12.2");
}

Test(opts, iommufd_names_an_object)
{
	cr_assert_eq(parse("vfio-pci,host=0000:00:02.0,iommufd=iommufd0,id=edu0"), 0, "%s", err);
	cr_expect_str_eq(o.iommufd, "iommufd0");
	cr_expect_str_eq(o.id, "edu0");
	/* Without it: the VM's container. */
	cr_assert_eq(parse("vfio-pci,host=0000:00:02.0"), 0, "%s", err);
	cr_expect_str_eq(o.iommufd, "");
	expect_refused("vfio-pci,host=00:02.0,iommufd=", "iommufd has no value");
	expect_refused("vfio-pci,host=00:02.0,iommufd=9x", "iommufd=9x: an id starts with a letter");
	expect_refused("vfio-pci,host=00:02.0,iommufd=a,iommufd=b", "iommufd is given twice");
	passthrough_opts_init(&o);
	cr_assert_eq(passthrough_opts_set(&o, "iommufd", "fd0", err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(o.iommufd, "fd0");
}

Test(opts, x_no_mmap)
{
	cr_assert_eq(parse("vfio-pci,host=0000:00:02.0"), 0, "%s", err);
	cr_expect_not(o.no_mmap);
	cr_assert_eq(parse("vfio-pci,host=0000:00:02.0,x-no-mmap=on"), 0, "%s", err);
	cr_expect(o.no_mmap);
	cr_assert_eq(parse("vfio-pci,host=0000:00:02.0,x-no-mmap=true"), 0, "%s", err);
	cr_expect(o.no_mmap);
	cr_assert_eq(parse("vfio-pci,host=0000:00:02.0,x-no-mmap=off"), 0, "%s", err);
	cr_expect_not(o.no_mmap);
	expect_refused("vfio-pci,host=00:02.0,x-no-mmap=maybe", "give on or off");
}
