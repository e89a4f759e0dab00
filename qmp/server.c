// SPDX-License-Identifier: GPL-2.0-only
/*
 * The QMP server: its listening socket, accepting and greeting clients,
 * reaping the ones that left, and the end of it all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp/priv.h"
#include "vmm/vmm.h"

/* Connections taken per wake of the listener, so a flood cannot starve the loop. */
#define QMP_ACCEPT_BATCH 16

void qmp_log(struct qmp_server *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s->log)
		s->log(s->log_opaque, line);
	else
		fprintf(stderr, "ferry: qmp: %s\n", line);
}

static void server_release(struct qmp_server *s)
{
	qmp_cmds_free(s);
	if (s->kick >= 0)
		close(s->kick);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void qmp_server_unref(struct qmp_server *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		server_release(s);
}

static void server_resume_accept_locked(struct qmp_server *s)
{
	if (!s->accept_paused || s->closed)
		return;
	if (!vmm_loop_mod_fd(s->loop, s->listen_fd, EPOLLIN))
		s->accept_paused = false;
}

static void server_reap(void *opaque)
{
	struct qmp_server *s = opaque;
	struct qmp_client *dead, *next;

	pthread_mutex_lock(&s->lock);
	dead = s->graveyard;
	s->graveyard = NULL;
	s->reap_scheduled = false;
	/* A client's fd is free again: new connections may be accepted. */
	if (dead)
		server_resume_accept_locked(s);
	pthread_mutex_unlock(&s->lock);

	for (; dead; dead = next) {
		next = dead->next;
		qmp_client_destroy(dead);
	}
	qmp_server_unref(s);
}

void qmp_server_schedule_reap(struct qmp_server *s)
{
	bool schedule;

	pthread_mutex_lock(&s->lock);
	schedule = !s->reap_scheduled;
	s->reap_scheduled = true;
	pthread_mutex_unlock(&s->lock);
	if (!schedule)
		return;

	atomic_fetch_add(&s->refs, 1);
	if (vmm_loop_defer(s->loop, server_reap, s)) {
		/* The graveyard waits for the next disconnect, or qmp_server_free(). */
		qmp_log(s, "out of memory deferring a client's release");
		pthread_mutex_lock(&s->lock);
		s->reap_scheduled = false;
		pthread_mutex_unlock(&s->lock);
		qmp_server_unref(s);
	}
}

static struct json_object *server_greeting_new(void)
{
	struct json_object *greeting, *qmp, *version;

	version = qmp_version_new();
	qmp = json_object_new_object();
	greeting = json_object_new_object();
	if (!version || !qmp || !greeting)
		goto err;
	if (json_object_object_add(qmp, "version", version)) {
		json_object_put(version);
		goto err_qmp;
	}
	if (json_object_object_add(qmp, "capabilities", json_object_new_array()))
		goto err_qmp;
	if (json_object_object_add(greeting, "QMP", qmp))
		goto err_qmp;
	return greeting;

err:
	json_object_put(version);
err_qmp:
	json_object_put(qmp);
	json_object_put(greeting);
	return NULL;
}

static void server_accept_one(struct qmp_server *s, int fd)
{
	struct json_object *greeting;
	struct qmp_client *c;
	int ret;

	ret = qmp_client_new(s, fd, &c);
	if (ret) {
		qmp_log(s, "cannot serve a new client: %s", strerror(-ret));
		close(fd);
		return;
	}
	c->serial = ++s->next_serial;
	c->events = EPOLLIN;

	pthread_mutex_lock(&s->lock);
	c->listed = true;
	c->next = s->clients;
	s->clients = c;
	pthread_mutex_unlock(&s->lock);

	ret = vmm_loop_add_fd(s->loop, fd, EPOLLIN, qmp_client_event, c);
	if (ret) {
		qmp_log(s, "cannot register client %u with the event loop: %s",
			c->serial, strerror(-ret));
		pthread_mutex_lock(&s->lock);
		s->clients = c->next;
		c->listed = false;
		pthread_mutex_unlock(&s->lock);
		qmp_client_destroy(c);
		return;
	}

	greeting = server_greeting_new();
	qmp_client_send(c, greeting);
	json_object_put(greeting);
	qmp_client_update(c);
}

static void server_accept(void *opaque, uint32_t events)
{
	struct qmp_server *s = opaque;

	for (int i = 0; i < QMP_ACCEPT_BATCH; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			server_accept_one(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN)
			return;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Level-triggered: left armed, the listener would spin. */
			qmp_log(s, "cannot accept a client on %s: %m; new connections wait "
				"until a client leaves", s->path);
			pthread_mutex_lock(&s->lock);
			if (!s->closed && !vmm_loop_mod_fd(s->loop, s->listen_fd, 0))
				s->accept_paused = true;
			pthread_mutex_unlock(&s->lock);
			return;
		}
		qmp_log(s, "cannot accept a client on %s: %m", s->path);
		return;
	}
}

/*
 * A socket file whose listener is gone refuses connections: it is ours to
 * replace.  One that accepts belongs to a live process.
 */
static int server_socket_is_stale(const char *path, const struct sockaddr_un *sa)
{
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;
	close(fd);
	if (ret == -ECONNREFUSED)
		return 1;
	return ret ? ret : 0;
}

static int server_listen(struct qmp_server *s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	strcpy(sa.sun_path, s->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create a unix socket for QMP: %s", strerror(-ret));
		return ret;
	}
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	if (ret == -EADDRINUSE) {
		if (lstat(s->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "QMP socket path %s exists and is not a socket: "
				 "remove it or choose another path", s->path);
			ret = -EEXIST;
			goto err_close;
		}
		ret = server_socket_is_stale(s->path, &sa);
		if (ret == 0) {
			snprintf(err, errlen, "QMP socket %s is in use: another process is "
				 "listening on it; stop it or choose another path", s->path);
			ret = -EADDRINUSE;
			goto err_close;
		}
		if (ret == 1 && unlink(s->path) && errno != ENOENT) {
			ret = -errno;
			snprintf(err, errlen, "cannot remove the stale QMP socket %s: %s",
				 s->path, strerror(-ret));
			goto err_close;
		}
		ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	}
	if (ret) {
		snprintf(err, errlen, "cannot create QMP socket %s: %s%s", s->path,
			 strerror(-ret), ret == -ENOENT ? " (does its directory exist?)" : "");
		goto err_close;
	}
	if (stat(s->path, &st)) {
		ret = -errno;
		snprintf(err, errlen, "cannot stat QMP socket %s after creating it: %s",
			 s->path, strerror(-ret));
		goto err_unlink;
	}
	s->sock_dev = st.st_dev;
	s->sock_ino = st.st_ino;
	if (listen(fd, 16)) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on QMP socket %s: %s", s->path,
			 strerror(-ret));
		goto err_unlink;
	}
	s->listen_fd = fd;
	return 0;

err_unlink:
	unlink(s->path);
err_close:
	close(fd);
	return ret;
}

/* Removes the socket file only if it is still the one we created. */
static void server_unlink(struct qmp_server *s)
{
	struct stat st;

	if (lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev && st.st_ino == s->sock_ino)
		unlink(s->path);
}

static bool machine_ops_complete(const struct qmp_machine_ops *m)
{
	return m->state && m->pause && m->resume && m->reset && m->powerdown && m->quit &&
	       !m->attach == !m->detach;
}

int qmp_server_new(struct vmm_loop *loop, const struct qmp_server_config *cfg,
		   struct qmp_server **out, char *err, size_t errlen)
{
	struct qmp_server *s;
	int ret;

	if (!loop || !cfg || !cfg->path || !*cfg->path) {
		snprintf(err, errlen, "QMP needs a socket path");
		return -EINVAL;
	}
	if (strlen(cfg->path) >= sizeof(s->path)) {
		snprintf(err, errlen, "QMP socket path %s is too long (%zu bytes; a unix "
			 "socket path has at most %zu)", cfg->path, strlen(cfg->path),
			 sizeof(s->path) - 1);
		return -ENAMETOOLONG;
	}
	if (cfg->machine && !machine_ops_complete(cfg->machine)) {
		snprintf(err, errlen, "QMP machine operations are incomplete");
		return -EINVAL;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory creating the QMP server");
		return -ENOMEM;
	}
	atomic_init(&s->refs, 1);
	s->loop = loop;
	s->listen_fd = -1;
	strcpy(s->path, cfg->path);
	s->max_message = cfg->max_message ? cfg->max_message : QMP_DEFAULT_MAX_MESSAGE;
	s->max_output = cfg->max_output ? cfg->max_output : QMP_DEFAULT_MAX_OUTPUT;
	s->machine = cfg->machine;
	s->machine_opaque = cfg->machine_opaque;
	s->log = cfg->log;
	s->log_opaque = cfg->log_opaque;
	pthread_mutex_init(&s->lock, NULL);

	ret = qmp_queue_init(s);
	if (ret) {
		snprintf(err, errlen, "cannot create the QMP server's eventfd: %s",
			 strerror(-ret));
		goto err_release;
	}
	ret = qmp_commands_add_builtin(s);
	if (!ret && s->machine)
		ret = qmp_machine_add_commands(s);
	if (!ret && s->machine && s->machine->device_add && s->machine->device_del &&
	    s->machine->pci_list)
		ret = qmp_device_add_commands(s);
	if (!ret)
		ret = qmp_schema_add_commands(s);
	if (ret) {
		snprintf(err, errlen, "cannot register the QMP commands: %s", strerror(-ret));
		goto err_release;
	}
	ret = server_listen(s, err, errlen);
	if (ret)
		goto err_release;
	*out = s;
	return 0;

err_release:
	server_release(s);
	return ret;
}

int qmp_server_start(struct qmp_server *s)
{
	int ret;

	if (s->started)
		return -EBUSY;
	ret = vmm_loop_add_fd(s->loop, s->kick, EPOLLIN, qmp_queue_event, s);
	if (ret)
		return ret;
	ret = vmm_loop_add_fd(s->loop, s->listen_fd, EPOLLIN, server_accept, s);
	if (ret)
		goto err_kick;
	s->started = true;
	if (s->machine && s->machine->attach) {
		s->machine->attach(s->machine_opaque, s);
		s->attached = true;
	}
	return 0;

err_kick:
	vmm_loop_del_fd(s->loop, s->kick);
	return ret;
}

void qmp_server_free(struct qmp_server *s)
{
	struct qmp_client *c, *next, *mine = NULL, **tail = &mine;

	if (!s)
		return;
	/* The machine's threads first: after this they never touch @s. */
	if (s->attached)
		s->machine->detach(s->machine_opaque);
	if (s->started) {
		vmm_loop_del_fd(s->loop, s->listen_fd);
		vmm_loop_del_fd(s->loop, s->kick);
	}

	/*
	 * Now only the clients' own callbacks may run; each is stopped before
	 * its client is ours.  A handler running meanwhile (quit) may still
	 * emit: the server is closed only once they have all returned, so its
	 * events are queued, and delivered below.
	 */
	for (;;) {
		pthread_mutex_lock(&s->lock);
		c = s->clients;
		if (c) {
			s->clients = c->next;
			c->listed = false;
		}
		pthread_mutex_unlock(&s->lock);
		if (!c)
			break;
		if (s->started)
			vmm_loop_del_fd(s->loop, c->fd);
		c->next = NULL;
		*tail = c;
		tail = &c->next;
	}
	qmp_queue_close(s, mine);
	for (c = mine; c; c = next) {
		next = c->next;
		qmp_client_flush_now(c);
		qmp_client_destroy(c);
	}

	/*
	 * Clients that dropped themselves may still be inside their last
	 * callback: they are left to the deferred reap (which holds the server),
	 * run by the loop or at the latest by vmm_loop_free().
	 */
	pthread_mutex_lock(&s->lock);
	c = s->graveyard;
	pthread_mutex_unlock(&s->lock);
	if (c)
		qmp_server_schedule_reap(s);

	close(s->listen_fd);
	s->listen_fd = -1;
	server_unlink(s);
	qmp_server_unref(s);
}
