// SPDX-License-Identifier: GPL-2.0-only
/*
 * The passthrough tests' common fixture (pt_fixture.h): the kernel model,
 * the fault injector, a VM and a memory map, set up and checked empty the
 * same way for every test file that attaches devices.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pt_fixture.h"

static int count_eventfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[300], link[64];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		n += !strcmp(link, "anon_inode:[eventfd]");
	}
	closedir(d);
	return n;
}

int pt_fixture_eventfds(const struct pt_fixture *f)
{
	return count_eventfds() - f->base_eventfds;
}

static void ram_setup(struct pt_fixture *f, unsigned int buffers)
{
	struct mem_region r = { .gpa = 0, .size = PT_RAM_SIZE, .fd = -1,
				.flags = MEM_REGION_RAM };

	if (!buffers)
		return;
	/* One buffer more than asked, to align the start to PT_RAM_SIZE. */
	f->ram_mapping_len = (buffers + 1) * PT_RAM_SIZE;
	f->ram_mapping = mmap(NULL, f->ram_mapping_len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(f->ram_mapping, MAP_FAILED);
	f->ram = (uint8_t *)(((uintptr_t)f->ram_mapping + PT_RAM_SIZE - 1) &
			     ~(uintptr_t)(PT_RAM_SIZE - 1));
	r.hva = f->ram;
	cr_assert_eq(mem_map_add(f->map, &r), 0);
}

void pt_fixture_setup(struct pt_fixture *f, const struct pt_fixture_config *c)
{
	memset(f, 0, sizeof(*f));
	f->km = kmodel_new(&c->kernel);
	cr_assert_not_null(f->km);
	for (size_t i = 0; i < c->nr_devs; i++)
		cr_assert_eq(kmodel_add_device(f->km, c->devs[i].bdf, c->devs[i].vendor,
					       c->devs[i].device, c->devs[i].group), 0,
			     "add %s", c->devs[i].bdf);
	for (size_t i = 0; i < c->nr_devs; i++) {
		if (c->devs[i].driver)
			cr_assert_eq(kmodel_bind(f->km, c->devs[i].bdf, c->devs[i].driver), 0,
				     "bind %s to %s", c->devs[i].bdf, c->devs[i].driver);
	}
	f->ms = kmodel_sys(f->km);
	fault_sys_init(&f->fault, f->ms);
	f->kvm_fd = f->ms->open(f->ms, "/dev/kvm", O_RDWR);
	cr_assert_geq(f->kvm_fd, 0);
	f->vm_fd = f->ms->ioctl(f->ms, f->kvm_fd, KVM_CREATE_VM, NULL);
	cr_assert_geq(f->vm_fd, 0);
	f->base_fds = kmodel_live_fds(f->km);
	cr_assert_eq(mem_map_new(&f->map), 0);
	ram_setup(f, c->ram_buffers);
	f->cfg = (struct passthrough_vm_config){
		.sys = fault_sys_table(&f->fault),
		.vm_fd = f->vm_fd,
		.map = f->map,
		.cap_ipc_lock = c->cap_ipc_lock,
		.backend = VFIO_BACKEND_CONTAINER,
		.ops = c->ops,
		.vm = c->vm,
	};
	f->base_eventfds = count_eventfds();
}

void pt_fixture_teardown(struct pt_fixture *f)
{
	passthrough_host_free(f->host);
	f->host = NULL;
	cr_expect_eq(pt_fixture_eventfds(f), 0, "eventfds left open");
	mem_map_free(f->map);
	if (f->ram_mapping)
		munmap(f->ram_mapping, f->ram_mapping_len);
	f->ms->close(f->ms, f->vm_fd);
	f->ms->close(f->ms, f->kvm_fd);
	cr_expect_eq(kmodel_live_fds(f->km), 0, "model fds left open");
	cr_expect_eq(kmodel_pinned_bytes(f->km), 0, "pages left pinned");
	kmodel_free(f->km);
}

void pt_fixture_host_new(struct pt_fixture *f)
{
	int ret = passthrough_host_new(&f->cfg, &f->host, f->err, sizeof(f->err));

	cr_assert_eq(ret, 0, "host_new: %d %s", ret, f->err);
}

int pt_fixture_add(struct pt_fixture *f, const char *spec, struct passthrough_device **dev)
{
	struct passthrough_opts o;

	cr_assert_eq(passthrough_opts_parse(spec, &o, f->err, sizeof(f->err)), 0, "%s: %s", spec,
		     f->err);
	f->err[0] = '\0';
	*dev = NULL;
	return passthrough_device_add(f->host, &o, dev, f->err, sizeof(f->err));
}

struct passthrough_device *pt_fixture_add_ok(struct pt_fixture *f, const char *spec)
{
	struct passthrough_device *dev;
	int ret = pt_fixture_add(f, spec, &dev);

	cr_assert_eq(ret, 0, "add %s: %d %s", spec, ret, f->err);
	return dev;
}
