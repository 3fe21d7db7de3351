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

hasp_x509_pubkey *hasp_x509_pubkey_new(const uint8_t *spki, size_t len)
{
    EVP_PKEY *pk = NULL;
    EC_KEY *ec = NULL;
    int type = 0;
    /* through the process's cache of imported keys (spki.c) */
    if (crypto_spki_import(spki, len, &pk, &ec, &type) < 0) return NULL;
    hasp_x509_pubkey *k = hasp_calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pk);
        EC_KEY_free(ec);
        hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
        return NULL;
    }
    k->pk = pk;
    k->ec = ec;
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
    if (sig_alg == HASP_SIG_RSA_PKCS1 || sig_alg == HASP_SIG_RSA_PSS) {
        uint8_t dg[HASP_HASH_MAX];
        GUARD(hasp_hash(hash, data, len, dg));
        int r = hasp_rsa_key_verify(k->pk, sig_alg, hash, dg, hasp_hash_len(hash), sig, sig_len);
        OPENSSL_cleanse(dg, sizeof(dg));
        if (r >= 0) {
            ENSURE_MSG(r == 1, HASP_ERR_DECRYPT, "the signature does not verify");
            return 0;
        }
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
