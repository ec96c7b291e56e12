/* consumer.h -- the uploader's Kafka side: consumes its partitions, closes
 * batches, feeds the worker pool, commits what is stored, and gives up
 * partitions cleanly on a rebalance. */
#ifndef MILLRACE_CONSUMER_H
#define MILLRACE_CONSUMER_H

#include "config.h"
#include "dlq.h"
#include "store/store.h"
#include "upload.h"

typedef struct consumer consumer;

/* st and dq are borrowed (dq may be NULL: records are then not checked).
 * Returns NULL with errbuf set on failure. */
consumer *consumer_new(const uploader_config *cfg, store *st, dlq *dq,
                       upload_stats *stats, char *errbuf, size_t errlen);

/* Runs until daemon_stop is set, then finishes or abandons in-flight
 * uploads within the shutdown bound, commits what is stored, and leaves
 * the group. Returns 0, or -1 after a fatal consumer error. */
int consumer_run(consumer *c);

/* For /metrics and /readyz. */
typedef struct consumer_status {
    unsigned long long records_consumed;
    unsigned long long batches_closed;
    unsigned long long commits;
    int assigned;
    int paused;
    int kafka_up; /* the cluster answered the last metadata request */
    int queued;
    int busy;
    /* Hour markers (hours.h). */
    int hours_on;
    long long complete_through_ms;
    unsigned long long markers;
    unsigned long long late_records;
    unsigned long long late_objects;
    unsigned long long hour_failures;
} consumer_status;

void consumer_get_status(consumer *c, consumer_status *out);

typedef struct consumer_lag {
    int partition;
    long long lag;
} consumer_lag;

/* Copies at most max entries of the last lag measurement; returns n. */
int consumer_get_lag(consumer *c, consumer_lag *out, int max);

/* Accepts NULL. */
void consumer_free(consumer *c);

#endif
