/* The services the handshake takes from its connection (services.h):
 * events, the clock, randomness, key pairs, the key log, sending records.
 * The engine and the handshake call these; these call only lower layers. */
#include "services.h"

#include "alloc.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs/hs.h" /* the handshake's deferred events, HS_CCS */

/* ---------------------------------------------------------------- sentences */

static void set_msg(char **slot, size_t cap, const char *fmt, va_list ap)
{
    if (*slot == NULL && (*slot = hasp_malloc(cap)) == NULL) return;
    vsnprintf(*slot, cap, fmt, ap);
}

void conn_set_errmsg(hasp_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_msg(&c->errmsg, CONN_ERRMSG_CAP, fmt, ap);
    va_end(ap);
}

void conn_set_verify_msg(hasp_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_msg(&c->verify_msg, CONN_VERIFY_MSG_CAP, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- randomness, key log */

int64_t conn_now(const hasp_conn *c)
{
    return c->cfg->now ? c->cfg->now(c->cfg->now_arg) : (int64_t)time(NULL);
}

int64_t conn_now_ms(const hasp_conn *c)
{
    if (c->cfg->now) return c->cfg->now(c->cfg->now_arg) * 1000;
    /* TLS 1.3 ticket ages are in milliseconds: peers (GnuTLS) refuse early
     * data whose age is off by the rounding of a seconds clock */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int conn_random(hasp_conn *c, uint8_t *out, size_t len)
{
    if (c->cfg->rng) return c->cfg->rng(c->cfg->rng_arg, out, len) == 0 ? 0 : HASP_ERR_CRYPTO;
    return hasp_random(out, len);
}

int conn_random_public(hasp_conn *c, uint8_t *a, size_t alen, uint8_t *b, size_t blen)
{
    if (b == NULL) blen = 0;
    if (c->cfg->rng) {
        GUARD(conn_random(c, a, alen));
        return blen ? conn_random(c, b, blen) : 0;
    }
    uint8_t buf[64];
    if (alen + blen > sizeof(buf)) {
        GUARD(hasp_random_public(a, alen));
        return blen ? hasp_random_public(b, blen) : 0;
    }
    int rc = hasp_random_public(buf, alen + blen);
    if (rc == 0) {
        memcpy(a, buf, alen);
        if (blen) memcpy(b, buf + alen, blen);
    }
    hasp_wipe(buf, sizeof(buf));
    return rc;
}

hasp_kex *conn_kex_new(hasp_conn *c, uint16_t group)
{
    const hasp_config *cfg = c->cfg;
    for (size_t i = 0; i < cfg->ntest_kex; i++)
        if (cfg->test_kex_group[i] == group)
            return hasp_kex_new_from_private(group, cfg->test_kex_priv[i], cfg->test_kex_len[i]);
    return hasp_kex_new(group);
}

hasp_kex *conn_kex_new_responder(hasp_conn *c, uint16_t group)
{
    if (!hasp_group_is_hybrid(group)) return conn_kex_new(c, group);
    return hasp_kex_new_responder(group);
}

void conn_keylog(hasp_conn *c, const char *label, const uint8_t *client_random,
                 const uint8_t *secret, size_t len)
{
    if (!c->cfg->keylog_allowed) return;
    const char *path = getenv("SSLKEYLOGFILE");
    if (!path || !*path) return;
    /* 0600, appended; one line written with one write(2). */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    char line[64 + 2 * 32 + 2 * 64 + 8];
    size_t n = (size_t)snprintf(line, sizeof(line), "%s ", label);
    for (size_t i = 0; i < 32; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%02x", client_random[i]);
    line[n++] = ' ';
    for (size_t i = 0; i < len && n + 3 < sizeof(line); i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%02x", secret[i]);
    line[n++] = '\n';
    ssize_t w = write(fd, line, n);
    (void)w;
    hasp_wipe(line, sizeof(line));
    close(fd);
}

/* ---------------------------------------------------------------- events */

void conn_event(hasp_conn *c, int type, int from_server, int msg_type, const char *name,
                size_t length, const char *detail)
{
    if (!c->cfg->ev_cb) return;
    struct hasp_hs *hs = c->hs;
    int encrypted = (from_server == (c->role == HASP_SERVER)) ? c->wr.kind != HASP_REC_NULL
                                                              : c->rd.kind != HASP_REC_NULL;
    if (hs && hs->defer) {
        if (type != HASP_EV_MSG_RECV) {
            /* raised by a handler: shown after the message that caused it */
            if (hs->ndeferred < 6) {
                int i = hs->ndeferred++;
                hs->deferred[i].type = type;
                hs->deferred[i].from_server = from_server;
                hs->deferred[i].encrypted = encrypted;
                hs->deferred[i].msg_type = msg_type;
                hs->deferred[i].name = name;
                hs->deferred[i].length = length;
                size_t dl = detail ? strlen(detail) : 0;
                hs->deferred[i].detail = hasp_malloc(dl + 1);
                if (hs->deferred[i].detail) {
                    if (dl) memcpy(hs->deferred[i].detail, detail, dl);
                    hs->deferred[i].detail[dl] = 0;
                }
            }
            return;
        }
        encrypted = hs->rx_encrypted;
    }
    if (msg_type == HS_CCS) msg_type = HASP_CT_CHANGE_CIPHER_SPEC; /* as hasp.h documents it: 20 */
    hasp_event ev;
    ev.type = type;
    ev.from_server = from_server;
    ev.encrypted = encrypted;
    ev.msg_type = msg_type;
    ev.name = name;
    ev.length = length;
    ev.detail = detail ? detail : "";
    c->cfg->ev_cb(c->cfg->ev_arg, &ev);
    if (hs && hs->defer && type == HASP_EV_MSG_RECV) {
        hs->defer = 0;
        for (int i = 0; i < hs->ndeferred; i++) {
            ev.type = hs->deferred[i].type;
            ev.from_server = hs->deferred[i].from_server;
            ev.encrypted = hs->deferred[i].encrypted;
            ev.msg_type = hs->deferred[i].msg_type;
            ev.name = hs->deferred[i].name;
            ev.length = hs->deferred[i].length;
            ev.detail = hs->deferred[i].detail ? hs->deferred[i].detail : "";
            c->cfg->ev_cb(c->cfg->ev_arg, &ev);
            hasp_free(hs->deferred[i].detail);
            hs->deferred[i].detail = NULL;
        }
        hs->ndeferred = 0;
    }
}

/* ---------------------------------------------------------------- output */

int conn_send_record(hasp_conn *c, uint8_t type, const uint8_t *data, size_t len)
{
    /* Once a version is agreed, every record says TLS 1.2 (RFC 8446 5.1 for 1.3). */
    if (c->version) c->rec_version = HASP_TLS1_2;
    do {
        size_t n = len > HASP_REC_MAX_PLAINTEXT ? HASP_REC_MAX_PLAINTEXT : len;
        GUARD(hasp_rec_seal(&c->wr, type, c->rec_version, data, n, &c->out));
        if (n) /* no arithmetic on a NULL data pointer for an empty write */
            data += n;
        len -= n;
    } while (len > 0);
    return 0;
}
