/* batch.h -- the records of one partition collected for one upload, and the
 * rules that close a batch. Pure: no Kafka, no clock of its own. */
#ifndef MILLRACE_BATCH_H
#define MILLRACE_BATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct batch_record {
    int64_t offset;
    int64_t ts_ms;    /* the time that places the record in an hour */
    int64_t kafka_ms; /* the Kafka timestamp (the ingest time) */
    size_t pos;       /* of its value in the arena */
    size_t len;
} batch_record;

typedef struct batch {
    int32_t partition;
    batch_record *recs;
    size_t n, cap;
    /* values back to back, each followed by a newline: the batch's NDJSON,
     * which the encoder compresses in place */
    char *arena;
    size_t bytes, arena_cap; /* bytes: of the NDJSON, newlines included */
    int64_t opened_ms;       /* wall clock when the first record arrived */
} batch;

typedef struct batch_limits {
    size_t max_records;
    size_t max_bytes;
    int64_t max_age_ms;
    /* The memory a batch may hold (its NDJSON and its records); 0: no
     * bound. Closes like max_bytes. */
    size_t max_memory;
} batch_limits;

typedef enum batch_state {
    BATCH_OPEN = 0,
    BATCH_CLOSE_RECORDS,
    BATCH_CLOSE_BYTES,
    BATCH_CLOSE_AGE,
} batch_state;

batch *batch_new(int32_t partition);

/* Copies the value and a newline after it. Returns 0, or -1 when out of
 * memory. */
int batch_add(batch *b, int64_t offset, int64_t ts_ms, const void *value,
              size_t len, int64_t now_ms);

/* Whether b must close now, and why. An empty batch never closes. */
batch_state batch_check(const batch *b, const batch_limits *l, int64_t now_ms);

static inline int64_t batch_first_offset(const batch *b)
{
    return b->recs[0].offset;
}
static inline int64_t batch_last_offset(const batch *b)
{
    return b->recs[b->n - 1].offset;
}

/* The heap memory b uses for its NDJSON and its records. */
size_t batch_memory(const batch *b);

const char *batch_state_name(batch_state s);

/* The newest Kafka timestamp of b's records (-1: none). */
int64_t batch_newest_ts(const batch *b);

/* Accepts NULL. */
void batch_free(batch *b);

#endif
