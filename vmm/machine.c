// SPDX-License-Identifier: GPL-2.0-only
/*
 * The machine: builds the VM (KVM, RAM, devices, kernel) and runs its
 * vCPU threads.
 *
 * States and threads: vmm->lock guards stop_req, pause_req and the parked /
 * exited counts; vmm->cond is broadcast on every change.  A vCPU thread
 * checks the flags before each KVM_RUN; a requester sets a flag and then
 * kicks every vCPU thread (VCPU_KICK_SIGNAL), which cannot be lost (see
 * vcpu.c).  Stop is final: vmm_free() joins the threads after it.
 *
 * Prelaunch (-S): vmm_start() creates the threads (after the privilege drop,
 * like every thread), and the vCPUs park as for a pause while the state is
 * VMM_STATE_CREATED; the first vmm_resume() lets them into the guest.
 *
 * Reset (guest reboot, triple fault, QMP): the vCPUs park as for a pause,
 * and the thread in vmm_wait() puts the machine back to its boot state
 * (interrupt controllers, vCPUs, ACPI tables, kernel) and lets them run.
 * With no_reboot a reset is a stop instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "memory/memory.h"
#include "passthrough/passthrough.h"
#include "vmm/acpi.h"
#include "vmm/boot.h"
#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/layout.h"
#include "vmm/pci.h"
#include "vmm/pm.h"
#include "vmm/serial.h"
#include "vmm/vcpu.h"

/* The 64-bit PCI MMIO window starts at the first GiB boundary above RAM. */
#define VMM_MMIO64_ALIGN	(1ULL << 30)
#define VMM_MMIO64_SIZE		(32ULL << 30)

/* The APIC ids must fit the xAPIC's 8 bits (no x2APIC/IR set-up here). */
#define VMM_MAX_VCPUS 254
#include "vmm/vmm.h"

void machine_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *vmm_stop_reason_name(enum vmm_stop_reason reason)
{
	switch (reason) {
	case VMM_STOP_NONE:
		return "running";
	case VMM_STOP_POWEROFF:
		return "guest powered off";
	case VMM_STOP_RESET:
		return "guest reset";
	case VMM_STOP_HOST:
		return "stopped by the host";
	case VMM_STOP_ERROR:
		return "vCPU error";
	}
	return "unknown";
}

static int machine_irq_set(void *opaque, uint32_t gsi, bool level)
{
	struct vmm *vmm = opaque;

	return kvm_vm_irq_line(vmm->kvm, gsi, level);
}

static void machine_kick_all(struct vmm *vmm)
{
	for (unsigned int i = 0; i < vmm->nr_cpus; i++) {
		if (vmm->cpus[i].started)
			pthread_kill(vmm->cpus[i].thread, VCPU_KICK_SIGNAL);
	}
}

void vmm_set_event_handler(struct vmm *vmm, vmm_event_fn fn, void *opaque)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->event_fn = fn;
	vmm->event_opaque = opaque;
	pthread_mutex_unlock(&vmm->lock);
}

/* Called with vmm->lock held; returns true when this call made the stop. */
static bool machine_stop_locked(struct vmm *vmm, enum vmm_stop_reason reason)
{
	bool first = !vmm->stop_req;

	if (first) {
		vmm->stop_req = true;
		vmm->reason = reason;
		vmm->state = VMM_STATE_STOPPED;
	}
	pthread_cond_broadcast(&vmm->cond);
	machine_kick_all(vmm);
	return first;
}

/* Snapshot under the lock, call outside it: a handler may call back into the machine. */
static void machine_emit_full(struct vmm *vmm, enum vmm_event ev, enum vmm_stop_reason reason,
			      const struct vmm_event_device *dev)
{
	vmm_event_fn fn;
	void *opaque;

	pthread_mutex_lock(&vmm->lock);
	fn = vmm->event_fn;
	opaque = vmm->event_opaque;
	pthread_mutex_unlock(&vmm->lock);
	if (fn)
		fn(opaque, ev, reason, dev);
}

static void machine_emit(struct vmm *vmm, enum vmm_event ev, enum vmm_stop_reason reason)
{
	machine_emit_full(vmm, ev, reason, NULL);
}

void machine_emit_device(struct vmm *vmm, enum vmm_event ev, const struct vmm_event_device *dev)
{
	machine_emit_full(vmm, ev, VMM_STOP_NONE, dev);
}

/*
 * The stop's maker reports it, then says so: vmm_wait() returns only after
 * that, so its caller (who frees the QMP server next) cannot drop the event.
 */
static void machine_stop_reported(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->stop_reported = true;
	pthread_cond_broadcast(&vmm->cond);
	pthread_mutex_unlock(&vmm->lock);
}

void vmm_request_stop(struct vmm *vmm, enum vmm_stop_reason reason)
{
	bool first;

	pthread_mutex_lock(&vmm->lock);
	first = machine_stop_locked(vmm, reason);
	pthread_mutex_unlock(&vmm->lock);
	if (first) {
		machine_emit(vmm, VMM_EVENT_SHUTDOWN, reason);
		machine_stop_reported(vmm);
	}
}

/* Returns false when the thread must exit. */
static bool machine_vcpu_gate(struct vmm *vmm)
{
	bool go;

	pthread_mutex_lock(&vmm->lock);
	while ((vmm->pause_req || vmm->reset_req || vmm->state == VMM_STATE_CREATED) &&
	       !vmm->stop_req) {
		vmm->nr_parked++;
		pthread_cond_broadcast(&vmm->cond);
		pthread_cond_wait(&vmm->cond, &vmm->lock);
		vmm->nr_parked--;
	}
	go = !vmm->stop_req;
	pthread_mutex_unlock(&vmm->lock);
	return go;
}

static void *machine_vcpu_thread(void *arg)
{
	struct vmm_cpu *cpu = arg;
	struct vmm *vmm = cpu->vmm;
	unsigned int id = vcpu_id(cpu->vcpu);

	char name[16];

	/* Named so that ps -L / top -H tell the vCPUs apart. */
	snprintf(name, sizeof(name), "ferry-vcpu%u", id);
	pthread_setname_np(pthread_self(), name);
	vcpu_thread_init(cpu->vcpu);
	while (machine_vcpu_gate(vmm)) {
		switch (vcpu_run(cpu->vcpu, vmm->bus)) {
		case VCPU_EXIT_KICKED:
			break;
		case VCPU_EXIT_HLT:
			/* Only without an in-kernel LAPIC: nothing can wake this vCPU. */
			fprintf(stderr, "ferry: vCPU %u halted with no interrupt controller\n",
				id);
			vmm_request_stop(vmm, VMM_STOP_ERROR);
			break;
		case VCPU_EXIT_SHUTDOWN:
			fprintf(stderr, "ferry: vCPU %u: triple fault: the machine resets\n",
				id);
			vmm_request_reset(vmm);
			break;
		case VCPU_EXIT_POWEROFF:
			vmm_request_stop(vmm, VMM_STOP_POWEROFF);
			break;
		case VCPU_EXIT_RESET:
			vmm_request_reset(vmm);
			break;
		case VCPU_EXIT_ERROR:
			vmm_request_stop(vmm, VMM_STOP_ERROR);
			break;
		}
	}
	pthread_mutex_lock(&vmm->lock);
	vmm->nr_exited++;
	pthread_cond_broadcast(&vmm->cond);
	pthread_mutex_unlock(&vmm->lock);
	return NULL;
}

/*
 * A regular file or /dev/null on stdin cannot be polled (epoll says EPERM);
 * the guest then simply gets no input.
 */
static bool machine_fd_pollable(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	bool ok;

	if (ep < 0)
		return false;
	ok = !epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	close(ep);
	return ok;
}

static int machine_serial(struct vmm *vmm, char *err, size_t errlen)
{
	struct serial_config sc = {
		.bus = vmm->bus,
		.base = LAYOUT_COM1_PORT,
		.irq = { .set = machine_irq_set, .opaque = vmm, .gsi = LAYOUT_COM1_GSI },
		.out_fd = -1,
		.in_fd = -1,
		.loop = vmm->loop,
	};
	int ret;

	switch (vmm->cfg.serial) {
	case VMM_SERIAL_STDIO:
		sc.out_fd = STDOUT_FILENO;
		sc.in_fd = machine_fd_pollable(STDIN_FILENO) ? STDIN_FILENO : -1;
		break;
	case VMM_SERIAL_NONE:
		break;
	case VMM_SERIAL_FILE:
		vmm->serial_out_fd = open(vmm->cfg.serial_path,
					  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (vmm->serial_out_fd < 0) {
			ret = -errno;
			machine_err(err, errlen, "-serial file:%s: %s", vmm->cfg.serial_path,
				strerror(-ret));
			return ret;
		}
		sc.out_fd = vmm->serial_out_fd;
		break;
	}
	ret = serial_new(&sc, &vmm->serial);
	if (ret)
		machine_err(err, errlen, "cannot create the serial port: %s", strerror(-ret));
	return ret;
}

/* Runs on a vCPU thread inside a port access: only records the request. */
static void machine_pm_request(void *opaque, enum pm_request req)
{
	struct vmm *vmm = opaque;

	if (req == PM_REQUEST_POWEROFF)
		vmm_request_stop(vmm, VMM_STOP_POWEROFF);
	else
		vmm_request_reset(vmm);
}

static int machine_chipset(struct vmm *vmm, char *err, size_t errlen)
{
	struct pm_config pmc = {
		.bus = vmm->bus,
		.sci = { .set = machine_irq_set, .opaque = vmm, .gsi = PM_SCI_GSI },
		.request = machine_pm_request,
		.opaque = vmm,
	};
	int ret;

	ret = pm_new(&pmc, &vmm->pm);
	if (ret) {
		machine_err(err, errlen, "cannot create the power-management device: %s",
			strerror(-ret));
		return ret;
	}
	struct pci_host_config pcc = {
		.bus = vmm->bus,
		.ecam_base = LAYOUT_PCI_ECAM_START,
		.ecam_buses = (unsigned int)(LAYOUT_PCI_ECAM_SIZE >> 20),
		.rcr_read = pm_rcr_read,
		.rcr_write = pm_rcr_write,
		.rcr_opaque = vmm->pm,
	};

	ret = pci_host_new(&pcc, &vmm->pci);
	if (ret)
		machine_err(err, errlen, "cannot create the PCI host bridge: %s", strerror(-ret));
	return ret;
}

/* Writes the ACPI tables into their reserved area; returns the RSDP's address. */
static int machine_acpi(struct vmm *vmm, uint64_t *rsdp, char *err, size_t errlen)
{
	uint64_t top = mem_ram_high_end(vmm->ram);
	struct acpi_config ac = {
		.ncpus = vmm->cfg.nr_vcpus,
		.mmio64_size = VMM_MMIO64_SIZE,
		.hotplug_port = LAYOUT_HOTPLUG_PORT,
	};
	void *dst = mem_map_gpa_to_hva(vmm->map, LAYOUT_ACPI_START, LAYOUT_ACPI_SIZE);
	int ret;

	if (top < MEM_HIGH_RAM_BASE)
		top = MEM_HIGH_RAM_BASE;
	ac.mmio64_base = (top + VMM_MMIO64_ALIGN - 1) & ~(VMM_MMIO64_ALIGN - 1);
	if (!dst)
		return -EFAULT;
	ret = acpi_build_tables(&ac, dst, LAYOUT_ACPI_START, LAYOUT_ACPI_SIZE, rsdp);
	if (ret)
		machine_err(err, errlen, "cannot build the ACPI tables: %s", strerror(-ret));
	return ret;
}

/* Writes the ACPI tables and the kernel into guest RAM: at creation and at each reset. */
static int machine_load(struct vmm *vmm, struct boot_cpu_state *boot, char *err, size_t errlen)
{
	int ret = machine_acpi(vmm, &vmm->boot.rsdp, err, errlen);

	if (ret)
		return ret;
	return boot_load(vmm->map, &vmm->boot_ram, &vmm->boot, boot, err, errlen);
}

/* Runs with every vCPU parked outside KVM_RUN. */
static int machine_reset(struct vmm *vmm)
{
	struct boot_cpu_state boot;
	char err[512];
	int ret;

	/* Unplugs the old guest was asked for and never answered are done now. */
	machine_hotplug_reset(vmm);
	/*
	 * Passthrough devices back to power-on (their interrupts off, BARs out),
	 * under dev_lock: a QMP device_add or an eject must not change the
	 * host's device list while it is walked.
	 */
	pthread_mutex_lock(&vmm->dev_lock);
	if (vmm->pt)
		passthrough_host_reset(vmm->pt);
	pthread_mutex_unlock(&vmm->dev_lock);
	ret = kvm_vm_reset_irqchip(vmm->kvm);
	if (ret) {
		fprintf(stderr, "ferry: reset: cannot reset the interrupt controllers: %s\n",
			strerror(-ret));
		return ret;
	}
	for (unsigned int i = 0; i < vmm->nr_cpus; i++) {
		ret = vcpu_reset(vmm->cpus[i].vcpu);
		if (ret) {
			fprintf(stderr, "ferry: reset: cannot reset vCPU %u: %s\n", i,
				strerror(-ret));
			return ret;
		}
	}
	/* The files are read again: a kernel replaced on disk boots at the next reset. */
	ret = machine_load(vmm, &boot, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "ferry: reset: %s\n", err);
		return ret;
	}
	ret = vcpu_set_boot_state(vmm->cpus[0].vcpu, &boot);
	if (ret)
		fprintf(stderr, "ferry: reset: cannot set the boot CPU's registers: %s\n",
			strerror(-ret));
	return ret;
}

static int machine_check(const struct vmm_config *cfg, char *err, size_t errlen)
{
	if (!cfg->kernel) {
		machine_err(err, errlen, "no kernel to boot: give a bzImage with -kernel PATH");
		return -EINVAL;
	}
	if (!cfg->nr_vcpus || cfg->nr_vcpus > VMM_MAX_VCPUS) {
		machine_err(err, errlen, "-smp %u is out of range (1 to %u)", cfg->nr_vcpus,
			VMM_MAX_VCPUS);
		return -EINVAL;
	}
	return 0;
}

static int machine_cpus(struct vmm *vmm, const struct boot_cpu_state *boot, char *err,
			size_t errlen)
{
	int ret;

	vmm->cpus = calloc(vmm->cfg.nr_vcpus, sizeof(*vmm->cpus));
	if (!vmm->cpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vmm->cfg.nr_vcpus; i++) {
		ret = vcpu_new(vmm->kvm, i, vmm->cfg.nr_vcpus, &vmm->cpus[i].vcpu, err, errlen);
		if (ret)
			return ret;
		vmm->cpus[i].vmm = vmm;
		vmm->nr_cpus++;
	}
	/* APs wait in the in-kernel LAPIC for INIT/SIPI from the BSP. */
	ret = vcpu_set_boot_state(vmm->cpus[0].vcpu, boot);
	if (ret)
		machine_err(err, errlen, "cannot set the boot CPU's registers: %s", strerror(-ret));
	return ret;
}

int vmm_new(const struct vmm_config *cfg, struct vmm **out, char *err, size_t errlen)
{
	struct kvm_vm_opts kopts = { .irqchip = true };
	struct mem_ram_opts ropts = { .size = cfg->ram_size, .mem_path = cfg->mem_path,
				      .thp = true };

	struct boot_cpu_state boot;
	struct vmm *vmm;
	int ret;

	ret = machine_check(cfg, err, errlen);
	if (ret)
		return ret;
	vmm = calloc(1, sizeof(*vmm));
	if (!vmm)
		return -ENOMEM;
	vmm->cfg = *cfg;
	vmm->serial_out_fd = -1;
	vmm->state = VMM_STATE_CREATED;
	pthread_mutex_init(&vmm->lock, NULL);
	pthread_cond_init(&vmm->cond, NULL);
	pthread_mutex_init(&vmm->dev_lock, NULL);
	pthread_mutex_init(&vmm->defer_lock, NULL);
	pthread_cond_init(&vmm->defer_cond, NULL);

	ret = mem_map_new(&vmm->map);
	if (ret)
		goto err_free;
	ret = kvm_vm_new(&kopts, &vmm->kvm, err, errlen);
	if (ret)
		goto err_free;
	if (cfg->nr_vcpus > kvm_vm_max_vcpus(vmm->kvm)) {
		machine_err(err, errlen, "-smp %u: this host's KVM allows at most %u vCPUs",
			cfg->nr_vcpus, kvm_vm_max_vcpus(vmm->kvm));
		ret = -EINVAL;
		goto err_free;
	}
	ret = kvm_vm_track_memory(vmm->kvm, vmm->map);
	if (ret) {
		machine_err(err, errlen, "cannot give guest memory to KVM: %s", strerror(-ret));
		goto err_free;
	}
	ret = mem_ram_new(vmm->map, &ropts, &vmm->ram, err, errlen);
	if (ret)
		goto err_free;

	ret = -ENOMEM;
	vmm->bus = vmm_bus_new();
	if (!vmm->bus)
		goto err_free;
	ret = vmm_loop_new(&vmm->loop);
	if (ret) {
		machine_err(err, errlen, "cannot create the event loop: %s", strerror(-ret));
		goto err_free;
	}
	ret = machine_serial(vmm, err, errlen);
	if (ret)
		goto err_free;
	ret = machine_chipset(vmm, err, errlen);
	if (ret)
		goto err_free;
	ret = machine_hotplug_new(vmm, err, errlen);
	if (ret)
		goto err_free;
	ret = machine_pt_attach_all(vmm, err, errlen);
	if (ret)
		goto err_free;

	vmm->boot = (struct boot_config){ .kernel = cfg->kernel, .initrd = cfg->initrd,
					  .cmdline = cfg->cmdline };
	vmm->boot_ram.low_top = mem_ram_low_top(vmm->ram);
	vmm->boot_ram.high_end = mem_ram_high_end(vmm->ram);
	ret = machine_load(vmm, &boot, err, errlen);
	if (ret)
		goto err_free;
	ret = machine_cpus(vmm, &boot, err, errlen);
	if (ret)
		goto err_free;
	*out = vmm;
	return 0;

err_free:
	vmm_free(vmm);
	return ret;
}

int vmm_start(struct vmm *vmm, char *err, size_t errlen)
{
	int ret;

	if (vmm->started || vmm->state != VMM_STATE_CREATED)
		return -EBUSY;
	ret = vcpu_signal_init();
	if (ret) {
		machine_err(err, errlen, "cannot install the vCPU kick handler: %s", strerror(-ret));
		return ret;
	}
	ret = vmm_loop_start(vmm->loop);
	if (ret) {
		machine_err(err, errlen, "cannot start the event loop: %s", strerror(-ret));
		return ret;
	}
	vmm->loop_started = true;

	pthread_mutex_lock(&vmm->lock);
	vmm->started = true;
	if (!vmm->cfg.prelaunch)
		vmm->state = VMM_STATE_RUNNING;
	for (unsigned int i = 0; i < vmm->nr_cpus; i++) {
		ret = -pthread_create(&vmm->cpus[i].thread, NULL, machine_vcpu_thread,
				      &vmm->cpus[i]);
		if (ret) {
			machine_err(err, errlen, "cannot start the thread of vCPU %u: %s", i,
				strerror(-ret));
			break;
		}
		vmm->cpus[i].started = true;
	}
	pthread_mutex_unlock(&vmm->lock);
	/* The threads already started are stopped and joined by vmm_free(). */
	if (ret)
		vmm_request_stop(vmm, VMM_STOP_ERROR);
	return ret;
}

enum vmm_stop_reason vmm_wait(struct vmm *vmm)
{
	enum vmm_stop_reason reason;
	int ret;

	pthread_mutex_lock(&vmm->lock);
	for (;;) {
		while (!vmm->stop_req && !vmm->reset_req)
			pthread_cond_wait(&vmm->cond, &vmm->lock);
		while (!vmm->stop_req && vmm->nr_parked + vmm->nr_exited < vmm->nr_cpus)
			pthread_cond_wait(&vmm->cond, &vmm->lock);
		if (vmm->stop_req)
			break;
		pthread_mutex_unlock(&vmm->lock);
		ret = machine_reset(vmm);
		pthread_mutex_lock(&vmm->lock);
		if (ret) {
			if (machine_stop_locked(vmm, VMM_STOP_ERROR)) {
				pthread_mutex_unlock(&vmm->lock);
				machine_emit(vmm, VMM_EVENT_SHUTDOWN, VMM_STOP_ERROR);
				pthread_mutex_lock(&vmm->lock);
				vmm->stop_reported = true;
			}
			break;
		}
		vmm->reset_req = false;
		vmm->nr_resets++;
		pthread_cond_broadcast(&vmm->cond);
		pthread_mutex_unlock(&vmm->lock);
		machine_emit(vmm, VMM_EVENT_RESET, VMM_STOP_NONE);
		pthread_mutex_lock(&vmm->lock);
	}
	while (!vmm->stop_reported)
		pthread_cond_wait(&vmm->cond, &vmm->lock);
	reason = vmm->reason;
	pthread_mutex_unlock(&vmm->lock);
	return reason;
}

int vmm_pause(struct vmm *vmm)
{
	int ret = 0;

	pthread_mutex_lock(&vmm->lock);
	if (vmm->state == VMM_STATE_STOPPED) {
		ret = -ESHUTDOWN;
	} else if (vmm->state == VMM_STATE_RUNNING) {
		vmm->pause_req = true;
		machine_kick_all(vmm);
		while (!vmm->stop_req && vmm->nr_parked + vmm->nr_exited < vmm->nr_cpus)
			pthread_cond_wait(&vmm->cond, &vmm->lock);
		if (vmm->stop_req)
			ret = -ESHUTDOWN;
		else
			vmm->state = VMM_STATE_PAUSED;
	} else if (vmm->state == VMM_STATE_CREATED) {
		ret = -EAGAIN;
	}
	pthread_mutex_unlock(&vmm->lock);
	return ret;
}

/*
 * dev_lock first: device_add and device_del decide under it whether the
 * guest has started (a device added before is cold-plugged), so the first
 * start cannot slip in between that decision and the device's placement.
 */
int vmm_resume(struct vmm *vmm)
{
	int ret = 0;

	pthread_mutex_lock(&vmm->dev_lock);
	pthread_mutex_lock(&vmm->lock);
	if (vmm->state == VMM_STATE_PAUSED ||
	    (vmm->state == VMM_STATE_CREATED && vmm->started)) {
		vmm->pause_req = false;
		vmm->state = VMM_STATE_RUNNING;
		pthread_cond_broadcast(&vmm->cond);
	} else if (vmm->state != VMM_STATE_RUNNING) {
		ret = vmm->state == VMM_STATE_STOPPED ? -ESHUTDOWN : -EAGAIN;
	}
	pthread_mutex_unlock(&vmm->lock);
	pthread_mutex_unlock(&vmm->dev_lock);
	return ret;
}

int vmm_request_powerdown(struct vmm *vmm)
{
	if (vmm_get_state(vmm) != VMM_STATE_RUNNING)
		return -EAGAIN;
	pm_press_power_button(vmm->pm);
	return 0;
}

void vmm_request_reset(struct vmm *vmm)
{
	if (vmm->cfg.no_reboot) {
		vmm_request_stop(vmm, VMM_STOP_RESET);
		return;
	}
	pthread_mutex_lock(&vmm->lock);
	/* In prelaunch too: the vCPU threads park, the vmm_wait() thread resets. */
	if (!vmm->stop_req && vmm->started) {
		vmm->reset_req = true;
		pthread_cond_broadcast(&vmm->cond);
		machine_kick_all(vmm);
	}
	pthread_mutex_unlock(&vmm->lock);
}

unsigned int vmm_get_reset_count(struct vmm *vmm)
{
	unsigned int n;

	pthread_mutex_lock(&vmm->lock);
	n = vmm->nr_resets;
	pthread_mutex_unlock(&vmm->lock);
	return n;
}

enum vmm_state vmm_get_state(struct vmm *vmm)
{
	enum vmm_state s;

	pthread_mutex_lock(&vmm->lock);
	s = vmm->state;
	pthread_mutex_unlock(&vmm->lock);
	return s;
}

enum vmm_stop_reason vmm_get_stop_reason(struct vmm *vmm)
{
	enum vmm_stop_reason r;

	pthread_mutex_lock(&vmm->lock);
	r = vmm->reason;
	pthread_mutex_unlock(&vmm->lock);
	return r;
}

void vmm_free(struct vmm *vmm)
{
	if (!vmm)
		return;
	/* Whoever set a handler may be going away too: no event from here on. */
	vmm_set_event_handler(vmm, NULL, NULL);
	vmm_request_stop(vmm, VMM_STOP_HOST);
	for (unsigned int i = 0; i < vmm->nr_cpus; i++) {
		if (vmm->cpus[i].started)
			pthread_join(vmm->cpus[i].thread, NULL);
		vmm->cpus[i].started = false;
	}
	/*
	 * Passthrough devices go first (BRIEF rule 4), while the VM, its bus and
	 * RAM still exist; the guest's view of them before the devices.
	 */
	machine_hotplug_free(vmm);
	machine_pt_free(vmm);
	pci_host_free(vmm->pci);
	pm_free(vmm->pm);
	serial_free(vmm->serial);
	if (vmm->loop_started)
		vmm_loop_stop(vmm->loop);
	vmm_loop_free(vmm->loop);
	for (unsigned int i = 0; i < vmm->nr_cpus; i++)
		vcpu_free(vmm->cpus[i].vcpu);
	free(vmm->cpus);
	vmm_bus_free(vmm->bus);
	if (vmm->serial_out_fd >= 0)
		close(vmm->serial_out_fd);
	/* Memslots go before the RAM they point at is unmapped. */
	kvm_vm_free(vmm->kvm);
	mem_ram_free(vmm->ram);
	mem_map_free(vmm->map);
	pthread_cond_destroy(&vmm->defer_cond);
	pthread_mutex_destroy(&vmm->defer_lock);
	pthread_mutex_destroy(&vmm->dev_lock);
	pthread_cond_destroy(&vmm->cond);
	pthread_mutex_destroy(&vmm->lock);
	free(vmm);
}

struct vmm_loop *vmm_get_loop(struct vmm *vmm)
{
	return vmm->loop;
}

struct mem_map *vmm_get_mem_map(struct vmm *vmm)
{
	return vmm->map;
}

int vmm_get_kvm_fd(struct vmm *vmm)
{
	return kvm_vm_fd(vmm->kvm);
}

int vmm_gsi_alloc_msi(struct vmm *vmm, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	return kvm_gsi_alloc_msi(vmm->kvm, addr, data, gsi);
}

int vmm_gsi_update_msi(struct vmm *vmm, uint32_t gsi, uint64_t addr, uint32_t data)
{
	return kvm_gsi_update_msi(vmm->kvm, gsi, addr, data);
}

int vmm_gsi_free(struct vmm *vmm, uint32_t gsi)
{
	return kvm_gsi_free(vmm->kvm, gsi);
}

int vmm_irqfd_assign(struct vmm *vmm, int fd, uint32_t gsi, int resample_fd)
{
	return kvm_irqfd_assign(vmm->kvm, fd, gsi, resample_fd);
}

int vmm_irqfd_deassign(struct vmm *vmm, int fd, uint32_t gsi)
{
	return kvm_irqfd_deassign(vmm->kvm, fd, gsi);
}

int vmm_irq_line(struct vmm *vmm, uint32_t gsi, bool level)
{
	return kvm_vm_irq_line(vmm->kvm, gsi, level);
}
