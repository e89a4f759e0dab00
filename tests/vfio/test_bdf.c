// SPDX-License-Identifier: GPL-2.0-only
/* PCI address parsing and printing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vfio/vfio.h"

static void roundtrip(const char *in, const char *want)
{
	struct vfio_bdf bdf;
	struct vfio_err err = { 0 };
	char out[VFIO_BDF_STRLEN];

	cr_assert_eq(vfio_bdf_parse(in, &bdf, &err), 0, "'%s': %s", in, err.msg);
	cr_assert_eq(vfio_bdf_format(&bdf, out, sizeof(out)), 0);
	cr_assert_str_eq(out, want, "'%s' printed as '%s'", in, out);
}

Test(vfio_bdf, long_form)
{
	struct vfio_bdf bdf;

	cr_assert_eq(vfio_bdf_parse("0001:a2:1f.7", &bdf, NULL), 0);
	cr_assert_eq(bdf.domain, 1);
	cr_assert_eq(bdf.bus, 0xa2);
	cr_assert_eq(bdf.dev, 0x1f);
	cr_assert_eq(bdf.fn, 7);
	roundtrip("0000:00:03.0", "0000:00:03.0");
	roundtrip("FFFF:FF:1F.7", "ffff:ff:1f.7");
}

Test(vfio_bdf, short_form_is_domain_0)
{
	struct vfio_bdf bdf;

	cr_assert_eq(vfio_bdf_parse("00:03.0", &bdf, NULL), 0);
	cr_assert_eq(bdf.domain, 0);
	cr_assert_eq(bdf.dev, 3);
	roundtrip("06:12.2", "0000:06:12.2");
}

Test(vfio_bdf, malformed)
{
	static const char *const bad[] = {
		"", "0", "00:03", "00:03.", "00:03.8", "00:20.0", "0000:00:03.0 ",
		" 0000:00:03.0", "0000:00:03.0x", "000:00:03.0", "00000:00:03.0",
		"0000-00-03.0", "0000:0:03.0", "0000:00:3.0", "0000:00:03:0", "zz:00.0",
		"0000:00:03.10", "g000:00:03.0", "0000:00:03.-1", "0000::03.0",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vfio_bdf bdf = { .domain = 0x1234 };
		struct vfio_err err = { 0 };

		cr_expect_eq(vfio_bdf_parse(bad[i], &bdf, &err), -EINVAL, "'%s' accepted", bad[i]);
		cr_expect_eq(err.errnum, -EINVAL);
		/* The message quotes the input and shows the expected form. */
		cr_expect(strstr(err.msg, bad[i]) != NULL, "'%s': %s", bad[i], err.msg);
		cr_expect(strstr(err.msg, "DDDD:BB:DD.F") != NULL, "%s", err.msg);
		cr_expect_eq(bdf.domain, 0x1234, "'%s' changed the output", bad[i]);
	}
	cr_assert_eq(vfio_bdf_parse(NULL, &(struct vfio_bdf){ 0 }, NULL), -EINVAL);
}

Test(vfio_bdf, format_checks)
{
	struct vfio_bdf bdf = { .domain = 0, .bus = 1, .dev = 2, .fn = 3 };
	struct vfio_bdf same = bdf, other = bdf;
	char buf[VFIO_BDF_STRLEN];

	cr_assert_eq(vfio_bdf_format(&bdf, buf, sizeof(buf) - 1), -EINVAL);
	bdf.fn = 8;
	cr_assert_eq(vfio_bdf_format(&bdf, buf, sizeof(buf)), -EINVAL);
	cr_assert(vfio_bdf_equal(&same, &(struct vfio_bdf){ 0, 1, 2, 3 }));
	other.domain = 1;
	cr_assert_not(vfio_bdf_equal(&same, &other));
}
