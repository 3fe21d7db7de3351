/* A strict DER reader (X.690): one element at a time, definite lengths
 * only, minimal encodings, with names for tags in error messages. Used by
 * x509/ for certificates and CRLs. */
#include "der.h"

#include <stdio.h>

static const char *tag_name(uint8_t tag)
{
    switch (tag) {
    case DER_BOOLEAN:
        return "BOOLEAN";
    case DER_INTEGER:
        return "INTEGER";
    case DER_BIT_STRING:
        return "BIT STRING";
    case DER_OCTET_STRING:
        return "OCTET STRING";
    case DER_NULL:
        return "NULL";
    case DER_OID:
        return "OBJECT IDENTIFIER";
    case DER_UTC_TIME:
        return "UTCTime";
    case DER_GENERALIZED_TIME:
        return "GeneralizedTime";
    case DER_SEQUENCE:
        return "SEQUENCE";
    case DER_SET:
        return "SET";
    default:
        return "element";
    }
}

int hasp_der_next(hasp_rd *r, hasp_der_elem *e)
{
    const uint8_t *start = r->p;
    uint8_t tag, b;
    ENSURE_MSG(rd_left(r) >= 2, HASP_ERR_DECODE, "DER: truncated element (%zu bytes left)",
               rd_left(r));
    GUARD(rd_u8(r, &tag));
    /* X.509 needs no tag numbers above 30. */
    ENSURE_MSG((tag & 0x1f) != 0x1f, HASP_ERR_DECODE, "DER: high tag numbers are not supported");
    GUARD(rd_u8(r, &b));
    size_t len;
    if (b < 0x80) {
        len = b;
    } else {
        unsigned n = b & 0x7f;
        ENSURE_MSG(n != 0, HASP_ERR_DECODE, "DER: indefinite length is not allowed");
        ENSURE_MSG(n <= 4, HASP_ERR_DECODE, "DER: length of %u octets is too large", n);
        len = 0;
        for (unsigned i = 0; i < n; i++) {
            GUARD(rd_u8(r, &b));
            ENSURE_MSG(!(i == 0 && b == 0), HASP_ERR_DECODE,
                       "DER: length has a leading zero octet (not minimal)");
            len = (len << 8) | b;
        }
        ENSURE_MSG(len >= 0x80, HASP_ERR_DECODE,
                   "DER: long-form length %zu should use the short form", len);
    }
    ENSURE_MSG(len <= rd_left(r), HASP_ERR_DECODE,
               "DER: %s of %zu bytes runs past its container (%zu bytes left)", tag_name(tag), len,
               rd_left(r));
    e->tag = tag;
    GUARD(rd_bytes(r, len, &e->content.p));
    e->content.len = len;
    e->whole = start;
    e->whole_len = (size_t)(r->p - start);
    return 0;
}

int hasp_der_peek(const hasp_rd *r)
{
    if (rd_left(r) == 0) return -1;
    return r->p[0];
}

int hasp_der_expect(hasp_rd *r, uint8_t tag, hasp_der_elem *e)
{
    int t = hasp_der_peek(r);
    ENSURE_MSG(t == tag, HASP_ERR_DECODE, "DER: expected %s (tag 0x%02x), found %s", tag_name(tag),
               tag, t < 0 ? "the end of the data" : "another tag");
    return hasp_der_next(r, e);
}

int hasp_der_optional(hasp_rd *r, uint8_t tag, hasp_der_elem *e)
{
    if (hasp_der_peek(r) != tag) return 0;
    GUARD(hasp_der_next(r, e));
    return 1;
}

int hasp_der_end(const hasp_rd *r, const char *what)
{
    ENSURE_MSG(rd_left(r) == 0, HASP_ERR_DECODE, "DER: %zu unexpected bytes at the end of %s",
               rd_left(r), what);
    return 0;
}

static int integer_content_ok(hasp_rd c)
{
    ENSURE_MSG(c.len >= 1, HASP_ERR_DECODE, "DER: empty INTEGER");
    if (c.len >= 2) {
        ENSURE_MSG(!(c.p[0] == 0x00 && !(c.p[1] & 0x80)) && !(c.p[0] == 0xff && (c.p[1] & 0x80)),
                   HASP_ERR_DECODE, "DER: INTEGER is not minimally encoded");
    }
    return 0;
}

int hasp_der_integer(hasp_rd *r, hasp_rd *v)
{
    hasp_der_elem e;
    GUARD(hasp_der_expect(r, DER_INTEGER, &e));
    GUARD(integer_content_ok(e.content));
    *v = e.content;
    return 0;
}

int hasp_der_int64_content(hasp_rd c, int64_t *v)
{
    GUARD(integer_content_ok(c));
    ENSURE_MSG(!(c.p[0] & 0x80), HASP_ERR_DECODE, "DER: negative INTEGER where none is allowed");
    ENSURE_MSG(c.len <= 8, HASP_ERR_DECODE, "DER: INTEGER too large");
    uint64_t x = 0;
    for (size_t i = 0; i < c.len; i++)
        x = (x << 8) | c.p[i];
    *v = (int64_t)x;
    return 0;
}

int hasp_der_int64(hasp_rd *r, int64_t *v)
{
    hasp_rd c;
    GUARD(hasp_der_integer(r, &c));
    return hasp_der_int64_content(c, v);
}

int hasp_der_bool_content(hasp_rd c, int *v)
{
    ENSURE_MSG(c.len == 1 && (c.p[0] == 0 || c.p[0] == 0xff), HASP_ERR_DECODE,
               "DER: BOOLEAN must be one octet, 0x00 or 0xff");
    *v = c.p[0] != 0;
    return 0;
}

int hasp_der_bool(hasp_rd *r, int *v)
{
    hasp_der_elem e;
    GUARD(hasp_der_expect(r, DER_BOOLEAN, &e));
    return hasp_der_bool_content(e.content, v);
}

int hasp_der_oid_valid(hasp_rd c)
{
    ENSURE_MSG(c.len >= 1, HASP_ERR_DECODE, "DER: empty OBJECT IDENTIFIER");
    int start = 1;
    for (size_t i = 0; i < c.len; i++) {
        /* Sub-identifiers are minimal: no leading 0x80. */
        ENSURE_MSG(!(start && c.p[i] == 0x80), HASP_ERR_DECODE,
                   "DER: OBJECT IDENTIFIER is not minimally encoded");
        start = !(c.p[i] & 0x80);
    }
    ENSURE_MSG(start, HASP_ERR_DECODE, "DER: truncated OBJECT IDENTIFIER");
    return 0;
}

int hasp_der_oid(hasp_rd *r, hasp_rd *oid)
{
    hasp_der_elem e;
    GUARD(hasp_der_expect(r, DER_OID, &e));
    GUARD(hasp_der_oid_valid(e.content));
    *oid = e.content;
    return 0;
}

int hasp_der_bit_string_content(hasp_rd c, hasp_rd *bits, int *unused)
{
    ENSURE_MSG(c.len >= 1, HASP_ERR_DECODE, "DER: empty BIT STRING");
    uint8_t u = c.p[0];
    ENSURE_MSG(u <= 7, HASP_ERR_DECODE, "DER: BIT STRING with %u unused bits", u);
    ENSURE_MSG(!(c.len == 1 && u != 0), HASP_ERR_DECODE, "DER: empty BIT STRING with unused bits");
    if (u) {
        uint8_t last = c.p[c.len - 1];
        ENSURE_MSG((last & ((1u << u) - 1)) == 0, HASP_ERR_DECODE,
                   "DER: BIT STRING unused bits are not zero");
    }
    bits->p = c.p + 1;
    bits->len = c.len - 1;
    *unused = u;
    return 0;
}

int hasp_der_bit_string(hasp_rd *r, hasp_rd *bits, int *unused)
{
    hasp_der_elem e;
    GUARD(hasp_der_expect(r, DER_BIT_STRING, &e));
    return hasp_der_bit_string_content(e.content, bits, unused);
}

int hasp_der_octet_string(hasp_rd *r, hasp_rd *v)
{
    hasp_der_elem e;
    GUARD(hasp_der_expect(r, DER_OCTET_STRING, &e));
    *v = e.content;
    return 0;
}

int hasp_der_null(hasp_rd *r)
{
    hasp_der_elem e;
    GUARD(hasp_der_expect(r, DER_NULL, &e));
    ENSURE_MSG(e.content.len == 0, HASP_ERR_DECODE, "DER: NULL with contents");
    return 0;
}

int64_t hasp_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void hasp_time_str(int64_t t, char *out, size_t cap)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, cap, "%04lld-%02u-%02u %02u:%02u:%02u UTC", (long long)y, m, d,
             (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

static int digits(const uint8_t *p, int n, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        x = x * 10 + (unsigned)(p[i] - '0');
    }
    *v = x;
    return 0;
}

int hasp_der_time(hasp_rd *r, int64_t *t)
{
    hasp_der_elem e;
    GUARD(hasp_der_next(r, &e));
    const uint8_t *s = e.content.p;
    size_t n = e.content.len;
    unsigned year, mon, day, hh, mm, ss;
    const uint8_t *rest;
    if (e.tag == DER_UTC_TIME) {
        /* RFC 5280 4.1.2.5.1: YYMMDDHHMMSSZ; YY >= 50 is 19YY. */
        ENSURE_MSG(n == 13 && s[12] == 'Z' && digits(s, 2, &year) == 0, HASP_ERR_DECODE,
                   "DER: UTCTime must be YYMMDDHHMMSSZ");
        year += year >= 50 ? 1900 : 2000;
        rest = s + 2;
    } else if (e.tag == DER_GENERALIZED_TIME) {
        /* RFC 5280 4.1.2.5.2: YYYYMMDDHHMMSSZ, no fractional seconds. */
        ENSURE_MSG(n == 15 && s[14] == 'Z' && digits(s, 4, &year) == 0, HASP_ERR_DECODE,
                   "DER: GeneralizedTime must be YYYYMMDDHHMMSSZ");
        rest = s + 4;
    } else {
        FAIL(HASP_ERR_DECODE, "DER: expected UTCTime or GeneralizedTime");
    }
    ENSURE_MSG(digits(rest, 2, &mon) == 0 && digits(rest + 2, 2, &day) == 0 &&
                   digits(rest + 4, 2, &hh) == 0 && digits(rest + 6, 2, &mm) == 0 &&
                   digits(rest + 8, 2, &ss) == 0,
               HASP_ERR_DECODE, "DER: time has non-digit characters");
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    ENSURE_MSG(mon >= 1 && mon <= 12 && day >= 1 && day <= mdays[mon - 1] && hh <= 23 && mm <= 59 &&
                   ss <= 59,
               HASP_ERR_DECODE, "DER: time has a field out of range");
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    ENSURE_MSG(!(mon == 2 && day == 29 && !leap), HASP_ERR_DECODE,
               "DER: February 29 in a non-leap year");
    *t = hasp_days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

int hasp_der_oid_eq(hasp_rd oid, const uint8_t *bytes, size_t len)
{
    return oid.len == len && memcmp(oid.p, bytes, len) == 0;
}

/* Appends the decimal digits of v (after a dot unless first) at out + *o;
 * 0 when they did not all fit (out then holds what did, like snprintf). */
static int oid_arc(char *out, size_t cap, size_t *o, uint64_t v, int dot)
{
    char d[24];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (dot) d[n++] = '.';
    for (size_t i = 0; i < n; i++) {
        if (*o + 1 >= cap) {
            out[*o] = 0;
            return 0;
        }
        out[(*o)++] = d[n - 1 - i];
    }
    out[*o] = 0;
    return 1;
}

void hasp_der_oid_str(hasp_rd oid, char *out, size_t cap)
{
    size_t o = 0;
    uint64_t v = 0;
    int first = 1;
    if (cap)
        out[0] = 0;
    else
        return;
    for (size_t i = 0; i < oid.len; i++) {
        v = (v << 7) | (oid.p[i] & 0x7f);
        if (oid.p[i] & 0x80) continue;
        if (first) {
            unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
            if (!oid_arc(out, cap, &o, a, 0) || !oid_arc(out, cap, &o, v - a * 40, 1)) return;
            first = 0;
        } else if (!oid_arc(out, cap, &o, v, 1)) {
            return;
        }
        v = 0;
    }
}
