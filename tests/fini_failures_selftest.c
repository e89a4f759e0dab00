// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one test whose teardown check fails on purpose: the runner must exit
 * non-zero (meson runs it with should_fail).  Without fini_failures.c
 * Criterion 2.4 would count it as passed and the run would be an
 * unexpected pass.
 */
#include <criterion/criterion.h>

static void teardown_finds_a_leak(void)
{
	cr_expect(0, "a deliberately failed teardown check (fini_failures_selftest)");
}

Test(fini_failures, a_failed_teardown_check_fails_the_run, .fini = teardown_finds_a_leak)
{
	cr_assert(1);
}
