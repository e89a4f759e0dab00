/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: the guest's PCI segment 0.
 *
 * The host bridge answers configuration cycles through the legacy ports
 * 0xcf8/0xcfc (type 1) and through ECAM (one 4 KiB page per function, buses
 * 0..255 at LAYOUT_PCI_ECAM_START).  Both reach the same per-function config
 * space ops.  Functions live on bus 0; 00.0 is the host bridge itself.  A
 * function is added and removed at run time (hot-plug): after
 * pci_host_remove() returns, its ops are not running and never run again.
 *
 * struct pci_cfg is a config space with PCI's write semantics (read-only,
 * writable and write-1-to-clear bits, BAR sizing) for devices that keep
 * their config space in memory; a passthrough device can use it for the
 * registers it virtualises and forward the rest.
 */
#ifndef FERRY_VMM_PCI_H
#define FERRY_VMM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/pci.h>

#include "vmm/bus.h"

/* Register names and bits: the kernel's UAPI (PCI_COMMAND, PCI_DEVFN, ...). */
#define PCI_HOST_SLOTS		32
#define PCI_HOST_STATUS_W1C	0xf900	/* parity, aborts, SERR, parity error */

/*
 * A function's config space.  @off + @len never crosses a dword boundary
 * (wider or straddling guest accesses arrive split); @len is 1, 2 or 4;
 * values are little-endian, right-aligned.  Ops run on vCPU threads under
 * the host's read lock: they must not add or remove functions, and they
 * change the address spaces only through vmm_bus_after_access().
 */
struct pci_func_ops {
	uint32_t (*cfg_read)(void *opaque, unsigned int off, unsigned int len);
	void (*cfg_write)(void *opaque, unsigned int off, unsigned int len, uint32_t val);
};

struct pci_host_config {
	struct vmm_bus *bus;
	uint64_t ecam_base;		/* LAYOUT_PCI_ECAM_START */
	unsigned int ecam_buses;	/* 1..256: the window is ecam_buses MiB */
	/*
	 * Port 0xcf9 (reset control) sits inside the config-address dword and
	 * is reached by byte accesses only; these forward it (see vmm/pm.h).
	 */
	uint8_t (*rcr_read)(void *opaque);
	void (*rcr_write)(void *opaque, uint8_t val);
	void *rcr_opaque;
};

struct pci_host;

/* Registers the config ports and the ECAM window, and the host bridge at 00.0. */
int pci_host_new(const struct pci_host_config *cfg, struct pci_host **out);
void pci_host_free(struct pci_host *host);

/* -EEXIST when @devfn is taken, -EINVAL for a bad devfn. */
int pci_host_add(struct pci_host *host, unsigned int devfn, const struct pci_func_ops *ops,
		 void *opaque);
/* -ENOENT when nothing is there; 00.0 (the host bridge) cannot be removed. */
int pci_host_remove(struct pci_host *host, unsigned int devfn);
/* The lowest slot with no function 0, or -ENOSPC. */
int pci_host_free_slot(struct pci_host *host);

/*
 * The GSI that INTx pin @pin (1 = INTA .. 4 = INTD) of a function in @slot
 * raises: the DSDT's _PRT and the devices both use this.  GSIs 16-23 are
 * the IOAPIC pins above the ISA range (level, active low in ACPI terms; KVM
 * ignores polarity, so drive the line high to assert).
 */
#define PCI_HOST_INTX_GSI_BASE	16
#define PCI_HOST_INTX_GSIS	8
unsigned int pci_host_intx_gsi(unsigned int slot, unsigned int pin);

/* One config access by (bus, devfn, offset), as a vCPU would issue it. */
uint32_t pci_host_cfg_read(struct pci_host *host, unsigned int bus, unsigned int devfn,
			   unsigned int off, unsigned int len);
void pci_host_cfg_write(struct pci_host *host, unsigned int bus, unsigned int devfn,
			unsigned int off, unsigned int len, uint32_t val);

/* ---- An in-memory config space ---- */

#define PCI_BAR_IO		0x01	/* I/O space (else memory) */
#define PCI_BAR_MEM64		0x04	/* 64-bit memory: uses this BAR and the next */
#define PCI_BAR_PREFETCH	0x08
#define PCI_BAR_UNMAPPED	UINT64_MAX

struct pci_cfg;

/*
 * Called from inside cfg writes when a BAR's decoded address changes:
 * programmed, moved, or decoding turned on or off in COMMAND.  An address of
 * PCI_BAR_UNMAPPED means not decoded.
 */
typedef void (*pci_bar_moved_fn)(void *opaque, int bar, uint64_t old_addr, uint64_t new_addr);

struct pci_cfg {
	uint8_t data[PCI_CFG_SPACE_EXP_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_EXP_SIZE];	/* writable bits */
	uint8_t w1c[PCI_CFG_SPACE_EXP_SIZE];	/* write-1-to-clear bits */
	uint64_t bar_size[6];			/* 0: not implemented */
	uint8_t bar_flags[6];
	uint64_t bar_addr[6];			/* decoded address or PCI_BAR_UNMAPPED */
	pci_bar_moved_fn bar_moved;
	void *opaque;
};

/* A type 0 header with the given ids; COMMAND's usual bits are writable. */
void pci_cfg_init(struct pci_cfg *cfg, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision);
/*
 * Declares BAR @bar of @size bytes (a power of two, >= 16 for memory, >= 4
 * for I/O) with PCI_BAR_* @flags.  -EINVAL on a bad size, index or a 64-bit
 * BAR in slot 5.
 */
int pci_cfg_set_bar(struct pci_cfg *cfg, int bar, uint64_t size, unsigned int flags);
uint32_t pci_cfg_read(const struct pci_cfg *cfg, unsigned int off, unsigned int len);
void pci_cfg_write(struct pci_cfg *cfg, unsigned int off, unsigned int len, uint32_t val);

#endif /* FERRY_VMM_PCI_H */
