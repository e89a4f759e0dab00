// SPDX-License-Identifier: GPL-2.0-only
/*
 * The outbound queue: events emitted from any thread, and replies completed
 * away from their handler, travel to the loop here and leave in the order
 * they were queued.  s->kick (an eventfd) wakes the loop; it is written
 * under s->lock, and never once @closed is set, so the server can close it
 * without racing a late writer.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "qmp/priv.h"

int qmp_queue_init(struct qmp_server *s)
{
	s->q_head = NULL;
	s->q_tail = &s->q_head;
	s->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return s->kick < 0 ? -errno : 0;
}

/* Under s->lock.  False once the server is closing: the caller keeps @it. */
static bool queue_push_locked(struct qmp_server *s, struct qmp_outq_item *it)
{
	uint64_t one = 1;

	if (s->closed)
		return false;
	it->next = NULL;
	*s->q_tail = it;
	s->q_tail = &it->next;
	/* EAGAIN: the counter is saturated, the loop wakes anyway. */
	if (write(s->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		qmp_log(s, "cannot wake the event loop: %m");
	return true;
}

int qmp_server_emit_event(struct qmp_server *s, const char *name, struct json_object *data)
{
	struct json_object *ev = NULL, *ts = NULL;
	struct qmp_outq_item *it;
	struct timespec now;
	bool queued;

	if (!name || !*name) {
		json_object_put(data);
		return -EINVAL;
	}
	/* Wall-clock time, as QEMU stamps its events. */
	clock_gettime(CLOCK_REALTIME, &now);
	it = calloc(1, sizeof(*it));
	ev = json_object_new_object();
	ts = json_object_new_object();
	if (!it || !ev || !ts)
		goto err_nomem;
	if (json_object_object_add(ev, "event", json_object_new_string(name)))
		goto err_nomem;
	if (data) {
		if (json_object_object_add(ev, "data", data))
			goto err_nomem;
		data = NULL;
	}
	if (json_object_object_add(ts, "seconds", json_object_new_int64(now.tv_sec)) ||
	    json_object_object_add(ts, "microseconds",
				   json_object_new_int64(now.tv_nsec / 1000)))
		goto err_nomem;
	if (json_object_object_add(ev, "timestamp", ts))
		goto err_nomem;
	ts = NULL;
	it->msg = ev;

	pthread_mutex_lock(&s->lock);
	queued = queue_push_locked(s, it);
	pthread_mutex_unlock(&s->lock);
	if (!queued) {
		json_object_put(ev);
		free(it);
		return -ESHUTDOWN;
	}
	return 0;

err_nomem:
	json_object_put(ts);
	json_object_put(ev);
	json_object_put(data);
	free(it);
	return -ENOMEM;
}

bool qmp_queue_reply(struct qmp_server *s, struct qmp_request *req, struct json_object *msg)
{
	bool queued;

	req->qitem.msg = msg;
	req->qitem.req = req;
	pthread_mutex_lock(&s->lock);
	queued = queue_push_locked(s, &req->qitem);
	pthread_mutex_unlock(&s->lock);
	return queued;
}

static struct qmp_outq_item *queue_take(struct qmp_server *s)
{
	struct qmp_outq_item *list;

	pthread_mutex_lock(&s->lock);
	list = s->q_head;
	s->q_head = NULL;
	s->q_tail = &s->q_head;
	pthread_mutex_unlock(&s->lock);
	return list;
}

/*
 * Walks @list without s->lock: while the queue's callback is registered only
 * the loop thread adds or removes clients (priv.h), and at the end the list
 * is qmp_server_free()'s own.  Sending may move @c to the graveyard, so the
 * next one is read first.
 */
static void queue_broadcast(struct qmp_client *list, struct json_object *ev, bool rearm)
{
	struct qmp_client *c, *next;

	for (c = list; c; c = next) {
		next = c->next;
		if (!c->negotiated || c->dead)
			continue;
		qmp_client_send(c, ev);
		if (rearm)
			qmp_client_update(c);
	}
}

void qmp_queue_event(void *opaque, uint32_t events)
{
	struct qmp_server *s = opaque;
	struct qmp_outq_item *it, *next;
	uint64_t n;

	if (read(s->kick, &n, sizeof(n)) < 0 && errno != EAGAIN)
		qmp_log(s, "cannot read the queue's eventfd: %m");
	for (it = queue_take(s); it; it = next) {
		next = it->next;
		if (it->req) {
			qmp_request_deliver(it->req, it->msg);
		} else {
			queue_broadcast(s->clients, it->msg, true);
			json_object_put(it->msg);
			free(it);
		}
	}
}

void qmp_queue_close(struct qmp_server *s, struct qmp_client *clients)
{
	struct qmp_outq_item *it, *next;

	pthread_mutex_lock(&s->lock);
	s->closed = true;
	pthread_mutex_unlock(&s->lock);
	for (it = queue_take(s); it; it = next) {
		next = it->next;
		if (it->req) {
			if (!it->req->c->dead)
				qmp_client_send(it->req->c, it->msg);
			json_object_put(it->msg);
			qmp_request_free(it->req);
		} else {
			queue_broadcast(clients, it->msg, false);
			json_object_put(it->msg);
			free(it);
		}
	}
}
