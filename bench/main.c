/* hasp-bench: hasp against OpenSSL's libssl, side by side in one process,
 * in memory, client and server in one thread, each side timed apart.
 * See bench/README.md for what every row means.
 *
 *   hasp-bench [--quick] [--json] [--runs N] [--time SEC] [--only SUBSTR] [-v]
 *   hasp-bench --instr CASE [--lib hasp|openssl] [--n N]   (under callgrind)
 */
#include <openssl/crypto.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"
#include "crypto/crypto.h"
#include "crypto/mlkem.h"
#include "hasp.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_DUMP_STATS_AT(s)
#endif

#define BULK_LEN 16384

int bench_verbose;

static const hs_case hs_cases[] = {
    {"tls13-ecdsa-full", 0x0304, CERT_ECDSA, RESUME_NONE, 0},
    {"tls13-rsa-full", 0x0304, CERT_RSA, RESUME_NONE, 0},
    {"tls12-ecdsa-full", 0x0303, CERT_ECDSA, RESUME_NONE, 0},
    {"tls12-rsa-full", 0x0303, CERT_RSA, RESUME_NONE, 0},
    {"tls12-resume-id", 0x0303, CERT_ECDSA, RESUME_ID, 0},
    {"tls12-resume-ticket", 0x0303, CERT_ECDSA, RESUME_TICKET, 0},
    {"tls13-resume", 0x0304, CERT_ECDSA, RESUME_PSK, 0},
    {"tls13-ecdsa-mlkem", 0x0304, CERT_ECDSA, RESUME_NONE, 1},
};
#define N_HS (sizeof(hs_cases) / sizeof(hs_cases[0]))

static const char *bulk_cases[3] = {"bulk-aes128gcm", "bulk-aes256gcm", "bulk-chacha20"};
/* the write sizes: a full record, and the small writes of HTTP/1.1 and RPC */
static const size_t bulk_sizes[3] = {BULK_LEN, 1024, 256};
static const char *bulk_size_suffix[3] = {"", "-1k", "-256"};
static char bulk_names[3][3][32]; /* [aead][size] */

static const char *bulk_name(int aead, int size)
{
    if (!bulk_names[aead][size][0])
        snprintf(bulk_names[aead][size], sizeof(bulk_names[aead][size]), "%s%s", bulk_cases[aead],
                 bulk_size_suffix[size]);
    return bulk_names[aead][size];
}

/* ------------------------------------------------------------------ options */

static struct {
    int quick, json, verbose, runs, memdump;
    double run_time;
    const char *only;
    const char *instr;
    const char *instr_lib;
    int instr_n;
} opt = {.runs = 0, .run_time = 0, .instr_lib = "hasp", .instr_n = 20};

static void usage(FILE *f)
{
    fprintf(f, "usage: hasp-bench [--quick] [--json] [--runs N] [--time SEC] [--only SUBSTR] [-v]\n"
               "       hasp-bench --instr CASE [--lib hasp|openssl] [--n N]\n"
               "  --quick      3 runs of 0.15 s per row (under 60 s in all)\n"
               "  --json       machine-readable output (the format of issue 6)\n"
               "  --runs N     runs per row (median reported); default 5\n"
               "  --time SEC   length of one run; default 1.0\n"
               "  --only S     only the cases whose name contains S (and memory rows when S\n"
               "               matches \"memory\")\n"
               "  --memdump    print the blocks an idle connection holds, by allocation site\n"
               "  -v           print what each case negotiated\n"
               "  --instr CASE a fixed number of handshakes (or 16 KiB records) of one case,\n"
               "               for valgrind --tool=callgrind --instr-atstart=no\n"
               "               --collect-atstart=no: dumps \"client\" then \"server\" stats\n"
               "               (scripts/bench-instr.sh)\n");
}

/* ------------------------------------------------------------------ rows */

typedef struct row {
    const char *name, *side, *unit;
    double hasp, ossl, floor; /* NAN: n/a */
    double plain;             /* the floor with libcrypto called plainly; NAN: none */
    int lower_is_better;      /* memory */
    char note[200];
} row;

static row rows[64];
static size_t nrows;
static char notes[32][640];
static size_t nnotes;

static row *add_row(const char *name, const char *side, const char *unit)
{
    row *r = &rows[nrows++];
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->side = side;
    r->unit = unit;
    r->hasp = r->ossl = r->floor = r->plain = NAN;
    return r;
}

static void add_note(const char *fmt, const char *a, const char *b)
{
    if (nnotes < sizeof(notes) / sizeof(notes[0]))
        snprintf(notes[nnotes++], sizeof(notes[0]), fmt, a, b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int wanted(const char *name)
{
    return !opt.only || strstr(name, opt.only) != NULL;
}

static void progress(const char *what)
{
    if (isatty(2)) {
        fprintf(stderr, "  %-24s\r", what);
        fflush(stderr);
    }
}

/* ------------------------------------------------------------------ handshakes */

/* The sides are timed by the wall clock (cheap enough to read around
 * every call), which also counts the time slices this process lost to
 * others on a busy machine. A run's thread CPU time over its wall time
 * says how much was lost; the sides' times are scaled by it. */
typedef struct run_clock {
    double wall, cpu;
} run_clock;

static run_clock run_start(void)
{
    side_reset_times();
    run_clock c = {now_seconds(), cpu_seconds()};
    return c;
}

static double run_scale(run_clock c)
{
    double wall = now_seconds() - c.wall, cpu = cpu_seconds() - c.cpu;
    return wall > 0 && cpu > 0 && cpu < wall ? cpu / wall : 1.0;
}

/* Handshakes per second, client and server side, over one timed run. */
static int hs_run(const bench_lib *lib, void *x, double secs, double *rc, double *rs, char *why,
                  size_t cap)
{
    run_clock c = run_start();
    long n = 0;
    do {
        if (lib->hs_one(x, why, cap) < 0) return -1;
        n++;
    } while (now_seconds() - c.wall < secs);
    double k = run_scale(c);
    *rc = (double)n / (side_seconds(SIDE_CLIENT) * k);
    *rs = (double)n / (side_seconds(SIDE_SERVER) * k);
    return 0;
}

static void bench_hs(const hs_case *hc, const bench_pki *pki, floor_ctx *fl)
{
    const bench_lib *libs[2] = {&lib_hasp, &lib_ossl};
    void *x[2];
    char why[2][512] = {{0}};
    double rc[2][16], rs[2][16];
    int ok[2];
    row *rcl = add_row(hc->name, "client", "handshakes/s");
    row *rsv = add_row(hc->name, "server", "handshakes/s");
    progress(hc->name);
    for (int l = 0; l < 2; l++) {
        x[l] = libs[l]->hs_new(hc, pki, why[l], sizeof(why[l]));
        ok[l] = x[l] != NULL;
        for (int w = 0; ok[l] && w < 3; w++) /* warm-up */
            ok[l] = libs[l]->hs_one(x[l], why[l], sizeof(why[l])) == 0;
        if (!ok[l]) add_note("%s: %s", hc->name, why[l]);
    }
    /* Each run times hasp, OpenSSL and the floor's two sides back to back,
     * in an order that rotates, so drift on a noisy machine hits all alike. */
    double fv[2][16], pv[2][16];
    int nf[2] = {0, 0}, np[2] = {0, 0};
    for (int r = 0; r < opt.runs; r++)
        for (int k = 0; k < 3; k++) {
            int l = (r + k) % 3;
            if (l == 2) {
                for (int s = 0; fl && s < 2; s++) {
                    int side = s == 0 ? SIDE_CLIENT : SIDE_SERVER;
                    double f = floor_hs_rate(fl, hc, side, opt.run_time / 2);
                    if (f > 0) fv[s][nf[s]++] = f;
                    f = floor_hs_rate_plain(fl, hc, side, opt.run_time / 4);
                    if (f > 0) pv[s][np[s]++] = f;
                }
            } else if (ok[l] && hs_run(libs[l], x[l], opt.run_time, &rc[l][r], &rs[l][r], why[l],
                                       sizeof(why[l])) < 0) {
                ok[l] = 0;
                add_note("%s: %s", hc->name, why[l]);
            }
        }
    if (ok[0]) {
        rcl->hasp = median(rc[0], opt.runs);
        rsv->hasp = median(rs[0], opt.runs);
    }
    if (ok[1]) {
        rcl->ossl = median(rc[1], opt.runs);
        rsv->ossl = median(rs[1], opt.runs);
    }
    for (int l = 0; l < 2; l++)
        libs[l]->hs_free(x[l]);
    row *side_rows[2] = {rcl, rsv};
    for (int s = 0; s < 2; s++) {
        side_rows[s]->floor = median(fv[s], nf[s]);
        side_rows[s]->plain = median(pv[s], np[s]);
        snprintf(side_rows[s]->note, sizeof(side_rows[s]->note), "%s",
                 floor_ops(hc, s == 0 ? SIDE_CLIENT : SIDE_SERVER));
    }
}

/* ------------------------------------------------------------------ bulk */

static int bulk_run(const bench_lib *lib, void *x, double secs, const uint8_t *buf, uint8_t *rbuf,
                    size_t len, double *send, double *recv, char *why, size_t cap)
{
    run_clock c = run_start();
    long n = 0;
    do {
        for (int i = 0; i < 16; i++)
            if (lib->bulk_one(x, buf, len, rbuf, why, cap) < 0) return -1;
        n += 16;
    } while (now_seconds() - c.wall < secs);
    double k = run_scale(c);
    if (memcmp(buf, rbuf, len) != 0) {
        snprintf(why, cap, "%s: the data arrived corrupted", lib->name);
        return -1;
    }
    *send = (double)n * (double)len / (side_seconds(SIDE_CLIENT) * k) / 1e6;
    *recv = (double)n * (double)len / (side_seconds(SIDE_SERVER) * k) / 1e6;
    return 0;
}

/* Bulk runs at TLS 1.3 when hasp has it, else TLS 1.2, for both libraries. */
static uint16_t bulk_version(const bench_pki *pki)
{
    char why[512];
    void *b = lib_hasp.bulk_new(AEAD_AES128GCM, 0x0304, pki, why, sizeof(why));
    lib_hasp.bulk_free(b);
    return b ? 0x0304 : 0x0303;
}

static void bench_bulk(int aead, int size, uint16_t version, const bench_pki *pki, floor_ctx *fl)
{
    const size_t len = bulk_sizes[size];
    const bench_lib *libs[2] = {&lib_hasp, &lib_ossl};
    const char *name = bulk_name(aead, size);
    row *rsend = add_row(name, "send", "MB/s");
    row *rrecv = add_row(name, "recv", "MB/s");
    progress(name);
    uint8_t *buf = malloc(BULK_LEN), *rbuf = malloc(BULK_LEN);
    for (size_t i = 0; i < BULK_LEN; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    void *x[2];
    char why[2][512] = {{0}};
    double vs[2][16], vr[2][16];
    int ok[2];
    for (int l = 0; l < 2; l++) {
        x[l] = libs[l]->bulk_new(aead, version, pki, why[l], sizeof(why[l]));
        ok[l] = x[l] != NULL;
        for (int w = 0; ok[l] && w < 16; w++)
            ok[l] = libs[l]->bulk_one(x[l], buf, len, rbuf, why[l], sizeof(why[l])) == 0;
        if (!ok[l]) add_note("%s: %s", name, why[l]);
    }
    double fv[2][16];
    int nf[2] = {0, 0};
    for (int r = 0; r < opt.runs; r++)
        for (int k = 0; k < 3; k++) {
            int l = (r + k) % 3;
            if (l == 2) {
                for (int s = 0; fl && s < 2; s++) {
                    double f = floor_bulk_rate(fl, aead, s == 0 ? SIDE_CLIENT : SIDE_SERVER, len,
                                               version == 0x0304, opt.run_time / 2);
                    if (f > 0) fv[s][nf[s]++] = f;
                }
            } else if (ok[l] && bulk_run(libs[l], x[l], opt.run_time, buf, rbuf, len, &vs[l][r],
                                         &vr[l][r], why[l], sizeof(why[l])) < 0) {
                ok[l] = 0;
                add_note("%s: %s", name, why[l]);
            }
        }
    if (ok[0]) {
        rsend->hasp = median(vs[0], opt.runs);
        rrecv->hasp = median(vr[0], opt.runs);
    }
    if (ok[1]) {
        rsend->ossl = median(vs[1], opt.runs);
        rrecv->ossl = median(vr[1], opt.runs);
    }
    for (int l = 0; l < 2; l++)
        libs[l]->bulk_free(x[l]);
    free(buf);
    free(rbuf);
    rsend->floor = median(fv[0], nf[0]);
    rrecv->floor = median(fv[1], nf[1]);
    char sz[32];
    if (len % 1024 == 0)
        snprintf(sz, sizeof(sz), "%zu KiB", len / 1024);
    else
        snprintf(sz, sizeof(sz), "%zu B", len);
    snprintf(rsend->note, sizeof(rsend->note), "%s %s seal, %s writes", aead_name(aead),
             version == 0x0304 ? "TLS1.3" : "TLS1.2", sz);
    snprintf(rrecv->note, sizeof(rrecv->note), "%s %s open, %s writes", aead_name(aead),
             version == 0x0304 ? "TLS1.3" : "TLS1.2", sz);
}

/* ------------------------------------------------------------------ primitives */

/* ML-KEM-768 and X25519 alone, as hasp calls them (src/crypto/):
 * operations per second of thread CPU time, the median of the runs. */
enum { PRIM_KEYGEN, PRIM_ENCAPS, PRIM_DECAPS, PRIM_X25519 };

static int prim_one(int which, uint8_t *ek, uint8_t *dk, uint8_t *ct, const uint8_t *xpeer)
{
    uint8_t ss[64], pub[32];
    size_t n = 0;
    switch (which) {
    case PRIM_KEYGEN:
        return hasp_mlkem_keygen(HASP_MLKEM768, ek, dk);
    case PRIM_ENCAPS:
        return hasp_mlkem_encaps(HASP_MLKEM768, ek, HASP_MLKEM768_EK_LEN, ct, ss);
    case PRIM_DECAPS:
        return hasp_mlkem_decaps_own(HASP_MLKEM768, dk, HASP_MLKEM768_DK_LEN, ct,
                                     HASP_MLKEM768_CT_LEN, ss);
    default: {
        /* one side of an X25519 exchange: keygen (with the public value
         * read out) and derive with the peer's value */
        hasp_kex *k = hasp_kex_new(HASP_GROUP_X25519);
        int rc = k ? hasp_kex_public(k, pub, sizeof(pub), &n) : -1;
        if (rc == 0) rc = hasp_kex_derive(k, xpeer, 32, ss, sizeof(ss), &n);
        hasp_kex_free(k);
        return rc;
    }
    }
}

static void bench_prims(floor_ctx *fl)
{
    static const char *names[4] = {"mlkem768-keygen", "mlkem768-encaps", "mlkem768-decaps",
                                   "x25519-kex"};
    static const char *sides[4] = {"client", "server", "client", "one side"};
    static const char *notes_[4] = {
        "hasp's ML-KEM (FIPS 203 KeyGen, d and z from the DRBG)",
        "with the FIPS 203 7.2 key check and H(ek); m from the DRBG",
        "a key pair of this process (no 7.3 hash check), implicit rejection",
        "hasp_kex: keygen + public value + derive; floor: floor.c's EVP path"};
    static uint8_t ek[HASP_MLKEM768_EK_LEN], dk[HASP_MLKEM768_DK_LEN], ct[HASP_MLKEM768_CT_LEN];
    uint8_t xpeer[32], ss[32];
    size_t n = 0;
    hasp_kex *peer = hasp_kex_new(HASP_GROUP_X25519);
    int ok = peer && hasp_kex_public(peer, xpeer, sizeof(xpeer), &n) == 0 &&
             hasp_mlkem_keygen(HASP_MLKEM768, ek, dk) == 0 &&
             hasp_mlkem_encaps(HASP_MLKEM768, ek, sizeof(ek), ct, ss) == 0;
    hasp_kex_free(peer);
    progress("primitives");
    for (int w = 0; w < 4; w++) {
        row *r = add_row(names[w], sides[w], "ops/s");
        snprintf(r->note, sizeof(r->note), "%s", notes_[w]);
        double v[16], fv[16];
        int nv = 0, nf = 0;
        for (int run = 0; ok && run < opt.runs; run++) {
            double c0 = cpu_seconds(), t0 = now_seconds();
            long k = 0;
            do {
                for (int i = 0; ok && i < 16; i++)
                    ok = prim_one(w, ek, dk, ct, xpeer) == 0;
                k += 16;
            } while (ok && now_seconds() - t0 < opt.run_time / 2);
            v[nv++] = (double)k / (cpu_seconds() - c0);
            if (w == PRIM_X25519 && fl) {
                c0 = cpu_seconds();
                t0 = now_seconds();
                k = 0;
                do {
                    for (int i = 0; ok && i < 16; i++)
                        ok = floor_x25519_pair(fl) == 0;
                    k += 16;
                } while (ok && now_seconds() - t0 < opt.run_time / 2);
                fv[nf++] = (double)k / (cpu_seconds() - c0);
            }
        }
        if (!ok) {
            add_note("%s: %s", names[w], hasp_err_last()->msg);
            continue;
        }
        r->hasp = median(v, nv);
        if (nf) r->floor = median(fv, nf);
    }
}

/* Issue 19's lower floor: X25519 key generation as libcrypto does it
 * (EVP_PKEY_keygen, a kept context, the public value read out) against the
 * route through Ed25519's fixed-base multiplication (floor.c), checked bit
 * for bit on 10,000 random keys first. hasp's column: hasp_kex_new and the
 * public value, what a handshake does. */
static void bench_x25519_keygen(floor_ctx *fl)
{
    row *r = add_row("x25519-keygen", "one side", "ops/s");
    row *e = add_row("x25519-keygen-ed", "one side", "ops/s");
    progress("x25519-keygen");
    int equal = floor_x25519_ed_check(10000);
    snprintf(r->note, sizeof(r->note), "hasp_kex_new + public value; floor: EVP_PKEY_keygen");
    snprintf(e->note, sizeof(e->note),
             "floor: Ed25519 seed -> y -> u=(1+y)/(1-y); equal to EVP on 10,000 random keys: %s",
             equal ? "yes" : "NO");
    double hv[16], pv[16], ev[16];
    int ok = fl != NULL;
    for (int run = 0; ok && run < opt.runs; run++) {
        for (int w = 0; ok && w < 3; w++) {
            double c0 = cpu_seconds(), t0 = now_seconds();
            long k = 0;
            do {
                for (int i = 0; ok && i < 16; i++) {
                    if (w == 0) {
                        uint8_t pub[32];
                        size_t n = 0;
                        hasp_kex *x = hasp_kex_new(HASP_GROUP_X25519);
                        ok = x && hasp_kex_public(x, pub, sizeof(pub), &n) == 0;
                        hasp_kex_free(x);
                    } else if (w == 1) {
                        ok = floor_x25519_keygen_plain(fl) == 0;
                    } else {
                        uint8_t pub[32], priv[32];
                        EVP_PKEY *pair = NULL;
                        ok = floor_x25519_keygen_ed(pub, priv, &pair) == 0;
                        EVP_PKEY_free(pair);
                        OPENSSL_cleanse(priv, sizeof(priv));
                    }
                }
                k += 16;
            } while (ok && now_seconds() - t0 < opt.run_time / 3);
            double v = (double)k / (cpu_seconds() - c0);
            (w == 0 ? hv : w == 1 ? pv : ev)[run] = v;
        }
    }
    if (!ok) {
        add_note("%s: %s", "x25519-keygen", "a key generation failed");
        return;
    }
    r->hasp = median(hv, opt.runs);
    r->floor = median(pv, opt.runs);
    e->floor = median(ev, opt.runs);
    if (!equal) e->floor = NAN;
}

/* ------------------------------------------------------------------ memory */

static const char *dump_lib;

/* --memdump: where the idle connections' bytes are, once per library. */
static void dump_idle(void)
{
    for (int s = SIDE_CLIENT; s <= SIDE_SERVER; s++) {
        fprintf(stderr, "%s %s, idle after the handshake:\n", dump_lib,
                s == SIDE_CLIENT ? "client" : "server");
        mem_dump(stderr, s);
    }
    mem_idle_hook = NULL;
}

static void bench_memory(const hs_case *hc, const bench_pki *pki)
{
    const bench_lib *libs[2] = {&lib_hasp, &lib_ossl};
    row *ri[2], *rp[2];
    ri[0] = add_row("memory-idle", "client", "bytes");
    ri[1] = add_row("memory-idle", "server", "bytes");
    rp[0] = add_row("memory-peak", "client", "bytes");
    rp[1] = add_row("memory-peak", "server", "bytes");
    for (int i = 0; i < 2; i++) {
        ri[i]->lower_is_better = rp[i]->lower_is_better = 1;
        snprintf(ri[i]->note, sizeof(ri[i]->note), "%s, after the handshake", hc->name);
        snprintf(rp[i]->note, sizeof(rp[i]->note), "%s, conn_new to handshake done", hc->name);
    }
    progress("memory");
    for (int l = 0; l < 2; l++) {
        char why[512];
        void *x = libs[l]->hs_new(hc, pki, why, sizeof(why));
        int ok = x != NULL;
        for (int w = 0; ok && w < 3; w++)
            ok = libs[l]->hs_one(x, why, sizeof(why)) == 0;
        double idle[2][16], peak[2][16];
        int runs = 3;
        if (opt.memdump) {
            dump_lib = libs[l]->name;
            mem_idle_hook = dump_idle;
        }
        for (int r = 0; ok && r < runs; r++) {
            mem_track_start();
            ok = libs[l]->hs_one(x, why, sizeof(why)) == 0;
            mem_track_stop();
            if (mem_overflowed()) {
                snprintf(why, sizeof(why), "the allocation table overflowed");
                ok = 0;
            }
            for (int s = 0; s < 2; s++) {
                int side = s == 0 ? SIDE_CLIENT : SIDE_SERVER;
                idle[s][r] = (double)mem_idle(side);
                peak[s][r] = (double)mem_peak(side);
            }
        }
        if (!ok) add_note("memory: %s%s", why, "");
        for (int s = 0; ok && s < 2; s++) {
            double vi = median(idle[s], runs), vp = median(peak[s], runs);
            *(l == 0 ? &ri[s]->hasp : &ri[s]->ossl) = vi;
            *(l == 0 ? &rp[s]->hasp : &rp[s]->ossl) = vp;
        }
        libs[l]->hs_free(x);
    }
}

/* What a resumable session costs to keep: the heap one more entry in the
 * server's session cache holds (TLS 1.2, session IDs, a full handshake
 * whose session the cache keeps), and the heap the client's session object
 * with a TLS 1.3 ticket holds. Bytes still allocated, on that side's
 * behalf, once the connection is freed. */
static void bench_memory_sessions(const bench_pki *pki)
{
    static const hs_case fill = {"memory-cache-entry", 0x0303, CERT_ECDSA, RESUME_FILL, 0};
    const hs_case *cases[2] = {&fill, &hs_cases[6]}; /* tls13-resume */
    static const char *names[2] = {"memory-cache-entry", "memory-ticket"};
    static const char *notes_[2] = {"TLS 1.2 server session cache, one more entry",
                                    "TLS 1.3 client session with its ticket"};
    const int sides[2] = {SIDE_SERVER, SIDE_CLIENT};
    const bench_lib *libs[2] = {&lib_hasp, &lib_ossl};
    progress("memory (sessions)");
    for (int c = 0; c < 2; c++) {
        row *r = add_row(names[c], sides[c] == SIDE_SERVER ? "server" : "client", "bytes");
        r->lower_is_better = 1;
        snprintf(r->note, sizeof(r->note), "%s", notes_[c]);
        for (int l = 0; l < 2; l++) {
            char why[512];
            void *x = libs[l]->hs_new(cases[c], pki, why, sizeof(why));
            int ok = x != NULL;
            for (int w = 0; ok && w < 3; w++)
                ok = libs[l]->hs_one(x, why, sizeof(why)) == 0;
            double v[3];
            for (int k = 0; ok && k < 3; k++) {
                mem_track_start();
                ok = libs[l]->hs_one(x, why, sizeof(why)) == 0;
                mem_track_stop();
                v[k] = (double)mem_live(sides[c]);
                if (mem_overflowed()) ok = 0;
            }
            if (ok)
                *(l == 0 ? &r->hasp : &r->ossl) = median(v, 3);
            else
                add_note("%s: %s", names[c], why);
            libs[l]->hs_free(x);
        }
    }
}

/* ------------------------------------------------------------------ output */

static void machine(char *out, size_t cap)
{
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 1 + strspn(p + 1, " \t");
                p[strcspn(p, "\n")] = 0;
                snprintf(model, sizeof(model), "%s", p);
            }
            break;
        }
    }
    if (f) fclose(f);
    struct utsname u;
    if (uname(&u) != 0) snprintf(u.release, sizeof(u.release), "?");
    snprintf(out, cap, "%s, %ld cores, Linux %s, %s, hasp %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             u.release, OpenSSL_version(OPENSSL_VERSION), HASP_VERSION_STRING);
}

static double ratio(const row *r)
{
    if (isnan(r->hasp) || isnan(r->ossl) || r->hasp <= 0 || r->ossl <= 0) return NAN;
    return r->lower_is_better ? r->ossl / r->hasp : r->hasp / r->ossl;
}

static void json_num(double v, int integer)
{
    if (isnan(v))
        printf("null");
    else if (integer || fabs(v) >= 100)
        printf("%.0f", v);
    else
        printf("%.3f", v);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json(const char *mach)
{
    printf("{\"machine\": ");
    json_str(mach);
    printf(", \"rows\": [");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        int integer = r->lower_is_better;
        printf("%s\n  {\"case\": \"%s\", \"side\": \"%s\", \"unit\": \"%s\", \"hasp\": ",
               i ? "," : "", r->name, r->side, r->unit);
        json_num(r->hasp, integer);
        printf(", \"openssl\": ");
        json_num(r->ossl, integer);
        printf(", \"ratio\": ");
        json_num(ratio(r), 0);
        printf(", \"floor\": ");
        json_num(r->floor, 0);
        printf(", \"floor_plain\": ");
        json_num(r->plain, 0);
        printf("}");
    }
    printf("\n]}\n");
}

static void fmt(char *b, size_t cap, double v, int integer)
{
    if (isnan(v))
        snprintf(b, cap, "n/a");
    else if (integer)
        snprintf(b, cap, "%.0f", v);
    else
        snprintf(b, cap, v >= 100 ? "%.0f" : "%.1f", v);
}

static void target(const char *what, const row *r, double want, int vs_floor)
{
    double v = NAN;
    if (r) v = vs_floor ? (isnan(r->hasp) || isnan(r->floor) ? NAN : r->floor / r->hasp) : ratio(r);
    const char *verdict = isnan(v)   ? "n/a"
                          : vs_floor ? (v <= want ? "met" : "NOT met")
                                     : (v >= want ? "met" : "NOT met");
    if (isnan(v))
        printf("  %-64s %8s  %s\n", what, "n/a", verdict);
    else
        printf("  %-64s %7.2fx  %s\n", what, v, verdict);
}

/* hasp at >= min_pct of the row's floor */
static void target_floor(const char *what, const row *r, double min_pct)
{
    double v =
        r && !isnan(r->hasp) && !isnan(r->floor) && r->floor > 0 ? 100 * r->hasp / r->floor : NAN;
    if (isnan(v))
        printf("  %-64s %8s  n/a\n", what, "n/a");
    else
        printf("  %-64s %7.0f%%  %s\n", what, v, v >= min_pct ? "met" : "NOT met");
}

static const row *find_row(const char *name, const char *side)
{
    for (size_t i = 0; i < nrows; i++)
        if (!strcmp(rows[i].name, name) && !strcmp(rows[i].side, side)) return &rows[i];
    return NULL;
}

static void print_table(const char *mach)
{
    printf("hasp-bench: %s\n", mach);
    printf("in memory, one thread; medians of %d runs of %.2f s; ratio = hasp's advantage "
           "(memory: OpenSSL/hasp); timer cost taken off per timed call: %.0f ns\n"
           "floor: the case's crypto at its cheapest (hasp's floor); plain: the same crypto "
           "with libcrypto called plainly (EVP, a context per operation)\n\n",
           opt.runs, opt.run_time, side_pair_cost() * 1e9);
    printf("%-20s %-6s %-12s %10s %10s %7s %10s %6s %8s  %s\n", "case", "side", "unit", "hasp",
           "OpenSSL", "ratio", "floor", "%floor", "plain", "floor operations / notes");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        char h[32], o[32], ra[32], fl[32], pct[32], pl[32];
        fmt(h, sizeof(h), r->hasp, r->lower_is_better);
        fmt(o, sizeof(o), r->ossl, r->lower_is_better);
        double q = ratio(r);
        if (isnan(q))
            snprintf(ra, sizeof(ra), "n/a");
        else
            snprintf(ra, sizeof(ra), "%.2fx", q);
        if (r->lower_is_better)
            snprintf(fl, sizeof(fl), "-");
        else
            fmt(fl, sizeof(fl), r->floor, 0);
        if (isnan(r->hasp) || isnan(r->floor) || r->floor <= 0)
            snprintf(pct, sizeof(pct), "-");
        else
            snprintf(pct, sizeof(pct), "%.0f%%", 100 * r->hasp / r->floor);
        if (isnan(r->plain))
            snprintf(pl, sizeof(pl), "-");
        else
            fmt(pl, sizeof(pl), r->plain, 0);
        printf("%-20s %-6s %-12s %10s %10s %7s %10s %6s %8s  %s\n", r->name, r->side, r->unit, h, o,
               ra, fl, pct, pl, r->note);
    }
    if (nnotes) {
        printf("\nn/a and failures:\n");
        for (size_t i = 0; i < nnotes; i++)
            printf("  %s\n", notes[i]);
    }
    static const char *hs_sides[2] = {"client", "server"};
    char what[128];
    printf("\ntargets (issue 19; %%floor = hasp / floor):\n");
    static const char *full[4] = {"tls13-ecdsa-full", "tls13-rsa-full", "tls12-ecdsa-full",
                                  "tls12-rsa-full"};
    for (int i = 0; i < 4; i++)
        for (int s = 0; s < 2; s++) {
            snprintf(what, sizeof(what), "%s, %s >= 90%% of its floor", full[i], hs_sides[s]);
            target_floor(what, find_row(full[i], hs_sides[s]), 90);
        }
    static const char *resumes[3] = {"tls13-resume", "tls12-resume-id", "tls12-resume-ticket"};
    static const double resume_min[3] = {90, 40, 40};
    for (int i = 0; i < 3; i++)
        for (int s = 0; s < 2; s++) {
            snprintf(what, sizeof(what), "%s, %s >= %.0f%% of its floor", resumes[i], hs_sides[s],
                     resume_min[i]);
            target_floor(what, find_row(resumes[i], hs_sides[s]), resume_min[i]);
        }
    static const char *bulk_sides[2] = {"send", "recv"};
    for (int z = 0; z < 3; z++)
        for (int i = 0; i < 3; i++)
            for (int s = 0; s < 2; s++) {
                double min = z == 0 ? 98 : 90;
                snprintf(what, sizeof(what), "%s, %s >= %.0f%% of raw AEAD", bulk_name(i, z),
                         bulk_sides[s], min);
                target_floor(what, find_row(bulk_name(i, z), bulk_sides[s]), min);
            }
    for (int s = 0; s < 2; s++) {
        snprintf(what, sizeof(what), "memory-idle, %s: OpenSSL/hasp >= 8", hs_sides[s]);
        target(what, find_row("memory-idle", hs_sides[s]), 8, 0);
    }
    const row *xk = find_row("x25519-keygen", "one side"),
              *xe = find_row("x25519-keygen-ed", "one side");
    if (xk && xe && !isnan(xk->floor) && !isnan(xe->floor))
        printf("  %-64s %7.2fx  %s\n", "X25519 keygen: Ed25519 route / EVP_PKEY_keygen (rate)",
               xe->floor / xk->floor,
               xe->floor > xk->floor ? "faster: worth using" : "slower: not used");
    else
        printf("  %-64s %8s  n/a\n", "X25519 keygen: Ed25519 route / EVP_PKEY_keygen (rate)",
               "n/a");
    printf("\ntargets (issue 16):\n");
    for (int s = 0; s < 2; s++) {
        snprintf(what, sizeof(what), "tls13-ecdsa-mlkem, %s at >= 0.85 of its floor (floor/hasp)",
                 hs_sides[s]);
        target(what, find_row("tls13-ecdsa-mlkem", hs_sides[s]), 1 / 0.85, 1);
    }
    const row *kg = find_row("mlkem768-keygen", "client"),
              *en = find_row("mlkem768-encaps", "server"),
              *de = find_row("mlkem768-decaps", "client"), *x = find_row("x25519-kex", "one side");
    if (kg && en && de && x && !isnan(kg->hasp) && !isnan(en->hasp) && !isnan(de->hasp) &&
        !isnan(x->hasp)) {
        /* microseconds: a whole ML-KEM exchange (both parties) against a
         * whole X25519 exchange (both parties: two keygens, two derives) */
        double m = 1e6 / kg->hasp + 1e6 / en->hasp + 1e6 / de->hasp, xx = 2e6 / x->hasp;
        printf("  %-64s %7.2fx  %s\n",
               "ML-KEM-768 keygen+encaps+decaps under one X25519 exchange (x/mlkem)", xx / m,
               m < xx ? "met" : "NOT met");
        printf("    (ML-KEM-768 keygen+encaps+decaps %.1f us; X25519 exchange, both parties %.1f "
               "us, one side %.1f us)\n",
               m, xx, xx / 2);
    } else {
        printf("  %-64s %8s  n/a\n",
               "ML-KEM-768 keygen+encaps+decaps under one X25519 exchange (x/mlkem)", "n/a");
    }
}

/* ------------------------------------------------------------------ --instr */

static int instr_mode(const bench_pki *pki)
{
    const bench_lib *lib = strcmp(opt.instr_lib, "openssl") == 0 ? &lib_ossl : &lib_hasp;
    char why[512];
    const hs_case *hc = NULL;
    int aead = -1;
    size_t blen = BULK_LEN;
    for (size_t i = 0; i < N_HS; i++)
        if (!strcmp(hs_cases[i].name, opt.instr)) hc = &hs_cases[i];
    for (int i = 0; i < 3; i++)
        for (int z = 0; z < 3; z++)
            if (!strcmp(bulk_name(i, z), opt.instr)) {
                aead = i;
                blen = bulk_sizes[z];
            }
    if (!hc && aead < 0) {
        fprintf(stderr, "hasp-bench: unknown case '%s'\n", opt.instr);
        return 1;
    }
    void *x = hc ? lib->hs_new(hc, pki, why, sizeof(why))
                 : lib->bulk_new(aead, bulk_version(pki), pki, why, sizeof(why));
    uint8_t *buf = calloc(1, BULK_LEN), *rbuf = calloc(1, BULK_LEN);
    int ok = x != NULL;
    for (int w = 0; ok && w < 3; w++)
        ok = (hc ? lib->hs_one(x, why, sizeof(why))
                 : lib->bulk_one(x, buf, blen, rbuf, why, sizeof(why))) == 0;
    if (!ok) {
        printf("n/a: %s\n", why);
        return 2;
    }
    CALLGRIND_START_INSTRUMENTATION;
    for (int s = SIDE_CLIENT; ok && s <= SIDE_SERVER; s++) {
        side_set_instr(s);
        for (int i = 0; ok && i < opt.instr_n; i++)
            ok = (hc ? lib->hs_one(x, why, sizeof(why))
                     : lib->bulk_one(x, buf, blen, rbuf, why, sizeof(why))) == 0;
        side_set_instr(0);
        if (s == SIDE_CLIENT)
            CALLGRIND_DUMP_STATS_AT("client");
        else
            CALLGRIND_DUMP_STATS_AT("server");
    }
    if (hc)
        lib->hs_free(x);
    else
        lib->bulk_free(x);
    free(buf);
    free(rbuf);
    if (!ok) {
        printf("failed: %s\n", why);
        return 1;
    }
    printf("%s %s n=%d\n", opt.instr, lib->name, opt.instr_n);
    return 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (mem_install() < 0) {
        fprintf(stderr, "hasp-bench: CRYPTO_set_mem_functions failed (libcrypto allocated "
                        "before main)\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            opt.quick = 1;
        else if (!strcmp(a, "--json"))
            opt.json = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
            opt.verbose = 1;
        else if (!strcmp(a, "--memdump"))
            opt.memdump = 1;
        else if (!strcmp(a, "--runs") && v)
            opt.runs = atoi(argv[++i]);
        else if (!strcmp(a, "--time") && v)
            opt.run_time = atof(argv[++i]);
        else if (!strcmp(a, "--only") && v)
            opt.only = argv[++i];
        else if (!strcmp(a, "--instr") && v)
            opt.instr = argv[++i];
        else if (!strcmp(a, "--lib") && v)
            opt.instr_lib = argv[++i];
        else if (!strcmp(a, "--n") && v)
            opt.instr_n = atoi(argv[++i]);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 1;
        }
    }
    bench_verbose = opt.verbose;
    if (opt.runs <= 0) opt.runs = opt.quick ? 3 : 5;
    if (opt.runs > 15) opt.runs = 15;
    if (opt.run_time <= 0) opt.run_time = opt.quick ? 0.15 : 1.0;

    /* --instr needs only its case's chain (RSA key generation is slow
     * under valgrind). */
    int which = 3;
    for (size_t i = 0; opt.instr && i < N_HS; i++)
        if (!strcmp(hs_cases[i].name, opt.instr)) which = 1 << hs_cases[i].cert;
    if (opt.instr && which == 3) which = 1 << CERT_ECDSA; /* bulk */
    bench_pki pki;
    if (pki_generate(&pki, which) < 0) {
        fprintf(stderr, "hasp-bench: could not generate the test certificates\n");
        return 1;
    }
    if (opt.instr) {
        int rc = instr_mode(&pki);
        pki_free(&pki);
        return rc;
    }

    floor_ctx *fl = floor_new(&pki);
    if (!fl) fprintf(stderr, "hasp-bench: the crypto floor cannot be measured\n");
    side_calibrate();
    double t0 = now_seconds();
    for (size_t i = 0; i < N_HS; i++)
        if (wanted(hs_cases[i].name)) bench_hs(&hs_cases[i], &pki, fl);
    if (wanted("mlkem768") || wanted("x25519-kex")) bench_prims(fl);
    if (wanted("x25519-keygen")) bench_x25519_keygen(fl);
    uint16_t bv = bulk_version(&pki);
    for (int z = 0; z < 3; z++)
        for (int a = 0; a < 3; a++)
            if (wanted(bulk_name(a, z))) bench_bulk(a, z, bv, &pki, fl);
    if (wanted("memory-idle") || wanted("memory-peak")) {
        /* The memory case: TLS 1.3 ECDSA when hasp has TLS 1.3, else 1.2. */
        char why[512];
        void *x = lib_hasp.hs_new(&hs_cases[0], &pki, why, sizeof(why));
        lib_hasp.hs_free(x);
        bench_memory(x ? &hs_cases[0] : &hs_cases[2], &pki);
    }
    if (wanted("memory-cache-entry") || wanted("memory-ticket")) bench_memory_sessions(&pki);
    if (isatty(2)) fprintf(stderr, "%-26s\r", "");
    char mach[512];
    machine(mach, sizeof(mach));
    if (opt.json)
        print_json(mach);
    else {
        print_table(mach);
        printf("\n(%.1f s)\n", now_seconds() - t0);
    }
    floor_free(fl);
    pki_free(&pki);
    return 0;
}
