// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest RAM: one mapping, split around the 32-bit hole into at most two
 * regions of the memory map.
 *
 * By default the mapping is anonymous and private, as QEMU's default RAM:
 * with the usual transparent_hugepage=madvise, MADV_HUGEPAGE then gives it
 * 2 MiB pages, which the guest's TLB and VFIO's pinning (one pin per huge
 * page instead of 512) both profit from.  A memfd would only get them with
 * shmem_enabled=advise, which hosts rarely set.  Huge pages (hugetlb),
 * -mem-path and an explicit wish to share (mem_ram_opts.shared) use a file
 * mapped MAP_SHARED, whose fd the regions carry so the pages can be handed
 * to other users.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "memory/memory.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

struct mem_ram {
	struct mem_map *map;
	int fd;
	void *base;
	uint64_t size;
	struct mem_range ranges[2];
	unsigned int nr_ranges;
	unsigned int nr_added;
};

static void ram_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

unsigned int mem_layout_ram(uint64_t size, struct mem_range ranges[2])
{
	uint64_t low = size < MEM_LOW_RAM_TOP ? size : MEM_LOW_RAM_TOP;

	ranges[0].gpa = 0;
	ranges[0].size = low;
	if (size == low)
		return 1;
	ranges[1].gpa = MEM_HIGH_RAM_BASE;
	ranges[1].size = size - low;
	return 2;
}

static void human_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= (1ULL << 30) && !(bytes & ((1ULL << 30) - 1)))
		snprintf(buf, len, "%llu GiB", (unsigned long long)(bytes >> 30));
	else if (bytes >= (1ULL << 20) && !(bytes & ((1ULL << 20) - 1)))
		snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, len, "%llu KiB", (unsigned long long)(bytes >> 10));
}

/* Opens the backing file; reports the page size that @size must be a multiple of. */
static int ram_open(const struct mem_ram_opts *opts, uint64_t *page, uint32_t *flags,
		    char *err, size_t errlen)
{
	struct statfs sfs;
	int fd;

	*page = (uint64_t)sysconf(_SC_PAGESIZE);
	*flags = MEM_REGION_RAM;

	if (!opts->mem_path) {
		fd = memfd_create("ferry-ram", MFD_CLOEXEC | (opts->hugetlb ? MFD_HUGETLB : 0));
		if (fd < 0) {
			int e = errno;

			ram_err(err, errlen, "cannot create the guest RAM memfd%s: %s",
				opts->hugetlb ? " with huge pages" : "", strerror(e));
			return -e;
		}
		if (opts->hugetlb) {
			/* The default huge page size is the memfd's block size. */
			struct stat st;

			if (!fstat(fd, &st) && st.st_blksize > 0)
				*page = (uint64_t)st.st_blksize;
			*flags |= MEM_REGION_HUGETLB;
		}
		return fd;
	}

	if (statfs(opts->mem_path, &sfs)) {
		int e = errno;

		ram_err(err, errlen, "-mem-path %s: %s", opts->mem_path, strerror(e));
		return -e;
	}
	fd = open(opts->mem_path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		/* hugetlbfs has no O_TMPFILE: create a named file and unlink it at once. */
		size_t n = strlen(opts->mem_path) + sizeof("/ferry-ram.XXXXXX");
		char *name = malloc(n);

		if (!name)
			return -ENOMEM;
		snprintf(name, n, "%s/ferry-ram.XXXXXX", opts->mem_path);
		fd = mkostemp(name, O_CLOEXEC);
		if (fd >= 0)
			unlink(name);
		free(name);
	}
	if (fd < 0) {
		int e = errno;

		ram_err(err, errlen, "-mem-path %s: cannot create the guest RAM file there: %s",
			opts->mem_path, strerror(e));
		return -e;
	}
	if ((uint32_t)sfs.f_type == HUGETLBFS_MAGIC) {
		*page = (uint64_t)sfs.f_bsize;
		*flags |= MEM_REGION_HUGETLB;
	}
	return fd;
}

static int ram_add_regions(struct mem_ram *ram, uint32_t flags)
{
	uint64_t off = 0;

	for (unsigned int i = 0; i < ram->nr_ranges; i++) {
		struct mem_region r = {
			.gpa = ram->ranges[i].gpa,
			.size = ram->ranges[i].size,
			.hva = (char *)ram->base + off,
			.fd = ram->fd,
			.fd_offset = off,
			.flags = flags,
		};
		int ret = mem_map_add(ram->map, &r);

		if (ret)
			return ret;
		ram->nr_added++;
		off += r.size;
	}
	return 0;
}

static void ram_del_regions(struct mem_ram *ram)
{
	while (ram->nr_added) {
		ram->nr_added--;
		mem_map_del(ram->map, ram->ranges[ram->nr_added].gpa);
	}
}

int mem_ram_new(struct mem_map *map, const struct mem_ram_opts *opts, struct mem_ram **out,
		char *err, size_t errlen)
{
	struct mem_ram *ram;
	uint64_t page;
	uint32_t flags;
	char want[32], pg[32];
	int ret;

	if (opts->size < MEM_RAM_MIN || opts->size > MEM_RAM_MAX) {
		human_size(opts->size, want, sizeof(want));
		ram_err(err, errlen, "guest RAM of %s is out of range (16 MiB to 1 TiB)", want);
		return -EINVAL;
	}
	ram = calloc(1, sizeof(*ram));
	if (!ram)
		return -ENOMEM;
	ram->map = map;
	ram->size = opts->size;
	ram->base = MAP_FAILED;
	ram->nr_ranges = mem_layout_ram(opts->size, ram->ranges);

	if (!opts->mem_path && !opts->hugetlb && !opts->shared) {
		ram->fd = -1;
		page = (uint64_t)sysconf(_SC_PAGESIZE);
		flags = MEM_REGION_RAM;
	} else {
		ram->fd = ram_open(opts, &page, &flags, err, errlen);
		if (ram->fd < 0) {
			ret = ram->fd;
			goto err_free;
		}
	}
	if (opts->size & (page - 1)) {
		human_size(opts->size, want, sizeof(want));
		human_size(page, pg, sizeof(pg));
		ram_err(err, errlen, "guest RAM of %s is not a multiple of the page size %s",
			want, pg);
		ret = -EINVAL;
		goto err_close;
	}
	if (ram->fd >= 0 && ftruncate(ram->fd, (off_t)opts->size)) {
		ret = -errno;
		ram_err(err, errlen, "cannot size the guest RAM file: %s", strerror(-ret));
		goto err_close;
	}
	if (flags & MEM_REGION_HUGETLB) {
		/*
		 * Reserve every huge page now: a shortage is then a clear error
		 * here instead of SIGBUS when the guest first touches the page.
		 */
		if (fallocate(ram->fd, 0, 0, (off_t)opts->size)) {
			ret = -errno;
			human_size(opts->size, want, sizeof(want));
			human_size(page, pg, sizeof(pg));
			ram_err(err, errlen,
				"cannot reserve %s of huge pages (%llu pages of %s): %s; "
				"raise /proc/sys/vm/nr_hugepages", want,
				(unsigned long long)(opts->size / page), pg, strerror(-ret));
			goto err_close;
		}
	}
	if (ram->fd >= 0)
		ram->base = mmap(NULL, opts->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_NORESERVE, ram->fd, 0);
	else
		ram->base = mmap(NULL, opts->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram->base == MAP_FAILED) {
		ret = -errno;
		human_size(opts->size, want, sizeof(want));
		ram_err(err, errlen, "cannot map %s of guest RAM: %s", want, strerror(-ret));
		goto err_close;
	}
	/* Best effort: THP may be disabled or not built; RAM works without it. */
	if (opts->thp && !(flags & MEM_REGION_HUGETLB))
		madvise(ram->base, opts->size, MADV_HUGEPAGE);

	ret = ram_add_regions(ram, flags);
	if (ret) {
		ram_err(err, errlen, "cannot add guest RAM to the memory map: %s", strerror(-ret));
		goto err_del;
	}
	*out = ram;
	return 0;

err_del:
	ram_del_regions(ram);
	munmap(ram->base, opts->size);
err_close:
	if (ram->fd >= 0)
		close(ram->fd);
err_free:
	free(ram);
	return ret;
}

void mem_ram_free(struct mem_ram *ram)
{
	if (!ram)
		return;
	ram_del_regions(ram);
	munmap(ram->base, ram->size);
	if (ram->fd >= 0)
		close(ram->fd);
	free(ram);
}

uint64_t mem_ram_low_top(const struct mem_ram *ram)
{
	return ram->ranges[0].size;
}

uint64_t mem_ram_high_end(const struct mem_ram *ram)
{
	return ram->nr_ranges > 1 ? ram->ranges[1].gpa + ram->ranges[1].size : 0;
}
