/* ML-KEM-768 and ML-KEM-1024, written from FIPS 203.
 *
 * Polynomials are 256 int16_t coefficients. Arithmetic mod q = 3329 uses
 * Montgomery multiplication (R = 2^16) and Barrett reduction; the NTT is
 * the 7-layer negacyclic transform of FIPS 203 Algorithms 9 and 10 with
 * the twiddle factors zeta^BitRev7(i) kept in Montgomery form, so that a
 * butterfly costs one Montgomery multiplication. Products in the NTT
 * domain (Algorithms 11 and 12) leave a factor R^-1, which the inverse
 * NTT's final scaling (or an explicit conversion to Montgomery form)
 * cancels. The matrix A-hat is never stored: each entry is sampled where
 * it is used.
 *
 * Constant time: every secret (s, e, y, e1, e2, m, r, the decrypted
 * message, the shared keys) goes only through arithmetic, shifts and
 * masks; the only data-dependent branches are in SampleNTT, whose input
 * rho is public, and in the checks of public inputs. ct_declassify()
 * tells valgrind (when the test runs under it, see tests/mlkem_ct.c) that
 * rho, derived from the secret d in KeyGen, is public. */
#include <openssl/evp.h>

#include <pthread.h>
#include <string.h>

#include "crypto.h"
#include "internal.h"
#include "mlkem.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define ct_declassify(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef ct_declassify
#define ct_declassify(p, n) ((void)(p), (void)(n))
#endif

#define N 256
#define Q 3329
#define QINV (-3327) /* q^-1 mod 2^16, as a signed value */
#define POLY_BYTES 384
#define MAX_K 4

typedef struct poly {
    int16_t c[N];
} poly;

typedef struct params {
    int k, du, dv;
    size_t ek_len, dk_len, ct_len;
} params;

static const params p768 = {
    3, 10, 4, HASP_MLKEM768_EK_LEN, HASP_MLKEM768_DK_LEN, HASP_MLKEM768_CT_LEN};
static const params p1024 = {
    4, 11, 5, HASP_MLKEM1024_EK_LEN, HASP_MLKEM1024_DK_LEN, HASP_MLKEM1024_CT_LEN};

static const params *params_get(int param)
{
    return param == HASP_MLKEM768 ? &p768 : param == HASP_MLKEM1024 ? &p1024 : NULL;
}

size_t hasp_mlkem_ek_len(int param)
{
    const params *p = params_get(param);
    return p ? p->ek_len : 0;
}

size_t hasp_mlkem_dk_len(int param)
{
    const params *p = params_get(param);
    return p ? p->dk_len : 0;
}

size_t hasp_mlkem_ct_len(int param)
{
    const params *p = params_get(param);
    return p ? p->ct_len : 0;
}

const char *hasp_mlkem_name(int param)
{
    return param == HASP_MLKEM768 ? "ML-KEM-768" : param == HASP_MLKEM1024 ? "ML-KEM-1024" : NULL;
}

/* ------------------------------------------------------------------ SHA-3 and SHAKE (FIPS 203 4.1)
 */

static EVP_MD *md_sha3_256, *md_sha3_512, *md_shake128, *md_shake256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_load(void)
{
    md_sha3_256 = EVP_MD_fetch(NULL, "SHA3-256", NULL);
    md_sha3_512 = EVP_MD_fetch(NULL, "SHA3-512", NULL);
    md_shake128 = EVP_MD_fetch(NULL, "SHAKE128", NULL);
    md_shake256 = EVP_MD_fetch(NULL, "SHAKE256", NULL);
}

/* One operation's hashing: a digest context reused for every call. */
typedef struct hashes {
    EVP_MD_CTX *ctx;
} hashes;

static int hashes_init(hashes *h)
{
    pthread_once(&md_once, md_load);
    ENSURE_MSG(md_sha3_256 && md_sha3_512 && md_shake128 && md_shake256, HASP_ERR_CRYPTO,
               "the crypto library provides no SHA-3 or SHAKE, which ML-KEM needs");
    h->ctx = EVP_MD_CTX_new();
    ENSURE(h->ctx != NULL, HASP_ERR_NOMEM);
    return 0;
}

static void hashes_free(hashes *h)
{
    EVP_MD_CTX_free(h->ctx); /* cleanses the Keccak state */
    h->ctx = NULL;
}

/* out = md(a || b), out_len bytes (any length for the XOFs). */
static int hash2(hashes *h, const EVP_MD *md, const uint8_t *a, size_t alen, const uint8_t *b,
                 size_t blen, uint8_t *out, size_t out_len)
{
    int ok = EVP_DigestInit_ex2(h->ctx, md, NULL) == 1 && EVP_DigestUpdate(h->ctx, a, alen) == 1 &&
             (blen == 0 || EVP_DigestUpdate(h->ctx, b, blen) == 1);
    if (ok) {
        if (md == md_shake128 || md == md_shake256)
            ok = EVP_DigestFinalXOF(h->ctx, out, out_len) == 1;
        else
            ok = EVP_DigestFinal_ex(h->ctx, out, NULL) == 1;
    }
    ENSURE_MSG(ok, HASP_ERR_CRYPTO, "a SHA-3 computation for ML-KEM failed");
    return 0;
}

/* ------------------------------------------------------------------ arithmetic mod q */

/* FIPS 203 4.3: zeta^BitRev7(i) mod q for zeta = 17, times R = 2^16 mod q,
 * as the representative in (-q/2, q/2). */
static const int16_t zetas[128] = {
    -1044, -758,  -359,  -1517, 1493,  1422,  287,   202,   -171,  622,   1577,  182,   962,
    -1202, -1474, 1468,  573,   -1325, 264,   383,   -829,  1458,  -1602, -130,  -681,  1017,
    732,   608,   -1542, 411,   -205,  -1571, 1223,  652,   -552,  1015,  -1293, 1491,  -282,
    -1544, 516,   -8,    -320,  -666,  -1618, -1162, 126,   1469,  -853,  -90,   -271,  830,
    107,   -1421, -247,  -951,  -398,  961,   -1508, -725,  448,   -1065, 677,   -1275, -1103,
    430,   555,   843,   -1251, 871,   1550,  105,   422,   587,   177,   -235,  -291,  -460,
    1574,  1653,  -246,  778,   1159,  -147,  -777,  1483,  -602,  1119,  -1590, 644,   -872,
    349,   418,   329,   -156,  -75,   817,   1097,  603,   610,   1322,  -1285, -1465, 384,
    -1215, -136,  1218,  -1335, -874,  220,   -1187, -1659, -1185, -1530, -1278, 794,   -1510,
    -854,  -870,  478,   -108,  -308,  996,   991,   958,   -1460, 1522,  1628};

/* The arithmetic is written in 16-bit lanes (the low and the high half
 * of a 16 x 16-bit product, as SIMD multiply instructions give them), so
 * that the compiler can vectorise the loops over a polynomial. */

/* The high half of a * b. */
static inline int16_t mulhi(int16_t a, int16_t b)
{
    return (int16_t)(((int32_t)a * b) >> 16);
}

/* Montgomery multiplication: a * b * R^-1 mod q in (-q, q), for
 * |a * b| < q * 2^15. With p = a * b and t = p * q^-1 mod 2^16, p - t q
 * is a multiple of 2^16, so (p - t q) / 2^16 = hi(p) - hi(t q) exactly. */
static inline int16_t fqmul(int16_t a, int16_t b)
{
    int16_t t = (int16_t)((int16_t)(a * b) * QINV);
    return (int16_t)(mulhi(a, b) - mulhi(t, Q));
}

/* The representative of a mod q in [-(q-1)/2, (q-1)/2]: a - round(a v /
 * 2^26) q with v = round(2^26 / q); round(x / 2^26) computed as
 * (hi(a v) + 2^9) >> 10, which is the same integer. */
static inline int16_t barrett_reduce(int16_t a)
{
    const int16_t v = ((1 << 26) + Q / 2) / Q;
    int16_t t = (int16_t)((mulhi(a, v) + (1 << 9)) >> 10);
    return (int16_t)(a - t * Q);
}

/* [-(q-1), q-1] to [0, q) without a branch. */
static inline uint16_t to_positive(int16_t a)
{
    return (uint16_t)(a + ((a >> 15) & Q));
}

static void poly_reduce(poly *p)
{
    for (int i = 0; i < N; i++)
        p->c[i] = barrett_reduce(p->c[i]);
}

static void poly_add(poly *r, const poly *a)
{
    for (int i = 0; i < N; i++)
        r->c[i] = (int16_t)(r->c[i] + a->c[i]);
}

/* r = a - r */
static void poly_sub_from(poly *r, const poly *a)
{
    for (int i = 0; i < N; i++)
        r->c[i] = (int16_t)(a->c[i] - r->c[i]);
}

/* Multiply by R (from R^-1 after a product to plain). */
static void poly_tomont(poly *p)
{
    const int16_t f = (int16_t)((1ULL << 32) % Q);
    for (int i = 0; i < N; i++)
        p->c[i] = fqmul(p->c[i], f);
}

/* FIPS 203 Algorithm 9. Input coefficients below q in absolute value;
 * output reduced. */
static void poly_ntt(poly *p)
{
    int k = 1;
    for (int len = 128; len >= 2; len >>= 1)
        for (int start = 0; start < N; start += 2 * len) {
            int16_t zeta = zetas[k++];
            for (int j = start; j < start + len; j++) {
                int16_t t = fqmul(zeta, p->c[j + len]);
                p->c[j + len] = (int16_t)(p->c[j] - t);
                p->c[j] = (int16_t)(p->c[j] + t);
            }
        }
    poly_reduce(p);
}

/* FIPS 203 Algorithm 10, times R: the butterflies use -zeta^-1 =
 * zeta^(128 - BitRev7(i)), which is zetas[] read backwards, on b - a.
 * The final factor is R^2 / 128: the 1/128 of the inverse transform and
 * the R that cancels the R^-1 of a preceding product. */
static void poly_invntt_tomont(poly *p)
{
    const int16_t f = 1441; /* R^2 / 128 mod q */
    int k = 127;
    for (int len = 2; len <= 128; len <<= 1)
        for (int start = 0; start < N; start += 2 * len) {
            int16_t zeta = zetas[k--];
            for (int j = start; j < start + len; j++) {
                int16_t t = p->c[j];
                p->c[j] = barrett_reduce((int16_t)(t + p->c[j + len]));
                p->c[j + len] = fqmul(zeta, (int16_t)(p->c[j + len] - t));
            }
        }
    for (int j = 0; j < N; j++)
        p->c[j] = fqmul(p->c[j], f);
}

/* FIPS 203 Algorithms 11 and 12, times R^-1, added to r: pairs of
 * coefficients are degree-1 polynomials mod X^2 - zeta^(2 BitRev7(i)+1). */
static void poly_basemul_acc(poly *r, const poly *a, const poly *b)
{
    for (int i = 0; i < N / 4; i++) {
        int16_t zeta = zetas[64 + i];
        for (int s = 0; s < 2; s++) {
            const int16_t *x = &a->c[4 * i + 2 * s], *y = &b->c[4 * i + 2 * s];
            int16_t z = s ? (int16_t)-zeta : zeta;
            int16_t c0 = (int16_t)(fqmul(fqmul(x[1], y[1]), z) + fqmul(x[0], y[0]));
            int16_t c1 = (int16_t)(fqmul(x[0], y[1]) + fqmul(x[1], y[0]));
            r->c[4 * i + 2 * s] = (int16_t)(r->c[4 * i + 2 * s] + c0);
            r->c[4 * i + 2 * s + 1] = (int16_t)(r->c[4 * i + 2 * s + 1] + c1);
        }
    }
}

/* ------------------------------------------------------------------ encodings (FIPS 203 4.2.1) */

/* ByteEncode12 of a reduced polynomial. */
static void poly_tobytes(uint8_t out[POLY_BYTES], const poly *p)
{
    for (int i = 0; i < N / 2; i++) {
        uint16_t a = to_positive(p->c[2 * i]), b = to_positive(p->c[2 * i + 1]);
        out[3 * i] = (uint8_t)a;
        out[3 * i + 1] = (uint8_t)((a >> 8) | (b << 4));
        out[3 * i + 2] = (uint8_t)(b >> 4);
    }
}

/* ByteDecode12 (values up to 4095; the caller checks ek's beforehand). */
static void poly_frombytes(poly *p, const uint8_t in[POLY_BYTES])
{
    for (int i = 0; i < N / 2; i++) {
        p->c[2 * i] = (int16_t)((in[3 * i] | (in[3 * i + 1] << 8)) & 0xfff);
        p->c[2 * i + 1] = (int16_t)((in[3 * i + 1] >> 4) | (in[3 * i + 2] << 4));
    }
}

/* Compress_d (FIPS 203 4.2.1): round(2^d / q * x) mod 2^d, for x in
 * [0, q), by multiplication with ceil(2^36 / q) instead of a division
 * (whose timing can depend on its operands). The error is below 2^-12,
 * less than the distance 1/q of any quotient to the next integer. */
static inline uint32_t compress(uint16_t x, int d)
{
    uint64_t n = ((uint64_t)x << d) + (Q - 1) / 2;
    return (uint32_t)((n * 20642679u) >> 36) & ((1u << d) - 1);
}

/* Decompress_d: round(q / 2^d * y). */
static inline int16_t decompress(uint32_t y, int d)
{
    return (int16_t)(((uint32_t)y * Q + (1u << (d - 1))) >> d);
}

/* ByteEncode_d(Compress_d(p)) for a reduced p: 32 d bytes. */
static void poly_compress(uint8_t *out, const poly *p, int d)
{
    uint64_t acc = 0;
    int bits = 0;
    for (int i = 0; i < N; i++) {
        acc |= (uint64_t)compress(to_positive(p->c[i]), d) << bits;
        bits += d;
        while (bits >= 8) {
            *out++ = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
}

/* Decompress_d(ByteDecode_d(in)). */
static void poly_decompress(poly *p, const uint8_t *in, int d)
{
    uint64_t acc = 0;
    int bits = 0;
    for (int i = 0; i < N; i++) {
        while (bits < d) {
            acc |= (uint64_t)*in++ << bits;
            bits += 8;
        }
        p->c[i] = decompress((uint32_t)(acc & ((1u << d) - 1)), d);
        acc >>= d;
        bits -= d;
    }
}

/* Decompress_1(ByteDecode_1(m)): each bit to 0 or round(q/2). */
static void poly_frommsg(poly *p, const uint8_t m[32])
{
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 8; j++) {
            int16_t mask = (int16_t) - (int16_t)((m[i] >> j) & 1);
            p->c[8 * i + j] = (int16_t)(mask & ((Q + 1) / 2));
        }
}

/* ByteEncode_1(Compress_1(p)) for a reduced p. */
static void poly_tomsg(uint8_t m[32], const poly *p)
{
    for (int i = 0; i < 32; i++) {
        uint8_t b = 0;
        for (int j = 0; j < 8; j++)
            b |= (uint8_t)(compress(to_positive(p->c[8 * i + j]), 1) << j);
        m[i] = b;
    }
}

/* ------------------------------------------------------------------ sampling (FIPS 203 4.2.2) */

/* SampleNTT (Algorithm 7) of rho || j || i: rejection sampling of
 * SHAKE-128 output. OpenSSL 3.0 squeezes a SHAKE only once, so a fixed
 * amount is drawn: three blocks (504 bytes, 336 candidates for 256
 * places, each accepted with probability 3329/4096) suffice 99% of the
 * time; otherwise the output is drawn again, twice as long, and so on: a
 * SHAKE's shorter output is a prefix of its longer one. rho is public:
 * the branches are on public data. */
static int sample_ntt(hashes *h, poly *p, const uint8_t rho[32], uint8_t j, uint8_t i)
{
    uint8_t idx[2] = {j, i};
    uint8_t buf[3 * 168];
    uint8_t *big = NULL;
    size_t len = sizeof(buf);
    const uint8_t *s = buf;
    GUARD(hash2(h, md_shake128, rho, 32, idx, 2, buf, len));
    /* Each candidate is written, and kept by advancing n, without a
     * branch that mispredicts one time in five (speed only: rho is
     * public); out has room for the two that may pass the end. */
    int16_t out[N + 2];
    int n = 0;
    size_t pos = 0;
    while (n < N) {
        if (pos + 3 > len) {
            size_t more = len * 2;
            uint8_t *nb = OPENSSL_realloc(big, more);
            if (nb == NULL) {
                OPENSSL_free(big);
                FAIL(HASP_ERR_NOMEM, NULL);
            }
            big = nb;
            len = more;
            if (hash2(h, md_shake128, rho, 32, idx, 2, big, len) < 0) {
                OPENSSL_free(big);
                return HASP_ERR_CRYPTO;
            }
            s = big;
        }
        uint16_t d1 = (uint16_t)(s[pos] | ((s[pos + 1] & 0x0f) << 8));
        uint16_t d2 = (uint16_t)((s[pos + 1] >> 4) | (s[pos + 2] << 4));
        pos += 3;
        out[n] = (int16_t)d1;
        n += d1 < Q;
        out[n] = (int16_t)d2;
        n += d2 < Q;
    }
    memcpy(p->c, out, sizeof(p->c));
    OPENSSL_free(big);
    return 0;
}

/* SamplePolyCBD_2 (Algorithm 8) of PRF_2(sigma, nonce) = SHAKE-256(sigma
 * || nonce), 128 bytes: each coefficient is (b0 + b1) - (b2 + b3) for
 * four consecutive bits. Both parameter sets here have eta1 = eta2 = 2. */
static int sample_cbd2(hashes *h, poly *p, const uint8_t sigma[32], uint8_t nonce)
{
    uint8_t buf[128];
    GUARD(hash2(h, md_shake256, sigma, 32, &nonce, 1, buf, sizeof(buf)));
    for (int i = 0; i < N / 8; i++) {
        uint32_t t = (uint32_t)buf[4 * i] | ((uint32_t)buf[4 * i + 1] << 8) |
                     ((uint32_t)buf[4 * i + 2] << 16) | ((uint32_t)buf[4 * i + 3] << 24);
        uint32_t d = (t & 0x55555555u) + ((t >> 1) & 0x55555555u);
        for (int j = 0; j < 8; j++) {
            int16_t a = (int16_t)((d >> (4 * j)) & 3), b = (int16_t)((d >> (4 * j + 2)) & 3);
            p->c[8 * i + j] = (int16_t)(a - b);
        }
    }
    hasp_wipe(buf, sizeof(buf));
    return 0;
}

/* ------------------------------------------------------------------ K-PKE (FIPS 203 5) */

typedef struct pke_work {
    poly s[MAX_K], e[MAX_K], t[MAX_K], a, tmp;
    uint8_t rho_sigma[64];
} pke_work;

/* Algorithm 13: ek_pke = ByteEncode12(t-hat) || rho and dk_pke =
 * ByteEncode12(s-hat) from d. (rho, sigma) = G(d || k); the draft (ipd)
 * had G(d). */
static int kpke_keygen(hashes *h, const params *P, const uint8_t d[32], int ipd, uint8_t *ek,
                       uint8_t *dk_pke, pke_work *w)
{
    uint8_t kb = (uint8_t)P->k;
    GUARD(hash2(h, md_sha3_512, d, 32, &kb, ipd ? 0 : 1, w->rho_sigma, 64));
    const uint8_t *rho = w->rho_sigma, *sigma = w->rho_sigma + 32;
    ct_declassify(w->rho_sigma, 32); /* rho goes into ek */
    uint8_t nonce = 0;
    for (int i = 0; i < P->k; i++)
        GUARD(sample_cbd2(h, &w->s[i], sigma, nonce++));
    for (int i = 0; i < P->k; i++)
        GUARD(sample_cbd2(h, &w->e[i], sigma, nonce++));
    for (int i = 0; i < P->k; i++) {
        poly_ntt(&w->s[i]);
        poly_ntt(&w->e[i]);
    }
    for (int i = 0; i < P->k; i++) {
        memset(&w->t[i], 0, sizeof(poly));
        for (int j = 0; j < P->k; j++) {
            GUARD(sample_ntt(h, &w->a, rho, (uint8_t)j, (uint8_t)i));
            poly_basemul_acc(&w->t[i], &w->a, &w->s[j]);
        }
        poly_tomont(&w->t[i]);
        poly_add(&w->t[i], &w->e[i]);
        poly_reduce(&w->t[i]);
        poly_tobytes(ek + POLY_BYTES * i, &w->t[i]);
        poly_tobytes(dk_pke + POLY_BYTES * i, &w->s[i]);
    }
    memcpy(ek + POLY_BYTES * P->k, rho, 32);
    return 0;
}

typedef struct enc_work {
    poly t[MAX_K], y[MAX_K], u[MAX_K], v, e, a;
} enc_work;

/* Algorithm 14: c from ek_pke (already checked), m and the randomness r. */
static int kpke_encrypt(hashes *h, const params *P, const uint8_t *ek, const uint8_t m[32],
                        const uint8_t r[32], uint8_t *ct, enc_work *w)
{
    const uint8_t *rho = ek + POLY_BYTES * P->k;
    uint8_t nonce = 0;
    for (int i = 0; i < P->k; i++) {
        poly_frombytes(&w->t[i], ek + POLY_BYTES * i);
        GUARD(sample_cbd2(h, &w->y[i], r, nonce++));
        poly_ntt(&w->y[i]);
    }
    /* u = NTT^-1(A-hat^T o y-hat) + e1 */
    for (int i = 0; i < P->k; i++) {
        memset(&w->u[i], 0, sizeof(poly));
        for (int j = 0; j < P->k; j++) {
            GUARD(sample_ntt(h, &w->a, rho, (uint8_t)i, (uint8_t)j)); /* A-hat[j, i] */
            poly_basemul_acc(&w->u[i], &w->a, &w->y[j]);
        }
        poly_reduce(&w->u[i]);
        poly_invntt_tomont(&w->u[i]);
        GUARD(sample_cbd2(h, &w->e, r, nonce++));
        poly_add(&w->u[i], &w->e);
        poly_reduce(&w->u[i]);
        poly_compress(ct + 32 * P->du * i, &w->u[i], P->du);
    }
    /* v = NTT^-1(t-hat^T o y-hat) + e2 + mu */
    memset(&w->v, 0, sizeof(poly));
    for (int j = 0; j < P->k; j++)
        poly_basemul_acc(&w->v, &w->t[j], &w->y[j]);
    poly_reduce(&w->v);
    poly_invntt_tomont(&w->v);
    GUARD(sample_cbd2(h, &w->e, r, nonce++));
    poly_add(&w->v, &w->e);
    poly_frommsg(&w->e, m);
    poly_add(&w->v, &w->e);
    poly_reduce(&w->v);
    poly_compress(ct + 32 * P->du * P->k, &w->v, P->dv);
    return 0;
}

/* Algorithm 15: m from dk_pke and c. */
static void kpke_decrypt(const params *P, const uint8_t *dk_pke, const uint8_t *ct, uint8_t m[32],
                         enc_work *w)
{
    memset(&w->v, 0, sizeof(poly));
    for (int i = 0; i < P->k; i++) {
        poly_decompress(&w->u[i], ct + 32 * P->du * i, P->du);
        poly_ntt(&w->u[i]);
        poly_frombytes(&w->y[i], dk_pke + POLY_BYTES * i); /* s-hat */
        poly_basemul_acc(&w->v, &w->y[i], &w->u[i]);
    }
    poly_reduce(&w->v);
    poly_invntt_tomont(&w->v);
    poly_decompress(&w->e, ct + 32 * P->du * P->k, P->dv);
    poly_sub_from(&w->v, &w->e); /* w = v' - NTT^-1(s-hat^T o NTT(u')) */
    poly_reduce(&w->v);
    poly_tomsg(m, &w->v);
}

/* ------------------------------------------------------------------ ML-KEM (FIPS 203 6, 7) */

static int keygen(int param, const uint8_t d[32], const uint8_t z[32], int ipd, uint8_t *ek,
                  uint8_t *dk)
{
    const params *P = params_get(param);
    ENSURE_MSG(P != NULL, HASP_ERR_USAGE, "unknown ML-KEM parameter set %d", param);
    hashes h;
    GUARD(hashes_init(&h));
    pke_work *w = OPENSSL_malloc(sizeof(*w));
    int rc = w ? 0 : hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
    size_t k = (size_t)P->k;
    /* dk = dk_pke || ek || H(ek) || z (Algorithm 16) */
    if (rc == 0) rc = kpke_keygen(&h, P, d, ipd, ek, dk, w);
    if (rc == 0) {
        memcpy(dk + POLY_BYTES * k, ek, P->ek_len);
        rc = hash2(&h, md_sha3_256, ek, P->ek_len, NULL, 0, dk + POLY_BYTES * k + P->ek_len, 32);
    }
    if (rc == 0) memcpy(dk + P->dk_len - 32, z, 32);
    if (w) {
        hasp_wipe(w, sizeof(*w));
        OPENSSL_free(w);
    }
    hashes_free(&h);
    return rc;
}

int hasp_mlkem_keygen_derand(int param, const uint8_t d[32], const uint8_t z[32], uint8_t *ek,
                             uint8_t *dk)
{
    return keygen(param, d, z, 0, ek, dk);
}

int hasp_mlkem_keygen_derand_ipd(int param, const uint8_t d[32], const uint8_t z[32], uint8_t *ek,
                                 uint8_t *dk)
{
    return keygen(param, d, z, 1, ek, dk);
}

int hasp_mlkem_keygen(int param, uint8_t *ek, uint8_t *dk)
{
    uint8_t dz[64];
    GUARD(hasp_random(dz, sizeof(dz)));
    int rc = hasp_mlkem_keygen_derand(param, dz, dz + 32, ek, dk);
    hasp_wipe(dz, sizeof(dz));
    return rc;
}

int hasp_mlkem_check_ek(int param, const uint8_t *ek, size_t ek_len)
{
    const params *P = params_get(param);
    ENSURE_MSG(P != NULL, HASP_ERR_USAGE, "unknown ML-KEM parameter set %d", param);
    ENSURE_MSG(ek != NULL && ek_len == P->ek_len, HASP_ERR_ILLEGAL_PARAM,
               "the %s encapsulation key has %zu bytes, not %zu", hasp_mlkem_name(param), ek_len,
               P->ek_len);
    /* FIPS 203 7.2, the modulus check: every coefficient of t-hat < q */
    for (size_t i = 0; i < POLY_BYTES * (size_t)P->k; i += 3) {
        unsigned a = ek[i] | ((ek[i + 1] & 0x0fu) << 8), b = (ek[i + 1] >> 4) | (ek[i + 2] << 4);
        ENSURE_MSG(a < Q && b < Q, HASP_ERR_ILLEGAL_PARAM,
                   "the %s encapsulation key has a coefficient %u not reduced mod 3329 (FIPS 203 "
                   "7.2 modulus check)",
                   hasp_mlkem_name(param), a < Q ? b : a);
    }
    return 0;
}

/* Algorithm 17 after the checks: (K, r) = G(m || H(ek)), c = Encrypt(ek, m, r). */
static int encaps_inner(hashes *h, const params *P, const uint8_t *ek, const uint8_t h_ek[32],
                        const uint8_t m[32], uint8_t *ct, uint8_t kr[64], enc_work *w)
{
    GUARD(hash2(h, md_sha3_512, m, 32, h_ek, 32, kr, 64));
    return kpke_encrypt(h, P, ek, m, kr + 32, ct, w);
}

int hasp_mlkem_encaps_derand(int param, const uint8_t *ek, size_t ek_len, const uint8_t m[32],
                             uint8_t *ct, uint8_t ss[32])
{
    GUARD(hasp_mlkem_check_ek(param, ek, ek_len));
    const params *P = params_get(param);
    hashes h;
    GUARD(hashes_init(&h));
    enc_work *w = OPENSSL_malloc(sizeof(*w));
    uint8_t h_ek[32], kr[64];
    int rc = w ? 0 : hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
    if (rc == 0) rc = hash2(&h, md_sha3_256, ek, ek_len, NULL, 0, h_ek, 32);
    if (rc == 0) rc = encaps_inner(&h, P, ek, h_ek, m, ct, kr, w);
    if (rc == 0) memcpy(ss, kr, 32);
    hasp_wipe(kr, sizeof(kr));
    if (w) {
        hasp_wipe(w, sizeof(*w));
        OPENSSL_free(w);
    }
    hashes_free(&h);
    return rc;
}

int hasp_mlkem_encaps(int param, const uint8_t *ek, size_t ek_len, uint8_t *ct, uint8_t ss[32])
{
    uint8_t m[32];
    GUARD(hasp_random(m, sizeof(m)));
    int rc = hasp_mlkem_encaps_derand(param, ek, ek_len, m, ct, ss);
    hasp_wipe(m, sizeof(m));
    return rc;
}

static int decaps(int param, const uint8_t *dk, size_t dk_len, const uint8_t *ct, size_t ct_len,
                  uint8_t ss[32], int check)
{
    const params *P = params_get(param);
    ENSURE_MSG(P != NULL, HASP_ERR_USAGE, "unknown ML-KEM parameter set %d", param);
    ENSURE_MSG(ct != NULL && ct_len == P->ct_len, HASP_ERR_ILLEGAL_PARAM,
               "the %s ciphertext has %zu bytes, not %zu", hasp_mlkem_name(param), ct_len,
               P->ct_len);
    ENSURE_MSG(dk != NULL && dk_len == P->dk_len, HASP_ERR_USAGE,
               "the %s decapsulation key has %zu bytes, not %zu", hasp_mlkem_name(param), dk_len,
               P->dk_len);
    size_t k = (size_t)P->k;
    const uint8_t *ek = dk + POLY_BYTES * k, *h_ek = ek + P->ek_len, *z = h_ek + 32;
    hashes h;
    GUARD(hashes_init(&h));
    struct {
        enc_work w;
        uint8_t ct2[HASP_MLKEM_MAX_CT_LEN];
        uint8_t m[32], kr[64], kbar[32], h_check[32];
    } *s = OPENSSL_malloc(sizeof(*s));
    int rc = s ? 0 : hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
    /* FIPS 203 7.3: the hash check of dk */
    if (rc == 0 && check) rc = hash2(&h, md_sha3_256, ek, P->ek_len, NULL, 0, s->h_check, 32);
    if (rc == 0 && check && memcmp(s->h_check, h_ek, 32) != 0)
        rc = hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__,
                          "the %s decapsulation key fails its hash check (FIPS 203 7.3)",
                          hasp_mlkem_name(param));
    if (rc == 0) {
        kpke_decrypt(P, dk, ct, s->m, &s->w);
        rc = encaps_inner(&h, P, ek, h_ek, s->m, s->ct2, s->kr, &s->w);
    }
    /* K-bar = J(z || c); K = K' if c == c' else K-bar, in constant time */
    if (rc == 0) rc = hash2(&h, md_shake256, z, 32, ct, ct_len, s->kbar, 32);
    if (rc == 0) {
        uint8_t diff = 0;
        for (size_t i = 0; i < ct_len; i++)
            diff |= (uint8_t)(ct[i] ^ s->ct2[i]);
        uint8_t eq = (uint8_t)ct_is_zero(ct_barrier(diff)); /* 0xff when equal */
        for (int i = 0; i < 32; i++)
            ss[i] = (uint8_t)((eq & s->kr[i]) | (~eq & s->kbar[i]));
    }
    if (s) {
        hasp_wipe(s, sizeof(*s));
        OPENSSL_free(s);
    }
    hashes_free(&h);
    return rc;
}

int hasp_mlkem_decaps(int param, const uint8_t *dk, size_t dk_len, const uint8_t *ct, size_t ct_len,
                      uint8_t ss[32])
{
    return decaps(param, dk, dk_len, ct, ct_len, ss, 1);
}

int hasp_mlkem_decaps_own(int param, const uint8_t *dk, size_t dk_len, const uint8_t *ct,
                          size_t ct_len, uint8_t ss[32])
{
    return decaps(param, dk, dk_len, ct, ct_len, ss, 0);
}
