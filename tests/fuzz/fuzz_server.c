/* The whole server engine fed arbitrary bytes: a fresh hasp_conn per
 * input, a fixed config (RSA and ECDSA certificates, every suite and
 * group, ALPN, optional client certificates), the deterministic RNG
 * rewound, so that the corpus (everything a hasp client sent in a real
 * handshake, recorded by gen_corpus) replays to application data and
 * close_notify. */
#include <stdlib.h>

#include "fuzz_common.h"

static hasp_config *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_rng_install();
    cfg = fz_server_config(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_rng_reset();
    hasp_conn *c = hasp_conn_new(cfg, HASP_SERVER);
    if (!c) abort();
    fz_outcome o;
    fz_run(c, data, size, FZ_STREAM_SERVER, &o);
    hasp_conn_free(c);
    return 0;
}
