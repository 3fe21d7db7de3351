/* Record framing and protection (RFC 5246 6.2, RFC 7366, RFC 7905,
 * RFC 8446 5). Sealing reserves the whole record in the writer and
 * encrypts in place; opening decrypts in place. Nothing is allocated per
 * record. */
#include "record.h"

#include <string.h>

/* ------------------------------------------------------------------ constant-time helpers */

/* All-ones when a < b (a, b < 2^63). */
static inline size_t ct_lt(size_t a, size_t b)
{
    return (size_t)0 - ((a - b) >> (sizeof(size_t) * 8 - 1));
}
/* Hides a value from the optimiser, so that public values are not
 * recomputed from secret ones (nor masks turned into branches). */
static inline size_t ct_barrier(size_t x)
{
    __asm__("" : "+r"(x));
    return x;
}
static inline size_t ct_eq(size_t a, size_t b)
{
    size_t x = a ^ b;
    return (size_t)0 - (((x | ((size_t)0 - x)) >> (sizeof(size_t) * 8 - 1)) ^ 1);
}

static void put_u16(uint8_t *o, size_t v)
{
    o[0] = (uint8_t)(v >> 8);
    o[1] = (uint8_t)v;
}

static void put_u64(uint8_t *o, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        o[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* seq || type || version || length: the MAC / AEAD additional data of
 * TLS 1.2 (RFC 5246 6.2.3.1, 6.2.3.3). */
static void aad12(uint8_t out[13], uint64_t seq, uint8_t type, uint16_t version, size_t len)
{
    put_u64(out, seq);
    out[8] = type;
    put_u16(out + 9, version);
    put_u16(out + 11, len);
}

/* The per-record nonce: TLS 1.2 GCM is fixed IV || explicit part (the
 * sequence number); ChaCha20 (RFC 7905) and TLS 1.3 XOR the padded
 * sequence number into the 12-byte IV. */
static void make_nonce(const hasp_rec_prot *p, uint8_t nonce[12])
{
    uint8_t s[8];
    put_u64(s, p->seq);
    if (p->iv_len == 4) {
        memcpy(nonce, p->iv, 4);
        memcpy(nonce + 4, s, 8);
        return;
    }
    memcpy(nonce, p->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= s[i];
}

/* ------------------------------------------------------------------ setup */

void hasp_rec_prot_clear(hasp_rec_prot *p)
{
    if (p == NULL) return;
    hasp_aead_free(p->aead);
    hasp_cbc_free(p->cbc);
    hasp_hmac_free(p->hmac);
    hasp_wipe(p, sizeof(*p));
    p->kind = HASP_REC_NULL;
}

void hasp_rec_prot_idle(hasp_rec_prot *p)
{
    if (p == NULL || (p->kind != HASP_REC_AEAD12 && p->kind != HASP_REC_AEAD13)) return;
    hasp_aead_free(p->aead);
    p->aead = NULL;
}

/* The AEAD context, rebuilt after hasp_rec_prot_idle. */
static int aead_ready(hasp_rec_prot *p)
{
    if (p->aead) return 0;
    p->aead = hasp_aead_new(p->aead_alg, p->aead_encrypt, p->aead_key);
    return p->aead ? 0 : hasp_err_last()->code;
}

/* Keep the key for aead_ready. */
static void aead_keep_key(hasp_rec_prot *p, int aead_alg, const uint8_t *key, int encrypt)
{
    size_t kl = hasp_aead_key_len(aead_alg);
    memcpy(p->aead_key, key, kl <= sizeof(p->aead_key) ? kl : sizeof(p->aead_key));
    p->aead_encrypt = encrypt;
}

int hasp_rec_prot_aead12(hasp_rec_prot *p, int aead_alg, const uint8_t *key, const uint8_t *iv,
                         size_t iv_len, int encrypt)
{
    ENSURE(p != NULL && key != NULL && iv != NULL, HASP_ERR_USAGE);
    hasp_rec_prot_clear(p);
    size_t want = aead_alg == HASP_AEAD_CHACHA20POLY1305 ? 12 : 4;
    ENSURE_MSG(iv_len == want, HASP_ERR_USAGE,
               "TLS 1.2 AEAD: the fixed IV must have %zu bytes for this cipher, not %zu", want,
               iv_len);
    p->aead = hasp_aead_new(aead_alg, encrypt, key);
    if (p->aead == NULL) return hasp_err_last()->code;
    aead_keep_key(p, aead_alg, key, encrypt);
    p->kind = HASP_REC_AEAD12;
    p->aead_alg = aead_alg;
    p->tag_len = hasp_aead_tag_len(aead_alg);
    memcpy(p->iv, iv, iv_len);
    p->iv_len = iv_len;
    return 0;
}

int hasp_rec_prot_aead13(hasp_rec_prot *p, int aead_alg, const uint8_t *key, const uint8_t iv[12],
                         int encrypt)
{
    ENSURE(p != NULL && key != NULL && iv != NULL, HASP_ERR_USAGE);
    hasp_rec_prot_clear(p);
    p->aead = hasp_aead_new(aead_alg, encrypt, key);
    if (p->aead == NULL) return hasp_err_last()->code;
    aead_keep_key(p, aead_alg, key, encrypt);
    p->kind = HASP_REC_AEAD13;
    p->aead_alg = aead_alg;
    p->tag_len = hasp_aead_tag_len(aead_alg);
    memcpy(p->iv, iv, 12);
    p->iv_len = 12;
    return 0;
}

int hasp_rec_prot_cbc(hasp_rec_prot *p, int cbc_alg, const uint8_t *key, int mac_hash,
                      const uint8_t *mac_key, size_t mac_len, int etm, int encrypt)
{
    ENSURE(p != NULL && key != NULL && mac_key != NULL, HASP_ERR_USAGE);
    hasp_rec_prot_clear(p);
    ENSURE_MSG(mac_hash == HASP_HASH_SHA1 || mac_hash == HASP_HASH_SHA256 ||
                   mac_hash == HASP_HASH_SHA384,
               HASP_ERR_USAGE, "CBC suites use HMAC with SHA-1, SHA-256 or SHA-384");
    ENSURE_MSG(mac_len > 0 && mac_len <= sizeof(p->mac_key), HASP_ERR_USAGE, "MAC key of %zu bytes",
               mac_len);
    p->cbc = hasp_cbc_new(cbc_alg, encrypt, key);
    if (p->cbc == NULL) return hasp_err_last()->code;
    p->hmac = hasp_hmac_new(mac_hash, mac_key, mac_len);
    if (p->hmac == NULL) {
        int rc = hasp_err_last()->code;
        hasp_rec_prot_clear(p);
        return rc;
    }
    p->kind = HASP_REC_CBC;
    p->cbc_alg = cbc_alg;
    p->block_len = hasp_cbc_block_len(cbc_alg);
    p->mac_hash = mac_hash;
    memcpy(p->mac_key, mac_key, mac_len);
    p->mac_len = mac_len;
    p->etm = etm ? 1 : 0;
    if (encrypt) {
        int rc = hasp_random(p->iv, sizeof(p->iv)); /* the IV salt, see cbc_next_iv */
        if (rc < 0) {
            hasp_rec_prot_clear(p);
            return rc;
        }
    }
    return 0;
}

/* RFC 5246 6.2.3.2 wants an unpredictable IV per record. RAND_bytes costs
 * more than the encryption of a small record, so we use NIST SP 800-38A
 * appendix C's second method: IV = E_k(nonce), with nonce = a secret
 * random per-key salt XOR the sequence number (unique per key). The salt,
 * never sent, keeps an attacker from steering a chosen plaintext block
 * onto a future nonce. The salt lives in p->iv, unused by CBC. */
static int cbc_next_iv(hasp_rec_prot *p, uint8_t *iv)
{
    const size_t B = p->block_len;
    uint8_t nonce[16] = {0}, zero[16] = {0}, s[8];
    memcpy(nonce, p->iv, B < sizeof(p->iv) ? B : sizeof(p->iv));
    put_u64(s, p->seq);
    for (size_t i = 0; i < 8; i++)
        nonce[B - 8 + i] ^= s[i];
    return hasp_cbc_run(p->cbc, zero, nonce, B, iv);
}

/* ------------------------------------------------------------------ seal */

/* 1 when the n bytes at src either are dst itself or do not overlap the
 * n bytes at dst: the cipher can then read src and write dst in one pass. */
static int apart_or_same(const uint8_t *src, const uint8_t *dst, size_t n)
{
    uintptr_t s = (uintptr_t)src, d = (uintptr_t)dst;
    return s == d || s + n <= d || d + n <= s;
}

static size_t cbc_body_len(const hasp_rec_prot *p, size_t len)
{
    const size_t B = p->block_len, m = hasp_hash_len(p->mac_hash);
    size_t inner = p->etm ? len + 1 : len + m + 1;
    inner += (B - inner % B) % B;
    return B + inner + (p->etm ? m : 0);
}

size_t hasp_rec_overhead(const hasp_rec_prot *p, size_t len)
{
    switch (p->kind) {
    case HASP_REC_AEAD12:
        return HASP_REC_HEADER_LEN + (p->iv_len == 4 ? 8 : 0) + p->tag_len;
    case HASP_REC_AEAD13:
        return HASP_REC_HEADER_LEN + 1 + p->tag_len;
    case HASP_REC_CBC:
        return HASP_REC_HEADER_LEN + cbc_body_len(p, len) - len;
    default:
        return HASP_REC_HEADER_LEN;
    }
}

int hasp_rec_seal_padded(hasp_rec_prot *p, uint8_t type, uint16_t version, const uint8_t *pt,
                         size_t len, size_t pad, hasp_wr *out)
{
    ENSURE(p != NULL && out != NULL && (pt != NULL || len == 0), HASP_ERR_USAGE);
    if (p->kind != HASP_REC_AEAD13) pad = 0;
    ENSURE_MSG(len + pad <= HASP_REC_MAX_PLAINTEXT, HASP_ERR_OVERFLOW,
               "a record carries at most 16384 bytes (asked for %zu)", len + pad);
    ENSURE_MSG(p->kind == HASP_REC_NULL || p->seq < UINT64_MAX, HASP_ERR_LIMIT,
               "the record sequence number is exhausted; the keys must be changed");
    size_t body;
    switch (p->kind) {
    case HASP_REC_NULL:
        body = len;
        break;
    case HASP_REC_AEAD12:
        body = len + (p->iv_len == 4 ? 8 : 0) + p->tag_len;
        break;
    case HASP_REC_AEAD13:
        body = len + 1 + pad + p->tag_len;
        break;
    case HASP_REC_CBC:
        body = cbc_body_len(p, len);
        break;
    default:
        FAIL(HASP_ERR_INTERNAL, "record protection in an unknown state");
    }
    uint8_t *rec;
    GUARD(wr_space(out, HASP_REC_HEADER_LEN + body, &rec));
    uint8_t *b = rec + HASP_REC_HEADER_LEN;
    rec[0] = p->kind == HASP_REC_AEAD13 ? HASP_CT_APPLICATION_DATA : type;
    put_u16(rec + 1, p->kind == HASP_REC_AEAD13 ? 0x0303 : version);
    put_u16(rec + 3, body);

    uint8_t nonce[12], ad[13];
    int rc = 0;
    if (p->kind == HASP_REC_AEAD12 || p->kind == HASP_REC_AEAD13) GUARD(aead_ready(p));
    switch (p->kind) {
    case HASP_REC_NULL:
        if (len) memmove(b, pt, len);
        return 0;
    case HASP_REC_AEAD12: {
        make_nonce(p, nonce);
        uint8_t *ct = b;
        if (p->iv_len == 4) { /* explicit nonce on the wire */
            memcpy(b, nonce + 4, 8);
            ct = b + 8;
        }
        /* Encrypt straight from the caller's bytes unless they overlap the
         * destination other than exactly. */
        const uint8_t *src = pt;
        if (len && !apart_or_same(pt, ct, len)) {
            memmove(ct, pt, len);
            src = ct;
        }
        aad12(ad, p->seq, type, version, len);
        rc = hasp_aead_seal(p->aead, nonce, ad, 13, src, len, ct);
        break;
    }
    case HASP_REC_AEAD13: {
        /* RFC 8446 5.2: TLSInnerPlaintext = content || type || zeros */
        const uint8_t *src = pt;
        if (len && !apart_or_same(pt, b, len + 1 + pad)) {
            memmove(b, pt, len);
            src = b;
        }
        b[len] = type;
        memset(b + len + 1, 0, pad);
        make_nonce(p, nonce);
        /* content from the caller's buffer, type and padding from the record */
        rc = hasp_aead_seal2(p->aead, nonce, rec, HASP_REC_HEADER_LEN, src, len, b + len, 1 + pad,
                             b);
        break;
    }
    case HASP_REC_CBC: {
        const size_t B = p->block_len, m = hasp_hash_len(p->mac_hash);
        uint8_t *iv = b, *ct = b + B;
        GUARD(cbc_next_iv(p, iv));
        if (len) memmove(ct, pt, len);
        size_t n = len;
        if (!p->etm) {
            aad12(ad, p->seq, type, version, len);
            GUARD(hasp_hmac_2(p->hmac, ad, 13, ct, len, ct + n));
            n += m;
        }
        size_t padv = (B - (n + 1) % B) % B;
        memset(ct + n, (int)padv, padv + 1);
        n += padv + 1;
        GUARD(hasp_cbc_run(p->cbc, iv, ct, n, ct));
        if (p->etm) {
            /* RFC 7366 3: MAC(seq || type || version || length || IV || ciphertext) */
            aad12(ad, p->seq, type, version, B + n);
            GUARD(hasp_hmac_2(p->hmac, ad, 13, b, B + n, b + B + n));
        }
        break;
    }
    }
    hasp_wipe(nonce, sizeof(nonce));
    GUARD(rc);
    p->seq++;
    return 0;
}

int hasp_rec_seal(hasp_rec_prot *p, uint8_t type, uint16_t version, const uint8_t *pt, size_t len,
                  hasp_wr *out)
{
    return hasp_rec_seal_padded(p, type, version, pt, len, 0, out);
}

/* ------------------------------------------------------------------ header */

static int is_text(uint8_t c)
{
    return (c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n' || c == '\t';
}

int hasp_rec_parse_header(const uint8_t hdr[5], uint8_t *type, uint16_t *version, size_t *len)
{
    ENSURE(hdr != NULL && type != NULL && version != NULL && len != NULL, HASP_ERR_USAGE);
    const uint8_t t = hdr[0];
    if (t < HASP_CT_CHANGE_CIPHER_SPEC || t > HASP_CT_APPLICATION_DATA || hdr[1] != 3) {
        static const char *const http[] = {"GET ", "POST", "HEAD", "PUT ", "DELE",
                                           "OPTI", "CONN", "PATC", "TRAC", "PRI "};
        for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++)
            if (memcmp(hdr, http[i], 4) == 0)
                FAIL(HASP_ERR_NOT_TLS,
                     "the peer is not speaking TLS (its first bytes look like an HTTP request: "
                     "\"%.4s\")",
                     (const char *)hdr);
        if (memcmp(hdr, "HTTP/", 5) == 0)
            FAIL(HASP_ERR_NOT_TLS,
                 "the peer is not speaking TLS (its first bytes look like an HTTP response)");
        /* An SSL 2.0 record header (two bytes with the top bit set): refused
         * with protocol_version (RFC 6176), which SSLv2-compatible
         * ClientHellos of TLS clients understand too (RFC 5246 E.2). */
        if ((hdr[0] & 0x80) && (hdr[2] <= 1 || hdr[2] == 4))
            FAIL(HASP_ERR_VERSION,
                 "the peer sent an SSL 2.0-format record (an SSLv2 or SSLv2-compatible hello): "
                 "SSL 2.0 is prohibited (RFC 6176) and hasp reads only TLS records");
        if (is_text(hdr[0]) && is_text(hdr[1]) && is_text(hdr[2]) && is_text(hdr[3]) &&
            is_text(hdr[4]))
            FAIL(HASP_ERR_NOT_TLS,
                 "the peer is not speaking TLS (its first bytes are plain text: \"%.5s\"; a "
                 "plaintext protocol such as SMTP or HTTP?)",
                 (const char *)hdr);
        if (hdr[1] != 3)
            FAIL(HASP_ERR_NOT_TLS,
                 "the peer is not speaking TLS (record version %u.%u; TLS records have major "
                 "version 3)",
                 hdr[1], hdr[2]);
        FAIL(HASP_ERR_NOT_TLS, "the peer is not speaking TLS (unknown record content type %u)", t);
    }
    size_t n = ((size_t)hdr[3] << 8) | hdr[4];
    ENSURE_MSG(n <= HASP_REC_MAX_CIPHERTEXT, HASP_ERR_OVERFLOW,
               "the peer sent a record of %zu bytes; the limit is %d", n, HASP_REC_MAX_CIPHERTEXT);
    *type = t;
    *version = (uint16_t)((hdr[1] << 8) | hdr[2]);
    *len = n;
    return 0;
}

/* ------------------------------------------------------------------ open */

static int open_aead12(hasp_rec_prot *p, uint8_t *rec, size_t n, uint8_t *dst, size_t dst_cap,
                       uint8_t **pt, size_t *pt_len)
{
    uint8_t *b = rec + HASP_REC_HEADER_LEN;
    const size_t explicit = p->iv_len == 4 ? 8 : 0;
    ENSURE_MSG(n >= explicit + p->tag_len, HASP_ERR_BAD_MAC,
               "the record is too short for its cipher (%zu bytes)", n);
    const size_t len = n - explicit - p->tag_len;
    ENSURE_MSG(len <= HASP_REC_MAX_PLAINTEXT, HASP_ERR_OVERFLOW,
               "the peer sent a record with %zu bytes of plaintext; the limit is 16384", len);
    uint8_t nonce[12], ad[13];
    make_nonce(p, nonce);
    if (explicit) memcpy(nonce + 4, b, 8);
    aad12(ad, p->seq, rec[0], (uint16_t)((rec[1] << 8) | rec[2]), len);
    uint8_t *out = (dst && dst_cap >= len) ? dst : b + explicit; /* into the caller's buffer */
    GUARD(hasp_aead_open(p->aead, nonce, ad, 13, b + explicit, len + p->tag_len, out));
    *pt = out;
    *pt_len = len;
    return 0;
}

static int open_aead13(hasp_rec_prot *p, uint8_t *rec, size_t n, uint8_t *type, uint8_t *dst,
                       size_t dst_cap, uint8_t **pt, size_t *pt_len)
{
    uint8_t *b = rec + HASP_REC_HEADER_LEN;
    ENSURE_MSG(rec[0] == HASP_CT_APPLICATION_DATA, HASP_ERR_UNEXPECTED,
               "a protected TLS 1.3 record must have outer type application_data(23), not %u",
               rec[0]);
    ENSURE_MSG(n <= HASP_REC_MAX_CIPHERTEXT13, HASP_ERR_OVERFLOW,
               "the peer sent a TLS 1.3 record of %zu bytes; the limit is %d", n,
               HASP_REC_MAX_CIPHERTEXT13);
    ENSURE_MSG(n >= p->tag_len, HASP_ERR_BAD_MAC,
               "the record is too short to hold an authentication tag");
    size_t inner = n - p->tag_len;
    ENSURE_MSG(inner <= HASP_REC_MAX_PLAINTEXT + 1, HASP_ERR_OVERFLOW,
               "the peer sent a TLS 1.3 record with %zu bytes of inner plaintext", inner);
    uint8_t nonce[12];
    make_nonce(p, nonce);
    if (dst && dst_cap > 0 && dst_cap + 1 == inner && dst_cap > HASP_AEAD_GATHER_MAX) {
        /* A record into a buffer of exactly its data size: the data goes to the caller,
         * the last byte (the content type, or padding) stays here. */
        uint8_t *tail = b + dst_cap;
        GUARD(hasp_aead_open2(p->aead, nonce, rec, HASP_REC_HEADER_LEN, b, n, dst, dst_cap, tail));
        if (*tail != 0) {
            *type = *tail;
            *pt = dst;
            *pt_len = dst_cap;
            return 0;
        }
        b = dst; /* padded: the type is inside the data part */
        inner = dst_cap;
    } else if (dst && dst_cap > 0 && dst_cap + 1 == inner) {
        /* A small record into a buffer of exactly its data size: opened in
         * place with one call (cheaper than two destinations), then the
         * data copied out; the content type stays here. */
        GUARD(hasp_aead_open(p->aead, nonce, rec, HASP_REC_HEADER_LEN, b, n, b));
        if (b[dst_cap] != 0) {
            memcpy(dst, b, dst_cap);
            *type = b[dst_cap];
            *pt = dst;
            *pt_len = dst_cap;
            return 0;
        }
    } else {
        if (dst && dst_cap >= inner) b = dst; /* into the caller's buffer */
        GUARD(hasp_aead_open(p->aead, nonce, rec, HASP_REC_HEADER_LEN, rec + HASP_REC_HEADER_LEN, n,
                             b));
    }
    /* RFC 8446 5.4: the content type is the last non-zero byte. */
    size_t i = inner;
    while (i > 0 && b[i - 1] == 0)
        i--;
    ENSURE_MSG(i > 0, HASP_ERR_UNEXPECTED,
               "the peer sent a TLS 1.3 record with no content type (all padding)");
    *type = b[i - 1];
    *pt = b;
    *pt_len = i - 1;
    return 0;
}

static int open_cbc_etm(hasp_rec_prot *p, uint8_t *rec, size_t n, uint8_t **pt, size_t *pt_len)
{
    uint8_t *b = rec + HASP_REC_HEADER_LEN;
    const size_t B = p->block_len, m = hasp_hash_len(p->mac_hash);
    ENSURE_MSG(n >= B + B + m && (n - m) % B == 0, HASP_ERR_BAD_MAC,
               "the CBC record has a bad length (%zu bytes)", n);
    const size_t ctlen = n - m - B;
    uint8_t ad[13], mac[HASP_HASH_MAX];
    aad12(ad, p->seq, rec[0], (uint16_t)((rec[1] << 8) | rec[2]), n - m);
    GUARD(hasp_hmac_2(p->hmac, ad, 13, b, n - m, mac));
    ENSURE_MSG(hasp_ct_memcmp(mac, b + n - m, m) == 0, HASP_ERR_BAD_MAC,
               "the record failed authentication (bad MAC)");
    uint8_t *ct = b + B;
    GUARD(hasp_cbc_run(p->cbc, b, ct, ctlen, ct));
    /* Authenticated: the padding check need not be constant time. */
    const size_t pad = ct[ctlen - 1];
    ENSURE_MSG(pad + 1 <= ctlen, HASP_ERR_BAD_MAC, "the record has bad CBC padding");
    for (size_t i = 0; i <= pad; i++)
        ENSURE_MSG(ct[ctlen - 1 - i] == pad, HASP_ERR_BAD_MAC, "the record has bad CBC padding");
    const size_t len = ctlen - pad - 1;
    ENSURE_MSG(len <= HASP_REC_MAX_PLAINTEXT, HASP_ERR_OVERFLOW,
               "the peer sent a record with %zu bytes of plaintext; the limit is 16384", len);
    *pt = ct;
    *pt_len = len;
    return 0;
}

/* RFC 5246 6.2.3.2 with the Lucky13 countermeasure: after decryption,
 * the padding check, the MAC over a secret-length plaintext, the
 * extraction of the received MAC from a secret position and the
 * comparison all run in time independent of the padding and of the
 * plaintext length; every failure is the same HASP_ERR_BAD_MAC. */
static int open_cbc_mte(hasp_rec_prot *p, uint8_t *rec, size_t n, uint8_t **pt, size_t *pt_len)
{
    uint8_t *b = rec + HASP_REC_HEADER_LEN;
    const size_t B = p->block_len, m = hasp_hash_len(p->mac_hash);
    /* Public checks: IV plus whole blocks enough for MAC and padding byte. */
    const size_t min_ct = ((m + 1 + B - 1) / B) * B;
    ENSURE_MSG(n >= B + min_ct && (n - B) % B == 0, HASP_ERR_BAD_MAC,
               "the CBC record has a bad length (%zu bytes)", n);
    uint8_t *buf = b + B;
    const size_t len = n - B; /* decrypted: data || mac || padding */
    GUARD(hasp_cbc_run(p->cbc, b, buf, len, buf));

    /* Padding (secret): good when len >= m + pad + 1 and the last pad+1
     * bytes all equal pad. Check up to 256 bytes whatever pad says. */
    size_t pad = buf[len - 1];
    size_t good = ~ct_lt(len, m + pad + 1);
    const size_t to_check = len < 256 ? len : 256;
    for (size_t i = 0; i < to_check; i++) {
        size_t ii = i;
        __asm__("" : "+r"(ii));          /* keep the compiler from addressing via pad - i */
        size_t in_pad = ~ct_lt(pad, ii); /* i <= pad */
        good &= ~(in_pad & ~ct_eq(buf[len - 1 - i], pad));
    }
    pad &= good;                                    /* bad padding: go on as if there were none */
    const size_t max_len = ct_barrier(len - m - 1); /* public */
    const size_t min_len = max_len > 255 ? max_len - 255 : 0;
    const size_t dlen = max_len - ct_barrier(pad); /* secret */

    uint8_t ad[13], mac[HASP_HASH_MAX], got[HASP_HASH_MAX], rot[HASP_HASH_MAX];
    aad12(ad, p->seq, rec[0], (uint16_t)((rec[1] << 8) | rec[2]), dlen);
    GUARD(hasp_hmac_ct(p->hmac, ad, 13, buf, dlen, min_len, max_len, mac));

    /* Copy the received MAC out of its secret position: collect the
     * scanned bytes into a rotated buffer, then rotate back by a secret
     * amount with a fixed access pattern. */
    memset(rot, 0, sizeof(rot));
    const size_t scan_start = min_len, mac_end = dlen + m;
    size_t j = 0, r = 0;
    for (size_t i = scan_start; i < len; i++) {
        size_t in_mac = ~ct_lt(i, dlen) & ct_lt(i, mac_end);
        rot[j] |= (uint8_t)(buf[i] & in_mac);
        r |= j & ct_eq(i, dlen);
        j++;
        j &= ~ct_eq(j, m);
    }
    /* got[k] = rot[(k + r) mod m]: a barrel shifter, rotating left by
     * 2^b (mod m) for each set bit b of r, selected by mask. */
    memcpy(got, rot, m);
    for (size_t b = 0; ((size_t)1 << b) < m; b++) {
        const size_t sh = ((size_t)1 << b) % m;
        const uint8_t sel = (uint8_t)(0 - ((r >> b) & 1));
        uint8_t tmp[HASP_HASH_MAX];
        for (size_t k = 0; k < m; k++) {
            size_t src = k + sh;
            src -= src >= m ? m : 0; /* public: depends on k and b only */
            tmp[k] = got[src];
        }
        for (size_t k = 0; k < m; k++)
            got[k] = (uint8_t)((tmp[k] & sel) | (got[k] & ~sel));
    }
    unsigned diff = 0;
    for (size_t k = 0; k < m; k++)
        diff |= mac[k] ^ got[k];
    good &= ct_eq(diff, 0);
    hasp_wipe(rot, sizeof(rot));
    hasp_wipe(got, sizeof(got));
    ENSURE_MSG(good == (size_t)-1, HASP_ERR_BAD_MAC,
               "the record failed authentication (bad MAC or padding)");
    ENSURE_MSG(dlen <= HASP_REC_MAX_PLAINTEXT, HASP_ERR_OVERFLOW,
               "the peer sent a record with %zu bytes of plaintext; the limit is 16384", dlen);
    *pt = buf;
    *pt_len = dlen;
    return 0;
}

int hasp_rec_open(hasp_rec_prot *p, uint8_t *rec, size_t rec_len, uint8_t *type, uint8_t **pt,
                  size_t *pt_len)
{
    return hasp_rec_open_to(p, rec, rec_len, type, NULL, 0, pt, pt_len);
}

int hasp_rec_open_to(hasp_rec_prot *p, uint8_t *rec, size_t rec_len, uint8_t *type, uint8_t *dst,
                     size_t dst_cap, uint8_t **pt, size_t *pt_len)
{
    ENSURE(p != NULL && rec != NULL && type != NULL && pt != NULL && pt_len != NULL,
           HASP_ERR_USAGE);
    ENSURE_MSG(rec_len >= HASP_REC_HEADER_LEN, HASP_ERR_USAGE, "not a whole record");
    uint8_t t;
    uint16_t ver;
    size_t n;
    GUARD(hasp_rec_parse_header(rec, &t, &ver, &n));
    ENSURE_MSG(rec_len == HASP_REC_HEADER_LEN + n, HASP_ERR_USAGE,
               "record buffer of %zu bytes for a record of %zu", rec_len, HASP_REC_HEADER_LEN + n);
    ENSURE_MSG(p->kind == HASP_REC_NULL || p->seq < UINT64_MAX, HASP_ERR_LIMIT,
               "the record sequence number is exhausted");
    int rc;
    *type = t;
    if (p->kind == HASP_REC_AEAD12 || p->kind == HASP_REC_AEAD13) GUARD(aead_ready(p));
    switch (p->kind) {
    case HASP_REC_NULL:
        ENSURE_MSG(n <= HASP_REC_MAX_PLAINTEXT, HASP_ERR_OVERFLOW,
                   "the peer sent a plaintext record of %zu bytes; the limit is 16384", n);
        *pt = rec + HASP_REC_HEADER_LEN;
        *pt_len = n;
        return 0;
    case HASP_REC_AEAD12:
        rc = open_aead12(p, rec, n, dst, dst_cap, pt, pt_len);
        break;
    case HASP_REC_AEAD13:
        rc = open_aead13(p, rec, n, type, dst, dst_cap, pt, pt_len);
        break;
    case HASP_REC_CBC:
        rc = p->etm ? open_cbc_etm(p, rec, n, pt, pt_len) : open_cbc_mte(p, rec, n, pt, pt_len);
        break;
    default:
        FAIL(HASP_ERR_INTERNAL, "record protection in an unknown state");
    }
    GUARD(rc);
    p->seq++;
    return 0;
}
