// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO INFO capability chains: a linked list of headers inside the reply
 * buffer, each naming the offset of the next from the start of the buffer.
 */
#include <errno.h>

#include "vfio/priv.h"

/* The kernel writes a handful; more than this means a loop we failed to see. */
#define CAP_MAX 64

int vfio_cap_walk(const void *buf, size_t size, size_t hdr_size, uint32_t first,
		  vfio_cap_fn fn, void *arg)
{
	uint32_t off = first;
	int n = 0;

	while (off) {
		const struct vfio_info_cap_header *cap;
		int ret;

		/*
		 * Forward only, after the fixed header, wholly inside the buffer,
		 * and 8-byte aligned as the kernel lays them out (the payloads
		 * hold u64s, read in place).
		 */
		if (off < hdr_size || off % 8 || size < sizeof(*cap) ||
		    off > size - sizeof(*cap) || ++n > CAP_MAX)
			return -EPROTO;
		cap = (const void *)((const char *)buf + off);
		ret = fn(cap, size - off, arg);
		if (ret)
			return ret;
		if (cap->next && cap->next <= off)
			return -EPROTO;
		off = cap->next;
	}
	return 0;
}
