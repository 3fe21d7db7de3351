/* TLS 1.3's pre-shared keys and early data: the client's ticket offer and
 * binder (RFC 8446 4.2.11), the server's choice among the offered tickets,
 * and 0-RTT on both sides (4.2.10, 8: what the client offers, when the
 * server takes it, the replay memory). ext.c writes the client's
 * pre_shared_key and early_data through it; it calls only the key schedule
 * (tls13_keys.c) and the layers below. */
#include "../alloc.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../x509/x509.h"
#include "hs.h"
#include "tls13.h"

/* binder = HMAC(finished_key(Derive-Secret(early, "res binder", "")), Hash(partial CH)) */
int tls13_psk_binder(hasp_conn *c, int hash, const uint8_t *psk, size_t psk_len,
                     const uint8_t *partial, size_t partial_len, uint8_t *out)
{
    size_t hl = hasp_hash_len(hash);
    uint8_t zeros[HASP_HASH_MAX] = {0}, early[HASP_HASH_MAX], empty_buf[HASP_HASH_MAX],
            bkey[HASP_HASH_MAX], fkey[HASP_HASH_MAX], th[HASP_HASH_MAX];
    const uint8_t *empty = tls13_sched_const(hash, 0);
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
    if (!c->early_wanted || !c->cfg->max_early_data || hs->shape == HS_SHAPE_TLS13_HRR || !ps ||
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
    GUARD(tls13_compat_ccs(c));   /* RFC 8446 D.4: right after the ClientHello, before the data */
    GUARD(tls13_install_secret_suite(c, ps, hs->c_early, 1, "early data"));
    hs->early_writable = 1;
    c->early_status = HASP_EARLY_PENDING;
    char detail[96];
    snprintf(detail, sizeof(detail), "offered, up to %u bytes, %s", hasp_session_max_early_data(s),
             ps->iana);
    conn_event(c, HASP_EV_DECISION, 0, 0, "early data", 0, detail);
    return 0;
}

/* Client: the server did not take the early data. */
int tls13_client_early_rejected(hasp_conn *c, const char *why)
{
    struct hasp_hs *hs = c->hs;
    hs->early_writable = 0;
    c->early_status = HASP_EARLY_REJECTED;
    c->early_reason = why;
    conn_event(c, HASP_EV_DECISION, 1, 0, "early data rejected", 0, why);
    return 0;
}

/* Client: offer the session's ticket; the binder is filled in once the
 * whole ClientHello is written (hello.c, hs_client_hello_send). */
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
int tls13_server_pick_psk(hasp_conn *c)
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

void tls13_server_early_reject(hasp_conn *c, const char *why)
{
    struct hasp_hs *hs = c->hs;
    hs->early_skip = 1; /* what the client sent anyway is skipped, up to a limit */
    c->early_status = HASP_EARLY_REJECTED;
    c->early_reason = why;
    conn_event(c, HASP_EV_DECISION, 1, 0, "early data rejected", 0, why);
}

/* The ClientHello offered early data and the server knows its shape (no
 * HelloRetryRequest): take it or not. */
int tls13_server_early_decide(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (!hs->peer_early) return 0;
    const char *why = early_refusal(c);
    if (why) {
        tls13_server_early_reject(c, why);
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
