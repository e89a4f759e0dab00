// SPDX-License-Identifier: GPL-2.0-only
/* Thin wrappers of the kvm-vfio pseudo device. */
#include <errno.h>

#include "vfio/priv.h"

int vfio_kvm_device_create(struct vfio_sys *sys, int vm_fd)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	int ret = sys->ioctl(sys, vm_fd, KVM_CREATE_DEVICE, &cd);

	return ret < 0 ? ret : (int)cd.fd;
}

static int kvm_file_attr(struct vfio_sys *sys, int kvm_dev_fd, uint64_t attr, int file_fd)
{
	/* The kernel reads an int32 through addr. */
	int32_t fd = file_fd;
	struct kvm_device_attr a = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = attr,
		.addr = (uintptr_t)&fd,
	};
	int ret = sys->ioctl(sys, kvm_dev_fd, KVM_SET_DEVICE_ATTR, &a);

	return ret < 0 ? ret : 0;
}

int vfio_kvm_file_add(struct vfio_sys *sys, int kvm_dev_fd, int file_fd)
{
	return kvm_file_attr(sys, kvm_dev_fd, KVM_DEV_VFIO_FILE_ADD, file_fd);
}

int vfio_kvm_file_del(struct vfio_sys *sys, int kvm_dev_fd, int file_fd)
{
	return kvm_file_attr(sys, kvm_dev_fd, KVM_DEV_VFIO_FILE_DEL, file_fd);
}
