// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmm/privs.c: -run-with user= resolves users, raises RLIMIT_MEMLOCK and
 * really drops ids and capabilities.  The drops run in a forked child (they
 * cannot be undone), checked through /proc/self/status as an operator would;
 * they need root, which the test machine is, and are skipped otherwise.
 */
#include <cap-ng.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/privs.h"

Test(privs, resolves_a_user_name_and_numbers)
{
	struct privs_target t;
	char err[256] = "";

	if (geteuid())
		cr_skip_test("needs root (CAP_SETUID) to resolve a target");
	cr_assert_eq(privs_resolve("nobody", false, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.uid, 65534);
	cr_assert_eq(t.gid, 65534);
	cr_assert_str_eq(t.name, "nobody");
	cr_assert_not(t.keep_ipc_lock);

	cr_assert_eq(privs_resolve("1234:5678", true, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.uid, 1234);
	cr_assert_eq(t.gid, 5678);
	cr_assert(t.keep_ipc_lock);
}

Test(privs, refuses_unknown_users_and_bad_numbers)
{
	static const char *const bad[] = { "1234:", ":5", "12x:5", "1:-2", "4294967295:1" };
	struct privs_target t;
	char err[256] = "";

	cr_assert_neq(privs_resolve("no-such-user-ferry", false, &t, err, sizeof(err)), 0);
	cr_assert(strstr(err, "no such user"), "%s", err);
	cr_assert(strstr(err, "no-such-user-ferry"), "%s", err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(privs_resolve(bad[i], false, &t, err, sizeof(err)), -EINVAL, "%s",
			     bad[i]);
		cr_assert(strstr(err, "UID:GID in numbers"), "%s: %s", bad[i], err);
	}
}

Test(privs, memlock_need_covers_two_address_spaces_and_a_margin)
{
	cr_assert_eq(privs_memlock_need(512ULL << 20), (1024ULL << 20) + PRIVS_MEMLOCK_MARGIN);
	cr_assert_eq(privs_memlock_need(0), PRIVS_MEMLOCK_MARGIN);
}

/* Runs @fn in a child and returns its exit status (0 = every check held). */
static int privs_in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (!pid)
		_exit(fn(arg));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died: status %#x", status);
	return WEXITSTATUS(status);
}

static int raise_soft_child(void *arg)
{
	struct rlimit rl = { .rlim_cur = 64 << 10, .rlim_max = 1 << 20 };
	char err[256];

	(void)arg;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 10;
	if (privs_raise_memlock(512 << 10, err, sizeof(err)))
		return 11;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur != 512 << 10 || rl.rlim_max != 1 << 20)
		return 12;
	return 0;
}

Test(privs, raises_the_soft_rlimit_memlock_within_the_hard_one)
{
	int ret = privs_in_child(raise_soft_child, NULL);

	cr_assert_eq(ret, 0, "check %d failed", ret);
}

static int raise_child(void *arg)
{
	struct rlimit rl = { .rlim_cur = 64 << 10, .rlim_max = 1 << 20 };
	char err[256];

	(void)arg;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 10;
	if (privs_raise_memlock(3ULL << 30, err, sizeof(err)))
		return 11;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur != 3ULL << 30 ||
	    rl.rlim_max != 3ULL << 30)
		return 12;
	/* Never lowers. */
	if (privs_raise_memlock(1 << 20, err, sizeof(err)) || getrlimit(RLIMIT_MEMLOCK, &rl) ||
	    rl.rlim_cur != 3ULL << 30)
		return 13;
	return 0;
}

Test(privs, raises_rlimit_memlock)
{
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process() || capng_have_capability(CAPNG_EFFECTIVE,
							      CAP_SYS_RESOURCE) != 1)
		cr_skip_test("needs CAP_SYS_RESOURCE to raise the hard limit (containers may "
			     "lack it; the lab's root has it)");
	int ret = privs_in_child(raise_child, NULL);

	cr_assert_eq(ret, 0, "check %d failed", ret);
}

static int raise_unprivileged_child(void *arg)
{
	struct rlimit rl = { .rlim_cur = 64 << 10, .rlim_max = 1 << 20 };
	struct privs_target t = { .uid = 65534, .gid = 65534, .name = "nobody" };
	char err[512], warn[256];

	(void)arg;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) || privs_drop(&t, err, sizeof(err), warn, sizeof(warn)))
		return 10;
	if (privs_raise_memlock(3ULL << 30, err, sizeof(err)) != -EPERM)
		return 11;
	return strstr(err, "3072 MiB") && strstr(err, "keep-ipc-lock") ? 0 : 12;
}

Test(privs, a_memlock_it_cannot_raise_is_explained)
{
	if (geteuid())
		cr_skip_test("needs root to become nobody");
	cr_assert_eq(privs_in_child(raise_unprivileged_child, NULL), 0);
}

/* The value of a "Key:\t..." line of /proc/self/status, or NULL. */
static char *status_field(const char *key, char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t klen = strlen(key);
	char *found = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			const char *v = line + klen + 1;

			v += strspn(v, " \t");
			snprintf(buf, len, "%s", v);
			buf[strcspn(buf, "\n")] = '\0';
			found = buf;
			break;
		}
	}
	fclose(f);
	return found;
}

static int check_caps(unsigned long long want_eff_prm)
{
	static const char *const keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	char buf[128];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		unsigned long long v;

		if (!status_field(keys[i], buf, sizeof(buf)))
			return 20;
		v = strtoull(buf, NULL, 16);
		if ((!strcmp(keys[i], "CapPrm") || !strcmp(keys[i], "CapEff")) &&
		    v != want_eff_prm)
			return 21 + (int)i;
		if (strcmp(keys[i], "CapPrm") && strcmp(keys[i], "CapEff") &&
		    strcmp(keys[i], "CapBnd") && v)
			return 26 + (int)i;
		/* The bounding set may keep CAP_IPC_LOCK when it is kept. */
		if (!strcmp(keys[i], "CapBnd") && (v & ~want_eff_prm))
			return 31;
	}
	return 0;
}

static int drop_child(void *arg)
{
	const struct privs_target *t = arg;
	char err[512], warn[256], buf[128];
	int ret;

	/* Start with a supplementary group, so dropping them is seen. */
	if (setgroups(1, (gid_t[]){ 4 }))
		return 2;
	if (privs_drop(t, err, sizeof(err), warn, sizeof(warn))) {
		fprintf(stderr, "%s\n", err);
		return 3;
	}
	if (warn[0])
		return 4;
	if (!status_field("Uid", buf, sizeof(buf)) || strcmp(buf, "65534\t65534\t65534\t65534"))
		return 5;
	if (!status_field("Gid", buf, sizeof(buf)) || strcmp(buf, "65534\t65534\t65534\t65534"))
		return 6;
	if (!status_field("Groups", buf, sizeof(buf)) || buf[strspn(buf, " \t")])
		return 7;
	ret = check_caps(t->keep_ipc_lock ? 1ULL << CAP_IPC_LOCK : 0);
	if (ret)
		return ret;
	/* Privileged things really fail now. */
	if (!setuid(0) || !setgroups(0, NULL))
		return 40;
	return 0;
}

Test(privs, drop_leaves_no_ids_groups_or_capabilities)
{
	struct privs_target t = { .uid = 65534, .gid = 65534, .name = "nobody" };

	if (geteuid())
		cr_skip_test("needs root to become nobody");
	cr_assert_eq(privs_in_child(drop_child, &t), 0);
}

Test(privs, keep_ipc_lock_keeps_that_capability_alone)
{
	struct privs_target t = {
		.uid = 65534, .gid = 65534, .name = "nobody", .keep_ipc_lock = true,
	};

	if (geteuid())
		cr_skip_test("needs root to become nobody");
	cr_assert_eq(privs_in_child(drop_child, &t), 0);
}

static void *privs_sleeper(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static int threads_child(void *arg)
{
	const struct privs_target *t = arg;
	char err[512], warn[256];
	pthread_t th;

	if (pthread_create(&th, NULL, privs_sleeper, NULL))
		return 2;
	if (privs_drop(t, err, sizeof(err), warn, sizeof(warn)) != -EBUSY)
		return 3;
	if (!strstr(err, "several threads") || getuid() != 0)
		return 4;
	return 0;
}

Test(privs, refuses_to_drop_with_threads_running)
{
	struct privs_target t = { .uid = 65534, .gid = 65534, .name = "nobody" };

	if (geteuid())
		cr_skip_test("needs root to become nobody");
	cr_assert_eq(privs_in_child(threads_child, &t), 0);
}
