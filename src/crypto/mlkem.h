/* ML-KEM (FIPS 203), parameter sets ML-KEM-768 and ML-KEM-1024, behind
 * the crypto seam. Our own implementation (mlkem.c: NTT with Montgomery
 * and Barrett reduction, SHA-3 and SHAKE from libcrypto); with a
 * libcrypto that has ML-KEM (OpenSSL 3.5 or later) the random entry
 * points go to libcrypto instead and the deterministic ones stay ours.
 *
 * Every function returns 0 on success or a negative HASP_ERR_*:
 * HASP_ERR_ILLEGAL_PARAM for a bad encapsulation key (wrong length or a
 * coefficient not reduced mod q, FIPS 203 7.2) or a ciphertext of the
 * wrong length (7.3), HASP_ERR_USAGE for an unknown parameter set or a
 * decapsulation key that fails its hash check. Secret-dependent code is
 * constant time: no branch and no memory index depends on a secret, and
 * Decaps rejects implicitly (FIPS 203 6.3) with a constant-time compare
 * and select. Secret intermediates are wiped before returning. */
#ifndef HASP_MLKEM_H
#define HASP_MLKEM_H

#include <stddef.h>
#include <stdint.h>

enum hasp_mlkem_param {
    HASP_MLKEM768 = 768,
    HASP_MLKEM1024 = 1024,
};

#define HASP_MLKEM_SS_LEN 32
#define HASP_MLKEM_SEED_LEN 32
#define HASP_MLKEM768_EK_LEN 1184
#define HASP_MLKEM768_DK_LEN 2400
#define HASP_MLKEM768_CT_LEN 1088
#define HASP_MLKEM1024_EK_LEN 1568
#define HASP_MLKEM1024_DK_LEN 3168
#define HASP_MLKEM1024_CT_LEN 1568
#define HASP_MLKEM_MAX_EK_LEN HASP_MLKEM1024_EK_LEN
#define HASP_MLKEM_MAX_DK_LEN HASP_MLKEM1024_DK_LEN
#define HASP_MLKEM_MAX_CT_LEN HASP_MLKEM1024_CT_LEN

/* Sizes in bytes; 0 for an unknown parameter set. */
size_t hasp_mlkem_ek_len(int param);
size_t hasp_mlkem_dk_len(int param);
size_t hasp_mlkem_ct_len(int param);
const char *hasp_mlkem_name(int param); /* "ML-KEM-768" */

/* ML-KEM.KeyGen_internal (FIPS 203 Algorithm 16): ek and dk from the
 * seeds d and z. ek gets ek_len bytes, dk dk_len. */
int hasp_mlkem_keygen_derand(int param, const uint8_t d[32], const uint8_t z[32], uint8_t *ek,
                             uint8_t *dk);
/* The same as FIPS 203's initial public draft (ipd, August 2023) had it:
 * (rho, sigma) = G(d) without the byte k. The only difference from the
 * final standard in KeyGen, Encaps or Decaps results; for the published
 * test vectors made before the final standard (tests/data/ml-kem/), never
 * for keys in use. */
int hasp_mlkem_keygen_derand_ipd(int param, const uint8_t d[32], const uint8_t z[32], uint8_t *ek,
                                 uint8_t *dk);
/* ML-KEM.KeyGen (Algorithm 19): d and z from the DRBG. */
int hasp_mlkem_keygen(int param, uint8_t *ek, uint8_t *dk);

/* The encapsulation key check of FIPS 203 7.2: the length, and every
 * 12-bit coefficient below q (ByteEncode12(ByteDecode12(ek)) == ek). */
int hasp_mlkem_check_ek(int param, const uint8_t *ek, size_t ek_len);

/* ML-KEM.Encaps_internal (Algorithm 17) with the message m; checks ek
 * first. ct gets ct_len bytes, ss 32. */
int hasp_mlkem_encaps_derand(int param, const uint8_t *ek, size_t ek_len, const uint8_t m[32],
                             uint8_t *ct, uint8_t ss[32]);
/* ML-KEM.Encaps (Algorithm 20): m from the DRBG. */
int hasp_mlkem_encaps(int param, const uint8_t *ek, size_t ek_len, uint8_t *ct, uint8_t ss[32]);

/* ML-KEM.Decaps (Algorithm 21 with the checks of 7.3): a ciphertext of
 * the right length always gives a key (the real one, or the implicit
 * rejection key J(z || c), chosen in constant time). */
int hasp_mlkem_decaps(int param, const uint8_t *dk, size_t dk_len, const uint8_t *ct, size_t ct_len,
                      uint8_t ss[32]);
/* The same for a dk that this process made with hasp_mlkem_keygen and
 * kept in its own memory (a TLS key share's): without the hash check of
 * 7.3, which guards against a decapsulation key from elsewhere; it would
 * hash the 1184 or 1568 bytes of ek again in every handshake. */
int hasp_mlkem_decaps_own(int param, const uint8_t *dk, size_t dk_len, const uint8_t *ct,
                          size_t ct_len, uint8_t ss[32]);

#endif
