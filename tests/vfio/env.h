/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The test environment of the vfio/ tests that run on the kernel model: a
 * modelled host, a VM fd, a vfio_ctx, a guest-RAM buffer, and a snapshot of
 * everything an attach must leave as it found on failure.
 */
#ifndef FERRY_TESTS_VFIO_ENV_H
#define FERRY_TESTS_VFIO_ENV_H

#include "vfio/vfio.h"
#include "kmodel.h"
#include "fault_sys.h"

#define ENV_RAM_SIZE (2u << 20)

struct env {
	struct kmodel *km;
	struct fault_sys fault;	/* between vfio/ and the model; disarmed by default */
	struct vfio_sys *sys;	/* &fault.sys */
	int kvm_fd;		/* /dev/kvm */
	int vm_fd;		/* -1 without a VM */
	struct vfio_ctx *ctx;
	int iommufd;		/* a pre-opened /dev/iommu handed to the ctx, or -1 */
	void *ram;		/* ENV_RAM_SIZE bytes, 2 MiB aligned */
};

/*
 * A host with @cfg (NULL: iommufd kernel).  Devices: 0000:00:03.0 in group 5
 * and 0000:00:04.0 in group 6 (vendor 1234, device 11e8), and 0000:01:01.0 +
 * 0000:01:02.0 both in group 7 (behind a bridge), all bound to vfio-pci.
 */
void env_init(struct env *e, const struct kmodel_config *cfg, enum vfio_backend backend,
	      bool with_vm);
/* Frees the ctx (asserting no device is left), closes the VM, frees the model. */
void env_fini(struct env *e);

/*
 * Replaces the ctx (still empty) by one of the iommufd backend using a
 * pre-opened /dev/iommu, as libvirt passes it.  env_fini() closes it.
 */
void env_preopen_iommufd(struct env *e);
/* Opens @bdf's cdev as a management layer would (not through the fault injector). */
int env_open_cdev(struct env *e, const char *bdf);

/* Adds the RAM buffer at IOVA @iova to the ctx's DMA list. */
void env_add_ram(struct env *e, uint64_t iova);

/* Open fds of this process (entries of /proc/self/fd). */
int env_count_fds(void);

struct env_group_snap {
	int err;
	struct kmodel_group_state st;
};

/* What an attach that fails must leave exactly as it found. */
struct env_snap {
	int fds;
	unsigned int live;
	uint64_t pinned;
	int nmaps;
	struct kmodel_mapping maps[8];
	struct env_group_snap groups[3];	/* groups 5, 6, 7 */
	int kvm_files;
	size_t ctx_groups;
	size_t ctx_dma;
	bool kvm_dev;
	int container_fd;
	int dev_open[4];
};

void env_snap(struct env *e, struct env_snap *s);
/*
 * Asserts @now equals @before; when @kvm_created a kvm-vfio device fd that
 * did not exist before may have appeared (a VM keeps it).  @what names the
 * case in failure messages.
 */
void env_snap_expect_equal(const struct env_snap *before, const struct env_snap *now,
			   const char *what);

#endif /* FERRY_TESTS_VFIO_ENV_H */
