/* The OpenSSL driver: two SSL objects, client and server, each on one end
 * of its own BIO pair; the bench moves bytes between the pairs' outer
 * ends. Only the SSL_* calls are timed and counted: the BIO pairs play
 * the part of the sockets (hasp's hasp_conn_input/output, its own API,
 * are timed on its side). */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define PAIR_BUF (64 * 1024)

static void ossl_err(char *why, size_t cap, const char *what)
{
    char e[256];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, e, sizeof(e));
    snprintf(why, cap, "OpenSSL: %s: %s", what, code ? e : "failed");
    ERR_clear_error();
}

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

/* Sessions: none for full handshakes (no cache, no tickets, as hasp has
 * none yet), a server cache for RESUME_ID, tickets for RESUME_TICKET and
 * RESUME_PSK (TLS 1.3 stateless tickets, psk_dhe_ke, OpenSSL's default
 * two tickets after a full handshake and one after a resumption). */
static SSL_CTX *make_ctx(int server, int cert, uint16_t version, int aead, int resume, int hybrid,
                         const bench_pki *pki, char *why, size_t cap)
{
    const bench_chain *ch = &pki->chain[cert];
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        ossl_err(why, cap, "SSL_CTX_new");
        return NULL;
    }
    if (hybrid && !SSL_CTX_set1_groups_list(ctx, "X25519MLKEM768")) {
        snprintf(why, cap, "%s's libssl has no X25519MLKEM768 (OpenSSL 3.5 and later have it)",
                 OpenSSL_version(OPENSSL_VERSION));
        SSL_CTX_free(ctx);
        return NULL;
    }
    int ok = SSL_CTX_set_min_proto_version(ctx, version) &&
             SSL_CTX_set_max_proto_version(ctx, version) &&
             (version == TLS1_3_VERSION ? SSL_CTX_set_ciphersuites(ctx, suite13(aead))
                                        : SSL_CTX_set_cipher_list(ctx, suite12(aead, cert))) &&
             SSL_CTX_set1_groups_list(ctx, hybrid ? "X25519MLKEM768" : "X25519:P-256") &&
             SSL_CTX_set1_sigalgs_list(ctx, BENCH_SIGALGS);
    if (ok && server)
        ok = SSL_CTX_use_certificate(ctx, ch->leaf) && SSL_CTX_add1_chain_cert(ctx, ch->inter) &&
             SSL_CTX_use_PrivateKey(ctx, ch->leaf_key) && SSL_CTX_check_private_key(ctx);
    if (ok && !server) {
        ok = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ch->root);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (ok) {
        switch (resume) {
        case RESUME_NONE:
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
            ok = SSL_CTX_set_num_tickets(ctx, 0);
            break;
        case RESUME_ID:
        case RESUME_FILL:
            SSL_CTX_set_session_cache_mode(ctx,
                                           server ? SSL_SESS_CACHE_SERVER : SSL_SESS_CACHE_OFF);
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
            break;
        default:
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
            break;
        }
    }
    if (!ok) {
        ossl_err(why, cap, "context setup");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* ------------------------------------------------------------------ a connection pair */

typedef struct pair {
    SSL *cl, *sv;
    BIO *cext, *sext; /* the outer ends: what the "network" sees */
} pair;

/* Transport work, outside every account. */
static int pair_transport(pair *p, SSL *cl, SSL *sv, char *why, size_t cap)
{
    mem_set_owner(SIDE_NONE);
    BIO *cint = NULL, *sint = NULL;
    if (!BIO_new_bio_pair(&cint, PAIR_BUF, &p->cext, PAIR_BUF) ||
        !BIO_new_bio_pair(&sint, PAIR_BUF, &p->sext, PAIR_BUF)) {
        ossl_err(why, cap, "BIO_new_bio_pair");
        BIO_free(cint);
        BIO_free(p->cext);
        p->cext = NULL;
        return -1;
    }
    SSL_set_bio(cl, cint, cint);
    SSL_set_bio(sv, sint, sint);
    return 0;
}

/* Move what one side wrote to the other side's input (untimed). */
static void move(BIO *from, BIO *to)
{
    char *p;
    int n;
    while ((n = BIO_nread0(from, &p)) > 0) {
        int t = BIO_write(to, p, n);
        if (t <= 0) return;
        BIO_nread(from, NULL, t);
    }
}

static int step(SSL *s, int side, int *done, char *why, size_t cap)
{
    if (*done) return 0;
    side_begin(side);
    int r = SSL_do_handshake(s);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(s, r);
    side_end(side);
    if (r == 1) {
        *done = 1;
        return 0;
    }
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    ossl_err(why, cap, side == SIDE_CLIENT ? "client handshake" : "server handshake");
    return -1;
}

static int pair_handshake(pair *p, char *why, size_t cap)
{
    int cdone = 0, sdone = 0;
    for (int i = 0; i < 32 && !(cdone && sdone); i++) {
        if (step(p->cl, SIDE_CLIENT, &cdone, why, cap) < 0) return -1;
        move(p->cext, p->sext);
        if (step(p->sv, SIDE_SERVER, &sdone, why, cap) < 0) return -1;
        move(p->sext, p->cext);
    }
    if (!(cdone && sdone)) {
        snprintf(why, cap, "OpenSSL handshake did not complete");
        return -1;
    }
    /* Post-handshake messages (TLS 1.3 NewSessionTicket) are the client's
     * to take in. */
    if (BIO_ctrl_pending(SSL_get_rbio(p->cl)) > 0) {
        uint8_t b[256];
        side_begin(SIDE_CLIENT);
        while (SSL_read(p->cl, b, sizeof(b)) > 0) {
        }
        side_end(SIDE_CLIENT);
        ERR_clear_error();
    }
    return 0;
}

/* close_notify both ways: OpenSSL forgets a session whose connection is
 * freed without one (ssl_clear_bad_session), and so will hasp. */
static int pair_close(pair *p, char *why, size_t cap)
{
    uint8_t b[64];
    side_begin(SIDE_CLIENT);
    int rc = SSL_shutdown(p->cl);
    side_end(SIDE_CLIENT);
    move(p->cext, p->sext);
    side_begin(SIDE_SERVER);
    int rs = SSL_read(p->sv, b, sizeof(b));
    int rs2 = SSL_shutdown(p->sv);
    side_end(SIDE_SERVER);
    move(p->sext, p->cext);
    side_begin(SIDE_CLIENT);
    int rc2 = SSL_shutdown(p->cl);
    side_end(SIDE_CLIENT);
    if (rc >= 0 && rs == 0 && rs2 == 1 && rc2 == 1) return 0;
    ossl_err(why, cap, "close_notify exchange");
    return -1;
}

static void pair_free(pair *p)
{
    side_begin(SIDE_CLIENT);
    SSL_free(p->cl);
    side_end(SIDE_CLIENT);
    side_begin(SIDE_SERVER);
    SSL_free(p->sv);
    side_end(SIDE_SERVER);
    BIO_free(p->cext);
    BIO_free(p->sext);
    memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------------ handshakes */

typedef struct ox {
    const hs_case *hc;
    SSL_CTX *cctx, *sctx;
    SSL_SESSION *sess;
} ox;

static void ox_free(void *v)
{
    ox *x = v;
    if (!x) return;
    SSL_SESSION_free(x->sess);
    SSL_CTX_free(x->cctx);
    SSL_CTX_free(x->sctx);
    free(x);
}

/* -v: count the NewSessionTicket messages the client receives. */
static int nst_seen;
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
        ((const uint8_t *)buf)[0] == SSL3_MT_NEWSESSION_TICKET)
        nst_seen++;
}

static int ox_run(ox *x, int check, char *why, size_t cap)
{
    pair p = {0};
    int rc = -1;
    side_begin(SIDE_CLIENT);
    p.cl = SSL_new(x->cctx);
    if (p.cl) {
        SSL_set_connect_state(p.cl);
        SSL_set_tlsext_host_name(p.cl, BENCH_HOST);
        SSL_set1_host(p.cl, BENCH_HOST);
        if (x->sess) SSL_set_session(p.cl, x->sess);
        if (check && bench_verbose) SSL_set_msg_callback(p.cl, msg_cb);
    }
    nst_seen = 0;
    side_end(SIDE_CLIENT);
    side_begin(SIDE_SERVER);
    p.sv = SSL_new(x->sctx);
    if (p.sv) SSL_set_accept_state(p.sv);
    side_end(SIDE_SERVER);
    if (!p.cl || !p.sv) {
        ossl_err(why, cap, "SSL_new");
        goto out;
    }
    if (pair_transport(&p, p.cl, p.sv, why, cap) < 0 || pair_handshake(&p, why, cap) < 0) goto out;
    mem_mark_idle();
    if (pair_close(&p, why, cap) < 0) goto out;
    if (check && bench_verbose) {
        int nid = 0;
        SSL_get_peer_signature_type_nid(p.cl, &nid);
        fprintf(stderr, "OpenSSL %-20s %s %s %s %s%s, %d tickets\n", x->hc->name,
                SSL_get_version(p.cl), SSL_get_cipher_name(p.cl),
                SSL_group_to_name(p.cl, SSL_get_negotiated_group(p.cl)), OBJ_nid2sn(nid),
                SSL_session_reused(p.cl) ? " resumed" : "", nst_seen);
    }
    if (check && SSL_version(p.cl) != x->hc->version) {
        snprintf(why, cap, "OpenSSL negotiated %s", SSL_get_version(p.cl));
        goto out;
    }
    if (CASE_RESUMES(x->hc) && check != 1 &&
        !(SSL_session_reused(p.cl) && SSL_session_reused(p.sv))) {
        snprintf(why, cap, "OpenSSL did not resume");
        goto out;
    }
    if (CASE_RESUMES(x->hc)) {
        side_begin(SIDE_CLIENT);
        SSL_SESSION *s = SSL_get1_session(p.cl);
        if (s) {
            SSL_SESSION_free(x->sess);
            x->sess = s;
        }
        side_end(SIDE_CLIENT);
    }
    rc = 0;
out:
    pair_free(&p);
    return rc;
}

static void *ox_new(const hs_case *hc, const bench_pki *pki, char *why, size_t cap)
{
    ox *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->hc = hc;
    x->cctx =
        make_ctx(0, hc->cert, hc->version, AEAD_AES128GCM, hc->resume, hc->hybrid, pki, why, cap);
    x->sctx = x->cctx ? make_ctx(1, hc->cert, hc->version, AEAD_AES128GCM, hc->resume, hc->hybrid,
                                 pki, why, cap)
                      : NULL;
    if (!x->sctx) goto fail;
    if (ox_run(x, 1, why, cap) < 0 || (CASE_RESUMES(hc) && ox_run(x, 2, why, cap) < 0)) goto fail;
    return x;
fail:
    ox_free(x);
    return NULL;
}

static int ox_one(void *x, char *why, size_t cap)
{
    return ox_run(x, 0, why, cap);
}

/* ------------------------------------------------------------------ bulk */

typedef struct ob {
    SSL_CTX *cctx, *sctx;
    pair p;
} ob;

static void ob_free(void *v)
{
    ob *b = v;
    if (!b) return;
    pair_free(&b->p);
    SSL_CTX_free(b->cctx);
    SSL_CTX_free(b->sctx);
    free(b);
}

static void *ob_new(int aead, uint16_t version, const bench_pki *pki, char *why, size_t cap)
{
    ob *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->cctx = make_ctx(0, CERT_ECDSA, version, aead, RESUME_NONE, 0, pki, why, cap);
    b->sctx =
        b->cctx ? make_ctx(1, CERT_ECDSA, version, aead, RESUME_NONE, 0, pki, why, cap) : NULL;
    if (!b->sctx) goto fail;
    b->p.cl = SSL_new(b->cctx);
    b->p.sv = SSL_new(b->sctx);
    if (!b->p.cl || !b->p.sv) {
        ossl_err(why, cap, "SSL_new");
        goto fail;
    }
    SSL_set_connect_state(b->p.cl);
    SSL_set_tlsext_host_name(b->p.cl, BENCH_HOST);
    SSL_set1_host(b->p.cl, BENCH_HOST);
    SSL_set_accept_state(b->p.sv);
    if (pair_transport(&b->p, b->p.cl, b->p.sv, why, cap) < 0 ||
        pair_handshake(&b->p, why, cap) < 0)
        goto fail;
    return b;
fail:
    ob_free(b);
    return NULL;
}

static int ob_one(void *v, const uint8_t *buf, size_t len, uint8_t *rbuf, char *why, size_t cap)
{
    ob *b = v;
    side_begin(SIDE_CLIENT);
    int w = SSL_write(b->p.cl, buf, (int)len);
    side_end(SIDE_CLIENT);
    if (w != (int)len) {
        ossl_err(why, cap, "SSL_write");
        return -1;
    }
    size_t got = 0;
    for (int spins = 0; got < len; spins++) {
        move(b->p.cext, b->p.sext);
        if (spins > 64) {
            snprintf(why, cap, "OpenSSL: the data did not arrive");
            return -1;
        }
        side_begin(SIDE_SERVER);
        int r;
        while (got < len && (r = SSL_read(b->p.sv, rbuf + got, (int)(len - got))) > 0)
            got += (size_t)r;
        side_end(SIDE_SERVER);
    }
    return 0;
}

const bench_lib lib_ossl = {
    .name = "OpenSSL",
    .hs_new = ox_new,
    .hs_one = ox_one,
    .hs_free = ox_free,
    .bulk_new = ob_new,
    .bulk_one = ob_one,
    .bulk_free = ob_free,
};
