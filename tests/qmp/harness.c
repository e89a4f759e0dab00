// SPDX-License-Identifier: GPL-2.0-only
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/qmp/harness.h"

#define TC_TIMEOUT_MS 5000

static void th_log(void *opaque, const char *line)
{
	struct th *t = opaque;

	pthread_mutex_lock(&t->log_lock);
	if (t->n_logs < TH_MAX_LOGS)
		snprintf(t->logs[t->n_logs++], sizeof(t->logs[0]), "%s", line);
	pthread_mutex_unlock(&t->log_lock);
}

bool th_logged(struct th *t, const char *needle)
{
	bool found = false;

	pthread_mutex_lock(&t->log_lock);
	for (int i = 0; i < t->n_logs && !found; i++)
		found = strstr(t->logs[i], needle) != NULL;
	pthread_mutex_unlock(&t->log_lock);
	return found;
}

void th_server_start(struct th *t, const struct qmp_server_config *cfg)
{
	struct qmp_server_config c = { 0 };
	char err[512] = "";

	if (cfg)
		c = *cfg;
	c.path = t->path;
	c.log = th_log;
	c.log_opaque = t;
	cr_assert_eq(qmp_server_new(t->loop, &c, &t->s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(qmp_server_start(t->s), 0);
}

void th_start(struct th *t, const struct qmp_server_config *cfg)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->log_lock, NULL);
	snprintf(t->dir, sizeof(t->dir), "/tmp/ferry-qmp-XXXXXX");
	cr_assert_not_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/qmp.sock", t->dir);
	cr_assert_eq(vmm_loop_new(&t->loop), 0);
	cr_assert_eq(vmm_loop_start(t->loop), 0);
	th_server_start(t, cfg);
}

void th_free_server(struct th *t)
{
	qmp_server_free(t->s);
	t->s = NULL;
}

void th_stop(struct th *t)
{
	th_free_server(t);
	vmm_loop_stop(t->loop);
	vmm_loop_free(t->loop);
	t->loop = NULL;
	unlink(t->path);
	rmdir(t->dir);
	pthread_mutex_destroy(&t->log_lock);
}

void tc_connect(struct tc *c, struct th *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(c->fd, 0);
	cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %m");
}

void tc_open(struct tc *c, struct th *t)
{
	struct json_object *g;

	tc_connect(c, t);
	g = tc_recv(c);
	cr_assert_not_null(jpath(g, "QMP"), "greeting: %s", c->last_line);
	json_object_put(g);
	expect_return_empty(tc_cmd(c, "{\"execute\":\"qmp_capabilities\"}"));
}

void tc_close(struct tc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	for (int i = 0; i < c->n_queued; i++)
		json_object_put(c->queued[i]);
	c->n_queued = 0;
}

void tc_send_len(struct tc *c, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		cr_assert_gt(n, 0, "send: %m");
		p += n;
		len -= n;
	}
}

void tc_send(struct tc *c, const char *text)
{
	tc_send_len(c, text, strlen(text));
}

void tc_send_fd(struct tc *c, const char *text, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	cr_assert_eq(sendmsg(c->fd, &msg, MSG_NOSIGNAL), (ssize_t)iov.iov_len, "sendmsg: %m");
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct json_object *tc_recv(struct tc *c)
{
	long deadline = now_ms() + TC_TIMEOUT_MS;

	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n", 2);

		if (end) {
			size_t n = end - c->buf;
			struct json_object *o;

			/* One message per line: no raw newline inside. */
			cr_assert_null(memchr(c->buf, '\n', n), "newline inside a message");
			snprintf(c->last_line, sizeof(c->last_line), "%.*s", (int)n, c->buf);
			*end = '\0';
			o = json_tokener_parse(c->buf);
			cr_assert_not_null(o, "not JSON: %s", c->last_line);
			memmove(c->buf, end + 2, c->len - n - 2);
			c->len -= n + 2;
			return o;
		}

		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		long left = deadline - now_ms();

		cr_assert_gt(left, 0, "no message from the server within %d ms", TC_TIMEOUT_MS);
		if (poll(&pfd, 1, left) <= 0)
			continue;
		cr_assert_lt(c->len, sizeof(c->buf) - 1, "message too long for the test client");
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cr_assert_eq(c->len, 0, "connection closed inside a message");
			return NULL;
		}
		c->len += n;
	}
}

static bool is_event(struct json_object *o)
{
	return jpath(o, "event") != NULL;
}

struct json_object *tc_reply(struct tc *c)
{
	for (;;) {
		struct json_object *o = tc_recv(c);

		cr_assert_not_null(o, "connection closed while waiting for a reply");
		if (!is_event(o))
			return o;
		cr_assert_lt(c->n_queued, TC_MAX_QUEUED);
		c->queued[c->n_queued++] = o;
	}
}

struct json_object *tc_event(struct tc *c)
{
	struct json_object *o;

	if (c->n_queued) {
		o = c->queued[0];
		memmove(c->queued, c->queued + 1, --c->n_queued * sizeof(c->queued[0]));
		return o;
	}
	o = tc_recv(c);
	cr_assert_not_null(o, "connection closed while waiting for an event");
	cr_assert(is_event(o), "expected an event, got %s", c->last_line);
	return o;
}

struct json_object *tc_cmd(struct tc *c, const char *text)
{
	tc_send(c, text);
	tc_send(c, "\r\n");
	return tc_reply(c);
}

bool tc_wait_eof(struct tc *c)
{
	long deadline = now_ms() + TC_TIMEOUT_MS;
	char buf[4096];

	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return false;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
}

const char *tc_status(struct tc *c, bool *running)
{
	static char buf[64];
	struct json_object *m = tc_cmd(c, "{\"execute\":\"query-status\"}");

	cr_assert_not_null(jstr(m, "return.status"), "%s", c->last_line);
	snprintf(buf, sizeof(buf), "%s", jstr(m, "return.status"));
	*running = json_object_get_boolean(jpath(m, "return.running"));
	json_object_put(m);
	return buf;
}

struct json_object *jpath(struct json_object *o, const char *path)
{
	char key[128];

	while (o && *path) {
		const char *dot = strchrnul(path, '.');

		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			return NULL;
		path = *dot ? dot + 1 : dot;
	}
	return o;
}

const char *jstr(struct json_object *o, const char *path)
{
	struct json_object *v = jpath(o, path);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

void expect_return_empty(struct json_object *msg)
{
	struct json_object *r = jpath(msg, "return");

	cr_assert(json_object_is_type(r, json_type_object) && json_object_object_length(r) == 0,
		  "expected {\"return\": {}}, got %s", json_object_to_json_string(msg));
	json_object_put(msg);
}

void expect_error(struct json_object *msg, const char *cls, const char *desc)
{
	const char *got_cls = jstr(msg, "error.class");
	const char *got_desc = jstr(msg, "error.desc");

	cr_assert(got_cls && !strcmp(got_cls, cls), "expected class %s in %s", cls,
		  json_object_to_json_string(msg));
	cr_assert(got_desc && strstr(got_desc, desc), "expected desc '%s' in %s", desc,
		  json_object_to_json_string(msg));
	cr_assert_null(jpath(msg, "return"));
	json_object_put(msg);
}

long long wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

bool wait_fds(int n)
{
	long deadline = now_ms() + TC_TIMEOUT_MS;

	while (now_ms() < deadline) {
		if (count_fds() == n)
			return true;
		usleep(2000);
	}
	return false;
}
