// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench-hotplug-guest: /init's last program in the guest of bench-hotplug.
 * Watches /sys/bus/pci/devices and prints one line on the console each time
 * a device with the given vendor:device (default 1234:11e8, QEMU's edu)
 * appears or disappears:
 *
 *   BENCH-CAL  <guest monotonic s> 0000:00:00.0     (10 times, at start)
 *   BENCH-READY <guest monotonic s> <number of PCI functions>
 *   BENCH-SEEN <guest monotonic s> <BDF>
 *   BENCH-GONE <guest monotonic s> <BDF>
 *
 * The host takes its own time when a line arrives on the serial console; the
 * guest's clock is printed for reading logs only (the two clocks are not
 * related).  Built with gcc -static; runs as PID 1 and never exits.
 *
 * Only new directory entries are opened: a scan is one readdir of the
 * directory, so a poll costs little even under nested virtualisation.  The
 * poll sleeps (-i, microseconds, default 1000; 0 spins) because the lab has
 * one vCPU: a spinning inner vCPU would take the lab's CPU from the VMM and
 * its QMP client, the very things being measured.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FUNCS	256
#define BDF_LEN		16
#define CAL_LINES	10

struct func {
	char bdf[BDF_LEN];
	int match;	/* vendor:device is the one watched */
	int alive;	/* seen in the current scan */
};

static struct func funcs[MAX_FUNCS];
static int nfuncs;

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One write(2) per line: the console gets the whole marker at once. */
static void say(const char *what, const char *bdf)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%s %.6f %s\n", what, mono_now(), bdf);

	if (write(STDOUT_FILENO, line, n) < 0)
		return;
}

static unsigned long read_hex(const char *bdf, const char *attr)
{
	char path[128], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return ~0UL;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strtoul(buf, NULL, 16);
}

static struct func *func_find(const char *bdf)
{
	for (int i = 0; i < nfuncs; i++)
		if (!strcmp(funcs[i].bdf, bdf))
			return &funcs[i];
	return NULL;
}

/*
 * One pass over the directory.  A function that vanished and came back
 * between two passes at the same address is not noticed; the host waits for
 * each change before it causes the next one, so that cannot happen here.
 */
static void scan(unsigned long vendor, unsigned long device)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;

	if (!d)
		return;
	for (int i = 0; i < nfuncs; i++)
		funcs[i].alive = 0;
	while ((e = readdir(d))) {
		struct func *f;

		if (e->d_name[0] == '.' || strlen(e->d_name) >= BDF_LEN)
			continue;
		f = func_find(e->d_name);
		if (!f) {
			if (nfuncs == MAX_FUNCS)
				continue;
			f = &funcs[nfuncs++];
			strcpy(f->bdf, e->d_name);
			/*
			 * sysfs creates the directory with its attributes, so
			 * vendor and device are readable as soon as it exists.
			 */
			f->match = read_hex(f->bdf, "vendor") == vendor &&
				   read_hex(f->bdf, "device") == device;
			if (f->match)
				say("BENCH-SEEN", f->bdf);
		}
		f->alive = 1;
	}
	closedir(d);
	for (int i = 0; i < nfuncs; i++) {
		if (funcs[i].alive)
			continue;
		if (funcs[i].match)
			say("BENCH-GONE", funcs[i].bdf);
		funcs[i] = funcs[--nfuncs];
		i--;
	}
}

int main(int argc, char **argv)
{
	unsigned long vendor = 0x1234, device = 0x11e8;
	long interval_us = 1000;
	struct timespec pause;
	char count[16];
	int opt;

	while ((opt = getopt(argc, argv, "v:d:i:")) != -1) {
		switch (opt) {
		case 'v':
			vendor = strtoul(optarg, NULL, 16);
			break;
		case 'd':
			device = strtoul(optarg, NULL, 16);
			break;
		case 'i':
			interval_us = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench-hotplug-guest [-v VENDOR] [-d DEVICE] [-i USEC]\n");
			return 2;
		}
	}
	pause.tv_sec = interval_us / 1000000;
	pause.tv_nsec = interval_us % 1000000 * 1000;

	/* A device present at boot is reported too: the host expects none. */
	scan(vendor, device);
	/*
	 * Lines as long as a marker, back to back: their spacing on the host is
	 * what one marker line costs to cross the VMM's serial port.
	 */
	for (int i = 0; i < CAL_LINES; i++)
		say("BENCH-CAL ", "0000:00:00.0");
	snprintf(count, sizeof(count), "%d", nfuncs);
	say("BENCH-READY", count);
	for (;;) {
		if (interval_us > 0)
			nanosleep(&pause, NULL);
		scan(vendor, device);
	}
}
