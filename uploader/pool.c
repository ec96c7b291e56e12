/* pool.c -- the article's worker pool, bounded: a fixed number of threads
 * take jobs from a queue of fixed capacity; finished jobs come back on a
 * done list for the consumer thread. A full queue is refused, never grown. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "now.h"

/* A subtask of pool_run_parts, on the parts list. */
typedef struct part_task {
    void (*fn)(void *);
    void *arg;
    int *remaining; /* of its caller's group */
} part_task;

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t part_cv; /* a subtask finished */
    part_task *parts;       /* subtasks waiting, run first */
    int nparts, parts_cap;
    pthread_cond_t work_cv; /* a job was queued, or stop */
    pthread_cond_t done_cv; /* a job finished */
    void **ring;            /* the bounded queue */
    int cap, head, count;
    void **done; /* finished jobs: at most cap + workers */
    int done_count, done_cap;
    pthread_t *threads;
    int workers, started, busy;
    int stopping;
    pool_fn fn;
    void *ctx;
};

static void push_done(pool *p, void *job)
{
    p->done[p->done_count++] = job;
    pthread_cond_signal(&p->done_cv);
}

/* Runs one waiting subtask; called and returns with mu held. */
static void run_one_part(pool *p)
{
    part_task t = p->parts[--p->nparts];

    pthread_mutex_unlock(&p->mu);
    t.fn(t.arg);
    pthread_mutex_lock(&p->mu);
    (*t.remaining)--;
    pthread_cond_broadcast(&p->part_cv);
}

static void *worker_main(void *arg)
{
    pool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        void *job;
        while (p->count == 0 && p->nparts == 0 && !p->stopping)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->nparts > 0) {
            run_one_part(p);
            continue;
        }
        if (p->stopping)
            break;
        job = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        p->fn(job, p->ctx);
        pthread_mutex_lock(&p->mu);
        p->busy--;
        push_done(p, job);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

pool *pool_new(int workers, int queue_cap, pool_fn fn, void *ctx)
{
    pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    pthread_cond_init(&p->part_cv, NULL);
    p->cap = queue_cap;
    p->workers = workers;
    p->done_cap = queue_cap + workers;
    p->fn = fn;
    p->ctx = ctx;
    p->ring = calloc((size_t)queue_cap, sizeof(void *));
    p->done = calloc((size_t)p->done_cap, sizeof(void *));
    p->threads = calloc((size_t)workers, sizeof(pthread_t));
    if (!p->ring || !p->done || !p->threads)
        goto fail;
    for (; p->started < workers; p->started++)
        if (pthread_create(&p->threads[p->started], NULL, worker_main, p))
            goto fail;
    return p;
fail:
    pool_free(p);
    return NULL;
}

int pool_try_submit(pool *p, void *job)
{
    int rc = -1;

    pthread_mutex_lock(&p->mu);
    /* The done list must have room for every job that can be out at once;
     * count it too so an undrained done list also pushes back. */
    if (!p->stopping && p->count < p->cap &&
        p->count + p->busy + p->done_count < p->done_cap) {
        p->ring[(p->head + p->count) % p->cap] = job;
        p->count++;
        pthread_cond_signal(&p->work_cv);
        rc = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void *pool_take_done(pool *p, int timeout_ms)
{
    void *job = NULL;
    struct timespec ts;

    pthread_mutex_lock(&p->mu);
    if (p->done_count == 0 && timeout_ms > 0) {
        ts = now_deadline(CLOCK_REALTIME, timeout_ms);
        while (p->done_count == 0)
            if (pthread_cond_timedwait(&p->done_cv, &p->mu, &ts) == ETIMEDOUT)
                break;
    }
    if (p->done_count > 0) {
        job = p->done[0];
        for (int i = 1; i < p->done_count; i++)
            p->done[i - 1] = p->done[i];
        p->done_count--;
    }
    pthread_mutex_unlock(&p->mu);
    return job;
}

int pool_queued(pool *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int pool_busy(pool *p)
{
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->busy;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pool_run_parts(pool *p, void (*fn)(void *), void **args, int n)
{
    int remaining = n;
    int pushed = 0;

    pthread_mutex_lock(&p->mu);
    if (p->nparts + n > p->parts_cap) {
        int cap = p->parts_cap ? p->parts_cap : 16;
        part_task *np;
        while (cap < p->nparts + n)
            cap *= 2;
        np = realloc(p->parts, (size_t)cap * sizeof(*np));
        if (np) {
            p->parts = np;
            p->parts_cap = cap;
        }
    }
    /* Without room for the list, the caller simply runs its own parts. */
    for (; pushed < n && p->nparts < p->parts_cap; pushed++) {
        part_task t = {fn, args[pushed], &remaining};
        p->parts[p->nparts++] = t;
    }
    pthread_cond_broadcast(&p->work_cv);
    for (int i = pushed; i < n; i++) {
        pthread_mutex_unlock(&p->mu);
        fn(args[i]);
        pthread_mutex_lock(&p->mu);
        remaining--;
    }
    while (remaining > 0) {
        if (p->nparts > 0)
            run_one_part(p);
        else
            pthread_cond_wait(&p->part_cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

void pool_stop(pool *p)
{
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->stopping = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    /* Jobs never started go back untouched. */
    pthread_mutex_lock(&p->mu);
    while (p->count > 0) {
        push_done(p, p->ring[p->head]);
        p->head = (p->head + 1) % p->cap;
        p->count--;
    }
    pthread_mutex_unlock(&p->mu);
}

void pool_free(pool *p)
{
    if (p == NULL)
        return;
    if (p->threads)
        pool_stop(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->part_cv);
    free(p->parts);
    free(p->ring);
    free(p->done);
    free(p->threads);
    free(p);
}
