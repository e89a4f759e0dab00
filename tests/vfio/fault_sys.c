// SPDX-License-Identifier: GPL-2.0-only
/* The fault injector behind struct vfio_sys (fault_sys.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fault_sys.h"

#define FAULT_OF(s) ((struct fault_sys *)((char *)(s) - offsetof(struct fault_sys, sys)))

/*
 * Counts the call and decides its fate: true means fail it.  Records it
 * first, so the log of a failing run shows the failed call last.
 */
static bool fault_hit(struct fault_sys *f, enum fault_op op, int fd, unsigned long req,
		      const char *path)
{
	struct fault_call c = { .op = op, .fd = fd, .req = req };
	bool fail;

	if (path)
		snprintf(c.path, sizeof(c.path), "%s", path);
	f->calls++;
	if (f->req && op == FAULT_IOCTL && req == f->req)
		f->req_calls++;
	if (f->record && f->nlog < FAULT_LOG_MAX)
		f->log[f->nlog++] = c;
	if (!f->fail_at)
		return false;
	if (f->req)
		fail = op == FAULT_IOCTL && req == f->req && f->req_calls == f->fail_at;
	else
		fail = f->calls == f->fail_at;
	if (fail) {
		f->injected++;
		f->failed = c;
	}
	return fail;
}

static int fault_open(struct vfio_sys *s, const char *path, int flags)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_OPEN, -1, 0, path))
		return -f->errnum;
	return f->inner->open(f->inner, path, flags);
}

static int fault_close(struct vfio_sys *s, int fd)
{
	struct fault_sys *f = FAULT_OF(s);
	bool fail = fault_hit(f, FAULT_CLOSE, fd, 0, NULL);
	int ret = f->inner->close(f->inner, fd);

	return fail ? -f->errnum : ret;
}

static int fault_ioctl(struct vfio_sys *s, int fd, unsigned long req, void *arg)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_IOCTL, fd, req, NULL))
		return -f->errnum;
	return f->inner->ioctl(f->inner, fd, req, arg);
}

static ssize_t fault_pread(struct vfio_sys *s, int fd, void *buf, size_t len, off_t off)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_PREAD, fd, 0, NULL))
		return -f->errnum;
	return f->inner->pread(f->inner, fd, buf, len, off);
}

static ssize_t fault_pwrite(struct vfio_sys *s, int fd, const void *buf, size_t len,
			    off_t off)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_PWRITE, fd, 0, NULL))
		return -f->errnum;
	return f->inner->pwrite(f->inner, fd, buf, len, off);
}

static int fault_mmap(struct vfio_sys *s, int fd, off_t off, size_t len, int prot,
		      void **addr)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_MMAP, fd, 0, NULL))
		return -f->errnum;
	return f->inner->mmap(f->inner, fd, off, len, prot, addr);
}

static int fault_munmap(struct vfio_sys *s, void *addr, size_t len)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_MUNMAP, -1, 0, NULL))
		return -f->errnum;
	return f->inner->munmap(f->inner, addr, len);
}

static ssize_t fault_readlink(struct vfio_sys *s, const char *path, char *buf, size_t len)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_READLINK, -1, 0, path))
		return -f->errnum;
	return f->inner->readlink(f->inner, path, buf, len);
}

static ssize_t fault_readdir(struct vfio_sys *s, const char *path, char *buf, size_t len)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_READDIR, -1, 0, path))
		return -f->errnum;
	return f->inner->readdir(f->inner, path, buf, len);
}

static int fault_getrlimit(struct vfio_sys *s, int resource, struct rlimit *rlim)
{
	struct fault_sys *f = FAULT_OF(s);

	if (fault_hit(f, FAULT_GETRLIMIT, -1, 0, NULL))
		return -f->errnum;
	return f->inner->getrlimit(f->inner, resource, rlim);
}

static const struct vfio_sys fault_ops = {
	.name = "fault",
	.open = fault_open,
	.close = fault_close,
	.ioctl = fault_ioctl,
	.pread = fault_pread,
	.pwrite = fault_pwrite,
	.mmap = fault_mmap,
	.munmap = fault_munmap,
	.readlink = fault_readlink,
	.readdir = fault_readdir,
	.getrlimit = fault_getrlimit,
};

void fault_sys_init(struct fault_sys *f, struct vfio_sys *inner)
{
	memset(f, 0, sizeof(*f));
	f->sys = fault_ops;
	f->inner = inner;
}

struct vfio_sys *fault_sys_table(struct fault_sys *f)
{
	return &f->sys;
}

struct fault_sys *fault_sys_from(struct vfio_sys *sys)
{
	return sys && sys->open == fault_open ? FAULT_OF(sys) : NULL;
}

void fault_sys_reset(struct fault_sys *f)
{
	f->calls = 0;
	f->req_calls = 0;
	f->nlog = 0;
}

void fault_sys_arm(struct fault_sys *f, unsigned long nth, int errnum)
{
	fault_sys_reset(f);
	f->fail_at = nth;
	f->req = 0;
	f->errnum = errnum;
}

void fault_sys_arm_ioctl(struct fault_sys *f, unsigned long req, unsigned long nth, int errnum)
{
	fault_sys_reset(f);
	f->fail_at = nth;
	f->req = req;
	f->errnum = errnum;
}

void fault_sys_disarm(struct fault_sys *f)
{
	f->fail_at = 0;
	f->req = 0;
}

void fault_sys_record(struct fault_sys *f, bool on)
{
	f->record = on;
}

const char *fault_ioctl_name(unsigned long req)
{
#define N(x) { x, #x }
	static const struct {
		unsigned long req;
		const char *name;
	} names[] = {
		N(VFIO_GET_API_VERSION), N(VFIO_CHECK_EXTENSION), N(VFIO_SET_IOMMU),
		N(VFIO_GROUP_GET_STATUS), N(VFIO_GROUP_SET_CONTAINER),
		N(VFIO_GROUP_UNSET_CONTAINER), N(VFIO_GROUP_GET_DEVICE_FD),
		N(VFIO_DEVICE_GET_INFO), N(VFIO_DEVICE_GET_REGION_INFO),
		N(VFIO_DEVICE_GET_IRQ_INFO), N(VFIO_DEVICE_SET_IRQS), N(VFIO_DEVICE_RESET),
		{ VFIO_IOMMU_GET_INFO, "VFIO_IOMMU_GET_INFO|GET_PCI_HOT_RESET_INFO" },
		N(VFIO_IOMMU_MAP_DMA), N(VFIO_IOMMU_UNMAP_DMA), N(VFIO_DEVICE_BIND_IOMMUFD),
		N(VFIO_DEVICE_ATTACH_IOMMUFD_PT), N(VFIO_DEVICE_DETACH_IOMMUFD_PT),
		N(IOMMU_DESTROY), N(IOMMU_IOAS_ALLOC), N(IOMMU_IOAS_IOVA_RANGES),
		N(IOMMU_IOAS_MAP), N(IOMMU_IOAS_UNMAP), N(IOMMU_OPTION), N(IOMMU_HWPT_ALLOC),
		N(KVM_CREATE_VM), N(KVM_CREATE_DEVICE), N(KVM_SET_DEVICE_ATTR),
	};
#undef N
	/*
	 * Requests are numbers per fd type, and a few coincide (VFIO_IOMMU_GET_INFO
	 * on a container is VFIO_DEVICE_GET_PCI_HOT_RESET_INFO on a device).
	 */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].req == req)
			return names[i].name;
	return NULL;
}

const char *fault_call_describe(const struct fault_call *c, char *buf, size_t len)
{
	static const char *const ops[] = {
		[FAULT_OPEN] = "open", [FAULT_CLOSE] = "close", [FAULT_IOCTL] = "ioctl",
		[FAULT_PREAD] = "pread", [FAULT_PWRITE] = "pwrite", [FAULT_MMAP] = "mmap",
		[FAULT_MUNMAP] = "munmap", [FAULT_READLINK] = "readlink",
		[FAULT_READDIR] = "readdir", [FAULT_GETRLIMIT] = "getrlimit",
	};
	const char *name;

	if (c->op == FAULT_IOCTL) {
		name = fault_ioctl_name(c->req);
		if (name)
			snprintf(buf, len, "ioctl %s", name);
		else
			snprintf(buf, len, "ioctl 0x%lx", c->req);
	} else {
		snprintf(buf, len, "%s%s%s", ops[c->op], c->path[0] ? " " : "", c->path);
	}
	return buf;
}
