/* hasp's allocator: every heap allocation in the library goes through
 * these, so a caller can count or redirect them with hasp_set_allocator(). */
#ifndef HASP_ALLOC_H
#define HASP_ALLOC_H

#include <stddef.h>

void *hasp_malloc(size_t n);
void *hasp_calloc(size_t n, size_t size);
void *hasp_realloc(void *p, size_t n);
void hasp_free(void *p);

#endif
