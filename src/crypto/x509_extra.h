/* Public keys for certificate signature checks. OpenSSL 3's generic
 * d2i_PUBKEY goes through the decoder framework and costs ~125 us for an
 * RSA-2048 key, as much as several signature checks; the per-type
 * decoders used here cost ~1.5 us. A verification is one EVP_DigestVerify.
 * Used by src/x509 only. */
#ifndef HASP_X509_EXTRA_H
#define HASP_X509_EXTRA_H

#include <stddef.h>
#include <stdint.h>

typedef struct hasp_x509_pubkey hasp_x509_pubkey;

/* A key from a DER SubjectPublicKeyInfo, or NULL (error recorded). */
hasp_x509_pubkey *hasp_x509_pubkey_new(const uint8_t *spki, size_t len);
void hasp_x509_pubkey_free(hasp_x509_pubkey *k);
/* Check sig over data: sig_alg is enum hasp_sig_alg, hash enum
 * hasp_hash_alg (RSA-PSS: MGF1 with the same hash, salt = hash length).
 * 0, or HASP_ERR_DECRYPT when the signature is wrong. Thread-safe on a
 * shared key. */
int hasp_x509_pubkey_verify(const hasp_x509_pubkey *k, int sig_alg, int hash, const uint8_t *data,
                            size_t len, const uint8_t *sig, size_t sig_len);

#endif
