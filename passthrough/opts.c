// SPDX-License-Identifier: GPL-2.0-only
/*
 * -device passthrough,host=BDF[,id=ID][,addr=SLOT][,iommufd=ID][,x-no-mmap=on][,managed=on]
 * (alias vfio-pci): the properties of one passthrough device, from the
 * command line or from QMP's device_add (which sets them one by one).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passthrough/passthrough.h"

#define PT_SYSFS_DEVICES	"/sys/bus/pci/devices/"

static int pt_opts_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pt_opts_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void passthrough_opts_init(struct passthrough_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->slot = -1;
	opts->fd = -1;
}

static int pt_opts_host(struct passthrough_opts *opts, const char *key, const char *bdf,
			char *err, size_t errlen)
{
	struct vfio_err verr = { 0 };
	struct vfio_bdf b;

	if (vfio_bdf_parse(bdf, &b, &verr))
		return pt_opts_err(err, errlen, "%s=%s is not a PCI address: use "
				   "DDDD:BB:DD.F or BB:DD.F, as `lspci -D` prints it "
				   "(e.g. 0000:01:00.0)", key, bdf);
	vfio_bdf_format(&b, opts->host, sizeof(opts->host));
	return 0;
}

/*
 * QEMU's ids (id=, and iommufd= which names an -object's id): a letter, then
 * letters, digits, '-', '.', '_'.  @dst holds PASSTHROUGH_ID_MAX + 1.
 */
static int pt_opts_ident(char *dst, const char *key, const char *val, char *err, size_t errlen)
{
	size_t len = strlen(val);

	if (!len || len > PASSTHROUGH_ID_MAX)
		return pt_opts_err(err, errlen, "%s=%s: an id is 1 to %d characters", key, val,
				   PASSTHROUGH_ID_MAX);
	for (const char *c = val; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (c != val && ((*c >= '0' && *c <= '9') || strchr("-._", *c))))
			continue;
		return pt_opts_err(err, errlen, "%s=%s: an id starts with a letter and "
				   "has only letters, digits, '-', '.' and '_'", key, val);
	}
	memcpy(dst, val, len + 1);
	return 0;
}

/* QEMU's addr: "slot[.function]" in hex, with or without 0x. */
static int pt_opts_addr(struct passthrough_opts *opts, const char *val, char *err, size_t errlen)
{
	const char *p = val;
	unsigned long slot, fn = 0;
	char *end;

	if (!strncmp(p, "0x", 2) || !strncmp(p, "0X", 2))
		p += 2;
	if (*p < '0' || (*p > '9' && (*p | 0x20) < 'a') || (*p | 0x20) > 'f')
		goto bad;
	slot = strtoul(p, &end, 16);
	if (*end == '.') {
		p = end + 1;
		if (*p < '0' || *p > '7')
			goto bad;
		fn = strtoul(p, &end, 16);
	}
	if (*end)
		goto bad;
	if (slot < 1 || slot > 31)
		return pt_opts_err(err, errlen, "addr=%s: slot %lu is out of range: the guest "
				   "bus has slots 1 to 0x1f (slot 0 is the host bridge)", val,
				   slot);
	if (fn)
		return pt_opts_err(err, errlen, "addr=%s: a passthrough device is function 0 "
				   "of its slot; give the slot only (addr=%lx)", val, slot);
	opts->slot = (int)slot;
	return 0;
bad:
	return pt_opts_err(err, errlen, "addr=%s is not a PCI slot: give the slot in hex, "
			   "optionally with function 0 (e.g. addr=3, addr=0x1f, addr=04.0)", val);
}

/* fd=N: a number only; whether N is open, and what it is, the attach finds out. */
static int pt_opts_fd(struct passthrough_opts *opts, const char *val, char *err, size_t errlen)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(val, &end, 10);
	if (!isdigit((unsigned char)*val) || *end || errno || n > INT_MAX)
		return pt_opts_err(err, errlen, "fd=%s: give the number of an open file "
				   "descriptor: the group /dev/vfio/N, or with iommufd= the "
				   "device cdev /dev/vfio/devices/vfioX", val);
	opts->fd = (int)n;
	return 0;
}

int passthrough_opts_set(struct passthrough_opts *opts, const char *key, const char *val,
			 char *err, size_t errlen)
{
	if (!strcmp(key, "driver")) {
		if (strcmp(val, "passthrough") && strcmp(val, "vfio-pci"))
			return pt_opts_err(err, errlen, "driver %s is not a passthrough device "
					   "(use passthrough or vfio-pci)", val);
		return 0;
	}
	if (!strcmp(key, "host"))
		return pt_opts_host(opts, key, val, err, errlen);
	if (!strcmp(key, "sysfsdev")) {
		const char *name = val;
		size_t n = strlen(PT_SYSFS_DEVICES);

		if (strncmp(val, PT_SYSFS_DEVICES, n) || strchr(val + n, '/'))
			return pt_opts_err(err, errlen, "sysfsdev=%s: give the device's "
					   "directory, %sDDDD:BB:DD.F", val, PT_SYSFS_DEVICES);
		name += n;
		return pt_opts_host(opts, key, name, err, errlen);
	}
	if (!strcmp(key, "id"))
		return pt_opts_ident(opts->id, key, val, err, errlen);
	if (!strcmp(key, "iommufd"))
		return pt_opts_ident(opts->iommufd, key, val, err, errlen);
	if (!strcmp(key, "x-no-mmap")) {
		if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "yes")) {
			opts->no_mmap = true;
		} else if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "no")) {
			opts->no_mmap = false;
		} else {
			return pt_opts_err(err, errlen, "x-no-mmap=%s: give on or off", val);
		}
		return 0;
	}
	if (!strcmp(key, "managed")) {
		if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "yes")) {
			opts->managed = true;
		} else if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "no")) {
			opts->managed = false;
		} else {
			return pt_opts_err(err, errlen, "managed=%s: give on or off", val);
		}
		return 0;
	}
	if (!strcmp(key, "addr"))
		return pt_opts_addr(opts, val, err, errlen);
	if (!strcmp(key, "fd"))
		return pt_opts_fd(opts, val, err, errlen);
	if (!strcmp(key, "bus")) {
		if (strcmp(val, "pci.0") && strcmp(val, "pcie.0"))
			return pt_opts_err(err, errlen, "bus=%s: the guest has one PCI bus, "
					   "pcie.0 (alias pci.0)", val);
		return 0;
	}
	return pt_opts_err(err, errlen, "unknown property '%s' (a passthrough device takes "
			   "host, sysfsdev, id, addr, bus, iommufd, x-no-mmap, managed, fd)", key);
}

int passthrough_opts_parse(const char *spec, struct passthrough_opts *opts, char *err,
			   size_t errlen)
{
	static const char *const keys[] = { "driver", "host", "sysfsdev", "id", "addr", "bus",
					    "iommufd", "x-no-mmap", "fd", "managed" };
	bool seen[sizeof(keys) / sizeof(keys[0])] = { false };
	char *copy, *item, *save = NULL;
	bool first = true;
	int ret = 0;

	passthrough_opts_init(opts);
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	/* strtok_r would merge ",,", which must be an error, so split by hand. */
	for (item = copy; item; item = save, first = false) {
		char *comma = strchr(item, ',');
		const char *key, *val;
		char *eq;
		size_t k;

		save = comma ? comma + 1 : NULL;
		if (comma)
			*comma = '\0';
		if (!*item) {
			ret = pt_opts_err(err, errlen, "-device %s: empty item (stray comma)",
					  spec);
			goto out;
		}
		eq = strchr(item, '=');
		if (eq) {
			*eq = '\0';
			key = item;
			val = eq + 1;
		} else if (first) {
			key = "driver";
			val = item;
		} else {
			ret = pt_opts_err(err, errlen, "-device %s: '%s' is not a property: write "
					  "key=value", spec, item);
			goto out;
		}
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (!strcmp(key, keys[k]))
				break;
		}
		if (k < sizeof(keys) / sizeof(keys[0])) {
			if (seen[k]) {
				ret = pt_opts_err(err, errlen, "-device %s: %s is given twice",
						  spec, key);
				goto out;
			}
			seen[k] = true;
		}
		if (!*val) {
			ret = pt_opts_err(err, errlen, "-device %s: %s has no value", spec, key);
			goto out;
		}
		ret = passthrough_opts_set(opts, key, val, err, errlen);
		if (ret) {
			/* Prefix the whole option, so the user sees which -device it was. */
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", err ? err : "");
			pt_opts_err(err, errlen, "-device %s: %s", spec, msg);
			goto out;
		}
	}
	if (!seen[0])
		ret = pt_opts_err(err, errlen, "-device %s: no driver: start with passthrough "
				  "(e.g. -device passthrough,host=0000:01:00.0)", spec);
	else if (seen[1] && seen[2])
		ret = pt_opts_err(err, errlen, "-device %s: give host= or sysfsdev=, not both",
				  spec);
	else if (!seen[1] && !seen[2])
		ret = pt_opts_err(err, errlen, "-device %s: which host device? add "
				  "host=DDDD:BB:DD.F (see `lspci -D`)", spec);
out:
	free(copy);
	return ret;
}
