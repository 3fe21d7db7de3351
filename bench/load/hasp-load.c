/* hasp-load: the load client of scripts/bench-server.sh (make bench-server), on hasp's own
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
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
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
            watch(s,
                  HASP_WANT_POLLIN); /* wait for epoll: a read now would most often find nothing */
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
        case 'p':
            port = atoi(optarg);
            break;
        case 'c':
            conns = atoi(optarg);
            break;
        case 'd':
            secs = atof(optarg);
            break;
        case 'w':
            warm = atof(optarg);
            break;
        case 'm':
            m = optarg;
            break;
        case 'n':
            idle_n = atoi(optarg);
            break;
        case 'P':
            pid = atoi(optarg);
            break;
        case 'S':
            scpu = atoi(optarg);
            break;
        case 'C':
            ccpu = atoi(optarg);
            break;
        default:
            fprintf(
                stderr,
                "usage: hasp-load -p PORT [-m close|keepalive|idle|get] [-c CONNS] "
                "[-d SECS] [-w WARMUP] [-n IDLE] [-P SERVER_PID] [-S SERVER_CPU] [-C OWN_CPU]\n");
            return 2;
        }
    }
    mode = !strcmp(m, "close")  ? M_CLOSE
           : !strcmp(m, "idle") ? M_IDLE
           : !strcmp(m, "get")  ? M_GET
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
        /* idle means quiet for a while: 4 s, past what a server may wait
         * before it shrinks a quiet connection (hasp server --www: 2 s) */
        usleep(4000000);
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
