// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kvm-vfio pseudo device (virt/kvm/vfio.c): one per VM, FILE_ADD/DEL of
 * VFIO files, and the reference it holds on each file it knows.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ct.h"

static struct ct ct;
static int kvm = -1, vm = -1, kv = -1;

static void fini(void)
{
	ct_teardown(&ct);
}

TestSuite(kvm, .fini = fini);

/* /dev/kvm, a VM and its kvm-vfio device, or a skip. */
static void setup_vm(enum ct_need need)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };

	ct_setup(&ct, need);
	if (!ct.kvm)
		ct_skip(&ct, "no /dev/kvm on this host");
	kvm = ct_open(&ct, "/dev/kvm");
	vm = ct_ioctl_val(&ct, kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0, "KVM_CREATE_VM: %s", strerror(-vm));
	cr_assert_eq(ct_ioctl(&ct, vm, KVM_CREATE_DEVICE, &cd), 0);
	kv = cd.fd;
}

static int file_op(uint64_t op, int fd)
{
	int32_t v = fd;
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_FILE, .attr = op, .addr = (uintptr_t)&v,
	};

	return ct_ioctl(&ct, kv, KVM_SET_DEVICE_ATTR, &attr);
}

static void close_vm(void)
{
	ct_close(&ct, kv);
	ct_close(&ct, vm);
	ct_close(&ct, kvm);
}

Test(kvm, one_vfio_device_per_vm)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	struct kvm_create_device test = { .type = KVM_DEV_TYPE_VFIO,
					  .flags = KVM_CREATE_DEVICE_TEST };

	setup_vm(CT_NEED_ONE);
	cr_expect_eq(ct_ioctl(&ct, vm, KVM_CREATE_DEVICE, &cd), -EBUSY);
	cr_expect_eq(ct_ioctl(&ct, vm, KVM_CREATE_DEVICE, &test), 0, "TEST only asks");
	ct_close(&ct, kv);
	cr_expect_eq(ct_ioctl(&ct, vm, KVM_CREATE_DEVICE, &cd), 0,
		     "closing the kvm-vfio fd releases it");
	kv = cd.fd;
	close_vm();
}

Test(kvm, has_attr_knows_file_add_and_del)
{
	struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_ADD };

	setup_vm(CT_NEED_ONE);
	cr_expect_eq(ct_ioctl(&ct, kv, KVM_HAS_DEVICE_ATTR, &attr), 0);
	attr.attr = KVM_DEV_VFIO_FILE_DEL;
	cr_expect_eq(ct_ioctl(&ct, kv, KVM_HAS_DEVICE_ATTR, &attr), 0);
	attr.group = 77;
	cr_expect_eq(ct_ioctl(&ct, kv, KVM_HAS_DEVICE_ATTR, &attr), -ENXIO);
	close_vm();
}

Test(kvm, file_add_and_del_rules)
{
	int g, c, efd, closed;

	setup_vm(CT_NEED_ONE);
	g = ct_open_group(&ct);
	c = ct_open(&ct, "/dev/vfio/vfio");
	efd = eventfd(0, EFD_CLOEXEC);
	closed = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	close(closed);
	cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_ADD, g), 0);
	cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_ADD, g), -EEXIST);
	cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_ADD, efd), -EINVAL, "not a VFIO file");
	cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_ADD, c), -EINVAL, "a container is no VFIO file");
	cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_ADD, closed), -EBADF);
	cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_DEL, efd), -ENOENT);
	if (ct.km)
		cr_expect_eq(kmodel_kvm_vfio_files(ct.km, kv, g), 1);
	cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_DEL, g), 0);
	cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_DEL, g), -ENOENT);
	close(efd);
	ct_close(&ct, g);
	ct_close(&ct, c);
	close_vm();
}

/*
 * kvm-vfio holds the file: a group fd closed while still registered keeps
 * the group open until FILE_DEL, or until the kvm-vfio device goes.
 */
Test(kvm, a_registered_group_stays_open)
{
	int g, ret;

	setup_vm(CT_NEED_ONE);
	g = ct_open_group(&ct);
	cr_assert_eq(file_op(KVM_DEV_VFIO_FILE_ADD, g), 0);
	ct_close(&ct, g);
	ret = ct.sys->open(ct.sys, ct.group_path, O_RDWR);
	cr_expect_eq(ret, -EBUSY, "reopen while kvm-vfio holds the group: %d", ret);
	if (ret >= 0)
		ct_close(&ct, ret);
	ct_close(&ct, kv);
	g = ct_open_group(&ct);
	ct_close(&ct, g);
	ct_close(&ct, vm);
	ct_close(&ct, kvm);
}

/* Linux 6.6 takes any VFIO device file; before, group files only (EINVAL). */
Test(kvm, device_files_are_accepted_from_linux_6_6)
{
	int g, c, d, ret;

	setup_vm(CT_NEED_ONE);
	ct_group_with_container(&ct, &g, &c);
	d = ct_device_fd(&ct, g, 0);
	ret = file_op(KVM_DEV_VFIO_FILE_ADD, d);
	cr_expect_eq(ret, ct.kvm_vfio_file ? 0 : -EINVAL, "FILE_ADD of a device fd: %d", ret);
	if (!ret)
		cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_DEL, d), 0);
	ct_close(&ct, d);
	ct_close(&ct, g);
	ct_close(&ct, c);
	close_vm();
}

Test(kvm, a_cdev_fd_registers_before_bind)
{
	char path[64];
	int cd, ret;

	setup_vm(CT_NEED_ONE);
	if (ct.dev[0].cdev < 0)
		ct_skip(&ct, "%s has no VFIO cdev on this kernel", ct.dev[0].bdf);
	snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%d", ct.dev[0].cdev);
	cd = ct_open(&ct, path);
	ret = file_op(KVM_DEV_VFIO_FILE_ADD, cd);
	cr_expect_eq(ret, ct.kvm_vfio_file ? 0 : -EINVAL, "FILE_ADD of a cdev fd: %d", ret);
	if (ct.km && !ret)
		cr_expect_eq(kmodel_kvm_vfio_files(ct.km, vm, cd), 1);
	if (!ret)
		cr_expect_eq(file_op(KVM_DEV_VFIO_FILE_DEL, cd), 0);
	ct_close(&ct, cd);
	close_vm();
}

/*
 * The same hold on a cdev fd: a bound cdev closed while registered stays
 * bound, so its group stays blocked until the kvm-vfio device lets go.
 */
Test(kvm, a_registered_cdev_stays_bound_after_close)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b) };
	char path[64];
	int cd, ictx, ret, g;

	setup_vm(CT_NEED_ONE);
	if (ct.dev[0].cdev < 0 || !ct.iommufd)
		ct_skip(&ct, "%s has no VFIO cdev on this kernel", ct.dev[0].bdf);
	snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%d", ct.dev[0].cdev);
	ictx = ct_open(&ct, "/dev/iommu");
	cd = ct_open(&ct, path);
	cr_assert_eq(file_op(KVM_DEV_VFIO_FILE_ADD, cd), 0);
	b.iommufd = ictx;
	cr_assert_eq(ct_ioctl(&ct, cd, VFIO_DEVICE_BIND_IOMMUFD, &b), 0);
	ct_close(&ct, cd);
	ret = ct.sys->open(ct.sys, ct.group_path, O_RDWR);
	cr_expect_eq(ret, -EBUSY, "group open while kvm-vfio holds a bound cdev: %d", ret);
	if (ret >= 0)
		ct_close(&ct, ret);
	ct_close(&ct, kv);
	g = ct_open_group(&ct);
	ct_close(&ct, g);
	ct_close(&ct, vm);
	ct_close(&ct, kvm);
	ct_close(&ct, ictx);
}
