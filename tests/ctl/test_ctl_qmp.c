// SPDX-License-Identifier: GPL-2.0-only
/*
 * ferry-ctl against ferry's own QMP server (qmp/, through tests/qmp's
 * harness) with a machine that records device_add's properties and, like
 * the real one, reports DEVICE_DELETED from another thread once the "guest"
 * let go: the properties ferry-ctl sends are ones passthrough/ accepts.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/qmp/harness.h"
#include "passthrough/passthrough.h"

static struct {
	pthread_mutex_t lock;
	struct qmp_server *s;
	char props[1024];
	struct passthrough_opts opts;
	char opts_err[256];
	int opts_ret;
	int fail;		/* device_add fails with -fail */
	bool eject;		/* device_del: the guest lets go (DEVICE_DELETED) */
	char del_id[64];
	pthread_t ejecter;
	bool ejecting;
} fm;

static struct th t;
static char xml_path[128], out[4096], errout[4096];

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

/* Records the properties and runs them through passthrough's own parser. */
static int fake_device_add(void *opaque, const struct vmm_device_prop *props, size_t n,
			   char *err, size_t errlen)
{
	pthread_mutex_lock(&fm.lock);
	fm.props[0] = '\0';
	passthrough_opts_init(&fm.opts);
	fm.opts_ret = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(fm.props);

		snprintf(fm.props + len, sizeof(fm.props) - len, "%s%s=%s", i ? "," : "",
			 props[i].key, props[i].value);
		if (!fm.opts_ret)
			fm.opts_ret = passthrough_opts_set(&fm.opts, props[i].key, props[i].value,
							   fm.opts_err, sizeof(fm.opts_err));
	}
	pthread_mutex_unlock(&fm.lock);
	if (fm.fail) {
		snprintf(err, errlen, "-device host=0000:00:03.0,managed=on: 0000:00:03.0 shares "
			 "IOMMU group 7 with 0000:00:04.0, which the host driver e1000e still "
			 "uses");
		return -fm.fail;
	}
	return 0;
}

static void *fake_eject_thread(void *arg)
{
	struct json_object *data = json_object_new_object();
	char path[96];

	usleep(200000);
	pthread_mutex_lock(&fm.lock);
	snprintf(path, sizeof(path), "/machine/peripheral/%s", fm.del_id);
	json_object_object_add(data, "device", json_object_new_string(fm.del_id));
	json_object_object_add(data, "path", json_object_new_string(path));
	if (fm.s)
		qmp_server_emit_event(fm.s, "DEVICE_DELETED", data);
	else
		json_object_put(data);
	pthread_mutex_unlock(&fm.lock);
	return NULL;
}

static int fake_device_del(void *opaque, const char *id, char *err, size_t errlen)
{
	pthread_mutex_lock(&fm.lock);
	snprintf(fm.del_id, sizeof(fm.del_id), "%s", id);
	if (fm.eject && !fm.ejecting) {
		fm.ejecting = true;
		pthread_create(&fm.ejecter, NULL, fake_eject_thread, NULL);
	}
	pthread_mutex_unlock(&fm.lock);
	return 0;
}

static int fake_pci_list(void *opaque, struct vmm_pci_info **list, size_t *nr)
{
	*list = NULL;
	*nr = 0;
	return 0;
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
};

static void setup(void)
{
	struct qmp_server_config cfg = { .machine = &fake_ops, .machine_opaque = &fm };
	FILE *f;

	memset(&fm, 0, sizeof(fm));
	pthread_mutex_init(&fm.lock, NULL);
	th_start(&t, &cfg);
	snprintf(xml_path, sizeof(xml_path), "%s/hostdev.xml", t.dir);
	f = fopen(xml_path, "w");
	cr_assert_not_null(f);
	fputs("<hostdev mode='subsystem' type='pci' managed='yes'>\n"
	      "  <source><address domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>"
	      "</source>\n"
	      "  <alias name='hostdev0'/>\n"
	      "  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n"
	      "</hostdev>\n", f);
	fclose(f);
}

static void teardown(void)
{
	if (fm.ejecting)
		pthread_join(fm.ejecter, NULL);
	unlink(xml_path);
	th_stop(&t);
	pthread_mutex_destroy(&fm.lock);
}

static void slurp(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;

	while (used + 1 < len && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += n;
	buf[used] = '\0';
}

static int run_ctl(const char *cmd, const char *timeout)
{
	const char *ctl = getenv("FERRY_CTL");
	int o[2], e[2], status;
	pid_t pid;

	cr_assert_not_null(ctl, "FERRY_CTL is not set (meson sets it)");
	cr_assert_eq(pipe(o), 0);
	cr_assert_eq(pipe(e), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		if (timeout)
			execl(ctl, ctl, cmd, t.path, xml_path, "--timeout", timeout, (char *)NULL);
		else
			execl(ctl, ctl, cmd, t.path, xml_path, (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	slurp(o[0], out, sizeof(out));
	slurp(e[0], errout, sizeof(errout));
	close(o[0]);
	close(e[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

TestSuite(ctl_qmp, .init = setup, .fini = teardown, .timeout = 30);

Test(ctl_qmp, attach_reaches_the_machine_as_passthrough_options)
{
	int rc = run_ctl("attach-device", NULL);

	cr_assert_eq(rc, 0, "%s", errout);
	cr_assert_str_eq(fm.props, "driver=vfio-pci,host=0000:00:03.0,id=hostdev0,bus=pci.0,"
			 "addr=0x5,managed=on");
	cr_assert_eq(fm.opts_ret, 0, "%s", fm.opts_err);
	cr_assert_str_eq(fm.opts.host, "0000:00:03.0");
	cr_assert_str_eq(fm.opts.id, "hostdev0");
	cr_assert_eq(fm.opts.slot, 5);
	cr_assert(fm.opts.managed);
}

Test(ctl_qmp, attach_error_desc_is_printed)
{
	int rc;

	fm.fail = EBUSY;
	rc = run_ctl("attach-device", NULL);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(errout, "shares IOMMU group 7 with 0000:00:04.0"), "%s", errout);
}

Test(ctl_qmp, detach_returns_after_device_deleted)
{
	int rc;

	fm.eject = true;
	rc = run_ctl("detach-device", NULL);
	cr_assert_eq(rc, 0, "%s", errout);
	cr_assert_str_eq(fm.del_id, "hostdev0");
	cr_assert(strstr(out, "detached hostdev0"), "%s", out);
}

Test(ctl_qmp, detach_without_the_guest_letting_go_times_out)
{
	int rc = run_ctl("detach-device", "0.5");

	cr_assert_eq(rc, 1);
	cr_assert(strstr(errout, "no DEVICE_DELETED within 500 ms"), "%s", errout);
}
