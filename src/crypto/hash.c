/* Hashes, HMAC, the TLS 1.2 PRF and HKDF, on OpenSSL's low-level hash
 * functions: a context is a plain struct, so copies (transcript peeks,
 * HMAC key states) cost a memcpy and never allocate. */
#include "../alloc.h"
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ low-level table */

#define MD_FNS(tag, ctxname, field)                                                                \
    static void tag##_init(hasp_md_state *s)                                                       \
    {                                                                                              \
        ctxname##_Init(&s->field);                                                                 \
    }                                                                                              \
    static void tag##_update(hasp_md_state *s, const void *p, size_t n)                            \
    {                                                                                              \
        ctxname##_Update(&s->field, p, n);                                                         \
    }                                                                                              \
    static void tag##_final(hasp_md_state *s, uint8_t *out)                                        \
    {                                                                                              \
        ctxname##_Final(out, &s->field);                                                           \
    }

MD_FNS(md5, MD5, md5)
MD_FNS(sha1, SHA1, sha1)
MD_FNS(sha224, SHA224, sha256)
MD_FNS(sha256, SHA256, sha256)
MD_FNS(sha384, SHA384, sha512)
MD_FNS(sha512, SHA512, sha512)

static void md5_compress(hasp_md_state *s, const uint8_t *b)
{
    MD5_Transform(&s->md5, b);
}
static void sha1_compress(hasp_md_state *s, const uint8_t *b)
{
    SHA1_Transform(&s->sha1, b);
}
static void sha256_compress(hasp_md_state *s, const uint8_t *b)
{
    SHA256_Transform(&s->sha256, b);
}
static void sha512_compress(hasp_md_state *s, const uint8_t *b)
{
    SHA512_Transform(&s->sha512, b);
}

static void put32(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)(v >> 24);
    o[1] = (uint8_t)(v >> 16);
    o[2] = (uint8_t)(v >> 8);
    o[3] = (uint8_t)v;
}

static void md5_state(const hasp_md_state *s, uint8_t *o)
{
    const uint32_t w[4] = {s->md5.A, s->md5.B, s->md5.C, s->md5.D};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            o[4 * i + j] = (uint8_t)(w[i] >> (8 * j));
}
static void sha1_state(const hasp_md_state *s, uint8_t *o)
{
    put32(o, s->sha1.h0);
    put32(o + 4, s->sha1.h1);
    put32(o + 8, s->sha1.h2);
    put32(o + 12, s->sha1.h3);
    put32(o + 16, s->sha1.h4);
}
static void sha224_state(const hasp_md_state *s, uint8_t *o)
{
    for (int i = 0; i < 7; i++)
        put32(o + 4 * i, s->sha256.h[i]);
}
static void sha256_state(const hasp_md_state *s, uint8_t *o)
{
    for (int i = 0; i < 8; i++)
        put32(o + 4 * i, s->sha256.h[i]);
}
static void sha512_words(const hasp_md_state *s, uint8_t *o, int n)
{
    for (int i = 0; i < n; i++) {
        put32(o + 8 * i, (uint32_t)(s->sha512.h[i] >> 32));
        put32(o + 8 * i + 4, (uint32_t)s->sha512.h[i]);
    }
}
static void sha384_state(const hasp_md_state *s, uint8_t *o)
{
    sha512_words(s, o, 6);
}
static void sha512_state(const hasp_md_state *s, uint8_t *o)
{
    sha512_words(s, o, 8);
}

static const hasp_md md_table[] = {
    {HASP_HASH_MD5, "MD5", 16, 64, 8, 0, md5_init, md5_update, md5_final, md5_compress, md5_state},
    {HASP_HASH_SHA1, "SHA1", 20, 64, 8, 1, sha1_init, sha1_update, sha1_final, sha1_compress,
     sha1_state},
    {HASP_HASH_SHA224, "SHA224", 28, 64, 8, 1, sha224_init, sha224_update, sha224_final,
     sha256_compress, sha224_state},
    {HASP_HASH_SHA256, "SHA256", 32, 64, 8, 1, sha256_init, sha256_update, sha256_final,
     sha256_compress, sha256_state},
    {HASP_HASH_SHA384, "SHA384", 48, 128, 16, 1, sha384_init, sha384_update, sha384_final,
     sha512_compress, sha384_state},
    {HASP_HASH_SHA512, "SHA512", 64, 128, 16, 1, sha512_init, sha512_update, sha512_final,
     sha512_compress, sha512_state},
};

const hasp_md *hasp_md_get(int alg)
{
    for (size_t i = 0; i < sizeof(md_table) / sizeof(md_table[0]); i++)
        if (md_table[i].alg == alg) return &md_table[i];
    return NULL;
}

/* EVP_MDs for the signature code, fetched once. */
static EVP_MD *evp_mds[HASP_HASH_SHA512 + 1];
static pthread_once_t evp_mds_once = PTHREAD_ONCE_INIT;

static void evp_mds_fetch(void)
{
    for (size_t i = 0; i < sizeof(md_table) / sizeof(md_table[0]); i++)
        evp_mds[md_table[i].alg] = EVP_MD_fetch(NULL, md_table[i].name, NULL);
}

const EVP_MD *hasp_evp_md(int alg)
{
    if (alg <= HASP_HASH_NONE || alg > HASP_HASH_SHA512) return NULL;
    pthread_once(&evp_mds_once, evp_mds_fetch);
    return evp_mds[alg];
}

/* ------------------------------------------------------------------ hashes */

size_t hasp_hash_len(int alg)
{
    const hasp_md *md = hasp_md_get(alg);
    return md ? md->out_len : 0;
}

const char *hasp_hash_name(int alg)
{
    const hasp_md *md = hasp_md_get(alg);
    return md ? md->name : "none";
}

int hasp_hash(int alg, const uint8_t *in, size_t len, uint8_t *out)
{
    const hasp_md *md = hasp_md_get(alg);
    ENSURE_MSG(md != NULL, HASP_ERR_USAGE, "unknown hash algorithm %d", alg);
    hasp_md_state s;
    md->init(&s);
    md->update(&s, in, len);
    md->final(&s, out);
    return 0;
}

struct hasp_hash_ctx {
    const hasp_md *md;
    hasp_md_state s;
};

hasp_hash_ctx *hasp_hash_new(int alg)
{
    const hasp_md *md = hasp_md_get(alg);
    if (md == NULL) {
        hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__, "unknown hash algorithm %d", alg);
        return NULL;
    }
    hasp_hash_ctx *h = hasp_malloc(sizeof(*h));
    ENSURE_PTR(h != NULL, HASP_ERR_NOMEM);
    h->md = md;
    md->init(&h->s);
    return h;
}

int hasp_hash_update(hasp_hash_ctx *h, const uint8_t *in, size_t len)
{
    ENSURE(h != NULL, HASP_ERR_USAGE);
    h->md->update(&h->s, in, len);
    return 0;
}

int hasp_hash_peek(const hasp_hash_ctx *h, uint8_t *out)
{
    ENSURE(h != NULL, HASP_ERR_USAGE);
    hasp_md_state s = h->s;
    h->md->final(&s, out);
    return 0;
}

hasp_hash_ctx *hasp_hash_dup(const hasp_hash_ctx *h)
{
    ENSURE_PTR(h != NULL, HASP_ERR_USAGE);
    hasp_hash_ctx *c = hasp_malloc(sizeof(*c));
    ENSURE_PTR(c != NULL, HASP_ERR_NOMEM);
    *c = *h;
    return c;
}

int hasp_hash_ctx_alg(const hasp_hash_ctx *h)
{
    return h ? h->md->alg : HASP_HASH_NONE;
}

void hasp_hash_free(hasp_hash_ctx *h)
{
    if (h == NULL) return;
    OPENSSL_cleanse(h, sizeof(*h));
    hasp_free(h);
}

/* ------------------------------------------------------------------ HMAC (RFC 2104) */

int hasp_hmac_init_key(hasp_hmac_ctx *h, int alg, const uint8_t *key, size_t keylen)
{
    const hasp_md *md = hasp_md_get(alg);
    ENSURE_MSG(md != NULL, HASP_ERR_USAGE, "unknown hash algorithm %d for HMAC", alg);
    uint8_t k[128], pad[128];
    memset(k, 0, sizeof(k));
    if (keylen > md->block_len) {
        md->init(&h->work);
        md->update(&h->work, key, keylen);
        md->final(&h->work, k);
    } else if (keylen) {
        memcpy(k, key, keylen);
    }
    h->md = md;
    for (size_t i = 0; i < md->block_len; i++)
        pad[i] = k[i] ^ 0x36;
    md->init(&h->inner);
    md->update(&h->inner, pad, md->block_len);
    for (size_t i = 0; i < md->block_len; i++)
        pad[i] = k[i] ^ 0x5c;
    md->init(&h->outer);
    md->update(&h->outer, pad, md->block_len);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    return 0;
}

void hasp_hmac_start(hasp_hmac_ctx *h)
{
    h->work = h->inner;
}

void hasp_hmac_update(hasp_hmac_ctx *h, const uint8_t *p, size_t n)
{
    h->md->update(&h->work, p, n);
}

void hasp_hmac_finish(hasp_hmac_ctx *h, uint8_t *out)
{
    uint8_t in[HASP_HASH_MAX];
    h->md->final(&h->work, in);
    h->work = h->outer;
    h->md->update(&h->work, in, h->md->out_len);
    h->md->final(&h->work, out);
    OPENSSL_cleanse(in, sizeof(in));
}

int hasp_hmac(int alg, const uint8_t *key, size_t keylen, const uint8_t *in, size_t len,
              uint8_t *out)
{
    hasp_hmac_ctx h;
    GUARD(hasp_hmac_init_key(&h, alg, key, keylen));
    hasp_hmac_start(&h);
    hasp_hmac_update(&h, in, len);
    hasp_hmac_finish(&h, out);
    OPENSSL_cleanse(&h, sizeof(h));
    return 0;
}

hasp_hmac_ctx *hasp_hmac_new(int alg, const uint8_t *key, size_t keylen)
{
    hasp_hmac_ctx *h = hasp_malloc(sizeof(*h));
    ENSURE_PTR(h != NULL, HASP_ERR_NOMEM);
    if (hasp_hmac_init_key(h, alg, key, keylen) < 0) {
        hasp_free(h);
        return NULL;
    }
    return h;
}

void hasp_hmac_free(hasp_hmac_ctx *h)
{
    if (h == NULL) return;
    OPENSSL_cleanse(h, sizeof(*h));
    hasp_free(h);
}

size_t hasp_hmac_len(const hasp_hmac_ctx *h)
{
    return h->md->out_len;
}

int hasp_hmac_2(hasp_hmac_ctx *h, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                uint8_t *out)
{
    ENSURE(h != NULL, HASP_ERR_USAGE);
    hasp_hmac_start(h);
    hasp_hmac_update(h, a, alen);
    if (blen) hasp_hmac_update(h, b, blen);
    hasp_hmac_finish(h, out);
    return 0;
}

/* The Lucky13 countermeasure (RFC 5246 6.2.3.2 implementation note; the
 * technique of OpenSSL's ssl3_cbc_digest_record and BearSSL's
 * br_hmac_outCT): the inner hash runs the compression function over the
 * same blocks whatever the secret length is, building each block with
 * masks (data, 0x80, zeros, length field) and keeping, by mask, the state
 * after the block that is the real final one. */
int hasp_hmac_ct(hasp_hmac_ctx *h, const uint8_t *hdr, size_t hdr_len, const uint8_t *data,
                 size_t data_len, size_t min_len, size_t max_len, uint8_t *out)
{
    ENSURE(h != NULL && min_len <= max_len && hdr_len < 64, HASP_ERR_USAGE);
    const hasp_md *md = h->md;
    ENSURE_MSG(md->big_endian, HASP_ERR_USAGE, "constant-time HMAC needs a SHA hash");
    const size_t B = md->block_len, lf = md->len_field;
    const unsigned lgB = B == 128 ? 7 : 6; /* shifts, not divisions, on secrets */
    /* data_len is secret: only masks derived from it below. Clamp by mask
     * so a caller bug cannot read out of bounds. */
    size_t in_range = ct_ge(data_len, min_len) & ~ct_lt(max_len, data_len);
    data_len = ct_select(in_range, data_len, max_len);

    const size_t s_len = ct_barrier(hdr_len + data_len); /* secret */
    const size_t s_max = hdr_len + max_len;
    /* Blocks that hold only public bytes go through the normal update. */
    size_t k0 = (hdr_len + min_len) / B;
    h->work = h->inner;
    if (k0) {
        md->update(&h->work, hdr, hdr_len);
        md->update(&h->work, data, k0 * B - hdr_len);
    }
    const size_t kf = (s_len + lf) >> lgB; /* the real final block (secret) */
    const size_t kmax = (s_max + lf) >> lgB;
    /* Message length in bits, counting the ipad block. */
    const uint64_t bits = ((uint64_t)B + (uint64_t)s_len) * 8;

    uint8_t block[128], st[HASP_HASH_MAX], res[HASP_HASH_MAX];
    memset(res, 0, sizeof(res));
    for (size_t j = k0; j <= kmax; j++) {
        const size_t is_final = ct_barrier(ct_eq(j, kf));
        for (size_t i = 0; i < B; i++) {
            const size_t p = ct_barrier(j * B + i); /* public, kept apart from s_len */
            uint8_t b = 0;
            if (p < hdr_len)
                b = hdr[p];
            else if (p < s_max)
                b = data[p - hdr_len];
            size_t before = ct_barrier(ct_lt(p, s_len)), at = ct_barrier(ct_eq(p, s_len));
            b = (uint8_t)((b & before) | (0x80 & at));
            if (i >= B - 8) {
                uint8_t lb = (uint8_t)(bits >> (8 * (B - 1 - i)));
                b = (uint8_t)(b | (lb & is_final));
            }
            block[i] = b;
        }
        md->compress(&h->work, block);
        md->state_out(&h->work, st);
        for (size_t i = 0; i < md->out_len; i++)
            res[i] |= (uint8_t)(st[i] & is_final);
    }
    h->work = h->outer;
    md->update(&h->work, res, md->out_len);
    md->final(&h->work, out);
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(st, sizeof(st));
    OPENSSL_cleanse(res, sizeof(res));
    return 0;
}

/* ------------------------------------------------------------------ TLS 1.2 PRF (RFC 5246 5) */

/* P_hash with the secret's HMAC states ready in h (left as they were). */
static void prf12_run(hasp_hmac_ctx *h, const char *label, const uint8_t *seed1, size_t len1,
                      const uint8_t *seed2, size_t len2, uint8_t *out, size_t out_len)
{
    const size_t hl = h->md->out_len, ll = label ? strlen(label) : 0;
    uint8_t a[HASP_HASH_MAX], blk[HASP_HASH_MAX];
    /* A(1) = HMAC(secret, label || seed) */
    hasp_hmac_start(h);
    hasp_hmac_update(h, (const uint8_t *)label, ll);
    hasp_hmac_update(h, seed1, len1);
    hasp_hmac_update(h, seed2, len2);
    hasp_hmac_finish(h, a);
    while (out_len) {
        hasp_hmac_start(h);
        hasp_hmac_update(h, a, hl);
        hasp_hmac_update(h, (const uint8_t *)label, ll);
        hasp_hmac_update(h, seed1, len1);
        hasp_hmac_update(h, seed2, len2);
        hasp_hmac_finish(h, blk);
        size_t n = out_len < hl ? out_len : hl;
        memcpy(out, blk, n);
        out += n;
        out_len -= n;
        if (out_len) {
            hasp_hmac_start(h);
            hasp_hmac_update(h, a, hl);
            hasp_hmac_finish(h, a);
        }
    }
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(blk, sizeof(blk));
    OPENSSL_cleanse(&h->work, sizeof(h->work));
}

int hasp_prf12_2(int alg, const uint8_t *secret, size_t secret_len, const char *label,
                 const uint8_t *seed1, size_t len1, const uint8_t *seed2, size_t len2, uint8_t *out,
                 size_t out_len)
{
    hasp_hmac_ctx h;
    GUARD(hasp_hmac_init_key(&h, alg, secret, secret_len));
    prf12_run(&h, label, seed1, len1, seed2, len2, out, out_len);
    OPENSSL_cleanse(&h, sizeof(h));
    return 0;
}

int hasp_prf12_hmac(hasp_hmac_ctx *h, const char *label, const uint8_t *seed1, size_t len1,
                    const uint8_t *seed2, size_t len2, uint8_t *out, size_t out_len)
{
    ENSURE(h != NULL, HASP_ERR_USAGE);
    prf12_run(h, label, seed1, len1, seed2, len2, out, out_len);
    return 0;
}

int hasp_prf12(int alg, const uint8_t *secret, size_t secret_len, const char *label,
               const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
    return hasp_prf12_2(alg, secret, secret_len, label, seed, seed_len, NULL, 0, out, out_len);
}

/* ------------------------------------------------------------------ HKDF (RFC 5869) */

int hasp_hkdf_extract(int alg, const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                      size_t ikm_len, uint8_t *prk)
{
    /* A missing salt is HashLen zeros, which HMAC pads to the same key as
     * an empty one. */
    return hasp_hmac(alg, salt, salt ? salt_len : 0, ikm, ikm_len, prk);
}

/* HKDF-Expand with the PRK's HMAC states already made. */
static int hkdf_expand_keyed(hasp_hmac_ctx *h, const uint8_t *info, size_t info_len, uint8_t *out,
                             size_t out_len)
{
    const size_t hl = h->md->out_len;
    ENSURE_MSG(out_len <= 255 * hl, HASP_ERR_USAGE,
               "HKDF-Expand cannot produce %zu bytes with %s (the most is 255 blocks)", out_len,
               h->md->name);
    uint8_t t[HASP_HASH_MAX];
    size_t tlen = 0;
    for (uint8_t ctr = 1; out_len; ctr++) {
        hasp_hmac_start(h);
        hasp_hmac_update(h, t, tlen);
        hasp_hmac_update(h, info, info_len);
        hasp_hmac_update(h, &ctr, 1);
        hasp_hmac_finish(h, t);
        tlen = hl;
        size_t n = out_len < hl ? out_len : hl;
        memcpy(out, t, n);
        out += n;
        out_len -= n;
    }
    OPENSSL_cleanse(t, sizeof(t));
    return 0;
}

int hasp_hkdf_expand(int alg, const uint8_t *prk, size_t prk_len, const uint8_t *info,
                     size_t info_len, uint8_t *out, size_t out_len)
{
    hasp_hmac_ctx h;
    GUARD(hasp_hmac_init_key(&h, alg, prk, prk_len));
    int rc = hkdf_expand_keyed(&h, info, info_len, out, out_len);
    OPENSSL_cleanse(&h, sizeof(h));
    return rc;
}

/* RFC 8446 7.1: HkdfLabel = uint16 length || opaque label<7..255> ("tls13 "
 * || Label) || opaque context<0..255>. Returns its length in info. */
static int hkdf_label(const char *label, const uint8_t *ctx, size_t ctx_len, size_t out_len,
                      uint8_t info[2 + 1 + 255 + 1 + 255], size_t *info_len)
{
    static const char prefix[] = "tls13 ";
    const size_t ll = strlen(label), pl = sizeof(prefix) - 1;
    ENSURE_MSG(ll + pl <= 255 && ctx_len <= 255 && out_len <= 0xffff, HASP_ERR_USAGE,
               "HKDF-Expand-Label input too long (label '%s')", label);
    size_t n = 0;
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(ll + pl);
    memcpy(info + n, prefix, pl);
    n += pl;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = (uint8_t)ctx_len;
    if (ctx_len) memcpy(info + n, ctx, ctx_len);
    n += ctx_len;
    *info_len = n;
    return 0;
}

int hasp_hkdf_expand_label(int alg, const uint8_t *secret, size_t secret_len, const char *label,
                           const uint8_t *ctx, size_t ctx_len, uint8_t *out, size_t out_len)
{
    uint8_t info[2 + 1 + 255 + 1 + 255];
    size_t n = 0;
    GUARD(hkdf_label(label, ctx, ctx_len, out_len, info, &n));
    return hasp_hkdf_expand(alg, secret, secret_len, info, n, out, out_len);
}

int hasp_hkdf_expand_label2(int alg, const uint8_t *secret, size_t secret_len, const char *label1,
                            uint8_t *out1, size_t len1, const char *label2, uint8_t *out2,
                            size_t len2)
{
    uint8_t info[2 + 1 + 255 + 1 + 255];
    size_t n = 0;
    hasp_hmac_ctx h;
    GUARD(hasp_hmac_init_key(&h, alg, secret, secret_len));
    int rc = hkdf_label(label1, NULL, 0, len1, info, &n);
    if (rc == 0) rc = hkdf_expand_keyed(&h, info, n, out1, len1);
    if (rc == 0) rc = hkdf_label(label2, NULL, 0, len2, info, &n);
    if (rc == 0) rc = hkdf_expand_keyed(&h, info, n, out2, len2);
    OPENSSL_cleanse(&h, sizeof(h));
    return rc;
}
