/* A strict DER reader (X.690 as restricted by RFC 5280): definite,
 * minimal lengths; low tag numbers only; no trailing data where the caller
 * asks for none. Every function reads from a hasp_rd (codec/cursor.h) and
 * fails with HASP_ERR_DECODE and a sentence naming what was wrong. */
#ifndef HASP_DER_H
#define HASP_DER_H

#include <stddef.h>
#include <stdint.h>

#include "cursor.h"

/* Identifier octets: class | constructed | number. */
#define DER_UNIVERSAL 0x00
#define DER_APPLICATION 0x40
#define DER_CONTEXT 0x80
#define DER_PRIVATE 0xc0
#define DER_CONSTRUCTED 0x20

#define DER_BOOLEAN 0x01
#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_OCTET_STRING 0x04
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_UTF8_STRING 0x0c
#define DER_PRINTABLE_STRING 0x13
#define DER_T61_STRING 0x14
#define DER_IA5_STRING 0x16
#define DER_UTC_TIME 0x17
#define DER_GENERALIZED_TIME 0x18
#define DER_VISIBLE_STRING 0x1a
#define DER_UNIVERSAL_STRING 0x1c
#define DER_BMP_STRING 0x1e
#define DER_SEQUENCE 0x30
#define DER_SET 0x31
/* Context-specific tags: [n] primitive and [n] constructed. */
#define DER_CTX(n) (DER_CONTEXT | (n))
#define DER_CTX_CONS(n) (DER_CONTEXT | DER_CONSTRUCTED | (n))

/* One element: its tag, its contents, and the whole encoding. */
typedef struct hasp_der_elem {
    uint8_t tag;
    hasp_rd content;      /* the contents octets */
    const uint8_t *whole; /* identifier .. end of contents */
    size_t whole_len;
} hasp_der_elem;

/* Read the next element, whatever its tag. */
int hasp_der_next(hasp_rd *r, hasp_der_elem *e);
/* Read the next element, which must have this tag. */
int hasp_der_expect(hasp_rd *r, uint8_t tag, hasp_der_elem *e);
/* The next element's tag, or -1 at the end (does not consume). */
int hasp_der_peek(const hasp_rd *r);
/* If the next element has this tag, read it and return 1; else 0. */
int hasp_der_optional(hasp_rd *r, uint8_t tag, hasp_der_elem *e);
/* Fail unless r is exhausted; what names the enclosing structure. */
int hasp_der_end(const hasp_rd *r, const char *what);

/* Typed readers: each reads one element with its universal tag. */
/* INTEGER, minimally encoded; *v is the contents (two's complement). */
int hasp_der_integer(hasp_rd *r, hasp_rd *v);
/* A small non-negative INTEGER into *v (fails if negative or > INT64_MAX). */
int hasp_der_int64(hasp_rd *r, int64_t *v);
/* Same, for contents already extracted (e.g. from an implicit tag). */
int hasp_der_int64_content(hasp_rd c, int64_t *v);
/* BOOLEAN: DER allows only 0x00 and 0xff. */
int hasp_der_bool(hasp_rd *r, int *v);
int hasp_der_bool_content(hasp_rd c, int *v);
/* OBJECT IDENTIFIER: validated; *oid is the contents octets. */
int hasp_der_oid(hasp_rd *r, hasp_rd *oid);
int hasp_der_oid_valid(hasp_rd oid);
/* BIT STRING: *bits gets the contents after the unused-bits octet and
 * *unused the number of unused bits (0..7, zero-valued as DER requires). */
int hasp_der_bit_string(hasp_rd *r, hasp_rd *bits, int *unused);
int hasp_der_bit_string_content(hasp_rd c, hasp_rd *bits, int *unused);
int hasp_der_octet_string(hasp_rd *r, hasp_rd *v);
int hasp_der_null(hasp_rd *r);
/* UTCTime or GeneralizedTime, strictly as RFC 5280 4.1.2.5 allows
 * (YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ, no fractions, no offsets), into
 * seconds since the epoch. */
int hasp_der_time(hasp_rd *r, int64_t *t);

/* 1 when the OID contents equal the given bytes. */
int hasp_der_oid_eq(hasp_rd oid, const uint8_t *bytes, size_t len);
#define DER_OID_EQ(oid, lit) hasp_der_oid_eq((oid), (const uint8_t *)(lit), sizeof(lit) - 1)
/* Dotted-decimal text of an OID ("2.5.29.19"), truncated to cap. */
void hasp_der_oid_str(hasp_rd oid, char *out, size_t cap);

/* Calendar helpers. */
int64_t hasp_days_from_civil(int64_t y, unsigned m, unsigned d);
/* "2024-01-01 00:00:00 UTC" */
void hasp_time_str(int64_t t, char *out, size_t cap);

#endif
