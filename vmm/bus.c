// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest's port-I/O and MMIO address spaces (vmm/bus.h).
 *
 * Each space is an array of non-overlapping ranges sorted by base, searched
 * by bisection.  A vCPU exit holds the read lock for the whole device
 * callback, so vmm_bus_unregister() (write lock) returns only once no
 * callback of the removed range is running.  The lock prefers writers:
 * vCPUs hammer the read side, and a hot-plug must not starve behind them.
 * For the same reason an op must not call vmm_bus_access() itself: a read
 * lock taken twice deadlocks as soon as a writer queues between the two.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/bus.h"

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct vmm_bus_ops *ops;
	void *opaque;
};

struct bus_space {
	struct bus_range *ranges;
	size_t count;
	size_t cap;
};

struct vmm_bus {
	pthread_rwlock_t lock;
	struct bus_space space[2];
};

/* Work queued by a device callback for the end of the current access. */
struct bus_after {
	void (*fn)(void *opaque);
	void *opaque;
};

#define BUS_AFTER_MAX 16
static __thread struct bus_after bus_after_queue[BUS_AFTER_MAX];
static __thread unsigned int bus_after_count;
static __thread bool bus_in_access;

struct vmm_bus *vmm_bus_new(void)
{
	struct vmm_bus *bus = calloc(1, sizeof(*bus));
	pthread_rwlockattr_t attr;

	if (!bus)
		return NULL;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&bus->lock, &attr)) {
		pthread_rwlockattr_destroy(&attr);
		free(bus);
		return NULL;
	}
	pthread_rwlockattr_destroy(&attr);
	return bus;
}

void vmm_bus_free(struct vmm_bus *bus)
{
	if (!bus)
		return;
	for (size_t i = 0; i < 2; i++)
		free(bus->space[i].ranges);
	pthread_rwlock_destroy(&bus->lock);
	free(bus);
}

/* Index of the first range whose base is > @addr. */
static size_t bus_upper(const struct bus_space *s, uint64_t addr)
{
	size_t lo = 0, hi = s->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The range containing @addr, or NULL. */
static const struct bus_range *bus_find(const struct bus_space *s, uint64_t addr)
{
	size_t i = bus_upper(s, addr);
	const struct bus_range *r;

	if (!i)
		return NULL;
	r = &s->ranges[i - 1];
	return addr - r->base < r->len ? r : NULL;
}

int vmm_bus_register(struct vmm_bus *bus, enum vmm_bus_space space, uint64_t base,
		     uint64_t len, const struct vmm_bus_ops *ops, void *opaque)
{
	struct bus_space *s;
	size_t i;
	int ret = 0;

	if ((space != VMM_BUS_PIO && space != VMM_BUS_MMIO) || !len || !ops ||
	    base + len - 1 < base)
		return -EINVAL;
	s = &bus->space[space];

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_upper(s, base);
	/* The left neighbour must end before @base, the right start after our end. */
	if ((i > 0 && s->ranges[i - 1].base + s->ranges[i - 1].len - 1 >= base) ||
	    (i < s->count && s->ranges[i].base <= base + len - 1)) {
		ret = -EEXIST;
		goto out;
	}
	if (s->count == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct bus_range *n = realloc(s->ranges, cap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		s->ranges = n;
		s->cap = cap;
	}
	memmove(&s->ranges[i + 1], &s->ranges[i], (s->count - i) * sizeof(*s->ranges));
	s->ranges[i] = (struct bus_range){ .base = base, .len = len, .ops = ops, .opaque = opaque };
	s->count++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int vmm_bus_unregister(struct vmm_bus *bus, enum vmm_bus_space space, uint64_t base)
{
	struct bus_space *s;
	size_t i;
	int ret = -ENOENT;

	if (space != VMM_BUS_PIO && space != VMM_BUS_MMIO)
		return -EINVAL;
	s = &bus->space[space];

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_upper(s, base);
	if (i > 0 && s->ranges[i - 1].base == base) {
		i--;
		memmove(&s->ranges[i], &s->ranges[i + 1],
			(s->count - i - 1) * sizeof(*s->ranges));
		s->count--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int vmm_bus_after_access(void (*fn)(void *opaque), void *opaque)
{
	if (!bus_in_access)
		return -EPERM;
	if (bus_after_count == BUS_AFTER_MAX)
		return -ENOSPC;
	bus_after_queue[bus_after_count++] = (struct bus_after){ .fn = fn, .opaque = opaque };
	return 0;
}

bool vmm_bus_access(struct vmm_bus *bus, enum vmm_bus_space space, uint64_t addr,
		    void *data, unsigned int len, bool is_write)
{
	const struct bus_range *r = NULL;
	bool hit = false;

	if (space == VMM_BUS_PIO || space == VMM_BUS_MMIO) {
		pthread_rwlock_rdlock(&bus->lock);
		r = bus_find(&bus->space[space], addr);
		/* An access that runs past the end of its range reaches nobody. */
		if (r && len && len - 1 <= r->len - 1 - (addr - r->base)) {
			hit = true;
			bus_in_access = true;
			if (is_write) {
				if (r->ops->write)
					r->ops->write(r->opaque, addr - r->base, data, len);
			} else if (r->ops->read) {
				r->ops->read(r->opaque, addr - r->base, data, len);
			} else {
				memset(data, 0xff, len);
			}
			bus_in_access = false;
		}
		pthread_rwlock_unlock(&bus->lock);
	}
	if (!hit && !is_write)
		memset(data, 0xff, len);

	/* Outside the lock, so the work may (un)register ranges. */
	for (unsigned int i = 0; i < bus_after_count; i++)
		bus_after_queue[i].fn(bus_after_queue[i].opaque);
	bus_after_count = 0;
	return hit;
}
