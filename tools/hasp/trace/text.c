/* hasp tool, trace: the ladder (--trace on stderr, --trace-out x.txt):
 * one line an event, flights as headed blocks, the certificate chain a
 * certificate a line, the summary and the failure as two columns. Scripts
 * grep these lines (tests/): keep their shapes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hasp.h"
#include "trace_int.h"

/* One ladder line, "trace " first, to stderr and the .txt outputs. */
__attribute__((format(printf, 2, 3))) static void L(hasp_trace *t, const char *fmt, ...)
{
    if (!t->ladder && !t->ntxt) return;
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* no trailing blanks */
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ')
        line[--n] = 0;
    if (t->ladder) fprintf(stderr, "trace %s\n", line);
    for (int i = 0; i < t->ntxt; i++)
        fprintf(t->txt[i], "trace %s\n", line);
}

void text_flush(hasp_trace *t)
{
    if (t->ladder) fflush(stderr);
    for (int i = 0; i < t->ntxt; i++)
        fflush(t->txt[i]);
}

/* |-------------------------> ClientHello  146 bytes |
 * |<--------- ServerHello  99 bytes ------------------| */
static void arrow_cell(const tev *e, char *out, size_t cap)
{
    char label[256];
    msg_label(e, label, sizeof(label));
    sbuf b = {0};
    int ll = (int)strlen(label);
    if (!e->from_server) {
        int d = LADDER_W - ll - 3;
        if (d < 9) d = 9;
        sb_rep(&b, '-', d);
        sb_puts(&b, "> ");
        sb_puts(&b, label);
        sb_puts(&b, " ");
    } else {
        sb_puts(&b, "<--------- ");
        sb_puts(&b, label);
        sb_puts(&b, " ");
        int d = LADDER_W - ll - 12;
        if (d < 3) d = 3;
        sb_rep(&b, '-', d);
    }
    snprintf(out, cap, "%s", b.p ? b.p : "");
    free(b.p);
}

/* The chain view, a line at a time. */
typedef void (*line_fn)(void *arg, const char *line);

__attribute__((format(printf, 3, 4))) static void emitf(line_fn fn, void *arg, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fn(arg, line);
}

static void chain_lines(const tev *e, line_fn fn, void *arg)
{
    chain_view v;
    chain_parse(e, &v);
    const char *whose = side(e->from_server);
    if (v.ok)
        emitf(fn, arg, "%s certificate chain (%zu sent by the %s): ok", whose, v.sent, whose);
    else
        emitf(fn, arg, "%s certificate chain (%zu sent by the %s): FAILED (%s)", whose, v.sent,
              whose, hasp_err_name(v.code));
    if (v.none_built) {
        emitf(fn, arg, "  no path built");
        if (v.leaf[0]) emitf(fn, arg, "  [0] %-52s sent by the peer", v.leaf);
        if (v.issuer[0]) emitf(fn, arg, "   x  its issuer %s: not found", v.issuer);
    }
    for (int i = 0; i < v.n; i++)
        emitf(fn, arg, "  [%d] %-52s %s%s", i, v.subj[i], src_words(v.src[i], i == v.n - 1),
              i == v.failing ? "   <== fails here" : "");
    if (!v.ok) emitf(fn, arg, "  why: %s", v.verdict);
}

static void ladder_chain_line(void *arg, const char *line)
{
    L(arg, "           |  # %s", line);
}

static void draw_chain(hasp_trace *t, const tev *e)
{
    chain_lines(e, ladder_chain_line, t);
}

typedef struct file_sink {
    FILE *f;
    const char *indent;
} file_sink;

static void file_line(void *arg, const char *line)
{
    file_sink *s = arg;
    fprintf(s->f, "%s%s\n", s->indent, line);
}

void hasp_trace_print_chain(FILE *f, const char *indent, int from_server, int code, size_t sent,
                            const char *detail)
{
    tev e;
    memset(&e, 0, sizeof(e));
    e.type = HASP_EV_CERT_RESULT;
    e.from_server = from_server;
    e.msg_type = code;
    e.length = sent;
    e.detail = (char *)detail;
    file_sink s = {f, indent};
    chain_lines(&e, file_line, &s);
}

/* The printing half of one event; layout_event() has placed it (mark:
 * which header it opens). */
void text_event(hasp_trace *t, tconn *k, const tev *e, int mark)
{
    if (mark == LAYOUT_POST_HEADER)
        L(t, "           ---- after the handshake ----");
    else if (mark == LAYOUT_NEW_FLIGHT)
        L(t, "           ---- flight %d: %s -> %s ----", k->flight, side(e->from_server),
          side(!e->from_server));
    if (is_msg(e)) {
        char cell[512];
        arrow_cell(e, cell, sizeof(cell));
        L(t, "%8.2fms  |%s|  %-11s  %s", e->t, cell, e->encrypted ? "[encrypted]" : "",
          is_alert(e) ? "" : e->detail);
    } else if (e->type == HASP_EV_KEY_CHANGE) {
        L(t, "           |  ~ %s", e->note);
    } else if (e->type == HASP_EV_DECISION) {
        L(t, "           |  * decision: %s = %s (the %s decided)", e->name, e->detail,
          side(e->from_server));
    } else if (e->type == HASP_EV_CERT_RESULT) {
        draw_chain(t, e);
    } else if (e->type == HASP_EV_DONE) {
        char mid[160];
        /* "handshake complete (server side)": scripts wait for that text */
        snprintf(mid, sizeof(mid), " %shandshake complete (%s side) %.2f ms ",
                 k->hs ? "renegotiation: " : "", side(t->role == HASP_SERVER), e->t);
        int ml = (int)strlen(mid), left = (LADDER_W - ml) / 2;
        if (left < 2) left = 2;
        int right = LADDER_W - ml - left;
        if (right < 2) right = 2;
        sbuf b = {0};
        sb_rep(&b, '=', left);
        sb_puts(&b, mid);
        sb_rep(&b, '=', right);
        L(t, "%8.2fms  |%s|", e->t, b.p ? b.p : "");
        free(b.p);
    }
}

/* The summary or the failure: a title, then key and value in two columns. */
void text_block(hasp_trace *t, const char *title, const kv *rows, int n)
{
    L(t, "           ---- %s ----", title);
    for (int i = 0; i < n; i++)
        L(t, "             %-24s %s", rows[i].k, rows[i].v);
    text_flush(t);
}

void text_conn_begin(hasp_trace *t, const tconn *k)
{
    int me = t->role == HASP_SERVER;
    L(t, "==== connection %d, %s side%s%s ====", k->no, side(me), k->peer[0] ? ", peer " : "",
      k->peer);
    L(t, "     time   client%*sserver", LADDER_W - 5, "");
}

void text_reneg(hasp_trace *t, const tconn *k)
{
    L(t, "           ---- renegotiation (handshake %d on this connection) ----", k->hs + 1);
}

void text_conn_end(hasp_trace *t, const tconn *k, double ms)
{
    L(t, "==== connection %d ended after %.2f ms ====", k->no, ms);
    text_flush(t);
}
