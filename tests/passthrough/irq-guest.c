// SPDX-License-Identifier: GPL-2.0-only
/*
 * irq-guest: runs inside the guest ferry boots in the lab (lab-irq-test) and
 * makes the passed-through edu device (QEMU hw/misc/edu.c) interrupt: a
 * write to register 0x60 raises it (its value ORed into the status at
 * 0x24), a write to 0x64 acknowledges it.  edu asserts INTx, or sends MSI
 * when the function's MSI is enabled.
 *
 *   irq-guest intx N   edu bound to uio_pci_generic (/dev/uio0): N times
 *                      raise, read() the interrupt count from /dev/uio0
 *                      (which waits for the interrupt), acknowledge, and
 *                      re-enable INTx by clearing COMMAND's INTx-disable in
 *                      sysfs config (uio_pci_generic's handler set it and
 *                      has no irqcontrol); "IRQ-INTX: ok N" or FAIL
 *   irq-guest vfio N   edu bound to vfio-pci in no-IOMMU mode, the guest's
 *                      own VFIO: MSI enabled with an eventfd
 *                      (VFIO_DEVICE_SET_IRQS), N times raise, wait for the
 *                      eventfd, acknowledge ("IRQ-MSI: ok N", then
 *                      /proc/interrupts' vfio-msi line); then MSI off and
 *                      INTx on with an eventfd, N times raise, wait,
 *                      acknowledge, unmask ("IRQ-VFIO-INTX: ok N", and the
 *                      vfio-intx line): the function goes back from MSI
 *   irq-guest vfio-reboot N  the MSI part, then reboot(2) with MSI still on
 *   irq-guest proc NAME  "IRQ-PROC: NAME COUNT" from /proc/interrupts (the
 *                      sum over CPUs of the lines naming NAME)
 *   irq-guest boot     "IRQ-BOOT: 1" the first time in a ferry run, "IRQ-BOOT:
 *                      2" after a guest reset: edu's register 0x04 keeps a
 *                      mark across the reset (the lab's edu cannot be reset)
 *
 * Each wait has a 5 s limit, so a lost interrupt is a FAIL, not a hang.
 * Built with gcc -static.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#define EDU_BAR_SIZE	(1 << 20)
#define EDU_IRQ_STATUS	0x24
#define EDU_IRQ_RAISE	0x60
#define EDU_IRQ_ACK	0x64
#define WAIT_MS		5000
#define EDU_LIVENESS	0x04	/* reads the inverse of what was written */
#define BOOT_MARK	0x600df00dU

static volatile uint8_t *bar;

static uint32_t rd32(unsigned int off)
{
	return *(volatile uint32_t *)(bar + off);
}

static void wr32(unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(bar + off) = v;
}

/* The first 1234:11e8 in /sys/bus/pci/devices: its BDF into @bdf. */
static int find_edu(char *bdf, size_t len)
{
	struct dirent **names;
	int n, found = -1;

	n = scandir("/sys/bus/pci/devices", &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], id[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", names[i]->d_name);
		f = fopen(path, "r");
		if (f && fgets(id, sizeof(id), f) && !strncmp(id, "0x1234", 6)) {
			fclose(f);
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
				 names[i]->d_name);
			f = fopen(path, "r");
			if (f && fgets(id, sizeof(id), f) && !strncmp(id, "0x11e8", 6) &&
			    found < 0) {
				snprintf(bdf, len, "%s", names[i]->d_name);
				found = 0;
			}
		}
		if (f)
			fclose(f);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return found;
}

static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, WAIT_MS);

	return n == 1 && (p.revents & POLLIN) ? 0 : -1;
}

static void edu_raise(uint32_t v)
{
	wr32(EDU_IRQ_RAISE, v);
}

/* Checks that edu shows exactly the raise @v, and acknowledges it. */
static int edu_ack(uint32_t v, char *why, size_t len)
{
	uint32_t st = rd32(EDU_IRQ_STATUS);

	if (st != v) {
		snprintf(why, len, "status 0x%x after raising 0x%x", st, v);
		return -1;
	}
	wr32(EDU_IRQ_ACK, v);
	return 0;
}

/* Clears COMMAND's INTx-disable through the config file (read-modify-write). */
static int intx_enable(int cfg, char *why, size_t len)
{
	uint16_t cmd;

	if (pread(cfg, &cmd, 2, PCI_COMMAND) != 2) {
		snprintf(why, len, "reading COMMAND: %s", strerror(errno));
		return -1;
	}
	cmd &= ~PCI_COMMAND_INTX_DISABLE;
	if (pwrite(cfg, &cmd, 2, PCI_COMMAND) != 2) {
		snprintf(why, len, "writing COMMAND: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int do_intx(int n)
{
	char bdf[300], path[PATH_MAX], why[128] = "";
	uint32_t count, last = 0;
	int uio, res, cfg, i;

	if (find_edu(bdf, sizeof(bdf))) {
		printf("IRQ-INTX: FAIL no 1234:11e8 in /sys/bus/pci/devices\n");
		return 1;
	}
	uio = open("/dev/uio0", O_RDWR);
	if (uio < 0) {
		printf("IRQ-INTX: FAIL /dev/uio0: %s (uio_pci_generic not bound?)\n",
		       strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	cfg = open(path, O_RDWR);
	if (cfg < 0) {
		printf("IRQ-INTX: FAIL %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	res = open(path, O_RDWR | O_SYNC);
	bar = res < 0 ? MAP_FAILED : mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
					  res, 0);
	if (bar == MAP_FAILED) {
		printf("IRQ-INTX: FAIL %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		uint32_t v = 0x100 + i;

		/* INTx on (again): uio_pci_generic's handler left it disabled. */
		if (intx_enable(cfg, why, sizeof(why)))
			break;
		edu_raise(v);
		if (wait_readable(uio)) {
			snprintf(why, sizeof(why), "interrupt %d did not arrive in %d ms", i + 1,
				 WAIT_MS);
			break;
		}
		if (read(uio, &count, 4) != 4) {
			snprintf(why, sizeof(why), "read /dev/uio0: %s", strerror(errno));
			break;
		}
		if (i && count != last + 1) {
			snprintf(why, sizeof(why), "count went from %u to %u for one raise", last,
				 count);
			break;
		}
		last = count;
		if (edu_ack(v, why, sizeof(why)))
			break;
	}
	if (i < n) {
		printf("IRQ-INTX: FAIL %s\n", why);
		return 1;
	}
	/* Acknowledged and not raised again: no interrupt may come. */
	if (!intx_enable(cfg, why, sizeof(why)) && !wait_readable(uio) &&
	    read(uio, &count, 4) == 4) {
		printf("IRQ-INTX: FAIL an interrupt without a raise (count %u)\n", count);
		return 1;
	}
	printf("IRQ-INTX: ok %d dev=%s\n", n, bdf);
	return 0;
}

static int do_proc(const char *name);

static int do_vfio(int n, bool reboot_after_msi)
{
	struct vfio_group_status gst = { .argsz = sizeof(gst) };
	struct vfio_region_info reg = { .argsz = sizeof(reg) };
	char bdf[300], path[PATH_MAX], link[PATH_MAX], why[160] = "";
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} irqs;
	int container, group, dev, efd, i;
	uint16_t cmd;
	uint64_t cnt;
	ssize_t l;
	char *g;

	if (find_edu(bdf, sizeof(bdf))) {
		printf("IRQ-MSI: FAIL no 1234:11e8 in /sys/bus/pci/devices\n");
		return 1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	l = readlink(path, link, sizeof(link) - 1);
	if (l < 0) {
		printf("IRQ-MSI: FAIL %s: %s (vfio-pci not bound in no-IOMMU mode?)\n", path,
		       strerror(errno));
		return 1;
	}
	link[l] = '\0';
	g = strrchr(link, '/');
	snprintf(path, sizeof(path), "/dev/vfio/noiommu-%.32s", g ? g + 1 : link);
	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0) {
		printf("IRQ-MSI: FAIL open /dev/vfio/vfio or %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &gst) ||
	    ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU)) {
		printf("IRQ-MSI: FAIL group %s into a no-IOMMU container: %s\n", path,
		       strerror(errno));
		return 1;
	}
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0) {
		printf("IRQ-MSI: FAIL VFIO_GROUP_GET_DEVICE_FD %s: %s\n", bdf, strerror(errno));
		return 1;
	}
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &reg)) {
		printf("IRQ-MSI: FAIL BAR0 region info: %s\n", strerror(errno));
		return 1;
	}
	bar = mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, dev, reg.offset);
	if (bar == MAP_FAILED) {
		printf("IRQ-MSI: FAIL mmap BAR0: %s\n", strerror(errno));
		return 1;
	}
	/* An MSI is a memory write by the device: bus mastering on. */
	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &reg) ||
	    pread(dev, &cmd, 2, reg.offset + PCI_COMMAND) != 2) {
		printf("IRQ-MSI: FAIL config space: %s\n", strerror(errno));
		return 1;
	}
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(dev, &cmd, 2, reg.offset + PCI_COMMAND) != 2) {
		printf("IRQ-MSI: FAIL COMMAND: %s\n", strerror(errno));
		return 1;
	}
	efd = eventfd(0, EFD_CLOEXEC);
	irqs.s = (struct vfio_irq_set){ .argsz = sizeof(irqs),
					.flags = VFIO_IRQ_SET_DATA_EVENTFD |
						 VFIO_IRQ_SET_ACTION_TRIGGER,
					.index = VFIO_PCI_MSI_IRQ_INDEX, .start = 0, .count = 1 };
	irqs.fd = efd;
	if (efd < 0 || ioctl(dev, VFIO_DEVICE_SET_IRQS, &irqs)) {
		printf("IRQ-MSI: FAIL VFIO_DEVICE_SET_IRQS MSI: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		uint32_t v = 0x200 + i;

		edu_raise(v);
		if (wait_readable(efd)) {
			snprintf(why, sizeof(why), "MSI %d did not arrive in %d ms (status 0x%x)",
				 i + 1, WAIT_MS, rd32(EDU_IRQ_STATUS));
			break;
		}
		if (read(efd, &cnt, 8) != 8 || cnt != 1) {
			snprintf(why, sizeof(why), "eventfd count %llu for one raise",
				 (unsigned long long)cnt);
			break;
		}
		if (edu_ack(v, why, sizeof(why)))
			break;
	}
	if (i < n) {
		printf("IRQ-MSI: FAIL %s\n", why);
		return 1;
	}
	printf("IRQ-MSI: ok %d dev=%s\n", n, bdf);
	do_proc("vfio-msi");
	if (reboot_after_msi) {
		/* MSI stays on: the VMM's reset must turn it off. */
		printf("IRQ-REBOOT: with MSI on\n");
		sync();
		reboot(RB_AUTOBOOT);
		printf("IRQ-REBOOT: FAIL reboot: %s\n", strerror(errno));
		return 1;
	}

	/* MSI off, INTx on: VFIO masks INTx at each interrupt; we unmask it. */
	irqs.s.count = 0;
	irqs.s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	irqs.s.argsz = sizeof(irqs.s);
	if (ioctl(dev, VFIO_DEVICE_SET_IRQS, &irqs)) {
		printf("IRQ-VFIO-INTX: FAIL MSI off: %s\n", strerror(errno));
		return 1;
	}
	irqs.s = (struct vfio_irq_set){ .argsz = sizeof(irqs),
					.flags = VFIO_IRQ_SET_DATA_EVENTFD |
						 VFIO_IRQ_SET_ACTION_TRIGGER,
					.index = VFIO_PCI_INTX_IRQ_INDEX, .start = 0, .count = 1 };
	irqs.fd = efd;
	if (ioctl(dev, VFIO_DEVICE_SET_IRQS, &irqs)) {
		printf("IRQ-VFIO-INTX: FAIL VFIO_DEVICE_SET_IRQS INTx: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		struct vfio_irq_set unmask = { .argsz = sizeof(unmask),
					       .flags = VFIO_IRQ_SET_DATA_NONE |
							VFIO_IRQ_SET_ACTION_UNMASK,
					       .index = VFIO_PCI_INTX_IRQ_INDEX, .count = 1 };
		uint32_t v = 0x300 + i;

		edu_raise(v);
		if (wait_readable(efd)) {
			snprintf(why, sizeof(why), "INTx %d did not arrive in %d ms (status 0x%x)",
				 i + 1, WAIT_MS, rd32(EDU_IRQ_STATUS));
			break;
		}
		if (read(efd, &cnt, 8) != 8 || cnt != 1) {
			snprintf(why, sizeof(why), "eventfd count %llu for one raise",
				 (unsigned long long)cnt);
			break;
		}
		if (edu_ack(v, why, sizeof(why)))
			break;
		if (ioctl(dev, VFIO_DEVICE_SET_IRQS, &unmask)) {
			snprintf(why, sizeof(why), "unmask: %s", strerror(errno));
			break;
		}
	}
	if (i < n) {
		printf("IRQ-VFIO-INTX: FAIL %s\n", why);
		return 1;
	}
	printf("IRQ-VFIO-INTX: ok %d dev=%s\n", n, bdf);
	do_proc("vfio-intx");
	close(dev);
	close(group);
	close(container);
	return 0;
}

/* Memory decode on (no firmware ran, no driver is bound), BAR0 mmap'ed from sysfs. */
static int map_resource0(const char *bdf)
{
	char path[PATH_MAX];
	uint16_t cmd;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &cmd, 2, PCI_COMMAND) != 2)
		return -1;
	cmd |= PCI_COMMAND_MEMORY;
	if (pwrite(fd, &cmd, 2, PCI_COMMAND) != 2)
		return -1;
	close(fd);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	bar = fd < 0 ? MAP_FAILED : mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
					 fd, 0);
	return bar == MAP_FAILED ? -1 : 0;
}

static int do_boot(void)
{
	char bdf[300];

	if (find_edu(bdf, sizeof(bdf)) || map_resource0(bdf)) {
		printf("IRQ-BOOT: FAIL no edu BAR0: %s\n", strerror(errno));
		return 1;
	}
	if (rd32(EDU_LIVENESS) == ~BOOT_MARK) {
		wr32(EDU_LIVENESS, 0);
		printf("IRQ-BOOT: 2\n");
	} else {
		wr32(EDU_LIVENESS, BOOT_MARK);
		printf("IRQ-BOOT: 1\n");
	}
	return 0;
}

static int do_proc(const char *name)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	unsigned long total = 0;
	int found = 0;

	if (!f) {
		printf("IRQ-PROC: %s FAIL /proc/interrupts: %s\n", name, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (!strstr(line, name))
			continue;
		found = 1;
		p = strchr(line, ':');
		if (!p)
			continue;
		/* The per-CPU counts follow the "NN:" label. */
		for (p++;;) {
			char *end;
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			total += v;
			p = end;
		}
		printf("IRQ-PROC-LINE: %s", line);
	}
	fclose(f);
	if (!found) {
		printf("IRQ-PROC: %s FAIL not in /proc/interrupts\n", name);
		return 1;
	}
	printf("IRQ-PROC: %s %lu\n", name, total);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 3 && !strcmp(argv[1], "intx"))
		return do_intx(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "vfio"))
		return do_vfio(atoi(argv[2]), false);
	if (argc == 3 && !strcmp(argv[1], "vfio-reboot"))
		return do_vfio(atoi(argv[2]), true);
	if (argc == 2 && !strcmp(argv[1], "boot"))
		return do_boot();
	if (argc == 3 && !strcmp(argv[1], "proc"))
		return do_proc(argv[2]);
	fprintf(stderr, "usage: irq-guest intx N | vfio N | vfio-reboot N | proc NAME | boot\n");
	return 2;
}
