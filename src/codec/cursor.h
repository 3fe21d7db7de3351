/* The bounded cursor: the only place that does pointer arithmetic on wire
 * data. A reader never runs past its end; a writer grows (or fails) and
 * back-patches vector lengths. Every failure is HASP_ERR_DECODE for
 * readers and HASP_ERR_NOMEM / HASP_ERR_INTERNAL for writers. */
#ifndef HASP_CURSOR_H
#define HASP_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../err.h"

typedef struct hasp_rd {
    const uint8_t *p;
    size_t len; /* bytes left */
} hasp_rd;

static inline hasp_rd hasp_rd_init(const uint8_t *p, size_t len)
{
    hasp_rd r = {p, len};
    return r;
}

static inline size_t rd_left(const hasp_rd *r)
{
    return r->len;
}

static inline int rd_u8(hasp_rd *r, uint8_t *v)
{
    *v = 0;
    ENSURE(r->len >= 1, HASP_ERR_DECODE);
    *v = r->p[0];
    r->p += 1;
    r->len -= 1;
    return 0;
}

static inline int rd_u16(hasp_rd *r, uint16_t *v)
{
    *v = 0;
    ENSURE(r->len >= 2, HASP_ERR_DECODE);
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    r->len -= 2;
    return 0;
}

static inline int rd_u24(hasp_rd *r, uint32_t *v)
{
    *v = 0;
    ENSURE(r->len >= 3, HASP_ERR_DECODE);
    *v = ((uint32_t)r->p[0] << 16) | ((uint32_t)r->p[1] << 8) | r->p[2];
    r->p += 3;
    r->len -= 3;
    return 0;
}

static inline int rd_u32(hasp_rd *r, uint32_t *v)
{
    *v = 0;
    ENSURE(r->len >= 4, HASP_ERR_DECODE);
    *v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) | r->p[3];
    r->p += 4;
    r->len -= 4;
    return 0;
}

/* A view of the next n bytes. */
static inline int rd_bytes(hasp_rd *r, size_t n, const uint8_t **out)
{
    *out = NULL;
    ENSURE(r->len >= n, HASP_ERR_DECODE);
    *out = r->p;
    r->p += n;
    r->len -= n;
    return 0;
}

static inline int rd_copy(hasp_rd *r, void *out, size_t n)
{
    const uint8_t *p;
    GUARD(rd_bytes(r, n, &p));
    memcpy(out, p, n);
    return 0;
}

/* A sub-cursor over a vector with a 1-, 2- or 3-byte length prefix. */
static inline int rd_vec(hasp_rd *r, int lenbytes, hasp_rd *sub)
{
    uint32_t n = 0;
    sub->p = NULL;
    sub->len = 0;
    if (lenbytes == 1) {
        uint8_t v;
        GUARD(rd_u8(r, &v));
        n = v;
    } else if (lenbytes == 2) {
        uint16_t v;
        GUARD(rd_u16(r, &v));
        n = v;
    } else {
        GUARD(rd_u24(r, &n));
    }
    GUARD(rd_bytes(r, n, &sub->p));
    sub->len = n;
    return 0;
}

/* Like rd_vec, with bounds on the vector's length (RFC <min..max>). */
static inline int rd_vec_bounded(hasp_rd *r, int lenbytes, size_t min, size_t max, hasp_rd *sub)
{
    GUARD(rd_vec(r, lenbytes, sub));
    ENSURE(sub->len >= min && sub->len <= max, HASP_ERR_DECODE);
    return 0;
}

static inline int rd_expect_empty(const hasp_rd *r)
{
    ENSURE_MSG(r->len == 0, HASP_ERR_DECODE, "the peer sent %zu unexpected trailing bytes", r->len);
    return 0;
}

static inline int rd_skip(hasp_rd *r, size_t n)
{
    const uint8_t *p;
    return rd_bytes(r, n, &p);
}

/* ------------------------------------------------------------------ writer */

typedef struct hasp_wr {
    uint8_t *p;
    size_t len;   /* bytes written */
    size_t cap;   /* capacity */
    int growable; /* realloc when full; else fixed */
} hasp_wr;

/* A writer over a fixed buffer. */
static inline hasp_wr hasp_wr_fixed(uint8_t *p, size_t cap)
{
    hasp_wr w = {p, 0, cap, 0};
    return w;
}
/* A growable writer (starts empty; free with hasp_wr_free). */
static inline hasp_wr hasp_wr_dyn(void)
{
    hasp_wr w = {NULL, 0, 0, 1};
    return w;
}

int wr_reserve(hasp_wr *w, size_t n);
void hasp_wr_free(hasp_wr *w);
/* Wipes before freeing. */
void hasp_wr_free_secret(hasp_wr *w);

static inline int wr_u8(hasp_wr *w, uint8_t v)
{
    GUARD(wr_reserve(w, 1));
    w->p[w->len++] = v;
    return 0;
}

static inline int wr_u16(hasp_wr *w, uint16_t v)
{
    GUARD(wr_reserve(w, 2));
    w->p[w->len++] = (uint8_t)(v >> 8);
    w->p[w->len++] = (uint8_t)v;
    return 0;
}

static inline int wr_u24(hasp_wr *w, uint32_t v)
{
    GUARD(wr_reserve(w, 3));
    w->p[w->len++] = (uint8_t)(v >> 16);
    w->p[w->len++] = (uint8_t)(v >> 8);
    w->p[w->len++] = (uint8_t)v;
    return 0;
}

static inline int wr_u32(hasp_wr *w, uint32_t v)
{
    GUARD(wr_reserve(w, 4));
    w->p[w->len++] = (uint8_t)(v >> 24);
    w->p[w->len++] = (uint8_t)(v >> 16);
    w->p[w->len++] = (uint8_t)(v >> 8);
    w->p[w->len++] = (uint8_t)v;
    return 0;
}

static inline int wr_bytes(hasp_wr *w, const void *p, size_t n)
{
    GUARD(wr_reserve(w, n));
    if (n) memcpy(w->p + w->len, p, n);
    w->len += n;
    return 0;
}

/* Reserve n bytes and return a pointer to them (for writing in place). */
static inline int wr_space(hasp_wr *w, size_t n, uint8_t **out)
{
    GUARD(wr_reserve(w, n));
    *out = w->p + w->len;
    w->len += n;
    return 0;
}

/* Begin a vector with a lenbytes-byte length prefix; *mark remembers where. */
static inline int wr_vec_begin(hasp_wr *w, int lenbytes, size_t *mark)
{
    GUARD(wr_reserve(w, (size_t)lenbytes));
    *mark = w->len;
    memset(w->p + w->len, 0, (size_t)lenbytes);
    w->len += (size_t)lenbytes;
    return 0;
}

/* Back-patch the length of the vector begun at mark. */
int wr_vec_end(hasp_wr *w, int lenbytes, size_t mark);

/* Write a vector with a length prefix in one call. */
static inline int wr_vec(hasp_wr *w, int lenbytes, const void *p, size_t n)
{
    size_t m;
    GUARD(wr_vec_begin(w, lenbytes, &m));
    GUARD(wr_bytes(w, p, n));
    return wr_vec_end(w, lenbytes, m);
}

#endif
