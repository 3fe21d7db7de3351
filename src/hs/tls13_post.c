/* What TLS 1.3 sends after its handshake (RFC 8446 4.6): KeyUpdate, both
 * ways, and NewSessionTicket (the server's tickets, the client's
 * sessions). The engine (conn.c) hands it post-handshake messages; the
 * walker (machine.c) has it send the tickets once the handshake is done. */
#include "../alloc.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../x509/x509.h"
#include "hs.h"
#include "tls13.h"

int tls13_key_update_send(hasp_conn *c, int request)
{
    uint8_t msg[5] = {HS_KEY_UPDATE, 0, 0, 1, (uint8_t)(request ? 1 : 0)};
    GUARD(conn_send_record(c, HASP_CT_HANDSHAKE, msg, sizeof(msg)));
    conn_event(c, HASP_EV_MSG_SENT, c->role == HASP_SERVER, HS_KEY_UPDATE, "KeyUpdate", 5,
               request ? "update_requested" : "update_not_requested");
    uint8_t next[HASP_HASH_MAX];
    GUARD(hasp_hkdf_expand_label(c->suite->prf_hash, c->wr_secret, tls13_hash_len(c), "traffic upd",
                                 NULL, 0, next, tls13_hash_len(c)));
    int rc = tls13_install_secret(c, next, 1, "updated application");
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
            rc = hasp_hkdf_expand_label(c->suite->prf_hash, c->resumption_master, tls13_hash_len(c),
                                        "resumption", &nonce, 1, s->secret, tls13_hash_len(c));
        s->secret_len = tls13_hash_len(c);
        session_set_names(s, c->sni, c->alpn);
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
        int rc =
            hasp_hkdf_expand_label(c->suite->prf_hash, c->resumption_master, tls13_hash_len(c),
                                   "resumption", nonce.p, nonce.len, s->secret, tls13_hash_len(c));
        s->secret_len = tls13_hash_len(c);
        session_set_names(s, c->sni, c->alpn);
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
        GUARD(hasp_hkdf_expand_label(c->suite->prf_hash, c->rd_secret, tls13_hash_len(c),
                                     "traffic upd", NULL, 0, next, tls13_hash_len(c)));
        int rc = tls13_install_secret(c, next, 0, "updated application");
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
