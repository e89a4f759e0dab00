// SPDX-License-Identifier: GPL-2.0-only
/*
 * Several clients, events from any thread, slow clients, commands that
 * answer later, and the server's own life: the socket file, stale and live
 * sockets, and what closing the server leaves behind.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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

TestSuite(clients, .init = setup, .fini = teardown, .timeout = 60);

static struct json_object *data_n(int n)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "n", json_object_new_int(n));
	return d;
}

static void expect_event(struct json_object *ev, const char *name, int n)
{
	struct json_object *ts = jpath(ev, "timestamp");
	long long now = wall_now();
	int64_t sec = json_object_get_int64(jpath(ts, "seconds"));
	int64_t usec = json_object_get_int64(jpath(ts, "microseconds"));

	cr_assert_str_eq(jstr(ev, "event"), name, "%s", json_object_to_json_string(ev));
	cr_assert_eq(json_object_get_int(jpath(ev, "data.n")), n);
	cr_assert(json_object_is_type(jpath(ts, "seconds"), json_type_int));
	cr_assert(sec <= now && sec >= now - 60, "timestamp %lld is not now", (long long)sec);
	cr_assert(usec >= 0 && usec < 1000000);
	json_object_put(ev);
}

Test(clients, events_reach_negotiated_clients_only)
{
	struct tc a, b, c;
	struct json_object *m;

	tc_open(&a, &t);
	tc_open(&b, &t);
	tc_connect(&c, &t);
	json_object_put(tc_recv(&c));

	cr_assert_eq(qmp_server_emit_event(t.s, "X-TEST", data_n(1)), 0);
	expect_event(tc_event(&a), "X-TEST", 1);
	expect_event(tc_event(&b), "X-TEST", 1);
	/*
	 * a and b have it, so the broadcast is done: had c been sent the event,
	 * it would be in c's socket before the reply to this.
	 */
	tc_send(&c, "{\"execute\":\"qmp_capabilities\"}\r\n");
	m = tc_recv(&c);
	cr_assert_null(jpath(m, "event"), "un-negotiated client got %s", c.last_line);
	expect_return_empty(m);

	/* Negotiated now: c gets the next one. */
	cr_assert_eq(qmp_server_emit_event(t.s, "X-TEST", data_n(2)), 0);
	expect_event(tc_event(&c), "X-TEST", 2);
	expect_event(tc_event(&a), "X-TEST", 2);
	expect_event(tc_event(&b), "X-TEST", 2);
	tc_close(&a);
	tc_close(&b);
	tc_close(&c);
}

Test(clients, event_without_data_has_no_data_member)
{
	struct json_object *ev;
	struct tc a;

	tc_open(&a, &t);
	cr_assert_eq(qmp_server_emit_event(t.s, "STOP", NULL), 0);
	ev = tc_event(&a);
	cr_assert_str_eq(jstr(ev, "event"), "STOP");
	cr_assert_null(jpath(ev, "data"));
	cr_assert_not_null(jpath(ev, "timestamp.seconds"));
	cr_assert_eq(json_object_object_length(ev), 2, "%s", a.last_line);
	json_object_put(ev);
	cr_assert_eq(qmp_server_emit_event(t.s, "", NULL), -EINVAL);
	tc_close(&a);
}

#define EMITTERS 4
#define PER_EMITTER 200

static void *emitter(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int k = 0; k < PER_EMITTER; k++) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "t", json_object_new_int(id));
		json_object_object_add(d, "seq", json_object_new_int(k));
		cr_assert_eq(qmp_server_emit_event(t.s, "X-THREAD", d), 0);
	}
	return NULL;
}

Test(clients, events_from_other_threads_arrive_in_each_threads_order)
{
	pthread_t th[EMITTERS];
	int next[EMITTERS] = { 0 };
	struct tc a;

	tc_open(&a, &t);
	for (int i = 0; i < EMITTERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, emitter, (void *)(intptr_t)i), 0);
	for (int n = 0; n < EMITTERS * PER_EMITTER; n++) {
		struct json_object *ev = tc_event(&a);
		int id = json_object_get_int(jpath(ev, "data.t"));
		int seq = json_object_get_int(jpath(ev, "data.seq"));

		cr_assert(id >= 0 && id < EMITTERS);
		cr_assert_eq(seq, next[id], "thread %d: got %d, expected %d", id, seq, next[id]);
		next[id]++;
		json_object_put(ev);
	}
	for (int i = 0; i < EMITTERS; i++)
		pthread_join(th[i], NULL);
	tc_close(&a);
}

Test(clients, a_client_that_does_not_read_is_dropped_and_the_others_go_on)
{
	struct qmp_server_config cfg = { .max_output = 64 * 1024 };
	char pad[101];
	struct tc slow, other;
	bool dropped = false;
	struct json_object *m;

	th_free_server(&t);
	th_server_start(&t, &cfg);
	tc_open(&slow, &t);
	tc_connect(&other, &t);
	json_object_put(tc_recv(&other));

	memset(pad, 'p', 100);
	pad[100] = '\0';
	/* About 3 MB of events: far beyond the socket buffer and the bound. */
	for (int i = 0; i < 20000; i++) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "pad", json_object_new_string(pad));
		cr_assert_eq(qmp_server_emit_event(t.s, "X-FLOOD", d), 0);
	}
	for (int i = 0; i < 2500 && !dropped; i++) {
		dropped = th_logged(&t, "left more than 65536 bytes of output unread");
		usleep(2000);
	}
	cr_assert(dropped, "the slow client was not dropped");
	cr_assert(tc_wait_eof(&slow), "the slow client's connection is still open");
	/* The loop never blocked on it. */
	m = tc_cmd(&other, "{\"execute\":\"query-version\"}");
	expect_error(m, "CommandNotFound", "Expecting capabilities negotiation");
	tc_close(&slow);
	tc_close(&other);
}

/* ---- Commands that answer later ---- */

static struct qmp_request *_Atomic parked;

static void cmd_later(struct qmp_request *req, struct json_object *args, void *opaque)
{
	/* take_fd works only inside the handler. */
	cr_assert_eq(qmp_request_take_fd(req, "none"), -ENOENT);
	atomic_store(&parked, req);
}

static struct qmp_request *wait_parked(void)
{
	struct qmp_request *req = NULL;

	for (int i = 0; i < 2500 && !req; i++) {
		req = atomic_exchange(&parked, NULL);
		if (!req)
			usleep(2000);
	}
	cr_assert_not_null(req, "the command never reached its handler");
	return req;
}

static void add_later(void)
{
	struct qmp_command cmd = { "x-later", NULL, cmd_later, NULL };

	cr_assert_eq(qmp_server_add_command(t.s, &cmd), 0);
}

static void *complete_in_thread(void *arg)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "done", json_object_new_boolean(1));
	qmp_request_return(arg, r);
	return NULL;
}

Test(clients, a_deferred_reply_keeps_order_and_events_flow_meanwhile)
{
	struct qmp_request *req;
	struct json_object *m;
	pthread_t th;
	struct tc a, b;

	add_later();
	tc_open(&a, &t);
	tc_open(&b, &t);
	tc_send(&a, "{\"execute\":\"x-later\",\"id\":1}\r\n"
		    "{\"execute\":\"query-version\",\"id\":2}\r\n");
	req = wait_parked();
	cr_assert_eq(qmp_request_take_fd(req, "none"), -EPERM);

	/* Other clients are served, and events still reach a. */
	json_object_put(tc_cmd(&b, "{\"execute\":\"query-version\"}"));
	cr_assert_eq(qmp_server_emit_event(t.s, "X-WHILE", data_n(7)), 0);
	m = tc_recv(&a);
	expect_event(m, "X-WHILE", 7);

	pthread_create(&th, NULL, complete_in_thread, req);
	pthread_join(th, NULL);
	m = tc_reply(&a);
	cr_assert_eq(json_object_get_int(jpath(m, "id")), 1, "%s", a.last_line);
	cr_assert(json_object_get_boolean(jpath(m, "return.done")));
	json_object_put(m);
	m = tc_reply(&a);
	cr_assert_eq(json_object_get_int(jpath(m, "id")), 2, "%s", a.last_line);
	json_object_put(m);
	tc_close(&a);
	tc_close(&b);
}

Test(clients, a_deferred_error_reply)
{
	struct json_object *m;
	struct tc a;

	add_later();
	tc_open(&a, &t);
	tc_send(&a, "{\"execute\":\"x-later\",\"id\":\"d\"}\r\n");
	qmp_request_error(wait_parked(), QMP_ERROR_DEVICE_NOT_FOUND, "Device '%s' not found", "z");
	m = tc_reply(&a);
	cr_assert_str_eq(jstr(m, "id"), "d");
	expect_error(m, "DeviceNotFound", "Device 'z' not found");
	tc_close(&a);
}

Test(clients, a_deferred_reply_after_the_client_left)
{
	struct qmp_request *req;
	int base = count_fds();
	struct tc a;

	add_later();
	tc_open(&a, &t);
	tc_send(&a, "{\"execute\":\"x-later\"}\r\n");
	req = wait_parked();
	tc_close(&a);
	/* The server lets go of the connection without waiting for the reply. */
	cr_assert(wait_fds(base), "fds: %d, expected %d", count_fds(), base);
	qmp_request_return(req, NULL);
	/* Still serving. */
	tc_open(&a, &t);
	tc_close(&a);
}

Test(clients, a_deferred_reply_after_the_server_is_gone)
{
	struct qmp_request *req;
	struct tc a;

	add_later();
	tc_open(&a, &t);
	tc_send(&a, "{\"execute\":\"x-later\"}\r\n");
	req = wait_parked();
	th_free_server(&t);
	cr_assert(tc_wait_eof(&a));
	/* The request kept what it needs; answering now is harmless. */
	qmp_request_return(req, NULL);
	tc_close(&a);
}

Test(clients, half_closed_client_gets_its_replies)
{
	struct json_object *m;
	struct tc a;

	tc_connect(&a, &t);
	tc_send(&a, "{\"execute\":\"qmp_capabilities\"}\r\n"
		    "{\"execute\":\"query-version\",\"id\":9}\r\n");
	shutdown(a.fd, SHUT_WR);
	json_object_put(tc_recv(&a));	/* greeting */
	expect_return_empty(tc_recv(&a));
	m = tc_recv(&a);
	cr_assert_eq(json_object_get_int(jpath(m, "id")), 9);
	json_object_put(m);
	cr_assert(tc_wait_eof(&a));
	tc_close(&a);
}

/* ---- The server's own life ---- */

Test(clients, freeing_the_server_closes_everything_and_unlinks_the_socket)
{
	struct tc a, b;
	int base;

	th_free_server(&t);
	base = count_fds();
	th_server_start(&t, NULL);
	cr_assert_eq(access(t.path, F_OK), 0);
	tc_open(&a, &t);
	tc_connect(&b, &t);
	/* Leave output unread and a message half sent. */
	cr_assert_eq(qmp_server_emit_event(t.s, "X-TEST", data_n(3)), 0);
	tc_send(&b, "{\"execute\":");
	th_free_server(&t);
	cr_assert_neq(access(t.path, F_OK), 0, "the socket file is still there");
	/* a gets what was queued for it, then the end. */
	expect_event(tc_event(&a), "X-TEST", 3);
	cr_assert(tc_wait_eof(&a));
	cr_assert(tc_wait_eof(&b));
	tc_close(&a);
	tc_close(&b);
	cr_assert(wait_fds(base), "fds: %d, expected %d", count_fds(), base);
}

static int bind_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

Test(clients, socket_path_problems_are_explained)
{
	struct qmp_server_config cfg = { 0 };
	struct qmp_server *s2 = NULL;
	char err[512], path[200];
	struct tc a;
	int fd;

	/* Live: the harness's server listens there. */
	cfg.path = t.path;
	cr_assert_eq(qmp_server_new(t.loop, &cfg, &s2, err, sizeof(err)), -EADDRINUSE);
	cr_assert(strstr(err, "in use"), "%s", err);
	/* And it still works. */
	tc_open(&a, &t);
	tc_close(&a);

	/* Stale: bound once, nobody listening: replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", t.dir);
	fd = bind_stale_socket(path);
	close(fd);
	cfg.path = path;
	cr_assert_eq(qmp_server_new(t.loop, &cfg, &s2, err, sizeof(err)), 0, "%s", err);
	qmp_server_free(s2);
	cr_assert_neq(access(path, F_OK), 0);

	/* Not a socket. */
	snprintf(path, sizeof(path), "%s/file", t.dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	cr_assert_eq(qmp_server_new(t.loop, &cfg, &s2, err, sizeof(err)), -EEXIST);
	cr_assert(strstr(err, "is not a socket"), "%s", err);
	cr_assert_eq(access(path, F_OK), 0, "a regular file was removed");
	unlink(path);

	/* No such directory. */
	snprintf(path, sizeof(path), "%s/nodir/qmp.sock", t.dir);
	cr_assert_eq(qmp_server_new(t.loop, &cfg, &s2, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "does its directory exist"), "%s", err);

	/* Too long for sun_path. */
	memset(path, 'a', 150);
	path[0] = '/';
	path[150] = '\0';
	cr_assert_eq(qmp_server_new(t.loop, &cfg, &s2, err, sizeof(err)), -ENAMETOOLONG);
	cr_assert(strstr(err, "too long"), "%s", err);
}

Test(clients, the_server_unlinks_only_its_own_socket)
{
	int fd;

	/* Someone replaced the socket file: it is theirs now. */
	cr_assert_eq(unlink(t.path), 0);
	fd = open(t.path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	th_free_server(&t);
	cr_assert_eq(access(t.path, F_OK), 0, "the server removed a file it did not create");
}

/* Completed by another thread while the handler is still running. */
static void *complete_now(void *arg)
{
	qmp_request_return(arg, json_object_new_string("raced"));
	return NULL;
}

static void cmd_race(struct qmp_request *req, struct json_object *args, void *opaque)
{
	pthread_t th;

	pthread_create(&th, NULL, complete_now, req);
	pthread_join(th, NULL);
}

Test(clients, a_reply_from_another_thread_during_the_handler)
{
	struct qmp_command cmd = { "x-race", NULL, cmd_race, NULL };
	struct json_object *m;
	struct tc a;

	cr_assert_eq(qmp_server_add_command(t.s, &cmd), 0);
	tc_open(&a, &t);
	for (int i = 0; i < 50; i++) {
		tc_send(&a, "{\"execute\":\"x-race\",\"id\":1}\r\n"
			    "{\"execute\":\"query-version\",\"id\":2}\r\n");
		m = tc_reply(&a);
		cr_assert_str_eq(jstr(m, "return"), "raced", "%s", a.last_line);
		cr_assert_eq(json_object_get_int(jpath(m, "id")), 1);
		json_object_put(m);
		m = tc_reply(&a);
		cr_assert_eq(json_object_get_int(jpath(m, "id")), 2, "%s", a.last_line);
		json_object_put(m);
	}
	tc_close(&a);
}

/* Out of fds: the listener waits (without spinning) until a client leaves. */
Test(clients, accepting_resumes_when_fds_are_free_again)
{
	struct tc c[4];
	struct rlimit old, low;
	struct json_object *m;
	bool paused = false;

	for (int i = 0; i < 4; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(c[i].fd, 0);
	}
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = count_fds() + 2;	/* room for two accepted connections */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);

	for (int i = 0; i < 4; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		memcpy(sa.sun_path, t.path, strlen(t.path) + 1);
		cr_assert_eq(connect(c[i].fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	for (int i = 0; i < 2; i++) {
		m = tc_recv(&c[i]);
		cr_assert_not_null(jpath(m, "QMP"));
		json_object_put(m);
	}
	for (int i = 0; i < 2500 && !paused; i++) {
		paused = th_logged(&t, "new connections wait until a client leaves");
		usleep(2000);
	}
	cr_assert(paused, "the server did not say it ran out of fds");

	/* One leaves: its fd is released (deferred) and the next is greeted. */
	tc_close(&c[0]);
	m = tc_recv(&c[2]);
	cr_assert_not_null(jpath(m, "QMP"), "%s", c[2].last_line);
	json_object_put(m);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	tc_close(&c[1]);
	/* The listener is armed again: the last one is greeted too. */
	m = tc_recv(&c[3]);
	cr_assert_not_null(jpath(m, "QMP"), "%s", c[3].last_line);
	json_object_put(m);
	tc_close(&c[2]);
	tc_close(&c[3]);
}

/*
 * Clients come and go (some mid-message, some after a command) from several
 * threads while events flow, and the server is freed in the middle of it.
 * A smoke test for ASan: races with a window of a few instructions (a
 * client reaped by qmp_server_free() under its last callback) were found
 * by reading, and this does not reliably reproduce them.
 */
#define CHURNERS 4

static atomic_bool churn_stop;

static void *churner(void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = arg;
	unsigned int n = 0;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	while (!atomic_load(&churn_stop)) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char buf[4096];

		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			static const char *const msgs[] = {
				"{\"execute\":\"qmp_capabilities\"}\r\n"
				"{\"execute\":\"query-commands\"}\r\n",
				"{\"execute\":\"qmp_capabilities\"}\r\n{\"execute\":",
				"{\"execute\":\"qmp_capabilities\"}\r\n",
				"",
			};
			const char *m = msgs[n++ % 4];

			send(fd, m, strlen(m), MSG_NOSIGNAL);
			if (n % 3 == 0)
				recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		}
		close(fd);
	}
	return NULL;
}

Test(clients, churn_while_the_server_is_freed)
{
	pthread_t th[CHURNERS];
	struct tc a;

	tc_open(&a, &t);
	atomic_store(&churn_stop, false);
	for (int i = 0; i < CHURNERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, churner, t.path), 0);
	for (int i = 0; i < 2000; i++) {
		cr_assert_eq(qmp_server_emit_event(t.s, "X-CHURN", data_n(i)), 0);
		if (i % 100 == 0)
			usleep(1000);
	}
	th_free_server(&t);
	atomic_store(&churn_stop, true);
	for (int i = 0; i < CHURNERS; i++)
		pthread_join(th[i], NULL);
	cr_assert(tc_wait_eof(&a));
	tc_close(&a);
}
