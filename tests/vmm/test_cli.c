// SPDX-License-Identifier: GPL-2.0-only
/* vmm/cli.c: every option, and every error a person can make. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/cli.h"

#define ARGV(...) ((char *[]){ "ferry", ##__VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "ferry", ##__VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err), sizeof(err))

static void expect_error(int argc, char **argv, const char *words)
{
	struct cli_opts o;
	char err[512] = "";

	cr_assert_eq(cli_parse(argc, argv, &o, err, sizeof(err)), -EINVAL,
		     "expected an error mentioning '%s'", words);
	cr_assert(strstr(err, words), "message '%s' lacks '%s'", err, words);
	cli_opts_free(&o);
}

#define EXPECT_ERROR(words, ...) expect_error(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (words))

Test(cli, defaults)
{
	struct cli_opts o;
	char err[256];

	cr_assert_eq(PARSE(&o, err, "-kernel", "/k"), 0, "%s", err);
	cr_assert_eq(o.action, CLI_RUN);
	cr_assert_str_eq(o.vm.kernel, "/k");
	cr_assert_eq(o.vm.ram_size, 512ULL << 20);
	cr_assert_eq(o.vm.nr_vcpus, 1);
	cr_assert_eq(o.vm.serial, VMM_SERIAL_STDIO);
	cr_assert_null(o.vm.initrd);
	cr_assert_null(o.vm.cmdline);
	cr_assert_eq(o.vm.nr_devices, 0);
	cr_assert_not(o.vm.no_reboot);
	cr_assert_null(o.qmp);
	cli_opts_free(&o);
}

Test(cli, every_option)
{
	struct cli_opts o;
	char err[256];

	cr_assert_eq(PARSE(&o, err, "-kernel", "/k", "-initrd", "/i", "-append", "console=ttyS0",
			   "-m", "2G", "-smp", "4", "-mem-path", "/dev/hugepages",
			   "-serial", "file:/tmp/con", "-nographic", "-no-reboot",
			   "-name", "guest=vm1,debug-threads=on",
			   "-pidfile", "/run/f.pid", "--device",
			   "vfio-pci,host=0000:01:00.0,id=hostdev0,bus=pci.0,addr=0x2",
			   "-qmp", "unix:/tmp/q.sock,server,wait=off"), 0, "%s", err);
	cr_assert_str_eq(o.vm.initrd, "/i");
	cr_assert_str_eq(o.vm.cmdline, "console=ttyS0");
	cr_assert_eq(o.vm.ram_size, 2ULL << 30);
	cr_assert_eq(o.vm.nr_vcpus, 4);
	cr_assert_str_eq(o.vm.mem_path, "/dev/hugepages");
	/* -nographic does not override an explicit -serial. */
	cr_assert_eq(o.vm.serial, VMM_SERIAL_FILE);
	cr_assert_str_eq(o.vm.serial_path, "/tmp/con");
	cr_assert_str_eq(o.vm.name, "vm1");
	cr_assert(o.vm.no_reboot);
	cr_assert_str_eq(o.pidfile, "/run/f.pid");
	cr_assert_eq(o.vm.nr_devices, 1);
	cr_assert_str_eq(o.vm.devices[0].spec,
			 "vfio-pci,host=0000:01:00.0,id=hostdev0,bus=pci.0,addr=0x2");
	cr_assert_str_eq(o.qmp, "unix:/tmp/q.sock,server,wait=off");
	cli_opts_free(&o);
}

Test(cli, help_and_version)
{
	struct cli_opts o;
	char err[256];

	cr_assert_eq(PARSE(&o, err, "--help"), 0);
	cr_assert_eq(o.action, CLI_HELP);
	cli_opts_free(&o);
	cr_assert_eq(PARSE(&o, err, "-h"), 0);
	cr_assert_eq(o.action, CLI_HELP);
	cli_opts_free(&o);
	cr_assert_eq(PARSE(&o, err, "--version"), 0);
	cr_assert_eq(o.action, CLI_VERSION);
	cli_opts_free(&o);
	/* Options are taken in order: an error before --help is still reported. */
	cr_assert_eq(PARSE(&o, err, "-m", "1", "-help"), -EINVAL);
	cli_opts_free(&o);
}

Test(cli, memory_sizes)
{
	static const struct {
		const char *text;
		unsigned long long bytes;
	} ok[] = {
		{ "512", 512ULL << 20 }, { "512M", 512ULL << 20 }, { "512m", 512ULL << 20 },
		{ "2G", 2ULL << 30 }, { "2GiB", 2ULL << 30 }, { "2GB", 2ULL << 30 },
		{ "1T", 1ULL << 40 }, { "65536K", 64ULL << 20 }, { "size=1G", 1ULL << 30 },
		{ "16", 16ULL << 20 },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cli_opts o;
		char err[256];
		char *argv[] = { "ferry", "-kernel", "k", "-m", (char *)ok[i].text, NULL };

		cr_assert_eq(cli_parse(5, argv, &o, err, sizeof(err)), 0, "-m %s: %s", ok[i].text,
			     err);
		cr_assert_eq(o.vm.ram_size, ok[i].bytes, "-m %s", ok[i].text);
		cli_opts_free(&o);
	}
}

Test(cli, memory_errors)
{
	EXPECT_ERROR("not a size", "-kernel", "k", "-m", "lots");
	EXPECT_ERROR("not a size", "-kernel", "k", "-m", "5X");
	EXPECT_ERROR("not a size", "-kernel", "k", "-m", "1.5G");
	EXPECT_ERROR("not a size", "-kernel", "k", "-m", "-1G");
	EXPECT_ERROR("not a size", "-kernel", "k", "-m", "");
	EXPECT_ERROR("too large", "-kernel", "k", "-m", "2T");
	EXPECT_ERROR("too large", "-kernel", "k", "-m", "99999999999999999999");
	EXPECT_ERROR("too large", "-kernel", "k", "-m", "18446744073709551615G");
	EXPECT_ERROR("too small", "-kernel", "k", "-m", "8");
	EXPECT_ERROR("too small", "-kernel", "k", "-m", "0");
	EXPECT_ERROR("4 KiB", "-kernel", "k", "-m", "65537K");
	EXPECT_ERROR("only a size", "-kernel", "k", "-m", "1G,maxmem=4G");
}

Test(cli, smp)
{
	struct cli_opts o;
	char err[256];

	cr_assert_eq(PARSE(&o, err, "-kernel", "k", "-smp", "cpus=2,sockets=1,cores=2,threads=1"),
		     0, "%s", err);
	cr_assert_eq(o.vm.nr_vcpus, 2);
	cli_opts_free(&o);
	cr_assert_eq(PARSE(&o, err, "-kernel", "k", "-smp", "3,maxcpus=3"), 0, "%s", err);
	cr_assert_eq(o.vm.nr_vcpus, 3);
	cli_opts_free(&o);

	EXPECT_ERROR("1 to 254", "-kernel", "k", "-smp", "0");
	EXPECT_ERROR("1 to 254", "-kernel", "k", "-smp", "1000");
	EXPECT_ERROR("not a number", "-kernel", "k", "-smp", "two");
	EXPECT_ERROR("hot-plug", "-kernel", "k", "-smp", "2,maxcpus=4");
	EXPECT_ERROR("unknown key", "-kernel", "k", "-smp", "2,books=2");
}

Test(cli, serial)
{
	struct cli_opts o;
	char err[256];

	cr_assert_eq(PARSE(&o, err, "-kernel", "k", "-serial", "none", "-nographic"), 0);
	cr_assert_eq(o.vm.serial, VMM_SERIAL_NONE);
	cli_opts_free(&o);
	cr_assert_eq(PARSE(&o, err, "-kernel", "k", "-serial", "mon:stdio"), 0);
	cr_assert_eq(o.vm.serial, VMM_SERIAL_STDIO);
	cli_opts_free(&o);
	EXPECT_ERROR("stdio, none or file:PATH", "-kernel", "k", "-serial", "tcp:1234");
	EXPECT_ERROR("stdio, none or file:PATH", "-kernel", "k", "-serial", "file:");
}

Test(cli, devices)
{
	struct cli_opts o;
	char err[256];

	cr_assert_eq(PARSE(&o, err, "-kernel", "k", "-device", "passthrough,host=01:00.0",
			   "-device", "driver=vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:02:00.0",
			   "-device", "vfio-pci,host=0000:03:1f.7,id=a"), 0, "%s", err);
	cr_assert_eq(o.vm.nr_devices, 3);
	cr_assert_str_eq(o.vm.devices[0].spec, "passthrough,host=01:00.0");
	cr_assert_str_eq(o.vm.devices[1].spec,
			 "driver=vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:02:00.0");
	cr_assert_str_eq(o.vm.devices[2].spec, "vfio-pci,host=0000:03:1f.7,id=a");
	cli_opts_free(&o);

	EXPECT_ERROR("driver e1000 is not a passthrough device", "-kernel", "k", "-device", "e1000,netdev=n");
	EXPECT_ERROR("not a PCI address", "-kernel", "k", "-device", "vfio-pci,host=nonsense");
	EXPECT_ERROR("not a PCI address", "-kernel", "k", "-device", "vfio-pci,host=0000:01:20.0");
	EXPECT_ERROR("which host device?", "-kernel", "k", "-device", "vfio-pci,id=x");
	EXPECT_ERROR("give host= or sysfsdev=, not both", "-kernel", "k", "-device",
		     "vfio-pci,host=01:00.0,sysfsdev=/sys/bus/pci/devices/0000:01:00.0");
	EXPECT_ERROR("unknown property 'rombar'", "-kernel", "k", "-device",
		     "vfio-pci,host=01:00.0,rombar=0");
	EXPECT_ERROR("already used", "-kernel", "k", "-device", "vfio-pci,host=01:00.0,id=a",
		     "-device", "vfio-pci,host=02:00.0,id=a");
	EXPECT_ERROR("one driver", "-kernel", "k", "-device", "help");
}

Test(cli, other_errors)
{
	EXPECT_ERROR("no kernel", "-m", "1G");
	EXPECT_ERROR("no kernel");
	EXPECT_ERROR("empty path", "-kernel", "");
	EXPECT_ERROR("unknown option '-hda'", "-kernel", "k", "-hda", "disk.img");
	EXPECT_ERROR("unexpected argument 'disk.img'", "-kernel", "k", "disk.img");
	EXPECT_ERROR("needs a value", "-kernel", "k", "-append");
	EXPECT_ERROR("needs a value", "-kernel");
	EXPECT_ERROR("unix socket", "-kernel", "k", "-qmp", "tcp:localhost:4444");
	EXPECT_ERROR("unix socket", "-kernel", "k", "-qmp", "unix:");
}

Test(cli, iommufd_objects)
{
	struct cli_opts o;
	char err[256];

	/* QEMU's forms; the -object may come after the -device naming it. */
	cr_assert_eq(PARSE(&o, err, "-kernel", "/k",
			   "-device", "vfio-pci,host=0000:00:02.0,iommufd=ifd1",
			   "-object", "iommufd,id=ifd0",
			   "-object", "qom-type=iommufd,id=ifd1,fd=23",
			   "-device", "vfio-pci,host=0000:00:03.0"), 0, "%s", err);
	cr_assert_eq(o.vm.nr_iommufds, 2);
	cr_assert_str_eq(o.vm.iommufds[0].id, "ifd0");
	cr_assert_eq(o.vm.iommufds[0].fd, -1);
	cr_assert_str_eq(o.vm.iommufds[1].id, "ifd1");
	cr_assert_eq(o.vm.iommufds[1].fd, 23);
	cr_assert_eq(o.vm.nr_devices, 2);
	cli_opts_free(&o);

	cr_assert_eq(PARSE(&o, err, "-kernel", "/k"), 0, "%s", err);
	cr_assert_eq(o.vm.nr_iommufds, 0);
	cr_assert_null(o.vm.iommufds);
	cli_opts_free(&o);
}

Test(cli, iommufd_object_errors)
{
	EXPECT_ERROR("unknown property 'size'", "-kernel", "/k", "-object",
		     "iommufd,id=a,size=2");
	EXPECT_ERROR("unknown object type 'memory-backend-ram'", "-kernel", "/k", "-object",
		     "memory-backend-ram,id=m,size=1G");
	EXPECT_ERROR("needs an id", "-kernel", "/k", "-object", "iommufd");
	EXPECT_ERROR("no type", "-kernel", "/k", "-object", "id=a");
	EXPECT_ERROR("id 'a' is already used by another -object", "-kernel", "/k",
		     "-object", "iommufd,id=a", "-object", "iommufd,id=a");
	EXPECT_ERROR("id=9a: an id starts with a letter", "-kernel", "/k", "-object",
		     "iommufd,id=9a");
	EXPECT_ERROR("fd=x: give the number", "-kernel", "/k", "-object", "iommufd,id=a,fd=x");
	EXPECT_ERROR("fd is given twice", "-kernel", "/k", "-object",
		     "iommufd,id=a,fd=3,fd=4");
	EXPECT_ERROR("'oops' is not a property", "-kernel", "/k", "-object", "iommufd,id=a,oops");
	EXPECT_ERROR("option -object needs a value", "-kernel", "/k", "-object");
}

Test(cli, a_device_names_an_existing_iommufd_object)
{
	EXPECT_ERROR("iommufd=ifd0 names no object: add -object iommufd,id=ifd0", "-kernel",
		     "/k", "-device", "vfio-pci,host=0000:00:02.0,iommufd=ifd0");
	EXPECT_ERROR("iommufd=ifd1 names no object: add -object iommufd,id=ifd1", "-kernel",
		     "/k", "-object", "iommufd,id=ifd0", "-device",
		     "vfio-pci,host=0000:00:02.0,iommufd=ifd1");
	EXPECT_ERROR("iommufd has no value", "-kernel", "/k", "-object", "iommufd,id=ifd0",
		     "-device", "vfio-pci,host=0000:00:02.0,iommufd=");
}

Test(cli, run_with_user)
{
	struct cli_opts o;
	char err[256];

	cr_assert_eq(PARSE(&o, err, "-kernel", "/k"), 0, "%s", err);
	cr_assert_null(o.run_as, "no -run-with: ferry keeps its ids");
	cr_assert_not(o.keep_ipc_lock);
	cli_opts_free(&o);

	cr_assert_eq(PARSE(&o, err, "-kernel", "/k", "-run-with", "user=nobody"), 0, "%s", err);
	cr_assert_str_eq(o.run_as, "nobody");
	cr_assert_not(o.keep_ipc_lock);
	cli_opts_free(&o);

	cr_assert_eq(PARSE(&o, err, "--run-with", "user=65534:65534,keep-ipc-lock=on",
			   "-kernel", "/k"), 0, "%s", err);
	cr_assert_str_eq(o.run_as, "65534:65534");
	cr_assert(o.keep_ipc_lock);
	cli_opts_free(&o);

	cr_assert_eq(PARSE(&o, err, "-kernel", "/k", "-run-with", "keep-ipc-lock=off,user=nobody"),
		     0, "%s", err);
	cr_assert_str_eq(o.run_as, "nobody");
	cr_assert_not(o.keep_ipc_lock);
	cli_opts_free(&o);
}

Test(cli, run_with_errors)
{
	EXPECT_ERROR("say which user", "-kernel", "/k", "-run-with", "keep-ipc-lock=on");
	EXPECT_ERROR("write key=value", "-kernel", "/k", "-run-with", "nobody");
	EXPECT_ERROR("user= is empty", "-kernel", "/k", "-run-with", "user=");
	EXPECT_ERROR("user is given twice", "-kernel", "/k", "-run-with", "user=a,user=b");
	EXPECT_ERROR("-run-with is given twice", "-kernel", "/k", "-run-with", "user=a",
		     "-run-with", "user=b");
	EXPECT_ERROR("keep-ipc-lock=maybe: give on or off", "-kernel", "/k", "-run-with",
		     "user=a,keep-ipc-lock=maybe");
	EXPECT_ERROR("unknown key 'chroot'", "-kernel", "/k", "-run-with",
		     "user=a,chroot=/var/empty");
	EXPECT_ERROR("needs a value", "-kernel", "/k", "-run-with");
}

Test(cli, add_fd_and_fdset_paths)
{
	struct cli_opts o;
	char err[256];

	/* -add-fd may come after the -device that names its set. */
	cr_assert_eq(PARSE(&o, err, "-kernel", "/k",
			   "-device", "vfio-pci,host=01:00.0,fd=/dev/fdset/2,id=d0",
			   "-add-fd", "fd=7,set=2,opaque=/dev/vfio/12",
			   "-add-fd", "fd=9,set=2",
			   "-device", "vfio-pci,fd=/dev/fdset/4,host=02:00.0",
			   "-add-fd", "set=4,fd=11"), 0, "%s", err);
	cr_assert_eq(o.nr_fdset_fds, 3);
	cr_assert_eq(o.fdset_fds[0].fd, 7);
	cr_assert_eq(o.fdset_fds[0].set, 2);
	cr_assert_str_eq(o.fdset_fds[0].opaque, "/dev/vfio/12");
	cr_assert_null(o.fdset_fds[1].opaque);
	/* The set's first fd, in place; the rest of the spec kept. */
	cr_assert_str_eq(o.vm.devices[0].spec, "vfio-pci,host=01:00.0,fd=7,id=d0");
	cr_assert_str_eq(o.vm.devices[1].spec, "vfio-pci,fd=11,host=02:00.0");
	cli_opts_free(&o);

	/* A plain number stays as it is. */
	cr_assert_eq(PARSE(&o, err, "-kernel", "/k", "-device", "vfio-pci,host=01:00.0,fd=5"),
		     0, "%s", err);
	cr_assert_str_eq(o.vm.devices[0].spec, "vfio-pci,host=01:00.0,fd=5");
	cli_opts_free(&o);
}

Test(cli, add_fd_errors)
{
	EXPECT_ERROR("give both fd=N", "-kernel", "/k", "-add-fd", "fd=5");
	EXPECT_ERROR("give both fd=N", "-kernel", "/k", "-add-fd", "set=1");
	EXPECT_ERROR("fd=1 is stdin, stdout or stderr", "-kernel", "/k", "-add-fd", "fd=1,set=1");
	EXPECT_ERROR("fd=x is not a number", "-kernel", "/k", "-add-fd", "fd=x,set=1");
	EXPECT_ERROR("unknown key 'flags'", "-kernel", "/k", "-add-fd", "fd=5,set=1,flags=2");
	EXPECT_ERROR("fd 5 is already in fd set 1", "-kernel", "/k", "-add-fd", "fd=5,set=1",
		     "-add-fd", "fd=5,set=2");
	EXPECT_ERROR("fd set 3 has no fd: add -add-fd fd=N,set=3", "-kernel", "/k",
		     "-add-fd", "fd=5,set=1", "-device", "vfio-pci,host=01:00.0,fd=/dev/fdset/3");
	EXPECT_ERROR("an fd set is a number", "-kernel", "/k",
		     "-device", "vfio-pci,host=01:00.0,fd=/dev/fdset/x");
	/* Rewritten, the device is judged as any other. */
	EXPECT_ERROR("unknown property 'bogus'", "-kernel", "/k", "-add-fd", "fd=5,set=1",
		     "-device", "vfio-pci,host=01:00.0,fd=/dev/fdset/1,bogus=1");
	EXPECT_ERROR("fd=-3: give the number", "-kernel", "/k",
		     "-device", "vfio-pci,host=01:00.0,fd=-3");
}

Test(cli, prelaunch)
{
	struct cli_opts o;
	char err[256];

	cr_assert_eq(PARSE(&o, err, "-kernel", "/k"), 0, "%s", err);
	cr_assert_not(o.vm.prelaunch);
	cli_opts_free(&o);
	cr_assert_eq(PARSE(&o, err, "-S", "-kernel", "/k", "-qmp",
			   "unix:/tmp/q.sock,server,wait=off"), 0, "%s", err);
	cr_assert(o.vm.prelaunch);
	cli_opts_free(&o);
	/* Nothing could ever start it. */
	EXPECT_ERROR("-S waits for QMP's cont, and there is no QMP", "-kernel", "k", "-S");
}
