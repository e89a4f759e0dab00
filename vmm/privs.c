// SPDX-License-Identifier: GPL-2.0-only
/*
 * -run-with user=: becoming an unprivileged user after the privileged
 * set-up.  libcap-ng does the change of ids so that capabilities, groups
 * and the bounding set go in one well-ordered step.
 */
#include <cap-ng.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vmm/privs.h"

static int privs_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int privs_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static int privs_id(const char *s, const char *end, unsigned long *v)
{
	char *e;

	if (s == end || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoul(s, &e, 10);
	/* (uid_t)-1 means "unchanged" to setresuid: never a target. */
	if (errno || e != end || *v >= 0xffffffffUL)
		return -EINVAL;
	return 0;
}

int privs_resolve(const char *user, bool keep_ipc_lock, struct privs_target *t, char *err,
		  size_t errlen)
{
	const char *colon = strchr(user, ':');

	memset(t, 0, sizeof(*t));
	t->keep_ipc_lock = keep_ipc_lock;
	if (colon) {
		unsigned long uid, gid;

		if (privs_id(user, colon, &uid) || privs_id(colon + 1, colon + strlen(colon), &gid))
			return privs_err(err, errlen, -EINVAL, "-run-with user=%s: give a user "
					 "name or UID:GID in numbers (e.g. user=nobody, "
					 "user=65534:65534)", user);
		t->uid = (uid_t)uid;
		t->gid = (gid_t)gid;
	} else {
		struct passwd *pw;

		errno = 0;
		pw = getpwnam(user);
		if (!pw)
			return privs_err(err, errlen, errno ? -errno : -EINVAL,
					 "-run-with user=%s: %s", user, errno ?
					 strerror(errno) : "no such user (see getent passwd; "
					 "UID:GID in numbers needs no entry)");
		t->uid = pw->pw_uid;
		t->gid = pw->pw_gid;
	}
	snprintf(t->name, sizeof(t->name), "%s", user);

	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process())
		return privs_err(err, errlen, -EPERM, "-run-with user=%s: cannot read this "
				 "process's capabilities", user);
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETUID) != 1 ||
	    capng_have_capability(CAPNG_EFFECTIVE, CAP_SETGID) != 1)
		return privs_err(err, errlen, -EPERM, "-run-with user=%s: ferry lacks "
				 "CAP_SETUID/CAP_SETGID to change user: start it as root (it "
				 "drops root after the set-up), or leave out -run-with", user);
	return 0;
}

unsigned long long privs_memlock_need(unsigned long long ram_size)
{
	return 2 * ram_size + PRIVS_MEMLOCK_MARGIN;
}

int privs_raise_memlock(unsigned long long bytes, char *err, size_t errlen)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return privs_err(err, errlen, -errno, "cannot read RLIMIT_MEMLOCK: %s",
				 strerror(errno));
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < bytes)
		rl.rlim_cur = bytes;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_MEMLOCK, &rl)) {
		int e = errno;

		return privs_err(err, errlen, -e, "cannot raise RLIMIT_MEMLOCK to %llu MiB, "
				 "which DMA pinning of guest RAM needs after ferry drops its "
				 "privileges: %s (raise it before starting ferry, e.g. "
				 "prlimit --memlock, or give -run-with ...,keep-ipc-lock=on)",
				 bytes >> 20, strerror(e));
	}
	return 0;
}

/* Capabilities, the change of ids and keepcaps are per thread. */
static int privs_count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool privs_bounding_empty(bool keep_ipc_lock)
{
	for (unsigned long c = 0; c <= CAP_LAST_CAP; c++) {
		if (keep_ipc_lock && c == CAP_IPC_LOCK)
			continue;
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			return false;
	}
	return true;
}

int privs_drop(const struct privs_target *t, char *err, size_t errlen, char *warn,
	       size_t warnlen)
{
	uid_t r, e, s;
	int ret, n;

	if (warn && warnlen)
		warn[0] = '\0';
	n = privs_count_threads();
	if (n != 1)
		return privs_err(err, errlen, n < 0 ? n : -EBUSY, "-run-with user=%s: cannot "
				 "drop privileges: %s", t->name, n < 0 ? strerror(-n) :
				 "ferry already runs several threads (capabilities are per "
				 "thread)");

	capng_clear(CAPNG_SELECT_ALL);
	if (t->keep_ipc_lock)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			     CAP_IPC_LOCK);
	/*
	 * Groups, then gid, then uid (a changed uid could no longer change the
	 * gid); libcap-ng keeps the capabilities set above across setresuid
	 * and applies them, the bounding set and the ambient set afterwards.
	 */
	ret = capng_change_id((int)t->uid, (int)t->gid,
			      CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT);
	if (ret)
		return privs_err(err, errlen, -EPERM, "-run-with user=%s: changing to uid %u "
				 "gid %u failed (libcap-ng step %d: %s)", t->name,
				 (unsigned int)t->uid, (unsigned int)t->gid, ret,
				 strerror(errno));

	/* Verify rather than trust: a run meant to be unprivileged must be. */
	if (getresuid(&r, &e, &s) || r != t->uid || e != t->uid || s != t->uid ||
	    getgid() != t->gid || getegid() != t->gid)
		return privs_err(err, errlen, -EPERM, "-run-with user=%s: the ids did not "
				 "change (uid %u euid %u gid %u)", t->name, (unsigned int)r,
				 (unsigned int)e, (unsigned int)getgid());
	n = getgroups(0, NULL);
	if (n != 0)
		return privs_err(err, errlen, -EPERM, "-run-with user=%s: %d supplementary "
				 "group(s) remain after the drop", t->name, n);
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process())
		return privs_err(err, errlen, -EPERM, "-run-with user=%s: cannot read the "
				 "capabilities back", t->name);
	for (unsigned int c = 0; c <= CAP_LAST_CAP; c++) {
		if (t->keep_ipc_lock && c == CAP_IPC_LOCK)
			continue;
		if (capng_have_capability(CAPNG_EFFECTIVE, c) == 1 ||
		    capng_have_capability(CAPNG_PERMITTED, c) == 1)
			return privs_err(err, errlen, -EPERM, "-run-with user=%s: capability "
					 "%s remains after the drop", t->name,
					 capng_capability_to_name(c));
	}
	if (!privs_bounding_empty(t->keep_ipc_lock) && warn && warnlen)
		snprintf(warn, warnlen, "-run-with user=%s: the capability bounding set could "
			 "not be cleared; ferry runs without capabilities, but a program it "
			 "executed could regain some", t->name);
	return 0;
}
