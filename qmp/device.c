// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hot-plug commands: device_add, device_del, qom-list and query-pci, over
 * the machine's device ops (struct qmp_machine_ops).  Replies and error
 * classes follow QEMU's, as libvirt reads them: GenericError for bad input
 * and failed adds, DeviceNotFound for an unknown id or QOM path.
 * DEVICE_DELETED is the machine's to send (docs/qmp.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/priv.h"

#define DEVICE_MAX_PROPS 32

static int device_ops_add(struct qmp_server *s, const struct vmm_device_prop *props, size_t n,
			  char *err, size_t errlen)
{
	return s->machine->device_add(s->machine_opaque, props, n, err, errlen);
}

/*
 * One property as -device text.  QEMU's device_add takes JSON scalars too:
 * a boolean is on/off, an integer addr is a devfn (slot << 3 | function).
 */
static int device_prop_text(const char *key, struct json_object *v, char *buf, size_t len,
			    char *err, size_t errlen)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		snprintf(buf, len, "%s", json_object_get_string(v));
		return 0;
	case json_type_boolean:
		snprintf(buf, len, "%s", json_object_get_boolean(v) ? "on" : "off");
		return 0;
	case json_type_int:
		if (!strcmp(key, "addr")) {
			int64_t devfn = json_object_get_int64(v);

			if (devfn < 0 || devfn > 0xff) {
				snprintf(err, errlen, "Parameter 'addr' expects a PCI address "
					 "(slot.function, or a devfn from 0 to 255)");
				return -EINVAL;
			}
			snprintf(buf, len, "%x.%x", (unsigned int)(devfn >> 3),
				 (unsigned int)(devfn & 7));
			return 0;
		}
		snprintf(buf, len, "%lld", (long long)json_object_get_int64(v));
		return 0;
	default:
		snprintf(err, errlen, "Parameter '%s' expects a string", key);
		return -EINVAL;
	}
}

static void cmd_device_add(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct vmm_device_prop props[DEVICE_MAX_PROPS];
	char values[DEVICE_MAX_PROPS][256], err[512] = "";
	const char *fdname = NULL;
	size_t n = 0;
	int ret, fd;

	/* driver first: the other properties are the driver's. */
	props[n].key = "driver";
	props[n].value = json_object_get_string(json_object_object_get(args, "driver"));
	n++;
	json_object_object_foreach(args, key, val) {
		if (!strcmp(key, "driver"))
			continue;
		if (!strcmp(key, "fd")) {
			/* A getfd name: the fd itself is taken once the rest is checked. */
			if (!req->s->machine->device_add_fd ||
			    !json_object_is_type(val, json_type_string)) {
				qmp_request_error(req, QMP_ERROR_GENERIC,
						  "Parameter 'fd' expects the name of a file "
						  "descriptor passed with getfd");
				return;
			}
			fdname = json_object_get_string(val);
			continue;
		}
		if (n == DEVICE_MAX_PROPS) {
			qmp_request_error(req, QMP_ERROR_GENERIC,
					  "too many properties (at most %d)", DEVICE_MAX_PROPS);
			return;
		}
		if (device_prop_text(key, val, values[n], sizeof(values[n]), err, sizeof(err))) {
			qmp_request_error(req, QMP_ERROR_GENERIC, "%s", err);
			return;
		}
		props[n].key = key;
		props[n].value = values[n];
		n++;
	}
	if (fdname) {
		fd = qmp_request_take_fd(req, fdname);
		if (fd < 0) {
			qmp_request_error(req, QMP_ERROR_GENERIC, "File descriptor named '%s' not "
					  "found: pass it first with getfd (SCM_RIGHTS)", fdname);
			return;
		}
		/* Taken from the store: the machine owns it now, whatever the result. */
		ret = req->s->machine->device_add_fd(req->s->machine_opaque, props, n, fd, err,
						     sizeof(err));
	} else {
		ret = device_ops_add(req->s, props, n, err, sizeof(err));
	}
	if (ret) {
		qmp_request_error(req, QMP_ERROR_GENERIC, "%s", err[0] ? err : strerror(-ret));
		return;
	}
	qmp_request_return(req, NULL);
}

static void cmd_device_del(struct qmp_request *req, struct json_object *args, void *opaque)
{
	const char *id = json_object_get_string(json_object_object_get(args, "id"));
	struct qmp_server *s = req->s;
	char err[512] = "";
	int ret;

	ret = s->machine->device_del(s->machine_opaque, id, err, sizeof(err));
	if (ret == -ENODEV)
		qmp_request_error(req, QMP_ERROR_DEVICE_NOT_FOUND, "Device '%s' not found", id);
	else if (ret)
		qmp_request_error(req, QMP_ERROR_GENERIC, "%s", err[0] ? err : strerror(-ret));
	else
		qmp_request_return(req, NULL);
}

static int list_prop(struct json_object *list, const char *name, const char *type)
{
	struct json_object *e = json_object_new_object();

	if (!e || json_object_object_add(e, "name", json_object_new_string(name)) ||
	    json_object_object_add(e, "type", json_object_new_string(type)) ||
	    json_object_array_add(list, e)) {
		json_object_put(e);
		return -ENOMEM;
	}
	return 0;
}

#define PERIPHERAL	"/machine/peripheral"
#define PERIPHERAL_ANON	"/machine/peripheral-anon"

/* The last part of a QOM path ("hostdev0", "device[2]"). */
static const char *path_leaf(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Whether @path is the QOM path of @parent's child (a device under it). */
static bool path_in(const char *path, const char *parent)
{
	size_t n = strlen(parent);

	return !strncmp(path, parent, n) && path[n] == '/' && !strchr(path + n + 1, '/');
}

/*
 * QOM as far as ferry has one: /machine with its two containers, the
 * devices in them (child<DRIVER>), and each device's few properties.
 */
static void cmd_qom_list(struct qmp_request *req, struct json_object *args, void *opaque)
{
	const char *path = json_object_get_string(json_object_object_get(args, "path"));
	struct qmp_server *s = req->s;
	struct json_object *list = json_object_new_array();
	struct vmm_pci_info *devs = NULL;
	size_t n = 0;
	char type[64];
	int ret;

	ret = list ? s->machine->pci_list(s->machine_opaque, &devs, &n) : -ENOMEM;
	if (ret)
		goto err;
	ret = list_prop(list, "type", "string");
	if (!strcmp(path, "/machine") || !strcmp(path, "/machine/")) {
		if (!ret)
			ret = list_prop(list, "peripheral", "child<container>");
		if (!ret)
			ret = list_prop(list, "peripheral-anon", "child<container>");
		goto out;
	}
	if (!strcmp(path, PERIPHERAL) || !strcmp(path, PERIPHERAL_ANON)) {
		for (size_t i = 0; i < n && !ret; i++) {
			if (!devs[i].is_device || !path_in(devs[i].path, path))
				continue;
			snprintf(type, sizeof(type), "child<%s>", devs[i].driver);
			ret = list_prop(list, path_leaf(devs[i].path), type);
		}
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (devs[i].is_device && !strcmp(devs[i].path, path)) {
			if (!ret)
				ret = list_prop(list, "parent_bus", "link<bus>");
			if (!ret)
				ret = list_prop(list, "host", "str");
			if (!ret)
				ret = list_prop(list, "addr", "int32");
			goto out;
		}
	}
	free(devs);
	json_object_put(list);
	qmp_request_error(req, QMP_ERROR_DEVICE_NOT_FOUND, "Device '%s' not found", path);
	return;
out:
	free(devs);
	if (ret)
		goto err;
	qmp_request_return(req, list);
	return;
err:
	json_object_put(list);
	qmp_request_error(req, QMP_ERROR_GENERIC, "%s", strerror(-ret));
}

/* Adds @key: @val (a new object of json-c) to @o; false when out of memory. */
static bool put(struct json_object *o, const char *key, struct json_object *val)
{
	if (!val)
		return false;
	if (json_object_object_add(o, key, val)) {
		json_object_put(val);
		return false;
	}
	return true;
}

static struct json_object *pci_regions(const struct vmm_pci_info *p)
{
	struct json_object *regions = json_object_new_array();

	if (!regions)
		return NULL;
	for (int i = 0; i < VMM_PCI_BARS; i++) {
		const struct vmm_pci_bar *b = &p->bars[i];
		struct json_object *r;

		if (!b->size)
			continue;
		r = json_object_new_object();
		if (!r || json_object_array_add(regions, r)) {
			json_object_put(r);
			goto err;
		}
		if (!put(r, "bar", json_object_new_int(i)) ||
		    !put(r, "type", json_object_new_string(b->io ? "io" : "memory")) ||
		    !put(r, "address", json_object_new_int64((int64_t)b->addr)) ||
		    !put(r, "size", json_object_new_int64((int64_t)b->size)))
			goto err;
		if (!b->io && (!put(r, "prefetch", json_object_new_boolean(b->prefetch)) ||
			       !put(r, "mem_type_64", json_object_new_boolean(b->mem64))))
			goto err;
	}
	return regions;
err:
	json_object_put(regions);
	return NULL;
}

static const char *pci_class_desc(uint32_t class_code)
{
	switch (class_code >> 8) {
	case 0x0600:
		return "Host bridge";
	case 0x0108:
		return "NVMe controller";
	case 0x0200:
		return "Ethernet controller";
	case 0x00ff:
		return "Unclassified device";
	}
	return NULL;
}

static struct json_object *pci_device(const struct vmm_pci_info *p)
{
	struct json_object *d = json_object_new_object(), *cls, *id, *regions;
	const char *desc = pci_class_desc(p->class_code);

	if (!d)
		return NULL;
	cls = json_object_new_object();
	if (!put(d, "bus", json_object_new_int(0)) ||
	    !put(d, "slot", json_object_new_int((int)p->slot)) ||
	    !put(d, "function", json_object_new_int((int)p->function)) ||
	    !put(d, "class_info", cls))
		goto err;
	if ((desc && !put(cls, "desc", json_object_new_string(desc))) ||
	    !put(cls, "class", json_object_new_int((int)(p->class_code >> 8))))
		goto err;
	id = json_object_new_object();
	if (!put(d, "id", id) || !put(id, "device", json_object_new_int(p->device)) ||
	    !put(id, "vendor", json_object_new_int(p->vendor)) ||
	    !put(id, "subsystem", json_object_new_int(p->subsystem)) ||
	    !put(id, "subsystem-vendor", json_object_new_int(p->subsystem_vendor)))
		goto err;
	if (p->irq_pin && !put(d, "irq", json_object_new_int(p->irq_line)))
		goto err;
	if (!put(d, "irq_pin", json_object_new_int(p->irq_pin)))
		goto err;
	regions = pci_regions(p);
	if (!put(d, "qdev_id", json_object_new_string(p->id)) || !put(d, "regions", regions))
		goto err;
	return d;
err:
	json_object_put(d);
	return NULL;
}

static void cmd_query_pci(struct qmp_request *req, struct json_object *args, void *opaque)
{
	struct qmp_server *s = req->s;
	struct json_object *buses = json_object_new_array(), *bus = json_object_new_object();
	struct json_object *devices = json_object_new_array();
	struct vmm_pci_info *list = NULL;
	size_t n = 0;
	int ret = -ENOMEM;

	if (!buses || !bus || !devices)
		goto err;
	ret = s->machine->pci_list(s->machine_opaque, &list, &n);
	if (ret)
		goto err;
	ret = -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *d = pci_device(&list[i]);

		if (!d || json_object_array_add(devices, d)) {
			json_object_put(d);
			goto err;
		}
	}
	if (!put(bus, "bus", json_object_new_int(0)))
		goto err;
	if (json_object_object_add(bus, "devices", devices))
		goto err;
	devices = NULL;
	if (json_object_array_add(buses, bus))
		goto err;
	bus = NULL;
	free(list);
	qmp_request_return(req, buses);
	return;
err:
	free(list);
	json_object_put(devices);
	json_object_put(bus);
	json_object_put(buses);
	qmp_request_error(req, QMP_ERROR_GENERIC, "%s", strerror(-ret));
}

/* QEMU's device_add names driver, bus and id; the rest are the driver's properties. */
static const struct qmp_arg args_device_add[] = {
	{ "driver", QMP_ARG_STRING, true },
	{ "bus", QMP_ARG_STRING, false },
	{ "id", QMP_ARG_STRING, false },
	{ QMP_ARGS_REST, QMP_ARG_ANY, false },
	{ NULL },
};

static const struct qmp_arg args_device_del[] = {
	{ "id", QMP_ARG_STRING, true },
	{ NULL },
};

static const struct qmp_arg args_qom_list[] = {
	{ "path", QMP_ARG_STRING, true },
	{ NULL },
};

static const struct qmp_command device_cmds[] = {
	{ "device_add", args_device_add, cmd_device_add, NULL },
	{ "device_del", args_device_del, cmd_device_del, NULL },
	{ "qom-list", args_qom_list, cmd_qom_list, NULL },
	{ "query-pci", NULL, cmd_query_pci, NULL },
};

int qmp_device_add_commands(struct qmp_server *s)
{
	for (size_t i = 0; i < sizeof(device_cmds) / sizeof(device_cmds[0]); i++) {
		int ret = qmp_server_add_command(s, &device_cmds[i]);

		if (ret)
			return ret;
	}
	return 0;
}
