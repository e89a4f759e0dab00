/* SPDX-License-Identifier: GPL-2.0-only */
/* passthrough/ private: the objects behind passthrough.h, shared by its files. */
#ifndef FERRY_PASSTHROUGH_PRIV_H
#define FERRY_PASSTHROUGH_PRIV_H

#include <pthread.h>

#include "passthrough/passthrough.h"

#define PT_NR_BARS	6
/* bars[PT_ROM] is the expansion ROM (register 0x30, VFIO's ROM region). */
#define PT_ROM		PT_NR_BARS
#define PT_NR_REGIONS	(PT_NR_BARS + 1)
/* MSI offers at most 32 vectors. */
#define PT_MSI_MAX	32
#define PT_UNMAPPED	UINT64_MAX
/* The guest sees a conventional 256-byte config space; extended capabilities are hidden. */
#define PT_CFG_SIZE	256

struct passthrough_host {
	struct passthrough_vm_config cfg;
	struct vfio_ctx *ctx;
	struct mem_listener *listener;
	/* One per -object iommufd: its own ctx (IOAS) and RAM listener. */
	struct pt_iommufd_space *iommufds;
	size_t nr_iommufds;
	/* Newest first, so that removing all goes in reverse order of adding. */
	struct passthrough_device *devices;
	size_t nr_devices;
};

/* One mmap'ed piece of a BAR (the whole BAR, or one sparse area). */
struct pt_bar_area {
	uint64_t offset;	/* within the BAR */
	uint64_t size;
	void *hva;
	bool in_map;		/* a region of the guest's memory map (a KVM memslot) now */
};

struct passthrough_bar {
	struct passthrough_device *dev;
	int index;
	struct vfio_region region;
	uint64_t size;		/* 0: the BAR is not implemented */
	bool io;
	bool mem64;		/* this BAR and the next form one 64-bit BAR */
	bool upper;		/* the upper half of the previous 64-bit BAR */
	uint32_t flag_bits;	/* the read-only low bits of the register */
	/* Where the guest's accesses go now (traps and memslots), or PT_UNMAPPED. */
	uint64_t mapped;
	unsigned int nr_areas;
	struct pt_bar_area *areas;
};

/*
 * One MSI or MSI-X vector in use: the eventfd VFIO signals, the KVM MSI
 * route it raises, and the irqfd binding them while the vector is unmasked.
 * While masked the irqfd is gone and the eventfd's counter is the pending
 * bit: unmasking binds it again and an interrupt that came meanwhile is
 * delivered then (see irq.c).
 */
struct pt_vector {
	int efd;		/* -1: the vector is not in use */
	uint32_t gsi;
	uint64_t addr;		/* the route's message */
	uint32_t data;
	bool irqfd;		/* bound: delivered straight by KVM */
};

enum pt_irq_mode {
	PT_IRQ_NONE,
	PT_IRQ_INTX,
	PT_IRQ_MSI,
	PT_IRQ_MSIX,
};

struct pt_intx {
	bool pin;		/* the device has an INTx pin and VFIO an INTx index */
	int gsi;		/* set by the VMM when it places the device; -1: none */
	int trigger;		/* eventfds while INTx is on, else -1 */
	int resample;
};

struct pt_msi {
	unsigned int cap;	/* offset of the capability, 0: none */
	unsigned int max;	/* vectors the device offers (1, 2, 4 .. 32) */
	bool is64, maskbit;
	unsigned int nvec;	/* vectors enabled now (0: MSI off) */
	struct pt_vector vec[PT_MSI_MAX];
};

struct pt_msix {
	unsigned int cap;	/* offset of the capability, 0: none */
	unsigned int nvec;	/* table size */
	int table_bar, pba_bar;
	uint32_t table_off, pba_off;
	bool noresize;		/* VFIO cannot add vectors to an enabled MSI-X */
	bool on;		/* enabled in VFIO */
	unsigned int nr_alloc;	/* vectors VFIO's enable allocated (noresize) */
	uint32_t *table;	/* nvec entries of 4 dwords, as the guest wrote them */
	struct pt_vector *vec;
};

/* How a byte of the guest's config space is served. */
enum pt_cfg_kind {
	PT_CFG_HIDDEN,		/* reads 0, writes dropped */
	PT_CFG_DEVICE,		/* the device's, read and write */
	PT_CFG_DEVICE_RO,	/* the device's, writes dropped */
	PT_CFG_EMULATED,	/* kept here (see config.c) */
};

/* managed=on (managed.c): what was done before the attach, to undo after the remove. */
struct pt_managed {
	bool active;
	bool libvirt;		/* through -libvirt-uri, else sysfs (bind) */
	struct vfio_bind bind;
};

/*
 * managed=on: libvirt's group check, then the device to vfio-pci (sysfs or
 * libvirt).  Does nothing without managed=on.  On failure nothing moved.
 */
int pt_managed_prepare(const struct passthrough_vm_config *cfg, const struct passthrough_opts *opts,
		       struct pt_managed *m, char *err, size_t errlen);
/* Gives the device back to its driver; the device must be detached (no fd left). */
int pt_managed_release(const struct passthrough_vm_config *cfg,
		       const struct passthrough_opts *opts, struct pt_managed *m, char *err,
		       size_t errlen);

struct passthrough_device {
	struct passthrough_host *host;
	struct passthrough_device *next;
	struct passthrough_opts opts;
	struct vfio_device *vdev;
	struct vfio_sys *sys;
	int fd;				/* the VFIO device fd */
	struct pt_managed managed;

	/* Guards everything below: config accesses come from any vCPU. */
	pthread_mutex_t lock;
	struct vfio_region cfg_region;
	uint8_t kind[PT_CFG_SIZE];
	uint8_t emu[PT_CFG_SIZE];	/* values of the emulated bytes */
	uint16_t command;		/* as the guest last wrote it */
	struct passthrough_bar bars[PT_NR_REGIONS];
	bool remap_pending;
	/* Write masks of the emulated MSI/MSI-X capability bytes (irq.c). */
	uint8_t emu_wmask[PT_CFG_SIZE];

	/*
	 * Guards the interrupt state below and the MSI/MSI-X bytes of emu[].
	 * Always the innermost lock: taken under dev->lock (config cycles)
	 * and under the VM's bus lock (MSI-X table accesses), and nothing is
	 * locked while it is held.  dev->lock itself cannot be taken in a
	 * BAR access: a BAR move holds it while it takes the bus lock.
	 */
	pthread_mutex_t irq_lock;
	enum pt_irq_mode irq_mode;
	struct pt_intx intx;
	struct pt_msi msi;
	struct pt_msix msix;
	bool irq_error_said;	/* one message per device for failures the guest caused */

	/*
	 * VFIO's request interrupt (request.c): the eventfd the kernel signals
	 * while the host waits for the device, -1 when not registered.
	 * @req_asked (atomic) is set by the first signal: later ones, which
	 * the kernel repeats until the device is closed, are only drained.
	 */
	int req_efd;
	bool req_asked;
};

/* host.c */
/*
 * The VFIO attach of @opts->host in the ctx its options choose (the
 * container, or the IOAS of iommufd=); @err gets "-device host=BDF: why".
 */
/* Closes a caller's fd (opts->fd) an add gives up before the attach takes it. */
void pt_host_close_fd(struct passthrough_host *host, const struct passthrough_opts *opts);
/* Takes opts->fd over, whatever the result. */
int pt_host_attach(struct passthrough_host *host, const struct passthrough_opts *opts,
		   struct vfio_device **vdev, char *err, size_t errlen);

/* config.c */
int pt_config_init(struct passthrough_device *dev, char *err, size_t errlen);
void pt_config_release(struct passthrough_device *dev);
/* COMMAND, BARs, ROM and the interrupt line at power-on; the BARs out of the guest now. */
void pt_config_reset(struct passthrough_device *dev);

/* irq.c */
/*
 * Reads the device's interrupt resources; @cfg is its config space as read
 * at attach.  Marks the MSI/MSI-X capability bytes emulated.
 */
int pt_irq_init(struct passthrough_device *dev, const uint8_t *cfg, char *err, size_t errlen);
/* The page-aligned ranges of BAR @bar that must stay trapped (MSI-X table, PBA). */
int pt_msix_holes(struct passthrough_device *dev, int bar, uint64_t page, uint64_t *start,
		  uint64_t *end, int max);
/* Whether config byte @off belongs to the MSI or MSI-X capability (fixed at attach). */
bool pt_irq_cfg_owns(struct passthrough_device *dev, unsigned int off);
/*
 * Config cycles (dev->lock held): a guest read of emulated capability byte
 * @off; a write of one (its writable bits); after the writes, bring VFIO
 * and KVM in line.  Each takes irq_lock.
 */
uint8_t pt_irq_cfg_read(struct passthrough_device *dev, unsigned int off);
void pt_irq_cfg_write(struct passthrough_device *dev, unsigned int off, uint8_t b);
void pt_irq_cfg_written(struct passthrough_device *dev);
/*
 * A guest access to a BAR (the VM's bus lock held): when [@off, @off + @len)
 * of BAR @bar is the MSI-X table or PBA, serves it (taking irq_lock) and
 * returns true.
 */
bool pt_msix_access(struct passthrough_device *dev, int bar, uint64_t off, void *data,
		    unsigned int len, bool is_write);
/* With irq_lock held (or at attach, alone): */
/* Turns every interrupt off (VFIO, irqfds, routes, eventfds) and frees the state. */
void pt_irq_release(struct passthrough_device *dev);
/* Interrupts off; the capabilities and the MSI-X table at their power-on values. */
void pt_irq_reset(struct passthrough_device *dev);
/* The VMM's GSI for the pin (-1: none); INTx on now if nothing else is. */
int pt_intx_set_gsi(struct passthrough_device *dev, int gsi);
/* The mode the guest's registers ask for: MSI-X, MSI, INTx when placed, or none. */
void pt_irq_update(struct passthrough_device *dev);

/* request.c */
/*
 * Registers VFIO's request interrupt on an eventfd the VM's loop watches.
 * Never fails: without it the device works, and why is said on stderr.
 */
void pt_request_init(struct passthrough_device *dev);
/* Unregisters it and closes the eventfd; before the device fd goes. */
void pt_request_release(struct passthrough_device *dev);

/* bar.c */
/* @cfg: the device's config space as read at attach (BAR types). */
int pt_bars_init(struct passthrough_device *dev, const uint8_t *cfg, char *err, size_t errlen);
/* Unmaps every BAR from the guest and releases the mmaps. */
void pt_bars_release(struct passthrough_device *dev);
/* The address BAR @bar decodes at with the current registers, or PT_UNMAPPED. */
uint64_t pt_bar_decoded(struct passthrough_device *dev, int bar);
/* Called with dev->lock held after a write to COMMAND or a BAR. */
void pt_bars_update(struct passthrough_device *dev);
/* Moves the BARs now (dev->lock held), not deferred: reset, with the vCPUs stopped. */
void pt_bars_remap_now(struct passthrough_device *dev);

#endif /* FERRY_PASSTHROUGH_PRIV_H */
