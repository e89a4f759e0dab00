// SPDX-License-Identifier: GPL-2.0-only
/*
 * From one parsed message to one reply: the envelope check, the capability
 * negotiation gate, the command table and its argument schemas, and the
 * request a handler completes (at once, or later from any thread).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/priv.h"

static const char *const qmp_class_names[] = {
	[QMP_ERROR_GENERIC] = "GenericError",
	[QMP_ERROR_COMMAND_NOT_FOUND] = "CommandNotFound",
	[QMP_ERROR_DEVICE_NOT_FOUND] = "DeviceNotFound",
};

static const char *const qmp_type_words[] = {
	[QMP_ARG_STRING] = "a string",
	[QMP_ARG_INT] = "an integer",
	[QMP_ARG_NUMBER] = "a number",
	[QMP_ARG_BOOL] = "a boolean",
	[QMP_ARG_OBJECT] = "an object",
	[QMP_ARG_ARRAY] = "an array",
	[QMP_ARG_ANY] = "a value",
};

struct json_object *qmp_error_new(bool has_id, struct json_object *id,
				  enum qmp_error_class cls, const char *desc)
{
	struct json_object *msg, *err;

	msg = json_object_new_object();
	err = json_object_new_object();
	if (!msg || !err)
		goto err;
	if (json_object_object_add(err, "class", json_object_new_string(qmp_class_names[cls])) ||
	    json_object_object_add(err, "desc", json_object_new_string(desc)))
		goto err;
	if (json_object_object_add(msg, "error", err))
		goto err;
	err = NULL;
	/* "id": null is an id too (json-c spells it NULL). */
	if (has_id && json_object_object_add(msg, "id", json_object_get(id)))
		goto err_msg;
	return msg;

err:
	json_object_put(err);
err_msg:
	json_object_put(msg);
	return NULL;
}

/* ---- The command table ---- */

static void qmp_cmd_free(struct qmp_cmd *cmd)
{
	if (!cmd)
		return;
	if (cmd->args)
		for (struct qmp_arg *a = cmd->args; a->name; a++)
			free((char *)a->name);
	free(cmd->args);
	free(cmd->name);
	free(cmd);
}

void qmp_cmds_free(struct qmp_server *s)
{
	for (size_t i = 0; i < s->n_cmds; i++)
		qmp_cmd_free(s->cmds[i]);
	free(s->cmds);
	s->cmds = NULL;
	s->n_cmds = s->cap_cmds = 0;
}

static struct qmp_cmd *qmp_cmd_copy(const struct qmp_command *src)
{
	struct qmp_cmd *cmd;
	size_t n = 0;

	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return NULL;
	cmd->fn = src->fn;
	cmd->opaque = src->opaque;

	cmd->name = strdup(src->name);
	if (src->args)
		while (src->args[n].name)
			n++;
	cmd->args = calloc(n + 1, sizeof(*cmd->args));
	if (!cmd->name || !cmd->args)
		goto err;
	for (size_t i = 0, j = 0; i < n; i++) {
		if (!strcmp(src->args[i].name, QMP_ARGS_REST)) {
			cmd->any_args = true;
			continue;
		}
		cmd->args[j] = src->args[i];
		cmd->args[j].name = strdup(src->args[i].name);
		if (!cmd->args[j++].name)
			goto err;
	}
	return cmd;

err:
	qmp_cmd_free(cmd);
	return NULL;
}

static bool qmp_arg_type_valid(enum qmp_arg_type t)
{
	return t >= QMP_ARG_STRING && t <= QMP_ARG_ANY;
}

/* Under s->lock.  Commands are never removed before the server goes. */
static struct qmp_cmd *qmp_cmd_find_locked(struct qmp_server *s, const char *name)
{
	for (size_t i = 0; i < s->n_cmds; i++)
		if (!strcmp(s->cmds[i]->name, name))
			return s->cmds[i];
	return NULL;
}

int qmp_server_add_command(struct qmp_server *s, const struct qmp_command *cmd)
{
	struct qmp_cmd *copy;
	int ret = 0;

	if (!cmd || !cmd->name || !*cmd->name || !cmd->fn)
		return -EINVAL;
	for (const struct qmp_arg *a = cmd->args; a && a->name; a++)
		if (!*a->name || !qmp_arg_type_valid(a->type))
			return -EINVAL;
	copy = qmp_cmd_copy(cmd);
	if (!copy)
		return -ENOMEM;

	pthread_mutex_lock(&s->lock);
	if (qmp_cmd_find_locked(s, cmd->name)) {
		ret = -EEXIST;
	} else if (s->n_cmds == s->cap_cmds) {
		size_t cap = s->cap_cmds ? 2 * s->cap_cmds : 16;
		struct qmp_cmd **p = realloc(s->cmds, cap * sizeof(*p));

		if (!p) {
			ret = -ENOMEM;
		} else {
			s->cmds = p;
			s->cap_cmds = cap;
		}
	}
	if (!ret)
		s->cmds[s->n_cmds++] = copy;
	pthread_mutex_unlock(&s->lock);
	if (ret)
		qmp_cmd_free(copy);
	return ret;
}

struct json_object *qmp_commands_list(struct qmp_server *s)
{
	struct json_object *list = json_object_new_array();

	if (!list)
		return NULL;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_cmds; i++) {
		struct json_object *e = json_object_new_object();
		const char *name = s->cmds[i]->name;

		if (!e || json_object_object_add(e, "name", json_object_new_string(name)) ||
		    json_object_array_add(list, e)) {
			json_object_put(e);
			json_object_put(list);
			list = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return list;
}

/* ---- Argument schemas ---- */

static bool qmp_arg_matches(enum qmp_arg_type type, struct json_object *v)
{
	enum json_type t = json_object_get_type(v);

	switch (type) {
	case QMP_ARG_STRING:
		return t == json_type_string;
	case QMP_ARG_INT:
		return t == json_type_int;
	case QMP_ARG_NUMBER:
		return t == json_type_int || t == json_type_double;
	case QMP_ARG_BOOL:
		return t == json_type_boolean;
	case QMP_ARG_OBJECT:
		return t == json_type_object;
	case QMP_ARG_ARRAY:
		return t == json_type_array;
	case QMP_ARG_ANY:
		return true;
	}
	return false;
}

/* Declared members first (missing, mistyped), then the undeclared ones. */
static bool qmp_args_check(const struct qmp_cmd *cmd, struct json_object *args,
			   char *desc, size_t len)
{
	for (const struct qmp_arg *a = cmd->args; a->name; a++) {
		struct json_object *v;

		if (!json_object_object_get_ex(args, a->name, &v)) {
			if (a->required) {
				snprintf(desc, len, "Parameter '%s' is missing", a->name);
				return false;
			}
			continue;
		}
		if (!qmp_arg_matches(a->type, v)) {
			snprintf(desc, len, "Parameter '%s' expects %s", a->name,
				 qmp_type_words[a->type]);
			return false;
		}
	}
	if (cmd->any_args)
		return true;
	json_object_object_foreach(args, key, val) {
		const struct qmp_arg *a;

		(void)val;
		for (a = cmd->args; a->name; a++)
			if (!strcmp(a->name, key))
				break;
		if (!a->name) {
			snprintf(desc, len, "Parameter '%s' is unexpected", key);
			return false;
		}
	}
	return true;
}

/* ---- Requests ---- */

void qmp_request_free(struct qmp_request *req)
{
	json_object_put(req->id);
	qmp_client_unref(req->c);
	qmp_server_unref(req->s);
	free(req);
}

static void qmp_request_complete(struct qmp_request *req, struct json_object *msg)
{
	if (req->completed) {
		qmp_log(req->s, "a command was answered twice; the second answer is dropped");
		json_object_put(msg);
		return;
	}
	req->completed = true;
	/* Thread first: only the loop thread may read in_handler. */
	if (pthread_equal(pthread_self(), req->handler_thread) && req->in_handler) {
		qmp_client_send(req->c, msg);
		json_object_put(msg);
		req->answered = true;
		return;
	}
	if (!qmp_queue_reply(req->s, req, msg)) {
		/* The server is going away: nobody is left to answer. */
		json_object_put(msg);
		qmp_request_free(req);
	}
}

void qmp_request_deliver(struct qmp_request *req, struct json_object *msg)
{
	struct qmp_client *c = req->c;

	if (c->pending == req)
		c->pending = NULL;
	if (!c->dead) {
		qmp_client_send(c, msg);
		/* The commands that waited behind this one go on. */
		qmp_client_process(c);
		qmp_client_update(c);
	}
	json_object_put(msg);
	qmp_request_free(req);
}

void qmp_request_return(struct qmp_request *req, struct json_object *ret)
{
	struct json_object *msg = json_object_new_object();

	if (!ret)
		ret = json_object_new_object();
	if (msg && ret && !json_object_object_add(msg, "return", ret)) {
		ret = NULL;
		if (req->has_id && json_object_object_add(msg, "id", json_object_get(req->id))) {
			json_object_put(msg);
			msg = NULL;
		}
	} else {
		json_object_put(msg);
		msg = NULL;
	}
	json_object_put(ret);
	/* NULL: qmp_client_send() drops a client it cannot answer. */
	qmp_request_complete(req, msg);
}

void qmp_request_error(struct qmp_request *req, enum qmp_error_class cls, const char *fmt, ...)
{
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	qmp_request_complete(req, qmp_error_new(req->has_id, req->id, cls, desc));
}

/* ---- Dispatch ---- */

static void qmp_reply_error(struct qmp_client *c, bool has_id, struct json_object *id,
			    enum qmp_error_class cls, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void qmp_reply_error(struct qmp_client *c, bool has_id, struct json_object *id,
			    enum qmp_error_class cls, const char *fmt, ...)
{
	struct json_object *msg;
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	msg = qmp_error_new(has_id, id, cls, desc);
	qmp_client_send(c, msg);
	json_object_put(msg);
}

void qmp_dispatch(struct qmp_client *c, struct json_object *msg)
{
	struct qmp_server *s = c->s;
	struct json_object *id = NULL, *exec, *args = NULL, *empty = NULL;
	struct qmp_request *req;
	struct qmp_cmd *cmd;
	const char *name;
	char desc[512];
	bool has_id;

	if (!json_object_is_type(msg, json_type_object)) {
		qmp_reply_error(c, false, NULL, QMP_ERROR_GENERIC,
				"QMP input must be a JSON object");
		return;
	}
	has_id = json_object_object_get_ex(msg, "id", &id);
	json_object_object_foreach(msg, key, val) {
		(void)val;
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			qmp_reply_error(c, has_id, id, QMP_ERROR_GENERIC,
					"QMP input member '%s' is unexpected", key);
			return;
		}
	}
	if (!json_object_object_get_ex(msg, "execute", &exec)) {
		qmp_reply_error(c, has_id, id, QMP_ERROR_GENERIC,
				"QMP input lacks member 'execute'");
		return;
	}
	if (!json_object_is_type(exec, json_type_string)) {
		qmp_reply_error(c, has_id, id, QMP_ERROR_GENERIC,
				"QMP input member 'execute' must be a string");
		return;
	}
	if (json_object_object_get_ex(msg, "arguments", &args) &&
	    !json_object_is_type(args, json_type_object)) {
		qmp_reply_error(c, has_id, id, QMP_ERROR_GENERIC,
				"QMP input member 'arguments' must be an object");
		return;
	}
	name = json_object_get_string(exec);

	if (!c->negotiated && strcmp(name, "qmp_capabilities")) {
		qmp_reply_error(c, has_id, id, QMP_ERROR_COMMAND_NOT_FOUND,
				"Expecting capabilities negotiation with 'qmp_capabilities'");
		return;
	}
	if (c->negotiated && !strcmp(name, "qmp_capabilities")) {
		qmp_reply_error(c, has_id, id, QMP_ERROR_COMMAND_NOT_FOUND,
				"Capabilities negotiation is already complete, command ignored");
		return;
	}
	pthread_mutex_lock(&s->lock);
	cmd = qmp_cmd_find_locked(s, name);
	pthread_mutex_unlock(&s->lock);
	if (!cmd) {
		qmp_reply_error(c, has_id, id, QMP_ERROR_COMMAND_NOT_FOUND,
				"The command %s has not been found", name);
		return;
	}

	if (!args) {
		empty = json_object_new_object();
		if (!empty) {
			qmp_client_send(c, NULL);
			return;
		}
		args = empty;
	}
	if (!qmp_args_check(cmd, args, desc, sizeof(desc))) {
		qmp_reply_error(c, has_id, id, QMP_ERROR_GENERIC, "%s", desc);
		goto out;
	}

	req = calloc(1, sizeof(*req));
	if (!req) {
		qmp_client_send(c, NULL);
		goto out;
	}
	atomic_fetch_add(&s->refs, 1);
	atomic_fetch_add(&c->refs, 1);
	req->s = s;
	req->c = c;
	req->has_id = has_id;
	req->id = json_object_get(id);
	req->handler_thread = pthread_self();
	req->in_handler = true;
	cmd->fn(req, args, cmd->opaque);
	req->in_handler = false;
	if (req->answered)
		qmp_request_free(req);
	else
		c->pending = req;	/* its reply comes through the queue */
out:
	json_object_put(empty);
}
