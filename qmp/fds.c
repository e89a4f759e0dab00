// SPDX-License-Identifier: GPL-2.0-only
/*
 * File descriptors passed by clients: getfd stores the fd that came with
 * it (SCM_RIGHTS) under a name, closefd closes it, a command that needs it
 * takes it (qmp_request_take_fd), and whatever is left closes with the
 * client.  The store is per client, as in QEMU: names are not shared.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmp/priv.h"

static struct qmp_named_fd **client_find_fd(struct qmp_client *c, const char *name)
{
	struct qmp_named_fd **p;

	for (p = &c->fds; *p; p = &(*p)->next)
		if (!strcmp((*p)->name, name))
			break;
	return p;
}

/*
 * The fd came with this command's bytes (client.c keeps what arrived until
 * the messages that came with it are handled); the oldest one is taken.
 */
static void cmd_getfd(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct qmp_client *c = req->c;
	const char *name = json_object_get_string(json_object_object_get(args, "fdname"));
	struct qmp_named_fd **p, *nf;
	int fd;

	/* A name starting with a digit would read as an fd number elsewhere. */
	if (!*name || isdigit((unsigned char)name[0])) {
		qmp_request_error(req, QMP_ERROR_GENERIC,
				  "Parameter 'fdname' expects a name not starting with a digit");
		return;
	}
	if (!c->n_pending_fds) {
		qmp_request_error(req, QMP_ERROR_GENERIC,
				  "No file descriptor supplied via SCM_RIGHTS");
		return;
	}
	fd = c->pending_fds[0];
	p = client_find_fd(c, name);
	if (*p) {
		/* Same name again: the new fd replaces the old one, which is closed. */
		close((*p)->fd);
		(*p)->fd = fd;
	} else {
		nf = calloc(1, sizeof(*nf));
		if (nf)
			nf->name = strdup(name);
		if (!nf || !nf->name) {
			free(nf);
			qmp_request_error(req, QMP_ERROR_GENERIC, "Out of memory");
			return;	/* the fd stays pending and is closed with the others */
		}
		nf->fd = fd;
		nf->next = c->fds;
		c->fds = nf;
	}
	c->n_pending_fds--;
	memmove(c->pending_fds, c->pending_fds + 1, c->n_pending_fds * sizeof(int));
	qmp_request_return(req, NULL);
}

static void cmd_closefd(struct qmp_request *req, struct json_object *args, void *opaque)
{
	const char *name = json_object_get_string(json_object_object_get(args, "fdname"));
	struct qmp_named_fd **p, *nf;

	p = client_find_fd(req->c, name);
	nf = *p;
	if (!nf) {
		qmp_request_error(req, QMP_ERROR_GENERIC, "File descriptor named '%s' not found",
				  name);
		return;
	}
	*p = nf->next;
	close(nf->fd);
	free(nf->name);
	free(nf);
	qmp_request_return(req, NULL);
}

void qmp_client_close_fds(struct qmp_client *c)
{
	while (c->fds) {
		struct qmp_named_fd *nf = c->fds;

		c->fds = nf->next;
		close(nf->fd);
		free(nf->name);
		free(nf);
	}
}

int qmp_request_take_fd(struct qmp_request *req, const char *fdname)
{
	struct qmp_named_fd **p, *nf;
	int fd;

	if (!pthread_equal(pthread_self(), req->handler_thread) || !req->in_handler)
		return -EPERM;
	p = client_find_fd(req->c, fdname);
	nf = *p;
	if (!nf)
		return -ENOENT;
	*p = nf->next;
	fd = nf->fd;
	free(nf->name);
	free(nf);
	return fd;
}

static const struct qmp_arg args_fdname[] = {
	{ "fdname", QMP_ARG_STRING, true },
	{ NULL },
};

static const struct qmp_command fd_cmds[] = {
	{ "getfd", args_fdname, cmd_getfd, NULL },
	{ "closefd", args_fdname, cmd_closefd, NULL },
};

int qmp_fds_add_commands(struct qmp_server *s)
{
	for (size_t i = 0; i < sizeof(fd_cmds) / sizeof(fd_cmds[0]); i++) {
		int ret = qmp_server_add_command(s, &fd_cmds[i]);

		if (ret)
			return ret;
	}
	return 0;
}
