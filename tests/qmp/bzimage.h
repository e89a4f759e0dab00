/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The "kernel" the QMP machine tests boot: a bzImage that is only a boot
 * protocol 2.15 header (64-bit, relocatable, preferred at 16 MiB) and the
 * test's own code at its 64-bit entry (startup_64), so that vmm/'s real
 * loader takes it as it takes Linux.
 */
#ifndef FERRY_TESTS_QMP_BZIMAGE_H
#define FERRY_TESTS_QMP_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Writes the image with @code (at most 512 bytes) at startup_64 to @fd; fails the test on error. */
void bzimage_write(int fd, const uint8_t *code, size_t len);

#endif
