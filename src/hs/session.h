/* Sessions: what a connection keeps to be resumed (RFC 5246 7.4.1.2,
 * RFC 5077, RFC 8446 4.6.1), the server's session cache, and tickets. */
#ifndef HASP_SESSION_H
#define HASP_SESSION_H

#include <pthread.h>
#include <stdint.h>

#include "../codec/cursor.h"
#include "hasp.h"

struct hasp_session {
    uint16_t version;
    uint16_t suite;
    int ems;
    int64_t created;    /* seconds */
    uint32_t lifetime;  /* seconds */
    uint32_t age_add;   /* TLS 1.3 ticket_age_add */
    uint8_t secret[64]; /* TLS 1.2 master secret, or the TLS 1.3 resumption PSK */
    size_t secret_len;
    uint8_t id[32]; /* TLS 1.2 session ID */
    size_t id_len;
    uint8_t *ticket; /* as received, opaque */
    size_t ticket_len;
    int64_t ticket_received_ms;
    char sni[256];
    char alpn[256];
    uint8_t *peer_cert; /* the peer's leaf certificate, DER */
    size_t peer_cert_len;
    uint32_t max_early_data; /* TLS 1.3: 0-RTT bytes the ticket allows */
    int resumable;
};

hasp_session *session_new(void);
hasp_session *session_dup(const hasp_session *s);
int session_encode(const hasp_session *s, hasp_wr *w);
hasp_session *session_decode(const uint8_t *in, size_t len);
int session_set_ticket(hasp_session *s, const uint8_t *t, size_t len);
int session_set_peer_cert(hasp_session *s, const uint8_t *der, size_t len);
/* The connection's SNI and ALPN into a session: a bounded copy (a
 * snprintf("%s") here was 2% of a resumed TLS 1.2 handshake). */
void session_set_names(hasp_session *s, const char *sni, const char *alpn);

/* The server's cache of TLS 1.2 sessions by ID: bounded, least recently
 * used first out, entries expire; shared by the connections of a config. */
typedef struct session_cache session_cache;
session_cache *session_cache_new(size_t max_entries);
void session_cache_free(session_cache *sc);
int session_cache_put(session_cache *sc, const hasp_session *s);
/* A copy of the entry, or NULL (expired entries are dropped). */
hasp_session *session_cache_get(session_cache *sc, const uint8_t *id, size_t id_len, int64_t now);
void session_cache_remove(session_cache *sc, const uint8_t *id, size_t id_len);
size_t session_cache_count(session_cache *sc);

/* Ticket keys: keys[0] seals, every valid key opens. Made inside the
 * process (two keys, rotated every rotate_after seconds) or given from
 * outside (hasp_config_set_ticket_keys: a fleet's shared list, never
 * rotated here). */
#define TICKET_KEY_NAME_LEN 16
#define TICKET_KEYS_MAX 16
typedef struct ticket_key {
    uint8_t name[TICKET_KEY_NAME_LEN];
    uint8_t key[32];
    int64_t created;
    int valid;
} ticket_key;

typedef struct ticket_keys {
    ticket_key keys[TICKET_KEYS_MAX];
    size_t n;
    pthread_mutex_t lock;
    uint32_t rotate_after; /* seconds; 0 = only when asked */
    int external;          /* the keys came from hasp_config_set_ticket_keys */
} ticket_keys;

int ticket_keys_init(ticket_keys *tk, int64_t now);
void ticket_keys_destroy(ticket_keys *tk);
int ticket_keys_rotate(ticket_keys *tk, int64_t now);
/* Replace every key by keys[0..n) (the old ones are wiped). */
void ticket_keys_set(ticket_keys *tk, const ticket_key *keys, size_t n);
/* key_name(16) || nonce(12) || AES-256-GCM(state) || tag(16) */
int ticket_seal(ticket_keys *tk, const hasp_session *s, int64_t now, hasp_wr *out);
/* NULL when the ticket is not ours, tampered, or from a key rotated out. */
hasp_session *ticket_open(ticket_keys *tk, const uint8_t *t, size_t len);

/* TLS 1.3 single-use tickets: a bounded memory of tickets already used
 * (the oldest is forgotten first; tickets also expire). */
typedef struct used_tickets used_tickets;
used_tickets *used_tickets_new(size_t cap);
void used_tickets_free(used_tickets *u);
/* The same memory as a set of revoked tickets (by the first 16 bytes of
 * their SHA-256). */
void ticket_hash16(const uint8_t *t, size_t len, uint8_t out[16]);
int used_tickets_has(used_tickets *u, const uint8_t h[16]);
void used_tickets_add(used_tickets *u, const uint8_t h[16]);
/* 1 when this ticket was seen before; otherwise remembers it and returns 0. */
int used_tickets_seen(used_tickets *u, const uint8_t *t, size_t len);
/* The same for the TLS 1.3 0-RTT strike register, where an entry must stay
 * at least keep_s seconds: 0 first use (now remembered), 1 seen before,
 * 2 full of entries younger than that (refuse: cannot tell). */
int used_tickets_claim(used_tickets *u, const uint8_t *t, size_t len, int64_t now, int64_t keep_s);
/* Server: a ticket issued or presented on this connection (revoked if the
 * connection ends badly: conn_session_invalidate). */
void conn_note_ticket(hasp_conn *c, const uint8_t *t, size_t len);
/* Server: 1 when this ticket belongs to a connection that ended badly. */
int conn_ticket_revoked(const hasp_conn *c, const uint8_t *t, size_t len);

#endif
