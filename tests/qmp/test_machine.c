// SPDX-License-Identifier: GPL-2.0-only
/*
 * The machine commands against a fake machine that records its calls:
 * query-status, stop, cont, system_reset, system_powerdown, quit, and the
 * events they emit (STOP, RESUME, RESET, POWERDOWN, SHUTDOWN).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/qmp/harness.h"

struct fake {
	_Atomic int state;
	atomic_int pauses, resumes, resets, powerdowns, quits;
	_Atomic int fail;	/* errno every operation fails with, or 0 */
	pthread_mutex_t lock;
	pthread_cond_t quit_cond;
	/* A machine that reports its own SHUTDOWN and RESET (attach/detach). */
	struct qmp_server *_Atomic attached;
	atomic_int attaches, detaches;
};

static struct fake fm;
static struct th t;

static enum qmp_run_state fake_state(void *opaque)
{
	return atomic_load(&((struct fake *)opaque)->state);
}

#define FAKE_OP(name, counter, new_state)				\
	static int fake_##name(void *opaque)				\
	{								\
		struct fake *f = opaque;				\
		atomic_fetch_add(&f->counter, 1);			\
		if (atomic_load(&f->fail))				\
			return -atomic_load(&f->fail);			\
		if ((new_state) >= 0)					\
			atomic_store(&f->state, (new_state));		\
		return 0;						\
	}

FAKE_OP(pause, pauses, QMP_RUN_STATE_PAUSED)
FAKE_OP(resume, resumes, QMP_RUN_STATE_RUNNING)
FAKE_OP(powerdown, powerdowns, -1)

/* What a self-reporting machine does: it says so itself. */
static void fake_report(struct fake *f, const char *event, const char *reason)
{
	struct qmp_server *s = atomic_load(&f->attached);
	struct json_object *d;

	if (!s)
		return;
	d = json_object_new_object();
	json_object_object_add(d, "guest", json_object_new_boolean(0));
	json_object_object_add(d, "reason", json_object_new_string(reason));
	cr_assert_eq(qmp_server_emit_event(s, event, d), 0);
}

static int fake_reset(void *opaque)
{
	struct fake *f = opaque;

	atomic_fetch_add(&f->resets, 1);
	if (atomic_load(&f->fail))
		return -atomic_load(&f->fail);
	fake_report(f, "RESET", "host-qmp-system-reset");
	return 0;
}

static void fake_attach(void *opaque, struct qmp_server *s)
{
	struct fake *f = opaque;

	atomic_fetch_add(&f->attaches, 1);
	atomic_store(&f->attached, s);
}

static void fake_detach(void *opaque)
{
	struct fake *f = opaque;

	atomic_fetch_add(&f->detaches, 1);
	atomic_store(&f->attached, NULL);
}

static int fake_quit(void *opaque)
{
	struct fake *f = opaque;

	atomic_fetch_add(&f->quits, 1);
	if (atomic_load(&f->fail))
		return -atomic_load(&f->fail);
	fake_report(f, "SHUTDOWN", "host-qmp-quit");
	pthread_mutex_lock(&f->lock);
	atomic_store(&f->state, QMP_RUN_STATE_SHUTDOWN);
	pthread_cond_broadcast(&f->quit_cond);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static struct qmp_machine_ops fake_ops = {
	.state = fake_state,
	.pause = fake_pause,
	.resume = fake_resume,
	.reset = fake_reset,
	.powerdown = fake_powerdown,
	.quit = fake_quit,
};

static void start(bool self_reporting)
{
	struct qmp_server_config cfg = { .machine = &fake_ops, .machine_opaque = &fm };

	memset(&fm, 0, sizeof(fm));
	pthread_mutex_init(&fm.lock, NULL);
	pthread_cond_init(&fm.quit_cond, NULL);
	atomic_store(&fm.state, QMP_RUN_STATE_RUNNING);
	fake_ops.attach = self_reporting ? fake_attach : NULL;
	fake_ops.detach = self_reporting ? fake_detach : NULL;
	th_start(&t, &cfg);
}

static void setup(void)
{
	start(false);
}

static void teardown(void)
{
	th_stop(&t);
}

TestSuite(machine, .init = setup, .fini = teardown, .timeout = 30);

static void expect_status(struct tc *c, bool running, const char *status)
{
	struct json_object *m = tc_cmd(c, "{\"execute\":\"query-status\"}");

	cr_assert(json_object_is_type(jpath(m, "return.running"), json_type_boolean), "%s",
		  c->last_line);
	cr_assert_eq(json_object_get_boolean(jpath(m, "return.running")), running, "%s",
		     c->last_line);
	cr_assert_str_eq(jstr(m, "return.status"), status);
	json_object_put(m);
}

/* The next event is @name, stamped between @before and now. */
static struct json_object *expect_machine_event(struct tc *c, const char *name,
						long long before)
{
	struct json_object *ev = tc_event(c);
	int64_t sec = json_object_get_int64(jpath(ev, "timestamp.seconds"));
	int64_t usec = json_object_get_int64(jpath(ev, "timestamp.microseconds"));

	cr_assert_str_eq(jstr(ev, "event"), name, "%s", json_object_to_json_string(ev));
	cr_assert(sec >= before && sec <= wall_now(), "timestamp %lld", (long long)sec);
	cr_assert(usec >= 0 && usec < 1000000);
	return ev;
}

static void expect_no_data(struct json_object *ev)
{
	cr_assert_null(jpath(ev, "data"), "%s", json_object_to_json_string(ev));
	json_object_put(ev);
}

static void expect_reason(struct json_object *ev, const char *reason)
{
	cr_assert(json_object_is_type(jpath(ev, "data.guest"), json_type_boolean));
	cr_assert_not(json_object_get_boolean(jpath(ev, "data.guest")));
	cr_assert_str_eq(jstr(ev, "data.reason"), reason);
	cr_assert_eq(json_object_object_length(jpath(ev, "data")), 2);
	json_object_put(ev);
}

/*
 * Proves no event was emitted: an event queued now comes out first only if
 * nothing was queued before it.
 */
static void expect_no_event(struct tc *c)
{
	struct json_object *ev;

	cr_assert_eq(qmp_server_emit_event(t.s, "X-SENTINEL", NULL), 0);
	ev = tc_event(c);
	cr_assert_str_eq(jstr(ev, "event"), "X-SENTINEL", "unexpected %s",
			 json_object_to_json_string(ev));
	json_object_put(ev);
}

Test(machine, stop_and_cont)
{
	long long before = wall_now();
	struct tc c, other;

	tc_open(&c, &t);
	tc_open(&other, &t);
	expect_status(&c, true, "running");

	expect_return_empty(tc_cmd(&c, "{\"execute\":\"stop\"}"));
	cr_assert_eq(atomic_load(&fm.pauses), 1);
	expect_no_data(expect_machine_event(&c, "STOP", before));
	/* Every negotiated client hears it. */
	expect_no_data(expect_machine_event(&other, "STOP", before));
	expect_status(&c, false, "paused");

	/* Already paused: nothing happens, nothing is said. */
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"stop\"}"));
	cr_assert_eq(atomic_load(&fm.pauses), 1);
	expect_no_event(&c);

	expect_return_empty(tc_cmd(&c, "{\"execute\":\"cont\"}"));
	cr_assert_eq(atomic_load(&fm.resumes), 1);
	expect_no_data(expect_machine_event(&c, "RESUME", before));
	expect_status(&c, true, "running");

	expect_return_empty(tc_cmd(&c, "{\"execute\":\"cont\"}"));
	cr_assert_eq(atomic_load(&fm.resumes), 1);
	expect_no_event(&c);
	tc_close(&c);
	tc_close(&other);
}

Test(machine, system_reset_emits_reset)
{
	long long before = wall_now();
	struct tc c;

	tc_open(&c, &t);
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"system_reset\",\"id\":\"r\"}"));
	cr_assert_eq(atomic_load(&fm.resets), 1);
	expect_reason(expect_machine_event(&c, "RESET", before), "host-qmp-system-reset");
	tc_close(&c);
}

/* The machine reports SHUTDOWN and RESET itself: the commands do not repeat them. */
Test(machine, a_self_reporting_machine_is_not_echoed)
{
	long long before = wall_now();
	struct tc c;

	th_stop(&t);
	start(true);
	cr_assert_eq(atomic_load(&fm.attaches), 1);
	cr_assert_eq(atomic_load(&fm.attached), t.s);
	tc_open(&c, &t);
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"system_reset\"}"));
	expect_reason(expect_machine_event(&c, "RESET", before), "host-qmp-system-reset");
	expect_no_event(&c);
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"quit\"}"));
	expect_reason(expect_machine_event(&c, "SHUTDOWN", before), "host-qmp-quit");
	expect_no_event(&c);
	/* STOP is still the server's. */
	atomic_store(&fm.state, QMP_RUN_STATE_RUNNING);
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"stop\"}"));
	expect_no_data(expect_machine_event(&c, "STOP", before));
	th_free_server(&t);
	cr_assert_eq(atomic_load(&fm.detaches), 1);
	cr_assert_null(atomic_load(&fm.attached));
	tc_close(&c);
}

Test(machine, system_powerdown_emits_powerdown)
{
	long long before = wall_now();
	struct tc c;

	tc_open(&c, &t);
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"system_powerdown\"}"));
	cr_assert_eq(atomic_load(&fm.powerdowns), 1);
	expect_no_data(expect_machine_event(&c, "POWERDOWN", before));
	/* The guest decides: the machine is still running. */
	expect_status(&c, true, "running");
	tc_close(&c);
}

Test(machine, quit_replies_then_shutdown)
{
	long long before = wall_now();
	struct json_object *m;
	struct tc c;

	tc_open(&c, &t);
	tc_send(&c, "{\"execute\":\"quit\",\"id\":\"q\"}\r\n");
	m = tc_recv(&c);
	cr_assert_str_eq(jstr(m, "id"), "q", "the reply must come first: %s", c.last_line);
	expect_return_empty(m);
	expect_reason(expect_machine_event(&c, "SHUTDOWN", before), "host-qmp-quit");
	cr_assert_eq(atomic_load(&fm.quits), 1);
	tc_close(&c);
}

/* The VMM frees the server as soon as quit asks it to exit: nothing is lost. */
Test(machine, quit_then_immediate_free_still_delivers_reply_and_shutdown)
{
	long long before = wall_now();
	struct tc c;

	tc_open(&c, &t);
	pthread_mutex_lock(&fm.lock);
	tc_send(&c, "{\"execute\":\"quit\"}\r\n");
	while (atomic_load(&fm.state) != QMP_RUN_STATE_SHUTDOWN)
		pthread_cond_wait(&fm.quit_cond, &fm.lock);
	pthread_mutex_unlock(&fm.lock);
	th_free_server(&t);
	expect_return_empty(tc_reply(&c));
	expect_reason(expect_machine_event(&c, "SHUTDOWN", before), "host-qmp-quit");
	cr_assert(tc_wait_eof(&c));
	tc_close(&c);
}

Test(machine, failures_are_reported_and_emit_nothing)
{
	struct tc c;

	tc_open(&c, &t);
	atomic_store(&fm.fail, EIO);
	expect_error(tc_cmd(&c, "{\"execute\":\"stop\"}"), "GenericError",
		     "Cannot pause the virtual machine: Input/output error");
	expect_error(tc_cmd(&c, "{\"execute\":\"system_reset\"}"), "GenericError",
		     "Cannot reset the virtual machine");
	expect_error(tc_cmd(&c, "{\"execute\":\"system_powerdown\"}"), "GenericError",
		     "power button");
	expect_error(tc_cmd(&c, "{\"execute\":\"quit\"}"), "GenericError", "Cannot quit");
	atomic_store(&fm.state, QMP_RUN_STATE_PAUSED);
	expect_error(tc_cmd(&c, "{\"execute\":\"cont\"}"), "GenericError",
		     "Cannot resume the virtual machine");
	expect_no_event(&c);
	cr_assert_eq(atomic_load(&fm.state), QMP_RUN_STATE_PAUSED);
	tc_close(&c);
}

Test(machine, cont_after_shutdown_needs_a_reset)
{
	struct tc c;

	tc_open(&c, &t);
	atomic_store(&fm.state, QMP_RUN_STATE_SHUTDOWN);
	expect_status(&c, false, "shutdown");
	expect_error(tc_cmd(&c, "{\"execute\":\"cont\"}"), "GenericError",
		     "is in state 'shutdown'");
	cr_assert_eq(atomic_load(&fm.resumes), 0);
	atomic_store(&fm.state, QMP_RUN_STATE_INTERNAL_ERROR);
	expect_status(&c, false, "internal-error");
	tc_close(&c);
}

Test(machine, machine_commands_are_listed_and_take_no_arguments)
{
	static const char *const names[] = {
		"query-status", "stop", "cont", "system_reset", "system_powerdown", "quit",
	};
	struct json_object *m, *list;
	struct tc c;

	tc_open(&c, &t);
	m = tc_cmd(&c, "{\"execute\":\"query-commands\"}");
	list = jpath(m, "return");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bool found = false;

		for (size_t j = 0; j < json_object_array_length(list); j++)
			found |= !strcmp(jstr(json_object_array_get_idx(list, j), "name"),
					 names[i]);
		cr_assert(found, "%s not listed", names[i]);
	}
	json_object_put(m);
	expect_error(tc_cmd(&c, "{\"execute\":\"stop\",\"arguments\":{\"now\":true}}"),
		     "GenericError", "Parameter 'now' is unexpected");
	cr_assert_eq(atomic_load(&fm.pauses), 0);
	tc_close(&c);
}

Test(machine, incomplete_ops_are_refused)
{
	struct qmp_machine_ops half = { .state = fake_state };
	struct qmp_machine_ops one_sided = fake_ops;
	struct qmp_server_config cfg = { .path = "/tmp/unused.sock", .machine = &half };
	struct qmp_server *s;
	char err[256];

	cr_assert_eq(qmp_server_new(t.loop, &cfg, &s, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "incomplete"), "%s", err);
	one_sided.attach = fake_attach;
	one_sided.detach = NULL;
	cfg.machine = &one_sided;
	cr_assert_eq(qmp_server_new(t.loop, &cfg, &s, err, sizeof(err)), -EINVAL);
}

Test(machine, run_state_names)
{
	cr_assert_str_eq(qmp_run_state_name(QMP_RUN_STATE_PRELAUNCH), "prelaunch");
	cr_assert_str_eq(qmp_run_state_name(QMP_RUN_STATE_GUEST_PANICKED), "guest-panicked");
	cr_assert_str_eq(qmp_run_state_name(QMP_RUN_STATE_SUSPENDED), "suspended");
}
