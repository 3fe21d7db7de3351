/* SubjectPublicKeyInfo import: the fast decoders for the usual shapes,
 * and the process's cache of keys already imported.
 *
 * A client verifies the same intermediates and leaves again and again: the
 * import (DER decode, an EC point checked on its curve, an RSA modulus's
 * Montgomery context made on first use) costs about as much as an RSA
 * verification. The cache keeps the imported key object of the last
 * KEYCACHE_SLOTS keys seen by the process, keyed by the whole SPKI encoding
 * (compared byte for byte, not only by hash): the same bytes always import
 * to the same key, so a hit saves the import and nothing else. Every
 * signature, and every rule of the path, is still checked per connection;
 * no verification result is cached. A key that fails to import is not
 * kept. Public keys only: nothing here is secret. */
#include "../alloc.h"
#include "internal.h" /* defines OPENSSL_SUPPRESS_DEPRECATED first */

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ decoders */

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

/* The SubjectPublicKeyInfo decoder behind the cache: raw parts for the
 * usual shapes, per-type d2i next, the generic decoder last. */
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

/* OpenSSL 3's d2i_PUBKEY runs the decoder framework: ~1.3 million
 * instructions a key, more than an ECDSA verification. The usual shapes
 * are recognised here by their exact DER prefix and built from their raw
 * parts instead: an EC key with a named curve and an uncompressed point
 * through EVP_PKEY_fromdata (~0.2 M, the point checked on the curve by
 * the import), an RSA key through the type-specific decoder (~0.05 M).
 * Anything else returns NULL and takes the generic path. */
static const struct {
    const char *group;
    uint8_t prefix[27];
    size_t prefix_len, point_len;
} ec_spki[] = {
    /* SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING { 0 unused, 04 ... } } */
    {"P-256",
     {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
      0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00},
     26,
     65},
    {"P-384",
     {0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
      0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00},
     23,
     97},
    {"P-521",
     {0x30, 0x81, 0x9b, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
      0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23, 0x03, 0x81, 0x86, 0x00},
     25,
     133},
};

/* EC public keys as EC_KEYs on one shared group per curve. Building a
 * P-256 key through EVP_PKEY_fromdata costs ~15 us here (the group is made
 * from its name each time, then the key is imported into the provider);
 * EC_KEY_oct2key on a shared group ~2 us, with the same checks (x, y below
 * p, the point on the curve). ECDSA_verify on the EC_KEY also skips the
 * per-verification EVP context. */
static EC_GROUP *ec_groups[3];
static pthread_once_t ec_groups_once = PTHREAD_ONCE_INIT;

static void ec_groups_make(void)
{
    static const int nids[3] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
    for (int i = 0; i < 3; i++)
        ec_groups[i] = EC_GROUP_new_by_curve_name(nids[i]);
    ERR_clear_error();
}

EC_KEY *hasp_ec_key_from_spki_fast(const uint8_t *der, size_t len, int *type)
{
    for (size_t i = 0; i < sizeof(ec_spki) / sizeof(ec_spki[0]); i++) {
        if (len != ec_spki[i].prefix_len + ec_spki[i].point_len ||
            memcmp(der, ec_spki[i].prefix, ec_spki[i].prefix_len) != 0 ||
            der[ec_spki[i].prefix_len] != 0x04)
            continue;
        pthread_once(&ec_groups_once, ec_groups_make);
        if (ec_groups[i] == NULL) return NULL;
        EC_KEY *k = EC_KEY_new();
        if (k == NULL || EC_KEY_set_group(k, ec_groups[i]) != 1 ||
            EC_KEY_oct2key(k, der + ec_spki[i].prefix_len, ec_spki[i].point_len, NULL) != 1) {
            EC_KEY_free(k);
            ERR_clear_error();
            return NULL;
        }
        *type = HASP_PKEY_EC_P256 + (int)i;
        return k;
    }
    return NULL;
}
/* The header length (3 or 4) of a DER element with this tag and a long
 * form length of one or two octets that ends exactly at der + len; else 0. */
static size_t long_len(const uint8_t *der, size_t len, uint8_t tag)
{
    if (len < 4 || der[0] != tag) return 0;
    if (der[1] == 0x81 && der[2] >= 0x80 && (size_t)der[2] == len - 3) return 3;
    if (der[1] == 0x82 && der[2] != 0 && ((size_t)der[2] << 8 | der[3]) == len - 4) return 4;
    return 0;
}

EVP_PKEY *hasp_evp_pkey_from_spki_fast(const uint8_t *der, size_t len)
{
    for (size_t i = 0; i < sizeof(ec_spki) / sizeof(ec_spki[0]); i++) {
        if (len != ec_spki[i].prefix_len + ec_spki[i].point_len ||
            memcmp(der, ec_spki[i].prefix, ec_spki[i].prefix_len) != 0 ||
            der[ec_spki[i].prefix_len] != 0x04)
            continue;
        EVP_PKEY *pk = NULL;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        OSSL_PARAM prm[3] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)ec_spki[i].group,
                                             0),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                              (void *)(der + ec_spki[i].prefix_len),
                                              ec_spki[i].point_len),
            OSSL_PARAM_construct_end(),
        };
        if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, prm) <= 0)
            pk = NULL;
        EVP_PKEY_CTX_free(ctx);
        ERR_clear_error();
        return pk;
    }
    /* SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { 0 unused,
     * RSAPublicKey } }, lengths in the long form of keys of 1024 bits and
     * more: the RSAPublicKey goes to the type-specific decoder. */
    static const uint8_t rsa_alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                      0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    size_t n = long_len(der, len, 0x30);
    if (n == 0 || len < n + sizeof(rsa_alg) || memcmp(der + n, rsa_alg, sizeof(rsa_alg)) != 0)
        return NULL;
    n += sizeof(rsa_alg);
    size_t b = long_len(der + n, len - n, 0x03);
    if (b == 0 || n + b >= len || der[n + b] != 0x00 || len > LONG_MAX) return NULL;
    n += b + 1;
    const unsigned char *p = der + n;
    EVP_PKEY *pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)(len - n));
    if (pk != NULL && p != der + len) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    ERR_clear_error();
    return pk;
}

/* ------------------------------------------------------------------ the cache */

#define KEYCACHE_SLOTS 64
#define KEYCACHE_MAX_DER 2600 /* an RSA-16384 SPKI is ~2.1 KB */

typedef struct {
    uint8_t *der;
    size_t len;
    uint64_t hash;
    uint64_t used; /* clock of the last hit, 0 for an empty slot */
    EVP_PKEY *pk;  /* every shape but the fast EC one */
    EC_KEY *ec;    /* EC keys of the usual shapes, on a shared group */
    int ec_type;
} keycache_slot;

static keycache_slot slots[KEYCACHE_SLOTS];
static uint64_t clock_now;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* With the lock held: the slot holding der, or NULL. */
static keycache_slot *find(const uint8_t *der, size_t len, uint64_t h)
{
    for (size_t i = 0; i < KEYCACHE_SLOTS; i++) {
        keycache_slot *s = &slots[i];
        if (s->used && s->hash == h && s->len == len && memcmp(s->der, der, len) == 0) return s;
    }
    return NULL;
}

/* New references to the slot's objects. */
static int take(const keycache_slot *s, EVP_PKEY **pk, EC_KEY **ec, int *ec_type)
{
    if (s->ec != NULL) {
        if (EC_KEY_up_ref(s->ec) != 1) return -1;
        *ec = s->ec;
        *ec_type = s->ec_type;
        return 0;
    }
    if (EVP_PKEY_up_ref(s->pk) != 1) return -1;
    *pk = s->pk;
    return 0;
}

static void slot_clear(keycache_slot *s)
{
    hasp_free(s->der);
    EVP_PKEY_free(s->pk);
    EC_KEY_free(s->ec);
    memset(s, 0, sizeof(*s));
}

int crypto_spki_import(const uint8_t *der, size_t len, EVP_PKEY **pk, EC_KEY **ec, int *ec_type)
{
    *pk = NULL;
    *ec = NULL;
    *ec_type = 0;
    if (der == NULL || len == 0) return -1;
    uint64_t h = fnv1a(der, len);
    pthread_mutex_lock(&lock);
    keycache_slot *s = find(der, len, h);
    int rc = -1;
    if (s != NULL) {
        s->used = ++clock_now;
        rc = take(s, pk, ec, ec_type);
    }
    pthread_mutex_unlock(&lock);
    if (rc == 0) return 0;

    /* Import outside the lock; two threads may import the same key once
     * each, the second insert then finds the first. */
    EVP_PKEY *npk = NULL;
    int t = 0;
    EC_KEY *nec = hasp_ec_key_from_spki_fast(der, len, &t);
    if (nec == NULL) {
        npk = crypto_pubkey_from_spki(der, len);
        if (npk == NULL) return -1;
        /* Move a legacy key into the provider now, once, so that threads
         * sharing it later only read the cached export. */
        EVP_PKEY_CTX *warm = EVP_PKEY_CTX_new_from_pkey(NULL, npk, NULL);
        if (warm == NULL || EVP_PKEY_verify_init(warm) <= 0) ERR_clear_error();
        EVP_PKEY_CTX_free(warm);
    }
    *pk = npk;
    *ec = nec;
    *ec_type = t;
    if (len > KEYCACHE_MAX_DER) return 0;
    uint8_t *copy = hasp_malloc(len);
    if (copy == NULL) return 0; /* the key is good; it is just not kept */
    memcpy(copy, der, len);

    pthread_mutex_lock(&lock);
    keycache_slot evicted = {0};
    if (find(der, len, h) == NULL) {
        /* an empty slot, else the least recently used */
        keycache_slot *victim = &slots[0];
        for (size_t i = 0; i < KEYCACHE_SLOTS && victim->used; i++)
            if (slots[i].used < victim->used) victim = &slots[i];
        if ((npk && EVP_PKEY_up_ref(npk) == 1) || (nec && EC_KEY_up_ref(nec) == 1)) {
            evicted = *victim;
            *victim = (keycache_slot){copy, len, h, ++clock_now, npk, nec, t};
            copy = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    hasp_free(copy);
    if (evicted.used) slot_clear(&evicted);
    return 0;
}

void crypto_keycache_flush(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < KEYCACHE_SLOTS; i++)
        if (slots[i].used) slot_clear(&slots[i]);
    clock_now = 0;
    pthread_mutex_unlock(&lock);
}

size_t crypto_keycache_count(void)
{
    size_t n = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < KEYCACHE_SLOTS; i++)
        n += slots[i].used != 0;
    pthread_mutex_unlock(&lock);
    return n;
}
