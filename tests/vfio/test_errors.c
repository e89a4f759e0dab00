// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every error a user can cause gets a message that names the thing (BDF,
 * driver, group, process, limit, range) and says how to fix it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "env.h"

static struct env e;
static struct vfio_err err;

static void setup_with(struct kmodel_config cfg, enum vfio_backend backend)
{
	env_init(&e, &cfg, backend, true);
	env_add_ram(&e, 0);
	env_add_ram(&e, 0x100000000ULL);
	memset(&err, 0, sizeof(err));
}

static void setup_legacy(void)
{
	setup_with(kmodel_config_legacy(), VFIO_BACKEND_CONTAINER);
}

static void teardown(void)
{
	env_fini(&e);
}

static int try_attach(const char *bdf)
{
	struct vfio_device *dev = NULL;
	int ret = vfio_device_attach(e.ctx, bdf, NULL, &dev, &err);

	if (ret == 0)
		vfio_device_detach(dev, NULL);
	cr_assert_eq(err.errnum, ret);
	return ret;
}

#define expect_msg(s) cr_expect(strstr(err.msg, (s)) != NULL, "missing '%s' in: %s", (s), err.msg)
#define expect_no_msg(s) cr_expect(strstr(err.msg, (s)) == NULL, "unexpected '%s' in: %s", \
				   (s), err.msg)

Test(vfio_errors, malformed_bdf, .init = setup_legacy, .fini = teardown)
{
	cr_assert_eq(try_attach("0000:00:3.0"), -EINVAL);
	expect_msg("'0000:00:3.0' is not a PCI address");
	expect_msg("DDDD:BB:DD.F");
}

Test(vfio_errors, no_such_device, .init = setup_legacy, .fini = teardown)
{
	cr_assert_eq(try_attach("0000:09:00.0"), -ENOENT);
	expect_msg("no PCI device 0000:09:00.0");
	expect_msg("/sys/bus/pci/devices/0000:09:00.0");
	expect_msg("lspci -D");
}

Test(vfio_errors, bound_to_a_host_driver, .init = setup_legacy, .fini = teardown)
{
	cr_assert_eq(kmodel_bind(e.km, "0000:00:03.0", NULL), 0);
	cr_assert_eq(kmodel_bind(e.km, "0000:00:03.0", "e1000e"), 0);
	cr_assert_eq(try_attach("0000:00:03.0"), -EINVAL);
	expect_msg("device 0000:00:03.0 is bound to driver e1000e, not vfio-pci");
	expect_msg("echo vfio-pci > /sys/bus/pci/devices/0000:00:03.0/driver_override");
	expect_msg("echo 0000:00:03.0 > /sys/bus/pci/devices/0000:00:03.0/driver/unbind");
	expect_msg("echo 0000:00:03.0 > /sys/bus/pci/drivers_probe");
}

Test(vfio_errors, unbound, .init = setup_legacy, .fini = teardown)
{
	cr_assert_eq(kmodel_bind(e.km, "0000:00:03.0", NULL), 0);
	cr_assert_eq(try_attach("0000:00:03.0"), -EINVAL);
	expect_msg("device 0000:00:03.0 is not bound to any driver");
	expect_msg("echo vfio-pci > /sys/bus/pci/devices/0000:00:03.0/driver_override");
	expect_msg("echo 0000:00:03.0 > /sys/bus/pci/drivers_probe");
	expect_no_msg("unbind");
}

/* A host where the vfio module is not loaded: /dev/vfio is absent. */
struct hide {
	struct vfio_sys sys;
	struct vfio_sys *inner;
	const char *prefix;	/* paths hidden from open/readdir */
	int errnum;
};

static struct hide *hide_of(struct vfio_sys *s)
{
	return (struct hide *)s;
}

static int hide_open(struct vfio_sys *s, const char *path, int flags)
{
	struct hide *h = hide_of(s);

	if (!strncmp(path, h->prefix, strlen(h->prefix)))
		return -h->errnum;
	return h->inner->open(h->inner, path, flags);
}

static ssize_t hide_readdir(struct vfio_sys *s, const char *path, char *buf, size_t len)
{
	struct hide *h = hide_of(s);

	if (!strncmp(path, h->prefix, strlen(h->prefix)))
		return -h->errnum;
	return h->inner->readdir(h->inner, path, buf, len);
}

#define HIDE_FWD(name, ret, params, args)                                   \
	static ret hide_##name params                                       \
	{                                                                   \
		struct hide *h = hide_of(s);                                \
		return h->inner->name args;                                 \
	}
HIDE_FWD(close, int, (struct vfio_sys *s, int fd), (h->inner, fd))
HIDE_FWD(ioctl, int, (struct vfio_sys *s, int fd, unsigned long r, void *a), (h->inner, fd, r, a))
HIDE_FWD(pread, ssize_t, (struct vfio_sys *s, int fd, void *b, size_t l, off_t o),
	 (h->inner, fd, b, l, o))
HIDE_FWD(readlink, ssize_t, (struct vfio_sys *s, const char *p, char *b, size_t l),
	 (h->inner, p, b, l))
HIDE_FWD(getrlimit, int, (struct vfio_sys *s, int r, struct rlimit *l), (h->inner, r, l))

static struct vfio_ctx *hidden_ctx(struct hide *h, const char *prefix, int errnum)
{
	struct vfio_ctx_opts opts = { .backend = VFIO_BACKEND_CONTAINER, .vm_fd = -1 };
	struct vfio_ctx *ctx;

	*h = (struct hide){
		.sys = { .name = "hide", .open = hide_open, .close = hide_close,
			 .ioctl = hide_ioctl, .pread = hide_pread, .readlink = hide_readlink,
			 .readdir = hide_readdir, .getrlimit = hide_getrlimit },
		.inner = e.sys, .prefix = prefix, .errnum = errnum,
	};
	cr_assert_eq(vfio_ctx_new(&h->sys, &opts, &ctx), 0);
	return ctx;
}

Test(vfio_errors, vfio_module_not_loaded, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev;
	struct hide h;
	struct vfio_ctx *ctx = hidden_ctx(&h, "/dev/vfio", ENOENT);

	cr_assert_eq(vfio_device_attach(ctx, "0000:00:03.0", NULL, &dev, &err), -ENOENT);
	expect_msg("/dev/vfio does not exist");
	expect_msg("modprobe vfio-pci");
	cr_assert_eq(vfio_ctx_free(ctx), 0);
}

Test(vfio_errors, group_not_viable, .init = setup_legacy, .fini = teardown)
{
	struct kmodel_group_state st;

	cr_assert_eq(kmodel_bind(e.km, "0000:01:02.0", NULL), 0);
	cr_assert_eq(kmodel_bind(e.km, "0000:01:02.0", "e1000e"), 0);
	cr_assert_eq(try_attach("0000:01:01.0"), -EPERM);
	expect_msg("IOMMU group 7 is not viable");
	expect_msg("0000:01:01.0: vfio-pci");
	expect_msg("0000:01:02.0: e1000e");
	expect_msg("echo vfio-pci > /sys/bus/pci/devices/0000:01:02.0/driver_override");
	expect_msg("echo 0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind");
	expect_msg("echo 0000:01:02.0 > /sys/bus/pci/drivers_probe");
	expect_no_msg("echo 0000:01:01.0");
	cr_assert_eq(kmodel_group_state(e.km, 7, &st), 0);
	cr_assert_eq(st.opened, false, "the group fd of a failed attach is closed");

	/* An unbound member is allowed. */
	cr_assert_eq(kmodel_bind(e.km, "0000:01:02.0", NULL), 0);
	cr_assert_eq(try_attach("0000:01:01.0"), 0);
}

Test(vfio_errors, group_busy_names_the_process, .init = setup_legacy, .fini = teardown)
{
	cr_assert_eq(kmodel_hold_group(e.km, 5, 4242, "qemu-system-x86"), 0);
	cr_assert_eq(try_attach("0000:00:03.0"), -EBUSY);
	expect_msg("group 5 is in use by process 4242 (qemu-system-x86)");
	cr_assert_eq(kmodel_release_group(e.km, 5), 0);
	cr_assert_eq(try_attach("0000:00:03.0"), 0);
}

Test(vfio_errors, group_busy_proc_unreadable, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev;
	struct hide h;
	struct vfio_ctx *ctx = hidden_ctx(&h, "/proc", EACCES);

	cr_assert_eq(kmodel_hold_group(e.km, 5, 4242, "qemu-system-x86"), 0);
	cr_assert_eq(vfio_device_attach(ctx, "0000:00:03.0", NULL, &dev, &err), -EBUSY);
	expect_msg("IOMMU group 5 is in use");
	expect_msg("cannot tell by whom: reading /proc failed");
	cr_assert_eq(vfio_ctx_free(ctx), 0);
	cr_assert_eq(kmodel_release_group(e.km, 5), 0);
}

Test(vfio_errors, cdev_busy_names_the_group_holder, .fini = teardown)
{
	setup_with(kmodel_config_iommufd(), VFIO_BACKEND_IOMMUFD);
	cr_assert_eq(kmodel_hold_group(e.km, 7, 777, "qemu-kvm"), 0);
	cr_assert_eq(try_attach("0000:01:02.0"), -EBUSY);
	expect_msg("group 7 is in use by process 777 (qemu-kvm)");
	cr_assert_eq(vfio_ctx_container_fd(e.ctx), -1, "the iommufd of a failed attach is closed");
	cr_assert_eq(kmodel_release_group(e.km, 7), 0);
}

Test(vfio_errors, no_interrupt_remapping, .fini = teardown)
{
	struct kmodel_config cfg = kmodel_config_legacy();

	cfg.irq_remap = false;
	setup_with(cfg, VFIO_BACKEND_CONTAINER);
	cr_assert_eq(try_attach("0000:00:03.0"), -EPERM);
	expect_msg("group 5");
	expect_msg("no interrupt remapping");
	expect_msg("dmesg");
	expect_msg("allow_unsafe_interrupts");
	cr_assert_eq(vfio_ctx_container_fd(e.ctx), -1);
}

Test(vfio_errors, memlock_too_small, .init = setup_legacy, .fini = teardown)
{
	struct vfio_ctx_opts opts = { .backend = VFIO_BACKEND_CONTAINER, .vm_fd = -1,
				      .cap_ipc_lock = true };
	struct vfio_device *dev;
	struct vfio_ctx *ctx;

	kmodel_set_memlock(e.km, 1 << 20);
	cr_assert_eq(try_attach("0000:00:03.0"), -ENOMEM);
	/* Two 2 MiB ranges: 4 MiB needed, 1 MiB allowed. */
	expect_msg("needs 4194304 bytes (4096 KiB) locked");
	expect_msg("RLIMIT_MEMLOCK is 1048576 bytes (1024 KiB)");
	expect_msg("ulimit -l 4096");
	expect_msg("/etc/security/limits.conf");
	expect_msg("CAP_IPC_LOCK");
	cr_assert_eq(kmodel_pinned_bytes(e.km), 0);

	/* With CAP_IPC_LOCK the limit does not apply. */
	kmodel_set_cap_ipc_lock(e.km, true);
	cr_assert_eq(vfio_ctx_new(e.sys, &opts, &ctx), 0);
	cr_assert_eq(vfio_ctx_dma_add(ctx, 0, (uintptr_t)e.ram, ENV_RAM_SIZE, &err), 0);
	cr_assert_eq(vfio_ctx_dma_add(ctx, 0x100000000ULL, (uintptr_t)e.ram, ENV_RAM_SIZE, &err),
		     0);
	cr_assert_eq(vfio_device_attach(ctx, "0000:00:03.0", NULL, &dev, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(vfio_device_detach(dev, NULL), 0);
	cr_assert_eq(vfio_ctx_free(ctx), 0);
}

Test(vfio_errors, memlock_enforced_by_the_kernel, .init = setup_legacy, .fini = teardown)
{
	/* The pre-check passes; the kernel's ENOMEM is explained the same way. */
	fault_sys_arm_ioctl(&e.fault, VFIO_IOMMU_MAP_DMA, 2, ENOMEM);
	cr_assert_eq(try_attach("0000:00:03.0"), -ENOMEM);
	expect_msg("needs 4194304 bytes");
	expect_msg("RLIMIT_MEMLOCK is 67108864 bytes");
}

Test(vfio_errors, dma_entry_limit, .init = setup_legacy, .fini = teardown)
{
	kmodel_set_dma_avail(e.km, 1);
	cr_assert_eq(try_attach("0000:00:03.0"), -ENOSPC);
	expect_msg("allows 1 more DMA mappings");
	expect_msg("dma_entry_limit");
	kmodel_set_dma_avail(e.km, 65535);
	/* The kernel's own ENOSPC. */
	fault_sys_arm_ioctl(&e.fault, VFIO_IOMMU_MAP_DMA, 1, ENOSPC);
	cr_assert_eq(try_attach("0000:00:03.0"), -ENOSPC);
	expect_msg("dma_entry_limit");
}

Test(vfio_errors, kernel_overlap_and_reserved, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev;
	struct vfio_sys *ms = kmodel_sys(e.km);
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = 0x300000000ULL,
		.size = ENV_RAM_SIZE,
	};
	int cfd;

	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", NULL, &dev, &err), 0);
	cfd = vfio_ctx_container_fd(e.ctx);
	/* A mapping someone made behind the ctx's back. */
	map.vaddr = (uintptr_t)e.ram;
	cr_assert_eq(ms->ioctl(ms, cfd, VFIO_IOMMU_MAP_DMA, &map), 0);
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x300000000ULL, (uintptr_t)e.ram, ENV_RAM_SIZE,
				      &err), -EEXIST);
	expect_msg("[0x300000000, 0x3001fffff]");
	expect_msg("overlaps a mapping the container already has");
	cr_assert_eq(vfio_ctx_dma_count(e.ctx, NULL), 2, "the failed range is not listed");
	cr_assert_eq(vfio_container_unmap_dma(ms, cfd, 0x300000000ULL, ENV_RAM_SIZE, NULL), 0);

	fault_sys_arm_ioctl(&e.fault, VFIO_IOMMU_MAP_DMA, 1, EINVAL);
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x400000000ULL, (uintptr_t)e.ram, ENV_RAM_SIZE,
				      &err), -EINVAL);
	expect_msg("[0x400000000, 0x4001fffff]");
	expect_msg("reserved");
	cr_assert_eq(vfio_device_detach(dev, NULL), 0);
}

Test(vfio_errors, old_kvm_refuses_a_cdev, .fini = teardown)
{
	struct kmodel_config cfg = kmodel_config_iommufd();
	struct env_snap before, after;

	cfg.kvm_vfio_cdev = false;
	setup_with(cfg, VFIO_BACKEND_IOMMUFD);
	env_snap(&e, &before);
	cr_assert_lt(try_attach("0000:00:03.0"), 0);
	expect_msg("kvm-vfio refused the cdev of 0000:00:03.0");
	expect_msg("before 6.6");
	expect_msg("container backend");
	env_snap(&e, &after);
	env_snap_expect_equal(&before, &after, "old kvm-vfio");
}

Test(vfio_errors, no_iommufd, .fini = teardown)
{
	setup_with(kmodel_config_legacy(), VFIO_BACKEND_IOMMUFD);
	cr_assert_eq(try_attach("0000:00:03.0"), -ENOENT);
	expect_msg("/dev/iommu does not exist");
}

/* The limit counts mappings in place: a second group's GET_INFO must not double-count them. */
Test(vfio_errors, dma_entry_limit_while_live, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *a, *b;

	kmodel_set_dma_avail(e.km, 3);
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", NULL, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:04.0", NULL, &b, &err), 0, "%s", err.msg);
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x200000000ULL, (uintptr_t)e.ram, ENV_RAM_SIZE,
				      &err), 0, "%s", err.msg);
	fault_sys_record(&e.fault, true);
	fault_sys_reset(&e.fault);
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x300000000ULL, (uintptr_t)e.ram, ENV_RAM_SIZE,
				      &err), -ENOSPC);
	expect_msg("allows 0 more DMA mappings");
	cr_assert_eq(e.fault.nlog, 0, "refused before the kernel was asked");
	/* Removing one makes room again. */
	cr_assert_eq(vfio_ctx_dma_remove(e.ctx, 0x200000000ULL, ENV_RAM_SIZE, &err), 0);
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x300000000ULL, (uintptr_t)e.ram, ENV_RAM_SIZE,
				      &err), 0, "%s", err.msg);
	cr_assert_eq(vfio_device_detach(a, NULL), 0);
	cr_assert_eq(vfio_device_detach(b, NULL), 0);
}

/*
 * A member's cdev bound to an iommufd blocks the group node (the kernel's
 * mutual exclusion).  Here the holder is this very process behind ferry's
 * back, which the /proc scan skips, so the message says it cannot see it.
 */
Test(vfio_errors, group_blocked_by_a_bound_cdev, .fini = teardown)
{
	struct vfio_sys *ms;
	uint32_t dev_id;
	int ifd, dfd;

	setup_with(kmodel_config_iommufd(), VFIO_BACKEND_CONTAINER);
	ms = kmodel_sys(e.km);
	ifd = ms->open(ms, "/dev/iommu", O_RDWR);
	cr_assert_geq(ifd, 0);
	dfd = env_open_cdev(&e, "0000:01:02.0");
	cr_assert_eq(vfio_devfd_bind_iommufd(ms, dfd, ifd, &dev_id), 0);
	cr_assert_eq(try_attach("0000:01:01.0"), -EBUSY);
	expect_msg("IOMMU group 7 is in use");
	expect_msg("another process that /proc does not show");
	expect_msg("hot-unplug the device from it first");
	ms->close(ms, dfd);
	ms->close(ms, ifd);
	/* Released: the group opens at once. */
	cr_assert_eq(try_attach("0000:01:01.0"), 0, "%s", err.msg);
}
