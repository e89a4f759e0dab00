// SPDX-License-Identifier: GPL-2.0-only
/*
 * The thin wrappers' protocols against a scripted kernel: grow-and-retry
 * (GET_INFO argsz, IOVA_RANGES EMSGSIZE, HOT_RESET_INFO ENOSPC), capability
 * chains (well formed and hostile), and the fault injector itself.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/vfio.h"
#include "fault_sys.h"

/* A kernel whose ioctl replies a test writes; every other op is unused. */
struct script {
	struct vfio_sys sys;
	int (*ioctl)(struct script *s, unsigned long req, void *arg);
	int calls;
	size_t sizes[8];	/* argsz/size/count seen by each call */
};

static int script_ioctl(struct vfio_sys *sys, int fd, unsigned long req, void *arg)
{
	struct script *s = (struct script *)sys;

	s->calls++;
	return s->ioctl(s, req, arg);
}

static struct script script_new(int (*fn)(struct script *, unsigned long, void *))
{
	struct script s = { .sys = { .name = "script", .ioctl = script_ioctl }, .ioctl = fn };

	return s;
}

static void note(struct script *s, size_t v)
{
	if (s->calls <= 8)
		s->sizes[s->calls - 1] = v;
}

/* ---- VFIO_IOMMU_GET_INFO: argsz growth and the capability chain ---- */

struct info_reply {
	struct vfio_iommu_type1_info info;
	struct {
		struct vfio_info_cap_header hdr;
		uint32_t nr_iovas;
		uint32_t reserved;
		struct vfio_iova_range r[2];
	} __attribute__((packed)) iova;
	struct vfio_iommu_type1_info_dma_avail avail;
};

static void info_fill(struct info_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->info.argsz = sizeof(*r);
	r->info.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	r->info.iova_pgsizes = 0x40201000;
	r->info.cap_offset = offsetof(struct info_reply, iova);
	r->iova.hdr.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
	r->iova.hdr.version = 1;
	r->iova.hdr.next = offsetof(struct info_reply, avail);
	r->iova.nr_iovas = 2;
	/* Out of order on purpose: the wrapper sorts. */
	r->iova.r[0].start = 0xfef00000;
	r->iova.r[0].end = 0xffffffffffffULL;
	r->iova.r[1].start = 0;
	r->iova.r[1].end = 0xfedfffff;
	r->avail.header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
	r->avail.header.version = 1;
	r->avail.avail = 65535;
}

static int info_grow(struct script *s, unsigned long req, void *arg)
{
	struct vfio_iommu_type1_info *info = arg;
	struct info_reply r;

	cr_assert_eq(req, VFIO_IOMMU_GET_INFO);
	note(s, info->argsz);
	info_fill(&r);
	if (info->argsz < sizeof(r)) {
		/* The kernel's answer to a short buffer: flags, no chain, real size. */
		info->flags = r.info.flags;
		info->iova_pgsizes = r.info.iova_pgsizes;
		info->cap_offset = 0;
		info->argsz = sizeof(r);
		return 0;
	}
	memcpy(arg, &r, sizeof(r));
	return 0;
}

Test(vfio_wrappers, container_info_grows_and_parses)
{
	struct script s = script_new(info_grow);
	struct vfio_iommu_info info;

	cr_assert_eq(vfio_container_get_info(&s.sys, 3, &info), 0);
	cr_assert_eq(s.calls, 2);
	cr_assert_eq(s.sizes[0], sizeof(struct vfio_iommu_type1_info));
	cr_assert_eq(s.sizes[1], sizeof(struct info_reply));
	cr_assert_eq(info.pgsizes, 0x40201000);
	cr_assert(info.has_ranges);
	cr_assert_eq(info.nr_ranges, 2);
	cr_assert_eq(info.ranges[0].start, 0);
	cr_assert_eq(info.ranges[0].last, 0xfedfffff);
	cr_assert_eq(info.ranges[1].start, 0xfef00000);
	cr_assert(info.has_dma_avail);
	cr_assert_eq(info.dma_avail, 65535);
	vfio_iommu_info_release(&info);
}

/*
 * Linux 6.1's layout: migration (32 bytes), DMA_AVAIL (12), then the IOVA
 * ranges at 4 mod 8, their u64s unaligned.  Seen on the lab's Debian kernel.
 */
struct info_61 {
	struct vfio_iommu_type1_info info;
	struct vfio_iommu_type1_info_cap_migration mig;
	struct vfio_iommu_type1_info_dma_avail avail;
	struct vfio_info_cap_header iova_hdr;
	uint32_t nr_iovas;
	uint32_t reserved;
	uint64_t r[4];		/* two ranges, at an offset 4 mod 8 */
} __attribute__((packed));

static int info_linux61(struct script *s, unsigned long req, void *arg)
{
	struct vfio_iommu_type1_info *info = arg;
	struct info_61 r;
	uint64_t ranges[4] = { 0, 0xfedfffff, 0xfef00000, 0xffffffffffffULL };

	cr_assert_eq(offsetof(struct info_61, iova_hdr) % 8, 4);
	memset(&r, 0, sizeof(r));
	r.info.argsz = sizeof(r);
	r.info.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	r.info.iova_pgsizes = 0x1000;
	r.info.cap_offset = offsetof(struct info_61, mig);
	r.mig.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
	r.mig.header.next = offsetof(struct info_61, avail);
	r.avail.header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
	r.avail.header.next = offsetof(struct info_61, iova_hdr);
	r.avail.avail = 65000;
	r.iova_hdr.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
	r.nr_iovas = 2;
	memcpy(r.r, ranges, sizeof(ranges));
	if (info->argsz < sizeof(r)) {
		info->argsz = sizeof(r);
		info->flags = r.info.flags;
		return 0;
	}
	memcpy(arg, &r, sizeof(r));
	return 0;
}

Test(vfio_wrappers, container_info_linux61_layout)
{
	struct script s = script_new(info_linux61);
	struct vfio_iommu_info info;

	cr_assert_eq(vfio_container_get_info(&s.sys, 3, &info), 0);
	cr_assert(info.has_dma_avail);
	cr_assert_eq(info.dma_avail, 65000);
	cr_assert_eq(info.nr_ranges, 2);
	cr_assert_eq(info.ranges[0].last, 0xfedfffff);
	cr_assert_eq(info.ranges[1].start, 0xfef00000);
	vfio_iommu_info_release(&info);
}

static int info_no_caps(struct script *s, unsigned long req, void *arg)
{
	struct vfio_iommu_type1_info *info = arg;

	info->flags = VFIO_IOMMU_INFO_PGSIZES;
	info->iova_pgsizes = 0x1000;
	return 0;
}

Test(vfio_wrappers, container_info_old_kernel_without_caps)
{
	struct script s = script_new(info_no_caps);
	struct vfio_iommu_info info;

	cr_assert_eq(vfio_container_get_info(&s.sys, 3, &info), 0);
	cr_assert_eq(s.calls, 1);
	cr_assert_not(info.has_ranges);
	cr_assert_not(info.has_dma_avail);
	cr_assert_eq(info.pgsizes, 0x1000);
	vfio_iommu_info_release(&info);
}

/* Hostile chains: each must fail with -EPROTO, never loop or read past the buffer. */
static int hostile_case;

static int info_hostile(struct script *s, unsigned long req, void *arg)
{
	struct vfio_iommu_type1_info *info = arg;
	struct info_reply r;

	info_fill(&r);
	switch (hostile_case) {
	case 0:	/* a loop back to itself */
		r.iova.hdr.next = r.info.cap_offset;
		break;
	case 1:	/* next points past the buffer */
		r.avail.header.next = sizeof(r) + 64;
		break;
	case 2:	/* first cap inside the fixed header */
		r.info.cap_offset = 4;
		break;
	case 3:	/* more ranges than the buffer holds */
		r.iova.nr_iovas = 1000;
		break;
	case 4:	/* a range whose end is below its start */
		r.iova.r[1].end = 0;
		r.iova.r[1].start = 5;
		break;
	case 5:	/* a backward jump after a forward one */
		r.avail.header.next = r.info.cap_offset;
		break;
	case 6:	/* misaligned: capabilities are at least 4-byte aligned */
		r.info.cap_offset += 2;
		break;
	}
	if (info->argsz < sizeof(r)) {
		info->argsz = sizeof(r);
		info->flags = r.info.flags;
		return 0;
	}
	memcpy(arg, &r, sizeof(r));
	return 0;
}

Test(vfio_wrappers, container_info_hostile_chains)
{
	for (hostile_case = 0; hostile_case < 7; hostile_case++) {
		struct script s = script_new(info_hostile);
		struct vfio_iommu_info info = { 0 };

		cr_expect_eq(vfio_container_get_info(&s.sys, 3, &info), -EPROTO,
			     "hostile chain %d accepted", hostile_case);
		cr_expect_null(info.ranges);
	}
}

static int info_grows_forever(struct script *s, unsigned long req, void *arg)
{
	struct vfio_iommu_type1_info *info = arg;

	info->argsz = info->argsz * 2;
	return 0;
}

Test(vfio_wrappers, container_info_gives_up_on_runaway_argsz)
{
	struct script s = script_new(info_grows_forever);
	struct vfio_iommu_info info;

	cr_assert_eq(vfio_container_get_info(&s.sys, 3, &info), -EPROTO);
	cr_assert_lt(s.calls, 32);
}

/* ---- IOMMU_IOAS_IOVA_RANGES: EMSGSIZE and num_iovas ---- */

static int ranges_emsgsize(struct script *s, unsigned long req, void *arg)
{
	struct iommu_ioas_iova_ranges *r = arg;
	struct iommu_iova_range *out = (void *)(uintptr_t)r->allowed_iovas;
	const uint32_t have = 11;

	cr_assert_eq(req, IOMMU_IOAS_IOVA_RANGES);
	cr_assert_eq(r->size, sizeof(*r));
	cr_assert_eq(r->ioas_id, 9);
	note(s, r->num_iovas);
	if (r->num_iovas < have) {
		r->num_iovas = have;
		return -EMSGSIZE;
	}
	/* Highest first: the wrapper sorts. */
	for (uint32_t i = 0; i < have; i++) {
		out[have - 1 - i].start = i * 0x100000ULL;
		out[have - 1 - i].last = i * 0x100000ULL + 0xfffff - 0x1000;
	}
	r->num_iovas = have;
	r->out_iova_alignment = 4096;
	return 0;
}

Test(vfio_wrappers, ioas_ranges_grow_on_emsgsize)
{
	struct script s = script_new(ranges_emsgsize);
	struct vfio_iova_span *spans;
	uint64_t align = 0;
	uint32_t nr = 0;

	cr_assert_eq(vfio_iommufd_iova_ranges(&s.sys, 3, 9, &spans, &nr, &align), 0);
	cr_assert_eq(s.calls, 2);
	cr_assert_lt(s.sizes[0], 11);
	cr_assert_geq(s.sizes[1], 11);
	cr_assert_eq(nr, 11);
	cr_assert_eq(align, 4096);
	cr_assert_eq(spans[0].start, 0);
	cr_assert_eq(spans[10].start, 10 * 0x100000ULL);
	cr_assert_eq(spans[10].last, 10 * 0x100000ULL + 0xfffff - 0x1000);
	free(spans);
}

static int ranges_liar(struct script *s, unsigned long req, void *arg)
{
	struct iommu_ioas_iova_ranges *r = arg;

	/* EMSGSIZE without asking for more: a retry would spin. */
	return -EMSGSIZE + 0 * (int)r->num_iovas;
}

Test(vfio_wrappers, ioas_ranges_refuse_a_stuck_kernel)
{
	struct script s = script_new(ranges_liar);
	struct vfio_iova_span *spans = NULL;
	uint32_t nr;

	cr_assert_eq(vfio_iommufd_iova_ranges(&s.sys, 3, 9, &spans, &nr, NULL), -EPROTO);
	cr_assert_eq(s.calls, 1);
}

/* ---- VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: ENOSPC and count ---- */

static int hot_reset_enospc(struct script *s, unsigned long req, void *arg)
{
	struct vfio_pci_hot_reset_info *h = arg;
	const uint32_t have = 6;
	uint32_t room = (h->argsz - sizeof(*h)) / sizeof(h->devices[0]);

	cr_assert_eq(req, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO);
	note(s, room);
	h->flags = 0;
	h->count = have;
	if (room < have)
		return -ENOSPC;
	for (uint32_t i = 0; i < have; i++) {
		h->devices[i].group_id = 20 + i;
		h->devices[i].segment = 0;
		h->devices[i].bus = 5;
		h->devices[i].devfn = (i << 3) | (i & 7);
	}
	return 0;
}

Test(vfio_wrappers, hot_reset_info_grows_on_enospc)
{
	struct script s = script_new(hot_reset_enospc);
	struct vfio_hot_reset_dep *deps;
	uint32_t nr;

	cr_assert_eq(vfio_devfd_hot_reset_info(&s.sys, 3, &deps, &nr, NULL), 0);
	cr_assert_eq(s.calls, 2);
	cr_assert_lt(s.sizes[0], 6);
	cr_assert_geq(s.sizes[1], 6);
	cr_assert_eq(nr, 6);
	cr_assert_eq(deps[5].group, 25);
	cr_assert_eq(deps[5].bdf.bus, 5);
	cr_assert_eq(deps[5].bdf.dev, 5);
	cr_assert_eq(deps[5].bdf.fn, 5);
	free(deps);
}

/* ---- VFIO_DEVICE_GET_REGION_INFO: sparse mmap and MSI-X mappable ---- */

struct region_reply {
	struct vfio_region_info info;
	struct vfio_region_info_cap_sparse_mmap sparse;
	struct vfio_region_sparse_mmap_area areas[2];
	struct vfio_info_cap_header msix;
};

static int region_grow(struct script *s, unsigned long req, void *arg)
{
	struct vfio_region_info *info = arg;
	struct region_reply r = { 0 };

	cr_assert_eq(req, VFIO_DEVICE_GET_REGION_INFO);
	cr_assert_eq(info->index, 2);
	note(s, info->argsz);
	r.info.argsz = sizeof(r);
	r.info.index = 2;
	r.info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		       VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
	r.info.size = 0x10000;
	r.info.offset = 2ULL << 40;
	r.info.cap_offset = offsetof(struct region_reply, sparse);
	r.sparse.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	r.sparse.header.version = 1;
	r.sparse.header.next = offsetof(struct region_reply, msix);
	r.sparse.nr_areas = 2;
	r.areas[0].offset = 0;
	r.areas[0].size = 0x2000;
	r.areas[1].offset = 0x3000;
	r.areas[1].size = 0xd000;
	r.msix.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE;
	r.msix.version = 1;
	if (info->argsz < sizeof(r)) {
		r.info.cap_offset = 0;
		memcpy(info, &r.info, sizeof(*info));
		return 0;
	}
	memcpy(arg, &r, sizeof(r));
	return 0;
}

static int mmap_seen;

static int region_mmap(struct vfio_sys *sys, int fd, off_t off, size_t len, int prot,
		       void **addr)
{
	mmap_seen++;
	cr_assert_eq(off, (2LL << 40) + 0x3000);
	*addr = (void *)0x1000;
	return 0;
}

Test(vfio_wrappers, region_info_sparse_and_msix)
{
	struct script s = script_new(region_grow);
	struct vfio_region reg;
	void *addr;

	cr_assert_eq(vfio_devfd_get_region(&s.sys, 3, 2, &reg), 0);
	cr_assert_eq(s.calls, 2);
	cr_assert_eq(s.sizes[0], sizeof(struct vfio_region_info));
	cr_assert_eq(reg.size, 0x10000);
	cr_assert_eq(reg.offset, 2ULL << 40);
	cr_assert(reg.has_sparse);
	cr_assert_eq(reg.nr_sparse, 2);
	cr_assert_eq(reg.sparse[1].offset, 0x3000);
	cr_assert_eq(reg.sparse[1].size, 0xd000);
	cr_assert(reg.msix_mappable);

	/* mmap only inside one sparse area. */
	s.sys.mmap = region_mmap;
	cr_assert_eq(vfio_devfd_region_mmap(&s.sys, 3, &reg, 0x1000, 0x2000, 3, &addr), -EINVAL);
	cr_assert_eq(vfio_devfd_region_mmap(&s.sys, 3, &reg, 0x3000, 0xe000, 3, &addr), -EINVAL);
	cr_assert_eq(mmap_seen, 0);
	cr_assert_eq(vfio_devfd_region_mmap(&s.sys, 3, &reg, 0x3000, 0xd000, 3, &addr), 0);
	cr_assert_eq(mmap_seen, 1);
	/* Region bounds for read/write. */
	cr_assert_eq(vfio_devfd_region_read(&s.sys, 3, &reg, 0xfffc, &(uint64_t){ 0 }, 8),
		     -EINVAL);
	vfio_region_release(&reg);
}

/* ---- SET_IRQS layouts ---- */

static int irqs_check(struct script *s, unsigned long req, void *arg)
{
	struct vfio_irq_set *set = arg;
	int32_t fds[3];

	cr_assert_eq(req, VFIO_DEVICE_SET_IRQS);
	switch (s->calls) {
	case 1:
		cr_assert_eq(set->argsz, sizeof(*set) + 3 * sizeof(int32_t));
		cr_assert_eq(set->flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
		cr_assert_eq(set->index, VFIO_PCI_MSIX_IRQ_INDEX);
		cr_assert_eq(set->start, 1);
		cr_assert_eq(set->count, 3);
		memcpy(fds, set->data, sizeof(fds));
		cr_assert_eq(fds[0], 10);
		cr_assert_eq(fds[1], -1);
		cr_assert_eq(fds[2], 12);
		break;
	case 2:
		cr_assert_eq(set->argsz, sizeof(*set));
		cr_assert_eq(set->flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
		cr_assert_eq(set->count, 0);
		break;
	case 3:
		cr_assert_eq(set->flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK);
		cr_assert_eq(set->index, VFIO_PCI_INTX_IRQ_INDEX);
		cr_assert_eq(set->count, 1);
		memcpy(fds, set->data, sizeof(int32_t));
		cr_assert_eq(fds[0], 7);
		break;
	case 4:
		cr_assert_eq(set->flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK);
		cr_assert_eq(set->count, 1);
		break;
	}
	return 0;
}

Test(vfio_wrappers, set_irqs_layouts)
{
	struct script s = script_new(irqs_check);
	const int32_t efds[3] = { 10, -1, 12 };

	cr_assert_eq(vfio_devfd_irq_set_eventfds(&s.sys, 3, VFIO_PCI_MSIX_IRQ_INDEX, 1, 3, efds),
		     0);
	cr_assert_eq(vfio_devfd_irq_set_eventfds(&s.sys, 3, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL),
		     0);
	cr_assert_eq(vfio_devfd_irq_unmask_eventfd(&s.sys, 3, VFIO_PCI_INTX_IRQ_INDEX, 0, 7), 0);
	cr_assert_eq(vfio_devfd_irq_action(&s.sys, 3, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
					   VFIO_IRQ_SET_ACTION_MASK), 0);
	cr_assert_eq(vfio_devfd_irq_action(&s.sys, 3, 0, 0, 1, 0x3), -EINVAL);
	cr_assert_eq(s.calls, 4);
}

/* vfio-pci's MSI enable: fewer vectors available than asked, so none enabled. */
static int irqs_short(struct script *s, unsigned long req, void *arg)
{
	struct vfio_irq_set *set = arg;

	(void)s;
	cr_assert_eq(req, VFIO_DEVICE_SET_IRQS);
	return set->count > 2 ? 2 : 0;
}

Test(vfio_wrappers, set_irqs_short_of_vectors_is_enospc)
{
	struct script s = script_new(irqs_short);
	const int32_t efds[4] = { 10, 11, 12, 13 };

	cr_assert_eq(vfio_devfd_irq_set_eventfds(&s.sys, 3, VFIO_PCI_MSI_IRQ_INDEX, 0, 4, efds),
		     -ENOSPC);
	cr_assert_eq(vfio_devfd_irq_set_eventfds(&s.sys, 3, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, efds),
		     0);
}

/* ---- SET_IOMMU: TYPE1v2 first, TYPE1 as fallback ---- */

static int only_type1(struct script *s, unsigned long req, void *arg)
{
	if (req == VFIO_CHECK_EXTENSION)
		return (unsigned long)arg == VFIO_TYPE1_IOMMU;
	cr_assert_eq(req, VFIO_SET_IOMMU);
	cr_assert_eq((unsigned long)arg, VFIO_TYPE1_IOMMU);
	return 0;
}

Test(vfio_wrappers, set_iommu_falls_back_to_type1)
{
	struct script s = script_new(only_type1);

	cr_assert_eq(vfio_container_set_iommu_best(&s.sys, 3), VFIO_TYPE1_IOMMU);
	cr_assert_eq(s.calls, 3);
}

static int no_type1(struct script *s, unsigned long req, void *arg)
{
	cr_assert_eq(req, VFIO_CHECK_EXTENSION);
	return 0;
}

Test(vfio_wrappers, set_iommu_without_type1)
{
	struct script s = script_new(no_type1);

	cr_assert_eq(vfio_container_set_iommu_best(&s.sys, 3), -ENODEV);
}

/* ---- the fault injector ---- */

static int count_ok(struct script *s, unsigned long req, void *arg)
{
	return 0;
}

static int closes;

static int script_close(struct vfio_sys *sys, int fd)
{
	closes++;
	return 0;
}

Test(vfio_fault, fails_exactly_the_armed_call)
{
	struct script s = script_new(count_ok);
	struct fault_sys f;
	struct vfio_sys *sys;

	s.sys.close = script_close;
	fault_sys_init(&f, &s.sys);
	sys = fault_sys_table(&f);
	cr_assert_eq(fault_sys_from(sys), &f);
	cr_assert_null(fault_sys_from(&s.sys));

	fault_sys_arm(&f, 2, EIO);
	cr_assert_eq(sys->ioctl(sys, 3, VFIO_GROUP_GET_STATUS, NULL), 0);
	cr_assert_eq(sys->ioctl(sys, 3, VFIO_GROUP_GET_STATUS, NULL), -EIO);
	cr_assert_eq(sys->ioctl(sys, 3, VFIO_GROUP_GET_STATUS, NULL), 0);
	/* The failed call was not forwarded. */
	cr_assert_eq(s.calls, 2);
	cr_assert_eq(f.calls, 3);
	cr_assert_eq(f.injected, 1);

	fault_sys_arm_ioctl(&f, VFIO_SET_IOMMU, 2, EPERM);
	cr_assert_eq(sys->ioctl(sys, 3, VFIO_SET_IOMMU, NULL), 0);
	cr_assert_eq(sys->ioctl(sys, 3, VFIO_GROUP_GET_STATUS, NULL), 0);
	cr_assert_eq(sys->ioctl(sys, 3, VFIO_SET_IOMMU, NULL), -EPERM);
	cr_assert_eq(f.failed.req, VFIO_SET_IOMMU);

	/* A failing close still closes (Linux releases the fd regardless). */
	fault_sys_arm(&f, 1, EINTR);
	cr_assert_eq(sys->close(sys, 5), -EINTR);
	cr_assert_eq(closes, 1);

	fault_sys_disarm(&f);
	fault_sys_record(&f, true);
	fault_sys_reset(&f);
	cr_assert_eq(sys->ioctl(sys, 3, VFIO_IOMMU_MAP_DMA, NULL), 0);
	cr_assert_eq(f.nlog, 1);
	char buf[96];

	cr_assert_str_eq(fault_call_describe(&f.log[0], buf, sizeof(buf)),
			 "ioctl VFIO_IOMMU_MAP_DMA");
}
