/* The constant-time test of ML-KEM (the ctgrind technique): run KeyGen,
 * Encaps and Decaps with their secret inputs marked undefined for
 * valgrind memcheck (VALGRIND_MAKE_MEM_UNDEFINED). A branch or a memory
 * index that depends on a secret then is a "conditional jump or move
 * depends on uninitialised value(s)" or "use of uninitialised value"
 * report, and tests/mlkem_ct.sh fails. Outputs are marked defined again
 * (declassified) before the program looks at them. Decaps runs with a
 * valid ciphertext and with a changed one, so that both outcomes of the
 * implicit rejection are covered. Outside valgrind the marks do nothing
 * and the program only checks that the round trips agree. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "crypto/crypto.h"
#include "crypto/mlkem.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int run(int param)
{
    const char *name = hasp_mlkem_name(param);
    size_t ekl = hasp_mlkem_ek_len(param), dkl = hasp_mlkem_dk_len(param),
           ctl = hasp_mlkem_ct_len(param);
    static uint8_t ek[HASP_MLKEM_MAX_EK_LEN], dk[HASP_MLKEM_MAX_DK_LEN], ct[HASP_MLKEM_MAX_CT_LEN];
    uint8_t d[32], z[32], m[32], k1[32], k2[32], k3[32];
    int fails = 0;
    for (int i = 0; i < 32; i++) {
        d[i] = (uint8_t)(7 * i + param);
        z[i] = (uint8_t)(11 * i + 1);
        m[i] = (uint8_t)(13 * i + 5);
    }
    SECRET(d, 32);
    SECRET(z, 32);
    int rc = hasp_mlkem_keygen_derand(param, d, z, ek, dk);
    PUBLIC(&rc, sizeof(rc));
    PUBLIC(ek, ekl); /* the encapsulation key is public, also its copy and hash in dk */
    PUBLIC(dk + (dkl - 96) / 2, ekl + 32);
    fails += rc != 0;

    SECRET(m, 32);
    rc = hasp_mlkem_encaps_derand(param, ek, ekl, m, ct, k1);
    PUBLIC(&rc, sizeof(rc));
    PUBLIC(ct, ctl);
    fails += rc != 0;

    /* dk's secret parts: s-hat and z; ek and H(ek) inside it are public */
    SECRET(dk, 384 * (dkl - 96) / 768);
    SECRET(dk + dkl - 32, 32);
    rc = hasp_mlkem_decaps(param, dk, dkl, ct, ctl, k2);
    PUBLIC(&rc, sizeof(rc));
    fails += rc != 0;
    ct[5] ^= 0x10;
    rc = hasp_mlkem_decaps(param, dk, dkl, ct, ctl, k3);
    PUBLIC(&rc, sizeof(rc));
    fails += rc != 0;

    PUBLIC(k1, 32);
    PUBLIC(k2, 32);
    PUBLIC(k3, 32);
    int agree = memcmp(k1, k2, 32) == 0, rejected = memcmp(k1, k3, 32) != 0;
    printf("%s - %s: KeyGen, Encaps, Decaps (valid and changed ciphertext) with secrets marked "
           "undefined\n",
           !fails && agree && rejected ? "ok" : "not ok", name);
    return !fails && agree && rejected ? 0 : 1;
}

int main(void)
{
    int bad = run(HASP_MLKEM768);
    bad |= run(HASP_MLKEM1024);
    return bad;
}
