// SPDX-License-Identifier: GPL-2.0-only
/*
 * lab-rules: probes of the real kernel's VFIO group core, run inside the lab.
 *
 * These talk to the kernel directly (no ferry code) so that the lab itself is
 * checked: the device set is what lab-run says, and the rules of BRIEF
 * section 2 that ferry relies on hold on the lab kernel.  Where the two lab
 * kernels differ, each test states which kernel does what; docs/lab.md keeps
 * the record.  Outside the lab (FERRY_SYS unset) every test skips.
 *
 * Environment (set by lab-run): FERRY_LAB_KERNEL legacy|iommufd,
 * FERRY_LAB_DEVSET, FERRY_LAB_DEVICES (BDFs on vfio-pci).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/vfio.h>

#include "vfio/uapi.h"	/* the cdev ioctls Debian 12's 6.1 headers lack */

#define MAX_DEVS 8

struct lab {
	bool in_lab;
	bool iommufd;		/* the 6.12 kernel with iommufd's compat container */
	char devset[64];
	int ndevs;
	char bdf[MAX_DEVS][32];
	int group[MAX_DEVS];
};

static struct lab lab;

static int bdf_group(const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	const char *slash;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	slash = strrchr(link, '/');
	return atoi(slash ? slash + 1 : link);
}

static void lab_load(void)
{
	const char *sys = getenv("FERRY_SYS");
	const char *kernel = getenv("FERRY_LAB_KERNEL");
	const char *devset = getenv("FERRY_LAB_DEVSET");
	const char *devs = getenv("FERRY_LAB_DEVICES");
	char buf[512], *tok, *save;

	memset(&lab, 0, sizeof(lab));
	lab.in_lab = sys && !strcmp(sys, "linux") && kernel;
	if (!lab.in_lab)
		return;
	lab.iommufd = !strcmp(kernel, "iommufd");
	snprintf(lab.devset, sizeof(lab.devset), "%s", devset ? devset : "");
	snprintf(buf, sizeof(buf), "%s", devs ? devs : "");
	for (tok = strtok_r(buf, " ", &save); tok && lab.ndevs < MAX_DEVS;
	     tok = strtok_r(NULL, " ", &save)) {
		snprintf(lab.bdf[lab.ndevs], sizeof(lab.bdf[0]), "%s", tok);
		lab.group[lab.ndevs] = bdf_group(tok);
		cr_assert_geq(lab.group[lab.ndevs], 0, "%s has no IOMMU group", tok);
		lab.ndevs++;
	}
}

static void need_lab(void)
{
	lab_load();
	if (!lab.in_lab)
		cr_skip_test("not in the lab (run through tests/lab/lab-run)");
}

static void need_devices(bool viable)
{
	need_lab();
	if (!lab.ndevs)
		cr_skip_test("device set '%s' has no vfio device", lab.devset);
	if (viable == !strcmp(lab.devset, "notviable"))
		cr_skip_test("device set '%s' is %sviable", lab.devset, viable ? "not " : "");
}

static int group_open(int group)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	return open(path, O_RDWR | O_CLOEXEC);
}

/* Open the group, attach it to a new container, pick type1v2. */
static void group_attach(int group, int *gfd, int *cfd)
{
	*gfd = group_open(group);
	cr_assert_geq(*gfd, 0, "open group %d: %s", group, strerror(errno));
	*cfd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	cr_assert_geq(*cfd, 0, "open /dev/vfio/vfio: %s", strerror(errno));
	cr_assert_eq(ioctl(*gfd, VFIO_GROUP_SET_CONTAINER, cfd), 0,
		     "SET_CONTAINER: %s", strerror(errno));
	cr_assert_eq(ioctl(*cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0,
		     "SET_IOMMU TYPE1v2: %s", strerror(errno));
}

Test(lab, devices_match_devset)
{
	need_lab();
	if (!strcmp(lab.devset, "none"))
		cr_assert_eq(lab.ndevs, 0);
	else if (!strcmp(lab.devset, "edu-group2"))
		cr_assert(lab.ndevs == 2 && lab.group[0] == lab.group[1],
			  "edu-group2: two devices in one group");
	else if (!strcmp(lab.devset, "edu-groups2"))
		cr_assert(lab.ndevs == 2 && lab.group[0] != lab.group[1],
			  "edu-groups2: two devices in two groups");
	else
		cr_assert_eq(lab.ndevs, 1, "devset %s: one vfio device", lab.devset);
}

Test(lab, nested_kvm)
{
	int fd;

	need_lab();
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0, "/dev/kvm: %s", strerror(errno));
	cr_assert_eq(ioctl(fd, KVM_GET_API_VERSION, 0), KVM_API_VERSION);
	close(fd);
}

Test(lab, iommufd_node_only_on_iommufd_kernel)
{
	struct stat st;

	need_lab();
	cr_assert_eq(stat("/dev/iommu", &st) == 0, lab.iommufd,
		     "/dev/iommu %s on the %s kernel", lab.iommufd ? "missing" : "present",
		     lab.iommufd ? "iommufd" : "legacy");
}

/* Rule 1: a group node has one opener. */
Test(rules, group_second_open_is_ebusy)
{
	int i, a, b;

	need_devices(true);
	for (i = 0; i < lab.ndevs; i++) {
		a = group_open(lab.group[i]);
		cr_assert_geq(a, 0, "open group %d: %s", lab.group[i], strerror(errno));
		b = group_open(lab.group[i]);
		cr_assert_eq(b, -1, "second open of group %d succeeded", lab.group[i]);
		cr_assert_eq(errno, EBUSY, "second open: %s", strerror(errno));
		close(a);
		/* released at once: the next opener gets it */
		b = group_open(lab.group[i]);
		cr_assert_geq(b, 0, "reopen after close: %s", strerror(errno));
		close(b);
	}
}

/* Rule 2: viability as GET_STATUS reports it. */
Test(rules, group_status_viable)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	int fd;

	need_devices(true);
	fd = group_open(lab.group[0]);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ioctl(fd, VFIO_GROUP_GET_STATUS, &st), 0);
	cr_assert(st.flags & VFIO_GROUP_FLAGS_VIABLE);
	cr_assert_not(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
	close(fd);
}

/*
 * A group with a device on a host driver cannot be used.  Where the kernel
 * says no differs: type1 refuses SET_CONTAINER (EPERM); iommufd's compat
 * container accepts the group and SET_IOMMU, and GET_DEVICE_FD is refused
 * (EPERM) because DMA ownership is only claimed when a device is opened.
 */
Test(rules, group_status_not_viable)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	int gfd, cfd, dfd;

	need_devices(false);
	gfd = group_open(lab.group[0]);
	cr_assert_geq(gfd, 0, "open group %d: %s", lab.group[0], strerror(errno));
	cr_assert_eq(ioctl(gfd, VFIO_GROUP_GET_STATUS, &st), 0);
	cr_assert_not(st.flags & VFIO_GROUP_FLAGS_VIABLE);
	cfd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	cr_assert_geq(cfd, 0);
	if (!lab.iommufd) {
		cr_assert_eq(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd), -1);
		cr_assert_eq(errno, EPERM, "type1: SET_CONTAINER on a non-viable group: %s",
			     strerror(errno));
	} else {
		cr_assert_eq(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd), 0,
			     "iommufd compat: SET_CONTAINER on a non-viable group: %s",
			     strerror(errno));
		cr_assert_eq(ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0, "%s",
			     strerror(errno));
		dfd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, lab.bdf[0]);
		cr_assert_eq(dfd, -1, "iommufd compat: got a device fd from a non-viable group");
		cr_assert_eq(errno, EPERM, "GET_DEVICE_FD on a non-viable group: %s",
			     strerror(errno));
	}
	close(cfd);
	close(gfd);
}

/*
 * Rule 3: SET_CONTAINER takes a container or an iommufd, nothing else.  The
 * error for anything else is EBADFD since the group code learned iommufd
 * (6.2); Debian's 6.1 answers EINVAL (docs/lab.md records it).
 */
Test(rules, set_container_rejects_other_fds)
{
	int gfd, nfd;

	need_devices(true);
	gfd = group_open(lab.group[0]);
	cr_assert_geq(gfd, 0);
	nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(nfd, 0);
	cr_assert_eq(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &nfd), -1);
	cr_assert_eq(errno, lab.iommufd ? EBADFD : EINVAL, "SET_CONTAINER(/dev/null): %s",
		     strerror(errno));
	close(nfd);
	close(gfd);
}

Test(rules, set_container_takes_dev_iommu)
{
	int gfd, ifd;

	need_devices(true);
	if (!lab.iommufd)
		cr_skip_test("no /dev/iommu on the legacy kernel");
	gfd = group_open(lab.group[0]);
	cr_assert_geq(gfd, 0);
	ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	cr_assert_geq(ifd, 0, "/dev/iommu: %s", strerror(errno));
	cr_assert_eq(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &ifd), 0, "%s", strerror(errno));
	cr_assert_eq(ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER), 0, "%s", strerror(errno));
	close(ifd);
	close(gfd);
}

/*
 * Rule 4: UNSET_CONTAINER is the 1 -> 0 users transition; an open device fd
 * is a user.  That holds for a type1 container.  With iommufd's compat
 * container (/dev/vfio/vfio on the iommufd kernel) the group keeps no user
 * count: UNSET succeeds with a device open (docs/lab.md, "Where the model and
 * the kernel disagreed"), so ferry must keep the teardown order itself.
 */
Test(rules, unset_container_with_device_open)
{
	int gfd, cfd, dfd, rc, err;

	need_devices(true);
	group_attach(lab.group[0], &gfd, &cfd);
	dfd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, lab.bdf[0]);
	cr_assert_geq(dfd, 0, "GET_DEVICE_FD %s: %s", lab.bdf[0], strerror(errno));
	rc = ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER);
	err = errno;
	if (lab.iommufd) {
		cr_assert_eq(rc, 0, "iommufd compat: UNSET with a device open: %s",
			     strerror(err));
	} else {
		cr_assert_eq(rc, -1, "type1: UNSET with a device open succeeded");
		cr_assert_eq(err, EBUSY, "type1: UNSET with a device open: %s", strerror(err));
	}
	close(dfd);
	if (!lab.iommufd)
		cr_assert_eq(ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER), 0,
			     "UNSET after the device closed: %s", strerror(errno));
	/* nothing left to unset */
	cr_assert_eq(ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER), -1);
	cr_assert_eq(errno, EINVAL);
	close(gfd);
	close(cfd);
}

/*
 * Rule 5: a device fd holds the group file, so closing the group fd releases
 * nothing (seed 003).  In 6.12 that hold is taken by the type1 container code
 * (vfio_group_use_container()); with iommufd's compat container there is no
 * hold: closing the group fd releases the group at once, the device fd still
 * open, and another opener gets it (docs/lab.md records it).
 */
Test(rules, device_fd_and_the_group_file)
{
	int gfd, cfd, dfd, again;

	need_devices(true);
	group_attach(lab.group[0], &gfd, &cfd);
	dfd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, lab.bdf[0]);
	cr_assert_geq(dfd, 0, "GET_DEVICE_FD %s: %s", lab.bdf[0], strerror(errno));
	close(gfd);
	again = group_open(lab.group[0]);
	if (lab.iommufd) {
		cr_assert_geq(again, 0, "iommufd compat: group not released by its close: %s",
			      strerror(errno));
		close(again);
	} else {
		cr_assert_eq(again, -1, "type1: group reopened while a device fd holds it");
		cr_assert_eq(errno, EBUSY, "%s", strerror(errno));
	}
	close(dfd);
	again = group_open(lab.group[0]);
	cr_assert_geq(again, 0, "group not released after its last device fd: %s",
		      strerror(errno));
	close(again);
	close(cfd);
}

/* Rule 1, cdev half: the group and its devices' cdevs exclude each other. */
static int cdev_open(const char *bdf)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	int fd = -1, err = ENOENT;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(path, sizeof(path), "/dev/vfio/devices/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		err = errno;
		break;
	}
	closedir(d);
	errno = err;
	return fd;
}

static int cdev_bind(int dfd, int ifd)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind), .iommufd = ifd,
	};

	return ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
}

/*
 * A bound cdev blocks the group and an open group blocks binding a cdev.
 * Opening a cdev alone blocks nothing: the block is taken by BIND_IOMMUFD.
 */
Test(rules, cdev_and_group_exclude_each_other)
{
	int gfd, dfd, ifd;

	need_devices(true);
	if (!lab.iommufd)
		cr_skip_test("no device cdevs on the legacy kernel");
	ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	cr_assert_geq(ifd, 0, "/dev/iommu: %s", strerror(errno));

	dfd = cdev_open(lab.bdf[0]);
	cr_assert_geq(dfd, 0, "cdev of %s: %s", lab.bdf[0], strerror(errno));
	gfd = group_open(lab.group[0]);
	cr_assert_geq(gfd, 0, "an unbound cdev blocked the group: %s", strerror(errno));
	close(gfd);
	cr_assert_eq(cdev_bind(dfd, ifd), 0, "BIND_IOMMUFD: %s", strerror(errno));
	gfd = group_open(lab.group[0]);
	cr_assert_eq(gfd, -1, "group opened while a device cdev is bound");
	cr_assert_eq(errno, EBUSY, "%s", strerror(errno));
	close(dfd);

	gfd = group_open(lab.group[0]);
	cr_assert_geq(gfd, 0, "group still blocked after the cdev closed: %s", strerror(errno));
	dfd = cdev_open(lab.bdf[0]);
	cr_assert_geq(dfd, 0, "cdev open with the group open: %s", strerror(errno));
	cr_assert_eq(cdev_bind(dfd, ifd), -1, "cdev bound while the group is open");
	cr_assert_eq(errno, EBUSY, "%s", strerror(errno));
	close(dfd);
	close(gfd);
	close(ifd);
}
