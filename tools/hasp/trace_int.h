/* The trace's model, shared by tools/hasp/trace.c (collecting events, the
 * ladder, JSON, summary and failure block) and trace_diagram.c (the SVG,
 * HTML and Mermaid sequence diagrams drawn from the same events). Internal
 * to the tool. */
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

/* trace.c: strings and event helpers the diagrams use too */
void sb_add(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
__attribute__((format(printf, 2, 3))) void sb_printf(sbuf *b, const char *fmt, ...);
void sb_xml(sbuf *b, const char *s);
const char *side(int server);
void chain_parse(const tev *e, chain_view *v);
const char *src_words(const char *src, int last);
int is_msg(const tev *e);
int is_alert(const tev *e);
void msg_label(const tev *e, char *out, size_t cap);

/* trace_diagram.c: write every --trace-out diagram (.svg .html .mmd). */
void trace_write_diagrams(hasp_trace *t);

#endif
