// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>

#include "ferry-config.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ferry [options]\n"
		"  --help       show this help\n"
		"  --version    show the version\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-version")) {
			printf("ferry %s\n", FERRY_VERSION);
			return 0;
		}
		fprintf(stderr, "ferry: unknown option '%s' (try --help)\n", argv[i]);
		return 1;
	}
	usage(stderr);
	return 1;
}
