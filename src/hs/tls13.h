/* What the files of TLS 1.3 share among themselves (tls13.c, tls13_keys.c,
 * tls13_psk.c, tls13_post.c); the rest of src/hs/ uses hs.h. */
#ifndef HASP_HS_TLS13_H
#define HASP_HS_TLS13_H

#include "hs.h"

/* The key schedule (tls13_keys.c). */
size_t tls13_hash_len(const hasp_conn *c);
const uint8_t *tls13_sched_const(int alg, int derived);
int tls13_install_secret_suite(hasp_conn *c, const hasp_suite *suite, const uint8_t *secret,
                               int write, const char *what);
int tls13_install_secret(hasp_conn *c, const uint8_t *secret, int write, const char *what);
int tls13_derive_handshake_secrets(hasp_conn *c, const uint8_t *shared, size_t shared_len);
int tls13_derive_app_secrets(hasp_conn *c, uint8_t *s_ap);
int tls13_derive_resumption_master(hasp_conn *c);
int tls13_compat_ccs(hasp_conn *c);
int tls13_transcript_hrr_rewrite(hasp_conn *c, size_t tail);

/* PSK and early data (tls13_psk.c). */
int tls13_client_early_rejected(hasp_conn *c, const char *why);
int tls13_server_pick_psk(hasp_conn *c);
int tls13_server_early_decide(hasp_conn *c);
void tls13_server_early_reject(hasp_conn *c, const char *why);

#endif
