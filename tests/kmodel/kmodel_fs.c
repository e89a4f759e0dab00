// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model's sysfs and procfs: a real tree in a temporary folder, laid out
 * like the kernel's so that readlink and readdir answer what they would on a
 * host (links are relative, as in sysfs):
 *
 *   sys/devices/pci0000:00/BDF/{vendor,device,class,driver_override}
 *   sys/devices/pci0000:00/BDF/iommu_group -> ../../../kernel/iommu_groups/N
 *   sys/devices/pci0000:00/BDF/driver -> ../../../bus/pci/drivers/NAME
 *   sys/devices/pci0000:00/BDF/vfio-dev/vfioX/dev
 *   sys/bus/pci/devices/BDF -> ../../../devices/pci0000:00/BDF
 *   sys/bus/pci/drivers/NAME/BDF -> ../../../../devices/pci0000:00/BDF
 *   sys/kernel/iommu_groups/N/devices/BDF -> ../../../../devices/pci0000:00/BDF
 *   proc/PID/comm, proc/PID/fd/3 -> /dev/vfio/N   (other processes only)
 *
 * Simplification: every device sits directly under pci0000:00 in the tree,
 * even one on a bus behind a bridge (the kernel nests it under the bridge).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmodel_priv.h"

/* "<root>/<rel>" into @path; -ENAMETOOLONG when it does not fit. */
static int km_fs_abs(struct kmodel *km, const char *rel, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/%s", km->root, rel);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int km_fs_mkdirs(struct kmodel *km, const char *rel)
{
	char path[4096];
	size_t base = strlen(km->root) + 1;

	if (km_fs_abs(km, rel, path, sizeof(path)))
		return -ENAMETOOLONG;
	for (char *p = path + base; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int km_fs_write(struct kmodel *km, const char *rel, const char *text)
{
	char path[4096];
	int fd;
	ssize_t n;

	if (km_fs_abs(km, rel, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static int km_fs_link(struct kmodel *km, const char *target, const char *rel)
{
	char path[4096];

	if (km_fs_abs(km, rel, path, sizeof(path)))
		return -ENAMETOOLONG;
	unlink(path);
	return symlink(target, path) ? -errno : 0;
}

static void km_fs_unlink(struct kmodel *km, const char *rel)
{
	char path[4096];

	if (!km_fs_abs(km, rel, path, sizeof(path)))
		unlink(path);
}

int km_fs_init(struct kmodel *km)
{
	int ret;

	snprintf(km->root, sizeof(km->root), "/tmp/ferry-kmodel-XXXXXX");
	if (!mkdtemp(km->root))
		return -errno;
	ret = km_fs_mkdirs(km, "sys/devices/pci0000:00");
	if (!ret)
		ret = km_fs_mkdirs(km, "sys/bus/pci/devices");
	if (!ret)
		ret = km_fs_mkdirs(km, "sys/bus/pci/drivers");
	if (!ret)
		ret = km_fs_mkdirs(km, "sys/kernel/iommu_groups");
	if (!ret)
		ret = km_fs_mkdirs(km, "proc");
	if (ret)
		km_fs_destroy(km);
	return ret;
}

static int km_fs_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void km_fs_destroy(struct kmodel *km)
{
	if (km->root[0])
		nftw(km->root, km_fs_rm, 16, FTW_DEPTH | FTW_PHYS);
	km->root[0] = '\0';
}

int km_fs_add_device(struct kmodel *km, struct kdevice *d)
{
	char rel[512], target[512], text[32];
	int ret;

	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s", d->bdf);
	ret = km_fs_mkdirs(km, rel);
	if (ret)
		return ret;
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/vendor", d->bdf);
	snprintf(text, sizeof(text), "0x%04x\n", d->vendor);
	ret = km_fs_write(km, rel, text);
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/device", d->bdf);
	snprintf(text, sizeof(text), "0x%04x\n", d->device_id);
	ret = ret ?: km_fs_write(km, rel, text);
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/class", d->bdf);
	snprintf(text, sizeof(text), "0x%02x%02x%02x\n", d->config[0x0b], d->config[0x0a],
		 d->config[0x09]);
	ret = ret ?: km_fs_write(km, rel, text);
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/driver_override", d->bdf);
	ret = ret ?: km_fs_write(km, rel, "(null)\n");
	snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%u/devices", d->group);
	ret = ret ?: km_fs_mkdirs(km, rel);
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/iommu_group", d->bdf);
	snprintf(target, sizeof(target), "../../../kernel/iommu_groups/%u", d->group);
	ret = ret ?: km_fs_link(km, target, rel);
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", d->bdf);
	snprintf(target, sizeof(target), "../../../devices/pci0000:00/%s", d->bdf);
	ret = ret ?: km_fs_link(km, target, rel);
	snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%u/devices/%s", d->group, d->bdf);
	snprintf(target, sizeof(target), "../../../../devices/pci0000:00/%s", d->bdf);
	ret = ret ?: km_fs_link(km, target, rel);
	return ret;
}

int km_fs_set_driver(struct kmodel *km, struct kdevice *d, const char *driver)
{
	char rel[512], target[512];
	int ret;

	if (*d->driver) {
		snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/%s", d->driver, d->bdf);
		km_fs_unlink(km, rel);
		snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/driver", d->bdf);
		km_fs_unlink(km, rel);
	}
	if (!driver)
		return 0;
	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s", driver);
	ret = km_fs_mkdirs(km, rel);
	if (ret)
		return ret;
	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/%s", driver, d->bdf);
	snprintf(target, sizeof(target), "../../../../devices/pci0000:00/%s", d->bdf);
	ret = km_fs_link(km, target, rel);
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/driver", d->bdf);
	snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", driver);
	return ret ?: km_fs_link(km, target, rel);
}

/* Creates (cdev_index >= 0) or removes the device's vfio-dev/vfioX entry. */
int km_fs_set_cdev(struct kmodel *km, struct kdevice *d)
{
	char rel[512], path[4096], text[32];
	int ret;

	if (d->cdev_index < 0)
		return 0;
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/vfio-dev/vfio%d", d->bdf,
		 d->cdev_index);
	if (!strcmp(d->driver, "vfio-pci")) {
		ret = km_fs_mkdirs(km, rel);
		snprintf(path, sizeof(path), "%s/dev", rel);
		snprintf(text, sizeof(text), "511:%d\n", d->cdev_index);
		return ret ?: km_fs_write(km, path, text);
	}
	snprintf(path, sizeof(path), "%s/dev", rel);
	km_fs_unlink(km, path);
	if (!km_fs_abs(km, rel, path, sizeof(path)))
		rmdir(path);
	snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/%s/vfio-dev", km->root, d->bdf);
	rmdir(path);
	return 0;
}

int km_fs_set_holder(struct kmodel *km, struct kgroup *g, bool hold)
{
	char rel[512], text[64];
	int ret;

	if (!hold) {
		snprintf(rel, sizeof(rel), "%s/proc/%d/fd/3", km->root, g->holder_pid);
		unlink(rel);
		snprintf(rel, sizeof(rel), "%s/proc/%d/fd", km->root, g->holder_pid);
		rmdir(rel);
		snprintf(rel, sizeof(rel), "%s/proc/%d/comm", km->root, g->holder_pid);
		unlink(rel);
		snprintf(rel, sizeof(rel), "%s/proc/%d", km->root, g->holder_pid);
		rmdir(rel);
		return 0;
	}
	snprintf(rel, sizeof(rel), "proc/%d/fd", g->holder_pid);
	ret = km_fs_mkdirs(km, rel);
	snprintf(rel, sizeof(rel), "proc/%d/comm", g->holder_pid);
	snprintf(text, sizeof(text), "%s\n", g->holder_comm);
	ret = ret ?: km_fs_write(km, rel, text);
	snprintf(rel, sizeof(rel), "proc/%d/fd/3", g->holder_pid);
	snprintf(text, sizeof(text), "/dev/vfio/%u", g->id);
	return ret ?: km_fs_link(km, text, rel);
}

bool km_fs_path(struct kmodel *km, const char *path, char *out, size_t len)
{
	if (!strncmp(path, "/proc/", 6) || !strcmp(path, "/proc")) {
		const char *rest = path[5] ? path + 6 : path + 5;	/* "/proc" itself: "" */
		char self[32];
		size_t n = snprintf(self, sizeof(self), "%d", getpid());

		/* The test process itself is real: its fds are real fds. */
		if (!strncmp(rest, "self", 4) && (!rest[4] || rest[4] == '/'))
			return false;
		if (!strncmp(rest, self, n) && (!rest[n] || rest[n] == '/'))
			return false;
	} else if (strncmp(path, "/sys/", 5) && strcmp(path, "/sys")) {
		return false;
	}
	return snprintf(out, len, "%s%s", km->root, path) < (int)len;
}

/* The driver_override file reads back "(null)" when unset, as the kernel's does. */
int km_fs_set_override(struct kmodel *km, struct kdevice *d)
{
	char rel[512], text[48];

	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/driver_override", d->bdf);
	snprintf(text, sizeof(text), "%s\n", *d->override ? d->override : "(null)");
	return km_fs_write(km, rel, text);
}
