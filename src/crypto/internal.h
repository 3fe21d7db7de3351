/* Shared by the files of src/crypto/ only: the low-level hash states the
 * HMAC, PRF, HKDF and constant-time CBC MAC code is built on, and the
 * algorithms fetched once from libcrypto. */
#ifndef HASP_CRYPTO_INTERNAL_H
#define HASP_CRYPTO_INTERNAL_H

/* The SHA*_Init/Update/Final/Transform functions are deprecated in 3.0
 * but are what libssl itself uses for its Lucky13-safe MAC: they give
 * the compression function, cheap context copies (a struct copy, no
 * allocation) and no provider dispatch per call. */
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "crypto.h"

typedef union hasp_md_state {
    MD5_CTX md5;
    SHA_CTX sha1;
    SHA256_CTX sha256;
    SHA512_CTX sha512;
} hasp_md_state;

typedef struct hasp_md {
    int alg;
    const char *name; /* "SHA256": the OpenSSL fetch name */
    size_t out_len;
    size_t block_len; /* 64 or 128 */
    size_t len_field; /* bytes of the Merkle-Damgard length field: 8 or 16 */
    int big_endian;   /* length field and state words (MD5 is little-endian) */
    void (*init)(hasp_md_state *s);
    void (*update)(hasp_md_state *s, const void *p, size_t n);
    void (*final)(hasp_md_state *s, uint8_t *out);
    void (*compress)(hasp_md_state *s, const uint8_t *block);
    void (*state_out)(const hasp_md_state *s, uint8_t *out); /* chaining value, out_len bytes */
} hasp_md;

const hasp_md *hasp_md_get(int alg);
/* The EVP_MD for alg, fetched once. NULL for an unknown alg. */
const EVP_MD *hasp_evp_md(int alg);

/* A public key from the usual SubjectPublicKeyInfo shapes (EC P-256/384/
 * 521 named curve with an uncompressed point, RSA), built without
 * OpenSSL's decoder framework; NULL for anything else (use d2i_PUBKEY). */
EVP_PKEY *hasp_evp_pkey_from_spki_fast(const uint8_t *der, size_t len);

/* HMAC with the key's inner and outer states precomputed. */
typedef struct hasp_hmac_ctx {
    const hasp_md *md;
    hasp_md_state inner, outer, work;
} hasp_hmac_ctx;

int hasp_hmac_init_key(hasp_hmac_ctx *h, int alg, const uint8_t *key, size_t keylen);
void hasp_hmac_start(hasp_hmac_ctx *h);
void hasp_hmac_update(hasp_hmac_ctx *h, const uint8_t *p, size_t n);
void hasp_hmac_finish(hasp_hmac_ctx *h, uint8_t *out);

/* Constant-time helpers: masks are all-ones (true) or zero. The barrier
 * hides a value from the optimiser so that it cannot turn mask arithmetic
 * on secrets back into branches. */
static inline size_t ct_barrier(size_t x)
{
    __asm__("" : "+r"(x));
    return x;
}
static inline size_t ct_lt(size_t a, size_t b)
{
    return (size_t)0 - ((a ^ ((a ^ b) | ((a - b) ^ b))) >> (sizeof(size_t) * 8 - 1));
}
static inline size_t ct_ge(size_t a, size_t b)
{
    return ~ct_lt(a, b);
}
static inline size_t ct_is_zero(size_t a)
{
    return (size_t)0 - ((~a & (a - 1)) >> (sizeof(size_t) * 8 - 1));
}
static inline size_t ct_eq(size_t a, size_t b)
{
    return ct_is_zero(a ^ b);
}
static inline size_t ct_select(size_t mask, size_t a, size_t b)
{
    return (mask & a) | (~mask & b);
}

/* spki.c: an EC public key (P-256/384/521, named curve, uncompressed
 * point) as an EC_KEY on a shared group; *type gets its enum
 * hasp_pkey_type. NULL when the SPKI has another shape or a bad point. */
#include <openssl/ec.h>
EC_KEY *hasp_ec_key_from_spki_fast(const uint8_t *der, size_t len, int *type);
/* ECDSA_verify over a digest: 1 when the signature is good. */
int hasp_ec_key_verify(EC_KEY *k, const uint8_t *dg, size_t dg_len, const uint8_t *sig,
                       size_t sig_len);

/* spki.c: the SubjectPublicKeyInfo decoder (not cached). */
EVP_PKEY *crypto_pubkey_from_spki(const uint8_t *spki, size_t len);

/* spki.c: the key of a DER SubjectPublicKeyInfo, imported once per
 * process and shared (new references in *pk or, for the usual EC shapes,
 * in *ec with *ec_type its enum hasp_pkey_type). -1 when it cannot be
 * imported (error recorded when the decoder records one). */
int crypto_spki_import(const uint8_t *der, size_t len, EVP_PKEY **pk, EC_KEY **ec, int *ec_type);
/* Drop every cached key (tests); the number of keys held. */
void crypto_keycache_flush(void);
size_t crypto_keycache_count(void);
/* RSA PKCS#1 v1.5 or PSS (salt = hash length, MGF1 with the same hash)
 * over a digest with the legacy RSA object of an rsaEncryption key: 1 when
 * the signature is good, 0 when not, -1 when the key is not such a key
 * (then take the EVP path). */
int hasp_rsa_key_verify(const EVP_PKEY *pk, int sig_alg, int hash, const uint8_t *dg, size_t dg_len,
                        const uint8_t *sig, size_t sig_len);

#endif
