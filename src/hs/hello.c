/* ClientHello and ServerHello for both versions: what the client offers,
 * how the server picks the version, suite, group and credentials, and how
 * the client checks the answer. Version-specific parts are called in
 * tls12.c (session-ID and ticket resumption, the key block) and tls13.c
 * (key shares, PSK, HelloRetryRequest). */

#include "../alloc.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../x509/x509.h"
#include "hs.h"

int hs_client_hello_send(hasp_conn *c)
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
    const hasp_kex *shares[2] = {hs->share_kex, hs->share_kex2};
    for (int i = 0; i < 2 && shares[i]; i++) {
        uint16_t g = hasp_kex_group(shares[i]);
        size_t n = hasp_group_share_len(g, 0);
        DETAIL(c, "%s%s", i ? "," : " key_shares=", hasp_group_name(g));
        if (n) DETAIL(c, "(%zu)", n);
    }
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

static uint16_t pick_group(hasp_conn *c, const hasp_suite *s)
{
    struct hasp_hs *hs = c->hs;
    if (hasp_suite_is_ecdhe(s)) {
        for (size_t i = 0; i < c->cfg->ngroups; i++) {
            uint16_t g = c->cfg->groups[i];
            /* the hybrids are TLS 1.3 only (draft-ietf-tls-ecdhe-mlkem 1) */
            if (hasp_group_is_ffdhe(g) || hasp_group_is_hybrid(g)) continue;
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

static int select_suite(hasp_conn *c)
{
    struct hasp_hs *hs = c->hs;
    int shared_suite = 0, no_sigalgs = 0;
    for (size_t i = 0; i < c->cfg->nsuites; i++) {
        const hasp_suite *s = hasp_suite_find(c->cfg->suites[i]);
        if (!s || hasp_suite_is_tls13(s)) continue;
        int offered = 0;
        for (size_t j = 0; j < hs->npeer_suites && !offered; j++)
            offered = hs->peer_suites[j] == s->id;
        if (!offered) continue;
        shared_suite = 1;
        uint16_t group = 0, scheme = 0;
        const hasp_cred *cred;
        if (hasp_suite_needs_ske(s)) {
            group = pick_group(c, s);
            if (!group) continue;
            if (!hs->peer_sent_sigalgs) {
                no_sigalgs = 1;
                continue; /* the SHA-1 default of RFC 5246 7.4.1.4.1 is refused (RFC 9155) */
            }
            cred = hs_pick_cred(c, s, &scheme);
        } else {
            cred = hs_pick_cred(c, s, NULL);
        }
        if (!cred) continue;
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
    /* RFC 7919 4: FFDHE groups offered, none of the client's groups
     * acceptable, nothing else negotiable: insufficient_security. */
    int ffdhe_offered = hs->peer_sent_groups && hs->peer_ffdhe_offered, ffdhe_ok = 0;
    for (size_t i = 0; i < c->cfg->ngroups; i++)
        ffdhe_ok |= hs_peer_has_group(hs, c->cfg->groups[i]); /* any group in common */
    if (ffdhe_offered && !ffdhe_ok) {
        char theirs[300], ours[300];
        hs_list_groups(hs->peer_groups_offered, hs->npeer_groups_offered, theirs, sizeof(theirs));
        hs_list_groups(c->cfg->groups, c->cfg->ngroups, ours, sizeof(ours));
        FAIL(HASP_ERR_INSUFFICIENT_SECURITY,
             "none of the client's FFDHE groups is acceptable and no other suite can be used "
             "(RFC 7919 4): the client offered %s; this server allows %s",
             theirs, ours);
    }
    if (no_sigalgs)
        FAIL(HASP_ERR_HANDSHAKE,
             "the client sent no signature_algorithms, which every shared suite needs: the SHA-1 "
             "default it implies is refused (RFC 9155 2)");
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

int hs_client_hello_recv(hasp_conn *c, hasp_rd *r)
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
    hs->tls12_ext_err = 0;
    c->alpn[0] =
        0; /* a renegotiation's ServerHello answers only its own ClientHello (RFC 7301 3.2) */
    GUARD(rd_u16(r, &version));
    GUARD(rd_copy(r, hs->client_random, 32));
    GUARD(rd_vec_bounded(r, 1, 0, 32, &sid));
    GUARD(rd_vec_bounded(r, 2, 2, 65534, &suites));
    ENSURE(suites.len % 2 == 0, HASP_ERR_DECODE);
    GUARD(rd_vec_bounded(r, 1, 1, 255, &comp));
    hs->client_version = version;
    DETAIL(c, "version=%s suites=%zu ", hs_version_name(version), suites.len / 2);
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
    for (size_t i = 0; i < hs->nshares; i++)
        DETAIL(c, "%s%s(%zu)", i ? "," : " key_shares=", hasp_group_name(hs->share_group[i]),
               hs->share_len[i]);
    /* RFC 8446 D.5: legacy_version 0x0300 or less is refused whatever
     * supported_versions says. */
    ENSURE_MSG(version > 0x0300, HASP_ERR_VERSION,
               "the client's legacy_version is %s (0x%04x); RFC 8446 D.5 and RFC 7568 refuse SSL "
               "3.0 and older",
               hs_version_name(version), version);
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
                             hs_version_name(hs->peer_versions[i]));
            }
            FAIL(HASP_ERR_VERSION,
                 "no protocol version in common: the client offered %s; this server allows %s%s%s",
                 theirs[0] ? theirs : "none", hs_version_name(c->cfg->min_version),
                 c->cfg->min_version == hs_max_version(c) ? "" : " to ",
                 c->cfg->min_version == hs_max_version(c) ? ""
                                                          : hs_version_name(hs_max_version(c)));
        }
    } else {
        /* RFC 5246 E.1: a higher (even unknown) version gets our highest. */
        ENSURE_MSG(version >= HASP_TLS1_2, HASP_ERR_VERSION,
                   "the client offers at most %s (0x%04x); hasp requires TLS 1.2 or newer",
                   hs_version_name(version), version);
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
               hs_version_name(chosen), hs_version_name(hs_max_version(c)));
    if (hs->hrr_done)
        ENSURE_MSG(chosen == HASP_TLS1_3, HASP_ERR_ILLEGAL_PARAM,
                   "the second ClientHello no longer offers TLS 1.3");
    if (chosen != HASP_TLS1_3 && hs->tls12_ext_err)
        return hasp_err_set(hs->tls12_ext_err, __FILE__, __LINE__, "%s", hs->tls12_ext_msg);
    if (chosen == HASP_TLS1_3) /* RFC 8446 4.1.2 */
        ENSURE_MSG(comp.len == 1 && comp.p[0] == 0, HASP_ERR_ILLEGAL_PARAM,
                   "a TLS 1.3 ClientHello must offer exactly the null compression method");
    else /* RFC 5246 7.4.1.2: the list must contain null; without it nothing can be negotiated. */
        ENSURE_MSG(memchr(comp.p, 0, comp.len) != NULL, HASP_ERR_ILLEGAL_PARAM,
                   "the client does not offer the null compression method, which TLS requires");
    if (c->hs->peer_sent_alpn && c->cfg->alpn_len && !c->alpn[0]) {
        /* alpn_ch_read chose (RFC 7301 3.2) and kept the client's list in words */
        char ours[300];
        hs_list_alpn(c->cfg->alpn, c->cfg->alpn_len, ours, sizeof(ours));
        FAIL(HASP_ERR_NO_APP_PROTO,
             "no application protocol in common: the client offered %s; this server allows %s",
             hs->peer_alpn_words, ours);
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
    int resumed = hs->reneg ? 0 : hs_try_resume12(c);
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

int hs_server_hello_send(hasp_conn *c)
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
    return c->resumed ? hs_derive_key_block(c) : 0;
}

int hs_server_hello_recv(hasp_conn *c, hasp_rd *r)
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
    DETAIL(c, "version=%s ", hs_version_name(version));
    ENSURE_MSG(version == HASP_TLS1_2, HASP_ERR_VERSION,
               "the server chose %s (0x%04x); this client accepts TLS 1.2 only",
               hs_version_name(version), version);
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
        conn_set_verify_msg(c, "ok (resumed: verified in the original handshake)");
        hs->peer_cert_checked = 1;
        hs->shape = HS_SHAPE_TLS12_RESUME;
        hs->step = 1;
        conn_event(c, HASP_EV_DECISION, 1, 0, "resumption", 0, c->resumed_how);
        return hs_derive_key_block(c);
    }
    if (hasp_suite_needs_ske(s)) hs->flags |= F_PFS;
    conn_event(c, HASP_EV_DECISION, 1, 0, "cipher suite", 0, s->iana);
    return 0;
}
