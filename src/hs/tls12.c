/* What only TLS 1.2 has (RFC 5246): the handlers of its two tables (the
 * full and the abbreviated handshake, in machine.c), the key exchange messages (ServerKeyExchange,
 * ClientKeyExchange), its Certificate, CertificateRequest and
 * CertificateVerify, ChangeCipherSpec, the PRF master secret, key block and
 * Finished, session-ID resumption and RFC 5077 tickets. The walker is in
 * machine.c, the hellos in hello.c. */

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
    return hs_derive_key_block(c);
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
int hs_derive_key_block(hasp_conn *c)
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
        rc = hasp_rec_prot_aead12(&c->hs->pending_wr, s->aead, wkey, wiv, iv, 1);
        if (rc == 0) rc = hasp_rec_prot_aead12(&c->hs->pending_rd, s->aead, rkey, riv, iv, 0);
    } else {
        rc = hasp_rec_prot_cbc(&c->hs->pending_wr, s->cbc, wkey, s->mac_hash, wmac, mac, c->etm, 1);
        if (rc == 0)
            rc = hasp_rec_prot_cbc(&c->hs->pending_rd, s->cbc, rkey, s->mac_hash, rmac, mac, c->etm,
                                   0);
    }
    hasp_wipe(kb, sizeof(kb));
    return rc;
}

/* RFC 5246 7.4.1.2 / RFC 5077 3.1: resume when the client's session ID or
 * ticket names a session this server can still use. */
int hs_try_resume12(hasp_conn *c)
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
    if (ok && enabled && !offered && !strcmp(how, "session-id")) {
        /* RFC 5246 7.4.1.2: a ClientHello resuming a session "MUST include
         * at least the cipher_suite from that session". */
        const char *name = suite->iana;
        hasp_session_free(s);
        FAIL(HASP_ERR_ILLEGAL_PARAM,
             "the client asks to resume a session without offering its cipher suite %s (RFC "
             "5246 7.4.1.2)",
             name);
    }
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
    conn_set_verify_msg(c, "resumed (%s)",
                        s->peer_cert_len ? "peer verified in the original handshake"
                                         : "no peer certificate");
    hs->peer_cert_checked = 1;
    hs->shape = HS_SHAPE_TLS12_RESUME;
    hs->step = 0;
    conn_event(c, HASP_EV_DECISION, 1, 0, "resumption", 0, how);
    return 1;
}

int tls12_server_certificate_send(hasp_conn *c)
{
    return hs_write_chain(c, c->hs->cred);
}

int tls12_server_certificate_recv(hasp_conn *c, hasp_rd *r)
{
    int empty;
    GUARD(hs_read_chain(c, r, &empty));
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

int tls12_server_key_exchange_send(hasp_conn *c)
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

int tls12_server_key_exchange_recv(hasp_conn *c, hasp_rd *r)
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
        ENSURE_MSG(!hasp_group_is_hybrid(group), HASP_ERR_ILLEGAL_PARAM,
                   "the server chose %s for TLS 1.2 ECDHE; the hybrid groups are TLS 1.3 only",
                   hasp_group_name(group));
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

int tls12_certificate_request_send(hasp_conn *c)
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

int tls12_certificate_request_recv(hasp_conn *c, hasp_rd *r)
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

int tls12_server_hello_done_send(hasp_conn *c)
{
    hs_msg_begin(c);
    return hs_msg_end(c, HS_SERVER_HELLO_DONE);
}

int tls12_server_hello_done_recv(hasp_conn *c, hasp_rd *r)
{
    return rd_expect_empty(r);
}

int tls12_client_certificate_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    if (!hs->cred) hs->flags |= F_NO_CLIENT_CERT;
    hs->client_cert_sent = hs->cred != NULL;
    return hs_write_chain(c, hs->cred);
}

int tls12_client_certificate_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    int empty;
    GUARD(hs_read_chain(c, r, &empty));
    if (empty) {
        ENSURE_MSG(conn_verify_client(c) != HASP_VERIFY_CLIENT_REQUIRE, HASP_ERR_HANDSHAKE,
                   "the client sent no certificate, and this server requires one");
        hs->flags |= F_NO_CLIENT_CERT;
        hs->peer_cert_checked = 1; /* nothing to check: optional */
        conn_set_verify_msg(c, "no client certificate");
    }
    return 0;
}

int tls12_client_key_exchange_send(hasp_conn *c)
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

int tls12_client_key_exchange_recv(hasp_conn *c, hasp_rd *r)
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

int tls12_certificate_verify_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    uint16_t scheme =
        hs_pick_sigscheme(c, hs->cr_sigalgs, hs->ncr_sigalgs, hs->cred->key, HASP_TLS1_2);
    ENSURE(scheme, HASP_ERR_INTERNAL);
    hasp_wr *w = hs_msg_begin(c);
    GUARD(hs_write_signature(c, w, scheme, hs->transcript.p, hs->transcript.len));
    return hs_msg_end(c, HS_CERTIFICATE_VERIFY);
}

int tls12_certificate_verify_recv(hasp_conn *c, hasp_rd *r)
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

int tls12_change_cipher_spec_send(hasp_conn *c)
{
    static const uint8_t one = 1;
    GUARD(conn_send_record(c, HASP_CT_CHANGE_CIPHER_SPEC, &one, 1));
    conn_event(c, HASP_EV_MSG_SENT, c->role == HASP_SERVER, HS_CCS, "ChangeCipherSpec", 1, "");
    ENSURE(c->hs->pending_wr.kind != HASP_REC_NULL, HASP_ERR_INTERNAL);
    hs_install(&c->wr, &c->hs->pending_wr);
    conn_event(c, HASP_EV_KEY_CHANGE, c->role == HASP_SERVER, 0, "write keys", 0, c->suite->iana);
    return 0;
}

int hs_verify_data(hasp_conn *c, int from_client, const uint8_t *hash, uint8_t out[12])
{
    return prf_master(c, c->suite->prf_hash, from_client ? "client finished" : "server finished",
                      hash, hasp_hash_len(c->suite->prf_hash), NULL, 0, out, 12);
}

int tls12_finished_send(hasp_conn *c)
{
    uint8_t hash[HASP_HASH_MAX], vd[12];
    GUARD(hs_transcript_hash(c, hash));
    int client = c->role == HASP_CLIENT;
    GUARD(hs_verify_data(c, client, hash, vd));
    memcpy(client ? c->client_verify_data : c->server_verify_data, vd, 12);
    hasp_wr *w = hs_msg_begin(c);
    GUARD(wr_bytes(w, vd, 12));
    return hs_msg_end(c, HS_FINISHED);
}

int tls12_finished_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    uint8_t vd[12];
    const uint8_t *got;
    GUARD(rd_bytes(r, 12, &got));
    GUARD(rd_expect_empty(r));
    int from_client = c->role == HASP_SERVER;
    GUARD(hs_verify_data(c, from_client, hs->hash_before, vd));
    ENSURE_MSG(hasp_ct_memcmp(vd, got, 12) == 0, HASP_ERR_DECRYPT,
               "the %s's Finished does not match: the handshake was tampered with, or the two "
               "sides derived different keys",
               hs_peer_name(c));
    memcpy(from_client ? c->client_verify_data : c->server_verify_data, vd, 12);
    hs->finished_checked = 1;
    return 0;
}

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
    session_set_names(s, c->sni, c->alpn);
    if (session_set_peer_cert(s, c->peer_cert, c->peer_cert_len) < 0) {
        hasp_session_free(s);
        return NULL;
    }
    return s;
}

int tls12_new_session_ticket_send(hasp_conn *c)
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

int tls12_new_session_ticket_recv(hasp_conn *c, hasp_rd *r)
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

int tls12_complete(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
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
