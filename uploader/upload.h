/* upload.h -- one worker's job: check a closed batch's records (sending the
 * ones that cannot be written to the dead-letter topic), encode the rest
 * into objects, and store each, retrying with backoff until stored or
 * abandoned. */
#ifndef MILLRACE_UPLOAD_H
#define MILLRACE_UPLOAD_H

#include <stdatomic.h>
#include <stdint.h>

#include "batch.h"
#include "dlq.h"
#include "encode.h"
#include "pool.h"
#include "store/store.h"

/* Upper bounds (seconds) of the store latency histogram. */
#define UPLOAD_LATENCY_BUCKETS 12
extern const double upload_latency_bounds[UPLOAD_LATENCY_BUCKETS];

typedef struct upload_stats {
    atomic_ullong objects;
    atomic_ullong bytes;
    atomic_ullong records;
    atomic_ullong retries;
    atomic_ullong throttled;
    atomic_ullong permanent_errors;
    atomic_ullong multipart_uploads;
    atomic_ullong dlq_records;
    atomic_int failing; /* jobs failing permanently right now */
    atomic_ullong latency_le[UPLOAD_LATENCY_BUCKETS]; /* cumulative */
    atomic_ullong latency_count;
    atomic_ullong latency_sum_us;
} upload_stats;

typedef struct upload_ctx {
    store *st;
    const char *topic;
    const char *prefix;
    encode_format format;
    int content_encoding; /* 1: Content-Encoding names the compression */
    int level;
    int line_metadata;
    const char *time_field; /* event field holding the time, or NULL */
    long long retry_base_ms;
    long long retry_max_ms;
    upload_stats *stats;
    /* With check_records, records that are not one JSON object or are
     * larger than max_record_bytes are left out of the objects: sent to
     * dlq when it is set, otherwise only counted (replay). */
    int check_records;
    dlq *dlq;
    size_t max_record_bytes;
    int max_depth;
    /* After this many permanent failures of one object, give up on it:
     * its records go to dlq when set, else the job fails (0: never give
     * up, block). */
    int permanent_to_dlq_after;
    /* Give up after this many transient failures in a row (0: never). */
    int max_transient;
    /* Write the batch's index entry once its objects are stored. */
    int write_index;
    /* Write each stored object's hour entry (hours.h). */
    int hour_entries;
    /* Objects above multipart_threshold go up in part_size parts, run on
     * pool (NULL: no multipart). */
    size_t multipart_threshold;
    size_t part_size;
    pool *pool;
    /* Shared by every worker: no request before this time (ms since the
     * epoch) after the store asked to slow down. */
    atomic_llong slow_until_ms;
    atomic_int throttle_level;
} upload_ctx;

typedef enum upload_result {
    UPLOAD_PENDING = 0,
    UPLOAD_STORED,    /* every record is in the store or the DLQ */
    UPLOAD_ABANDONED, /* given up on request; nothing may be committed */
} upload_result;

typedef struct upload_job {
    batch *b;             /* owned by the job */
    atomic_int abandon;   /* set by the consumer thread */
    upload_result result; /* set by the worker */
    int64_t next_offset;  /* to commit once stored: last offset + 1 */
    /* Filled by the worker, for replay's report. */
    size_t objects_written;
    size_t skipped_not_json;
    size_t skipped_too_large;
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

/* Parses an event time: a number of ms since the epoch (or seconds, when
 * below 1e11), or an RFC 3339 string in quotes. Returns 0 or -1. */
int upload_parse_time(const char *v, size_t len, int64_t *ms);

#endif
