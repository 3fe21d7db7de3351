/* hasp tool, trace: JSON lines (--trace-format json on stderr,
 * --trace-out x.json / x.jsonl): one object a connection, an event, a
 * summary and a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hasp.h"
#include "trace_int.h"

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

void json_event(hasp_trace *t, tconn *k, size_t idx)
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
    sb_json(&b, e->name);
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

/* A key and value list (the summary, the failure) as members. */
static void json_members(sbuf *b, const kv *rows, int n)
{
    for (int i = 0; i < n; i++) {
        sb_puts(b, ",");
        sb_json(b, rows[i].k);
        sb_puts(b, ":");
        sb_json(b, rows[i].v);
    }
}

void json_summary(hasp_trace *t, const tconn *k)
{
    if (!want_json(t)) return;
    sbuf b = {0};
    sb_printf(&b, "{\"conn\":%d,\"type\":\"summary\",\"side\":\"%s\",\"handshake\":%d", k->no,
              side(t->role == HASP_SERVER), k->hs);
    json_members(&b, k->sum, k->nsum);
    sb_puts(&b, "}");
    J(t, &b);
    free(b.p);
}

void json_failure(hasp_trace *t, const tconn *k, hasp_conn *c)
{
    if (!want_json(t)) return;
    sbuf b = {0};
    sb_printf(&b, "{\"conn\":%d,\"type\":\"failure\",\"side\":\"%s\"", k->no,
              side(t->role == HASP_SERVER));
    json_members(&b, k->fail, k->nfail);
    sb_printf(&b, ",\"alert_sent\":%d,\"alert_received\":%d}", hasp_conn_alert_sent(c),
              hasp_conn_alert_received(c));
    J(t, &b);
    free(b.p);
}

void json_conn_begin(hasp_trace *t, const tconn *k)
{
    if (!want_json(t)) return;
    sbuf b = {0};
    sb_printf(&b, "{\"conn\":%d,\"type\":\"connection\",\"side\":\"%s\",\"peer\":", k->no,
              side(t->role == HASP_SERVER));
    sb_json(&b, k->peer);
    sb_puts(&b, "}");
    J(t, &b);
    free(b.p);
}
