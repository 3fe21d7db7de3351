/* The server engine fed a structured ClientHello. The input is a
 * ClientHello body (as on the wire, without the 4-byte handshake header);
 * the target wraps it in a handshake header and one or two records and
 * hands it to a fresh server (no client authentication, every suite and
 * group), which answers or refuses.
 *
 * A custom mutator parses the body into its fields (version, random,
 * session ID, suites, compression methods, extensions) and mutates one
 * field at a time: it changes the version, grows the session ID past 32,
 * edits the suite list, mutates, duplicates, drops, adds, reorders or
 * retypes an extension, mutates the list inside an extension and fixes
 * its inner length; then re-encodes with every length right, so that
 * mutations reach the handshake logic instead of dying in the length
 * checks. One mutation in sixteen is a raw byte mutation, to keep the
 * length checks covered too. The corpus holds real ClientHellos (hasp's,
 * and OpenSSL's and GnuTLS's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static hasp_config *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_rng_install();
    cfg = fz_server_config(0);
    return 0;
}

/* ------------------------------------------------------------------ the structure */

#define MAX_EXT 64
#define MAX_FIELD 65535
#define ROOM 4100

typedef struct ext {
    uint16_t type;
    uint8_t *body;
    size_t len, cap;
} ext;

typedef struct ch {
    uint8_t version[2];
    uint8_t random[32];
    uint8_t sid[256];
    size_t sid_len;
    uint8_t *suites;
    size_t suites_len, suites_cap;
    uint8_t comp[256];
    size_t comp_len;
    int has_exts;
    ext exts[MAX_EXT];
    size_t n_exts;
} ch;

static void ch_free(ch *h)
{
    free(h->suites);
    for (size_t i = 0; i < h->n_exts; i++)
        free(h->exts[i].body);
    memset(h, 0, sizeof(*h));
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n + ROOM); /* room for a mutation to grow */
    if (n) memcpy(q, p, n);
    return q;
}

/* Parse a body; 0 when it has the shape of a ClientHello (lengths right,
 * nothing left over). */
static int ch_parse(ch *h, const uint8_t *p, size_t n)
{
    memset(h, 0, sizeof(*h));
    size_t o = 0;
    if (n < 35) return -1;
    memcpy(h->version, p, 2);
    memcpy(h->random, p + 2, 32);
    o = 34;
    h->sid_len = p[o++];
    if (o + h->sid_len > n) return -1;
    memcpy(h->sid, p + o, h->sid_len);
    o += h->sid_len;
    if (o + 2 > n) return -1;
    h->suites_len = (size_t)p[o] << 8 | p[o + 1];
    o += 2;
    if (o + h->suites_len > n) return -1;
    h->suites = dup_bytes(p + o, h->suites_len);
    h->suites_cap = h->suites_len + ROOM;
    o += h->suites_len;
    if (o + 1 > n) goto bad;
    h->comp_len = p[o++];
    if (o + h->comp_len > n) goto bad;
    memcpy(h->comp, p + o, h->comp_len);
    o += h->comp_len;
    if (o == n) return 0;
    if (o + 2 > n) goto bad;
    size_t total = (size_t)p[o] << 8 | p[o + 1];
    o += 2;
    if (o + total != n) goto bad;
    h->has_exts = 1;
    while (o < n) {
        if (o + 4 > n || h->n_exts == MAX_EXT) goto bad;
        ext *e = &h->exts[h->n_exts];
        e->type = (uint16_t)(p[o] << 8 | p[o + 1]);
        e->len = (size_t)p[o + 2] << 8 | p[o + 3];
        o += 4;
        if (o + e->len > n) goto bad;
        e->body = dup_bytes(p + o, e->len);
        e->cap = e->len + ROOM;
        h->n_exts++;
        o += e->len;
    }
    return 0;
bad:
    ch_free(h);
    return -1;
}

static size_t ch_write(const ch *h, uint8_t *out, size_t cap)
{
    size_t need = 2 + 32 + 1 + h->sid_len + 2 + h->suites_len + 1 + h->comp_len;
    if (h->sid_len > 255 || h->comp_len > 255 || h->suites_len > MAX_FIELD) return 0;
    if (h->has_exts) {
        need += 2;
        for (size_t i = 0; i < h->n_exts; i++) {
            if (h->exts[i].len > MAX_FIELD) return 0;
            need += 4 + h->exts[i].len;
        }
    }
    if (need > cap || need - 4 >= (1u << 24)) return 0;
    size_t o = 0;
    memcpy(out + o, h->version, 2);
    o += 2;
    memcpy(out + o, h->random, 32);
    o += 32;
    out[o++] = (uint8_t)h->sid_len;
    memcpy(out + o, h->sid, h->sid_len);
    o += h->sid_len;
    out[o++] = (uint8_t)(h->suites_len >> 8);
    out[o++] = (uint8_t)h->suites_len;
    memcpy(out + o, h->suites, h->suites_len);
    o += h->suites_len;
    out[o++] = (uint8_t)h->comp_len;
    memcpy(out + o, h->comp, h->comp_len);
    o += h->comp_len;
    if (h->has_exts) {
        size_t total = need - o - 2;
        if (total > 0xffff) return 0;
        out[o++] = (uint8_t)(total >> 8);
        out[o++] = (uint8_t)total;
        for (size_t i = 0; i < h->n_exts; i++) {
            const ext *e = &h->exts[i];
            out[o++] = (uint8_t)(e->type >> 8);
            out[o++] = (uint8_t)e->type;
            out[o++] = (uint8_t)(e->len >> 8);
            out[o++] = (uint8_t)e->len;
            memcpy(out + o, e->body, e->len);
            o += e->len;
        }
    }
    return o;
}

/* ------------------------------------------------------------------ mutations */

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static const uint16_t ext_types[] = {
    0,  /* server_name */
    5,  /* status_request */
    10, /* supported_groups */
    11, /* ec_point_formats */
    13, /* signature_algorithms */
    16, /* ALPN */
    18, /* SCT */
    21, /* padding */
    22, /* encrypt_then_mac */
    23, /* extended_master_secret */
    35, /* session_ticket */
    41, /* pre_shared_key */
    42, /* early_data */
    43, /* supported_versions */
    44, /* cookie */
    45, /* psk_key_exchange_modes */
    49, /* post_handshake_auth */
    50, /* signature_algorithms_cert */
    51, /* key_share */
    0xff01, 0x0a0a, 0xfafa, 0x3374, 0xffff,
};
#define N_EXT_TYPES (sizeof(ext_types) / sizeof(ext_types[0]))

/* Extensions whose body is one vector: the prefix size, so that a
 * mutation of the list keeps the inner length right. */
static int inner_prefix(uint16_t type)
{
    switch (type) {
    case 0:
    case 10:
    case 13:
    case 16:
    case 44:
    case 50:
    case 51:
        return 2;
    case 11:
    case 43:
    case 45:
    case 0xff01:
        return 1;
    default:
        return 0;
    }
}

/* A small well-formed body for an extension type. */
static size_t ext_template(uint16_t type, uint8_t *b, uint32_t *s)
{
    static const uint8_t sni[] = {0, 12, 0, 0, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'};
    static const uint8_t groups[] = {0, 8, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x01, 0x00};
    static const uint8_t sigalgs[] = {0, 8, 0x08, 0x04, 0x04, 0x03, 0x04, 0x01, 0x02, 0x01};
    static const uint8_t alpn[] = {0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    static const uint8_t versions[] = {4, 0x03, 0x04, 0x03, 0x03};
    static const uint8_t modes[] = {1, 1};
    switch (type) {
    case 0:
        memcpy(b, sni, sizeof(sni));
        return sizeof(sni);
    case 10:
        memcpy(b, groups, sizeof(groups));
        return sizeof(groups);
    case 11:
        b[0] = 1;
        b[1] = 0;
        return 2;
    case 13:
        memcpy(b, sigalgs, sizeof(sigalgs));
        return sizeof(sigalgs);
    case 16:
        memcpy(b, alpn, sizeof(alpn));
        return sizeof(alpn);
    case 43:
        memcpy(b, versions, sizeof(versions));
        return sizeof(versions);
    case 45:
        memcpy(b, modes, sizeof(modes));
        return sizeof(modes);
    case 0xff01:
        b[0] = 0;
        return 1;
    case 51: { /* x25519 share */
        b[0] = 0;
        b[1] = 36;
        b[2] = 0;
        b[3] = 0x1d;
        b[4] = 0;
        b[5] = 32;
        for (int i = 0; i < 32; i++)
            b[6 + i] = (uint8_t)rnd(s);
        return 38;
    }
    default:
        return 0;
    }
}

static void mutate_vector(uint8_t *field, size_t *len, size_t max, int prefix)
{
    if (prefix && *len >= (size_t)prefix) {
        size_t inner = *len - (size_t)prefix;
        inner = LLVMFuzzerMutate(field + prefix, inner, max - (size_t)prefix);
        if (prefix == 1 && inner > 255) inner = 255;
        if (prefix == 2) {
            field[0] = (uint8_t)(inner >> 8);
            field[1] = (uint8_t)inner;
        } else {
            field[0] = (uint8_t)inner;
        }
        *len = inner + (size_t)prefix;
        return;
    }
    *len = LLVMFuzzerMutate(field, *len, max);
}

static void mutate(ch *h, uint32_t *s)
{
    static const uint16_t versions[] = {0x0300, 0x0301, 0x0302, 0x0303, 0x0304,
                                        0x0200, 0x0002, 0x7f1c, 0xfefd, 0x03ff};
    static const uint16_t suites[] = {0x00ff, 0x5600, 0x1301, 0x1303, 0xc02b, 0xc02f, 0xcca8,
                                      0x009e, 0x009c, 0x002f, 0x000a, 0xc013, 0x0a0a, 0x0000};
    switch (rnd(s) % 12) {
    case 0: {
        uint16_t v = versions[rnd(s) % (sizeof(versions) / sizeof(versions[0]))];
        h->version[0] = (uint8_t)(v >> 8);
        h->version[1] = (uint8_t)v;
        break;
    }
    case 1:
        h->sid_len = LLVMFuzzerMutate(h->sid, h->sid_len, 255);
        break;
    case 2:
        if (rnd(s) % 2) {
            h->suites_len = LLVMFuzzerMutate(h->suites, h->suites_len, h->suites_cap);
        } else if (h->suites_len + 2 <= h->suites_cap) {
            /* insert a known suite at an even position */
            size_t at = h->suites_len ? 2 * (rnd(s) % (h->suites_len / 2 + 1)) : 0;
            if (at > h->suites_len) at = h->suites_len;
            memmove(h->suites + at + 2, h->suites + at, h->suites_len - at);
            uint16_t id = suites[rnd(s) % (sizeof(suites) / sizeof(suites[0]))];
            h->suites[at] = (uint8_t)(id >> 8);
            h->suites[at + 1] = (uint8_t)id;
            h->suites_len += 2;
        }
        break;
    case 3:
        h->comp_len = LLVMFuzzerMutate(h->comp, h->comp_len, 255);
        break;
    case 4:
    case 5:
        if (h->n_exts) {
            ext *e = &h->exts[rnd(s) % h->n_exts];
            int prefix = rnd(s) % 4 ? inner_prefix(e->type) : 0;
            mutate_vector(e->body, &e->len, e->cap, prefix);
        }
        break;
    case 6:
        if (h->n_exts) h->exts[rnd(s) % h->n_exts].type = ext_types[rnd(s) % N_EXT_TYPES];
        break;
    case 7: /* duplicate */
        if (h->n_exts && h->n_exts < MAX_EXT) {
            ext *e = &h->exts[rnd(s) % h->n_exts];
            ext *d = &h->exts[h->n_exts++];
            d->type = e->type;
            d->len = e->len;
            d->body = dup_bytes(e->body, e->len);
            d->cap = e->len + ROOM;
        }
        break;
    case 8: /* remove */
        if (h->n_exts) {
            size_t i = rnd(s) % h->n_exts;
            free(h->exts[i].body);
            memmove(&h->exts[i], &h->exts[i + 1], (h->n_exts - i - 1) * sizeof(ext));
            h->n_exts--;
        }
        break;
    case 9: /* add */
        if (h->n_exts < MAX_EXT) {
            ext *e = &h->exts[h->n_exts++];
            e->type = ext_types[rnd(s) % N_EXT_TYPES];
            e->body = malloc(ROOM);
            e->cap = ROOM;
            e->len = ext_template(e->type, e->body, s);
            h->has_exts = 1;
        }
        break;
    case 10: /* swap */
        if (h->n_exts >= 2) {
            size_t i = rnd(s) % h->n_exts, j = rnd(s) % h->n_exts;
            ext t = h->exts[i];
            h->exts[i] = h->exts[j];
            h->exts[j] = t;
        }
        break;
    default:
        if (h->n_exts == 0)
            h->has_exts = !h->has_exts;
        else
            h->random[rnd(s) % 32] ^= (uint8_t)(1 + rnd(s) % 255);
        break;
    }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint32_t s = seed;
    ch h;
    if (rnd(&s) % 16 == 0 || ch_parse(&h, data, size) != 0)
        return LLVMFuzzerMutate(data, size, max_size);
    int rounds = 1 + (int)(rnd(&s) % 3);
    for (int i = 0; i < rounds; i++)
        mutate(&h, &s);
    uint8_t *out = malloc(max_size ? max_size : 1);
    size_t n = ch_write(&h, out, max_size);
    ch_free(&h);
    if (n == 0) {
        free(out);
        return LLVMFuzzerMutate(data, size, max_size);
    }
    memcpy(data, out, n);
    free(out);
    return n;
}

/* ------------------------------------------------------------------ the target */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= (1u << 24)) return 0;
    /* handshake message, then records of at most 16384 bytes; for one
     * input in four the message is split into two records at a point the
     * body decides */
    size_t mlen = size + 4;
    uint8_t *msg = malloc(mlen);
    msg[0] = 1;
    msg[1] = (uint8_t)(size >> 16);
    msg[2] = (uint8_t)(size >> 8);
    msg[3] = (uint8_t)size;
    memcpy(msg + 4, data, size);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    size_t split = (h % 4 == 0) ? 1 + (h >> 8) % mlen : HASP_REC_MAX_PLAINTEXT;
    uint8_t *wire = malloc(mlen + 5 * (mlen / 1024 + 3));
    size_t w = 0;
    for (size_t o = 0; o < mlen;) {
        size_t n = mlen - o;
        if (n > split) n = split;
        if (n > HASP_REC_MAX_PLAINTEXT) n = HASP_REC_MAX_PLAINTEXT;
        wire[w++] = 22;
        wire[w++] = 3;
        wire[w++] = 1;
        wire[w++] = (uint8_t)(n >> 8);
        wire[w++] = (uint8_t)n;
        memcpy(wire + w, msg + o, n);
        w += n;
        o += n;
        split = HASP_REC_MAX_PLAINTEXT;
    }
    free(msg);

    fz_rng_reset();
    hasp_conn *c = hasp_conn_new(cfg, HASP_SERVER);
    if (!c) abort();
    fz_outcome o;
    fz_run(c, wire, w, FZ_STREAM_SERVER, &o);
    hasp_conn_free(c);
    free(wire);
    return 0;
}
