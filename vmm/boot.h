/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: direct boot of a Linux bzImage through the x86 boot
 * protocol's 64-bit entry point (Documentation/arch/x86/boot.rst): the
 * kernel, initrd and command line are placed in guest RAM, a zero page
 * (struct boot_params) with an e820 map describes the machine, and the BSP
 * starts in long mode at startup_64 with identity-mapped page tables.
 */
#ifndef FERRY_VMM_BOOT_H
#define FERRY_VMM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

struct mem_map;

/* Fixed guest addresses of the boot structures, all in the first 640 KiB. */
#define BOOT_GDT_ADDR		0x0500ULL
#define BOOT_ZERO_PAGE_ADDR	0x7000ULL
#define BOOT_STACK_TOP		0x8ff0ULL
#define BOOT_PML4_ADDR		0x9000ULL
#define BOOT_PDPT_ADDR		0xa000ULL
#define BOOT_PD_ADDR		0xb000ULL	/* 4 pages: 0 - 4 GiB in 2 MiB pages */
#define BOOT_CMDLINE_ADDR	0x20000ULL
#define BOOT_CMDLINE_MAX	0x10000ULL

/* Selectors the boot protocol asks for (__BOOT_CS, __BOOT_DS). */
#define BOOT_CS_SELECTOR	0x10
#define BOOT_DS_SELECTOR	0x18

/* What the bzImage's setup header says, after validation. */
struct boot_image {
	uint16_t version;		/* boot protocol version, e.g. 0x020f */
	uint32_t setup_size;		/* bytes of real-mode setup, incl. the boot sector */
	uint32_t kernel_size;		/* bytes of protected-mode kernel after it */
	uint64_t load_addr;		/* where the protected-mode kernel goes */
	uint32_t init_size;		/* bytes it needs from load_addr while booting */
	uint32_t initrd_addr_max;	/* highest address the initrd may end at (inclusive) */
	uint32_t cmdline_size;		/* longest command line, without the NUL */
	uint32_t hdr_end;		/* end offset of the setup header in the file */
};

/*
 * Checks @data (the whole file) is a bzImage ferry can boot: "HdrS" magic,
 * protocol >= 2.12, a 64-bit entry point.  Errors are for a person.
 */
int boot_image_parse(const void *data, size_t len, struct boot_image *img,
		     char *err, size_t errlen);

/* The guest's RAM as the boot loader needs to know it. */
struct boot_ram {
	uint64_t low_top;	/* RAM is [0, low_top) ... */
	uint64_t high_end;	/* ... and [4 GiB, high_end) when high_end > 4 GiB */
};

/* Where things go; computed by boot_plan(). */
struct boot_plan {
	uint64_t kernel_addr;
	uint64_t kernel_end;	/* load_addr + max(init_size, kernel_size) */
	uint64_t initrd_addr;	/* 0 when no initrd */
	uint64_t initrd_size;
	uint64_t cmdline_addr;
	uint64_t cmdline_len;	/* without the NUL */
};

int boot_plan_make(const struct boot_image *img, const struct boot_ram *ram,
		   size_t cmdline_len, uint64_t initrd_size, struct boot_plan *plan,
		   char *err, size_t errlen);

/* Fills @e820 (sorted, non-overlapping); returns the number of entries. */
unsigned int boot_e820_build(const struct boot_ram *ram, struct boot_e820_entry *e820,
			     unsigned int max);

/*
 * Fills a zeroed zero page: the image's setup header, the loader fields of
 * @plan, the e820 map and the RSDP address (0 for none).
 */
void boot_params_fill(struct boot_params *bp, const void *image, const struct boot_image *img,
		      const struct boot_plan *plan, const struct boot_ram *ram, uint64_t rsdp);

/* The BSP's register state at the 64-bit entry point. */
struct boot_cpu_state {
	uint64_t rip;
	uint64_t rsi;		/* the zero page */
	uint64_t rsp;
	uint64_t cr0, cr3, cr4, efer;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t cs, ds;	/* selectors into that GDT */
};

struct boot_config {
	const char *kernel;	/* path of the bzImage */
	const char *initrd;	/* path, or NULL */
	const char *cmdline;	/* or NULL for an empty one */
	uint64_t rsdp;		/* guest address of the ACPI RSDP, 0 for none */
};

/*
 * Loads everything into guest RAM (@map) and returns the BSP's entry state.
 * On error @err names the file and the problem.
 */
int boot_load(struct mem_map *map, const struct boot_ram *ram, const struct boot_config *cfg,
	      struct boot_cpu_state *cpu, char *err, size_t errlen);

#endif /* FERRY_VMM_BOOT_H */
