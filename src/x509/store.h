/* The store's insides, shared with the verifier. */
#ifndef HASP_X509_STORE_H
#define HASP_X509_STORE_H

#include "../crypto/crypto.h"
#include "../crypto/x509_extra.h"
#include "internal.h"

typedef struct hasp_x509_store_entry {
    uint8_t *der; /* owned copy; cert views point into it */
    size_t der_len;
    hasp_x509_cert cert;
    hasp_x509_pubkey *key; /* NULL when libcrypto could not load it */
    size_t seq;            /* insertion order */
} hasp_x509_store_entry;

/* A CRL (RFC 5280 5.1): views into its own copy of the DER. */
typedef struct x509_crl {
    uint8_t *der;
    size_t der_len;
    hasp_rd tbs, sig;
    int sig_alg, sig_hash;
    char sig_name[40];
    hasp_rd issuer; /* Name, whole encoding */
    uint64_t issuer_hash;
    int64_t this_update, next_update;
    int has_next_update, has_number, delta;
    int has_aki_keyid;
    hasp_rd aki_keyid;
    hasp_rd revoked; /* revokedCertificates contents (len 0 when none) */
    size_t nrevoked;
    /* issuingDistributionPoint */
    int has_idp, idp_relative, idp_only_user, idp_only_ca, idp_only_attr, idp_some_reasons;
    hasp_rd idp_full_name; /* GeneralNames contents, len 0 when absent */
    /* Why the CRL may not be trusted (then it fails the certificates it
     * would decide on), or "". */
    char defect[200];
} x509_crl;

struct hasp_x509_store {
    hasp_x509_store_entry **e;     /* insertion order */
    hasp_x509_store_entry **index; /* sorted by subject hash */
    size_t n, cap;
    x509_crl **crls;
    size_t ncrls, crl_cap;
};

void x509_crl_free(x509_crl *c);
/* RFC 5280 6.3: c (issued by issuer, whose key is issuer_key) against the
 * store's CRLs at time now. 0 when not revoked and either covered by a
 * usable CRL or not required to be; HASP_ERR_CERT_REVOKED; or
 * HASP_ERR_CERT_CRL when the only CRLs from its issuer cannot be used, or
 * when required and none covers it (policy names the rule for the
 * sentence). why gets the sentence. */
int x509_crl_check(const hasp_x509_store *crls, const hasp_x509_cert *c,
                   const hasp_x509_cert *issuer, const hasp_x509_pubkey *issuer_key, int64_t now,
                   int required, const char *policy, char *why, size_t cap);

/* Entries whose subject hash equals h: index[*first .. *first + count). */
size_t x509_store_lookup(const hasp_x509_store *s, uint64_t h, size_t *first);

#endif
