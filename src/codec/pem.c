/* PEM (RFC 7468): finding labelled blocks in a text and decoding their
 * base64, for certificates, keys and CRLs. */
#include "../alloc.h"
#include "pem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../err.h"

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t hasp_base64_decoded_max(size_t in_len)
{
    return in_len / 4 * 3 + 3;
}

int hasp_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
    uint32_t acc = 0;
    int nbits = 0; /* sextets in acc */
    int pad = 0;
    size_t n = 0;
    for (size_t i = 0; i < in_len; i++) {
        uint8_t c = (uint8_t)in[i];
        if (is_space(c)) continue;
        if (c == '=') {
            pad++;
            ENSURE_MSG(pad <= 2 && nbits >= 2, HASP_ERR_DECODE,
                       "base64: misplaced '=' padding at offset %zu", i);
            continue;
        }
        int v = b64_value(c);
        ENSURE_MSG(v >= 0, HASP_ERR_DECODE, "base64: invalid character 0x%02x at offset %zu", c, i);
        ENSURE_MSG(pad == 0, HASP_ERR_DECODE, "base64: data after '=' padding at offset %zu", i);
        acc = (acc << 6) | (uint32_t)v;
        nbits++;
        if (nbits == 4) {
            ENSURE_MSG(cap - n >= 3, HASP_ERR_DECODE, "base64: output buffer too small");
            out[n++] = (uint8_t)(acc >> 16);
            out[n++] = (uint8_t)(acc >> 8);
            out[n++] = (uint8_t)acc;
            acc = 0;
            nbits = 0;
        }
    }
    /* A final quantum of 2 or 3 sextets must be padded to 4 characters. */
    if (nbits == 2) {
        ENSURE_MSG(pad == 2, HASP_ERR_DECODE, "base64: missing '=' padding at the end");
        ENSURE_MSG((acc & 0xf) == 0, HASP_ERR_DECODE, "base64: non-zero bits in the padding");
        ENSURE_MSG(cap - n >= 1, HASP_ERR_DECODE, "base64: output buffer too small");
        out[n++] = (uint8_t)(acc >> 4);
    } else if (nbits == 3) {
        ENSURE_MSG(pad == 1, HASP_ERR_DECODE, "base64: missing '=' padding at the end");
        ENSURE_MSG((acc & 0x3) == 0, HASP_ERR_DECODE, "base64: non-zero bits in the padding");
        ENSURE_MSG(cap - n >= 2, HASP_ERR_DECODE, "base64: output buffer too small");
        out[n++] = (uint8_t)(acc >> 10);
        out[n++] = (uint8_t)(acc >> 2);
    } else {
        ENSURE_MSG(nbits == 0 && pad == 0, HASP_ERR_DECODE, "base64: truncated input");
    }
    *out_len = n;
    return 0;
}

/* The first occurrence of needle in [p, end), or NULL. */
static const uint8_t *find(const uint8_t *p, const uint8_t *end, const char *needle)
{
    size_t nl = strlen(needle);
    while ((size_t)(end - p) >= nl) {
        const uint8_t *q = memchr(p, needle[0], (size_t)(end - p) - nl + 1);
        if (!q) return NULL;
        if (memcmp(q, needle, nl) == 0) return q;
        p = q + 1;
    }
    return NULL;
}

int hasp_pem_next(const uint8_t **p, const uint8_t *end, char *label, size_t label_cap,
                  uint8_t **der, size_t *der_len)
{
    static const char begin_tag[] = "-----BEGIN ";
    static const char dashes[] = "-----";
    *der = NULL;
    *der_len = 0;
    if (label_cap) label[0] = 0;

    const uint8_t *b = find(*p, end, begin_tag);
    if (!b) {
        *p = end;
        return 0;
    }
    const uint8_t *lab = b + strlen(begin_tag);
    const uint8_t *lab_end = find(lab, end, dashes);
    ENSURE_MSG(lab_end != NULL, HASP_ERR_DECODE, "PEM: unterminated BEGIN line");
    size_t lab_len = (size_t)(lab_end - lab);
    ENSURE_MSG(lab_len < 80 && !memchr(lab, '\n', lab_len), HASP_ERR_DECODE,
               "PEM: malformed BEGIN line");
    const uint8_t *body = lab_end + strlen(dashes);

    /* The END line must carry the same label. */
    char end_line[128];
    snprintf(end_line, sizeof(end_line), "-----END %.*s-----", (int)lab_len, (const char *)lab);
    const uint8_t *e = find(body, end, "-----END ");
    ENSURE_MSG(e != NULL, HASP_ERR_DECODE, "PEM: block '%.*s' has no END line", (int)lab_len,
               (const char *)lab);
    size_t elen = strlen(end_line);
    ENSURE_MSG((size_t)(end - e) >= elen && memcmp(e, end_line, elen) == 0, HASP_ERR_DECODE,
               "PEM: the END line does not match 'BEGIN %.*s'", (int)lab_len, (const char *)lab);

    /* RFC 1421 headers mean an encrypted or otherwise processed block. */
    ENSURE_MSG(!find(body, e, ":"), HASP_ERR_DECODE,
               "PEM: block '%.*s' has headers (encrypted PEM is not supported)", (int)lab_len,
               (const char *)lab);

    size_t cap = hasp_base64_decoded_max((size_t)(e - body));
    uint8_t *buf = hasp_malloc(cap ? cap : 1);
    ENSURE(buf != NULL, HASP_ERR_NOMEM);
    size_t n;
    int rc = hasp_base64_decode((const char *)body, (size_t)(e - body), buf, cap, &n);
    if (rc < 0) {
        hasp_free(buf);
        FAIL(HASP_ERR_DECODE, "PEM: block '%.*s' has invalid base64", (int)lab_len,
             (const char *)lab);
    }
    if (label_cap) {
        size_t c = lab_len < label_cap - 1 ? lab_len : label_cap - 1;
        memcpy(label, lab, c);
        label[c] = 0;
    }
    *der = buf;
    *der_len = n;
    *p = e + elen;
    return 1;
}
