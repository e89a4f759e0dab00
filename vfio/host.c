// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host discovery: what sysfs says about PCI devices and IOMMU groups, and
 * which process holds a file (procfs).  Everything goes through vfio_sys.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio/priv.h"

#define PCI_DEVICES "/sys/bus/pci/devices"

/* Big enough for /proc on a busy host; beyond that something is wrong. */
#define READDIR_MAX (16u << 20)

ssize_t vfio_host_readdir_all(struct vfio_sys *sys, const char *path, char **out)
{
	size_t len = 4096;
	char *buf = NULL;
	ssize_t n;

	for (;;) {
		char *nbuf = realloc(buf, len);

		if (!nbuf) {
			free(buf);
			return -ENOMEM;
		}
		buf = nbuf;
		n = sys->readdir(sys, path, buf, len);
		if (n != -ERANGE)
			break;
		if (len >= READDIR_MAX) {
			free(buf);
			return -E2BIG;
		}
		len *= 2;
	}
	if (n < 0) {
		free(buf);
		return n;
	}
	*out = buf;
	return n;
}

int vfio_host_read_text(struct vfio_sys *sys, const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = sys->open(sys, path, O_RDONLY);
	if (fd < 0)
		return fd;
	n = sys->pread(sys, fd, buf, len - 1, 0);
	sys->close(sys, fd);
	if (n < 0)
		return n;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* The last component of a link target ("../../../kernel/iommu_groups/7" -> "7"). */
static const char *host_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int host_read_id(struct vfio_sys *sys, const char *bdfs, const char *file,
			uint16_t *id)
{
	char path[PATH_MAX], text[32], *end;
	unsigned long v;
	int ret;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdfs, file);
	ret = vfio_host_read_text(sys, path, text, sizeof(text));
	if (ret)
		return ret;
	errno = 0;
	v = strtoul(text, &end, 16);
	if (errno || end == text || *end || v > 0xffff)
		return -EIO;
	*id = v;
	return 0;
}

int vfio_host_device_ids(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			 uint16_t *vendor, uint16_t *device)
{
	char name[VFIO_BDF_STRLEN];
	int ret;

	ret = vfio_bdf_format(bdf, name, sizeof(name));
	if (ret)
		return ret;
	ret = host_read_id(sys, name, "vendor", vendor);
	if (ret)
		return ret;
	return host_read_id(sys, name, "device", device);
}

int vfio_host_device_group(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			   unsigned int *group)
{
	char name[VFIO_BDF_STRLEN], path[PATH_MAX], link[PATH_MAX], *end;
	const char *base;
	unsigned long v;
	ssize_t n;

	if (vfio_bdf_format(bdf, name, sizeof(name)))
		return -EINVAL;
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/iommu_group", name);
	n = sys->readlink(sys, path, link, sizeof(link) - 1);
	if (n < 0)
		return n;
	link[n] = '\0';
	base = host_basename(link);
	errno = 0;
	v = strtoul(base, &end, 10);
	if (errno || end == base || *end || v > UINT_MAX)
		return -EIO;
	*group = v;
	return 0;
}

static int host_driver_of(struct vfio_sys *sys, const char *bdfs, char *buf, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", bdfs);
	n = sys->readlink(sys, path, link, sizeof(link) - 1);
	if (n == -ENOENT) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	if (n < 0)
		return n;
	link[n] = '\0';
	if (strlen(host_basename(link)) >= len)
		return -ENAMETOOLONG;
	strcpy(buf, host_basename(link));
	return 0;
}

int vfio_host_device_driver(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			    char *buf, size_t len)
{
	char name[VFIO_BDF_STRLEN];

	if (vfio_bdf_format(bdf, name, sizeof(name)))
		return -EINVAL;
	return host_driver_of(sys, name, buf, len);
}

int vfio_host_device_cdev(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			  char *buf, size_t len)
{
	char name[VFIO_BDF_STRLEN], path[PATH_MAX], *list;
	ssize_t n;
	int ret = -ENOENT;

	if (vfio_bdf_format(bdf, name, sizeof(name)))
		return -EINVAL;
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/vfio-dev", name);
	n = vfio_host_readdir_all(sys, path, &list);
	if (n < 0)
		return n;
	for (char *e = list; e < list + n; e += strlen(e) + 1) {
		if (strncmp(e, "vfio", 4))
			continue;
		if (strlen(e) >= len) {
			ret = -ENAMETOOLONG;
			break;
		}
		strcpy(buf, e);
		ret = 0;
		break;
	}
	free(list);
	return ret;
}

static int bdf_cmp(const void *a, const void *b)
{
	const struct vfio_bdf *x = a, *y = b;
	uint64_t kx = (uint64_t)x->domain << 16 | x->bus << 8 | x->dev << 3 | x->fn;
	uint64_t ky = (uint64_t)y->domain << 16 | y->bus << 8 | y->dev << 3 | y->fn;

	return kx < ky ? -1 : kx > ky;
}

int vfio_host_group_devices(struct vfio_sys *sys, unsigned int group,
			    struct vfio_bdf *out, size_t max)
{
	struct vfio_bdf *all = NULL;
	char path[PATH_MAX], *list;
	size_t count = 0, cap = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%u/devices", group);
	n = vfio_host_readdir_all(sys, path, &list);
	if (n < 0)
		return n;
	for (char *e = list; e < list + n; e += strlen(e) + 1) {
		struct vfio_bdf bdf;

		if (vfio_bdf_parse(e, &bdf, NULL))
			continue;	/* not a PCI device (platform devices share the folder) */
		if (count == cap) {
			struct vfio_bdf *nall;

			cap = cap ? cap * 2 : 8;
			nall = realloc(all, cap * sizeof(*all));
			if (!nall) {
				free(all);
				free(list);
				return -ENOMEM;
			}
			all = nall;
		}
		all[count++] = bdf;
	}
	free(list);
	if (count)
		qsort(all, count, sizeof(*all), bdf_cmp);
	if (out)
		memcpy(out, all, (count < max ? count : max) * sizeof(*all));
	free(all);
	return count > INT_MAX ? -EOVERFLOW : (int)count;
}

static bool host_is_pid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* 1 when process @pid has @target open, 0 when not or unreadable. */
static int host_pid_holds(struct vfio_sys *sys, const char *pid, const char *target)
{
	char path[PATH_MAX], link[PATH_MAX], *list;
	int found = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	n = vfio_host_readdir_all(sys, path, &list);
	if (n < 0)
		return n == -ENOMEM ? n : 0;	/* gone or not ours to read */
	for (char *e = list; e < list + n && !found; e += strlen(e) + 1) {
		ssize_t l;

		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, e);
		l = sys->readlink(sys, path, link, sizeof(link) - 1);
		if (l < 0)
			continue;
		link[l] = '\0';
		found = !strcmp(link, target);
	}
	free(list);
	return found;
}

int vfio_host_find_holder(struct vfio_sys *sys, const char *path, pid_t *pid, char *comm,
			  size_t commlen)
{
	char *list, commpath[64], self[16];
	int ret = 0;
	ssize_t n;

	/* Our own fds are not the answer to "who else holds it". */
	snprintf(self, sizeof(self), "%d", (int)getpid());
	n = vfio_host_readdir_all(sys, "/proc", &list);
	if (n < 0)
		return n;
	for (char *e = list; e < list + n; e += strlen(e) + 1) {
		if (!host_is_pid(e) || !strcmp(e, self))
			continue;
		ret = host_pid_holds(sys, e, path);
		if (ret < 0)
			break;
		if (!ret)
			continue;
		*pid = strtol(e, NULL, 10);
		snprintf(commpath, sizeof(commpath), "/proc/%s/comm", e);
		if (commlen && vfio_host_read_text(sys, commpath, comm, commlen))
			snprintf(comm, commlen, "?");
		break;
	}
	free(list);
	return ret;
}
