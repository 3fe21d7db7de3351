/* TLS 1.3's key schedule (RFC 8446 7.1): the secrets of each stage from
 * the transcript, their installation as record keys, the resumption master
 * secret, and the two transcript moves of a HelloRetryRequest (4.4.1) and
 * of middlebox compatibility (D.4). Used by tls13.c, tls13_psk.c and
 * tls13_post.c; it calls none of them. */
#include "../alloc.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../x509/x509.h"
#include "hs.h"
#include "tls13.h"

size_t tls13_hash_len(const hasp_conn *c)
{
    return hasp_hash_len(c->suite->prf_hash);
}

/* Values of the key schedule that are the same in every handshake without
 * a PSK, per hash (SHA-256, SHA-384): Hash(""), and Derive-Secret(Early
 * Secret, "derived", "") with Early Secret = HKDF-Extract(0, 0). Made once
 * per process; public constants, nothing secret. */
static struct {
    uint8_t empty[HASP_HASH_MAX];
    uint8_t derived[HASP_HASH_MAX]; /* from the no-PSK Early Secret */
    int ok;
} sched_const[2];
static pthread_once_t sched_once = PTHREAD_ONCE_INIT;

static void sched_make(void)
{
    static const int algs[2] = {HASP_HASH_SHA256, HASP_HASH_SHA384};
    for (int i = 0; i < 2; i++) {
        uint8_t zeros[HASP_HASH_MAX] = {0}, early[HASP_HASH_MAX];
        size_t hl = hasp_hash_len(algs[i]);
        sched_const[i].ok =
            hasp_hash(algs[i], (const uint8_t *)"", 0, sched_const[i].empty) == 0 &&
            hasp_hkdf_extract(algs[i], zeros, hl, zeros, hl, early) == 0 &&
            hasp_hkdf_expand_label(algs[i], early, hl, "derived", sched_const[i].empty, hl,
                                   sched_const[i].derived, hl) == 0;
    }
}

const uint8_t *tls13_sched_const(int alg, int derived)
{
    pthread_once(&sched_once, sched_make);
    int i = alg == HASP_HASH_SHA256 ? 0 : alg == HASP_HASH_SHA384 ? 1 : -1;
    if (i < 0 || !sched_const[i].ok) return NULL;
    return derived ? sched_const[i].derived : sched_const[i].empty;
}

/* Derive-Secret(secret, label, Transcript-Hash(messages)), th = NULL for "". */
static int derive_secret(hasp_conn *c, const uint8_t *secret, const char *label, const uint8_t *th,
                         uint8_t *out)
{
    uint8_t empty[HASP_HASH_MAX];
    if (!th && (th = tls13_sched_const(c->suite->prf_hash, 0)) == NULL) {
        GUARD(hasp_hash(c->suite->prf_hash, (const uint8_t *)"", 0, empty));
        th = empty;
    }
    return hasp_hkdf_expand_label(c->suite->prf_hash, secret, tls13_hash_len(c), label, th,
                                  tls13_hash_len(c), out, tls13_hash_len(c));
}

/* The record protection for one direction from a traffic secret (7.3), for
 * a given suite (early data uses the ticket's before the ServerHello). */
int tls13_install_secret_suite(hasp_conn *c, const hasp_suite *suite, const uint8_t *secret,
                               int write, const char *what)
{
    uint8_t key[32], iv[12];
    size_t klen = hasp_aead_key_len(suite->aead), hl = hasp_hash_len(suite->prf_hash);
    GUARD(hasp_hkdf_expand_label2(suite->prf_hash, secret, hl, "key", key, klen, "iv", iv, 12));
    hasp_rec_prot *p = write ? &c->wr : &c->rd;
    hasp_rec_prot_clear(p);
    int rc = hasp_rec_prot_aead13(p, suite->aead, key, iv, write);
    hasp_wipe(key, sizeof(key));
    hasp_wipe(iv, sizeof(iv));
    GUARD(rc);
    memcpy(write ? c->wr_secret : c->rd_secret, secret, hl);
    int from_server = (c->role == HASP_SERVER) == write;
    if (conn_tracing(c)) {
        char detail[128];
        snprintf(detail, sizeof(detail), "%s, %s traffic keys", suite->iana, what);
        conn_event(c, HASP_EV_KEY_CHANGE, from_server, 0, write ? "write keys" : "read keys", 0,
                   detail);
    }
    return 0;
}

int tls13_install_secret(hasp_conn *c, const uint8_t *secret, int write, const char *what)
{
    return tls13_install_secret_suite(c, c->suite, secret, write, what);
}

/* Handshake secrets, from the (EC)DHE shared secret and the transcript through ServerHello. */
int tls13_derive_handshake_secrets(hasp_conn *c, const uint8_t *shared, size_t shared_len)
{
    struct hasp_hs *hs = c->hs;
    uint8_t zeros[HASP_HASH_MAX] = {0}, early[HASP_HASH_MAX], derived[HASP_HASH_MAX],
            th[HASP_HASH_MAX];
    const uint8_t *fixed = hs->flags & F_PSK ? NULL : tls13_sched_const(c->suite->prf_hash, 1);
    if (fixed) {
        memcpy(derived, fixed, tls13_hash_len(c));
    } else {
        if (hs->flags & F_PSK)
            GUARD(hasp_hkdf_extract(c->suite->prf_hash, zeros, tls13_hash_len(c), hs->psk,
                                    hs->psk_len, early));
        else
            GUARD(hasp_hkdf_extract(c->suite->prf_hash, zeros, tls13_hash_len(c), zeros,
                                    tls13_hash_len(c), early));
        GUARD(derive_secret(c, early, "derived", NULL, derived));
    }
    GUARD(hasp_hkdf_extract(c->suite->prf_hash, derived, tls13_hash_len(c), shared, shared_len,
                            hs->hs_secret));
    GUARD(hs_transcript_hash(c, th));
    GUARD(derive_secret(c, hs->hs_secret, "c hs traffic", th, hs->c_hs));
    GUARD(derive_secret(c, hs->hs_secret, "s hs traffic", th, hs->s_hs));
    hasp_wipe(early, sizeof(early));
    conn_keylog(c, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", hs->client_random, hs->c_hs,
                tls13_hash_len(c));
    conn_keylog(c, "SERVER_HANDSHAKE_TRAFFIC_SECRET", hs->client_random, hs->s_hs,
                tls13_hash_len(c));
    int client = c->role == HASP_CLIENT;
    /* A client with early data in flight writes with the early key until the
     * server answers (EncryptedExtensions); a server that took early data
     * reads with it until EndOfEarlyData. */
    if (!(client && hs->early_writable))
        GUARD(tls13_install_secret(c, client ? hs->c_hs : hs->s_hs, 1, "handshake"));
    if (!client && (hs->flags & F_EARLY)) {
        GUARD(tls13_install_secret(c, hs->c_early, 0, "early data"));
        hs->early_reading = 1;
    } else {
        GUARD(tls13_install_secret(c, client ? hs->s_hs : hs->c_hs, 0, "handshake"));
    }
    return 0;
}

/* Master and application traffic secrets, transcript through server Finished. */
int tls13_derive_app_secrets(hasp_conn *c, uint8_t *s_ap)
{
    struct hasp_hs *hs = c->hs;
    uint8_t zeros[HASP_HASH_MAX] = {0}, derived[HASP_HASH_MAX], th[HASP_HASH_MAX];
    GUARD(derive_secret(c, hs->hs_secret, "derived", NULL, derived));
    GUARD(hasp_hkdf_extract(c->suite->prf_hash, derived, tls13_hash_len(c), zeros,
                            tls13_hash_len(c), hs->master13));
    GUARD(hs_transcript_hash(c, th));
    GUARD(derive_secret(c, hs->master13, "c ap traffic", th, hs->c_ap));
    GUARD(derive_secret(c, hs->master13, "s ap traffic", th, s_ap));
    conn_keylog(c, "CLIENT_TRAFFIC_SECRET_0", hs->client_random, hs->c_ap, tls13_hash_len(c));
    conn_keylog(c, "SERVER_TRAFFIC_SECRET_0", hs->client_random, s_ap, tls13_hash_len(c));
    uint8_t exp[HASP_HASH_MAX];
    if (conn_tracing(c) || c->cfg->keylog_allowed) {
        GUARD(derive_secret(c, hs->master13, "exp master", th, exp));
        conn_keylog(c, "EXPORTER_SECRET", hs->client_random, exp, tls13_hash_len(c));
        hasp_wipe(exp, sizeof(exp));
    }
    return 0;
}

int tls13_derive_resumption_master(hasp_conn *c)
{
    uint8_t th[HASP_HASH_MAX];
    GUARD(hs_transcript_hash(c, th));
    return derive_secret(c, c->hs->master13, "res master", th, c->resumption_master);
}

/* A plaintext ChangeCipherSpec for middlebox compatibility (D.4), once. */
int tls13_compat_ccs(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (hs->ccs_sent || hs->session_id_len == 0) return 0;
    hs->ccs_sent = 1;
    static const uint8_t one = 1;
    hasp_rec_prot saved = c->wr;
    memset(&c->wr, 0, sizeof(c->wr)); /* CCS is never protected */
    int rc = conn_send_record(c, HASP_CT_CHANGE_CIPHER_SPEC, &one, 1);
    c->wr = saved;
    GUARD(rc);
    conn_event(c, HASP_EV_MSG_SENT, c->role == HASP_SERVER, HS_CCS, "ChangeCipherSpec", 1,
               "middlebox compatibility");
    return 0;
}

/* RFC 8446 4.4.1: after a HelloRetryRequest, ClientHello1 is replaced by
 * message_hash || Hash(ClientHello1). `tail` bytes at the end of the
 * transcript (the HelloRetryRequest itself, when already added) stay. */
int tls13_transcript_hrr_rewrite(hasp_conn *c, size_t tail)
{
    struct hasp_hs *hs = c->hs;
    uint8_t h[HASP_HASH_MAX];
    size_t ch1 = hs->transcript.len - tail;
    GUARD(hasp_hash(c->suite->prf_hash, hs->transcript.p, ch1, h));
    hasp_wr nw = hasp_wr_dyn();
    int rc = wr_u8(&nw, HS_MESSAGE_HASH);
    if (rc == 0) rc = wr_u24(&nw, (uint32_t)tls13_hash_len(c));
    if (rc == 0) rc = wr_bytes(&nw, h, tls13_hash_len(c));
    if (rc == 0) rc = wr_bytes(&nw, hs->transcript.p + ch1, tail);
    if (rc < 0) {
        hasp_wr_free(&nw);
        return rc;
    }
    hasp_wr_free(&hs->transcript);
    hs->transcript = nw;
    return hs_transcript_start(c);
}
