/* hasp-bench: hasp and OpenSSL's libssl side by side, in memory, in one
 * thread. Shared declarations of the bench's parts:
 *   main.c       options, the schedule of runs, medians, table and JSON
 *   drv_hasp.c   the hasp driver (public API only)
 *   drv_ossl.c   the OpenSSL libssl driver
 *   floor.c      the crypto floor: each case's primitive operations alone
 *   pki.c        certificates and keys generated at startup with libcrypto
 *   memcount.c   the counting allocator behind every heap hook
 *   side.c       per-side timing, allocation owner and callgrind toggles */
#ifndef HASP_BENCH_H
#define HASP_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ cases */

enum { CERT_ECDSA = 0, CERT_RSA = 1 };
/* RESUME_FILL: the server's session cache on as for RESUME_ID, tickets off,
 * the client never offers a session: every handshake is full and leaves
 * one entry in the server's cache (the memory-cache-entry row). */
enum { RESUME_NONE = 0, RESUME_ID, RESUME_TICKET, RESUME_PSK, RESUME_FILL };
#define CASE_RESUMES(hc) ((hc)->resume != RESUME_NONE && (hc)->resume != RESUME_FILL)
enum { AEAD_AES128GCM = 0, AEAD_AES256GCM, AEAD_CHACHA20 };

typedef struct hs_case {
    const char *name; /* the JSON case name: "tls13-ecdsa-full" */
    uint16_t version; /* 0x0303 or 0x0304 */
    int cert;         /* CERT_ECDSA / CERT_RSA */
    int resume;       /* RESUME_* */
    int hybrid;       /* key exchange X25519MLKEM768 instead of X25519 */
} hs_case;

/* ------------------------------------------------------------------ PKI */

/* One chain per algorithm: root -> intermediate -> leaf "localhost", all
 * keys of that algorithm (P-256 or RSA-2048), SHA-256 signatures. The
 * server sends leaf + intermediate; the client trusts the root. */
typedef struct bench_chain {
    char *chain_pem; /* leaf then intermediate */
    size_t chain_len;
    char *key_pem; /* the leaf's private key, PKCS#8 */
    size_t key_len;
    char *root_pem;
    size_t root_len;
    void *leaf, *inter, *root;             /* X509 * */
    void *leaf_key, *inter_key, *root_key; /* EVP_PKEY * */
} bench_chain;

typedef struct bench_pki {
    bench_chain chain[2]; /* [CERT_ECDSA], [CERT_RSA] */
} bench_pki;

/* which: a mask of 1 << CERT_ECDSA, 1 << CERT_RSA. */
int pki_generate(bench_pki *pki, int which);
void pki_free(bench_pki *pki);

#define BENCH_HOST "localhost"
/* The signature schemes both libraries are pinned to. */
#define BENCH_SIGALGS "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pkcs1_sha256"

/* ------------------------------------------------------------------ sides */

enum { SIDE_NONE = 0, SIDE_CLIENT = 1, SIDE_SERVER = 2 };

/* Everything a library does for one side is bracketed by side_begin /
 * side_end: the elapsed time is added to that side, heap blocks allocated
 * in between belong to that side's connection, and under callgrind
 * (--instr) instructions are collected only for the chosen side. Not
 * nestable. */
void side_begin(int side);
void side_end(int side);
void side_reset_times(void);
double side_seconds(int side); /* less the timer's own cost per timed call */
/* Measure what an empty side_begin/side_end pair costs (once, at start). */
void side_calibrate(void);
double side_pair_cost(void);
/* 1 = instructions of the client side, 2 = server, 3 = both. */
void side_set_instr(int mask);

static inline int side_peer(int side)
{
    return side == SIDE_CLIENT ? SIDE_SERVER : SIDE_CLIENT;
}

double now_seconds(void);
/* CPU time of this thread: immune to time slices lost to other processes
 * on a busy machine. Runs are scaled by cpu/wall (see main.c). */
double cpu_seconds(void);

/* -v: drivers print what each first handshake negotiated (stderr). */
extern int bench_verbose;

/* ------------------------------------------------------------------ memory */

/* The counting allocator. Installed first thing in main. */
int mem_install(void);
/* Start attributing blocks to sides (side_begin sets the owner). Clears
 * the counters and forgets every block tracked so far. */
void mem_track_start(void);
void mem_track_stop(void);
size_t mem_live(int side);
/* The most a side held between mem_track_start and mem_mark_idle. */
size_t mem_peak(int side);
/* Drivers call this once both handshakes are complete and all output
 * was delivered: it records each side's live bytes as "idle". */
void mem_mark_idle(void);
size_t mem_idle(int side);
/* Blocks allocated from now on belong to side (SIDE_NONE: not counted). */
void mem_set_owner(int side);
/* 1 if the block table overflowed (the counts are then too low). */
int mem_overflowed(void);
/* The blocks side holds now, by allocation site (--memdump). */
#include <stdio.h>
void mem_dump(FILE *out, int side);
/* Called by mem_mark_idle when set (main.c: --memdump). */
extern void (*mem_idle_hook)(void);

/* The counting allocator's entry points, also handed to hasp_set_allocator. */
void *mem_malloc(size_t n);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);

/* ------------------------------------------------------------------ drivers */

/* A library under test. Each *_new returns NULL when the library cannot
 * do the case (yet): why says so, and the row reads n/a. */
typedef struct bench_lib {
    const char *name;
    /* A handshake case. For resumption cases, _new does the first full
     * handshake and keeps the session; each _one is then a resumption. */
    void *(*hs_new)(const hs_case *hc, const bench_pki *pki, char *why, size_t cap);
    /* One handshake, client and server, through memory. 0, or -1 with why. */
    int (*hs_one)(void *x, char *why, size_t cap);
    void (*hs_free)(void *x);
    /* A connected pair ready for bulk data with one AEAD, at version. */
    void *(*bulk_new)(int aead, uint16_t version, const bench_pki *pki, char *why, size_t cap);
    /* The client writes len bytes (one 16 KiB write), the server reads them
     * all. Timed as send (client) and recv (server). 0 or -1. */
    int (*bulk_one)(void *x, const uint8_t *buf, size_t len, uint8_t *rbuf, char *why, size_t cap);
    void (*bulk_free)(void *x);
} bench_lib;

extern const bench_lib lib_hasp;
extern const bench_lib lib_ossl;

/* ------------------------------------------------------------------ floors */

/* Operations per second of a case's crypto, for one side (the floor a
 * library cannot beat). The exact operation lists are in floor.c and
 * bench/README.md. <= 0 when it cannot be measured. */
typedef struct floor_ctx floor_ctx;
floor_ctx *floor_new(const bench_pki *pki);
void floor_free(floor_ctx *f);
/* A description of the operations, for the table's notes. */
const char *floor_ops(const hs_case *hc, int side);
/* Run the operations of one handshake of hc on side `side` for about
 * `seconds`: returns handshakes per second. */
double floor_hs_rate(floor_ctx *f, const hs_case *hc, int side, double seconds);
/* The same operations through libcrypto called plainly (EVP, a context per
 * operation); -1 where there is no plain way (ML-KEM). */
double floor_hs_rate_plain(floor_ctx *f, const hs_case *hc, int side, double seconds);
/* X25519 key generation: EVP_PKEY_keygen on a kept context with the public
 * value read out; and through Ed25519's fixed base (pub, priv, and the key
 * pair as an EVP_PKEY when out is not NULL). floor_x25519_ed_check: 1 when
 * the second gives libcrypto's public key bit for bit on n random keys. */
int floor_x25519_keygen_plain(floor_ctx *f);
#include <openssl/evp.h>
int floor_x25519_keygen_ed(uint8_t pub[32], uint8_t priv[32], EVP_PKEY **out);
int floor_x25519_ed_check(int n);
/* Raw AEAD through EVP, 16 KiB records with a 13-byte AAD: MB/s for
 * sealing (side SIDE_CLIENT, "send") or opening (SIDE_SERVER, "recv"). */
double floor_bulk_rate(floor_ctx *f, int aead, int side, size_t len, int tls13, double seconds);

const char *aead_name(int aead);

/* X25519 keygen + derive at the floor's cost (one side of an exchange):
 * 0, or -1 when it fails. For the primitive rows. */
int floor_x25519_pair(floor_ctx *f);

#endif
