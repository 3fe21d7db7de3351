/* One error convention: functions return int, 0 or more on success, a
 * negative HASP_ERR_* on failure. ENSURE / GUARD record the code, file:line
 * and a sentence in a thread-local slot and return early. */
#ifndef HASP_ERR_H
#define HASP_ERR_H

#include "hasp.h"

typedef struct hasp_errinfo {
    int code;
    const char *file;
    int line;
    char msg[512];
} hasp_errinfo;

/* The last error recorded on this thread. */
hasp_errinfo *hasp_err_last(void);
/* Record an error and return code. fmt may be NULL (the code's default
 * sentence is used). */
int hasp_err_set(int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void hasp_err_clear(void);
/* The default sentence for a code. */
const char *hasp_err_default_msg(int code);

#define FAIL(code, ...) return hasp_err_set((code), __FILE__, __LINE__, __VA_ARGS__)
#define ENSURE(cond, code)                                                                         \
    do {                                                                                           \
        if (!(cond)) return hasp_err_set((code), __FILE__, __LINE__, NULL);                        \
    } while (0)
#define ENSURE_MSG(cond, code, ...)                                                                \
    do {                                                                                           \
        if (!(cond)) return hasp_err_set((code), __FILE__, __LINE__, __VA_ARGS__);                 \
    } while (0)
#define GUARD(x)                                                                                   \
    do {                                                                                           \
        int guard_rc_ = (x);                                                                       \
        if (guard_rc_ < 0) return guard_rc_;                                                       \
    } while (0)
/* For functions returning a pointer: NULL on failure. */
#define ENSURE_PTR(cond, code)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            hasp_err_set((code), __FILE__, __LINE__, NULL);                                        \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

/* Wipe memory that held secrets. */
void hasp_wipe(void *p, size_t n);
/* Constant-time comparison: 0 when equal. */
int hasp_ct_memcmp(const void *a, const void *b, size_t n);

#endif
