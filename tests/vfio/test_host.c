// SPDX-License-Identifier: GPL-2.0-only
/* Host discovery in the model's sysfs/procfs, and device-fd wrappers on a real device fd. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "env.h"

static struct env e;

static void setup(void)
{
	struct kmodel_config cfg = kmodel_config_iommufd();

	env_init(&e, &cfg, VFIO_BACKEND_CONTAINER, true);
	env_add_ram(&e, 0);
}

static void teardown(void)
{
	env_fini(&e);
}

static struct vfio_bdf bdf(const char *s)
{
	struct vfio_bdf b;

	cr_assert_eq(vfio_bdf_parse(s, &b, NULL), 0);
	return b;
}

Test(vfio_host, sysfs, .init = setup, .fini = teardown)
{
	struct vfio_bdf a = bdf("0000:00:03.0"), out[4];
	uint16_t vendor, device;
	unsigned int group;
	char buf[64];
	int n;

	cr_assert_eq(vfio_host_device_ids(e.sys, &a, &vendor, &device), 0);
	cr_assert_eq(vendor, 0x1234);
	cr_assert_eq(device, 0x11e8);
	cr_assert_eq(vfio_host_device_group(e.sys, &a, &group), 0);
	cr_assert_eq(group, 5);
	cr_assert_eq(vfio_host_device_driver(e.sys, &a, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "vfio-pci");
	cr_assert_eq(vfio_host_device_cdev(e.sys, &a, buf, sizeof(buf)), 0);
	cr_assert_eq(strncmp(buf, "vfio", 4), 0, "%s", buf);

	n = vfio_host_group_devices(e.sys, 7, out, 4);
	cr_assert_eq(n, 2);
	cr_assert(vfio_bdf_equal(&out[0], &(struct vfio_bdf){ 0, 1, 1, 0 }));
	cr_assert(vfio_bdf_equal(&out[1], &(struct vfio_bdf){ 0, 1, 2, 0 }));
	/* Only the count when the array is too small. */
	cr_assert_eq(vfio_host_group_devices(e.sys, 7, out, 1), 2);

	cr_assert_eq(kmodel_bind(e.km, "0000:00:03.0", NULL), 0);
	cr_assert_eq(vfio_host_device_driver(e.sys, &a, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "", "unbound");

	a = bdf("0000:0a:00.0");
	cr_assert_eq(vfio_host_device_ids(e.sys, &a, &vendor, &device), -ENOENT);
	cr_assert_eq(vfio_host_device_group(e.sys, &a, &group), -ENOENT);
}

Test(vfio_host, find_holder, .init = setup, .fini = teardown)
{
	char comm[32];
	pid_t pid = 0;

	cr_assert_eq(vfio_host_find_holder(e.sys, "/dev/vfio/5", &pid, comm, sizeof(comm)), 0);
	cr_assert_eq(kmodel_hold_group(e.km, 5, 31337, "cloud-hyperviso"), 0);
	cr_assert_eq(vfio_host_find_holder(e.sys, "/dev/vfio/5", &pid, comm, sizeof(comm)), 1);
	cr_assert_eq(pid, 31337);
	cr_assert_str_eq(comm, "cloud-hyperviso");
	cr_assert_eq(vfio_host_find_holder(e.sys, "/dev/vfio/6", &pid, comm, sizeof(comm)), 0);
	cr_assert_eq(kmodel_release_group(e.km, 5), 0);
}

Test(vfio_host, device_fd_wrappers, .init = setup, .fini = teardown)
{
	struct vfio_device *dev;
	struct vfio_region bar0, cfg;
	struct vfio_irq irq;
	struct vfio_hot_reset_dep *deps;
	struct vfio_err err = { 0 };
	uint32_t v, nr;
	void *map;
	int fd, efd;

	cr_assert_eq(kmodel_device_set_msix(e.km, "0000:01:01.0", 8, 0, 0x1000), 0);
	cr_assert_eq(vfio_device_attach(e.ctx, "0000:01:01.0", NULL, &dev, &err), 0, "%s",
		     err.msg);
	fd = vfio_device_fd(dev);
	cr_assert_geq(vfio_device_info(dev)->num_regions, VFIO_PCI_CONFIG_REGION_INDEX + 1);

	cr_assert_eq(vfio_devfd_get_region(e.sys, fd, VFIO_PCI_BAR0_REGION_INDEX, &bar0), 0);
	cr_assert_eq(bar0.size, 1 << 20);
	cr_assert_eq(vfio_devfd_region_read(e.sys, fd, &bar0, 0, &v, 4), 0);
	cr_assert_eq(v, 0x010000ed);
	/* The MSI-X table is in BAR0: either carved out (sparse) or declared mappable. */
	cr_assert(bar0.has_sparse || bar0.msix_mappable);
	if (bar0.has_sparse)
		cr_assert_geq(bar0.nr_sparse, 1);
	if (bar0.has_sparse) {
		const struct vfio_sparse_area *a = &bar0.sparse[bar0.nr_sparse - 1];

		cr_assert_eq(vfio_devfd_region_mmap(e.sys, fd, &bar0, a->offset, a->size,
						    PROT_READ, &map), 0);
		cr_assert_eq(e.sys->munmap(e.sys, map, a->size), 0);
	}
	cr_assert_eq(vfio_devfd_region_mmap(e.sys, fd, &bar0, 0, 4096, PROT_READ, &map),
		     bar0.has_sparse && bar0.sparse[0].offset > 0 ? -EINVAL : 0);
	if (!bar0.has_sparse || bar0.sparse[0].offset == 0) {
		cr_assert_eq(*(volatile uint32_t *)map, 0x010000ed);
		cr_assert_eq(e.sys->munmap(e.sys, map, 4096), 0);
	}
	vfio_region_release(&bar0);

	cr_assert_eq(vfio_devfd_get_region(e.sys, fd, VFIO_PCI_CONFIG_REGION_INDEX, &cfg), 0);
	cr_assert_eq(vfio_devfd_region_read(e.sys, fd, &cfg, 0, &v, 4), 0);
	cr_assert_eq(v, 0x11e81234, "config space vendor/device: 0x%x", v);
	vfio_region_release(&cfg);

	cr_assert_eq(vfio_devfd_get_irq(e.sys, fd, VFIO_PCI_INTX_IRQ_INDEX, &irq), 0);
	cr_assert_eq(irq.count, 1);
	cr_assert_eq(vfio_devfd_get_irq(e.sys, fd, VFIO_PCI_MSIX_IRQ_INDEX, &irq), 0);
	cr_assert_eq(irq.count, 8);
	efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	cr_assert_eq(vfio_devfd_irq_set_eventfds(e.sys, fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
						 &efd), 0);
	cr_assert_eq(vfio_devfd_irq_action(e.sys, fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
					   VFIO_IRQ_SET_ACTION_UNMASK), 0);
	cr_assert_eq(vfio_devfd_irq_set_eventfds(e.sys, fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 0,
						 NULL), 0);
	close(efd);
	/* The model resets a device alone on its bus only; it says so in the flags. */
	cr_assert_eq(vfio_devfd_reset(e.sys, fd),
		     vfio_device_info(dev)->flags & VFIO_DEVICE_FLAGS_RESET ? 0 : -EINVAL);

	/* Both devices behind the bridge reset together. */
	cr_assert_eq(vfio_devfd_hot_reset_info(e.sys, fd, &deps, &nr, NULL), 0);
	cr_assert_eq(nr, 2);
	cr_assert_eq(deps[0].group, 7);
	free(deps);
	cr_assert_eq(vfio_device_detach(dev, NULL), 0);
}

Test(vfio_host, iommufd_wrappers, .init = setup, .fini = teardown)
{
	struct vfio_iova_span *r;
	uint32_t ioas, nr;
	uint64_t mode;
	int fd = vfio_iommufd_open(e.sys);

	cr_assert_geq(fd, 0);
	/* RLIMIT_MODE can change only while the iommufd has no objects. */
	cr_assert_eq(vfio_iommufd_rlimit_mode_get(e.sys, fd, &mode), 0);
	cr_assert_eq(mode, 0);
	cr_assert_eq(vfio_iommufd_rlimit_mode_set(e.sys, fd, 1), 0);
	cr_assert_eq(vfio_iommufd_rlimit_mode_get(e.sys, fd, &mode), 0);
	cr_assert_eq(mode, 1);
	cr_assert_eq(vfio_iommufd_ioas_alloc(e.sys, fd, &ioas), 0);
	cr_assert_eq(vfio_iommufd_rlimit_mode_set(e.sys, fd, 0), -EBUSY);
	cr_assert_eq(vfio_iommufd_iova_ranges(e.sys, fd, ioas, &r, &nr, NULL), 0);
	cr_assert_geq(nr, 1);
	free(r);
	cr_assert_eq(vfio_iommufd_map(e.sys, fd, ioas, 0x10000000, (uintptr_t)e.ram, 1 << 20), 0);
	cr_assert_eq(vfio_iommufd_map(e.sys, fd, ioas, 0x10000000, (uintptr_t)e.ram, 1 << 20),
		     -EEXIST);
	cr_assert_eq(vfio_iommufd_unmap(e.sys, fd, ioas, 0x10000000, 1 << 20, NULL), 0);
	cr_assert_eq(vfio_iommufd_destroy(e.sys, fd, ioas), 0);
	cr_assert_eq(vfio_iommufd_destroy(e.sys, fd, ioas), -ENOENT);
	cr_assert_eq(e.sys->close(e.sys, fd), 0);
}

/* The cdev path by hand: bind, a HWPT on the IOAS, attach to it, detach. */
Test(vfio_host, cdev_and_hwpt_wrappers, .init = setup, .fini = teardown)
{
	struct vfio_bdf a = bdf("0000:00:04.0");
	uint32_t ioas, dev_id, hwpt;
	char cdev[32];
	int ifd, dfd;

	cr_assert_eq(vfio_host_device_cdev(e.sys, &a, cdev, sizeof(cdev)), 0);
	ifd = vfio_iommufd_open(e.sys);
	cr_assert_geq(ifd, 0);
	cr_assert_eq(vfio_iommufd_ioas_alloc(e.sys, ifd, &ioas), 0);
	dfd = vfio_devfd_open_cdev(e.sys, cdev);
	cr_assert_geq(dfd, 0);
	cr_assert_eq(vfio_devfd_open_cdev(e.sys, "../vfio/5"), -EINVAL);
	cr_assert_eq(vfio_devfd_bind_iommufd(e.sys, dfd, ifd, &dev_id), 0);
	cr_assert_eq(kmodel_device_bound(e.km, "0000:00:04.0"), 1);
	cr_assert_eq(vfio_iommufd_hwpt_alloc(e.sys, ifd, dev_id, ioas, 0, &hwpt), 0);
	cr_assert_neq(hwpt, ioas);
	cr_assert_eq(vfio_devfd_attach_pt(e.sys, dfd, hwpt), 0);
	/* The HWPT is in use while the device is attached to it. */
	cr_assert_eq(vfio_iommufd_destroy(e.sys, ifd, hwpt), -EBUSY);
	cr_assert_eq(vfio_devfd_detach_pt(e.sys, dfd), 0);
	cr_assert_eq(vfio_iommufd_destroy(e.sys, ifd, hwpt), 0);
	cr_assert_eq(e.sys->close(e.sys, dfd), 0);
	cr_assert_eq(kmodel_device_bound(e.km, "0000:00:04.0"), 0);
	cr_assert_eq(e.sys->close(e.sys, ifd), 0);
}
