/* Trust stores: certificates parsed once, public keys loaded once, an
 * index by subject name. Immutable once loaded, so it may be shared by
 * threads. */
#include "../alloc.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../codec/pem.h"
#include "../crypto/crypto.h"
#include "../crypto/x509_extra.h"
#include "store.h"

hasp_x509_store *hasp_x509_store_new(void)
{
    hasp_x509_store *s = hasp_calloc(1, sizeof(*s));
    if (!s) hasp_err_set(HASP_ERR_NOMEM, __FILE__, __LINE__, NULL);
    return s;
}

void hasp_x509_store_free(hasp_x509_store *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        hasp_x509_pubkey_free(s->e[i]->key);
        hasp_free(s->e[i]->der);
        hasp_free(s->e[i]);
    }
    for (size_t i = 0; i < s->ncrls; i++)
        x509_crl_free(s->crls[i]);
    hasp_free(s->crls);
    hasp_free(s->e);
    hasp_free(s->index);
    hasp_free(s);
}

size_t hasp_x509_store_count(const hasp_x509_store *s)
{
    return s ? s->n : 0;
}

const hasp_x509_cert *hasp_x509_store_get(const hasp_x509_store *s, size_t i)
{
    return s && i < s->n ? &s->e[i]->cert : NULL;
}

static int cmp_entry(const void *a, const void *b)
{
    const hasp_x509_store_entry *x = *(hasp_x509_store_entry *const *)a;
    const hasp_x509_store_entry *y = *(hasp_x509_store_entry *const *)b;
    if (x->cert.subject_hash != y->cert.subject_hash)
        return x->cert.subject_hash < y->cert.subject_hash ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Returns 1 if added, 0 if a duplicate, negative on error. */
int hasp_x509_store_add_der(hasp_x509_store *s, const uint8_t *der, size_t len)
{
    ENSURE(s != NULL, HASP_ERR_USAGE);
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i]->der_len == len && memcmp(s->e[i]->der, der, len) == 0) return 0;
    hasp_x509_store_entry *e = hasp_calloc(1, sizeof(*e));
    ENSURE(e != NULL, HASP_ERR_NOMEM);
    e->der = hasp_malloc(len ? len : 1);
    if (!e->der) {
        hasp_free(e);
        FAIL(HASP_ERR_NOMEM, NULL);
    }
    memcpy(e->der, der, len);
    e->der_len = len;
    int rc = hasp_x509_parse(e->der, len, &e->cert);
    if (rc < 0) {
        hasp_free(e->der);
        hasp_free(e);
        return rc;
    }
    /* A key hasp cannot load stays NULL; using it fails with a reason. */
    e->key = hasp_x509_pubkey_new(e->cert.spki.p, e->cert.spki.len);
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        hasp_x509_store_entry **ne = hasp_realloc(s->e, ncap * sizeof(*ne));
        hasp_x509_store_entry **ni = ne ? hasp_realloc(s->index, ncap * sizeof(*ni)) : NULL;
        if (ne) s->e = ne;
        if (!ni) {
            hasp_x509_pubkey_free(e->key);
            hasp_free(e->der);
            hasp_free(e);
            FAIL(HASP_ERR_NOMEM, NULL);
        }
        s->index = ni;
        s->cap = ncap;
    }
    e->seq = s->n;
    s->e[s->n] = e;
    /* Insert into the index, keeping it sorted by subject hash. */
    size_t pos = s->n;
    while (pos > 0 && cmp_entry(&s->index[pos - 1], &e) > 0)
        pos--;
    memmove(&s->index[pos + 1], &s->index[pos], (s->n - pos) * sizeof(*s->index));
    s->index[pos] = e;
    s->n++;
    return 1;
}

size_t x509_store_lookup(const hasp_x509_store *s, uint64_t subject_hash, size_t *first)
{
    size_t lo = 0, hi = s ? s->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->index[mid]->cert.subject_hash < subject_hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    size_t end = lo;
    while (end < (s ? s->n : 0) && s->index[end]->cert.subject_hash == subject_hash)
        end++;
    return end - lo;
}

int hasp_x509_store_add_pem(hasp_x509_store *s, const uint8_t *pem, size_t len)
{
    ENSURE(s != NULL, HASP_ERR_USAGE);
    const uint8_t *p = pem, *end = pem + len;
    int added = 0, seen = 0, bad = 0;
    char label[64];
    uint8_t *der;
    size_t der_len;
    int rc;
    while ((rc = hasp_pem_next(&p, end, label, sizeof(label), &der, &der_len)) == 1) {
        if (strcmp(label, "CERTIFICATE") == 0) {
            seen++;
            int r = hasp_x509_store_add_der(s, der, der_len);
            if (r > 0)
                added++;
            else if (r < 0)
                bad++;
        }
        hasp_free(der);
    }
    GUARD(rc);
    ENSURE_MSG(seen > 0, HASP_ERR_CONFIG, "the PEM data holds no CERTIFICATE block");
    ENSURE_MSG(seen > bad, HASP_ERR_CERT_BAD, "none of the %d certificates could be parsed", seen);
    return added;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ENSURE_MSG(f != NULL, HASP_ERR_CONFIG, "cannot open '%s'", path);
    size_t cap = 65536, n = 0;
    uint8_t *b = hasp_malloc(cap);
    for (;;) {
        if (!b) {
            fclose(f);
            FAIL(HASP_ERR_NOMEM, NULL);
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= ((size_t)64 << 20)) {
            hasp_free(b);
            fclose(f);
            FAIL(HASP_ERR_CONFIG, "'%s' is larger than 64 MiB", path);
        }
        uint8_t *nb = hasp_realloc(b, cap * 2);
        if (!nb) hasp_free(b);
        b = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        hasp_free(b);
        FAIL(HASP_ERR_CONFIG, "cannot read '%s'", path);
    }
    *buf = b;
    *len = n;
    return 0;
}

int hasp_x509_store_add_file(hasp_x509_store *s, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    GUARD(read_file(path, &buf, &len));
    int rc;
    if (len && buf[0] == 0x30)
        rc = hasp_x509_store_add_der(s, buf, len); /* a DER file */
    else
        rc = hasp_x509_store_add_pem(s, buf, len);
    hasp_free(buf);
    if (rc < 0) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%.380s", hasp_err_last()->msg);
        FAIL(rc, "'%s': %s", path, msg);
    }
    return rc;
}

int hasp_x509_store_add_dir(hasp_x509_store *s, const char *path)
{
    DIR *d = opendir(path);
    ENSURE_MSG(d != NULL, HASP_ERR_CONFIG, "cannot open directory '%s'", path);
    struct dirent *de;
    int added = 0;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        if (n[0] == '.') continue;
        int ok = (l > 4 && (!strcmp(n + l - 4, ".pem") || !strcmp(n + l - 4, ".crt") ||
                            !strcmp(n + l - 4, ".cer")));
        /* OpenSSL hashed names: 8 hex digits, '.', a digit. */
        if (!ok && l >= 10 && n[8] == '.' && strspn(n, "0123456789abcdef") == 8) ok = 1;
        if (!ok) continue;
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, n);
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        int rc = hasp_x509_store_add_file(s, full);
        if (rc > 0) added += rc; /* unreadable files in a directory are skipped */
    }
    closedir(d);
    return added;
}

int hasp_x509_store_load_system(hasp_x509_store *s)
{
    static const char *const files[] = {
        "/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Gentoo */
        "/etc/pki/tls/certs/ca-bundle.crt",                  /* Fedora, RHEL */
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL 7+ */
        "/etc/ssl/ca-bundle.pem",                            /* openSUSE */
        "/etc/ssl/cert.pem",                                 /* Alpine, macOS, BSDs */
        "/usr/local/share/certs/ca-root-nss.crt",            /* FreeBSD */
    };
    const char *env = getenv("SSL_CERT_FILE");
    if (env && *env) return hasp_x509_store_add_file(s, env);
    env = getenv("SSL_CERT_DIR");
    if (env && *env) return hasp_x509_store_add_dir(s, env);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct stat st;
        if (stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
            return hasp_x509_store_add_file(s, files[i]);
    }
    struct stat st;
    if (stat("/etc/ssl/certs", &st) == 0 && S_ISDIR(st.st_mode)) {
        int n = hasp_x509_store_add_dir(s, "/etc/ssl/certs");
        if (n > 0) return n;
    }
    FAIL(HASP_ERR_CONFIG,
         "no system trust store found (tried /etc/ssl/certs/ca-certificates.crt and other "
         "usual places; install the ca-certificates package or give a CA file)");
}
