// SPDX-License-Identifier: GPL-2.0-only
/*
 * ferry's entry point: parse the command line, build the machine, run it
 * until the guest powers off (exit 0) or something fails (exit 1).
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

int main(int argc, char **argv)
{
	struct main_signals sigs = { .fd = -1 };
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
	if (opts.qmp) {
		fprintf(stderr, "ferry: -qmp %s: the QMP server is not part of this build\n",
			opts.qmp);
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
	if (opts.pidfile && main_write_pidfile(opts.pidfile))
		goto out_sig;
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
out_sig:
	vmm_loop_del_fd(vmm_get_loop(vmm), sigs.fd);
out_vmm:
	vmm_free(vmm);
	if (sigs.fd >= 0)
		close(sigs.fd);
out:
	cli_opts_free(&opts);
	return status;
}
