/* The crypto floor: a handshake's primitive operations, timed alone
 * through libcrypto in their cheapest EVP form (contexts set up once,
 * signatures over precomputed digests, public keys already imported).
 * No TLS library can do a handshake faster than its floor with the same
 * libcrypto; the table shows how close each one gets.
 *
 * Per handshake (X25519 everywhere; "verify xN" = the signatures a client
 * checks: the server's handshake signature, the leaf certificate's by the
 * intermediate, the intermediate's by the root; the root is a trust
 * anchor and its self-signature is not checked, by hasp or OpenSSL):
 *   full, ECDSA, server:  X25519 keygen + X25519 derive + ECDSA P-256 sign
 *   full, ECDSA, client:  X25519 keygen + X25519 derive + 3 ECDSA P-256 verify
 *   full, RSA,   server:  X25519 keygen + X25519 derive + RSA-2048 PSS-SHA256 sign
 *   full, RSA,   client:  X25519 keygen + X25519 derive + RSA-2048 PSS verify
 *                         + 2 RSA-2048 PKCS#1 SHA-256 verify
 *   TLS 1.2 resumed (ID or ticket), each side: 3 TLS 1.2 PRF-SHA256 calls
 *                         on one master secret (key block 40 bytes, two
 *                         Finished verify_data of 12), HMAC key prepared once
 *   TLS 1.3 resumed (psk_dhe_ke), each side: X25519 keygen + X25519 derive
 *   full, ECDSA, X25519MLKEM768: the ECDSA rows' operations plus, on the
 *                         server, one ML-KEM-768 encapsulation (with the
 *                         FIPS 203 7.2 key check), on the client one
 *                         ML-KEM-768 keygen and one decapsulation: hasp's
 *                         ML-KEM, the only one with OpenSSL 3.0
 * An X25519 keygen includes reading out the 32-byte public value; a
 * derive includes importing the peer's 32 raw bytes as a key (into a copy
 * of a public-key template, the cheapest way) and a fresh derive context.
 * ECDSA signs and verifies through ECDSA_sign / ECDSA_verify on EC_KEYs
 * (cheaper than EVP_PKEY_sign even with a kept context); RSA through
 * EVP_PKEY_sign / _verify with contexts made once.
 * Excluded everywhere: transcript hashing, HKDF / PRF of full handshakes,
 * record protection of handshake messages, certificate parsing. */
/* ECDSA_sign / ECDSA_verify on an EC_KEY: deprecated in OpenSSL 3.0,
 * and the cheapest way to the same operations (hasp uses them too). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "crypto/mlkem.h"

struct floor_ctx {
    EVP_PKEY_CTX *x_kg; /* X25519 keygen */
    uint8_t peer_pub[32];
    EVP_PKEY *x_tmpl;           /* X25519 public key template: peers are copies of it */
    EC_KEY *ec_sign;            /* the ECDSA leaf key */
    EC_KEY *ec_verify[3];       /* ECDSA leaf, intermediate, root public keys */
    EVP_PKEY_CTX *sign[2];      /* leaf key: ECDSA, RSA-PSS */
    EVP_PKEY_CTX *verify[2][3]; /* [cert][leaf, inter, root] */
    RSA *rsa_verify[3];         /* RSA leaf, intermediate, root public keys (legacy) */
    EVP_PKEY *pub[2][3];        /* the public keys as EVP_PKEYs (plain floor) */
    EVP_PKEY *sign_key[2];      /* the leaf's private keys (plain floor) */
    EVP_KDF *tls1_prf;          /* plain floor */
    uint8_t sig[2][3][512];
    size_t sig_len[2][3];
    uint8_t digest[32];
    EVP_CIPHER *aead[3];
    uint8_t mlkem_ek[HASP_MLKEM768_EK_LEN], mlkem_dk[HASP_MLKEM768_DK_LEN];
    uint8_t mlkem_ct[HASP_MLKEM768_CT_LEN];
};

const char *aead_name(int aead)
{
    static const char *n[3] = {"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"};
    return n[aead];
}

static EVP_PKEY_CTX *sig_ctx(EVP_PKEY *k, int pss, int sign)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    int ok = c && (sign ? EVP_PKEY_sign_init(c) : EVP_PKEY_verify_init(c)) > 0 &&
             EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0;
    if (ok && EVP_PKEY_is_a(k, "RSA")) {
        ok = EVP_PKEY_CTX_set_rsa_padding(c, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) > 0;
        if (ok && pss)
            ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_DIGEST) > 0 &&
                 EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0;
    }
    if (!ok) {
        EVP_PKEY_CTX_free(c);
        return NULL;
    }
    return c;
}

void floor_free(floor_ctx *f)
{
    if (!f) return;
    EVP_PKEY_CTX_free(f->x_kg);
    EVP_PKEY_free(f->x_tmpl);
    EC_KEY_free(f->ec_sign);
    for (int i = 0; i < 3; i++) {
        EC_KEY_free(f->ec_verify[i]);
        RSA_free(f->rsa_verify[i]);
    }
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 3; i++)
            EVP_PKEY_free(f->pub[c][i]);
    EVP_KDF_free(f->tls1_prf);
    for (int c = 0; c < 2; c++) {
        EVP_PKEY_CTX_free(f->sign[c]);
        for (int i = 0; i < 3; i++)
            EVP_PKEY_CTX_free(f->verify[c][i]);
    }
    for (int i = 0; i < 3; i++)
        EVP_CIPHER_free(f->aead[i]);
    free(f);
}

floor_ctx *floor_new(const bench_pki *pki)
{
    floor_ctx *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    memset(f->digest, 0x5a, sizeof(f->digest));
    f->x_kg = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    EVP_PKEY *peer = NULL;
    size_t n = 32;
    int ok = f->x_kg && EVP_PKEY_keygen_init(f->x_kg) > 0 && EVP_PKEY_keygen(f->x_kg, &peer) > 0 &&
             EVP_PKEY_get_raw_public_key(peer, f->peer_pub, &n) > 0;
    EVP_PKEY_free(peer);
    f->x_tmpl = ok ? EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, f->peer_pub, 32) : NULL;
    ok = ok && f->x_tmpl != NULL;
    for (int c = 0; ok && c < 2; c++) {
        const bench_chain *ch = &pki->chain[c];
        EVP_PKEY *keys[3] = {ch->leaf_key, ch->inter_key, ch->root_key};
        f->sign[c] = sig_ctx(ch->leaf_key, c == CERT_RSA, 1);
        ok = f->sign[c] != NULL;
        /* sig[c][i] is made by keys[i]: the leaf's is the handshake
         * signature (PSS for RSA), the others certificate signatures. */
        for (int i = 0; ok && i < 3; i++) {
            EVP_PKEY_CTX *s = sig_ctx(keys[i], c == CERT_RSA && i == 0, 1);
            f->sig_len[c][i] = sizeof(f->sig[c][i]);
            ok = s && EVP_PKEY_sign(s, f->sig[c][i], &f->sig_len[c][i], f->digest, 32) > 0;
            EVP_PKEY_CTX_free(s);
            ok = ok && (f->verify[c][i] = sig_ctx(keys[i], c == CERT_RSA && i == 0, 0)) != NULL;
        }
    }
    for (int c = 0; ok && c < 2; c++) {
        /* the public halves through DER, as a peer's keys arrive */
        const bench_chain *ch = &pki->chain[c];
        EVP_PKEY *keys[3] = {ch->leaf_key, ch->inter_key, ch->root_key};
        f->sign_key[c] = ch->leaf_key;
        for (int i = 0; ok && i < 3; i++) {
            uint8_t *der = NULL;
            int n = i2d_PUBKEY(keys[i], &der);
            const uint8_t *p = der;
            f->pub[c][i] = n > 0 ? d2i_PUBKEY(NULL, &p, n) : NULL;
            OPENSSL_free(der);
            ok = f->pub[c][i] != NULL;
        }
    }
    ok = ok && (f->tls1_prf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL)) != NULL;
    for (int i = 0; ok && i < 3; i++) {
        const bench_chain *ch = &pki->chain[CERT_RSA];
        EVP_PKEY *keys[3] = {ch->leaf_key, ch->inter_key, ch->root_key};
        RSA *full = EVP_PKEY_get1_RSA(keys[i]);
        const BIGNUM *n = NULL, *e = NULL;
        if (full) RSA_get0_key(full, &n, &e, NULL);
        BIGNUM *n2 = n ? BN_dup(n) : NULL, *e2 = e ? BN_dup(e) : NULL;
        f->rsa_verify[i] = n2 && e2 ? RSA_new() : NULL;
        ok = f->rsa_verify[i] && RSA_set0_key(f->rsa_verify[i], n2, e2, NULL) == 1;
        if (!ok) {
            BN_free(n2);
            BN_free(e2);
        }
        RSA_free(full);
    }
    if (ok) {
        const bench_chain *ch = &pki->chain[CERT_ECDSA];
        EVP_PKEY *keys[3] = {ch->leaf_key, ch->inter_key, ch->root_key};
        ok = (f->ec_sign = EVP_PKEY_get1_EC_KEY(ch->leaf_key)) != NULL;
        /* public halves only, as a peer's keys are */
        for (int i = 0; ok && i < 3; i++) {
            EC_KEY *full = EVP_PKEY_get1_EC_KEY(keys[i]);
            f->ec_verify[i] = full ? EC_KEY_new() : NULL;
            ok = f->ec_verify[i] && EC_KEY_set_group(f->ec_verify[i], EC_KEY_get0_group(full)) &&
                 EC_KEY_set_public_key(f->ec_verify[i], EC_KEY_get0_public_key(full));
            EC_KEY_free(full);
        }
    }
    uint8_t ss[32];
    ok = ok && hasp_mlkem_keygen(HASP_MLKEM768, f->mlkem_ek, f->mlkem_dk) == 0 &&
         hasp_mlkem_encaps(HASP_MLKEM768, f->mlkem_ek, sizeof(f->mlkem_ek), f->mlkem_ct, ss) == 0;
    static const char *names[3] = {"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"};
    for (int i = 0; ok && i < 3; i++)
        ok = (f->aead[i] = EVP_CIPHER_fetch(NULL, names[i], NULL)) != NULL;
    if (!ok) {
        floor_free(f);
        return NULL;
    }
    return f;
}

/* ------------------------------------------------------------------ operations */

int floor_x25519_pair(floor_ctx *f)
{
    EVP_PKEY *k = NULL, *peer = NULL;
    uint8_t pub[32], secret[32];
    size_t n = sizeof(pub), sn = sizeof(secret);
    int ok = EVP_PKEY_keygen(f->x_kg, &k) > 0 && EVP_PKEY_get_raw_public_key(k, pub, &n) > 0;
    /* the peer's 32 bytes into a copy of a public key: cheaper than
     * EVP_PKEY_new_raw_public_key_ex, which fetches the key type by name */
    peer = ok ? EVP_PKEY_dup(f->x_tmpl) : NULL;
    if (peer && EVP_PKEY_set1_encoded_public_key(peer, f->peer_pub, 32) != 1) {
        EVP_PKEY_free(peer);
        peer = NULL;
    }
    EVP_PKEY_CTX *d = peer ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
    ok = d && EVP_PKEY_derive_init(d) > 0 && EVP_PKEY_derive_set_peer_ex(d, peer, 0) > 0 &&
         EVP_PKEY_derive(d, secret, &sn) > 0;
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

/* The TLS 1.2 PRF at its cheapest through libcrypto: HMAC-SHA256 on the
 * SHA-256 compression function (SHA256_Init/Update/Final, deprecated in
 * 3.0: no provider dispatch, contexts copied as structs), the key's inner
 * and outer states prepared once for the three calls on one master secret.
 * EVP_KDF "TLS1-PRF" does the same work with more overhead per call. */
typedef struct hmac256 {
    SHA256_CTX inner, outer;
} hmac256;

static void hmac256_key(hmac256 *h, const uint8_t *key, size_t len)
{
    uint8_t pad[64];
    for (int i = 0; i < 64; i++)
        pad[i] = (uint8_t)(((size_t)i < len ? key[i] : 0) ^ 0x36);
    SHA256_Init(&h->inner);
    SHA256_Update(&h->inner, pad, 64);
    for (int i = 0; i < 64; i++)
        pad[i] = (uint8_t)(((size_t)i < len ? key[i] : 0) ^ 0x5c);
    SHA256_Init(&h->outer);
    SHA256_Update(&h->outer, pad, 64);
}

static void hmac256_run(const hmac256 *h, const uint8_t *a, size_t al, const uint8_t *b, size_t bl,
                        const uint8_t *c, size_t cl, uint8_t out[32])
{
    SHA256_CTX w = h->inner;
    uint8_t in[32];
    SHA256_Update(&w, a, al);
    SHA256_Update(&w, b, bl);
    SHA256_Update(&w, c, cl);
    SHA256_Final(in, &w);
    w = h->outer;
    SHA256_Update(&w, in, 32);
    SHA256_Final(out, &w);
}

/* P_SHA256(secret, label || seed) */
static void prf256(const hmac256 *h, const char *label, const uint8_t *seed, size_t seed_len,
                   uint8_t *out, size_t out_len)
{
    const uint8_t *l = (const uint8_t *)label;
    size_t ll = strlen(label);
    uint8_t a[32], blk[32];
    hmac256_run(h, l, ll, seed, seed_len, NULL, 0, a);
    while (out_len) {
        hmac256_run(h, a, 32, l, ll, seed, seed_len, blk);
        size_t n = out_len < 32 ? out_len : 32;
        memcpy(out, blk, n);
        out += n;
        out_len -= n;
        if (out_len) hmac256_run(h, a, 32, NULL, 0, NULL, 0, a);
    }
}

/* A resumed TLS 1.2 handshake's PRF work: the key block (40 bytes, seed =
 * both randoms) and the two Finished (12 bytes, seed = a transcript hash). */
static int prf_resumed(void)
{
    uint8_t master[48], randoms[64], th[32], kb[40], vd[12];
    memset(master, 1, sizeof(master));
    memset(randoms, 2, sizeof(randoms));
    memset(th, 3, sizeof(th));
    hmac256 h;
    hmac256_key(&h, master, sizeof(master));
    prf256(&h, "key expansion", randoms, sizeof(randoms), kb, sizeof(kb));
    prf256(&h, "client finished", th, sizeof(th), vd, sizeof(vd));
    prf256(&h, "server finished", th, sizeof(th), vd, sizeof(vd));
    return kb[0] == vd[0] ? 1 : 0; /* keep the results alive */
}

static int one_handshake(floor_ctx *f, const hs_case *hc, int side)
{
    if (hc->resume == RESUME_ID || hc->resume == RESUME_TICKET) return prf_resumed() < 0 ? -1 : 0;
    if (floor_x25519_pair(f) < 0) return -1;
    if (hc->resume == RESUME_PSK) return 0;
    if (hc->hybrid) {
        /* the server encapsulates to the client's key; the client makes its
         * key pair and decapsulates */
        static uint8_t ek[HASP_MLKEM768_EK_LEN], dk[HASP_MLKEM768_DK_LEN], ct[HASP_MLKEM768_CT_LEN];
        uint8_t ss[32];
        int rc = side == SIDE_SERVER
                     ? hasp_mlkem_encaps(HASP_MLKEM768, f->mlkem_ek, sizeof(f->mlkem_ek), ct, ss)
                     : hasp_mlkem_keygen(HASP_MLKEM768, ek, dk) |
                           hasp_mlkem_decaps_own(HASP_MLKEM768, f->mlkem_dk, sizeof(f->mlkem_dk),
                                                 f->mlkem_ct, sizeof(f->mlkem_ct), ss);
        if (rc != 0) return -1;
    }
    int c = hc->cert;
    if (side == SIDE_SERVER) {
        uint8_t sig[512];
        size_t n = sizeof(sig);
        if (c == CERT_ECDSA) {
            unsigned int sl = 0;
            return ECDSA_sign(0, f->digest, 32, sig, &sl, f->ec_sign) == 1 ? 0 : -1;
        }
        return EVP_PKEY_sign(f->sign[c], sig, &n, f->digest, 32) > 0 ? 0 : -1;
    }
    if (c == CERT_ECDSA) {
        for (int i = 0; i < 3; i++)
            if (ECDSA_verify(0, f->digest, 32, f->sig[c][i], (int)f->sig_len[c][i],
                             f->ec_verify[i]) != 1)
                return -1;
        return 0;
    }
    /* RSA: RSA_verify / RSA_verify_PKCS1_PSS_mgf1 on the legacy RSA
     * objects, cheaper than EVP_PKEY_verify even with kept contexts (hasp
     * does the same, src/crypto/pkey.c); the leaf's is PSS. */
    for (int i = 0; i < 3; i++) {
        RSA *r = f->rsa_verify[i];
        int ok;
        if (i == 0) {
            uint8_t em[512];
            int n = RSA_size(r);
            ok = n <= (int)sizeof(em) &&
                 RSA_public_decrypt((int)f->sig_len[c][i], f->sig[c][i], em, r, RSA_NO_PADDING) ==
                     n &&
                 RSA_verify_PKCS1_PSS_mgf1(r, f->digest, EVP_sha256(), EVP_sha256(), em,
                                           RSA_PSS_SALTLEN_DIGEST) == 1;
        } else {
            ok = RSA_verify(NID_sha256, f->digest, 32, f->sig[c][i], (unsigned int)f->sig_len[c][i],
                            r) == 1;
        }
        if (!ok) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ the plain floor */

/* The same operations through libcrypto as a program calls it plainly: the
 * documented EVP calls, a context per operation, the peer's X25519 key from
 * its raw bytes, keys as EVP_PKEYs, the PRF through EVP_KDF "TLS1-PRF". */
static int plain_x25519(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519"), *peer = NULL;
    uint8_t pub[32], secret[32];
    size_t n = sizeof(pub), sn = sizeof(secret);
    int ok = k && EVP_PKEY_get_raw_public_key(k, pub, &n) > 0 &&
             (peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, pub, 32)) != NULL;
    EVP_PKEY_CTX *d = ok ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
    ok = d && EVP_PKEY_derive_init(d) > 0 && EVP_PKEY_derive_set_peer(d, peer) > 0 &&
         EVP_PKEY_derive(d, secret, &sn) > 0;
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

static int plain_prf(floor_ctx *f, const char *label, const uint8_t *seed, size_t seed_len,
                     uint8_t *out, size_t out_len)
{
    uint8_t master[48];
    memset(master, 1, sizeof(master));
    EVP_KDF_CTX *k = EVP_KDF_CTX_new(f->tls1_prf);
    OSSL_PARAM p[5] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, sizeof(master)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)label, strlen(label)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed, seed_len),
        OSSL_PARAM_construct_end(),
    };
    int ok = k && EVP_KDF_derive(k, out, out_len, p) > 0;
    EVP_KDF_CTX_free(k);
    return ok ? 0 : -1;
}

static int plain_sig(EVP_PKEY *k, int pss, int sign, const uint8_t *dg, uint8_t *sig,
                     size_t *sig_len)
{
    EVP_PKEY_CTX *c = sig_ctx(k, pss, sign);
    int ok = c && (sign ? EVP_PKEY_sign(c, sig, sig_len, dg, 32)
                        : EVP_PKEY_verify(c, sig, *sig_len, dg, 32)) > 0;
    EVP_PKEY_CTX_free(c);
    return ok ? 0 : -1;
}

static int plain_handshake(floor_ctx *f, const hs_case *hc, int side)
{
    if (hc->resume == RESUME_ID || hc->resume == RESUME_TICKET) {
        uint8_t randoms[64], th[32], kb[40], vd[12];
        memset(randoms, 2, sizeof(randoms));
        memset(th, 3, sizeof(th));
        return plain_prf(f, "key expansion", randoms, 64, kb, 40) |
               plain_prf(f, "client finished", th, 32, vd, 12) |
               plain_prf(f, "server finished", th, 32, vd, 12);
    }
    if (plain_x25519() < 0) return -1;
    if (hc->resume == RESUME_PSK) return 0;
    if (hc->hybrid) return -1; /* no plain ML-KEM in this libcrypto */
    int c = hc->cert;
    if (side == SIDE_SERVER) {
        uint8_t sig[512];
        size_t n = sizeof(sig);
        return plain_sig(f->sign_key[c], c == CERT_RSA, 1, f->digest, sig, &n);
    }
    for (int i = 0; i < 3; i++) {
        size_t n = f->sig_len[c][i];
        if (plain_sig(f->pub[c][i], c == CERT_RSA && i == 0, 0, f->digest, f->sig[c][i], &n) < 0)
            return -1;
    }
    return 0;
}

double floor_hs_rate_plain(floor_ctx *f, const hs_case *hc, int side, double seconds)
{
    double t0 = now_seconds(), c0 = cpu_seconds();
    long n = 0;
    do {
        if (plain_handshake(f, hc, side) < 0) return -1;
        n++;
    } while (now_seconds() - t0 < seconds);
    return (double)n / (cpu_seconds() - c0);
}

/* ------------------------------------------------------------------ X25519 via Ed25519 */

/* Issue 19's idea for a lower floor: an X25519 public key from libcrypto's
 * Ed25519 fixed-base multiplication. The Ed25519 API takes a 32-byte seed,
 * not a scalar: the scalar is the clamped first half of SHA-512(seed), and
 * X25519 clamps its private key the same way, so that half serves as the
 * X25519 private key. The Edwards y of the public key maps to the
 * Montgomery u = (1 + y) / (1 - y) mod 2^255 - 19 (one inversion, BN).
 * The key pair goes into an X25519 EVP_PKEY with both halves given, so
 * libcrypto does not compute the public key again. */
static BIGNUM *p25519;

int floor_x25519_keygen_ed(uint8_t pub[32], uint8_t priv[32], EVP_PKEY **out)
{
    uint8_t seed[32], y[32], h[64];
    size_t n = 32;
    if (p25519 == NULL) {
        p25519 = BN_new();
        if (!p25519 || !BN_set_bit(p25519, 255) || !BN_sub_word(p25519, 19)) return -1;
    }
    if (RAND_bytes(seed, 32) != 1) return -1;
    EVP_PKEY *ed = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, 32);
    int ok = ed && EVP_PKEY_get_raw_public_key(ed, y, &n) > 0 && n == 32;
    EVP_PKEY_free(ed);
    ok = ok && SHA512(seed, 32, h) != NULL;
    memcpy(priv, h, 32);
    priv[0] &= 248;
    priv[31] &= 127;
    priv[31] |= 64;
    y[31] &= 0x7f; /* the sign of x */
    BN_CTX *bc = ok ? BN_CTX_new() : NULL;
    BN_CTX_start(bc);
    BIGNUM *yy = bc ? BN_CTX_get(bc) : NULL, *num = bc ? BN_CTX_get(bc) : NULL,
           *den = bc ? BN_CTX_get(bc) : NULL;
    ok = ok && den && BN_lebin2bn(y, 32, yy) && BN_copy(num, yy) && BN_add_word(num, 1) &&
         BN_mod_sub(den, BN_value_one(), yy, p25519, bc) && BN_mod_inverse(den, den, p25519, bc) &&
         BN_mod_mul(num, num, den, p25519, bc) && BN_bn2lebinpad(num, pub, 32) == 32;
    if (bc) BN_CTX_end(bc);
    BN_CTX_free(bc);
    if (ok && out) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
        OSSL_PARAM prm[3] = {
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, priv, 32),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 32),
            OSSL_PARAM_construct_end(),
        };
        *out = NULL;
        ok = c && EVP_PKEY_fromdata_init(c) > 0 &&
             EVP_PKEY_fromdata(c, out, EVP_PKEY_KEYPAIR, prm) > 0;
        EVP_PKEY_CTX_free(c);
    }
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(h, sizeof(h));
    return ok ? 0 : -1;
}

int floor_x25519_keygen_plain(floor_ctx *f)
{
    EVP_PKEY *k = NULL;
    uint8_t pub[32];
    size_t n = sizeof(pub);
    int ok = EVP_PKEY_keygen(f->x_kg, &k) > 0 && EVP_PKEY_get_raw_public_key(k, pub, &n) > 0;
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

/* 1 when the Ed25519 route gives libcrypto's X25519 public key for the same
 * private key, bit for bit, on n random keys (and the pair derives). */
int floor_x25519_ed_check(int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t pub[32], priv[32], want[32];
        size_t wl = 32;
        EVP_PKEY *pair = NULL;
        if (floor_x25519_keygen_ed(pub, priv, i < 16 ? &pair : NULL) < 0) return 0;
        EVP_PKEY *ref = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, 32);
        int ok =
            ref && EVP_PKEY_get_raw_public_key(ref, want, &wl) > 0 && memcmp(pub, want, 32) == 0;
        if (ok && pair) {
            /* the pair made from both halves agrees with libcrypto's own */
            uint8_t s1[32], s2[32];
            size_t l1 = 32, l2 = 32;
            EVP_PKEY_CTX *a = EVP_PKEY_CTX_new_from_pkey(NULL, pair, NULL),
                         *b = EVP_PKEY_CTX_new_from_pkey(NULL, ref, NULL);
            ok = a && b && EVP_PKEY_derive_init(a) > 0 && EVP_PKEY_derive_set_peer(a, ref) > 0 &&
                 EVP_PKEY_derive(a, s1, &l1) > 0 && EVP_PKEY_derive_init(b) > 0 &&
                 EVP_PKEY_derive_set_peer(b, pair) > 0 && EVP_PKEY_derive(b, s2, &l2) > 0 &&
                 memcmp(s1, s2, 32) == 0;
            EVP_PKEY_CTX_free(a);
            EVP_PKEY_CTX_free(b);
        }
        EVP_PKEY_free(pair);
        EVP_PKEY_free(ref);
        if (!ok) return 0;
    }
    return 1;
}

const char *floor_ops(const hs_case *hc, int side)
{
    if (hc->resume == RESUME_ID || hc->resume == RESUME_TICKET) return "3x TLS1.2-PRF-SHA256";
    if (hc->resume == RESUME_PSK) return "X25519 keygen+derive";
    if (hc->hybrid)
        return side == SIDE_SERVER
                   ? "X25519 keygen+derive, ML-KEM-768 encaps, ECDSA-P256 sign"
                   : "X25519 keygen+derive, ML-KEM-768 keygen+decaps, 3x ECDSA-P256 verify";
    if (side == SIDE_SERVER)
        return hc->cert == CERT_ECDSA ? "X25519 keygen+derive, ECDSA-P256 sign"
                                      : "X25519 keygen+derive, RSA-2048-PSS sign";
    return hc->cert == CERT_ECDSA ? "X25519 keygen+derive, 3x ECDSA-P256 verify"
                                  : "X25519 keygen+derive, 3x RSA-2048 verify";
}

double floor_hs_rate(floor_ctx *f, const hs_case *hc, int side, double seconds)
{
    double t0 = now_seconds(), c0 = cpu_seconds();
    long n = 0;
    do {
        if (one_handshake(f, hc, side) < 0) return -1;
        n++;
    } while (now_seconds() - t0 < seconds);
    return (double)n / (cpu_seconds() - c0);
}

double floor_bulk_rate(floor_ctx *f, int aead, int side, size_t len, int tls13, double seconds)
{
    /* What the AEAD processes for len bytes of application data: TLS 1.3
     * seals the inner plaintext (the data and its content-type byte)
     * with the 5-byte record header as AAD; TLS 1.2 the data alone with a
     * 13-byte AAD. The rate counts the len bytes of data. */
    const size_t plen = tls13 ? len + 1 : len;
    const int alen = tls13 ? 5 : 13;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t key[32], nonce[12], aad[13], tag[16];
    uint8_t *in = malloc(plen), *out = malloc(plen + 16);
    int seal = side == SIDE_CLIENT, m = 0, ok;
    memset(key, 3, sizeof(key));
    memset(nonce, 4, sizeof(nonce));
    memset(aad, 5, sizeof(aad));
    memset(in, 6, plen);
    /* For opening, a genuine ciphertext and tag first. */
    ok = c && in && out && EVP_CipherInit_ex2(c, f->aead[aead], key, nonce, 1, NULL) &&
         EVP_CipherUpdate(c, NULL, &m, aad, alen) && EVP_CipherUpdate(c, in, &m, in, (int)plen) &&
         EVP_CipherFinal_ex(c, in + m, &m) &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0 &&
         EVP_CipherInit_ex2(c, f->aead[aead], key, NULL, seal, NULL);
    double t0 = now_seconds(), c0 = cpu_seconds();
    long n = 0;
    while (ok && now_seconds() - t0 < seconds) {
        for (int i = 0; ok && i < 16; i++) {
            ok = EVP_CipherInit_ex2(c, NULL, NULL, nonce, seal, NULL) &&
                 EVP_CipherUpdate(c, NULL, &m, aad, alen) &&
                 EVP_CipherUpdate(c, out, &m, in, (int)plen);
            if (ok && !seal) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag) > 0;
            ok = ok && EVP_CipherFinal_ex(c, out + m, &m) > 0;
            if (ok && seal) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0;
            n++;
        }
    }
    double t = cpu_seconds() - c0;
    EVP_CIPHER_CTX_free(c);
    free(in);
    free(out);
    return ok && t > 0 ? (double)n * (double)len / t / 1e6 : -1;
}
