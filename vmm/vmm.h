/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ - the virtual machine: KVM, vCPUs, event loop, devices, CLI.
 * This is the layer's only public header (used by qmp/ and the tests).
 */
#ifndef FERRY_VMM_H
#define FERRY_VMM_H

#include <stdbool.h>
#include <stdint.h>

/*
 * ---- The event loop ----
 * One epoll loop runs on its own thread.  QMP sockets, eventfds and timers
 * register here.  Rule (BRIEF.md section 2, rule 7): an object is never torn
 * down from inside one of its own callbacks; a callback that decides to
 * destroy its owner defers the destruction with vmm_loop_defer(), which runs
 * after the current dispatch round, outside every callback.
 */
struct vmm_loop;

typedef void (*vmm_loop_fd_fn)(void *opaque, uint32_t epoll_events);
typedef void (*vmm_loop_work_fn)(void *opaque);

int vmm_loop_new(struct vmm_loop **loop);
/* Starts the loop thread. */
int vmm_loop_start(struct vmm_loop *loop);
/* Stops and joins the loop thread; safe to call from any thread but the loop's. */
void vmm_loop_stop(struct vmm_loop *loop);
void vmm_loop_free(struct vmm_loop *loop);

/*
 * May be called from any thread, including from a callback.  After
 * vmm_loop_del_fd() returns, @fn is not running and will not run again for
 * that fd (unless called from @fn itself, which is allowed).
 */
int vmm_loop_add_fd(struct vmm_loop *loop, int fd, uint32_t epoll_events,
		    vmm_loop_fd_fn fn, void *opaque);
int vmm_loop_mod_fd(struct vmm_loop *loop, int fd, uint32_t epoll_events);
int vmm_loop_del_fd(struct vmm_loop *loop, int fd);
int vmm_loop_defer(struct vmm_loop *loop, vmm_loop_work_fn fn, void *opaque);

/*
 * ---- The machine ----
 * A struct vmm is one KVM virtual machine booting a Linux kernel directly:
 * guest RAM, vCPU threads, the event loop and the devices.  QMP drives it
 * through these calls.  Unless stated, they may be called from any thread
 * except a vCPU thread; none may be called from a signal handler.
 */
#include <stddef.h>

struct mem_map;

enum vmm_serial_kind {
	VMM_SERIAL_STDIO,	/* COM1 on stdin/stdout (the default, and -nographic) */
	VMM_SERIAL_NONE,	/* no COM1 output; the port still exists */
	VMM_SERIAL_FILE,	/* COM1 output appended to a file, no input */
};

/*
 * One -device option: its text, already validated by passthrough's parser
 * (passthrough_opts_parse), which the machine runs again to attach it.
 */
struct vmm_device_config {
	const char *spec;
};

/*
 * One -object iommufd,id=ID[,fd=N]: an iommufd (one IOAS) that -device
 * options name with iommufd=ID.
 */
struct vmm_iommufd_config {
	const char *id;
	int fd;				/* fd=N: a pre-opened /dev/iommu, or -1 */
};

struct vmm_config {
	const char *name;		/* NULL: "ferry" */
	uint64_t ram_size;		/* bytes */
	unsigned int nr_vcpus;
	const char *kernel;		/* bzImage path (required) */
	const char *initrd;		/* or NULL */
	const char *cmdline;		/* or NULL */
	const char *mem_path;		/* hugetlbfs directory for RAM, or NULL */
	enum vmm_serial_kind serial;
	const char *serial_path;	/* VMM_SERIAL_FILE only */
	const struct vmm_device_config *devices;
	unsigned int nr_devices;
	bool no_reboot;			/* a guest reset stops the machine (-no-reboot) */
	const struct vmm_iommufd_config *iommufds;	/* -object iommufd, ids unique */
	unsigned int nr_iommufds;
	/* -libvirt-uri: managed=on goes through libvirt's node-device API; NULL: sysfs. */
	const char *libvirt_uri;
	/*
	 * -S: vmm_start() creates every thread, but the vCPUs wait outside
	 * KVM_RUN and the state stays VMM_STATE_CREATED until vmm_resume().
	 */
	bool prelaunch;
};

enum vmm_state {
	/*
	 * Built; no guest instruction has run yet: before vmm_start(), or after
	 * it with cfg->prelaunch until vmm_resume() (QMP's "prelaunch").
	 */
	VMM_STATE_CREATED,
	VMM_STATE_RUNNING,
	VMM_STATE_PAUSED,
	VMM_STATE_STOPPED,	/* a stop was requested; only vmm_free() remains */
};

/* Why the machine stopped. */
enum vmm_stop_reason {
	VMM_STOP_NONE,
	VMM_STOP_POWEROFF,	/* the guest powered off (ACPI S5) */
	VMM_STOP_RESET,		/* the guest (or QMP) reset it, with no_reboot */
	VMM_STOP_HOST,		/* asked by the host: signal, QMP quit */
	VMM_STOP_ERROR,		/* a vCPU failed; the diagnostic went to stderr */
};

struct vmm;

/*
 * Builds the machine and loads the kernel; nothing runs yet.  On failure
 * nothing is left (no thread, no fd) and @err says what is wrong and how to
 * fix it.
 */
int vmm_new(const struct vmm_config *cfg, struct vmm **vmm, char *err, size_t errlen);
/*
 * Starts the event loop and the vCPU threads: every thread ferry will ever
 * have (privileges are dropped before this call, never after).  Without
 * cfg->prelaunch the guest runs at once; with it the vCPU threads wait for
 * vmm_resume().
 */
int vmm_start(struct vmm *vmm, char *err, size_t errlen);
/*
 * Blocks until a stop is requested (by the guest, the host or an error).
 * Resets are carried out by the thread waiting here, so one thread must be.
 */
enum vmm_stop_reason vmm_wait(struct vmm *vmm);
/* Stops every thread (if not yet) and frees everything. */
void vmm_free(struct vmm *vmm);

/*
 * Events for QMP (SHUTDOWN, RESET).  VMM_EVENT_SHUTDOWN comes once, with
 * the reason, from the thread that requested the stop (a vCPU thread for a
 * guest power-off); VMM_EVENT_RESET after each reset, from the vmm_wait()
 * thread.  Called without the machine's lock held; never after vmm_free()
 * has begun.
 */
enum vmm_event {
	VMM_EVENT_SHUTDOWN,
	VMM_EVENT_RESET,
	/*
	 * A device is gone: the guest ejected it (or the machine reset while
	 * its unplug was pending) and its fds are closed, so whoever hears
	 * this can open its group at once.  From the vCPU thread that ejected
	 * it, or the vmm_wait() thread; @dev says which.
	 */
	VMM_EVENT_DEVICE_DELETED,
};
/* Which device, for VMM_EVENT_DEVICE_DELETED (NULL for the other events). */
struct vmm_event_device {
	const char *id;		/* NULL when it had no id */
	/* QOM path: /machine/peripheral/ID, or /machine/peripheral-anon/device[N] */
	const char *path;
};
typedef void (*vmm_event_fn)(void *opaque, enum vmm_event event, enum vmm_stop_reason reason,
			     const struct vmm_event_device *dev);
void vmm_set_event_handler(struct vmm *vmm, vmm_event_fn fn, void *opaque);

/* Requests a stop; vmm_wait() returns.  Also callable from a vCPU thread. */
void vmm_request_stop(struct vmm *vmm, enum vmm_stop_reason reason);
/*
 * Presses the ACPI power button: a guest that handles it powers off, and
 * the machine then stops with VMM_STOP_POWEROFF.  -EAGAIN unless running.
 */
int vmm_request_powerdown(struct vmm *vmm);
/*
 * Resets the machine: the kernel boots again (or, with no_reboot, the
 * machine stops with VMM_STOP_RESET).  Also callable from a vCPU thread.
 * A prelaunch machine is reset too (VMM_EVENT_RESET) and stays prelaunch.
 * Ignored before vmm_start().
 */
void vmm_request_reset(struct vmm *vmm);
/* Resets carried out so far. */
unsigned int vmm_get_reset_count(struct vmm *vmm);
/*
 * Parks every vCPU outside KVM_RUN; returns once all are parked.  -EAGAIN
 * in VMM_STATE_CREATED (nothing runs), -ESHUTDOWN once stopped.
 */
int vmm_pause(struct vmm *vmm);
/*
 * Lets the vCPUs run: from VMM_STATE_PAUSED, or, the first start of a
 * prelaunch machine, from VMM_STATE_CREATED once vmm_start() has run.
 * 0 when already running; -EAGAIN before vmm_start(); -ESHUTDOWN once stopped.
 */
int vmm_resume(struct vmm *vmm);
enum vmm_state vmm_get_state(struct vmm *vmm);
enum vmm_stop_reason vmm_get_stop_reason(struct vmm *vmm);
const char *vmm_stop_reason_name(enum vmm_stop_reason reason);

/*
 * ---- Devices on the guest's PCI bus (QMP device_add / device_del) ----
 * Passthrough devices are hot-plugged through ACPI (docs/vmm.md): the guest's
 * own acpiphp driver finds a new device, and gives one back when asked.
 * From any thread but a vCPU's.
 */
struct vmm_device_prop {
	const char *key;	/* driver, host, sysfsdev, id, addr, bus, ... */
	const char *value;
};

/*
 * Adds a device (-device syntax, one property at a time: driver and host
 * are required) and tells the guest; in VMM_STATE_CREATED nobody is told:
 * the device is simply on the bus when the guest boots, as a -device.  All
 * or nothing: on failure the VM is exactly as before, and @err says why.  @fd: -1, or an fd the caller opened
 * for the device (its group /dev/vfio/N; with iommufd= its cdev), which is
 * how an unprivileged ferry (-run-with user=) still hot-plugs; it is taken
 * over whatever the result (closed on failure).  An "fd" property is
 * refused: fds come as @fd, never as numbers.  -EEXIST: the id is taken (or
 * the slot); -EINVAL: a bad property; else passthrough's errors.
 */
int vmm_device_add(struct vmm *vmm, const struct vmm_device_prop *props, size_t nr_props,
		   int fd, char *err, size_t errlen);
/*
 * Asks the guest to give device @id back (ACPI eject request) and returns:
 * VMM_EVENT_DEVICE_DELETED follows once the guest has ejected it and it is
 * released.  In VMM_STATE_CREATED there is no guest to ask: the device is
 * released at once and the event comes before this returns.  @id may also
 * be its QOM path.  -ENODEV: no such device; -EBUSY: its unplug is already
 * pending.
 */
int vmm_device_del(struct vmm *vmm, const char *id, char *err, size_t errlen);

#define VMM_PCI_BARS 6

struct vmm_pci_bar {
	uint64_t addr;		/* as the guest programmed it (0: not yet) */
	uint64_t size;		/* 0: not implemented */
	bool io, mem64, prefetch;
};

/* One function of the guest's bus 0 as the guest sees it. */
struct vmm_pci_info {
	unsigned int slot, function;
	uint16_t vendor, device, subsystem_vendor, subsystem;
	uint32_t class_code;	/* base class << 16 | subclass << 8 | prog-if */
	uint8_t revision, irq_line, irq_pin;
	bool is_device;		/* a passthrough device (else the host bridge) */
	bool unplug_pending;
	char id[64];		/* "" when none */
	char path[96];		/* QOM path ("" for the host bridge) */
	char driver[16];	/* "vfio-pci", "passthrough"; the bridge: "" */
	char host[16];		/* the host device's address ("" for the bridge) */
	struct vmm_pci_bar bars[VMM_PCI_BARS];
};

/* Every function of bus 0, by slot; *@list is the caller's to free(). */
int vmm_pci_list(struct vmm *vmm, struct vmm_pci_info **list, size_t *nr);

/* What the layers above and beside the machine need to plug in. */
struct vmm_loop *vmm_get_loop(struct vmm *vmm);
struct mem_map *vmm_get_mem_map(struct vmm *vmm);
/* The KVM VM fd (KVM_CREATE_DEVICE for kvm-vfio). */
int vmm_get_kvm_fd(struct vmm *vmm);

/*
 * Interrupt routing for passthrough: MSI routes on GSIs >= 24 (the guest
 * reprograms a vector with vmm_gsi_update_msi(), keeping the GSI and any
 * irqfd bound to it), irqfds (with @resample_fd >= 0: level, for INTx), and
 * legacy lines (GSI 0..23).
 */
int vmm_gsi_alloc_msi(struct vmm *vmm, uint64_t addr, uint32_t data, uint32_t *gsi);
int vmm_gsi_update_msi(struct vmm *vmm, uint32_t gsi, uint64_t addr, uint32_t data);
int vmm_gsi_free(struct vmm *vmm, uint32_t gsi);
int vmm_irqfd_assign(struct vmm *vmm, int fd, uint32_t gsi, int resample_fd);
int vmm_irqfd_deassign(struct vmm *vmm, int fd, uint32_t gsi);
int vmm_irq_line(struct vmm *vmm, uint32_t gsi, bool level);

#endif /* FERRY_VMM_H */
