/* The RNG: OpenSSL's DRBG. */
#include <openssl/rand.h>

#include "crypto.h"

int hasp_random(uint8_t *out, size_t len)
{
    while (len) {
        int n = len > (1u << 30) ? (1 << 30) : (int)len;
        ENSURE_MSG(RAND_bytes(out, n) == 1, HASP_ERR_CRYPTO, "the random number generator failed");
        out += n;
        len -= (size_t)n;
    }
    return 0;
}
