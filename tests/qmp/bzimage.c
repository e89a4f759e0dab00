// SPDX-License-Identifier: GPL-2.0-only
/* The QMP machine tests' bzImage (bzimage.h). */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "tests/qmp/bzimage.h"

#define SETUP_SECTS	4
/* The protected-mode kernel follows boot sector and setup; startup_64 is 0x200 into it. */
#define STARTUP_64	((SETUP_SECTS + 1) * 512 + 0x200)

void bzimage_write(int fd, const uint8_t *code, size_t len)
{
	static uint8_t p[64 * 1024];

	cr_assert_leq(len, 512, "startup_64 code of %zu bytes", len);
	memset(p, 0, sizeof(p));
	p[0x1f1] = SETUP_SECTS;			/* setup_sects */
	p[0x201] = 0x6a;			/* jump */
	memcpy(p + 0x202, "HdrS", 4);
	p[0x206] = 0x0f;			/* protocol 2.15 */
	p[0x207] = 0x02;
	p[0x211] = 1;				/* LOADED_HIGH */
	p[0x234] = 1;				/* relocatable */
	p[0x236] = 1;				/* XLF_KERNEL_64 */
	p[0x238] = 0xff;			/* cmdline_size */
	p[0x25b] = 0x01;			/* pref_address 16 MiB */
	p[0x262] = 0x10;			/* init_size 1 MiB */
	memcpy(p + STARTUP_64, code, len);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, sizeof(p)), (ssize_t)sizeof(p));
}
