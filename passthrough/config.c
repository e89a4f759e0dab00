// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest's view of a passthrough device's config space.
 *
 * Every byte of the 256-byte space has a kind (enum pt_cfg_kind), fixed at
 * attach: the device's own registers are read (and, where safe, written)
 * through VFIO's config region, which vfio-pci itself virtualises; what
 * ferry must own is emulated here:
 *  - the BARs: the guest sizes and places them; the addresses it writes
 *    live in emu[] and decide where the BAR appears in the guest (bar.c),
 *    and never reach the device, whose BARs keep the host's addresses;
 *  - COMMAND: the device gets the I/O, memory, bus-master, parity, SERR
 *    and INTx-disable bits; memory/I/O decode also maps the BARs here;
 *  - the capability list: only MSI, MSI-X and PCI Express stay, chained
 *    by rewritten next pointers (and the status bit); the bytes of the
 *    others read 0, as does the extended space;
 *  - the MSI and MSI-X capabilities' registers (irq.c), whose writes
 *    enable, route and mask the guest's vectors;
 *  - the ROM BAR, when VFIO has a ROM: sized and placed like a BAR (bar.c),
 *    else it reads 0;
 *  - the interrupt line, a scratch byte for the guest's OS.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/pci_regs.h>

#include "passthrough/priv.h"

/* COMMAND bits the device gets; the rest (e.g. VGA palette snoop) are dropped. */
#define PT_COMMAND_MASK	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
			 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

static void pt_cfg_set(struct passthrough_device *dev, unsigned int off, unsigned int len,
		       enum pt_cfg_kind kind)
{
	for (unsigned int i = off; i < off + len && i < PT_CFG_SIZE; i++)
		dev->kind[i] = kind;
}

/* Length of the capability at @pos, as far as this space shows it. */
static unsigned int pt_cap_len(const uint8_t *cfg, unsigned int pos)
{
	uint16_t flags = cfg[pos + 2] | (cfg[pos + 3] << 8);
	unsigned int len;

	switch (cfg[pos]) {
	case PCI_CAP_ID_MSI:
		len = flags & PCI_MSI_FLAGS_64BIT ? 14 : 10;
		if (flags & PCI_MSI_FLAGS_MASKBIT)
			len += 10;
		break;
	case PCI_CAP_ID_MSIX:
		len = PCI_CAP_MSIX_SIZEOF;
		break;
	case PCI_CAP_ID_EXP:
		/* Version 1 stops after the slot registers; version 2 has all. */
		len = (flags & PCI_EXP_FLAGS_VERS) > 1 ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 :
							  PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
		break;
	default:
		return 0;
	}
	return pos + len <= PT_CFG_SIZE ? len : PT_CFG_SIZE - pos;
}

/* Keeps MSI, MSI-X and PCIe; builds the chain of their rewritten next pointers. */
static void pt_config_caps(struct passthrough_device *dev, const uint8_t *cfg)
{
	uint8_t prev = PCI_CAPABILITY_LIST;
	unsigned int pos, hops = 0;
	bool seen[PT_CFG_SIZE] = { false };

	dev->emu[PCI_CAPABILITY_LIST] = 0;
	if (!(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return;
	/* A loop or a pointer into the header ends the walk: the device is lying. */
	for (pos = cfg[PCI_CAPABILITY_LIST] & ~3u; pos >= PCI_STD_HEADER_SIZEOF &&
	     pos <= PT_CFG_SIZE - 4 && !seen[pos] && hops < 48;
	     pos = cfg[pos + PCI_CAP_LIST_NEXT] & ~3u, hops++) {
		unsigned int len = pt_cap_len(cfg, pos);

		seen[pos] = true;
		if (!len)
			continue;
		pt_cfg_set(dev, pos, len, PT_CFG_DEVICE);
		dev->kind[pos + PCI_CAP_LIST_ID] = PT_CFG_DEVICE_RO;
		/* irq.c emulates the registers of the first MSI and MSI-X capability. */
		if (cfg[pos] == PCI_CAP_ID_MSI && !dev->msi.cap)
			dev->msi.cap = pos;
		if (cfg[pos] == PCI_CAP_ID_MSIX && !dev->msix.cap)
			dev->msix.cap = pos;
		dev->kind[pos + PCI_CAP_LIST_NEXT] = PT_CFG_EMULATED;
		dev->emu[pos + PCI_CAP_LIST_NEXT] = 0;
		/* prev is 0x34 or the next pointer of the previous capability kept. */
		dev->emu[prev] = (uint8_t)pos;
		prev = (uint8_t)(pos + PCI_CAP_LIST_NEXT);
	}
}

int pt_config_init(struct passthrough_device *dev, char *err, size_t errlen)
{
	uint8_t cfg[PT_CFG_SIZE] = { 0 };
	size_t len;
	int ret;

	ret = vfio_devfd_get_region(dev->sys, dev->fd, VFIO_PCI_CONFIG_REGION_INDEX,
				    &dev->cfg_region);
	if (ret) {
		snprintf(err, errlen, "-device host=%s: no config space region: %s",
			 dev->opts.host, strerror(-ret));
		return ret;
	}
	len = dev->cfg_region.size < PT_CFG_SIZE ? dev->cfg_region.size : PT_CFG_SIZE;
	ret = vfio_devfd_region_read(dev->sys, dev->fd, &dev->cfg_region, 0, cfg, len);
	if (ret || len < PCI_STD_HEADER_SIZEOF) {
		snprintf(err, errlen, "-device host=%s: cannot read its config space: %s",
			 dev->opts.host, ret ? strerror(-ret) : "too short");
		vfio_region_release(&dev->cfg_region);
		return ret ? ret : -EIO;
	}
	if ((cfg[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		snprintf(err, errlen, "-device host=%s: header type %u: only endpoints (type 0) "
			 "can be passed through, not bridges", dev->opts.host,
			 cfg[PCI_HEADER_TYPE] & 0x7f);
		vfio_region_release(&dev->cfg_region);
		return -EINVAL;
	}

	memset(dev->kind, PT_CFG_HIDDEN, sizeof(dev->kind));
	memset(dev->emu, 0, sizeof(dev->emu));
	memset(dev->emu_wmask, 0, sizeof(dev->emu_wmask));
	pt_cfg_set(dev, PCI_VENDOR_ID, 4, PT_CFG_DEVICE_RO);
	pt_cfg_set(dev, PCI_COMMAND, 2, PT_CFG_EMULATED);
	pt_cfg_set(dev, PCI_STATUS, 2, PT_CFG_DEVICE);		/* CAP_LIST: see read */
	pt_cfg_set(dev, PCI_CLASS_REVISION, 4, PT_CFG_DEVICE_RO);
	pt_cfg_set(dev, PCI_CACHE_LINE_SIZE, 2, PT_CFG_DEVICE);
	pt_cfg_set(dev, PCI_HEADER_TYPE, 1, PT_CFG_DEVICE_RO);	/* multifunction: see read */
	pt_cfg_set(dev, PCI_BASE_ADDRESS_0, 24, PT_CFG_EMULATED);
	pt_cfg_set(dev, PCI_CARDBUS_CIS, 8, PT_CFG_DEVICE_RO);
	pt_cfg_set(dev, PCI_CAPABILITY_LIST, 1, PT_CFG_EMULATED);
	pt_cfg_set(dev, PCI_INTERRUPT_LINE, 1, PT_CFG_EMULATED);
	pt_cfg_set(dev, PCI_INTERRUPT_PIN, 3, PT_CFG_DEVICE_RO);
	pt_config_caps(dev, cfg);
	/* The guest starts with decoding off, whatever the host left. */
	dev->command = 0;

	ret = pt_irq_init(dev, cfg, err, errlen);
	if (ret)
		goto err_irq;
	/* After the MSI-X table is known: its pages must stay out of the BAR's mmaps. */
	ret = pt_bars_init(dev, cfg, err, errlen);
	if (ret)
		goto err_irq;
	if (dev->bars[PT_ROM].size)
		pt_cfg_set(dev, PCI_ROM_ADDRESS, 4, PT_CFG_EMULATED);
	return 0;

err_irq:
	pt_irq_release(dev);
	vfio_region_release(&dev->cfg_region);
	return ret;
}

void pt_config_release(struct passthrough_device *dev)
{
	vfio_region_release(&dev->cfg_region);
}

void pt_config_reset(struct passthrough_device *dev)
{
	uint16_t zero = 0;

	/* Decoding, bus mastering and INTx-disable off, on the device too. */
	dev->command = 0;
	vfio_devfd_region_write(dev->sys, dev->fd, &dev->cfg_region, PCI_COMMAND, &zero, 2);
	for (int i = 0; i < PT_NR_BARS; i++) {
		uint32_t v = dev->bars[i].size && !dev->bars[i].upper ? dev->bars[i].flag_bits : 0;

		memcpy(&dev->emu[PCI_BASE_ADDRESS_0 + 4 * i], &v, 4);
	}
	memset(&dev->emu[PCI_ROM_ADDRESS], 0, 4);
	dev->emu[PCI_INTERRUPT_LINE] = 0;
	pt_bars_remap_now(dev);
}

/* A byte of an emulated register, as the guest reads it. */
static uint8_t pt_cfg_emu_read(struct passthrough_device *dev, unsigned int off, uint8_t devval)
{
	if (off == PCI_COMMAND || off == PCI_COMMAND + 1) {
		/* The device's bits (it may refuse some), with the decode bits the guest set. */
		uint16_t v = (uint16_t)((devval << ((off & 1) * 8)) & ~PT_COMMAND_MASK);

		v |= dev->command & PT_COMMAND_MASK;
		return (uint8_t)(v >> ((off & 1) * 8));
	}
	if (pt_irq_cfg_owns(dev, off))
		return pt_irq_cfg_read(dev, off);
	return dev->emu[off];
}

uint32_t passthrough_device_cfg_read(struct passthrough_device *dev, unsigned int off,
				     unsigned int len)
{
	unsigned int base = off & ~3u;
	uint8_t word[4] = { 0xff, 0xff, 0xff, 0xff };
	uint32_t val = 0;
	bool need_dev = false;

	if (off >= PT_CFG_SIZE)
		return 0;
	pthread_mutex_lock(&dev->lock);
	for (unsigned int i = off; i < off + len; i++)
		need_dev |= dev->kind[i] != PT_CFG_HIDDEN;
	if (need_dev)
		vfio_devfd_region_read(dev->sys, dev->fd, &dev->cfg_region, base, word, 4);
	for (unsigned int i = 0; i < len; i++) {
		unsigned int o = off + i;
		uint8_t b = word[o - base];

		switch (dev->kind[o]) {
		case PT_CFG_HIDDEN:
			b = 0;
			break;
		case PT_CFG_EMULATED:
			b = pt_cfg_emu_read(dev, o, b);
			break;
		default:
			if (o == PCI_STATUS) {
				b &= ~PCI_STATUS_CAP_LIST;
				if (dev->emu[PCI_CAPABILITY_LIST])
					b |= PCI_STATUS_CAP_LIST;
			} else if (o == PCI_HEADER_TYPE) {
				/* One function per slot in the guest. */
				b &= 0x7f;
			}
			break;
		}
		val |= (uint32_t)b << (i * 8);
	}
	pthread_mutex_unlock(&dev->lock);
	return val;
}

/* Writes the guest's bytes to BAR register @bar, keeping its type bits and alignment. */
static void pt_cfg_bar_write(struct passthrough_device *dev, int bar, unsigned int off,
			     unsigned int len, uint32_t val)
{
	struct passthrough_bar *b = &dev->bars[bar];
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint32_t v, mask;
	uint64_t size;

	memcpy(&v, &dev->emu[reg], 4);
	for (unsigned int i = 0; i < len; i++) {
		unsigned int shift = (off + i - reg) * 8;

		v = (v & ~(0xffu << shift)) | (((val >> (i * 8)) & 0xff) << shift);
	}
	if (b->upper) {
		size = dev->bars[bar - 1].size;
		mask = (uint32_t)(~(size - 1) >> 32);
		v &= mask;
	} else if (!b->size) {
		v = 0;
	} else {
		mask = (uint32_t)~(b->size - 1);
		v = (v & mask & (b->io ? ~3u : ~15u)) | b->flag_bits;
	}
	memcpy(&dev->emu[reg], &v, 4);
}

/* The ROM BAR: address bits within its size, and the enable bit. */
static void pt_cfg_rom_write(struct passthrough_device *dev, unsigned int off, unsigned int len,
			     uint32_t val)
{
	uint32_t v, mask = (uint32_t)~(dev->bars[PT_ROM].size - 1) & PCI_ROM_ADDRESS_MASK;

	memcpy(&v, &dev->emu[PCI_ROM_ADDRESS], 4);
	for (unsigned int i = 0; i < len; i++) {
		unsigned int shift = (off + i - PCI_ROM_ADDRESS) * 8;

		v = (v & ~(0xffu << shift)) | (((val >> (i * 8)) & 0xff) << shift);
	}
	v &= mask | PCI_ROM_ADDRESS_ENABLE;
	memcpy(&dev->emu[PCI_ROM_ADDRESS], &v, 4);
}

void passthrough_device_cfg_write(struct passthrough_device *dev, unsigned int off,
				  unsigned int len, uint32_t val)
{
	bool update = false, command = false, irq = false;

	if (off >= PT_CFG_SIZE)
		return;
	pthread_mutex_lock(&dev->lock);
	for (unsigned int i = 0; i < len; i++) {
		unsigned int o = off + i;
		uint8_t b = (uint8_t)(val >> (i * 8));

		if (dev->kind[o] == PT_CFG_DEVICE) {
			/* Runs of device bytes go out as one write (MSI data, PCIe control). */
			unsigned int n = 1;

			while (i + n < len && dev->kind[o + n] == PT_CFG_DEVICE)
				n++;
			vfio_devfd_region_write(dev->sys, dev->fd, &dev->cfg_region, o,
						(const uint8_t *)&val + i, n);
			i += n - 1;
			continue;
		}
		if (dev->kind[o] != PT_CFG_EMULATED)
			continue;
		if (o == PCI_COMMAND || o == PCI_COMMAND + 1) {
			unsigned int shift = (o - PCI_COMMAND) * 8;
			uint16_t cmd = (uint16_t)((dev->command & ~(0xffu << shift)) |
						  ((uint32_t)b << shift));

			dev->command = cmd & PT_COMMAND_MASK;
			command = true;
		} else if (o >= PCI_BASE_ADDRESS_0 && o < PCI_BASE_ADDRESS_0 + 24) {
			int bar = (o - PCI_BASE_ADDRESS_0) / 4;
			unsigned int end = PCI_BASE_ADDRESS_0 + 4 * (bar + 1);
			unsigned int n = off + len < end ? off + len - o : end - o;

			pt_cfg_bar_write(dev, bar, o, n, val >> (i * 8));
			i += n - 1;
			update = true;
		} else if (o >= PCI_ROM_ADDRESS && o < PCI_ROM_ADDRESS + 4) {
			unsigned int n = off + len < PCI_ROM_ADDRESS + 4 ? off + len - o :
									   PCI_ROM_ADDRESS + 4 - o;

			pt_cfg_rom_write(dev, o, n, val >> (i * 8));
			i += n - 1;
			update = true;
		} else if (o == PCI_INTERRUPT_LINE) {
			dev->emu[o] = b;
		} else if (pt_irq_cfg_owns(dev, o)) {
			pt_irq_cfg_write(dev, o, b);
			irq = true;
		}
		/* The capability pointers are read-only. */
	}
	if (command) {
		uint16_t out = dev->command;

		vfio_devfd_region_write(dev->sys, dev->fd, &dev->cfg_region, PCI_COMMAND, &out, 2);
	}
	if (update || command)
		pt_bars_update(dev);
	if (irq)
		pt_irq_cfg_written(dev);
	pthread_mutex_unlock(&dev->lock);
}
