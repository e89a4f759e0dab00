// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hot-plug commands over a real socket against a fake machine that
 * keeps a device table and records what it was given: device_add (the
 * libvirt exchange byte for byte, properties as -device text, bad input),
 * device_del (unknown id, repeated while pending), DEVICE_DELETED reported
 * by the machine from another thread after the reply, qom-list, query-pci
 * and query-qmp-schema.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/qmp/harness.h"

#define FAKE_MAX 8
/* The start of a command with arguments. */
#define ADD "{\"execute\":\"device_add\",\"arguments\":"
#define DEL "{\"execute\":\"device_del\",\"arguments\":"
#define QOM "{\"execute\":\"qom-list\",\"arguments\":"

struct fake_dev {
	bool used, pending;
	char id[64], host[16], driver[16];
	unsigned int slot;
};

struct fake {
	pthread_mutex_t lock;
	struct fake_dev devs[FAKE_MAX];
	/* The last device_add's properties, "key=value,..." */
	char last_props[1024];
	int add_calls;
	int fail;		/* device_add fails with this errno and a message */
	struct qmp_server *s;
	/* device_add fd=: the inode of the last fd the machine was given */
	ino_t last_fd_ino;
	int fd_calls;
};

static struct fake fm;
static struct th t;

static struct fake_dev *fake_find(const char *id)
{
	for (int i = 0; i < FAKE_MAX; i++)
		if (fm.devs[i].used && !strcmp(fm.devs[i].id, id))
			return &fm.devs[i];
	return NULL;
}

static int fake_device_add(void *opaque, const struct vmm_device_prop *props, size_t n,
			   char *err, size_t errlen)
{
	struct fake_dev *d = NULL;
	const char *id = "", *host = "", *driver = "";
	int ret = 0;

	pthread_mutex_lock(&fm.lock);
	fm.add_calls++;
	fm.last_props[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(fm.last_props);

		snprintf(fm.last_props + len, sizeof(fm.last_props) - len, "%s%s=%s",
			 i ? "," : "", props[i].key, props[i].value);
		if (!strcmp(props[i].key, "id"))
			id = props[i].value;
		if (!strcmp(props[i].key, "host"))
			host = props[i].value;
		if (!strcmp(props[i].key, "driver"))
			driver = props[i].value;
	}
	if (fm.fail) {
		snprintf(err, errlen, "group 7 is in use by process 4242 (sleep)");
		ret = -fm.fail;
	} else if (*id && fake_find(id)) {
		snprintf(err, errlen, "Duplicate device ID '%s'", id);
		ret = -EEXIST;
	} else {
		for (int i = 0; i < FAKE_MAX && !d; i++)
			if (!fm.devs[i].used)
				d = &fm.devs[i];
		*d = (struct fake_dev){ .used = true, .slot = 2 + (unsigned int)(d - fm.devs) };
		snprintf(d->id, sizeof(d->id), "%s", id);
		snprintf(d->host, sizeof(d->host), "%s", host);
		snprintf(d->driver, sizeof(d->driver), "%s", driver);
	}
	pthread_mutex_unlock(&fm.lock);
	return ret;
}

/* As vmm_device_add(): the fd is the machine's, whatever the result. */
static int fake_device_add_fd(void *opaque, const struct vmm_device_prop *props, size_t n,
			      int fd, char *err, size_t errlen)
{
	struct stat st;

	pthread_mutex_lock(&fm.lock);
	fm.fd_calls++;
	fm.last_fd_ino = fstat(fd, &st) ? 0 : st.st_ino;
	pthread_mutex_unlock(&fm.lock);
	close(fd);
	return fake_device_add(opaque, props, n, err, errlen);
}

static int fake_device_del(void *opaque, const char *id, char *err, size_t errlen)
{
	struct fake_dev *d;
	int ret = 0;

	pthread_mutex_lock(&fm.lock);
	d = fake_find(id);
	if (!d) {
		snprintf(err, errlen, "Device '%s' not found", id);
		ret = -ENODEV;
	} else if (d->pending) {
		snprintf(err, errlen, "Device %s is already in the process of unplug", id);
		ret = -EBUSY;
	} else {
		d->pending = true;
	}
	pthread_mutex_unlock(&fm.lock);
	return ret;
}

static int fake_pci_list(void *opaque, struct vmm_pci_info **out, size_t *nr)
{
	struct vmm_pci_info *list = calloc(FAKE_MAX + 1, sizeof(*list));
	size_t n = 0;

	cr_assert(list);
	/* The host bridge, as the real machine lists it. */
	list[n++] = (struct vmm_pci_info){ .vendor = 0x8086, .device = 0x29c0,
					   .class_code = 0x060000 };
	pthread_mutex_lock(&fm.lock);
	for (int i = 0; i < FAKE_MAX; i++) {
		struct fake_dev *d = &fm.devs[i];
		struct vmm_pci_info *p = &list[n++];

		if (!d->used) {
			n--;
			continue;
		}
		*p = (struct vmm_pci_info){ .slot = d->slot, .vendor = 0x1234, .device = 0x11e8,
					    .class_code = 0x00ff00, .is_device = true,
					    .unplug_pending = d->pending, .irq_pin = 1,
					    .irq_line = 11 };
		p->bars[0] = (struct vmm_pci_bar){ .addr = 0xc0000000, .size = 1 << 20 };
		p->bars[2] = (struct vmm_pci_bar){ .addr = 0x800000000ull, .size = 1 << 14,
						   .mem64 = true, .prefetch = true };
		p->bars[4] = (struct vmm_pci_bar){ .addr = 0xc000, .size = 32, .io = true };
		snprintf(p->id, sizeof(p->id), "%s", d->id);
		snprintf(p->driver, sizeof(p->driver), "%s", d->driver);
		if (d->id[0])
			snprintf(p->path, sizeof(p->path), "/machine/peripheral/%s", d->id);
		else
			snprintf(p->path, sizeof(p->path), "/machine/peripheral-anon/device[%d]",
				 i);
	}
	pthread_mutex_unlock(&fm.lock);
	*out = list;
	*nr = n;
	return 0;
}

static enum qmp_run_state fake_state(void *opaque)
{
	return QMP_RUN_STATE_RUNNING;
}

static int fake_nop(void *opaque)
{
	return 0;
}

static void fake_attach(void *opaque, struct qmp_server *s)
{
	pthread_mutex_lock(&fm.lock);
	fm.s = s;
	pthread_mutex_unlock(&fm.lock);
}

static void fake_detach(void *opaque)
{
	pthread_mutex_lock(&fm.lock);
	fm.s = NULL;
	pthread_mutex_unlock(&fm.lock);
}

static const struct qmp_machine_ops fake_ops = {
	.state = fake_state,
	.pause = fake_nop,
	.resume = fake_nop,
	.reset = fake_nop,
	.powerdown = fake_nop,
	.quit = fake_nop,
	.attach = fake_attach,
	.detach = fake_detach,
	.device_add = fake_device_add,
	.device_del = fake_device_del,
	.pci_list = fake_pci_list,
	.device_add_fd = fake_device_add_fd,
};

/* The guest ejects @id: as the machine does it, from another thread. */
static void *fake_eject_thread(void *arg)
{
	const char *id = arg;
	struct fake_dev *d;
	struct json_object *data = json_object_new_object();
	char path[96];

	pthread_mutex_lock(&fm.lock);
	d = fake_find(id);
	cr_assert(d && d->pending);
	d->used = false;
	snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
	json_object_object_add(data, "device", json_object_new_string(id));
	json_object_object_add(data, "path", json_object_new_string(path));
	cr_assert_eq(qmp_server_emit_event(fm.s, "DEVICE_DELETED", data), 0);
	pthread_mutex_unlock(&fm.lock);
	return NULL;
}

static void fake_eject(const char *id)
{
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, fake_eject_thread, (void *)id), 0);
	pthread_join(th, NULL);
}

static void setup(void)
{
	struct qmp_server_config cfg = { .machine = &fake_ops, .machine_opaque = &fm };

	memset(&fm, 0, sizeof(fm));
	pthread_mutex_init(&fm.lock, NULL);
	th_start(&t, &cfg);
}

static void teardown(void)
{
	th_stop(&t);
	pthread_mutex_destroy(&fm.lock);
}

TestSuite(device, .init = setup, .fini = teardown, .timeout = 30);

/* Reads one raw line (the server's bytes) and compares it. */
static void expect_line(struct tc *c, const char *want)
{
	struct json_object *m = tc_reply(c);

	cr_assert_str_eq(c->last_line, want);
	json_object_put(m);
}

Test(device, libvirt_hostdev_exchange)
{
	struct json_object *ev;
	struct tc c;

	tc_open(&c, &t);
	tc_send(&c, ADD "{\"driver\":\"vfio-pci\","
		    "\"host\":\"0000:06:12.2\",\"id\":\"hostdev0\",\"bus\":\"pci.0\","
		    "\"addr\":\"0x2\"},\"id\":\"libvirt-7\"}\r\n");
	expect_line(&c, "{\"return\":{},\"id\":\"libvirt-7\"}");
	/* driver first, then the rest as the client gave them, as -device text. */
	cr_assert_str_eq(fm.last_props,
			 "driver=vfio-pci,host=0000:06:12.2,id=hostdev0,bus=pci.0,addr=0x2");

	tc_send(&c, QOM "{\"path\":\"/machine/peripheral\"},"
		    "\"id\":\"libvirt-8\"}\r\n");
	expect_line(&c, "{\"return\":[{\"name\":\"type\",\"type\":\"string\"},"
		    "{\"name\":\"hostdev0\",\"type\":\"child<vfio-pci>\"}],\"id\":\"libvirt-8\"}");

	tc_send(&c, DEL "{\"id\":\"hostdev0\"},"
		    "\"id\":\"libvirt-9\"}\r\n");
	expect_line(&c, "{\"return\":{},\"id\":\"libvirt-9\"}");
	fake_eject("hostdev0");
	ev = tc_event(&c);
	cr_assert_str_eq(jstr(ev, "event"), "DEVICE_DELETED");
	cr_assert_str_eq(jstr(ev, "data.device"), "hostdev0");
	cr_assert_str_eq(jstr(ev, "data.path"), "/machine/peripheral/hostdev0");
	cr_assert(jpath(ev, "timestamp.seconds"));
	json_object_put(ev);

	/* Gone: another device_del of it is DeviceNotFound, qom-list is empty. */
	expect_error(tc_cmd(&c, DEL "{\"id\":\"hostdev0\"}}"),
		     "DeviceNotFound", "Device 'hostdev0' not found");
	tc_send(&c, QOM "{\"path\":\"/machine/peripheral\"}}");
	expect_line(&c, "{\"return\":[{\"name\":\"type\",\"type\":\"string\"}]}");
	tc_close(&c);
}

Test(device, device_del_twice_while_pending)
{
	struct json_object *m;
	struct tc c;

	tc_open(&c, &t);
	expect_return_empty(tc_cmd(&c, ADD
				   "{\"driver\":\"vfio-pci\","
				   "\"host\":\"01:00.0\",\"id\":\"d1\"}}"));
	expect_return_empty(tc_cmd(&c, DEL "{\"id\":\"d1\"}}"));
	expect_error(tc_cmd(&c, DEL "{\"id\":\"d1\"}}"),
		     "GenericError", "Device d1 is already in the process of unplug");
	/* query-pci shows it until the guest has let go. */
	m = tc_cmd(&c, "{\"execute\":\"query-pci\"}");
	cr_assert_str_eq(jstr(json_object_array_get_idx(jpath(
		json_object_array_get_idx(jpath(m, "return"), 0), "devices"), 1), "qdev_id"), "d1");
	json_object_put(m);
	fake_eject("d1");
	json_object_put(tc_event(&c));
	tc_close(&c);
}

Test(device, bad_input)
{
	struct tc c;

	tc_open(&c, &t);
	expect_error(tc_cmd(&c, ADD "{\"host\":\"01:00.0\"}}"),
		     "GenericError", "Parameter 'driver' is missing");
	expect_error(tc_cmd(&c, ADD "{\"driver\":3}}"),
		     "GenericError", "Parameter 'driver' expects a string");
	expect_error(tc_cmd(&c, ADD "{\"driver\":\"vfio-pci\","
			    "\"id\":true}}"),
		     "GenericError", "Parameter 'id' expects a string");
	expect_error(tc_cmd(&c, ADD "{\"driver\":\"vfio-pci\","
			    "\"host\":[1]}}"),
		     "GenericError", "Parameter 'host' expects a string");
	expect_error(tc_cmd(&c, ADD "{\"driver\":\"vfio-pci\","
			    "\"host\":\"01:00.0\",\"addr\":300}}"),
		     "GenericError",
		     "Parameter 'addr' expects a PCI address (slot.function, or a devfn from 0 "
		     "to 255)");
	expect_error(tc_cmd(&c, ADD "{\"driver\":\"vfio-pci\","
			    "\"fd\":\"myfd\"}}"),
		     "GenericError",
		     "File descriptor named 'myfd' not found: pass it first with getfd "
		     "(SCM_RIGHTS)");
	expect_error(tc_cmd(&c, ADD "{\"driver\":\"vfio-pci\","
			    "\"fd\":3}}"),
		     "GenericError",
		     "Parameter 'fd' expects the name of a file descriptor passed with getfd");
	cr_assert_eq(fm.add_calls, 0, "the machine saw none of these");
	expect_error(tc_cmd(&c, "{\"execute\":\"device_del\"}"), "GenericError",
		     "Parameter 'id' is missing");
	expect_error(tc_cmd(&c, DEL "{\"id\":\"x\","
			    "\"force\":true}}"),
		     "GenericError", "Parameter 'force' is unexpected");
	expect_error(tc_cmd(&c, DEL "{\"id\":\"nosuch\"}}"),
		     "DeviceNotFound", "Device 'nosuch' not found");
	expect_error(tc_cmd(&c, QOM "{\"path\":\"/nope\"}}"),
		     "DeviceNotFound", "Device '/nope' not found");
	tc_close(&c);
}

Test(device, scalars_become_device_text)
{
	struct tc c;

	tc_open(&c, &t);
	/* A JSON integer addr is a devfn (QEMU's), a boolean is on/off. */
	expect_return_empty(tc_cmd(&c, ADD "{"
				   "\"driver\":\"passthrough\",\"host\":\"01:00.0\","
				   "\"addr\":24,\"x-no-mmap\":true}}"));
	cr_assert_str_eq(fm.last_props, "driver=passthrough,host=01:00.0,addr=3.0,x-no-mmap=on");
	tc_close(&c);
}

Test(device, machine_errors_and_duplicates)
{
	struct tc c;

	tc_open(&c, &t);
	expect_return_empty(tc_cmd(&c, ADD
				   "{\"driver\":\"vfio-pci\",\"host\":\"01:00.0\",\"id\":\"a\"}}"));
	expect_error(tc_cmd(&c, ADD
			    "{\"driver\":\"vfio-pci\",\"host\":\"02:00.0\",\"id\":\"a\"}}"),
		     "GenericError", "Duplicate device ID 'a'");
	/* The machine's own explanation reaches the client as it is. */
	fm.fail = EBUSY;
	expect_error(tc_cmd(&c, ADD
			    "{\"driver\":\"vfio-pci\",\"host\":\"03:00.0\",\"id\":\"b\"}}"),
		     "GenericError", "group 7 is in use by process 4242 (sleep)");
	tc_close(&c);
}

Test(device, qom_list_tree)
{
	struct tc c;

	tc_open(&c, &t);
	expect_return_empty(tc_cmd(&c, ADD
				   "{\"driver\":\"passthrough\",\"host\":\"01:00.0\"}}"));
	expect_return_empty(tc_cmd(&c, ADD
				   "{\"driver\":\"vfio-pci\","
				   "\"host\":\"02:00.0\",\"id\":\"n1\"}}"));
	tc_send(&c, QOM "{\"path\":\"/machine\"}}");
	expect_line(&c, "{\"return\":[{\"name\":\"type\",\"type\":\"string\"},"
		    "{\"name\":\"peripheral\",\"type\":\"child<container>\"},"
		    "{\"name\":\"peripheral-anon\",\"type\":\"child<container>\"}]}");
	tc_send(&c, QOM "{\"path\":\"/machine/peripheral\"}}");
	expect_line(&c, "{\"return\":[{\"name\":\"type\",\"type\":\"string\"},"
		    "{\"name\":\"n1\",\"type\":\"child<vfio-pci>\"}]}");
	tc_send(&c, QOM
		    "{\"path\":\"/machine/peripheral-anon\"}}");
	expect_line(&c, "{\"return\":[{\"name\":\"type\",\"type\":\"string\"},"
		    "{\"name\":\"device[0]\",\"type\":\"child<passthrough>\"}]}");
	tc_send(&c, QOM "{\"path\":\"/machine/peripheral/n1\"}}");
	expect_line(&c, "{\"return\":[{\"name\":\"type\",\"type\":\"string\"},"
		    "{\"name\":\"parent_bus\",\"type\":\"link<bus>\"},"
		    "{\"name\":\"host\",\"type\":\"str\"},"
		    "{\"name\":\"addr\",\"type\":\"int32\"}]}");
	tc_close(&c);
}

Test(device, query_pci_shape)
{
	struct tc c;

	tc_open(&c, &t);
	expect_return_empty(tc_cmd(&c, ADD
				   "{\"driver\":\"vfio-pci\",\"host\":\"01:00.0\",\"id\":\"e\"}}"));
	tc_send(&c, "{\"execute\":\"query-pci\"}");
	expect_line(&c, "{\"return\":[{\"bus\":0,\"devices\":["
		    "{\"bus\":0,\"slot\":0,\"function\":0,"
		    "\"class_info\":{\"desc\":\"Host bridge\",\"class\":1536},"
		    "\"id\":{\"device\":10688,\"vendor\":32902,\"subsystem\":0,"
		    "\"subsystem-vendor\":0},\"irq_pin\":0,\"qdev_id\":\"\",\"regions\":[]},"
		    "{\"bus\":0,\"slot\":2,\"function\":0,"
		    "\"class_info\":{\"desc\":\"Unclassified device\",\"class\":255},"
		    "\"id\":{\"device\":4584,\"vendor\":4660,\"subsystem\":0,"
		    "\"subsystem-vendor\":0},\"irq\":11,\"irq_pin\":1,\"qdev_id\":\"e\","
		    "\"regions\":["
		    "{\"bar\":0,\"type\":\"memory\",\"address\":3221225472,\"size\":1048576,"
		    "\"prefetch\":false,\"mem_type_64\":false},"
		    "{\"bar\":2,\"type\":\"memory\",\"address\":34359738368,\"size\":16384,"
		    "\"prefetch\":true,\"mem_type_64\":true},"
		    "{\"bar\":4,\"type\":\"io\",\"address\":49152,\"size\":32}]}]}]}");
	tc_close(&c);
}

/* What libvirt looks up in the schema: the command, its arg-type, the members. */
Test(device, query_qmp_schema)
{
	struct json_object *m, *list, *cmd = NULL, *args = NULL, *ev = NULL;
	const char *arg_type;
	struct tc c;
	size_t n;

	tc_open(&c, &t);
	m = tc_cmd(&c, "{\"execute\":\"query-qmp-schema\"}");
	list = jpath(m, "return");
	cr_assert(json_object_is_type(list, json_type_array), "%s", c.last_line);
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (!strcmp(jstr(e, "name"), "device_add"))
			cmd = e;
		if (!strcmp(jstr(e, "name"), "DEVICE_DELETED"))
			ev = e;
	}
	cr_assert(cmd, "no device_add in %s", c.last_line);
	cr_assert_str_eq(jstr(cmd, "meta-type"), "command");
	cr_assert(ev && !strcmp(jstr(ev, "meta-type"), "event"));
	arg_type = jstr(cmd, "arg-type");
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (!strcmp(jstr(e, "name"), arg_type))
			args = e;
	}
	cr_assert(args, "arg-type %s is not defined", arg_type);
	cr_assert_str_eq(jstr(args, "meta-type"), "object");
	cr_assert_str_eq(json_object_to_json_string_ext(jpath(args, "members"),
							JSON_C_TO_STRING_PLAIN),
			 "[{\"name\":\"driver\",\"type\":\"str\"},"
			 "{\"name\":\"bus\",\"type\":\"str\",\"default\":null},"
			 "{\"name\":\"id\",\"type\":\"str\",\"default\":null}]");
	/* Every type named anywhere is defined once. */
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *refs[] = { jstr(e, "arg-type"), jstr(e, "ret-type"),
				       jstr(e, "element-type") };

		for (int r = 0; r < 3; r++) {
			int found = 0;

			if (!refs[r])
				continue;
			for (size_t j = 0; j < n; j++)
				found += !strcmp(jstr(json_object_array_get_idx(list, j), "name"),
						 refs[r]);
			cr_assert_eq(found, 1, "type %s defined %d times", refs[r], found);
		}
	}
	json_object_put(m);
	tc_close(&c);
}

/* The unprivileged way (-run-with user=): getfd a group fd, then device_add fd=NAME. */
Test(device, add_with_a_passed_fd)
{
	struct json_object *r;
	struct stat st;
	struct tc c;
	int p[2], before;

	tc_open(&c, &t);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(fstat(p[1], &st), 0);
	tc_send_fd(&c, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"grp\"}}\r\n", p[1]);
	close(p[1]);
	expect_return_empty(tc_reply(&c));
	before = count_fds();
	r = tc_cmd(&c, ADD "{\"driver\":\"vfio-pci\",\"host\":\"01:00.0\",\"id\":\"d9\","
		   "\"fd\":\"grp\"}}");
	expect_return_empty(r);
	cr_assert_eq(fm.fd_calls, 1);
	cr_assert_eq(fm.last_fd_ino, st.st_ino, "the machine got another fd than the client's");
	cr_assert_str_eq(fm.last_props, "driver=vfio-pci,host=01:00.0,id=d9",
			 "fd= is not passed on as a property");
	cr_assert(wait_fds(before - 1), "the taken fd is still open in ferry");
	/* Taken: a second use of the name finds nothing. */
	expect_error(tc_cmd(&c, ADD "{\"driver\":\"vfio-pci\",\"host\":\"02:00.0\","
			    "\"fd\":\"grp\"}}"),
		     "GenericError", "File descriptor named 'grp' not found");
	cr_assert_eq(fm.fd_calls, 1);
	close(p[0]);
	tc_close(&c);
}
