// SPDX-License-Identifier: GPL-2.0-only
/*
 * One QMP connection: non-blocking reads (with the fds that ride on them),
 * the streaming JSON parser, the output backlog, and the client's end.
 *
 * Input is kept raw in c->in and fed to json-c's tokener from there, so
 * that a command whose reply is pending stops the parsing of what follows
 * (QMP answers in order) without losing it.  Reading from the socket stops
 * too while a request is pending, which bounds c->in to one read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp/priv.h"
#include "vmm/vmm.h"

static int buf_reserve(struct qmp_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + more <= b->cap)
		return 0;
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + more <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static void client_disconnect(struct qmp_client *c, const char *why)
{
	struct qmp_server *s = c->s;
	bool own = false;

	if (c->dead)
		return;
	c->dead = true;
	if (why)
		qmp_log(s, "client %u: %s", c->serial, why);

	pthread_mutex_lock(&s->lock);
	if (c->listed) {
		struct qmp_client **p;

		for (p = &s->clients; *p != c; p = &(*p)->next)
			;
		*p = c->next;
		c->listed = false;
		own = true;
	}
	pthread_mutex_unlock(&s->lock);

	/*
	 * Not on the list: qmp_server_free() took it and is waiting in
	 * vmm_loop_del_fd() for this callback to return; it destroys the client.
	 * Ours: out of the loop first, then to the graveyard, whose clients only
	 * deferred work destroys, once no callback of theirs can be running.
	 */
	if (!own)
		return;
	vmm_loop_del_fd(s->loop, c->fd);
	pthread_mutex_lock(&s->lock);
	c->next = s->graveyard;
	s->graveyard = c;
	pthread_mutex_unlock(&s->lock);
	qmp_server_schedule_reap(s);
}

static int client_flush(struct qmp_client *c)
{
	struct qmp_buf *b = &c->out;

	while (b->off < b->len) {
		ssize_t n = send(c->fd, b->data + b->off, b->len - b->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		b->off += n;
	}
	b->off = b->len = 0;
	return 0;
}

void qmp_client_send(struct qmp_client *c, struct json_object *msg)
{
	struct qmp_server *s = c->s;
	const char *str;
	size_t len;
	int ret;

	if (c->dead)
		return;
	if (!msg) {
		/* A reply could not be built: the client would wait forever. */
		client_disconnect(c, "out of memory building a reply; disconnected");
		return;
	}
	/*
	 * PLAIN never produces a newline, and strings escape theirs: libvirt
	 * splits the stream at "\r\n", one message per line.
	 */
	str = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN |
					     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!str) {
		client_disconnect(c, "out of memory formatting a message; disconnected");
		return;
	}
	len = strlen(str);
	if (buf_reserve(&c->out, len + 2)) {
		client_disconnect(c, "out of memory queueing output; disconnected");
		return;
	}
	memcpy(c->out.data + c->out.len, str, len);
	memcpy(c->out.data + c->out.len + len, "\r\n", 2);
	c->out.len += len + 2;

	ret = client_flush(c);
	if (ret) {
		if (ret != -EPIPE && ret != -ECONNRESET)
			qmp_log(s, "client %u: write failed: %s", c->serial, strerror(-ret));
		client_disconnect(c, NULL);
		return;
	}
	if (c->out.len - c->out.off > s->max_output) {
		char why[128];

		snprintf(why, sizeof(why),
			 "disconnected: it left more than %zu bytes of output unread",
			 s->max_output);
		client_disconnect(c, why);
	}
}

static void client_close_pending_fds(struct qmp_client *c)
{
	for (int i = 0; i < c->n_pending_fds; i++)
		close(c->pending_fds[i]);
	c->n_pending_fds = 0;
}

static void client_reply_parse_error(struct qmp_client *c, const char *desc)
{
	struct json_object *err = qmp_error_new(false, NULL, QMP_ERROR_GENERIC, desc);

	if (!err) {
		client_disconnect(c, "out of memory; disconnected");
		return;
	}
	qmp_client_send(c, err);
	json_object_put(err);
}

/* The message outgrew the limit: the stream cannot be resynchronised. */
static void client_reject_oversize(struct qmp_client *c)
{
	struct qmp_server *s = c->s;
	char desc[160];

	snprintf(desc, sizeof(desc),
		 "JSON message exceeds the limit of %zu bytes; closing the connection",
		 s->max_message);
	qmp_log(s, "client %u: message over %zu bytes; closing the connection",
		c->serial, s->max_message);
	client_reply_parse_error(c, desc);
	c->closing = true;
	c->in.off = c->in.len = 0;
}

static bool is_json_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

void qmp_client_process(struct qmp_client *c)
{
	struct qmp_server *s = c->s;
	struct qmp_buf *in = &c->in;

	while (!c->dead && !c->closing && !c->pending && in->off < in->len) {
		char *p = in->data + in->off;
		size_t n = in->len - in->off;
		enum json_tokener_error jerr;
		struct json_object *obj;
		size_t feed, used;

		if (c->discard) {
			char *nl = memchr(p, '\n', n);

			if (!nl) {
				in->off = in->len;
				break;
			}
			in->off += nl - p + 1;
			c->discard = false;
			continue;
		}
		if (!c->mid) {
			/* Whitespace between messages belongs to none of them. */
			while (n && is_json_space(*p)) {
				p++;
				n--;
				in->off++;
			}
			if (!n)
				break;
			c->mid = true;
			c->msg_bytes = 0;
		}

		feed = s->max_message - c->msg_bytes;
		if (feed > n)
			feed = n;
		if (feed > QMP_READ_CHUNK)
			feed = QMP_READ_CHUNK;
		obj = json_tokener_parse_ex(c->tok, p, (int)feed);
		jerr = json_tokener_get_error(c->tok);

		if (jerr == json_tokener_continue) {
			in->off += feed;
			c->msg_bytes += feed;
			if (c->msg_bytes >= s->max_message)
				client_reject_oversize(c);
			continue;
		}
		used = json_tokener_get_parse_end(c->tok);
		in->off += used;
		c->msg_bytes += used;
		json_tokener_reset(c->tok);
		c->mid = false;

		if (jerr != json_tokener_success) {
			char desc[160];

			/*
			 * The tokener stopped at the offending byte.  Resume at
			 * the next line: every QMP client ends a message with a
			 * newline, and guessing where a broken object ends would
			 * turn one error into a cascade.
			 */
			snprintf(desc, sizeof(desc), "JSON parse error, %s",
				 json_tokener_error_desc(jerr));
			client_reply_parse_error(c, desc);
			c->discard = true;
			continue;
		}
		qmp_dispatch(c, obj);
		json_object_put(obj);
	}

	/*
	 * Fds travel with the bytes of the getfd that claims them.  Once every
	 * message that arrived with them has been handled, nobody will.
	 */
	if (!c->mid && !c->pending && in->off == in->len)
		client_close_pending_fds(c);
	if (in->off == in->len)
		in->off = in->len = 0;
}

/* Returns 1 at end of stream, 0 otherwise (data or nothing), or -errno. */
static int client_read(struct qmp_client *c)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * QMP_MAX_PENDING_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	unsigned int dropped = 0;
	struct cmsghdr *cm;
	ssize_t n;

	if (buf_reserve(&c->in, QMP_READ_CHUNK))
		return -ENOMEM;
	iov.iov_base = c->in.data + c->in.len;
	iov.iov_len = QMP_READ_CHUNK;
	n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;

	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t nfds;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < nfds; i++) {
			if (c->n_pending_fds < QMP_MAX_PENDING_FDS) {
				c->pending_fds[c->n_pending_fds++] = fds[i];
			} else {
				close(fds[i]);
				dropped++;
			}
		}
	}
	if (dropped || (msg.msg_flags & MSG_CTRUNC))
		qmp_log(c->s, "client %u: passed more than %d fds not yet claimed by getfd; "
			"the extra ones were closed", c->serial, QMP_MAX_PENDING_FDS);
	if (n == 0)
		return 1;
	c->in.len += n;
	return 0;
}

void qmp_client_update(struct qmp_client *c)
{
	uint32_t want = 0;

	if (c->dead)
		return;
	if ((c->eof || c->closing) && !c->pending && c->out.off == c->out.len &&
	    (c->closing || c->in.off == c->in.len)) {
		client_disconnect(c, NULL);
		return;
	}
	if (!c->pending && !c->closing && !c->eof)
		want |= EPOLLIN;
	if (c->out.off < c->out.len)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	if (vmm_loop_mod_fd(c->s->loop, c->fd, want)) {
		client_disconnect(c, "cannot update its event-loop registration; disconnected");
		return;
	}
	c->events = want;
}

void qmp_client_event(void *opaque, uint32_t events)
{
	struct qmp_client *c = opaque;
	bool reading = c->events & EPOLLIN;
	int ret;

	if (c->dead)
		return;
	if (events & EPOLLERR) {
		client_disconnect(c, NULL);
		return;
	}
	if (reading && (events & (EPOLLIN | EPOLLHUP))) {
		ret = client_read(c);
		if (ret < 0) {
			if (ret != -ECONNRESET)
				qmp_log(c->s, "client %u: read failed: %s", c->serial,
					strerror(-ret));
			client_disconnect(c, NULL);
			return;
		}
		if (ret == 1)
			c->eof = true;
		qmp_client_process(c);
	} else if (events & EPOLLHUP) {
		/* Gone for good while we were not reading: nothing can reach it. */
		client_disconnect(c, NULL);
		return;
	}
	if (!c->dead && (events & EPOLLOUT)) {
		ret = client_flush(c);
		if (ret) {
			client_disconnect(c, NULL);
			return;
		}
	}
	qmp_client_update(c);
}

int qmp_client_new(struct qmp_server *s, int fd, struct qmp_client **out)
{
	struct qmp_client *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tok = json_tokener_new_ex(QMP_MAX_DEPTH);
	if (!c->tok) {
		free(c);
		return -ENOMEM;
	}
	json_tokener_set_flags(c->tok, JSON_TOKENER_VALIDATE_UTF8);
	atomic_init(&c->refs, 1);
	atomic_fetch_add(&s->refs, 1);
	c->s = s;
	c->fd = fd;
	*out = c;
	return 0;
}

/* The client is off every list and out of the loop: release what it holds. */
void qmp_client_destroy(struct qmp_client *c)
{
	c->dead = true;
	close(c->fd);
	c->fd = -1;
	client_close_pending_fds(c);
	qmp_client_close_fds(c);
	json_tokener_free(c->tok);
	c->tok = NULL;
	free(c->in.data);
	free(c->out.data);
	memset(&c->in, 0, sizeof(c->in));
	memset(&c->out, 0, sizeof(c->out));
	qmp_client_unref(c);
}

/* Best effort, for the server's end: whatever the socket takes now. */
void qmp_client_flush_now(struct qmp_client *c)
{
	client_flush(c);
}

void qmp_client_unref(struct qmp_client *c)
{
	struct qmp_server *s = c->s;

	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	free(c);
	qmp_server_unref(s);
}
