/* publish.h -- hands a request's events to Kafka and, in ack mode "kafka",
 * waits for every delivery report before the request may be answered.
 * Also knows whether Kafka can take events now: a probe thread asks the
 * cluster for the topic's metadata, and a fatal producer error stops
 * every later publish. */
#ifndef MILLRACE_PUBLISH_H
#define MILLRACE_PUBLISH_H

#include <librdkafka/rdkafka.h>

#include "validate.h"

typedef struct publisher publisher;
typedef struct publish_wait publish_wait; /* a request's wait for reports */

typedef enum publish_ack {
    PUBLISH_ACK_KAFKA,  /* wait for acks=all delivery reports */
    PUBLISH_ACK_QUEUED, /* answer once librdkafka has queued them */
} publish_ack;

typedef enum publish_status {
    PUBLISH_OK = 0,
    PUBLISH_QUEUE_FULL,  /* local queue full: shed load (503) */
    PUBLISH_UNREACHABLE, /* the cluster is known to be down: fail fast */
    PUBLISH_TIMEOUT,     /* no delivery report within the bound (503) */
    PUBLISH_FAILED,      /* a delivery report said error (503) */
    PUBLISH_FATAL,       /* the producer hit a fatal error (503) */
    PUBLISH_STOPPING,    /* shutting down (503) */
} publish_status;

typedef struct publish_opts {
    const char *topic; /* copied */
    publish_ack ack;
    int wait_ms;  /* longest publish_events waits for delivery reports */
    int probe_ms; /* how often the cluster is probed (readiness) */
    long long record_limit; /* the topic's max.message.bytes if known, or 0 */
    int room_wait_ms;       /* longest wait for room in a full queue (0: 50) */
    /* Ack mode kafka: a second producer's configuration (owned from
     * publisher_new on, NULL: none), made like the first but without
     * linger. A request goes to it while fewer than fast_max requests
     * wait for their reports: alone, it leaves at once; under load,
     * requests go to the first producer and batch. */
    rd_kafka_conf_t *fast_conf;
    int fast_max;
} publish_opts;

/* What the publisher has seen, for /metrics and logs. */
typedef struct publish_stats {
    unsigned long long delivered;       /* delivery reports without error */
    unsigned long long delivery_errors; /* delivery reports with one */
    int queue_messages;                 /* queued or in flight */
    unsigned long long room_waits;      /* requests that waited for room */
    unsigned long long fast_sends;      /* requests sent by the fast lane */
    int up;                             /* the cluster is reachable */
    int fatal;
} publish_stats;

/* Takes ownership of conf on success and on failure (the caller sets its
 * pointer to NULL). Starts the poll and probe threads. */
publisher *publisher_new(rd_kafka_conf_t *conf, const publish_opts *o,
                         char *errbuf, size_t errlen);

/* Produce every event of b with the ingest time and request id as headers.
 * Blocks at most wait_ms. Fails fast, producing nothing, while the cluster
 * is known to be unreachable or after a fatal error. On failure, detail
 * says why in a sentence. */
publish_status publish_events(publisher *p, const event_batch *b,
                              const char *request_id, char *detail,
                              size_t detail_len);

/* publish_events in two steps, so that the caller can do other things
 * between producing and waiting (give back its turn: turns.h).
 * publish_send produces; when it returns PUBLISH_OK in ack mode kafka,
 * *wait is the request's pending wait (else NULL), which
 * publish_wait_reports ends and frees (NULL: PUBLISH_OK at once). The
 * wait's bound, wait_ms, counts from publish_send. room_by bounds the
 * request's wait for room in a full producer queue, all its events
 * together (CLOCK_MONOTONIC; NULL: publish_opts.room_wait_ms from now). */
publish_status publish_send(publisher *p, const event_batch *b,
                            const char *request_id,
                            const struct timespec *room_by, publish_wait **wait,
                            char *detail, size_t detail_len);
publish_status publish_wait_reports(publisher *p, publish_wait *wait,
                                    char *detail, size_t detail_len);

/* 1 when the cluster is reachable (see probe_main) and no fatal error
 * happened. */
int publisher_ready(publisher *p);

/* 1 after a fatal producer error: nothing more can be published by this
 * producer, and the process should exit so that a new one starts. */
int publisher_fatal(publisher *p);

/* 1 while requests wait in line for room in the full producer queue, and
 * how long one may wait there (publish_opts.room_wait_ms): a request
 * that waited as long for its turn (turns.h) behind them is refused as
 * they would be, instead of waiting in turn behind each of them. */
int publisher_queue_full(publisher *p);
int publisher_room_wait_ms(publisher *p);

/* The topic's max.message.bytes as last learned (0: not yet known). */
long long publisher_record_limit(publisher *p);

/* Bytes a record takes beyond its value and key in a batch of its own:
 * the batch header (61), the record's framing and the two headers. */
#define PUBLISH_RECORD_OVERHEAD 256

void publisher_stats(publisher *p, publish_stats *st);

/* The librdkafka handle, borrowed: for tests that inject errors. */
rd_kafka_t *publisher_handle(publisher *p);

/* Flush with a bound, log what was not delivered, destroy. Accepts NULL. */
void publisher_destroy(publisher *p, int flush_ms);

#endif
