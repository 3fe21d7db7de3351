/* X.509 path validation: a fuzzed chain against a fixed small store (the
 * test root CA and an untrusted other CA from tests/fuzz/data/).
 *
 * Input: byte 0 chooses the parameters (host, purpose, key usage, CN
 * fallback, depth limit, whether the config holds the intermediate);
 * then certificates, each as a 2-byte big-endian length and the DER,
 * leaf first, at most 12. The corpus holds the real test chains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "x509/x509.h"

static hasp_x509_store *anchors, *extra;

static hasp_x509_store *load(const char *name, hasp_x509_store *s)
{
    if (!s) s = hasp_x509_store_new();
    if (hasp_x509_store_add_file(s, fz_data_path(name)) <= 0) {
        fprintf(stderr, "fuzz_verify: cannot load %s\n", fz_data_path(name));
        exit(2);
    }
    return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    anchors = load("ca.pem", NULL);
    load("other-ca.pem", anchors);
    extra = load("int.pem", NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t flags = data[0];
    const uint8_t *chain[12];
    size_t lens[12], n = 0;
    size_t off = 1;
    while (n < 12 && size - off >= 2) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (len > size - off) len = size - off;
        chain[n] = data + off;
        lens[n] = len;
        n++;
        off += len;
    }
    /* Each certificate in a buffer of exactly its size. */
    uint8_t *copies[12];
    for (size_t i = 0; i < n; i++) {
        copies[i] = malloc(lens[i] ? lens[i] : 1);
        memcpy(copies[i], chain[i], lens[i]);
        chain[i] = copies[i];
    }
    static const char *hosts[] = {"localhost", NULL, "127.0.0.1", "www.example.com"};
    hasp_x509_params p;
    memset(&p, 0, sizeof(p));
    p.host = hosts[flags & 3];
    p.time = FZ_VERIFY_TIME;
    p.purpose = ((flags >> 2) & 3) % 3; /* 0 none, 1 server, 2 client */
    p.key_usage = (flags & 0x10) ? HASP_KU_DIGITAL_SIGNATURE : 0;
    p.allow_cn_fallback = (flags >> 5) & 1;
    p.max_depth = (flags & 0x40) ? 1 : 0;
    p.extra_intermediates = (flags & 0x80) ? extra : NULL;
    hasp_x509_result res;
    memset(&res, 0, sizeof(res));
    int rc = hasp_x509_verify(anchors, &p, (const uint8_t *const *)chain, lens, n, &res);
    if (rc != res.code || rc > 0 || (rc == 0 && n == 0)) {
        fprintf(stderr, "hasp_x509_verify: rc %d, res.code %d, %zu certificates\n", rc, res.code,
                n);
        abort();
    }
    if (res.path_len > HASP_X509_PATH_MAX ||
        strnlen(res.reason, sizeof(res.reason)) == sizeof(res.reason)) {
        fprintf(stderr, "hasp_x509_verify: bad result fields\n");
        abort();
    }
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    return 0;
}
