/* Shared pieces of the libFuzzer targets and of the corpus generator:
 * a deterministic RNG, the fixed configs the engine targets use, the
 * fixed record keys, and the loop that feeds a connection arbitrary
 * bytes. Nothing here is part of the library. */
#ifndef HASP_FUZZ_COMMON_H
#define HASP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "hasp.h"
#include "record/record.h"

/* ------------------------------------------------------------------ RNG */

/* Replace OpenSSL's RNG (and so hasp_random, key generation, signature
 * nonces, RSA padding) with a counter-mode generator, so that one input
 * always takes the same path and a recorded peer flight replays: the
 * server's random, its ephemeral key and signatures come out the same
 * each time, so a recorded ClientKeyExchange and Finished still match.
 * Two independent streams, one per role. */
enum { FZ_STREAM_CLIENT = 0, FZ_STREAM_SERVER = 1 };
void fz_rng_install(void);
/* Rewind both streams to their start. */
void fz_rng_reset(void);
/* Draw from this stream until the next select. */
void fz_rng_select(int stream);

/* ------------------------------------------------------------------ configs */

/* The fixed validation time: inside the validity of tests/fuzz/data/. */
#define FZ_VERIFY_TIME INT64_C(1798761600) /* 2027-01-01 00:00:00 UTC */

/* The engine's clock (hasp_config_set_time_cb), stopped: tickets and
 * session lifetimes come out the same on every run. Earlier than any real
 * "now": hasp dates a config's first ticket key with time(NULL), not with
 * this clock, and a clock 12 hours ahead of that would rotate the key at
 * the first ticket, drawing the new key from one input's RNG stream, so
 * that recorded tickets would no longer open in the fuzz target. */
#define FZ_CLOCK INT64_C(1795276800) /* 2026-11-21 16:00:00 UTC */
int64_t fz_clock(void *arg);

/* "<data dir>/name" (the directory is compiled in; HASP_FUZZ_DATA in the
 * environment overrides it). */
const char *fz_data_path(const char *name);

/* The server of the engine targets: RSA and ECDSA certificates, every
 * suite (ALL), every group, ALPN h2/http1.1, and when client_auth is set
 * an optional client certificate checked against data/ca.pem. */
hasp_config *fz_server_config(int client_auth);
/* The client of the client target: trusts data/ca.pem, checks "localhost"
 * at FZ_VERIFY_TIME, every suite and group, ALPN, a client certificate
 * (client-rsa) for servers that ask. */
hasp_config *fz_client_config(void);
/* Exit with a message when a config call failed. */
void fz_check(int rc, hasp_config *cfg, const char *what);

/* ------------------------------------------------------------------ engine */

typedef struct fz_outcome {
    int handshake_rc; /* last hasp_conn_handshake result */
    int handshake_done;
    size_t app_bytes; /* plaintext read */
    int closed;       /* peer close_notify seen */
    int err;          /* hasp_conn_error at the end */
} fz_outcome;

/* Feed a connection the peer bytes in data, in chunks of varying size (a
 * pure function of the input), driving the handshake, reading all
 * plaintext, answering once with a write, discarding output; then signal
 * EOF. Aborts when the engine stalls (wants input but takes none): that
 * would be a hang in a real event loop. `stream` selects the RNG stream
 * for the calls into c. */
void fz_run(hasp_conn *c, const uint8_t *data, size_t size, int stream, fz_outcome *out);

/* ------------------------------------------------------------------ records */

/* The record target's protections: a fixed key per mode, one sending and
 * one receiving side. Returns 0 or an error. */
enum {
    FZ_REC_NULL = 0,
    FZ_REC_GCM12,
    FZ_REC_CHACHA12,
    FZ_REC_GCM13,
    FZ_REC_CHACHA13,
    FZ_REC_CBC_SHA1,   /* AES-128-CBC, HMAC-SHA1, MAC-then-encrypt */
    FZ_REC_CBC_SHA256, /* AES-256-CBC, HMAC-SHA256, MAC-then-encrypt */
    FZ_REC_CBC_ETM,    /* AES-128-CBC, HMAC-SHA256, encrypt-then-MAC */
    FZ_REC_CBC_3DES,   /* 3DES-CBC, HMAC-SHA1, MAC-then-encrypt */
    FZ_REC_MODES
};
int fz_rec_setup(int mode, hasp_rec_prot *tx, hasp_rec_prot *rx);

#endif
