/* hasp's ML-KEM on the command line, for cross-checks against another
 * implementation (tests/interop/pq_node.sh, with Node.js's OpenSSL 3.5):
 *
 *   mlkem_tool 768|1024 keygen [D_Z_HEX]   -> "ek HEX" and "dk HEX" lines
 *   mlkem_tool 768|1024 encaps EK_HEX      -> "ct HEX" and "ss HEX"
 *   mlkem_tool 768|1024 decaps DK_HEX CT_HEX -> "ss HEX"
 *
 * keygen takes the 64-byte seed d || z (the FIPS 203 KeyGen_internal
 * inputs), or draws one. Exit status 1 with the error on stderr when the
 * library refuses an input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/mlkem.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    unsigned v;
    while (hex[0] && hex[1] && n < cap && sscanf(hex, "%2x", &v) == 1) {
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static void put(const char *label, const uint8_t *p, size_t n)
{
    printf("%s ", label);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

static int refused(const char *what)
{
    fprintf(stderr, "mlkem_tool: %s: %s\n", what, hasp_err_last()->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mlkem_tool 768|1024 keygen [SEED] | encaps EK | decaps DK CT\n");
        return 2;
    }
    int param = atoi(argv[1]);
    if (!hasp_mlkem_name(param)) {
        fprintf(stderr, "mlkem_tool: unknown parameter set %s (768 or 1024)\n", argv[1]);
        return 2;
    }
    static uint8_t a[8192], b[8192], ek[HASP_MLKEM_MAX_EK_LEN], dk[HASP_MLKEM_MAX_DK_LEN],
        ct[HASP_MLKEM_MAX_CT_LEN];
    uint8_t ss[32];
    if (strcmp(argv[2], "keygen") == 0) {
        int rc;
        if (argc > 3) {
            if (unhex(argv[3], a, sizeof(a)) != 64) {
                fprintf(stderr, "mlkem_tool: the seed d || z must be 64 bytes of hex\n");
                return 2;
            }
            rc = hasp_mlkem_keygen_derand(param, a, a + 32, ek, dk);
        } else {
            rc = hasp_mlkem_keygen(param, ek, dk);
        }
        if (rc < 0) return refused("keygen");
        put("ek", ek, hasp_mlkem_ek_len(param));
        put("dk", dk, hasp_mlkem_dk_len(param));
        return 0;
    }
    if (strcmp(argv[2], "encaps") == 0 && argc > 3) {
        size_t n = unhex(argv[3], a, sizeof(a));
        if (hasp_mlkem_encaps(param, a, n, ct, ss) < 0) return refused("encaps");
        put("ct", ct, hasp_mlkem_ct_len(param));
        put("ss", ss, 32);
        return 0;
    }
    if (strcmp(argv[2], "decaps") == 0 && argc > 4) {
        size_t n = unhex(argv[3], a, sizeof(a)), m = unhex(argv[4], b, sizeof(b));
        if (hasp_mlkem_decaps(param, a, n, b, m, ss) < 0) return refused("decaps");
        put("ss", ss, 32);
        return 0;
    }
    fprintf(stderr, "mlkem_tool: unknown command %s\n", argv[2]);
    return 2;
}
