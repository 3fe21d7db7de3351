/* Writes the seed corpora of the fuzz targets from real handshakes: a
 * hasp client and a hasp server talk in memory, with the fuzz targets'
 * deterministic RNG (one stream per role) and the targets' own configs,
 * and every byte each side sends is recorded. Because the RNG is the
 * same, each recorded flight replays in the fuzz target to application
 * data; this program checks that it does.
 *
 * Usage: gen_corpus OUTDIR   (OUTDIR/<target>/<name> files; see
 * docs/robustness.md). Run by `make fuzz-corpus`. With --check OUTDIR it
 * only replays the recorded files (what `make fuzz-corpus` also does
 * after writing them). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/pem.h"
#include "fuzz_common.h"

static const char *outdir;
static int failures;

static void write_file(const char *target, const char *name, const uint8_t *p, size_t n)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/%s", outdir, target);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* ------------------------------------------------------------------ handshakes */

typedef struct rec {
    hasp_wr client_out, server_out;
} rec;

/* Move c's output to the peer, recording it. */
static void pump(hasp_conn *from, hasp_conn *to, hasp_wr *log)
{
    const uint8_t *p;
    size_t n;
    while ((n = hasp_conn_output(from, &p)) > 0) {
        int t = hasp_conn_input(to, p, n);
        if (t <= 0) break;
        wr_bytes(log, p, (size_t)t);
        hasp_conn_output_done(from, (size_t)t);
    }
}

static int client_step(hasp_conn *c)
{
    fz_rng_select(FZ_STREAM_CLIENT);
    return hasp_conn_handshake(c);
}

static int server_step(hasp_conn *c)
{
    fz_rng_select(FZ_STREAM_SERVER);
    return hasp_conn_handshake(c);
}

/* A whole connection: handshake, a request, a response, close_notify both
 * ways. Returns 0 when everything happened. */
static int converse(hasp_config *ccfg, hasp_config *scfg, rec *r, const char *name,
                    const hasp_session *offer, hasp_session **got)
{
    fz_rng_reset();
    r->client_out = hasp_wr_dyn();
    r->server_out = hasp_wr_dyn();
    hasp_conn *cl = hasp_conn_new(ccfg, HASP_CLIENT), *sv = hasp_conn_new(scfg, HASP_SERVER);
    hasp_conn_set_servername(cl, "localhost");
    if (offer) hasp_conn_set_session(cl, offer);
    int crc = HASP_WANT_POLLIN, src = HASP_WANT_POLLIN;
    for (int i = 0; i < 50 && (crc == HASP_WANT_POLLIN || src == HASP_WANT_POLLIN); i++) {
        if (crc == HASP_WANT_POLLIN) crc = client_step(cl);
        pump(cl, sv, &r->client_out);
        if (src == HASP_WANT_POLLIN) src = server_step(sv);
        pump(sv, cl, &r->server_out);
        if (crc < 0 && crc != HASP_WANT_POLLIN) break;
        if (src < 0 && src != HASP_WANT_POLLIN) break;
    }
    int ok = crc == 0 && src == 0;
    if (!ok) {
        fprintf(stderr, "gen_corpus: %s: handshake failed: client %s, server %s\n", name,
                hasp_conn_errmsg(cl), hasp_conn_errmsg(sv));
    } else {
        static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
        static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        uint8_t buf[256];
        fz_rng_select(FZ_STREAM_CLIENT);
        hasp_conn_write(cl, req, sizeof(req) - 1);
        pump(cl, sv, &r->client_out);
        fz_rng_select(FZ_STREAM_SERVER);
        ok &= hasp_conn_read(sv, buf, sizeof(buf)) == (int)sizeof(req) - 1;
        hasp_conn_write(sv, resp, sizeof(resp) - 1);
        pump(sv, cl, &r->server_out);
        fz_rng_select(FZ_STREAM_CLIENT);
        ok &= hasp_conn_read(cl, buf, sizeof(buf)) == (int)sizeof(resp) - 1;
        hasp_conn_close(cl);
        pump(cl, sv, &r->client_out);
        fz_rng_select(FZ_STREAM_SERVER);
        ok &= hasp_conn_read(sv, buf, sizeof(buf)) == 0; /* answers with its close_notify */
        pump(sv, cl, &r->server_out);
        if (!ok) fprintf(stderr, "gen_corpus: %s: the data exchange failed\n", name);
    }
    if (offer && ok && !hasp_conn_resumed(cl)) {
        fprintf(stderr, "gen_corpus: %s: the session was not resumed\n", name);
        ok = 0;
    }
    if (got) *got = ok ? hasp_conn_get_session(cl) : NULL;
    hasp_conn_free(cl);
    hasp_conn_free(sv);
    return ok ? 0 : -1;
}

/* Replay the recorded bytes through the fuzz target's loop: the handshake
 * must complete and the application data arrive. */
static void check_replay(const hasp_config *cfg, int role, const hasp_wr *bytes, const char *what,
                         int must_resume)
{
    fz_rng_reset();
    hasp_conn *c = hasp_conn_new(cfg, role);
    int stream = role == HASP_CLIENT ? FZ_STREAM_CLIENT : FZ_STREAM_SERVER;
    if (role == HASP_CLIENT) {
        hasp_conn_set_servername(c, "localhost");
        fz_rng_select(stream);
        hasp_conn_handshake(c);
    }
    fz_outcome o;
    fz_run(c, bytes->p, bytes->len, stream, &o);
    int ok =
        o.handshake_done && o.app_bytes > 0 && o.closed && (!must_resume || hasp_conn_resumed(c));
    printf("%s replay %s: handshake %s (%s %s%s), %zu bytes of data, close_notify %s\n",
           ok ? "ok  " : "FAIL", what, o.handshake_done ? "done" : hasp_err_name(o.handshake_rc),
           hasp_conn_version_name(c), hasp_conn_cipher_name(c),
           hasp_conn_resumed(c) ? ", resumed" : "", o.app_bytes, o.closed ? "yes" : "no");
    if (!ok) {
        printf("     %s\n", hasp_conn_errmsg(c));
        failures++;
    }
    hasp_conn_free(c);
}

typedef struct variant {
    const char *name;
    const char *ciphers;
    const char *groups;
    int cert; /* client: present a certificate; server: ask for one */
    const char *alpn;
    uint16_t max_version; /* 0: the default */
    int resume;           /* clients: record a second connection resuming the first's session */
} variant;

/* Set A: clients of every shape against the server target's config. */
static const variant clients[] = {
    {"ecdhe-ecdsa-aes128gcm-x25519", "ECDHE-ECDSA-AES128-GCM-SHA256", "x25519:P-256", 0, "h2", 0,
     0},
    {"ecdhe-rsa-aes256gcm-p256", "ECDHE-RSA-AES256-GCM-SHA384", "P-256", 0, NULL, 0, 0},
    {"ecdhe-rsa-chacha-p384", "ECDHE-RSA-CHACHA20-POLY1305", "P-384", 1, "http/1.1", 0, 0},
    {"ecdhe-ecdsa-chacha-x25519-cert", "ECDHE-ECDSA-CHACHA20-POLY1305", "x25519:P-256", 1, NULL, 0,
     0},
    {"dhe-rsa-aes128gcm-ffdhe2048", "DHE-RSA-AES128-GCM-SHA256", "ffdhe2048", 0, NULL, 0, 0},
    {"dhe-rsa-aes256-sha256-ffdhe3072", "DHE-RSA-AES256-SHA256", "ffdhe3072", 1, NULL, 0, 0},
    {"rsa-aes128gcm", "AES128-GCM-SHA256", NULL, 0, NULL, 0, 0},
    {"rsa-aes128-sha-cert", "AES128-SHA", NULL, 1, "h2", 0, 0},
    {"rsa-3des", "DES-CBC3-SHA", NULL, 0, NULL, 0, 0},
    {"ecdhe-rsa-aes128-sha-etm", "ECDHE-RSA-AES128-SHA", "x25519", 0, NULL, 0, 0},
    {"ecdhe-ecdsa-aes256-sha", "ECDHE-ECDSA-AES256-SHA", "P-256", 0, NULL, 0, 0},
    {"default", NULL, NULL, 0, NULL, 0, 0},
    {"all", "ALL", "x25519:P-256:P-384:ffdhe2048:ffdhe3072", 1, "h2,http/1.1", 0, 0},
    {"tls12-default", NULL, NULL, 0, NULL, HASP_TLS1_2, 0},
    {"tls13-aes128gcm-x25519", "TLS_AES_128_GCM_SHA256", "x25519", 0, "h2", HASP_TLS1_3, 0},
    {"tls13-aes256gcm-p384-cert", "TLS_AES_256_GCM_SHA384", "P-384", 1, NULL, HASP_TLS1_3, 0},
    {"tls13-chacha-ffdhe2048", "TLS_CHACHA20_POLY1305_SHA256", "ffdhe2048", 0, NULL, HASP_TLS1_3,
     0},
    {"tls13-p256", NULL, "P-256", 1, "http/1.1", HASP_TLS1_3, 0},
    {"tls12-ticket", "ECDHE-RSA-AES128-GCM-SHA256", NULL, 0, NULL, HASP_TLS1_2, 1},
    {"tls12-ticket-cbc", "ECDHE-ECDSA-AES128-SHA", NULL, 0, "h2", HASP_TLS1_2, 1},
    {"tls13-psk", NULL, NULL, 0, NULL, HASP_TLS1_3, 1},
    {"tls13-psk-chacha", "TLS_CHACHA20_POLY1305_SHA256", "P-256", 0, NULL, HASP_TLS1_3, 1},
};

/* Set B: servers of every shape against the client target's config. */
static const variant servers[] = {
    {"default", NULL, NULL, 0, NULL, 0, 0},
    {"ecdhe-ecdsa-aes256gcm-p384", "ECDHE-ECDSA-AES256-GCM-SHA384", "P-384", 0, NULL, 0, 0},
    {"ecdhe-rsa-aes128gcm-p256-certreq", "ECDHE-RSA-AES128-GCM-SHA256", "P-256", 1, NULL, 0, 0},
    {"ecdhe-ecdsa-chacha-x25519", "ECDHE-ECDSA-CHACHA20-POLY1305", "x25519", 0, "h2", 0, 0},
    {"dhe-rsa-chacha-ffdhe2048", "DHE-RSA-CHACHA20-POLY1305", "ffdhe2048", 0, NULL, 0, 0},
    {"dhe-rsa-aes128-sha-ffdhe3072-certreq", "DHE-RSA-AES128-SHA", "ffdhe3072", 1, NULL, 0, 0},
    {"rsa-aes256gcm", "AES256-GCM-SHA384", NULL, 0, "http/1.1", 0, 0},
    {"rsa-aes256-sha256-certreq", "AES256-SHA256", NULL, 1, NULL, 0, 0},
    {"ecdhe-rsa-aes256-sha-etm", "ECDHE-RSA-AES256-SHA", "x25519", 0, NULL, 0, 0},
    {"ecdhe-ecdsa-aes128-sha256", "ECDHE-ECDSA-AES128-SHA256", "P-256", 1, NULL, 0, 0},
    {"tls12-default", NULL, NULL, 0, NULL, HASP_TLS1_2, 0},
    {"tls13-aes256gcm", "TLS_AES_256_GCM_SHA384", NULL, 0, "h2", HASP_TLS1_3, 0},
    {"tls13-chacha-certreq", "TLS_CHACHA20_POLY1305_SHA256", NULL, 1, NULL, HASP_TLS1_3, 0},
    {"tls13-hrr-p256", NULL, "P-256", 0, NULL, HASP_TLS1_3, 0},
    {"tls13-hrr-ffdhe3072-certreq", NULL, "ffdhe3072", 1, NULL, HASP_TLS1_3, 0},
};

static void set_version(hasp_config *cfg, const variant *v)
{
    if (v->max_version)
        fz_check(hasp_config_set_versions(cfg, v->max_version, v->max_version), cfg, "versions");
    if (v->ciphers && !strncmp(v->ciphers, "TLS_", 4))
        fz_check(hasp_config_set_ciphersuites13(cfg, v->ciphers), cfg, v->ciphers);
    else if (v->ciphers)
        fz_check(hasp_config_set_ciphers(cfg, v->ciphers), cfg, v->ciphers);
}

static hasp_config *client_variant(const variant *v)
{
    hasp_config *cfg = hasp_config_new();
    fz_check(hasp_config_set_ca_file(cfg, fz_data_path("ca.pem")), cfg, "CA");
    hasp_config_set_verify_time(cfg, FZ_VERIFY_TIME);
    hasp_config_set_time_cb(cfg, fz_clock, NULL);
    set_version(cfg, v);
    if (v->groups) fz_check(hasp_config_set_groups(cfg, v->groups), cfg, v->groups);
    if (v->alpn) fz_check(hasp_config_set_alpn(cfg, v->alpn), cfg, v->alpn);
    if (v->cert)
        fz_check(hasp_config_add_cert_key_file(cfg, fz_data_path("client-rsa.pem"),
                                               fz_data_path("client-rsa.key")),
                 cfg, "client certificate");
    return cfg;
}

static hasp_config *server_variant(const variant *v)
{
    hasp_config *cfg = hasp_config_new();
    fz_check(hasp_config_add_cert_key_file(cfg, fz_data_path("rsa.pem"), fz_data_path("rsa.key")),
             cfg, "RSA certificate");
    fz_check(
        hasp_config_add_cert_key_file(cfg, fz_data_path("ecdsa.pem"), fz_data_path("ecdsa.key")),
        cfg, "ECDSA certificate");
    fz_check(hasp_config_set_ca_file(cfg, fz_data_path("ca.pem")), cfg, "CA");
    hasp_config_set_verify_time(cfg, FZ_VERIFY_TIME);
    hasp_config_set_time_cb(cfg, fz_clock, NULL);
    set_version(cfg, v);
    if (v->groups) fz_check(hasp_config_set_groups(cfg, v->groups), cfg, v->groups);
    if (v->alpn) fz_check(hasp_config_set_alpn(cfg, v->alpn), cfg, v->alpn);
    if (v->cert)
        fz_check(hasp_config_set_verify_client(cfg, HASP_VERIFY_CLIENT_OPTIONAL), cfg, "certreq");
    return cfg;
}

static void engine_corpora(void)
{
    hasp_config *server_target = fz_server_config(1), *client_target = fz_client_config();
    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
        hasp_config *ccfg = client_variant(&clients[i]);
        rec r;
        hasp_session *sess = NULL;
        int ok = converse(ccfg, server_target, &r, clients[i].name, NULL,
                          clients[i].resume ? &sess : NULL) == 0;
        if (ok && clients[i].resume) {
            /* the second connection, resuming: its bytes are the seed */
            hasp_wr_free(&r.client_out);
            hasp_wr_free(&r.server_out);
            ok = sess && converse(ccfg, server_target, &r, clients[i].name, sess, NULL) == 0;
        }
        hasp_session_free(sess);
        if (ok) {
            char name[100];
            snprintf(name, sizeof(name), "hasp-%s", clients[i].name);
            write_file("server", name, r.client_out.p, r.client_out.len);
            /* The ClientHello body: the first record holds the whole message. */
            const uint8_t *p = r.client_out.p;
            size_t body = (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8];
            write_file("server_ch", name, p + 9, body);
        } else {
            failures++;
        }
        hasp_wr_free(&r.client_out);
        hasp_wr_free(&r.server_out);
        hasp_config_free(ccfg);
    }
    for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
        hasp_config *scfg = server_variant(&servers[i]);
        rec r;
        if (converse(client_target, scfg, &r, servers[i].name, NULL, NULL) == 0) {
            char name[100];
            snprintf(name, sizeof(name), "hasp-%s", servers[i].name);
            write_file("client", name, r.server_out.p, r.server_out.len);
        } else {
            failures++;
        }
        hasp_wr_free(&r.client_out);
        hasp_wr_free(&r.server_out);
        hasp_config_free(scfg);
    }
    hasp_config_free(server_target);
    hasp_config_free(client_target);
}

/* ------------------------------------------------------------------ records */

static void record_corpus(void)
{
    static const char *names[FZ_REC_MODES] = {"null",       "gcm12",    "chacha12",
                                              "gcm13",      "chacha13", "cbc-sha1",
                                              "cbc-sha256", "cbc-etm",  "cbc-3des"};
    static const uint8_t hs[] = {0x14, 0x00, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    static const uint8_t alert[] = {1, 0};
    static const uint8_t ccs[] = {1};
    uint8_t app[300];
    for (size_t i = 0; i < sizeof(app); i++)
        app[i] = (uint8_t)('a' + i % 26);
    for (int m = 0; m < FZ_REC_MODES; m++) {
        hasp_rec_prot tx, rx;
        if (fz_rec_setup(m, &tx, &rx) < 0) {
            fprintf(stderr, "gen_corpus: record mode %d\n", m);
            exit(1);
        }
        hasp_wr w = hasp_wr_dyn();
        wr_u8(&w, (uint8_t)m);
        hasp_rec_seal(&tx, HASP_CT_HANDSHAKE, HASP_TLS1_2, hs, sizeof(hs), &w);
        hasp_rec_seal(&tx, HASP_CT_APPLICATION_DATA, HASP_TLS1_2, app, sizeof(app), &w);
        hasp_rec_seal(&tx, HASP_CT_APPLICATION_DATA, HASP_TLS1_2, app, 0, &w);
        hasp_rec_seal(&tx, HASP_CT_ALERT, HASP_TLS1_2, alert, sizeof(alert), &w);
        write_file("record", names[m], w.p, w.len);
        /* round trip: [type][len16][bytes] chunks */
        w.len = 0;
        wr_u8(&w, (uint8_t)(0x80 | m));
        wr_u8(&w, 3);
        wr_u16(&w, 12);
        wr_bytes(&w, app, 12);
        wr_u8(&w, 1);
        wr_u16(&w, 2);
        wr_bytes(&w, alert, 2);
        wr_u8(&w, 0);
        wr_u16(&w, 1);
        wr_bytes(&w, ccs, 1);
        char name[64];
        snprintf(name, sizeof(name), "roundtrip-%s", names[m]);
        write_file("record", name, w.p, w.len);
        hasp_wr_free(&w);
        hasp_rec_prot_clear(&tx);
        hasp_rec_prot_clear(&rx);
    }
}

/* ------------------------------------------------------------------ PEM, DER, chains */

/* The DER blocks of a PEM file. */
static size_t pem_blocks(const char *file, uint8_t **der, size_t *len, size_t max)
{
    size_t n = 0, flen;
    uint8_t *text = read_file(fz_data_path(file), &flen);
    const uint8_t *p = text;
    char label[64];
    while (n < max && hasp_pem_next(&p, text + flen, label, sizeof(label), &der[n], &len[n]) == 1)
        n++;
    free(text);
    return n;
}

static void cert_corpora(void)
{
    static const char *pems[] = {"ca.pem",    "int.pem",        "rsa.pem",
                                 "ecdsa.pem", "client-rsa.pem", "other-ca.pem"};
    for (size_t i = 0; i < sizeof(pems) / sizeof(pems[0]); i++) {
        size_t flen;
        uint8_t *text = read_file(fz_data_path(pems[i]), &flen);
        write_file("pem", pems[i], text, flen);
        free(text);
        uint8_t *der[4];
        size_t len[4];
        size_t n = pem_blocks(pems[i], der, len, 4);
        for (size_t j = 0; j < n; j++) {
            char name[64];
            snprintf(name, sizeof(name), "%.*s-%zu.der", (int)(strlen(pems[i]) - 4), pems[i], j);
            write_file("x509", name, der[j], len[j]);
        }
        /* the chain as sent, for verify: flags 0x05 = localhost, purpose server */
        hasp_wr w = hasp_wr_dyn();
        uint8_t flags = strstr(pems[i], "client") ? 0x09 : 0x05;
        wr_u8(&w, flags);
        for (size_t j = 0; j < n; j++)
            wr_vec(&w, 2, der[j], len[j]);
        char name[64];
        snprintf(name, sizeof(name), "%.*s-chain", (int)(strlen(pems[i]) - 4), pems[i]);
        write_file("verify", name, w.p, w.len);
        /* the leaf alone, the config holding the intermediate (flag 0x80) */
        if (n > 1) {
            w.len = 0;
            wr_u8(&w, (uint8_t)(flags | 0x80));
            wr_vec(&w, 2, der[0], len[0]);
            snprintf(name, sizeof(name), "%.*s-leaf", (int)(strlen(pems[i]) - 4), pems[i]);
            write_file("verify", name, w.p, w.len);
        }
        hasp_wr_free(&w);
        for (size_t j = 0; j < n; j++)
            free(der[j]);
    }
    /* a key file for the PEM target too */
    size_t klen;
    uint8_t *key = read_file(fz_data_path("ecdsa.key"), &klen);
    write_file("pem", "ecdsa.key", key, klen);
    free(key);
}

/* Replay every hasp-* file of OUTDIR/<target>/ as the fuzz target would:
 * a fresh config made right after the RNG is rewound (so its ticket key
 * is the target's), then the target's loop. */
static void check_dir(const char *target, int role)
{
    fz_rng_reset();
    hasp_config *cfg = role == HASP_SERVER ? fz_server_config(1) : fz_client_config();
    char dir[1100];
    snprintf(dir, sizeof(dir), "%s/%s", outdir, target);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        if (!strncmp(names[i]->d_name, "hasp-", 5)) {
            char path[1400], what[300];
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            snprintf(what, sizeof(what), "%s/%s", target, names[i]->d_name);
            hasp_wr b = hasp_wr_dyn();
            b.p = read_file(path, &b.len);
            b.cap = b.len;
            check_replay(cfg, role, &b, what,
                         strstr(names[i]->d_name, "ticket") || strstr(names[i]->d_name, "psk"));
            hasp_wr_free(&b);
        }
        free(names[i]);
    }
    if (n >= 0) free(names);
    hasp_config_free(cfg);
}

int main(int argc, char **argv)
{
    int check_only = argc == 3 && !strcmp(argv[1], "--check");
    if (argc != 2 && !check_only) {
        fprintf(stderr, "usage: gen_corpus OUTDIR | gen_corpus --check OUTDIR\n");
        return 2;
    }
    outdir = argv[argc - 1];
    if (!check_only && mkdir(outdir, 0755) < 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    fz_rng_install();
    if (!check_only) {
        engine_corpora();
        record_corpus();
        cert_corpora();
    }
    check_dir("server", HASP_SERVER);
    check_dir("client", HASP_CLIENT);
    if (failures) fprintf(stderr, "gen_corpus: %d failures\n", failures);
    return failures ? 1 : 0;
}
