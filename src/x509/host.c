/* Host names and IP addresses (RFC 6125, RFC 9525), name constraints
 * (RFC 5280 4.2.1.10), and the CABF subject CN rule. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "oid.h"

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
    return 1;
}

int hasp_x509_dns_valid(const char *name, size_t len, int wildcard_ok)
{
    if (len == 0 || len > 253) return 0;
    size_t i = 0;
    if (wildcard_ok && len > 2 && name[0] == '*' && name[1] == '.') i = 2;
    size_t label = 0;
    for (; i <= len; i++) {
        char ch = i < len ? name[i] : '.';
        if (ch == '.') {
            if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return 0;
            label = 0;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-'))
            return 0;
        label++;
    }
    return 1;
}

/* Multi-label public suffixes under which a wildcard is never honoured
 * (single-label suffixes are refused by rule: a wildcard needs two labels
 * after it). A short list of the common ones, not the whole PSL. */
static const char *const public_suffixes[] = {
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "ltd.uk",
    "plc.uk",
    "net.uk",
    "me.uk",
    "nhs.uk",
    "co.jp",
    "ne.jp",
    "or.jp",
    "ac.jp",
    "go.jp",
    "gr.jp",
    "ed.jp",
    "com.au",
    "net.au",
    "org.au",
    "edu.au",
    "gov.au",
    "id.au",
    "co.nz",
    "org.nz",
    "net.nz",
    "govt.nz",
    "ac.nz",
    "com.br",
    "net.br",
    "org.br",
    "gov.br",
    "com.cn",
    "net.cn",
    "org.cn",
    "gov.cn",
    "edu.cn",
    "com.mx",
    "org.mx",
    "gob.mx",
    "co.in",
    "net.in",
    "org.in",
    "gov.in",
    "ac.in",
    "co.za",
    "org.za",
    "gov.za",
    "com.tw",
    "org.tw",
    "com.hk",
    "org.hk",
    "co.kr",
    "or.kr",
    "com.sg",
    "org.sg",
    "com.tr",
    "org.tr",
    "com.ar",
    "co.il",
    "org.il",
    "com.ua",
    "com.pl",
    "com.ru",
    "com.es",
    "co.th",
    "com.my",
    "com.vn",
    "com.ph",
    "com.pk",
    "com.eg",
    "com.sa",
    "co.id",
    "or.id",
    /* private section entries often seen on the web */
    "s3.amazonaws.com",
    "compute.amazonaws.com",
    "elasticbeanstalk.com",
    "cloudfront.net",
    "herokuapp.com",
    "github.io",
    "gitlab.io",
    "appspot.com",
    "blogspot.com",
    "azurewebsites.net",
    "cloudapp.net",
    "web.app",
    "firebaseapp.com",
    "netlify.app",
    "vercel.app",
    "pages.dev",
    "workers.dev",
    "fly.dev",
    "glitch.me",
};

int hasp_x509_is_public_suffix(const char *suffix, size_t len)
{
    if (len && suffix[len - 1] == '.') len--;
    if (!memchr(suffix, '.', len)) return 1; /* every top-level domain */
    for (size_t i = 0; i < sizeof(public_suffixes) / sizeof(public_suffixes[0]); i++) {
        size_t n = strlen(public_suffixes[i]);
        if (n == len && ieq(suffix, public_suffixes[i], n)) return 1;
    }
    return 0;
}

int hasp_x509_dns_match(const char *pattern, size_t plen, const char *host)
{
    size_t hlen = strlen(host);
    if (hlen && host[hlen - 1] == '.') hlen--;
    if (plen && pattern[plen - 1] == '.') plen--;
    if (!hasp_x509_dns_valid(host, hlen, 0) || !hasp_x509_dns_valid(pattern, plen, 1)) return 0;
    if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
        /* RFC 6125 6.4.3: the wildcard is the whole left-most label and
         * matches exactly one label; never directly under a public suffix. */
        const char *base = pattern + 2;
        size_t blen = plen - 2;
        if (hasp_x509_is_public_suffix(base, blen)) return 0;
        const char *dot = memchr(host, '.', hlen);
        if (!dot || dot == host) return 0;
        size_t rest = hlen - (size_t)(dot + 1 - host);
        return rest == blen && ieq(dot + 1, base, blen);
    }
    return plen == hlen && ieq(pattern, host, hlen);
}

int hasp_x509_parse_ip(const char *s, uint8_t out[16])
{
    char buf[64];
    size_t n = strlen(s);
    if (n >= sizeof(buf)) return 0;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        memcpy(buf, s + 1, n - 2);
        buf[n - 2] = 0;
    } else {
        memcpy(buf, s, n + 1);
    }
    if (inet_pton(AF_INET, buf, out) == 1) return 4;
    if (inet_pton(AF_INET6, buf, out) == 1) return 16;
    return 0;
}

/* ------------------------------------------------------------------ SAN helpers */

/* Visit each attribute value of the given type in a Name. */
typedef int (*attr_fn)(void *arg, const hasp_der_elem *v);
static int each_attr(hasp_rd name, const char *oid, size_t oid_len, attr_fn fn, void *arg)
{
    hasp_der_elem seq, rdn, atv, v;
    GUARD(hasp_der_expect(&name, DER_SEQUENCE, &seq));
    while (rd_left(&seq.content)) {
        GUARD(hasp_der_expect(&seq.content, DER_SET, &rdn));
        while (rd_left(&rdn.content)) {
            hasp_rd type;
            GUARD(hasp_der_expect(&rdn.content, DER_SEQUENCE, &atv));
            GUARD(hasp_der_oid(&atv.content, &type));
            GUARD(hasp_der_next(&atv.content, &v));
            if (hasp_der_oid_eq(type, (const uint8_t *)oid, oid_len)) {
                int rc = fn(arg, &v);
                if (rc) return rc;
            }
        }
    }
    return 0;
}

struct cn_match {
    const char *host;
    int matched;
};

static int cn_match_fn(void *arg, const hasp_der_elem *v)
{
    struct cn_match *m = arg;
    if (v->tag != DER_UTF8_STRING && v->tag != DER_PRINTABLE_STRING && v->tag != DER_IA5_STRING)
        return 0;
    if (hasp_x509_dns_match((const char *)v->content.p, v->content.len, m->host)) m->matched = 1;
    return 0;
}

int hasp_x509_cert_matches_host(const hasp_x509_cert *c, const char *host, int allow_cn)
{
    uint8_t ip[16];
    int iplen = hasp_x509_parse_ip(host, ip);
    if (c->has_san) {
        hasp_rd r = c->san;
        while (rd_left(&r)) {
            hasp_der_elem gn;
            if (hasp_der_next(&r, &gn) < 0) return 0;
            unsigned t = gn.tag & 0x1f;
            if (iplen && t == GN_IP && gn.content.len == (size_t)iplen &&
                memcmp(gn.content.p, ip, (size_t)iplen) == 0)
                return 1;
            if (!iplen && t == GN_DNS &&
                hasp_x509_dns_match((const char *)gn.content.p, gn.content.len, host))
                return 1;
        }
        return 0;
    }
    if (allow_cn && !iplen) {
        struct cn_match m = {host, 0};
        each_attr(c->subject, OID_AT_CN, sizeof(OID_AT_CN) - 1, cn_match_fn, &m);
        return m.matched;
    }
    return 0;
}

/* ------------------------------------------------------------------ CN consistency */

struct cn_check {
    const hasp_x509_cert *c;
    char *err;
    size_t cap;
};

static int san_has_ip_text(const hasp_x509_cert *c, const char *text, size_t len)
{
    hasp_rd r = c->san;
    while (rd_left(&r)) {
        hasp_der_elem gn;
        if (hasp_der_next(&r, &gn) < 0) return 0;
        if ((gn.tag & 0x1f) != GN_IP) continue;
        char s[64];
        x509_ip_str(gn.content, s, sizeof(s));
        if (strlen(s) == len && memcmp(s, text, len) == 0) return 1;
    }
    return 0;
}

/* A DNS SAN that equals name, or lies under it (name is its domain). */
static int san_dns_covered(const hasp_x509_cert *c, const char *name, size_t n, int *any_dns)
{
    hasp_rd r = c->san;
    *any_dns = 0;
    while (rd_left(&r)) {
        hasp_der_elem gn;
        if (hasp_der_next(&r, &gn) < 0) return 0;
        if ((gn.tag & 0x1f) != GN_DNS) continue;
        *any_dns = 1;
        const char *s = (const char *)gn.content.p;
        size_t l = gn.content.len;
        if (l == n && memcmp(s, name, n) == 0) return 1;
        if (l > n + 1 && s[l - n - 1] == '.' && memcmp(s + l - n, name, n) == 0) return 1;
    }
    return 0;
}

/* CABF BR 7.1.4.3: the CN, when present, repeats a SAN entry. hasp
 * rejects a CN that names something the SAN does not: a host the SAN
 * lacks, a case or U-label variant of one, or an IP address in any but
 * the canonical text of an iPAddress entry. A CN that names the domain of
 * a SAN entry (CN=example.com for DNS:www.example.com), and a DNS CN in a
 * certificate with no dNSName at all, are tolerated, as x509-limbo's
 * other cases expect. */
static int cn_check_fn(void *arg, const hasp_der_elem *v)
{
    struct cn_check *k = arg;
    const char *s = (const char *)v->content.p;
    size_t n = v->content.len;
    char buf[256];
    if (n == 0 || n >= sizeof(buf) || memchr(s, ' ', n) || memchr(s, 0, n)) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    struct in_addr a4;
    uint8_t a6[16];
    int looks_ip = (inet_aton(buf, &a4) && (strchr(buf, '.') || buf[0] == '0')) ||
                   (strchr(buf, ':') && inet_pton(AF_INET6, buf, a6) == 1);
    if (looks_ip) {
        if (!san_has_ip_text(k->c, buf, n)) {
            snprintf(k->err, k->cap,
                     "its subject CN '%s' is an IP address that is not the canonical text of an "
                     "iPAddress in its subjectAltName (CABF BR 7.1.4.3)",
                     buf);
            return 1;
        }
        return 0;
    }
    int any_dns;
    if (strchr(buf, '.') && !san_dns_covered(k->c, buf, n, &any_dns) && any_dns) {
        snprintf(k->err, k->cap,
                 "its subject CN '%s' is not one of the dNSNames in its subjectAltName "
                 "(CABF BR 7.1.4.3)",
                 buf);
        return 1;
    }
    return 0;
}

int x509_cn_consistent(const hasp_x509_cert *c, char *err, size_t cap)
{
    if (!c->has_san) return 0;
    struct cn_check k = {c, err, cap};
    int rc = each_attr(c->subject, OID_AT_CN, sizeof(OID_AT_CN) - 1, cn_check_fn, &k);
    return rc > 0 ? HASP_ERR_CERT_NAME : 0;
}

/* ------------------------------------------------------------------ name constraints */

static int email_valid(const char *s, size_t n, int constraint)
{
    const char *at = memchr(s, '@', n);
    if (!at) {
        if (!constraint) return 0;
        if (n && s[0] == '.') return hasp_x509_dns_valid(s + 1, n - 1, 0);
        return hasp_x509_dns_valid(s, n, 0);
    }
    size_t local = (size_t)(at - s);
    if (local == 0 || memchr(at + 1, '@', n - local - 1)) return 0;
    for (size_t i = 0; i < local; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return hasp_x509_dns_valid(at + 1, n - local - 1, 0);
}

int x509_subtrees_valid(hasp_rd subtrees, char *err, size_t cap)
{
    while (rd_left(&subtrees)) {
        hasp_der_elem st, base, e;
        if (hasp_der_expect(&subtrees, DER_SEQUENCE, &st) < 0 ||
            hasp_der_next(&st.content, &base) < 0) {
            snprintf(err, cap, "a GeneralSubtree is malformed");
            return -1;
        }
        if (hasp_der_optional(&st.content, DER_CTX(0), &e) > 0) {
            int64_t v;
            if (hasp_der_int64_content(e.content, &v) < 0 || v != 0) {
                snprintf(err, cap, "minimum must be 0 (RFC 5280 4.2.1.10)");
                return -1;
            }
        }
        if (rd_left(&st.content)) {
            snprintf(err, cap, "maximum must be absent (RFC 5280 4.2.1.10)");
            return -1;
        }
        hasp_rd one = hasp_rd_init(base.whole, base.whole_len);
        if (x509_general_names_valid(one) < 0) {
            snprintf(err, cap, "%s", hasp_err_last()->msg);
            return -1;
        }
        const char *s = (const char *)base.content.p;
        size_t n = base.content.len;
        switch (base.tag & 0x1f) {
        case GN_DNS:
            if (n && !hasp_x509_dns_valid(s, n, 0)) {
                snprintf(err, cap, "dNSName constraint '%.*s' is not a valid DNS name", (int)n, s);
                return -1;
            }
            break;
        case GN_IP: {
            if (n != 8 && n != 32) {
                snprintf(err, cap, "iPAddress constraint of %zu bytes is not an address and mask",
                         n);
                return -1;
            }
            const uint8_t *m = base.content.p + n / 2;
            int zero = 0;
            for (size_t i = 0; i < n / 2 * 8; i++) {
                int bit = (m[i / 8] >> (7 - i % 8)) & 1;
                if (bit && zero) {
                    snprintf(err, cap, "iPAddress constraint mask is not contiguous");
                    return -1;
                }
                if (!bit) zero = 1;
            }
            break;
        }
        case GN_EMAIL:
            if (!email_valid(s, n, 1)) {
                snprintf(err, cap, "rfc822Name constraint '%.*s' is not valid", (int)n, s);
                return -1;
            }
            break;
        default:
            break;
        }
    }
    return 0;
}

/* DNS: name within the subtree of constraint c. */
static int dns_within(const char *n, size_t nl, const char *c, size_t cl)
{
    if (cl == 0) return 1;
    if (nl == cl) return ieq(n, c, cl);
    return nl > cl && n[nl - cl - 1] == '.' && ieq(n + nl - cl, c, cl);
}

/* Does a DNS name (maybe a "*." pattern) meet constraint c? For a pattern,
 * "excluded" asks whether any name it covers is in the subtree; "permitted"
 * whether every name it covers is. */
static int dns_nc_match(const char *n, size_t nl, const char *c, size_t cl, int excluded)
{
    if (nl > 2 && n[0] == '*' && n[1] == '.') {
        const char *base = n + 2;
        size_t bl = nl - 2;
        if (dns_within(base, bl, c, cl)) return 1;
        if (excluded) {
            /* c is one label under base: *.base covers it. */
            const char *dot = memchr(c, '.', cl);
            return dot && (size_t)(c + cl - dot - 1) == bl && ieq(dot + 1, base, bl);
        }
        return 0;
    }
    return dns_within(n, nl, c, cl);
}

static int ip_nc_match(hasp_rd ip, hasp_rd c)
{
    if (c.len != ip.len * 2) return 0;
    for (size_t i = 0; i < ip.len; i++)
        if ((ip.p[i] & c.p[ip.len + i]) != (c.p[i] & c.p[ip.len + i])) return 0;
    return 1;
}

static int email_nc_match(const char *n, size_t nl, const char *c, size_t cl)
{
    const char *at = memchr(n, '@', nl);
    if (!at) return 0;
    const char *dom = at + 1;
    size_t dl = nl - (size_t)(dom - n);
    if (memchr(c, '@', cl)) {
        /* A mailbox: local part exact, host case-insensitive. */
        const char *cat = memchr(c, '@', cl);
        size_t local = (size_t)(cat - c);
        return local == (size_t)(at - n) && memcmp(n, c, local) == 0 && dl == cl - local - 1 &&
               ieq(dom, cat + 1, dl);
    }
    if (cl && c[0] == '.') return dl > cl && ieq(dom + dl - cl, c, cl);
    return dl == cl && ieq(dom, c, cl);
}

typedef struct nc_ctx {
    const hasp_x509_cert *ca;
    long *budget;
    char *err;
    size_t cap;
    char ca_name[200];
} nc_ctx;

/* 1 if subtrees hold any constraint of this GeneralName type. */
static int has_type(hasp_rd subtrees, unsigned type)
{
    while (rd_left(&subtrees)) {
        hasp_der_elem st, base;
        if (hasp_der_expect(&subtrees, DER_SEQUENCE, &st) < 0 ||
            hasp_der_next(&st.content, &base) < 0)
            return 1;
        if ((base.tag & 0x1f) == type) return 1;
    }
    return 0;
}

/* 1 if the name (type, value) matches some subtree of that type. -1 when
 * the work budget ran out. */
static int match_any(nc_ctx *k, hasp_rd subtrees, unsigned type, hasp_rd value, int excluded)
{
    while (rd_left(&subtrees)) {
        hasp_der_elem st, base;
        if (hasp_der_expect(&subtrees, DER_SEQUENCE, &st) < 0 ||
            hasp_der_next(&st.content, &base) < 0)
            return 0;
        if ((base.tag & 0x1f) != type) continue;
        if (--*k->budget < 0) return -1;
        const char *n = (const char *)value.p, *c = (const char *)base.content.p;
        int m = 0;
        switch (type) {
        case GN_DNS:
            m = dns_nc_match(n, value.len, c, base.content.len, excluded);
            break;
        case GN_IP:
            m = ip_nc_match(value, base.content);
            break;
        case GN_EMAIL:
            m = email_nc_match(n, value.len, c, base.content.len);
            break;
        case GN_DIRNAME:
            m = x509_name_within(value, base.content);
            break;
        default:
            m = 0;
        }
        if (m) return 1;
    }
    return 0;
}

static const char *type_name(unsigned t)
{
    static const char *const names[] = {"otherName",   "rfc822Name",    "dNSName",
                                        "x400Address", "directoryName", "ediPartyName",
                                        "URI",         "iPAddress",     "registeredID"};
    return t <= 8 ? names[t] : "name";
}

static int check_name(nc_ctx *k, const hasp_x509_cert *c, unsigned type, hasp_rd value,
                      const char *shown)
{
    const hasp_x509_cert *ca = k->ca;
    int perm = has_type(ca->nc_permitted, type), excl = has_type(ca->nc_excluded, type);
    if (!perm && !excl) return 0;
    char name[300];
    snprintf(name, sizeof(name), "%s", shown);
    int valid = 1;
    switch (type) {
    case GN_DNS:
        valid = hasp_x509_dns_valid((const char *)value.p, value.len, 1);
        break;
    case GN_IP:
        valid = value.len == 4 || value.len == 16;
        break;
    case GN_EMAIL:
        valid = email_valid((const char *)value.p, value.len, 0);
        break;
    case GN_DIRNAME:
        valid = 1;
        break;
    default:
        valid = -1;
    }
    if (valid < 0) {
        snprintf(k->err, k->cap,
                 "'%s' has a %s name, and the name constraints of '%s' constrain that form, "
                 "which hasp cannot check",
                 shown, type_name(type), k->ca_name);
        return HASP_ERR_CERT_CONSTRAINTS;
    }
    if (!valid) {
        snprintf(k->err, k->cap,
                 "%s '%s' is malformed, so the name constraints of '%s' cannot be checked",
                 type_name(type), name, k->ca_name);
        return HASP_ERR_CERT_CONSTRAINTS;
    }
    int m = excl ? match_any(k, ca->nc_excluded, type, value, 1) : 0;
    if (m == 0 && perm) {
        m = match_any(k, ca->nc_permitted, type, value, 0);
        if (m == 0) {
            snprintf(k->err, k->cap, "%s '%s' is outside the names permitted by '%s'",
                     type_name(type), name, k->ca_name);
            return HASP_ERR_CERT_CONSTRAINTS;
        }
        m = m < 0 ? -1 : 0;
    } else if (m == 1) {
        snprintf(k->err, k->cap, "%s '%s' is excluded by the name constraints of '%s'",
                 type_name(type), name, k->ca_name);
        return HASP_ERR_CERT_CONSTRAINTS;
    }
    if (m < 0) {
        snprintf(k->err, k->cap,
                 "checking name constraints of '%s' took too much work (too many names and "
                 "constraints)",
                 k->ca_name);
        return HASP_ERR_CERT_CONSTRAINTS;
    }
    return 0;
}

struct email_attr {
    nc_ctx *k;
    const hasp_x509_cert *c;
    int rc;
};

static int email_attr_fn(void *arg, const hasp_der_elem *v)
{
    struct email_attr *e = arg;
    char shown[256];
    snprintf(shown, sizeof(shown), "%.*s", (int)v->content.len, (const char *)v->content.p);
    e->rc = check_name(e->k, e->c, GN_EMAIL, v->content, shown);
    return e->rc ? 1 : 0;
}

int x509_nc_check(const hasp_x509_cert *ca, const hasp_x509_cert *c, int is_leaf, long *budget,
                  char *err, size_t cap)
{
    nc_ctx k = {ca, budget, err, cap, ""};
    hasp_x509_subject_str(ca, k.ca_name, sizeof(k.ca_name));
    /* The subject: as a directoryName, and its emailAddress attributes. */
    if (x509_name_rdn_count(c->subject) > 0) {
        char shown[256];
        hasp_x509_name_str(c->subject, shown, sizeof(shown));
        GUARD(check_name(&k, c, GN_DIRNAME, c->subject, shown));
        struct email_attr e = {&k, c, 0};
        each_attr(c->subject, OID_AT_EMAIL, sizeof(OID_AT_EMAIL) - 1, email_attr_fn, &e);
        GUARD(e.rc);
    }
    if (c->has_san) {
        hasp_rd r = c->san;
        while (rd_left(&r)) {
            hasp_der_elem gn;
            GUARD(hasp_der_next(&r, &gn));
            unsigned t = gn.tag & 0x1f;
            char shown[256];
            if (t == GN_IP) {
                x509_ip_str(gn.content, shown, sizeof(shown));
            } else if (t == GN_DIRNAME) {
                hasp_x509_name_str(gn.content, shown, sizeof(shown));
            } else if (t == GN_DNS || t == GN_EMAIL || t == GN_URI) {
                snprintf(shown, sizeof(shown), "%.*s", (int)gn.content.len,
                         (const char *)gn.content.p);
            } else {
                snprintf(shown, sizeof(shown), "%s", type_name(t));
            }
            GUARD(check_name(&k, c, t, gn.content, shown));
        }
    }
    (void)is_leaf;
    return 0;
}
