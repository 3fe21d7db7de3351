/* hasp probe HOST:PORT: what a server supports, found by connecting several
 * times with different offers (public API only, plus one hand-made TLS 1.0
 * / 1.1 ClientHello over a plain socket, since hasp cannot offer those).
 *
 *   versions         TLS 1.3 and 1.2 with hasp; 1.1 and 1.0 by hand
 *   suites           offer all, note the choice, remove it, repeat: the
 *                    server's order; then offer the first two reversed to
 *                    tell the server's preference from the client's
 *   groups, schemes  offer one at a time
 *   certificate      the path hasp builds and its verdict
 *   resumption       session ID and ticket (TLS 1.2), PSK (TLS 1.3)
 *   renegotiation    RFC 5746 and whether a client-initiated one is accepted
 *   ALPN, EMS, ETM   from the offers above */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hasp.h"
#include "trace/trace.h"

typedef struct probe {
    char host[256], port[32];
    const char *servername;
    const char *cafile, *cadir;
    int timeout_ms;
    int connections;
    int verbose;
} probe;

typedef struct offer {
    uint16_t vmin, vmax;
    const char *ciphers;  /* hasp_config_set_ciphers, or NULL */
    const char *suites13; /* hasp_config_set_ciphersuites13, or NULL */
    const char *groups;   /* or NULL */
    const char *sigalgs;  /* or NULL */
    const char *alpn;     /* or NULL */
    int verify;           /* verify the chain and the name */
    int no_tickets;
    int keep_session; /* close politely and keep the session */
    const hasp_session *resume;
    int renegotiate;
} offer;

typedef struct result {
    int rc; /* the handshake: 0 or an error */
    char err[768];
    int alert_sent, alert_recv;
    uint16_t version, cipher;
    char cipher_name[80], group[32], sigalg[48], alpn[64], resumed_how[16], verify[768];
    int ems, secure_reneg, etm, resumed;
    char cert[1600]; /* the CERT_RESULT detail */
    int cert_code, have_cert;
    size_t cert_sent;
    hasp_session *session;
    int reneg_rc;
    char reneg_err[512];
    int reneg_warning; /* no_renegotiation came back */
} result;

/* ---------------------------------------------------------------- sockets */

static int connect_timeout(const probe *p, char *why, size_t cap)
{
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(p->host, p->port, &hints, &res);
    if (g != 0) {
        snprintf(why, cap, "cannot resolve %s: %s", p->host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    snprintf(why, cap, "cannot connect");
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        int fl = fcntl(fd, F_GETFL, 0);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd pf = {fd, POLLOUT, 0};
            if (poll(&pf, 1, p->timeout_ms) == 1) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                rc = err ? -1 : 0;
                errno = err;
            } else {
                errno = ETIMEDOUT;
            }
        }
        if (rc == 0) {
            fcntl(fd, F_SETFL, fl);
            struct timeval tv = {p->timeout_ms / 1000, (p->timeout_ms % 1000) * 1000};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            break;
        }
        snprintf(why, cap, "cannot connect to %s:%s: %s", p->host, p->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* ---------------------------------------------------------------- one connection */

static void on_event(void *arg, const hasp_event *ev)
{
    result *r = arg;
    if (ev->type == HASP_EV_CERT_RESULT) {
        snprintf(r->cert, sizeof(r->cert), "%s", ev->detail);
        r->cert_code = ev->msg_type;
        r->cert_sent = ev->length;
        r->have_cert = 1;
    }
    if (ev->type == HASP_EV_ALERT_RECV && ev->msg_type == HASP_ALERT_NO_RENEGOTIATION)
        r->reneg_warning = 1;
}

static void copy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

/* Read until the server's close_notify (or the time runs out): TLS 1.3
 * tickets come after the handshake, and a session only resumes when the
 * connection ended cleanly. */
static void drain(hasp_conn *c, int fd, int timeout_ms)
{
    char buf[4096];
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (hasp_conn_pending(c) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (spent >= timeout_ms) return;
            struct pollfd pf = {fd, POLLIN, 0};
            int pr = poll(&pf, 1, (int)(timeout_ms - spent));
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) return;
        }
        ssize_t n = hasp_read(c, buf, sizeof(buf));
        if (n > 0 || n == HASP_WANT_POLLIN || n == HASP_WANT_POLLOUT) continue;
        return;
    }
}

static int attempt(probe *p, const offer *o, result *r)
{
    memset(r, 0, sizeof(*r));
    r->alert_sent = r->alert_recv = -1;
    p->connections++;
    hasp_config *cfg = hasp_config_new();
    if (!cfg) {
        r->rc = HASP_ERR_NOMEM;
        copy(r->err, sizeof(r->err), "out of memory");
        return r->rc;
    }
#define TRY(call)                                                                                  \
    if ((call) < 0) {                                                                              \
        r->rc = HASP_ERR_CONFIG;                                                                   \
        copy(r->err, sizeof(r->err), hasp_config_errmsg(cfg));                                     \
        hasp_config_free(cfg);                                                                     \
        return r->rc;                                                                              \
    }
    TRY(hasp_config_set_versions(cfg, o->vmin, o->vmax));
    if (o->ciphers) TRY(hasp_config_set_ciphers(cfg, o->ciphers));
    if (o->suites13) TRY(hasp_config_set_ciphersuites13(cfg, o->suites13));
    if (o->groups) TRY(hasp_config_set_groups(cfg, o->groups));
    if (o->sigalgs) TRY(hasp_config_set_sigalgs(cfg, o->sigalgs));
    if (o->alpn) TRY(hasp_config_set_alpn(cfg, o->alpn));
    if (o->verify) {
        if (p->cafile) TRY(hasp_config_set_ca_file(cfg, p->cafile));
        if (p->cadir) TRY(hasp_config_set_ca_dir(cfg, p->cadir));
    } else {
        hasp_config_insecure_noverifycert(cfg);
    }
#undef TRY
    if (o->no_tickets) hasp_config_set_tickets(cfg, 0, 0);
    if (o->renegotiate) hasp_config_set_renegotiation(cfg, HASP_RENEGOTIATION_ALLOW, 3);
    hasp_config_set_event_cb(cfg, on_event, r);

    int fd = connect_timeout(p, r->err, sizeof(r->err));
    if (fd < 0) {
        hasp_config_free(cfg);
        r->rc = HASP_ERR_IO;
        return r->rc;
    }
    hasp_conn *c = hasp_conn_new(cfg, HASP_CLIENT);
    if (!c) {
        close(fd);
        hasp_config_free(cfg);
        r->rc = HASP_ERR_NOMEM;
        return r->rc;
    }
    hasp_set_fd(c, fd);
    hasp_conn_set_servername(c, p->servername);
    if (o->resume) hasp_conn_set_session(c, o->resume);
    r->rc = hasp_handshake(c);
    if (r->rc == HASP_WANT_POLLIN || r->rc == HASP_WANT_POLLOUT) {
        r->rc = HASP_ERR_IO;
        snprintf(r->err, sizeof(r->err), "no answer within %d ms", p->timeout_ms);
    } else if (r->rc != 0) {
        const char *m = hasp_conn_errmsg(c);
        copy(r->err, sizeof(r->err), m && m[0] ? m : hasp_err_name(r->rc));
    }
    r->alert_sent = hasp_conn_alert_sent(c);
    r->alert_recv = hasp_conn_alert_received(c);
    if (r->rc == 0) {
        r->version = hasp_conn_version(c);
        r->cipher = hasp_conn_cipher_id(c);
        copy(r->cipher_name, sizeof(r->cipher_name), hasp_conn_cipher_name(c));
        copy(r->group, sizeof(r->group), hasp_conn_group_name(c));
        copy(r->sigalg, sizeof(r->sigalg), hasp_conn_sigalg_name(c));
        copy(r->alpn, sizeof(r->alpn), hasp_conn_alpn(c));
        copy(r->resumed_how, sizeof(r->resumed_how), hasp_conn_resumed_how(c));
        copy(r->verify, sizeof(r->verify), hasp_conn_verify_result(c));
        r->ems = hasp_conn_ems(c);
        r->secure_reneg = hasp_conn_secure_renegotiation(c);
        r->etm = hasp_conn_etm(c);
        r->resumed = hasp_conn_resumed(c);
        if (o->renegotiate) {
            int rc = hasp_conn_renegotiate(c);
            if (rc == 0) rc = hasp_handshake(c);
            if (rc == HASP_WANT_POLLIN || rc == HASP_WANT_POLLOUT) {
                rc = HASP_ERR_IO;
                snprintf(r->reneg_err, sizeof(r->reneg_err), "no answer within %d ms",
                         p->timeout_ms);
            } else if (rc != 0) {
                copy(r->reneg_err, sizeof(r->reneg_err), hasp_conn_errmsg(c));
            }
            r->reneg_rc = rc;
        }
        hasp_close(c);
        if (o->keep_session) {
            drain(c, fd, p->timeout_ms);
            r->session = hasp_conn_get_session(c);
        }
    }
    hasp_conn_free(c);
    close(fd);
    hasp_config_free(cfg);
    return r->rc;
}

static void session_free_if(result *r)
{
    if (r->session) hasp_session_free(r->session);
    r->session = NULL;
}

/* "alert protocol_version(70) from the server", "the server closed the
 * connection", ... : why an offer was refused, in a few words. */
static void refusal(const result *r, char *out, size_t cap)
{
    if (r->alert_recv >= 0)
        snprintf(out, cap, "%s from the server", hasp_alert_name(r->alert_recv));
    else if (r->alert_sent >= 0)
        snprintf(out, cap, "hasp sent %s: %.300s", hasp_alert_name(r->alert_sent), r->err);
    else
        snprintf(out, cap, "%.400s", r->err);
}

/* ---------------------------------------------------------------- TLS 1.0 / 1.1 by hand */

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static int is_ip_literal(const char *s)
{
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/* A TLS 1.0/1.1 ClientHello with the suites such servers have. Returns a
 * line for the report and 1 when the server accepted the version. */
static int old_version(probe *p, uint16_t version, char *out, size_t cap)
{
    static const uint16_t suites[] = {0xc00a, 0xc014, 0xc009, 0xc013, 0x0039, 0x0033,
                                      0x0035, 0x002f, 0x000a, 0xc012, 0xc008, 0x0016,
                                      0x0005, 0x0004, 0x00ff /* renegotiation SCSV */};
    uint8_t m[512];
    size_t n = 0;
    m[n++] = 1; /* client_hello */
    n += 3;     /* length, below */
    put16(m + n, version);
    n += 2;
    FILE *rnd = fopen("/dev/urandom", "rb");
    if (!rnd || fread(m + n, 1, 32, rnd) != 32) {
        for (int i = 0; i < 32; i++)
            m[n + i] = (uint8_t)(rand() ^ time(NULL));
    }
    if (rnd) fclose(rnd);
    n += 32;
    m[n++] = 0; /* session_id */
    put16(m + n, (unsigned)(sizeof(suites)));
    n += 2;
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++, n += 2)
        put16(m + n, suites[i]);
    m[n++] = 1; /* compression: null */
    m[n++] = 0;
    size_t ext_len_at = n;
    n += 2;
    const char *sni = p->servername;
    if (sni && sni[0] && !is_ip_literal(sni) && strlen(sni) < 200) {
        size_t l = strlen(sni);
        put16(m + n, 0); /* server_name */
        put16(m + n + 2, (unsigned)(l + 5));
        put16(m + n + 4, (unsigned)(l + 3));
        m[n + 6] = 0;
        put16(m + n + 7, (unsigned)l);
        memcpy(m + n + 9, sni, l);
        n += 9 + l;
    }
    static const uint8_t groups[] = {0x00, 0x0a, 0x00, 0x08, 0x00, 0x06,
                                     0x00, 0x1d, 0x00, 0x17, 0x00, 0x18};
    memcpy(m + n, groups, sizeof(groups));
    n += sizeof(groups);
    static const uint8_t points[] = {0x00, 0x0b, 0x00, 0x02, 0x01, 0x00};
    memcpy(m + n, points, sizeof(points));
    n += sizeof(points);
    put16(m + ext_len_at, (unsigned)(n - ext_len_at - 2));
    m[1] = (uint8_t)((n - 4) >> 16);
    m[2] = (uint8_t)((n - 4) >> 8);
    m[3] = (uint8_t)(n - 4);
    uint8_t rec[5 + sizeof(m)];
    rec[0] = 22;
    put16(rec + 1, 0x0301);
    put16(rec + 3, (unsigned)n);
    memcpy(rec + 5, m, n);

    char why[300];
    p->connections++;
    int fd = connect_timeout(p, why, sizeof(why));
    if (fd < 0) {
        snprintf(out, cap, "not testable (%s)", why);
        return 0;
    }
    int accepted = 0;
    if (write(fd, rec, 5 + n) != (ssize_t)(5 + n)) {
        snprintf(out, cap, "not testable (the ClientHello could not be sent)");
        close(fd);
        return 0;
    }
    uint8_t in[16384];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, in + have, sizeof(in) - have);
        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                snprintf(out, cap, "no (no answer within %d ms)", p->timeout_ms);
            else
                snprintf(out, cap, "no (the server closed the connection without an alert)");
            break;
        }
        have += (size_t)r;
        if (have < 5) continue;
        size_t rl = ((size_t)in[3] << 8) | in[4];
        if (in[0] == 21 && have >= 7) {
            snprintf(out, cap, "no (%s from the server)", hasp_alert_name(in[6]));
            break;
        }
        if (in[0] != 22) {
            snprintf(out, cap, "no (the server answered with record type %d)", in[0]);
            break;
        }
        if (have < 5 + 6 && have < 5 + rl) continue;
        if (in[5] != 2 || have < 5 + 6) {
            snprintf(out, cap, "no (the server did not answer with a ServerHello)");
            break;
        }
        uint16_t sv = (uint16_t)((in[9] << 8) | in[10]);
        if (sv == version) {
            snprintf(out, cap, "yes (the server answered with a TLS %s ServerHello)",
                     version == HASP_TLS1_0 ? "1.0" : "1.1");
            accepted = 1;
        } else {
            snprintf(out, cap, "no (the server answered with version 0x%04x)", sv);
        }
        break;
    }
    /* user_canceled then close: we only wanted the ServerHello */
    if (accepted) {
        static const uint8_t bye[7] = {21, 0x03, 0x01, 0x00, 0x02, 2, 90};
        if (write(fd, bye, sizeof(bye)) < 0) {
            /* the server may be gone already */
        }
    }
    close(fd);
    return accepted;
}

/* ---------------------------------------------------------------- lists */

typedef struct names {
    char v[64][80];
    int n;
} names;

static void names_add(names *l, const char *s)
{
    if (l->n < 64) snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", s);
}

static void names_del(names *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s)) {
            memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(l->v[0]));
            l->n--;
            return;
        }
}

static void names_join(const names *l, char *out, size_t cap, const char *sep)
{
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < l->n && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? sep : "", l->v[i]);
}

/* The server's order: offer all, keep the choice, remove it, again. */
static void suite_order(probe *p, int v13, const names *all, names *order, char *order_kind,
                        size_t cap, char *stopped, size_t scap)
{
    names left = *all;
    order->n = 0;
    stopped[0] = 0;
    char list[4096];
    while (left.n > 0) {
        names_join(&left, list, sizeof(list), ":");
        offer o = {0};
        o.vmin = o.vmax = v13 ? HASP_TLS1_3 : HASP_TLS1_2;
        if (v13)
            o.suites13 = list;
        else
            o.ciphers = list;
        result r;
        if (attempt(p, &o, &r) != 0) {
            refusal(&r, stopped, scap);
            break;
        }
        session_free_if(&r);
        if (!r.cipher_name[0]) {
            snprintf(stopped, scap, "the server chose no suite");
            break;
        }
        names_add(order, r.cipher_name);
        names_del(&left, r.cipher_name);
    }
    snprintf(order_kind, cap, "%s", order->n < 2 ? "one suite only" : "?");
    if (order->n >= 2) {
        /* the first two, reversed */
        char two[200];
        snprintf(two, sizeof(two), "%s:%s", order->v[1], order->v[0]);
        offer o = {0};
        o.vmin = o.vmax = v13 ? HASP_TLS1_3 : HASP_TLS1_2;
        if (v13)
            o.suites13 = two;
        else
            o.ciphers = two;
        result r;
        if (attempt(p, &o, &r) == 0)
            snprintf(order_kind, cap, "%s",
                     !strcmp(r.cipher_name, order->v[0])
                         ? "the server's (it kept its choice when the offer was reversed)"
                         : "the client's (the server follows the order of the offer)");
        session_free_if(&r);
    }
}

/* ---------------------------------------------------------------- the report */

static void row(const char *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row(const char *k, const char *fmt, ...)
{
    char v[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    printf("  %-28s %s\n", k, v);
    fflush(stdout);
}

static void section(const char *title)
{
    printf("\n%s\n", title);
}

/* TLS 1.3 offers every group; TLS 1.2 the ECDHE ones with the ECDHE
 * suites and the FFDHE ones with the DHE suites (the hybrids are TLS 1.3
 * only). */
static const char *const all_groups[] = {
    "X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024",
    "x25519",         "secp256r1",         "secp384r1",
    "x448",           "secp521r1",         "ffdhe2048",
    "ffdhe3072"};
#define NGROUPS13 10
#define GROUPS12_EC (all_groups + 3)
#define NGROUPS12_EC 5
#define GROUPS12_FF (all_groups + 8)
#define NGROUPS12_FF 2
static const char *const all_sigalgs[] = {"ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384",
                                          "ecdsa_secp521r1_sha512", "ed25519",
                                          "rsa_pss_rsae_sha256",    "rsa_pss_rsae_sha384",
                                          "rsa_pss_rsae_sha512",    "rsa_pss_pss_sha256",
                                          "rsa_pss_pss_sha384",     "rsa_pss_pss_sha512",
                                          "rsa_pkcs1_sha256",       "rsa_pkcs1_sha384",
                                          "rsa_pkcs1_sha512",       "ecdsa_sha1",
                                          "rsa_pkcs1_sha1"};

/* hasp's TLS 1.2 suites (all of them, 3DES too), or those whose name holds
 * `with` (e.g. "_ECDHE_"), as a colon-separated list. */
static void suites12(names *l, const char *with)
{
    hasp_suite_info info;
    l->n = 0;
    for (size_t i = 0; hasp_suite_get(i, &info) == 0; i++) {
        if ((info.id >> 8) == 0x13) continue;
        if (with && !strstr(info.iana_name, with)) continue;
        names_add(l, info.iana_name);
    }
}

static void suites13(names *l)
{
    hasp_suite_info info;
    l->n = 0;
    for (size_t i = 0; hasp_suite_get(i, &info) == 0; i++)
        if ((info.id >> 8) == 0x13) names_add(l, info.iana_name);
}

/* Which of `cands` the server accepts when offered alone. kind: 0 group,
 * 1 signature scheme. */
static void one_by_one(probe *p, uint16_t v, int kind, const char *const *cands, size_t n,
                       names *yes, const char *ciphers12)
{
    yes->n = 0;
    for (size_t i = 0; i < n; i++) {
        offer o = {0};
        o.vmin = o.vmax = v;
        if (kind == 0)
            o.groups = cands[i];
        else
            o.sigalgs = cands[i];
        if (v == HASP_TLS1_2) o.ciphers = ciphers12;
        result r;
        int rc = attempt(p, &o, &r);
        session_free_if(&r);
        if (rc == HASP_ERR_CONFIG) continue; /* hasp cannot offer it alone */
        if (rc != 0) continue;
        if (kind == 0 && strcmp(r.group, cands[i])) continue;
        if (kind == 1 && strcmp(r.sigalg, cands[i])) continue;
        names_add(yes, cands[i]);
    }
}

static int split_target(const char *target, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(target, ':');
    if (!colon || colon == target || !colon[1]) return -1;
    const char *h = target;
    size_t hl = (size_t)(colon - target);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hcap || strlen(colon + 1) >= pcap) return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    snprintf(port, pcap, "%s", colon + 1);
    return 0;
}

static void probe_usage(FILE *f)
{
    fprintf(f, "usage: hasp probe HOST:PORT [options]\n\n"
               "Connects several times and reports what the server supports: versions, suites\n"
               "in its order, groups, signature schemes, the certificate chain, resumption,\n"
               "renegotiation, ALPN.\n\n"
               "  --servername NAME    server name to send and verify (default: HOST)\n"
               "  --cafile FILE        trust anchors (PEM) instead of the system bundle\n"
               "  --capath DIR         a directory of trust anchors\n"
               "  --timeout SECONDS    per connection (default 5)\n"
               "  -h, --help           this help\n");
}

/* Resumption: a first connection that keeps its session, then a second
 * that offers it. */
static void resumption(probe *p, uint16_t v, int tickets, const char *label, const char *want)
{
    offer o = {0};
    o.vmin = o.vmax = v;
    o.no_tickets = !tickets;
    o.keep_session = 1;
    result a, b;
    if (attempt(p, &o, &a) != 0) {
        char why[600];
        refusal(&a, why, sizeof(why));
        row(label, "not testable (%s)", why);
        return;
    }
    if (!a.session || !hasp_session_resumable(a.session)) {
        row(label, "no (the first connection left no resumable session%s)",
            v == HASP_TLS1_3 ? ": no ticket arrived"
            : tickets        ? ""
                             : ": no session ID");
        session_free_if(&a);
        return;
    }
    offer o2 = o;
    o2.keep_session = 0;
    o2.resume = a.session;
    int rc = attempt(p, &o2, &b);
    if (rc != 0) {
        char why[600];
        refusal(&b, why, sizeof(why));
        row(label, "no (the resuming connection failed: %s)", why);
    } else if (b.resumed && !strcmp(b.resumed_how, want)) {
        row(label, "yes");
    } else if (b.resumed) {
        row(label, "no (resumed by %s instead)", b.resumed_how);
    } else {
        row(label, "no (the server made a full handshake)");
    }
    session_free_if(&a);
    session_free_if(&b);
}

int hasp_cmd_probe(int argc, char **argv)
{
    probe p;
    memset(&p, 0, sizeof(p));
    p.timeout_ms = 5000;
    const char *target = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            probe_usage(stdout);
            return 0;
        }
        if ((!strcmp(a, "--servername") || !strcmp(a, "--cafile") || !strcmp(a, "--CAfile") ||
             !strcmp(a, "--capath") || !strcmp(a, "--timeout")) &&
            !v) {
            fprintf(stderr, "hasp probe: %s needs a value; see 'hasp probe --help'\n", a);
            return 2;
        }
        if (!strcmp(a, "--servername"))
            p.servername = argv[++i];
        else if (!strcmp(a, "--cafile") || !strcmp(a, "--CAfile"))
            p.cafile = argv[++i];
        else if (!strcmp(a, "--capath"))
            p.cadir = argv[++i];
        else if (!strcmp(a, "--timeout")) {
            p.timeout_ms = (int)(atof(argv[++i]) * 1000);
            if (p.timeout_ms <= 0) {
                fprintf(stderr, "hasp probe: --timeout needs a positive number of seconds\n");
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "hasp probe: unknown option '%s'; see 'hasp probe --help'\n", a);
            return 2;
        } else if (target) {
            fprintf(stderr, "hasp probe: unexpected argument '%s'; see 'hasp probe --help'\n", a);
            return 2;
        } else
            target = a;
    }
    if (!target || split_target(target, p.host, sizeof(p.host), p.port, sizeof(p.port)) < 0) {
        fprintf(stderr, "hasp probe: %s%s%s; see 'hasp probe --help'\n",
                target ? "the target must be HOST:PORT, not '" : "HOST:PORT is required",
                target ? target : "", target ? "'" : "");
        return 2;
    }
    if (!p.servername) p.servername = p.host;
    printf("hasp probe %s:%s (server name %s)\n", p.host, p.port, p.servername);
    char why[800], buf[4096];

    /* The certificate, verified, with hasp's default offer. */
    offer o = {0};
    o.vmin = HASP_TLS1_2;
    o.vmax = HASP_TLS1_3;
    o.verify = 1;
    result base;
    attempt(&p, &o, &base);
    if (base.rc == HASP_ERR_IO && !base.have_cert && base.alert_recv < 0) {
        printf("error: %s\n", base.err);
        return 1;
    }

    /* versions */
    section("protocol versions");
    result r13, r12;
    o = (offer){0};
    o.vmin = o.vmax = HASP_TLS1_3;
    int has13 = attempt(&p, &o, &r13) == 0;
    refusal(&r13, why, sizeof(why));
    row("TLSv1.3", has13 ? "yes" : "no (%s)", why);
    names all12;
    suites12(&all12, NULL);
    names_join(&all12, buf, sizeof(buf), ":");
    o = (offer){0};
    o.vmin = o.vmax = HASP_TLS1_2;
    o.ciphers = buf;
    int has12 = attempt(&p, &o, &r12) == 0;
    refusal(&r12, why, sizeof(why));
    row("TLSv1.2", has12 ? "yes" : "no (%s)", why);
    old_version(&p, HASP_TLS1_1, buf, sizeof(buf));
    row("TLSv1.1", "%s", buf);
    old_version(&p, HASP_TLS1_0, buf, sizeof(buf));
    row("TLSv1.0", "%s", buf);
    if (!has13 && !has12) {
        printf("\nThe server accepted neither TLS 1.3 nor TLS 1.2 from hasp; nothing more to "
               "probe.\n");
        session_free_if(&base);
        return 1;
    }
    /* what hasp's default offer gets */
    result def;
    o = (offer){0};
    o.vmin = HASP_TLS1_2;
    o.vmax = HASP_TLS1_3;
    if (attempt(&p, &o, &def) == 0)
        row("hasp's default offer gets", "%s %s%s%s",
            def.version == HASP_TLS1_3 ? "TLSv1.3" : "TLSv1.2", def.cipher_name,
            def.group[0] ? " " : "", def.group);

    /* suites */
    names order, all13;
    char kind[200], stopped[600];
    if (has13) {
        section("cipher suites, TLSv1.3, in the server's order");
        suites13(&all13);
        suite_order(&p, 1, &all13, &order, kind, sizeof(kind), stopped, sizeof(stopped));
        for (int i = 0; i < order.n; i++)
            printf("  %d. %s\n", i + 1, order.v[i]);
        row("order", "%s", kind);
    }
    if (has12) {
        section("cipher suites, TLSv1.2, in the server's order");
        suite_order(&p, 0, &all12, &order, kind, sizeof(kind), stopped, sizeof(stopped));
        for (int i = 0; i < order.n; i++)
            printf("  %d. %s\n", i + 1, order.v[i]);
        row("order", "%s", kind);
    }

    /* groups */
    section("key exchange groups (each offered alone)");
    names yes, ec, dhe, both;
    suites12(&ec, "_ECDHE_");
    suites12(&dhe, "_DHE_");
    char ec_list[2048], dhe_list[1024], both_list[3072];
    names_join(&ec, ec_list, sizeof(ec_list), ":");
    names_join(&dhe, dhe_list, sizeof(dhe_list), ":");
    both = ec;
    for (int i = 0; i < dhe.n; i++)
        names_add(&both, dhe.v[i]);
    names_join(&both, both_list, sizeof(both_list), ":");
    if (has13) {
        one_by_one(&p, HASP_TLS1_3, 0, all_groups, NGROUPS13, &yes, NULL);
        names_join(&yes, buf, sizeof(buf), " ");
        row("TLSv1.3", "%s", yes.n ? buf : "none");
    }
    if (has12) {
        one_by_one(&p, HASP_TLS1_2, 0, GROUPS12_EC, NGROUPS12_EC, &yes, ec_list);
        names ff;
        one_by_one(&p, HASP_TLS1_2, 0, GROUPS12_FF, NGROUPS12_FF, &ff, dhe_list);
        for (int i = 0; i < ff.n; i++)
            names_add(&yes, ff.v[i]);
        names_join(&yes, buf, sizeof(buf), " ");
        row("TLSv1.2", "%s", yes.n ? buf : "none (no ECDHE or DHE)");
    }

    /* signature schemes */
    section("signature schemes for the server's key (each offered alone)");
    size_t nsig = sizeof(all_sigalgs) / sizeof(all_sigalgs[0]);
    if (has13) {
        one_by_one(&p, HASP_TLS1_3, 1, all_sigalgs, nsig, &yes, NULL);
        names_join(&yes, buf, sizeof(buf), " ");
        row("TLSv1.3", "%s", yes.n ? buf : "none");
    }
    if (has12) {
        one_by_one(&p, HASP_TLS1_2, 1, all_sigalgs, nsig, &yes, both_list);
        names_join(&yes, buf, sizeof(buf), " ");
        row("TLSv1.2", "%s", yes.n ? buf : "none (no ECDHE or DHE suite signs)");
    }

    /* the certificate */
    section("certificate chain");
    if (base.have_cert) {
        row("verdict", "%s", base.cert_code == 0 ? "ok" : hasp_err_name(base.cert_code));
        hasp_trace_print_chain(stdout, "  ", 1, base.cert_code, base.cert_sent, base.cert);
    } else if (base.rc == 0) {
        row("verdict", "%s", base.verify);
    } else {
        refusal(&base, why, sizeof(why));
        row("verdict", "not determined (%s)", why);
    }
    row("trust anchors", "%s",
        p.cafile  ? p.cafile
        : p.cadir ? p.cadir
                  : "the system bundle (no --cafile given)");

    /* resumption */
    section("session resumption");
    if (has12) {
        resumption(&p, HASP_TLS1_2, 0, "session ID (TLSv1.2)", "session-id");
        resumption(&p, HASP_TLS1_2, 1, "session ticket (TLSv1.2)", "ticket");
    }
    if (has13) resumption(&p, HASP_TLS1_3, 1, "PSK from a ticket (TLSv1.3)", "psk");

    /* renegotiation */
    if (has12) {
        section("renegotiation (TLSv1.2)");
        row("secure renegotiation", "%s", r12.secure_reneg ? "yes (RFC 5746)" : "no");
        if (r12.secure_reneg) {
            o = (offer){0};
            o.vmin = o.vmax = HASP_TLS1_2;
            o.renegotiate = 1;
            result rr;
            attempt(&p, &o, &rr);
            if (rr.rc != 0) {
                refusal(&rr, why, sizeof(why));
                row("client-initiated", "not testable (%s)", why);
            } else if (rr.reneg_rc == 0)
                row("client-initiated", "accepted");
            else if (rr.reneg_warning)
                row("client-initiated", "refused (no_renegotiation warning)");
            else
                row("client-initiated", "refused (%s)", rr.reneg_err);
            session_free_if(&rr);
        } else {
            row("client-initiated", "not tried (hasp renegotiates only with RFC 5746)");
        }
    }

    /* extensions */
    section("extensions");
    o = (offer){0};
    o.vmin = HASP_TLS1_2;
    o.vmax = HASP_TLS1_3;
    o.alpn = "h2,http/1.1";
    result ra;
    if (attempt(&p, &o, &ra) == 0)
        row("ALPN (offered h2,http/1.1)", "%s", ra.alpn[0] ? ra.alpn : "none chosen");
    else {
        refusal(&ra, why, sizeof(why));
        row("ALPN (offered h2,http/1.1)", "refused (%s)", why);
    }
    session_free_if(&ra);
    if (has12) {
        row("extended master secret", "%s", r12.ems ? "yes (RFC 7627)" : "no");
        row("encrypt-then-mac", "%s",
            r12.etm ? "yes (RFC 7366)" : "no (or not used: it applies to CBC suites only)");
    }
    printf("\nconnections made: %d\n", p.connections);
    session_free_if(&base);
    session_free_if(&r13);
    session_free_if(&r12);
    session_free_if(&def);
    return 0;
}
