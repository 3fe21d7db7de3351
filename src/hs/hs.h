/* The handshake: state shared by the message handlers, the extension
 * table and the state-machine walker. */
#ifndef HASP_HS_H
#define HASP_HS_H

#include "../conn.h"
#include "../services.h"

/* Handshake message types (RFC 5246 7.4, RFC 8446 4). */
enum {
    HS_HELLO_REQUEST = 0,
    HS_CLIENT_HELLO = 1,
    HS_SERVER_HELLO = 2,
    HS_NEW_SESSION_TICKET = 4,
    HS_END_OF_EARLY_DATA = 5,
    HS_ENCRYPTED_EXTENSIONS = 8,
    HS_CERTIFICATE = 11,
    HS_SERVER_KEY_EXCHANGE = 12,
    HS_CERTIFICATE_REQUEST = 13,
    HS_SERVER_HELLO_DONE = 14,
    HS_CERTIFICATE_VERIFY = 15,
    HS_CLIENT_KEY_EXCHANGE = 16,
    HS_FINISHED = 20,
    HS_KEY_UPDATE = 24,
    HS_MESSAGE_HASH = 254,
    /* Not a handshake message: a row of the table for the ChangeCipherSpec record. */
    HS_CCS = 0x100,
    HS_END = 0x101,
};

/* Flags that select the rows of a handshake shape. */
enum {
    F_PFS = 1 << 0,            /* ServerKeyExchange */
    F_CLIENT_AUTH = 1 << 1,    /* CertificateRequest sent */
    F_NO_CLIENT_CERT = 1 << 2, /* the client's Certificate was empty: no CertificateVerify */
    F_TICKET = 1 << 3,         /* NewSessionTicket */
    F_PSK = 1 << 4,            /* TLS 1.3 resumption: no server Certificate/CertificateVerify */
    F_EARLY = 1 << 5,          /* TLS 1.3 early data accepted: EndOfEarlyData */
};

enum { SENDER_CLIENT = 0, SENDER_SERVER = 1 };

/* The handshake's shapes, one table each (machine.c). */
enum {
    HS_SHAPE_TLS12_FULL,   /* RFC 5246 7.3 */
    HS_SHAPE_TLS12_RESUME, /* the abbreviated handshake, RFC 5077 3.1 */
    HS_SHAPE_TLS13_FULL,   /* RFC 8446 2 */
    HS_SHAPE_TLS13_HRR,    /* the HelloRetryRequest detour */
};

typedef struct hs_step {
    int type;      /* HS_* */
    int sender;    /* SENDER_CLIENT / SENDER_SERVER */
    unsigned need; /* the row runs only when all these flags are set */
    unsigned skip; /* ... and none of these */
    /* Receiver cannot know in advance: a different message skips the row,
     * the same one sets `need`. */
    int optional;
    /* The handler needs the transcript hash before this message. */
    int hash_before;
    const char *name;
    int (*send)(hasp_conn *c);
    int (*recv)(hasp_conn *c, hasp_rd *body);
} hs_step;

/* Extension code points. */
enum {
    EXT_SERVER_NAME = 0,
    EXT_SUPPORTED_GROUPS = 10,
    EXT_EC_POINT_FORMATS = 11,
    EXT_SIGNATURE_ALGORITHMS = 13,
    EXT_ALPN = 16,
    EXT_ENCRYPT_THEN_MAC = 22,
    EXT_EXTENDED_MASTER_SECRET = 23,
    EXT_SESSION_TICKET = 35,
    EXT_PRE_SHARED_KEY = 41,
    EXT_EARLY_DATA = 42,
    EXT_SUPPORTED_VERSIONS = 43,
    EXT_COOKIE = 44,
    EXT_PSK_KEY_EXCHANGE_MODES = 45,
    EXT_KEY_SHARE = 51,
    EXT_RENEGOTIATION_INFO = 0xff01,
};

struct hasp_hs {
    uint8_t shape; /* which table is walked: HS_SHAPE_* (machine.c) */
    size_t step;
    unsigned flags;

    uint8_t client_random[32], server_random[32];
    uint8_t session_id[32];
    size_t session_id_len;
    uint16_t client_version; /* ClientHello.legacy_version, for the RSA pre-master check */

    /* The transcript: every handshake message so far, hashed when needed. */
    hasp_wr transcript;
    hasp_hash_ctx *th;                  /* running transcript hash, once the suite is known */
    uint8_t hash_before[HASP_HASH_MAX]; /* transcript hash before the current message */
    size_t hash_len;

    /* What the peer offered (server side) / what we offered (client side). */
    uint16_t peer_groups[32];
    size_t npeer_groups;
    uint16_t peer_groups_offered[16]; /* as offered, known or not, for messages */
    size_t npeer_groups_offered;
    int peer_ffdhe_offered; /* an FFDHE code point (256..511) in supported_groups */
    int peer_sent_groups;
    uint16_t peer_sigalgs[64];
    size_t npeer_sigalgs;
    int peer_sent_sigalgs;
    uint16_t peer_suites[128]; /* the offered suites hasp knows */
    size_t npeer_suites, peer_suites_total;
    int peer_fallback_scsv;
    int peer_ec_point_formats; /* sent the extension */
    int peer_ems, peer_etm, peer_reneg;
    int ccs13_seen;            /* TLS 1.3 compatibility ChangeCipherSpec records received */
    char peer_alpn_words[300]; /* the client's ALPN list in words, when none matched */
    int tls12_ext_err;         /* a malformed TLS 1.2-only extension, raised if 1.2 is chosen */
    char tls12_ext_msg[512];
    int peer_sent_alpn;
    int sent_sni;
    uint32_t ext_sent_mask; /* client: which extensions we sent (bit per table row) */

    const hasp_cred *cred; /* our certificate (server; client when asked) */
    hasp_pkey *peer_key;   /* the peer's leaf public key */
    int peer_key_type;
    int peer_cert_checked; /* chain + name verified, or verification disabled */
    int ske_checked;       /* ServerKeyExchange signature verified (when present) */
    int cv_checked;        /* the peer's CertificateVerify verified */
    int finished_checked;  /* the peer's Finished verified */
    int client_cert_sent;  /* client: non-empty Certificate */

    hasp_kex *kex;
    hasp_hmac_ctx *master_hmac; /* the master secret's HMAC key, prepared for the PRF */
    uint8_t master_hmac_of[48]; /* ... of this master secret */
    uint8_t pms[HASP_KEX_MAX_SECRET];
    size_t pms_len;

    /* CertificateRequest contents (client side) */
    uint16_t cr_sigalgs[64];
    size_t ncr_sigalgs;

    int reneg;          /* this handshake is a renegotiation */
    int peer_scsv;      /* TLS_EMPTY_RENEGOTIATION_INFO_SCSV seen */
    int peer_reneg_ext; /* renegotiation_info seen */
    /* sessions */
    hasp_session *resume; /* the session being resumed (both sides) */
    int peer_ticket_ext;  /* the client sent session_ticket (TLS 1.2) */
    uint8_t *peer_ticket; /* its contents, copied */
    size_t peer_ticket_len;
    int ticket_ext_sent; /* client: we sent session_ticket */
    uint8_t sent_session_id[32];
    size_t sent_session_id_len;
    uint8_t *new_ticket; /* client, TLS 1.2: NewSessionTicket */
    size_t new_ticket_len;
    uint32_t new_ticket_lifetime;
    int peer_psk_modes; /* bit 0: psk_ke, bit 1: psk_dhe_ke */
    size_t binders_len; /* pre_shared_key: bytes of the binders vector, prefix included */
    int psk_identity_count;
    uint8_t psk_identities[4][1024]; /* the client's ticket identities (up to 4) */
    size_t psk_identity_len[4];
    uint32_t psk_age[4];
    const uint8_t *psk_binders; /* view into the message being received */
    uint8_t psk[HASP_HASH_MAX];
    size_t psk_len;
    /* TLS 1.2: the keys agreed, installed at ChangeCipherSpec */
    hasp_rec_prot pending_rd, pending_wr;
    int psk_offered;  /* client: pre_shared_key sent */
    int psk_selected; /* server: the identity taken */
    int psk_ke;       /* the PSK alone, without (EC)DHE (psk_ke mode) */

    /* 0-RTT early data (RFC 8446 4.2.10) */
    int peer_early;                 /* server: the ClientHello has early_data */
    int early_offered;              /* client: early_data sent in the ClientHello */
    int early_writable;             /* client: early data may still be written */
    int early_reading;              /* server: reading with the early traffic key */
    int early_skip;                 /* server: rejected; skip what cannot be read */
    size_t early_skipped;           /* ... bytes skipped so far */
    size_t early_received;          /* server: bytes of early data taken */
    uint8_t c_early[HASP_HASH_MAX]; /* client_early_traffic_secret */

    /* TLS 1.3 */
    size_t cur_len; /* length of the message being received (header included) */
    int ch_sent;    /* client: the first ClientHello went out (CH2 reuses its random) */
    uint16_t peer_versions[16];
    size_t npeer_versions;
    int peer_sent_versions;
    uint16_t share_group[4]; /* server: the client's key shares we could use */
    uint8_t share_data[4][HASP_KEX_MAX_PUB];
    size_t share_len[4];
    size_t nshares;
    int peer_sent_key_share;
    hasp_kex *share_kex;  /* client: the key share we offered */
    hasp_kex *share_kex2; /* client: a second one (a classic group beside a hybrid) */
    uint16_t hrr_group;   /* the group a HelloRetryRequest asked for */
    int hrr_done;
    uint8_t cookie[512];
    size_t cookie_len;
    int ccs_sent; /* middlebox compatibility ChangeCipherSpec */
    uint8_t hs_secret[HASP_HASH_MAX], c_hs[HASP_HASH_MAX], s_hs[HASP_HASH_MAX];
    uint8_t master13[HASP_HASH_MAX], c_ap[HASP_HASH_MAX];

    hasp_wr in; /* handshake bytes from the peer, reassembled across records */
    size_t in_off;
    /* events raised while a received message is handled wait for its own event */
    int defer;
    int rx_encrypted; /* the record that completed the current message was protected */
    struct {
        int type, from_server, encrypted, msg_type;
        const char *name;
        size_t length;
        char *detail; /* a heap copy: chain results are long */
    } deferred[6];
    int ndeferred;
    hasp_wr msg;      /* scratch for building one message body */
    char detail[512]; /* the trace line of the current message */
};

/* the walker, for the engine (machine.c) */
int hs_start(hasp_conn *c);
/* Run our sends and the peer's complete messages: 0 when the handshake is
 * done, 1 when it needs another record from the peer. */
int hs_drive(hasp_conn *c);
int hs_append(hasp_conn *c, const uint8_t *data, size_t len);
/* After the last row: sessions (cache, tickets), before the state is freed. */
int hs_complete(hasp_conn *c);
int hs_ccs(hasp_conn *c);
/* Row i of the table the handshake walks now. */
const hs_step *hs_row(const struct hasp_hs *hs, size_t i);
int hs_ccs_recv(hasp_conn *c);
void hs_free(hasp_conn *c);
/* What the handshake is waiting for, for error messages ("ServerHello"). */
const char *hs_waiting_for(const hasp_conn *c);

/* TLS 1.3 tickets (tls13_post.c), PSK binders (tls13_psk.c) */
int tls13_send_tickets(hasp_conn *c);
int tls13_psk_binder(hasp_conn *c, int hash, const uint8_t *psk, size_t psk_len,
                     const uint8_t *partial, size_t partial_len, uint8_t *out);

/* TLS 1.3 (tls13.c): the handlers of its rows (machine.c's tables) */
int tls13_server_hello_send(hasp_conn *c);
int tls13_hrr_send(hasp_conn *c);
int tls13_encrypted_extensions_send(hasp_conn *c);
int tls13_encrypted_extensions_recv(hasp_conn *c, hasp_rd *r);
int tls13_certificate_request_send(hasp_conn *c);
int tls13_certificate_request_recv(hasp_conn *c, hasp_rd *r);
int tls13_certificate_send(hasp_conn *c);
int tls13_certificate_recv(hasp_conn *c, hasp_rd *r);
int tls13_certificate_verify_send(hasp_conn *c);
int tls13_certificate_verify_recv(hasp_conn *c, hasp_rd *r);
int tls13_finished_send(hasp_conn *c);
int tls13_finished_recv(hasp_conn *c, hasp_rd *r);
int tls13_end_of_early_data_send(hasp_conn *c);
int tls13_end_of_early_data_recv(hasp_conn *c, hasp_rd *r);
/* Server: the client offered TLS 1.3 and we take it. Picks suite,
 * certificate and group, and switches to the TLS 1.3 table. */
int tls13_server_select(hasp_conn *c);
/* Client: a ServerHello or HelloRetryRequest that selected TLS 1.3. */
int tls13_server_hello_recv(hasp_conn *c, hasp_rd *exts, uint16_t suite, const uint8_t *sid,
                            size_t sid_len);
/* Engine: a post-handshake TLS 1.3 message (NewSessionTicket, KeyUpdate). */
int tls13_post_handshake(hasp_conn *c, int type, hasp_rd *body);
int tls13_key_update_send(hasp_conn *c, int request);
/* Client: the ClientHello with early_data went out; install the early keys. */
int tls13_client_early_start(hasp_conn *c);
/* Client, from the ext table: offer early data in this ClientHello? */
int tls13_client_wants_early(const hasp_conn *c);
/* Server: a record of early data arrived (counts it against the limit). */
int tls13_early_data_recv(hasp_conn *c, size_t len);
extern const uint8_t tls13_hrr_random[32];
extern const uint8_t tls13_downgrade12[8];

/* extensions (ext.c) */
int ext_client_hello_write(hasp_conn *c, hasp_wr *w);
int ext_client_hello_read(hasp_conn *c, hasp_rd *exts);
int ext_server_hello_write(hasp_conn *c, hasp_wr *w);
int ext_server_hello_read(hasp_conn *c, hasp_rd *exts);
int ext_encrypted_extensions_write(hasp_conn *c, hasp_wr *w);
int ext_encrypted_extensions_read(hasp_conn *c, hasp_rd *exts);
const char *ext_name(uint16_t type);
int hs_sni_used(hasp_conn *c); /* answer server_name (RFC 6066 3) */

/* Trace detail for the current message (shown by --trace). */
#define DETAIL(c, ...)                                                                             \
    do {                                                                                           \
        if (conn_tracing(c)) {                                                                     \
            size_t n_ = strlen((c)->hs->detail);                                                   \
            snprintf((c)->hs->detail + n_, sizeof((c)->hs->detail) - n_, __VA_ARGS__);             \
        }                                                                                          \
    } while (0)

/* The hellos, both versions (hello.c): the table rows of both versions use them. */
int hs_client_hello_send(hasp_conn *c);
int hs_client_hello_recv(hasp_conn *c, hasp_rd *r);
int hs_server_hello_send(hasp_conn *c);
int hs_server_hello_recv(hasp_conn *c, hasp_rd *r);
const char *hs_version_name(uint16_t v);

/* Authentication, both versions (auth.c). */
const hasp_cred *hs_pick_cred(hasp_conn *c, const hasp_suite *s, uint16_t *scheme);
int hs_write_chain(hasp_conn *c, const hasp_cred *cred);
int hs_read_chain(hasp_conn *c, hasp_rd *r, int *empty);
int hs_read_sigalgs(hasp_rd *r, uint16_t *out, size_t cap, size_t *n);

/* TLS 1.2 (tls12.c): the handlers of its rows (machine.c's tables), and
 * what the hellos need of it. */
int tls12_server_certificate_send(hasp_conn *c);
int tls12_server_certificate_recv(hasp_conn *c, hasp_rd *r);
int tls12_server_key_exchange_send(hasp_conn *c);
int tls12_server_key_exchange_recv(hasp_conn *c, hasp_rd *r);
int tls12_certificate_request_send(hasp_conn *c);
int tls12_certificate_request_recv(hasp_conn *c, hasp_rd *r);
int tls12_server_hello_done_send(hasp_conn *c);
int tls12_server_hello_done_recv(hasp_conn *c, hasp_rd *r);
int tls12_client_certificate_send(hasp_conn *c);
int tls12_client_certificate_recv(hasp_conn *c, hasp_rd *r);
int tls12_client_key_exchange_send(hasp_conn *c);
int tls12_client_key_exchange_recv(hasp_conn *c, hasp_rd *r);
int tls12_certificate_verify_send(hasp_conn *c);
int tls12_certificate_verify_recv(hasp_conn *c, hasp_rd *r);
int tls12_change_cipher_spec_send(hasp_conn *c);
int tls12_finished_send(hasp_conn *c);
int tls12_finished_recv(hasp_conn *c, hasp_rd *r);
int tls12_new_session_ticket_send(hasp_conn *c);
int tls12_new_session_ticket_recv(hasp_conn *c, hasp_rd *r);
int hs_try_resume12(hasp_conn *c);
int hs_derive_key_block(hasp_conn *c);
int hs_verify_data(hasp_conn *c, int from_client, const uint8_t *hash, uint8_t out[12]);
/* The TLS 1.2 session the handshake made (hs_complete calls it). */
int tls12_complete(hasp_conn *c);

/* helpers shared by every handler (msg.c, auth.c, explain.c) */
int hs_me(const hasp_conn *c);
const char *hs_peer_name(const hasp_conn *c);
hasp_wr *hs_msg_begin(hasp_conn *c);
int hs_msg_end(hasp_conn *c, int type);
int hs_transcript_add(hasp_conn *c, const uint8_t *msg, size_t len);
int hs_transcript_start(hasp_conn *c);
uint16_t hs_pick_sigscheme(const hasp_conn *c, const uint16_t *peer, size_t npeer,
                           const hasp_pkey *key, uint16_t version);
const char *hs_sigscheme_name(uint16_t id);
/* Readable lists for failure sentences (src/hs/explain.c). */
void hs_list_groups(const uint16_t *g, size_t n, char *out, size_t cap);
void hs_list_sigschemes(const uint16_t *s, size_t n, char *out, size_t cap);
void hs_list_own_sigschemes(const hasp_conn *c, uint16_t version, char *out, size_t cap);
void hs_list_alpn(const uint8_t *list, size_t len, char *out, size_t cap);
void hs_install(hasp_rec_prot *dst, hasp_rec_prot *pending);
int hs_verify_chain(hasp_conn *c, const uint8_t *const *certs, const size_t *lens, size_t n);
int hs_read_signature(hasp_conn *c, hasp_rd *r, uint16_t version, const char *what,
                      const hasp_sigscheme **ss, hasp_rd *sig);
int hs_write_signature(hasp_conn *c, hasp_wr *w, uint16_t scheme, const uint8_t *data, size_t len);
const char *hs_msg_name(int type);
int hs_transcript_hash(hasp_conn *c, uint8_t *out);
int hs_offered_group(const hasp_conn *c, uint16_t group);
/* The peer listed this group in supported_groups. */
int hs_peer_has_group(const struct hasp_hs *hs, uint16_t g);
uint16_t hs_max_version(const hasp_conn *c);
int hs_offered_sigalg(const hasp_conn *c, uint16_t scheme);

#endif
