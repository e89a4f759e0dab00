/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * qmp/ - the QMP server: QEMU's JSON monitor protocol over a unix socket,
 * the way libvirt and QEMU's own tools speak it.  This is the layer's only
 * public header.  docs/qmp.md describes the protocol as ferry serves it.
 *
 * Threads: the server lives on the vmm event loop (vmm/vmm.h).  Every
 * command handler runs on the loop thread.  qmp_server_emit_event() and the
 * completion of a request (qmp_request_return/error) may be called from any
 * thread; they are marshalled onto the loop.  Everything else is called by
 * the thread that owns the server (the VMM's main thread), or by the loop
 * thread outside every QMP callback.
 */
#ifndef FERRY_QMP_H
#define FERRY_QMP_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/vmm.h"

struct json_object;
struct vmm_loop;
struct qmp_server;
struct qmp_request;

/*
 * The QEMU version ferry announces in the greeting and in query-version.
 * libvirt refuses a QEMU older than its minimum (4.2.0 for libvirt 9.0 in
 * Debian 12, raised in later releases) and otherwise learns what a QEMU can
 * do from the commands it offers, not from the number; 9.0.0 passes every
 * current libvirt's check without claiming a version from the future.
 */
#define QMP_QEMU_MAJOR 9
#define QMP_QEMU_MINOR 0
#define QMP_QEMU_MICRO 0

/* A message (one JSON object) may not exceed this many bytes by default. */
#define QMP_DEFAULT_MAX_MESSAGE (1024 * 1024)
/* Unsent output beyond this many bytes disconnects the client by default. */
#define QMP_DEFAULT_MAX_OUTPUT (4 * 1024 * 1024)

/* ---- The -qmp option ---- */

struct qmp_listen_opts {
	char path[108];		/* sizeof(sockaddr_un.sun_path) */
};

/*
 * Parses the value of `-qmp`, e.g. "unix:/run/vm.qmp,server=on,wait=off".
 * Only a listening unix socket that does not wait for a client is
 * supported; ",," in the path stands for a comma (QEMU's escaping).
 * Returns 0, or -EINVAL with a sentence for a person in @err.
 */
int qmp_parse_listen_opts(const char *value, struct qmp_listen_opts *opts,
			  char *err, size_t errlen);

/* ---- The machine the commands act on ---- */

/* Run states, spelled in query-status as QEMU spells them. */
enum qmp_run_state {
	QMP_RUN_STATE_PRELAUNCH,
	QMP_RUN_STATE_RUNNING,
	QMP_RUN_STATE_PAUSED,
	QMP_RUN_STATE_SHUTDOWN,
	QMP_RUN_STATE_INTERNAL_ERROR,
	QMP_RUN_STATE_GUEST_PANICKED,
	QMP_RUN_STATE_SUSPENDED,
};

const char *qmp_run_state_name(enum qmp_run_state state);

/*
 * What query-status, stop, cont, system_reset, system_powerdown and quit
 * act on.  A narrow table rather than direct vmm.h calls, so that qmp/ is
 * tested against a fake machine; the real one, over struct vmm, is
 * struct qmp_vmm_machine below.  The functions run on the loop thread
 * inside a command handler: they must not block for long, and must not
 * free the QMP server (quit asks the VMM to exit; the VMM frees the server
 * later, from its own thread).  Each returns 0 or a negative errno.
 *
 * Events: the server emits STOP, RESUME and POWERDOWN for its commands.
 * SHUTDOWN and RESET have causes outside QMP too (the guest powers off or
 * resets, a signal, an error), so a machine with attach() reports them all
 * itself, QMP's included, with qmp_server_emit_event(); quit and
 * system_reset then emit nothing.  Without attach(), quit emits SHUTDOWN
 * and system_reset RESET ("guest": false) and other causes go unreported.
 */
struct qmp_machine_ops {
	enum qmp_run_state (*state)(void *opaque);
	/* Not called in prelaunch: stop leaves a machine that never ran as it is. */
	int (*pause)(void *opaque);
	/* From paused, or from prelaunch: the guest's first instruction (-S, then cont). */
	int (*resume)(void *opaque);
	int (*reset)(void *opaque);
	/* Presses the ACPI power button; the guest decides what follows. */
	int (*powerdown)(void *opaque);
	/* Asks the VMM to exit; the reply is sent first. */
	int (*quit)(void *opaque);
	/*
	 * Optional.  From qmp_server_start() until detach() returns, the
	 * machine may emit events on @s from any thread; after detach() it
	 * must not touch @s.  detach() runs first in qmp_server_free().
	 */
	void (*attach)(void *opaque, struct qmp_server *s);
	void (*detach)(void *opaque);
	/*
	 * Optional, all three or none: hot-plug (device_add, device_del,
	 * qom-list, query-pci; docs/qmp.md).  Same contracts as
	 * vmm_device_add(), vmm_device_del() and vmm_pci_list() (vmm/vmm.h):
	 * device_del only asks the guest; the machine emits DEVICE_DELETED
	 * itself once the device is really gone (in prelaunch, before
	 * device_del returns: no guest to ask).
	 */
	int (*device_add)(void *opaque, const struct vmm_device_prop *props, size_t nr_props,
			  char *err, size_t errlen);
	int (*device_del)(void *opaque, const char *id, char *err, size_t errlen);
	int (*pci_list)(void *opaque, struct vmm_pci_info **list, size_t *nr);
	/*
	 * Optional: device_add with fd=NAME, NAME an fd the client passed with
	 * getfd (the device's group /dev/vfio/N, or its cdev with iommufd=).
	 * As device_add, and it takes @fd over whatever the result, as
	 * vmm_device_add() does.  Without it, device_add refuses fd=.
	 */
	int (*device_add_fd)(void *opaque, const struct vmm_device_prop *props, size_t nr_props,
			     int fd, char *err, size_t errlen);
};

/*
 * The machine of vmm/vmm.h.  Pass &qmp_vmm_machine_ops with the object as
 * the opaque.  It maps states (created = prelaunch, stopped = shutdown, or
 * internal-error after a vCPU failure) and turns the machine's events
 * (vmm_set_event_handler(), which it takes over) into SHUTDOWN and RESET
 * with QEMU's reasons: guest-shutdown, guest-reset, host-qmp-quit,
 * host-qmp-system-reset, host-signal, host-error.  Its device ops are
 * vmm_device_add(), vmm_device_del() and vmm_pci_list(), and the machine's
 * VMM_EVENT_DEVICE_DELETED becomes DEVICE_DELETED {device, path}.
 *
 * Order: qmp_vmm_machine_new() after vmm_new(); qmp_server_free() before
 * vmm_free(); qmp_vmm_machine_free() after vmm_free(), when no vCPU thread
 * can still be inside the event handler.
 */
struct vmm;
struct qmp_vmm_machine;

extern const struct qmp_machine_ops qmp_vmm_machine_ops;
int qmp_vmm_machine_new(struct vmm *vmm, struct qmp_vmm_machine **out);
void qmp_vmm_machine_free(struct qmp_vmm_machine *m);

/* ---- The server ---- */

struct qmp_server_config {
	const char *path;		/* unix socket to listen on */
	/* NULL: no machine commands (query-status ... quit) are offered. */
	const struct qmp_machine_ops *machine;
	void *machine_opaque;
	size_t max_message;		/* 0: QMP_DEFAULT_MAX_MESSAGE */
	size_t max_output;		/* 0: QMP_DEFAULT_MAX_OUTPUT */
	/* One line per call, without a newline.  NULL: stderr. */
	void (*log)(void *opaque, const char *line);
	void *log_opaque;
};

/*
 * Creates the socket at cfg->path and listens on it.  A stale socket left
 * by a dead process is replaced; a live one, or a file that is not a
 * socket, is an error.  Clients are served once qmp_server_start() runs.
 * Returns 0 or a negative errno, with a sentence for a person in @err.
 */
int qmp_server_new(struct vmm_loop *loop, const struct qmp_server_config *cfg,
		   struct qmp_server **out, char *err, size_t errlen);

/* Registers the server with the loop: from now on clients are greeted. */
int qmp_server_start(struct qmp_server *s);

/*
 * Closes every client, every fd they passed, the socket, and unlinks the
 * path the server created.  Pending output is flushed as far as the socket
 * takes it without blocking.  Not from inside a QMP command handler.
 */
void qmp_server_free(struct qmp_server *s);

/*
 * Sends {"event": @name, "data": @data, "timestamp": ...} to every client
 * that completed capabilities negotiation.  Takes ownership of @data (NULL:
 * the event has no "data" member, as QEMU sends STOP).  The timestamp is
 * taken now; delivery happens on the loop, in the order of the calls.  Any
 * thread.  Returns 0 or a negative errno (-ENOMEM, or -ESHUTDOWN once the
 * server is being freed).
 */
int qmp_server_emit_event(struct qmp_server *s, const char *name, struct json_object *data);

/* ---- Commands ---- */

enum qmp_arg_type {
	QMP_ARG_STRING,
	QMP_ARG_INT,
	QMP_ARG_NUMBER,		/* integer or floating point */
	QMP_ARG_BOOL,
	QMP_ARG_OBJECT,
	QMP_ARG_ARRAY,
	QMP_ARG_ANY,
};

struct qmp_arg {
	const char *name;
	enum qmp_arg_type type;
	bool required;
};

/*
 * Runs on the loop thread with @args an object whose members match the
 * command's schema (every required one present, each of the declared type,
 * none undeclared); it is borrowed for the call.  The handler completes
 * @req exactly once, with qmp_request_return() or qmp_request_error(),
 * before returning or later from any thread.  Until then the client's
 * further commands wait (QMP answers in order), events still flow.
 */
typedef void (*qmp_command_fn)(struct qmp_request *req, struct json_object *args, void *opaque);

struct qmp_command {
	const char *name;
	const struct qmp_arg *args;	/* ends with { NULL }; NULL: no arguments */
	qmp_command_fn fn;
	void *opaque;
};

/*
 * An argument named QMP_ARGS_REST in a schema lets undeclared arguments
 * through to the handler, which checks them itself (device_add: the
 * device's properties); the declared ones are checked as usual.
 */
#define QMP_ARGS_REST "*"

/*
 * Adds a command (copied, arguments included).  Any time, from the owner's
 * thread.  Returns 0, -EEXIST for a name already taken, -EINVAL or -ENOMEM.
 */
int qmp_server_add_command(struct qmp_server *s, const struct qmp_command *cmd);

enum qmp_error_class {
	QMP_ERROR_GENERIC,		/* "GenericError" */
	QMP_ERROR_COMMAND_NOT_FOUND,	/* "CommandNotFound" */
	QMP_ERROR_DEVICE_NOT_FOUND,	/* "DeviceNotFound" */
};

/* {"return": @ret, "id": ...}; takes ownership of @ret (NULL: {}). */
void qmp_request_return(struct qmp_request *req, struct json_object *ret);

/* {"error": {"class": ..., "desc": ...}, "id": ...} */
void qmp_request_error(struct qmp_request *req, enum qmp_error_class cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Takes the fd the client stored with getfd under @fdname: the caller owns
 * it from now on.  Only inside the handler.  Returns the fd, or -ENOENT.
 */
int qmp_request_take_fd(struct qmp_request *req, const char *fdname);

#endif /* FERRY_QMP_H */
