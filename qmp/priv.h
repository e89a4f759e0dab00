/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * qmp/ internals, shared by its files and nobody else.
 *
 * Who touches what:
 * - The client list, the command table, the outbound queue, the graveyard
 *   and @closed are under server->lock, held only for short list work and
 *   never across a socket write or a loop call.
 * - A client's buffers, parser and flags are touched by the loop thread
 *   (its own callback, the queue's callback, deferred work), or by
 *   qmp_server_free() once vmm_loop_del_fd() has returned for the client's
 *   socket.  Only the loop thread adds or removes clients while the queue's
 *   callback is registered, which is why broadcasting may walk the list
 *   without the lock.
 * - Whoever takes a client off the list owns its destruction: a client that
 *   drops itself leaves the loop and goes to the graveyard, reaped only by
 *   deferred work (never from its own callback, nor from another thread
 *   while that callback may still run); qmp_server_free() destroys the ones
 *   it takes, after vmm_loop_del_fd() has waited for their callbacks.
 */
#ifndef FERRY_QMP_PRIV_H
#define FERRY_QMP_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "qmp/qmp.h"

/* Fds received but not yet claimed by a getfd. */
#define QMP_MAX_PENDING_FDS 16
/* Bytes asked of recvmsg() per read. */
#define QMP_READ_CHUNK 65536
/* json-c's default of 32 refuses nesting QEMU accepts; bound it anyway. */
#define QMP_MAX_DEPTH 128

struct qmp_buf {
	char *data;
	size_t off;	/* consumed up to here */
	size_t len;	/* filled up to here */
	size_t cap;
};

struct qmp_named_fd {
	struct qmp_named_fd *next;
	char *name;
	int fd;
};

struct qmp_client {
	struct qmp_client *next;	/* s->clients or s->graveyard */
	struct qmp_server *s;		/* holds a reference */
	atomic_int refs;		/* the list's, and each pending request's */
	unsigned int serial;		/* names the client in log lines */
	int fd;
	uint32_t events;		/* the epoll mask registered now */
	struct qmp_buf in, out;
	struct json_tokener *tok;
	size_t msg_bytes;		/* bytes of the message being parsed */
	bool mid;			/* a message has started and not ended */
	bool discard;			/* after bad JSON: skip to end of line */
	bool negotiated;
	bool eof;			/* the peer will send nothing more */
	bool closing;			/* read no more; close once output is out */
	bool listed;			/* on s->clients (under s->lock) */
	bool dead;			/* disconnected: no more I/O */
	struct qmp_request *pending;	/* issued, not answered yet */
	int pending_fds[QMP_MAX_PENDING_FDS];
	int n_pending_fds;
	struct qmp_named_fd *fds;	/* getfd's store */
};

struct qmp_outq_item {
	struct qmp_outq_item *next;
	struct json_object *msg;	/* the event or the reply */
	struct qmp_request *req;	/* NULL: an event for every client */
};

struct qmp_request {
	/* A reply completed off the handler travels to the loop in this. */
	struct qmp_outq_item qitem;
	struct qmp_server *s;		/* holds a reference */
	struct qmp_client *c;		/* holds a reference */
	bool has_id;
	struct json_object *id;		/* NULL: none, or "id": null */
	pthread_t handler_thread;
	bool in_handler;		/* the handler is running (loop thread) */
	bool answered;			/* answered from inside the handler */
	bool completed;			/* return/error was called */
};

struct qmp_cmd {
	char *name;
	struct qmp_arg *args;		/* copied, ends with { NULL } */
	qmp_command_fn fn;
	void *opaque;
	bool any_args;			/* the schema has QMP_ARGS_REST */
};

struct qmp_server {
	struct vmm_loop *loop;
	atomic_int refs;		/* owner's, clients', requests', reap work's */
	int listen_fd;
	int kick;			/* eventfd: the outbound queue has items */
	char path[108];
	dev_t sock_dev;			/* the socket file we created */
	ino_t sock_ino;
	bool started;
	bool attached;			/* machine->attach() was called */
	bool accept_paused;		/* out of fds: listener off until one closes */
	bool reap_scheduled;
	unsigned int next_serial;

	size_t max_message;
	size_t max_output;
	const struct qmp_machine_ops *machine;
	void *machine_opaque;
	void (*log)(void *opaque, const char *line);
	void *log_opaque;

	pthread_mutex_t lock;
	bool closed;			/* qmp_server_free() has begun */
	struct qmp_client *clients;
	struct qmp_client *graveyard;
	struct qmp_cmd **cmds;
	size_t n_cmds, cap_cmds;
	struct qmp_outq_item *q_head, **q_tail;
};

/* server.c */
void qmp_log(struct qmp_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qmp_server_unref(struct qmp_server *s);
/* Destroys the graveyard's clients from deferred work (BRIEF rule 7). */
void qmp_server_schedule_reap(struct qmp_server *s);

/* client.c */
int qmp_client_new(struct qmp_server *s, int fd, struct qmp_client **out);
/* The loop callback of a client's socket. */
void qmp_client_event(void *opaque, uint32_t events);
void qmp_client_destroy(struct qmp_client *c);
void qmp_client_flush_now(struct qmp_client *c);
void qmp_client_unref(struct qmp_client *c);
/* Serialises @msg as one line and queues it; may disconnect on backlog. */
void qmp_client_send(struct qmp_client *c, struct json_object *msg);
/* Parses and dispatches buffered input until it runs out or must wait. */
void qmp_client_process(struct qmp_client *c);
/* Re-arms epoll for what the client waits for; closes it when it is done. */
void qmp_client_update(struct qmp_client *c);

/* queue.c: what other threads hand to the loop */
int qmp_queue_init(struct qmp_server *s);
/* Queues a completed request's reply for the loop; false if closed. */
bool qmp_queue_reply(struct qmp_server *s, struct qmp_request *req, struct json_object *msg);
/* The loop callback of s->kick. */
void qmp_queue_event(void *opaque, uint32_t events);
/*
 * Marks the server closed and hands what is queued to @clients (taken off
 * the loop by qmp_server_free(), linked by ->next) before freeing it.
 */
void qmp_queue_close(struct qmp_server *s, struct qmp_client *clients);

/* dispatch.c */
void qmp_dispatch(struct qmp_client *c, struct json_object *msg);
/* {"error": {"class": ..., "desc": @desc}}, plus "id": @id if @has_id. */
struct json_object *qmp_error_new(bool has_id, struct json_object *id,
				  enum qmp_error_class cls, const char *desc);
/* Delivers a reply queued from another thread, on the loop. */
void qmp_request_deliver(struct qmp_request *req, struct json_object *msg);
void qmp_request_free(struct qmp_request *req);
void qmp_cmds_free(struct qmp_server *s);

/* commands.c: qmp_capabilities, query-version, query-commands */
int qmp_commands_add_builtin(struct qmp_server *s);
/* {"qemu": {"major": ..}, "package": "ferry X"}: query-version and greeting */
struct json_object *qmp_version_new(void);
/* For query-commands: a new array of {"name": ...}, under s->lock. */
struct json_object *qmp_commands_list(struct qmp_server *s);

/* fds.c: getfd, closefd, the per-client fd store */
int qmp_fds_add_commands(struct qmp_server *s);
void qmp_client_close_fds(struct qmp_client *c);

/* machine.c: query-status, stop, cont, system_reset, system_powerdown, quit */
int qmp_machine_add_commands(struct qmp_server *s);

/* device.c: device_add, device_del, qom-list, query-pci (machines with device ops) */
int qmp_device_add_commands(struct qmp_server *s);

/* schema.c: query-qmp-schema */
int qmp_schema_add_commands(struct qmp_server *s);

#endif /* FERRY_QMP_PRIV_H */
