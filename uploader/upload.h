/* upload.h -- one worker's job: encode a closed batch into objects and put
 * each into the store, retrying with backoff until stored or abandoned. */
#ifndef MILLRACE_UPLOAD_H
#define MILLRACE_UPLOAD_H

#include <stdatomic.h>
#include <stdint.h>

#include "batch.h"
#include "encode.h"
#include "store.h"

typedef struct upload_stats {
    atomic_ullong objects;
    atomic_ullong bytes;
    atomic_ullong records;
    atomic_ullong retries;
    atomic_ullong permanent_errors;
    atomic_int failing; /* 1 while some upload keeps failing permanently */
} upload_stats;

typedef struct upload_ctx {
    store *st;
    const char *topic;
    const char *prefix;
    encode_format format;
    int level;
    long long retry_base_ms;
    long long retry_max_ms;
    upload_stats *stats;
} upload_ctx;

typedef enum upload_result {
    UPLOAD_PENDING = 0,
    UPLOAD_STORED,    /* every object of the batch is in the store */
    UPLOAD_ABANDONED, /* given up on request; nothing may be committed */
} upload_result;

typedef struct upload_job {
    batch *b;               /* owned by the job */
    atomic_int abandon;     /* set by the consumer thread */
    upload_result result;   /* set by the worker */
    int64_t next_offset;    /* to commit once stored: last offset + 1 */
} upload_job;

/* Takes ownership of b. */
upload_job *upload_job_new(batch *b);
void upload_job_free(upload_job *j);

/* A pool_fn: runs on a worker thread. */
void upload_run(void *job, void *ctx);

/* The delay before retry number attempt (0-based): exponential from base,
 * capped at max, with jitter in [delay/2, delay]. r is a random number. */
long long upload_backoff_ms(long long base, long long max, int attempt,
                            unsigned r);

#endif
