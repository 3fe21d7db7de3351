/* TLS 1.3 0-RTT early data and the PSK modes, in memory: accepted and
 * read before the client's Finished, refused for every reason the server
 * has (replay, ticket age, HelloRetryRequest, ALPN, disabled, tickets from
 * before it was enabled), skipped when refused, the size limit, and
 * psk_ke against psk_dhe_ke. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hasp.h"
#include "test.h"

static const char *certdir = "tests/out/certs";
static int64_t server_clock = 1800000000, client_clock = 1800000000;

static int64_t clock_cb(void *arg)
{
    return *(int64_t *)arg;
}

static void pump_one(hasp_conn *from, hasp_conn *to)
{
    const uint8_t *p;
    size_t n;
    while ((n = hasp_conn_output(from, &p)) > 0) {
        int t = hasp_conn_input(to, p, n);
        if (t <= 0) break;
        hasp_conn_output_done(from, (size_t)t);
    }
}

static int run_handshake(hasp_conn *cl, hasp_conn *sv, int *crc, int *src)
{
    *crc = *src = HASP_WANT_POLLIN;
    for (int i = 0; i < 50; i++) {
        if (*crc == HASP_WANT_POLLIN) *crc = hasp_conn_handshake(cl);
        pump_one(cl, sv);
        if (*src == HASP_WANT_POLLIN) *src = hasp_conn_handshake(sv);
        pump_one(sv, cl);
        if (*crc != HASP_WANT_POLLIN && *src != HASP_WANT_POLLIN) break;
    }
    return (*crc == 0 && *src == 0) ? 0 : -1;
}

static char path_buf[2][512];
static const char *cpath(int slot, const char *name)
{
    snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", certdir, name);
    return path_buf[slot];
}

static int eoed_seen;
static void count_events(void *arg, const hasp_event *ev)
{
    (void)arg;
    if ((ev->type == HASP_EV_MSG_RECV || ev->type == HASP_EV_MSG_SENT) && ev->msg_type == 5)
        eoed_seen++;
}

static hasp_config *server_config(uint32_t early)
{
    hasp_config *cfg = hasp_config_new();
    if (hasp_config_add_cert_key_file(cfg, cpath(0, "ecdsa.pem"), cpath(1, "ecdsa.key")) < 0) {
        fprintf(stderr, "cannot load server certs: %s\n", hasp_config_errmsg(cfg));
        exit(1);
    }
    hasp_config_set_time_cb(cfg, clock_cb, &server_clock);
    hasp_config_set_early_data(cfg, early);
    hasp_config_set_event_cb(cfg, count_events, NULL);
    return cfg;
}

static hasp_config *client_config(uint32_t early)
{
    hasp_config *cfg = hasp_config_new();
    if (hasp_config_set_ca_file(cfg, cpath(0, "ca.pem")) < 0) {
        fprintf(stderr, "cannot load CA: %s\n", hasp_config_errmsg(cfg));
        exit(1);
    }
    hasp_config_set_time_cb(cfg, clock_cb, &client_clock);
    hasp_config_set_early_data(cfg, early);
    return cfg;
}

/* Read what b has until len bytes came or nothing more does. */
static size_t read_all(hasp_conn *b, uint8_t *got, size_t len)
{
    size_t have = 0;
    for (int i = 0; have < len && i < 100; i++) {
        int n = hasp_conn_read(b, got + have, len - have);
        if (n > 0)
            have += (size_t)n;
        else
            break;
    }
    return have;
}

static void close_both(hasp_conn *cl, hasp_conn *sv)
{
    uint8_t b[64];
    hasp_conn_close(cl);
    pump_one(cl, sv);
    hasp_conn_read(sv, b, sizeof(b));
    pump_one(sv, cl);
    hasp_conn_read(cl, b, sizeof(b));
}

/* A full connection that reads the tickets: the session to resume. */
static hasp_session *first_session(hasp_config *scfg, hasp_config *ccfg)
{
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    int crc, src;
    hasp_session *s = NULL;
    if (run_handshake(cl, sv, &crc, &src) == 0) {
        uint8_t b[8];
        hasp_conn_write(sv, "hi", 2);
        pump_one(sv, cl);
        read_all(cl, b, 2);
        close_both(cl, sv);
        s = hasp_conn_get_session(cl);
    } else {
        printf("#   first: client %s / server %s\n", hasp_conn_errmsg(cl), hasp_conn_errmsg(sv));
    }
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    return s;
}

/* A resumed connection whose client writes `early` as 0-RTT; the server
 * reads what came early with hasp_conn_read_early. */
typedef struct {
    int wrote;            /* hasp_conn_write_early's result */
    int done;             /* both handshakes completed */
    int cstatus, sstatus; /* hasp_conn_early_data */
    char sreason[200];    /* the server's reason */
    char got[256];        /* early data the server read before the handshake was done */
    int got_before_done;  /* ... and it was before the server's handshake completed */
    char after[256];      /* what hasp_conn_read gave afterwards */
    const char *how;      /* resumption */
    int serr, salert;     /* the server's error and alert sent */
    hasp_session *next;   /* the client's session afterwards */
    uint8_t flight[4096]; /* the client's first flight, for replays */
    size_t flight_len;
} early_run;

static void resume_with_early(hasp_config *scfg, hasp_config *ccfg, const hasp_session *s,
                              const char *early, size_t early_len, early_run *r)
{
    memset(r, 0, sizeof(*r));
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    hasp_conn_set_session(cl, s);
    r->wrote = hasp_conn_write_early(cl, early, early_len);
    const uint8_t *p;
    size_t n = hasp_conn_output(cl, &p);
    if (n <= sizeof(r->flight)) {
        memcpy(r->flight, p, n);
        r->flight_len = n;
    }
    pump_one(cl, sv);
    /* the server reads early data before anything else happens */
    size_t have = 0;
    for (int i = 0; i < 10; i++) {
        int k = hasp_conn_read_early(sv, r->got + have, sizeof(r->got) - 1 - have);
        if (k > 0) {
            have += (size_t)k;
            r->got_before_done = !hasp_conn_handshake_done(sv);
            continue;
        }
        break;
    }
    pump_one(sv, cl);
    int crc, src;
    r->done = run_handshake(cl, sv, &crc, &src) == 0;
    r->cstatus = hasp_conn_early_data(cl);
    r->sstatus = hasp_conn_early_data(sv);
    snprintf(r->sreason, sizeof(r->sreason), "%s", hasp_conn_early_data_reason(sv));
    r->serr = hasp_conn_error(sv);
    r->salert = hasp_conn_alert_sent(sv);
    r->how = hasp_conn_resumed(cl) && hasp_conn_resumed(sv) ? "psk" : "no";
    if (r->done) {
        hasp_conn_write(cl, "+1rtt", 5);
        hasp_conn_write(sv, "ok", 2);
        pump_one(cl, sv);
        pump_one(sv, cl);
        uint8_t b[8];
        read_all(cl, b, 2);
        r->after[read_all(sv, (uint8_t *)r->after, sizeof(r->after) - 1)] = 0;
        close_both(cl, sv);
        r->next = hasp_conn_get_session(cl);
    } else {
        printf("#   client: %s\n#   server: %s\n", hasp_conn_errmsg(cl), hasp_conn_errmsg(sv));
    }
    hasp_conn_free(cl);
    hasp_conn_free(sv);
}

static void test_accepted(void)
{
    hasp_config *scfg = server_config(16384), *ccfg = client_config(16384);
    hasp_session *s = first_session(scfg, ccfg);
    CHECK(s && hasp_session_max_early_data(s) == 16384,
          "a ticket from a server with early data allows 16384 bytes (%u)",
          s ? hasp_session_max_early_data(s) : 0);
    if (!s) goto out;
    early_run r;
    eoed_seen = 0;
    resume_with_early(scfg, ccfg, s, "GET /early", 10, &r);
    CHECK(r.wrote == 10, "write_early takes the data (%d)", r.wrote);
    CHECK(!strcmp(r.got, "GET /early") && r.got_before_done,
          "the server reads the early data before its handshake completes ('%s')", r.got);
    CHECK(r.done && !strcmp(r.how, "psk"), "the handshake completes, resumed (%s)", r.how);
    CHECK(r.cstatus == HASP_EARLY_ACCEPTED && r.sstatus == HASP_EARLY_ACCEPTED,
          "both sides say early data was accepted (%d, %d)", r.cstatus, r.sstatus);
    CHECK(eoed_seen == 1, "EndOfEarlyData went through the handshake (%d)", eoed_seen);
    CHECK(!strcmp(r.after, "+1rtt"), "1-RTT data follows ('%s', %zu)", r.after, strlen(r.after));
    CHECK(r.next && hasp_session_max_early_data(r.next) == 16384,
          "the resumed connection's ticket allows early data again");

    /* a replay of the same first flight to another connection: refused */
    hasp_conn *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_input(sv, r.flight, r.flight_len);
    uint8_t b[64];
    int k = hasp_conn_read_early(sv, b, sizeof(b));
    CHECK(k == 0 && hasp_conn_early_data(sv) == HASP_EARLY_REJECTED &&
              strstr(hasp_conn_early_data_reason(sv), "already carried"),
          "a replayed ClientHello gets no early data (%d, %s)", k, hasp_conn_early_data_reason(sv));
    CHECK(hasp_conn_error(sv) == 0, "the replay is not an error: the handshake just cannot finish");
    hasp_conn_free(sv);

    /* without hasp_conn_read_early, early data comes first from hasp_conn_read */
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT);
    sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    hasp_conn_set_session(cl, r.next);
    int w1 = hasp_conn_write_early(cl, "ab", 2);
    int w2 = hasp_conn_write_early(cl, "cd", 2);
    int crc, src;
    int ok = run_handshake(cl, sv, &crc, &src) == 0;
    CHECK(hasp_conn_pending(sv) == 4,
          "unread early data counts in hasp_conn_pending after the handshake (%zu)",
          hasp_conn_pending(sv));
    hasp_conn_write(cl, "ef", 2);
    pump_one(cl, sv);
    char got[16] = {0};
    read_all(sv, (uint8_t *)got, 6);
    CHECK(ok && w1 == 2 && w2 == 2 && !strcmp(got, "abcdef"),
          "two early writes, then 1-RTT data, read in order through hasp_conn_read ('%s')", got);
    int late = hasp_conn_write_early(cl, "x", 1);
    CHECK(late == HASP_ERR_USAGE, "write_early after the handshake is refused (%d)", late);
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_session_free(r.next);
    hasp_session_free(s);
out:
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static void test_refusals(void)
{
    hasp_config *scfg = server_config(16384), *ccfg = client_config(16384);
    hasp_session *s = first_session(scfg, ccfg);
    if (!s) {
        CHECK(0, "a first session for the refusal tests");
        goto out;
    }
    early_run r;

    /* the client's clock runs 30 s ahead: its ticket age is off */
    client_clock += 30;
    resume_with_early(scfg, ccfg, s, "age", 3, &r);
    client_clock -= 30;
    CHECK(r.done && !strcmp(r.how, "psk") && r.sstatus == HASP_EARLY_REJECTED &&
              r.cstatus == HASP_EARLY_REJECTED && strstr(r.sreason, "ticket age"),
          "a ticket age 30 s off: resumed without early data (%s)", r.sreason);
    CHECK(r.got[0] == 0 && !strcmp(r.after, "+1rtt"),
          "the refused early data is skipped, never delivered ('%s' / '%s')", r.got, r.after);
    hasp_session_free(r.next);

    /* early data turned off on the server: refused and skipped */
    hasp_config_set_early_data(scfg, 0);
    resume_with_early(scfg, ccfg, s, "off", 3, &r);
    CHECK(r.done && r.sstatus == HASP_EARLY_REJECTED && strstr(r.sreason, "does not accept"),
          "a server without early data refuses it and completes (%s)", r.sreason);
    CHECK(r.next && hasp_session_max_early_data(r.next) == 0,
          "its tickets no longer allow early data");
    hasp_session_free(r.next);
    /* ... on again: tickets from before are refused (replays across a restart) */
    server_clock += 5;
    hasp_config_set_early_data(scfg, 16384);
    resume_with_early(scfg, ccfg, s, "old", 3, &r);
    CHECK(r.done && r.sstatus == HASP_EARLY_REJECTED && strstr(r.sreason, "before this server"),
          "a ticket issued before early data was enabled is refused (%s)", r.sreason);
    /* ... and its new ticket works */
    hasp_session *fresh = r.next;
    resume_with_early(scfg, ccfg, fresh, "new", 3, &r);
    CHECK(r.done && r.sstatus == HASP_EARLY_ACCEPTED && !strcmp(r.got, "new"),
          "a ticket issued after it is accepted ('%s')", r.got);
    hasp_session_free(r.next);
    hasp_session_free(fresh);
    hasp_session_free(s);

    /* HelloRetryRequest: the server only takes P-256, the client's first share is X25519 */
    hasp_config *hcfg = server_config(16384);
    hasp_config_set_groups(hcfg, "P-256");
    s = first_session(hcfg, ccfg);
    resume_with_early(hcfg, ccfg, s, "hrr", 3, &r);
    CHECK(r.done && !strcmp(r.how, "psk") && r.sstatus == HASP_EARLY_REJECTED &&
              r.cstatus == HASP_EARLY_REJECTED && strstr(r.sreason, "HelloRetryRequest"),
          "after a HelloRetryRequest: resumed, early data refused and skipped (%s)", r.sreason);
    hasp_session_free(r.next);
    hasp_session_free(s);
    hasp_config_free(hcfg);

    /* ALPN: the ticket was for h2, the second connection negotiates http/1.1 */
    hasp_config *acfg = server_config(16384);
    hasp_config_set_alpn(acfg, "h2,http/1.1");
    hasp_config *c1 = client_config(16384), *c2 = client_config(16384);
    hasp_config_set_alpn(c1, "h2");
    hasp_config_set_alpn(c2, "http/1.1");
    s = first_session(acfg, c1);
    resume_with_early(acfg, c2, s, "alpn", 4, &r);
    CHECK(r.done && r.sstatus == HASP_EARLY_REJECTED && strstr(r.sreason, "ALPN"),
          "a different ALPN protocol: early data refused (%s)", r.sreason);
    hasp_session_free(r.next);
    hasp_session_free(s);
    hasp_config_free(acfg);
    hasp_config_free(c1);
    hasp_config_free(c2);
out:
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static void test_limits_and_usage(void)
{
    hasp_config *scfg = server_config(1000), *ccfg = client_config(100000);
    hasp_session *s = first_session(scfg, ccfg);
    if (!s) {
        CHECK(0, "a first session for the limit tests");
        goto out;
    }
    static char big[20000];
    memset(big, 'x', sizeof(big));
    early_run r;
    resume_with_early(scfg, ccfg, s, big, sizeof(big), &r);
    CHECK(r.wrote == 1000 && r.sstatus == HASP_EARLY_ACCEPTED,
          "the client stops at the ticket's limit (%d of %zu)", r.wrote, sizeof(big));
    /* a client that ignores the limit: its session bytes claim more (a fresh ticket: the
     * first one already carried early data) */
    size_t len = 0;
    hasp_session_to_bytes(r.next, NULL, 0, &len);
    uint8_t *bytes = malloc(len);
    hasp_session_to_bytes(r.next, bytes, len, &len);
    hasp_session_free(r.next);
    bytes[len - 4] = 0, bytes[len - 3] = 1, bytes[len - 2] = 0, bytes[len - 1] = 0; /* 65536 */
    hasp_session *liar = hasp_session_from_bytes(bytes, len);
    free(bytes);
    CHECK(liar && hasp_session_max_early_data(liar) == 65536, "a session claiming 65536 bytes");
    resume_with_early(scfg, ccfg, liar, big, sizeof(big), &r);
    CHECK(!r.done && r.serr == HASP_ERR_UNEXPECTED && r.salert == 10,
          "more early data than advertised: unexpected_message(10) (%d, %d)", r.serr, r.salert);
    hasp_session_free(r.next);
    hasp_session_free(liar);

    /* usage */
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT);
    int rc = hasp_conn_write_early(cl, "x", 1);
    CHECK(rc == HASP_ERR_USAGE && strstr(hasp_conn_errmsg(cl), "allows no early data"),
          "write_early without a session: refused (%s)", hasp_conn_errmsg(cl));
    hasp_conn_free(cl);
    hasp_conn *sv = hasp_conn_new(scfg, HASP_SERVER);
    CHECK(hasp_conn_write_early(sv, "x", 1) == HASP_ERR_USAGE, "write_early on a server: refused");
    hasp_conn_free(sv);
    hasp_config *off = client_config(0);
    cl = hasp_conn_new(off, HASP_CLIENT);
    hasp_conn_set_servername(cl, "localhost");
    hasp_conn_set_session(cl, s);
    rc = hasp_conn_write_early(cl, "x", 1);
    CHECK(rc == HASP_ERR_USAGE && strstr(hasp_conn_errmsg(cl), "off"),
          "write_early with early data off on the client: refused (%s)", hasp_conn_errmsg(cl));
    /* ... and such a client never offers it: a plain resumption */
    hasp_conn *sv2 = hasp_conn_new(scfg, HASP_SERVER);
    int crc, src;
    int ok = run_handshake(cl, sv2, &crc, &src) == 0;
    CHECK(ok && hasp_conn_resumed(cl) && hasp_conn_early_data(sv2) == HASP_EARLY_NONE,
          "a client without early data resumes without offering it (%d %d %d: %s / %s)", ok,
          hasp_conn_resumed(cl), hasp_conn_early_data(sv2), hasp_conn_errmsg(cl),
          hasp_conn_errmsg(sv2));
    hasp_conn_free(cl);
    hasp_conn_free(sv2);
    hasp_config_free(off);
    hasp_session_free(s);
out:
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static const char *resume_how(hasp_config *scfg, hasp_config *ccfg, const char **group)
{
    static char how[16];
    hasp_session *s = first_session(scfg, ccfg);
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    if (s) hasp_conn_set_session(cl, s);
    int crc, src;
    int ok = run_handshake(cl, sv, &crc, &src) == 0;
    uint8_t b[4] = {0};
    ok = ok && hasp_conn_write(cl, "ping", 4) == 4;
    pump_one(cl, sv);
    ok = ok && read_all(sv, b, 4) == 4 && !memcmp(b, "ping", 4);
    snprintf(how, sizeof(how), "%s", !ok ? "failed" : hasp_conn_resumed(cl) ? "psk" : "full");
    const char *g = hasp_conn_group_name(cl);
    *group = g ? g : "none";
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_session_free(s);
    return how;
}

static void test_psk_modes(void)
{
    hasp_config *scfg = server_config(0), *ccfg = client_config(0);
    const char *g;
    CHECK(hasp_config_set_psk_modes(scfg, 0) == HASP_ERR_USAGE, "PSK modes: none is refused");
    hasp_config_set_psk_modes(scfg, HASP_PSK_KE);
    hasp_config_set_psk_modes(ccfg, HASP_PSK_KE);
    const char *how = resume_how(scfg, ccfg, &g);
    CHECK(!strcmp(how, "psk") && !strcmp(g, "none"),
          "psk_ke on both sides: resumed, no group (%s, %s)", how, g);
    hasp_config_set_psk_modes(ccfg, HASP_PSK_KE | HASP_PSK_DHE_KE);
    hasp_config_set_psk_modes(scfg, HASP_PSK_KE | HASP_PSK_DHE_KE);
    how = resume_how(scfg, ccfg, &g);
    CHECK(!strcmp(how, "psk") && !strcmp(g, "X25519MLKEM768"),
          "both modes on both sides: psk_dhe_ke preferred (%s, %s)", how, g);
    hasp_config_set_psk_modes(scfg, HASP_PSK_DHE_KE);
    hasp_config_set_psk_modes(ccfg, HASP_PSK_KE);
    how = resume_how(scfg, ccfg, &g);
    CHECK(!strcmp(how, "full"), "no common PSK mode: a full handshake (%s)", how);
    /* psk_ke with early data */
    hasp_config *s2 = server_config(100), *c2 = client_config(100);
    hasp_config_set_psk_modes(s2, HASP_PSK_KE);
    hasp_config_set_psk_modes(c2, HASP_PSK_KE);
    hasp_session *s = first_session(s2, c2);
    early_run r;
    resume_with_early(s2, c2, s, "ke", 2, &r);
    CHECK(r.done && r.sstatus == HASP_EARLY_ACCEPTED && !strcmp(r.got, "ke"),
          "psk_ke with early data ('%s')", r.got);
    hasp_session_free(r.next);
    hasp_session_free(s);
    hasp_config_free(s2);
    hasp_config_free(c2);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

/* Add an empty extension at the end of the ClientHello in a plaintext record. */
static size_t add_empty_ext(uint8_t *rec, size_t len, uint16_t type)
{
    /* record(5) | type(1) len(3) | version(2) random(32) | sid | suites | comp | exts */
    size_t off = 5 + 4 + 2 + 32;
    off += 1 + rec[off];
    off += 2 + ((size_t)rec[off] << 8 | rec[off + 1]);
    off += 1 + rec[off];
    size_t ext_len = (size_t)rec[off] << 8 | rec[off + 1];
    rec[len] = (uint8_t)(type >> 8), rec[len + 1] = (uint8_t)type, rec[len + 2] = 0,
    rec[len + 3] = 0;
    ext_len += 4;
    rec[off] = (uint8_t)(ext_len >> 8), rec[off + 1] = (uint8_t)ext_len;
    size_t hs = ((size_t)rec[6] << 16 | (size_t)rec[7] << 8 | rec[8]) + 4;
    rec[6] = (uint8_t)(hs >> 16), rec[7] = (uint8_t)(hs >> 8), rec[8] = (uint8_t)hs;
    size_t rl = ((size_t)rec[3] << 8 | rec[4]) + 4;
    rec[3] = (uint8_t)(rl >> 8), rec[4] = (uint8_t)rl;
    return len + 4;
}

static void test_hostile(void)
{
    /* a second ClientHello (after HelloRetryRequest) that offers early data */
    hasp_config *scfg = server_config(16384), *ccfg = client_config(0);
    hasp_config_set_groups(scfg, "P-256");
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    hasp_conn_handshake(cl);
    pump_one(cl, sv);
    hasp_conn_handshake(sv); /* HelloRetryRequest */
    pump_one(sv, cl);
    hasp_conn_handshake(cl); /* the second ClientHello */
    const uint8_t *p;
    size_t n = hasp_conn_output(cl, &p);
    static uint8_t rec[4096];
    /* the compatibility CCS (6 bytes) may come first */
    size_t skip = n > 6 && p[0] == 20 ? 6 : 0;
    int ok = n - skip + 4 <= sizeof(rec) && p[skip] == 22;
    if (ok) {
        memcpy(rec, p + skip, n - skip);
        size_t m = add_empty_ext(rec, n - skip, 42);
        hasp_conn_input(sv, rec, m);
        int rc = hasp_conn_handshake(sv);
        CHECK(rc == HASP_ERR_ILLEGAL_PARAM && hasp_conn_alert_sent(sv) == 47 &&
                  strstr(hasp_conn_errmsg(sv), "after a HelloRetryRequest"),
              "a second ClientHello with early_data: illegal_parameter(47) (%s)",
              hasp_conn_errmsg(sv));
    } else {
        CHECK(0, "the second ClientHello is a plaintext handshake record");
    }
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);

    /* early_data offered without a PSK: refused, the records skipped, up to the limit */
    scfg = server_config(0);
    ccfg = client_config(0);
    cl = hasp_conn_new(ccfg, HASP_CLIENT);
    sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    hasp_conn_handshake(cl);
    n = hasp_conn_output(cl, &p);
    memcpy(rec, p, n);
    hasp_conn_output_done(cl, n);
    n = add_empty_ext(rec, n, 42);
    hasp_conn_input(sv, rec, n);
    hasp_conn_handshake(sv);
    CHECK(hasp_conn_early_data(sv) == HASP_EARLY_REJECTED &&
              strstr(hasp_conn_early_data_reason(sv), "does not accept"),
          "early_data without a ticket: refused (%s)", hasp_conn_early_data_reason(sv));
    /* 20 records of 1000 bytes the server cannot read: more than 16 KiB */
    uint8_t junk[5 + 1000];
    junk[0] = 23, junk[1] = 3, junk[2] = 3, junk[3] = 1000 >> 8, junk[4] = 1000 & 0xff;
    memset(junk + 5, 0xab, 1000);
    int rc = HASP_WANT_POLLIN, k = 0;
    for (; k < 20 && rc == HASP_WANT_POLLIN; k++) {
        hasp_conn_input(sv, junk, sizeof(junk));
        rc = hasp_conn_handshake(sv);
    }
    CHECK(rc == HASP_ERR_BAD_MAC && k == 17 && hasp_conn_alert_sent(sv) == 20,
          "skipped records stop at 16 KiB: bad_record_mac(20) at record %d (%s)", k,
          hasp_conn_errmsg(sv));
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

int main(int argc, char **argv)
{
    if (argc > 1) certdir = argv[1];
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "bash tests/certs/gen.sh %s >/dev/null 2>&1", certdir);
    if (system(cmd) != 0) {
        printf("not ok - generating test certificates with tests/certs/gen.sh\n");
        return 1;
    }
    test_accepted();
    test_refusals();
    test_limits_and_usage();
    test_psk_modes();
    test_hostile();
    TEST_DONE();
}
