/* The bounded cursors every parser and writer uses (cursor.h): hasp_rd reads
 * within its bounds and fails instead of overrunning; hasp_wr writes into a
 * growing (or fixed) buffer, with length-prefixed vectors. */
#include "../alloc.h"
#include "cursor.h"

#include <stdlib.h>

int wr_reserve(hasp_wr *w, size_t n)
{
    if (w->cap - w->len >= n) return 0;
    ENSURE_MSG(w->growable, HASP_ERR_INTERNAL, "output buffer too small (%zu more bytes needed)",
               n - (w->cap - w->len));
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap - w->len < n) {
        ENSURE(ncap < ((size_t)1 << 30), HASP_ERR_NOMEM);
        ncap *= 2;
    }
    uint8_t *np = hasp_realloc(w->p, ncap);
    ENSURE(np != NULL, HASP_ERR_NOMEM);
    w->p = np;
    w->cap = ncap;
    return 0;
}

void hasp_wr_free(hasp_wr *w)
{
    if (w->growable) hasp_free(w->p);
    w->p = NULL;
    w->len = w->cap = 0;
}

void hasp_wr_free_secret(hasp_wr *w)
{
    if (w->p) hasp_wipe(w->p, w->cap);
    hasp_wr_free(w);
}

int wr_vec_end(hasp_wr *w, int lenbytes, size_t mark)
{
    size_t n = w->len - mark - (size_t)lenbytes;
    ENSURE(lenbytes >= 1 && lenbytes <= 3, HASP_ERR_INTERNAL);
    ENSURE_MSG(n < ((size_t)1 << (8 * lenbytes)), HASP_ERR_INTERNAL,
               "vector of %zu bytes does not fit a %d-byte length", n, lenbytes);
    for (int i = lenbytes - 1; i >= 0; i--) {
        w->p[mark + (size_t)i] = (uint8_t)n;
        n >>= 8;
    }
    return 0;
}
