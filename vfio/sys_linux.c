// SPDX-License-Identifier: GPL-2.0-only
/*
 * The real kernel behind struct vfio_sys: each op is the system call of the
 * same name, with -errno in place of -1/errno.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vfio/vfio.h"

static int linux_open(struct vfio_sys *sys, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int linux_close(struct vfio_sys *sys, int fd)
{
	/* Linux releases the fd even when close() reports an error. */
	return close(fd) ? -errno : 0;
}

static int linux_ioctl(struct vfio_sys *sys, int fd, unsigned long request, void *arg)
{
	int ret = ioctl(fd, request, arg);

	return ret < 0 ? -errno : ret;
}

static ssize_t linux_pread(struct vfio_sys *sys, int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	return n < 0 ? -errno : n;
}

static ssize_t linux_pwrite(struct vfio_sys *sys, int fd, const void *buf, size_t len,
			    off_t off)
{
	ssize_t n = pwrite(fd, buf, len, off);

	return n < 0 ? -errno : n;
}

static int linux_mmap(struct vfio_sys *sys, int fd, off_t off, size_t len, int prot,
		      void **addr)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

static int linux_munmap(struct vfio_sys *sys, void *addr, size_t len)
{
	return munmap(addr, len) ? -errno : 0;
}

static ssize_t linux_readlink(struct vfio_sys *sys, const char *path, char *buf, size_t len)
{
	ssize_t n = readlink(path, buf, len);

	return n < 0 ? -errno : n;
}

static ssize_t linux_readdir(struct vfio_sys *sys, const char *path, char *buf, size_t len)
{
	struct dirent *de;
	size_t used = 0;
	DIR *dir;

	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name) + 1;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (used + n > len) {
			closedir(dir);
			return -ERANGE;
		}
		memcpy(buf + used, de->d_name, n);
		used += n;
	}
	closedir(dir);
	return used;
}

static int linux_getrlimit(struct vfio_sys *sys, int resource, struct rlimit *rlim)
{
	return getrlimit(resource, rlim) ? -errno : 0;
}

static struct vfio_sys linux_sys = {
	.name = "linux",
	.open = linux_open,
	.close = linux_close,
	.ioctl = linux_ioctl,
	.pread = linux_pread,
	.pwrite = linux_pwrite,
	.mmap = linux_mmap,
	.munmap = linux_munmap,
	.readlink = linux_readlink,
	.readdir = linux_readdir,
	.getrlimit = linux_getrlimit,
};

struct vfio_sys *vfio_sys_linux(void)
{
	return &linux_sys;
}
