/* The RNG: OpenSSL's DRBG, and a per-thread pool of its output for values
 * that go on the wire in the clear. */
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* Every RAND_bytes call costs OpenSSL 3.0's DRBG a fork check (getpid(), a
 * system call) and a reseed-state update with a fresh AES key schedule:
 * ~2 us here, a fifth of a resumed TLS 1.2 handshake. Public values (the
 * hello randoms, session IDs) are therefore cut from a per-thread pool
 * filled 512 bytes at a time. The pool lives in its own page marked
 * MADV_WIPEONFORK: a child process sees it zeroed (empty) and refills from
 * its own DRBG, so no two processes hand out the same bytes; where the
 * kernel cannot do that, there is no pool. Bytes are wiped from the pool
 * as they are handed out. Secrets never come from here. */
#define POOL_FILL 512
#define POOL_MAX_REQ 64

typedef struct rand_pool {
    size_t left; /* unused bytes at the end of buf; 0 after a fork */
    uint8_t buf[POOL_FILL];
} rand_pool;

static pthread_key_t pool_key;
static int pool_key_ok;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static __thread rand_pool *tl_pool;
static __thread int tl_pool_failed;

static size_t pool_page(void)
{
    long p = sysconf(_SC_PAGESIZE);
    size_t sz = p > 0 ? (size_t)p : 4096;
    while (sz < sizeof(rand_pool))
        sz *= 2;
    return sz;
}

static void pool_free(void *p)
{
    if (p == NULL) return;
    OPENSSL_cleanse(p, sizeof(rand_pool));
    munmap(p, pool_page());
}

static void pool_init(void)
{
    pool_key_ok = pthread_key_create(&pool_key, pool_free) == 0;
}

static rand_pool *pool_get(void)
{
    if (tl_pool != NULL || tl_pool_failed) return tl_pool;
#ifdef MADV_WIPEONFORK
    pthread_once(&pool_once, pool_init);
    if (pool_key_ok) {
        size_t sz = pool_page();
        void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            if (madvise(p, sz, MADV_WIPEONFORK) == 0 && pthread_setspecific(pool_key, p) == 0) {
                tl_pool = p;
                return tl_pool;
            }
            munmap(p, sz);
        }
    }
#endif
    tl_pool_failed = 1;
    return NULL;
}

int hasp_random_public(uint8_t *out, size_t len)
{
    rand_pool *p = len <= POOL_MAX_REQ ? pool_get() : NULL;
    if (p == NULL) return hasp_random(out, len);
    if (p->left < len) {
        if (RAND_bytes(p->buf, POOL_FILL) != 1) {
            p->left = 0;
            return hasp_random(out, len);
        }
        p->left = POOL_FILL;
    }
    uint8_t *src = p->buf + (POOL_FILL - p->left);
    memcpy(out, src, len);
    OPENSSL_cleanse(src, len);
    p->left -= len;
    return 0;
}
