// SPDX-License-Identifier: GPL-2.0-only
/*
 * A passthrough device's interrupts, reset and ROM on the kernel model: the
 * VM's side is a recorder of MSI routes and irqfds (what KVM would be told),
 * the model records the eventfds VFIO_DEVICE_SET_IRQS gave it, and a test
 * "fires" a vector by writing the eventfd VFIO would signal.  Every path is
 * checked to leave no eventfd, route or irqfd behind, faults injected in
 * VFIO (fault_sys) and in the VM's ops alike.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "pt_fixture.h"

#define MAX_ROUTES	64
#define MAX_IRQFDS	64
#define MAX_TRAPS	8
#define GSI_BASE	24
#define INTX_GSI	18
#define MSI_CAP		0x40
#define MSIX_CAP	0x50
#define MSIX_BAR_GPA	0xe0000000ULL

/* What KVM would have been told. */
static struct {
	struct {
		bool used;
		uint64_t addr;
		uint32_t data;
		unsigned int updates;
	} route[MAX_ROUTES];
	struct {
		int fd;
		uint32_t gsi;
		int resample;
	} irqfd[MAX_IRQFDS];
	int nirqfd;
	struct {
		enum passthrough_space space;
		uint64_t base, len;
		struct passthrough_bar *bar;
	} trap[MAX_TRAPS];
	int ntrap;
	/*
	 * The VM's bus lock, as vmm/bus.c has it: a trapped access runs under
	 * it for reading, trap_add/del take it for writing.
	 */
	pthread_rwlock_t bus;
	int writer_in;		/* trap_del was entered (atomic) */
	/* Fail the Nth call (1-based, counted from arming) of one op with -EIO. */
	const char *fail_op;
	int fail_at;
	int calls;
} vm;

static bool vm_fails(const char *op)
{
	if (!vm.fail_op || strcmp(vm.fail_op, op))
		return false;
	return ++vm.calls == vm.fail_at;
}

static int vm_trap_add(void *opaque, enum passthrough_space space, uint64_t base, uint64_t len,
		       struct passthrough_bar *bar)
{
	pthread_rwlock_wrlock(&vm.bus);
	pthread_rwlock_unlock(&vm.bus);
	cr_assert_lt(vm.ntrap, MAX_TRAPS);
	vm.trap[vm.ntrap].space = space;
	vm.trap[vm.ntrap].base = base;
	vm.trap[vm.ntrap].len = len;
	vm.trap[vm.ntrap].bar = bar;
	vm.ntrap++;
	return 0;
}

static int vm_trap_del(void *opaque, enum passthrough_space space, uint64_t base)
{
	__atomic_store_n(&vm.writer_in, 1, __ATOMIC_SEQ_CST);
	pthread_rwlock_wrlock(&vm.bus);
	pthread_rwlock_unlock(&vm.bus);
	for (int i = 0; i < vm.ntrap; i++) {
		if (vm.trap[i].space == space && vm.trap[i].base == base) {
			vm.trap[i] = vm.trap[--vm.ntrap];
			return 0;
		}
	}
	cr_assert_fail("trap_del of 0x%llx, which is not trapped", (unsigned long long)base);
	return -ENOENT;
}

static int vm_defer(void *opaque, void (*fn)(void *arg), void *arg)
{
	return -EPERM;
}

static int vm_gsi_alloc_msi(void *opaque, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	if (vm_fails("gsi_alloc_msi"))
		return -ENOSPC;
	for (int i = 0; i < MAX_ROUTES; i++) {
		if (!vm.route[i].used) {
			vm.route[i].used = true;
			vm.route[i].addr = addr;
			vm.route[i].data = data;
			vm.route[i].updates = 0;
			*gsi = GSI_BASE + i;
			return 0;
		}
	}
	return -ENOSPC;
}

static int vm_gsi_update_msi(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	if (vm_fails("gsi_update_msi"))
		return -EIO;
	cr_assert(gsi >= GSI_BASE && gsi < GSI_BASE + MAX_ROUTES && vm.route[gsi - GSI_BASE].used,
		  "update of GSI %u, which is no route", gsi);
	vm.route[gsi - GSI_BASE].addr = addr;
	vm.route[gsi - GSI_BASE].data = data;
	vm.route[gsi - GSI_BASE].updates++;
	return 0;
}

static int vm_gsi_free(void *opaque, uint32_t gsi)
{
	cr_assert(gsi >= GSI_BASE && gsi < GSI_BASE + MAX_ROUTES && vm.route[gsi - GSI_BASE].used,
		  "free of GSI %u, which is no route", gsi);
	vm.route[gsi - GSI_BASE].used = false;
	return 0;
}

static int vm_irqfd_assign(void *opaque, int fd, uint32_t gsi, int resample_fd)
{
	if (vm_fails("irqfd_assign"))
		return -EIO;
	for (int i = 0; i < vm.nirqfd; i++)
		cr_assert_neq(vm.irqfd[i].fd, fd, "eventfd %d bound twice", fd);
	cr_assert_lt(vm.nirqfd, MAX_IRQFDS);
	if (resample_fd < 0)
		cr_assert(gsi >= GSI_BASE && vm.route[gsi - GSI_BASE].used,
			  "irqfd on GSI %u, which is no route", gsi);
	vm.irqfd[vm.nirqfd].fd = fd;
	vm.irqfd[vm.nirqfd].gsi = gsi;
	vm.irqfd[vm.nirqfd].resample = resample_fd;
	vm.nirqfd++;
	return 0;
}

static int vm_irqfd_deassign(void *opaque, int fd, uint32_t gsi)
{
	for (int i = 0; i < vm.nirqfd; i++) {
		if (vm.irqfd[i].fd == fd && vm.irqfd[i].gsi == gsi) {
			vm.irqfd[i] = vm.irqfd[--vm.nirqfd];
			return 0;
		}
	}
	cr_assert_fail("deassign of irqfd %d on GSI %u, which is not bound", fd, gsi);
	return -ENOENT;
}

static const struct passthrough_vm_ops vm_ops = {
	.trap_add = vm_trap_add,
	.trap_del = vm_trap_del,
	.defer = vm_defer,
	.gsi_alloc_msi = vm_gsi_alloc_msi,
	.gsi_update_msi = vm_gsi_update_msi,
	.gsi_free = vm_gsi_free,
	.irqfd_assign = vm_irqfd_assign,
	.irqfd_deassign = vm_irqfd_deassign,
};

static struct pt_fixture t;

/* Four functions on vfio-pci, each alone in its group (5 to 8); no RAM. */
static const struct pt_fixture_dev devs[] = {
	{ "0000:00:03.0", 0x1234, 0x11e8, 5, "vfio-pci" },
	{ "0000:00:04.0", 0x1234, 0x11e8, 6, "vfio-pci" },
	{ "0000:00:05.0", 0x1234, 0x11e8, 7, "vfio-pci" },
	{ "0000:02:00.0", 0x1234, 0x11e8, 8, "vfio-pci" },
};

static void setup(void)
{
	struct pt_fixture_config c = {
		.kernel = kmodel_config_iommufd(),
		PT_FIXTURE_DEVS(devs),
		.cap_ipc_lock = true,
		.ops = &vm_ops,
		.vm = &vm,
	};

	memset(&vm, 0, sizeof(vm));
	pthread_rwlock_init(&vm.bus, NULL);
	pt_fixture_setup(&t, &c);
}

/* The fixture's checks (no eventfd, model fd or pin left), then the VM's. */
static void teardown(void)
{
	pt_fixture_teardown(&t);
	for (int i = 0; i < MAX_ROUTES; i++)
		cr_expect_not(vm.route[i].used, "route of GSI %d left", GSI_BASE + i);
	cr_expect_eq(vm.nirqfd, 0, "irqfds left");
	cr_expect_eq(vm.ntrap, 0, "traps left");
}

TestSuite(irq, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static int nroutes(void)
{
	int n = 0;

	for (int i = 0; i < MAX_ROUTES; i++)
		n += vm.route[i].used;
	return n;
}

/* The irqfd of eventfd @fd, or NULL. */
static int irqfd_of(int fd)
{
	for (int i = 0; i < vm.nirqfd; i++)
		if (vm.irqfd[i].fd == fd)
			return i;
	return -1;
}

static void host_new(void)
{
	pt_fixture_host_new(&t);
}

/* Adds @bdf, making the host first if no test did. */
static struct passthrough_device *add(const char *bdf)
{
	char spec[64];

	if (!t.host)
		host_new();
	snprintf(spec, sizeof(spec), "passthrough,host=%s", bdf);
	return pt_fixture_add_ok(&t, spec);
}

/* Added and placed with its INTx pin on INTX_GSI, as the VMM does. */
static struct passthrough_device *place(const char *bdf)
{
	struct passthrough_device *dev = add(bdf);
	int ret = passthrough_device_set_intx_gsi(dev, INTX_GSI, t.err, sizeof(t.err));

	cr_assert_eq(ret, 0, "set_intx_gsi: %d %s", ret, t.err);
	return dev;
}

static uint32_t rd(struct passthrough_device *d, unsigned int off, unsigned int len)
{
	return passthrough_device_cfg_read(d, off, len);
}

static void wr(struct passthrough_device *d, unsigned int off, unsigned int len, uint32_t v)
{
	passthrough_device_cfg_write(d, off, len, v);
}

static void fire(int efd)
{
	uint64_t one = 1;

	cr_assert_geq(efd, 0, "the vector has no eventfd in VFIO");
	cr_assert_eq(write(efd, &one, 8), 8);
}

/* What an eventfd holds (and takes it), without blocking. */
static uint64_t drain(int efd)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, 0) == 1)
		cr_assert_eq(read(efd, &v, 8), 8);
	return v;
}

static int irq_type(const char *bdf)
{
	return kmodel_device_irq_type(t.km, bdf);
}

static int efd(const char *bdf, unsigned int index, unsigned int vector)
{
	return kmodel_device_irq_eventfd(t.km, bdf, index, vector);
}

/* The route a VFIO eventfd reaches through its irqfd; fails when it is not bound. */
static int route_of(int fd)
{
	int i = irqfd_of(fd);

	cr_assert_geq(i, 0, "eventfd %d has no irqfd", fd);
	cr_assert_lt(vm.irqfd[i].resample, 0, "an MSI irqfd with a resample fd");
	return (int)vm.irqfd[i].gsi - GSI_BASE;
}

/* MSI, 64-bit capability at 0x40 (the model's): address, data, enable with 2^mme vectors. */
static void msi_program(struct passthrough_device *d, uint64_t addr, uint16_t data)
{
	wr(d, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, (uint32_t)addr);
	wr(d, MSI_CAP + PCI_MSI_ADDRESS_HI, 4, (uint32_t)(addr >> 32));
	wr(d, MSI_CAP + PCI_MSI_DATA_64, 2, data);
}

static void msi_enable(struct passthrough_device *d, unsigned int mme)
{
	wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | mme << 4);
}

/* ---- INTx ---- */

Test(irq, intx_goes_straight_to_kvm_once_placed)
{
	struct passthrough_device *d = add("0000:00:03.0");
	int trig, unmask, i;

	cr_expect_eq(irq_type("0000:00:03.0"), -1, "INTx on before the VMM gave a GSI");
	cr_expect_eq(pt_fixture_eventfds(&t), 0);
	cr_assert_eq(passthrough_device_set_intx_gsi(d, INTX_GSI, t.err, sizeof(t.err)), 0,
		     "%s", t.err);
	cr_assert_eq(irq_type("0000:00:03.0"), VFIO_PCI_INTX_IRQ_INDEX);
	trig = efd("0000:00:03.0", VFIO_PCI_INTX_IRQ_INDEX, 0);
	unmask = kmodel_device_intx_unmask_eventfd(t.km, "0000:00:03.0");
	cr_assert_geq(trig, 0);
	cr_assert_geq(unmask, 0, "no unmask eventfd: every INTx would need ferry");
	i = irqfd_of(trig);
	cr_assert_geq(i, 0, "the trigger is not an irqfd");
	cr_expect_eq(vm.irqfd[i].gsi, INTX_GSI);
	cr_expect_eq(vm.irqfd[i].resample, unmask, "KVM's resample must be VFIO's unmask");
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
	cr_expect_eq(nroutes(), 0, "INTx needs no MSI route");

	/* A new GSI (the device moved): one irqfd, on the new GSI. */
	cr_assert_eq(passthrough_device_set_intx_gsi(d, INTX_GSI + 1, t.err, sizeof(t.err)), 0);
	cr_assert_eq(vm.nirqfd, 1);
	cr_expect_eq(vm.irqfd[0].gsi, INTX_GSI + 1);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
	/* No GSI: INTx off. */
	cr_assert_eq(passthrough_device_set_intx_gsi(d, -1, t.err, sizeof(t.err)), 0);
	cr_expect_eq(irq_type("0000:00:03.0"), -1);
	cr_expect_eq(vm.nirqfd, 0);
	cr_expect_eq(pt_fixture_eventfds(&t), 0);
}

Test(irq, a_failed_intx_set_up_leaves_nothing)
{
	struct passthrough_device *d = add("0000:00:03.0");

	/* The trigger, then the unmask eventfd: each failure unwinds the rest. */
	for (int nth = 1; nth <= 2; nth++) {
		fault_sys_arm_ioctl(&t.fault, VFIO_DEVICE_SET_IRQS, nth, EIO);
		cr_expect_eq(passthrough_device_set_intx_gsi(d, INTX_GSI, t.err, sizeof(t.err)),
			     -EIO, "SET_IRQS #%d", nth);
		cr_expect(strstr(t.err, "INTx") && strstr(t.err, "0000:00:03.0"), "%s", t.err);
		fault_sys_disarm(&t.fault);
		cr_expect_eq(irq_type("0000:00:03.0"), -1, "SET_IRQS #%d: INTx left on", nth);
		cr_expect_eq(vm.nirqfd, 0, "SET_IRQS #%d: irqfd left", nth);
		cr_expect_eq(pt_fixture_eventfds(&t), 0, "SET_IRQS #%d: eventfds left", nth);
	}
	vm.fail_op = "irqfd_assign";
	vm.fail_at = 1;
	cr_expect_eq(passthrough_device_set_intx_gsi(d, INTX_GSI, t.err, sizeof(t.err)), -EIO);
	vm.fail_op = NULL;
	cr_expect_eq(irq_type("0000:00:03.0"), -1);
	cr_expect_eq(pt_fixture_eventfds(&t), 0);
	/* And it works once nothing fails. */
	cr_expect_eq(passthrough_device_set_intx_gsi(d, INTX_GSI, t.err, sizeof(t.err)), 0);
	cr_expect_eq(irq_type("0000:00:03.0"), VFIO_PCI_INTX_IRQ_INDEX);
}

/* ---- MSI ---- */

Test(irq, msi_replaces_intx_and_follows_the_guest)
{
	struct passthrough_device *d = place("0000:00:03.0");
	int fd, r, gsi;

	/* The device's one vector: Multiple Message Capable 0, 64-bit. */
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_64BIT);
	msi_program(d, 0xfee01000, 0x4041);
	cr_expect_eq(irq_type("0000:00:03.0"), VFIO_PCI_INTX_IRQ_INDEX, "MSI before enable");
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_ADDRESS_LO, 4), 0xfee01000);
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_DATA_64, 2), 0x4041);
	msi_enable(d, 0);
	cr_assert_eq(irq_type("0000:00:03.0"), VFIO_PCI_MSI_IRQ_INDEX);
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE, PCI_MSI_FLAGS_ENABLE);
	fd = efd("0000:00:03.0", VFIO_PCI_MSI_IRQ_INDEX, 0);
	r = route_of(fd);
	cr_expect_eq(vm.route[r].addr, 0xfee01000);
	cr_expect_eq(vm.route[r].data, 0x4041);
	cr_expect_eq(vm.nirqfd, 1, "INTx's irqfd stayed");
	cr_expect_eq(pt_fixture_eventfds(&t), 1, "INTx's eventfds stayed");

	/* The guest moves the vector (affinity): same GSI, new message. */
	gsi = vm.irqfd[irqfd_of(fd)].gsi;
	wr(d, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee02000);
	wr(d, MSI_CAP + PCI_MSI_DATA_64, 2, 0x4051);
	cr_expect_eq(vm.irqfd[irqfd_of(fd)].gsi, gsi);
	cr_expect_eq(vm.route[r].addr, 0xfee02000);
	cr_expect_eq(vm.route[r].data, 0x4051);
	cr_expect_eq(nroutes(), 1);

	/* Disabled: the route and eventfd go, INTx comes back. */
	wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	cr_expect_eq(irq_type("0000:00:03.0"), VFIO_PCI_INTX_IRQ_INDEX);
	cr_expect_eq(nroutes(), 0);
	cr_expect_eq(vm.nirqfd, 1);
	cr_expect_eq(vm.irqfd[0].gsi, INTX_GSI);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
}

Test(irq, msi_vectors_and_their_mask_bits)
{
	struct passthrough_device *d;
	int fds[4];

	cr_assert_eq(kmodel_device_set_msi(t.km, "0000:00:05.0", 2, true), 0);
	d = place("0000:00:05.0");
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_FLAGS, 2),
		     PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | 2 << 1, "flags %04x",
		     rd(d, MSI_CAP + PCI_MSI_FLAGS, 2));
	/* More than offered: clamped to 4, as vfio-pci does. */
	wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, 5 << 4);
	cr_expect_eq((rd(d, MSI_CAP + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QSIZE) >> 4, 2);
	/* Only the offered vectors' mask bits exist. */
	wr(d, MSI_CAP + PCI_MSI_MASK_64, 4, 0xffffffff);
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_MASK_64, 4), 0xf);
	wr(d, MSI_CAP + PCI_MSI_MASK_64, 4, 1 << 1);
	msi_program(d, 0xfee00000, 0x60);
	msi_enable(d, 2);
	cr_assert_eq(irq_type("0000:00:05.0"), VFIO_PCI_MSI_IRQ_INDEX);
	cr_assert_eq(kmodel_device_irq_vectors(t.km, "0000:00:05.0"), 4);
	cr_expect_eq(nroutes(), 4);
	for (int i = 0; i < 4; i++)
		fds[i] = efd("0000:00:05.0", VFIO_PCI_MSI_IRQ_INDEX, i);
	for (int i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		cr_expect_eq(vm.route[route_of(fds[i])].data, 0x60 | i, "vector %d", i);
	}
	cr_expect_eq(irqfd_of(fds[1]), -1, "a masked vector is delivered");
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_PENDING_64, 4), 0);

	/* Fired while masked: pending, not delivered. */
	fire(fds[1]);
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_PENDING_64, 4), 1 << 1);
	cr_expect_eq(irqfd_of(fds[1]), -1);
	/* Unmasked: bound, and what was pending is delivered (written again after the bind). */
	wr(d, MSI_CAP + PCI_MSI_MASK_64, 4, 0);
	cr_expect_eq(vm.route[route_of(fds[1])].data, 0x61);
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_PENDING_64, 4), 0);
	cr_expect_eq(drain(fds[1]), 1, "the pending interrupt was lost");
	/* A data change moves every vector. */
	wr(d, MSI_CAP + PCI_MSI_DATA_64, 2, 0x80);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(vm.route[route_of(fds[i])].data, 0x80 | i, "vector %d", i);
	/* Another vector count: enabled again with it. */
	msi_enable(d, 1);
	cr_expect_eq(kmodel_device_irq_vectors(t.km, "0000:00:05.0"), 2);
	cr_expect_eq(nroutes(), 2);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
}

Test(irq, a_failed_msi_enable_leaves_nothing)
{
	struct passthrough_device *d;
	static const char *const ops[] = { "gsi_alloc_msi", "irqfd_assign" };

	cr_assert_eq(kmodel_device_set_msi(t.km, "0000:00:05.0", 2, false), 0);
	d = place("0000:00:05.0");
	msi_program(d, 0xfee00000, 0x60);
	/* SET_IRQS #1 turns INTx off; #2 enables MSI: fail that one. */
	fault_sys_arm_ioctl(&t.fault, VFIO_DEVICE_SET_IRQS, 2, EINVAL);
	msi_enable(d, 2);
	fault_sys_disarm(&t.fault);
	cr_expect_eq(irq_type("0000:00:05.0"), -1);
	cr_expect_eq(nroutes(), 0, "routes left");
	cr_expect_eq(vm.nirqfd, 0, "irqfds left");
	cr_expect_eq(pt_fixture_eventfds(&t), 0, "eventfds left");
	/* The guest gives up on MSI: INTx again. */
	wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	cr_expect_eq(irq_type("0000:00:05.0"), VFIO_PCI_INTX_IRQ_INDEX);

	/* Each route and each irqfd of the four vectors, failed in turn. */
	for (size_t o = 0; o < 2; o++) {
		for (int nth = 1; nth <= 4; nth++) {
			vm.fail_op = ops[o];
			vm.fail_at = nth;
			vm.calls = 0;
			msi_enable(d, 2);
			vm.fail_op = NULL;
			cr_expect_neq(irq_type("0000:00:05.0"), VFIO_PCI_MSI_IRQ_INDEX,
				      "%s #%d: MSI on anyway", ops[o], nth);
			cr_expect_eq(nroutes(), 0, "%s #%d: routes left", ops[o], nth);
			cr_expect_eq(vm.nirqfd, 0, "%s #%d: irqfds left", ops[o], nth);
			cr_expect_eq(pt_fixture_eventfds(&t), 0, "%s #%d: eventfds left", ops[o],
				     nth);
			wr(d, MSI_CAP + PCI_MSI_FLAGS, 2, 0);
			cr_expect_eq(irq_type("0000:00:05.0"), VFIO_PCI_INTX_IRQ_INDEX);
		}
	}
	/* Nothing failing: four vectors. */
	msi_enable(d, 2);
	cr_expect_eq(nroutes(), 4);
}

/* ---- MSI-X ---- */

/* 4 vectors, table at 0 of a 16 KiB BAR 2, PBA right after (the same page). */
static struct passthrough_device *msix_device(bool dyn, struct passthrough_bar **bar)
{
	struct passthrough_device *d;

	cr_assert_eq(kmodel_device_set_msix(t.km, "0000:00:04.0", 4, 2, 0), 0);
	cr_assert_eq(kmodel_device_set_msix_dyn(t.km, "0000:00:04.0", dyn), 0);
	d = place("0000:00:04.0");
	wr(d, 0x18, 4, (uint32_t)MSIX_BAR_GPA);
	wr(d, 0x1c, 4, 0);
	wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vm.ntrap, 1);
	cr_assert_eq(vm.trap[0].base, MSIX_BAR_GPA);
	*bar = vm.trap[0].bar;
	return d;
}

static void tbl_wr(struct passthrough_bar *bar, unsigned int vec, unsigned int dw, uint32_t v)
{
	passthrough_bar_access(bar, vec * 16 + dw * 4, &v, 4, true);
}

static uint32_t tbl_rd(struct passthrough_bar *bar, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	passthrough_bar_access(bar, off, &v, 4, false);
	return v;
}

static void msix_entry(struct passthrough_bar *bar, unsigned int vec, uint64_t addr,
		       uint32_t data)
{
	tbl_wr(bar, vec, 0, (uint32_t)addr);
	tbl_wr(bar, vec, 1, (uint32_t)(addr >> 32));
	tbl_wr(bar, vec, 2, data);
}

#define PBA_OFF	64

Test(irq, msix_table_and_pba_are_emulated_and_left_out_of_the_mmap)
{
	struct passthrough_bar *bar;
	struct passthrough_device *d = msix_device(false, &bar);
	uint64_t v64 = 0;

	/* The table's page is trapped; the rest of the BAR is the device's mmap. */
	cr_expect_null(mem_map_gpa_to_hva(t.map, MSIX_BAR_GPA, 4));
	cr_expect_not_null(mem_map_gpa_to_hva(t.map, MSIX_BAR_GPA + 4096, 4));
	cr_expect_not_null(mem_map_gpa_to_hva(t.map, MSIX_BAR_GPA + 3 * 4096, 4));
	cr_expect_eq(rd(d, MSIX_CAP + PCI_MSIX_FLAGS, 2), 3, "table size 4");
	/* Entries start masked, zero. */
	for (unsigned int i = 0; i < 4; i++) {
		cr_expect_eq(tbl_rd(bar, i * 16), 0);
		cr_expect_eq(tbl_rd(bar, i * 16 + 12), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	}
	msix_entry(bar, 2, 0xfee0300c, 0x4055);
	cr_expect_eq(tbl_rd(bar, 2 * 16), 0xfee0300c);
	cr_expect_eq(tbl_rd(bar, 2 * 16 + 8), 0x4055);
	/* Reserved vector-control bits read 0. */
	tbl_wr(bar, 2, 3, 0xfffffffe);
	cr_expect_eq(tbl_rd(bar, 2 * 16 + 12), 0);
	passthrough_bar_access(bar, 2 * 16, &v64, 8, false);
	cr_expect_eq(v64, 0xfee0300cULL);
	cr_expect_eq(tbl_rd(bar, PBA_OFF), 0);
	/* Nothing reached the device: the model's table bytes are untouched. */
	cr_expect_eq(irq_type("0000:00:04.0"), VFIO_PCI_INTX_IRQ_INDEX, "MSI-X is not enabled");
	/* Past the table and PBA within their page: the device's. */
	v64 = 0x1122334455667788ULL;
	passthrough_bar_access(bar, 0x800, &v64, 8, true);
	v64 = 0;
	passthrough_bar_access(bar, 0x800, &v64, 8, false);
	cr_expect_eq(v64, 0x1122334455667788ULL);
}

Test(irq, msix_vectors_follow_the_masks_and_the_pba)
{
	struct passthrough_bar *bar;
	struct passthrough_device *d = msix_device(false, &bar);
	int fd0, fd1;

	/* Linux: enable with the function masked, program, unmask the function. */
	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	cr_assert_eq(irq_type("0000:00:04.0"), VFIO_PCI_MSIX_IRQ_INDEX);
	cr_expect_eq(kmodel_device_irq_vectors(t.km, "0000:00:04.0"), 1);
	cr_expect_eq(efd("0000:00:04.0", VFIO_PCI_MSIX_IRQ_INDEX, 0), -1);
	cr_expect_eq(nroutes(), 0, "no vector is unmasked yet");
	cr_expect_eq(vm.nirqfd, 0, "INTx is still bound");
	cr_expect_eq(pt_fixture_eventfds(&t), 0);
	msix_entry(bar, 0, 0xfee01000, 0x4021);
	msix_entry(bar, 1, 0xfee02000, 0x4022);
	tbl_wr(bar, 0, 3, 0);
	/* In use, routed, but the function is masked: not bound. */
	fd0 = efd("0000:00:04.0", VFIO_PCI_MSIX_IRQ_INDEX, 0);
	cr_assert_geq(fd0, 0);
	cr_expect_eq(nroutes(), 1);
	cr_expect_eq(irqfd_of(fd0), -1);
	fire(fd0);
	cr_expect_eq(tbl_rd(bar, PBA_OFF), 1, "not pending while masked");
	/* Function unmasked: bound, the pending one delivered. */
	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	cr_expect_eq(vm.route[route_of(fd0)].addr, 0xfee01000);
	cr_expect_eq(vm.route[route_of(fd0)].data, 0x4021);
	cr_expect_eq(tbl_rd(bar, PBA_OFF), 0);
	cr_expect_eq(drain(fd0), 1, "the pending interrupt was lost");

	/* Vector 1 unmasked: VFIO (no dynamic MSI-X) is enabled again with two. */
	tbl_wr(bar, 1, 3, 0);
	cr_assert_eq(irq_type("0000:00:04.0"), VFIO_PCI_MSIX_IRQ_INDEX);
	cr_expect_eq(kmodel_device_irq_vectors(t.km, "0000:00:04.0"), 2);
	cr_expect_eq(efd("0000:00:04.0", VFIO_PCI_MSIX_IRQ_INDEX, 0), fd0);
	fd1 = efd("0000:00:04.0", VFIO_PCI_MSIX_IRQ_INDEX, 1);
	cr_assert_geq(fd1, 0);
	cr_expect_eq(vm.route[route_of(fd1)].data, 0x4022);
	cr_expect_geq(irqfd_of(fd0), 0);

	/* Vector 1 masked: unbound, its interrupt pending in the PBA. */
	tbl_wr(bar, 1, 3, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	cr_expect_eq(irqfd_of(fd1), -1);
	fire(fd1);
	cr_expect_eq(tbl_rd(bar, PBA_OFF), 2);
	/* Reprogrammed while masked, then unmasked: the new message, delivered. */
	msix_entry(bar, 1, 0xfee04000, 0x4044);
	tbl_wr(bar, 1, 3, 0);
	cr_expect_eq(vm.route[route_of(fd1)].addr, 0xfee04000);
	cr_expect_eq(vm.route[route_of(fd1)].data, 0x4044);
	cr_expect_eq(drain(fd1), 1);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);

	/* Disabled: vectors gone, INTx back. */
	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, 0);
	cr_expect_eq(irq_type("0000:00:04.0"), VFIO_PCI_INTX_IRQ_INDEX);
	cr_expect_eq(nroutes(), 0);
	cr_expect_eq(vm.nirqfd, 1);
	cr_expect_eq(vm.irqfd[0].gsi, INTX_GSI);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
}

static int count_set_irqs(void)
{
	int n = 0;

	for (size_t i = 0; i < t.fault.nlog; i++)
		n += t.fault.log[i].op == FAULT_IOCTL &&
		     t.fault.log[i].req == VFIO_DEVICE_SET_IRQS;
	return n;
}

Test(irq, dynamic_msix_adds_one_vector_without_disabling)
{
	struct passthrough_bar *bar;
	struct passthrough_device *d = msix_device(true, &bar);
	int fd0;

	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	msix_entry(bar, 0, 0xfee01000, 0x21);
	tbl_wr(bar, 0, 3, 0);
	fd0 = efd("0000:00:04.0", VFIO_PCI_MSIX_IRQ_INDEX, 0);
	fault_sys_record(&t.fault, true);
	fault_sys_reset(&t.fault);
	msix_entry(bar, 3, 0xfee01000, 0x24);
	tbl_wr(bar, 3, 3, 0);
	cr_expect_eq(count_set_irqs(), 1, "dynamic MSI-X was disabled to grow");
	cr_expect_eq(kmodel_device_irq_vectors(t.km, "0000:00:04.0"), 4);
	cr_expect_eq(efd("0000:00:04.0", VFIO_PCI_MSIX_IRQ_INDEX, 0), fd0);
	cr_expect_eq(vm.route[route_of(efd("0000:00:04.0", VFIO_PCI_MSIX_IRQ_INDEX, 3))].data,
		     0x24);
	fault_sys_record(&t.fault, false);
}

Test(irq, a_failed_msix_growth_leaves_nothing)
{
	struct passthrough_bar *bar;
	struct passthrough_device *d = msix_device(false, &bar);

	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	tbl_wr(bar, 0, 3, 0);
	cr_assert_eq(nroutes(), 1);
	/* Growing = disable (#1) + enable with two (#2): the enable fails. */
	fault_sys_arm_ioctl(&t.fault, VFIO_DEVICE_SET_IRQS, 2, ENOSPC);
	tbl_wr(bar, 1, 3, 0);
	fault_sys_disarm(&t.fault);
	cr_expect_eq(irq_type("0000:00:04.0"), -1);
	cr_expect_eq(nroutes(), 0, "routes left");
	cr_expect_eq(vm.nirqfd, 0, "irqfds left");
	cr_expect_eq(pt_fixture_eventfds(&t), 0, "eventfds left");
	/* A route that cannot be made for the next vector: that vector only. */
	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, 0);
	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	cr_expect_eq(nroutes(), 2, "both unmasked entries are used at enable");
	vm.fail_op = "gsi_alloc_msi";
	vm.fail_at = 1;
	vm.calls = 0;
	tbl_wr(bar, 2, 3, 0);
	vm.fail_op = NULL;
	cr_expect_eq(nroutes(), 2);
	cr_expect_eq(efd("0000:00:04.0", VFIO_PCI_MSIX_IRQ_INDEX, 2), -1);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
}

/*
 * A vCPU in the MSI-X table, under the bus lock, while another moves the BAR:
 * the mover holds the device while it waits for the bus lock, so the table
 * access must not wait for the device.
 */
static sem_t reader_holds_bus;

static void *table_reader(void *arg)
{
	struct passthrough_bar *bar = arg;

	pthread_rwlock_rdlock(&vm.bus);
	sem_post(&reader_holds_bus);
	while (!__atomic_load_n(&vm.writer_in, __ATOMIC_SEQ_CST))
		usleep(100);
	/* The mover is in trap_del now, waiting for this bus lock. */
	usleep(20000);
	(void)tbl_rd(bar, 12);
	pthread_rwlock_unlock(&vm.bus);
	return NULL;
}

/* Deadlocked (the test times out) if a table access took the lock a BAR move holds. */
Test(irq, a_bar_move_and_a_table_access_do_not_deadlock, .timeout = 30)
{
	struct passthrough_bar *bar;
	struct passthrough_device *d = msix_device(false, &bar);
	pthread_t th;

	sem_init(&reader_holds_bus, 0, 0);
	cr_assert_eq(pthread_create(&th, NULL, table_reader, bar), 0);
	sem_wait(&reader_holds_bus);
	wr(d, 0x18, 4, (uint32_t)MSIX_BAR_GPA + 0x100000);
	pthread_join(th, NULL);
	cr_expect_eq(vm.ntrap, 1);
	cr_expect_eq(vm.trap[0].base, MSIX_BAR_GPA + 0x100000);
}

/* ---- Reset ---- */

Test(irq, reset_turns_everything_back_to_power_on)
{
	struct passthrough_bar *bar;
	struct passthrough_device *d = msix_device(false, &bar);
	int resets = kmodel_device_resets(t.km, "0000:00:04.0");

	wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	msix_entry(bar, 0, 0xfee01000, 0x21);
	tbl_wr(bar, 0, 3, 0);
	cr_assert_eq(nroutes(), 1);
	wr(d, PCI_INTERRUPT_LINE, 1, 11);

	cr_expect_eq(passthrough_device_reset(d), 0);
	cr_expect_eq(irq_type("0000:00:04.0"), VFIO_PCI_INTX_IRQ_INDEX, "INTx not back");
	cr_expect_eq(nroutes(), 0);
	cr_expect_eq(vm.nirqfd, 1);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
	cr_expect_eq(vm.ntrap, 0, "a BAR stayed in the guest");
	cr_expect_null(mem_map_gpa_to_hva(t.map, MSIX_BAR_GPA + 4096, 4));
	cr_expect_eq(rd(d, PCI_COMMAND, 2) & 0x7, 0);
	cr_expect_eq(rd(d, 0x18, 4), 0x4, "BAR2: its type bits only");
	cr_expect_eq(rd(d, 0x1c, 4), 0);
	cr_expect_eq(rd(d, PCI_INTERRUPT_LINE, 1), 0);
	cr_expect_eq(rd(d, MSIX_CAP + PCI_MSIX_FLAGS, 2), 3);
	/* On the root bus with others the model cannot reset it; ferry does not pretend. */
	cr_expect_eq(kmodel_device_resets(t.km, "0000:00:04.0"), resets);
	/* The table is back to masked zeros once the guest maps the BAR again. */
	wr(d, 0x18, 4, (uint32_t)MSIX_BAR_GPA);
	wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vm.ntrap, 1);
	cr_expect_eq(tbl_rd(bar, 0), 0);
	cr_expect_eq(tbl_rd(bar, 12), PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

Test(irq, reset_resets_a_device_that_can_and_msi_goes)
{
	struct passthrough_device *d = place("0000:02:00.0");
	int resets = kmodel_device_resets(t.km, "0000:02:00.0");

	msi_program(d, 0xfee01000, 0x41);
	msi_enable(d, 0);
	cr_assert_eq(irq_type("0000:02:00.0"), VFIO_PCI_MSI_IRQ_INDEX);
	cr_expect_eq(passthrough_host_reset(t.host), 0);
	cr_expect_eq(kmodel_device_resets(t.km, "0000:02:00.0"), resets + 1);
	cr_expect_eq(irq_type("0000:02:00.0"), VFIO_PCI_INTX_IRQ_INDEX);
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_64BIT);
	cr_expect_eq(rd(d, MSI_CAP + PCI_MSI_ADDRESS_LO, 4), 0);
	cr_expect_eq(nroutes(), 0);
	cr_expect_eq(pt_fixture_eventfds(&t), 2);
}

/* ---- ROM ---- */

Test(irq, the_rom_is_sized_placed_and_read_only)
{
	struct passthrough_device *d;
	uint32_t v = 0;

	cr_assert_eq(kmodel_device_set_rom(t.km, "0000:00:03.0", 65536), 0);
	d = add("0000:00:03.0");
	cr_expect_eq(rd(d, PCI_ROM_ADDRESS, 4), 0);
	wr(d, PCI_ROM_ADDRESS, 4, 0xfffffffe);
	cr_expect_eq(rd(d, PCI_ROM_ADDRESS, 4), 0xffff0000, "64 KiB: %08x",
		     rd(d, PCI_ROM_ADDRESS, 4));
	/* Placed and enabled, but memory decoding off: not in the guest. */
	wr(d, PCI_ROM_ADDRESS, 4, 0xfeb00000 | PCI_ROM_ADDRESS_ENABLE);
	cr_expect_eq(vm.ntrap, 0);
	wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vm.ntrap, 1);
	cr_expect_eq(vm.trap[0].base, 0xfeb00000);
	cr_expect_eq(vm.trap[0].len, 65536);
	passthrough_bar_access(vm.trap[0].bar, 0, &v, 2, false);
	cr_expect_eq(v, 0xaa55, "ROM signature %04x", v);
	passthrough_bar_access(vm.trap[0].bar, 65534, &v, 2, false);
	cr_expect_eq(v & 0xffff, 0xaa55);
	/* Writes are dropped. */
	v = 0;
	passthrough_bar_access(vm.trap[0].bar, 0, &v, 2, true);
	passthrough_bar_access(vm.trap[0].bar, 0, &v, 2, false);
	cr_expect_eq(v & 0xffff, 0xaa55);
	/* Enable bit off: gone. */
	wr(d, PCI_ROM_ADDRESS, 4, 0xfeb00000);
	cr_expect_eq(vm.ntrap, 0);
	wr(d, PCI_ROM_ADDRESS, 4, 0xfeb00000 | PCI_ROM_ADDRESS_ENABLE);
	cr_expect_eq(vm.ntrap, 1);
	/* Reset: register 0, out of the guest. */
	passthrough_device_reset(d);
	cr_expect_eq(rd(d, PCI_ROM_ADDRESS, 4), 0);
	cr_expect_eq(vm.ntrap, 0);
}

Test(irq, without_a_rom_register_0x30_reads_0)
{
	struct passthrough_device *d = add("0000:00:03.0");

	wr(d, PCI_ROM_ADDRESS, 4, 0xffffffff);
	cr_expect_eq(rd(d, PCI_ROM_ADDRESS, 4), 0);
	wr(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_expect_eq(vm.ntrap, 0);
}

/* ---- Removal ---- */

Test(irq, removal_with_msix_on_leaves_nothing)
{
	struct passthrough_bar *bar;
	struct passthrough_device *d = msix_device(false, &bar);

	wr(d, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	tbl_wr(bar, 0, 3, 0);
	tbl_wr(bar, 1, 3, 0);
	cr_assert_eq(nroutes(), 2);
	cr_assert_eq(passthrough_device_remove(d, t.err, sizeof(t.err)), 0, "%s", t.err);
	cr_expect_eq(nroutes(), 0);
	cr_expect_eq(vm.nirqfd, 0);
	cr_expect_eq(pt_fixture_eventfds(&t), 0);
	cr_expect_eq(kmodel_device_open_count(t.km, "0000:00:04.0"), 0);
}
