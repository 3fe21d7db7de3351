/* The engine in memory: a hasp client and a hasp server in one process,
 * bytes handed over through buffers. Full handshakes for every suite,
 * data both ways, and the failures that must be detected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hasp.h"
#include "test.h"

static const char *certdir = "tests/out/certs";

static void pump_one(hasp_conn *from, hasp_conn *to, size_t chunk)
{
    const uint8_t *p;
    size_t n;
    while ((n = hasp_conn_output(from, &p)) > 0) {
        size_t k = n < chunk ? n : chunk;
        int t = hasp_conn_input(to, p, k);
        if (t <= 0) break;
        hasp_conn_output_done(from, (size_t)t);
    }
}

/* Run both handshakes to completion or failure. Returns 0 when both done. */
static int run_handshake(hasp_conn *cl, hasp_conn *sv, size_t chunk, int *crc, int *src)
{
    *crc = *src = HASP_WANT_POLLIN;
    for (int i = 0; i < 200; i++) {
        if (*crc == HASP_WANT_POLLIN) *crc = hasp_conn_handshake(cl);
        pump_one(cl, sv, chunk);
        if (*src == HASP_WANT_POLLIN) *src = hasp_conn_handshake(sv);
        pump_one(sv, cl, chunk);
        if (*crc != HASP_WANT_POLLIN && *src != HASP_WANT_POLLIN) break;
        /* one side failed: let the other see the alert */
        if ((*crc < 0 && *crc != HASP_WANT_POLLIN) || (*src < 0 && *src != HASP_WANT_POLLIN)) {
            if (*crc == HASP_WANT_POLLIN) *crc = hasp_conn_handshake(cl);
            if (*src == HASP_WANT_POLLIN) *src = hasp_conn_handshake(sv);
            if (i > 5) break;
        }
    }
    return (*crc == 0 && *src == 0) ? 0 : -1;
}

static char path_buf[4][512];
static const char *cpath(int slot, const char *name)
{
    snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", certdir, name);
    return path_buf[slot];
}

static hasp_config *server_config(const char *ciphers)
{
    hasp_config *cfg = hasp_config_new();
    if (hasp_config_add_cert_key_file(cfg, cpath(0, "rsa.pem"), cpath(1, "rsa.key")) < 0 ||
        hasp_config_add_cert_key_file(cfg, cpath(0, "ecdsa.pem"), cpath(1, "ecdsa.key")) < 0) {
        fprintf(stderr, "cannot load server certs: %s\n", hasp_config_errmsg(cfg));
        exit(1);
    }
    if (ciphers) hasp_config_set_ciphers(cfg, ciphers);
    return cfg;
}

static hasp_config *client_config(const char *ciphers)
{
    hasp_config *cfg = hasp_config_new();
    if (hasp_config_set_ca_file(cfg, cpath(0, "ca.pem")) < 0) {
        fprintf(stderr, "cannot load CA: %s\n", hasp_config_errmsg(cfg));
        exit(1);
    }
    if (ciphers) hasp_config_set_ciphers(cfg, ciphers);
    return cfg;
}

static int exchange(hasp_conn *a, hasp_conn *b, size_t len)
{
    uint8_t *msg = malloc(len), *got = malloc(len);
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    int ok = hasp_conn_write(a, msg, len) == (int)len;
    size_t have = 0;
    for (int i = 0; ok && have < len && i < 10000; i++) {
        pump_one(a, b, 1 << 20);
        int n = hasp_conn_read(b, got + have, len - have);
        if (n > 0)
            have += (size_t)n;
        else if (n != HASP_WANT_POLLIN)
            ok = 0;
    }
    ok = ok && have == len && memcmp(msg, got, len) == 0;
    free(msg);
    free(got);
    return ok;
}

static void test_suite(const char *name, const char *groups)
{
    hasp_config *scfg = server_config(name), *ccfg = client_config(name);
    if (groups) {
        hasp_config_set_groups(scfg, groups);
        hasp_config_set_groups(ccfg, groups);
    }
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    int crc, src;
    int ok = run_handshake(cl, sv, 1 << 20, &crc, &src) == 0;
    CHECK(ok, "handshake %s %s", name, groups ? groups : "");
    if (!ok)
        printf("#   client: %s\n#   server: %s\n", hasp_conn_errmsg(cl), hasp_conn_errmsg(sv));
    else {
        CHECK(!strcmp(hasp_conn_cipher_openssl_name(cl), name) ||
                  !strcmp(hasp_conn_cipher_name(cl), name),
              "negotiated %s (got %s)", name, hasp_conn_cipher_name(cl));
        CHECK(exchange(cl, sv, 40000), "client->server 40000 bytes with %s", name);
        CHECK(exchange(sv, cl, 20000), "server->client 20000 bytes with %s", name);
        /* idle: ciphers freed, rebuilt from the kept keys by the next record */
        hasp_conn_release_idle(cl);
        hasp_conn_release_idle(sv);
        CHECK(exchange(cl, sv, 3000) && exchange(sv, cl, 5000),
              "data both ways after hasp_conn_release_idle on both sides (%s)", name);
        hasp_conn_release_idle(sv);
        CHECK(exchange(sv, cl, 700) && exchange(cl, sv, 700),
              "the server released again, writing first (%s)", name);
        CHECK(hasp_conn_ems(cl) && hasp_conn_ems(sv), "extended master secret with %s", name);
        /* clean close both ways */
        hasp_conn_close(cl);
        pump_one(cl, sv, 1 << 20);
        uint8_t b[16];
        CHECK(hasp_conn_read(sv, b, sizeof(b)) == 0, "server sees close_notify (%s)", name);
        pump_one(sv, cl, 1 << 20);
        CHECK(hasp_conn_read(cl, b, sizeof(b)) == 0, "client sees the answering close_notify");
    }
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static void test_no_shared_suite(void)
{
    hasp_config *scfg = server_config("ECDHE-RSA-AES128-GCM-SHA256"),
                *ccfg = client_config("ECDHE-ECDSA-AES256-GCM-SHA384");
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    int crc, src;
    run_handshake(cl, sv, 1 << 20, &crc, &src);
    CHECK(src == HASP_ERR_HANDSHAKE, "no shared suite: server fails with HASP_ERR_HANDSHAKE (%s)",
          hasp_err_name(src));
    CHECK(hasp_conn_alert_sent(sv) == HASP_ALERT_HANDSHAKE_FAILURE,
          "no shared suite: server sends handshake_failure");
    CHECK(crc == HASP_ERR_PEER_ALERT && hasp_conn_alert_received(cl) == 40,
          "no shared suite: client receives handshake_failure(40)");
    CHECK(strstr(hasp_conn_errmsg(sv), "no cipher suite in common") != NULL,
          "no shared suite: the server says why: %s", hasp_conn_errmsg(sv));
    CHECK(strstr(hasp_conn_errmsg(cl), "handshake_failure(40)") != NULL,
          "no shared suite: the client names the alert: %s", hasp_conn_errmsg(cl));
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

/* Feed a server raw bytes; return its error and what it sent. */
static int server_eats(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    hasp_config *scfg = server_config(NULL);
    hasp_conn *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_input(sv, in, len);
    int rc = hasp_conn_handshake(sv);
    const uint8_t *p;
    size_t n = hasp_conn_output(sv, &p);
    if (out) {
        *out_len = n < *out_len ? n : *out_len;
        if (*out_len) memcpy(out, p, *out_len);
    }
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    return rc;
}

static void test_bad_input(void)
{
    uint8_t out[64];
    size_t out_len = sizeof(out);
    const char *http = "GET / HTTP/1.0\r\n\r\n";
    int rc = server_eats((const uint8_t *)http, strlen(http), out, &out_len);
    CHECK(rc == HASP_ERR_NOT_TLS, "HTTP to the server: HASP_ERR_NOT_TLS (%s)", hasp_err_name(rc));

    /* A TLS 1.0-only ClientHello */
    static const uint8_t tls10[] = {0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03,
                                    0x01, 1,    2,    3,    4,    5,    6,    7,    8,    9,
                                    10,   11,   12,   13,   14,   15,   16,   17,   18,   19,
                                    20,   21,   22,   23,   24,   25,   26,   27,   28,   29,
                                    30,   31,   32,   0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00};
    out_len = sizeof(out);
    rc = server_eats(tls10, sizeof(tls10), out, &out_len);
    CHECK(rc == HASP_ERR_VERSION, "TLS 1.0 hello: HASP_ERR_VERSION (%s)", hasp_err_name(rc));
    CHECK(out_len == 7 && out[0] == 21 && out[5] == 2 && out[6] == 70,
          "TLS 1.0 hello: fatal protocol_version(70) on the wire");

    /* ChangeCipherSpec first */
    static const uint8_t ccs[] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
    out_len = sizeof(out);
    rc = server_eats(ccs, sizeof(ccs), out, &out_len);
    CHECK(rc == HASP_ERR_UNEXPECTED && out_len == 7 && out[6] == 10,
          "ChangeCipherSpec first: unexpected_message(10) (%s)", hasp_err_name(rc));

    /* Application data first */
    static const uint8_t app[] = {0x17, 0x03, 0x03, 0x00, 0x02, 'h', 'i'};
    out_len = sizeof(out);
    rc = server_eats(app, sizeof(app), out, &out_len);
    CHECK(rc == HASP_ERR_UNEXPECTED, "application data before the handshake: unexpected_message");

    /* Oversized record */
    static const uint8_t big[] = {0x16, 0x03, 0x03, 0x48, 0x01, 0x01};
    out_len = sizeof(out);
    rc = server_eats(big, sizeof(big), out, &out_len);
    CHECK(rc == HASP_ERR_OVERFLOW && out_len == 7 && out[6] == 22,
          "oversized record: record_overflow(22) (%s)", hasp_err_name(rc));

    /* Zero-length handshake record */
    static const uint8_t empty[] = {0x16, 0x03, 0x03, 0x00, 0x00};
    rc = server_eats(empty, sizeof(empty), NULL, NULL);
    CHECK(rc == HASP_ERR_UNEXPECTED, "empty handshake record rejected (%s)", hasp_err_name(rc));

    /* A ClientHello with the null compression method missing */
    static const uint8_t nocomp[] = {0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03,
                                     0x03, 1,    2,    3,    4,    5,    6,    7,    8,    9,
                                     10,   11,   12,   13,   14,   15,   16,   17,   18,   19,
                                     20,   21,   22,   23,   24,   25,   26,   27,   28,   29,
                                     30,   31,   32,   0x00, 0x00, 0x02, 0xc0, 0x2f, 0x01, 0x01};
    out_len = sizeof(out);
    rc = server_eats(nocomp, sizeof(nocomp), out, &out_len);
    CHECK(rc == HASP_ERR_ILLEGAL_PARAM && out_len == 7 && out[6] == 47,
          "no null compression: illegal_parameter(47) (%s)", hasp_err_name(rc));

    /* Truncated ClientHello body inside a complete record */
    static const uint8_t trunc[] = {0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00,
                                    0x00, 0x04, 0x03, 0x03, 0x00, 0x00};
    out_len = sizeof(out);
    rc = server_eats(trunc, sizeof(trunc), out, &out_len);
    CHECK(rc == HASP_ERR_DECODE && out[6] == 50, "short ClientHello: decode_error(50) (%s)",
          hasp_err_name(rc));
}

static void test_tamper_finished(void)
{
    /* Flip a bit in the client's encrypted Finished: the server must refuse. */
    hasp_config *scfg = server_config("ECDHE-RSA-AES128-GCM-SHA256"),
                *ccfg = client_config("ECDHE-RSA-AES128-GCM-SHA256");
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    hasp_conn_handshake(cl);
    pump_one(cl, sv, 1 << 20);
    hasp_conn_handshake(sv);
    pump_one(sv, cl, 1 << 20);
    hasp_conn_handshake(cl); /* client's second flight: CKE, CCS, Finished */
    const uint8_t *p;
    size_t n = hasp_conn_output(cl, &p);
    uint8_t *copy = malloc(n);
    memcpy(copy, p, n);
    copy[n - 3] ^= 0x01; /* inside the Finished record */
    hasp_conn_output_done(cl, n);
    hasp_conn_input(sv, copy, n);
    int rc = hasp_conn_handshake(sv);
    CHECK(rc == HASP_ERR_BAD_MAC, "tampered Finished record: server fails (%s)", hasp_err_name(rc));
    CHECK(hasp_conn_alert_sent(sv) == HASP_ALERT_BAD_RECORD_MAC,
          "tampered Finished record: bad_record_mac(20) sent");
    free(copy);
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static void test_truncation_and_split(void)
{
    hasp_config *scfg = server_config(NULL), *ccfg = client_config(NULL);
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    int crc, src;
    /* byte-by-byte delivery: reassembly across records and fragments */
    int ok = run_handshake(cl, sv, 1, &crc, &src) == 0;
    for (int i = 0; !ok && i < 100000 && (crc == HASP_WANT_POLLIN || src == HASP_WANT_POLLIN); i++)
        ok = run_handshake(cl, sv, 1, &crc, &src) == 0;
    CHECK(ok, "handshake with input split into single bytes");
    hasp_conn_input_eof(sv);
    uint8_t b[8];
    int rc = hasp_conn_read(sv, b, sizeof(b));
    CHECK(rc == HASP_ERR_TRUNCATED, "EOF without close_notify is truncation (%s)",
          hasp_err_name(rc));
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static void test_verify_failures(void)
{
    /* Wrong host name */
    hasp_config *scfg = server_config(NULL), *ccfg = client_config(NULL);
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "wrong.example");
    int crc, src;
    run_handshake(cl, sv, 1 << 20, &crc, &src);
    CHECK(crc == HASP_ERR_CERT_NAME, "wrong host name: HASP_ERR_CERT_NAME (%s: %s)",
          hasp_err_name(crc), hasp_conn_errmsg(cl));
    CHECK(src == HASP_ERR_PEER_ALERT && hasp_conn_alert_received(sv) == 42,
          "wrong host name: server receives bad_certificate(42)");
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(ccfg);

    /* Untrusted root: a client with an empty custom trust store */
    ccfg = hasp_config_new();
    hasp_config_set_ca_file(ccfg, cpath(0, "other-ca.pem"));
    cl = hasp_conn_new(ccfg, HASP_CLIENT);
    sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    run_handshake(cl, sv, 1 << 20, &crc, &src);
    CHECK(crc == HASP_ERR_CERT_UNKNOWN_CA, "untrusted root: HASP_ERR_CERT_UNKNOWN_CA (%s: %s)",
          hasp_err_name(crc), hasp_conn_errmsg(cl));
    CHECK(hasp_conn_alert_sent(cl) == HASP_ALERT_UNKNOWN_CA, "untrusted root: unknown_ca(48) sent");
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(ccfg);

    /* Verify depth: the server sends leaf + intermediate (one intermediate). */
    for (int depth = 0; depth <= 1; depth++) {
        ccfg = client_config(NULL);
        CHECK(hasp_config_set_verify_depth(ccfg, depth) == 0, "verify depth %d accepted", depth);
        CHECK(hasp_config_set_verify_profile(ccfg, HASP_X509_PROFILE_RFC5280) == 0,
              "rfc5280 profile accepted");
        cl = hasp_conn_new(ccfg, HASP_CLIENT);
        sv = hasp_conn_new(scfg, HASP_SERVER);
        hasp_conn_set_servername(cl, "localhost");
        int rc = run_handshake(cl, sv, 1 << 20, &crc, &src);
        if (depth == 0)
            CHECK(crc == HASP_ERR_CERT_PATH_LEN &&
                      strstr(hasp_conn_errmsg(cl), "maximum depth of 0 intermediates"),
                  "verify depth 0 refuses the intermediate (%s)", hasp_conn_errmsg(cl));
        else
            CHECK(rc == 0, "verify depth 1, rfc5280 profile: handshake completes (%s)",
                  hasp_conn_errmsg(cl));
        hasp_conn_free(cl);
        hasp_conn_free(sv);
        hasp_config_free(ccfg);
    }
    ccfg = hasp_config_new();
    CHECK(hasp_config_set_verify_depth(ccfg, 256) == HASP_ERR_USAGE &&
              strstr(hasp_config_errmsg(ccfg), "0 to 255"),
          "verify depth 256 refused (%s)", hasp_config_errmsg(ccfg));
    CHECK(hasp_config_set_verify_depth(ccfg, -1) == HASP_ERR_USAGE, "verify depth -1 refused");
    CHECK(hasp_config_set_verify_profile(ccfg, 7) == HASP_ERR_USAGE, "verify profile 7 refused");
    CHECK(hasp_config_set_crl_check(ccfg, 3) == HASP_ERR_USAGE, "CRL check mode 3 refused");
    CHECK(hasp_config_add_crl_mem(ccfg, (const uint8_t *)"not a CRL", 9) == HASP_ERR_CONFIG &&
              strstr(hasp_config_errmsg(ccfg), "cannot load CRLs"),
          "a non-CRL refused (%s)", hasp_config_errmsg(ccfg));
    hasp_config_free(ccfg);

    /* insecure: no verification at all, explicitly */
    ccfg = hasp_config_new();
    hasp_config_insecure_noverifycert(ccfg);
    cl = hasp_conn_new(ccfg, HASP_CLIENT);
    sv = hasp_conn_new(scfg, HASP_SERVER);
    CHECK(run_handshake(cl, sv, 1 << 20, &crc, &src) == 0,
          "verification disabled explicitly: handshake completes");
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(ccfg);
    hasp_config_free(scfg);
}

/* TLS 1.3: one suite, one certificate type (through the server's sigalgs), optional groups. */
static void test_tls13(const char *suite, const char *server_sigalgs, const char *cgroups,
                       const char *sgroups, int expect_hrr)
{
    hasp_config *scfg = server_config(suite), *ccfg = client_config(suite);
    if (server_sigalgs) hasp_config_set_sigalgs(ccfg, server_sigalgs);
    if (cgroups) hasp_config_set_groups(ccfg, cgroups);
    if (sgroups) hasp_config_set_groups(scfg, sgroups);
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    int crc, src;
    int ok = run_handshake(cl, sv, 1 << 20, &crc, &src) == 0;
    CHECK(ok, "TLS 1.3 handshake %s %s %s/%s", suite, server_sigalgs ? server_sigalgs : "",
          cgroups ? cgroups : "", sgroups ? sgroups : "");
    if (!ok)
        printf("#   client: %s\n#   server: %s\n", hasp_conn_errmsg(cl), hasp_conn_errmsg(sv));
    else {
        CHECK(hasp_conn_version(cl) == HASP_TLS1_3 && hasp_conn_version(sv) == HASP_TLS1_3,
              "TLS 1.3 negotiated (%s)", hasp_conn_version_name(cl));
        CHECK(!strcmp(hasp_conn_cipher_name(cl), suite), "TLS 1.3 suite %s (got %s)", suite,
              hasp_conn_cipher_name(cl));
        CHECK(exchange(cl, sv, 50000), "TLS 1.3 client->server 50000 bytes (%s)", suite);
        CHECK(exchange(sv, cl, 30000), "TLS 1.3 server->client 30000 bytes (%s)", suite);
        if (sgroups)
            CHECK(
                !strcmp(hasp_conn_group_name(cl), sgroups) ||
                    (!strcmp(sgroups, "P-384") && !strcmp(hasp_conn_group_name(cl), "secp384r1")) ||
                    (!strcmp(sgroups, "P-256") && !strcmp(hasp_conn_group_name(cl), "secp256r1")),
                "TLS 1.3 group %s (got %s)%s", sgroups, hasp_conn_group_name(cl),
                expect_hrr ? " after HelloRetryRequest" : "");
        /* a full record read into a buffer of exactly its data size (the split decrypt) */
        {
            static uint8_t out[16384], in[16384];
            for (size_t i = 0; i < sizeof(out); i++)
                out[i] = (uint8_t)(i * 13);
            int w = hasp_conn_write(sv, out, sizeof(out));
            pump_one(sv, cl, 1 << 20);
            int r = hasp_conn_read(cl, in, sizeof(in));
            CHECK(w == 16384 && r == 16384 && !memcmp(in, out, sizeof(in)),
                  "TLS 1.3 record read into a 16384-byte buffer (%s)", suite);
        }
        /* KeyUpdate both ways, one asking the peer to update too */
        hasp_conn_release_idle(cl);
        hasp_conn_release_idle(sv);
        CHECK(hasp_conn_key_update(cl, 1) == 0, "client KeyUpdate(update_requested), both idle");
        CHECK(exchange(cl, sv, 1000), "data after the client's KeyUpdate");
        CHECK(exchange(sv, cl, 1000), "data after the server's answering KeyUpdate");
        CHECK(hasp_conn_key_update(sv, 0) == 0, "server KeyUpdate(update_not_requested)");
        CHECK(exchange(sv, cl, 1000), "data after the server's own KeyUpdate");
        hasp_conn_close(cl);
        pump_one(cl, sv, 1 << 20);
        uint8_t b[16];
        CHECK(hasp_conn_read(sv, b, sizeof(b)) == 0, "TLS 1.3 close_notify seen by the server");
    }
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static void test_version_fallback(void)
{
    /* A TLS 1.3 client and a TLS 1.2-only server agree on 1.2 without a false downgrade alarm. */
    hasp_config *scfg = server_config(NULL), *ccfg = client_config(NULL);
    hasp_config_set_versions(scfg, HASP_TLS1_2, HASP_TLS1_2);
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    int crc, src;
    CHECK(run_handshake(cl, sv, 1 << 20, &crc, &src) == 0 && hasp_conn_version(cl) == HASP_TLS1_2,
          "TLS 1.3 client falls back to a TLS 1.2-only server (%s)", hasp_conn_errmsg(cl));
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
    /* A TLS 1.3-only client refuses a TLS 1.2-only server */
    scfg = server_config(NULL);
    ccfg = client_config(NULL);
    hasp_config_set_versions(scfg, HASP_TLS1_2, HASP_TLS1_2);
    hasp_config_set_versions(ccfg, HASP_TLS1_3, HASP_TLS1_3);
    cl = hasp_conn_new(ccfg, HASP_CLIENT);
    sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    run_handshake(cl, sv, 1 << 20, &crc, &src);
    CHECK(src == HASP_ERR_VERSION && hasp_conn_alert_received(cl) == HASP_ALERT_PROTOCOL_VERSION,
          "TLS 1.3-only client vs TLS 1.2-only server: protocol_version (%s / %s)",
          hasp_err_name(src), hasp_conn_errmsg(sv));
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

/* One connection on the given configs, optionally resuming; returns the session it made. */
static hasp_session *one_conn(hasp_config *scfg, hasp_config *ccfg, const hasp_session *offer,
                              int clean_close, const char **how, int *ok)
{
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    if (offer) hasp_conn_set_session(cl, offer);
    int crc, src;
    *ok = run_handshake(cl, sv, 1 << 20, &crc, &src) == 0;
    if (!*ok)
        printf("#   client: %s\n#   server: %s\n", hasp_conn_errmsg(cl), hasp_conn_errmsg(sv));
    *how = hasp_conn_resumed(cl) && hasp_conn_resumed(sv) ? hasp_conn_resumed_how(cl) : "no";
    /* data both ways (TLS 1.3 tickets arrive with it) */
    *ok = *ok && exchange(sv, cl, 100) && exchange(cl, sv, 100);
    uint8_t b[16];
    if (clean_close) {
        hasp_conn_close(cl);
        pump_one(cl, sv, 1 << 20);
        hasp_conn_read(sv, b, sizeof(b));
        pump_one(sv, cl, 1 << 20);
        hasp_conn_read(cl, b, sizeof(b));
    } else {
        /* the transport dies: both see EOF without close_notify */
        hasp_conn_input_eof(sv);
        hasp_conn_read(sv, b, sizeof(b));
        hasp_conn_input_eof(cl);
        hasp_conn_read(cl, b, sizeof(b));
    }
    hasp_session *s = hasp_conn_get_session(cl);
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    return s;
}

static void test_resumption(const char *label, uint16_t version, int tickets, const char *want)
{
    hasp_config *scfg = server_config(NULL), *ccfg = client_config(NULL);
    hasp_config_set_versions(ccfg, version, version);
    hasp_config_set_tickets(ccfg, tickets, 2);
    const char *how;
    int ok;
    hasp_session *s = one_conn(scfg, ccfg, NULL, 1, &how, &ok);
    CHECK(ok && s && hasp_session_resumable(s), "%s: first handshake gives a session", label);
    if (!s) goto out;
    /* through bytes, as --sess-out / --sess-in do */
    size_t len = 0;
    hasp_session_to_bytes(s, NULL, 0, &len);
    uint8_t *bytes = malloc(len);
    hasp_session_to_bytes(s, bytes, len, &len);
    hasp_session *s2 = hasp_session_from_bytes(bytes, len);
    free(bytes);
    CHECK(s2 != NULL, "%s: session survives a round trip through bytes", label);
    hasp_session *s3 = one_conn(scfg, ccfg, s2, 1, &how, &ok);
    CHECK(ok && !strcmp(how, want), "%s: second handshake resumed by %s (got %s)", label, want,
          how);
    hasp_session_free(s3);
    /* a connection that ends without close_notify leaves no resumable session */
    hasp_session *s4 = one_conn(scfg, ccfg, s2, 0, &how, &ok);
    CHECK(s4 == NULL, "%s: no session from a connection closed without close_notify", label);
    hasp_session_free(s4);
    {
        /* and the server forgot it (cache entry removed, ticket revoked): a client that
         * still holds it gets a full handshake */
        hasp_session *t1 = one_conn(scfg, ccfg, NULL, 1, &how, &ok);
        hasp_session *t2 = one_conn(scfg, ccfg, t1, 0, &how, &ok); /* resumed, then truncated */
        hasp_session *t3 = one_conn(scfg, ccfg, t1, 1, &how, &ok);
        CHECK(ok && !strcmp(how, "no"),
              "%s: the server does not resume a session whose connection was truncated (got %s)",
              label, how);
        hasp_session_free(t1);
        hasp_session_free(t2);
        hasp_session_free(t3);
    }
    hasp_session_free(s2);
    hasp_session_free(s);
out:
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

/* hasp_config_set_ticket_keys: two server configs (two machines) with one key
 * list open each other's tickets; rotation keeps old tickets until their key
 * is dropped; bad lists are refused. */
static void test_shared_ticket_keys(uint16_t version, const char *want)
{
    const char *label = version == HASP_TLS1_3 ? "TLS 1.3" : "TLS 1.2";
    uint8_t k1[80], k2[80], both[160];
    for (size_t i = 0; i < sizeof(k1); i++) {
        k1[i] = (uint8_t)(i * 7 + 1);
        k2[i] = (uint8_t)(i * 13 + 5);
    }
    memcpy(both, k2, 80);
    memcpy(both + 80, k1, 80);
    hasp_config *a = server_config(NULL), *b = server_config(NULL), *ccfg = client_config(NULL);
    hasp_config_set_versions(ccfg, version, version);
    CHECK(hasp_config_set_ticket_keys(a, k1, 1, 80) == 0 &&
              hasp_config_set_ticket_keys(b, k1, 1, 80) == 0,
          "%s: one 80-byte ticket key set on two servers", label);
    const char *how;
    int ok;
    hasp_session *s = one_conn(a, ccfg, NULL, 1, &how, &ok);
    hasp_session *r = s ? one_conn(b, ccfg, s, 1, &how, &ok) : NULL;
    CHECK(ok && !strcmp(how, want), "%s: a ticket from server A resumes on server B (%s)", label,
          how);
    hasp_session_free(r);
    /* a server with keys of its own does not open it */
    hasp_config *c = server_config(NULL);
    r = s ? one_conn(c, ccfg, s, 1, &how, &ok) : NULL;
    CHECK(ok && !strcmp(how, "no"),
          "%s: a server with other ticket keys makes a full handshake (%s)", label, how);
    hasp_session_free(r);
    hasp_config_free(c);
    /* rotation: k2 first, k1 still opens */
    CHECK(hasp_config_set_ticket_keys(b, both, 2, 80) == 0, "%s: rotate to (k2, k1)", label);
    r = s ? one_conn(b, ccfg, s, 1, &how, &ok) : NULL;
    CHECK(ok && !strcmp(how, want), "%s: after the rotation the old ticket still resumes (%s)",
          label, how);
    hasp_session_free(r);
    CHECK(hasp_config_set_ticket_keys(b, k2, 1, 80) == 0, "%s: drop k1", label);
    r = s ? one_conn(b, ccfg, s, 1, &how, &ok) : NULL;
    CHECK(ok && !strcmp(how, "no"), "%s: with k1 dropped the old ticket gets a full handshake (%s)",
          label, how);
    hasp_session_free(r);
    hasp_session_free(s);
    /* refused lists: the keys in use stay */
    CHECK(hasp_config_set_ticket_keys(b, k1, 1, 32) == HASP_ERR_USAGE &&
              strstr(hasp_config_errmsg(b), "48 or 80 bytes"),
          "%s: a 32-byte key is refused (%s)", label, hasp_config_errmsg(b));
    uint8_t same[96];
    memcpy(same, k1, 48);
    memcpy(same + 48, k1, 48);
    CHECK(hasp_config_set_ticket_keys(b, same, 2, 48) == HASP_ERR_USAGE &&
              strstr(hasp_config_errmsg(b), "same name"),
          "%s: two keys with one name are refused (%s)", label, hasp_config_errmsg(b));
    CHECK(hasp_config_set_ticket_keys(b, k1, 0, 80) == HASP_ERR_USAGE,
          "%s: an empty list is refused", label);
    CHECK(hasp_config_rotate_ticket_key(b) == HASP_ERR_USAGE &&
              strstr(hasp_config_errmsg(b), "come from outside"),
          "%s: hasp_config_rotate_ticket_key refuses keys set from outside (%s)", label,
          hasp_config_errmsg(b));
    s = one_conn(b, ccfg, NULL, 1, &how, &ok);
    r = s ? one_conn(b, ccfg, s, 1, &how, &ok) : NULL;
    CHECK(ok && !strcmp(how, want), "%s: after the refusals k2 still issues and opens (%s)", label,
          how);
    hasp_session_free(r);
    hasp_session_free(s);
    hasp_config_free(a);
    hasp_config_free(b);
    hasp_config_free(ccfg);
}

static void test_psk_after_hrr(void)
{
    /* the client's first key share (x25519) is not taken: every handshake goes through HRR */
    hasp_config *scfg = server_config(NULL), *ccfg = client_config(NULL);
    hasp_config_set_groups(scfg, "P-256");
    const char *how;
    int ok;
    hasp_session *s = one_conn(scfg, ccfg, NULL, 1, &how, &ok);
    hasp_session *r = one_conn(scfg, ccfg, s, 1, &how, &ok);
    CHECK(ok && !strcmp(how, "psk"), "TLS 1.3 PSK resumption through a HelloRetryRequest (%s)",
          how);
    hasp_session_free(s);
    hasp_session_free(r);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static void test_ticket_policy_and_limits(void)
{
    hasp_config *scfg = server_config(NULL), *ccfg = client_config(NULL);
    hasp_config_set_ticket_single_use(scfg, 1);
    const char *how;
    int ok;
    hasp_session *s = one_conn(scfg, ccfg, NULL, 1, &how, &ok);
    hasp_session *a = one_conn(scfg, ccfg, s, 1, &how, &ok);
    CHECK(ok && !strcmp(how, "psk"), "single-use ticket: first use resumes (%s)", how);
    hasp_session *b = one_conn(scfg, ccfg, s, 1, &how, &ok);
    CHECK(ok && !strcmp(how, "no"), "single-use ticket: second use gets a full handshake (%s)",
          how);
    hasp_session_free(s);
    hasp_session_free(a);
    hasp_session_free(b);
    /* a chain longer than the limit */
    hasp_limits lim;
    hasp_config_get_limits(ccfg, &lim);
    lim.max_chain_len = 1;
    CHECK(hasp_config_set_limits(ccfg, &lim) == 0, "limits can be set");
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    int crc, src;
    run_handshake(cl, sv, 1 << 20, &crc, &src);
    CHECK(crc == HASP_ERR_LIMIT && strstr(hasp_conn_errmsg(cl), "more than 1 certificates"),
          "chain length limit enforced (%s)", hasp_conn_errmsg(cl));
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    lim.max_chain_len = 10;
    lim.max_handshake_size = 1024;
    hasp_config_set_limits(ccfg, &lim);
    cl = hasp_conn_new(ccfg, HASP_CLIENT);
    sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    run_handshake(cl, sv, 1 << 20, &crc, &src);
    CHECK(crc == HASP_ERR_LIMIT && strstr(hasp_conn_errmsg(cl), "limit"),
          "handshake message size limit enforced (%s)", hasp_conn_errmsg(cl));
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    hasp_config_free(scfg);
    hasp_config_free(ccfg);
}

static void test_client_auth(uint16_t version, const char *vname)
{
    struct {
        const char *cert, *key;
        int mode;
        int want_ok;
        int want_alert;
        const char *label;
    } cases[] = {
        {"client-rsa.pem", "client-rsa.key", HASP_VERIFY_CLIENT_REQUIRE, 1, -1,
         "RSA client cert, required"},
        {"client-ecdsa.pem", "client-ecdsa.key", HASP_VERIFY_CLIENT_REQUIRE, 1, -1,
         "ECDSA client cert, required"},
        {NULL, NULL, HASP_VERIFY_CLIENT_OPTIONAL, 1, -1, "no client cert, optional"},
        {NULL, NULL, HASP_VERIFY_CLIENT_REQUIRE, 0,
         version == HASP_TLS1_3 ? HASP_ALERT_CERTIFICATE_REQUIRED : HASP_ALERT_HANDSHAKE_FAILURE,
         "no client cert, required"},
        {"bad-client.pem", "bad-client.key", HASP_VERIFY_CLIENT_OPTIONAL, 0, HASP_ALERT_UNKNOWN_CA,
         "untrusted client cert"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hasp_config *scfg = server_config(NULL), *ccfg = client_config(NULL);
        hasp_config_set_versions(ccfg, version, version);
        hasp_config_set_ca_file(scfg, cpath(0, "ca.pem"));
        hasp_config_set_verify_client(scfg, cases[i].mode);
        if (cases[i].cert)
            hasp_config_add_cert_key_file(ccfg, cpath(0, cases[i].cert), cpath(1, cases[i].key));
        hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
        hasp_conn_set_servername(cl, "localhost");
        int crc, src;
        int ok = run_handshake(cl, sv, 1 << 20, &crc, &src) == 0;
        if (version == HASP_TLS1_3 && ok && !cases[i].want_ok) {
            /* TLS 1.3: the client finishes first and learns of the refusal when it reads */
            uint8_t b[8];
            hasp_conn_read(cl, b, sizeof(b));
        }
        if (cases[i].want_ok)
            CHECK(ok && exchange(cl, sv, 100), "%s mutual TLS: %s (%s / %s)", vname, cases[i].label,
                  hasp_conn_errmsg(cl), hasp_conn_errmsg(sv));
        else
            CHECK(!ok && hasp_conn_alert_sent(sv) == cases[i].want_alert,
                  "%s mutual TLS: %s fails with %s (server: %s)", vname, cases[i].label,
                  hasp_alert_name(cases[i].want_alert), hasp_conn_errmsg(sv));
        if (cases[i].want_ok && cases[i].cert)
            CHECK(!strcmp(hasp_conn_verify_result(sv), "ok"),
                  "%s: the server verified the client (%s)", vname, hasp_conn_verify_result(sv));
        hasp_conn_free(cl);
        hasp_conn_free(sv);
        hasp_config_free(scfg);
        hasp_config_free(ccfg);
    }
}

/* Both sides read and write until the renegotiation is over. */
static int reneg_pump(hasp_conn *cl, hasp_conn *sv)
{
    uint8_t b[256];
    for (int i = 0; i < 50; i++) {
        pump_one(cl, sv, 1 << 20);
        int r = hasp_conn_read(sv, b, sizeof(b));
        if (r < 0 && r != HASP_WANT_POLLIN) return r;
        pump_one(sv, cl, 1 << 20);
        r = hasp_conn_handshake(cl);
        if (r < 0 && r != HASP_WANT_POLLIN) return r;
        r = hasp_conn_read(cl, b, sizeof(b));
        if (r < 0 && r != HASP_WANT_POLLIN) return r;
    }
    return 0;
}

static void test_renegotiation(void)
{
    hasp_config *scfg = server_config("ECDHE-RSA-AES128-GCM-SHA256"),
                *ccfg = client_config("ECDHE-RSA-AES128-GCM-SHA256");
    hasp_config_set_ca_file(scfg, cpath(0, "ca.pem"));
    hasp_config_add_cert_key_file(ccfg, cpath(0, "client-rsa.pem"), cpath(1, "client-rsa.key"));
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    int crc, src;
    run_handshake(cl, sv, 1 << 20, &crc, &src);
    CHECK(hasp_conn_secure_renegotiation(cl) && hasp_conn_secure_renegotiation(sv),
          "RFC 5746 negotiated");
    /* refused by default */
    CHECK(hasp_conn_renegotiate(cl) == 0, "client starts a renegotiation");
    pump_one(cl, sv, 1 << 20);
    uint8_t b[64];
    hasp_conn_read(sv, b, sizeof(b));
    pump_one(sv, cl, 1 << 20);
    int rc = hasp_conn_handshake(cl);
    CHECK(rc == HASP_ERR_NO_RENEGOTIATION, "the default server refuses with no_renegotiation (%s)",
          hasp_err_name(rc));
    CHECK(exchange(cl, sv, 500) && exchange(sv, cl, 500),
          "the connection goes on after the refusal");
    hasp_conn_free(cl);
    hasp_conn_free(sv);

    hasp_config_set_renegotiation(scfg, HASP_RENEGOTIATION_ALLOW, 3);
    hasp_config_set_renegotiation(ccfg, HASP_RENEGOTIATION_ALLOW, 3);
    cl = hasp_conn_new(ccfg, HASP_CLIENT);
    sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    run_handshake(cl, sv, 1 << 20, &crc, &src);
    CHECK(exchange(cl, sv, 1000), "data before the renegotiation");
    CHECK(hasp_conn_renegotiate(cl) == 0, "client-initiated renegotiation starts");
    /* data sent by the server while the client renegotiates is delivered */
    hasp_conn_write(sv, "during", 6);
    rc = reneg_pump(cl, sv);
    CHECK(rc == 0 && !hasp_conn_error(cl) && !hasp_conn_error(sv),
          "client-initiated renegotiation completes (%s / %s)", hasp_conn_errmsg(cl),
          hasp_conn_errmsg(sv));
    CHECK(exchange(cl, sv, 3000) && exchange(sv, cl, 3000), "data after the renegotiation");
    /* server-initiated, asking for a client certificate this time */
    hasp_conn_set_verify_client(sv, HASP_VERIFY_CLIENT_REQUIRE);
    CHECK(hasp_conn_renegotiate(sv) == 0, "server sends HelloRequest");
    rc = reneg_pump(cl, sv);
    CHECK(rc == 0 && !strcmp(hasp_conn_verify_result(sv), "ok"),
          "server-initiated renegotiation obtains and verifies a client certificate (%s; %s)",
          hasp_conn_verify_result(sv), hasp_conn_errmsg(sv));
    CHECK(exchange(cl, sv, 2000) && exchange(sv, cl, 2000), "data after the second renegotiation");
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
    hasp_suite_info info;
    for (size_t i = 0; hasp_suite_get(i, &info) == 0; i++) {
        if (!strncmp(info.iana_name, "TLS_AES", 7) || !strncmp(info.iana_name, "TLS_CHACHA", 10))
            continue; /* TLS 1.3 suites: their own tests */
        test_suite(info.openssl_name, NULL);
    }
    test_suite("ECDHE-ECDSA-AES128-GCM-SHA256", "x25519:P-256");
    test_suite("ECDHE-ECDSA-AES128-GCM-SHA256", "P-256");
    test_suite("ECDHE-RSA-AES256-GCM-SHA384", "P-384");
    test_suite("DHE-RSA-AES128-GCM-SHA256", "ffdhe2048");
    test_suite("DHE-RSA-AES128-GCM-SHA256", "ffdhe3072");
    const char *s13[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                         "TLS_CHACHA20_POLY1305_SHA256"};
    for (int i = 0; i < 3; i++) {
        test_tls13(s13[i], "ecdsa_secp256r1_sha256", NULL, NULL, 0);
        test_tls13(s13[i], "rsa_pss_rsae_sha256", NULL, NULL, 0);
    }
    test_tls13("TLS_AES_128_GCM_SHA256", NULL, "x25519:P-256:P-384", "P-384", 1);
    test_tls13("TLS_AES_128_GCM_SHA256", NULL, "P-256", "P-256", 0);
    test_tls13("TLS_AES_256_GCM_SHA384", NULL, "x25519:ffdhe2048", "ffdhe2048", 1);
    test_version_fallback();
    test_resumption("TLS 1.2 session ID", HASP_TLS1_2, 0, "session-id");
    test_resumption("TLS 1.2 ticket", HASP_TLS1_2, 1, "ticket");
    test_resumption("TLS 1.3 PSK", HASP_TLS1_3, 1, "psk");
    test_ticket_policy_and_limits();
    test_psk_after_hrr();
    test_shared_ticket_keys(HASP_TLS1_2, "ticket");
    test_shared_ticket_keys(HASP_TLS1_3, "psk");
    test_client_auth(HASP_TLS1_2, "TLS 1.2");
    test_client_auth(HASP_TLS1_3, "TLS 1.3");
    test_renegotiation();
    test_no_shared_suite();
    test_bad_input();
    test_tamper_finished();
    test_truncation_and_split();
    test_verify_failures();
    TEST_DONE();
}
