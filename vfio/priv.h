/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio/ private: the objects behind struct vfio_ctx and helpers shared by the
 * layer's files.  Nothing outside vfio/ includes this.
 */
#ifndef FERRY_VFIO_PRIV_H
#define FERRY_VFIO_PRIV_H

#include <stdarg.h>

#include "vfio/vfio.h"

/* One range of guest RAM every container/IOAS must map (IOVA = GPA). */
struct vfio_dma_range {
	uint64_t iova;
	uint64_t vaddr;
	uint64_t size;
};

/*
 * One per IOMMU group id (the kernel lets a group node have one opener).
 * Lives while a device uses it: @refs counts the devices.  A group holds the
 * ctx's container (ctx->users counts the groups in it).
 */
struct vfio_group {
	struct vfio_ctx *ctx;
	struct vfio_group *next;
	unsigned int id;
	unsigned int refs;
	int fd;
	bool kvm_added;
};

struct vfio_device {
	struct vfio_ctx *ctx;
	struct vfio_device *next;
	struct vfio_group *group;	/* NULL with the iommufd backend */
	struct vfio_bdf bdf;
	char name[VFIO_BDF_STRLEN];
	unsigned int group_id;
	int fd;
	bool kvm_added;			/* iommufd backend: the cdev fd is in kvm-vfio */
	bool bound;			/* iommufd backend: BIND_IOMMUFD done */
	bool attached;			/* iommufd backend: ATTACH_IOMMUFD_PT done */
	uint32_t dev_id;
	struct vfio_dev_info info;
};

struct vfio_ctx {
	struct vfio_sys *sys;
	struct vfio_ctx_opts opts;

	/*
	 * The one container (or iommufd + IOAS) shared by every group/device.
	 * It exists exactly while @users > 0 (groups in the container, or
	 * devices attached to the IOAS), and while it exists every range of
	 * @dma is mapped in it.
	 */
	int container_fd;
	uint32_t ioas_id;
	unsigned int users;
	struct vfio_iova_span *ranges;	/* what the live container/IOAS accepts */
	uint32_t nr_ranges;
	bool has_dma_avail;
	/* Mappings the container still allows: as last read, kept up to date. */
	uint32_t dma_avail;

	/* One kvm-vfio device per VM, created on first use; never closed early. */
	int kvm_fd;
	bool kvm_lent;			/* kvm_fd is the caller's (vfio_ctx_lend_kvm) */

	struct vfio_group *groups;
	struct vfio_device *devices;

	struct vfio_dma_range *dma;
	size_t nr_dma;
	size_t cap_dma;
};

/* Fills @err (when not NULL) with errnum and the formatted message; returns errnum. */
int vfio_err_set(struct vfio_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends to @err->msg (truncating quietly). */
void vfio_err_append(struct vfio_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vfio_err_clear(struct vfio_err *err);

/*
 * Reads directory @path into a malloc'ed NUL-separated buffer (*@buf, free()
 * it), growing on -ERANGE; returns the bytes used.
 */
ssize_t vfio_host_readdir_all(struct vfio_sys *sys, const char *path, char **buf);
/* Reads a small text file, NUL-terminated and without its trailing newline. */
int vfio_host_read_text(struct vfio_sys *sys, const char *path, char *buf, size_t len);

/*
 * Checks that [iova, iova + size - 1] lies inside one of @ranges.  When not,
 * returns false and sets *@hole to the reserved hole (the gap between
 * ranges) holding the first address that is not covered; *@hole is the
 * whole range when it straddles two ranges without touching a hole.
 */
bool vfio_iova_fits(const struct vfio_iova_span *ranges, uint32_t nr, uint64_t iova,
		    uint64_t size, struct vfio_iova_span *hole);

/* ---- ctx.c: the shared container / IOAS and the kvm-vfio device ---- */

/*
 * Puts group @group_fd into the ctx's container, creating the container on
 * first use (open, SET_IOMMU, GET_INFO, map the DMA list).  On failure the
 * group is out of the container again; a container created here stays open
 * until vfio_ctx_container_put() (so the group fd can be closed first).
 */
int vfio_ctx_container_join(struct vfio_ctx *ctx, int group_fd, unsigned int group,
			    struct vfio_err *err);
/* Takes the group out: the last one unmaps the DMA list first.  Returns the first error. */
int vfio_ctx_container_leave(struct vfio_ctx *ctx, int group_fd, struct vfio_err *err);
/*
 * Closes the container once no group is in it (after the group fds are
 * closed); returns close's error (the fd is released regardless).
 */
int vfio_ctx_container_put(struct vfio_ctx *ctx);

/* The iommufd and its IOAS, created and filled on first use; counted per device. */
int vfio_ctx_ioas_get(struct vfio_ctx *ctx, struct vfio_err *err);
/* Re-reads the IOAS's usable ranges (they shrink as devices attach). */
int vfio_ctx_ioas_refresh(struct vfio_ctx *ctx, struct vfio_err *err);
int vfio_ctx_ioas_put(struct vfio_ctx *ctx, struct vfio_err *err);

/* The kvm-vfio device fd, created on first use; -ENODEV without a VM fd. */
int vfio_ctx_kvm_get(struct vfio_ctx *ctx, struct vfio_err *err);

/* ---- dma.c: the DMA list in the live container / IOAS ---- */

/* Maps the whole list into the new container/IOAS; all or nothing. */
int vfio_dma_fill(struct vfio_ctx *ctx, struct vfio_err *err);
/* Unmaps the whole list; keeps going on errors and returns the first. */
int vfio_dma_unfill(struct vfio_ctx *ctx, struct vfio_err *err);

/* ---- explain.c: what a person is told ---- */

bool vfio_driver_is_vfio(const char *driver);
int vfio_explain_driver(struct vfio_sys *sys, const char *name, const char *driver,
			struct vfio_err *err);
int vfio_explain_not_viable(struct vfio_sys *sys, unsigned int group, struct vfio_err *err);
/* open of /dev/vfio/N or a device cdev failed with @errnum. */
int vfio_explain_open(struct vfio_sys *sys, unsigned int group, const char *path,
		      int errnum, struct vfio_err *err);

/*
 * Walks the capability chain of an INFO reply of @size bytes whose first
 * capability is at @first (0: none).  Calls @fn for each; stops at the first
 * non-zero return and returns it.  -EPROTO when the chain leaves the buffer
 * or does not move forward (a malformed chain must not loop or overread).
 * @fn gets the capability and the bytes from it to the end of the buffer.
 */
typedef int (*vfio_cap_fn)(const struct vfio_info_cap_header *cap, size_t avail, void *arg);
int vfio_cap_walk(const void *buf, size_t size, size_t hdr_size, uint32_t first,
		  vfio_cap_fn fn, void *arg);

#endif /* FERRY_VFIO_PRIV_H */
