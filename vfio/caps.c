// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO INFO capability chains: a linked list of headers inside the reply
 * buffer, each naming the offset of the next from the start of the buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/priv.h"

/* The kernel writes a handful; more than this means a loop we failed to see. */
#define CAP_MAX 64

int vfio_cap_walk(const void *buf, size_t size, size_t hdr_size, uint32_t first,
		  vfio_cap_fn fn, void *arg)
{
	uint32_t off = first;
	void *copy = NULL;
	int n = 0, ret = 0;

	while (off) {
		const struct vfio_info_cap_header *cap;

		/*
		 * Forward only, after the fixed header, wholly inside the buffer.
		 * 4-byte aligned: Linux 6.1 packs a 12-byte DMA_AVAIL before the
		 * IOVA ranges, so a capability may sit at 4 mod 8.
		 */
		if (off < hdr_size || off % 4 || size < sizeof(*cap) ||
		    off > size - sizeof(*cap) || ++n > CAP_MAX) {
			ret = -EPROTO;
			break;
		}
		cap = (const void *)((const char *)buf + off);
		if (off % 8) {
			/* The payloads hold u64s, read in place: give them an aligned copy. */
			free(copy);
			copy = malloc(size - off);
			if (!copy) {
				ret = -ENOMEM;
				break;
			}
			memcpy(copy, cap, size - off);
			ret = fn(copy, size - off, arg);
		} else {
			ret = fn(cap, size - off, arg);
		}
		if (ret)
			break;
		if (cap->next && cap->next <= off) {
			ret = -EPROTO;
			break;
		}
		off = cap->next;
	}
	free(copy);
	return ret;
}
