/* The handshake's state machine, shared by both versions: a table of rows
 * (hs.h: hs_step) walked by hs_drive. Our rows call send(), the peer's rows
 * wait for that message and call recv(); a message that does not fit the
 * current row is unexpected_message by construction. Also here: message
 * reassembly (hs_append), the state's life (hs_start, hs_free) and the one
 * gate into application data. Framing, the transcript and key installation
 * are in msg.c. The tables are here too: each row names its handlers in
 * hello.c (both versions' hellos), tls12.c and tls13.c, which call down
 * but never back into the walker. */

#include "../alloc.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../x509/x509.h"
#include "hs.h"

/* ---------------------------------------------------------------- the tables */

#define C SENDER_CLIENT
#define S SENDER_SERVER

/* RFC 5246 7.3: the full handshake, every optional row included. */
static const hs_step tls12_full[] = {
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", hs_client_hello_send, hs_client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "ServerHello", hs_server_hello_send, hs_server_hello_recv},
    {HS_CERTIFICATE, S, 0, 0, 0, 0, "Certificate", tls12_server_certificate_send,
     tls12_server_certificate_recv},
    {HS_SERVER_KEY_EXCHANGE, S, F_PFS, 0, 0, 0, "ServerKeyExchange", tls12_server_key_exchange_send,
     tls12_server_key_exchange_recv},
    {HS_CERTIFICATE_REQUEST, S, F_CLIENT_AUTH, 0, 1, 0, "CertificateRequest",
     tls12_certificate_request_send, tls12_certificate_request_recv},
    {HS_SERVER_HELLO_DONE, S, 0, 0, 0, 0, "ServerHelloDone", tls12_server_hello_done_send,
     tls12_server_hello_done_recv},
    {HS_CERTIFICATE, C, F_CLIENT_AUTH, 0, 0, 0, "Certificate", tls12_client_certificate_send,
     tls12_client_certificate_recv},
    {HS_CLIENT_KEY_EXCHANGE, C, 0, 0, 0, 0, "ClientKeyExchange", tls12_client_key_exchange_send,
     tls12_client_key_exchange_recv},
    {HS_CERTIFICATE_VERIFY, C, F_CLIENT_AUTH, F_NO_CLIENT_CERT, 0, 0, "CertificateVerify",
     tls12_certificate_verify_send, tls12_certificate_verify_recv},
    {HS_CCS, C, 0, 0, 0, 0, "ChangeCipherSpec", tls12_change_cipher_spec_send, NULL},
    {HS_FINISHED, C, 0, 0, 0, 1, "Finished", tls12_finished_send, tls12_finished_recv},
    {HS_NEW_SESSION_TICKET, S, F_TICKET, 0, 0, 0, "NewSessionTicket", tls12_new_session_ticket_send,
     tls12_new_session_ticket_recv},
    {HS_CCS, S, 0, 0, 0, 0, "ChangeCipherSpec", tls12_change_cipher_spec_send, NULL},
    {HS_FINISHED, S, 0, 0, 0, 1, "Finished", tls12_finished_send, tls12_finished_recv},
    {HS_END, C, 0, 0, 0, 0, "end", NULL, NULL},
};

/* RFC 5246 7.3 (abbreviated handshake), RFC 5077 3.1: the server finishes first. */
static const hs_step tls12_resume[] = {
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", hs_client_hello_send, hs_client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "ServerHello", hs_server_hello_send, hs_server_hello_recv},
    {HS_NEW_SESSION_TICKET, S, F_TICKET, 0, 0, 0, "NewSessionTicket", tls12_new_session_ticket_send,
     tls12_new_session_ticket_recv},
    {HS_CCS, S, 0, 0, 0, 0, "ChangeCipherSpec", tls12_change_cipher_spec_send, NULL},
    {HS_FINISHED, S, 0, 0, 0, 1, "Finished", tls12_finished_send, tls12_finished_recv},
    {HS_CCS, C, 0, 0, 0, 0, "ChangeCipherSpec", tls12_change_cipher_spec_send, NULL},
    {HS_FINISHED, C, 0, 0, 0, 1, "Finished", tls12_finished_send, tls12_finished_recv},
    {HS_END, C, 0, 0, 0, 0, "end", NULL, NULL},
};

static const hs_step tls13_full[] = {
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", hs_client_hello_send, hs_client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "ServerHello", tls13_server_hello_send, hs_server_hello_recv},
    {HS_ENCRYPTED_EXTENSIONS, S, 0, 0, 0, 0, "EncryptedExtensions", tls13_encrypted_extensions_send,
     tls13_encrypted_extensions_recv},
    {HS_CERTIFICATE_REQUEST, S, F_CLIENT_AUTH, F_PSK, 1, 0, "CertificateRequest",
     tls13_certificate_request_send, tls13_certificate_request_recv},
    {HS_CERTIFICATE, S, 0, F_PSK, 0, 0, "Certificate", tls13_certificate_send,
     tls13_certificate_recv},
    {HS_CERTIFICATE_VERIFY, S, 0, F_PSK, 0, 1, "CertificateVerify", tls13_certificate_verify_send,
     tls13_certificate_verify_recv},
    {HS_FINISHED, S, 0, 0, 0, 1, "Finished", tls13_finished_send, tls13_finished_recv},
    {HS_END_OF_EARLY_DATA, C, F_EARLY, 0, 0, 0, "EndOfEarlyData", tls13_end_of_early_data_send,
     tls13_end_of_early_data_recv},
    {HS_CERTIFICATE, C, F_CLIENT_AUTH, 0, 0, 0, "Certificate", tls13_certificate_send,
     tls13_certificate_recv},
    {HS_CERTIFICATE_VERIFY, C, F_CLIENT_AUTH, F_NO_CLIENT_CERT, 0, 1, "CertificateVerify",
     tls13_certificate_verify_send, tls13_certificate_verify_recv},
    {HS_FINISHED, C, 0, 0, 0, 1, "Finished", tls13_finished_send, tls13_finished_recv},
    {HS_END, C, 0, 0, 0, 0, "end", NULL, NULL},
};

/* After a HelloRetryRequest: a second ClientHello, then the real
 * ServerHello, which continues in tls13_full. */
static const hs_step tls13_hrr[] = {
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", hs_client_hello_send, hs_client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "HelloRetryRequest", tls13_hrr_send, hs_server_hello_recv},
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", hs_client_hello_send, hs_client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "ServerHello", tls13_server_hello_send, hs_server_hello_recv},
    {HS_END, C, 0, 0, 0, 0, "end", NULL, NULL},
};

#undef C
#undef S

static const hs_step *const shapes[] = {
    [HS_SHAPE_TLS12_FULL] = tls12_full,
    [HS_SHAPE_TLS12_RESUME] = tls12_resume,
    [HS_SHAPE_TLS13_FULL] = tls13_full,
    [HS_SHAPE_TLS13_HRR] = tls13_hrr,
};

const hs_step *hs_row(const struct hasp_hs *hs, size_t i)
{
    return &shapes[hs->shape][i];
}

int hs_ccs_recv(hasp_conn *c)
{
    ENSURE_MSG(c->hs && c->hs->pending_rd.kind != HASP_REC_NULL, HASP_ERR_UNEXPECTED,
               "the %s sent ChangeCipherSpec before any keys were agreed", hs_peer_name(c));
    hs_install(&c->rd, &c->hs->pending_rd);
    conn_event(c, HASP_EV_KEY_CHANGE, c->role != HASP_SERVER, 0, "read keys", 0, c->suite->iana);
    return 0;
}

static int row_active(const struct hasp_hs *hs, const hs_step *st)
{
    return (hs->flags & st->need) == st->need && !(hs->flags & st->skip);
}

/* Move past the current row and any rows that do not apply. Optional rows
 * the peer sends stay: only the next message can tell. */
static void advance(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    hs->step++;
    for (;;) {
        const hs_step *st = hs_row(hs, hs->step);
        if (st->type == HS_END || row_active(hs, st)) return;
        if (st->optional && st->sender != hs_me(c)) return;
        hs->step++;
    }
}

/* The handshake state is mostly two arrays, the client's ticket
 * identities and key shares (6 of its 9.5 KB): bytes the peer sent in the
 * clear, read only up to their recorded lengths. They are neither zeroed
 * when the state is made nor wiped when it goes; every other byte is. */
_Static_assert(offsetof(struct hasp_hs, psk_identities) < offsetof(struct hasp_hs, share_data),
               "hs_clear expects psk_identities before share_data");
static void hs_clear(struct hasp_hs *hs, int wipe)
{
    uint8_t *p = (uint8_t *)hs;
    const size_t a0 = offsetof(struct hasp_hs, psk_identities),
                 a1 = a0 + sizeof(hs->psk_identities);
    const size_t b0 = offsetof(struct hasp_hs, share_data), b1 = b0 + sizeof(hs->share_data);
    const size_t span[3][2] = {{0, a0}, {a1, b0}, {b1, sizeof(*hs)}};
    for (int i = 0; i < 3; i++) {
        if (wipe)
            hasp_wipe(p + span[i][0], span[i][1] - span[i][0]);
        else
            memset(p + span[i][0], 0, span[i][1] - span[i][0]);
    }
}

int hs_start(hasp_conn *c)
{
    struct hasp_hs *hs = hasp_malloc(sizeof(*hs));
    ENSURE(hs, HASP_ERR_NOMEM);
    hs_clear(hs, 0);
    hs->shape = HS_SHAPE_TLS12_FULL;
    hs->transcript = hasp_wr_dyn();
    hs->msg = hasp_wr_dyn();
    hs->in = hasp_wr_dyn();
    c->hs = hs;
    return 0;
}

void hs_free(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (!hs) return;
    hasp_wr_free(&hs->transcript);
    hasp_hash_free(hs->th);
    hasp_wr_free_secret(&hs->msg);
    hasp_wr_free(&hs->in);
    hasp_pkey_free(hs->peer_key);
    hasp_kex_free(hs->kex);
    hasp_hmac_free(hs->master_hmac);
    hasp_kex_free(hs->share_kex);
    hasp_kex_free(hs->share_kex2);
    hasp_rec_prot_clear(&hs->pending_rd);
    hasp_rec_prot_clear(&hs->pending_wr);
    hasp_session_free(hs->resume);
    for (int i = 0; i < hs->ndeferred; i++)
        hasp_free(hs->deferred[i].detail);
    hasp_free(hs->peer_ticket);
    hasp_free(hs->new_ticket);
    hs_clear(hs, 1);
    hasp_free(hs);
    c->hs = NULL;
}

const char *hs_waiting_for(const hasp_conn *c)
{
    if (!c->hs) return "nothing";
    return hs_row(c->hs, c->hs->step)->name;
}

/* The longest body each handshake message's syntax allows (RFC 8446 4,
 * RFC 5246 7.4), so that a header claiming more is a decode_error before a
 * byte of it is buffered. 0: only the configured limit bounds it
 * (Certificate and ServerKeyExchange may legally approach 2^24). */
static size_t msg_syntax_max(int type)
{
    switch (type) {
    case HS_HELLO_REQUEST:
    case HS_END_OF_EARLY_DATA:
    case HS_SERVER_HELLO_DONE:
        return 0; /* empty; checked below */
    case HS_CLIENT_HELLO:
        return 2 + 32 + (1 + 32) + (2 + 65534) + (1 + 255) + (2 + 65535);
    case HS_SERVER_HELLO:
        return 2 + 32 + (1 + 32) + 2 + 1 + (2 + 65535);
    case HS_NEW_SESSION_TICKET:
        return 4 + 4 + (1 + 255) + (2 + 65535) + (2 + 65535);
    case HS_ENCRYPTED_EXTENSIONS:
        return 2 + 65535;
    case HS_CERTIFICATE_REQUEST:
        return (1 + 255) + (2 + 65534) + (2 + 65535);
    case HS_CERTIFICATE_VERIFY:
        return 2 + 2 + 65535;
    case HS_CLIENT_KEY_EXCHANGE:
        return 2 + 65535;
    case HS_FINISHED:
        return 64; /* hs_verify_data: 12 bytes, or one hash in TLS 1.3 */
    case HS_KEY_UPDATE:
        return 1;
    default:
        return SIZE_MAX;
    }
}

/* Called with each message header as soon as its 4 bytes are in. */
static int check_msg_header(hasp_conn *c, int type, size_t len)
{
    size_t max = msg_syntax_max(type);
    ENSURE_MSG(len <= max || max == SIZE_MAX, HASP_ERR_DECODE,
               "the %s's %s claims %zu bytes; its syntax allows at most %zu", hs_peer_name(c),
               hs_msg_name(type), len, max);
    ENSURE_MSG(len <= c->cfg->max_hs_size, HASP_ERR_LIMIT,
               "the %s's %s is %zu bytes, over the %zu-byte limit (hasp_config_set_limits)",
               hs_peer_name(c), hs_msg_name(type), len, c->cfg->max_hs_size);
    return 0;
}

int hs_append(hasp_conn *c, const uint8_t *data, size_t len)
{
    struct hasp_hs *hs = c->hs;
    if (hs->in_off && hs->in_off == hs->in.len) hs->in.len = hs->in_off = 0;
    /* hs_drive judges each message by its header as soon as the header is
     * in (after every record), so at most one record more than a message at
     * the limit is ever buffered. */
    size_t pend = hs->in.len - hs->in_off;
    ENSURE_MSG(pend + len <= c->cfg->max_hs_size + 4 + HASP_REC_MAX_PLAINTEXT, HASP_ERR_LIMIT,
               "the %s's handshake messages exceed the %zu-byte limit", hs_peer_name(c),
               c->cfg->max_hs_size);
    return wr_bytes(&hs->in, data, len);
}

/* The gate to application data: every proof in one place. */
static int handshake_complete(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    ENSURE_MSG(hs->finished_checked, HASP_ERR_INTERNAL, "the peer's Finished was not verified");
    int resumed = c->resumed;
    if (c->role == HASP_CLIENT) {
        ENSURE_MSG(hs->peer_cert_checked, HASP_ERR_INTERNAL,
                   "the server's certificate was not processed");
        ENSURE_MSG(resumed || !(hs->flags & F_PFS) || hs->ske_checked, HASP_ERR_INTERNAL,
                   "the server's key exchange signature was not verified");
        ENSURE_MSG(resumed || c->version != HASP_TLS1_3 || hs->cv_checked, HASP_ERR_INTERNAL,
                   "the server's CertificateVerify was not verified");
    } else if ((hs->flags & F_CLIENT_AUTH) && !resumed) {
        ENSURE_MSG(hs->peer_cert_checked, HASP_ERR_INTERNAL,
                   "the client's certificate was not processed");
        ENSURE_MSG((hs->flags & F_NO_CLIENT_CERT) || hs->cv_checked, HASP_ERR_INTERNAL,
                   "the client's CertificateVerify was not verified");
    }
    return 0;
}

int hs_ccs(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    const hs_step *st = hs_row(hs, hs->step);
    while (st->optional && st->sender != hs_me(c) && st->type != HS_CCS) {
        advance(c);
        st = hs_row(hs, hs->step);
    }
    ENSURE_MSG(st->type == HS_CCS && st->sender != hs_me(c), HASP_ERR_UNEXPECTED,
               "the %s sent ChangeCipherSpec while the handshake expected %s", hs_peer_name(c),
               st->name);
    ENSURE_MSG(hs->in.len == hs->in_off, HASP_ERR_UNEXPECTED,
               "the %s sent ChangeCipherSpec in the middle of a handshake message",
               hs_peer_name(c));
    conn_event(c, HASP_EV_MSG_RECV, c->role != HASP_SERVER, HS_CCS, "ChangeCipherSpec", 1, "");
    GUARD(hs_ccs_recv(c));
    advance(c);
    return 0;
}

int hs_drive(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    for (;;) {
        const hs_step *st = hs_row(hs, hs->step);
        if (st->type == HS_END) {
            GUARD(handshake_complete(c));
            return 0;
        }
        if (st->sender == hs_me(c)) {
            hs->detail[0] = 0;
            GUARD(st->send(c));
            advance(c);
            continue;
        }
        if (st->type == HS_CCS) {
            /* RFC 5246 7.1: nothing but ChangeCipherSpec may come now. */
            if (hs->in.len > hs->in_off) {
                const uint8_t *m = hs->in.p + hs->in_off;
                conn_event(c, HASP_EV_MSG_RECV, c->role != HASP_SERVER, m[0], hs_msg_name(m[0]),
                           hs->in.len - hs->in_off, "unexpected here");
                FAIL(HASP_ERR_UNEXPECTED,
                     "the %s sent %s while the handshake expected ChangeCipherSpec",
                     hs_peer_name(c), hs->in.len - hs->in_off >= 1 ? hs_msg_name(m[0]) : "data");
            }
            return 1;
        }
        /* A whole message from the peer? */
        size_t avail = hs->in.len - hs->in_off;
        if (avail < 4) return 1;
        const uint8_t *m = hs->in.p + hs->in_off;
        int type = m[0];
        size_t len = ((size_t)m[1] << 16) | ((size_t)m[2] << 8) | m[3];
        if (type == HS_HELLO_REQUEST && c->role == HASP_CLIENT) {
            /* RFC 5246 7.4.1.1: ignored while a handshake is under way. */
            ENSURE(len == 0, HASP_ERR_DECODE);
            hs->in_off += 4;
            continue;
        }
        /* The type first (unexpected_message), then the length its syntax
         * allows (decode_error), both from the header, before the body is
         * waited for. Skipping optional rows is safe before the body is in:
         * the message that arrives is this one. */
        while (st->optional && st->type != type && st->sender != hs_me(c)) {
            advance(c);
            st = hs_row(hs, hs->step);
        }
        if (st->type != type || st->sender == hs_me(c))
            conn_event(c, HASP_EV_MSG_RECV, c->role != HASP_SERVER, type, hs_msg_name(type),
                       4 + len, "unexpected here");
        ENSURE_MSG(st->type == type && st->sender != hs_me(c), HASP_ERR_UNEXPECTED,
                   "the %s sent %s (%d) while the handshake expected %s", hs_peer_name(c),
                   hs_msg_name(type), type, st->type == HS_END ? "nothing more" : st->name);
        GUARD(check_msg_header(c, type, len));
        if (avail < 4 + len) return 1;
        hs->in_off += 4 + len;
        hs->cur_len = 4 + len;
        if (st->optional) hs->flags |= st->need;
        if (st->hash_before) {
            GUARD(hs_transcript_hash(c, hs->hash_before));
            hs->hash_len = hasp_hash_len(c->suite->prf_hash);
        }
        GUARD(hs_transcript_add(c, m, 4 + len));
        hasp_rd body = hasp_rd_init(m + 4, len);
        hs->detail[0] = 0;
        hs->rx_encrypted = c->rd.kind != HASP_REC_NULL;
        hs->defer = conn_tracing(c);
        hs->ndeferred = 0;
        int rrc = st->recv(c, &body);
        if (rrc < 0) {
            /* still show the message, then what it caused */
            conn_event(c, HASP_EV_MSG_RECV, c->role != HASP_SERVER, type, st->name, 4 + len,
                       hs->detail);
            return rrc;
        }
        conn_event(c, HASP_EV_MSG_RECV, c->role != HASP_SERVER, type, st->name, 4 + len,
                   hs->detail);
        advance(c);
    }
}

/* The handshake is over: the session it made, and TLS 1.3 tickets. */
int hs_complete(hasp_conn *c)
{
    if (c->version == HASP_TLS1_3) return c->role == HASP_SERVER ? tls13_send_tickets(c) : 0;
    return tls12_complete(c);
}
