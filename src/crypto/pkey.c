/* Public and private keys, signatures (RSA PKCS#1 v1.5, RSA-PSS, ECDSA,
 * Ed25519), the TLS SignatureScheme table, and RSA key transport. */
/* ECDSA_sign on an EC_KEY (deprecated in 3.0, kept for speed: see
 * hasp_pkey_sign) is only used in this file. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "../alloc.h"
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct hasp_pkey {
    EVP_PKEY *pk;
    /* An EC key also as the legacy EC_KEY. Private keys: made once when
     * loaded:
     * ECDSA_sign on it skips what EVP_PKEY_sign costs per call in
     * OpenSSL 3.0 (a context, provider and digest fetches by name, a
     * walk of the whole name map): 18.5 us a signature instead of 21.5
     * here. ECDSA_sign only reads the key, so threads can share it.
     * Public keys: built on a shared group (hasp_ec_key_from_spki_fast). */
    EC_KEY *ec;
    int type;
    int bits;
    int pss_hash; /* RSA-PSS keys restricted to one hash (RFC 4055), else 0 */
};

static int is_ec(int type);

static int pkey_classify(hasp_pkey *k)
{
    EVP_PKEY *pk = k->pk;
    k->bits = EVP_PKEY_get_bits(pk);
    if (EVP_PKEY_is_a(pk, "RSA")) {
        k->type = HASP_PKEY_RSA;
    } else if (EVP_PKEY_is_a(pk, "RSA-PSS")) {
        k->type = HASP_PKEY_RSA_PSS;
        char md[64];
        if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_RSA_DIGEST, md, sizeof(md), NULL) ==
            1) {
            static const int algs[] = {HASP_HASH_SHA256, HASP_HASH_SHA384, HASP_HASH_SHA512};
            for (size_t i = 0; i < 3; i++) {
                const EVP_MD *m = hasp_evp_md(algs[i]);
                if (m && EVP_MD_is_a(m, md)) k->pss_hash = algs[i];
            }
        }
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        char g[64];
        ENSURE_MSG(
            EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, g, sizeof(g), NULL) == 1,
            HASP_ERR_CERT_UNSUPPORTED, "EC key without a named curve is not supported");
        if (strcmp(g, "prime256v1") == 0 || strcmp(g, "P-256") == 0)
            k->type = HASP_PKEY_EC_P256;
        else if (strcmp(g, "secp384r1") == 0 || strcmp(g, "P-384") == 0)
            k->type = HASP_PKEY_EC_P384;
        else if (strcmp(g, "secp521r1") == 0 || strcmp(g, "P-521") == 0)
            k->type = HASP_PKEY_EC_P521;
        else
            FAIL(HASP_ERR_CERT_UNSUPPORTED,
                 "EC key on curve %s is not supported (P-256, P-384, P-521 are)", g);
    } else if (EVP_PKEY_is_a(pk, "ED25519")) {
        k->type = HASP_PKEY_ED25519;
    } else {
        FAIL(HASP_ERR_CERT_UNSUPPORTED,
             "public key type %s is not supported (RSA, RSA-PSS, ECDSA, Ed25519 are)",
             EVP_PKEY_get0_type_name(pk));
    }
    return 0;
}

static hasp_pkey *pkey_wrap(EVP_PKEY *pk)
{
    hasp_pkey *k = hasp_calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pk);
        hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
        return NULL;
    }
    k->pk = pk;
    if (pkey_classify(k) < 0) {
        hasp_pkey_free(k);
        return NULL;
    }
    return k;
}

/* ECDSA over a digest with an EC_KEY: 1 good, 0 bad. */
int hasp_ec_key_verify(EC_KEY *k, const uint8_t *dg, size_t dg_len, const uint8_t *sig,
                       size_t sig_len)
{
    if (sig_len > INT_MAX || dg_len > INT_MAX) return 0;
    int r = ECDSA_verify(0, dg, (int)dg_len, sig, (int)sig_len, k) == 1;
    if (!r) ERR_clear_error();
    return r;
}

/* RSA verification on the key's legacy RSA object: RSA_verify and
 * RSA_verify_PKCS1_PSS_mgf1 skip what EVP_PKEY_verify costs per call in
 * OpenSSL 3.0 (a context, the provider's signature fetched by name, the
 * padding and digest set through parameters), and the RSA object keeps
 * the modulus's Montgomery context from one verification to the next.
 * The checks are the same as the EVP path's: the signature exactly the
 * modulus's length and below it, the PKCS#1 v1.5 encoding compared whole,
 * PSS with the salt exactly the hash length. */
int hasp_rsa_key_verify(const EVP_PKEY *pk, int sig_alg, int hash, const uint8_t *dg, size_t dg_len,
                        const uint8_t *sig, size_t sig_len)
{
    if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ||
        (sig_alg != HASP_SIG_RSA_PKCS1 && sig_alg != HASP_SIG_RSA_PSS))
        return -1;
    const EVP_MD *md = hasp_evp_md(hash);
    RSA *r = (RSA *)EVP_PKEY_get0_RSA(pk);
    if (md == NULL || r == NULL || dg_len != (size_t)EVP_MD_get_size(md)) {
        ERR_clear_error();
        return -1;
    }
    int n = RSA_size(r), ok = 0;
    if (n <= 0 || sig_len != (size_t)n) return 0;
    if (sig_alg == HASP_SIG_RSA_PKCS1) {
        ok = RSA_verify(EVP_MD_get_type(md), dg, (unsigned int)dg_len, sig, (unsigned int)sig_len,
                        r) == 1;
    } else {
        uint8_t em[2048];
        if ((size_t)n > sizeof(em)) return -1;
        ok = RSA_public_decrypt(n, sig, em, r, RSA_NO_PADDING) == n &&
             RSA_verify_PKCS1_PSS_mgf1(r, dg, md, md, em, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
    if (!ok) ERR_clear_error();
    return ok;
}

hasp_pkey *hasp_pkey_from_spki(const uint8_t *der, size_t len)
{
    /* One decoder for the handshake and X.509 (x509_extra.c), through the
     * process's cache of imported keys (spki.c). */
    EVP_PKEY *pk = NULL;
    EC_KEY *ec = NULL;
    int type = 0;
    if (crypto_spki_import(der, len, &pk, &ec, &type) < 0) return NULL;
    if (ec != NULL) {
        /* The EVP_PKEY wraps the same EC_KEY (a legacy key: nothing is
         * exported to the provider unless something asks). */
        static const int bits[3] = {256, 384, 521};
        hasp_pkey *k = hasp_calloc(1, sizeof(*k));
        pk = k ? EVP_PKEY_new() : NULL;
        if (pk == NULL || EVP_PKEY_set1_EC_KEY(pk, ec) != 1) {
            EVP_PKEY_free(pk);
            EC_KEY_free(ec);
            hasp_free(k);
            hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
            return NULL;
        }
        k->pk = pk;
        k->ec = ec;
        k->type = type;
        k->bits = bits[type - HASP_PKEY_EC_P256];
        return k;
    }
    return pkey_wrap(pk);
}

/* Never prompt for a passphrase: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

hasp_pkey *hasp_pkey_from_private_pem(const uint8_t *pem, size_t len)
{
    ENSURE_PTR(pem != NULL && len > 0 && len <= INT_MAX, HASP_ERR_USAGE);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    ENSURE_PTR(bio != NULL, HASP_ERR_NOMEM);
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (pk == NULL) {
        ERR_clear_error();
        int enc = 0;
        for (size_t i = 0; i + 9 <= len && !enc; i++)
            enc = memcmp(pem + i, "ENCRYPTED", 9) == 0;
        hasp_err_set(HASP_ERR_CONFIG, __FILE__, __LINE__, "%s",
                     enc ? "the private key is encrypted; only unencrypted PEM keys are supported"
                         : "no private key could be read from the PEM text (expected \"RSA "
                           "PRIVATE KEY\", \"EC PRIVATE KEY\" or \"PRIVATE KEY\")");
        return NULL;
    }
    hasp_pkey *k = pkey_wrap(pk);
    if (k && is_ec(k->type)) {
        k->ec = EVP_PKEY_get1_EC_KEY(k->pk); /* NULL: signatures take the EVP path */
        if (k->ec && EC_KEY_get0_private_key(k->ec) == NULL) {
            EC_KEY_free(k->ec);
            k->ec = NULL;
        }
        ERR_clear_error();
    }
    return k;
}

void hasp_pkey_free(hasp_pkey *k)
{
    if (k == NULL) return;
    EC_KEY_free(k->ec);   /* clears the private key */
    EVP_PKEY_free(k->pk); /* clears private components */
    hasp_free(k);
}

int hasp_pkey_type(const hasp_pkey *k)
{
    return k ? k->type : HASP_PKEY_NONE;
}

int hasp_pkey_bits(const hasp_pkey *k)
{
    return k ? k->bits : 0;
}

int hasp_pkey_matches(const hasp_pkey *priv, const hasp_pkey *pub)
{
    if (priv == NULL || pub == NULL) return 0;
    int r = EVP_PKEY_eq(priv->pk, pub->pk) == 1;
    ERR_clear_error();
    return r;
}

/* ------------------------------------------------------------------ signatures */

static int is_ec(int type)
{
    return type == HASP_PKEY_EC_P256 || type == HASP_PKEY_EC_P384 || type == HASP_PKEY_EC_P521;
}

/* Does the key type serve this signature family, with this hash? */
static int sig_check(const hasp_pkey *k, int sig_alg, int hash)
{
    ENSURE(k != NULL, HASP_ERR_USAGE);
    int ok = 0;
    switch (sig_alg) {
    case HASP_SIG_RSA_PKCS1:
        ok = k->type == HASP_PKEY_RSA;
        break;
    case HASP_SIG_RSA_PSS:
        ok = k->type == HASP_PKEY_RSA || k->type == HASP_PKEY_RSA_PSS;
        if (k->pss_hash && hash != k->pss_hash)
            FAIL(HASP_ERR_DECRYPT, "the RSA-PSS key is restricted to %s, not %s",
                 hasp_hash_name(k->pss_hash), hasp_hash_name(hash));
        break;
    case HASP_SIG_ECDSA:
        ok = is_ec(k->type);
        break;
    case HASP_SIG_ED25519:
        ok = k->type == HASP_PKEY_ED25519;
        break;
    default:
        FAIL(HASP_ERR_USAGE, "unknown signature algorithm %d", sig_alg);
    }
    ENSURE_MSG(ok, HASP_ERR_DECRYPT, "signature algorithm %d does not fit a key of type %d",
               sig_alg, k->type);
    if (sig_alg != HASP_SIG_ED25519)
        ENSURE_MSG(hash >= HASP_HASH_SHA1 && hash <= HASP_HASH_SHA512, HASP_ERR_DECRYPT,
                   "hash %s is not accepted for signatures", hasp_hash_name(hash));
    return 0;
}

/* A PKEY context set up for sign (sign=1) or verify with the family's
 * padding and hash. */
static EVP_PKEY_CTX *sig_ctx(const hasp_pkey *k, int sig_alg, int hash, int sign)
{
    const EVP_MD *md = hasp_evp_md(hash);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
    if (ctx == NULL || md == NULL) goto err;
    if ((sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) <= 0) goto err;
    if (sig_alg == HASP_SIG_RSA_PKCS1) {
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) goto err;
    } else if (sig_alg == HASP_SIG_RSA_PSS) {
        /* RFC 8446 4.2.3: MGF1 with the same hash, salt as long as the hash. */
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
            goto err;
    }
    if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) goto err;
    if (sig_alg == HASP_SIG_RSA_PSS && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0) goto err;
    return ctx;
err:
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

int hasp_pkey_verify(const hasp_pkey *k, int sig_alg, int hash, const uint8_t *data, size_t len,
                     const uint8_t *sig, size_t sig_len)
{
    GUARD(sig_check(k, sig_alg, hash));
    int r;
    if (sig_alg == HASP_SIG_ED25519) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        r = m && EVP_DigestVerifyInit_ex(m, NULL, NULL, NULL, NULL, k->pk, NULL) == 1 &&
            EVP_DigestVerify(m, sig, sig_len, data, len) == 1;
        EVP_MD_CTX_free(m);
    } else if (sig_alg == HASP_SIG_ECDSA && k->ec != NULL) {
        uint8_t dg[HASP_HASH_MAX];
        GUARD(hasp_hash(hash, data, len, dg));
        r = hasp_ec_key_verify(k->ec, dg, hasp_hash_len(hash), sig, sig_len);
    } else {
        uint8_t dg[HASP_HASH_MAX];
        GUARD(hasp_hash(hash, data, len, dg));
        r = hasp_rsa_key_verify(k->pk, sig_alg, hash, dg, hasp_hash_len(hash), sig, sig_len);
        if (r < 0) {
            EVP_PKEY_CTX *ctx = sig_ctx(k, sig_alg, hash, 0);
            r = ctx && EVP_PKEY_verify(ctx, sig, sig_len, dg, hasp_hash_len(hash)) == 1;
            EVP_PKEY_CTX_free(ctx);
        }
    }
    if (!r) {
        ERR_clear_error();
        FAIL(HASP_ERR_DECRYPT, "the %s signature does not verify with the peer's %d-bit key",
             sig_alg == HASP_SIG_RSA_PKCS1 ? "RSA PKCS#1"
             : sig_alg == HASP_SIG_RSA_PSS ? "RSA-PSS"
             : sig_alg == HASP_SIG_ECDSA   ? "ECDSA"
                                           : "Ed25519",
             k->bits);
    }
    return 0;
}

int hasp_pkey_sign(const hasp_pkey *k, int sig_alg, int hash, const uint8_t *data, size_t len,
                   uint8_t *sig, size_t cap, size_t *sig_len)
{
    GUARD(sig_check(k, sig_alg, hash));
    ENSURE(sig != NULL && sig_len != NULL, HASP_ERR_USAGE);
    int r;
    size_t n = cap;
    if (sig_alg == HASP_SIG_ED25519) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        r = m && EVP_DigestSignInit_ex(m, NULL, NULL, NULL, NULL, k->pk, NULL) == 1 &&
            EVP_DigestSign(m, sig, &n, data, len) == 1;
        EVP_MD_CTX_free(m);
    } else if (sig_alg == HASP_SIG_ECDSA && k->ec != NULL) {
        uint8_t dg[HASP_HASH_MAX];
        GUARD(hasp_hash(hash, data, len, dg));
        int need = ECDSA_size(k->ec);
        if (need <= 0 || (size_t)need > cap)
            FAIL(HASP_ERR_INTERNAL, "signature buffer too small (%zu bytes, %d needed)", cap, need);
        unsigned int sl = 0;
        r = ECDSA_sign(0, dg, (int)hasp_hash_len(hash), sig, &sl, k->ec) == 1;
        n = sl;
    } else {
        uint8_t dg[HASP_HASH_MAX];
        size_t need = 0;
        GUARD(hasp_hash(hash, data, len, dg));
        EVP_PKEY_CTX *ctx = sig_ctx(k, sig_alg, hash, 1);
        r = ctx && EVP_PKEY_sign(ctx, NULL, &need, dg, hasp_hash_len(hash)) == 1;
        if (r && need > cap) {
            EVP_PKEY_CTX_free(ctx);
            FAIL(HASP_ERR_INTERNAL, "signature buffer too small (%zu bytes, %zu needed)", cap,
                 need);
        }
        r = r && EVP_PKEY_sign(ctx, sig, &n, dg, hasp_hash_len(hash)) == 1;
        EVP_PKEY_CTX_free(ctx);
    }
    if (!r) {
        ERR_clear_error();
        FAIL(HASP_ERR_CRYPTO, "signing failed (is this a private key, and is the buffer large "
                              "enough?)");
    }
    *sig_len = n;
    return 0;
}

/* ------------------------------------------------------------------ SignatureScheme table */

static const hasp_sigscheme schemes[] = {
    {HASP_SIG_ED25519_SCHEME, "ed25519", HASP_SIG_ED25519, HASP_HASH_NONE, HASP_PKEY_ED25519},
    {HASP_SIG_ECDSA_SECP256R1_SHA256, "ecdsa_secp256r1_sha256", HASP_SIG_ECDSA, HASP_HASH_SHA256,
     HASP_PKEY_EC_P256},
    {HASP_SIG_ECDSA_SECP384R1_SHA384, "ecdsa_secp384r1_sha384", HASP_SIG_ECDSA, HASP_HASH_SHA384,
     HASP_PKEY_EC_P384},
    {HASP_SIG_ECDSA_SECP521R1_SHA512, "ecdsa_secp521r1_sha512", HASP_SIG_ECDSA, HASP_HASH_SHA512,
     HASP_PKEY_EC_P521},
    {HASP_SIG_RSA_PSS_RSAE_SHA256, "rsa_pss_rsae_sha256", HASP_SIG_RSA_PSS, HASP_HASH_SHA256,
     HASP_PKEY_RSA},
    {HASP_SIG_RSA_PSS_RSAE_SHA384, "rsa_pss_rsae_sha384", HASP_SIG_RSA_PSS, HASP_HASH_SHA384,
     HASP_PKEY_RSA},
    {HASP_SIG_RSA_PSS_RSAE_SHA512, "rsa_pss_rsae_sha512", HASP_SIG_RSA_PSS, HASP_HASH_SHA512,
     HASP_PKEY_RSA},
    {HASP_SIG_RSA_PSS_PSS_SHA256, "rsa_pss_pss_sha256", HASP_SIG_RSA_PSS, HASP_HASH_SHA256,
     HASP_PKEY_RSA_PSS},
    {HASP_SIG_RSA_PSS_PSS_SHA384, "rsa_pss_pss_sha384", HASP_SIG_RSA_PSS, HASP_HASH_SHA384,
     HASP_PKEY_RSA_PSS},
    {HASP_SIG_RSA_PSS_PSS_SHA512, "rsa_pss_pss_sha512", HASP_SIG_RSA_PSS, HASP_HASH_SHA512,
     HASP_PKEY_RSA_PSS},
    {HASP_SIG_RSA_PKCS1_SHA256, "rsa_pkcs1_sha256", HASP_SIG_RSA_PKCS1, HASP_HASH_SHA256,
     HASP_PKEY_RSA},
    {HASP_SIG_RSA_PKCS1_SHA384, "rsa_pkcs1_sha384", HASP_SIG_RSA_PKCS1, HASP_HASH_SHA384,
     HASP_PKEY_RSA},
    {HASP_SIG_RSA_PKCS1_SHA512, "rsa_pkcs1_sha512", HASP_SIG_RSA_PKCS1, HASP_HASH_SHA512,
     HASP_PKEY_RSA},
    /* ecdsa_sha1 names no curve: key_type NONE means any EC key. */
    {HASP_SIG_ECDSA_SHA1, "ecdsa_sha1", HASP_SIG_ECDSA, HASP_HASH_SHA1, HASP_PKEY_NONE},
    {HASP_SIG_RSA_PKCS1_SHA1, "rsa_pkcs1_sha1", HASP_SIG_RSA_PKCS1, HASP_HASH_SHA1, HASP_PKEY_RSA},
};

const hasp_sigscheme *hasp_sigscheme_find(uint16_t id)
{
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (schemes[i].id == id) return &schemes[i];
    return NULL;
}

const hasp_sigscheme *hasp_sigscheme_by_name(const char *name)
{
    if (name == NULL) return NULL;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strcmp(schemes[i].name, name) == 0) return &schemes[i];
    return NULL;
}

int hasp_sigscheme_fits(const hasp_sigscheme *s, const hasp_pkey *k, uint16_t tls_version)
{
    if (s == NULL || k == NULL) return 0;
    const int tls13 = tls_version >= 0x0304;
    /* RFC 8446 4.2.3: PKCS#1 v1.5 and SHA-1 are not for TLS 1.3 handshakes. */
    if (tls13 && (s->sig_alg == HASP_SIG_RSA_PKCS1 || s->hash == HASP_HASH_SHA1)) return 0;
    switch (s->sig_alg) {
    case HASP_SIG_ECDSA:
        if (!is_ec(k->type)) return 0;
        /* TLS 1.3 binds the curve to the scheme; TLS 1.2 does not (RFC 8422 5.1.1). */
        return !tls13 || k->type == s->key_type;
    case HASP_SIG_RSA_PSS:
        if (k->type != s->key_type) return 0;
        if (k->pss_hash && k->pss_hash != s->hash) return 0;
        /* EMSA-PSS needs emLen >= hLen + sLen + 2 (RFC 8017 9.1.1). */
        return (size_t)(k->bits + 7) / 8 >= 2 * hasp_hash_len(s->hash) + 2;
    default:
        return k->type == s->key_type;
    }
}

int hasp_sign_scheme(const hasp_pkey *k, uint16_t scheme, const uint8_t *data, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len)
{
    const hasp_sigscheme *s = hasp_sigscheme_find(scheme);
    ENSURE_MSG(s != NULL, HASP_ERR_USAGE, "unknown signature scheme 0x%04x", scheme);
    ENSURE_MSG(k != NULL && (s->key_type == HASP_PKEY_NONE || k->type == s->key_type ||
                             (s->sig_alg == HASP_SIG_ECDSA && is_ec(k->type))),
               HASP_ERR_USAGE, "signature scheme %s does not fit the key", s->name);
    return hasp_pkey_sign(k, s->sig_alg, s->hash, data, len, sig, cap, sig_len);
}

int hasp_verify_scheme(const hasp_pkey *k, uint16_t scheme, const uint8_t *data, size_t len,
                       const uint8_t *sig, size_t sig_len)
{
    const hasp_sigscheme *s = hasp_sigscheme_find(scheme);
    ENSURE_MSG(s != NULL, HASP_ERR_ILLEGAL_PARAM, "unknown signature scheme 0x%04x", scheme);
    ENSURE_MSG(k != NULL && (s->key_type == HASP_PKEY_NONE || k->type == s->key_type ||
                             (s->sig_alg == HASP_SIG_ECDSA && is_ec(k->type))),
               HASP_ERR_ILLEGAL_PARAM, "signature scheme %s does not fit the peer's key", s->name);
    return hasp_pkey_verify(k, s->sig_alg, s->hash, data, len, sig, sig_len);
}

/* ------------------------------------------------------------------ RSA key transport */

int hasp_rsa_encrypt_pkcs1(const hasp_pkey *k, const uint8_t *in, size_t len, uint8_t *out,
                           size_t cap, size_t *out_len)
{
    ENSURE_MSG(k != NULL && k->type == HASP_PKEY_RSA, HASP_ERR_HANDSHAKE,
               "RSA key exchange needs an RSA key in the server certificate");
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
    size_t n = cap;
    int ok = ctx && EVP_PKEY_encrypt_init(ctx) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
             EVP_PKEY_encrypt(ctx, out, &n, in, len) > 0;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        FAIL(HASP_ERR_CRYPTO, "RSA encryption of the pre-master secret failed");
    }
    *out_len = n;
    return 0;
}

/* RFC 5246 7.4.7.1. OpenSSL's RSA_PKCS1_WITH_TLS_PADDING mode does the
 * Bleichenbacher countermeasure itself in constant time: it checks the
 * padding, the 48-byte length and the version bytes together and returns
 * a fresh random 48-byte value when any of them is wrong, with no error. */
int hasp_rsa_decrypt_pms(const hasp_pkey *k, const uint8_t *in, size_t len, uint16_t client_version,
                         uint8_t pms[48])
{
    ENSURE(pms != NULL, HASP_ERR_USAGE);
    ENSURE_MSG(k != NULL && k->type == HASP_PKEY_RSA, HASP_ERR_HANDSHAKE,
               "RSA key exchange needs an RSA private key");
    uint8_t fallback[48], out[512];
    GUARD(hasp_random(fallback, sizeof(fallback)));
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
    unsigned int cv = client_version, alt = 0;
    OSSL_PARAM prm[3] = {
        OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, &cv),
        OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, &alt),
        OSSL_PARAM_construct_end(),
    };
    ENSURE_MSG(ctx != NULL && EVP_PKEY_decrypt_init(ctx) > 0 &&
                   EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_WITH_TLS_PADDING) > 0 &&
                   EVP_PKEY_CTX_set_params(ctx, prm) > 0,
               HASP_ERR_CRYPTO, "RSA decryption could not be set up");
    size_t n = sizeof(out);
    /* The decrypt fails only for reasons that do not depend on the plaintext
     * (ciphertext not the modulus size or not below the modulus): then the
     * fallback is used, as for a bad padding. */
    int ok = EVP_PKEY_decrypt(ctx, out, &n, in, len) > 0 && n == 48;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) ERR_clear_error();
    const uint8_t mask = (uint8_t)(0 - (unsigned)ok);
    for (size_t i = 0; i < 48; i++)
        pms[i] = (uint8_t)((out[i] & mask) | (fallback[i] & ~mask));
    OPENSSL_cleanse(out, sizeof(out));
    OPENSSL_cleanse(fallback, sizeof(fallback));
    return 0;
}
