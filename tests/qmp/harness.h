/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The QMP tests' harness: a real vmm event loop, a server on a unix socket
 * in a fresh temporary directory, and blocking test clients that read the
 * server's output line by line ("\r\n") with a timeout.
 */
#ifndef FERRY_TESTS_QMP_HARNESS_H
#define FERRY_TESTS_QMP_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "vmm/vmm.h"

#define TH_MAX_LOGS 64

struct th {
	struct vmm_loop *loop;
	struct qmp_server *s;
	char dir[64];
	char path[100];
	pthread_mutex_t log_lock;
	char logs[TH_MAX_LOGS][512];
	int n_logs;
};

/* @cfg may be NULL; its path and log are the harness's. */
void th_start(struct th *t, const struct qmp_server_config *cfg);
/* A new server on the running loop (after th_free_server()). */
void th_server_start(struct th *t, const struct qmp_server_config *cfg);
/* Frees the server (if still there), the loop, and the directory. */
void th_stop(struct th *t);
void th_free_server(struct th *t);
/* True if a log line containing @needle was written. */
bool th_logged(struct th *t, const char *needle);

#define TC_MAX_QUEUED 64

struct tc {
	int fd;
	char buf[1 << 16];
	size_t len;
	/* Events seen while waiting for a reply, in order. */
	struct json_object *queued[TC_MAX_QUEUED];
	int n_queued;
	char last_line[4096];	/* raw text of the last message read */
};

/* Connects (no reading). */
void tc_connect(struct tc *c, struct th *t);
/* Connects, reads the greeting, negotiates. */
void tc_open(struct tc *c, struct th *t);
void tc_close(struct tc *c);

void tc_send(struct tc *c, const char *text);
void tc_send_len(struct tc *c, const void *data, size_t len);
/* Sends @text with @fd attached (SCM_RIGHTS). */
void tc_send_fd(struct tc *c, const char *text, int fd);

/* The next message, or NULL at end of stream; fails the test after 5 s. */
struct json_object *tc_recv(struct tc *c);
/* The next reply (return or error); events met on the way are queued. */
struct json_object *tc_reply(struct tc *c);
/* The next event (queued first). */
struct json_object *tc_event(struct tc *c);
/* Sends @text and returns the reply. */
struct json_object *tc_cmd(struct tc *c, const char *text);
/* True if the peer closed the connection (reads until EOF, up to 5 s). */
bool tc_wait_eof(struct tc *c);
/*
 * query-status through @c: the status (valid until the next call) and, in
 * *@running, the running flag.  A reply without a status fails the test.
 */
const char *tc_status(struct tc *c, bool *running);

/* Assertions on a message (which they put). */
void expect_return_empty(struct json_object *msg);
void expect_error(struct json_object *msg, const char *cls, const char *desc);
/* The member at "a.b.c" of @o, or NULL. */
struct json_object *jpath(struct json_object *o, const char *path);
const char *jstr(struct json_object *o, const char *path);

/*
 * Seconds of CLOCK_REALTIME, the clock event timestamps use.  Not time():
 * glibc may serve it from the coarse clock, a tick behind.
 */
long long wall_now(void);

int count_fds(void);
/* Waits up to 5 s for the process to hold @n fds. */
bool wait_fds(int n);

#endif
