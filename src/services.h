/* The services the handshake takes from its connection: events (and
 * their deferral while a handler runs), the clock, randomness and key
 * pairs (through the config, where tests inject them), the NSS key log,
 * and records sealed into the output buffer. Below both the engine
 * (conn.c) and the handshake (hs/), which call them; they call only the
 * lower layers (record, crypto, alloc, err), never conn.c or hs/. They
 * keep their conn_ names: each acts on a connection. */
#ifndef HASP_SERVICES_H
#define HASP_SERVICES_H

#include "conn.h"

/* Seal data as records (of at most 2^14 bytes each) into the output buffer. */
int conn_send_record(hasp_conn *c, uint8_t type, const uint8_t *data, size_t len);
/* Emit an event if the config has a callback. */
void conn_event(hasp_conn *c, int type, int from_server, int msg_type, const char *name,
                size_t length, const char *detail);
static inline int conn_tracing(const hasp_conn *c)
{
    return c->cfg->ev_cb != NULL;
}
int64_t conn_now(const hasp_conn *c);
int64_t conn_now_ms(const hasp_conn *c); /* the same clock in milliseconds */
static inline int conn_verify_client(const hasp_conn *c)
{
    return c->verify_client >= 0 ? c->verify_client : c->cfg->verify_client;
}
/* Random bytes and fresh key pairs, through the config (RNG injection for tests). */
int conn_random(hasp_conn *c, uint8_t *out, size_t len);
/* One or two values sent in the clear (hello randoms, session IDs; b may
 * be NULL), in one draw from the public random pool (hasp_random_public);
 * through a testing RNG hook, one call per value. Not for secrets. */
int conn_random_public(hasp_conn *c, uint8_t *a, size_t alen, uint8_t *b, size_t blen);
hasp_kex *conn_kex_new(hasp_conn *c, uint16_t group);
/* The same for the side answering a key share (hasp_kex_new_responder). */
hasp_kex *conn_kex_new_responder(hasp_conn *c, uint16_t group);
/* The connection's sentences, kept on the heap only once there is one (an
 * idle connection carries none): hasp_conn_errmsg and
 * hasp_conn_verify_result. The text is cut at CONN_ERRMSG_CAP or
 * CONN_VERIFY_MSG_CAP - 1 bytes; on an allocation failure it is dropped. */
#define CONN_ERRMSG_CAP 512
#define CONN_VERIFY_MSG_CAP 768
void conn_set_errmsg(hasp_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void conn_set_verify_msg(hasp_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline const char *conn_verify_msg(const hasp_conn *c)
{
    return c->verify_msg ? c->verify_msg : "";
}
/* NSS key log line, when SSLKEYLOGFILE is set and the config allows it. */
void conn_keylog(hasp_conn *c, const char *label, const uint8_t *client_random,
                 const uint8_t *secret, size_t len);

#endif
