/* config.c -- ingest-api's settings and their declarative table. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#define ROW(name, type, field, def, min, max, choices, env, desc)              \
    {name, type, offsetof(ingest_config, field), def, min, max, choices, env, \
     0, desc}

static const cfg_row rows[] = {
    SETTINGS_KAFKA_ROWS(ingest_config, kafka),
    SETTINGS_LOG_ROWS(ingest_config, log),
    ROW("ingest.listen", CFG_STR, ingest.listen, "8080", 0, 0, NULL, "PORT",
        "Address and port to listen on (civetweb syntax: \"8080\", "
        "\"127.0.0.1:8080\", \"8443s\" for TLS)."),
    ROW("ingest.threads", CFG_INT, ingest.threads, "64", 1, 4096, NULL, NULL,
        "HTTP worker threads: the most requests handled at once."),
    ROW("ingest.max_body_bytes", CFG_SIZE, ingest.max_body_bytes, "4M", 1024,
        1LL << 30, NULL, NULL,
        "Largest request body, after gzip decompression."),
    ROW("ingest.max_event_bytes", CFG_SIZE, ingest.max_event_bytes, "512k",
        16, 64LL << 20, NULL, NULL,
        "Largest single event (compact JSON); keep below the broker's "
        "message.max.bytes."),
    ROW("ingest.max_events", CFG_INT, ingest.max_events, "10000", 1, 1000000,
        NULL, NULL, "Most events in one request."),
    ROW("ingest.max_depth", CFG_INT, ingest.max_depth, "32", 1, 1000, NULL,
        NULL, "Deepest JSON nesting in an event (the event object is 1)."),
    ROW("ingest.required_fields", CFG_LIST, ingest.required_fields, NULL, 0,
        0, NULL, NULL, "Fields every event must have."),
    ROW("ingest.key_field", CFG_STR, ingest.key_field, "", 0, 0, NULL, NULL,
        "Event field used as the Kafka message key (empty: no key, sticky "
        "partitioning)."),
    ROW("ingest.ack", CFG_ENUM, ingest.ack, "kafka", 0, 0, "kafka|queued",
        "ACK_MODE",
        "kafka: answer 202 after the brokers persisted every event; queued: "
        "after librdkafka queued them."),
    ROW("ingest.delivery_timeout_ms", CFG_INT, ingest.delivery_timeout_ms,
        "10000", 100, 300000, NULL, NULL,
        "Longest a request waits for Kafka before it gets 503."),
    ROW("ingest.request_timeout_ms", CFG_INT, ingest.request_timeout_ms,
        "30000", 100, 600000, NULL, NULL,
        "Longest time to receive a request's headers and body."),
    ROW("ingest.keepalive_timeout_ms", CFG_INT, ingest.keepalive_timeout_ms,
        "30000", 0, 600000, NULL, NULL, "Idle keep-alive connection timeout."),
    ROW("ingest.queue_max_messages", CFG_INT, ingest.queue_max_messages,
        "200000", 100, 10000000, NULL, NULL,
        "Producer queue limit in messages; a full queue answers 503."),
    ROW("ingest.queue_max_kbytes", CFG_INT, ingest.queue_max_kbytes, "131072",
        1024, 2097151, NULL, NULL,
        "Producer queue limit in KiB; a full queue answers 503."),
    ROW("ingest.linger_ms", CFG_INT, ingest.linger_ms, "5", 0, 1000, NULL,
        NULL, "How long the producer waits to fill a batch."),
    ROW("ingest.retry_after_s", CFG_INT, ingest.retry_after_s, "1", 0, 3600,
        NULL, NULL, "Retry-After sent with 503."),
    ROW("ingest.shutdown_timeout_ms", CFG_INT, ingest.shutdown_timeout_ms,
        "10000", 0, 600000, NULL, NULL,
        "Bound on flushing the producer at shutdown."),
};

void ingest_config_table(cfg_table *t, ingest_config *c)
{
    memset(t, 0, sizeof(*t));
    t->rows = rows;
    t->n = sizeof(rows) / sizeof(rows[0]);
    t->base = c;
}

void ingest_config_validate(const ingest_config *c, cfg_errors *errs)
{
    if (c->ingest.max_event_bytes > c->ingest.max_body_bytes)
        cfg_error_add(errs,
                      "ingest.max_event_bytes (%lld) exceeds "
                      "ingest.max_body_bytes (%lld)",
                      c->ingest.max_event_bytes, c->ingest.max_body_bytes);
    if (c->kafka.brokers[0] == '\0')
        cfg_error_add(errs, "kafka.brokers is empty");
    if (c->kafka.topic[0] == '\0')
        cfg_error_add(errs, "kafka.topic is empty");
}
