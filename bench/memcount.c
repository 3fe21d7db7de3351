/* The counting allocator. Every heap block that either library asks for
 * while a side is "owner" is recorded with its requested size in an
 * address-keyed table, so a free (whenever and by whomever) subtracts it
 * from the side that allocated it. The blocks come from three doors, all
 * ending here:
 *   - libcrypto and libssl: CRYPTO_set_mem_functions (OPENSSL_malloc...);
 *     libcrypto work done on hasp's behalf counts for hasp, as it should;
 *   - hasp's own allocator hook, hasp_set_allocator;
 *   - malloc/calloc/realloc/free called directly by the code linked into
 *     this binary (libhasp.a and the bench), via -Wl,--wrap=malloc,...: a
 *     safety net until every allocation in hasp goes through its hook.
 * The real allocator is glibc's, reached as __real_malloc etc. */
#define _GNU_SOURCE /* dladdr */
#include <openssl/crypto.h>

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "hasp.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

#define SLOT_BITS 18
#define SLOTS (1u << SLOT_BITS)
#define MASK (SLOTS - 1)

typedef struct slot {
    uintptr_t p; /* 0: empty */
    size_t size;
    int owner;
    /* Where it was allocated: OpenSSL's file:line, or the return address
     * of the malloc call in code linked into this binary. */
    const char *file;
    int line;
    const void *ret;
} slot;

static slot tab[SLOTS];
static size_t ntab;
static int tracking, owner, overflow;
static size_t live[3], peak[3], idle[3], hs_peak[3];

static size_t slot_hash(uintptr_t p)
{
    return (size_t)(((uint64_t)(p >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - SLOT_BITS));
}

static const char *site_file;
static int site_line;
static const void *site_ret;

static void tab_put(uintptr_t p, size_t n, int o)
{
    if (ntab >= SLOTS / 4 * 3) {
        overflow = 1;
        return;
    }
    size_t i = slot_hash(p);
    while (tab[i].p != 0)
        i = (i + 1) & MASK;
    tab[i].p = p;
    tab[i].size = n;
    tab[i].owner = o;
    tab[i].file = site_file;
    tab[i].line = site_line;
    tab[i].ret = site_ret;
    ntab++;
    live[o] += n;
    if (live[o] > peak[o]) peak[o] = live[o];
}

/* Remove p if tracked: 1 and its size and owner, else 0. Linear probing
 * with backward-shift deletion (no tombstones). */
static int tab_take(uintptr_t p, size_t *n, int *o)
{
    size_t i = slot_hash(p);
    while (tab[i].p != p) {
        if (tab[i].p == 0) return 0;
        i = (i + 1) & MASK;
    }
    *n = tab[i].size;
    *o = tab[i].owner;
    live[*o] -= *n;
    ntab--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & MASK;
        if (tab[j].p == 0) break;
        size_t k = slot_hash(tab[j].p);
        /* The entry at j may stay if its home k lies cyclically in (i, j]. */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        tab[i] = tab[j];
        i = j;
    }
    tab[i].p = 0;
    return 1;
}

void *mem_malloc(size_t n)
{
    void *p = __real_malloc(n);
    if (p && tracking && owner) tab_put((uintptr_t)p, n, owner);
    return p;
}

static void *mem_calloc(size_t n, size_t m)
{
    void *p = __real_calloc(n, m);
    if (p && tracking && owner) tab_put((uintptr_t)p, n * m, owner);
    return p;
}

void mem_free(void *p)
{
    size_t n;
    int o;
    if (p && ntab) tab_take((uintptr_t)p, &n, &o);
    __real_free(p);
}

void *mem_realloc(void *p, size_t n)
{
    if (p == NULL) return mem_malloc(n);
    if (n == 0) {
        mem_free(p);
        return NULL;
    }
    size_t on = 0;
    int oo = 0;
    int had = ntab && tab_take((uintptr_t)p, &on, &oo);
    void *q = __real_realloc(p, n);
    if (q == NULL) {
        if (had) tab_put((uintptr_t)p, on, oo); /* p is still valid */
        return NULL;
    }
    if (had)
        tab_put((uintptr_t)q, n, oo); /* a block keeps its owner */
    else if (tracking && owner)
        tab_put((uintptr_t)q, n, owner);
    return q;
}

#define SITE(f, l, r) (site_file = (f), site_line = (l), site_ret = (r))

void *__wrap_malloc(size_t n)
{
    SITE(NULL, 0, __builtin_return_address(0));
    return mem_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    SITE(NULL, 0, __builtin_return_address(0));
    return mem_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    SITE(NULL, 0, __builtin_return_address(0));
    return mem_realloc(p, n);
}
void __wrap_free(void *p)
{
    mem_free(p);
}

static void *crypto_malloc(size_t n, const char *file, int line)
{
    SITE(file, line, __builtin_return_address(0));
    return mem_malloc(n);
}
static void *crypto_realloc(void *p, size_t n, const char *file, int line)
{
    SITE(file, line, __builtin_return_address(0));
    return mem_realloc(p, n);
}

/* hasp_set_allocator's entry points: the site is hasp_malloc's caller's
 * caller, which the return address does not reach; it reads "hasp". */
static void *hook_malloc(size_t n)
{
    SITE("(hasp_malloc)", 0, __builtin_return_address(0));
    return mem_malloc(n);
}
static void *hook_realloc(void *p, size_t n)
{
    SITE("(hasp_realloc)", 0, __builtin_return_address(0));
    return mem_realloc(p, n);
}
static void crypto_free(void *p, const char *file, int line)
{
    mem_free(p);
}

int mem_install(void)
{
    /* Must come before libcrypto's first allocation. */
    if (!CRYPTO_set_mem_functions(crypto_malloc, crypto_realloc, crypto_free)) return -1;
    hasp_set_allocator(hook_malloc, hook_realloc, mem_free);
    return 0;
}

void mem_set_owner(int side)
{
    owner = side;
}

void mem_track_start(void)
{
    memset(tab, 0, sizeof(tab));
    ntab = 0;
    overflow = 0;
    memset(live, 0, sizeof(live));
    memset(peak, 0, sizeof(peak));
    memset(idle, 0, sizeof(idle));
    memset(hs_peak, 0, sizeof(hs_peak));
    tracking = 1;
}

void mem_track_stop(void)
{
    tracking = 0;
}

size_t mem_live(int side)
{
    return live[side];
}

size_t mem_peak(int side)
{
    return hs_peak[side];
}

void (*mem_idle_hook)(void);

void mem_mark_idle(void)
{
    idle[SIDE_CLIENT] = live[SIDE_CLIENT];
    idle[SIDE_SERVER] = live[SIDE_SERVER];
    hs_peak[SIDE_CLIENT] = peak[SIDE_CLIENT];
    hs_peak[SIDE_SERVER] = peak[SIDE_SERVER];
    if (tracking && mem_idle_hook) mem_idle_hook();
}

size_t mem_idle(int side)
{
    return idle[side];
}

int mem_overflowed(void)
{
    return overflow;
}

/* --memdump: the live blocks of one side, largest first, grouped by
 * allocation site; addresses in this binary are resolved with addr2line. */
typedef struct site_sum {
    const char *file;
    int line;
    const void *ret;
    size_t bytes, blocks;
} site_sum;

static int cmp_site(const void *a, const void *b)
{
    const site_sum *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static void print_site(FILE *out, const site_sum *s)
{
    char where[512] = "?";
    if (s->file && s->line) {
        snprintf(where, sizeof(where), "%s:%d", s->file, s->line);
    } else {
        Dl_info info;
        if (s->ret && dladdr(s->ret, &info) && info.dli_fname) {
            uintptr_t off = (uintptr_t)s->ret - (uintptr_t)info.dli_fbase - 1;
            char cmd[1024];
            snprintf(cmd, sizeof(cmd), "addr2line -f -s -e '%s' 0x%lx 2>/dev/null", info.dli_fname,
                     (unsigned long)off);
            FILE *p = popen(cmd, "r");
            char fn[256] = "", loc[256] = "";
            if (p && fgets(fn, sizeof(fn), p) && fgets(loc, sizeof(loc), p)) {
                fn[strcspn(fn, "\n")] = 0;
                loc[strcspn(loc, " \n")] = 0;
                snprintf(where, sizeof(where), "%s %s%s", loc, fn, s->file ? s->file : "");
            } else {
                snprintf(where, sizeof(where), "%s+0x%lx%s", info.dli_fname, (unsigned long)off,
                         s->file ? s->file : "");
            }
            if (p) pclose(p);
        }
    }
    fprintf(out, "    %8zu bytes %4zu blocks  %s\n", s->bytes, s->blocks, where);
}

void mem_dump(FILE *out, int side)
{
    static site_sum sums[4096];
    size_t n = 0, total = 0, blocks = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        const slot *t = &tab[i];
        if (!t->p || t->owner != side) continue;
        total += t->size;
        blocks++;
        size_t j = 0;
        while (j < n &&
               !(sums[j].file == t->file && sums[j].line == t->line && sums[j].ret == t->ret))
            j++;
        if (j == n) {
            if (n == sizeof(sums) / sizeof(sums[0])) continue;
            sums[n] = (site_sum){t->file, t->line, t->ret, 0, 0};
            n++;
        }
        sums[j].bytes += t->size;
        sums[j].blocks++;
    }
    qsort(sums, n, sizeof(sums[0]), cmp_site);
    fprintf(out, "  %zu bytes in %zu blocks:\n", total, blocks);
    for (size_t j = 0; j < n; j++)
        print_site(out, &sums[j]);
}
