/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: the guest's port-I/O and MMIO address spaces.  vCPU threads
 * dispatch their exits here; devices register ranges.
 *
 * Locking: registration takes the bus write lock, dispatch its read lock, so
 * a range can be added or removed (hot-plug) while vCPUs run.  A device's
 * ops run under the read lock and must not register or unregister ranges
 * themselves; they serialise their own state with their own lock.
 */
#ifndef FERRY_VMM_BUS_H
#define FERRY_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

enum vmm_bus_space {
	VMM_BUS_PIO,
	VMM_BUS_MMIO,
};

/* @offset is relative to the registered base; @len is 1, 2, 4 or 8. */
struct vmm_bus_ops {
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned int len);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned int len);
};

struct vmm_bus;

struct vmm_bus *vmm_bus_new(void);
void vmm_bus_free(struct vmm_bus *bus);

/* Returns -EEXIST when the range overlaps one already registered. */
int vmm_bus_register(struct vmm_bus *bus, enum vmm_bus_space space, uint64_t base,
		     uint64_t len, const struct vmm_bus_ops *ops, void *opaque);
/* Returns -ENOENT when no range starts at @base. */
int vmm_bus_unregister(struct vmm_bus *bus, enum vmm_bus_space space, uint64_t base);

/*
 * Performs one guest access.  Returns false when nothing is registered at
 * @addr: reads then see all-ones, as on real hardware, and writes are dropped.
 */
bool vmm_bus_access(struct vmm_bus *bus, enum vmm_bus_space space, uint64_t addr,
		    void *data, unsigned int len, bool is_write);

/*
 * From inside a device op only: runs @fn(@opaque) on the calling vCPU thread
 * once the current access has returned from every op and the bus lock is
 * released, before the vCPU resumes the guest.  This is how a device changes
 * the bus in response to a guest access (a PCI BAR moved by a config write)
 * without deadlocking on the lock its op runs under; the guest sees the new
 * mapping from its next instruction on.  Up to 16 per access.
 * Returns -EPERM outside an op, -ENOSPC when the queue is full.
 */
int vmm_bus_after_access(void (*fn)(void *opaque), void *opaque);

#endif /* FERRY_VMM_BUS_H */
