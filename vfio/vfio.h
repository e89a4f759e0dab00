/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio/ - ferry's typed access to the kernel's VFIO, iommufd and kvm-vfio
 * interfaces.  This is the layer's only public header.
 *
 * Every kernel access the layer makes goes through a struct vfio_sys, so that
 * tests can place behind it the real kernel (vfio_sys_linux()), a fault
 * injector, or a userspace model of the kernel's group core.
 */
#ifndef FERRY_VFIO_H
#define FERRY_VFIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/resource.h>

#include "vfio/uapi.h"

/*
 * struct vfio_sys - the narrow table of system calls behind vfio/.
 *
 * Contract shared by every implementation:
 *  - each op returns >= 0 on success and a negative errno on failure; errno
 *    is never the channel, so a wrapper can pass a result straight up;
 *  - paths are absolute host paths ("/dev/vfio/7", "/sys/bus/pci/...",
 *    "/proc/123/fd"); an implementation that fakes the host (the model)
 *    maps them onto its own tree, so vfio/ never knows which one it runs on;
 *  - ioctl requests and argument layouts are the kernel's (vfio/uapi.h);
 *  - readdir fills @buf with the entry names of @path, each terminated by
 *    NUL, without "." and "..", and returns the bytes used (-ERANGE when
 *    @len is too small);
 *  - mmap returns the mapping through @addr.
 * An implementation may keep state in the struct that embeds it.
 */
struct vfio_sys {
	const char *name;
	int (*open)(struct vfio_sys *sys, const char *path, int flags);
	int (*close)(struct vfio_sys *sys, int fd);
	int (*ioctl)(struct vfio_sys *sys, int fd, unsigned long request, void *arg);
	ssize_t (*pread)(struct vfio_sys *sys, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(struct vfio_sys *sys, int fd, const void *buf, size_t len,
			  off_t off);
	int (*mmap)(struct vfio_sys *sys, int fd, off_t off, size_t len, int prot,
		    void **addr);
	int (*munmap)(struct vfio_sys *sys, void *addr, size_t len);
	ssize_t (*readlink)(struct vfio_sys *sys, const char *path, char *buf, size_t len);
	ssize_t (*readdir)(struct vfio_sys *sys, const char *path, char *buf, size_t len);
	int (*getrlimit)(struct vfio_sys *sys, int resource, struct rlimit *rlim);
};

/* The real kernel.  The returned table is static and never freed. */
struct vfio_sys *vfio_sys_linux(void);

#endif /* FERRY_VFIO_H */
