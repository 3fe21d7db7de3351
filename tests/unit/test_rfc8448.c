/* RFC 8448 (Example Handshake Traces for TLS 1.3) as known answers.
 *
 * Part A recomputes, through the crypto seam only (hash, HMAC, HKDF,
 * HKDF-Expand-Label, X25519/P-256, AEAD, signature verification), every
 * value that ../shared/vectors/rfc8448.json lists for sections 3 (simple
 * 1-RTT), 4 (resumed, with 0-RTT: binder, early secrets, EndOfEarlyData),
 * 5 (HelloRetryRequest), 6 (client authentication) and 7 (middlebox
 * compatibility mode): key pairs and shared secrets, every extract and
 * derive step (PRK, transcript hash, HkdfLabel info and output), traffic
 * keys and IVs, Finished values, the PSK binder, the resumption secret,
 * both CertificateVerify signatures, and every record of the traces,
 * sealed again byte for byte with the keys derived here.
 *
 * Part B drives the real engine with the RFC's randoms and ephemeral keys
 * (hasp_config_set_rng_for_testing, hasp_config_set_kex_private_for_testing)
 * and watches the secrets it derives through the key log (SSLKEYLOGFILE +
 * hasp_config_allow_keylog). What can match byte for byte and what cannot:
 *
 *  - Server, sections 3 and 7 (7: the client sends a session ID, so the
 *    server answers in middlebox compatibility mode, and its CCS record is
 *    compared with the RFC's too; the RFC client's CCS is fed before its
 *    Finished). The RFC's ClientHello is fed to a hasp server that
 *    has the RFC's server random, X25519 key, certificate and RSA key (the
 *    key is rebuilt from the numbers in RFC 8448 section 2). Its ServerHello
 *    is compared with the RFC's byte for byte. The handshake secret and the
 *    master secret do not depend on the transcript, so the traffic secrets
 *    the engine must derive are computed here from the RFC's secrets and the
 *    transcript that really ran, and compared with the key log. hasp's
 *    EncryptedExtensions differs from the RFC server's (which sends
 *    supported_groups and record_size_limit), and the RSA-PSS signature in
 *    CertificateVerify is randomised, so the server's encrypted flight can
 *    not equal the RFC's: it is decrypted with the logged keys, its
 *    Certificate is compared with the RFC's, its signature and Finished are
 *    checked, and this test then plays the client: it sends a Finished and
 *    the RFC's application data under the keys it derived, and reads the
 *    server's answer. When the ServerHello matches, the RFC's own client
 *    Finished record must also decrypt under the engine's logged key.
 *  - Server, section 5 (HelloRetryRequest): the RFC's first ClientHello is
 *    answered with a HelloRetryRequest for P-256 (the RFC server also sends
 *    a cookie, hasp does not, so the HelloRetryRequest differs); the RFC's
 *    second ClientHello is fed next, and the engine's secrets are checked
 *    against the transcript message_hash(CH1) || HRR(hasp) || CH2 || SH.
 *  - Client, section 5: the RFC server's HelloRetryRequest (P-256, with a
 *    cookie; its session ID echo replaced by the hasp client's, since the
 *    RFC client sent none) must make a hasp client send a second
 *    ClientHello with the cookie and the RFC client's P-256 key; then the
 *    RFC's ServerHello, and the secrets over the real transcript.
 *  - Client, section 7 (compatibility mode, the one trace whose client
 *    sends a 32-byte session ID as hasp's client always does in TLS 1.3):
 *    a hasp client gets the RFC's client random, session ID and X25519 key.
 *    Its ClientHello has other extensions than the RFC client's, so from the
 *    ServerHello on the transcript differs; the RFC's ServerHello is fed to
 *    it, the handshake secrets are checked against the real transcript, and
 *    this test then plays the server with the RFC's certificate and key,
 *    through Finished, checking the application secrets too.
 *
 *  - Server, section 4 (resumption with 0-RTT): the RFC's ticket is the RFC
 *    server's, so the config's test hook (cfg->test_psk_lookup, not public
 *    API) resolves it to the section 3 session (PSK, ticket_age_add, early
 *    data allowed). The RFC's ClientHello and early data record go in: the
 *    early data reads back with hasp_conn_read_early (so the engine's early
 *    key is the RFC's), the ServerHello equals the RFC's byte for byte, the
 *    handshake secrets are the RFC's; hasp's EncryptedExtensions differs
 *    (the RFC server also sends supported_groups and record_size_limit), so
 *    the application secrets are checked over the real transcript; then the
 *    RFC's EndOfEarlyData record (early key, sequence 1), a client Finished
 *    made here, and the RFC's application data.
 *
 * Not reproduced through the engine: section 6 (the RFC does not give the
 * client's or the ECDSA server's private keys, and its CertificateRequest
 * carries extensions hasp's does not send; part A checks its schedule and
 * both signatures), and the client side of section 4 (a hasp client's
 * ClientHello has other extensions, so nothing after it can match).
 *
 * Run from the repository root (tests/run.sh does); the vectors are read
 * from ../shared/vectors/rfc8448.json (env RFC8448_JSON overrides). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h" /* the config's test hook for a PSK identity (section 4) */
#include "crypto/crypto.h"
#include "hasp.h"
#include "hs/session.h"
#include "test.h"
#include "x509/x509.h"

/* ================================================================ the vectors */

typedef struct {
    char name[64];
    uint8_t *data;
    size_t len;
} vfield;

typedef struct {
    int sec; /* 3..7 */
    char actor[16];
    char step[160];
    vfield f[10];
    int nf;
} vstep;

static vstep steps[512];
static int nsteps;

/* A JSON reader for the shape of rfc8448.json: an array of objects whose
 * values are strings, numbers or objects of the same kind. */
static const char *jp;
static int jerr;

static void jws(void)
{
    while (*jp && isspace((unsigned char)*jp))
        jp++;
}

static int jstr(char *out, size_t cap)
{
    jws();
    if (*jp != '"') return jerr = 1, -1;
    jp++;
    size_t n = 0;
    while (*jp && *jp != '"') {
        char ch = *jp++;
        if (ch == '\\') {
            ch = *jp++;
            if (ch == 'n')
                ch = '\n';
            else if (ch == 't')
                ch = '\t';
            else if (ch == 'u') {
                ch = '?';
                for (int i = 0; i < 4 && *jp; i++)
                    jp++;
            }
        }
        if (n + 1 < cap) out[n++] = ch;
    }
    if (*jp != '"') return jerr = 1, -1;
    jp++;
    out[n] = 0;
    return 0;
}

static void jskip(void); /* any value */

static void jskip(void)
{
    jws();
    if (*jp == '"') {
        static char tmp[8192];
        jstr(tmp, sizeof(tmp));
    } else if (*jp == '{' || *jp == '[') {
        char close = *jp == '{' ? '}' : ']';
        int obj = *jp == '{';
        jp++;
        jws();
        while (*jp && *jp != close) {
            if (obj) {
                char k[256];
                jstr(k, sizeof(k));
                jws();
                if (*jp == ':') jp++;
            }
            jskip();
            jws();
            if (*jp == ',') jp++;
            jws();
        }
        if (*jp) jp++;
    } else {
        while (*jp && *jp != ',' && *jp != '}' && *jp != ']')
            jp++;
    }
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* "fields": { NAME: {"len": N, "hex": "..."}, ... } */
static void jfields(vstep *s)
{
    jws();
    if (*jp != '{') {
        jskip();
        return;
    }
    jp++;
    jws();
    while (*jp && *jp != '}') {
        char name[64];
        if (jstr(name, sizeof(name)) < 0) return;
        jws();
        if (*jp == ':') jp++;
        jws();
        long want_len = -1;
        static char hex[1 << 16];
        hex[0] = 0;
        if (*jp == '{') {
            jp++;
            jws();
            while (*jp && *jp != '}') {
                char k[32];
                jstr(k, sizeof(k));
                jws();
                if (*jp == ':') jp++;
                jws();
                if (!strcmp(k, "hex"))
                    jstr(hex, sizeof(hex));
                else if (!strcmp(k, "len")) {
                    want_len = strtol(jp, NULL, 10);
                    jskip();
                } else
                    jskip();
                jws();
                if (*jp == ',') jp++;
                jws();
            }
            if (*jp) jp++;
        } else
            jskip();
        if (s->nf < (int)(sizeof(s->f) / sizeof(s->f[0]))) {
            vfield *f = &s->f[s->nf++];
            snprintf(f->name, sizeof(f->name), "%s", name);
            size_t hl = strlen(hex);
            f->data = malloc(hl / 2 + 1);
            f->len = 0;
            for (size_t i = 0; i + 1 < hl; i += 2) {
                int a = hexval(hex[i]), b = hexval(hex[i + 1]);
                if (a < 0 || b < 0) {
                    jerr = 1;
                    break;
                }
                f->data[f->len++] = (uint8_t)(a << 4 | b);
            }
            if (want_len >= 0 && (size_t)want_len != f->len) {
                fprintf(stderr, "rfc8448.json: field '%s' of '%s' has len %ld but %zu bytes\n",
                        name, s->step, want_len, f->len);
                jerr = 1;
            }
        }
        jws();
        if (*jp == ',') jp++;
        jws();
    }
    if (*jp) jp++;
}

static int load_vectors(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
        fclose(fp);
        free(buf);
        return -1;
    }
    fclose(fp);
    buf[sz] = 0;
    jp = buf;
    jws();
    if (*jp != '[') return -1;
    jp++;
    jws();
    while (*jp && *jp != ']' && !jerr && nsteps < (int)(sizeof(steps) / sizeof(steps[0]))) {
        vstep *s = &steps[nsteps];
        memset(s, 0, sizeof(*s));
        if (*jp != '{') return -1;
        jp++;
        jws();
        while (*jp && *jp != '}' && !jerr) {
            char k[32];
            jstr(k, sizeof(k));
            jws();
            if (*jp == ':') jp++;
            jws();
            if (!strcmp(k, "section")) {
                char sec[160];
                jstr(sec, sizeof(sec));
                s->sec = atoi(sec);
            } else if (!strcmp(k, "actor"))
                jstr(s->actor, sizeof(s->actor));
            else if (!strcmp(k, "step"))
                jstr(s->step, sizeof(s->step));
            else if (!strcmp(k, "fields"))
                jfields(s);
            else
                jskip();
            jws();
            if (*jp == ',') jp++;
            jws();
        }
        if (*jp) jp++;
        nsteps++;
        jws();
        if (*jp == ',') jp++;
        jws();
    }
    free(buf);
    return jerr ? -1 : 0;
}

static const vfield *fld(const vstep *s, const char *name)
{
    for (int i = 0; s && i < s->nf; i++)
        if (!strcmp(s->f[i].name, name)) return &s->f[i];
    return NULL;
}

/* The nth step (0-based) of a section by actor ("" = any) whose step text
 * starts with prefix and that has fields. */
static const vstep *find_step(int sec, const char *actor, const char *prefix, int nth)
{
    for (int i = 0; i < nsteps; i++) {
        const vstep *s = &steps[i];
        if (s->sec != sec || !s->nf || (actor[0] && strcmp(s->actor, actor)) ||
            strncmp(s->step, prefix, strlen(prefix)))
            continue;
        if (nth-- == 0) return s;
    }
    return NULL;
}

static const vfield *V(int sec, const char *actor, const char *prefix, int nth, const char *name)
{
    return fld(find_step(sec, actor, prefix, nth), name);
}

/* ================================================================ helpers */

static void hexdump_line(const char *what, const uint8_t *p, size_t n)
{
    printf("#   %s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 64; i++)
        printf("%02x", p[i]);
    printf("%s\n", n > 64 ? "..." : "");
}

static int same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* One check: got equals the vector field (which must exist). */
static int expect_f(const uint8_t *got, size_t n, const vfield *want, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int expect_f(const uint8_t *got, size_t n, const vfield *want, const char *fmt, ...)
{
    char name[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    int ok = want && same(got, n, want->data, want->len);
    CHECK(ok, "%s", name);
    if (!ok) {
        if (!want)
            printf("#   the vector is missing from rfc8448.json\n");
        else {
            hexdump_line("want", want->data, want->len);
            hexdump_line("got ", got, n);
        }
    }
    return ok;
}

static int expect_b(const uint8_t *got, size_t n, const uint8_t *want, size_t wn, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
static int expect_b(const uint8_t *got, size_t n, const uint8_t *want, size_t wn, const char *fmt,
                    ...)
{
    char name[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    int ok = same(got, n, want, wn);
    CHECK(ok, "%s", name);
    if (!ok) {
        hexdump_line("want", want, wn);
        hexdump_line("got ", got, n);
    }
    return ok;
}

/* HkdfLabel (RFC 8446 7.1) as it goes into HKDF-Expand. */
static size_t hkdf_label(uint8_t *out, size_t outlen, const char *label, const uint8_t *ctx,
                         size_t ctxlen)
{
    size_t l = strlen(label);
    out[0] = (uint8_t)(outlen >> 8);
    out[1] = (uint8_t)outlen;
    out[2] = (uint8_t)(6 + l);
    memcpy(out + 3, "tls13 ", 6);
    memcpy(out + 9, label, l);
    out[9 + l] = (uint8_t)ctxlen;
    if (ctxlen) memcpy(out + 10 + l, ctx, ctxlen);
    return 10 + l + ctxlen;
}

static int suite_params(uint16_t suite, int *hash, int *aead)
{
    switch (suite) {
    case 0x1301:
        *hash = HASP_HASH_SHA256;
        *aead = HASP_AEAD_AES128GCM;
        return 0;
    case 0x1302:
        *hash = HASP_HASH_SHA384;
        *aead = HASP_AEAD_AES256GCM;
        return 0;
    case 0x1303:
        *hash = HASP_HASH_SHA256;
        *aead = HASP_AEAD_CHACHA20POLY1305;
        return 0;
    default:
        return -1;
    }
}

/* TLS 1.3 record protection (5.2) for one record: header || AEAD(payload
 * || type). Returns the record length. */
static size_t seal13(int aead, const uint8_t *key, const uint8_t *iv, uint64_t seq, uint8_t type,
                     const uint8_t *payload, size_t len, uint8_t *out)
{
    uint8_t nonce[12], *inner = malloc(len + 1);
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
    memcpy(inner, payload, len);
    inner[len] = type;
    size_t clen = len + 1 + HASP_AEAD_TAG_LEN;
    out[0] = 0x17;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(clen >> 8);
    out[4] = (uint8_t)clen;
    hasp_aead_ctx *a = hasp_aead_new(aead, 1, key);
    int rc = a ? hasp_aead_seal(a, nonce, out, 5, inner, len + 1, out + 5) : -1;
    hasp_aead_free(a);
    free(inner);
    return rc < 0 ? 0 : 5 + clen;
}

/* Open one protected record; *type gets the inner content type, padding
 * removed. Returns the plaintext length or -1. */
static long open13(int aead, const uint8_t *key, const uint8_t *iv, uint64_t seq,
                   const uint8_t *rec, size_t rlen, uint8_t *out, uint8_t *type)
{
    if (rlen < 5 + HASP_AEAD_TAG_LEN + 1 || rec[0] != 0x17) return -1;
    size_t clen = (size_t)rec[3] << 8 | rec[4];
    if (clen + 5 != rlen) return -1;
    uint8_t nonce[12];
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
    hasp_aead_ctx *a = hasp_aead_new(aead, 0, key);
    int rc = a ? hasp_aead_open(a, nonce, rec, 5, rec + 5, clen, out) : -1;
    hasp_aead_free(a);
    if (rc < 0) return -1;
    long n = (long)(clen - HASP_AEAD_TAG_LEN);
    while (n > 0 && out[n - 1] == 0)
        n--;
    if (n == 0) return -1;
    *type = out[n - 1];
    return n - 1;
}

/* The traffic key and IV of a secret. */
static void traffic_keys(int hash, int aead, const uint8_t *secret, uint8_t *key, uint8_t *iv)
{
    size_t hl = hasp_hash_len(hash);
    hasp_hkdf_expand_label(hash, secret, hl, "key", NULL, 0, key, hasp_aead_key_len(aead));
    hasp_hkdf_expand_label(hash, secret, hl, "iv", NULL, 0, iv, 12);
}

static int derive_secret(int hash, const uint8_t *secret, const char *label, const uint8_t *th,
                         uint8_t *out)
{
    size_t hl = hasp_hash_len(hash);
    return hasp_hkdf_expand_label(hash, secret, hl, label, th, hl, out, hl);
}

static void finished_value(int hash, const uint8_t *base, const uint8_t *th, uint8_t *out)
{
    size_t hl = hasp_hash_len(hash);
    uint8_t fk[HASP_HASH_MAX];
    hasp_hkdf_expand_label(hash, base, hl, "finished", NULL, 0, fk, hl);
    hasp_hmac(hash, fk, hl, th, hl, out);
}

/* CertificateVerify content (4.4.3). */
static size_t cv_content(int server, const uint8_t *th, size_t hl, uint8_t *out)
{
    const char *ctx =
        server ? "TLS 1.3, server CertificateVerify" : "TLS 1.3, client CertificateVerify";
    memset(out, 0x20, 64);
    memcpy(out + 64, ctx, strlen(ctx) + 1);
    memcpy(out + 64 + strlen(ctx) + 1, th, hl);
    return 64 + strlen(ctx) + 1 + hl;
}

/* The leaf certificate of a TLS 1.3 Certificate message (with header). */
static int leaf_of(const uint8_t *msg, size_t len, const uint8_t **der, size_t *dlen)
{
    if (len < 4 + 1 + 3 + 3 || msg[0] != 11) return -1;
    size_t off = 4 + 1 + msg[4] + 3;
    if (off + 3 > len) return -1;
    *dlen = (size_t)msg[off] << 16 | (size_t)msg[off + 1] << 8 | msg[off + 2];
    *der = msg + off + 3;
    return off + 3 + *dlen <= len ? 0 : -1;
}

static hasp_pkey *leaf_key(const uint8_t *cert_msg, size_t len)
{
    const uint8_t *der, *spki;
    size_t dlen, slen;
    if (leaf_of(cert_msg, len, &der, &dlen) < 0 || hasp_x509_spki(der, dlen, &spki, &slen) < 0)
        return NULL;
    return hasp_pkey_from_spki(spki, slen);
}

static uint16_t sh_suite(const uint8_t *sh, size_t len)
{
    if (len < 4 + 2 + 32 + 1) return 0;
    size_t off = 4 + 2 + 32 + 1 + sh[4 + 2 + 32];
    return off + 2 <= len ? (uint16_t)(sh[off] << 8 | sh[off + 1]) : 0;
}

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

static int is_hrr(const uint8_t *msg, size_t len)
{
    return len >= 38 && msg[0] == 2 && !memcmp(msg + 6, hrr_random, 32);
}

/* ================================================================ part A */

#define MAXMSG 16
typedef struct {
    int sec, hash, aead;
    size_t hl;
    /* the handshake messages in transcript order, as sent */
    const uint8_t *msg[MAXMSG];
    size_t mlen[MAXMSG];
    int from_server[MAXMSG];
    int nmsg;
    int i_ch, i_sh, i_sfin, i_cfin, i_eoed; /* indexes (the last ClientHello) */
    uint8_t tr[8192];                       /* transcript bytes (HRR rewrite applied) */
    size_t end[MAXMSG];                     /* end of message i in tr */
    /* secrets */
    uint8_t psk[HASP_HASH_MAX], early[HASP_HASH_MAX], binder_key[HASP_HASH_MAX];
    uint8_t c_e[HASP_HASH_MAX], e_exp[HASP_HASH_MAX];
    uint8_t shared[512];
    size_t shared_len;
    uint8_t derived_hs[HASP_HASH_MAX], hs[HASP_HASH_MAX], c_hs[HASP_HASH_MAX], s_hs[HASP_HASH_MAX];
    uint8_t derived_ms[HASP_HASH_MAX], ms[HASP_HASH_MAX], c_ap[HASP_HASH_MAX], s_ap[HASP_HASH_MAX];
    uint8_t exp[HASP_HASH_MAX], res[HASP_HASH_MAX];
    int zero_rtt;
} trace;

static const char *sec_name(int sec)
{
    switch (sec) {
    case 3:
        return "3 (1-RTT)";
    case 4:
        return "4 (resumed, 0-RTT)";
    case 5:
        return "5 (HRR)";
    case 6:
        return "6 (client auth)";
    case 7:
        return "7 (compat mode)";
    default:
        return "?";
    }
}

/* Transcript-Hash(messages 0..i) */
static void th(const trace *t, int i, uint8_t *out)
{
    hasp_hash(t->hash, t->tr, i < 0 ? 0 : t->end[i], out);
}

static int build_trace(trace *t, int sec)
{
    memset(t, 0, sizeof(*t));
    t->sec = sec;
    t->i_ch = t->i_sh = t->i_sfin = t->i_cfin = t->i_eoed = -1;
    int done = 0;
    for (int i = 0; i < nsteps && !done; i++) {
        const vstep *s = &steps[i];
        if (s->sec != sec || strncmp(s->step, "send handshake record", 21)) continue;
        const vfield *p = fld(s, "payload");
        if (!p) continue;
        size_t off = 0;
        while (off + 4 <= p->len && !done) {
            size_t l = 4 + ((size_t)p->data[off + 1] << 16 | (size_t)p->data[off + 2] << 8 |
                            p->data[off + 3]);
            if (off + l > p->len || t->nmsg >= MAXMSG) return -1;
            int k = t->nmsg++;
            t->msg[k] = p->data + off;
            t->mlen[k] = l;
            t->from_server[k] = !strcmp(s->actor, "server");
            uint8_t type = p->data[off];
            if (type == 1)
                t->i_ch = k;
            else if (type == 2 && !is_hrr(t->msg[k], l))
                t->i_sh = k;
            else if (type == 5)
                t->i_eoed = k;
            else if (type == 20 && t->from_server[k])
                t->i_sfin = k;
            else if (type == 20) {
                t->i_cfin = k;
                done = 1; /* post-handshake messages are not in the transcript */
            }
            off += l;
        }
    }
    if (t->i_ch < 0 || t->i_sh < 0 || t->i_sfin < 0 || t->i_cfin < 0) return -1;
    if (suite_params(sh_suite(t->msg[t->i_sh], t->mlen[t->i_sh]), &t->hash, &t->aead) < 0)
        return -1;
    t->hl = hasp_hash_len(t->hash);
    size_t n = 0;
    for (int k = 0; k < t->nmsg; k++) {
        if (k == 0 && t->nmsg > 1 && is_hrr(t->msg[1], t->mlen[1])) {
            /* 4.4.1: ClientHello1 becomes message_hash */
            t->tr[0] = 254;
            t->tr[1] = 0;
            t->tr[2] = 0;
            t->tr[3] = (uint8_t)t->hl;
            hasp_hash(t->hash, t->msg[0], t->mlen[0], t->tr + 4);
            n = 4 + t->hl;
        } else {
            memcpy(t->tr + n, t->msg[k], t->mlen[k]);
            n += t->mlen[k];
        }
        t->end[k] = n;
    }
    return 0;
}

/* The ephemeral key pairs: the last one each side created. */
static const vstep *last_keypair(int sec, const char *actor)
{
    const vstep *s = NULL;
    for (int n = 0; find_step(sec, actor, "create an ephemeral", n); n++)
        s = find_step(sec, actor, "create an ephemeral", n);
    return s;
}

static uint16_t keypair_group(const vstep *s)
{
    if (strstr(s->step, "x25519")) return HASP_GROUP_X25519;
    if (strstr(s->step, "P-256")) return HASP_GROUP_SECP256R1;
    return 0;
}

static void check_keypairs(trace *t)
{
    const char *sn = sec_name(t->sec);
    /* every key pair in the section: public from private */
    for (int n = 0; n < 4; n++) {
        for (int side = 0; side < 2; side++) {
            const char *actor = side ? "server" : "client";
            const vstep *s = find_step(t->sec, actor, "create an ephemeral", n);
            if (!s) continue;
            uint16_t g = keypair_group(s);
            const vfield *priv = fld(s, "private key"), *pub = fld(s, "public key");
            hasp_kex *k = priv ? hasp_kex_new_from_private(g, priv->data, priv->len) : NULL;
            uint8_t p[200];
            size_t pl = 0;
            if (k) hasp_kex_public(k, p, sizeof(p), &pl);
            expect_f(p, pl, pub, "section %s: %s %s public key from its private key", sn, actor,
                     hasp_group_name(g));
            hasp_kex_free(k);
        }
    }
    const vstep *cs = last_keypair(t->sec, "client"), *ss = last_keypair(t->sec, "server");
    if (!cs || !ss) {
        CHECK(0, "section %s: key pairs present", sn);
        return;
    }
    uint16_t g = keypair_group(ss);
    hasp_kex *ck =
        hasp_kex_new_from_private(g, fld(cs, "private key")->data, fld(cs, "private key")->len);
    hasp_kex *sk =
        hasp_kex_new_from_private(g, fld(ss, "private key")->data, fld(ss, "private key")->len);
    uint8_t s1[512], s2[512];
    size_t l1 = 0, l2 = 0;
    int rc1 = hasp_kex_derive_padded(ck, fld(ss, "public key")->data, fld(ss, "public key")->len,
                                     s1, sizeof(s1), &l1);
    int rc2 = hasp_kex_derive_padded(sk, fld(cs, "public key")->data, fld(cs, "public key")->len,
                                     s2, sizeof(s2), &l2);
    CHECK(rc1 == 0 && rc2 == 0 && same(s1, l1, s2, l2),
          "section %s: %s shared secret is the same from both sides", sn, hasp_group_name(g));
    memcpy(t->shared, s1, l1);
    t->shared_len = l1;
    expect_f(s1, l1, V(t->sec, "server", "extract secret \"handshake\"", 0, "IKM"),
             "section %s: %s shared secret = IKM of the handshake secret", sn, hasp_group_name(g));
    hasp_kex_free(ck);
    hasp_kex_free(sk);
}

/* A "derive secret ..." step: which secret, which transcript, what output. */
static int derive_step_inputs(trace *t, const vstep *s, const uint8_t **prk, uint8_t *hash_ctx,
                              const char **label, uint8_t *mine)
{
    static char lab[64];
    const char *q = strstr(s->step, "\"tls13 ");
    if (!q) return -1;
    q += 7;
    size_t n = 0;
    while (q[n] && q[n] != '"' && n + 1 < sizeof(lab))
        n++;
    memcpy(lab, q, n);
    lab[n] = 0;
    *label = lab;
    const uint8_t *src;
    int idx;
    if (!strcmp(lab, "derived")) {
        int for_master = strstr(s->step, "for master") != NULL;
        src = for_master ? t->hs : t->early;
        hasp_hash(t->hash, (const uint8_t *)"", 0, hash_ctx);
        memcpy(mine, for_master ? t->derived_ms : t->derived_hs, t->hl);
        *prk = src;
        return 0;
    }
    struct {
        const char *l;
        const uint8_t *src;
        int idx;
        const uint8_t *val;
    } map[] = {
        {"c e traffic", t->early, t->i_ch, t->c_e},  {"e exp master", t->early, t->i_ch, t->e_exp},
        {"c hs traffic", t->hs, t->i_sh, t->c_hs},   {"s hs traffic", t->hs, t->i_sh, t->s_hs},
        {"c ap traffic", t->ms, t->i_sfin, t->c_ap}, {"s ap traffic", t->ms, t->i_sfin, t->s_ap},
        {"exp master", t->ms, t->i_sfin, t->exp},    {"res master", t->ms, t->i_cfin, t->res},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i].l, lab)) {
            src = map[i].src;
            idx = map[i].idx;
            th(t, idx, hash_ctx);
            memcpy(mine, map[i].val, t->hl);
            *prk = src;
            return 0;
        }
    return -1;
}

static void check_section(int sec)
{
    const char *sn = sec_name(sec);
    trace tt, *t = &tt;
    if (build_trace(t, sec) < 0) {
        CHECK(0, "section %s: the handshake messages can be read from the records", sn);
        return;
    }
    size_t hl = t->hl;
    uint8_t zeros[HASP_HASH_MAX] = {0}, empty_hash[HASP_HASH_MAX], h[HASP_HASH_MAX];
    hasp_hash(t->hash, (const uint8_t *)"", 0, empty_hash);

    /* the "construct a ... message" steps are the messages the records carry */
    for (int i = 0; i < nsteps; i++) {
        const vstep *s = &steps[i];
        if (s->sec != sec || strncmp(s->step, "construct a", 11) || s->nf != 1) continue;
        const vfield *f = &s->f[0];
        int found = 0;
        for (int k = 0; k < t->nmsg && !found; k++)
            found = t->from_server[k] == !strcmp(s->actor, "server") &&
                    ((t->mlen[k] == f->len) || (sec == 4 && k == t->i_ch)) &&
                    t->mlen[k] >= f->len && !memcmp(t->msg[k], f->data, f->len);
        /* NewSessionTicket: post-handshake, checked with its record below */
        found |= f->len && f->data[0] == 4;
        CHECK(found, "section %s: %s's %s is what its record carries", sn, s->actor, f->name);
    }

    /* ------------------------------------------------ early secret, PSK, binder */
    const uint8_t *ikm = zeros;
    if (sec == 4) {
        const vfield *res3 = V(3, "server", "generate resumption secret", 0, "expanded");
        if (res3) memcpy(t->psk, res3->data, hl);
        ikm = t->psk;
    }
    hasp_hkdf_extract(t->hash, zeros, hl, ikm, hl, t->early);
    {
        const vstep *s = find_step(sec, "", "extract secret \"early\"", 0);
        expect_f(ikm, hl, fld(s, "IKM"), "section %s: early secret IKM (%s)", sn,
                 sec == 4 ? "the resumption PSK of section 3" : "zeros");
        expect_f(t->early, hl, fld(s, "secret"), "section %s: early secret", sn);
    }
    if (sec == 4) {
        const vstep *s = find_step(sec, "client", "calculate PSK binder", 0);
        const vfield *prefix = fld(s, "ClientHello prefix");
        uint8_t fk[HASP_HASH_MAX], binder[HASP_HASH_MAX];
        derive_secret(t->hash, t->early, "res binder", empty_hash, t->binder_key);
        expect_f(t->binder_key, hl, fld(s, "PRK"), "section %s: binder key (\"res binder\")", sn);
        if (prefix) {
            hasp_hash(t->hash, prefix->data, prefix->len, h);
            expect_f(h, hl, fld(s, "binder hash"),
                     "section %s: binder hash = Hash(ClientHello prefix)", sn);
            hasp_hkdf_expand_label(t->hash, t->binder_key, hl, "finished", NULL, 0, fk, hl);
            expect_f(fk, hl, fld(s, "expanded"), "section %s: binder finished key", sn);
            hasp_hmac(t->hash, fk, hl, h, hl, binder);
            expect_f(binder, hl, fld(s, "finished"), "section %s: PSK binder", sn);
            /* the ClientHello sent = prefix || binders<33> = 00 21 20 || binder */
            uint8_t full[2048];
            size_t fl = prefix->len;
            memcpy(full, prefix->data, fl);
            full[fl++] = 0;
            full[fl++] = (uint8_t)(hl + 1);
            full[fl++] = (uint8_t)hl;
            memcpy(full + fl, binder, hl);
            fl += hl;
            expect_b(t->msg[t->i_ch], t->mlen[t->i_ch], full, fl,
                     "section %s: ClientHello = prefix || binders with the computed binder", sn);
        }
        derive_secret(t->hash, t->early, "c e traffic", (th(t, t->i_ch, h), h), t->c_e);
        derive_secret(t->hash, t->early, "e exp master", h, t->e_exp);
        t->zero_rtt = 1;
    }

    /* ------------------------------------------------ (EC)DHE and the handshake secret */
    check_keypairs(t);
    derive_secret(t->hash, t->early, "derived", empty_hash, t->derived_hs);
    hasp_hkdf_extract(t->hash, t->derived_hs, hl, t->shared, t->shared_len, t->hs);
    th(t, t->i_sh, h);
    derive_secret(t->hash, t->hs, "c hs traffic", h, t->c_hs);
    derive_secret(t->hash, t->hs, "s hs traffic", h, t->s_hs);
    derive_secret(t->hash, t->hs, "derived", empty_hash, t->derived_ms);
    hasp_hkdf_extract(t->hash, t->derived_ms, hl, zeros, hl, t->ms);
    th(t, t->i_sfin, h);
    derive_secret(t->hash, t->ms, "c ap traffic", h, t->c_ap);
    derive_secret(t->hash, t->ms, "s ap traffic", h, t->s_ap);
    derive_secret(t->hash, t->ms, "exp master", h, t->exp);
    th(t, t->i_cfin, h);
    derive_secret(t->hash, t->ms, "res master", h, t->res);

    /* extract steps */
    for (int n = 0;; n++) {
        const vstep *s = find_step(sec, "", "extract secret \"handshake\"", n);
        if (!s) break;
        expect_f(t->derived_hs, hl, fld(s, "salt"), "section %s: handshake secret salt", sn);
        expect_f(t->hs, hl, fld(s, "secret"), "section %s: handshake secret", sn);
    }
    for (int n = 0;; n++) {
        const vstep *s = find_step(sec, "", "extract secret \"master\"", n);
        if (!s) break;
        expect_f(t->derived_ms, hl, fld(s, "salt"), "section %s: master secret salt", sn);
        expect_f(zeros, hl, fld(s, "IKM"), "section %s: master secret IKM (zeros)", sn);
        expect_f(t->ms, hl, fld(s, "secret"), "section %s: master secret", sn);
    }

    /* every "derive secret" step: PRK, transcript hash, HkdfLabel, output */
    for (int n = 0;; n++) {
        const vstep *s = find_step(sec, "", "derive secret", n);
        if (!s) break;
        const uint8_t *prk;
        const char *label;
        uint8_t ctx[HASP_HASH_MAX], mine[HASP_HASH_MAX], info[300], out[HASP_HASH_MAX];
        if (derive_step_inputs(t, s, &prk, ctx, &label, mine) < 0) {
            CHECK(0, "section %s: understood step '%s'", sn, s->step);
            continue;
        }
        const vfield *vprk = fld(s, "PRK"), *vh = fld(s, "hash"), *vinfo = fld(s, "info"),
                     *vexp = fld(s, "expanded");
        size_t il = hkdf_label(info, hl, label, ctx, hl);
        int ok = vprk && vh && vinfo && vexp && same(prk, hl, vprk->data, vprk->len) &&
                 same(ctx, hl, vh->data, vh->len) && same(info, il, vinfo->data, vinfo->len);
        /* the seam on the RFC's own inputs, and on ours */
        ok = ok &&
             hasp_hkdf_expand(t->hash, vprk->data, vprk->len, vinfo->data, vinfo->len, out, hl) ==
                 0 &&
             same(out, hl, vexp->data, vexp->len);
        ok = ok && same(mine, hl, vexp->data, vexp->len);
        CHECK(ok, "section %s: %s derive secret \"%s\" (PRK, transcript hash, HkdfLabel, output)",
              sn, s->actor, label);
        if (!ok) {
            if (vprk) hexdump_line("PRK want", vprk->data, vprk->len);
            hexdump_line("PRK got ", prk, hl);
            if (vh) hexdump_line("hash want", vh->data, vh->len);
            hexdump_line("hash got ", ctx, hl);
            if (vexp) hexdump_line("out want", vexp->data, vexp->len);
            hexdump_line("out got ", mine, hl);
        }
    }

    /* traffic keys */
    for (int n = 0;; n++) {
        const vstep *s = find_step(sec, "", "derive ", n);
        if (!s) break;
        if (!strstr(s->step, "traffic keys")) continue;
        int write = strstr(s->step, "write") != NULL;
        int server = !strcmp(s->actor, "server");
        int writer_server = write ? server : !server;
        const uint8_t *sec_;
        const char *which;
        if (strstr(s->step, "early application data"))
            sec_ = t->c_e, which = "client early";
        else if (strstr(s->step, "handshake data"))
            sec_ = writer_server ? t->s_hs : t->c_hs,
            which = writer_server ? "server handshake" : "client handshake";
        else
            sec_ = writer_server ? t->s_ap : t->c_ap,
            which = writer_server ? "server application" : "client application";
        uint8_t key[32], iv[12], info[100];
        size_t kl = hasp_aead_key_len(t->aead);
        traffic_keys(t->hash, t->aead, sec_, key, iv);
        int ok = same(sec_, hl, fld(s, "PRK") ? fld(s, "PRK")->data : NULL,
                      fld(s, "PRK") ? fld(s, "PRK")->len : 0);
        size_t il = hkdf_label(info, kl, "key", NULL, 0);
        ok = ok && fld(s, "key info") &&
             same(info, il, fld(s, "key info")->data, fld(s, "key info")->len);
        il = hkdf_label(info, 12, "iv", NULL, 0);
        ok = ok && fld(s, "iv info") &&
             same(info, il, fld(s, "iv info")->data, fld(s, "iv info")->len);
        ok = ok && fld(s, "key expanded") &&
             same(key, kl, fld(s, "key expanded")->data, fld(s, "key expanded")->len);
        ok = ok && fld(s, "iv expanded") &&
             same(iv, 12, fld(s, "iv expanded")->data, fld(s, "iv expanded")->len);
        CHECK(ok, "section %s: %s %s traffic key and iv (%s)", sn, s->actor,
              write ? "write" : "read", which);
    }

    /* Finished */
    for (int n = 0;; n++) {
        const vstep *s = find_step(sec, "", "calculate finished", n);
        if (!s) break;
        int server = !strcmp(s->actor, "server");
        int idx = server ? t->i_sfin : t->i_cfin;
        const uint8_t *base = server ? t->s_hs : t->c_hs;
        uint8_t fk[HASP_HASH_MAX], vd[HASP_HASH_MAX], info[100];
        hasp_hkdf_expand_label(t->hash, base, hl, "finished", NULL, 0, fk, hl);
        th(t, idx - 1, h);
        hasp_hmac(t->hash, fk, hl, h, hl, vd);
        size_t il = hkdf_label(info, hl, "finished", NULL, 0);
        int ok =
            fld(s, "PRK") && same(base, hl, fld(s, "PRK")->data, fld(s, "PRK")->len) &&
            fld(s, "info") && same(info, il, fld(s, "info")->data, fld(s, "info")->len) &&
            fld(s, "expanded") && same(fk, hl, fld(s, "expanded")->data, fld(s, "expanded")->len) &&
            fld(s, "finished") && same(vd, hl, fld(s, "finished")->data, fld(s, "finished")->len);
        ok = ok && t->mlen[idx] == 4 + hl && !memcmp(t->msg[idx] + 4, vd, hl);
        CHECK(ok, "section %s: %s Finished (finished key, verify_data, message)", sn, s->actor);
    }

    /* resumption secret (section 3 lists it; the ticket nonce is the "hash") */
    for (int n = 0;; n++) {
        const vstep *s = find_step(sec, "", "generate resumption secret", n);
        if (!s) break;
        const vfield *nonce = fld(s, "hash");
        uint8_t out[HASP_HASH_MAX], info[100];
        int ok =
            nonce && fld(s, "PRK") && same(t->res, hl, fld(s, "PRK")->data, fld(s, "PRK")->len);
        if (ok) {
            hasp_hkdf_expand_label(t->hash, t->res, hl, "resumption", nonce->data, nonce->len, out,
                                   hl);
            size_t il = hkdf_label(info, hl, "resumption", nonce->data, nonce->len);
            ok = fld(s, "info") && same(info, il, fld(s, "info")->data, fld(s, "info")->len) &&
                 fld(s, "expanded") &&
                 same(out, hl, fld(s, "expanded")->data, fld(s, "expanded")->len);
        }
        /* the nonce is the NewSessionTicket's ticket_nonce */
        const vfield *nst = V(sec, "server", "construct a NewSessionTicket", 0, "NewSessionTicket");
        if (ok && nst && nst->len > 13) {
            size_t nl = nst->data[12];
            ok = same(nst->data + 13, nl, nonce->data, nonce->len);
        }
        CHECK(ok, "section %s: resumption secret (\"resumption\", ticket nonce)", sn);
    }

    /* CertificateVerify signatures */
    for (int k = 0; k < t->nmsg; k++) {
        if (t->msg[k][0] != 15) continue;
        int j = k - 1;
        while (j >= 0 && !(t->msg[j][0] == 11 && t->from_server[j] == t->from_server[k]))
            j--;
        hasp_pkey *pk = j >= 0 ? leaf_key(t->msg[j], t->mlen[j]) : NULL;
        uint8_t content[300];
        th(t, k - 1, h);
        size_t cl = cv_content(t->from_server[k], h, hl, content);
        uint16_t scheme = (uint16_t)(t->msg[k][4] << 8 | t->msg[k][5]);
        size_t sl = (size_t)t->msg[k][6] << 8 | t->msg[k][7];
        int ok = pk && sl + 8 == t->mlen[k] &&
                 hasp_verify_scheme(pk, scheme, content, cl, t->msg[k] + 8, sl) == 0;
        const hasp_sigscheme *ss = hasp_sigscheme_find(scheme);
        CHECK(ok, "section %s: %s CertificateVerify (%s) verifies with its certificate", sn,
              t->from_server[k] ? "server" : "client", ss ? ss->name : "?");
        hasp_pkey_free(pk);
    }

    /* every record, sealed again with the keys derived here */
    struct {
        int epoch; /* 0 plaintext, 1 early, 2 handshake, 3 application */
        uint64_t seq;
        int fin_sent, eoed_sent;
    } side[2] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    for (int i = 0; i < nsteps; i++) {
        const vstep *s = &steps[i];
        if (s->sec != sec || strncmp(s->step, "send ", 5) || !fld(s, "complete record")) continue;
        const vfield *p = fld(s, "payload"), *rec = fld(s, "complete record");
        int server = !strcmp(s->actor, "server");
        uint8_t type = strstr(s->step, "handshake record")     ? 22
                       : strstr(s->step, "application_data")   ? 23
                       : strstr(s->step, "alert")              ? 21
                       : strstr(s->step, "change_cipher_spec") ? 20
                                                               : 0;
        char what[120];
        snprintf(what, sizeof(what), "%s %s", s->actor, s->step + 5);
        if (!p || !rec || !type) {
            CHECK(0, "section %s: record step '%s' understood", sn, s->step);
            continue;
        }
        if (rec->data[0] != 0x17) {
            int ok = rec->len == p->len + 5 && rec->data[0] == type &&
                     ((size_t)rec->data[3] << 8 | rec->data[4]) == p->len &&
                     !memcmp(rec->data + 5, p->data, p->len);
            CHECK(ok, "section %s: %s (plaintext)", sn, what);
            if (type == 22 && p->data[0] == 1 && !server && t->zero_rtt)
                side[0].epoch = 1, side[0].seq = 0;
            if (type == 22 && p->data[0] == 2 && server && !is_hrr(p->data, p->len))
                side[1].epoch = 2, side[1].seq = 0;
            continue;
        }
        int sd = server;
        int epoch = side[sd].epoch;
        if (!server && epoch <= 1 && (!t->zero_rtt || side[0].eoed_sent)) epoch = 2;
        if (epoch != side[sd].epoch) side[sd].epoch = epoch, side[sd].seq = 0;
        const uint8_t *secret = epoch == 1   ? t->c_e
                                : epoch == 2 ? (server ? t->s_hs : t->c_hs)
                                             : (server ? t->s_ap : t->c_ap);
        uint8_t key[32], iv[12], out[4096];
        traffic_keys(t->hash, t->aead, secret, key, iv);
        size_t ol = seal13(t->aead, key, iv, side[sd].seq, type, p->data, p->len, out);
        uint8_t plain[4096], ptype = 0;
        long pl = open13(t->aead, key, iv, side[sd].seq, rec->data, rec->len, plain, &ptype);
        int ok = same(out, ol, rec->data, rec->len) && pl == (long)p->len && ptype == type &&
                 !memcmp(plain, p->data, p->len);
        CHECK(ok, "section %s: %s (%s keys, seq %llu): seal and open byte for byte", sn, what,
              epoch == 1   ? "early"
              : epoch == 2 ? "handshake"
                           : "application",
              (unsigned long long)side[sd].seq);
        side[sd].seq++;
        /* epoch changes after this record */
        if (type == 22) {
            for (size_t off = 0; off + 4 <= p->len;) {
                uint8_t mt = p->data[off];
                size_t l = 4 + ((size_t)p->data[off + 1] << 16 | (size_t)p->data[off + 2] << 8 |
                                p->data[off + 3]);
                if (mt == 20 && !side[sd].fin_sent) {
                    side[sd].fin_sent = 1;
                    side[sd].epoch = 3;
                    side[sd].seq = 0;
                }
                if (mt == 5 && !server) {
                    side[0].eoed_sent = 1;
                    side[0].epoch = 2;
                    side[0].seq = 0;
                }
                off += l;
            }
        }
    }
}

/* HKDF-Expand-Label with the RFC's label encodings, directly. */
static void check_seam_basics(void)
{
    uint8_t h[HASP_HASH_MAX];
    hasp_hash(HASP_HASH_SHA256, (const uint8_t *)"HelloRetryRequest", 17, h);
    expect_b(h, 32, hrr_random, 32, "HelloRetryRequest random = SHA-256(\"HelloRetryRequest\")");
    const vfield *hrr = V(5, "server", "construct a ServerHello", 0, "ServerHello");
    CHECK(hrr && is_hrr(hrr->data, hrr->len),
          "section 5 (HRR): the first ServerHello carries the HelloRetryRequest random");
}

/* ================================================================ part B: the engine */

/* The RSA key of RFC 8448 section 2, as PKCS#1 RSAPrivateKey PEM. */
static const char *rsa_n =
    "b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1a"
    "f19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef046"
    "1c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f";
static const char *rsa_e = "010001";
static const char *rsa_d =
    "04dea705d43a6ea7209dd8072111a83c81e322a59278b33480641eaf7c0a6985b8e31c44f6de62e1b4c2309f6126e7"
    "7b7c41e923314bbfa3881305dc1217f16c819ce538e922f369828d0e57195d8c8488460207b2faa726bcf708bbd7db"
    "7f679f893492fc2a622e08970aac441ce4e0c3088df25ae679233df8a3bda2ff9941";
static const char *rsa_p =
    "e435fb7cc83737756dacea96ab7f59a2cc1069db7deb190e17e33a532b273f30a327aa0aaabc58cd67466af9845fad"
    "c675fe094af92c4bd1f2c1bc33dd2e0515";
static const char *rsa_q =
    "cabd3bc0e0438664c8d4cc9f99977a94d9bbfead8e43870abae3f7eb8b4e0eee8af1d9b4719ba6196cf2cbbaeeebf8"
    "b3490afe9e9ffa74a88aa51fc645629303";
static const char *rsa_dp =
    "3f57345c27fe1b687e6e761627b78b1b826433dd760fa0bea6a6acf39490aa1b47cda4869d68f584dd5b5029bd3209"
    "3b8258661fe715025e5d70a45a08d3d319";
static const char *rsa_dq =
    "183da01363bd2f2885cacbdc9964bf4764f1517636f86401286f71893c52ccfe40a6c23d0d086b47c6fb10d8fd1041"
    "e04def7e9a40ce957c417794e10412d139";
static const char *rsa_qi =
    "839ca9a085e4286b2c90e466997a2c681f21339aa3477814e4dec11833050ed50dd13cc038048a43c59b2acc416889"
    "c037665fe5afa605969f8c01dfa5ca969d";

static size_t der_len(uint8_t *out, size_t len)
{
    if (len < 128) {
        out[0] = (uint8_t)len;
        return 1;
    }
    if (len < 256) {
        out[0] = 0x81;
        out[1] = (uint8_t)len;
        return 2;
    }
    out[0] = 0x82;
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    return 3;
}

static size_t der_int_hex(uint8_t *out, const char *hex)
{
    uint8_t v[600];
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1];) {
        if (!isxdigit((unsigned char)p[0])) {
            p++;
            continue;
        }
        v[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
        p += 2;
    }
    size_t o = 0;
    out[o++] = 0x02;
    int pad = n && (v[0] & 0x80);
    o += der_len(out + o, n + (size_t)pad);
    if (pad) out[o++] = 0;
    memcpy(out + o, v, n);
    return o + n;
}

static size_t b64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, col = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
        if ((col += 4) == 64) {
            out[o++] = '\n';
            col = 0;
        }
    }
    if (col) out[o++] = '\n';
    out[o] = 0;
    return o;
}

static size_t pem(const char *label, const uint8_t *der, size_t n, char *out)
{
    size_t o = (size_t)sprintf(out, "-----BEGIN %s-----\n", label);
    o += b64(der, n, out + o);
    o += (size_t)sprintf(out + o, "-----END %s-----\n", label);
    return o;
}

static size_t rfc_rsa_key_pem(char *out)
{
    uint8_t body[2048], der[2100];
    size_t b = 0;
    body[b++] = 2, body[b++] = 1, body[b++] = 0; /* version 0 */
    const char *parts[] = {rsa_n, rsa_e, rsa_d, rsa_p, rsa_q, rsa_dp, rsa_dq, rsa_qi};
    for (size_t i = 0; i < 8; i++)
        b += der_int_hex(body + b, parts[i]);
    size_t d = 0;
    der[d++] = 0x30;
    d += der_len(der + d, b);
    memcpy(der + d, body, b);
    d += b;
    return pem("RSA PRIVATE KEY", der, d, out);
}

/* The RFC's server certificate (from section 3's Certificate message) as PEM. */
static size_t rfc_cert_pem(char *out)
{
    const vfield *cm = V(3, "server", "construct a Certificate", 0, "Certificate");
    const uint8_t *der;
    size_t dlen;
    if (!cm || leaf_of(cm->data, cm->len, &der, &dlen) < 0) return 0;
    return pem("CERTIFICATE", der, dlen, out);
}

/* The injected RNG: hands out the queued values in order; a request of
 * another size than queued is an error the test reports. */
typedef struct {
    const uint8_t *val[4];
    size_t len[4];
    int n, next;
    int mismatch;
    size_t calls;
} rng_queue;

static int test_rng(void *arg, uint8_t *out, size_t len)
{
    rng_queue *q = arg;
    q->calls++;
    if (q->next >= q->n || q->len[q->next] != len) {
        q->mismatch = 1;
        memset(out, 0x5a, len);
        return 0;
    }
    memcpy(out, q->val[q->next++], len);
    return 0;
}

/* The key log file of this run. */
static char keylog_path[256];

static void keylog_reset(void)
{
    unlink(keylog_path);
}

/* The secret logged under label (for this client random); 0 if absent. */
static size_t keylog_get(const char *label, const uint8_t *client_random, uint8_t *out)
{
    FILE *fp = fopen(keylog_path, "r");
    if (!fp) return 0;
    char line[512], cr[65];
    for (int i = 0; i < 32; i++)
        sprintf(cr + 2 * i, "%02x", client_random[i]);
    size_t n = 0;
    while (fgets(line, sizeof(line), fp)) {
        char lab[64], r[80], sec[200];
        if (sscanf(line, "%63s %79s %199s", lab, r, sec) != 3 || strcmp(lab, label) ||
            strcmp(r, cr))
            continue;
        n = test_unhex(sec, out, HASP_HASH_MAX);
    }
    fclose(fp);
    return n;
}

/* Split engine output into records. */
typedef struct {
    const uint8_t *p;
    size_t len; /* whole record */
} rec_t;

static int split_records(const uint8_t *buf, size_t n, rec_t *recs, int cap)
{
    int k = 0;
    size_t off = 0;
    while (off + 5 <= n && k < cap) {
        size_t l = 5 + ((size_t)buf[off + 3] << 8 | buf[off + 4]);
        if (off + l > n) break;
        recs[k].p = buf + off;
        recs[k].len = l;
        k++;
        off += l;
    }
    return k;
}

static size_t drain(hasp_conn *c, uint8_t *buf, size_t cap)
{
    const uint8_t *p;
    size_t n, total = 0;
    while ((n = hasp_conn_output(c, &p)) > 0 && total + n <= cap) {
        memcpy(buf + total, p, n);
        total += n;
        hasp_conn_output_done(c, n);
    }
    return total;
}

static int feed(hasp_conn *c, const uint8_t *p, size_t n)
{
    while (n) {
        int t = hasp_conn_input(c, p, n);
        if (t <= 0) return -1;
        p += t;
        n -= (size_t)t;
    }
    return 0;
}

/* Compare two ServerHellos field by field, extensions as a set. */
static int sh_equivalent(const uint8_t *a, size_t al, const uint8_t *b, size_t bl, char *why,
                         size_t wcap)
{
    size_t sida = 4 + 2 + 32, sidb = sida;
    if (al < sida + 1 || bl < sidb + 1) {
        snprintf(why, wcap, "too short");
        return 0;
    }
    size_t ha = sida + 1 + a[sida] + 3, hb = sidb + 1 + b[sidb] + 3;
    if (ha != hb || memcmp(a + 4, b + 4, ha - 4)) {
        snprintf(why, wcap, "version, random, session ID, suite or compression differ");
        return 0;
    }
    /* extensions: each of a found verbatim in b, same total length */
    size_t ea = ha + 2, eb = hb + 2;
    if (al - ea != bl - eb) {
        snprintf(why, wcap, "extension blocks differ in length (%zu vs %zu)", al - ea, bl - eb);
        return 0;
    }
    for (size_t off = ea; off + 4 <= al;) {
        size_t l = 4 + ((size_t)a[off + 2] << 8 | a[off + 3]);
        int found = 0;
        for (size_t o2 = eb; o2 + 4 <= bl && !found;) {
            size_t l2 = 4 + ((size_t)b[o2 + 2] << 8 | b[o2 + 3]);
            found = l2 == l && !memcmp(a + off, b + o2, l);
            o2 += l2;
        }
        if (!found) {
            snprintf(why, wcap, "extension 0x%02x%02x differs", a[off], a[off + 1]);
            return 0;
        }
        off += l;
    }
    return 1;
}

static void ext_order(const uint8_t *sh, size_t len, char *out, size_t cap)
{
    size_t off = 4 + 2 + 32 + 1 + sh[38] + 3 + 2;
    out[0] = 0;
    while (off + 4 <= len) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s0x%02x%02x", n ? "," : "", sh[off], sh[off + 1]);
        off += 4 + ((size_t)sh[off + 2] << 8 | sh[off + 3]);
    }
}

/* The handshake secret and master secret of a section (transcript-free). */
static int rfc_hs_ms(int sec, uint8_t *hs, uint8_t *ms)
{
    const vfield *a = V(sec, "server", "extract secret \"handshake\"", 0, "secret");
    const vfield *b = V(sec, "server", "extract secret \"master\"", 0, "secret");
    if (!a || !b) return -1;
    memcpy(hs, a->data, a->len);
    memcpy(ms, b->data, b->len);
    return 0;
}

/* Expected traffic secrets from the RFC's handshake/master secrets and a
 * transcript. */
static void expect_secret(const uint8_t *base, const char *label, const uint8_t *tr, size_t trlen,
                          uint8_t *out)
{
    uint8_t h[32];
    hasp_hash(HASP_HASH_SHA256, tr, trlen, h);
    derive_secret(HASP_HASH_SHA256, base, label, h, out);
}

static void check_logged(const char *what, const char *label, const uint8_t *cr,
                         const uint8_t *want)
{
    uint8_t got[HASP_HASH_MAX];
    size_t n = keylog_get(label, cr, got);
    int ok = n == 32 && !memcmp(got, want, 32);
    CHECK(ok, "%s: key log %s = the secret derived from the RFC's key schedule and this transcript",
          what, label);
    if (!ok) {
        hexdump_line("want", want, 32);
        hexdump_line("got ", got, n);
    }
}

/* Read the handshake messages out of a decrypted server flight. */
typedef struct {
    uint8_t buf[8192];
    size_t len;
} bytes;

static void engine_server(int sec)
{
    char W[64];
    snprintf(W, sizeof(W), "engine server, section %s", sec_name(sec));
    char cert_pem[4096], key_pem[4096];
    size_t cl = rfc_cert_pem(cert_pem), kl = rfc_rsa_key_pem(key_pem);
    hasp_pkey *k = hasp_pkey_from_private_pem((const uint8_t *)key_pem, kl);
    CHECK(k && hasp_pkey_bits(k) == 1024, "RFC 8448 section 2 RSA key rebuilt as PEM (1024 bits)");
    hasp_pkey_free(k);

    const vfield *ch_rec = V(sec, "client", "send handshake record", 0, "complete record");
    const vfield *ch = V(sec, "client", "construct a ClientHello", 0, "ClientHello");
    const vfield *sh_rfc = V(sec, "server", "construct a ServerHello", 0, "ServerHello");
    const vfield *spriv = V(sec, "server", "create an ephemeral x25519", 0, "private key");
    const vfield *cert_msg = V(sec, "server", "construct a Certificate", 0, "Certificate");
    const vfield *app_c = V(3, "client", "send application_data record", 0, "payload");
    const vfield *app_s = V(3, "server", "send application_data record", 0, "payload");
    const vfield *cfin_rec = V(sec, "client", "send handshake record", 1, "complete record");
    const vfield *cfin_payload = V(sec, "client", "send handshake record", 1, "payload");
    if (!ch_rec || !ch || !sh_rfc || !spriv || !cert_msg || !app_c || !app_s || !cfin_rec || !cl) {
        CHECK(0, "%s: vectors present", W);
        return;
    }
    const uint8_t *client_random = ch->data + 6;
    rng_queue q = {{sh_rfc->data + 6}, {32}, 1, 0, 0, 0};
    hasp_config *cfg = hasp_config_new();
    int rc = hasp_config_add_cert_key_mem(cfg, (const uint8_t *)cert_pem, cl,
                                          (const uint8_t *)key_pem, kl);
    CHECK(rc == 0, "%s: the RFC's certificate and RSA key load (%s)", W,
          rc ? hasp_config_errmsg(cfg) : "ok");
    hasp_config_set_ciphersuites13(cfg, "TLS_AES_128_GCM_SHA256");
    hasp_config_set_rng_for_testing(cfg, test_rng, &q);
    hasp_config_set_kex_private_for_testing(cfg, HASP_GROUP_X25519, spriv->data, spriv->len);
    hasp_config_allow_keylog(cfg);
    keylog_reset();
    hasp_conn *sv = hasp_conn_new(cfg, HASP_SERVER);
    feed(sv, ch_rec->data, ch_rec->len);
    rc = hasp_conn_handshake(sv);
    CHECK(rc == HASP_WANT_POLLIN, "%s: the RFC's ClientHello is accepted (%s)", W,
          rc == HASP_WANT_POLLIN ? "waiting for the client's Finished" : hasp_conn_errmsg(sv));
    CHECK(!q.mismatch && q.next == 1,
          "%s: the engine drew exactly one 32-byte random (server_random)", W);
    static uint8_t out[16384];
    size_t on = drain(sv, out, sizeof(out));
    rec_t recs[16];
    int nr = split_records(out, on, recs, 16);
    if (nr < 2 || recs[0].p[0] != 22) {
        CHECK(0, "%s: ServerHello record and encrypted flight sent (%d records)", W, nr);
        goto done;
    }
    const uint8_t *sh = recs[0].p + 5;
    size_t shl = recs[0].len - 5;
    char why[200] = "", o1[100], o2[100];
    int exact = same(sh, shl, sh_rfc->data, sh_rfc->len);
    ext_order(sh, shl, o1, sizeof(o1));
    ext_order(sh_rfc->data, sh_rfc->len, o2, sizeof(o2));
    CHECK(sh_equivalent(sh, shl, sh_rfc->data, sh_rfc->len, why, sizeof(why)),
          "%s: ServerHello has the RFC's random, suite, key share and version (%s)", W,
          why[0] ? why : "extensions compared as a set");
    CHECK(exact,
          "%s: ServerHello equals the RFC's byte for byte (extension order: hasp %s, RFC %s)", W,
          o1, o2);
    if (!exact) {
        hexdump_line("RFC ", sh_rfc->data, sh_rfc->len);
        hexdump_line("hasp", sh, shl);
    }
    /* compatibility mode (D.4) when the client sent a session ID, as in section 7 */
    const vfield *ccs_s = V(sec, "server", "send change_cipher_spec record", 0, "complete record");
    const vfield *ccs_c = V(sec, "client", "send change_cipher_spec record", 0, "complete record");
    int first_enc = 1;
    if (ccs_s) {
        CHECK(nr >= 3 && same(recs[1].p, recs[1].len, ccs_s->data, ccs_s->len),
              "%s: a ChangeCipherSpec follows the ServerHello, equal to the RFC's", W);
        first_enc = 2;
    } else
        CHECK(nr >= 2 && recs[1].p[0] == 0x17,
              "%s: no ChangeCipherSpec (the RFC's client sent no session ID)", W);

    /* handshake secrets: RFC handshake secret + the transcript CH || SH(hasp) */
    uint8_t hs[32], ms[32];
    rfc_hs_ms(sec, hs, ms);
    bytes tr = {{0}, 0};
    memcpy(tr.buf, ch->data, ch->len);
    tr.len = ch->len;
    memcpy(tr.buf + tr.len, sh, shl);
    tr.len += shl;
    uint8_t c_hs[32], s_hs[32];
    expect_secret(hs, "c hs traffic", tr.buf, tr.len, c_hs);
    expect_secret(hs, "s hs traffic", tr.buf, tr.len, s_hs);
    check_logged(W, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_random, c_hs);
    check_logged(W, "SERVER_HANDSHAKE_TRAFFIC_SECRET", client_random, s_hs);
    if (exact) {
        /* then the engine's secrets are the RFC's, and so are the client's
         * records: the RFC's client Finished record opens with them */
        uint8_t logged[HASP_HASH_MAX], key[16], iv[12], plain[256], type;
        keylog_get("CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_random, logged);
        traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, logged, key, iv);
        long pl =
            open13(HASP_AEAD_AES128GCM, key, iv, 0, cfin_rec->data, cfin_rec->len, plain, &type);
        CHECK(pl == (long)cfin_payload->len &&
                  !memcmp(plain, cfin_payload->data, cfin_payload->len),
              "%s: the RFC's client Finished record opens with the engine's logged key", W);
    } else
        printf("ok - %s: the RFC's client Finished record opens with the engine's key # SKIP the "
               "ServerHello differs, so the engine's keys differ from the RFC's\n",
               W),
            test_passed++;

    /* the encrypted flight: EE, Certificate, CertificateVerify, Finished */
    uint8_t key[16], iv[12];
    traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, s_hs, key, iv);
    bytes flight = {{0}, 0};
    int r = first_enc, bad = 0;
    for (uint64_t seq = 0; r < nr; r++, seq++) {
        uint8_t type;
        long pl = open13(HASP_AEAD_AES128GCM, key, iv, seq, recs[r].p, recs[r].len,
                         flight.buf + flight.len, &type);
        if (pl < 0 || type != 22) {
            bad = 1;
            break;
        }
        flight.len += (size_t)pl;
    }
    CHECK(!bad && flight.len > 0,
          "%s: the server's encrypted flight opens with the expected "
          "server handshake traffic key",
          W);
    const uint8_t *m[8];
    size_t ml[8];
    int nm = 0;
    for (size_t off = 0; off + 4 <= flight.len && nm < 8;) {
        size_t l = 4 + ((size_t)flight.buf[off + 1] << 16 | (size_t)flight.buf[off + 2] << 8 |
                        flight.buf[off + 3]);
        m[nm] = flight.buf + off;
        ml[nm++] = l;
        off += l;
    }
    int shape = nm == 4 && m[0][0] == 8 && m[1][0] == 11 && m[2][0] == 15 && m[3][0] == 20;
    CHECK(shape, "%s: the flight is EncryptedExtensions, Certificate, CertificateVerify, Finished",
          W);
    if (!shape) goto done;
    expect_b(m[1], ml[1], cert_msg->data, cert_msg->len,
             "%s: Certificate equals the RFC's byte for byte", W);
    /* transcript through Certificate, CertificateVerify */
    for (int i = 0; i < 4; i++) {
        if (i == 2) {
            uint8_t h[32], content[300];
            hasp_hash(HASP_HASH_SHA256, tr.buf, tr.len, h);
            size_t cvl = cv_content(1, h, 32, content);
            hasp_pkey *pk = leaf_key(cert_msg->data, cert_msg->len);
            uint16_t scheme = (uint16_t)(m[2][4] << 8 | m[2][5]);
            size_t sl = (size_t)m[2][6] << 8 | m[2][7];
            CHECK(pk && scheme == HASP_SIG_RSA_PSS_RSAE_SHA256 && sl + 8 == ml[2] &&
                      hasp_verify_scheme(pk, scheme, content, cvl, m[2] + 8, sl) == 0,
                  "%s: CertificateVerify is rsa_pss_rsae_sha256 (as the RFC's) and verifies", W);
            hasp_pkey_free(pk);
        }
        if (i == 3) {
            uint8_t h[32], vd[32];
            hasp_hash(HASP_HASH_SHA256, tr.buf, tr.len, h);
            finished_value(HASP_HASH_SHA256, s_hs, h, vd);
            expect_b(m[3] + 4, ml[3] - 4, vd, 32, "%s: server Finished verifies", W);
        }
        memcpy(tr.buf + tr.len, m[i], ml[i]);
        tr.len += ml[i];
    }
    uint8_t c_ap[32], s_ap[32], exp[32], cfin[36];
    expect_secret(ms, "c ap traffic", tr.buf, tr.len, c_ap);
    expect_secret(ms, "s ap traffic", tr.buf, tr.len, s_ap);
    expect_secret(ms, "exp master", tr.buf, tr.len, exp);
    check_logged(W, "CLIENT_TRAFFIC_SECRET_0", client_random, c_ap);
    check_logged(W, "SERVER_TRAFFIC_SECRET_0", client_random, s_ap);
    check_logged(W, "EXPORTER_SECRET", client_random, exp);

    /* play the client: Finished, then the RFC's application data */
    {
        uint8_t h[32], rec[256], ck[16], civ[12];
        hasp_hash(HASP_HASH_SHA256, tr.buf, tr.len, h);
        cfin[0] = 20, cfin[1] = 0, cfin[2] = 0, cfin[3] = 32;
        finished_value(HASP_HASH_SHA256, c_hs, h, cfin + 4);
        traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, c_hs, ck, civ);
        size_t rl = seal13(HASP_AEAD_AES128GCM, ck, civ, 0, 22, cfin, 36, rec);
        if (ccs_c) feed(sv, ccs_c->data, ccs_c->len); /* the RFC client's compatibility CCS */
        feed(sv, rec, rl);
        rc = hasp_conn_handshake(sv);
        CHECK(rc == 0, "%s: the engine accepts a client Finished made with the expected keys (%s)",
              W, rc == 0 ? "handshake complete" : hasp_conn_errmsg(sv));
        traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, c_ap, ck, civ);
        rl = seal13(HASP_AEAD_AES128GCM, ck, civ, 0, 23, app_c->data, app_c->len, rec);
        feed(sv, rec, rl);
        uint8_t got[256];
        int n = hasp_conn_read(sv, got, sizeof(got));
        CHECK(n == (int)app_c->len && !memcmp(got, app_c->data, app_c->len),
              "%s: the RFC's client application data (50 bytes) reads back under the client "
              "application key",
              W);
        /* the server's answer, under the server application key (after any
         * NewSessionTicket) */
        drain(sv, out, sizeof(out)); /* session tickets, if any */
        hasp_conn_write(sv, app_s->data, app_s->len);
        on = drain(sv, out, sizeof(out));
        nr = split_records(out, on, recs, 16);
        traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, s_ap, ck, civ);
        int found = 0;
        for (uint64_t seq = 0; seq < 8 && !found && nr > 0; seq++) {
            uint8_t type, plain[256];
            long pl = open13(HASP_AEAD_AES128GCM, ck, civ, seq, recs[nr - 1].p, recs[nr - 1].len,
                             plain, &type);
            found = pl == (long)app_s->len && type == 23 && !memcmp(plain, app_s->data, pl);
        }
        CHECK(found,
              "%s: the engine's application data opens with the expected server "
              "application key",
              W);
    }
done:
    hasp_conn_free(sv);
    hasp_config_free(cfg);
}

/* Section 4: the RFC's resumed ClientHello, with 0-RTT data, fed to a hasp
 * server that resolves the RFC's ticket to the section 3 session through the
 * config's test hook (the ticket is the RFC server's: hasp cannot open it). */
static hasp_session *s4_session;
static const uint8_t *s4_ticket;
static size_t s4_ticket_len;
static int64_t s4_clock;

static hasp_session *s4_lookup(void *arg, const uint8_t *id, size_t len)
{
    (void)arg;
    if (len != s4_ticket_len || memcmp(id, s4_ticket, len)) return NULL;
    return session_dup(s4_session);
}

static int64_t s4_now(void *arg)
{
    (void)arg;
    return s4_clock;
}

static void engine_server_section4(void)
{
    const char *W = "engine server, section 4 (resumed, 0-RTT)";
    const vfield *nst = V(3, "server", "construct a NewSessionTicket", 0, "NewSessionTicket");
    const vfield *psk = V(4, "client", "extract secret \"early\"", 0, "IKM");
    const vfield *ch_rec = V(4, "client", "send handshake record", 0, "complete record");
    const vfield *ch = V(4, "client", "construct a ClientHello", 0, "ClientHello");
    const vfield *early_rec = V(4, "client", "send application_data record", 0, "complete record");
    const vfield *early_pl = V(4, "client", "send application_data record", 0, "payload");
    const vfield *cets = V(4, "client", "derive secret \"tls13 c e traffic\"", 0, "expanded");
    const vfield *sh_rfc = V(4, "server", "construct a ServerHello", 0, "ServerHello");
    const vfield *spriv = V(4, "server", "create an ephemeral x25519", 0, "private key");
    /* the client's records of section 4: ClientHello, EndOfEarlyData, Finished */
    const vfield *eoed = V(4, "client", "send handshake record", 1, "complete record");
    const vfield *app_c = V(4, "client", "send application_data record", 1, "payload");
    if (!nst || !psk || !ch_rec || !ch || !early_rec || !early_pl || !cets || !sh_rfc || !spriv ||
        !eoed || !app_c || nst->len < 20) {
        CHECK(0, "%s: vectors present", W);
        return;
    }
    /* NewSessionTicket: lifetime(4) age_add(4) nonce<1> ticket<2> extensions<2> */
    const uint8_t *b = nst->data + 4;
    uint32_t lifetime = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    uint32_t age_add = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    size_t nonce_len = b[8];
    s4_ticket = b + 9 + nonce_len + 2;
    s4_ticket_len = (size_t)b[9 + nonce_len] << 8 | b[10 + nonce_len];
    /* the client's obfuscated age: right after the identity in its pre_shared_key */
    const uint8_t *at = NULL;
    for (size_t i = 0; i + s4_ticket_len + 4 <= ch->len && !at; i++)
        if (!memcmp(ch->data + i, s4_ticket, s4_ticket_len)) at = ch->data + i + s4_ticket_len;
    CHECK(at != NULL, "%s: the ClientHello offers the section 3 ticket", W);
    if (!at) return;
    uint32_t obf = (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
    uint32_t age_ms = obf - age_add;
    CHECK(age_ms < lifetime * 1000u, "%s: the ticket's age (%u ms) is within its lifetime", W,
          age_ms);

    s4_session = session_new();
    s4_session->version = HASP_TLS1_3;
    s4_session->suite = 0x1301;
    s4_session->lifetime = lifetime;
    s4_session->age_add = age_add;
    memcpy(s4_session->secret, psk->data, psk->len);
    s4_session->secret_len = psk->len;
    snprintf(s4_session->sni, sizeof(s4_session->sni), "server");
    s4_session->max_early_data = 1024; /* the RFC ticket's early_data extension */
    s4_session->resumable = 1;

    rng_queue q = {{sh_rfc->data + 6}, {32}, 1, 0, 0, 0};
    hasp_config *cfg = hasp_config_new();
    hasp_config_set_ciphersuites13(cfg, "TLS_AES_128_GCM_SHA256");
    hasp_config_set_rng_for_testing(cfg, test_rng, &q);
    hasp_config_set_kex_private_for_testing(cfg, HASP_GROUP_X25519, spriv->data, spriv->len);
    hasp_config_allow_keylog(cfg);
    hasp_config_set_time_cb(cfg, s4_now, NULL);
    /* the ticket was issued when early data was on, and is age_ms old now */
    s4_clock = 1600000000;
    hasp_config_set_early_data(cfg, 1024);
    s4_session->created = s4_clock;
    s4_clock += (age_ms + 500) / 1000;
    cfg->test_psk_lookup = s4_lookup;
    keylog_reset();
    const uint8_t *client_random = ch->data + 6;

    hasp_conn *sv = hasp_conn_new(cfg, HASP_SERVER);
    feed(sv, ch_rec->data, ch_rec->len);
    feed(sv, early_rec->data, early_rec->len);
    uint8_t got[256];
    int n = hasp_conn_read_early(sv, got, sizeof(got));
    CHECK(hasp_conn_early_data(sv) == HASP_EARLY_ACCEPTED, "%s: early data accepted (%s)", W,
          hasp_conn_early_data(sv) == HASP_EARLY_ACCEPTED ? "yes"
                                                          : hasp_conn_early_data_reason(sv));
    CHECK(n == (int)early_pl->len && !memcmp(got, early_pl->data, early_pl->len),
          "%s: the RFC's early data record reads back with hasp_conn_read_early (%d bytes)", W, n);
    check_logged(W, "CLIENT_EARLY_TRAFFIC_SECRET", client_random, cets->data);
    static uint8_t out[16384];
    size_t on = drain(sv, out, sizeof(out));
    rec_t recs[8];
    int nr = split_records(out, on, recs, 8);
    if (nr < 2 || recs[0].p[0] != 22) {
        CHECK(0, "%s: ServerHello record and encrypted flight sent (%d records)", W, nr);
        goto done;
    }
    const uint8_t *sh = recs[0].p + 5;
    size_t shl = recs[0].len - 5;
    int exact = same(sh, shl, sh_rfc->data, sh_rfc->len);
    CHECK(exact,
          "%s: ServerHello (pre_shared_key, key_share, supported_versions) equals the "
          "RFC's byte for byte",
          W);
    if (!exact) {
        hexdump_line("RFC ", sh_rfc->data, sh_rfc->len);
        hexdump_line("hasp", sh, shl);
    }
    uint8_t hs[32], ms[32];
    rfc_hs_ms(4, hs, ms);
    bytes tr = {{0}, 0};
    /* the whole ClientHello, binders included, as its record carries it */
    memcpy(tr.buf, ch_rec->data + 5, ch_rec->len - 5);
    tr.len = ch_rec->len - 5;
    memcpy(tr.buf + tr.len, sh, shl);
    tr.len += shl;
    uint8_t c_hs[32], s_hs[32];
    expect_secret(hs, "c hs traffic", tr.buf, tr.len, c_hs);
    expect_secret(hs, "s hs traffic", tr.buf, tr.len, s_hs);
    check_logged(W, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_random, c_hs);
    check_logged(W, "SERVER_HANDSHAKE_TRAFFIC_SECRET", client_random, s_hs);
    /* EncryptedExtensions (with early_data) and Finished: no certificate */
    uint8_t key[16], iv[12];
    traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, s_hs, key, iv);
    bytes flight = {{0}, 0};
    int bad = 0;
    for (int r = 1; r < nr; r++) {
        uint8_t type;
        long pl = open13(HASP_AEAD_AES128GCM, key, iv, (uint64_t)(r - 1), recs[r].p, recs[r].len,
                         flight.buf + flight.len, &type);
        if (pl < 0 || type != 22) {
            bad = 1;
            break;
        }
        flight.len += (size_t)pl;
    }
    const uint8_t *m[4];
    size_t ml[4];
    int nm = 0;
    for (size_t off = 0; !bad && off + 4 <= flight.len && nm < 4;) {
        size_t l = 4 + ((size_t)flight.buf[off + 1] << 16 | (size_t)flight.buf[off + 2] << 8 |
                        flight.buf[off + 3]);
        m[nm] = flight.buf + off;
        ml[nm++] = l;
        off += l;
    }
    int shape = !bad && nm == 2 && m[0][0] == 8 && m[1][0] == 20;
    CHECK(shape,
          "%s: the server's flight is EncryptedExtensions and Finished (PSK: no certificate)", W);
    if (!shape) goto done;
    int has_early = 0;
    for (size_t i = 6; i + 4 <= ml[0]; i++)
        has_early |= m[0][i] == 0 && m[0][i + 1] == 42 && m[0][i + 2] == 0 && m[0][i + 3] == 0;
    CHECK(has_early, "%s: EncryptedExtensions carries early_data", W);
    memcpy(tr.buf + tr.len, m[0], ml[0]);
    tr.len += ml[0];
    {
        uint8_t h[32], vd[32];
        hasp_hash(HASP_HASH_SHA256, tr.buf, tr.len, h);
        finished_value(HASP_HASH_SHA256, s_hs, h, vd);
        expect_b(m[1] + 4, ml[1] - 4, vd, 32, "%s: server Finished verifies", W);
    }
    memcpy(tr.buf + tr.len, m[1], ml[1]);
    tr.len += ml[1];
    uint8_t c_ap[32], s_ap[32];
    expect_secret(ms, "c ap traffic", tr.buf, tr.len, c_ap);
    expect_secret(ms, "s ap traffic", tr.buf, tr.len, s_ap);
    check_logged(W, "CLIENT_TRAFFIC_SECRET_0", client_random, c_ap);
    check_logged(W, "SERVER_TRAFFIC_SECRET_0", client_random, s_ap);
    /* the RFC's EndOfEarlyData record (early key, sequence 1), then a Finished we make */
    feed(sv, eoed->data, eoed->len);
    int rc = hasp_conn_handshake(sv);
    CHECK(rc == HASP_WANT_POLLIN, "%s: the RFC's EndOfEarlyData record is taken (%s)", W,
          rc == HASP_WANT_POLLIN ? "waiting for Finished" : hasp_conn_errmsg(sv));
    static const uint8_t eoed_msg[4] = {5, 0, 0, 0};
    memcpy(tr.buf + tr.len, eoed_msg, 4);
    tr.len += 4;
    {
        uint8_t h[32], cfin[36], rec[128], ck[16], civ[12];
        hasp_hash(HASP_HASH_SHA256, tr.buf, tr.len, h);
        cfin[0] = 20, cfin[1] = 0, cfin[2] = 0, cfin[3] = 32;
        finished_value(HASP_HASH_SHA256, c_hs, h, cfin + 4);
        traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, c_hs, ck, civ);
        size_t rl = seal13(HASP_AEAD_AES128GCM, ck, civ, 0, 22, cfin, 36, rec);
        feed(sv, rec, rl);
        rc = hasp_conn_handshake(sv);
        CHECK(rc == 0 && hasp_conn_resumed(sv),
              "%s: the engine completes the resumed handshake after EndOfEarlyData (%s)", W,
              rc == 0 ? "handshake complete" : hasp_conn_errmsg(sv));
        traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, c_ap, ck, civ);
        rl = seal13(HASP_AEAD_AES128GCM, ck, civ, 0, 23, app_c->data, app_c->len, rec);
        feed(sv, rec, rl);
        n = hasp_conn_read(sv, got, sizeof(got));
        CHECK(n == (int)app_c->len && !memcmp(got, app_c->data, app_c->len),
              "%s: the RFC's client application data reads back under the client application "
              "key",
              W);
    }
done:
    hasp_conn_free(sv);
    hasp_config_free(cfg);
    hasp_session_free(s4_session);
}

static void engine_server_section5(void)
{
    const char *W = "engine server, section 5 (HRR)";
    char cert_pem[4096], key_pem[4096];
    size_t cl = rfc_cert_pem(cert_pem), kl = rfc_rsa_key_pem(key_pem);
    const vfield *ch1_rec = V(5, "client", "send handshake record", 0, "complete record");
    const vfield *ch1 = V(5, "client", "construct a ClientHello", 0, "ClientHello");
    const vfield *ch2_rec = V(5, "client", "send handshake record", 1, "complete record");
    const vfield *ch2 = V(5, "client", "construct a ClientHello", 1, "ClientHello");
    const vfield *hrr_rfc = V(5, "server", "construct a ServerHello", 0, "ServerHello");
    const vfield *sh_rfc = V(5, "server", "construct a ServerHello", 1, "ServerHello");
    const vfield *spriv = V(5, "server", "create an ephemeral P-256", 0, "private key");
    if (!ch1_rec || !ch2_rec || !ch1 || !ch2 || !hrr_rfc || !sh_rfc || !spriv) {
        CHECK(0, "%s: vectors present", W);
        return;
    }
    const uint8_t *client_random = ch1->data + 6;
    rng_queue q = {{sh_rfc->data + 6}, {32}, 1, 0, 0, 0};
    hasp_config *cfg = hasp_config_new();
    hasp_config_add_cert_key_mem(cfg, (const uint8_t *)cert_pem, cl, (const uint8_t *)key_pem, kl);
    hasp_config_set_ciphersuites13(cfg, "TLS_AES_128_GCM_SHA256");
    /* the RFC server does not take the client's x25519 share: P-256 only */
    hasp_config_set_groups(cfg, "P-256");
    hasp_config_set_rng_for_testing(cfg, test_rng, &q);
    hasp_config_set_kex_private_for_testing(cfg, HASP_GROUP_SECP256R1, spriv->data, spriv->len);
    hasp_config_allow_keylog(cfg);
    keylog_reset();
    hasp_conn *sv = hasp_conn_new(cfg, HASP_SERVER);
    feed(sv, ch1_rec->data, ch1_rec->len);
    int rc = hasp_conn_handshake(sv);
    static uint8_t out[16384];
    size_t on = drain(sv, out, sizeof(out));
    rec_t recs[16];
    int nr = split_records(out, on, recs, 16);
    static uint8_t hrr_buf[1024]; /* out is reused below */
    size_t hrrl = nr >= 1 && recs[0].len - 5 <= sizeof(hrr_buf) ? recs[0].len - 5 : 0;
    const uint8_t *hrr = hrrl ? hrr_buf : NULL;
    if (hrrl) memcpy(hrr_buf, recs[0].p + 5, hrrl);
    CHECK(rc == HASP_WANT_POLLIN && hrr && is_hrr(hrr, hrrl),
          "%s: the RFC's first ClientHello gets a HelloRetryRequest (%s)", W,
          rc == HASP_WANT_POLLIN ? "ok" : hasp_conn_errmsg(sv));
    if (!hrr || !is_hrr(hrr, hrrl)) goto done;
    /* key_share in the HRR selects secp256r1, like the RFC's */
    int asks_p256 = 0;
    for (size_t off = 4 + 2 + 32 + 1 + hrr[38] + 3 + 2; off + 4 <= hrrl;) {
        size_t l = 4 + ((size_t)hrr[off + 2] << 8 | hrr[off + 3]);
        if (hrr[off] == 0 && hrr[off + 1] == 0x33 && l == 6)
            asks_p256 = hrr[off + 4] == 0 && hrr[off + 5] == 0x17;
        off += l;
    }
    CHECK(asks_p256 && sh_suite(hrr, hrrl) == 0x1301,
          "%s: the HelloRetryRequest asks for secp256r1 with TLS_AES_128_GCM_SHA256, as the RFC's",
          W);
    CHECK(!same(hrr, hrrl, hrr_rfc->data, hrr_rfc->len),
          "%s: the HelloRetryRequest differs from the RFC's, which carries a cookie hasp does not "
          "send (expected)",
          W);
    /* the RFC's second ClientHello echoes the RFC server's cookie: a server
     * that sent none ignores it */
    feed(sv, ch2_rec->data, ch2_rec->len);
    rc = hasp_conn_handshake(sv);
    CHECK(rc == HASP_WANT_POLLIN, "%s: the RFC's second ClientHello is accepted (%s)", W,
          rc == HASP_WANT_POLLIN ? "ok" : hasp_conn_errmsg(sv));
    on = drain(sv, out, sizeof(out));
    nr = split_records(out, on, recs, 16);
    if (nr < 1 || recs[0].p[0] != 22) {
        CHECK(0, "%s: a ServerHello follows", W);
        goto done;
    }
    const uint8_t *sh = recs[0].p + 5;
    size_t shl = recs[0].len - 5;
    char why[200] = "";
    CHECK(sh_equivalent(sh, shl, sh_rfc->data, sh_rfc->len, why, sizeof(why)),
          "%s: ServerHello has the RFC's random, suite, P-256 key share and version (%s)", W,
          why[0] ? why : "extensions compared as a set");
    /* transcript: message_hash(CH1) || HRR || CH2 || SH */
    bytes tr = {{0}, 0};
    tr.buf[0] = 254, tr.buf[3] = 32;
    hasp_hash(HASP_HASH_SHA256, ch1->data, ch1->len, tr.buf + 4);
    tr.len = 36;
    memcpy(tr.buf + tr.len, hrr, hrrl), tr.len += hrrl;
    memcpy(tr.buf + tr.len, ch2->data, ch2->len), tr.len += ch2->len;
    memcpy(tr.buf + tr.len, sh, shl), tr.len += shl;
    uint8_t hs[32], ms[32], want[32];
    rfc_hs_ms(5, hs, ms);
    expect_secret(hs, "c hs traffic", tr.buf, tr.len, want);
    check_logged(W, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_random, want);
    expect_secret(hs, "s hs traffic", tr.buf, tr.len, want);
    check_logged(W, "SERVER_HANDSHAKE_TRAFFIC_SECRET", client_random, want);
done:
    hasp_conn_free(sv);
    hasp_config_free(cfg);
}

static void engine_client_section7(void)
{
    const char *W = "engine client, section 7";
    const vfield *ch = V(7, "client", "construct a ClientHello", 0, "ClientHello");
    const vfield *cpriv = V(7, "client", "create an ephemeral x25519", 0, "private key");
    const vfield *sh_rec = V(7, "server", "send handshake record", 0, "complete record");
    const vfield *sh_rfc = V(7, "server", "construct a ServerHello", 0, "ServerHello");
    const vfield *ccs_rec = V(7, "server", "send change_cipher_spec record", 0, "complete record");
    const vfield *ccs_c = V(7, "client", "send change_cipher_spec record", 0, "complete record");
    const vfield *cert_msg = V(3, "server", "construct a Certificate", 0, "Certificate");
    if (!ch || !cpriv || !sh_rec || !sh_rfc || !ccs_rec || !ccs_c || !cert_msg) {
        CHECK(0, "%s: vectors present", W);
        return;
    }
    const uint8_t *client_random = ch->data + 6;
    CHECK(ch->data[38] == 32, "%s: the RFC's client sends a 32-byte session ID", W);
    rng_queue q = {{ch->data + 6, ch->data + 39}, {32, 32}, 2, 0, 0, 0};
    hasp_config *cfg = hasp_config_new();
    hasp_config_set_versions(cfg, HASP_TLS1_3, HASP_TLS1_3);
    hasp_config_set_ciphersuites13(cfg, "TLS_AES_128_GCM_SHA256");
    hasp_config_set_groups(cfg, "x25519");
    hasp_config_insecure_noverifycert(cfg); /* the RFC's certificate is self-signed and expired */
    hasp_config_set_rng_for_testing(cfg, test_rng, &q);
    hasp_config_set_kex_private_for_testing(cfg, HASP_GROUP_X25519, cpriv->data, cpriv->len);
    hasp_config_allow_keylog(cfg);
    keylog_reset();
    hasp_conn *cl = hasp_conn_new(cfg, HASP_CLIENT);
    hasp_conn_set_servername(cl, "server");
    int rc = hasp_conn_handshake(cl);
    static uint8_t out[16384];
    size_t on = drain(cl, out, sizeof(out));
    rec_t recs[16];
    int nr = split_records(out, on, recs, 16);
    CHECK(rc == HASP_WANT_POLLIN && nr == 1 && recs[0].p[0] == 22 && recs[0].p[5] == 1,
          "%s: ClientHello sent", W);
    CHECK(!q.mismatch && q.next == 2, "%s: the engine drew client_random then a 32-byte session ID",
          W);
    if (nr < 1) goto done;
    const uint8_t *mych = recs[0].p + 5;
    size_t mychl = recs[0].len - 5;
    expect_b(mych + 6, 32 + 1 + 32, ch->data + 6, 32 + 1 + 32,
             "%s: ClientHello carries the RFC's random and session ID", W);
    /* its key share is the RFC client's public key */
    const vfield *cpub = V(7, "client", "create an ephemeral x25519", 0, "public key");
    int has_pub = 0;
    for (size_t i = 0; cpub && i + 32 <= mychl; i++)
        has_pub |= !memcmp(mych + i, cpub->data, 32);
    CHECK(has_pub, "%s: ClientHello carries the RFC's X25519 public key", W);

    feed(cl, sh_rec->data, sh_rec->len);
    feed(cl, ccs_rec->data, ccs_rec->len);
    rc = hasp_conn_handshake(cl);
    CHECK(rc == HASP_WANT_POLLIN,
          "%s: the RFC's ServerHello and ChangeCipherSpec are accepted (%s)", W,
          rc == HASP_WANT_POLLIN ? "ok" : hasp_conn_errmsg(cl));
    bytes tr = {{0}, 0};
    memcpy(tr.buf, mych, mychl), tr.len = mychl;
    memcpy(tr.buf + tr.len, sh_rfc->data, sh_rfc->len), tr.len += sh_rfc->len;
    uint8_t hs[32], ms[32], c_hs[32], s_hs[32];
    rfc_hs_ms(7, hs, ms);
    expect_secret(hs, "c hs traffic", tr.buf, tr.len, c_hs);
    expect_secret(hs, "s hs traffic", tr.buf, tr.len, s_hs);
    check_logged(W, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_random, c_hs);
    check_logged(W, "SERVER_HANDSHAKE_TRAFFIC_SECRET", client_random, s_hs);

    /* play the server with the RFC's certificate and key: EE (server_name
     * only: the RFC's also has supported_groups and record_size_limit,
     * which hasp's client did not offer), Certificate, CertificateVerify,
     * Finished */
    char key_pem[4096];
    size_t kl = rfc_rsa_key_pem(key_pem);
    hasp_pkey *sk = hasp_pkey_from_private_pem((const uint8_t *)key_pem, kl);
    uint8_t flight[2048];
    size_t fl = 0;
    static const uint8_t ee[] = {8, 0, 0, 6, 0, 4, 0, 0, 0, 0};
    memcpy(flight, ee, sizeof(ee)), fl = sizeof(ee);
    memcpy(flight + fl, cert_msg->data, cert_msg->len), fl += cert_msg->len;
    memcpy(tr.buf + tr.len, flight, fl), tr.len += fl;
    uint8_t h[32], content[300], sig[512];
    size_t sl = 0;
    hasp_hash(HASP_HASH_SHA256, tr.buf, tr.len, h);
    size_t cvl = cv_content(1, h, 32, content);
    rc =
        sk ? hasp_sign_scheme(sk, HASP_SIG_RSA_PSS_RSAE_SHA256, content, cvl, sig, sizeof(sig), &sl)
           : -1;
    CHECK(rc == 0, "%s: CertificateVerify signed with the RFC's RSA key", W);
    size_t cvs = fl;
    flight[fl++] = 15, flight[fl++] = 0, flight[fl++] = (uint8_t)((sl + 4) >> 8),
    flight[fl++] = (uint8_t)(sl + 4);
    flight[fl++] = 0x08, flight[fl++] = 0x04, flight[fl++] = (uint8_t)(sl >> 8),
    flight[fl++] = (uint8_t)sl;
    memcpy(flight + fl, sig, sl), fl += sl;
    memcpy(tr.buf + tr.len, flight + cvs, fl - cvs), tr.len += fl - cvs;
    hasp_hash(HASP_HASH_SHA256, tr.buf, tr.len, h);
    size_t fins = fl;
    flight[fl++] = 20, flight[fl++] = 0, flight[fl++] = 0, flight[fl++] = 32;
    finished_value(HASP_HASH_SHA256, s_hs, h, flight + fl), fl += 32;
    memcpy(tr.buf + tr.len, flight + fins, 36), tr.len += 36;
    uint8_t key[16], iv[12], rec[2200];
    traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, s_hs, key, iv);
    size_t rl = seal13(HASP_AEAD_AES128GCM, key, iv, 0, 22, flight, fl, rec);
    feed(cl, rec, rl);
    rc = hasp_conn_handshake(cl);
    CHECK(rc == 0, "%s: the engine accepts the server flight made with the expected keys (%s)", W,
          rc == 0 ? "handshake complete" : hasp_conn_errmsg(cl));
    uint8_t c_ap[32], s_ap[32], exp[32];
    expect_secret(ms, "c ap traffic", tr.buf, tr.len, c_ap);
    expect_secret(ms, "s ap traffic", tr.buf, tr.len, s_ap);
    expect_secret(ms, "exp master", tr.buf, tr.len, exp);
    check_logged(W, "CLIENT_TRAFFIC_SECRET_0", client_random, c_ap);
    check_logged(W, "SERVER_TRAFFIC_SECRET_0", client_random, s_ap);
    check_logged(W, "EXPORTER_SECRET", client_random, exp);
    /* the client's second flight: CCS (compat mode, as the RFC's), Finished */
    on = drain(cl, out, sizeof(out));
    nr = split_records(out, on, recs, 16);
    int ccs_first = nr >= 2 && same(recs[0].p, recs[0].len, ccs_c->data, ccs_c->len);
    CHECK(ccs_first, "%s: the client's ChangeCipherSpec equals the RFC's (14 03 03 00 01 01)", W);
    if (nr >= 2) {
        uint8_t ck[16], civ[12], plain[256], type, want[36];
        traffic_keys(HASP_HASH_SHA256, HASP_AEAD_AES128GCM, c_hs, ck, civ);
        long pl =
            open13(HASP_AEAD_AES128GCM, ck, civ, 0, recs[nr - 1].p, recs[nr - 1].len, plain, &type);
        uint8_t hb[32];
        hasp_hash(HASP_HASH_SHA256, tr.buf, tr.len, hb);
        want[0] = 20, want[1] = 0, want[2] = 0, want[3] = 32;
        finished_value(HASP_HASH_SHA256, c_hs, hb, want + 4);
        CHECK(pl == 36 && type == 22 && !memcmp(plain, want, 36),
              "%s: the client's Finished opens with the expected key and verifies", W);
    }
    hasp_pkey_free(sk);
done:
    hasp_conn_free(cl);
    hasp_config_free(cfg);
}

/* A ServerHello/HelloRetryRequest of the RFC (empty session ID echo) with
 * the given session ID echoed instead, as a handshake record. */
static size_t sh_record_with_sid(const uint8_t *sh, size_t len, const uint8_t *sid, uint8_t *out)
{
    size_t body = len - 4 + 32;
    uint8_t *m = out + 5;
    m[0] = sh[0];
    m[1] = (uint8_t)(body >> 16), m[2] = (uint8_t)(body >> 8), m[3] = (uint8_t)body;
    memcpy(m + 4, sh + 4, 2 + 32);
    m[4 + 34] = 32;
    memcpy(m + 4 + 35, sid, 32);
    memcpy(m + 4 + 35 + 32, sh + 4 + 35, len - 4 - 35);
    out[0] = 22, out[1] = 3, out[2] = 3;
    out[3] = (uint8_t)((body + 4) >> 8), out[4] = (uint8_t)(body + 4);
    return 5 + body + 4;
}

/* Find extension type in a ClientHello; returns its body or NULL. */
static const uint8_t *ch_ext(const uint8_t *ch, size_t len, uint16_t type, size_t *elen)
{
    size_t off = 4 + 2 + 32;
    off += 1 + ch[off];
    off += 2 + ((size_t)ch[off] << 8 | ch[off + 1]);
    off += 1 + ch[off];
    off += 2;
    while (off + 4 <= len) {
        uint16_t t = (uint16_t)(ch[off] << 8 | ch[off + 1]);
        size_t l = (size_t)ch[off + 2] << 8 | ch[off + 3];
        if (t == type) {
            *elen = l;
            return ch + off + 4;
        }
        off += 4 + l;
    }
    return NULL;
}

/* Client, section 5: the RFC server's HelloRetryRequest (P-256, with a
 * cookie) answered by a hasp client; its session ID echo is replaced by the
 * client's (the RFC's client sent none, hasp's always sends 32 bytes). */
static void engine_client_hrr_cookie(void)
{
    const char *W = "engine client, section 5 (HRR with cookie)";
    const vfield *ch1 = V(5, "client", "construct a ClientHello", 0, "ClientHello");
    const vfield *x_priv = V(5, "client", "create an ephemeral x25519", 0, "private key");
    const vfield *p_priv = V(5, "client", "create an ephemeral P-256", 0, "private key");
    const vfield *p_pub = V(5, "client", "create an ephemeral P-256", 0, "public key");
    const vfield *hrr_rfc = V(5, "server", "construct a ServerHello", 0, "ServerHello");
    const vfield *sh_rfc = V(5, "server", "construct a ServerHello", 1, "ServerHello");
    const vfield *sid7 = V(7, "client", "construct a ClientHello", 0, "ClientHello");
    if (!ch1 || !x_priv || !p_priv || !p_pub || !hrr_rfc || !sh_rfc || !sid7) {
        CHECK(0, "%s: vectors present", W);
        return;
    }
    const uint8_t *client_random = ch1->data + 6, *sid = sid7->data + 39;
    rng_queue q = {{client_random, sid}, {32, 32}, 2, 0, 0, 0};
    hasp_config *cfg = hasp_config_new();
    hasp_config_set_versions(cfg, HASP_TLS1_3, HASP_TLS1_3);
    hasp_config_set_ciphersuites13(cfg, "TLS_AES_128_GCM_SHA256");
    hasp_config_set_groups(cfg, "x25519:P-256");
    hasp_config_insecure_noverifycert(cfg);
    hasp_config_set_rng_for_testing(cfg, test_rng, &q);
    hasp_config_set_kex_private_for_testing(cfg, HASP_GROUP_X25519, x_priv->data, x_priv->len);
    hasp_config_set_kex_private_for_testing(cfg, HASP_GROUP_SECP256R1, p_priv->data, p_priv->len);
    hasp_config_allow_keylog(cfg);
    keylog_reset();
    hasp_conn *cl = hasp_conn_new(cfg, HASP_CLIENT);
    hasp_conn_set_servername(cl, "server");
    static uint8_t out[16384];
    static uint8_t ch1_mine[2048], ch2_mine[2048];
    size_t ch1l = 0, ch2l = 0;
    int rc = hasp_conn_handshake(cl);
    size_t on = drain(cl, out, sizeof(out));
    rec_t recs[16];
    int nr = split_records(out, on, recs, 16);
    if (rc != HASP_WANT_POLLIN || nr < 1 || recs[0].p[5] != 1) {
        CHECK(0, "%s: ClientHello sent (%s)", W, hasp_conn_errmsg(cl));
        goto done;
    }
    ch1l = recs[0].len - 5;
    memcpy(ch1_mine, recs[0].p + 5, ch1l);
    uint8_t rec[2048];
    size_t rl = sh_record_with_sid(hrr_rfc->data, hrr_rfc->len, sid, rec);
    feed(cl, rec, rl);
    rc = hasp_conn_handshake(cl);
    on = drain(cl, out, sizeof(out));
    nr = split_records(out, on, recs, 16);
    int k = 0;
    while (k < nr && recs[k].p[0] != 22) /* skip the compatibility CCS */
        k++;
    CHECK(rc == HASP_WANT_POLLIN && k < nr && recs[k].p[5] == 1,
          "%s: the RFC's HelloRetryRequest is answered with a second ClientHello (%s)", W,
          rc == HASP_WANT_POLLIN ? "ok" : hasp_conn_errmsg(cl));
    if (k >= nr) goto done;
    ch2l = recs[k].len - 5;
    memcpy(ch2_mine, recs[k].p + 5, ch2l);
    /* the cookie comes back verbatim; the key share is now the RFC client's P-256 key */
    size_t hck_len = 0, ck_len = 0, ks_len = 0;
    const uint8_t *hck = NULL;
    for (size_t off = 4 + 2 + 32 + 1 + 0 + 3 + 2; off + 4 <= hrr_rfc->len;) {
        size_t l = (size_t)hrr_rfc->data[off + 2] << 8 | hrr_rfc->data[off + 3];
        if (hrr_rfc->data[off] == 0 && hrr_rfc->data[off + 1] == 0x2c)
            hck = hrr_rfc->data + off + 4, hck_len = l;
        off += 4 + l;
    }
    const uint8_t *ck = ch_ext(ch2_mine, ch2l, 0x002c, &ck_len);
    CHECK(hck && ck && same(ck, ck_len, hck, hck_len),
          "%s: the second ClientHello echoes the RFC server's cookie (%zu bytes)", W, hck_len);
    const uint8_t *ks = ch_ext(ch2_mine, ch2l, 0x0033, &ks_len);
    CHECK(ks && ks_len == 2 + 4 + 65 && ks[2] == 0 && ks[3] == 0x17 &&
              !memcmp(ks + 6, p_pub->data, 65),
          "%s: the second ClientHello's only key share is the RFC client's P-256 key", W);
    CHECK(!memcmp(ch2_mine + 6, client_random, 32),
          "%s: the second ClientHello keeps the client random", W);
    /* the RFC's ServerHello, then the handshake secrets over
     * message_hash(CH1) || HRR || CH2 || SH */
    static uint8_t sh_mine[1024];
    rl = sh_record_with_sid(sh_rfc->data, sh_rfc->len, sid, rec);
    size_t shl = rl - 5;
    memcpy(sh_mine, rec + 5, shl);
    feed(cl, rec, rl);
    rc = hasp_conn_handshake(cl);
    CHECK(rc == HASP_WANT_POLLIN, "%s: the RFC's ServerHello (P-256) is accepted (%s)", W,
          rc == HASP_WANT_POLLIN ? "ok" : hasp_conn_errmsg(cl));
    bytes tr = {{0}, 0};
    tr.buf[0] = 254, tr.buf[3] = 32;
    hasp_hash(HASP_HASH_SHA256, ch1_mine, ch1l, tr.buf + 4);
    tr.len = 36;
    size_t hrrl = sh_record_with_sid(hrr_rfc->data, hrr_rfc->len, sid, rec) - 5;
    memcpy(tr.buf + tr.len, rec + 5, hrrl), tr.len += hrrl;
    memcpy(tr.buf + tr.len, ch2_mine, ch2l), tr.len += ch2l;
    memcpy(tr.buf + tr.len, sh_mine, shl), tr.len += shl;
    uint8_t hs[32], ms[32], want[32];
    rfc_hs_ms(5, hs, ms);
    expect_secret(hs, "c hs traffic", tr.buf, tr.len, want);
    check_logged(W, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_random, want);
    expect_secret(hs, "s hs traffic", tr.buf, tr.len, want);
    check_logged(W, "SERVER_HANDSHAKE_TRAFFIC_SECRET", client_random, want);
done:
    hasp_conn_free(cl);
    hasp_config_free(cfg);
}

/* The library default: no hasp_config_allow_keylog, nothing written. */
static void keylog_default_off(void)
{
    const vfield *ch_rec = V(3, "client", "send handshake record", 0, "complete record");
    const vfield *sh_rfc = V(3, "server", "construct a ServerHello", 0, "ServerHello");
    char cert_pem[4096], key_pem[4096];
    size_t cl = rfc_cert_pem(cert_pem), kl = rfc_rsa_key_pem(key_pem);
    if (!ch_rec || !sh_rfc) return;
    rng_queue q = {{sh_rfc->data + 6}, {32}, 1, 0, 0, 0};
    hasp_config *cfg = hasp_config_new();
    hasp_config_add_cert_key_mem(cfg, (const uint8_t *)cert_pem, cl, (const uint8_t *)key_pem, kl);
    hasp_config_set_rng_for_testing(cfg, test_rng, &q);
    keylog_reset();
    hasp_conn *sv = hasp_conn_new(cfg, HASP_SERVER);
    feed(sv, ch_rec->data, ch_rec->len);
    int rc = hasp_conn_handshake(sv);
    CHECK(
        rc == HASP_WANT_POLLIN && access(keylog_path, F_OK) != 0,
        "key log: with SSLKEYLOGFILE set but without hasp_config_allow_keylog nothing is written");
    hasp_conn_free(sv);
    hasp_config_free(cfg);
}

int main(void)
{
    const char *path = getenv("RFC8448_JSON");
    if (!path) path = "../shared/vectors/rfc8448.json";
    int rc = load_vectors(path);
    CHECK(rc == 0 && nsteps > 200, "rfc8448.json read (%d steps from %s)", nsteps, path);
    if (rc < 0 || nsteps == 0) TEST_DONE();

    check_seam_basics();
    for (int sec = 3; sec <= 7; sec++)
        check_section(sec);

    snprintf(keylog_path, sizeof(keylog_path), "%s/hasp-rfc8448-keylog.%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    setenv("SSLKEYLOGFILE", keylog_path, 1);
    engine_server(3);
    engine_server(7);
    engine_server_section4();
    engine_server_section5();
    engine_client_section7();
    engine_client_hrr_cookie();
    keylog_default_off();
    unlink(keylog_path);
    TEST_DONE();
}
