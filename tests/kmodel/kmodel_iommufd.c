// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd (/dev/iommu): IOAS and HWPT objects, device binding and
 * attachment, and the VFIO container compat layer that also serves
 * /dev/vfio/vfio on an iommufd kernel.  Mirrors drivers/iommu/iommufd/
 * {main,ioas,io_pagetable,device,vfio_compat}.c of Linux 6.12.
 *
 * An IOAS has "a domain" once a device is attached to it (directly, through
 * its auto HWPT) or a HWPT was allocated on it; only then does it pin pages
 * and know the host's reserved IOVA (the MSI window, the aperture), exactly
 * as iopt_table_add_domain()/iopt_table_enforce_dev_resv_regions() make the
 * kernel behave: before that, any IOVA maps and nothing is pinned.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kmodel_priv.h"

int km_iommufd_open(struct kmodel *km, struct kfile **out)
{
	struct kfile *f = km_file_new(km, KF_IOMMUFD);

	if (!f)
		return -ENOMEM;
	f->ictx = calloc(1, sizeof(*f->ictx));
	if (!f->ictx) {
		free(f);
		return -ENOMEM;
	}
	f->ictx->next_id = 1;
	*out = f;
	return 0;
}

/* Bound devices and groups hold the file, so only plain objects are left. */
void km_iommufd_release(struct kfile *f)
{
	struct kictx *ictx = f->ictx;

	while (ictx->hwpt_list) {
		struct khwpt *h = ictx->hwpt_list;

		ictx->hwpt_list = h->next;
		free(h);
	}
	while (ictx->ioas_list) {
		struct kioas *a = ictx->ioas_list;

		ictx->ioas_list = a->next;
		km_maps_clear(f->km, &a->maps);
		free(a);
	}
	free(ictx);
}

struct kioas *km_ioas_find(struct kictx *ictx, uint32_t id)
{
	for (struct kioas *a = ictx->ioas_list; a; a = a->next)
		if (a->id == id)
			return a;
	return NULL;
}

static struct khwpt *km_hwpt_find(struct kictx *ictx, uint32_t id)
{
	for (struct khwpt *h = ictx->hwpt_list; h; h = h->next)
		if (h->id == id)
			return h;
	return NULL;
}

static struct kioas *km_ioas_alloc(struct kictx *ictx)
{
	struct kioas *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->id = ictx->next_id++;
	a->next = ictx->ioas_list;
	ictx->ioas_list = a;
	return a;
}

static void km_ioas_free(struct kmodel *km, struct kictx *ictx, struct kioas *a)
{
	for (struct kioas **p = &ictx->ioas_list; *p; p = &(*p)->next) {
		if (*p == a) {
			*p = a->next;
			break;
		}
	}
	if (ictx->compat_ioas == a)
		ictx->compat_ioas = NULL;
	km_maps_clear(km, &a->maps);
	free(a);
}

static bool km_ioas_has_domain(const struct kioas *a)
{
	return a->auto_users || a->hwpts;
}

/* The IOVA that maps: everything without a domain, the host's ranges with. */
static bool km_ioas_iova_ok(struct kmodel *km, const struct kioas *a, uint64_t iova,
			    uint64_t size)
{
	return !km_ioas_has_domain(a) || km_range_allowed(km->ranges, km->nranges, iova, size);
}

/*
 * A domain reaches the IOAS: reserved IOVA must be free of mappings
 * (iopt_reserve_iova(): EADDRINUSE) and every mapping is pinned.
 */
static int km_ioas_add_domain(struct kmodel *km, struct kioas *a)
{
	if (km_ioas_has_domain(a))
		return 0;
	for (size_t i = 0; i < a->maps.n; i++)
		if (!km_range_allowed(km->ranges, km->nranges, a->maps.v[i].iova,
				      a->maps.v[i].size))
			return -EADDRINUSE;
	return km_maps_pin_all(km, &a->maps);
}

/* Call after dropping a user: the last domain gone unpins everything. */
static void km_ioas_domain_gone(struct kmodel *km, struct kioas *a)
{
	if (!km_ioas_has_domain(a))
		km_maps_unpin_all(km, &a->maps);
}

/* iommufd_vfio_compat_ioas_create(): idempotent. */
int km_ictx_compat_ioas_create(struct kictx *ictx)
{
	struct kioas *a;

	if (ictx->compat_ioas)
		return 0;
	a = km_ioas_alloc(ictx);
	if (!a)
		return -ENOMEM;
	a->compat = true;
	ictx->compat_ioas = a;
	return 0;
}

/* iommufd_device_bind(): DMA ownership of the device for this ictx. */
int km_ictx_bind(struct kfile *ictx_file, struct kdevice *d)
{
	struct kmodel *km = ictx_file->km;
	struct kgroup *g = km_group(km, d->group, false);

	if (!km->cfg.irq_remap)
		return -EPERM;
	/*
	 * iommu_device_claim_dma_owner(): devices of one group may share an
	 * owner (the same ictx); anything else owning the group is EPERM.
	 */
	if (g->dma_claimed)
		return -EPERM;
	for (unsigned int i = 0; i < km->ndev; i++) {
		struct kdevice *o = &km->dev[i];

		if (o->group != d->group || o == d)
			continue;
		if (*o->driver && strcmp(o->driver, "vfio-pci") && strcmp(o->driver, "pci-stub") &&
		    strcmp(o->driver, "pcieport"))
			return -EPERM;
		if (o->bound_ictx && o->bound_ictx != ictx_file)
			return -EPERM;
	}
	km_file_get(ictx_file);
	d->bound_ictx = ictx_file;
	d->devid = ictx_file->ictx->next_id++;
	ictx_file->ictx->devices++;
	return 0;
}

void km_ictx_detach(struct kdevice *d)
{
	struct kmodel *km = d->bound_ictx->km;

	if (d->att_hwpt) {
		d->att_hwpt->users--;
		d->att_hwpt = NULL;
	} else if (d->att_ioas) {
		d->att_ioas->auto_users--;
		km_ioas_domain_gone(km, d->att_ioas);
		d->att_ioas = NULL;
	}
}

void km_ictx_unbind(struct kdevice *d)
{
	struct kfile *f = d->bound_ictx;

	km_ictx_detach(d);
	f->ictx->devices--;
	d->bound_ictx = NULL;
	d->devid = 0;
	km_file_put(f);
}

/* iommufd_device_attach()/replace(): @pt_id an IOAS or a HWPT of the ictx. */
int km_ictx_attach(struct kdevice *d, uint32_t *pt_id)
{
	struct kmodel *km = d->bound_ictx->km;
	struct kictx *ictx = d->bound_ictx->ictx;
	struct kioas *a = km_ioas_find(ictx, *pt_id);
	struct khwpt *h = a ? NULL : km_hwpt_find(ictx, *pt_id);
	int ret;

	if (!a && !h)
		return *pt_id == d->devid ? -EINVAL : -ENOENT;
	if ((a && d->att_ioas == a) || (h && d->att_hwpt == h))
		return 0;
	if (a) {
		ret = km_ioas_add_domain(km, a);
		if (ret)
			return ret;
		a->auto_users++;
	} else {
		h->users++;
	}
	/* replace: the old attachment goes only once the new one stands */
	if (d->att_ioas || d->att_hwpt)
		km_ictx_detach(d);
	d->att_ioas = a;
	d->att_hwpt = h;
	return 0;
}

/* ---- iommufd ioctls (iommufd_fops_ioctl) ---- */

static int km_ioas_map(struct kmodel *km, struct kictx *ictx, struct iommu_ioas_map *cmd)
{
	struct kioas *a;
	struct kmap m = { .vaddr = cmd->user_va, .size = cmd->length };
	int ret;

	if ((cmd->flags & ~(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE |
			    IOMMU_IOAS_MAP_READABLE)) || cmd->__reserved)
		return -EOPNOTSUPP;
	if (cmd->iova >= UINT64_MAX || cmd->length >= UINT64_MAX)
		return -EOVERFLOW;
	if (!(cmd->flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	a = km_ioas_find(ictx, cmd->ioas_id);
	if (!a)
		return -ENOENT;
	if (!cmd->length)
		return -EINVAL;
	if (cmd->user_va + cmd->length < cmd->user_va)
		return -EOVERFLOW;
	if (cmd->flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
		m.iova = cmd->iova;
		/* iopt_check_iova(): alignment, reserved, then overlap */
		if (km_ioas_has_domain(a) && (m.iova & (KM_PAGE_SIZE - 1)))
			return -EINVAL;
		if (m.iova + m.size - 1 < m.iova)
			return -EOVERFLOW;
		if (!km_ioas_iova_ok(km, a, m.iova, m.size))
			return -EINVAL;
		if (km_maps_find(&a->maps, m.iova, m.size))
			return -EEXIST;
	} else {
		/* iopt_alloc_iova(): the lowest free page-aligned hole that fits */
		uint64_t cand = 0;
		bool found = false;

		for (;;) {
			struct kmap *hit;

			if (cand + m.size - 1 < cand)
				break;
			if (!km_ioas_iova_ok(km, a, cand, m.size)) {
				/* skip to the next allowed range start */
				bool moved = false;

				for (size_t i = 0; i < km->nranges; i++) {
					if (km->ranges[i].start > cand) {
						cand = km->ranges[i].start;
						moved = true;
						break;
					}
				}
				if (!moved)
					break;
				continue;
			}
			hit = km_maps_find(&a->maps, cand, m.size);
			if (!hit) {
				found = true;
				break;
			}
			cand = (hit->iova + hit->size + KM_PAGE_SIZE - 1) & ~(KM_PAGE_SIZE - 1);
		}
		if (!found)
			return -ENOSPC;
		m.iova = cand;
	}
	if (km_ioas_has_domain(a)) {
		ret = km_pin(km, &m);
		if (ret)
			return ret;
	}
	ret = km_maps_insert(&a->maps, &m);
	if (ret) {
		km_unpin(km, &m);
		return ret;
	}
	cmd->iova = m.iova;
	return 0;
}

/*
 * iopt_unmap_iova_range(): whole areas only; an area that straddles either
 * end is ENOENT.  Simplification: the kernel may already have unmapped the
 * areas before the straddling one when it says ENOENT; the model unmaps
 * nothing then.
 */
static int km_ioas_unmap_range(struct kmodel *km, struct kioas *a, uint64_t iova,
			       uint64_t last, uint64_t *unmapped)
{
	*unmapped = 0;
	for (size_t i = 0; i < a->maps.n; i++) {
		struct kmap *m = &a->maps.v[i];
		uint64_t mlast = m->iova + m->size - 1;

		if (m->iova <= last && iova <= mlast && (m->iova < iova || mlast > last))
			return -ENOENT;
	}
	for (size_t i = 0; i < a->maps.n;) {
		struct kmap *m = &a->maps.v[i];

		if (m->iova >= iova && m->iova + m->size - 1 <= last) {
			*unmapped += m->size;
			km_unpin(km, m);
			km_maps_remove(&a->maps, i);
			continue;
		}
		i++;
	}
	return 0;
}

static int km_ioas_unmap(struct kmodel *km, struct kictx *ictx, struct iommu_ioas_unmap *cmd)
{
	struct kioas *a = km_ioas_find(ictx, cmd->ioas_id);
	uint64_t unmapped;
	int ret;

	if (!a)
		return -ENOENT;
	if (cmd->iova == 0 && cmd->length == UINT64_MAX) {
		ret = km_ioas_unmap_range(km, a, 0, UINT64_MAX, &unmapped);
	} else {
		if (cmd->iova >= UINT64_MAX || cmd->length >= UINT64_MAX)
			return -EOVERFLOW;
		if (!cmd->length)
			return -EINVAL;
		if (cmd->iova + cmd->length - 1 < cmd->iova)
			return -EOVERFLOW;
		ret = km_ioas_unmap_range(km, a, cmd->iova, cmd->iova + cmd->length - 1, &unmapped);
		if (!ret && !unmapped)
			ret = -ENOENT;
	}
	if (ret)
		return ret;
	cmd->length = unmapped;
	return 0;
}

static int km_ioas_iova_ranges(struct kmodel *km, struct kictx *ictx,
			       struct iommu_ioas_iova_ranges *cmd)
{
	struct kioas *a;
	struct iommu_iova_range *out = (void *)(uintptr_t)cmd->allowed_iovas;
	uint32_t max = cmd->num_iovas, n = 0;
	struct kmodel_range full = { 0, UINT64_MAX };
	const struct kmodel_range *r;
	size_t nr;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	a = km_ioas_find(ictx, cmd->ioas_id);
	if (!a)
		return -ENOENT;
	if (km_ioas_has_domain(a)) {
		r = km->ranges;
		nr = km->nranges;
		cmd->out_iova_alignment = KM_PAGE_SIZE;
	} else {
		r = &full;
		nr = 1;
		cmd->out_iova_alignment = 1;
	}
	for (size_t i = 0; i < nr; i++, n++)
		if (n < max)
			out[n] = (struct iommu_iova_range){ r[i].start, r[i].last };
	cmd->num_iovas = n;
	return n > max ? -EMSGSIZE : 0;
}

/* iommufd_destroy(): busy while anything holds the object. */
static int km_iommufd_destroy(struct kmodel *km, struct kictx *ictx, uint32_t id)
{
	struct kioas *a = km_ioas_find(ictx, id);
	struct khwpt *h;

	if (a) {
		if (km_ioas_has_domain(a))
			return -EBUSY;
		km_ioas_free(km, ictx, a);
		return 0;
	}
	h = km_hwpt_find(ictx, id);
	if (h) {
		if (h->users)
			return -EBUSY;
		for (struct khwpt **p = &ictx->hwpt_list; *p; p = &(*p)->next) {
			if (*p == h) {
				*p = h->next;
				break;
			}
		}
		h->ioas->hwpts--;
		km_ioas_domain_gone(km, h->ioas);
		free(h);
		return 0;
	}
	/* Device objects belong to their vfio device file. */
	for (unsigned int i = 0; i < km->ndev; i++)
		if (km->dev[i].bound_ictx && km->dev[i].bound_ictx->ictx == ictx &&
		    km->dev[i].devid == id)
			return -EBUSY;
	return -ENOENT;
}

/* iommufd_hwpt_alloc() for a plain paging HWPT */
static int km_hwpt_alloc(struct kmodel *km, struct kictx *ictx, struct iommu_hwpt_alloc *cmd)
{
	struct kdevice *d = NULL;
	struct kioas *a;
	struct khwpt *h;
	int ret;

	if (cmd->flags || cmd->__reserved)
		return -EOPNOTSUPP;
	if (!cmd->data_len && cmd->data_type != IOMMU_HWPT_DATA_NONE)
		return -EINVAL;
	for (unsigned int i = 0; i < km->ndev; i++)
		if (km->dev[i].bound_ictx && km->dev[i].bound_ictx->ictx == ictx &&
		    km->dev[i].devid == cmd->dev_id)
			d = &km->dev[i];
	if (!d)
		return -ENOENT;
	a = km_ioas_find(ictx, cmd->pt_id);
	if (!a)
		return km_hwpt_find(ictx, cmd->pt_id) ? -EINVAL : -ENOENT;
	if (cmd->data_type != IOMMU_HWPT_DATA_NONE)
		return -EOPNOTSUPP;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	ret = km_ioas_add_domain(km, a);
	if (ret) {
		free(h);
		return ret;
	}
	h->id = ictx->next_id++;
	h->ioas = a;
	a->hwpts++;
	h->next = ictx->hwpt_list;
	ictx->hwpt_list = h;
	cmd->out_hwpt_id = h->id;
	return 0;
}

static int km_iommufd_option(struct kmodel *km, struct kictx *ictx, struct iommu_option *cmd)
{
	if (cmd->__reserved)
		return -EOPNOTSUPP;
	if (cmd->option_id == IOMMU_OPTION_RLIMIT_MODE) {
		/* iommufd_option_rlimit_mode() */
		if (cmd->object_id)
			return -EOPNOTSUPP;
		if (cmd->op == IOMMU_OPTION_OP_GET) {
			cmd->val64 = ictx->account_mm;
			return 0;
		}
		if (cmd->op != IOMMU_OPTION_OP_SET)
			return -EOPNOTSUPP;
		/* needs CAP_SYS_RESOURCE; the model's process has it */
		if (ictx->ioas_list || ictx->hwpt_list || ictx->devices)
			return -EBUSY;
		if (cmd->val64 > 1)
			return -EINVAL;
		ictx->account_mm = cmd->val64;
		return 0;
	}
	if (cmd->option_id == IOMMU_OPTION_HUGE_PAGES) {
		struct kioas *a = km_ioas_find(ictx, cmd->object_id);

		if (!a)
			return -ENOENT;
		if (cmd->op == IOMMU_OPTION_OP_GET) {
			cmd->val64 = !a->huge_pages_off;
			return 0;
		}
		if (cmd->op != IOMMU_OPTION_OP_SET)
			return -EOPNOTSUPP;
		if (cmd->val64 > 1)
			return -EINVAL;
		a->huge_pages_off = !cmd->val64;
		return 0;
	}
	/* iommufd_ioas_option(): the object must be an IOAS first */
	return km_ioas_find(ictx, cmd->object_id) ? -EOPNOTSUPP : -ENOENT;
}

/* ---- the VFIO container ioctls on an iommufd (vfio_compat.c) ---- */

static int km_compat_get_info(struct kmodel *km, struct kioas *a,
			      struct vfio_iommu_type1_info *info)
{
	size_t minsz = offsetof(struct vfio_iommu_type1_info, iova_pgsizes) + 8;
	size_t total = sizeof(*info), avail_off, iova_off, iova_len;
	struct vfio_iommu_type1_info_dma_avail dma = {
		.header = { .id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, .version = 1 },
		.avail = UINT32_MAX,
	};
	struct kmodel_range full = { 0, UINT64_MAX };
	const struct kmodel_range *r = km_ioas_has_domain(a) ? km->ranges : &full;
	size_t nr = km_ioas_has_domain(a) ? km->nranges : 1;
	uint32_t argsz = info->argsz;
	uint8_t *base = (uint8_t *)info;

	if (argsz < minsz)
		return -EINVAL;
	info->flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	/* iommufd_get_pagesizes(): all sizes >= 4K without a domain */
	info->iova_pgsizes = km_ioas_has_domain(a) ? km->pgsizes : ~(KM_PAGE_SIZE - 1);
	avail_off = total;
	total += (sizeof(dma) + 7) & ~(size_t)7;
	iova_off = total;
	iova_len = sizeof(struct vfio_iommu_type1_info_cap_iova_range) +
		   nr * sizeof(struct vfio_iova_range);
	total += (iova_len + 7) & ~(size_t)7;
	/* Each cap is filled in as far as it fits, as the kernel does. */
	if (argsz >= avail_off + sizeof(dma)) {
		/* the kernel links the next cap once the buffer reaches its offset */
		dma.header.next = argsz >= iova_off ? iova_off : 0;
		memcpy(base + avail_off, &dma, sizeof(dma));
	}
	if (argsz >= iova_off + iova_len) {
		struct vfio_iommu_type1_info_cap_iova_range *cap = (void *)(base + iova_off);

		cap->header = (struct vfio_info_cap_header){
			.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, .version = 1 };
		cap->nr_iovas = nr;
		cap->reserved = 0;
		for (size_t i = 0; i < nr; i++) {
			cap->iova_ranges[i].start = r[i].start;
			cap->iova_ranges[i].end = r[i].last;
		}
	}
	if (argsz >= sizeof(*info))
		info->cap_offset = argsz >= total ? sizeof(*info) : 0;
	/* Unlike type1, argsz always comes back as the full size. */
	info->argsz = total;
	return 0;
}

static int km_compat_ioctl(struct kmodel *km, struct kictx *ictx, unsigned long req, void *arg)
{
	struct kioas *a = ictx->compat_ioas;

	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		switch ((unsigned long)arg) {
		case VFIO_TYPE1_IOMMU:
		case VFIO_TYPE1v2_IOMMU:
		case VFIO_UNMAP_ALL:
		case VFIO_NOIOMMU_IOMMU:	/* the lab's kernel has VFIO_NOIOMMU=y */
			return 1;
		case VFIO_DMA_CC_IOMMU:
			return a ? 0 : -ENODEV;
		default:
			return 0;
		}
	case VFIO_SET_IOMMU:
		/* iommufd_vfio_set_iommu(): no "already set" state, no group check */
		if ((unsigned long)arg != VFIO_TYPE1_IOMMU && (unsigned long)arg != VFIO_TYPE1v2_IOMMU)
			return -EINVAL;
		if (!a)
			return -ENODEV;
		if ((unsigned long)arg == VFIO_TYPE1_IOMMU)
			a->huge_pages_off = true;
		return 0;
	case VFIO_IOMMU_GET_INFO:
		if (((struct vfio_iommu_type1_info *)arg)->argsz <
		    offsetof(struct vfio_iommu_type1_info, iova_pgsizes) + 8)
			return -EINVAL;
		if (!a)
			return -ENODEV;
		return km_compat_get_info(km, a, arg);
	case VFIO_IOMMU_MAP_DMA: {
		struct vfio_iommu_type1_dma_map *map = arg;
		struct iommu_ioas_map cmd = {
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA,
			.user_va = map->vaddr,
			.length = map->size,
			.iova = map->iova,
		};

		if (map->argsz < offsetof(struct vfio_iommu_type1_dma_map, size) + 8 ||
		    map->flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
			return -EINVAL;
		if (!a)
			return -ENODEV;
		/* R/W flags are not required here: IOMMU_CACHE alone maps. */
		cmd.flags |= IOMMU_IOAS_MAP_READABLE;
		cmd.ioas_id = a->id;
		if (map->iova >= UINT64_MAX || map->size >= UINT64_MAX)
			return -EOVERFLOW;
		return km_ioas_map(km, ictx, &cmd);
	}
	case VFIO_IOMMU_UNMAP_DMA: {
		struct vfio_iommu_type1_dma_unmap *unmap = arg;
		uint64_t unmapped = 0;
		int ret;

		if (unmap->argsz < offsetof(struct vfio_iommu_type1_dma_unmap, size) + 8 ||
		    unmap->flags & ~VFIO_DMA_UNMAP_FLAG_ALL)
			return -EINVAL;
		if (!a)
			return -ENODEV;
		if (unmap->flags & VFIO_DMA_UNMAP_FLAG_ALL) {
			if (unmap->iova || unmap->size)
				return -EINVAL;
			ret = km_ioas_unmap_range(km, a, 0, UINT64_MAX, &unmapped);
		} else {
			if (!unmap->size)
				return -EINVAL;
			if (unmap->iova + unmap->size - 1 < unmap->iova)
				return -EOVERFLOW;
			/* no ENOENT for "nothing there": compat reports size 0 */
			ret = km_ioas_unmap_range(km, a, unmap->iova,
						  unmap->iova + unmap->size - 1, &unmapped);
		}
		unmap->size = unmapped;
		return ret;
	}
	default:
		return -ENOTTY;
	}
}

int km_iommufd_ioctl(struct kfile *f, unsigned long req, void *arg)
{
	struct kmodel *km = f->km;
	struct kictx *ictx = f->ictx;

	/*
	 * VFIO and iommufd share the ioctl type ';'; iommufd_fops_ioctl()
	 * hands every number below its own range to the VFIO compat layer.
	 */
	if (_IOC_NR(req) < IOMMUFD_CMD_DESTROY)
		return km_compat_ioctl(km, ictx, req, arg);
	/* iommufd_fops_ioctl(): a size first; too small for the command: EINVAL */
	switch (req) {
	case IOMMU_DESTROY: {
		struct iommu_destroy *cmd = arg;

		if (cmd->size < sizeof(*cmd))
			return -EINVAL;
		return km_iommufd_destroy(km, ictx, cmd->id);
	}
	case IOMMU_IOAS_ALLOC: {
		struct iommu_ioas_alloc *cmd = arg;
		struct kioas *a;

		if (cmd->size < sizeof(*cmd))
			return -EINVAL;
		if (cmd->flags)
			return -EOPNOTSUPP;
		a = km_ioas_alloc(ictx);
		if (!a)
			return -ENOMEM;
		cmd->out_ioas_id = a->id;
		return 0;
	}
	case IOMMU_IOAS_IOVA_RANGES: {
		struct iommu_ioas_iova_ranges *cmd = arg;

		if (cmd->size < offsetof(struct iommu_ioas_iova_ranges, out_iova_alignment) + 8)
			return -EINVAL;
		return km_ioas_iova_ranges(km, ictx, cmd);
	}
	case IOMMU_IOAS_MAP: {
		struct iommu_ioas_map *cmd = arg;

		if (cmd->size < sizeof(*cmd))
			return -EINVAL;
		return km_ioas_map(km, ictx, cmd);
	}
	case IOMMU_IOAS_UNMAP: {
		struct iommu_ioas_unmap *cmd = arg;

		if (cmd->size < sizeof(*cmd))
			return -EINVAL;
		return km_ioas_unmap(km, ictx, cmd);
	}
	case IOMMU_OPTION: {
		struct iommu_option *cmd = arg;

		if (cmd->size < sizeof(*cmd))
			return -EINVAL;
		return km_iommufd_option(km, ictx, cmd);
	}
	case IOMMU_HWPT_ALLOC: {
		struct iommu_hwpt_alloc *cmd = arg;

		if (cmd->size < offsetof(struct iommu_hwpt_alloc, __reserved) + 4)
			return -EINVAL;
		return km_hwpt_alloc(km, ictx, cmd);
	}
	default:
		return -ENOTTY;
	}
}
