/* dlq.h -- the dead-letter topic: records the uploader cannot write go to
 * "{topic}.dlq" with headers saying why and where they came from. */
#ifndef MILLRACE_DLQ_H
#define MILLRACE_DLQ_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dlq dlq;

typedef struct dlq_record {
    const void *value;
    size_t len;
    int32_t partition; /* source coordinates */
    int64_t offset;
    int64_t timestamp_ms;
    const char *reason; /* machine-readable: "not_json", "too_large", ... */
    const char *detail; /* a sentence */
} dlq_record;

/* conf is owned by the dlq from here on, on success and failure. */
dlq *dlq_new(rd_kafka_conf_t *conf, const char *source_topic, char *errbuf,
             size_t errlen);

/* Produces every record to the dead-letter topic and waits up to
 * timeout_ms until all are persisted. Returns 0 when all are; otherwise
 * -1 (none may be assumed stored; sending again may duplicate some, which
 * replay tolerates: it writes by source offset). Thread-safe: calls are
 * serialized. */
int dlq_send(dlq *d, const dlq_record *recs, size_t n, int timeout_ms,
             char *errbuf, size_t errlen);

/* Records persisted to the dead-letter topic so far. */
unsigned long long dlq_count(dlq *d);

const char *dlq_topic(dlq *d);

/* Accepts NULL. */
void dlq_free(dlq *d);

#endif
