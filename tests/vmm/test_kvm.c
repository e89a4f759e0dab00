// SPDX-License-Identifier: GPL-2.0-only
/*
 * The KVM side against this machine's /dev/kvm: VM set-up, GSI routes and
 * irqfds, a real-mode program through the vCPU loop and the bus, the kick,
 * and the machine's start/pause/resume/stop leaving no thread or fd behind.
 * Skipped where /dev/kvm is absent.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memory/memory.h"
#include "vmm/boot.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/vcpu.h"
#include "vmm/vmm.h"

static void need_kvm(void)
{
	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("/dev/kvm is not available here");
}

struct access_log {
	struct {
		enum vmm_bus_space space;
		uint64_t addr;
		uint64_t val;
		unsigned int len;
		bool write;
	} e[16];
	int n;
	uint64_t space_base;
	enum vmm_bus_space space;
};

static void log_add(struct access_log *l, uint64_t off, uint64_t val, unsigned int len,
		    bool write)
{
	cr_assert_lt(l->n, 16);
	l->e[l->n].space = l->space;
	l->e[l->n].addr = l->space_base + off;
	l->e[l->n].val = val;
	l->e[l->n].len = len;
	l->e[l->n].write = write;
	l->n++;
}

/* Both spaces share one log; each registration gets its own context. */
struct dev {
	struct access_log *log;
	enum vmm_bus_space space;
	uint64_t base;
	uint8_t read_value;
};

static void dev_read(void *opaque, uint64_t off, void *data, unsigned int len)
{
	struct dev *d = opaque;

	memset(data, d->read_value, len);
	d->log->space = d->space;
	d->log->space_base = d->base;
	log_add(d->log, off, d->read_value, len, false);
}

static void dev_write(void *opaque, uint64_t off, const void *data, unsigned int len)
{
	struct dev *d = opaque;
	uint64_t v = 0;

	memcpy(&v, data, len);
	d->log->space = d->space;
	d->log->space_base = d->base;
	log_add(d->log, off, v, len, true);
}

static const struct vmm_bus_ops dev_ops = { dev_read, dev_write };

/* A VM without irqchip and 64 KiB of RAM at 0, so 0x20000 is MMIO. */
struct small_vm {
	struct kvm_vm *vm;
	struct mem_map *map;
	void *ram;
	struct vcpu *vcpu;
};

static void small_vm_new(struct small_vm *s, const uint8_t *code, size_t len)
{
	struct kvm_vm_opts opts = { .irqchip = false };
	char err[256] = "";
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	cr_assert_eq(kvm_vm_new(&opts, &s->vm, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mem_map_new(&s->map), 0);
	cr_assert_eq(kvm_vm_track_memory(s->vm, s->map), 0);
	s->ram = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(s->ram, MAP_FAILED);
	memcpy((uint8_t *)s->ram + 0x1000, code, len);
	struct mem_region r = { .gpa = 0, .size = 0x10000, .hva = s->ram, .fd = -1,
				.flags = MEM_REGION_RAM };

	cr_assert_eq(mem_map_add(s->map, &r), 0);
	cr_assert_eq(vcpu_new(s->vm, 0, 1, &s->vcpu, err, sizeof(err)), 0, "%s", err);

	int fd = vcpu_fd(s->vcpu);

	cr_assert_eq(ioctl(fd, KVM_GET_SREGS, &sregs), 0);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	cr_assert_eq(ioctl(fd, KVM_SET_SREGS, &sregs), 0);
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	cr_assert_eq(ioctl(fd, KVM_SET_REGS, &regs), 0);
}

static void small_vm_free(struct small_vm *s)
{
	vcpu_free(s->vcpu);
	kvm_vm_free(s->vm);
	mem_map_free(s->map);
	munmap(s->ram, 0x10000);
}

Test(kvm, real_mode_program_reaches_the_bus)
{
	static const uint8_t code[] = {
		0xb0, 0x42,				/* mov al, 0x42 */
		0xe6, 0x10,				/* out 0x10, al */
		0x66, 0xb8, 0x78, 0x56, 0x34, 0x12,	/* mov eax, 0x12345678 */
		0xba, 0x00, 0x05,			/* mov dx, 0x500 */
		0x66, 0xef,				/* out dx, eax */
		0xb8, 0x00, 0x20,			/* mov ax, 0x2000 */
		0x8e, 0xd8,				/* mov ds, ax */
		0xc6, 0x06, 0x10, 0x00, 0x99,		/* mov byte [0x10], 0x99 */
		0xa0, 0x20, 0x00,			/* mov al, [0x20] */
		0xe6, 0x11,				/* out 0x11, al */
		0xf4,					/* hlt */
	};
	struct access_log log = { 0 };
	struct dev pio = { &log, VMM_BUS_PIO, 0x10, 0 }, pio2 = { &log, VMM_BUS_PIO, 0x500, 0 };
	struct dev mmio = { &log, VMM_BUS_MMIO, 0x20000, 0x5a };
	struct small_vm s;
	struct vmm_bus *bus;

	need_kvm();
	bus = vmm_bus_new();
	cr_assert_not_null(bus);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x10, 2, &dev_ops, &pio), 0);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_PIO, 0x500, 4, &dev_ops, &pio2), 0);
	cr_assert_eq(vmm_bus_register(bus, VMM_BUS_MMIO, 0x20000, 0x1000, &dev_ops, &mmio), 0);
	small_vm_new(&s, code, sizeof(code));
	vcpu_thread_init(s.vcpu);

	cr_assert_eq(vcpu_run(s.vcpu, bus), VCPU_EXIT_HLT);
	cr_assert_eq(log.n, 5);
	cr_assert(log.e[0].write && log.e[0].space == VMM_BUS_PIO && log.e[0].addr == 0x10 &&
		  log.e[0].val == 0x42 && log.e[0].len == 1);
	cr_assert(log.e[1].write && log.e[1].addr == 0x500 && log.e[1].val == 0x12345678 &&
		  log.e[1].len == 4);
	cr_assert(log.e[2].write && log.e[2].space == VMM_BUS_MMIO &&
		  log.e[2].addr == 0x20010 && log.e[2].val == 0x99);
	cr_assert(!log.e[3].write && log.e[3].space == VMM_BUS_MMIO && log.e[3].addr == 0x20020);
	/* The value the device returned reached the guest's AL. */
	cr_assert(log.e[4].write && log.e[4].addr == 0x11 && log.e[4].val == 0x5a);

	small_vm_free(&s);
	vmm_bus_free(bus);
}

struct spin {
	struct vcpu *vcpu;
	struct vmm_bus *bus;
	enum vcpu_exit exit;
	volatile bool started;
};

static void *spin_thread(void *arg)
{
	struct spin *sp = arg;

	vcpu_thread_init(sp->vcpu);
	sp->started = true;
	sp->exit = vcpu_run(sp->vcpu, sp->bus);
	return NULL;
}

Test(kvm, kick_interrupts_a_spinning_vcpu)
{
	static const uint8_t code[] = { 0xeb, 0xfe };	/* jmp $ */
	struct small_vm s;
	struct spin sp = { 0 };
	pthread_t t;
	sigset_t set;

	need_kvm();
	/* Like ferry's main thread: the signal is blocked everywhere but vCPU threads. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	cr_assert_eq(vcpu_signal_init(), 0);
	small_vm_new(&s, code, sizeof(code));
	sp.vcpu = s.vcpu;
	sp.bus = vmm_bus_new();
	sp.exit = VCPU_EXIT_ERROR;
	cr_assert_eq(pthread_create(&t, NULL, spin_thread, &sp), 0);
	while (!sp.started)
		usleep(1000);
	usleep(50000);
	cr_assert_eq(pthread_kill(t, VCPU_KICK_SIGNAL), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(sp.exit, VCPU_EXIT_KICKED);
	small_vm_free(&s);
	vmm_bus_free(sp.bus);
}

Test(kvm, missing_device_is_explained)
{
	struct kvm_vm_opts opts = { .dev_path = "/nonexistent/kvm", .irqchip = true };
	struct kvm_vm *vm;
	char err[256] = "";

	cr_assert_eq(kvm_vm_new(&opts, &vm, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/kvm does not exist"), "%s", err);
	cr_assert(strstr(err, "kvm-intel"), "%s", err);
}

Test(kvm, irqchip_vm_routes_msi_and_irqfds)
{
	struct kvm_vm_opts opts = { .irqchip = true };
	struct kvm_vm *vm;
	struct vcpu *v;
	char err[256] = "";
	uint32_t g1, g2;
	int efd, rfd;

	need_kvm();
	cr_assert_eq(kvm_vm_new(&opts, &vm, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(kvm_gsi_alloc_msi(vm, 0xfee00000, 0x4041, &g1), 0);
	cr_assert_eq(kvm_gsi_alloc_msi(vm, 0xfee01000, 0x4042, &g2), 0);
	cr_assert_geq(g1, KVM_GSI_LEGACY_COUNT);
	cr_assert_neq(g1, g2);
	cr_assert_eq(kvm_gsi_update_msi(vm, g1, 0xfee00000, 0x4051), 0);

	efd = eventfd(0, EFD_CLOEXEC);
	rfd = eventfd(0, EFD_CLOEXEC);
	cr_assert_eq(kvm_irqfd_assign(vm, efd, g1, -1), 0);
	/* An update keeps the GSI, so the irqfd stays bound. */
	cr_assert_eq(kvm_gsi_update_msi(vm, g1, 0xfee02000, 0x4052), 0);
	cr_assert_eq(kvm_irqfd_deassign(vm, efd, g1), 0);
	/* INTx style: level GSI with a resample fd. */
	cr_assert_eq(kvm_irqfd_assign(vm, efd, 10, rfd), 0);
	cr_assert_eq(kvm_irqfd_deassign(vm, efd, 10), 0);

	cr_assert_eq(kvm_gsi_free(vm, g1), 0);
	cr_assert_eq(kvm_gsi_free(vm, g1), -ENOENT);
	cr_assert_eq(kvm_gsi_update_msi(vm, g1, 0, 0), -ENOENT);
	cr_assert_eq(kvm_gsi_free(vm, 4), -ENOENT);	/* legacy GSIs are not the caller's */
	/* A freed GSI is reused. */
	cr_assert_eq(kvm_gsi_alloc_msi(vm, 0xfee00000, 0x4060, &g1), 0);
	cr_assert_eq(g1, KVM_GSI_LEGACY_COUNT);

	cr_assert_eq(kvm_vm_irq_line(vm, 4, true), 0);
	cr_assert_eq(kvm_vm_irq_line(vm, 4, false), 0);

	/* A vCPU with LAPIC set-up accepts the 64-bit boot state. */
	struct boot_cpu_state st = {
		.rip = 0x1000200, .rsi = BOOT_ZERO_PAGE_ADDR, .rsp = BOOT_STACK_TOP,
		.cr0 = 0x80000031, .cr3 = BOOT_PML4_ADDR, .cr4 = 0x20, .efer = 0x500,
		.gdt_base = BOOT_GDT_ADDR, .gdt_limit = 31, .cs = 0x10, .ds = 0x18,
	};
	struct kvm_sregs sregs;
	struct kvm_lapic_state lapic;
	uint32_t lvt0;

	cr_assert_eq(vcpu_new(vm, 0, 2, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vcpu_set_boot_state(v, &st), 0);
	cr_assert_eq(ioctl(vcpu_fd(v), KVM_GET_SREGS, &sregs), 0);
	cr_assert_eq(sregs.efer & 0x500, 0x500);
	cr_assert_eq(sregs.cs.l, 1);
	cr_assert_eq(ioctl(vcpu_fd(v), KVM_GET_LAPIC, &lapic), 0);
	memcpy(&lvt0, &lapic.regs[0x350], 4);
	cr_assert_eq((lvt0 >> 8) & 7, 7, "BSP LINT0 is ExtINT");

	/* MTRRdefType is write-back and enabled (BRIEF section 3). */
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} m = { .hdr.nmsrs = 1, .e[0].index = 0x2ff };

	cr_assert_eq(ioctl(vcpu_fd(v), KVM_GET_MSRS, &m), 1);
	cr_assert_eq(m.e[0].data, 0xc06);

	vcpu_free(v);
	close(efd);
	close(rfd);
	kvm_vm_free(vm);
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Threads of this process whose name starts with @prefix. */
static int count_threads(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, prefix, strlen(prefix)))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

static char *fake_kernel_file(void)
{
	static uint8_t p[64 * 1024];
	char *path = strdup("/tmp/ferry-kvm-XXXXXX");
	int fd;

	p[0x1f1] = 4;
	p[0x201] = 0x6a;
	memcpy(p + 0x202, "HdrS", 4);
	p[0x206] = 0x0f;
	p[0x207] = 0x02;
	p[0x211] = 1;				/* LOADED_HIGH */
	p[0x234] = 1;				/* relocatable */
	p[0x236] = 1;				/* XLF_KERNEL_64 */
	p[0x238] = 0xff;			/* cmdline_size 255 */
	p[0x25b] = 0x01;			/* pref_address 16 MiB */
	p[0x262] = 0x10;			/* init_size 1 MiB */
	p[5 * 512 + 0x200] = 0xeb;		/* startup_64: jmp $ */
	p[5 * 512 + 0x201] = 0xfe;
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, sizeof(p)), (ssize_t)sizeof(p));
	close(fd);
	return path;
}

Test(kvm, machine_lifecycle_leaves_nothing_behind)
{
	struct vmm *vmm;
	char err[512] = "";
	int fds;

	need_kvm();
	char *kernel = fake_kernel_file();
	struct vmm_config cfg = { .ram_size = 64ULL << 20, .nr_vcpus = 2, .kernel = kernel,
				  .serial = VMM_SERIAL_NONE };

	fds = count_dir("/proc/self/fd");
	cr_assert_eq(vmm_new(&cfg, &vmm, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vmm_get_state(vmm), VMM_STATE_CREATED);
	cr_assert_eq(vmm_start(vmm, err, sizeof(err)), 0, "%s", err);
	/* One thread per vCPU, named for ps -L; they may already have failed and gone. */
	cr_assert_leq(count_threads("ferry-vcpu"), 2);
	int p = vmm_pause(vmm);

	/* This host's paravirtual KVM may refuse long mode; then the vCPU stopped the machine. */
	if (p == 0) {
		cr_assert_eq(vmm_get_state(vmm), VMM_STATE_PAUSED);
		cr_assert_eq(vmm_resume(vmm), 0);
		cr_assert_eq(vmm_get_state(vmm), VMM_STATE_RUNNING);
		vmm_request_stop(vmm, VMM_STOP_HOST);
		cr_assert_eq(vmm_wait(vmm), VMM_STOP_HOST);
	} else {
		cr_assert_eq(p, -ESHUTDOWN);
		cr_assert_eq(vmm_wait(vmm), VMM_STOP_ERROR);
	}
	cr_assert_eq(vmm_get_state(vmm), VMM_STATE_STOPPED);
	cr_assert_eq(vmm_resume(vmm), -ESHUTDOWN);
	vmm_free(vmm);
	cr_assert_eq(count_threads("ferry-vcpu"), 0);
	cr_assert_eq(count_dir("/proc/self/fd"), fds);
	unlink(kernel);
	free(kernel);
}

Test(kvm, machine_errors_leave_nothing_behind)
{
	struct vmm *vmm;
	char err[512] = "";
	int fds = count_dir("/proc/self/fd");
	struct vmm_config nokernel = { .ram_size = 64ULL << 20, .nr_vcpus = 1 };
	struct vmm_config badkernel = { .ram_size = 64ULL << 20, .nr_vcpus = 1,
					.kernel = "/etc/hostname", .serial = VMM_SERIAL_NONE };
	struct vmm_device_config dev = { .spec = "vfio-pci,host=0000:01:00.0" };
	struct vmm_config withdev = { .ram_size = 64ULL << 20, .nr_vcpus = 1, .kernel = "k",
				      .devices = &dev, .nr_devices = 1 };

	cr_assert_eq(vmm_new(&nokernel, &vmm, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "-kernel"), "%s", err);
	if (access("/dev/kvm", R_OK | W_OK) == 0) {
		/* passthrough/ attaches the device: this host has no 01:00.0. */
		cr_assert_lt(vmm_new(&withdev, &vmm, err, sizeof(err)), 0);
		cr_assert(strstr(err, "host=0000:01:00.0"), "%s", err);
		cr_assert_eq(vmm_new(&badkernel, &vmm, err, sizeof(err)), -ENOEXEC);
		cr_assert(strstr(err, "not a bzImage"), "%s", err);
	}
	cr_assert_eq(count_dir("/proc/self/fd"), fds);
}

struct waiter {
	struct vmm *vmm;
	enum vmm_stop_reason reason;
};

struct events {
	int resets, shutdowns;
	enum vmm_stop_reason last;
};

static void count_event(void *opaque, enum vmm_event ev, enum vmm_stop_reason reason,
			const struct vmm_event_device *dev)
{
	struct events *e = opaque;

	if (ev == VMM_EVENT_RESET) {
		__atomic_fetch_add(&e->resets, 1, __ATOMIC_SEQ_CST);
	} else {
		e->last = reason;
		__atomic_fetch_add(&e->shutdowns, 1, __ATOMIC_SEQ_CST);
	}
}

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->reason = vmm_wait(w->vmm);
	return NULL;
}

Test(kvm, reset_boots_again_and_no_reboot_stops)
{
	struct vmm *vmm;
	struct waiter w;
	struct events ev = { 0 };
	pthread_t t;
	char err[512] = "";

	need_kvm();
	char *kernel = fake_kernel_file();
	struct vmm_config cfg = { .ram_size = 64ULL << 20, .nr_vcpus = 2, .kernel = kernel,
				  .serial = VMM_SERIAL_NONE };

	/* The thread in vmm_wait() carries resets out; the machine keeps running. */
	cr_assert_eq(vmm_new(&cfg, &vmm, err, sizeof(err)), 0, "%s", err);
	vmm_set_event_handler(vmm, count_event, &ev);
	cr_assert_eq(vmm_start(vmm, err, sizeof(err)), 0, "%s", err);
	w.vmm = vmm;
	cr_assert_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
	vmm_request_reset(vmm);
	for (int i = 0; i < 500 && vmm_get_reset_count(vmm) < 1; i++)
		usleep(10000);
	if (vmm_get_state(vmm) == VMM_STATE_STOPPED)
		cr_assert_fail("the machine stopped (%s) instead of resetting",
			       vmm_stop_reason_name(vmm_get_stop_reason(vmm)));
	cr_assert_eq(vmm_get_reset_count(vmm), 1);
	cr_assert_eq(vmm_get_state(vmm), VMM_STATE_RUNNING);
	/* It still pauses: every vCPU came back from the reset. */
	cr_assert_eq(vmm_pause(vmm), 0);
	cr_assert_eq(vmm_resume(vmm), 0);
	vmm_request_stop(vmm, VMM_STOP_HOST);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(w.reason, VMM_STOP_HOST);
	cr_assert_eq(ev.resets, 1);
	cr_assert_eq(ev.shutdowns, 1);
	cr_assert_eq(ev.last, VMM_STOP_HOST);
	vmm_free(vmm);
	cr_assert_eq(ev.shutdowns, 1, "no event once vmm_free() has begun");

	cfg.no_reboot = true;
	memset(&ev, 0, sizeof(ev));
	cr_assert_eq(vmm_new(&cfg, &vmm, err, sizeof(err)), 0, "%s", err);
	vmm_set_event_handler(vmm, count_event, &ev);
	cr_assert_eq(vmm_start(vmm, err, sizeof(err)), 0, "%s", err);
	vmm_request_reset(vmm);
	cr_assert_eq(vmm_wait(vmm), VMM_STOP_RESET);
	cr_assert_eq(vmm_get_reset_count(vmm), 0);
	cr_assert_eq(ev.resets, 0);
	cr_assert_eq(ev.shutdowns, 1);
	cr_assert_eq(ev.last, VMM_STOP_RESET);
	vmm_free(vmm);
	unlink(kernel);
	free(kernel);
}
