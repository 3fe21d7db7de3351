/* Extensions: one row per extension, {type, name, ClientHello write/read,
 * ServerHello write/read}. The walkers below enforce the rules common to
 * all: no duplicates, a ServerHello carries only what the client offered,
 * unknown extensions in a ClientHello are ignored. */
#include "../alloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../x509/x509.h"
#include "hs.h"

static int is_ip_literal(const char *s)
{
    int dots = 0, digits = 1;
    for (const char *p = s; *p; p++) {
        if (*p == ':') return 1; /* IPv6 */
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            digits = 0;
    }
    return digits && dots == 3;
}

static int suite_list_has_ecc(const hasp_config *cfg)
{
    for (size_t i = 0; i < cfg->nsuites; i++) {
        const hasp_suite *s = hasp_suite_find(cfg->suites[i]);
        if (s && hasp_suite_is_ecdhe(s)) return 1;
    }
    return 0;
}

static int suite_list_has_cbc(const hasp_config *cfg)
{
    for (size_t i = 0; i < cfg->nsuites; i++) {
        const hasp_suite *s = hasp_suite_find(cfg->suites[i]);
        if (s && s->cbc) return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- server_name (RFC 6066 3) */

static int sni_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (!c->sni[0] || is_ip_literal(c->sni)) return 0;
    size_t m;
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(wr_u8(w, 0)); /* host_name */
    GUARD(wr_vec(w, 2, c->sni, strlen(c->sni)));
    GUARD(wr_vec_end(w, 2, m));
    c->hs->sent_sni = 1;
    return 1;
}

static int sni_ch_read(hasp_conn *c, hasp_rd *r)
{
    hasp_rd list;
    GUARD(rd_vec_bounded(r, 2, 1, 65535, &list));
    GUARD(rd_expect_empty(r));
    int have_host = 0;
    while (rd_left(&list)) {
        uint8_t type;
        hasp_rd name;
        GUARD(rd_u8(&list, &type));
        GUARD(rd_vec_bounded(&list, 2, 1, 65535, &name));
        if (type != 0) continue;
        ENSURE_MSG(!have_host, HASP_ERR_ILLEGAL_PARAM,
                   "the client sent two host names in server_name");
        have_host = 1;
        ENSURE_MSG(name.len < sizeof(c->sni), HASP_ERR_ILLEGAL_PARAM,
                   "the client's server_name is %zu bytes long", name.len);
        for (size_t i = 0; i < name.len; i++)
            ENSURE_MSG(name.p[i] > 0x20 && name.p[i] < 0x7f, HASP_ERR_ILLEGAL_PARAM,
                       "the client's server_name contains a byte 0x%02x that no host name has",
                       name.p[i]);
        memcpy(c->sni, name.p, name.len);
        c->sni[name.len] = 0;
    }
    return 0;
}

/* RFC 6066 3: the server answers server_name (empty) only when it used the
 * name, here: the certificate it sends is for that name; never when
 * resuming. */
int hs_sni_used(hasp_conn *c)
{
    const hasp_cred *cr = c->hs->cred;
    return c->sni[0] && !c->resumed && cr && hasp_x509_cert_matches_host(&cr->leaf, c->sni, 0) == 1;
}

static int sni_sh_write(hasp_conn *c, hasp_wr *w)
{
    (void)w;
    return hs_sni_used(c); /* empty body: "I used your name" */
}

static int sni_sh_read(hasp_conn *c, hasp_rd *r)
{
    return rd_expect_empty(r);
}

/* ---------------------------------------------------------------- supported_groups (RFC
 * 8422 5.1.1, 7919) */

/* RFC 8446 4.2.7: a TLS 1.3 server may list its groups in
 * EncryptedExtensions; they are its preferences for later connections. */
static int groups_ee_read(hasp_conn *c, hasp_rd *r)
{
    (void)c;
    (void)r;
    return 0;
}

static int groups_ch_write(hasp_conn *c, hasp_wr *w)
{
    size_t m;
    int tls13 = hs_max_version(c) >= HASP_TLS1_3;
    GUARD(wr_vec_begin(w, 2, &m));
    for (size_t i = 0; i < c->cfg->ngroups; i++)
        if (tls13 || !hasp_group_is_hybrid(c->cfg->groups[i])) GUARD(wr_u16(w, c->cfg->groups[i]));
    GUARD(wr_vec_end(w, 2, m));
    return 1;
}

static int groups_ch_read(hasp_conn *c, hasp_rd *r)
{
    hasp_rd list;
    GUARD(rd_vec_bounded(r, 2, 2, 65534, &list));
    GUARD(rd_expect_empty(r));
    ENSURE(list.len % 2 == 0, HASP_ERR_DECODE);
    struct hasp_hs *hs = c->hs;
    hs->peer_sent_groups = 1;
    hs->npeer_groups_offered = 0;
    hs->peer_ffdhe_offered = 0;
    while (rd_left(&list)) {
        uint16_t g;
        GUARD(rd_u16(&list, &g));
        if (g >= 256 && g <= 511) hs->peer_ffdhe_offered = 1; /* RFC 7919 4, known or not */
        if (hs->npeer_groups_offered <
            sizeof(hs->peer_groups_offered) / sizeof(hs->peer_groups_offered[0]))
            hs->peer_groups_offered[hs->npeer_groups_offered++] = g;
        if (hasp_group_name(g) &&
            hs->npeer_groups < sizeof(hs->peer_groups) / sizeof(hs->peer_groups[0]))
            hs->peer_groups[hs->npeer_groups++] =
                g; /* the known ones: unknown cannot crowd them out */
    }
    return 0;
}

/* ---------------------------------------------------------------- ec_point_formats (RFC
 * 8422 5.1.2) */

static int ecpf_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (c->cfg->min_version > HASP_TLS1_2) return 0;
    if (!suite_list_has_ecc(c->cfg)) return 0;
    GUARD(wr_u8(w, 1));
    GUARD(wr_u8(w, 0)); /* uncompressed */
    return 1;
}

static int ecpf_read(hasp_conn *c, hasp_rd *r)
{
    hasp_rd list;
    GUARD(rd_vec_bounded(r, 1, 1, 255, &list));
    GUARD(rd_expect_empty(r));
    ENSURE_MSG(memchr(list.p, 0, list.len) != NULL, HASP_ERR_ILLEGAL_PARAM,
               "the peer's ec_point_formats does not include the uncompressed format");
    c->hs->peer_ec_point_formats = 1;
    return 0;
}

static int ecpf_sh_write(hasp_conn *c, hasp_wr *w)
{
    if (!c->hs->peer_ec_point_formats || !hasp_suite_is_ecdhe(c->suite)) return 0;
    GUARD(wr_u8(w, 1));
    GUARD(wr_u8(w, 0));
    return 1;
}

/* ---------------------------------------------------------------- signature_algorithms (RFC
 * 5246 7.4.1.4.1) */

static int sigalgs_ch_write(hasp_conn *c, hasp_wr *w)
{
    size_t m;
    GUARD(wr_vec_begin(w, 2, &m));
    for (size_t i = 0; i < c->cfg->nsigalgs; i++)
        GUARD(wr_u16(w, c->cfg->sigalgs[i]));
    GUARD(wr_vec_end(w, 2, m));
    return 1;
}

int hs_read_sigalgs(hasp_rd *r, uint16_t *out, size_t cap, size_t *n)
{
    hasp_rd list;
    GUARD(rd_vec_bounded(r, 2, 2, 65534, &list));
    ENSURE(list.len % 2 == 0, HASP_ERR_DECODE);
    *n = 0;
    while (rd_left(&list)) {
        uint16_t s;
        GUARD(rd_u16(&list, &s));
        /* Keep each scheme hasp knows once, in the peer's order; a list
         * may repeat or hold any number of unknown ones (RFC 8446 4.2.3). */
        if (!hasp_sigscheme_find(s)) continue;
        size_t j = 0;
        while (j < *n && out[j] != s)
            j++;
        if (j == *n && *n < cap) out[(*n)++] = s;
    }
    return 0;
}

static int sigalgs_ch_read(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    GUARD(hs_read_sigalgs(r, hs->peer_sigalgs, 64, &hs->npeer_sigalgs));
    GUARD(rd_expect_empty(r));
    hs->peer_sent_sigalgs = 1;
    return 0;
}

/* ---------------------------------------------------------------- ALPN (RFC 7301) */

static int alpn_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (!c->cfg->alpn_len) return 0;
    GUARD(wr_vec(w, 2, c->cfg->alpn, c->cfg->alpn_len));
    return 1;
}

static int alpn_ch_read(hasp_conn *c, hasp_rd *r)
{
    hasp_rd list;
    GUARD(rd_vec_bounded(r, 2, 2, 65535, &list));
    GUARD(rd_expect_empty(r));
    hasp_rd walk = list;
    while (rd_left(&walk)) {
        hasp_rd name;
        GUARD(rd_vec_bounded(&walk, 1, 1, 255, &name));
    }
    /* RFC 7301 3.2: choose now, while the list is in hand (it may be up to
     * 64 KiB; nothing of it is kept): our preference, the first protocol
     * the client also offers. No match is refused later, once the
     * ClientHello is read whole. */
    c->hs->peer_sent_alpn = 1;
    c->alpn[0] = 0;
    hasp_rd ours = hasp_rd_init(c->cfg->alpn, c->cfg->alpn_len);
    while (rd_left(&ours) && !c->alpn[0]) {
        hasp_rd o;
        GUARD(rd_vec(&ours, 1, &o));
        hasp_rd theirs = list;
        while (rd_left(&theirs)) {
            hasp_rd t;
            GUARD(rd_vec(&theirs, 1, &t));
            if (t.len == o.len && !memcmp(t.p, o.p, o.len)) {
                memcpy(c->alpn, o.p, o.len);
                c->alpn[o.len] = 0;
                break;
            }
        }
    }
    if (!c->alpn[0] && c->cfg->alpn_len)
        hs_list_alpn(list.p, list.len, c->hs->peer_alpn_words, sizeof(c->hs->peer_alpn_words));
    return 0;
}

static int alpn_sh_write(hasp_conn *c, hasp_wr *w)
{
    if (!c->alpn[0]) return 0;
    size_t m, n = strlen(c->alpn);
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(wr_vec(w, 1, c->alpn, n));
    GUARD(wr_vec_end(w, 2, m));
    return 1;
}

static int alpn_sh_read(hasp_conn *c, hasp_rd *r)
{
    hasp_rd list, name;
    GUARD(rd_vec(r, 2, &list));
    GUARD(rd_expect_empty(r));
    GUARD(rd_vec_bounded(&list, 1, 1, 255, &name));
    ENSURE_MSG(rd_left(&list) == 0, HASP_ERR_ILLEGAL_PARAM,
               "the server selected more than one ALPN protocol");
    /* It must be one we offered. */
    hasp_rd ours = hasp_rd_init(c->cfg->alpn, c->cfg->alpn_len);
    while (rd_left(&ours)) {
        hasp_rd o;
        GUARD(rd_vec(&ours, 1, &o));
        if (o.len == name.len && !memcmp(o.p, name.p, name.len)) {
            memcpy(c->alpn, name.p, name.len);
            c->alpn[name.len] = 0;
            return 0;
        }
    }
    FAIL(HASP_ERR_ILLEGAL_PARAM,
         "the server selected the ALPN protocol '%.*s', which was not offered", (int)name.len,
         name.p);
}

/* ---------------------------------------------------------------- encrypt_then_mac (RFC 7366) */

static int etm_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (c->cfg->min_version > HASP_TLS1_2) return 0;
    return suite_list_has_cbc(c->cfg) ? 1 : 0;
}

static int etm_ch_read(hasp_conn *c, hasp_rd *r)
{
    GUARD(rd_expect_empty(r));
    c->hs->peer_etm = 1;
    return 0;
}

static int etm_sh_write(hasp_conn *c, hasp_wr *w)
{
    return c->etm ? 1 : 0;
}

static int etm_sh_read(hasp_conn *c, hasp_rd *r)
{
    GUARD(rd_expect_empty(r));
    c->hs->peer_etm = 1;
    return 0;
}

/* ---------------------------------------------------------------- extended_master_secret (RFC
 * 7627) */

static int ems_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (c->cfg->min_version > HASP_TLS1_2) return 0;
    return 1;
}

static int ems_read(hasp_conn *c, hasp_rd *r)
{
    GUARD(rd_expect_empty(r));
    c->hs->peer_ems = 1;
    return 0;
}

static int ems_sh_write(hasp_conn *c, hasp_wr *w)
{
    return c->ems ? 1 : 0;
}

/* ---------------------------------------------------------------- renegotiation_info (RFC 5746) */

static int reneg_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (c->cfg->min_version > HASP_TLS1_2) return 0;
    /* RFC 5746 3.5: empty initially, then the client's last verify_data. */
    if (c->hs->reneg)
        GUARD(wr_vec(w, 1, c->client_verify_data, 12));
    else
        GUARD(wr_u8(w, 0));
    return 1;
}

static int reneg_ch_read(hasp_conn *c, hasp_rd *r)
{
    hasp_rd v;
    GUARD(rd_vec(r, 1, &v));
    GUARD(rd_expect_empty(r));
    if (c->hs->reneg) {
        /* RFC 5746 3.7 */
        ENSURE_MSG(v.len == 12 && hasp_ct_memcmp(v.p, c->client_verify_data, 12) == 0,
                   HASP_ERR_HANDSHAKE,
                   "the client's renegotiation_info does not carry the previous handshake's "
                   "verify_data (RFC 5746 3.7): possible renegotiation attack");
    } else {
        /* RFC 5746 3.6: on the initial handshake it must be empty. */
        ENSURE_MSG(v.len == 0, HASP_ERR_HANDSHAKE,
                   "the client's renegotiation_info is not empty on an initial handshake (RFC "
                   "5746 3.6)");
    }
    c->hs->peer_reneg = 1;
    c->hs->peer_reneg_ext = 1;
    return 0;
}

static int reneg_sh_write(hasp_conn *c, hasp_wr *w)
{
    if (!c->hs->peer_reneg) return 0;
    if (c->hs->reneg) {
        size_t m;
        GUARD(wr_vec_begin(w, 1, &m));
        GUARD(wr_bytes(w, c->client_verify_data, 12));
        GUARD(wr_bytes(w, c->server_verify_data, 12));
        GUARD(wr_vec_end(w, 1, m));
    } else {
        GUARD(wr_u8(w, 0));
    }
    return 1;
}

static int reneg_sh_read(hasp_conn *c, hasp_rd *r)
{
    hasp_rd v;
    GUARD(rd_vec(r, 1, &v));
    GUARD(rd_expect_empty(r));
    if (c->hs->reneg) {
        /* RFC 5746 3.5 */
        ENSURE_MSG(v.len == 24 && hasp_ct_memcmp(v.p, c->client_verify_data, 12) == 0 &&
                       hasp_ct_memcmp(v.p + 12, c->server_verify_data, 12) == 0,
                   HASP_ERR_HANDSHAKE,
                   "the server's renegotiation_info does not match the previous handshake (RFC "
                   "5746 3.5): possible renegotiation attack");
    } else {
        ENSURE_MSG(v.len == 0, HASP_ERR_HANDSHAKE,
                   "the server's renegotiation_info is not empty on an initial handshake (RFC "
                   "5746 3.4)");
    }
    c->hs->peer_reneg = 1;
    c->hs->peer_reneg_ext = 1;
    return 0;
}

/* ---------------------------------------------------------------- supported_versions (RFC
 * 8446 4.2.1) */

static int versions_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (hs_max_version(c) < HASP_TLS1_3) return 0;
    size_t m;
    GUARD(wr_vec_begin(w, 1, &m));
    for (uint16_t v = c->cfg->max_version; v >= c->cfg->min_version && v >= HASP_TLS1_2; v--)
        GUARD(wr_u16(w, v));
    GUARD(wr_vec_end(w, 1, m));
    return 1;
}

static int versions_ch_read(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    hasp_rd list;
    GUARD(rd_vec_bounded(r, 1, 2, 254, &list));
    GUARD(rd_expect_empty(r));
    ENSURE(list.len % 2 == 0, HASP_ERR_DECODE);
    hs->peer_sent_versions = 1;
    while (rd_left(&list)) {
        uint16_t v;
        GUARD(rd_u16(&list, &v));
        if (hs->npeer_versions < sizeof(hs->peer_versions) / sizeof(hs->peer_versions[0]))
            hs->peer_versions[hs->npeer_versions++] = v;
    }
    return 0;
}

/* ---------------------------------------------------------------- key_share (RFC 8446 4.2.8) */

/* One KeyShareEntry for group g, the key pair kept in *slot (made once:
 * a ClientHello written again keeps its shares). */
static int key_share_entry(hasp_conn *c, hasp_wr *w, hasp_kex **slot, uint16_t g)
{
    if (!*slot || hasp_kex_group(*slot) != g) {
        hasp_kex_free(*slot);
        *slot = conn_kex_new(c, g);
        ENSURE_MSG(*slot, HASP_ERR_CRYPTO, "cannot make a key pair in %s", hasp_group_name(g));
    }
    uint8_t pub[HASP_KEX_MAX_PUB];
    size_t pub_len;
    GUARD(hasp_kex_public(*slot, pub, sizeof(pub), &pub_len));
    GUARD(wr_u16(w, g));
    GUARD(wr_vec(w, 2, pub, pub_len));
    return 0;
}

/* The first group's share; when that is a hybrid, also one for the first
 * classic group after it (X25519MLKEM768 and x25519 by default, as
 * browsers send them), so that a server without the hybrid needs no
 * HelloRetryRequest. After a HelloRetryRequest, its group alone. */
static int key_share_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (hs_max_version(c) < HASP_TLS1_3) return 0;
    struct hasp_hs *hs = c->hs;
    uint16_t g = hs->hrr_group ? hs->hrr_group : c->cfg->groups[0], g2 = 0;
    if (!hs->hrr_group && hasp_group_is_hybrid(g))
        for (size_t i = 1; i < c->cfg->ngroups && !g2; i++)
            if (!hasp_group_is_hybrid(c->cfg->groups[i]) && !hasp_group_is_ffdhe(c->cfg->groups[i]))
                g2 = c->cfg->groups[i];
    size_t m;
    GUARD(wr_vec_begin(w, 2, &m));
    GUARD(key_share_entry(c, w, &hs->share_kex, g));
    if (g2) {
        GUARD(key_share_entry(c, w, &hs->share_kex2, g2));
    } else {
        hasp_kex_free(hs->share_kex2);
        hs->share_kex2 = NULL;
    }
    GUARD(wr_vec_end(w, 2, m));
    return 1;
}

static int key_share_ch_read(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    hasp_rd list;
    GUARD(rd_vec(r, 2, &list));
    GUARD(rd_expect_empty(r));
    hs->peer_sent_key_share = 1;
    /* Any number of shares (RFC 8446 4.2.8); one bit per group finds a
     * second share for the same group. */
    uint8_t seen[65536 / 8];
    memset(seen, 0, sizeof(seen));
    while (rd_left(&list)) {
        uint16_t g;
        hasp_rd key;
        GUARD(rd_u16(&list, &g));
        GUARD(rd_vec(&list, 2, &key)); /* an empty one is judged by its group below */
        ENSURE_MSG(!(seen[g >> 3] & (1u << (g & 7))), HASP_ERR_ILLEGAL_PARAM,
                   "the client sent two key shares for the group 0x%04x", g);
        seen[g >> 3] |= (uint8_t)(1u << (g & 7));
        /* RFC 8446 4.2.8.2, draft-ietf-tls-ecdhe-mlkem 4.1: a share of the
         * wrong size for its group is malformed */
        size_t want = hasp_group_share_len(g, 0);
        ENSURE_MSG(!want || key.len == want, HASP_ERR_ILLEGAL_PARAM,
                   "the client's %s key share has %zu bytes, not %zu", hasp_group_name(g), key.len,
                   want);
        if (!hasp_group_name(g) || hs->nshares >= 4 || key.len > sizeof(hs->share_data[0]))
            continue;
        hs->share_group[hs->nshares] = g;
        memcpy(hs->share_data[hs->nshares], key.p, key.len);
        hs->share_len[hs->nshares] = key.len;
        hs->nshares++;
    }
    return 0;
}

/* ---------------------------------------------------------------- cookie (RFC 8446 4.2.2) */

static int cookie_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (!c->hs->cookie_len) return 0;
    GUARD(wr_vec(w, 2, c->hs->cookie, c->hs->cookie_len));
    return 1;
}

/* ---------------------------------------------------------------- session_ticket (RFC 5077 3.2) */

static int ticket_ch_write(hasp_conn *c, hasp_wr *w)
{
    struct hasp_hs *hs = c->hs;
    if (c->cfg->min_version > HASP_TLS1_2) return 0;
    if (hs->reneg) {
        /* ask for a ticket as OpenSSL does: some servers send one regardless */
        if (!c->cfg->tickets) return 0;
        hs->ticket_ext_sent = 1;
        return 1;
    }
    const hasp_session *s = c->session_in;
    if (s && s->version == HASP_TLS1_2 && s->ticket_len) {
        GUARD(wr_bytes(w, s->ticket, s->ticket_len));
        hs->ticket_ext_sent = 1;
        return 1;
    }
    if (!c->cfg->tickets) return 0;
    hs->ticket_ext_sent = 1;
    return 1; /* empty: "send me one" */
}

static int ticket_ch_read(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    hs->peer_ticket_ext = 1;
    hasp_free(hs->peer_ticket);
    hs->peer_ticket = NULL;
    hs->peer_ticket_len = 0;
    if (r->len && r->len <= 65535) {
        hs->peer_ticket = hasp_malloc(r->len);
        ENSURE(hs->peer_ticket, HASP_ERR_NOMEM);
        memcpy(hs->peer_ticket, r->p, r->len);
        hs->peer_ticket_len = r->len;
    }
    return 0;
}

static int ticket_sh_write(hasp_conn *c, hasp_wr *w)
{
    return (c->hs->flags & F_TICKET) ? 1 : 0;
}

static int ticket_sh_read(hasp_conn *c, hasp_rd *r)
{
    GUARD(rd_expect_empty(r));
    c->hs->flags |= F_TICKET;
    return 0;
}

/* ---------------------------------------------------------------- psk_key_exchange_modes (RFC
 * 8446 4.2.9) */

static int psk_modes_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (hs_max_version(c) < HASP_TLS1_3) return 0;
    int modes = c->cfg->psk_modes;
    size_t m;
    GUARD(wr_vec_begin(w, 1, &m));
    if (modes & HASP_PSK_DHE_KE) GUARD(wr_u8(w, 1)); /* psk_dhe_ke, preferred */
    if (modes & HASP_PSK_KE) GUARD(wr_u8(w, 0));     /* psk_ke */
    GUARD(wr_vec_end(w, 1, m));
    return 1;
}

static int psk_modes_ch_read(hasp_conn *c, hasp_rd *r)
{
    hasp_rd list;
    GUARD(rd_vec_bounded(r, 1, 1, 255, &list));
    GUARD(rd_expect_empty(r));
    for (size_t i = 0; i < list.len; i++)
        if (list.p[i] <= 1) c->hs->peer_psk_modes |= 1 << list.p[i];
    return 0;
}

/* ---------------------------------------------------------------- early_data (RFC 8446 4.2.10) */

static int early_ch_write(hasp_conn *c, hasp_wr *w)
{
    if (!tls13_client_wants_early(c)) return 0;
    c->hs->early_offered = 1;
    return 1; /* empty in a ClientHello */
}

/* Server: early_data in EncryptedExtensions says the early data was taken. */
static int early_ee_write(hasp_conn *c, hasp_wr *w)
{
    (void)w;
    return (c->hs->flags & F_EARLY) != 0; /* empty */
}

static int early_ee_read(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    /* early_writable: offered, and not dropped at a HelloRetryRequest */
    ENSURE_MSG(hs->early_writable, HASP_ERR_UNSUPPORTED_EXT,
               "the server accepted early data that was not offered (or was dropped at "
               "its HelloRetryRequest)");
    GUARD(rd_expect_empty(r));
    /* RFC 8446 4.2.10: only with the first PSK, and the ticket's suite */
    ENSURE_MSG((hs->flags & F_PSK) && c->suite->id == c->session_in->suite, HASP_ERR_ILLEGAL_PARAM,
               "the server accepted early data without resuming the ticket with its "
               "cipher suite");
    hs->flags |= F_EARLY;
    c->early_status = HASP_EARLY_ACCEPTED;
    conn_event(c, HASP_EV_DECISION, 1, 0, "early data", 0, "accepted");
    return 0;
}

static int early_ch_read(hasp_conn *c, hasp_rd *r)
{
    GUARD(rd_expect_empty(r));
    /* RFC 8446 4.1.2: a ClientHello after HelloRetryRequest never offers early data. */
    ENSURE_MSG(!c->hs->hrr_done, HASP_ERR_ILLEGAL_PARAM,
               "the second ClientHello offers early data, after a HelloRetryRequest");
    c->hs->peer_early = 1;
    return 0;
}

/* ---------------------------------------------------------------- pre_shared_key (RFC 8446 4.2.11)
 */

int tls13_psk_ch_write(hasp_conn *c, hasp_wr *w);

static int psk_ch_write(hasp_conn *c, hasp_wr *w)
{
    return tls13_psk_ch_write(c, w);
}

static int psk_ch_read(hasp_conn *c, hasp_rd *r)
{
    struct hasp_hs *hs = c->hs;
    hasp_rd ids, binders;
    GUARD(rd_vec_bounded(r, 2, 7, 65535, &ids));
    const uint8_t *b_start = r->p;
    GUARD(rd_vec_bounded(r, 2, 33, 65535, &binders));
    GUARD(rd_expect_empty(r));
    hs->binders_len = (size_t)(r->p - b_start);
    hs->psk_binders = binders.p;
    hs->psk_identity_count = 0;
    while (rd_left(&ids)) {
        hasp_rd id;
        uint32_t age;
        GUARD(rd_vec_bounded(&ids, 2, 1, 65535, &id));
        GUARD(rd_u32(&ids, &age));
        if (hs->psk_identity_count < 4 && id.len <= sizeof(hs->psk_identities[0])) {
            int i = hs->psk_identity_count++;
            memcpy(hs->psk_identities[i], id.p, id.len);
            hs->psk_identity_len[i] = id.len;
            hs->psk_age[i] = age;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- the table */

/* One row per extension: its code point, its name, and for each message it
 * may appear in (RFC 8446 4.2's table; TLS 1.2's ServerHello for the TLS
 * 1.2 extensions) the writer and the reader. A writer returns 1 when it
 * wrote the body into w, 0 when the extension is not sent; a reader
 * returns 0 or an error. A NULL column: the extension is not allowed in
 * that message. ClientHello extensions go out in the order of the rows;
 * the answers (ServerHello, EncryptedExtensions) are read only for what the
 * client sent (ext_sent_mask, one bit per row). */
typedef struct ext_row {
    uint16_t type;
    const char *name;
    int (*ch_write)(hasp_conn *c, hasp_wr *w); /* ClientHello */
    int (*ch_read)(hasp_conn *c, hasp_rd *r);
    int (*sh_write)(hasp_conn *c, hasp_wr *w); /* TLS 1.2 ServerHello */
    int (*sh_read)(hasp_conn *c, hasp_rd *r);
    int (*ee_write)(hasp_conn *c, hasp_wr *w); /* TLS 1.3 EncryptedExtensions */
    int (*ee_read)(hasp_conn *c, hasp_rd *r);
} ext_row;

static const ext_row ext_table[] = {
    {EXT_SERVER_NAME, "server_name", sni_ch_write, sni_ch_read, sni_sh_write, sni_sh_read,
     sni_sh_write, sni_sh_read},
    {EXT_SUPPORTED_GROUPS, "supported_groups", groups_ch_write, groups_ch_read, NULL, NULL, NULL,
     groups_ee_read},
    {EXT_EC_POINT_FORMATS, "ec_point_formats", ecpf_ch_write, ecpf_read, ecpf_sh_write, ecpf_read,
     NULL, NULL},
    {EXT_SIGNATURE_ALGORITHMS, "signature_algorithms", sigalgs_ch_write, sigalgs_ch_read, NULL,
     NULL, NULL, NULL},
    {EXT_ALPN, "application_layer_protocol_negotiation", alpn_ch_write, alpn_ch_read, alpn_sh_write,
     alpn_sh_read, alpn_sh_write, alpn_sh_read},
    {EXT_ENCRYPT_THEN_MAC, "encrypt_then_mac", etm_ch_write, etm_ch_read, etm_sh_write, etm_sh_read,
     NULL, NULL},
    {EXT_EXTENDED_MASTER_SECRET, "extended_master_secret", ems_ch_write, ems_read, ems_sh_write,
     ems_read, NULL, NULL},
    {EXT_RENEGOTIATION_INFO, "renegotiation_info", reneg_ch_write, reneg_ch_read, reneg_sh_write,
     reneg_sh_read, NULL, NULL},
    {EXT_SUPPORTED_VERSIONS, "supported_versions", versions_ch_write, versions_ch_read, NULL, NULL,
     NULL, NULL},
    {EXT_KEY_SHARE, "key_share", key_share_ch_write, key_share_ch_read, NULL, NULL, NULL, NULL},
    {EXT_COOKIE, "cookie", cookie_ch_write, NULL, NULL, NULL, NULL, NULL},
    {EXT_SESSION_TICKET, "session_ticket", ticket_ch_write, ticket_ch_read, ticket_sh_write,
     ticket_sh_read, NULL, NULL},
    {EXT_PSK_KEY_EXCHANGE_MODES, "psk_key_exchange_modes", psk_modes_ch_write, psk_modes_ch_read,
     NULL, NULL, NULL, NULL},
    {EXT_EARLY_DATA, "early_data", early_ch_write, early_ch_read, NULL, NULL, early_ee_write,
     early_ee_read},
    /* RFC 8446 4.2.11: pre_shared_key is the last extension of a ClientHello. */
    {EXT_PRE_SHARED_KEY, "pre_shared_key", psk_ch_write, psk_ch_read, NULL, NULL, NULL, NULL},
};
#define NEXT (sizeof(ext_table) / sizeof(ext_table[0]))

const char *ext_name(uint16_t type)
{
    for (size_t i = 0; i < NEXT; i++)
        if (ext_table[i].type == type) return ext_table[i].name;
    switch (type) {
    case 5:
        return "status_request";
    case 18:
        return "signed_certificate_timestamp";
    case 21:
        return "padding";
    default:
        return "unknown";
    }
}

static void trace_ext(hasp_conn *c, uint16_t type)
{
    if (!conn_tracing(c)) return;
    size_t n = strlen(c->hs->detail);
    if (n + 40 < sizeof(c->hs->detail))
        snprintf(c->hs->detail + n, sizeof(c->hs->detail) - n, "%s%s",
                 (n && c->hs->detail[n - 1] != '=') ? "," : "", ext_name(type));
}

enum { IN_CH, IN_SH, IN_EE };
static const char *const in_name[] = {"ClientHello", "ServerHello", "EncryptedExtensions"};

static int write_exts(hasp_conn *c, hasp_wr *w, int in)
{
    size_t all;
    const int server = in != IN_CH;
    GUARD(wr_vec_begin(w, 2, &all));
    for (size_t i = 0; i < NEXT; i++) {
        int (*fn)(hasp_conn *, hasp_wr *) = in == IN_CH   ? ext_table[i].ch_write
                                            : in == IN_SH ? ext_table[i].sh_write
                                                          : ext_table[i].ee_write;
        if (!fn) continue;
        size_t start = w->len, m;
        GUARD(wr_u16(w, ext_table[i].type));
        GUARD(wr_vec_begin(w, 2, &m));
        int rc = fn(c, w);
        GUARD(rc);
        if (rc == 0) {
            w->len = start; /* not sent */
            continue;
        }
        GUARD(wr_vec_end(w, 2, m));
        if (!server) c->hs->ext_sent_mask |= 1u << i;
        trace_ext(c, ext_table[i].type);
    }
    if (in == IN_EE && c->cfg->test_ee_extra_len)
        GUARD(wr_bytes(w, c->cfg->test_ee_extra, c->cfg->test_ee_extra_len));
    GUARD(wr_vec_end(w, 2, all));
    /* An empty extensions block is legal but pointless: drop it (it is
     * not optional in EncryptedExtensions). */
    if (in != IN_EE && w->len == all + 2) w->len = all;
    return 0;
}

int ext_client_hello_write(hasp_conn *c, hasp_wr *w)
{
    return write_exts(c, w, IN_CH);
}

int ext_server_hello_write(hasp_conn *c, hasp_wr *w)
{
    return write_exts(c, w, IN_SH);
}

int ext_encrypted_extensions_write(hasp_conn *c, hasp_wr *w)
{
    return write_exts(c, w, IN_EE);
}

/* Extensions that only TLS 1.2 defines (RFC 8422, 7366, 7627, 5077, 5746). */
static int tls12_only(uint16_t type)
{
    return type == EXT_EC_POINT_FORMATS || type == EXT_ENCRYPT_THEN_MAC ||
           type == EXT_EXTENDED_MASTER_SECRET || type == EXT_SESSION_TICKET ||
           type == EXT_RENEGOTIATION_INFO;
}

static int read_exts(hasp_conn *c, hasp_rd *r, int in)
{
    const char *msg = in_name[in];
    if (in != IN_EE && rd_left(r) == 0) return 0; /* no extensions block */
    hasp_rd list;
    GUARD(rd_vec(r, 2, &list));
    GUARD(rd_expect_empty(r));
    /* Any number of extensions the 64 KiB block holds (RFC 8446 4.2:
     * unknown ones are ignored); only a limit the application set counts
     * them. A repeat is found in the list of the first 32 types, then in a
     * bitmap of all 65536 (cleared only for a hello with more). */
    enum { FEW = 32 };
    uint16_t few[FEW];
    uint8_t seen[65536 / 8];
    unsigned nseen = 0;
    while (rd_left(&list)) {
        uint16_t type;
        hasp_rd body;
        GUARD(rd_u16(&list, &type));
        GUARD(rd_vec(&list, 2, &body));
        int dup = 0;
        if (nseen < FEW) {
            for (unsigned k = 0; k < nseen; k++)
                dup |= few[k] == type;
            few[nseen] = type;
        } else {
            if (nseen == FEW) {
                memset(seen, 0, sizeof(seen));
                for (unsigned k = 0; k < FEW; k++)
                    seen[few[k] >> 3] |= (uint8_t)(1u << (few[k] & 7));
            }
            dup = (seen[type >> 3] >> (type & 7)) & 1;
            seen[type >> 3] |= (uint8_t)(1u << (type & 7));
        }
        ENSURE_MSG(!dup, HASP_ERR_DECODE, "the %s contains the extension %s (%u) twice", msg,
                   ext_name(type), type);
        ENSURE_MSG(!c->cfg->max_extensions || nseen < c->cfg->max_extensions, HASP_ERR_LIMIT,
                   "the %s has more than %u extensions (the limit this application set)", msg,
                   c->cfg->max_extensions);
        nseen++;
        trace_ext(c, type);
        ENSURE_MSG(in != IN_CH || type != EXT_PRE_SHARED_KEY || rd_left(&list) == 0,
                   HASP_ERR_ILLEGAL_PARAM,
                   "pre_shared_key is not the last extension of the ClientHello (RFC 8446 4.2.11)");
        size_t i;
        for (i = 0; i < NEXT; i++)
            if (ext_table[i].type == type) break;
        if (in == IN_SH) {
            ENSURE_MSG(i < NEXT && (c->hs->ext_sent_mask & (1u << i)) && ext_table[i].sh_read,
                       HASP_ERR_UNSUPPORTED_EXT,
                       "the server sent the extension %s (%u), which the client did not offer",
                       ext_name(type), type);
            GUARD(ext_table[i].sh_read(c, &body));
        } else if (in == IN_EE) {
            /* RFC 8446 4.2: an answer to nothing sent is unsupported_extension;
             * a known extension in a message it is not specified for is
             * illegal_parameter */
            ENSURE_MSG(i < NEXT && (c->hs->ext_sent_mask & (1u << i)), HASP_ERR_UNSUPPORTED_EXT,
                       "the server sent the extension %s (%u), which the client did not offer",
                       ext_name(type), type);
            ENSURE_MSG(ext_table[i].ee_read, HASP_ERR_ILLEGAL_PARAM,
                       "the server sent %s in EncryptedExtensions, where TLS 1.3 does not "
                       "allow it",
                       ext_name(type));
            GUARD(ext_table[i].ee_read(c, &body));
        } else if (i < NEXT && ext_table[i].ch_read) {
            int rc = ext_table[i].ch_read(c, &body);
            if (rc < 0 && tls12_only(type)) {
                /* A TLS 1.2 extension is judged only if TLS 1.2 is
                 * negotiated; TLS 1.3 ignores it (RFC 8446 4.1.2, as
                 * OpenSSL does). client_hello_recv raises the first then. */
                if (!c->hs->tls12_ext_err) {
                    c->hs->tls12_ext_err = rc;
                    snprintf(c->hs->tls12_ext_msg, sizeof(c->hs->tls12_ext_msg), "%s",
                             hasp_err_last()->msg);
                }
                hasp_err_clear();
                rc = 0;
            }
            GUARD(rc);
        }
        /* unknown extensions in a ClientHello are ignored */
    }
    return 0;
}

int ext_client_hello_read(hasp_conn *c, hasp_rd *exts)
{
    return read_exts(c, exts, IN_CH);
}

int ext_server_hello_read(hasp_conn *c, hasp_rd *exts)
{
    return read_exts(c, exts, IN_SH);
}

int ext_encrypted_extensions_read(hasp_conn *c, hasp_rd *exts)
{
    return read_exts(c, exts, IN_EE);
}
