/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: a small AML (ACPI Machine Language) byte-code builder, so the
 * DSDT is generated per machine (one hot-plug slot per device, later) instead
 * of shipped as a precompiled blob.
 *
 * Objects with a PkgLength are opened with aml_*_begin() and closed with
 * aml_end(); the length is patched in at aml_end().  Errors (out of memory,
 * a bad name, unbalanced nesting) are sticky and reported by aml_finish(), so
 * a builder function can emit a whole tree and check once.
 */
#ifndef FERRY_VMM_AML_H
#define FERRY_VMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *buf;
	size_t len, cap;
	struct {
		size_t start;	/* where the PkgLength goes */
		bool buffer;	/* a Buffer: its size is inserted too */
	} open[AML_MAX_DEPTH];
	int depth;
	int err;
};

/* Opcodes used as plain bytes between the structured calls. */
enum {
	AML_ZERO = 0x00,	/* also the "no target" NullName */
	AML_ONE = 0x01,
	AML_STORE = 0x70,
	AML_AND = 0x7b,
	AML_OR = 0x7d,
	AML_SHIFT_LEFT = 0x79,
	AML_SHIFT_RIGHT = 0x7a,
	AML_NOTIFY = 0x86,
	AML_LAND = 0x90,
	AML_LNOT = 0x92,
	AML_LEQUAL = 0x93,
	AML_RETURN = 0xa4,
	AML_LOCAL0 = 0x60,
	AML_ARG0 = 0x68,
	AML_ONES = 0xff,
};

/* Address spaces of OperationRegion. */
enum { AML_SPACE_MEMORY = 0, AML_SPACE_IO = 1, AML_SPACE_PCI_CONFIG = 2 };

/* Field flags: access type in bits 0-3, lock rule bit 4, update rule bits 5-6. */
enum { AML_FIELD_BYTE = 1, AML_FIELD_WORD = 2, AML_FIELD_DWORD = 3,
       AML_FIELD_WRITE_AS_ZEROS = 0x40 };

void aml_init(struct aml *a);
/* 0 and the byte code in @out/@len (the caller frees it), or a negative errno. */
int aml_finish(struct aml *a, uint8_t **out, size_t *len);
void aml_release(struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* A NameString: "\_SB.PCI0", "PCI0", "^PCI0"; each segment 1-4 chars [A-Z0-9_]. */
void aml_name(struct aml *a, const char *path);
/* The shortest integer encoding (Zero, One, Ones, Byte/Word/DWord/QWord). */
void aml_int(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* "PNP0A08" as a compressed EISA id (a DWord). */
void aml_eisaid(struct aml *a, const char *id);

/* Name(@name, <the object emitted next>). */
void aml_name_decl(struct aml *a, const char *name);
void aml_scope_begin(struct aml *a, const char *path);
void aml_device_begin(struct aml *a, const char *name);
void aml_method_begin(struct aml *a, const char *name, unsigned int nargs, bool serialized);
/* If (<predicate emitted next>) { ... }; Else { ... } follows an If's aml_end(). */
void aml_if_begin(struct aml *a);
void aml_else_begin(struct aml *a);
void aml_package_begin(struct aml *a, unsigned int nelems);
void aml_buffer_begin(struct aml *a);
void aml_end(struct aml *a);

void aml_opregion(struct aml *a, const char *name, uint8_t space, uint64_t offset,
		  uint64_t len);
void aml_field_begin(struct aml *a, const char *region, uint8_t flags);
void aml_field_unit(struct aml *a, const char *name, unsigned int bits);
void aml_field_skip(struct aml *a, unsigned int bits);

/* ---- Resource descriptors, inside a aml_buffer_begin() (ResourceTemplate) ---- */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq(struct aml *a, uint16_t mask);
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len, bool writable);
/* Producer ranges of a bridge's _CRS (min and max fixed, positive decode). */
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool prefetchable);
void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max, bool prefetchable);
void aml_res_end(struct aml *a);

#endif /* FERRY_VMM_AML_H */
