// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/kvm, VMs and the kvm-vfio pseudo device.  Mirrors virt/kvm/vfio.c and
 * kvm_ioctl_create_device() of Linux 6.12, plus the one thing older kernels
 * (before 6.6) do differently: they accept only group fds.
 *
 * kvm-vfio holds a reference on every file registered with it: a group fd
 * closed while still registered keeps the group open (reopening it is EBUSY)
 * until FILE_DEL or until the kvm-vfio device itself is released.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kmodel_priv.h"

int km_kvm_open(struct kmodel *km, struct kfile **out)
{
	struct kfile *f = km_file_new(km, KF_KVM);

	if (!f)
		return -ENOMEM;
	*out = f;
	return 0;
}

void km_vm_release(struct kfile *f)
{
	free(f->vm);
}

struct kkvm_vfio *km_kvm_vfio_of(struct kfile *f)
{
	if (f->type == KF_KVM_VFIO)
		return f->kv;
	if (f->type == KF_VM && f->vm->kvm_vfio)
		return f->vm->kvm_vfio->kv;
	return NULL;
}

/* kvm_vfio_file_set_kvm(): the group's or the cdev file's KVM pointer */
static void km_file_set_kvm(struct kfile *f, struct kfile *vm)
{
	if (f->type == KF_GROUP)
		f->group->kvm_file = vm;
	else if (f->type == KF_DEVICE && !f->df->group)
		f->df->kvm = vm;
}

/* kvm_vfio_release(): on close of the kvm-vfio device fd */
void km_kvm_vfio_release(struct kfile *f)
{
	struct kkvm_vfio *kv = f->kv;
	struct kfile *vm = kv->vm;

	for (unsigned int i = 0; i < kv->nfiles; i++) {
		km_file_set_kvm(kv->files[i], NULL);
		km_file_put(kv->files[i]);
	}
	vm->vm->kvm_vfio = NULL;
	free(kv);
	km_file_put(vm);
}

/* vfio_file_is_valid() as the kernel in use sees it */
static bool km_vfio_file_valid(struct kmodel *km, struct kfile *f)
{
	if (f->type == KF_GROUP)
		return true;
	/*
	 * 6.6+: any vfio device file (a cdev fd or one from GET_DEVICE_FD);
	 * before: vfio_file_is_group() only.
	 */
	return f->type == KF_DEVICE && km->cfg.kvm_vfio_cdev;
}

static int km_kvm_vfio_file_add(struct kfile *kf, int fd)
{
	struct kkvm_vfio *kv = kf->kv;
	struct kfile *f;
	int ret = km_fd_lookup(kf->km, fd, &f);

	if (ret == -EBADF)
		return ret;
	if (ret || !km_vfio_file_valid(kf->km, f))
		return -EINVAL;
	for (unsigned int i = 0; i < kv->nfiles; i++)
		if (kv->files[i] == f)
			return -EEXIST;
	if (kv->nfiles == sizeof(kv->files) / sizeof(kv->files[0]))
		return -ENOMEM;
	km_file_get(f);
	kv->files[kv->nfiles++] = f;
	km_file_set_kvm(f, kv->vm);
	return 0;
}

static int km_kvm_vfio_file_del(struct kfile *kf, int fd)
{
	struct kkvm_vfio *kv = kf->kv;
	struct kfile *f;
	int ret = km_fd_lookup(kf->km, fd, &f);

	if (ret == -EBADF)
		return ret;
	if (ret)
		return -ENOENT;
	for (unsigned int i = 0; i < kv->nfiles; i++) {
		if (kv->files[i] != f)
			continue;
		kv->files[i] = kv->files[--kv->nfiles];
		km_file_set_kvm(f, NULL);
		km_file_put(f);
		return 0;
	}
	return -ENOENT;
}

/* kvm_vfio_set_attr()/has_attr() */
static int km_kvm_vfio_ioctl(struct kfile *f, unsigned long req, void *arg)
{
	struct kvm_device_attr *attr = arg;

	if (req != KVM_SET_DEVICE_ATTR && req != KVM_HAS_DEVICE_ATTR &&
	    req != KVM_GET_DEVICE_ATTR)
		return -ENOTTY;
	if (req == KVM_GET_DEVICE_ATTR)
		return -EPERM;	/* kvm-vfio has no get_attr: kvm_device_ioctl_attr() */
	if (attr->group != KVM_DEV_VFIO_FILE)
		return -ENXIO;
	if (attr->attr != KVM_DEV_VFIO_FILE_ADD && attr->attr != KVM_DEV_VFIO_FILE_DEL)
		return -ENXIO;
	if (req == KVM_HAS_DEVICE_ATTR)
		return 0;
	if (!attr->addr)
		return -EFAULT;
	if (attr->attr == KVM_DEV_VFIO_FILE_ADD)
		return km_kvm_vfio_file_add(f, *(int32_t *)(uintptr_t)attr->addr);
	return km_kvm_vfio_file_del(f, *(int32_t *)(uintptr_t)attr->addr);
}

/* kvm_ioctl_create_device() + kvm_vfio_create() */
static int km_vm_create_device(struct kfile *vmf, struct kvm_create_device *cd)
{
	struct kfile *f;
	int fd;

	/* the model's KVM offers no other device type */
	if (cd->type != KVM_DEV_TYPE_VFIO)
		return -ENODEV;
	if (cd->flags & KVM_CREATE_DEVICE_TEST)
		return 0;
	/* Only one VFIO "device" per VM */
	if (vmf->vm->kvm_vfio)
		return -EBUSY;
	f = km_file_new(vmf->km, KF_KVM_VFIO);
	if (!f)
		return -ENOMEM;
	f->kv = calloc(1, sizeof(*f->kv));
	if (!f->kv) {
		free(f);
		return -ENOMEM;
	}
	km_file_get(vmf);
	f->kv->vm = vmf;
	vmf->vm->kvm_vfio = f;
	fd = km_fd_install(vmf->km, f);
	if (fd < 0)
		return fd;
	cd->fd = fd;
	return 0;
}

int km_kvm_ioctl(struct kfile *f, unsigned long req, void *arg)
{
	switch (f->type) {
	case KF_KVM:
		if (req == KVM_GET_API_VERSION)
			return KVM_API_VERSION;
		if (req == KVM_CREATE_VM) {
			struct kfile *vm;

			if ((unsigned long)arg)
				return -EINVAL;	/* machine type: only the default */
			vm = km_file_new(f->km, KF_VM);
			if (!vm)
				return -ENOMEM;
			vm->vm = calloc(1, sizeof(*vm->vm));
			if (!vm->vm) {
				free(vm);
				return -ENOMEM;
			}
			return km_fd_install(f->km, vm);
		}
		return -ENOTTY;
	case KF_VM:
		if (req == KVM_CREATE_DEVICE)
			return km_vm_create_device(f, arg);
		return -ENOTTY;
	case KF_KVM_VFIO:
		return km_kvm_vfio_ioctl(f, req, arg);
	default:
		return -ENOTTY;
	}
}
