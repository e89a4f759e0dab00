// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest memory map and its listeners.
 *
 * Invariants: regions are kept sorted by gpa and never overlap; every
 * registered listener has been told region_add for exactly the regions in
 * the list, so adding/removing a listener or a region keeps each listener's
 * view equal to the map.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory/memory.h"

struct mem_listener {
	const struct mem_listener_ops *ops;
	void *opaque;
	struct mem_listener *next;
};

struct mem_map {
	pthread_mutex_t lock;
	struct mem_region *regions;	/* sorted by gpa */
	size_t nr_regions;
	size_t cap_regions;
	struct mem_listener *listeners;
};

int mem_map_new(struct mem_map **out)
{
	struct mem_map *map = calloc(1, sizeof(*map));

	if (!map)
		return -ENOMEM;
	pthread_mutex_init(&map->lock, NULL);
	*out = map;
	return 0;
}

static void map_notify_del(struct mem_map *map, const struct mem_region *r)
{
	for (struct mem_listener *l = map->listeners; l; l = l->next)
		l->ops->region_del(l->opaque, r);
}

void mem_map_free(struct mem_map *map)
{
	if (!map)
		return;
	pthread_mutex_lock(&map->lock);
	while (map->nr_regions) {
		map->nr_regions--;
		map_notify_del(map, &map->regions[map->nr_regions]);
	}
	while (map->listeners) {
		struct mem_listener *l = map->listeners;

		map->listeners = l->next;
		free(l);
	}
	pthread_mutex_unlock(&map->lock);
	pthread_mutex_destroy(&map->lock);
	free(map->regions);
	free(map);
}

int mem_map_listen(struct mem_map *map, const struct mem_listener_ops *ops, void *opaque,
		   struct mem_listener **out)
{
	struct mem_listener *l = calloc(1, sizeof(*l));
	size_t i;
	int ret = 0;

	if (!l)
		return -ENOMEM;
	l->ops = ops;
	l->opaque = opaque;

	pthread_mutex_lock(&map->lock);
	for (i = 0; i < map->nr_regions; i++) {
		ret = ops->region_add(opaque, &map->regions[i]);
		if (ret)
			break;
	}
	if (ret) {
		while (i--)
			ops->region_del(opaque, &map->regions[i]);
		pthread_mutex_unlock(&map->lock);
		free(l);
		return ret;
	}
	l->next = map->listeners;
	map->listeners = l;
	pthread_mutex_unlock(&map->lock);
	if (out)
		*out = l;
	return 0;
}

void mem_map_unlisten(struct mem_map *map, struct mem_listener *listener)
{
	struct mem_listener **pp;

	if (!listener)
		return;
	pthread_mutex_lock(&map->lock);
	for (pp = &map->listeners; *pp; pp = &(*pp)->next) {
		if (*pp == listener) {
			*pp = listener->next;
			break;
		}
	}
	for (size_t i = map->nr_regions; i-- > 0;)
		listener->ops->region_del(listener->opaque, &map->regions[i]);
	pthread_mutex_unlock(&map->lock);
	free(listener);
}

static bool range_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int mem_map_add(struct mem_map *map, const struct mem_region *region)
{
	long page = sysconf(_SC_PAGESIZE);
	struct mem_listener *l, *failed = NULL;
	size_t pos;
	int ret = 0;

	if (!region->size || (region->gpa | region->size) & (page - 1) ||
	    region->gpa + region->size < region->gpa)
		return -EINVAL;

	pthread_mutex_lock(&map->lock);
	for (pos = 0; pos < map->nr_regions; pos++) {
		const struct mem_region *r = &map->regions[pos];

		if (range_overlaps(r->gpa, r->size, region->gpa, region->size)) {
			ret = -EEXIST;
			goto out;
		}
		if (r->gpa > region->gpa)
			break;
	}
	if (map->nr_regions == map->cap_regions) {
		size_t cap = map->cap_regions ? map->cap_regions * 2 : 8;
		struct mem_region *n = realloc(map->regions, cap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		map->regions = n;
		map->cap_regions = cap;
	}

	for (l = map->listeners; l; l = l->next) {
		ret = l->ops->region_add(l->opaque, region);
		if (ret) {
			failed = l;
			break;
		}
	}
	if (failed) {
		for (l = map->listeners; l != failed; l = l->next)
			l->ops->region_del(l->opaque, region);
		goto out;
	}
	memmove(&map->regions[pos + 1], &map->regions[pos],
		(map->nr_regions - pos) * sizeof(*map->regions));
	map->regions[pos] = *region;
	map->nr_regions++;
out:
	pthread_mutex_unlock(&map->lock);
	return ret;
}

int mem_map_del(struct mem_map *map, uint64_t gpa)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&map->lock);
	for (size_t i = 0; i < map->nr_regions; i++) {
		if (map->regions[i].gpa != gpa)
			continue;
		map_notify_del(map, &map->regions[i]);
		memmove(&map->regions[i], &map->regions[i + 1],
			(map->nr_regions - i - 1) * sizeof(*map->regions));
		map->nr_regions--;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&map->lock);
	return ret;
}

void *mem_map_gpa_to_hva(struct mem_map *map, uint64_t gpa, uint64_t len)
{
	void *hva = NULL;

	if (gpa + len < gpa)
		return NULL;
	pthread_mutex_lock(&map->lock);
	for (size_t i = 0; i < map->nr_regions; i++) {
		const struct mem_region *r = &map->regions[i];

		if (gpa >= r->gpa && gpa + len <= r->gpa + r->size) {
			hva = (char *)r->hva + (gpa - r->gpa);
			break;
		}
	}
	pthread_mutex_unlock(&map->lock);
	return hva;
}

int mem_map_for_each(struct mem_map *map,
		     int (*fn)(void *opaque, const struct mem_region *region), void *opaque)
{
	int ret = 0;

	pthread_mutex_lock(&map->lock);
	for (size_t i = 0; i < map->nr_regions && !ret; i++)
		ret = fn(opaque, &map->regions[i]);
	pthread_mutex_unlock(&map->lock);
	return ret;
}
