// SPDX-License-Identifier: GPL-2.0-only
/*
 * getfd / closefd: fds passed with SCM_RIGHTS on the getfd message, stored
 * per client by name, taken by a command, closed on closefd, on
 * replacement, on disconnect, and when nobody claims them.
 *
 * Every fd sent is the write end of a pipe whose read end the test keeps
 * and whose other write end the test closes: the read end sees EOF exactly
 * when the server has closed its copy.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/qmp/harness.h"

static struct th t;

#define CLOSEFD(name) "{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"" name "\"}}"

/* x-write-fd {fdname, text}: takes the stored fd, writes @text, closes it. */
static void cmd_write_fd(struct qmp_request *req, struct json_object *args, void *opaque)
{
	const char *name = json_object_get_string(json_object_object_get(args, "fdname"));
	const char *text = json_object_get_string(json_object_object_get(args, "text"));
	int fd = qmp_request_take_fd(req, name);

	if (fd < 0) {
		qmp_request_error(req, QMP_ERROR_GENERIC, "no fd named '%s'", name);
		return;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		qmp_request_error(req, QMP_ERROR_GENERIC, "write: %m");
		return;
	}
	close(fd);
	qmp_request_return(req, NULL);
}

static const struct qmp_arg write_fd_args[] = {
	{ "fdname", QMP_ARG_STRING, true },
	{ "text", QMP_ARG_STRING, true },
	{ NULL },
};

static void setup(void)
{
	struct qmp_command cmd = { "x-write-fd", write_fd_args, cmd_write_fd, NULL };

	th_start(&t, NULL);
	cr_assert_eq(qmp_server_add_command(t.s, &cmd), 0);
}

static void teardown(void)
{
	th_stop(&t);
}

TestSuite(fds, .init = setup, .fini = teardown, .timeout = 30);

/* Sends the write end of a new pipe with @text; returns the read end. */
static int send_pipe(struct tc *c, const char *text)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	tc_send_fd(c, text, p[1]);
	close(p[1]);
	return p[0];
}

static int getfd(struct tc *c, const char *name)
{
	char cmd[128];
	int rd;

	snprintf(cmd, sizeof(cmd), "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"%s\"}}\r\n",
		 name);
	rd = send_pipe(c, cmd);
	expect_return_empty(tc_reply(c));
	return rd;
}

/* True once every write end of the pipe is closed. */
static bool pipe_eof(int rd)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	char buf[64];

	if (poll(&pfd, 1, 5000) != 1)
		return false;
	return read(rd, buf, sizeof(buf)) == 0;
}

/* False if the pipe is still open for writing somewhere (no EOF within 100 ms). */
static bool pipe_open(int rd)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };

	return poll(&pfd, 1, 100) == 0;
}

Test(fds, getfd_stores_the_fd_and_a_command_takes_it)
{
	struct tc c;
	char buf[16] = "";
	int rd;

	tc_open(&c, &t);
	rd = getfd(&c, "w");
	cr_assert(pipe_open(rd), "the server did not keep the fd");
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"x-write-fd\",\"arguments\":"
				   "{\"fdname\":\"w\",\"text\":\"hello\"}}"));
	cr_assert_eq(read(rd, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	/* Taken: the command closed it, and the name is gone. */
	cr_assert(pipe_eof(rd));
	expect_error(tc_cmd(&c, "{\"execute\":\"x-write-fd\",\"arguments\":"
			    "{\"fdname\":\"w\",\"text\":\"x\"}}"),
		     "GenericError", "no fd named 'w'");
	close(rd);
	tc_close(&c);
}

Test(fds, getfd_with_the_same_name_replaces_and_closes_the_old_fd)
{
	struct tc c;
	char buf[16] = "";
	int rd1, rd2;

	tc_open(&c, &t);
	rd1 = getfd(&c, "w");
	rd2 = getfd(&c, "w");
	cr_assert(pipe_eof(rd1), "the replaced fd is still open");
	cr_assert(pipe_open(rd2));
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"x-write-fd\",\"arguments\":"
				   "{\"fdname\":\"w\",\"text\":\"two\"}}"));
	cr_assert_eq(read(rd2, buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "two");
	close(rd1);
	close(rd2);
	tc_close(&c);
}

Test(fds, closefd_closes_and_unknown_names_are_errors)
{
	struct tc c;
	int rd;

	tc_open(&c, &t);
	rd = getfd(&c, "c");
	expect_return_empty(tc_cmd(&c, CLOSEFD("c")));
	cr_assert(pipe_eof(rd));
	expect_error(tc_cmd(&c, "{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"c\"}}"),
		     "GenericError", "File descriptor named 'c' not found");
	expect_error(tc_cmd(&c, "{\"execute\":\"closefd\"}"), "GenericError",
		     "Parameter 'fdname' is missing");
	close(rd);
	tc_close(&c);
}

Test(fds, getfd_without_an_fd_is_an_error)
{
	struct tc c;

	tc_open(&c, &t);
	expect_error(tc_cmd(&c, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"x\"}}"),
		     "GenericError", "No file descriptor supplied via SCM_RIGHTS");
	tc_close(&c);
}

Test(fds, an_fd_nobody_claims_is_closed)
{
	struct json_object *m;
	struct tc c;
	int rd;

	tc_open(&c, &t);
	/* With a command that is not getfd. */
	rd = send_pipe(&c, "{\"execute\":\"query-version\"}\r\n");
	m = tc_reply(&c);
	cr_assert_not_null(jpath(m, "return"));
	json_object_put(m);
	cr_assert(pipe_eof(rd), "an unclaimed fd stayed open");
	close(rd);
	/* With a getfd that fails. */
	rd = send_pipe(&c, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"9lives\"}}\r\n");
	expect_error(tc_reply(&c), "GenericError", "not starting with a digit");
	cr_assert(pipe_eof(rd));
	close(rd);
	/* Before negotiation. */
	tc_close(&c);
	tc_connect(&c, &t);
	json_object_put(tc_recv(&c));
	rd = send_pipe(&c, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"x\"}}\r\n");
	expect_error(tc_reply(&c), "CommandNotFound", "Expecting capabilities negotiation");
	cr_assert(pipe_eof(rd));
	close(rd);
	tc_close(&c);
}

Test(fds, the_fd_may_come_with_the_first_part_of_a_split_getfd)
{
	struct tc c;
	int rd;

	tc_open(&c, &t);
	rd = send_pipe(&c, "{\"execute\":\"getfd\",");
	usleep(20000);	/* let the server read the first part on its own */
	tc_send(&c, "\"arguments\":{\"fdname\":\"s\"}}\r\n");
	expect_return_empty(tc_reply(&c));
	cr_assert(pipe_open(rd));
	expect_return_empty(tc_cmd(&c, CLOSEFD("s")));
	cr_assert(pipe_eof(rd));
	close(rd);
	tc_close(&c);
}

Test(fds, names_are_per_client)
{
	struct tc a, b;
	int rd;

	tc_open(&a, &t);
	tc_open(&b, &t);
	rd = getfd(&a, "mine");
	expect_error(tc_cmd(&b, "{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"mine\"}}"),
		     "GenericError", "not found");
	cr_assert(pipe_open(rd));
	close(rd);
	tc_close(&a);
	tc_close(&b);
}

Test(fds, a_clients_fds_close_when_it_disconnects)
{
	int base, rd1, rd2;
	struct tc c;

	base = count_fds();
	tc_open(&c, &t);
	rd1 = getfd(&c, "a");
	rd2 = getfd(&c, "b");
	cr_assert(pipe_open(rd1) && pipe_open(rd2));
	tc_close(&c);
	cr_assert(pipe_eof(rd1), "fd 'a' outlived its client");
	cr_assert(pipe_eof(rd2), "fd 'b' outlived its client");
	close(rd1);
	close(rd2);
	cr_assert(wait_fds(base), "fds: %d, expected %d", count_fds(), base);
}

Test(fds, freeing_the_server_closes_stored_fds)
{
	struct tc c;
	int rd;

	tc_open(&c, &t);
	rd = getfd(&c, "a");
	th_free_server(&t);
	cr_assert(pipe_eof(rd));
	close(rd);
	tc_close(&c);
}
