/* test_turns.c -- the limit on HTTP threads doing CPU work at once: never
 * more holders than turns, every taker served, and the CPU count read
 * from the affinity mask and a cgroup v2 cpu.max. */
#include "test.h"

#include "../../ingest-api/turns.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct crowd {
    turns t;
    atomic_int holding;
    atomic_int most;
    atomic_int served;
    struct timespec forever;
} crowd;

static void *worker(void *arg)
{
    crowd *c = arg;

    for (int i = 0; i < 200; i++) {
        int now;
        int most;

        if (turns_take_until(&c->t, &c->forever) != 0)
            continue; /* not served: crowd_most sees it */
        now = atomic_fetch_add(&c->holding, 1) + 1;
        most = atomic_load(&c->most);
        while (now > most &&
               !atomic_compare_exchange_weak(&c->most, &most, now))
            ;
        sched_yield(); /* let the others try while this one holds a turn */
        atomic_fetch_sub(&c->holding, 1);
        atomic_fetch_add(&c->served, 1);
        turns_give(&c->t);
    }
    return NULL;
}

static int crowd_most(int nturns, int nthreads)
{
    crowd c;
    pthread_t th[16];

    turns_init(&c.t, nturns);
    clock_gettime(CLOCK_MONOTONIC, &c.forever);
    c.forever.tv_sec += 3600;
    atomic_init(&c.holding, 0);
    atomic_init(&c.most, 0);
    atomic_init(&c.served, 0);
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, worker, &c);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    turns_destroy(&c.t);
    if (atomic_load(&c.served) != nthreads * 200)
        return -1;
    return atomic_load(&c.most);
}

static void turns_never_more_holders_than_turns(void)
{
    int most = crowd_most(1, 12);

    ASSERT_EQ(most, 1);
    most = crowd_most(3, 12);
    ASSERT(most >= 1 && most <= 3);
}

static void turns_zero_is_taken_as_one(void)
{
    ASSERT_EQ(crowd_most(0, 8), 1);
}

/* A wait with a deadline: none while a turn is free, the deadline kept
 * while none is, and a turn given back is taken. */
static void turns_take_until_keeps_its_deadline(void)
{
    turns t;
    struct timespec dl;

    turns_init(&t, 1);
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 5;
    ASSERT_EQ(turns_take_until(&t, &dl), 0);
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += 20 * 1000 * 1000;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    ASSERT_EQ(turns_take_until(&t, &dl), -1);
    turns_give(&t);
    ASSERT_EQ(turns_take_until(&t, &dl), 0); /* past, but a turn is free */
    turns_give(&t);
    turns_destroy(&t);
}

static int affinity_cpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return -1;
    return CPU_COUNT(&set);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void turns_cpus_follow_affinity_and_quota(void)
{
    char path[] = "/tmp/millrace-cpumax-XXXXXX";
    int fd = mkstemp(path);
    int cpus = affinity_cpus();

    ASSERT(fd >= 0 && cpus >= 1);
    close(fd);
    /* No quota, and no file: the affinity mask. */
    write_file(path, "max 100000\n");
    ASSERT_EQ(turns_cpus(path), cpus);
    /* A quota of half a CPU is one CPU; of 1.5 CPUs, two (if allowed). */
    write_file(path, "50000 100000\n");
    ASSERT_EQ(turns_cpus(path), 1);
    write_file(path, "150000 100000\n");
    ASSERT_EQ(turns_cpus(path), cpus < 2 ? cpus : 2);
    /* A quota above the mask leaves the mask. */
    write_file(path, "100000000 100000\n");
    ASSERT_EQ(turns_cpus(path), cpus);
    write_file(path, "garbage\n");
    ASSERT_EQ(turns_cpus(path), cpus);
    unlink(path);
    ASSERT_EQ(turns_cpus(path), cpus);
    ASSERT(turns_cpus(NULL) >= 1);
}

TEST_MAIN(T(turns_never_more_holders_than_turns), T(turns_zero_is_taken_as_one),
          T(turns_take_until_keeps_its_deadline),
          T(turns_cpus_follow_affinity_and_quota))
