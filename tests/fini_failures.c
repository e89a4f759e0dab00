// SPDX-License-Identifier: GPL-2.0-only
/*
 * A failed check in a test's .fini counts as a failed test.
 *
 * Criterion 2.4 prints an assertion that fails in a .fini but still counts
 * the test as passed and exits 0 (Criterion issues #211, #242).  Our
 * teardowns are where the leak checks live (fds left open, pinned pages,
 * eventfds, model state), so without this they could never fail a run.
 *
 * POST_FINI sees the assertions of the whole test, .fini included: one that
 * failed in a test whose status is not FAILED failed in its .fini.  POST_ALL
 * then moves those tests from passed to failed in the global stats, which
 * the synthesis line and the runner's exit status are taken from.
 *
 * Every test executable links this file whole, through criterion_dep
 * (tests/meson.build); the hooks run in the runner process, so a plain
 * counter is enough.
 */
#include <stdio.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>

static size_t fini_failed_tests;

ReportHook(POST_FINI)(struct criterion_test_stats *stats)
{
	if (!stats->failed_asserts || stats->test_status == CR_STATUS_FAILED)
		return;
	fini_failed_tests++;
	fprintf(stderr, "[FAIL] %s::%s: a check in its teardown (.fini) failed (see above)\n",
		stats->test->category, stats->test->name);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	if (!fini_failed_tests)
		return;
	stats->tests_failed += fini_failed_tests;
	stats->tests_passed -= fini_failed_tests;
}
