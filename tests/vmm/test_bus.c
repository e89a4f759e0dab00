// SPDX-License-Identifier: GPL-2.0-only
/* vmm/bus.c: ranges, overlap, dispatch, unmapped accesses, hot (un)register. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "vmm/bus.h"

struct rec {
	uint64_t offset;
	unsigned int len;
	uint64_t written;
	int reads, writes;
	uint8_t fill;
};

static void rec_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct rec *r = opaque;

	r->offset = offset;
	r->len = len;
	r->reads++;
	memset(data, r->fill, len);
}

static void rec_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct rec *r = opaque;

	r->offset = offset;
	r->len = len;
	r->writes++;
	r->written = 0;
	memcpy(&r->written, data, len);
}

static const struct vmm_bus_ops rec_ops = { .read = rec_read, .write = rec_write };

Test(bus, overlap_is_eexist)
{
	struct vmm_bus *bus = vmm_bus_new();
	struct rec a = { 0 };

	cr_assert(bus);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x100, 0x10, &rec_ops, &a), 0);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x10f, 1, &rec_ops, &a), -EEXIST);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0xf8, 0x9, &rec_ops, &a), -EEXIST);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x0, 0x1000, &rec_ops, &a), -EEXIST);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x104, 2, &rec_ops, &a), -EEXIST);
	/* Adjacent on both sides is fine, and the spaces are independent. */
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0xf8, 0x8, &rec_ops, &a), 0);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x110, 0x8, &rec_ops, &a), 0);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_MMIO, 0x100, 0x10, &rec_ops, &a), 0);
	/* Zero length and wrap-around are refused. */
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_MMIO, 0x1000, 0, &rec_ops, &a), -EINVAL);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_MMIO, UINT64_MAX, 2, &rec_ops, &a), -EINVAL);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_MMIO, UINT64_MAX, 1, &rec_ops, &a), 0);
	cr_assert_eq(vmm_bus_unregister(bus, VMM_BUS_PIO, 0x101), -ENOENT);
	cr_assert_eq(vmm_bus_unregister(bus, VMM_BUS_PIO, 0x100), 0);
	cr_assert_eq(vmm_bus_unregister(bus, VMM_BUS_PIO, 0x100), -ENOENT);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x104, 2, &rec_ops, &a), 0);
	vmm_bus_free(bus);
}

Test(bus, dispatch_relative_offset_and_len)
{
	struct vmm_bus *bus = vmm_bus_new();
	struct rec a = { .fill = 0xaa }, b = { .fill = 0xbb };
	uint64_t v = 0;
	uint32_t w = 0x12345678;

	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_MMIO, 0xc0000000, 0x1000, &rec_ops, &a), 0);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_MMIO, 0xc0001000, 0x1000, &rec_ops, &b), 0);

	cr_assert(vmm_bus_access(bus, VMM_BUS_MMIO, 0xc0001ff8, &v, 8, false));
	cr_assert_eq(b.reads, 1);
	cr_assert_eq(b.offset, 0xff8);
	cr_assert_eq(b.len, 8);
	cr_assert_eq(v, 0xbbbbbbbbbbbbbbbbull);
	cr_assert_eq(a.reads, 0);

	cr_assert(vmm_bus_access(bus, VMM_BUS_MMIO, 0xc0000002, &w, 2, true));
	cr_assert_eq(a.writes, 1);
	cr_assert_eq(a.offset, 2);
	cr_assert_eq(a.len, 2);
	cr_assert_eq(a.written, 0x5678);
	vmm_bus_free(bus);
}

Test(bus, unmapped_reads_all_ones_writes_dropped)
{
	struct vmm_bus *bus = vmm_bus_new();
	struct rec a = { .fill = 0 };
	uint64_t v = 0;
	uint8_t b = 0;

	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x3f8, 8, &rec_ops, &a), 0);
	cr_assert_not(vmm_bus_access(bus, VMM_BUS_PIO, 0x80, &b, 1, false));
	cr_assert_eq(b, 0xff);
	cr_assert_not(vmm_bus_access(bus, VMM_BUS_MMIO, 0x3f8, &v, 8, false));
	cr_assert_eq(v, UINT64_MAX);
	/* An access running past the end of its range is not the device's. */
	v = 0;
	cr_assert_not(vmm_bus_access(bus, VMM_BUS_PIO, 0x3fe, &v, 4, false));
	cr_assert_eq(v, 0xffffffffull);
	cr_assert_not(vmm_bus_access(bus, VMM_BUS_PIO, 0x3f0, &v, 1, true));
	cr_assert_eq(a.reads + a.writes, 0);
	/* The last byte of the range is the device's. */
	cr_assert(vmm_bus_access(bus, VMM_BUS_PIO, 0x3ff, &b, 1, false));
	cr_assert_eq(b, 0);
	vmm_bus_free(bus);
}

/* An op that moves its own range through vmm_bus_after_access(). */
struct mover {
	struct vmm_bus *bus;
	uint64_t base;
	int moved;
};

static void mover_apply(void *opaque)
{
	struct mover *m;

	m = opaque;
	cr_assert_eq(vmm_bus_after_access(mover_apply, m), -EPERM);
	cr_assert_eq(vmm_bus_unregister(m->bus, VMM_BUS_MMIO, m->base), 0);
	m->base += 0x1000;
	extern const struct vmm_bus_ops mover_ops;
	cr_assert_eq(vmm_bus_register(m->bus, VMM_BUS_MMIO, m->base, 0x1000, &mover_ops, m), 0);
	m->moved++;
}

static void mover_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	cr_assert_eq(vmm_bus_after_access(mover_apply, opaque), 0);
}

const struct vmm_bus_ops mover_ops = { .write = mover_write };

Test(bus, after_access_runs_outside_the_lock)
{
	struct vmm_bus *bus = vmm_bus_new();
	struct mover m = { .bus = bus, .base = 0xd0000000 };
	uint32_t v = 1;

	cr_assert_eq(vmm_bus_after_access(mover_apply, &m), -EPERM);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_MMIO, m.base, 0x1000, &mover_ops, &m), 0);
	cr_assert(vmm_bus_access(bus, VMM_BUS_MMIO, 0xd0000000, &v, 4, true));
	cr_assert_eq(m.moved, 1);
	cr_assert_not(vmm_bus_access(bus, VMM_BUS_MMIO, 0xd0000000, &v, 4, true));
	cr_assert(vmm_bus_access(bus, VMM_BUS_MMIO, 0xd0001000, &v, 4, true));
	cr_assert_eq(m.moved, 2);
	vmm_bus_free(bus);
}

/*
 * vCPU-like readers hammer one range while another thread adds and removes a
 * second range.  Invariant checked: a read sees either the device registered
 * there or all-ones, and after unregister returns the device is never called.
 */
struct hot {
	atomic_int live;	/* 1 while registered */
	atomic_int calls_after_removal;
	atomic_bool stop;
	struct vmm_bus *bus;
};

static void hot_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct hot *h = opaque;

	if (!atomic_load(&h->live))
		atomic_fetch_add(&h->calls_after_removal, 1);
	memset(data, 0x5a, len);
}

static const struct vmm_bus_ops hot_ops = { .read = hot_read };

static void *hot_reader(void *arg)
{
	struct hot *h = arg;
	long bad = 0;

	while (!atomic_load(&h->stop)) {
		uint32_t v = 0;

		vmm_bus_access(h->bus, VMM_BUS_MMIO, 0x2004, &v, 4, false);
		if (v != 0x5a5a5a5a && v != 0xffffffff)
			bad++;
		vmm_bus_access(h->bus, VMM_BUS_MMIO, 0x1000, &v, 4, false);
	}
	return (void *)bad;
}

Test(bus, concurrent_register_and_access)
{
	struct hot h = { .bus = vmm_bus_new() };
	struct rec fixed = { .fill = 1 };
	pthread_t t[2];

	cr_assert_eq(vmm_bus_register(h.bus, VMM_BUS_MMIO, 0x1000, 0x1000, &rec_ops, &fixed), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hot_reader, &h), 0);
	for (int i = 0; i < 20000; i++) {
		atomic_store(&h.live, 1);
		cr_assert_eq(vmm_bus_register(h.bus, VMM_BUS_MMIO, 0x2000, 0x1000, &hot_ops, &h),
			     0);
		cr_assert_eq(vmm_bus_unregister(h.bus, VMM_BUS_MMIO, 0x2000), 0);
		atomic_store(&h.live, 0);
	}
	atomic_store(&h.stop, true);
	for (int i = 0; i < 2; i++) {
		void *bad;

		pthread_join(t[i], &bad);
		cr_assert_eq((long)bad, 0);
	}
	cr_assert_eq(atomic_load(&h.calls_after_removal), 0);
	vmm_bus_free(h.bus);
}
