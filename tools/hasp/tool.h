#ifndef HASP_TOOL_H
#define HASP_TOOL_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
/* hasp verify (tools/hasp/verify.c) */
int hasp_cmd_verify(int argc, char **argv);
/* hasp ciphers (tools/hasp/ciphers.c) */
int hasp_cmd_ciphers(int argc, char **argv);
int hasp_cmd_groups(int argc, char **argv);
/* hasp server --www: the epoll loop (tools/hasp/serve_epoll.c) */
struct hasp_config;
int hasp_serve_www_epoll(struct hasp_config *cfg, int lfd, int naccept, int quiet); /* closes lfd */
/* SIGHUP seen: read the --ticket-keys files again (main.c); in a worker,
 * also take the parent's new ticket keys (workers.c). Both server loops call
 * it between connections. */
void hasp_tool_reload(struct hasp_config *cfg);
void hasp_tool_on_sighup(int sig); /* the SIGHUP handler that asks for it */
void hasp_tool_worker_tick(struct hasp_config *cfg);
/* Listen on [HOST:]PORT (main.c); reuseport: SO_REUSEPORT, for workers. */
int hasp_tool_listen(const char *spec, int reuseport, int announce);

/* hasp server --session-cache memcached://... (tools/hasp/memcache.c):
 * 0, or -1 after printing why (bad URL, no --ticket-keys, built without
 * libmemcached). rekey: the ticket keys were read again. */
int hasp_memcache_attach(struct hasp_config *cfg, const char *url, const char *const *key_files,
                         size_t nkey_files, int quiet);
void hasp_memcache_rekey(const char *const *key_files, size_t n);

/* hasp server --workers N (tools/hasp/workers.c) */
typedef struct hasp_workers_opts {
    const char *accept;
    int workers, naccept, quiet;
    int own_ticket_keys; /* --ticket-keys given: every worker reads the files */
    int memcached;       /* --session-cache given: the workers share memcached, not memory */
} hasp_workers_opts;
int hasp_serve_workers(struct hasp_config *cfg, const hasp_workers_opts *o);
extern int hasp_tool_worker;                     /* 0: not a worker, else 1..N */
extern volatile sig_atomic_t hasp_tool_stopping; /* SIGTERM: drain and exit */
#define HASP_DRAIN_S 10 /* a draining worker exits after this many seconds at most */
struct hasp_conn;
/* A failed connection's sentence and what would change it (main.c); server:
 * this side is hasp server. */
void hasp_tool_print_failure(FILE *f, const char *prefix, const struct hasp_conn *c, int rc,
                             int server);
/* HTTP for both --www servers (tools/hasp/http.c) */
int hasp_www_page(struct hasp_conn *c, char *out, size_t cap, int minor, int keep_alive);
int hasp_http_bad_request(char *out, size_t cap);
#define HASP_HTTP_MAX_REQUEST 32768 /* more than one maximum-size record */

/* Lingering close (both servers): after the last alert or close_notify the
 * write side is shut and what the peer still sends is read and dropped until
 * it closes, it is silent for HASP_LINGER_IDLE_S seconds, HASP_LINGER_TOTAL_S
 * seconds have passed or HASP_LINGER_MAX bytes were dropped (nginx's
 * lingering_timeout and lingering_time). The byte cap is above the largest
 * handshake message (16 MiB) a peer may be halfway through sending when
 * its first record is refused, and the time limit lets a slow peer finish
 * it: tlsfuzzer's test-tls13-finished sends a 16 MiB Finished in ~50 s here
 * and fails if the server stops draining at 30 s. A silent peer is still
 * dropped after HASP_LINGER_IDLE_S. */
#define HASP_LINGER_IDLE_S 2
#define HASP_LINGER_TOTAL_S 120
#define HASP_LINGER_MAX ((size_t)32 << 20)
enum { HASP_HTTP_BAD = -1, HASP_HTTP_MORE = 0, HASP_HTTP_REQUEST = 1 };
typedef struct hasp_http_req {
    size_t used;    /* bytes of this request (pipelined bytes may follow) */
    int keep_alive; /* HTTP/1.1 without "Connection: close", or 1.0 asking keep-alive */
    int minor;      /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
} hasp_http_req;
/* HASP_HTTP_REQUEST (req filled), HASP_HTTP_MORE or HASP_HTTP_BAD (answer 400, close) */
int hasp_http_parse(const char *buf, size_t len, hasp_http_req *req);
#endif
