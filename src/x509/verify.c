/* Path building and validation (RFC 5280 6, RFC 4158), as the web PKI
 * uses it. Builds depth-first from the leaf towards a trust anchor,
 * trying every candidate issuer (anchors first) with backtracking, under a
 * bound on the work done; each complete path is then validated whole. */
#include "../alloc.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../crypto/crypto.h"
#include "../crypto/x509_extra.h"
#include "store.h"

#define DEFAULT_MAX_DEPTH 10
#define PATH_HARD_MAX 16   /* certificates in a path, self-issued ones included */
#define MAX_PEER_CERTS 256 /* what a peer may send */
#define MAX_STEPS 2000     /* issuer candidates examined */
#define MAX_SIG_CHECKS 128 /* signature verifications per call */
#define NC_BUDGET 1048576L /* name-constraint comparisons per path */

typedef struct cand {
    const hasp_x509_cert *c;
    int source; /* HASP_X509_SRC_* */
    int is_anchor;
    const hasp_x509_pubkey *key; /* loaded by the store, or own_key */
    hasp_x509_pubkey *own_key;
    int key_state; /* 0 not tried, 1 loaded, -1 failed */
} cand;

typedef struct sig_memo {
    const cand *child, *parent;
    int rc;
    char *why; /* only for failures */
} sig_memo;

typedef struct vctx {
    const hasp_x509_store *anchors;
    const hasp_x509_store *extra;
    const hasp_x509_params *p;
    int64_t now;
    int max_depth;
    cand *peer; /* [0] is the leaf */
    size_t npeer;
    cand *anc; /* one per anchor store entry (by seq), filled on use */
    cand *extra_c;
    const cand *path[PATH_HARD_MAX];
    long steps, sig_checks;
    int gave_up;
    sig_memo *memo; /* every (child, parent) pair checked: a few per chain */
    size_t nmemo, memo_cap;
    /* the failure to report: highest priority wins, first among equals */
    int fail_prio, fail_code;
    char fail[768];
    const cand *fail_path[PATH_HARD_MAX];
    size_t fail_path_len;
    int directly_trusted;
} vctx;

static void cname(const cand *k, char *out, size_t cap)
{
    hasp_x509_subject_str(k->c, out, cap);
}

static void record(vctx *v, int prio, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void record(vctx *v, int prio, int code, const char *fmt, ...)
{
    if (prio <= v->fail_prio) return;
    v->fail_prio = prio;
    v->fail_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->fail, sizeof(v->fail), fmt, ap);
    va_end(ap);
    v->fail_path_len = 0;
}

/* ------------------------------------------------------------------ signatures */

static const hasp_x509_pubkey *cand_key(cand *k)
{
    if (k->key_state == 0) {
        if (!k->key) k->key = k->own_key = hasp_x509_pubkey_new(k->c->spki.p, k->c->spki.len);
        k->key_state = k->key ? 1 : -1;
    }
    return k->key;
}

static int key_fits(int key_type, int sig_alg)
{
    switch (sig_alg) {
    case HASP_SIG_RSA_PKCS1:
        return key_type == HASP_X509_KEY_RSA;
    case HASP_SIG_RSA_PSS:
        return key_type == HASP_X509_KEY_RSA || key_type == HASP_X509_KEY_RSA_PSS;
    case HASP_SIG_ECDSA:
        return key_type == HASP_X509_KEY_P256 || key_type == HASP_X509_KEY_P384 ||
               key_type == HASP_X509_KEY_P521;
    case HASP_SIG_ED25519:
        return key_type == HASP_X509_KEY_ED25519;
    default:
        return 0;
    }
}

/* Is child signed by parent? 0, or a HASP_ERR_CERT_* with why set. */
static int sig_check(vctx *v, const cand *child, cand *parent, char *why, size_t cap)
{
    for (size_t i = 0; i < v->nmemo; i++) {
        sig_memo *m = &v->memo[i];
        if (m->child == child && m->parent == parent) {
            snprintf(why, cap, "%s", m->why ? m->why : "");
            return m->rc;
        }
    }
    const hasp_x509_cert *c = child->c;
    /* the names, for the sentences of a failure only */
    char cn[256], pn[256];
#define NAMES() (cname(child, cn, sizeof(cn)), cname(parent, pn, sizeof(pn)))
    int rc = 0;
    why[0] = 0;
    if (!c->sig_alg) {
        rc = HASP_ERR_CERT_UNSUPPORTED;
        NAMES();
        snprintf(why, cap, "certificate '%.200s' is signed with %s, which hasp does not support",
                 cn, c->sig_name);
    } else if (c->sig_hash == HASP_HASH_SHA1 || c->sig_hash == HASP_HASH_MD5) {
        rc = HASP_ERR_CERT_UNSUPPORTED;
        NAMES();
        snprintf(why, cap,
                 "certificate '%.200s' is signed with %s; SHA-1 and MD5 signatures are refused", cn,
                 c->sig_name);
    } else if (!key_fits(parent->c->key_type, c->sig_alg)) {
        rc = HASP_ERR_CERT_SIGNATURE;
        NAMES();
        snprintf(why, cap,
                 "certificate '%.200s' is signed with %s, but the key of its issuer '%.200s' is %s",
                 cn, c->sig_name, pn, parent->c->key_desc);
    } else if (!cand_key(parent)) {
        rc = HASP_ERR_CERT_BAD;
        NAMES();
        snprintf(why, cap, "the public key (%s) of '%.200s' cannot be loaded: %.150s",
                 parent->c->key_desc, pn, hasp_err_last()->msg);
    } else if (v->sig_checks >= MAX_SIG_CHECKS) {
        rc = HASP_ERR_CERT_UNKNOWN_CA;
        v->gave_up = 1;
        snprintf(why, cap, "path building gave up after %d signature checks", MAX_SIG_CHECKS);
        return rc;
    } else {
        v->sig_checks++;
        if (hasp_x509_pubkey_verify(parent->key, c->sig_alg, c->sig_hash, c->tbs.p, c->tbs.len,
                                    c->sig.p, c->sig.len) < 0) {
            rc = HASP_ERR_CERT_SIGNATURE;
            NAMES();
            snprintf(
                why, cap,
                "the signature on certificate '%.200s' does not verify with the key of '%.200s'",
                cn, pn);
        }
    }
#undef NAMES
    if (v->nmemo == v->memo_cap) {
        size_t ncap = v->memo_cap ? v->memo_cap * 2 : 8;
        sig_memo *nm = hasp_realloc(v->memo, ncap * sizeof(*nm));
        if (!nm) return rc; /* not remembered: checked again if asked again */
        v->memo = nm;
        v->memo_cap = ncap;
    }
    sig_memo *m = &v->memo[v->nmemo++];
    m->child = child;
    m->parent = parent;
    m->rc = rc;
    m->why = NULL;
    if (rc && (m->why = hasp_malloc(strlen(why) + 1))) memcpy(m->why, why, strlen(why) + 1);
    return rc;
}

/* ------------------------------------------------------------------ path checks */

static int key_policy(const hasp_x509_cert *c, char *why, size_t cap, const char *name)
{
    switch (c->key_type) {
    case HASP_X509_KEY_RSA:
    case HASP_X509_KEY_RSA_PSS:
        if (c->key_bits < 2048 || c->key_bits % 8) {
            snprintf(why, cap,
                     "certificate '%s' has an %d-bit RSA key; hasp requires at least 2048 bits, "
                     "a multiple of 8",
                     name, c->key_bits);
            return HASP_ERR_CERT_UNSUPPORTED;
        }
        return 0;
    case HASP_X509_KEY_P256:
    case HASP_X509_KEY_P384:
    case HASP_X509_KEY_P521:
    case HASP_X509_KEY_ED25519:
        return 0;
    default:
        snprintf(why, cap, "certificate '%s' has a public key hasp does not accept: %s", name,
                 c->key_desc[0] ? c->key_desc : "unknown");
        return HASP_ERR_CERT_UNSUPPORTED;
    }
}

static int serial_ok(hasp_rd s)
{
    if (s.len == 0 || (s.p[0] & 0x80)) return 0; /* negative */
    while (s.len && s.p[0] == 0) {
        s.p++;
        s.len--;
    }
    return s.len >= 1 && s.len <= 20; /* non-zero, at most 20 octets */
}

static int is_purpose_ok(const hasp_x509_cert *c, int purpose)
{
    if (!purpose || !c->has_eku || c->eku_any) return 1;
    return purpose == HASP_X509_PURPOSE_SERVER ? c->eku_server : c->eku_client;
}

static const char *purpose_name(int purpose)
{
    return purpose == HASP_X509_PURPOSE_SERVER ? "serverAuth (TLS server)"
                                               : "clientAuth (TLS client)";
}

/* Validate path[0..len-1] (leaf first, anchor last). 0, or a failure
 * recorded with priority 3. */
static int check_path(vctx *v, size_t len)
{
    char why[1400], name[256];
    int code = 0;
    const hasp_x509_params *p = v->p;
    int rfc5280 = p->profile == HASP_X509_PROFILE_RFC5280;
    why[0] = 0;
    for (size_t i = 0; i < len && !code; i++) {
        const hasp_x509_cert *c = v->path[i]->c;
        int is_leaf = i == 0, is_anchor = i == len - 1;
        cname(v->path[i], name, sizeof(name));
        const char *role = is_leaf ? "" : is_anchor ? "trust anchor " : "intermediate ";
        if (c->defect_code) {
            code = c->defect_code;
            snprintf(why, sizeof(why), "%scertificate '%s' is invalid: %s", role, name, c->defect);
        } else if (c->version != 3) {
            code = HASP_ERR_CERT_BAD;
            snprintf(why, sizeof(why), "%scertificate '%s' is X.509 v%d; only v3 is accepted", role,
                     name, c->version);
        } else if (v->now < c->not_before) {
            char a[40], b[40];
            hasp_time_str(c->not_before, a, sizeof(a));
            hasp_time_str(v->now, b, sizeof(b));
            code = HASP_ERR_CERT_EXPIRED;
            snprintf(why, sizeof(why),
                     "%scertificate '%s' is not valid before %s (validation time %s)", role, name,
                     a, b);
        } else if (v->now > c->not_after) {
            char a[40], b[40];
            hasp_time_str(c->not_after, a, sizeof(a));
            hasp_time_str(v->now, b, sizeof(b));
            code = HASP_ERR_CERT_EXPIRED;
            snprintf(why, sizeof(why), "%scertificate '%s' expired on %s (validation time %s)",
                     role, name, a, b);
        } else if ((code = key_policy(c, why, sizeof(why), name)) != 0) {
        } else if ((!is_anchor || is_leaf) && !serial_ok(c->serial)) {
            code = HASP_ERR_CERT_BAD;
            snprintf(why, sizeof(why),
                     "%scertificate '%s' has a serial number that is zero, negative or longer "
                     "than 20 octets (RFC 5280 4.1.2.2)",
                     role, name);
        } else if (c->has_ku && (c->ku & HASP_KU_KEY_CERT_SIGN) && !(c->has_bc && c->ca)) {
            code = HASP_ERR_CERT_CONSTRAINTS;
            snprintf(why, sizeof(why),
                     "%scertificate '%s' asserts keyCertSign but is not a CA (RFC 5280 4.2.1.9)",
                     role, name);
        } else if (c->has_bc && c->ca && c->has_ku && !(c->ku & HASP_KU_KEY_CERT_SIGN)) {
            /* RFC 5280 4.2.1.3 and 4.2.1.9 tie the two together. */
            code = HASP_ERR_CERT_CONSTRAINTS;
            snprintf(why, sizeof(why),
                     "%scertificate '%s' is a CA (basicConstraints cA) but its keyUsage lacks "
                     "keyCertSign",
                     role, name);
        } else if ((!is_anchor || (rfc5280 && !is_leaf)) && !c->self_issued && !c->aki_has_keyid) {
            /* RFC 5280 4.2.1.1: every certificate not self-issued. The web
             * PKI profile exempts anchors: a trust anchor is trusted for its
             * name and key, not for how it was issued. */
            code = HASP_ERR_CERT_BAD;
            snprintf(why, sizeof(why),
                     "%scertificate '%s' has no authorityKeyIdentifier (RFC 5280 4.2.1.1)%s", role,
                     name,
                     is_anchor ? "; the rfc5280 profile requires one on a trust anchor that is "
                                 "not self-issued (the webpki profile does not)"
                               : "");
        }
        if (code) break;
        if (!is_leaf || v->directly_trusted) {
            if (is_leaf) {
                /* a directly trusted leaf: only its own validity counts */
            } else if (!c->has_bc || !c->ca) {
                code = HASP_ERR_CERT_CONSTRAINTS;
                snprintf(why, sizeof(why),
                         "%scertificate '%s' is not a CA (%s), so it cannot issue certificates",
                         role, name,
                         c->has_bc ? "basicConstraints cA is false" : "it has no basicConstraints");
            } else if (!c->bc_critical) {
                code = HASP_ERR_CERT_CONSTRAINTS;
                snprintf(why, sizeof(why),
                         "%sCA certificate '%s' has a non-critical basicConstraints "
                         "(RFC 5280 4.2.1.9)",
                         role, name);
            } else if (!c->has_ski) {
                code = HASP_ERR_CERT_BAD;
                snprintf(why, sizeof(why),
                         "%sCA certificate '%s' has no subjectKeyIdentifier (RFC 5280 4.2.1.2)",
                         role, name);
            } else if (x509_name_rdn_count(c->subject) == 0) {
                code = HASP_ERR_CERT_BAD;
                snprintf(why, sizeof(why), "%sCA certificate has an empty subject", role);
            } else if (!is_purpose_ok(c, p->purpose)) {
                code = HASP_ERR_CERT_USAGE;
                snprintf(why, sizeof(why),
                         "%sCA certificate '%s' has an extendedKeyUsage without %s", role, name,
                         purpose_name(p->purpose));
            } else if (c->pathlen >= 0) {
                /* RFC 5280 4.2.1.9: non-self-issued intermediates below it. */
                int below = 0;
                for (size_t j = 1; j < i; j++)
                    below += !v->path[j]->c->self_issued;
                if (below > c->pathlen) {
                    code = HASP_ERR_CERT_PATH_LEN;
                    snprintf(why, sizeof(why),
                             "%sCA certificate '%s' allows %d intermediate%s below it "
                             "(pathLenConstraint) but the path has %d",
                             role, name, c->pathlen, c->pathlen == 1 ? "" : "s", below);
                }
            }
            if (!code && !rfc5280 && is_anchor && !is_leaf && c->has_eku) {
                code = HASP_ERR_CERT_USAGE;
                snprintf(why, sizeof(why),
                         "trust anchor '%s' has an extendedKeyUsage, which root certificates "
                         "must not have (CABF BR 7.1.2.1.2); the rfc5280 profile accepts it",
                         name);
            }
            if (!code && !rfc5280 && is_anchor && !is_leaf && c->has_aki &&
                (!c->aki_has_keyid || c->aki_has_issuer_serial ||
                 (c->self_issued && c->has_ski &&
                  (c->aki_keyid.len != c->ski.len ||
                   memcmp(c->aki_keyid.p, c->ski.p, c->ski.len) != 0)))) {
                code = HASP_ERR_CERT_BAD;
                snprintf(why, sizeof(why),
                         "trust anchor '%s' has an authorityKeyIdentifier that is not just its "
                         "own key identifier (CABF BR 7.1.2.1.3); the rfc5280 profile accepts it",
                         name);
            }
        }
        if (!code && is_leaf && !v->directly_trusted) {
            if (c->has_nc && !(c->has_bc && c->ca)) {
                code = HASP_ERR_CERT_CONSTRAINTS;
                snprintf(why, sizeof(why),
                         "end-entity certificate '%s' has nameConstraints, which only CAs may "
                         "have (RFC 5280 4.2.1.10)",
                         name);
            } else if (!rfc5280 && p->purpose == HASP_X509_PURPOSE_SERVER && c->has_eku &&
                       c->eku_critical) {
                code = HASP_ERR_CERT_USAGE;
                snprintf(why, sizeof(why),
                         "certificate '%s' has a critical extendedKeyUsage, which TLS server "
                         "certificates must not have (CABF BR 7.1.2.7.6); the rfc5280 profile "
                         "accepts it",
                         name);
            } else if (!rfc5280 && p->purpose == HASP_X509_PURPOSE_SERVER &&
                       ((c->has_bc && c->ca) || (c->has_ku && (c->ku & HASP_KU_KEY_CERT_SIGN)))) {
                code = HASP_ERR_CERT_CONSTRAINTS;
                snprintf(why, sizeof(why),
                         "certificate '%s' is a CA certificate used as a TLS server certificate, "
                         "which the webpki profile refuses (CABF BR 7.1.2.7.8: cA must be false); "
                         "the rfc5280 profile accepts it",
                         name);
            } else if (!rfc5280 && p->purpose == HASP_X509_PURPOSE_SERVER && !c->has_eku) {
                code = HASP_ERR_CERT_USAGE;
                snprintf(why, sizeof(why),
                         "certificate '%s' has no extendedKeyUsage; the webpki profile requires "
                         "serverAuth in it (CABF BR 7.1.2.7.6), the rfc5280 profile does not",
                         name);
            } else if (!rfc5280 && c->has_san && c->san_critical &&
                       x509_name_rdn_count(c->subject) > 0) {
                code = HASP_ERR_CERT_BAD;
                snprintf(why, sizeof(why),
                         "certificate '%s' has a critical subjectAltName and a non-empty subject "
                         "(CABF BR 7.1.2.7.12); the rfc5280 profile accepts it",
                         name);
            }
        }
        if (!code && is_leaf) {
            if (!rfc5280 && p->purpose && c->has_eku && c->eku_any) {
                /* CABF BR 7.1.2.7.10: anyExtendedKeyUsage MUST NOT be in a
                 * subscriber certificate (on a CA it is accepted). */
                code = HASP_ERR_CERT_USAGE;
                snprintf(why, sizeof(why),
                         "certificate '%s' has anyExtendedKeyUsage, which end-entity "
                         "certificates must not have (CABF BR 7.1.2.7.10); the rfc5280 profile "
                         "accepts it",
                         name);
            } else if (!is_purpose_ok(c, p->purpose)) {
                code = HASP_ERR_CERT_USAGE;
                snprintf(why, sizeof(why),
                         "certificate '%s' is not for %s: its extendedKeyUsage does not include it",
                         name, purpose_name(p->purpose));
            } else if (p->key_usage && c->has_ku && (c->ku & p->key_usage) != p->key_usage) {
                code = HASP_ERR_CERT_USAGE;
                snprintf(why, sizeof(why),
                         "certificate '%s' has a keyUsage (0x%03x) without the bits this key "
                         "exchange needs (0x%03x)",
                         name, c->ku, p->key_usage);
            }
        }
    }
    /* Name constraints of each CA over the certificates below it; a
     * self-issued intermediate is exempt (RFC 5280 6.1.3 b). */
    long budget = NC_BUDGET;
    for (size_t j = 1; j < len && !code; j++) {
        const hasp_x509_cert *ca = v->path[j]->c;
        if (!ca->has_nc) continue;
        if (rfc5280 && !ca->nc_critical) {
            cname(v->path[j], name, sizeof(name));
            code = HASP_ERR_CERT_CONSTRAINTS;
            snprintf(why, sizeof(why),
                     "CA certificate '%s' has a non-critical nameConstraints, which the rfc5280 "
                     "profile refuses (RFC 5280 4.2.1.10: it must be critical); the webpki profile "
                     "accepts it",
                     name);
            break;
        }
        for (size_t i = j; i-- > 0 && !code;) {
            const hasp_x509_cert *c = v->path[i]->c;
            if (i > 0 && c->self_issued) continue;
            char err[500] = "";
            code = x509_nc_check(ca, c, i == 0, &budget, err, sizeof(err));
            if (code) {
                cname(v->path[i], name, sizeof(name));
                snprintf(why, sizeof(why), "certificate '%s' violates name constraints: %s", name,
                         err);
            }
        }
    }
    if (!code && p->host) {
        const hasp_x509_cert *c = v->path[0]->c;
        cname(v->path[0], name, sizeof(name));
        if (!hasp_x509_cert_matches_host(c, p->host, p->allow_cn_fallback)) {
            char names[400];
            x509_san_str(c, names, sizeof(names));
            code = HASP_ERR_CERT_NAME;
            snprintf(why, sizeof(why), "certificate '%s' does not match '%s': it holds %s%s", name,
                     p->host, names,
                     c->has_san ? ""
                                : " (the subject CN is not used unless CN fallback is enabled)");
        } else if (!rfc5280) {
            char err[400] = "";
            if (x509_cn_consistent(c, err, sizeof(err)) != 0) {
                code = HASP_ERR_CERT_NAME;
                snprintf(why, sizeof(why),
                         "certificate '%s' is inconsistent: %s; the rfc5280 profile accepts it",
                         name, err);
            }
        }
    }
    /* Revocation (RFC 5280 6.3), last: only a path that is otherwise
     * valid names the issuer whose CRL decides. */
    const hasp_x509_store *crls = p->crls ? p->crls : v->anchors;
    if (!code && !v->directly_trusted &&
        (p->crl_check != HASP_X509_CRL_IF_PRESENT || hasp_x509_store_crl_count(crls))) {
        const char *policy = p->crl_check == HASP_X509_CRL_CHAIN ? "crl_check chain: every "
                                                                   "certificate below the anchor"
                                                                 : "crl_check leaf";
        for (size_t i = 0; i + 1 < len && !code; i++) {
            int required = p->crl_check == HASP_X509_CRL_CHAIN ||
                           (p->crl_check == HASP_X509_CRL_LEAF && i == 0);
            cand *k = (cand *)v->path[i + 1];
            code = x509_crl_check(crls, v->path[i]->c, k->c, cand_key(k), v->now, required, policy,
                                  why, sizeof(why));
        }
    }
    if (code) {
        if (3 > v->fail_prio) {
            record(v, 3, code, "%s", why);
            memcpy(v->fail_path, v->path, len * sizeof(v->path[0]));
            v->fail_path_len = len;
        }
        return code;
    }
    return 0;
}

/* ------------------------------------------------------------------ building */

static int same_entity(const hasp_x509_cert *a, const hasp_x509_cert *b)
{
    return a == b || (a->subject_hash == b->subject_hash && a->spki.len == b->spki.len &&
                      memcmp(a->spki.p, b->spki.p, a->spki.len) == 0 &&
                      hasp_x509_name_eq(a->subject, b->subject));
}

static int build(vctx *v, size_t depth);

/* Try parent k as the issuer of path[depth-1]. 1 when a valid path was found. */
static int try_issuer(vctx *v, size_t depth, cand *k)
{
    const cand *cur = v->path[depth - 1];
    const hasp_x509_cert *c = cur->c, *pc = k->c;
    if (pc->subject_hash != c->issuer_hash || !hasp_x509_name_eq(c->issuer, pc->subject)) return 0;
    for (size_t i = 0; i < depth; i++)
        if (same_entity(v->path[i]->c, pc)) return 0; /* a loop */
    if (c->aki_has_keyid && pc->has_ski &&
        (c->aki_keyid.len != pc->ski.len || memcmp(c->aki_keyid.p, pc->ski.p, pc->ski.len) != 0)) {
        /* RFC 4158 3.5.12: another key of the same name. */
        char n[256], in[256];
        cname(cur, n, sizeof(n));
        cname(k, in, sizeof(in));
        record(v, 1, HASP_ERR_CERT_UNKNOWN_CA,
               "no path from certificate '%s' to a trusted root: a certificate named '%s' %s, but "
               "its subjectKeyIdentifier does not match the authorityKeyIdentifier (another key)",
               n, in, k->is_anchor ? "is in the trust store" : "was found");
        return 0;
    }
    if (++v->steps > MAX_STEPS) {
        v->gave_up = 1;
        return 0;
    }
    /* Depth: intermediates that are not self-issued, plus the anchor. */
    int depth_used = 1;
    for (size_t i = 1; i < depth; i++)
        depth_used += !v->path[i]->c->self_issued;
    if (!k->is_anchor) depth_used += !pc->self_issued;
    if (depth_used > v->max_depth) {
        char n[256];
        cname(v->path[0], n, sizeof(n));
        record(v, 2, HASP_ERR_CERT_PATH_LEN,
               "certificate '%s' has no path to a trust anchor within the maximum depth of %d "
               "intermediate%s (self-issued ones not counted)",
               n, v->max_depth - 1, v->max_depth == 2 ? "" : "s");
        return 0;
    }
    if (depth + 1 > PATH_HARD_MAX) {
        char n[256];
        cname(v->path[0], n, sizeof(n));
        record(v, 2, HASP_ERR_CERT_PATH_LEN,
               "certificate '%s' has no path to a trust anchor within %d certificates, the most "
               "hasp builds",
               n, PATH_HARD_MAX);
        return 0;
    }
    char why[600];
    int rc = sig_check(v, cur, k, why, sizeof(why));
    if (rc) {
        record(v, 2, rc, "%s", why);
        return 0;
    }
    v->path[depth] = k;
    return build(v, depth + 1);
}

static int build(vctx *v, size_t depth)
{
    const cand *cur = v->path[depth - 1];
    if (cur->is_anchor) return check_path(v, depth) == 0;
    const hasp_x509_cert *c = cur->c;
    /* Anchors first: the shortest path wins. */
    size_t first, n = x509_store_lookup(v->anchors, c->issuer_hash, &first);
    for (size_t i = 0; i < n && !v->gave_up; i++) {
        const hasp_x509_store_entry *e = v->anchors->index[first + i];
        cand *k = &v->anc[e->seq];
        if (!k->c) {
            k->c = &e->cert;
            k->source = HASP_X509_SRC_STORE;
            k->is_anchor = 1;
            k->key = e->key;
            k->key_state = e->key ? 1 : 0;
        }
        if (try_issuer(v, depth, k)) return 1;
    }
    for (size_t i = 1; i < v->npeer && !v->gave_up; i++) {
        if (!v->peer[i].c) continue;
        if (try_issuer(v, depth, &v->peer[i])) return 1;
    }
    if (v->extra) {
        n = x509_store_lookup(v->extra, c->issuer_hash, &first);
        for (size_t i = 0; i < n && !v->gave_up; i++) {
            const hasp_x509_store_entry *e = v->extra->index[first + i];
            cand *k = &v->extra_c[e->seq];
            if (!k->c) {
                k->c = &e->cert;
                k->source = HASP_X509_SRC_CONFIG;
                k->key = e->key;
                k->key_state = e->key ? 1 : 0;
            }
            if (try_issuer(v, depth, k)) return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ entry points */

static void set_result(vctx *v, hasp_x509_result *res, const cand *const *path, size_t len)
{
    res->path_len = len;
    for (size_t i = 0; i < len && i < HASP_X509_PATH_MAX; i++) {
        cname(path[i], res->path[i], sizeof(res->path[i]));
        res->path_source[i] = path[i]->source;
    }
}

static int finish(vctx *v, hasp_x509_result *res, int code)
{
    res->code = code;
    if (code)
        hasp_err_set(code, __FILE__, __LINE__, "certificate verify failed: %.480s", res->reason);
    return code;
}

int hasp_x509_verify(const hasp_x509_store *anchors, const hasp_x509_params *params,
                     const uint8_t *const *chain, const size_t *chain_len, size_t n,
                     hasp_x509_result *res)
{
    static const hasp_x509_params defaults;
    vctx v;
    memset(res, 0, sizeof(*res));
    memset(&v, 0, sizeof(v));
    v.p = params ? params : &defaults;
    v.anchors = anchors;
    v.extra = v.p->extra_intermediates;
    v.now = v.p->time ? v.p->time : (int64_t)time(NULL);
    v.max_depth = v.p->max_depth > 0 ? v.p->max_depth : DEFAULT_MAX_DEPTH;

    if (n == 0) {
        snprintf(res->reason, sizeof(res->reason), "the peer sent no certificate");
        return finish(&v, res, HASP_ERR_CERT_NOT_FOUND);
    }
    if (n > MAX_PEER_CERTS) {
        snprintf(res->reason, sizeof(res->reason),
                 "the peer sent %zu certificates; at most %d are accepted", n, MAX_PEER_CERTS);
        return finish(&v, res, HASP_ERR_CERT_BAD);
    }
    if (hasp_x509_store_count(anchors) == 0) {
        snprintf(res->reason, sizeof(res->reason), "the trust store is empty");
        return finish(&v, res, HASP_ERR_CERT_UNKNOWN_CA);
    }
    hasp_x509_cert *certs = hasp_calloc(n, sizeof(*certs));
    v.peer = hasp_calloc(n, sizeof(*v.peer));
    v.anc = hasp_calloc(anchors->n, sizeof(*v.anc));
    v.extra_c = hasp_calloc(v.extra ? v.extra->n + 1 : 1, sizeof(*v.extra_c));
    int code = 0;
    if (!certs || !v.peer || !v.anc || !v.extra_c) {
        snprintf(res->reason, sizeof(res->reason), "out of memory");
        code = HASP_ERR_NOMEM;
        goto out;
    }
    v.npeer = n;
    if (hasp_x509_parse(chain[0], chain_len[0], &certs[0]) < 0) {
        snprintf(res->reason, sizeof(res->reason), "the peer's certificate is malformed: %.600s",
                 hasp_err_last()->msg + strlen("malformed certificate: "));
        code = HASP_ERR_CERT_BAD;
        goto out;
    }
    if (certs[0].defect_code) {
        char leaf[256];
        hasp_x509_subject_str(&certs[0], leaf, sizeof(leaf));
        snprintf(res->reason, sizeof(res->reason), "certificate '%s' is invalid: %s", leaf,
                 certs[0].defect);
        code = certs[0].defect_code;
        goto out;
    }
    v.peer[0].c = &certs[0];
    v.peer[0].source = HASP_X509_SRC_PEER;
    size_t unparsed = 0;
    for (size_t i = 1; i < n; i++) {
        if (hasp_x509_parse(chain[i], chain_len[i], &certs[i]) < 0) {
            unparsed++; /* an extra the path may not need */
            continue;
        }
        v.peer[i].c = &certs[i];
        v.peer[i].source = HASP_X509_SRC_PEER;
    }

    /* A leaf that is itself in the trust store is trusted directly. */
    size_t first, cnt = x509_store_lookup(anchors, certs[0].subject_hash, &first);
    for (size_t i = 0; i < cnt; i++) {
        const hasp_x509_store_entry *e = anchors->index[first + i];
        if (e->der_len == chain_len[0] && memcmp(e->der, chain[0], e->der_len) == 0) {
            cand *k = &v.anc[e->seq];
            k->c = &e->cert;
            k->source = HASP_X509_SRC_STORE;
            k->is_anchor = 1;
            k->key = e->key;
            v.directly_trusted = 1;
            v.path[0] = k;
            if (check_path(&v, 1) == 0) {
                set_result(&v, res, v.path, 1);
                goto out;
            }
            v.directly_trusted = 0;
        }
    }

    v.path[0] = &v.peer[0];
    if (build(&v, 1)) {
        /* path length: count until the anchor */
        size_t len = 1;
        while (len < PATH_HARD_MAX && !v.path[len - 1]->is_anchor)
            len++;
        set_result(&v, res, v.path, len);
        goto out;
    }

    char leaf[256];
    cname(&v.peer[0], leaf, sizeof(leaf));
    if (v.gave_up && v.fail_prio < 3) {
        code = HASP_ERR_CERT_UNKNOWN_CA;
        snprintf(res->reason, sizeof(res->reason),
                 "no path to a trusted root for '%s': path building gave up after %ld steps and "
                 "%ld signature checks (too many candidate issuers)",
                 leaf, v.steps, v.sig_checks);
    } else if (v.fail_prio > 0) {
        code = v.fail_code;
        snprintf(res->reason, sizeof(res->reason), "%s", v.fail);
        if (v.fail_path_len) set_result(&v, res, v.fail_path, v.fail_path_len);
    } else if (certs[0].self_issued) {
        char why[400];
        int rc = sig_check(&v, &v.peer[0], &v.peer[0], why, sizeof(why));
        code = rc == 0 ? HASP_ERR_CERT_SELF_SIGNED : HASP_ERR_CERT_UNKNOWN_CA;
        snprintf(res->reason, sizeof(res->reason),
                 rc == 0 ? "certificate '%s' is self-signed and not in the trust store"
                         : "certificate '%s' names itself as its issuer but is not in the trust "
                           "store",
                 leaf);
    } else {
        /* No issuer at all for the leaf (or for the top of what was built). */
        char issuer[256];
        hasp_x509_name_str(certs[0].issuer, issuer, sizeof(issuer));
        code = HASP_ERR_CERT_UNKNOWN_CA;
        if (n == 1)
            snprintf(res->reason, sizeof(res->reason),
                     "unknown issuer '%s' of certificate '%s': not in the trust store and the "
                     "peer sent no intermediates",
                     issuer, leaf);
        else
            snprintf(res->reason, sizeof(res->reason),
                     "no path from certificate '%s' to a trusted root: its issuer '%s' is not in "
                     "the trust store, and none of the %zu other certificates the peer sent "
                     "leads to one%s",
                     leaf, issuer, n - 1, unparsed ? " (some could not be parsed)" : "");
    }
out:
    for (size_t i = 0; v.peer && i < n; i++)
        hasp_x509_pubkey_free(v.peer[i].own_key);
    for (size_t i = 0; v.anc && i < anchors->n; i++)
        hasp_x509_pubkey_free(v.anc[i].own_key);
    for (size_t i = 0; v.extra_c && v.extra && i < v.extra->n; i++)
        hasp_x509_pubkey_free(v.extra_c[i].own_key);
    hasp_free(certs);
    hasp_free(v.peer);
    hasp_free(v.anc);
    hasp_free(v.extra_c);
    for (size_t i = 0; i < v.nmemo; i++)
        hasp_free(v.memo[i].why);
    hasp_free(v.memo);
    return finish(&v, res, code);
}

int hasp_x509_spki(const uint8_t *der, size_t len, const uint8_t **spki, size_t *spki_len)
{
    hasp_x509_cert c;
    GUARD(hasp_x509_parse(der, len, &c));
    *spki = c.spki.p;
    *spki_len = c.spki.len;
    return 0;
}

int hasp_x509_matches_host(const uint8_t *der, size_t len, const char *host)
{
    hasp_x509_cert c;
    if (!host || hasp_x509_parse(der, len, &c) < 0) return 0;
    return hasp_x509_cert_matches_host(&c, host, 0);
}
