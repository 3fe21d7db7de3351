/* Authentication, shared by both versions: signature schemes (picking one,
 * reading and writing a DigitallySigned), picking our certificate, and
 * reading, writing and verifying certificate chains through x509/. */

#include "../alloc.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../x509/x509.h"
#include "hs.h"

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

/* The credential for a suite: a key of the right type, preferring one whose
 * certificate names the requested server name. */
/* The certificate for suite s: one whose key fits the key exchange and, when
 * the suite signs (scheme != NULL), can sign with a scheme the client
 * offered (so a server with an RSA and an RSA-PSS certificate serves a
 * client that accepts only rsa_pss_pss_*). Among those, the one for the
 * client's server name, else the first. */
const hasp_cred *hs_pick_cred(hasp_conn *c, const hasp_suite *s, uint16_t *scheme)
{
    const hasp_cred *first = NULL;
    uint16_t first_scheme = 0;
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
        uint16_t sc = 0;
        if (scheme) {
            sc = hs_pick_sigscheme(c, c->hs->peer_sigalgs, c->hs->npeer_sigalgs, cr->key,
                                   HASP_TLS1_2);
            if (!sc) continue;
        }
        /* The name decides only between several certificates (each parsed
         * once, when the configuration loaded it). */
        if (c->sni[0] && c->cfg->ncreds > 1 &&
            hasp_x509_cert_matches_host(&cr->leaf, c->sni, 0) == 1) {
            if (scheme) *scheme = sc;
            return cr;
        }
        if (!first) {
            first = cr;
            first_scheme = sc;
        }
    }
    if (scheme) *scheme = first_scheme;
    return first;
}

int hs_write_chain(hasp_conn *c, const hasp_cred *cred)
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

/* Parse and verify a peer's chain; sets hs->peer_key. */
int hs_read_chain(hasp_conn *c, hasp_rd *r, int *empty)
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
        conn_set_verify_msg(c, "%s",
                            rc == 0         ? "ok"
                            : res.reason[0] ? res.reason
                                            : hasp_err_default_msg(rc));
        if (conn_tracing(c)) {
            /* "<verdict> | path: CN=a [peer] <- CN=b [peer] <- CN=root [trust store]" */
            static const char *src[] = {"peer", "config", "trust store"};
            char detail[1536];
            size_t k = (size_t)snprintf(detail, sizeof(detail), "%s | path:", conn_verify_msg(c));
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
        if (rc < 0) FAIL(rc, "certificate verify failed: %s", conn_verify_msg(c));
    } else {
        conn_set_verify_msg(c, "skipped (verification disabled)");
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
