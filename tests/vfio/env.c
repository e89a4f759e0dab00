// SPDX-License-Identifier: GPL-2.0-only
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "env.h"

static const char *const env_bdfs[4] = {
	"0000:00:03.0", "0000:00:04.0", "0000:01:01.0", "0000:01:02.0",
};

void env_init(struct env *e, const struct kmodel_config *cfg, enum vfio_backend backend,
	      bool with_vm)
{
	static const unsigned int groups[4] = { 5, 6, 7, 7 };
	struct vfio_ctx_opts opts = { .backend = backend, .vm_fd = -1 };
	void *p;

	memset(e, 0, sizeof(*e));
	e->km = kmodel_new(cfg);
	cr_assert_not_null(e->km, "kmodel_new: %s", strerror(errno));
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(kmodel_add_device(e->km, env_bdfs[i], 0x1234, 0x11e8, groups[i]), 0);
		cr_assert_eq(kmodel_bind(e->km, env_bdfs[i], "vfio-pci"), 0);
	}
	fault_sys_init(&e->fault, kmodel_sys(e->km));
	e->sys = fault_sys_table(&e->fault);
	e->kvm_fd = -1;
	e->vm_fd = -1;
	e->iommufd = -1;
	if (with_vm) {
		struct vfio_sys *ms = kmodel_sys(e->km);

		e->kvm_fd = ms->open(ms, "/dev/kvm", O_RDWR);
		cr_assert_geq(e->kvm_fd, 0, "open /dev/kvm: %d", e->kvm_fd);
		e->vm_fd = ms->ioctl(ms, e->kvm_fd, KVM_CREATE_VM, NULL);
		cr_assert_geq(e->vm_fd, 0, "KVM_CREATE_VM: %d", e->vm_fd);
		opts.vm_fd = e->vm_fd;
	}
	cr_assert_eq(vfio_ctx_new(e->sys, &opts, &e->ctx), 0);
	/* 2 MiB aligned so the model may use its 2M page size. */
	p = mmap(NULL, 2 * ENV_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	e->ram = (void *)(((uintptr_t)p + ENV_RAM_SIZE - 1) & ~(uintptr_t)(ENV_RAM_SIZE - 1));
}

void env_fini(struct env *e)
{
	struct vfio_sys *ms = kmodel_sys(e->km);

	cr_assert_eq(vfio_ctx_free(e->ctx), 0, "devices left in the ctx");
	if (e->iommufd >= 0)
		ms->close(ms, e->iommufd);
	if (e->vm_fd >= 0)
		ms->close(ms, e->vm_fd);
	if (e->kvm_fd >= 0)
		ms->close(ms, e->kvm_fd);
	/* With every fd closed nothing of ours may be left in the model. */
	cr_expect_eq(kmodel_live_fds(e->km), 0, "%u model fds leaked", kmodel_live_fds(e->km));
	cr_expect_eq(kmodel_pinned_bytes(e->km), 0);
	kmodel_free(e->km);
	/* The buffer is left mapped: 4 MiB per test, and the process ends soon. */
}

void env_preopen_iommufd(struct env *e)
{
	struct vfio_sys *ms = kmodel_sys(e->km);
	struct vfio_ctx_opts opts = { .backend = VFIO_BACKEND_IOMMUFD, .vm_fd = e->vm_fd };

	cr_assert_eq(vfio_ctx_dma_count(e->ctx, NULL), 0, "call before adding RAM");
	cr_assert_eq(vfio_ctx_free(e->ctx), 0);
	e->iommufd = ms->open(ms, "/dev/iommu", O_RDWR);
	cr_assert_geq(e->iommufd, 0);
	opts.has_iommufd = true;
	opts.iommufd = e->iommufd;
	cr_assert_eq(vfio_ctx_new(e->sys, &opts, &e->ctx), 0);
}

int env_open_cdev(struct env *e, const char *bdfs)
{
	struct vfio_sys *ms = kmodel_sys(e->km);
	char cdev[32], path[64];
	struct vfio_bdf bdf;
	int fd;

	cr_assert_eq(vfio_bdf_parse(bdfs, &bdf, NULL), 0);
	cr_assert_eq(vfio_host_device_cdev(ms, &bdf, cdev, sizeof(cdev)), 0);
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	fd = ms->open(ms, path, O_RDWR);
	cr_assert_geq(fd, 0, "open %s: %d", path, fd);
	return fd;
}

void env_add_ram(struct env *e, uint64_t iova)
{
	struct vfio_err err = { 0 };
	int ret = vfio_ctx_dma_add(e->ctx, iova, (uintptr_t)e->ram, ENV_RAM_SIZE, &err);

	cr_assert_eq(ret, 0, "dma_add: %d %s", ret, err.msg);
}

int env_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

void env_snap(struct env *e, struct env_snap *s)
{
	static const unsigned int ids[3] = { 5, 6, 7 };
	int cfd = vfio_ctx_container_fd(e->ctx);

	memset(s, 0, sizeof(*s));
	s->fds = env_count_fds();
	s->live = kmodel_live_fds(e->km);
	s->pinned = kmodel_pinned_bytes(e->km);
	s->container_fd = cfd;
	s->nmaps = cfd >= 0 ? kmodel_mappings(e->km, cfd, vfio_ctx_ioas_id(e->ctx), s->maps, 8)
			    : 0;
	for (int i = 0; i < 3; i++)
		s->groups[i].err = kmodel_group_state(e->km, ids[i], &s->groups[i].st);
	s->kvm_files = e->vm_fd >= 0 ? kmodel_kvm_vfio_files(e->km, e->vm_fd, -1) : 0;
	s->ctx_groups = vfio_ctx_group_count(e->ctx);
	s->ctx_dma = vfio_ctx_dma_count(e->ctx, NULL);
	s->kvm_dev = vfio_ctx_kvm_fd(e->ctx) >= 0;
	for (int i = 0; i < 4; i++)
		s->dev_open[i] = kmodel_device_open_count(e->km, env_bdfs[i]);
}

void env_snap_expect_equal(const struct env_snap *b, const struct env_snap *n,
			   const char *what)
{
	/* A VM may have one kvm-vfio device and cannot drop it: it may appear once. */
	int kvm_new = !b->kvm_dev && n->kvm_dev;

	cr_expect_eq(n->fds, b->fds + kvm_new, "%s: process fds %d -> %d", what, b->fds, n->fds);
	cr_expect_eq(n->live, b->live + kvm_new, "%s: model fds %u -> %u", what, b->live,
		     n->live);
	cr_expect_eq(n->pinned, b->pinned, "%s: pinned %lu -> %lu", what,
		     (unsigned long)b->pinned, (unsigned long)n->pinned);
	cr_expect_eq(n->container_fd, b->container_fd, "%s: container fd %d -> %d", what,
		     b->container_fd, n->container_fd);
	cr_expect_eq(n->nmaps, b->nmaps, "%s: mappings %d -> %d", what, b->nmaps, n->nmaps);
	for (int i = 0; i < b->nmaps && i < n->nmaps && i < 8; i++)
		cr_expect(!memcmp(&b->maps[i], &n->maps[i], sizeof(b->maps[i])),
			  "%s: mapping %d changed", what, i);
	for (int i = 0; i < 3; i++) {
		const struct kmodel_group_state *x = &b->groups[i].st, *y = &n->groups[i].st;

		cr_expect_eq(b->groups[i].err, n->groups[i].err, "%s", what);
		cr_expect(x->opened == y->opened && x->container == y->container &&
			  x->iommufd == y->iommufd && x->container_users == y->container_users &&
			  x->device_fds == y->device_fds && x->kvm_refs == y->kvm_refs &&
			  x->viable == y->viable && x->node == y->node,
			  "%s: group %d state changed (opened %d->%d container %d->%d users "
			  "%u->%u devfds %u->%u kvm %u->%u)", what, 5 + i, x->opened, y->opened,
			  x->container, y->container, x->container_users, y->container_users,
			  x->device_fds, y->device_fds, x->kvm_refs, y->kvm_refs);
	}
	cr_expect_eq(n->kvm_files, b->kvm_files, "%s: kvm-vfio files %d -> %d", what,
		     b->kvm_files, n->kvm_files);
	cr_expect_eq(n->ctx_groups, b->ctx_groups, "%s", what);
	cr_expect_eq(n->ctx_dma, b->ctx_dma, "%s", what);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(n->dev_open[i], b->dev_open[i], "%s: device %d open count %d -> %d",
			     what, i, b->dev_open[i], n->dev_open[i]);
}
