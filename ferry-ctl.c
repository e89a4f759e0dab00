// SPDX-License-Identifier: GPL-2.0-only
/*
 * ferry-ctl: hot-plugs and unplugs a host PCI device of a running ferry VM
 * from libvirt's <hostdev> XML, over the VM's QMP socket, with the exchange
 * libvirt's QEMU driver uses (docs/libvirt.md):
 *
 *   ferry-ctl attach-device SOCKET hostdev.xml
 *   ferry-ctl detach-device SOCKET hostdev.xml [--timeout SECONDS]
 *
 * Exit status: 0 done, 1 the VM refused (its error is printed), 2 bad usage
 * or bad XML, 3 the socket could not be reached or the VM stopped answering.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#define CTL_EXIT_REFUSED	1
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_IO		3

/* libvirt waits this long for DEVICE_DELETED before it gives up. */
#define CTL_DEFAULT_TIMEOUT_MS	5000

struct ctl_hostdev {
	char host[32];		/* "0000:00:03.0" */
	char id[64];		/* <alias name=>, or made from the host address */
	bool managed;
	int guest_slot;		/* <address type='pci' slot=> in the guest, -1: any */
};

static void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("ferry-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- the <hostdev> XML ---- */

static xmlNode *ctl_xml_child(xmlNode *parent, const char *name)
{
	for (xmlNode *n = parent->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, (const xmlChar *)name))
			return n;
	return NULL;
}

/* A numeric attribute of an <address>, "0x03" or "3"; -1 and a message when absent or bad. */
static long ctl_xml_number(xmlNode *addr, const char *elem, const char *attr, long max)
{
	xmlChar *v = xmlGetProp(addr, (const xmlChar *)attr);
	char *end;
	long n;

	if (!v) {
		ctl_err("<%s>: the address has no %s attribute (e.g. %s='0x00')", elem, attr,
			attr);
		return -1;
	}
	errno = 0;
	n = strtol((const char *)v, &end, 0);
	if (errno || end == (char *)v || *end || n < 0 || n > max) {
		ctl_err("<%s>: %s='%s' is not a number from 0 to %#lx", elem, attr,
			(const char *)v, max);
		n = -1;
	}
	xmlFree(v);
	return n;
}

static bool ctl_xml_attr_is(xmlNode *n, const char *attr, const char *want, bool required)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
	bool ok;

	if (!v) {
		if (required)
			ctl_err("<%s>: no %s attribute (ferry takes %s='%s')", (const char *)n->name,
				attr, attr, want);
		return !required;
	}
	ok = !xmlStrcmp(v, (const xmlChar *)want);
	if (!ok)
		ctl_err("<%s>: %s='%s' is not supported (ferry takes %s='%s')",
			(const char *)n->name, attr, (const char *)v, attr, want);
	xmlFree(v);
	return ok;
}

static int ctl_xml_source(xmlNode *root, struct ctl_hostdev *hd)
{
	xmlNode *src = ctl_xml_child(root, "source"), *addr;
	long dom, bus, slot, fn;

	if (!src) {
		ctl_err("<hostdev>: no <source> element (the host device's <address>)");
		return -EINVAL;
	}
	addr = ctl_xml_child(src, "address");
	if (!addr) {
		ctl_err("<source>: no <address domain= bus= slot= function=/> element");
		return -EINVAL;
	}
	dom = ctl_xml_number(addr, "source/address", "domain", 0xffff);
	bus = dom < 0 ? -1 : ctl_xml_number(addr, "source/address", "bus", 0xff);
	slot = bus < 0 ? -1 : ctl_xml_number(addr, "source/address", "slot", 0x1f);
	fn = slot < 0 ? -1 : ctl_xml_number(addr, "source/address", "function", 7);
	if (fn < 0)
		return -EINVAL;
	snprintf(hd->host, sizeof(hd->host), "%04x:%02x:%02x.%x", (unsigned int)dom & 0xffff,
		 (unsigned int)bus & 0xff, (unsigned int)slot & 0x1f, (unsigned int)fn & 7);
	return 0;
}

/* QEMU's (and ferry's) ids: a letter, then letters, digits, '-', '.', '_'. */
static bool ctl_id_valid(const char *id)
{
	size_t len = strlen(id);

	if (!len || len > 63)
		return false;
	for (const char *c = id; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (c != id && ((*c >= '0' && *c <= '9') || strchr("-._", *c))))
			continue;
		return false;
	}
	return true;
}

static int ctl_xml_alias(xmlNode *root, struct ctl_hostdev *hd)
{
	xmlNode *alias = ctl_xml_child(root, "alias");
	xmlChar *name;
	int ret = 0;

	if (!alias) {
		/* libvirt would have named it hostdevN; the host address keeps it unique. */
		snprintf(hd->id, sizeof(hd->id), "hostdev-%.4s-%.2s-%.2s-%.1s", hd->host,
			 hd->host + 5, hd->host + 8, hd->host + 11);
		return 0;
	}
	name = xmlGetProp(alias, (const xmlChar *)"name");
	if (!name) {
		ctl_err("<alias>: no name attribute (e.g. <alias name='hostdev0'/>)");
		return -EINVAL;
	}
	if (!ctl_id_valid((const char *)name)) {
		ctl_err("<alias name='%s'>: an id is 1 to 63 characters, a letter first, then "
			"letters, digits, '-', '.' or '_'", (const char *)name);
		ret = -EINVAL;
	} else {
		snprintf(hd->id, sizeof(hd->id), "%s", (const char *)name);
	}
	xmlFree(name);
	return ret;
}

/* The guest address, <address type='pci' .../> directly under <hostdev>. */
static int ctl_xml_guest_addr(xmlNode *root, struct ctl_hostdev *hd)
{
	xmlNode *addr = ctl_xml_child(root, "address");
	long dom, bus, slot, fn;

	hd->guest_slot = -1;
	if (!addr)
		return 0;
	if (!ctl_xml_attr_is(addr, "type", "pci", true))
		return -EINVAL;
	dom = ctl_xml_number(addr, "address", "domain", 0xffff);
	bus = dom < 0 ? -1 : ctl_xml_number(addr, "address", "bus", 0xff);
	slot = bus < 0 ? -1 : ctl_xml_number(addr, "address", "slot", 0x1f);
	fn = slot < 0 ? -1 : ctl_xml_number(addr, "address", "function", 7);
	if (fn < 0)
		return -EINVAL;
	if (dom || bus) {
		ctl_err("<address type='pci'>: domain='%#lx' bus='%#lx': the guest has one PCI "
			"bus, domain 0 bus 0", dom, bus);
		return -EINVAL;
	}
	if (fn || slot < 1) {
		ctl_err("<address type='pci'>: slot='%#lx' function='%#lx': a passthrough device "
			"is function 0 of a slot from 0x01 to 0x1f", slot, fn);
		return -EINVAL;
	}
	hd->guest_slot = (int)slot;
	return 0;
}

static int ctl_hostdev_parse(const char *path, struct ctl_hostdev *hd)
{
	xmlDoc *doc;
	xmlNode *root;
	xmlChar *managed;
	int ret = -EINVAL;

	memset(hd, 0, sizeof(*hd));
	doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();

		if (e && e->message)
			ctl_err("%s: not well-formed XML, line %d: %.*s", path, e->line,
				(int)strcspn(e->message, "\n"), e->message);
		else
			ctl_err("%s: cannot read the XML file", path);
		return -EINVAL;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, (const xmlChar *)"hostdev")) {
		ctl_err("%s: the root element is <%s>, not <hostdev>", path,
			root ? (const char *)root->name : "");
		goto out;
	}
	if (!ctl_xml_attr_is(root, "mode", "subsystem", true) ||
	    !ctl_xml_attr_is(root, "type", "pci", true))
		goto out;
	managed = xmlGetProp(root, (const xmlChar *)"managed");
	if (managed) {
		if (!xmlStrcmp(managed, (const xmlChar *)"yes")) {
			hd->managed = true;
		} else if (xmlStrcmp(managed, (const xmlChar *)"no")) {
			ctl_err("<hostdev>: managed='%s': give 'yes' or 'no'",
				(const char *)managed);
			xmlFree(managed);
			goto out;
		}
		xmlFree(managed);
	}
	if (ctl_xml_source(root, hd) || ctl_xml_alias(root, hd) || ctl_xml_guest_addr(root, hd))
		goto out;
	ret = 0;
out:
	xmlFreeDoc(doc);
	return ret;
}

/* ---- QMP ---- */

struct ctl_qmp {
	int fd;
	int timeout_ms;
	struct json_tokener *tok;
	char buf[4096];
	size_t len, pos;
	unsigned int next_id;
};

static long ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static int ctl_qmp_connect(struct ctl_qmp *q, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_err("%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return -errno;
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		ctl_err("cannot connect to the VM's QMP socket %s: %s (is ferry running with "
			"-qmp unix:%s,server=on,wait=off?)", path, strerror(-ret), path);
		close(q->fd);
		q->fd = -1;
		return ret;
	}
	q->tok = json_tokener_new();
	return q->tok ? 0 : -ENOMEM;
}

static void ctl_qmp_close(struct ctl_qmp *q)
{
	if (q->tok)
		json_tokener_free(q->tok);
	if (q->fd >= 0)
		close(q->fd);
}

/*
 * The next message from the VM before @deadline (ms, CLOCK_MONOTONIC);
 * -ETIMEDOUT, -ECONNRESET when the VM closed the socket, -EPROTO on bad JSON.
 */
static int ctl_qmp_read(struct ctl_qmp *q, long deadline, json_object **out)
{
	for (;;) {
		while (q->pos < q->len) {
			const char *p = q->buf + q->pos;
			size_t n = q->len - q->pos;
			json_object *obj;
			enum json_tokener_error jerr;

			/* Whitespace between messages ("\r\n") is no message. */
			if (*p == '\r' || *p == '\n' || *p == ' ') {
				q->pos++;
				continue;
			}
			obj = json_tokener_parse_ex(q->tok, p, (int)n);
			jerr = json_tokener_get_error(q->tok);
			if (jerr == json_tokener_continue) {
				q->pos = q->len;
				break;
			}
			if (jerr != json_tokener_success) {
				ctl_err("the VM sent bad JSON: %s", json_tokener_error_desc(jerr));
				return -EPROTO;
			}
			q->pos += json_tokener_get_parse_end(q->tok);
			json_tokener_reset(q->tok);
			*out = obj;
			return 0;
		}
		q->len = q->pos = 0;

		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		long left = deadline - ctl_now_ms();
		ssize_t got;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!pfd.revents)
			continue;
		got = read(q->fd, q->buf, sizeof(q->buf));
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (!got)
			return -ECONNRESET;
		q->len = got;
	}
}

static int ctl_qmp_send(struct ctl_qmp *q, json_object *msg)
{
	const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text), done = 0;

	while (done < len) {
		ssize_t n = send(q->fd, text + done, len - done, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += n;
	}
	return send(q->fd, "\r\n", 2, MSG_NOSIGNAL) == 2 ? 0 : -EIO;
}

static const char *ctl_json_str(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * Runs @cmd with @args (taken over), waiting for its reply by id and letting
 * events go by (@on_event sees each).  0: "return"; CTL_EXIT_REFUSED: "error"
 * (printed); negative errno otherwise (printed).
 */
static int ctl_qmp_execute(struct ctl_qmp *q, const char *cmd, json_object *args,
			   void (*on_event)(json_object *ev, void *opaque), void *opaque)
{
	json_object *msg = json_object_new_object(), *reply = NULL, *v;
	char id[32];
	long deadline;
	int ret;

	snprintf(id, sizeof(id), "ferry-ctl-%u", ++q->next_id);
	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(msg, "arguments", args);
	json_object_object_add(msg, "id", json_object_new_string(id));
	ret = ctl_qmp_send(q, msg);
	json_object_put(msg);
	if (ret) {
		ctl_err("sending %s to the VM: %s", cmd, strerror(-ret));
		return ret;
	}
	deadline = ctl_now_ms() + q->timeout_ms;
	for (;;) {
		const char *rid;

		ret = ctl_qmp_read(q, deadline, &reply);
		if (ret) {
			ctl_err("no reply to %s: %s", cmd, ret == -ETIMEDOUT ?
				"the VM did not answer in time" : ret == -ECONNRESET ?
				"the VM closed the connection" : strerror(-ret));
			return ret;
		}
		if (ctl_json_str(reply, "event")) {
			if (on_event)
				on_event(reply, opaque);
			json_object_put(reply);
			continue;
		}
		rid = ctl_json_str(reply, "id");
		if (!rid || strcmp(rid, id)) {
			json_object_put(reply);
			continue;
		}
		break;
	}
	if (json_object_object_get_ex(reply, "return", &v)) {
		ret = 0;
	} else if (json_object_object_get_ex(reply, "error", &v)) {
		const char *cls = ctl_json_str(v, "class"), *desc = ctl_json_str(v, "desc");

		ctl_err("%s: %s%s%s%s", cmd, desc ? desc : "error without a description",
			cls ? " (" : "", cls ? cls : "", cls ? ")" : "");
		ret = CTL_EXIT_REFUSED;
	} else {
		ctl_err("%s: the reply has neither return nor error", cmd);
		ret = -EPROTO;
	}
	json_object_put(reply);
	return ret;
}

/* The greeting, then qmp_capabilities: what every QMP client does first. */
static int ctl_qmp_start(struct ctl_qmp *q)
{
	json_object *greeting = NULL, *v;
	int ret;

	ret = ctl_qmp_read(q, ctl_now_ms() + q->timeout_ms, &greeting);
	if (ret) {
		ctl_err("no QMP greeting from the VM: %s", ret == -ETIMEDOUT ?
			"it did not answer in time (is something else holding the socket?)" :
			strerror(-ret));
		return ret;
	}
	if (!json_object_object_get_ex(greeting, "QMP", &v)) {
		ctl_err("the socket does not speak QMP (no greeting)");
		json_object_put(greeting);
		return -EPROTO;
	}
	json_object_put(greeting);
	return ctl_qmp_execute(q, "qmp_capabilities", NULL, NULL, NULL);
}

/* ---- the commands ---- */

struct ctl_deleted {
	const char *id;
	bool seen;
};

static void ctl_on_event(json_object *ev, void *opaque)
{
	struct ctl_deleted *d = opaque;
	json_object *data;

	if (strcmp(ctl_json_str(ev, "event"), "DEVICE_DELETED") ||
	    !json_object_object_get_ex(ev, "data", &data))
		return;
	if (!strcmp(ctl_json_str(data, "device") ?: "", d->id))
		d->seen = true;
}

static int ctl_attach(struct ctl_qmp *q, const struct ctl_hostdev *hd)
{
	json_object *args = json_object_new_object();
	char addr[16];

	json_object_object_add(args, "driver", json_object_new_string("vfio-pci"));
	json_object_object_add(args, "host", json_object_new_string(hd->host));
	json_object_object_add(args, "id", json_object_new_string(hd->id));
	if (hd->guest_slot >= 0) {
		snprintf(addr, sizeof(addr), "%#x", hd->guest_slot);
		json_object_object_add(args, "bus", json_object_new_string("pci.0"));
		json_object_object_add(args, "addr", json_object_new_string(addr));
	}
	json_object_object_add(args, "managed", json_object_new_string(hd->managed ? "on" : "off"));
	return ctl_qmp_execute(q, "device_add", args, NULL, NULL);
}

static int ctl_detach(struct ctl_qmp *q, const struct ctl_hostdev *hd, int wait_ms)
{
	struct ctl_deleted d = { .id = hd->id };
	json_object *args = json_object_new_object(), *ev;
	long deadline;
	int ret;

	json_object_object_add(args, "id", json_object_new_string(hd->id));
	ret = ctl_qmp_execute(q, "device_del", args, ctl_on_event, &d);
	if (ret)
		return ret;
	/* device_del only asks the guest; the device is gone at DEVICE_DELETED. */
	deadline = ctl_now_ms() + wait_ms;
	while (!d.seen) {
		ret = ctl_qmp_read(q, deadline, &ev);
		if (ret == -ETIMEDOUT) {
			ctl_err("%s: no DEVICE_DELETED within %d ms: the guest has not released the "
				"device yet (it may still do so; try again or check the guest)",
				hd->id, wait_ms);
			return CTL_EXIT_REFUSED;
		}
		if (ret) {
			ctl_err("waiting for DEVICE_DELETED of %s: %s", hd->id,
				ret == -ECONNRESET ? "the VM closed the connection" :
				strerror(-ret));
			return ret;
		}
		if (ctl_json_str(ev, "event"))
			ctl_on_event(ev, &d);
		json_object_put(ev);
	}
	return 0;
}

static void ctl_usage(FILE *f)
{
	fprintf(f,
		"Usage: ferry-ctl attach-device SOCKET HOSTDEV.xml [--timeout SECONDS]\n"
		"       ferry-ctl detach-device SOCKET HOSTDEV.xml [--timeout SECONDS]\n"
		"\n"
		"Hot-plugs (attach) or unplugs (detach) the host PCI device of libvirt's\n"
		"<hostdev mode='subsystem' type='pci'> XML in the ferry VM whose QMP socket\n"
		"is SOCKET (ferry -qmp unix:SOCKET,server=on,wait=off).  detach waits for\n"
		"the guest to release the device (DEVICE_DELETED), 5 seconds by default.\n");
}

int main(int argc, char **argv)
{
	struct ctl_qmp q = { .fd = -1, .timeout_ms = CTL_DEFAULT_TIMEOUT_MS };
	struct ctl_hostdev hd;
	int wait_ms = CTL_DEFAULT_TIMEOUT_MS;
	bool attach;
	int ret;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		ctl_usage(stdout);
		return 0;
	}
	if (argc != 4 && !(argc == 6 && !strcmp(argv[4], "--timeout"))) {
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "attach-device")) {
		attach = true;
	} else if (!strcmp(argv[1], "detach-device")) {
		attach = false;
	} else {
		ctl_err("unknown command '%s' (attach-device or detach-device)", argv[1]);
		return CTL_EXIT_USAGE;
	}
	if (argc == 6) {
		char *end;
		double s = strtod(argv[5], &end);

		if (*end || end == argv[5] || s <= 0 || s > 3600) {
			ctl_err("--timeout %s: give seconds, more than 0 and at most 3600", argv[5]);
			return CTL_EXIT_USAGE;
		}
		wait_ms = (int)(s * 1000);
		if (wait_ms > q.timeout_ms)
			q.timeout_ms = wait_ms;
	}
	LIBXML_TEST_VERSION
	ret = ctl_hostdev_parse(argv[3], &hd);
	xmlCleanupParser();
	if (ret)
		return CTL_EXIT_USAGE;
	if (ctl_qmp_connect(&q, argv[2])) {
		ctl_qmp_close(&q);
		return CTL_EXIT_IO;
	}
	ret = ctl_qmp_start(&q);
	if (!ret)
		ret = attach ? ctl_attach(&q, &hd) : ctl_detach(&q, &hd, wait_ms);
	ctl_qmp_close(&q);
	if (ret == CTL_EXIT_REFUSED)
		return CTL_EXIT_REFUSED;
	if (ret)
		return CTL_EXIT_IO;
	printf("%s %s (host %s)\n", attach ? "attached" : "detached", hd.id, hd.host);
	return 0;
}
