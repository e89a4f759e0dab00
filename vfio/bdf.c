// SPDX-License-Identifier: GPL-2.0-only
/* PCI addresses: "DDDD:BB:DD.F" and the short "BB:DD.F" (domain 0). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vfio/priv.h"

/* Parses exactly @digits hex digits at *@s; advances *@s. */
static bool bdf_hex(const char **s, int digits, unsigned int *val)
{
	unsigned int v = 0;

	for (int i = 0; i < digits; i++) {
		char c = (*s)[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = v * 16 + d;
	}
	*s += digits;
	*val = v;
	return true;
}

int vfio_bdf_parse(const char *s, struct vfio_bdf *bdf, struct vfio_err *err)
{
	unsigned int domain = 0, bus, dev, fn;
	const char *p = s;

	if (!s)
		return vfio_err_set(err, -EINVAL, "no PCI address given");
	/* The long form has a ':' after 4 digits, the short one after 2. */
	if (strlen(s) >= 5 && s[4] == ':') {
		if (!bdf_hex(&p, 4, &domain))
			goto bad;
		p++;
	}
	if (!bdf_hex(&p, 2, &bus) || *p++ != ':')
		goto bad;
	if (!bdf_hex(&p, 2, &dev) || *p++ != '.')
		goto bad;
	if (!bdf_hex(&p, 1, &fn) || *p != '\0')
		goto bad;
	if (dev > 0x1f || fn > 7)
		goto bad;
	bdf->domain = domain;
	bdf->bus = bus;
	bdf->dev = dev;
	bdf->fn = fn;
	return 0;
bad:
	return vfio_err_set(err, -EINVAL,
			    "'%s' is not a PCI address: expected DDDD:BB:DD.F or BB:DD.F in hex "
			    "(device 00-1f, function 0-7), e.g. 0000:01:00.0; "
			    "`lspci -D` lists them",
			    s);
}

int vfio_bdf_format(const struct vfio_bdf *bdf, char *buf, size_t len)
{
	if (len < VFIO_BDF_STRLEN || bdf->dev > 0x1f || bdf->fn > 7)
		return -EINVAL;
	snprintf(buf, len, "%04x:%02x:%02x.%x", bdf->domain, bdf->bus, bdf->dev, bdf->fn);
	return 0;
}

bool vfio_bdf_equal(const struct vfio_bdf *a, const struct vfio_bdf *b)
{
	return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev &&
	       a->fn == b->fn;
}
