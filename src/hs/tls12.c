/* The TLS 1.2 handshake (RFC 5246) as a table. The walker at the bottom
 * runs the rows in order: our rows call send(), the peer's rows wait for
 * that message and call recv(). A message that does not fit the current
 * row is unexpected_message by construction. */
#include "../alloc.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../x509/x509.h"
#include "hs.h"

/* x509/tls_names.c */
int hasp_x509_store_write_names(const hasp_x509_store *s, hasp_wr *w);

int hs_read_sigalgs(hasp_rd *r, uint16_t *out, size_t cap, size_t *n);

int hs_client_hello_send(hasp_conn *c);
int hs_client_hello_recv(hasp_conn *c, hasp_rd *r);
#define client_hello_send hs_client_hello_send
#define client_hello_recv hs_client_hello_recv
static int server_hello_send(hasp_conn *c);
int hs_server_hello_recv(hasp_conn *c, hasp_rd *r);
#define server_hello_recv hs_server_hello_recv
static int server_certificate_send(hasp_conn *c);
static int server_certificate_recv(hasp_conn *c, hasp_rd *r);
static int server_key_exchange_send(hasp_conn *c);
static int server_key_exchange_recv(hasp_conn *c, hasp_rd *r);
static int certificate_request_send(hasp_conn *c);
static int certificate_request_recv(hasp_conn *c, hasp_rd *r);
static int server_hello_done_send(hasp_conn *c);
static int server_hello_done_recv(hasp_conn *c, hasp_rd *r);
static int client_certificate_send(hasp_conn *c);
static int client_certificate_recv(hasp_conn *c, hasp_rd *r);
static int client_key_exchange_send(hasp_conn *c);
static int client_key_exchange_recv(hasp_conn *c, hasp_rd *r);
static int certificate_verify_send(hasp_conn *c);
static int certificate_verify_recv(hasp_conn *c, hasp_rd *r);
static int change_cipher_spec_send(hasp_conn *c);
static int finished_send(hasp_conn *c);
static int finished_recv(hasp_conn *c, hasp_rd *r);
static int new_session_ticket_send(hasp_conn *c);
static int new_session_ticket_recv(hasp_conn *c, hasp_rd *r);

#define C SENDER_CLIENT
#define S SENDER_SERVER

/* RFC 5246 7.3: the full handshake, every optional row included. */
static const hs_step tls12_full[] = {
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", client_hello_send, client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "ServerHello", server_hello_send, server_hello_recv},
    {HS_CERTIFICATE, S, 0, 0, 0, 0, "Certificate", server_certificate_send,
     server_certificate_recv},
    {HS_SERVER_KEY_EXCHANGE, S, F_PFS, 0, 0, 0, "ServerKeyExchange", server_key_exchange_send,
     server_key_exchange_recv},
    {HS_CERTIFICATE_REQUEST, S, F_CLIENT_AUTH, 0, 1, 0, "CertificateRequest",
     certificate_request_send, certificate_request_recv},
    {HS_SERVER_HELLO_DONE, S, 0, 0, 0, 0, "ServerHelloDone", server_hello_done_send,
     server_hello_done_recv},
    {HS_CERTIFICATE, C, F_CLIENT_AUTH, 0, 0, 0, "Certificate", client_certificate_send,
     client_certificate_recv},
    {HS_CLIENT_KEY_EXCHANGE, C, 0, 0, 0, 0, "ClientKeyExchange", client_key_exchange_send,
     client_key_exchange_recv},
    {HS_CERTIFICATE_VERIFY, C, F_CLIENT_AUTH, F_NO_CLIENT_CERT, 0, 0, "CertificateVerify",
     certificate_verify_send, certificate_verify_recv},
    {HS_CCS, C, 0, 0, 0, 0, "ChangeCipherSpec", change_cipher_spec_send, NULL},
    {HS_FINISHED, C, 0, 0, 0, 1, "Finished", finished_send, finished_recv},
    {HS_NEW_SESSION_TICKET, S, F_TICKET, 0, 0, 0, "NewSessionTicket", new_session_ticket_send,
     new_session_ticket_recv},
    {HS_CCS, S, 0, 0, 0, 0, "ChangeCipherSpec", change_cipher_spec_send, NULL},
    {HS_FINISHED, S, 0, 0, 0, 1, "Finished", finished_send, finished_recv},
    {HS_END, C, 0, 0, 0, 0, "end", NULL, NULL},
};

/* RFC 5246 7.3 (abbreviated handshake), RFC 5077 3.1: the server finishes first. */
static const hs_step tls12_resume[] = {
    {HS_CLIENT_HELLO, C, 0, 0, 0, 0, "ClientHello", client_hello_send, client_hello_recv},
    {HS_SERVER_HELLO, S, 0, 0, 0, 0, "ServerHello", server_hello_send, server_hello_recv},
    {HS_NEW_SESSION_TICKET, S, F_TICKET, 0, 0, 0, "NewSessionTicket", new_session_ticket_send,
     new_session_ticket_recv},
    {HS_CCS, S, 0, 0, 0, 0, "ChangeCipherSpec", change_cipher_spec_send, NULL},
    {HS_FINISHED, S, 0, 0, 0, 1, "Finished", finished_send, finished_recv},
    {HS_CCS, C, 0, 0, 0, 0, "ChangeCipherSpec", change_cipher_spec_send, NULL},
    {HS_FINISHED, C, 0, 0, 0, 1, "Finished", finished_send, finished_recv},
    {HS_END, C, 0, 0, 0, 0, "end", NULL, NULL},
};

#undef C
#undef S

int hs_me(const hasp_conn *c)
{
    return c->role == HASP_SERVER ? SENDER_SERVER : SENDER_CLIENT;
}

const char *hs_peer_name(const hasp_conn *c)
{
    return c->role == HASP_SERVER ? "client" : "server";
}

const char *hs_msg_name(int type)
{
    switch (type) {
    case HS_HELLO_REQUEST:
        return "HelloRequest";
    case HS_CLIENT_HELLO:
        return "ClientHello";
    case HS_SERVER_HELLO:
        return "ServerHello";
    case HS_NEW_SESSION_TICKET:
        return "NewSessionTicket";
    case HS_END_OF_EARLY_DATA:
        return "EndOfEarlyData";
    case HS_ENCRYPTED_EXTENSIONS:
        return "EncryptedExtensions";
    case HS_CERTIFICATE:
        return "Certificate";
    case HS_SERVER_KEY_EXCHANGE:
        return "ServerKeyExchange";
    case HS_CERTIFICATE_REQUEST:
        return "CertificateRequest";
    case HS_SERVER_HELLO_DONE:
        return "ServerHelloDone";
    case HS_CERTIFICATE_VERIFY:
        return "CertificateVerify";
    case HS_CLIENT_KEY_EXCHANGE:
        return "ClientKeyExchange";
    case HS_FINISHED:
        return "Finished";
    case HS_KEY_UPDATE:
        return "KeyUpdate";
    case HS_CCS:
        return "ChangeCipherSpec";
    default:
        return "unknown handshake message";
    }
}

/* ---------------------------------------------------------------- helpers */

#define DETAIL(c, ...)                                                                             \
    do {                                                                                           \
        if (conn_tracing(c)) {                                                                     \
            size_t n_ = strlen((c)->hs->detail);                                                   \
            snprintf((c)->hs->detail + n_, sizeof((c)->hs->detail) - n_, __VA_ARGS__);             \
        }                                                                                          \
    } while (0)

static const char *version_name(uint16_t v)
{
    switch (v) {
    case 0x0300:
        return "SSL3.0";
    case 0x0301:
        return "TLS1.0";
    case 0x0302:
        return "TLS1.1";
    case 0x0303:
        return "TLS1.2";
    case 0x0304:
        return "TLS1.3";
    default:
        return "unknown";
    }
}

int hs_transcript_add(hasp_conn *c, const uint8_t *msg, size_t len)
{
    struct hasp_hs *hs = c->hs;
    GUARD(wr_bytes(&hs->transcript, msg, len));
    if (hs->th) GUARD(hasp_hash_update(hs->th, msg, len));
    return 0;
}

/* The hash is known once the suite is: hash what came before, then run. */
int hs_transcript_start(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    hasp_hash_free(hs->th);
    hs->th = hasp_hash_new(c->suite->prf_hash);
    ENSURE(hs->th, HASP_ERR_CRYPTO);
    return hasp_hash_update(hs->th, hs->transcript.p, hs->transcript.len);
}

int hs_transcript_hash(hasp_conn *c, uint8_t *out)
{
    if (c->hs->th) return hasp_hash_peek(c->hs->th, out);
    return hasp_hash(c->suite->prf_hash, c->hs->transcript.p, c->hs->transcript.len, out);
}

/* Begin a message: the 4-byte header is filled in by msg_end. */
hasp_wr *hs_msg_begin(hasp_conn *c)
{
    hasp_wr *w = &c->hs->msg;
    w->len = 0;
    wr_reserve(w, 4);
    w->len = 4;
    return w;
}

int hs_msg_end(hasp_conn *c, int type)
{
    hasp_wr *w = &c->hs->msg;
    size_t body = w->len - 4;
    ENSURE(w->p != NULL && body < (1u << 24), HASP_ERR_INTERNAL);
    w->p[0] = (uint8_t)type;
    w->p[1] = (uint8_t)(body >> 16);
    w->p[2] = (uint8_t)(body >> 8);
    w->p[3] = (uint8_t)body;
    GUARD(hs_transcript_add(c, w->p, w->len));
    GUARD(conn_send_record(c, HASP_CT_HANDSHAKE, w->p, w->len));
    conn_event(c, HASP_EV_MSG_SENT, c->role == HASP_SERVER, type, hs_msg_name(type), w->len,
               c->hs->detail);
    c->hs->detail[0] = 0;
    return 0;
}

/* The highest version this config can actually run: TLS 1.3 needs a TLS 1.3 suite. */
uint16_t hs_max_version(const hasp_conn *c)
{
    if (c->hs && c->hs->reneg) return HASP_TLS1_2;
    if (c->cfg->max_version < HASP_TLS1_3) return c->cfg->max_version;
    for (size_t i = 0; i < c->cfg->nsuites; i++) {
        const hasp_suite *s = hasp_suite_find(c->cfg->suites[i]);
        if (s && hasp_suite_is_tls13(s)) return HASP_TLS1_3;
    }
    return HASP_TLS1_2;
}

int hs_offered_group(const hasp_conn *c, uint16_t group)
{
    for (size_t i = 0; i < c->cfg->ngroups; i++)
        if (c->cfg->groups[i] == group) return 1;
    return 0;
}

int hs_offered_sigalg(const hasp_conn *c, uint16_t scheme)
{
    for (size_t i = 0; i < c->cfg->nsigalgs; i++)
        if (c->cfg->sigalgs[i] == scheme) return 1;
    return 0;
}

int hs_peer_has_group(const struct hasp_hs *hs, uint16_t g)
{
    for (size_t i = 0; i < hs->npeer_groups; i++)
        if (hs->peer_groups[i] == g) return 1;
    return 0;
}

/* Pick a signature scheme: ours in our order, that the peer accepts and that fits the key. */
uint16_t hs_pick_sigscheme(const hasp_conn *c, const uint16_t *peer, size_t npeer,
                           const hasp_pkey *key, uint16_t version)
{
    for (size_t i = 0; i < c->cfg->nsigalgs; i++) {
        const hasp_sigscheme *s = hasp_sigscheme_find(c->cfg->sigalgs[i]);
        if (!s || !hasp_sigscheme_fits(s, key, version)) continue;
        for (size_t j = 0; j < npeer; j++)
            if (peer[j] == s->id) return s->id;
    }
    return 0;
}

const char *hs_sigscheme_name(uint16_t id)
{
    const hasp_sigscheme *s = hasp_sigscheme_find(id);
    return s ? s->name : "unknown";
}

static int derive_key_block(hasp_conn *c);

/* A DigitallySigned {scheme, signature}: the scheme must be one we offered
 * and fit the peer's key under this version's rules. */
int hs_read_signature(hasp_conn *c, hasp_rd *r, uint16_t version, const char *what,
                      const hasp_sigscheme **ss, hasp_rd *sig)
{
    uint16_t scheme;
    GUARD(rd_u16(r, &scheme));
    GUARD(rd_vec(r, 2, sig));
    GUARD(rd_expect_empty(r));
    *ss = hasp_sigscheme_find(scheme);
    ENSURE_MSG(*ss && hs_offered_sigalg(c, scheme) &&
                   hasp_sigscheme_fits(*ss, c->hs->peer_key, version),
               HASP_ERR_ILLEGAL_PARAM,
               "the %s signed %s with %s (0x%04x), which was not offered for its key in %s",
               hs_peer_name(c), what, *ss ? (*ss)->name : "an unknown scheme", scheme,
               version == HASP_TLS1_3 ? "TLS 1.3" : "TLS 1.2");
    return 0;
}

/* Sign data with our key and append {scheme, signature} to w. */
int hs_write_signature(hasp_conn *c, hasp_wr *w, uint16_t scheme, const uint8_t *data, size_t len)
{
    uint8_t sig[1024];
    size_t sig_len;
    GUARD(hasp_sign_scheme(c->hs->cred->key, scheme, data, len, sig, sizeof(sig), &sig_len));
    GUARD(wr_u16(w, scheme));
    GUARD(wr_vec(w, 2, sig, sig_len));
    DETAIL(c, "signature=%s", hs_sigscheme_name(scheme));
    return 0;
}

/* master secret (RFC 5246 8.1, RFC 7627 4) and key block (RFC 5246 6.3). */
static int derive_keys(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    const hasp_suite *s = c->suite;
    int rc;
    if (c->ems) {
        uint8_t session_hash[HASP_HASH_MAX];
        GUARD(hs_transcript_hash(c, session_hash));
        rc = hasp_prf12(s->prf_hash, hs->pms, hs->pms_len, "extended master secret", session_hash,
                        hasp_hash_len(s->prf_hash), c->master, 48);
    } else {
        rc = hasp_prf12_2(s->prf_hash, hs->pms, hs->pms_len, "master secret", hs->client_random, 32,
                          hs->server_random, 32, c->master, 48);
    }
    hasp_wipe(hs->pms, sizeof(hs->pms));
    hs->pms_len = 0;
    GUARD(rc);
    return derive_key_block(c);
}

/* PRF(master secret, label, seed1 || seed2): the key block and both
 * Finished use the same secret, so its HMAC key is prepared once per
 * handshake (and again if the master secret changes). */
static int prf_master(hasp_conn *c, int alg, const char *label, const uint8_t *seed1, size_t len1,
                      const uint8_t *seed2, size_t len2, uint8_t *out, size_t out_len)
{
    struct hasp_hs *hs = c->hs;
    if (hs == NULL)
        return hasp_prf12_2(alg, c->master, 48, label, seed1, len1, seed2, len2, out, out_len);
    if (hs->master_hmac == NULL || hasp_hmac_len(hs->master_hmac) != hasp_hash_len(alg) ||
        hasp_ct_memcmp(hs->master_hmac_of, c->master, 48) != 0) {
        hasp_hmac_free(hs->master_hmac);
        hs->master_hmac = hasp_hmac_new(alg, c->master, 48);
        if (hs->master_hmac == NULL) return hasp_err_last()->code;
        memcpy(hs->master_hmac_of, c->master, 48);
    }
    return hasp_prf12_hmac(hs->master_hmac, label, seed1, len1, seed2, len2, out, out_len);
}

/* The key block from the master secret and both randoms (RFC 5246 6.3). */
static int derive_key_block(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    const hasp_suite *s = c->suite;
    int rc;
    conn_keylog(c, "CLIENT_RANDOM", hs->client_random, c->master, 48);
    size_t mac = hasp_suite_mac_key_len(s), key = hasp_suite_enc_key_len(s),
           iv = hasp_suite_fixed_iv_len(s);
    uint8_t kb[2 * (64 + 32 + 12)];
    size_t need = 2 * (mac + key + iv);
    ENSURE(need <= sizeof(kb), HASP_ERR_INTERNAL);
    GUARD(prf_master(c, s->prf_hash, "key expansion", hs->server_random, 32, hs->client_random, 32,
                     kb, need));
    const uint8_t *cmac = kb, *smac = kb + mac, *ckey = kb + 2 * mac, *skey = ckey + key,
                  *civ = skey + key, *siv = civ + iv;
    int client = c->role == HASP_CLIENT;
    const uint8_t *wmac = client ? cmac : smac, *rmac = client ? smac : cmac;
    const uint8_t *wkey = client ? ckey : skey, *rkey = client ? skey : ckey;
    const uint8_t *wiv = client ? civ : siv, *riv = client ? siv : civ;
    if (s->aead) {
        rc = hasp_rec_prot_aead12(&c->pending_wr, s->aead, wkey, wiv, iv, 1);
        if (rc == 0) rc = hasp_rec_prot_aead12(&c->pending_rd, s->aead, rkey, riv, iv, 0);
    } else {
        rc = hasp_rec_prot_cbc(&c->pending_wr, s->cbc, wkey, s->mac_hash, wmac, mac, c->etm, 1);
        if (rc == 0)
            rc = hasp_rec_prot_cbc(&c->pending_rd, s->cbc, rkey, s->mac_hash, rmac, mac, c->etm, 0);
    }
    hasp_wipe(kb, sizeof(kb));
    return rc;
}

/* ---------------------------------------------------------------- ClientHello */

int client_hello_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    int tls13 = hs_max_version(c) >= HASP_TLS1_3;
    int tls12 = c->cfg->min_version <= HASP_TLS1_2;
    if (!hs->ch_sent) {
        /* A second ClientHello (after HelloRetryRequest) keeps random and session ID. */
        const hasp_session *sess = hs->reneg ? NULL : c->session_in;
        int fresh_id = 0;
        if (sess && sess->resumable && sess->version == HASP_TLS1_2 && tls12 &&
            conn_now(c) < sess->created + (int64_t)sess->lifetime) {
            if (sess->ticket_len) {
                /* RFC 5077 3.4: a fresh ID, echoed when the ticket is accepted. */
                fresh_id = 1;
            } else if (sess->id_len) {
                memcpy(hs->session_id, sess->id, sess->id_len);
                hs->session_id_len = sess->id_len;
            }
        }
        /* RFC 8446 D.4: middlebox compatibility mode. */
        if (tls13 && hs->session_id_len == 0) fresh_id = 1;
        GUARD(conn_random_public(c, hs->client_random, 32, fresh_id ? hs->session_id : NULL, 32));
        if (fresh_id) hs->session_id_len = 32;
        memcpy(hs->sent_session_id, hs->session_id, hs->session_id_len);
        hs->sent_session_id_len = hs->session_id_len;
        hs->ch_sent = 1;
    }
    hasp_wr *w = hs_msg_begin(c);
    hs->client_version = HASP_TLS1_2;
    GUARD(wr_u16(w, hs->client_version));
    GUARD(wr_bytes(w, hs->client_random, 32));
    GUARD(wr_vec(w, 1, hs->session_id, hs->session_id_len));
    size_t m;
    GUARD(wr_vec_begin(w, 2, &m));
    size_t offered = 0;
    for (size_t i = 0; i < c->cfg->nsuites; i++) {
        const hasp_suite *s = hasp_suite_find(c->cfg->suites[i]);
        if (!s || (hasp_suite_is_tls13(s) ? !tls13 : !tls12)) continue;
        GUARD(wr_u16(w, s->id));
        offered++;
    }
    ENSURE_MSG(offered > 0, HASP_ERR_HANDSHAKE,
               "no cipher suite is enabled in the configuration for the versions it allows");
    GUARD(wr_vec_end(w, 2, m));
    GUARD(wr_u8(w, 1));
    GUARD(wr_u8(w, 0)); /* null compression */
    DETAIL(c, "version=%s suites=%zu ", tls13 ? (tls12 ? "TLS1.3,TLS1.2" : "TLS1.3") : "TLS1.2",
           offered);
    DETAIL(c, "extensions=");
    GUARD(ext_client_hello_write(c, w));
    if (hs->psk_offered) {
        /* RFC 8446 4.2.11.2: the binder covers the ClientHello up to the binders. */
        size_t body = w->len - 4, hl = hs->binders_len - 3;
        w->p[0] = HS_CLIENT_HELLO;
        w->p[1] = (uint8_t)(body >> 16);
        w->p[2] = (uint8_t)(body >> 8);
        w->p[3] = (uint8_t)body;
        const hasp_suite *ps = hasp_suite_find(c->session_in->suite);
        hasp_wr partial = hasp_wr_dyn();
        int rc = wr_bytes(&partial, hs->transcript.p, hs->transcript.len);
        if (rc == 0) rc = wr_bytes(&partial, w->p, w->len - hs->binders_len);
        if (rc == 0)
            rc = tls13_psk_binder(c, ps->prf_hash, c->session_in->secret, c->session_in->secret_len,
                                  partial.p, partial.len, w->p + w->len - hl);
        hasp_wr_free(&partial);
        GUARD(rc);
    }
    GUARD(hs_msg_end(c, HS_CLIENT_HELLO));
    return hs->early_offered && !hs->early_writable && !hs->hrr_done ? tls13_client_early_start(c)
                                                                     : 0;
}

/* The credential for a suite: a key of the right type, preferring one whose
 * certificate names the requested server name. */
static const hasp_cred *pick_cred(hasp_conn *c, const hasp_suite *s)
{
    const hasp_cred *first = NULL;
    for (size_t i = 0; i < c->cfg->ncreds; i++) {
        const hasp_cred *cr = &c->cfg->creds[i];
        int ec = cr->key_type == HASP_PKEY_EC_P256 || cr->key_type == HASP_PKEY_EC_P384 ||
                 cr->key_type == HASP_PKEY_EC_P521;
        /* An id-RSASSA-PSS key signs (ECDHE_RSA, DHE_RSA with the
         * rsa_pss_pss schemes, RFC 8446 4.2.3) but cannot decrypt (RSA key
         * exchange). */
        int ok = s->kx == HASP_KX_ECDHE_ECDSA ? ec
                 : s->kx == HASP_KX_RSA
                     ? cr->key_type == HASP_PKEY_RSA
                     : cr->key_type == HASP_PKEY_RSA || cr->key_type == HASP_PKEY_RSA_PSS;
        if (!ok) continue;
        if (ec && c->hs->peer_sent_groups) {
            /* RFC 8422 5.1.1: the certificate's curve must be one the client supports. */
            uint16_t curve = cr->key_type == HASP_PKEY_EC_P256   ? HASP_GROUP_SECP256R1
                             : cr->key_type == HASP_PKEY_EC_P384 ? HASP_GROUP_SECP384R1
                                                                 : 0x0019;
            if (!hs_peer_has_group(c->hs, curve)) continue;
        }
        /* The name decides only between several certificates (parsing one
         * per handshake is not free). */
        if (c->sni[0] && c->cfg->ncreds > 1 &&
            hasp_x509_matches_host(cr->chain[0], cr->chain_len[0], c->sni) == 1)
            return cr;
        if (!first) first = cr;
    }
    return first;
}

static uint16_t pick_group(hasp_conn *c, const hasp_suite *s)
{
    struct hasp_hs *hs = c->hs;
    if (hasp_suite_is_ecdhe(s)) {
        for (size_t i = 0; i < c->cfg->ngroups; i++) {
            uint16_t g = c->cfg->groups[i];
            if (hasp_group_is_ffdhe(g)) continue;
            /* RFC 8422 5.1.1: without the extension the client supports P-256. */
            if (hs->peer_sent_groups ? hs_peer_has_group(hs, g) : g == HASP_GROUP_SECP256R1)
                return g;
        }
        return 0;
    }
    if (s->kx == HASP_KX_DHE_RSA) {
        int peer_ffdhe = 0;
        for (size_t i = 0; i < hs->npeer_groups; i++)
            peer_ffdhe |= hasp_group_is_ffdhe(hs->peer_groups[i]);
        for (size_t i = 0; i < c->cfg->ngroups; i++) {
            uint16_t g = c->cfg->groups[i];
            if (!hasp_group_is_ffdhe(g)) continue;
            /* RFC 7919 4: a client that names ffdhe groups gets one of them. */
            if (!peer_ffdhe || hs_peer_has_group(hs, g)) return g;
        }
    }
    return 0;
}

/* RFC 5246 7.4.1.2 / RFC 5077 3.1: resume when the client's session ID or
 * ticket names a session this server can still use. */
static int try_resume12(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    const hasp_config *cfg = c->cfg;
    hasp_session *s = NULL;
    const char *how = NULL;
    int64_t now = conn_now(c);
    if (hs->peer_ticket_len && cfg->tickets &&
        !conn_ticket_revoked(c, hs->peer_ticket, hs->peer_ticket_len)) {
        s = ticket_open((ticket_keys *)&cfg->tkeys, hs->peer_ticket, hs->peer_ticket_len);
        how = "ticket";
        if (s) conn_note_ticket(c, hs->peer_ticket, hs->peer_ticket_len);
    }
    if (!s && hs->session_id_len) {
        s = session_cache_get(cfg->cache, hs->session_id, hs->session_id_len, now);
        if (!s && cfg->sess_get) {
            uint8_t buf[8192];
            size_t len = 0;
            if (cfg->sess_get(cfg->sess_arg, hs->session_id, hs->session_id_len, buf, sizeof(buf),
                              &len) == 1 &&
                len <= sizeof(buf))
                s = session_decode(buf, len);
            hasp_wipe(buf, sizeof(buf));
        }
        how = "session-id";
    }
    if (!s) return 0;
    const hasp_suite *suite = hasp_suite_find(s->suite);
    int ok = s->version == HASP_TLS1_2 && s->resumable && s->secret_len == 48 &&
             now < s->created + (int64_t)s->lifetime && suite && !strcmp(s->sni, c->sni);
    int offered = 0, enabled = 0;
    for (size_t i = 0; ok && i < hs->npeer_suites; i++)
        offered |= hs->peer_suites[i] == s->suite;
    for (size_t i = 0; ok && i < cfg->nsuites; i++)
        enabled |= cfg->suites[i] == s->suite;
    ok = ok && offered && enabled;
    if (ok && s->ems && !hs->peer_ems) {
        hasp_session_free(s);
        FAIL(HASP_ERR_HANDSHAKE, "the client tries to resume a session made with the extended "
                                 "master secret without offering it (RFC 7627 5.3)");
    }
    if (!ok || (!s->ems && hs->peer_ems)) {
        hasp_session_free(s);
        return 0; /* a full handshake instead */
    }
    hs->resume = s;
    c->suite = suite;
    memcpy(c->master, s->secret, 48);
    c->ems = s->ems;
    c->resumed = 1;
    c->resumed_how = how;
    if (s->peer_cert_len) {
        c->peer_cert = hasp_malloc(s->peer_cert_len);
        if (c->peer_cert) {
            memcpy(c->peer_cert, s->peer_cert, s->peer_cert_len);
            c->peer_cert_len = s->peer_cert_len;
        }
    }
    snprintf(c->verify_msg, sizeof(c->verify_msg), "resumed (%s)",
             s->peer_cert_len ? "peer verified in the original handshake" : "no peer certificate");
    hs->peer_cert_checked = 1;
    hs->table = tls12_resume;
    hs->step = 0;
    conn_event(c, HASP_EV_DECISION, 1, 0, "resumption", 0, how);
    return 1;
}

static int select_suite(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    int shared_suite = 0;
    for (size_t i = 0; i < c->cfg->nsuites; i++) {
        const hasp_suite *s = hasp_suite_find(c->cfg->suites[i]);
        if (!s || hasp_suite_is_tls13(s)) continue;
        int offered = 0;
        for (size_t j = 0; j < hs->npeer_suites && !offered; j++)
            offered = hs->peer_suites[j] == s->id;
        if (!offered) continue;
        shared_suite = 1;
        const hasp_cred *cred = pick_cred(c, s);
        if (!cred) continue;
        uint16_t group = 0, scheme = 0;
        if (hasp_suite_needs_ske(s)) {
            group = pick_group(c, s);
            if (!group) continue;
            if (!hs->peer_sent_sigalgs)
                continue; /* the SHA-1 default of RFC 5246 7.4.1.4.1 is refused */
            scheme =
                hs_pick_sigscheme(c, hs->peer_sigalgs, hs->npeer_sigalgs, cred->key, HASP_TLS1_2);
            if (!scheme) continue;
        }
        c->suite = s;
        c->group = group;
        c->sigscheme = scheme;
        hs->cred = cred;
        return 0;
    }
    if (!shared_suite) {
        char ours[256] = "", theirs[256] = "";
        for (size_t i = 0, n = 0; i < c->cfg->nsuites && n + 48 < sizeof(ours); i++) {
            const hasp_suite *s = hasp_suite_find(c->cfg->suites[i]);
            if (s && !hasp_suite_is_tls13(s))
                n += (size_t)snprintf(ours + n, sizeof(ours) - n, "%s%s", n ? " " : "", s->ossl);
        }
        for (size_t i = 0, n = 0; i < hs->npeer_suites && n + 48 < sizeof(theirs); i++) {
            const hasp_suite *s = hasp_suite_find(hs->peer_suites[i]);
            if (s)
                n +=
                    (size_t)snprintf(theirs + n, sizeof(theirs) - n, "%s%s", n ? " " : "", s->ossl);
            else if (hs->peer_suites[i] != HASP_SCSV_RENEGOTIATION)
                n += (size_t)snprintf(theirs + n, sizeof(theirs) - n, "%s0x%04x", n ? " " : "",
                                      hs->peer_suites[i]);
        }
        FAIL(HASP_ERR_HANDSHAKE,
             "no cipher suite in common: the client offered %s; this server allows %s",
             theirs[0] ? theirs : "none that hasp knows", ours[0] ? ours : "no TLS 1.2 suite");
    }
    /* The suites both sides have need what they do not share: say which. */
    int shared_group = 0;
    for (size_t i = 0; i < c->cfg->ngroups; i++)
        shared_group |= hs_peer_has_group(hs, c->cfg->groups[i]);
    if (!shared_group) {
        char theirs[300], ours[300];
        hs_list_groups(hs->peer_groups_offered, hs->npeer_groups_offered, theirs, sizeof(theirs));
        hs_list_groups(c->cfg->groups, c->cfg->ngroups, ours, sizeof(ours));
        FAIL(HASP_ERR_HANDSHAKE,
             "no group in common for the cipher suites both sides have: the client offered %s; "
             "this server allows %s",
             hs->peer_sent_groups ? theirs : "none (no supported_groups)", ours);
    }
    char theirs[300], ours[300];
    hs_list_sigschemes(hs->peer_sigalgs, hs->npeer_sigalgs, theirs, sizeof(theirs));
    hs_list_own_sigschemes(c, HASP_TLS1_2, ours, sizeof(ours));
    FAIL(HASP_ERR_HANDSHAKE,
         "no signature scheme in common for the cipher suites both sides have: the client "
         "accepts %s; this server's certificates can sign with %s",
         hs->peer_sent_sigalgs ? theirs : "none (no signature_algorithms)", ours);
}

int client_hello_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    uint16_t version;
    hasp_rd sid, suites, comp;
    /* A second ClientHello replaces what the first one offered. */
    hs->npeer_suites = hs->npeer_groups = hs->npeer_sigalgs = hs->nshares = 0;
    hs->peer_suites_total = 0;
    hs->peer_fallback_scsv = 0;
    hs->npeer_versions = 0;
    hs->peer_sent_groups = hs->peer_sent_sigalgs = hs->peer_sent_versions = 0;
    hs->peer_sent_key_share = hs->peer_sent_alpn = hs->peer_early = 0;
    c->alpn[0] =
        0; /* a renegotiation's ServerHello answers only its own ClientHello (RFC 7301 3.2) */
    GUARD(rd_u16(r, &version));
    GUARD(rd_copy(r, hs->client_random, 32));
    GUARD(rd_vec_bounded(r, 1, 0, 32, &sid));
    GUARD(rd_vec_bounded(r, 2, 2, 65534, &suites));
    ENSURE(suites.len % 2 == 0, HASP_ERR_DECODE);
    GUARD(rd_vec_bounded(r, 1, 1, 255, &comp));
    hs->client_version = version;
    DETAIL(c, "version=%s suites=%zu ", version_name(version), suites.len / 2);
    memcpy(hs->session_id, sid.p, sid.len);
    hs->session_id_len = sid.len;
    while (rd_left(&suites)) {
        uint16_t s;
        GUARD(rd_u16(&suites, &s));
        if (s == HASP_SCSV_RENEGOTIATION) {
            hs->peer_reneg = 1; /* RFC 5746 3.6 */
            hs->peer_scsv = 1;
        }
        if (s == HASP_SCSV_FALLBACK) hs->peer_fallback_scsv = 1;
        /* only what we could choose: a long list of unknown suites cannot crowd it out */
        if (hasp_suite_find(s) &&
            hs->npeer_suites < sizeof(hs->peer_suites) / sizeof(hs->peer_suites[0]))
            hs->peer_suites[hs->npeer_suites++] = s;
        hs->peer_suites_total++;
    }
    DETAIL(c, "extensions=");
    GUARD(ext_client_hello_read(c, r));
    /* RFC 8446 D.5: legacy_version 0x0300 or less is refused whatever
     * supported_versions says. */
    ENSURE_MSG(version > 0x0300, HASP_ERR_VERSION,
               "the client's legacy_version is %s (0x%04x); RFC 8446 D.5 and RFC 7568 refuse SSL "
               "3.0 and older",
               version_name(version), version);
    /* The version: supported_versions when present (RFC 8446 4.2.1), else legacy_version. */
    uint16_t chosen = 0;
    if (hs->peer_sent_versions) {
        for (size_t i = 0; i < hs->npeer_versions; i++) {
            uint16_t v = hs->peer_versions[i];
            if (v >= c->cfg->min_version && v <= hs_max_version(c) && v > chosen) chosen = v;
        }
        if (!chosen) {
            char theirs[200] = "";
            for (size_t i = 0; i < hs->npeer_versions; i++) {
                size_t k = strlen(theirs);
                if (k + 16 < sizeof(theirs))
                    snprintf(theirs + k, sizeof(theirs) - k, "%s%s", k ? ", " : "",
                             version_name(hs->peer_versions[i]));
            }
            FAIL(HASP_ERR_VERSION,
                 "no protocol version in common: the client offered %s; this server allows %s%s%s",
                 theirs[0] ? theirs : "none", version_name(c->cfg->min_version),
                 c->cfg->min_version == hs_max_version(c) ? "" : " to ",
                 c->cfg->min_version == hs_max_version(c) ? "" : version_name(hs_max_version(c)));
        }
    } else {
        /* RFC 5246 E.1: a higher (even unknown) version gets our highest. */
        ENSURE_MSG(version >= HASP_TLS1_2, HASP_ERR_VERSION,
                   "the client offers at most %s (0x%04x); hasp requires TLS 1.2 or newer",
                   version_name(version), version);
        ENSURE_MSG(c->cfg->min_version <= HASP_TLS1_2, HASP_ERR_VERSION,
                   "no protocol version in common: the client offered TLS 1.2 only (no "
                   "supported_versions); this server allows TLS 1.3 only");
        chosen = HASP_TLS1_2;
    }
    /* RFC 7507: a fallback retry while we could have done better. */
    ENSURE_MSG(!hs->peer_fallback_scsv || chosen >= hs_max_version(c),
               HASP_ERR_INAPPROPRIATE_FALLBACK,
               "the client signals a version fallback (TLS_FALLBACK_SCSV) to %s, but this server "
               "supports %s: a downgrade attack or a broken path",
               version_name(chosen), version_name(hs_max_version(c)));
    if (hs->hrr_done)
        ENSURE_MSG(chosen == HASP_TLS1_3, HASP_ERR_ILLEGAL_PARAM,
                   "the second ClientHello no longer offers TLS 1.3");
    if (chosen == HASP_TLS1_3) /* RFC 8446 4.1.2 */
        ENSURE_MSG(comp.len == 1 && comp.p[0] == 0, HASP_ERR_ILLEGAL_PARAM,
                   "a TLS 1.3 ClientHello must offer exactly the null compression method");
    else /* RFC 5246 7.4.1.2: the list must contain null; without it nothing can be negotiated. */
        ENSURE_MSG(memchr(comp.p, 0, comp.len) != NULL, HASP_ERR_ILLEGAL_PARAM,
                   "the client does not offer the null compression method, which TLS requires");
    if (c->hs->peer_sent_alpn && c->cfg->alpn_len && !c->alpn[0]) {
        char ours[300];
        hs_list_alpn(c->cfg->alpn, c->cfg->alpn_len, ours, sizeof(ours));
        FAIL(HASP_ERR_NO_APP_PROTO,
             "no application protocol in common: the client offered %s; this server allows %s",
             hs->peer_alpn_text, ours);
    }
    if (chosen == HASP_TLS1_3) {
        c->secure_reneg = 0;
        if (conn_verify_client(c) != HASP_VERIFY_CLIENT_NONE) hs->flags |= F_CLIENT_AUTH;
        GUARD(tls13_server_select(c));
        conn_event(c, HASP_EV_DECISION, 1, 0, "cipher suite", 0, c->suite->iana);
        return 0;
    }
    if (hs->reneg) {
        /* RFC 5746 3.7 */
        ENSURE_MSG(!hs->peer_scsv, HASP_ERR_HANDSHAKE,
                   "the client sent the renegotiation SCSV in a renegotiation (RFC 5746 3.7)");
        ENSURE_MSG(hs->peer_reneg_ext, HASP_ERR_HANDSHAKE,
                   "the client renegotiates without renegotiation_info (RFC 5746 3.7)");
    }
    c->version = HASP_TLS1_2;
    int resumed = hs->reneg ? 0 : try_resume12(c);
    GUARD(resumed);
    /* A ticket for a new session; on resumption only when the old one is half spent. */
    if (hs->peer_ticket_ext && c->cfg->tickets &&
        (!resumed || conn_now(c) - hs->resume->created > (int64_t)hs->resume->lifetime / 2))
        hs->flags |= F_TICKET;
    if (resumed) {
        GUARD(hs_transcript_start(c));
        c->etm = hs->peer_etm && c->suite->cbc;
        c->secure_reneg = hs->peer_reneg;
        conn_event(c, HASP_EV_DECISION, 1, 0, "cipher suite", 0, c->suite->iana);
        return 0;
    }
    GUARD(select_suite(c));
    GUARD(hs_transcript_start(c));
    /* A renegotiation may not give up the extended master secret the
     * connection has (RFC 7627 5.3's rule for resumption, applied to the
     * new handshake on the same connection). */
    ENSURE_MSG(!hs->reneg || !c->ems || hs->peer_ems, HASP_ERR_HANDSHAKE,
               "the client renegotiates without extended_master_secret, which this connection "
               "uses (RFC 7627)");
    c->ems = hs->peer_ems;
    c->etm = hs->peer_etm && c->suite->cbc;
    c->secure_reneg = hs->peer_reneg;
    if (hasp_suite_needs_ske(c->suite)) hs->flags |= F_PFS;
    if (conn_verify_client(c) != HASP_VERIFY_CLIENT_NONE) hs->flags |= F_CLIENT_AUTH;
    conn_event(c, HASP_EV_DECISION, 1, 0, "cipher suite", 0, c->suite->iana);
    return 0;
}

/* ---------------------------------------------------------------- ServerHello */

static int server_hello_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    hasp_wr *w = hs_msg_begin(c);
    /* A new session: an ID for the cache (and for tickets, RFC 5077 3.4), or
     * an empty one that says "not resumable". */
    int new_id = !c->resumed && (c->cfg->cache || c->cfg->sess_new || (hs->flags & F_TICKET));
    GUARD(conn_random_public(c, hs->server_random, 32, new_id ? hs->session_id : NULL, 32));
    if (!c->resumed) hs->session_id_len = new_id ? 32 : 0;
    if (hs_max_version(c) >= HASP_TLS1_3)
        memcpy(hs->server_random + 24, tls13_downgrade12, 8); /* RFC 8446 4.1.3 */
    GUARD(wr_u16(w, HASP_TLS1_2));
    GUARD(wr_bytes(w, hs->server_random, 32));
    GUARD(wr_vec(w, 1, hs->session_id, hs->session_id_len));
    GUARD(wr_u16(w, c->suite->id));
    GUARD(wr_u8(w, 0));
    DETAIL(c, "version=TLS1.2 suite=%s%s extensions=", c->suite->iana,
           c->resumed ? " resumed" : "");
    GUARD(ext_server_hello_write(c, w));
    GUARD(hs_msg_end(c, HS_SERVER_HELLO));
    return c->resumed ? derive_key_block(c) : 0;
}

int server_hello_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    uint16_t version, suite;
    uint8_t comp;
    hasp_rd sid;
    GUARD(rd_u16(r, &version));
    GUARD(rd_copy(r, hs->server_random, 32));
    GUARD(rd_vec_bounded(r, 1, 0, 32, &sid));
    GUARD(rd_u16(r, &suite));
    GUARD(rd_u8(r, &comp));
    if (hs_max_version(c) >= HASP_TLS1_3) {
        /* Does supported_versions select TLS 1.3? */
        hasp_rd exts = *r, list;
        int tls13 = 0;
        if (rd_left(&exts) && rd_vec(&exts, 2, &list) == 0) {
            while (rd_left(&list)) {
                uint16_t type;
                hasp_rd body;
                if (rd_u16(&list, &type) < 0 || rd_vec(&list, 2, &body) < 0) break;
                if (type == EXT_SUPPORTED_VERSIONS) tls13 = 1;
            }
        }
        if (tls13) {
            ENSURE_MSG(version == HASP_TLS1_2 && comp == 0, HASP_ERR_ILLEGAL_PARAM,
                       "the server's TLS 1.3 ServerHello has legacy_version 0x%04x and "
                       "compression %u",
                       version, comp);
            return tls13_server_hello_recv(c, r, suite, sid.p, sid.len);
        }
        ENSURE_MSG(!hs->hrr_done, HASP_ERR_ILLEGAL_PARAM,
                   "the server answered its own HelloRetryRequest with a TLS 1.2 ServerHello");
        /* RFC 8446 4.1.3: a TLS 1.2 answer to a client that offered TLS 1.3. */
        ENSURE_MSG(memcmp(hs->server_random + 24, tls13_downgrade12, 8) != 0,
                   HASP_ERR_ILLEGAL_PARAM,
                   "downgrade detected: the server supports TLS 1.3 but answered with TLS 1.2 "
                   "(its random carries the RFC 8446 downgrade sentinel)");
        ENSURE_MSG(c->cfg->min_version <= HASP_TLS1_2, HASP_ERR_VERSION,
                   "the server chose TLS 1.2; this client requires TLS 1.3");
        /* RFC 8446 D.3: early data already went out; TLS 1.2 cannot account for it */
        ENSURE_MSG(!hs->early_offered, HASP_ERR_VERSION,
                   "the server chose TLS 1.2 after this client sent TLS 1.3 early data");
    }
    DETAIL(c, "version=%s ", version_name(version));
    ENSURE_MSG(version == HASP_TLS1_2, HASP_ERR_VERSION,
               "the server chose %s (0x%04x); this client accepts TLS 1.2 only",
               version_name(version), version);
    const hasp_suite *s = hasp_suite_find(suite);
    int offered = 0;
    for (size_t i = 0; s && i < c->cfg->nsuites; i++)
        offered |= c->cfg->suites[i] == suite;
    ENSURE_MSG(offered && !hasp_suite_is_tls13(s), HASP_ERR_ILLEGAL_PARAM,
               "the server chose the cipher suite 0x%04x, which the client did not offer", suite);
    ENSURE_MSG(comp == 0, HASP_ERR_ILLEGAL_PARAM,
               "the server chose compression method %u; only null (0) was offered", comp);
    memcpy(hs->session_id, sid.p, sid.len);
    hs->session_id_len = sid.len;
    c->suite = s;
    c->version = HASP_TLS1_2;
    GUARD(hs_transcript_start(c));
    DETAIL(c, "suite=%s extensions=", s->iana);
    GUARD(ext_server_hello_read(c, r));
    ENSURE_MSG(!hs->reneg || hs->peer_reneg_ext, HASP_ERR_HANDSHAKE,
               "the server renegotiates without renegotiation_info (RFC 5746 3.5)");
    c->ems = hs->peer_ems;
    c->etm = hs->peer_etm && s->cbc;
    c->secure_reneg = hs->peer_reneg;
    const hasp_session *sess = hs->reneg ? NULL : c->session_in;
    if (sess && sess->version == HASP_TLS1_2 && sid.len && sid.len == hs->sent_session_id_len &&
        !memcmp(sid.p, hs->sent_session_id, sid.len)) {
        /* The server resumes. */
        ENSURE_MSG(suite == sess->suite, HASP_ERR_ILLEGAL_PARAM,
                   "the server resumed the session with a different cipher suite");
        ENSURE_MSG(sess->ems == c->ems, HASP_ERR_HANDSHAKE,
                   "the server resumed a session %s the extended master secret, but the session "
                   "was made %s it (RFC 7627 5.3)",
                   c->ems ? "with" : "without", sess->ems ? "with" : "without");
        memcpy(c->master, sess->secret, 48);
        c->resumed = 1;
        c->resumed_how = (sess->ticket_len && hs->ticket_ext_sent) ? "ticket" : "session-id";
        if (sess->peer_cert_len && (c->peer_cert = hasp_malloc(sess->peer_cert_len))) {
            memcpy(c->peer_cert, sess->peer_cert, sess->peer_cert_len);
            c->peer_cert_len = sess->peer_cert_len;
        }
        snprintf(c->verify_msg, sizeof(c->verify_msg),
                 "ok (resumed: verified in the original handshake)");
        hs->peer_cert_checked = 1;
        hs->table = tls12_resume;
        hs->step = 1;
        conn_event(c, HASP_EV_DECISION, 1, 0, "resumption", 0, c->resumed_how);
        return derive_key_block(c);
    }
    if (hasp_suite_needs_ske(s)) hs->flags |= F_PFS;
    conn_event(c, HASP_EV_DECISION, 1, 0, "cipher suite", 0, s->iana);
    return 0;
}

/* ---------------------------------------------------------------- Certificate */

static int write_chain(hasp_conn *c, const hasp_cred *cred)
{
    hasp_wr *w = hs_msg_begin(c);
    size_t m;
    GUARD(wr_vec_begin(w, 3, &m));
    for (size_t i = 0; cred && i < cred->n; i++)
        GUARD(wr_vec(w, 3, cred->chain[i], cred->chain_len[i]));
    GUARD(wr_vec_end(w, 3, m));
    DETAIL(c, "certificates=%zu", cred ? cred->n : 0);
    return hs_msg_end(c, HS_CERTIFICATE);
}

static int server_certificate_send(hasp_conn *c)
{
    return write_chain(c, c->hs->cred);
}

/* Parse and verify a peer's chain; sets hs->peer_key. */
static int read_chain(hasp_conn *c, hasp_rd *r, int *empty)
{
    hasp_rd list;
    GUARD(rd_vec(r, 3, &list));
    GUARD(rd_expect_empty(r));
    const uint8_t *certs[HASP_MAX_CHAIN + 6];
    size_t lens[HASP_MAX_CHAIN + 6];
    size_t n = 0;
    while (rd_left(&list)) {
        hasp_rd cert;
        GUARD(rd_vec_bounded(&list, 3, 1, (1u << 24) - 1, &cert));
        ENSURE_MSG(n < sizeof(certs) / sizeof(certs[0]) && n < c->cfg->max_chain_len,
                   HASP_ERR_LIMIT, "the %s sent more than %u certificates (the configured limit)",
                   hs_peer_name(c), c->cfg->max_chain_len);
        certs[n] = cert.p;
        lens[n] = cert.len;
        n++;
    }
    DETAIL(c, "certificates=%zu", n);
    *empty = n == 0;
    if (n == 0) return 0;
    return hs_verify_chain(c, certs, lens, n);
}

/* Verify the peer's chain (as the config says) and take its leaf key. */
int hs_verify_chain(hasp_conn *c, const uint8_t *const *certs, const size_t *lens, size_t n)
{
    struct hasp_hs *hs = c->hs;
    int server_cert = c->role == HASP_CLIENT;
    int verify = server_cert ? c->cfg->verify_cert : 1;
    if (verify) {
        hasp_x509_params p;
        memset(&p, 0, sizeof(p));
        p.time = c->cfg->verify_time;
        p.profile = c->cfg->verify_profile;
        p.max_depth = c->cfg->verify_depth;
        p.crls = c->cfg->crls;
        p.crl_check = c->cfg->crl_check;
        p.purpose = server_cert ? HASP_X509_PURPOSE_SERVER : HASP_X509_PURPOSE_CLIENT;
        p.key_usage = (server_cert && c->suite->kx == HASP_KX_RSA) ? HASP_KU_KEY_ENCIPHERMENT
                                                                   : HASP_KU_DIGITAL_SIGNATURE;
        if (server_cert && c->cfg->verify_name) {
            ENSURE_MSG(c->sni[0], HASP_ERR_USAGE,
                       "no server name to check the certificate against: set one with "
                       "hasp_conn_set_servername(), or disable the check explicitly with "
                       "hasp_config_insecure_noverifyname()");
            p.host = c->sni;
        }
        hasp_x509_result res;
        memset(&res, 0, sizeof(res));
        int rc = hasp_x509_verify(config_anchors(c->cfg), &p, certs, lens, n, &res);
        snprintf(c->verify_msg, sizeof(c->verify_msg), "%s",
                 rc == 0         ? "ok"
                 : res.reason[0] ? res.reason
                                 : hasp_err_default_msg(rc));
        if (conn_tracing(c)) {
            /* "<verdict> | path: CN=a [peer] <- CN=b [peer] <- CN=root [trust store]" */
            static const char *src[] = {"peer", "config", "trust store"};
            char detail[1536];
            size_t k = (size_t)snprintf(detail, sizeof(detail), "%s | path:", c->verify_msg);
            for (size_t i = 0; i < res.path_len && i < HASP_X509_PATH_MAX && k < sizeof(detail);
                 i++) {
                int si = res.path_source[i];
                k += (size_t)snprintf(detail + k, sizeof(detail) - k, "%s%s [%s]", i ? " <- " : " ",
                                      res.path[i], si >= 0 && si <= 2 ? src[si] : "?");
            }
            if (res.path_len == 0 && k < sizeof(detail))
                snprintf(detail + k, sizeof(detail) - k, " none built (%zu sent by the peer)", n);
            conn_event(c, HASP_EV_CERT_RESULT, server_cert, rc, rc == 0 ? "ok" : "failed", n,
                       detail);
        }
        if (rc < 0) FAIL(rc, "certificate verify failed: %s", c->verify_msg);
    } else {
        snprintf(c->verify_msg, sizeof(c->verify_msg), "skipped (verification disabled)");
    }
    hasp_free(c->peer_cert);
    c->peer_cert = hasp_malloc(lens[0]);
    ENSURE(c->peer_cert, HASP_ERR_NOMEM);
    memcpy(c->peer_cert, certs[0], lens[0]);
    c->peer_cert_len = lens[0];
    const uint8_t *spki;
    size_t spki_len;
    GUARD(hasp_x509_spki(certs[0], lens[0], &spki, &spki_len));
    hs->peer_key = hasp_pkey_from_spki(spki, spki_len);
    ENSURE_MSG(hs->peer_key, HASP_ERR_CERT_UNSUPPORTED,
               "the %s's certificate holds a public key hasp cannot use", hs_peer_name(c));
    hs->peer_key_type = hasp_pkey_type(hs->peer_key);
    hs->peer_cert_checked = 1;
    return 0;
}

static int server_certificate_recv(hasp_conn *c, hasp_rd *r)
{
    int empty;
    GUARD(read_chain(c, r, &empty));
    ENSURE_MSG(!empty, HASP_ERR_DECODE, "the server sent an empty Certificate message");
    int t = c->hs->peer_key_type;
    int ec = t == HASP_PKEY_EC_P256 || t == HASP_PKEY_EC_P384 || t == HASP_PKEY_EC_P521;
    int ok = c->suite->kx == HASP_KX_ECDHE_ECDSA ? ec
             : c->suite->kx == HASP_KX_RSA       ? t == HASP_PKEY_RSA
                                                 : t == HASP_PKEY_RSA || t == HASP_PKEY_RSA_PSS;
    ENSURE_MSG(ok, HASP_ERR_CERT_UNSUPPORTED,
               "the server's certificate key type does not fit the suite %s", c->suite->iana);
    return 0;
}

/* ---------------------------------------------------------------- ServerKeyExchange */

static int server_key_exchange_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    hasp_wr *w = hs_msg_begin(c);
    size_t params_start = w->len;
    uint8_t pub[1024];
    size_t pub_len;
    hs->kex = conn_kex_new(c, c->group);
    ENSURE_MSG(hs->kex, HASP_ERR_CRYPTO, "cannot make a key pair in group %s",
               hasp_group_name(c->group));
    GUARD(hasp_kex_public(hs->kex, pub, sizeof(pub), &pub_len));
    if (hasp_suite_is_ecdhe(c->suite)) {
        GUARD(wr_u8(w, 3)); /* named_curve */
        GUARD(wr_u16(w, c->group));
        GUARD(wr_vec(w, 1, pub, pub_len));
    } else {
        const uint8_t *p, *g;
        size_t p_len, g_len;
        GUARD(hasp_ffdhe_params(c->group, &p, &p_len, &g, &g_len));
        GUARD(wr_vec(w, 2, p, p_len));
        GUARD(wr_vec(w, 2, g, g_len));
        GUARD(wr_vec(w, 2, pub, pub_len));
    }
    size_t params_len = w->len - params_start;
    /* signed: client_random + server_random + params */
    hasp_wr tbs = hasp_wr_dyn();
    int rc = wr_bytes(&tbs, hs->client_random, 32);
    if (rc == 0) rc = wr_bytes(&tbs, hs->server_random, 32);
    if (rc == 0) rc = wr_bytes(&tbs, w->p + params_start, params_len);
    DETAIL(c, "group=%s ", hasp_group_name(c->group));
    if (rc == 0) rc = hs_write_signature(c, w, c->sigscheme, tbs.p, tbs.len);
    hasp_wr_free(&tbs);
    GUARD(rc);
    return hs_msg_end(c, HS_SERVER_KEY_EXCHANGE);
}

static int server_key_exchange_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    const uint8_t *params = r->p;
    hasp_rd pub;
    if (hasp_suite_is_ecdhe(c->suite)) {
        uint8_t curve_type;
        uint16_t group;
        GUARD(rd_u8(r, &curve_type));
        ENSURE_MSG(curve_type == 3, HASP_ERR_ILLEGAL_PARAM,
                   "the server's ECDHE parameters are not a named curve (curve_type %u)",
                   curve_type);
        GUARD(rd_u16(r, &group));
        GUARD(rd_vec_bounded(r, 1, 1, 255, &pub));
        hasp_kex_free(hs->kex);
        hs->kex = NULL;
        ENSURE_MSG(hs_offered_group(c, group) && !hasp_group_is_ffdhe(group),
                   HASP_ERR_ILLEGAL_PARAM,
                   "the server chose the group 0x%04x (%s), which the client did not offer", group,
                   hasp_group_name(group) ? hasp_group_name(group) : "unknown");
        c->group = group;
        hs->kex = conn_kex_new(c, group);
    } else {
        hasp_rd p, g;
        GUARD(rd_vec_bounded(r, 2, 1, 65535, &p));
        GUARD(rd_vec_bounded(r, 2, 1, 65535, &g));
        GUARD(rd_vec_bounded(r, 2, 1, 65535, &pub));
        /* Name the group when it is one of RFC 7919's. */
        c->group = 0;
        for (uint16_t grp = HASP_GROUP_FFDHE2048; grp <= HASP_GROUP_FFDHE3072; grp++) {
            const uint8_t *kp, *kg;
            size_t kp_len, kg_len;
            if (hasp_ffdhe_params(grp, &kp, &kp_len, &kg, &kg_len) == 0 && kp_len == p.len &&
                !memcmp(kp, p.p, p.len) && kg_len == g.len && !memcmp(kg, g.p, g.len))
                c->group = grp;
        }
        ENSURE_MSG(p.len * 8 >= 2048, HASP_ERR_INSUFFICIENT_SECURITY,
                   "the server's DH group has only %zu bits; hasp requires at least 2048",
                   p.len * 8);
        hasp_kex_free(hs->kex);
        hs->kex = hasp_kex_new_dh(p.p, p.len, g.p, g.len);
    }
    ENSURE_MSG(hs->kex, HASP_ERR_ILLEGAL_PARAM,
               "the server's key exchange parameters are unusable: %s", hasp_err_last()->msg);
    size_t params_len = (size_t)(r->p - params);
    const hasp_sigscheme *ss;
    hasp_rd sig;
    GUARD(hs_read_signature(c, r, HASP_TLS1_2, "its key exchange", &ss, &sig));
    uint16_t scheme = ss->id;
    c->sigscheme = scheme;
    hasp_wr tbs = hasp_wr_dyn();
    int rc = wr_bytes(&tbs, hs->client_random, 32);
    if (rc == 0) rc = wr_bytes(&tbs, hs->server_random, 32);
    if (rc == 0) rc = wr_bytes(&tbs, params, params_len);
    if (rc == 0) rc = hasp_verify_scheme(hs->peer_key, scheme, tbs.p, tbs.len, sig.p, sig.len);
    hasp_wr_free(&tbs);
    if (rc < 0)
        FAIL(HASP_ERR_DECRYPT,
             "the server's ServerKeyExchange signature (%s) does not verify with its certificate's "
             "key",
             ss->name);
    hs->ske_checked = 1;
    /* The shared secret now; this also validates the server's public value. */
    rc = hasp_kex_derive(hs->kex, pub.p, pub.len, hs->pms, sizeof(hs->pms), &hs->pms_len);
    if (rc < 0)
        FAIL(HASP_ERR_ILLEGAL_PARAM, "the server's key exchange public value is invalid: %s",
             hasp_err_last()->msg);
    DETAIL(c, "group=%s signature=%s", c->group ? hasp_group_name(c->group) : "custom-dh",
           ss->name);
    return 0;
}

/* ---------------------------------------------------------------- CertificateRequest */

static int certificate_request_send(hasp_conn *c)
{
    hasp_wr *w = hs_msg_begin(c);
    GUARD(wr_u8(w, 2));
    GUARD(wr_u8(w, 1));  /* rsa_sign */
    GUARD(wr_u8(w, 64)); /* ecdsa_sign */
    size_t m;
    GUARD(wr_vec_begin(w, 2, &m));
    for (size_t i = 0; i < c->cfg->nsigalgs; i++)
        GUARD(wr_u16(w, c->cfg->sigalgs[i]));
    GUARD(wr_vec_end(w, 2, m));
    /* certificate_authorities: the subjects of our trust anchors. */
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(hasp_x509_store_write_names(config_anchors(c->cfg), w));
    GUARD(wr_vec_end(w, 2, m));
    DETAIL(c, "types=rsa_sign,ecdsa_sign");
    return hs_msg_end(c, HS_CERTIFICATE_REQUEST);
}

static int certificate_request_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    hasp_rd types, cas;
    GUARD(rd_vec_bounded(r, 1, 1, 255, &types));
    GUARD(hs_read_sigalgs(r, hs->cr_sigalgs, 64, &hs->ncr_sigalgs));
    GUARD(rd_vec(r, 2, &cas));
    GUARD(rd_expect_empty(r));
    while (rd_left(&cas)) {
        hasp_rd dn;
        GUARD(rd_vec_bounded(&cas, 2, 1, 65535, &dn));
    }
    /* Our certificate, if we have one that fits. */
    for (size_t i = 0; i < c->cfg->ncreds && !hs->cred; i++) {
        const hasp_cred *cr = &c->cfg->creds[i];
        if (hs_pick_sigscheme(c, hs->cr_sigalgs, hs->ncr_sigalgs, cr->key, HASP_TLS1_2))
            hs->cred = cr;
    }
    DETAIL(c, "signature_schemes=%zu authorities=%s", hs->ncr_sigalgs,
           cas.p == NULL ? "none" : "listed");
    return 0;
}

/* ---------------------------------------------------------------- ServerHelloDone */

static int server_hello_done_send(hasp_conn *c)
{
    hs_msg_begin(c);
    return hs_msg_end(c, HS_SERVER_HELLO_DONE);
}

static int server_hello_done_recv(hasp_conn *c, hasp_rd *r)
{
    return rd_expect_empty(r);
}

/* ---------------------------------------------------------------- client Certificate */

static int client_certificate_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (!hs->cred) hs->flags |= F_NO_CLIENT_CERT;
    hs->client_cert_sent = hs->cred != NULL;
    return write_chain(c, hs->cred);
}

static int client_certificate_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    int empty;
    GUARD(read_chain(c, r, &empty));
    if (empty) {
        ENSURE_MSG(conn_verify_client(c) != HASP_VERIFY_CLIENT_REQUIRE, HASP_ERR_HANDSHAKE,
                   "the client sent no certificate, and this server requires one");
        hs->flags |= F_NO_CLIENT_CERT;
        hs->peer_cert_checked = 1; /* nothing to check: optional */
        snprintf(c->verify_msg, sizeof(c->verify_msg), "no client certificate");
    }
    return 0;
}

/* ---------------------------------------------------------------- ClientKeyExchange */

static int client_key_exchange_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    hasp_wr *w = hs_msg_begin(c);
    if (c->suite->kx == HASP_KX_RSA) {
        /* RFC 5246 7.4.7.1: client_version || 46 random bytes. */
        hs->pms[0] = (uint8_t)(hs->client_version >> 8);
        hs->pms[1] = (uint8_t)hs->client_version;
        GUARD(conn_random(c, hs->pms + 2, 46));
        hs->pms_len = 48;
        uint8_t ct[1024];
        size_t ct_len;
        GUARD(hasp_rsa_encrypt_pkcs1(hs->peer_key, hs->pms, 48, ct, sizeof(ct), &ct_len));
        GUARD(wr_vec(w, 2, ct, ct_len));
        DETAIL(c, "rsa-encrypted-premaster=%zu bytes", ct_len);
    } else {
        uint8_t pub[1024];
        size_t pub_len;
        GUARD(hasp_kex_public(hs->kex, pub, sizeof(pub), &pub_len));
        GUARD(wr_vec(w, hasp_suite_is_ecdhe(c->suite) ? 1 : 2, pub, pub_len));
        DETAIL(c, "public=%zu bytes", pub_len);
    }
    GUARD(hs_msg_end(c, HS_CLIENT_KEY_EXCHANGE));
    return derive_keys(c);
}

static int client_key_exchange_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    if (c->suite->kx == HASP_KX_RSA) {
        hasp_rd ct;
        GUARD(rd_vec_bounded(r, 2, 1, 65535, &ct));
        GUARD(rd_expect_empty(r));
        GUARD(hasp_rsa_decrypt_pms(hs->cred->key, ct.p, ct.len, hs->client_version, hs->pms));
        hs->pms_len = 48;
        DETAIL(c, "rsa-encrypted-premaster=%zu bytes", ct.len);
    } else {
        hasp_rd pub;
        if (hasp_suite_is_ecdhe(c->suite))
            GUARD(rd_vec_bounded(r, 1, 1, 255, &pub));
        else
            GUARD(rd_vec_bounded(r, 2, 1, 65535, &pub));
        GUARD(rd_expect_empty(r));
        int rc = hasp_kex_derive(hs->kex, pub.p, pub.len, hs->pms, sizeof(hs->pms), &hs->pms_len);
        if (rc < 0)
            FAIL(HASP_ERR_ILLEGAL_PARAM, "the client's key exchange public value is invalid: %s",
                 hasp_err_last()->msg);
        DETAIL(c, "public=%zu bytes", pub.len);
    }
    return derive_keys(c);
}

/* ---------------------------------------------------------------- CertificateVerify */

static int certificate_verify_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    uint16_t scheme =
        hs_pick_sigscheme(c, hs->cr_sigalgs, hs->ncr_sigalgs, hs->cred->key, HASP_TLS1_2);
    ENSURE(scheme, HASP_ERR_INTERNAL);
    hasp_wr *w = hs_msg_begin(c);
    GUARD(hs_write_signature(c, w, scheme, hs->transcript.p, hs->transcript.len));
    return hs_msg_end(c, HS_CERTIFICATE_VERIFY);
}

static int certificate_verify_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    const hasp_sigscheme *ss;
    hasp_rd sig;
    GUARD(hs_read_signature(c, r, HASP_TLS1_2, "CertificateVerify", &ss, &sig));
    /* The transcript up to, not including, this message. */
    size_t upto = hs->transcript.len - 4 - (sig.len + 4);
    int rc = hasp_verify_scheme(hs->peer_key, ss->id, hs->transcript.p, upto, sig.p, sig.len);
    if (rc < 0)
        FAIL(HASP_ERR_DECRYPT,
             "the client's CertificateVerify signature (%s) does not verify with its certificate",
             ss->name);
    c->hs->cv_checked = 1;
    DETAIL(c, "signature=%s", ss->name);
    return 0;
}

/* ---------------------------------------------------------------- ChangeCipherSpec */

void hs_install(hasp_rec_prot *dst, hasp_rec_prot *pending)
{
    hasp_rec_prot_clear(dst);
    *dst = *pending;
    memset(pending, 0, sizeof(*pending));
}

static int change_cipher_spec_send(hasp_conn *c)
{
    static const uint8_t one = 1;
    GUARD(conn_send_record(c, HASP_CT_CHANGE_CIPHER_SPEC, &one, 1));
    conn_event(c, HASP_EV_MSG_SENT, c->role == HASP_SERVER, HS_CCS, "ChangeCipherSpec", 1, "");
    ENSURE(c->pending_wr.kind != HASP_REC_NULL, HASP_ERR_INTERNAL);
    hs_install(&c->wr, &c->pending_wr);
    conn_event(c, HASP_EV_KEY_CHANGE, c->role == HASP_SERVER, 0, "write keys", 0, c->suite->iana);
    return 0;
}

int hs_ccs_recv(hasp_conn *c)
{
    ENSURE_MSG(c->pending_rd.kind != HASP_REC_NULL, HASP_ERR_UNEXPECTED,
               "the %s sent ChangeCipherSpec before any keys were agreed", hs_peer_name(c));
    hs_install(&c->rd, &c->pending_rd);
    conn_event(c, HASP_EV_KEY_CHANGE, c->role != HASP_SERVER, 0, "read keys", 0, c->suite->iana);
    return 0;
}

/* ---------------------------------------------------------------- Finished */

static int verify_data(hasp_conn *c, int from_client, const uint8_t *hash, uint8_t out[12])
{
    return prf_master(c, c->suite->prf_hash, from_client ? "client finished" : "server finished",
                      hash, hasp_hash_len(c->suite->prf_hash), NULL, 0, out, 12);
}

static int finished_send(hasp_conn *c)
{
    uint8_t hash[HASP_HASH_MAX], vd[12];
    GUARD(hs_transcript_hash(c, hash));
    int client = c->role == HASP_CLIENT;
    GUARD(verify_data(c, client, hash, vd));
    memcpy(client ? c->client_verify_data : c->server_verify_data, vd, 12);
    hasp_wr *w = hs_msg_begin(c);
    GUARD(wr_bytes(w, vd, 12));
    return hs_msg_end(c, HS_FINISHED);
}

static int finished_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    uint8_t vd[12];
    const uint8_t *got;
    GUARD(rd_bytes(r, 12, &got));
    GUARD(rd_expect_empty(r));
    int from_client = c->role == HASP_SERVER;
    GUARD(verify_data(c, from_client, hs->hash_before, vd));
    ENSURE_MSG(hasp_ct_memcmp(vd, got, 12) == 0, HASP_ERR_DECRYPT,
               "the %s's Finished does not match: the handshake was tampered with, or the two "
               "sides derived different keys",
               hs_peer_name(c));
    memcpy(from_client ? c->client_verify_data : c->server_verify_data, vd, 12);
    hs->finished_checked = 1;
    return 0;
}

/* ---------------------------------------------------------------- NewSessionTicket (RFC 5077 3.3)
 */

static hasp_session *current_session(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    hasp_session *s = session_new();
    if (!s) return NULL;
    s->version = c->version;
    s->suite = c->suite->id;
    s->ems = c->ems;
    s->created = hs->resume ? hs->resume->created : conn_now(c);
    s->lifetime = hs->resume ? hs->resume->lifetime : c->cfg->session_lifetime;
    memcpy(s->secret, c->master, 48);
    s->secret_len = 48;
    memcpy(s->id, hs->session_id, hs->session_id_len);
    s->id_len = hs->session_id_len;
    snprintf(s->sni, sizeof(s->sni), "%s", c->sni);
    snprintf(s->alpn, sizeof(s->alpn), "%s", c->alpn);
    if (session_set_peer_cert(s, c->peer_cert, c->peer_cert_len) < 0) {
        hasp_session_free(s);
        return NULL;
    }
    return s;
}

static int new_session_ticket_send(hasp_conn *c)
{
    hasp_session *s = current_session(c);
    ENSURE(s, HASP_ERR_NOMEM);
    s->id_len = 0;
    hasp_wr *w = hs_msg_begin(c);
    int rc = wr_u32(w, s->lifetime);
    size_t m = 0;
    if (rc == 0) rc = wr_vec_begin(w, 2, &m);
    if (rc == 0) rc = ticket_seal((ticket_keys *)&c->cfg->tkeys, s, conn_now(c), w);
    if (rc == 0) {
        conn_note_ticket(c, w->p + m + 2, w->len - m - 2);
        rc = wr_vec_end(w, 2, m);
    }
    hasp_session_free(s);
    GUARD(rc);
    DETAIL(c, "lifetime_hint=%us", (unsigned)c->cfg->session_lifetime);
    return hs_msg_end(c, HS_NEW_SESSION_TICKET);
}

static int new_session_ticket_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    uint32_t hint;
    hasp_rd t;
    GUARD(rd_u32(r, &hint));
    GUARD(rd_vec(r, 2, &t));
    GUARD(rd_expect_empty(r));
    hasp_free(hs->new_ticket);
    hs->new_ticket = NULL;
    hs->new_ticket_len = 0;
    if (t.len) {
        hs->new_ticket = hasp_malloc(t.len);
        ENSURE(hs->new_ticket, HASP_ERR_NOMEM);
        memcpy(hs->new_ticket, t.p, t.len);
        hs->new_ticket_len = t.len;
    }
    hs->new_ticket_lifetime = hint;
    DETAIL(c, "lifetime_hint=%us ticket=%zu bytes", (unsigned)hint, t.len);
    return 0;
}

int hs_complete(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (c->version == HASP_TLS1_3) return c->role == HASP_SERVER ? tls13_send_tickets(c) : 0;
    hasp_session *s = current_session(c);
    ENSURE(s, HASP_ERR_NOMEM);
    if (c->role == HASP_CLIENT) {
        if (hs->new_ticket_len) {
            GUARD(session_set_ticket(s, hs->new_ticket, hs->new_ticket_len));
            s->created = conn_now(c);
            if (hs->new_ticket_lifetime) s->lifetime = hs->new_ticket_lifetime;
        } else if (hs->resume && hs->resume->ticket_len) {
            GUARD(session_set_ticket(s, hs->resume->ticket, hs->resume->ticket_len));
        } else if (c->resumed && c->session_in && c->session_in->ticket_len &&
                   !hs->new_ticket_len) {
            GUARD(session_set_ticket(s, c->session_in->ticket, c->session_in->ticket_len));
        }
        if (c->resumed && c->session_in) {
            s->created = c->session_in->created;
            s->lifetime = c->session_in->lifetime;
        }
    } else if (!c->resumed && s->id_len) {
        GUARD(session_cache_put(c->cfg->cache, s));
        if (c->cfg->sess_new) {
            hasp_wr w = hasp_wr_dyn();
            if (session_encode(s, &w) == 0)
                c->cfg->sess_new(c->cfg->sess_arg, s->id, s->id_len, w.p, w.len);
            hasp_wr_free_secret(&w);
        }
    }
    hasp_session_free(c->session_out);
    c->session_out = s;
    return 0;
}

/* ---------------------------------------------------------------- the walker */

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
        const hs_step *st = &hs->table[hs->step];
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
    hs->table = tls12_full;
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
    return c->hs->table[c->hs->step].name;
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
        return 64; /* verify_data: 12 bytes, or one hash in TLS 1.3 */
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
    const hs_step *st = &hs->table[hs->step];
    while (st->optional && st->sender != hs_me(c) && st->type != HS_CCS) {
        advance(c);
        st = &hs->table[hs->step];
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
        const hs_step *st = &hs->table[hs->step];
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
            st = &hs->table[hs->step];
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
