// SPDX-License-Identifier: GPL-2.0-only
/*
 * The machine commands: query-status, stop, cont, system_reset,
 * system_powerdown and quit, over struct qmp_machine_ops.
 *
 * Each command emits the event its own state change causes, except SHUTDOWN
 * and RESET on a machine that reports them itself (qmp.h).  Events go
 * through the outbound queue and the reply is written inside the handler,
 * so a client always reads the reply first and the event after it.  stop
 * and cont change nothing, and emit nothing, when the machine is already
 * where they would take it.
 *
 * Prelaunch (ferry -S, QEMU's -S): the guest has not run.  cont starts it
 * (RESUME); stop leaves it in prelaunch and emits nothing, as QEMU's does;
 * system_reset keeps it in prelaunch.
 */
#include <errno.h>
#include <string.h>

#include "qmp/priv.h"

static const char *const run_state_names[] = {
	[QMP_RUN_STATE_PRELAUNCH] = "prelaunch",
	[QMP_RUN_STATE_RUNNING] = "running",
	[QMP_RUN_STATE_PAUSED] = "paused",
	[QMP_RUN_STATE_SHUTDOWN] = "shutdown",
	[QMP_RUN_STATE_INTERNAL_ERROR] = "internal-error",
	[QMP_RUN_STATE_GUEST_PANICKED] = "guest-panicked",
	[QMP_RUN_STATE_SUSPENDED] = "suspended",
};

const char *qmp_run_state_name(enum qmp_run_state state)
{
	if ((unsigned int)state >= sizeof(run_state_names) / sizeof(run_state_names[0]))
		return "internal-error";
	return run_state_names[state];
}

static enum qmp_run_state machine_state(struct qmp_server *s)
{
	return s->machine->state(s->machine_opaque);
}

static void machine_emit(struct qmp_server *s, const char *event, bool with_reason,
			 const char *reason)
{
	struct json_object *data = NULL;
	int ret;

	if (with_reason) {
		data = json_object_new_object();
		if (!data || json_object_object_add(data, "guest", json_object_new_boolean(0)) ||
		    json_object_object_add(data, "reason", json_object_new_string(reason))) {
			json_object_put(data);
			qmp_log(s, "out of memory: event %s not sent", event);
			return;
		}
	}
	ret = qmp_server_emit_event(s, event, data);
	if (ret && ret != -ESHUTDOWN)
		qmp_log(s, "event %s not sent: %s", event, strerror(-ret));
}

static void cmd_query_status(struct qmp_request *req, struct json_object *args, void *opaque)
{
	enum qmp_run_state st = machine_state(req->s);
	struct json_object *ret = json_object_new_object();

	if (!ret || json_object_object_add(ret, "running",
					   json_object_new_boolean(st == QMP_RUN_STATE_RUNNING)) ||
	    json_object_object_add(ret, "status", json_object_new_string(qmp_run_state_name(st)))) {
		json_object_put(ret);
		qmp_request_error(req, QMP_ERROR_GENERIC, "Out of memory");
		return;
	}
	qmp_request_return(req, ret);
}

static void cmd_stop(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct qmp_server *s = req->s;
	int ret;

	if (machine_state(s) == QMP_RUN_STATE_RUNNING) {
		ret = s->machine->pause(s->machine_opaque);
		if (ret) {
			qmp_request_error(req, QMP_ERROR_GENERIC,
					  "Cannot pause the virtual machine: %s", strerror(-ret));
			return;
		}
		machine_emit(s, "STOP", false, NULL);
	}
	qmp_request_return(req, NULL);
}

static void cmd_cont(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct qmp_server *s = req->s;
	enum qmp_run_state st = machine_state(s);
	int ret;

	switch (st) {
	case QMP_RUN_STATE_RUNNING:
		break;
	case QMP_RUN_STATE_PAUSED:
	case QMP_RUN_STATE_PRELAUNCH:
		ret = s->machine->resume(s->machine_opaque);
		if (ret) {
			qmp_request_error(req, QMP_ERROR_GENERIC,
					  "Cannot resume the virtual machine: %s", strerror(-ret));
			return;
		}
		machine_emit(s, "RESUME", false, NULL);
		break;
	default:
		qmp_request_error(req, QMP_ERROR_GENERIC,
				  "The virtual machine is in state '%s': reset it with "
				  "system_reset before cont", qmp_run_state_name(st));
		return;
	}
	qmp_request_return(req, NULL);
}

static void cmd_system_reset(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct qmp_server *s = req->s;
	int ret = s->machine->reset(s->machine_opaque);

	if (ret) {
		qmp_request_error(req, QMP_ERROR_GENERIC, "Cannot reset the virtual machine: %s",
				  strerror(-ret));
		return;
	}
	/* A machine that reports its own resets says RESET, or SHUTDOWN (no reboot). */
	if (!s->machine->attach)
		machine_emit(s, "RESET", true, "host-qmp-system-reset");
	qmp_request_return(req, NULL);
}

static void cmd_system_powerdown(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct qmp_server *s = req->s;
	int ret = s->machine->powerdown(s->machine_opaque);

	if (ret) {
		qmp_request_error(req, QMP_ERROR_GENERIC,
				  "Cannot press the virtual machine's power button: %s",
				  strerror(-ret));
		return;
	}
	machine_emit(s, "POWERDOWN", false, NULL);
	qmp_request_return(req, NULL);
}

static void cmd_quit(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct qmp_server *s = req->s;
	int ret = s->machine->quit(s->machine_opaque);

	if (ret) {
		qmp_request_error(req, QMP_ERROR_GENERIC, "Cannot quit: %s", strerror(-ret));
		return;
	}
	if (!s->machine->attach)
		machine_emit(s, "SHUTDOWN", true, "host-qmp-quit");
	qmp_request_return(req, NULL);
}

static const struct qmp_command machine_cmds[] = {
	{ "query-status", NULL, cmd_query_status, NULL },
	{ "stop", NULL, cmd_stop, NULL },
	{ "cont", NULL, cmd_cont, NULL },
	{ "system_reset", NULL, cmd_system_reset, NULL },
	{ "system_powerdown", NULL, cmd_system_powerdown, NULL },
	{ "quit", NULL, cmd_quit, NULL },
};

int qmp_machine_add_commands(struct qmp_server *s)
{
	for (size_t i = 0; i < sizeof(machine_cmds) / sizeof(machine_cmds[0]); i++) {
		int ret = qmp_server_add_command(s, &machine_cmds[i]);

		if (ret)
			return ret;
	}
	return 0;
}
