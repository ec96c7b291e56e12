/* turns.h -- a limit on how many HTTP threads do CPU work at once.
 *
 * civetweb serves each connection on its own thread, so under load there
 * are as many runnable threads as busy connections. On a small machine
 * hundreds of runnable threads starve the few that drain the producer
 * queue (librdkafka's), and each request waits for the scheduler behind
 * all the others, in no order. A request takes a turn for its CPU work
 * (validating, producing) and gives it back before anything that waits on
 * the network or on Kafka, so a slow client or a slow broker never holds
 * one. Threads without a turn sleep until one is given back. */
#ifndef MILLRACE_TURNS_H
#define MILLRACE_TURNS_H

#include <semaphore.h>
#include <time.h>

typedef struct turns {
    sem_t free;
} turns;

/* n >= 1 turns (less is taken as 1). */
void turns_init(turns *t, int n);
void turns_destroy(turns *t);

/* Blocks until the caller holds a turn or deadline (CLOCK_MONOTONIC)
 * passes: 0 with a turn held, -1 without one. */
int turns_take_until(turns *t, const struct timespec *deadline);
void turns_give(turns *t);

/* The CPUs this process may use: its affinity mask, capped by the cgroup
 * v2 CPU quota in cpu_max (a cpu.max file: "QUOTA PERIOD" or "max
 * PERIOD"; NULL: /sys/fs/cgroup/cpu.max), rounded up. At least 1. */
int turns_cpus(const char *cpu_max);

#endif
