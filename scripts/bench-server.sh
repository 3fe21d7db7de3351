#!/usr/bin/env bash
# hasp beside nginx (make bench-server, issue 19): `hasp server --www` and
# nginx (the Debian package: OpenSSL 3.0, worker_processes 1) one after the
# other, on the same certificates, the same page, the same load client, on
# loopback. One table: new TLS 1.3 connections per second (a full handshake
# per request; ECDSA P-256 and RSA-2048 certificates), keep-alive requests
# per second with p50 and p99 latency, and the server's RSS per idle TLS
# connection (1,000 open). The server is pinned to CPU 0, the load client
# to CPU 1; both CPU shares are printed for every run.
#
# The load client is hasp-load, on hasp's own client, compiled from the C
# below into the temporary directory: OpenSSL 3.0's clients (wrk, h2load)
# spend 1.4-1.6 ms of CPU per full handshake here, 2-3x what either server
# spends, so with one core each they, not the server, set the rate
# (bench/README.md, "Beside nginx").
#
# Usage: scripts/bench-server.sh BUILD_DIR [SECONDS] [CONNECTIONS]
#   SECONDS per measured run (default 8, after 1 s of warm-up),
#   CONNECTIONS concurrent connections of the load client (default 32).
# About 65 s in all with the defaults. Not part of `make test`.
set -u
BUILD=${1:-build}
SECS=${2:-8}
CONNS=${3:-32}
IDLE=1000
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HASP="$BUILD/hasp"
CERTS="$BUILD/test-certs"
die() { echo "bench-server: $*" >&2; exit 1; }

for t in nginx taskset ss pgrep "${CC:-cc}"; do
  command -v "$t" >/dev/null || die "$t is not installed (scripts/deps.sh bench-server installs what is missing)"
done
if [ ! -x "$HASP" ] || [ ! -f "$BUILD/libhasp.a" ]; then die "no $HASP or $BUILD/libhasp.a: run make build first"; fi
bash "$ROOT/tests/certs/gen.sh" "$CERTS" >/dev/null 2>&1 || die "cannot make the test certificates"
CERTS=$(cd "$CERTS" && pwd) # nginx reads them from its own prefix
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((IDLE * 2 + 200)) ] || die "ulimit -n is $(ulimit -n): $IDLE idle connections need more"

T=$(mktemp -d "${TMPDIR:-/tmp}/hasp-bench-server.XXXXXX")
SRV="" # the server running now (the load client runs in the foreground)
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(nproc)" -ge 2 ]; then
  SRV_CPU=0 CLI_CPU=1
else
  SRV_CPU=0 CLI_CPU=0
  echo "bench-server: one CPU only: the server and the load client share it" >&2
fi

cat >"$T/hasp-load.c" <<'C'
/* hasp-load: the load client of scripts/bench-server.sh, on hasp's own
 * client. One thread, one epoll loop over C non-blocking connections to
 * 127.0.0.1:PORT, HTTP/1.1 GET / on each. The certificate is not checked
 * (hasp_config_insecure_noverifycert: no chain, no name), the server's
 * CertificateVerify signature is; no session is ever offered, so each
 * connection is a full handshake. TLS 1.3, x25519, TLS_AES_128_GCM_SHA256
 * only, so both servers negotiate the same thing.
 *
 *   -m close      a new connection per request ("Connection: close")
 *   -m keepalive  requests one after the other on C connections
 *   -m idle       -n N connections, one request each, then silent: prints
 *                 the server's VmRSS (-P PID) before and with them open
 *   -m get        one request, the body on stdout, what was negotiated on
 *                 stderr
 * -w warm-up seconds, then -d measured seconds. Output: one line of
 * key=value (rate, p50/p99 in microseconds, own CPU and -P PID's CPU
 * over the measured seconds as a share of one core, and how busy CPUs
 * -S and -C were, whoever ran on them). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hasp.h"

enum { ST_CONNECT, ST_HANDSHAKE, ST_WRITE, ST_FLUSH, ST_READ, ST_IDLE };
enum { M_CLOSE, M_KEEPALIVE, M_IDLE, M_GET };

typedef struct slot {
    int fd, st;
    uint32_t ev; /* the events epoll watches for now */
    hasp_conn *c;
    size_t woff, have;
    int64_t t0;
    char buf[4096];
} slot;

static hasp_config *cfg;
static int ep, mode, port;
static const char *req;
static size_t req_len;
static long ok_reqs, errors, idle_now;
#define HIST_US 1000000 /* 1 us buckets up to 1 s */
static uint32_t *hist;
static long hist_over;
static int measuring;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* utime + stime of a process, seconds; -1 when unreadable */
static double cpu_of(int pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')');
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_of(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* busy and all ticks of one CPU from /proc/stat (busy: all but idle and iowait) */
static void cpu_ticks(int cpu, double *busy, double *all)
{
    char line[512], name[16];
    *busy = *all = 0;
    snprintf(name, sizeof(name), "cpu%d ", cpu);
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, strlen(name))) continue;
        double v[8] = {0};
        sscanf(line + strlen(name), "%lf %lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]);
        for (int i = 0; i < 8; i++)
            *all += v[i];
        *busy = *all - v[3] - v[4];
    }
    fclose(f);
}

/* a system call only when the events change */
static void watch(slot *s, int rc)
{
    uint32_t want = rc == HASP_WANT_POLLOUT ? EPOLLOUT : EPOLLIN;
    if (s->ev == want) return;
    struct epoll_event ev = {.events = want, .data.ptr = s};
    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
    s->ev = want;
}

static void drop(slot *s)
{
    if (s->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    if (s->c) hasp_conn_free(s->c);
    s->fd = -1;
    s->c = NULL;
}

static int start(slot *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) return -1;
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s->t0 = now_ns();
    s->st = ST_CONNECT;
    s->have = s->woff = 0;
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    s->ev = EPOLLOUT;
    return 0;
}

/* the length of a complete 200 response in buf, 0: not yet, -1: bad */
static long complete(const char *b, size_t n)
{
    const char *e = memmem(b, n, "\r\n\r\n", 4);
    if (!e) return n >= sizeof(((slot *)0)->buf) ? -1 : 0;
    if (n < 12 || memcmp(b, "HTTP/1.", 7) || memcmp(b + 8, " 200", 4)) return -1;
    long clen = -1;
    for (const char *p = b; p < e; p++)
        if ((p == b || p[-1] == '\n') && !strncasecmp(p, "content-length:", 15))
            clen = strtol(p + 15, NULL, 10);
    if (clen < 0) return -1;
    long total = (long)(e + 4 - b) + clen;
    if (total > (long)sizeof(((slot *)0)->buf)) return -1;
    return (size_t)total <= n ? total : 0;
}

static void record(int64_t ns)
{
    if (!measuring) return;
    ok_reqs++;
    int64_t us = ns / 1000;
    if (us < HIST_US)
        hist[us]++;
    else
        hist_over++;
}

/* Advance a connection as far as it goes. 0: keep it, -1: it failed,
 * 1: done (close mode: start another). */
static int step(slot *s)
{
    for (;;) {
        int rc;
        switch (s->st) {
        case ST_CONNECT: {
            int err = 0;
            socklen_t l = sizeof(err);
            getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) return -1;
            s->c = hasp_conn_new(cfg, HASP_CLIENT);
            if (!s->c || hasp_set_fd(s->c, s->fd) < 0) return -1;
            s->st = ST_HANDSHAKE;
            break;
        }
        case ST_HANDSHAKE:
            rc = hasp_handshake(s->c);
            if (rc == HASP_WANT_POLLIN || rc == HASP_WANT_POLLOUT) {
                watch(s, rc);
                return 0;
            }
            if (rc < 0) {
                if (mode == M_GET) fprintf(stderr, "hasp-load: %s\n", hasp_conn_errmsg(s->c));
                return -1;
            }
            if (mode == M_GET)
                fprintf(stderr, "%s %s %s %s ", hasp_conn_version_name(s->c),
                        hasp_conn_cipher_name(s->c),
                        hasp_conn_group_name(s->c) ? hasp_conn_group_name(s->c) : "-",
                        hasp_conn_sigalg_name(s->c) ? hasp_conn_sigalg_name(s->c) : "-");
            s->st = ST_WRITE;
            s->woff = 0;
            if (mode == M_KEEPALIVE) s->t0 = now_ns();
            break;
        case ST_WRITE: {
            ssize_t n = hasp_write(s->c, req + s->woff, req_len - s->woff);
            if (n == HASP_WANT_POLLIN || n == HASP_WANT_POLLOUT) {
                watch(s, (int)n);
                return 0;
            }
            if (n < 0) return -1;
            s->woff += (size_t)n;
            if (s->woff == req_len) s->st = ST_FLUSH;
            break;
        }
        case ST_FLUSH:
            rc = hasp_flush(s->c);
            if (rc == HASP_WANT_POLLOUT) {
                watch(s, rc);
                return 0;
            }
            if (rc < 0) return -1;
            s->st = ST_READ;
            s->have = 0;
            watch(s, HASP_WANT_POLLIN); /* wait for epoll: a read now would most often find nothing */
            return 0;
        case ST_READ: {
            ssize_t n = hasp_read(s->c, s->buf + s->have, sizeof(s->buf) - s->have);
            if (n == HASP_WANT_POLLIN || n == HASP_WANT_POLLOUT) {
                watch(s, (int)n);
                return 0;
            }
            if (n <= 0) return -1;
            s->have += (size_t)n;
            long t = complete(s->buf, s->have);
            if (t < 0 || (t > 0 && (size_t)t != s->have)) return -1;
            if (t == 0) break;
            record(now_ns() - s->t0);
            if (mode == M_GET) {
                const char *body = memmem(s->buf, s->have, "\r\n\r\n", 4) + 4;
                fprintf(stderr, "headers=%d body=%d\n", (int)(body - s->buf),
                        (int)(s->buf + s->have - body));
                fwrite(body, 1, (size_t)(s->buf + s->have - body), stdout);
                return 1;
            }
            if (mode == M_CLOSE) {
                (void)hasp_close(s->c); /* close_notify, best effort */
                return 1;
            }
            if (mode == M_IDLE) {
                s->st = ST_IDLE;
                idle_now++;
                watch(s, HASP_WANT_POLLIN);
                return 0;
            }
            s->st = ST_WRITE;
            s->woff = 0;
            s->t0 = now_ns();
            break;
        }
        case ST_IDLE: /* the server should stay silent */
            idle_now--;
            return -1;
        }
    }
}

static long pct(double q)
{
    long want = (long)(q * (double)ok_reqs), seen = 0;
    for (long i = 0; i < HIST_US; i++)
        if ((seen += hist[i]) > want) return i;
    return HIST_US;
}

int main(int argc, char **argv)
{
    int conns = 32, idle_n = 1000, pid = 0, scpu = 0, ccpu = 1;
    double secs = 5, warm = 1;
    const char *m = "keepalive";
    int o;
    while ((o = getopt(argc, argv, "p:c:d:w:m:n:P:S:C:")) != -1) {
        switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'w': warm = atof(optarg); break;
        case 'm': m = optarg; break;
        case 'n': idle_n = atoi(optarg); break;
        case 'P': pid = atoi(optarg); break;
        case 'S': scpu = atoi(optarg); break;
        case 'C': ccpu = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: hasp-load -p PORT [-m close|keepalive|idle|get] [-c CONNS] "
                            "[-d SECS] [-w WARMUP] [-n IDLE] [-P SERVER_PID] [-S SERVER_CPU] [-C OWN_CPU]\n");
            return 2;
        }
    }
    mode = !strcmp(m, "close") ? M_CLOSE : !strcmp(m, "idle") ? M_IDLE : !strcmp(m, "get") ? M_GET
                                                                                          : M_KEEPALIVE;
    if (port <= 0 || conns <= 0) return 2;
    req = mode == M_CLOSE ? "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                          : "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    req_len = strlen(req);
    cfg = hasp_config_new();
    if (!cfg || hasp_config_set_versions(cfg, HASP_TLS1_3, HASP_TLS1_3) < 0 ||
        hasp_config_set_groups(cfg, "x25519") < 0 ||
        hasp_config_set_ciphersuites13(cfg, "TLS_AES_128_GCM_SHA256") < 0) {
        fprintf(stderr, "hasp-load: config: %s\n", cfg ? hasp_config_errmsg(cfg) : "no memory");
        return 1;
    }
    hasp_config_insecure_noverifycert(cfg);
    hist = calloc(HIST_US, sizeof(*hist));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!hist || ep < 0) return 1;
    if (mode == M_GET) conns = 1;
    int total = mode == M_IDLE ? idle_n : conns;
    slot *slots = calloc((size_t)total, sizeof(*slots));
    if (!slots) return 1;
    for (int i = 0; i < total; i++)
        slots[i].fd = -1;

    long rss0 = -1;
    int opened = 0;
    if (mode == M_IDLE) {
        /* warm-up: a few connections with a request each, closed, so that
         * what a server sets up on first use is in the baseline */
        int64_t lim = now_ns() + 5000000000LL;
        for (int i = 0; i < 4; i++)
            start(&slots[i]);
        int left = 4;
        while (left > 0 && now_ns() < lim) {
            struct epoll_event evs[64];
            int n = epoll_wait(ep, evs, 64, 100);
            for (int i = 0; i < n; i++) {
                slot *s = evs[i].data.ptr;
                int r = step(s);
                if (r == 0 && s->st != ST_IDLE) continue;
                if (r >= 0 && s->c) (void)hasp_close(s->c);
                drop(s);
                left--;
            }
        }
        idle_now = 0;
        usleep(300000);
        rss0 = rss_of(pid);
    }

    int64_t t_start = now_ns(), t_warm = t_start + (int64_t)(warm * 1e9),
            t_end = t_warm + (int64_t)(secs * 1e9);
    if (mode == M_IDLE) t_end = t_start + (int64_t)(secs * 1e9), t_warm = t_start;
    double c0 = 0, s0 = 0, w0 = 0, sb0 = 0, sa0 = 0, cb0 = 0, ca0 = 0;
    if (mode == M_IDLE || mode == M_GET) {
        measuring = 1;
        c0 = cpu_self();
        s0 = pid ? cpu_of(pid) : 0;
    }
    int inflight = 0;
    int initial = mode == M_IDLE ? (conns < idle_n ? conns : idle_n) : conns;
    for (int i = 0; i < initial; i++)
        if (start(&slots[opened++]) == 0) inflight++;
    struct epoll_event evs[256];
    int rc = 0;
    for (;;) {
        int64_t t = now_ns();
        if (!measuring && t >= t_warm) {
            measuring = 1;
            ok_reqs = errors = 0;
            c0 = cpu_self();
            s0 = pid ? cpu_of(pid) : 0;
            w0 = (double)t / 1e9;
            cpu_ticks(scpu, &sb0, &sa0);
            cpu_ticks(ccpu, &cb0, &ca0);
        }
        if (t >= t_end) {
            if (mode == M_IDLE) {
                fprintf(stderr, "hasp-load: only %ld of %d connections idle after %.0f s\n",
                        idle_now, idle_n, secs);
                rc = 1;
            }
            break;
        }
        if (mode == M_GET && inflight == 0) break;
        if (mode == M_IDLE && idle_now == idle_n) break;
        int n = epoll_wait(ep, evs, 256, 10);
        for (int i = 0; i < n; i++) {
            slot *s = evs[i].data.ptr;
            int r = step(s);
            if (r == 0) continue;
            if (r < 0) errors++;
            drop(s);
            inflight--;
            if (mode == M_GET) {
                if (r < 0) rc = 1;
                continue;
            }
            if (mode == M_IDLE) {
                /* the next of the N, one in flight fewer when a connection failed */
                if (opened < idle_n && start(&slots[opened]) == 0) inflight++;
                opened++;
                continue;
            }
            if (start(s) == 0)
                inflight++;
            else
                errors++;
        }
        if (mode == M_IDLE)
            while (inflight - idle_now < conns && opened < idle_n) {
                if (start(&slots[opened++]) == 0) inflight++;
            }
    }
    double wall = (double)now_ns() / 1e9 - w0;
    double cs = cpu_self() - c0, ss = pid ? cpu_of(pid) - s0 : -1, sb, sa, cb, ca;
    cpu_ticks(scpu, &sb, &sa);
    cpu_ticks(ccpu, &cb, &ca);
    if (mode == M_GET) return rc;
    if (mode == M_IDLE) {
        usleep(300000);
        long rss1 = rss_of(pid);
        printf("idle=%ld errors=%ld rss0_kb=%ld rss1_kb=%ld per_conn_b=%.0f\n", idle_now, errors,
               rss0, rss1, idle_now ? (double)(rss1 - rss0) * 1024.0 / (double)idle_now : 0.0);
        fflush(stdout);
        return rc;
    }
    printf("reqs=%ld errors=%ld secs=%.2f rate=%.0f p50_us=%ld p99_us=%ld client_cpu=%.2f "
           "server_cpu=%.2f server_cpu_busy=%.2f client_cpu_busy=%.2f\n",
           ok_reqs, errors, wall, ok_reqs / wall, pct(0.50), pct(0.99), cs / wall,
           ss >= 0 ? ss / wall : -1.0, sa > sa0 ? (sb - sb0) / (sa - sa0) : -1.0,
           ca > ca0 ? (cb - cb0) / (ca - ca0) : -1.0);
    return rc;
}
C

LOAD="$T/hasp-load"
"${CC:-cc}" -O2 -I "$ROOT/include" -o "$LOAD" "$T/hasp-load.c" "$BUILD/libhasp.a" -lcrypto -pthread \
  2>"$T/cc.log" || die "cannot compile the load client: $(cat "$T/cc.log")"

free_port() {
  local p=$(( 21000 + RANDOM % 20000 ))
  while ss -ltn | grep -q ":$p "; do p=$((p + 1)); done
  echo $p
}
wait_port() { for _ in $(seq 50); do ss -ltn | grep -q "127.0.0.1:$1 " && return 0; sleep 0.1; done; return 1; }

# start_hasp CERT KEY / start_nginx CERT KEY PAGE: set PORT, SRV (the process
# started) and MEASURE (the one whose CPU and RSS count: for nginx the worker)
start_hasp() {
  PORT=$(free_port)
  taskset -c "$SRV_CPU" "$HASP" server --accept "$PORT" --www --quiet --tls1_3 \
    --cert "$1" --key "$2" >"$T/hasp.log" 2>&1 &
  SRV=$!
  MEASURE=$SRV
  wait_port "$PORT" || die "hasp server did not start: $(cat "$T/hasp.log")"
}
start_nginx() {
  local page
  PORT=$(free_port)
  page=$(cat "$3"; echo x)
  page=${page%x}
  case $page in *[\"\\\$]*) die "the page has a character nginx's return would interpret" ;; esac
  mkdir -p "$T/nginx"
  cat >"$T/nginx/nginx.conf" <<CONF
# hasp's bench-server: nginx as the Debian package builds it, defaults
# otherwise (tickets on, no session cache)
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT ssl backlog=64;
        ssl_certificate $1;
        ssl_certificate_key $2;
        ssl_protocols TLSv1.3;
        location / {
            default_type text/html;
            return 200 "$page";
        }
    }
}
CONF
  taskset -c "$SRV_CPU" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
    >"$T/nginx.out" 2>&1 &
  SRV=$!
  wait_port "$PORT" || die "nginx did not start: $(cat "$T/nginx.out" "$T/nginx/error.log" 2>/dev/null)"
  MEASURE=""
  for _ in $(seq 20); do
    MEASURE=$(pgrep -P "$SRV" | head -n 1)
    [ -n "$MEASURE" ] && break
    sleep 0.1
  done
  [ -n "$MEASURE" ] || die "nginx started no worker"
}
stop_server() {
  kill "$SRV" 2>/dev/null
  for _ in $(seq 30); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SRV" 2>/dev/null
  wait "$SRV" 2>/dev/null
  SRV=""
}
# load MODE [ARGS]: one run of hasp-load against $PORT, its key=value line
load() {
  local mode=$1
  shift
  timeout $((SECS + 40)) taskset -c "$CLI_CPU" "$LOAD" -p "$PORT" -P "$MEASURE" -S "$SRV_CPU" -C "$CLI_CPU" \
    -m "$mode" "$@" \
    2>>"$T/load.err"
}
kv() { # kv LINE KEY
  local f
  for f in $1; do [ "${f%%=*}" = "$2" ] && { echo "${f#*=}"; return; }; done
  echo "?"
}

# how busy the two CPUs are before we start, over one second
busy() {
  local a b
  a=$(grep -E "^cpu($SRV_CPU|$CLI_CPU) " /proc/stat)
  sleep 1
  b=$(grep -E "^cpu($SRV_CPU|$CLI_CPU) " /proc/stat)
  paste <(echo "$a") <(echo "$b") | awk '{ n = (NF - 2) / 2; all = 0
    for (i = 2; i <= 9; i++) { d = $(i + n + 1) - $i; all += d; if (i == 5 || i == 6) idle += d }
    printf "%s%s %.0f%%", sep, toupper(substr($1, 1, 1)) substr($1, 2), all ? 100 * (all - idle) / all : 0
    sep = ", "; idle = 0 } END { print "" }'
}

declare -A R
echo "hasp beside nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //') with $(openssl version | cut -d' ' -f1-2), hasp $("$HASP" version 2>/dev/null | head -n 1 | awk '{print $NF}')"
echo "before the runs: $(uptime | sed 's/.*load average/load average/'); busy over 1 s: $(busy)"
echo "server on CPU $SRV_CPU, load client (hasp-load, one thread, $CONNS connections) on CPU $CLI_CPU; ${SECS} s per run after 1 s of warm-up"

# row by row, hasp then nginx, so that a change in the machine's load
# between rows hits both alike; a fresh server for every run
for run in ecdsa,close ecdsa,ka rsa,close; do
  cert=${run%,*}
  for srv in hasp nginx; do
    if [ "$srv" = hasp ]; then
      start_hasp "$CERTS/$cert.pem" "$CERTS/$cert.key"
    else
      start_nginx "$CERTS/$cert.pem" "$CERTS/$cert.key" "$T/page-hasp-$cert"
    fi
    timeout 10 "$LOAD" -p "$PORT" -m get >"$T/page-$srv-$cert" 2>"$T/neg-$srv-$cert" ||
      die "$srv ($cert): GET / failed: $(cat "$T/neg-$srv-$cert")"
    if [ "${run#*,}" = close ]; then
      R[$srv,$cert,close]=$(load close -c "$CONNS" -w 1 -d "$SECS")
    else
      R[$srv,ka]=$(load keepalive -c "$CONNS" -w 1 -d "$SECS")
    fi
    stop_server
  done
done
# fresh servers for memory: the baseline is after four connections
for srv in hasp nginx; do
  if [ "$srv" = hasp ]; then
    start_hasp "$CERTS/ecdsa.pem" "$CERTS/ecdsa.key"
  else
    start_nginx "$CERTS/ecdsa.pem" "$CERTS/ecdsa.key" "$T/page-hasp-ecdsa"
    R[nginx,master_kb]=$(awk '/^VmRSS:/ {print $2}' "/proc/$SRV/status")
  fi
  R[$srv,idle]=$(load idle -n "$IDLE" -c "$CONNS" -d 30)
  stop_server
done

# the table
num() { awk -v v="$1" 'BEGIN { exit !(v ~ /^-?[0-9.]+$/) }'; }
ratio() { if num "$1" && num "$2" && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "?"; fi; }
ms() { if num "$1"; then awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; else echo "?"; fi; }
pct() { if num "$1"; then awk -v c="$1" 'BEGIN { printf "%.0f%%", c * 100 }'; else echo "?"; fi; }
GOALS=()
# goal NAME A B OP: OP is ge (A >= B), le (A <= B) or quarter (A <= B/4)
goal() {
  local verdict="n/a"
  if num "$2" && num "$3"; then
    if awk -v a="$2" -v b="$3" -v op="$4" 'BEGIN { exit !((op == "ge" && a >= b) || (op == "le" && a <= b) || (op == "quarter" && 4 * a <= b)) }'; then
      verdict="met"
    else
      verdict="NOT met"
    fi
  fi
  GOALS+=("$(printf '  %-50s %s' "$1" "$verdict")")
}
row() { printf '%-30s %12s %12s %11s\n' "$@"; }

he=${R[hasp,ecdsa,close]:-} ne=${R[nginx,ecdsa,close]:-}
hr=${R[hasp,rsa,close]:-} nr=${R[nginx,rsa,close]:-}
hk=${R[hasp,ka]:-} nk=${R[nginx,ka]:-}
hi=${R[hasp,idle]:-} ni=${R[nginx,idle]:-}
echo
row "row" "hasp" "nginx" "hasp/nginx"
for r in "new conns/s TLS1.3 ECDSA:$he:$ne:rate:ge" "new conns/s TLS1.3 RSA-2048:$hr:$nr:rate:ge" \
  "keep-alive req/s:$hk:$nk:rate:ge" "p50 latency keep-alive (ms):$hk:$nk:p50_us:le" \
  "p99 latency keep-alive (ms):$hk:$nk:p99_us:le" "RSS per idle conn (bytes):$hi:$ni:per_conn_b:quarter"; do
  IFS=: read -r name hl nl key op <<<"$r"
  a=$(kv "$hl" "$key") b=$(kv "$nl" "$key")
  case $key in
    p50_us | p99_us) row "$name" "$(ms "$a")" "$(ms "$b")" "$(ratio "$a" "$b")" ;;
    *) row "$name" "$a" "$b" "$(ratio "$a" "$b")" ;;
  esac
  case $op in
    ge) goal "hasp >= nginx: $name" "$b" "$a" le ;;
    le) goal "hasp <= nginx: $name" "$a" "$b" le ;;
    quarter) goal "hasp <= 1/4 of nginx: $name" "$a" "$b" quarter ;;
  esac
done

echo
echo "CPU over each measured run, as a share of one core: the server on CPU $SRV_CPU (nginx: its worker),"
echo "hasp-load on CPU $CLI_CPU, and rest: what else kept CPU $SRV_CPU / CPU $CLI_CPU busy (other processes,"
echo "softirq time not charged to a process, steal)"
printf '%-30s %7s %7s %9s   %7s %7s %9s\n' "" "hasp" "load" "rest" "nginx" "load" "rest"
rest() { # rest LINE: busy minus the server / busy minus the load client
  local a b c d
  a=$(kv "$1" server_cpu_busy) b=$(kv "$1" server_cpu) c=$(kv "$1" client_cpu_busy) d=$(kv "$1" client_cpu)
  if num "$a" && num "$b" && num "$c" && num "$d"; then
    awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" 'function z(x) { return x < 0 ? 0 : x }
      BEGIN { printf "%.0f/%.0f%%", 100 * z(a - b), 100 * z(c - d) }'
  else
    echo "?"
  fi
}
NOTES=()
for r in "new conns/s TLS1.3 ECDSA:$he:$ne" "new conns/s TLS1.3 RSA-2048:$hr:$nr" "keep-alive req/s:$hk:$nk"; do
  IFS=: read -r name hl nl <<<"$r"
  printf '%-30s %7s %7s %9s   %7s %7s %9s\n' "$name" "$(pct "$(kv "$hl" server_cpu)")" \
    "$(pct "$(kv "$hl" client_cpu)")" "$(rest "$hl")" "$(pct "$(kv "$nl" server_cpu)")" \
    "$(pct "$(kv "$nl" client_cpu)")" "$(rest "$nl")"
  for x in "hasp:$hl" "nginx:$nl"; do
    srv=${x%%:*} l=${x#*:}
    c=$(kv "$l" client_cpu) v=$(kv "$l" server_cpu)
    if ! num "$c" || ! num "$v"; then continue; fi
    if awk -v c="$c" 'BEGIN { exit !(c >= 0.85) }'; then
      NOTES+=("  $name, $srv: hasp-load used $(pct "$c") of its core: it was (near) the limit, $srv's rate is a lower bound")
    elif awk -v v="$v" 'BEGIN { exit !(v < 0.85) }'; then
      NOTES+=("  $name, $srv: neither side had its core ($srv $(pct "$v"), hasp-load $(pct "$c"), rest $(rest "$l")): a disturbed run")
    fi
  done
done
if [ ${#NOTES[@]} -gt 0 ]; then
  printf '%s\n' "${NOTES[@]}"
else
  echo "  in every run the server used >= 85% of its core and hasp-load less: the server set the rate"
fi

echo
errs=0 missing=0
for l in "$he" "$ne" "$hr" "$nr" "$hk" "$nk" "$hi" "$ni"; do
  e=$(kv "$l" errors)
  if num "$e"; then errs=$((errs + e)); else missing=$((missing + 1)); fi
done
echo "failed connections or requests over all runs: $errs$([ $missing = 0 ] || echo " ($missing runs gave no result)")"
for cert in ecdsa rsa; do
  if cmp -s "$T/page-hasp-$cert" "$T/page-nginx-$cert"; then same="the same"; else same="NOT the same"; fi
  printf '%s: hasp  %s\n       nginx %s\n       bodies %s (%s bytes)\n' "$cert" "$(cat "$T/neg-hasp-$cert")" \
    "$(cat "$T/neg-nginx-$cert")" "$same" "$(wc -c <"$T/page-hasp-$cert")"
done
printf 'idle RSS (kB, before and with %d connections): hasp %s -> %s; nginx worker %s -> %s (master %s, not counted)\n' \
  "$IDLE" "$(kv "$hi" rss0_kb)" "$(kv "$hi" rss1_kb)" "$(kv "$ni" rss0_kb)" "$(kv "$ni" rss1_kb)" "${R[nginx,master_kb]:-?}"
echo "load at the end: $(uptime | sed 's/.*load average/load average/')"
echo
echo "goals (issue 19):"
printf '%s\n' "${GOALS[@]}"
if [ -s "$T/load.err" ]; then
  echo
  echo "hasp-load said:"
  sort "$T/load.err" | uniq -c | sort -rn | head -n 5
fi
