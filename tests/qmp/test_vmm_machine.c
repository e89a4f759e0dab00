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

#include "tests/qmp/harness.h"

static char *fake_kernel_file(void)
{
	static uint8_t p[64 * 1024];
	char *path = strdup("/tmp/ferry-qmp-kernel-XXXXXX");
	int fd;

	p[0x1f1] = 4;				/* setup_sects */
	p[0x201] = 0x6a;			/* jump */
	memcpy(p + 0x202, "HdrS", 4);
	p[0x206] = 0x0f;			/* protocol 2.15 */
	p[0x207] = 0x02;
	p[0x211] = 1;				/* LOADED_HIGH */
	p[0x234] = 1;				/* relocatable */
	p[0x236] = 1;				/* XLF_KERNEL_64 */
	p[0x238] = 0xff;			/* cmdline_size */
	p[0x25b] = 0x01;			/* pref_address 16 MiB */
	p[0x262] = 0x10;			/* init_size 1 MiB */
	p[5 * 512 + 0x200] = 0xeb;		/* startup_64: jmp $ */
	p[5 * 512 + 0x201] = 0xfe;
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, sizeof(p)), (ssize_t)sizeof(p));
	close(fd);
	return path;
}

static const char *status(struct tc *c, bool *running)
{
	static char buf[64];
	struct json_object *m = tc_cmd(c, "{\"execute\":\"query-status\"}");

	cr_assert_not_null(jstr(m, "return.status"), "%s", c->last_line);
	snprintf(buf, sizeof(buf), "%s", jstr(m, "return.status"));
	*running = json_object_get_boolean(jpath(m, "return.running"));
	json_object_put(m);
	return buf;
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

	cr_assert_str_eq(status(&c, &running), "prelaunch");
	cr_assert_not(running);
	cr_assert_eq(vmm_start(vmm, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pthread_create(&wait_th, NULL, waiter, vmm), 0);

	/* An error only if the vCPU failed while being paused. */
	m = tc_cmd(&c, "{\"execute\":\"stop\"}");
	if (jpath(m, "error"))
		expect_error(m, "GenericError", "Cannot pause the virtual machine");
	else
		expect_return_empty(m);
	st = status(&c, &running);
	if (!strcmp(st, "paused")) {
		cr_log_info("the vCPU runs here: stop, cont, reset and quit on a live machine");
		json_object_put(expect_event_named(&c, "STOP"));
		cr_assert_eq(vmm_get_state(vmm), VMM_STATE_PAUSED);
		expect_return_empty(tc_cmd(&c, "{\"execute\":\"cont\"}"));
		json_object_put(expect_event_named(&c, "RESUME"));
		cr_assert_str_eq(status(&c, &running), "running");
		cr_assert(running);
		/* The machine reboots its kernel and reports it; QMP asked. */
		expect_return_empty(tc_cmd(&c, "{\"execute\":\"system_reset\"}"));
		expect_reason(expect_event_named(&c, "RESET"), false, "host-qmp-system-reset");
		cr_assert_eq(vmm_get_reset_count(vmm), 1);
		expect_return_empty(tc_cmd(&c, "{\"execute\":\"quit\"}"));
		expect_reason(expect_event_named(&c, "SHUTDOWN"), false, "host-qmp-quit");
		pthread_join(wait_th, &why);
		cr_assert_eq((intptr_t)why, VMM_STOP_HOST);
		cr_assert_str_eq(status(&c, &running), "shutdown");
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
