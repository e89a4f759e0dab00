// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host asking for a device back (VFIO's request interrupt,
 * passthrough/request.c) on the kernel model.  The VM's side records the
 * fds the layer asks to watch and the unplugs it asks for; the test plays
 * the event loop (a watched fd that is readable gets its callback) and the
 * kernel (a write to the eventfd the model says VFIO would signal).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fault_sys.h"
#include "kmodel.h"
#include "memory/memory.h"
#include "passthrough/passthrough.h"

#define BDF	"0000:00:03.0"
#define BDF2	"0000:00:04.0"
#define MAX_WATCHES 4

static struct {
	struct {
		int fd;
		void (*fn)(void *arg);
		void *arg;
	} watch[MAX_WATCHES];
	int nwatch;
	int unwatches;
	/* At each unwatch: the model's request eventfd and the device's open count. */
	int req_efd_at_unwatch, open_at_unwatch;
	struct passthrough_device *unplugged[8];
	int nunplug;
	int fail_watch;		/* fd_watch returns this (negative) when set */
	int fail_unplug;	/* request_unplug returns this when set */
} vm;

static struct {
	struct kmodel *km;
	struct fault_sys fault;
	struct vfio_sys *ms;
	int kvm_fd, vm_fd;
	struct mem_map *map;
	struct passthrough_host *host;
	struct passthrough_vm_config cfg;
	char err[1024];
} t;

static int vm_trap_add(void *opaque, enum passthrough_space space, uint64_t base, uint64_t len,
		       struct passthrough_bar *bar)
{
	return 0;
}

static int vm_trap_del(void *opaque, enum passthrough_space space, uint64_t base)
{
	return 0;
}

static int vm_defer(void *opaque, void (*fn)(void *arg), void *arg)
{
	return -EPERM;
}

static int vm_fd_watch(void *opaque, int fd, void (*fn)(void *arg), void *arg)
{
	if (vm.fail_watch)
		return vm.fail_watch;
	for (int i = 0; i < vm.nwatch; i++)
		cr_assert_neq(vm.watch[i].fd, fd, "fd %d watched twice", fd);
	cr_assert_lt(vm.nwatch, MAX_WATCHES);
	vm.watch[vm.nwatch].fd = fd;
	vm.watch[vm.nwatch].fn = fn;
	vm.watch[vm.nwatch].arg = arg;
	vm.nwatch++;
	return 0;
}

static int vm_fd_unwatch(void *opaque, int fd)
{
	vm.unwatches++;
	vm.req_efd_at_unwatch = kmodel_device_req_eventfd(t.km, BDF);
	vm.open_at_unwatch = kmodel_device_open_count(t.km, BDF);
	for (int i = 0; i < vm.nwatch; i++) {
		if (vm.watch[i].fd == fd) {
			vm.watch[i] = vm.watch[--vm.nwatch];
			return 0;
		}
	}
	cr_assert_fail("unwatch of fd %d, which is not watched", fd);
	return -ENOENT;
}

static int vm_request_unplug(void *opaque, struct passthrough_device *dev)
{
	cr_assert_lt(vm.nunplug, 8);
	vm.unplugged[vm.nunplug++] = dev;
	return vm.fail_unplug;
}

static const struct passthrough_vm_ops vm_ops = {
	.trap_add = vm_trap_add,
	.trap_del = vm_trap_del,
	.defer = vm_defer,
	.fd_watch = vm_fd_watch,
	.fd_unwatch = vm_fd_unwatch,
	.request_unplug = vm_request_unplug,
};

/* The same VM without the request ops (a VMM that cannot unplug). */
static const struct passthrough_vm_ops vm_ops_no_unplug = {
	.trap_add = vm_trap_add,
	.trap_del = vm_trap_del,
	.defer = vm_defer,
	.fd_watch = vm_fd_watch,
	.fd_unwatch = vm_fd_unwatch,
};

static int base_eventfds;

static int count_eventfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[300], link[64];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		n += !strcmp(link, "anon_inode:[eventfd]");
	}
	closedir(d);
	return n - base_eventfds;
}

static void setup(void)
{
	memset(&t, 0, sizeof(t));
	memset(&vm, 0, sizeof(vm));
	t.km = kmodel_new(NULL);
	cr_assert_not_null(t.km);
	cr_assert_eq(kmodel_add_device(t.km, BDF, 0x1234, 0x11e8, 5), 0);
	cr_assert_eq(kmodel_bind(t.km, BDF, "vfio-pci"), 0);
	cr_assert_eq(kmodel_add_device(t.km, BDF2, 0x1234, 0x11e8, 6), 0);
	cr_assert_eq(kmodel_bind(t.km, BDF2, "vfio-pci"), 0);
	t.ms = kmodel_sys(t.km);
	fault_sys_init(&t.fault, t.ms);
	t.kvm_fd = t.ms->open(t.ms, "/dev/kvm", O_RDWR);
	cr_assert_geq(t.kvm_fd, 0);
	t.vm_fd = t.ms->ioctl(t.ms, t.kvm_fd, KVM_CREATE_VM, NULL);
	cr_assert_geq(t.vm_fd, 0);
	cr_assert_eq(mem_map_new(&t.map), 0);
	t.cfg = (struct passthrough_vm_config){
		.sys = fault_sys_table(&t.fault),
		.vm_fd = t.vm_fd,
		.map = t.map,
		.cap_ipc_lock = true,
		.backend = VFIO_BACKEND_CONTAINER,
		.ops = &vm_ops,
		.vm = &vm,
	};
	base_eventfds = 0;
	base_eventfds = count_eventfds();
}

static void teardown(void)
{
	passthrough_host_free(t.host);
	cr_expect_eq(count_eventfds(), 0, "eventfds left open");
	cr_expect_eq(vm.nwatch, 0, "fds left watched");
	mem_map_free(t.map);
	t.ms->close(t.ms, t.vm_fd);
	t.ms->close(t.ms, t.kvm_fd);
	cr_expect_eq(kmodel_live_fds(t.km), 0, "model fds left open");
	kmodel_free(t.km);
}

TestSuite(request, .init = setup, .fini = teardown);

static struct passthrough_device *add(const char *bdf, const char *id)
{
	struct passthrough_device *dev = NULL;
	struct passthrough_opts o;
	char spec[96];
	int ret;

	if (!t.host)
		cr_assert_eq(passthrough_host_new(&t.cfg, &t.host, t.err, sizeof(t.err)), 0, "%s",
			     t.err);
	snprintf(spec, sizeof(spec), "passthrough,host=%s%s%s", bdf, id ? ",id=" : "",
		 id ? id : "");
	cr_assert_eq(passthrough_opts_parse(spec, &o, t.err, sizeof(t.err)), 0, "%s", t.err);
	ret = passthrough_device_add(t.host, &o, &dev, t.err, sizeof(t.err));
	cr_assert_eq(ret, 0, "add %s: %d %s", bdf, ret, t.err);
	return dev;
}

/* The kernel signals the request (vfio_pci_core_request(): eventfd_signal). */
static void kernel_requests(const char *bdf)
{
	int efd = kmodel_device_req_eventfd(t.km, bdf);
	uint64_t one = 1;

	cr_assert_geq(efd, 0, "the request interrupt is not registered in VFIO");
	cr_assert_eq(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/*
 * One round of a level-triggered loop: every watched fd that is readable
 * gets its callback.  Returns how many callbacks ran.
 */
static int loop_round(void)
{
	int n = 0;

	for (int i = 0; i < vm.nwatch; i++) {
		if (readable(vm.watch[i].fd)) {
			vm.watch[i].fn(vm.watch[i].arg);
			n++;
		}
	}
	return n;
}

Test(request, registered_at_attach_and_watched)
{
	struct passthrough_device *d = add(BDF, "nic0");
	int efd = kmodel_device_req_eventfd(t.km, BDF);

	cr_assert_geq(efd, 0, "VFIO has no request eventfd after the attach");
	cr_expect(passthrough_device_has_request(d));
	cr_assert_eq(vm.nwatch, 1, "the request eventfd is not on the VM's loop");
	cr_expect_eq(vm.watch[0].fd, efd, "the loop watches another fd than VFIO signals");
	cr_expect_eq(count_eventfds(), 1);
	cr_expect_eq(vm.nunplug, 0, "an unplug asked for without a request");
	cr_expect_eq(loop_round(), 0, "the eventfd is readable before any request");
}

Test(request, signal_asks_for_one_unplug)
{
	struct passthrough_device *d = add(BDF, "nic0");
	struct passthrough_device *d2 = add(BDF2, NULL);

	kernel_requests(BDF);
	cr_assert_eq(loop_round(), 1);
	cr_assert_eq(vm.nunplug, 1, "the request did not ask the VMM for an unplug");
	cr_expect_eq(vm.unplugged[0], d, "the unplug names another device");
	cr_expect_not(readable(kmodel_device_req_eventfd(t.km, BDF)),
		      "the callback left the eventfd readable: a level loop would spin");

	/* The kernel repeats the request until the device is closed: one unplug. */
	kernel_requests(BDF);
	kernel_requests(BDF);
	cr_expect_eq(loop_round(), 1);
	kernel_requests(BDF);
	cr_expect_eq(loop_round(), 1);
	cr_expect_eq(vm.nunplug, 1, "a repeated request asked for another unplug");
	cr_expect_not(readable(kmodel_device_req_eventfd(t.km, BDF)));

	/* The other device has its own request. */
	kernel_requests(BDF2);
	cr_expect_eq(loop_round(), 1);
	cr_assert_eq(vm.nunplug, 2);
	cr_expect_eq(vm.unplugged[1], d2);
}

Test(request, a_failed_unplug_is_not_asked_again)
{
	struct passthrough_device *d = add(BDF, NULL);

	vm.fail_unplug = -ENOMEM;
	kernel_requests(BDF);
	cr_expect_eq(loop_round(), 1);
	kernel_requests(BDF);
	cr_expect_eq(loop_round(), 1);
	cr_expect_eq(vm.nunplug, 1);
	cr_expect_eq(vm.unplugged[0], d);
}

Test(request, remove_unregisters_then_closes_before_the_device_fd)
{
	struct passthrough_device *d = add(BDF, "nic0");
	int efd = kmodel_device_req_eventfd(t.km, BDF);

	cr_assert_geq(efd, 0);
	kernel_requests(BDF);
	loop_round();
	cr_assert_eq(passthrough_device_remove(d, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_expect_eq(vm.unwatches, 1);
	cr_expect_eq(vm.req_efd_at_unwatch, -1,
		     "the loop stopped watching while VFIO could still signal the eventfd");
	cr_expect_gt(vm.open_at_unwatch, 0, "the request was released after the device fd");
	cr_expect_eq(vm.nwatch, 0);
	cr_expect_eq(count_eventfds(), 0, "the request eventfd is still open");
	cr_expect_eq(fcntl(efd, F_GETFD), -1, "fd %d is still open", efd);
	cr_expect_eq(kmodel_device_open_count(t.km, BDF), 0);
}

Test(request, host_free_releases_every_request)
{
	add(BDF, NULL);
	add(BDF2, NULL);
	cr_assert_eq(vm.nwatch, 2);
	cr_expect_eq(count_eventfds(), 2);
	passthrough_host_free(t.host);
	t.host = NULL;
	cr_expect_eq(vm.unwatches, 2);
	cr_expect_eq(vm.nwatch, 0);
	cr_expect_eq(count_eventfds(), 0);
}

Test(request, failed_registration_keeps_the_device_and_leaks_nothing)
{
	struct passthrough_device *d;

	/* The attach itself makes no SET_IRQS: the first is the request's. */
	fault_sys_arm_ioctl(&t.fault, VFIO_DEVICE_SET_IRQS, 1, EIO);
	d = add(BDF, "nic0");
	cr_expect_eq(t.fault.injected, 1, "the request's SET_IRQS was not made");
	fault_sys_disarm(&t.fault);
	cr_expect_not(passthrough_device_has_request(d));
	cr_expect_eq(kmodel_device_req_eventfd(t.km, BDF), -1);
	cr_expect_eq(vm.nwatch, 0);
	cr_expect_eq(count_eventfds(), 0, "the failed registration left its eventfd open");
	cr_assert_eq(passthrough_device_remove(d, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_expect_eq(vm.unwatches, 0, "unwatch of an fd never watched");
}

Test(request, failed_watch_unregisters_and_leaks_nothing)
{
	struct passthrough_device *d;

	vm.fail_watch = -ENOMEM;
	d = add(BDF, NULL);
	vm.fail_watch = 0;
	cr_expect_not(passthrough_device_has_request(d));
	cr_expect_eq(kmodel_device_req_eventfd(t.km, BDF), -1,
		     "VFIO still signals an eventfd nobody watches");
	cr_expect_eq(count_eventfds(), 0, "the eventfd is still open");
	cr_assert_eq(passthrough_device_remove(d, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_expect_eq(vm.unwatches, 0);
}

Test(request, failed_irq_info_means_no_request)
{
	struct passthrough_device *d;
	unsigned long n;

	/* How many GET_IRQ_INFO an attach makes: the request's is the last. */
	fault_sys_arm_ioctl(&t.fault, VFIO_DEVICE_GET_IRQ_INFO, 1000, EIO);
	d = add(BDF, NULL);
	n = t.fault.req_calls;
	cr_assert_gt(n, 0);
	cr_assert(passthrough_device_has_request(d));
	fault_sys_arm_ioctl(&t.fault, VFIO_DEVICE_GET_IRQ_INFO, n, EIO);
	d = add(BDF2, NULL);
	cr_expect_eq(t.fault.injected, 1);
	fault_sys_disarm(&t.fault);
	cr_expect_not(passthrough_device_has_request(d));
	cr_expect_eq(kmodel_device_req_eventfd(t.km, BDF2), -1);
	cr_expect_eq(vm.nwatch, 1, "only the first device's request is watched");
	cr_expect_eq(count_eventfds(), 1);
}

Test(request, not_registered_without_an_unplug_op)
{
	struct passthrough_device *d;

	t.cfg.ops = &vm_ops_no_unplug;
	d = add(BDF, NULL);
	cr_expect_not(passthrough_device_has_request(d));
	cr_expect_eq(kmodel_device_req_eventfd(t.km, BDF), -1);
	cr_expect_eq(vm.nwatch, 0);
	cr_expect_eq(count_eventfds(), 0);
}

/*
 * After the host's request the kernel's unbind goes on as soon as the device
 * fd closes and detaches the group itself: the group's UNSET_CONTAINER then
 * fails (EINVAL on 6.1), which is no failure of the removal.  Without a
 * request the same failure is reported.
 */
Test(request, group_already_detached_by_the_host_is_not_an_error)
{
	struct passthrough_device *d = add(BDF, "nic0");
	struct passthrough_device *d2 = add(BDF2, NULL);

	kernel_requests(BDF);
	loop_round();
	fault_sys_arm_ioctl(&t.fault, VFIO_GROUP_UNSET_CONTAINER, 1, EINVAL);
	cr_expect_eq(passthrough_device_remove(d, t.err, sizeof(t.err)), 0,
		     "the removal the host asked for failed: %s", t.err);
	cr_expect_eq(t.fault.injected, 1);
	fault_sys_arm_ioctl(&t.fault, VFIO_GROUP_UNSET_CONTAINER, 1, EINVAL);
	cr_expect_eq(passthrough_device_remove(d2, t.err, sizeof(t.err)), -EINVAL);
	cr_expect(strstr(t.err, "UNSET_CONTAINER") != NULL, "%s", t.err);
	fault_sys_disarm(&t.fault);
}
