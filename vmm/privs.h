/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: running without privileges (-run-with user=).  ferry does
 * every privileged thing first (opens /dev/kvm, allocates guest RAM,
 * attaches the -device's, binds the QMP socket), then, still single-threaded,
 * raises RLIMIT_MEMLOCK to what DMA pinning of guest RAM needs and becomes
 * the given user with no capabilities.  main.c orders these steps.
 */
#ifndef FERRY_VMM_PRIVS_H
#define FERRY_VMM_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The user to become, resolved before anything starts. */
struct privs_target {
	uid_t uid;
	gid_t gid;
	char name[64];		/* for messages: the user name, or "UID:GID" */
	bool keep_ipc_lock;	/* keep CAP_IPC_LOCK instead of raising RLIMIT_MEMLOCK */
};

/*
 * Resolves -run-with user=: a user name (its uid and primary gid from the
 * password database) or "UID:GID".  Also checks this process may change
 * ids (CAP_SETUID, CAP_SETGID), so that a run that cannot drop is refused
 * before the machine is built.  0, or -EINVAL / -EPERM with a sentence.
 */
int privs_resolve(const char *user, bool keep_ipc_lock, struct privs_target *t, char *err,
		  size_t errlen);

/*
 * The RLIMIT_MEMLOCK that guest RAM of @ram_size needs: VFIO pins every RAM
 * page once per DMA address space, and a VM has at most two (the legacy
 * container and one iommufd IOAS, each accounted on its own), plus a
 * margin for what else a hot-plugged device may pin.
 */
unsigned long long privs_memlock_need(unsigned long long ram_size);

#define PRIVS_MEMLOCK_MARGIN	(64ULL << 20)

/*
 * Raises RLIMIT_MEMLOCK (soft and hard) to at least @bytes; never lowers
 * it.  Needs CAP_SYS_RESOURCE when the hard limit is below @bytes, so it
 * runs before privs_drop().
 */
int privs_raise_memlock(unsigned long long bytes, char *err, size_t errlen);

/*
 * Becomes @t: supplementary groups dropped, gid then uid changed, every
 * capability (effective, permitted, inheritable, ambient, bounding) cleared
 * except CAP_IPC_LOCK with keep_ipc_lock.  Must run while the process has
 * one thread: capabilities are per thread.  Checks the result; a bounding
 * set that could not be cleared is reported in @warn (when non-NULL) but is
 * not an error.
 */
int privs_drop(const struct privs_target *t, char *err, size_t errlen, char *warn,
	       size_t warnlen);

#endif /* FERRY_VMM_PRIVS_H */
