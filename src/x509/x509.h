/* X.509 certificates (RFC 5280): parsing into views of the DER, trust
 * stores, path building and validation, host name matching (RFC 6125).
 * Knows nothing of TLS. libcrypto is reached only through crypto/crypto.h,
 * to check one signature with one key. */
#ifndef HASP_X509_H
#define HASP_X509_H

#include <stddef.h>
#include <stdint.h>

#include "../codec/cursor.h"

/* keyUsage bits (RFC 5280 4.2.1.3), as flags. */
#define HASP_KU_DIGITAL_SIGNATURE 0x001
#define HASP_KU_NON_REPUDIATION 0x002
#define HASP_KU_KEY_ENCIPHERMENT 0x004
#define HASP_KU_DATA_ENCIPHERMENT 0x008
#define HASP_KU_KEY_AGREEMENT 0x010
#define HASP_KU_KEY_CERT_SIGN 0x020
#define HASP_KU_CRL_SIGN 0x040
#define HASP_KU_ENCIPHER_ONLY 0x080
#define HASP_KU_DECIPHER_ONLY 0x100

/* extendedKeyUsage purposes checked on the leaf. */
#define HASP_X509_PURPOSE_SERVER 1 /* id-kp-serverAuth */
#define HASP_X509_PURPOSE_CLIENT 2 /* id-kp-clientAuth */

/* Validation profiles: which rules apply where the web PKI (CA/Browser
 * Forum Baseline Requirements) and RFC 5280 disagree. docs/x509.md has the
 * table. The same values are in hasp.h. */
#ifndef HASP_X509_PROFILE_WEBPKI
#define HASP_X509_PROFILE_WEBPKI 0  /* default: what browsers enforce for TLS servers */
#define HASP_X509_PROFILE_RFC5280 1 /* strict RFC 5280 section 6 (private PKIs) */
#endif

/* Public key kinds, read from the SubjectPublicKeyInfo (no crypto needed). */
enum hasp_x509_key {
    HASP_X509_KEY_UNSUPPORTED = 0,
    HASP_X509_KEY_RSA,
    HASP_X509_KEY_RSA_PSS,
    HASP_X509_KEY_P256,
    HASP_X509_KEY_P384,
    HASP_X509_KEY_P521,
    HASP_X509_KEY_ED25519,
};

/* A certificate: views into its DER, nothing copied. */
typedef struct hasp_x509_cert {
    const uint8_t *der;
    size_t der_len;
    hasp_rd tbs;                        /* TBSCertificate, whole encoding (what is signed) */
    hasp_rd sig;                        /* signatureValue bits */
    int version;                        /* 1, 2 or 3 */
    hasp_rd serial;                     /* INTEGER contents */
    int sig_alg;                        /* enum hasp_sig_alg (crypto.h), 0 when unsupported */
    int sig_hash;                       /* enum hasp_hash_alg */
    char sig_name[40];                  /* "sha256WithRSAEncryption", or the OID */
    hasp_rd issuer;                     /* Name, whole encoding */
    hasp_rd subject;                    /* Name, whole encoding */
    uint64_t issuer_hash, subject_hash; /* of the normalised names */
    int self_issued;                    /* issuer and subject names match */
    int64_t not_before, not_after;
    hasp_rd spki;      /* SubjectPublicKeyInfo, whole encoding */
    int key_type;      /* enum hasp_x509_key */
    int key_bits;      /* RSA modulus bits, curve size */
    char key_desc[64]; /* "RSA-2048", "EC P-256", "DSA (unsupported)" ... */

    /* Extensions (present flags, critical flags, decoded contents). */
    int has_bc, bc_critical, ca;
    int pathlen; /* -1 when absent */
    int has_ku;
    unsigned ku;
    int has_eku, eku_critical, eku_server, eku_client, eku_any;
    int has_san, san_critical;
    hasp_rd san; /* GeneralNames contents */
    int has_nc, nc_critical;
    hasp_rd nc_permitted, nc_excluded; /* GeneralSubtrees contents (len 0 when absent) */
    int has_aki, aki_has_keyid, aki_has_issuer_serial;
    hasp_rd aki_keyid;
    int has_ski;
    hasp_rd ski;
    int has_crldp;
    hasp_rd crldp; /* cRLDistributionPoints: SEQUENCE OF DistributionPoint contents */

    /* The first reason this certificate may not be used in any path
     * (unknown critical extension, malformed extension, ...), or "". A
     * defect does not fail parsing, so that a store or intermediate pool
     * can hold a certificate that is never used. */
    int defect_code;
    char defect[200];
} hasp_x509_cert;

/* Parse a DER certificate. Fails (HASP_ERR_CERT_BAD) only when its outer
 * structure is broken; extension problems are recorded as the defect. The
 * cert holds views into der, which must outlive it. */
int hasp_x509_parse(const uint8_t *der, size_t len, hasp_x509_cert *c);

/* Names. */
/* RFC 5280 7.1 comparison: byte-equal, or equal after ASCII case folding
 * and whitespace folding of PrintableString / UTF8String values. */
int hasp_x509_name_eq(hasp_rd a, hasp_rd b);
uint64_t hasp_x509_name_hash(hasp_rd name);
/* "CN=leaf, O=Example" (RFC 4514 order reversed to the usual reading
 * order: most significant first, as OpenSSL prints). */
void hasp_x509_name_str(hasp_rd name, char *out, size_t cap);
/* The readable subject of a certificate: its name, or its first SAN when
 * the subject is empty. */
void hasp_x509_subject_str(const hasp_x509_cert *c, char *out, size_t cap);

/* ------------------------------------------------------------------ stores */

typedef struct hasp_x509_store hasp_x509_store;
hasp_x509_store *hasp_x509_store_new(void);
/* Add every CERTIFICATE in the PEM text. Returns the number added (>= 0),
 * or a negative error when the PEM is malformed or holds no certificate. */
int hasp_x509_store_add_pem(hasp_x509_store *s, const uint8_t *pem, size_t len);
int hasp_x509_store_add_der(hasp_x509_store *s, const uint8_t *der, size_t len);
int hasp_x509_store_add_file(hasp_x509_store *s, const char *path);
/* Every *.pem, *.crt and *.cer file (and hashed links) in the directory. */
int hasp_x509_store_add_dir(hasp_x509_store *s, const char *path);
/* The system bundle: /etc/ssl/certs/ca-certificates.crt (Debian), then
 * /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem, ... , then the
 * directory /etc/ssl/certs. SSL_CERT_FILE / SSL_CERT_DIR override. */
int hasp_x509_store_load_system(hasp_x509_store *s);
size_t hasp_x509_store_count(const hasp_x509_store *s);
void hasp_x509_store_free(hasp_x509_store *s);
/* CRLs (RFC 5280 5), kept in a store next to (or instead of) its
 * certificates: PEM ("X509 CRL", any number) or one DER CRL. Returns the
 * number added, or a negative error naming what is wrong (a malformed CRL,
 * a delta CRL). A CRL that reads but may not be trusted (no cRLNumber, an
 * unknown critical extension, ...) is kept and fails, closed, every
 * certificate it would decide on. */
int hasp_x509_store_add_crl(hasp_x509_store *s, const uint8_t *data, size_t len);
int hasp_x509_store_add_crl_file(hasp_x509_store *s, const char *path);
size_t hasp_x509_store_crl_count(const hasp_x509_store *s);
/* The i-th certificate (for tests and tools). */
const hasp_x509_cert *hasp_x509_store_get(const hasp_x509_store *s, size_t i);

/* ------------------------------------------------------------------ verify */

typedef struct hasp_x509_params {
    const char *host;      /* DNS name or IP literal to check, or NULL for none */
    int64_t time;          /* validation time (seconds since epoch); 0 = now */
    int purpose;           /* HASP_X509_PURPOSE_SERVER or _CLIENT; 0 = no EKU check */
    int max_depth;         /* max certificates above the leaf (intermediates + anchor,
                              self-issued intermediates not counted); 0 = default (10) */
    unsigned key_usage;    /* leaf keyUsage bits needed (any one of them), 0 = none */
    int allow_cn_fallback; /* match the subject CN when there is no SAN; off by default */
    const hasp_x509_store *extra_intermediates; /* intermediates held by the config, or NULL */
    int profile; /* HASP_X509_PROFILE_WEBPKI (0, default) or _RFC5280 */
    /* Revocation (RFC 5280 6.3): the CRLs of crls (or of anchors when NULL)
     * are checked for every certificate of the path below the anchor.
     * crl_check says which certificates must be covered by one:
     * HASP_X509_CRL_IF_PRESENT none, _LEAF the leaf, _CHAIN all. */
    const hasp_x509_store *crls;
    int crl_check;
} hasp_x509_params;

#ifndef HASP_X509_CRL_IF_PRESENT
#define HASP_X509_CRL_IF_PRESENT 0
#define HASP_X509_CRL_LEAF 1
#define HASP_X509_CRL_CHAIN 2
#endif

#define HASP_X509_PATH_MAX 8
typedef struct hasp_x509_result {
    int code;         /* 0 valid, or HASP_ERR_CERT_* */
    char reason[768]; /* the sentence: which certificate, why */
    size_t path_len;  /* certificates in the built path, leaf first, anchor last */
    char path[HASP_X509_PATH_MAX][256];  /* readable subject of each */
    int path_source[HASP_X509_PATH_MAX]; /* HASP_X509_SRC_* */
} hasp_x509_result;

#define HASP_X509_SRC_PEER 0
#define HASP_X509_SRC_CONFIG 1
#define HASP_X509_SRC_STORE 2

/* Verify a chain as sent by the peer (leaf first; the rest in any order,
 * extras and duplicates allowed). Returns 0 or res->code (also recorded
 * as the thread's error with res->reason). */
int hasp_x509_verify(const hasp_x509_store *anchors, const hasp_x509_params *params,
                     const uint8_t *const *chain, const size_t *chain_len, size_t n,
                     hasp_x509_result *res);
/* The leaf's SubjectPublicKeyInfo (a view into der). */
int hasp_x509_spki(const uint8_t *der, size_t len, const uint8_t **spki, size_t *spki_len);
/* 1 if the certificate's names match host (DNS name or IP literal), else 0. */
int hasp_x509_matches_host(const uint8_t *der, size_t len, const char *host);

/* Lower-level pieces, exposed for tests. */
/* 1 if the certificate matches host per RFC 6125 (SAN only, or CN when
 * allow_cn and no SAN), 0 if not. */
int hasp_x509_cert_matches_host(const hasp_x509_cert *c, const char *host, int allow_cn);
/* 1 if the DNS pattern (possibly "*.example.com") matches host. */
int hasp_x509_dns_match(const char *pattern, size_t plen, const char *host);
/* 1 if name is a valid DNS name (letters, digits, hyphens; labels of
 * 1..63; optional leading "*." when wildcard_ok). */
int hasp_x509_dns_valid(const char *name, size_t len, int wildcard_ok);
/* 1 if suffix (e.g. "co.uk") is a public suffix hasp knows. */
int hasp_x509_is_public_suffix(const char *suffix, size_t len);
/* Parse an IPv4 or IPv6 literal into out (4 or 16 bytes): returns the
 * length, or 0 when s is not an IP literal. */
int hasp_x509_parse_ip(const char *s, uint8_t out[16]);

#endif
