/* Test certificates made at startup with libcrypto, so the bench needs no
 * files: for ECDSA P-256 and for RSA-2048, a root CA, an intermediate CA
 * and a server leaf for "localhost", each signed with SHA-256 by the key
 * above it (the same algorithm all the way up). */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "bench.h"

static EVP_PKEY *make_key(int cert)
{
    return cert == CERT_ECDSA ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                              : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* kind: 0 root, 1 intermediate, 2 leaf. issuer NULL: self-signed. */
static X509 *make_cert(int kind, int cert, const char *cn, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    uint8_t serial[8];
    BIGNUM *bn = NULL;
    int ok = x && X509_set_version(x, X509_VERSION_3) && RAND_bytes(serial, sizeof(serial)) == 1;
    serial[0] &= 0x7f;
    ok = ok && (bn = BN_bin2bn(serial, sizeof(serial), NULL)) != NULL &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    X509_NAME *name = X509_NAME_new();
    ok = ok && name &&
         X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"hasp bench",
                                    -1, -1, 0) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) &&
         X509_set_subject_name(x, name) &&
         X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -86400) &&
         X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) && X509_set_pubkey(x, key);
    X509 *iss = issuer ? issuer : x;
    if (ok && kind < 2) {
        ok = add_ext(x, iss, NID_basic_constraints,
                     kind == 0 ? "critical,CA:TRUE" : "critical,CA:TRUE,pathlen:0") &&
             add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else if (ok) {
        ok = add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, iss, NID_key_usage,
                     cert == CERT_RSA ? "critical,digitalSignature,keyEncipherment"
                                      : "critical,digitalSignature") &&
             add_ext(x, iss, NID_ext_key_usage, "serverAuth") &&
             add_ext(x, iss, NID_subject_alt_name, "DNS:" BENCH_HOST);
    }
    ok = ok && add_ext(x, iss, NID_subject_key_identifier, "hash") &&
         add_ext(x, iss, NID_authority_key_identifier, "keyid:always") &&
         X509_sign(x, issuer_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* PEM text of the certificates (or of a key when key != NULL), in a
 * NUL-terminated malloc'd string. */
static char *to_pem(X509 *a, X509 *b, EVP_PKEY *key, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio != NULL;
    if (ok && key) ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    if (ok && a) ok = PEM_write_bio_X509(bio, a);
    if (ok && b) ok = PEM_write_bio_X509(bio, b);
    char *data = NULL, *out = NULL;
    long n = ok ? BIO_get_mem_data(bio, &data) : 0;
    if (n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = 0;
        *len = (size_t)n;
    }
    BIO_free(bio);
    return out;
}

static int make_chain(bench_chain *c, int cert)
{
    EVP_PKEY *rk = make_key(cert), *ik = make_key(cert), *lk = make_key(cert);
    c->root_key = rk;
    c->inter_key = ik;
    c->leaf_key = lk;
    if (!rk || !ik || !lk) return -1;
    const char *alg = cert == CERT_ECDSA ? "ECDSA" : "RSA";
    char cn[64];
    snprintf(cn, sizeof(cn), "hasp bench root CA %s", alg);
    X509 *root = make_cert(0, cert, cn, rk, NULL, rk);
    snprintf(cn, sizeof(cn), "hasp bench intermediate CA %s", alg);
    X509 *inter = root ? make_cert(1, cert, cn, ik, root, rk) : NULL;
    X509 *leaf = inter ? make_cert(2, cert, BENCH_HOST, lk, inter, ik) : NULL;
    c->root = root;
    c->inter = inter;
    c->leaf = leaf;
    if (!leaf) return -1;
    c->chain_pem = to_pem(leaf, inter, NULL, &c->chain_len);
    c->root_pem = to_pem(root, NULL, NULL, &c->root_len);
    c->key_pem = to_pem(NULL, NULL, lk, &c->key_len);
    return c->chain_pem && c->root_pem && c->key_pem ? 0 : -1;
}

int pki_generate(bench_pki *pki, int which)
{
    memset(pki, 0, sizeof(*pki));
    for (int c = CERT_ECDSA; c <= CERT_RSA; c++)
        if ((which & (1 << c)) && make_chain(&pki->chain[c], c) < 0) return -1;
    return 0;
}

void pki_free(bench_pki *pki)
{
    for (int i = 0; i < 2; i++) {
        bench_chain *c = &pki->chain[i];
        free(c->chain_pem);
        free(c->root_pem);
        free(c->key_pem);
        X509_free(c->leaf);
        X509_free(c->inter);
        X509_free(c->root);
        EVP_PKEY_free(c->leaf_key);
        EVP_PKEY_free(c->inter_key);
        EVP_PKEY_free(c->root_key);
    }
    memset(pki, 0, sizeof(*pki));
}
