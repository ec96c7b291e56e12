/* config.h -- ingest-api's settings and their declarative table. */
#ifndef MILLRACE_INGEST_CONFIG_H
#define MILLRACE_INGEST_CONFIG_H

#include "cfg.h"
#include "settings.h"

typedef struct ingest_config {
    kafka_settings kafka;
    log_settings log;
    struct {
        char *listen;
        long long threads;
        long long connection_queue;
        long long listen_backlog;
        long long max_header_bytes;
        int keepalive;
        long long worker_nice;
        long long cpu_turns;
        char *tls_certificate;
        char *tokens;
        long long max_body_bytes;
        long long max_inflight_bytes;
        long long max_event_bytes;
        long long max_events;
        long long max_depth;
        char *required_fields;
        char *key_field;
        int ack; /* enum publish_ack */
        long long delivery_timeout_ms;
        long long request_timeout_ms;
        long long keepalive_timeout_ms;
        long long queue_max_messages;
        long long queue_max_kbytes;
        long long linger_ms;
        long long fast_lane;
        long long retry_after_s;
        long long shutdown_timeout_ms;
        long long probe_interval_ms;
    } ingest;
} ingest_config;

/* ingest.ack's choices in the order of enum publish_ack (publish.h):
 * "kafka", "queued". */
extern const char *const ingest_ack_names[];

/* Bind the table to c. */
void ingest_config_table(cfg_table *t, ingest_config *c);

/* Checks that span several rows; adds to errs. */
void ingest_config_validate(const ingest_config *c, cfg_errors *errs);

/* ingest.linger_ms, with -1 resolved for the ack mode: a queued request
 * does not wait for its batch, so batches can fill for longer. */
#define INGEST_LINGER_KAFKA_MS 1
#define INGEST_LINGER_QUEUED_MS 20
long long ingest_linger_ms(const ingest_config *c);

/* ingest.cpu_turns, or the CPUs the process may use when it is 0. */
int ingest_cpu_turns(const ingest_config *c);

#endif
