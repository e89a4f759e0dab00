// SPDX-License-Identifier: GPL-2.0-only
/* vmm/boot.c: bzImage parsing, the boot plan, the e820 map and the zero page. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory/memory.h"
#include "vmm/boot.h"
#include "vmm/layout.h"

#define IMG_LEN		(64 * 1024)
#define IMG_SETUP_SECTS	4
#define IMG_PREF	(16ULL << 20)
#define IMG_INIT_SIZE	(32U << 20)

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, 2);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
}

/* A minimal bzImage: a setup header as a 2.15 relocatable 64-bit kernel has. */
static uint8_t *fake_bzimage(void)
{
	uint8_t *p = calloc(1, IMG_LEN);

	cr_assert_not_null(p);
	p[0x1f1] = IMG_SETUP_SECTS;
	put16(p, 0x1fe, 0xaa55);
	p[0x200] = 0xeb;
	p[0x201] = 0x6a;			/* header ends at 0x26c */
	memcpy(p + 0x202, "HdrS", 4);
	put16(p, 0x206, 0x020f);
	p[0x211] = LOADED_HIGH;
	put32(p, 0x22c, 0x7fffffff);		/* initrd_addr_max */
	put32(p, 0x230, 0x200000);		/* kernel_alignment */
	p[0x234] = 1;				/* relocatable */
	put16(p, 0x236, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	put32(p, 0x238, 2047);			/* cmdline_size */
	put64(p, 0x258, IMG_PREF);
	put32(p, 0x260, IMG_INIT_SIZE);
	/* A recognisable protected-mode kernel. */
	for (size_t i = (IMG_SETUP_SECTS + 1) * 512; i < IMG_LEN; i++)
		p[i] = (uint8_t)(i * 7);
	return p;
}

Test(boot, parse_reads_the_setup_header)
{
	uint8_t *p = fake_bzimage();
	struct boot_image img;
	char err[256];

	cr_assert_eq(boot_image_parse(p, IMG_LEN, &img, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(img.version, 0x020f);
	cr_assert_eq(img.setup_size, (IMG_SETUP_SECTS + 1) * 512);
	cr_assert_eq(img.kernel_size, IMG_LEN - img.setup_size);
	cr_assert_eq(img.load_addr, IMG_PREF);
	cr_assert_eq(img.init_size, IMG_INIT_SIZE);
	cr_assert_eq(img.cmdline_size, 2047);
	cr_assert_eq(img.hdr_end, 0x26c);
	free(p);
}

Test(boot, parse_non_relocatable_loads_at_1mib)
{
	uint8_t *p = fake_bzimage();
	struct boot_image img;

	p[0x234] = 0;
	cr_assert_eq(boot_image_parse(p, IMG_LEN, &img, NULL, 0), 0);
	cr_assert_eq(img.load_addr, 0x100000);
	free(p);
}

static void expect_parse_error(uint8_t *p, size_t len, const char *words)
{
	struct boot_image img;
	char err[256] = "";

	cr_assert_eq(boot_image_parse(p, len, &img, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, words), "message '%s' lacks '%s'", err, words);
}

Test(boot, parse_rejects_what_it_cannot_boot)
{
	uint8_t *p = fake_bzimage();

	expect_parse_error(p, 0x100, "not a bzImage");
	memcpy(p + 0x202, "ELF!", 4);
	expect_parse_error(p, IMG_LEN, "not a bzImage");
	memcpy(p + 0x202, "HdrS", 4);

	put16(p, 0x206, 0x0206);
	expect_parse_error(p, IMG_LEN, "too old");
	put16(p, 0x206, 0x020f);

	put16(p, 0x236, 0);
	expect_parse_error(p, IMG_LEN, "64-bit");
	put16(p, 0x236, XLF_KERNEL_64);

	p[0x211] = 0;
	expect_parse_error(p, IMG_LEN, "zImage");
	p[0x211] = LOADED_HIGH;

	/* Setup claims more sectors than the file has. */
	p[0x1f1] = 200;
	expect_parse_error(p, IMG_LEN, "inconsistent");
	free(p);
}

Test(boot, parse_debian_kernel)
{
	const char *path = "/boot/vmlinuz-6.1.0-56-amd64";
	struct boot_image img;
	char err[256];
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f)
		cr_skip_test("%s not installed", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len);
	cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	cr_assert_eq(boot_image_parse(buf, (size_t)len, &img, err, sizeof(err)), 0, "%s", err);
	cr_assert_geq(img.version, 0x020c);
	cr_assert_geq(img.load_addr, 0x100000);
	cr_assert_gt(img.init_size, img.kernel_size);
	free(buf);
}

static const uint64_t ram_sizes[] = {
	16ULL << 20, 64ULL << 20, 512ULL << 20, 3ULL << 30, (3ULL << 30) + (2ULL << 20),
	4ULL << 30, 8ULL << 30, 100ULL << 30,
};

static struct boot_ram ram_of(uint64_t size)
{
	struct mem_range r[2];
	unsigned int n = mem_layout_ram(size, r);

	return (struct boot_ram){ .low_top = r[0].size,
				  .high_end = n > 1 ? r[1].gpa + r[1].size : 0 };
}

static bool in_ram(uint64_t size, uint64_t a, uint64_t len)
{
	struct mem_range r[2];
	unsigned int n = mem_layout_ram(size, r);

	for (unsigned int i = 0; i < n; i++)
		if (a >= r[i].gpa && a + len <= r[i].gpa + r[i].size)
			return true;
	return false;
}

Test(boot, e820_is_sorted_disjoint_and_covers_ram_minus_legacy_holes)
{
	for (size_t s = 0; s < sizeof(ram_sizes) / sizeof(ram_sizes[0]); s++) {
		uint64_t size = ram_sizes[s], ram_total = 0;
		struct boot_ram ram = ram_of(size);
		struct boot_e820_entry e[E820_MAX_ENTRIES_ZEROPAGE];
		unsigned int n = boot_e820_build(&ram, e, E820_MAX_ENTRIES_ZEROPAGE);

		cr_assert_geq(n, 3);
		for (unsigned int i = 0; i < n; i++) {
			cr_assert_gt(e[i].size, 0);
			if (i)
				cr_assert_geq(e[i].addr, e[i - 1].addr + e[i - 1].size,
					      "size %llu: entry %u overlaps %u",
					      (unsigned long long)size, i, i - 1);
			if (e[i].type != 1)
				continue;
			/* Every RAM entry is backed, and none touches the hole or ROM area. */
			cr_assert(in_ram(size, e[i].addr, e[i].size));
			cr_assert(e[i].addr + e[i].size <= 0xa0000 || e[i].addr >= 0x100000);
			cr_assert(e[i].addr + e[i].size <= MEM_LOW_RAM_TOP ||
				  e[i].addr >= MEM_HIGH_RAM_BASE);
			ram_total += e[i].size;
		}
		/* All RAM is usable except [EBDA, 1 MiB). */
		cr_assert_eq(ram_total, size - (0x100000 - LAYOUT_EBDA_START),
			     "size %llu: e820 RAM %llu", (unsigned long long)size,
			     (unsigned long long)ram_total);
	}
}

Test(boot, e820_reserves_acpi_and_ecam)
{
	struct boot_ram ram = ram_of(1ULL << 30);
	struct boot_e820_entry e[E820_MAX_ENTRIES_ZEROPAGE];
	unsigned int n = boot_e820_build(&ram, e, E820_MAX_ENTRIES_ZEROPAGE);
	bool acpi = false, ecam = false;

	for (unsigned int i = 0; i < n; i++) {
		if (e[i].type == 2 && e[i].addr <= LAYOUT_ACPI_START &&
		    e[i].addr + e[i].size >= LAYOUT_ACPI_START + LAYOUT_ACPI_SIZE)
			acpi = true;
		if (e[i].type == 2 && e[i].addr <= LAYOUT_PCI_ECAM_START &&
		    e[i].addr + e[i].size >= LAYOUT_PCI_ECAM_START + LAYOUT_PCI_ECAM_SIZE)
			ecam = true;
	}
	cr_assert(acpi);
	cr_assert(ecam);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

Test(boot, plan_places_everything_in_ram_without_overlap)
{
	uint8_t *p = fake_bzimage();
	struct boot_image img;

	cr_assert_eq(boot_image_parse(p, IMG_LEN, &img, NULL, 0), 0);
	for (size_t s = 0; s < sizeof(ram_sizes) / sizeof(ram_sizes[0]); s++) {
		struct boot_ram ram = ram_of(ram_sizes[s]);
		struct boot_plan plan;
		uint64_t initrd = 5ULL << 20;
		char err[256];
		int ret = boot_plan_make(&img, &ram, 100, initrd, &plan, err, sizeof(err));

		if (ram.low_top < IMG_PREF + IMG_INIT_SIZE + initrd) {
			cr_assert_eq(ret, -ENOMEM, "size %llu", (unsigned long long)ram_sizes[s]);
			cr_assert(strstr(err, "-m"), "%s", err);
			continue;
		}
		cr_assert_eq(ret, 0, "%s", err);
		cr_assert_eq(plan.kernel_addr, IMG_PREF);
		cr_assert_eq(plan.kernel_end, IMG_PREF + IMG_INIT_SIZE);
		cr_assert(in_ram(ram_sizes[s], plan.kernel_addr,
				 plan.kernel_end - plan.kernel_addr));
		cr_assert(in_ram(ram_sizes[s], plan.initrd_addr, plan.initrd_size));
		cr_assert(in_ram(ram_sizes[s], plan.cmdline_addr, plan.cmdline_len + 1));
		cr_assert_eq(plan.initrd_addr & 4095, 0);
		cr_assert_leq(plan.initrd_addr + plan.initrd_size - 1, 0x7fffffffULL);
		cr_assert_not(overlaps(plan.initrd_addr, plan.initrd_size, plan.kernel_addr,
				       plan.kernel_end - plan.kernel_addr));
		cr_assert_not(overlaps(plan.cmdline_addr, plan.cmdline_len + 1, plan.kernel_addr,
				       plan.kernel_end - plan.kernel_addr));
		cr_assert_not(overlaps(plan.cmdline_addr, plan.cmdline_len + 1, plan.initrd_addr,
				       plan.initrd_size));
		/* The boot structures sit below the kernel too. */
		cr_assert_lt(BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX, LAYOUT_EBDA_START);
		cr_assert_lt(BOOT_PD_ADDR + 4 * 4096, BOOT_CMDLINE_ADDR);
	}
	free(p);
}

Test(boot, plan_errors_name_the_fix)
{
	uint8_t *p = fake_bzimage();
	struct boot_image img;
	struct boot_ram ram = ram_of(64ULL << 20);
	struct boot_plan plan;
	char err[256];

	cr_assert_eq(boot_image_parse(p, IMG_LEN, &img, NULL, 0), 0);
	/* Kernel fits (ends at 48 MiB) but a 20 MiB initrd does not. */
	cr_assert_eq(boot_plan_make(&img, &ram, 0, 20ULL << 20, &plan, err, sizeof(err)),
		     -ENOMEM);
	cr_assert(strstr(err, "initrd") && strstr(err, "-m"), "%s", err);
	cr_assert_eq(boot_plan_make(&img, &ram, 2048, 0, &plan, err, sizeof(err)), -E2BIG);
	cr_assert(strstr(err, "2047"), "%s", err);
	cr_assert_eq(boot_plan_make(&img, &ram, 2047, 0, &plan, err, sizeof(err)), 0);
	free(p);
}

static char *write_temp(const void *data, size_t len)
{
	char *path = strdup("/tmp/ferry-boot-XXXXXX");
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(boot, load_fills_guest_memory_and_the_zero_page)
{
	uint8_t *p = fake_bzimage();
	uint8_t initrd[3 * 4096 + 17];
	struct mem_map *map;
	struct mem_ram *ram;
	struct mem_ram_opts o = { .size = 256ULL << 20 };
	struct boot_ram bram;
	struct boot_cpu_state cpu;
	char err[256] = "";
	const char *cmdline = "console=ttyS0 ferry=1";

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	char *kpath = write_temp(p, IMG_LEN), *ipath = write_temp(initrd, sizeof(initrd));
	struct boot_config cfg = { .kernel = kpath, .initrd = ipath, .cmdline = cmdline,
				   .rsdp = LAYOUT_ACPI_START };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_ram_new(map, &o, &ram, err, sizeof(err)), 0, "%s", err);
	bram.low_top = mem_ram_low_top(ram);
	bram.high_end = mem_ram_high_end(ram);
	cr_assert_eq(boot_load(map, &bram, &cfg, &cpu, err, sizeof(err)), 0, "%s", err);

	struct boot_params *bp = mem_map_gpa_to_hva(map, BOOT_ZERO_PAGE_ADDR, sizeof(*bp));

	cr_assert_eq(bp->hdr.header, 0x53726448);	/* "HdrS" copied from the image */
	cr_assert_eq(bp->hdr.version, 0x020f);
	cr_assert_eq(bp->hdr.type_of_loader, 0xff);
	cr_assert_eq(bp->sentinel, 0);
	cr_assert_eq(bp->acpi_rsdp_addr, LAYOUT_ACPI_START);
	cr_assert_str_eq(mem_map_gpa_to_hva(map, bp->hdr.cmd_line_ptr, strlen(cmdline) + 1),
			 cmdline);
	cr_assert_eq(bp->hdr.ramdisk_size, sizeof(initrd));
	cr_assert_eq(memcmp(mem_map_gpa_to_hva(map, bp->hdr.ramdisk_image, sizeof(initrd)),
			    initrd, sizeof(initrd)), 0);
	cr_assert_eq(memcmp(mem_map_gpa_to_hva(map, IMG_PREF, IMG_LEN - 5 * 512), p + 5 * 512,
			    IMG_LEN - 5 * 512), 0);
	cr_assert_geq(bp->e820_entries, 4);

	cr_assert_eq(cpu.rip, IMG_PREF + 0x200);
	cr_assert_eq(cpu.rsi, BOOT_ZERO_PAGE_ADDR);
	cr_assert_eq(cpu.efer & 0x500, 0x500);
	cr_assert(cpu.cr0 & 0x80000001);
	cr_assert_eq(cpu.cs, 0x10);
	cr_assert_eq(cpu.ds, 0x18);

	/* Page tables: the walk for the kernel's entry maps it to itself. */
	uint64_t *pml4 = mem_map_gpa_to_hva(map, cpu.cr3, 4096);
	uint64_t *pdpt = mem_map_gpa_to_hva(map, pml4[0] & ~0xfffULL, 4096);
	uint64_t *pd = mem_map_gpa_to_hva(map, pdpt[0] & ~0xfffULL, 4096);

	cr_assert(pml4[0] & 1);
	cr_assert_eq(pd[cpu.rip >> 21] & ~0x1fffffULL, cpu.rip & ~0x1fffffULL);
	cr_assert(pd[cpu.rip >> 21] & 0x80);
	/* GDT: 64-bit code at 0x10 (L bit), data at 0x18. */
	uint64_t *gdt = mem_map_gpa_to_hva(map, cpu.gdt_base, cpu.gdt_limit + 1);

	cr_assert(gdt[2] & (1ULL << 53));
	cr_assert(gdt[3] & (1ULL << 47));

	mem_ram_free(ram);
	mem_map_free(map);
	unlink(kpath);
	unlink(ipath);
	free(kpath);
	free(ipath);
	free(p);
}

Test(boot, load_errors_name_the_file)
{
	struct mem_map *map;
	struct mem_ram *ram;
	struct mem_ram_opts o = { .size = 64ULL << 20 };
	struct boot_ram bram;
	struct boot_cpu_state cpu;
	char err[256] = "";
	char *notk = write_temp("hello", 5);
	struct boot_config missing = { .kernel = "/nonexistent/bzImage" };
	struct boot_config bad = { .kernel = notk };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_ram_new(map, &o, &ram, err, sizeof(err)), 0, "%s", err);
	bram.low_top = mem_ram_low_top(ram);
	bram.high_end = 0;
	cr_assert_eq(boot_load(map, &bram, &missing, &cpu, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/bzImage"), "%s", err);
	cr_assert_eq(boot_load(map, &bram, &bad, &cpu, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, notk) && strstr(err, "not a bzImage"), "%s", err);

	uint8_t *img = fake_bzimage();
	char *kpath = write_temp(img, IMG_LEN), *empty = write_temp("", 0);
	struct boot_config noinitrd = { .kernel = kpath, .initrd = "/nonexistent/initrd" };
	struct boot_config emptyinitrd = { .kernel = kpath, .initrd = empty };
	struct boot_config dir = { .kernel = "/tmp" };

	cr_assert_eq(boot_load(map, &bram, &noinitrd, &cpu, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "-initrd /nonexistent/initrd"), "%s", err);
	cr_assert_eq(boot_load(map, &bram, &emptyinitrd, &cpu, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "empty"), "%s", err);
	cr_assert_eq(boot_load(map, &bram, &dir, &cpu, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "not a regular file"), "%s", err);
	unlink(kpath);
	unlink(empty);
	free(kpath);
	free(empty);
	free(img);
	mem_ram_free(ram);
	mem_map_free(map);
	unlink(notk);
	free(notk);
}
