// SPDX-License-Identifier: GPL-2.0-only
/*
 * -S (prelaunch): the machine is built and every thread exists, but no
 * guest instruction runs until QMP's cont.  Against this machine's /dev/kvm
 * (skipped where there is none), with a "kernel" whose 64-bit entry writes
 * "G\n" to COM1 and spins: the serial output says whether the guest ran.
 *
 * First through the API (struct vmm with cfg.prelaunch, qmp_vmm_machine,
 * the tests' QMP server), then the real ferry binary ($FERRY, set by meson)
 * as libvirt starts it: -S, QMP set-up, cont; quit in prelaunch; -S with
 * -run-with, where every thread must run as the target user.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/qmp/bzimage.h"
#include "tests/qmp/harness.h"

/* The guest's only output, written by its first instructions. */
#define GUEST_MARK "G\n"

static void need_kvm(void)
{
	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("/dev/kvm is not available here");
}

/* A bzImage whose startup_64 writes GUEST_MARK to COM1, then spins. */
static void write_kernel(const char *path)
{
	static const uint8_t code[] = {
		0x66, 0xba, 0xf8, 0x03,		/* mov $0x3f8, %dx */
		0xb0, 'G', 0xee,		/* mov $'G', %al; out %al, (%dx) */
		0xb0, '\n', 0xee,		/* mov $'\n', %al; out %al, (%dx) */
		0xeb, 0xfe,			/* jmp . */
	};
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	cr_assert_geq(fd, 0, "%s: %m", path);
	bzimage_write(fd, code, sizeof(code));
	close(fd);
}

/* A scratch directory: kernel, serial output, QMP socket, pidfile, stderr. */
struct scratch {
	char dir[64];
	char kernel[96], serial[96], sock[96], pidfile[96], errlog[96];
};

static void scratch_new(struct scratch *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/ferry-prelaunch-XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir));
	/* World-searchable, so a ferry that became nobody still reaches its socket. */
	chmod(d->dir, 0755);
	snprintf(d->kernel, sizeof(d->kernel), "%s/bzImage", d->dir);
	snprintf(d->serial, sizeof(d->serial), "%s/serial.out", d->dir);
	snprintf(d->sock, sizeof(d->sock), "%s/qmp.sock", d->dir);
	snprintf(d->pidfile, sizeof(d->pidfile), "%s/ferry.pid", d->dir);
	snprintf(d->errlog, sizeof(d->errlog), "%s/stderr", d->dir);
	write_kernel(d->kernel);
}

static void scratch_free(struct scratch *d)
{
	unlink(d->kernel);
	unlink(d->serial);
	unlink(d->sock);
	unlink(d->pidfile);
	unlink(d->errlog);
	rmdir(d->dir);
}

/* The whole file as a string ("" when absent); the caller frees it. */
static char *slurp(const char *path)
{
	char *buf = calloc(1, 65536);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert_not_null(buf);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, 65535);

		buf[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return buf;
}

static bool file_has(const char *path, const char *needle)
{
	char *s = slurp(path);
	bool found = strstr(s, needle) != NULL;

	free(s);
	return found;
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* Waits up to 5 s until @pid (0: this process) has @n threads named @prefix. */
static int count_threads(pid_t pid, const char *prefix);

static void wait_threads(pid_t pid, const char *prefix, int n)
{
	/* A thread names itself once it runs. */
	for (int i = 0; i < 500 && count_threads(pid, prefix) != n; i++)
		usleep(10000);
	cr_assert_eq(count_threads(pid, prefix), n, "threads named %s", prefix);
}

/* Waits up to 5 s for the guest's mark in the serial output. */
static bool wait_guest_mark(const char *path)
{
	for (int i = 0; i < 500; i++) {
		if (file_has(path, GUEST_MARK))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * Calls @fn with /proc/PID/task/TID/@file open for each thread of @pid (0:
 * this process).  -1 when @pid has no task directory (it is gone).
 */
static int for_each_thread(pid_t pid, const char *file, void (*fn)(FILE *f, void *arg),
			   void *arg)
{
	char task[64];
	struct dirent *e;
	DIR *d;

	snprintf(task, sizeof(task), pid ? "/proc/%d/task" : "/proc/self/task", (int)pid);
	d = opendir(task);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[400];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", task, e->d_name, file);
		f = fopen(path, "re");
		if (!f)
			continue;
		fn(f, arg);
		fclose(f);
	}
	closedir(d);
	return 0;
}

struct named_threads {
	const char *prefix;
	int n;
};

static void count_named(FILE *comm_file, void *arg)
{
	struct named_threads *nt = arg;
	char comm[32] = "";

	if (fgets(comm, sizeof(comm), comm_file) && !strncmp(comm, nt->prefix, strlen(nt->prefix)))
		nt->n++;
}

/* The threads of @pid whose name starts with @prefix (pid 0: this process). */
static int count_threads(pid_t pid, const char *prefix)
{
	struct named_threads nt = { .prefix = prefix };

	return for_each_thread(pid, "comm", count_named, &nt) ? -1 : nt.n;
}

/*
 * quit with its line end in the same send: ferry may answer the complete
 * JSON and exit before a separate "\r\n" arrives (EPIPE).
 */
static void quit(struct tc *c)
{
	tc_send(c, "{\"execute\":\"quit\"}\r\n");
	expect_return_empty(tc_reply(c));
}

static void expect_prelaunch(struct tc *c)
{
	bool running = true;

	cr_assert_str_eq(tc_status(c, &running), "prelaunch");
	cr_assert_not(running);
}

static void expect_event(struct tc *c, const char *name, const char *reason)
{
	struct json_object *ev = tc_event(c);

	cr_assert_str_eq(jstr(ev, "event"), name, "%s", json_object_to_json_string(ev));
	if (reason) {
		cr_assert_str_eq(jstr(ev, "data.reason"), reason, "%s",
				 json_object_to_json_string(ev));
		cr_assert_not(json_object_get_boolean(jpath(ev, "data.guest")), "%s",
			      json_object_to_json_string(ev));
	}
	json_object_put(ev);
}

/*
 * What libvirt does between -S and cont, and what QEMU answers: stop is a
 * no-op with no STOP, system_reset resets (RESET) and stays in prelaunch,
 * device_del reaches the machine.  The guest must not run meanwhile.
 */
static void prelaunch_setup(struct tc *c, const char *serial)
{
	expect_prelaunch(c);
	expect_return_empty(tc_cmd(c, "{\"execute\":\"stop\"}"));
	expect_prelaunch(c);
	cr_assert_eq(c->n_queued, 0, "stop in prelaunch emitted an event");
	expect_return_empty(tc_cmd(c, "{\"execute\":\"system_reset\"}"));
	expect_event(c, "RESET", "host-qmp-system-reset");
	expect_prelaunch(c);
	expect_error(tc_cmd(c, "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"nohost\"}}"),
		     "DeviceNotFound", "Device 'nohost' not found");
	expect_prelaunch(c);
	cr_assert_eq(c->n_queued, 0, "an event in prelaunch: %s",
		     json_object_to_json_string(c->queued[0]));
	cr_assert_eq(file_size(serial), 0, "the guest ran before cont");
}

/* cont: RESUME, running, and the guest writes its mark. */
static void cont_and_see_the_guest(struct tc *c, const char *serial)
{
	bool running = false;

	expect_return_empty(tc_cmd(c, "{\"execute\":\"cont\"}"));
	expect_event(c, "RESUME", NULL);
	cr_assert_str_eq(tc_status(c, &running), "running");
	cr_assert(running);
	cr_assert(wait_guest_mark(serial), "no guest output after cont");
}

/* ferry_kill: a failed test leaves no ferry behind (see below). */
static void ferry_kill(void);
TestSuite(prelaunch, .timeout = 90, .fini = ferry_kill);

/* ---- Through the API ---- */

struct waiter {
	struct vmm *vmm;
	enum vmm_stop_reason why;
};

/* Resets are carried out by the thread in vmm_wait(): one must be there. */
static void *waiter_run(void *arg)
{
	struct waiter *w = arg;

	w->why = vmm_wait(w->vmm);
	return NULL;
}

/* A -S machine of 64 MiB and @vcpus vCPUs booting d->kernel, its serial into d->serial. */
static struct vmm *vmm_new_prelaunch(struct scratch *d, unsigned int vcpus)
{
	struct vmm_config vcfg = { .ram_size = 64ULL << 20, .nr_vcpus = vcpus,
				   .serial = VMM_SERIAL_FILE, .prelaunch = true,
				   .kernel = d->kernel, .serial_path = d->serial };
	char err[512] = "";
	struct vmm *vmm;

	cr_assert_eq(vmm_new(&vcfg, &vmm, err, sizeof(err)), 0, "%s", err);
	return vmm;
}

Test(prelaunch, the_api_waits_for_cont_and_a_stopped_machine_refuses_it)
{
	struct qmp_server_config cfg = { .machine = &qmp_vmm_machine_ops };
	struct qmp_vmm_machine *qm;
	struct scratch d;
	struct waiter w;
	pthread_t wait_th;
	char err[512] = "";
	struct vmm *vmm;
	bool running;
	struct th t;
	struct tc c;
	int fds;

	need_kvm();
	scratch_new(&d);
	fds = count_fds();
	vmm = vmm_new_prelaunch(&d, 2);
	cr_assert_eq(qmp_vmm_machine_new(vmm, &qm), 0);
	cfg.machine_opaque = qm;
	th_start(&t, &cfg);
	tc_open(&c, &t);

	/* Before vmm_start() nothing can start it. */
	cr_assert_eq(vmm_resume(vmm), -EAGAIN);
	cr_assert_eq(vmm_start(vmm, err, sizeof(err)), 0, "%s", err);
	w.vmm = vmm;
	cr_assert_eq(pthread_create(&wait_th, NULL, waiter_run, &w), 0);
	/* vmm_start() made every vCPU thread (the privilege drop comes before it)... */
	wait_threads(0, "ferry-vcpu", 2);
	/* ... and they wait: nothing to pause, and the guest has written nothing. */
	cr_assert_eq(vmm_get_state(vmm), VMM_STATE_CREATED);
	cr_assert_eq(vmm_pause(vmm), -EAGAIN);
	prelaunch_setup(&c, d.serial);
	cr_assert_eq(vmm_get_reset_count(vmm), 1);
	cr_assert_eq(vmm_get_state(vmm), VMM_STATE_CREATED);

	cont_and_see_the_guest(&c, d.serial);
	/* A second cont changes nothing. */
	expect_return_empty(tc_cmd(&c, "{\"execute\":\"cont\"}"));
	cr_assert_eq(c.n_queued, 0);

	quit(&c);
	expect_event(&c, "SHUTDOWN", "host-qmp-quit");
	cr_assert_eq(pthread_join(wait_th, NULL), 0);
	cr_assert_eq(w.why, VMM_STOP_HOST);
	cr_assert_str_eq(tc_status(&c, &running), "shutdown");
	/* The existing refusal, unchanged by prelaunch. */
	expect_error(tc_cmd(&c, "{\"execute\":\"cont\"}"), "GenericError",
		     "The virtual machine is in state 'shutdown': reset it with system_reset "
		     "before cont");
	cr_assert_eq(vmm_resume(vmm), -ESHUTDOWN);
	tc_close(&c);
	th_stop(&t);
	vmm_free(vmm);
	qmp_vmm_machine_free(qm);
	cr_assert_eq(count_threads(0, "ferry-vcpu"), 0);
	cr_assert_eq(count_fds(), fds);
	scratch_free(&d);
}

Test(prelaunch, quit_before_the_guest_ran_releases_everything)
{
	struct scratch d;
	char err[512] = "";
	struct vmm *vmm;
	int fds;

	need_kvm();
	scratch_new(&d);
	fds = count_fds();
	vmm = vmm_new_prelaunch(&d, 1);
	cr_assert_eq(vmm_start(vmm, err, sizeof(err)), 0, "%s", err);
	wait_threads(0, "ferry-vcpu", 1);
	vmm_request_stop(vmm, VMM_STOP_HOST);
	cr_assert_eq(vmm_wait(vmm), VMM_STOP_HOST);
	cr_assert_eq(vmm_get_state(vmm), VMM_STATE_STOPPED);
	vmm_free(vmm);
	cr_assert_eq(count_threads(0, "ferry-vcpu"), 0);
	cr_assert_eq(count_fds(), fds);
	cr_assert_eq(file_size(d.serial), 0, "the guest ran without a resume");
	scratch_free(&d);
}

/* ---- The ferry binary ---- */

struct ferry_proc {
	pid_t pid;
	struct th addr;		/* only its path: the harness's client connects there */
};

/* The ferry a test started and has not reaped: killed by .fini if the test fails. */
static pid_t ferry_running;

static void ferry_kill(void)
{
	if (ferry_running > 0) {
		kill(ferry_running, SIGKILL);
		waitpid(ferry_running, NULL, 0);
		ferry_running = 0;
	}
}

/* Starts $FERRY with @argv (NULL-terminated, without argv[0]); stderr to d->errlog. */
static void ferry_spawn(struct ferry_proc *f, struct scratch *d, const char *const *args)
{
	const char *exe = getenv("FERRY");
	const char *argv[32];
	int n = 0;

	cr_assert_not_null(exe, "FERRY is not set (meson sets it)");
	argv[n++] = exe;
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	memset(f, 0, sizeof(*f));
	snprintf(f->addr.path, sizeof(f->addr.path), "%s", d->sock);
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	ferry_running = f->pid;
	if (!f->pid) {
		int fd = open(d->errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_RDWR);

		if (fd < 0 || null < 0 || dup2(fd, 2) < 0 || dup2(null, 0) < 0 ||
		    dup2(null, 1) < 0)
			_exit(126);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
}

static bool ferry_try_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ok;
}

/*
 * Waits up to 5 s until ferry accepts connections on its QMP socket (or
 * dies).  The socket file appears at bind(), a moment before listen().
 */
static void ferry_wait_socket(struct ferry_proc *f, struct scratch *d)
{
	for (int i = 0; i < 500; i++) {
		int st;

		if (!access(d->sock, F_OK) && ferry_try_connect(d->sock))
			return;
		if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
			char *log = slurp(d->errlog);

			f->pid = 0;
			ferry_running = 0;
			cr_assert_fail("ferry exited (status %#x) before serving QMP: %s", st, log);
		}
		usleep(10000);
	}
	cr_assert_fail("no QMP socket at %s after 5 s", d->sock);
}

/* Waits up to 10 s for ferry to exit; returns its wait status. */
static int ferry_wait_exit(struct ferry_proc *f)
{
	for (int i = 0; i < 1000; i++) {
		int st;

		if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
			f->pid = 0;
			ferry_running = 0;
			return st;
		}
		usleep(10000);
	}
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	f->pid = 0;
	ferry_running = 0;
	cr_assert_fail("ferry did not exit within 10 s");
	return -1;
}

/*
 * Starts $FERRY -S (d->kernel, 64 MiB, serial into d->serial, QMP on
 * d->sock) with @extra (NULL-terminated) after that, connects @c once it
 * serves QMP and waits until its @vcpus vCPU threads exist.
 */
static void ferry_start_prelaunch(struct ferry_proc *f, struct scratch *d, struct tc *c,
				  int vcpus, const char *const *extra)
{
	char qmp[128], serial[128];
	const char *args[24] = { "-S", "-kernel", d->kernel, "-m", "64", "-serial", serial,
				 "-qmp", qmp };
	int n = 9;

	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", d->sock);
	snprintf(serial, sizeof(serial), "file:%s", d->serial);
	for (; *extra; extra++) {
		cr_assert_lt(n, 23, "too many arguments");
		args[n++] = *extra;
	}
	args[n] = NULL;
	ferry_spawn(f, d, args);
	ferry_wait_socket(f, d);
	tc_open(c, &f->addr);
	wait_threads(f->pid, "ferry-vcpu", vcpus);
}

/* quit: SHUTDOWN, ferry closes the connection and exits 0. */
static void ferry_quit(struct ferry_proc *f, struct scratch *d, struct tc *c)
{
	int st;

	quit(c);
	expect_event(c, "SHUTDOWN", "host-qmp-quit");
	cr_assert(tc_wait_eof(c), "ferry did not close the QMP connection");
	tc_close(c);
	st = ferry_wait_exit(f);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st,
		  slurp(d->errlog));
}

Test(prelaunch, ferry_S_runs_nothing_until_cont)
{
	struct ferry_proc f;
	struct scratch d;
	struct tc c;

	need_kvm();
	scratch_new(&d);
	/* Every vCPU thread exists and the guest has still written nothing. */
	ferry_start_prelaunch(&f, &d, &c, 2,
			      (const char *const[]){ "-smp", "2", "-pidfile", d.pidfile, NULL });
	prelaunch_setup(&c, d.serial);
	cont_and_see_the_guest(&c, d.serial);
	ferry_quit(&f, &d, &c);
	scratch_free(&d);
}

Test(prelaunch, ferry_quit_in_prelaunch_exits_0_and_cleans_up)
{
	struct ferry_proc f;
	struct scratch d;
	struct tc c;

	need_kvm();
	scratch_new(&d);
	ferry_start_prelaunch(&f, &d, &c, 1, (const char *const[]){ "-pidfile", d.pidfile, NULL });
	expect_prelaunch(&c);
	ferry_quit(&f, &d, &c);
	cr_assert(access(d.sock, F_OK) && errno == ENOENT, "the QMP socket is left behind");
	cr_assert(access(d.pidfile, F_OK) && errno == ENOENT, "the pidfile is left behind");
	cr_assert_eq(file_size(d.serial), 0, "the guest ran without cont");
	scratch_free(&d);
}

Test(prelaunch, ferry_S_without_qmp_is_refused)
{
	struct ferry_proc f;
	struct scratch d;
	char *log;
	int st;

	scratch_new(&d);
	ferry_spawn(&f, &d, (const char *const[]){ "-S", "-kernel", d.kernel, "-m", "64",
						   "-serial", "none", NULL });
	st = ferry_wait_exit(&f);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	log = slurp(d.errlog);
	cr_assert(strstr(log, "-S waits for QMP's cont, and there is no QMP: give -qmp "
			 "unix:PATH,server=on,wait=off too"), "%s", log);
	free(log);
	scratch_free(&d);
}

/* Folds one thread's "Uid:" line into *@arg: -2 none yet, -1 they differ. */
static void same_uid(FILE *status_file, void *arg)
{
	long *uid = arg;
	char line[256];

	while (fgets(line, sizeof(line), status_file)) {
		long r, eff;

		if (sscanf(line, "Uid: %ld %ld", &r, &eff) != 2)
			continue;
		if (r != eff || (*uid != -2 && *uid != r))
			*uid = -1;
		else if (*uid == -2)
			*uid = r;
	}
}

/* The real uid of every thread of @pid, or -1 when they differ. */
static long threads_uid(pid_t pid)
{
	long uid = -2;

	cr_assert_eq(for_each_thread(pid, "status", same_uid, &uid), 0, "ferry is gone");
	return uid;
}

Test(prelaunch, ferry_S_with_run_with_starts_every_thread_unprivileged)
{
	struct ferry_proc f;
	struct scratch d;
	struct tc c;

	need_kvm();
	if (geteuid())
		cr_skip_test("needs root to become nobody");
	scratch_new(&d);
	ferry_start_prelaunch(&f, &d, &c, 1,
			      (const char *const[]){ "-run-with", "user=nobody,keep-ipc-lock=on",
						     NULL });
	/* The loop thread, the vCPU thread and the main thread: all nobody, from the start. */
	cr_assert_eq(threads_uid(f.pid), 65534);
	expect_prelaunch(&c);
	cr_assert_eq(file_size(d.serial), 0, "the guest ran before cont");
	cont_and_see_the_guest(&c, d.serial);
	cr_assert_eq(threads_uid(f.pid), 65534);
	ferry_quit(&f, &d, &c);
	scratch_free(&d);
}
