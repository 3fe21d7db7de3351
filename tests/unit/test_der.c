/* Unit tests for src/codec/der.c and src/codec/pem.c: the strict DER
 * reader, times, base64 and PEM. */
#include <stdlib.h>
#include <string.h>

#include "codec/der.h"
#include "codec/pem.h"
#include "test.h"

static hasp_rd rd_hex(const char *hex, uint8_t *buf, size_t cap)
{
    return hasp_rd_init(buf, test_unhex(hex, buf, cap));
}

static void test_lengths(void)
{
    uint8_t b[300];
    hasp_der_elem e;
    hasp_rd r = rd_hex("0403616263", b, sizeof(b));
    CHECK(hasp_der_next(&r, &e) == 0 && e.tag == 0x04 && e.content.len == 3 && rd_left(&r) == 0,
          "short length");
    CHECK(e.whole == b && e.whole_len == 5, "whole encoding view");
    r = rd_hex("04820003616263", b, sizeof(b));
    CHECK(hasp_der_next(&r, &e) == HASP_ERR_DECODE, "non-minimal long length refused");
    r = rd_hex("048103616263", b, sizeof(b));
    CHECK(hasp_der_next(&r, &e) == HASP_ERR_DECODE, "long form for a short length refused");
    r = rd_hex("30800000", b, sizeof(b));
    CHECK(hasp_der_next(&r, &e) == HASP_ERR_DECODE, "indefinite length refused");
    r = rd_hex("040461626364", b, 5);
    CHECK(hasp_der_next(&r, &e) == HASP_ERR_DECODE, "length past the end refused");
    r = rd_hex("1f2001ff", b, sizeof(b));
    CHECK(hasp_der_next(&r, &e) == HASP_ERR_DECODE, "high tag number refused");
    /* 0x81 0x80: a 128-byte element in long form is fine. */
    b[0] = 0x04;
    b[1] = 0x81;
    b[2] = 0x80;
    memset(b + 3, 0x41, 128);
    r = hasp_rd_init(b, 131);
    CHECK(hasp_der_next(&r, &e) == 0 && e.content.len == 128, "long form for 128 bytes");
    r = rd_hex("0500", b, sizeof(b));
    CHECK(hasp_der_null(&r) == 0 && hasp_der_end(&r, "x") == 0, "NULL, then the end");
    r = rd_hex("050000", b, sizeof(b));
    CHECK(hasp_der_null(&r) == 0 && hasp_der_end(&r, "x") == HASP_ERR_DECODE,
          "trailing data detected");
    r = rd_hex("0500", b, sizeof(b));
    CHECK(hasp_der_expect(&r, DER_SEQUENCE, &e) == HASP_ERR_DECODE, "wrong tag refused");
    r = rd_hex("a003020102", b, sizeof(b));
    CHECK(hasp_der_peek(&r) == DER_CTX_CONS(0) && hasp_der_optional(&r, DER_CTX_CONS(1), &e) == 0 &&
              hasp_der_optional(&r, DER_CTX_CONS(0), &e) == 1,
          "optional context tags");
}

static void test_primitives(void)
{
    uint8_t b[64];
    hasp_rd r, v;
    int64_t i64;
    int bo, unused;
    r = rd_hex("020100", b, sizeof(b));
    CHECK(hasp_der_int64(&r, &i64) == 0 && i64 == 0, "INTEGER 0");
    r = rd_hex("02020080", b, sizeof(b));
    CHECK(hasp_der_int64(&r, &i64) == 0 && i64 == 128, "INTEGER 128");
    r = rd_hex("0202007f", b, sizeof(b));
    CHECK(hasp_der_integer(&r, &v) == HASP_ERR_DECODE, "non-minimal INTEGER refused");
    r = rd_hex("0202ff80", b, sizeof(b));
    CHECK(hasp_der_integer(&r, &v) == HASP_ERR_DECODE, "non-minimal negative INTEGER refused");
    r = rd_hex("0200", b, sizeof(b));
    CHECK(hasp_der_integer(&r, &v) == HASP_ERR_DECODE, "empty INTEGER refused");
    r = rd_hex("0201ff", b, sizeof(b));
    CHECK(hasp_der_int64(&r, &i64) == HASP_ERR_DECODE, "negative where not allowed");
    r = rd_hex("0101ff", b, sizeof(b));
    CHECK(hasp_der_bool(&r, &bo) == 0 && bo == 1, "BOOLEAN TRUE");
    r = rd_hex("010101", b, sizeof(b));
    CHECK(hasp_der_bool(&r, &bo) == HASP_ERR_DECODE, "BOOLEAN 0x01 refused (DER)");
    r = rd_hex("0603551d13", b, sizeof(b));
    CHECK(hasp_der_oid(&r, &v) == 0 && DER_OID_EQ(v, "\x55\x1d\x13"), "OID 2.5.29.19");
    char s[64];
    hasp_der_oid_str(v, s, sizeof(s));
    CHECK(strcmp(s, "2.5.29.19") == 0, "OID text '%s'", s);
    r = rd_hex("06092a864886f70d010101", b, sizeof(b));
    CHECK(hasp_der_oid(&r, &v) == 0, "OID rsaEncryption");
    hasp_der_oid_str(v, s, sizeof(s));
    CHECK(strcmp(s, "1.2.840.113549.1.1.1") == 0, "OID text '%s'", s);
    r = rd_hex("0603558001", b, sizeof(b));
    CHECK(hasp_der_oid(&r, &v) == HASP_ERR_DECODE, "OID with 0x80 padding refused");
    r = rd_hex("06025581", b, sizeof(b));
    CHECK(hasp_der_oid(&r, &v) == HASP_ERR_DECODE, "truncated OID refused");
    r = rd_hex("030205a0", b, sizeof(b));
    CHECK(hasp_der_bit_string(&r, &v, &unused) == 0 && unused == 5 && v.len == 1,
          "BIT STRING with 5 unused bits");
    r = rd_hex("030205a1", b, sizeof(b));
    CHECK(hasp_der_bit_string(&r, &v, &unused) == HASP_ERR_DECODE, "non-zero unused bits refused");
    r = rd_hex("030108", b, sizeof(b));
    CHECK(hasp_der_bit_string(&r, &v, &unused) == HASP_ERR_DECODE, "8 unused bits refused");
}

static int64_t t_of(const char *hex)
{
    uint8_t b[64];
    hasp_rd r = rd_hex(hex, b, sizeof(b));
    int64_t t = -1;
    if (hasp_der_time(&r, &t) < 0) return -1;
    return t;
}

static void test_times(void)
{
    /* UTCTime 700101000000Z */
    CHECK(t_of("170d3730303130313030303030305a") == 0, "UTCTime epoch");
    /* UTCTime 491231235959Z = 2049-12-31 23:59:59 */
    CHECK(t_of("170d3439313233313233353935395a") == 2524607999LL, "UTCTime 49 is 2049");
    /* UTCTime 500101000000Z = 1950 */
    CHECK(t_of("170d3530303130313030303030305a") == -631152000LL, "UTCTime 50 is 1950");
    /* GeneralizedTime 20500101000000Z */
    CHECK(t_of("180f32303530303130313030303030305a") == 2524608000LL, "GeneralizedTime 2050");
    /* 20240229120000Z: leap day */
    CHECK(t_of("180f32303234303232393132303030305a") == 1709208000LL, "leap day");
    /* 20230229000000Z: not a leap year */
    CHECK(t_of("180f32303233303232393030303030305a") == -1, "Feb 29 2023 refused");
    /* UTCTime without seconds: 7001010000Z */
    CHECK(t_of("170b373030313031303030305a") == -1, "UTCTime without seconds refused");
    /* GeneralizedTime with fraction: 20240101000000.5Z */
    CHECK(t_of("181132303234303130313030303030302e355a") == -1, "fractional seconds refused");
    /* UTCTime with offset: 700101000000+0100 */
    CHECK(t_of("17113730303130313030303030302b30313030") == -1, "time offset refused");
    /* 20241301000000Z: month 13 */
    CHECK(t_of("180f32303234313330313030303030305a") == -1, "month 13 refused");
    char s[40];
    hasp_time_str(1709208000LL, s, sizeof(s));
    CHECK(strcmp(s, "2024-02-29 12:00:00 UTC") == 0, "time prints as '%s'", s);
    hasp_time_str(-1, s, sizeof(s));
    CHECK(strcmp(s, "1969-12-31 23:59:59 UTC") == 0, "negative time prints as '%s'", s);
}

static void test_base64(void)
{
    uint8_t out[64];
    size_t n;
    CHECK(hasp_base64_decode("aGVsbG8=", 8, out, sizeof(out), &n) == 0 && n == 5 &&
              memcmp(out, "hello", 5) == 0,
          "base64 'hello'");
    CHECK(hasp_base64_decode("aGVs\nbG8h", 9, out, sizeof(out), &n) == 0 && n == 6,
          "base64 across lines");
    CHECK(hasp_base64_decode("", 0, out, sizeof(out), &n) == 0 && n == 0, "base64 empty");
    CHECK(hasp_base64_decode("aGVsbG8", 7, out, sizeof(out), &n) == HASP_ERR_DECODE,
          "missing padding refused");
    CHECK(hasp_base64_decode("aGVsbG9=", 8, out, sizeof(out), &n) == HASP_ERR_DECODE,
          "non-zero padding bits refused");
    CHECK(hasp_base64_decode("aGV$bG8=", 8, out, sizeof(out), &n) == HASP_ERR_DECODE,
          "bad character refused");
    CHECK(hasp_base64_decode("aG==bG8=", 8, out, sizeof(out), &n) == HASP_ERR_DECODE,
          "data after padding refused");
    CHECK(hasp_base64_decode("aGVsbG8h", 8, out, 5, &n) == HASP_ERR_DECODE, "short buffer");
}

static void test_pem(void)
{
    const char *text = "comment\n-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"
                       "-----BEGIN PRIVATE KEY-----\nd29ybGQ=\n-----END PRIVATE KEY-----\n";
    const uint8_t *p = (const uint8_t *)text, *end = p + strlen(text);
    char label[32];
    uint8_t *der;
    size_t len;
    CHECK(hasp_pem_next(&p, end, label, sizeof(label), &der, &len) == 1 &&
              !strcmp(label, "CERTIFICATE") && len == 5 && !memcmp(der, "hello", 5),
          "first PEM block");
    free(der);
    CHECK(hasp_pem_next(&p, end, label, sizeof(label), &der, &len) == 1 &&
              !strcmp(label, "PRIVATE KEY") && len == 5 && !memcmp(der, "world", 5),
          "second PEM block");
    free(der);
    CHECK(hasp_pem_next(&p, end, label, sizeof(label), &der, &len) == 0 && der == NULL,
          "no more blocks");

    const char *noend = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n";
    p = (const uint8_t *)noend;
    CHECK(hasp_pem_next(&p, p + strlen(noend), label, sizeof(label), &der, &len) == HASP_ERR_DECODE,
          "missing END refused");
    const char *mismatch = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END X509 CRL-----\n";
    p = (const uint8_t *)mismatch;
    CHECK(hasp_pem_next(&p, p + strlen(mismatch), label, sizeof(label), &der, &len) ==
              HASP_ERR_DECODE,
          "mismatched END refused");
    const char *bad = "-----BEGIN CERTIFICATE-----\naGVs*bG8=\n-----END CERTIFICATE-----\n";
    p = (const uint8_t *)bad;
    CHECK(hasp_pem_next(&p, p + strlen(bad), label, sizeof(label), &der, &len) == HASP_ERR_DECODE,
          "bad base64 refused");
    const char *enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\naGVsbG8=\n"
                      "-----END RSA PRIVATE KEY-----\n";
    p = (const uint8_t *)enc;
    CHECK(hasp_pem_next(&p, p + strlen(enc), label, sizeof(label), &der, &len) == HASP_ERR_DECODE,
          "encrypted PEM refused");
}

int main(void)
{
    test_lengths();
    test_primitives();
    test_times();
    test_base64();
    test_pem();
    TEST_DONE();
}
