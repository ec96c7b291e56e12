/* now.h -- the clocks both daemons read: wall-clock and monotonic
 * milliseconds, and deadlines for pthread_cond_timedwait. */
#ifndef MILLRACE_NOW_H
#define MILLRACE_NOW_H

#include <time.h>

/* Milliseconds since the epoch (wall clock: moves with NTP). */
long long now_ms(void);

/* Monotonic milliseconds and microseconds, for durations and timeouts. */
long long now_mono_ms(void);
long long now_mono_us(void);

/* The time ms from now on clock clk (CLOCK_REALTIME for a condition
 * variable with default attributes, CLOCK_MONOTONIC for one set to it). */
struct timespec now_deadline(clockid_t clk, long long ms);

#endif
