// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench-dma-lab: times the DMA mapping of guest RAM, in the lab (run by
 * tests/passthrough/bench-dma, which prints the table).
 *
 *   bench-dma-lab all   BDF SIZE_MIB [-H HUGETLBFS_DIR] [-r REPS] [-q QEMU] [-a ACCEL]
 *   bench-dma-lab ferry BDF SIZE_MIB [-H HUGETLBFS_DIR] [-r REPS]
 *   bench-dma-lab raw   BDF SIZE_MIB [-H HUGETLBFS_DIR] [-r REPS]
 *   bench-dma-lab qemu  BDF SIZE_MIB [-H HUGETLBFS_DIR] [-r REPS] [-q QEMU] [-a ACCEL]
 *
 * Every repetition starts from fresh RAM made the way ferry makes it
 * (memory/'s mem_ram_new: anonymous memory without MADV_HUGEPAGE, so 4 KiB
 * pages, or a file in a hugetlbfs mount whose huge
 * pages it reserves with fallocate; 4 KiB pages are not touched beforehand,
 * so pinning them faults them in, as at a real ferry start).  It prints one
 * line per quantity:
 *   BENCH <vmm> <what> <size_mib> <4k|2m> median_ms <m> samples_ms <s,...>
 * "all" interleaves the runs (raw, ferry, QEMU, raw, ferry, ...) so that the
 * lab's changing load (it shares the host's cores) falls on each alike.
 *
 * ferry: ferry's own code path, passthrough_host_new + passthrough_device_add
 *   (group, container, SET_IOMMU, the fill of the new container from the
 *   DMA list, kvm-vfio, reset, config space) on a KVM VM:
 *     attach-ram    the attach with guest RAM in the memory map
 *     attach-empty  the same attach with an empty memory map
 *     map-live      after an attach on an empty map, adding the RAM regions
 *                   to the map (memory/ listener -> vfio_ctx_dma_add ->
 *                   MAP_DMA into the live container): the mapping alone,
 *                   through ferry's layers
 * raw: the lower bound, a container with the device's group set up by hand
 *   (type1v2), then one VFIO_IOMMU_MAP_DMA per RAM range of ferry's layout:
 *     map           the MAP_DMA calls
 * qemu: QEMU started with -S and a QMP socket, same RAM size and backing
 *   (memfd, or hugetlbfs with prealloc=on, since ferry reserves huge pages
 *   before its attach):
 *     map           from its trace: the first RAM section's map to the
 *                   device fd (see qemu_trace_map_ms())
 *     ready-vfio    with -device vfio-pci,host=BDF, from fork to the reply
 *                   to query-status (the main loop runs: devices realized)
 *     ready-plain   the same without the device
 *   (the cost of QEMU's vfio-pci realize, mapping included, is the
 *   difference of the last two; on a noisy lab it is only resolved when
 *   large)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/vfio.h>

#include "memory/memory.h"
#include "passthrough/passthrough.h"

#define MAX_REPS 32

struct bench {
	const char *mode;
	const char *bdf;
	uint64_t size;		/* bytes */
	const char *huge;	/* hugetlbfs directory, or NULL for 4 KiB pages */
	int reps;
	const char *qemu;
	const char *accel;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const struct bench *b, const char *vmm, const char *what,
		   const double *samples, int n)
{
	double sorted[MAX_REPS];
	double median;

	memcpy(sorted, samples, sizeof(double) * (size_t)n);
	qsort(sorted, (size_t)n, sizeof(double), cmp_double);
	median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	printf("BENCH %s %s %llu %s median_ms %.2f samples_ms", vmm, what,
	       (unsigned long long)(b->size >> 20), b->huge ? "2m" : "4k", median);
	for (int i = 0; i < n; i++)
		printf("%c%.2f", i ? ',' : ' ', samples[i]);
	printf("\n");
	fflush(stdout);
}

/* Fresh guest RAM in a map of its own, made by memory/ exactly as ferry does. */
static int ram_make(const struct bench *b, struct mem_map **map, struct mem_ram **ram)
{
	struct mem_ram_opts opts = { .size = b->size, .mem_path = b->huge };
	char err[512] = "";
	int ret;

	ret = mem_map_new(map);
	if (ret)
		return ret;
	ret = mem_ram_new(*map, &opts, ram, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bench-dma-lab: %s\n", err);
		mem_map_free(*map);
	}
	return ret;
}

static void ram_drop(struct mem_map *map, struct mem_ram *ram)
{
	mem_ram_free(ram);
	mem_map_free(map);
}

/* ---- ferry ---- */

/*
 * The attach never enables a BAR (no guest runs), so the bus is never asked
 * for a trap or a deferred move; these answer as a VM with no bus would.
 */
static int bench_trap_add(void *vm, enum passthrough_space space, uint64_t base, uint64_t len,
			  struct passthrough_bar *bar)
{
	return -EOPNOTSUPP;
}

static int bench_trap_del(void *vm, enum passthrough_space space, uint64_t base)
{
	return -ENOENT;
}

static int bench_defer(void *vm, void (*fn)(void *arg), void *arg)
{
	return -EPERM;
}

static const struct passthrough_vm_ops bench_vm_ops = {
	.trap_add = bench_trap_add,
	.trap_del = bench_trap_del,
	.defer = bench_defer,
};

static int kvm_vm_new(int *kvm, int *vm)
{
	*kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*kvm < 0) {
		fprintf(stderr, "bench-dma-lab: /dev/kvm: %s\n", strerror(errno));
		return -errno;
	}
	*vm = ioctl(*kvm, KVM_CREATE_VM, 0);
	if (*vm < 0) {
		int e = errno;

		fprintf(stderr, "bench-dma-lab: KVM_CREATE_VM: %s\n", strerror(e));
		close(*kvm);
		return -e;
	}
	return 0;
}

/* One timed passthrough_device_add on a new KVM VM whose memory map is @map. */
static int ferry_attach(const struct bench *b, struct mem_map *map, struct passthrough_host **host,
			int *kvm, int *vm, double *ms)
{
	struct passthrough_vm_config cfg = {
		.sys = vfio_sys_linux(),
		.map = map,
		.cap_ipc_lock = passthrough_process_can_lock(),
		.backend = VFIO_BACKEND_CONTAINER,
		.ops = &bench_vm_ops,
	};
	struct passthrough_opts opts;
	struct passthrough_device *dev;
	char err[1024] = "";
	double t0;
	int ret;

	ret = kvm_vm_new(kvm, vm);
	if (ret)
		return ret;
	cfg.vm_fd = *vm;
	passthrough_opts_init(&opts);
	ret = passthrough_opts_set(&opts, "host", b->bdf, err, sizeof(err));
	if (ret)
		goto err_vm;
	ret = passthrough_host_new(&cfg, host, err, sizeof(err));
	if (ret)
		goto err_vm;
	t0 = now_ms();
	ret = passthrough_device_add(*host, &opts, &dev, err, sizeof(err));
	*ms = now_ms() - t0;
	if (ret) {
		passthrough_host_free(*host);
		goto err_vm;
	}
	return 0;

err_vm:
	fprintf(stderr, "bench-dma-lab: ferry: %s\n", err);
	close(*vm);
	close(*kvm);
	return ret;
}

struct copy_ctx {
	struct mem_map *to;
	int added;
};

static int region_copy(void *opaque, const struct mem_region *r)
{
	struct copy_ctx *c = opaque;
	int ret = mem_map_add(c->to, r);

	if (!ret)
		c->added++;
	return ret;
}

static int region_uncopy(void *opaque, const struct mem_region *r)
{
	mem_map_del(opaque, r->gpa);
	return 0;
}

/*
 * One untimed attach: the first attach of a process pays for cold sysfs
 * lookups and the like, which neither QEMU's nor the raw numbers include.
 */
static int ferry_warm_up(const struct bench *b)
{
	struct passthrough_host *host;
	struct mem_map *warm;
	int kvm, vm, ret;
	double ms;

	ret = mem_map_new(&warm);
	if (ret)
		return ret;
	ret = ferry_attach(b, warm, &host, &kvm, &vm, &ms);
	if (!ret) {
		passthrough_host_free(host);
		close(vm);
		close(kvm);
	}
	mem_map_free(warm);
	return ret;
}

/* One run of each ferry measurement, each on fresh RAM. */
static int ferry_once(const struct bench *b, double *with_ram, double *empty, double *live)
{
	struct mem_map *map, *ram_map, *live_map;
	struct passthrough_host *host;
	struct mem_ram *ram;
	struct copy_ctx copy;
	int kvm, vm, ret;
	double t0;

	/* The attach as at ferry's start: RAM first, then the device. */
	ret = ram_make(b, &map, &ram);
	if (ret)
		return ret;
	ret = ferry_attach(b, map, &host, &kvm, &vm, with_ram);
	if (ret) {
		ram_drop(map, ram);
		return ret;
	}
	passthrough_host_free(host);
	close(vm);
	close(kvm);
	ram_drop(map, ram);

	/* The same attach with no RAM, then RAM added to the live container. */
	ret = mem_map_new(&live_map);
	if (ret)
		return ret;
	ret = ram_make(b, &ram_map, &ram);
	if (ret) {
		mem_map_free(live_map);
		return ret;
	}
	ret = ferry_attach(b, live_map, &host, &kvm, &vm, empty);
	if (ret) {
		ram_drop(ram_map, ram);
		mem_map_free(live_map);
		return ret;
	}
	copy.to = live_map;
	copy.added = 0;
	t0 = now_ms();
	ret = mem_map_for_each(ram_map, region_copy, &copy);
	*live = now_ms() - t0;
	if (ret)
		fprintf(stderr, "bench-dma-lab: ferry: adding RAM to the live map: %s\n",
			strerror(-ret));
	passthrough_host_free(host);
	close(vm);
	close(kvm);
	mem_map_for_each(ram_map, region_uncopy, live_map);
	mem_map_free(live_map);
	ram_drop(ram_map, ram);
	return ret;
}

/* ---- raw ioctls ---- */

static int group_of(const char *bdf, int *group)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	const char *slash;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		fprintf(stderr, "bench-dma-lab: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	link[n] = '\0';
	slash = strrchr(link, '/');
	*group = atoi(slash ? slash + 1 : link);
	return 0;
}

struct raw_ctx {
	int container;
	int nr;
	uint64_t iova[2], size[2];
};

static int raw_map_one(void *opaque, const struct mem_region *r)
{
	struct raw_ctx *c = opaque;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)r->hva,
		.iova = r->gpa,
		.size = r->size,
	};

	if (ioctl(c->container, VFIO_IOMMU_MAP_DMA, &map))
		return -errno;
	c->iova[c->nr] = r->gpa;
	c->size[c->nr] = r->size;
	c->nr++;
	return 0;
}

/* One run of the raw MAP_DMA calls, on fresh RAM and a new container. */
static int raw_once(const struct bench *b, double *ms)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct raw_ctx c = { .nr = 0 };
	struct mem_map *map;
	struct mem_ram *ram;
	const char *what;
	char path[64];
	int group_id = 0, group, ret;
	double t0;

	ret = group_of(b->bdf, &group_id);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group_id);
	ret = ram_make(b, &map, &ram);
	if (ret)
		return ret;
	c.container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	group = open(path, O_RDWR | O_CLOEXEC);
	what = "open /dev/vfio/vfio or the group";
	if (c.container < 0 || group < 0)
		goto fail;
	what = "VFIO_GROUP_GET_STATUS";
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status))
		goto fail;
	what = "VFIO_GROUP_SET_CONTAINER";
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &c.container))
		goto fail;
	what = "VFIO_SET_IOMMU";
	if (ioctl(c.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto fail;
	t0 = now_ms();
	ret = mem_map_for_each(map, raw_map_one, &c);
	*ms = now_ms() - t0;
	what = "VFIO_IOMMU_MAP_DMA";
	if (ret) {
		errno = -ret;
		goto fail;
	}
	for (int k = 0; k < c.nr; k++) {
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap), .iova = c.iova[k], .size = c.size[k],
		};

		ioctl(c.container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	}
	ioctl(group, VFIO_GROUP_UNSET_CONTAINER);
	close(group);
	close(c.container);
	ram_drop(map, ram);
	return 0;
fail:
	ret = -errno;
	fprintf(stderr, "bench-dma-lab: raw: %s: %s\n", what, strerror(errno));
	if (group >= 0)
		close(group);
	if (c.container >= 0)
		close(c.container);
	ram_drop(map, ram);
	return ret;
}

/* ---- QEMU ---- */

/* Reads from @fd until what was read (kept in @buf) contains @mark. */
static int qmp_read_until(int fd, char *buf, size_t len, size_t *got, const char *mark)
{
	*got = 0;
	buf[0] = '\0';
	while (!strstr(buf, mark)) {
		ssize_t n;

		if (*got == len - 1) {
			/* Keep the tail: a mark may straddle the refill. */
			size_t keep = strlen(mark);

			memmove(buf, buf + *got - keep, keep);
			*got = keep;
		}
		n = read(fd, buf + *got, len - 1 - *got);
		if (n <= 0)
			return -EPROTO;
		*got += (size_t)n;
		buf[*got] = '\0';
	}
	return 0;
}

#define QEMU_TRACE_LOG "/tmp/bench-dma-qemu-trace.log"

/*
 * QEMU's own mapping time, from its trace (-msg timestamp=on gives each
 * line "pid@seconds.micros:event ..."): vfio-pci's realize connects the
 * container, whose memory listener maps each RAM section (a trace line
 * before each MAP_DMA), then gets the device fd (vfio_get_device).  The
 * span from the first region_add_ram to vfio_get_device is the mapping,
 * plus the GET_DEVICE_FD and GET_INFO of the device.
 */
static int qemu_trace_map_ms(double *ms)
{
	FILE *f = fopen(QEMU_TRACE_LOG, "r");
	double first = -1, end = -1;
	char line[1024];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *at = strchr(line, '@');
		char *colon = at ? strchr(at, ':') : NULL;
		double t;

		if (!colon)
			continue;
		t = strtod(at + 1, NULL) * 1e3;
		if (!strncmp(colon + 1, "vfio_listener_region_add_ram", 28) && first < 0)
			first = t;
		else if (!strncmp(colon + 1, "vfio_get_device", 15) && first >= 0 && end < 0)
			end = t;
	}
	fclose(f);
	if (first < 0 || end < 0)
		return -ENOENT;
	*ms = end - first;
	return 0;
}

/* Starts QEMU (-S) and returns the time from fork to its first QMP reply. */
static int qemu_ready(const struct bench *b, bool with_vfio, double *ms)
{
	char sock[] = "/tmp/bench-dma-qmp.sock";
	char mem[64], backend[512], machine[128], qmp[128], dev[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	size_t got = 0;
	int status, fd = -1, ret = 0;
	double t0, deadline;
	pid_t pid;

	unlink(sock);
	unlink(QEMU_TRACE_LOG);
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(b->size >> 20));
	if (b->huge)
		snprintf(backend, sizeof(backend),
			 "memory-backend-file,id=ram0,size=%s,mem-path=%s,share=on,prealloc=on",
			 mem, b->huge);
	else
		snprintf(backend, sizeof(backend), "memory-backend-memfd,id=ram0,size=%s,share=on",
			 mem);
	snprintf(machine, sizeof(machine), "q35,accel=%s,memory-backend=ram0", b->accel);
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", sock);
	snprintf(dev, sizeof(dev), "vfio-pci,host=%s", b->bdf);

	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		const char *argv[] = {
			b->qemu, "-S", "-nodefaults", "-no-user-config", "-display", "none",
			"-machine", machine, "-cpu", "max", "-m", mem, "-object", backend,
			"-qmp", qmp, "-msg", "timestamp=on", "-D", QEMU_TRACE_LOG,
			"-trace", "vfio_listener_region_add_ram", "-trace", "vfio_get_device",
			with_vfio ? "-device" : NULL, dev, NULL,
		};
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execvp(b->qemu, (char **)argv);
		_exit(127);
	}
	deadline = t0 + 300e3;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	/* connect() succeeds as soon as QEMU's QMP chardev listens. */
	while (now_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "bench-dma-lab: qemu exited (status 0x%x) before QMP\n",
				status);
			return -ECHILD;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
		usleep(1000);
	}
	/*
	 * The greeting may come from the monitor's I/O thread while the main
	 * thread still realizes devices; a command's reply comes from the main
	 * loop, after machine init: the answer to query-status is the mark.
	 */
	if (fd >= 0 && !qmp_read_until(fd, buf, sizeof(buf), &got, "\"QMP\"")) {
		static const char cmds[] = "{\"execute\":\"qmp_capabilities\"}\n"
					   "{\"execute\":\"query-status\"}\n";

		if (write(fd, cmds, sizeof(cmds) - 1) != (ssize_t)sizeof(cmds) - 1 ||
		    qmp_read_until(fd, buf, sizeof(buf), &got, "\"status\""))
			ret = -EPROTO;
	} else {
		ret = -EPROTO;
	}
	*ms = now_ms() - t0;
	if (ret) {
		fprintf(stderr, "bench-dma-lab: qemu: no QMP greeting or no reply to query-status\n");
		kill(pid, SIGKILL);
	} else {
		static const char quit[] = "{\"execute\":\"quit\"}\n";

		if (write(fd, quit, sizeof(quit) - 1) != (ssize_t)sizeof(quit) - 1)
			kill(pid, SIGKILL);
	}
	if (fd >= 0) {
		/* Drain until QEMU closes the socket on quit. */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	waitpid(pid, &status, 0);
	unlink(sock);
	return ret;
}

/* One run of QEMU without the device, then with it. */
static int qemu_once(const struct bench *b, double *map, double *vfio, double *plain)
{
	int ret;

	ret = qemu_ready(b, false, plain);
	if (ret)
		return ret;
	ret = qemu_ready(b, true, vfio);
	if (ret)
		return ret;
	ret = qemu_trace_map_ms(map);
	if (ret)
		fprintf(stderr, "bench-dma-lab: qemu: no vfio trace in %s: %s\n",
			QEMU_TRACE_LOG, strerror(-ret));
	return ret;
}

/*
 * The runs of the chosen VMMs, interleaved (raw, ferry, QEMU, raw, ...) so
 * that a change of the lab's load (it shares the host's cores) falls on all
 * of them alike, then one BENCH line per quantity.
 */
static int bench_run(const struct bench *b, bool raw, bool ferry, bool qemu)
{
	double raw_map[MAX_REPS] = { 0 }, with_ram[MAX_REPS] = { 0 }, empty[MAX_REPS] = { 0 };
	double live[MAX_REPS] = { 0 }, qemu_map[MAX_REPS] = { 0 }, vfio[MAX_REPS] = { 0 };
	double plain[MAX_REPS] = { 0 };
	int ret;

	if (ferry) {
		ret = ferry_warm_up(b);
		if (ret)
			return ret;
	}
	for (int i = 0; i < b->reps; i++) {
		if (raw && (ret = raw_once(b, &raw_map[i])))
			return ret;
		if (ferry && (ret = ferry_once(b, &with_ram[i], &empty[i], &live[i])))
			return ret;
		if (qemu && (ret = qemu_once(b, &qemu_map[i], &vfio[i], &plain[i])))
			return ret;
	}
	if (raw)
		report(b, "raw", "map", raw_map, b->reps);
	if (ferry) {
		report(b, "ferry", "attach-ram", with_ram, b->reps);
		report(b, "ferry", "attach-empty", empty, b->reps);
		report(b, "ferry", "map-live", live, b->reps);
	}
	if (qemu) {
		report(b, "qemu", "map", qemu_map, b->reps);
		report(b, "qemu", "ready-vfio", vfio, b->reps);
		report(b, "qemu", "ready-plain", plain, b->reps);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-dma-lab all|ferry|raw|qemu BDF SIZE_MIB [-H HUGETLBFS_DIR] "
		"[-r REPS] [-q QEMU] [-a ACCEL]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench b = { .reps = 3, .qemu = "qemu-system-x86_64", .accel = "kvm" };
	int opt, ret;

	while ((opt = getopt(argc, argv, "H:r:q:a:")) != -1) {
		switch (opt) {
		case 'H': b.huge = optarg; break;
		case 'r': b.reps = atoi(optarg); break;
		case 'q': b.qemu = optarg; break;
		case 'a': b.accel = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 3 || b.reps < 1 || b.reps > MAX_REPS)
		usage();
	b.mode = argv[optind];
	b.bdf = argv[optind + 1];
	b.size = strtoull(argv[optind + 2], NULL, 0) << 20;
	if (!b.size)
		usage();
	if (!strcmp(b.mode, "all"))
		ret = bench_run(&b, true, true, true);
	else if (!strcmp(b.mode, "ferry"))
		ret = bench_run(&b, false, true, false);
	else if (!strcmp(b.mode, "raw"))
		ret = bench_run(&b, true, false, false);
	else if (!strcmp(b.mode, "qemu"))
		ret = bench_run(&b, false, false, true);
	else
		usage();
	return ret ? 1 : 0;
}
