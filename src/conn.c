/* The engine: a connection eats bytes from the peer, produces bytes to
 * send, and moves plaintext. It drives the record layer and the handshake,
 * handles alerts and close_notify, and never touches a socket. What the
 * handshake needs of a connection (events, clock, randomness, key log,
 * sending records) is in services.c, below both. */
#include "alloc.h"
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "hs/hs.h"
#include "services.h"

/* One whole record of the largest size, plus room for the next header. */
#define IN_CAP (HASP_REC_HEADER_LEN + HASP_REC_MAX_CIPHERTEXT + 2048)
#define MAX_WARNINGS 16

hasp_conn *hasp_conn_new(const hasp_config *cfg, int role)
{
    if (!cfg || (role != HASP_CLIENT && role != HASP_SERVER)) return NULL;
    hasp_conn *c = hasp_calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->cfg = cfg;
    c->role = role;
    c->fd = -1;
    c->out = hasp_wr_dyn();
    c->post = hasp_wr_dyn();
    c->stash = hasp_wr_dyn();
    c->verify_client = -1;
    c->rec_version = HASP_TLS1_2;
    c->alert_sent = c->alert_recv = -1;
    return c;
}

void hasp_conn_free(hasp_conn *c)
{
    if (!c) return;
    hs_free(c);
    hasp_rec_prot_clear(&c->rd);
    hasp_rec_prot_clear(&c->wr);
    if (c->in) {
        hasp_wipe(c->in, c->in_dirty);
        hasp_free(c->in);
    }
    hasp_wr_free_secret(&c->out);
    hasp_wr_free_secret(&c->post);
    hasp_wr_free_secret(&c->stash);
    hasp_session_free(c->session_in);
    hasp_session_free(c->session_out);
    hasp_free(c->peer_cert);
    hasp_free(c->errmsg);
    hasp_free(c->verify_msg);
    hasp_wipe(c, sizeof(*c));
    hasp_free(c);
}

int hasp_conn_set_servername(hasp_conn *c, const char *name)
{
    ENSURE(c && name, HASP_ERR_USAGE);
    size_t n = strlen(name);
    ENSURE_MSG(n > 0 && n < sizeof(c->sni), HASP_ERR_USAGE, "the server name must be 1..255 bytes");
    memcpy(c->sni, name, n + 1);
    return 0;
}

size_t hasp_conn_output(hasp_conn *c, const uint8_t **out)
{
    static const uint8_t empty[1];
    *out = c->out.p ? c->out.p + c->out_off : empty;
    return c->out.len - c->out_off;
}

void hasp_conn_output_done(hasp_conn *c, size_t n)
{
    size_t avail = c->out.len - c->out_off;
    c->out_off += n < avail ? n : avail;
    if (c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
        if (c->release_pending) {
            c->release_pending = 0;
            hasp_conn_release_buffers(c);
        }
    }
}

/* An idle connection keeps no buffers: they come back on the next record. */
void hasp_conn_release_buffers(hasp_conn *c)
{
    if (!c || c->hs) return;
    if (c->in && c->app_len == 0 && c->in_off == c->in_len) {
        hasp_wipe(c->in, c->in_dirty);
        hasp_free(c->in);
        c->in = NULL;
        c->in_cap = c->in_len = c->in_off = c->in_dirty = 0;
    }
    if (c->out.len == 0) hasp_wr_free_secret(&c->out);
    if (c->stash.len == 0) hasp_wr_free_secret(&c->stash);
    if (c->post.len == 0) hasp_wr_free_secret(&c->post);
}

void hasp_conn_release_idle(hasp_conn *c)
{
    if (!c || c->hs) return;
    hasp_conn_release_buffers(c);
    hasp_rec_prot_idle(&c->rd);
    hasp_rec_prot_idle(&c->wr);
}

static void send_alert(hasp_conn *c, int level, int desc)
{
    uint8_t a[2] = {(uint8_t)level, (uint8_t)desc};
    if (conn_send_record(c, HASP_CT_ALERT, a, 2) == 0)
        conn_event(c, HASP_EV_ALERT_SENT, c->role == HASP_SERVER, desc, hasp_alert_name(desc), 2,
                   level == 2 ? "fatal" : "warning");
}

/* ---------------------------------------------------------------- errors */

int conn_fail(hasp_conn *c, int code)
{
    if (c->state == ST_ERROR) return c->err;
    if (code == HASP_WANT_POLLIN || code == HASP_WANT_POLLOUT) return code;
    hasp_errinfo *e = hasp_err_last();
    const char *msg = (e->code == code && e->msg[0]) ? e->msg : hasp_err_default_msg(code);
    c->err = code;
    int alert = -1;
    int cls = hasp_err_class(code);
    if (cls == HASP_CLASS_PROTOCOL || cls == HASP_CLASS_CERTIFICATE || cls == HASP_CLASS_INTERNAL)
        alert = hasp_err_alert(code);
    if (code == HASP_ERR_USAGE && c->state == ST_HANDSHAKE) alert = HASP_ALERT_INTERNAL_ERROR;
    if (alert >= 0 && !c->close_sent) {
        send_alert(c, 2, alert);
        c->alert_sent = alert;
        conn_set_errmsg(c, "%.440s (sent %s to the %s)", msg, hasp_alert_name(alert),
                        c->role == HASP_SERVER ? "client" : "server");
    } else {
        conn_set_errmsg(c, "%s", msg);
    }
    c->state = ST_ERROR;
    if (c->hs) hs_free(c);
    conn_session_invalidate(c);
    return code;
}

/* RFC 5246 7.2.2 / 7.2.1: a session that ended in a fatal alert or without
 * close_notify must not be resumed (its tickets: conn_note_ticket in hs/session.c). */
void conn_session_invalidate(hasp_conn *c)
{
    if (c->peer_closed && c->alert_sent < 0 && (c->alert_recv < 0 || c->alert_recv == 0))
        return; /* the peer's close_notify came first: a clean end, whatever followed */
    if (c->role == HASP_SERVER && c->ntickets_seen) {
        /* Tickets are stateless: remember the ones of this connection as revoked. */
        hasp_config *cfg = (hasp_config *)c->cfg;
        pthread_mutex_lock(&cfg->lock);
        if (!cfg->revoked_tickets) cfg->revoked_tickets = used_tickets_new(4096);
        pthread_mutex_unlock(&cfg->lock);
        for (int i = 0; cfg->revoked_tickets && i < c->ntickets_seen; i++)
            used_tickets_add(cfg->revoked_tickets, c->tickets_seen[i]);
        c->ntickets_seen = 0;
    }
    hasp_session *s = c->session_out;
    if (!s) return;
    s->resumable = 0;
    if (c->role == HASP_SERVER && s->id_len) {
        session_cache_remove(c->cfg->cache, s->id, s->id_len);
        if (c->cfg->sess_remove) c->cfg->sess_remove(c->cfg->sess_arg, s->id, s->id_len);
    }
}

/* ---------------------------------------------------------------- input */

int hasp_conn_input_space(hasp_conn *c, uint8_t **space, size_t *len)
{
    if (!c->in) {
        c->in = hasp_malloc(IN_CAP);
        ENSURE(c->in, HASP_ERR_NOMEM);
        c->in_cap = IN_CAP;
    }
    if (c->app_len == 0 && c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    *space = c->in + c->in_len;
    *len = c->in_cap - c->in_len;
    return 0;
}

void hasp_conn_input_commit(hasp_conn *c, size_t n)
{
    size_t room = c->in_cap - c->in_len;
    c->in_len += n < room ? n : room;
    if (c->in_len > c->in_dirty) c->in_dirty = c->in_len;
}

int hasp_conn_input(hasp_conn *c, const uint8_t *in, size_t len)
{
    uint8_t *space;
    size_t room;
    GUARD(hasp_conn_input_space(c, &space, &room));
    size_t n = len < room ? len : room;
    if (n) memcpy(space, in, n);
    hasp_conn_input_commit(c, n);
    return (int)n;
}

void hasp_conn_input_eof(hasp_conn *c)
{
    c->in_eof = 1;
}

static int on_alert(hasp_conn *c, const uint8_t *pt, size_t len)
{
    /* RFC 8446 5.1 / RFC 5246 6.2.1: no zero-length alert fragments */
    ENSURE_MSG(len != 0, HASP_ERR_UNEXPECTED, "the peer sent an empty alert record");
    ENSURE_MSG(len == 2, HASP_ERR_DECODE, "the peer sent an alert record of %zu bytes", len);
    int level = pt[0], desc = pt[1];
    conn_event(c, HASP_EV_ALERT_RECV, c->role != HASP_SERVER, desc, hasp_alert_name(desc), 2,
               level == 2 ? "fatal" : "warning");
    ENSURE_MSG(level == 1 || level == 2, HASP_ERR_ILLEGAL_PARAM,
               "the peer sent an alert with level %d (only 1 warning and 2 fatal exist)", level);
    if (desc == HASP_ALERT_CLOSE_NOTIFY) {
        c->peer_closed = 1;
        c->alert_recv = desc;
        if (c->state == ST_HANDSHAKE) {
            FAIL(HASP_ERR_CLOSED,
                 "the %s closed the connection (close_notify) during the "
                 "handshake, while this side waited for %s",
                 c->role == HASP_SERVER ? "client" : "server", hs_waiting_for(c));
        }
        return 0;
    }
    /* RFC 8446 6: in TLS 1.3 every alert but close_notify and user_canceled is fatal. */
    if (level == 2 || (c->version == HASP_TLS1_3 && desc != HASP_ALERT_USER_CANCELED)) {
        c->alert_recv = desc;
        FAIL(HASP_ERR_PEER_ALERT, "the %s sent a fatal alert: %s%s%s",
             c->role == HASP_SERVER ? "client" : "server", hasp_alert_name(desc),
             c->state == ST_HANDSHAKE ? ", while this side waited for " : "",
             c->state == ST_HANDSHAKE ? hs_waiting_for(c) : "");
    }
    if (desc == HASP_ALERT_NO_RENEGOTIATION && c->hs && c->hs->reneg && c->role == HASP_CLIENT &&
        c->hs->step <= 1) {
        /* The server declined our renegotiation: the connection goes on as it was. */
        hs_free(c);
        c->reneg_refused = 1;
    }
    /* A warning: user_canceled, no_renegotiation, or an old-style warning; go on, a while. */
    ENSURE_MSG(++c->warnings_in_row <= MAX_WARNINGS, HASP_ERR_LIMIT,
               "the peer sent more than %d warning alerts in a row", MAX_WARNINGS);
    return 0;
}

/* TLS 1.3 handshake messages after the handshake, reassembled across records. */
static int post_handshake(hasp_conn *c, const uint8_t *pt, size_t len)
{
    ENSURE_MSG(c->post.len + len <= 65536, HASP_ERR_LIMIT,
               "the peer's post-handshake message is larger than 64 KiB");
    GUARD(wr_bytes(&c->post, pt, len));
    size_t off = 0;
    while (c->post.len - off >= 4) {
        const uint8_t *m = c->post.p + off;
        size_t mlen = ((size_t)m[1] << 16) | ((size_t)m[2] << 8) | m[3];
        if (c->post.len - off < 4 + mlen) break;
        /* RFC 8446 5.1: a key change ends its record; what follows it in
         * the same record was protected with the old keys. */
        ENSURE_MSG(m[0] != HS_KEY_UPDATE || off + 4 + mlen == c->post.len, HASP_ERR_UNEXPECTED,
                   "the peer's KeyUpdate does not end its record (RFC 8446 5.1)");
        hasp_rd body = hasp_rd_init(m + 4, mlen);
        GUARD(tls13_post_handshake(c, m[0], &body));
        off += 4 + mlen;
    }
    memmove(c->post.p, c->post.p + off, c->post.len - off);
    c->post.len -= off;
    return 1;
}

static int reneg_start(hasp_conn *c, const char *why)
{
    GUARD(hs_start(c));
    c->hs->reneg = 1;
    c->renegotiations++;
    conn_event(c, HASP_EV_DECISION, c->role == HASP_SERVER, 0, "renegotiation", 0, why);
    return 0;
}

/* A HelloRequest (client) or a ClientHello (server) after the handshake. */
static int peer_renegotiation(hasp_conn *c, const uint8_t *pt, size_t len)
{
    ENSURE_MSG(len >= 4, HASP_ERR_UNEXPECTED,
               "the peer sent a fragment of a handshake message after the handshake");
    int hello_request = c->role == HASP_CLIENT && pt[0] == HS_HELLO_REQUEST;
    int client_hello = c->role == HASP_SERVER && pt[0] == HS_CLIENT_HELLO;
    ENSURE_MSG(hello_request || client_hello, HASP_ERR_UNEXPECTED,
               "the peer sent %s after the handshake", hs_msg_name(pt[0]));
    if (hello_request) {
        ENSURE_MSG(len == 4 && pt[1] == 0 && pt[2] == 0 && pt[3] == 0, HASP_ERR_DECODE,
                   "the server sent a malformed HelloRequest");
        conn_event(c, HASP_EV_MSG_RECV, 1, HS_HELLO_REQUEST, "HelloRequest", 4,
                   "the server asks for a renegotiation");
    }
    const char *why = NULL;
    int asked = c->role == HASP_SERVER && c->reneg_requested;
    if (!c->secure_reneg)
        why = "the peer does not support secure renegotiation (RFC 5746)";
    else if (c->cfg->reneg_policy != HASP_RENEGOTIATION_ALLOW && !asked)
        why = "the configuration refuses renegotiation";
    if (!why && !asked) {
        /* rate limit: at most reneg_per_minute started by the peer */
        int64_t now = conn_now(c);
        unsigned recent = 0, cap = c->cfg->reneg_per_minute;
        for (size_t i = 0; i < 8; i++)
            recent += c->reneg_times[i] && now - c->reneg_times[i] < 60;
        if (recent >= cap || cap == 0)
            why = "the peer renegotiates too often";
        else {
            size_t oldest = 0;
            for (size_t i = 1; i < 8; i++)
                if (c->reneg_times[i] < c->reneg_times[oldest]) oldest = i;
            c->reneg_times[oldest] = now;
        }
    }
    if (why) {
        /* RFC 5746 4.5 / RFC 5246 7.4.1.1: refuse with a warning and go on. */
        conn_event(c, HASP_EV_DECISION, c->role == HASP_SERVER, 0, "renegotiation refused", 0, why);
        send_alert(c, 1, HASP_ALERT_NO_RENEGOTIATION);
        return 1;
    }
    GUARD(reneg_start(c, c->role == HASP_CLIENT ? "the server asked (HelloRequest)"
                         : asked                ? "the client answered our HelloRequest"
                                                : "the client asked"));
    c->reneg_requested = 0;
    if (client_hello) GUARD(hs_append(c, pt, len));
    return 1;
}

/* A refused call that leaves the connection usable: the sentence goes to
 * hasp_conn_errmsg() too. */
static int conn_refuse(hasp_conn *c, int rc)
{
    conn_set_errmsg(c, "%s", hasp_err_last()->msg);
    return rc;
}

int hasp_conn_renegotiate(hasp_conn *c)
{
    ENSURE(c, HASP_ERR_USAGE);
    if (c->state != ST_APP || c->hs)
        return conn_refuse(c, hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__,
                                           "renegotiation needs an established connection with "
                                           "no handshake under way"));
    if (c->version != HASP_TLS1_2)
        return conn_refuse(c, hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__,
                                           "renegotiation exists in TLS 1.2 only (TLS 1.3 has "
                                           "KeyUpdate instead)"));
    if (!c->secure_reneg)
        return conn_refuse(c, hasp_err_set(HASP_ERR_NO_RENEGOTIATION, __FILE__, __LINE__,
                                           "the peer does not support secure renegotiation (RFC "
                                           "5746): refusing to renegotiate"));
    hasp_err_clear();
    if (c->role == HASP_SERVER) {
        static const uint8_t hello_request[4] = {HS_HELLO_REQUEST, 0, 0, 0};
        int rc = conn_send_record(c, HASP_CT_HANDSHAKE, hello_request, 4);
        if (rc < 0) return conn_fail(c, rc);
        conn_event(c, HASP_EV_MSG_SENT, 1, HS_HELLO_REQUEST, "HelloRequest", 4, "");
        c->reneg_requested = 1;
        return 0;
    }
    c->reneg_refused = 0;
    int rc = reneg_start(c, "started by this client");
    if (rc == 0) rc = hs_drive(c); /* the ClientHello goes out now */
    return rc < 0 ? conn_fail(c, rc) : 0;
}

/* Drive a renegotiation while application data flows: 0 when none is under
 * way or it just finished, 1 while it waits, or an error. */
static int reneg_drive(hasp_conn *c)
{
    if (!c->hs) return 0;
    int rc = hs_drive(c);
    if (rc < 0) return rc;
    if (rc == 1) return 1;
    GUARD(hs_complete(c));
    conn_event(c, HASP_EV_DONE, c->role == HASP_SERVER, 0, "renegotiation complete", 0,
               c->suite->iana);
    hs_free(c);
    return 0;
}

/* Read and process one record. 1 when one was processed, HASP_WANT_POLLIN
 * when more bytes are needed, or an error. */
static int read_record_to(hasp_conn *c, uint8_t *dst, size_t dst_cap, size_t *dst_len);

static int read_record(hasp_conn *c)
{
    return read_record_to(c, NULL, 0, NULL);
}

/* A record of refused early data, skipped: at most the early data limit
 * (16 KiB when this server takes none), then it is what it looks like. */
static int early_skip(hasp_conn *c, size_t len)
{
    struct hasp_hs *hs = c->hs;
    size_t budget = c->cfg->max_early_data > 16384 ? c->cfg->max_early_data : 16384;
    if (hs->early_skipped == 0)
        conn_event(c, HASP_EV_DECISION, 1, 0, "early data skipped", 0,
                   "records the server cannot or will not read");
    hs->early_skipped += len > HASP_AEAD_TAG_LEN + 1 ? len - HASP_AEAD_TAG_LEN - 1 : 0;
    ENSURE_MSG(hs->early_skipped <= budget, HASP_ERR_BAD_MAC,
               "the client sent more than %zu bytes of records this server cannot read after "
               "refusing its early data",
               budget);
    hasp_err_clear();
    return 1;
}

/* dst: the caller's buffer, for application data decrypted straight into it
 * (*dst_len > 0 says so). */
static int read_record_to(hasp_conn *c, uint8_t *dst, size_t dst_cap, size_t *dst_len)
{
    size_t avail = c->in_len - c->in_off;
    /* A first byte with the top bit set is an SSL 2.0 record header, which
     * may be as short as two bytes: refused at once (RFC 6176), not after
     * waiting for a TLS header's five, and whatever follows it (an empty
     * SSL 2.0 record and the next one can arrive together, and then the
     * third byte is not a message type): the answer must not depend on
     * how the peer's bytes were split. */
    if (avail >= 1 && !c->version && c->state == ST_HANDSHAKE && (c->in[c->in_off] & 0x80))
        FAIL(HASP_ERR_VERSION,
             "the peer sent an SSL 2.0-format record: SSL 2.0 is prohibited (RFC 6176) and hasp "
             "reads only TLS records");
    if (avail < HASP_REC_HEADER_LEN) {
        if (c->in_eof) {
            if (c->state == ST_HANDSHAKE)
                FAIL(HASP_ERR_TRUNCATED,
                     "the %s closed the connection during the handshake, while this side waited "
                     "for %s%s",
                     c->role == HASP_SERVER ? "client" : "server", hs_waiting_for(c),
                     avail ? " (in the middle of a record)" : "");
            FAIL(HASP_ERR_TRUNCATED,
                 "the %s closed the connection without close_notify: the data may be truncated",
                 c->role == HASP_SERVER ? "client" : "server");
        }
        return HASP_WANT_POLLIN;
    }
    uint8_t *rec = c->in + c->in_off;
    uint8_t type;
    uint16_t version;
    size_t len;
    int rc = hasp_rec_parse_header(rec, &type, &version, &len);
    if ((rc == HASP_ERR_NOT_TLS || rc == HASP_ERR_VERSION) &&
        (c->version || (rec[1] == 3 && rec[0] >= 20 && rec[0] < 64)))
        FAIL(HASP_ERR_UNEXPECTED, "the peer sent a record of unknown content type %u", rec[0]);
    GUARD(rc);
    int tls13 = c->version == HASP_TLS1_3;
    ENSURE_MSG(!tls13 || len <= HASP_REC_MAX_CIPHERTEXT13, HASP_ERR_OVERFLOW,
               "the peer sent a TLS 1.3 record of %zu bytes (at most %d allowed)", len,
               HASP_REC_MAX_CIPHERTEXT13);
    if (avail < HASP_REC_HEADER_LEN + len) {
        if (c->in_eof)
            FAIL(HASP_ERR_TRUNCATED, "the %s closed the connection in the middle of a record",
                 c->role == HASP_SERVER ? "client" : "server");
        return HASP_WANT_POLLIN;
    }
    c->in_off += HASP_REC_HEADER_LEN + len;
    if (tls13 && type == HASP_CT_CHANGE_CIPHER_SPEC) {
        /* RFC 8446 5: a plaintext CCS during the handshake is dropped. */
        ENSURE_MSG(c->state == ST_HANDSHAKE && len == 1 && rec[5] == 1, HASP_ERR_UNEXPECTED,
                   "the peer sent a ChangeCipherSpec record outside the TLS 1.3 handshake");
        /* RFC 8446 D.4: a peer in compatibility mode sends one, before its
         * second flight; a second one is no compatibility (as OpenSSL,
         * GnuTLS and NSS judge it). */
        ENSURE_MSG(c->hs && !c->hs->ccs13_seen++, HASP_ERR_UNEXPECTED,
                   "the peer sent a second ChangeCipherSpec record in the TLS 1.3 handshake");
        return 1;
    }
    struct hasp_hs *hs = c->hs;
    /* A peer that fails in the middle of the TLS 1.3 handshake may send its
     * alert in the clear (it may not have the keys yet): two bytes cannot be
     * a protected record, so take it as the alert it is. */
    if (tls13 && hs && c->state == ST_HANDSHAKE && type == HASP_CT_ALERT && len == 2 &&
        c->rd.kind != HASP_REC_NULL) {
        GUARD(on_alert(c, rec + HASP_REC_HEADER_LEN, 2));
        return 1;
    }
    /* A server that refused early data skips it: records it cannot read, or
     * protected records before the second ClientHello (RFC 8446 4.2.10). */
    if (hs && hs->early_skip && type == HASP_CT_APPLICATION_DATA && c->rd.kind == HASP_REC_NULL)
        return early_skip(c, len);
    uint8_t *pt;
    size_t pt_len;
    rc =
        hasp_rec_open_to(&c->rd, rec, HASP_REC_HEADER_LEN + len, &type, dst, dst_cap, &pt, &pt_len);
    if (rc == HASP_ERR_BAD_MAC && hs && hs->early_skip) return early_skip(c, len);
    GUARD(rc);
    if (hs) hs->early_skip = 0; /* a record that reads: the early data is over */
    if (type != HASP_CT_ALERT) c->warnings_in_row = 0;
    switch (type) {
    case HASP_CT_HANDSHAKE:
        ENSURE_MSG(pt_len > 0, HASP_ERR_UNEXPECTED, "the peer sent an empty handshake record");
        if (c->hs) /* the handshake, or a renegotiation under way */
            return hs_append(c, pt, pt_len) < 0 ? hasp_err_last()->code : 1;
        if (tls13) return post_handshake(c, pt, pt_len);
        return peer_renegotiation(c, pt, pt_len);
    case HASP_CT_CHANGE_CIPHER_SPEC:
        /* RFC 8446 5 (and what every TLS 1.2 peer expects): unexpected_message */
        ENSURE_MSG(pt_len == 1 && pt[0] == 1, HASP_ERR_UNEXPECTED,
                   "the peer sent a malformed ChangeCipherSpec (%zu bytes)", pt_len);
        ENSURE_MSG(c->hs != NULL, HASP_ERR_UNEXPECTED,
                   "the peer sent ChangeCipherSpec after the handshake");
        GUARD(hs_ccs(c));
        return 1;
    case HASP_CT_ALERT:
        GUARD(on_alert(c, pt, pt_len));
        return 1;
    case HASP_CT_APPLICATION_DATA:
        if (c->state == ST_HANDSHAKE && hs && hs->early_reading) {
            /* 0-RTT: kept for hasp_conn_read_early / hasp_conn_read */
            GUARD(tls13_early_data_recv(c, pt_len));
            GUARD(wr_bytes(&c->stash, pt, pt_len));
            c->early_unread += pt_len;
            return 1;
        }
        ENSURE_MSG(c->state == ST_APP, HASP_ERR_UNEXPECTED,
                   "the peer sent application data before the handshake finished");
        /* RFC 8446 5.1: nothing between the records of one handshake message */
        ENSURE_MSG(!tls13 || c->post.len == 0, HASP_ERR_UNEXPECTED,
                   "the peer sent application data between two fragments of a post-handshake "
                   "message (RFC 8446 5.1)");
        c->key_updates = 0;
        if (c->hs) {
            /* Data may come during a renegotiation, even between the
             * fragments of a message (RFC 5246 has no rule against it; TLS
             * 1.3 has, RFC 8446 5.1), but not between ChangeCipherSpec and
             * Finished (RFC 5246 7.1: Finished follows immediately). */
            const struct hasp_hs *h = c->hs;
            const int after_ccs = h->step > 0 && hs_row(h, h->step)->type == HS_FINISHED &&
                                  hs_row(h, h->step - 1)->type == HS_CCS;
            ENSURE_MSG(!after_ccs, HASP_ERR_UNEXPECTED,
                       "the peer sent application data between ChangeCipherSpec and Finished");
        }
        if (c->hs || c->stash.len > c->stash_off) {
            /* RFC 5246 7.4.1.1 allows data during a renegotiation: keep it, in order. */
            ENSURE_MSG(c->stash.len - c->stash_off + c->app_len + pt_len <= c->cfg->max_buffered,
                       HASP_ERR_LIMIT,
                       "the peer sent more than %zu bytes of data during a renegotiation (the "
                       "configured limit)",
                       c->cfg->max_buffered);
            GUARD(wr_bytes(&c->stash, c->app, c->app_len));
            GUARD(wr_bytes(&c->stash, pt, pt_len));
            c->app_len = 0;
            return 1;
        }
        if (dst && pt == dst) {
            *dst_len = pt_len;
            return 1;
        }
        c->app = pt;
        c->app_len = pt_len;
        return 1;
    default:
        FAIL(HASP_ERR_UNEXPECTED, "the peer sent a record of unknown content type %u", type);
    }
}

/* ---------------------------------------------------------------- handshake */

int hasp_conn_handshake(hasp_conn *c)
{
    if (!c) return HASP_ERR_USAGE;
    if (c->state == ST_ERROR) return c->err;
    if (c->state == ST_APP) {
        /* A renegotiation under way: run it to its end. */
        for (;;) {
            hasp_err_clear();
            int rc = reneg_drive(c);
            if (rc < 0) return conn_fail(c, rc);
            if (rc == 0) {
                if (c->reneg_refused) {
                    c->reneg_refused = 0;
                    conn_set_errmsg(c, "the server refused to renegotiate (no_renegotiation); the "
                                       "connection goes on with its current parameters");
                    return hasp_err_set(HASP_ERR_NO_RENEGOTIATION, __FILE__, __LINE__, "%s",
                                        c->errmsg ? c->errmsg : "");
                }
                return 0;
            }
            rc = read_record(c);
            if (rc == HASP_WANT_POLLIN) return rc;
            if (rc < 0) return conn_fail(c, rc);
        }
    }
    if (c->state == ST_CLOSED) return HASP_ERR_CLOSED;
    hasp_err_clear();
    if (!c->hs) {
        int rc = hs_start(c);
        if (rc < 0) return conn_fail(c, rc);
        if (c->role == HASP_CLIENT)
            c->rec_version = HASP_TLS1_0; /* RFC 5246 E.1: the first ClientHello's record */
    }
    for (;;) {
        int rc = hs_drive(c);
        if (c->role == HASP_CLIENT && c->version)
            c->rec_version = HASP_TLS1_2; /* TLS 1.3 records say 1.2 too */
        if (rc < 0) return conn_fail(c, rc);
        if (rc == 0) {
            rc = hs_complete(c);
            if (rc < 0) return conn_fail(c, rc);
            c->state = ST_APP;
            conn_event(c, HASP_EV_DONE, c->role == HASP_SERVER, 0, "handshake complete", 0,
                       c->suite->iana);
            hs_free(c);
            /* the handshake's buffers go once its last flight has been sent */
            c->release_pending = 1;
            if (c->out.len == 0) hasp_conn_output_done(c, 0);
            return 0;
        }
        rc = read_record(c);
        if (rc == HASP_WANT_POLLIN) return rc;
        if (rc < 0) return conn_fail(c, rc);
    }
}

/* ---------------------------------------------------------------- application data */

/* Data kept for the reader (during a renegotiation, or early data): the
 * first early_unread bytes of it came as 0-RTT. */
static int stash_take(hasp_conn *c, void *buf, size_t len)
{
    size_t avail = c->stash.len - c->stash_off;
    size_t n = len < avail ? len : avail;
    if (n > 0x7fffffff) n = 0x7fffffff;
    if (n) memcpy(buf, c->stash.p + c->stash_off, n);
    c->stash_off += n;
    c->early_unread -= n < c->early_unread ? n : c->early_unread;
    if (c->stash_off == c->stash.len) c->stash.len = c->stash_off = 0;
    return (int)n;
}

int hasp_conn_read(hasp_conn *c, void *buf, size_t len)
{
    if (!c || (!buf && len)) return HASP_ERR_USAGE;
    if (c->state == ST_HANDSHAKE) {
        int rc = hasp_conn_handshake(c);
        if (rc != 0) return rc;
    }
    int warnings = 0;
    for (;;) {
        if (c->stash.len > c->stash_off) return stash_take(c, buf, len);
        if (c->app_len > 0) {
            size_t n = len < c->app_len ? len : c->app_len;
            if (n > 0x7fffffff) n = 0x7fffffff;
            memcpy(buf, c->app, n);
            c->app += n;
            c->app_len -= n;
            return (int)n;
        }
        if (c->state == ST_ERROR) return c->err;
        if (c->peer_closed) {
            /* RFC 5246 7.2.1: answer close_notify with our own. */
            if (!c->close_sent) {
                send_alert(c, 1, HASP_ALERT_CLOSE_NOTIFY);
                c->close_sent = 1;
            }
            c->state = ST_CLOSED;
            return 0;
        }
        hasp_err_clear();
        size_t direct = 0;
        /* Application data straight into the caller's buffer when it is large enough. */
        int rc = (len > 0 && !c->hs)
                     ? read_record_to(c, buf, len > 0x7fffffff ? 0x7fffffff : len, &direct)
                     : read_record(c);
        if (rc == HASP_WANT_POLLIN) return rc;
        if (rc < 0) return conn_fail(c, rc);
        if (direct > 0) return (int)direct;
        rc = reneg_drive(c);
        if (rc < 0) return conn_fail(c, rc);
        if (c->app_len == 0 && ++warnings > MAX_WARNINGS * 4) {
            hasp_err_set(HASP_ERR_LIMIT, __FILE__, __LINE__,
                         "the peer sent too many records without application data");
            return conn_fail(c, HASP_ERR_LIMIT);
        }
    }
}

int hasp_conn_write(hasp_conn *c, const void *buf, size_t len)
{
    if (!c || (!buf && len)) return HASP_ERR_USAGE;
    if (c->state == ST_HANDSHAKE) {
        int rc = hasp_conn_handshake(c);
        if (rc != 0) return rc;
    }
    if (c->state == ST_ERROR) return c->err;
    if (c->close_sent || c->state == ST_CLOSED) return HASP_ERR_CLOSED;
    if (len > 0x7fffffff) len = 0x7fffffff;
    hasp_err_clear();
    if (c->hs && c->hs->reneg) {
        /* A renegotiation under way completes before new data goes out (as
         * OpenSSL does): the data then follows the new Finished, under the
         * new keys, and never lands between the peer's messages. */
        for (;;) {
            int r = reneg_drive(c);
            if (r < 0) return conn_fail(c, r);
            if (r == 0) break;
            if (c->peer_closed) return HASP_ERR_CLOSED;
            r = read_record(c); /* data that comes meanwhile is kept for the reader */
            if (r == HASP_WANT_POLLIN) return r;
            if (r < 0) return conn_fail(c, r);
        }
    }
    int rc = conn_send_record(c, HASP_CT_APPLICATION_DATA, buf, len);
    if (rc < 0) return conn_fail(c, rc);
    return (int)len;
}

/* ---------------------------------------------------------------- 0-RTT early data */

int hasp_conn_write_early(hasp_conn *c, const void *buf, size_t len)
{
    if (!c || (!buf && len)) return HASP_ERR_USAGE;
    const char *why = NULL;
    if (c->role != HASP_CLIENT)
        why = "early data is written by clients; a server reads it with hasp_conn_read_early";
    else if (!c->cfg->max_early_data)
        why = "early data is off on this client's config (hasp_config_set_early_data)";
    else if (c->state != ST_HANDSHAKE)
        why = "early data is written before the handshake completes";
    else if (c->hs && c->early_status == HASP_EARLY_NONE)
        why = "the ClientHello already went out without early data: call hasp_conn_write_early "
              "before hasp_conn_handshake";
    else if (!c->hs && !hasp_session_max_early_data(c->session_in))
        why = "the session set on this connection allows no early data (none set, not TLS 1.3, "
              "or its ticket did not offer early data)";
    if (why) return conn_refuse(c, hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__, "%s", why));
    if (!c->hs) {
        c->early_wanted = 1;
        int rc = hasp_conn_handshake(c); /* the ClientHello goes out, then the early keys */
        if (rc < 0 && rc != HASP_WANT_POLLIN) return rc;
        if (c->early_status == HASP_EARLY_NONE)
            return conn_refuse(c, hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__,
                                               "the session cannot carry early data now (expired, "
                                               "or its cipher suite is not enabled here)"));
    }
    if (!c->hs || !c->hs->early_writable) return 0; /* the server has answered */
    uint32_t max = hasp_session_max_early_data(c->session_in);
    if (c->cfg->max_early_data < max) max = c->cfg->max_early_data;
    size_t n = max > c->early_sent ? max - c->early_sent : 0;
    if (len < n) n = len;
    if (n == 0) return 0;
    hasp_err_clear();
    int rc = conn_send_record(c, HASP_CT_APPLICATION_DATA, buf, n);
    if (rc < 0) return conn_fail(c, rc);
    c->early_sent += (uint32_t)n;
    return (int)n;
}

/* Early data may still arrive: the ClientHello is not read yet, or the early key is in place. */
static int early_open(const hasp_conn *c)
{
    return c->state == ST_HANDSHAKE && (!c->version || (c->hs && c->hs->early_reading));
}

int hasp_conn_read_early(hasp_conn *c, void *buf, size_t len)
{
    if (!c || (!buf && len)) return HASP_ERR_USAGE;
    if (c->role != HASP_SERVER)
        return conn_refuse(c, hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__,
                                           "hasp_conn_read_early is for servers"));
    for (;;) {
        if (c->early_unread > 0)
            return stash_take(c, buf, len < c->early_unread ? len : c->early_unread);
        if (c->state == ST_ERROR) return c->err;
        if (!early_open(c)) return 0;
        int rc = hasp_conn_handshake(c);
        if (c->early_unread > 0) continue;
        if (rc == HASP_WANT_POLLIN) return early_open(c) ? rc : 0;
        if (rc < 0) return rc;
    }
}

int hasp_conn_early_data(const hasp_conn *c)
{
    return c ? c->early_status : HASP_EARLY_NONE;
}

const char *hasp_conn_early_data_reason(const hasp_conn *c)
{
    return c && c->early_status == HASP_EARLY_REJECTED && c->early_reason ? c->early_reason : "";
}

int hasp_conn_set_verify_client(hasp_conn *c, int mode)
{
    ENSURE_MSG(c && c->role == HASP_SERVER && mode >= HASP_VERIFY_CLIENT_NONE &&
                   mode <= HASP_VERIFY_CLIENT_REQUIRE,
               HASP_ERR_USAGE, "hasp_conn_set_verify_client is for servers, with a known mode");
    c->verify_client = mode;
    return 0;
}

int hasp_conn_key_update(hasp_conn *c, int request_peer)
{
    ENSURE(c, HASP_ERR_USAGE);
    if (c->state != ST_APP || c->version != HASP_TLS1_3)
        return conn_refuse(c, hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__,
                                           "KeyUpdate needs an established TLS 1.3 connection"));
    hasp_err_clear();
    int rc = tls13_key_update_send(c, request_peer);
    return rc < 0 ? conn_fail(c, rc) : 0;
}

int hasp_conn_close(hasp_conn *c)
{
    if (!c) return HASP_ERR_USAGE;
    if (c->state == ST_ERROR) return 0;
    if (!c->close_sent) {
        send_alert(c, 1, HASP_ALERT_CLOSE_NOTIFY);
        c->close_sent = 1;
    }
    if (c->peer_closed) c->state = ST_CLOSED;
    return 0;
}

/* ---------------------------------------------------------------- state */

size_t hasp_conn_pending(const hasp_conn *c)
{
    /* decrypted data, data kept during a renegotiation or as early data, raw input */
    return c->app_len + (c->stash.len - c->stash_off) + (c->in_len - c->in_off);
}

int hasp_conn_handshake_done(const hasp_conn *c)
{
    return c->state == ST_APP || (c->state == ST_CLOSED && c->suite);
}

int hasp_conn_error(const hasp_conn *c)
{
    return c->state == ST_ERROR ? c->err : 0;
}

const char *hasp_conn_errmsg(const hasp_conn *c)
{
    /* the fatal error, or the last refusal that left the connection usable */
    return c->errmsg ? c->errmsg : "";
}

int hasp_conn_peer_closed(const hasp_conn *c)
{
    return c->peer_closed;
}

int hasp_conn_alert_sent(const hasp_conn *c)
{
    return c->alert_sent;
}

int hasp_conn_alert_received(const hasp_conn *c)
{
    return c->alert_recv;
}

uint16_t hasp_conn_version(const hasp_conn *c)
{
    return c->version;
}

const char *hasp_conn_version_name(const hasp_conn *c)
{
    switch (c->version) {
    case HASP_TLS1_2:
        return "TLSv1.2";
    case HASP_TLS1_3:
        return "TLSv1.3";
    default:
        return "none";
    }
}

uint16_t hasp_conn_cipher_id(const hasp_conn *c)
{
    return c->suite ? c->suite->id : 0;
}

const char *hasp_conn_cipher_name(const hasp_conn *c)
{
    return c->suite ? c->suite->iana : "none";
}

const char *hasp_conn_cipher_openssl_name(const hasp_conn *c)
{
    return c->suite ? c->suite->ossl : "none";
}

const char *hasp_conn_group_name(const hasp_conn *c)
{
    if (!c->suite || c->suite->kx == HASP_KX_RSA || (c->resumed && c->version == HASP_TLS1_2))
        return NULL; /* no key exchange: RSA transport, or an abbreviated handshake */
    if (c->version == HASP_TLS1_3 && !c->group) return NULL; /* psk_ke: the PSK alone */
    return c->group ? hasp_group_name(c->group) : "custom-dh";
}

const char *hasp_conn_sigalg_name(const hasp_conn *c)
{
    const hasp_sigscheme *s = c->sigscheme ? hasp_sigscheme_find(c->sigscheme) : NULL;
    return s ? s->name : NULL;
}

const char *hasp_conn_alpn(const hasp_conn *c)
{
    return c->alpn[0] ? c->alpn : NULL;
}

const char *hasp_conn_servername(const hasp_conn *c)
{
    return c->sni[0] ? c->sni : NULL;
}

int hasp_conn_ems(const hasp_conn *c)
{
    return c->ems;
}

int hasp_conn_secure_renegotiation(const hasp_conn *c)
{
    return c->secure_reneg;
}

int hasp_conn_etm(const hasp_conn *c)
{
    return c->etm;
}

int hasp_conn_resumed(const hasp_conn *c)
{
    return c->resumed;
}

const char *hasp_conn_resumed_how(const hasp_conn *c)
{
    return c->resumed && c->resumed_how ? c->resumed_how : "no";
}

hasp_session *hasp_conn_get_session(hasp_conn *c)
{
    if (!c || !c->session_out || !c->session_out->resumable) return NULL;
    return session_dup(c->session_out);
}

int hasp_conn_set_session(hasp_conn *c, const hasp_session *s)
{
    ENSURE_MSG(c && s && c->role == HASP_CLIENT && !c->hs && c->state == ST_HANDSHAKE,
               HASP_ERR_USAGE, "a session is set on a client before its handshake");
    hasp_session_free(c->session_in);
    c->session_in = session_dup(s);
    ENSURE(c->session_in, HASP_ERR_NOMEM);
    return 0;
}

const char *hasp_conn_verify_result(const hasp_conn *c)
{
    return c->verify_msg && c->verify_msg[0] ? c->verify_msg : "not verified";
}
