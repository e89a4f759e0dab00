// SPDX-License-Identifier: GPL-2.0-only
/*
 * ferry-vfio-lab: vfio/'s context on the real kernel, run inside the lab
 * (tests/lab/lab-run sets FERRY_SYS=linux, FERRY_LAB_KERNEL, FERRY_LAB_DEVSET,
 * FERRY_LAB_DEVICES).  Outside the lab every test skips; meson does not
 * register it.
 *
 * What only a real kernel can show: the edu device's DMA engine reading and
 * writing guest RAM through the emulated VT-d at the IOVAs the ctx mapped;
 * a group reopened by someone else the moment detach returns; the real
 * messages for a non-viable or busy group; and every attach call point
 * failed in turn (the fault injector over the real table) leaving the
 * process's fds as they were and the next attach working.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cap-ng.h>

#include "vfio/vfio.h"
#include "fault_sys.h"

#define EDU_RAM_IOVA	0x100000ULL	/* edu's DMA mask is 28 bits */
#define EDU_RAM_SIZE	(1u << 20)
#define EDU_BUF		0x40000		/* edu's internal DMA buffer */

struct lab {
	bool in_lab;
	bool iommufd_kernel;
	char devset[32];
	char bdf[4][16];
	int ndevs;
};

static struct lab lab;

static void need_lab(void)
{
	const char *sys = getenv("FERRY_SYS"), *kernel = getenv("FERRY_LAB_KERNEL");
	const char *devs = getenv("FERRY_LAB_DEVICES"), *devset = getenv("FERRY_LAB_DEVSET");
	char buf[256], *tok, *save;

	memset(&lab, 0, sizeof(lab));
	if (!sys || strcmp(sys, "linux") || !kernel)
		cr_skip_test("not in the lab (run through tests/lab/lab-run)");
	lab.in_lab = true;
	lab.iommufd_kernel = !strcmp(kernel, "iommufd");
	snprintf(lab.devset, sizeof(lab.devset), "%s", devset ? devset : "");
	snprintf(buf, sizeof(buf), "%s", devs ? devs : "");
	for (tok = strtok_r(buf, " ", &save); tok && lab.ndevs < 4;
	     tok = strtok_r(NULL, " ", &save))
		snprintf(lab.bdf[lab.ndevs++], sizeof(lab.bdf[0]), "%s", tok);
	if (!lab.ndevs)
		cr_skip_test("device set '%s' has no vfio device", lab.devset);
}

static void need_devset(const char *a, const char *b)
{
	need_lab();
	if (strcmp(lab.devset, a) && (!b || strcmp(lab.devset, b)))
		cr_skip_test("needs device set %s%s%s (this is %s)", a, b ? " or " : "",
			     b ? b : "", lab.devset);
}

static int count_fds(void)
{
	char buf[65536];
	ssize_t n = vfio_sys_linux()->readdir(vfio_sys_linux(), "/proc/self/fd", buf,
					      sizeof(buf));
	int count = 0;

	cr_assert_geq(n, 0);
	for (char *e = buf; e < buf + n; e += strlen(e) + 1)
		count++;
	return count;
}

/* A VM for kvm-vfio, when the lab has /dev/kvm; *kvm_fd and *vm_fd -1 otherwise. */
static void vm_open(int *kvm_fd, int *vm_fd)
{
	*vm_fd = -1;
	*kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*kvm_fd < 0)
		return;
	*vm_fd = ioctl(*kvm_fd, KVM_CREATE_VM, 0);
	cr_assert_geq(*vm_fd, 0, "KVM_CREATE_VM: %s", strerror(errno));
}

static void vm_close(int kvm_fd, int vm_fd)
{
	if (vm_fd >= 0)
		close(vm_fd);
	if (kvm_fd >= 0)
		close(kvm_fd);
}

static void *ram;

static struct vfio_ctx *ctx_new(struct vfio_sys *sys, enum vfio_backend backend, int vm_fd)
{
	struct vfio_ctx_opts opts = {
		.backend = backend,
		.vm_fd = vm_fd,
		.cap_ipc_lock = capng_have_capability(CAPNG_EFFECTIVE, CAP_IPC_LOCK),
	};
	struct vfio_err err = { 0 };
	struct vfio_ctx *ctx;

	if (!ram) {
		ram = mmap(NULL, EDU_RAM_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		cr_assert_neq(ram, MAP_FAILED);
	}
	cr_assert_eq(vfio_ctx_new(sys, &opts, &ctx), 0);
	cr_assert_eq(vfio_ctx_dma_add(ctx, EDU_RAM_IOVA, (uintptr_t)ram, EDU_RAM_SIZE, &err), 0,
		     "%s", err.msg);
	return ctx;
}

static uint32_t bar_read(struct vfio_device *dev, const struct vfio_region *bar, uint64_t off)
{
	uint32_t v = 0;

	cr_assert_eq(vfio_devfd_region_read(vfio_sys_linux(), vfio_device_fd(dev), bar, off, &v,
					    4), 0);
	return v;
}

static void bar_write(struct vfio_device *dev, const struct vfio_region *bar, uint64_t off,
		      uint64_t v, size_t len)
{
	cr_assert_eq(vfio_devfd_region_write(vfio_sys_linux(), vfio_device_fd(dev), bar, off, &v,
					     len), 0);
}

/* One edu DMA transfer; @to_ram selects the direction.  Waits for it. */
static void edu_dma(struct vfio_device *dev, const struct vfio_region *bar, uint64_t src,
		    uint64_t dst, uint32_t count, bool to_ram)
{
	int spins;

	bar_write(dev, bar, 0x80, src, 8);
	bar_write(dev, bar, 0x88, dst, 8);
	bar_write(dev, bar, 0x90, count, 8);
	bar_write(dev, bar, 0x98, 1 | (to_ram ? 2 : 0), 8);
	for (spins = 0; spins < 100000 && (bar_read(dev, bar, 0x98) & 1); spins++)
		usleep(10);
	cr_assert_eq(bar_read(dev, bar, 0x98) & 1, 0, "edu DMA did not finish");
}

/* The device works, and its DMA reaches guest RAM exactly where the ctx mapped it. */
static void edu_check(struct vfio_device *dev)
{
	struct vfio_region bar, cfg;
	volatile uint32_t *words = ram;
	uint16_t cmd;

	/* Bus mastering on (a guest driver's job): without it QEMU drops the DMA. */
	cr_assert_eq(vfio_devfd_get_region(vfio_sys_linux(), vfio_device_fd(dev),
					   VFIO_PCI_CONFIG_REGION_INDEX, &cfg), 0);
	cr_assert_eq(vfio_devfd_region_read(vfio_sys_linux(), vfio_device_fd(dev), &cfg, 4,
					    &cmd, 2), 0);
	cmd |= 0x6;	/* memory space, bus master */
	cr_assert_eq(vfio_devfd_region_write(vfio_sys_linux(), vfio_device_fd(dev), &cfg, 4,
					     &cmd, 2), 0);
	vfio_region_release(&cfg);
	cr_assert_eq(vfio_devfd_get_region(vfio_sys_linux(), vfio_device_fd(dev),
					   VFIO_PCI_BAR0_REGION_INDEX, &bar), 0);
	cr_assert_eq(bar_read(dev, &bar, 0x00), 0x010000ed, "edu id");
	bar_write(dev, &bar, 0x04, 0x12345678, 4);
	cr_assert_eq(bar_read(dev, &bar, 0x04), ~0x12345678u);

	words[0] = 0xfe77e001;
	words[1024] = 0;
	edu_dma(dev, &bar, EDU_RAM_IOVA, EDU_BUF, 4, false);
	edu_dma(dev, &bar, EDU_BUF, EDU_RAM_IOVA + 4096, 4, true);
	cr_assert_eq(words[1024], 0xfe77e001, "the word went RAM -> edu -> RAM through the IOMMU");
	vfio_region_release(&bar);
}

static void attach_use_detach(enum vfio_backend backend)
{
	struct vfio_err err = { 0 };
	struct vfio_device *dev;
	struct vfio_ctx *ctx;
	int kvm_fd, vm_fd, fds = count_fds(), gfd;
	char path[32];

	vm_open(&kvm_fd, &vm_fd);
	ctx = ctx_new(vfio_sys_linux(), backend, vm_fd);
	cr_assert_eq(vfio_device_attach(ctx, lab.bdf[0], NULL, &dev, &err), 0, "%s", err.msg);
	edu_check(dev);
	snprintf(path, sizeof(path), "/dev/vfio/%u", vfio_device_group_id(dev));
	cr_assert_eq(vfio_device_detach(dev, &err), 0, "%s", err.msg);
	/* Released at once: anyone may take the group now (rule 6). */
	gfd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(gfd, 0, "reopening %s after detach: %s", path, strerror(errno));
	close(gfd);
	/* And ferry again, with its RAM mapped again (#7328). */
	cr_assert_eq(vfio_device_attach(ctx, lab.bdf[0], NULL, &dev, &err), 0, "%s", err.msg);
	edu_check(dev);
	cr_assert_eq(vfio_device_detach(dev, &err), 0, "%s", err.msg);
	cr_assert_eq(vfio_ctx_free(ctx), 0);
	vm_close(kvm_fd, vm_fd);
	cr_assert_eq(count_fds(), fds, "fds leaked");
}

Test(vfio_lab, container_backend)
{
	need_devset("edu", "edu-groups2");
	attach_use_detach(VFIO_BACKEND_CONTAINER);
}

Test(vfio_lab, iommufd_compat_backend)
{
	need_devset("edu", "edu-groups2");
	if (!lab.iommufd_kernel)
		cr_skip_test("the legacy kernel has no iommufd");
	attach_use_detach(VFIO_BACKEND_IOMMUFD_COMPAT);
}

Test(vfio_lab, iommufd_cdev_backend)
{
	need_devset("edu", "edu-groups2");
	if (!lab.iommufd_kernel)
		cr_skip_test("the legacy kernel has no iommufd");
	attach_use_detach(VFIO_BACKEND_IOMMUFD);
}

Test(vfio_lab, two_groups_one_container)
{
	struct vfio_err err = { 0 };
	struct vfio_device *a, *b;
	struct vfio_ctx *ctx;
	int kvm_fd, vm_fd;

	need_devset("edu-groups2", "edu-group2");
	cr_assert_eq(lab.ndevs, 2);
	vm_open(&kvm_fd, &vm_fd);
	ctx = ctx_new(vfio_sys_linux(), VFIO_BACKEND_CONTAINER, vm_fd);
	cr_assert_eq(vfio_device_attach(ctx, lab.bdf[0], NULL, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(vfio_device_attach(ctx, lab.bdf[1], NULL, &b, &err), 0, "%s", err.msg);
	if (!strcmp(lab.devset, "edu-group2"))
		cr_assert_eq(vfio_device_group_fd(a), vfio_device_group_fd(b), "one group fd");
	else
		cr_assert_neq(vfio_device_group_fd(a), vfio_device_group_fd(b));
	cr_assert_eq(vfio_ctx_group_count(ctx), strcmp(lab.devset, "edu-group2") ? 2 : 1);
	edu_check(a);
	edu_check(b);
	/* The first to go must not take the other's RAM mappings with it. */
	cr_assert_eq(vfio_device_detach(a, &err), 0, "%s", err.msg);
	edu_check(b);
	cr_assert_eq(vfio_device_detach(b, &err), 0, "%s", err.msg);
	cr_assert_eq(vfio_ctx_free(ctx), 0);
	vm_close(kvm_fd, vm_fd);
}

Test(vfio_lab, not_viable_names_the_host_driver)
{
	struct vfio_err err = { 0 };
	struct vfio_device *dev;
	struct vfio_ctx *ctx;

	need_devset("notviable", NULL);
	ctx = ctx_new(vfio_sys_linux(), VFIO_BACKEND_CONTAINER, -1);
	cr_assert_eq(vfio_device_attach(ctx, lab.bdf[0], NULL, &dev, &err), -EPERM, "%s",
		     err.msg);
	cr_assert(strstr(err.msg, "is not viable"), "%s", err.msg);
	cr_assert(strstr(err.msg, "e1000"), "the e1000 and its driver: %s", err.msg);
	cr_assert(strstr(err.msg, "driver_override"), "%s", err.msg);
	cr_log_info("%s", err.msg);
	cr_assert_eq(vfio_ctx_free(ctx), 0);
}

Test(vfio_lab, busy_group_names_the_process)
{
	struct vfio_err err = { 0 };
	struct vfio_device *dev;
	struct vfio_ctx *ctx;
	unsigned int group;
	struct vfio_bdf bdf;
	int pipefd[2], status;
	char path[32], c, want[64];
	pid_t child;

	need_devset("edu", "edu-groups2");
	cr_assert_eq(vfio_bdf_parse(lab.bdf[0], &bdf, NULL), 0);
	cr_assert_eq(vfio_host_device_group(vfio_sys_linux(), &bdf, &group), 0);
	snprintf(path, sizeof(path), "/dev/vfio/%u", group);
	cr_assert_eq(pipe(pipefd), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		int fd = open(path, O_RDWR);

		if (write(pipefd[1], fd >= 0 ? "y" : "n", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(pipefd[0], &c, 1), 1);
	cr_assert_eq(c, 'y', "the child could not open %s", path);
	ctx = ctx_new(vfio_sys_linux(), VFIO_BACKEND_CONTAINER, -1);
	cr_assert_eq(vfio_device_attach(ctx, lab.bdf[0], NULL, &dev, &err), -EBUSY, "%s",
		     err.msg);
	snprintf(want, sizeof(want), "group %u is in use by process %d (", group, (int)child);
	cr_assert(strstr(err.msg, want), "want '%s' in: %s", want, err.msg);
	cr_log_info("%s", err.msg);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	close(pipefd[0]);
	close(pipefd[1]);
	cr_assert_eq(vfio_device_attach(ctx, lab.bdf[0], NULL, &dev, &err), 0, "%s", err.msg);
	cr_assert_eq(vfio_device_detach(dev, NULL), 0);
	cr_assert_eq(vfio_ctx_free(ctx), 0);
}

/* Every call point of an attach fails once on the real kernel. */
static void fault_every_call(enum vfio_backend backend)
{
	struct fault_sys f;
	unsigned long n;
	struct vfio_device *dev;
	struct vfio_err err = { 0 };
	struct vfio_ctx *ctx;
	int kvm_fd, vm_fd;

	fault_sys_init(&f, vfio_sys_linux());
	vm_open(&kvm_fd, &vm_fd);
	ctx = ctx_new(&f.sys, backend, vm_fd);
	cr_assert_eq(vfio_device_attach(ctx, lab.bdf[0], NULL, &dev, &err), 0, "%s", err.msg);
	n = f.calls;
	cr_assert_eq(vfio_device_detach(dev, NULL), 0);
	cr_assert_eq(vfio_ctx_free(ctx), 0);
	vm_close(kvm_fd, vm_fd);

	for (unsigned long i = 1; i <= n; i++) {
		int fds, ret;

		/* A fresh VM each time: its kvm-vfio device outlives a failed attach. */
		vm_open(&kvm_fd, &vm_fd);
		ctx = ctx_new(&f.sys, backend, vm_fd);
		fds = count_fds();
		fault_sys_arm(&f, i, EIO);
		ret = vfio_device_attach(ctx, lab.bdf[0], NULL, &dev, &err);
		fault_sys_disarm(&f);
		if (ret == 0) {
			cr_expect_eq(f.failed.op, FAULT_CLOSE, "call %lu: attach succeeded", i);
		} else {
			cr_expect_neq(err.msg[0], '\0', "call %lu: no explanation", i);
			cr_expect_eq(count_fds(), fds + (vfio_ctx_kvm_fd(ctx) >= 0),
				     "call %lu: fds %d -> %d", i, fds, count_fds());
			ret = vfio_device_attach(ctx, lab.bdf[0], NULL, &dev, &err);
			cr_assert_eq(ret, 0, "call %lu: retry: %s", i, err.msg);
		}
		edu_check(dev);
		cr_assert_eq(vfio_device_detach(dev, NULL), 0);
		cr_assert_eq(vfio_ctx_free(ctx), 0);
		vm_close(kvm_fd, vm_fd);
	}
	cr_log_info("%lu attach call points failed in turn on the real kernel", n);
	fprintf(stderr, "ferry-vfio-lab: %lu attach call points failed in turn\n", n);
}

Test(vfio_lab, fault_injection_container)
{
	need_devset("edu", NULL);
	fault_every_call(VFIO_BACKEND_CONTAINER);
}

Test(vfio_lab, fault_injection_cdev)
{
	need_devset("edu", NULL);
	if (!lab.iommufd_kernel)
		cr_skip_test("the legacy kernel has no iommufd");
	fault_every_call(VFIO_BACKEND_IOMMUFD);
}
