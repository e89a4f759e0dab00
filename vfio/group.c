// SPDX-License-Identifier: GPL-2.0-only
/* Thin wrappers of the group node /dev/vfio/N. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "vfio/priv.h"

int vfio_group_open(struct vfio_sys *sys, unsigned int group)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/vfio/%u", group);
	return sys->open(sys, path, O_RDWR);
}

int vfio_group_get_status(struct vfio_sys *sys, int group_fd, uint32_t *flags)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	int ret;

	ret = sys->ioctl(sys, group_fd, VFIO_GROUP_GET_STATUS, &st);
	if (ret < 0)
		return ret;
	*flags = st.flags;
	return 0;
}

int vfio_group_set_container(struct vfio_sys *sys, int group_fd, int container_fd)
{
	int fd = container_fd;
	int ret = sys->ioctl(sys, group_fd, VFIO_GROUP_SET_CONTAINER, &fd);

	return ret < 0 ? ret : 0;
}

int vfio_group_unset_container(struct vfio_sys *sys, int group_fd)
{
	int ret = sys->ioctl(sys, group_fd, VFIO_GROUP_UNSET_CONTAINER, NULL);

	return ret < 0 ? ret : 0;
}

int vfio_group_get_device_fd(struct vfio_sys *sys, int group_fd, const char *name)
{
	char buf[64];

	/* The kernel copies the name itself; it may not be a literal. */
	if (strlen(name) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, name);
	return sys->ioctl(sys, group_fd, VFIO_GROUP_GET_DEVICE_FD, buf);
}
