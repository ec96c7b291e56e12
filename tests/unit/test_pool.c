/* test_pool.c -- the bounded worker pool: every job runs once and comes
 * back, a full queue refuses, pool_stop hands back unstarted jobs. Workers
 * wait at a gate the test opens, so every state is reached by waiting on
 * conditions, never by sleeping. */
#include "test.h"

#include "../../uploader/pool.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define LONG_WAIT_MS 10000 /* a bound for waits that should end at once */

/* Jobs that block wait here until the test opens the gate. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int started;  /* jobs that entered the pool_fn */
    int finished; /* jobs that left it */
} gate;

typedef struct job {
    int id;
    int block; /* wait at the gate */
    int runs;  /* under the gate's mutex */
} job;

static gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

static void gate_reset(void)
{
    pthread_mutex_lock(&g.mu);
    g.open = 0;
    g.started = 0;
    g.finished = 0;
    pthread_mutex_unlock(&g.mu);
}

static void gate_open(void)
{
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

/* Waits until *counter reaches n. */
static void gate_wait(const int *counter, int n)
{
    pthread_mutex_lock(&g.mu);
    while (*counter < n)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
}

static int runs_of(const job *j)
{
    int n;

    pthread_mutex_lock(&g.mu);
    n = j->runs;
    pthread_mutex_unlock(&g.mu);
    return n;
}

static void run_job(void *p, void *ctx)
{
    job *j = p;

    (void)ctx;
    pthread_mutex_lock(&g.mu);
    g.started++;
    pthread_cond_broadcast(&g.cv);
    while (j->block && !g.open)
        pthread_cond_wait(&g.cv, &g.mu);
    j->runs++;
    g.finished++;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

/* pool_stop sets its stop flag, then joins the workers: the only moment a
 * test can know the flag is set while a worker is still inside a job. This
 * wrapper (link-time interposition) runs a hook at that moment, once. */
static void (*on_join)(void);

int pthread_join(pthread_t t, void **ret)
{
    static int (*real)(pthread_t, void **);
    void (*hook)(void) = on_join;

    on_join = NULL;
    if (hook)
        hook();
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "pthread_join");
    return real(t, ret);
}

static void pool_runs_every_job_once(void)
{
    enum { N = 500 };
    static job jobs[N];
    int seen[N] = {0};
    int back = 0;
    pool *p;

    gate_reset();
    p = pool_new(4, 8, run_job, NULL);
    ASSERT(p != NULL);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){.id = i};
        while (pool_try_submit(p, &jobs[i]) < 0) {
            job *d = pool_take_done(p, LONG_WAIT_MS);
            ASSERT(d != NULL);
            seen[d->id]++;
            back++;
        }
    }
    while (back < N) {
        job *d = pool_take_done(p, LONG_WAIT_MS);
        ASSERT(d != NULL);
        seen[d->id]++;
        back++;
    }
    ASSERT(pool_take_done(p, 0) == NULL);
    pool_free(p);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(seen[i], 1);
        ASSERT_EQ(jobs[i].runs, 1);
    }
}

/* 2 workers held at the gate, a queue of 3: the sixth job is refused. */
static void pool_full_queue_refuses(void)
{
    job jobs[6];
    pool *p;

    gate_reset();
    for (int i = 0; i < 6; i++)
        jobs[i] = (job){.id = i, .block = 1};
    p = pool_new(2, 3, run_job, NULL);
    ASSERT(p != NULL);
    ASSERT_EQ(pool_try_submit(p, &jobs[0]), 0);
    ASSERT_EQ(pool_try_submit(p, &jobs[1]), 0);
    gate_wait(&g.started, 2);
    ASSERT_EQ(pool_busy(p), 2);
    ASSERT_EQ(pool_queued(p), 0);
    for (int i = 2; i < 5; i++)
        ASSERT_EQ(pool_try_submit(p, &jobs[i]), 0);
    ASSERT_EQ(pool_queued(p), 3);
    ASSERT_EQ(pool_try_submit(p, &jobs[5]), -1);
    ASSERT_EQ(pool_queued(p), 3);
    gate_open();
    for (int i = 0; i < 5; i++)
        ASSERT(pool_take_done(p, LONG_WAIT_MS) != NULL);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(runs_of(&jobs[i]), 1);
    ASSERT_EQ(runs_of(&jobs[5]), 0);
    /* Drained, the queue takes jobs again. */
    ASSERT_EQ(pool_try_submit(p, &jobs[5]), 0);
    ASSERT(pool_take_done(p, LONG_WAIT_MS) == &jobs[5]);
    ASSERT_EQ(runs_of(&jobs[5]), 1);
    pool_free(p);
}

/* Finished jobs nobody takes count too: the done list is bounded. */
static void pool_undrained_done_list_refuses(void)
{
    job jobs[4];
    pool *p;

    gate_reset();
    for (int i = 0; i < 4; i++)
        jobs[i] = (job){.id = i, .block = 1};
    p = pool_new(1, 2, run_job, NULL);
    ASSERT(p != NULL);
    ASSERT_EQ(pool_try_submit(p, &jobs[0]), 0);
    gate_wait(&g.started, 1);
    ASSERT_EQ(pool_try_submit(p, &jobs[1]), 0);
    ASSERT_EQ(pool_try_submit(p, &jobs[2]), 0);
    gate_open();
    gate_wait(&g.finished, 3);
    ASSERT_EQ(pool_try_submit(p, &jobs[3]), -1);
    ASSERT(pool_take_done(p, LONG_WAIT_MS) == &jobs[0]);
    ASSERT_EQ(pool_try_submit(p, &jobs[3]), 0);
    ASSERT(pool_take_done(p, LONG_WAIT_MS) == &jobs[1]);
    ASSERT(pool_take_done(p, LONG_WAIT_MS) == &jobs[2]);
    ASSERT(pool_take_done(p, LONG_WAIT_MS) == &jobs[3]);
    pool_free(p);
}

/* The worker is inside A when the pool stops; B and C were queued behind
 * it. A finishes, B and C come back never run, then nothing. */
static void pool_stop_returns_unstarted_jobs_untouched(void)
{
    job a = {.id = 0, .block = 1};
    job b = {.id = 1, .block = 1};
    job c = {.id = 2, .block = 1};
    pool *p;

    gate_reset();
    p = pool_new(1, 4, run_job, NULL);
    ASSERT(p != NULL);
    ASSERT_EQ(pool_try_submit(p, &a), 0);
    gate_wait(&g.started, 1);
    ASSERT_EQ(pool_try_submit(p, &b), 0);
    ASSERT_EQ(pool_try_submit(p, &c), 0);
    on_join = gate_open;
    pool_stop(p);
    ASSERT(on_join == NULL);
    ASSERT(pool_take_done(p, 0) == &a);
    ASSERT(pool_take_done(p, 0) == &b);
    ASSERT(pool_take_done(p, 0) == &c);
    ASSERT(pool_take_done(p, 0) == NULL);
    ASSERT_EQ(a.runs, 1);
    ASSERT_EQ(b.runs, 0);
    ASSERT_EQ(c.runs, 0);
    ASSERT_EQ(g.started, 1);
    ASSERT_EQ(pool_queued(p), 0);
    ASSERT_EQ(pool_try_submit(p, &b), -1);
    pool_stop(p); /* again: nothing to do */
    pool_free(p);
}

static void pool_stop_idle_pool(void)
{
    pool *p;

    gate_reset();
    p = pool_new(3, 2, run_job, NULL);
    ASSERT(p != NULL);
    pool_stop(p);
    ASSERT(pool_take_done(p, 0) == NULL);
    ASSERT_EQ(pool_busy(p), 0);
    pool_free(p);
    pool_free(NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pool_take_done_times_out(void)
{
    int64_t t0, waited;
    pool *p;

    gate_reset();
    p = pool_new(2, 2, run_job, NULL);
    ASSERT(p != NULL);
    ASSERT(pool_take_done(p, 0) == NULL);
    t0 = mono_ms();
    ASSERT(pool_take_done(p, 200) == NULL);
    waited = mono_ms() - t0;
    pool_free(p);
    if (waited < 150 || waited > LONG_WAIT_MS)
        TEST_FAIL_("waited %lld ms for a 200 ms timeout", (long long)waited);
}

/* A job that finishes while the caller waits is returned at once. */
static void pool_take_done_waits_for_a_job(void)
{
    job a = {.id = 0, .block = 1};
    pool *p;

    gate_reset();
    p = pool_new(1, 1, run_job, NULL);
    ASSERT(p != NULL);
    ASSERT_EQ(pool_try_submit(p, &a), 0);
    gate_wait(&g.started, 1);
    ASSERT(pool_take_done(p, 0) == NULL);
    gate_open();
    ASSERT(pool_take_done(p, LONG_WAIT_MS) == &a);
    ASSERT_EQ(runs_of(&a), 1);
    pool_free(p);
}

TEST_MAIN(T(pool_runs_every_job_once), T(pool_full_queue_refuses),
          T(pool_undrained_done_list_refuses),
          T(pool_stop_returns_unstarted_jobs_untouched), T(pool_stop_idle_pool),
          T(pool_take_done_times_out), T(pool_take_done_waits_for_a_job))
