/* Key exchange groups: X25519, X448 and NIST curves through EVP_PKEY,
 * finite field DH (RFC 7919 groups or a server's explicit p, g) with
 * BIGNUM Montgomery exponentiation, and the hybrids of
 * draft-ietf-tls-ecdhe-mlkem: an ECDH key exchange and ML-KEM (mlkem.c)
 * side by side, their public values and secrets concatenated. */
#include "../alloc.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "mlkem.h"

enum { KEX_X25519 = 1, KEX_X448, KEX_EC, KEX_DH, KEX_HYBRID };

typedef struct group_row {
    uint16_t id;
    const char *name;     /* TLS name */
    const char *alias[3]; /* other accepted spellings */
    int kind;
    const char *ossl_name; /* OpenSSL group name */
    size_t pub_len;        /* wire size of the public value (a hybrid's: the client's) */
    int nid;
    /* hybrids: the ECDH group, the ML-KEM parameter set, and whether the
     * ML-KEM value comes first in shares and secret */
    uint16_t ecdh;
    int mlkem;
    int mlkem_first;
} group_row;

static const group_row groups[] = {
    /* draft-ietf-tls-ecdhe-mlkem 4.1: X25519MLKEM768 puts ML-KEM first
     * (ek || x25519, ct || x25519, K || ss), the NIST curve hybrids put
     * ECDH first. */
    {HASP_GROUP_X25519MLKEM768,
     "X25519MLKEM768",
     {NULL, NULL, NULL},
     KEX_HYBRID,
     "X25519MLKEM768",
     HASP_MLKEM768_EK_LEN + 32,
     0,
     HASP_GROUP_X25519,
     HASP_MLKEM768,
     1},
    {HASP_GROUP_SECP256R1MLKEM768,
     "SecP256r1MLKEM768",
     {NULL, NULL, NULL},
     KEX_HYBRID,
     "SecP256r1MLKEM768",
     65 + HASP_MLKEM768_EK_LEN,
     0,
     HASP_GROUP_SECP256R1,
     HASP_MLKEM768,
     0},
    {HASP_GROUP_SECP384R1MLKEM1024,
     "SecP384r1MLKEM1024",
     {NULL, NULL, NULL},
     KEX_HYBRID,
     "SecP384r1MLKEM1024",
     97 + HASP_MLKEM1024_EK_LEN,
     0,
     HASP_GROUP_SECP384R1,
     HASP_MLKEM1024,
     0},
    {HASP_GROUP_X25519, "x25519", {"curve25519", NULL, NULL}, KEX_X25519, "X25519", 32, 0, 0, 0, 0},
    {HASP_GROUP_SECP256R1,
     "secp256r1",
     {"P-256", "prime256v1", "p256"},
     KEX_EC,
     "P-256",
     65,
     NID_X9_62_prime256v1,
     0,
     0,
     0},
    {HASP_GROUP_SECP384R1,
     "secp384r1",
     {"P-384", "p384", NULL},
     KEX_EC,
     "P-384",
     97,
     NID_secp384r1,
     0,
     0,
     0},
    {HASP_GROUP_X448, "x448", {"curve448", NULL, NULL}, KEX_X448, "X448", 56, 0, 0, 0, 0},
    {HASP_GROUP_SECP521R1,
     "secp521r1",
     {"P-521", "p521", NULL},
     KEX_EC,
     "P-521",
     133,
     NID_secp521r1,
     0,
     0,
     0},
    {HASP_GROUP_FFDHE2048, "ffdhe2048", {NULL, NULL, NULL}, KEX_DH, "ffdhe2048", 256, 0, 0, 0, 0},
    {HASP_GROUP_FFDHE3072, "ffdhe3072", {NULL, NULL, NULL}, KEX_DH, "ffdhe3072", 384, 0, 0, 0, 0},
};

static const group_row *group_find(uint16_t id)
{
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (groups[i].id == id) return &groups[i];
    return NULL;
}

const char *hasp_group_name(uint16_t group)
{
    const group_row *g = group_find(group);
    return g ? g->name : NULL;
}

int hasp_group_by_name(const char *name)
{
    ENSURE(name != NULL, HASP_ERR_USAGE);
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (strcasecmp(name, groups[i].name) == 0) return groups[i].id;
        for (int j = 0; j < 3 && groups[i].alias[j]; j++)
            if (strcasecmp(name, groups[i].alias[j]) == 0) return groups[i].id;
    }
    FAIL(HASP_ERR_CONFIG,
         "unknown key exchange group '%s' (known: X25519MLKEM768, SecP256r1MLKEM768, "
         "SecP384r1MLKEM1024, x25519, secp256r1, secp384r1, x448, secp521r1, ffdhe2048, "
         "ffdhe3072)",
         name);
}

int hasp_group_is_ffdhe(uint16_t group)
{
    const group_row *g = group_find(group);
    return g && g->kind == KEX_DH;
}

int hasp_group_is_hybrid(uint16_t group)
{
    const group_row *g = group_find(group);
    return g && g->kind == KEX_HYBRID;
}

size_t hasp_group_share_len(uint16_t group, int server)
{
    const group_row *g = group_find(group);
    if (g == NULL || g->kind == KEX_DH) return 0;
    if (g->kind != KEX_HYBRID || !server) return g->pub_len;
    return g->pub_len - hasp_mlkem_ek_len(g->mlkem) + hasp_mlkem_ct_len(g->mlkem);
}

size_t hasp_group_list(uint16_t *out, size_t cap)
{
    size_t n = sizeof(groups) / sizeof(groups[0]);
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = groups[i].id;
    return n;
}

/* ------------------------------------------------------------------ RFC 7919 parameters */

static uint8_t ffdhe2048_p[256], ffdhe3072_p[384];
static const uint8_t ffdhe_g[1] = {2};
static int ffdhe_loaded;
static pthread_once_t ffdhe_once = PTHREAD_ONCE_INIT;

static int ffdhe_export(const char *name, uint8_t *out, size_t len)
{
    int ok = 0;
    EVP_PKEY *params = NULL;
    BIGNUM *p = NULL;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    OSSL_PARAM prm[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (pctx && EVP_PKEY_paramgen_init(pctx) > 0 && EVP_PKEY_CTX_set_params(pctx, prm) > 0 &&
        EVP_PKEY_paramgen(pctx, &params) > 0 &&
        EVP_PKEY_get_bn_param(params, OSSL_PKEY_PARAM_FFC_P, &p) > 0 &&
        (size_t)BN_num_bytes(p) == len)
        ok = BN_bn2binpad(p, out, (int)len) == (int)len;
    BN_free(p);
    EVP_PKEY_free(params);
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

static void ffdhe_load(void)
{
    ffdhe_loaded = ffdhe_export("ffdhe2048", ffdhe2048_p, sizeof(ffdhe2048_p)) &&
                   ffdhe_export("ffdhe3072", ffdhe3072_p, sizeof(ffdhe3072_p));
}

int hasp_ffdhe_params(uint16_t group, const uint8_t **p, size_t *p_len, const uint8_t **g,
                      size_t *g_len)
{
    ENSURE_MSG(hasp_group_is_ffdhe(group), HASP_ERR_USAGE, "group 0x%04x is not an FFDHE group",
               group);
    pthread_once(&ffdhe_once, ffdhe_load);
    ENSURE_MSG(ffdhe_loaded, HASP_ERR_CRYPTO,
               "the crypto library could not provide the RFC 7919 groups");
    if (group == HASP_GROUP_FFDHE2048) {
        *p = ffdhe2048_p;
        *p_len = sizeof(ffdhe2048_p);
    } else {
        *p = ffdhe3072_p;
        *p_len = sizeof(ffdhe3072_p);
    }
    *g = ffdhe_g;
    *g_len = sizeof(ffdhe_g);
    return 0;
}

/* ------------------------------------------------------------------ key pairs */

struct hasp_kex {
    uint16_t group; /* 0: explicit DH parameters */
    int kind;
    const group_row *row;
    EVP_PKEY *pkey; /* X25519, X448, EC */
    /* hybrids: the ECDH half, and the ML-KEM half: the initiator (client)
     * keeps ek and dk, the responder (server) the ciphertext it made */
    hasp_kex *ecdh;
    int responder;
    uint8_t *mlkem_dk;
    uint8_t *mlkem_pub; /* ek, or ct once the responder has derived */
    size_t mlkem_pub_len;
    /* DH */
    BIGNUM *p, *g, *x, *y;
    BN_MONT_CTX *mont;
    BN_CTX *bn;
    size_t p_len;
};

void hasp_kex_free(hasp_kex *k)
{
    if (k == NULL) return;
    EVP_PKEY_free(k->pkey);
    hasp_kex_free(k->ecdh);
    if (k->mlkem_dk) {
        hasp_wipe(k->mlkem_dk, HASP_MLKEM_MAX_DK_LEN);
        hasp_free(k->mlkem_dk);
    }
    hasp_free(k->mlkem_pub);
    BN_free(k->p);
    BN_free(k->g);
    BN_clear_free(k->x);
    BN_free(k->y);
    BN_MONT_CTX_free(k->mont);
    BN_CTX_free(k->bn);
    hasp_free(k);
}

uint16_t hasp_kex_group(const hasp_kex *k)
{
    return k ? k->group : 0;
}

static hasp_kex *kex_alloc(const group_row *row)
{
    hasp_kex *k = hasp_calloc(1, sizeof(*k));
    ENSURE_PTR(k != NULL, HASP_ERR_NOMEM);
    k->row = row;
    k->group = row ? row->id : 0;
    k->kind = row ? row->kind : KEX_DH;
    return k;
}

static hasp_kex *kex_fail(hasp_kex *k, int code, const char *msg)
{
    hasp_kex_free(k);
    hasp_err_set(code, __FILE__, __LINE__, "%s", msg);
    return NULL;
}

/* DH: set p and g, check them, precompute the Montgomery context. */
static int dh_setup(hasp_kex *k, const uint8_t *p, size_t p_len, const uint8_t *g, size_t g_len)
{
    k->bn = BN_CTX_new();
    k->p = BN_bin2bn(p, (int)p_len, NULL);
    k->g = BN_bin2bn(g, (int)g_len, NULL);
    k->mont = BN_MONT_CTX_new();
    ENSURE(k->bn && k->p && k->g && k->mont, HASP_ERR_NOMEM);
    int bits = BN_num_bits(k->p);
    ENSURE_MSG(bits >= 2048, HASP_ERR_INSUFFICIENT_SECURITY,
               "the server's Diffie-Hellman prime has %d bits; at least 2048 are required", bits);
    ENSURE_MSG(bits <= 8192, HASP_ERR_ILLEGAL_PARAM,
               "the server's Diffie-Hellman prime has %d bits; at most 8192 are accepted", bits);
    ENSURE_MSG(BN_is_odd(k->p), HASP_ERR_ILLEGAL_PARAM,
               "the server's Diffie-Hellman modulus is even");
    k->p_len = (size_t)BN_num_bytes(k->p);
    /* 1 < g < p-1 */
    BIGNUM *pm1 = BN_new();
    int ok = pm1 && BN_sub(pm1, k->p, BN_value_one());
    int g_ok = ok && BN_cmp(k->g, BN_value_one()) > 0 && BN_cmp(k->g, pm1) < 0;
    BN_free(pm1);
    ENSURE(ok, HASP_ERR_NOMEM);
    ENSURE_MSG(g_ok, HASP_ERR_ILLEGAL_PARAM,
               "the Diffie-Hellman generator is out of range (need 1 < g < p-1)");
    ENSURE(BN_MONT_CTX_set(k->mont, k->p, k->bn), HASP_ERR_CRYPTO);
    return 0;
}

/* y = g^x mod p for the private exponent in k->x. */
static int dh_public(hasp_kex *k)
{
    BN_set_flags(k->x, BN_FLG_CONSTTIME);
    k->y = BN_new();
    ENSURE(k->y != NULL, HASP_ERR_NOMEM);
    ENSURE_MSG(BN_mod_exp_mont_consttime(k->y, k->g, k->x, k->p, k->bn, k->mont), HASP_ERR_CRYPTO,
               "Diffie-Hellman key generation failed");
    return 0;
}

static int dh_keygen(hasp_kex *k, int xbits)
{
    k->x = BN_secure_new();
    ENSURE(k->x != NULL, HASP_ERR_NOMEM);
    ENSURE_MSG(BN_priv_rand_ex(k->x, xbits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY, 0, k->bn),
               HASP_ERR_CRYPTO, "could not generate a Diffie-Hellman private key");
    return dh_public(k);
}

/* Exponent sizes: twice the group's security level (RFC 7919 5.2), more
 * for a prime the server chose. */
static int dh_exponent_bits(const hasp_kex *k)
{
    int bits = BN_num_bits(k->p);
    if (k->group == HASP_GROUP_FFDHE2048) return 256;
    if (k->group == HASP_GROUP_FFDHE3072) return 320;
    return bits - 1 < 512 ? bits - 1 : 512;
}

static EVP_PKEY *ec_from_point(const group_row *row, const uint8_t *pt, size_t len)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM prm[3] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)row->ossl_name, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, prm) <= 0)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

/* ------------------------------------------------------------------ X25519 through EVP, cheaply */

/* OpenSSL 3.0 makes every EVP_PKEY_CTX from scratch: a provider fetch by
 * name and a walk of the whole name map (about 1.3 us here). An X25519
 * handshake would make three: keygen, peer key import, derive. The keygen
 * context is kept, one per thread (EVP_PKEY_keygen writes into its
 * context); the peer's key is a copy of a public-key template with the
 * peer's bytes set into it (1.4 us instead of 2.9 for
 * EVP_PKEY_new_raw_public_key_ex). Only the derive context, bound to the
 * fresh private key, is new per handshake. */
static pthread_key_t x25519_kg_key;
static int x25519_kg_key_ok;
static EVP_PKEY *x25519_template;
static pthread_once_t x25519_once = PTHREAD_ONCE_INIT;

static void x25519_kg_free(void *p)
{
    EVP_PKEY_CTX_free(p);
}

static void x25519_setup(void)
{
    x25519_kg_key_ok = pthread_key_create(&x25519_kg_key, x25519_kg_free) == 0;
    static const uint8_t base[32] = {9}; /* any valid public value */
    x25519_template = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, base, sizeof(base));
}

static EVP_PKEY *x25519_keygen(void)
{
    pthread_once(&x25519_once, x25519_setup);
    EVP_PKEY_CTX *ctx = x25519_kg_key_ok ? pthread_getspecific(x25519_kg_key) : NULL;
    if (ctx == NULL) {
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
        if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0) {
            EVP_PKEY_CTX_free(ctx);
            return NULL;
        }
        if (x25519_kg_key_ok && pthread_setspecific(x25519_kg_key, ctx) != 0) {
            EVP_PKEY *pk = NULL;
            if (EVP_PKEY_keygen(ctx, &pk) <= 0) pk = NULL;
            EVP_PKEY_CTX_free(ctx);
            return pk;
        }
    }
    EVP_PKEY *pk = NULL;
    if (EVP_PKEY_keygen(ctx, &pk) <= 0) pk = NULL;
    if (!x25519_kg_key_ok) EVP_PKEY_CTX_free(ctx);
    return pk;
}

static EVP_PKEY *x25519_peer(const uint8_t *pub, size_t len)
{
    pthread_once(&x25519_once, x25519_setup);
    if (x25519_template != NULL) {
        EVP_PKEY *pk = EVP_PKEY_dup(x25519_template);
        if (pk != NULL && EVP_PKEY_set1_encoded_public_key(pk, pub, len) == 1) return pk;
        EVP_PKEY_free(pk);
    }
    return EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, pub, len);
}

/* A hybrid's halves: the ECDH key pair, and for the initiator an ML-KEM
 * key pair (the responder encapsulates to the peer's key in derive). */
static int hybrid_setup(hasp_kex *k, int responder)
{
    k->responder = responder;
    k->ecdh = hasp_kex_new(k->row->ecdh);
    ENSURE_MSG(k->ecdh != NULL, HASP_ERR_CRYPTO, "%s: the ECDH key generation failed",
               k->row->name);
    if (responder) return 0;
    size_t ekl = hasp_mlkem_ek_len(k->row->mlkem);
    k->mlkem_dk = hasp_malloc(HASP_MLKEM_MAX_DK_LEN);
    k->mlkem_pub = hasp_malloc(ekl);
    ENSURE(k->mlkem_dk && k->mlkem_pub, HASP_ERR_NOMEM);
    GUARD(hasp_mlkem_keygen(k->row->mlkem, k->mlkem_pub, k->mlkem_dk));
    k->mlkem_pub_len = ekl;
    return 0;
}

hasp_kex *hasp_kex_new(uint16_t group)
{
    const group_row *row = group_find(group);
    if (row == NULL) {
        hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__, "unknown key exchange group 0x%04x",
                     group);
        return NULL;
    }
    hasp_kex *k = kex_alloc(row);
    if (k == NULL) return NULL;
    switch (row->kind) {
    case KEX_X25519:
        k->pkey = x25519_keygen();
        if (k->pkey == NULL) return kex_fail(k, HASP_ERR_CRYPTO, "X25519 key generation failed");
        break;
    case KEX_X448:
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X448");
        if (k->pkey == NULL) return kex_fail(k, HASP_ERR_CRYPTO, "X448 key generation failed");
        break;
    case KEX_EC:
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", row->ossl_name);
        if (k->pkey == NULL) return kex_fail(k, HASP_ERR_CRYPTO, "EC key generation failed");
        break;
    case KEX_HYBRID:
        if (hybrid_setup(k, 0) < 0) {
            hasp_kex_free(k);
            return NULL;
        }
        break;
    default: {
        const uint8_t *p = NULL, *g = NULL;
        size_t pl = 0, gl = 0;
        if (hasp_ffdhe_params(group, &p, &pl, &g, &gl) < 0 || dh_setup(k, p, pl, g, gl) < 0 ||
            dh_keygen(k, dh_exponent_bits(k)) < 0) {
            hasp_kex_free(k);
            return NULL;
        }
        break;
    }
    }
    return k;
}

hasp_kex *hasp_kex_new_responder(uint16_t group)
{
    const group_row *row = group_find(group);
    if (row == NULL || row->kind != KEX_HYBRID) return hasp_kex_new(group);
    hasp_kex *k = kex_alloc(row);
    if (k == NULL) return NULL;
    if (hybrid_setup(k, 1) < 0) {
        hasp_kex_free(k);
        return NULL;
    }
    return k;
}

hasp_kex *hasp_kex_new_dh(const uint8_t *p, size_t p_len, const uint8_t *g, size_t g_len)
{
    ENSURE_PTR(p != NULL && g != NULL && p_len > 0 && g_len > 0, HASP_ERR_ILLEGAL_PARAM);
    hasp_kex *k = kex_alloc(NULL);
    if (k == NULL) return NULL;
    if (dh_setup(k, p, p_len, g, g_len) < 0 || dh_keygen(k, dh_exponent_bits(k)) < 0) {
        hasp_kex_free(k);
        return NULL;
    }
    return k;
}

hasp_kex *hasp_kex_new_from_private(uint16_t group, const uint8_t *priv, size_t priv_len)
{
    const group_row *row = group_find(group);
    ENSURE_PTR(row != NULL && priv != NULL, HASP_ERR_USAGE);
    hasp_kex *k = kex_alloc(row);
    if (k == NULL) return NULL;
    if (row->kind == KEX_X25519 || row->kind == KEX_X448) {
        k->pkey = EVP_PKEY_new_raw_private_key_ex(NULL, row->ossl_name, NULL, priv, priv_len);
        if (k->pkey == NULL) return kex_fail(k, HASP_ERR_CRYPTO, "bad X25519 or X448 private key");
    } else if (row->kind == KEX_HYBRID) {
        return kex_fail(k, HASP_ERR_USAGE,
                        "a hybrid group takes no fixed private key (ML-KEM keys come from seeds)");
    } else if (row->kind == KEX_EC) {
        /* Compute the public point, then import both halves. */
        EC_GROUP *grp = EC_GROUP_new_by_curve_name(row->nid);
        EC_POINT *pt = grp ? EC_POINT_new(grp) : NULL;
        BIGNUM *d = BN_bin2bn(priv, (int)priv_len, NULL);
        uint8_t pub[133];
        size_t pub_len = 0;
        if (pt && d && EC_POINT_mul(grp, pt, d, NULL, NULL, NULL))
            pub_len =
                EC_POINT_point2oct(grp, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *prm = NULL;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (bld && pub_len &&
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, row->ossl_name, 0) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len))
            prm = OSSL_PARAM_BLD_to_param(bld);
        if (prm == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, &k->pkey, EVP_PKEY_KEYPAIR, prm) <= 0)
            k->pkey = NULL;
        OSSL_PARAM_free(prm);
        OSSL_PARAM_BLD_free(bld);
        EVP_PKEY_CTX_free(ctx);
        BN_clear_free(d);
        EC_POINT_free(pt);
        EC_GROUP_free(grp);
        if (k->pkey == NULL) return kex_fail(k, HASP_ERR_CRYPTO, "bad EC private key");
    } else {
        const uint8_t *p = NULL, *g = NULL;
        size_t pl = 0, gl = 0;
        if (hasp_ffdhe_params(group, &p, &pl, &g, &gl) < 0 || dh_setup(k, p, pl, g, gl) < 0) {
            hasp_kex_free(k);
            return NULL;
        }
        k->x = BN_secure_new();
        if (k->x == NULL || BN_bin2bn(priv, (int)priv_len, k->x) == NULL || BN_is_zero(k->x) ||
            BN_cmp(k->x, k->p) >= 0)
            return kex_fail(k, HASP_ERR_USAGE, "bad DH private key");
        if (dh_public(k) < 0) {
            hasp_kex_free(k);
            return NULL;
        }
    }
    return k;
}

int hasp_kex_public(hasp_kex *k, uint8_t *out, size_t cap, size_t *out_len)
{
    ENSURE(k != NULL && out != NULL && out_len != NULL, HASP_ERR_USAGE);
    switch (k->kind) {
    case KEX_X25519:
    case KEX_X448: {
        size_t n = cap;
        ENSURE_MSG(cap >= k->row->pub_len && EVP_PKEY_get_raw_public_key(k->pkey, out, &n) == 1 &&
                       n == k->row->pub_len,
                   HASP_ERR_INTERNAL, "could not write the %s public key", k->row->name);
        *out_len = n;
        return 0;
    }
    case KEX_HYBRID: {
        /* initiator: ek and the ECDH value; responder: ct and the ECDH value */
        ENSURE_MSG(k->mlkem_pub != NULL, HASP_ERR_INTERNAL,
                   "the %s responder's share exists only after the peer's share is used",
                   k->row->name);
        size_t ecl = 0, ml = k->mlkem_pub_len;
        uint8_t ec[HASP_KEX_MAX_PUB];
        GUARD(hasp_kex_public(k->ecdh, ec, sizeof(ec), &ecl));
        ENSURE_MSG(cap >= ecl + ml, HASP_ERR_INTERNAL, "buffer too small for the %s share",
                   k->row->name);
        memcpy(out + (k->row->mlkem_first ? 0 : ecl), k->mlkem_pub, ml);
        memcpy(out + (k->row->mlkem_first ? ml : 0), ec, ecl);
        *out_len = ecl + ml;
        return 0;
    }
    case KEX_EC: {
        size_t n = 0;
        ENSURE_MSG(EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out,
                                                   cap, &n) == 1 &&
                       n == k->row->pub_len,
                   HASP_ERR_INTERNAL, "could not write the EC public key");
        *out_len = n;
        return 0;
    }
    default:
        ENSURE_MSG(cap >= k->p_len, HASP_ERR_INTERNAL, "buffer too small for the DH public value");
        ENSURE(BN_bn2binpad(k->y, out, (int)k->p_len) == (int)k->p_len, HASP_ERR_CRYPTO);
        *out_len = k->p_len;
        return 0;
    }
}

static int evp_derive(hasp_kex *k, EVP_PKEY *peer, uint8_t *out, size_t cap, size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    size_t n = cap;
    int ok = ctx && EVP_PKEY_derive_init(ctx) > 0 &&
             EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) > 0 && EVP_PKEY_derive(ctx, out, &n) > 0;
    EVP_PKEY_CTX_free(ctx);
    ENSURE_MSG(ok, HASP_ERR_ILLEGAL_PARAM, "key agreement with the peer's public value failed");
    *out_len = n;
    return 0;
}

/* draft-ietf-tls-ecdhe-mlkem 4.1: the peer's share splits at the fixed
 * size of its ECDH value; a share of another length, a bad point, or an
 * encapsulation key failing the FIPS 203 7.2 check is illegal_parameter.
 * The secret is the two secrets in the group's order. */
static int hybrid_derive(hasp_kex *k, const uint8_t *peer, size_t peer_len, uint8_t *out,
                         size_t cap, size_t *out_len)
{
    const group_row *row = k->row;
    int mp = row->mlkem;
    size_t ecl = group_find(row->ecdh)->pub_len;
    size_t ml = k->responder ? hasp_mlkem_ek_len(mp) : hasp_mlkem_ct_len(mp);
    ENSURE_MSG(peer_len == ecl + ml, HASP_ERR_ILLEGAL_PARAM,
               "the peer's %s share has %zu bytes, not %zu (%zu of %s and %zu of %s)", row->name,
               peer_len, ecl + ml, row->mlkem_first ? ml : ecl,
               row->mlkem_first ? (k->responder ? "encapsulation key" : "ciphertext")
                                : group_find(row->ecdh)->name,
               row->mlkem_first ? ecl : ml,
               row->mlkem_first ? group_find(row->ecdh)->name
                                : (k->responder ? "encapsulation key" : "ciphertext"));
    const uint8_t *ec = peer + (row->mlkem_first ? ml : 0);
    const uint8_t *mk = peer + (row->mlkem_first ? 0 : ecl);
    uint8_t ecss[66], kss[HASP_MLKEM_SS_LEN];
    size_t ecss_len = 0;
    int rc = hasp_kex_derive(k->ecdh, ec, ecl, ecss, sizeof(ecss), &ecss_len);
    if (rc < 0)
        FAIL(HASP_ERR_ILLEGAL_PARAM, "the %s share's %s part is bad: %s", row->name,
             group_find(row->ecdh)->name, hasp_err_last()->msg);
    if (k->responder) {
        size_t ctl = hasp_mlkem_ct_len(mp);
        uint8_t *ct = hasp_malloc(ctl);
        rc = ct ? hasp_mlkem_encaps(mp, mk, ml, ct, kss) : HASP_ERR_NOMEM;
        if (rc < 0) {
            hasp_free(ct);
            hasp_wipe(ecss, sizeof(ecss));
            if (rc == HASP_ERR_NOMEM) FAIL(HASP_ERR_NOMEM, NULL);
            FAIL(HASP_ERR_ILLEGAL_PARAM, "the %s share's ML-KEM part is bad: %s", row->name,
                 hasp_err_last()->msg);
        }
        hasp_free(k->mlkem_pub);
        k->mlkem_pub = ct;
        k->mlkem_pub_len = ctl;
    } else {
        rc = hasp_mlkem_decaps_own(mp, k->mlkem_dk, hasp_mlkem_dk_len(mp), mk, ml, kss);
        if (rc < 0) {
            hasp_wipe(ecss, sizeof(ecss));
            FAIL(HASP_ERR_ILLEGAL_PARAM, "the %s share's ML-KEM ciphertext is bad: %s", row->name,
                 hasp_err_last()->msg);
        }
    }
    if (cap >= ecss_len + sizeof(kss)) {
        memcpy(out + (row->mlkem_first ? 0 : ecss_len), kss, sizeof(kss));
        memcpy(out + (row->mlkem_first ? sizeof(kss) : 0), ecss, ecss_len);
        *out_len = ecss_len + sizeof(kss);
    }
    hasp_wipe(ecss, sizeof(ecss));
    hasp_wipe(kss, sizeof(kss));
    ENSURE_MSG(cap >= ecss_len + HASP_MLKEM_SS_LEN, HASP_ERR_INTERNAL,
               "buffer too small for the %s secret", row->name);
    return 0;
}

/* X25519 or X448 (RFC 7748); the X25519 peer key from the template. */
static int xdh_derive(hasp_kex *k, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap,
                      size_t *out_len)
{
    size_t n = k->row->pub_len;
    ENSURE_MSG(peer_len == n, HASP_ERR_ILLEGAL_PARAM,
               "the peer's %s public value has %zu bytes, not %zu", k->row->name, peer_len, n);
    ENSURE_MSG(cap >= n, HASP_ERR_INTERNAL, "buffer too small for the %s secret", k->row->name);
    EVP_PKEY *pk = k->kind == KEX_X25519
                       ? x25519_peer(peer, peer_len)
                       : EVP_PKEY_new_raw_public_key_ex(NULL, k->row->ossl_name, NULL, peer, n);
    ENSURE_MSG(pk != NULL, HASP_ERR_ILLEGAL_PARAM, "bad %s public value", k->row->name);
    int rc = evp_derive(k, pk, out, cap, out_len);
    EVP_PKEY_free(pk);
    GUARD(rc);
    /* RFC 7748 6: an all-zero result means the peer sent a small-order
     * point (RFC 8446 7.4.2: abort). */
    uint8_t z = 0;
    for (size_t i = 0; i < *out_len; i++)
        z |= out[i];
    ENSURE_MSG(z != 0, HASP_ERR_ILLEGAL_PARAM,
               "the peer's %s public value is a small-order point (shared secret is zero)",
               k->row->name);
    return 0;
}

static int kex_derive(hasp_kex *k, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap,
                      size_t *out_len, int padded)
{
    ENSURE(k != NULL && peer != NULL && out != NULL && out_len != NULL, HASP_ERR_USAGE);
    if (k->kind == KEX_HYBRID) return hybrid_derive(k, peer, peer_len, out, cap, out_len);
    if (k->kind == KEX_X25519 || k->kind == KEX_X448)
        return xdh_derive(k, peer, peer_len, out, cap, out_len);
    if (k->kind == KEX_EC) {
        /* RFC 8446 4.2.8.2: uncompressed form only. */
        ENSURE_MSG(peer_len == k->row->pub_len && peer[0] == 0x04, HASP_ERR_ILLEGAL_PARAM,
                   "the peer's %s public value is not an uncompressed point (%zu bytes)",
                   k->row->name, peer_len);
        EVP_PKEY *pk = ec_from_point(k->row, peer, peer_len);
        ENSURE_MSG(pk != NULL, HASP_ERR_ILLEGAL_PARAM,
                   "the peer's %s public value is not a point on the curve", k->row->name);
        EVP_PKEY_CTX *cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
        int valid = cctx && EVP_PKEY_public_check_quick(cctx) > 0;
        EVP_PKEY_CTX_free(cctx);
        int rc = valid ? evp_derive(k, pk, out, cap, out_len) : HASP_ERR_ILLEGAL_PARAM;
        EVP_PKEY_free(pk);
        ENSURE_MSG(valid, HASP_ERR_ILLEGAL_PARAM, "the peer's %s public value is not a valid point",
                   k->row->name);
        return rc;
    }
    /* Finite field DH. */
    ENSURE_MSG(peer_len >= 1 && peer_len <= k->p_len, HASP_ERR_ILLEGAL_PARAM,
               "the peer's DH public value has %zu bytes; the prime has %zu", peer_len, k->p_len);
    ENSURE_MSG(cap >= k->p_len, HASP_ERR_INTERNAL, "buffer too small for the DH secret");
    int rc = 0;
    BN_CTX_start(k->bn);
    BIGNUM *y = BN_CTX_get(k->bn), *z = BN_CTX_get(k->bn), *pm1 = BN_CTX_get(k->bn);
    if (!z || !BN_bin2bn(peer, (int)peer_len, y) || !BN_sub(pm1, k->p, BN_value_one())) {
        rc = hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
    } else if (BN_cmp(y, BN_value_one()) <= 0 || BN_cmp(y, pm1) >= 0) {
        /* RFC 7919 5.1, NIST SP 800-56A: 1 < Y < p-1. */
        rc = hasp_err_set(HASP_ERR_ILLEGAL_PARAM, __FILE__, __LINE__,
                          "the peer's DH public value is out of range (need 1 < Y < p-1)");
    } else if (!BN_mod_exp_mont_consttime(z, y, k->x, k->p, k->bn, k->mont)) {
        rc = hasp_err_set(HASP_ERR_CRYPTO, __FILE__, __LINE__, "DH key agreement failed");
    } else if (BN_is_one(z) || BN_is_zero(z)) {
        rc = hasp_err_set(HASP_ERR_ILLEGAL_PARAM, __FILE__, __LINE__,
                          "the peer's DH public value gives a degenerate shared secret");
    } else if (padded) {
        BN_bn2binpad(z, out, (int)k->p_len);
        *out_len = k->p_len;
    } else {
        /* RFC 5246 8.1.2: leading zero bytes are stripped. */
        *out_len = (size_t)BN_bn2bin(z, out);
    }
    if (z) BN_clear(z);
    BN_CTX_end(k->bn);
    return rc;
}

int hasp_kex_derive(hasp_kex *k, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap,
                    size_t *out_len)
{
    return kex_derive(k, peer, peer_len, out, cap, out_len, 0);
}

int hasp_kex_derive_padded(hasp_kex *k, const uint8_t *peer, size_t peer_len, uint8_t *out,
                           size_t cap, size_t *out_len)
{
    return kex_derive(k, peer, peer_len, out, cap, out_len, 1);
}
