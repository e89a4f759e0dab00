/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kmodel - a userspace model of the kernel's VFIO group core, behind a
 * struct vfio_sys.
 *
 * A model is a fake host: PCI devices in IOMMU groups, bound to a driver or
 * not; the /dev nodes VFIO, iommufd and KVM create for them; and a small
 * sysfs/procfs tree in a temporary folder.  vfio/ code given kmodel_sys()
 * cannot tell it from the kernel for the rules listed in
 * docs/kernel-model.md; tests/contract runs the same tests against both.
 *
 * The fds the model returns are real fds (each one a private open of
 * /dev/null), so the process's fd count really changes and a leak shows in
 * /proc/self/fd; the model maps them to its own objects.  Close them through
 * the table (sys->close), never with close(2): the model would keep the
 * object alive.
 *
 * Paths: /dev/vfio/vfio, /dev/vfio/N, /dev/vfio/devices/vfioX, /dev/iommu and
 * /dev/kvm are modelled objects; /sys/... and /proc/... are served from the
 * model's tree; anything else is opened, read and listed on the real host.
 * fds the model does not know (an eventfd a test made) pass through to the
 * real system calls for close/pread/pwrite/mmap; ioctl on them is ENOTTY.
 *
 * Not thread-safe: one model per test, used from one thread.
 */
#ifndef FERRY_TESTS_KMODEL_H
#define FERRY_TESTS_KMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfio/vfio.h"

struct kmodel;

/*
 * What the modelled kernel offers.  kmodel_config_iommufd() is the lab's
 * 6.12 kernel (iommufd, cdevs, /dev/vfio/vfio served by iommufd's compat
 * layer); kmodel_config_legacy() is Debian's 6.1 (type1 container only,
 * kvm-vfio takes group fds only).
 */
struct kmodel_config {
	bool container;		/* /dev/vfio/vfio exists */
	bool container_compat;	/* ... served by iommufd (vfio_compat.c), not type1 */
	bool iommufd;		/* /dev/iommu exists */
	bool cdev;		/* /dev/vfio/devices/vfioX exist */
	bool kvm;		/* /dev/kvm exists */
	bool kvm_vfio_cdev;	/* kvm-vfio FILE_ADD accepts a device cdev fd (>= 6.6) */
	bool irq_remap;		/* false: VFIO_SET_IOMMU fails with EPERM (type1) */
	/*
	 * Linux < 6.2 (before iommufd's group support): SET_CONTAINER of an
	 * fd that is no container is EINVAL, not EBADFD.
	 */
	bool set_container_einval;
};

struct kmodel_config kmodel_config_legacy(void);
struct kmodel_config kmodel_config_iommufd(void);

/* An inclusive IOVA range, as the kernel reports them. */
struct kmodel_range {
	uint64_t start;
	uint64_t last;
};

/*
 * A new empty host (no devices).  @cfg NULL means kmodel_config_iommufd().
 * Defaults: IOVA ranges [0, 0xfedfffff] and [0xfef00000, 2^39-1] (the MSI
 * window 0xfee00000-0xfeefffff reserved and QEMU's VT-d default 39-bit
 * address width, as in the lab), dma_avail 65535, page sizes 4K|2M|1G,
 * RLIMIT_MEMLOCK 64 MiB, no CAP_IPC_LOCK.  Returns NULL on
 * failure (errno set).
 */
struct kmodel *kmodel_new(const struct kmodel_config *cfg);
/* Closes every fd the model still holds and removes its tree. */
void kmodel_free(struct kmodel *km);

/* The table to hand to vfio/; valid until kmodel_free(). */
struct vfio_sys *kmodel_sys(struct kmodel *km);
/* The model behind a table from kmodel_sys(), or NULL for any other table. */
struct kmodel *kmodel_from_sys(struct vfio_sys *sys);
/* Root of the fake tree: "<root>/sys/...", "<root>/proc/..." */
const char *kmodel_root(struct kmodel *km);

/* ---- building the host (each returns 0 or a negative errno) ---- */

/*
 * Adds PCI device @bdf ("0000:00:03.0") to IOMMU group @group, unbound.
 * The device is edu-like: BAR0 1 MiB MMIO (mmap-able, offset 0 reads
 * 0x010000ed), INTx and one MSI vector, no MSI-X, a 256-byte config space.
 * Devices on the same PCI bus are reset together (hot-reset info).
 */
int kmodel_add_device(struct kmodel *km, const char *bdf, uint16_t vendor,
		      uint16_t device, unsigned int group);
/*
 * Gives the device @nvec MSI-X vectors whose table (and PBA right after it)
 * live in BAR @bar at @table_off, and a 16 KiB 64-bit BAR @bar if it had
 * none.  The whole BAR stays mmap-able and its region info carries the
 * MSIX_MAPPABLE capability, as vfio-pci does since Linux 4.16.
 */
int kmodel_device_set_msix(struct kmodel *km, const char *bdf, unsigned int nvec,
			   unsigned int bar, uint32_t table_off);
/*
 * The MSI capability (at 0x40, 64-bit) offers 2^@log2_nvec vectors and, with
 * @maskbit, per-vector mask and pending registers (not with MSI-X: the longer
 * capability would overlap it).  GET_IRQ_INFO's MSI count follows.
 */
int kmodel_device_set_msi(struct kmodel *km, const char *bdf, unsigned int log2_nvec,
			  bool maskbit);
/*
 * Dynamic MSI-X (Linux >= 6.5 on an irq domain that allows it): MSI-X's IRQ
 * info drops NORESIZE and an enabled MSI-X takes vectors beyond those of its
 * enable.  Without it (the default, as Linux 6.1) that is EINVAL.
 */
int kmodel_device_set_msix_dyn(struct kmodel *km, const char *bdf, bool dyn);
/*
 * Gives the device a ROM of @size bytes (a power of two >= 2 KiB): the ROM
 * region reports it, read-only; it starts 55 aa and ends 55 aa.
 */
int kmodel_device_set_rom(struct kmodel *km, const char *bdf, uint64_t size);

/*
 * Makes BAR @bar report a sparse-mmap capability with the given areas
 * (offset/size pairs within the BAR).  vfio-pci itself never does this since
 * Linux 4.16 (it reports MSIX_MAPPABLE instead); other vfio drivers do, so
 * this exists to exercise a consumer's handling of it.
 */
int kmodel_device_set_sparse_mmap(struct kmodel *km, const char *bdf, unsigned int bar,
				  const struct vfio_region_sparse_mmap_area *areas,
				  unsigned int n);
/*
 * Binds @bdf to @driver ("vfio-pci", "e1000e", ...) or unbinds it (NULL).
 * Binding to vfio-pci creates /dev/vfio/N for its group (and the cdev when
 * cfg.cdev).  -EBUSY while the device is open (the kernel blocks the unbind
 * until userspace lets go; the model refuses instead).
 */
int kmodel_bind(struct kmodel *km, const char *bdf, const char *driver);
/*
 * The model also serves the sysfs binding files (driver_override, drivers/
 * NAME/{bind,unbind}, drivers_probe; kmodel_bind.c).  drivers_probe binds an
 * unbound device to its override, else to the last host driver (not vfio-pci,
 * pci-stub or pcieport) kmodel_bind() gave it.
 */
/* Sets the class code (0x060400: a PCI bridge) in config space and sysfs. */
int kmodel_device_set_class(struct kmodel *km, const char *bdf, uint32_t class);
/* The device's driver_override ("" when unset), NULL for no such device. */
const char *kmodel_device_override(struct kmodel *km, const char *bdf);

int kmodel_set_iova_ranges(struct kmodel *km, const struct kmodel_range *ranges, size_t n);
void kmodel_set_dma_avail(struct kmodel *km, uint32_t dma_avail);
void kmodel_set_pgsizes(struct kmodel *km, uint64_t bitmap);
/* RLIMIT_MEMLOCK as both the model's enforced limit and getrlimit()'s answer. */
void kmodel_set_memlock(struct kmodel *km, uint64_t bytes);
/* The process has CAP_IPC_LOCK: pinning is not limited by RLIMIT_MEMLOCK. */
void kmodel_set_cap_ipc_lock(struct kmodel *km, bool cap);

/*
 * Another process (@pid, @comm) holds /dev/vfio/@group open: opening it
 * gives EBUSY, and /proc/@pid/fd/3 -> /dev/vfio/@group and /proc/@pid/comm
 * appear in the tree.  kmodel_release_group() lets it go.
 */
int kmodel_hold_group(struct kmodel *km, unsigned int group, pid_t pid, const char *comm);
int kmodel_release_group(struct kmodel *km, unsigned int group);

/* ---- inspecting it ---- */

struct kmodel_group_state {
	bool node;		/* /dev/vfio/N exists */
	bool opened;		/* open by this process (a group fd exists) */
	bool held_elsewhere;	/* kmodel_hold_group() */
	bool viable;
	bool container;		/* attached to a legacy container */
	bool iommufd;		/* attached to an iommufd (compat SET_CONTAINER) */
	/*
	 * Legacy container only (as group.c): 1 for the group, + 1 per device
	 * of the group that is open (not per device fd: Linux 6.12 takes the
	 * reference on a device's first open).
	 */
	unsigned int container_users;
	unsigned int device_fds;	/* device fds obtained through this group */
	unsigned int cdev_bound;	/* devices bound through their cdev */
	unsigned int kvm_refs;		/* kvm-vfio devices this group is registered with */
};
int kmodel_group_state(struct kmodel *km, unsigned int group, struct kmodel_group_state *st);

/* Open device fds of @bdf (through the group or its cdev); negative errno if unknown. */
int kmodel_device_open_count(struct kmodel *km, const char *bdf);
/* 1 when @bdf's cdev fd is bound to an iommufd, 0 when not, negative errno. */
int kmodel_device_bound(struct kmodel *km, const char *bdf);
/*
 * 1 when the open device @bdf got the VM's KVM pointer when it was opened
 * (group path: the group was in kvm-vfio at the first open; cdev path: the
 * cdev fd was in kvm-vfio at BIND_IOMMUFD), 0 when not, negative errno
 * (-EBADFD when the device is not open).
 */
int kmodel_device_kvm(struct kmodel *km, const char *bdf);
/* The IOAS (or HWPT) id the device is attached to through iommufd, 0 if none. */
int kmodel_device_attached_pt(struct kmodel *km, const char *bdf, uint32_t *pt_id);

/*
 * Interrupts as VFIO_DEVICE_SET_IRQS left them: the index enabled
 * (VFIO_PCI_*_IRQ_INDEX) or -1; the trigger eventfd the user gave vector
 * @vector of @index (INTx, MSI, MSI-X), -1 for none; the vectors the enable
 * allocated (grown by dynamic MSI-X); the INTx unmask eventfd or -1.  The
 * fds are the numbers the user passed (the model takes no reference).
 */
int kmodel_device_irq_type(struct kmodel *km, const char *bdf);
int kmodel_device_irq_eventfd(struct kmodel *km, const char *bdf, unsigned int index,
			      unsigned int vector);
int kmodel_device_irq_vectors(struct kmodel *km, const char *bdf);
int kmodel_device_intx_unmask_eventfd(struct kmodel *km, const char *bdf);
/*
 * The request interrupt's eventfd (VFIO_PCI_REQ_IRQ_INDEX) as the user set
 * it, -1 when none (also once the device's last fd is closed).
 */
int kmodel_device_req_eventfd(struct kmodel *km, const char *bdf);
/* VFIO_DEVICE_RESETs that succeeded on @bdf. */
int kmodel_device_resets(struct kmodel *km, const char *bdf);

struct kmodel_mapping {
	uint64_t iova;
	uint64_t size;
	uint64_t vaddr;
};
/*
 * The DMA mappings of a container (@fd a container fd, @ioas_id ignored) or
 * of IOAS @ioas_id of iommufd @fd, sorted by IOVA.  Copies at most @max and
 * returns how many there are, or a negative errno.
 */
int kmodel_mappings(struct kmodel *km, int fd, uint32_t ioas_id,
		    struct kmodel_mapping *out, size_t max);
/* Bytes currently pinned (counted against RLIMIT_MEMLOCK), all containers and IOAS. */
uint64_t kmodel_pinned_bytes(struct kmodel *km);
/* 1 when the container behind @fd has an IOMMU type set, 0 when not, negative errno. */
int kmodel_container_has_iommu(struct kmodel *km, int fd);

/*
 * Files registered with the kvm-vfio device of the VM behind @fd (a VM fd or
 * the kvm-vfio device fd): their count, or a negative errno.  When @probe_fd
 * >= 0, returns instead 1 if the file behind @probe_fd is registered, else 0.
 */
int kmodel_kvm_vfio_files(struct kmodel *km, int fd, int probe_fd);

/* Model fds currently open (every kind). */
unsigned int kmodel_live_fds(struct kmodel *km);

/*
 * Call log: when enabled, each table call appends one line
 * ("open /dev/vfio/7 = 5", "ioctl 5 VFIO_GROUP_GET_STATUS = 0").
 * kmodel_log() returns the text so far ("" when empty).
 */
void kmodel_log_enable(struct kmodel *km, bool on);
const char *kmodel_log(struct kmodel *km);
void kmodel_log_clear(struct kmodel *km);

#endif /* FERRY_TESTS_KMODEL_H */
