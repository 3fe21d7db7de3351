/* hasp_config: everything a connection needs that does not change. Built
 * by one thread, then shared read-only by any number of connections. */
#include "alloc.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec/pem.h"
#include "conn.h"
#include "x509/x509.h"

static int cfg_fail(hasp_config *cfg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfg_fail(hasp_config *cfg, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->errmsg, sizeof(cfg->errmsg), fmt, ap);
    va_end(ap);
    hasp_err_set(code, __FILE__, __LINE__, "%s", cfg->errmsg);
    return code;
}

/* The hybrids first: a client sends X25519MLKEM768 and x25519 shares
 * (ext.c), and a server prefers a hybrid whenever the client offers one. */
static const uint16_t default_groups[] = {
    HASP_GROUP_X25519MLKEM768, HASP_GROUP_SECP256R1MLKEM768, HASP_GROUP_SECP384R1MLKEM1024,
    HASP_GROUP_X25519,         HASP_GROUP_SECP256R1,         HASP_GROUP_SECP384R1,
    HASP_GROUP_X448,           HASP_GROUP_SECP521R1,         HASP_GROUP_FFDHE2048,
    HASP_GROUP_FFDHE3072};

static const uint16_t default_sigalgs[] = {
    HASP_SIG_ECDSA_SECP256R1_SHA256, HASP_SIG_ECDSA_SECP384R1_SHA384, HASP_SIG_ED25519_SCHEME,
    HASP_SIG_RSA_PSS_RSAE_SHA256,    HASP_SIG_RSA_PSS_RSAE_SHA384,    HASP_SIG_RSA_PSS_RSAE_SHA512,
    HASP_SIG_RSA_PSS_PSS_SHA256,     HASP_SIG_RSA_PSS_PSS_SHA384,     HASP_SIG_RSA_PSS_PSS_SHA512,
    HASP_SIG_RSA_PKCS1_SHA256,       HASP_SIG_RSA_PKCS1_SHA384,       HASP_SIG_RSA_PKCS1_SHA512,
    HASP_SIG_ECDSA_SECP521R1_SHA512,
};

hasp_config *hasp_config_new(void)
{
    hasp_config *cfg = hasp_calloc(1, sizeof(*cfg));
    if (!cfg) return NULL;
    cfg->min_version = HASP_TLS1_2;
    cfg->max_version = HASP_TLS1_3;
    hasp_config_set_ciphers(cfg, "DEFAULT");
    memcpy(cfg->groups, default_groups, sizeof(default_groups));
    cfg->ngroups = sizeof(default_groups) / sizeof(default_groups[0]);
    memcpy(cfg->sigalgs, default_sigalgs, sizeof(default_sigalgs));
    cfg->nsigalgs = sizeof(default_sigalgs) / sizeof(default_sigalgs[0]);
    cfg->verify_cert = 1;
    cfg->verify_name = 1;
    cfg->max_hs_size = 256 * 1024; /* the largest legal ClientHello is 131,396 bytes */
    cfg->max_chain_len = 10;
    cfg->max_extensions = 0; /* none: the 64 KiB extensions block bounds them */
    cfg->max_buffered = 1u << 20;
    pthread_mutex_init(&cfg->lock, NULL);
    cfg->session_lifetime = 7200;
    cfg->cache = session_cache_new(1024);
    cfg->tickets = 1;
    cfg->tickets13 = 2;
    cfg->psk_modes = HASP_PSK_DHE_KE;
    cfg->reneg_per_minute = 3;
    if (!cfg->cache || ticket_keys_init(&cfg->tkeys, (int64_t)time(NULL)) < 0) {
        session_cache_free(cfg->cache);
        hasp_free(cfg);
        return NULL;
    }
    return cfg;
}

void hasp_config_free(hasp_config *cfg)
{
    if (!cfg) return;
    hasp_wipe(cfg->test_kex_priv, sizeof(cfg->test_kex_priv));
    for (size_t i = 0; i < cfg->ncreds; i++) {
        for (size_t j = 0; j < cfg->creds[i].n; j++)
            hasp_free(cfg->creds[i].chain[j]);
        hasp_pkey_free(cfg->creds[i].key);
    }
    if (cfg->anchors) hasp_x509_store_free(cfg->anchors);
    hasp_x509_store_free(cfg->crls);
    session_cache_free(cfg->cache);
    used_tickets_free(cfg->used_tickets);
    used_tickets_free(cfg->revoked_tickets);
    used_tickets_free(cfg->early_strikes);
    ticket_keys_destroy(&cfg->tkeys);
    pthread_mutex_destroy(&cfg->lock);
    hasp_free(cfg);
}

const char *hasp_config_errmsg(const hasp_config *cfg)
{
    return cfg->errmsg;
}

int hasp_config_set_versions(hasp_config *cfg, uint16_t min, uint16_t max)
{
    if (min < HASP_TLS1_2)
        return cfg_fail(cfg, HASP_ERR_USAGE,
                        "hasp supports TLS 1.2 and newer only (0x%04x was asked for)", min);
    if (max > HASP_TLS1_3)
        return cfg_fail(cfg, HASP_ERR_USAGE, "hasp supports TLS 1.3 at most (0x%04x was asked for)",
                        max);
    if (min > max) return cfg_fail(cfg, HASP_ERR_USAGE, "the minimum version is above the maximum");
    cfg->min_version = min;
    cfg->max_version = max;
    return 0;
}

/* Split s on ':' or ',' and call fn on each non-empty item. */
static int for_each_item(hasp_config *cfg, const char *s,
                         int (*fn)(hasp_config *cfg, const char *item, void *arg), void *arg)
{
    char item[128];
    while (*s) {
        size_t n = strcspn(s, ":,");
        if (n >= sizeof(item))
            return cfg_fail(cfg, HASP_ERR_USAGE, "list item too long: '%.*s'", (int)n, s);
        memcpy(item, s, n);
        item[n] = 0;
        /* trim spaces */
        char *b = item;
        while (*b == ' ')
            b++;
        char *e = b + strlen(b);
        while (e > b && e[-1] == ' ')
            *--e = 0;
        if (*b) GUARD(fn(cfg, b, arg));
        s += n;
        if (*s) s++;
    }
    return 0;
}

static int add_suite(hasp_config *cfg, uint16_t id)
{
    for (size_t i = 0; i < cfg->nsuites; i++)
        if (cfg->suites[i] == id) return 0;
    if (cfg->nsuites >= HASP_MAX_SUITES)
        return cfg_fail(cfg, HASP_ERR_USAGE, "too many cipher suites");
    cfg->suites[cfg->nsuites++] = id;
    return 0;
}

static int cipher_item(hasp_config *cfg, const char *item, void *arg)
{
    (void)arg;
    if (!strcasecmp(item, "DEFAULT") || !strcasecmp(item, "ALL")) {
        int all = !strcasecmp(item, "ALL");
        const hasp_suite *s;
        for (size_t i = 0; (s = hasp_suite_at(i)); i++)
            if (s->in_default || all) GUARD(add_suite(cfg, s->id));
        return 0;
    }
    const hasp_suite *s = hasp_suite_by_name(item);
    if (!s)
        return cfg_fail(cfg, HASP_ERR_USAGE,
                        "unknown cipher suite '%s' (use IANA names like "
                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, OpenSSL names like "
                        "ECDHE-RSA-AES128-GCM-SHA256, DEFAULT or ALL)",
                        item);
    return add_suite(cfg, s->id);
}

int hasp_config_set_ciphers(hasp_config *cfg, const char *list)
{
    uint16_t saved[HASP_MAX_SUITES];
    size_t nsaved = cfg->nsuites;
    memcpy(saved, cfg->suites, sizeof(saved));
    cfg->nsuites = 0;
    int rc = for_each_item(cfg, list ? list : "", cipher_item, NULL);
    if (rc == 0 && cfg->nsuites == 0)
        rc = cfg_fail(cfg, HASP_ERR_USAGE, "the cipher list '%s' names no suite", list);
    if (rc < 0) {
        memcpy(cfg->suites, saved, sizeof(saved));
        cfg->nsuites = nsaved;
    }
    return rc;
}

static int suite13_item(hasp_config *cfg, const char *item, void *arg)
{
    uint16_t *list = arg;
    const hasp_suite *s = hasp_suite_by_name(item);
    if (!s || !hasp_suite_is_tls13(s))
        return cfg_fail(
            cfg, HASP_ERR_USAGE,
            "'%s' is not a TLS 1.3 cipher suite (TLS_AES_128_GCM_SHA256, "
            "TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_CCM_SHA256, "
            "TLS_AES_128_CCM_8_SHA256)",
            item);
    for (size_t i = 1; i <= list[0]; i++)
        if (list[i] == s->id) return 0;
    if (list[0] < 8) list[++list[0]] = s->id;
    return 0;
}

int hasp_config_set_ciphersuites13(hasp_config *cfg, const char *list)
{
    uint16_t l13[9] = {0};
    GUARD(for_each_item(cfg, list ? list : "", suite13_item, l13));
    uint16_t merged[HASP_MAX_SUITES];
    size_t n = 0;
    for (size_t i = 1; i <= l13[0]; i++)
        merged[n++] = l13[i];
    for (size_t i = 0; i < cfg->nsuites && n < HASP_MAX_SUITES; i++) {
        const hasp_suite *s = hasp_suite_find(cfg->suites[i]);
        if (s && !hasp_suite_is_tls13(s)) merged[n++] = s->id;
    }
    memcpy(cfg->suites, merged, n * sizeof(merged[0]));
    cfg->nsuites = n;
    return 0;
}

static int group_item(hasp_config *cfg, const char *item, void *arg)
{
    (void)arg;
    int g = hasp_group_by_name(item);
    if (g <= 0)
        return cfg_fail(cfg, HASP_ERR_USAGE,
                        "unknown group '%s' (hasp has X25519MLKEM768, SecP256r1MLKEM768, "
                        "SecP384r1MLKEM1024, x25519, secp256r1 (P-256), secp384r1 (P-384), x448, "
                        "secp521r1 (P-521), ffdhe2048, ffdhe3072)",
                        item);
    for (size_t i = 0; i < cfg->ngroups; i++)
        if (cfg->groups[i] == g) return 0;
    if (cfg->ngroups >= HASP_MAX_GROUPS) return cfg_fail(cfg, HASP_ERR_USAGE, "too many groups");
    cfg->groups[cfg->ngroups++] = (uint16_t)g;
    return 0;
}

int hasp_group_get(size_t i, hasp_group_info *info)
{
    uint16_t ids[32];
    size_t n = hasp_group_list(ids, 32);
    if (i >= n || i >= 32 || !info) return HASP_ERR_USAGE;
    uint16_t g = ids[i];
    info->id = g;
    info->name = hasp_group_name(g);
    info->kind = hasp_group_is_hybrid(g)  ? "ECDH+ML-KEM"
                 : hasp_group_is_ffdhe(g) ? "FFDHE"
                                          : "ECDH";
    info->client_share = hasp_group_share_len(g, 0);
    info->server_share = hasp_group_share_len(g, 1);
    if (hasp_group_is_ffdhe(g)) {
        const uint8_t *p, *gen;
        size_t pl = 0, gl = 0;
        if (hasp_ffdhe_params(g, &p, &pl, &gen, &gl) == 0)
            info->client_share = info->server_share = pl;
    }
    info->tls13_only = hasp_group_is_hybrid(g);
    return 0;
}

int hasp_config_set_groups(hasp_config *cfg, const char *list)
{
    size_t saved_n = cfg->ngroups;
    uint16_t saved[HASP_MAX_GROUPS];
    memcpy(saved, cfg->groups, sizeof(saved));
    cfg->ngroups = 0;
    int rc = for_each_item(cfg, list ? list : "", group_item, NULL);
    if (rc == 0 && cfg->ngroups == 0)
        rc = cfg_fail(cfg, HASP_ERR_USAGE, "the group list names no group");
    if (rc < 0) {
        memcpy(cfg->groups, saved, sizeof(saved));
        cfg->ngroups = saved_n;
    }
    return rc;
}

static int sigalg_item(hasp_config *cfg, const char *item, void *arg)
{
    (void)arg;
    const hasp_sigscheme *s = hasp_sigscheme_by_name(item);
    if (!s) return cfg_fail(cfg, HASP_ERR_USAGE, "unknown signature scheme '%s'", item);
    if (cfg->nsigalgs >= HASP_MAX_SIGALGS)
        return cfg_fail(cfg, HASP_ERR_USAGE, "too many signature schemes");
    cfg->sigalgs[cfg->nsigalgs++] = s->id;
    return 0;
}

int hasp_config_set_sigalgs(hasp_config *cfg, const char *list)
{
    size_t saved_n = cfg->nsigalgs;
    uint16_t saved[HASP_MAX_SIGALGS];
    memcpy(saved, cfg->sigalgs, sizeof(saved));
    cfg->nsigalgs = 0;
    int rc = for_each_item(cfg, list ? list : "", sigalg_item, NULL);
    if (rc == 0 && cfg->nsigalgs == 0)
        rc = cfg_fail(cfg, HASP_ERR_USAGE, "the signature scheme list is empty");
    if (rc < 0) {
        memcpy(cfg->sigalgs, saved, sizeof(saved));
        cfg->nsigalgs = saved_n;
    }
    return rc;
}

static int alpn_item(hasp_config *cfg, const char *item, void *arg)
{
    (void)arg;
    size_t n = strlen(item);
    if (n > 255 || cfg->alpn_len + 1 + n > sizeof(cfg->alpn))
        return cfg_fail(cfg, HASP_ERR_USAGE, "ALPN list too long");
    cfg->alpn[cfg->alpn_len++] = (uint8_t)n;
    memcpy(cfg->alpn + cfg->alpn_len, item, n);
    cfg->alpn_len += n;
    return 0;
}

int hasp_config_set_alpn(hasp_config *cfg, const char *list)
{
    cfg->alpn_len = 0;
    int rc = for_each_item(cfg, list ? list : "", alpn_item, NULL);
    if (rc < 0) cfg->alpn_len = 0;
    return rc;
}

static int read_file(hasp_config *cfg, const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cfg_fail(cfg, HASP_ERR_CONFIG, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    uint8_t *buf = hasp_malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            uint8_t *nb = cap < (64u << 20) ? hasp_realloc(buf, cap * 2) : NULL;
            if (!nb) {
                hasp_free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return cfg_fail(cfg, HASP_ERR_NOMEM, "'%s' is too large or memory ran out", path);
    *out = buf;
    *len = n;
    return 0;
}

int hasp_config_add_cert_key_mem(hasp_config *cfg, const uint8_t *chain_pem, size_t chain_len,
                                 const uint8_t *key_pem, size_t key_len)
{
    if (cfg->ncreds >= HASP_MAX_CERTS)
        return cfg_fail(cfg, HASP_ERR_USAGE, "too many certificates (at most %d)", HASP_MAX_CERTS);
    hasp_cred cred;
    memset(&cred, 0, sizeof(cred));
    const uint8_t *p = chain_pem, *end = chain_pem + chain_len;
    char label[64];
    for (;;) {
        uint8_t *der;
        size_t der_len;
        int rc = hasp_pem_next(&p, end, label, sizeof(label), &der, &der_len);
        if (rc < 0) {
            cfg_fail(cfg, HASP_ERR_CONFIG, "the certificate chain is not valid PEM: %s",
                     hasp_err_last()->msg);
            goto fail;
        }
        if (rc == 0) break;
        if (strcmp(label, "CERTIFICATE") != 0) {
            hasp_free(der);
            continue;
        }
        if (cred.n >= HASP_MAX_CHAIN) {
            hasp_free(der);
            cfg_fail(cfg, HASP_ERR_CONFIG, "the certificate chain has more than %d certificates",
                     HASP_MAX_CHAIN);
            goto fail;
        }
        cred.chain[cred.n] = der;
        cred.chain_len[cred.n] = der_len;
        cred.n++;
    }
    if (cred.n == 0) {
        cfg_fail(cfg, HASP_ERR_CONFIG, "no CERTIFICATE block found in the certificate file");
        goto fail;
    }
    cred.key = hasp_pkey_from_private_pem(key_pem, key_len);
    if (!cred.key) {
        cfg_fail(cfg, HASP_ERR_CONFIG,
                 "cannot read the private key (PEM PKCS#1, SEC1 or PKCS#8, unencrypted): %s",
                 hasp_err_last()->msg);
        goto fail;
    }
    cred.key_type = hasp_pkey_type(cred.key);
    const uint8_t *spki;
    size_t spki_len;
    if (hasp_x509_spki(cred.chain[0], cred.chain_len[0], &spki, &spki_len) < 0) {
        cfg_fail(cfg, HASP_ERR_CONFIG, "cannot parse the leaf certificate: %s",
                 hasp_err_last()->msg);
        goto fail;
    }
    if (hasp_x509_parse(cred.chain[0], cred.chain_len[0], &cred.leaf) < 0) {
        cfg_fail(cfg, HASP_ERR_CONFIG, "cannot parse the leaf certificate: %s",
                 hasp_err_last()->msg);
        goto fail;
    }
    hasp_pkey *pub = hasp_pkey_from_spki(spki, spki_len);
    int match = pub && hasp_pkey_matches(cred.key, pub) == 1;
    hasp_pkey_free(pub);
    if (!match) {
        cfg_fail(cfg, HASP_ERR_CONFIG,
                 "the private key does not belong to the first certificate of the chain");
        goto fail;
    }
    cfg->creds[cfg->ncreds++] = cred;
    return 0;
fail:
    for (size_t j = 0; j < cred.n; j++)
        hasp_free(cred.chain[j]);
    hasp_pkey_free(cred.key);
    return cfg->errmsg[0] ? HASP_ERR_CONFIG : HASP_ERR_CONFIG;
}

int hasp_config_add_cert_key_file(hasp_config *cfg, const char *chain_file, const char *key_file)
{
    uint8_t *chain = NULL, *key = NULL;
    size_t chain_len, key_len;
    GUARD(read_file(cfg, chain_file, &chain, &chain_len));
    int rc = read_file(cfg, key_file, &key, &key_len);
    if (rc == 0) {
        rc = hasp_config_add_cert_key_mem(cfg, chain, chain_len, key, key_len);
        if (rc < 0) {
            char tmp[512];
            snprintf(tmp, sizeof(tmp), "%s", cfg->errmsg);
            cfg_fail(cfg, rc, "%s (certificate '%s', key '%s')", tmp, chain_file, key_file);
        }
        hasp_wipe(key, key_len);
    }
    hasp_free(chain);
    hasp_free(key);
    return rc;
}

static int ensure_store(hasp_config *cfg)
{
    if (!cfg->anchors) cfg->anchors = hasp_x509_store_new();
    if (!cfg->anchors) return cfg_fail(cfg, HASP_ERR_NOMEM, "out of memory");
    return 0;
}

int hasp_config_set_ca_file(hasp_config *cfg, const char *path)
{
    GUARD(ensure_store(cfg));
    int rc = hasp_x509_store_add_file(cfg->anchors, path);
    if (rc < 0)
        return cfg_fail(cfg, HASP_ERR_CONFIG, "cannot load trust anchors from '%s': %s", path,
                        hasp_err_last()->msg);
    cfg->anchors_set = 1;
    return 0;
}

int hasp_config_set_ca_dir(hasp_config *cfg, const char *path)
{
    GUARD(ensure_store(cfg));
    int rc = hasp_x509_store_add_dir(cfg->anchors, path);
    if (rc < 0)
        return cfg_fail(cfg, HASP_ERR_CONFIG, "cannot load trust anchors from '%s': %s", path,
                        hasp_err_last()->msg);
    cfg->anchors_set = 1;
    return 0;
}

int hasp_config_set_ca_mem(hasp_config *cfg, const uint8_t *pem, size_t len)
{
    GUARD(ensure_store(cfg));
    int rc = hasp_x509_store_add_pem(cfg->anchors, pem, len);
    if (rc < 0)
        return cfg_fail(cfg, HASP_ERR_CONFIG, "cannot load trust anchors: %s",
                        hasp_err_last()->msg);
    cfg->anchors_set = 1;
    return 0;
}

const struct hasp_x509_store *config_anchors(const hasp_config *ccfg)
{
    hasp_config *cfg = (hasp_config *)ccfg; /* lazy, once, under the lock */
    pthread_mutex_lock(&cfg->lock);
    if (!cfg->anchors_set) {
        if (ensure_store(cfg) == 0 && hasp_x509_store_load_system(cfg->anchors) < 0) {
            /* An empty store: every chain then fails with unknown_ca, and says why. */
        }
        cfg->anchors_set = 1;
    }
    pthread_mutex_unlock(&cfg->lock);
    return cfg->anchors;
}

void hasp_config_insecure_noverifycert(hasp_config *cfg)
{
    cfg->verify_cert = 0;
}

void hasp_config_insecure_noverifyname(hasp_config *cfg)
{
    cfg->verify_name = 0;
}

void hasp_config_set_verify_time(hasp_config *cfg, int64_t t)
{
    cfg->verify_time = t;
}

int hasp_config_set_verify_profile(hasp_config *cfg, int profile)
{
    if (profile != HASP_X509_PROFILE_WEBPKI && profile != HASP_X509_PROFILE_RFC5280)
        return cfg_fail(cfg, HASP_ERR_USAGE,
                        "verify profile %d is neither HASP_X509_PROFILE_WEBPKI nor "
                        "HASP_X509_PROFILE_RFC5280",
                        profile);
    cfg->verify_profile = profile;
    return 0;
}

int hasp_config_add_crl_mem(hasp_config *cfg, const uint8_t *data, size_t len)
{
    if (!cfg->crls && !(cfg->crls = hasp_x509_store_new()))
        return cfg_fail(cfg, HASP_ERR_NOMEM, "out of memory");
    int rc = hasp_x509_store_add_crl(cfg->crls, data, len);
    if (rc < 0) return cfg_fail(cfg, HASP_ERR_CONFIG, "cannot load CRLs: %s", hasp_err_last()->msg);
    return 0;
}

int hasp_config_add_crl_file(hasp_config *cfg, const char *path)
{
    if (!cfg->crls && !(cfg->crls = hasp_x509_store_new()))
        return cfg_fail(cfg, HASP_ERR_NOMEM, "out of memory");
    int rc = hasp_x509_store_add_crl_file(cfg->crls, path);
    if (rc < 0)
        return cfg_fail(cfg, HASP_ERR_CONFIG, "cannot load CRLs from %s", hasp_err_last()->msg);
    return 0;
}

int hasp_config_set_crl_check(hasp_config *cfg, int mode)
{
    if (mode != HASP_X509_CRL_IF_PRESENT && mode != HASP_X509_CRL_LEAF &&
        mode != HASP_X509_CRL_CHAIN)
        return cfg_fail(cfg, HASP_ERR_USAGE,
                        "CRL check mode %d is none of HASP_X509_CRL_IF_PRESENT, _LEAF, _CHAIN",
                        mode);
    cfg->crl_check = mode;
    return 0;
}

int hasp_config_set_verify_depth(hasp_config *cfg, int depth)
{
    if (depth < 0 || depth > 255)
        return cfg_fail(cfg, HASP_ERR_USAGE,
                        "verify depth %d is out of range: 0 to 255 intermediates", depth);
    cfg->verify_depth = depth + 1; /* hasp_x509_params counts the anchor too */
    return 0;
}

int hasp_config_set_verify_client(hasp_config *cfg, int mode)
{
    if (mode < HASP_VERIFY_CLIENT_NONE || mode > HASP_VERIFY_CLIENT_REQUIRE)
        return cfg_fail(cfg, HASP_ERR_USAGE, "unknown client verification mode %d", mode);
    cfg->verify_client = mode;
    return 0;
}

void hasp_config_get_limits(const hasp_config *cfg, hasp_limits *out)
{
    out->max_handshake_size = cfg->max_hs_size;
    out->max_chain_len = cfg->max_chain_len;
    out->max_extensions = cfg->max_extensions;
    out->reneg_per_minute = cfg->reneg_per_minute;
    out->max_buffered = cfg->max_buffered;
    out->handshake_timeout_ms = cfg->handshake_timeout_ms;
}

int hasp_config_set_limits(hasp_config *cfg, const hasp_limits *l)
{
    if (l->max_handshake_size < 1024 || l->max_handshake_size > (1u << 24) ||
        l->max_chain_len < 1 || l->max_chain_len > 16 ||
        (l->max_extensions && l->max_extensions < 8) || l->reneg_per_minute > 8)
        return cfg_fail(cfg, HASP_ERR_USAGE,
                        "limits out of range: handshake size 1 KiB..16 MiB, chain 1..16, "
                        "extensions 0 (no limit) or 8 and up, renegotiations per minute 0..8");
    cfg->max_hs_size = l->max_handshake_size;
    cfg->max_chain_len = l->max_chain_len;
    cfg->max_extensions = l->max_extensions;
    cfg->reneg_per_minute = l->reneg_per_minute;
    cfg->max_buffered = l->max_buffered;
    cfg->handshake_timeout_ms = l->handshake_timeout_ms;
    return 0;
}

void hasp_config_set_ticket_single_use(hasp_config *cfg, int single_use)
{
    cfg->ticket_single_use = single_use;
}

int hasp_config_set_psk_modes(hasp_config *cfg, int modes)
{
    if (!cfg || modes <= 0 || (modes & ~(HASP_PSK_KE | HASP_PSK_DHE_KE)))
        return cfg ? cfg_fail(cfg, HASP_ERR_USAGE,
                              "PSK modes are HASP_PSK_KE, HASP_PSK_DHE_KE or both (got %d)", modes)
                   : HASP_ERR_USAGE;
    cfg->psk_modes = modes;
    return 0;
}

int hasp_config_set_early_data(hasp_config *cfg, uint32_t max_bytes)
{
    if (!cfg) return HASP_ERR_USAGE;
    if (max_bytes && !cfg->early_strikes) {
        cfg->early_strikes = used_tickets_new(4096);
        if (!cfg->early_strikes)
            return cfg_fail(cfg, HASP_ERR_NOMEM, "no memory for the 0-RTT replay register");
    }
    if (max_bytes && !cfg->max_early_data)
        cfg->early_since = cfg->now ? cfg->now(cfg->now_arg) : (int64_t)time(NULL);
    cfg->max_early_data = max_bytes;
    return 0;
}

void hasp_config_set_max_handshake_size(hasp_config *cfg, size_t bytes)
{
    cfg->max_hs_size = bytes < 1024 ? 1024 : bytes;
}

void hasp_config_set_rng_for_testing(hasp_config *cfg,
                                     int (*rng)(void *arg, uint8_t *out, size_t len), void *arg)
{
    cfg->rng = rng;
    cfg->rng_arg = arg;
}

int hasp_config_set_kex_private_for_testing(hasp_config *cfg, uint16_t group, const uint8_t *priv,
                                            size_t len)
{
    if (cfg->ntest_kex >= 4 || len > sizeof(cfg->test_kex_priv[0]))
        return cfg_fail(cfg, HASP_ERR_USAGE, "too many or too long injected key exchange keys");
    cfg->test_kex_group[cfg->ntest_kex] = group;
    memcpy(cfg->test_kex_priv[cfg->ntest_kex], priv, len);
    cfg->test_kex_len[cfg->ntest_kex] = len;
    cfg->ntest_kex++;
    return 0;
}

void hasp_config_set_session_cache(hasp_config *cfg, size_t max_entries, uint32_t lifetime_seconds)
{
    session_cache_free(cfg->cache);
    cfg->cache = max_entries ? session_cache_new(max_entries) : NULL;
    if (lifetime_seconds) cfg->session_lifetime = lifetime_seconds;
}

void hasp_config_set_session_callbacks(hasp_config *cfg, hasp_session_new_cb new_cb,
                                       hasp_session_get_cb get_cb, hasp_session_remove_cb remove_cb,
                                       void *arg)
{
    cfg->sess_new = new_cb;
    cfg->sess_get = get_cb;
    cfg->sess_remove = remove_cb;
    cfg->sess_arg = arg;
}

void hasp_config_set_tickets(hasp_config *cfg, int enabled, unsigned tls13_count)
{
    cfg->tickets = enabled;
    cfg->tickets13 = enabled ? (tls13_count > 16 ? 16 : tls13_count) : 0;
}

int hasp_config_rotate_ticket_key(hasp_config *cfg)
{
    int rc =
        ticket_keys_rotate(&cfg->tkeys, cfg->now ? cfg->now(cfg->now_arg) : (int64_t)time(NULL));
    if (rc == HASP_ERR_USAGE)
        return cfg_fail(cfg, rc,
                        "the ticket keys come from outside (hasp_config_set_ticket_keys): rotate "
                        "them by setting the new list");
    return rc;
}

/* One key of a fleet's list: its 16-byte name, and the AES-256-GCM key
 * HKDF-SHA256 derives from the rest (salt "hasp ticket key", info the name). */
static int ticket_key_from(const uint8_t *in, size_t len, ticket_key *k)
{
    static const char salt[] = "hasp ticket key";
    uint8_t prk[32];
    memcpy(k->name, in, TICKET_KEY_NAME_LEN);
    int rc = hasp_hkdf_extract(HASP_HASH_SHA256, (const uint8_t *)salt, sizeof(salt) - 1,
                               in + TICKET_KEY_NAME_LEN, len - TICKET_KEY_NAME_LEN, prk);
    if (rc == 0)
        rc = hasp_hkdf_expand(HASP_HASH_SHA256, prk, sizeof(prk), k->name, TICKET_KEY_NAME_LEN,
                              k->key, sizeof(k->key));
    hasp_wipe(prk, sizeof(prk));
    k->created = 0;
    k->valid = rc == 0;
    return rc;
}

static int set_ticket_keys(hasp_config *cfg, const uint8_t *const *keys, const size_t *lens,
                           size_t n)
{
    if (n == 0) return cfg_fail(cfg, HASP_ERR_USAGE, "no ticket key given");
    if (n > TICKET_KEYS_MAX)
        return cfg_fail(cfg, HASP_ERR_USAGE,
                        "%zu ticket keys: at most %d are kept (the first issues "
                        "tickets; drop the oldest)",
                        n, TICKET_KEYS_MAX);
    ticket_key *tk = hasp_calloc(n, sizeof(*tk));
    if (!tk) return cfg_fail(cfg, HASP_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (lens[i] != 48 && lens[i] != 80)
            rc = cfg_fail(cfg, HASP_ERR_USAGE,
                          "ticket key %zu has %zu bytes: a key is 48 or 80 bytes "
                          "(nginx's ssl_session_ticket_key files)",
                          i + 1, lens[i]);
        else if (ticket_key_from(keys[i], lens[i], &tk[i]) < 0)
            rc = cfg_fail(cfg, HASP_ERR_CRYPTO, "could not derive ticket key %zu", i + 1);
        for (size_t j = 0; j < i && rc == 0; j++)
            if (!memcmp(tk[j].name, tk[i].name, TICKET_KEY_NAME_LEN))
                rc = cfg_fail(cfg, HASP_ERR_USAGE,
                              "ticket keys %zu and %zu have the same name "
                              "(their first 16 bytes)",
                              j + 1, i + 1);
    }
    if (rc == 0) ticket_keys_set(&cfg->tkeys, tk, n);
    hasp_wipe(tk, n * sizeof(*tk));
    hasp_free(tk);
    return rc;
}

int hasp_config_set_ticket_keys(hasp_config *cfg, const uint8_t *keys, size_t n, size_t key_len)
{
    if (!cfg || (!keys && n)) return HASP_ERR_USAGE;
    if (key_len != 48 && key_len != 80)
        return cfg_fail(cfg, HASP_ERR_USAGE, "a ticket key is 48 or 80 bytes, not %zu", key_len);
    if (n > TICKET_KEYS_MAX) return set_ticket_keys(cfg, NULL, NULL, n);
    const uint8_t *ptr[TICKET_KEYS_MAX];
    size_t lens[TICKET_KEYS_MAX];
    for (size_t i = 0; i < n; i++) {
        ptr[i] = keys + i * key_len;
        lens[i] = key_len;
    }
    return set_ticket_keys(cfg, ptr, lens, n);
}

/* A key file: refused when its group or others may read it; its size a
 * multiple of 80 (80-byte keys) or else of 48 (48-byte keys). */
static int read_key_file(hasp_config *cfg, const char *path, uint8_t *buf, size_t cap, size_t *len,
                         size_t *key_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cfg_fail(cfg, HASP_ERR_CONFIG, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cfg_fail(cfg, HASP_ERR_CONFIG, "'%s' is not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return cfg_fail(cfg, HASP_ERR_CONFIG,
                        "'%s' is readable by its group or others (mode %03o): ticket keys are "
                        "secrets; chmod 600 '%s'",
                        path, (unsigned)(st.st_mode & 0777), path);
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        if (n == cap) {
            char extra;
            if (read(fd, &extra, 1) > 0) n = cap + 1;
            break;
        }
    }
    close(fd);
    *len = n;
    if (n == 0 || n > cap || (n % 80 && n % 48)) {
        hasp_wipe(buf, cap);
        return cfg_fail(cfg, HASP_ERR_CONFIG,
                        "'%s' has %zu bytes: a ticket key file holds 80-byte or 48-byte keys "
                        "(openssl rand 80 > FILE), at most %d",
                        path, n > cap ? cap : n, TICKET_KEYS_MAX);
    }
    *key_len = n % 80 == 0 ? 80 : 48;
    return 0;
}

int hasp_config_set_ticket_key_files(hasp_config *cfg, const char *const *paths, size_t n)
{
    if (!cfg || (!paths && n)) return HASP_ERR_USAGE;
    enum { CAP = TICKET_KEYS_MAX * 80 };
    uint8_t *buf = hasp_malloc(CAP * (n ? n : 1));
    if (!buf) return cfg_fail(cfg, HASP_ERR_NOMEM, "out of memory");
    const uint8_t *ptr[TICKET_KEYS_MAX];
    size_t lens[TICKET_KEYS_MAX], nkeys = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = 0, klen = 0;
        rc = read_key_file(cfg, paths[i], buf + i * CAP, CAP, &len, &klen);
        for (size_t off = 0; rc == 0 && off < len; off += klen) {
            if (nkeys == TICKET_KEYS_MAX) {
                rc = cfg_fail(cfg, HASP_ERR_CONFIG, "more than %d ticket keys in the files given",
                              TICKET_KEYS_MAX);
                break;
            }
            ptr[nkeys] = buf + i * CAP + off;
            lens[nkeys++] = klen;
        }
    }
    if (rc == 0) rc = set_ticket_keys(cfg, ptr, lens, nkeys);
    hasp_wipe(buf, CAP * (n ? n : 1));
    hasp_free(buf);
    return rc;
}

void hasp_config_set_time_cb(hasp_config *cfg, int64_t (*now)(void *arg), void *arg)
{
    cfg->now = now;
    cfg->now_arg = arg;
}

void hasp_config_set_renegotiation(hasp_config *cfg, int policy, unsigned per_minute)
{
    cfg->reneg_policy = policy;
    cfg->reneg_per_minute = per_minute;
}

void hasp_config_allow_keylog(hasp_config *cfg)
{
    cfg->keylog_allowed = 1;
}

void hasp_config_set_event_cb(hasp_config *cfg, hasp_event_cb cb, void *arg)
{
    cfg->ev_cb = cb;
    cfg->ev_arg = arg;
}
