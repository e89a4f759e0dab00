// SPDX-License-Identifier: GPL-2.0-only
/* The -qmp option value: what is accepted, and how the rest is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "qmp/qmp.h"

static struct qmp_listen_opts o;
static char err[512];

static int parse(const char *v)
{
	memset(&o, 0, sizeof(o));
	err[0] = '\0';
	return qmp_parse_listen_opts(v, &o, err, sizeof(err));
}

static void expect_ok(const char *v, const char *path)
{
	cr_assert_eq(parse(v), 0, "%s: %s", v, err);
	cr_assert_str_eq(o.path, path, "%s", v);
}

static void expect_bad(const char *v, const char *words)
{
	cr_assert_eq(parse(v), -EINVAL, "%s was accepted", v);
	cr_assert(strstr(err, words), "%s: '%s' lacks '%s'", v, err, words);
}

Test(opts, accepted_spellings)
{
	expect_ok("unix:/run/vm.qmp,server=on,wait=off", "/run/vm.qmp");
	expect_ok("unix:/run/vm.qmp,wait=off,server=on", "/run/vm.qmp");
	expect_ok("unix:rel.sock,server=yes,wait=no", "rel.sock");
	expect_ok("unix:/x,server=true,wait=false", "/x");
	/* QEMU's older flags. */
	expect_ok("unix:/x,server,nowait", "/x");
	/* ",," is a comma in the path. */
	expect_ok("unix:/tmp/a,,b,,,server=on,wait=off", "/tmp/a,b,");
}

Test(opts, unsupported_endpoints)
{
	expect_bad("tcp:localhost:4444,server=on,wait=off", "unix socket only");
	expect_bad("stdio", "unix socket only");
	expect_bad("mon:stdio", "unix socket only");
	expect_bad("/run/vm.qmp", "unix:PATH,server=on,wait=off");
	expect_bad("", "unix socket only");
	cr_assert_eq(qmp_parse_listen_opts(NULL, &o, err, sizeof(err)), -EINVAL);
}

Test(opts, client_mode_and_waiting_are_refused)
{
	expect_bad("unix:/x", "without server=on");
	expect_bad("unix:/x,wait=off", "without server=on");
	expect_bad("unix:/x,server=off,wait=off", "without server=on");
	expect_bad("unix:/x,server=on", "add wait=off");
	expect_bad("unix:/x,server=on,wait=on", "add wait=off");
}

Test(opts, malformed_options)
{
	expect_bad("unix:", "needs a socket path");
	expect_bad("unix:,server=on,wait=off", "needs a socket path");
	expect_bad("unix:/x,server=maybe,wait=off", "takes on or off, not 'maybe'");
	expect_bad("unix:/x,server=on,wait=off,abstract=on", "'abstract' is not supported");
	expect_bad("unix:/x,server=on,wait=off,reconnect=1", "'reconnect' is not supported");
	expect_bad("unix:/x,server=on,server=on,wait=off", "given twice");
	expect_bad("unix:/x,server=on,,wait=off", "empty option");
	expect_bad("unix:/x,server=on,wait=off,", "empty option");
}

Test(opts, path_too_long)
{
	char v[300] = "unix:/";

	memset(v + 6, 'p', 200);
	strcpy(v + 206, ",server=on,wait=off");
	expect_bad(v, "too long");
	/* 107 bytes fit. */
	memset(v + 5, 'q', 107);
	v[5] = '/';
	strcpy(v + 5 + 107, ",server=on,wait=off");
	cr_assert_eq(parse(v), 0, "%s", err);
	cr_assert_eq(strlen(o.path), 107);
}
