// SPDX-License-Identifier: GPL-2.0-only
/*
 * qmp_vmm_machine_ops against a real struct vmm on this machine's /dev/kvm
 * (skipped where there is none).  The "kernel" is a bzImage header whose
 * 64-bit entry spins; this host's paravirtual KVM may refuse long mode, in
 * which case the vCPU fails and the machine stops: both runs are checked.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/qmp/bzimage.h"
#include "tests/qmp/harness.h"

/* A bzImage whose 64-bit entry spins (jmp .), in a new temporary file. */
static char *fake_kernel_file(void)
{
	static const uint8_t spin[] = { 0xeb, 0xfe };
	char *path = strdup("/tmp/ferry-qmp-kernel-XXXXXX");
	int fd;

	cr_assert_not_null(path);
	fd = mkstemp(path);
	bzimage_write(fd, spin, sizeof(spin));
	close(fd);
	return path;
}

static struct json_object *expect_event_named(struct tc *c, const char *name)
{
	struct json_object *ev = tc_event(c);

	cr_assert_str_eq(jstr(ev, "event"), name, "%s", json_object_to_json_string(ev));
	return ev;
}

static void expect_reason(struct json_object *ev, bool guest, const char *reason)
{
	cr_assert_eq(json_object_get_boolean(jpath(ev, "data.guest")), guest, "%s",
		     json_object_to_json_string(ev));
	cr_assert_str_eq(jstr(ev, "data.reason"), reason, "%s", json_object_to_json_string(ev));
	json_object_put(ev);
}

/* Resets are carried out by the thread in vmm_wait(): one must be there. */
static void *waiter(void *arg)
{
	return (void *)(intptr_t)vmm_wait(arg);
}

Test(vmm_machine, qmp_drives_a_real_machine, .timeout = 60)
{
	struct vmm_config vcfg = { .ram_size = 64ULL << 20, .nr_vcpus = 1,
				   .serial = VMM_SERIAL_NONE };
	struct qmp_server_config cfg = { .machine = &qmp_vmm_machine_ops };
	struct qmp_vmm_machine *qm;
	char err[512] = "";
	struct json_object *m;
	struct vmm *vmm;
	pthread_t wait_th;
	void *why;
	struct th t;
	struct tc c;
	bool running;
	const char *st;

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("/dev/kvm is not available here");
	vcfg.kernel = fake_kernel_file();
	cr_assert_eq(vmm_new(&vcfg, &vmm, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(qmp_vmm_machine_new(vmm, &qm), 0);
	cfg.machine_opaque = qm;
	th_start(&t, &cfg);
	tc_open(&c, &t);

	cr_assert_str_eq(tc_status(&c, &running), "prelaunch");
	cr_assert_not(running);
	cr_assert_eq(vmm_start(vmm, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pthread_create(&wait_th, NULL, waiter, vmm), 0);

	/* An error only if the vCPU failed while being paused. */
	m = tc_cmd(&c, "{\"execute\":\"stop\"}");
	if (jpath(m, "error"))
		expect_error(m, "GenericError", "Cannot pause the virtual machine");
	else
		expect_return_empty(m);
	st = tc_status(&c, &running);
	if (!strcmp(st, "paused")) {
		cr_log_info("the vCPU runs here: stop, cont, reset and quit on a live machine");
		json_object_put(expect_event_named(&c, "STOP"));
		cr_assert_eq(vmm_get_state(vmm), VMM_STATE_PAUSED);
		expect_return_empty(tc_cmd(&c, "{\"execute\":\"cont\"}"));
		json_object_put(expect_event_named(&c, "RESUME"));
		cr_assert_str_eq(tc_status(&c, &running), "running");
		cr_assert(running);
		/* The machine reboots its kernel and reports it; QMP asked. */
		expect_return_empty(tc_cmd(&c, "{\"execute\":\"system_reset\"}"));
		expect_reason(expect_event_named(&c, "RESET"), false, "host-qmp-system-reset");
		cr_assert_eq(vmm_get_reset_count(vmm), 1);
		expect_return_empty(tc_cmd(&c, "{\"execute\":\"quit\"}"));
		expect_reason(expect_event_named(&c, "SHUTDOWN"), false, "host-qmp-quit");
		pthread_join(wait_th, &why);
		cr_assert_eq((intptr_t)why, VMM_STOP_HOST);
		cr_assert_str_eq(tc_status(&c, &running), "shutdown");
	} else {
		/* The vCPU could not run here: the machine stopped on its own, and said so. */
		cr_log_info("the vCPU failed here: checking the stopped machine's state");
		pthread_join(wait_th, &why);
		cr_assert_eq((intptr_t)why, VMM_STOP_ERROR);
		cr_assert_str_eq(st, "internal-error");
		expect_reason(expect_event_named(&c, "SHUTDOWN"), false, "host-error");
		expect_error(tc_cmd(&c, "{\"execute\":\"cont\"}"), "GenericError",
			     "is in state 'internal-error'");
	}
	cr_assert_not(running);
	tc_close(&c);
	th_stop(&t);
	vmm_free(vmm);
	qmp_vmm_machine_free(qm);
	unlink(vcfg.kernel);
	free((char *)vcfg.kernel);
}
