// SPDX-License-Identifier: GPL-2.0-only
/*
 * Linux x86 boot protocol, 64-bit entry: no firmware, no real-mode setup
 * code.  The setup header's fields are read at their documented offsets in
 * the file (the file is little-endian, as is every host ferry runs on).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory/memory.h"
#include "vmm/boot.h"
#include "vmm/layout.h"

/* Setup header offsets in the bzImage (and in the zero page). */
#define HDR_SETUP_SECTS		0x1f1
#define HDR_JUMP		0x200
#define HDR_MAGIC		0x202
#define HDR_VERSION		0x206
#define HDR_LOADFLAGS		0x211
#define HDR_INITRD_ADDR_MAX	0x22c
#define HDR_RELOCATABLE		0x234
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238
#define HDR_PREF_ADDRESS	0x258
#define HDR_INIT_SIZE		0x260
#define HDR_MIN_LEN		0x264

#define BOOT_MIN_VERSION	0x020c	/* 2.12: xloadflags, the 64-bit entry flag */
#define BOOT_DEFAULT_LOAD	0x100000ULL
#define BOOT_ENTRY64_OFFSET	0x200
#define BOOT_LOADER_UNDEFINED	0xff

#define E820_RAM		1
#define E820_RESERVED		2

#define PAGE_SIZE_4K		4096ULL

static void boot_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint32_t rd8(const uint8_t *p, size_t off)
{
	return p[off];
}

static uint32_t rd16(const uint8_t *p, size_t off)
{
	return p[off] | (uint32_t)p[off + 1] << 8;
}

static uint32_t rd32(const uint8_t *p, size_t off)
{
	return rd16(p, off) | rd16(p, off + 2) << 16;
}

static uint64_t rd64(const uint8_t *p, size_t off)
{
	return rd32(p, off) | (uint64_t)rd32(p, off + 4) << 32;
}

int boot_image_parse(const void *data, size_t len, struct boot_image *img,
		     char *err, size_t errlen)
{
	const uint8_t *p = data;
	uint32_t setup_sects;

	if (len < HDR_MIN_LEN || memcmp(p + HDR_MAGIC, "HdrS", 4)) {
		boot_err(err, errlen, "not a bzImage (no \"HdrS\" setup header); give -kernel a "
			 "Linux x86 bzImage, such as /boot/vmlinuz-*");
		return -ENOEXEC;
	}
	memset(img, 0, sizeof(*img));
	img->version = (uint16_t)rd16(p, HDR_VERSION);
	if (img->version < BOOT_MIN_VERSION) {
		boot_err(err, errlen, "boot protocol %u.%02u is too old; ferry needs 2.12 or "
			 "later (Linux 3.8 or newer)", img->version >> 8, img->version & 0xff);
		return -ENOEXEC;
	}
	if (!(rd8(p, HDR_LOADFLAGS) & LOADED_HIGH)) {
		boot_err(err, errlen, "not a bzImage (a zImage, which loads below 1 MiB)");
		return -ENOEXEC;
	}
	if (!(rd16(p, HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
		boot_err(err, errlen, "the kernel has no 64-bit entry point (a 32-bit kernel?); "
			 "ferry boots x86-64 kernels");
		return -ENOEXEC;
	}
	setup_sects = rd8(p, HDR_SETUP_SECTS);
	if (!setup_sects)
		setup_sects = 4;
	img->setup_size = (setup_sects + 1) * 512;
	img->hdr_end = 0x202 + rd8(p, HDR_JUMP + 1);
	if (img->setup_size >= len || img->hdr_end > img->setup_size ||
	    img->hdr_end > sizeof(struct boot_params)) {
		boot_err(err, errlen, "not a bzImage (its setup header is inconsistent: "
			 "truncated or corrupt file?)");
		return -ENOEXEC;
	}
	img->kernel_size = (uint32_t)(len - img->setup_size);
	img->load_addr = rd8(p, HDR_RELOCATABLE) ? rd64(p, HDR_PREF_ADDRESS) : BOOT_DEFAULT_LOAD;
	if (img->load_addr < BOOT_DEFAULT_LOAD)
		img->load_addr = BOOT_DEFAULT_LOAD;
	img->init_size = rd32(p, HDR_INIT_SIZE);
	img->initrd_addr_max = rd32(p, HDR_INITRD_ADDR_MAX);
	img->cmdline_size = rd32(p, HDR_CMDLINE_SIZE);
	return 0;
}

static uint64_t mib_up(uint64_t bytes)
{
	return (bytes + (1ULL << 20) - 1) >> 20;
}

int boot_plan_make(const struct boot_image *img, const struct boot_ram *ram,
		   size_t cmdline_len, uint64_t initrd_size, struct boot_plan *plan,
		   char *err, size_t errlen)
{
	uint64_t need = img->init_size > img->kernel_size ? img->init_size : img->kernel_size;

	memset(plan, 0, sizeof(*plan));
	plan->kernel_addr = img->load_addr;
	plan->kernel_end = img->load_addr + need;
	if (plan->kernel_end > ram->low_top) {
		boot_err(err, errlen, "the kernel needs guest RAM up to %llu MiB to boot, but the "
			 "guest has %llu MiB below 4 GiB; give it more with -m",
			 (unsigned long long)mib_up(plan->kernel_end),
			 (unsigned long long)(ram->low_top >> 20));
		return -ENOMEM;
	}

	if (cmdline_len > img->cmdline_size || cmdline_len >= BOOT_CMDLINE_MAX) {
		boot_err(err, errlen, "the kernel command line (-append) is %zu bytes; this kernel "
			 "accepts at most %u", cmdline_len,
			 img->cmdline_size < BOOT_CMDLINE_MAX - 1 ? img->cmdline_size
								: (uint32_t)BOOT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	plan->cmdline_addr = BOOT_CMDLINE_ADDR;
	plan->cmdline_len = cmdline_len;

	if (initrd_size) {
		/* As high as allowed, so the kernel's decompression never meets it. */
		uint64_t top = (uint64_t)img->initrd_addr_max + 1;
		uint64_t addr;

		if (top > ram->low_top)
			top = ram->low_top;
		addr = top >= initrd_size ? (top - initrd_size) & ~(PAGE_SIZE_4K - 1) : 0;
		if (top < initrd_size || addr < plan->kernel_end) {
			boot_err(err, errlen, "the initrd (%llu MiB) does not fit in guest RAM "
				 "between the kernel (which ends at %llu MiB) and %llu MiB; give "
				 "the guest more memory with -m",
				 (unsigned long long)mib_up(initrd_size),
				 (unsigned long long)mib_up(plan->kernel_end),
				 (unsigned long long)(top >> 20));
			return -ENOMEM;
		}
		plan->initrd_addr = addr;
		plan->initrd_size = initrd_size;
	}
	return 0;
}

static void e820_add(struct boot_e820_entry *e820, unsigned int *n, unsigned int max,
		     uint64_t addr, uint64_t end, uint32_t type)
{
	if (end <= addr || *n >= max)
		return;
	e820[*n].addr = addr;
	e820[*n].size = end - addr;
	e820[*n].type = type;
	(*n)++;
}

unsigned int boot_e820_build(const struct boot_ram *ram, struct boot_e820_entry *e820,
			     unsigned int max)
{
	uint64_t low = ram->low_top;
	unsigned int n = 0;

	/* The first 640 KiB (minus the EBDA): boot structures, later the AP trampoline. */
	e820_add(e820, &n, max, 0, low < LAYOUT_EBDA_START ? low : LAYOUT_EBDA_START, E820_RAM);
	e820_add(e820, &n, max, LAYOUT_EBDA_START, 0xa0000, E820_RESERVED);
	/* The ACPI tables live in the old BIOS area; keep the OS off them. */
	e820_add(e820, &n, max, LAYOUT_ACPI_START, LAYOUT_ACPI_START + LAYOUT_ACPI_SIZE,
		 E820_RESERVED);
	e820_add(e820, &n, max, LAYOUT_BIOS_END, low, E820_RAM);
	/* Linux only trusts an ECAM window that firmware reserved. */
	e820_add(e820, &n, max, LAYOUT_PCI_ECAM_START,
		 LAYOUT_PCI_ECAM_START + LAYOUT_PCI_ECAM_SIZE, E820_RESERVED);
	if (ram->high_end > MEM_HIGH_RAM_BASE)
		e820_add(e820, &n, max, MEM_HIGH_RAM_BASE, ram->high_end, E820_RAM);
	return n;
}

void boot_params_fill(struct boot_params *bp, const void *image, const struct boot_image *img,
		      const struct boot_plan *plan, const struct boot_ram *ram, uint64_t rsdp)
{
	memcpy((uint8_t *)bp + HDR_SETUP_SECTS, (const uint8_t *)image + HDR_SETUP_SECTS,
	       img->hdr_end - HDR_SETUP_SECTS);
	bp->hdr.type_of_loader = BOOT_LOADER_UNDEFINED;
	bp->hdr.code32_start = (uint32_t)plan->kernel_addr;
	bp->hdr.cmd_line_ptr = (uint32_t)plan->cmdline_addr;
	bp->ext_cmd_line_ptr = (uint32_t)(plan->cmdline_addr >> 32);
	bp->hdr.ramdisk_image = (uint32_t)plan->initrd_addr;
	bp->ext_ramdisk_image = (uint32_t)(plan->initrd_addr >> 32);
	bp->hdr.ramdisk_size = (uint32_t)plan->initrd_size;
	bp->ext_ramdisk_size = (uint32_t)(plan->initrd_size >> 32);
	bp->acpi_rsdp_addr = rsdp;
	bp->e820_entries = (uint8_t)boot_e820_build(ram, bp->e820_table,
						   E820_MAX_ENTRIES_ZEROPAGE);
}

/* Opens a regular file for reading; @what names the option for the error message. */
static int boot_open_file(const char *path, const char *what, size_t *len, char *err,
			  size_t errlen)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		boot_err(err, errlen, "cannot open %s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		boot_err(err, errlen, "%s %s is not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	*len = (size_t)st.st_size;
	return fd;
}

/* Reads exactly @len bytes of @fd into @dst (guest RAM for the initrd: no copy). */
static int boot_read_all(int fd, void *dst, size_t len, const char *path, const char *what,
			 char *err, size_t errlen)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (uint8_t *)dst + got, len - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int ret = n < 0 ? -errno : -EIO;

			boot_err(err, errlen, "cannot read %s %s: %s", what, path,
				 n < 0 ? strerror(-ret) : "file shrank while reading");
			return ret;
		}
		got += (size_t)n;
	}
	return 0;
}

static void *boot_guest(struct mem_map *map, uint64_t gpa, uint64_t len)
{
	return mem_map_gpa_to_hva(map, gpa, len);
}

/* 0 - 4 GiB identity mapped with 2 MiB pages: covers the kernel, initrd and zero page. */
static int boot_page_tables(struct mem_map *map)
{
	uint64_t *pml4 = boot_guest(map, BOOT_PML4_ADDR, PAGE_SIZE_4K);
	uint64_t *pdpt = boot_guest(map, BOOT_PDPT_ADDR, PAGE_SIZE_4K);
	uint64_t *pd = boot_guest(map, BOOT_PD_ADDR, 4 * PAGE_SIZE_4K);
	const uint64_t present_rw = 0x3, large = 0x80;

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, PAGE_SIZE_4K);
	memset(pdpt, 0, PAGE_SIZE_4K);
	pml4[0] = BOOT_PDPT_ADDR | present_rw;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * PAGE_SIZE_4K) | present_rw;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | present_rw | large;
	return 0;
}

static int boot_gdt(struct mem_map *map)
{
	/* null, unused, 64-bit code (__BOOT_CS), flat data (__BOOT_DS). */
	static const uint64_t gdt[4] = {
		0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL,
	};
	void *dst = boot_guest(map, BOOT_GDT_ADDR, sizeof(gdt));

	if (!dst)
		return -EFAULT;
	memcpy(dst, gdt, sizeof(gdt));
	return 0;
}

int boot_load(struct mem_map *map, const struct boot_ram *ram, const struct boot_config *cfg,
	      struct boot_cpu_state *cpu, char *err, size_t errlen)
{
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	uint8_t *kernel = NULL;
	size_t kernel_len, initrd_len = 0;
	int kfd, ifd = -1;
	struct boot_image img;
	struct boot_plan plan;
	struct boot_params *bp;
	char why[256];
	void *dst;
	int ret;

	kfd = boot_open_file(cfg->kernel, "-kernel", &kernel_len, err, errlen);
	if (kfd < 0)
		return kfd;
	kernel = malloc(kernel_len ? kernel_len : 1);
	ret = -ENOMEM;
	if (!kernel)
		goto out;
	ret = boot_read_all(kfd, kernel, kernel_len, cfg->kernel, "-kernel", err, errlen);
	if (ret)
		goto out;
	ret = boot_image_parse(kernel, kernel_len, &img, why, sizeof(why));
	if (ret) {
		boot_err(err, errlen, "-kernel %s: %s", cfg->kernel, why);
		goto out;
	}
	if (cfg->initrd) {
		ifd = boot_open_file(cfg->initrd, "-initrd", &initrd_len, err, errlen);
		if (ifd < 0) {
			ret = ifd;
			goto out;
		}
		if (!initrd_len) {
			boot_err(err, errlen, "-initrd %s is empty", cfg->initrd);
			ret = -EINVAL;
			goto out;
		}
	}
	ret = boot_plan_make(&img, ram, strlen(cmdline), initrd_len, &plan, err, errlen);
	if (ret)
		goto out;

	ret = -EFAULT;
	boot_err(err, errlen, "guest RAM is not mapped where the boot structures go");
	dst = boot_guest(map, plan.kernel_addr, img.kernel_size);
	if (!dst)
		goto out;
	memcpy(dst, kernel + img.setup_size, img.kernel_size);
	if (initrd_len) {
		dst = boot_guest(map, plan.initrd_addr, initrd_len);
		if (!dst)
			goto out;
		ret = boot_read_all(ifd, dst, initrd_len, cfg->initrd, "-initrd", err, errlen);
		if (ret)
			goto out;
		ret = -EFAULT;
	}
	dst = boot_guest(map, plan.cmdline_addr, plan.cmdline_len + 1);
	if (!dst)
		goto out;
	memcpy(dst, cmdline, plan.cmdline_len + 1);

	bp = boot_guest(map, BOOT_ZERO_PAGE_ADDR, sizeof(*bp));
	if (!bp)
		goto out;
	memset(bp, 0, sizeof(*bp));
	boot_params_fill(bp, kernel, &img, &plan, ram, cfg->rsdp);
	if (boot_page_tables(map) || boot_gdt(map))
		goto out;

	memset(cpu, 0, sizeof(*cpu));
	cpu->rip = plan.kernel_addr + BOOT_ENTRY64_OFFSET;
	cpu->rsi = BOOT_ZERO_PAGE_ADDR;
	cpu->rsp = BOOT_STACK_TOP;
	cpu->cr0 = 0x80000031;		/* PG | NE | ET | PE */
	cpu->cr3 = BOOT_PML4_ADDR;
	cpu->cr4 = 0x20;		/* PAE */
	cpu->efer = 0x500;		/* LMA | LME */
	cpu->gdt_base = BOOT_GDT_ADDR;
	cpu->gdt_limit = 4 * 8 - 1;
	cpu->cs = BOOT_CS_SELECTOR;
	cpu->ds = BOOT_DS_SELECTOR;
	ret = 0;
	if (err && errlen)
		err[0] = '\0';
out:
	if (ifd >= 0)
		close(ifd);
	close(kfd);
	free(kernel);
	return ret;
}
