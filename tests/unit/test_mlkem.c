/* ML-KEM-768 and ML-KEM-1024 (src/crypto/mlkem.c) against the C2SP CCTV
 * vectors in tests/data/ml-kem/ (CC0, copied from c2sp.org/CCTV/ML-KEM):
 * the intermediate-values keys, the unlucky SampleNTT seeds, the strcmp
 * ciphertexts, every invalid encapsulation key of modulus/, and the
 * "accumulated" SHAKE-128 hash over 10,000 pq-crystals tests (1,000,000
 * with --long, which `make test-long` runs). Plus length checks, implicit
 * rejection against J(z || c), and random round trips.
 *
 * This copy of the vectors predates the final FIPS 203 (its README: "FIPS
 * 203 ipd with the A-hat fix"): KeyGen derived (rho, sigma) = G(d), where
 * the standard has G(d || k). Their keys are made with the ipd KeyGen
 * (hasp_mlkem_keygen_derand_ipd); everything after KeyGen is the same in
 * both. The final KeyGen is checked here by its one difference (rho from
 * SHA3-512(d || k), then the same key otherwise), and against an
 * independent ML-KEM (OpenSSL 3.5 in Node.js) in tests/interop/pq_node.sh. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/mlkem.h"
#include "test.h"

#define VEC "tests/data/ml-kem/"

static const int params[2] = {HASP_MLKEM768, HASP_MLKEM1024};

/* ------------------------------------------------------------------ vector files */

/* The hex value of the first line "name = ..." at or after *pos in text
 * (which starts with a newline); *pos moves past it. */
static size_t field(const char *text, const char **pos, const char *name, uint8_t *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof(key), "\n%s = ", name);
    const char *hit = strstr(*pos ? *pos : text, key);
    if (hit == NULL) return 0;
    hit += strlen(key);
    *pos = hit;
    size_t n = strcspn(hit, "\r\n");
    char *one = malloc(n + 1);
    if (one == NULL) return 0;
    memcpy(one, hit, n);
    one[n] = 0;
    n = test_unhex(one, out, cap);
    free(one);
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 2);
    if (b && fread(b + 1, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) {
        b[0] = '\n';
        b[n + 1] = 0;
    }
    fclose(f);
    return b;
}

static void shake256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out,
                     size_t out_len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_shake256(), NULL);
    EVP_DigestUpdate(c, a, alen);
    EVP_DigestUpdate(c, b, blen);
    EVP_DigestFinalXOF(c, out, out_len);
    EVP_MD_CTX_free(c);
}

/* One key set: KeyGen from d, z gives ek, dk; Encaps with m gives c, K;
 * Decaps of c gives K, of a changed c gives J(z || c). */
static void test_keyset(int param, const char *file, const char *label)
{
    const char *name = hasp_mlkem_name(param);
    char *text = slurp(file);
    CHECK(text != NULL, "%s %s: read %s", name, label, file);
    if (!text) return;
    static uint8_t d[32], z[32], m[32], K[32], ek[4096], dk[4096], c[4096];
    const char *pos = NULL;
    size_t dl = field(text, &pos, "d", d, 32);
    pos = NULL;
    size_t zl = field(text, &pos, "z", z, 32);
    pos = NULL;
    size_t ekl = field(text, &pos, "ek", ek, sizeof(ek));
    pos = NULL;
    size_t dkl = field(text, &pos, "dk", dk, sizeof(dk));
    pos = NULL;
    size_t ml = field(text, &pos, "m", m, 32);
    pos = NULL;
    size_t Kl = field(text, &pos, "K", K, 32);
    pos = NULL;
    size_t cl = field(text, &pos, "c", c, sizeof(c));
    free(text);
    CHECK(dl == 32 && zl == 32 && ml == 32 && Kl == 32 && ekl == hasp_mlkem_ek_len(param) &&
              dkl == hasp_mlkem_dk_len(param) && cl == hasp_mlkem_ct_len(param),
          "%s %s: the vector file has d, z, ek, dk, m, K, c", name, label);

    uint8_t ek2[4096], dk2[4096], c2[4096], k2[32], k3[32];
    int rc = hasp_mlkem_keygen_derand_ipd(param, d, z, ek2, dk2);
    CHECK(rc == 0 && !memcmp(ek2, ek, ekl), "%s %s: KeyGen_internal(d, z) gives ek", name, label);
    CHECK(rc == 0 && !memcmp(dk2, dk, dkl), "%s %s: KeyGen_internal(d, z) gives dk", name, label);
    rc = hasp_mlkem_encaps_derand(param, ek, ekl, m, c2, k2);
    CHECK(rc == 0 && !memcmp(c2, c, cl), "%s %s: Encaps_internal(ek, m) gives c", name, label);
    CHECK(rc == 0 && !memcmp(k2, K, 32), "%s %s: Encaps_internal(ek, m) gives K", name, label);
    rc = hasp_mlkem_decaps(param, dk, dkl, c, cl, k3);
    CHECK(rc == 0 && !memcmp(k3, K, 32), "%s %s: Decaps(dk, c) gives K", name, label);
    memcpy(c2, c, cl);
    c2[cl - 1] ^= 0x80;
    uint8_t kbar[32];
    shake256(z, 32, c2, cl, kbar, 32);
    rc = hasp_mlkem_decaps(param, dk, dkl, c2, cl, k3);
    CHECK(rc == 0 && !memcmp(k3, kbar, 32),
          "%s %s: Decaps of a changed ciphertext gives J(z || c) (implicit rejection)", name,
          label);
}

/* The final KeyGen: rho = SHA3-512(d || k)[0..32] ends ek (the draft's
 * differs), and its keys round-trip. */
static void test_final_keygen(int param)
{
    const char *name = hasp_mlkem_name(param);
    uint8_t d[32], z[32], g[64], kb = param == HASP_MLKEM768 ? 3 : 4;
    static uint8_t ek[4096], dk[4096], ek_ipd[4096], dk_ipd[4096], ct[4096];
    uint8_t k1[32], k2[32];
    for (int i = 0; i < 32; i++) {
        d[i] = (uint8_t)i;
        z[i] = (uint8_t)(0x80 + i);
    }
    size_t ekl = hasp_mlkem_ek_len(param), dkl = hasp_mlkem_dk_len(param);
    int rc = hasp_mlkem_keygen_derand(param, d, z, ek, dk);
    rc |= hasp_mlkem_keygen_derand_ipd(param, d, z, ek_ipd, dk_ipd);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha3_512(), NULL);
    EVP_DigestUpdate(c, d, 32);
    EVP_DigestUpdate(c, &kb, 1);
    EVP_DigestFinal_ex(c, g, NULL);
    EVP_MD_CTX_free(c);
    CHECK(rc == 0 && !memcmp(ek + ekl - 32, g, 32) && memcmp(ek, ek_ipd, ekl) != 0,
          "%s: the final KeyGen takes rho from G(d || %u), unlike the draft", name, kb);
    rc = hasp_mlkem_encaps_derand(param, ek, ekl, z, ct, k1);
    rc |= hasp_mlkem_decaps(param, dk, dkl, ct, hasp_mlkem_ct_len(param), k2);
    CHECK(rc == 0 && !memcmp(k1, k2, 32) && !memcmp(dk + dkl - 32, z, 32),
          "%s: a final-standard key pair round-trips and keeps z at the end of dk", name);
}

/* strcmp/: Decaps(dk, c) = K for ciphertexts whose re-encryption differs
 * after a zero byte. */
static void test_strcmp(int param)
{
    const char *name = hasp_mlkem_name(param);
    char path[256];
    snprintf(path, sizeof(path), VEC "strcmp/%s.txt", name);
    char *text = slurp(path);
    CHECK(text != NULL, "%s strcmp: read %s", name, path);
    if (!text) return;
    static uint8_t dk[4096], c[4096], K[32], k2[32];
    const char *pos = NULL;
    size_t dkl = field(text, &pos, "dk", dk, sizeof(dk));
    pos = NULL;
    size_t cl = field(text, &pos, "c", c, sizeof(c));
    pos = NULL;
    size_t Kl = field(text, &pos, "K", K, sizeof(K));
    free(text);
    int rc = hasp_mlkem_decaps(param, dk, dkl, c, cl, k2);
    CHECK(Kl == 32 && rc == 0 && !memcmp(k2, K, 32),
          "%s strcmp: Decaps compares the whole ciphertext (rejection key)", name);
}

/* modulus/: every line an encapsulation key with one coefficient >= q. */
static void test_modulus(int param)
{
    const char *name = hasp_mlkem_name(param);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "gzip -dc " VEC "modulus/%s.txt.gz", name);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL, "%s modulus: open the file", name);
    if (!f) return;
    static char line[8192];
    static uint8_t ek[4096], ct[4096];
    uint8_t ss[32];
    int lines = 0, rejected = 0, encaps_rejected = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t n = test_unhex(line, ek, sizeof(ek));
        if (n == 0) continue;
        lines++;
        rejected += hasp_mlkem_check_ek(param, ek, n) == HASP_ERR_ILLEGAL_PARAM;
        encaps_rejected += hasp_mlkem_encaps(param, ek, n, ct, ss) == HASP_ERR_ILLEGAL_PARAM;
    }
    pclose(f);
    CHECK(lines > 0 && rejected == lines && encaps_rejected == lines,
          "%s modulus: all %d invalid encapsulation keys rejected (%d by the check, %d by Encaps)",
          name, lines, rejected, encaps_rejected);
}

/* ------------------------------------------------------------------ accumulated vectors */

/* A SHAKE-128 read incrementally (OpenSSL 3.0 squeezes only once): the
 * deterministic RNG of the accumulated test, Keccak-f[1600] written out
 * here for the test alone. */
typedef struct shake_rng {
    uint64_t s[25];
    size_t pos; /* bytes of the current block already read */
} shake_rng;

static uint64_t rol(uint64_t x, int n)
{
    return n ? (x << n) | (x >> (64 - n)) : x;
}

static void keccak_f(uint64_t s[25])
{
    static const uint64_t rc[24] = {
        0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
        0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
        0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
        0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
        0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
        0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};
    static const int rot[25] = {0,  1,  62, 28, 27, 36, 44, 6,  55, 20, 3,  10, 43,
                                25, 39, 41, 45, 15, 21, 8,  18, 2,  61, 56, 14};
    for (int r = 0; r < 24; r++) {
        uint64_t c[5], b[25];
        for (int x = 0; x < 5; x++)
            c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20];
        for (int x = 0; x < 5; x++) {
            uint64_t d = c[(x + 4) % 5] ^ rol(c[(x + 1) % 5], 1);
            for (int y = 0; y < 25; y += 5)
                s[y + x] ^= d;
        }
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 5; y++)
                b[y + 5 * ((2 * x + 3 * y) % 5)] = rol(s[x + 5 * y], rot[x + 5 * y]);
        for (int y = 0; y < 25; y += 5)
            for (int x = 0; x < 5; x++)
                s[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5]);
        s[0] ^= rc[r];
    }
}

static void rng_init(shake_rng *r)
{
    memset(r, 0, sizeof(*r));
    /* SHAKE-128 of the empty string: padding 0x1f ... 0x80 in a 168-byte block */
    r->s[0] ^= 0x1f;
    r->s[20] ^= 0x8000000000000000ULL;
    keccak_f(r->s);
}

static void rng_read(shake_rng *r, uint8_t *out, size_t len)
{
    while (len--) {
        if (r->pos == 168) {
            keccak_f(r->s);
            r->pos = 0;
        }
        *out++ = (uint8_t)(r->s[r->pos / 8] >> (8 * (r->pos % 8)));
        r->pos++;
    }
}

static void test_accumulated(int param, long count, const char *want_hex)
{
    const char *name = hasp_mlkem_name(param);
    shake_rng rng;
    rng_init(&rng);
    uint8_t first[16];
    rng_read(&rng, first, 16);
    uint8_t want_first[16];
    test_unhex("7f9c2ba4e88f827d616045507605853e", want_first, 16);
    CHECK(!memcmp(first, want_first, 16), "%s accumulated: the RNG stream starts as documented",
          name);
    rng_init(&rng);
    EVP_MD_CTX *acc = EVP_MD_CTX_new();
    EVP_DigestInit_ex(acc, EVP_shake128(), NULL);
    size_t ekl = hasp_mlkem_ek_len(param), dkl = hasp_mlkem_dk_len(param),
           ctl = hasp_mlkem_ct_len(param);
    static uint8_t ek[4096], dk[4096], ct[4096], bad[4096];
    uint8_t d[32], z[32], m[32], k[32], k2[32], k3[32];
    long mismatches = 0, errors = 0;
    for (long i = 0; i < count; i++) {
        rng_read(&rng, d, 32);
        rng_read(&rng, z, 32);
        rng_read(&rng, m, 32);
        rng_read(&rng, bad, ctl);
        errors += hasp_mlkem_keygen_derand_ipd(param, d, z, ek, dk) != 0;
        errors += hasp_mlkem_encaps_derand(param, ek, ekl, m, ct, k) != 0;
        errors += hasp_mlkem_decaps(param, dk, dkl, ct, ctl, k2) != 0;
        errors += hasp_mlkem_decaps(param, dk, dkl, bad, ctl, k3) != 0;
        mismatches += memcmp(k, k2, 32) != 0;
        EVP_DigestUpdate(acc, ek, ekl);
        EVP_DigestUpdate(acc, dk, dkl);
        EVP_DigestUpdate(acc, ct, ctl);
        EVP_DigestUpdate(acc, k, 32);
        EVP_DigestUpdate(acc, k3, 32);
    }
    uint8_t got[32], want[32];
    EVP_DigestFinalXOF(acc, got, 32);
    EVP_MD_CTX_free(acc);
    test_unhex(want_hex, want, 32);
    CHECK(errors == 0 && mismatches == 0, "%s accumulated: %ld round trips, Decaps(Encaps) agrees",
          name, count);
    CHECK(!memcmp(got, want, 32), "%s accumulated: the SHAKE-128 hash of %ld tests is %s", name,
          count, want_hex);
}

/* ------------------------------------------------------------------ API checks */

static void test_api(int param)
{
    const char *name = hasp_mlkem_name(param);
    size_t ekl = hasp_mlkem_ek_len(param), dkl = hasp_mlkem_dk_len(param),
           ctl = hasp_mlkem_ct_len(param);
    static uint8_t ek[4096], dk[4096], ct[4096];
    uint8_t k[32], k2[32];
    int ok = 1;
    for (int i = 0; i < 20 && ok; i++) {
        ok = hasp_mlkem_keygen(param, ek, dk) == 0 &&
             hasp_mlkem_encaps(param, ek, ekl, ct, k) == 0 &&
             hasp_mlkem_decaps(param, dk, dkl, ct, ctl, k2) == 0 && !memcmp(k, k2, 32);
    }
    CHECK(ok, "%s: 20 random KeyGen, Encaps, Decaps round trips agree", name);
    CHECK(hasp_mlkem_encaps(param, ek, ekl - 1, ct, k) == HASP_ERR_ILLEGAL_PARAM &&
              hasp_mlkem_encaps(param, ek, ekl + 1, ct, k) == HASP_ERR_ILLEGAL_PARAM,
          "%s: an encapsulation key of the wrong length is illegal_parameter", name);
    CHECK(hasp_mlkem_decaps(param, dk, dkl, ct, ctl - 1, k) == HASP_ERR_ILLEGAL_PARAM &&
              hasp_mlkem_decaps(param, dk, dkl, ct, ctl + 1, k) == HASP_ERR_ILLEGAL_PARAM,
          "%s: a ciphertext of the wrong length is illegal_parameter", name);
    dk[dkl - 64] ^= 1; /* H(ek) */
    CHECK(hasp_mlkem_decaps(param, dk, dkl, ct, ctl, k) == HASP_ERR_USAGE,
          "%s: a decapsulation key failing its hash check is refused", name);
    /* a coefficient of exactly q (3329 = 0xd01) at the start */
    ek[0] = 0x01;
    ek[1] = (uint8_t)((ek[1] & 0xf0) | 0x0d);
    CHECK(hasp_mlkem_check_ek(param, ek, ekl) == HASP_ERR_ILLEGAL_PARAM &&
              strstr(hasp_err_last()->msg, "3329") != NULL,
          "%s: the modulus check names the coefficient: %s", name, hasp_err_last()->msg);
}

int main(int argc, char **argv)
{
    int lng = argc > 1 && strcmp(argv[1], "--long") == 0;
    for (int i = 0; i < 2; i++) {
        int p = params[i];
        char path[256];
        snprintf(path, sizeof(path), VEC "intermediate/%s.txt", hasp_mlkem_name(p));
        test_keyset(p, path, "intermediate values");
        snprintf(path, sizeof(path), VEC "unluckysample/%s.txt", hasp_mlkem_name(p));
        test_keyset(p, path, "unlucky SampleNTT");
        test_strcmp(p);
        test_modulus(p);
        test_final_keygen(p);
        test_api(p);
    }
    if (lng) {
        test_accumulated(HASP_MLKEM768, 1000000,
                         "70090cc5842aad0ec43d5042c783fae9bc320c047b5dafcb6e134821db02384d");
        test_accumulated(HASP_MLKEM1024, 1000000,
                         "7ccc6d803739d3db3c5ce39c7130f459db32a199c6605e3be210e5a89d4c4b95");
    } else {
        test_accumulated(HASP_MLKEM768, 10000,
                         "f7db260e1137a742e05fe0db9525012812b004d29040a5b606aad3d134b548d3");
        test_accumulated(HASP_MLKEM1024, 10000,
                         "47ac888fe61544efc0518f46094b4f8a600965fc89822acb06dc7169d24f3543");
    }
    TEST_DONE();
}
