/* DER and X.509 parsing: the input is one DER certificate. It is walked
 * as generic DER (every element, recursively, with the typed readers tried
 * on each), then parsed with hasp_x509_parse, and every accessor that
 * reads the views is run: names, host matching, the SPKI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/der.h"
#include "fuzz_common.h"
#include "x509/x509.h"

static void walk(hasp_rd r, int depth)
{
    for (int i = 0; i < 256 && rd_left(&r); i++) {
        hasp_der_elem e;
        if (hasp_der_next(&r, &e) < 0) return;
        if (e.whole_len < 2 || e.content.len > e.whole_len) {
            fprintf(stderr, "hasp_der_next: inconsistent element\n");
            abort();
        }
        /* Re-read the element with each typed reader. */
        hasp_rd one = hasp_rd_init(e.whole, e.whole_len), v;
        int64_t t;
        int b;
        char buf[128];
        switch (e.tag) {
        case DER_INTEGER:
            hasp_der_integer(&one, &v);
            one = hasp_rd_init(e.whole, e.whole_len);
            hasp_der_int64(&one, &t);
            break;
        case DER_BOOLEAN:
            hasp_der_bool(&one, &b);
            break;
        case DER_OID:
            if (hasp_der_oid(&one, &v) == 0) hasp_der_oid_str(v, buf, sizeof(buf));
            break;
        case DER_BIT_STRING:
            hasp_der_bit_string(&one, &v, &b);
            break;
        case DER_OCTET_STRING:
            hasp_der_octet_string(&one, &v);
            if (depth < 8) walk(e.content, depth + 1); /* extensions wrap DER in OCTET STRINGs */
            break;
        case DER_NULL:
            hasp_der_null(&one);
            break;
        case DER_UTC_TIME:
        case DER_GENERALIZED_TIME:
            if (hasp_der_time(&one, &t) == 0) hasp_time_str(t, buf, sizeof(buf));
            break;
        default:
            if ((e.tag & DER_CONSTRUCTED) && depth < 8) walk(e.content, depth + 1);
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(hasp_rd_init(data, size), 0);

    hasp_x509_cert c;
    if (hasp_x509_parse(data, size, &c) != 0) return 0;
    char buf[512];
    hasp_x509_name_str(c.subject, buf, sizeof(buf));
    hasp_x509_name_str(c.issuer, buf, sizeof(buf));
    hasp_x509_subject_str(&c, buf, sizeof(buf));
    (void)hasp_x509_name_eq(c.subject, c.issuer);
    (void)hasp_x509_name_hash(c.subject);
    static const char *hosts[] = {"localhost", "www.example.com", "example.com",     "127.0.0.1",
                                  "::1",       "a.b.c.d.e",       "xn--nxasmq6b.com"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        hasp_x509_cert_matches_host(&c, hosts[i], 0);
        hasp_x509_cert_matches_host(&c, hosts[i], 1);
    }
    const uint8_t *spki;
    size_t spki_len;
    if (hasp_x509_spki(data, size, &spki, &spki_len) == 0 &&
        (spki < data || spki + spki_len > data + size)) {
        fprintf(stderr, "hasp_x509_spki: a view outside the certificate\n");
        abort();
    }
    hasp_x509_matches_host(data, size, "localhost");
    /* A store takes its own copy and loads the key with libcrypto. */
    hasp_x509_store *s = hasp_x509_store_new();
    if (s) {
        hasp_x509_store_add_der(s, data, size);
        hasp_x509_store_free(s);
    }
    return 0;
}
