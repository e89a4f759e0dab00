// SPDX-License-Identifier: GPL-2.0-only
/*
 * The commands every QMP server has: qmp_capabilities, query-version and
 * query-commands (fd passing is in fds.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ferry-config.h"
#include "qmp/priv.h"

struct json_object *qmp_version_new(void)
{
	struct json_object *v = json_object_new_object();
	struct json_object *qemu = json_object_new_object();

	if (!v || !qemu)
		goto err;
	if (json_object_object_add(qemu, "micro", json_object_new_int(QMP_QEMU_MICRO)) ||
	    json_object_object_add(qemu, "minor", json_object_new_int(QMP_QEMU_MINOR)) ||
	    json_object_object_add(qemu, "major", json_object_new_int(QMP_QEMU_MAJOR)))
		goto err;
	if (json_object_object_add(v, "qemu", qemu))
		goto err;
	qemu = NULL;
	if (json_object_object_add(v, "package", json_object_new_string("ferry " FERRY_VERSION)))
		goto err;
	return v;

err:
	json_object_put(qemu);
	json_object_put(v);
	return NULL;
}

static void cmd_qmp_capabilities(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct json_object *enable;

	/* ferry offers no capability (no out-of-band execution): any is refused. */
	if (json_object_object_get_ex(args, "enable", &enable)) {
		size_t n = json_object_array_length(enable);

		for (size_t i = 0; i < n; i++) {
			struct json_object *cap = json_object_array_get_idx(enable, i);

			if (!json_object_is_type(cap, json_type_string)) {
				qmp_request_error(req, QMP_ERROR_GENERIC,
						  "Parameter 'enable' expects an array of strings");
				return;
			}
			qmp_request_error(req, QMP_ERROR_GENERIC,
					  "Capability '%s' is not available",
					  json_object_get_string(cap));
			return;
		}
	}
	req->c->negotiated = true;
	qmp_request_return(req, NULL);
}

static void cmd_query_version(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct json_object *v = qmp_version_new();

	if (!v) {
		qmp_request_error(req, QMP_ERROR_GENERIC, "Out of memory");
		return;
	}
	qmp_request_return(req, v);
}

static void cmd_query_commands(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct json_object *list = qmp_commands_list(req->s);

	if (!list) {
		qmp_request_error(req, QMP_ERROR_GENERIC, "Out of memory");
		return;
	}
	qmp_request_return(req, list);
}

static const struct qmp_arg args_capabilities[] = {
	{ "enable", QMP_ARG_ARRAY, false },
	{ NULL },
};

static const struct qmp_command builtin_cmds[] = {
	{ "qmp_capabilities", args_capabilities, cmd_qmp_capabilities, NULL },
	{ "query-version", NULL, cmd_query_version, NULL },
	{ "query-commands", NULL, cmd_query_commands, NULL },
};

int qmp_commands_add_builtin(struct qmp_server *s)
{
	for (size_t i = 0; i < sizeof(builtin_cmds) / sizeof(builtin_cmds[0]); i++) {
		int ret = qmp_server_add_command(s, &builtin_cmds[i]);

		if (ret)
			return ret;
	}
	return qmp_fds_add_commands(s);
}
