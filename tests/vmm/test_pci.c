// SPDX-License-Identifier: GPL-2.0-only
/* vmm/pci.c: config mechanisms, function table, config-space semantics. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/pci.h"

#define ECAM 0xe0000000ull

struct rig {
	struct vmm_bus *bus;
	struct pci_host *host;
	int rcr_writes;
	uint8_t rcr;
};

static uint8_t rig_rcr_read(void *opaque)
{
	return ((struct rig *)opaque)->rcr;
}

static void rig_rcr_write(void *opaque, uint8_t v)
{
	struct rig *r = opaque;

	r->rcr = v;
	r->rcr_writes++;
}

static void rig_up(struct rig *r, unsigned int buses)
{
	struct pci_host_config cfg;

	*r = (struct rig){ .bus = vmm_bus_new() };
	cfg = (struct pci_host_config){
		.bus = r->bus, .ecam_base = ECAM, .ecam_buses = buses,
		.rcr_read = rig_rcr_read, .rcr_write = rig_rcr_write, .rcr_opaque = r,
	};
	cr_assert_eq(pci_host_new(&cfg, &r->host), 0);
}

static void rig_down(struct rig *r)
{
	pci_host_free(r->host);
	vmm_bus_free(r->bus);
}

static uint64_t io(struct rig *r, uint16_t port, unsigned int len, bool write, uint64_t v)
{
	vmm_bus_access(r->bus, VMM_BUS_PIO, port, &v, len, write);
	return v;
}

static uint64_t mmio(struct rig *r, uint64_t addr, unsigned int len, bool write, uint64_t v)
{
	uint64_t out = 0;

	if (write) {
		vmm_bus_access(r->bus, VMM_BUS_MMIO, addr, &v, len, true);
		return 0;
	}
	vmm_bus_access(r->bus, VMM_BUS_MMIO, addr, &out, len, false);
	return out;
}

static uint32_t conf1_read(struct rig *r, unsigned int bus, unsigned int devfn,
			   unsigned int off, unsigned int len)
{
	io(r, 0xcf8, 4, true, 0x80000000u | bus << 16 | devfn << 8 | (off & 0xfc));
	return io(r, 0xcfc + (off & 3), len, false, 0);
}

static void conf1_write(struct rig *r, unsigned int bus, unsigned int devfn, unsigned int off,
			unsigned int len, uint32_t v)
{
	io(r, 0xcf8, 4, true, 0x80000000u | bus << 16 | devfn << 8 | (off & 0xfc));
	io(r, 0xcfc + (off & 3), len, true, v);
}

static uint64_t ecam_addr(unsigned int bus, unsigned int devfn, unsigned int off)
{
	return ECAM + ((uint64_t)bus << 20) + (devfn << 12) + off;
}

Test(pci, conf1_address_latch)
{
	struct rig r;

	rig_up(&r, 256);
	/* Linux's type-1 probe: a byte to 0xcfb, then the dword round trip. */
	io(&r, 0xcfb, 1, true, 0x01);
	io(&r, 0xcf8, 4, true, 0x80000000u);
	cr_assert_eq(io(&r, 0xcf8, 4, false, 0), 0x80000000u);
	io(&r, 0xcf8, 4, true, 0xffffffffu);
	cr_assert_eq(io(&r, 0xcf8, 4, false, 0), 0x80fffffcu, "reserved bits read zero");
	/* Narrow accesses to the address register are not config cycles. */
	cr_assert_eq(io(&r, 0xcf8, 2, false, 0), 0xffff);
	/* 0xcf9 is the reset control register, byte access only. */
	io(&r, 0xcf9, 1, true, 0x06);
	cr_assert_eq(r.rcr_writes, 1);
	cr_assert_eq(r.rcr, 0x06);
	cr_assert_eq(io(&r, 0xcf9, 1, false, 0), 0x06);
	io(&r, 0xcf8, 4, true, 0x80000000u);
	cr_assert_eq(r.rcr_writes, 1);
	rig_down(&r);
}

Test(pci, host_bridge_via_both_mechanisms)
{
	struct rig r;

	rig_up(&r, 256);
	cr_assert_eq(conf1_read(&r, 0, 0, 0, 4), 0x29c08086u);
	cr_assert_eq(mmio(&r, ecam_addr(0, 0, 0), 4, false, 0), 0x29c08086u);
	cr_assert_eq(conf1_read(&r, 0, 0, 0x0a, 2), 0x0600, "class: host bridge");
	cr_assert_eq(mmio(&r, ecam_addr(0, 0, 0x0b), 1, false, 0), 0x06);
	cr_assert_eq(pci_host_cfg_read(r.host, 0, 0, 0, 2), 0x8086);
	/* Read-only ids ignore writes. */
	conf1_write(&r, 0, 0, 0, 4, 0);
	cr_assert_eq(mmio(&r, ecam_addr(0, 0, 0), 4, false, 0), 0x29c08086u);
	rig_down(&r);
}

/* A function whose whole config space is writable, to see bytes land. */
static struct pci_cfg scratch;

static uint32_t scratch_read(void *opaque, unsigned int off, unsigned int len)
{
	cr_assert_leq((off & 3) + len, 4, "access straddles a dword");
	return pci_cfg_read(opaque, off, len);
}

static void scratch_write(void *opaque, unsigned int off, unsigned int len, uint32_t v)
{
	cr_assert_leq((off & 3) + len, 4, "access straddles a dword");
	pci_cfg_write(opaque, off, len, v);
}

static const struct pci_func_ops scratch_ops = { .cfg_read = scratch_read,
						 .cfg_write = scratch_write };

Test(pci, widths_offsets_and_mechanisms_agree)
{
	struct rig r;
	unsigned int devfn = PCI_DEVFN(3, 0);

	rig_up(&r, 256);
	pci_cfg_init(&scratch, 0x1234, 0x5678, 0xff0000, 1);
	memset(&scratch.wmask[0x40], 0xff, PCI_CFG_SPACE_EXP_SIZE - 0x40);
	cr_assert_eq(pci_host_add(r.host, devfn, &scratch_ops, &scratch), 0);

	conf1_write(&r, 0, devfn, 0x40, 4, 0x11223344);
	cr_assert_eq(conf1_read(&r, 0, devfn, 0x41, 1), 0x33);
	cr_assert_eq(conf1_read(&r, 0, devfn, 0x42, 2), 0x1122);
	cr_assert_eq(conf1_read(&r, 0, devfn, 0x43, 1), 0x11);
	cr_assert_eq(mmio(&r, ecam_addr(0, devfn, 0x42), 1, false, 0), 0x22);
	/* A word through 0xcfd and a byte through 0xcff. */
	conf1_write(&r, 0, devfn, 0x45, 2, 0xbeef);
	conf1_write(&r, 0, devfn, 0x47, 1, 0x7f);
	cr_assert_eq(mmio(&r, ecam_addr(0, devfn, 0x44), 4, false, 0), 0x7fbeef00u);
	/* ECAM: 8-byte and dword-straddling accesses are split, not dropped. */
	mmio(&r, ecam_addr(0, devfn, 0x48), 8, true, 0x0102030405060708ull);
	cr_assert_eq(conf1_read(&r, 0, devfn, 0x48, 4), 0x05060708u);
	cr_assert_eq(conf1_read(&r, 0, devfn, 0x4c, 4), 0x01020304u);
	cr_assert_eq(mmio(&r, ecam_addr(0, devfn, 0x4a), 4, false, 0), 0x03040506u);
	mmio(&r, ecam_addr(0, devfn, 0x4b), 2, true, 0xaabb);
	cr_assert_eq(mmio(&r, ecam_addr(0, devfn, 0x48), 8, false, 0), 0x010203aabb060708ull);
	/* Extended config space is ECAM-only. */
	mmio(&r, ecam_addr(0, devfn, 0xffc), 4, true, 0xcafef00d);
	cr_assert_eq(pci_host_cfg_read(r.host, 0, devfn, 0xffc, 4), 0xcafef00du);
	rig_down(&r);
}

Test(pci, absent_functions_read_all_ones)
{
	struct rig r;

	rig_up(&r, 256);
	cr_assert_eq(conf1_read(&r, 0, PCI_DEVFN(5, 0), 0, 4), 0xffffffffu);
	cr_assert_eq(conf1_read(&r, 0, PCI_DEVFN(0, 1), 0, 2), 0xffff);
	cr_assert_eq(conf1_read(&r, 1, 0, 0, 4), 0xffffffffu, "no bus 1");
	cr_assert_eq(mmio(&r, ecam_addr(7, 0, 0), 4, false, 0), 0xffffffffu);
	cr_assert_eq(mmio(&r, ecam_addr(0, PCI_DEVFN(31, 7), 0), 8, false, 0), UINT64_MAX);
	/* Enable bit clear: no config cycle. */
	io(&r, 0xcf8, 4, true, 0);
	cr_assert_eq(io(&r, 0xcfc, 4, false, 0), 0xffffffffu);
	rig_down(&r);
}

Test(pci, smaller_ecam_window)
{
	struct rig r;

	rig_up(&r, 2);
	cr_assert_eq(mmio(&r, ecam_addr(0, 0, 0), 2, false, 0), 0x8086);
	cr_assert_eq(mmio(&r, ecam_addr(1, 0, 0), 2, false, 0), 0xffff);
	/* Past the window: nothing is mapped there at all. */
	cr_assert_not(vmm_bus_access(r.bus, VMM_BUS_MMIO, ecam_addr(2, 0, 0), &(uint32_t){ 0 }, 4,
				     false));
	rig_down(&r);
	cr_assert_eq(pci_host_new(&(struct pci_host_config){ .bus = r.bus, .ecam_buses = 0 },
				  &r.host), -EINVAL);
}

Test(pci, add_remove_and_free_slot)
{
	struct rig r;
	struct pci_cfg dev;

	rig_up(&r, 256);
	pci_cfg_init(&dev, 0x1b36, 0x0010, 0x010802, 2);
	cr_assert_eq(pci_host_free_slot(r.host), 1);
	cr_assert_eq(pci_host_add(r.host, PCI_DEVFN(1, 0), &scratch_ops, &dev), 0);
	cr_assert_eq(pci_host_add(r.host, PCI_DEVFN(1, 0), &scratch_ops, &dev), -EEXIST);
	cr_assert_eq(pci_host_add(r.host, 0, &scratch_ops, &dev), -EEXIST);
	cr_assert_eq(pci_host_add(r.host, 256, &scratch_ops, &dev), -EINVAL);
	cr_assert_eq(pci_host_free_slot(r.host), 2);
	cr_assert_eq(conf1_read(&r, 0, PCI_DEVFN(1, 0), 0, 4), 0x00101b36u);
	cr_assert_eq(conf1_read(&r, 0, PCI_DEVFN(1, 0), 0x08, 4), 0x01080202u);
	cr_assert_eq(pci_host_remove(r.host, PCI_DEVFN(1, 0)), 0);
	cr_assert_eq(pci_host_remove(r.host, PCI_DEVFN(1, 0)), -ENOENT);
	cr_assert_eq(pci_host_remove(r.host, 0), -EBUSY);
	cr_assert_eq(conf1_read(&r, 0, PCI_DEVFN(1, 0), 0, 4), 0xffffffffu);
	cr_assert_eq(pci_host_free_slot(r.host), 1);
	rig_down(&r);
}

Test(pci, command_status_semantics)
{
	struct pci_cfg c;

	pci_cfg_init(&c, 0x1234, 0x11e8, 0x00ff00, 0x10);
	pci_cfg_write(&c, PCI_COMMAND, 2, 0xffff);
	cr_assert_eq(pci_cfg_read(&c, PCI_COMMAND, 2), 0x0547);
	/* Status: error bits are write-1-to-clear, the rest read-only. */
	c.data[PCI_STATUS + 1] = 0xf9;
	c.data[PCI_STATUS] = PCI_STATUS_CAP_LIST;
	pci_cfg_write(&c, PCI_STATUS, 2, 0x2000 | PCI_STATUS_CAP_LIST);
	cr_assert_eq(pci_cfg_read(&c, PCI_STATUS, 2), 0xd910);
	pci_cfg_write(&c, PCI_INTERRUPT_LINE, 1, 11);
	cr_assert_eq(pci_cfg_read(&c, PCI_INTERRUPT_LINE, 1), 11);
	pci_cfg_write(&c, PCI_INTERRUPT_PIN, 1, 1);
	cr_assert_eq(pci_cfg_read(&c, PCI_INTERRUPT_PIN, 1), 0);
	cr_assert_eq(pci_cfg_read(&c, 0x1000, 4), 0xffffffffu);
}

Test(pci, bar_sizing)
{
	struct pci_cfg c;

	pci_cfg_init(&c, 0x1234, 0x11e8, 0x00ff00, 0x10);
	cr_assert_eq(pci_cfg_set_bar(&c, 0, 0x1000, 0), 0);
	cr_assert_eq(pci_cfg_set_bar(&c, 1, 0x100, PCI_BAR_IO), 0);
	cr_assert_eq(pci_cfg_set_bar(&c, 2, 0x200000000ull, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	cr_assert_eq(pci_cfg_set_bar(&c, 5, 0x1000, PCI_BAR_MEM64), -EINVAL);
	cr_assert_eq(pci_cfg_set_bar(&c, 4, 0x1800, 0), -EINVAL);
	cr_assert_eq(pci_cfg_set_bar(&c, 4, 8, 0), -EINVAL);
	cr_assert_eq(pci_cfg_set_bar(&c, 6, 0x1000, 0), -EINVAL);

	/* Type bits show before sizing. */
	cr_assert_eq(pci_cfg_read(&c, 0x10, 4), 0x0);
	cr_assert_eq(pci_cfg_read(&c, 0x14, 4), 0x1);
	cr_assert_eq(pci_cfg_read(&c, 0x18, 4), 0xc);
	for (unsigned int off = 0x10; off <= 0x24; off += 4)
		pci_cfg_write(&c, off, 4, 0xffffffffu);
	cr_assert_eq(pci_cfg_read(&c, 0x10, 4), 0xfffff000u);
	cr_assert_eq(pci_cfg_read(&c, 0x14, 4), 0x0000ff01u);
	cr_assert_eq(pci_cfg_read(&c, 0x18, 4), 0x0000000cu);
	cr_assert_eq(pci_cfg_read(&c, 0x1c, 4), 0xfffffffeu, "8 GiB: bit 33 up");
	cr_assert_eq(pci_cfg_read(&c, 0x20, 4), 0, "unimplemented BAR");
	cr_assert_eq(pci_cfg_read(&c, 0x24, 4), 0);
	/* Sub-dword writes to a BAR merge like any register. */
	pci_cfg_write(&c, 0x10, 4, 0);
	pci_cfg_write(&c, 0x12, 2, 0xc000);
	cr_assert_eq(pci_cfg_read(&c, 0x10, 4), 0xc0000000u);
}

struct moves {
	int n;
	int bar[12];
	uint64_t from[12], to[12];
};

static void record_move(void *opaque, int bar, uint64_t from, uint64_t to)
{
	struct moves *m = opaque;

	cr_assert_lt(m->n, 12);
	m->bar[m->n] = bar;
	m->from[m->n] = from;
	m->to[m->n] = to;
	m->n++;
}

Test(pci, bar_moves_follow_command_and_address)
{
	struct pci_cfg c;
	struct moves m = { 0 };

	pci_cfg_init(&c, 0x1234, 0x11e8, 0x00ff00, 0x10);
	c.bar_moved = record_move;
	c.opaque = &m;
	cr_assert_eq(pci_cfg_set_bar(&c, 0, 0x1000, 0), 0);
	cr_assert_eq(pci_cfg_set_bar(&c, 2, 0x4000, PCI_BAR_MEM64), 0);
	cr_assert_eq(pci_cfg_set_bar(&c, 4, 0x20, PCI_BAR_IO), 0);

	/* Programming with decoding off moves nothing. */
	pci_cfg_write(&c, 0x10, 4, 0xc0001000u);
	pci_cfg_write(&c, 0x18, 4, 0x00004000u);
	pci_cfg_write(&c, 0x1c, 4, 0x1u);
	pci_cfg_write(&c, 0x20, 4, 0xc040u);
	cr_assert_eq(m.n, 0);

	pci_cfg_write(&c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(m.n, 2);
	cr_assert_eq(m.bar[0], 0);
	cr_assert_eq(m.from[0], PCI_BAR_UNMAPPED);
	cr_assert_eq(m.to[0], 0xc0001000u);
	cr_assert_eq(m.bar[1], 2);
	cr_assert_eq(m.to[1], 0x100004000ull);

	pci_cfg_write(&c, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	cr_assert_eq(m.n, 3);
	cr_assert_eq(m.bar[2], 4);
	cr_assert_eq(m.to[2], 0xc040);

	/* Moving a decoded BAR; writing the same value again is no move. */
	pci_cfg_write(&c, 0x10, 4, 0xc0002000u);
	pci_cfg_write(&c, 0x10, 4, 0xc0002000u);
	cr_assert_eq(m.n, 4);
	cr_assert_eq(m.from[3], 0xc0001000u);
	cr_assert_eq(m.to[3], 0xc0002000u);

	/*
	 * Sizing while decoding really moves the BAR to the top of 4 GiB (why
	 * Linux turns decoding off first), and a 64-bit BAR goes through an
	 * intermediate address between its two dword writes.
	 */
	pci_cfg_write(&c, 0x10, 4, 0xffffffffu);
	cr_assert_eq(m.n, 5);
	cr_assert_eq(m.to[4], 0xfffff000u);
	pci_cfg_write(&c, 0x18, 4, 0xffffffffu);
	pci_cfg_write(&c, 0x1c, 4, 0xffffffffu);
	cr_assert_eq(m.n, 7);
	cr_assert_eq(m.to[5], 0x1ffffc000ull);
	cr_assert_eq(m.to[6], 0xffffffffffffc000ull);

	pci_cfg_write(&c, PCI_COMMAND, 2, 0);
	cr_assert_eq(m.n, 10);
	for (int i = 7; i < 10; i++)
		cr_assert_eq(m.to[i], PCI_BAR_UNMAPPED);
}

/*
 * Hot-plug against running vCPUs: after pci_host_remove() returns, the
 * removed function's ops never run again, and every read sees the function
 * or all-ones.
 */
struct hot {
	struct rig r;
	atomic_bool live, stop;
	atomic_int late_calls;
};

static uint32_t hot_read(void *opaque, unsigned int off, unsigned int len)
{
	struct hot *h = opaque;

	if (!atomic_load(&h->live))
		atomic_fetch_add(&h->late_calls, 1);
	return 0x11e81234u;
}

static const struct pci_func_ops hot_ops = { .cfg_read = hot_read };

static void *hot_vcpu(void *arg)
{
	struct hot *h = arg;
	long bad = 0;

	while (!atomic_load(&h->stop)) {
		uint32_t v = mmio(&h->r, ecam_addr(0, PCI_DEVFN(4, 0), 0), 4, false, 0);

		if (v != 0x11e81234u && v != 0xffffffffu)
			bad++;
	}
	return (void *)bad;
}

Test(pci, remove_while_vcpus_read)
{
	static struct hot h;
	pthread_t t[2];

	rig_up(&h.r, 256);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hot_vcpu, &h), 0);
	for (int i = 0; i < 5000; i++) {
		atomic_store(&h.live, true);
		cr_assert_eq(pci_host_add(h.r.host, PCI_DEVFN(4, 0), &hot_ops, &h), 0);
		cr_assert_eq(pci_host_remove(h.r.host, PCI_DEVFN(4, 0)), 0);
		atomic_store(&h.live, false);
	}
	atomic_store(&h.stop, true);
	for (int i = 0; i < 2; i++) {
		void *bad;

		pthread_join(t[i], &bad);
		cr_assert_eq((long)bad, 0);
	}
	cr_assert_eq(atomic_load(&h.late_calls), 0);
	rig_down(&h.r);
}
