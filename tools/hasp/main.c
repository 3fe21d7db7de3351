/* hasp: the command-line tool. client, server, verify. Uses only hasp.h
 * (and the verify command's own file). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hasp.h"
#include "tool.h"
#include "trace/trace.h"

/* ---------------------------------------------------------------- trace */

/* The ladder, JSON and diagrams: tools/hasp/trace.c. */
static hasp_trace *tracer;
static int last_conn_rc; /* the error conn_error() last reported */

/* ---------------------------------------------------------------- common options */

struct opts {
    const char *target;
    const char *servername;
    const char *cafile, *cadir;
    const char *certs[8], *keys[8];
    int ncerts, nkeys;
    const char *ciphers, *ciphersuites, *groups, *alpn, *sigalgs;
    int insecure, trace, ign_eof, tls12, tls13, www, naccept, quiet, keyupdate;
    int workers; /* 0: not given */
    const char *sess_in, *sess_out;
    int reconnect, no_ticket, renegotiate, allow_reneg, reneg_verify_client;
    const char *accept;
    int verify_client;
    const char *early_data; /* client: a file to send as 0-RTT data */
    long max_early_data;    /* server: accept this much 0-RTT data */
    const char *psk_modes;
    const char *verify_profile;
    const char *crls[16];
    int ncrls;
    const char *crl_check;
    const char *ticket_keys[16];
    int nticket_keys;
    const char *session_cache;
    int max_depth; /* -1: the default */
    const char *trace_format;
    const char *trace_out[HASP_TRACE_MAX_OUT];
    int ntrace_out;
};

/* Every option of hasp client and hasp server, for --help, for refusing
 * one given to the wrong command, and for the man page test (each one
 * printed here must be in docs/hasp.1). */
#define FOR_CLIENT 1
#define FOR_SERVER 2
#define FOR_BOTH 3
static const struct optdef {
    const char *name, *arg;
    int who;
    const char *help; /* NULL: an alias, accepted but not listed */
} optdefs[] = {
    {"--accept", "[HOST:]PORT", FOR_SERVER, "listen here (HOST defaults to 127.0.0.1); required"},
    {"--cert", "FILE", FOR_BOTH, "certificate chain (PEM, leaf first); repeat with --key for more"},
    {"--key", "FILE", FOR_BOTH, "the private key of the --cert before it (PEM)"},
    {"--servername", "NAME", FOR_CLIENT, "server name to send (SNI) and verify (default: HOST)"},
    {"--cafile", "FILE", FOR_BOTH, "trust anchors (PEM) instead of the system bundle"},
    {"--CAfile", "FILE", FOR_BOTH, NULL},
    {"--capath", "DIR", FOR_BOTH, "a directory of trust anchors (PEM files)"},
    {"--insecure", NULL, FOR_CLIENT, "do not verify the server's certificate (dangerous)"},
    {"--verify-client", "optional|require", FOR_SERVER, "ask for a client certificate"},
    {"--verify-profile", "webpki|rfc5280", FOR_BOTH,
     "certificate validation profile (default webpki; see hasp(1))"},
    {"--max-depth", "N", FOR_BOTH,
     "at most N intermediates in the peer's path, 0 to 255 (default 9)"},
    {"--crl", "FILE", FOR_BOTH, "a CRL (PEM or DER) to check the peer's certificates; repeatable"},
    {"--crl-check", "leaf|chain", FOR_BOTH,
     "require a CRL for the peer's certificate, or for its whole chain"},
    {"--ticket-keys", "FILE", FOR_SERVER,
     "ticket keys shared with other servers (48/80-byte keys, mode 0600, the first issues); "
     "repeatable, read again on SIGHUP"},
    {"--session-cache", "memcached://HOST:PORT[,...]", FOR_SERVER,
     "keep TLS 1.2 sessions in memcached, encrypted (needs --ticket-keys)"},
    {"--tls1_2", NULL, FOR_BOTH, "TLS 1.2 only"},
    {"--tls1_3", NULL, FOR_BOTH, "TLS 1.3 only"},
    {"--ciphers", "LIST", FOR_BOTH, "cipher suites (IANA or OpenSSL names, DEFAULT, ALL)"},
    {"--cipher", "LIST", FOR_BOTH, NULL},
    {"--ciphersuites", "LIST", FOR_BOTH, "the TLS 1.3 suites only (empty: TLS 1.3 off)"},
    {"--groups", "LIST", FOR_BOTH,
     "key exchange groups, e.g. X25519MLKEM768:x25519 (see 'hasp groups')"},
    {"--sigalgs", "LIST", FOR_BOTH, "signature schemes (rsa_pss_rsae_sha256, ...)"},
    {"--alpn", "LIST", FOR_BOTH, "application protocols, comma-separated (h2,http/1.1)"},
    {"--no-ticket", NULL, FOR_BOTH, "no session tickets"},
    {"--no_ticket", NULL, FOR_BOTH, NULL},
    {"--sess-out", "FILE", FOR_CLIENT, "save the session (mode 0600) for --sess-in"},
    {"--sess_out", "FILE", FOR_CLIENT, NULL},
    {"--sess-in", "FILE", FOR_CLIENT, "resume the session saved in FILE"},
    {"--sess_in", "FILE", FOR_CLIENT, NULL},
    {"--reconnect", "[N]", FOR_CLIENT, "connect N more times (default 5), resuming"},
    {"--early-data", "FILE", FOR_CLIENT, "send FILE as 0-RTT early data when resuming"},
    {"--early_data", "FILE", FOR_CLIENT, NULL},
    {"--early-data", NULL, FOR_SERVER, "accept 16384 bytes of 0-RTT early data"},
    {"--early_data", NULL, FOR_SERVER, NULL},
    {"--max-early-data", "BYTES", FOR_SERVER, "accept this much 0-RTT early data"},
    {"--max_early_data", "BYTES", FOR_SERVER, NULL},
    {"--psk-modes", "LIST", FOR_BOTH, "TLS 1.3 PSK modes: psk_dhe_ke (default), psk_ke"},
    {"--renegotiate", NULL, FOR_BOTH, "renegotiate once after the handshake (TLS 1.2)"},
    {"--allow-renegotiation", NULL, FOR_BOTH, "accept the peer's renegotiation (TLS 1.2)"},
    {"--reneg-verify-client", "optional|require", FOR_SERVER,
     "ask for a client certificate in the renegotiation"},
    {"--keyupdate", NULL, FOR_CLIENT, "send a TLS 1.3 KeyUpdate after the handshake"},
    {"--ign-eof", NULL, FOR_CLIENT, "keep reading after stdin ends"},
    {"--ign_eof", NULL, FOR_CLIENT, NULL},
    {"--www", NULL, FOR_SERVER, "answer HTTP requests with a status page (else echo)"},
    {"--naccept", "N", FOR_SERVER, "exit after N connections (with --workers: each worker)"},
    {"--workers", "N|auto", FOR_SERVER,
     "with --www: N processes on the port (auto: one per core), sharing sessions and ticket keys"},
    {"--quiet", NULL, FOR_BOTH, "fewer messages"},
    {"--trace", NULL, FOR_BOTH, "draw the handshake as it runs (stderr)"},
    {"--trace-format", "text|json", FOR_BOTH, "the trace's format"},
    {"--trace-out", "FILE", FOR_BOTH, "also write the trace to FILE (.svg .html .mmd .jsonl .txt)"},
    {"-h, --help", NULL, FOR_BOTH, "this help"},
};

static void usage_cmd(FILE *f, int who)
{
    if (who == FOR_CLIENT)
        fprintf(f, "usage: hasp client HOST:PORT [options]\n\n"
                   "Connects, verifies the server, prints the handshake's outcome on stderr\n"
                   "and copies stdin to the server and the server's data to stdout.\n\n");
    else
        fprintf(f, "usage: hasp server --accept [HOST:]PORT --cert FILE --key FILE [options]\n\n"
                   "Accepts TLS connections and echoes what each client sends (or, with\n"
                   "--www, answers HTTP requests).\n\n");
    for (size_t i = 0; i < sizeof(optdefs) / sizeof(optdefs[0]); i++) {
        const struct optdef *d = &optdefs[i];
        if (!d->help || !(d->who & who)) continue;
        char left[64];
        snprintf(left, sizeof(left), "%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
        /* "  --name ARG            help", wrapped at 80 columns */
        enum { COL = 26, WIDTH = 80 };
        int at = fprintf(f, "  %s", left);
        if (at > COL - 2) {
            fputc('\n', f);
            at = 0;
        }
        const char *h = d->help;
        while (*h) {
            const char *sp = strchr(h, ' ');
            int wl = sp ? (int)(sp - h) : (int)strlen(h);
            if (at < COL) {
                at += fprintf(f, "%*s", COL - at, "");
            } else if (at + 1 + wl > WIDTH) {
                fprintf(f, "\n%*s", COL, "");
                at = COL;
            } else {
                fputc(' ', f);
                at++;
            }
            at += fprintf(f, "%.*s", wl, h);
            h += wl;
            while (*h == ' ')
                h++;
        }
        fputc('\n', f);
    }
    fprintf(f, "\nLIST is colon-separated. Exit status: 0 done, 1 the connection failed,\n"
               "2 usage error. See hasp(1).\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: hasp COMMAND [options]\n\n"
               "  client HOST:PORT    connect to a TLS server\n"
               "  server --accept PORT --cert F --key F   accept TLS connections\n"
               "  verify --cafile F LEAF.pem   build and validate a certificate path\n"
               "  probe HOST:PORT     what a server supports: versions, suites, groups, ...\n"
               "  ciphers             the cipher suites hasp has\n"
               "  groups              the key exchange groups hasp has, with share sizes\n"
               "  version             hasp's version\n"
               "  help [COMMAND]      this help, or a command's\n\n"
               "'hasp COMMAND --help' lists a command's options. See hasp(1).\n");
}

/* The option a (from argv) for the command who: 0 known, else an error
 * said. */
static int check_opt(const char *a, int who)
{
    const char *cmd = who == FOR_CLIENT ? "client" : "server";
    int other = 0;
    for (size_t i = 0; i < sizeof(optdefs) / sizeof(optdefs[0]); i++) {
        if (strcmp(optdefs[i].name, a) != 0) continue;
        if (optdefs[i].who & who) return 0;
        other = 1;
    }
    if (other)
        fprintf(stderr,
                "hasp %s: %s is an option of hasp %s, not of hasp %s; see 'hasp %s --help'\n", cmd,
                a, who == FOR_CLIENT ? "server" : "client", cmd, cmd);
    else
        fprintf(stderr, "hasp %s: unknown option '%s'; see 'hasp %s --help'\n", cmd, a, cmd);
    return -1;
}

/* 0, 1 for --help, -1 on a usage error (said). */
static int parse_opts(int argc, char **argv, struct opts *o, int who)
{
    memset(o, 0, sizeof(*o));
    o->max_depth = -1;
    const char *cmd = who == FOR_CLIENT ? "client" : "server";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (a[0] == '-' && a[1] && check_opt(a, who) < 0) return -1;
        if (!strcmp(a, "--max-depth")) {
            char *end = NULL;
            long d = v ? strtol(v, &end, 10) : -1;
            if (!v || !*v || *end || d < 0 || d > 255) {
                fprintf(
                    stderr,
                    "hasp %s: --max-depth wants a number of intermediates from 0 to 255%s%s%s\n",
                    cmd, v ? ", not '" : "", v ? v : "", v ? "'" : "");
                return -1;
            }
            o->max_depth = (int)d;
            i++;
            continue;
        }
#define ARG(name, field)                                                                           \
    if (!strcmp(a, name)) {                                                                        \
        if (!v) {                                                                                  \
            fprintf(stderr, "hasp %s: %s needs a value; see 'hasp %s --help'\n", cmd, name, cmd);  \
            return -1;                                                                             \
        }                                                                                          \
        o->field = v;                                                                              \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        ARG("--servername", servername)
        ARG("--cafile", cafile)
        ARG("--CAfile", cafile)
        ARG("--capath", cadir)
        ARG("--ciphers", ciphers)
        ARG("--cipher", ciphers)
        ARG("--ciphersuites", ciphersuites)
        ARG("--groups", groups)
        ARG("--sigalgs", sigalgs)
        ARG("--alpn", alpn)
        ARG("--accept", accept)
        ARG("--sess-in", sess_in)
        ARG("--sess_in", sess_in)
        ARG("--sess-out", sess_out)
        ARG("--sess_out", sess_out)
        ARG("--trace-format", trace_format)
        ARG("--psk-modes", psk_modes)
        ARG("--verify-profile", verify_profile)
        ARG("--crl-check", crl_check)
        ARG("--session-cache", session_cache)
        if (!strcmp(a, "--ticket-keys")) {
            if (!v || o->nticket_keys == 16) {
                fprintf(stderr, "hasp %s: --ticket-keys needs a file name (at most 16)\n", cmd);
                return -1;
            }
            o->ticket_keys[o->nticket_keys++] = v;
            i++;
            continue;
        }
        if (!strcmp(a, "--crl")) {
            if (!v || o->ncrls == 16) {
                fprintf(stderr, "hasp %s: --crl needs a file name (at most 16)\n", cmd);
                return -1;
            }
            o->crls[o->ncrls++] = v;
            i++;
            continue;
        }
        if (!strcmp(a, "--early-data") || !strcmp(a, "--early_data")) {
            /* client: --early-data FILE; server: --early-data alone means 16384 bytes */
            if (v && v[0] != '-') {
                o->early_data = v;
                i++;
            } else {
                o->max_early_data = 16384;
            }
            continue;
        }
        if (!strcmp(a, "--max-early-data") || !strcmp(a, "--max_early_data")) {
            if (!v) {
                fprintf(stderr, "hasp %s: %s needs a number of bytes\n", cmd, a);
                return -1;
            }
            o->max_early_data = atol(v);
            i++;
            continue;
        }
#undef ARG
        if (!strcmp(a, "--trace-out")) {
            if (!v || o->ntrace_out == HASP_TRACE_MAX_OUT) {
                fprintf(stderr, "hasp %s: --trace-out needs a file name (at most %d)\n", cmd,
                        HASP_TRACE_MAX_OUT);
                return -1;
            }
            o->trace_out[o->ntrace_out++] = v;
            i++;
            continue;
        }
        if (!strcmp(a, "--cert") || !strcmp(a, "--key")) {
            if (!v) {
                fprintf(stderr, "hasp %s: %s needs a value; see 'hasp %s --help'\n", cmd, a, cmd);
                return -1;
            }
            if (a[2] == 'c' && o->ncerts < 8)
                o->certs[o->ncerts++] = v;
            else if (a[2] == 'k' && o->nkeys < 8)
                o->keys[o->nkeys++] = v;
            i++;
            continue;
        }
        if (!strcmp(a, "--workers")) {
            long nw = v && !strcmp(v, "auto") ? sysconf(_SC_NPROCESSORS_ONLN) : v ? atol(v) : 0;
            if (nw <= 0 || nw > 256) {
                fprintf(stderr, "hasp %s: --workers needs a number from 1 to 256, or 'auto'\n",
                        cmd);
                return -1;
            }
            o->workers = (int)nw;
            i++;
            continue;
        }
        if (!strcmp(a, "--naccept")) {
            if (!v || atoi(v) <= 0) {
                fprintf(stderr, "hasp %s: --naccept needs a positive number\n", cmd);
                return -1;
            }
            o->naccept = atoi(v);
            i++;
            continue;
        }
        if (!strcmp(a, "--reneg-verify-client")) {
            if (v && !strcmp(v, "optional"))
                o->reneg_verify_client = HASP_VERIFY_CLIENT_OPTIONAL;
            else if (v && !strcmp(v, "require"))
                o->reneg_verify_client = HASP_VERIFY_CLIENT_REQUIRE;
            else {
                fprintf(stderr, "hasp %s: --reneg-verify-client takes optional or require\n", cmd);
                return -1;
            }
            o->renegotiate = 1;
            i++;
            continue;
        }
        if (!strcmp(a, "--verify-client")) {
            if (v && !strcmp(v, "optional"))
                o->verify_client = HASP_VERIFY_CLIENT_OPTIONAL;
            else if (v && !strcmp(v, "require"))
                o->verify_client = HASP_VERIFY_CLIENT_REQUIRE;
            else {
                fprintf(stderr, "hasp %s: --verify-client takes optional or require\n", cmd);
                return -1;
            }
            i++;
            continue;
        }
        if (!strcmp(a, "--insecure")) {
            o->insecure = 1;
            continue;
        }
        if (!strcmp(a, "--trace")) {
            o->trace = 1;
            continue;
        }
        if (!strcmp(a, "--ign-eof") || !strcmp(a, "--ign_eof")) {
            o->ign_eof = 1;
            continue;
        }
        if (!strcmp(a, "--tls1_2")) {
            o->tls12 = 1;
            continue;
        }
        if (!strcmp(a, "--reconnect")) {
            o->reconnect = 5;
            if (v && v[0] >= '0' && v[0] <= '9') {
                o->reconnect = atoi(v);
                i++;
            }
            continue;
        }
        if (!strcmp(a, "--no-ticket") || !strcmp(a, "--no_ticket")) {
            o->no_ticket = 1;
            continue;
        }
        if (!strcmp(a, "--renegotiate")) {
            o->renegotiate = 1;
            continue;
        }
        if (!strcmp(a, "--allow-renegotiation")) {
            o->allow_reneg = 1;
            continue;
        }
        if (!strcmp(a, "--tls1_3")) {
            o->tls13 = 1;
            continue;
        }
        if (!strcmp(a, "--keyupdate")) {
            o->keyupdate = 1;
            continue;
        }
        if (!strcmp(a, "--www")) {
            o->www = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (a[0] == '-') {
            fprintf(stderr, "hasp %s: unknown option '%s'; see 'hasp %s --help'\n", cmd, a, cmd);
            return -1;
        }
        if (o->target) {
            fprintf(stderr,
                    "hasp %s: unexpected argument '%s' (the %s is '%s'); see 'hasp %s --help'\n",
                    cmd, a, who == FOR_CLIENT ? "target" : "first argument", o->target, cmd);
            return -1;
        }
        o->target = a;
    }
    if (o->ncerts != o->nkeys) {
        fprintf(stderr, "hasp %s: each --cert needs its --key\n", cmd);
        return -1;
    }
    return 0;
}

static hasp_config *make_config(const struct opts *o, int server)
{
    hasp_config *cfg = hasp_config_new();
    if (!cfg) {
        fprintf(stderr, "hasp: out of memory\n");
        return NULL;
    }
#define TRY(call)                                                                                  \
    if ((call) < 0) {                                                                              \
        fprintf(stderr, "hasp: error: %s\n", hasp_config_errmsg(cfg));                             \
        hasp_config_free(cfg);                                                                     \
        return NULL;                                                                               \
    }
    if (o->tls12 && !o->tls13) TRY(hasp_config_set_versions(cfg, HASP_TLS1_2, HASP_TLS1_2));
    if (o->tls13 && !o->tls12) TRY(hasp_config_set_versions(cfg, HASP_TLS1_3, HASP_TLS1_3));
    if (o->ciphers) TRY(hasp_config_set_ciphers(cfg, o->ciphers));
    if (o->ciphersuites) TRY(hasp_config_set_ciphersuites13(cfg, o->ciphersuites));
    if (o->no_ticket) hasp_config_set_tickets(cfg, 0, 0);
    if (o->allow_reneg || o->renegotiate)
        hasp_config_set_renegotiation(cfg, HASP_RENEGOTIATION_ALLOW, 3);
    if (getenv("SSLKEYLOGFILE")) hasp_config_allow_keylog(cfg);
    if (o->groups) TRY(hasp_config_set_groups(cfg, o->groups));
    if (o->sigalgs) TRY(hasp_config_set_sigalgs(cfg, o->sigalgs));
    if (o->alpn) TRY(hasp_config_set_alpn(cfg, o->alpn));
    if (o->cafile) TRY(hasp_config_set_ca_file(cfg, o->cafile));
    if (o->cadir) TRY(hasp_config_set_ca_dir(cfg, o->cadir));
    for (int i = 0; i < o->ncerts; i++)
        TRY(hasp_config_add_cert_key_file(cfg, o->certs[i], o->keys[i]));
    if (server && o->verify_client) TRY(hasp_config_set_verify_client(cfg, o->verify_client));
    if (o->verify_profile) {
        int prof = !strcmp(o->verify_profile, "webpki")    ? HASP_X509_PROFILE_WEBPKI
                   : !strcmp(o->verify_profile, "rfc5280") ? HASP_X509_PROFILE_RFC5280
                                                           : -1;
        if (prof < 0) {
            fprintf(stderr, "hasp: --verify-profile is 'webpki' or 'rfc5280', not '%s'\n",
                    o->verify_profile);
            hasp_config_free(cfg);
            return NULL;
        }
        TRY(hasp_config_set_verify_profile(cfg, prof));
    }
    if (o->max_depth >= 0) TRY(hasp_config_set_verify_depth(cfg, o->max_depth));
    for (int i = 0; i < o->ncrls; i++)
        TRY(hasp_config_add_crl_file(cfg, o->crls[i]));
    if (server && o->nticket_keys)
        TRY(hasp_config_set_ticket_key_files(cfg, o->ticket_keys, (size_t)o->nticket_keys));
    if (o->crl_check) {
        int mode = !strcmp(o->crl_check, "leaf")    ? HASP_X509_CRL_LEAF
                   : !strcmp(o->crl_check, "chain") ? HASP_X509_CRL_CHAIN
                                                    : -1;
        if (mode < 0) {
            fprintf(stderr, "hasp: --crl-check is 'leaf' or 'chain', not '%s'\n", o->crl_check);
            hasp_config_free(cfg);
            return NULL;
        }
        TRY(hasp_config_set_crl_check(cfg, mode));
    }
    if (server && o->max_early_data > 0)
        TRY(hasp_config_set_early_data(cfg, (uint32_t)o->max_early_data));
    if (!server && o->early_data) TRY(hasp_config_set_early_data(cfg, 1u << 30));
    if (o->psk_modes) {
        int modes = 0;
        if (strstr(o->psk_modes, "psk_dhe_ke")) modes |= HASP_PSK_DHE_KE;
        char tmp[64];
        snprintf(tmp, sizeof(tmp), ",%s,", o->psk_modes);
        if (strstr(tmp, ",psk_ke,") || strstr(tmp, ":psk_ke:")) modes |= HASP_PSK_KE;
        TRY(hasp_config_set_psk_modes(cfg, modes));
    }
#undef TRY
    if (o->insecure) hasp_config_insecure_noverifycert(cfg);
    if (o->trace || o->trace_format || o->ntrace_out) {
        int none = 0;
        tracer = hasp_trace_new(server ? HASP_SERVER : HASP_CLIENT, o->trace, o->trace_format,
                                o->trace_out, o->ntrace_out, &none);
        if (!tracer && !none) {
            hasp_config_free(cfg);
            return NULL;
        }
        hasp_trace_attach(tracer, cfg);
    }
    return cfg;
}

static void print_summary(hasp_conn *c, const char *prefix)
{
    fprintf(stderr, "%sprotocol: %s\n", prefix, hasp_conn_version_name(c));
    fprintf(stderr, "%scipher: %s (%s)\n", prefix, hasp_conn_cipher_name(c),
            hasp_conn_cipher_openssl_name(c));
    if (hasp_conn_group_name(c)) fprintf(stderr, "%sgroup: %s\n", prefix, hasp_conn_group_name(c));
    if (hasp_conn_sigalg_name(c))
        fprintf(stderr, "%ssignature: %s\n", prefix, hasp_conn_sigalg_name(c));
    if (hasp_conn_servername(c))
        fprintf(stderr, "%sserver name: %s\n", prefix, hasp_conn_servername(c));
    if (hasp_conn_alpn(c)) fprintf(stderr, "%salpn: %s\n", prefix, hasp_conn_alpn(c));
    if (hasp_conn_version(c) == HASP_TLS1_3) {
        fprintf(stderr, "%sextended master secret: n/a (TLS 1.3)\n", prefix);
        fprintf(stderr, "%ssecure renegotiation: n/a (TLS 1.3)\n", prefix);
    } else {
        fprintf(stderr, "%sextended master secret: %s\n", prefix, hasp_conn_ems(c) ? "yes" : "no");
    }
    if (hasp_conn_version(c) != HASP_TLS1_3)
        fprintf(stderr, "%ssecure renegotiation: %s\n", prefix,
                hasp_conn_secure_renegotiation(c) ? "yes" : "no");
    if (hasp_conn_etm(c)) fprintf(stderr, "%sencrypt-then-mac: yes\n", prefix);
    fprintf(stderr, "%sresumed: %s\n", prefix, hasp_conn_resumed_how(c));
    switch (hasp_conn_early_data(c)) {
    case HASP_EARLY_ACCEPTED:
        fprintf(stderr, "%searly data: accepted\n", prefix);
        break;
    case HASP_EARLY_REJECTED:
        fprintf(stderr, "%searly data: rejected: %s\n", prefix, hasp_conn_early_data_reason(c));
        break;
    default:
        break;
    }
}

/* The file sent as 0-RTT data (at most 1 MiB). */
static uint8_t *read_small_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hasp: error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* ---------------------------------------------------------------- client */

static int split_host_port(const char *target, char *host, size_t hcap, char *port, size_t pcap)
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

static int tcp_connect(const char *host, const char *port)
{
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "hasp: error: cannot resolve %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "hasp: error: cannot connect to %s:%s: %s%s\n", host, port, strerror(err),
                err == ECONNREFUSED ? " (nothing listens on that port)" : "");
    else {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

/* What would change a failed connection's outcome, for the sentence the
 * tool prints: the flag on this side, or where the other side's reason is.
 * server: this side is hasp server. "" when nothing helps. */
static const char *failure_hint(const hasp_conn *c, int server)
{
    const char *msg = hasp_conn_errmsg(c);
    static const struct {
        int server; /* -1 either side */
        const char *has;
        const char *hint;
    } by_msg[] = {
        {1, "cipher suite in common",
         "--ciphers (TLS 1.2) and --ciphersuites (TLS 1.3) set either side's list"},
        {1, "no group in common", "--groups sets either side's list"},
        {1, "no signature scheme in common",
         "--sigalgs sets the client's list; --cert/--key give this server another key"},
        {1, "no application protocol in common", "--alpn sets either side's list"},
        {1, "no protocol version in common",
         "--tls1_2 or --tls1_3 limits a side to one version; without either both are allowed"},
        {1, "the client sent no certificate, and this server requires one",
         "the client gives one with --cert FILE --key FILE; --verify-client optional makes it "
         "optional"},
        {-1, ") was revoked by",
         "the certificate is on its issuer's CRL: its owner needs a new one"},
        {-1, "the revocation policy",
         "--crl FILE gives the issuer's current CRL; --crl-check sets which certificates need one"},
        {-1, "revocation status",
         "--crl FILE gives the issuer's current CRL; --crl-check sets which "
         "certificates need one"},
        {1, "unknown issuer",
         "--cafile FILE on this server names the CA that issues client "
         "certificates"},
        {1, "to a trusted root",
         "--cafile FILE on this server names the CA that issues client "
         "certificates"},
        {0, "does not match", "--servername NAME checks the certificate against another name"},
        {0, "this client requires TLS 1.3", "without --tls1_3 this client accepts TLS 1.2 too"},
        {-1, "the rfc5280 profile accepts it",
         "--verify-profile rfc5280 validates by RFC 5280 alone"},
        {-1, "the rfc5280 profile does not",
         "--verify-profile rfc5280 validates by RFC 5280 alone"},
        {-1, "the webpki profile accepts it",
         "--verify-profile webpki validates by the web PKI's rules"},
        {-1, "(the webpki profile does not)",
         "--verify-profile webpki validates by the web PKI's rules"},
        {1, "maximum depth of", "--max-depth N allows more intermediates"},
        {0, "maximum depth of", "--max-depth N allows more intermediates"},
        {0, "expired on",
         "the server's certificate must be renewed (or this host's clock is wrong)"},
        {0, "certificate verify failed",
         "--cafile FILE trusts the CA that issued it (--insecure skips the check: dangerous)"},
        {-1, "its first bytes look like an HTTP request",
         "the client speaks plain HTTP to a TLS port: use https:// or hasp client"},
        {-1, "not speaking TLS", "the port serves another protocol: check HOST:PORT"},
    };
    /* This side's own finding first; a peer's alert says less. */
    for (size_t i = 0; hasp_conn_alert_received(c) < 0 && i < sizeof(by_msg) / sizeof(by_msg[0]);
         i++)
        if ((by_msg[i].server < 0 || by_msg[i].server == server) && strstr(msg, by_msg[i].has))
            return by_msg[i].hint;
    switch (hasp_conn_alert_received(c)) {
    case HASP_ALERT_HANDSHAKE_FAILURE:
        if (!server && strstr(msg, "waited for ServerHello"))
            return "the server found no cipher suite, group or signature scheme in common with "
                   "this client's offer (its log says which; 'hasp probe HOST:PORT' lists what "
                   "it supports)";
        if (!server)
            return "the server may require a client certificate: give one with --cert FILE "
                   "--key FILE";
        return "";
    case HASP_ALERT_PROTOCOL_VERSION:
        return server ? "" : "the server allows none of the versions offered (--tls1_2, --tls1_3)";
    case HASP_ALERT_NO_APPLICATION_PROTOCOL:
        return server ? "" : "the server allows none of the protocols given with --alpn";
    case HASP_ALERT_CERTIFICATE_REQUIRED:
        return server ? ""
                      : "the server requires a client certificate: give one with --cert FILE --key "
                        "FILE";
    case HASP_ALERT_UNKNOWN_CA:
    case HASP_ALERT_BAD_CERTIFICATE:
    case HASP_ALERT_UNSUPPORTED_CERTIFICATE:
    case HASP_ALERT_CERTIFICATE_EXPIRED:
    case HASP_ALERT_CERTIFICATE_REVOKED:
    case HASP_ALERT_CERTIFICATE_UNKNOWN:
        return server ? "the client refused this server's certificate (its log says why)"
                      : "the server refused this client's certificate (its log says why)";
    default:
        return "";
    }
}

void hasp_tool_print_failure(FILE *f, const char *prefix, const hasp_conn *c, int rc, int server)
{
    const char *msg = hasp_conn_errmsg(c);
    const char *hint = failure_hint(c, server);
    fprintf(f, "%s%s%s%s\n", prefix, msg[0] ? msg : hasp_err_name(rc), hint[0] ? "; " : "", hint);
}

static int conn_error(hasp_conn *c, int rc)
{
    last_conn_rc = rc;
    hasp_tool_print_failure(stderr, "hasp: error: ", c, rc, 0);
    return 1;
}

static hasp_session *read_session(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hasp: error: cannot open the session file '%s': %s\n", path,
                strerror(errno));
        return NULL;
    }
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    hasp_session *s = hasp_session_from_bytes(buf, n);
    if (!s) fprintf(stderr, "hasp: error: '%s' does not hold a hasp session\n", path);
    return s;
}

static int write_session(const char *path, const hasp_session *s)
{
    size_t len = 0;
    if (hasp_session_to_bytes(s, NULL, 0, &len) < 0) return -1;
    uint8_t *buf = malloc(len);
    int rc = -1;
    if (buf && hasp_session_to_bytes(s, buf, len, &len) == 0) {
        /* it holds a secret: 0600 */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            rc = write_all(fd, buf, len);
            close(fd);
        }
    }
    free(buf);
    if (rc < 0) fprintf(stderr, "hasp: error: cannot write the session to '%s'\n", path);
    return rc;
}

/* Wait (at most 5 s) until the socket can take more. */
static int wait_fd(int fd, short ev)
{
    struct pollfd pf = {fd, ev, 0};
    return poll(&pf, 1, 5000) > 0 ? 0 : -1;
}

/* hasp_write on a non-blocking socket: all of buf, or an error. */
static ssize_t tls_write_nb(hasp_conn *c, int fd, const void *buf, size_t len)
{
    for (;;) {
        ssize_t w = hasp_write(c, buf, len);
        if (w == HASP_WANT_POLLOUT || w == HASP_WANT_POLLIN) {
            if (wait_fd(fd, w == HASP_WANT_POLLOUT ? POLLOUT : POLLIN) < 0) return HASP_ERR_IO;
            continue;
        }
        if (w < 0) return w;
        while (hasp_flush(c) == HASP_WANT_POLLOUT)
            if (wait_fd(fd, POLLOUT) < 0) return HASP_ERR_IO;
        return w;
    }
}

static void tls_close_nb(hasp_conn *c, int fd)
{
    if (hasp_close(c) == HASP_WANT_POLLOUT)
        while (wait_fd(fd, POLLOUT) == 0 && hasp_flush(c) == HASP_WANT_POLLOUT)
            ;
}

/* One connection. interactive: stdin to the server, the server to stdout. */
static int client_once(hasp_config *cfg, const struct opts *o, const char *host, const char *port,
                       const hasp_session *offer, hasp_session **made, int interactive)
{
    int fd = tcp_connect(host, port);
    if (fd < 0) return 1;
    hasp_conn *c = hasp_conn_new(cfg, HASP_CLIENT);
    hasp_set_fd(c, fd);
    hasp_conn_set_servername(c, o->servername ? o->servername : host);
    if (offer) hasp_conn_set_session(c, offer);
    char peer[300];
    snprintf(peer, sizeof(peer), "%s:%s", host, port);
    hasp_trace_conn_begin(tracer, c, peer);
    last_conn_rc = 0;
    int status = 0;
    /* 0-RTT: the data goes with the ClientHello when the session allows it */
    uint8_t *early = NULL;
    size_t early_len = 0, early_taken = 0;
    if (o->early_data && !(early = read_small_file(o->early_data, &early_len))) {
        status = 1;
        goto out;
    }
    if (early && offer && hasp_session_max_early_data(offer) > 0) {
        int n = hasp_conn_write_early(c, early, early_len);
        if (n < 0 && n != HASP_WANT_POLLIN) {
            status = conn_error(c, n);
            goto out;
        }
        early_taken = n > 0 ? (size_t)n : 0;
        int f = hasp_flush(c);
        if (f < 0) {
            status = conn_error(c, f);
            goto out;
        }
        if (!o->quiet)
            fprintf(stderr, "hasp: early data: sent %zu of %zu bytes with the ClientHello\n",
                    early_taken, early_len);
    } else if (early && !o->quiet) {
        fprintf(stderr, "hasp: early data: %s; sending it after the handshake\n",
                offer ? "the session's ticket does not allow it" : "no session to resume");
    }
    int rc = hasp_handshake(c);
    hasp_trace_handshake(tracer, c, rc);
    if (rc != 0) {
        status = conn_error(c, rc);
        goto out;
    }
    if (early) {
        /* what the server did not take goes now, as ordinary data */
        size_t from = hasp_conn_early_data(c) == HASP_EARLY_ACCEPTED ? early_taken : 0;
        if (!o->quiet && hasp_conn_early_data(c) != HASP_EARLY_NONE &&
            (!interactive || from < early_len))
            fprintf(stderr, "hasp: early data: %s%s%s\n",
                    hasp_conn_early_data(c) == HASP_EARLY_ACCEPTED ? "accepted" : "rejected: ",
                    hasp_conn_early_data(c) == HASP_EARLY_ACCEPTED ? ""
                                                                   : hasp_conn_early_data_reason(c),
                    from < early_len ? (from ? " (the rest follows)" : " (sending it again)") : "");
        if (from < early_len && hasp_write(c, early + from, early_len - from) < 0) {
            status = conn_error(c, (int)hasp_conn_error(c));
            goto out;
        }
    }
    if (!o->quiet && interactive) {
        print_summary(c, "hasp: ");
        fprintf(stderr, "hasp: verify: %s\n",
                o->insecure ? "skipped (--insecure)" : hasp_conn_verify_result(c));
    } else if (!o->quiet) {
        fprintf(stderr, "hasp: reconnect: %s %s, resumed: %s\n", hasp_conn_version_name(c),
                hasp_conn_cipher_name(c), hasp_conn_resumed_how(c));
    }
    if (o->keyupdate) {
        rc = hasp_conn_key_update(c, 1);
        if (rc < 0) {
            status = conn_error(c, rc);
            goto out;
        }
        if (!o->quiet) fprintf(stderr, "hasp: sent KeyUpdate (update_requested)\n");
    }
    if (o->renegotiate) {
        rc = hasp_conn_renegotiate(c);
        if (rc == 0) rc = hasp_handshake(c);
        if (rc == HASP_ERR_NO_RENEGOTIATION) {
            /* a refusal, not a failure: the connection goes on */
            fprintf(stderr, "hasp: renegotiation refused: %s\n", hasp_conn_errmsg(c));
        } else if (rc != 0) {
            status = conn_error(c, rc);
            goto out;
        } else if (!o->quiet)
            fprintf(stderr, "hasp: renegotiated: %s %s\n", hasp_conn_version_name(c),
                    hasp_conn_cipher_name(c));
    }
    /* From here on the socket is non-blocking: a read that finds only
     * post-handshake messages (tickets) must not stop stdin from flowing. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int stdin_open = interactive;
    int waited = 0;
    if (!interactive) tls_close_nb(c, fd);
    char buf[16384];
    for (;;) {
        if (hasp_conn_pending(c) == 0) {
            struct pollfd pf[2] = {{fd, POLLIN, 0}, {0, POLLIN, 0}};
            int np = stdin_open ? 2 : 1;
            /* after our close_notify, or to collect TLS 1.3 tickets, wait a little */
            int timeout = stdin_open ? -1 : (o->ign_eof && interactive) ? -1 : 5000;
            int pr = poll(pf, (nfds_t)np, timeout);
            if (pr < 0 && errno == EINTR) continue;
            if (pr == 0) {
                if (!waited)
                    fprintf(stderr, "hasp: the server did not answer close_notify within 5 s\n");
                break;
            }
            if (stdin_open && (pf[1].revents & (POLLIN | POLLHUP))) {
                ssize_t n = read(0, buf, sizeof(buf));
                if (n > 0) {
                    ssize_t w = tls_write_nb(c, fd, buf, (size_t)n);
                    if (w < 0) {
                        status = conn_error(c, (int)w);
                        goto out;
                    }
                } else {
                    stdin_open = 0;
                    if (!o->ign_eof) tls_close_nb(c, fd);
                }
                continue;
            }
            if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        }
        ssize_t n = hasp_read(c, buf, sizeof(buf));
        if (n > 0) {
            if (interactive && write_all(1, buf, (size_t)n) < 0) break;
            continue;
        }
        if (n == 0) break; /* close_notify: answered inside hasp_read */
        if (n == HASP_WANT_POLLIN || n == HASP_WANT_POLLOUT) continue;
        if (n == HASP_ERR_TRUNCATED && !stdin_open && !(o->ign_eof && interactive))
            break; /* we closed first; the server hung up without answering: fine */
        status = conn_error(c, (int)n);
        break;
    }
    if (status == 0) hasp_close(c);
out:
    hasp_trace_conn_end(tracer, c,
                        status ? (last_conn_rc < 0 ? last_conn_rc : HASP_ERR_CLOSED) : 0);
    if (made) *made = status == 0 ? hasp_conn_get_session(c) : NULL;
    free(early);
    hasp_conn_free(c);
    close(fd);
    return status;
}

static int cmd_client(int argc, char **argv)
{
    struct opts o;
    int pr = parse_opts(argc, argv, &o, FOR_CLIENT);
    if (pr == 1) {
        usage_cmd(stdout, FOR_CLIENT);
        return 0;
    }
    if (pr < 0) return 2;
    if (!o.target) {
        fprintf(stderr, "hasp client: HOST:PORT is required; see 'hasp client --help'\n");
        return 2;
    }
    char host[256], port[32];
    if (split_host_port(o.target, host, sizeof(host), port, sizeof(port)) < 0) {
        fprintf(stderr, "hasp: error: the target must be HOST:PORT, not '%s'\n", o.target);
        return 2;
    }
    hasp_config *cfg = make_config(&o, 0);
    if (!cfg) return 2;
    hasp_session *offer = NULL, *made = NULL;
    int status = 0;
    if (o.sess_in && !(offer = read_session(o.sess_in))) {
        hasp_config_free(cfg);
        return 1;
    }
    status = client_once(cfg, &o, host, port, offer, &made, 1);
    for (int i = 0; status == 0 && i < o.reconnect; i++) {
        hasp_session *next = NULL;
        if (!made) {
            fprintf(stderr, "hasp: error: no resumable session to reconnect with\n");
            status = 1;
            break;
        }
        status = client_once(cfg, &o, host, port, made, &next, 0);
        if (next) {
            hasp_session_free(made);
            made = next;
        }
    }
    if (status == 0 && o.sess_out) {
        if (!made) {
            fprintf(stderr, "hasp: error: the connection left no resumable session for %s\n",
                    o.sess_out);
            status = 1;
        } else if (write_session(o.sess_out, made) < 0) {
            status = 1;
        }
    }
    hasp_session_free(offer);
    hasp_session_free(made);
    hasp_config_free(cfg);
    hasp_trace_free(tracer);
    return status;
}

/* ---------------------------------------------------------------- server */

/* Close after the last alert: shut the write side, then read and drop what
 * the peer still sends (tool.h: HASP_LINGER_*) until it closes, so that
 * unread bytes do not make the kernel reset the connection and destroy the
 * alert before the peer reads it. */
static void linger_close(int fd)
{
    if (shutdown(fd, SHUT_WR) == 0) {
        char buf[16384];
        size_t total = 0;
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
            long left = HASP_LINGER_TOTAL_S * 1000L - ms;
            if (left <= 0 || total > HASP_LINGER_MAX) break;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int wait = left < HASP_LINGER_IDLE_S * 1000L ? (int)left : HASP_LINGER_IDLE_S * 1000;
            if (poll(&p, 1, wait) <= 0) break;
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            total += (size_t)n;
        }
    }
    close(fd);
}

static void serve_www(hasp_conn *c)
{
    static char req[HASP_HTTP_MAX_REQUEST + 1];
    size_t n = 0;
    for (;;) {
        hasp_http_req hr;
        int pr = n ? hasp_http_parse(req, n, &hr) : HASP_HTTP_MORE;
        if (pr == HASP_HTTP_MORE) {
            ssize_t r = hasp_read(c, req + n, HASP_HTTP_MAX_REQUEST - n);
            if (r <= 0) return;
            n += (size_t)r;
            continue;
        }
        char resp[4608];
        int len = pr == HASP_HTTP_BAD
                      ? hasp_http_bad_request(resp, sizeof(resp))
                      : hasp_www_page(c, resp, sizeof(resp), hr.minor, hr.keep_alive);
        if (len > 0 && (size_t)len < sizeof(resp) && hasp_write(c, resp, (size_t)len) < 0) return;
        if (pr == HASP_HTTP_BAD || !hr.keep_alive) return;
        memmove(req, req + hr.used, n - hr.used);
        n -= hr.used;
    }
}

static void serve_echo(hasp_conn *c, int nconn)
{
    char buf[16384];
    for (;;) {
        ssize_t n = hasp_read(c, buf, sizeof(buf));
        if (n > 0) {
            if (hasp_write(c, buf, (size_t)n) < 0) break;
            continue;
        }
        if (n == 0) return; /* close_notify answered */
        if (n == HASP_WANT_POLLIN) continue;
        fprintf(stderr, "hasp: connection %d: %s\n", nconn, hasp_conn_errmsg(c));
        return;
    }
}

int hasp_tool_listen(const char *spec, int reuseport, int announce)
{
    char host[256] = "127.0.0.1", port[32];
    if (strchr(spec, ':')) {
        if (split_host_port(spec, host, sizeof(host), port, sizeof(port)) < 0) return -1;
    } else {
        snprintf(port, sizeof(port), "%s", spec);
    }
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        fprintf(stderr, "hasp: error: cannot resolve %s\n", host);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        int err = errno;
        fprintf(stderr, "hasp: error: cannot listen on %s:%s: %s%s\n", host, port, strerror(err),
                err == EADDRINUSE ? " (another process listens there: choose another port with "
                                    "--accept)"
                : err == EACCES   ? " (ports below 1024 need privileges: choose another with "
                                    "--accept)"
                                  : "");
        freeaddrinfo(res);
        if (fd >= 0) close(fd);
        return -1;
    }
    freeaddrinfo(res);
    if (announce) fprintf(stderr, "hasp: listening on %s:%s\n", host, port);
    return fd;
}

/* SIGHUP: read the --ticket-keys files again (both server loops call
 * hasp_tool_reload between connections); connections keep running. */
static volatile sig_atomic_t reload_wanted;
static const char *const *reload_paths;
static size_t reload_n;

void hasp_tool_on_sighup(int sig)
{
    (void)sig;
    reload_wanted = 1;
}

void hasp_tool_reload(hasp_config *cfg)
{
    if (!reload_wanted) return;
    reload_wanted = 0;
    if (!reload_n) {
        fprintf(stderr, "hasp: SIGHUP: nothing to reload (no --ticket-keys)\n");
        return;
    }
    if (hasp_config_set_ticket_key_files(cfg, reload_paths, reload_n) < 0) {
        fprintf(stderr, "hasp: SIGHUP: kept the ticket keys in use: %s\n", hasp_config_errmsg(cfg));
        return;
    }
    hasp_memcache_rekey(reload_paths, reload_n);
    fprintf(stderr, "hasp: SIGHUP: ticket keys read again from %s%s\n", reload_paths[0],
            reload_n > 1 ? " and the other --ticket-keys files" : "");
}

static int cmd_server(int argc, char **argv)
{
    struct opts o;
    int pr = parse_opts(argc, argv, &o, FOR_SERVER);
    if (pr == 1) {
        usage_cmd(stdout, FOR_SERVER);
        return 0;
    }
    if (pr < 0) return 2;
    if (!o.accept || o.ncerts == 0) {
        fprintf(stderr, "hasp server: %s is required; see 'hasp server --help'\n",
                !o.accept ? "--accept [HOST:]PORT" : "--cert FILE --key FILE");
        return 2;
    }
    if (o.target) {
        fprintf(stderr,
                "hasp server: unexpected argument '%s' (the port goes with --accept); see "
                "'hasp server --help'\n",
                o.target);
        return 2;
    }
    hasp_config *cfg = make_config(&o, 1);
    if (!cfg) return 2;
    reload_paths = o.ticket_keys;
    reload_n = (size_t)o.nticket_keys;
    if (o.session_cache && hasp_memcache_attach(cfg, o.session_cache, o.ticket_keys,
                                                (size_t)o.nticket_keys, o.quiet) < 0) {
        hasp_config_free(cfg);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = hasp_tool_on_sighup; /* no SA_RESTART: accept and epoll_wait return to look */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    if (o.workers > 1) {
        const char *why = !o.www                     ? "needs --www (the event loop)"
                          : o.trace || o.renegotiate ? "does not go with --trace or --renegotiate"
                          : o.verify_client          ? "does not go with --verify-client"
                          : o.max_early_data > 0     ? "does not go with --early-data: each "
                                                       "worker would keep its own memory of "
                                                       "replayed early data, so a replay sent "
                                                       "to another worker would be accepted"
                                                     : NULL;
        if (why) {
            fprintf(stderr, "hasp server: --workers %d %s; see 'hasp server --help'\n", o.workers,
                    why);
            hasp_config_free(cfg);
            return 2;
        }
        hasp_workers_opts wo = {.accept = o.accept,
                                .workers = o.workers,
                                .naccept = o.naccept,
                                .quiet = o.quiet,
                                .own_ticket_keys = o.nticket_keys > 0,
                                .memcached = o.session_cache != NULL};
        int rc = hasp_serve_workers(cfg, &wo);
        hasp_config_free(cfg);
        return rc;
    }
    int lfd = hasp_tool_listen(o.accept, 0, 1);
    if (lfd < 0) {
        hasp_config_free(cfg);
        return 1;
    }
    if (o.www && !o.trace && !o.renegotiate && !o.verify_client) {
        /* many clients at once: the event loop */
        int rc = hasp_serve_www_epoll(cfg, lfd, o.naccept, o.quiet); /* closes lfd */
        hasp_config_free(cfg);
        return rc;
    }
    for (int nconn = 1; !o.naccept || nconn <= o.naccept; nconn++) {
        hasp_tool_reload(cfg);
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) {
                nconn--;
                continue;
            }
            fprintf(stderr, "hasp: accept failed: %s\n", strerror(errno));
            break;
        }
        /* A stuck peer must not stop the server. */
        struct timeval tv = {30, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        hasp_conn *c = hasp_conn_new(cfg, HASP_SERVER);
        hasp_set_fd(c, fd);
        hasp_trace_conn_begin(tracer, c, NULL);
        int rc = hasp_handshake(c);
        hasp_trace_handshake(tracer, c, rc);
        if (rc != 0) {
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "hasp: connection %d failed: ", nconn);
            hasp_tool_print_failure(stderr, prefix, c, rc, 1);
        } else {
            fprintf(stderr, "hasp: connection %d: %s %s (%s)\n", nconn, hasp_conn_version_name(c),
                    hasp_conn_cipher_name(c), hasp_conn_cipher_openssl_name(c));
            if (o.trace)
                print_summary(c, "hasp:   ");
            else if (hasp_conn_early_data(c) == HASP_EARLY_ACCEPTED)
                fprintf(stderr, "hasp: connection %d: early data: accepted\n", nconn);
            else if (hasp_conn_early_data(c) == HASP_EARLY_REJECTED)
                fprintf(stderr, "hasp: connection %d: early data: rejected: %s\n", nconn,
                        hasp_conn_early_data_reason(c));
            if (o.renegotiate && hasp_conn_version(c) == HASP_TLS1_2) {
                /* Server-initiated: HelloRequest; the client's handshake runs inside hasp_read. */
                if (o.reneg_verify_client) hasp_conn_set_verify_client(c, o.reneg_verify_client);
                if (hasp_conn_renegotiate(c) < 0 || hasp_handshake(c) < 0)
                    fprintf(stderr, "hasp: connection %d: renegotiation: %s\n", nconn,
                            hasp_conn_errmsg(c)[0] ? hasp_conn_errmsg(c)
                                                   : "the client refused or does not support it");
                else
                    fprintf(stderr, "hasp: connection %d: sent HelloRequest\n", nconn);
            }
            if (o.www)
                serve_www(c);
            else
                serve_echo(c, nconn);
            if (o.renegotiate || o.verify_client)
                fprintf(stderr, "hasp: connection %d: client certificate: %s\n", nconn,
                        hasp_conn_verify_result(c));
            hasp_close(c);
        }
        hasp_trace_conn_end(tracer, c, rc != 0 ? rc : hasp_conn_error(c));
        hasp_conn_free(c);
        linger_close(fd);
    }
    close(lfd);
    hasp_config_free(cfg);
    hasp_trace_free(tracer);
    return 0;
}

/* ---------------------------------------------------------------- main */

/* hasp help CMD, hasp CMD --help */
static int cmd_help(const char *cmd)
{
    if (!cmd) {
        usage(stdout);
        return 0;
    }
    char *argv[] = {(char *)cmd, (char *)"--help", NULL};
    if (!strcmp(cmd, "client")) {
        usage_cmd(stdout, FOR_CLIENT);
        return 0;
    }
    if (!strcmp(cmd, "server")) {
        usage_cmd(stdout, FOR_SERVER);
        return 0;
    }
    if (!strcmp(cmd, "verify")) return hasp_cmd_verify(2, argv);
    if (!strcmp(cmd, "probe")) return hasp_cmd_probe(1, argv + 1);
    if (!strcmp(cmd, "ciphers")) return hasp_cmd_ciphers(2, argv);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "help")) {
        printf("usage: hasp %s%s\n", cmd, !strcmp(cmd, "help") ? " [COMMAND]" : "");
        return 0;
    }
    fprintf(stderr, "hasp: unknown command '%s'; see 'hasp --help'\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "client")) return cmd_client(argc - 2, argv + 2);
    if (!strcmp(cmd, "server")) return cmd_server(argc - 2, argv + 2);
    if (!strcmp(cmd, "verify")) return hasp_cmd_verify(argc - 1, argv + 1);
    if (!strcmp(cmd, "ciphers")) return hasp_cmd_ciphers(argc - 1, argv + 1);
    if (!strcmp(cmd, "groups")) return hasp_cmd_groups(argc - 1, argv + 1);
    if (!strcmp(cmd, "probe")) return hasp_cmd_probe(argc - 2, argv + 2);
    if (!strcmp(cmd, "version")) {
        if (argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")))
            return cmd_help(cmd);
        if (argc > 2) {
            fprintf(stderr, "hasp version: unexpected argument '%s'; see 'hasp version --help'\n",
                    argv[2]);
            return 2;
        }
        printf("hasp %s\n", HASP_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "help")) return cmd_help(argc > 2 ? argv[2] : NULL);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "hasp: unknown command '%s'; see 'hasp --help'\n", cmd);
    return 2;
}
