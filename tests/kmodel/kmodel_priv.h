/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kmodel internals, shared by the files of tests/kmodel only.
 *
 * The model mirrors the kernel's object graph with "files" (struct kfile):
 * every fd the model hands out refers to a file, and files hold references
 * on other files exactly where the kernel does (a device fd on its group
 * file for a legacy container, a group on its container, kvm-vfio on every
 * file registered with it, a bound cdev on its iommufd).  A file is released
 * when its last reference goes, which is when the kernel's ->release runs.
 */
#ifndef FERRY_TESTS_KMODEL_PRIV_H
#define FERRY_TESTS_KMODEL_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kmodel.h"

#define KM_PAGE_SIZE		4096ULL
#define KM_MAX_DEVICES		32
#define KM_MAX_RANGES		8
#define KM_BAR0_SIZE		(1ULL << 20)
#define KM_CFG_SIZE		256
#define KM_EDU_ID		0x010000edU
#define KM_REGION_SHIFT		40	/* VFIO_PCI_OFFSET_SHIFT */
#define KM_NUM_REGIONS		9	/* VFIO_PCI_NUM_REGIONS */
#define KM_NUM_IRQS		5	/* VFIO_PCI_NUM_IRQS */
#define KM_MAX_VECTORS		2048	/* MSI-X's limit; INTx and MSI use fewer */

enum kfile_type {
	KF_GROUP,
	KF_CONTAINER,	/* type1 container (/dev/vfio/vfio, legacy kernel) */
	KF_IOMMUFD,	/* /dev/iommu, and /dev/vfio/vfio on a compat kernel */
	KF_DEVICE,	/* device fd: from GET_DEVICE_FD or a cdev open */
	KF_KVM,		/* /dev/kvm */
	KF_VM,
	KF_KVM_VFIO,	/* the kvm-vfio device of a VM */
	KF_SYSFS,	/* a sysfs control file of driver binding (kmodel_bind.c) */
};

struct kfile;

/* One DMA mapping; pinned says whether its pages count against memlock now. */
struct kmap {
	uint64_t iova;
	uint64_t size;
	uint64_t vaddr;
	bool pinned;
};

/* A sorted set of mappings: a type1 container's or an IOAS's. */
struct kmaps {
	struct kmap *v;
	size_t n;
	size_t cap;
};

struct kdevice {
	char bdf[16];
	unsigned int bus;
	unsigned int devfn;
	uint16_t vendor;
	uint16_t device_id;
	unsigned int group;
	char driver[32];		/* "" when unbound */
	int cdev_index;			/* vfioX, -1 without one */

	uint8_t config[KM_CFG_SIZE];
	uint64_t bar_size[6];
	int bar_fd[6];			/* memfd behind each BAR, -1 if none */
	unsigned int msix_nvec;
	unsigned int msix_bar;
	uint32_t msix_table_off;
	struct vfio_region_sparse_mmap_area sparse[4];
	unsigned int sparse_n;
	int sparse_bar;			/* -1: none */

	/* vfio_device state */
	unsigned int open_count;	/* device->open_count */
	bool opened_via_group;		/* the first open came through the group */
	bool kvm;			/* device->kvm was set at first open / bind */
	struct kfile *bound_ictx;	/* iommufd the device is bound to (a file ref) */
	uint32_t devid;			/* its iommufd device object id */
	struct kioas *att_ioas;		/* attached directly to an IOAS (auto HWPT) */
	struct khwpt *att_hwpt;		/* or to a HWPT */
	unsigned int irq_type;		/* VFIO_PCI_*_IRQ_INDEX enabled, KM_NUM_IRQS: none */
	bool intx_masked;
	/*
	 * Trigger eventfds of INTx, MSI and MSI-X vectors (-1: none) as the
	 * user set them, the INTx unmask eventfd, and how many vectors the
	 * enable allocated (vfio_msi_enable(): start + count).
	 */
	int32_t irq_efd[3][KM_MAX_VECTORS];
	int32_t intx_unmask_efd;
	/* The request interrupt's trigger (VFIO_PCI_REQ_IRQ_INDEX), -1: none. */
	int32_t req_efd;
	unsigned int irq_alloc;
	bool msix_dyn;			/* dynamic MSI-X: no NORESIZE, vectors grow */
	uint64_t rom_size;		/* 0: no ROM */
	int rom_fd;
	unsigned int resets;		/* VFIO_DEVICE_RESETs that succeeded */
	char override[32];		/* driver_override, "" when unset */
	char native[32];		/* the host driver drivers_probe picks without override */
};

struct kgroup {
	unsigned int id;
	bool exists;			/* some device of the model is in it */
	struct kfile *opened_file;	/* group->opened_file */
	struct kfile *container;	/* legacy container file (a ref) */
	struct kfile *ictx;		/* iommufd file (a ref), compat SET_CONTAINER */
	unsigned int container_users;
	unsigned int cdev_device_open_cnt;
	unsigned int device_fds;
	bool dma_claimed;		/* iommu_group_claim_dma_owner() by a container */
	bool revoked;			/* last vfio device left while open: ENODEV */
	pid_t holder_pid;		/* another process holds it, 0 if none */
	char holder_comm[16];
	struct kfile *kvm_file;		/* group->kvm: VM whose kvm-vfio holds it */
};

struct kcontainer {
	struct kgroup *groups[KM_MAX_DEVICES];
	unsigned int ngroups;
	bool iommu;			/* VFIO_SET_IOMMU done */
	bool v2;
	uint32_t dma_avail;
	struct kmaps maps;
};

struct kioas {
	uint32_t id;
	struct kmaps maps;
	unsigned int auto_users;	/* devices attached straight to the IOAS */
	unsigned int hwpts;		/* HWPTs allocated on it */
	bool compat;			/* the vfio compat IOAS */
	bool huge_pages_off;
	struct kioas *next;
};

struct khwpt {
	uint32_t id;
	struct kioas *ioas;
	unsigned int users;		/* devices attached */
	struct khwpt *next;
};

struct kictx {
	uint32_t next_id;
	struct kioas *ioas_list;
	struct khwpt *hwpt_list;
	struct kioas *compat_ioas;	/* ictx->vfio_ioas */
	bool account_mm;		/* IOMMU_OPTION_RLIMIT_MODE */
	unsigned int devices;		/* bound device objects */
};

struct kdevfile {
	struct kdevice *dev;
	struct kgroup *group;		/* NULL: opened through the cdev */
	bool access_granted;
	bool counted;			/* holds one device->open_count */
	struct kfile *kvm;		/* df->kvm: set by kvm-vfio (cdev fds only) */
};

struct kvm_vm {
	struct kfile *kvm_vfio;		/* the VM's kvm-vfio device, NULL if none */
};

struct kkvm_vfio {
	struct kfile *vm;		/* a ref: the device keeps its VM alive */
	struct kfile *files[64];	/* registered files, each a ref */
	unsigned int nfiles;
};

struct kfile {
	enum kfile_type type;
	unsigned int refs;
	struct kmodel *km;
	union {
		struct kgroup *group;
		struct kcontainer *cont;
		struct kictx *ictx;
		struct kdevfile *df;
		struct kvm_vm *vm;
		struct kkvm_vfio *kv;
		struct ksysfs *sf;
	};
};

struct kfd {
	int fd;
	struct kfile *file;
};

struct kmodel {
	struct vfio_sys sys;		/* first: kmodel_sys() is &km->sys */
	struct kmodel_config cfg;
	char root[64];

	struct kdevice dev[KM_MAX_DEVICES];
	unsigned int ndev;
	struct kgroup groups[KM_MAX_DEVICES];
	unsigned int ngroups;
	int next_cdev;

	struct kmodel_range ranges[KM_MAX_RANGES];
	size_t nranges;
	uint32_t dma_avail;
	uint64_t pgsizes;
	uint64_t memlock;
	bool cap_ipc_lock;
	uint64_t pinned;

	struct kfd *fds;
	size_t nfds;
	size_t capfds;

	bool log_on;
	char *log;
	size_t log_len;
	size_t log_cap;
};

/* kmodel.c: files, fds */
struct kfile *km_file_new(struct kmodel *km, enum kfile_type type);
void km_file_get(struct kfile *f);
void km_file_put(struct kfile *f);
int km_fd_install(struct kmodel *km, struct kfile *f);
struct kfile *km_fd_file(struct kmodel *km, int fd);
/* A model file for @fd; else -EBADF if @fd is not open at all, -EBADFD if not ours. */
int km_fd_lookup(struct kmodel *km, int fd, struct kfile **out);
struct kdevice *km_device_by_bdf(struct kmodel *km, const char *bdf);
struct kgroup *km_group(struct kmodel *km, unsigned int id, bool create);
bool km_range_allowed(const struct kmodel_range *r, size_t n, uint64_t iova, uint64_t size);
void km_logf(struct kmodel *km, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* kmodel_fs.c: the fake sysfs/procfs tree */
int km_fs_init(struct kmodel *km);
void km_fs_destroy(struct kmodel *km);
int km_fs_add_device(struct kmodel *km, struct kdevice *d);
int km_fs_set_driver(struct kmodel *km, struct kdevice *d, const char *driver);
int km_fs_set_cdev(struct kmodel *km, struct kdevice *d);
int km_fs_set_holder(struct kmodel *km, struct kgroup *g, bool hold);
/* Maps "/sys/..." or "/proc/PID/..." (other processes) into the tree; false otherwise. */
bool km_fs_path(struct kmodel *km, const char *path, char *out, size_t len);

/* kmodel_dma.c: mappings and pinning */
struct kmap *km_maps_find(struct kmaps *m, uint64_t iova, uint64_t size);
int km_maps_insert(struct kmaps *m, const struct kmap *map);
void km_maps_remove(struct kmaps *m, size_t idx);
void km_maps_clear(struct kmodel *km, struct kmaps *m);
int km_pin(struct kmodel *km, struct kmap *map);
void km_unpin(struct kmodel *km, struct kmap *map);
int km_maps_pin_all(struct kmodel *km, struct kmaps *m);
void km_maps_unpin_all(struct kmodel *km, struct kmaps *m);

/* kmodel_group.c: groups and type1 containers */
int km_group_open(struct kmodel *km, unsigned int id, struct kfile **out);
int km_container_open(struct kmodel *km, struct kfile **out);
int km_group_ioctl(struct kfile *f, unsigned long req, void *arg);
int km_container_ioctl(struct kfile *f, unsigned long req, void *arg);
void km_group_release(struct kfile *f);
void km_container_release(struct kfile *f);
bool km_group_viable(struct kmodel *km, struct kgroup *g);
bool km_group_dma_owned(struct kmodel *km, struct kgroup *g);
int km_group_use_container(struct kgroup *g);
void km_group_detach_container(struct kgroup *g);
bool km_group_has_vfio_device(struct kmodel *km, struct kgroup *g);
void km_group_unuse_container(struct kgroup *g);

/* kmodel_iommufd.c */
int km_iommufd_open(struct kmodel *km, struct kfile **out);
int km_iommufd_ioctl(struct kfile *f, unsigned long req, void *arg);
void km_iommufd_release(struct kfile *f);
int km_ictx_compat_ioas_create(struct kictx *ictx);
int km_ictx_bind(struct kfile *ictx_file, struct kdevice *d);
void km_ictx_unbind(struct kdevice *d);
int km_ictx_attach(struct kdevice *d, uint32_t *pt_id);
void km_ictx_detach(struct kdevice *d);
struct kioas *km_ioas_find(struct kictx *ictx, uint32_t id);

/* kmodel_device.c */
int km_cdev_open(struct kmodel *km, int index, struct kfile **out);
int km_device_open_group(struct kgroup *g, struct kdevice *d, struct kfile **out);
int km_device_ioctl(struct kfile *f, unsigned long req, void *arg);
ssize_t km_device_rw(struct kfile *f, void *buf, size_t len, off_t off, bool write);
int km_device_mmap(struct kfile *f, off_t off, size_t len, int prot, void **addr);
void km_device_release(struct kfile *f);
void km_device_init(struct kdevice *d);
void km_device_irqs_clear(struct kdevice *d);
void km_device_init_msix_cap(struct kdevice *d);
void km_device_fini(struct kdevice *d);
bool km_device_reset_works(struct kmodel *km, struct kdevice *d);

/* kmodel_bind.c: sysfs driver_override, unbind, bind, drivers_probe */
struct ksysfs;
/* 1 and *out set when @path is a binding control file, 0 when it is not, or -errno. */
int km_sysfs_open(struct kmodel *km, const char *path, struct kfile **out);
ssize_t km_sysfs_write(struct kfile *f, const void *buf, size_t len);
void km_sysfs_release(struct kfile *f);
int km_fs_set_override(struct kmodel *km, struct kdevice *d);

/* kmodel_kvm.c */
int km_kvm_open(struct kmodel *km, struct kfile **out);
int km_kvm_ioctl(struct kfile *f, unsigned long req, void *arg);
void km_vm_release(struct kfile *f);
void km_kvm_vfio_release(struct kfile *f);
struct kkvm_vfio *km_kvm_vfio_of(struct kfile *f);

#endif /* FERRY_TESTS_KMODEL_PRIV_H */
