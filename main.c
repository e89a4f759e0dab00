// SPDX-License-Identifier: GPL-2.0-only
/*
 * ferry's entry point and composition root: parse the command line, build the
 * machine, put the QMP server on top of it, run until the guest powers off
 * (exit 0) or something fails (exit 1).  It lives outside the layers because
 * it is the one place that sees them all: qmp/ sits above vmm/, so vmm/ may
 * not start the QMP server itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ferry-config.h"
#include "vmm/cli.h"
#include "vmm/privs.h"
#include "qmp/qmp.h"
#include "vmm/vmm.h"

struct main_signals {
	int fd;
	struct vmm *vmm;
};

/* Runs on the loop thread: a host signal ends the machine like QMP quit. */
static void main_on_signal(void *opaque, uint32_t events)
{
	struct main_signals *s = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(s->fd, &si, sizeof(si)) != sizeof(si))
		return;
	fprintf(stderr, "ferry: terminating on signal %u (%s)\n", si.ssi_signo,
		strsignal((int)si.ssi_signo));
	vmm_request_stop(s->vmm, VMM_STOP_HOST);
}

static int main_write_pidfile(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
		int e = errno;

		fprintf(stderr, "ferry: -pidfile %s: %s\n", path, strerror(e));
		return -e;
	}
	return 0;
}

static int main_drop_privileges(const struct privs_target *t, unsigned long long ram_size)
{
	char err[512], warn[256];

	if (!t->keep_ipc_lock &&
	    privs_raise_memlock(privs_memlock_need(ram_size), err, sizeof(err)))
		goto err;
	if (privs_drop(t, err, sizeof(err), warn, sizeof(warn)))
		goto err;
	if (warn[0])
		fprintf(stderr, "ferry: warning: %s\n", warn);
	return 0;
err:
	fprintf(stderr, "ferry: %s\n", err);
	return -1;
}

int main(int argc, char **argv)
{
	struct main_signals sigs = { .fd = -1 };
	struct qmp_vmm_machine *qmp_machine = NULL;
	struct qmp_listen_opts qmp_opts;
	struct qmp_server *qmp = NULL;
	struct privs_target run_as;
	struct cli_opts opts;
	struct vmm *vmm = NULL;
	enum vmm_stop_reason why;
	sigset_t mask;
	char err[512];
	int status = 1;

	if (cli_parse(argc, argv, &opts, err, sizeof(err))) {
		fprintf(stderr, "ferry: %s\n", err);
		goto out;
	}
	if (opts.action == CLI_HELP) {
		cli_usage(stdout);
		status = 0;
		goto out;
	}
	if (opts.action == CLI_VERSION) {
		printf("ferry %s\n", FERRY_VERSION);
		status = 0;
		goto out;
	}
	if (opts.qmp && qmp_parse_listen_opts(opts.qmp, &qmp_opts, err, sizeof(err))) {
		fprintf(stderr, "ferry: -qmp %s: %s\n", opts.qmp, err);
		goto out;
	}
	/* An unknown user, or no right to change user, is refused before anything starts. */
	if (opts.run_as && privs_resolve(opts.run_as, opts.keep_ipc_lock, &run_as, err,
					 sizeof(err))) {
		fprintf(stderr, "ferry: %s\n", err);
		goto out;
	}

	/*
	 * Every thread inherits this mask, so these signals only ever arrive
	 * through the signalfd, on the loop thread.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (vmm_new(&opts.vm, &vmm, err, sizeof(err))) {
		fprintf(stderr, "ferry: %s\n", err);
		goto out;
	}
	sigs.vmm = vmm;
	sigs.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigs.fd < 0 || vmm_loop_add_fd(vmm_get_loop(vmm), sigs.fd, EPOLLIN,
					   main_on_signal, &sigs)) {
		fprintf(stderr, "ferry: cannot watch for signals: %s\n", strerror(errno));
		goto out_vmm;
	}
	if (opts.qmp) {
		struct qmp_server_config cfg = {
			.path = qmp_opts.path,
			.machine = &qmp_vmm_machine_ops,
		};
		int ret = qmp_vmm_machine_new(vmm, &qmp_machine);

		if (ret) {
			fprintf(stderr, "ferry: QMP: %s\n", strerror(-ret));
			goto out_sig;
		}
		cfg.machine_opaque = qmp_machine;
		if (qmp_server_new(vmm_get_loop(vmm), &cfg, &qmp, err, sizeof(err))) {
			fprintf(stderr, "ferry: -qmp %s: %s\n", opts.qmp, err);
			goto out_sig;
		}
		ret = qmp_server_start(qmp);
		if (ret) {
			fprintf(stderr, "ferry: -qmp %s: cannot serve: %s\n", opts.qmp,
				strerror(-ret));
			goto out_qmp;
		}
	}
	if (opts.pidfile && main_write_pidfile(opts.pidfile))
		goto out_qmp;
	/*
	 * Everything privileged is done (KVM, RAM, the -device's, the QMP
	 * socket, the pidfile) and no thread runs yet: vmm_start() creates
	 * them, so they all start as the unprivileged user.  With -S too: it
	 * creates the same threads, only the vCPUs wait in them for QMP's cont
	 * (prelaunch), so no thread is ever created after the drop.
	 */
	if (opts.run_as && main_drop_privileges(&run_as, opts.vm.ram_size))
		goto out_pid;
	if (vmm_start(vmm, err, sizeof(err))) {
		fprintf(stderr, "ferry: %s\n", err);
		goto out_pid;
	}
	why = vmm_wait(vmm);
	switch (why) {
	case VMM_STOP_POWEROFF:
	case VMM_STOP_HOST:
		status = 0;
		break;
	case VMM_STOP_RESET:
		/* -no-reboot, as QEMU's: a reset ends the run, successfully. */
		fprintf(stderr, "ferry: the guest reset (-no-reboot): exiting\n");
		status = 0;
		break;
	case VMM_STOP_NONE:
	case VMM_STOP_ERROR:
		fprintf(stderr, "ferry: stopped: %s\n", vmm_stop_reason_name(why));
		status = 1;
		break;
	}

out_pid:
	if (opts.pidfile)
		unlink(opts.pidfile);
out_qmp:
	/* Before vmm_free(): queued events (SHUTDOWN) still reach the clients. */
	qmp_server_free(qmp);
out_sig:
	vmm_loop_del_fd(vmm_get_loop(vmm), sigs.fd);
out_vmm:
	vmm_free(vmm);
	/* After vmm_free(): no vCPU thread can be inside its event handler. */
	qmp_vmm_machine_free(qmp_machine);
	if (sigs.fd >= 0)
		close(sigs.fd);
out:
	cli_opts_free(&opts);
	return status;
}
