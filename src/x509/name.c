/* Distinguished names (RFC 5280 4.1.2.4, 7.1): validation, comparison,
 * hashing, printing. GeneralNames structure checks. */
#include "../alloc.h"
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "oid.h"

static int atv_next(hasp_rd *rdn, hasp_rd *type, hasp_der_elem *value)
{
    hasp_der_elem atv;
    GUARD(hasp_der_expect(rdn, DER_SEQUENCE, &atv));
    GUARD(hasp_der_oid(&atv.content, type));
    GUARD(hasp_der_next(&atv.content, value));
    return hasp_der_end(&atv.content, "an AttributeTypeAndValue");
}

int x509_name_valid(hasp_rd name)
{
    hasp_der_elem seq, rdn;
    GUARD(hasp_der_expect(&name, DER_SEQUENCE, &seq));
    GUARD(hasp_der_end(&name, "a Name"));
    while (rd_left(&seq.content)) {
        GUARD(hasp_der_expect(&seq.content, DER_SET, &rdn));
        ENSURE_MSG(rd_left(&rdn.content) > 0, HASP_ERR_DECODE, "a Name has an empty RDN");
        while (rd_left(&rdn.content)) {
            hasp_rd type;
            hasp_der_elem v;
            GUARD(atv_next(&rdn.content, &type, &v));
        }
    }
    return 0;
}

int x509_name_rdn_count(hasp_rd name)
{
    hasp_der_elem seq, rdn;
    int n = 0;
    if (hasp_der_expect(&name, DER_SEQUENCE, &seq) < 0) return -1;
    while (rd_left(&seq.content)) {
        if (hasp_der_expect(&seq.content, DER_SET, &rdn) < 0) return -1;
        n++;
    }
    return n;
}

static int is_folded_string(uint8_t tag)
{
    return tag == DER_PRINTABLE_STRING || tag == DER_UTF8_STRING || tag == DER_IA5_STRING;
}

/* The normalised form: per RDN 0x01, per attribute 0x02 oid-len oid tag
 * value-len(4) value, string values case- and space-folded. Returns the
 * length needed; writes at most cap bytes. */
static size_t name_norm(hasp_rd name, uint8_t *out, size_t cap)
{
    size_t n = 0;
#define PUT(b)                                                                                     \
    do {                                                                                           \
        if (n < cap) out[n] = (uint8_t)(b);                                                        \
        n++;                                                                                       \
    } while (0)
    hasp_der_elem seq, rdn;
    if (hasp_der_expect(&name, DER_SEQUENCE, &seq) < 0) return 0;
    while (rd_left(&seq.content)) {
        if (hasp_der_expect(&seq.content, DER_SET, &rdn) < 0) return n;
        PUT(0x01);
        while (rd_left(&rdn.content)) {
            hasp_rd type;
            hasp_der_elem v;
            if (atv_next(&rdn.content, &type, &v) < 0) return n;
            PUT(0x02);
            PUT(type.len);
            for (size_t i = 0; i < type.len; i++)
                PUT(type.p[i]);
            size_t lenpos = n;
            PUT(0);
            PUT(0);
            PUT(0);
            PUT(0);
            size_t start = n;
            if (is_folded_string(v.tag)) {
                PUT(DER_UTF8_STRING);
                const uint8_t *s = v.content.p;
                size_t len = v.content.len, i = 0;
                while (i < len && (s[i] == ' ' || s[i] == '\t'))
                    i++;
                while (len > i && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                    len--;
                int space = 0;
                for (; i < len; i++) {
                    uint8_t ch = s[i];
                    if (ch == ' ' || ch == '\t') {
                        space = 1;
                        continue;
                    }
                    if (space) PUT(' ');
                    space = 0;
                    PUT(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
                }
            } else {
                PUT(v.tag);
                for (size_t i = 0; i < v.content.len; i++)
                    PUT(v.content.p[i]);
            }
            size_t vl = n - start;
            for (int k = 0; k < 4; k++)
                if (lenpos + (size_t)k < cap)
                    out[lenpos + (size_t)k] = (uint8_t)(vl >> (24 - 8 * k));
        }
    }
#undef PUT
    return n;
}

/* The normalised name in buf (stack) or a malloc'd buffer (*heap). */
static size_t norm_get(hasp_rd name, uint8_t *buf, size_t cap, uint8_t **heap, const uint8_t **out)
{
    size_t n = name_norm(name, buf, cap);
    *heap = NULL;
    *out = buf;
    if (n > cap) {
        *heap = hasp_malloc(n);
        if (!*heap) return (size_t)-1;
        name_norm(name, *heap, n);
        *out = *heap;
    }
    return n;
}

uint64_t hasp_x509_name_hash(hasp_rd name)
{
    uint8_t buf[1024], *heap;
    const uint8_t *p;
    size_t n = norm_get(name, buf, sizeof(buf), &heap, &p);
    uint64_t h = 1469598103934665603ull;
    if (n == (size_t)-1) return 0;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    hasp_free(heap);
    return h;
}

int hasp_x509_name_eq(hasp_rd a, hasp_rd b)
{
    if (a.len == b.len && memcmp(a.p, b.p, a.len) == 0) return 1;
    uint8_t ba[512], bb[512], *ha, *hb;
    const uint8_t *pa, *pb;
    size_t na = norm_get(a, ba, sizeof(ba), &ha, &pa);
    size_t nb = norm_get(b, bb, sizeof(bb), &hb, &pb);
    int eq = na != (size_t)-1 && na == nb && memcmp(pa, pb, na) == 0;
    hasp_free(ha);
    hasp_free(hb);
    return eq;
}

int x509_name_within(hasp_rd name, hasp_rd constraint)
{
    uint8_t ba[512], bb[512], *ha, *hb;
    const uint8_t *pn, *pc;
    size_t nn = norm_get(name, ba, sizeof(ba), &ha, &pn);
    size_t nc = norm_get(constraint, bb, sizeof(bb), &hb, &pc);
    int in = nn != (size_t)-1 && nc != (size_t)-1 && nc <= nn && memcmp(pn, pc, nc) == 0 &&
             (nn == nc || pn[nc] == 0x01);
    hasp_free(ha);
    hasp_free(hb);
    return in;
}

static const char *attr_name(hasp_rd type)
{
    static const struct {
        const char *oid;
        const char *name;
    } tab[] = {
        {"\x55\x04\x03", "CN"},
        {"\x55\x04\x06", "C"},
        {"\x55\x04\x07", "L"},
        {"\x55\x04\x08", "ST"},
        {"\x55\x04\x0a", "O"},
        {"\x55\x04\x0b", "OU"},
        {"\x55\x04\x05", "serialNumber"},
        {"\x55\x04\x09", "street"},
        {"\x55\x04\x0c", "title"},
        {"\x55\x04\x2a", "GN"},
        {"\x55\x04\x04", "SN"},
        {"\x55\x04\x61", "organizationIdentifier"},
        {"\x55\x04\x2e", "dnQualifier"},
        {"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19", "DC"},
        {"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x01", "UID"},
        {OID_AT_EMAIL, "emailAddress"},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (hasp_der_oid_eq(type, (const uint8_t *)tab[i].oid, strlen(tab[i].oid)))
            return tab[i].name;
    return NULL;
}

static void value_str(const hasp_der_elem *v, char *out, size_t cap)
{
    size_t o = strlen(out);
    const uint8_t *s = v->content.p;
    size_t n = v->content.len;
    if (v->tag == DER_BMP_STRING) {
        for (size_t i = 0; i + 1 < n && o + 2 < cap; i += 2) {
            unsigned ch = (unsigned)(s[i] << 8) | s[i + 1];
            out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        out[o < cap ? o : cap - 1] = 0;
        return;
    }
    if (v->tag == DER_UTF8_STRING || v->tag == DER_PRINTABLE_STRING || v->tag == DER_IA5_STRING ||
        v->tag == DER_T61_STRING || v->tag == DER_VISIBLE_STRING) {
        for (size_t i = 0; i < n && o + 5 < cap; i++) {
            uint8_t ch = s[i];
            if (ch >= 0x20 && ch != 0x7f && (ch < 0x80 || v->tag == DER_UTF8_STRING)) {
                if (ch == ',' || ch == '\\') {
                    out[o++] = '\\';
                }
                out[o++] = (char)ch;
            } else {
                o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
            }
        }
        out[o < cap ? o : cap - 1] = 0;
        return;
    }
    x509_append(out, cap, "#");
    for (size_t i = 0; i < n && strlen(out) + 3 < cap; i++)
        x509_append(out, cap, "%02x", s[i]);
}

void hasp_x509_name_str(hasp_rd name, char *out, size_t cap)
{
    hasp_der_elem seq;
    if (!cap) return;
    out[0] = 0;
    if (hasp_der_expect(&name, DER_SEQUENCE, &seq) < 0) return;
    /* RFC 4514 order: the last RDN first. Collect RDN views (bounded). */
    hasp_rd rdns[64];
    size_t nrdn = 0;
    hasp_rd r = seq.content;
    while (rd_left(&r) && nrdn < 64) {
        hasp_der_elem rdn;
        if (hasp_der_expect(&r, DER_SET, &rdn) < 0) return;
        rdns[nrdn++] = rdn.content;
    }
    for (size_t k = nrdn; k-- > 0;) {
        hasp_rd rdn = rdns[k];
        int first_atv = 1;
        while (rd_left(&rdn)) {
            hasp_rd type;
            hasp_der_elem v;
            if (atv_next(&rdn, &type, &v) < 0) return;
            if (strlen(out)) x509_append(out, cap, first_atv ? ", " : " + ");
            first_atv = 0;
            const char *an = attr_name(type);
            if (an) {
                x509_append(out, cap, "%s=", an);
            } else {
                char s[64];
                hasp_der_oid_str(type, s, sizeof(s));
                x509_append(out, cap, "%s=", s);
            }
            value_str(&v, out, cap);
        }
    }
}

void hasp_x509_subject_str(const hasp_x509_cert *c, char *out, size_t cap)
{
    hasp_x509_name_str(c->subject, out, cap);
    if (cap && !out[0]) {
        out[0] = 0;
        x509_append(out, cap, "(empty subject; ");
        x509_san_str(c, out + strlen(out), cap - strlen(out));
        x509_append(out, cap, ")");
    }
}

int x509_general_names_valid(hasp_rd names)
{
    while (rd_left(&names)) {
        hasp_der_elem gn;
        GUARD(hasp_der_next(&names, &gn));
        ENSURE_MSG((gn.tag & 0xc0) == DER_CONTEXT, HASP_ERR_DECODE,
                   "a GeneralName has a non-context tag 0x%02x", gn.tag);
        unsigned num = gn.tag & 0x1f;
        int cons = (gn.tag & DER_CONSTRUCTED) != 0;
        ENSURE_MSG(num <= 8, HASP_ERR_DECODE, "unknown GeneralName [%u]", num);
        int want_cons = num == GN_OTHER || num == GN_X400 || num == GN_DIRNAME || num == GN_EDI;
        ENSURE_MSG(cons == want_cons, HASP_ERR_DECODE, "GeneralName [%u] has the wrong form", num);
        if (num == GN_DIRNAME) {
            hasp_rd r = gn.content;
            GUARD(x509_name_valid(r));
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ text (for messages) */

void x509_append(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    if (n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

/* An iPAddress GeneralName as text. */
void x509_ip_str(hasp_rd ip, char *out, size_t cap)
{
    char buf[INET6_ADDRSTRLEN];
    if (ip.len == 4 && inet_ntop(AF_INET, ip.p, buf, sizeof(buf)))
        snprintf(out, cap, "%s", buf);
    else if (ip.len == 16 && inet_ntop(AF_INET6, ip.p, buf, sizeof(buf)))
        snprintf(out, cap, "%s", buf);
    else
        snprintf(out, cap, "(invalid %zu-byte address)", ip.len);
}

void x509_san_str(const hasp_x509_cert *c, char *out, size_t cap)
{
    if (!cap) return;
    out[0] = 0;
    if (!c->has_san) {
        x509_append(out, cap, "no subjectAltName");
        return;
    }
    hasp_rd r = c->san;
    int count = 0;
    while (rd_left(&r)) {
        hasp_der_elem gn;
        if (hasp_der_next(&r, &gn) < 0) break;
        if (strlen(out) + 40 > cap) {
            x509_append(out, cap, ", ...");
            break;
        }
        const char *sep = count++ ? ", " : "";
        switch (gn.tag & 0x1f) {
        case GN_DNS:
            x509_append(out, cap, "%sDNS:%.*s", sep, (int)gn.content.len,
                        (const char *)gn.content.p);
            break;
        case GN_EMAIL:
            x509_append(out, cap, "%semail:%.*s", sep, (int)gn.content.len,
                        (const char *)gn.content.p);
            break;
        case GN_URI:
            x509_append(out, cap, "%sURI:%.*s", sep, (int)gn.content.len,
                        (const char *)gn.content.p);
            break;
        case GN_IP: {
            char s[64];
            x509_ip_str(gn.content, s, sizeof(s));
            x509_append(out, cap, "%sIP:%s", sep, s);
            break;
        }
        case GN_DIRNAME: {
            char s[200];
            hasp_x509_name_str(gn.content, s, sizeof(s));
            x509_append(out, cap, "%sDirName:%s", sep, s);
            break;
        }
        default:
            x509_append(out, cap, "%sname of type [%u]", sep, gn.tag & 0x1f);
        }
    }
}
