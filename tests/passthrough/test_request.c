// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host asking for a device back (VFIO's request interrupt,
 * passthrough/request.c) on the kernel model.  The VM's side records the
 * fds the layer asks to watch and the unplugs it asks for; the test plays
 * the event loop (a watched fd that is readable gets its callback) and the
 * kernel (a write to the eventfd the model says VFIO would signal).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "pt_fixture.h"

#define BDF	"0000:00:03.0"
#define BDF2	"0000:00:04.0"
#define MAX_WATCHES 4

static struct {
	struct {
		int fd;
		void (*fn)(void *arg, uint32_t events);
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

static struct pt_fixture t;

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

static int vm_fd_watch(void *opaque, int fd, void (*fn)(void *arg, uint32_t events),
		       void *arg)
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

/* BDF and BDF2 on vfio-pci, alone in groups 5 and 6; no RAM. */
static const struct pt_fixture_dev devs[] = {
	{ BDF, 0x1234, 0x11e8, 5, "vfio-pci" },
	{ BDF2, 0x1234, 0x11e8, 6, "vfio-pci" },
};

static void setup(void)
{
	struct pt_fixture_config c = {
		.kernel = kmodel_config_iommufd(),
		PT_FIXTURE_DEVS(devs),
		.cap_ipc_lock = true,
		.ops = &vm_ops,
		.vm = &vm,
	};

	memset(&vm, 0, sizeof(vm));
	pt_fixture_setup(&t, &c);
}

/* The fixture's checks (no eventfd, model fd or pin left), then the VM's. */
static void teardown(void)
{
	pt_fixture_teardown(&t);
	cr_expect_eq(vm.nwatch, 0, "fds left watched");
}

TestSuite(request, .init = setup, .fini = teardown);

/* Adds @bdf (with id @id unless NULL), making the host first if no test did. */
static struct passthrough_device *add(const char *bdf, const char *id)
{
	char spec[96];

	if (!t.host)
		pt_fixture_host_new(&t);
	snprintf(spec, sizeof(spec), "passthrough,host=%s%s%s", bdf, id ? ",id=" : "",
		 id ? id : "");
	return pt_fixture_add_ok(&t, spec);
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
			vm.watch[i].fn(vm.watch[i].arg, EPOLLIN);
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
	cr_expect_eq(pt_fixture_eventfds(&t), 1);
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
	cr_expect_eq(pt_fixture_eventfds(&t), 0, "the request eventfd is still open");
	cr_expect_eq(fcntl(efd, F_GETFD), -1, "fd %d is still open", efd);
	cr_expect_eq(kmodel_device_open_count(t.km, BDF), 0);
}

Test(request, host_free_releases_every_request)
{
	add(BDF, NULL);
	add(BDF2, NULL);
	cr_assert_eq(vm.nwatch, 2);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
	passthrough_host_free(t.host);
	t.host = NULL;
	cr_expect_eq(vm.unwatches, 2);
	cr_expect_eq(vm.nwatch, 0);
	cr_expect_eq(pt_fixture_eventfds(&t), 0);
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
	cr_expect_eq(pt_fixture_eventfds(&t), 0, "the failed registration left its eventfd open");
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
	cr_expect_eq(pt_fixture_eventfds(&t), 0, "the eventfd is still open");
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
	cr_expect_eq(pt_fixture_eventfds(&t), 1);
}

Test(request, not_registered_without_an_unplug_op)
{
	struct passthrough_device *d;

	t.cfg.ops = &vm_ops_no_unplug;
	d = add(BDF, NULL);
	cr_expect_not(passthrough_device_has_request(d));
	cr_expect_eq(kmodel_device_req_eventfd(t.km, BDF), -1);
	cr_expect_eq(vm.nwatch, 0);
	cr_expect_eq(pt_fixture_eventfds(&t), 0);
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
