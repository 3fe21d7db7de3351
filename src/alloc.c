/* The allocator hook. The defaults are the C library's; a caller may
 * install its own once, before the first config or connection exists
 * (memory from one allocator must not be freed by another). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hasp.h"
#include "alloc.h"

static void *(*alloc_malloc)(size_t) = malloc;
static void *(*alloc_realloc)(void *, size_t) = realloc;
static void (*alloc_free)(void *) = free;

void hasp_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                        void (*free_fn)(void *))
{
    if (malloc_fn == NULL || realloc_fn == NULL || free_fn == NULL) {
        alloc_malloc = malloc;
        alloc_realloc = realloc;
        alloc_free = free;
        return;
    }
    alloc_malloc = malloc_fn;
    alloc_realloc = realloc_fn;
    alloc_free = free_fn;
}

void *hasp_malloc(size_t n)
{
    return alloc_malloc(n ? n : 1);
}

void *hasp_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    size_t total = n * size;
    void *p = alloc_malloc(total ? total : 1);
    if (p) memset(p, 0, total);
    return p;
}

void *hasp_realloc(void *p, size_t n)
{
    return alloc_realloc(p, n ? n : 1);
}

void hasp_free(void *p)
{
    if (p) alloc_free(p);
}
