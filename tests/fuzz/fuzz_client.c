/* The whole client engine fed arbitrary bytes after its ClientHello: a
 * fresh hasp_conn per input (server name "localhost", the test root as
 * trust anchor at a fixed time, a client certificate), the deterministic
 * RNG rewound, so that its ClientHello is always the same and the corpus
 * (a hasp server's flights recorded by gen_corpus against exactly this
 * client) replays through certificate verification, the key exchange
 * signature and Finished to application data. */
#include <stdlib.h>

#include "fuzz_common.h"

static hasp_config *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_rng_install();
    cfg = fz_client_config();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_rng_reset();
    hasp_conn *c = hasp_conn_new(cfg, HASP_CLIENT);
    if (!c) abort();
    hasp_conn_set_servername(c, "localhost");
    fz_rng_select(FZ_STREAM_CLIENT);
    if (hasp_conn_handshake(c) != HASP_WANT_POLLIN)
        abort(); /* the ClientHello must always go out */
    fz_outcome o;
    fz_run(c, data, size, FZ_STREAM_CLIENT, &o);
    hasp_conn_free(c);
    return 0;
}
