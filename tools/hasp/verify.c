/* hasp verify: build and validate a certificate path, and say why not.
 *
 *   hasp verify --cafile ROOTS.pem [--untrusted INTERMEDIATES.pem]
 *               [--host NAME | --ip ADDR] [--at-time RFC3339-TIME]
 *               [--purpose server|client] [--profile webpki|rfc5280]
 *               [--crl FILE ...] [--crl-check leaf|chain] [--max-depth N] LEAF.pem
 *
 * Exit status: 0 valid, 1 invalid, 2 usage or input errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/der.h"
#include "codec/pem.h"
#include "x509/x509.h"

int hasp_cmd_verify(int argc, char **argv);

static void usage(FILE *f)
{
    fprintf(f, "usage: hasp verify --cafile ROOTS.pem [options] LEAF.pem\n"
               "\n"
               "Builds a path from the leaf (the first certificate in LEAF.pem; any others\n"
               "there count as sent with it) through the intermediates to a root in ROOTS.pem,\n"
               "validates it (RFC 5280 with the rules of the chosen profile) and prints it, or\n"
               "the reason it fails.\n"
               "\n"
               "  --cafile FILE         trust anchors (PEM); required\n"
               "  --untrusted FILE      more intermediates (PEM), as a server's config has them\n"
               "  --host NAME           check the leaf against this DNS name\n"
               "  --ip ADDR             check the leaf against this IPv4 or IPv6 address\n"
               "  --at-time TIME        validate at this RFC 3339 time or epoch second\n"
               "                        (default: now)\n"
               "  --purpose server|client  the extendedKeyUsage the leaf needs (default: none)\n"
               "  --profile webpki|rfc5280 validation profile (default webpki; see hasp(1))\n"
               "  --crl FILE            a CRL (PEM or DER) to check revocation; repeatable\n"
               "  --crl-check leaf|chain  require a CRL for the leaf, or for every certificate\n"
               "                        below the anchor (default: check those a CRL covers)\n"
               "  --max-depth N         at most N intermediates, 0 to 255, self-issued ones not\n"
               "                        counted; as openssl verify -verify_depth N (default 9)\n"
               "  -h, --help            this help\n"
               "\n"
               "Exit status: 0 valid, 1 invalid, 2 usage error.\n");
}

/* "2024-01-01T00:00:00Z", "2024-01-01T00:00:00+02:00", "2024-01-01 00:00:00",
 * or seconds since the epoch. */
static int parse_time(const char *s, int64_t *t)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *t = v;
        return 0;
    }
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return -1;
    const char *p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m) != 3) return -1;
        p += 1 + m;
        if (*p == '.')
            for (p++; *p >= '0' && *p <= '9'; p++)
                ; /* fractions are floored */
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    int64_t r =
        hasp_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
    if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2) return -1;
        r -= (*p == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
    } else if (*p && strcmp(p, "Z") && strcmp(p, "z")) {
        return -1;
    }
    *t = r;
    return 0;
}

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = realloc(b, cap *= 2);
        if (!nb) free(b);
        b = nb;
    }
    fclose(f);
    if (!b) return -1;
    *buf = b;
    *len = n;
    return 0;
}

static const char *source_name(int src, int is_last)
{
    switch (src) {
    case HASP_X509_SRC_PEER:
        return "from the leaf file";
    case HASP_X509_SRC_CONFIG:
        return "from --untrusted";
    default:
        return is_last ? "trust anchor, from --cafile" : "from --cafile";
    }
}

/* The flag that would change the outcome, when there is one. */
static const char *hint(int rc, const hasp_x509_params *p, const char *reason)
{
    /* A rule of one profile: the other one decides otherwise. */
    if (strstr(reason, "the rfc5280 profile accepts it") ||
        strstr(reason, "the rfc5280 profile does not"))
        return "; --profile rfc5280 validates by RFC 5280 alone";
    if (strstr(reason, "the webpki profile accepts it") ||
        strstr(reason, "(the webpki profile does not)"))
        return "; --profile webpki validates by the web PKI's rules";
    switch (rc) {
    case HASP_ERR_CERT_SELF_SIGNED:
        return "; to trust it, give it with --cafile FILE";
    case HASP_ERR_CERT_USAGE:
        return p->purpose && strstr(reason, "is not for ")
                   ? "; --purpose server|client checks for the other use"
                   : "";
    case HASP_ERR_CERT_PATH_LEN:
        return "; allow more intermediates with --max-depth N";
    case HASP_ERR_CERT_CRL:
        if (strncmp(reason, "no CRL from", 11) != 0) return " (give a usable one with --crl FILE)";
        return p->crl_check == HASP_X509_CRL_CHAIN
                   ? "; give it with --crl FILE, or require CRLs for the leaf only with "
                     "--crl-check leaf"
                   : "; give it with --crl FILE, or drop --crl-check";
    case HASP_ERR_CERT_UNKNOWN_CA:
        return "; give the missing issuer with --untrusted FILE, or its root with --cafile FILE";
    case HASP_ERR_CERT_NAME:
        return "; check another name with --host NAME or --ip ADDR";
    default:
        return "";
    }
}

int hasp_cmd_verify(int argc, char **argv)
{
    const char *cafile = NULL, *untrusted = NULL, *host = NULL, *ip = NULL, *at = NULL;
    const char *purpose = NULL, *leaf = NULL, *profile = NULL, *crl_check = NULL;
    const char *crl_files[32];
    int ncrl = 0;
    int max_depth = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--cafile"))
            slot = &cafile;
        else if (!strcmp(a, "--untrusted"))
            slot = &untrusted;
        else if (!strcmp(a, "--host"))
            slot = &host;
        else if (!strcmp(a, "--ip"))
            slot = &ip;
        else if (!strcmp(a, "--at-time"))
            slot = &at;
        else if (!strcmp(a, "--purpose"))
            slot = &purpose;
        else if (!strcmp(a, "--profile"))
            slot = &profile;
        else if (!strcmp(a, "--crl-check"))
            slot = &crl_check;
        else if (!strcmp(a, "--crl")) {
            if (ncrl == (int)(sizeof(crl_files) / sizeof(crl_files[0]))) {
                fprintf(stderr, "hasp verify: at most %zu --crl files\n",
                        sizeof(crl_files) / sizeof(crl_files[0]));
                return 2;
            }
            slot = &crl_files[ncrl++];
        }
        if (slot || !strcmp(a, "--max-depth")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hasp verify: %s needs a value; see 'hasp verify --help'\n", a);
                return 2;
            }
            if (slot) {
                *slot = argv[++i];
            } else {
                char *end;
                long v = strtol(argv[++i], &end, 10);
                if (!argv[i][0] || *end || v < 0 || v > 255) {
                    fprintf(stderr,
                            "hasp verify: --max-depth wants a number of intermediates from 0 to "
                            "255, not '%s'\n",
                            argv[i]);
                    return 2;
                }
                max_depth = (int)v;
            }
            continue;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hasp verify: unknown option '%s'; see 'hasp verify --help'\n", a);
            return 2;
        }
        if (leaf) {
            fprintf(stderr, "hasp verify: only one LEAF.pem may be given\n");
            return 2;
        }
        leaf = a;
    }
    if (!cafile || !leaf) {
        fprintf(stderr, "hasp verify: %s; see 'hasp verify --help'\n",
                !cafile ? "--cafile ROOTS.pem is required" : "LEAF.pem is required");
        return 2;
    }
    if (host && ip) {
        fprintf(stderr, "hasp verify: give --host or --ip, not both\n");
        return 2;
    }
    uint8_t ipbuf[16];
    if (ip && !hasp_x509_parse_ip(ip, ipbuf)) {
        fprintf(stderr, "hasp verify: '%s' is not an IPv4 or IPv6 address\n", ip);
        return 2;
    }
    hasp_x509_params p;
    memset(&p, 0, sizeof(p));
    p.host = host ? host : ip;
    p.max_depth = max_depth >= 0 ? max_depth + 1 : 0; /* hasp_x509_params counts the anchor */
    if (profile) {
        if (!strcmp(profile, "webpki"))
            p.profile = HASP_X509_PROFILE_WEBPKI;
        else if (!strcmp(profile, "rfc5280"))
            p.profile = HASP_X509_PROFILE_RFC5280;
        else {
            fprintf(stderr, "hasp verify: --profile is 'webpki' or 'rfc5280', not '%s'\n", profile);
            return 2;
        }
    }
    if (purpose) {
        if (!strcmp(purpose, "server"))
            p.purpose = HASP_X509_PURPOSE_SERVER;
        else if (!strcmp(purpose, "client"))
            p.purpose = HASP_X509_PURPOSE_CLIENT;
        else {
            fprintf(stderr, "hasp verify: --purpose is 'server' or 'client', not '%s'\n", purpose);
            return 2;
        }
    }
    if (crl_check) {
        if (!strcmp(crl_check, "leaf"))
            p.crl_check = HASP_X509_CRL_LEAF;
        else if (!strcmp(crl_check, "chain"))
            p.crl_check = HASP_X509_CRL_CHAIN;
        else {
            fprintf(stderr, "hasp verify: --crl-check is 'leaf' or 'chain', not '%s'\n", crl_check);
            return 2;
        }
    }
    if (at && parse_time(at, &p.time) < 0) {
        fprintf(stderr,
                "hasp verify: --at-time '%s' is not an RFC 3339 time "
                "(e.g. 2026-01-31T12:00:00Z)\n",
                at);
        return 2;
    }

    int status = 2;
    hasp_x509_store *roots = hasp_x509_store_new(), *inter = NULL;
    uint8_t *buf = NULL;
    uint8_t *ders[64];
    size_t lens[64], n = 0;
    if (!roots) goto out;
    if (hasp_x509_store_add_file(roots, cafile) < 0) {
        fprintf(stderr, "hasp verify: --cafile: %s\n", hasp_err_last()->msg);
        goto out;
    }
    for (int i = 0; i < ncrl; i++) {
        if (hasp_x509_store_add_crl_file(roots, crl_files[i]) < 0) {
            fprintf(stderr, "hasp verify: --crl: %s\n", hasp_err_last()->msg);
            goto out;
        }
    }
    if (untrusted) {
        inter = hasp_x509_store_new();
        if (!inter || hasp_x509_store_add_file(inter, untrusted) < 0) {
            fprintf(stderr, "hasp verify: --untrusted: %s\n", hasp_err_last()->msg);
            goto out;
        }
        p.extra_intermediates = inter;
    }
    size_t len;
    if (read_all(leaf, &buf, &len) < 0) {
        fprintf(stderr, "hasp verify: cannot read '%s': %s\n", leaf, strerror(errno));
        goto out;
    }
    if (len && buf[0] == 0x30) { /* DER */
        ders[0] = malloc(len);
        if (!ders[0]) goto out;
        memcpy(ders[0], buf, len);
        lens[0] = len;
        n = 1;
    } else {
        const uint8_t *q = buf;
        char label[64];
        int rc;
        uint8_t *der;
        size_t dl;
        while (n < 64 &&
               (rc = hasp_pem_next(&q, buf + len, label, sizeof(label), &der, &dl)) == 1) {
            if (strcmp(label, "CERTIFICATE")) {
                free(der);
                continue;
            }
            ders[n] = der;
            lens[n++] = dl;
        }
        if (n == 0) {
            fprintf(stderr, "hasp verify: '%s' holds no certificate%s%s\n", leaf,
                    rc < 0 ? ": " : "", rc < 0 ? hasp_err_last()->msg : "");
            goto out;
        }
    }

    hasp_x509_result res;
    int rc = hasp_x509_verify(roots, &p, (const uint8_t *const *)ders, lens, n, &res);
    if (rc == 0) {
        printf("verify: OK%s%s\n", p.host ? " for " : "", p.host ? p.host : "");
        status = 0;
    } else {
        printf("verify: FAILED (%s): %s%s\n", hasp_err_name(rc), res.reason,
               hint(rc, &p, res.reason));
        status = 1;
    }
    if (res.path_len) {
        printf("%s (%zu certificate%s, leaf first):\n", rc == 0 ? "path" : "path tried",
               res.path_len, res.path_len == 1 ? "" : "s");
        for (size_t i = 0; i < res.path_len && i < HASP_X509_PATH_MAX; i++)
            printf("  %zu  %s  [%s]\n", i, res.path[i],
                   source_name(res.path_source[i], i + 1 == res.path_len));
    }
out:
    for (size_t i = 0; i < n; i++)
        free(ders[i]);
    free(buf);
    hasp_x509_store_free(roots);
    hasp_x509_store_free(inter);
    return status;
}
