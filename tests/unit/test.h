/* A minimal test harness. Each test program prints "ok - NAME" or
 * "not ok - NAME: WHY" per check and exits non-zero if any failed;
 * tests/run.sh counts the lines across all programs. */
#ifndef HASP_TEST_H
#define HASP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_passed++;                                                                         \
            printf("ok - ");                                                                       \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        } else {                                                                                   \
            test_failed++;                                                                         \
            printf("not ok - ");                                                                   \
            printf(__VA_ARGS__);                                                                   \
            printf(" (%s:%d: %s)\n", __FILE__, __LINE__, #cond);                                   \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define TEST_DONE()                                                                                \
    do {                                                                                           \
        fprintf(stderr, "%s: %d passed, %d failed\n", __FILE__, test_passed, test_failed);         \
        return test_failed ? 1 : 0;                                                                \
    } while (0)

/* Hex helpers for known-answer tests. */
static inline size_t test_unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = 0;
    while (hex[0] && hex[1] && n < cap) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1) break;
        out[n++] = (unsigned char)v;
        hex += 2;
    }
    return n;
}

#endif
