// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio-pci device fd (drivers/vfio/pci/vfio_pci_core.c): info, regions,
 * interrupts, reset, and config/BAR access.  Stated in terms the device
 * itself reports (sysfs, its config space), so any vfio-pci device passes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct.h"

#define REGION(i)	((uint64_t)(i) << 40)

static struct ct ct;
static int g = -1, c = -1, d = -1;

static void fini(void)
{
	ct_teardown(&ct);
}

TestSuite(device, .fini = fini);

static uint8_t cfg8(unsigned int off)
{
	uint8_t v = 0;

	cr_assert_eq(ct.sys->pread(ct.sys, d, &v, 1, REGION(VFIO_PCI_CONFIG_REGION_INDEX) + off), 1);
	return v;
}

static bool is_pcie(void)
{
	unsigned int pos = cfg8(0x34) & ~3u;

	for (int hops = 0; pos && hops < 48; hops++) {
		if (cfg8(pos) == 0x10)
			return true;
		pos = cfg8(pos + 1) & ~3u;
	}
	return false;
}

static unsigned long sysfs_hex(const char *attr)
{
	char path[128], buf[32] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", ct.dev[0].bdf, attr);
	fd = ct_open_ro(&ct, path);
	n = ct.sys->pread(ct.sys, fd, buf, sizeof(buf) - 1, 0);
	ct_close(&ct, fd);
	cr_assert_gt(n, 0);
	return strtoul(buf, NULL, 16);
}

Test(device, info_says_pci_with_the_standard_regions_and_irqs)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_device_info tiny = { .argsz = 8 };

	ct_setup_device(&ct, &g, &c, &d);
	cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_INFO, &info), 0);
	cr_expect(info.flags & VFIO_DEVICE_FLAGS_PCI);
	cr_expect_geq(info.num_regions, VFIO_PCI_NUM_REGIONS);
	cr_expect_geq(info.num_irqs, VFIO_PCI_NUM_IRQS);
	cr_expect_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_INFO, &tiny), -EINVAL);
	ct_close_device(&ct, g, c, d);
}

Test(device, config_space_matches_sysfs)
{
	uint16_t ids[2];

	ct_setup_device(&ct, &g, &c, &d);
	cr_assert_eq(ct.sys->pread(ct.sys, d, ids, 4, REGION(VFIO_PCI_CONFIG_REGION_INDEX)), 4);
	cr_expect_eq(ids[0], sysfs_hex("vendor"));
	cr_expect_eq(ids[1], sysfs_hex("device"));
	ct_close_device(&ct, g, c, d);
}

Test(device, config_access_past_the_end_is_efault)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	uint32_t v;

	ct_setup_device(&ct, &g, &c, &d);
	cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
	cr_expect_eq(ri.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	cr_assert_geq(ri.size, 256);
	cr_expect_eq(ct.sys->pread(ct.sys, d, &v, 4, ri.offset + ri.size), -EFAULT);
	cr_expect_eq(ct.sys->pread(ct.sys, d, &v, 4, ri.offset + ri.size - 2), -EFAULT,
		     "config accesses are not clipped");
	ct_close_device(&ct, g, c, d);
}

/* Region info for every standard index; capabilities follow the argsz protocol. */
Test(device, region_info_and_its_capability_chain)
{
	ct_setup_device(&ct, &g, &c, &d);
	for (unsigned int i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = i };
		int ret = ct_ioctl(&ct, d, VFIO_DEVICE_GET_REGION_INFO, &ri);

		if (i == VFIO_PCI_VGA_REGION_INDEX && ret == -EINVAL)
			continue;	/* not a VGA device */
		cr_assert_eq(ret, 0, "region %u: %s", i, strerror(-ret));
		cr_expect_eq(ri.offset, REGION(i));
		if (!(ri.flags & VFIO_REGION_INFO_FLAG_CAPS)) {
			cr_expect_eq(ri.cap_offset, 0);
			continue;
		}
		cr_assert_gt(ri.argsz, sizeof(ri), "region %u: argsz grows for caps", i);
		cr_expect_eq(ri.cap_offset, 0);
		{
			uint8_t *buf = calloc(1, ri.argsz);
			struct vfio_region_info *full = (void *)buf;

			full->argsz = ri.argsz;
			full->index = i;
			cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_REGION_INFO, full), 0);
			cr_expect_eq(full->cap_offset, sizeof(*full));
			free(buf);
		}
	}
	cr_expect_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_REGION_INFO,
			      &(struct vfio_region_info){ .argsz = 8 }), -EINVAL);
	ct_close_device(&ct, g, c, d);
}

/* A BAR read through pread and through its mmap see the same device. */
Test(device, bar_pread_and_mmap_agree)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	uint32_t via_read = 0, via_map;
	void *p;

	ct_setup_device(&ct, &g, &c, &d);
	for (ri.index = 0; ri.index <= VFIO_PCI_BAR5_REGION_INDEX; ri.index++) {
		cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_REGION_INFO, &ri), 0);
		if ((ri.flags & VFIO_REGION_INFO_FLAG_MMAP) && ri.size >= 4096)
			break;
	}
	if (ri.index > VFIO_PCI_BAR5_REGION_INDEX)
		ct_skip(&ct, "%s has no mmap-able BAR", ct.dev[0].bdf);
	cr_assert_eq(ct.sys->pread(ct.sys, d, &via_read, 4, ri.offset), 4);
	cr_assert_eq(ct.sys->mmap(ct.sys, d, ri.offset, 4096, PROT_READ | PROT_WRITE, &p), 0);
	via_map = *(volatile uint32_t *)p;
	cr_expect_eq(via_read, via_map, "BAR%u offset 0: read %#x, mmap %#x", ri.index,
		     via_read, via_map);
	ct.sys->munmap(ct.sys, p, 4096);
	cr_expect_eq(ct.sys->pread(ct.sys, d, &via_read, 4, ri.offset + ri.size), -EINVAL);
	cr_expect_neq(ct.sys->mmap(ct.sys, d, ri.offset + ri.size, 4096, PROT_READ, &p), 0,
		      "no mmap past the BAR");
	ct_close_device(&ct, g, c, d);
}

Test(device, irq_info_follows_config_space)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii) };
	int ret;

	ct_setup_device(&ct, &g, &c, &d);
	ii.index = VFIO_PCI_INTX_IRQ_INDEX;
	cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_IRQ_INFO, &ii), 0);
	cr_expect_eq(ii.count, cfg8(0x3d) ? 1 : 0, "INTx iff an interrupt pin");
	cr_expect(ii.flags & VFIO_IRQ_INFO_EVENTFD);
	cr_expect(ii.flags & VFIO_IRQ_INFO_MASKABLE);
	ii.index = VFIO_PCI_REQ_IRQ_INDEX;
	cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_IRQ_INFO, &ii), 0);
	cr_expect_eq(ii.count, 1);
	ii.index = VFIO_PCI_ERR_IRQ_INDEX;
	ret = ct_ioctl(&ct, d, VFIO_DEVICE_GET_IRQ_INFO, &ii);
	cr_expect_eq(ret, is_pcie() ? 0 : -EINVAL, "ERR irq exists for PCIe only: %d", ret);
	ii.index = VFIO_PCI_NUM_IRQS;
	cr_expect_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_IRQ_INFO, &ii), -EINVAL);
	ct_close_device(&ct, g, c, d);
}

static int set_irqs(uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		    const int32_t *fds, uint32_t argsz_data)
{
	struct {
		struct vfio_irq_set s;
		int32_t fd[4];
	} req = { .s = { .argsz = sizeof(req.s) + argsz_data, .flags = flags, .index = index,
			 .start = start, .count = count } };

	if (fds)
		memcpy(req.fd, fds, count * sizeof(int32_t));
	return ct_ioctl(&ct, d, VFIO_DEVICE_SET_IRQS, &req.s);
}

Test(device, set_irqs_validates_its_request)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	uint32_t trig = VFIO_IRQ_SET_ACTION_TRIGGER;
	int32_t efd[2];

	ct_setup_device(&ct, &g, &c, &d);
	efd[0] = eventfd(0, EFD_CLOEXEC);
	efd[1] = eventfd(0, EFD_CLOEXEC);
	cr_assert(efd[0] >= 0 && efd[1] >= 0);
	cr_expect_eq(set_irqs(VFIO_IRQ_SET_DATA_NONE | trig, 99, 0, 0, NULL, 0), -EINVAL);
	cr_expect_eq(set_irqs(VFIO_IRQ_SET_DATA_EVENTFD | trig, VFIO_PCI_REQ_IRQ_INDEX, 1, 1,
			      efd, 4), -EINVAL, "start beyond the count");
	cr_expect_eq(set_irqs(VFIO_IRQ_SET_DATA_EVENTFD | trig, VFIO_PCI_REQ_IRQ_INDEX, 0, 1,
			      efd, 0), -EINVAL, "argsz too small for the data");
	cr_expect_eq(set_irqs(0x7 | trig, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, efd, 4), -EINVAL,
		     "two data types");
	cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_IRQ_INFO, &ii), 0);
	if (!ii.count)
		cr_expect_eq(set_irqs(VFIO_IRQ_SET_DATA_EVENTFD | trig, VFIO_PCI_MSIX_IRQ_INDEX, 0,
				      1, efd, 4), -EINVAL, "no MSI-X vectors");
	ii.index = VFIO_PCI_MSI_IRQ_INDEX;
	cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_IRQ_INFO, &ii), 0);
	if (ii.count)
		cr_expect_eq(set_irqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
				      VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0), -ENOTTY,
			     "MSI cannot be masked through VFIO");
	/* one interrupt type at a time */
	if (cfg8(0x3d) && ii.count) {
		cr_assert_eq(set_irqs(VFIO_IRQ_SET_DATA_EVENTFD | trig, VFIO_PCI_INTX_IRQ_INDEX, 0,
				      1, efd, 4), 0);
		cr_expect_eq(set_irqs(VFIO_IRQ_SET_DATA_EVENTFD | trig, VFIO_PCI_MSI_IRQ_INDEX, 0,
				      1, efd + 1, 4), -EINVAL, "MSI while INTx is on");
		cr_expect_eq(set_irqs(VFIO_IRQ_SET_DATA_NONE | trig, VFIO_PCI_INTX_IRQ_INDEX, 0, 0,
				      NULL, 0), 0, "INTx off");
	}
	close(efd[0]);
	close(efd[1]);
	ct_close_device(&ct, g, c, d);
}

Test(device, reset_works_when_info_says_so)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int ret;

	ct_setup_device(&ct, &g, &c, &d);
	cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_INFO, &info), 0);
	ret = ct_ioctl(&ct, d, VFIO_DEVICE_RESET, NULL);
	cr_expect_eq(ret, (info.flags & VFIO_DEVICE_FLAGS_RESET) ? 0 : -EINVAL,
		     "RESET with flags %#x: %d", info.flags, ret);
	ct_close_device(&ct, g, c, d);
}

/*
 * Hot-reset info: no slot or bus reset for a device on the root bus
 * (ENODEV); elsewhere a too-small argsz gets ENOSPC and the count needed,
 * and then the list names this device.
 */
Test(device, hot_reset_info_counts_the_affected_devices)
{
	struct vfio_pci_hot_reset_info hdr = { .argsz = sizeof(hdr) };
	unsigned int bus;
	int ret;

	ct_setup_device(&ct, &g, &c, &d);
	bus = strtoul(ct.dev[0].bdf + 5, NULL, 16);
	ret = ct_ioctl(&ct, d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hdr);
	if (bus == 0) {
		cr_expect_eq(ret, -ENODEV, "a device on the root bus: %d", ret);
	} else {
		struct vfio_pci_hot_reset_info *full;
		bool found = false;

		cr_assert_eq(ret, -ENOSPC, "argsz without room: %d", ret);
		cr_assert_geq(hdr.count, 1);
		full = calloc(1, sizeof(*full) + hdr.count * sizeof(full->devices[0]));
		full->argsz = sizeof(*full) + hdr.count * sizeof(full->devices[0]);
		cr_assert_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, full), 0);
		for (uint32_t i = 0; i < full->count; i++)
			if (full->devices[i].group_id == ct.dev[0].group &&
			    full->devices[i].bus == bus)
				found = true;
		cr_expect(found, "the list names the device's own group and bus");
		free(full);
	}
	cr_expect_eq(ct_ioctl(&ct, d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
			      &(struct vfio_pci_hot_reset_info){ .argsz = 4 }), -EINVAL);
	ct_close_device(&ct, g, c, d);
}
