/* The engine's internal state: configs and connections. */
#ifndef HASP_CONN_H
#define HASP_CONN_H

#include <pthread.h>
#include <stdint.h>

#include "hasp.h"
#include "codec/cursor.h"
#include "crypto/crypto.h"
#include "err.h"
#include "hs/session.h"
#include "hs/suites.h"
#include "record/record.h"
#include "x509/x509.h"

struct hasp_x509_store;

#define HASP_MAX_SUITES 64
#define HASP_MAX_GROUPS 16
#define HASP_MAX_SIGALGS 16
#define HASP_MAX_CERTS 8
#define HASP_MAX_CHAIN 10

/* A certificate chain and its private key. */
typedef struct hasp_cred {
    uint8_t *chain[HASP_MAX_CHAIN]; /* DER, leaf first */
    size_t chain_len[HASP_MAX_CHAIN];
    size_t n;
    hasp_pkey *key;
    int key_type;        /* enum hasp_pkey_type */
    hasp_x509_cert leaf; /* chain[0] parsed once (views into it), for name checks */
} hasp_cred;

struct hasp_config {
    uint16_t min_version, max_version;
    uint16_t suites[HASP_MAX_SUITES];
    size_t nsuites;
    uint16_t groups[HASP_MAX_GROUPS];
    size_t ngroups;
    uint16_t sigalgs[HASP_MAX_SIGALGS];
    size_t nsigalgs;
    uint8_t alpn[256]; /* ProtocolNameList body: 1-byte length-prefixed names */
    size_t alpn_len;
    hasp_cred creds[HASP_MAX_CERTS];
    size_t ncreds;
    struct hasp_x509_store *anchors;
    int anchors_set;      /* the caller named a CA file/dir/mem */
    pthread_mutex_t lock; /* guards lazy loading of the system trust store */
    int verify_cert;      /* 1 unless insecure_noverifycert */
    int verify_name;      /* 1 unless insecure_noverifyname */
    int64_t verify_time;
    int verify_profile;           /* HASP_X509_PROFILE_* */
    struct hasp_x509_store *crls; /* CRLs only, or NULL */
    int crl_check;                /* HASP_X509_CRL_* */
    int verify_depth; /* max_depth for hasp_x509_verify (intermediates + 1), 0 = default */
    int verify_client;
    size_t max_hs_size;
    unsigned max_chain_len, max_extensions, handshake_timeout_ms;
    size_t max_buffered;
    int ticket_single_use;
    int psk_modes;               /* HASP_PSK_KE | HASP_PSK_DHE_KE */
    uint32_t max_early_data;     /* 0-RTT: 0 = off */
    int64_t early_since;         /* tickets issued before this never carry early data */
    used_tickets *early_strikes; /* 0-RTT strike register */
    used_tickets *used_tickets;
    used_tickets *revoked_tickets; /* from connections that ended badly */
    hasp_event_cb ev_cb;
    void *ev_arg;
    /* Randomness and ephemeral keys: the real RNG unless a test injects them. */
    int (*rng)(void *arg, uint8_t *out, size_t len);
    void *rng_arg;
    uint16_t test_kex_group[4];
    uint8_t test_kex_priv[4][64];
    size_t test_kex_len[4], ntest_kex;
    int keylog_allowed;
    /* Tests only (RFC 8448 section 4): a PSK identity the server resolves
     * to a session without opening it as a ticket. Not in the public API. */
    hasp_session *(*test_psk_lookup)(void *arg, const uint8_t *id, size_t len);
    void *test_psk_arg;
    /* Tests only: extension bytes (type, length, body...) a server appends to
     * its EncryptedExtensions list, to show how a client answers a hostile
     * one. Not in the public API. */
    const uint8_t *test_ee_extra;
    size_t test_ee_extra_len;
    /* sessions */
    session_cache *cache;
    uint32_t session_lifetime;
    hasp_session_new_cb sess_new;
    hasp_session_get_cb sess_get;
    hasp_session_remove_cb sess_remove;
    void *sess_arg;
    int tickets;
    unsigned tickets13;
    ticket_keys tkeys;
    int64_t (*now)(void *arg);
    void *now_arg;
    int reneg_policy;
    unsigned reneg_per_minute;
    char errmsg[512];
};

/* Handshake state, alive only during a handshake. */
struct hasp_hs;

enum conn_state {
    ST_HANDSHAKE = 0,
    ST_APP,    /* application data flows */
    ST_CLOSED, /* close_notify received, or sent and answered */
    ST_ERROR,  /* a fatal error: nothing more */
};

struct hasp_conn {
    const hasp_config *cfg;
    int role;
    int state;
    int fd;

    /* input: raw bytes from the peer */
    uint8_t *in;
    size_t in_cap, in_len, in_off; /* [in_off, in_len) are unparsed */
    size_t in_dirty;               /* [0, in_dirty) ever held input: what a wipe covers */
    int in_eof;
    /* decrypted application data waiting to be read (points into in) */
    uint8_t *app;
    size_t app_len;

    /* output: records waiting to be sent */
    hasp_wr out;
    size_t out_off;

    /* record protection */
    hasp_rec_prot rd, wr;
    uint16_t rec_version;

    struct hasp_hs *hs;

    /* negotiated */
    uint16_t version;
    const hasp_suite *suite;
    uint16_t group;
    uint16_t sigscheme;
    char alpn[256];
    char sni[256];
    int ems, secure_reneg, etm, resumed;
    const char *resumed_how;
    hasp_session *session_in;  /* client: offered */
    hasp_session *session_out; /* the session this connection established */
    uint8_t *peer_cert;        /* the peer's leaf certificate (DER) */
    size_t peer_cert_len;
    uint8_t tls13_ticket_nonce;
    int verify_client; /* -1: the config's */
    /* renegotiation (TLS 1.2) */
    int reneg_requested;    /* server: HelloRequest sent */
    int reneg_refused;      /* client: the server answered no_renegotiation */
    int64_t reneg_times[8]; /* peer-initiated renegotiations, for the rate limit */
    unsigned renegotiations;
    uint8_t tickets_seen[6][16]; /* server: tickets issued or presented on this connection */
    int ntickets_seen;
    int warnings_in_row;    /* warning alerts with nothing else between them */
    int release_pending;    /* free the buffers once the output drains */
    int64_t hs_deadline_ms; /* fd layer: when the handshake must be done (0: no limit) */
    hasp_wr stash;          /* application data that arrived during a renegotiation */
    size_t stash_off;
    uint8_t client_verify_data[12], server_verify_data[12];
    uint8_t master[48];
    /* TLS 1.3 traffic secrets, for KeyUpdate */
    uint8_t rd_secret[64], wr_secret[64];
    uint8_t resumption_master[64];
    /* 0-RTT early data */
    int early_status;         /* enum hasp_early_status */
    int early_wanted;         /* client: hasp_conn_write_early was called */
    const char *early_reason; /* why it was rejected (a string literal) */
    size_t early_unread;      /* server: bytes of early data at the head of stash */
    uint32_t early_sent;      /* client: bytes written as early data */
    hasp_wr post;             /* post-handshake messages, reassembled */
    int key_updates;          /* received without application data in between */

    /* outcome */
    int err;
    char *errmsg; /* the sentence of the error, allocated with the first one */
    int alert_sent, alert_recv;
    int peer_closed, close_sent;
    char *verify_msg; /* how the peer was verified, allocated with the first word */
};

/* Record the error (sending its alert, if any) and end the connection. */
int conn_fail(hasp_conn *c, int code);
void conn_session_invalidate(hasp_conn *c);
/* Resolve the trust store (loading the system bundle on first use). */
const struct hasp_x509_store *config_anchors(const hasp_config *cfg);

#endif
