/* Both sides' values for the sentences of negotiation failures: what the
 * peer offered and what this side allows, as readable lists. */
#include <stdio.h>
#include <string.h>

#include "hs.h"

/* "a, b, c" appended to out; codes hasp does not know as 0x%04x. */
static void add(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    if (n + 1 >= cap) return;
    snprintf(out + n, cap - n, "%s%s", n ? ", " : "", s);
}

void hs_list_groups(const uint16_t *g, size_t n, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char hex[16];
        const char *name = hasp_group_name(g[i]);
        if (!name) {
            snprintf(hex, sizeof(hex), "0x%04x", g[i]);
            name = hex;
        }
        add(out, cap, name);
    }
    if (!out[0]) snprintf(out, cap, "none");
}

void hs_list_sigschemes(const uint16_t *s, size_t n, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        char hex[16];
        const hasp_sigscheme *ss = hasp_sigscheme_find(s[i]);
        if (!ss) snprintf(hex, sizeof(hex), "0x%04x", s[i]);
        add(out, cap, ss ? ss->name : hex);
    }
    if (!out[0]) snprintf(out, cap, "none");
}

/* The schemes this side would sign with, over all its certificates. */
void hs_list_own_sigschemes(const hasp_conn *c, uint16_t version, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; i < c->cfg->nsigalgs; i++) {
        const hasp_sigscheme *s = hasp_sigscheme_find(c->cfg->sigalgs[i]);
        if (!s) continue;
        for (size_t k = 0; k < c->cfg->ncreds; k++)
            if (hasp_sigscheme_fits(s, c->cfg->creds[k].key, version)) {
                add(out, cap, s->name);
                break;
            }
    }
    if (!out[0]) snprintf(out, cap, "none");
}

/* ALPN ProtocolNameList body (1-byte length-prefixed names). */
void hs_list_alpn(const uint8_t *list, size_t len, char *out, size_t cap)
{
    out[0] = 0;
    hasp_rd r = hasp_rd_init(list, len);
    while (rd_left(&r)) {
        hasp_rd p;
        char name[256];
        if (rd_vec(&r, 1, &p) < 0) break;
        snprintf(name, sizeof(name), "%.*s", (int)p.len, (const char *)p.p);
        add(out, cap, name);
    }
    if (!out[0]) snprintf(out, cap, "none");
}
