// SPDX-License-Identifier: GPL-2.0-only
/*
 * ferry-ctl (the executable, $FERRY_CTL) against a scripted QMP server on a
 * unix socket: the exchange libvirt has with QEMU for a hostdev (greeting,
 * qmp_capabilities, device_add / device_del then DEVICE_DELETED), the
 * <hostdev> XML it accepts and what it says about XML it does not, an
 * unreachable socket and the VM's errors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

enum srv_mode {
	SRV_OK,			/* every command returns {} ; device_del then DEVICE_DELETED */
	SRV_ADD_ERROR,		/* device_add: GenericError */
	SRV_DEL_NOT_FOUND,	/* device_del: DeviceNotFound */
	SRV_DEL_NO_EVENT,	/* device_del returns, no DEVICE_DELETED ever */
	SRV_DEL_OTHER_EVENT,	/* DEVICE_DELETED of another device first, then ours */
};

static struct {
	char dir[64];
	char sock[96];
	int lfd;
	pthread_t thread;
	enum srv_mode mode;
	/* What the client sent, in order: "execute" names, and device_add's arguments. */
	char cmds[8][32];
	int ncmds;
	json_object *add_args;
	bool caps_first;
	char out[4096], errout[4096];
} s;

/*
 * One message and its "\r\n" in one send: ferry-ctl may exit as soon as it
 * has the message, and a later write to its closed socket must not raise
 * SIGPIPE in the test.  The client's side of a failed send shows in its result.
 */
static void srv_send(int fd, const char *text)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", text);

	if (n > 0 && (size_t)n < sizeof(buf))
		send(fd, buf, n, MSG_NOSIGNAL);
}

static void srv_reply(int fd, json_object *req, const char *body)
{
	json_object *id = NULL;
	char buf[1024];

	json_object_object_get_ex(req, "id", &id);
	snprintf(buf, sizeof(buf), "{%s, \"id\": %s}", body,
		 id ? json_object_to_json_string(id) : "null");
	srv_send(fd, buf);
}

static void *srv_main(void *arg)
{
	struct json_tokener *tok = json_tokener_new();
	char buf[4096];
	int fd = accept(s.lfd, NULL, NULL);
	ssize_t n;

	if (fd < 0)
		return NULL;
	srv_send(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 8}, "
		     "\"package\": \"\"}, \"capabilities\": []}}");
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t pos = 0;

		while (pos < (size_t)n) {
			json_object *req, *v;
			const char *cmd;

			if (buf[pos] == '\r' || buf[pos] == '\n') {
				pos++;
				continue;
			}
			req = json_tokener_parse_ex(tok, buf + pos, n - pos);
			if (!req)
				break;
			pos += json_tokener_get_parse_end(tok);
			json_tokener_reset(tok);
			cmd = json_object_object_get_ex(req, "execute", &v) ?
			      json_object_get_string(v) : "";
			if (s.ncmds < 8)
				snprintf(s.cmds[s.ncmds++], sizeof(s.cmds[0]), "%s", cmd);
			if (s.ncmds == 1)
				s.caps_first = !strcmp(cmd, "qmp_capabilities");
			if (!strcmp(cmd, "device_add")) {
				json_object_object_get_ex(req, "arguments", &v);
				s.add_args = json_object_get(v);
				if (s.mode == SRV_ADD_ERROR)
					srv_reply(fd, req, "\"error\": {\"class\": \"GenericError\", "
						  "\"desc\": \"-device host=0000:00:03.0: no such "
						  "device\"}");
				else
					srv_reply(fd, req, "\"return\": {}");
			} else if (!strcmp(cmd, "device_del")) {
				if (s.mode == SRV_DEL_NOT_FOUND) {
					srv_reply(fd, req, "\"error\": {\"class\": \"DeviceNotFound\", "
						  "\"desc\": \"Device 'hostdev0' not found\"}");
				} else {
					srv_reply(fd, req, "\"return\": {}");
					if (s.mode == SRV_DEL_OTHER_EVENT)
						srv_send(fd, "{\"event\": \"DEVICE_DELETED\", \"data\": "
							 "{\"device\": \"other\"}, \"timestamp\": "
							 "{\"seconds\": 1, \"microseconds\": 0}}");
					if (s.mode != SRV_DEL_NO_EVENT) {
						usleep(100000);
						srv_send(fd, "{\"event\": \"DEVICE_DELETED\", \"data\": "
							 "{\"device\": \"hostdev0\", \"path\": "
							 "\"/machine/peripheral/hostdev0\"}, \"timestamp\": "
							 "{\"seconds\": 1, \"microseconds\": 0}}");
					}
				}
			} else {
				srv_reply(fd, req, "\"return\": {}");
			}
			json_object_put(req);
		}
	}
	json_tokener_free(tok);
	close(fd);
	return NULL;
}

static void srv_start(enum srv_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	s.mode = mode;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s.sock);
	s.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(s.lfd, 0);
	cr_assert_eq(bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s.lfd, 1), 0);
	cr_assert_eq(pthread_create(&s.thread, NULL, srv_main, NULL), 0);
}

static void setup(void)
{
	memset(&s, 0, sizeof(s));
	s.lfd = -1;
	snprintf(s.dir, sizeof(s.dir), "/tmp/ferry-ctl-test-XXXXXX");
	cr_assert_not_null(mkdtemp(s.dir));
	snprintf(s.sock, sizeof(s.sock), "%s/qmp.sock", s.dir);
}

static void teardown(void)
{
	char path[160];

	if (s.lfd >= 0) {
		shutdown(s.lfd, SHUT_RDWR);
		close(s.lfd);
		pthread_join(s.thread, NULL);
	}
	if (s.add_args)
		json_object_put(s.add_args);
	unlink(s.sock);
	snprintf(path, sizeof(path), "%s/hostdev.xml", s.dir);
	unlink(path);
	rmdir(s.dir);
}

static const char *xml_file(const char *xml)
{
	static char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/hostdev.xml", s.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(xml, f);
	fclose(f);
	return path;
}

static void slurp(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	while (used + 1 < len && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	buf[used] = '\0';
}

/* Runs ferry-ctl with @argv (after the program name); its exit status. */
static int run_ctl(const char *cmd, const char *sock, const char *xml, const char *timeout)
{
	const char *ctl = getenv("FERRY_CTL");
	int out[2], err[2], status;
	pid_t pid;

	cr_assert_not_null(ctl, "FERRY_CTL is not set (meson sets it)");
	cr_assert_eq(pipe(out), 0);
	cr_assert_eq(pipe(err), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (timeout)
			execl(ctl, ctl, cmd, sock, xml, "--timeout", timeout, (char *)NULL);
		else
			execl(ctl, ctl, cmd, sock, xml, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	slurp(out[0], s.out, sizeof(s.out));
	slurp(err[0], s.errout, sizeof(s.errout));
	close(out[0]);
	close(err[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static const char *arg(const char *key)
{
	json_object *v;

	if (!s.add_args || !json_object_object_get_ex(s.add_args, key, &v))
		return NULL;
	return json_object_get_string(v);
}

#define HOSTDEV_XML \
	"<hostdev mode='subsystem' type='pci' managed='yes'>\n" \
	"  <driver name='vfio'/>\n" \
	"  <source>\n" \
	"    <address domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n" \
	"  </source>\n" \
	"  <alias name='hostdev0'/>\n" \
	"  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n" \
	"</hostdev>\n"

TestSuite(ctl, .init = setup, .fini = teardown);

Test(ctl, attach_sends_libvirts_device_add)
{
	int rc;

	srv_start(SRV_OK);
	rc = run_ctl("attach-device", s.sock, xml_file(HOSTDEV_XML), NULL);
	cr_assert_eq(rc, 0, "%s", s.errout);
	cr_assert(s.caps_first);
	cr_assert_eq(s.ncmds, 2);
	cr_assert_str_eq(s.cmds[1], "device_add");
	cr_assert_str_eq(arg("driver"), "vfio-pci");
	cr_assert_str_eq(arg("host"), "0000:00:03.0");
	cr_assert_str_eq(arg("id"), "hostdev0");
	cr_assert_str_eq(arg("bus"), "pci.0");
	cr_assert_str_eq(arg("addr"), "0x5");
	cr_assert_str_eq(arg("managed"), "on");
	cr_assert(strstr(s.out, "attached hostdev0"), "%s", s.out);
}

Test(ctl, attach_without_alias_or_guest_address)
{
	int rc;

	srv_start(SRV_OK);
	rc = run_ctl("attach-device", s.sock, xml_file(
		"<hostdev mode='subsystem' type='pci'><source>"
		"<address domain='0' bus='0x1a' slot='0x1f' function='7'/>"
		"</source></hostdev>"), NULL);
	cr_assert_eq(rc, 0, "%s", s.errout);
	cr_assert_str_eq(arg("host"), "0000:1a:1f.7");
	cr_assert_str_eq(arg("id"), "hostdev-0000-1a-1f-7");
	cr_assert_null(arg("addr"));
	cr_assert_str_eq(arg("managed"), "off");
}

Test(ctl, detach_waits_for_device_deleted)
{
	int rc;

	srv_start(SRV_DEL_OTHER_EVENT);
	rc = run_ctl("detach-device", s.sock, xml_file(HOSTDEV_XML), NULL);
	cr_assert_eq(rc, 0, "%s", s.errout);
	cr_assert_str_eq(s.cmds[1], "device_del");
	cr_assert(strstr(s.out, "detached hostdev0"), "%s", s.out);
}

Test(ctl, detach_times_out_without_the_event)
{
	int rc;

	srv_start(SRV_DEL_NO_EVENT);
	rc = run_ctl("detach-device", s.sock, xml_file(HOSTDEV_XML), "0.3");
	cr_assert_eq(rc, 1);
	cr_assert(strstr(s.errout, "no DEVICE_DELETED within 300 ms"), "%s", s.errout);
}

Test(ctl, the_vms_error_is_printed)
{
	int rc;

	srv_start(SRV_ADD_ERROR);
	rc = run_ctl("attach-device", s.sock, xml_file(HOSTDEV_XML), NULL);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(s.errout, "device_add: -device host=0000:00:03.0: no such device "
			 "(GenericError)"), "%s", s.errout);
}

Test(ctl, detach_of_unknown_id)
{
	int rc;

	srv_start(SRV_DEL_NOT_FOUND);
	rc = run_ctl("detach-device", s.sock, xml_file(HOSTDEV_XML), NULL);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(s.errout, "Device 'hostdev0' not found (DeviceNotFound)"), "%s",
		  s.errout);
}

Test(ctl, unreachable_socket)
{
	int rc = run_ctl("attach-device", s.sock, xml_file(HOSTDEV_XML), NULL);

	cr_assert_eq(rc, 3);
	cr_assert(strstr(s.errout, "cannot connect to the VM's QMP socket"), "%s", s.errout);
	cr_assert(strstr(s.errout, s.sock), "%s", s.errout);
}

/* Bad XML: exit 2, the message names the element or attribute, and nothing is sent. */
static void bad_xml(const char *xml, const char *want)
{
	int rc = run_ctl("attach-device", s.sock, xml_file(xml), NULL);

	cr_assert_eq(rc, 2, "%s", s.errout);
	cr_assert(strstr(s.errout, want), "want '%s' in: %s", want, s.errout);
}

Test(ctl, bad_xml)
{
	bad_xml("<hostdev mode='subsystem' type='pci'><source>", "not well-formed XML, line");
	bad_xml("<disk type='file'/>", "the root element is <disk>, not <hostdev>");
	bad_xml("<hostdev mode='capabilities' type='pci'/>", "mode='capabilities' is not supported");
	bad_xml("<hostdev mode='subsystem' type='usb'/>", "type='usb' is not supported");
	bad_xml("<hostdev type='pci'/>", "<hostdev>: no mode attribute");
	bad_xml("<hostdev mode='subsystem' type='pci' managed='maybe'><source/></hostdev>",
		"managed='maybe'");
	bad_xml("<hostdev mode='subsystem' type='pci'/>", "no <source> element");
	bad_xml("<hostdev mode='subsystem' type='pci'><source/></hostdev>",
		"<source>: no <address");
	bad_xml("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' "
		"function='0'/></source></hostdev>", "<source/address>: the address has no slot");
	bad_xml("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' "
		"slot='0x20' function='0'/></source></hostdev>",
		"<source/address>: slot='0x20' is not a number from 0 to 0x1f");
	bad_xml("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='zz' "
		"slot='0' function='0'/></source></hostdev>", "bus='zz'");
	bad_xml("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' "
		"slot='3' function='0'/></source><alias name='0bad'/></hostdev>",
		"<alias name='0bad'>");
	bad_xml("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' "
		"slot='3' function='0'/></source><address type='pci' domain='0' bus='1' "
		"slot='3' function='0'/></hostdev>", "the guest has one PCI bus");
	bad_xml("<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' "
		"slot='3' function='0'/></source><address type='ccw'/></hostdev>",
		"<address>: type='ccw' is not supported");
}

Test(ctl, usage)
{
	cr_assert_eq(run_ctl("plug", s.sock, "x.xml", NULL), 2);
	cr_assert(strstr(s.errout, "unknown command 'plug'"), "%s", s.errout);
	cr_assert_eq(run_ctl("attach-device", s.sock, "/nonexistent/hostdev.xml", NULL), 2);
	cr_assert(strstr(s.errout, "/nonexistent/hostdev.xml"), "%s", s.errout);
	cr_assert_eq(run_ctl("detach-device", s.sock, xml_file(HOSTDEV_XML), "-1"), 2);
	cr_assert(strstr(s.errout, "--timeout -1"), "%s", s.errout);
}
