/* PEM (RFC 7468) and base64 (RFC 4648) decoding. */
#ifndef HASP_PEM_H
#define HASP_PEM_H

#include <stddef.h>
#include <stdint.h>

/* Decode base64 text into out (capacity cap). Whitespace (space, tab, CR,
 * LF) is skipped; '=' padding must be correct. *out_len gets the decoded
 * length. Returns 0, or HASP_ERR_DECODE on bad input or a short buffer. */
int hasp_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);
/* An upper bound on the decoded size of in_len base64 characters. */
size_t hasp_base64_decoded_max(size_t in_len);

/* Find the next "-----BEGIN LABEL-----" block at or after *p (text before
 * it is skipped, as RFC 7468 allows), base64-decode its body into a
 * malloc'd buffer (*der, the caller frees), copy LABEL into label (NUL
 * terminated, truncated to label_cap - 1) and advance *p past the END
 * line. Returns 1 when a block was found, 0 when no block remains, or a
 * negative HASP_ERR_DECODE when a block is malformed (bad base64, missing
 * or mismatched END line). Headers (RFC 1421 "Proc-Type:" lines) are
 * refused: encrypted PEM is not supported. */
int hasp_pem_next(const uint8_t **p, const uint8_t *end, char *label, size_t label_cap,
                  uint8_t **der, size_t *der_len);

#endif
