/* hasp tool, trace: the SVG sequence diagram (--trace-out x.svg), drawn
 * at the end of each connection from the events model.c laid out: the two
 * lifelines, an arrow a message, the key changes, the certificate chain,
 * the summary or the failure. html.c embeds the same picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_int.h"

typedef struct svgctx {
    sbuf b;
    double y;
    int role;
} svgctx;

#define SVG_W 1100
#define X_CLIENT 250
#define X_SERVER 850
#define CHW 7.2 /* monospace advance at 12px */

static void svg_text(sbuf *b, double x, double y, const char *anchor, const char *cls,
                     const char *s)
{
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">", x, y, anchor, cls);
    sb_xml(b, s);
    sb_puts(b, "</text>\n");
}

static void svg_trunc(const char *s, size_t max, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n <= max) {
        snprintf(out, cap, "%s", s);
        return;
    }
    if (max > cap - 4) max = cap - 4;
    memcpy(out, s, max - 3);
    memcpy(out + max - 3, "...", 4);
}

/* Lines for a note box, wrapped at spaces. */
#define BOX_MAX 40
typedef struct boxl {
    char text[BOX_MAX][200];
    const char *cls[BOX_MAX];
    int n;
} boxl;

static void box_add(boxl *l, const char *cls, const char *prefix, const char *text, size_t width)
{
    size_t pl = strlen(prefix);
    const char *p = text;
    int first = 1;
    if (width > sizeof(l->text[0]) - 1 - pl) width = sizeof(l->text[0]) - 1 - pl;
    do {
        if (l->n == BOX_MAX) return;
        size_t len = strlen(p);
        if (len > width) {
            size_t cut = width;
            while (cut > width / 2 && p[cut] != ' ')
                cut--;
            if (p[cut] != ' ') cut = width;
            len = cut;
        }
        snprintf(l->text[l->n], sizeof(l->text[0]), "%*s%.*s", (int)pl, first ? prefix : "",
                 (int)len, p);
        l->cls[l->n++] = cls;
        p += len;
        while (*p == ' ')
            p++;
        first = 0;
    } while (*p);
}

/* A note box of monospace lines at x (left edge; kept inside the picture). */
static double svg_box(sbuf *b, double x, double y, const boxl *l, const char *fill,
                      const char *stroke)
{
    size_t w = 0;
    for (int i = 0; i < l->n; i++)
        if (strlen(l->text[i]) > w) w = strlen(l->text[i]);
    double bw = (double)w * CHW + 16, bh = l->n * 16.0 + 8;
    if (x + bw > SVG_W - 10) x = SVG_W - 10 - bw;
    if (x < 10) x = 10;
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"4\" fill=\"%s\" "
              "stroke=\"%s\"/>\n",
              x, y, bw, bh, fill, stroke);
    for (int i = 0; i < l->n; i++)
        svg_text(b, x + 8, y + 17 + i * 16.0, "start", l->cls[i], l->text[i]);
    return bh;
}

static double svg_note(sbuf *b, double x, double y, const char *text, const char *fill,
                       const char *stroke)
{
    boxl l;
    l.n = 0;
    box_add(&l, "mono", "", text, 130);
    return svg_box(b, x, y, &l, fill, stroke);
}

static void svg_conn(svgctx *s, const hasp_trace *t, const tconn *k)
{
    sbuf *b = &s->b;
    char buf[1200], tr[400];
    int me = t->role == HASP_SERVER;
    snprintf(buf, sizeof(buf), "connection %d (%s side%s%s)", k->no, side(me),
             k->peer[0] ? ", peer " : "", k->peer);
    svg_text(b, 20, s->y + 16, "start", "title", buf);
    s->y += 28;
    /* participants */
    for (int p = 0; p < 2; p++) {
        double x = p ? X_SERVER : X_CLIENT;
        int this_side = p == me;
        sb_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"160\" height=\"30\" rx=\"6\" "
                  "fill=\"%s\" stroke=\"#37474f\"/>\n",
                  x - 80, s->y, this_side ? "#e3f2fd" : "#eceff1");
        snprintf(buf, sizeof(buf), "%s%s", side(p), this_side ? " (this side)" : "");
        svg_text(b, x, s->y + 20, "middle", "party", buf);
    }
    s->y += 30;
    double top = s->y;
    sbuf body = {0}; /* drawn after the lifelines and flight bands */
    sbuf bands = {0};
    int cur_band = -1, cur_hs = -1;
    double band_y = 0;
    s->y += 12;
#define CLOSE_BAND()                                                                               \
    do {                                                                                           \
        if (cur_band >= 0) {                                                                       \
            sb_printf(                                                                             \
                &bands, "<rect x=\"14\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"/>\n",  \
                band_y - 4, SVG_W - 28, s->y - band_y + 2, cur_band % 2 ? "#fff8e1" : "#f1f8e9");  \
            cur_band = -1;                                                                         \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i < k->n; i++) {
        const tev *e = &k->ev[i];
        if (!e->drawn) continue;
        int band = is_msg(e) ? (e->post ? 1000 : e->hs * 100 + e->flight) : cur_band;
        if (e->hs != cur_hs && !e->post && e->hs > 0 && is_msg(e)) {
            CLOSE_BAND();
            snprintf(buf, sizeof(buf), "renegotiation (handshake %d)", e->hs + 1);
            svg_text(&body, SVG_W / 2.0, s->y + 14, "middle", "phase", buf);
            s->y += 22;
        }
        if (is_msg(e)) cur_hs = e->hs;
        if (band != cur_band && is_msg(e)) {
            CLOSE_BAND();
            cur_band = band;
            band_y = s->y;
            if (e->post)
                snprintf(buf, sizeof(buf), "after the handshake");
            else
                snprintf(buf, sizeof(buf), "flight %d: %s", e->flight, side(e->from_server));
            svg_text(&body, 20, s->y + 12, "start", "flight", buf);
        }
        if (is_msg(e)) {
            double x1 = e->from_server ? X_SERVER : X_CLIENT,
                   x2 = e->from_server ? X_CLIENT : X_SERVER;
            const char *cls = is_alert(e) ? "alert" : e->encrypted ? "enc" : "plain";
            double ly = s->y + 22;
            sb_printf(&body,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"%s\" "
                      "marker-end=\"url(#head-%s)\"/>\n",
                      x1, ly, x2 + (e->from_server ? 4 : -4), ly, cls, cls);
            if (is_alert(e))
                snprintf(buf, sizeof(buf), "alert %s (%s)", e->name, e->detail);
            else {
                char l2[300];
                msg_label(e, l2, sizeof(l2));
                snprintf(buf, sizeof(buf), "%s%s", l2, e->encrypted ? "  [encrypted]" : "");
            }
            svg_text(&body, (X_CLIENT + X_SERVER) / 2.0, ly - 6, "middle",
                     is_alert(e)    ? "lbl-alert"
                     : e->encrypted ? "lbl-enc"
                                    : "lbl",
                     buf);
            snprintf(buf, sizeof(buf), "%.2f ms", e->t);
            svg_text(&body, X_CLIENT - 90, ly + 4, "end", "time", buf);
            if (!is_alert(e) && e->detail[0]) {
                svg_trunc(e->detail, 82, tr, sizeof(tr));
                svg_text(&body, (X_CLIENT + X_SERVER) / 2.0, ly + 15, "middle", "detail", tr);
                s->y += 12;
            }
            s->y += 32;
        } else if (e->type == HASP_EV_KEY_CHANGE) {
            const char *txt = e->snote ? e->snote : e->detail;
            double x = e->from_server ? X_SERVER - 20 - strlen(txt) * CHW : X_CLIENT - 20;
            s->y += svg_note(&body, x, s->y + 2, txt, "#ede7f6", "#7e57c2") + 4;
        } else if (e->type == HASP_EV_DECISION) {
            snprintf(buf, sizeof(buf), "decision: %s = %s (the %s decided)", e->name, e->detail,
                     side(e->from_server));
            double x = e->from_server ? X_SERVER - 20 - strlen(buf) * CHW : X_CLIENT - 20;
            s->y += svg_note(&body, x, s->y + 2, buf, "#fffde7", "#f9a825") + 4;
        } else if (e->type == HASP_EV_CERT_RESULT) {
            chain_view v;
            chain_parse(e, &v);
            boxl l;
            l.n = 0;
            snprintf(buf, sizeof(buf), "%s certificate chain, %zu sent: %s", side(e->from_server),
                     v.sent, v.ok ? "ok" : hasp_err_name(v.code));
            box_add(&l, v.ok ? "mono-b" : "mono-bad", "", buf, 120);
            if (v.none_built) {
                snprintf(buf, sizeof(buf), "%s  (sent by the peer)", v.leaf);
                box_add(&l, "mono", "   [0] ", buf, 110);
                snprintf(buf, sizeof(buf), "its issuer %s: not found", v.issuer);
                box_add(&l, "mono-bad", "    x  ", buf, 110);
            }
            for (int j = 0; j < v.n; j++) {
                char pre[24];
                snprintf(buf, sizeof(buf), "%s  (%s)%s", v.subj[j],
                         src_words(v.src[j], j == v.n - 1),
                         j == v.failing ? "  <== fails here" : "");
                snprintf(pre, sizeof(pre), "%s[%d] ", j ? "<- " : "   ", j);
                box_add(&l, j == v.failing ? "mono-bad" : "mono", pre, buf, 110);
            }
            if (!v.ok) box_add(&l, "mono-bad", "why: ", v.verdict, 110);
            s->y += svg_box(&body, (X_CLIENT + X_SERVER) / 2.0 - 330, s->y + 2, &l,
                            v.ok ? "#e8f5e9" : "#ffebee", v.ok ? "#43a047" : "#e53935") +
                    8;
        } else if (e->type == HASP_EV_DONE) {
            CLOSE_BAND();
            sb_printf(&body, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"done\"/>\n",
                      X_CLIENT - 60, s->y + 12, X_SERVER + 60, s->y + 12);
            snprintf(buf, sizeof(buf), "%s at %.2f ms", e->name, e->t);
            svg_text(&body, (X_CLIENT + X_SERVER) / 2.0, s->y + 8, "middle", "done-t", buf);
            s->y += 24;
        }
    }
    CLOSE_BAND();
#undef CLOSE_BAND
    s->y += 8;
    /* lifelines under everything */
    sb_add(b, bands.p ? bands.p : "", bands.len);
    sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"life\"/>\n", X_CLIENT,
              top, X_CLIENT, s->y);
    sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"life\"/>\n", X_SERVER,
              top, X_SERVER, s->y);
    sb_add(b, body.p ? body.p : "", body.len);
    free(body.p);
    free(bands.p);
    /* summary / failure */
    const kv *list = k->nfail ? k->fail : k->sum;
    int n = k->nfail ? k->nfail : k->nsum;
    if (n) {
        boxl l;
        l.n = 0;
        box_add(&l, k->nfail ? "mono-bad" : "mono-b", "", k->nfail ? "FAILED" : "summary", 100);
        for (int i = 0; i < n; i++) {
            char pre[40];
            snprintf(pre, sizeof(pre), "%-24s ", list[i].k);
            box_add(&l, "mono", pre, list[i].v, 100);
        }
        s->y += svg_box(b, 40, s->y, &l, k->nfail ? "#ffebee" : "#f5f5f5",
                        k->nfail ? "#e53935" : "#9e9e9e") +
                12;
    }
    s->y += 20;
}

void svg_render(const hasp_trace *t, sbuf *out, int standalone)
{
    svgctx s;
    memset(&s, 0, sizeof(s));
    s.y = 40;
    svg_text(&s.b, 20, 26, "start", "h1", "hasp handshake trace");
    for (size_t i = 0; i < t->nconns; i++)
        svg_conn(&s, t, t->conns[i]);
    if (!t->nconns) svg_text(&s.b, 20, 60, "start", "mono", "no connection was traced");
    double h = s.y + 10 < 120 ? 120 : s.y + 10;
    if (standalone) sb_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sb_printf(out,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
              "viewBox=\"0 0 %d %.0f\" xml:space=\"preserve\" font-family=\"DejaVu Sans, "
              "Helvetica, Arial, sans-serif\">\n",
              SVG_W, h, SVG_W, h);
    sb_puts(
        out,
        "<defs>\n"
        "<marker id=\"head-plain\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" "
        "markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#37474f\"/>"
        "</marker>\n"
        "<marker id=\"head-enc\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" "
        "markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#2e7d32\"/>"
        "</marker>\n"
        "<marker id=\"head-alert\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
        "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" "
        "fill=\"#c62828\"/></marker>\n"
        "<style>\n"
        ".h1{font-size:20px;font-weight:bold;fill:#263238}\n"
        ".title{font-size:15px;font-weight:bold;fill:#37474f}\n"
        ".party{font-size:14px;font-weight:bold;fill:#263238}\n"
        ".life{stroke:#90a4ae;stroke-width:2;stroke-dasharray:6 4}\n"
        ".plain{stroke:#37474f;stroke-width:1.6}\n"
        ".enc{stroke:#2e7d32;stroke-width:2.6}\n"
        ".alert{stroke:#c62828;stroke-width:2.2;stroke-dasharray:8 3}\n"
        ".lbl{font-size:13px;fill:#263238;font-weight:bold}\n"
        ".lbl-enc{font-size:13px;fill:#1b5e20;font-weight:bold}\n"
        ".lbl-alert{font-size:13px;fill:#b71c1c;font-weight:bold}\n"
        ".detail{font-size:10.5px;fill:#607d8b;font-family:DejaVu Sans Mono,monospace}\n"
        ".time{font-size:11px;fill:#78909c;font-family:DejaVu Sans Mono,monospace}\n"
        ".flight{font-size:11px;fill:#8d6e63;font-style:italic}\n"
        ".phase{font-size:13px;fill:#6a1b9a;font-weight:bold}\n"
        ".mono{font-size:12px;fill:#263238;font-family:DejaVu Sans Mono,monospace}\n"
        ".mono-b{font-size:12px;fill:#1b5e20;font-weight:bold;font-family:DejaVu Sans "
        "Mono,monospace}\n"
        ".mono-bad{font-size:12px;fill:#b71c1c;font-weight:bold;font-family:DejaVu Sans "
        "Mono,monospace}\n"
        ".done{stroke:#1565c0;stroke-width:1.5;stroke-dasharray:3 3}\n"
        ".done-t{font-size:12px;fill:#1565c0;font-weight:bold}\n"
        "</style>\n</defs>\n");
    sb_printf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n", SVG_W,
              h);
    sb_add(out, s.b.p ? s.b.p : "", s.b.len);
    sb_puts(out, "</svg>\n");
    free(s.b.p);
}
