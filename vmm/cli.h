/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: ferry's command line, in QEMU's style (single or double
 * dash, the option's value in the next argument).  Parsing only: nothing is
 * opened or checked on disk here.
 */
#ifndef FERRY_VMM_CLI_H
#define FERRY_VMM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vmm/vmm.h"

#define CLI_DEFAULT_RAM		(512ULL << 20)

enum cli_action {
	CLI_RUN,
	CLI_HELP,
	CLI_VERSION,
};

/*
 * -add-fd fd=N,set=S[,opaque=TEXT] (QEMU's): fd N, inherited from the
 * manager, is member of fd set S, and an option names it as /dev/fdset/S.
 * ferry's users of fd sets: -device passthrough,...,fd=/dev/fdset/S (the
 * group node, or with iommufd= the device cdev), rewritten by cli_parse()
 * to fd=N with the set's first fd.
 */
struct cli_fdset_fd {
	int fd;
	unsigned int set;
	const char *opaque;	/* NULL when not given; for the reader only */
};

struct cli_opts {
	enum cli_action action;
	struct vmm_config vm;		/* strings point into argv or into @owned */
	const char *pidfile;
	const char *qmp;		/* -qmp spec, stored for the QMP server */
	const char *run_as;		/* -run-with user=, resolved by vmm/privs.c */
	bool keep_ipc_lock;		/* -run-with ...,keep-ipc-lock=on */
	struct vmm_device_config *devices;
	unsigned int nr_devices;
	struct vmm_iommufd_config *iommufds;	/* -object iommufd */
	unsigned int nr_iommufds;
	struct cli_fdset_fd *fdset_fds;	/* -add-fd, in command-line order */
	unsigned int nr_fdset_fds;
	char **owned;			/* strings the parser allocated */
	unsigned int nr_owned;
};

/*
 * Fills @opts from argv.  Returns 0, or -EINVAL with a sentence in @err
 * naming the option and what is wrong.  cli_opts_free() must be called
 * either way.
 */
int cli_parse(int argc, char **argv, struct cli_opts *opts, char *err, size_t errlen);
void cli_opts_free(struct cli_opts *opts);

/* Parses a -m size: a plain number is MiB; K, M, G, T suffixes (also KiB, MB, ...). */
int cli_parse_size(const char *text, unsigned long long *bytes);

void cli_usage(FILE *out);

#endif /* FERRY_VMM_CLI_H */
