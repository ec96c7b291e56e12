/* publish.h -- hands a request's events to Kafka and, in ack mode "kafka",
 * waits for every delivery report before the request may be answered. */
#ifndef MILLRACE_PUBLISH_H
#define MILLRACE_PUBLISH_H

#include <librdkafka/rdkafka.h>

#include "validate.h"

typedef struct publisher publisher;

typedef enum publish_ack {
    PUBLISH_ACK_KAFKA,  /* wait for acks=all delivery reports */
    PUBLISH_ACK_QUEUED, /* answer once librdkafka has queued them */
} publish_ack;

typedef enum publish_status {
    PUBLISH_OK = 0,
    PUBLISH_QUEUE_FULL,  /* local queue full: shed load (503) */
    PUBLISH_TIMEOUT,     /* no delivery report within the bound (503) */
    PUBLISH_FAILED,      /* a delivery report said error (503) */
    PUBLISH_STOPPING,    /* shutting down (503) */
} publish_status;

/* Takes ownership of conf (set it to NULL in the caller) on success and on
 * failure. topic is copied. wait_ms bounds how long publish_events waits. */
publisher *publisher_new(rd_kafka_conf_t *conf, const char *topic,
                         publish_ack ack, int wait_ms, char *errbuf,
                         size_t errlen);

/* Produce every event of b with the ingest time and request id as headers.
 * Blocks at most wait_ms. On failure, detail says why in a sentence. */
publish_status publish_events(publisher *p, const event_batch *b,
                              const char *request_id, char *detail,
                              size_t detail_len);

/* 1 when the producer has a usable connection to the cluster. */
int publisher_ready(publisher *p);

/* Messages still queued or in flight. */
int publisher_outq_len(publisher *p);

/* Flush with a bound, log what was not delivered, destroy. Accepts NULL. */
void publisher_destroy(publisher *p, int flush_ms);

#endif
