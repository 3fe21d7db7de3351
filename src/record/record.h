/* The record layer: framing and protection of TLS records (RFC 5246 6.2,
 * RFC 8446 5). One hasp_rec_prot per direction. Sealing appends a whole
 * record (5-byte header + protected fragment) to a writer; opening works
 * in place on one whole record. No allocation per record. */
#ifndef HASP_RECORD_H
#define HASP_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../codec/cursor.h"
#include "../crypto/crypto.h"

/* Content types. */
#define HASP_CT_CHANGE_CIPHER_SPEC 20
#define HASP_CT_ALERT 21
#define HASP_CT_HANDSHAKE 22
#define HASP_CT_APPLICATION_DATA 23

#define HASP_REC_HEADER_LEN 5
#define HASP_REC_MAX_PLAINTEXT 16384
/* The largest record body we accept: TLSCiphertext.length <= 2^14 + 2048 (RFC 5246 6.2.3). */
#define HASP_REC_MAX_CIPHERTEXT (16384 + 2048)
/* The largest record body TLS 1.3 allows: 2^14 + 256. */
#define HASP_REC_MAX_CIPHERTEXT13 (16384 + 256)

enum hasp_rec_kind {
    HASP_REC_NULL = 0, /* no protection yet */
    HASP_REC_AEAD12,   /* TLS 1.2 AEAD: GCM with 8-byte explicit nonce, ChaCha20 with XOR nonce */
    HASP_REC_AEAD13,   /* TLS 1.3: XOR nonce, inner content type, padding */
    HASP_REC_CBC,      /* TLS 1.2 CBC + HMAC, MAC-then-encrypt or encrypt-then-MAC */
};

typedef struct hasp_rec_prot {
    int kind;
    uint64_t seq;
    /* AEAD */
    int aead_alg;
    hasp_aead_ctx *aead; /* NULL while idle (hasp_rec_prot_idle): rebuilt from aead_key */
    uint8_t aead_key[32];
    int aead_encrypt;
    uint8_t iv[12];
    size_t iv_len;  /* fixed IV: 4 for TLS 1.2 GCM and CCM, 12 otherwise */
    size_t tag_len; /* 16, or 8 for CCM_8 */
    /* CBC */
    int cbc_alg;
    hasp_cbc_ctx *cbc;
    size_t block_len;
    int mac_hash; /* HASP_HASH_SHA1 / SHA256 / SHA384 */
    uint8_t mac_key[64];
    size_t mac_len;
    int etm;             /* RFC 7366 encrypt-then-MAC */
    hasp_hmac_ctx *hmac; /* the MAC key's prepared HMAC states */
} hasp_rec_prot;

/* Initialise (and take ownership of keys by copying). `encrypt` = 1 for
 * the sending direction. Any previous state of p is cleared first. */
int hasp_rec_prot_aead12(hasp_rec_prot *p, int aead_alg, const uint8_t *key, const uint8_t *iv,
                         size_t iv_len, int encrypt);
int hasp_rec_prot_aead13(hasp_rec_prot *p, int aead_alg, const uint8_t *key, const uint8_t iv[12],
                         int encrypt);
int hasp_rec_prot_cbc(hasp_rec_prot *p, int cbc_alg, const uint8_t *key, int mac_hash,
                      const uint8_t *mac_key, size_t mac_len, int etm, int encrypt);
/* Free contexts and wipe keys; back to HASP_REC_NULL with seq 0. */
void hasp_rec_prot_clear(hasp_rec_prot *p);
/* An idle connection's AEAD context (its expanded key schedule, ~1.1 KB
 * for AES-GCM) freed; the next record rebuilds it from the key. */
void hasp_rec_prot_idle(hasp_rec_prot *p);
/* The most bytes sealing adds to a plaintext of len bytes (header included). */
size_t hasp_rec_overhead(const hasp_rec_prot *p, size_t len);

/* Append one record carrying len <= 16384 bytes of type `type` to out.
 * `version` is the record header's version field (0x0303, or 0x0301 for a
 * first ClientHello). TLS 1.3 protected records get outer type 23 and the
 * real type inside. Increments the sequence number. */
int hasp_rec_seal(hasp_rec_prot *p, uint8_t type, uint16_t version, const uint8_t *pt, size_t len,
                  hasp_wr *out);

/* Same, for TLS 1.3 with pad zero bytes of padding inside the protection
 * (RFC 8446 5.4); pad is ignored for other kinds. len + pad <= 16384. */
int hasp_rec_seal_padded(hasp_rec_prot *p, uint8_t type, uint16_t version, const uint8_t *pt,
                         size_t len, size_t pad, hasp_wr *out);

/* Parse a record header. Returns 0 and fills the fields, or
 * HASP_ERR_NOT_TLS when the bytes cannot be a TLS record (unknown content
 * type or a version byte other than 3: for example "GET " or an SSLv2
 * hello), or HASP_ERR_OVERFLOW when length > HASP_REC_MAX_CIPHERTEXT. */
int hasp_rec_parse_header(const uint8_t hdr[5], uint8_t *type, uint16_t *version, size_t *len);

/* Open one whole record in place: rec points at the 5-byte header and
 * rec_len = 5 + body length. On success *type is the (inner) content type
 * and *pt / *pt_len the plaintext inside rec. Returns HASP_ERR_BAD_MAC on
 * any authentication or padding failure (CBC: in constant time, without
 * telling which), HASP_ERR_OVERFLOW if the plaintext exceeds 2^14 bytes.
 * Increments the sequence number on success. */
int hasp_rec_open(hasp_rec_prot *p, uint8_t *rec, size_t rec_len, uint8_t *type, uint8_t **pt,
                  size_t *pt_len);

/* Like hasp_rec_open, but AEAD records are decrypted into dst when it can
 * hold the whole plaintext (saving a copy for application data); *pt then
 * points into dst. Otherwise, and for other kinds, in place. */
int hasp_rec_open_to(hasp_rec_prot *p, uint8_t *rec, size_t rec_len, uint8_t *type, uint8_t *dst,
                     size_t dst_cap, uint8_t **pt, size_t *pt_len);

#endif
