/* The x509-limbo suite (https://x509-limbo.com) run through
 * hasp_x509_verify. Reads limbo.json (argument, or
 * ../shared/x509-limbo/limbo.json from the repository root), prints one
 * line per case and the totals, and exits non-zero on any wrong answer.
 *
 * Each case is judged under one validation profile (webpki or rfc5280,
 * case_profile() says which), so both sides of limbo's conflicting pairs
 * are run. A case is skipped only when it carries a feature from the
 * documented out-of-scope list below. docs/x509.md lists both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/der.h"
#include "codec/pem.h"
#include "x509/x509.h"

/* Features out of scope, with the reason printed on each skip. */
static const struct {
    const char *feature;
    const char *why;
} out_of_scope[] = {
    /* none today: every feature of limbo.json is in scope */
    {NULL, NULL},
};

/* ------------------------------------------------------------------ JSON */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct json {
    int type;
    char *str; /* J_STR; also the key when inside an object */
    char *key;
    double num;
    int b;
    struct json **items;
    size_t n;
} json;

typedef struct jp {
    const char *p, *end;
    int err;
} jp;

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static json *jnew(int t)
{
    json *v = calloc(1, sizeof(*v));
    if (!v) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    v->type = t;
    return v;
}

static void put_utf8(char **o, unsigned cp)
{
    char *s = *o;
    if (cp < 0x80) {
        *s++ = (char)cp;
    } else if (cp < 0x800) {
        *s++ = (char)(0xc0 | (cp >> 6));
        *s++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *s++ = (char)(0xe0 | (cp >> 12));
        *s++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *s++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *s++ = (char)(0xf0 | (cp >> 18));
        *s++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *s++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *s++ = (char)(0x80 | (cp & 0x3f));
    }
    *o = s;
}

static unsigned hex4(jp *j)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (j->p >= j->end) {
            j->err = 1;
            return 0;
        }
        char c = *j->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            j->err = 1;
    }
    return v;
}

static char *jstring(jp *j)
{
    j->p++; /* the quote */
    const char *q = j->p;
    while (q < j->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    char *out = malloc((size_t)(q - j->p) * 2 + 8), *o = out;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        if (j->p >= j->end) break;
        c = *j->p++;
        switch (c) {
        case 'n':
            *o++ = '\n';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'u': {
            unsigned cp = hex4(j);
            if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u') {
                j->p += 2;
                unsigned lo = hex4(j);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(&o, cp);
            break;
        }
        default:
            *o++ = c;
        }
    }
    if (j->p >= j->end) j->err = 1;
    j->p++;
    *o = 0;
    return out;
}

static json *jvalue(jp *j)
{
    ws(j);
    if (j->p >= j->end) {
        j->err = 1;
        return jnew(J_NULL);
    }
    char c = *j->p;
    if (c == '"') {
        json *v = jnew(J_STR);
        v->str = jstring(j);
        return v;
    }
    if (c == '{' || c == '[') {
        json *v = jnew(c == '{' ? J_OBJ : J_ARR);
        char close = c == '{' ? '}' : ']';
        size_t cap = 0;
        j->p++;
        ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return v;
        }
        while (!j->err) {
            char *key = NULL;
            if (v->type == J_OBJ) {
                ws(j);
                if (j->p >= j->end || *j->p != '"') {
                    j->err = 1;
                    break;
                }
                key = jstring(j);
                ws(j);
                if (j->p >= j->end || *j->p != ':') {
                    j->err = 1;
                    free(key);
                    break;
                }
                j->p++;
            }
            json *item = jvalue(j);
            item->key = key;
            if (v->n == cap) {
                cap = cap ? cap * 2 : 8;
                v->items = realloc(v->items, cap * sizeof(*v->items));
            }
            v->items[v->n++] = item;
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                break;
            }
            j->err = 1;
        }
        return v;
    }
    if (!strncmp(j->p, "null", 4)) {
        j->p += 4;
        return jnew(J_NULL);
    }
    if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "false", 5)) {
        json *v = jnew(J_BOOL);
        v->b = *j->p == 't';
        j->p += v->b ? 4 : 5;
        return v;
    }
    char *e;
    json *v = jnew(J_NUM);
    v->num = strtod(j->p, &e);
    if (e == j->p) j->err = 1;
    j->p = e;
    return v;
}

static void jfree(json *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->n; i++)
        jfree(v->items[i]);
    free(v->items);
    free(v->str);
    free(v->key);
    free(v);
}

static const json *jget(const json *o, const char *key)
{
    if (!o || o->type != J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->items[i]->key, key)) return o->items[i];
    return NULL;
}

static const char *jstr(const json *o, const char *key)
{
    const json *v = jget(o, key);
    return v && v->type == J_STR ? v->str : NULL;
}

/* ------------------------------------------------------------------ cases */

/* RFC 3339 "2024-01-01T00:00:00.999+00:00" -> seconds, floored. */
static int64_t parse_time(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) return 0;
    int64_t t =
        hasp_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
    const char *z = s + 19;
    while (*z == '.' || (*z >= '0' && *z <= '9'))
        z++;
    if (*z == '+' || *z == '-') {
        int oh, om;
        if (sscanf(z + 1, "%d:%d", &oh, &om) == 2)
            t -= (*z == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    }
    return t;
}

static int pem_to_der(const char *pem, uint8_t **der, size_t *len)
{
    const uint8_t *p = (const uint8_t *)pem;
    char label[64];
    return hasp_pem_next(&p, p + strlen(pem), label, sizeof(label), der, len) == 1 ? 0 : -1;
}

/* Generic cases (no webpki:: / rfc5280:: prefix) that are about a rule on
 * which the profiles disagree, judged under RFC 5280, with the reason. */
static const struct {
    const char *id;
    const char *why;
} rfc5280_cases[] = {
    {"pathlen::validation-ignores-pathlen-in-leaf",
     "a CA certificate as the leaf (RFC 5280 4.2.1.9 note); the webpki profile refuses one, as "
     "webpki::ca-as-leaf expects"},
};

/* The profile a case is judged under: its id prefix (webpki:: or
 * rfc5280::), else its pedantic-* / rfc5280-* features, else the table
 * above, else the default (webpki). LIMBO_PROFILE=webpki|rfc5280 forces one
 * for every case. */
static int case_profile(const json *tc)
{
    const char *force = getenv("LIMBO_PROFILE");
    if (force && *force) return !strcmp(force, "rfc5280");
    const char *id = jstr(tc, "id");
    for (size_t i = 0; id && i < sizeof(rfc5280_cases) / sizeof(rfc5280_cases[0]); i++)
        if (!strcmp(id, rfc5280_cases[i].id)) return HASP_X509_PROFILE_RFC5280;
    if (id && !strncmp(id, "rfc5280::", 9)) return HASP_X509_PROFILE_RFC5280;
    if (id && !strncmp(id, "webpki::", 8)) return HASP_X509_PROFILE_WEBPKI;
    const json *feats = jget(tc, "features");
    for (size_t k = 0; feats && k < feats->n; k++) {
        const char *f = feats->items[k]->str;
        if (!strcmp(f, "pedantic-rfc5280") || !strcmp(f, "rfc5280-incompatible-with-webpki"))
            return HASP_X509_PROFILE_RFC5280;
        if (!strncmp(f, "pedantic-webpki", 15)) return HASP_X509_PROFILE_WEBPKI;
    }
    return HASP_X509_PROFILE_WEBPKI;
}

typedef struct outcome {
    const char *id;
    int skipped, right;
    const char *expected;
    int profile;
    char got[32];
    char reason[800];
    const json *tc;
} outcome;

static void run_case(const json *tc, outcome *o)
{
    hasp_x509_store *store = hasp_x509_store_new();
    const json *trusted = jget(tc, "trusted_certs");
    for (size_t i = 0; trusted && i < trusted->n; i++) {
        const char *pem = trusted->items[i]->str;
        hasp_x509_store_add_pem(store, (const uint8_t *)pem, strlen(pem));
    }
    const json *crls = jget(tc, "crls");
    int bad_crl = 0;
    for (size_t i = 0; crls && crls->type == J_ARR && i < crls->n; i++) {
        const char *pem = crls->items[i]->str;
        if (hasp_x509_store_add_crl(store, (const uint8_t *)pem, strlen(pem)) < 0) bad_crl = 1;
    }
    const json *inter = jget(tc, "untrusted_intermediates");
    size_t n = 1 + (inter ? inter->n : 0);
    uint8_t **ders = calloc(n, sizeof(*ders));
    size_t *lens = calloc(n, sizeof(*lens));
    int bad = pem_to_der(jstr(tc, "peer_certificate"), &ders[0], &lens[0]) < 0;
    for (size_t i = 1; i < n; i++)
        bad |= pem_to_der(inter->items[i - 1]->str, &ders[i], &lens[i]) < 0;

    hasp_x509_params p;
    memset(&p, 0, sizeof(p));
    char host[256] = "";
    const json *peer = jget(tc, "expected_peer_name");
    if (peer && peer->type == J_OBJ) {
        const char *kind = jstr(peer, "kind"), *value = jstr(peer, "value");
        if (kind && value && (!strcmp(kind, "DNS") || !strcmp(kind, "IP"))) {
            snprintf(host, sizeof(host), "%s", value);
            p.host = host;
        }
    }
    const char *vt = jstr(tc, "validation_time");
    p.time = vt ? parse_time(vt) : 0;
    const char *kind = jstr(tc, "validation_kind");
    p.purpose =
        kind && !strcmp(kind, "CLIENT") ? HASP_X509_PURPOSE_CLIENT : HASP_X509_PURPOSE_SERVER;
    const json *eku = jget(tc, "extended_key_usage");
    for (size_t i = 0; eku && i < eku->n; i++) {
        if (!strcmp(eku->items[i]->str, "serverAuth"))
            p.purpose = HASP_X509_PURPOSE_SERVER;
        else if (!strcmp(eku->items[i]->str, "clientAuth"))
            p.purpose = HASP_X509_PURPOSE_CLIENT;
    }
    const json *ku = jget(tc, "key_usage");
    for (size_t i = 0; ku && i < ku->n; i++) {
        static const char *const bits[] = {
            "digitalSignature", "contentCommitment", "keyEncipherment",
            "dataEncipherment", "keyAgreement",      "keyCertSign",
            "cRLSign",          "encipherOnly",      "decipherOnly"};
        for (unsigned b = 0; b < 9; b++)
            if (!strcmp(ku->items[i]->str, bits[b])) p.key_usage |= 1u << b;
    }
    /* limbo counts intermediates; hasp counts intermediates + the anchor. */
    p.profile = o->profile = case_profile(tc);
    const json *depth = jget(tc, "max_chain_depth");
    if (depth && depth->type == J_NUM) p.max_depth = (int)depth->num + 1;

    hasp_x509_result res;
    int rc;
    if (bad || bad_crl) {
        rc = HASP_ERR_CERT_BAD;
        snprintf(res.reason, sizeof(res.reason), "%s",
                 bad ? "a PEM certificate could not be decoded" : hasp_err_last()->msg);
    } else {
        rc = hasp_x509_verify(store, &p, (const uint8_t *const *)ders, lens, n, &res);
    }
    snprintf(o->got, sizeof(o->got), "%s", rc == 0 ? "SUCCESS" : "FAILURE");
    snprintf(o->reason, sizeof(o->reason), "%s", rc == 0 ? "valid" : res.reason);
    o->right = !strcmp(o->got, o->expected);
    for (size_t i = 0; i < n; i++)
        free(ders[i]);
    free(ders);
    free(lens);
    hasp_x509_store_free(store);
}

int main(int argc, char **argv)
{
    const char *paths[] = {argc > 1 ? argv[1] : NULL, getenv("LIMBO_JSON"),
                           "../shared/x509-limbo/limbo.json", "../../shared/x509-limbo/limbo.json"};
    FILE *f = NULL;
    const char *path = NULL;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && !f; i++)
        if (paths[i] && (f = fopen(paths[i], "rb")) != NULL) path = paths[i];
    if (!f) {
        fprintf(stderr, "x509_limbo: cannot find limbo.json (give its path as the argument)\n");
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "x509_limbo: cannot read %s\n", path);
        return 2;
    }
    fclose(f);
    buf[sz] = 0;
    jp j = {buf, buf + sz, 0};
    json *root = jvalue(&j);
    const json *cases = jget(root, "testcases");
    if (j.err || !cases || cases->type != J_ARR) {
        fprintf(stderr, "x509_limbo: %s is not a limbo file\n", path);
        return 2;
    }
    outcome *all = calloc(cases->n, sizeof(*all));
    clock_t t0 = clock();
    for (size_t i = 0; i < cases->n; i++) {
        const json *tc = cases->items[i];
        outcome *o = &all[i];
        o->tc = tc;
        o->id = jstr(tc, "id");
        o->expected = jstr(tc, "expected_result");
        const json *feats = jget(tc, "features");
        for (size_t k = 0; feats && k < feats->n && !o->skipped; k++)
            for (size_t s = 0; out_of_scope[s].feature; s++)
                if (!strcmp(feats->items[k]->str, out_of_scope[s].feature)) {
                    o->skipped = 1;
                    snprintf(o->reason, sizeof(o->reason), "%s (%s)", out_of_scope[s].feature,
                             out_of_scope[s].why);
                }
        if (!o->skipped) run_case(tc, o);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    int right = 0, wrong = 0, skipped = 0;
    for (size_t i = 0; i < cases->n; i++) {
        outcome *o = &all[i];
        if (o->skipped) {
            printf("# skip %s: %s\n", o->id, o->reason);
            skipped++;
            continue;
        }
        if (o->right) {
            if (getenv("LIMBO_VERBOSE"))
                printf("ok - limbo %s [%s] # %s\n", o->id, o->profile ? "rfc5280" : "webpki",
                       o->reason);
            else
                printf("ok - limbo %s [%s]\n", o->id, o->profile ? "rfc5280" : "webpki");
            right++;
            continue;
        }
        printf("not ok - limbo %s [%s]: expected %s got %s (%s)\n", o->id,
               o->profile ? "rfc5280" : "webpki", o->expected, o->got, o->reason);
        wrong++;
    }
    printf("limbo: %d right, %d wrong, %d skipped (%.2f s)\n", right, wrong, skipped, secs);
    free(all);
    jfree(root);
    free(buf);
    return wrong ? 1 : 0;
}
