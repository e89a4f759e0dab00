// SPDX-License-Identifier: GPL-2.0-only
/*
 * A passthrough device's BARs in the guest.
 *
 * Each implemented BAR is, while the guest decodes it (COMMAND's memory or
 * I/O bit and a usable address), one trap of its whole range on the VM's
 * bus, forwarded to the device's region with pread/pwrite, plus one region
 * of the guest memory map (a KVM memslot) for each mmap'able piece: the
 * memslots win where they exist, so the CPU reaches the device directly and
 * only the rest (sparse holes, small BARs, I/O BARs) exits to ferry.
 *
 * The pages of the MSI-X table and PBA are never mmap'ed, so the guest's
 * accesses to them are trapped and emulated (irq.c), even where VFIO would
 * allow the mmap.  The expansion ROM is bars[PT_ROM]: trapped, read-only,
 * decoded while its enable bit and COMMAND's memory bit are set.
 *
 * Invariant: bar->mapped is where the traps and memslots are now.  A config
 * write only computes where they should be; the move itself runs deferred,
 * after the guest's access, outside the bus lock it was made under.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "memory/memory.h"
#include "passthrough/priv.h"

/* Above this the guest's address cannot be a real placement (x86: 52 bits at most). */
#define PT_ADDR_LIMIT	(1ULL << 52)

static void pt_bar_add_area(struct passthrough_bar *bar, uint64_t off, uint64_t size)
{
	struct passthrough_device *dev = bar->dev;
	struct pt_bar_area *a;
	void *hva;

	if (vfio_devfd_region_mmap(dev->sys, dev->fd, &bar->region, off, size,
				   PROT_READ | PROT_WRITE, &hva))
		return;	/* the trap serves it, only slower */
	a = realloc(bar->areas, (bar->nr_areas + 1) * sizeof(*a));
	if (!a) {
		dev->sys->munmap(dev->sys, hva, size);
		return;
	}
	bar->areas = a;
	bar->areas[bar->nr_areas++] = (struct pt_bar_area){ .offset = off, .size = size,
							     .hva = hva };
}

#define PT_MAX_HOLES	2

/* mmaps [@start, @end) of the BAR but for the holes (page-aligned ranges). */
static void pt_bar_add_around(struct passthrough_bar *bar, uint64_t start, uint64_t end,
			      const uint64_t *hs, const uint64_t *he, int nholes)
{
	for (int i = 0; i < nholes; i++) {
		if (hs[i] < end && start < he[i]) {
			if (start < hs[i])
				pt_bar_add_around(bar, start, hs[i], hs + i + 1, he + i + 1,
						  nholes - i - 1);
			if (he[i] < end)
				pt_bar_add_around(bar, he[i], end, hs + i + 1, he + i + 1,
						  nholes - i - 1);
			return;
		}
	}
	if (start < end)
		pt_bar_add_area(bar, start, end - start);
}

/* mmaps what may be mmap'ed: page-aligned pieces of a memory BAR, MSI-X pages left out. */
static void pt_bar_mmap(struct passthrough_bar *bar)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t hs[PT_MAX_HOLES], he[PT_MAX_HOLES];
	int nholes;

	if (bar->io || !(bar->region.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return;
	/* x-no-mmap=on: every access is trapped. */
	if (bar->dev->opts.no_mmap)
		return;
	nholes = pt_msix_holes(bar->dev, bar->index, page, hs, he, PT_MAX_HOLES);
	if (!bar->region.has_sparse) {
		if (bar->region.size >= page && !(bar->region.size & (page - 1)))
			pt_bar_add_around(bar, 0, bar->region.size, hs, he, nholes);
		return;
	}
	for (uint32_t i = 0; i < bar->region.nr_sparse; i++) {
		const struct vfio_sparse_area *s = &bar->region.sparse[i];

		if (s->size && !(s->offset & (page - 1)) && !(s->size & (page - 1)) &&
		    s->offset + s->size <= bar->region.size)
			pt_bar_add_around(bar, s->offset, s->offset + s->size, hs, he, nholes);
	}
}

/* The ROM, when VFIO has one: no ROM (or an odd one) leaves register 0x30 reading 0. */
static void pt_rom_init(struct passthrough_device *dev)
{
	struct passthrough_bar *rom = &dev->bars[PT_ROM];

	if (vfio_devfd_get_region(dev->sys, dev->fd, VFIO_PCI_ROM_REGION_INDEX, &rom->region))
		return;
	if (rom->region.size < 2048 || (rom->region.size & (rom->region.size - 1)) ||
	    rom->region.size > (1ULL << 31) || !(rom->region.flags & VFIO_REGION_INFO_FLAG_READ))
		return;
	rom->size = rom->region.size;
}

int pt_bars_init(struct passthrough_device *dev, const uint8_t *cfg, char *err, size_t errlen)
{
	int ret;

	dev->bars[PT_ROM].dev = dev;
	dev->bars[PT_ROM].index = PT_ROM;
	dev->bars[PT_ROM].mapped = PT_UNMAPPED;

	for (int i = 0; i < PT_NR_BARS; i++) {
		struct passthrough_bar *bar = &dev->bars[i];
		uint32_t reg;

		bar->dev = dev;
		bar->index = i;
		bar->mapped = PT_UNMAPPED;
		if (bar->upper)
			continue;
		ret = vfio_devfd_get_region(dev->sys, dev->fd, VFIO_PCI_BAR0_REGION_INDEX + i,
					    &bar->region);
		if (ret) {
			snprintf(err, errlen, "-device host=%s: cannot read BAR %d's region: %s",
				 dev->opts.host, i, strerror(-ret));
			goto err_release;
		}
		if (!bar->region.size)
			continue;
		/* vfio-pci sizes regions as the BARs: a power of two. */
		if (bar->region.size & (bar->region.size - 1)) {
			snprintf(err, errlen, "-device host=%s: BAR %d's region is %llu bytes, not "
				 "a power of two", dev->opts.host, i,
				 (unsigned long long)bar->region.size);
			ret = -EINVAL;
			goto err_release;
		}
		memcpy(&reg, cfg + PCI_BASE_ADDRESS_0 + 4 * i, 4);
		bar->size = bar->region.size;
		bar->io = reg & PCI_BASE_ADDRESS_SPACE_IO;
		bar->flag_bits = reg & (bar->io ? 0x3 : 0xf);
		bar->mem64 = !bar->io && (reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
					 PCI_BASE_ADDRESS_MEM_TYPE_64;
		if (bar->mem64 && i == PT_NR_BARS - 1) {
			bar->mem64 = false;
			bar->flag_bits &= ~PCI_BASE_ADDRESS_MEM_TYPE_MASK;
		}
		if (bar->mem64)
			dev->bars[i + 1].upper = true;
		memcpy(&dev->emu[PCI_BASE_ADDRESS_0 + 4 * i], &bar->flag_bits, 4);
		pt_bar_mmap(bar);
	}
	pt_rom_init(dev);
	return 0;

err_release:
	pt_bars_release(dev);
	return ret;
}

uint64_t pt_bar_decoded(struct passthrough_device *dev, int i)
{
	struct passthrough_bar *bar = &dev->bars[i];
	uint32_t lo, hi = 0;
	uint64_t addr;

	if (!bar->size || bar->upper)
		return PT_UNMAPPED;
	if (!(dev->command & (bar->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
		return PT_UNMAPPED;
	if (i == PT_ROM) {
		memcpy(&lo, &dev->emu[PCI_ROM_ADDRESS], 4);
		addr = lo & PCI_ROM_ADDRESS_MASK;
		if (!(lo & PCI_ROM_ADDRESS_ENABLE) || !addr || addr + bar->size > PT_ADDR_LIMIT)
			return PT_UNMAPPED;
		return addr;
	}
	memcpy(&lo, &dev->emu[PCI_BASE_ADDRESS_0 + 4 * i], 4);
	if (bar->mem64)
		memcpy(&hi, &dev->emu[PCI_BASE_ADDRESS_0 + 4 * (i + 1)], 4);
	addr = ((uint64_t)hi << 32) | (lo & (bar->io ? ~3u : ~15u));
	/* 0 is "not placed"; a sizing pattern left in place is no placement either. */
	if (!addr || addr + bar->size - 1 < addr || addr + bar->size > PT_ADDR_LIMIT)
		return PT_UNMAPPED;
	if (bar->io && addr + bar->size > 0x10000)
		return PT_UNMAPPED;
	return addr;
}

static const char *pt_dev_name(const struct passthrough_device *dev)
{
	return dev->opts.id[0] ? dev->opts.id : dev->opts.host;
}

static void pt_bar_unmap(struct passthrough_bar *bar)
{
	struct passthrough_host *host = bar->dev->host;
	const struct passthrough_vm_ops *ops = host->cfg.ops;

	if (bar->mapped == PT_UNMAPPED)
		return;
	for (unsigned int i = 0; i < bar->nr_areas; i++) {
		if (bar->areas[i].in_map)
			mem_map_del(host->cfg.map, bar->mapped + bar->areas[i].offset);
		bar->areas[i].in_map = false;
	}
	if (ops)
		ops->trap_del(host->cfg.vm, bar->io ? PASSTHROUGH_PIO : PASSTHROUGH_MMIO,
			      bar->mapped);
	bar->mapped = PT_UNMAPPED;
}

static void pt_bar_map(struct passthrough_bar *bar, uint64_t addr)
{
	struct passthrough_device *dev = bar->dev;
	struct passthrough_host *host = dev->host;
	const struct passthrough_vm_ops *ops = host->cfg.ops;
	int ret = 0;

	if (ops)
		ret = ops->trap_add(host->cfg.vm, bar->io ? PASSTHROUGH_PIO : PASSTHROUGH_MMIO,
				    addr, bar->size, bar);
	if (ret) {
		/* Nobody but the operator can be told: the guest put it on something else. */
		fprintf(stderr, "ferry: passthrough %s: BAR %d at 0x%llx (%llu bytes) overlaps "
			"another device: the guest cannot reach it there (%s)\n", pt_dev_name(dev),
			bar->index, (unsigned long long)addr, (unsigned long long)bar->size,
			strerror(-ret));
		return;
	}
	bar->mapped = addr;
	for (unsigned int i = 0; i < bar->nr_areas; i++) {
		struct pt_bar_area *a = &bar->areas[i];
		struct mem_region r = { .gpa = addr + a->offset, .size = a->size, .hva = a->hva,
					.fd = -1, .flags = 0 };

		ret = mem_map_add(host->cfg.map, &r);
		if (ret)
			fprintf(stderr, "ferry: passthrough %s: BAR %d at 0x%llx cannot be mapped "
				"directly (%s); its accesses go through ferry\n", pt_dev_name(dev),
				bar->index, (unsigned long long)r.gpa, strerror(-ret));
		else
			a->in_map = true;
	}
}

static void pt_bars_remap_locked(struct passthrough_device *dev)
{
	dev->remap_pending = false;
	/* All unmaps first: a BAR may move onto where another one just was. */
	for (int i = 0; i < PT_NR_REGIONS; i++) {
		if (dev->bars[i].mapped != pt_bar_decoded(dev, i))
			pt_bar_unmap(&dev->bars[i]);
	}
	for (int i = 0; i < PT_NR_REGIONS; i++) {
		uint64_t want = pt_bar_decoded(dev, i);

		if (want != PT_UNMAPPED && dev->bars[i].mapped == PT_UNMAPPED)
			pt_bar_map(&dev->bars[i], want);
	}
}

static void pt_bars_remap(void *arg)
{
	struct passthrough_device *dev = arg;

	pthread_mutex_lock(&dev->lock);
	pt_bars_remap_locked(dev);
	pthread_mutex_unlock(&dev->lock);
}

void pt_bars_update(struct passthrough_device *dev)
{
	const struct passthrough_vm_ops *ops = dev->host->cfg.ops;
	bool changed = false;
	int ret;

	for (int i = 0; i < PT_NR_REGIONS; i++)
		changed |= dev->bars[i].mapped != pt_bar_decoded(dev, i);
	if (!changed || dev->remap_pending)
		return;
	dev->remap_pending = true;
	ret = ops ? ops->defer(dev->host->cfg.vm, pt_bars_remap, dev) : -EPERM;
	/*
	 * Only outside a guest access (-EPERM) may the move run here: inside
	 * one the VM's bus is locked for reading and adding a trap waits for
	 * it.  A defer that fails otherwise leaves the BARs where they were
	 * until the guest's next COMMAND or BAR write.
	 */
	if (ret == -EPERM) {
		pt_bars_remap_locked(dev);
	} else if (ret) {
		dev->remap_pending = false;
		fprintf(stderr, "ferry: passthrough %s: cannot move its BARs now (%s); they stay "
			"where they were until the guest writes COMMAND or a BAR again\n",
			dev->opts.id[0] ? dev->opts.id : dev->opts.host, strerror(-ret));
	}
}

void pt_bars_remap_now(struct passthrough_device *dev)
{
	pt_bars_remap_locked(dev);
}

void pt_bars_release(struct passthrough_device *dev)
{
	for (int i = 0; i < PT_NR_REGIONS; i++) {
		struct passthrough_bar *bar = &dev->bars[i];

		pt_bar_unmap(bar);
		for (unsigned int j = 0; j < bar->nr_areas; j++)
			dev->sys->munmap(dev->sys, bar->areas[j].hva, bar->areas[j].size);
		free(bar->areas);
		bar->areas = NULL;
		bar->nr_areas = 0;
		vfio_region_release(&bar->region);
	}
}

void passthrough_bar_access(struct passthrough_bar *bar, uint64_t off, void *data,
			    unsigned int len, bool is_write)
{
	struct passthrough_device *dev = bar->dev;
	int ret;

	if (pt_msix_access(dev, bar->index, off, data, len, is_write))
		return;
	if (bar->index == PT_ROM && is_write)
		return;
	if (is_write) {
		vfio_devfd_region_write(dev->sys, dev->fd, &bar->region, off, data, len);
		return;
	}
	ret = vfio_devfd_region_read(dev->sys, dev->fd, &bar->region, off, data, len);
	if (ret)
		memset(data, 0xff, len);
}
