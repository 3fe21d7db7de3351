/* hasp tool: handshake tracing (tools/hasp/trace/) and the probe command
 * (tools/hasp/probe.c). Uses only the public header. */
#ifndef HASP_TOOL_TRACE_H
#define HASP_TOOL_TRACE_H

#include <stdio.h>

#include "hasp.h"

typedef struct hasp_trace hasp_trace;

#define HASP_TRACE_MAX_OUT 8

/* A tracer for one process (one config). role: HASP_CLIENT or HASP_SERVER.
 * ladder: --trace (draw the ladder on stderr). format: --trace-format
 * ("text" or "json", NULL = text). outs: --trace-out files; the kind comes
 * from the extension: .svg, .html/.htm, .mmd, .json/.jsonl, .txt/.log.
 * Returns NULL (with a message on stderr) when an argument is wrong, and
 * also when nothing was asked for: then *none is set to 1. */
hasp_trace *hasp_trace_new(int role, int ladder, const char *format, const char *const *outs,
                           int nouts, int *none);
/* Every hook below accepts t == NULL and then does nothing. */
void hasp_trace_attach(hasp_trace *t, hasp_config *cfg);
/* A connection starts (before its handshake); peer is "host:port" or NULL. */
void hasp_trace_conn_begin(hasp_trace *t, hasp_conn *c, const char *peer);
/* hasp_handshake() returned rc: draw the ladder so far, then the summary
 * (rc == 0) or the failure: the reason, the alert, which side decided. */
void hasp_trace_handshake(hasp_trace *t, hasp_conn *c, int rc);
/* The connection is over; rc is the error that ended it (negative) or 0.
 * Draws what is left and rewrites the diagram files. */
void hasp_trace_conn_end(hasp_trace *t, hasp_conn *c, int rc);
void hasp_trace_free(hasp_trace *t);

/* The certificate chain of a HASP_EV_CERT_RESULT event, one certificate a
 * line: where each came from (peer, config, trust store) and the failing
 * link marked with the reason. */
void hasp_trace_print_chain(FILE *f, const char *indent, int from_server, int code, size_t sent,
                            const char *detail);

/* hasp probe HOST:PORT [--servername N] [--cafile F] ... (probe.c) */
int hasp_cmd_probe(int argc, char **argv);

#endif
