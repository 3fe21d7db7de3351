/* Sessions, the server's session cache and session tickets (and the
 * tickets each connection saw, revoked if it ends badly). */
#include "../alloc.h"
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "../crypto/crypto.h"
#include "../conn.h" /* a connection's tickets: conn_note_ticket */

#define SESSION_MAGIC 0x48535031u /* "HSP1" */

hasp_session *session_new(void)
{
    hasp_session *s = hasp_calloc(1, sizeof(*s));
    if (s) s->resumable = 1;
    return s;
}

void hasp_session_free(hasp_session *s)
{
    if (!s) return;
    hasp_free(s->ticket);
    hasp_free(s->peer_cert);
    hasp_wipe(s, sizeof(*s));
    hasp_free(s);
}

int session_set_ticket(hasp_session *s, const uint8_t *t, size_t len)
{
    uint8_t *nt = len ? hasp_malloc(len) : NULL;
    ENSURE(nt || !len, HASP_ERR_NOMEM);
    if (len) memcpy(nt, t, len);
    hasp_free(s->ticket);
    s->ticket = nt;
    s->ticket_len = len;
    return 0;
}

int session_set_peer_cert(hasp_session *s, const uint8_t *der, size_t len)
{
    uint8_t *nc = len ? hasp_malloc(len) : NULL;
    ENSURE(nc || !len, HASP_ERR_NOMEM);
    if (len) memcpy(nc, der, len);
    hasp_free(s->peer_cert);
    s->peer_cert = nc;
    s->peer_cert_len = len;
    return 0;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n) memcpy(dst, src, n);
    dst[n] = 0;
}

void session_set_names(hasp_session *s, const char *sni, const char *alpn)
{
    copy_name(s->sni, sizeof(s->sni), sni);
    copy_name(s->alpn, sizeof(s->alpn), alpn);
}

hasp_session *session_dup(const hasp_session *s)
{
    hasp_session *d = session_new();
    if (!d) return NULL;
    *d = *s;
    d->ticket = NULL;
    d->peer_cert = NULL;
    d->ticket_len = d->peer_cert_len = 0;
    if (session_set_ticket(d, s->ticket, s->ticket_len) < 0 ||
        session_set_peer_cert(d, s->peer_cert, s->peer_cert_len) < 0) {
        hasp_session_free(d);
        return NULL;
    }
    return d;
}

int session_encode(const hasp_session *s, hasp_wr *w)
{
    GUARD(wr_u32(w, SESSION_MAGIC));
    GUARD(wr_u16(w, s->version));
    GUARD(wr_u16(w, s->suite));
    GUARD(wr_u8(w, (uint8_t)(s->ems ? 1 : 0)));
    GUARD(wr_u32(w, (uint32_t)((uint64_t)s->created >> 32)));
    GUARD(wr_u32(w, (uint32_t)s->created));
    GUARD(wr_u32(w, s->lifetime));
    GUARD(wr_u32(w, s->age_add));
    GUARD(wr_vec(w, 1, s->secret, s->secret_len));
    GUARD(wr_vec(w, 1, s->id, s->id_len));
    GUARD(wr_vec(w, 2, s->ticket, s->ticket_len));
    GUARD(wr_u32(w, (uint32_t)((uint64_t)s->ticket_received_ms >> 32)));
    GUARD(wr_u32(w, (uint32_t)s->ticket_received_ms));
    GUARD(wr_vec(w, 1, s->sni, strlen(s->sni)));
    GUARD(wr_vec(w, 1, s->alpn, strlen(s->alpn)));
    GUARD(wr_vec(w, 3, s->peer_cert, s->peer_cert_len));
    GUARD(wr_u32(w, s->max_early_data));
    return 0;
}

static int decode_into(hasp_session *s, const uint8_t *in, size_t len)
{
    hasp_rd r = hasp_rd_init(in, len), v;
    uint32_t magic, hi, lo;
    uint8_t ems;
    GUARD(rd_u32(&r, &magic));
    ENSURE_MSG(magic == SESSION_MAGIC, HASP_ERR_DECODE, "these bytes are not a hasp session");
    GUARD(rd_u16(&r, &s->version));
    GUARD(rd_u16(&r, &s->suite));
    GUARD(rd_u8(&r, &ems));
    s->ems = ems;
    GUARD(rd_u32(&r, &hi));
    GUARD(rd_u32(&r, &lo));
    s->created = (int64_t)(((uint64_t)hi << 32) | lo);
    GUARD(rd_u32(&r, &s->lifetime));
    GUARD(rd_u32(&r, &s->age_add));
    GUARD(rd_vec_bounded(&r, 1, 1, sizeof(s->secret), &v));
    memcpy(s->secret, v.p, v.len);
    s->secret_len = v.len;
    GUARD(rd_vec_bounded(&r, 1, 0, sizeof(s->id), &v));
    memcpy(s->id, v.p, v.len);
    s->id_len = v.len;
    GUARD(rd_vec(&r, 2, &v));
    GUARD(session_set_ticket(s, v.p, v.len));
    GUARD(rd_u32(&r, &hi));
    GUARD(rd_u32(&r, &lo));
    s->ticket_received_ms = (int64_t)(((uint64_t)hi << 32) | lo);
    GUARD(rd_vec_bounded(&r, 1, 0, sizeof(s->sni) - 1, &v));
    memcpy(s->sni, v.p, v.len);
    s->sni[v.len] = 0;
    GUARD(rd_vec_bounded(&r, 1, 0, sizeof(s->alpn) - 1, &v));
    memcpy(s->alpn, v.p, v.len);
    s->alpn[v.len] = 0;
    GUARD(rd_vec(&r, 3, &v));
    GUARD(session_set_peer_cert(s, v.p, v.len));
    if (rd_left(&r)) GUARD(rd_u32(&r, &s->max_early_data)); /* absent in older sessions */
    GUARD(rd_expect_empty(&r));
    ENSURE_MSG(s->version == HASP_TLS1_2 || s->version == HASP_TLS1_3, HASP_ERR_DECODE,
               "the session has an unknown version 0x%04x", s->version);
    return 0;
}

hasp_session *session_decode(const uint8_t *in, size_t len)
{
    hasp_session *s = session_new();
    if (!s) return NULL;
    if (decode_into(s, in, len) < 0) {
        hasp_session_free(s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- the cache */

typedef struct cache_entry {
    hasp_session *s;
    struct cache_entry *prev, *next; /* LRU: head is the most recent */
} cache_entry;

struct session_cache {
    pthread_mutex_t lock;
    cache_entry *head, *tail;
    size_t count, max;
};

session_cache *session_cache_new(size_t max_entries)
{
    session_cache *sc = hasp_calloc(1, sizeof(*sc));
    if (!sc) return NULL;
    pthread_mutex_init(&sc->lock, NULL);
    sc->max = max_entries;
    return sc;
}

static void unlink_entry(session_cache *sc, cache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        sc->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        sc->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(session_cache *sc, cache_entry *e)
{
    e->prev = NULL;
    e->next = sc->head;
    if (sc->head) sc->head->prev = e;
    sc->head = e;
    if (!sc->tail) sc->tail = e;
}

static void drop_entry(session_cache *sc, cache_entry *e)
{
    unlink_entry(sc, e);
    hasp_session_free(e->s);
    hasp_free(e);
    sc->count--;
}

void session_cache_free(session_cache *sc)
{
    if (!sc) return;
    while (sc->head)
        drop_entry(sc, sc->head);
    pthread_mutex_destroy(&sc->lock);
    hasp_free(sc);
}

/* A linear walk: the cache is bounded and a lookup costs less than one
 * public-key operation even when full. */
static cache_entry *find(session_cache *sc, const uint8_t *id, size_t id_len)
{
    for (cache_entry *e = sc->head; e; e = e->next)
        if (e->s->id_len == id_len && !memcmp(e->s->id, id, id_len)) return e;
    return NULL;
}

int session_cache_put(session_cache *sc, const hasp_session *s)
{
    if (!sc || sc->max == 0 || s->id_len == 0) return 0;
    hasp_session *copy = session_dup(s);
    ENSURE(copy, HASP_ERR_NOMEM);
    cache_entry *ne = hasp_calloc(1, sizeof(*ne));
    if (!ne) {
        hasp_session_free(copy);
        return HASP_ERR_NOMEM;
    }
    ne->s = copy;
    pthread_mutex_lock(&sc->lock);
    cache_entry *old = find(sc, s->id, s->id_len);
    if (old) drop_entry(sc, old);
    while (sc->count >= sc->max && sc->tail)
        drop_entry(sc, sc->tail);
    push_front(sc, ne);
    sc->count++;
    pthread_mutex_unlock(&sc->lock);
    return 0;
}

hasp_session *session_cache_get(session_cache *sc, const uint8_t *id, size_t id_len, int64_t now)
{
    if (!sc || id_len == 0) return NULL;
    hasp_session *out = NULL;
    pthread_mutex_lock(&sc->lock);
    cache_entry *e = find(sc, id, id_len);
    if (e) {
        if (now >= e->s->created + (int64_t)e->s->lifetime || !e->s->resumable) {
            drop_entry(sc, e);
        } else {
            unlink_entry(sc, e);
            push_front(sc, e);
            out = session_dup(e->s);
        }
    }
    pthread_mutex_unlock(&sc->lock);
    return out;
}

void session_cache_remove(session_cache *sc, const uint8_t *id, size_t id_len)
{
    if (!sc || id_len == 0) return;
    pthread_mutex_lock(&sc->lock);
    cache_entry *e = find(sc, id, id_len);
    if (e) drop_entry(sc, e);
    pthread_mutex_unlock(&sc->lock);
}

size_t session_cache_count(session_cache *sc)
{
    if (!sc) return 0;
    pthread_mutex_lock(&sc->lock);
    size_t n = sc->count;
    pthread_mutex_unlock(&sc->lock);
    return n;
}

/* ---------------------------------------------------------------- tickets */

static int key_fresh(ticket_key *k, int64_t now)
{
    GUARD(hasp_random(k->name, sizeof(k->name)));
    GUARD(hasp_random(k->key, sizeof(k->key)));
    k->created = now;
    k->valid = 1;
    return 0;
}

int ticket_keys_init(ticket_keys *tk, int64_t now)
{
    memset(tk, 0, sizeof(*tk));
    pthread_mutex_init(&tk->lock, NULL);
    tk->rotate_after = 12 * 3600;
    tk->n = 1;
    return key_fresh(&tk->keys[0], now);
}

void ticket_keys_destroy(ticket_keys *tk)
{
    pthread_mutex_destroy(&tk->lock);
    hasp_wipe(tk->keys, sizeof(tk->keys));
}

/* Process-made keys: a fresh one seals, the one before still opens. */
int ticket_keys_rotate(ticket_keys *tk, int64_t now)
{
    pthread_mutex_lock(&tk->lock);
    int rc = HASP_ERR_USAGE;
    if (!tk->external) {
        ticket_key fresh;
        rc = key_fresh(&fresh, now);
        if (rc == 0) {
            hasp_wipe(&tk->keys[1], sizeof(tk->keys[1]) * (TICKET_KEYS_MAX - 1));
            tk->keys[1] = tk->keys[0];
            tk->keys[0] = fresh;
            tk->n = 2;
        }
        hasp_wipe(&fresh, sizeof(fresh));
    }
    pthread_mutex_unlock(&tk->lock);
    return rc;
}

void ticket_keys_set(ticket_keys *tk, const ticket_key *keys, size_t n)
{
    if (n > TICKET_KEYS_MAX) n = TICKET_KEYS_MAX;
    pthread_mutex_lock(&tk->lock);
    hasp_wipe(tk->keys, sizeof(tk->keys));
    for (size_t i = 0; i < n; i++) {
        tk->keys[i] = keys[i];
        tk->keys[i].valid = 1;
    }
    tk->n = n;
    tk->external = 1;
    tk->rotate_after = 0;
    pthread_mutex_unlock(&tk->lock);
}

int ticket_seal(ticket_keys *tk, const hasp_session *s, int64_t now, hasp_wr *out)
{
    ticket_key k;
    pthread_mutex_lock(&tk->lock);
    int stale =
        !tk->external && tk->rotate_after && now - tk->keys[0].created >= (int64_t)tk->rotate_after;
    pthread_mutex_unlock(&tk->lock);
    if (stale) GUARD(ticket_keys_rotate(tk, now));
    pthread_mutex_lock(&tk->lock);
    k = tk->keys[0];
    pthread_mutex_unlock(&tk->lock);
    if (!k.valid) return HASP_ERR_INTERNAL;
    hasp_session plain = *s;
    plain.ticket = NULL; /* a ticket never carries another ticket */
    plain.ticket_len = 0;
    hasp_wr st = hasp_wr_dyn();
    int rc = session_encode(&plain, &st);
    uint8_t nonce[12];
    if (rc == 0) rc = hasp_random(nonce, sizeof(nonce));
    uint8_t *dst = NULL;
    if (rc == 0) rc = wr_bytes(out, k.name, sizeof(k.name));
    if (rc == 0) rc = wr_bytes(out, nonce, sizeof(nonce));
    if (rc == 0) rc = wr_space(out, st.len + HASP_AEAD_TAG_LEN, &dst);
    if (rc == 0) {
        hasp_aead_ctx *a = hasp_aead_new(HASP_AEAD_AES256GCM, 1, k.key);
        rc = a ? hasp_aead_seal(a, nonce, k.name, sizeof(k.name), st.p, st.len, dst)
               : HASP_ERR_CRYPTO;
        hasp_aead_free(a);
    }
    hasp_wr_free_secret(&st);
    hasp_wipe(&k, sizeof(k));
    return rc;
}

hasp_session *ticket_open(ticket_keys *tk, const uint8_t *t, size_t len)
{
    if (len < TICKET_KEY_NAME_LEN + 12 + HASP_AEAD_TAG_LEN + 8) return NULL;
    ticket_key k;
    int found = 0;
    pthread_mutex_lock(&tk->lock);
    for (size_t i = 0; i < tk->n && !found; i++)
        if (tk->keys[i].valid && !memcmp(t, tk->keys[i].name, TICKET_KEY_NAME_LEN)) {
            k = tk->keys[i];
            found = 1;
        }
    pthread_mutex_unlock(&tk->lock);
    if (!found) return NULL;
    size_t ct_len = len - TICKET_KEY_NAME_LEN - 12;
    uint8_t *pt = hasp_malloc(ct_len);
    hasp_session *s = NULL;
    if (pt) {
        hasp_aead_ctx *a = hasp_aead_new(HASP_AEAD_AES256GCM, 0, k.key);
        if (a && hasp_aead_open(a, t + TICKET_KEY_NAME_LEN, t, TICKET_KEY_NAME_LEN,
                                t + TICKET_KEY_NAME_LEN + 12, ct_len, pt) == 0)
            s = session_decode(pt, ct_len - HASP_AEAD_TAG_LEN);
        hasp_aead_free(a);
        hasp_wipe(pt, ct_len);
        hasp_free(pt);
    }
    hasp_wipe(&k, sizeof(k));
    return s;
}

/* ---------------------------------------------------------------- public */

int hasp_session_to_bytes(const hasp_session *s, uint8_t *out, size_t cap, size_t *len)
{
    ENSURE(s && len, HASP_ERR_USAGE);
    hasp_wr w = hasp_wr_dyn();
    int rc = session_encode(s, &w);
    if (rc == 0) {
        *len = w.len;
        if (out && cap >= w.len)
            memcpy(out, w.p, w.len);
        else if (out)
            rc = hasp_err_set(HASP_ERR_USAGE, __FILE__, __LINE__,
                              "the buffer is too small for the session (%zu bytes needed)", w.len);
    }
    hasp_wr_free_secret(&w);
    return rc;
}

hasp_session *hasp_session_from_bytes(const uint8_t *in, size_t len)
{
    return session_decode(in, len);
}

uint32_t hasp_session_max_early_data(const hasp_session *s)
{
    return s && s->version == HASP_TLS1_3 && s->ticket_len ? s->max_early_data : 0;
}

int hasp_session_resumable(const hasp_session *s)
{
    return s && s->resumable;
}

uint16_t hasp_session_version(const hasp_session *s)
{
    return s ? s->version : 0;
}

/* ---------------------------------------------------------------- used tickets */

/* A ring of ticket hashes, oldest overwritten first, each with the time it
 * was added (for the 0-RTT strike register). */
struct used_tickets {
    pthread_mutex_t lock;
    uint8_t (*h)[16];
    int64_t *t;
    size_t cap, next, count;
};

used_tickets *used_tickets_new(size_t cap)
{
    used_tickets *u = hasp_calloc(1, sizeof(*u));
    if (!u) return NULL;
    u->h = hasp_calloc(cap, sizeof(*u->h));
    u->t = hasp_calloc(cap, sizeof(*u->t));
    if (!u->h || !u->t) {
        used_tickets_free(u);
        return NULL;
    }
    u->cap = cap;
    pthread_mutex_init(&u->lock, NULL);
    return u;
}

void used_tickets_free(used_tickets *u)
{
    if (!u) return;
    if (u->cap) pthread_mutex_destroy(&u->lock);
    hasp_free(u->h);
    hasp_free(u->t);
    hasp_free(u);
}

void ticket_hash16(const uint8_t *t, size_t len, uint8_t out[16])
{
    uint8_t full[HASP_HASH_MAX];
    if (hasp_hash(HASP_HASH_SHA256, t, len, full) < 0) memset(full, 0xff, sizeof(full));
    memcpy(out, full, 16);
}

/* Under the lock. */
static int find_locked(const used_tickets *u, const uint8_t h[16])
{
    for (size_t i = 0; i < u->count; i++)
        if (!memcmp(u->h[i], h, 16)) return 1;
    return 0;
}

static void add_locked(used_tickets *u, const uint8_t h[16], int64_t now)
{
    memcpy(u->h[u->next], h, 16);
    u->t[u->next] = now;
    u->next = (u->next + 1) % u->cap;
    if (u->count < u->cap) u->count++;
}

int used_tickets_has(used_tickets *u, const uint8_t h[16])
{
    pthread_mutex_lock(&u->lock);
    int seen = find_locked(u, h);
    pthread_mutex_unlock(&u->lock);
    return seen;
}

void used_tickets_add(used_tickets *u, const uint8_t h[16])
{
    pthread_mutex_lock(&u->lock);
    add_locked(u, h, 0);
    pthread_mutex_unlock(&u->lock);
}

int used_tickets_claim(used_tickets *u, const uint8_t *t, size_t len, int64_t now, int64_t keep_s)
{
    uint8_t full[HASP_HASH_MAX];
    if (hasp_hash(HASP_HASH_SHA256, t, len, full) < 0) return 1; /* cannot tell: treat as used */
    int rc = 0;
    pthread_mutex_lock(&u->lock);
    if (find_locked(u, full))
        rc = 1;
    else if (u->count == u->cap && now - u->t[u->next] < keep_s)
        rc = 2; /* full, and the oldest entry has not served its time */
    else
        add_locked(u, full, now);
    pthread_mutex_unlock(&u->lock);
    return rc;
}

int used_tickets_seen(used_tickets *u, const uint8_t *t, size_t len)
{
    return used_tickets_claim(u, t, len, 0, 0) != 0;
}

/* RFC 5246 7.2.2 / 7.2.1: a session that ended in a fatal alert or without
 * close_notify must not be resumed (conn_session_invalidate in conn.c). */
void conn_note_ticket(hasp_conn *c, const uint8_t *t, size_t len)
{
    if (c->ntickets_seen < 6) ticket_hash16(t, len, c->tickets_seen[c->ntickets_seen++]);
}

int conn_ticket_revoked(const hasp_conn *c, const uint8_t *t, size_t len)
{
    if (!c->cfg->revoked_tickets) return 0;
    uint8_t h[16];
    ticket_hash16(t, len, h);
    return used_tickets_has(c->cfg->revoked_tickets, h);
}
