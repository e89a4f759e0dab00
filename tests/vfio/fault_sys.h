/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fault_sys - a struct vfio_sys that wraps another one and fails one chosen
 * call with a chosen errno, without forwarding it.
 *
 * It counts every call, so a test first runs a sequence disarmed to learn
 * how many call points it has (and, with recording on, what each one is),
 * then runs it again failing each point in turn.
 *
 * One exception to "not forwarded": close.  Linux releases the fd even when
 * close() reports an error, so a failing close is forwarded and then
 * reported failed; anything else would invent a leak the kernel never makes.
 */
#ifndef FERRY_TESTS_FAULT_SYS_H
#define FERRY_TESTS_FAULT_SYS_H

#include <stdbool.h>
#include <stddef.h>

#include "vfio/vfio.h"

enum fault_op {
	FAULT_OPEN,
	FAULT_CLOSE,
	FAULT_IOCTL,
	FAULT_PREAD,
	FAULT_PWRITE,
	FAULT_MMAP,
	FAULT_MUNMAP,
	FAULT_READLINK,
	FAULT_READDIR,
	FAULT_GETRLIMIT,
};

/* One recorded call. */
struct fault_call {
	enum fault_op op;
	int fd;			/* close/ioctl/pread/pwrite/mmap: the fd, else -1 */
	unsigned long req;	/* FAULT_IOCTL: the request (numbers are per fd type) */
	char path[96];		/* open/readlink/readdir: the path (truncated) */
};

#define FAULT_LOG_MAX 4096

struct fault_sys {
	struct vfio_sys sys;	/* hand &f->sys (or fault_sys_table()) to vfio/ */
	struct vfio_sys *inner;

	unsigned long calls;		/* every call seen since the last reset */
	unsigned long req_calls;	/* calls of @req seen since the last reset */

	/* Armed: fail call number @fail_at (1-based) of @req, or of all calls if @req is 0. */
	unsigned long fail_at;
	unsigned long req;
	int errnum;			/* positive errno to inject */
	unsigned long injected;		/* failures injected so far */
	struct fault_call failed;	/* the last call that was failed */

	bool record;
	size_t nlog;			/* calls recorded (capped at FAULT_LOG_MAX) */
	struct fault_call log[FAULT_LOG_MAX];
};

void fault_sys_init(struct fault_sys *f, struct vfio_sys *inner);
struct vfio_sys *fault_sys_table(struct fault_sys *f);
/* The fault_sys behind a table made by fault_sys_init(), else NULL. */
struct fault_sys *fault_sys_from(struct vfio_sys *sys);

/* Fails the @nth call (1-based) from now on with @errnum (positive). Resets the counts. */
void fault_sys_arm(struct fault_sys *f, unsigned long nth, int errnum);
/* Fails the @nth ioctl of request @req from now on. Resets the counts. */
void fault_sys_arm_ioctl(struct fault_sys *f, unsigned long req, unsigned long nth, int errnum);
void fault_sys_disarm(struct fault_sys *f);
/* Zeroes the call counts and the record (keeps the arming). */
void fault_sys_reset(struct fault_sys *f);
void fault_sys_record(struct fault_sys *f, bool on);

/* "ioctl VFIO_GROUP_SET_CONTAINER", "open /dev/vfio/7", ... into @buf. */
const char *fault_call_describe(const struct fault_call *c, char *buf, size_t len);
/* The name of a VFIO/iommufd/KVM ioctl request ferry uses, or NULL. */
const char *fault_ioctl_name(unsigned long req);

#endif /* FERRY_TESTS_FAULT_SYS_H */
