/* hasp tool: the handshake, shown. The engine reports events (hasp.h:
 * struct hasp_event) to a callback; this file collects them per connection
 * and draws them: a ladder on stderr (--trace), one JSON object per event
 * (--trace-format json), and sequence diagrams (--trace-out x.svg, .html,
 * .mmd). Uses only the public header.
 *
 * Events are drawn as they come, grouped into flights (scripts and people
 * watch stderr while the connection runs), with two touches: a client's
 * middlebox ChangeCipherSpec is drawn with the flight it travels in, and a
 * rejected Certificate the engine did not report is drawn from the
 * certificate result (marked inferred). The diagrams are written from the
 * same drawn events at the end of each connection. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hasp.h"
#include "trace_int.h"

/* ---------------------------------------------------------------- strings */

void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sb_puts(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(tmp)) {
        sb_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

static void sb_rep(sbuf *b, char c, int n)
{
    for (int i = 0; i < n; i++)
        sb_add(b, &c, 1);
}

/* XML text: & < > " ' escaped, control characters dropped. */
void sb_xml(sbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            sb_puts(b, "&amp;");
            break;
        case '<':
            sb_puts(b, "&lt;");
            break;
        case '>':
            sb_puts(b, "&gt;");
            break;
        case '"':
            sb_puts(b, "&quot;");
            break;
        case '\'':
            sb_puts(b, "&#39;");
            break;
        default:
            if ((unsigned char)*s >= 0x20) sb_add(b, s, 1);
        }
    }
}

/* A JSON string, quoted. */
static void sb_json(sbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_add(b, e, 2);
        } else if (c == '\n') {
            sb_puts(b, "\\n");
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_add(b, s, 1);
        }
    }
    sb_puts(b, "\"");
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *p = malloc(n + 1);
    if (p) memcpy(p, s ? s : "", n + 1);
    return p;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

const char *side(int server)
{
    return server ? "server" : "client";
}

/* ---------------------------------------------------------------- model */

static void conn_free(tconn *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) {
        free(k->ev[i].name);
        free(k->ev[i].detail);
        free(k->ev[i].note);
        free(k->ev[i].snote);
    }
    for (int i = 0; i < k->nsum; i++) {
        free(k->sum[i].k);
        free(k->sum[i].v);
    }
    for (int i = 0; i < k->nfail; i++) {
        free(k->fail[i].k);
        free(k->fail[i].v);
    }
    if (k->has_held) {
        free(k->held.name);
        free(k->held.detail);
    }
    free(k->ev);
    free(k);
}

/* ---------------------------------------------------------------- output sinks */

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

static void ladder_flush(hasp_trace *t)
{
    if (t->ladder) fflush(stderr);
    for (int i = 0; i < t->ntxt; i++)
        fflush(t->txt[i]);
}

static void J(hasp_trace *t, sbuf *b)
{
    if (!b->p) return;
    if (t->json_stderr) {
        fprintf(stderr, "%s\n", b->p);
        fflush(stderr);
    }
    for (int i = 0; i < t->njson; i++) {
        fprintf(t->json[i], "%s\n", b->p);
        fflush(t->json[i]);
    }
}

static int want_json(const hasp_trace *t)
{
    return t->json_stderr || t->njson;
}

/* ---------------------------------------------------------------- the certificate chain */

/* The first 'quoted' name in s at or after *pos. */
static int next_quoted(const char *s, size_t *pos, char *out, size_t cap)
{
    const char *a = strchr(s + *pos, '\'');
    if (!a) return 0;
    const char *z = strchr(a + 1, '\'');
    if (!z) return 0;
    size_t n = (size_t)(z - a - 1);
    if (n >= cap) n = cap - 1;
    memcpy(out, a + 1, n);
    out[n] = 0;
    *pos = (size_t)(z + 1 - s);
    return 1;
}

/* "<verdict> | path: A [peer] <- B [peer] <- C [trust store]" or
 * "<verdict> | path: none built (N sent by the peer)" */
void chain_parse(const tev *e, chain_view *v)
{
    memset(v, 0, sizeof(*v));
    v->failing = -1;
    v->code = e->msg_type;
    v->ok = e->msg_type == 0;
    v->sent = e->length;
    const char *d = e->detail, *bar = NULL;
    for (const char *p = strstr(d, " | path:"); p; p = strstr(p + 1, " | path:"))
        bar = p;
    size_t vl = bar ? (size_t)(bar - d) : strlen(d);
    if (vl >= sizeof(v->verdict)) vl = sizeof(v->verdict) - 1;
    memcpy(v->verdict, d, vl);
    v->verdict[vl] = 0;
    if (bar) {
        const char *p = bar + strlen(" | path:");
        while (*p == ' ')
            p++;
        if (!strncmp(p, "none built", 10)) {
            v->none_built = 1;
        } else {
            while (*p && v->n < 8) {
                const char *end = strstr(p, " <- ");
                size_t len = end ? (size_t)(end - p) : strlen(p);
                char item[320];
                if (len >= sizeof(item)) len = sizeof(item) - 1;
                memcpy(item, p, len);
                item[len] = 0;
                char *br = strrchr(item, '[');
                if (br && br > item && br[-1] == ' ' && item[len - 1] == ']') {
                    item[len - 1] = 0;
                    snprintf(v->src[v->n], sizeof(v->src[0]), "%.31s", br + 1);
                    br[-1] = 0;
                } else if (br && br > item && br[-1] == ' ' && !end) {
                    /* the detail was cut short: complete a known source */
                    static const char *known[] = {"peer", "config", "trust store"};
                    size_t pl = strlen(br + 1);
                    snprintf(v->src[v->n], sizeof(v->src[0]), "?");
                    for (size_t q = 0; q < 3; q++)
                        if (pl && !strncmp(known[q], br + 1, pl))
                            snprintf(v->src[v->n], sizeof(v->src[0]), "%s", known[q]);
                    br[-1] = 0;
                } else {
                    snprintf(v->src[v->n], sizeof(v->src[0]), "?");
                }
                snprintf(v->subj[v->n], sizeof(v->subj[0]), "%.255s", item);
                v->n++;
                if (!end) break;
                p = end + 4;
            }
        }
    }
    if (v->ok) return;
    /* The failing link: the first certificate the verdict names that is in
     * the path; else the top of the path (it found no trusted issuer). */
    size_t pos = 0;
    char q[256];
    int first = 1;
    while (next_quoted(v->verdict, &pos, q, sizeof(q))) {
        if (first) snprintf(v->leaf, sizeof(v->leaf), "%s", q);
        first = 0;
        for (int i = 0; i < v->n && v->failing < 0; i++)
            if (!strcmp(v->subj[i], q)) v->failing = i;
        if (v->failing >= 0) break;
    }
    const char *is = strstr(v->verdict, "issuer '");
    if (is) {
        size_t ip = (size_t)(is - v->verdict);
        next_quoted(v->verdict, &ip, v->issuer, sizeof(v->issuer));
    }
    const char *lc = strstr(v->verdict, "certificate '");
    if (lc) {
        size_t lp = (size_t)(lc - v->verdict);
        next_quoted(v->verdict, &lp, v->leaf, sizeof(v->leaf));
    }
    if (v->failing < 0 && v->n > 0) v->failing = v->n - 1;
}

const char *src_words(const char *src, int last)
{
    if (!strcmp(src, "peer")) return "sent by the peer";
    if (!strcmp(src, "config")) return "from this side's configured intermediates";
    if (!strcmp(src, "trust store"))
        return last ? "from the trust store (the anchor)" : "from the trust store";
    return src;
}

/* ---------------------------------------------------------------- drawing: the ladder */

static const char *display_name(const tev *e)
{
    return e->name;
}

int is_msg(const tev *e)
{
    return e->type == HASP_EV_MSG_SENT || e->type == HASP_EV_MSG_RECV ||
           e->type == HASP_EV_ALERT_SENT || e->type == HASP_EV_ALERT_RECV;
}

int is_alert(const tev *e)
{
    return e->type == HASP_EV_ALERT_SENT || e->type == HASP_EV_ALERT_RECV;
}

/* hasp.h says 20 for ChangeCipherSpec; the engine reports 256 (its own
 * HS_CCS). Go by the name. */
static int is_ccs(const tev *e)
{
    return (e->type == HASP_EV_MSG_SENT || e->type == HASP_EV_MSG_RECV) &&
           !strcmp(e->name, "ChangeCipherSpec");
}

static int middlebox_ccs(const tev *e)
{
    return is_ccs(e) && strstr(e->detail, "middlebox");
}

/* The arrow label: "ServerHello  99 bytes", "alert bad_certificate(42)
 * (fatal) from the client". The shapes of these lines are what scripts grep
 * (tests/interop/): keep "NAME  N bytes", "(LEVEL) from the SIDE", the
 * arrows of at least nine dashes, and "[encrypted]  DETAIL" after the ladder. */
void msg_label(const tev *e, char *out, size_t cap)
{
    if (is_alert(e))
        snprintf(out, cap, "alert %s (%s) from the %s", e->name, e->detail, side(e->from_server));
    else if (e->synthetic)
        snprintf(out, cap, "%s  (size not reported)", display_name(e));
    else
        snprintf(out, cap, "%s  %zu bytes", display_name(e), e->length);
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

static void keys_note(tconn *k, tev *e)
{
    /* In TLS 1.3 each direction moves to handshake keys, then to
     * application keys, then to updated keys at each KeyUpdate. */
    int dir = e->from_server ? 1 : 0;
    int nth = ++k->kc[dir];
    char buf[256], suite[96];
    const char *which;
    const char *comma = strstr(e->detail, ", ");
    snprintf(suite, sizeof(suite), "%.*s",
             comma ? (int)(comma - e->detail) : (int)strlen(e->detail), e->detail);
    if (k->v13 && comma)
        which = comma + 2; /* the engine names them: "early data traffic keys", ... */
    else if (k->v13)
        which = nth == 1   ? "handshake traffic keys"
                : nth == 2 ? "application traffic keys"
                           : "updated application traffic keys";
    else
        which = nth == 1 ? "keys from this handshake" : "keys from the new handshake";
    snprintf(buf, sizeof(buf), "%s -> %s records now protected: %s, %s (%s)", side(e->from_server),
             side(!e->from_server), suite, which, e->name);
    free(e->note);
    e->note = xstrdup(buf);
    snprintf(buf, sizeof(buf), "%s -> %s now protected: %s", side(e->from_server),
             side(!e->from_server), which);
    free(e->snote);
    e->snote = xstrdup(buf);
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

static void json_event(hasp_trace *t, tconn *k, size_t idx)
{
    if (!want_json(t)) return;
    const tev *e = &k->ev[idx];
    static const char *types[] = {"?",          "msg_sent",    "msg_recv",
                                  "key_change", "decision",    "alert_sent",
                                  "alert_recv", "cert_result", "done"};
    sbuf b = {0};
    sb_printf(&b, "{\"conn\":%d,\"seq\":%zu,\"t_ms\":%.3f,\"side\":\"%s\",\"type\":\"%s\",", k->no,
              idx, e->t, side(t->role == HASP_SERVER),
              e->type >= 1 && e->type <= 8 ? types[e->type] : "?");
    sb_printf(&b, "\"from\":\"%s\",", side(e->from_server));
    if (is_msg(e))
        sb_printf(&b, "\"to\":\"%s\",\"encrypted\":%s,", side(!e->from_server),
                  e->encrypted ? "true" : "false");
    sb_printf(&b, "\"msg_type\":%d,\"name\":", e->msg_type);
    sb_json(&b, display_name(e));
    sb_printf(&b, ",\"length\":%zu,\"detail\":", e->length);
    sb_json(&b, e->detail);
    if (e->post)
        sb_puts(&b, ",\"phase\":\"after handshake\"");
    else if (e->hs)
        sb_printf(&b, ",\"phase\":\"renegotiation %d\"", e->hs);
    else
        sb_puts(&b, ",\"phase\":\"handshake\"");
    if (is_msg(e) && !e->post) sb_printf(&b, ",\"flight\":%d", e->flight);
    if (e->synthetic) sb_puts(&b, ",\"inferred\":true");
    if (e->note) {
        sb_puts(&b, ",\"note\":");
        sb_json(&b, e->note);
    }
    if (e->type == HASP_EV_CERT_RESULT) {
        chain_view v;
        chain_parse(e, &v);
        sb_printf(&b, ",\"certificate_of\":\"%s\",\"ok\":%s,\"error\":", side(e->from_server),
                  v.ok ? "true" : "false");
        if (v.ok)
            sb_puts(&b, "null");
        else
            sb_json(&b, hasp_err_name(v.code));
        sb_puts(&b, ",\"verdict\":");
        sb_json(&b, v.verdict);
        sb_printf(&b, ",\"sent_by_peer\":%zu,\"path\":[", v.sent);
        for (int i = 0; i < v.n; i++) {
            sb_puts(&b, i ? ",{\"subject\":" : "{\"subject\":");
            sb_json(&b, v.subj[i]);
            sb_puts(&b, ",\"source\":");
            sb_json(&b, v.src[i]);
            sb_puts(&b, "}");
        }
        sb_puts(&b, "],\"failing\":");
        if (v.failing >= 0)
            sb_printf(&b, "%d", v.failing);
        else
            sb_puts(&b, "null");
    }
    sb_puts(&b, "}");
    J(t, &b);
    free(b.p);
}

static void draw_event(hasp_trace *t, tconn *k, size_t idx)
{
    tev *e = &k->ev[idx];
    if (e->drawn) return;
    e->drawn = 1;
    if (strstr(e->detail, "version=TLS1.3") ||
        (e->type == HASP_EV_DECISION && !strcmp(e->name, "version") && strstr(e->detail, "1.3")))
        k->v13 = 1;
    e->hs = k->hs;
    e->post = k->post;
    if (is_msg(e)) {
        if (k->post) {
            if (!k->post_header) {
                L(t, "           ---- after the handshake ----");
                k->post_header = 1;
            }
        } else if (e->from_server != k->last_sender) {
            k->flight++;
            k->last_sender = e->from_server;
            L(t, "           ---- flight %d: %s -> %s ----", k->flight, side(e->from_server),
              side(!e->from_server));
        }
        e->flight = k->post ? 0 : k->flight;
        char cell[512];
        arrow_cell(e, cell, sizeof(cell));
        L(t, "%8.2fms  |%s|  %-11s  %s", e->t, cell, e->encrypted ? "[encrypted]" : "",
          is_alert(e) ? "" : e->detail);
    } else if (e->type == HASP_EV_KEY_CHANGE) {
        keys_note(k, e);
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
        if (!k->hs) k->hs_ms = e->t;
    }
    json_event(t, k, idx);
}

static tev *insert_event(tconn *k, size_t at)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        tev *p = realloc(k->ev, cap * sizeof(*p));
        if (!p) return NULL;
        k->ev = p;
        k->cap = cap;
    }
    memmove(&k->ev[at + 1], &k->ev[at], (k->n - at) * sizeof(tev));
    k->n++;
    memset(&k->ev[at], 0, sizeof(tev));
    return &k->ev[at];
}

/* When a certificate is rejected the engine stops before it reports the
 * Certificate message that carried it: draw that message from the
 * certificate result, marked as inferred. */
static void add_rejected_certificate(tconn *k, size_t from)
{
    for (size_t i = from; i < k->n; i++) {
        const tev *r = &k->ev[i];
        if (r->type != HASP_EV_CERT_RESULT || r->msg_type == 0) continue;
        /* in this handshake, before (the engine reports a message before what
         * it caused) or after (older engines) */
        int seen = 0;
        size_t start = i;
        while (
            start > 0 &&
            !(k->ev[start].type == HASP_EV_MSG_SENT && !strcmp(k->ev[start].name, "ClientHello")) &&
            !(k->ev[start].type == HASP_EV_MSG_RECV && !strcmp(k->ev[start].name, "ClientHello")))
            start--;
        for (size_t j = start; j < k->n && !seen; j++)
            seen = k->ev[j].type == HASP_EV_MSG_RECV && k->ev[j].from_server == r->from_server &&
                   !strcmp(k->ev[j].name, "Certificate") && !k->ev[j].synthetic;
        if (seen) continue;
        int fs = r->from_server, enc = r->encrypted;
        double at = r->t;
        size_t sent = r->length;
        tev *m = insert_event(k, i);
        if (!m) return;
        m->type = HASP_EV_MSG_RECV;
        m->from_server = fs;
        m->encrypted = enc;
        m->msg_type = 11;
        m->t = at;
        m->synthetic = 1;
        m->name = xstrdup("Certificate");
        char d[160];
        snprintf(d, sizeof(d), "certificates=%zu (inferred: rejected before it was reported)",
                 sent);
        m->detail = xstrdup(d);
        i++;
    }
}

static void fixup(tconn *k, size_t from)
{
    add_rejected_certificate(k, from);
    for (size_t i = from; i < k->n; i++) {
        tev *e = &k->ev[i];
        /* A TLS 1.3 ServerHello travels in the clear. */
        if (e->msg_type == 2 && (e->type == HASP_EV_MSG_RECV || e->type == HASP_EV_MSG_SENT) &&
            strstr(e->detail, "version=TLS1.3"))
            e->encrypted = 0;
        if (e->msg_type == 2 && !strcmp(e->name, "ServerHello") &&
            !strncmp(e->detail, "HelloRetryRequest", 17)) {
            free(e->name);
            e->name = xstrdup("HelloRetryRequest");
        }
    }
}

static void release_held(tconn *k, size_t at);

static void draw_pending(hasp_trace *t, tconn *k)
{
    if (k->done >= k->n) return;
    fixup(k, k->done);
    for (; k->done < k->n; k->done++)
        draw_event(t, k, k->done);
    ladder_flush(t);
}

/* ---------------------------------------------------------------- summary, failure */

static void add_kv(kv *arr, int *n, int max, const char *k, const char *v)
{
    if (*n >= max) return;
    arr[*n].k = xstrdup(k);
    arr[*n].v = xstrdup(v);
    (*n)++;
}

static void summary(hasp_trace *t, tconn *k, hasp_conn *c, int reneg)
{
    char buf[512];
    int v13 = hasp_conn_version(c) == HASP_TLS1_3;
    for (int i = 0; i < k->nsum; i++) {
        free(k->sum[i].k);
        free(k->sum[i].v);
    }
    k->nsum = 0;
#define SUM(key, ...)                                                                              \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), __VA_ARGS__);                                                   \
        add_kv(k->sum, &k->nsum, 24, key, buf);                                                    \
    } while (0)
    SUM("version", "%s", hasp_conn_version_name(c));
    SUM("cipher suite", "%s (%s)", hasp_conn_cipher_name(c), hasp_conn_cipher_openssl_name(c));
    SUM("key exchange group", "%s",
        hasp_conn_group_name(c)
            ? hasp_conn_group_name(c)
            : (hasp_conn_resumed(c) && !v13 ? "none (resumed: the keys come from the session)"
               : v13                        ? "none (psk_ke: the keys come from the PSK alone)"
                                            : "none (RSA key transport)"));
    SUM("signature scheme", "%s",
        hasp_conn_sigalg_name(c)
            ? hasp_conn_sigalg_name(c)
            : (hasp_conn_resumed(c) ? "none (resumed: no certificate)" : "none"));
    SUM("server name (SNI)", "%s", hasp_conn_servername(c) ? hasp_conn_servername(c) : "none");
    SUM("ALPN", "%s", hasp_conn_alpn(c) ? hasp_conn_alpn(c) : "none");
    if (v13) {
        SUM("extended master secret", "n/a (TLS 1.3 binds the keys to the transcript)");
        SUM("secure renegotiation", "n/a (TLS 1.3 has no renegotiation; KeyUpdate instead)");
    } else {
        SUM("extended master secret", "%s", hasp_conn_ems(c) ? "yes (RFC 7627)" : "no");
        SUM("secure renegotiation", "%s",
            hasp_conn_secure_renegotiation(c) ? "yes (RFC 5746)" : "no");
        if (hasp_conn_etm(c)) SUM("encrypt-then-mac", "yes (RFC 7366)");
    }
    const char *how = hasp_conn_resumed_how(c);
    if (!hasp_conn_resumed(c) || !strcmp(how, "no"))
        SUM("resumed", "no: full handshake");
    else if (!strcmp(how, "session-id"))
        SUM("resumed", "yes, by session ID (abbreviated handshake, RFC 5246 7.3)");
    else if (!strcmp(how, "ticket"))
        SUM("resumed", "yes, by session ticket (abbreviated handshake, RFC 5077)");
    else if (!strcmp(how, "psk"))
        SUM("resumed", "yes, by PSK from a ticket (RFC 8446 2.2, %s)",
            hasp_conn_group_name(c) ? "psk_dhe_ke" : "psk_ke: no key exchange");
    else
        SUM("resumed", "yes (%s)", how);
    if (hasp_conn_early_data(c) == HASP_EARLY_ACCEPTED)
        SUM("early data", "accepted (0-RTT, RFC 8446 4.2.10)");
    else if (hasp_conn_early_data(c) == HASP_EARLY_REJECTED)
        SUM("early data", "rejected: %s", hasp_conn_early_data_reason(c));
    SUM("peer certificate", "%s", hasp_conn_verify_result(c));
    /* what went over the wire in this handshake */
    size_t msgs = 0, bytes = 0;
    int flights = 0;
    for (size_t i = 0; i < k->n; i++) {
        const tev *e = &k->ev[i];
        if (e->hs != k->hs || e->post || !e->drawn) continue;
        if (e->type == HASP_EV_MSG_SENT || e->type == HASP_EV_MSG_RECV) {
            msgs++;
            bytes += e->length;
            if (e->flight > flights) flights = e->flight;
        }
    }
    SUM("messages", "%zu in %d flights, %zu bytes of handshake", msgs, flights, bytes);
#undef SUM
    L(t, "           ---- %s ----", reneg ? "after the renegotiation" : "summary");
    for (int i = 0; i < k->nsum; i++)
        L(t, "             %-24s %s", k->sum[i].k, k->sum[i].v);
    ladder_flush(t);
    if (want_json(t)) {
        sbuf b = {0};
        sb_printf(&b, "{\"conn\":%d,\"type\":\"summary\",\"side\":\"%s\",\"handshake\":%d", k->no,
                  side(t->role == HASP_SERVER), k->hs);
        for (int i = 0; i < k->nsum; i++) {
            sb_puts(&b, ",");
            sb_json(&b, k->sum[i].k);
            sb_puts(&b, ":");
            sb_json(&b, k->sum[i].v);
        }
        sb_puts(&b, "}");
        J(t, &b);
        free(b.p);
    }
}

static const char *class_words(int code)
{
    switch (hasp_err_class(code)) {
    case HASP_CLASS_PEER_ALERT:
        return "the peer ended the handshake with a fatal alert";
    case HASP_CLASS_PROTOCOL:
        return "the peer broke the protocol or offered nothing acceptable";
    case HASP_CLASS_CERTIFICATE:
        return "a certificate was rejected";
    case HASP_CLASS_CLOSED:
        return "the connection was closed";
    case HASP_CLASS_IO:
        return "the transport failed";
    case HASP_CLASS_USAGE:
        return "this side was used or configured wrongly";
    case HASP_CLASS_INTERNAL:
        return "an internal failure";
    default:
        return "the connection failed";
    }
}

static void failure(hasp_trace *t, tconn *k, hasp_conn *c, int rc, const char *title)
{
    if (k->failure_done) return;
    k->failure_done = 1;
    int me = t->role == HASP_SERVER, peer = !me;
    int code = rc < 0 ? rc : hasp_conn_error(c);
    const char *msg = hasp_conn_errmsg(c);
    char reason[1024], alert[256], decided[256];
    snprintf(reason, sizeof(reason), "%s", msg && msg[0] ? msg : hasp_err_name(code));
    /* The last fatal alert that went either way, from the events. */
    const tev *fatal = NULL, *warn = NULL;
    for (size_t i = 0; i < k->n; i++) {
        const tev *e = &k->ev[i];
        if (!is_alert(e) || e->msg_type == 0) continue;
        if (!strcmp(e->detail, "fatal"))
            fatal = e;
        else
            warn = e;
    }
    const tev *a = fatal ? fatal : warn;
    if (a) {
        int sent = a->type == HASP_EV_ALERT_SENT;
        snprintf(alert, sizeof(alert), "%s, %s, %s the %s", a->name, a->detail,
                 sent ? "sent to" : "received from", side(peer));
        if (sent)
            snprintf(decided, sizeof(decided), "the %s (this side): it sent the alert", side(me));
        else
            snprintf(decided, sizeof(decided), "the %s (the peer): it sent the alert", side(peer));
    } else {
        snprintf(alert, sizeof(alert), "none");
        if (code == HASP_ERR_TRUNCATED || code == HASP_ERR_CLOSED || code == HASP_ERR_IO ||
            code == HASP_ERR_NOT_TLS)
            snprintf(decided, sizeof(decided),
                     "the %s (the peer): it closed the connection without an alert", side(peer));
        else
            snprintf(decided, sizeof(decided), "the %s (this side), without an alert", side(me));
    }
    add_kv(k->fail, &k->nfail, 8, "what happened", class_words(code));
    add_kv(k->fail, &k->nfail, 8, "reason", reason);
    add_kv(k->fail, &k->nfail, 8, "alert", alert);
    add_kv(k->fail, &k->nfail, 8, "decided by", decided);
    add_kv(k->fail, &k->nfail, 8, "error", hasp_err_name(code));
    L(t, "           ---- %s ----", title);
    for (int i = 0; i < k->nfail; i++)
        L(t, "             %-24s %s", k->fail[i].k, k->fail[i].v);
    ladder_flush(t);
    if (want_json(t)) {
        sbuf b = {0};
        sb_printf(&b, "{\"conn\":%d,\"type\":\"failure\",\"side\":\"%s\"", k->no, side(me));
        for (int i = 0; i < k->nfail; i++) {
            sb_puts(&b, ",");
            sb_json(&b, k->fail[i].k);
            sb_puts(&b, ":");
            sb_json(&b, k->fail[i].v);
        }
        sb_printf(&b, ",\"alert_sent\":%d,\"alert_received\":%d}", hasp_conn_alert_sent(c),
                  hasp_conn_alert_received(c));
        J(t, &b);
        free(b.p);
    }
}

/* ---------------------------------------------------------------- the callback */

static tconn *conn_start(hasp_trace *t, const char *peer)
{
    tconn *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    k->no = t->nconns ? t->conns[t->nconns - 1]->no + 1 : 1;
    k->t0 = now_ms();
    k->in_hs = 1;
    k->last_sender = -1;
    snprintf(k->peer, sizeof(k->peer), "%s", peer ? peer : "");
    if (t->nconns == MAX_KEPT_CONNS) {
        conn_free(t->conns[0]);
        memmove(t->conns, t->conns + 1, (t->nconns - 1) * sizeof(*t->conns));
        t->nconns--;
    }
    tconn **p = realloc(t->conns, (t->nconns + 1) * sizeof(*p));
    if (!p) {
        free(k);
        return NULL;
    }
    t->conns = p;
    t->conns[t->nconns++] = k;
    t->cur = k;
    int me = t->role == HASP_SERVER;
    L(t, "==== connection %d, %s side%s%s ====", k->no, side(me), k->peer[0] ? ", peer " : "",
      k->peer);
    L(t, "     time   client%*sserver", LADDER_W - 5, "");
    if (want_json(t)) {
        sbuf b = {0};
        sb_printf(&b, "{\"conn\":%d,\"type\":\"connection\",\"side\":\"%s\",\"peer\":", k->no,
                  side(me));
        sb_json(&b, k->peer);
        sb_puts(&b, "}");
        J(t, &b);
        free(b.p);
    }
    return k;
}

/* Put the held ChangeCipherSpec at index at (before the event there). */
static void release_held(tconn *k, size_t at)
{
    if (!k->has_held) return;
    tev *m = insert_event(k, at);
    k->has_held = 0;
    if (!m) {
        free(k->held.name);
        free(k->held.detail);
        return;
    }
    *m = k->held;
    if (at + 1 < k->n && k->ev[at + 1].t > m->t) m->t = k->ev[at + 1].t;
}

static void event_cb(void *arg, const hasp_event *ev)
{
    hasp_trace *t = arg;
    tconn *k = t->cur;
    if (getenv("HASP_TRACE_RAW")) /* the engine's own order, for debugging */
        fprintf(stderr, "raw %d from_server=%d enc=%d type=%d name=%s len=%zu detail=%s\n",
                ev->type, ev->from_server, ev->encrypted, ev->msg_type, ev->name, ev->length,
                ev->detail);
    if (!k && !(k = conn_start(t, NULL))) return;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        tev *p = realloc(k->ev, cap * sizeof(*p));
        if (!p) return;
        k->ev = p;
        k->cap = cap;
    }
    tev *e = &k->ev[k->n++];
    memset(e, 0, sizeof(*e));
    e->type = ev->type;
    e->from_server = ev->from_server;
    e->encrypted = ev->encrypted;
    e->msg_type = ev->msg_type;
    e->length = ev->length;
    e->t = now_ms() - k->t0;
    e->name = xstrdup(ev->name);
    e->detail = xstrdup(ev->detail);
    if (e->name && !strcmp(e->name, "ChangeCipherSpec"))
        e->msg_type = 20; /* as hasp.h documents it */

    /* A handshake after the first one: a renegotiation. */
    int starts = (ev->type == HASP_EV_DECISION && !strcmp(ev->name, "renegotiation")) ||
                 ((ev->type == HASP_EV_MSG_SENT || ev->type == HASP_EV_MSG_RECV) &&
                  (ev->msg_type == 0 || ev->msg_type == 1) && ev->name &&
                  (!strcmp(ev->name, "HelloRequest") || !strcmp(ev->name, "ClientHello")));
    if (!k->in_hs && starts) {
        k->in_hs = 1;
        k->hs++;
        k->post = 0;
        k->post_header = 0;
        k->flight = 0;
        k->last_sender = -1;
        L(t, "           ---- renegotiation (handshake %d on this connection) ----", k->hs + 1);
    }
    /* A client sends its middlebox ChangeCipherSpec (RFC 8446 D.4) while it
     * handles the server's flight; it travels with the client's next one. */
    if (t->role == HASP_CLIENT && e->type == HASP_EV_MSG_SENT && !e->from_server &&
        middlebox_ccs(e) && !k->has_held) {
        k->held = *e;
        k->has_held = 1;
        k->n--;
        return;
    }
    if (k->has_held &&
        ((e->type == HASP_EV_MSG_SENT || e->type == HASP_EV_ALERT_SENT) || e->type == HASP_EV_DONE))
        release_held(k, k->n - 1);
    /* done, failed, refused, or the connection is closing */
    int ends = ev->type == HASP_EV_DONE ||
               ((ev->type == HASP_EV_ALERT_SENT || ev->type == HASP_EV_ALERT_RECV) &&
                (!strcmp(ev->detail, "fatal") || ev->msg_type == HASP_ALERT_NO_RENEGOTIATION ||
                 ev->msg_type == HASP_ALERT_CLOSE_NOTIFY));
    /* Drawn as it comes: scripts watch stderr while the connection runs. */
    draw_pending(t, k);
    if (k->in_hs && ends) {
        k->in_hs = 0;
        k->post = 1;
        if (ev->type == HASP_EV_DONE && k->hs > 0 && t->c) summary(t, k, t->c, 1);
    }
}

/* ---------------------------------------------------------------- public hooks */

static int out_kind(const char *path)
{
    if (ends_with(path, ".svg")) return OUT_SVG;
    if (ends_with(path, ".html") || ends_with(path, ".htm")) return OUT_HTML;
    if (ends_with(path, ".mmd") || ends_with(path, ".mermaid")) return OUT_MMD;
    if (ends_with(path, ".json") || ends_with(path, ".jsonl")) return OUT_JSON;
    if (ends_with(path, ".txt") || ends_with(path, ".log")) return OUT_TXT;
    return 0;
}

hasp_trace *hasp_trace_new(int role, int ladder, const char *format, const char *const *outs,
                           int nouts, int *none)
{
    *none = 0;
    int json = 0;
    if (format && !strcmp(format, "json"))
        json = 1;
    else if (format && strcmp(format, "text") && strcmp(format, "ladder")) {
        fprintf(stderr, "hasp: error: --trace-format takes text or json, not '%s'\n", format);
        return NULL;
    }
    if (!ladder && !format && nouts == 0) {
        *none = 1;
        return NULL;
    }
    hasp_trace *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->role = role;
    int json_out = 0;
    for (int i = 0; i < nouts && i < HASP_TRACE_MAX_OUT; i++) {
        int kind = out_kind(outs[i]);
        if (!kind) {
            fprintf(stderr,
                    "hasp: error: --trace-out '%s': the name must end in .svg, .html, .mmd, "
                    ".json, .jsonl or .txt\n",
                    outs[i]);
            hasp_trace_free(t);
            return NULL;
        }
        if (kind == OUT_JSON || kind == OUT_TXT) {
            FILE *f = fopen(outs[i], "w");
            if (!f) {
                fprintf(stderr, "hasp: error: cannot write the trace to '%s'\n", outs[i]);
                hasp_trace_free(t);
                return NULL;
            }
            if (kind == OUT_JSON) {
                t->json[t->njson++] = f;
                json_out = 1;
            } else {
                t->txt[t->ntxt++] = f;
            }
            continue;
        }
        t->out[t->nout].kind = kind;
        t->out[t->nout].path = xstrdup(outs[i]);
        t->nout++;
    }
    /* --trace-format json: JSON on stderr unless a .json/.jsonl file takes it. */
    t->json_stderr = json && !json_out;
    t->ladder = ladder && !t->json_stderr;
    return t;
}

void hasp_trace_attach(hasp_trace *t, hasp_config *cfg)
{
    if (t) hasp_config_set_event_cb(cfg, event_cb, t);
}

void hasp_trace_conn_begin(hasp_trace *t, hasp_conn *c, const char *peer)
{
    if (!t) return;
    t->c = c;
    conn_start(t, peer);
}

void hasp_trace_handshake(hasp_trace *t, hasp_conn *c, int rc)
{
    if (!t || !t->cur) return;
    tconn *k = t->cur;
    release_held(k, k->n);
    draw_pending(t, k);
    k->in_hs = 0;
    k->post = 1;
    if (k->hs_result_done) return;
    k->hs_result_done = 1;
    if (rc == 0)
        summary(t, k, c, 0);
    else
        failure(t, k, c, rc, "FAILED");
}

void hasp_trace_conn_end(hasp_trace *t, hasp_conn *c, int rc)
{
    if (!t || !t->cur) return;
    tconn *k = t->cur;
    release_held(k, k->n);
    draw_pending(t, k);
    if (rc < 0)
        failure(t, k, c, rc, k->hs_result_done ? "the connection ended with an error" : "FAILED");
    L(t, "==== connection %d ended after %.2f ms ====", k->no, now_ms() - k->t0);
    ladder_flush(t);
    k->ended = 1;
    t->cur = NULL;
    t->c = NULL;
    trace_write_diagrams(t);
}

void hasp_trace_free(hasp_trace *t)
{
    if (!t) return;
    if (t->cur) {
        release_held(t->cur, t->cur->n);
        draw_pending(t, t->cur);
        t->cur = NULL;
    }
    trace_write_diagrams(t);
    for (int i = 0; i < t->njson; i++)
        fclose(t->json[i]);
    for (int i = 0; i < t->ntxt; i++)
        fclose(t->txt[i]);
    for (int i = 0; i < t->nout; i++)
        free(t->out[i].path);
    for (size_t i = 0; i < t->nconns; i++)
        conn_free(t->conns[i]);
    free(t->conns);
    free(t);
}
