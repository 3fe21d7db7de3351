/* hasp tool, trace: the event model and its layout, below every output
 * format. The strings the formats build with (sbuf), the events of one
 * connection and what they mean (messages, alerts, the certificate chain
 * read back from its detail), the layout the ladder and the diagrams share
 * (flights, phases, key-change notes, the inferred Certificate), and the
 * content of the summary and the failure block. Calls nothing above it:
 * text.c, json.c, svg.c, html.c and mermaid.c draw from what this file
 * lays out; trace.c collects the events and dispatches. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void sb_rep(sbuf *b, char c, int n)
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

char *xstrdup(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *p = malloc(n + 1);
    if (p) memcpy(p, s ? s : "", n + 1);
    return p;
}

const char *side(int server)
{
    return server ? "server" : "client";
}

/* ---------------------------------------------------------------- the events */

void tconn_free(tconn *k)
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

/* ---------------------------------------------------------------- what an event is */

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

int middlebox_ccs(const tev *e)
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
        snprintf(out, cap, "%s  (size not reported)", e->name);
    else
        snprintf(out, cap, "%s  %zu bytes", e->name, e->length);
}

/* ---------------------------------------------------------------- layout */

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

tev *insert_event(tconn *k, size_t at)
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

void trace_fixup(tconn *k, size_t from)
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

int layout_event(tconn *k, tev *e)
{
    int mark = 0;
    e->drawn = 1;
    if (strstr(e->detail, "version=TLS1.3") ||
        (e->type == HASP_EV_DECISION && !strcmp(e->name, "version") && strstr(e->detail, "1.3")))
        k->v13 = 1;
    e->hs = k->hs;
    e->post = k->post;
    if (is_msg(e)) {
        if (k->post) {
            if (!k->post_header) {
                mark = LAYOUT_POST_HEADER;
                k->post_header = 1;
            }
        } else if (e->from_server != k->last_sender) {
            k->flight++;
            k->last_sender = e->from_server;
            mark = LAYOUT_NEW_FLIGHT;
        }
        e->flight = k->post ? 0 : k->flight;
    } else if (e->type == HASP_EV_KEY_CHANGE) {
        keys_note(k, e);
    } else if (e->type == HASP_EV_DONE) {
        if (!k->hs) k->hs_ms = e->t;
    }
    return mark;
}

/* ---------------------------------------------------------------- summary, failure */

static void add_kv(kv *arr, int *n, int max, const char *k, const char *v)
{
    if (*n >= max) return;
    arr[*n].k = xstrdup(k);
    arr[*n].v = xstrdup(v);
    (*n)++;
}

void summary_fill(tconn *k, hasp_conn *c)
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

void failure_fill(hasp_trace *t, tconn *k, hasp_conn *c, int rc)
{
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
}
