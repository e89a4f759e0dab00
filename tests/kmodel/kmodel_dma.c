// SPDX-License-Identifier: GPL-2.0-only
/*
 * DMA mappings and page pinning, shared by type1 containers and IOAS.
 *
 * Pinning: the kernel pins a mapping's pages when it reaches a real IOMMU
 * domain (type1: at MAP_DMA, since a container with an IOMMU always has a
 * group; iommufd: once the IOAS has a domain, i.e. a device or HWPT on it)
 * and counts them against RLIMIT_MEMLOCK unless the task has CAP_IPC_LOCK.
 * The model counts whole mappings against its own limit (kmodel_set_memlock)
 * and its own counter only.  Simplifications: the kernel also counts what
 * the process mlocked by other means (type1: mm->locked_vm; iommufd default:
 * the user's locked_vm across processes), and does not charge a page twice
 * that it already pinned for the same vfio_dma; the model charges each
 * mapping in full, so mapping the same memory twice costs twice (as it does
 * in the kernel across containers or IOAS).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmodel_priv.h"

struct kmap *km_maps_find(struct kmaps *m, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;

	for (size_t i = 0; i < m->n; i++) {
		struct kmap *k = &m->v[i];

		if (k->iova <= last && iova <= k->iova + k->size - 1)
			return k;
	}
	return NULL;
}

int km_maps_insert(struct kmaps *m, const struct kmap *map)
{
	size_t i;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct kmap *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	for (i = m->n; i && m->v[i - 1].iova > map->iova; i--)
		m->v[i] = m->v[i - 1];
	m->v[i] = *map;
	m->n++;
	return 0;
}

void km_maps_remove(struct kmaps *m, size_t idx)
{
	memmove(&m->v[idx], &m->v[idx + 1], (m->n - idx - 1) * sizeof(*m->v));
	m->n--;
}

void km_maps_clear(struct kmodel *km, struct kmaps *m)
{
	km_maps_unpin_all(km, m);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/*
 * The kernel's pin (pin_user_pages) fails with EFAULT where the range is not
 * mapped in the process; mincore() answers the same question (ENOMEM for an
 * unmapped page) without touching the memory.
 */
static int km_vaddr_mapped(uint64_t vaddr, uint64_t size)
{
	uint64_t start = vaddr & ~(KM_PAGE_SIZE - 1);
	uint64_t end = (vaddr + size + KM_PAGE_SIZE - 1) & ~(KM_PAGE_SIZE - 1);
	unsigned char vec[256];

	while (start < end) {
		uint64_t chunk = end - start;

		if (chunk > sizeof(vec) * KM_PAGE_SIZE)
			chunk = sizeof(vec) * KM_PAGE_SIZE;
		if (mincore((void *)(uintptr_t)start, chunk, vec))
			return -EFAULT;
		start += chunk;
	}
	return 0;
}

int km_pin(struct kmodel *km, struct kmap *map)
{
	int ret;

	if (map->pinned)
		return 0;
	ret = km_vaddr_mapped(map->vaddr, map->size);
	if (ret)
		return ret;
	if (!km->cap_ipc_lock && km->pinned + map->size > km->memlock)
		return -ENOMEM;
	km->pinned += map->size;
	map->pinned = true;
	return 0;
}

void km_unpin(struct kmodel *km, struct kmap *map)
{
	if (!map->pinned)
		return;
	km->pinned -= map->size;
	map->pinned = false;
}

/* All or nothing, as the kernel fills a new domain from an IOAS. */
int km_maps_pin_all(struct kmodel *km, struct kmaps *m)
{
	for (size_t i = 0; i < m->n; i++) {
		int ret = km_pin(km, &m->v[i]);

		if (ret) {
			while (i--)
				km_unpin(km, &m->v[i]);
			return ret;
		}
	}
	return 0;
}

void km_maps_unpin_all(struct kmodel *km, struct kmaps *m)
{
	for (size_t i = 0; i < m->n; i++)
		km_unpin(km, &m->v[i]);
}
