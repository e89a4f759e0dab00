// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO device files: obtained through a group (VFIO_GROUP_GET_DEVICE_FD) or
 * by opening the cdev /dev/vfio/devices/vfioX; and the vfio-pci device
 * behind them (edu-like by default).  Mirrors drivers/vfio/{vfio_main,
 * group,device_cdev}.c and drivers/vfio/pci/vfio_pci_core.c of Linux 6.12.
 *
 * The device is a plain memory model: BARs are memfds (so pread/pwrite and
 * mmap see the same bytes), config space a small virtualised array.  Nothing
 * behaves like the real edu beyond its id register's initial value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmodel_priv.h"

#define KM_CAP_MSI	0x40
#define KM_CAP_MSIX	0x50

static void km_cfg_w16(uint8_t *c, unsigned int off, uint16_t v)
{
	c[off] = v;
	c[off + 1] = v >> 8;
}

static void km_cfg_w32(uint8_t *c, unsigned int off, uint32_t v)
{
	km_cfg_w16(c, off, v);
	km_cfg_w16(c, off + 2, v >> 16);
}

void km_device_init(struct kdevice *d)
{
	uint8_t *c = d->config;
	uint32_t id = KM_EDU_ID;

	for (int i = 0; i < 6; i++)
		d->bar_fd[i] = -1;
	d->sparse_bar = -1;
	d->irq_type = KM_NUM_IRQS;
	d->rom_fd = -1;
	d->req_efd = -1;
	km_device_irqs_clear(d);
	km_cfg_w16(c, 0x00, d->vendor);
	km_cfg_w16(c, 0x02, d->device_id);
	km_cfg_w16(c, 0x06, 0x0010);		/* status: capability list */
	c[0x08] = 0x10;				/* revision */
	c[0x0b] = 0xff;				/* class: other */
	km_cfg_w32(c, 0x10, 0xfea00000);	/* BAR0: 32-bit memory */
	c[0x34] = KM_CAP_MSI;
	c[0x3d] = 1;				/* INTA# */
	c[KM_CAP_MSI] = 0x05;			/* MSI, one vector, 64-bit */
	c[KM_CAP_MSI + 1] = 0;
	km_cfg_w16(c, KM_CAP_MSI + 2, 0x0080);
	d->bar_fd[0] = memfd_create("kmodel-bar0", MFD_CLOEXEC);
	if (d->bar_fd[0] < 0)
		return;
	if (ftruncate(d->bar_fd[0], KM_BAR0_SIZE) ||
	    pwrite(d->bar_fd[0], &id, sizeof(id), 0) != sizeof(id)) {
		close(d->bar_fd[0]);
		d->bar_fd[0] = -1;
		return;
	}
	d->bar_size[0] = KM_BAR0_SIZE;
}

void km_device_init_msix_cap(struct kdevice *d)
{
	uint8_t *c = d->config;
	uint32_t pba = d->msix_table_off + d->msix_nvec * 16;

	pba = (pba + 7) & ~7U;
	c[KM_CAP_MSI + 1] = KM_CAP_MSIX;
	c[KM_CAP_MSIX] = 0x11;
	c[KM_CAP_MSIX + 1] = 0;
	km_cfg_w16(c, KM_CAP_MSIX + 2, d->msix_nvec - 1);
	km_cfg_w32(c, KM_CAP_MSIX + 4, d->msix_table_off | d->msix_bar);
	km_cfg_w32(c, KM_CAP_MSIX + 8, pba | d->msix_bar);
}

/* No interrupt type enabled: every trigger and the INTx unmask eventfd dropped. */
void km_device_irqs_clear(struct kdevice *d)
{
	memset(d->irq_efd, 0xff, sizeof(d->irq_efd));
	d->intx_unmask_efd = -1;
	d->irq_alloc = 0;
	d->intx_masked = false;
}

void km_device_fini(struct kdevice *d)
{
	if (d->rom_fd >= 0)
		close(d->rom_fd);
	d->rom_fd = -1;
	for (int i = 0; i < 6; i++) {
		if (d->bar_fd[i] >= 0)
			close(d->bar_fd[i]);
		d->bar_fd[i] = -1;
	}
}

/*
 * A function reset needs FLR, PM reset or a bus reset it can do alone; the
 * edu-like device has only the last, and only off the root bus
 * (pci_parent_bus_reset()): alone on a bus behind a bridge.
 */
bool km_device_reset_works(struct kmodel *km, struct kdevice *d)
{
	if (d->bus == 0)
		return false;
	for (unsigned int i = 0; i < km->ndev; i++)
		if (&km->dev[i] != d && km->dev[i].bus == d->bus)
			return false;
	return true;
}

static struct kfile *km_devfile_new(struct kmodel *km, struct kdevice *d)
{
	struct kfile *f = km_file_new(km, KF_DEVICE);

	if (!f)
		return NULL;
	f->df = calloc(1, sizeof(*f->df));
	if (!f->df) {
		free(f);
		return NULL;
	}
	f->df->dev = d;
	return f;
}

/* vfio_df_group_open() + vfio_df_open() + vfio_df_device_first_open() */
int km_device_open_group(struct kgroup *g, struct kdevice *d, struct kfile **out)
{
	struct kmodel *km = g->opened_file->km;
	struct kfile *f;
	int ret;

	if (!g->container && !g->ictx)
		return -EINVAL;
	f = km_devfile_new(km, d);
	if (!f)
		return -ENOMEM;
	f->df->group = g;
	if (d->open_count == 0) {
		if (g->ictx) {
			uint32_t pt = g->ictx->ictx->compat_ioas ? g->ictx->ictx->compat_ioas->id : 0;

			ret = km_ictx_bind(g->ictx, d);
			if (!ret) {
				/* vfio_iommufd_compat_attach_ioas() */
				ret = pt ? km_ictx_attach(d, &pt) : -ENODEV;
				if (ret)
					km_ictx_unbind(d);
			}
		} else {
			/* vfio_device_group_use_iommu(): a group file ref per device */
			ret = km_group_use_container(g);
		}
		if (ret) {
			free(f->df);
			free(f);
			return ret;
		}
		/* the KVM the group is registered with, taken at first open */
		d->kvm = g->kvm_file != NULL;
		d->opened_via_group = true;
	}
	d->open_count++;
	f->df->counted = true;
	f->df->access_granted = true;
	g->device_fds++;
	*out = f;
	return 0;
}

int km_cdev_open(struct kmodel *km, int index, struct kfile **out)
{
	struct kdevice *d = NULL;
	struct kfile *f;

	for (unsigned int i = 0; i < km->ndev; i++)
		if (km->dev[i].cdev_index == index && !strcmp(km->dev[i].driver, "vfio-pci"))
			d = &km->dev[i];
	if (!d)
		return -ENOENT;
	/* vfio_device_fops_cdev_open(): opening blocks nothing; binding does. */
	f = km_devfile_new(km, d);
	if (!f)
		return -ENOMEM;
	*out = f;
	return 0;
}

/* vfio_device_fops_release() */
void km_device_release(struct kfile *f)
{
	struct kdevfile *df = f->df;
	struct kdevice *d = df->dev;
	struct kmodel *km = f->km;

	if (df->group) {
		struct kgroup *g = df->group;

		g->device_fds--;
		if (--d->open_count == 0) {
			/* vfio_df_device_last_close() */
			if (d->bound_ictx)
				km_ictx_unbind(d);
			else if (g->container)
				km_group_unuse_container(g);
			d->kvm = false;
			d->opened_via_group = false;
		}
	} else if (df->access_granted) {
		/* vfio_df_unbind_iommufd() + vfio_device_unblock_group() */
		struct kgroup *g = km_group(km, d->group, false);

		d->open_count--;
		km_ictx_unbind(d);
		g->cdev_device_open_cnt--;
		d->kvm = false;
	}
	/* vfio_pci_core_disable(): the request trigger is put too */
	if (!d->open_count)
		d->req_efd = -1;
	if (d->irq_type != KM_NUM_IRQS && !d->open_count) {
		/* vfio_pci_core_close_device(): interrupts off, eventfds put */
		d->irq_type = KM_NUM_IRQS;
		km_device_irqs_clear(d);
	}
	free(df);
}

/* vfio_df_ioctl_bind_iommufd() */
static int km_cdev_bind(struct kfile *f, struct vfio_device_bind_iommufd *bind)
{
	struct kdevfile *df = f->df;
	struct kdevice *d = df->dev;
	struct kmodel *km = f->km;
	struct kgroup *g = km_group(km, d->group, false);
	struct kfile *ictx;
	int ret;

	if (bind->argsz < sizeof(*bind) || bind->flags || bind->iommufd < 0)
		return -EINVAL;
	if (df->group)
		return -EINVAL;
	/* vfio_device_block_group(): the group is open, or another process has it */
	if (g->opened_file || g->holder_pid)
		return -EBUSY;
	if (df->access_granted)
		return -EINVAL;
	ret = km_fd_lookup(km, bind->iommufd, &ictx);
	if (ret)
		return ret;
	if (ictx->type != KF_IOMMUFD)
		return -EBADFD;
	/* vfio_df_open(): the cdev path opens a device once */
	if (d->open_count)
		return -EINVAL;
	ret = km_ictx_bind(ictx, d);
	if (ret)
		return ret;
	g->cdev_device_open_cnt++;
	d->open_count++;
	df->access_granted = true;
	/* vfio_df_get_kvm_safe(): the KVM of this file, if kvm-vfio has it now */
	d->kvm = df->kvm != NULL;
	bind->out_devid = d->devid;
	return 0;
}

static size_t km_region_cap_add(uint8_t *buf, size_t size, size_t *last, const void *cap,
				size_t len, size_t base)
{
	struct vfio_info_cap_header *hdr;

	size = (size + 7) & ~(size_t)7;
	memcpy(buf + size, cap, len);
	hdr = (struct vfio_info_cap_header *)(buf + size);
	hdr->next = 0;
	if (*last != (size_t)-1)
		((struct vfio_info_cap_header *)(buf + *last))->next = base + size;
	*last = size;
	return size + len;
}

/* vfio_pci_ioctl_get_region_info() */
static int km_region_info(struct kdevice *d, struct vfio_region_info *info)
{
	uint8_t caps[256];
	size_t size = 0, last = (size_t)-1;

	if (info->argsz < offsetof(struct vfio_region_info, offset) + 8)
		return -EINVAL;
	info->cap_offset = 0;
	switch (info->index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->offset = (uint64_t)info->index << KM_REGION_SHIFT;
		info->size = KM_CFG_SIZE;
		info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX ... VFIO_PCI_BAR5_REGION_INDEX:
		info->offset = (uint64_t)info->index << KM_REGION_SHIFT;
		info->size = d->bar_size[info->index];
		if (!info->size) {
			info->flags = 0;
			break;
		}
		info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			      VFIO_REGION_INFO_FLAG_MMAP;
		if (d->sparse_bar == (int)info->index) {
			struct {
				struct vfio_region_info_cap_sparse_mmap s;
				struct vfio_region_sparse_mmap_area a[4];
			} sp = { .s = { .header = { .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP,
						    .version = 1 },
					.nr_areas = d->sparse_n } };

			memcpy(sp.a, d->sparse, d->sparse_n * sizeof(sp.a[0]));
			size = km_region_cap_add(caps, size, &last, &sp,
						 sizeof(sp.s) + d->sparse_n * sizeof(sp.a[0]),
						 sizeof(*info));
		}
		if (d->msix_nvec && d->msix_bar == info->index) {
			struct vfio_info_cap_header h = {
				.id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1 };

			size = km_region_cap_add(caps, size, &last, &h, sizeof(h), sizeof(*info));
		}
		break;
	case VFIO_PCI_ROM_REGION_INDEX:
		info->offset = (uint64_t)info->index << KM_REGION_SHIFT;
		info->size = d->rom_size;
		info->flags = d->rom_size ? VFIO_REGION_INFO_FLAG_READ : 0;
		break;
	default:
		/* VGA: no VGA device; no device-specific regions */
		return -EINVAL;
	}
	if (size) {
		info->flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (info->argsz < sizeof(*info) + size) {
			info->argsz = sizeof(*info) + size;
			info->cap_offset = 0;
		} else {
			memcpy(info + 1, caps, size);
			info->cap_offset = sizeof(*info);
		}
	}
	return 0;
}

static unsigned int km_irq_count(struct kdevice *d, unsigned int index)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return d->config[0x3d] ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		return 1 << ((d->config[KM_CAP_MSI + 2] & 0x0e) >> 1);
	case VFIO_PCI_MSIX_IRQ_INDEX:
		return d->msix_nvec;
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:
		return 0;	/* ERR: the device is not PCIe */
	}
}

/* eventfd_ctx_fdget(): EBADF for no fd, EINVAL for an fd that is no eventfd. */
static int km_check_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -EBADF;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[eventfd]") ? -EINVAL : 0;
}

/* vfio_set_irqs_validate_and_prepare() + vfio_pci_set_irqs_ioctl() */
static int km_set_irqs(struct kdevice *d, struct vfio_irq_set *hdr)
{
	size_t minsz = offsetof(struct vfio_irq_set, count) + 4;
	unsigned int max = hdr->index < KM_NUM_IRQS ? km_irq_count(d, hdr->index) : 0;
	uint32_t action = hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	size_t size;

	if (hdr->argsz < minsz || hdr->index >= KM_NUM_IRQS ||
	    hdr->count >= UINT32_MAX - hdr->start ||
	    hdr->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK))
		return -EINVAL;
	if (hdr->start >= max || hdr->start + hdr->count > max)
		return -EINVAL;
	switch (hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_NONE:
		size = 0;
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		size = 1;
		break;
	case VFIO_IRQ_SET_DATA_EVENTFD:
		size = 4;
		break;
	default:
		return -EINVAL;
	}
	if (size && hdr->argsz - minsz < hdr->count * size)
		return -EINVAL;
	/* which (index, action) pairs vfio-pci handles at all */
	switch (hdr->index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_MSIX_IRQ_INDEX:
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
			return -ENOTTY;
		break;
	}
	if (hdr->index == VFIO_PCI_INTX_IRQ_INDEX && action == VFIO_IRQ_SET_ACTION_UNMASK &&
	    size == 4) {
		/* vfio_pci_set_intx_unmask(): INTx must be on; fd -1 drops the eventfd */
		int32_t efd = *(int32_t *)hdr->data;
		int ret;

		if (d->irq_type != VFIO_PCI_INTX_IRQ_INDEX || hdr->start || hdr->count != 1)
			return -EINVAL;
		ret = efd >= 0 ? km_check_eventfd(efd) : 0;
		if (ret)
			return ret;
		d->intx_unmask_efd = efd;
		return 0;
	}
	if (hdr->index == VFIO_PCI_REQ_IRQ_INDEX && size != 1) {
		/*
		 * vfio_pci_set_ctx_trigger_single(): DATA_NONE count 0 puts the
		 * trigger (count 1 would signal it); an eventfd replaces it, -1
		 * puts it.
		 */
		int32_t efd = size ? *(int32_t *)hdr->data : -1;
		int ret = efd >= 0 ? km_check_eventfd(efd) : 0;

		if (ret)
			return ret;
		if (size || !hdr->count)
			d->req_efd = efd;
		return 0;
	}
	if (hdr->index > VFIO_PCI_MSIX_IRQ_INDEX || action != VFIO_IRQ_SET_ACTION_TRIGGER) {
		if (hdr->index == VFIO_PCI_INTX_IRQ_INDEX && action == VFIO_IRQ_SET_ACTION_MASK)
			d->intx_masked = true;
		if (hdr->index == VFIO_PCI_INTX_IRQ_INDEX && action == VFIO_IRQ_SET_ACTION_UNMASK)
			d->intx_masked = false;
		return 0;
	}
	/* TRIGGER on INTx/MSI/MSI-X: count 0 with DATA_NONE disables what is enabled */
	if (!hdr->count && size == 0) {
		if (d->irq_type != hdr->index)
			return -EINVAL;
		d->irq_type = KM_NUM_IRQS;
		km_device_irqs_clear(d);
		return 0;
	}
	if (size == 4) {
		const int32_t *fds = (const int32_t *)hdr->data;
		bool enable = d->irq_type == KM_NUM_IRQS;

		/* one interrupt type at a time (vfio_msi_set_block(), vfio_intx_set_signal()) */
		if (!enable && d->irq_type != hdr->index)
			return -EINVAL;
		if (hdr->index == VFIO_PCI_INTX_IRQ_INDEX && (hdr->start || hdr->count != 1))
			return -EINVAL;
		/*
		 * An enabled MSI/MSI-X grows only with dynamic MSI-X
		 * (vfio_msi_alloc_irq()); otherwise the vectors are those the
		 * enable allocated.
		 */
		if (!enable && hdr->index != VFIO_PCI_INTX_IRQ_INDEX &&
		    hdr->start + hdr->count > d->irq_alloc &&
		    !(hdr->index == VFIO_PCI_MSIX_IRQ_INDEX && d->msix_dyn))
			return -EINVAL;
		for (uint32_t i = 0; i < hdr->count; i++) {
			int ret = fds[i] >= 0 ? km_check_eventfd(fds[i]) : 0;

			if (ret) {
				/* vfio_msi_set_block() undoes the vectors it set; enable undone */
				for (uint32_t j = 0; j < i; j++)
					d->irq_efd[hdr->index][hdr->start + j] = -1;
				if (enable)
					km_device_irqs_clear(d);
				return ret;
			}
			d->irq_efd[hdr->index][hdr->start + i] = fds[i];
		}
		if (enable) {
			d->irq_type = hdr->index;
			d->irq_alloc = hdr->start + hdr->count;
		} else if (hdr->start + hdr->count > d->irq_alloc) {
			d->irq_alloc = hdr->start + hdr->count;
		}
	}
	return 0;
}

/* vfio_pci_ioctl_get_pci_hot_reset_info() */
static int km_hot_reset_info(struct kmodel *km, struct kdevice *d,
			     struct vfio_pci_hot_reset_info *hdr)
{
	size_t minsz = offsetof(struct vfio_pci_hot_reset_info, count) + 4;
	struct vfio_pci_dependent_device *out = (void *)(hdr + 1);
	uint32_t count = 0;

	if (hdr->argsz < minsz)
		return -EINVAL;
	hdr->flags = 0;
	/* No slot reset, and no bus reset on the root bus (pci_probe_reset_bus()). */
	if (d->bus == 0)
		return -ENODEV;
	for (unsigned int i = 0; i < km->ndev; i++)
		if (km->dev[i].bus == d->bus)
			count++;
	if (count > (hdr->argsz - sizeof(*hdr)) / sizeof(*out)) {
		hdr->count = count;
		return -ENOSPC;
	}
	count = 0;
	for (unsigned int i = 0; i < km->ndev; i++) {
		struct kdevice *o = &km->dev[i];

		if (o->bus != d->bus)
			continue;
		out[count] = (struct vfio_pci_dependent_device){
			.group_id = o->group, .segment = 0, .bus = o->bus, .devfn = o->devfn };
		count++;
	}
	hdr->count = count;
	return 0;
}

/* vfio_device_fops_unl_ioctl() and vfio_pci_core_ioctl() */
int km_device_ioctl(struct kfile *f, unsigned long req, void *arg)
{
	struct kdevfile *df = f->df;
	struct kdevice *d = df->dev;
	struct kmodel *km = f->km;

	if (req == VFIO_DEVICE_BIND_IOMMUFD)
		return km_cdev_bind(f, arg);
	if (!df->access_granted)
		return -EINVAL;
	if (!df->group) {
		if (req == VFIO_DEVICE_ATTACH_IOMMUFD_PT) {
			struct vfio_device_attach_iommufd_pt *at = arg;

			if (at->argsz < sizeof(*at) || at->flags)
				return -EINVAL;
			return km_ictx_attach(d, &at->pt_id);
		}
		if (req == VFIO_DEVICE_DETACH_IOMMUFD_PT) {
			struct vfio_device_detach_iommufd_pt *de = arg;

			if (de->argsz < sizeof(*de) || de->flags)
				return -EINVAL;
			km_ictx_detach(d);
			return 0;
		}
	}
	switch (req) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *info = arg;

		if (info->argsz < offsetof(struct vfio_device_info, num_irqs) + 4)
			return -EINVAL;
		info->flags = VFIO_DEVICE_FLAGS_PCI;
		if (km_device_reset_works(km, d))
			info->flags |= VFIO_DEVICE_FLAGS_RESET;
		info->num_regions = KM_NUM_REGIONS;
		info->num_irqs = KM_NUM_IRQS;
		if (info->argsz >= sizeof(*info))
			info->cap_offset = 0;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
		return km_region_info(d, arg);
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info *info = arg;

		if (info->argsz < sizeof(*info) || info->index >= KM_NUM_IRQS ||
		    info->index == VFIO_PCI_ERR_IRQ_INDEX)
			return -EINVAL;
		info->flags = VFIO_IRQ_INFO_EVENTFD;
		info->count = km_irq_count(d, info->index);
		if (info->index == VFIO_PCI_INTX_IRQ_INDEX)
			info->flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
		else if (info->index != VFIO_PCI_MSIX_IRQ_INDEX || !d->msix_dyn)
			info->flags |= VFIO_IRQ_INFO_NORESIZE;
		return 0;
	}
	case VFIO_DEVICE_SET_IRQS:
		return km_set_irqs(d, arg);
	case VFIO_DEVICE_RESET:
		if (!km_device_reset_works(km, d))
			return -EINVAL;
		d->resets++;
		return 0;
	case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
		return km_hot_reset_info(km, d, arg);
	default:
		return -ENOTTY;
	}
}

/*
 * Config space through the region: reads see the virtual config; writes
 * reach only what vfio-pci lets through or virtualises here: the command
 * register, the BARs (sizing: writing all ones reads back the size mask),
 * the interrupt line and the MSI/MSI-X control words.
 */
static void km_cfg_write(struct kdevice *d, unsigned int off, uint8_t v)
{
	if (off == 0x04 || off == 0x05 || off == 0x3c) {
		d->config[off] = v;
	} else if (off >= 0x10 && off < 0x28) {
		unsigned int bar = (off - 0x10) / 4, byte = off & 3;
		uint64_t mask;

		if (!d->bar_size[bar])
			return;
		mask = ~(d->bar_size[bar] - 1);
		v &= (uint8_t)(mask >> (byte * 8));
		if (byte == 0)
			v = (v & 0xf0) | (d->config[off] & 0x0f);
		d->config[off] = v;
	} else if (off == KM_CAP_MSI + 2 || off == KM_CAP_MSI + 3 ||
		   (off >= KM_CAP_MSI + 4 && off < KM_CAP_MSI + 14)) {
		d->config[off] = v;
	} else if (d->msix_nvec && (off == KM_CAP_MSIX + 3)) {
		d->config[off] = v & 0xc0;
	}
}

/* vfio_pci_rw(): the region index sits in the offset's top bits. */
ssize_t km_device_rw(struct kfile *f, void *buf, size_t len, off_t off, bool write)
{
	struct kdevice *d = f->df->dev;
	unsigned int index = (uint64_t)off >> KM_REGION_SHIFT;
	uint64_t pos = (uint64_t)off & ((1ULL << KM_REGION_SHIFT) - 1);
	ssize_t n;

	if (!f->df->access_granted)
		return -EINVAL;
	if (!len)
		return 0;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		/* vfio_config_do_rw(): no clipping at the end, EFAULT */
		if (pos >= KM_CFG_SIZE || len > KM_CFG_SIZE - pos)
			return -EFAULT;
		for (size_t i = 0; i < len; i++) {
			if (write)
				km_cfg_write(d, pos + i, ((uint8_t *)buf)[i]);
			else
				((uint8_t *)buf)[i] = d->config[pos + i];
		}
		return len;
	}
	if (index == VFIO_PCI_ROM_REGION_INDEX && d->rom_size) {
		/* vfio_pci_bar_rw() on the ROM: read-only, clipped at its end */
		if (write || pos >= d->rom_size)
			return -EINVAL;
		if (len > d->rom_size - pos)
			len = d->rom_size - pos;
		n = pread(d->rom_fd, buf, len, pos);
		return n < 0 ? -errno : n;
	}
	/* vfio_pci_bar_rw(): clipped at the BAR's end */
	if (index > VFIO_PCI_BAR5_REGION_INDEX || !d->bar_size[index])
		return -EINVAL;
	if (pos >= d->bar_size[index])
		return -EINVAL;
	if (len > d->bar_size[index] - pos)
		len = d->bar_size[index] - pos;
	n = write ? pwrite(d->bar_fd[index], buf, len, pos) : pread(d->bar_fd[index], buf, len, pos);
	return n < 0 ? -errno : n;
}

/* vfio_pci_core_mmap(): BARs only, page-rounded, within the BAR. */
int km_device_mmap(struct kfile *f, off_t off, size_t len, int prot, void **addr)
{
	struct kdevice *d = f->df->dev;
	unsigned int index = (uint64_t)off >> KM_REGION_SHIFT;
	uint64_t pos = (uint64_t)off & ((1ULL << KM_REGION_SHIFT) - 1);
	uint64_t phys_len;
	void *p;

	if (!f->df->access_granted)
		return -EINVAL;
	if (index > VFIO_PCI_BAR5_REGION_INDEX || !d->bar_size[index] || !len ||
	    (pos & (KM_PAGE_SIZE - 1)))
		return -EINVAL;
	phys_len = (d->bar_size[index] + KM_PAGE_SIZE - 1) & ~(KM_PAGE_SIZE - 1);
	if (pos + ((len + KM_PAGE_SIZE - 1) & ~(KM_PAGE_SIZE - 1)) > phys_len)
		return -EINVAL;
	p = mmap(NULL, len, prot, MAP_SHARED, d->bar_fd[index], pos);
	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}
