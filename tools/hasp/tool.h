#ifndef HASP_TOOL_H
#define HASP_TOOL_H
#include <stddef.h>
#include <stdio.h>
/* hasp verify (tools/hasp/verify.c) */
int hasp_cmd_verify(int argc, char **argv);
/* hasp ciphers (tools/hasp/ciphers.c) */
int hasp_cmd_ciphers(int argc, char **argv);
int hasp_cmd_groups(int argc, char **argv);
/* hasp server --www: the epoll loop (tools/hasp/serve_epoll.c) */
struct hasp_config;
int hasp_serve_www_epoll(struct hasp_config *cfg, int lfd, int naccept, int quiet);
/* SIGHUP seen: read the --ticket-keys files again (main.c) */
void hasp_tool_reload(struct hasp_config *cfg);
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
 * its first record is refused. */
#define HASP_LINGER_IDLE_S 2
#define HASP_LINGER_TOTAL_S 30
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
