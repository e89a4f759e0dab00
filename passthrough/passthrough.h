/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * passthrough/ - a host PCI device given to the guest through VFIO.
 * This is the layer's only public header.
 *
 * Two objects:
 *  - struct passthrough_host, one per VM: the VM's vfio_ctx (one container or IOAS
 *    shared by every device) and a memory/ listener that keeps the ctx's DMA
 *    list equal to the guest's RAM (replayed on registration, so RAM is
 *    mapped once per container and a new container is filled at once);
 *  - struct passthrough_device, one per -device: the attached VFIO device.
 *
 * The layer sits below vmm/ and never includes its headers: what it needs
 * from the VM comes in struct passthrough_vm_config (fds, the memory map).
 *
 * Threads: a passthrough_host and its devices are used from one thread at a time
 * (the machine's set-up and teardown, later the event loop).
 */
#ifndef FERRY_PASSTHROUGH_H
#define FERRY_PASSTHROUGH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio/vfio.h"

struct mem_map;

/* ---- -device options ---- */

/* Longest id= accepted (QEMU's ids are short identifiers too). */
#define PASSTHROUGH_ID_MAX	63

/*
 * One passthrough device as asked for on the command line
 * (-device passthrough,host=BDF[,id=ID][,addr=SLOT]; "vfio-pci" is an alias
 * of "passthrough") or by QMP device_add.  Plain data, no allocations.
 */
struct passthrough_opts {
	char host[VFIO_BDF_STRLEN];	/* canonical "0000:01:00.0" */
	char id[PASSTHROUGH_ID_MAX + 1];		/* "" when none was given */
	int slot;			/* guest PCI slot 1..31, or -1: the first free */
	/*
	 * iommufd=ID: the -object iommufd whose IOAS the device uses (the
	 * cdev path, VFIO_BACKEND_IOMMUFD); "" for the VM's container.
	 */
	char iommufd[PASSTHROUGH_ID_MAX + 1];
	/*
	 * x-no-mmap=on (QEMU's name): no BAR is mmap'ed into the guest, every
	 * access is trapped and forwarded (slow; for debugging and for
	 * checking that mmap'ed BARs do not exit).
	 */
	bool no_mmap;
	/*
	 * fd=N, or an fd a QMP client passed (getfd): the device opened by the
	 * caller, who may not have the privilege to open it itself.  With the
	 * VM's container it is the group node /dev/vfio/N of the device's group;
	 * with iommufd= it is the device's cdev /dev/vfio/devices/vfioX.  -1:
	 * ferry opens what it needs.  passthrough_device_add() takes the fd
	 * over, whatever its result: the device closes it when it is removed
	 * (a group fd: when the group's last device goes), a failed add closes
	 * it, and so does an add of a device whose group ferry already holds.
	 */
	int fd;
	/*
	 * managed=on (libvirt's <hostdev managed='yes'>): ferry binds the host
	 * device to vfio-pci before the attach, after libvirt's IOMMU group
	 * check, and gives it back to its original driver once it is removed
	 * (docs/libvirt.md).
	 */
	bool managed;
};

/* Empty options: no host, no id, any slot. */
void passthrough_opts_init(struct passthrough_opts *opts);
/*
 * Sets one property.  Keys: driver (passthrough or vfio-pci), host (a BDF),
 * sysfsdev (/sys/bus/pci/devices/BDF), id, addr (slot[.0], hex as QEMU's:
 * "3", "0x3", "03.0"), bus (only the root bus, "pci.0" or "pcie.0"),
 * iommufd (an -object iommufd id; whether it exists is checked by the
 * caller that knows the objects), x-no-mmap (on/off, true/false, yes/no).
 * -EINVAL with a sentence in @err naming the property and what is accepted.
 */
int passthrough_opts_set(struct passthrough_opts *opts, const char *key, const char *val,
			 char *err, size_t errlen);
/*
 * Parses a whole -device value ("passthrough,host=01:00.0,id=nic0"): the
 * first item may be the bare driver name.  The driver must be given and
 * host (or sysfsdev) too; a key given twice is refused.
 */
int passthrough_opts_parse(const char *spec, struct passthrough_opts *opts, char *err,
			   size_t errlen);

/* ---- The VM side ---- */

enum passthrough_space {
	PASSTHROUGH_PIO,
	PASSTHROUGH_MMIO,
};

/* A BAR of a passthrough device, as the VM's bus sees it (opaque). */
struct passthrough_bar;
struct passthrough_device;

/*
 * What the layer needs from the VM; the VMM implements it (passthrough/
 * never calls up into vmm/ otherwise).  @vm is passthrough_vm_config.vm.
 */
struct passthrough_vm_ops {
	/*
	 * Sends guest accesses to [@base, @base + @len) of @space to
	 * passthrough_bar_access(@bar, offset from @base, ...).  Guest RAM
	 * and memory regions of the map (a BAR's mmap, as a KVM memslot)
	 * take precedence where they overlap.  -EEXIST when the range
	 * overlaps another trap.
	 */
	int (*trap_add)(void *vm, enum passthrough_space space, uint64_t base, uint64_t len,
			struct passthrough_bar *bar);
	int (*trap_del)(void *vm, enum passthrough_space space, uint64_t base);
	/*
	 * Runs @fn(@arg) once the guest access being served has returned and
	 * the VM's bus is unlocked, before the vCPU resumes: how a config
	 * write moves a BAR.  -EPERM when not called from inside a guest
	 * access; the caller then runs @fn itself.
	 */
	int (*defer)(void *vm, void (*fn)(void *arg), void *arg);

	/*
	 * Interrupts (all optional: without them the device delivers none).
	 * An MSI route is a GSI whose raising sends the message (@addr,
	 * @data); update changes the message of a GSI in place, so an irqfd
	 * bound to it stays valid.  Each change reaches KVM before the call
	 * returns.
	 */
	int (*gsi_alloc_msi)(void *vm, uint64_t addr, uint32_t data, uint32_t *gsi);
	int (*gsi_update_msi)(void *vm, uint32_t gsi, uint64_t addr, uint32_t data);
	int (*gsi_free)(void *vm, uint32_t gsi);
	/*
	 * KVM_IRQFD: a write to eventfd @fd raises @gsi.  With @resample_fd
	 * >= 0 the GSI is a level-triggered line that KVM lowers on the
	 * guest's EOI, signalling @resample_fd (INTx).
	 */
	int (*irqfd_assign)(void *vm, int fd, uint32_t gsi, int resample_fd);
	int (*irqfd_deassign)(void *vm, int fd, uint32_t gsi);

	/*
	 * The host asking for a device back (VFIO's request interrupt, see
	 * request.c); all three optional: without them the request is not
	 * registered and an unbind on the host waits until the device is
	 * removed some other way.
	 *
	 * fd_watch runs @fn(@arg, epoll events) on the VM's event loop
	 * whenever @fd is readable (the loop's own callback shape, so a VMM
	 * can hand both straight to its loop); after fd_unwatch returns @fn is not running and will not
	 * run again.  fd_unwatch is called from any thread except the loop's
	 * callbacks of that fd.
	 */
	int (*fd_watch)(void *vm, int fd, void (*fn)(void *arg, uint32_t events), void *arg);
	int (*fd_unwatch)(void *vm, int fd);
	/*
	 * Asks the VMM to take @dev out of the guest the way device_del does
	 * (the guest ejects it, then the VMM removes it).  Called from @fn of
	 * fd_watch, so it must only start the unplug: removing the device, or
	 * waiting for anything that removes devices, would wait for itself.
	 * @dev may be gone by the time the unplug runs; the VMM finds it again
	 * by its host address.
	 */
	int (*request_unplug)(void *vm, struct passthrough_device *dev);
};

/*
 * One -object iommufd,id=ID[,fd=N]: an iommufd with one IOAS, used by the
 * devices that name it with iommufd=ID.
 */
struct passthrough_iommufd {
	const char *id;
	/* fd=N: a pre-opened /dev/iommu (libvirt); the caller keeps it. */
	bool has_fd;
	int fd;
};

struct passthrough_vm_config {
	/* The kernel (vfio_sys_linux()) or, in tests, a model of it. */
	struct vfio_sys *sys;
	/* The KVM VM fd for kvm-vfio, or -1. */
	int vm_fd;
	/* Guest memory: every MEM_REGION_RAM region is mapped for DMA. */
	struct mem_map *map;
	/* The process has CAP_IPC_LOCK (pinning is not limited by RLIMIT_MEMLOCK). */
	bool cap_ipc_lock;
	/*
	 * For devices without iommufd=: VFIO_BACKEND_CONTAINER (the default) or
	 * VFIO_BACKEND_IOMMUFD_COMPAT.
	 */
	enum vfio_backend backend;
	/*
	 * The VM's iommufd objects (ids unique); a device with iommufd=ID is
	 * attached through its cdev to that object's IOAS.  One VM may use the
	 * container and iommufds side by side (QEMU allows it), but all the
	 * devices of one IOMMU group must use the same one.  Copied by
	 * passthrough_host_new() (the strings too).
	 */
	const struct passthrough_iommufd *iommufds;
	size_t nr_iommufds;
	const struct passthrough_vm_ops *ops;
	void *vm;
	/*
	 * -libvirt-uri: managed=on devices are detached and reattached through
	 * this libvirt connection (virNodeDeviceDetachFlags "vfio",
	 * virNodeDeviceReAttach) instead of ferry's own sysfs writes.  NULL:
	 * sysfs.  The string must outlive the host (not copied).
	 */
	const char *libvirt_uri;
};

struct passthrough_host;
struct passthrough_device;

/*
 * Whether this process holds CAP_IPC_LOCK in its effective set (root
 * usually does): the value for passthrough_vm_config.cap_ipc_lock.
 */
bool passthrough_process_can_lock(void);

/*
 * Creates the VM's passthrough host: its vfio_ctx, and the listener that
 * gives it every RAM region of @cfg->map (no kernel object is made until the
 * first device is added).  On failure nothing is left and @err says why.
 */
int passthrough_host_new(const struct passthrough_vm_config *cfg,
			 struct passthrough_host **host, char *err, size_t errlen);
/*
 * Removes every device still there (in the order they were added, last
 * first), stops listening to the map and frees the ctx: after it returns the
 * host's groups can be opened again, by this process or another.
 */
void passthrough_host_free(struct passthrough_host *host);
/* The ctx of the VM's container (devices without iommufd=). */
struct vfio_ctx *passthrough_host_ctx(struct passthrough_host *host);
/* The ctx of iommufd object @id (its IOAS), or NULL when there is no such object. */
struct vfio_ctx *passthrough_host_iommufd_ctx(struct passthrough_host *host, const char *id);
/* Devices currently added. */
size_t passthrough_host_device_count(const struct passthrough_host *host);

/*
 * Attaches host device @opts->host: VFIO attach (group, container, DMA,
 * kvm-vfio), then a device reset when the device supports one, so the guest
 * starts from a clean device.  All or nothing; on failure @err holds
 * vfio/'s explanation (what is wrong and how to fix it).  -EEXIST when the
 * id is already used by a device of this host.
 */
int passthrough_device_add(struct passthrough_host *host, const struct passthrough_opts *opts,
			   struct passthrough_device **dev, char *err, size_t errlen);
/*
 * passthrough_device_add() also registers VFIO's request interrupt when the
 * device has one and the VM's ops can watch fds and unplug: a host that
 * unbinds the device from vfio-pci then gets an unplug request to the VMM
 * (passthrough_vm_ops.request_unplug) instead of a hang.  A failed
 * registration is logged and the add goes on (the unbind then waits, as
 * before).  Whether it is registered, for the VMM's logs and tests:
 */
bool passthrough_device_has_request(const struct passthrough_device *dev);
/*
 * Detaches and frees @dev in the kernel's teardown order (device fd, then
 * the group and, with the last group, the container).  Returns the first
 * error of the detach (everything is released regardless); @err explains it.
 */
int passthrough_device_remove(struct passthrough_device *dev, char *err, size_t errlen);
/* The device with id @id, or NULL. */
struct passthrough_device *passthrough_host_find(struct passthrough_host *host, const char *id);

/* ---- The device as a guest PCI function ---- */

/*
 * The guest slot asked for with addr=, or -1 for any.  The VMM puts the
 * function there (function 0) and routes config cycles to the two calls
 * below; it must stop doing so before passthrough_device_remove().
 *
 * The config space the guest sees is virtual: ids and most registers are
 * the device's (read through VFIO's config region), the BARs are emulated
 * (sized and placed by the guest; its addresses never reach the device),
 * COMMAND's I/O, memory, bus-master and INTx-disable bits reach the device,
 * the capability list shows MSI, MSI-X and PCI Express only, MSI and MSI-X
 * are emulated (their vectors become VFIO eventfds bound to KVM routes) and
 * the ROM BAR, when VFIO has a ROM, is sized, placed and read by the guest.  @off +
 * @len stays within one dword; @len is 1, 2 or 4.  Callable from any vCPU
 * thread (the device locks itself).
 */
int passthrough_device_slot(const struct passthrough_device *dev);
uint32_t passthrough_device_cfg_read(struct passthrough_device *dev, unsigned int off,
				     unsigned int len);
void passthrough_device_cfg_write(struct passthrough_device *dev, unsigned int off,
				  unsigned int len, uint32_t val);
/*
 * A guest access to a trapped BAR (see passthrough_vm_ops.trap_add):
 * forwarded to the device's region.  A failed read returns all ones.
 */
void passthrough_bar_access(struct passthrough_bar *bar, uint64_t off, void *data,
			    unsigned int len, bool is_write);

/*
 * The VMM placed the device in a slot whose INTx pin (the device's interrupt
 * pin, swizzled as the DSDT's _PRT says) raises @gsi; -1 for none.  While
 * the guest has neither MSI nor MSI-X enabled, a device with a pin then
 * signals INTx straight into KVM: VFIO's trigger eventfd is a level irqfd
 * on @gsi whose resample eventfd is VFIO's unmask eventfd.  On failure
 * nothing is left and @err says why.
 */
int passthrough_device_set_intx_gsi(struct passthrough_device *dev, int gsi, char *err,
				    size_t errlen);
/*
 * The guest reset the machine (the vCPUs are stopped): interrupts off,
 * VFIO_DEVICE_RESET when the device has one, COMMAND, BARs, ROM, MSI and
 * MSI-X back to their power-on values, the BARs out of the guest; INTx on
 * again.  Returns the reset's error (the rest is done regardless).
 */
int passthrough_device_reset(struct passthrough_device *dev);
/* passthrough_device_reset() of every device of @host; the first error. */
int passthrough_host_reset(struct passthrough_host *host);

const char *passthrough_device_id(const struct passthrough_device *dev);	/* "" when none */
const char *passthrough_device_host(const struct passthrough_device *dev);	/* "0000:01:00.0" */
struct vfio_device *passthrough_device_vfio(struct passthrough_device *dev);

#endif /* FERRY_PASSTHROUGH_H */
