// SPDX-License-Identifier: GPL-2.0-only
/*
 * struct qmp_vmm_machine: the QMP machine and device commands over
 * vmm/vmm.h, and the machine's own events turned into QMP's SHUTDOWN, RESET
 * and DEVICE_DELETED.
 *
 * The machine calls its event handler from a vCPU thread or the vmm_wait()
 * thread, and may still be inside it after vmm_set_event_handler(NULL)
 * returns.  So the handler only ever touches this object, whose @s is
 * cleared under @lock by detach(), and the object lives until after
 * vmm_free() has joined those threads.
 *
 * QMP's own quit and system_reset are told apart from a signal or the
 * guest by counting what QMP asked for before asking the machine.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "vmm/vmm.h"

struct qmp_vmm_machine {
	struct vmm *vmm;
	pthread_mutex_t lock;
	struct qmp_server *s;		/* between attach and detach */
	unsigned int qmp_resets;	/* asked by system_reset, not yet seen */
	bool qmp_quit;			/* asked by quit */
};

static enum qmp_run_state vmm_machine_state(void *opaque)
{
	struct qmp_vmm_machine *m = opaque;

	switch (vmm_get_state(m->vmm)) {
	case VMM_STATE_CREATED:
		return QMP_RUN_STATE_PRELAUNCH;
	case VMM_STATE_RUNNING:
		return QMP_RUN_STATE_RUNNING;
	case VMM_STATE_PAUSED:
		return QMP_RUN_STATE_PAUSED;
	case VMM_STATE_STOPPED:
		break;
	}
	return vmm_get_stop_reason(m->vmm) == VMM_STOP_ERROR ? QMP_RUN_STATE_INTERNAL_ERROR :
								QMP_RUN_STATE_SHUTDOWN;
}

static int vmm_machine_pause(void *opaque)
{
	return vmm_pause(((struct qmp_vmm_machine *)opaque)->vmm);
}

static int vmm_machine_resume(void *opaque)
{
	return vmm_resume(((struct qmp_vmm_machine *)opaque)->vmm);
}

/* The flag is set before the request: the event may come from inside it. */
static int vmm_machine_reset(void *opaque)
{
	struct qmp_vmm_machine *m = opaque;

	pthread_mutex_lock(&m->lock);
	m->qmp_resets++;
	pthread_mutex_unlock(&m->lock);
	vmm_request_reset(m->vmm);
	return 0;
}

static int vmm_machine_powerdown(void *opaque)
{
	return vmm_request_powerdown(((struct qmp_vmm_machine *)opaque)->vmm);
}

static int vmm_machine_quit(void *opaque)
{
	struct qmp_vmm_machine *m = opaque;

	pthread_mutex_lock(&m->lock);
	m->qmp_quit = true;
	pthread_mutex_unlock(&m->lock);
	vmm_request_stop(m->vmm, VMM_STOP_HOST);
	return 0;
}

static void vmm_machine_attach(void *opaque, struct qmp_server *s)
{
	struct qmp_vmm_machine *m = opaque;

	pthread_mutex_lock(&m->lock);
	m->s = s;
	pthread_mutex_unlock(&m->lock);
}

static void vmm_machine_detach(void *opaque)
{
	struct qmp_vmm_machine *m = opaque;

	pthread_mutex_lock(&m->lock);
	m->s = NULL;
	pthread_mutex_unlock(&m->lock);
}

/* Under m->lock.  Returns QEMU's "reason", and whether the guest caused it. */
static const char *vmm_machine_reason(struct qmp_vmm_machine *m, enum vmm_event ev,
				      enum vmm_stop_reason why, bool *guest)
{
	bool qmp_reset = false;

	if (m->qmp_resets && (ev == VMM_EVENT_RESET || why == VMM_STOP_RESET)) {
		m->qmp_resets--;
		qmp_reset = true;
	}
	*guest = false;
	if (ev == VMM_EVENT_RESET || why == VMM_STOP_RESET) {
		*guest = !qmp_reset;
		return qmp_reset ? "host-qmp-system-reset" : "guest-reset";
	}
	switch (why) {
	case VMM_STOP_POWEROFF:
		*guest = true;
		return "guest-shutdown";
	case VMM_STOP_HOST:
		return m->qmp_quit ? "host-qmp-quit" : "host-signal";
	case VMM_STOP_ERROR:
		return "host-error";
	default:
		return "none";
	}
}

/* DEVICE_DELETED: "device" only when it has an id, "path" always (QEMU's). */
static void vmm_machine_device_event(struct qmp_vmm_machine *m, const struct vmm_event_device *dev)
{
	struct json_object *data = json_object_new_object();

	if (data && dev->id &&
	    json_object_object_add(data, "device", json_object_new_string(dev->id))) {
		json_object_put(data);
		data = NULL;
	}
	if (data && json_object_object_add(data, "path", json_object_new_string(dev->path))) {
		json_object_put(data);
		data = NULL;
	}
	pthread_mutex_lock(&m->lock);
	if (m->s)
		qmp_server_emit_event(m->s, "DEVICE_DELETED", data);
	else
		json_object_put(data);
	pthread_mutex_unlock(&m->lock);
}

static void vmm_machine_event(void *opaque, enum vmm_event ev, enum vmm_stop_reason why,
			      const struct vmm_event_device *dev)
{
	struct qmp_vmm_machine *m = opaque;
	struct json_object *data;
	const char *reason;
	bool guest;

	if (ev == VMM_EVENT_DEVICE_DELETED) {
		if (dev)
			vmm_machine_device_event(m, dev);
		return;
	}
	pthread_mutex_lock(&m->lock);
	reason = vmm_machine_reason(m, ev, why, &guest);
	if (m->s) {
		data = json_object_new_object();
		if (data) {
			json_object_object_add(data, "guest", json_object_new_boolean(guest));
			json_object_object_add(data, "reason", json_object_new_string(reason));
		}
		/* Out of memory: the event goes without its data rather than not at all. */
		qmp_server_emit_event(m->s, ev == VMM_EVENT_RESET ? "RESET" : "SHUTDOWN", data);
	}
	pthread_mutex_unlock(&m->lock);
}

static int vmm_machine_device_add(void *opaque, const struct vmm_device_prop *props,
				  size_t nr_props, char *err, size_t errlen)
{
	return vmm_device_add(((struct qmp_vmm_machine *)opaque)->vmm, props, nr_props, -1, err,
			      errlen);
}

static int vmm_machine_device_add_fd(void *opaque, const struct vmm_device_prop *props,
				     size_t nr_props, int fd, char *err, size_t errlen)
{
	return vmm_device_add(((struct qmp_vmm_machine *)opaque)->vmm, props, nr_props, fd, err,
			      errlen);
}

static int vmm_machine_device_del(void *opaque, const char *id, char *err, size_t errlen)
{
	return vmm_device_del(((struct qmp_vmm_machine *)opaque)->vmm, id, err, errlen);
}

static int vmm_machine_pci_list(void *opaque, struct vmm_pci_info **list, size_t *nr)
{
	return vmm_pci_list(((struct qmp_vmm_machine *)opaque)->vmm, list, nr);
}

const struct qmp_machine_ops qmp_vmm_machine_ops = {
	.state = vmm_machine_state,
	.pause = vmm_machine_pause,
	.resume = vmm_machine_resume,
	.reset = vmm_machine_reset,
	.powerdown = vmm_machine_powerdown,
	.quit = vmm_machine_quit,
	.attach = vmm_machine_attach,
	.detach = vmm_machine_detach,
	.device_add = vmm_machine_device_add,
	.device_del = vmm_machine_device_del,
	.pci_list = vmm_machine_pci_list,
	.device_add_fd = vmm_machine_device_add_fd,
};

int qmp_vmm_machine_new(struct vmm *vmm, struct qmp_vmm_machine **out)
{
	struct qmp_vmm_machine *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->vmm = vmm;
	pthread_mutex_init(&m->lock, NULL);
	vmm_set_event_handler(vmm, vmm_machine_event, m);
	*out = m;
	return 0;
}

void qmp_vmm_machine_free(struct qmp_vmm_machine *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}
