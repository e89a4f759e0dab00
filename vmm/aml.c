// SPDX-License-Identifier: GPL-2.0-only
/* The AML builder (vmm/aml.h); encodings per the ACPI 6.x spec, chapter 20. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/aml.h"

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_release(struct aml *a)
{
	free(a->buf);
	aml_init(a);
}

int aml_finish(struct aml *a, uint8_t **out, size_t *len)
{
	int err = a->err;

	if (!err && a->depth)
		err = -EINVAL;	/* an object left open */
	if (err) {
		aml_release(a);
		return err;
	}
	*out = a->buf;
	*len = a->len;
	a->buf = NULL;
	aml_release(a);
	return 0;
}

static bool aml_reserve(struct aml *a, size_t n)
{
	if (a->err)
		return false;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		uint8_t *b;

		while (cap < a->len + n)
			cap *= 2;
		b = realloc(a->buf, cap);
		if (!b) {
			a->err = -ENOMEM;
			return false;
		}
		a->buf = b;
		a->cap = cap;
	}
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned int n)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < n; i++)
		b[i] = v >> (8 * i);
	aml_bytes(a, b, n);
}

/* One NameSeg: up to four characters, padded with '_'. */
static void aml_nameseg(struct aml *a, const char *s, size_t n)
{
	char seg[4] = { '_', '_', '_', '_' };

	if (n < 1 || n > 4 || (s[0] >= '0' && s[0] <= '9')) {
		a->err = a->err ? a->err : -EINVAL;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
			a->err = a->err ? a->err : -EINVAL;
			return;
		}
		seg[i] = c;
	}
	aml_bytes(a, seg, 4);
}

void aml_name(struct aml *a, const char *path)
{
	const char *p = path;
	unsigned int nsegs = 1;

	if (*p == '\\')
		aml_byte(a, *p++);
	else
		while (*p == '^')
			aml_byte(a, *p++);
	if (!*p) {
		aml_byte(a, 0x00);	/* NullName: "\\" alone is the root */
		return;
	}
	for (const char *q = p; *q; q++)
		if (*q == '.')
			nsegs++;
	if (nsegs == 2) {
		aml_byte(a, 0x2e);	/* DualNamePrefix */
	} else if (nsegs > 2) {
		aml_byte(a, 0x2f);	/* MultiNamePrefix */
		aml_byte(a, nsegs);
	}
	while (nsegs--) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		aml_nameseg(a, p, n);
		p += n + (dot ? 1 : 0);
	}
}

void aml_int(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, 0x0a);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, 0x0b);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffffull) {
		aml_byte(a, 0x0c);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, 0x0e);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, 0x0d);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];

	if (strlen(id) != 7) {
		a->err = a->err ? a->err : -EINVAL;
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			a->err = a->err ? a->err : -EINVAL;
			return;
		}
	}
	for (int i = 3; i < 7; i++) {
		if (hexval(id[i]) < 0) {
			a->err = a->err ? a->err : -EINVAL;
			return;
		}
	}
	/* Three 5-bit letters (A = 1) then four hex digits, big-endian in bytes. */
	b[0] = ((id[0] - 0x40) << 2) | ((id[1] - 0x40) >> 3);
	b[1] = (((id[1] - 0x40) & 7) << 5) | (id[2] - 0x40);
	b[2] = hexval(id[3]) << 4 | hexval(id[4]);
	b[3] = hexval(id[5]) << 4 | hexval(id[6]);
	aml_byte(a, 0x0c);
	aml_bytes(a, b, 4);
}

static void aml_open(struct aml *a, bool buffer)
{
	if (a->depth == AML_MAX_DEPTH) {
		a->err = a->err ? a->err : -EINVAL;
		return;
	}
	a->open[a->depth].start = a->len;
	a->open[a->depth].buffer = buffer;
	a->depth++;
}

/* Inserts @n bytes at @at. */
static void aml_insert(struct aml *a, size_t at, const uint8_t *p, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memmove(a->buf + at + n, a->buf + at, a->len - at);
	memcpy(a->buf + at, p, n);
	a->len += n;
}

/* Encodes a PkgLength covering @body bytes plus itself; returns its size. */
static size_t aml_pkglen(uint8_t out[4], size_t body)
{
	size_t n, total;

	for (n = 1; n <= 4; n++) {
		total = body + n;
		if (n == 1 && total < 0x40) {
			out[0] = total;
			return 1;
		}
		if (n > 1 && total < (1ul << (4 + 8 * (n - 1)))) {
			out[0] = (n - 1) << 6 | (total & 0x0f);
			for (size_t i = 1; i < n; i++)
				out[i] = total >> (4 + 8 * (i - 1));
			return n;
		}
	}
	return 0;
}

void aml_end(struct aml *a)
{
	uint8_t len[4];
	size_t start, n;

	if (a->err)
		return;
	if (!a->depth) {
		a->err = -EINVAL;
		return;
	}
	a->depth--;
	start = a->open[a->depth].start;
	if (a->open[a->depth].buffer) {
		/* BufferSize precedes the bytes: encode it, then move it in front. */
		size_t size = a->len - start, before = a->len;
		uint8_t tmp[9];

		aml_int(a, size);
		if (a->err)
			return;
		n = a->len - before;
		memcpy(tmp, a->buf + before, n);
		a->len = before;
		aml_insert(a, start, tmp, n);
	}
	n = aml_pkglen(len, a->len - start);
	if (!n) {
		a->err = -E2BIG;
		return;
	}
	aml_insert(a, start, len, n);
}

void aml_name_decl(struct aml *a, const char *name)
{
	aml_byte(a, 0x08);
	aml_name(a, name);
}

void aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, 0x10);
	aml_open(a, false);
	aml_name(a, path);
}

void aml_device_begin(struct aml *a, const char *name)
{
	aml_bytes(a, "\x5b\x82", 2);
	aml_open(a, false);
	aml_name(a, name);
}

void aml_method_begin(struct aml *a, const char *name, unsigned int nargs, bool serialized)
{
	if (nargs > 7)
		a->err = a->err ? a->err : -EINVAL;
	aml_byte(a, 0x14);
	aml_open(a, false);
	aml_name(a, name);
	aml_byte(a, (nargs & 7) | (serialized ? 0x08 : 0));
}

void aml_if_begin(struct aml *a)
{
	aml_byte(a, 0xa0);
	aml_open(a, false);
}

void aml_else_begin(struct aml *a)
{
	aml_byte(a, 0xa1);
	aml_open(a, false);
}

void aml_package_begin(struct aml *a, unsigned int nelems)
{
	if (nelems > 0xff)
		a->err = a->err ? a->err : -EINVAL;
	aml_byte(a, 0x12);
	aml_open(a, false);
	aml_byte(a, nelems);
}

void aml_buffer_begin(struct aml *a)
{
	aml_byte(a, 0x11);
	aml_open(a, true);
}

void aml_opregion(struct aml *a, const char *name, uint8_t space, uint64_t offset,
		  uint64_t len)
{
	aml_bytes(a, "\x5b\x80", 2);
	aml_name(a, name);
	aml_byte(a, space);
	aml_int(a, offset);
	aml_int(a, len);
}

void aml_field_begin(struct aml *a, const char *region, uint8_t flags)
{
	aml_bytes(a, "\x5b\x81", 2);
	aml_open(a, false);
	aml_name(a, region);
	aml_byte(a, flags);
}

static void aml_field_len(struct aml *a, unsigned int bits)
{
	uint8_t len[4];
	size_t n;

	/* A field's PkgLength is a plain bit count: it does not count itself. */
	if (bits < 0x40) {
		aml_byte(a, bits);
		return;
	}
	n = bits < (1u << 12) ? 2 : bits < (1u << 20) ? 3 : 4;
	len[0] = (n - 1) << 6 | (bits & 0x0f);
	for (size_t i = 1; i < n; i++)
		len[i] = bits >> (4 + 8 * (i - 1));
	aml_bytes(a, len, n);
}

void aml_field_unit(struct aml *a, const char *name, unsigned int bits)
{
	aml_nameseg(a, name, strlen(name));
	aml_field_len(a, bits);
}

void aml_field_skip(struct aml *a, unsigned int bits)
{
	aml_byte(a, 0x00);
	aml_field_len(a, bits);
}

/* ---- Resource descriptors (ACPI 6.x section 6.4) ---- */

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, 0x47);	/* small item 0x08, 7 bytes */
	aml_byte(a, 0x01);	/* 16-bit decode */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_byte(a, align);
	aml_byte(a, len);
}

void aml_res_irq(struct aml *a, uint16_t mask)
{
	aml_byte(a, 0x22);	/* small item 0x04, 2 bytes: edge, active high */
	aml_le(a, mask, 2);
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len, bool writable)
{
	aml_byte(a, 0x86);
	aml_le(a, 9, 2);
	aml_byte(a, writable ? 1 : 0);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

#define RES_PRODUCER_FIXED 0x0c	/* producer, positive decode, min and max fixed */

static void aml_res_addr(struct aml *a, uint8_t tag, unsigned int width, uint8_t type,
			 uint8_t type_flags, uint64_t min, uint64_t max)
{
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * width, 2);
	aml_byte(a, type);
	aml_byte(a, RES_PRODUCER_FIXED);
	aml_byte(a, type_flags);
	aml_le(a, 0, width);		/* granularity */
	aml_le(a, min, width);
	aml_le(a, max, width);
	aml_le(a, 0, width);		/* translation */
	aml_le(a, max - min + 1, width);
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_addr(a, 0x88, 2, 2, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_addr(a, 0x88, 2, 1, 0x03 /* entire range */, min, max);
}

/* Memory type flags: bit 0 read-write, bits 1-2 0 non-cacheable, 3 prefetchable. */
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool prefetchable)
{
	aml_res_addr(a, 0x87, 4, 0, prefetchable ? 0x07 : 0x01, min, max);
}

void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool prefetchable)
{
	aml_res_addr(a, 0x8a, 8, 0, prefetchable ? 0x07 : 0x01, min, max);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79);
	aml_byte(a, 0x00);	/* checksum 0: "treat as valid" */
}
