/* See fuzz_common.h. */
#define OPENSSL_SUPPRESS_DEPRECATED /* RAND_METHOD: the one way to replace every RNG draw */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#ifndef HASP_FUZZ_DATA
#define HASP_FUZZ_DATA "tests/fuzz/data"
#endif

/* ------------------------------------------------------------------ RNG */

static uint64_t rng_ctr[2];
static int rng_stream;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int fz_rand_bytes(unsigned char *buf, int num)
{
    for (int i = 0; i < num; i += 8) {
        uint64_t v = mix64(++rng_ctr[rng_stream] * 0x9e3779b97f4a7c15ULL +
                           (rng_stream ? 0x5555aaaa5555aaaaULL : 0x1234567890abcdefULL));
        for (int j = 0; j < 8 && i + j < num; j++)
            buf[i + j] = (unsigned char)(v >> (8 * j));
    }
    return 1;
}

static int fz_rand_status(void)
{
    return 1;
}

static int fz_rand_seed(const void *buf, int num)
{
    (void)buf;
    (void)num;
    return 1;
}

static int fz_rand_add(const void *buf, int num, double entropy)
{
    (void)buf;
    (void)num;
    (void)entropy;
    return 1;
}

static RAND_METHOD fz_rand_method = {
    fz_rand_seed, fz_rand_bytes, NULL, fz_rand_add, fz_rand_bytes, fz_rand_status,
};

void fz_rng_install(void)
{
    if (RAND_set_rand_method(&fz_rand_method) != 1) {
        fprintf(stderr, "fuzz: cannot install the deterministic RNG\n");
        abort();
    }
    fz_rng_reset();
}

void fz_rng_reset(void)
{
    rng_ctr[0] = rng_ctr[1] = 0;
    rng_stream = 0;
}

void fz_rng_select(int stream)
{
    rng_stream = stream ? 1 : 0;
}

/* ------------------------------------------------------------------ configs */

const char *fz_data_path(const char *name)
{
    static char buf[4][1024];
    static int slot;
    const char *dir = getenv("HASP_FUZZ_DATA");
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", dir ? dir : HASP_FUZZ_DATA, name);
    return buf[slot];
}

void fz_check(int rc, hasp_config *cfg, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "fuzz: %s: %s\n", what, hasp_config_errmsg(cfg));
        exit(2);
    }
}

#define FZ_GROUPS "x25519:P-256:P-384:ffdhe2048:ffdhe3072"

int64_t fz_clock(void *arg)
{
    (void)arg;
    return FZ_CLOCK;
}

hasp_config *fz_server_config(int client_auth)
{
    hasp_config *cfg = hasp_config_new();
    fz_check(hasp_config_add_cert_key_file(cfg, fz_data_path("rsa.pem"), fz_data_path("rsa.key")),
             cfg, "RSA certificate");
    fz_check(
        hasp_config_add_cert_key_file(cfg, fz_data_path("ecdsa.pem"), fz_data_path("ecdsa.key")),
        cfg, "ECDSA certificate");
    fz_check(hasp_config_set_ciphers(cfg, "ALL"), cfg, "ciphers");
    fz_check(hasp_config_set_groups(cfg, FZ_GROUPS), cfg, "groups");
    fz_check(hasp_config_set_alpn(cfg, "h2,http/1.1"), cfg, "alpn");
    fz_check(hasp_config_set_ca_file(cfg, fz_data_path("ca.pem")), cfg, "CA");
    hasp_config_set_verify_time(cfg, FZ_VERIFY_TIME);
    hasp_config_set_time_cb(cfg, fz_clock, NULL);
    /* No session cache: what one input leaves there would change how the
     * next one runs. Tickets (stateless, under a ticket key drawn from the
     * deterministic RNG when the config is made) still resume. */
    hasp_config_set_session_cache(cfg, 0, 0);
    /* 0-RTT and both PSK modes: their paths (early_data offered, refused and
     * skipped; psk_ke) are reachable from hostile ClientHellos. */
    fz_check(hasp_config_set_early_data(cfg, 4096), cfg, "early data");
    fz_check(hasp_config_set_psk_modes(cfg, HASP_PSK_KE | HASP_PSK_DHE_KE), cfg, "psk modes");
    if (client_auth)
        fz_check(hasp_config_set_verify_client(cfg, HASP_VERIFY_CLIENT_OPTIONAL), cfg,
                 "verify client");
    return cfg;
}

hasp_config *fz_client_config(void)
{
    hasp_config *cfg = hasp_config_new();
    fz_check(hasp_config_set_ca_file(cfg, fz_data_path("ca.pem")), cfg, "CA");
    fz_check(hasp_config_add_cert_key_file(cfg, fz_data_path("client-rsa.pem"),
                                           fz_data_path("client-rsa.key")),
             cfg, "client certificate");
    fz_check(hasp_config_set_ciphers(cfg, "ALL"), cfg, "ciphers");
    fz_check(hasp_config_set_groups(cfg, FZ_GROUPS), cfg, "groups");
    fz_check(hasp_config_set_alpn(cfg, "h2,http/1.1"), cfg, "alpn");
    hasp_config_set_verify_time(cfg, FZ_VERIFY_TIME);
    hasp_config_set_time_cb(cfg, fz_clock, NULL);
    return cfg;
}

/* ------------------------------------------------------------------ engine */

static void drain(hasp_conn *c)
{
    const uint8_t *p;
    size_t n = hasp_conn_output(c, &p);
    hasp_conn_output_done(c, n);
}

void fz_run(hasp_conn *c, const uint8_t *data, size_t size, int stream, fz_outcome *out)
{
    static uint8_t buf[20000];
    uint32_t seed = (uint32_t)size * 2654435761u + 1;
    size_t off = 0;
    int eof = 0, wrote = 0, rc = HASP_WANT_POLLIN;
    memset(out, 0, sizeof(*out));
    fz_rng_select(stream);
    for (int round = 0;; round++) {
        size_t taken = 0;
        if (off < size) {
            /* Mostly whole chunks, sometimes a few bytes: record and
             * message boundaries fall at many places. */
            seed = seed * 1103515245u + 12345u;
            size_t want = (seed >> 16) % 8 == 0 ? 1 + (seed >> 20) % 7 : 1 + (seed >> 8) % 6000;
            if (want > size - off) want = size - off;
            int n = hasp_conn_input(c, data + off, want);
            if (n > 0) {
                off += (size_t)n;
                taken = (size_t)n;
            }
        } else if (!eof) {
            hasp_conn_input_eof(c);
            eof = 1;
        }
        if (!hasp_conn_handshake_done(c)) {
            rc = hasp_conn_handshake(c);
            out->handshake_rc = rc;
        } else {
            rc = 0;
        }
        if (rc == 0) {
            out->handshake_done = 1;
            for (int i = 0; i < 64; i++) {
                rc = hasp_conn_read(c, buf, sizeof(buf));
                if (rc <= 0) break;
                out->app_bytes += (size_t)rc;
            }
            if (rc == 0) out->closed = 1;
            if (!wrote && rc == HASP_WANT_POLLIN) {
                static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
                hasp_conn_write(c, reply, sizeof(reply) - 1);
                wrote = 1;
            }
        }
        drain(c);
        if (rc != HASP_WANT_POLLIN) break; /* done (0: close_notify), or an error */
        if (eof) break;
        if (off < size && taken == 0) {
            fprintf(stderr,
                    "fuzz: the engine stalled: it wants input but takes none (%zu of %zu bytes "
                    "fed, %zu pending)\n",
                    off, size, hasp_conn_pending(c));
            abort();
        }
        if (round > 100000) {
            fprintf(stderr, "fuzz: no end after %d rounds\n", round);
            abort();
        }
    }
    /* Exercise the getters and the close path too. */
    (void)hasp_conn_version_name(c);
    (void)hasp_conn_cipher_name(c);
    (void)hasp_conn_group_name(c);
    (void)hasp_conn_sigalg_name(c);
    (void)hasp_conn_alpn(c);
    (void)hasp_conn_servername(c);
    (void)hasp_conn_verify_result(c);
    (void)hasp_conn_errmsg(c);
    hasp_conn_close(c);
    drain(c);
    out->err = hasp_conn_error(c);
}

/* ------------------------------------------------------------------ records */

int fz_rec_setup(int mode, hasp_rec_prot *tx, hasp_rec_prot *rx)
{
    static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    static const uint8_t iv[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                                   0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};
    static const uint8_t mk[48] = {0x55, 0x54, 0x57, 0x56, 0x51, 0x50, 0x53, 0x52, 0x5d, 0x5c,
                                   0x5f, 0x5e, 0x59, 0x58, 0x5b, 0x5a, 0x45, 0x44, 0x47, 0x46,
                                   0x41, 0x40, 0x43, 0x42, 0x4d, 0x4c, 0x4f, 0x4e, 0x49, 0x48,
                                   0x4b, 0x4a, 0x75, 0x74, 0x77, 0x76, 0x71, 0x70, 0x73, 0x72,
                                   0x7d, 0x7c, 0x7f, 0x7e, 0x79, 0x78, 0x7b, 0x7a};
    memset(tx, 0, sizeof(*tx));
    memset(rx, 0, sizeof(*rx));
    int rc = 0;
    switch (mode) {
    case FZ_REC_NULL:
        return 0;
    case FZ_REC_GCM12:
        rc = hasp_rec_prot_aead12(tx, HASP_AEAD_AES128GCM, key, iv, 4, 1);
        return rc ? rc : hasp_rec_prot_aead12(rx, HASP_AEAD_AES128GCM, key, iv, 4, 0);
    case FZ_REC_CHACHA12:
        rc = hasp_rec_prot_aead12(tx, HASP_AEAD_CHACHA20POLY1305, key, iv, 12, 1);
        return rc ? rc : hasp_rec_prot_aead12(rx, HASP_AEAD_CHACHA20POLY1305, key, iv, 12, 0);
    case FZ_REC_GCM13:
        rc = hasp_rec_prot_aead13(tx, HASP_AEAD_AES256GCM, key, iv, 1);
        return rc ? rc : hasp_rec_prot_aead13(rx, HASP_AEAD_AES256GCM, key, iv, 0);
    case FZ_REC_CHACHA13:
        rc = hasp_rec_prot_aead13(tx, HASP_AEAD_CHACHA20POLY1305, key, iv, 1);
        return rc ? rc : hasp_rec_prot_aead13(rx, HASP_AEAD_CHACHA20POLY1305, key, iv, 0);
    case FZ_REC_CBC_SHA1:
        rc = hasp_rec_prot_cbc(tx, HASP_CBC_AES128, key, HASP_HASH_SHA1, mk, 20, 0, 1);
        return rc ? rc : hasp_rec_prot_cbc(rx, HASP_CBC_AES128, key, HASP_HASH_SHA1, mk, 20, 0, 0);
    case FZ_REC_CBC_SHA256:
        rc = hasp_rec_prot_cbc(tx, HASP_CBC_AES256, key, HASP_HASH_SHA256, mk, 32, 0, 1);
        return rc ? rc
                  : hasp_rec_prot_cbc(rx, HASP_CBC_AES256, key, HASP_HASH_SHA256, mk, 32, 0, 0);
    case FZ_REC_CBC_ETM:
        rc = hasp_rec_prot_cbc(tx, HASP_CBC_AES128, key, HASP_HASH_SHA256, mk, 32, 1, 1);
        return rc ? rc
                  : hasp_rec_prot_cbc(rx, HASP_CBC_AES128, key, HASP_HASH_SHA256, mk, 32, 1, 0);
    case FZ_REC_CBC_3DES:
        rc = hasp_rec_prot_cbc(tx, HASP_CBC_3DES, key, HASP_HASH_SHA1, mk, 20, 0, 1);
        return rc ? rc : hasp_rec_prot_cbc(rx, HASP_CBC_3DES, key, HASP_HASH_SHA1, mk, 20, 0, 0);
    default:
        return HASP_ERR_USAGE;
    }
}
