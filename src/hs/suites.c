/* The cipher suite table: code point, IANA and OpenSSL names, key
 * exchange, authentication, AEAD or MAC, PRF hash, and whether a suite is in
 * DEFAULT, only in ALL, or used only when named. */
#include "suites.h"

#include <string.h>
#include <strings.h>

#include "../crypto/crypto.h"
#include "hasp.h"

#define GCM128 HASP_AEAD_AES128GCM
#define GCM256 HASP_AEAD_AES256GCM
#define CHACHA HASP_AEAD_CHACHA20POLY1305
#define CCM128 HASP_AEAD_AES128CCM
#define CCM256 HASP_AEAD_AES256CCM
#define CCM8128 HASP_AEAD_AES128CCM8
#define CCM8256 HASP_AEAD_AES256CCM8
#define S256 HASP_HASH_SHA256
#define S384 HASP_HASH_SHA384
#define S1 HASP_HASH_SHA1

/* In hasp's default preference order: TLS 1.3, then forward-secret AEAD,
 * then the legacy suites that must be named (plain RSA, CBC, 3DES). */
static const hasp_suite suites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", HASP_KX_TLS13, GCM128, 0, 0, S256,
     0, 1},
    {0x1302, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", HASP_KX_TLS13, GCM256, 0, 0, S384,
     0, 1},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", HASP_KX_TLS13, CHACHA,
     0, 0, S256, 0, 1},
    /* in ALL, not DEFAULT (as in OpenSSL): AES-CCM, RFC 8446 B.4 */
    {0x1304, "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_SHA256", HASP_KX_TLS13, CCM128, 0, 0, S256,
     0, 0},
    /* an 8-byte tag: IANA marks it not Recommended; named, or in ALL */
    {0x1305, "TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_8_SHA256", HASP_KX_TLS13, CCM8128, 0, 0,
     S256, 0, 0},
    {0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256",
     HASP_KX_ECDHE_ECDSA, GCM128, 0, 0, S256, 0, 1},
    {0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
     HASP_KX_ECDHE_RSA, GCM128, 0, 0, S256, 0, 1},
    {0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384",
     HASP_KX_ECDHE_ECDSA, GCM256, 0, 0, S384, 0, 1},
    {0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
     HASP_KX_ECDHE_RSA, GCM256, 0, 0, S384, 0, 1},
    {0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305",
     HASP_KX_ECDHE_ECDSA, CHACHA, 0, 0, S256, 0, 1},
    {0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305",
     HASP_KX_ECDHE_RSA, CHACHA, 0, 0, S256, 0, 1},
    {0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256", HASP_KX_DHE_RSA,
     GCM128, 0, 0, S256, 0, 1},
    {0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384", HASP_KX_DHE_RSA,
     GCM256, 0, 0, S384, 0, 1},
    {0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305",
     HASP_KX_DHE_RSA, CHACHA, 0, 0, S256, 0, 1},
    /* Not in DEFAULT: no forward secrecy, or CBC. In ALL. */
    {0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", HASP_KX_RSA, GCM128, 0, 0,
     S256, 0, 0},
    {0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", HASP_KX_RSA, GCM256, 0, 0,
     S384, 0, 0},
    {0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256",
     HASP_KX_ECDHE_ECDSA, 0, HASP_CBC_AES128, S256, S256, 0, 0},
    {0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", HASP_KX_ECDHE_RSA,
     0, HASP_CBC_AES128, S256, S256, 0, 0},
    /* RFC 7251 and RFC 6655: AES-CCM with the SHA-256 PRF */
    {0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE-ECDSA-AES128-CCM", HASP_KX_ECDHE_ECDSA,
     CCM128, 0, 0, S256, 0, 0},
    {0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "ECDHE-ECDSA-AES256-CCM", HASP_KX_ECDHE_ECDSA,
     CCM256, 0, 0, S256, 0, 0},
    {0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM", "DHE-RSA-AES128-CCM", HASP_KX_DHE_RSA, CCM128, 0, 0,
     S256, 0, 0},
    {0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM", "DHE-RSA-AES256-CCM", HASP_KX_DHE_RSA, CCM256, 0, 0,
     S256, 0, 0},
    {0xc09c, "TLS_RSA_WITH_AES_128_CCM", "AES128-CCM", HASP_KX_RSA, CCM128, 0, 0, S256, 0, 0},
    {0xc09d, "TLS_RSA_WITH_AES_256_CCM", "AES256-CCM", HASP_KX_RSA, CCM256, 0, 0, S256, 0, 0},
    /* RFC 7251 and RFC 6655: AES-CCM_8 (an 8-byte tag) */
    {0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "ECDHE-ECDSA-AES128-CCM8", HASP_KX_ECDHE_ECDSA,
     CCM8128, 0, 0, S256, 0, 0},
    {0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", "ECDHE-ECDSA-AES256-CCM8", HASP_KX_ECDHE_ECDSA,
     CCM8256, 0, 0, S256, 0, 0},
    {0xc0a2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", "DHE-RSA-AES128-CCM8", HASP_KX_DHE_RSA, CCM8128, 0,
     0, S256, 0, 0},
    {0xc0a3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", "DHE-RSA-AES256-CCM8", HASP_KX_DHE_RSA, CCM8256, 0,
     0, S256, 0, 0},
    {0xc0a0, "TLS_RSA_WITH_AES_128_CCM_8", "AES128-CCM8", HASP_KX_RSA, CCM8128, 0, 0, S256, 0, 0},
    {0xc0a1, "TLS_RSA_WITH_AES_256_CCM_8", "AES256-CCM8", HASP_KX_RSA, CCM8256, 0, 0, S256, 0, 0},
    /* RFC 5289: HMAC-SHA384 and the SHA-384 PRF */
    {0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384",
     HASP_KX_ECDHE_ECDSA, 0, HASP_CBC_AES256, S384, S384, 0, 0},
    {0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384", HASP_KX_ECDHE_RSA,
     0, HASP_CBC_AES256, S384, S384, 0, 0},
    {0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", HASP_KX_ECDHE_ECDSA,
     0, HASP_CBC_AES128, S1, S256, 0, 0},
    {0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", HASP_KX_ECDHE_ECDSA,
     0, HASP_CBC_AES256, S1, S256, 0, 0},
    {0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", HASP_KX_ECDHE_RSA, 0,
     HASP_CBC_AES128, S1, S256, 0, 0},
    {0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", HASP_KX_ECDHE_RSA, 0,
     HASP_CBC_AES256, S1, S256, 0, 0},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE-RSA-AES128-SHA256", HASP_KX_DHE_RSA, 0,
     HASP_CBC_AES128, S256, S256, 0, 0},
    {0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE-RSA-AES256-SHA256", HASP_KX_DHE_RSA, 0,
     HASP_CBC_AES256, S256, S256, 0, 0},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE-RSA-AES128-SHA", HASP_KX_DHE_RSA, 0,
     HASP_CBC_AES128, S1, S256, 0, 0},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE-RSA-AES256-SHA", HASP_KX_DHE_RSA, 0,
     HASP_CBC_AES256, S1, S256, 0, 0},
    {0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256", HASP_KX_RSA, 0, HASP_CBC_AES128,
     S256, S256, 0, 0},
    {0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", "AES256-SHA256", HASP_KX_RSA, 0, HASP_CBC_AES256,
     S256, S256, 0, 0},
    {0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", HASP_KX_RSA, 0, HASP_CBC_AES128, S1,
     S256, 0, 0},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", HASP_KX_RSA, 0, HASP_CBC_AES256, S1,
     S256, 0, 0},
    /* Only when a caller names it. */
    {0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", HASP_KX_RSA, 0, HASP_CBC_3DES, S1,
     S256, 1, 0},
};

const hasp_suite *hasp_suite_at(size_t i)
{
    return i < sizeof(suites) / sizeof(suites[0]) ? &suites[i] : NULL;
}

const hasp_suite *hasp_suite_find(uint16_t id)
{
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        if (suites[i].id == id) return &suites[i];
    return NULL;
}

const hasp_suite *hasp_suite_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        if (!strcasecmp(suites[i].iana, name) || !strcasecmp(suites[i].ossl, name))
            return &suites[i];
    return NULL;
}

size_t hasp_suite_mac_key_len(const hasp_suite *s)
{
    return s->aead ? 0 : hasp_hash_len(s->mac_hash);
}

size_t hasp_suite_enc_key_len(const hasp_suite *s)
{
    return s->aead ? hasp_aead_key_len(s->aead) : hasp_cbc_key_len(s->cbc);
}

size_t hasp_suite_fixed_iv_len(const hasp_suite *s)
{
    if (s->aead == HASP_AEAD_CHACHA20POLY1305 || s->kx == HASP_KX_TLS13) return 12;
    if (s->aead) return 4;
    return 0; /* CBC in TLS 1.2: explicit IV per record */
}

int hasp_suite_is_tls13(const hasp_suite *s)
{
    return s->kx == HASP_KX_TLS13;
}

int hasp_suite_is_ecdhe(const hasp_suite *s)
{
    return s->kx == HASP_KX_ECDHE_RSA || s->kx == HASP_KX_ECDHE_ECDSA;
}

int hasp_suite_needs_ske(const hasp_suite *s)
{
    return s->kx == HASP_KX_DHE_RSA || hasp_suite_is_ecdhe(s);
}

int hasp_suite_get(size_t i, hasp_suite_info *info)
{
    const hasp_suite *s = hasp_suite_at(i);
    if (!s || !info) return HASP_ERR_USAGE;
    info->id = s->id;
    info->iana_name = s->iana;
    info->openssl_name = s->ossl;
    info->in_default = s->in_default;
    info->by_name_only = s->by_name;
    return 0;
}
