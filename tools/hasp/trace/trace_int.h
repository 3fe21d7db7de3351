/* The trace's model, shared by the files of tools/hasp/trace/. Internal to
 * the tool. Layers, each calling only the ones below it:
 *
 *   trace.c                     collects events, dispatches (public hooks)
 *   text.c json.c svg.c         one output format each; html.c draws the
 *   html.c mermaid.c            SVG of svg.c into its page
 *   model.c                     strings, events, layout, summary content
 */
#ifndef HASP_TRACE_INT_H
#define HASP_TRACE_INT_H
#include <stddef.h>

#include "hasp.h"
#include "trace.h"

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

enum { OUT_SVG = 1, OUT_HTML, OUT_MMD, OUT_JSON, OUT_TXT };

typedef struct tev {
    int type, from_server, encrypted, msg_type;
    size_t length;
    double t; /* ms since the connection started */
    char *name, *detail;
    /* set when drawn */
    int flight;  /* flight number within its handshake; 0 after the handshake */
    int hs;      /* which handshake: 0 the first, 1.. renegotiations */
    int post;    /* after a handshake completed */
    char *note;  /* key change: which keys, in words */
    char *snote; /* the same, short (diagrams) */
    int drawn;
    int synthetic; /* not reported by the engine: inferred (see fixup) */
} tev;

typedef struct kv {
    char *k, *v;
} kv;

typedef struct tconn {
    int no;
    char peer[160];
    double t0;
    tev *ev;
    size_t n, cap, done;
    int in_hs;       /* a handshake is under way: collect, draw when it ends */
    int hs;          /* handshakes started - 1 */
    int post;        /* drawing post-handshake events */
    int post_header; /* "after the handshake" printed */
    int flight, last_sender;
    int v13;
    int kc[2];
    tev held; /* a client's middlebox ChangeCipherSpec, drawn with its next flight */
    int has_held;
    int hs_result_done, failure_done, ended;
    kv sum[24];
    int nsum;
    kv fail[8];
    int nfail;
    double hs_ms;
} tconn;

struct hasp_trace {
    int role;
    int ladder;      /* ladder on stderr */
    int json_stderr; /* JSON on stderr */
    FILE *json[HASP_TRACE_MAX_OUT];
    int njson;
    FILE *txt[HASP_TRACE_MAX_OUT];
    int ntxt;
    struct {
        int kind;
        char *path;
    } out[HASP_TRACE_MAX_OUT];
    int nout;
    tconn **conns;
    size_t nconns;
    tconn *cur;
    hasp_conn *c;
};

/* Keep the diagrams bounded on a long-running server. */
#define MAX_KEPT_CONNS 64
#define LADDER_W 64

/* A Certificate event's chain, read back from its detail. */
typedef struct chain_view {
    char verdict[1024];
    int ok, code;
    size_t sent;
    int n;
    char subj[8][256];
    char src[8][32];
    int none_built;
    int failing; /* index in the path, or -1 */
    char leaf[256], issuer[256];
} chain_view;

/* model.c: strings */
void sb_add(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
__attribute__((format(printf, 2, 3))) void sb_printf(sbuf *b, const char *fmt, ...);
void sb_rep(sbuf *b, char c, int n);
void sb_xml(sbuf *b, const char *s);
char *xstrdup(const char *s);
const char *side(int server);

/* model.c: events */
void tconn_free(tconn *k);
void chain_parse(const tev *e, chain_view *v);
const char *src_words(const char *src, int last);
int is_msg(const tev *e);
int is_alert(const tev *e);
int middlebox_ccs(const tev *e);
void msg_label(const tev *e, char *out, size_t cap);

/* model.c: layout. A new slot at index at (events after it move up). */
tev *insert_event(tconn *k, size_t at);
/* The events from index from on: the inferred Certificate, the TLS 1.3
 * ServerHello in the clear, HelloRetryRequest by its name. */
void trace_fixup(tconn *k, size_t from);
/* Place one event (flight, phase, key-change note); returns the header it
 * opens: 0, LAYOUT_NEW_FLIGHT or LAYOUT_POST_HEADER. */
enum { LAYOUT_NEW_FLIGHT = 1, LAYOUT_POST_HEADER };
int layout_event(tconn *k, tev *e);
/* The rows of the summary (k->sum) and of the failure block (k->fail). */
void summary_fill(tconn *k, hasp_conn *c);
void failure_fill(hasp_trace *t, tconn *k, hasp_conn *c, int rc);

/* text.c: the ladder */
void text_event(hasp_trace *t, tconn *k, const tev *e, int mark);
void text_block(hasp_trace *t, const char *title, const kv *rows, int n);
void text_conn_begin(hasp_trace *t, const tconn *k);
void text_reneg(hasp_trace *t, const tconn *k);
void text_conn_end(hasp_trace *t, const tconn *k, double ms);
void text_flush(hasp_trace *t);

/* json.c: JSON lines */
void json_event(hasp_trace *t, tconn *k, size_t idx);
void json_summary(hasp_trace *t, const tconn *k);
void json_failure(hasp_trace *t, const tconn *k, hasp_conn *c);
void json_conn_begin(hasp_trace *t, const tconn *k);

/* svg.c, html.c, mermaid.c: the diagrams of --trace-out, rendered into out.
 * standalone: with the XML declaration (a file of its own). */
void svg_render(const hasp_trace *t, sbuf *out, int standalone);
void html_render(const hasp_trace *t, sbuf *out);
void mmd_render(const hasp_trace *t, sbuf *out);

#endif
