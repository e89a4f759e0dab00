// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO groups (/dev/vfio/N) and legacy type1 containers (/dev/vfio/vfio on a
 * kernel without iommufd's compat layer).  Mirrors drivers/vfio/group.c,
 * container.c and vfio_iommu_type1.c of Linux 6.12; each function names the
 * kernel function whose rules it models.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kmodel_priv.h"

bool km_group_has_vfio_device(struct kmodel *km, struct kgroup *g)
{
	for (unsigned int i = 0; i < km->ndev; i++)
		if (km->dev[i].group == g->id && !strcmp(km->dev[i].driver, "vfio-pci"))
			return true;
	return false;
}

/*
 * The IOMMU group's DMA owner count is non-zero (iommu.c owner_cnt): a host
 * driver that is not driver_managed_dma is bound to one of its devices, a
 * container claimed the group, or an iommufd bound one of its devices.
 */
bool km_group_dma_owned(struct kmodel *km, struct kgroup *g)
{
	if (g->dma_claimed)
		return true;
	for (unsigned int i = 0; i < km->ndev; i++) {
		struct kdevice *d = &km->dev[i];

		if (d->group != g->id)
			continue;
		if (*d->driver && strcmp(d->driver, "vfio-pci") && strcmp(d->driver, "pci-stub") &&
		    strcmp(d->driver, "pcieport"))
			return true;
		if (d->bound_ictx)
			return true;
	}
	return false;
}

/* vfio_group_ioctl_get_status(): viable == !iommu_group_dma_owner_claimed(). */
bool km_group_viable(struct kmodel *km, struct kgroup *g)
{
	return !km_group_dma_owned(km, g);
}

static bool km_group_has_iommu(struct kgroup *g)
{
	return g->container || g->ictx;
}

/* vfio_group_fops_open() */
int km_group_open(struct kmodel *km, unsigned int id, struct kfile **out)
{
	struct kgroup *g = km_group(km, id, false);
	struct kfile *f;

	/* No /dev/vfio/N unless a device of the group is bound to vfio-pci. */
	if (!g || (!km_group_has_vfio_device(km, g) && !g->opened_file))
		return -ENOENT;
	if (g->revoked)
		return -EBUSY;
	/* The model's stand-in for another process's opened_file. */
	if (g->holder_pid)
		return -EBUSY;
	if (g->cdev_device_open_cnt)
		return -EBUSY;
	if (g->opened_file)
		return -EBUSY;
	f = km_file_new(km, KF_GROUP);
	if (!f)
		return -ENOMEM;
	f->group = g;
	g->opened_file = f;
	*out = f;
	return 0;
}

/* vfio_group_detach_container(): the last group out takes the IOMMU with it. */
void km_group_detach_container(struct kgroup *g)
{
	struct kfile *cf = g->container;
	struct kcontainer *c = cf->cont;
	struct kmodel *km = cf->km;

	for (unsigned int i = 0; i < c->ngroups; i++) {
		if (c->groups[i] == g) {
			c->groups[i] = c->groups[--c->ngroups];
			break;
		}
	}
	g->dma_claimed = false;
	g->container = NULL;
	g->container_users = 0;
	if (c->iommu && !c->ngroups) {
		/* vfio_iommu_type1_release(): every mapping goes, pins dropped. */
		km_maps_clear(km, &c->maps);
		c->iommu = false;
		c->v2 = false;
	}
	km_file_put(cf);
}

/* vfio_group_fops_release(): only runs once no device holds the file. */
void km_group_release(struct kfile *f)
{
	struct kgroup *g = f->group;

	if (g->container)
		km_group_detach_container(g);
	if (g->ictx) {
		km_file_put(g->ictx);
		g->ictx = NULL;
	}
	g->opened_file = NULL;
	g->revoked = false;
}

/* vfio_group_ioctl_set_container() */
static int km_group_set_container(struct kgroup *g, struct kmodel *km, const int *arg)
{
	struct kfile *cf;
	int ret;

	ret = km_fd_lookup(km, *arg, &cf);
	if (ret == -EBADF)
		return ret;
	if (km_group_has_iommu(g))
		return -EINVAL;
	if (g->revoked)
		return -ENODEV;
	if (ret)
		return km->cfg.set_container_einval ? -EINVAL : -EBADFD;
	if (cf->type == KF_CONTAINER) {
		struct kcontainer *c = cf->cont;

		/* vfio_container_attach_group(): iommu_group_claim_dma_owner() */
		if (km_group_dma_owned(km, g))
			return -EPERM;
		/* type1 attach_group(): no isolated MSI and no unsafe override */
		if (c->iommu && !km->cfg.irq_remap)
			return -EPERM;
		if (c->ngroups == KM_MAX_DEVICES)
			return -ENOSPC;
		g->dma_claimed = true;
		c->groups[c->ngroups++] = g;
		g->container = cf;
		g->container_users = 1;
		km_file_get(cf);
		return 0;
	}
	if (cf->type == KF_IOMMUFD) {
		/*
		 * The iommufd path claims nothing here: DMA ownership is taken
		 * per device at GET_DEVICE_FD (iommufd_device_bind()).
		 */
		ret = km_ictx_compat_ioas_create(cf->ictx);
		if (ret)
			return ret;
		g->ictx = cf;
		km_file_get(cf);
		return 0;
	}
	return km->cfg.set_container_einval ? -EINVAL : -EBADFD;
}

/* vfio_group_ioctl_unset_container(): only the 1 -> 0 transition. */
static int km_group_unset_container(struct kgroup *g)
{
	if (!km_group_has_iommu(g))
		return -EINVAL;
	if (g->container) {
		if (g->container_users != 1)
			return -EBUSY;
		km_group_detach_container(g);
	}
	/* An iommufd is dropped even while device fds are open. */
	if (g->ictx) {
		km_file_put(g->ictx);
		g->ictx = NULL;
	}
	return 0;
}

/* vfio_group_use_container(): a device's first open through the group. */
int km_group_use_container(struct kgroup *g)
{
	if (!g->container->cont->iommu)
		return -EINVAL;
	km_file_get(g->opened_file);
	g->container_users++;
	return 0;
}

void km_group_unuse_container(struct kgroup *g)
{
	struct kfile *f = g->opened_file;

	g->container_users--;
	km_file_put(f);
}

/* vfio_group_ioctl_get_device_fd() */
static int km_group_get_device_fd(struct kgroup *g, struct kmodel *km, const char *name)
{
	struct kdevice *d = NULL;
	struct kfile *df;
	int ret;

	for (unsigned int i = 0; i < km->ndev; i++)
		if (km->dev[i].group == g->id && !strcmp(km->dev[i].bdf, name) &&
		    !strcmp(km->dev[i].driver, "vfio-pci"))
			d = &km->dev[i];
	if (!d)
		return -ENODEV;
	ret = km_device_open_group(g, d, &df);
	if (ret)
		return ret;
	return km_fd_install(km, df);
}

int km_group_ioctl(struct kfile *f, unsigned long req, void *arg)
{
	struct kgroup *g = f->group;
	struct kmodel *km = f->km;

	switch (req) {
	case VFIO_GROUP_GET_STATUS: {
		struct vfio_group_status *st = arg;

		if (st->argsz < sizeof(*st))
			return -EINVAL;
		st->flags = 0;
		if (g->revoked)
			return -ENODEV;
		/*
		 * With an iommufd the group reports VIABLE even when it is not:
		 * the DMA claim happens at GET_DEVICE_FD, which then fails.
		 */
		if (km_group_has_iommu(g))
			st->flags = VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
		else if (km_group_viable(km, g))
			st->flags = VFIO_GROUP_FLAGS_VIABLE;
		return 0;
	}
	case VFIO_GROUP_SET_CONTAINER:
		return km_group_set_container(g, km, arg);
	case VFIO_GROUP_UNSET_CONTAINER:
		return km_group_unset_container(g);
	case VFIO_GROUP_GET_DEVICE_FD:
		return km_group_get_device_fd(g, km, arg);
	default:
		return -ENOTTY;
	}
}

/* ---- type1 container ---- */

int km_container_open(struct kmodel *km, struct kfile **out)
{
	struct kfile *f = km_file_new(km, KF_CONTAINER);

	if (!f)
		return -ENOMEM;
	f->cont = calloc(1, sizeof(*f->cont));
	if (!f->cont) {
		free(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

/* Groups hold a reference on the container file, so none is left here. */
void km_container_release(struct kfile *f)
{
	km_maps_clear(f->km, &f->cont->maps);
	free(f->cont);
}

/* vfio_iommu_type1_check_extension() behind vfio_container_ioctl_check_extension() */
static int km_type1_check_extension(struct kcontainer *c, unsigned long ext)
{
	switch (ext) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_TYPE1_NESTING_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_UPDATE_VADDR:
		return c->iommu;
	default:
		/*
		 * VFIO_DMA_CC_IOMMU depends on the IOMMU's snoop control; the
		 * model's IOMMU has none (QEMU's VT-d default).
		 */
		return 0;
	}
}

/* vfio_ioctl_set_iommu() + vfio_iommu_type1_open()/attach_group() */
static int km_type1_set_iommu(struct kmodel *km, struct kcontainer *c, unsigned long type)
{
	if (!c->ngroups || c->iommu)
		return -EINVAL;
	if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU &&
	    type != VFIO_TYPE1_NESTING_IOMMU)
		return -ENODEV;
	if (!km->cfg.irq_remap)
		return -EPERM;
	c->iommu = true;
	c->v2 = type != VFIO_TYPE1_IOMMU;
	c->dma_avail = km->dma_avail;
	return 0;
}

static uint64_t km_min_pgsize(uint64_t bitmap)
{
	return bitmap ? bitmap & -bitmap : KM_PAGE_SIZE;
}

/*
 * Appends one capability to @buf (a chain being built at offset @base of the
 * user's struct), aligned to 8 bytes as vfio_info_cap_add() does, linking it
 * from the previous one.  Returns the new size.
 */
static size_t km_cap_add(uint8_t *buf, size_t size, size_t *last, const void *cap,
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

/* vfio_iommu_type1_get_info(): caps migration, dma_avail, iova ranges. */
static int km_type1_get_info(struct kmodel *km, struct kcontainer *c,
			     struct vfio_iommu_type1_info *info)
{
	uint8_t caps[512];
	size_t size = 0, last = (size_t)-1;
	struct vfio_iommu_type1_info_cap_migration mig = {
		.header = { .id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, .version = 1 },
		.pgsize_bitmap = km_min_pgsize(km->pgsizes),
		.max_dirty_bitmap_size = 256ULL << 20,
	};
	struct vfio_iommu_type1_info_dma_avail avail = {
		.header = { .id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, .version = 1 },
		.avail = c->dma_avail,
	};
	struct {
		struct vfio_iommu_type1_info_cap_iova_range r;
		struct vfio_iova_range v[KM_MAX_RANGES];
	} iova = { .r = { .header = { .id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
				      .version = 1 },
			  .nr_iovas = km->nranges } };
	size_t minsz = offsetof(struct vfio_iommu_type1_info, iova_pgsizes) + 8;
	size_t base = sizeof(*info);

	if (info->argsz < minsz)
		return -EINVAL;
	for (size_t i = 0; i < km->nranges; i++) {
		iova.v[i].start = km->ranges[i].start;
		iova.v[i].end = km->ranges[i].last;
	}
	size = km_cap_add(caps, size, &last, &mig, sizeof(mig), base);
	size = km_cap_add(caps, size, &last, &avail, sizeof(avail), base);
	size = km_cap_add(caps, size, &last, &iova,
			  sizeof(iova.r) + km->nranges * sizeof(iova.v[0]), base);
	info->flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	info->iova_pgsizes = km->pgsizes;
	if (info->argsz < base + size) {
		/* Too small: say how much is needed; no chain. */
		if (info->argsz >= sizeof(*info))
			info->cap_offset = 0;
		info->argsz = base + size;
		return 0;
	}
	memcpy((uint8_t *)info + base, caps, size);
	info->cap_offset = base;
	return 0;
}

/* vfio_dma_do_map() */
static int km_type1_map(struct kmodel *km, struct kcontainer *c,
			const struct vfio_iommu_type1_dma_map *map)
{
	uint64_t pgsize = km_min_pgsize(km->pgsizes);
	struct kmap m = { .iova = map->iova, .size = map->size, .vaddr = map->vaddr };
	int ret;

	if (map->argsz < offsetof(struct vfio_iommu_type1_dma_map, size) + 8 ||
	    map->flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |
			   VFIO_DMA_MAP_FLAG_VADDR))
		return -EINVAL;
	if (map->flags & VFIO_DMA_MAP_FLAG_VADDR) {
		/* Re-pointing a vaddr needs UNMAP_FLAG_VADDR first; not modelled. */
		return (map->flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) ?
			       -EINVAL : -ENOENT;
	}
	if (!(map->flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)))
		return -EINVAL;
	if (!map->size || ((map->size | map->iova | map->vaddr) & (pgsize - 1)))
		return -EINVAL;
	if (map->iova + map->size - 1 < map->iova || map->vaddr + map->size - 1 < map->vaddr)
		return -EINVAL;
	if (km_maps_find(&c->maps, map->iova, map->size))
		return -EEXIST;
	if (!c->dma_avail)
		return -ENOSPC;
	if (!km_range_allowed(km->ranges, km->nranges, map->iova, map->size))
		return -EINVAL;
	/* vfio_pin_map_dma(): a failed pin removes the whole vfio_dma again. */
	ret = km_pin(km, &m);
	if (ret)
		return ret;
	ret = km_maps_insert(&c->maps, &m);
	if (ret) {
		km_unpin(km, &m);
		return ret;
	}
	c->dma_avail--;
	return 0;
}

/* vfio_dma_do_unmap() for a v2 container (v1's partial unmaps: not modelled) */
static int km_type1_unmap(struct kmodel *km, struct kcontainer *c,
			  struct vfio_iommu_type1_dma_unmap *unmap)
{
	uint64_t pgsize = km_min_pgsize(km->pgsizes);
	uint64_t iova = unmap->iova, size = unmap->size, last, unmapped = 0;
	bool all = unmap->flags & VFIO_DMA_UNMAP_FLAG_ALL;

	if (unmap->argsz < offsetof(struct vfio_iommu_type1_dma_unmap, size) + 8 ||
	    unmap->flags & ~(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR |
			     VFIO_DMA_UNMAP_FLAG_ALL))
		return -EINVAL;
	if (unmap->flags & (VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR))
		return -EINVAL;	/* dirty tracking and vaddr update: not modelled */
	if (iova & (pgsize - 1))
		return -EINVAL;
	if (all) {
		if (iova || size)
			return -EINVAL;
		size = UINT64_MAX;
	} else if (!size || (size & (pgsize - 1)) || iova + size - 1 < iova) {
		return -EINVAL;
	}
	last = all ? UINT64_MAX : iova + size - 1;
	if (c->v2 && !all) {
		struct kmap *m = km_maps_find(&c->maps, iova, 1);

		if (m && m->iova != iova)
			return -EINVAL;
		m = km_maps_find(&c->maps, last, 1);
		if (m && m->iova + m->size - 1 != last)
			return -EINVAL;
	}
	for (size_t i = 0; i < c->maps.n;) {
		struct kmap *m = &c->maps.v[i];

		if (m->iova >= iova && m->iova + m->size - 1 <= last) {
			unmapped += m->size;
			km_unpin(km, m);
			km_maps_remove(&c->maps, i);
			c->dma_avail++;
			continue;
		}
		i++;
	}
	unmap->size = unmapped;
	return 0;
}

/* vfio_fops_unl_ioctl(), then the type1 driver's ioctl once one is set. */
int km_container_ioctl(struct kfile *f, unsigned long req, void *arg)
{
	struct kcontainer *c = f->cont;
	struct kmodel *km = f->km;

	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return km_type1_check_extension(c, (unsigned long)arg);
	case VFIO_SET_IOMMU:
		return km_type1_set_iommu(km, c, (unsigned long)arg);
	}
	if (!c->iommu)
		return -EINVAL;
	switch (req) {
	case VFIO_IOMMU_GET_INFO:
		return km_type1_get_info(km, c, arg);
	case VFIO_IOMMU_MAP_DMA:
		return km_type1_map(km, c, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return km_type1_unmap(km, c, arg);
	default:
		return -ENOTTY;
	}
}
