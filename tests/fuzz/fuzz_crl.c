/* CRL parsing and the revocation check: the input is one CRL (DER, or
 * PEM). It is added to a store holding the test root, then the test
 * server chain (tests/fuzz/data/rsa.pem: leaf and intermediate) is
 * verified against that store with each revocation policy, so that every
 * CRL field the check reads is read from fuzzed bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/pem.h"
#include "fuzz_common.h"
#include "x509/x509.h"

static uint8_t *chain_der[4];
static size_t chain_len[4], nchain;
static uint8_t *ca_pem;
static size_t ca_pem_len;

static uint8_t *slurp(const char *name, size_t *len)
{
    FILE *f = fopen(fz_data_path(name), "rb");
    if (!f) {
        fprintf(stderr, "fuzz_crl: cannot open %s\n", fz_data_path(name));
        exit(2);
    }
    uint8_t *b = malloc(1 << 16);
    *len = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    size_t len;
    uint8_t *pem = slurp("rsa.pem", &len);
    const uint8_t *p = pem;
    char label[64];
    while (nchain < 4 && hasp_pem_next(&p, pem + len, label, sizeof(label), &chain_der[nchain],
                                       &chain_len[nchain]) == 1)
        nchain++;
    free(pem);
    ca_pem = slurp("ca.pem", &ca_pem_len);
    if (nchain < 2) {
        fprintf(stderr, "fuzz_crl: rsa.pem should hold leaf and intermediate\n");
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* In a buffer of exactly its size. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    hasp_x509_store *s = hasp_x509_store_new();
    hasp_x509_store_add_pem(s, ca_pem, ca_pem_len);
    int added = hasp_x509_store_add_crl(s, copy, size);
    free(copy); /* the store keeps its own copy */
    if (added > 0 && hasp_x509_store_crl_count(s) == 0) {
        fprintf(stderr, "hasp_x509_store_add_crl: added %d but the store holds none\n", added);
        abort();
    }
    for (int mode = HASP_X509_CRL_IF_PRESENT; mode <= HASP_X509_CRL_CHAIN; mode++) {
        hasp_x509_params p;
        memset(&p, 0, sizeof(p));
        p.host = "localhost";
        p.time = FZ_VERIFY_TIME;
        p.purpose = HASP_X509_PURPOSE_SERVER;
        p.crl_check = mode;
        hasp_x509_result res;
        int rc =
            hasp_x509_verify(s, &p, (const uint8_t *const *)chain_der, chain_len, nchain, &res);
        if (rc != res.code || rc > 0 ||
            strnlen(res.reason, sizeof(res.reason)) == sizeof(res.reason)) {
            fprintf(stderr, "hasp_x509_verify: rc %d, res.code %d\n", rc, res.code);
            abort();
        }
    }
    hasp_x509_store_free(s);
    return 0;
}
