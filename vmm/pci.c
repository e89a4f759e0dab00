// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI segment 0 (vmm/pci.h): host bridge, config mechanisms, function table,
 * and the in-memory config space with PCI write semantics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/pci.h"

/* The host bridge identifies as a q35-class MCH; Linux has no quirk for it. */
#define HOST_VENDOR	0x8086
#define HOST_DEVICE	0x29c0
#define HOST_CLASS	0x060000	/* bridge, host */

#define CONF1_PORT	0xcf8
#define CONF1_ENABLE	0x80000000u
#define CONF1_MASK	0x80fffffcu	/* enable, bus, devfn, dword register */

struct pci_func {
	const struct pci_func_ops *ops;
	void *opaque;
};

struct pci_host {
	struct pci_host_config cfg;
	/* Read: one config access; write: adding or removing a function. */
	pthread_rwlock_t lock;
	struct pci_func func[256];
	_Atomic uint32_t conf1_addr;	/* the 0xcf8 latch */

	pthread_mutex_t bridge_lock;
	struct pci_cfg bridge;
};

/* ---- In-memory config space ---- */

static void put_le(uint8_t *p, unsigned int len, uint64_t v)
{
	for (unsigned int i = 0; i < len; i++)
		p[i] = v >> (8 * i);
}

static uint64_t get_le(const uint8_t *p, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void pci_cfg_init(struct pci_cfg *cfg, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < 6; i++)
		cfg->bar_addr[i] = PCI_BAR_UNMAPPED;
	put_le(&cfg->data[PCI_VENDOR_ID], 2, vendor);
	put_le(&cfg->data[PCI_DEVICE_ID], 2, device);
	cfg->data[PCI_REVISION_ID] = revision;
	put_le(&cfg->data[PCI_CLASS_PROG], 3, class_code);
	put_le(&cfg->wmask[PCI_COMMAND], 2,
	       PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
	       PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	put_le(&cfg->w1c[PCI_STATUS], 2, PCI_HOST_STATUS_W1C);
	cfg->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	cfg->wmask[PCI_LATENCY_TIMER] = 0xff;
	cfg->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

int pci_cfg_set_bar(struct pci_cfg *cfg, int bar, uint64_t size, unsigned int flags)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t mask = ~(size - 1);
	uint32_t low;

	if (bar < 0 || bar > 5 || !size || (size & (size - 1)))
		return -EINVAL;
	if (flags & PCI_BAR_IO) {
		if (size < 4 || size > 0x10000 || (flags & ~PCI_BAR_IO))
			return -EINVAL;
		low = PCI_BASE_ADDRESS_SPACE_IO;
		/* The upper half reads zero: x86 port addresses are 16 bits. */
		put_le(&cfg->wmask[off], 4, (uint32_t)mask & 0xfffcu);
	} else {
		if (size < 16 || ((flags & PCI_BAR_MEM64) && bar == 5) ||
		    (!(flags & PCI_BAR_MEM64) && size > 0x80000000ull))
			return -EINVAL;
		low = (flags & PCI_BAR_MEM64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
		      (flags & PCI_BAR_PREFETCH ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
		put_le(&cfg->wmask[off], 4, (uint32_t)mask & ~0xfu);
		if (flags & PCI_BAR_MEM64) {
			put_le(&cfg->wmask[off + 4], 4, mask >> 32);
			put_le(&cfg->data[off + 4], 4, 0);
			cfg->bar_size[bar + 1] = 0;
		}
	}
	put_le(&cfg->data[off], 4, low);
	cfg->bar_size[bar] = size;
	cfg->bar_flags[bar] = flags;
	cfg->bar_addr[bar] = PCI_BAR_UNMAPPED;
	return 0;
}

/* Where BAR @bar decodes now, from its register and COMMAND. */
static uint64_t pci_cfg_bar_decode(const struct pci_cfg *cfg, int bar)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint16_t cmd = get_le(&cfg->data[PCI_COMMAND], 2);
	uint64_t size = cfg->bar_size[bar], addr;

	if (cfg->bar_flags[bar] & PCI_BAR_IO) {
		if (!(cmd & PCI_COMMAND_IO))
			return PCI_BAR_UNMAPPED;
		addr = get_le(&cfg->data[off], 4) & PCI_BASE_ADDRESS_IO_MASK;
		/* x86 port space is 64 KiB. */
		if (!addr || addr + size > 0x10000)
			return PCI_BAR_UNMAPPED;
		return addr;
	}
	if (!(cmd & PCI_COMMAND_MEMORY))
		return PCI_BAR_UNMAPPED;
	addr = get_le(&cfg->data[off], 4) & PCI_BASE_ADDRESS_MEM_MASK;
	if (cfg->bar_flags[bar] & PCI_BAR_MEM64)
		addr |= get_le(&cfg->data[off + 4], 4) << 32;
	else if (addr + size > 0x100000000ull)
		return PCI_BAR_UNMAPPED;
	/* Address 0 is the reset value no firmware or OS assigns; it overflows too. */
	if (!addr || addr + size - 1 < addr)
		return PCI_BAR_UNMAPPED;
	return addr;
}

uint32_t pci_cfg_read(const struct pci_cfg *cfg, unsigned int off, unsigned int len)
{
	if (off >= PCI_CFG_SPACE_EXP_SIZE || len > 4 || off + len > PCI_CFG_SPACE_EXP_SIZE)
		return 0xffffffffu >> (32 - 8 * len);
	return get_le(&cfg->data[off], len);
}

void pci_cfg_write(struct pci_cfg *cfg, unsigned int off, unsigned int len, uint32_t val)
{
	if (off >= PCI_CFG_SPACE_EXP_SIZE || len > 4 || off + len > PCI_CFG_SPACE_EXP_SIZE)
		return;
	for (unsigned int i = 0; i < len; i++) {
		uint8_t v = val >> (8 * i), *d = &cfg->data[off + i];

		*d = (*d & ~cfg->wmask[off + i]) | (v & cfg->wmask[off + i]);
		*d &= ~(v & cfg->w1c[off + i]);
	}
	/* Did a BAR's decoding change?  Only COMMAND and the BARs can move one. */
	if (!(off < PCI_COMMAND + 2 && off + len > PCI_COMMAND) &&
	    !(off < PCI_BASE_ADDRESS_5 + 4 && off + len > PCI_BASE_ADDRESS_0))
		return;
	for (int bar = 0; bar < 6; bar++) {
		uint64_t now, old;

		if (!cfg->bar_size[bar])
			continue;
		now = pci_cfg_bar_decode(cfg, bar);
		old = cfg->bar_addr[bar];
		if (now == old)
			continue;
		cfg->bar_addr[bar] = now;
		if (cfg->bar_moved)
			cfg->bar_moved(cfg->opaque, bar, old, now);
	}
}

/* ---- The function table ---- */

static uint32_t ones(unsigned int len)
{
	return 0xffffffffu >> (32 - 8 * len);
}

/* One access that stays inside a dword of one function's config space. */
static uint32_t pci_host_dword_access(struct pci_host *host, unsigned int bus, unsigned int devfn,
				      unsigned int off, unsigned int len, uint32_t val,
				      bool is_write)
{
	const struct pci_func *f;
	uint32_t ret = ones(len);

	if (bus != 0 || devfn > 0xff || off >= PCI_CFG_SPACE_EXP_SIZE)
		return ret;
	pthread_rwlock_rdlock(&host->lock);
	f = &host->func[devfn];
	if (f->ops) {
		if (is_write) {
			if (f->ops->cfg_write)
				f->ops->cfg_write(f->opaque, off, len, val & ones(len));
		} else if (f->ops->cfg_read) {
			ret = f->ops->cfg_read(f->opaque, off, len) & ones(len);
		}
	}
	pthread_rwlock_unlock(&host->lock);
	return ret;
}

/* Any access: split at dword boundaries, as a PCIe root port would. */
static void pci_host_access(struct pci_host *host, unsigned int bus, unsigned int devfn,
			    unsigned int off, uint8_t *data, unsigned int len, bool is_write)
{
	while (len) {
		unsigned int n = 4 - (off & 3);
		uint32_t v;

		if (n > len)
			n = len;
		/* Piece sizes are 1, 2 or 4, never 3: split a 3 into 2 + 1. */
		if (n == 3)
			n = (off & 1) ? 1 : 2;
		if (is_write) {
			pci_host_dword_access(host, bus, devfn, off, n, get_le(data, n), true);
		} else {
			v = pci_host_dword_access(host, bus, devfn, off, n, 0, false);
			put_le(data, n, v);
		}
		off += n;
		data += n;
		len -= n;
	}
}

uint32_t pci_host_cfg_read(struct pci_host *host, unsigned int bus, unsigned int devfn,
			   unsigned int off, unsigned int len)
{
	uint8_t buf[4];

	if (len != 1 && len != 2 && len != 4)
		return 0xffffffffu;
	pci_host_access(host, bus, devfn, off, buf, len, false);
	return get_le(buf, len);
}

void pci_host_cfg_write(struct pci_host *host, unsigned int bus, unsigned int devfn,
			unsigned int off, unsigned int len, uint32_t val)
{
	uint8_t buf[4];

	if (len != 1 && len != 2 && len != 4)
		return;
	put_le(buf, len, val);
	pci_host_access(host, bus, devfn, off, buf, len, true);
}

int pci_host_add(struct pci_host *host, unsigned int devfn, const struct pci_func_ops *ops,
		 void *opaque)
{
	int ret = 0;

	if (devfn > 0xff || !ops)
		return -EINVAL;
	pthread_rwlock_wrlock(&host->lock);
	if (host->func[devfn].ops)
		ret = -EEXIST;
	else
		host->func[devfn] = (struct pci_func){ .ops = ops, .opaque = opaque };
	pthread_rwlock_unlock(&host->lock);
	return ret;
}

int pci_host_remove(struct pci_host *host, unsigned int devfn)
{
	int ret = 0;

	if (devfn == 0)
		return -EBUSY;
	if (devfn > 0xff)
		return -EINVAL;
	/* The write lock waits out any access in progress on this function. */
	pthread_rwlock_wrlock(&host->lock);
	if (!host->func[devfn].ops)
		ret = -ENOENT;
	host->func[devfn] = (struct pci_func){ 0 };
	pthread_rwlock_unlock(&host->lock);
	return ret;
}

int pci_host_free_slot(struct pci_host *host)
{
	int slot = -ENOSPC;

	pthread_rwlock_rdlock(&host->lock);
	for (int s = 0; s < PCI_HOST_SLOTS; s++) {
		if (!host->func[PCI_DEVFN(s, 0)].ops) {
			slot = s;
			break;
		}
	}
	pthread_rwlock_unlock(&host->lock);
	return slot;
}

unsigned int pci_host_intx_gsi(unsigned int slot, unsigned int pin)
{
	/* Swizzled like a PCI bridge would, so neighbouring slots share less. */
	return PCI_HOST_INTX_GSI_BASE + (slot + pin - 1) % PCI_HOST_INTX_GSIS;
}

/* ---- The host bridge's own config space ---- */

static uint32_t bridge_cfg_read(void *opaque, unsigned int off, unsigned int len)
{
	struct pci_host *host = opaque;
	uint32_t v;

	pthread_mutex_lock(&host->bridge_lock);
	v = pci_cfg_read(&host->bridge, off, len);
	pthread_mutex_unlock(&host->bridge_lock);
	return v;
}

static void bridge_cfg_write(void *opaque, unsigned int off, unsigned int len, uint32_t val)
{
	struct pci_host *host = opaque;

	pthread_mutex_lock(&host->bridge_lock);
	pci_cfg_write(&host->bridge, off, len, val);
	pthread_mutex_unlock(&host->bridge_lock);
}

static const struct pci_func_ops bridge_ops = {
	.cfg_read = bridge_cfg_read,
	.cfg_write = bridge_cfg_write,
};

/* ---- Configuration mechanism #1: ports 0xcf8-0xcff ---- */

static void conf1_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct pci_host *host = opaque;
	uint32_t addr;

	memset(data, 0xff, len);
	if (offset == 0 && len == 4) {
		put_le(data, 4, atomic_load(&host->conf1_addr));
	} else if (offset == 1 && len == 1) {
		if (host->cfg.rcr_read)
			*(uint8_t *)data = host->cfg.rcr_read(host->cfg.rcr_opaque);
	} else if (offset >= 4) {
		addr = atomic_load(&host->conf1_addr);
		if (addr & CONF1_ENABLE)
			pci_host_access(host, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
					(addr & 0xfc) + offset - 4, data, len, false);
	}
	/* Other widths at 0xcf8-0xcfb are not config cycles: they float. */
}

static void conf1_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct pci_host *host = opaque;
	uint32_t addr;

	if (offset == 0 && len == 4) {
		atomic_store(&host->conf1_addr, get_le(data, 4) & CONF1_MASK);
	} else if (offset == 1 && len == 1) {
		if (host->cfg.rcr_write)
			host->cfg.rcr_write(host->cfg.rcr_opaque, *(const uint8_t *)data);
	} else if (offset >= 4) {
		addr = atomic_load(&host->conf1_addr);
		if (addr & CONF1_ENABLE)
			pci_host_access(host, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
					(addr & 0xfc) + offset - 4, (uint8_t *)data, len, true);
	}
}

static const struct vmm_bus_ops conf1_ops = { .read = conf1_read, .write = conf1_write };

/* ---- ECAM: bus << 20 | devfn << 12 | register ---- */

static void ecam_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	pci_host_access(opaque, offset >> 20, (offset >> 12) & 0xff, offset & 0xfff, data, len,
			false);
}

static void ecam_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	pci_host_access(opaque, offset >> 20, (offset >> 12) & 0xff, offset & 0xfff,
			(uint8_t *)data, len, true);
}

static const struct vmm_bus_ops ecam_ops = { .read = ecam_read, .write = ecam_write };

int pci_host_new(const struct pci_host_config *cfg, struct pci_host **out)
{
	struct pci_host *host;
	pthread_rwlockattr_t attr;
	int ret;

	if (!cfg->bus || !cfg->ecam_buses || cfg->ecam_buses > 256 || (cfg->ecam_base & 0xfffff))
		return -EINVAL;
	host = calloc(1, sizeof(*host));
	if (!host)
		return -ENOMEM;
	host->cfg = *cfg;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&host->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&host->bridge_lock, NULL);

	pci_cfg_init(&host->bridge, HOST_VENDOR, HOST_DEVICE, HOST_CLASS, 0);
	host->func[0] = (struct pci_func){ .ops = &bridge_ops, .opaque = host };

	ret = vmm_bus_register(cfg->bus, VMM_BUS_PIO, CONF1_PORT, 8, &conf1_ops, host);
	if (ret)
		goto err_free;
	ret = vmm_bus_register(cfg->bus, VMM_BUS_MMIO, cfg->ecam_base,
			       (uint64_t)cfg->ecam_buses << 20, &ecam_ops, host);
	if (ret)
		goto err_conf1;
	*out = host;
	return 0;

err_conf1:
	vmm_bus_unregister(cfg->bus, VMM_BUS_PIO, CONF1_PORT);
err_free:
	pthread_mutex_destroy(&host->bridge_lock);
	pthread_rwlock_destroy(&host->lock);
	free(host);
	return ret;
}

void pci_host_free(struct pci_host *host)
{
	if (!host)
		return;
	vmm_bus_unregister(host->cfg.bus, VMM_BUS_MMIO, host->cfg.ecam_base);
	vmm_bus_unregister(host->cfg.bus, VMM_BUS_PIO, CONF1_PORT);
	pthread_mutex_destroy(&host->bridge_lock);
	pthread_rwlock_destroy(&host->lock);
	free(host);
}
