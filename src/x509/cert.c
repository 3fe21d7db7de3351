/* Certificate parsing (RFC 5280 4.1, 4.2): views into the DER. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "internal.h"
#include "oid.h"

static void defect(hasp_x509_cert *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void defect(hasp_x509_cert *c, int code, const char *fmt, ...)
{
    if (c->defect_code) return;
    c->defect_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->defect, sizeof(c->defect), fmt, ap);
    va_end(ap);
}

static hasp_rd elem_whole(const hasp_der_elem *e)
{
    return hasp_rd_init(e->whole, e->whole_len);
}

/* AlgorithmIdentifier of a hash inside RSA-PSS parameters: params NULL or absent. */
static int pss_hash(hasp_rd alg, int *hash)
{
    hasp_rd oid;
    GUARD(hasp_der_oid(&alg, &oid));
    if (rd_left(&alg)) GUARD(hasp_der_null(&alg));
    GUARD(hasp_der_end(&alg, "a hash AlgorithmIdentifier"));
    if (DER_OID_EQ(oid, OID_SHA256))
        *hash = HASP_HASH_SHA256;
    else if (DER_OID_EQ(oid, OID_SHA384))
        *hash = HASP_HASH_SHA384;
    else if (DER_OID_EQ(oid, OID_SHA512))
        *hash = HASP_HASH_SHA512;
    else
        *hash = 0;
    return 0;
}

/* RFC 4055 3.1 RSASSA-PSS-params. Only the forms with MGF1 over the same
 * hash and a salt as long as the hash are supported (what the web uses). */
static int pss_params(hasp_rd p, int *hash)
{
    hasp_der_elem seq, e;
    int h = 0, mh = 0;
    int64_t salt = 20, trailer = 1;
    *hash = 0;
    GUARD(hasp_der_expect(&p, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&p, "RSASSA-PSS parameters"));
    hasp_rd r = seq.content;
    if (hasp_der_optional(&r, DER_CTX_CONS(0), &e) > 0) {
        hasp_der_elem a;
        GUARD(hasp_der_expect(&e.content, DER_SEQUENCE, &a));
        GUARD(pss_hash(a.content, &h));
    } else {
        return 0; /* SHA-1 default */
    }
    if (hasp_der_optional(&r, DER_CTX_CONS(1), &e) > 0) {
        hasp_der_elem a, inner;
        hasp_rd oid;
        GUARD(hasp_der_expect(&e.content, DER_SEQUENCE, &a));
        GUARD(hasp_der_oid(&a.content, &oid));
        if (!DER_OID_EQ(oid, OID_MGF1)) return 0;
        GUARD(hasp_der_expect(&a.content, DER_SEQUENCE, &inner));
        GUARD(pss_hash(inner.content, &mh));
    } else {
        return 0;
    }
    if (hasp_der_optional(&r, DER_CTX_CONS(2), &e) > 0) GUARD(hasp_der_int64(&e.content, &salt));
    if (hasp_der_optional(&r, DER_CTX_CONS(3), &e) > 0) GUARD(hasp_der_int64(&e.content, &trailer));
    GUARD(hasp_der_end(&r, "RSASSA-PSS parameters"));
    if (h && h == mh && (size_t)salt == hasp_hash_len(h) && trailer == 1) *hash = h;
    return 0;
}

static int parse_sig_alg(hasp_x509_cert *c, hasp_rd alg)
{
    hasp_rd oid;
    GUARD(hasp_der_oid(&alg, &oid));
    int null_params = 0, no_params = rd_left(&alg) == 0;
    if (hasp_der_peek(&alg) == DER_NULL) {
        hasp_rd tmp = alg;
        if (hasp_der_null(&tmp) == 0 && rd_left(&tmp) == 0) null_params = 1;
    }
    static const struct {
        const char *oid;
        size_t len;
        int alg, hash, params; /* params: 1 NULL, 0 absent */
        const char *name;
    } tab[] = {
#define ROW(o, a, h, p, n) {o, sizeof(o) - 1, a, h, p, n}
        ROW(OID_SHA256_RSA, HASP_SIG_RSA_PKCS1, HASP_HASH_SHA256, 1, "sha256WithRSAEncryption"),
        ROW(OID_SHA384_RSA, HASP_SIG_RSA_PKCS1, HASP_HASH_SHA384, 1, "sha384WithRSAEncryption"),
        ROW(OID_SHA512_RSA, HASP_SIG_RSA_PKCS1, HASP_HASH_SHA512, 1, "sha512WithRSAEncryption"),
        ROW(OID_SHA1_RSA, HASP_SIG_RSA_PKCS1, HASP_HASH_SHA1, 1, "sha1WithRSAEncryption"),
        ROW(OID_MD5_RSA, HASP_SIG_RSA_PKCS1, HASP_HASH_MD5, 1, "md5WithRSAEncryption"),
        ROW(OID_ECDSA_SHA256, HASP_SIG_ECDSA, HASP_HASH_SHA256, 0, "ecdsa-with-SHA256"),
        ROW(OID_ECDSA_SHA384, HASP_SIG_ECDSA, HASP_HASH_SHA384, 0, "ecdsa-with-SHA384"),
        ROW(OID_ECDSA_SHA512, HASP_SIG_ECDSA, HASP_HASH_SHA512, 0, "ecdsa-with-SHA512"),
        ROW(OID_ECDSA_SHA1, HASP_SIG_ECDSA, HASP_HASH_SHA1, 0, "ecdsa-with-SHA1"),
        ROW(OID_ED25519, HASP_SIG_ED25519, HASP_HASH_NONE, 0, "Ed25519"),
#undef ROW
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (!hasp_der_oid_eq(oid, (const uint8_t *)tab[i].oid, tab[i].len)) continue;
        snprintf(c->sig_name, sizeof(c->sig_name), "%s", tab[i].name);
        if (tab[i].params ? !null_params : !no_params) {
            defect(c, HASP_ERR_CERT_BAD, "its %s signature algorithm has invalid parameters",
                   tab[i].name);
            return 0;
        }
        c->sig_alg = tab[i].alg;
        c->sig_hash = tab[i].hash;
        return 0;
    }
    if (DER_OID_EQ(oid, OID_RSASSA_PSS)) {
        int h;
        if (pss_params(alg, &h) < 0) {
            defect(c, HASP_ERR_CERT_BAD, "its RSASSA-PSS parameters are malformed");
            return 0;
        }
        snprintf(c->sig_name, sizeof(c->sig_name), "RSASSA-PSS-%s",
                 h ? hasp_hash_name(h) : "unsupported-parameters");
        if (h) {
            c->sig_alg = HASP_SIG_RSA_PSS;
            c->sig_hash = h;
        }
        return 0;
    }
    hasp_der_oid_str(oid, c->sig_name, sizeof(c->sig_name));
    return 0;
}

int x509_parse_sig_alg(hasp_x509_cert *c, hasp_rd alg)
{
    return parse_sig_alg(c, alg);
}

static int bits_of(hasp_rd n)
{
    while (n.len && n.p[0] == 0) {
        n.p++;
        n.len--;
    }
    if (!n.len) return 0;
    int b = (int)(n.len - 1) * 8;
    for (uint8_t x = n.p[0]; x; x >>= 1)
        b++;
    return b;
}

static int parse_spki(hasp_x509_cert *c, hasp_rd spki)
{
    hasp_der_elem outer, alg;
    hasp_rd oid, key;
    int unused;
    GUARD(hasp_der_expect(&spki, DER_SEQUENCE, &outer));
    GUARD(hasp_der_end(&spki, "SubjectPublicKeyInfo"));
    spki = outer.content;
    GUARD(hasp_der_expect(&spki, DER_SEQUENCE, &alg));
    GUARD(hasp_der_bit_string(&spki, &key, &unused));
    GUARD(hasp_der_end(&spki, "SubjectPublicKeyInfo"));
    hasp_rd a = alg.content;
    GUARD(hasp_der_oid(&a, &oid));
    c->key_type = HASP_X509_KEY_UNSUPPORTED;
    if (DER_OID_EQ(oid, OID_RSA_ENCRYPTION) || DER_OID_EQ(oid, OID_RSASSA_PSS)) {
        int pss = DER_OID_EQ(oid, OID_RSASSA_PSS);
        if (!pss && (hasp_der_null(&a) < 0 || rd_left(&a))) {
            snprintf(c->key_desc, sizeof(c->key_desc), "RSA with invalid parameters");
            return 0;
        }
        hasp_der_elem seq;
        hasp_rd n, e;
        hasp_rd k = key;
        if (unused || hasp_der_expect(&k, DER_SEQUENCE, &seq) < 0 ||
            hasp_der_integer(&seq.content, &n) < 0 || hasp_der_integer(&seq.content, &e) < 0 ||
            rd_left(&seq.content) || rd_left(&k) || (n.p[0] & 0x80)) {
            snprintf(c->key_desc, sizeof(c->key_desc), "RSA (malformed key)");
            return 0;
        }
        c->key_type = pss ? HASP_X509_KEY_RSA_PSS : HASP_X509_KEY_RSA;
        c->key_bits = bits_of(n);
        snprintf(c->key_desc, sizeof(c->key_desc), "%s-%d", pss ? "RSA-PSS" : "RSA", c->key_bits);
    } else if (DER_OID_EQ(oid, OID_EC_PUBLIC_KEY)) {
        hasp_rd curve;
        if (hasp_der_peek(&a) != DER_OID) {
            snprintf(c->key_desc, sizeof(c->key_desc), "EC with explicit curve parameters");
            return 0;
        }
        GUARD(hasp_der_oid(&a, &curve));
        if (DER_OID_EQ(curve, OID_P256)) {
            c->key_type = HASP_X509_KEY_P256;
            c->key_bits = 256;
        } else if (DER_OID_EQ(curve, OID_P384)) {
            c->key_type = HASP_X509_KEY_P384;
            c->key_bits = 384;
        } else if (DER_OID_EQ(curve, OID_P521)) {
            c->key_type = HASP_X509_KEY_P521;
            c->key_bits = 521;
        } else {
            char s[48];
            hasp_der_oid_str(curve, s, sizeof(s));
            snprintf(c->key_desc, sizeof(c->key_desc), "EC on curve %s",
                     DER_OID_EQ(curve, OID_P192) ? "P-192" : s);
            return 0;
        }
        snprintf(c->key_desc, sizeof(c->key_desc), "EC P-%d", c->key_bits);
    } else if (DER_OID_EQ(oid, OID_ED25519)) {
        if (rd_left(&a) || key.len != 32 || unused) {
            snprintf(c->key_desc, sizeof(c->key_desc), "Ed25519 (malformed key)");
            return 0;
        }
        c->key_type = HASP_X509_KEY_ED25519;
        c->key_bits = 256;
        snprintf(c->key_desc, sizeof(c->key_desc), "Ed25519");
    } else if (DER_OID_EQ(oid, OID_DSA)) {
        snprintf(c->key_desc, sizeof(c->key_desc), "DSA");
    } else {
        char s[48];
        hasp_der_oid_str(oid, s, sizeof(s));
        snprintf(c->key_desc, sizeof(c->key_desc), "key algorithm %s", s);
    }
    return 0;
}

/* ------------------------------------------------------------------ extensions */

static int ext_bc(hasp_x509_cert *c, hasp_rd v)
{
    hasp_der_elem seq;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&v, "basicConstraints"));
    hasp_rd r = seq.content;
    c->has_bc = 1;
    c->pathlen = -1;
    if (hasp_der_peek(&r) == DER_BOOLEAN) {
        /* DER never encodes the DEFAULT FALSE; some issuers do anyway,
         * and it is harmless, so it is tolerated. */
        GUARD(hasp_der_bool(&r, &c->ca));
    }
    if (hasp_der_peek(&r) == DER_INTEGER) {
        int64_t pl;
        GUARD(hasp_der_int64(&r, &pl));
        c->pathlen = pl > 1000 ? 1000 : (int)pl;
        ENSURE_MSG(c->ca, HASP_ERR_DECODE, "pathLenConstraint is set but cA is not");
    }
    return hasp_der_end(&r, "basicConstraints");
}

static int ext_ku(hasp_x509_cert *c, hasp_rd v)
{
    hasp_rd bits;
    int unused;
    GUARD(hasp_der_bit_string(&v, &bits, &unused));
    GUARD(hasp_der_end(&v, "keyUsage"));
    c->has_ku = 1;
    c->ku = 0;
    for (unsigned i = 0; i < 9 && i / 8 < bits.len; i++)
        if (bits.p[i / 8] & (0x80 >> (i % 8))) c->ku |= 1u << i;
    ENSURE_MSG(c->ku != 0, HASP_ERR_DECODE, "keyUsage has no bit set");
    return 0;
}

static int ext_eku(hasp_x509_cert *c, hasp_rd v)
{
    hasp_der_elem seq;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&v, "extKeyUsage"));
    c->has_eku = 1;
    ENSURE_MSG(rd_left(&seq.content) > 0, HASP_ERR_DECODE,
               "extKeyUsage lists no purpose (RFC 5280 4.2.1.12)");
    while (rd_left(&seq.content)) {
        hasp_rd oid;
        GUARD(hasp_der_oid(&seq.content, &oid));
        if (DER_OID_EQ(oid, OID_KP_SERVER_AUTH))
            c->eku_server = 1;
        else if (DER_OID_EQ(oid, OID_KP_CLIENT_AUTH))
            c->eku_client = 1;
        else if (DER_OID_EQ(oid, OID_ANY_EKU))
            c->eku_any = 1;
    }
    return 0;
}

static int ext_san(hasp_x509_cert *c, hasp_rd v)
{
    hasp_der_elem seq;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&v, "subjectAltName"));
    ENSURE_MSG(rd_left(&seq.content) > 0, HASP_ERR_DECODE, "subjectAltName is empty");
    GUARD(x509_general_names_valid(seq.content));
    c->has_san = 1;
    c->san = seq.content;
    return 0;
}

static int ext_nc(hasp_x509_cert *c, hasp_rd v)
{
    hasp_der_elem seq, e;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&v, "nameConstraints"));
    hasp_rd r = seq.content;
    c->has_nc = 1;
    c->nc_permitted = hasp_rd_init(NULL, 0);
    c->nc_excluded = hasp_rd_init(NULL, 0);
    char err[160] = "";
    if (hasp_der_optional(&r, DER_CTX_CONS(0), &e) > 0) {
        ENSURE_MSG(rd_left(&e.content) > 0, HASP_ERR_DECODE, "permittedSubtrees is empty");
        c->nc_permitted = e.content;
        ENSURE_MSG(x509_subtrees_valid(e.content, err, sizeof(err)) == 0, HASP_ERR_DECODE,
                   "a permitted name constraint is invalid: %s", err);
    }
    if (hasp_der_optional(&r, DER_CTX_CONS(1), &e) > 0) {
        ENSURE_MSG(rd_left(&e.content) > 0, HASP_ERR_DECODE, "excludedSubtrees is empty");
        c->nc_excluded = e.content;
        ENSURE_MSG(x509_subtrees_valid(e.content, err, sizeof(err)) == 0, HASP_ERR_DECODE,
                   "an excluded name constraint is invalid: %s", err);
    }
    GUARD(hasp_der_end(&r, "nameConstraints"));
    /* RFC 5280 4.2.1.10: at least one of the two MUST be present. */
    ENSURE_MSG(c->nc_permitted.len || c->nc_excluded.len, HASP_ERR_DECODE,
               "nameConstraints has neither permitted nor excluded subtrees");
    return 0;
}

static int ext_aki(hasp_x509_cert *c, hasp_rd v)
{
    hasp_der_elem seq, e;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&v, "authorityKeyIdentifier"));
    hasp_rd r = seq.content;
    c->has_aki = 1;
    if (hasp_der_optional(&r, DER_CTX(0), &e) > 0) {
        c->aki_has_keyid = 1;
        c->aki_keyid = e.content;
    }
    int has_issuer = hasp_der_optional(&r, DER_CTX_CONS(1), &e);
    GUARD(has_issuer);
    int has_serial = hasp_der_optional(&r, DER_CTX(2), &e);
    GUARD(has_serial);
    /* RFC 5280 4.2.1.1: issuer and serial come together or not at all. */
    ENSURE_MSG(has_issuer == has_serial, HASP_ERR_DECODE,
               "authorityKeyIdentifier has only one of authorityCertIssuer and "
               "authorityCertSerialNumber");
    c->aki_has_issuer_serial = has_issuer;
    return hasp_der_end(&r, "authorityKeyIdentifier");
}

static int ext_ski(hasp_x509_cert *c, hasp_rd v)
{
    GUARD(hasp_der_octet_string(&v, &c->ski));
    GUARD(hasp_der_end(&v, "subjectKeyIdentifier"));
    c->has_ski = 1;
    return 0;
}

/* AuthorityInfoAccessSyntax: SEQUENCE SIZE (1..MAX) OF AccessDescription. */
static int ext_aia(hasp_x509_cert *c, hasp_rd v)
{
    hasp_der_elem seq, ad;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&v, "authorityInfoAccess"));
    ENSURE_MSG(rd_left(&seq.content) > 0, HASP_ERR_DECODE,
               "authorityInfoAccess has no AccessDescription");
    while (rd_left(&seq.content)) {
        hasp_rd oid;
        hasp_der_elem gn;
        GUARD(hasp_der_expect(&seq.content, DER_SEQUENCE, &ad));
        GUARD(hasp_der_oid(&ad.content, &oid));
        GUARD(hasp_der_next(&ad.content, &gn));
        GUARD(hasp_der_end(&ad.content, "an AccessDescription"));
    }
    return 0;
}

/* Any well-formed SEQUENCE (certificatePolicies, CRL distribution points...). */
static int ext_seq(hasp_x509_cert *c, hasp_rd v)
{
    hasp_der_elem seq;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    return hasp_der_end(&v, "an extension");
}

/* CRLDistributionPoints: SEQUENCE SIZE (1..MAX) OF DistributionPoint. */
static int ext_crldp(hasp_x509_cert *c, hasp_rd v)
{
    hasp_der_elem seq, dp;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&v, "cRLDistributionPoints"));
    ENSURE_MSG(rd_left(&seq.content) > 0, HASP_ERR_DECODE,
               "cRLDistributionPoints has no DistributionPoint");
    hasp_rd r = seq.content;
    while (rd_left(&r))
        GUARD(hasp_der_expect(&r, DER_SEQUENCE, &dp));
    c->has_crldp = 1;
    c->crldp = seq.content;
    return 0;
}

typedef struct ext_handler {
    const char *oid;
    size_t oid_len;
    const char *name;
    int (*parse)(hasp_x509_cert *c, hasp_rd value);
    int critical_rule; /* 0 either, 1 MUST be critical, -1 MUST NOT be critical */
} ext_handler;

#define EXT(o, n, f, r)                                                                            \
    {                                                                                              \
        o, sizeof(o) - 1, n, f, r                                                                  \
    }
static const ext_handler ext_handlers[] = {
    EXT(OID_EXT_BC, "basicConstraints", ext_bc, 0),
    EXT(OID_EXT_KU, "keyUsage", ext_ku, 0),
    EXT(OID_EXT_EKU, "extKeyUsage", ext_eku, 0),
    EXT(OID_EXT_SAN, "subjectAltName", ext_san, 0),
    EXT(OID_EXT_NC, "nameConstraints", ext_nc, 0),
    EXT(OID_EXT_AKI, "authorityKeyIdentifier", ext_aki, -1),
    EXT(OID_EXT_SKI, "subjectKeyIdentifier", ext_ski, -1),
    EXT(OID_EXT_AIA, "authorityInfoAccess", ext_aia, -1),
    EXT(OID_EXT_SIA, "subjectInfoAccess", ext_seq, -1),
    EXT(OID_EXT_IAN, "issuerAltName", ext_seq, 0),
    EXT(OID_EXT_CRLDP, "cRLDistributionPoints", ext_crldp, 0),
    /* Policies: hasp does no policy processing (as the web PKI's
     * validators), so these are accepted whether critical or not. */
    EXT(OID_EXT_POLICIES, "certificatePolicies", ext_seq, 0),
    EXT(OID_EXT_POLICY_MAPPINGS, "policyMappings", ext_seq, 0),
    EXT(OID_EXT_POLICY_CONSTRAINTS, "policyConstraints", ext_seq, 1),
    EXT(OID_EXT_INHIBIT_ANY, "inhibitAnyPolicy", NULL, 1),
};
#undef EXT

#define MAX_EXTENSIONS 64

static int parse_extensions(hasp_x509_cert *c, hasp_rd exts)
{
    hasp_rd seen[MAX_EXTENSIONS];
    size_t nseen = 0;
    ENSURE_MSG(rd_left(&exts) > 0, HASP_ERR_DECODE, "the extensions field is empty");
    while (rd_left(&exts)) {
        hasp_der_elem ext, val;
        hasp_rd oid;
        int critical = 0;
        GUARD(hasp_der_expect(&exts, DER_SEQUENCE, &ext));
        hasp_rd r = ext.content;
        GUARD(hasp_der_oid(&r, &oid));
        if (hasp_der_peek(&r) == DER_BOOLEAN) GUARD(hasp_der_bool(&r, &critical));
        GUARD(hasp_der_expect(&r, DER_OCTET_STRING, &val));
        GUARD(hasp_der_end(&r, "an extension"));

        char oid_s[64]; /* the dotted OID, for messages only: made when one is */
        for (size_t i = 0; i < nseen; i++) {
            if (seen[i].len == oid.len && memcmp(seen[i].p, oid.p, oid.len) == 0) {
                hasp_der_oid_str(oid, oid_s, sizeof(oid_s));
                defect(c, HASP_ERR_CERT_BAD,
                       "it contains extension %s twice (RFC 5280 4.2 allows one instance)", oid_s);
                return 0;
            }
        }
        if (nseen == MAX_EXTENSIONS) {
            defect(c, HASP_ERR_CERT_BAD, "it has more than %d extensions", MAX_EXTENSIONS);
            return 0;
        }
        seen[nseen++] = oid;

        const ext_handler *h = NULL;
        for (size_t i = 0; i < sizeof(ext_handlers) / sizeof(ext_handlers[0]); i++)
            if (hasp_der_oid_eq(oid, (const uint8_t *)ext_handlers[i].oid, ext_handlers[i].oid_len))
                h = &ext_handlers[i];
        if (!h) {
            if (critical) {
                hasp_der_oid_str(oid, oid_s, sizeof(oid_s));
                defect(c, HASP_ERR_CERT_BAD, "it has an unknown critical extension %s", oid_s);
            }
            continue;
        }
        if (h->critical_rule > 0 && !critical)
            defect(c, HASP_ERR_CERT_BAD, "its %s extension is not marked critical (RFC 5280)",
                   h->name);
        if (h->critical_rule < 0 && critical)
            defect(c, HASP_ERR_CERT_BAD, "its %s extension is marked critical (RFC 5280)", h->name);
        if (h == &ext_handlers[0])
            c->bc_critical = critical;
        else if (h == &ext_handlers[2])
            c->eku_critical = critical;
        else if (h == &ext_handlers[3])
            c->san_critical = critical;
        else if (h == &ext_handlers[4])
            c->nc_critical = critical;
        if (h->parse && h->parse(c, val.content) < 0)
            defect(c, HASP_ERR_CERT_BAD, "its %s extension is malformed: %s", h->name,
                   hasp_err_last()->msg);
    }
    return 0;
}

/* ------------------------------------------------------------------ certificate */

static int parse(const uint8_t *der, size_t len, hasp_x509_cert *c)
{
    hasp_rd r = hasp_rd_init(der, len);
    hasp_der_elem cert, tbs, sigalg, e;
    int unused;
    memset(c, 0, sizeof(*c));
    c->der = der;
    c->der_len = len;
    c->pathlen = -1;
    GUARD(hasp_der_expect(&r, DER_SEQUENCE, &cert));
    GUARD(hasp_der_end(&r, "the certificate"));
    hasp_rd cr = cert.content;
    GUARD(hasp_der_expect(&cr, DER_SEQUENCE, &tbs));
    GUARD(hasp_der_expect(&cr, DER_SEQUENCE, &sigalg));
    GUARD(hasp_der_bit_string(&cr, &c->sig, &unused));
    GUARD(hasp_der_end(&cr, "the certificate"));
    ENSURE_MSG(unused == 0, HASP_ERR_DECODE, "the signature is not a whole number of octets");
    c->tbs = elem_whole(&tbs);

    hasp_rd t = tbs.content;
    c->version = 1;
    if (hasp_der_optional(&t, DER_CTX_CONS(0), &e) > 0) {
        int64_t v;
        GUARD(hasp_der_int64(&e.content, &v));
        GUARD(hasp_der_end(&e.content, "the version"));
        /* DER: the default v1 is never encoded. */
        ENSURE_MSG(v == 1 || v == 2, HASP_ERR_DECODE, "unknown certificate version %lld",
                   (long long)v + 1);
        c->version = (int)v + 1;
    }
    GUARD(hasp_der_integer(&t, &c->serial));
    hasp_der_elem inner_alg;
    GUARD(hasp_der_expect(&t, DER_SEQUENCE, &inner_alg));
    GUARD(hasp_der_expect(&t, DER_SEQUENCE, &e));
    c->issuer = elem_whole(&e);
    GUARD(x509_name_valid(c->issuer));
    GUARD(hasp_der_expect(&t, DER_SEQUENCE, &e));
    GUARD(hasp_der_time(&e.content, &c->not_before));
    GUARD(hasp_der_time(&e.content, &c->not_after));
    GUARD(hasp_der_end(&e.content, "the validity"));
    GUARD(hasp_der_expect(&t, DER_SEQUENCE, &e));
    c->subject = elem_whole(&e);
    GUARD(x509_name_valid(c->subject));
    GUARD(hasp_der_expect(&t, DER_SEQUENCE, &e));
    c->spki = elem_whole(&e);
    GUARD(parse_spki(c, c->spki));
    /* issuerUniqueID, subjectUniqueID: tolerated, ignored. */
    GUARD(hasp_der_optional(&t, DER_CTX(1), &e));
    GUARD(hasp_der_optional(&t, DER_CTX(2), &e));
    int has_ext = hasp_der_optional(&t, DER_CTX_CONS(3), &e);
    GUARD(has_ext);
    GUARD(hasp_der_end(&t, "the TBSCertificate"));

    c->issuer_hash = hasp_x509_name_hash(c->issuer);
    c->subject_hash = hasp_x509_name_hash(c->subject);
    c->self_issued = c->issuer_hash == c->subject_hash && hasp_x509_name_eq(c->issuer, c->subject);

    /* Now the checks that make a certificate unusable but not unreadable. */
    GUARD(parse_sig_alg(c, inner_alg.content));
    if (sigalg.whole_len != inner_alg.whole_len ||
        memcmp(sigalg.whole, inner_alg.whole, sigalg.whole_len) != 0)
        defect(c, HASP_ERR_CERT_BAD,
               "its signatureAlgorithm differs from the signature field inside it "
               "(RFC 5280 4.1.1.2)");
    if (has_ext) {
        hasp_der_elem exts;
        hasp_rd x = e.content;
        ENSURE_MSG(c->version == 3, HASP_ERR_DECODE, "a v%d certificate has extensions",
                   c->version);
        GUARD(hasp_der_expect(&x, DER_SEQUENCE, &exts));
        GUARD(hasp_der_end(&x, "the extensions"));
        GUARD(parse_extensions(c, exts.content));
    }
    if (!c->defect_code && x509_name_rdn_count(c->issuer) == 0)
        defect(c, HASP_ERR_CERT_BAD, "its issuer name is empty (RFC 5280 4.1.2.4)");
    if (!c->defect_code && c->has_san && x509_name_rdn_count(c->subject) == 0 && !c->san_critical)
        defect(c, HASP_ERR_CERT_BAD,
               "its subject is empty and its subjectAltName is not critical (RFC 5280 4.2.1.6)");
    if (!c->defect_code && x509_name_rdn_count(c->subject) == 0 && !c->has_san)
        defect(c, HASP_ERR_CERT_BAD, "it has neither a subject name nor a subjectAltName");
    return 0;
}

int hasp_x509_parse(const uint8_t *der, size_t len, hasp_x509_cert *c)
{
    int rc = parse(der, len, c);
    if (rc < 0) {
        char msg[sizeof(hasp_err_last()->msg)];
        snprintf(msg, sizeof(msg), "%s", hasp_err_last()->msg);
        FAIL(HASP_ERR_CERT_BAD, "malformed certificate: %s", msg);
    }
    return 0;
}
