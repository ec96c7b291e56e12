/* metrics.h -- ingest-api's request counters and its request latency
 * histogram, rendered in Prometheus text format. Request threads only add
 * to atomics (no lock on the request path). Pure: no sockets. */
#ifndef MILLRACE_METRICS_H
#define MILLRACE_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#include "prom.h"

/* The status codes ingest-api answers with; any other is counted as
 * "other". */
#define METRICS_STATUSES                                                       \
    {                                                                          \
        200, 202, 400, 401, 404, 405, 408, 411, 413, 415, 417, 500, 503, 505   \
    }
#define METRICS_N_STATUS 14

/* Upper bounds of the latency buckets, in seconds (then +Inf). */
#define METRICS_BUCKETS                                                        \
    {                                                                          \
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,    \
            2.5, 5, 10, 30                                                     \
    }
#define METRICS_N_BUCKET 15

/* Why a request was answered 503. */
typedef enum metrics_reason {
    METRICS_QUEUE_FULL,
    METRICS_UNREACHABLE,
    METRICS_TIMEOUT,
    METRICS_FAILED,
    METRICS_FATAL,
    METRICS_SHUTTING_DOWN,
    METRICS_MEMORY_FULL,
    METRICS_N_REASON
} metrics_reason;

typedef struct ingest_metrics {
    atomic_ullong by_status[METRICS_N_STATUS + 1]; /* last: other */
    atomic_ullong events_accepted;
    atomic_ullong body_bytes; /* request body bytes read from clients */
    atomic_ullong bucket[METRICS_N_BUCKET + 1]; /* not cumulative; +Inf */
    atomic_ullong latency_count;
    atomic_ullong latency_sum_us;
    atomic_ullong unavailable[METRICS_N_REASON];
    atomic_int in_flight;
} ingest_metrics;

/* What other modules own, sampled when /metrics is rendered. */
typedef struct metrics_sample {
    long long queue_messages;           /* producer queue: messages */
    unsigned long long delivered;       /* delivery reports: persisted */
    unsigned long long delivery_errors; /* delivery reports: failed */
    unsigned long long room_waits;      /* requests that waited for room */
    unsigned long long fast_sends;      /* requests sent by the fast lane */
    int kafka_up;                       /* the last readiness probe succeeded */
    int draining;                       /* SIGTERM received */
    int have_process;                   /* process was read */
    prom_process process;               /* the process_* figures */
} metrics_sample;

/* Zero every counter. */
void metrics_init(ingest_metrics *m);

void metrics_count_status(ingest_metrics *m, int status);

void metrics_count_unavailable(ingest_metrics *m, metrics_reason why);

/* One /v1/events request took us microseconds. */
void metrics_observe_us(ingest_metrics *m, long long us);

/* Reads the count of one status (for logs and tests). */
unsigned long long metrics_status_count(const ingest_metrics *m, int status);

/* Writes the exposition into buf (NUL-terminated, truncated to len) and
 * returns the length it needs, as snprintf does. */
size_t metrics_render(const ingest_metrics *m, const metrics_sample *s,
                      char *buf, size_t len);

#endif
