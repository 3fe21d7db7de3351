/* hasp tool, trace: the Mermaid sequence diagram (--trace-out x.mmd),
 * for pasting into Markdown that renders Mermaid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_int.h"

/* Mermaid: no ';' or '#' in message text (they end statements / start
 * entities), no newlines. */
static void sb_mmd(sbuf *b, const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (c == ';')
            c = ',';
        else if (c == '#' || c == '\n' || c == '\r')
            c = ' ';
        sb_add(b, &c, 1);
    }
}

void mmd_render(const hasp_trace *t, sbuf *out)
{
    sb_puts(out, "sequenceDiagram\n");
    sb_puts(out, "    participant C as client\n    participant S as server\n");
    int me = t->role == HASP_SERVER;
    for (size_t c = 0; c < t->nconns; c++) {
        const tconn *k = t->conns[c];
        sb_printf(out, "    Note over C,S: connection %d, %s side", k->no, side(me));
        if (k->peer[0]) {
            sb_puts(out, ", peer ");
            sb_mmd(out, k->peer);
        }
        sb_puts(out, "\n");
        int cur_band = -1, open = 0;
        for (size_t i = 0; i < k->n; i++) {
            const tev *e = &k->ev[i];
            if (!e->drawn) continue;
            const char *from = e->from_server ? "S" : "C", *to = e->from_server ? "C" : "S";
            if (is_msg(e)) {
                int band = e->post ? 1000 : e->hs * 100 + e->flight;
                if (band != cur_band) {
                    if (open) sb_puts(out, "    end\n");
                    cur_band = band;
                    sb_printf(out, "    rect %s\n",
                              e->post         ? "rgb(245, 245, 245)"
                              : e->flight % 2 ? "rgb(241, 248, 233)"
                                              : "rgb(255, 248, 225)");
                    if (e->post)
                        sb_puts(out, "    Note over C,S: after the handshake\n");
                    else
                        sb_printf(out, "    Note over C,S: %sflight %d (%s)\n",
                                  e->hs ? "renegotiation, " : "", e->flight, side(e->from_server));
                    open = 1;
                }
                if (is_alert(e)) {
                    sb_printf(out, "    %s-x%s: alert ", from, to);
                    sb_mmd(out, e->name);
                    sb_printf(out, " (%s)\n", e->detail);
                } else {
                    /* dotted arrows: encrypted */
                    sb_printf(out, "    %s%s%s: ", from, e->encrypted ? "-->>" : "->>", to);
                    sb_mmd(out, e->name);
                    sb_printf(out, " (%zu bytes%s)\n", e->length,
                              e->encrypted ? ", encrypted" : "");
                }
            } else if (e->type == HASP_EV_KEY_CHANGE) {
                sb_printf(out, "    Note over %s: ", from);
                sb_mmd(out, e->note ? e->note : e->detail);
                sb_puts(out, "\n");
            } else if (e->type == HASP_EV_DECISION) {
                sb_printf(out, "    Note over %s: decision: ", from);
                sb_mmd(out, e->name);
                sb_puts(out, " = ");
                sb_mmd(out, e->detail);
                sb_printf(out, " (the %s decided)\n", side(e->from_server));
            } else if (e->type == HASP_EV_CERT_RESULT) {
                chain_view v;
                chain_parse(e, &v);
                sb_printf(out, "    Note over %s: %s certificate chain: %s",
                          e->from_server ? "C" : "S", side(e->from_server),
                          v.ok ? "ok" : hasp_err_name(v.code));
                for (int j = 0; j < v.n; j++) {
                    sb_puts(out, j ? " <- " : "<br/>");
                    sb_mmd(out, v.subj[j]);
                    sb_printf(out, " [%s]%s", v.src[j], j == v.failing ? " FAILS" : "");
                }
                if (!v.ok) {
                    sb_puts(out, "<br/>");
                    sb_mmd(out, v.verdict);
                }
                sb_puts(out, "\n");
            } else if (e->type == HASP_EV_DONE) {
                if (open) sb_puts(out, "    end\n");
                open = 0;
                cur_band = -1;
                sb_printf(out, "    Note over C,S: %s at %.2f ms\n", e->name, e->t);
            }
        }
        if (open) sb_puts(out, "    end\n");
        const kv *list = k->nfail ? k->fail : k->sum;
        int n = k->nfail ? k->nfail : k->nsum;
        if (n) {
            sb_printf(out, "    Note over C,S: %s", k->nfail ? "FAILED" : "summary");
            for (int i = 0; i < n; i++) {
                sb_puts(out, "<br/>");
                sb_mmd(out, list[i].k);
                sb_puts(out, ": ");
                sb_mmd(out, list[i].v);
            }
            sb_puts(out, "\n");
        }
    }
}
