/*
 * hasp: a TLS library. The one public header.
 *
 * The engine is sans-I/O: feed it the bytes that arrived from the peer with
 * hasp_conn_input(), take the bytes it wants sent with hasp_conn_output(),
 * and exchange plaintext with hasp_conn_read() / hasp_conn_write(). The fd
 * layer (hasp_set_fd(), hasp_handshake(), hasp_read(), hasp_write(),
 * hasp_close()) does that loop over a socket, blocking or non-blocking.
 *
 * Every function that can fail returns an int: 0 (or a byte count) on
 * success, a negative HASP_ERR_* code on failure, or one of the two
 * sentinels HASP_WANT_POLLIN / HASP_WANT_POLLOUT ("call again when the
 * socket is readable / writable"). hasp_conn_errmsg() holds a sentence that
 * names the cause.
 */
#ifndef HASP_H
#define HASP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define HASP_VERSION_STRING "0.1.0"

/* Protocol versions, as on the wire. */
#define HASP_TLS1_0 0x0301
#define HASP_TLS1_1 0x0302
#define HASP_TLS1_2 0x0303
#define HASP_TLS1_3 0x0304

/* Roles. */
#define HASP_CLIENT 0
#define HASP_SERVER 1

/* Sentinels: not errors. */
#define HASP_OK 0
#define HASP_WANT_POLLIN (-2)
#define HASP_WANT_POLLOUT (-3)

/* Error classes. */
enum hasp_err_class {
    HASP_CLASS_NONE = 0,
    HASP_CLASS_USAGE,       /* the caller used the API wrongly */
    HASP_CLASS_BLOCKED,     /* would block: call again */
    HASP_CLASS_CLOSED,      /* the connection is over (cleanly or not) */
    HASP_CLASS_PEER_ALERT,  /* the peer sent a fatal alert */
    HASP_CLASS_PROTOCOL,    /* the peer broke the protocol; we sent an alert */
    HASP_CLASS_CERTIFICATE, /* a certificate was rejected */
    HASP_CLASS_IO,          /* the transport failed */
    HASP_CLASS_INTERNAL,    /* out of memory, crypto library failure */
};

/* Error codes. Stable: new codes are only ever added. */
enum hasp_err {
    HASP_ERR_USAGE = -10,      /* invalid argument or call in the wrong state */
    HASP_ERR_NOMEM = -11,      /* out of memory */
    HASP_ERR_INTERNAL = -12,   /* internal error */
    HASP_ERR_CRYPTO = -13,     /* the crypto library failed */
    HASP_ERR_IO = -14,         /* read(2)/write(2) failed */
    HASP_ERR_CLOSED = -15,     /* the connection was closed (close_notify or after a fatal error) */
    HASP_ERR_TRUNCATED = -16,  /* the peer closed the transport without close_notify */
    HASP_ERR_PEER_ALERT = -17, /* the peer sent a fatal alert */
    HASP_ERR_DECODE = -18,     /* a message was malformed: decode_error(50) */
    HASP_ERR_UNEXPECTED = -19, /* a message came out of order: unexpected_message(10) */
    HASP_ERR_BAD_MAC = -20,    /* a record failed authentication: bad_record_mac(20) */
    HASP_ERR_OVERFLOW = -21,   /* a record was too large: record_overflow(22) */
    HASP_ERR_HANDSHAKE = -22,  /* no acceptable parameters: handshake_failure(40) */
    HASP_ERR_VERSION = -23,    /* no shared protocol version: protocol_version(70) */
    HASP_ERR_ILLEGAL_PARAM = -24,   /* a field had a value out of range: illegal_parameter(47) */
    HASP_ERR_DECRYPT = -25,         /* a signature or Finished failed: decrypt_error(51) */
    HASP_ERR_NOT_TLS = -26,         /* the peer is not speaking TLS */
    HASP_ERR_UNSUPPORTED_EXT = -27, /* unsupported_extension(110) */
    HASP_ERR_NO_APP_PROTO = -28,    /* no_application_protocol(120) */
    HASP_ERR_INSUFFICIENT_SECURITY = -29, /* insufficient_security(71) */
    HASP_ERR_UNRECOGNIZED_NAME = -30,     /* unrecognized_name(112) */
    HASP_ERR_NO_RENEGOTIATION = -31,      /* renegotiation refused */
    HASP_ERR_LIMIT = -32,                 /* a configured limit was exceeded */
    HASP_ERR_CONFIG = -33,                /* a configuration file or value was invalid */
    HASP_ERR_MISSING_EXT = -34,           /* missing_extension(109) */
    HASP_ERR_CERT_REQUIRED = -35,         /* certificate_required(116) */
    HASP_ERR_INAPPROPRIATE_FALLBACK = -36,

    /* certificate errors: class HASP_CLASS_CERTIFICATE */
    HASP_ERR_CERT_BAD = -50,         /* malformed or unusable: bad_certificate(42) */
    HASP_ERR_CERT_UNSUPPORTED = -51, /* unsupported algorithm: unsupported_certificate(43) */
    HASP_ERR_CERT_EXPIRED = -52,     /* expired or not yet valid: certificate_expired(45) */
    HASP_ERR_CERT_UNKNOWN_CA = -53,  /* no path to a trusted root: unknown_ca(48) */
    HASP_ERR_CERT_SIGNATURE = -54,   /* a signature in the chain is invalid: bad_certificate(42) */
    HASP_ERR_CERT_NAME = -55,        /* host name mismatch: bad_certificate(42) */
    HASP_ERR_CERT_PATH_LEN = -56,    /* path too long: bad_certificate(42) */
    HASP_ERR_CERT_USAGE = -57, /* key usage / extended key usage: unsupported_certificate(43) */
    HASP_ERR_CERT_CONSTRAINTS = -58, /* CA bit / name constraints: bad_certificate(42) */
    HASP_ERR_CERT_SELF_SIGNED = -59, /* self-signed leaf not trusted: unknown_ca(48) */
    HASP_ERR_CERT_NOT_FOUND = -60,   /* no certificate was presented */
    HASP_ERR_CERT_REVOKED = -61,     /* revoked by its issuer's CRL: certificate_revoked(44) */
    HASP_ERR_CERT_CRL =
        -62, /* revocation status unknown (no usable CRL): certificate_unknown(46) */
};

/* Alert descriptions (RFC 5246 7.2, RFC 8446 6). */
enum hasp_alert {
    HASP_ALERT_CLOSE_NOTIFY = 0,
    HASP_ALERT_UNEXPECTED_MESSAGE = 10,
    HASP_ALERT_BAD_RECORD_MAC = 20,
    HASP_ALERT_RECORD_OVERFLOW = 22,
    HASP_ALERT_HANDSHAKE_FAILURE = 40,
    HASP_ALERT_BAD_CERTIFICATE = 42,
    HASP_ALERT_UNSUPPORTED_CERTIFICATE = 43,
    HASP_ALERT_CERTIFICATE_REVOKED = 44,
    HASP_ALERT_CERTIFICATE_EXPIRED = 45,
    HASP_ALERT_CERTIFICATE_UNKNOWN = 46,
    HASP_ALERT_ILLEGAL_PARAMETER = 47,
    HASP_ALERT_UNKNOWN_CA = 48,
    HASP_ALERT_ACCESS_DENIED = 49,
    HASP_ALERT_DECODE_ERROR = 50,
    HASP_ALERT_DECRYPT_ERROR = 51,
    HASP_ALERT_PROTOCOL_VERSION = 70,
    HASP_ALERT_INSUFFICIENT_SECURITY = 71,
    HASP_ALERT_INTERNAL_ERROR = 80,
    HASP_ALERT_INAPPROPRIATE_FALLBACK = 86,
    HASP_ALERT_USER_CANCELED = 90,
    HASP_ALERT_NO_RENEGOTIATION = 100,
    HASP_ALERT_MISSING_EXTENSION = 109,
    HASP_ALERT_UNSUPPORTED_EXTENSION = 110,
    HASP_ALERT_UNRECOGNIZED_NAME = 112,
    HASP_ALERT_BAD_CERTIFICATE_STATUS_RESPONSE = 113,
    HASP_ALERT_UNKNOWN_PSK_IDENTITY = 115,
    HASP_ALERT_CERTIFICATE_REQUIRED = 116,
    HASP_ALERT_NO_APPLICATION_PROTOCOL = 120,
};

/* Names: "handshake_failure(40)", "HASP_ERR_DECODE", ... Never NULL. */
const char *hasp_alert_name(int alert);
const char *hasp_err_name(int code);
int hasp_err_class(int code);
/* The alert that an error code sends, or -1 if none. */
int hasp_err_alert(int code);

/* The cipher suites hasp has, in default preference order. */
typedef struct hasp_suite_info {
    uint16_t id;
    const char *iana_name;
    const char *openssl_name;
    int in_default;   /* part of DEFAULT */
    int by_name_only; /* enabled only when named (3DES) */
} hasp_suite_info;
/* 0 and fills info for i < count, else HASP_ERR_USAGE. */
int hasp_suite_get(size_t i, hasp_suite_info *info);

/* The key exchange groups hasp has, in default preference order (the
 * hybrids first; all of them are in the default list). */
typedef struct hasp_group_info {
    uint16_t id;         /* TLS NamedGroup */
    const char *name;    /* "X25519MLKEM768", "x25519", ... as --groups takes them */
    const char *kind;    /* "ECDH+ML-KEM", "ECDH" or "FFDHE" */
    size_t client_share; /* bytes of the ClientHello key share (FFDHE: the size of p) */
    size_t server_share; /* bytes of the ServerHello key share */
    int tls13_only;      /* the hybrids */
} hasp_group_info;
/* 0 and fills info for i < count, else HASP_ERR_USAGE. */
int hasp_group_get(size_t i, hasp_group_info *info);

/* ---------------------------------------------------------------- memory */

/* Route hasp's heap allocations through the caller's functions (to count
 * them, or to use another allocator). Call once, before any config or
 * connection exists; NULL for any of the three restores the C library's
 * malloc/realloc/free. realloc_fn(NULL, n) must behave as malloc_fn(n).
 * Allocations made inside libcrypto on hasp's behalf are libcrypto's:
 * see CRYPTO_set_mem_functions. */
void hasp_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                        void (*free_fn)(void *));

/* ---------------------------------------------------------------- config */

typedef struct hasp_config hasp_config;
typedef struct hasp_conn hasp_conn;

hasp_config *hasp_config_new(void);
void hasp_config_free(hasp_config *cfg);
/* The last error of a config call, as a sentence. */
const char *hasp_config_errmsg(const hasp_config *cfg);

/* Protocol versions, inclusive (default TLS 1.2 .. the highest hasp has). */
int hasp_config_set_versions(hasp_config *cfg, uint16_t min, uint16_t max);
/* Cipher suites, colon-separated IANA or OpenSSL names, or DEFAULT / ALL.
 * The order is the server's preference. */
int hasp_config_set_ciphers(hasp_config *cfg, const char *list);
/* The TLS 1.3 suites only (like OpenSSL's -ciphersuites): replaces the
 * TLS 1.3 part of the list, keeps the TLS 1.2 part. An empty list turns
 * TLS 1.3 off. */
int hasp_config_set_ciphersuites13(hasp_config *cfg, const char *list);
/* Groups, colon- or comma-separated: x25519, P-256 (secp256r1), P-384,
 * ffdhe2048, ffdhe3072. */
int hasp_config_set_groups(hasp_config *cfg, const char *list);
/* Signature schemes, colon-separated TLS names (rsa_pss_rsae_sha256, ...). */
int hasp_config_set_sigalgs(hasp_config *cfg, const char *list);
/* ALPN protocols, comma-separated ("h2,http/1.1"). */
int hasp_config_set_alpn(hasp_config *cfg, const char *list);

/* A certificate chain (PEM, leaf first) and its private key (PEM: PKCS#1,
 * SEC1 or PKCS#8). May be called several times on a server: the
 * certificate whose names match the client's server_name is chosen. */
int hasp_config_add_cert_key_file(hasp_config *cfg, const char *chain_pem_file,
                                  const char *key_pem_file);
int hasp_config_add_cert_key_mem(hasp_config *cfg, const uint8_t *chain_pem, size_t chain_len,
                                 const uint8_t *key_pem, size_t key_len);

/* Trust anchors: a PEM file, a directory of PEM files. Without either the
 * system bundle is used. */
int hasp_config_set_ca_file(hasp_config *cfg, const char *path);
int hasp_config_set_ca_dir(hasp_config *cfg, const char *path);
int hasp_config_set_ca_mem(hasp_config *cfg, const uint8_t *pem, size_t len);
/* Dangerous: do not verify the peer's certificate at all. */
void hasp_config_insecure_noverifycert(hasp_config *cfg);
/* Dangerous: verify the chain but not the host name. */
void hasp_config_insecure_noverifyname(hasp_config *cfg);
/* Fixed verification time (seconds since the epoch) for tests; 0 = now. */
void hasp_config_set_verify_time(hasp_config *cfg, int64_t t);

/* Validation profile, where the web PKI (CA/Browser Forum Baseline
 * Requirements) and RFC 5280 disagree (docs/x509.md has the table):
 * WEBPKI (the default) adds the CA/Browser Forum's rules (no CA
 * certificate, no missing or critical extendedKeyUsage in a TLS server's
 * leaf, no anyExtendedKeyUsage in a leaf, no extendedKeyUsage in a root,
 * the subject CN repeats a SAN entry, ...) and accepts non-critical
 * nameConstraints; RFC5280 follows RFC 5280 alone: it accepts those,
 * refuses non-critical nameConstraints and wants an authorityKeyIdentifier
 * on a trust anchor that is not self-issued. RFC5280 is for private PKIs
 * and client authentication. */
#ifndef HASP_X509_PROFILE_WEBPKI
#define HASP_X509_PROFILE_WEBPKI 0
#define HASP_X509_PROFILE_RFC5280 1
#endif
int hasp_config_set_verify_profile(hasp_config *cfg, int profile);
/* Most intermediates between the peer's certificate and the trust anchor
 * (self-issued ones not counted), 0..255, as OpenSSL's -verify_depth.
 * Default 9. */
int hasp_config_set_verify_depth(hasp_config *cfg, int depth);

/* Revocation with CRLs (RFC 5280 5, 6.3): CRLs in PEM ("X509 CRL") or
 * DER, each signed by the issuer of the certificates it lists, with the
 * issuer's own key. Every certificate of the peer's path below the anchor
 * whose issuer has a CRL here is checked against it: revoked fails with
 * certificate_revoked(44); a CRL that cannot be used (expired, signed by
 * another key, an unknown critical extension, ...) fails closed with
 * certificate_unknown(46). hasp_config_set_crl_check() says which
 * certificates must have a CRL: HASP_X509_CRL_LEAF the peer's own,
 * HASP_X509_CRL_CHAIN all below the anchor, HASP_X509_CRL_IF_PRESENT (the
 * default) none. Delta and indirect CRLs are not supported. */
int hasp_config_add_crl_file(hasp_config *cfg, const char *path);
int hasp_config_add_crl_mem(hasp_config *cfg, const uint8_t *data, size_t len);
#ifndef HASP_X509_CRL_IF_PRESENT
#define HASP_X509_CRL_IF_PRESENT 0
#define HASP_X509_CRL_LEAF 1
#define HASP_X509_CRL_CHAIN 2
#endif
int hasp_config_set_crl_check(hasp_config *cfg, int mode);

/* Server: ask for a client certificate. */
#define HASP_VERIFY_CLIENT_NONE 0
#define HASP_VERIFY_CLIENT_OPTIONAL 1
#define HASP_VERIFY_CLIENT_REQUIRE 2
int hasp_config_set_verify_client(hasp_config *cfg, int mode);

/* Engine limits: each enforced; exceeding one ends the connection with an
 * alert and a HASP_ERR_LIMIT that names the limit. */
typedef struct hasp_limits {
    size_t max_handshake_size; /* one handshake message (default 256 KiB) */
    unsigned max_chain_len;    /* certificates a peer may send (default 10) */
    unsigned max_extensions;   /* extensions in one hello (default 0: no limit) */
    unsigned reneg_per_minute; /* peer-initiated renegotiations (default 3) */
    size_t max_buffered;       /* application data held during a renegotiation (default 1 MiB) */
    unsigned handshake_timeout_ms; /* fd layer: a whole handshake (default 0: none) */
} hasp_limits;
void hasp_config_get_limits(const hasp_config *cfg, hasp_limits *out);
int hasp_config_set_limits(hasp_config *cfg, const hasp_limits *limits);
void hasp_config_set_max_handshake_size(hasp_config *cfg, size_t bytes);
/* TLS 1.3 tickets: 1 = each ticket resumes at most once on this config (a
 * bounded memory of used tickets), 0 = reusable until they expire (default). */
void hasp_config_set_ticket_single_use(hasp_config *cfg, int single_use);

/* TLS 1.3 PSK key exchange modes (RFC 8446 4.2.9), a bit each. Default:
 * psk_dhe_ke only, so that resumed connections keep forward secrecy. With
 * psk_ke a resumption skips the (EC)DHE exchange: faster, but the traffic
 * of every connection resumed from a ticket can be read by anyone who
 * later learns the ticket key or the resumption secret. */
#define HASP_PSK_KE 1     /* psk_ke: the PSK alone */
#define HASP_PSK_DHE_KE 2 /* psk_dhe_ke: the PSK with a fresh (EC)DHE exchange */
int hasp_config_set_psk_modes(hasp_config *cfg, int modes);

/* TLS 1.3 0-RTT early data (RFC 8446 2.3, 4.2.10, 8). Off by default (0).
 * Server: accept up to max_bytes of early data per connection, and say so in
 * the tickets it issues. Client: allow hasp_conn_write_early with sessions
 * whose ticket allows it. Early data can be replayed by an attacker: send
 * and act on it only for requests that are safe to repeat. The server's
 * defences (docs/tls13.md): each ticket carries early data at most once
 * (a memory shared by the connections of this config), the ticket's age
 * must agree with the client's within 10 seconds, and tickets issued before
 * this call never carry early data. Servers that share ticket keys do not
 * share that memory. */
int hasp_config_set_early_data(hasp_config *cfg, uint32_t max_bytes);

/* ---------------------------------------------------------------- events */

enum hasp_event_type {
    HASP_EV_MSG_SENT = 1, /* a handshake message (or ChangeCipherSpec) was sent */
    HASP_EV_MSG_RECV,     /* ... was received */
    HASP_EV_KEY_CHANGE,   /* record protection changed in one direction */
    HASP_EV_DECISION,     /* a negotiation decision */
    HASP_EV_ALERT_SENT,
    HASP_EV_ALERT_RECV,
    HASP_EV_CERT_RESULT, /* the peer's certificate path result */
    HASP_EV_DONE,        /* the handshake completed */
};

typedef struct hasp_event {
    int type;           /* enum hasp_event_type */
    int from_server;    /* 1 if the server sent this message / made this decision */
    int encrypted;      /* the record carrying it was protected */
    int msg_type;       /* handshake type (HelloRequest 0 .. ), 20 for CCS, alert number */
    const char *name;   /* "ClientHello", "ChangeCipherSpec", "handshake_failure(40)" */
    size_t length;      /* message length in bytes (with its 4-byte header) */
    const char *detail; /* decoded fields, one line, e.g. "version=TLS1.2 suite=..." */
} hasp_event;

typedef void (*hasp_event_cb)(void *arg, const hasp_event *ev);
/* No callback, no cost. The detail never contains secrets. */
void hasp_config_set_event_cb(hasp_config *cfg, hasp_event_cb cb, void *arg);

/* Key log: when this is called AND the environment variable SSLKEYLOGFILE
 * names a file, the secrets of every connection are appended to it in the
 * NSS key log format (mode 0600), so that a capture can be decrypted
 * (Wireshark, tshark). Off by default. Anyone who can read that file can
 * read the traffic. */
void hasp_config_allow_keylog(hasp_config *cfg);

/* Dangerous, for tests and known-answer reproduction only: replace the
 * random number generator and the ephemeral private keys. A connection
 * made with these is not secure. */
void hasp_config_set_rng_for_testing(hasp_config *cfg,
                                     int (*rng)(void *arg, uint8_t *out, size_t len), void *arg);
int hasp_config_set_kex_private_for_testing(hasp_config *cfg, uint16_t group, const uint8_t *priv,
                                            size_t len);

/* ---------------------------------------------------------------- sessions */

typedef struct hasp_session hasp_session;

/* Server: a cache of TLS 1.2 sessions by ID, shared by the connections of
 * this config (thread-safe, least recently used out first). Default: 1024
 * entries, 2 hours. max_entries 0 turns the cache off. */
void hasp_config_set_session_cache(hasp_config *cfg, size_t max_entries, uint32_t lifetime_seconds);
/* An external cache instead (or as well): new gets the session bytes to keep
 * (they hold the master secret: protect them), get copies them back into
 * out (return 1 when found), remove forgets one. */
typedef int (*hasp_session_new_cb)(void *arg, const uint8_t *id, size_t id_len, const uint8_t *sess,
                                   size_t len);
typedef int (*hasp_session_get_cb)(void *arg, const uint8_t *id, size_t id_len, uint8_t *out,
                                   size_t cap, size_t *len);
typedef void (*hasp_session_remove_cb)(void *arg, const uint8_t *id, size_t id_len);
void hasp_config_set_session_callbacks(hasp_config *cfg, hasp_session_new_cb new_cb,
                                       hasp_session_get_cb get_cb, hasp_session_remove_cb remove_cb,
                                       void *arg);
/* Session tickets (RFC 5077 for TLS 1.2, RFC 8446 4.6.1 for TLS 1.3): on by
 * default; tls13_count tickets after each TLS 1.3 handshake (default 2).
 * On a client, enabled = 0 stops asking for them. */
void hasp_config_set_tickets(hasp_config *cfg, int enabled, unsigned tls13_count);
/* Make a new ticket key; the previous one still opens tickets until the
 * next rotation. Keys also rotate by themselves every 12 hours. */
int hasp_config_rotate_ticket_key(hasp_config *cfg);
/* Ticket keys from outside, so that servers sharing them (a fleet, or
 * workers) open each other's tickets, TLS 1.2 and TLS 1.3 alike: n keys of
 * key_len bytes, 48 or 80 (the layout of nginx's ssl_session_ticket_key
 * files: a 16-byte name, then secret bytes). The first key issues tickets,
 * every key opens them; rotate by calling again with a new key first and
 * the oldest dropped. hasp derives each AES-256-GCM key from the secret
 * bytes with HKDF-SHA256, so hasp and nginx can share key files but not
 * tickets. Replaces the process's own keys, which then no longer rotate by
 * themselves (hasp_config_rotate_ticket_key fails); the previous keys are
 * wiped. At most 16 keys. Safe while connections run. */
int hasp_config_set_ticket_keys(hasp_config *cfg, const uint8_t *keys, size_t n, size_t key_len);
/* The same from files, in order: each holds one or more keys, 80 bytes each
 * when its size is a multiple of 80, else 48 bytes each (so five 48-byte
 * keys, 240 bytes, read as three 80-byte ones: keep 48-byte keys one per
 * file, as nginx does). A file its group or others may read is refused. */
int hasp_config_set_ticket_key_files(hasp_config *cfg, const char *const *paths, size_t n);
/* The clock (seconds since the epoch), for tests. Default: time(NULL). */
void hasp_config_set_time_cb(hasp_config *cfg, int64_t (*now)(void *arg), void *arg);
/* Renegotiation (TLS 1.2, RFC 5746). */
#define HASP_RENEGOTIATION_REFUSE 0 /* answer with a no_renegotiation warning (default) */
#define HASP_RENEGOTIATION_ALLOW 1  /* allow, at most `per_minute` started by the peer */
void hasp_config_set_renegotiation(hasp_config *cfg, int policy, unsigned per_minute);

/* Client: the session of a finished handshake, to resume later (a copy:
 * free it). NULL when there is none or when the connection ended with a
 * fatal alert or without close_notify: such a session must not resume. */
hasp_session *hasp_conn_get_session(hasp_conn *c);
/* Client: offer this session (before the handshake). */
int hasp_conn_set_session(hasp_conn *c, const hasp_session *s);
void hasp_session_free(hasp_session *s);
/* Bytes for storage (they hold a secret: protect them); out NULL asks the size. */
int hasp_session_to_bytes(const hasp_session *s, uint8_t *out, size_t cap, size_t *len);
hasp_session *hasp_session_from_bytes(const uint8_t *in, size_t len);
int hasp_session_resumable(const hasp_session *s);
uint16_t hasp_session_version(const hasp_session *s);
/* Bytes of 0-RTT early data the session's ticket allows (0: none). */
uint32_t hasp_session_max_early_data(const hasp_session *s);

/* ---------------------------------------------------------------- connection */

/* The config must outlive the connection and must not change once shared. */
hasp_conn *hasp_conn_new(const hasp_config *cfg, int role);
void hasp_conn_free(hasp_conn *c);
/* Client: the server name to send (SNI) and verify. */
int hasp_conn_set_servername(hasp_conn *c, const char *name);

/* The sans-I/O core. */
/* Bytes from the peer. Returns how many were taken (may be fewer than len
 * when the engine's buffer is full: process, then call again). */
int hasp_conn_input(hasp_conn *c, const uint8_t *in, size_t len);
/* Zero-copy input: where the next bytes from the peer may be written (and
 * how many fit), then how many were written. */
int hasp_conn_input_space(hasp_conn *c, uint8_t **space, size_t *len);
void hasp_conn_input_commit(hasp_conn *c, size_t n);
/* The transport reached end of file. */
void hasp_conn_input_eof(hasp_conn *c);
/* Bytes to send to the peer: returns how many are waiting and points *out
 * at them. hasp_conn_output_done() says how many were sent. */
size_t hasp_conn_output(hasp_conn *c, const uint8_t **out);
void hasp_conn_output_done(hasp_conn *c, size_t n);
/* Drive the handshake: 0 when complete, HASP_WANT_POLLIN when it needs more
 * input (send the output first), or an error. */
int hasp_conn_handshake(hasp_conn *c);
/* Plaintext. read returns bytes (> 0), 0 after the peer's close_notify,
 * HASP_WANT_POLLIN, or an error (HASP_ERR_TRUNCATED for EOF without
 * close_notify). write returns len, HASP_WANT_POLLIN while a TLS 1.2
 * renegotiation completes first (send the output, feed input, call again),
 * or an error. */
int hasp_conn_read(hasp_conn *c, void *buf, size_t len);
int hasp_conn_write(hasp_conn *c, const void *buf, size_t len);
/* Queue close_notify. */
int hasp_conn_close(hasp_conn *c);
/* TLS 1.3: update our traffic keys; request_peer asks the peer to update its own. */
int hasp_conn_key_update(hasp_conn *c, int request_peer);
/* 0-RTT early data (TLS 1.3). Client, before or during the handshake, with
 * a session set whose ticket allows it and early data enabled on the config:
 * queue data for the server's first flight. Returns the bytes taken (fewer
 * than len when the ticket's limit is reached; 0 once the server has
 * answered), or an error when early data is impossible (with a sentence in
 * hasp_conn_errmsg). The first call starts the handshake (the ClientHello
 * goes out with the data). When the server rejects it (see
 * hasp_conn_early_data), the data is lost: write it again after the
 * handshake. */
int hasp_conn_write_early(hasp_conn *c, const void *buf, size_t len);
/* Server, during the handshake: early data received so far, before the
 * client's Finished. Returns bytes read, HASP_WANT_POLLIN when more may
 * come, 0 when no more will (none was accepted, or EndOfEarlyData came).
 * Early data not read this way comes first from hasp_conn_read. */
int hasp_conn_read_early(hasp_conn *c, void *buf, size_t len);
enum hasp_early_status {
    HASP_EARLY_NONE = 0,     /* not offered */
    HASP_EARLY_PENDING = 1,  /* client: sent, the server has not answered yet */
    HASP_EARLY_ACCEPTED = 2, /* the server took it */
    HASP_EARLY_REJECTED = 3, /* offered and refused: the client must send it again */
};
int hasp_conn_early_data(const hasp_conn *c);
/* The reason, in words, when it was rejected (or "" otherwise). */
const char *hasp_conn_early_data_reason(const hasp_conn *c);

/* Free the engine's record buffers while the connection is idle (they come
 * back with the next record). The engine does this itself after the
 * handshake, and the fd layer whenever a non-blocking read would block. */
void hasp_conn_release_buffers(hasp_conn *c);

/* Free all an idle connection can rebuild: its record buffers (as
 * hasp_conn_release_buffers) and its ciphers' expanded keys (about 2.3 KB
 * with AES-GCM). The next record in each direction rebuilds its cipher
 * from the key the connection keeps: one key setup, about a microsecond.
 * For a server holding many quiet connections (hasp server --www does it
 * to a keep-alive connection idle for 2 s). Nothing during a handshake. */
void hasp_conn_release_idle(hasp_conn *c);

/* Bytes buffered inside the engine (plaintext or records not yet
 * processed): read again before polling the transport. */
size_t hasp_conn_pending(const hasp_conn *c);

/* State. */
int hasp_conn_handshake_done(const hasp_conn *c);
int hasp_conn_error(const hasp_conn *c);
const char *hasp_conn_errmsg(const hasp_conn *c);
/* 1 if the peer's close_notify arrived. */
int hasp_conn_peer_closed(const hasp_conn *c);
/* Which side's alert ended the connection: the alert number sent / received, or -1. */
int hasp_conn_alert_sent(const hasp_conn *c);
int hasp_conn_alert_received(const hasp_conn *c);

uint16_t hasp_conn_version(const hasp_conn *c);
const char *hasp_conn_version_name(const hasp_conn *c); /* "TLSv1.2" */
uint16_t hasp_conn_cipher_id(const hasp_conn *c);
const char *hasp_conn_cipher_name(const hasp_conn *c);         /* IANA name */
const char *hasp_conn_cipher_openssl_name(const hasp_conn *c); /* OpenSSL name */
const char *hasp_conn_group_name(const hasp_conn *c);          /* "x25519", or NULL */
const char *hasp_conn_sigalg_name(const hasp_conn *c);         /* or NULL */
const char *hasp_conn_alpn(const hasp_conn *c);                /* or NULL */
const char *hasp_conn_servername(const hasp_conn *c);          /* SNI, or NULL */
int hasp_conn_ems(const hasp_conn *c);                         /* extended master secret used */
int hasp_conn_secure_renegotiation(const hasp_conn *c);        /* RFC 5746 negotiated */
int hasp_conn_etm(const hasp_conn *c);                         /* encrypt_then_mac used */
int hasp_conn_resumed(const hasp_conn *c);
/* How: "no", "session-id", "ticket", "psk" (TLS 1.3). */
const char *hasp_conn_resumed_how(const hasp_conn *c);
/* Start a renegotiation (TLS 1.2, both sides must support RFC 5746). A
 * client sends a new ClientHello (drive it with hasp_conn_handshake() or
 * hasp_handshake()); a server sends HelloRequest, and the client's answer
 * runs inside hasp_conn_read(). Data keeps flowing meanwhile. */
int hasp_conn_renegotiate(hasp_conn *c);
/* Server: ask (or stop asking) for a client certificate from the next
 * handshake on, e.g. before hasp_conn_renegotiate(). */
int hasp_conn_set_verify_client(hasp_conn *c, int mode);
/* A human-readable summary of the peer's certificate path verdict. */
const char *hasp_conn_verify_result(const hasp_conn *c);

/* ---------------------------------------------------------------- fd layer */

int hasp_set_fd(hasp_conn *c, int fd);
/* Blocking or non-blocking according to the fd. Non-blocking calls return
 * HASP_WANT_POLLIN / HASP_WANT_POLLOUT: poll, then call the same function. */
int hasp_handshake(hasp_conn *c);
ssize_t hasp_read(hasp_conn *c, void *buf, size_t len);
ssize_t hasp_write(hasp_conn *c, const void *buf, size_t len);
/* Send what the engine has queued: 0 when all is sent, HASP_WANT_POLLOUT
 * when the socket is full (non-blocking). */
int hasp_flush(hasp_conn *c);
/* Send close_notify and flush it. Does not close the fd. */
int hasp_close(hasp_conn *c);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
