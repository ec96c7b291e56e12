/* pool.h -- the article's worker pool, bounded: a fixed number of threads
 * take jobs from a queue of fixed capacity; finished jobs come back on a
 * done list for the consumer thread. A full queue is refused, never grown. */
#ifndef MILLRACE_POOL_H
#define MILLRACE_POOL_H

typedef struct pool pool;

/* Runs one job on a worker thread. */
typedef void (*pool_fn)(void *job, void *ctx);

pool *pool_new(int workers, int queue_cap, pool_fn fn, void *ctx);

/* Queue job; returns 0, or -1 when the queue is full (the caller decides:
 * the uploader pauses the partition). */
int pool_try_submit(pool *p, void *job);

/* A finished job, waiting up to timeout_ms (0: do not wait); NULL if none. */
void *pool_take_done(pool *p, int timeout_ms);

/* Jobs queued but not yet taken by a worker, and workers busy now. */
int pool_queued(pool *p);
int pool_busy(pool *p);

/* Runs fn(args[i]) for i in 0..n-1 on the pool's threads and returns when
 * all n are done. Meant for a job that splits its work (the parts of a
 * multipart upload): subtasks go before queued jobs, and the calling
 * worker runs subtasks too, so it never waits on a pool that is busy. */
void pool_run_parts(pool *p, void (*fn)(void *), void **args, int n);

/* Stops the workers after their current job; queued jobs not started are
 * moved to the done list untouched (the job's own state tells). Joins the
 * threads. */
void pool_stop(pool *p);

/* Accepts NULL. Stops first if needed. Jobs still on the done list are
 * the caller's to drain before. */
void pool_free(pool *p);

#endif
