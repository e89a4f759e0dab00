// SPDX-License-Identifier: GPL-2.0-only
/*
 * A passthrough device's interrupts: INTx, MSI and MSI-X, delivered by KVM
 * without passing through ferry.
 *
 * VFIO signals an eventfd per interrupt; KVM turns a write to an eventfd
 * into an interrupt through an irqfd bound to a GSI:
 *  - INTx: the trigger eventfd is a level irqfd on the slot's INTx GSI;
 *    KVM lowers the line on the guest's EOI and signals the resample
 *    eventfd, which is VFIO's INTx unmask eventfd (VFIO masks the line
 *    when it fires).  The guest's COMMAND INTx-disable bit reaches the
 *    device, where vfio-pci emulates it by masking the line too.
 *  - MSI and MSI-X: one eventfd per vector, each bound to its own KVM MSI
 *    route carrying the message the guest programmed.  A masked vector
 *    (MSI per-vector mask, MSI-X entry or function mask) has no irqfd: its
 *    eventfd's counter is the pending bit (the PBA reads it), and unmasking
 *    binds it again, delivering what came meanwhile.
 *
 * The guest's MSI and MSI-X capability registers and the MSI-X table live
 * here (dev->emu[] and msix.table), never on the device: the host kernel
 * owns the device's real messages.  VFIO allows one interrupt type at a
 * time, so the mode follows the guest: MSI-X if enabled, else MSI if
 * enabled, else INTx when the device has a pin and the VMM gave its GSI.
 *
 * Invariants (dev->irq_lock held everywhere): a vector is in use iff its efd is
 * >= 0, and then it owns a route; vec->irqfd says whether the irqfd exists;
 * dev->irq_mode names what is enabled in VFIO; every failure leaves the
 * mode's previous state or PT_IRQ_NONE, with nothing of the attempt left.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "passthrough/priv.h"

#define PT_MSIX_CTRL_MASK	(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)

static const struct passthrough_vm_ops *pt_ops(struct passthrough_device *dev)
{
	return dev->host->cfg.ops;
}

static void *pt_vm(struct passthrough_device *dev)
{
	return dev->host->cfg.vm;
}

/* Interrupts need every op; a VM without them gets a device that never interrupts. */
static bool pt_irq_can(struct passthrough_device *dev)
{
	const struct passthrough_vm_ops *ops = pt_ops(dev);

	return ops && ops->gsi_alloc_msi && ops->gsi_update_msi && ops->gsi_free &&
	       ops->irqfd_assign && ops->irqfd_deassign;
}

/* A failure the guest caused cannot be returned to it: the operator is told, once. */
static void pt_irq_say(struct passthrough_device *dev, const char *what, int ret)
{
	if (dev->irq_error_said)
		return;
	dev->irq_error_said = true;
	fprintf(stderr, "ferry: passthrough %s: cannot %s (%s); what failed stays off until "
		"the guest sets it up again\n",
		dev->opts.id[0] ? dev->opts.id : dev->opts.host, what,
		ret == -ENOSPC ? "out of interrupt vectors: the host's for this device, or "
				 "KVM's GSI routes" : strerror(-ret));
}

static uint16_t pt_emu16(struct passthrough_device *dev, unsigned int off)
{
	return (uint16_t)(dev->emu[off] | dev->emu[off + 1] << 8);
}

static uint32_t pt_emu32(struct passthrough_device *dev, unsigned int off)
{
	return pt_emu16(dev, off) | (uint32_t)pt_emu16(dev, off + 2) << 16;
}

static void pt_emu_set(struct passthrough_device *dev, unsigned int off, unsigned int len,
		       uint32_t val, uint32_t wmask)
{
	for (unsigned int i = 0; i < len; i++) {
		dev->kind[off + i] = PT_CFG_EMULATED;
		dev->emu[off + i] = (uint8_t)(val >> (8 * i));
		dev->emu_wmask[off + i] = (uint8_t)(wmask >> (8 * i));
	}
}

/* ---- Vectors ---- */

static int pt_vec_open(struct passthrough_device *dev, struct pt_vector *v, uint64_t addr,
		       uint32_t data)
{
	int ret;

	v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->efd < 0)
		return -errno;
	ret = pt_ops(dev)->gsi_alloc_msi(pt_vm(dev), addr, data, &v->gsi);
	if (ret) {
		close(v->efd);
		v->efd = -1;
		return ret;
	}
	v->addr = addr;
	v->data = data;
	v->irqfd = false;
	return 0;
}

static void pt_vec_close(struct passthrough_device *dev, struct pt_vector *v)
{
	if (v->efd < 0)
		return;
	if (v->irqfd)
		pt_ops(dev)->irqfd_deassign(pt_vm(dev), v->efd, v->gsi);
	v->irqfd = false;
	pt_ops(dev)->gsi_free(pt_vm(dev), v->gsi);
	close(v->efd);
	v->efd = -1;
}

/* A masked vector's interrupt is waiting in its eventfd. */
static bool pt_vec_pending(const struct pt_vector *v)
{
	struct pollfd p = { .fd = v->efd, .events = POLLIN };

	return v->efd >= 0 && !v->irqfd && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void pt_vec_signal(struct pt_vector *v)
{
	uint64_t one = 1;

	if (write(v->efd, &one, sizeof(one)) != sizeof(one))
		return;	/* the counter cannot overflow from 0: nothing to do */
}

/*
 * Unmasked: bound to its route, so KVM delivers it.  Masked: unbound, and
 * the eventfd keeps what comes.  On unmask, what came is taken out of the
 * counter and written again once the irqfd exists, so KVM delivers it at once
 * and the counter no longer reads as pending.
 */
static int pt_vec_mask(struct passthrough_device *dev, struct pt_vector *v, bool masked)
{
	uint64_t cnt = 0;
	bool pending;
	int ret;

	if (v->efd < 0 || masked == !v->irqfd)
		return 0;
	if (masked) {
		ret = pt_ops(dev)->irqfd_deassign(pt_vm(dev), v->efd, v->gsi);
		if (!ret)
			v->irqfd = false;
		return ret;
	}
	pending = read(v->efd, &cnt, sizeof(cnt)) == sizeof(cnt) && cnt;
	ret = pt_ops(dev)->irqfd_assign(pt_vm(dev), v->efd, v->gsi, -1);
	if (pending)
		pt_vec_signal(v);
	if (!ret)
		v->irqfd = true;
	return ret;
}

static int pt_vec_route(struct passthrough_device *dev, struct pt_vector *v, uint64_t addr,
			uint32_t data)
{
	int ret;

	if (v->efd < 0 || (v->addr == addr && v->data == data))
		return 0;
	ret = pt_ops(dev)->gsi_update_msi(pt_vm(dev), v->gsi, addr, data);
	if (!ret) {
		v->addr = addr;
		v->data = data;
	}
	return ret;
}

/* ---- INTx ---- */

static int pt_intx_on(struct passthrough_device *dev)
{
	struct pt_intx *x = &dev->intx;
	int32_t trigger;
	int ret;

	x->trigger = eventfd(0, EFD_CLOEXEC);
	if (x->trigger < 0)
		return -errno;
	x->resample = eventfd(0, EFD_CLOEXEC);
	if (x->resample < 0) {
		ret = -errno;
		goto err_trigger;
	}
	/* KVM first: an interrupt VFIO signals before the bind is taken at bind time. */
	ret = pt_ops(dev)->irqfd_assign(pt_vm(dev), x->trigger, (uint32_t)x->gsi, x->resample);
	if (ret)
		goto err_resample;
	trigger = x->trigger;
	ret = vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
					  &trigger);
	if (ret)
		goto err_irqfd;
	ret = vfio_devfd_irq_unmask_eventfd(dev->sys, dev->fd, VFIO_PCI_INTX_IRQ_INDEX, 0,
					    x->resample);
	if (ret)
		goto err_vfio;
	return 0;

err_vfio:
	vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL);
err_irqfd:
	pt_ops(dev)->irqfd_deassign(pt_vm(dev), x->trigger, (uint32_t)x->gsi);
err_resample:
	close(x->resample);
	x->resample = -1;
err_trigger:
	close(x->trigger);
	x->trigger = -1;
	return ret;
}

static void pt_intx_off(struct passthrough_device *dev)
{
	struct pt_intx *x = &dev->intx;

	/* Disabling the index drops VFIO's unmask eventfd too. */
	vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL);
	/* KVM lowers the line when the last resampler of the GSI goes. */
	pt_ops(dev)->irqfd_deassign(pt_vm(dev), x->trigger, (uint32_t)x->gsi);
	close(x->resample);
	close(x->trigger);
	x->trigger = x->resample = -1;
}

/* ---- MSI ---- */

static unsigned int pt_msi_len(const struct pt_msi *m)
{
	return (m->is64 ? 14 : 10) + (m->maskbit ? 10 : 0);
}

static unsigned int pt_msi_data_off(const struct pt_msi *m)
{
	return m->cap + (m->is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32);
}

static unsigned int pt_msi_mask_off(const struct pt_msi *m)
{
	return m->cap + (m->is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
}

static unsigned int pt_msi_pending_off(const struct pt_msi *m)
{
	return pt_msi_mask_off(m) + 4;
}

static uint64_t pt_msi_addr(struct passthrough_device *dev)
{
	const struct pt_msi *m = &dev->msi;
	uint64_t addr = pt_emu32(dev, m->cap + PCI_MSI_ADDRESS_LO);

	if (m->is64)
		addr |= (uint64_t)pt_emu32(dev, m->cap + PCI_MSI_ADDRESS_HI) << 32;
	return addr;
}

/* Vector @i of @nvec: the low bits of the data are the vector number. */
static uint32_t pt_msi_data(struct passthrough_device *dev, unsigned int i, unsigned int nvec)
{
	return (pt_emu16(dev, pt_msi_data_off(&dev->msi)) & ~(nvec - 1)) | i;
}

static bool pt_msi_masked(struct passthrough_device *dev, unsigned int i)
{
	return dev->msi.maskbit && (pt_emu32(dev, pt_msi_mask_off(&dev->msi)) >> i & 1);
}

/* Vectors the guest enabled: 2^MME, at most what the device offers. */
static unsigned int pt_msi_wanted(struct passthrough_device *dev)
{
	uint16_t flags = pt_emu16(dev, dev->msi.cap + PCI_MSI_FLAGS);

	if (!dev->msi.cap || !(flags & PCI_MSI_FLAGS_ENABLE))
		return 0;
	return 1u << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4);
}

static void pt_msi_off(struct passthrough_device *dev)
{
	vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL);
	for (unsigned int i = 0; i < dev->msi.nvec; i++)
		pt_vec_close(dev, &dev->msi.vec[i]);
	dev->msi.nvec = 0;
}

static int pt_msi_on(struct passthrough_device *dev, unsigned int nvec)
{
	struct pt_msi *m = &dev->msi;
	int32_t fds[PT_MSI_MAX];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < nvec && !ret; i++) {
		ret = pt_vec_open(dev, &m->vec[i], pt_msi_addr(dev), pt_msi_data(dev, i, nvec));
		if (!ret)
			ret = pt_vec_mask(dev, &m->vec[i], pt_msi_masked(dev, i));
		fds[i] = m->vec[i].efd;
	}
	if (!ret)
		ret = vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_MSI_IRQ_INDEX, 0,
						  nvec, fds);
	if (ret) {
		while (i--)
			pt_vec_close(dev, &m->vec[i]);
		return ret;
	}
	m->nvec = nvec;
	return 0;
}

/* The guest changed the message or the masks of an enabled MSI. */
static int pt_msi_sync(struct passthrough_device *dev)
{
	struct pt_msi *m = &dev->msi;
	int ret = 0;

	for (unsigned int i = 0; i < m->nvec && !ret; i++) {
		ret = pt_vec_route(dev, &m->vec[i], pt_msi_addr(dev), pt_msi_data(dev, i, m->nvec));
		if (!ret)
			ret = pt_vec_mask(dev, &m->vec[i], pt_msi_masked(dev, i));
	}
	return ret;
}

/* ---- MSI-X ---- */

static uint16_t pt_msix_ctrl(struct passthrough_device *dev)
{
	return dev->msix.cap ? pt_emu16(dev, dev->msix.cap + PCI_MSIX_FLAGS) : 0;
}

static bool pt_msix_entry_masked(struct passthrough_device *dev, unsigned int i)
{
	return dev->msix.table[i * 4 + 3] & PCI_MSIX_ENTRY_CTRL_MASKBIT;
}

static bool pt_msix_masked(struct passthrough_device *dev, unsigned int i)
{
	return (pt_msix_ctrl(dev) & PCI_MSIX_FLAGS_MASKALL) || pt_msix_entry_masked(dev, i);
}

static uint64_t pt_msix_addr(struct passthrough_device *dev, unsigned int i)
{
	return dev->msix.table[i * 4] | (uint64_t)dev->msix.table[i * 4 + 1] << 32;
}

/* Gives VFIO the eventfds of vectors [@start, @start + @count) (-1: unused). */
static int pt_msix_set(struct passthrough_device *dev, unsigned int start, unsigned int count)
{
	int32_t *fds = calloc(count, sizeof(*fds));
	int ret;

	if (!fds)
		return -ENOMEM;
	for (unsigned int i = 0; i < count; i++)
		fds[i] = dev->msix.vec[start + i].efd;
	ret = vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_MSIX_IRQ_INDEX, start,
					  count, fds);
	free(fds);
	return ret;
}

static void pt_msix_off(struct passthrough_device *dev)
{
	struct pt_msix *m = &dev->msix;

	if (m->on)
		vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0,
					    NULL);
	m->on = false;
	m->nr_alloc = 0;
	for (unsigned int i = 0; i < m->nvec; i++)
		pt_vec_close(dev, &m->vec[i]);
}

/*
 * Vector @i is unmasked for the first time since MSI-X was enabled: it gets
 * an eventfd and a route, and VFIO the eventfd.  Within the vectors VFIO's
 * enable allocated, or with dynamic MSI-X (no NORESIZE), VFIO takes the one
 * vector; otherwise (Linux < 6.5, or an irq domain without dynamic
 * allocation) MSI-X is enabled again in VFIO with enough vectors.
 */
static int pt_msix_use(struct passthrough_device *dev, unsigned int i)
{
	struct pt_msix *m = &dev->msix;
	struct pt_vector *v = &m->vec[i];
	int ret;

	ret = pt_vec_open(dev, v, pt_msix_addr(dev, i), m->table[i * 4 + 2]);
	if (ret)
		return ret;
	if (i < m->nr_alloc || !m->noresize) {
		ret = pt_msix_set(dev, i, 1);
		if (ret)
			goto err_close;
		if (i >= m->nr_alloc)
			m->nr_alloc = i + 1;
	} else {
		vfio_devfd_irq_set_eventfds(dev->sys, dev->fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL);
		ret = pt_msix_set(dev, 0, i + 1);
		if (ret) {
			/* MSI-X is off in VFIO now: the other vectors go too. */
			m->on = false;
			pt_msix_off(dev);
			return ret;
		}
		m->nr_alloc = i + 1;
	}
	return pt_vec_mask(dev, v, pt_msix_masked(dev, i));

err_close:
	pt_vec_close(dev, v);
	return ret;
}

/* Vector @i after a change of its entry or of the function mask. */
static int pt_msix_sync_one(struct passthrough_device *dev, unsigned int i)
{
	struct pt_vector *v = &dev->msix.vec[i];
	int ret;

	if (v->efd < 0)
		return pt_msix_entry_masked(dev, i) ? 0 : pt_msix_use(dev, i);
	ret = pt_vec_route(dev, v, pt_msix_addr(dev, i), dev->msix.table[i * 4 + 2]);
	if (!ret)
		ret = pt_vec_mask(dev, v, pt_msix_masked(dev, i));
	return ret;
}

static int pt_msix_sync(struct passthrough_device *dev)
{
	int ret = 0;

	for (unsigned int i = 0; i < dev->msix.nvec && !ret && dev->msix.on; i++)
		ret = pt_msix_sync_one(dev, i);
	return ret;
}

/*
 * VFIO enables MSI-X with at least one vector: the entries unmasked now (a
 * guest usually has none yet), else vector 0 without an eventfd.
 */
static int pt_msix_on(struct passthrough_device *dev)
{
	struct pt_msix *m = &dev->msix;
	unsigned int i, count = 1;
	int ret = 0;

	for (i = 0; i < m->nvec && !ret; i++) {
		if (pt_msix_entry_masked(dev, i))
			continue;
		ret = pt_vec_open(dev, &m->vec[i], pt_msix_addr(dev, i), m->table[i * 4 + 2]);
		count = i + 1;
	}
	if (!ret)
		ret = pt_msix_set(dev, 0, count);
	if (ret) {
		for (i = 0; i < m->nvec; i++)
			pt_vec_close(dev, &m->vec[i]);
		return ret;
	}
	m->on = true;
	m->nr_alloc = count;
	ret = pt_msix_sync(dev);
	if (ret)
		pt_msix_off(dev);
	return ret;
}

/* ---- The mode ---- */

static void pt_irq_off(struct passthrough_device *dev)
{
	switch (dev->irq_mode) {
	case PT_IRQ_INTX:
		pt_intx_off(dev);
		break;
	case PT_IRQ_MSI:
		pt_msi_off(dev);
		break;
	case PT_IRQ_MSIX:
		pt_msix_off(dev);
		break;
	case PT_IRQ_NONE:
		break;
	}
	dev->irq_mode = PT_IRQ_NONE;
}

static enum pt_irq_mode pt_irq_wanted(struct passthrough_device *dev)
{
	if (!pt_irq_can(dev))
		return PT_IRQ_NONE;
	if (pt_msix_ctrl(dev) & PCI_MSIX_FLAGS_ENABLE)
		return PT_IRQ_MSIX;
	if (pt_msi_wanted(dev))
		return PT_IRQ_MSI;
	if (dev->intx.pin && dev->intx.gsi >= 0)
		return PT_IRQ_INTX;
	return PT_IRQ_NONE;
}

void pt_irq_update(struct passthrough_device *dev)
{
	enum pt_irq_mode want = pt_irq_wanted(dev);
	int ret = 0;

	if (want == dev->irq_mode) {
		if (want == PT_IRQ_MSI && pt_msi_wanted(dev) != dev->msi.nvec) {
			/* A new vector count: VFIO takes it only by enabling again. */
			pt_msi_off(dev);
			dev->irq_mode = PT_IRQ_NONE;
		} else if (want == PT_IRQ_MSI) {
			ret = pt_msi_sync(dev);
			if (ret)
				pt_irq_say(dev, "update an MSI vector", ret);
			return;
		} else if (want == PT_IRQ_MSIX) {
			ret = pt_msix_sync(dev);
			if (ret)
				pt_irq_say(dev, "update the MSI-X vectors", ret);
			if (!dev->msix.on)
				dev->irq_mode = PT_IRQ_NONE;
			return;
		} else {
			return;
		}
	}
	pt_irq_off(dev);
	switch (want) {
	case PT_IRQ_INTX:
		ret = pt_intx_on(dev);
		if (ret)
			pt_irq_say(dev, "enable INTx", ret);
		break;
	case PT_IRQ_MSI:
		ret = pt_msi_on(dev, pt_msi_wanted(dev));
		if (ret)
			pt_irq_say(dev, "enable MSI", ret);
		break;
	case PT_IRQ_MSIX:
		ret = pt_msix_on(dev);
		if (ret)
			pt_irq_say(dev, "enable MSI-X", ret);
		break;
	case PT_IRQ_NONE:
		break;
	}
	if (!ret)
		dev->irq_mode = want;
	else if (dev->irq_mode == PT_IRQ_MSIX && !dev->msix.on)
		dev->irq_mode = PT_IRQ_NONE;
}

int pt_intx_set_gsi(struct passthrough_device *dev, int gsi)
{
	int ret = 0;

	/* A new GSI is a new irqfd. */
	if (dev->irq_mode == PT_IRQ_INTX)
		pt_irq_off(dev);
	dev->intx.gsi = gsi;
	if (dev->irq_mode == PT_IRQ_NONE && pt_irq_wanted(dev) == PT_IRQ_INTX) {
		ret = pt_intx_on(dev);
		if (ret)
			dev->intx.gsi = -1;
		else
			dev->irq_mode = PT_IRQ_INTX;
	}
	return ret;
}

/* ---- Config space ---- */

static void pt_msi_init(struct passthrough_device *dev, const uint8_t *cfg, unsigned int count)
{
	struct pt_msi *m = &dev->msi;
	uint16_t flags = cfg[m->cap + PCI_MSI_FLAGS] | cfg[m->cap + PCI_MSI_FLAGS + 1] << 8;
	unsigned int log2 = 0;

	m->is64 = flags & PCI_MSI_FLAGS_64BIT;
	m->maskbit = flags & PCI_MSI_FLAGS_MASKBIT;
	/*
	 * VFIO's count is the device's Multiple Message Capable; its virtual
	 * register reads 1 vector until MSI is enabled, so it is not used.
	 */
	m->max = count && count <= PT_MSI_MAX && !(count & (count - 1)) ? count : 1;
	while ((1u << log2) < m->max)
		log2++;
	for (unsigned int i = 0; i < PT_MSI_MAX; i++)
		m->vec[i].efd = -1;
	/* Everything after the header is emulated; writable bits as PCI defines them. */
	pt_emu_set(dev, m->cap + PCI_MSI_FLAGS, 2,
		   (flags & (PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT)) | log2 << 1,
		   PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
	pt_emu_set(dev, m->cap + PCI_MSI_ADDRESS_LO, 4, 0, 0xfffffffc);
	if (m->is64)
		pt_emu_set(dev, m->cap + PCI_MSI_ADDRESS_HI, 4, 0, 0xffffffff);
	pt_emu_set(dev, pt_msi_data_off(m), 2, 0, 0xffff);
	if (m->maskbit) {
		/* Extended message data is not offered: its enable bit reads 0. */
		pt_emu_set(dev, pt_msi_data_off(m) + 2, 2, 0, 0);
		pt_emu_set(dev, pt_msi_mask_off(m), 4, 0,
			   m->max == 32 ? 0xffffffff : (1u << m->max) - 1);
		pt_emu_set(dev, pt_msi_pending_off(m), 4, 0, 0);
	}
}

static int pt_msix_init(struct passthrough_device *dev, const uint8_t *cfg, unsigned int count,
			uint32_t irq_flags, char *err, size_t errlen)
{
	struct pt_msix *m = &dev->msix;
	unsigned int c = m->cap;
	uint16_t ctrl = cfg[c + PCI_MSIX_FLAGS] | cfg[c + PCI_MSIX_FLAGS + 1] << 8;
	uint32_t table, pba;

	memcpy(&table, cfg + c + PCI_MSIX_TABLE, 4);
	memcpy(&pba, cfg + c + PCI_MSIX_PBA, 4);
	m->nvec = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
	if (count && count < m->nvec)
		m->nvec = count;
	m->table_bar = table & PCI_MSIX_TABLE_BIR;
	m->table_off = table & PCI_MSIX_TABLE_OFFSET;
	m->pba_bar = pba & PCI_MSIX_PBA_BIR;
	m->pba_off = pba & PCI_MSIX_PBA_OFFSET;
	m->noresize = irq_flags & VFIO_IRQ_INFO_NORESIZE;
	if (m->table_bar >= PT_NR_BARS || m->pba_bar >= PT_NR_BARS) {
		snprintf(err, errlen, "-device host=%s: its MSI-X table or PBA is in BAR %u, "
			 "which does not exist", dev->opts.host,
			 m->table_bar >= PT_NR_BARS ? m->table_bar : m->pba_bar);
		return -EINVAL;
	}
	m->table = calloc(m->nvec * 4, sizeof(*m->table));
	m->vec = calloc(m->nvec, sizeof(*m->vec));
	if (!m->table || !m->vec) {
		free(m->table);
		free(m->vec);
		m->table = NULL;
		m->vec = NULL;
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < m->nvec; i++) {
		m->table[i * 4 + 3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
		m->vec[i].efd = -1;
	}
	pt_emu_set(dev, c + PCI_MSIX_FLAGS, 2, m->nvec - 1, PT_MSIX_CTRL_MASK);
	pt_emu_set(dev, c + PCI_MSIX_TABLE, 4, table, 0);
	pt_emu_set(dev, c + PCI_MSIX_PBA, 4, pba, 0);
	return 0;
}

int pt_irq_init(struct passthrough_device *dev, const uint8_t *cfg, char *err, size_t errlen)
{
	struct vfio_irq irq = { 0 };
	int ret;

	dev->irq_mode = PT_IRQ_NONE;
	dev->intx.gsi = -1;
	dev->intx.trigger = dev->intx.resample = -1;
	dev->intx.pin = cfg[PCI_INTERRUPT_PIN] &&
			!vfio_devfd_get_irq(dev->sys, dev->fd, VFIO_PCI_INTX_IRQ_INDEX, &irq) &&
			irq.count;
	if (dev->msi.cap) {
		ret = vfio_devfd_get_irq(dev->sys, dev->fd, VFIO_PCI_MSI_IRQ_INDEX, &irq);
		pt_msi_init(dev, cfg, ret ? 0 : irq.count);
	}
	if (dev->msix.cap) {
		ret = vfio_devfd_get_irq(dev->sys, dev->fd, VFIO_PCI_MSIX_IRQ_INDEX, &irq);
		if (ret)
			irq = (struct vfio_irq){ .flags = VFIO_IRQ_INFO_NORESIZE };
		ret = pt_msix_init(dev, cfg, irq.count, irq.flags, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

void pt_irq_release(struct passthrough_device *dev)
{
	pt_irq_off(dev);
	free(dev->msix.table);
	free(dev->msix.vec);
	dev->msix.table = NULL;
	dev->msix.vec = NULL;
	dev->msix.cap = 0;
	dev->msi.cap = 0;
}

void pt_irq_reset(struct passthrough_device *dev)
{
	pt_irq_off(dev);
	dev->irq_error_said = false;
	if (dev->msi.cap) {
		struct pt_msi *m = &dev->msi;
		uint16_t flags = pt_emu16(dev, m->cap + PCI_MSI_FLAGS);

		flags &= ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
		dev->emu[m->cap + PCI_MSI_FLAGS] = (uint8_t)flags;
		memset(&dev->emu[m->cap + PCI_MSI_ADDRESS_LO], 0,
		       pt_msi_len(m) - PCI_MSI_ADDRESS_LO);
	}
	if (dev->msix.cap) {
		dev->emu[dev->msix.cap + PCI_MSIX_FLAGS + 1] &= ~(PT_MSIX_CTRL_MASK >> 8);
		memset(dev->msix.table, 0, dev->msix.nvec * 4 * sizeof(*dev->msix.table));
		for (unsigned int i = 0; i < dev->msix.nvec; i++)
			dev->msix.table[i * 4 + 3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	}
}

bool pt_irq_cfg_owns(struct passthrough_device *dev, unsigned int off)
{
	const struct pt_msi *m = &dev->msi;
	const struct pt_msix *x = &dev->msix;

	return (m->cap && off >= m->cap + PCI_MSI_FLAGS && off < m->cap + pt_msi_len(m)) ||
	       (x->cap && off >= x->cap + PCI_MSIX_FLAGS && off < x->cap + PCI_CAP_MSIX_SIZEOF);
}

uint8_t pt_irq_cfg_read(struct passthrough_device *dev, unsigned int off)
{
	const struct pt_msi *m = &dev->msi;
	uint8_t b = 0;

	pthread_mutex_lock(&dev->irq_lock);
	if (m->cap && m->maskbit && off >= pt_msi_pending_off(m) &&
	    off < pt_msi_pending_off(m) + 4) {
		unsigned int first = (off - pt_msi_pending_off(m)) * 8;

		for (unsigned int i = first; i < first + 8 && i < m->nvec; i++)
			if (pt_vec_pending(&m->vec[i]))
				b |= 1u << (i - first);
	} else {
		b = dev->emu[off];
	}
	pthread_mutex_unlock(&dev->irq_lock);
	return b;
}

void pt_irq_cfg_write(struct passthrough_device *dev, unsigned int off, uint8_t b)
{
	pthread_mutex_lock(&dev->irq_lock);
	dev->emu[off] = (dev->emu[off] & ~dev->emu_wmask[off]) | (b & dev->emu_wmask[off]);
	pthread_mutex_unlock(&dev->irq_lock);
}

void pt_irq_cfg_written(struct passthrough_device *dev)
{
	struct pt_msi *m = &dev->msi;

	pthread_mutex_lock(&dev->irq_lock);
	if (m->cap) {
		unsigned int off = m->cap + PCI_MSI_FLAGS;
		unsigned int qmax = (dev->emu[off] & PCI_MSI_FLAGS_QMASK) >> 1;
		unsigned int qsize = (dev->emu[off] & PCI_MSI_FLAGS_QSIZE) >> 4;

		/* More vectors than offered: the most offered, as vfio-pci does. */
		if (qsize > qmax)
			dev->emu[off] = (uint8_t)((dev->emu[off] & ~PCI_MSI_FLAGS_QSIZE) | qmax << 4);
	}
	pt_irq_update(dev);
	pthread_mutex_unlock(&dev->irq_lock);
}

/* ---- The MSI-X table and PBA (in a BAR, trapped) ---- */

static uint64_t pt_msix_table_len(const struct pt_msix *m)
{
	return (uint64_t)m->nvec * PCI_MSIX_ENTRY_SIZE;
}

static uint64_t pt_msix_pba_len(const struct pt_msix *m)
{
	return ((uint64_t)m->nvec + 63) / 64 * 8;
}

int pt_msix_holes(struct passthrough_device *dev, int bar, uint64_t page, uint64_t *start,
		  uint64_t *end, int max)
{
	const struct pt_msix *m = &dev->msix;
	int n = 0;

	if (!m->cap)
		return 0;
	if (m->table_bar == bar && n < max) {
		start[n] = m->table_off & ~(page - 1);
		end[n++] = (m->table_off + pt_msix_table_len(m) + page - 1) & ~(page - 1);
	}
	if (m->pba_bar == bar && n < max) {
		start[n] = m->pba_off & ~(page - 1);
		end[n++] = (m->pba_off + pt_msix_pba_len(m) + page - 1) & ~(page - 1);
	}
	return n;
}

static uint32_t pt_msix_pba_read(struct passthrough_device *dev, unsigned int dword)
{
	uint32_t v = 0;

	for (unsigned int b = 0; b < 32; b++) {
		unsigned int i = dword * 32 + b;

		if (i < dev->msix.nvec && pt_vec_pending(&dev->msix.vec[i]))
			v |= 1u << b;
	}
	return v;
}

bool pt_msix_access(struct passthrough_device *dev, int bar, uint64_t off, void *data,
		    unsigned int len, bool is_write)
{
	struct pt_msix *m = &dev->msix;
	bool table, pba;
	uint32_t dw[2] = { 0, 0 };
	unsigned int first;

	if (!m->cap)
		return false;
	table = bar == m->table_bar && off >= m->table_off &&
		off < m->table_off + pt_msix_table_len(m);
	pba = bar == m->pba_bar && off >= m->pba_off && off < m->pba_off + pt_msix_pba_len(m);
	if (!table && !pba)
		return false;
	/* PCI allows aligned dword and qword accesses; the rest reads 0 and writes nothing. */
	if ((len != 4 && len != 8) || (off & (len - 1))) {
		if (!is_write)
			memset(data, 0, len);
		return true;
	}
	pthread_mutex_lock(&dev->irq_lock);
	if (pba) {
		first = (unsigned int)((off - m->pba_off) / 4);
		if (!is_write) {
			for (unsigned int i = 0; i < len / 4; i++)
				dw[i] = pt_msix_pba_read(dev, first + i);
			memcpy(data, dw, len);
		}
		pthread_mutex_unlock(&dev->irq_lock);
		return true;
	}
	first = (unsigned int)((off - m->table_off) / 4);
	if (!is_write) {
		for (unsigned int i = 0; i < len / 4; i++)
			if (first + i < m->nvec * 4)
				dw[i] = m->table[first + i];
		memcpy(data, dw, len);
		pthread_mutex_unlock(&dev->irq_lock);
		return true;
	}
	memcpy(dw, data, len);
	for (unsigned int i = 0; i < len / 4 && first + i < m->nvec * 4; i++) {
		unsigned int idx = first + i;

		/* Vector control: only the mask bit is writable. */
		if (idx % 4 == 3)
			dw[i] &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		m->table[idx] = dw[i];
	}
	if (dev->irq_mode == PT_IRQ_MSIX && m->on) {
		int ret = pt_msix_sync_one(dev, first / 4);

		if (!ret && len == 8 && first % 4 == 3 && first / 4 + 1 < m->nvec)
			ret = pt_msix_sync_one(dev, first / 4 + 1);
		if (ret)
			pt_irq_say(dev, "update an MSI-X vector", ret);
		if (!m->on)
			dev->irq_mode = PT_IRQ_NONE;
	}
	pthread_mutex_unlock(&dev->irq_lock);
	return true;
}
