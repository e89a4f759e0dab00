// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault injection over the whole attach and detach: every kernel call point
 * fails in turn, with an errno the kernel could really return there.
 *
 * Attach: after each failure the process's fds, the model's fds, mappings,
 * pinned pages, group states and kvm-vfio registrations are exactly as
 * before the attempt (a newly made kvm-vfio device excepted: a VM keeps it),
 * the error is explained, and a retry succeeds.
 *
 * Detach: whatever call fails, detach still closes every fd it holds and
 * frees the device; once the VM goes too, nothing is left in the model.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "env.h"

/* An errno the kernel could return at this call. */
static int plausible_errno(const struct fault_call *c)
{
	switch (c->op) {
	case FAULT_OPEN:
		if (!strncmp(c->path, "/dev/vfio/devices/", 18) ||
		    !strncmp(c->path, "/dev/vfio/", 10))
			return strcmp(c->path, "/dev/vfio/vfio") ? EBUSY : ENOENT;
		if (!strcmp(c->path, "/dev/iommu"))
			return ENOENT;
		return EACCES;
	case FAULT_CLOSE:
		return EINTR;
	case FAULT_READLINK:
	case FAULT_READDIR:
		return EACCES;
	case FAULT_PREAD:
	case FAULT_PWRITE:
		return EIO;
	case FAULT_GETRLIMIT:
		return EINVAL;
	case FAULT_MMAP:
	case FAULT_MUNMAP:
		return ENOMEM;
	case FAULT_IOCTL:
		break;
	}
	switch (c->req) {
	case VFIO_SET_IOMMU:
		return EPERM;
	case VFIO_IOMMU_MAP_DMA:
	case IOMMU_IOAS_MAP:
	case IOMMU_IOAS_ALLOC:
		return ENOMEM;
	case VFIO_GROUP_SET_CONTAINER:
	case VFIO_GROUP_GET_DEVICE_FD:
	case VFIO_DEVICE_BIND_IOMMUFD:
		return EBUSY;
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
		return EADDRINUSE;
	case KVM_CREATE_DEVICE:
		return ENODEV;
	case VFIO_GROUP_UNSET_CONTAINER:
		return EBUSY;
	case KVM_SET_DEVICE_ATTR:
	case VFIO_IOMMU_UNMAP_DMA:
	case IOMMU_IOAS_UNMAP:
	default:
		return EINVAL;
	}
}

struct scenario {
	const char *name;
	enum vfio_backend backend;
	bool legacy_kernel;
	/* Devices attached (disarmed) before the one under test. */
	const char *before[2];
	const char *bdf;
	bool preopened;		/* libvirt's way: iommufd and cdev fds passed in */
};

#define CONTAINER VFIO_BACKEND_CONTAINER
#define COMPAT VFIO_BACKEND_IOMMUFD_COMPAT
#define IOMMUFD VFIO_BACKEND_IOMMUFD

static const struct scenario scenarios[] = {
	{ .name = "legacy, first group", .backend = CONTAINER, .legacy_kernel = true,
	  .bdf = "0000:00:03.0" },
	{ .name = "legacy, second group joins the container", .backend = CONTAINER,
	  .legacy_kernel = true, .before = { "0000:00:03.0" }, .bdf = "0000:01:01.0" },
	{ .name = "legacy, second device of an open group", .backend = CONTAINER,
	  .legacy_kernel = true, .before = { "0000:00:03.0", "0000:01:01.0" },
	  .bdf = "0000:01:02.0" },
	{ .name = "iommufd compat container, first group", .backend = CONTAINER,
	  .bdf = "0000:00:03.0" },
	{ .name = "/dev/iommu as the container, first group", .backend = COMPAT,
	  .bdf = "0000:00:03.0" },
	{ .name = "/dev/iommu as the container, second group", .backend = COMPAT,
	  .before = { "0000:00:04.0" }, .bdf = "0000:00:03.0" },
	{ .name = "iommufd cdev, first device", .backend = IOMMUFD, .bdf = "0000:00:03.0" },
	{ .name = "iommufd cdev, second device", .backend = IOMMUFD,
	  .before = { "0000:00:04.0" }, .bdf = "0000:00:03.0" },
	{ .name = "iommufd cdev, fds passed in", .backend = IOMMUFD, .bdf = "0000:00:03.0",
	  .preopened = true },
};

static void env_for(struct env *e, const struct scenario *sc)
{
	struct kmodel_config cfg = sc->legacy_kernel ? kmodel_config_legacy()
						      : kmodel_config_iommufd();

	env_init(e, &cfg, sc->backend, true);
	if (sc->preopened)
		env_preopen_iommufd(e);
	env_add_ram(e, 0x100000000ULL);
	env_add_ram(e, 0);
}

/* Attaches the device under test, passing a fresh cdev fd when the scenario says so. */
static int attach_dut(struct env *e, const struct scenario *sc, struct vfio_device **dev,
		      struct vfio_err *err)
{
	struct vfio_attach_opts opts = { 0 };

	if (sc->preopened) {
		opts.flags = VFIO_ATTACH_CDEV_FD;
		opts.cdev_fd = env_open_cdev(e, sc->bdf);
	}
	return vfio_device_attach(e->ctx, sc->bdf, &opts, dev, err);
}

static void attach_before(struct env *e, const struct scenario *sc, struct vfio_device **devs)
{
	for (int i = 0; i < 2 && sc->before[i]; i++) {
		struct vfio_err err = { 0 };

		cr_assert_eq(vfio_device_attach(e->ctx, sc->before[i], NULL, &devs[i], &err), 0,
			     "%s: %s", sc->name, err.msg);
	}
}

static void detach_before(struct env *e, const struct scenario *sc, struct vfio_device **devs)
{
	for (int i = 1; i >= 0; i--)
		if (sc->before[i])
			cr_assert_eq(vfio_device_detach(devs[i], NULL), 0);
}

Test(vfio_fault, every_attach_call_point)
{
	unsigned long total = 0;

	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		struct vfio_device *devs[2] = { 0 }, *dev;
		struct fault_call log[256];
		unsigned long n;
		struct env e;

		/* Learn the call points of a successful attach, in a fresh host. */
		env_for(&e, sc);
		attach_before(&e, sc, devs);
		fault_sys_record(&e.fault, true);
		fault_sys_reset(&e.fault);
		cr_assert_eq(attach_dut(&e, sc, &dev, NULL), 0, "%s",
			     sc->name);
		n = e.fault.calls;
		cr_assert_leq(n, 256);
		memcpy(log, e.fault.log, n * sizeof(log[0]));
		fault_sys_record(&e.fault, false);
		cr_assert_eq(vfio_device_detach(dev, NULL), 0);
		detach_before(&e, sc, devs);
		env_fini(&e);
		cr_assert_gt(n, 5, "%s: only %lu calls?", sc->name, n);

		/* Each call point fails once, each in a fresh host of the same shape. */
		for (unsigned long i = 1; i <= n; i++) {
			struct vfio_err err = { 0 };
			struct env_snap before, after;
			char what[256], desc[128];
			int errnum = plausible_errno(&log[i - 1]);
			int ret;

			snprintf(what, sizeof(what), "%s: call %lu/%lu (%s) failing with %s",
				 sc->name, i, n, fault_call_describe(&log[i - 1], desc,
								     sizeof(desc)),
				 strerror(errnum));
			env_for(&e, sc);
			attach_before(&e, sc, devs);
			env_snap(&e, &before);
			fault_sys_arm(&e.fault, i, errnum);
			ret = attach_dut(&e, sc, &dev, &err);
			fault_sys_disarm(&e.fault);
			cr_assert_eq(e.fault.injected, 1, "%s: the fault was not hit", what);
			cr_assert_eq(e.fault.failed.op, log[i - 1].op, "%s: another call failed",
				     what);
			cr_assert_eq(e.fault.failed.req, log[i - 1].req, "%s: another call failed",
				     what);
			if (ret == 0) {
				/* Only a close may fail unnoticed (a sysfs file read). */
				cr_expect_eq(log[i - 1].op, FAULT_CLOSE, "%s: attach succeeded",
					     what);
			} else {
				cr_expect_lt(ret, 0, "%s", what);
				cr_expect_eq(err.errnum, ret, "%s: err.errnum %d", what,
					     err.errnum);
				cr_expect_neq(err.msg[0], '\0', "%s: no explanation", what);
				env_snap(&e, &after);
				env_snap_expect_equal(&before, &after, what);

				/* And the same attach works at once. */
				ret = attach_dut(&e, sc, &dev, &err);
				cr_assert_eq(ret, 0, "%s: retry failed: %s", what, err.msg);
			}
			cr_assert_eq(vfio_device_detach(dev, NULL), 0, "%s", what);
			detach_before(&e, sc, devs);
			env_fini(&e);
		}
		total += n;
		cr_log_info("%s: %lu attach call points failed in turn", sc->name, n);
		fprintf(stderr, "vfio_fault: %s: %lu attach call points failed in turn\n",
			sc->name, n);
	}
	fprintf(stderr, "vfio_fault: %lu attach call points in all\n", total);
}

/*
 * Detach: the documented policy is "release everything you can": a failing
 * ioctl is reported, and the steps after it still run; every fd is closed.
 * KVM is the one thing detach cannot force: if FILE_DEL fails, KVM keeps its
 * reference to the group (or cdev) until the VM goes.
 */
Test(vfio_fault, every_detach_call_point)
{
	unsigned long total = 0;

	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		struct vfio_device *devs[2] = { 0 }, *dev;
		struct fault_call log[256];
		unsigned long n;
		struct env e;
		int base_fds;

		/* Count the calls of a clean detach. */
		env_for(&e, sc);
		attach_before(&e, sc, devs);
		cr_assert_eq(attach_dut(&e, sc, &dev, NULL), 0);
		fault_sys_record(&e.fault, true);
		fault_sys_reset(&e.fault);
		cr_assert_eq(vfio_device_detach(dev, NULL), 0);
		n = e.fault.calls;
		cr_assert_leq(n, 256);
		memcpy(log, e.fault.log, n * sizeof(log[0]));
		fault_sys_record(&e.fault, false);
		detach_before(&e, sc, devs);
		env_fini(&e);
		cr_assert_gt(n, 0);

		for (unsigned long i = 1; i <= n; i++) {
			struct vfio_err err = { 0 };
			struct env_snap before, after;
			char what[256], desc[128];
			int errnum = plausible_errno(&log[i - 1]);
			int ret;

			fault_call_describe(&log[i - 1], desc, sizeof(desc));
			snprintf(what, sizeof(what), "%s: detach call %lu/%lu (%s) failing with %s",
				 sc->name, i, n, desc, strerror(errnum));
			env_for(&e, sc);
			attach_before(&e, sc, devs);
			env_snap(&e, &before);
			base_fds = env_count_fds();
			cr_assert_eq(attach_dut(&e, sc, &dev, NULL), 0);

			fault_sys_arm(&e.fault, i, errnum);
			ret = vfio_device_detach(dev, &err);
			fault_sys_disarm(&e.fault);
			cr_assert_eq(e.fault.injected, 1, "%s: fault not hit", what);
			cr_expect_lt(ret, 0, "%s: detach hid the failure", what);
			cr_expect_neq(err.msg[0], '\0', "%s: no explanation", what);
			/*
			 * Every fd detach held is closed, failure or not; a kvm-vfio
			 * device the attach created stays with the VM.
			 */
			base_fds += !before.kvm_dev && vfio_ctx_kvm_fd(e.ctx) >= 0;
			cr_expect_eq(env_count_fds(), base_fds, "%s: fds %d -> %d", what, base_fds,
				     env_count_fds());
			env_snap(&e, &after);
			if (log[i - 1].op != FAULT_IOCTL || log[i - 1].req != KVM_SET_DEVICE_ATTR)
				env_snap_expect_equal(&before, &after, what);
			/*
			 * The rest of the ctx still works, and with the VM gone
			 * (env_fini) the model must be empty: no leaked fd,
			 * mapping or pin, even after a failed FILE_DEL.
			 */
			detach_before(&e, sc, devs);
			env_fini(&e);
		}
		total += n;
		cr_log_info("%s: %lu detach call points failed in turn", sc->name, n);
		fprintf(stderr, "vfio_fault: %s: %lu detach call points failed in turn\n",
			sc->name, n);
	}
	fprintf(stderr, "vfio_fault: %lu detach call points in all\n", total);
}
