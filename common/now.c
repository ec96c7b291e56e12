/* now.c -- the clocks both daemons read: wall-clock and monotonic
 * milliseconds, and deadlines for pthread_cond_timedwait. */
#include "now.h"

#define NS_PER_S 1000000000L

long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long now_mono_ms(void)
{
    return now_mono_us() / 1000;
}

long long now_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec now_deadline(clockid_t clk, long long ms)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= NS_PER_S) {
        ts.tv_sec++;
        ts.tv_nsec -= NS_PER_S;
    }
    return ts;
}
