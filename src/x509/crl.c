/* Certificate revocation lists (RFC 5280 5) and the revocation check of
 * one certificate against the CRLs of a store (RFC 5280 6.3), for complete
 * CRLs issued by the certificate's issuer with the key that signed the
 * certificate. Delta CRLs are refused when added; indirect CRLs (an
 * indirectCRL distribution point, certificateIssuer entries) are kept but
 * fail any check that would need them. */
#include "../alloc.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codec/pem.h"
#include "../crypto/crypto.h"
#include "../crypto/x509_extra.h"
#include "oid.h"
#include "store.h"

static void crl_defect(x509_crl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void crl_defect(x509_crl *c, const char *fmt, ...)
{
    if (c->defect[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->defect, sizeof(c->defect), fmt, ap);
    va_end(ap);
}

/* RFC 5280 5.3.1 CRLReason; 7 is unused, 8 only appears in delta CRLs. */
static const char *reason_name(int r)
{
    static const char *const names[] = {
        "unspecified(0)",        "keyCompromise(1)", "cACompromise(2)",
        "affiliationChanged(3)", "superseded(4)",    "cessationOfOperation(5)",
        "certificateHold(6)",    "unused(7)",        "removeFromCRL(8)",
        "privilegeWithdrawn(9)", "aACompromise(10)",
    };
    return r >= 0 && r <= 10 ? names[r] : "unknown";
}

/* ENUMERATED (universal 10) with a small non-negative value. */
static int der_enumerated(hasp_rd *r, int *v)
{
    hasp_der_elem e;
    GUARD(hasp_der_expect(r, 0x0a, &e));
    int64_t x;
    GUARD(hasp_der_int64_content(e.content, &x));
    ENSURE_MSG(x <= 255, HASP_ERR_DECODE, "an ENUMERATED value is out of range");
    *v = (int)x;
    return 0;
}

/* One extension: OID, critical flag, value. */
static int read_ext(hasp_rd *exts, hasp_rd *oid, int *critical, hasp_rd *value)
{
    hasp_der_elem ext, val;
    GUARD(hasp_der_expect(exts, DER_SEQUENCE, &ext));
    hasp_rd r = ext.content;
    *critical = 0;
    GUARD(hasp_der_oid(&r, oid));
    if (hasp_der_peek(&r) == DER_BOOLEAN) GUARD(hasp_der_bool(&r, critical));
    GUARD(hasp_der_expect(&r, DER_OCTET_STRING, &val));
    GUARD(hasp_der_end(&r, "an extension"));
    *value = val.content;
    return 0;
}

/* An entry's extensions (RFC 5280 5.3): the reason and the rest checked. */
static int entry_exts(x509_crl *c, hasp_rd exts, int *reason)
{
    hasp_rd seen[8];
    size_t nseen = 0;
    ENSURE_MSG(rd_left(&exts) > 0, HASP_ERR_DECODE,
               "a revoked entry has an empty extensions field");
    while (rd_left(&exts)) {
        hasp_rd oid, v;
        int critical;
        GUARD(read_ext(&exts, &oid, &critical, &v));
        for (size_t i = 0; i < nseen; i++)
            ENSURE_MSG(seen[i].len != oid.len || memcmp(seen[i].p, oid.p, oid.len) != 0,
                       HASP_ERR_DECODE, "a revoked entry has the same extension twice");
        if (nseen < sizeof(seen) / sizeof(seen[0])) seen[nseen++] = oid;
        if (DER_OID_EQ(oid, OID_EXT_REASON_CODE)) {
            GUARD(der_enumerated(&v, reason));
            GUARD(hasp_der_end(&v, "a reasonCode"));
            ENSURE_MSG(*reason <= 10 && *reason != 7, HASP_ERR_DECODE,
                       "a revoked entry has reason code %d, which RFC 5280 5.3.1 does not define",
                       *reason);
            ENSURE_MSG(*reason != 8, HASP_ERR_DECODE,
                       "a revoked entry has reason removeFromCRL(8), which only a delta CRL may "
                       "carry (RFC 5280 5.3.1)");
        } else if (DER_OID_EQ(oid, OID_EXT_INVALIDITY_DATE)) {
            int64_t t;
            GUARD(hasp_der_time(&v, &t));
        } else if (DER_OID_EQ(oid, OID_EXT_CERT_ISSUER)) {
            crl_defect(c, "it is an indirect CRL (an entry has a certificateIssuer), which hasp "
                          "does not support");
        } else if (critical) {
            char s[64];
            hasp_der_oid_str(oid, s, sizeof(s));
            crl_defect(c, "a revoked entry has an unknown critical extension %s", s);
        }
    }
    return 0;
}

/* IssuingDistributionPoint (RFC 5280 5.2.5). */
static int ext_idp(x509_crl *c, hasp_rd v)
{
    hasp_der_elem seq, e;
    GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&v, "issuingDistributionPoint"));
    hasp_rd r = seq.content;
    c->has_idp = 1;
    if (hasp_der_optional(&r, DER_CTX_CONS(0), &e) > 0) {
        hasp_der_elem n;
        GUARD(hasp_der_next(&e.content, &n));
        GUARD(hasp_der_end(&e.content, "a distributionPoint"));
        if (n.tag == DER_CTX_CONS(0)) {
            ENSURE_MSG(rd_left(&n.content) > 0, HASP_ERR_DECODE, "fullName is empty");
            GUARD(x509_general_names_valid(n.content));
            c->idp_full_name = n.content;
        } else if (n.tag == DER_CTX_CONS(1)) {
            c->idp_relative = 1;
        } else {
            FAIL(HASP_ERR_DECODE, "a distributionPoint name has tag 0x%02x", n.tag);
        }
    }
    int b;
    if (hasp_der_optional(&r, DER_CTX(1), &e) > 0) {
        GUARD(hasp_der_bool_content(e.content, &b));
        c->idp_only_user = b;
    }
    if (hasp_der_optional(&r, DER_CTX(2), &e) > 0) {
        GUARD(hasp_der_bool_content(e.content, &b));
        c->idp_only_ca = b;
    }
    if (hasp_der_optional(&r, DER_CTX(3), &e) > 0) c->idp_some_reasons = 1;
    if (hasp_der_optional(&r, DER_CTX(4), &e) > 0) {
        GUARD(hasp_der_bool_content(e.content, &b));
        if (b) crl_defect(c, "it is an indirect CRL (indirectCRL), which hasp does not support");
    }
    if (hasp_der_optional(&r, DER_CTX(5), &e) > 0) {
        GUARD(hasp_der_bool_content(e.content, &b));
        c->idp_only_attr = b;
    }
    GUARD(hasp_der_end(&r, "issuingDistributionPoint"));
    /* RFC 5280 5.2.5: at most one of the three "only" flags. */
    ENSURE_MSG(c->idp_only_user + c->idp_only_ca + c->idp_only_attr <= 1, HASP_ERR_DECODE,
               "more than one of onlyContainsUserCerts, onlyContainsCACerts and "
               "onlyContainsAttributeCerts is set");
    return 0;
}

static int crl_extensions(x509_crl *c, hasp_rd exts)
{
    hasp_rd seen[16];
    size_t nseen = 0;
    ENSURE_MSG(rd_left(&exts) > 0, HASP_ERR_DECODE, "the crlExtensions field is empty");
    while (rd_left(&exts)) {
        hasp_rd oid, v;
        int critical;
        char s[64];
        GUARD(read_ext(&exts, &oid, &critical, &v));
        for (size_t i = 0; i < nseen; i++)
            if (seen[i].len == oid.len && memcmp(seen[i].p, oid.p, oid.len) == 0) {
                hasp_der_oid_str(oid, s, sizeof(s));
                crl_defect(c, "it contains extension %s twice", s);
            }
        if (nseen < sizeof(seen) / sizeof(seen[0])) seen[nseen++] = oid;
        if (DER_OID_EQ(oid, OID_EXT_CRL_NUMBER)) {
            hasp_rd n;
            GUARD(hasp_der_integer(&v, &n));
            GUARD(hasp_der_end(&v, "cRLNumber"));
            c->has_number = 1;
            if (critical)
                crl_defect(c, "its cRLNumber extension is marked critical (RFC 5280 5.2.3)");
            if ((n.p[0] & 0x80) || n.len > 21)
                crl_defect(c, "its cRLNumber is negative or longer than 20 octets (RFC 5280 "
                              "5.2.3)");
        } else if (DER_OID_EQ(oid, OID_EXT_AKI)) {
            hasp_der_elem seq, e;
            GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
            GUARD(hasp_der_end(&v, "authorityKeyIdentifier"));
            if (hasp_der_optional(&seq.content, DER_CTX(0), &e) > 0) {
                c->has_aki_keyid = 1;
                c->aki_keyid = e.content;
            }
            if (critical)
                crl_defect(c, "its authorityKeyIdentifier is marked critical (RFC 5280 5.2.1)");
        } else if (DER_OID_EQ(oid, OID_EXT_IDP)) {
            GUARD(ext_idp(c, v));
        } else if (DER_OID_EQ(oid, OID_EXT_DELTA_CRL)) {
            c->delta = 1;
        } else if (DER_OID_EQ(oid, OID_EXT_IAN) || DER_OID_EQ(oid, OID_EXT_AIA) ||
                   DER_OID_EQ(oid, OID_EXT_FRESHEST_CRL)) {
            hasp_der_elem seq;
            GUARD(hasp_der_expect(&v, DER_SEQUENCE, &seq));
            GUARD(hasp_der_end(&v, "an extension"));
        } else if (critical) {
            hasp_der_oid_str(oid, s, sizeof(s));
            crl_defect(c,
                       "it has an unknown critical extension %s, so hasp cannot tell what it "
                       "covers",
                       s);
        }
    }
    return 0;
}

/* CertificateList (RFC 5280 5.1). Fails only on a broken structure; a CRL
 * that reads but may not be trusted keeps the reason as its defect. */
static int crl_parse(x509_crl *c)
{
    hasp_rd r = hasp_rd_init(c->der, c->der_len);
    hasp_der_elem outer, tbs, sigalg, inner_alg, e;
    int unused;
    GUARD(hasp_der_expect(&r, DER_SEQUENCE, &outer));
    GUARD(hasp_der_end(&r, "the CRL"));
    hasp_rd o = outer.content;
    GUARD(hasp_der_expect(&o, DER_SEQUENCE, &tbs));
    GUARD(hasp_der_expect(&o, DER_SEQUENCE, &sigalg));
    GUARD(hasp_der_bit_string(&o, &c->sig, &unused));
    GUARD(hasp_der_end(&o, "the CRL"));
    ENSURE_MSG(unused == 0, HASP_ERR_DECODE, "the signature is not a whole number of octets");
    c->tbs = hasp_rd_init(tbs.whole, tbs.whole_len);

    hasp_rd t = tbs.content;
    int version = 1;
    if (hasp_der_peek(&t) == DER_INTEGER) {
        int64_t v;
        GUARD(hasp_der_int64(&t, &v));
        ENSURE_MSG(v == 1, HASP_ERR_DECODE, "unknown CRL version %lld", (long long)v + 1);
        version = 2;
    }
    GUARD(hasp_der_expect(&t, DER_SEQUENCE, &inner_alg));
    GUARD(hasp_der_expect(&t, DER_SEQUENCE, &e));
    c->issuer = hasp_rd_init(e.whole, e.whole_len);
    GUARD(x509_name_valid(c->issuer));
    c->issuer_hash = hasp_x509_name_hash(c->issuer);
    GUARD(hasp_der_time(&t, &c->this_update));
    int tag = hasp_der_peek(&t);
    if (tag == DER_UTC_TIME || tag == DER_GENERALIZED_TIME) {
        GUARD(hasp_der_time(&t, &c->next_update));
        c->has_next_update = 1;
    }
    if (hasp_der_optional(&t, DER_SEQUENCE, &e) > 0) {
        c->revoked = e.content;
        ENSURE_MSG(rd_left(&c->revoked) > 0, HASP_ERR_DECODE,
                   "revokedCertificates is present but empty (RFC 5280 5.1.2.6)");
    }
    int has_ext = hasp_der_optional(&t, DER_CTX_CONS(0), &e);
    GUARD(has_ext);
    GUARD(hasp_der_end(&t, "the TBSCertList"));

    /* The signature algorithm, read as a certificate's. */
    hasp_x509_cert tmp;
    memset(&tmp, 0, sizeof(tmp));
    GUARD(x509_parse_sig_alg(&tmp, inner_alg.content));
    c->sig_alg = tmp.sig_alg;
    c->sig_hash = tmp.sig_hash;
    snprintf(c->sig_name, sizeof(c->sig_name), "%s", tmp.sig_name);
    if (tmp.defect_code) crl_defect(c, "%s", tmp.defect);
    if (sigalg.whole_len != inner_alg.whole_len ||
        memcmp(sigalg.whole, inner_alg.whole, sigalg.whole_len) != 0)
        crl_defect(c, "its signatureAlgorithm differs from the signature field inside it "
                      "(RFC 5280 5.1.1.2)");
    if (has_ext) {
        hasp_der_elem exts;
        hasp_rd x = e.content;
        ENSURE_MSG(version == 2, HASP_ERR_DECODE, "a v1 CRL has extensions");
        GUARD(hasp_der_expect(&x, DER_SEQUENCE, &exts));
        GUARD(hasp_der_end(&x, "the crlExtensions"));
        GUARD(crl_extensions(c, exts.content));
    }
    /* Every entry is read now, so that a lookup cannot meet a bad one. */
    hasp_rd rv = c->revoked;
    while (rd_left(&rv)) {
        hasp_der_elem ent;
        hasp_rd serial;
        int64_t when;
        GUARD(hasp_der_expect(&rv, DER_SEQUENCE, &ent));
        GUARD(hasp_der_integer(&ent.content, &serial));
        GUARD(hasp_der_time(&ent.content, &when));
        if (rd_left(&ent.content)) {
            hasp_der_elem ex;
            int reason = 0;
            ENSURE_MSG(version == 2, HASP_ERR_DECODE, "a v1 CRL has entry extensions");
            GUARD(hasp_der_expect(&ent.content, DER_SEQUENCE, &ex));
            GUARD(entry_exts(c, ex.content, &reason));
        }
        GUARD(hasp_der_end(&ent.content, "a revoked entry"));
        c->nrevoked++;
    }
    if (!c->has_number)
        crl_defect(c, "it has no cRLNumber extension, which RFC 5280 5.2.3 requires");
    if (!c->has_next_update)
        crl_defect(c, "it has no nextUpdate, so hasp cannot tell whether it is current "
                      "(RFC 5280 5.1.2.5)");
    if (x509_name_rdn_count(c->issuer) == 0)
        crl_defect(c, "its issuer name is empty (RFC 5280 5.1.2.3)");
    return 0;
}

void x509_crl_free(x509_crl *c)
{
    if (!c) return;
    hasp_free(c->der);
    hasp_free(c);
}

/* Returns 1 if added, 0 if a duplicate, negative on error. */
static int add_crl_der(hasp_x509_store *s, const uint8_t *der, size_t len)
{
    for (size_t i = 0; i < s->ncrls; i++)
        if (s->crls[i]->der_len == len && memcmp(s->crls[i]->der, der, len) == 0) return 0;
    x509_crl *c = hasp_calloc(1, sizeof(*c));
    ENSURE(c != NULL, HASP_ERR_NOMEM);
    c->der = hasp_malloc(len ? len : 1);
    if (!c->der) {
        hasp_free(c);
        FAIL(HASP_ERR_NOMEM, NULL);
    }
    memcpy(c->der, der, len);
    c->der_len = len;
    if (crl_parse(c) < 0) {
        char msg[sizeof(hasp_err_last()->msg)];
        snprintf(msg, sizeof(msg), "%s", hasp_err_last()->msg);
        x509_crl_free(c);
        FAIL(HASP_ERR_CERT_BAD, "malformed CRL: %s", msg);
    }
    if (c->delta) {
        char issuer[256];
        hasp_x509_name_str(c->issuer, issuer, sizeof(issuer));
        x509_crl_free(c);
        FAIL(HASP_ERR_CERT_BAD,
             "the CRL from '%s' is a delta CRL (deltaCRLIndicator); hasp uses complete CRLs "
             "only",
             issuer);
    }
    if (s->ncrls == s->crl_cap) {
        size_t ncap = s->crl_cap ? s->crl_cap * 2 : 8;
        x509_crl **n = hasp_realloc(s->crls, ncap * sizeof(*n));
        if (!n) {
            x509_crl_free(c);
            FAIL(HASP_ERR_NOMEM, NULL);
        }
        s->crls = n;
        s->crl_cap = ncap;
    }
    s->crls[s->ncrls++] = c;
    return 1;
}

int hasp_x509_store_add_crl(hasp_x509_store *s, const uint8_t *data, size_t len)
{
    ENSURE(s != NULL, HASP_ERR_USAGE);
    if (len && data[0] == 0x30) {
        int rc = add_crl_der(s, data, len);
        return rc < 0 ? rc : 1;
    }
    const uint8_t *p = data, *end = data + len;
    char label[64];
    uint8_t *der;
    size_t der_len;
    int rc, seen = 0;
    while ((rc = hasp_pem_next(&p, end, label, sizeof(label), &der, &der_len)) == 1) {
        if (strcmp(label, "X509 CRL") == 0) {
            int r = add_crl_der(s, der, der_len);
            seen++;
            if (r < 0) {
                hasp_free(der);
                return r;
            }
        }
        hasp_free(der);
    }
    GUARD(rc);
    ENSURE_MSG(seen > 0, HASP_ERR_CERT_BAD, "no CRL found (neither DER nor PEM 'X509 CRL')");
    return seen;
}

int hasp_x509_store_add_crl_file(hasp_x509_store *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    ENSURE_MSG(f != NULL, HASP_ERR_IO, "cannot open '%s'", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = hasp_malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = hasp_realloc(b, cap * 2);
        if (!nb) hasp_free(b);
        b = nb;
        cap *= 2;
    }
    fclose(f);
    ENSURE(b != NULL, HASP_ERR_NOMEM);
    int rc = hasp_x509_store_add_crl(s, b, n);
    hasp_free(b);
    if (rc < 0) {
        char msg[sizeof(hasp_err_last()->msg)];
        snprintf(msg, sizeof(msg), "%s", hasp_err_last()->msg);
        FAIL(rc, "%s: %s", path, msg);
    }
    return rc;
}

size_t hasp_x509_store_crl_count(const hasp_x509_store *s)
{
    return s ? s->ncrls : 0;
}

/* ------------------------------------------------------------------ the check */

/* Whether the CRL's scope (its issuingDistributionPoint) covers c (RFC
 * 5280 6.3.3 b 2). */
static int crl_covers(const x509_crl *crl, const hasp_x509_cert *c, char *why, size_t cap)
{
    if (!crl->has_idp) return 1;
    int is_ca = c->has_bc && c->ca;
    if (crl->idp_only_attr) return snprintf(why, cap, "it holds attribute certificates only"), 0;
    if (crl->idp_only_user && is_ca)
        return snprintf(why, cap, "it covers end-entity certificates only"), 0;
    if (crl->idp_only_ca && !is_ca) return snprintf(why, cap, "it covers CA certificates only"), 0;
    if (crl->idp_relative)
        return snprintf(why, cap,
                        "its distribution point is a nameRelativeToCRLIssuer, which hasp does "
                        "not match"),
               0;
    if (!crl->idp_full_name.len) return 1;
    /* One name of the IDP must be a distribution point name of c, or, when
     * c has none, its issuer's name as a directoryName. */
    hasp_rd idp = crl->idp_full_name;
    while (rd_left(&idp)) {
        hasp_der_elem gn;
        if (hasp_der_next(&idp, &gn) < 0) break;
        if (gn.tag == DER_CTX_CONS(4)) {
            hasp_rd n = gn.content;
            hasp_der_elem name;
            if (hasp_der_next(&n, &name) == 0 &&
                hasp_x509_name_eq(hasp_rd_init(name.whole, name.whole_len), c->issuer) &&
                !c->has_crldp)
                return 1;
        }
        hasp_rd dps = c->crldp;
        while (c->has_crldp && rd_left(&dps)) {
            hasp_der_elem dp, dpn, fn;
            if (hasp_der_expect(&dps, DER_SEQUENCE, &dp) < 0) break;
            if (hasp_der_optional(&dp.content, DER_CTX_CONS(0), &dpn) <= 0) continue;
            if (hasp_der_optional(&dpn.content, DER_CTX_CONS(0), &fn) <= 0) continue;
            while (rd_left(&fn.content)) {
                hasp_der_elem g;
                if (hasp_der_next(&fn.content, &g) < 0) break;
                if (g.whole_len == gn.whole_len && memcmp(g.whole, gn.whole, gn.whole_len) == 0)
                    return 1;
            }
        }
    }
    snprintf(why, cap,
             "its issuingDistributionPoint names none of the certificate's CRL distribution "
             "points");
    return 0;
}

/* The entry for c's serial in crl: 1 found (reason, date set), 0 not. */
static int crl_lookup(const x509_crl *crl, const hasp_x509_cert *c, int *reason, int64_t *when)
{
    hasp_rd rv = crl->revoked;
    while (rd_left(&rv)) {
        hasp_der_elem ent;
        hasp_rd serial;
        if (hasp_der_expect(&rv, DER_SEQUENCE, &ent) < 0 ||
            hasp_der_integer(&ent.content, &serial) < 0 || hasp_der_time(&ent.content, when) < 0)
            return 0; /* read once when added: cannot happen */
        if (serial.len != c->serial.len || memcmp(serial.p, c->serial.p, serial.len) != 0) continue;
        *reason = 0;
        hasp_der_elem ex;
        if (hasp_der_optional(&ent.content, DER_SEQUENCE, &ex) > 0) {
            while (rd_left(&ex.content)) {
                hasp_rd oid, v;
                int critical;
                if (read_ext(&ex.content, &oid, &critical, &v) < 0) break;
                if (DER_OID_EQ(oid, OID_EXT_REASON_CODE)) der_enumerated(&v, reason);
            }
        }
        return 1;
    }
    return 0;
}

static void serial_str(hasp_rd s, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = 0;
    while (s.len > 1 && s.p[0] == 0) {
        s.p++;
        s.len--;
    }
    for (size_t i = 0; i < s.len && k + 3 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%02X", s.p[i]);
}

int x509_crl_check(const hasp_x509_store *crls, const hasp_x509_cert *c,
                   const hasp_x509_cert *issuer, const hasp_x509_pubkey *issuer_key, int64_t now,
                   int required, const char *policy, char *why, size_t cap)
{
    char cn[256], in[256];
    hasp_x509_subject_str(c, cn, sizeof(cn));
    hasp_x509_subject_str(issuer, in, sizeof(in));
    int covered = 0, code = 0;
    char unusable[700] = "", scope[300] = "";
    size_t n = crls ? crls->ncrls : 0;
    for (size_t i = 0; i < n; i++) {
        const x509_crl *crl = crls->crls[i];
        if (crl->issuer_hash != c->issuer_hash || !hasp_x509_name_eq(crl->issuer, c->issuer))
            continue;
        char tu[40], nu[40], vt[40];
        hasp_time_str(crl->this_update, tu, sizeof(tu));
        char bad[600] = "";
        if (crl->defect[0]) {
            snprintf(bad, sizeof(bad), "the CRL of %s from '%s' cannot be used: %s", tu, in,
                     crl->defect);
        } else if (issuer->has_ku && !(issuer->ku & HASP_KU_CRL_SIGN)) {
            snprintf(bad, sizeof(bad),
                     "the CRL of %s from '%s' cannot be used: the issuer's keyUsage lacks cRLSign "
                     "(RFC 5280 6.3.3 f)",
                     tu, in);
        } else if (crl->has_aki_keyid && issuer->has_ski &&
                   (crl->aki_keyid.len != issuer->ski.len ||
                    memcmp(crl->aki_keyid.p, issuer->ski.p, issuer->ski.len) != 0)) {
            snprintf(bad, sizeof(bad),
                     "the CRL of %s in the name of '%s' was signed by another key (its "
                     "authorityKeyIdentifier is not the issuer's subjectKeyIdentifier)",
                     tu, in);
        } else if (!crl->sig_alg || crl->sig_hash == HASP_HASH_SHA1 ||
                   crl->sig_hash == HASP_HASH_MD5) {
            snprintf(bad, sizeof(bad),
                     "the CRL of %s from '%s' is signed with %s, which hasp does not accept", tu,
                     in, crl->sig_name);
        } else if (!issuer_key ||
                   hasp_x509_pubkey_verify(issuer_key, crl->sig_alg, crl->sig_hash, crl->tbs.p,
                                           crl->tbs.len, crl->sig.p, crl->sig.len) < 0) {
            snprintf(bad, sizeof(bad),
                     "the CRL of %s in the name of '%s' does not verify with that issuer's key "
                     "(it was signed by another key, or altered)",
                     tu, in);
        } else if (now < crl->this_update) {
            hasp_time_str(now, vt, sizeof(vt));
            snprintf(bad, sizeof(bad),
                     "the CRL from '%s' is not valid yet: its thisUpdate is %s (validation time "
                     "%s)",
                     in, tu, vt);
        } else if (now > crl->next_update) {
            hasp_time_str(crl->next_update, nu, sizeof(nu));
            hasp_time_str(now, vt, sizeof(vt));
            snprintf(bad, sizeof(bad),
                     "the CRL from '%s' expired: its nextUpdate was %s (validation time %s), so "
                     "a current one from the issuer is needed",
                     in, nu, vt);
        }
        if (bad[0]) {
            if (!unusable[0]) snprintf(unusable, sizeof(unusable), "%s", bad);
            continue;
        }
        char sw[200] = "";
        int full = crl_covers(crl, c, sw, sizeof(sw));
        if (!full && !crl->idp_some_reasons) {
            if (!scope[0]) snprintf(scope, sizeof(scope), "%s", sw);
            continue;
        }
        int reason;
        int64_t when;
        if (crl_lookup(crl, c, &reason, &when)) {
            char ws[40], ss[48];
            hasp_time_str(when, ws, sizeof(ws));
            serial_str(c->serial, ss, sizeof(ss));
            code = HASP_ERR_CERT_REVOKED;
            snprintf(why, cap,
                     "certificate '%s' (serial %s) was revoked by '%s' on %s, reason %s (CRL of "
                     "%s)",
                     cn, ss, in, ws, reason_name(reason), tu);
            return code;
        }
        /* A CRL for some reasons only does not cover the certificate alone. */
        if (full && !crl->idp_some_reasons) covered = 1;
    }
    if (covered) return 0;
    if (unusable[0]) {
        snprintf(why, cap, "the revocation status of certificate '%s' is unknown: %s", cn,
                 unusable);
        return HASP_ERR_CERT_CRL;
    }
    if (required) {
        snprintf(why, cap,
                 "no CRL from '%s' covers certificate '%s'%s%s%s, and the revocation policy (%s) "
                 "requires one",
                 in, cn, scope[0] ? " (the one given does not: " : "", scope, scope[0] ? ")" : "",
                 policy);
        return HASP_ERR_CERT_CRL;
    }
    return 0;
}
