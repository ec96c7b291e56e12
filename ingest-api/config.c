/* config.c -- ingest-api's settings and their declarative table. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "auth.h"
#include "kafka.h"
#include "kafkasec.h"
#include "publish.h"
#include "turns.h"

const char *const ingest_ack_names[] = {"kafka", "queued", NULL};

#define ROW(name, type, field, def, min, max, choices, env, desc)              \
    {                                                                          \
        name, type, offsetof(ingest_config, field), def, min, max, choices,    \
            env, 0, desc                                                       \
    }
#define ROW_SECRET(name, type, field, def, min, max, choices, env, desc)       \
    {                                                                          \
        name, type, offsetof(ingest_config, field), def, min, max, choices,    \
            env, 1, desc                                                       \
    }

static const cfg_row rows[] = {
    SETTINGS_KAFKA_ROWS(ingest_config, kafka),
    SETTINGS_LOG_ROWS(ingest_config, log),
    ROW("ingest.listen", CFG_STR, ingest.listen, "8080", 0, 0, NULL, "PORT",
        "Address and port to listen on (civetweb syntax: \"8080\", "
        "\"127.0.0.1:8080\", \"8443s\" for TLS)."),
    ROW("ingest.threads", CFG_INT, ingest.threads, "2048", 1, 16384, NULL, NULL,
        "HTTP worker threads. Each serves one connection at a time (an idle "
        "kept-alive one too, or a slow client's), so this is also the most "
        "connections served at once; an idle thread costs about 32 KiB. "
        "Memory is bounded by ingest.max_inflight_bytes, not by this."),
    ROW("ingest.connection_queue", CFG_INT, ingest.connection_queue, "128", 1,
        65536, NULL, NULL,
        "Accepted connections waiting for a free thread; when it is full, "
        "new connections wait in the kernel's backlog."),
    ROW("ingest.listen_backlog", CFG_INT, ingest.listen_backlog, "1024", 1,
        65535, NULL, NULL,
        "The kernel's queue of connections not yet accepted (capped by "
        "net.core.somaxconn); beyond it, connections are refused."),
    ROW("ingest.max_header_bytes", CFG_SIZE, ingest.max_header_bytes, "16k",
        1024, 1LL << 20, NULL, NULL,
        "Largest request line plus headers; a larger head gets 400 "
        "bad_request (so do more than 64 header lines)."),
    ROW("ingest.keepalive", CFG_BOOL, ingest.keepalive, "true", 0, 0, NULL,
        NULL, "Keep connections open between requests (HTTP/1.1 keep-alive)."),
    ROW("ingest.worker_nice", CFG_INT, ingest.worker_nice, "0", 0, 19, NULL,
        NULL,
        "How much lower the HTTP threads' CPU priority is than the Kafka "
        "producer's threads (0: equal; ingest.cpu_turns already keeps the "
        "busy HTTP threads few). Raising it favours delivering what was "
        "accepted over taking new requests on a saturated host, at the "
        "cost of a longer wait for them."),
    ROW("ingest.cpu_turns", CFG_INT, ingest.cpu_turns, "0", 0, 4096, NULL, NULL,
        "How many HTTP threads may validate and produce at once; the others "
        "sleep until one is done (reading a body, writing an answer and "
        "waiting for Kafka take no turn). A few busy threads rather than one "
        "per connection keep the producer's threads served and the wait "
        "short. 0: one per CPU the process may use (its affinity, capped by "
        "a cgroup v2 CPU quota)."),
    ROW("ingest.tls_certificate", CFG_STR, ingest.tls_certificate, "", 0, 0,
        NULL, NULL,
        "PEM file with the server certificate, its chain and its private "
        "key; required when a port in ingest.listen ends in 's' (TLS 1.2 "
        "and later)."),
    ROW_SECRET("ingest.tokens", CFG_LIST, ingest.tokens, NULL, 0, 0, NULL, NULL,
               "Bearer tokens allowed to POST events, at least 16 characters "
               "each (environment: comma-separated). Empty: no "
               "authentication."),
    ROW("ingest.max_body_bytes", CFG_SIZE, ingest.max_body_bytes, "4M", 1024,
        1LL << 30, NULL, NULL,
        "Largest request body, after gzip decompression."),
    ROW("ingest.max_inflight_bytes", CFG_SIZE, ingest.max_inflight_bytes,
        "256M", 1LL << 20, 1LL << 40, NULL, NULL,
        "Memory all requests being served may hold at once: each reserves, "
        "from its head, its body, its decoded text and as much again parsed "
        "(a chunked or gzip body: the limit); one that would pass this is "
        "answered 503 memory_full before its body is read. At least 3 x "
        "ingest.max_body_bytes."),
    ROW("ingest.max_event_bytes", CFG_SIZE, ingest.max_event_bytes, "512k", 16,
        64LL << 20, NULL, NULL,
        "Largest single event (compact JSON); keep below the broker's "
        "message.max.bytes."),
    ROW("ingest.max_events", CFG_INT, ingest.max_events, "10000", 1, 1000000,
        NULL, NULL, "Most events in one request."),
    /* At most 128: validating and encoding an event recurses once per
     * level on civetweb's 100 KiB worker stacks (~300 levels overflowed). */
    ROW("ingest.max_depth", CFG_INT, ingest.max_depth, "32", 1, 128, NULL, NULL,
        "Deepest JSON nesting in an event (the event object is 1)."),
    ROW("ingest.required_fields", CFG_LIST, ingest.required_fields, NULL, 0, 0,
        NULL, NULL, "Fields every event must have."),
    ROW("ingest.key_field", CFG_STR, ingest.key_field, "", 0, 0, NULL, NULL,
        "Event field used as the Kafka message key (empty: no key, sticky "
        "partitioning)."),
    ROW("ingest.ack", CFG_ENUM, ingest.ack, "kafka", 0, 0, ingest_ack_names,
        "ACK_MODE",
        "kafka: answer 202 after the brokers persisted every event; queued: "
        "after librdkafka queued them."),
    ROW("ingest.delivery_timeout_ms", CFG_INT, ingest.delivery_timeout_ms,
        "10000", 100, 300000, NULL, NULL,
        "Longest a request waits for Kafka's delivery reports (also "
        "librdkafka's message.timeout.ms); then 503 delivery_timeout."),
    ROW("ingest.request_timeout_ms", CFG_INT, ingest.request_timeout_ms,
        "10000", 100, 600000, NULL, NULL,
        "Bound on receiving a request's headers (then the connection is "
        "closed) and its body (then 408); one read of the body may add as "
        "much again."),
    ROW("ingest.keepalive_timeout_ms", CFG_INT, ingest.keepalive_timeout_ms,
        "5000", 0, 600000, NULL, NULL,
        "How long an idle kept-alive connection may hold its thread waiting "
        "for the next request's headers."),
    ROW("ingest.queue_max_messages", CFG_INT, ingest.queue_max_messages,
        "50000", 100, 10000000, NULL, NULL,
        "Producer queue limit in messages (about a second of a broker's "
        "intake here; each costs its size and about 300 bytes more); a "
        "full queue answers 503."),
    ROW("ingest.queue_max_kbytes", CFG_INT, ingest.queue_max_kbytes, "32768",
        1024, 2097151, NULL, NULL,
        "Producer queue limit in KiB of records; a full queue answers 503."),
    ROW("ingest.linger_ms", CFG_INT, ingest.linger_ms, "-1", -1, 1000, NULL,
        NULL,
        "How long the producer waits to fill a batch: each ack mode kafka "
        "request waits this long at least; longer means fewer, larger "
        "requests to Kafka and less CPU for both. -1: 1 with ack mode "
        "kafka (with one produce request in flight per broker, so that "
        "batches grow with the load while a request is out), 20 with "
        "queued."),
    ROW("ingest.fast_lane", CFG_INT, ingest.fast_lane, "8", 0, 100000, NULL,
        NULL,
        "Ack mode kafka: while fewer requests than this wait for Kafka, a new "
        "one is sent at once by a second producer without linger, so that a "
        "lone request does not wait ingest.linger_ms; beyond it, requests "
        "batch. 0: one producer."),
    ROW("ingest.retry_after_s", CFG_INT, ingest.retry_after_s, "1", 0, 3600,
        NULL, NULL, "Retry-After sent with 503."),
    ROW("ingest.shutdown_timeout_ms", CFG_INT, ingest.shutdown_timeout_ms,
        "10000", 0, 600000, NULL, NULL,
        "On SIGTERM, bound on finishing the requests in flight and then on "
        "flushing the producer."),
    ROW("ingest.probe_interval_ms", CFG_INT, ingest.probe_interval_ms, "1000",
        100, 60000, NULL, NULL,
        "How often the Kafka cluster is probed (topic metadata) for /readyz "
        "and for failing fast with 503 while it is unreachable."),
};

void ingest_config_table(cfg_table *t, ingest_config *c)
{
    memset(t, 0, sizeof(*t));
    t->rows = rows;
    t->n = sizeof(rows) / sizeof(rows[0]);
    t->base = c;
}

/* A port in civetweb's list ends in 's' when it is a TLS port. */
static int listen_has_tls(const char *listen)
{
    const char *p = listen;

    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 && p[n - 1] == 's')
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static void validate_tls(const ingest_config *c, cfg_errors *errs)
{
    int has_cert = c->ingest.tls_certificate && c->ingest.tls_certificate[0];
    int has_port = listen_has_tls(c->ingest.listen);

    if (has_port && !has_cert)
        cfg_error_add(errs,
                      "ingest.listen \"%s\" has a TLS port ('s') but "
                      "ingest.tls_certificate is empty",
                      c->ingest.listen);
    if (has_cert && !has_port)
        cfg_error_add(errs,
                      "ingest.tls_certificate is set but no port in "
                      "ingest.listen \"%s\" ends in 's'",
                      c->ingest.listen);
}

int ingest_cpu_turns(const ingest_config *c)
{
    return c->ingest.cpu_turns > 0 ? (int)c->ingest.cpu_turns
                                   : turns_cpus(NULL);
}

long long ingest_linger_ms(const ingest_config *c)
{
    if (c->ingest.linger_ms >= 0)
        return c->ingest.linger_ms;
    return c->ingest.ack == PUBLISH_ACK_QUEUED ? INGEST_LINGER_QUEUED_MS
                                               : INGEST_LINGER_KAFKA_MS;
}

/* With ack mode kafka a 202 means "persisted by the brokers": properties
 * that let librdkafka report a record delivered before that are refused. */
static const char *const acks_all[] = {"all", "-1", NULL};
static const char *const is_true[] = {"true", NULL};
static const kafka_guard durable_producer[] = {
    {"acks", "all", acks_all,
     "ack mode kafka answers 202 once every in-sync replica has a record; "
     "fewer acks would answer 202 for records a broker failure loses"},
    {"enable.idempotence", "true", is_true,
     "without it a retried produce can store a record twice or out of "
     "order, and acks=all is no longer enforced"},
};

void ingest_config_validate(const ingest_config *c, cfg_errors *errs)
{
    char why[160];

    if (c->ingest.max_event_bytes > c->ingest.max_body_bytes)
        cfg_error_add(errs,
                      "ingest.max_event_bytes (%lld) exceeds "
                      "ingest.max_body_bytes (%lld)",
                      c->ingest.max_event_bytes, c->ingest.max_body_bytes);
    if (c->ingest.max_inflight_bytes < 3 * c->ingest.max_body_bytes)
        cfg_error_add(errs,
                      "ingest.max_inflight_bytes (%lld) is less than 3 x "
                      "ingest.max_body_bytes (%lld): a request of the "
                      "largest size could never be served",
                      c->ingest.max_inflight_bytes, c->ingest.max_body_bytes);
    if (c->kafka.brokers[0] == '\0')
        cfg_error_add(errs, "kafka.brokers is empty");
    if (c->kafka.topic[0] == '\0')
        cfg_error_add(errs, "kafka.topic is empty");
    kafkasec_validate(&c->kafka, errs);
    validate_tls(c, errs);
    if (c->ingest.ack == PUBLISH_ACK_KAFKA)
        kafka_properties_guard(
            c->kafka.properties, durable_producer,
            sizeof(durable_producer) / sizeof(durable_producer[0]), errs);
    if (auth_check_tokens(c->ingest.tokens, why, sizeof(why)) < 0)
        cfg_error_add(errs, "ingest.tokens: %s", why);
}
