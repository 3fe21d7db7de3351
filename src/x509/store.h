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

struct hasp_x509_store {
    hasp_x509_store_entry **e;     /* insertion order */
    hasp_x509_store_entry **index; /* sorted by subject hash */
    size_t n, cap;
};

/* Entries whose subject hash equals h: index[*first .. *first + count). */
size_t x509_store_lookup(const hasp_x509_store *s, uint64_t h, size_t *first);

#endif
