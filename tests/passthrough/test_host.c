// SPDX-License-Identifier: GPL-2.0-only
/*
 * The passthrough host and device on the kernel model: the RAM listener
 * feeding the VM's one vfio_ctx, the attach with its reset, the release that
 * lets the group be opened again, and what a person is told on failure with
 * nothing left behind.  The fault injector records every call between
 * vfio/ and the model.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "pt_fixture.h"

#define RAM_SIZE	PT_RAM_SIZE
#define HIGH_GPA	0x100000000ULL
#define BAR_GPA		0xe0000000ULL

static struct pt_fixture t;

/*
 * 00:05.0 stays on a host driver; 01:02.0 too, so group 7 is not viable.
 * 02:00.0 is alone on its bus: the only one the model (like vfio-pci) can
 * reset.
 */
static const struct pt_fixture_dev devs[] = {
	{ "0000:00:03.0", 0x1234, 0x11e8, 5, "vfio-pci" },
	{ "0000:00:04.0", 0x1234, 0x11e8, 6, "vfio-pci" },
	{ "0000:00:05.0", 0x1234, 0x11e8, 8, "e1000e" },
	{ "0000:01:01.0", 0x1234, 0x11e8, 7, "vfio-pci" },
	{ "0000:01:02.0", 0x1234, 0x11e8, 7, "e1000e" },
	{ "0000:02:00.0", 0x1234, 0x11e8, 9, "vfio-pci" },
};

/*
 * Two RAM buffers, the first at GPA 0 (the second is for a test to add at
 * HIGH_GPA), and device memory in the map (a BAR's mmap): never DMA-mapped.
 */
static void setup_with(struct kmodel_config kcfg)
{
	struct mem_region bar = { .gpa = BAR_GPA, .size = 4096, .fd = -1, .flags = 0 };
	struct pt_fixture_config c = {
		.kernel = kcfg,
		PT_FIXTURE_DEVS(devs),
		.ram_buffers = 2,
	};

	pt_fixture_setup(&t, &c);
	bar.hva = t.ram;
	cr_assert_eq(mem_map_add(t.map, &bar), 0);
}

static void setup(void)
{
	setup_with(kmodel_config_legacy());
}

static void teardown(void)
{
	pt_fixture_teardown(&t);
}

static void host_new(void)
{
	pt_fixture_host_new(&t);
}

static struct passthrough_device *add(const char *spec)
{
	return pt_fixture_add_ok(&t, spec);
}

static int add_fails(const char *spec)
{
	struct passthrough_device *dev;
	int ret = pt_fixture_add(&t, spec, &dev);

	cr_assert_neq(ret, 0, "add %s succeeded", spec);
	cr_assert_null(dev);
	return ret;
}

static int container_maps(struct kmodel_mapping *m, size_t max)
{
	int fd = vfio_ctx_container_fd(passthrough_host_ctx(t.host));

	cr_assert_geq(fd, 0, "no container");
	return kmodel_mappings(t.km, fd, 0, m, max);
}

static bool group_opens_again(unsigned int group)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/vfio/%u", group);
	fd = t.ms->open(t.ms, path, O_RDWR);
	if (fd < 0)
		return false;
	t.ms->close(t.ms, fd);
	return true;
}

TestSuite(host, .init = setup, .fini = teardown);

Test(host, the_ram_of_the_map_is_listed_and_nothing_is_opened)
{
	uint64_t bytes;

	host_new();
	/* The RAM region only: the BAR-like region is not DMA. */
	cr_expect_eq(vfio_ctx_dma_count(passthrough_host_ctx(t.host), &bytes), 1);
	cr_expect_eq(bytes, RAM_SIZE);
	cr_expect_eq(kmodel_live_fds(t.km), t.base_fds, "a host without devices opened files");
	cr_expect_eq(passthrough_host_device_count(t.host), 0);
}

Test(host, ram_is_mapped_once_for_every_device)
{
	struct kmodel_mapping m[4];
	int cfd;

	host_new();
	add("passthrough,host=0000:00:03.0,id=a");
	cr_assert_eq(container_maps(m, 4), 1);
	cr_expect_eq(m[0].iova, 0);
	cr_expect_eq(m[0].size, RAM_SIZE);
	cr_expect_eq(m[0].vaddr, (uint64_t)(uintptr_t)t.ram);
	cfd = vfio_ctx_container_fd(passthrough_host_ctx(t.host));

	/* A second group joins the same container: no second mapping. */
	add("vfio-pci,host=00:04.0,id=b");
	cr_expect_eq(vfio_ctx_container_fd(passthrough_host_ctx(t.host)), cfd);
	cr_expect_eq(container_maps(m, 4), 1);
	cr_expect_eq(kmodel_pinned_bytes(t.km), RAM_SIZE);
	cr_expect_eq(passthrough_host_device_count(t.host), 2);
	cr_expect_eq(kmodel_device_kvm(t.km, "0000:00:03.0"), 1, "no KVM for the device");
}

Test(host, ram_added_and_removed_later_follows_into_the_container)
{
	struct mem_region r = { .gpa = HIGH_GPA, .size = RAM_SIZE, .fd = -1,
				.flags = MEM_REGION_RAM };
	struct kmodel_mapping m[4];

	host_new();
	add("passthrough,host=0000:00:03.0");
	r.hva = t.ram + RAM_SIZE;
	cr_assert_eq(mem_map_add(t.map, &r), 0);
	cr_assert_eq(container_maps(m, 4), 2);
	cr_expect_eq(m[1].iova, HIGH_GPA);
	cr_expect_eq(m[1].vaddr, (uint64_t)(uintptr_t)(t.ram + RAM_SIZE));
	cr_assert_eq(mem_map_del(t.map, HIGH_GPA), 0);
	cr_expect_eq(container_maps(m, 4), 1);
	cr_expect_eq(m[0].iova, 0);
}

static int count_resets(struct passthrough_device *dev)
{
	int resets = 0, devfd = vfio_device_fd(passthrough_device_vfio(dev));

	for (size_t i = 0; i < t.fault.nlog; i++) {
		if (t.fault.log[i].op == FAULT_IOCTL && t.fault.log[i].req == VFIO_DEVICE_RESET &&
		    t.fault.log[i].fd == devfd)
			resets++;
	}
	return resets;
}

Test(host, the_device_is_reset_when_added)
{
	struct passthrough_device *dev;

	host_new();
	fault_sys_record(&t.fault, true);
	dev = add("passthrough,host=0000:02:00.0");
	cr_expect_eq(count_resets(dev), 1);
}

Test(host, a_device_without_reset_is_added_as_it_is)
{
	struct passthrough_device *dev;

	host_new();
	fault_sys_record(&t.fault, true);
	/* On the root bus with others: no function, slot or bus reset (as the lab's edu). */
	dev = add("passthrough,host=0000:00:03.0");
	cr_expect_eq(count_resets(dev), 0);
}

Test(host, a_failed_reset_leaves_nothing)
{
	host_new();
	fault_sys_arm_ioctl(&t.fault, VFIO_DEVICE_RESET, 1, EIO);
	cr_expect_eq(add_fails("passthrough,host=0000:02:00.0"), -EIO);
	cr_expect(strstr(t.err, "0000:02:00.0") && strstr(t.err, "reset"), "%s", t.err);
	fault_sys_disarm(&t.fault);
	cr_expect_eq(kmodel_live_fds(t.km), t.base_fds + 1, "more than kvm-vfio left open");
	cr_expect(group_opens_again(9));
	cr_expect_eq(kmodel_pinned_bytes(t.km), 0);
}

Test(host, removal_lets_the_group_be_opened_again_at_once)
{
	struct passthrough_device *a, *b;
	struct kmodel_group_state st;

	host_new();
	a = add("passthrough,host=0000:00:03.0,id=a");
	b = add("passthrough,host=0000:00:04.0,id=b");
	cr_expect_not(group_opens_again(5));
	cr_assert_eq(passthrough_device_remove(a, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_assert_eq(kmodel_group_state(t.km, 5, &st), 0);
	cr_expect_not(st.opened);
	cr_expect_eq(st.kvm_refs, 0);
	cr_expect(group_opens_again(5));
	cr_expect_null(passthrough_host_find(t.host, "a"));
	cr_expect_eq(passthrough_host_find(t.host, "b"), b);
	/* pass_host_free (in teardown) removes b; check it here too. */
	passthrough_host_free(t.host);
	t.host = NULL;
	cr_expect(group_opens_again(6));
	/* The kvm-vfio device goes with the ctx: only the test's own fds remain. */
	cr_expect_eq(kmodel_live_fds(t.km), t.base_fds);
	cr_expect_eq(kmodel_pinned_bytes(t.km), 0);
}

Test(host, a_new_container_is_filled_with_the_ram)
{
	struct passthrough_device *a;
	struct kmodel_mapping m[4];

	host_new();
	a = add("passthrough,host=0000:00:03.0");
	cr_assert_eq(passthrough_device_remove(a, NULL, 0), 0);
	cr_expect_eq(vfio_ctx_container_fd(passthrough_host_ctx(t.host)), -1);
	/* Re-added (hot-plug after unplug): its new container has the RAM again. */
	add("passthrough,host=0000:00:03.0");
	cr_assert_eq(container_maps(m, 4), 1);
	cr_expect_eq(m[0].iova, 0);
}

Test(host, ids_and_host_devices_are_unique)
{
	host_new();
	add("passthrough,host=0000:00:03.0,id=nic");
	cr_expect_eq(add_fails("passthrough,host=0000:00:04.0,id=nic"), -EEXIST);
	cr_expect(strstr(t.err, "id 'nic' is already used"), "%s", t.err);
	cr_expect_eq(add_fails("passthrough,host=0000:00:03.0,id=other"), -EBUSY);
	cr_expect(strstr(t.err, "already passed through as nic"), "%s", t.err);
	cr_expect_eq(passthrough_host_device_count(t.host), 1);
}

Test(host, not_bound_to_vfio_pci)
{
	host_new();
	add_fails("passthrough,host=0000:00:05.0");
	cr_expect(strstr(t.err, "bound to driver e1000e, not vfio-pci"), "%s", t.err);
	cr_expect(strstr(t.err, "driver_override"), "%s", t.err);
	cr_expect_eq(kmodel_live_fds(t.km), t.base_fds);
}

Test(host, group_not_viable)
{
	host_new();
	add_fails("passthrough,host=0000:01:01.0");
	cr_expect(strstr(t.err, "IOMMU group 7 is not viable"), "%s", t.err);
	cr_expect(strstr(t.err, "0000:01:02.0: e1000e"), "%s", t.err);
	/* The kvm-vfio device a failed attach made may stay; nothing else. */
	cr_expect_leq(kmodel_live_fds(t.km), t.base_fds + 1);
	cr_expect(group_opens_again(7));
}

Test(host, group_busy_names_the_process)
{
	host_new();
	cr_assert_eq(kmodel_hold_group(t.km, 5, 4242, "qemu-system-x86"), 0);
	add_fails("passthrough,host=0000:00:03.0");
	cr_expect(strstr(t.err, "in use by process 4242 (qemu-system-x86)"), "%s", t.err);
	cr_assert_eq(kmodel_release_group(t.km, 5), 0);
	/* Once the other process lets go, the same host adds it. */
	add("passthrough,host=0000:00:03.0");
}

Test(host, memlock_too_small_says_how_much)
{
	kmodel_set_memlock(t.km, 1 << 20);
	host_new();
	add_fails("passthrough,host=0000:00:03.0");
	cr_expect(strstr(t.err, "RLIMIT_MEMLOCK") || strstr(t.err, "memlock"), "%s", t.err);
	cr_expect_eq(kmodel_pinned_bytes(t.km), 0);
	cr_expect(group_opens_again(5));
}

Test(host, the_compat_backend_on_an_iommufd_kernel)
{
	struct kmodel_mapping m[4];

	teardown();
	setup_with(kmodel_config_iommufd());
	t.cfg.backend = VFIO_BACKEND_IOMMUFD_COMPAT;
	host_new();
	add("passthrough,host=0000:00:03.0");
	cr_assert_eq(container_maps(m, 4), 1);
	cr_expect_eq(m[0].size, RAM_SIZE);
}

Test(host, the_default_backend_is_a_container_not_the_cdev_path)
{
	/* The cdev path is chosen per device, with iommufd=, never as the default. */
	t.cfg.backend = VFIO_BACKEND_IOMMUFD;
	cr_expect_eq(passthrough_host_new(&t.cfg, &t.host, t.err, sizeof(t.err)), -EINVAL);
	cr_expect_null(t.host);
}

/* ---- -object iommufd: the cdev path, one IOAS per object ---- */

static void setup_iommufd_kernel(const struct passthrough_iommufd *objs, size_t n)
{
	teardown();
	setup_with(kmodel_config_iommufd());
	t.cfg.iommufds = objs;
	t.cfg.nr_iommufds = n;
}

/* The IOAS mappings of iommufd object @id. */
static int ioas_maps(const char *id, struct kmodel_mapping *m, size_t max)
{
	struct vfio_ctx *ctx = passthrough_host_iommufd_ctx(t.host, id);

	cr_assert_not_null(ctx, "no iommufd object %s", id);
	cr_assert_neq(vfio_ctx_ioas_id(ctx), 0, "object %s has no IOAS", id);
	return kmodel_mappings(t.km, vfio_ctx_container_fd(ctx), vfio_ctx_ioas_id(ctx), m, max);
}

static const struct passthrough_iommufd one_obj[] = { { .id = "ifd0" } };
static const struct passthrough_iommufd two_objs[] = { { .id = "ifd0" }, { .id = "ifd1" } };

Test(host, iommufd_object_attaches_the_cdev_to_its_ioas)
{
	struct passthrough_device *d;
	struct kmodel_group_state st;
	struct kmodel_mapping m[4];
	uint32_t pt = 0;

	setup_iommufd_kernel(one_obj, 1);
	host_new();
	/* Nothing is opened before the object's first device. */
	cr_expect_eq(kmodel_live_fds(t.km), t.base_fds);
	d = add("vfio-pci,host=0000:00:03.0,iommufd=ifd0,id=a");
	cr_assert_eq(ioas_maps("ifd0", m, 4), 1);
	cr_expect_eq(m[0].iova, 0);
	cr_expect_eq(m[0].size, RAM_SIZE);
	cr_expect_eq(m[0].vaddr, (uint64_t)(uintptr_t)t.ram);
	cr_expect_eq(kmodel_device_bound(t.km, "0000:00:03.0"), 1, "cdev not bound");
	cr_assert_eq(kmodel_device_attached_pt(t.km, "0000:00:03.0", &pt), 0);
	cr_expect_eq(pt, vfio_ctx_ioas_id(passthrough_host_iommufd_ctx(t.host, "ifd0")));
	cr_expect_eq(kmodel_device_kvm(t.km, "0000:00:03.0"), 1, "cdev not in kvm-vfio at bind");
	/* The cdev path: no group node, no container. */
	cr_expect_eq(vfio_device_group_fd(passthrough_device_vfio(d)), -1);
	cr_assert_eq(kmodel_group_state(t.km, 5, &st), 0);
	cr_expect_not(st.opened);
	cr_expect_eq(st.cdev_bound, 1);
	cr_expect_eq(vfio_ctx_container_fd(passthrough_host_ctx(t.host)), -1);

	cr_assert_eq(passthrough_device_remove(d, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_expect_eq(kmodel_pinned_bytes(t.km), 0);
	cr_expect(group_opens_again(5), "the group stays blocked after the cdev went");
}

Test(host, two_devices_of_one_object_share_its_ioas)
{
	struct kmodel_mapping m[4];
	uint32_t pa = 0, pb = 0;

	setup_iommufd_kernel(one_obj, 1);
	host_new();
	add("vfio-pci,host=0000:00:03.0,iommufd=ifd0");
	add("vfio-pci,host=0000:00:04.0,iommufd=ifd0");
	cr_assert_eq(kmodel_device_attached_pt(t.km, "0000:00:03.0", &pa), 0);
	cr_assert_eq(kmodel_device_attached_pt(t.km, "0000:00:04.0", &pb), 0);
	cr_expect_eq(pa, pb, "two IOAS for one object");
	cr_expect_eq(ioas_maps("ifd0", m, 4), 1);
	cr_expect_eq(kmodel_pinned_bytes(t.km), RAM_SIZE, "RAM pinned more than once");
}

Test(host, two_objects_get_two_ioas_each_with_all_ram)
{
	struct kmodel_mapping m[4];
	uint32_t pa = 0, pb = 0;

	setup_iommufd_kernel(two_objs, 2);
	host_new();
	add("vfio-pci,host=0000:00:03.0,iommufd=ifd0");
	add("vfio-pci,host=0000:00:04.0,iommufd=ifd1");
	cr_assert_eq(kmodel_device_attached_pt(t.km, "0000:00:03.0", &pa), 0);
	cr_assert_eq(kmodel_device_attached_pt(t.km, "0000:00:04.0", &pb), 0);
	cr_expect_neq(vfio_ctx_container_fd(passthrough_host_iommufd_ctx(t.host, "ifd0")),
		      vfio_ctx_container_fd(passthrough_host_iommufd_ctx(t.host, "ifd1")));
	cr_expect_eq(ioas_maps("ifd0", m, 4), 1);
	cr_expect_eq(ioas_maps("ifd1", m, 4), 1);
	/* One kvm-vfio device for the VM, both cdevs in it. */
	cr_expect_eq(kmodel_device_kvm(t.km, "0000:00:03.0"), 1);
	cr_expect_eq(kmodel_device_kvm(t.km, "0000:00:04.0"), 1);
	cr_expect_eq(kmodel_kvm_vfio_files(t.km, t.vm_fd, -1), 2);
}

Test(host, a_vm_mixes_the_container_and_an_iommufd)
{
	struct kmodel_mapping m[4];
	uint32_t pt = 0;

	setup_iommufd_kernel(one_obj, 1);
	host_new();
	/* Either order: the second ctx borrows the kvm-vfio device of the first. */
	add("vfio-pci,host=0000:00:04.0,iommufd=ifd0");
	add("vfio-pci,host=0000:00:03.0");
	cr_expect_eq(container_maps(m, 4), 1);
	cr_expect_eq(ioas_maps("ifd0", m, 4), 1);
	cr_assert_eq(kmodel_device_attached_pt(t.km, "0000:00:04.0", &pt), 0);
	cr_expect_neq(pt, 0);
	cr_expect_eq(kmodel_device_kvm(t.km, "0000:00:03.0"), 1, "group not in kvm-vfio");
	cr_expect_eq(kmodel_device_kvm(t.km, "0000:00:04.0"), 1, "cdev not in kvm-vfio");
	cr_expect_eq(kmodel_kvm_vfio_files(t.km, t.vm_fd, -1), 2);
	cr_expect_eq(vfio_ctx_kvm_fd(passthrough_host_ctx(t.host)),
		     vfio_ctx_kvm_fd(passthrough_host_iommufd_ctx(t.host, "ifd0")));
}

Test(host, one_group_cannot_be_split_between_container_and_iommufd)
{
	setup_iommufd_kernel(one_obj, 1);
	/* Group 7: 01:01.0 and 01:02.0, both on vfio-pci here. */
	cr_assert_eq(kmodel_bind(t.km, "0000:01:02.0", NULL), 0);
	cr_assert_eq(kmodel_bind(t.km, "0000:01:02.0", "vfio-pci"), 0);
	host_new();
	add("vfio-pci,host=0000:01:01.0,id=first");
	cr_expect_eq(add_fails("vfio-pci,host=0000:01:02.0,iommufd=ifd0"), -EBUSY);
	cr_expect(strstr(t.err, "IOMMU group 7 is already used by 0000:01:01.0 as first through "
			 "the VM's VFIO container"), "%s", t.err);
	cr_expect(strstr(t.err, "same iommufd="), "%s", t.err);
	/* Both through the object is fine. */
	passthrough_host_free(t.host);
	host_new();
	add("vfio-pci,host=0000:01:01.0,iommufd=ifd0");
	add("vfio-pci,host=0000:01:02.0,iommufd=ifd0");
	cr_expect_eq(passthrough_host_device_count(t.host), 2);
}

Test(host, a_group_not_viable_is_named_on_the_cdev_path_too)
{
	setup_iommufd_kernel(one_obj, 1);
	host_new();
	/* Group 7: 01:02.0 stays on e1000e.  The cdev path has no GET_STATUS. */
	add_fails("vfio-pci,host=0000:01:01.0,iommufd=ifd0");
	cr_expect(strstr(t.err, "IOMMU group 7 is not viable"), "%s", t.err);
	cr_expect(strstr(t.err, "0000:01:02.0: e1000e"), "%s", t.err);
	cr_expect_leq(kmodel_live_fds(t.km), t.base_fds + 1);
	cr_expect(group_opens_again(7));
}

Test(host, an_unknown_object_says_which_to_add)
{
	setup_iommufd_kernel(one_obj, 1);
	host_new();
	cr_expect_eq(add_fails("vfio-pci,host=0000:00:03.0,iommufd=other"), -ENOENT);
	cr_expect(strstr(t.err, "iommufd=other names no iommufd object: add -object "
			 "iommufd,id=other"), "%s", t.err);
	cr_expect_eq(kmodel_live_fds(t.km), t.base_fds);
}

Test(host, a_kernel_without_iommufd_says_so)
{
	/* Debian's 6.1: no /dev/iommu. */
	t.cfg.iommufds = one_obj;
	t.cfg.nr_iommufds = 1;
	host_new();
	add_fails("vfio-pci,host=0000:00:03.0,iommufd=ifd0");
	cr_expect(strstr(t.err, "/dev/iommu does not exist"), "%s", t.err);
	cr_expect(strstr(t.err, "CONFIG_IOMMUFD"), "%s", t.err);
	cr_expect(strstr(t.err, "Drop iommufd=ifd0 to use the VM's VFIO container"), "%s", t.err);
	cr_expect_not(strstr(t.err, "backend"), "%s", t.err);
	cr_expect_leq(kmodel_live_fds(t.km), t.base_fds + 1);
	cr_expect(group_opens_again(5));
	/* The container still works in the same VM. */
	add("vfio-pci,host=0000:00:03.0");
}

Test(host, a_preopened_iommufd_is_used_and_left_open)
{
	struct passthrough_iommufd obj = { .id = "ifd0", .has_fd = true };
	uint32_t ioas;

	setup_iommufd_kernel(NULL, 0);
	obj.fd = t.ms->open(t.ms, "/dev/iommu", O_RDWR);
	cr_assert_geq(obj.fd, 0);
	t.cfg.iommufds = &obj;
	t.cfg.nr_iommufds = 1;
	host_new();
	add("vfio-pci,host=0000:00:03.0,iommufd=ifd0");
	cr_expect_eq(vfio_ctx_container_fd(passthrough_host_iommufd_ctx(t.host, "ifd0")), obj.fd);
	passthrough_host_free(t.host);
	t.host = NULL;
	/* Still open and usable: the caller's. */
	cr_expect_eq(vfio_iommufd_ioas_alloc(t.ms, obj.fd, &ioas), 0);
	t.ms->close(t.ms, obj.fd);
}

Test(host, objects_are_copied_and_ids_unique)
{
	struct passthrough_iommufd objs[2] = { { .id = NULL }, { .id = "b" } };
	char id[8] = "a";

	objs[0].id = id;
	setup_iommufd_kernel(objs, 2);
	host_new();
	id[0] = 'z';
	cr_expect_not_null(passthrough_host_iommufd_ctx(t.host, "a"));
	cr_expect_null(passthrough_host_iommufd_ctx(t.host, "z"));
	passthrough_host_free(t.host);
	t.host = NULL;
	objs[0].id = "b";
	cr_expect_eq(passthrough_host_new(&t.cfg, &t.host, t.err, sizeof(t.err)), -EEXIST);
	cr_expect(strstr(t.err, "id=b: the id is used twice"), "%s", t.err);
	cr_expect_null(t.host);
}

/* ---- The guest PCI function: config space and BARs ---- */

#define MAX_TRAPS 8

static struct {
	struct {
		enum passthrough_space space;
		uint64_t base, len;
		struct passthrough_bar *bar;
	} trap[MAX_TRAPS];
	int nr;
	int defers;
	int defer_ret;		/* what vm_defer answers: -EPERM unless a test says */
} vm;

static int vm_trap_add(void *opaque, enum passthrough_space space, uint64_t base, uint64_t len,
		       struct passthrough_bar *bar)
{
	cr_assert_eq(opaque, &vm);
	for (int i = 0; i < vm.nr; i++) {
		if (vm.trap[i].space == space && base < vm.trap[i].base + vm.trap[i].len &&
		    vm.trap[i].base < base + len)
			return -EEXIST;
	}
	cr_assert_lt(vm.nr, MAX_TRAPS);
	vm.trap[vm.nr].space = space;
	vm.trap[vm.nr].base = base;
	vm.trap[vm.nr].len = len;
	vm.trap[vm.nr].bar = bar;
	vm.nr++;
	return 0;
}

static int vm_trap_del(void *opaque, enum passthrough_space space, uint64_t base)
{
	for (int i = 0; i < vm.nr; i++) {
		if (vm.trap[i].space == space && vm.trap[i].base == base) {
			vm.trap[i] = vm.trap[--vm.nr];
			return 0;
		}
	}
	cr_assert_fail("trap_del of 0x%llx, which is not trapped", (unsigned long long)base);
	return -ENOENT;
}

/* Not inside a guest access here (-EPERM): the layer must run the move itself. */
static int vm_defer(void *opaque, void (*fn)(void *arg), void *arg)
{
	vm.defers++;
	return vm.defer_ret;
}

static const struct passthrough_vm_ops vm_ops = {
	.trap_add = vm_trap_add,
	.trap_del = vm_trap_del,
	.defer = vm_defer,
};

static void pci_setup(void)
{
	setup();
	memset(&vm, 0, sizeof(vm));
	vm.defer_ret = -EPERM;
	t.cfg.ops = &vm_ops;
	t.cfg.vm = &vm;
}

TestSuite(pci, .init = pci_setup, .fini = teardown);

static uint32_t rd(struct passthrough_device *d, unsigned int off, unsigned int len)
{
	return passthrough_device_cfg_read(d, off, len);
}

static void wr(struct passthrough_device *d, unsigned int off, unsigned int len, uint32_t v)
{
	passthrough_device_cfg_write(d, off, len, v);
}

/* The device's own config space, bypassing the virtualisation. */
static uint32_t raw(struct passthrough_device *d, unsigned int off)
{
	struct vfio_region r;
	int fd = vfio_device_fd(passthrough_device_vfio(d));
	uint32_t v = 0;

	cr_assert_eq(vfio_devfd_get_region(t.ms, fd, VFIO_PCI_CONFIG_REGION_INDEX, &r), 0);
	cr_assert_eq(vfio_devfd_region_read(t.ms, fd, &r, off, &v, 4), 0);
	vfio_region_release(&r);
	return v;
}

Test(pci, ids_and_header_are_the_devices)
{
	struct passthrough_device *d;

	host_new();
	d = add("passthrough,host=0000:00:03.0,addr=4");
	cr_expect_eq(passthrough_device_slot(d), 4);
	cr_expect_eq(rd(d, 0, 4), 0x11e81234);
	cr_expect_eq(rd(d, 2, 2), 0x11e8);
	cr_expect_eq(rd(d, 0x08, 4), 0xff000010, "class/revision %08x", rd(d, 0x08, 4));
	cr_expect_eq(rd(d, 0x0e, 1), 0);
	cr_expect_eq(rd(d, 0x3d, 1), 1, "INTA#");
	/* Writes to read-only ids change nothing. */
	wr(d, 0, 4, 0xdeadbeef);
	cr_expect_eq(rd(d, 0, 4), 0x11e81234);
	/* No ROM, no extended space. */
	cr_expect_eq(rd(d, 0x30, 4), 0);
	cr_expect_eq(rd(d, 0x100, 4), 0);
}

Test(pci, bars_are_sized_by_the_guest)
{
	struct passthrough_device *d;

	host_new();
	d = add("passthrough,host=0000:00:03.0");
	cr_expect_eq(rd(d, 0x10, 4), 0, "BAR0 starts unplaced");
	wr(d, 0x10, 4, 0xffffffff);
	cr_expect_eq(rd(d, 0x10, 4), 0xfff00000, "1 MiB, 32-bit memory: %08x", rd(d, 0x10, 4));
	for (unsigned int off = 0x14; off < 0x28; off += 4) {
		wr(d, off, 4, 0xffffffff);
		cr_expect_eq(rd(d, off, 4), 0, "unimplemented BAR at 0x%x", off);
	}
	/* Byte writes land in their byte, within the size's alignment. */
	wr(d, 0x10, 4, 0);
	wr(d, 0x13, 1, 0xfe);
	wr(d, 0x12, 1, 0x5f);
	cr_expect_eq(rd(d, 0x10, 4), 0xfe500000);
	/* The guest's address never reaches the device. */
	cr_expect_eq(raw(d, 0x10), 0xfea00000);
	cr_expect_eq(vm.nr, 0, "decoding is off: nothing may be trapped");
}

Test(pci, a_placed_bar_is_trapped_and_mapped_and_follows_the_guest)
{
	struct passthrough_device *d;
	uint32_t *p;

	host_new();
	d = add("passthrough,host=0000:00:03.0");
	wr(d, 0x10, 4, 0xfe000000);
	cr_expect_eq(vm.nr, 0);
	wr(d, 0x04, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vm.nr, 1);
	cr_expect_eq(vm.trap[0].space, PASSTHROUGH_MMIO);
	cr_expect_eq(vm.trap[0].base, 0xfe000000);
	cr_expect_eq(vm.trap[0].len, 1 << 20);
	cr_expect_gt(vm.defers, 0, "the move was not offered to the VM first");
	/* The mmap is in the guest's memory map: the CPU reads the device directly. */
	p = mem_map_gpa_to_hva(t.map, 0xfe000000, 4);
	cr_assert_not_null(p);
	cr_expect_eq(*p, 0x010000ed);
	cr_expect_eq(rd(d, 0x04, 2) & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);
	cr_expect_eq(raw(d, 0x04) & 0xffff, PCI_COMMAND_MEMORY, "COMMAND reached the device");

	/* Moved while decoding: the trap and the mapping move with it. */
	wr(d, 0x10, 4, 0xfd000000);
	cr_assert_eq(vm.nr, 1);
	cr_expect_eq(vm.trap[0].base, 0xfd000000);
	cr_expect_null(mem_map_gpa_to_hva(t.map, 0xfe000000, 4));
	cr_expect_not_null(mem_map_gpa_to_hva(t.map, 0xfd000000, 4));

	/* Decoding off: gone from the guest. */
	wr(d, 0x04, 2, PCI_COMMAND_MASTER);
	cr_expect_eq(vm.nr, 0);
	cr_expect_null(mem_map_gpa_to_hva(t.map, 0xfd000000, 4));
	cr_expect_eq(raw(d, 0x04) & 0xffff, PCI_COMMAND_MASTER);
}

/*
 * Inside a guest access the VM's bus is locked for reading, so a move whose
 * deferral fails must not run there (adding a trap would wait for that
 * lock): the BAR stays put, and the guest's next write moves it.
 */
Test(pci, a_move_that_cannot_be_deferred_waits_for_the_next_write)
{
	struct passthrough_device *d;

	host_new();
	d = add("passthrough,host=0000:00:03.0");
	wr(d, 0x10, 4, 0xfe000000);
	vm.defer_ret = -ENOSPC;
	wr(d, 0x04, 2, PCI_COMMAND_MEMORY);
	cr_expect_eq(vm.defers, 1);
	cr_expect_eq(vm.nr, 0, "the move ran inline inside a guest access");
	cr_expect_null(mem_map_gpa_to_hva(t.map, 0xfe000000, 4));
	vm.defer_ret = -EPERM;
	wr(d, 0x04, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vm.nr, 1, "the next write did not move the BAR");
	cr_expect_eq(vm.trap[0].base, 0xfe000000);
}

Test(pci, trapped_accesses_reach_the_device)
{
	struct passthrough_device *d;
	uint32_t v = 0, w = 0x12345678, *p;

	host_new();
	d = add("passthrough,host=0000:00:03.0");
	wr(d, 0x10, 4, 0xfe000000);
	wr(d, 0x04, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vm.nr, 1);
	passthrough_bar_access(vm.trap[0].bar, 0, &v, 4, false);
	cr_expect_eq(v, 0x010000ed);
	passthrough_bar_access(vm.trap[0].bar, 0x40, &w, 4, true);
	p = mem_map_gpa_to_hva(t.map, 0xfe000040, 4);
	cr_assert_not_null(p);
	cr_expect_eq(*p, 0x12345678, "the write and the mmap disagree");
	/* Past the end of the BAR: all ones, as a bus abort. */
	passthrough_bar_access(vm.trap[0].bar, 2 << 20, &v, 4, false);
	cr_expect_eq(v, 0xffffffff);
}

Test(pci, two_devices_cannot_share_an_address)
{
	struct passthrough_device *a, *b;

	host_new();
	a = add("passthrough,host=0000:00:03.0");
	b = add("passthrough,host=0000:00:04.0");
	wr(a, 0x10, 4, 0xfe000000);
	wr(a, 0x04, 2, PCI_COMMAND_MEMORY);
	wr(b, 0x10, 4, 0xfe000000);
	wr(b, 0x04, 2, PCI_COMMAND_MEMORY);
	cr_expect_eq(vm.nr, 1, "the second BAR was trapped over the first");
	/* Moved elsewhere, it appears. */
	wr(b, 0x10, 4, 0xfc000000);
	cr_expect_eq(vm.nr, 2);
}

Test(pci, capability_list_shows_msi_and_msix)
{
	struct passthrough_device *d;

	cr_assert_eq(kmodel_device_set_msix(t.km, "0000:00:04.0", 4, 2, 0), 0);
	host_new();
	d = add("passthrough,host=0000:00:03.0");
	cr_expect_eq(rd(d, 0x06, 2) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
	cr_expect_eq(rd(d, 0x34, 1), 0x40);
	cr_expect_eq(rd(d, 0x40, 2), 0x0005, "MSI, end of list: %04x", rd(d, 0x40, 2));
	d = add("passthrough,host=0000:00:04.0");
	cr_expect_eq(rd(d, 0x34, 1), 0x40);
	cr_expect_eq(rd(d, 0x40, 2), 0x5005, "MSI then 0x50: %04x", rd(d, 0x40, 2));
	cr_expect_eq(rd(d, 0x50, 2), 0x0011, "MSI-X, end of list: %04x", rd(d, 0x50, 2));
	/* Past the kept capabilities: nothing. */
	cr_expect_eq(rd(d, 0x80, 4), 0);
	/* The 64-bit BAR 2 of the MSI-X table: sized as a pair. */
	wr(d, 0x18, 4, 0xffffffff);
	wr(d, 0x1c, 4, 0xffffffff);
	cr_expect_eq(rd(d, 0x18, 4), 0xffffc004, "BAR2 low %08x", rd(d, 0x18, 4));
	cr_expect_eq(rd(d, 0x1c, 4), 0xffffffff);
}

Test(pci, removal_takes_the_bars_out_of_the_guest)
{
	struct passthrough_device *d;

	host_new();
	d = add("passthrough,host=0000:00:03.0");
	wr(d, 0x10, 4, 0xfe000000);
	wr(d, 0x04, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vm.nr, 1);
	cr_assert_eq(passthrough_device_remove(d, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_expect_eq(vm.nr, 0);
	cr_expect_null(mem_map_gpa_to_hva(t.map, 0xfe000000, 4));
	cr_expect(group_opens_again(5));
}
