/* turns.c -- a limit on how many HTTP threads do CPU work at once
 * (turns.h).
 *
 * A counting semaphore, and deliberately not a first-come-first-served
 * line: a turn given back may be taken by a thread that is running at that
 * moment rather than handed to the oldest sleeper. A strict hand-off
 * leaves the turn idle until the sleeper is scheduled, which on a busy
 * host is most of the time (a lock convoy): measured with 256 connections
 * on 2 CPUs, 35-44k requests/s against 47-62k with this. Sleepers are
 * woken in about the order they slept (futex), so the wait stays fair
 * enough: the tail fell with it (docs/benchmarks.md). */
#include "turns.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>

void turns_init(turns *t, int n)
{
    sem_init(&t->free, 0, (unsigned)(n > 0 ? n : 1));
}

void turns_destroy(turns *t)
{
    sem_destroy(&t->free);
}

int turns_take_until(turns *t, const struct timespec *deadline)
{
    int rc;

    while ((rc = sem_clockwait(&t->free, CLOCK_MONOTONIC, deadline)) != 0 &&
           errno == EINTR)
        ;
    return rc == 0 ? 0 : -1;
}

void turns_give(turns *t)
{
    sem_post(&t->free);
}

/* CPUs of a cgroup v2 cpu.max, rounded up; 0: no quota or no file. */
static int quota_cpus(const char *path)
{
    FILE *f = fopen(path, "r");
    long long quota, period;
    int n = 0;

    if (f == NULL)
        return 0;
    if (fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0)
        n = (int)((quota + period - 1) / period);
    fclose(f);
    return n;
}

int turns_cpus(const char *cpu_max)
{
    cpu_set_t set;
    int n = 1, q;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
    q = quota_cpus(cpu_max ? cpu_max : "/sys/fs/cgroup/cpu.max");
    if (q > 0 && q < n)
        n = q;
    return n;
}
