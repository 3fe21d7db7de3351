/* PEM and base64: hasp_pem_next over arbitrary text until it ends or
 * fails, hasp_base64_decode on the whole input, and a trust store fed
 * the text (PEM, then each block's DER through the X.509 parser). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/pem.h"
#include "fuzz_common.h"
#include "x509/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Every block, as a caller walking a bundle does. */
    const uint8_t *p = data, *end = data + size;
    for (int i = 0; i < 1000; i++) {
        char label[64];
        uint8_t *der;
        size_t der_len;
        const uint8_t *before = p;
        int rc = hasp_pem_next(&p, end, label, sizeof(label), &der, &der_len);
        if (rc == 1) {
            if (strlen(label) >= sizeof(label) || p <= before || p > end || !der) {
                fprintf(stderr, "hasp_pem_next: bad result\n");
                abort();
            }
            if (der_len > hasp_base64_decoded_max((size_t)(end - before))) {
                fprintf(stderr, "hasp_pem_next: %zu bytes decoded from less text\n", der_len);
                abort();
            }
            hasp_x509_cert c;
            hasp_x509_parse(der, der_len, &c);
        } else if (der != NULL) {
            fprintf(stderr, "hasp_pem_next: a buffer returned with rc %d\n", rc);
            abort();
        }
        free(der);
        if (rc != 1) break;
    }

    /* base64 alone, into a buffer of exactly the promised size */
    size_t cap = hasp_base64_decoded_max(size);
    uint8_t *out = malloc(cap ? cap : 1);
    size_t n = 0;
    if (hasp_base64_decode((const char *)data, size, out, cap, &n) == 0 && n > cap) {
        fprintf(stderr, "hasp_base64_decode: wrote %zu of %zu\n", n, cap);
        abort();
    }
    /* and into a buffer one byte short of what it needs: must refuse */
    if (n > 0) {
        size_t n2;
        uint8_t *small = malloc(n - 1 ? n - 1 : 1);
        if (hasp_base64_decode((const char *)data, size, small, n - 1, &n2) == 0) {
            fprintf(stderr, "hasp_base64_decode: %zu bytes fitted in %zu\n", n2, n - 1);
            abort();
        }
        free(small);
    }
    free(out);

    hasp_x509_store *s = hasp_x509_store_new();
    if (s) {
        hasp_x509_store_add_pem(s, data, size);
        hasp_x509_store_free(s);
    }
    return 0;
}
