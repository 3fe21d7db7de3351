#ifndef HASP_TOOL_H
#define HASP_TOOL_H
#include <stddef.h>
/* hasp verify (tools/hasp/verify.c) */
int hasp_cmd_verify(int argc, char **argv);
/* hasp ciphers (tools/hasp/ciphers.c) */
int hasp_cmd_ciphers(int argc, char **argv);
/* hasp server --www: the epoll loop (tools/hasp/serve_epoll.c) */
struct hasp_config;
int hasp_serve_www_epoll(struct hasp_config *cfg, int lfd, int naccept, int quiet);
struct hasp_conn;
int hasp_www_page(struct hasp_conn *c, char *out, size_t cap, int keep_alive);
#endif
