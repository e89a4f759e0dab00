/* SPDX-License-Identifier: GPL-2.0-only */
/* passthrough/ private: the objects behind passthrough.h, shared by its files. */
#ifndef FERRY_PASSTHROUGH_PRIV_H
#define FERRY_PASSTHROUGH_PRIV_H

#include <pthread.h>

#include "passthrough/passthrough.h"

#define PT_NR_BARS	6
#define PT_UNMAPPED	UINT64_MAX
/* The guest sees a conventional 256-byte config space; extended capabilities are hidden. */
#define PT_CFG_SIZE	256

struct passthrough_host {
	struct passthrough_vm_config cfg;
	struct vfio_ctx *ctx;
	struct mem_listener *listener;
	/* One per -object iommufd: its own ctx (IOAS) and RAM listener. */
	struct pt_iommufd_space *iommufds;
	size_t nr_iommufds;
	/* Newest first, so that removing all goes in reverse order of adding. */
	struct passthrough_device *devices;
	size_t nr_devices;
};

/* One mmap'ed piece of a BAR (the whole BAR, or one sparse area). */
struct pt_bar_area {
	uint64_t offset;	/* within the BAR */
	uint64_t size;
	void *hva;
	bool in_map;		/* a region of the guest's memory map (a KVM memslot) now */
};

struct passthrough_bar {
	struct passthrough_device *dev;
	int index;
	struct vfio_region region;
	uint64_t size;		/* 0: the BAR is not implemented */
	bool io;
	bool mem64;		/* this BAR and the next form one 64-bit BAR */
	bool upper;		/* the upper half of the previous 64-bit BAR */
	uint32_t flag_bits;	/* the read-only low bits of the register */
	/* Where the guest's accesses go now (traps and memslots), or PT_UNMAPPED. */
	uint64_t mapped;
	unsigned int nr_areas;
	struct pt_bar_area *areas;
};

/* How a byte of the guest's config space is served. */
enum pt_cfg_kind {
	PT_CFG_HIDDEN,		/* reads 0, writes dropped */
	PT_CFG_DEVICE,		/* the device's, read and write */
	PT_CFG_DEVICE_RO,	/* the device's, writes dropped */
	PT_CFG_EMULATED,	/* kept here (see config.c) */
};

struct passthrough_device {
	struct passthrough_host *host;
	struct passthrough_device *next;
	struct passthrough_opts opts;
	struct vfio_device *vdev;
	struct vfio_sys *sys;
	int fd;				/* the VFIO device fd */

	/* Guards everything below: config accesses come from any vCPU. */
	pthread_mutex_t lock;
	struct vfio_region cfg_region;
	uint8_t kind[PT_CFG_SIZE];
	uint8_t emu[PT_CFG_SIZE];	/* values of the emulated bytes */
	uint16_t command;		/* as the guest last wrote it */
	struct passthrough_bar bars[PT_NR_BARS];
	bool remap_pending;
};

/* host.c */
/*
 * The VFIO attach of @opts->host in the ctx its options choose (the
 * container, or the IOAS of iommufd=); @err gets "-device host=BDF: why".
 */
int pt_host_attach(struct passthrough_host *host, const struct passthrough_opts *opts,
		   struct vfio_device **vdev, char *err, size_t errlen);

/* config.c */
int pt_config_init(struct passthrough_device *dev, char *err, size_t errlen);
void pt_config_release(struct passthrough_device *dev);

/* bar.c */
/* @cfg: the device's config space as read at attach (BAR types). */
int pt_bars_init(struct passthrough_device *dev, const uint8_t *cfg, char *err, size_t errlen);
/* Unmaps every BAR from the guest and releases the mmaps. */
void pt_bars_release(struct passthrough_device *dev);
/* The address BAR @bar decodes at with the current registers, or PT_UNMAPPED. */
uint64_t pt_bar_decoded(struct passthrough_device *dev, int bar);
/* Called with dev->lock held after a write to COMMAND or a BAR. */
void pt_bars_update(struct passthrough_device *dev);

#endif /* FERRY_PASSTHROUGH_PRIV_H */
