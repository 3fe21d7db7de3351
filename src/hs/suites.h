/* Cipher suites: one const table, {id, names, key exchange, protection, PRF hash}. */
#ifndef HASP_SUITES_H
#define HASP_SUITES_H

#include <stddef.h>
#include <stdint.h>

enum hasp_kx {
    HASP_KX_RSA = 1,   /* RSA key transport */
    HASP_KX_DHE_RSA,   /* finite-field DHE, RSA signature */
    HASP_KX_ECDHE_RSA, /* ECDHE, RSA signature */
    HASP_KX_ECDHE_ECDSA,
    HASP_KX_TLS13, /* TLS 1.3: key exchange is not part of the suite */
};

typedef struct hasp_suite {
    uint16_t id;
    const char *iana;
    const char *ossl;
    int kx;
    int aead;       /* enum hasp_aead_alg, or 0 for CBC */
    int cbc;        /* enum hasp_cbc_alg, or 0 */
    int mac_hash;   /* CBC HMAC hash */
    int prf_hash;   /* PRF / transcript hash */
    int by_name;    /* enabled only when named explicitly (3DES) */
    int in_default; /* part of DEFAULT */
} hasp_suite;

#define HASP_SCSV_RENEGOTIATION 0x00ff
#define HASP_SCSV_FALLBACK 0x5600

const hasp_suite *hasp_suite_find(uint16_t id);
const hasp_suite *hasp_suite_by_name(const char *name); /* IANA or OpenSSL name */
const hasp_suite *hasp_suite_at(size_t i);              /* NULL past the end */
/* Key material sizes for the TLS 1.2 key block. */
size_t hasp_suite_mac_key_len(const hasp_suite *s);
size_t hasp_suite_enc_key_len(const hasp_suite *s);
size_t hasp_suite_fixed_iv_len(const hasp_suite *s);
int hasp_suite_is_tls13(const hasp_suite *s);
int hasp_suite_is_ecdhe(const hasp_suite *s);
int hasp_suite_needs_ske(const hasp_suite *s);

#endif
