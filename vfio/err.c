// SPDX-License-Identifier: GPL-2.0-only
/* Filling struct vfio_err: the explanation that goes with an errno. */
#include <stdio.h>
#include <string.h>

#include "vfio/priv.h"

int vfio_err_set(struct vfio_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return errnum;
	err->errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return errnum;
}

void vfio_err_append(struct vfio_err *err, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!err)
		return;
	used = strnlen(err->msg, sizeof(err->msg));
	if (used + 1 >= sizeof(err->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap);
	va_end(ap);
}

void vfio_err_clear(struct vfio_err *err)
{
	if (!err)
		return;
	err->errnum = 0;
	err->msg[0] = '\0';
}
