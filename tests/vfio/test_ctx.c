// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ctx on the kernel model: the group registry, the shared container or
 * IOAS, the DMA list, kvm-vfio, and the order of calls the kernel requires.
 * The fault injector sits disarmed between vfio/ and the model and records
 * every call, so a test can assert the exact sequence.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "env.h"

static struct env e;

static void setup_legacy(void)
{
	struct kmodel_config cfg = kmodel_config_legacy();

	env_init(&e, &cfg, VFIO_BACKEND_CONTAINER, true);
	env_add_ram(&e, 0);
	env_add_ram(&e, 0x100000000ULL);
	fault_sys_record(&e.fault, true);
}

static void setup_iommufd(void)
{
	struct kmodel_config cfg = kmodel_config_iommufd();

	env_init(&e, &cfg, VFIO_BACKEND_IOMMUFD, true);
	env_add_ram(&e, 0);
	env_add_ram(&e, 0x100000000ULL);
	fault_sys_record(&e.fault, true);
}

static void teardown(void)
{
	env_fini(&e);
}

static struct vfio_device *attach(const char *bdf)
{
	struct vfio_err err = { 0 };
	struct vfio_device *dev = NULL;
	int ret = vfio_device_attach(e.ctx, bdf, NULL, &dev, &err);

	cr_assert_eq(ret, 0, "attach %s: %d %s", bdf, ret, err.msg);
	return dev;
}

static void detach(struct vfio_device *dev)
{
	struct vfio_err err = { 0 };
	int ret = vfio_device_detach(dev, &err);

	cr_assert_eq(ret, 0, "detach: %d %s", ret, err.msg);
}

/* Index in the log of the first call matching (op, req, fd); fd -1 = any; -1 if none. */
static int find_call(enum fault_op op, unsigned long req, int fd, int from)
{
	for (size_t i = from; i < e.fault.nlog; i++) {
		const struct fault_call *c = &e.fault.log[i];

		if (c->op == op && (op != FAULT_IOCTL || c->req == req) && (fd < 0 || c->fd == fd))
			return i;
	}
	return -1;
}

static int count_calls(enum fault_op op, unsigned long req, const char *path)
{
	int n = 0;

	for (size_t i = 0; i < e.fault.nlog; i++) {
		const struct fault_call *c = &e.fault.log[i];

		if (c->op == op && (op != FAULT_IOCTL || c->req == req) &&
		    (!path || !strcmp(c->path, path)))
			n++;
	}
	return n;
}

static int maps(void)
{
	struct kmodel_mapping m[8];
	int cfd = vfio_ctx_container_fd(e.ctx);

	if (cfd < 0)
		return 0;
	return kmodel_mappings(e.km, cfd, vfio_ctx_ioas_id(e.ctx), m, 8);
}

static struct kmodel_group_state group(unsigned int id)
{
	struct kmodel_group_state st;

	cr_assert_eq(kmodel_group_state(e.km, id, &st), 0);
	return st;
}

Test(vfio_ctx, legacy_attach_order, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev;
	int status, setc, iommu, map, kvm_add, getfd;

	fault_sys_reset(&e.fault);
	dev = attach("00:03.0");	/* short form: domain 0 */
	cr_assert_str_eq(vfio_device_name(dev), "0000:00:03.0");
	cr_assert_eq(vfio_device_group_id(dev), 5);
	cr_assert(vfio_device_info(dev)->flags & VFIO_DEVICE_FLAGS_PCI);

	status = find_call(FAULT_IOCTL, VFIO_GROUP_GET_STATUS, -1, 0);
	setc = find_call(FAULT_IOCTL, VFIO_GROUP_SET_CONTAINER, -1, 0);
	iommu = find_call(FAULT_IOCTL, VFIO_SET_IOMMU, -1, 0);
	map = find_call(FAULT_IOCTL, VFIO_IOMMU_MAP_DMA, -1, 0);
	kvm_add = find_call(FAULT_IOCTL, KVM_SET_DEVICE_ATTR, -1, 0);
	getfd = find_call(FAULT_IOCTL, VFIO_GROUP_GET_DEVICE_FD, -1, 0);
	cr_assert(status >= 0 && setc > status, "GET_STATUS must come first");
	cr_assert(iommu > setc, "SET_IOMMU after the first group is in the container");
	cr_assert(map > iommu, "mappings need the IOMMU type set");
	cr_assert(kvm_add > setc && getfd > kvm_add,
		  "kvm-vfio FILE_ADD before the first device fd exists");
	cr_assert_eq(count_calls(FAULT_IOCTL, VFIO_IOMMU_MAP_DMA, NULL), 2);

	cr_assert_eq(group(5).container, true);
	cr_assert_eq(group(5).kvm_refs, 1);
	cr_assert_eq(kmodel_container_has_iommu(e.km, vfio_ctx_container_fd(e.ctx)), 1);
	cr_assert_eq(maps(), 2);
	detach(dev);
}

Test(vfio_ctx, legacy_teardown_order, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev = attach("0000:00:03.0");
	int devfd = vfio_device_fd(dev), gfd = vfio_device_group_fd(dev);
	int cfd = vfio_ctx_container_fd(e.ctx), kfd = vfio_ctx_kvm_fd(e.ctx);
	const struct fault_call *l = e.fault.log;

	fault_sys_reset(&e.fault);
	detach(dev);
	/* BRIEF rule 4, call by call. */
	cr_assert_eq(e.fault.nlog, 7, "%zu calls", e.fault.nlog);
	cr_assert(l[0].op == FAULT_CLOSE && l[0].fd == devfd, "1: close the device fd");
	cr_assert(l[1].op == FAULT_IOCTL && l[1].req == KVM_SET_DEVICE_ATTR && l[1].fd == kfd,
		  "2: kvm-vfio FILE_DEL");
	cr_assert(l[2].op == FAULT_IOCTL && l[2].req == VFIO_IOMMU_UNMAP_DMA && l[2].fd == cfd);
	cr_assert(l[3].op == FAULT_IOCTL && l[3].req == VFIO_IOMMU_UNMAP_DMA && l[3].fd == cfd,
		  "3: the last group unmaps guest RAM");
	cr_assert(l[4].op == FAULT_IOCTL && l[4].req == VFIO_GROUP_UNSET_CONTAINER &&
		  l[4].fd == gfd, "4: UNSET_CONTAINER");
	cr_assert(l[5].op == FAULT_CLOSE && l[5].fd == gfd, "5: close the group fd");
	cr_assert(l[6].op == FAULT_CLOSE && l[6].fd == cfd, "6: the container fd last");

	cr_assert_eq(group(5).opened, false);
	cr_assert_eq(group(5).kvm_refs, 0);
	cr_assert_eq(kmodel_pinned_bytes(e.km), 0);
	cr_assert_eq(vfio_ctx_container_fd(e.ctx), -1);
	/* The group can be taken at once, by ferry or by someone else (rule 6). */
	cr_assert_eq(kmodel_hold_group(e.km, 5, 4321, "other"), 0);
	cr_assert_eq(kmodel_release_group(e.km, 5), 0);
}

Test(vfio_ctx, one_group_object_per_group, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *a, *b;

	fault_sys_reset(&e.fault);
	a = attach("0000:01:01.0");
	b = attach("0000:01:02.0");
	cr_assert_eq(count_calls(FAULT_OPEN, 0, "/dev/vfio/7"), 1, "group opened twice");
	cr_assert_eq(vfio_device_group_fd(a), vfio_device_group_fd(b));
	cr_assert_eq(vfio_ctx_group_count(e.ctx), 1);
	cr_assert_eq(group(7).device_fds, 2);
	cr_assert_eq(group(7).kvm_refs, 1, "registered with kvm-vfio once");

	/* The group outlives its first device: it is still in use by b. */
	detach(a);
	cr_assert_eq(group(7).opened, true);
	cr_assert_eq(group(7).container, true);
	cr_assert_eq(group(7).device_fds, 1);
	cr_assert_eq(maps(), 2);
	detach(b);
	cr_assert_eq(group(7).opened, false);
	cr_assert_eq(vfio_ctx_group_count(e.ctx), 0);
}

Test(vfio_ctx, groups_share_one_container, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *a, *b;
	int cfd;

	fault_sys_reset(&e.fault);
	a = attach("0000:00:03.0");
	cfd = vfio_ctx_container_fd(e.ctx);
	b = attach("0000:00:04.0");
	cr_assert_neq(vfio_device_group_fd(a), vfio_device_group_fd(b));
	cr_assert_eq(vfio_ctx_container_fd(e.ctx), cfd);
	cr_assert_eq(count_calls(FAULT_OPEN, 0, "/dev/vfio/vfio"), 1);
	cr_assert_eq(count_calls(FAULT_IOCTL, VFIO_SET_IOMMU, NULL), 1, "SET_IOMMU once");
	cr_assert_eq(count_calls(FAULT_IOCTL, VFIO_IOMMU_MAP_DMA, NULL), 2, "RAM mapped once");
	cr_assert(group(5).container && group(6).container);
	cr_assert_eq(maps(), 2);

	/* The first group leaving does not unmap: the container still serves b. */
	fault_sys_reset(&e.fault);
	detach(a);
	cr_assert_eq(count_calls(FAULT_IOCTL, VFIO_IOMMU_UNMAP_DMA, NULL), 0);
	cr_assert_eq(vfio_ctx_container_fd(e.ctx), cfd);
	cr_assert_eq(maps(), 2);
	detach(b);
	cr_assert_eq(vfio_ctx_container_fd(e.ctx), -1);
}

Test(vfio_ctx, new_container_is_filled_from_the_list, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev = attach("0000:00:03.0");
	uint64_t pinned = kmodel_pinned_bytes(e.km);

	cr_assert_gt(pinned, 0);
	detach(dev);
	cr_assert_eq(kmodel_pinned_bytes(e.km), 0);
	/* cloud-hypervisor #7328: the re-added device must find guest RAM mapped. */
	dev = attach("0000:00:04.0");
	cr_assert_eq(maps(), 2);
	cr_assert_eq(kmodel_pinned_bytes(e.km), pinned);
	detach(dev);
}

Test(vfio_ctx, ram_added_and_removed_while_live, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev = attach("0000:00:03.0");
	struct vfio_err err = { 0 };

	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x200000000ULL, (uintptr_t)e.ram, ENV_RAM_SIZE,
				      &err), 0, "%s", err.msg);
	cr_assert_eq(maps(), 3);
	cr_assert_eq(vfio_ctx_dma_count(e.ctx, NULL), 3);
	cr_assert_eq(vfio_ctx_dma_remove(e.ctx, 0x200000000ULL, ENV_RAM_SIZE, &err), 0);
	cr_assert_eq(maps(), 2);
	cr_assert_eq(vfio_ctx_dma_remove(e.ctx, 0x200000000ULL, ENV_RAM_SIZE, &err), -ENOENT);
	/* Overlap with a listed range is refused before the kernel is asked. */
	fault_sys_reset(&e.fault);
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x100000, (uintptr_t)e.ram, ENV_RAM_SIZE, &err),
		     -EEXIST);
	cr_assert(strstr(err.msg, "0x100000") && strstr(err.msg, "[0x0, 0x1fffff]"), "%s",
		  err.msg);
	cr_assert_eq(e.fault.nlog, 0);
	/* Unaligned. */
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x300000123ULL, (uintptr_t)e.ram, 4096, &err),
		     -EINVAL);
	detach(dev);
}

Test(vfio_ctx, fill_failure_rolls_back_every_mapping, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev;
	struct vfio_err err = { 0 };
	struct env_snap before, after;
	int ret;

	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0x200000000ULL, (uintptr_t)e.ram, ENV_RAM_SIZE,
				      &err), 0);
	env_snap(&e, &before);
	fault_sys_arm_ioctl(&e.fault, VFIO_IOMMU_MAP_DMA, 3, ENOMEM);
	ret = vfio_device_attach(e.ctx, "0000:00:03.0", NULL, &dev, &err);
	fault_sys_disarm(&e.fault);
	cr_assert_eq(ret, -ENOMEM);
	cr_assert_eq(count_calls(FAULT_IOCTL, VFIO_IOMMU_UNMAP_DMA, NULL), 2,
		     "both mappings made must be undone");
	cr_assert(strstr(err.msg, "RLIMIT_MEMLOCK"), "%s", err.msg);
	env_snap(&e, &after);
	env_snap_expect_equal(&before, &after, "fill failure");
	detach(attach("0000:00:03.0"));
}

Test(vfio_ctx, reserved_iova_is_refused_with_the_hole, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev = attach("0000:00:03.0");
	struct vfio_err err = { 0 };
	const struct vfio_iova_span *r;

	cr_assert_eq(vfio_ctx_iova_ranges(e.ctx, &r), 2);
	cr_assert_eq(r[0].last, 0xfedfffff);
	fault_sys_reset(&e.fault);
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0xfed00000, (uintptr_t)e.ram, ENV_RAM_SIZE, &err),
		     -EINVAL);
	cr_assert_eq(count_calls(FAULT_IOCTL, VFIO_IOMMU_MAP_DMA, NULL), 0);
	cr_assert(strstr(err.msg, "[0xfed00000, 0xfeefffff]"), "the range: %s", err.msg);
	cr_assert(strstr(err.msg, "[0xfee00000, 0xfeefffff]"), "the hole: %s", err.msg);
	cr_assert_eq(vfio_ctx_dma_count(e.ctx, NULL), 2);
	detach(dev);

	/* Listed while no container exists: the attach that would map it fails. */
	cr_assert_eq(vfio_ctx_dma_add(e.ctx, 0xfee00000, (uintptr_t)e.ram, ENV_RAM_SIZE, &err), 0);
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", NULL, &dev, &err), -EINVAL);
	cr_assert(strstr(err.msg, "[0xfee00000, 0xfeefffff]"), "%s", err.msg);
	cr_assert_eq(kmodel_pinned_bytes(e.km), 0);
	cr_assert_eq(group(5).opened, false);
	cr_assert_eq(vfio_ctx_dma_remove(e.ctx, 0xfee00000, ENV_RAM_SIZE, &err), 0);
}

Test(vfio_ctx, iommufd_attach_and_teardown_order, .init = setup_iommufd, .fini = teardown)
{
	struct vfio_device *dev;
	int add, bind, att, devfd, kfd, ifd;
	const struct fault_call *l = e.fault.log;

	fault_sys_reset(&e.fault);
	dev = attach("0000:00:03.0");
	devfd = vfio_device_fd(dev);
	kfd = vfio_ctx_kvm_fd(e.ctx);
	ifd = vfio_ctx_container_fd(e.ctx);
	cr_assert_eq(vfio_device_group_fd(dev), -1, "no group node is opened");
	cr_assert_eq(count_calls(FAULT_OPEN, 0, "/dev/vfio/5"), 0);
	add = find_call(FAULT_IOCTL, KVM_SET_DEVICE_ATTR, kfd, 0);
	bind = find_call(FAULT_IOCTL, VFIO_DEVICE_BIND_IOMMUFD, devfd, 0);
	att = find_call(FAULT_IOCTL, VFIO_DEVICE_ATTACH_IOMMUFD_PT, devfd, 0);
	cr_assert(add >= 0 && bind > add, "kvm-vfio FILE_ADD of the cdev before BIND_IOMMUFD");
	cr_assert(att > bind);
	cr_assert_eq(kmodel_device_bound(e.km, "0000:00:03.0"), 1);
	cr_assert_eq(kmodel_kvm_vfio_files(e.km, e.vm_fd, devfd), 1);
	cr_assert_neq(vfio_ctx_ioas_id(e.ctx), 0);
	cr_assert_eq(maps(), 2);

	fault_sys_reset(&e.fault);
	detach(dev);
	cr_assert_geq(e.fault.nlog, 7, "%zu", e.fault.nlog);
	cr_assert(l[0].op == FAULT_IOCTL && l[0].req == VFIO_DEVICE_DETACH_IOMMUFD_PT &&
		  l[0].fd == devfd, "1: DETACH");
	cr_assert(l[1].op == FAULT_IOCTL && l[1].req == KVM_SET_DEVICE_ATTR && l[1].fd == kfd,
		  "2: FILE_DEL");
	cr_assert(l[2].op == FAULT_CLOSE && l[2].fd == devfd, "3: close the cdev");
	cr_assert(l[3].req == IOMMU_IOAS_UNMAP && l[4].req == IOMMU_IOAS_UNMAP);
	cr_assert(l[5].req == IOMMU_DESTROY);
	cr_assert(l[6].op == FAULT_CLOSE && l[6].fd == ifd, "the iommufd last");
	cr_assert_eq(kmodel_device_open_count(e.km, "0000:00:03.0"), 0);
	cr_assert_eq(kmodel_pinned_bytes(e.km), 0);
}

Test(vfio_ctx, iommufd_devices_share_one_ioas, .init = setup_iommufd, .fini = teardown)
{
	struct vfio_device *a = attach("0000:00:03.0"), *b;
	uint32_t ioas = vfio_ctx_ioas_id(e.ctx);

	fault_sys_reset(&e.fault);
	b = attach("0000:01:01.0");
	cr_assert_eq(vfio_ctx_ioas_id(e.ctx), ioas);
	cr_assert_eq(count_calls(FAULT_IOCTL, IOMMU_IOAS_MAP, NULL), 0, "RAM mapped once");
	cr_assert_eq(count_calls(FAULT_OPEN, 0, "/dev/iommu"), 0);
	detach(a);
	cr_assert_eq(maps(), 2);
	detach(b);
	cr_assert_eq(vfio_ctx_container_fd(e.ctx), -1);
}

Test(vfio_ctx, no_vm_no_kvm_vfio, .fini = teardown)
{
	struct kmodel_config cfg = kmodel_config_legacy();
	struct vfio_device *dev;

	env_init(&e, &cfg, VFIO_BACKEND_CONTAINER, false);
	fault_sys_record(&e.fault, true);
	dev = attach("0000:00:03.0");
	cr_assert_eq(count_calls(FAULT_IOCTL, KVM_CREATE_DEVICE, NULL), 0);
	cr_assert_eq(vfio_ctx_kvm_fd(e.ctx), -1);
	cr_assert_eq(vfio_ctx_free(e.ctx), -EBUSY, "a ctx with a device cannot be freed");
	detach(dev);
}

Test(vfio_ctx, attach_twice_is_refused, .init = setup_legacy, .fini = teardown)
{
	struct vfio_device *dev = attach("0000:00:03.0"), *again;
	struct vfio_err err = { 0 };

	cr_assert_eq(vfio_device_attach(e.ctx, "00:03.0", NULL, &again, &err), -EEXIST);
	cr_assert(strstr(err.msg, "0000:00:03.0 is already attached"), "%s", err.msg);
	detach(dev);
}

Test(vfio_ctx, iommufd_fd_as_the_container, .fini = teardown)
{
	struct kmodel_config cfg = kmodel_config_iommufd();
	struct vfio_device *a, *b;
	int setc, cfd;

	env_init(&e, &cfg, VFIO_BACKEND_IOMMUFD_COMPAT, true);
	env_add_ram(&e, 0);
	env_add_ram(&e, 0x100000000ULL);
	fault_sys_record(&e.fault, true);
	a = attach("0000:00:03.0");
	b = attach("0000:00:04.0");
	cfd = vfio_ctx_container_fd(e.ctx);
	cr_assert_eq(count_calls(FAULT_OPEN, 0, "/dev/iommu"), 1);
	cr_assert_eq(count_calls(FAULT_OPEN, 0, "/dev/vfio/vfio"), 0);
	setc = find_call(FAULT_IOCTL, VFIO_GROUP_SET_CONTAINER, -1, 0);
	cr_assert_geq(setc, 0);
	/* The groups are attached to the iommufd (seed 004's compat path). */
	cr_assert(group(5).iommufd && !group(5).container);
	cr_assert(group(6).iommufd);
	cr_assert_eq(count_calls(FAULT_IOCTL, VFIO_IOMMU_MAP_DMA, NULL), 2, "RAM mapped once");
	cr_assert_gt(kmodel_pinned_bytes(e.km), 0);
	(void)cfd;
	detach(a);
	detach(b);
	cr_assert_eq(kmodel_pinned_bytes(e.km), 0);
	cr_assert_eq(group(5).opened, false);
}

/* libvirt's way with iommufd: it opens /dev/iommu and the cdev and passes the fds. */
Test(vfio_ctx, preopened_iommufd_and_cdev, .fini = teardown)
{
	struct kmodel_config cfg = kmodel_config_iommufd();
	struct vfio_attach_opts opts = { .flags = VFIO_ATTACH_CDEV_FD };
	struct vfio_ctx_opts bad = { .backend = VFIO_BACKEND_CONTAINER, .vm_fd = -1,
				     .has_iommufd = true, .iommufd = 3 };
	struct vfio_sys *ms;
	struct vfio_device *dev;
	struct vfio_ctx *ctx;
	struct vfio_err err = { 0 };
	uint32_t ioas;
	int cdev_fd;

	env_init(&e, &cfg, VFIO_BACKEND_IOMMUFD, true);
	ms = kmodel_sys(e.km);
	env_preopen_iommufd(&e);
	env_add_ram(&e, 0);
	fault_sys_record(&e.fault, true);

	cdev_fd = env_open_cdev(&e, "0000:00:03.0");
	opts.cdev_fd = cdev_fd;
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", &opts, &dev, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(vfio_device_fd(dev), cdev_fd);
	cr_assert_eq(vfio_ctx_container_fd(e.ctx), e.iommufd);
	for (size_t i = 0; i < e.fault.nlog; i++)
		cr_assert(e.fault.log[i].op != FAULT_OPEN ||
			  strncmp(e.fault.log[i].path, "/dev/", 5), "opened %s",
			  e.fault.log[i].path);
	cr_assert_eq(kmodel_device_bound(e.km, "0000:00:03.0"), 1);
	cr_assert_eq(kmodel_mappings(e.km, e.iommufd, vfio_ctx_ioas_id(e.ctx), NULL, 0), 1);
	detach(dev);
	cr_assert_eq(kmodel_device_open_count(e.km, "0000:00:03.0"), 0, "detach closes the cdev");
	/* The iommufd is the caller's: still open and usable, the IOAS gone. */
	cr_assert_eq(vfio_iommufd_ioas_alloc(ms, e.iommufd, &ioas), 0);
	cr_assert_eq(vfio_iommufd_destroy(ms, e.iommufd, ioas), 0);

	/* A failed attach closes the passed cdev too. */
	cr_assert_eq(kmodel_hold_group(e.km, 5, 99, "qemu"), 0);
	opts.cdev_fd = env_open_cdev(&e, "0000:00:03.0");
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", &opts, &dev, &err), -EBUSY);
	cr_assert(strstr(err.msg, "group 5 is in use by process 99 (qemu)"), "%s", err.msg);
	cr_assert_eq(kmodel_device_open_count(e.km, "0000:00:03.0"), 0);
	cr_assert_eq(kmodel_release_group(e.km, 5), 0);

	/* Only the iommufd backend takes passed fds. */
	cr_assert_eq(vfio_ctx_new(e.sys, &bad, &ctx), -EINVAL);
}

Test(vfio_ctx, cdev_fd_needs_the_iommufd_backend, .init = setup_legacy, .fini = teardown)
{
	struct vfio_attach_opts opts = { .flags = VFIO_ATTACH_CDEV_FD };
	struct vfio_device *dev;
	struct vfio_err err = { 0 };
	int before;

	/* Refused before it is used: any fd shows that it is closed all the same. */
	opts.cdev_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert_geq(opts.cdev_fd, 0);
	before = env_count_fds();
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", &opts, &dev, &err), -EINVAL);
	cr_assert(strstr(err.msg, "iommufd backend"), "%s", err.msg);
	cr_assert_eq(env_count_fds(), before - 1, "the passed fd is closed");
	opts.flags = 1u << 7;
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:00:03.0", &opts, &dev, &err), -EINVAL);
	cr_assert(strstr(err.msg, "unknown attach flags 0x80"), "%s", err.msg);
}
