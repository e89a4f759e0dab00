// SPDX-License-Identifier: GPL-2.0-only
/* memory/: layout, the memory map's listener protocol, and RAM allocation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "memory/memory.h"

/* A listener that records what it was told and can be told to fail. */
struct rec {
	uint64_t gpa[16];
	uint64_t size[16];
	int last_fd;		/* fd of the last region added */
	int n;			/* regions currently held */
	int adds, dels;
	int fail_on_add;	/* fail the Nth region_add (1-based), 0 = never */
};

static int rec_add(void *opaque, const struct mem_region *r)
{
	struct rec *rec = opaque;

	rec->adds++;
	if (rec->fail_on_add && rec->adds == rec->fail_on_add)
		return -ENOSPC;
	rec->gpa[rec->n] = r->gpa;
	rec->size[rec->n] = r->size;
	rec->last_fd = r->fd;
	rec->n++;
	return 0;
}

static void rec_del(void *opaque, const struct mem_region *r)
{
	struct rec *rec = opaque;

	rec->dels++;
	for (int i = 0; i < rec->n; i++) {
		if (rec->gpa[i] == r->gpa) {
			cr_assert_eq(rec->size[i], r->size);
			memmove(&rec->gpa[i], &rec->gpa[i + 1],
				(rec->n - i - 1) * sizeof(uint64_t));
			memmove(&rec->size[i], &rec->size[i + 1],
				(rec->n - i - 1) * sizeof(uint64_t));
			rec->n--;
			return;
		}
	}
	cr_assert_fail("region_del for 0x%llx that the listener never got",
		       (unsigned long long)r->gpa);
}

static const struct mem_listener_ops rec_ops = { rec_add, rec_del };

static char backing[4][4096] __attribute__((aligned(4096)));

static struct mem_region region(uint64_t gpa, uint64_t size, int i)
{
	return (struct mem_region){ .gpa = gpa, .size = size, .hva = backing[i], .fd = -1,
				    .flags = MEM_REGION_RAM };
}

Test(memory, layout_small_ram_is_one_range)
{
	struct mem_range r[2];

	cr_assert_eq(mem_layout_ram(512ULL << 20, r), 1);
	cr_assert_eq(r[0].gpa, 0);
	cr_assert_eq(r[0].size, 512ULL << 20);
	cr_assert_eq(mem_layout_ram(MEM_LOW_RAM_TOP, r), 1);
	cr_assert_eq(r[0].size, MEM_LOW_RAM_TOP);
}

Test(memory, layout_large_ram_skips_the_hole)
{
	struct mem_range r[2];

	cr_assert_eq(mem_layout_ram(8ULL << 30, r), 2);
	cr_assert_eq(r[0].gpa, 0);
	cr_assert_eq(r[0].size, MEM_LOW_RAM_TOP);
	cr_assert_eq(r[1].gpa, MEM_HIGH_RAM_BASE);
	cr_assert_eq(r[0].size + r[1].size, 8ULL << 30);
	/* Nothing lands in the MSI window or the rest of the hole. */
	cr_assert_leq(r[0].gpa + r[0].size, 0xfee00000ULL);
	cr_assert_geq(r[1].gpa, 0x100000000ULL);
}

Test(memory, listener_is_replayed_existing_regions)
{
	struct mem_map *map;
	struct mem_listener *l;
	struct mem_region a = region(0x2000, 0x1000, 0), b = region(0x0, 0x1000, 1);
	struct rec rec = { 0 };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_add(map, &a), 0);
	cr_assert_eq(mem_map_add(map, &b), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &rec, &l), 0);
	cr_assert_eq(rec.n, 2);
	/* Replay is in address order. */
	cr_assert_eq(rec.gpa[0], 0x0);
	cr_assert_eq(rec.gpa[1], 0x2000);
	mem_map_unlisten(map, l);
	cr_assert_eq(rec.n, 0);
	cr_assert_eq(rec.dels, 2);
	mem_map_free(map);
}

Test(memory, add_and_del_reach_every_listener)
{
	struct mem_map *map;
	struct mem_listener *l1, *l2;
	struct mem_region a = region(0x10000, 0x2000, 0);
	struct rec r1 = { 0 }, r2 = { 0 };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &r1, &l1), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &r2, &l2), 0);
	cr_assert_eq(mem_map_add(map, &a), 0);
	cr_assert_eq(r1.n, 1);
	cr_assert_eq(r2.n, 1);
	cr_assert_eq(r1.gpa[0], 0x10000);
	cr_assert_eq(mem_map_del(map, 0x10000), 0);
	cr_assert_eq(r1.n, 0);
	cr_assert_eq(r2.n, 0);
	cr_assert_eq(mem_map_del(map, 0x10000), -ENOENT);
	mem_map_unlisten(map, l2);
	mem_map_unlisten(map, l1);
	mem_map_free(map);
}

Test(memory, overlap_and_misalignment_are_refused)
{
	struct mem_map *map;
	struct mem_region a = region(0x10000, 0x2000, 0);
	struct mem_region over = region(0x11000, 0x2000, 1);
	struct mem_region odd = region(0x20800, 0x1000, 2);
	struct mem_region empty = region(0x30000, 0, 3);

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_add(map, &a), 0);
	cr_assert_eq(mem_map_add(map, &over), -EEXIST);
	cr_assert_eq(mem_map_add(map, &odd), -EINVAL);
	cr_assert_eq(mem_map_add(map, &empty), -EINVAL);
	mem_map_free(map);
}

Test(memory, failed_listener_rolls_back_the_add)
{
	struct mem_map *map;
	struct mem_listener *l1, *l2;
	struct mem_region a = region(0x10000, 0x1000, 0);
	struct rec ok = { 0 }, bad = { .fail_on_add = 1 };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &ok, &l1), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &bad, &l2), 0);
	cr_assert_eq(mem_map_add(map, &a), -ENOSPC);
	/* Whoever was told about it was told it is gone again; the map lacks it. */
	cr_assert_eq(ok.n, 0);
	cr_assert_eq(bad.n, 0);
	cr_assert_null(mem_map_gpa_to_hva(map, 0x10000, 1));
	mem_map_unlisten(map, l2);
	mem_map_unlisten(map, l1);
	mem_map_free(map);
}

Test(memory, failed_replay_leaves_listener_unregistered)
{
	struct mem_map *map;
	struct mem_listener *l = NULL;
	struct mem_region a = region(0x0, 0x1000, 0), b = region(0x1000, 0x1000, 1);
	struct mem_region c = region(0x2000, 0x1000, 2);
	struct rec bad = { .fail_on_add = 2 };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_add(map, &a), 0);
	cr_assert_eq(mem_map_add(map, &b), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &bad, &l), -ENOSPC);
	cr_assert_null(l);
	cr_assert_eq(bad.n, 0);
	cr_assert_eq(bad.dels, 1);
	/* Not registered: a later add does not reach it. */
	cr_assert_eq(mem_map_add(map, &c), 0);
	cr_assert_eq(bad.adds, 2);
	mem_map_free(map);
}

Test(memory, free_tells_remaining_listeners)
{
	struct mem_map *map;
	struct mem_region a = region(0x0, 0x1000, 0);
	struct rec rec = { 0 };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &rec, NULL), 0);
	cr_assert_eq(mem_map_add(map, &a), 0);
	mem_map_free(map);
	cr_assert_eq(rec.n, 0);
	cr_assert_eq(rec.dels, 1);
}

Test(memory, gpa_to_hva_stays_inside_one_region)
{
	struct mem_map *map;
	struct mem_region a = region(0x0, 0x1000, 0), b = region(0x1000, 0x1000, 1);

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_add(map, &a), 0);
	cr_assert_eq(mem_map_add(map, &b), 0);
	cr_assert_eq(mem_map_gpa_to_hva(map, 0x10, 16), backing[0] + 0x10);
	cr_assert_eq(mem_map_gpa_to_hva(map, 0x1ff0, 16), backing[1] + 0xff0);
	/* Spanning two regions is refused even when they are adjacent in gpa. */
	cr_assert_null(mem_map_gpa_to_hva(map, 0xff0, 32));
	cr_assert_null(mem_map_gpa_to_hva(map, 0x2000, 1));
	cr_assert_null(mem_map_gpa_to_hva(map, UINT64_MAX, 2));
	mem_map_free(map);
}

static int count_regions(void *opaque, const struct mem_region *r)
{
	(*(int *)opaque)++;
	cr_assert(r->flags & MEM_REGION_RAM);
	return 0;
}

/* "AnonHugePages:" of the mapping that contains @addr, in KiB, or -1. */
static long smaps_anon_huge_kib(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false;
	long kib = -1;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (inside && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* Whether the host gives transparent huge pages to madvise()d anonymous memory. */
static bool thp_madvise_works(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char buf[128] = "";

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strstr(buf, "[never]") && buf[0];
}

Test(memory, default_ram_is_anonymous_and_gets_transparent_huge_pages)
{
	struct mem_map *map;
	struct mem_ram *ram;
	struct rec rec = { 0 };
	char err[256] = "";
	struct mem_ram_opts o = { .size = 64ULL << 20, .thp = true };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &rec, NULL), 0);
	cr_assert_eq(mem_ram_new(map, &o, &ram, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rec.last_fd, -1, "default RAM is anonymous: its regions carry no fd");
	char *p = mem_map_gpa_to_hva(map, 0, 64ULL << 20);

	cr_assert_not_null(p);
	/* Touch a 2 MiB-aligned 8 MiB stretch so the fault path can use huge pages. */
	char *q = (char *)(((uintptr_t)p + (2ULL << 20) - 1) & ~((2ULL << 20) - 1));

	memset(q, 0x5a, 8ULL << 20);
	if (thp_madvise_works())
		cr_expect_gt(smaps_anon_huge_kib(q), 0,
			     "madvise(MADV_HUGEPAGE) on the RAM should give it huge pages");
	mem_ram_free(ram);
	mem_map_free(map);
}

Test(memory, shared_ram_is_a_memfd_whose_fd_the_regions_carry)
{
	struct mem_map *map;
	struct mem_ram *ram;
	struct rec rec = { 0 };
	char err[256] = "";
	struct mem_ram_opts o = { .size = 32ULL << 20, .shared = true };
	char link[64], target[128] = "";

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &rec, NULL), 0);
	cr_assert_eq(mem_ram_new(map, &o, &ram, err, sizeof(err)), 0, "%s", err);
	cr_assert_geq(rec.last_fd, 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", rec.last_fd);
	cr_assert_gt(readlink(link, target, sizeof(target) - 1), 0);
	cr_assert(strstr(target, "memfd:ferry-ram"), "%s", target);
	mem_ram_free(ram);
	mem_map_free(map);
}

Test(memory, ram_is_one_mapping_shared_between_regions)
{
	struct mem_map *map;
	struct mem_ram *ram;
	struct rec rec = { 0 };
	char err[256] = "";
	struct mem_ram_opts o = { .size = 64ULL << 20, .thp = true };
	int n = 0;

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_map_listen(map, &rec_ops, &rec, NULL), 0);
	cr_assert_eq(mem_ram_new(map, &o, &ram, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.size[0], 64ULL << 20);
	cr_assert_eq(mem_ram_low_top(ram), 64ULL << 20);
	cr_assert_eq(mem_ram_high_end(ram), 0);
	cr_assert_eq(mem_map_for_each(map, count_regions, &n), 0);
	cr_assert_eq(n, 1);
	/* Writable memory behind the guest addresses. */
	char *p = mem_map_gpa_to_hva(map, (32ULL << 20), 8);

	cr_assert_not_null(p);
	memcpy(p, "ferry!!", 8);
	cr_assert_str_eq(mem_map_gpa_to_hva(map, 32ULL << 20, 8), "ferry!!");
	mem_ram_free(ram);
	cr_assert_eq(rec.n, 0);
	mem_map_free(map);
}

Test(memory, ram_size_is_validated)
{
	struct mem_map *map;
	struct mem_ram *ram;
	char err[256] = "";
	struct mem_ram_opts tiny = { .size = 1 << 20 };
	struct mem_ram_opts odd = { .size = (64ULL << 20) + 100 };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_ram_new(map, &tiny, &ram, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "out of range"), "%s", err);
	cr_assert_eq(mem_ram_new(map, &odd, &ram, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "page size"), "%s", err);
	mem_map_free(map);
}

Test(memory, mem_path_that_does_not_exist_is_named)
{
	struct mem_map *map;
	struct mem_ram *ram;
	char err[256] = "";
	struct mem_ram_opts o = { .size = 32ULL << 20, .mem_path = "/nonexistent/hugepages" };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_ram_new(map, &o, &ram, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/hugepages"), "%s", err);
	mem_map_free(map);
}

Test(memory, mem_path_directory_backs_ram_with_an_unlinked_file)
{
	struct mem_map *map;
	struct mem_ram *ram;
	char dir[] = "/tmp/ferry-mem-XXXXXX";
	char err[256] = "";

	cr_assert_not_null(mkdtemp(dir));
	struct mem_ram_opts o = { .size = 32ULL << 20, .mem_path = dir };

	cr_assert_eq(mem_map_new(&map), 0);
	cr_assert_eq(mem_ram_new(map, &o, &ram, err, sizeof(err)), 0, "%s", err);
	/* The file is unlinked: the directory is empty and can be removed. */
	cr_assert_eq(rmdir(dir), 0);
	mem_ram_free(ram);
	mem_map_free(map);
}
