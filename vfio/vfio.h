/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfio/ - ferry's typed access to the kernel's VFIO, iommufd and kvm-vfio
 * interfaces.  This is the layer's only public header.
 *
 * Every kernel access the layer makes goes through a struct vfio_sys, so that
 * tests can place behind it the real kernel (vfio_sys_linux()), a fault
 * injector, or a userspace model of the kernel's group core.
 *
 * The header has three levels:
 *  1. host discovery in sysfs and BDF parsing (vfio_bdf_*, vfio_host_*);
 *  2. thin typed wrappers, one per ioctl, on raw fds (vfio_group_*,
 *     vfio_container_*, vfio_iommufd_*, vfio_devfd_*, vfio_kvm_*); they know
 *     the grow-and-retry and capability-chain protocols but no lifetimes;
 *  3. the context (struct vfio_ctx) that owns groups, the container or IOAS,
 *     the kvm-vfio device and the guest-RAM DMA list, and mirrors the
 *     kernel's lifetime rules (docs/vfio.md): vfio_device_attach() and
 *     vfio_device_detach() are what the upper layer uses.
 *
 * Every function returns 0 (or a count/fd) on success and a negative errno on
 * failure.  Functions taking a struct vfio_err fill it, where a person can be
 * told what is wrong and how to fix it; @err may be NULL.
 */
#ifndef FERRY_VFIO_H
#define FERRY_VFIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/resource.h>

#include "vfio/uapi.h"

/*
 * struct vfio_sys - the narrow table of system calls behind vfio/.
 *
 * Contract shared by every implementation:
 *  - each op returns >= 0 on success and a negative errno on failure; errno
 *    is never the channel, so a wrapper can pass a result straight up;
 *  - paths are absolute host paths ("/dev/vfio/7", "/sys/bus/pci/...",
 *    "/proc/123/fd"); an implementation that fakes the host (the model)
 *    maps them onto its own tree, so vfio/ never knows which one it runs on;
 *  - ioctl requests and argument layouts are the kernel's (vfio/uapi.h);
 *  - readdir fills @buf with the entry names of @path, each terminated by
 *    NUL, without "." and "..", and returns the bytes used (-ERANGE when
 *    @len is too small);
 *  - mmap returns the mapping through @addr.
 * An implementation may keep state in the struct that embeds it.
 */
struct vfio_sys {
	const char *name;
	int (*open)(struct vfio_sys *sys, const char *path, int flags);
	int (*close)(struct vfio_sys *sys, int fd);
	int (*ioctl)(struct vfio_sys *sys, int fd, unsigned long request, void *arg);
	ssize_t (*pread)(struct vfio_sys *sys, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(struct vfio_sys *sys, int fd, const void *buf, size_t len,
			  off_t off);
	int (*mmap)(struct vfio_sys *sys, int fd, off_t off, size_t len, int prot,
		    void **addr);
	int (*munmap)(struct vfio_sys *sys, void *addr, size_t len);
	ssize_t (*readlink)(struct vfio_sys *sys, const char *path, char *buf, size_t len);
	ssize_t (*readdir)(struct vfio_sys *sys, const char *path, char *buf, size_t len);
	int (*getrlimit)(struct vfio_sys *sys, int resource, struct rlimit *rlim);
};

/* The real kernel.  The returned table is static and never freed. */
struct vfio_sys *vfio_sys_linux(void);

/*
 * An explanation for a person: what went wrong and how to fix it.  @errnum is
 * the negative errno the function returned; @msg is one or more lines, never
 * ending in a newline.  msg[0] == '\0' means nothing beyond the errno is known.
 */
struct vfio_err {
	int errnum;
	char msg[1024];
};

/* ------------------------------------------------------------------------ */
/* PCI addresses                                                             */

struct vfio_bdf {
	uint16_t domain;
	uint8_t bus;
	uint8_t dev;	/* 0..31 */
	uint8_t fn;	/* 0..7 */
};

/* "0000:00:03.0\0" */
#define VFIO_BDF_STRLEN 13

/*
 * Parses "DDDD:BB:DD.F" or "BB:DD.F" (domain 0), hex, case-insensitive, with
 * nothing after it.  -EINVAL on anything else (err says what was expected).
 */
int vfio_bdf_parse(const char *s, struct vfio_bdf *bdf, struct vfio_err *err);
/* Writes the canonical "0000:00:03.0" into @buf (@len >= VFIO_BDF_STRLEN). */
int vfio_bdf_format(const struct vfio_bdf *bdf, char *buf, size_t len);
bool vfio_bdf_equal(const struct vfio_bdf *a, const struct vfio_bdf *b);

/* ------------------------------------------------------------------------ */
/* Host discovery (sysfs, procfs), all through @sys                          */

/* Vendor and device ids (/sys/bus/pci/devices/BDF/{vendor,device}); -ENOENT: no such device. */
int vfio_host_device_ids(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			 uint16_t *vendor, uint16_t *device);
/* The IOMMU group id of @bdf (its iommu_group link); -ENOENT when it has none. */
int vfio_host_device_group(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			   unsigned int *group);
/* The driver @bdf is bound to, or "" when unbound. */
int vfio_host_device_driver(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			    char *buf, size_t len);
/* The vfio cdev name ("vfio0") of @bdf; -ENOENT when the kernel made none. */
int vfio_host_device_cdev(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			  char *buf, size_t len);
/*
 * The devices of IOMMU group @group, sorted; stores at most @max and returns
 * how many there are.
 */
int vfio_host_group_devices(struct vfio_sys *sys, unsigned int group,
			    struct vfio_bdf *out, size_t max);
/*
 * Finds another process (not this one) that has @path open (scans
 * /proc/PID/fd links).  Returns 1
 * and fills @pid/@comm when found, 0 when no process has it (or none that
 * can be seen), a negative errno when /proc cannot be read.
 */
int vfio_host_find_holder(struct vfio_sys *sys, const char *path, pid_t *pid,
			  char *comm, size_t commlen);

/* ------------------------------------------------------------------------ */
/* Managed binding to vfio-pci through sysfs (vfio/bind.c), all through @sys  */

/* Drivers whose devices leave the group viable for userspace (no host DMA). */
bool vfio_bind_driver_is_user(const char *driver);

/*
 * libvirt's check before it hands a device to a VM: every member of @bdf's
 * IOMMU group other than @bdf itself is unbound, bound to vfio-pci or
 * pci-stub, or a PCI bridge (class 0x0604); and no other process has the
 * group's /dev/vfio/N open.  -EBUSY naming the member, its driver, or the
 * holding process otherwise; -ENOENT when @bdf has no IOMMU group.
 */
int vfio_bind_check_group(struct vfio_sys *sys, const struct vfio_bdf *bdf,
			  struct vfio_err *err);

/* What vfio_bind_vfio_pci() changed, so vfio_bind_restore() can undo it. */
struct vfio_bind {
	struct vfio_bdf bdf;
	char orig_driver[64];	/* the driver before; "" when it was unbound */
	bool changed;		/* false: it was on vfio-pci already, nothing to undo */
};

/*
 * Binds @bdf to vfio-pci the way libvirt's nodedev detach does: writes
 * "vfio-pci" to driver_override, unbinds the current driver, writes the BDF
 * to drivers_probe, and checks the device ended on vfio-pci.  Fills @b.  On
 * failure at any step the device is returned to its original driver (best
 * effort, -errno of the first failure returned, err says which step).
 */
int vfio_bind_vfio_pci(struct vfio_sys *sys, const struct vfio_bdf *bdf, struct vfio_bind *b,
		       struct vfio_err *err);

/*
 * Undoes vfio_bind_vfio_pci(): writes b->orig_driver to driver_override,
 * unbinds vfio-pci, reprobes (so only the original driver can take it) and
 * clears driver_override; a device that was unbound is only unbound.  The
 * device must no longer be open.  After a failure, calling it again finishes
 * the job.  A no-op when !b->changed.
 */
int vfio_bind_restore(struct vfio_sys *sys, const struct vfio_bind *b, struct vfio_err *err);

/* ------------------------------------------------------------------------ */
/* Thin wrappers: groups (/dev/vfio/N)                                       */

/* Opens /dev/vfio/@group read-write; returns the fd. */
int vfio_group_open(struct vfio_sys *sys, unsigned int group);
/* VFIO_GROUP_GET_STATUS: VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET. */
int vfio_group_get_status(struct vfio_sys *sys, int group_fd, uint32_t *flags);
/* @container_fd: a legacy container fd or an iommufd fd. */
int vfio_group_set_container(struct vfio_sys *sys, int group_fd, int container_fd);
int vfio_group_unset_container(struct vfio_sys *sys, int group_fd);
/* VFIO_GROUP_GET_DEVICE_FD with the device's name ("0000:00:03.0"); returns the fd. */
int vfio_group_get_device_fd(struct vfio_sys *sys, int group_fd, const char *name);

/* ------------------------------------------------------------------------ */
/* Thin wrappers: the legacy container (/dev/vfio/vfio)                      */

/* An inclusive IOVA range (last is the last usable address). */
struct vfio_iova_span {
	uint64_t start;
	uint64_t last;
};

/* VFIO_IOMMU_GET_INFO with its capability chain parsed. */
struct vfio_iommu_info {
	uint64_t pgsizes;		/* 0 when the kernel did not say */
	bool has_ranges;		/* the IOVA_RANGE capability was present */
	uint32_t nr_ranges;
	/* sorted by start; free with vfio_iommu_info_release() */
	struct vfio_iova_span *ranges;
	bool has_dma_avail;
	uint32_t dma_avail;
};
void vfio_iommu_info_release(struct vfio_iommu_info *info);

/* Opens /dev/vfio/vfio and checks VFIO_GET_API_VERSION; returns the fd. */
int vfio_container_open(struct vfio_sys *sys);
/*
 * Opens /dev/iommu for use as a VFIO container: groups take it in
 * SET_CONTAINER and iommufd's compat layer serves the container ioctls on it.
 */
int vfio_container_open_iommufd(struct vfio_sys *sys);
int vfio_container_api_version(struct vfio_sys *sys, int fd);
/* VFIO_CHECK_EXTENSION: > 0 supported, 0 not. */
int vfio_container_check_extension(struct vfio_sys *sys, int fd, unsigned long ext);
/* VFIO_SET_IOMMU with @type (VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU). */
int vfio_container_set_iommu(struct vfio_sys *sys, int fd, unsigned long type);
/*
 * Picks TYPE1v2 when the container offers it, else TYPE1, and sets it.
 * Returns the type set.
 */
int vfio_container_set_iommu_best(struct vfio_sys *sys, int fd);
/* VFIO_IOMMU_GET_INFO, growing the buffer until the capability chain fits. */
int vfio_container_get_info(struct vfio_sys *sys, int fd, struct vfio_iommu_info *info);
/* VFIO_IOMMU_MAP_DMA, read+write. */
int vfio_container_map_dma(struct vfio_sys *sys, int fd, uint64_t iova, uint64_t vaddr,
			   uint64_t size);
/* VFIO_IOMMU_UNMAP_DMA; @unmapped (may be NULL) gets the bytes unmapped. */
int vfio_container_unmap_dma(struct vfio_sys *sys, int fd, uint64_t iova, uint64_t size,
			     uint64_t *unmapped);

/* ------------------------------------------------------------------------ */
/* Thin wrappers: iommufd (/dev/iommu)                                       */

int vfio_iommufd_open(struct vfio_sys *sys);
int vfio_iommufd_ioas_alloc(struct vfio_sys *sys, int fd, uint32_t *ioas_id);
/*
 * IOMMU_IOAS_IOVA_RANGES, growing the array on EMSGSIZE.  *@ranges is
 * malloc'ed (free() it); @alignment may be NULL.
 */
int vfio_iommufd_iova_ranges(struct vfio_sys *sys, int fd, uint32_t ioas_id,
			     struct vfio_iova_span **ranges, uint32_t *nr,
			     uint64_t *alignment);
/* IOMMU_IOAS_MAP at a fixed IOVA, read+write. */
int vfio_iommufd_map(struct vfio_sys *sys, int fd, uint32_t ioas_id, uint64_t iova,
		     uint64_t vaddr, uint64_t size);
int vfio_iommufd_unmap(struct vfio_sys *sys, int fd, uint32_t ioas_id, uint64_t iova,
		       uint64_t size, uint64_t *unmapped);
/* IOMMU_HWPT_ALLOC for device @dev_id on page table @pt_id (no driver data). */
int vfio_iommufd_hwpt_alloc(struct vfio_sys *sys, int fd, uint32_t dev_id, uint32_t pt_id,
			    uint32_t flags, uint32_t *hwpt_id);
int vfio_iommufd_destroy(struct vfio_sys *sys, int fd, uint32_t id);
/* IOMMU_OPTION RLIMIT_MODE (0: per user, 1: per process). */
int vfio_iommufd_rlimit_mode_get(struct vfio_sys *sys, int fd, uint64_t *mode);
int vfio_iommufd_rlimit_mode_set(struct vfio_sys *sys, int fd, uint64_t mode);

/* ------------------------------------------------------------------------ */
/* Thin wrappers: device fds (from a group or a cdev)                        */

/* Opens the cdev /dev/vfio/devices/@name; returns the fd. */
int vfio_devfd_open_cdev(struct vfio_sys *sys, const char *name);
/* VFIO_DEVICE_BIND_IOMMUFD; @dev_id gets the iommufd device id. */
int vfio_devfd_bind_iommufd(struct vfio_sys *sys, int fd, int iommufd, uint32_t *dev_id);
int vfio_devfd_attach_pt(struct vfio_sys *sys, int fd, uint32_t pt_id);
int vfio_devfd_detach_pt(struct vfio_sys *sys, int fd);

struct vfio_dev_info {
	uint32_t flags;		/* VFIO_DEVICE_FLAGS_* */
	uint32_t num_regions;
	uint32_t num_irqs;
};
int vfio_devfd_get_info(struct vfio_sys *sys, int fd, struct vfio_dev_info *info);

struct vfio_sparse_area {
	uint64_t offset;	/* within the region */
	uint64_t size;
};

/* VFIO_DEVICE_GET_REGION_INFO with its capability chain parsed. */
struct vfio_region {
	uint32_t index;
	uint32_t flags;		/* VFIO_REGION_INFO_FLAG_* */
	uint64_t size;
	uint64_t offset;	/* of the region in the device fd */
	bool has_sparse;	/* only the areas below may be mmap'ed */
	uint32_t nr_sparse;
	struct vfio_sparse_area *sparse;	/* free with vfio_region_release */
	bool msix_mappable;	/* the MSI-X table may be mmap'ed with the rest */
};
void vfio_region_release(struct vfio_region *region);
int vfio_devfd_get_region(struct vfio_sys *sys, int fd, uint32_t index,
			  struct vfio_region *region);

struct vfio_irq {
	uint32_t index;
	uint32_t flags;		/* VFIO_IRQ_INFO_* */
	uint32_t count;
};
int vfio_devfd_get_irq(struct vfio_sys *sys, int fd, uint32_t index, struct vfio_irq *irq);

/*
 * VFIO_DEVICE_SET_IRQS with eventfds: vectors @start.. get @efds[0..count-1]
 * (-1 leaves that vector without an eventfd).  count 0 with @efds NULL
 * disables the whole index (DATA_NONE | TRIGGER, count 0).  -ENOSPC when
 * the host has fewer MSI/MSI-X vectors for the device than asked (the
 * kernel then enabled none).
 */
int vfio_devfd_irq_set_eventfds(struct vfio_sys *sys, int fd, uint32_t index,
				uint32_t start, uint32_t count, const int32_t *efds);
/* Unmask @index/@start by a write to @efd (ACTION_UNMASK | DATA_EVENTFD; INTx). */
int vfio_devfd_irq_unmask_eventfd(struct vfio_sys *sys, int fd, uint32_t index,
				  uint32_t start, int32_t efd);
/* DATA_NONE with @action one of VFIO_IRQ_SET_ACTION_{MASK,UNMASK,TRIGGER}. */
int vfio_devfd_irq_action(struct vfio_sys *sys, int fd, uint32_t index, uint32_t start,
			  uint32_t count, uint32_t action);
int vfio_devfd_reset(struct vfio_sys *sys, int fd);

struct vfio_hot_reset_dep {
	unsigned int group;	/* or, with the DEV_ID flag, the iommufd dev id */
	struct vfio_bdf bdf;
};
/*
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, growing on ENOSPC.  *@deps is
 * malloc'ed (free() it); @flags may be NULL.
 */
int vfio_devfd_hot_reset_info(struct vfio_sys *sys, int fd, struct vfio_hot_reset_dep **deps,
			      uint32_t *nr, uint32_t *flags);

/*
 * Reads/writes @len bytes at @off within @region (pread/pwrite at the
 * region's offset in the device fd).  -EINVAL when outside the region or
 * the region does not allow it; a short transfer is -EIO.
 */
int vfio_devfd_region_read(struct vfio_sys *sys, int fd, const struct vfio_region *region,
			   uint64_t off, void *buf, size_t len);
int vfio_devfd_region_write(struct vfio_sys *sys, int fd, const struct vfio_region *region,
			    uint64_t off, const void *buf, size_t len);
/*
 * mmaps @len bytes at @off of @region; -EINVAL when the region is not
 * mmap-able or, with sparse areas, the range is not inside one area.
 */
int vfio_devfd_region_mmap(struct vfio_sys *sys, int fd, const struct vfio_region *region,
			   uint64_t off, size_t len, int prot, void **addr);

/* ------------------------------------------------------------------------ */
/* Thin wrappers: kvm-vfio                                                   */

/* KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO) on @vm_fd; returns the device fd. */
int vfio_kvm_device_create(struct vfio_sys *sys, int vm_fd);
/* KVM_DEV_VFIO_FILE_ADD / FILE_DEL of a group fd or a device cdev fd. */
int vfio_kvm_file_add(struct vfio_sys *sys, int kvm_dev_fd, int file_fd);
int vfio_kvm_file_del(struct vfio_sys *sys, int kvm_dev_fd, int file_fd);

/* ------------------------------------------------------------------------ */
/* The context: ownership, DMA list, attach/detach                           */

enum vfio_backend {
	/* Groups in one legacy container (/dev/vfio/vfio, type1). */
	VFIO_BACKEND_CONTAINER,
	/* Device cdevs bound to one iommufd, attached to one IOAS. */
	VFIO_BACKEND_IOMMUFD,
	/*
	 * Groups whose container is an iommufd fd (/dev/iommu in
	 * SET_CONTAINER): the group API on iommufd's VFIO compat layer.
	 */
	VFIO_BACKEND_IOMMUFD_COMPAT,
};

struct vfio_ctx_opts {
	enum vfio_backend backend;
	/*
	 * The VM fd to register groups/cdevs with through a kvm-vfio device,
	 * or -1 for none.  The ctx does not own it.
	 */
	int vm_fd;
	/*
	 * The process has CAP_IPC_LOCK (the caller knows, e.g. from libcap-ng):
	 * pinned pages are not limited by RLIMIT_MEMLOCK, so no pre-check.
	 */
	bool cap_ipc_lock;
	/*
	 * VFIO_BACKEND_IOMMUFD only: use this pre-opened /dev/iommu fd (a
	 * management layer such as libvirt passes one) instead of opening
	 * /dev/iommu.  The ctx does not own it and never closes it; it only
	 * creates and destroys its IOAS in it.
	 */
	bool has_iommufd;
	int iommufd;
};

struct vfio_ctx;
struct vfio_group;
struct vfio_device;

int vfio_ctx_new(struct vfio_sys *sys, const struct vfio_ctx_opts *opts,
		 struct vfio_ctx **out);
/*
 * Frees a ctx with no devices left (-EBUSY otherwise, nothing done); closes
 * the kvm-vfio device fd (unless lent).  The DMA list is simply dropped.
 */
int vfio_ctx_free(struct vfio_ctx *ctx);
struct vfio_sys *vfio_ctx_sys(struct vfio_ctx *ctx);
/*
 * Lends the VM's kvm-vfio device (@kvm_dev_fd, from vfio_kvm_device_create())
 * to a ctx that has none yet.  KVM allows one kvm-vfio device per VM (a
 * second KVM_CREATE_DEVICE is EBUSY), so when several ctxs serve one VM (a
 * container and one IOAS per iommufd, say) their owner creates the device
 * once and lends it to each.  The ctx registers its groups or cdevs there
 * (opts.vm_fd must still be >= 0) and never closes a lent fd; the lender
 * closes it after every ctx using it is freed.  -EBUSY when the ctx already
 * has a kvm-vfio device.
 */
int vfio_ctx_lend_kvm(struct vfio_ctx *ctx, int kvm_dev_fd);

/*
 * Adds a range of guest RAM (IOVA = guest physical address) to the list every
 * container/IOAS must map, and maps it into the live one if any.  On failure
 * nothing changes.  Ranges may not overlap (-EEXIST).  @iova, @vaddr and
 * @size must be page aligned.
 */
int vfio_ctx_dma_add(struct vfio_ctx *ctx, uint64_t iova, uint64_t vaddr, uint64_t size,
		     struct vfio_err *err);
/* Removes the range added with exactly @iova/@size, unmapping it.  -ENOENT if unknown. */
int vfio_ctx_dma_remove(struct vfio_ctx *ctx, uint64_t iova, uint64_t size,
			struct vfio_err *err);
/* Number of ranges in the list; bytes in it through @bytes (may be NULL). */
size_t vfio_ctx_dma_count(struct vfio_ctx *ctx, uint64_t *bytes);
/*
 * The IOVA ranges the live container/IOAS accepts (as last read); 0 ranges
 * when none is live or the kernel reports none.  Valid until the next attach
 * or detach.
 */
size_t vfio_ctx_iova_ranges(struct vfio_ctx *ctx, const struct vfio_iova_span **ranges);

/* Diagnostics: fds the ctx holds (-1 when absent) and the number of groups open. */
int vfio_ctx_container_fd(struct vfio_ctx *ctx);	/* container or iommufd */
uint32_t vfio_ctx_ioas_id(struct vfio_ctx *ctx);	/* 0 when none */
int vfio_ctx_kvm_fd(struct vfio_ctx *ctx);
size_t vfio_ctx_group_count(struct vfio_ctx *ctx);

/* @cdev_fd is a pre-opened device cdev (VFIO_BACKEND_IOMMUFD only). */
#define VFIO_ATTACH_CDEV_FD	(1u << 0)
/* @group_fd is a pre-opened group node /dev/vfio/N (the container backend only). */
#define VFIO_ATTACH_GROUP_FD	(1u << 1)

struct vfio_attach_opts {
	uint32_t flags;		/* VFIO_ATTACH_*; zero-initialise */
	/*
	 * With VFIO_ATTACH_CDEV_FD: the device's /dev/vfio/devices/vfioX,
	 * opened by someone else (libvirt).  The attach takes it over whatever
	 * happens: detach closes it, and so does a failed attach (a cdev fd,
	 * once bound, cannot be unbound, only closed).
	 */
	int cdev_fd;
	/*
	 * With VFIO_ATTACH_GROUP_FD: the device's group /dev/vfio/N, opened
	 * by someone else (a manager that keeps ferry unprivileged).  The
	 * attach takes it over whatever happens: it becomes the group's fd
	 * (closed when the group's last device is detached), is closed at once
	 * when the ctx already holds that group (the kernel lets a group be
	 * opened once, so ferry's own fd is the one to keep), and is closed by
	 * a failed attach.  That it is the device's group is checked by the
	 * kernel: VFIO_GROUP_GET_DEVICE_FD fails for a device of another group.
	 */
	int group_fd;
};

/*
 * The full attach of host device @bdf ("0000:01:00.0" or "01:00.0"):
 * resolve it in sysfs, check its driver, get its group (open, check viable,
 * set the container, set the IOMMU type on the first group, fill the new
 * container from the DMA list, register with kvm-vfio), get the device fd and
 * its info.  With VFIO_BACKEND_IOMMUFD: open the cdev, register it with
 * kvm-vfio, bind it to the iommufd, attach it to the IOAS.
 *
 * All or nothing: on failure the ctx, its fds, the kernel's mappings and
 * group state are as before the call.  (One exception the kernel imposes: a
 * kvm-vfio device, once created, stays; a VM may have only one.)
 */
int vfio_device_attach(struct vfio_ctx *ctx, const char *bdf,
		       const struct vfio_attach_opts *opts, struct vfio_device **dev,
		       struct vfio_err *err);
/*
 * Releases the device in the kernel's order (docs/vfio.md).  Always releases
 * everything it can and frees @dev, even when an ioctl fails on the way;
 * returns the first error (err explains it).
 */
int vfio_device_detach(struct vfio_device *dev, struct vfio_err *err);

int vfio_device_fd(const struct vfio_device *dev);
const struct vfio_bdf *vfio_device_bdf(const struct vfio_device *dev);
const char *vfio_device_name(const struct vfio_device *dev);	/* "0000:00:03.0" */
const struct vfio_dev_info *vfio_device_info(const struct vfio_device *dev);
/* The IOMMU group id. */
unsigned int vfio_device_group_id(const struct vfio_device *dev);
/* The group fd (-1 with the iommufd backend, which opens no group). */
int vfio_device_group_fd(const struct vfio_device *dev);

#endif /* FERRY_VFIO_H */
