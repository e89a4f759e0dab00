// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model's PCI driver binding through sysfs, as the driver core does it:
 *
 *   /sys/bus/pci/devices/BDF/driver_override  "NAME": only NAME may bind;
 *                                             "" or "\n": any driver may
 *   /sys/bus/pci/drivers/NAME/unbind          "BDF": unbind from NAME
 *                                             (-ENODEV unless bound to NAME)
 *   /sys/bus/pci/drivers/NAME/bind            "BDF": bind an unbound device
 *                                             (-ENODEV if the override names
 *                                             another driver, -EBUSY if bound)
 *   /sys/bus/pci/drivers_probe                "BDF": an unbound device gets
 *                                             its override, else its native
 *                                             driver (the last host driver
 *                                             kmodel_bind() gave it), else
 *                                             stays unbound
 *
 * A write is applied whole or not at all.  Unbinding an open vfio device
 * fails with -EBUSY where the kernel would block until userspace lets go
 * (see kmodel_bind()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmodel_priv.h"
#include "kmodel.h"

enum ksysfs_kind {
	KS_OVERRIDE,
	KS_UNBIND,
	KS_BIND,
	KS_PROBE,
};

struct ksysfs {
	enum ksysfs_kind kind;
	char name[64];		/* the BDF (override) or the driver (bind, unbind) */
};

int km_sysfs_open(struct kmodel *km, const char *path, struct kfile **out)
{
	static const char devs[] = "/sys/bus/pci/devices/", drvs[] = "/sys/bus/pci/drivers/";
	struct ksysfs s = { 0 };
	const char *rest, *slash;
	struct kfile *f;

	if (!strcmp(path, "/sys/bus/pci/drivers_probe")) {
		s.kind = KS_PROBE;
	} else if (!strncmp(path, devs, sizeof(devs) - 1)) {
		rest = path + sizeof(devs) - 1;
		slash = strchr(rest, '/');
		if (!slash || strcmp(slash, "/driver_override") ||
		    (size_t)(slash - rest) >= sizeof(s.name))
			return 0;
		memcpy(s.name, rest, slash - rest);
		if (!km_device_by_bdf(km, s.name))
			return -ENOENT;
		s.kind = KS_OVERRIDE;
	} else if (!strncmp(path, drvs, sizeof(drvs) - 1)) {
		rest = path + sizeof(drvs) - 1;
		slash = strchr(rest, '/');
		if (!slash || (size_t)(slash - rest) >= sizeof(s.name))
			return 0;
		if (!strcmp(slash, "/unbind"))
			s.kind = KS_UNBIND;
		else if (!strcmp(slash, "/bind"))
			s.kind = KS_BIND;
		else
			return 0;
		memcpy(s.name, rest, slash - rest);
	} else {
		return 0;
	}
	f = km_file_new(km, KF_SYSFS);
	if (!f)
		return -ENOMEM;
	f->sf = malloc(sizeof(*f->sf));
	if (!f->sf) {
		free(f);
		return -ENOMEM;
	}
	*f->sf = s;
	*out = f;
	return 1;
}

void km_sysfs_release(struct kfile *f)
{
	free(f->sf);
}

/* The written text without one trailing newline, as sysfs stores it. */
static int km_sysfs_text(const void *buf, size_t len, char *out, size_t outlen)
{
	if (len && ((const char *)buf)[len - 1] == '\n')
		len--;
	if (len >= outlen || memchr(buf, '\0', len))
		return -EINVAL;
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

static int km_sysfs_probe(struct kmodel *km, struct kdevice *d)
{
	if (*d->driver)
		return 0;
	if (*d->override)
		return kmodel_bind(km, d->bdf, d->override);
	if (*d->native)
		return kmodel_bind(km, d->bdf, d->native);
	return 0;
}

ssize_t km_sysfs_write(struct kfile *f, const void *buf, size_t len)
{
	struct kmodel *km = f->km;
	struct ksysfs *s = f->sf;
	char text[32];
	struct kdevice *d;
	int ret;

	ret = km_sysfs_text(buf, len, text, sizeof(text));
	if (ret)
		return ret;
	d = km_device_by_bdf(km, s->kind == KS_OVERRIDE ? s->name : text);
	if (!d)
		return -ENODEV;
	switch (s->kind) {
	case KS_OVERRIDE:
		snprintf(d->override, sizeof(d->override), "%s", text);
		ret = km_fs_set_override(km, d);
		break;
	case KS_UNBIND:
		ret = strcmp(d->driver, s->name) ? -ENODEV : kmodel_bind(km, d->bdf, NULL);
		break;
	case KS_BIND:
		if (*d->driver)
			ret = -EBUSY;
		else if (*d->override && strcmp(d->override, s->name))
			ret = -ENODEV;
		else
			ret = kmodel_bind(km, d->bdf, s->name);
		break;
	case KS_PROBE:
		ret = km_sysfs_probe(km, d);
		break;
	}
	km_logf(km, "sysfs write %s \"%s\" = %d\n",
		s->kind == KS_OVERRIDE ? "driver_override" : s->kind == KS_UNBIND ? "unbind" :
		s->kind == KS_BIND ? "bind" : "drivers_probe", text, ret);
	return ret ? ret : (ssize_t)len;
}

int kmodel_device_set_class(struct kmodel *km, const char *bdf, uint32_t class)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	if (!d)
		return -ENODEV;
	d->config[0x09] = class & 0xff;
	d->config[0x0a] = (class >> 8) & 0xff;
	d->config[0x0b] = (class >> 16) & 0xff;
	return km_fs_add_device(km, d);
}

const char *kmodel_device_override(struct kmodel *km, const char *bdf)
{
	struct kdevice *d = km_device_by_bdf(km, bdf);

	return d ? d->override : NULL;
}
