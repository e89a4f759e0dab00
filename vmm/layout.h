/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: the guest-physical and port layout of the ferry machine.
 * One place for every fixed address, so the boot loader's e820 map, the ACPI
 * tables and the devices cannot disagree.  RAM placement itself lives in
 * memory/memory.h (MEM_LOW_RAM_TOP, MEM_HIGH_RAM_BASE).
 *
 *   0x00000000 - 0x0009fbff  RAM (real-mode area: AP trampoline lives here)
 *   0x0009fc00 - 0x0009ffff  reserved (EBDA)
 *   0x000e0000 - 0x000fffff  reserved: ACPI tables (RSDP findable by a scan)
 *   0x00100000 - low top     RAM, low top = min(RAM, 3 GiB)
 *   0xc0000000 - 0xdfffffff  32-bit PCI MMIO window (never RAM)
 *   0xe0000000 - 0xefffffff  PCI ECAM, buses 0..255 (e820 reserved)
 *   0xfec00000               IOAPIC (in-kernel)
 *   0xfee00000               LAPIC (in-kernel)
 *   4 GiB      - ...         RAM above the hole
 */
#ifndef FERRY_VMM_LAYOUT_H
#define FERRY_VMM_LAYOUT_H

#define LAYOUT_EBDA_START	0x0009fc00ULL
#define LAYOUT_BIOS_END		0x00100000ULL

/* ACPI tables are written here; boot_params.acpi_rsdp_addr points into it. */
#define LAYOUT_ACPI_START	0x000e0000ULL
#define LAYOUT_ACPI_SIZE	0x00020000ULL

#define LAYOUT_PCI_MMIO32_START	0xc0000000ULL
#define LAYOUT_PCI_MMIO32_SIZE	0x20000000ULL
#define LAYOUT_PCI_ECAM_START	0xe0000000ULL
#define LAYOUT_PCI_ECAM_SIZE	0x10000000ULL

/* PCI I/O window announced by PCI0's _CRS (BARs of PCI functions). */
#define LAYOUT_PCI_IO_START	0xc000
#define LAYOUT_PCI_IO_SIZE	0x4000

#define LAYOUT_IOAPIC_START	0xfec00000ULL
#define LAYOUT_LAPIC_START	0xfee00000ULL

/* KVM's private pages on Intel hosts (real-mode TSS and identity map). */
#define LAYOUT_KVM_IDENT_MAP	0xfeffc000ULL
#define LAYOUT_KVM_TSS		0xfeffd000ULL

/*
 * The ACPI PCI hot-plug controller (vmm/hotplug.h): 16 ports beside the PM
 * blocks (0x600-0x623), inside PCI0's ISA-range window and outside the PCI
 * I/O window.
 */
#define LAYOUT_HOTPLUG_PORT	0x0680
#define LAYOUT_HOTPLUG_LEN	16

/* Legacy UART COM1. */
#define LAYOUT_COM1_PORT	0x3f8
#define LAYOUT_COM1_GSI		4

#endif /* FERRY_VMM_LAYOUT_H */
