/* The crypto seam: the only interface to libcrypto. Nothing outside
 * src/crypto/ includes <openssl/...>. Every function returns 0 (or a
 * length) on success and a negative HASP_ERR_* on failure, recorded with
 * ENSURE/FAIL from err.h. Algorithms are fetched once (static tables /
 * lazily cached EVP_MD / EVP_CIPHER pointers), never per call. */
#ifndef HASP_CRYPTO_H
#define HASP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "../err.h"

/* ------------------------------------------------------------------ hashes */

enum hasp_hash_alg {
    HASP_HASH_NONE = 0,
    HASP_HASH_MD5,
    HASP_HASH_SHA1,
    HASP_HASH_SHA224,
    HASP_HASH_SHA256,
    HASP_HASH_SHA384,
    HASP_HASH_SHA512,
};
#define HASP_HASH_MAX 64

size_t hasp_hash_len(int alg);
const char *hasp_hash_name(int alg); /* "SHA256" */
int hasp_hash(int alg, const uint8_t *in, size_t len, uint8_t *out);

typedef struct hasp_hash_ctx hasp_hash_ctx;
hasp_hash_ctx *hasp_hash_new(int alg);
int hasp_hash_update(hasp_hash_ctx *h, const uint8_t *in, size_t len);
/* The digest of everything so far, without ending the context (transcripts). */
int hasp_hash_peek(const hasp_hash_ctx *h, uint8_t *out);
/* A copy of the context (TLS 1.3 needs the transcript at several points). */
hasp_hash_ctx *hasp_hash_dup(const hasp_hash_ctx *h);
int hasp_hash_ctx_alg(const hasp_hash_ctx *h);
void hasp_hash_free(hasp_hash_ctx *h);

int hasp_hmac(int alg, const uint8_t *key, size_t keylen, const uint8_t *in, size_t len,
              uint8_t *out);

/* HMAC with the key prepared once (the ipad/opad states), for the record
 * layer's CBC suites. No allocation per use. */
typedef struct hasp_hmac_ctx hasp_hmac_ctx;
hasp_hmac_ctx *hasp_hmac_new(int alg, const uint8_t *key, size_t keylen);
void hasp_hmac_free(hasp_hmac_ctx *h); /* wipes */
size_t hasp_hmac_len(const hasp_hmac_ctx *h);
/* HMAC(key, a || b). */
int hasp_hmac_2(hasp_hmac_ctx *h, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                uint8_t *out);
/* HMAC(key, hdr || data[0..data_len]) in constant time with respect to
 * data_len, which is secret and lies in [min_len, max_len]; data must
 * have max_len readable bytes. The Lucky13 countermeasure for
 * MAC-then-encrypt CBC records. SHA-1/-2 only; hdr_len < 64. */
int hasp_hmac_ct(hasp_hmac_ctx *h, const uint8_t *hdr, size_t hdr_len, const uint8_t *data,
                 size_t data_len, size_t min_len, size_t max_len, uint8_t *out);

/* TLS 1.2 PRF (RFC 5246 5): P_<alg>(secret, label || seed), out of any length. */
int hasp_prf12(int alg, const uint8_t *secret, size_t secret_len, const char *label,
               const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len);
/* Same, with the seed given in two parts (seed1 || seed2), as TLS uses it. */
int hasp_prf12_2(int alg, const uint8_t *secret, size_t secret_len, const char *label,
                 const uint8_t *seed1, size_t len1, const uint8_t *seed2, size_t len2, uint8_t *out,
                 size_t out_len);

/* Same, with the secret's HMAC key prepared once in h (hasp_hmac_new(alg,
 * secret)): for several PRF calls on one secret, as TLS 1.2 makes with the
 * master secret (key block, both Finished). h is reusable afterwards. */
int hasp_prf12_hmac(hasp_hmac_ctx *h, const char *label, const uint8_t *seed1, size_t len1,
                    const uint8_t *seed2, size_t len2, uint8_t *out, size_t out_len);

/* HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label (RFC 8446 7.1). */
int hasp_hkdf_extract(int alg, const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                      size_t ikm_len, uint8_t *prk);
int hasp_hkdf_expand(int alg, const uint8_t *prk, size_t prk_len, const uint8_t *info,
                     size_t info_len, uint8_t *out, size_t out_len);
/* label without the "tls13 " prefix, which is added here. */
int hasp_hkdf_expand_label(int alg, const uint8_t *secret, size_t secret_len, const char *label,
                           const uint8_t *ctx, size_t ctx_len, uint8_t *out, size_t out_len);
/* Two HKDF-Expand-Labels with an empty context from one secret (its HMAC
 * states made once): the traffic key and IV of RFC 8446 7.3. */
int hasp_hkdf_expand_label2(int alg, const uint8_t *secret, size_t secret_len, const char *label1,
                            uint8_t *out1, size_t len1, const char *label2, uint8_t *out2,
                            size_t len2);

/* ------------------------------------------------------------------ random */

int hasp_random(uint8_t *out, size_t len);
/* For values sent in the clear (hello randoms, session IDs): the same
 * DRBG, served from a per-thread, fork-safe pool (rand.c). Never for
 * secrets. */
int hasp_random_public(uint8_t *out, size_t len);

/* ------------------------------------------------------------------ AEAD */

enum hasp_aead_alg {
    HASP_AEAD_AES128GCM = 1,
    HASP_AEAD_AES256GCM,
    HASP_AEAD_CHACHA20POLY1305,
    HASP_AEAD_AES128CCM, /* 16-byte tag (RFC 6655, RFC 8446 B.4) */
    HASP_AEAD_AES256CCM,
    HASP_AEAD_AES128CCM8, /* 8-byte tag (RFC 6655, RFC 8446 B.4; not Recommended) */
    HASP_AEAD_AES256CCM8,
};
#define HASP_AEAD_TAG_LEN 16 /* the longest tag; hasp_aead_tag_len() has each one's */
#define HASP_AEAD_NONCE_LEN 12

size_t hasp_aead_key_len(int alg);
size_t hasp_aead_tag_len(int alg); /* 16, or 8 for the CCM_8 suites */
typedef struct hasp_aead_ctx hasp_aead_ctx;
/* Key schedule done once; the context is reused for every record. */
hasp_aead_ctx *hasp_aead_new(int alg, int encrypt, const uint8_t *key);
/* out gets len + 16 bytes (ciphertext || tag). out may equal in. */
int hasp_aead_seal(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, size_t len, uint8_t *out);
/* Records with up to this much data are sealed in one AEAD call (the
 * pieces gathered in place) and opened in place, not in two pieces. */
#define HASP_AEAD_GATHER_MAX 4096
/* Same over the concatenation in1 || in2 (len1 + len2 bytes), written to
 * out as one stream: out gets len1 + len2 + 16 bytes. in1 may equal out,
 * in2 may equal out + len1; no other overlap. */
int hasp_aead_seal2(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                    const uint8_t *in1, size_t len1, const uint8_t *in2, size_t len2, uint8_t *out);
/* in is ciphertext || tag (len >= 16); out gets len - 16 bytes. out may
 * equal in. Returns HASP_ERR_BAD_MAC when authentication fails. */
int hasp_aead_open(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, size_t len, uint8_t *out);
/* Like hasp_aead_open, with the plaintext split: the first out1_len bytes
 * into out1, the rest into out2 (which may be the matching place of in). */
int hasp_aead_open2(hasp_aead_ctx *c, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
                    const uint8_t *in, size_t len, uint8_t *out1, size_t out1_len, uint8_t *out2);
void hasp_aead_free(hasp_aead_ctx *c); /* wipes */

/* ------------------------------------------------------------------ CBC */

enum hasp_cbc_alg {
    HASP_CBC_AES128 = 1,
    HASP_CBC_AES256,
    HASP_CBC_3DES,
};
size_t hasp_cbc_key_len(int alg);
size_t hasp_cbc_block_len(int alg);
typedef struct hasp_cbc_ctx hasp_cbc_ctx;
hasp_cbc_ctx *hasp_cbc_new(int alg, int encrypt, const uint8_t *key);
/* Raw CBC over len bytes (a multiple of the block size), no padding. out may equal in. */
int hasp_cbc_run(hasp_cbc_ctx *c, const uint8_t *iv, const uint8_t *in, size_t len, uint8_t *out);
void hasp_cbc_free(hasp_cbc_ctx *c);

/* ------------------------------------------------------------------ key exchange */

/* TLS NamedGroup code points. */
#define HASP_GROUP_SECP256R1 0x0017
#define HASP_GROUP_SECP384R1 0x0018
#define HASP_GROUP_SECP521R1 0x0019
#define HASP_GROUP_X25519 0x001d
#define HASP_GROUP_X448 0x001e
#define HASP_GROUP_FFDHE2048 0x0100
#define HASP_GROUP_FFDHE3072 0x0101
#define HASP_GROUP_FFDHE4096 0x0102
#define HASP_GROUP_FFDHE6144 0x0103
#define HASP_GROUP_FFDHE8192 0x0104
/* draft-ietf-tls-ecdhe-mlkem: ECDH + ML-KEM hybrids, TLS 1.3 only */
#define HASP_GROUP_SECP256R1MLKEM768 0x11eb
#define HASP_GROUP_X25519MLKEM768 0x11ec
#define HASP_GROUP_SECP384R1MLKEM1024 0x11ed
/* The largest key share: SecP384r1MLKEM1024's, 97 + 1568 bytes both ways. */
#define HASP_KEX_MAX_PUB 1665
#define HASP_KEX_MAX_SECRET 1024 /* ffdhe8192 */

const char *hasp_group_name(uint16_t group); /* "x25519", "secp256r1", ... or NULL */
int hasp_group_by_name(const char *name);    /* accepts x25519, P-256, secp256r1, prime256v1, ... */
int hasp_group_is_ffdhe(uint16_t group);
int hasp_group_is_hybrid(uint16_t group); /* ECDH + ML-KEM: TLS 1.3 only */
/* A key share's size on the wire: the client's (server = 0) or the
 * server's; the size of p for FFDHE; 0 for unknown groups. */
size_t hasp_group_share_len(uint16_t group, int server);
/* Every group hasp knows, in its table order; returns how many (which
 * may exceed cap: then only cap are written). */
size_t hasp_group_list(uint16_t *out, size_t cap);

typedef struct hasp_kex hasp_kex;
/* A fresh ephemeral key pair in group: for the side that sends its share
 * first (the TLS 1.3 client; either side of other exchanges). A hybrid's
 * public value is then the ML-KEM encapsulation key and the ECDH value;
 * hasp_kex_derive with the server's share decapsulates. */
hasp_kex *hasp_kex_new(uint16_t group);
/* For the side that answers a share (the TLS 1.3 server): the same as
 * hasp_kex_new except for a hybrid, where hasp_kex_derive with the
 * client's share encapsulates to its key, and hasp_kex_public gives the
 * ciphertext and ECDH value only after that. */
hasp_kex *hasp_kex_new_responder(uint16_t group);
/* A fresh ephemeral key pair for finite-field DH with explicit p and g
 * (TLS 1.2 DHE: the server chooses). Refuses p under 2048 bits. */
hasp_kex *hasp_kex_new_dh(const uint8_t *p, size_t p_len, const uint8_t *g, size_t g_len);
/* The p and g of an ffdhe group (for ServerKeyExchange). */
int hasp_ffdhe_params(uint16_t group, const uint8_t **p, size_t *p_len, const uint8_t **g,
                      size_t *g_len);
/* Our public value as it goes on the wire: X25519 raw 32 bytes, EC
 * uncompressed point, DH big-endian Y padded to the size of p. */
int hasp_kex_public(hasp_kex *k, uint8_t *out, size_t cap, size_t *out_len);
/* Shared secret from the peer's public value, which is validated first
 * (on-curve point, not the identity; DH 1 < Y < p-1; X25519 not all-zero
 * result): HASP_ERR_ILLEGAL_PARAM when it is bad. DH secrets have leading
 * zero bytes stripped (RFC 5246 8.1.2); ECDH gives the x coordinate. */
int hasp_kex_derive(hasp_kex *k, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap,
                    size_t *out_len);
void hasp_kex_free(hasp_kex *k);
/* Same, but a DH secret keeps its leading zero bytes, left-padded to the
 * size of p (RFC 8446 7.4.1). For ECDH and X25519 identical to
 * hasp_kex_derive. */
int hasp_kex_derive_padded(hasp_kex *k, const uint8_t *peer, size_t peer_len, uint8_t *out,
                           size_t cap, size_t *out_len);
/* The group of a key exchange (0 for explicit DH parameters). */
uint16_t hasp_kex_group(const hasp_kex *k);

/* For tests (RFC 8448): a key pair from a fixed private key. */
hasp_kex *hasp_kex_new_from_private(uint16_t group, const uint8_t *priv, size_t priv_len);

/* ------------------------------------------------------------------ public keys, signatures */

enum hasp_pkey_type {
    HASP_PKEY_NONE = 0,
    HASP_PKEY_RSA,
    HASP_PKEY_RSA_PSS, /* id-RSASSA-PSS keys */
    HASP_PKEY_EC_P256,
    HASP_PKEY_EC_P384,
    HASP_PKEY_EC_P521,
    HASP_PKEY_ED25519,
};

/* Signature algorithm families (for X.509, where the curve is not bound
 * to the hash). */
enum hasp_sig_alg {
    HASP_SIG_RSA_PKCS1 = 1,
    HASP_SIG_RSA_PSS, /* MGF1 with the same hash, salt length = hash length */
    HASP_SIG_ECDSA,
    HASP_SIG_ED25519,
};

typedef struct hasp_pkey hasp_pkey;
/* A public key from a DER SubjectPublicKeyInfo. */
hasp_pkey *hasp_pkey_from_spki(const uint8_t *der, size_t len);
/* A private key from PEM text (PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE
 * KEY", PKCS#8 "PRIVATE KEY"; not encrypted). */
hasp_pkey *hasp_pkey_from_private_pem(const uint8_t *pem, size_t len);
void hasp_pkey_free(hasp_pkey *k);
int hasp_pkey_type(const hasp_pkey *k);
int hasp_pkey_bits(const hasp_pkey *k);
/* 1 when priv is the private half of pub. */
int hasp_pkey_matches(const hasp_pkey *priv, const hasp_pkey *pub);

/* Verify sig over data (the hash is computed here; Ed25519 takes no hash). */
int hasp_pkey_verify(const hasp_pkey *k, int sig_alg, int hash, const uint8_t *data, size_t len,
                     const uint8_t *sig, size_t sig_len);
/* Returns HASP_ERR_DECRYPT on a bad signature (the caller maps it). */
int hasp_pkey_sign(const hasp_pkey *k, int sig_alg, int hash, const uint8_t *data, size_t len,
                   uint8_t *sig, size_t cap, size_t *sig_len);

/* TLS SignatureScheme code points (RFC 8446 4.2.3). */
#define HASP_SIG_RSA_PKCS1_SHA1 0x0201
#define HASP_SIG_ECDSA_SHA1 0x0203
#define HASP_SIG_RSA_PKCS1_SHA256 0x0401
#define HASP_SIG_RSA_PKCS1_SHA384 0x0501
#define HASP_SIG_RSA_PKCS1_SHA512 0x0601
#define HASP_SIG_ECDSA_SECP256R1_SHA256 0x0403
#define HASP_SIG_ECDSA_SECP384R1_SHA384 0x0503
#define HASP_SIG_ECDSA_SECP521R1_SHA512 0x0603
#define HASP_SIG_RSA_PSS_RSAE_SHA256 0x0804
#define HASP_SIG_RSA_PSS_RSAE_SHA384 0x0805
#define HASP_SIG_RSA_PSS_RSAE_SHA512 0x0806
#define HASP_SIG_ED25519_SCHEME 0x0807
#define HASP_SIG_RSA_PSS_PSS_SHA256 0x0809
#define HASP_SIG_RSA_PSS_PSS_SHA384 0x080a
#define HASP_SIG_RSA_PSS_PSS_SHA512 0x080b

typedef struct hasp_sigscheme {
    uint16_t id;
    const char *name; /* "rsa_pss_rsae_sha256" */
    int sig_alg;      /* enum hasp_sig_alg */
    int hash;         /* enum hasp_hash_alg */
    int key_type;     /* the enum hasp_pkey_type it needs; for ECDSA in TLS 1.2 any curve */
} hasp_sigscheme;

const hasp_sigscheme *hasp_sigscheme_find(uint16_t id);
const hasp_sigscheme *hasp_sigscheme_by_name(const char *name);
/* 1 if key k can make/check signatures with this scheme in the given TLS
 * version (TLS 1.3 binds ECDSA curves to hashes and forbids PKCS#1). */
int hasp_sigscheme_fits(const hasp_sigscheme *s, const hasp_pkey *k, uint16_t tls_version);
int hasp_sign_scheme(const hasp_pkey *k, uint16_t scheme, const uint8_t *data, size_t len,
                     uint8_t *sig, size_t cap, size_t *sig_len);
int hasp_verify_scheme(const hasp_pkey *k, uint16_t scheme, const uint8_t *data, size_t len,
                       const uint8_t *sig, size_t sig_len);

/* RSA key transport (TLS 1.2 RSA key exchange). */
int hasp_rsa_encrypt_pkcs1(const hasp_pkey *k, const uint8_t *in, size_t len, uint8_t *out,
                           size_t cap, size_t *out_len);
/* RFC 5246 7.4.7.1: decrypt a 48-byte pre-master secret. Never fails on
 * bad ciphertext, bad padding, a wrong length or a wrong version: it then
 * returns a random 48-byte value instead, chosen in constant time. The
 * first two bytes must equal client_version. Returns 0, or an error only
 * for internal failures. */
int hasp_rsa_decrypt_pms(const hasp_pkey *k, const uint8_t *in, size_t len, uint16_t client_version,
                         uint8_t pms[48]);

#endif
