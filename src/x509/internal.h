/* Shared by the files of src/x509/ only. */
#ifndef HASP_X509_INTERNAL_H
#define HASP_X509_INTERNAL_H

#include "../codec/der.h"
#include "x509.h"

/* GeneralName tags (RFC 5280 4.2.1.6), as context-specific tag numbers. */
enum {
    GN_OTHER = 0,
    GN_EMAIL = 1,
    GN_DNS = 2,
    GN_X400 = 3,
    GN_DIRNAME = 4,
    GN_EDI = 5,
    GN_URI = 6,
    GN_IP = 7,
    GN_RID = 8,
};

/* Check a Name's structure (SEQUENCE OF SET OF AttributeTypeAndValue). */
int x509_name_valid(hasp_rd name);
/* Number of RDNs in a Name (whole encoding), or -1. */
int x509_name_rdn_count(hasp_rd name);
/* 1 if constraint (a Name) is a prefix, RDN by RDN, of name. */
int x509_name_within(hasp_rd name, hasp_rd constraint);
/* Check a GeneralNames / GeneralSubtrees contents; err gets the reason. */
int x509_general_names_valid(hasp_rd names);
int x509_subtrees_valid(hasp_rd subtrees, char *err, size_t cap);
/* Name constraints of one CA applied to one certificate: 0 when they
 * hold, else a HASP_ERR_CERT_* with err set. *budget counts comparisons
 * down; running out is a failure. */
int x509_nc_check(const hasp_x509_cert *ca, const hasp_x509_cert *c, int is_leaf, long *budget,
                  char *err, size_t cap);
/* Leaf checks of the CABF profile on the subject CN: each CN that looks
 * like a host name or IP address must be a copy of a SAN entry. */
int x509_cn_consistent(const hasp_x509_cert *c, char *err, size_t cap);
/* The names a certificate holds, for error messages: "DNS:a, IP:1.2.3.4". */
void x509_san_str(const hasp_x509_cert *c, char *out, size_t cap);
void x509_ip_str(hasp_rd ip, char *out, size_t cap); /* an iPAddress as text */

/* A signatureAlgorithm (AlgorithmIdentifier contents) into c->sig_alg,
 * sig_hash, sig_name; bad parameters become c's defect. For CRLs too. */
int x509_parse_sig_alg(hasp_x509_cert *c, hasp_rd alg);

/* snprintf appending at strlen(out). */
void x509_append(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
