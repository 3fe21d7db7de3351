/* The TLS 1.3 handshake's messages (RFC 8446): the server's selection
 * (suite, credential, group, PSK), ServerHello and HelloRetryRequest,
 * EncryptedExtensions, EndOfEarlyData, CertificateRequest, Certificate,
 * CertificateVerify and Finished. The ClientHello is shared with TLS 1.2
 * (hello.c); once a ServerHello picks TLS 1.3, both sides walk the
 * tls13_full table (machine.c). The key schedule is in tls13_keys.c, PSK
 * and 0-RTT in tls13_psk.c, what follows the handshake in tls13_post.c. */
#include "../alloc.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../x509/x509.h"
#include "hs.h"
#include "tls13.h"

/* RFC 8446 4.1.3: SHA-256("HelloRetryRequest") */
const uint8_t tls13_hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
/* RFC 8446 4.1.3: "DOWNGRD" 01, the last 8 bytes of a TLS 1.2 ServerHello.random. */
const uint8_t tls13_downgrade12[8] = {0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01};

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
            ENSURE_MSG(hs->psk_selected < hs->psk_identity_count && b.len == tls13_hash_len(c),
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
    int psk = tls13_server_pick_psk(c);
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
        hs->shape = HS_SHAPE_TLS13_FULL;
        hs->step = 0;
        conn_event(c, HASP_EV_DECISION, 1, 0, "version", 0, "TLSv1.3");
        return tls13_server_early_decide(c);
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
        hs->shape = HS_SHAPE_TLS13_FULL;
        hs->step = 0;
        conn_event(c, HASP_EV_DECISION, 1, 0, "version", 0, "TLSv1.3");
        return tls13_server_early_decide(c);
    }
    for (size_t i = 0; i < c->cfg->ngroups; i++)
        if (hs_peer_has_group(hs, c->cfg->groups[i])) {
            hs->hrr_group = c->cfg->groups[i];
            hs->shape = HS_SHAPE_TLS13_HRR;
            hs->step = 0;
            conn_event(c, HASP_EV_DECISION, 1, 0, "HelloRetryRequest", 0,
                       hasp_group_name(hs->hrr_group));
            if (hs->peer_early)
                tls13_server_early_reject(c, "a HelloRetryRequest was needed (RFC 8446 4.2.10)");
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

int tls13_hrr_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    GUARD(tls13_transcript_hrr_rewrite(c, 0));
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
    return tls13_compat_ccs(c);
}

int tls13_server_hello_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    uint8_t shared[HASP_KEX_MAX_SECRET] = {0}, pub[HASP_KEX_MAX_PUB];
    size_t shared_len = tls13_hash_len(c),
           pub_len = 0; /* psk_ke: Hash.length zeros (RFC 8446 7.1) */
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
    GUARD(tls13_compat_ccs(c));
    rc = tls13_derive_handshake_secrets(c, shared, shared_len);
    hasp_wipe(shared, sizeof(shared));
    GUARD(rc);
    hs->shape = HS_SHAPE_TLS13_FULL;
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
        GUARD(tls13_transcript_hrr_rewrite(c, hs->cur_len));
        if (hs->early_writable) {
            /* the second ClientHello goes in the clear, without early data */
            hasp_rec_prot_clear(&c->wr);
            GUARD(tls13_client_early_rejected(c, "the server sent a HelloRetryRequest"));
        }
        hasp_kex_free(hs->share_kex);
        hs->share_kex = NULL;
        hasp_kex_free(hs->share_kex2);
        hs->share_kex2 = NULL;
        hs->shape = HS_SHAPE_TLS13_HRR;
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
    size_t shared_len = tls13_hash_len(c); /* psk_ke: Hash.length zeros (RFC 8446 7.1) */
    int rc = 0;
    if (!hs->psk_ke)
        rc = hasp_kex_derive_padded(hs->share_kex, key_pub.p, key_pub.len, shared, sizeof(shared),
                                    &shared_len);
    if (rc < 0)
        FAIL(HASP_ERR_ILLEGAL_PARAM, "the server's %s key share is invalid: %s",
             hasp_group_name(key_group), hasp_err_last()->msg);
    GUARD(tls13_compat_ccs(c));
    rc = tls13_derive_handshake_secrets(c, shared, shared_len);
    hasp_wipe(shared, sizeof(shared));
    GUARD(rc);
    hs->shape = HS_SHAPE_TLS13_FULL;
    hs->step = 1;
    conn_event(c, HASP_EV_DECISION, 1, 0, "version", 0, "TLSv1.3");
    return 0;
}

/* ---------------------------------------------------------------- EncryptedExtensions */

int tls13_encrypted_extensions_send(hasp_conn *c)
{
    hasp_wr *w = hs_msg_begin(c);
    DETAIL(c, "extensions=");
    GUARD(ext_encrypted_extensions_write(c, w));
    return hs_msg_end(c, HS_ENCRYPTED_EXTENSIONS);
}

int tls13_encrypted_extensions_recv(hasp_conn *c, hasp_rd *r)
{
    DETAIL(c, "extensions=");
    GUARD(ext_encrypted_extensions_read(c, r));
    struct hasp_hs *hs = c->hs;
    if (hs->early_writable && !(hs->flags & F_EARLY)) {
        /* declined: the rest of the flight goes under the handshake key */
        GUARD(tls13_install_secret(c, hs->c_hs, 1, "handshake"));
        GUARD(tls13_client_early_rejected(c, "the server declined it (no early_data in its "
                                             "EncryptedExtensions)"));
    }
    return 0;
}

/* ---------------------------------------------------------------- EndOfEarlyData (4.5) */

int tls13_end_of_early_data_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    hs_msg_begin(c);
    GUARD(hs_msg_end(c, HS_END_OF_EARLY_DATA)); /* under the early key */
    hs->early_writable = 0;
    DETAIL(c, "after %u bytes of early data", c->early_sent);
    return tls13_install_secret(c, hs->c_hs, 1, "handshake");
}

int tls13_end_of_early_data_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    GUARD(rd_expect_empty(r));
    ENSURE_MSG(hs->rx_encrypted && hs->early_reading, HASP_ERR_UNEXPECTED,
               "EndOfEarlyData outside early data");
    hs->early_reading = 0;
    DETAIL(c, "after %zu bytes of early data", hs->early_received);
    return tls13_install_secret(c, hs->c_hs, 0, "handshake");
}

/* ---------------------------------------------------------------- CertificateRequest */

int tls13_certificate_request_send(hasp_conn *c)
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

int tls13_certificate_request_recv(hasp_conn *c, hasp_rd *r)
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

int tls13_certificate_send(hasp_conn *c)
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

int tls13_certificate_recv(hasp_conn *c, hasp_rd *r)
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
    memcpy(out + 64 + sizeof(sctx), th, tls13_hash_len(c));
    *len = 64 + sizeof(sctx) + tls13_hash_len(c);
    return 0;
}

int tls13_certificate_verify_send(hasp_conn *c)
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

int tls13_certificate_verify_recv(hasp_conn *c, hasp_rd *r)
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
    GUARD(hasp_hkdf_expand_label(c->suite->prf_hash, base, tls13_hash_len(c), "finished", NULL, 0,
                                 key, tls13_hash_len(c)));
    int rc = hasp_hmac(c->suite->prf_hash, key, tls13_hash_len(c), th, tls13_hash_len(c), out);
    hasp_wipe(key, sizeof(key));
    return rc;
}

int tls13_finished_send(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    int server = c->role == HASP_SERVER;
    uint8_t th[HASP_HASH_MAX], vd[HASP_HASH_MAX];
    GUARD(hs_transcript_hash(c, th));
    GUARD(finished_mac(c, server ? hs->s_hs : hs->c_hs, th, vd));
    hasp_wr *w = hs_msg_begin(c);
    GUARD(wr_bytes(w, vd, tls13_hash_len(c)));
    GUARD(hs_msg_end(c, HS_FINISHED));
    if (server) {
        uint8_t s_ap[HASP_HASH_MAX];
        GUARD(tls13_derive_app_secrets(c, s_ap));
        GUARD(tls13_install_secret(c, s_ap, 1, "application"));
        hasp_wipe(s_ap, sizeof(s_ap));
    } else {
        GUARD(tls13_install_secret(c, hs->c_ap, 1, "application"));
        GUARD(tls13_derive_resumption_master(c));
    }
    return 0;
}

int tls13_finished_recv(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    int from_server = c->role == HASP_CLIENT;
    uint8_t vd[HASP_HASH_MAX];
    const uint8_t *got;
    GUARD(rd_bytes(r, tls13_hash_len(c), &got));
    GUARD(rd_expect_empty(r));
    GUARD(finished_mac(c, from_server ? hs->s_hs : hs->c_hs, hs->hash_before, vd));
    ENSURE_MSG(hasp_ct_memcmp(vd, got, tls13_hash_len(c)) == 0, HASP_ERR_DECRYPT,
               "the %s's Finished does not match: the handshake was tampered with, or the two "
               "sides derived different keys",
               hs_peer_name(c));
    hs->finished_checked = 1;
    if (from_server) {
        uint8_t s_ap[HASP_HASH_MAX];
        GUARD(tls13_derive_app_secrets(c, s_ap));
        GUARD(tls13_install_secret(c, s_ap, 0, "application"));
        hasp_wipe(s_ap, sizeof(s_ap));
        /* RFC 8446 D.4: the client's compatibility CCS precedes its second flight. */
        GUARD(tls13_compat_ccs(c));
    } else {
        GUARD(tls13_install_secret(c, hs->c_ap, 0, "application"));
        GUARD(tls13_derive_resumption_master(c));
    }
    return 0;
}
