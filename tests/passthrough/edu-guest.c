// SPDX-License-Identifier: GPL-2.0-only
/*
 * edu-guest: runs inside the guest ferry boots in the lab (lab-edu-test) and
 * drives the passed-through edu devices (QEMU docs/specs/edu.txt) from
 * userspace: sysfs finds them, resource0 is BAR0, /proc/self/pagemap gives a
 * buffer's physical address for DMA.
 *
 *   edu-guest            every edu device in turn: "EDU-<CHECK>: ok|FAIL ...
 *                        dev=<guest BDF>" per check, then "EDU-COUNT: N"
 *   edu-guest hammer N   N 32-bit reads of the first edu's id register
 *                        through the BAR0 mmap (each one checked), then
 *                        "EDU-HAMMER: ok N reads bar0=0x<guest address>";
 *                        lab-edu-test compares N with ferry's exit count
 *
 * Built with gcc -static.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EDU_BAR_SIZE	(1 << 20)
#define EDU_DMA_BUF	0x40000		/* the DMA buffer's device address */
/*
 * Less than edu's 4 KiB buffer: QEMU 7.2's edu aborts the whole machine
 * (hw_error) on a transfer of exactly 4096 bytes at 0x40000 (found in the lab).
 */
#define EDU_DMA_LEN	1024

static volatile uint8_t *bar;

static uint32_t rd32(unsigned int off)
{
	return *(volatile uint32_t *)(bar + off);
}

static void wr32(unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(bar + off) = v;
}

static void wr64(unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(bar + off) = v;
}

static unsigned long read_hex(const char *dir, const char *name)
{
	char path[512], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strtoul(buf, NULL, 16);
}

/* The @nth (0-based) edu in the guest's /sys/bus/pci/devices, sorted. */
static int find_edu(int nth, char *dir, size_t len)
{
	struct dirent **names;
	int n, found = -1;

	n = scandir("/sys/bus/pci/devices", &names, NULL, alphasort);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (found < 0 && names[i]->d_name[0] != '.') {
			snprintf(dir, len, "/sys/bus/pci/devices/%s", names[i]->d_name);
			if (read_hex(dir, "vendor") == 0x1234 && read_hex(dir, "device") == 0x11e8 &&
			    nth-- == 0)
				found = 0;
		}
		free(names[i]);
	}
	free(names);
	return found;
}

/* The guest-physical address of BAR0 (first field of sysfs "resource"). */
static unsigned long long bar0_address(const char *dir)
{
	char path[400];
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/resource", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llx", &start) != 1)
		start = 0;
	fclose(f);
	return start;
}

/* Enables memory decode and bus mastering, mmaps BAR0 into `bar`. */
static int edu_open(const char *dir, const char *name)
{
	char path[400];
	uint16_t cmd;
	int fd, cfd;

	/* No firmware ran: the kernel placed BAR0 but decoding is ours to enable. */
	snprintf(path, sizeof(path), "%s/config", dir);
	cfd = open(path, O_RDWR);
	if (cfd < 0 || pread(cfd, &cmd, 2, 4) != 2) {
		printf("EDU-CONFIG: FAIL %s: %s dev=%s\n", path, strerror(errno), name);
		return -1;
	}
	cmd |= 0x6;	/* memory decode, bus master */
	if (pwrite(cfd, &cmd, 2, 4) != 2) {
		printf("EDU-CONFIG: FAIL writing COMMAND: %s dev=%s\n", strerror(errno), name);
		close(cfd);
		return -1;
	}
	close(cfd);
	snprintf(path, sizeof(path), "%s/resource0", dir);
	fd = open(path, O_RDWR | O_SYNC);
	bar = fd < 0 ? MAP_FAILED : mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE,
					   MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (bar == MAP_FAILED) {
		printf("EDU-MMAP: FAIL %s: %s dev=%s\n", path, strerror(errno), name);
		return -1;
	}
	return 0;
}

static void edu_close(void)
{
	munmap((void *)bar, EDU_BAR_SIZE);
	bar = NULL;
}

/* Physical address of @p (mlock'ed), or 0. */
static uint64_t phys_of(void *p)
{
	uint64_t entry, page = (uint64_t)sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	off_t off = (off_t)((uintptr_t)p / page * 8);

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, 8, off) != 8)
		entry = 0;
	close(fd);
	if (!(entry & (1ULL << 63)))
		return 0;
	return (entry & ((1ULL << 55) - 1)) * page + ((uintptr_t)p % page);
}

static int dma_wait(void)
{
	for (int i = 0; i < 1000000; i++) {
		if (!(rd32(0x98) & 1))
			return 0;
		usleep(10);
	}
	return -1;
}

/* The checks on one edu; returns how many failed. */
static int edu_check(const char *dir, int nth)
{
	const char *name = strrchr(dir, '/') + 1;
	uint8_t *src, *dst;
	uint64_t psrc, pdst;
	uint32_t v;
	int bad = 0;

	printf("EDU-FOUND: ok %s\n", dir);
	if (edu_open(dir, name))
		return 1;
	v = rd32(0x00);
	printf("EDU-ID: %s 0x%08x dev=%s\n", v == 0x010000ed ? "ok" : "FAIL", v, name);
	bad += v != 0x010000ed;
	wr32(0x04, 0x12345678);
	v = rd32(0x04);
	printf("EDU-INVERT: %s 0x%08x dev=%s\n", v == 0xedcba987 ? "ok" : "FAIL", v, name);
	bad += v != 0xedcba987;
	/* A different factorial per device: a reply from the wrong device shows. */
	wr32(0x08, 5 + nth);
	for (int i = 0; i < 100000 && (rd32(0x20) & 1); i++)
		usleep(10);
	v = rd32(0x08);
	{
		uint32_t want = nth ? 720 : 120;

		printf("EDU-FACTORIAL: %s %u dev=%s\n", v == want ? "ok" : "FAIL", v, name);
		bad += v != want;
	}

	/* DMA: RAM -> device -> RAM through the host's IOMMU (ferry's mappings). */
	src = aligned_alloc(4096, 4096);
	dst = aligned_alloc(4096, 4096);
	if (!src || !dst || mlock(src, EDU_DMA_LEN) || mlock(dst, EDU_DMA_LEN)) {
		printf("EDU-DMA: FAIL no locked buffers dev=%s\n", name);
		edu_close();
		return bad + 1;
	}
	for (int i = 0; i < EDU_DMA_LEN; i++) {
		src[i] = (uint8_t)(i * 7 + 3 + nth);
		dst[i] = 0;
	}
	psrc = phys_of(src);
	pdst = phys_of(dst);
	if (!psrc || !pdst) {
		printf("EDU-DMA: FAIL no physical address from /proc/self/pagemap dev=%s\n", name);
		edu_close();
		return bad + 1;
	}
	wr64(0x80, psrc);
	wr64(0x88, EDU_DMA_BUF);
	wr64(0x90, EDU_DMA_LEN);
	wr32(0x98, 1);			/* start, RAM -> device */
	if (dma_wait()) {
		printf("EDU-DMA: FAIL RAM->device did not finish dev=%s\n", name);
		edu_close();
		return bad + 1;
	}
	wr64(0x80, EDU_DMA_BUF);
	wr64(0x88, pdst);
	wr64(0x90, EDU_DMA_LEN);
	wr32(0x98, 1 | 2);		/* start, device -> RAM */
	if (dma_wait()) {
		printf("EDU-DMA: FAIL device->RAM did not finish dev=%s\n", name);
		edu_close();
		return bad + 1;
	}
	v = !memcmp(src, dst, EDU_DMA_LEN);
	printf("EDU-DMA: %s %d bytes 0x%llx -> dev 0x%x -> 0x%llx dev=%s\n", v ? "ok" : "FAIL",
	       EDU_DMA_LEN, (unsigned long long)psrc, EDU_DMA_BUF, (unsigned long long)pdst,
	       name);
	bad += !v;
	edu_close();
	return bad;
}

/* @n reads of the id register through the mmap: each one a guest access to BAR0. */
static int edu_hammer(long n)
{
	char dir[300];
	long good = 0;

	if (find_edu(0, dir, sizeof(dir))) {
		printf("EDU-HAMMER: FAIL no 1234:11e8 in /sys/bus/pci/devices\n");
		return 1;
	}
	if (edu_open(dir, strrchr(dir, '/') + 1))
		return 1;
	for (long i = 0; i < n; i++)
		good += rd32(0x00) == 0x010000ed;
	printf("EDU-HAMMER: %s %ld reads bar0=0x%llx (%ld returned the id)\n",
	       good == n ? "ok" : "FAIL", n, bar0_address(dir), good);
	edu_close();
	return good == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	char dir[300];
	int n = 0, bad = 0;

	if (argc == 3 && !strcmp(argv[1], "hammer"))
		return edu_hammer(strtol(argv[2], NULL, 10));
	while (!find_edu(n, dir, sizeof(dir)))
		bad += edu_check(dir, n++);
	if (!n)
		printf("EDU-FOUND: FAIL no 1234:11e8 in /sys/bus/pci/devices\n");
	printf("EDU-COUNT: %d\n", n);
	return bad || !n ? 1 : 0;
}
