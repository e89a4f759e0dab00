// SPDX-License-Identifier: GPL-2.0-only
/*
 * The value of -qmp: "unix:PATH,server=on,wait=off".
 *
 * QEMU's meaning is kept for every spelling ferry accepts, and everything
 * else is refused by name: without server=on QEMU connects out as a client,
 * and with server=on but no wait=off it blocks start-up until a client
 * connects; ferry does neither, so it asks for both options explicitly
 * instead of silently meaning something else.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qmp/qmp.h"

#define QMP_OPTS_HINT "use -qmp unix:PATH,server=on,wait=off"

/* -1: not given; 0: off; 1: on */
static int opts_bool(const char *key, const char *val, size_t len, char *err, size_t errlen)
{
	static const char *const on[] = { "on", "yes", "true" };
	static const char *const off[] = { "off", "no", "false" };

	for (size_t i = 0; i < 3; i++) {
		if (strlen(on[i]) == len && !strncmp(val, on[i], len))
			return 1;
		if (strlen(off[i]) == len && !strncmp(val, off[i], len))
			return 0;
	}
	snprintf(err, errlen, "-qmp option '%s' takes on or off, not '%.*s'", key, (int)len, val);
	return -EINVAL;
}

static int opts_set(int *slot, int val, const char *key, char *err, size_t errlen)
{
	if (*slot != -1) {
		snprintf(err, errlen, "-qmp option '%s' is given twice", key);
		return -EINVAL;
	}
	*slot = val;
	return 0;
}

/* One "key=value" (or a bare flag) of length @len at @p. */
static int opts_one(const char *p, size_t len, int *server, int *wait, char *err, size_t errlen)
{
	const char *eq = memchr(p, '=', len);
	size_t klen = eq ? (size_t)(eq - p) : len;
	int v;

	if (!eq) {
		/* QEMU's older flag spellings. */
		if (len == 6 && !strncmp(p, "server", 6))
			return opts_set(server, 1, "server", err, errlen);
		if (len == 6 && !strncmp(p, "nowait", 6))
			return opts_set(wait, 0, "wait", err, errlen);
	} else if (klen == 6 && !strncmp(p, "server", 6)) {
		v = opts_bool("server", eq + 1, len - klen - 1, err, errlen);
		return v < 0 ? v : opts_set(server, v, "server", err, errlen);
	} else if (klen == 4 && !strncmp(p, "wait", 4)) {
		v = opts_bool("wait", eq + 1, len - klen - 1, err, errlen);
		return v < 0 ? v : opts_set(wait, v, "wait", err, errlen);
	}
	snprintf(err, errlen, "-qmp option '%.*s' is not supported: ferry knows server and wait; "
		 QMP_OPTS_HINT, (int)klen, p);
	return -EINVAL;
}

int qmp_parse_listen_opts(const char *value, struct qmp_listen_opts *opts,
			  char *err, size_t errlen)
{
	int server = -1, wait = -1;
	const char *p;
	size_t n = 0;
	int ret;

	if (!value || strncmp(value, "unix:", 5)) {
		snprintf(err, errlen, "-qmp '%s' is not supported: ferry serves QMP on a unix "
			 "socket only; " QMP_OPTS_HINT, value ? value : "");
		return -EINVAL;
	}

	/* The path runs to the first single comma; ",," is a literal comma. */
	for (p = value + 5; *p; p++) {
		if (*p == ',') {
			if (p[1] != ',')
				break;
			p++;
		}
		if (n == sizeof(opts->path) - 1) {
			snprintf(err, errlen, "-qmp socket path is too long: a unix socket "
				 "path has at most %zu bytes", sizeof(opts->path) - 1);
			return -EINVAL;
		}
		opts->path[n++] = *p;
	}
	opts->path[n] = '\0';
	if (!n) {
		snprintf(err, errlen, "-qmp unix: needs a socket path; " QMP_OPTS_HINT);
		return -EINVAL;
	}

	while (*p == ',') {
		const char *start = ++p;

		p = strchrnul(start, ',');
		if (p == start) {
			snprintf(err, errlen, "-qmp '%s' has an empty option; " QMP_OPTS_HINT,
				 value);
			return -EINVAL;
		}
		ret = opts_one(start, p - start, &server, &wait, err, errlen);
		if (ret)
			return ret;
	}

	if (server != 1) {
		snprintf(err, errlen, "-qmp unix:%s without server=on would connect out to a "
			 "socket as a client; ferry only listens: " QMP_OPTS_HINT, opts->path);
		return -EINVAL;
	}
	if (wait != 0) {
		snprintf(err, errlen, "-qmp with wait=on (the default) would block start-up "
			 "until a client connects, which ferry does not do: add wait=off");
		return -EINVAL;
	}
	return 0;
}
