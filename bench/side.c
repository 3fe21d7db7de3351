/* Per-side accounting: time, heap owner and callgrind collection. */
#include <time.h>

#include "bench.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_TOGGLE_COLLECT
#endif

static double acc[3];
static double t0;
static int instr_mask;

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void side_set_instr(int mask)
{
    instr_mask = mask;
}

void side_begin(int side)
{
    if (instr_mask & side) CALLGRIND_TOGGLE_COLLECT;
    mem_set_owner(side);
    t0 = now_seconds();
}

void side_end(int side)
{
    acc[side] += now_seconds() - t0;
    mem_set_owner(SIDE_NONE);
    if (instr_mask & side) CALLGRIND_TOGGLE_COLLECT;
}

void side_reset_times(void)
{
    acc[0] = acc[1] = acc[2] = 0;
}

double side_seconds(int side)
{
    return acc[side];
}
