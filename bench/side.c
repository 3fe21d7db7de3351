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
static long pairs[3];
static double t0;
static int instr_mask;
/* What one side_begin/side_end pair adds to a side's time by itself
 * (reading the clock twice, the accounting): measured once, taken off per
 * timed call, so that a library is not charged for how often the bench
 * looks at the clock around its calls. */
static double pair_cost;

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
    pairs[side]++;
    mem_set_owner(SIDE_NONE);
    if (instr_mask & side) CALLGRIND_TOGGLE_COLLECT;
}

void side_reset_times(void)
{
    acc[0] = acc[1] = acc[2] = 0;
    pairs[0] = pairs[1] = pairs[2] = 0;
}

double side_seconds(int side)
{
    double t = acc[side] - (double)pairs[side] * pair_cost;
    return t > acc[side] * 0.5 ? t : acc[side] * 0.5; /* never more than half off */
}

double side_pair_cost(void)
{
    return pair_cost;
}

/* The smallest of several mean costs of an empty timed interval: the
 * least the clock reads add, on a quiet moment of a busy machine. */
void side_calibrate(void)
{
    double best = -1;
    pair_cost = 0;
    for (int r = 0; r < 7; r++) {
        side_reset_times();
        for (int i = 0; i < 20000; i++) {
            side_begin(SIDE_CLIENT);
            side_end(SIDE_CLIENT);
        }
        double m = acc[SIDE_CLIENT] / (double)pairs[SIDE_CLIENT];
        if (best < 0 || m < best) best = m;
    }
    side_reset_times();
    pair_cost = best > 0 ? best : 0;
}
