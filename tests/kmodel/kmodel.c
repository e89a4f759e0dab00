// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmodel core: the host, the fd table, file references, the vfio_sys table
 * and inspection.  Kernel semantics live in the per-object files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmodel_priv.h"

struct kmodel_config kmodel_config_legacy(void)
{
	return (struct kmodel_config){
		.container = true,
		.kvm = true,
		.irq_remap = true,
		.set_container_einval = true,
	};
}

struct kmodel_config kmodel_config_iommufd(void)
{
	return (struct kmodel_config){
		.container = true,
		.container_compat = true,
		.iommufd = true,
		.cdev = true,
		.kvm = true,
		.kvm_vfio_cdev = true,
		.irq_remap = true,
	};
}

void km_logf(struct kmodel *km, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!km->log_on)
		return;
	for (;;) {
		size_t room = km->log_cap - km->log_len;

		va_start(ap, fmt);
		n = vsnprintf(km->log + km->log_len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			km->log_len += n;
			return;
		}
		char *p = realloc(km->log, km->log_cap * 2 + n);

		if (!p)
			return;
		km->log = p;
		km->log_cap = km->log_cap * 2 + n;
	}
}

/* ---- files and fds ---- */

struct kfile *km_file_new(struct kmodel *km, enum kfile_type type)
{
	struct kfile *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->type = type;
	f->refs = 1;
	f->km = km;
	return f;
}

void km_file_get(struct kfile *f)
{
	f->refs++;
}

/* The last reference is the kernel's ->release. */
void km_file_put(struct kfile *f)
{
	if (!f || --f->refs)
		return;
	switch (f->type) {
	case KF_GROUP:
		km_group_release(f);
		break;
	case KF_CONTAINER:
		km_container_release(f);
		break;
	case KF_IOMMUFD:
		km_iommufd_release(f);
		break;
	case KF_DEVICE:
		km_device_release(f);
		break;
	case KF_KVM:
		break;
	case KF_VM:
		km_vm_release(f);
		break;
	case KF_KVM_VFIO:
		km_kvm_vfio_release(f);
		break;
	case KF_SYSFS:
		km_sysfs_release(f);
		break;
	}
	free(f);
}

/*
 * Each model fd is a real fd (a private open of /dev/null), so the process
 * really holds it and a leak shows in /proc/self/fd.  Takes over the caller's
 * reference on @f; on failure drops it.
 */
int km_fd_install(struct kmodel *km, struct kfile *f)
{
	int fd;

	if (km->nfds == km->capfds) {
		size_t cap = km->capfds ? km->capfds * 2 : 16;
		struct kfd *p = realloc(km->fds, cap * sizeof(*p));

		if (!p) {
			km_file_put(f);
			return -ENOMEM;
		}
		km->fds = p;
		km->capfds = cap;
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		km_file_put(f);
		return err;
	}
	km->fds[km->nfds].fd = fd;
	km->fds[km->nfds].file = f;
	km->nfds++;
	return fd;
}

struct kfile *km_fd_file(struct kmodel *km, int fd)
{
	for (size_t i = 0; i < km->nfds; i++)
		if (km->fds[i].fd == fd)
			return km->fds[i].file;
	return NULL;
}

int km_fd_lookup(struct kmodel *km, int fd, struct kfile **out)
{
	struct kfile *f = fd >= 0 ? km_fd_file(km, fd) : NULL;

	if (f) {
		*out = f;
		return 0;
	}
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	return -EBADFD;
}

static int km_fd_close(struct kmodel *km, int fd)
{
	for (size_t i = 0; i < km->nfds; i++) {
		if (km->fds[i].fd != fd)
			continue;
		struct kfile *f = km->fds[i].file;

		km->fds[i] = km->fds[--km->nfds];
		close(fd);
		km_file_put(f);
		return 0;
	}
	return close(fd) ? -errno : 0;
}

/* ---- host ---- */

struct kdevice *km_device_by_bdf(struct kmodel *km, const char *bdf)
{
	for (unsigned int i = 0; i < km->ndev; i++)
		if (!strcmp(km->dev[i].bdf, bdf))
			return &km->dev[i];
	return NULL;
}

struct kgroup *km_group(struct kmodel *km, unsigned int id, bool create)
{
	for (unsigned int i = 0; i < km->ngroups; i++)
		if (km->groups[i].id == id)
			return &km->groups[i];
	if (!create || km->ngroups == KM_MAX_DEVICES)
		return NULL;
	struct kgroup *g = &km->groups[km->ngroups++];

	memset(g, 0, sizeof(*g));
	g->id = id;
	return g;
}

bool km_range_allowed(const struct kmodel_range *r, size_t n, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;

	for (size_t i = 0; i < n; i++)
		if (iova >= r[i].start && last <= r[i].last)
			return true;
	return false;
}

/* ---- the vfio_sys table ---- */

static struct kmodel *km_of(struct vfio_sys *sys)
{
	return (struct kmodel *)sys;
}

static int km_parse_uint(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return -ENOENT;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0xffffffffUL)
		return -ENOENT;
	*out = v;
	return 0;
}

static int km_open_dev(struct kmodel *km, const char *path, struct kfile **f)
{
	unsigned int n;

	if (!strcmp(path, "/dev/vfio/vfio")) {
		if (!km->cfg.container)
			return -ENOENT;
		/* On an iommufd kernel /dev/vfio/vfio is an iommufd (vfio_compat.c). */
		return km->cfg.container_compat ? km_iommufd_open(km, f) : km_container_open(km, f);
	}
	if (!strcmp(path, "/dev/iommu"))
		return km->cfg.iommufd ? km_iommufd_open(km, f) : -ENOENT;
	if (!strcmp(path, "/dev/kvm"))
		return km->cfg.kvm ? km_kvm_open(km, f) : -ENOENT;
	if (!strncmp(path, "/dev/vfio/devices/vfio", 22)) {
		if (!km->cfg.cdev || km_parse_uint(path + 22, &n))
			return -ENOENT;
		return km_cdev_open(km, n, f);
	}
	if (!strncmp(path, "/dev/vfio/", 10)) {
		if (km_parse_uint(path + 10, &n))
			return -ENOENT;
		return km_group_open(km, n, f);
	}
	return -ENOENT;
}

static int km_sys_open(struct vfio_sys *sys, const char *path, int flags)
{
	struct kmodel *km = km_of(sys);
	char real[4096];
	struct kfile *f;
	int ret;

	if (!strncmp(path, "/dev/", 5)) {
		ret = km_open_dev(km, path, &f);
		if (!ret)
			ret = km_fd_install(km, f);
	} else if ((ret = km_sysfs_open(km, path, &f))) {
		if (ret > 0)
			ret = km_fd_install(km, f);
	} else {
		const char *p = km_fs_path(km, path, real, sizeof(real)) ? real : path;

		ret = open(p, flags | O_CLOEXEC);
		if (ret < 0)
			ret = -errno;
	}
	km_logf(km, "open %s = %d\n", path, ret);
	return ret;
}

static int km_sys_close(struct vfio_sys *sys, int fd)
{
	int ret = km_fd_close(km_of(sys), fd);

	km_logf(km_of(sys), "close %d = %d\n", fd, ret);
	return ret;
}

static const char *km_ioctl_name(unsigned long req)
{
	static const struct {
		unsigned long req;
		const char *name;
	} names[] = {
#define N(x) { x, #x }
		N(VFIO_GET_API_VERSION), N(VFIO_CHECK_EXTENSION), N(VFIO_SET_IOMMU),
		N(VFIO_GROUP_GET_STATUS), N(VFIO_GROUP_SET_CONTAINER),
		N(VFIO_GROUP_UNSET_CONTAINER), N(VFIO_GROUP_GET_DEVICE_FD),
		N(VFIO_DEVICE_GET_INFO), N(VFIO_DEVICE_GET_REGION_INFO),
		N(VFIO_DEVICE_GET_IRQ_INFO), N(VFIO_DEVICE_SET_IRQS), N(VFIO_DEVICE_RESET),
		N(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO), N(VFIO_IOMMU_GET_INFO),
		N(VFIO_IOMMU_MAP_DMA), N(VFIO_IOMMU_UNMAP_DMA), N(VFIO_DEVICE_BIND_IOMMUFD),
		N(VFIO_DEVICE_ATTACH_IOMMUFD_PT), N(VFIO_DEVICE_DETACH_IOMMUFD_PT),
		N(IOMMU_DESTROY), N(IOMMU_IOAS_ALLOC), N(IOMMU_IOAS_IOVA_RANGES),
		N(IOMMU_IOAS_MAP), N(IOMMU_IOAS_UNMAP), N(IOMMU_OPTION), N(IOMMU_HWPT_ALLOC),
		N(KVM_GET_API_VERSION), N(KVM_CREATE_VM), N(KVM_CREATE_DEVICE),
		N(KVM_SET_DEVICE_ATTR), N(KVM_HAS_DEVICE_ATTR),
#undef N
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].req == req)
			return names[i].name;
	return "?";
}

static int km_sys_ioctl(struct vfio_sys *sys, int fd, unsigned long req, void *arg)
{
	struct kmodel *km = km_of(sys);
	struct kfile *f = km_fd_file(km, fd);
	int ret;

	if (!f) {
		ret = fcntl(fd, F_GETFD) < 0 ? -EBADF : -ENOTTY;
	} else {
		switch (f->type) {
		case KF_GROUP:
			ret = km_group_ioctl(f, req, arg);
			break;
		case KF_CONTAINER:
			ret = km_container_ioctl(f, req, arg);
			break;
		case KF_IOMMUFD:
			ret = km_iommufd_ioctl(f, req, arg);
			break;
		case KF_DEVICE:
			ret = km_device_ioctl(f, req, arg);
			break;
		default:
			ret = km_kvm_ioctl(f, req, arg);
			break;
		}
	}
	km_logf(km, "ioctl %d %s = %d\n", fd, km_ioctl_name(req), ret);
	return ret;
}

static ssize_t km_sys_pread(struct vfio_sys *sys, int fd, void *buf, size_t len, off_t off)
{
	struct kfile *f = km_fd_file(km_of(sys), fd);
	ssize_t n;

	if (!f)
		return (n = pread(fd, buf, len, off)) < 0 ? -errno : n;
	if (f->type != KF_DEVICE)
		return -EINVAL;
	return km_device_rw(f, buf, len, off, false);
}

static ssize_t km_sys_pwrite(struct vfio_sys *sys, int fd, const void *buf, size_t len,
			     off_t off)
{
	struct kfile *f = km_fd_file(km_of(sys), fd);
	ssize_t n;

	if (!f)
		return (n = pwrite(fd, buf, len, off)) < 0 ? -errno : n;
	if (f->type == KF_SYSFS)
		return km_sysfs_write(f, buf, len);
	if (f->type != KF_DEVICE)
		return -EINVAL;
	return km_device_rw(f, (void *)buf, len, off, true);
}

static int km_sys_mmap(struct vfio_sys *sys, int fd, off_t off, size_t len, int prot,
		       void **addr)
{
	struct kfile *f = km_fd_file(km_of(sys), fd);

	if (!f) {
		void *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);

		if (p == MAP_FAILED)
			return -errno;
		*addr = p;
		return 0;
	}
	if (f->type != KF_DEVICE)
		return -ENODEV;
	return km_device_mmap(f, off, len, prot, addr);
}

static int km_sys_munmap(struct vfio_sys *sys, void *addr, size_t len)
{
	return munmap(addr, len) ? -errno : 0;
}

static ssize_t km_sys_readlink(struct vfio_sys *sys, const char *path, char *buf, size_t len)
{
	char real[4096];
	const char *p = km_fs_path(km_of(sys), path, real, sizeof(real)) ? real : path;
	ssize_t n = readlink(p, buf, len);

	return n < 0 ? -errno : n;
}

static ssize_t km_sys_readdir(struct vfio_sys *sys, const char *path, char *buf, size_t len)
{
	char real[4096];
	const char *p = km_fs_path(km_of(sys), path, real, sizeof(real)) ? real : path;

	/* The real kernel's table does the listing; only the path differs. */
	return vfio_sys_linux()->readdir(vfio_sys_linux(), p, buf, len);
}

static int km_sys_getrlimit(struct vfio_sys *sys, int resource, struct rlimit *rlim)
{
	struct kmodel *km = km_of(sys);

	if (resource == RLIMIT_MEMLOCK) {
		rlim->rlim_cur = km->memlock;
		rlim->rlim_max = km->memlock;
		return 0;
	}
	return getrlimit(resource, rlim) ? -errno : 0;
}

/* ---- lifetime ---- */

struct kmodel *kmodel_new(const struct kmodel_config *cfg)
{
	struct kmodel *km = calloc(1, sizeof(*km));
	int err;

	if (!km)
		return NULL;
	km->sys = (struct vfio_sys){
		.name = "kmodel",
		.open = km_sys_open,
		.close = km_sys_close,
		.ioctl = km_sys_ioctl,
		.pread = km_sys_pread,
		.pwrite = km_sys_pwrite,
		.mmap = km_sys_mmap,
		.munmap = km_sys_munmap,
		.readlink = km_sys_readlink,
		.readdir = km_sys_readdir,
		.getrlimit = km_sys_getrlimit,
	};
	km->cfg = cfg ? *cfg : kmodel_config_iommufd();
	km->ranges[0] = (struct kmodel_range){ 0, 0xfedfffffULL };
	km->ranges[1] = (struct kmodel_range){ 0xfef00000ULL, (1ULL << 39) - 1 };
	km->nranges = 2;
	km->dma_avail = 65535;
	km->pgsizes = (1ULL << 12) | (1ULL << 21) | (1ULL << 30);
	km->memlock = 64ULL << 20;
	km->log_cap = 4096;
	km->log = calloc(1, km->log_cap);
	if (!km->log) {
		free(km);
		return NULL;
	}
	err = km_fs_init(km);
	if (err) {
		free(km->log);
		free(km);
		errno = -err;
		return NULL;
	}
	return km;
}

void kmodel_free(struct kmodel *km)
{
	if (!km)
		return;
	/*
	 * Closing every fd releases every file: references between files are
	 * acyclic (device -> group -> container, kvm-vfio -> files), so all
	 * reach zero.
	 */
	while (km->nfds)
		km_fd_close(km, km->fds[km->nfds - 1].fd);
	for (unsigned int i = 0; i < km->ndev; i++)
		km_device_fini(&km->dev[i]);
	km_fs_destroy(km);
	free(km->fds);
	free(km->log);
	free(km);
}

struct vfio_sys *kmodel_sys(struct kmodel *km)
{
	return &km->sys;
}

struct kmodel *kmodel_from_sys(struct vfio_sys *sys)
{
	return sys && sys->open == km_sys_open ? km_of(sys) : NULL;
}

const char *kmodel_root(struct kmodel *km)
{
	return km->root;
}

/* ---- building ---- */

static int km_parse_bdf(const char *bdf, unsigned int *bus, unsigned int *devfn)
{
	unsigned int dom, b, d, fn;
	char tail;

	if (strlen(bdf) != 12 ||
	    sscanf(bdf, "%4x:%2x:%2x.%1x%c", &dom, &b, &d, &fn, &tail) != 4 || d > 31 || fn > 7)
		return -EINVAL;
	*bus = b;
	*devfn = d << 3 | fn;
	return 0;
}

int kmodel_add_device(struct kmodel *km, const char *bdf, uint16_t vendor, uint16_t device,
		      unsigned int group)
{
	struct kdevice *d;
	struct kgroup *g;
	int ret;

	if (km->ndev == KM_MAX_DEVICES)
		return -ENOSPC;
	if (km_device_by_bdf(km, bdf))
		return -EEXIST;
	d = &km->dev[km->ndev];
	memset(d, 0, sizeof(*d));
	ret = km_parse_bdf(bdf, &d->bus, &d->devfn);
	if (ret)
		return ret;
	g = km_group(km, group, true);
	if (!g)
		return -ENOSPC;
	strcpy(d->bdf, bdf);
	d->vendor = vendor;
	d->device_id = device;
	d->group = group;
	d->cdev_index = -1;
	km_device_init(d);
	if (d->bar_fd[0] < 0)
		return -ENOMEM;
	ret = km_fs_add_device(km, d);
	if (ret) {
		km_device_fini(d);
		return ret;
	}
	g->exists = true;
	km->ndev++;
	return 0;
}

/* Drivers that leave DMA ownership to userspace (driver_managed_dma). */
static bool km_driver_managed(const char *driver)
{
	return !strcmp(driver, "vfio-pci") || !strcmp(driver, "pci-stub") ||
	       !strcmp(driver, "pcieport");
}

int kmodel_bind(struct kmodel *km, const char *bdf, const char *driver)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);
	struct kgroup *g;
	int ret;

	if (!d)
		return -ENODEV;
	g = km_group(km, d->group, false);
	if (d->open_count)
		return -EBUSY;
	if (driver && *d->driver)
		return -EBUSY;	/* sysfs bind of a bound device */
	/*
	 * A host driver's probe fails while userspace owns the group's DMA
	 * (iommu_device_use_default_domain(): -EBUSY).
	 */
	if (driver && !km_driver_managed(driver) && km_group_dma_owned(km, g))
		return -EBUSY;
	ret = km_fs_set_driver(km, d, driver);
	if (ret)
		return ret;
	snprintf(d->driver, sizeof(d->driver), "%s", driver ? driver : "");
	if (driver && !km_driver_managed(driver))
		snprintf(d->native, sizeof(d->native), "%s", driver);
	if (driver && !strcmp(driver, "vfio-pci") && km->cfg.cdev) {
		d->cdev_index = km->next_cdev++;
		ret = km_fs_set_cdev(km, d);
		if (ret)
			return ret;
	} else if (!driver && d->cdev_index >= 0) {
		km_fs_set_cdev(km, d);
		d->cdev_index = -1;
	}
	/*
	 * vfio_device_remove_group(): when the last vfio device of an open
	 * group goes, the group is revoked: detached from its container, and
	 * its later ioctls fail with ENODEV.  Simplification: the kernel then
	 * creates a new vfio_group if a device is bound again, which can be
	 * opened while the revoked one is; the model keeps one group per id,
	 * so it stays busy until the revoked file is closed.
	 */
	if (!driver && g->opened_file && !km_group_has_vfio_device(km, g)) {
		if (g->container)
			km_group_detach_container(g);
		g->revoked = true;
	}
	return 0;
}

int kmodel_device_set_msix(struct kmodel *km, const char *bdf, unsigned int nvec,
			   unsigned int bar, uint32_t table_off)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	if (!nvec || nvec > 2048 || bar > 5)
		return -EINVAL;
	if (d->bar_fd[bar] < 0) {
		uint64_t size = 16384;
		uint64_t need = table_off + nvec * 16ULL + (nvec + 63) / 64 * 8;

		while (size < need)
			size <<= 1;
		d->bar_fd[bar] = memfd_create("kmodel-bar", MFD_CLOEXEC);
		if (d->bar_fd[bar] < 0 || ftruncate(d->bar_fd[bar], size))
			return -errno;
		d->bar_size[bar] = size;
		/* 64-bit memory BAR: the next BAR register is its upper half. */
		d->config[0x10 + bar * 4] = 0x04;
	}
	d->msix_nvec = nvec;
	d->msix_bar = bar;
	d->msix_table_off = table_off;
	km_device_init_msix_cap(d);
	return 0;
}

int kmodel_device_set_msi(struct kmodel *km, const char *bdf, unsigned int log2_nvec,
			  bool maskbit)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);
	uint16_t flags;

	if (!d)
		return -ENODEV;
	/* With mask bits the capability is 24 bytes and would reach MSI-X's at 0x50. */
	if (log2_nvec > 5 || (maskbit && d->msix_nvec))
		return -EINVAL;
	flags = 0x0080 | log2_nvec << 1 | (maskbit ? 0x0100 : 0);
	d->config[0x42] = flags;
	d->config[0x43] = flags >> 8;
	return 0;
}

int kmodel_device_set_msix_dyn(struct kmodel *km, const char *bdf, bool dyn)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	d->msix_dyn = dyn;
	return 0;
}

int kmodel_device_set_rom(struct kmodel *km, const char *bdf, uint64_t size)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);
	uint8_t sig[4] = { 0x55, 0xaa, (uint8_t)(size / 512), 0xcb };

	if (!d)
		return -ENODEV;
	if (size < 2048 || (size & (size - 1)) || d->rom_fd >= 0)
		return -EINVAL;
	d->rom_fd = memfd_create("kmodel-rom", MFD_CLOEXEC);
	if (d->rom_fd < 0)
		return -errno;
	if (ftruncate(d->rom_fd, size) || pwrite(d->rom_fd, sig, sizeof(sig), 0) != sizeof(sig) ||
	    pwrite(d->rom_fd, sig, 2, size - 2) != 2)
		return -errno;
	d->rom_size = size;
	return 0;
}

int kmodel_device_irq_type(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	return d->irq_type == KM_NUM_IRQS ? -1 : (int)d->irq_type;
}

int kmodel_device_irq_eventfd(struct kmodel *km, const char *bdf, unsigned int index,
			      unsigned int vector)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	if (index > VFIO_PCI_MSIX_IRQ_INDEX || vector >= KM_MAX_VECTORS)
		return -EINVAL;
	return d->irq_efd[index][vector];
}

int kmodel_device_irq_vectors(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	return d ? (int)d->irq_alloc : -ENODEV;
}

int kmodel_device_intx_unmask_eventfd(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	return d ? d->intx_unmask_efd : -ENODEV;
}

int kmodel_device_req_eventfd(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	return d ? d->req_efd : -ENODEV;
}

int kmodel_device_resets(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	return d ? (int)d->resets : -ENODEV;
}

int kmodel_device_set_sparse_mmap(struct kmodel *km, const char *bdf, unsigned int bar,
				  const struct vfio_region_sparse_mmap_area *areas,
				  unsigned int n)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	if (bar > 5 || n > 4 || d->bar_fd[bar] < 0)
		return -EINVAL;
	memcpy(d->sparse, areas, n * sizeof(*areas));
	d->sparse_n = n;
	d->sparse_bar = bar;
	return 0;
}

int kmodel_set_iova_ranges(struct kmodel *km, const struct kmodel_range *ranges, size_t n)
{
	if (!n || n > KM_MAX_RANGES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (ranges[i].last < ranges[i].start ||
		    (i && ranges[i].start <= ranges[i - 1].last))
			return -EINVAL;
	memcpy(km->ranges, ranges, n * sizeof(*ranges));
	km->nranges = n;
	return 0;
}

void kmodel_set_dma_avail(struct kmodel *km, uint32_t dma_avail)
{
	km->dma_avail = dma_avail;
}

void kmodel_set_pgsizes(struct kmodel *km, uint64_t bitmap)
{
	km->pgsizes = bitmap;
}

void kmodel_set_memlock(struct kmodel *km, uint64_t bytes)
{
	km->memlock = bytes;
}

void kmodel_set_cap_ipc_lock(struct kmodel *km, bool cap)
{
	km->cap_ipc_lock = cap;
}

int kmodel_hold_group(struct kmodel *km, unsigned int group, pid_t pid, const char *comm)
{
	struct kgroup *g = km_group(km, group, false);
	int ret;

	if (!g || pid <= 0)
		return -EINVAL;
	if (g->opened_file || g->holder_pid || g->cdev_device_open_cnt)
		return -EBUSY;
	g->holder_pid = pid;
	snprintf(g->holder_comm, sizeof(g->holder_comm), "%s", comm ? comm : "");
	ret = km_fs_set_holder(km, g, true);
	if (ret)
		g->holder_pid = 0;
	return ret;
}

int kmodel_release_group(struct kmodel *km, unsigned int group)
{
	struct kgroup *g = km_group(km, group, false);

	if (!g || !g->holder_pid)
		return -EINVAL;
	km_fs_set_holder(km, g, false);
	g->holder_pid = 0;
	return 0;
}

/* ---- inspection ---- */

int kmodel_group_state(struct kmodel *km, unsigned int group, struct kmodel_group_state *st)
{
	struct kgroup *g = km_group(km, group, false);

	if (!g)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	for (unsigned int i = 0; i < km->ndev; i++)
		if (km->dev[i].group == group && !strcmp(km->dev[i].driver, "vfio-pci"))
			st->node = true;
	st->opened = g->opened_file;
	st->held_elsewhere = g->holder_pid;
	st->viable = km_group_viable(km, g);
	st->container = g->container;
	st->iommufd = g->ictx;
	st->container_users = g->container_users;
	st->device_fds = g->device_fds;
	st->cdev_bound = g->cdev_device_open_cnt;
	for (size_t i = 0; i < km->nfds; i++) {
		struct kfile *f = km->fds[i].file;

		if (f->type != KF_KVM_VFIO)
			continue;
		for (unsigned int j = 0; j < f->kv->nfiles; j++)
			if (f->kv->files[j]->type == KF_GROUP && f->kv->files[j]->group == g)
				st->kvm_refs++;
	}
	return 0;
}

int kmodel_device_open_count(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	return d ? (int)d->open_count : -ENODEV;
}

int kmodel_device_bound(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	/* a cdev file may outlive its fd (kvm-vfio holds it): ask the device */
	return d->bound_ictx && !d->opened_via_group;
}

int kmodel_device_kvm(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	if (!d->open_count)
		return -EBADFD;
	return d->kvm;
}

int kmodel_device_attached_pt(struct kmodel *km, const char *bdf, uint32_t *pt_id)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	*pt_id = d->att_hwpt ? d->att_hwpt->id : d->att_ioas ? d->att_ioas->id : 0;
	return 0;
}

int kmodel_mappings(struct kmodel *km, int fd, uint32_t ioas_id, struct kmodel_mapping *out,
		    size_t max)
{
	struct kfile *f = km_fd_file(km, fd);
	struct kmaps *m;

	if (!f)
		return -EBADF;
	if (f->type == KF_CONTAINER) {
		m = &f->cont->maps;
	} else if (f->type == KF_IOMMUFD) {
		struct kioas *ioas = ioas_id ? km_ioas_find(f->ictx, ioas_id)
					     : f->ictx->compat_ioas;

		if (!ioas)
			return -ENOENT;
		m = &ioas->maps;
	} else {
		return -EINVAL;
	}
	for (size_t i = 0; i < m->n && i < max; i++)
		out[i] = (struct kmodel_mapping){ m->v[i].iova, m->v[i].size, m->v[i].vaddr };
	return m->n;
}

uint64_t kmodel_pinned_bytes(struct kmodel *km)
{
	return km->pinned;
}

int kmodel_container_has_iommu(struct kmodel *km, int fd)
{
	struct kfile *f = km_fd_file(km, fd);

	if (!f)
		return -EBADF;
	if (f->type == KF_CONTAINER)
		return f->cont->iommu;
	if (f->type == KF_IOMMUFD)
		return f->ictx->compat_ioas != NULL;
	return -EINVAL;
}

int kmodel_kvm_vfio_files(struct kmodel *km, int fd, int probe_fd)
{
	struct kfile *f = km_fd_file(km, fd);
	struct kkvm_vfio *kv;
	struct kfile *probe = NULL;

	if (!f)
		return -EBADF;
	kv = km_kvm_vfio_of(f);
	if (!kv)
		return f->type == KF_VM ? 0 : -EINVAL;
	if (probe_fd < 0)
		return kv->nfiles;
	probe = km_fd_file(km, probe_fd);
	for (unsigned int i = 0; probe && i < kv->nfiles; i++)
		if (kv->files[i] == probe)
			return 1;
	return 0;
}

unsigned int kmodel_live_fds(struct kmodel *km)
{
	return km->nfds;
}

void kmodel_log_enable(struct kmodel *km, bool on)
{
	km->log_on = on;
}

const char *kmodel_log(struct kmodel *km)
{
	return km->log;
}

void kmodel_log_clear(struct kmodel *km)
{
	km->log_len = 0;
	km->log[0] = '\0';
}
