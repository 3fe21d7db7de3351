/* The TLS 1.3 handshake (RFC 8446) as its own table beside TLS 1.2's. The
 * ClientHello is shared (one message offers both versions); once a
 * ServerHello picks TLS 1.3, both sides walk tls13_full. */
#include "../alloc.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../x509/x509.h"
#include "hs.h"

/* RFC 8446 4.1.3: SHA-256("HelloRetryRequest") */
const uint8_t tls13_hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
/* RFC 8446 4.1.3: "DOWNGRD" 01, the last 8 bytes of a TLS 1.2 ServerHello.random. */
const uint8_t tls13_downgrade12[8] = {0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01};

/* ---------------------------------------------------------------- key schedule (RFC 8446 7.1) */

static size_t hlen(const hasp_conn *c)
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

static const uint8_t *sched_get(int alg, int derived)
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
    if (!th && (th = sched_get(c->suite->prf_hash, 0)) == NULL) {
        GUARD(hasp_hash(c->suite->prf_hash, (const uint8_t *)"", 0, empty));
        th = empty;
    }
    return hasp_hkdf_expand_label(c->suite->prf_hash, secret, hlen(c), label, th, hlen(c), out,
                                  hlen(c));
}

/* The record protection for one direction from a traffic secret (7.3), for
 * a given suite (early data uses the ticket's before the ServerHello). */
static int install_secret_suite(hasp_conn *c, const hasp_suite *suite, const uint8_t *secret,
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

static int install_secret(hasp_conn *c, const uint8_t *secret, int write, const char *what)
{
    return install_secret_suite(c, c->suite, secret, write, what);
}

/* Handshake secrets, from the (EC)DHE shared secret and the transcript through ServerHello. */
static int derive_handshake_secrets(hasp_conn *c, const uint8_t *shared, size_t shared_len)
{
    struct hasp_hs *hs = c->hs;
    uint8_t zeros[HASP_HASH_MAX] = {0}, early[HASP_HASH_MAX], derived[HASP_HASH_MAX],
            th[HASP_HASH_MAX];
    const uint8_t *fixed = hs->flags & F_PSK ? NULL : sched_get(c->suite->prf_hash, 1);
    if (fixed) {
        memcpy(derived, fixed, hlen(c));
    } else {
        if (hs->flags & F_PSK)
            GUARD(
                hasp_hkdf_extract(c->suite->prf_hash, zeros, hlen(c), hs->psk, hs->psk_len, early));
        else
            GUARD(hasp_hkdf_extract(c->suite->prf_hash, zeros, hlen(c), zeros, hlen(c), early));
        GUARD(derive_secret(c, early, "derived", NULL, derived));
    }
    GUARD(
        hasp_hkdf_extract(c->suite->prf_hash, derived, hlen(c), shared, shared_len, hs->hs_secret));
    GUARD(hs_transcript_hash(c, th));
    GUARD(derive_secret(c, hs->hs_secret, "c hs traffic", th, hs->c_hs));
    GUARD(derive_secret(c, hs->hs_secret, "s hs traffic", th, hs->s_hs));
    hasp_wipe(early, sizeof(early));
    conn_keylog(c, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", hs->client_random, hs->c_hs, hlen(c));
    conn_keylog(c, "SERVER_HANDSHAKE_TRAFFIC_SECRET", hs->client_random, hs->s_hs, hlen(c));
    int client = c->role == HASP_CLIENT;
    /* A client with early data in flight writes with the early key until the
     * server answers (EncryptedExtensions); a server that took early data
     * reads with it until EndOfEarlyData. */
    if (!(client && hs->early_writable))
        GUARD(install_secret(c, client ? hs->c_hs : hs->s_hs, 1, "handshake"));
    if (!client && (hs->flags & F_EARLY)) {
        GUARD(install_secret(c, hs->c_early, 0, "early data"));
        hs->early_reading = 1;
    } else {
        GUARD(install_secret(c, client ? hs->s_hs : hs->c_hs, 0, "handshake"));
    }
    return 0;
}

/* Master and application traffic secrets, transcript through server Finished. */
static int derive_app_secrets(hasp_conn *c, uint8_t *s_ap)
{
    struct hasp_hs *hs = c->hs;
    uint8_t zeros[HASP_HASH_MAX] = {0}, derived[HASP_HASH_MAX], th[HASP_HASH_MAX];
    GUARD(derive_secret(c, hs->hs_secret, "derived", NULL, derived));
    GUARD(hasp_hkdf_extract(c->suite->prf_hash, derived, hlen(c), zeros, hlen(c), hs->master13));
    GUARD(hs_transcript_hash(c, th));
    GUARD(derive_secret(c, hs->master13, "c ap traffic", th, hs->c_ap));
    GUARD(derive_secret(c, hs->master13, "s ap traffic", th, s_ap));
    conn_keylog(c, "CLIENT_TRAFFIC_SECRET_0", hs->client_random, hs->c_ap, hlen(c));
    conn_keylog(c, "SERVER_TRAFFIC_SECRET_0", hs->client_random, s_ap, hlen(c));
    uint8_t exp[HASP_HASH_MAX];
    if (conn_tracing(c) || c->cfg->keylog_allowed) {
        GUARD(derive_secret(c, hs->master13, "exp master", th, exp));
        conn_keylog(c, "EXPORTER_SECRET", hs->client_random, exp, hlen(c));
        hasp_wipe(exp, sizeof(exp));
    }
    return 0;
}

static int derive_resumption_master(hasp_conn *c)
{
    uint8_t th[HASP_HASH_MAX];
    GUARD(hs_transcript_hash(c, th));
    return derive_secret(c, c->hs->master13, "res master", th, c->resumption_master);
}

/* A plaintext ChangeCipherSpec for middlebox compatibility (D.4), once. */
static int compat_ccs(hasp_conn *c)
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
static int transcript_hrr_rewrite(hasp_conn *c, size_t tail)
{
    struct hasp_hs *hs = c->hs;
    uint8_t h[HASP_HASH_MAX];
    size_t ch1 = hs->transcript.len - tail;
    GUARD(hasp_hash(c->suite->prf_hash, hs->transcript.p, ch1, h));
    hasp_wr nw = hasp_wr_dyn();
    int rc = wr_u8(&nw, HS_MESSAGE_HASH);
    if (rc == 0) rc = wr_u24(&nw, (uint32_t)hlen(c));
    if (rc == 0) rc = wr_bytes(&nw, h, hlen(c));
    if (rc == 0) rc = wr_bytes(&nw, hs->transcript.p + ch1, tail);
    if (rc < 0) {
        hasp_wr_free(&nw);
        return rc;
    }
    hasp_wr_free(&hs->transcript);
    hs->transcript = nw;
    return hs_transcript_start(c);
}

/* ---------------------------------------------------------------- PSK (4.2.11) */

/* binder = HMAC(finished_key(Derive-Secret(early, "res binder", "")), Hash(partial CH)) */
int tls13_psk_binder(hasp_conn *c, int hash, const uint8_t *psk, size_t psk_len,
                     const uint8_t *partial, size_t partial_len, uint8_t *out)
{
    size_t hl = hasp_hash_len(hash);
    uint8_t zeros[HASP_HASH_MAX] = {0}, early[HASP_HASH_MAX], empty_buf[HASP_HASH_MAX],
            bkey[HASP_HASH_MAX], fkey[HASP_HASH_MAX], th[HASP_HASH_MAX];
    const uint8_t *empty = sched_get(hash, 0);
    if (empty == NULL) {
        GUARD(hasp_hash(hash, (const uint8_t *)"", 0, empty_buf));
        empty = empty_buf;
    }
    GUARD(hasp_hkdf_extract(hash, zeros, hl, psk, psk_len, early));
    GUARD(hasp_hkdf_expand_label(hash, early, hl, "res binder", empty, hl, bkey, hl));
    GUARD(hasp_hkdf_expand_label(hash, bkey, hl, "finished", NULL, 0, fkey, hl));
    GUARD(hasp_hash(hash, partial, partial_len, th));
    int rc = hasp_hmac(hash, fkey, hl, th, hl, out);
    hasp_wipe(early, sizeof(early));
    hasp_wipe(bkey, sizeof(bkey));
    hasp_wipe(fkey, sizeof(fkey));
    return rc;
}

/* Client: offer the session's ticket; the binder is filled in once the
 * whole ClientHello is written (tls12.c client_hello_send). */
/* Client: the suite of the session to offer as a PSK, or NULL when there is
 * none to offer (no TLS 1.3 ticket, expired, tickets off). */
static const hasp_suite *offerable_psk(const hasp_conn *c)
{
    const hasp_session *s = c->session_in;
    if (hs_max_version(c) < HASP_TLS1_3 || !s || !s->resumable || s->version != HASP_TLS1_3 ||
        !s->ticket_len || !c->cfg->tickets || c->hs->reneg)
        return NULL;
    if (conn_now(c) >= s->created + (int64_t)s->lifetime) return NULL;
    return hasp_suite_find(s->suite);
}

int tls13_client_wants_early(const hasp_conn *c)
{
    const struct hasp_hs *hs = c->hs;
    const hasp_suite *ps = offerable_psk(c);
    if (!c->early_wanted || !c->cfg->max_early_data || hs->table == tls13_hrr || !ps ||
        !hasp_session_max_early_data(c->session_in))
        return 0;
    /* the early data is protected with the ticket's suite: it must be one we offer */
    for (size_t i = 0; i < c->cfg->nsuites; i++)
        if (c->cfg->suites[i] == ps->id) return 1;
    return 0;
}

/* The early secret's client_early_traffic_secret over the ClientHello. */
static int early_traffic_secret(hasp_conn *c, const hasp_suite *suite, const uint8_t *psk,
                                size_t psk_len, uint8_t *out)
{
    struct hasp_hs *hs = c->hs;
    size_t hl = hasp_hash_len(suite->prf_hash);
    uint8_t zeros[HASP_HASH_MAX] = {0}, early[HASP_HASH_MAX], th[HASP_HASH_MAX];
    GUARD(hasp_hkdf_extract(suite->prf_hash, zeros, hl, psk, psk_len, early));
    int rc = hasp_hash(suite->prf_hash, hs->transcript.p, hs->transcript.len, th);
    if (rc == 0)
        rc = hasp_hkdf_expand_label(suite->prf_hash, early, hl, "c e traffic", th, hl, out, hl);
    hasp_wipe(early, sizeof(early));
    GUARD(rc);
    conn_keylog(c, "CLIENT_EARLY_TRAFFIC_SECRET", hs->client_random, out, hl);
    return 0;
}

int tls13_client_early_start(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    const hasp_session *s = c->session_in;
    const hasp_suite *ps = hasp_suite_find(s->suite);
    ENSURE(ps && hs->psk_offered, HASP_ERR_INTERNAL);
    GUARD(early_traffic_secret(c, ps, s->secret, s->secret_len, hs->c_early));
    c->rec_version = HASP_TLS1_2; /* RFC 8446 5.1: only the first ClientHello may say 1.0 */
    GUARD(compat_ccs(c));         /* RFC 8446 D.4: right after the ClientHello, before the data */
    GUARD(install_secret_suite(c, ps, hs->c_early, 1, "early data"));
    hs->early_writable = 1;
    c->early_status = HASP_EARLY_PENDING;
    char detail[96];
    snprintf(detail, sizeof(detail), "offered, up to %u bytes, %s", hasp_session_max_early_data(s),
             ps->iana);
    conn_event(c, HASP_EV_DECISION, 0, 0, "early data", 0, detail);
    return 0;
}

/* Client: the server did not take the early data. */
static int client_early_rejected(hasp_conn *c, const char *why)
{
    struct hasp_hs *hs = c->hs;
    hs->early_writable = 0;
    c->early_status = HASP_EARLY_REJECTED;
    c->early_reason = why;
    conn_event(c, HASP_EV_DECISION, 1, 0, "early data rejected", 0, why);
    return 0;
}

int tls13_psk_ch_write(hasp_conn *c, hasp_wr *w)
{
    struct hasp_hs *hs = c->hs;
    const hasp_session *s = c->session_in;
    hs->psk_offered = 0;
    const hasp_suite *ps = offerable_psk(c);
    if (!ps) return 0;
    int64_t now_ms = conn_now_ms(c);
    size_t hl = hasp_hash_len(ps->prf_hash), m;
    /* Both clocks are read to the millisecond and truncated, so the age of
     * two timestamps can exceed the true age by up to 1 ms, while a server
     * that truncates its own may see up to 1 ms less; on loopback the true
     * gap between the two views is a fraction of that. GnuTLS refuses early
     * data when the client's age exceeds its own: report 2 ms less (never
     * below 0), well inside any server's window (RFC 8446 4.2.11.1). */
    int64_t age_ms = now_ms - s->ticket_received_ms - 2;
    uint32_t age = (uint32_t)(age_ms > 0 ? age_ms : 0) + s->age_add;
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(wr_vec(w, 2, s->ticket, s->ticket_len));
    GUARD(wr_u32(w, age));
    GUARD(wr_vec_end(w, 2, m));
    GUARD(wr_u16(w, (uint16_t)(hl + 1)));
    GUARD(wr_u8(w, (uint8_t)hl));
    uint8_t *b;
    GUARD(wr_space(w, hl, &b));
    memset(b, 0, hl);
    hs->binders_len = 2 + 1 + hl;
    hs->psk_offered = 1;
    return 1;
}

/* Server: the first offered ticket we can open, whose binder checks. */
static int server_pick_psk(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    /* RFC 8446 4.2.9: psk_dhe_ke when both sides allow it, else psk_ke when both do */
    int both = hs->peer_psk_modes & c->cfg->psk_modes;
    if (!hs->psk_identity_count || !both || !c->cfg->tickets) return 0;
    hs->psk_ke = !(both & HASP_PSK_DHE_KE);
    int64_t now = conn_now(c);
    hasp_rd binders = hasp_rd_init(hs->psk_binders, hs->binders_len - 2);
    for (int i = 0; i < hs->psk_identity_count; i++) {
        hasp_rd b;
        GUARD(rd_vec_bounded(&binders, 1, 32, 255, &b));
        if (conn_ticket_revoked(c, hs->psk_identities[i], hs->psk_identity_len[i]))
            continue; /* from a connection that ended badly */
        hasp_session *s = c->cfg->test_psk_lookup
                              ? c->cfg->test_psk_lookup(c->cfg->test_psk_arg, hs->psk_identities[i],
                                                        hs->psk_identity_len[i])
                              : NULL;
        if (!s)
            s = ticket_open((ticket_keys *)&c->cfg->tkeys, hs->psk_identities[i],
                            hs->psk_identity_len[i]);
        if (!s) continue;
        const hasp_suite *ps = hasp_suite_find(s->suite);
        int ok = ps && s->version == HASP_TLS1_3 && now < s->created + (int64_t)s->lifetime &&
                 !strcmp(s->sni, c->sni);
        /* a TLS 1.3 suite the client offers with the session's hash */
        const hasp_suite *use = NULL;
        for (size_t j = 0; ok && j < c->cfg->nsuites && !use; j++) {
            const hasp_suite *cs = hasp_suite_find(c->cfg->suites[j]);
            if (!cs || !hasp_suite_is_tls13(cs) || cs->prf_hash != ps->prf_hash) continue;
            for (size_t k = 0; k < hs->npeer_suites; k++)
                if (hs->peer_suites[k] == cs->id) use = cs;
        }
        if (!ok || !use || b.len != hasp_hash_len(ps->prf_hash)) {
            hasp_session_free(s);
            continue;
        }
        if (c->cfg->ticket_single_use) {
            hasp_config *cfg = (hasp_config *)c->cfg; /* the memory of used tickets, made once */
            pthread_mutex_lock(&cfg->lock);
            if (!cfg->used_tickets) cfg->used_tickets = used_tickets_new(4096);
            pthread_mutex_unlock(&cfg->lock);
            if (!cfg->used_tickets || used_tickets_seen(cfg->used_tickets, hs->psk_identities[i],
                                                        hs->psk_identity_len[i])) {
                conn_event(c, HASP_EV_DECISION, 1, 0, "resumption refused", 0,
                           "ticket already used (single-use policy)");
                hasp_session_free(s);
                continue;
            }
        }
        uint8_t want[HASP_HASH_MAX];
        int rc = tls13_psk_binder(c, ps->prf_hash, s->secret, s->secret_len, hs->transcript.p,
                                  hs->transcript.len - hs->binders_len, want);
        if (rc < 0 || hasp_ct_memcmp(want, b.p, b.len) != 0) {
            hasp_session_free(s);
            FAIL(HASP_ERR_DECRYPT,
                 "the client's pre_shared_key binder does not verify: the ClientHello was "
                 "altered or the client holds a different key for the ticket");
        }
        c->suite = use;
        memcpy(hs->psk, s->secret, s->secret_len);
        hs->psk_len = s->secret_len;
        hs->flags |= F_PSK;
        hs->flags &= ~(unsigned)F_CLIENT_AUTH;
        hs->resume = s;
        c->resumed = 1;
        c->resumed_how = "psk";
        conn_note_ticket(c, hs->psk_identities[i], hs->psk_identity_len[i]);
        hs->peer_cert_checked = 1;
        if (s->peer_cert_len && (c->peer_cert = hasp_malloc(s->peer_cert_len))) {
            memcpy(c->peer_cert, s->peer_cert, s->peer_cert_len);
            c->peer_cert_len = s->peer_cert_len;
        }
        hs->psk_selected = i;
        conn_event(c, HASP_EV_DECISION, 1, 0, "resumption", 0,
                   hs->psk_ke ? "psk_ke" : "psk_dhe_ke");
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- server: selection */

static const hasp_cred *pick_cred13(hasp_conn *c, uint16_t *scheme)
{
    struct hasp_hs *hs = c->hs;
    const hasp_cred *fallback = NULL;
    uint16_t fallback_scheme = 0;
    for (size_t i = 0; i < c->cfg->ncreds; i++) {
        const hasp_cred *cr = &c->cfg->creds[i];
        uint16_t s =
            hs_pick_sigscheme(c, hs->peer_sigalgs, hs->npeer_sigalgs, cr->key, HASP_TLS1_3);
        if (!s) continue;
        /* The name decides only between several certificates. */
        if (c->sni[0] && c->cfg->ncreds > 1 &&
            hasp_x509_cert_matches_host(&cr->leaf, c->sni, 0) == 1) {
            *scheme = s;
            return cr;
        }
        if (!fallback) {
            fallback = cr;
            fallback_scheme = s;
        }
    }
    *scheme = fallback_scheme;
    return fallback;
}

/* ---------------------------------------------------------------- server: 0-RTT (4.2.10, 8) */

/* How far the client's idea of the ticket's age may be from ours (RFC 8446
 * 8.3), in seconds; a replayed ClientHello is refused once its age is off
 * by more, so the strike register keeps an entry twice as long. */
#define EARLY_AGE_WINDOW_S 10

/* NULL when the early data can be taken, else why not. */
static const char *early_refusal(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    const hasp_session *s = hs->resume;
    if (!c->cfg->max_early_data) return "this server does not accept early data";
    if (!(hs->flags & F_PSK) || !s)
        return "the server did not resume the ticket, so it has no key for the early data";
    if (hs->psk_selected != 0) return "the resumed ticket is not the first one offered";
    if (!s->max_early_data) return "the ticket was issued without early data";
    if (s->created < c->cfg->early_since)
        return "the ticket was issued before this server enabled early data (replays across a "
               "restart)";
    if (s->suite != c->suite->id) return "the cipher suite differs from the ticket's";
    if (strcmp(s->alpn, c->alpn)) return "the ALPN protocol differs from the ticket's";
    /* freshness: the client's age of the ticket against ours, both in ms */
    int64_t ours = (conn_now(c) - s->created) * 1000;
    int64_t theirs = (int64_t)(uint32_t)(hs->psk_age[0] - s->age_add);
    int64_t skew = theirs > ours ? theirs - ours : ours - theirs;
    if (skew > EARLY_AGE_WINDOW_S * 1000 + 1000) /* + 1 s: our clock counts seconds */
        return "the client's ticket age is off from the server's by more than 10 s (a replay, "
               "or a skewed clock)";
    /* last: a ticket carries early data once (RFC 8446 8.1) */
    int rc = used_tickets_claim(c->cfg->early_strikes, hs->psk_identities[0],
                                hs->psk_identity_len[0], conn_now(c), 2 * EARLY_AGE_WINDOW_S + 2);
    if (rc == 1) return "this ticket already carried early data (a replay?)";
    if (rc == 2) return "the replay memory is full of recent tickets";
    return NULL;
}

static void server_early_reject(hasp_conn *c, const char *why)
{
    struct hasp_hs *hs = c->hs;
    hs->early_skip = 1; /* what the client sent anyway is skipped, up to a limit */
    c->early_status = HASP_EARLY_REJECTED;
    c->early_reason = why;
    conn_event(c, HASP_EV_DECISION, 1, 0, "early data rejected", 0, why);
}

/* The ClientHello offered early data and the server knows its shape (no
 * HelloRetryRequest): take it or not. */
static int server_early_decide(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (!hs->peer_early) return 0;
    const char *why = early_refusal(c);
    if (why) {
        server_early_reject(c, why);
        return 0;
    }
    GUARD(early_traffic_secret(c, c->suite, hs->psk, hs->psk_len, hs->c_early));
    hs->flags |= F_EARLY;
    c->early_status = HASP_EARLY_ACCEPTED;
    char detail[64];
    snprintf(detail, sizeof(detail), "accepted, up to %u bytes", c->cfg->max_early_data);
    conn_event(c, HASP_EV_DECISION, 1, 0, "early data", 0, detail);
    return 0;
}

/* Server, reading: a record of early data while the early key is in place. */
int tls13_early_data_recv(hasp_conn *c, size_t len)
{
    struct hasp_hs *hs = c->hs;
    hs->early_received += len;
    ENSURE_MSG(hs->early_received <= c->cfg->max_early_data, HASP_ERR_UNEXPECTED,
               "the client sent more than %u bytes of early data (the limit this server "
               "advertised)",
               c->cfg->max_early_data);
    return 0;
}

int tls13_server_select(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (hs->hrr_done) {
        /* RFC 8446 4.1.2: the second ClientHello must answer the HelloRetryRequest. */
        int found = 0;
        for (size_t i = 0; i < hs->npeer_suites; i++)
            found |= hs->peer_suites[i] == c->suite->id;
        ENSURE_MSG(found, HASP_ERR_ILLEGAL_PARAM, "the second ClientHello no longer offers %s",
                   c->suite->iana);
        if (hs->flags & F_PSK) {
            /* RFC 8446 4.1.4: the second ClientHello carries the same PSK, with a binder
             * over the new transcript. */
            hasp_rd binders = hasp_rd_init(hs->psk_binders, hs->binders_len - 2), b = {NULL, 0};
            for (int i = 0; i <= hs->psk_selected; i++)
                GUARD(rd_vec_bounded(&binders, 1, 32, 255, &b));
            ENSURE_MSG(hs->psk_selected < hs->psk_identity_count && b.len == hlen(c),
                       HASP_ERR_ILLEGAL_PARAM,
                       "the second ClientHello dropped the pre-shared key the server accepted");
            uint8_t want[HASP_HASH_MAX];
            GUARD(tls13_psk_binder(c, c->suite->prf_hash, hs->psk, hs->psk_len, hs->transcript.p,
                                   hs->transcript.len - hs->binders_len, want));
            ENSURE_MSG(hasp_ct_memcmp(want, b.p, b.len) == 0, HASP_ERR_DECRYPT,
                       "the second ClientHello's pre_shared_key binder does not verify");
        }
        for (size_t i = 0; i < hs->nshares; i++)
            if (hs->share_group[i] == hs->hrr_group) {
                c->group = hs->hrr_group;
                return 0;
            }
        FAIL(
            HASP_ERR_ILLEGAL_PARAM,
            "the second ClientHello has no key share for %s, which the HelloRetryRequest asked for",
            hasp_group_name(hs->hrr_group));
    }
    int psk = server_pick_psk(c);
    GUARD(psk);
    /* RFC 8446 9.2: without a PSK both are needed; psk_dhe_ke needs the shares */
    ENSURE_MSG(psk || hs->peer_sent_sigalgs, HASP_ERR_MISSING_EXT,
               "the client offers TLS 1.3 without signature_algorithms");
    ENSURE_MSG((psk && hs->psk_ke) || (hs->peer_sent_key_share && hs->peer_sent_groups),
               HASP_ERR_MISSING_EXT,
               "the client offers TLS 1.3 without key_share and supported_groups");
    const hasp_suite *suite = psk ? c->suite : NULL;
    for (size_t i = 0; i < c->cfg->nsuites && !suite; i++) {
        const hasp_suite *s = hasp_suite_find(c->cfg->suites[i]);
        if (!s || !hasp_suite_is_tls13(s)) continue;
        for (size_t j = 0; j < hs->npeer_suites; j++)
            if (hs->peer_suites[j] == s->id) suite = s;
    }
    if (!suite) {
        char theirs[300] = "", ours[300] = "";
        for (size_t j = 0; j < hs->npeer_suites; j++) {
            const hasp_suite *s = hasp_suite_find(hs->peer_suites[j]);
            size_t k = strlen(theirs);
            if (s && hasp_suite_is_tls13(s) && k + 40 < sizeof(theirs))
                snprintf(theirs + k, sizeof(theirs) - k, "%s%s", k ? ", " : "", s->iana);
        }
        for (size_t i = 0; i < c->cfg->nsuites; i++) {
            const hasp_suite *s = hasp_suite_find(c->cfg->suites[i]);
            size_t k = strlen(ours);
            if (s && hasp_suite_is_tls13(s) && k + 40 < sizeof(ours))
                snprintf(ours + k, sizeof(ours) - k, "%s%s", k ? ", " : "", s->iana);
        }
        FAIL(HASP_ERR_HANDSHAKE,
             "no TLS 1.3 cipher suite in common: the client offered %s; this server allows %s",
             theirs[0] ? theirs : "none that hasp knows", ours[0] ? ours : "none");
    }
    uint16_t scheme = 0;
    hs->cred = pick_cred13(c, &scheme);
    if (!hs->cred && !psk) {
        char theirs[512], ours[512];
        hs_list_sigschemes(hs->peer_sigalgs, hs->npeer_sigalgs, theirs, sizeof(theirs));
        hs_list_own_sigschemes(c, HASP_TLS1_3, ours, sizeof(ours));
        FAIL(HASP_ERR_HANDSHAKE,
             "no signature scheme in common: the client accepts %s%s; this server's "
             "certificates can sign with %s",
             theirs, hs->peer_sent_sigalgs ? "" : " (it sent no signature_algorithms)", ours);
    }
    c->suite = suite;
    c->sigscheme = psk ? 0 : scheme; /* a PSK handshake signs nothing */
    c->version = HASP_TLS1_3;
    GUARD(hs_transcript_start(c));
    if (psk && hs->psk_ke) {
        /* psk_ke: no key exchange at all */
        c->group = 0;
        hs->table = tls13_full;
        hs->step = 0;
        conn_event(c, HASP_EV_DECISION, 1, 0, "version", 0, "TLSv1.3");
        return server_early_decide(c);
    }
    /* A group the client sent a share for, in our order; else ask for one.
     * Except that a hybrid we both support, first in our order among the
     * groups we share, is worth a HelloRetryRequest when the client's share
     * is only for a classic group: the key exchange then resists a future
     * quantum computer. */
    uint16_t shared = 0, supported = 0;
    for (size_t i = 0; i < c->cfg->ngroups && !shared; i++)
        for (size_t j = 0; j < hs->nshares; j++)
            if (hs->share_group[j] == c->cfg->groups[i]) shared = c->cfg->groups[i];
    for (size_t i = 0; i < c->cfg->ngroups && !supported; i++)
        if (hs_peer_has_group(hs, c->cfg->groups[i])) supported = c->cfg->groups[i];
    if (shared && (hasp_group_is_hybrid(shared) || !hasp_group_is_hybrid(supported))) {
        c->group = shared;
        hs->table = tls13_full;
        hs->step = 0;
        conn_event(c, HASP_EV_DECISION, 1, 0, "version", 0, "TLSv1.3");
        return server_early_decide(c);
    }
    for (size_t i = 0; i < c->cfg->ngroups; i++)
        if (hs_peer_has_group(hs, c->cfg->groups[i])) {
            hs->hrr_group = c->cfg->groups[i];
            hs->table = tls13_hrr;
            hs->step = 0;
            conn_event(c, HASP_EV_DECISION, 1, 0, "HelloRetryRequest", 0,
                       hasp_group_name(hs->hrr_group));
            if (hs->peer_early)
                server_early_reject(c, "a HelloRetryRequest was needed (RFC 8446 4.2.10)");
            return 0;
        }
    char theirs[400], ours[400];
    hs_list_groups(hs->peer_groups_offered, hs->npeer_groups_offered, theirs, sizeof(theirs));
    hs_list_groups(c->cfg->groups, c->cfg->ngroups, ours, sizeof(ours));
    FAIL(HASP_ERR_HANDSHAKE, "no group in common: the client offered %s%s; this server allows %s",
         hs->peer_sent_groups ? theirs : "none (no supported_groups)",
         hs->npeer_groups_offered && !hs->npeer_groups ? " (none that hasp implements)" : "", ours);
}

/* ---------------------------------------------------------------- ServerHello / HelloRetryRequest
 */

static int write_sh_common(hasp_conn *c, hasp_wr *w, const uint8_t *random)
{
    struct hasp_hs *hs = c->hs;
    GUARD(wr_u16(w, HASP_TLS1_2)); /* legacy_version */
    GUARD(wr_bytes(w, random, 32));
    GUARD(wr_vec(w, 1, hs->session_id, hs->session_id_len));
    GUARD(wr_u16(w, c->suite->id));
    GUARD(wr_u8(w, 0));
    return 0;
}

static int hello_retry_request_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    GUARD(transcript_hrr_rewrite(c, 0));
    hasp_wr *w = hs_msg_begin(c);
    GUARD(write_sh_common(c, w, tls13_hrr_random));
    size_t all, m;
    GUARD(wr_vec_begin(w, 2, &all));
    GUARD(wr_u16(w, EXT_KEY_SHARE));
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(wr_u16(w, hs->hrr_group));
    GUARD(wr_vec_end(w, 2, m));
    GUARD(wr_u16(w, EXT_SUPPORTED_VERSIONS));
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(wr_u16(w, HASP_TLS1_3));
    GUARD(wr_vec_end(w, 2, m));
    GUARD(wr_vec_end(w, 2, all));
    DETAIL(c, "HelloRetryRequest group=%s suite=%s", hasp_group_name(hs->hrr_group),
           c->suite->iana);
    GUARD(hs_msg_end(c, HS_SERVER_HELLO));
    hs->hrr_done = 1;
    return compat_ccs(c);
}

static int server_hello13_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    uint8_t shared[HASP_KEX_MAX_SECRET] = {0}, pub[HASP_KEX_MAX_PUB];
    size_t shared_len = hlen(c), pub_len = 0; /* psk_ke: Hash.length zeros (RFC 8446 7.1) */
    int rc;
    if (!hs->psk_ke) {
        size_t idx = 0;
        while (idx < hs->nshares && hs->share_group[idx] != c->group)
            idx++;
        ENSURE(idx < hs->nshares, HASP_ERR_INTERNAL);
        hs->kex = conn_kex_new_responder(c, c->group);
        ENSURE_MSG(hs->kex, HASP_ERR_CRYPTO, "cannot make a key pair in %s",
                   hasp_group_name(c->group));
        rc = hasp_kex_derive_padded(hs->kex, hs->share_data[idx], hs->share_len[idx], shared,
                                    sizeof(shared), &shared_len);
        if (rc < 0)
            FAIL(HASP_ERR_ILLEGAL_PARAM, "the client's %s key share is invalid: %s",
                 hasp_group_name(c->group), hasp_err_last()->msg);
        GUARD(hasp_kex_public(hs->kex, pub, sizeof(pub), &pub_len));
    }
    GUARD(conn_random_public(c, hs->server_random, 32, NULL, 0));
    hasp_wr *w = hs_msg_begin(c);
    GUARD(write_sh_common(c, w, hs->server_random));
    size_t all, m;
    /* in RFC 8448's order: pre_shared_key, key_share, supported_versions */
    GUARD(wr_vec_begin(w, 2, &all));
    if (hs->flags & F_PSK) {
        GUARD(wr_u16(w, EXT_PRE_SHARED_KEY));
        GUARD(wr_u16(w, 2));
        GUARD(wr_u16(w, (uint16_t)hs->psk_selected));
    }
    if (!hs->psk_ke) {
        GUARD(wr_u16(w, EXT_KEY_SHARE));
        GUARD(wr_vec_begin(w, 2, &m));
        GUARD(wr_u16(w, c->group));
        GUARD(wr_vec(w, 2, pub, pub_len));
        GUARD(wr_vec_end(w, 2, m));
    }
    GUARD(wr_u16(w, EXT_SUPPORTED_VERSIONS));
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(wr_u16(w, HASP_TLS1_3));
    GUARD(wr_vec_end(w, 2, m));
    GUARD(wr_vec_end(w, 2, all));
    DETAIL(c, "version=TLS1.3 suite=%s group=%s extensions=supported_versions%s%s", c->suite->iana,
           hs->psk_ke ? "none (psk_ke)" : hasp_group_name(c->group), hs->psk_ke ? "" : ",key_share",
           (hs->flags & F_PSK) ? ",pre_shared_key" : "");
    GUARD(hs_msg_end(c, HS_SERVER_HELLO));
    GUARD(compat_ccs(c));
    rc = derive_handshake_secrets(c, shared, shared_len);
    hasp_wipe(shared, sizeof(shared));
    GUARD(rc);
    hs->table = tls13_full;
    hs->step = 1;
    return 0;
}

/* Client: a ServerHello (or HelloRetryRequest) that chose TLS 1.3. The
 * message is already in the transcript. */
int tls13_server_hello_recv(hasp_conn *c, hasp_rd *exts, uint16_t suite_id, const uint8_t *sid,
                            size_t sid_len)
{
    struct hasp_hs *hs = c->hs;
    int hrr = !memcmp(hs->server_random, tls13_hrr_random, 32);
    const hasp_suite *s = hasp_suite_find(suite_id);
    int offered = 0;
    for (size_t i = 0; s && i < c->cfg->nsuites; i++)
        offered |= c->cfg->suites[i] == suite_id;
    ENSURE_MSG(offered && hasp_suite_is_tls13(s), HASP_ERR_ILLEGAL_PARAM,
               "the server chose the cipher suite 0x%04x, which the client did not offer for TLS "
               "1.3",
               suite_id);
    ENSURE_MSG(sid_len == hs->session_id_len && !memcmp(sid, hs->session_id, sid_len),
               HASP_ERR_ILLEGAL_PARAM,
               "the server's legacy_session_id_echo does not match the client's session ID");
    if (hs->hrr_done) {
        ENSURE_MSG(!hrr, HASP_ERR_UNEXPECTED, "the server sent a second HelloRetryRequest");
        ENSURE_MSG(s == c->suite, HASP_ERR_ILLEGAL_PARAM,
                   "the server changed the cipher suite after its HelloRetryRequest");
    }
    c->suite = s;
    c->version = HASP_TLS1_3;
    hasp_rd list;
    GUARD(rd_vec(exts, 2, &list));
    GUARD(rd_expect_empty(exts));
    uint16_t seen[16];
    size_t nseen = 0;
    int have_version = 0;
    uint16_t key_group = 0;
    hasp_rd key_pub = {NULL, 0};
    int have_key = 0;
    DETAIL(c, "%sversion=TLS1.3 suite=%s extensions=", hrr ? "HelloRetryRequest " : "", s->iana);
    while (rd_left(&list)) {
        uint16_t type;
        hasp_rd body;
        GUARD(rd_u16(&list, &type));
        GUARD(rd_vec(&list, 2, &body));
        for (size_t i = 0; i < nseen; i++)
            ENSURE_MSG(seen[i] != type, HASP_ERR_DECODE,
                       "the ServerHello contains the extension %s twice", ext_name(type));
        ENSURE_MSG(nseen < 16, HASP_ERR_LIMIT, "the ServerHello has too many extensions");
        seen[nseen++] = type;
        DETAIL(c, "%s%s", nseen > 1 ? "," : "", ext_name(type));
        if (type == EXT_SUPPORTED_VERSIONS) {
            uint16_t v;
            GUARD(rd_u16(&body, &v));
            GUARD(rd_expect_empty(&body));
            ENSURE_MSG(v == HASP_TLS1_3, HASP_ERR_ILLEGAL_PARAM,
                       "the server's supported_versions selects 0x%04x", v);
            have_version = 1;
        } else if (type == EXT_KEY_SHARE) {
            GUARD(rd_u16(&body, &key_group));
            if (!hrr) GUARD(rd_vec_bounded(&body, 2, 1, 65535, &key_pub));
            GUARD(rd_expect_empty(&body));
            have_key = 1;
        } else if (type == EXT_PRE_SHARED_KEY && !hrr) {
            uint16_t sel;
            GUARD(rd_u16(&body, &sel));
            GUARD(rd_expect_empty(&body));
            ENSURE_MSG(hs->psk_offered && sel == 0, HASP_ERR_ILLEGAL_PARAM,
                       "the server selected pre-shared key %u, which the client did not offer",
                       sel);
            const hasp_suite *ps = hasp_suite_find(c->session_in->suite);
            ENSURE_MSG(ps && ps->prf_hash == s->prf_hash, HASP_ERR_ILLEGAL_PARAM,
                       "the server resumed with a suite whose hash differs from the session's");
            memcpy(hs->psk, c->session_in->secret, c->session_in->secret_len);
            hs->psk_len = c->session_in->secret_len;
            hs->flags |= F_PSK;
        } else if (type == EXT_COOKIE && hrr) {
            hasp_rd ck;
            GUARD(rd_vec_bounded(&body, 2, 1, 65535, &ck));
            GUARD(rd_expect_empty(&body));
            ENSURE_MSG(ck.len <= sizeof(hs->cookie), HASP_ERR_LIMIT,
                       "the server's cookie is %zu bytes", ck.len);
            memcpy(hs->cookie, ck.p, ck.len);
            hs->cookie_len = ck.len;
        } else {
            FAIL(HASP_ERR_UNSUPPORTED_EXT, "the server sent the extension %s (%u) in its %s",
                 ext_name(type), type, hrr ? "HelloRetryRequest" : "ServerHello");
        }
    }
    ENSURE(have_version, HASP_ERR_INTERNAL);
    if (hrr) {
        ENSURE_MSG(have_key || hs->cookie_len, HASP_ERR_ILLEGAL_PARAM,
                   "the HelloRetryRequest would not change the ClientHello");
        if (have_key) {
            ENSURE_MSG(hs_offered_group(c, key_group) && hs->share_kex &&
                           key_group != hasp_kex_group(hs->share_kex) &&
                           (!hs->share_kex2 || key_group != hasp_kex_group(hs->share_kex2)),
                       HASP_ERR_ILLEGAL_PARAM,
                       "the HelloRetryRequest asks for the group 0x%04x, which the client did not "
                       "offer or already sent",
                       key_group);
            hs->hrr_group = key_group;
        }
        GUARD(transcript_hrr_rewrite(c, hs->cur_len));
        if (hs->early_writable) {
            /* the second ClientHello goes in the clear, without early data */
            hasp_rec_prot_clear(&c->wr);
            GUARD(client_early_rejected(c, "the server sent a HelloRetryRequest"));
        }
        hasp_kex_free(hs->share_kex);
        hs->share_kex = NULL;
        hasp_kex_free(hs->share_kex2);
        hs->share_kex2 = NULL;
        hs->table = tls13_hrr;
        hs->step = 1;
        hs->hrr_done = 1; /* a second one is unexpected_message (RFC 8446 4.1.4) */
        conn_event(c, HASP_EV_DECISION, 1, 0, "HelloRetryRequest", 0,
                   hs->hrr_group ? hasp_group_name(hs->hrr_group) : "cookie");
        return 0;
    }
    if (!have_key) {
        /* psk_ke: the PSK alone, when the client allowed it (RFC 8446 4.2.9) */
        ENSURE_MSG((hs->flags & F_PSK) && (c->cfg->psk_modes & HASP_PSK_KE), HASP_ERR_MISSING_EXT,
                   "the server's ServerHello has no key_share");
        hs->psk_ke = 1;
    } else {
        ENSURE_MSG(!(hs->flags & F_PSK) || (c->cfg->psk_modes & HASP_PSK_DHE_KE),
                   HASP_ERR_ILLEGAL_PARAM,
                   "the server resumed with psk_dhe_ke, which the client did not offer");
        if (hs->share_kex2 && key_group == hasp_kex_group(hs->share_kex2)) {
            /* the server took the second share: keep that key pair only */
            hasp_kex_free(hs->share_kex);
            hs->share_kex = hs->share_kex2;
            hs->share_kex2 = NULL;
        }
        ENSURE_MSG(hs->share_kex && key_group == hasp_kex_group(hs->share_kex),
                   HASP_ERR_ILLEGAL_PARAM,
                   "the server's key share is for 0x%04x, not a group the client sent a share for",
                   key_group);
    }
    GUARD(hs_transcript_start(c));
    c->group = key_group;
    if (hs->flags & F_PSK) {
        const hasp_session *sess = c->session_in;
        c->resumed = 1;
        c->resumed_how = "psk";
        hs->peer_cert_checked = 1;
        if (sess->peer_cert_len && (c->peer_cert = hasp_malloc(sess->peer_cert_len))) {
            memcpy(c->peer_cert, sess->peer_cert, sess->peer_cert_len);
            c->peer_cert_len = sess->peer_cert_len;
        }
        conn_set_verify_msg(c, "ok (resumed: verified in the original handshake)");
        conn_event(c, HASP_EV_DECISION, 1, 0, "resumption", 0,
                   hs->psk_ke ? "psk_ke" : "psk_dhe_ke");
    }
    uint8_t shared[HASP_KEX_MAX_SECRET] = {0};
    size_t shared_len = hlen(c); /* psk_ke: Hash.length zeros (RFC 8446 7.1) */
    int rc = 0;
    if (!hs->psk_ke)
        rc = hasp_kex_derive_padded(hs->share_kex, key_pub.p, key_pub.len, shared, sizeof(shared),
                                    &shared_len);
    if (rc < 0)
        FAIL(HASP_ERR_ILLEGAL_PARAM, "the server's %s key share is invalid: %s",
             hasp_group_name(key_group), hasp_err_last()->msg);
    GUARD(compat_ccs(c));
    rc = derive_handshake_secrets(c, shared, shared_len);
    hasp_wipe(shared, sizeof(shared));
    GUARD(rc);
    hs->table = tls13_full;
    hs->step = 1;
    conn_event(c, HASP_EV_DECISION, 1, 0, "version", 0, "TLSv1.3");
    return 0;
}

/* ---------------------------------------------------------------- EncryptedExtensions */

static int encrypted_extensions_send(hasp_conn *c)
{
    hasp_wr *w = hs_msg_begin(c);
    size_t all, m;
    GUARD(wr_vec_begin(w, 2, &all));
    DETAIL(c, "extensions=");
    int sni = hs_sni_used(c);
    if (sni) {
        GUARD(wr_u16(w, EXT_SERVER_NAME));
        GUARD(wr_u16(w, 0));
        DETAIL(c, "server_name");
    }
    if (c->alpn[0]) {
        GUARD(wr_u16(w, EXT_ALPN));
        GUARD(wr_vec_begin(w, 2, &m));
        size_t m2;
        GUARD(wr_vec_begin(w, 2, &m2));
        GUARD(wr_vec(w, 1, c->alpn, strlen(c->alpn)));
        GUARD(wr_vec_end(w, 2, m2));
        GUARD(wr_vec_end(w, 2, m));
        DETAIL(c, "%salpn=%s", sni ? "," : "", c->alpn);
    }
    if (c->hs->flags & F_EARLY) {
        GUARD(wr_u16(w, EXT_EARLY_DATA));
        GUARD(wr_u16(w, 0));
        DETAIL(c, "%searly_data", c->alpn[0] || sni ? "," : "");
    }
    GUARD(wr_vec_end(w, 2, all));
    return hs_msg_end(c, HS_ENCRYPTED_EXTENSIONS);
}

static int encrypted_extensions_recv(hasp_conn *c, hasp_rd *r)
{
    hasp_rd list;
    GUARD(rd_vec(r, 2, &list));
    GUARD(rd_expect_empty(r));
    uint16_t seen[32];
    size_t nseen = 0;
    DETAIL(c, "extensions=");
    while (rd_left(&list)) {
        uint16_t type;
        hasp_rd body;
        GUARD(rd_u16(&list, &type));
        GUARD(rd_vec(&list, 2, &body));
        for (size_t i = 0; i < nseen; i++)
            ENSURE_MSG(seen[i] != type, HASP_ERR_DECODE, "EncryptedExtensions contains %s twice",
                       ext_name(type));
        ENSURE_MSG(nseen < 32, HASP_ERR_LIMIT, "EncryptedExtensions has too many extensions");
        seen[nseen++] = type;
        DETAIL(c, "%s%s", nseen > 1 ? "," : "", ext_name(type));
        switch (type) {
        case EXT_SERVER_NAME:
            ENSURE_MSG(c->hs->sent_sni, HASP_ERR_UNSUPPORTED_EXT,
                       "the server acknowledged a server_name that was not sent");
            GUARD(rd_expect_empty(&body));
            break;
        case EXT_SUPPORTED_GROUPS:
            break; /* the server's preferences: informational */
        case EXT_ALPN: {
            ENSURE_MSG(c->cfg->alpn_len, HASP_ERR_UNSUPPORTED_EXT,
                       "the server selected an ALPN protocol that was not offered");
            hasp_rd l, name;
            GUARD(rd_vec(&body, 2, &l));
            GUARD(rd_expect_empty(&body));
            GUARD(rd_vec_bounded(&l, 1, 1, 255, &name));
            GUARD(rd_expect_empty(&l));
            hasp_rd ours = hasp_rd_init(c->cfg->alpn, c->cfg->alpn_len);
            int ok = 0;
            while (rd_left(&ours) && !ok) {
                hasp_rd o;
                GUARD(rd_vec(&ours, 1, &o));
                ok = o.len == name.len && !memcmp(o.p, name.p, name.len);
            }
            ENSURE_MSG(ok, HASP_ERR_ILLEGAL_PARAM,
                       "the server selected the ALPN protocol '%.*s', which was not offered",
                       (int)name.len, name.p);
            memcpy(c->alpn, name.p, name.len);
            c->alpn[name.len] = 0;
            break;
        }
        case EXT_EARLY_DATA: {
            struct hasp_hs *hs = c->hs;
            /* early_writable: offered, and not dropped at a HelloRetryRequest */
            ENSURE_MSG(hs->early_writable, HASP_ERR_UNSUPPORTED_EXT,
                       "the server accepted early data that was not offered (or was dropped at "
                       "its HelloRetryRequest)");
            GUARD(rd_expect_empty(&body));
            /* RFC 8446 4.2.10: only with the first PSK, and the ticket's suite */
            ENSURE_MSG((hs->flags & F_PSK) && c->suite->id == c->session_in->suite,
                       HASP_ERR_ILLEGAL_PARAM,
                       "the server accepted early data without resuming the ticket with its "
                       "cipher suite");
            hs->flags |= F_EARLY;
            c->early_status = HASP_EARLY_ACCEPTED;
            conn_event(c, HASP_EV_DECISION, 1, 0, "early data", 0, "accepted");
            break;
        }
        case EXT_EXTENDED_MASTER_SECRET:
        case EXT_ENCRYPT_THEN_MAC:
        case EXT_RENEGOTIATION_INFO:
        case EXT_EC_POINT_FORMATS:
        case EXT_SIGNATURE_ALGORITHMS:
        case EXT_KEY_SHARE:
        case EXT_SUPPORTED_VERSIONS:
        case EXT_PRE_SHARED_KEY:
            FAIL(HASP_ERR_ILLEGAL_PARAM,
                 "the server sent %s in EncryptedExtensions, where TLS 1.3 "
                 "does not allow it",
                 ext_name(type));
        default:
            FAIL(HASP_ERR_UNSUPPORTED_EXT,
                 "the server sent the extension %s (%u), which the client did not offer",
                 ext_name(type), type);
        }
    }
    struct hasp_hs *hs = c->hs;
    if (hs->early_writable && !(hs->flags & F_EARLY)) {
        /* declined: the rest of the flight goes under the handshake key */
        GUARD(install_secret(c, hs->c_hs, 1, "handshake"));
        GUARD(client_early_rejected(c, "the server declined it (no early_data in its "
                                       "EncryptedExtensions)"));
    }
    return 0;
}

/* ---------------------------------------------------------------- EndOfEarlyData (4.5) */

static int end_of_early_data_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    hs_msg_begin(c);
    GUARD(hs_msg_end(c, HS_END_OF_EARLY_DATA)); /* under the early key */
    hs->early_writable = 0;
    DETAIL(c, "after %u bytes of early data", c->early_sent);
    return install_secret(c, hs->c_hs, 1, "handshake");
}

static int end_of_early_data_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    GUARD(rd_expect_empty(r));
    ENSURE_MSG(hs->rx_encrypted && hs->early_reading, HASP_ERR_UNEXPECTED,
               "EndOfEarlyData outside early data");
    hs->early_reading = 0;
    DETAIL(c, "after %zu bytes of early data", hs->early_received);
    return install_secret(c, hs->c_hs, 0, "handshake");
}

/* ---------------------------------------------------------------- CertificateRequest */

static int certificate_request13_send(hasp_conn *c)
{
    hasp_wr *w = hs_msg_begin(c);
    GUARD(wr_u8(w, 0)); /* certificate_request_context: empty in the handshake */
    size_t all, m, m2;
    GUARD(wr_vec_begin(w, 2, &all));
    GUARD(wr_u16(w, EXT_SIGNATURE_ALGORITHMS));
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(wr_vec_begin(w, 2, &m2));
    for (size_t i = 0; i < c->cfg->nsigalgs; i++) {
        const hasp_sigscheme *s = hasp_sigscheme_find(c->cfg->sigalgs[i]);
        if (s && s->sig_alg != HASP_SIG_RSA_PKCS1 && s->hash != HASP_HASH_SHA1)
            GUARD(wr_u16(w, s->id));
    }
    GUARD(wr_vec_end(w, 2, m2));
    GUARD(wr_vec_end(w, 2, m));
    GUARD(wr_vec_end(w, 2, all));
    DETAIL(c, "extensions=signature_algorithms");
    return hs_msg_end(c, HS_CERTIFICATE_REQUEST);
}

static int certificate_request13_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    hasp_rd ctx, list;
    GUARD(rd_vec(r, 1, &ctx));
    ENSURE_MSG(ctx.len == 0, HASP_ERR_ILLEGAL_PARAM,
               "the server's CertificateRequest has a context during the handshake");
    GUARD(rd_vec_bounded(r, 2, 2, 65535, &list));
    GUARD(rd_expect_empty(r));
    int have_sigalgs = 0;
    while (rd_left(&list)) {
        uint16_t type;
        hasp_rd body;
        GUARD(rd_u16(&list, &type));
        GUARD(rd_vec(&list, 2, &body));
        if (type == EXT_SIGNATURE_ALGORITHMS) {
            ENSURE(!have_sigalgs, HASP_ERR_DECODE);
            GUARD(hs_read_sigalgs(&body, hs->cr_sigalgs, 64, &hs->ncr_sigalgs));
            have_sigalgs = 1;
        }
    }
    ENSURE_MSG(have_sigalgs, HASP_ERR_MISSING_EXT,
               "the server's CertificateRequest has no signature_algorithms");
    for (size_t i = 0; i < c->cfg->ncreds && !hs->cred; i++) {
        const hasp_cred *cr = &c->cfg->creds[i];
        if (hs_pick_sigscheme(c, hs->cr_sigalgs, hs->ncr_sigalgs, cr->key, HASP_TLS1_3))
            hs->cred = cr;
    }
    DETAIL(c, "signature_schemes=%zu", hs->ncr_sigalgs);
    return 0;
}

/* ---------------------------------------------------------------- Certificate */

static int certificate13_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    const hasp_cred *cred = hs->cred;
    if (c->role == HASP_CLIENT && !cred) hs->flags |= F_NO_CLIENT_CERT;
    hasp_wr *w = hs_msg_begin(c);
    GUARD(wr_u8(w, 0)); /* context */
    size_t m;
    GUARD(wr_vec_begin(w, 3, &m));
    for (size_t i = 0; cred && i < cred->n; i++) {
        GUARD(wr_vec(w, 3, cred->chain[i], cred->chain_len[i]));
        GUARD(wr_u16(w, 0)); /* no per-certificate extensions */
    }
    GUARD(wr_vec_end(w, 3, m));
    DETAIL(c, "certificates=%zu", cred ? cred->n : 0);
    return hs_msg_end(c, HS_CERTIFICATE);
}

static int certificate13_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    hasp_rd ctx, list;
    GUARD(rd_vec(r, 1, &ctx));
    GUARD(rd_vec(r, 3, &list));
    GUARD(rd_expect_empty(r));
    ENSURE_MSG(ctx.len == 0, HASP_ERR_ILLEGAL_PARAM,
               "the %s's Certificate has a request context during the handshake", hs_peer_name(c));
    const uint8_t *certs[HASP_MAX_CHAIN + 6];
    size_t lens[HASP_MAX_CHAIN + 6], n = 0;
    while (rd_left(&list)) {
        hasp_rd cert, exts;
        GUARD(rd_vec_bounded(&list, 3, 1, (1u << 24) - 1, &cert));
        GUARD(rd_vec(&list, 2, &exts));
        ENSURE_MSG(n < sizeof(certs) / sizeof(certs[0]) && n < c->cfg->max_chain_len,
                   HASP_ERR_LIMIT, "the %s sent more than %u certificates (the configured limit)",
                   hs_peer_name(c), c->cfg->max_chain_len);
        certs[n] = cert.p;
        lens[n] = cert.len;
        n++;
    }
    DETAIL(c, "certificates=%zu", n);
    if (n == 0) {
        ENSURE_MSG(c->role == HASP_SERVER, HASP_ERR_DECODE,
                   "the server sent an empty Certificate message");
        ENSURE_MSG(conn_verify_client(c) != HASP_VERIFY_CLIENT_REQUIRE, HASP_ERR_CERT_REQUIRED,
                   "the client sent no certificate, and this server requires one");
        hs->flags |= F_NO_CLIENT_CERT;
        hs->peer_cert_checked = 1;
        conn_set_verify_msg(c, "no client certificate");
        return 0;
    }
    return hs_verify_chain(c, certs, lens, n);
}

/* ---------------------------------------------------------------- CertificateVerify (4.4.3) */

static int cv_content(hasp_conn *c, int server, const uint8_t *th, uint8_t *out, size_t *len)
{
    static const char sctx[] = "TLS 1.3, server CertificateVerify";
    static const char cctx[] = "TLS 1.3, client CertificateVerify";
    memset(out, 0x20, 64);
    memcpy(out + 64, server ? sctx : cctx, sizeof(sctx)); /* includes the 0 byte */
    memcpy(out + 64 + sizeof(sctx), th, hlen(c));
    *len = 64 + sizeof(sctx) + hlen(c);
    return 0;
}

static int certificate_verify13_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    int server = c->role == HASP_SERVER;
    uint16_t scheme =
        server ? c->sigscheme
               : hs_pick_sigscheme(c, hs->cr_sigalgs, hs->ncr_sigalgs, hs->cred->key, HASP_TLS1_3);
    ENSURE(scheme, HASP_ERR_INTERNAL);
    uint8_t th[HASP_HASH_MAX], content[200];
    size_t len;
    GUARD(hs_transcript_hash(c, th));
    GUARD(cv_content(c, server, th, content, &len));
    hasp_wr *w = hs_msg_begin(c);
    GUARD(hs_write_signature(c, w, scheme, content, len));
    return hs_msg_end(c, HS_CERTIFICATE_VERIFY);
}

static int certificate_verify13_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    const hasp_sigscheme *ss;
    hasp_rd sig;
    GUARD(hs_read_signature(c, r, HASP_TLS1_3, "CertificateVerify", &ss, &sig));
    uint16_t scheme = ss->id;
    uint8_t content[200];
    size_t len;
    GUARD(cv_content(c, c->role == HASP_CLIENT, hs->hash_before, content, &len));
    if (hasp_verify_scheme(hs->peer_key, scheme, content, len, sig.p, sig.len) < 0)
        FAIL(HASP_ERR_DECRYPT,
             "the %s's CertificateVerify signature (%s) does not verify with its certificate",
             hs_peer_name(c), ss->name);
    if (c->role == HASP_CLIENT) c->sigscheme = scheme;
    hs->cv_checked = 1;
    DETAIL(c, "signature=%s", ss->name);
    return 0;
}

/* ---------------------------------------------------------------- Finished (4.4.4) */

static int finished_mac(hasp_conn *c, const uint8_t *base, const uint8_t *th, uint8_t *out)
{
    uint8_t key[HASP_HASH_MAX];
    GUARD(hasp_hkdf_expand_label(c->suite->prf_hash, base, hlen(c), "finished", NULL, 0, key,
                                 hlen(c)));
    int rc = hasp_hmac(c->suite->prf_hash, key, hlen(c), th, hlen(c), out);
    hasp_wipe(key, sizeof(key));
    return rc;
}

static int finished13_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    int server = c->role == HASP_SERVER;
    uint8_t th[HASP_HASH_MAX], vd[HASP_HASH_MAX];
    GUARD(hs_transcript_hash(c, th));
    GUARD(finished_mac(c, server ? hs->s_hs : hs->c_hs, th, vd));
    hasp_wr *w = hs_msg_begin(c);
    GUARD(wr_bytes(w, vd, hlen(c)));
    GUARD(hs_msg_end(c, HS_FINISHED));
    if (server) {
        uint8_t s_ap[HASP_HASH_MAX];
        GUARD(derive_app_secrets(c, s_ap));
        GUARD(install_secret(c, s_ap, 1, "application"));
        hasp_wipe(s_ap, sizeof(s_ap));
    } else {
        GUARD(install_secret(c, hs->c_ap, 1, "application"));
        GUARD(derive_resumption_master(c));
    }
    return 0;
}

static int finished13_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    int from_server = c->role == HASP_CLIENT;
    uint8_t vd[HASP_HASH_MAX];
    const uint8_t *got;
    GUARD(rd_bytes(r, hlen(c), &got));
    GUARD(rd_expect_empty(r));
    GUARD(finished_mac(c, from_server ? hs->s_hs : hs->c_hs, hs->hash_before, vd));
    ENSURE_MSG(hasp_ct_memcmp(vd, got, hlen(c)) == 0, HASP_ERR_DECRYPT,
               "the %s's Finished does not match: the handshake was tampered with, or the two "
               "sides derived different keys",
               hs_peer_name(c));
    hs->finished_checked = 1;
    if (from_server) {
        uint8_t s_ap[HASP_HASH_MAX];
        GUARD(derive_app_secrets(c, s_ap));
        GUARD(install_secret(c, s_ap, 0, "application"));
        hasp_wipe(s_ap, sizeof(s_ap));
        /* RFC 8446 D.4: the client's compatibility CCS precedes its second flight. */
        GUARD(compat_ccs(c));
    } else {
        GUARD(install_secret(c, hs->c_ap, 0, "application"));
        GUARD(derive_resumption_master(c));
    }
    return 0;
}

/* ---------------------------------------------------------------- the tables */

#define C SENDER_CLIENT
#define S SENDER_SERVER

const hs_step tls13_full[] = {
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", hs_client_hello_send, hs_client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "ServerHello", server_hello13_send, hs_server_hello_recv},
    {HS_ENCRYPTED_EXTENSIONS, S, 0, 0, 0, 0, "EncryptedExtensions", encrypted_extensions_send,
     encrypted_extensions_recv},
    {HS_CERTIFICATE_REQUEST, S, F_CLIENT_AUTH, F_PSK, 1, 0, "CertificateRequest",
     certificate_request13_send, certificate_request13_recv},
    {HS_CERTIFICATE, S, 0, F_PSK, 0, 0, "Certificate", certificate13_send, certificate13_recv},
    {HS_CERTIFICATE_VERIFY, S, 0, F_PSK, 0, 1, "CertificateVerify", certificate_verify13_send,
     certificate_verify13_recv},
    {HS_FINISHED, S, 0, 0, 0, 1, "Finished", finished13_send, finished13_recv},
    {HS_END_OF_EARLY_DATA, C, F_EARLY, 0, 0, 0, "EndOfEarlyData", end_of_early_data_send,
     end_of_early_data_recv},
    {HS_CERTIFICATE, C, F_CLIENT_AUTH, 0, 0, 0, "Certificate", certificate13_send,
     certificate13_recv},
    {HS_CERTIFICATE_VERIFY, C, F_CLIENT_AUTH, F_NO_CLIENT_CERT, 0, 1, "CertificateVerify",
     certificate_verify13_send, certificate_verify13_recv},
    {HS_FINISHED, C, 0, 0, 0, 1, "Finished", finished13_send, finished13_recv},
    {HS_END, C, 0, 0, 0, 0, "end", NULL, NULL},
};

/* After a HelloRetryRequest: a second ClientHello, then the real
 * ServerHello, which continues in tls13_full. */
const hs_step tls13_hrr[] = {
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", hs_client_hello_send, hs_client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "HelloRetryRequest", hello_retry_request_send,
     hs_server_hello_recv},
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", hs_client_hello_send, hs_client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "ServerHello", server_hello13_send, hs_server_hello_recv},
    {HS_END, C, 0, 0, 0, 0, "end", NULL, NULL},
};

#undef C
#undef S

/* ---------------------------------------------------------------- post-handshake */

int tls13_key_update_send(hasp_conn *c, int request)
{
    uint8_t msg[5] = {HS_KEY_UPDATE, 0, 0, 1, (uint8_t)(request ? 1 : 0)};
    GUARD(conn_send_record(c, HASP_CT_HANDSHAKE, msg, sizeof(msg)));
    conn_event(c, HASP_EV_MSG_SENT, c->role == HASP_SERVER, HS_KEY_UPDATE, "KeyUpdate", 5,
               request ? "update_requested" : "update_not_requested");
    uint8_t next[HASP_HASH_MAX];
    GUARD(hasp_hkdf_expand_label(c->suite->prf_hash, c->wr_secret, hlen(c), "traffic upd", NULL, 0,
                                 next, hlen(c)));
    int rc = install_secret(c, next, 1, "updated application");
    hasp_wipe(next, sizeof(next));
    return rc;
}

/* RFC 8446 4.6.1: tickets after the handshake, each with its own nonce. */
int tls13_send_tickets(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (!c->cfg->tickets || !hs->peer_psk_modes) return 0;
    /* after a resumption, one ticket replaces the one used */
    unsigned count = c->resumed && c->cfg->tickets13 ? 1 : c->cfg->tickets13;
    for (unsigned i = 0; i < count; i++) {
        hasp_session *s = session_new();
        ENSURE(s, HASP_ERR_NOMEM);
        uint8_t nonce = c->tls13_ticket_nonce++;
        s->version = HASP_TLS1_3;
        s->suite = c->suite->id;
        s->created = conn_now(c);
        s->lifetime = c->cfg->session_lifetime > 604800 ? 604800 : c->cfg->session_lifetime;
        int rc = conn_random(c, (uint8_t *)&s->age_add, 4);
        if (rc == 0)
            rc = hasp_hkdf_expand_label(c->suite->prf_hash, c->resumption_master, hlen(c),
                                        "resumption", &nonce, 1, s->secret, hlen(c));
        s->secret_len = hlen(c);
        snprintf(s->sni, sizeof(s->sni), "%s", c->sni);
        snprintf(s->alpn, sizeof(s->alpn), "%s", c->alpn);
        s->max_early_data = c->cfg->max_early_data;
        if (rc == 0) rc = session_set_peer_cert(s, c->peer_cert, c->peer_cert_len);
        hasp_wr w = hasp_wr_dyn();
        size_t m = 0;
        if (rc == 0) rc = wr_u8(&w, HS_NEW_SESSION_TICKET);
        if (rc == 0) rc = wr_u24(&w, 0);
        if (rc == 0) rc = wr_u32(&w, s->lifetime);
        if (rc == 0) rc = wr_u32(&w, s->age_add);
        if (rc == 0) rc = wr_vec(&w, 1, &nonce, 1);
        if (rc == 0) rc = wr_vec_begin(&w, 2, &m);
        if (rc == 0) rc = ticket_seal((ticket_keys *)&c->cfg->tkeys, s, conn_now(c), &w);
        if (rc == 0) {
            conn_note_ticket(c, w.p + m + 2, w.len - m - 2);
            rc = wr_vec_end(&w, 2, m);
        }
        if (rc == 0 && s->max_early_data) {
            /* RFC 8446 4.2.10: early_data with max_early_data_size */
            rc = wr_u16(&w, 8);
            if (rc == 0) rc = wr_u16(&w, EXT_EARLY_DATA);
            if (rc == 0) rc = wr_u16(&w, 4);
            if (rc == 0) rc = wr_u32(&w, s->max_early_data);
        } else if (rc == 0) {
            rc = wr_u16(&w, 0); /* no extensions */
        }
        if (rc == 0) {
            size_t body = w.len - 4;
            w.p[1] = (uint8_t)(body >> 16);
            w.p[2] = (uint8_t)(body >> 8);
            w.p[3] = (uint8_t)body;
            rc = conn_send_record(c, HASP_CT_HANDSHAKE, w.p, w.len);
            conn_event(c, HASP_EV_MSG_SENT, 1, HS_NEW_SESSION_TICKET, "NewSessionTicket", w.len,
                       s->max_early_data ? "ticket for resumption, early data allowed"
                                         : "ticket for resumption");
        }
        hasp_wr_free(&w);
        hasp_session_free(s);
        GUARD(rc);
    }
    return 0;
}

int tls13_post_handshake(hasp_conn *c, int type, hasp_rd *body)
{
    switch (type) {
    case HS_NEW_SESSION_TICKET: {
        ENSURE_MSG(c->role == HASP_CLIENT, HASP_ERR_UNEXPECTED, "the client sent NewSessionTicket");
        uint32_t lifetime, age_add;
        hasp_rd nonce, ticket, exts;
        GUARD(rd_u32(body, &lifetime));
        GUARD(rd_u32(body, &age_add));
        GUARD(rd_vec(body, 1, &nonce));
        GUARD(rd_vec_bounded(body, 2, 1, 65535, &ticket));
        GUARD(rd_vec(body, 2, &exts));
        GUARD(rd_expect_empty(body));
        uint32_t max_early = 0;
        while (rd_left(&exts)) {
            uint16_t type;
            hasp_rd e;
            GUARD(rd_u16(&exts, &type));
            GUARD(rd_vec(&exts, 2, &e));
            if (type != EXT_EARLY_DATA) continue; /* RFC 8446 4.6.1: ignore the others */
            GUARD(rd_u32(&e, &max_early));
            GUARD(rd_expect_empty(&e));
        }
        hasp_session *s = session_new();
        ENSURE(s, HASP_ERR_NOMEM);
        s->version = HASP_TLS1_3;
        s->suite = c->suite->id;
        s->created = conn_now(c);
        s->lifetime = lifetime > 604800 ? 604800 : lifetime;
        s->age_add = age_add;
        s->ticket_received_ms = conn_now_ms(c);
        s->max_early_data = max_early;
        int rc = hasp_hkdf_expand_label(c->suite->prf_hash, c->resumption_master, hlen(c),
                                        "resumption", nonce.p, nonce.len, s->secret, hlen(c));
        s->secret_len = hlen(c);
        snprintf(s->sni, sizeof(s->sni), "%s", c->sni);
        snprintf(s->alpn, sizeof(s->alpn), "%s", c->alpn);
        if (rc == 0) rc = session_set_ticket(s, ticket.p, ticket.len);
        if (rc == 0) rc = session_set_peer_cert(s, c->peer_cert, c->peer_cert_len);
        if (rc < 0 || lifetime == 0) {
            hasp_session_free(s);
            GUARD(rc);
            return 0; /* lifetime 0: do not keep */
        }
        hasp_session_free(c->session_out);
        c->session_out = s;
        conn_event(c, HASP_EV_MSG_RECV, 1, type, "NewSessionTicket", 4 + 8 + nonce.len + ticket.len,
                   max_early ? "stored for resumption, early data allowed"
                             : "stored for resumption");
        return 0;
    }
    case HS_KEY_UPDATE: {
        uint8_t req;
        GUARD(rd_u8(body, &req));
        GUARD(rd_expect_empty(body));
        ENSURE_MSG(req <= 1, HASP_ERR_ILLEGAL_PARAM, "KeyUpdate with request_update %u", req);
        ENSURE_MSG(++c->key_updates <= 32, HASP_ERR_LIMIT,
                   "the peer sent more than 32 KeyUpdates without application data");
        conn_event(c, HASP_EV_MSG_RECV, c->role == HASP_CLIENT, type, "KeyUpdate", 5,
                   req ? "update_requested" : "update_not_requested");
        uint8_t next[HASP_HASH_MAX];
        GUARD(hasp_hkdf_expand_label(c->suite->prf_hash, c->rd_secret, hlen(c), "traffic upd", NULL,
                                     0, next, hlen(c)));
        int rc = install_secret(c, next, 0, "updated application");
        hasp_wipe(next, sizeof(next));
        GUARD(rc);
        if (req && !c->close_sent) GUARD(tls13_key_update_send(c, 0));
        return 0;
    }
    default:
        FAIL(HASP_ERR_UNEXPECTED, "the %s sent %s after the TLS 1.3 handshake", hs_peer_name(c),
             hs_msg_name(type));
    }
}
