/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Contract tests: the kernel's VFIO rules stated through raw vfio_sys calls,
 * so that the same test runs against the model (tests/kmodel) and against
 * the real kernel (in the lab).
 *
 * Backend, from the environment:
 *   default            a fresh model host per test; FERRY_KMODEL=legacy or
 *                      iommufd (default) picks which kernel it models;
 *   FERRY_SYS=linux    the real kernel: devices from FERRY_LAB_DEVICES
 *                      (BDFs already bound to vfio-pci), groups from sysfs,
 *                      FERRY_LAB_KERNEL=legacy|iommufd says what to expect
 *                      and is checked against what the host offers.
 *
 * Where the two kernels' rules differ (a type1 container against iommufd's
 * compat layer behind /dev/vfio/vfio), a test states both expectations and
 * picks by ct->compat, which is probed, not assumed.
 */
#ifndef FERRY_TESTS_CONTRACT_CT_H
#define FERRY_TESTS_CONTRACT_CT_H

#include <stdbool.h>
#include <stdint.h>

#include "vfio/vfio.h"
#include "kmodel.h"

/* What a test needs from the host. */
enum ct_need {
	CT_NEED_ONE,		/* one vfio-pci device */
	CT_NEED_TWO_IN_GROUP,	/* two vfio-pci devices in one IOMMU group */
	CT_NEED_NOT_VIABLE,	/* a vfio-pci device whose group has a host-driver device */
};

struct ct_dev {
	char bdf[16];
	unsigned int group;
	int cdev;		/* vfioX, -1 without one */
};

struct ct {
	struct vfio_sys *sys;
	struct kmodel *km;	/* NULL against the real kernel */
	bool real_kernel;
	bool compat;		/* /dev/vfio/vfio is iommufd's compat layer */
	bool iommufd;		/* /dev/iommu exists */
	bool kvm;		/* /dev/kvm exists */
	bool kvm_vfio_file;	/* kvm-vfio takes device fds (Linux >= 6.6) */
	bool pre_6_2;		/* Linux < 6.2: no iommufd in group.c */
	struct ct_dev dev[2];
	char group_path[32];	/* /dev/vfio/N of dev[0] */
};

/*
 * Skips the test, freeing the model first: Criterion does not run a suite's
 * .fini for a skipped test, and the model's tree would stay in /tmp.
 */
#define ct_skip(ctp, ...)				\
	do {						\
		ct_teardown(ctp);			\
		cr_skip_test(__VA_ARGS__);		\
	} while (0)

/* Fills @ct for @need or skips the test saying what is missing. */
void ct_setup(struct ct *ct, enum ct_need need);
void ct_teardown(struct ct *ct);

/* Opens, asserting success. */
int ct_open(struct ct *ct, const char *path);
/* sysfs and procfs files that have no write method refuse O_RDWR (EACCES) */
int ct_open_ro(struct ct *ct, const char *path);
int ct_open_group(struct ct *ct);
/* Group fd attached to a fresh container (and SET_IOMMU TYPE1v2): both fds out. */
void ct_group_with_container(struct ct *ct, int *group, int *container);
/* ... and the device fd of dev[@i] through the group. */
int ct_device_fd(struct ct *ct, int group, int i);
/*
 * ct_setup(CT_NEED_ONE), then dev[0] the usual way: its group attached to a
 * fresh container (TYPE1v2) and its device fd.  All three fds out.
 */
void ct_setup_device(struct ct *ct, int *group, int *container, int *device);
/* Closes what ct_setup_device() opened: the device, its group, the container. */
void ct_close_device(struct ct *ct, int group, int container, int device);
int ct_ioctl(struct ct *ct, int fd, unsigned long req, void *arg);
int ct_ioctl_val(struct ct *ct, int fd, unsigned long req, unsigned long val);
void ct_close(struct ct *ct, int fd);

/* An anonymous, populated buffer to map for DMA; page aligned. */
void *ct_buffer(size_t len);

/* Makes RLIMIT_MEMLOCK @bytes and drops CAP_IPC_LOCK (real kernel), or sets the model's. */
void ct_limit_memlock(struct ct *ct, uint64_t bytes);

/*
 * Another process holds dev[0]'s group: a forked child (real kernel) or the
 * model's holder.  Returns its pid; ct_release_holder() ends it.
 */
pid_t ct_hold_group_elsewhere(struct ct *ct);
void ct_release_holder(struct ct *ct, pid_t pid);

/* The container's IOVA ranges from VFIO_IOMMU_GET_INFO; returns their number. */
int ct_container_ranges(struct ct *ct, int container, struct vfio_iova_range *out, int max);
bool ct_iova_in_ranges(const struct vfio_iova_range *r, int n, uint64_t iova, uint64_t size);

#endif /* FERRY_TESTS_CONTRACT_CT_H */
