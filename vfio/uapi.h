/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel UAPI items ferry needs that Debian 12's linux-libc-dev (6.1) lacks.
 *
 * The values are the kernel's ABI (include/uapi/linux/{iommufd,vfio,kvm}.h of
 * 6.6 and later); they are facts about the kernel interface and must not
 * change.  Everything here is guarded so that newer system headers win.
 *
 * This header is part of the contract of struct vfio_sys: the ioctl requests
 * and argument layouts that travel through vfio_sys.ioctl are exactly these,
 * so a model of the kernel (tests/kmodel) includes it too.
 */
#ifndef FERRY_VFIO_UAPI_H
#define FERRY_VFIO_UAPI_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vfio.h>
#include <linux/kvm.h>

/* ---- iommufd (/dev/iommu), linux/iommufd.h ---- */
#ifndef IOMMUFD_TYPE
#define IOMMUFD_TYPE			(';')

#define IOMMUFD_CMD_DESTROY		0x80
#define IOMMUFD_CMD_IOAS_ALLOC		0x81
#define IOMMUFD_CMD_IOAS_ALLOW_IOVAS	0x82
#define IOMMUFD_CMD_IOAS_COPY		0x83
#define IOMMUFD_CMD_IOAS_IOVA_RANGES	0x84
#define IOMMUFD_CMD_IOAS_MAP		0x85
#define IOMMUFD_CMD_IOAS_UNMAP		0x86
#define IOMMUFD_CMD_OPTION		0x87
#define IOMMUFD_CMD_VFIO_IOAS		0x88
#define IOMMUFD_CMD_HWPT_ALLOC		0x89
#define IOMMUFD_CMD_GET_HW_INFO		0x8a

struct iommu_destroy {
	__u32 size;
	__u32 id;
};
#define IOMMU_DESTROY		_IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)

struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)

/* An inclusive range: last is the last valid IOVA, not one past it. */
struct iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

struct iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;	/* in: array capacity; out: ranges that exist */
	__u32 __reserved;
	__aligned_u64 allowed_iovas;	/* user pointer to iommu_iova_range[] */
	__aligned_u64 out_iova_alignment;
};
#define IOMMU_IOAS_IOVA_RANGES	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)

#define IOMMU_IOAS_MAP_FIXED_IOVA	(1 << 0)
#define IOMMU_IOAS_MAP_WRITEABLE	(1 << 1)
#define IOMMU_IOAS_MAP_READABLE		(1 << 2)

struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP		_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)

struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;	/* in: bytes to unmap; out: bytes unmapped */
};
#define IOMMU_IOAS_UNMAP	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)

#define IOMMU_OPTION_RLIMIT_MODE	0
#define IOMMU_OPTION_HUGE_PAGES		1
#define IOMMU_OPTION_OP_SET		0
#define IOMMU_OPTION_OP_GET		1

struct iommu_option {
	__u32 size;
	__u32 option_id;
	__u16 op;
	__u16 __reserved;
	__u32 object_id;
	__aligned_u64 val64;
};
#define IOMMU_OPTION		_IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION)

#define IOMMU_HWPT_DATA_NONE		0

struct iommu_hwpt_alloc {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 fault_id;
	__u32 __reserved2;
};
#define IOMMU_HWPT_ALLOC	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC)
#endif /* IOMMUFD_TYPE */

/* ---- VFIO device cdev (/dev/vfio/devices/vfioX), Linux 6.6 ---- */
#ifndef VFIO_DEVICE_BIND_IOMMUFD
#define VFIO_DEVICE_FLAGS_CDEV		(1 << 9)

struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};
#define VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)

struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 19)

struct vfio_device_detach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
};
#define VFIO_DEVICE_DETACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 20)
#endif

#ifndef VFIO_PCI_HOT_RESET_FLAG_DEV_ID
#define VFIO_PCI_HOT_RESET_FLAG_DEV_ID		(1 << 0)
#define VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED	(1 << 1)
#endif

/*
 * ---- kvm-vfio pseudo device ----
 * Linux 6.6 renamed the GROUP attributes to FILE (a group fd or, with
 * iommufd, a device cdev fd); the numbers are the same.  What differs is
 * what an older kernel accepts: it rejects a device cdev fd.
 */
#ifndef KVM_DEV_VFIO_FILE
#define KVM_DEV_VFIO_FILE		1
#define KVM_DEV_VFIO_FILE_ADD		1
#define KVM_DEV_VFIO_FILE_DEL		2
#endif

#endif /* FERRY_VFIO_UAPI_H */
