/* The hasp driver: two hasp connections, client and server, moving bytes
 * through hasp_conn_output / hasp_conn_input in one thread. Uses only the
 * public header. What hasp cannot do is detected here at run time (a
 * config call that fails, a handshake that negotiates another version or
 * does not resume) and reported as n/a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "hasp.h"

/* ------------------------------------------------------------------ configs */

static const char *suite12(int aead, int cert)
{
    static const char *names[2][3] = {
        {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
         "ECDHE-ECDSA-CHACHA20-POLY1305"},
        {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
         "ECDHE-RSA-CHACHA20-POLY1305"},
    };
    return names[cert][aead];
}

static const char *suite13(int aead)
{
    static const char *names[3] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"};
    return names[aead];
}

/* -v: count the NewSessionTicket messages the client receives. */
static int nst_seen;
static void event_cb(void *arg, const hasp_event *ev)
{
    if (ev->type == HASP_EV_MSG_RECV && ev->msg_type == 4) nst_seen++;
}

/* Sessions as OpenSSL is set up in drv_ossl.c: none at all for full
 * handshakes and bulk (no cache, no tickets), the server's cache alone
 * for RESUME_ID, tickets alone for RESUME_TICKET and RESUME_PSK. */
static hasp_config *make_cfg(int server, int cert, uint16_t version, int aead, int resume,
                             int hybrid, const bench_pki *pki, char *why, size_t cap)
{
    const bench_chain *ch = &pki->chain[cert];
    hasp_config *cfg = hasp_config_new();
    if (!cfg) {
        snprintf(why, cap, "hasp_config_new failed");
        return NULL;
    }
    if (hasp_config_set_versions(cfg, version, version) < 0) {
        snprintf(why, cap, "TLS %s: %s", version == HASP_TLS1_3 ? "1.3" : "1.2",
                 hasp_config_errmsg(cfg));
        goto fail;
    }
    if (hasp_config_set_groups(cfg, hybrid ? "X25519MLKEM768" : "x25519:P-256") < 0 ||
        hasp_config_set_sigalgs(cfg, BENCH_SIGALGS) < 0) {
        snprintf(why, cap, "%s", hasp_config_errmsg(cfg));
        goto fail;
    }
    const char *suite = version == HASP_TLS1_3 ? suite13(aead) : suite12(aead, cert);
    if (hasp_config_set_ciphers(cfg, suite) < 0) {
        snprintf(why, cap, "%s: %s", suite, hasp_config_errmsg(cfg));
        goto fail;
    }
    /* 2: hasp's default number of TLS 1.3 tickets per handshake. */
    hasp_config_set_tickets(cfg, resume == RESUME_TICKET || resume == RESUME_PSK, 2);
    if (server && resume != RESUME_ID && resume != RESUME_FILL)
        hasp_config_set_session_cache(cfg, 0, 0);
    if (server) {
        if (hasp_config_add_cert_key_mem(cfg, (const uint8_t *)ch->chain_pem, ch->chain_len,
                                         (const uint8_t *)ch->key_pem, ch->key_len) < 0) {
            snprintf(why, cap, "server certificate: %s", hasp_config_errmsg(cfg));
            goto fail;
        }
    } else if (hasp_config_set_ca_mem(cfg, (const uint8_t *)ch->root_pem, ch->root_len) < 0) {
        snprintf(why, cap, "trust anchor: %s", hasp_config_errmsg(cfg));
        goto fail;
    }
    if (!server && bench_verbose) hasp_config_set_event_cb(cfg, event_cb, NULL);
    return cfg;
fail:
    hasp_config_free(cfg);
    return NULL;
}

/* ------------------------------------------------------------------ moving bytes */

/* Hand everything `from` has to send to `to`. The sender's part (taking
 * the output) and the receiver's (taking the input) are timed apart. */
static int flush(hasp_conn *from, int fs, hasp_conn *to)
{
    const uint8_t *p;
    side_begin(fs);
    size_t n = hasp_conn_output(from, &p);
    side_end(fs);
    while (n > 0) {
        /* The receiver takes the bytes as hasp's fd loop does (src/io/fd.c):
         * into the room hasp_conn_input_space() offers, where recv() would
         * put them. The copy plays the kernel's part, like the BIO pair's
         * for OpenSSL, and is not timed; asking for room and committing are. */
        uint8_t *space = NULL;
        size_t room = 0;
        side_begin(side_peer(fs));
        int rc = hasp_conn_input_space(to, &space, &room);
        side_end(side_peer(fs));
        if (rc < 0) return rc;
        if (room == 0) return 0; /* full: the receiver must process first */
        size_t t = n < room ? n : room;
        memcpy(space, p, t);
        side_begin(side_peer(fs));
        hasp_conn_input_commit(to, t);
        side_end(side_peer(fs));
        side_begin(fs);
        hasp_conn_output_done(from, (size_t)t);
        n = hasp_conn_output(from, &p);
        side_end(fs);
    }
    return 0;
}

static int handshake(hasp_conn *cl, hasp_conn *sv, char *why, size_t cap)
{
    int crc = HASP_WANT_POLLIN, src = HASP_WANT_POLLIN;
    for (int i = 0; i < 32; i++) {
        if (crc == HASP_WANT_POLLIN) {
            side_begin(SIDE_CLIENT);
            crc = hasp_conn_handshake(cl);
            side_end(SIDE_CLIENT);
        }
        flush(cl, SIDE_CLIENT, sv);
        if (src == HASP_WANT_POLLIN) {
            side_begin(SIDE_SERVER);
            src = hasp_conn_handshake(sv);
            side_end(SIDE_SERVER);
        }
        flush(sv, SIDE_SERVER, cl);
        if (crc == 0 && src == 0) {
            /* Post-handshake messages (TLS 1.3 NewSessionTicket) are the
             * client's to take in. */
            uint8_t b[256];
            side_begin(SIDE_CLIENT);
            while (hasp_conn_pending(cl) > 0 && hasp_conn_read(cl, b, sizeof(b)) > 0) {
            }
            side_end(SIDE_CLIENT);
            return 0;
        }
        if ((crc < 0 && crc != HASP_WANT_POLLIN) || (src < 0 && src != HASP_WANT_POLLIN)) break;
    }
    snprintf(why, cap, "hasp handshake failed: client: %s; server: %s",
             crc < 0 && crc != HASP_WANT_POLLIN ? hasp_conn_errmsg(cl) : "(waiting)",
             src < 0 && src != HASP_WANT_POLLIN ? hasp_conn_errmsg(sv) : "(waiting)");
    return -1;
}

/* close_notify both ways: a connection that ends without it must not be
 * resumed (RFC 5246 7.2.1), so every timed connection ends cleanly. */
static int close_both(hasp_conn *cl, hasp_conn *sv, char *why, size_t cap)
{
    uint8_t b[64];
    side_begin(SIDE_CLIENT);
    int rc = hasp_conn_close(cl);
    side_end(SIDE_CLIENT);
    flush(cl, SIDE_CLIENT, sv);
    side_begin(SIDE_SERVER);
    int rs = hasp_conn_read(sv, b, sizeof(b));
    side_end(SIDE_SERVER);
    flush(sv, SIDE_SERVER, cl);
    side_begin(SIDE_CLIENT);
    int rc2 = hasp_conn_read(cl, b, sizeof(b));
    side_end(SIDE_CLIENT);
    if (rc == 0 && rs == 0 && rc2 == 0) return 0;
    snprintf(why, cap, "hasp close_notify exchange failed: client %s, server %s",
             hasp_conn_errmsg(cl), hasp_conn_errmsg(sv));
    return -1;
}

/* ------------------------------------------------------------------ handshakes */

typedef struct hx {
    const hs_case *hc;
    hasp_config *ccfg, *scfg;
    hasp_session *session; /* the client's, from the previous connection */
} hx;

static void hx_free(void *p)
{
    hx *x = p;
    if (!x) return;
    hasp_session_free(x->session);
    hasp_config_free(x->ccfg);
    hasp_config_free(x->scfg);
    free(x);
}

/* One connection pair from conn_new to conn_free, all inside the sides'
 * accounts. check 1: the first connection of a case, whose version must be
 * the case's; 2: the second, likewise. In a resumption case every
 * connection but the first must have resumed. */
static int hx_run(hx *x, int check, char *why, size_t cap)
{
    side_begin(SIDE_CLIENT);
    hasp_conn *cl = hasp_conn_new(x->ccfg, HASP_CLIENT);
    if (cl) {
        hasp_conn_set_servername(cl, BENCH_HOST);
        if (x->session) hasp_conn_set_session(cl, x->session);
    }
    side_end(SIDE_CLIENT);
    side_begin(SIDE_SERVER);
    hasp_conn *sv = hasp_conn_new(x->scfg, HASP_SERVER);
    side_end(SIDE_SERVER);
    nst_seen = 0;
    int rc = -1;
    if (!cl || !sv) {
        snprintf(why, cap, "hasp_conn_new failed");
        goto out;
    }
    if (handshake(cl, sv, why, cap) < 0) goto out;
    mem_mark_idle();
    if (close_both(cl, sv, why, cap) < 0) goto out;
    if (check && bench_verbose)
        fprintf(stderr, "hasp    %-20s %s %s %s %s%s, %d tickets\n", x->hc->name,
                hasp_conn_version_name(cl), hasp_conn_cipher_name(cl),
                hasp_conn_group_name(cl) ? hasp_conn_group_name(cl) : "-",
                hasp_conn_sigalg_name(cl) ? hasp_conn_sigalg_name(cl) : "-",
                hasp_conn_resumed(cl) ? " resumed" : "", nst_seen);
    if (check && hasp_conn_version(cl) != x->hc->version) {
        snprintf(why, cap, "hasp negotiated %s", hasp_conn_version_name(cl));
        goto out;
    }
    if (CASE_RESUMES(x->hc) && check != 1 && !(hasp_conn_resumed(cl) && hasp_conn_resumed(sv))) {
        snprintf(why, cap, "hasp did not resume");
        goto out;
    }
    if (CASE_RESUMES(x->hc)) {
        side_begin(SIDE_CLIENT);
        hasp_session *s = hasp_conn_get_session(cl);
        if (s) {
            hasp_session_free(x->session);
            x->session = s;
        }
        side_end(SIDE_CLIENT);
    }
    rc = 0;
out:
    side_begin(SIDE_CLIENT);
    hasp_conn_free(cl);
    side_end(SIDE_CLIENT);
    side_begin(SIDE_SERVER);
    hasp_conn_free(sv);
    side_end(SIDE_SERVER);
    return rc;
}

static void *hx_new(const hs_case *hc, const bench_pki *pki, char *why, size_t cap)
{
    hx *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->hc = hc;
    x->ccfg =
        make_cfg(0, hc->cert, hc->version, AEAD_AES128GCM, hc->resume, hc->hybrid, pki, why, cap);
    x->scfg = x->ccfg ? make_cfg(1, hc->cert, hc->version, AEAD_AES128GCM, hc->resume, hc->hybrid,
                                 pki, why, cap)
                      : NULL;
    if (!x->scfg) goto fail;
    /* The first handshake is full; for a resumption case it yields the
     * session, and the second must then resume. */
    if (hx_run(x, 1, why, cap) < 0 || (CASE_RESUMES(hc) && hx_run(x, 2, why, cap) < 0)) goto fail;
    return x;
fail:
    hx_free(x);
    return NULL;
}

static int hx_one(void *p, char *why, size_t cap)
{
    return hx_run(p, 0, why, cap);
}

/* ------------------------------------------------------------------ bulk */

typedef struct hb {
    hasp_config *ccfg, *scfg;
    hasp_conn *cl, *sv;
} hb;

static void hb_free(void *p)
{
    hb *b = p;
    if (!b) return;
    hasp_conn_free(b->cl);
    hasp_conn_free(b->sv);
    hasp_config_free(b->ccfg);
    hasp_config_free(b->scfg);
    free(b);
}

static void *hb_new(int aead, uint16_t version, const bench_pki *pki, char *why, size_t cap)
{
    hb *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->ccfg = make_cfg(0, CERT_ECDSA, version, aead, RESUME_NONE, 0, pki, why, cap);
    b->scfg =
        b->ccfg ? make_cfg(1, CERT_ECDSA, version, aead, RESUME_NONE, 0, pki, why, cap) : NULL;
    if (!b->scfg) goto fail;
    b->cl = hasp_conn_new(b->ccfg, HASP_CLIENT);
    b->sv = hasp_conn_new(b->scfg, HASP_SERVER);
    if (!b->cl || !b->sv) goto fail;
    hasp_conn_set_servername(b->cl, BENCH_HOST);
    if (handshake(b->cl, b->sv, why, cap) < 0) goto fail;
    const char *want = version == HASP_TLS1_3 ? suite13(aead) : suite12(aead, CERT_ECDSA);
    if (hasp_conn_version(b->cl) != version ||
        (strcmp(hasp_conn_cipher_name(b->cl), want) != 0 &&
         strcmp(hasp_conn_cipher_openssl_name(b->cl), want) != 0)) {
        snprintf(why, cap, "hasp negotiated %s %s, not %s", hasp_conn_version_name(b->cl),
                 hasp_conn_cipher_name(b->cl), want);
        goto fail;
    }
    return b;
fail:
    hb_free(b);
    return NULL;
}

static int hb_one(void *p, const uint8_t *buf, size_t len, uint8_t *rbuf, char *why, size_t cap)
{
    hb *b = p;
    side_begin(SIDE_CLIENT);
    int w = hasp_conn_write(b->cl, buf, len);
    side_end(SIDE_CLIENT);
    if (w != (int)len) {
        snprintf(why, cap, "hasp_conn_write: %s", hasp_conn_errmsg(b->cl));
        return -1;
    }
    size_t got = 0;
    for (int spins = 0; got < len; spins++) {
        if (flush(b->cl, SIDE_CLIENT, b->sv) < 0 || spins > 64) {
            snprintf(why, cap, "hasp: the data did not arrive: %s", hasp_conn_errmsg(b->sv));
            return -1;
        }
        side_begin(SIDE_SERVER);
        int r;
        while (got < len && (r = hasp_conn_read(b->sv, rbuf + got, len - got)) > 0)
            got += (size_t)r;
        side_end(SIDE_SERVER);
    }
    return 0;
}

const bench_lib lib_hasp = {
    .name = "hasp",
    .hs_new = hx_new,
    .hs_one = hx_one,
    .hs_free = hx_free,
    .bulk_new = hb_new,
    .bulk_one = hb_one,
    .bulk_free = hb_free,
};
