/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * memory/ - guest RAM: its layout, its backing (memfd, hugetlbfs, THP) and
 * the guest memory map that other parts subscribe to.
 *
 * The map is a list of regions (guest physical range -> host mapping and
 * file).  Listeners (KVM memslots, a VFIO container, an iommufd IOAS) get
 * region_add / region_del for every change, and on registration are
 * replayed every region already present, so a consumer created late (a VFIO
 * container made at hot-plug) sees exactly the RAM a consumer made early
 * sees.  This layer knows nothing of KVM or VFIO.
 *
 * This is the layer's only public header.
 */
#ifndef FERRY_MEMORY_H
#define FERRY_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * RAM layout: the first min(size, MEM_LOW_RAM_TOP) bytes sit at guest
 * address 0, the rest from MEM_HIGH_RAM_BASE.  [MEM_LOW_RAM_TOP, 4 GiB) is
 * the 32-bit hole for PCI MMIO, ECAM, IOAPIC and LAPIC; it also keeps RAM off
 * the x86 MSI window at 0xfee00000, which IOMMUs reserve.
 */
#define MEM_LOW_RAM_TOP		0xc0000000ULL
#define MEM_HIGH_RAM_BASE	0x100000000ULL
/* Smallest and largest guest RAM accepted (the latter: 1 TiB). */
#define MEM_RAM_MIN		(16ULL << 20)
#define MEM_RAM_MAX		(1ULL << 40)

/* Region flags. */
#define MEM_REGION_RAM		(1u << 0)	/* guest RAM (DMA-able) */
#define MEM_REGION_HUGETLB	(1u << 1)	/* backed by hugetlbfs pages */

struct mem_region {
	uint64_t gpa;		/* guest physical start, page aligned */
	uint64_t size;		/* bytes, page aligned, > 0 */
	void *hva;		/* host mapping of gpa */
	int fd;			/* backing file (memfd/hugetlbfs), -1 if anonymous */
	uint64_t fd_offset;	/* offset of gpa's page in fd */
	uint32_t flags;		/* MEM_REGION_* */
};

/*
 * Callbacks run with the map's lock held, on the thread that changed the
 * map: they must not call back into the same map.  region_add may fail
 * (negative errno); the change that caused it is then rolled back (the
 * listeners already told get region_del) and its caller gets the error.
 * region_del cannot fail.
 */
struct mem_listener_ops {
	int (*region_add)(void *opaque, const struct mem_region *region);
	void (*region_del)(void *opaque, const struct mem_region *region);
};

struct mem_map;
struct mem_listener;

int mem_map_new(struct mem_map **map);
/* Removes every region (telling the listeners still registered), then frees. */
void mem_map_free(struct mem_map *map);

/*
 * Registers a listener and replays every current region to it, in address
 * order.  If a replayed region_add fails, the regions already given are
 * deleted again, the listener is not registered, and the error returned.
 */
int mem_map_listen(struct mem_map *map, const struct mem_listener_ops *ops, void *opaque,
		   struct mem_listener **listener);
/* Calls region_del for every current region, then unregisters the listener. */
void mem_map_unlisten(struct mem_map *map, struct mem_listener *listener);

/* -EINVAL: unaligned or empty; -EEXIST: overlaps a region; else a listener's error. */
int mem_map_add(struct mem_map *map, const struct mem_region *region);
/* Removes the region that starts at @gpa; -ENOENT when there is none. */
int mem_map_del(struct mem_map *map, uint64_t gpa);

/* Host address of [gpa, gpa + len) when it lies inside one region, else NULL. */
void *mem_map_gpa_to_hva(struct mem_map *map, uint64_t gpa, uint64_t len);

/* Calls @fn for every region in address order; stops at and returns a non-zero result. */
int mem_map_for_each(struct mem_map *map,
		     int (*fn)(void *opaque, const struct mem_region *region), void *opaque);

/*
 * ---- Guest RAM ----
 * One file backs all RAM: a memfd (MFD_CLOEXEC; MFD_HUGETLB when asked),
 * or an unlinked file in @mem_path (a hugetlbfs mount, as QEMU's -mem-path).
 * It is mapped MAP_SHARED once; the regions of the layout point into it.
 */
struct mem_ram_opts {
	uint64_t size;		/* bytes; a multiple of the page (or huge page) size */
	const char *mem_path;	/* directory for the backing file */
	bool hugetlb;		/* memfd with MFD_HUGETLB (ignored with mem_path) */
	/*
	 * Without mem_path or hugetlb: a memfd mapped shared, whose fd the
	 * regions carry, instead of anonymous private memory (fd -1).
	 */
	bool shared;
	bool thp;		/* madvise(MADV_HUGEPAGE) the mapping */
};

/* One contiguous guest range of RAM, as laid out by mem_layout_ram(). */
struct mem_range {
	uint64_t gpa;
	uint64_t size;
};

/* Splits @size bytes of RAM around the hole; returns the number of ranges (1 or 2). */
unsigned int mem_layout_ram(uint64_t size, struct mem_range ranges[2]);

struct mem_ram;

/*
 * Allocates RAM and adds its regions to @map.  On failure nothing is left
 * allocated and, when @err is not NULL, it holds a sentence for a person.
 */
int mem_ram_new(struct mem_map *map, const struct mem_ram_opts *opts, struct mem_ram **ram,
		char *err, size_t errlen);
/* Removes the RAM regions from the map and releases the memory. */
void mem_ram_free(struct mem_ram *ram);

/* Top of guest RAM below 4 GiB, and the end of RAM above it (0 when none). */
uint64_t mem_ram_low_top(const struct mem_ram *ram);
uint64_t mem_ram_high_end(const struct mem_ram *ram);

#endif /* FERRY_MEMORY_H */
