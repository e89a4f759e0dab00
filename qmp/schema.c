// SPDX-License-Identifier: GPL-2.0-only
/*
 * query-qmp-schema: QEMU's introspection, as much of it as ferry has.
 * libvirt asks for it before driving a QEMU and looks things up by name
 * ("device_add/arg-type/driver"), following the type names each entry gives.
 *
 * Generated from the command table, so a command added with
 * qmp_server_add_command() is listed at once: one "command" entry each,
 * whose arg-type is an "object" type listing its declared arguments
 * (optional ones with "default": null, as QEMU marks them), the builtin
 * types they use, and the events ferry can send with their data.  Return
 * types are not modelled: every command's ret-type is "any".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qmp/priv.h"

static const char *const schema_type_names[] = {
	[QMP_ARG_STRING] = "str",
	[QMP_ARG_INT] = "int",
	[QMP_ARG_NUMBER] = "number",
	[QMP_ARG_BOOL] = "bool",
	[QMP_ARG_OBJECT] = "any",
	[QMP_ARG_ARRAY] = "[any]",
	[QMP_ARG_ANY] = "any",
};

static const struct {
	const char *name, *json_type;
} schema_builtins[] = {
	{ "str", "string" },
	{ "int", "int" },
	{ "number", "number" },
	{ "bool", "boolean" },
	{ "any", "value" },
};

/* The events ferry sends and their data members (all strings or booleans). */
static const struct qmp_arg event_shutdown[] = {
	{ "guest", QMP_ARG_BOOL, true },
	{ "reason", QMP_ARG_STRING, true },
	{ NULL },
};

static const struct qmp_arg event_device_deleted[] = {
	{ "device", QMP_ARG_STRING, false },
	{ "path", QMP_ARG_STRING, true },
	{ NULL },
};

static const struct {
	const char *name;
	const struct qmp_arg *data;
} schema_events[] = {
	{ "SHUTDOWN", event_shutdown },
	{ "RESET", event_shutdown },
	{ "STOP", NULL },
	{ "RESUME", NULL },
	{ "POWERDOWN", NULL },
	{ "DEVICE_DELETED", event_device_deleted },
};

static bool add_str(struct json_object *o, const char *key, const char *val)
{
	struct json_object *v = json_object_new_string(val);

	if (!v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool append(struct json_object *list, struct json_object *e)
{
	if (!e || json_object_array_add(list, e)) {
		json_object_put(e);
		return false;
	}
	return true;
}

/* {"name": @type_name, "meta-type": "object", "members": [...]} */
static bool schema_object(struct json_object *list, const char *type_name,
			  const struct qmp_arg *args)
{
	struct json_object *o = json_object_new_object(), *members = json_object_new_array();

	if (!o || !members || !add_str(o, "name", type_name) ||
	    !add_str(o, "meta-type", "object") || json_object_object_add(o, "members", members))
		goto err;
	if (!append(list, o)) {
		json_object_put(members);
		return false;
	}
	for (const struct qmp_arg *a = args; a && a->name; a++) {
		struct json_object *m = json_object_new_object();

		if (!append(members, m) || !add_str(m, "name", a->name) ||
		    !add_str(m, "type", schema_type_names[a->type]))
			return false;
		if (!a->required && json_object_object_add(m, "default", NULL))
			return false;
	}
	return true;
err:
	json_object_put(members);
	json_object_put(o);
	return false;
}

static bool schema_entry(struct json_object *list, const char *name, const char *meta,
			 const char *arg_type, const char *ret_type)
{
	struct json_object *e = json_object_new_object();

	if (!append(list, e))
		return false;
	return add_str(e, "name", name) && add_str(e, "meta-type", meta) &&
	       add_str(e, "arg-type", arg_type) && (!ret_type || add_str(e, "ret-type", ret_type));
}

static bool schema_fixed(struct json_object *list)
{
	struct json_object *arr = json_object_new_object();
	char type[96];

	for (size_t i = 0; i < sizeof(schema_builtins) / sizeof(schema_builtins[0]); i++) {
		struct json_object *b = json_object_new_object();

		if (!append(list, b) || !add_str(b, "name", schema_builtins[i].name) ||
		    !add_str(b, "meta-type", "builtin") ||
		    !add_str(b, "json-type", schema_builtins[i].json_type))
			goto err;
	}
	if (!append(list, arr) || !add_str(arr, "name", "[any]") ||
	    !add_str(arr, "meta-type", "array") || !add_str(arr, "element-type", "any"))
		return false;
	arr = NULL;
	if (!schema_object(list, "q_empty", NULL))
		return false;
	for (size_t i = 0; i < sizeof(schema_events) / sizeof(schema_events[0]); i++) {
		const char *arg = "q_empty";

		if (schema_events[i].data) {
			snprintf(type, sizeof(type), "q_obj_%s-arg", schema_events[i].name);
			if (!schema_object(list, type, schema_events[i].data))
				return false;
			arg = type;
		}
		if (!schema_entry(list, schema_events[i].name, "event", arg, NULL))
			return false;
	}
	return true;
err:
	json_object_put(arr);
	return false;
}

static struct json_object *schema_build(struct qmp_server *s)
{
	struct json_object *list = json_object_new_array();
	bool ok;
	char type[160];

	if (!list || !schema_fixed(list))
		goto err;
	pthread_mutex_lock(&s->lock);
	ok = true;
	for (size_t i = 0; i < s->n_cmds && ok; i++) {
		const struct qmp_cmd *cmd = s->cmds[i];
		const char *arg = "q_empty";

		if (cmd->args[0].name) {
			snprintf(type, sizeof(type), "q_obj_%s-arg", cmd->name);
			ok = schema_object(list, type, cmd->args);
			arg = type;
		}
		ok = ok && schema_entry(list, cmd->name, "command", arg, "any");
	}
	pthread_mutex_unlock(&s->lock);
	if (ok)
		return list;
err:
	json_object_put(list);
	return NULL;
}

static void cmd_query_qmp_schema(struct qmp_request *req, struct json_object *args,
				 void *opaque)
{
	struct json_object *schema = schema_build(req->s);

	if (!schema) {
		qmp_request_error(req, QMP_ERROR_GENERIC, "Out of memory");
		return;
	}
	qmp_request_return(req, schema);
}

static const struct qmp_command schema_cmd = {
	"query-qmp-schema", NULL, cmd_query_qmp_schema, NULL,
};

int qmp_schema_add_commands(struct qmp_server *s)
{
	return qmp_server_add_command(s, &schema_cmd);
}
