// SPDX-License-Identifier: GPL-2.0-only
/*
 * Contract-test environment: picks the backend, finds (real kernel) or
 * builds (model) the devices a test needs, and a few raw-call helpers.
 */
#include <criterion/criterion.h>
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct.h"

/* ---- the model's host: every device set, in every test ---- */

static void ct_model_host(struct ct *ct)
{
	const char *which = getenv("FERRY_KMODEL");
	struct kmodel_config cfg;
	struct kmodel *km;

	if (which && !strcmp(which, "legacy"))
		cfg = kmodel_config_legacy();
	else if (!which || !strcmp(which, "iommufd"))
		cfg = kmodel_config_iommufd();
	else
		cr_assert_fail("FERRY_KMODEL=%s: expected legacy or iommufd", which);
	km = kmodel_new(&cfg);
	cr_assert(km, "kmodel_new: %s", strerror(errno));
	/* group 7: the lab's edu on the root bus */
	cr_assert_eq(kmodel_add_device(km, "0000:00:03.0", 0x1234, 0x11e8, 7), 0);
	cr_assert_eq(kmodel_bind(km, "0000:00:03.0", "vfio-pci"), 0);
	/* group 9: two edus behind a conventional PCI bridge */
	cr_assert_eq(kmodel_add_device(km, "0000:01:01.0", 0x1234, 0x11e8, 9), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:01:02.0", 0x1234, 0x11e8, 9), 0);
	cr_assert_eq(kmodel_bind(km, "0000:01:01.0", "vfio-pci"), 0);
	cr_assert_eq(kmodel_bind(km, "0000:01:02.0", "vfio-pci"), 0);
	/* group 12: a vfio-pci device next to one a host driver holds */
	cr_assert_eq(kmodel_add_device(km, "0000:02:00.0", 0x1234, 0x11e8, 12), 0);
	cr_assert_eq(kmodel_add_device(km, "0000:02:00.1", 0x8086, 0x293e, 12), 0);
	cr_assert_eq(kmodel_bind(km, "0000:02:00.0", "vfio-pci"), 0);
	cr_assert_eq(kmodel_bind(km, "0000:02:00.1", "snd_hda_intel"), 0);
	ct->km = km;
	ct->sys = kmodel_sys(km);
	ct->compat = cfg.container_compat;
	ct->iommufd = cfg.iommufd;
	ct->kvm = cfg.kvm;
	ct->kvm_vfio_file = cfg.kvm_vfio_cdev;
	ct->pre_6_2 = cfg.set_container_einval;
}

/* ---- sysfs, through the table so both backends answer ---- */

static int ct_link_base(struct ct *ct, const char *path, char *out, size_t len)
{
	char buf[512];
	ssize_t n = ct->sys->readlink(ct->sys, path, buf, sizeof(buf) - 1);
	const char *slash;

	if (n < 0)
		return n;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	return snprintf(out, len, "%s", slash ? slash + 1 : buf) < (int)len ? 0 : -ENAMETOOLONG;
}

static int ct_dev_driver(struct ct *ct, const char *bdf, char *out, size_t len)
{
	char path[256];
	int ret;

	if (snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	ret = ct_link_base(ct, path, out, len);
	if (ret == -ENOENT) {
		out[0] = '\0';
		return 0;
	}
	return ret;
}

static int ct_dev_probe(struct ct *ct, const char *bdf, struct ct_dev *d)
{
	char path[256], name[64], list[256];
	ssize_t n;

	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	if (ct_link_base(ct, path, name, sizeof(name)))
		return -ENOENT;
	d->group = strtoul(name, NULL, 10);
	d->cdev = -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	n = ct->sys->readdir(ct->sys, path, list, sizeof(list));
	if (n > 0 && !strncmp(list, "vfio", 4)) {
		/*
		 * Linux 6.1 has vfio-dev/vfioX in sysfs but no cdev node: only
		 * an existing /dev/vfio/devices/vfioX counts.  Opening it
		 * blocks nothing (only BIND_IOMMUFD does).
		 */
		int fd;

		if (snprintf(path, sizeof(path), "/dev/vfio/devices/%s", list) >= (int)sizeof(path))
			return 0;
		fd = ct->sys->open(ct->sys, path, O_RDWR);
		if (fd >= 0) {
			d->cdev = strtol(list + 4, NULL, 10);
			ct->sys->close(ct->sys, fd);
		}
	}
	return 0;
}

/* Every member of the group is vfio-pci, unbound or a driver_managed_dma one. */
static bool ct_group_viable_sysfs(struct ct *ct, unsigned int group)
{
	char path[128], list[2048], drv[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%u/devices", group);
	n = ct->sys->readdir(ct->sys, path, list, sizeof(list));
	if (n < 0)
		return false;
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		if (strlen(p) > 32 || ct_dev_driver(ct, p, drv, sizeof(drv)))
			return false;
		if (*drv && strcmp(drv, "vfio-pci") && strcmp(drv, "pci-stub") &&
		    strcmp(drv, "pcieport"))
			return false;
	}
	return true;
}

static void ct_pick(struct ct *ct, enum ct_need need, const char *devices)
{
	struct ct_dev all[16];
	int n = 0;
	char *list = strdup(devices ? devices : ""), *save = NULL;

	cr_assert(list);
	for (char *bdf = strtok_r(list, " ", &save); bdf && n < 16;
	     bdf = strtok_r(NULL, " ", &save)) {
		char drv[64];

		if (ct_dev_driver(ct, bdf, drv, sizeof(drv)) || strcmp(drv, "vfio-pci"))
			continue;
		if (!ct_dev_probe(ct, bdf, &all[n]))
			n++;
	}
	free(list);
	for (int i = 0; i < n; i++) {
		bool viable = ct_group_viable_sysfs(ct, all[i].group);

		if (need == CT_NEED_ONE && viable) {
			ct->dev[0] = all[i];
			return;
		}
		if (need == CT_NEED_NOT_VIABLE && !viable) {
			ct->dev[0] = all[i];
			return;
		}
		for (int j = i + 1; need == CT_NEED_TWO_IN_GROUP && viable && j < n; j++) {
			if (all[j].group == all[i].group) {
				ct->dev[0] = all[i];
				ct->dev[1] = all[j];
				return;
			}
		}
	}
	cr_skip_test("%s: no such device set among FERRY_LAB_DEVICES='%s'",
		     need == CT_NEED_ONE ? "one vfio-pci device in a viable group" :
		     need == CT_NEED_TWO_IN_GROUP ? "two vfio-pci devices in one group" :
		     "a vfio-pci device in a group with a host-driver device",
		     devices ? devices : "");
}

static bool ct_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* iommufd's compat layer answers an iommufd ioctl on /dev/vfio/vfio; type1 does not. */
static bool ct_probe_compat(struct ct *ct)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int fd = ct->sys->open(ct->sys, "/dev/vfio/vfio", O_RDWR);
	bool compat;

	cr_assert_geq(fd, 0, "open /dev/vfio/vfio: %s", strerror(-fd));
	compat = ct->sys->ioctl(ct->sys, fd, IOMMU_IOAS_ALLOC, &alloc) == 0;
	ct->sys->close(ct->sys, fd);
	return compat;
}

static bool ct_exists(struct ct *ct, const char *path)
{
	int fd = ct->sys->open(ct->sys, path, O_RDWR);

	if (fd < 0)
		return false;
	ct->sys->close(ct->sys, fd);
	return true;
}

void ct_setup(struct ct *ct, enum ct_need need)
{
	const char *sys = getenv("FERRY_SYS");

	memset(ct, 0, sizeof(*ct));
	ct->dev[0].cdev = ct->dev[1].cdev = -1;
	if (sys && !strcmp(sys, "linux")) {
		const char *kernel = getenv("FERRY_LAB_KERNEL");

		ct->real_kernel = true;
		ct->sys = vfio_sys_linux();
		ct->compat = ct_probe_compat(ct);
		ct->iommufd = ct_exists(ct, "/dev/iommu");
		ct->kvm = ct_exists(ct, "/dev/kvm");
		ct->kvm_vfio_file = ct_kernel_at_least(6, 6);
		ct->pre_6_2 = !ct_kernel_at_least(6, 2);
		/* The lab says what it booted; a mismatch is a broken lab, not a skip. */
		if (kernel && !strcmp(kernel, "iommufd"))
			cr_assert(ct->iommufd && ct->compat,
				  "FERRY_LAB_KERNEL=iommufd but /dev/iommu %s, /dev/vfio/vfio %s",
				  ct->iommufd ? "exists" : "is missing",
				  ct->compat ? "is iommufd's" : "is type1's");
		else if (kernel && !strcmp(kernel, "legacy"))
			cr_assert(!ct->compat, "FERRY_LAB_KERNEL=legacy but /dev/vfio/vfio is iommufd's");
		ct_pick(ct, need, getenv("FERRY_LAB_DEVICES"));
	} else {
		ct_model_host(ct);
		if (need == CT_NEED_ONE) {
			ct_dev_probe(ct, "0000:00:03.0", &ct->dev[0]);
		} else if (need == CT_NEED_TWO_IN_GROUP) {
			ct_dev_probe(ct, "0000:01:01.0", &ct->dev[0]);
			ct_dev_probe(ct, "0000:01:02.0", &ct->dev[1]);
		} else {
			ct_dev_probe(ct, "0000:02:00.0", &ct->dev[0]);
		}
	}
	snprintf(ct->group_path, sizeof(ct->group_path), "/dev/vfio/%u", ct->dev[0].group);
}

void ct_teardown(struct ct *ct)
{
	kmodel_free(ct->km);
	ct->km = NULL;
}

int ct_open(struct ct *ct, const char *path)
{
	int fd = ct->sys->open(ct->sys, path, O_RDWR);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(-fd));
	return fd;
}

int ct_open_ro(struct ct *ct, const char *path)
{
	int fd = ct->sys->open(ct->sys, path, O_RDONLY);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(-fd));
	return fd;
}

int ct_open_group(struct ct *ct)
{
	return ct_open(ct, ct->group_path);
}

int ct_ioctl(struct ct *ct, int fd, unsigned long req, void *arg)
{
	return ct->sys->ioctl(ct->sys, fd, req, arg);
}

int ct_ioctl_val(struct ct *ct, int fd, unsigned long req, unsigned long val)
{
	return ct->sys->ioctl(ct->sys, fd, req, (void *)(uintptr_t)val);
}

void ct_close(struct ct *ct, int fd)
{
	int ret = ct->sys->close(ct->sys, fd);

	cr_assert_eq(ret, 0, "close %d: %s", fd, strerror(-ret));
}

void ct_group_with_container(struct ct *ct, int *group, int *container)
{
	int ret;

	*group = ct_open_group(ct);
	*container = ct_open(ct, "/dev/vfio/vfio");
	ret = ct_ioctl(ct, *group, VFIO_GROUP_SET_CONTAINER, container);
	cr_assert_eq(ret, 0, "SET_CONTAINER: %s", strerror(-ret));
	ret = ct_ioctl_val(ct, *container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
	cr_assert_eq(ret, 0, "SET_IOMMU: %s", strerror(-ret));
}

int ct_device_fd(struct ct *ct, int group, int i)
{
	int fd = ct_ioctl(ct, group, VFIO_GROUP_GET_DEVICE_FD, ct->dev[i].bdf);

	cr_assert_geq(fd, 0, "GET_DEVICE_FD %s: %s", ct->dev[i].bdf, strerror(-fd));
	return fd;
}

void ct_setup_device(struct ct *ct, int *group, int *container, int *device)
{
	ct_setup(ct, CT_NEED_ONE);
	ct_group_with_container(ct, group, container);
	*device = ct_device_fd(ct, *group, 0);
}

void ct_close_device(struct ct *ct, int group, int container, int device)
{
	ct_close(ct, device);
	ct_close(ct, group);
	ct_close(ct, container);
}

void *ct_buffer(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

void ct_limit_memlock(struct ct *ct, uint64_t bytes)
{
	struct rlimit rl = { bytes, bytes };

	if (ct->km) {
		kmodel_set_memlock(ct->km, bytes);
		kmodel_set_cap_ipc_lock(ct->km, false);
		return;
	}
	cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0, "setrlimit: %s", strerror(errno));
	/* Root has CAP_IPC_LOCK, which exempts pinning from the limit. */
	capng_get_caps_process();
	cr_assert_eq(capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_IPC_LOCK), 0);
	cr_assert_eq(capng_apply(CAPNG_SELECT_CAPS), 0, "cannot drop CAP_IPC_LOCK");
}

pid_t ct_hold_group_elsewhere(struct ct *ct)
{
	int pipefd[2];
	pid_t pid;
	char c = 0;

	if (ct->km) {
		cr_assert_eq(kmodel_hold_group(ct->km, ct->dev[0].group, 4242, "qemu-system-x86"), 0);
		return 4242;
	}
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(ct->group_path, O_RDWR);

		c = fd >= 0 ? 'y' : 'n';
		if (write(pipefd[1], &c, 1) != 1 || fd < 0)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	cr_assert_eq(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	cr_assert_eq(c, 'y', "the child could not open %s", ct->group_path);
	return pid;
}

void ct_release_holder(struct ct *ct, pid_t pid)
{
	if (ct->km) {
		cr_assert_eq(kmodel_release_group(ct->km, ct->dev[0].group), 0);
		return;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int ct_container_ranges(struct ct *ct, int container, struct vfio_iova_range *out, int max)
{
	union {
		struct vfio_iommu_type1_info info;
		uint8_t raw[4096];
	} u = { .info = { .argsz = sizeof(u) } };
	uint32_t off;
	int ret = ct_ioctl(ct, container, VFIO_IOMMU_GET_INFO, &u.info);

	cr_assert_eq(ret, 0, "GET_INFO: %s", strerror(-ret));
	cr_assert(u.info.flags & VFIO_IOMMU_INFO_CAPS, "GET_INFO without capabilities");
	for (off = u.info.cap_offset; off; ) {
		struct vfio_info_cap_header *h = (void *)(u.raw + off);

		cr_assert_lt(off, sizeof(u) - sizeof(*h));
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;
			int n = r->nr_iovas < (uint32_t)max ? (int)r->nr_iovas : max;

			memcpy(out, r->iova_ranges, n * sizeof(*out));
			return n;
		}
		off = h->next;
	}
	cr_assert_fail("GET_INFO has no IOVA range capability");
	return 0;
}

bool ct_iova_in_ranges(const struct vfio_iova_range *r, int n, uint64_t iova, uint64_t size)
{
	for (int i = 0; i < n; i++)
		if (iova >= r[i].start && iova + size - 1 <= r[i].end)
			return true;
	return false;
}
