/* hasp server --www: many connections at once on one thread, an epoll loop
 * over non-blocking sockets driving the engine (HASP_WANT_POLLIN /
 * HASP_WANT_POLLOUT). HTTP/1.1 keep-alive; every GET gets the page that
 * describes its connection. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hasp.h"
#include "tool.h"

/* PH_LINGER: the connection is over on our side (close_notify or a fatal
 * alert sent, write side shut); what the peer still sends is read and
 * dropped until it closes (tool.h: HASP_LINGER_*), so that closing with
 * unread bytes does not reset the connection and destroy the alert before
 * the peer reads it (as nginx's lingering_close does). */
enum phase { PH_HANDSHAKE, PH_READ, PH_WRITE, PH_LINGER };

#define RESP_CAP 4608 /* the page, with room to spare */

typedef struct www_conn {
    int fd;
    hasp_conn *c;
    int phase;
    int id;
    int keep_alive;
    char *req; /* allocated while a request is being read */
    size_t req_len;
    int bad;                   /* answered 400: close after the response */
    char *resp;                /* allocated while a response is being written */
    size_t resp_len, resp_off; /* bytes handed to hasp_write so far */
    time_t last, linger_since;
    size_t lingered;
    int shrunk;                   /* hasp_conn_release_idle done since the last activity */
    struct www_conn *prev, *next; /* all open connections, for the idle sweep */
} www_conn;

static www_conn *all_conns;
static char who[32] = "hasp: "; /* "hasp: worker 2: " in a worker */

static void set_events(int ep, www_conn *w, int rc)
{
    struct epoll_event ev = {.events = rc == HASP_WANT_POLLOUT ? EPOLLOUT : EPOLLIN, .data.ptr = w};
    epoll_ctl(ep, EPOLL_CTL_MOD, w->fd, &ev);
}

static void finish(int ep, www_conn *w, int *open_conns)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        all_conns = w->next;
    if (w->next) w->next->prev = w->prev;
    epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, NULL);
    hasp_conn_free(w->c);
    close(w->fd);
    free(w->req);
    free(w->resp);
    free(w);
    (*open_conns)--;
}

/* Read and drop what the peer sends after we are done. 1: keep lingering. */
static int linger(www_conn *w)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n > 0) {
            w->lingered += (size_t)n;
            if (w->lingered > HASP_LINGER_MAX) return 0;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 1;
        if (n < 0 && errno == EINTR) continue;
        return 0; /* EOF or an error */
    }
}

static int linger_start(int ep, www_conn *w, time_t now)
{
    if (shutdown(w->fd, SHUT_WR) < 0) return 0;
    w->phase = PH_LINGER;
    w->linger_since = now;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    epoll_ctl(ep, EPOLL_CTL_MOD, w->fd, &ev);
    return linger(w);
}

/* Advance one connection as far as it can go. 1: keep it, 0: done. */
static int step(int ep, www_conn *w, int quiet)
{
    if (w->phase == PH_LINGER) return linger(w);
    for (;;) {
        int rc;
        switch (w->phase) {
        case PH_HANDSHAKE:
            rc = hasp_handshake(w->c);
            if (rc == HASP_WANT_POLLIN || rc == HASP_WANT_POLLOUT) {
                set_events(ep, w, rc);
                return 1;
            }
            if (rc != 0) {
                if (!quiet) {
                    char prefix[64];
                    snprintf(prefix, sizeof(prefix), "%sconnection %d failed: ", who, w->id);
                    hasp_tool_print_failure(stderr, prefix, w->c, rc, 1);
                }
                return 0;
            }
            if (!quiet)
                fprintf(stderr, "%sconnection %d: %s %s (%s)\n", who, w->id,
                        hasp_conn_version_name(w->c), hasp_conn_cipher_name(w->c),
                        hasp_conn_cipher_openssl_name(w->c));
            w->phase = PH_READ;
            break;
        case PH_READ: {
            if (hasp_tool_stopping && w->req_len == 0) {
                /* draining: an idle keep-alive connection gets close_notify */
                if (hasp_close(w->c) == HASP_WANT_POLLOUT) (void)0; /* best effort */
                return 0;
            }
            hasp_http_req req;
            int pr = w->req_len ? hasp_http_parse(w->req, w->req_len, &req) : HASP_HTTP_MORE;
            if (pr == HASP_HTTP_MORE) {
                if (!w->req && !(w->req = malloc(HASP_HTTP_MAX_REQUEST + 1))) return 0;
                ssize_t n =
                    hasp_read(w->c, w->req + w->req_len, HASP_HTTP_MAX_REQUEST - w->req_len);
                if (n == HASP_WANT_POLLIN || n == HASP_WANT_POLLOUT) {
                    if (w->req_len == 0) {
                        free(w->req); /* an idle keep-alive connection holds no buffer */
                        w->req = NULL;
                    }
                    set_events(ep, w, (int)n);
                    return 1;
                }
                if (n <= 0) return 0; /* close_notify (answered) or an error */
                w->req_len += (size_t)n;
                break;
            }
            int len;
            if (!w->resp && !(w->resp = malloc(RESP_CAP))) return 0;
            if (pr == HASP_HTTP_BAD) {
                w->keep_alive = 0;
                w->bad = 1;
                len = hasp_http_bad_request(w->resp, RESP_CAP);
                w->req_len = 0;
            } else {
                w->keep_alive = req.keep_alive;
                len = hasp_www_page(w->c, w->resp, RESP_CAP, req.minor, w->keep_alive);
                /* drop this request; keep any pipelined bytes after it */
                memmove(w->req, w->req + req.used, w->req_len - req.used);
                w->req_len -= req.used;
            }
            w->resp_len = len > 0 && (size_t)len < RESP_CAP ? (size_t)len : 0;
            w->resp_off = 0;
            w->phase = PH_WRITE;
            break;
        }
        case PH_WRITE:
            if (w->resp_off < w->resp_len) {
                ssize_t n = hasp_write(w->c, w->resp + w->resp_off, w->resp_len - w->resp_off);
                if (n == HASP_WANT_POLLIN || n == HASP_WANT_POLLOUT) {
                    set_events(ep, w, (int)n);
                    return 1;
                }
                if (n < 0) return 0;
                w->resp_off += (size_t)n;
            }
            rc = hasp_flush(w->c);
            if (rc == HASP_WANT_POLLOUT) {
                set_events(ep, w, rc);
                return 1;
            }
            if (rc < 0) return 0;
            if (!w->keep_alive || hasp_tool_stopping) {
                if (hasp_close(w->c) == HASP_WANT_POLLOUT)
                    (void)0; /* best effort: the socket is full, close anyway */
                return 0;
            }
            free(w->resp); /* an idle keep-alive connection holds no buffer */
            w->resp = NULL;
            w->phase = PH_READ;
            break;
        }
    }
}

int hasp_serve_www_epoll(hasp_config *cfg, int lfd, int naccept, int quiet)
{
    if (hasp_tool_worker > 0) snprintf(who, sizeof(who), "hasp: worker %d: ", hasp_tool_worker);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        fprintf(stderr, "hasp: error: epoll_create1: %s\n", strerror(errno));
        return 1;
    }
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    int accepted = 0, open_conns = 0;
    struct epoll_event evs[256];
    time_t last_sweep = time(NULL), drain_since = 0;
    for (;;) {
        if (naccept && accepted >= naccept && open_conns == 0) break;
        if (hasp_tool_stopping && lfd >= 0) {
            /* SIGTERM: stop accepting (closing the socket takes it out of the
             * SO_REUSEPORT group), finish what is in flight */
            epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
            close(lfd);
            lfd = -1;
            drain_since = time(NULL);
            for (www_conn *w = all_conns, *next; w; w = next) {
                next = w->next;
                if (w->phase == PH_READ && w->req_len == 0 && !step(ep, w, quiet) &&
                    (w->phase == PH_LINGER || !linger_start(ep, w, drain_since)))
                    finish(ep, w, &open_conns);
            }
        }
        if (lfd < 0 && (open_conns == 0 || time(NULL) - drain_since >= HASP_DRAIN_S)) break;
        int n = epoll_wait(ep, evs, 256, 1000);
        hasp_tool_reload(cfg);
        hasp_tool_worker_tick(cfg);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "hasp: error: epoll_wait: %s\n", strerror(errno));
            break;
        }
        time_t now = time(NULL);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                /* new connections, as many as are waiting */
                for (;;) {
                    if (naccept && accepted >= naccept) break;
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    www_conn *w = calloc(1, sizeof(*w));
                    hasp_conn *c = w ? hasp_conn_new(cfg, HASP_SERVER) : NULL;
                    if (!c) {
                        free(w);
                        close(fd);
                        continue;
                    }
                    w->fd = fd;
                    w->c = c;
                    w->id = ++accepted;
                    w->last = now;
                    hasp_set_fd(c, fd);
                    w->next = all_conns;
                    if (all_conns) all_conns->prev = w;
                    all_conns = w;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                    open_conns++;
                }
                continue;
            }
            www_conn *w = evs[i].data.ptr;
            w->last = now;
            w->shrunk = 0;
            if (!step(ep, w, quiet) && (w->phase == PH_LINGER || !linger_start(ep, w, now)))
                finish(ep, w, &open_conns);
        }
        if (now - last_sweep >= 1) {
            /* a peer silent for 30 s loses its connection */
            last_sweep = now;
            int shrunk = 0;
            for (www_conn *w = all_conns, *next; w; w = next) {
                next = w->next;
                if (w->phase == PH_LINGER && (now - w->last >= HASP_LINGER_IDLE_S ||
                                              now - w->linger_since >= HASP_LINGER_TOTAL_S)) {
                    finish(ep, w, &open_conns);
                    continue;
                }
                if (w->phase == PH_READ && w->req_len == 0 && now - w->last >= 2 && !w->shrunk) {
                    hasp_conn_release_idle(w->c); /* quiet keep-alive: ~2.3 KB less */
                    w->shrunk = 1;
                    shrunk++;
                }
                if (now - w->last >= 30) {
                    if (!quiet && w->phase == PH_HANDSHAKE)
                        fprintf(stderr,
                                "%sconnection %d failed: the handshake took longer "
                                "than 30 s\n",
                                who, w->id);
                    finish(ep, w, &open_conns);
                }
            }
            /* give what many quiet connections freed back to the system */
            if (shrunk >= 64) malloc_trim(0);
        }
    }
    close(ep);
    if (lfd >= 0) close(lfd);
    return 0;
}
