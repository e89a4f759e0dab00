// SPDX-License-Identifier: GPL-2.0-only
/*
 * The DMA list: guest RAM every container/IOAS must map (IOVA = GPA).
 *
 * A new container/IOAS is filled from the list (a re-added device must find
 * its mappings: cloud-hypervisor #7328), a range added to the list is mapped
 * into the live one, and every multi-step change is all or nothing.  Before
 * the kernel is asked, each range is checked against the IOVA ranges the
 * container/IOAS accepts and against RLIMIT_MEMLOCK, so the failure can name
 * the range, the reserved hole, the limit and the amount.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

#define PAGE_MASK_4K 0xfffULL

bool vfio_iova_fits(const struct vfio_iova_span *ranges, uint32_t nr, uint64_t iova,
		    uint64_t size, struct vfio_iova_span *hole)
{
	uint64_t last = iova + size - 1;
	uint64_t p = iova;

	for (uint32_t i = 0; i < nr; i++)
		if (iova >= ranges[i].start && last <= ranges[i].last)
			return true;
	/* Find the first address not covered, walking through touching ranges. */
	for (uint32_t i = 0; i < nr && p <= last; i++) {
		if (p < ranges[i].start)
			break;
		if (p <= ranges[i].last) {
			if (ranges[i].last == UINT64_MAX)
				break;
			p = ranges[i].last + 1;
		}
	}
	if (p > last) {
		/* Covered, but by two ranges the kernel will not merge. */
		hole->start = iova;
		hole->last = last;
		return false;
	}
	hole->start = 0;
	hole->last = UINT64_MAX;
	for (uint32_t i = 0; i < nr; i++) {
		if (ranges[i].last < p && ranges[i].last + 1 > hole->start)
			hole->start = ranges[i].last + 1;
		if (ranges[i].start > p && ranges[i].start - 1 < hole->last)
			hole->last = ranges[i].start - 1;
	}
	return false;
}

static uint64_t dma_bytes(struct vfio_ctx *ctx)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < ctx->nr_dma; i++)
		sum += ctx->dma[i].size;
	return sum;
}

static int dma_explain_memlock(struct vfio_ctx *ctx, int errnum, uint64_t need,
			       struct vfio_err *err)
{
	struct rlimit rl;
	int ret;

	ret = ctx->sys->getrlimit(ctx->sys, RLIMIT_MEMLOCK, &rl);
	if (ret)
		return vfio_err_set(err, errnum,
				    "pinning guest RAM for device DMA needs %" PRIu64 " bytes "
				    "locked and the kernel ran out (RLIMIT_MEMLOCK unreadable: "
				    "%s). "
				    "Raise the limit: `ulimit -l` in the shell that starts ferry, "
				    "a memlock line in /etc/security/limits.conf, or give ferry "
				    "CAP_IPC_LOCK", need, strerror(-ret));
	return vfio_err_set(err, errnum,
			    "pinning guest RAM for device DMA needs %" PRIu64 " bytes (%" PRIu64
			    " KiB) locked, but RLIMIT_MEMLOCK is %" PRIu64 " bytes (%" PRIu64
			    " KiB). Raise it: `ulimit -l %" PRIu64 "` in the shell that starts "
			    "ferry, a '<user> hard memlock %" PRIu64 "' line in "
			    "/etc/security/limits.conf (LimitMEMLOCK= for a systemd service), or "
			    "give ferry CAP_IPC_LOCK",
			    need, (need + 1023) / 1024, (uint64_t)rl.rlim_cur,
			    (uint64_t)rl.rlim_cur / 1024, (need + 1023) / 1024,
			    (need + 1023) / 1024);
}

static int dma_explain_avail(struct vfio_ctx *ctx, int errnum, size_t want,
			     struct vfio_err *err)
{
	return vfio_err_set(err, errnum,
			    "the VFIO container allows %u more DMA mappings and guest RAM needs "
			    "%zu: raise vfio_iommu_type1's dma_entry_limit (`modprobe "
			    "vfio_iommu_type1 dma_entry_limit=N`, or write "
			    "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit before "
			    "ferry starts), or use fewer, larger RAM regions",
			    ctx->has_dma_avail ? ctx->dma_avail : 0, want);
}

/* Checks that the kernel will accept the range's IOVA, so a refusal names the hole. */
static int dma_check_iova(struct vfio_ctx *ctx, const struct vfio_dma_range *r,
			  struct vfio_err *err)
{
	struct vfio_iova_span hole;

	if (!ctx->nr_ranges || vfio_iova_fits(ctx->ranges, ctx->nr_ranges, r->iova, r->size,
					      &hole))
		return 0;
	if (hole.start == r->iova && hole.last == r->iova + r->size - 1)
		return vfio_err_set(err, -EINVAL,
				    "guest RAM at IOVA [0x%" PRIx64 ", 0x%" PRIx64 "] spans two "
				    "usable IOVA windows; split it at the boundary", r->iova,
				    r->iova + r->size - 1);
	return vfio_err_set(err, -EINVAL,
			    "guest RAM at IOVA [0x%" PRIx64 ", 0x%" PRIx64 "] overlaps the host's "
			    "reserved IOVA range [0x%" PRIx64 ", 0x%" PRIx64 "] (e.g. the MSI "
			    "window, or a device's reserved region), which no device can reach "
			    "by DMA; lay guest RAM out around it", r->iova, r->iova + r->size - 1,
			    hole.start, hole.last);
}

/*
 * Checks that pinning @pinned bytes in all fits RLIMIT_MEMLOCK.  The kernel
 * counts other locked memory of the process too, so this catches the common
 * case early; the kernel's own ENOMEM is explained the same way.
 */
static int dma_check_memlock(struct vfio_ctx *ctx, uint64_t pinned, struct vfio_err *err)
{
	struct rlimit rl;
	int ret;

	if (ctx->opts.cap_ipc_lock)
		return 0;
	ret = ctx->sys->getrlimit(ctx->sys, RLIMIT_MEMLOCK, &rl);
	if (ret)
		return vfio_err_set(err, ret, "getrlimit(RLIMIT_MEMLOCK): %s", strerror(-ret));
	if (rl.rlim_cur != RLIM_INFINITY && pinned > rl.rlim_cur)
		return dma_explain_memlock(ctx, -ENOMEM, pinned, err);
	return 0;
}

static int dma_explain_map(struct vfio_ctx *ctx, int errnum, const struct vfio_dma_range *r,
			   uint64_t pinned, struct vfio_err *err)
{
	uint64_t last = r->iova + r->size - 1;

	switch (errnum) {
	case -ENOMEM:
		return dma_explain_memlock(ctx, errnum, pinned, err);
	case -ENOSPC:
		return dma_explain_avail(ctx, errnum, 1, err);
	case -EEXIST:
		return vfio_err_set(err, errnum,
				    "guest RAM at IOVA [0x%" PRIx64 ", 0x%" PRIx64 "] overlaps a "
				    "mapping the container already has (made outside this "
				    "context's RAM list)", r->iova, last);
	case -EINVAL:
	case -ERANGE:
		return vfio_err_set(err, errnum,
				    "the kernel refused guest RAM at IOVA [0x%" PRIx64 ", 0x%"
				    PRIx64 "] (vaddr 0x%" PRIx64 "): the range is reserved by the "
				    "host "
				    "IOMMU or not aligned to a page size it supports",
				    r->iova, last, r->vaddr);
	default:
		return vfio_err_set(err, errnum,
				    "mapping guest RAM at IOVA [0x%" PRIx64 ", 0x%" PRIx64 "]: %s",
				    r->iova, last, strerror(-errnum));
	}
}

static int dma_map(struct vfio_ctx *ctx, const struct vfio_dma_range *r)
{
	if (ctx->opts.backend == VFIO_BACKEND_IOMMUFD)
		return vfio_iommufd_map(ctx->sys, ctx->container_fd, ctx->ioas_id, r->iova,
					r->vaddr, r->size);
	return vfio_container_map_dma(ctx->sys, ctx->container_fd, r->iova, r->vaddr, r->size);
}

static int dma_unmap(struct vfio_ctx *ctx, const struct vfio_dma_range *r)
{
	uint64_t done = 0;
	int ret;

	if (ctx->opts.backend == VFIO_BACKEND_IOMMUFD)
		ret = vfio_iommufd_unmap(ctx->sys, ctx->container_fd, ctx->ioas_id, r->iova,
					 r->size, &done);
	else
		ret = vfio_container_unmap_dma(ctx->sys, ctx->container_fd, r->iova, r->size,
					       &done);
	if (ret)
		return ret;
	return done == r->size ? 0 : -EIO;
}

int vfio_dma_fill(struct vfio_ctx *ctx, struct vfio_err *err)
{
	uint64_t pinned = dma_bytes(ctx);
	size_t i;
	int ret;

	/* Everything that can be judged beforehand is, before the first map. */
	if (ctx->has_dma_avail && ctx->nr_dma > ctx->dma_avail)
		return dma_explain_avail(ctx, -ENOSPC, ctx->nr_dma, err);
	for (i = 0; i < ctx->nr_dma; i++) {
		ret = dma_check_iova(ctx, &ctx->dma[i], err);
		if (ret)
			return ret;
	}
	if (ctx->nr_dma) {
		ret = dma_check_memlock(ctx, pinned, err);
		if (ret)
			return ret;
	}
	for (i = 0; i < ctx->nr_dma; i++) {
		ret = dma_map(ctx, &ctx->dma[i]);
		if (ret) {
			dma_explain_map(ctx, ret, &ctx->dma[i], pinned, err);
			goto err_unmap;
		}
		ctx->dma_avail--;
	}
	return 0;

err_unmap:
	while (i--) {
		dma_unmap(ctx, &ctx->dma[i]);
		ctx->dma_avail++;
	}
	return ret;
}

int vfio_dma_unfill(struct vfio_ctx *ctx, struct vfio_err *err)
{
	int ret = 0;

	for (size_t i = ctx->nr_dma; i--;) {
		int r = dma_unmap(ctx, &ctx->dma[i]);

		if (r && !ret)
			ret = vfio_err_set(err, r,
					   "unmapping guest RAM at IOVA 0x%" PRIx64 " (0x%" PRIx64
					   " bytes): %s", ctx->dma[i].iova, ctx->dma[i].size,
					   strerror(-r));
		else if (!r)
			ctx->dma_avail++;
	}
	/* What failed to unmap goes with the container when it is closed. */
	return ret;
}

int vfio_ctx_dma_add(struct vfio_ctx *ctx, uint64_t iova, uint64_t vaddr, uint64_t size,
		     struct vfio_err *err)
{
	struct vfio_dma_range r = { .iova = iova, .vaddr = vaddr, .size = size };
	int ret;

	if (!size || (iova | vaddr | size) & PAGE_MASK_4K || iova + size - 1 < iova)
		return vfio_err_set(err, -EINVAL,
				    "guest RAM range iova 0x%" PRIx64 " vaddr 0x%" PRIx64
				    " size 0x%" PRIx64 " is empty, wraps, or is not 4 KiB aligned",
				    iova, vaddr, size);
	for (size_t i = 0; i < ctx->nr_dma; i++) {
		const struct vfio_dma_range *o = &ctx->dma[i];

		if (iova <= o->iova + o->size - 1 && o->iova <= iova + size - 1)
			return vfio_err_set(err, -EEXIST,
					    "guest RAM at IOVA [0x%" PRIx64 ", 0x%" PRIx64
					    "] overlaps the RAM range already mapped at [0x%"
					    PRIx64 ", 0x%" PRIx64 "]", iova, iova + size - 1,
					    o->iova, o->iova + o->size - 1);
	}
	if (ctx->nr_dma == ctx->cap_dma) {
		size_t cap = ctx->cap_dma ? ctx->cap_dma * 2 : 8;
		struct vfio_dma_range *n = realloc(ctx->dma, cap * sizeof(*n));

		if (!n)
			return vfio_err_set(err, -ENOMEM, "out of memory");
		ctx->dma = n;
		ctx->cap_dma = cap;
	}
	if (ctx->users) {
		uint64_t pinned = dma_bytes(ctx) + size;

		if (ctx->has_dma_avail && ctx->dma_avail < 1)
			return dma_explain_avail(ctx, -ENOSPC, 1, err);
		ret = dma_check_iova(ctx, &r, err);
		if (ret)
			return ret;
		ret = dma_check_memlock(ctx, pinned, err);
		if (ret)
			return ret;
		ret = dma_map(ctx, &r);
		if (ret)
			return dma_explain_map(ctx, ret, &r, pinned, err);
		ctx->dma_avail--;
	}
	ctx->dma[ctx->nr_dma++] = r;
	return 0;
}

int vfio_ctx_dma_remove(struct vfio_ctx *ctx, uint64_t iova, uint64_t size,
			struct vfio_err *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < ctx->nr_dma; i++)
		if (ctx->dma[i].iova == iova && ctx->dma[i].size == size)
			break;
	if (i == ctx->nr_dma)
		return vfio_err_set(err, -ENOENT,
				    "no guest RAM range at IOVA 0x%" PRIx64 " of 0x%" PRIx64
				    " bytes", iova, size);
	if (ctx->users) {
		ret = dma_unmap(ctx, &ctx->dma[i]);
		/* Still mapped: keep it listed, so the list stays the truth. */
		if (ret)
			return vfio_err_set(err, ret,
					    "unmapping guest RAM at IOVA 0x%" PRIx64 ": %s", iova,
					    strerror(-ret));
		ctx->dma_avail++;
	}
	memmove(&ctx->dma[i], &ctx->dma[i + 1], (ctx->nr_dma - i - 1) * sizeof(ctx->dma[0]));
	ctx->nr_dma--;
	return 0;
}

size_t vfio_ctx_dma_count(struct vfio_ctx *ctx, uint64_t *bytes)
{
	if (bytes)
		*bytes = dma_bytes(ctx);
	return ctx->nr_dma;
}
