/* The handshake's lowest layer, shared by every message of both versions:
 * names (of messages, versions, the peer), message framing (hs_msg_begin /
 * hs_msg_end, which add the message to the transcript and send it), the
 * transcript and its hash, key installation, and what this side and the
 * peer offered (version, groups, signature schemes). It calls nothing else
 * in src/hs/ but the suite table. */

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hs.h"

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

const char *hs_version_name(uint16_t v)
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

void hs_install(hasp_rec_prot *dst, hasp_rec_prot *pending)
{
    hasp_rec_prot_clear(dst);
    *dst = *pending;
    memset(pending, 0, sizeof(*pending));
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
