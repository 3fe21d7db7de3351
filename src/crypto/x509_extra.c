/* Fast SubjectPublicKeyInfo loading and one-shot signature checks for
 * certificate paths (see x509_extra.h for why). */
#include "../alloc.h"
#include "internal.h" /* defines OPENSSL_SUPPRESS_DEPRECATED first */

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "x509_extra.h"

struct hasp_x509_pubkey {
    EVP_PKEY *pk; /* NULL for EC keys of the usual shapes, which are in ec */
    EC_KEY *ec;
};

/* rsaEncryption and id-ecPublicKey AlgorithmIdentifier OIDs, as they
 * start the SPKI's inner SEQUENCE. */
static int spki_has_oid(const uint8_t *der, size_t len, const uint8_t *oid, size_t oid_len)
{
    /* SEQUENCE { SEQUENCE { OID ... } ... }: find the first OID. */
    for (size_t i = 0; i + 2 + oid_len <= len && i < 16; i++)
        if (der[i] == 0x06 && der[i + 1] == oid_len && memcmp(der + i + 2, oid, oid_len) == 0)
            return 1;
    return 0;
}

/* The fast SubjectPublicKeyInfo decoder, shared with hasp_pkey_from_spki. */
EVP_PKEY *crypto_pubkey_from_spki(const uint8_t *spki, size_t len)
{
    static const uint8_t rsa_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
    static const uint8_t ec_oid[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    ENSURE_PTR(spki != NULL && len > 0 && len <= LONG_MAX, HASP_ERR_USAGE);
    /* The usual shapes from raw parts first (pkey.c): for EC half the cost
     * of d2i_EC_PUBKEY, and already a provider key. */
    EVP_PKEY *pk = hasp_evp_pkey_from_spki_fast(spki, len);
    if (pk != NULL) return pk;
    const unsigned char *p = spki;
    if (spki_has_oid(spki, len, rsa_oid, sizeof(rsa_oid))) {
        RSA *r = d2i_RSA_PUBKEY(NULL, &p, (long)len);
        if (r && p == spki + len && (pk = EVP_PKEY_new()) != NULL &&
            EVP_PKEY_assign_RSA(pk, r) == 1)
            r = NULL;
        else {
            EVP_PKEY_free(pk);
            pk = NULL;
        }
        RSA_free(r);
    } else if (spki_has_oid(spki, len, ec_oid, sizeof(ec_oid))) {
        EC_KEY *e = d2i_EC_PUBKEY(NULL, &p, (long)len);
        if (e && p == spki + len && (pk = EVP_PKEY_new()) != NULL &&
            EVP_PKEY_assign_EC_KEY(pk, e) == 1)
            e = NULL;
        else {
            EVP_PKEY_free(pk);
            pk = NULL;
        }
        EC_KEY_free(e);
    } else {
        pk = d2i_PUBKEY(NULL, &p, (long)len);
        if (pk && p != spki + len) {
            EVP_PKEY_free(pk);
            pk = NULL;
        }
    }
    if (pk == NULL) {
        ERR_clear_error();
        hasp_err_set(HASP_ERR_CERT_BAD, __FILE__, __LINE__,
                     "the public key could not be loaded (malformed, or not a valid point or "
                     "modulus)");
    }
    return pk;
}

hasp_x509_pubkey *hasp_x509_pubkey_new(const uint8_t *spki, size_t len)
{
    int type = 0;
    EC_KEY *ec = spki ? hasp_ec_key_from_spki_fast(spki, len, &type) : NULL;
    if (ec != NULL) {
        hasp_x509_pubkey *k = hasp_calloc(1, sizeof(*k));
        if (k == NULL) {
            EC_KEY_free(ec);
            hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
            return NULL;
        }
        k->ec = ec;
        return k;
    }
    EVP_PKEY *pk = crypto_pubkey_from_spki(spki, len);
    if (pk == NULL) return NULL;
    /* Move a legacy key into the provider now, once, so that threads
     * sharing it later only read the cached export. */
    EVP_PKEY_CTX *warm = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (warm == NULL || EVP_PKEY_verify_init(warm) <= 0) ERR_clear_error();
    EVP_PKEY_CTX_free(warm);
    hasp_x509_pubkey *k = hasp_calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pk);
        hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
        return NULL;
    }
    k->pk = pk;
    return k;
}

void hasp_x509_pubkey_free(hasp_x509_pubkey *k)
{
    if (k == NULL) return;
    EVP_PKEY_free(k->pk);
    EC_KEY_free(k->ec);
    hasp_free(k);
}

int hasp_x509_pubkey_verify(const hasp_x509_pubkey *k, int sig_alg, int hash, const uint8_t *data,
                            size_t len, const uint8_t *sig, size_t sig_len)
{
    ENSURE(k != NULL, HASP_ERR_USAGE);
    if (k->ec != NULL) {
        ENSURE_MSG(sig_alg == HASP_SIG_ECDSA, HASP_ERR_DECRYPT,
                   "an EC key only makes ECDSA signatures");
        uint8_t dg[HASP_HASH_MAX];
        ENSURE_MSG(hash >= HASP_HASH_SHA1 && hash <= HASP_HASH_SHA512 &&
                       hasp_hash(hash, data, len, dg) == 0,
                   HASP_ERR_CERT_UNSUPPORTED, "hash %d is not supported", hash);
        int ok = hasp_ec_key_verify(k->ec, dg, hasp_hash_len(hash), sig, sig_len);
        OPENSSL_cleanse(dg, sizeof(dg));
        ENSURE_MSG(ok, HASP_ERR_DECRYPT, "the signature does not verify");
        return 0;
    }
    const EVP_MD *md = NULL;
    if (sig_alg != HASP_SIG_ED25519) {
        md = hasp_evp_md(hash);
        ENSURE_MSG(md != NULL, HASP_ERR_CERT_UNSUPPORTED, "hash %d is not supported", hash);
    }
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = m != NULL && EVP_DigestVerifyInit_ex(m, &pctx, md ? EVP_MD_get0_name(md) : NULL, NULL,
                                                  NULL, k->pk, NULL) == 1;
    if (ok && sig_alg == HASP_SIG_RSA_PSS)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
    else if (ok && sig_alg == HASP_SIG_RSA_PKCS1)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    ok = ok && EVP_DigestVerify(m, sig, sig_len, data, len) == 1;
    EVP_MD_CTX_free(m);
    if (!ok) {
        ERR_clear_error();
        FAIL(HASP_ERR_DECRYPT, "the signature does not verify");
    }
    return 0;
}
