/* AEAD (AES-GCM, ChaCha20-Poly1305, AES-CCM and AES-CCM_8) and raw CBC (AES, 3DES). Each context
 * runs the key schedule once; a record only sets the IV. */
#include "../alloc.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <limits.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "crypto.h"

enum {
    C_AES128GCM,
    C_AES256GCM,
    C_CHACHA,
    C_AES128CBC,
    C_AES256CBC,
    C_3DESCBC,
    C_AES128CCM,
    C_AES256CCM,
    C_COUNT,
};

static const char *const cipher_names[C_COUNT] = {
    "AES-128-GCM", "AES-256-GCM",  "ChaCha20-Poly1305", "AES-128-CBC",
    "AES-256-CBC", "DES-EDE3-CBC", "AES-128-CCM",       "AES-256-CCM",
};
static EVP_CIPHER *ciphers[C_COUNT];
static pthread_once_t ciphers_once = PTHREAD_ONCE_INIT;

static void ciphers_fetch(void)
{
    for (int i = 0; i < C_COUNT; i++)
        ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
}

static const EVP_CIPHER *cipher_get(int idx)
{
    pthread_once(&ciphers_once, ciphers_fetch);
    return ciphers[idx];
}

/* ------------------------------------------------------------------ AEAD */

/* The most bytes of in2 (content type and padding) gathered after in1. */
#define AEAD_GATHER_TAIL 256

struct hasp_aead_ctx {
    EVP_CIPHER_CTX *ctx;
    int alg;
    int encrypt;
    size_t tag_len;
};

size_t hasp_aead_tag_len(int alg)
{
    return alg == HASP_AEAD_AES128CCM8 || alg == HASP_AEAD_AES256CCM8 ? 8 : HASP_AEAD_TAG_LEN;
}

size_t hasp_aead_key_len(int alg)
{
    switch (alg) {
    case HASP_AEAD_AES128GCM:
        return 16;
    case HASP_AEAD_AES256GCM:
        return 32;
    case HASP_AEAD_CHACHA20POLY1305:
        return 32;
    case HASP_AEAD_AES128CCM:
    case HASP_AEAD_AES128CCM8:
        return 16;
    case HASP_AEAD_AES256CCM:
    case HASP_AEAD_AES256CCM8:
        return 32;
    default:
        return 0;
    }
}

static int aead_index(int alg)
{
    switch (alg) {
    case HASP_AEAD_AES128GCM:
        return C_AES128GCM;
    case HASP_AEAD_AES256GCM:
        return C_AES256GCM;
    case HASP_AEAD_CHACHA20POLY1305:
        return C_CHACHA;
    case HASP_AEAD_AES128CCM:
    case HASP_AEAD_AES128CCM8:
        return C_AES128CCM;
    case HASP_AEAD_AES256CCM:
    case HASP_AEAD_AES256CCM8:
        return C_AES256CCM;
    default:
        return -1;
    }
}

static int is_ccm(int alg)
{
    return alg == HASP_AEAD_AES128CCM || alg == HASP_AEAD_AES256CCM ||
           alg == HASP_AEAD_AES128CCM8 || alg == HASP_AEAD_AES256CCM8;
}

/* CCM is one-shot: the total length first, then the additional data, then
 * all the text in one call (decryption checks the tag in that call). */
static int ccm_seal(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                    const uint8_t *in1, size_t len1, const uint8_t *in2, size_t len2, uint8_t *out)
{
    const size_t len = len1 + len2;
    if (len1 && in1 != out) memmove(out, in1, len1);
    if (len2 && in2 != out + len1) memmove(out + len1, in2, len2);
    int n = 0, m = 0;
    ENSURE_MSG(EVP_CipherInit_ex2(c->ctx, NULL, NULL, nonce, 1, NULL) &&
                   EVP_CipherUpdate(c->ctx, NULL, &n, NULL, (int)len) &&
                   (!aad_len || EVP_CipherUpdate(c->ctx, NULL, &n, aad, (int)aad_len)) &&
                   EVP_CipherUpdate(c->ctx, out, &n, out, (int)len) &&
                   EVP_CipherFinal_ex(c->ctx, out + n, &m) &&
                   EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_GET_TAG, (int)c->tag_len, out + len) >
                       0,
               HASP_ERR_CRYPTO, "AEAD: AES-CCM encryption failed");
    return 0;
}

static int ccm_open(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                    const uint8_t *in, size_t ct_len, uint8_t *tag, uint8_t *out)
{
    int n = 0;
    ENSURE_MSG(EVP_CipherInit_ex2(c->ctx, NULL, NULL, nonce, 0, NULL) &&
                   EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_TAG, (int)c->tag_len, tag) > 0 &&
                   EVP_CipherUpdate(c->ctx, NULL, &n, NULL, (int)ct_len) &&
                   (!aad_len || EVP_CipherUpdate(c->ctx, NULL, &n, aad, (int)aad_len)),
               HASP_ERR_CRYPTO, "AEAD: AES-CCM setup failed");
    if (EVP_CipherUpdate(c->ctx, out, &n, in, (int)ct_len) <= 0) {
        OPENSSL_cleanse(out, ct_len);
        FAIL(HASP_ERR_BAD_MAC, "the record failed authentication (AEAD tag mismatch)");
    }
    return 0;
}

hasp_aead_ctx *hasp_aead_new(int alg, int encrypt, const uint8_t *key)
{
    int idx = aead_index(alg);
    if (idx < 0) {
        hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__, "unknown AEAD algorithm %d", alg);
        return NULL;
    }
    const EVP_CIPHER *cipher = cipher_get(idx);
    if (cipher == NULL) {
        hasp_err_set(HASP_ERR_CRYPTO, __FILE__, __LINE__, "the crypto library does not provide %s",
                     cipher_names[idx]);
        return NULL;
    }
    hasp_aead_ctx *c = hasp_calloc(1, sizeof(*c));
    ENSURE_PTR(c != NULL, HASP_ERR_NOMEM);
    c->alg = alg;
    c->encrypt = encrypt ? 1 : 0;
    c->tag_len = hasp_aead_tag_len(alg);
    c->ctx = EVP_CIPHER_CTX_new();
    /* CCM: a 12-byte nonce (L = 3) and the tag length, fixed before the key */
    int ccm = is_ccm(alg);
    if (c->ctx == NULL ||
        (ccm && (!EVP_CipherInit_ex2(c->ctx, cipher, NULL, NULL, c->encrypt, NULL) ||
                 EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) <= 0 ||
                 EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_TAG, (int)c->tag_len, NULL) <= 0)) ||
        !EVP_CipherInit_ex2(c->ctx, ccm ? NULL : cipher, key, NULL, c->encrypt, NULL)) {
        hasp_aead_free(c);
        hasp_err_set(HASP_ERR_CRYPTO, __FILE__, __LINE__, "could not set up %s with the key",
                     cipher_names[idx]);
        return NULL;
    }
    return c;
}

int hasp_aead_seal(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, size_t len, uint8_t *out)
{
    return hasp_aead_seal2(c, nonce, aad, aad_len, in, len, NULL, 0, out);
}

int hasp_aead_seal2(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                    const uint8_t *in1, size_t len1, const uint8_t *in2, size_t len2, uint8_t *out)
{
    ENSURE(c != NULL && c->encrypt, HASP_ERR_USAGE);
    ENSURE(len1 <= INT_MAX - 64 && len2 <= INT_MAX - 64 - len1 && aad_len <= INT_MAX,
           HASP_ERR_USAGE);
    if (is_ccm(c->alg)) return ccm_seal(c, nonce, aad, aad_len, in1, len1, in2, len2, out);
    int n = 0, m = 0;
    const size_t len = len1 + len2;
    ENSURE_MSG(EVP_CipherInit_ex2(c->ctx, NULL, NULL, nonce, 1, NULL), HASP_ERR_CRYPTO,
               "AEAD: could not set the nonce");
    if (aad_len)
        ENSURE_MSG(EVP_CipherUpdate(c->ctx, NULL, &n, aad, (int)aad_len), HASP_ERR_CRYPTO,
                   "AEAD: could not add the additional data");
    /* One stream from two sources: the ciphertext of in1 || in2 lands in out.
     * A small record is gathered in out first and encrypted in place with
     * one call: cheaper than a second EVP_CipherUpdate for the few bytes of
     * in2 (the TLS 1.3 content type and padding). */
    n = 0;
    if (len2 && len2 <= AEAD_GATHER_TAIL && len1 <= HASP_AEAD_GATHER_MAX) {
        uint8_t tail[AEAD_GATHER_TAIL];
        memcpy(tail, in2, len2); /* in2 may lie where in1 is moved to */
        if (len1 && in1 != out) memmove(out, in1, len1);
        memcpy(out + len1, tail, len2);
        in1 = out;
        len1 += len2;
        len2 = 0;
    }
    if (len1)
        ENSURE_MSG(EVP_CipherUpdate(c->ctx, out, &n, in1, (int)len1), HASP_ERR_CRYPTO,
                   "AEAD: encryption failed");
    if (len2) {
        int n2 = 0;
        ENSURE_MSG(EVP_CipherUpdate(c->ctx, out + n, &n2, in2, (int)len2), HASP_ERR_CRYPTO,
                   "AEAD: encryption failed");
        n += n2;
    }
    ENSURE_MSG(EVP_CipherFinal_ex(c->ctx, out + n, &m), HASP_ERR_CRYPTO, "AEAD: encryption failed");
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out + len, c->tag_len),
        OSSL_PARAM_construct_end(),
    };
    ENSURE_MSG(EVP_CIPHER_CTX_get_params(c->ctx, params), HASP_ERR_CRYPTO,
               "AEAD: could not get the tag");
    return 0;
}

int hasp_aead_open(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, size_t len, uint8_t *out)
{
    ENSURE(c != NULL, HASP_ERR_USAGE);
    ENSURE_MSG(len >= c->tag_len, HASP_ERR_BAD_MAC,
               "the record is too short to hold an authentication tag");
    size_t ct_len = len - c->tag_len;
    return hasp_aead_open2(c, nonce, aad, aad_len, in, len, out, ct_len, out + ct_len);
}

int hasp_aead_open2(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                    const uint8_t *in, size_t len, uint8_t *out1, size_t out1_len, uint8_t *out2)
{
    ENSURE(c != NULL && !c->encrypt, HASP_ERR_USAGE);
    ENSURE_MSG(len >= c->tag_len, HASP_ERR_BAD_MAC,
               "the record is too short to hold an authentication tag");
    ENSURE(len <= INT_MAX && aad_len <= INT_MAX, HASP_ERR_USAGE);
    size_t ct_len = len - c->tag_len;
    ENSURE(out1_len <= ct_len, HASP_ERR_USAGE);
    uint8_t tag[HASP_AEAD_TAG_LEN];
    memcpy(tag, in + ct_len, c->tag_len);
    if (is_ccm(c->alg)) {
        if (out2 == out1 + out1_len) return ccm_open(c, nonce, aad, aad_len, in, ct_len, tag, out1);
        /* two destinations: through a buffer of our own */
        uint8_t *tmp = hasp_malloc(ct_len ? ct_len : 1);
        ENSURE(tmp != NULL, HASP_ERR_NOMEM);
        int rc = ccm_open(c, nonce, aad, aad_len, in, ct_len, tag, tmp);
        if (rc == 0) {
            memcpy(out1, tmp, out1_len);
            memcpy(out2, tmp + out1_len, ct_len - out1_len);
        }
        OPENSSL_cleanse(tmp, ct_len);
        hasp_free(tmp);
        return rc;
    }
    int n = 0, m = 0;
    ENSURE_MSG(EVP_CipherInit_ex2(c->ctx, NULL, NULL, nonce, 0, NULL), HASP_ERR_CRYPTO,
               "AEAD: could not set the nonce");
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, c->tag_len),
        OSSL_PARAM_construct_end(),
    };
    ENSURE_MSG(EVP_CIPHER_CTX_set_params(c->ctx, params), HASP_ERR_CRYPTO,
               "AEAD: could not set the tag");
    if (aad_len)
        ENSURE_MSG(EVP_CipherUpdate(c->ctx, NULL, &n, aad, (int)aad_len), HASP_ERR_CRYPTO,
                   "AEAD: could not add the additional data");
    /* the same stream in two destinations */
    ENSURE_MSG(EVP_CipherUpdate(c->ctx, out1, &n, in, (int)out1_len), HASP_ERR_CRYPTO,
               "AEAD: decryption failed");
    ENSURE_MSG(EVP_CipherUpdate(c->ctx, out2, &n, in + out1_len, (int)(ct_len - out1_len)),
               HASP_ERR_CRYPTO, "AEAD: decryption failed");
    if (EVP_CipherFinal_ex(c->ctx, out2 + n, &m) <= 0) {
        OPENSSL_cleanse(out1, out1_len);
        OPENSSL_cleanse(out2, ct_len - out1_len);
        FAIL(HASP_ERR_BAD_MAC, "the record failed authentication (AEAD tag mismatch)");
    }
    return 0;
}

void hasp_aead_free(hasp_aead_ctx *c)
{
    if (c == NULL) return;
    EVP_CIPHER_CTX_free(c->ctx); /* cleanses the key schedule */
    OPENSSL_cleanse(c, sizeof(*c));
    hasp_free(c);
}

/* ------------------------------------------------------------------ CBC */

struct hasp_cbc_ctx {
    EVP_CIPHER_CTX *ctx;
    int alg;
    int encrypt;
    size_t block;
};

static int cbc_index(int alg)
{
    switch (alg) {
    case HASP_CBC_AES128:
        return C_AES128CBC;
    case HASP_CBC_AES256:
        return C_AES256CBC;
    case HASP_CBC_3DES:
        return C_3DESCBC;
    default:
        return -1;
    }
}

size_t hasp_cbc_key_len(int alg)
{
    switch (alg) {
    case HASP_CBC_AES128:
        return 16;
    case HASP_CBC_AES256:
        return 32;
    case HASP_CBC_3DES:
        return 24;
    default:
        return 0;
    }
}

size_t hasp_cbc_block_len(int alg)
{
    switch (alg) {
    case HASP_CBC_AES128:
    case HASP_CBC_AES256:
        return 16;
    case HASP_CBC_3DES:
        return 8;
    default:
        return 0;
    }
}

hasp_cbc_ctx *hasp_cbc_new(int alg, int encrypt, const uint8_t *key)
{
    int idx = cbc_index(alg);
    if (idx < 0) {
        hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__, "unknown CBC cipher %d", alg);
        return NULL;
    }
    const EVP_CIPHER *cipher = cipher_get(idx);
    if (cipher == NULL) {
        hasp_err_set(HASP_ERR_CRYPTO, __FILE__, __LINE__, "the crypto library does not provide %s",
                     cipher_names[idx]);
        return NULL;
    }
    hasp_cbc_ctx *c = hasp_calloc(1, sizeof(*c));
    ENSURE_PTR(c != NULL, HASP_ERR_NOMEM);
    c->alg = alg;
    c->encrypt = encrypt ? 1 : 0;
    c->block = hasp_cbc_block_len(alg);
    c->ctx = EVP_CIPHER_CTX_new();
    if (c->ctx == NULL || !EVP_CipherInit_ex2(c->ctx, cipher, key, NULL, c->encrypt, NULL) ||
        !EVP_CIPHER_CTX_set_padding(c->ctx, 0)) {
        hasp_cbc_free(c);
        hasp_err_set(HASP_ERR_CRYPTO, __FILE__, __LINE__, "could not set up %s with the key",
                     cipher_names[idx]);
        return NULL;
    }
    return c;
}

int hasp_cbc_run(hasp_cbc_ctx *c, const uint8_t *iv, const uint8_t *in, size_t len, uint8_t *out)
{
    ENSURE(c != NULL, HASP_ERR_USAGE);
    ENSURE_MSG(len % c->block == 0 && len <= INT_MAX, HASP_ERR_USAGE,
               "CBC input of %zu bytes is not a whole number of %zu-byte blocks", len, c->block);
    if (len == 0) return 0;
    int n = 0;
    ENSURE_MSG(EVP_CipherInit_ex2(c->ctx, NULL, NULL, iv, c->encrypt, NULL), HASP_ERR_CRYPTO,
               "CBC: could not set the IV");
    ENSURE_MSG(EVP_CipherUpdate(c->ctx, out, &n, in, (int)len) && (size_t)n == len, HASP_ERR_CRYPTO,
               "CBC: the cipher failed");
    return 0;
}

void hasp_cbc_free(hasp_cbc_ctx *c)
{
    if (c == NULL) return;
    EVP_CIPHER_CTX_free(c->ctx);
    OPENSSL_cleanse(c, sizeof(*c));
    hasp_free(c);
}
