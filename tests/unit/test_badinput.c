/* The bad-input catalogue: malformed and hostile bytes fed to a hasp
 * server and a hasp client in memory. Each case asserts the exact alert
 * that goes out on the wire (the record bytes, or for an encrypted alert
 * what the peer decodes), the error the caller gets (the return value and
 * hasp_conn_error), and by running under ASan / valgrind that nothing
 * crashes or leaks; an alarm catches hangs.
 *
 * Hostile inputs are made from real ones: a hasp client and server run
 * in memory, and their messages are recorded, parsed, patched (lengths
 * recomputed) and re-framed. A few cases re-sign a ServerKeyExchange with
 * the test server's key, seal records with a connection's own keys, or
 * rewrite a ClientHello in the client's transcript too, so that the
 * handshake still completes (the internal headers are used for that).
 *
 * All cases pin TLS 1.2 (hasp_config_set_versions 1.2..1.2). */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/cursor.h"
#include "codec/pem.h"
#include "conn.h"
#include "crypto/crypto.h"
#include "hasp.h"
#include "hs/hs.h"
#include "record/record.h"
#include "test.h"
#include "x509/x509.h"

static const char *certdir = "tests/out/certs";

/* ================================================================== bytes */

typedef hasp_wr buf;

static void b_reset(buf *b)
{
    b->len = 0;
}

static void b_put(buf *b, const void *p, size_t n)
{
    if (wr_bytes(b, p, n) < 0) abort();
}

static void b_u8(buf *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    b_put(b, &x, 1);
}

static void b_u16(buf *b, unsigned v)
{
    b_u8(b, v >> 8);
    b_u8(b, v);
}

static void b_u24(buf *b, size_t v)
{
    b_u8(b, (unsigned)(v >> 16));
    b_u8(b, (unsigned)(v >> 8));
    b_u8(b, (unsigned)v);
}

/* One record. */
static void put_record(buf *b, uint8_t type, uint16_t version, const uint8_t *p, size_t n)
{
    b_u8(b, type);
    b_u16(b, version);
    b_u16(b, (unsigned)n);
    b_put(b, p, n);
}

/* One handshake message in one record. */
static void put_msg(buf *b, uint8_t type, const uint8_t *body, size_t n, uint16_t version)
{
    buf m = hasp_wr_dyn();
    b_u8(&m, type);
    b_u24(&m, n);
    b_put(&m, body, n);
    put_record(b, HASP_CT_HANDSHAKE, version, m.p, m.len);
    hasp_wr_free(&m);
}

static void hexdump(const char *label, const uint8_t *p, size_t n)
{
    printf("#   %s (%zu bytes):", label, n);
    for (size_t i = 0; i < n && i < 48; i++)
        printf(" %02x", p[i]);
    printf("%s\n", n > 48 ? " ..." : "");
}

/* ================================================================== records, flights */

typedef struct rec {
    uint8_t type;
    uint16_t version;
    const uint8_t *body; /* view */
    size_t len;
    const uint8_t *whole;
} rec;

static size_t split_records(const uint8_t *p, size_t n, rec *out, size_t max)
{
    size_t k = 0;
    while (n >= 5 && k < max) {
        size_t len = (size_t)p[3] << 8 | p[4];
        if (len > n - 5) break;
        out[k].type = p[0];
        out[k].version = (uint16_t)(p[1] << 8 | p[2]);
        out[k].body = p + 5;
        out[k].len = len;
        out[k].whole = p;
        k++;
        p += 5 + len;
        n -= 5 + len;
    }
    return k;
}

typedef struct msg {
    uint8_t type;
    buf body;
} msg;

/* A flight: its plaintext handshake messages, then (from a ChangeCipherSpec
 * on) the raw records that follow, kept as they are. */
typedef struct flight {
    msg m[16];
    size_t nm;
    buf ccs;  /* the ChangeCipherSpec record, whole */
    buf rest; /* every record after it, whole */
} flight;

static void flight_parse(const uint8_t *p, size_t n, flight *f)
{
    memset(f, 0, sizeof(*f));
    f->ccs = hasp_wr_dyn();
    f->rest = hasp_wr_dyn();
    rec r[64];
    size_t nr = split_records(p, n, r, 64);
    buf hs = hasp_wr_dyn();
    size_t i = 0;
    for (; i < nr && r[i].type == HASP_CT_HANDSHAKE; i++)
        b_put(&hs, r[i].body, r[i].len);
    if (i < nr && r[i].type == HASP_CT_CHANGE_CIPHER_SPEC) {
        b_put(&f->ccs, r[i].whole, 5 + r[i].len);
        i++;
    }
    for (; i < nr; i++)
        b_put(&f->rest, r[i].whole, 5 + r[i].len);
    size_t o = 0;
    while (o + 4 <= hs.len && f->nm < 16) {
        size_t len = (size_t)hs.p[o + 1] << 16 | (size_t)hs.p[o + 2] << 8 | hs.p[o + 3];
        if (o + 4 + len > hs.len) break;
        f->m[f->nm].type = hs.p[o];
        f->m[f->nm].body = hasp_wr_dyn();
        b_put(&f->m[f->nm].body, hs.p + o + 4, len);
        f->nm++;
        o += 4 + len;
    }
    hasp_wr_free(&hs);
}

static void flight_free(flight *f)
{
    for (size_t i = 0; i < f->nm; i++)
        hasp_wr_free(&f->m[i].body);
    hasp_wr_free(&f->ccs);
    hasp_wr_free(&f->rest);
}

static msg *flight_find(flight *f, uint8_t type)
{
    for (size_t i = 0; i < f->nm; i++)
        if (f->m[i].type == type) return &f->m[i];
    return NULL;
}

/* The messages, one record each; then the CCS and the rest unless told not to. */
static void flight_emit(const flight *f, buf *w, int with_ccs, int with_rest)
{
    for (size_t i = 0; i < f->nm; i++)
        put_msg(w, f->m[i].type, f->m[i].body.p, f->m[i].body.len, HASP_TLS1_2);
    if (with_ccs) b_put(w, f->ccs.p, f->ccs.len);
    if (with_rest) b_put(w, f->rest.p, f->rest.len);
}

/* ================================================================== configs, events */

static char path_buf[4][512];
static const char *cpath(int slot, const char *name)
{
    snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", certdir, name);
    return path_buf[slot];
}

/* Alerts seen through the event callback: level (1/2) and description. */
typedef struct ev_alert {
    int sent, from_server, level, desc;
} ev_alert;
static ev_alert evs[64];
static size_t nevs;

static void on_event(void *arg, const hasp_event *ev)
{
    (void)arg;
    if ((ev->type == HASP_EV_ALERT_SENT || ev->type == HASP_EV_ALERT_RECV) && nevs < 64) {
        evs[nevs].sent = ev->type == HASP_EV_ALERT_SENT;
        evs[nevs].from_server = ev->from_server;
        evs[nevs].level = !strcmp(ev->detail, "fatal") ? 2 : 1;
        evs[nevs].desc = ev->msg_type;
        nevs++;
    }
}

/* 1 if an alert with this level and description was received by the
 * side (server: 1) since the last reset. */
static int got_alert(int server_side, int level, int desc)
{
    for (size_t i = 0; i < nevs; i++)
        if (!evs[i].sent && evs[i].level == level && evs[i].desc == desc &&
            evs[i].from_server != server_side)
            return 1;
    return 0;
}

static void cfg_ok(int rc, hasp_config *cfg, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "config: %s: %s\n", what, hasp_config_errmsg(cfg));
        exit(1);
    }
}

/* A TLS 1.2 server with the RSA and ECDSA test certificates; all suites
 * unless ciphers says otherwise. verify_client: HASP_VERIFY_CLIENT_*. */
static hasp_config *srv_cfg(const char *ciphers, const char *groups, int verify_client)
{
    hasp_config *cfg = hasp_config_new();
    cfg_ok(hasp_config_set_versions(cfg, HASP_TLS1_2, HASP_TLS1_2), cfg, "versions");
    cfg_ok(hasp_config_add_cert_key_file(cfg, cpath(0, "rsa.pem"), cpath(1, "rsa.key")), cfg,
           "rsa");
    cfg_ok(hasp_config_add_cert_key_file(cfg, cpath(0, "ecdsa.pem"), cpath(1, "ecdsa.key")), cfg,
           "ecdsa");
    cfg_ok(hasp_config_set_ca_file(cfg, cpath(0, "ca.pem")), cfg, "ca");
    cfg_ok(hasp_config_set_ciphers(cfg, ciphers ? ciphers : "ALL"), cfg, "ciphers");
    if (groups) cfg_ok(hasp_config_set_groups(cfg, groups), cfg, "groups");
    if (verify_client)
        cfg_ok(hasp_config_set_verify_client(cfg, verify_client), cfg, "verify_client");
    hasp_config_set_event_cb(cfg, on_event, NULL);
    return cfg;
}

/* A TLS 1.2 client trusting the test root; cert names a client
 * certificate (e.g. "client-rsa") or is NULL. */
static hasp_config *cli_cfg(const char *ciphers, const char *groups, const char *cert)
{
    hasp_config *cfg = hasp_config_new();
    cfg_ok(hasp_config_set_versions(cfg, HASP_TLS1_2, HASP_TLS1_2), cfg, "versions");
    cfg_ok(hasp_config_set_ca_file(cfg, cpath(0, "ca.pem")), cfg, "ca");
    if (ciphers) cfg_ok(hasp_config_set_ciphers(cfg, ciphers), cfg, "ciphers");
    if (groups) cfg_ok(hasp_config_set_groups(cfg, groups), cfg, "groups");
    if (cert) {
        char c[64], k[64];
        snprintf(c, sizeof(c), "%s.pem", cert);
        snprintf(k, sizeof(k), "%s.key", cert);
        cfg_ok(hasp_config_add_cert_key_file(cfg, cpath(0, c), cpath(1, k)), cfg, "client cert");
    }
    hasp_config_set_event_cb(cfg, on_event, NULL);
    return cfg;
}

/* ================================================================== running */

static void out_take(hasp_conn *c, buf *b)
{
    const uint8_t *p;
    size_t n = hasp_conn_output(c, &p);
    b_put(b, p, n);
    hasp_conn_output_done(c, n);
}

typedef struct res {
    int rc;     /* the last call's result */
    int err;    /* hasp_conn_error afterwards */
    buf out;    /* every byte the connection sent meanwhile */
    size_t app; /* plaintext read */
} res;

/* Feed bytes to c (all of them, in as many calls as it takes), driving
 * the handshake or, once it is done, reading; stop at the first error.
 * With eof, signal the end of the transport afterwards. */
static void feed(hasp_conn *c, const uint8_t *p, size_t n, int eof, res *r)
{
    uint8_t tmp[20000];
    r->out = hasp_wr_dyn();
    r->app = 0;
    r->rc = HASP_WANT_POLLIN;
    size_t off = 0;
    for (int round = 0; round < 100000; round++) {
        if (off < n) {
            int t = hasp_conn_input(c, p + off, n - off);
            if (t > 0) off += (size_t)t;
        } else if (eof == 1) {
            hasp_conn_input_eof(c);
            eof = 2;
        }
        if (!hasp_conn_handshake_done(c)) {
            r->rc = hasp_conn_handshake(c);
        } else {
            do {
                r->rc = hasp_conn_read(c, tmp, sizeof(tmp));
                if (r->rc > 0) r->app += (size_t)r->rc;
            } while (r->rc > 0);
        }
        out_take(c, &r->out);
        if (r->rc != HASP_WANT_POLLIN && r->rc != 0) break;
        if (off >= n && eof != 1) break;
    }
    r->err = hasp_conn_error(c);
}

static void res_free(res *r)
{
    hasp_wr_free(&r->out);
}

/* A fresh server that eats these bytes (then EOF when eof is set). */
static void server_eats(hasp_config *scfg, const uint8_t *p, size_t n, int eof, res *r)
{
    hasp_conn *sv = hasp_conn_new(scfg, HASP_SERVER);
    feed(sv, p, n, eof, r);
    hasp_conn_free(sv);
}

/* ================================================================== checks */

/* The last record in out. */
static int last_record(const buf *out, rec *r)
{
    rec all[128];
    size_t n = split_records(out->p, out->len, all, 128);
    if (n == 0) return 0;
    *r = all[n - 1];
    return 1;
}

/* A plaintext fatal alert with this description is the last thing on the
 * wire: 15 03 0v 00 02 02 desc (v: 3, or 1 for a client that has not
 * seen the ServerHello's version yet). */
static int wire_alert(const buf *out, int desc)
{
    rec r;
    if (!last_record(out, &r)) return 0;
    return r.type == HASP_CT_ALERT && (r.version == 0x0303 || r.version == 0x0301) && r.len == 2 &&
           r.body[0] == 2 && r.body[1] == desc;
}

static char case_name[200];

static void case_begin(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(case_name, sizeof(case_name), fmt, ap);
    va_end(ap);
    nevs = 0;
}

/* The caller's error and the plaintext alert on the wire. desc -1: no
 * alert (and no byte) must go out. */
static void expect(const res *r, int rc, int desc)
{
    CHECK(r->rc == rc && r->err == rc, "%s: the call returns %s (got %s, hasp_conn_error %s)",
          case_name, hasp_err_name(rc), hasp_err_name(r->rc), hasp_err_name(r->err));
    if (desc < 0) {
        rec l;
        CHECK(!last_record(&r->out, &l) || l.type != HASP_CT_ALERT, "%s: no alert goes out",
              case_name);
    } else {
        int ok = wire_alert(&r->out, desc);
        CHECK(ok, "%s: the wire carries the fatal alert %s (15 03 03 00 02 02 %02x)", case_name,
              hasp_alert_name(desc), desc);
        if (!ok) {
            rec l;
            if (last_record(&r->out, &l))
                hexdump("last record sent", l.whole, 5 + l.len);
            else
                printf("#   nothing sent\n");
        }
    }
}

/* An encrypted fatal alert: the last record is of type alert, and the peer
 * decodes exactly desc from it (and fails with HASP_ERR_PEER_ALERT). */
static void expect_enc(const res *r, int rc, int desc, hasp_conn *peer)
{
    CHECK(r->rc == rc && r->err == rc, "%s: the call returns %s (got %s, hasp_conn_error %s)",
          case_name, hasp_err_name(rc), hasp_err_name(r->rc), hasp_err_name(r->err));
    rec l;
    int is_alert = last_record(&r->out, &l) && l.type == HASP_CT_ALERT && l.len > 2;
    res pr;
    feed(peer, r->out.p, r->out.len, 0, &pr);
    CHECK(is_alert && pr.rc == HASP_ERR_PEER_ALERT && hasp_conn_alert_received(peer) == desc,
          "%s: the wire carries an encrypted fatal alert that the peer reads as %s (peer: %s, "
          "alert %d)",
          case_name, hasp_alert_name(desc), hasp_err_name(pr.rc), hasp_conn_alert_received(peer));
    res_free(&pr);
}

/* ================================================================== a pair, in steps */

typedef struct duo {
    hasp_config *cc, *sc;
    hasp_conn *cl, *sv;
    buf ch;  /* the client's first flight (the ClientHello record) */
    buf sf;  /* the server's first flight */
    buf cf;  /* the client's second flight (Certificate.. Finished) */
    buf sf2; /* the server's last flight (CCS, Finished) */
} duo;

static void duo_init(duo *d, hasp_config *cc, hasp_config *sc)
{
    memset(d, 0, sizeof(*d));
    d->cc = cc;
    d->sc = sc;
    d->cl = hasp_conn_new(cc, HASP_CLIENT);
    d->sv = hasp_conn_new(sc, HASP_SERVER);
    hasp_conn_set_servername(d->cl, "localhost");
    d->ch = hasp_wr_dyn();
    d->sf = hasp_wr_dyn();
    d->cf = hasp_wr_dyn();
    d->sf2 = hasp_wr_dyn();
}

static void duo_free(duo *d)
{
    hasp_conn_free(d->cl);
    hasp_conn_free(d->sv);
    hasp_config_free(d->cc);
    hasp_config_free(d->sc);
    hasp_wr_free(&d->ch);
    hasp_wr_free(&d->sf);
    hasp_wr_free(&d->cf);
    hasp_wr_free(&d->sf2);
}

/* Client's ClientHello, recorded (not delivered). */
static int duo_hello(duo *d)
{
    if (hasp_conn_handshake(d->cl) != HASP_WANT_POLLIN) return -1;
    out_take(d->cl, &d->ch);
    return 0;
}

/* ... delivered; the server's flight recorded (not delivered). */
static int duo_server_flight(duo *d)
{
    if (duo_hello(d) < 0) return -1;
    hasp_conn_input(d->sv, d->ch.p, d->ch.len);
    if (hasp_conn_handshake(d->sv) != HASP_WANT_POLLIN) return -1;
    out_take(d->sv, &d->sf);
    return 0;
}

/* ... delivered; the client's second flight recorded (not delivered). */
static int duo_client_flight(duo *d)
{
    if (duo_server_flight(d) < 0) return -1;
    res r;
    feed(d->cl, d->sf.p, d->sf.len, 0, &r);
    int rc = r.rc;
    b_put(&d->cf, r.out.p, r.out.len);
    res_free(&r);
    return rc == HASP_WANT_POLLIN ? 0 : -1;
}

static duo *duo_new(const char *ciphers, const char *groups, int verify_client,
                    const char *client_cert)
{
    duo *d = malloc(sizeof(*d));
    duo_init(d, cli_cfg(ciphers, groups, client_cert), srv_cfg(NULL, NULL, verify_client));
    return d;
}

static void duo_del(duo *d)
{
    duo_free(d);
    free(d);
}

#define SETUP_OR_SKIP(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CHECK(0, "%s: setting up the real handshake failed", case_name);                       \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* ================================================================== ClientHello, as fields */

typedef struct ext {
    uint16_t type;
    buf data;
} ext;

typedef struct chello {
    uint16_t version;
    uint8_t random[32];
    buf sid, suites, comp;
    int has_exts;
    ext e[128];
    size_t ne;
} chello;

static void ch_free(chello *h)
{
    hasp_wr_free(&h->sid);
    hasp_wr_free(&h->suites);
    hasp_wr_free(&h->comp);
    for (size_t i = 0; i < h->ne; i++)
        hasp_wr_free(&h->e[i].data);
    memset(h, 0, sizeof(*h));
}

static int ch_parse(chello *h, const uint8_t *p, size_t n)
{
    memset(h, 0, sizeof(*h));
    h->sid = hasp_wr_dyn();
    h->suites = hasp_wr_dyn();
    h->comp = hasp_wr_dyn();
    hasp_rd r = hasp_rd_init(p, n), v;
    if (rd_u16(&r, &h->version) < 0 || rd_copy(&r, h->random, 32) < 0) return -1;
    if (rd_vec(&r, 1, &v) < 0) return -1;
    b_put(&h->sid, v.p, v.len);
    if (rd_vec(&r, 2, &v) < 0) return -1;
    b_put(&h->suites, v.p, v.len);
    if (rd_vec(&r, 1, &v) < 0) return -1;
    b_put(&h->comp, v.p, v.len);
    if (rd_left(&r) == 0) return 0;
    h->has_exts = 1;
    if (rd_vec(&r, 2, &v) < 0 || rd_left(&r)) return -1;
    while (rd_left(&v) && h->ne < 128) {
        hasp_rd d;
        if (rd_u16(&v, &h->e[h->ne].type) < 0 || rd_vec(&v, 2, &d) < 0) return -1;
        h->e[h->ne].data = hasp_wr_dyn();
        b_put(&h->e[h->ne].data, d.p, d.len);
        h->ne++;
    }
    return 0;
}

/* The body, every length computed. */
static void ch_body(const chello *h, buf *w)
{
    b_u16(w, h->version);
    b_put(w, h->random, 32);
    b_u8(w, (unsigned)h->sid.len);
    b_put(w, h->sid.p, h->sid.len);
    b_u16(w, (unsigned)h->suites.len);
    b_put(w, h->suites.p, h->suites.len);
    b_u8(w, (unsigned)h->comp.len);
    b_put(w, h->comp.p, h->comp.len);
    if (!h->has_exts) return;
    size_t total = 0;
    for (size_t i = 0; i < h->ne; i++)
        total += 4 + h->e[i].data.len;
    b_u16(w, (unsigned)total);
    for (size_t i = 0; i < h->ne; i++) {
        b_u16(w, h->e[i].type);
        b_u16(w, (unsigned)h->e[i].data.len);
        b_put(w, h->e[i].data.p, h->e[i].data.len);
    }
}

/* As a handshake message in one record (record version 0x0301). */
static void ch_record(const chello *h, buf *w)
{
    buf body = hasp_wr_dyn();
    ch_body(h, &body);
    buf m = hasp_wr_dyn();
    b_u8(&m, HS_CLIENT_HELLO);
    b_u24(&m, body.len);
    b_put(&m, body.p, body.len);
    for (size_t o = 0; o < m.len; o += HASP_REC_MAX_PLAINTEXT) {
        size_t k = m.len - o < HASP_REC_MAX_PLAINTEXT ? m.len - o : HASP_REC_MAX_PLAINTEXT;
        put_record(w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p + o, k);
    }
    hasp_wr_free(&m);
    hasp_wr_free(&body);
}

static ext *ch_ext(chello *h, uint16_t type)
{
    for (size_t i = 0; i < h->ne; i++)
        if (h->e[i].type == type) return &h->e[i];
    return NULL;
}

static void ch_ext_del(chello *h, uint16_t type)
{
    for (size_t i = 0; i < h->ne; i++)
        if (h->e[i].type == type) {
            hasp_wr_free(&h->e[i].data);
            memmove(&h->e[i], &h->e[i + 1], (h->ne - i - 1) * sizeof(ext));
            h->ne--;
            i--;
        }
}

static void ch_ext_add(chello *h, uint16_t type, const void *data, size_t len)
{
    if (h->ne >= 128) abort();
    h->e[h->ne].type = type;
    h->e[h->ne].data = hasp_wr_dyn();
    b_put(&h->e[h->ne].data, data, len);
    h->ne++;
    h->has_exts = 1;
}

static void ch_ext_set(chello *h, uint16_t type, const void *data, size_t len)
{
    ext *e = ch_ext(h, type);
    if (!e) {
        ch_ext_add(h, type, data, len);
        return;
    }
    b_reset(&e->data);
    b_put(&e->data, data, len);
}

static void ch_suites(chello *h, const uint16_t *ids, size_t n)
{
    b_reset(&h->suites);
    for (size_t i = 0; i < n; i++)
        b_u16(&h->suites, ids[i]);
}

/* A real hasp client's ClientHello (TLS 1.2 config with these suites). */
static int ch_from_client(chello *h, const char *ciphers, const char *groups)
{
    hasp_config *cc = cli_cfg(ciphers, groups, NULL);
    hasp_conn *cl = hasp_conn_new(cc, HASP_CLIENT);
    hasp_conn_set_servername(cl, "localhost");
    hasp_conn_handshake(cl);
    const uint8_t *p;
    size_t n = hasp_conn_output(cl, &p);
    int rc = -1;
    if (n > 9 && p[0] == HASP_CT_HANDSHAKE && p[5] == HS_CLIENT_HELLO)
        rc = ch_parse(h, p + 9, n - 9);
    hasp_conn_free(cl);
    hasp_config_free(cc);
    return rc;
}

/* ================================================================== more checks */

/* The description of the plaintext alert last sent, or -1. */
static int alert_of(const res *r)
{
    rec l;
    if (!last_record(&r->out, &l) || l.type != HASP_CT_ALERT || l.len != 2) return -1;
    return l.body[1];
}

/* Either of two outcomes is right (RFCs leave the choice open). */
static void expect2(const res *r, int rc1, int desc1, int rc2, int desc2)
{
    int a = r->rc == rc1 && r->err == rc1 && wire_alert(&r->out, desc1);
    int b = r->rc == rc2 && r->err == rc2 && wire_alert(&r->out, desc2);
    CHECK(a || b, "%s: %s with %s, or %s with %s (got %s, alert %d)", case_name, hasp_err_name(rc1),
          hasp_alert_name(desc1), hasp_err_name(rc2), hasp_alert_name(desc2), hasp_err_name(r->rc),
          alert_of(r));
}

/* The server took the hello: it answered with a TLS 1.2 ServerHello and
 * waits for more. */
static void expect_server_hello(const res *r)
{
    rec all[16];
    size_t n = split_records(r->out.p, r->out.len, all, 16);
    int sh = n > 0 && all[0].type == HASP_CT_HANDSHAKE && all[0].len >= 6 &&
             all[0].body[0] == HS_SERVER_HELLO && all[0].body[4] == 3 && all[0].body[5] == 3;
    CHECK(r->rc == HASP_WANT_POLLIN && r->err == 0 && sh,
          "%s: accepted: the server answers with a TLS 1.2 ServerHello (got %s%s)", case_name,
          hasp_err_name(r->rc), sh ? "" : ", no ServerHello");
}

/* ================================================================== 1. the record layer */

static void raw_case(const uint8_t *p, size_t n, int eof, int rc, int desc)
{
    hasp_config *sc = srv_cfg(NULL, NULL, 0);
    res r;
    server_eats(sc, p, n, eof, &r);
    expect(&r, rc, desc);
    res_free(&r);
    hasp_config_free(sc);
}

#define RAW(bytes, eof, rc, desc) raw_case(bytes, sizeof(bytes), eof, rc, desc)
#define TEXT(str, rc, desc) raw_case((const uint8_t *)(str), strlen(str), 0, rc, desc)

static void records(void)
{
    case_begin("HTTP GET to a TLS server");
    TEXT("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", HASP_ERR_NOT_TLS, -1);
    case_begin("HTTP POST to a TLS server");
    TEXT("POST /login HTTP/1.1\r\nContent-Length: 0\r\n\r\n", HASP_ERR_NOT_TLS, -1);
    case_begin("an SSH banner to a TLS server");
    TEXT("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", HASP_ERR_NOT_TLS, -1);

    /* SSLv2-format ClientHello (RFC 5246 E.2): msg_length 0x2e, type 1, version 3.1 */
    static const uint8_t sslv2[] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00,
                                    0x10, 0x00, 0x00, 0x39, 0x00, 0x00, 0x38, 0x00, 0x00, 0x35,
                                    0x00, 0x00, 0x16, 0x00, 0x00, 0x13, 0x00, 0x00, 0x0a, 0x00,
                                    0x00, 0x2f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
    case_begin("SSLv2-format ClientHello (RFC 6176: protocol_version)");
    RAW(sslv2, 0, HASP_ERR_VERSION, HASP_ALERT_PROTOCOL_VERSION);
    /* tlsfuzzer's "Empty SSLv2 record": a zero-length SSL 2.0 record and an
     * SSLv2 hello read together, so the third byte is the next header's
     * (0x81), not a message type: the same answer as when they come apart. */
    static const uint8_t sslv2_empty[] = {0x80, 0x00, 0x81, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15};
    case_begin("empty SSL 2.0 record, then an SSLv2 hello in the same read (protocol_version)");
    RAW(sslv2_empty, 0, HASP_ERR_VERSION, HASP_ALERT_PROTOCOL_VERSION);
    static const uint8_t sslv2_short[] = {0x80, 0x00};
    case_begin("empty SSL 2.0 record alone (protocol_version)");
    RAW(sslv2_short, 0, HASP_ERR_VERSION, HASP_ALERT_PROTOCOL_VERSION);

    static const uint8_t major4[] = {0x16, 0x04, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00};
    case_begin("record with major version 4");
    RAW(major4, 0, HASP_ERR_NOT_TLS, -1);

    /* RFC 5246 6: an unexpected record type MUST get unexpected_message. */
    static const uint8_t heartbeat[] = {0x18, 0x03, 0x03, 0x00, 0x03, 0x01, 0x00, 0x00};
    case_begin("first record of unknown content type 24 (heartbeat)");
    RAW(heartbeat, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);

    static const uint8_t overlong[] = {0x16, 0x03, 0x03, 0x48, 0x01, 0x01};
    case_begin("record length 18433 (over 2^14 + 2048)");
    RAW(overlong, 0, HASP_ERR_OVERFLOW, HASP_ALERT_RECORD_OVERFLOW);

    /* A plaintext record may carry 2^14 bytes, not one more. */
    {
        buf w = hasp_wr_dyn();
        uint8_t *body = calloc(1, 16385);
        body[0] = HS_CLIENT_HELLO;
        body[1] = 0x00;
        body[2] = 0x3f;
        body[3] = 0xfd; /* a ClientHello of 16381 bytes */
        put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, body, 16385);
        case_begin("plaintext record of 16385 bytes");
        raw_case(w.p, w.len, 0, HASP_ERR_OVERFLOW, HASP_ALERT_RECORD_OVERFLOW);
        free(body);
        hasp_wr_free(&w);
    }

    static const uint8_t empty_hs[] = {0x16, 0x03, 0x01, 0x00, 0x00};
    case_begin("zero-length handshake record");
    RAW(empty_hs, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    static const uint8_t empty_alert[] = {0x15, 0x03, 0x01, 0x00, 0x00};
    case_begin("zero-length alert record (RFC 8446 5.1: unexpected_message)");
    RAW(empty_alert, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    static const uint8_t empty_ccs[] = {0x14, 0x03, 0x01, 0x00, 0x00};
    case_begin("zero-length ChangeCipherSpec record (RFC 8446 5: unexpected_message)");
    RAW(empty_ccs, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    static const uint8_t alert3[] = {0x15, 0x03, 0x03, 0x00, 0x03, 0x02, 0x28, 0x00};
    case_begin("alert record of 3 bytes");
    RAW(alert3, 0, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);

    static const uint8_t half[] = {0x16, 0x03, 0x01, 0x00, 0x64, 0x01, 0x00, 0x00, 0x60, 0x03};
    case_begin("record cut short by EOF");
    RAW(half, 1, HASP_ERR_TRUNCATED, -1);
    static const uint8_t hdr3[] = {0x16, 0x03, 0x01};
    case_begin("record header cut short by EOF");
    RAW(hdr3, 1, HASP_ERR_TRUNCATED, -1);
    case_begin("EOF before any byte");
    raw_case(NULL, 0, 1, HASP_ERR_TRUNCATED, -1);

    static const uint8_t huge_msg[] = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff};
    case_begin("ClientHello announcing 16 MiB (over its syntax: decode_error from the header)");
    RAW(huge_msg, 0, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    static const uint8_t ch_over[] = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x02, 0x01, 0x45};
    case_begin("ClientHello announcing 131,397 bytes (one over the largest legal one)");
    RAW(ch_over, 0, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    static const uint8_t ke_first[] = {0x16, 0x03, 0x01, 0x00, 0x04, 24, 0xff, 0xff, 0xff};
    case_begin("KeyUpdate announcing 16 MiB first (the type is judged first: unexpected_message)");
    RAW(ke_first, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);

    static const uint8_t unknown_msg[] = {0x16, 0x03, 0x01, 0x00, 0x04, 99, 0x00, 0x00, 0x00};
    case_begin("unknown handshake message type 99 first");
    RAW(unknown_msg, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    static const uint8_t cke_first[] = {0x16, 0x03, 0x01, 0x00, 0x07, 0x10,
                                        0x00, 0x00, 0x03, 0x02, 0x00, 0x00};
    case_begin("ClientKeyExchange first");
    RAW(cke_first, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    static const uint8_t hello_req[] = {0x16, 0x03, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00};
    case_begin("HelloRequest sent to a server");
    RAW(hello_req, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    static const uint8_t app_first[] = {0x17, 0x03, 0x03, 0x00, 0x02, 'h', 'i'};
    case_begin("application data before the handshake");
    RAW(app_first, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    static const uint8_t ccs_first[] = {0x14, 0x03, 0x01, 0x00, 0x01, 0x01};
    case_begin("ChangeCipherSpec before the ClientHello");
    RAW(ccs_first, 0, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);

    static const uint8_t fatal_unknown[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0xff};
    case_begin("fatal alert with unknown description 255");
    {
        hasp_config *sc = srv_cfg(NULL, NULL, 0);
        hasp_conn *sv = hasp_conn_new(sc, HASP_SERVER);
        res r;
        feed(sv, fatal_unknown, sizeof(fatal_unknown), 0, &r);
        expect(&r, HASP_ERR_PEER_ALERT, -1);
        CHECK(hasp_conn_alert_received(sv) == 255 && r.out.len == 0,
              "%s: recorded as received (%d), nothing sent back", case_name,
              hasp_conn_alert_received(sv));
        res_free(&r);
        hasp_conn_free(sv);
        hasp_config_free(sc);
    }
    static const uint8_t level3[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x03, 0x28};
    case_begin("alert with level 3");
    RAW(level3, 0, HASP_ERR_ILLEGAL_PARAM, HASP_ALERT_ILLEGAL_PARAMETER);
}

/* ================================================================== 2. the ClientHello */

static void ch_case(chello *h, int rc, int desc)
{
    hasp_config *sc = srv_cfg(NULL, NULL, 0);
    buf w = hasp_wr_dyn();
    ch_record(h, &w);
    res r;
    server_eats(sc, w.p, w.len, 0, &r);
    if (rc == 0)
        expect_server_hello(&r);
    else
        expect(&r, rc, desc);
    res_free(&r);
    hasp_wr_free(&w);
    hasp_config_free(sc);
}

/* The body as bytes, patched at the extensions block. */
static size_t ext_block_offset(const chello *h)
{
    return 2 + 32 + 1 + h->sid.len + 2 + h->suites.len + 1 + h->comp.len;
}

static void body_case(const uint8_t *body, size_t n, size_t msg_len, int rc, int desc)
{
    buf w = hasp_wr_dyn(), m = hasp_wr_dyn();
    b_u8(&m, HS_CLIENT_HELLO);
    b_u24(&m, msg_len);
    b_put(&m, body, n);
    put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p, m.len);
    hasp_config *sc = srv_cfg(NULL, NULL, 0);
    res r;
    server_eats(sc, w.p, w.len, 0, &r);
    expect(&r, rc, desc);
    res_free(&r);
    hasp_config_free(sc);
    hasp_wr_free(&m);
    hasp_wr_free(&w);
}

#define FRESH(h)                                                                                   \
    do {                                                                                           \
        ch_free(&h);                                                                               \
        if (ch_from_client(&h, NULL, NULL) < 0) {                                                  \
            CHECK(0, "recording a real ClientHello");                                              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void client_hellos(void)
{
    chello h;
    memset(&h, 0, sizeof(h));
    static const struct {
        uint16_t v;
        int ok;
        const char *what;
    } versions[] = {
        {0x0301, 0, "TLS 1.0"},
        {0x0300, 0, "SSL 3.0"},
        {0x0200, 0, "SSL 2.0"},
        {0x0002, 0, "0x0002"},
        {0x0304, 1, "TLS 1.3 as legacy_version, without supported_versions"},
        {0x03ff, 1, "TLS 3.255 (unknown, higher)"},
        {0x0400, 1, "4.0 (unknown, higher: RFC 5246 E.1 says answer with TLS 1.2)"},
    };
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        FRESH(h);
        h.version = versions[i].v;
        case_begin("ClientHello version %s", versions[i].what);
        ch_case(&h, versions[i].ok ? 0 : HASP_ERR_VERSION, HASP_ALERT_PROTOCOL_VERSION);
    }

    FRESH(h);
    for (int i = 0; i < 33; i++)
        b_u8(&h.sid, i);
    case_begin("session ID of 33 bytes");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    for (int i = 0; i < 32; i++)
        b_u8(&h.sid, 0xee);
    case_begin("unknown session ID of 32 bytes");
    ch_case(&h, 0, 0);

    FRESH(h);
    b_reset(&h.suites);
    case_begin("empty cipher suite list");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    b_reset(&h.suites);
    b_u16(&h.suites, 0xc02f);
    b_u8(&h.suites, 0x00);
    case_begin("cipher suite list of odd length");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    static const uint16_t unknown_suites[] = {0x1234, 0xfefe, 0x0a0a};
    FRESH(h);
    ch_suites(&h, unknown_suites, 3);
    case_begin("only unknown cipher suites");
    ch_case(&h, HASP_ERR_HANDSHAKE, HASP_ALERT_HANDSHAKE_FAILURE);
    static const uint16_t tls13_suites[] = {0x1301, 0x1302, 0x1303};
    FRESH(h);
    ch_suites(&h, tls13_suites, 3);
    case_begin("only TLS 1.3 cipher suites in a TLS 1.2 hello");
    ch_case(&h, HASP_ERR_HANDSHAKE, HASP_ALERT_HANDSHAKE_FAILURE);
    static const uint16_t scsv_only[] = {0x00ff};
    FRESH(h);
    ch_suites(&h, scsv_only, 1);
    case_begin("only the renegotiation SCSV");
    ch_case(&h, HASP_ERR_HANDSHAKE, HASP_ALERT_HANDSHAKE_FAILURE);
    FRESH(h);
    b_reset(&h.suites);
    for (int i = 0; i < 300; i++)
        b_u16(&h.suites, 0x7000 + i);
    b_u16(&h.suites, 0xc02f);
    case_begin("300 unknown cipher suites, then a good one");
    ch_case(&h, 0, 0);

    FRESH(h);
    b_reset(&h.comp);
    case_begin("empty compression method list");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    b_reset(&h.comp);
    b_u8(&h.comp, 1);
    case_begin("compression methods without null (TLS 1.2: illegal_parameter)");
    ch_case(&h, HASP_ERR_ILLEGAL_PARAM, HASP_ALERT_ILLEGAL_PARAMETER);

    FRESH(h);
    {
        ext *g = ch_ext(&h, EXT_SUPPORTED_GROUPS);
        buf copy = hasp_wr_dyn();
        b_put(&copy, g->data.p, g->data.len);
        ch_ext_add(&h, EXT_SUPPORTED_GROUPS, copy.p, copy.len);
        hasp_wr_free(&copy);
    }
    case_begin("duplicate supported_groups extension");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    ch_ext_add(&h, 0x1234, "x", 1);
    ch_ext_add(&h, 0x1234, "y", 1);
    case_begin("duplicate unknown extension");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    while (h.ne < 110)
        ch_ext_add(&h, (uint16_t)(0x7000 + h.ne), NULL, 0);
    case_begin("110 extensions are served (RFC 8446 4.2; no limit by default)");
    ch_case(&h, 0, 0);
    /* repeats found past the first 32 types too (read_exts switches to a bitmap) */
    FRESH(h);
    uint16_t first_added = (uint16_t)(0x7000 + h.ne);
    while (h.ne < 60)
        ch_ext_add(&h, (uint16_t)(0x7000 + h.ne), NULL, 0);
    ch_ext_add(&h, first_added, NULL, 0);
    case_begin("an extension of the first 32 repeated as the 61st");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    while (h.ne < 60)
        ch_ext_add(&h, (uint16_t)(0x7000 + h.ne), NULL, 0);
    ch_ext_add(&h, (uint16_t)(0x7000 + 50), NULL, 0);
    case_begin("an extension past the first 32 repeated");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);

    /* lengths that do not add up */
    FRESH(h);
    {
        buf b = hasp_wr_dyn();
        ch_body(&h, &b);
        size_t o = ext_block_offset(&h);
        size_t total = (size_t)b.p[o] << 8 | b.p[o + 1];
        b.p[o] = (uint8_t)((total + 1) >> 8);
        b.p[o + 1] = (uint8_t)(total + 1);
        case_begin("extensions block one byte longer than the message");
        body_case(b.p, b.len, b.len, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
        /* the first extension's length past the block's end */
        b.p[o] = (uint8_t)(total >> 8);
        b.p[o + 1] = (uint8_t)total;
        b.p[o + 4] = 0xff;
        b.p[o + 5] = 0xf0;
        case_begin("extension length past the end of the block");
        body_case(b.p, b.len, b.len, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
        b.p[o + 4] = 0;
        b.p[o + 5] = (uint8_t)h.e[0].data.len;
        b_u8(&b, 0x00);
        case_begin("a byte after the extensions block");
        body_case(b.p, b.len, b.len, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
        case_begin("handshake length shorter than the body (last extension cut)");
        body_case(b.p, b.len - 3, b.len - 3, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
        case_begin("truncated ClientHello (35 bytes)");
        body_case(b.p, 35, 35, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
        hasp_wr_free(&b);
    }

    static const uint16_t plain_rsa[] = {0x009c};
    FRESH(h);
    while (h.ne)
        ch_ext_del(&h, h.e[0].type);
    h.has_exts = 1;
    ch_suites(&h, plain_rsa, 1);
    case_begin("empty extensions block, RSA key exchange");
    ch_case(&h, 0, 0);
    h.has_exts = 0;
    case_begin("no extensions at all, RSA key exchange");
    ch_case(&h, 0, 0);
    static const uint16_t ecdhe_only[] = {0xc02f, 0xc030};
    ch_suites(&h, ecdhe_only, 2);
    case_begin("no extensions, ECDHE suites only (no signature_algorithms)");
    ch_case(&h, HASP_ERR_HANDSHAKE, HASP_ALERT_HANDSHAKE_FAILURE);

    FRESH(h);
    ch_ext_set(&h, EXT_SUPPORTED_GROUPS, "\x00\x00", 2);
    case_begin("supported_groups with an empty list");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    ch_ext_set(&h, EXT_SUPPORTED_GROUPS, "\x00\x03\x00\x1d\x00", 5);
    case_begin("supported_groups of odd length");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    ch_suites(&h, ecdhe_only, 2);
    ch_ext_set(&h, EXT_SUPPORTED_GROUPS, "\x00\x04\x0a\x0a\x7f\x01", 6);
    case_begin("supported_groups with unknown groups only, ECDHE suites only");
    ch_case(&h, HASP_ERR_HANDSHAKE, HASP_ALERT_HANDSHAKE_FAILURE);
    FRESH(h);
    ch_suites(&h, ecdhe_only, 2);
    {
        buf g = hasp_wr_dyn();
        b_u16(&g, 2 * 41);
        for (int i = 0; i < 40; i++)
            b_u16(&g, 0x7f00 + i);
        b_u16(&g, HASP_GROUP_X25519);
        ch_ext_set(&h, EXT_SUPPORTED_GROUPS, g.p, g.len);
        hasp_wr_free(&g);
    }
    case_begin("40 unknown groups, then x25519");
    ch_case(&h, 0, 0);
    FRESH(h);
    ch_ext_set(&h, EXT_SIGNATURE_ALGORITHMS, "\x00\x00", 2);
    case_begin("signature_algorithms with an empty list");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    ch_suites(&h, ecdhe_only, 2);
    ch_ext_set(&h, EXT_SIGNATURE_ALGORITHMS, "\x00\x04\x01\x01\x7f\x7f", 6);
    case_begin("signature_algorithms with unknown schemes only, ECDHE suites only");
    ch_case(&h, HASP_ERR_HANDSHAKE, HASP_ALERT_HANDSHAKE_FAILURE);

    FRESH(h);
    ch_ext_set(&h, EXT_SERVER_NAME,
               "\x00\x10\x00\x00\x03"
               "a.b"
               "\x00\x00\x07"
               "c.d.efg",
               18);
    case_begin("server_name with two host names");
    ch_case(&h, HASP_ERR_ILLEGAL_PARAM, HASP_ALERT_ILLEGAL_PARAMETER);
    FRESH(h);
    ch_ext_set(&h, EXT_SERVER_NAME,
               "\x00\x0c\x00\x00\x09"
               "loca\0host",
               14);
    case_begin("server_name with a NUL byte");
    ch_case(&h, HASP_ERR_ILLEGAL_PARAM, HASP_ALERT_ILLEGAL_PARAMETER);
    FRESH(h);
    ch_ext_set(&h, EXT_SERVER_NAME, "\x00\x00", 2);
    case_begin("server_name with an empty list");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    {
        buf n = hasp_wr_dyn();
        b_u16(&n, 3 + 300);
        b_u8(&n, 0);
        b_u16(&n, 300);
        for (int i = 0; i < 300; i++)
            b_u8(&n, 'a' + i % 26);
        ch_ext_set(&h, EXT_SERVER_NAME, n.p, n.len);
        hasp_wr_free(&n);
    }
    case_begin("server_name of 300 bytes");
    ch_case(&h, HASP_ERR_ILLEGAL_PARAM, HASP_ALERT_ILLEGAL_PARAMETER);
    FRESH(h);
    ch_ext_set(&h, EXT_ALPN, "\x00\x04\x02h2\x00", 6);
    case_begin("ALPN list with an empty protocol name");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    ch_ext_set(&h, EXT_EC_POINT_FORMATS, "\x01\x01", 2);
    case_begin("ec_point_formats without uncompressed");
    ch_case(&h, HASP_ERR_ILLEGAL_PARAM, HASP_ALERT_ILLEGAL_PARAMETER);
    FRESH(h);
    ch_ext_set(&h, EXT_RENEGOTIATION_INFO,
               "\x0c"
               "0123456789ab",
               13);
    case_begin("renegotiation_info not empty on an initial handshake");
    ch_case(&h, HASP_ERR_HANDSHAKE, HASP_ALERT_HANDSHAKE_FAILURE);
    FRESH(h);
    ch_ext_set(&h, EXT_EXTENDED_MASTER_SECRET, "\x00", 1);
    case_begin("extended_master_secret with a body");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    FRESH(h);
    ch_ext_set(&h, EXT_ENCRYPT_THEN_MAC, "\x00", 1);
    case_begin("encrypt_then_mac with a body");
    ch_case(&h, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);

    /* ALPN with nothing in common */
    FRESH(h);
    ch_ext_set(&h, EXT_ALPN, "\x00\x07\x06spdy/1", 9);
    {
        hasp_config *sc = srv_cfg(NULL, NULL, 0);
        hasp_config_set_alpn(sc, "h2,http/1.1");
        buf w = hasp_wr_dyn();
        ch_record(&h, &w);
        res r;
        server_eats(sc, w.p, w.len, 0, &r);
        case_begin("ALPN with no protocol in common");
        expect(&r, HASP_ERR_NO_APP_PROTO, HASP_ALERT_NO_APPLICATION_PROTOCOL);
        res_free(&r);
        hasp_wr_free(&w);
        hasp_config_free(sc);
    }

    /* RFC 7507: a fallback to TLS 1.2 towards a server that has TLS 1.3 */
    FRESH(h);
    b_u16(&h.suites, 0x5600);
    {
        hasp_config *sc = srv_cfg(NULL, NULL, 0);
        hasp_config_set_versions(sc, HASP_TLS1_2, HASP_TLS1_3);
        buf w = hasp_wr_dyn();
        ch_record(&h, &w);
        res r;
        server_eats(sc, w.p, w.len, 0, &r);
        case_begin("TLS_FALLBACK_SCSV in a TLS 1.2 hello to a TLS 1.3 server");
        expect(&r, HASP_ERR_INAPPROPRIATE_FALLBACK, HASP_ALERT_INAPPROPRIATE_FALLBACK);
        res_free(&r);
        hasp_wr_free(&w);
        hasp_config_free(sc);
    }

    /* framing: record versions, fragments, two hellos */
    FRESH(h);
    {
        buf body = hasp_wr_dyn(), m = hasp_wr_dyn(), w = hasp_wr_dyn();
        ch_body(&h, &body);
        b_u8(&m, HS_CLIENT_HELLO);
        b_u24(&m, body.len);
        b_put(&m, body.p, body.len);
        hasp_config *sc = srv_cfg(NULL, NULL, 0);
        res r;

        put_record(&w, HASP_CT_HANDSHAKE, 0x0300, m.p, m.len);
        server_eats(sc, w.p, w.len, 0, &r);
        case_begin("ClientHello in a record of version 3.0");
        expect_server_hello(&r);
        res_free(&r);

        b_reset(&w);
        put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p, 2);
        put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p + 2, m.len - 2);
        server_eats(sc, w.p, w.len, 0, &r);
        case_begin("handshake header split across two records");
        expect_server_hello(&r);
        res_free(&r);

        b_reset(&w);
        for (size_t i = 0; i < m.len; i++)
            put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p + i, 1);
        server_eats(sc, w.p, w.len, 0, &r);
        case_begin("ClientHello in one-byte records");
        expect_server_hello(&r);
        res_free(&r);

        b_reset(&w);
        put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p, m.len);
        put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p, m.len);
        server_eats(sc, w.p, w.len, 0, &r);
        case_begin("two ClientHellos");
        expect(&r, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
        res_free(&r);

        b_reset(&w);
        put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p, m.len - 10);
        server_eats(sc, w.p, w.len, 1, &r);
        case_begin("ClientHello cut short by EOF");
        expect(&r, HASP_ERR_TRUNCATED, -1);
        res_free(&r);

        /* many warnings: a peer that never makes progress */
        b_reset(&w);
        for (int i = 0; i < 1000; i++)
            put_record(&w, HASP_CT_ALERT, HASP_TLS1_0, (const uint8_t *)"\x01\x5a", 2);
        put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p, m.len);
        server_eats(sc, w.p, w.len, 0, &r);
        case_begin("1000 warning alerts before the ClientHello");
        expect(&r, HASP_ERR_LIMIT, hasp_err_alert(HASP_ERR_LIMIT));
        res_free(&r);

        b_reset(&w);
        put_record(&w, HASP_CT_ALERT, HASP_TLS1_0, (const uint8_t *)"\x01\xc8", 2);
        put_record(&w, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p, m.len);
        server_eats(sc, w.p, w.len, 0, &r);
        case_begin("warning alert with unknown description 200, then the hello");
        expect_server_hello(&r);
        res_free(&r);

        hasp_config_free(sc);
        hasp_wr_free(&w);
        hasp_wr_free(&m);
        hasp_wr_free(&body);
    }
    ch_free(&h);
}

/* ================================================================== 3. the client's second flight
 */

/* Seal a record as c would, with its current write keys but at sequence
 * number seq (c's own state is left alone). */
static void seal_as(hasp_conn *c, uint64_t seq, uint8_t type, const uint8_t *p, size_t n, buf *w)
{
    hasp_rec_prot copy = c->wr;
    copy.seq = seq;
    if (hasp_rec_seal(&copy, type, HASP_TLS1_2, p, n, w) < 0) abort();
}

/* A handshake message as bytes (header included). */
static void hs_bytes(buf *w, uint8_t type, const uint8_t *body, size_t n)
{
    b_u8(w, type);
    b_u24(w, n);
    b_put(w, body, n);
}

/* Run the real handshake to the client's second flight, let f hold it;
 * then the test builds what the server gets. */
static duo *to_client_flight(const char *ciphers, const char *groups, int verify_client,
                             const char *cert, flight *f)
{
    duo *d = duo_new(ciphers, groups, verify_client, cert);
    memset(f, 0, sizeof(*f));
    if (duo_client_flight(d) < 0) {
        duo_del(d);
        return NULL;
    }
    flight_parse(d->cf.p, d->cf.len, f);
    return d;
}

/* The server eats w; check rc and the plaintext alert. */
static void server_case(duo *d, buf *w, int rc, int desc)
{
    res r;
    feed(d->sv, w->p, w->len, 0, &r);
    expect(&r, rc, desc);
    res_free(&r);
}

static void sequence(void)
{
    flight f;
    duo *d;
    buf w = hasp_wr_dyn();
    static const uint8_t ccs[] = {1};
    static const uint8_t fin12[12] = {0};

    case_begin("ChangeCipherSpec right after the ClientHello");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    put_record(&w, HASP_CT_CHANGE_CIPHER_SPEC, HASP_TLS1_2, ccs, 1);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("Finished (plaintext) before ChangeCipherSpec");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    flight_emit(&f, &w, 0, 0);
    put_msg(&w, HS_FINISHED, fin12, 12, HASP_TLS1_2);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("the encrypted Finished before ChangeCipherSpec");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    flight_emit(&f, &w, 0, 1);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("ChangeCipherSpec twice");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    flight_emit(&f, &w, 1, 0);
    seal_as(d->cl, 0, HASP_CT_CHANGE_CIPHER_SPEC, ccs, 1, &w);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("ChangeCipherSpec with value 2 (unexpected_message, as RFC 8446 5 assigns)");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    flight_emit(&f, &w, 0, 0);
    put_record(&w, HASP_CT_CHANGE_CIPHER_SPEC, HASP_TLS1_2, (const uint8_t *)"\x02", 1);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("application data (plaintext) in the middle of the handshake");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    put_record(&w, HASP_CT_APPLICATION_DATA, HASP_TLS1_2, (const uint8_t *)"GET /", 5);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("application data (encrypted) between ChangeCipherSpec and Finished");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    flight_emit(&f, &w, 1, 0);
    seal_as(d->cl, 0, HASP_CT_APPLICATION_DATA, (const uint8_t *)"GET /", 5, &w);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("a second ClientHello instead of ClientKeyExchange");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    server_case(d, &d->ch, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("client Certificate that was not asked for");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    put_msg(&w, HS_CERTIFICATE, (const uint8_t *)"\x00\x00\x00", 3, HASP_TLS1_2);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("CertificateVerify without a client certificate");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    flight_emit(&f, &w, 0, 0);
    put_msg(&w, HS_CERTIFICATE_VERIFY, (const uint8_t *)"\x08\x04\x00\x01\x00", 5, HASP_TLS1_2);
    server_case(d, &w, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);
    flight_free(&f);

    case_begin("Finished with wrong verify_data (properly encrypted)");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    flight_emit(&f, &w, 1, 0);
    {
        buf m = hasp_wr_dyn();
        hs_bytes(&m, HS_FINISHED, fin12, 12);
        seal_as(d->cl, 0, HASP_CT_HANDSHAKE, m.p, m.len, &w);
        hasp_wr_free(&m);
    }
    server_case(d, &w, HASP_ERR_DECRYPT, HASP_ALERT_DECRYPT_ERROR);
    duo_del(d);
    flight_free(&f);

    case_begin("Finished of 11 bytes (properly encrypted)");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    flight_emit(&f, &w, 1, 0);
    {
        buf m = hasp_wr_dyn();
        hs_bytes(&m, HS_FINISHED, fin12, 11);
        seal_as(d->cl, 0, HASP_CT_HANDSHAKE, m.p, m.len, &w);
        hasp_wr_free(&m);
    }
    server_case(d, &w, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR);
    duo_del(d);
    flight_free(&f);

    case_begin("fatal alert with unknown description in the middle of the handshake");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    put_record(&w, HASP_CT_ALERT, HASP_TLS1_2, (const uint8_t *)"\x02\xfe", 2);
    {
        res r;
        feed(d->sv, w.p, w.len, 0, &r);
        expect(&r, HASP_ERR_PEER_ALERT, -1);
        CHECK(hasp_conn_alert_received(d->sv) == 0xfe && r.out.len == 0,
              "%s: recorded as received, nothing sent back", case_name);
        res_free(&r);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("warning alert with unknown description, then the real flight");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, &f);
    SETUP_OR_SKIP(d);
    b_reset(&w);
    put_record(&w, HASP_CT_ALERT, HASP_TLS1_2, (const uint8_t *)"\x01\xfe", 2);
    b_put(&w, d->cf.p, d->cf.len);
    {
        res r;
        feed(d->sv, w.p, w.len, 0, &r);
        CHECK(r.rc == 0 && hasp_conn_handshake_done(d->sv),
              "%s: ignored, the handshake completes (%s)", case_name, hasp_err_name(r.rc));
        res_free(&r);
    }
    duo_del(d);
    flight_free(&f);
out:
    hasp_wr_free(&w);
}

/* ================================================================== 4. key exchange values */

/* Replace the ClientKeyExchange body and send the flight. */
static void cke_case(const char *ciphers, const char *groups, const uint8_t *body, size_t n, int rc,
                     int desc, int rc2, int desc2)
{
    flight f;
    duo *d = to_client_flight(ciphers, groups, 0, NULL, &f);
    if (!d) {
        CHECK(0, "%s: setting up the real handshake failed", case_name);
        return;
    }
    msg *cke = flight_find(&f, HS_CLIENT_KEY_EXCHANGE);
    b_reset(&cke->body);
    b_put(&cke->body, body, n);
    buf w = hasp_wr_dyn();
    flight_emit(&f, &w, 1, 1);
    res r;
    feed(d->sv, w.p, w.len, 0, &r);
    if (rc2)
        expect2(&r, rc, desc, rc2, desc2);
    else
        expect(&r, rc, desc);
    res_free(&r);
    hasp_wr_free(&w);
    flight_free(&f);
    duo_del(d);
}

/* The client's real ClientKeyExchange body for this suite. */
static int real_cke(const char *ciphers, const char *groups, buf *out)
{
    flight f;
    duo *d = to_client_flight(ciphers, groups, 0, NULL, &f);
    if (!d) return -1;
    msg *cke = flight_find(&f, HS_CLIENT_KEY_EXCHANGE);
    int rc = -1;
    if (cke) {
        b_put(out, cke->body.p, cke->body.len);
        rc = 0;
    }
    flight_free(&f);
    duo_del(d);
    return rc;
}

#define X25519 "ECDHE-RSA-AES128-GCM-SHA256", "x25519"
#define P256 "ECDHE-RSA-AES128-GCM-SHA256", "P-256"
#define DHE "DHE-RSA-AES128-GCM-SHA256", "ffdhe2048"
#define ILLEGAL HASP_ERR_ILLEGAL_PARAM, HASP_ALERT_ILLEGAL_PARAMETER
#define DECODE HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR

static void key_exchange(void)
{
    uint8_t b[600];

    memset(b, 0, sizeof(b));
    b[0] = 32;
    case_begin("X25519 public value of all zeros");
    cke_case(X25519, b, 33, ILLEGAL, 0, 0);
    b[1] = 1;
    case_begin("X25519 public value 1 (small order)");
    cke_case(X25519, b, 33, ILLEGAL, 0, 0);
    b[0] = 31;
    case_begin("X25519 public value of 31 bytes");
    cke_case(X25519, b, 32, ILLEGAL, DECODE);

    buf real = hasp_wr_dyn();
    if (real_cke(P256, &real) < 0 || real.len != 66) {
        CHECK(0, "recording a P-256 ClientKeyExchange");
    } else {
        memcpy(b, real.p, 66);
        b[65] ^= 0x01;
        case_begin("P-256 point not on the curve");
        cke_case(P256, b, 66, ILLEGAL, 0, 0);
        b[0] = 33;
        b[1] = 0x02;
        memcpy(b + 2, real.p + 2, 32);
        case_begin("P-256 point in compressed form");
        cke_case(P256, b, 34, ILLEGAL, 0, 0);
        b[0] = 1;
        b[1] = 0x00;
        case_begin("P-256 point at infinity (one zero byte)");
        cke_case(P256, b, 2, ILLEGAL, DECODE);
        /* x = p: coordinates must be reduced */
        static const uint8_t p256[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
                                         0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                         0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        memcpy(b, real.p, 66);
        memcpy(b + 2, p256, 32);
        case_begin("P-256 point with x = p");
        cke_case(P256, b, 66, ILLEGAL, 0, 0);
        memcpy(b, real.p, 66);
        b[0] = 64;
        case_begin("P-256 point without its 04 prefix");
        cke_case(P256, b, 65, ILLEGAL, DECODE);
    }
    hasp_wr_free(&real);

    const uint8_t *p, *g;
    size_t p_len, g_len;
    if (hasp_ffdhe_params(HASP_GROUP_FFDHE2048, &p, &p_len, &g, &g_len) < 0 || p_len != 256) {
        CHECK(0, "ffdhe2048 parameters");
        return;
    }
    /* Yc as 256 bytes */
    b[0] = 1;
    b[1] = 0;
    memset(b + 2, 0, 256);
    case_begin("DH public value 0");
    cke_case(DHE, b, 258, ILLEGAL, 0, 0);
    b[257] = 1;
    case_begin("DH public value 1");
    cke_case(DHE, b, 258, ILLEGAL, 0, 0);
    memcpy(b + 2, p, 256);
    b[257] -= 1;
    case_begin("DH public value p-1");
    cke_case(DHE, b, 258, ILLEGAL, 0, 0);
    memcpy(b + 2, p, 256);
    case_begin("DH public value p");
    cke_case(DHE, b, 258, ILLEGAL, 0, 0);
    b[0] = 1;
    b[1] = 1;
    b[2] = 1;
    memcpy(b + 3, p, 256);
    case_begin("DH public value longer than p (257 bytes)");
    cke_case(DHE, b, 259, ILLEGAL, DECODE);

    case_begin("ClientKeyExchange with an empty body");
    cke_case(X25519, b, 0, DECODE, 0, 0);
    memset(b, 7, 40);
    b[0] = 32;
    case_begin("ClientKeyExchange with a byte after the public value");
    cke_case(X25519, b, 34, DECODE, 0, 0);

    /* RSA key transport: a bad pre-master secret must not be told apart
     * from a good one until Finished, which then fails to decrypt. */
    b[0] = 1;
    b[1] = 0;
    for (int i = 0; i < 256; i++)
        b[2 + i] = (uint8_t)(i * 13 + 5);
    case_begin("RSA: random ciphertext of the modulus size");
    cke_case("AES128-GCM-SHA256", NULL, b, 258, HASP_ERR_BAD_MAC, HASP_ALERT_BAD_RECORD_MAC, 0, 0);
    b[0] = 0;
    b[1] = 10;
    case_begin("RSA: ciphertext of 10 bytes");
    cke_case("AES128-GCM-SHA256", NULL, b, 12, HASP_ERR_BAD_MAC, HASP_ALERT_BAD_RECORD_MAC, 0, 0);
    {
        /* a well-formed PKCS#1 block, but the wrong version inside */
        size_t flen;
        FILE *fp = fopen(cpath(0, "rsa-leaf.pem"), "rb");
        uint8_t pem[8192];
        flen = fp ? fread(pem, 1, sizeof(pem), fp) : 0;
        if (fp) fclose(fp);
        const uint8_t *q = pem;
        char label[32];
        uint8_t *der = NULL;
        size_t der_len = 0;
        const uint8_t *spki;
        size_t spki_len;
        hasp_pkey *pub = NULL;
        if (flen && hasp_pem_next(&q, pem + flen, label, sizeof(label), &der, &der_len) == 1 &&
            hasp_x509_spki(der, der_len, &spki, &spki_len) == 0)
            pub = hasp_pkey_from_spki(spki, spki_len);
        uint8_t pms[48], ct[512];
        size_t ct_len = 0;
        pms[0] = 0x03;
        pms[1] = 0x02; /* TLS 1.1: not the version the client offered */
        memset(pms + 2, 0x42, 46);
        if (pub && hasp_rsa_encrypt_pkcs1(pub, pms, 48, ct, sizeof(ct), &ct_len) == 0) {
            b[0] = (uint8_t)(ct_len >> 8);
            b[1] = (uint8_t)ct_len;
            memcpy(b + 2, ct, ct_len);
            case_begin("RSA: pre-master secret with the wrong version");
            cke_case("AES128-GCM-SHA256", NULL, b, 2 + ct_len, HASP_ERR_BAD_MAC,
                     HASP_ALERT_BAD_RECORD_MAC, 0, 0);
        } else {
            CHECK(0, "RSA-encrypting a pre-master secret to the test server");
        }
        hasp_pkey_free(pub);
        free(der);
    }
}

/* ================================================================== 5. client certificates */

static void client_auth(void)
{
    flight f;
    duo *d;
    buf w = hasp_wr_dyn();

    case_begin("server requires a certificate, the client has none");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, HASP_VERIFY_CLIENT_REQUIRE, NULL, &f);
    SETUP_OR_SKIP(d);
    server_case(d, &d->cf, HASP_ERR_HANDSHAKE, HASP_ALERT_HANDSHAKE_FAILURE);
    duo_del(d);
    flight_free(&f);

    case_begin("client certificate from an untrusted CA");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, HASP_VERIFY_CLIENT_OPTIONAL,
                         "bad-client", &f);
    SETUP_OR_SKIP(d);
    server_case(d, &d->cf, HASP_ERR_CERT_UNKNOWN_CA, HASP_ALERT_UNKNOWN_CA);
    duo_del(d);
    flight_free(&f);

    case_begin("CertificateVerify with a corrupted signature");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, HASP_VERIFY_CLIENT_OPTIONAL,
                         "client-rsa", &f);
    SETUP_OR_SKIP(d);
    {
        msg *cv = flight_find(&f, HS_CERTIFICATE_VERIFY);
        SETUP_OR_SKIP(cv && cv->body.len > 10);
        cv->body.p[cv->body.len - 5] ^= 0x40;
        b_reset(&w);
        flight_emit(&f, &w, 1, 1);
        server_case(d, &w, HASP_ERR_DECRYPT, HASP_ALERT_DECRYPT_ERROR);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("CertificateVerify with a scheme that was not offered (ecdsa_sha1)");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, HASP_VERIFY_CLIENT_OPTIONAL,
                         "client-rsa", &f);
    SETUP_OR_SKIP(d);
    {
        msg *cv = flight_find(&f, HS_CERTIFICATE_VERIFY);
        SETUP_OR_SKIP(cv && cv->body.len > 10);
        cv->body.p[0] = 0x02;
        cv->body.p[1] = 0x03;
        b_reset(&w);
        flight_emit(&f, &w, 1, 1);
        server_case(d, &w, HASP_ERR_ILLEGAL_PARAM, HASP_ALERT_ILLEGAL_PARAMETER);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("client Certificate holding garbage instead of DER");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, HASP_VERIFY_CLIENT_OPTIONAL,
                         "client-rsa", &f);
    SETUP_OR_SKIP(d);
    {
        msg *c = flight_find(&f, HS_CERTIFICATE);
        SETUP_OR_SKIP(c);
        static const uint8_t junk[] = {0x00, 0x00, 0x08, 0x00, 0x00, 0x05,
                                       0x30, 0x03, 0x02, 0x01, 0x05};
        b_reset(&c->body);
        b_put(&c->body, junk, sizeof(junk));
        b_reset(&w);
        flight_emit(&f, &w, 1, 1);
        res r;
        feed(d->sv, w.p, w.len, 0, &r);
        expect2(&r, HASP_ERR_CERT_BAD, HASP_ALERT_BAD_CERTIFICATE, DECODE);
        res_free(&r);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("client Certificate whose list length overruns");
    d = to_client_flight("ECDHE-RSA-AES128-GCM-SHA256", NULL, HASP_VERIFY_CLIENT_OPTIONAL,
                         "client-rsa", &f);
    SETUP_OR_SKIP(d);
    {
        msg *c = flight_find(&f, HS_CERTIFICATE);
        SETUP_OR_SKIP(c && c->body.len > 10);
        c->body.p[2] += 1;
        b_reset(&w);
        flight_emit(&f, &w, 1, 1);
        server_case(d, &w, DECODE);
    }
    duo_del(d);
    flight_free(&f);
out:
    hasp_wr_free(&w);
}

/* ================================================================== 6. a hostile server */

/* The server's first flight, parsed, for the client to get patched. */
static duo *to_server_flight(const char *ciphers, const char *groups, flight *f)
{
    duo *d = duo_new(ciphers, groups, 0, NULL);
    memset(f, 0, sizeof(*f));
    if (duo_server_flight(d) < 0) {
        duo_del(d);
        return NULL;
    }
    flight_parse(d->sf.p, d->sf.len, f);
    return d;
}

static void client_case(duo *d, const flight *f, int rc, int desc)
{
    buf w = hasp_wr_dyn();
    flight_emit(f, &w, 1, 1);
    res r;
    feed(d->cl, w.p, w.len, 0, &r);
    expect(&r, rc, desc);
    res_free(&r);
    hasp_wr_free(&w);
}

/* Re-sign a ServerKeyExchange whose params were changed, with the test
 * server's RSA key, so that the client gets past the signature. */
static int resign_ske(duo *d, msg *ske, size_t params_len, uint16_t scheme)
{
    FILE *fp = fopen(cpath(0, "rsa.key"), "rb");
    uint8_t pem[8192];
    size_t n = fp ? fread(pem, 1, sizeof(pem), fp) : 0;
    if (fp) fclose(fp);
    hasp_pkey *key = n ? hasp_pkey_from_private_pem(pem, n) : NULL;
    if (!key) return -1;
    const uint8_t *ch = d->ch.p + 9, *sh = d->sf.p + 9;
    buf tbs = hasp_wr_dyn();
    b_put(&tbs, ch + 2, 32);
    b_put(&tbs, sh + 2, 32);
    b_put(&tbs, ske->body.p, params_len);
    uint8_t sig[1024];
    size_t sig_len;
    int rc = hasp_sign_scheme(key, scheme, tbs.p, tbs.len, sig, sizeof(sig), &sig_len);
    hasp_pkey_free(key);
    hasp_wr_free(&tbs);
    if (rc < 0) return -1;
    ske->body.len = params_len;
    b_u16(&ske->body, scheme);
    b_u16(&ske->body, (unsigned)sig_len);
    b_put(&ske->body, sig, sig_len);
    return 0;
}

/* DHE ServerKeyExchange with Ys replaced (and p, when p_new is set). */
static void dhe_ske_case(const uint8_t *ys, size_t ys_len, const uint8_t *p_new, size_t p_new_len,
                         int rc, int desc)
{
    flight f;
    duo *d = to_server_flight("DHE-RSA-AES128-GCM-SHA256", "ffdhe2048", &f);
    msg *ske = d ? flight_find(&f, HS_SERVER_KEY_EXCHANGE) : NULL;
    if (!ske) {
        CHECK(0, "%s: setting up the real handshake failed", case_name);
        if (d) {
            duo_del(d);
            flight_free(&f);
        }
        return;
    }
    hasp_rd r = hasp_rd_init(ske->body.p, ske->body.len), p, g, y;
    rd_vec(&r, 2, &p);
    rd_vec(&r, 2, &g);
    rd_vec(&r, 2, &y);
    uint16_t scheme;
    rd_u16(&r, &scheme);
    buf params = hasp_wr_dyn();
    if (p_new) {
        b_u16(&params, (unsigned)p_new_len);
        b_put(&params, p_new, p_new_len);
    } else {
        b_u16(&params, (unsigned)p.len);
        b_put(&params, p.p, p.len);
    }
    b_u16(&params, (unsigned)g.len);
    b_put(&params, g.p, g.len);
    if (ys) {
        b_u16(&params, (unsigned)ys_len);
        b_put(&params, ys, ys_len);
    } else {
        b_u16(&params, (unsigned)y.len);
        b_put(&params, y.p, y.len);
    }
    b_reset(&ske->body);
    b_put(&ske->body, params.p, params.len);
    if (resign_ske(d, ske, params.len, scheme) < 0)
        CHECK(0, "%s: re-signing the ServerKeyExchange", case_name);
    else
        client_case(d, &f, rc, desc);
    hasp_wr_free(&params);
    flight_free(&f);
    duo_del(d);
}

/* ECDHE ServerKeyExchange with the group and point replaced. */
static void ecdhe_ske_case(const char *groups, uint8_t curve_type, uint16_t group,
                           const uint8_t *pt, size_t pt_len, int rc, int desc)
{
    flight f;
    duo *d = to_server_flight("ECDHE-RSA-AES128-GCM-SHA256", groups, &f);
    msg *ske = d ? flight_find(&f, HS_SERVER_KEY_EXCHANGE) : NULL;
    if (!ske) {
        CHECK(0, "%s: setting up the real handshake failed", case_name);
        if (d) {
            duo_del(d);
            flight_free(&f);
        }
        return;
    }
    hasp_rd r = hasp_rd_init(ske->body.p, ske->body.len), pub;
    uint8_t ct;
    uint16_t grp, scheme;
    rd_u8(&r, &ct);
    rd_u16(&r, &grp);
    rd_vec(&r, 1, &pub);
    rd_u16(&r, &scheme);
    buf params = hasp_wr_dyn();
    b_u8(&params, curve_type);
    b_u16(&params, group ? group : grp);
    b_u8(&params, (unsigned)(pt ? pt_len : pub.len));
    b_put(&params, pt ? pt : pub.p, pt ? pt_len : pub.len);
    b_reset(&ske->body);
    b_put(&ske->body, params.p, params.len);
    if (resign_ske(d, ske, params.len, scheme) < 0)
        CHECK(0, "%s: re-signing the ServerKeyExchange", case_name);
    else
        client_case(d, &f, rc, desc);
    hasp_wr_free(&params);
    flight_free(&f);
    duo_del(d);
}

static void hostile_server(void)
{
    flight f;
    duo *d;
    msg *m;

#define SERVER_FLIGHT(ciphers, groups)                                                             \
    d = to_server_flight(ciphers, groups, &f);                                                     \
    SETUP_OR_SKIP(d)

    case_begin("ServerHello with version TLS 1.1");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_SERVER_HELLO);
    m->body.p[1] = 0x02;
    client_case(d, &f, HASP_ERR_VERSION, HASP_ALERT_PROTOCOL_VERSION);
    duo_del(d);
    flight_free(&f);

    case_begin("ServerHello choosing a suite that was not offered");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_SERVER_HELLO);
    {
        size_t o = 2 + 32 + 1 + m->body.p[34];
        m->body.p[o] = 0x00;
        m->body.p[o + 1] = 0x9d;
    }
    client_case(d, &f, ILLEGAL);
    duo_del(d);
    flight_free(&f);

    case_begin("ServerHello choosing compression method 1");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_SERVER_HELLO);
    m->body.p[2 + 32 + 1 + m->body.p[34] + 2] = 1;
    client_case(d, &f, ILLEGAL);
    duo_del(d);
    flight_free(&f);

    case_begin("ServerHello with session ID length 33");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_SERVER_HELLO);
    m->body.p[34] = 33;
    client_case(d, &f, DECODE);
    duo_del(d);
    flight_free(&f);

    /* ServerHello extensions: rebuild the block */
    static const struct {
        const char *what;
        uint16_t type;
        const char *data;
        size_t len;
        int rc, desc;
    } sh_exts[] = {
        {"an extension the client did not offer (0x1234)", 0x1234, "", 0, HASP_ERR_UNSUPPORTED_EXT,
         HASP_ALERT_UNSUPPORTED_EXTENSION},
        {"ALPN the client did not offer", EXT_ALPN, "\x00\x03\x02h2", 5, HASP_ERR_UNSUPPORTED_EXT,
         HASP_ALERT_UNSUPPORTED_EXTENSION},
        {"extended_master_secret twice", EXT_EXTENDED_MASTER_SECRET, "", 0, DECODE},
        {"renegotiation_info not empty", 0xffff, "", 0, HASP_ERR_HANDSHAKE,
         HASP_ALERT_HANDSHAKE_FAILURE},
        {"a byte after the extensions", 0xfffe, "", 0, DECODE},
    };
    for (size_t i = 0; i < sizeof(sh_exts) / sizeof(sh_exts[0]); i++) {
        case_begin("ServerHello with %s", sh_exts[i].what);
        SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
        m = flight_find(&f, HS_SERVER_HELLO);
        size_t o = 2 + 32 + 1 + m->body.p[34] + 3;
        buf nb = hasp_wr_dyn();
        b_put(&nb, m->body.p, o);
        buf ex = hasp_wr_dyn();
        if (o + 2 <= m->body.len) b_put(&ex, m->body.p + o + 2, m->body.len - o - 2);
        if (sh_exts[i].type == 0xffff) {
            b_u16(&ex, EXT_RENEGOTIATION_INFO);
            b_u16(&ex, 13);
            b_put(&ex,
                  "\x0c"
                  "0123456789ab",
                  13);
        } else if (sh_exts[i].type != 0xfffe) {
            b_u16(&ex, sh_exts[i].type);
            b_u16(&ex, (unsigned)sh_exts[i].len);
            b_put(&ex, sh_exts[i].data, sh_exts[i].len);
        }
        /* the renegotiation_info case: drop the server's own (empty) one */
        if (sh_exts[i].type == 0xffff) {
            buf clean = hasp_wr_dyn();
            hasp_rd r = hasp_rd_init(ex.p, ex.len);
            while (rd_left(&r)) {
                uint16_t t;
                hasp_rd v;
                if (rd_u16(&r, &t) < 0 || rd_vec(&r, 2, &v) < 0) break;
                if (t == EXT_RENEGOTIATION_INFO && v.len == 1) continue;
                b_u16(&clean, t);
                b_u16(&clean, (unsigned)v.len);
                b_put(&clean, v.p, v.len);
            }
            b_reset(&ex);
            b_put(&ex, clean.p, clean.len);
            hasp_wr_free(&clean);
        }
        b_u16(&nb, (unsigned)ex.len);
        b_put(&nb, ex.p, ex.len);
        if (sh_exts[i].type == 0xfffe) b_u8(&nb, 0);
        b_reset(&m->body);
        b_put(&m->body, nb.p, nb.len);
        hasp_wr_free(&nb);
        hasp_wr_free(&ex);
        client_case(d, &f, sh_exts[i].rc, sh_exts[i].desc);
        duo_del(d);
        flight_free(&f);
    }

    case_begin("ServerKeyExchange with a corrupted signature");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_SERVER_KEY_EXCHANGE);
    m->body.p[m->body.len - 3] ^= 0x10;
    client_case(d, &f, HASP_ERR_DECRYPT, HASP_ALERT_DECRYPT_ERROR);
    duo_del(d);
    flight_free(&f);

    case_begin("ServerKeyExchange signed with a scheme the client did not offer");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_SERVER_KEY_EXCHANGE);
    {
        size_t params = 4 + m->body.p[3];
        if (resign_ske(d, m, params, HASP_SIG_RSA_PKCS1_SHA1) < 0)
            CHECK(0, "%s: re-signing", case_name);
        else
            client_case(d, &f, ILLEGAL);
    }
    duo_del(d);
    flight_free(&f);

    uint8_t zero[32] = {0}, one[32] = {1};
    case_begin("ServerKeyExchange X25519 value of all zeros (re-signed)");
    ecdhe_ske_case("x25519", 3, 0, zero, 32, ILLEGAL);
    case_begin("ServerKeyExchange X25519 value 1 (re-signed)");
    ecdhe_ske_case("x25519", 3, 0, one, 32, ILLEGAL);
    case_begin("ServerKeyExchange group the client did not offer (re-signed)");
    ecdhe_ske_case("x25519", 3, HASP_GROUP_SECP384R1, NULL, 0, ILLEGAL);
    case_begin("ServerKeyExchange with explicit curve parameters (curve_type 1)");
    ecdhe_ske_case("x25519", 1, 0, NULL, 0, ILLEGAL);
    {
        uint8_t bad[65];
        memset(bad, 0x11, sizeof(bad));
        bad[0] = 4;
        case_begin("ServerKeyExchange P-256 point not on the curve (re-signed)");
        ecdhe_ske_case("P-256", 3, 0, bad, 65, ILLEGAL);
    }

    const uint8_t *p, *g;
    size_t p_len, g_len;
    if (hasp_ffdhe_params(HASP_GROUP_FFDHE2048, &p, &p_len, &g, &g_len) == 0) {
        uint8_t y[256];
        memset(y, 0, sizeof(y));
        case_begin("ServerKeyExchange DH value 0 (re-signed)");
        dhe_ske_case(y, 256, NULL, 0, ILLEGAL);
        y[255] = 1;
        case_begin("ServerKeyExchange DH value 1 (re-signed)");
        dhe_ske_case(y, 256, NULL, 0, ILLEGAL);
        memcpy(y, p, 256);
        y[255] -= 1;
        case_begin("ServerKeyExchange DH value p-1 (re-signed)");
        dhe_ske_case(y, 256, NULL, 0, ILLEGAL);
        /* a 1024-bit group: the top half of ffdhe2048's p is no prime, but the
         * size check must come first */
        case_begin("ServerKeyExchange DH group of 1024 bits (re-signed)");
        dhe_ske_case(NULL, 0, p, 128, HASP_ERR_INSUFFICIENT_SECURITY,
                     HASP_ALERT_INSUFFICIENT_SECURITY);
    }

    case_begin("server Certificate message empty");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_CERTIFICATE);
    b_reset(&m->body);
    b_put(&m->body, "\x00\x00\x00", 3);
    client_case(d, &f, DECODE);
    duo_del(d);
    flight_free(&f);

    case_begin("server Certificate holding garbage instead of DER");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_CERTIFICATE);
    b_reset(&m->body);
    b_put(&m->body, "\x00\x00\x08\x00\x00\x05\x30\x03\x02\x01\x05", 11);
    client_case(d, &f, HASP_ERR_CERT_BAD, HASP_ALERT_BAD_CERTIFICATE);
    duo_del(d);
    flight_free(&f);

    case_begin("server Certificate whose list length overruns");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_CERTIFICATE);
    m->body.p[2] += 1;
    client_case(d, &f, DECODE);
    duo_del(d);
    flight_free(&f);

    case_begin("ServerHelloDone with a body");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    m = flight_find(&f, HS_SERVER_HELLO_DONE);
    b_u8(&m->body, 0);
    client_case(d, &f, DECODE);
    duo_del(d);
    flight_free(&f);

    case_begin("ServerHello twice");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        buf w = hasp_wr_dyn();
        m = flight_find(&f, HS_SERVER_HELLO);
        put_msg(&w, HS_SERVER_HELLO, m->body.p, m->body.len, HASP_TLS1_2);
        flight_emit(&f, &w, 1, 1);
        res r;
        feed(d->cl, w.p, w.len, 0, &r);
        expect(&r, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
        res_free(&r);
        hasp_wr_free(&w);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("server skips its Certificate");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    flight_find(&f, HS_CERTIFICATE)->type = 99; /* dropped below */
    {
        buf w = hasp_wr_dyn();
        for (size_t i = 0; i < f.nm; i++)
            if (f.m[i].type != 99)
                put_msg(&w, f.m[i].type, f.m[i].body.p, f.m[i].body.len, HASP_TLS1_2);
        res r;
        feed(d->cl, w.p, w.len, 0, &r);
        expect(&r, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
        res_free(&r);
        hasp_wr_free(&w);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("HelloRequest before the ServerHello (ignored)");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        buf w = hasp_wr_dyn();
        put_msg(&w, HS_HELLO_REQUEST, NULL, 0, HASP_TLS1_2);
        flight_emit(&f, &w, 1, 1);
        res r;
        feed(d->cl, w.p, w.len, 0, &r);
        CHECK(r.rc == HASP_WANT_POLLIN && r.err == 0 && r.out.len > 0,
              "%s: the client goes on with its flight (%s)", case_name, hasp_err_name(r.rc));
        res_free(&r);
        hasp_wr_free(&w);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("HelloRequest with a body during the handshake");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        buf w = hasp_wr_dyn();
        put_msg(&w, HS_HELLO_REQUEST, (const uint8_t *)"\x00", 1, HASP_TLS1_2);
        flight_emit(&f, &w, 1, 1);
        res r;
        feed(d->cl, w.p, w.len, 0, &r);
        expect(&r, DECODE);
        res_free(&r);
        hasp_wr_free(&w);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("HTTP response to a TLS client");
    SERVER_FLIGHT("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        const char *http = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        res r;
        feed(d->cl, (const uint8_t *)http, strlen(http), 0, &r);
        expect(&r, HASP_ERR_NOT_TLS, -1);
        res_free(&r);
    }
    duo_del(d);
    flight_free(&f);

    case_begin("server Finished with wrong verify_data (properly encrypted)");
    {
        duo *d2 = duo_new("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL);
        SETUP_OR_SKIP(duo_client_flight(d2) == 0);
        res r;
        feed(d2->sv, d2->cf.p, d2->cf.len, 0, &r);
        flight f2;
        flight_parse(r.out.p, r.out.len, &f2);
        res_free(&r);
        buf w = hasp_wr_dyn();
        flight_emit(&f2, &w, 1, 0);
        buf fm = hasp_wr_dyn();
        static const uint8_t wrong[12] = {1, 2, 3};
        hs_bytes(&fm, HS_FINISHED, wrong, 12);
        seal_as(d2->sv, 0, HASP_CT_HANDSHAKE, fm.p, fm.len, &w);
        feed(d2->cl, w.p, w.len, 0, &r);
        expect_enc(&r, HASP_ERR_DECRYPT, HASP_ALERT_DECRYPT_ERROR, d2->sv);
        res_free(&r);
        hasp_wr_free(&fm);
        hasp_wr_free(&w);
        flight_free(&f2);
        duo_del(d2);
    }
out:;
#undef SERVER_FLIGHT
}

/* A TLS 1.3 server whose EncryptedExtensions carries extra extensions
 * (the config's test hook): the client's answer, alert encrypted under its
 * handshake key, read by the server. RFC 8446 4.2: an extension the client
 * did not send is unsupported_extension, a known one where TLS 1.3 does
 * not allow it is illegal_parameter; supported_groups is informational. */
static void hostile_encrypted_extensions(void)
{
    static const struct {
        const char *what;
        const char *data;
        size_t len;
        int rc, desc;
    } ee[] = {
        {"an extension the client did not offer (0x1234)", "\x12\x34\x00\x00", 4,
         HASP_ERR_UNSUPPORTED_EXT, HASP_ALERT_UNSUPPORTED_EXTENSION},
        {"key_share", "\x00\x33\x00\x00", 4, ILLEGAL},
        {"supported_versions", "\x00\x2b\x00\x02\x03\x04", 6, ILLEGAL},
        {"signature_algorithms", "\x00\x0d\x00\x04\x00\x02\x04\x03", 8, ILLEGAL},
        {"extended_master_secret", "\x00\x17\x00\x00", 4, ILLEGAL},
        {"early_data the client did not offer", "\x00\x2a\x00\x00", 4, HASP_ERR_UNSUPPORTED_EXT,
         HASP_ALERT_UNSUPPORTED_EXTENSION},
        {"server_name twice", "\x00\x00\x00\x00\x00\x00\x00\x00", 8, DECODE},
        {"ALPN the client did not offer", "\x00\x10\x00\x05\x00\x03\x02h2", 9,
         HASP_ERR_UNSUPPORTED_EXT, HASP_ALERT_UNSUPPORTED_EXTENSION},
        {"an extension overrunning the list", "\x12\x34\x00\x09", 4, DECODE},
        {"supported_groups (informational: accepted)", "\x00\x0a\x00\x04\x00\x02\x00\x1d", 8, 0, 0},
    };
    for (size_t i = 0; i < sizeof(ee) / sizeof(ee[0]); i++) {
        case_begin("TLS 1.3 EncryptedExtensions with %s", ee[i].what);
        hasp_config *sc = srv_cfg(NULL, NULL, 0);
        sc->test_ee_extra = (const uint8_t *)ee[i].data;
        sc->test_ee_extra_len = ee[i].len;
        cfg_ok(hasp_config_set_versions(sc, HASP_TLS1_2, HASP_TLS1_3), sc, "versions");
        hasp_config *cc = cli_cfg(NULL, NULL, NULL);
        cfg_ok(hasp_config_set_versions(cc, HASP_TLS1_2, HASP_TLS1_3), cc, "versions");
        duo d;
        duo_init(&d, cc, sc);
        if (duo_server_flight(&d) < 0) {
            CHECK(0, "%s: setting up the real handshake failed", case_name);
            duo_free(&d);
            continue;
        }
        res r;
        feed(d.cl, d.sf.p, d.sf.len, 0, &r);
        if (ee[i].rc == 0) {
            CHECK(r.rc >= 0 && r.err == 0 && hasp_conn_handshake_done(d.cl),
                  "%s: the client completes its handshake (got %s)", case_name,
                  hasp_err_name(r.rc));
            res r2;
            feed(d.sv, r.out.p, r.out.len, 0, &r2);
            CHECK(hasp_conn_handshake_done(d.sv), "%s: the server completes the handshake",
                  case_name);
            res_free(&r2);
        } else {
            CHECK(r.rc == ee[i].rc && r.err == ee[i].rc, "%s: the call returns %s (got %s)",
                  case_name, hasp_err_name(ee[i].rc), hasp_err_name(r.rc));
            /* TLS 1.3: the alert goes out under the client's handshake key */
            res pr;
            feed(d.sv, r.out.p, r.out.len, 0, &pr);
            CHECK(pr.rc == HASP_ERR_PEER_ALERT && hasp_conn_alert_received(d.sv) == ee[i].desc,
                  "%s: the server reads the encrypted fatal alert %s (got %s, alert %d)", case_name,
                  hasp_alert_name(ee[i].desc), hasp_err_name(pr.rc),
                  hasp_conn_alert_received(d.sv));
            res_free(&pr);
            CHECK(hasp_conn_errmsg(d.cl) && hasp_conn_errmsg(d.cl)[0],
                  "%s: the client's error names the cause (%s)", case_name,
                  hasp_conn_errmsg(d.cl) ? hasp_conn_errmsg(d.cl) : "");
        }
        res_free(&r);
        duo_free(&d);
    }
}

/* ================================================================== 7. after the handshake */

/* A finished handshake with the client's ClientHello rewritten by edit
 * (on the wire and in the client's own transcript, so both sides still
 * agree). edit may be NULL. */
static duo *established_with(const char *ciphers, void (*edit)(chello *), hasp_config *sc)
{
    duo *d = malloc(sizeof(*d));
    duo_init(d, cli_cfg(ciphers, NULL, NULL), sc ? sc : srv_cfg(NULL, NULL, 0));
    if (duo_hello(d) < 0) goto fail;
    if (edit) {
        chello h;
        if (d->ch.len < 9 || ch_parse(&h, d->ch.p + 9, d->ch.len - 9) < 0) goto fail;
        edit(&h);
        buf body = hasp_wr_dyn(), m = hasp_wr_dyn();
        ch_body(&h, &body);
        hs_bytes(&m, HS_CLIENT_HELLO, body.p, body.len);
        b_reset(&d->ch);
        put_record(&d->ch, HASP_CT_HANDSHAKE, HASP_TLS1_0, m.p, m.len);
        /* the client's transcript holds exactly its ClientHello so far */
        struct hasp_hs *hs = d->cl->hs;
        int ok = hs != NULL;
        if (ok) {
            hs->transcript.len = 0;
            ok = wr_bytes(&hs->transcript, m.p, m.len) == 0;
        }
        hasp_wr_free(&body);
        hasp_wr_free(&m);
        ch_free(&h);
        if (!ok) goto fail;
    }
    hasp_conn_input(d->sv, d->ch.p, d->ch.len);
    if (hasp_conn_handshake(d->sv) != HASP_WANT_POLLIN) goto fail;
    out_take(d->sv, &d->sf);
    res r;
    feed(d->cl, d->sf.p, d->sf.len, 0, &r);
    b_put(&d->cf, r.out.p, r.out.len);
    res_free(&r);
    feed(d->sv, d->cf.p, d->cf.len, 0, &r);
    b_put(&d->sf2, r.out.p, r.out.len);
    res_free(&r);
    feed(d->cl, d->sf2.p, d->sf2.len, 0, &r);
    res_free(&r);
    if (hasp_conn_handshake_done(d->cl) && hasp_conn_handshake_done(d->sv)) return d;
fail:
    duo_del(d);
    return NULL;
}

static duo *established(const char *ciphers, void (*edit)(chello *))
{
    return established_with(ciphers, edit, NULL);
}

static void drop_reneg_info(chello *h)
{
    ch_ext_del(h, EXT_RENEGOTIATION_INFO);
    /* and the SCSV, if any */
    buf s = hasp_wr_dyn();
    for (size_t i = 0; i + 1 < h->suites.len; i += 2)
        if (!(h->suites.p[i] == 0x00 && h->suites.p[i + 1] == 0xff)) b_put(&s, h->suites.p + i, 2);
    b_reset(&h->suites);
    b_put(&h->suites, s.p, s.len);
    hasp_wr_free(&s);
}

/* Data still flows both ways. */
static int still_works(duo *d)
{
    uint8_t got[64];
    int ok = hasp_conn_write(d->cl, "ping", 4) == 4;
    buf w = hasp_wr_dyn();
    out_take(d->cl, &w);
    hasp_conn_input(d->sv, w.p, w.len);
    ok = ok && hasp_conn_read(d->sv, got, sizeof(got)) == 4 && !memcmp(got, "ping", 4);
    ok = ok && hasp_conn_write(d->sv, "pong", 4) == 4;
    b_reset(&w);
    out_take(d->sv, &w);
    hasp_conn_input(d->cl, w.p, w.len);
    ok = ok && hasp_conn_read(d->cl, got, sizeof(got)) == 4 && !memcmp(got, "pong", 4);
    hasp_wr_free(&w);
    return ok;
}

/* The client sends a renegotiating ClientHello (a fresh one, encrypted);
 * the server must refuse with a no_renegotiation warning and go on. */
static void reneg_refused(duo *d)
{
    chello h;
    if (ch_from_client(&h, NULL, NULL) < 0) {
        CHECK(0, "%s: recording a ClientHello", case_name);
        return;
    }
    buf body = hasp_wr_dyn(), m = hasp_wr_dyn(), w = hasp_wr_dyn();
    ch_body(&h, &body);
    hs_bytes(&m, HS_CLIENT_HELLO, body.p, body.len);
    conn_send_record(d->cl, HASP_CT_HANDSHAKE, m.p, m.len);
    out_take(d->cl, &w);
    nevs = 0;
    res r;
    feed(d->sv, w.p, w.len, 0, &r);
    CHECK(r.rc == HASP_WANT_POLLIN && r.err == 0, "%s: the server goes on (%s)", case_name,
          hasp_err_name(r.rc));
    rec l;
    int is_alert = last_record(&r.out, &l) && l.type == HASP_CT_ALERT;
    res pr;
    feed(d->cl, r.out.p, r.out.len, 0, &pr);
    CHECK(is_alert && got_alert(0, 1, HASP_ALERT_NO_RENEGOTIATION) && pr.err == 0,
          "%s: the wire carries an encrypted warning that the client reads as "
          "no_renegotiation(100)",
          case_name);
    CHECK(still_works(d), "%s: application data still flows both ways", case_name);
    res_free(&pr);
    res_free(&r);
    hasp_wr_free(&w);
    hasp_wr_free(&m);
    hasp_wr_free(&body);
    ch_free(&h);
}

/* The server eats what the client's keys seal (seq: the client's next). */
static void inject(duo *d, uint8_t type, const uint8_t *p, size_t n, int rc, int desc)
{
    buf w = hasp_wr_dyn();
    conn_send_record(d->cl, type, p, n);
    out_take(d->cl, &w);
    res r;
    feed(d->sv, w.p, w.len, 0, &r);
    if (desc < 0)
        expect(&r, rc, -1);
    else
        expect_enc(&r, rc, desc, d->cl);
    res_free(&r);
    hasp_wr_free(&w);
}

/* The server eats raw bytes. */
static void inject_raw(duo *d, const uint8_t *p, size_t n, int rc, int desc)
{
    res r;
    feed(d->sv, p, n, 0, &r);
    expect_enc(&r, rc, desc, d->cl);
    res_free(&r);
}

static void after_handshake(void)
{
    duo *d;

#define ESTABLISHED(ciphers, edit)                                                                 \
    d = established(ciphers, edit);                                                                \
    SETUP_OR_SKIP(d)

    case_begin("renegotiating ClientHello from a peer with RFC 5746");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    CHECK(hasp_conn_secure_renegotiation(d->sv), "%s: secure renegotiation was negotiated",
          case_name);
    reneg_refused(d);
    duo_del(d);

    case_begin("renegotiating ClientHello from a peer without RFC 5746");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", drop_reneg_info);
    CHECK(!hasp_conn_secure_renegotiation(d->sv),
          "%s: the server saw no renegotiation_info nor SCSV", case_name);
    reneg_refused(d);
    duo_del(d);

#ifdef HASP_RENEGOTIATION_ALLOW
    case_begin("renegotiation allowed by the server, but the peer lacks RFC 5746");
    {
        hasp_config *sc = srv_cfg(NULL, NULL, 0);
        hasp_config_set_renegotiation(sc, HASP_RENEGOTIATION_ALLOW, 10);
        d = established_with("ECDHE-RSA-AES128-GCM-SHA256", drop_reneg_info, sc);
        SETUP_OR_SKIP(d);
        reneg_refused(d);
        duo_del(d);
    }
#endif

    case_begin("HelloRequest to the client after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        static const uint8_t hr[4] = {0, 0, 0, 0};
        buf w = hasp_wr_dyn();
        conn_send_record(d->sv, HASP_CT_HANDSHAKE, hr, 4);
        out_take(d->sv, &w);
        nevs = 0;
        res r;
        feed(d->cl, w.p, w.len, 0, &r);
        res pr;
        feed(d->sv, r.out.p, r.out.len, 0, &pr);
        CHECK(r.err == 0 && got_alert(1, 1, HASP_ALERT_NO_RENEGOTIATION),
              "%s: the client answers with a no_renegotiation(100) warning and goes on (%s)",
              case_name, hasp_err_name(r.err));
        CHECK(still_works(d), "%s: application data still flows both ways", case_name);
        res_free(&pr);
        res_free(&r);
        hasp_wr_free(&w);
    }
    duo_del(d);

    case_begin("HelloRequest with a body after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        static const uint8_t hr[5] = {0, 0, 0, 1, 0};
        buf w = hasp_wr_dyn();
        conn_send_record(d->sv, HASP_CT_HANDSHAKE, hr, 5);
        out_take(d->sv, &w);
        res r;
        feed(d->cl, w.p, w.len, 0, &r);
        expect_enc(&r, HASP_ERR_DECODE, HASP_ALERT_DECODE_ERROR, d->sv);
        res_free(&r);
        hasp_wr_free(&w);
    }
    duo_del(d);

    static const uint8_t fin[16] = {HS_FINISHED, 0, 0, 12};
    case_begin("Finished after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    inject(d, HASP_CT_HANDSHAKE, fin, 16, HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);

    case_begin("ChangeCipherSpec (encrypted) after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    inject(d, HASP_CT_CHANGE_CIPHER_SPEC, (const uint8_t *)"\x01", 1, HASP_ERR_UNEXPECTED,
           HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);

    case_begin("handshake fragment of 2 bytes after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    inject(d, HASP_CT_HANDSHAKE, (const uint8_t *)"\x01\x00", 2, HASP_ERR_UNEXPECTED,
           HASP_ALERT_UNEXPECTED_MESSAGE);
    duo_del(d);

    case_begin("ChangeCipherSpec (plaintext) after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        static const uint8_t ccs[] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
        inject_raw(d, ccs, sizeof(ccs), HASP_ERR_BAD_MAC, HASP_ALERT_BAD_RECORD_MAC);
    }
    duo_del(d);

    case_begin("fatal alert with unknown description after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    inject(d, HASP_CT_ALERT, (const uint8_t *)"\x02\xee", 2, HASP_ERR_PEER_ALERT, -1);
    CHECK(hasp_conn_alert_received(d->sv) == 0xee, "%s: recorded as received", case_name);
    duo_del(d);

    case_begin("alert of 3 bytes after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    inject(d, HASP_CT_ALERT, (const uint8_t *)"\x01\x00\x00", 3, DECODE);
    duo_del(d);

    /* records that fail to decrypt */
    static const char *suites[] = {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305",
                                   "ECDHE-RSA-AES128-SHA", "AES256-SHA256"};
    for (size_t i = 0; i < 4; i++) {
        const char *s = suites[i];
        case_begin("%s: application data record with one bit flipped", s);
        ESTABLISHED(s, NULL);
        {
            buf w = hasp_wr_dyn();
            hasp_conn_write(d->cl, "hello there, this is a record", 29);
            out_take(d->cl, &w);
            w.p[w.len - 1] ^= 0x80;
            inject_raw(d, w.p, w.len, HASP_ERR_BAD_MAC, HASP_ALERT_BAD_RECORD_MAC);
            hasp_wr_free(&w);
        }
        duo_del(d);

        case_begin("%s: a record replayed", s);
        ESTABLISHED(s, NULL);
        {
            buf w = hasp_wr_dyn();
            hasp_conn_write(d->cl, "once", 4);
            out_take(d->cl, &w);
            b_put(&w, w.p, w.len);
            inject_raw(d, w.p, w.len, HASP_ERR_BAD_MAC, HASP_ALERT_BAD_RECORD_MAC);
            hasp_wr_free(&w);
        }
        duo_del(d);

        case_begin("%s: application data record of 5 bytes", s);
        ESTABLISHED(s, NULL);
        {
            static const uint8_t tiny[] = {0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5};
            inject_raw(d, tiny, sizeof(tiny), HASP_ERR_BAD_MAC, HASP_ALERT_BAD_RECORD_MAC);
        }
        duo_del(d);

        case_begin("%s: application data record of 18433 bytes", s);
        ESTABLISHED(s, NULL);
        {
            static const uint8_t big[] = {0x17, 0x03, 0x03, 0x48, 0x01, 0x00};
            inject_raw(d, big, sizeof(big), HASP_ERR_OVERFLOW, HASP_ALERT_RECORD_OVERFLOW);
        }
        duo_del(d);
    }

    case_begin("AES-CBC record whose length is not a multiple of the block");
    ESTABLISHED("ECDHE-RSA-AES128-SHA", NULL);
    {
        buf w = hasp_wr_dyn();
        hasp_conn_write(d->cl, "0123456789", 10);
        out_take(d->cl, &w);
        w.len -= 1;
        w.p[4] -= 1;
        inject_raw(d, w.p, w.len, HASP_ERR_BAD_MAC, HASP_ALERT_BAD_RECORD_MAC);
        hasp_wr_free(&w);
    }
    duo_del(d);

    /* A plaintext of 2^14 + 1 bytes inside a valid AEAD record. */
    case_begin("AES-GCM record decrypting to 16385 bytes");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        hasp_rec_prot *wp = &d->cl->wr;
        uint8_t *pt = calloc(1, 16385), *ct = malloc(16385 + 16);
        uint8_t nonce[12], aad[13];
        uint64_t seq = wp->seq;
        memcpy(nonce, wp->iv, 4);
        for (int i = 0; i < 8; i++)
            nonce[4 + i] = aad[i] = (uint8_t)(seq >> (56 - 8 * i));
        aad[8] = HASP_CT_APPLICATION_DATA;
        aad[9] = 3;
        aad[10] = 3;
        aad[11] = (uint8_t)(16385 >> 8);
        aad[12] = (uint8_t)16385;
        buf w = hasp_wr_dyn();
        if (wp->kind == HASP_REC_AEAD12 &&
            hasp_aead_seal(wp->aead, nonce, aad, 13, pt, 16385, ct) == 0) {
            size_t body = 8 + 16385 + 16;
            b_u8(&w, HASP_CT_APPLICATION_DATA);
            b_u16(&w, HASP_TLS1_2);
            b_u16(&w, (unsigned)body);
            b_put(&w, nonce + 4, 8);
            b_put(&w, ct, 16385 + 16);
            inject_raw(d, w.p, w.len, HASP_ERR_OVERFLOW, HASP_ALERT_RECORD_OVERFLOW);
        } else {
            CHECK(0, "%s: sealing by hand", case_name);
        }
        hasp_wr_free(&w);
        free(pt);
        free(ct);
    }
    duo_del(d);

    case_begin("record of unknown content type 24 after the handshake");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        static const uint8_t hb[] = {0x18, 0x03, 0x03, 0x00, 0x03, 0x01, 0x00, 0x10};
        inject_raw(d, hb, sizeof(hb), HASP_ERR_UNEXPECTED, HASP_ALERT_UNEXPECTED_MESSAGE);
    }
    duo_del(d);

    case_begin("1000 empty application data records");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        buf w = hasp_wr_dyn();
        for (int i = 0; i < 1000; i++)
            conn_send_record(d->cl, HASP_CT_APPLICATION_DATA, (const uint8_t *)"", 0);
        out_take(d->cl, &w);
        inject_raw(d, w.p, w.len, HASP_ERR_LIMIT, hasp_err_alert(HASP_ERR_LIMIT));
        hasp_wr_free(&w);
    }
    duo_del(d);

    case_begin("100 renegotiating ClientHellos");
    ESTABLISHED("ECDHE-RSA-AES128-GCM-SHA256", NULL);
    {
        chello h;
        SETUP_OR_SKIP(ch_from_client(&h, NULL, NULL) == 0);
        buf body = hasp_wr_dyn(), m = hasp_wr_dyn(), w = hasp_wr_dyn();
        ch_body(&h, &body);
        hs_bytes(&m, HS_CLIENT_HELLO, body.p, body.len);
        for (int i = 0; i < 100; i++)
            conn_send_record(d->cl, HASP_CT_HANDSHAKE, m.p, m.len);
        out_take(d->cl, &w);
        /* The answer is a run of no_renegotiation warnings and then the
         * fatal alert; a hasp client would stop at its own warning limit
         * before it, so look at the server's side of it. */
        res r;
        feed(d->sv, w.p, w.len, 0, &r);
        CHECK(r.rc == HASP_ERR_LIMIT && r.err == HASP_ERR_LIMIT,
              "%s: the call returns HASP_ERR_LIMIT (got %s)", case_name, hasp_err_name(r.rc));
        rec l;
        CHECK(last_record(&r.out, &l) && l.type == HASP_CT_ALERT && l.len > 2 &&
                  hasp_conn_alert_sent(d->sv) == hasp_err_alert(HASP_ERR_LIMIT),
              "%s: the last record on the wire is the (encrypted) fatal alert %s", case_name,
              hasp_alert_name(hasp_err_alert(HASP_ERR_LIMIT)));
        res_free(&r);
        hasp_wr_free(&w);
        hasp_wr_free(&m);
        hasp_wr_free(&body);
        ch_free(&h);
    }
    duo_del(d);
out:;
#undef ESTABLISHED
}

/* ================================================================== 8. configured limits */

/* Renegotiate from the client; returns the client's result (0 done). */
static int renegotiate_once(duo *d)
{
    int rc = hasp_conn_renegotiate(d->cl);
    if (rc < 0) return rc;
    uint8_t tmp[256];
    for (int i = 0; i < 50; i++) {
        rc = hasp_conn_handshake(d->cl);
        buf w = hasp_wr_dyn();
        out_take(d->cl, &w);
        hasp_conn_input(d->sv, w.p, w.len);
        int sr = hasp_conn_read(d->sv, tmp, sizeof(tmp));
        if (sr != HASP_WANT_POLLIN && sr < 0) rc = sr;
        hasp_conn_handshake(d->sv);
        b_reset(&w);
        out_take(d->sv, &w);
        hasp_conn_input(d->cl, w.p, w.len);
        hasp_wr_free(&w);
        if (rc != HASP_WANT_POLLIN) break;
    }
    return rc;
}

static void limits(void)
{
    hasp_limits lim;
    flight f;
    duo *d;

    case_begin("limit: more extensions than max_extensions (8)");
    {
        chello h;
        SETUP_OR_SKIP(ch_from_client(&h, NULL, NULL) == 0);
        while (h.ne < 9)
            ch_ext_add(&h, (uint16_t)(0x7a00 + h.ne), NULL, 0);
        hasp_config *sc = srv_cfg(NULL, NULL, 0);
        hasp_config_get_limits(sc, &lim);
        lim.max_extensions = 8;
        CHECK(hasp_config_set_limits(sc, &lim) == 0, "%s: the limit is accepted", case_name);
        buf w = hasp_wr_dyn();
        ch_record(&h, &w);
        res r;
        server_eats(sc, w.p, w.len, 0, &r);
        expect(&r, HASP_ERR_LIMIT, hasp_err_alert(HASP_ERR_LIMIT));
        res_free(&r);
        hasp_wr_free(&w);
        hasp_config_free(sc);
        ch_free(&h);
    }

    case_begin("limit: a server chain longer than max_chain_len (1)");
    d = duo_new("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL);
    hasp_config_get_limits(d->cc, &lim);
    lim.max_chain_len = 1;
    hasp_config_set_limits(d->cc, &lim);
    SETUP_OR_SKIP(duo_server_flight(d) == 0);
    flight_parse(d->sf.p, d->sf.len, &f);
    client_case(d, &f, HASP_ERR_LIMIT, hasp_err_alert(HASP_ERR_LIMIT));
    flight_free(&f);
    duo_del(d);

    case_begin("limit: a Certificate message over max_handshake_size (1024)");
    d = duo_new("ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL);
    hasp_config_get_limits(d->cc, &lim);
    lim.max_handshake_size = 1024;
    hasp_config_set_limits(d->cc, &lim);
    SETUP_OR_SKIP(duo_server_flight(d) == 0);
    flight_parse(d->sf.p, d->sf.len, &f);
    client_case(d, &f, HASP_ERR_LIMIT, hasp_err_alert(HASP_ERR_LIMIT));
    flight_free(&f);
    duo_del(d);

    case_begin("limit: renegotiations per minute (1) from the client");
    {
        hasp_config *sc = srv_cfg(NULL, NULL, 0);
        hasp_config_set_renegotiation(sc, HASP_RENEGOTIATION_ALLOW, 1);
        d = established_with("ECDHE-RSA-AES128-GCM-SHA256", NULL, sc);
        SETUP_OR_SKIP(d);
        int rc1 = renegotiate_once(d);
        CHECK(rc1 == 0, "%s: the first renegotiation completes (%s)", case_name,
              hasp_err_name(rc1));
        int rc2 = renegotiate_once(d);
        CHECK(rc2 == HASP_ERR_NO_RENEGOTIATION && hasp_conn_error(d->cl) == 0 &&
                  hasp_conn_error(d->sv) == 0,
              "%s: the second is refused with no_renegotiation and the connection goes on (%s)",
              case_name, hasp_err_name(rc2));
        CHECK(still_works(d), "%s: application data still flows both ways", case_name);
        duo_del(d);
    }
out:;
}

/* ================================================================== main */

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "not ok - test_badinput: a case hung (alarm)\n";
    if (write(1, msg, sizeof(msg) - 1) < 0) _exit(3);
    _exit(3);
}

/* ================================================================== hybrid key shares */

/* A real ClientHello with one key share for a hybrid, that share changed
 * by edit(), then fed to a server: a malformed share is illegal_parameter
 * (draft-ietf-tls-ecdhe-mlkem 4.1). */
typedef void (*share_edit)(buf *share, size_t ecl, int mlkem_first);

/* The ClientHello of a TLS 1.3-only client with these groups. */
static int ch_from_client13(chello *h, const char *groups)
{
    hasp_config *cc = cli_cfg(NULL, groups, NULL);
    cfg_ok(hasp_config_set_versions(cc, HASP_TLS1_3, HASP_TLS1_3), cc, "versions");
    hasp_conn *cl = hasp_conn_new(cc, HASP_CLIENT);
    hasp_conn_set_servername(cl, "localhost");
    hasp_conn_handshake(cl);
    const uint8_t *p;
    size_t n = hasp_conn_output(cl, &p);
    int rc = -1;
    if (n > 9 && p[0] == HASP_CT_HANDSHAKE && p[5] == HS_CLIENT_HELLO)
        rc = ch_parse(h, p + 9, n - 9);
    hasp_conn_free(cl);
    hasp_config_free(cc);
    return rc;
}

static void hybrid_case(const char *group, uint16_t id, size_t ecl, int mlkem_first,
                        share_edit edit, const char *what, int rc, int desc)
{
    chello h;
    case_begin("%s key share: %s", group, what);
    if (ch_from_client13(&h, group) < 0) {
        CHECK(0, "%s: recording a ClientHello", group);
        return;
    }
    ext *ks = ch_ext(&h, EXT_KEY_SHARE);
    hasp_rd r = hasp_rd_init(ks ? ks->data.p : NULL, ks ? ks->data.len : 0), list, key;
    uint16_t g = 0;
    if (!ks || rd_vec(&r, 2, &list) < 0 || rd_u16(&list, &g) < 0 || rd_vec(&list, 2, &key) < 0 ||
        g != id || key.len != hasp_group_share_len(id, 0)) {
        CHECK(0, "%s: the ClientHello has one %s share of %zu bytes", group, group,
              hasp_group_share_len(id, 0));
        ch_free(&h);
        return;
    }
    buf share = hasp_wr_dyn(), data = hasp_wr_dyn();
    b_put(&share, key.p, key.len);
    if (edit) edit(&share, ecl, mlkem_first);
    b_u16(&data, (unsigned)(share.len + 4));
    b_u16(&data, id);
    b_u16(&data, (unsigned)share.len);
    b_put(&data, share.p, share.len);
    ch_ext_set(&h, EXT_KEY_SHARE, data.p, data.len);
    /* a TLS 1.3 server with the default groups */
    hasp_config *sc = srv_cfg(NULL, NULL, 0);
    cfg_ok(hasp_config_set_versions(sc, HASP_TLS1_3, HASP_TLS1_3), sc, "versions");
    buf w = hasp_wr_dyn();
    ch_record(&h, &w);
    res res_;
    server_eats(sc, w.p, w.len, 0, &res_);
    if (rc == 0)
        expect_server_hello(&res_);
    else
        expect(&res_, rc, desc);
    res_free(&res_);
    hasp_wr_free(&w);
    hasp_config_free(sc);
    hasp_wr_free(&share);
    hasp_wr_free(&data);
    ch_free(&h);
}

static void edit_short(buf *b, size_t ecl, int mf)
{
    (void)ecl, (void)mf;
    b->len--;
}

static void edit_long(buf *b, size_t ecl, int mf)
{
    (void)ecl, (void)mf;
    b_u8(b, 0);
}

/* the first coefficient of t-hat set to 4095, above q (FIPS 203 7.2) */
static void edit_modulus(buf *b, size_t ecl, int mf)
{
    uint8_t *ek = b->p + (mf ? 0 : ecl);
    ek[0] = 0xff;
    ek[1] |= 0x0f;
}

/* X25519 all zeros (the shared secret would be zero), or an EC point
 * moved off the curve */
static void edit_ecdh(buf *b, size_t ecl, int mf)
{
    uint8_t *ec = b->p + (mf ? b->len - ecl : 0);
    if (ecl == 32)
        memset(ec, 0, 32);
    else
        ec[ecl - 1] ^= 1;
}

/* the EC point in compressed form's prefix */
static void edit_ecdh_prefix(buf *b, size_t ecl, int mf)
{
    (void)mf;
    (void)ecl;
    b->p[0] = 0x02;
}

static void hybrid_shares(void)
{
    static const struct {
        const char *name;
        uint16_t id;
        size_t ecl;
        int mlkem_first;
    } hy[] = {
        {"X25519MLKEM768", HASP_GROUP_X25519MLKEM768, 32, 1},
        {"SecP256r1MLKEM768", HASP_GROUP_SECP256R1MLKEM768, 65, 0},
        {"SecP384r1MLKEM1024", HASP_GROUP_SECP384R1MLKEM1024, 97, 0},
    };
    for (size_t i = 0; i < sizeof(hy) / sizeof(hy[0]); i++) {
        const char *n = hy[i].name;
        uint16_t id = hy[i].id;
        size_t e = hy[i].ecl;
        int mf = hy[i].mlkem_first;
        hybrid_case(n, id, e, mf, NULL, "unchanged, accepted", 0, 0);
        hybrid_case(n, id, e, mf, edit_short, "one byte short", ILLEGAL);
        hybrid_case(n, id, e, mf, edit_long, "one byte long", ILLEGAL);
        hybrid_case(n, id, e, mf, edit_modulus, "ML-KEM key fails the modulus check", ILLEGAL);
        hybrid_case(n, id, e, mf, edit_ecdh,
                    e == 32 ? "X25519 value all zeros" : "EC point not on the curve", ILLEGAL);
        if (!mf) hybrid_case(n, id, e, mf, edit_ecdh_prefix, "EC point not uncompressed", ILLEGAL);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) certdir = argv[1];
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "bash tests/certs/gen.sh %s >/dev/null 2>&1", certdir);
    if (system(cmd) != 0) {
        printf("not ok - generating test certificates with tests/certs/gen.sh\n");
        return 1;
    }
    signal(SIGALRM, on_alarm);
    alarm(getenv("HASP_VALGRIND") ? 1800 : 300);
    records();
    client_hellos();
    sequence();
    key_exchange();
    hybrid_shares();
    client_auth();
    hostile_server();
    hostile_encrypted_extensions();
    after_handshake();
    limits();
    TEST_DONE();
}
