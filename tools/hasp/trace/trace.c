/* hasp tool: the handshake, shown. The engine reports events (hasp.h:
 * struct hasp_event) to a callback; this file collects them per connection
 * and hands each, once laid out (model.c), to every output asked for: the
 * ladder on stderr or a .txt file (--trace, text.c), JSON lines
 * (--trace-format json, .jsonl: json.c), and at the end of each connection
 * the sequence diagrams (--trace-out x.svg, .html, .mmd: svg.c, html.c,
 * mermaid.c). Uses only the public header. This file is the top of the
 * trace: the formats and the model never call it.
 *
 * Events are drawn as they come, grouped into flights (scripts and people
 * watch stderr while the connection runs), with two touches: a client's
 * middlebox ChangeCipherSpec is drawn with the flight it travels in, and a
 * rejected Certificate the engine did not report is drawn from the
 * certificate result (marked inferred). The diagrams are written from the
 * same drawn events at the end of each connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hasp.h"
#include "trace_int.h"

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

/* ---------------------------------------------------------------- collecting */

static void draw_event(hasp_trace *t, tconn *k, size_t idx)
{
    tev *e = &k->ev[idx];
    if (e->drawn) return;
    int mark = layout_event(k, e);
    text_event(t, k, e, mark);
    json_event(t, k, idx);
}

static void draw_pending(hasp_trace *t, tconn *k)
{
    if (k->done >= k->n) return;
    trace_fixup(k, k->done);
    for (; k->done < k->n; k->done++)
        draw_event(t, k, k->done);
    text_flush(t);
}

static void summary(hasp_trace *t, tconn *k, hasp_conn *c, int reneg)
{
    summary_fill(k, c);
    text_block(t, reneg ? "after the renegotiation" : "summary", k->sum, k->nsum);
    json_summary(t, k);
}

static void failure(hasp_trace *t, tconn *k, hasp_conn *c, int rc, const char *title)
{
    if (k->failure_done) return;
    k->failure_done = 1;
    failure_fill(t, k, c, rc);
    text_block(t, title, k->fail, k->nfail);
    json_failure(t, k, c);
}

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
        tconn_free(t->conns[0]);
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
    text_conn_begin(t, k);
    json_conn_begin(t, k);
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
    tev *e = insert_event(k, k->n);
    if (!e) return;
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
        text_reneg(t, k);
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

/* ---------------------------------------------------------------- the diagram files */

static void write_file(const char *path, const sbuf *b)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "hasp: error: cannot write the trace to '%s'\n", path);
        return;
    }
    fwrite(b->p ? b->p : "", 1, b->len, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "hasp: error: cannot write the trace to '%s'\n", path);
}

static void trace_write_diagrams(hasp_trace *t)
{
    for (int i = 0; i < t->nout; i++) {
        sbuf b = {0};
        switch (t->out[i].kind) {
        case OUT_SVG:
            svg_render(t, &b, 1);
            break;
        case OUT_HTML:
            html_render(t, &b);
            break;
        case OUT_MMD:
            mmd_render(t, &b);
            break;
        default:
            continue;
        }
        write_file(t->out[i].path, &b);
        free(b.p);
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
    text_conn_end(t, k, now_ms() - k->t0);
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
        tconn_free(t->conns[i]);
    free(t->conns);
    free(t);
}
