// SPDX-License-Identifier: GPL-2.0-only
/*
 * The protocol over a real unix socket: greeting, negotiation gate, ids,
 * errors, the streaming parser (split, batched, broken, oversize input) and
 * the argument schemas.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry-config.h"
#include "tests/qmp/harness.h"

static struct th t;

static void setup(void)
{
	th_start(&t, NULL);
}

static void teardown(void)
{
	th_stop(&t);
}

TestSuite(protocol, .init = setup, .fini = teardown, .timeout = 30);

Test(protocol, greeting_announces_version_and_no_capabilities)
{
	struct tc c;
	struct json_object *g, *caps;

	tc_connect(&c, &t);
	g = tc_recv(&c);
	cr_assert_eq(json_object_object_length(g), 1, "%s", c.last_line);
	cr_assert_eq(json_object_get_int(jpath(g, "QMP.version.qemu.major")), QMP_QEMU_MAJOR);
	cr_assert_eq(json_object_get_int(jpath(g, "QMP.version.qemu.minor")), QMP_QEMU_MINOR);
	cr_assert_eq(json_object_get_int(jpath(g, "QMP.version.qemu.micro")), QMP_QEMU_MICRO);
	cr_assert(json_object_is_type(jpath(g, "QMP.version.qemu.major"), json_type_int));
	cr_assert_str_eq(jstr(g, "QMP.version.package"), "ferry " FERRY_VERSION);
	caps = jpath(g, "QMP.capabilities");
	cr_assert(json_object_is_type(caps, json_type_array));
	cr_assert_eq(json_object_array_length(caps), 0);
	json_object_put(g);
	tc_close(&c);
}

Test(protocol, commands_before_negotiation_are_refused)
{
	struct tc c;

	tc_connect(&c, &t);
	json_object_put(tc_recv(&c));
	expect_error(tc_cmd(&c, "{\"execute\":\"query-version\"}"), "CommandNotFound",
		     "Expecting capabilities negotiation with 'qmp_capabilities'");
	/* Unknown commands too: the gate comes before the table. */
	expect_error(tc_cmd(&c, "{\"execute\":\"no-such-thing\",\"id\":1}"), "CommandNotFound",
		     "Expecting capabilities negotiation with 'qmp_capabilities'");
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"qmp_capabilities\"}"));
	json_object_put(tc_cmd(&c, "{\"execute\":\"query-version\"}"));
	/* Negotiating twice is refused as QEMU does. */
	expect_error(tc_cmd(&c, "{\"execute\":\"qmp_capabilities\"}"), "CommandNotFound",
		     "Capabilities negotiation is already complete");
	tc_close(&c);
}

Test(protocol, capabilities_none_can_be_enabled)
{
	struct tc c;

	tc_connect(&c, &t);
	json_object_put(tc_recv(&c));
	expect_error(tc_cmd(&c, "{\"execute\":\"qmp_capabilities\",\"arguments\":"
			    "{\"enable\":[\"oob\"]}}"), "GenericError",
		     "Capability 'oob' is not available");
	/* Still not negotiated. */
	expect_error(tc_cmd(&c, "{\"execute\":\"query-version\"}"), "CommandNotFound",
		     "Expecting capabilities negotiation");
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"qmp_capabilities\",\"arguments\":"
				   "{\"enable\":[]}}"));
	tc_close(&c);
}

/* libvirt's own bytes: it splits the stream at "\r\n" and ids its commands. */
Test(protocol, libvirt_greeting_and_negotiation)
{
	struct tc c;
	struct json_object *m;

	tc_connect(&c, &t);
	m = tc_recv(&c);
	cr_assert_not_null(jpath(m, "QMP.version.qemu"));
	json_object_put(m);
	tc_send(&c, "{\"execute\":\"qmp_capabilities\",\"id\":\"libvirt-1\"}\r\n");
	m = tc_recv(&c);
	cr_assert_str_eq(c.last_line, "{\"return\":{},\"id\":\"libvirt-1\"}");
	json_object_put(m);
	tc_send(&c, "{\"execute\":\"query-version\",\"id\":\"libvirt-2\"}\r\n");
	m = tc_recv(&c);
	cr_assert_str_eq(jstr(m, "id"), "libvirt-2");
	cr_assert_eq(json_object_get_int(jpath(m, "return.qemu.major")), QMP_QEMU_MAJOR);
	cr_assert_str_eq(jstr(m, "return.package"), "ferry " FERRY_VERSION);
	json_object_put(m);
	tc_close(&c);
}

Test(protocol, id_is_echoed_whatever_its_type)
{
	static const char *const ids[] = {
		"\"abc\"", "42", "-1.5", "{\"a\":[1,{\"b\":null}]}", "[1,\"x\"]", "true", "null",
	};
	struct tc c;

	tc_open(&c, &t);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char cmd[256];
		struct json_object *m, *want = json_tokener_parse(ids[i]), *got;

		/* Replies and errors alike. */
		for (int err = 0; err < 2; err++) {
			snprintf(cmd, sizeof(cmd), "{\"execute\":\"%s\",\"id\":%s}",
				 err ? "nope" : "query-version", ids[i]);
			m = tc_cmd(&c, cmd);
			cr_assert(json_object_object_get_ex(m, "id", &got), "no id: %s",
				  c.last_line);
			cr_assert(json_object_equal(got, want), "id %s came back as %s", ids[i],
				  c.last_line);
			cr_assert_not_null(jpath(m, err ? "error" : "return"));
			json_object_put(m);
		}
		json_object_put(want);
	}
	/* No id in, no id out. */
	{
		struct json_object *m = tc_cmd(&c, "{\"execute\":\"query-version\"}");

		cr_assert_null(jpath(m, "id"));
		json_object_put(m);
	}
	tc_close(&c);
}

Test(protocol, unknown_command)
{
	struct tc c;

	tc_open(&c, &t);
	expect_error(tc_cmd(&c, "{\"execute\":\"frobnicate\",\"id\":\"x\"}"), "CommandNotFound",
		     "The command frobnicate has not been found");
	tc_close(&c);
}

Test(protocol, envelope_errors)
{
	struct tc c;

	tc_open(&c, &t);
	expect_error(tc_cmd(&c, "[1,2]"), "GenericError", "QMP input must be a JSON object");
	expect_error(tc_cmd(&c, "\"execute\""), "GenericError", "must be a JSON object");
	expect_error(tc_cmd(&c, "null"), "GenericError", "must be a JSON object");
	expect_error(tc_cmd(&c, "{}"), "GenericError", "QMP input lacks member 'execute'");
	expect_error(tc_cmd(&c, "{\"execute\":7}"), "GenericError",
		     "QMP input member 'execute' must be a string");
	expect_error(tc_cmd(&c, "{\"execute\":\"query-version\",\"arguments\":[]}"),
		     "GenericError", "QMP input member 'arguments' must be an object");
	expect_error(tc_cmd(&c, "{\"execute\":\"query-version\",\"bogus\":1}"), "GenericError",
		     "QMP input member 'bogus' is unexpected");
	/* The error still carries the id when there is one. */
	{
		struct json_object *m = tc_cmd(&c, "{\"id\":\"e1\"}");

		cr_assert_str_eq(jstr(m, "id"), "e1");
		expect_error(m, "GenericError", "lacks member 'execute'");
	}
	/* And the connection keeps working. */
	json_object_put(tc_cmd(&c, "{\"execute\":\"query-version\"}"));
	tc_close(&c);
}

Test(protocol, bad_json_then_a_good_command)
{
	struct tc c;
	struct json_object *m;

	tc_open(&c, &t);
	tc_send(&c, "{\"execute\": }\r\n");
	expect_error(tc_reply(&c), "GenericError", "JSON parse error, ");
	tc_send(&c, "this is not json\r\n");
	expect_error(tc_reply(&c), "GenericError", "JSON parse error, ");
	/* Invalid UTF-8 in a string is refused, not passed on. */
	tc_send(&c, "{\"execute\":\"\xff\xfe\"}\r\n");
	expect_error(tc_reply(&c), "GenericError", "JSON parse error, ");
	m = tc_cmd(&c, "{\"execute\":\"query-version\",\"id\":\"after\"}");
	cr_assert_str_eq(jstr(m, "id"), "after");
	cr_assert_not_null(jpath(m, "return.qemu"));
	json_object_put(m);
	tc_close(&c);
}

Test(protocol, message_split_byte_by_byte)
{
	const char *cmd = "{ \"execute\" : \"query-version\", \"id\" : { \"n\" : [ 1, 2 ] } }\r\n";
	struct json_object *m;
	struct tc c;

	tc_open(&c, &t);
	for (const char *p = cmd; *p; p++) {
		tc_send_len(&c, p, 1);
		usleep(500);	/* let the server read between bytes */
	}
	m = tc_reply(&c);
	cr_assert_not_null(jpath(m, "return.qemu"), "%s", c.last_line);
	cr_assert_eq(json_object_get_int(json_object_array_get_idx(jpath(m, "id.n"), 1)), 2);
	json_object_put(m);
	tc_close(&c);
}

Test(protocol, several_messages_in_one_write)
{
	struct json_object *m;
	struct tc c;

	tc_open(&c, &t);
	/* With and without separators, and one partial message at the end. */
	tc_send(&c, "{\"execute\":\"query-version\",\"id\":1}{\"execute\":\"nope\",\"id\":2}\r\n"
		    "{\"execute\":\"query-version\",\"id\":3}  {\"execute\":\"query-");
	for (int id = 1; id <= 3; id++) {
		m = tc_reply(&c);
		cr_assert_eq(json_object_get_int(jpath(m, "id")), id, "%s", c.last_line);
		cr_assert_not_null(jpath(m, id == 2 ? "error" : "return"));
		json_object_put(m);
	}
	tc_send(&c, "version\",\"id\":4}\r\n");
	m = tc_reply(&c);
	cr_assert_eq(json_object_get_int(jpath(m, "id")), 4, "%s", c.last_line);
	json_object_put(m);
	tc_close(&c);
}

Test(protocol, oversize_message_closes_the_connection)
{
	size_t n = QMP_DEFAULT_MAX_MESSAGE + 4096;
	char *big = malloc(n + 64);
	struct json_object *m;
	struct tc c, other;

	cr_assert_not_null(big);
	tc_open(&c, &t);
	tc_open(&other, &t);
	strcpy(big, "{\"execute\":\"query-version\",\"id\":\"");
	memset(big + strlen(big), 'x', n);
	strcpy(big + n, "\"}\r\n");
	/* The server may close before taking it all: send what it takes. */
	for (size_t off = 0, len = strlen(big); off < len;) {
		ssize_t k = send(c.fd, big + off, len - off, MSG_NOSIGNAL);

		if (k <= 0)
			break;
		off += k;
	}
	m = tc_recv(&c);
	cr_assert_not_null(m, "no error before the close");
	expect_error(m, "GenericError", "exceeds the limit of 1048576 bytes");
	cr_assert(tc_wait_eof(&c), "the connection stayed open");
	cr_assert(th_logged(&t, "message over 1048576 bytes"));
	/* The loop never stalled for the others. */
	json_object_put(tc_cmd(&other, "{\"execute\":\"query-version\"}"));
	free(big);
	tc_close(&c);
	tc_close(&other);
}

Test(protocol, a_message_at_the_limit_is_accepted)
{
	struct qmp_server_config cfg = { .max_message = 256 };
	const char *head = "{\"execute\":\"query-version\",\"id\":\"";
	char msg[300];
	struct json_object *m;
	struct tc c;
	size_t fill;

	/* Restart with a small limit to reach it exactly. */
	th_free_server(&t);
	th_server_start(&t, &cfg);
	tc_open(&c, &t);
	fill = 256 - strlen(head) - 2;
	strcpy(msg, head);
	memset(msg + strlen(head), 'y', fill);
	strcpy(msg + strlen(head) + fill, "\"}");
	cr_assert_eq(strlen(msg), 256);
	m = tc_cmd(&c, msg);
	cr_assert_not_null(jpath(m, "return"), "%s", c.last_line);
	json_object_put(m);
	/* One byte more is too much. */
	memset(msg + strlen(head), 'y', fill + 1);
	strcpy(msg + strlen(head) + fill + 1, "\"}\r\n");
	tc_send(&c, msg);
	expect_error(tc_reply(&c), "GenericError", "exceeds the limit of 256 bytes");
	cr_assert(tc_wait_eof(&c));
	tc_close(&c);
}

/* A command with one argument of each type, to exercise the schemas. */
static void cmd_typed(struct qmp_request *req, struct json_object *args, void *opaque)
{
	qmp_request_return(req, json_object_get(args));
}

static const struct qmp_arg typed_args[] = {
	{ "s", QMP_ARG_STRING, true },
	{ "i", QMP_ARG_INT, false },
	{ "n", QMP_ARG_NUMBER, false },
	{ "b", QMP_ARG_BOOL, false },
	{ "o", QMP_ARG_OBJECT, false },
	{ "a", QMP_ARG_ARRAY, false },
	{ "v", QMP_ARG_ANY, false },
	{ NULL },
};

Test(protocol, arguments_are_checked_against_the_schema)
{
	struct qmp_command cmd = { "x-typed", typed_args, cmd_typed, NULL };
	struct json_object *m;
	struct tc c;

	cr_assert_eq(qmp_server_add_command(t.s, &cmd), 0);
	cr_assert_eq(qmp_server_add_command(t.s, &cmd), -EEXIST);
	tc_open(&c, &t);

#define TYPED(args) "{\"execute\":\"x-typed\",\"arguments\":" args "}"
	expect_error(tc_cmd(&c, "{\"execute\":\"x-typed\"}"), "GenericError",
		     "Parameter 's' is missing");
	expect_error(tc_cmd(&c, TYPED("{\"i\":1}")), "GenericError", "Parameter 's' is missing");
	expect_error(tc_cmd(&c, TYPED("{\"s\":1}")), "GenericError",
		     "Parameter 's' expects a string");
	expect_error(tc_cmd(&c, TYPED("{\"s\":\"x\",\"i\":\"1\"}")), "GenericError",
		     "Parameter 'i' expects an integer");
	expect_error(tc_cmd(&c, TYPED("{\"s\":\"x\",\"i\":1.5}")), "GenericError",
		     "Parameter 'i' expects an integer");
	expect_error(tc_cmd(&c, TYPED("{\"s\":\"x\",\"n\":true}")), "GenericError",
		     "Parameter 'n' expects a number");
	expect_error(tc_cmd(&c, TYPED("{\"s\":\"x\",\"b\":0}")), "GenericError",
		     "Parameter 'b' expects a boolean");
	expect_error(tc_cmd(&c, TYPED("{\"s\":\"x\",\"o\":[]}")), "GenericError",
		     "Parameter 'o' expects an object");
	expect_error(tc_cmd(&c, TYPED("{\"s\":\"x\",\"a\":{}}")), "GenericError",
		     "Parameter 'a' expects an array");
	expect_error(tc_cmd(&c, TYPED("{\"s\":null}")), "GenericError",
		     "Parameter 's' expects a string");
	expect_error(tc_cmd(&c, TYPED("{\"s\":\"x\",\"zz\":1}")), "GenericError",
		     "Parameter 'zz' is unexpected");
	/* Commands without arguments refuse any. */
	expect_error(tc_cmd(&c, "{\"execute\":\"query-version\",\"arguments\":{\"a\":1}}"),
		     "GenericError", "Parameter 'a' is unexpected");

	m = tc_cmd(&c, TYPED("{\"s\":\"x\",\"i\":-3,\"n\":2.5,\"b\":false,\"o\":{},"
			     "\"a\":[1],\"v\":null}"));
	cr_assert_str_eq(jstr(m, "return.s"), "x", "%s", c.last_line);
	cr_assert_eq(json_object_get_int(jpath(m, "return.i")), -3);
	json_object_put(m);
	m = tc_cmd(&c, TYPED("{\"s\":\"\",\"n\":7}"));
	cr_assert_not_null(jpath(m, "return"), "%s", c.last_line);
	json_object_put(m);
#undef TYPED
	tc_close(&c);
}

Test(protocol, bad_command_definitions_are_refused)
{
	static const struct qmp_arg bad_type[] = { { "x", (enum qmp_arg_type)99, true }, { NULL } };
	struct qmp_command no_fn = { "x-a", NULL, NULL, NULL };
	struct qmp_command no_name = { "", NULL, cmd_typed, NULL };
	struct qmp_command bad = { "x-b", bad_type, cmd_typed, NULL };
	struct qmp_command dup = { "query-version", NULL, cmd_typed, NULL };

	cr_assert_eq(qmp_server_add_command(t.s, &no_fn), -EINVAL);
	cr_assert_eq(qmp_server_add_command(t.s, &no_name), -EINVAL);
	cr_assert_eq(qmp_server_add_command(t.s, &bad), -EINVAL);
	cr_assert_eq(qmp_server_add_command(t.s, &dup), -EEXIST);
}

Test(protocol, query_commands_lists_the_table)
{
	struct qmp_command cmd = { "x-late", NULL, cmd_typed, NULL };
	static const char *const want[] = {
		"qmp_capabilities", "query-version", "query-commands", "getfd", "closefd",
		"query-qmp-schema", "x-late",
	};
	struct json_object *m, *list;
	struct tc c;

	/* A command registered while clients may be connected shows up. */
	cr_assert_eq(qmp_server_add_command(t.s, &cmd), 0);
	tc_open(&c, &t);
	m = tc_cmd(&c, "{\"execute\":\"query-commands\"}");
	list = jpath(m, "return");
	cr_assert(json_object_is_type(list, json_type_array), "%s", c.last_line);
	cr_assert_eq(json_object_array_length(list), sizeof(want) / sizeof(want[0]),
		     "%s", c.last_line);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool found = false;

		for (size_t j = 0; j < json_object_array_length(list); j++) {
			const char *name = jstr(json_object_array_get_idx(list, j), "name");

			found |= name && !strcmp(name, want[i]);
		}
		cr_assert(found, "%s missing from %s", want[i], c.last_line);
	}
	json_object_put(m);
	/* Without a machine there are no machine commands. */
	expect_error(tc_cmd(&c, "{\"execute\":\"stop\"}"), "CommandNotFound", "stop");
	tc_close(&c);
}
