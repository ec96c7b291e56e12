/* config.c -- the uploader's settings and their declarative table. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "encode.h"
#include "kafka.h"
#include "kafkasec.h"
#include "objkey.h"

const char *const uploader_store_names[] = {"s3", "local", NULL};
const char *const uploader_content_encoding_names[] = {"none", "format", NULL};
const char *const uploader_assignment_names[] = {"cooperative-sticky", "range",
                                                 "roundrobin", NULL};
const char *const uploader_on_permanent_error_names[] = {"block", "dlq", NULL};
const char *const uploader_sse_names[] = {"", "AES256", "aws:kms", NULL};

#define ROW(name, type, field, def, min, max, choices, env, desc)              \
    {                                                                          \
        name, type, offsetof(uploader_config, field), def, min, max, choices,  \
            env, 0, desc                                                       \
    }
#define SECRET(name, field, env, desc)                                         \
    {                                                                          \
        name, CFG_STR, offsetof(uploader_config, field), NULL, 0, 0, NULL,     \
            env, 1, desc                                                       \
    }

static const cfg_row rows[] = {
    SETTINGS_KAFKA_ROWS(uploader_config, kafka),
    SETTINGS_LOG_ROWS(uploader_config, log),
    ROW("uploader.group", CFG_STR, uploader.group, "uploader", 0, 0, NULL,
        "CONSUMER_GROUP", "Kafka consumer group the replicas share."),
    ROW("uploader.workers", CFG_INT, uploader.workers, "4", 1, 1024, NULL,
        "MAX_WORKERS", "Upload threads (the article's MAX_WORKERS)."),
    ROW("uploader.queue", CFG_INT, uploader.queue, "8", 1, 65536, NULL,
        "MAX_QUEUE",
        "Closed batches waiting for a worker (the article's MAX_QUEUE); when "
        "full, partitions pause."),
    ROW("uploader.max_records", CFG_INT, uploader.max_records, "100000", 1,
        100000000, NULL, NULL, "A batch closes at this many records."),
    ROW("uploader.max_bytes", CFG_SIZE, uploader.max_bytes, "64M", 1024,
        4LL << 30, NULL, NULL,
        "A batch closes at this many bytes of NDJSON (uncompressed, a "
        "newline after each event)."),
    ROW("uploader.max_buffer_bytes", CFG_SIZE, uploader.max_buffer_bytes,
        "192M", 3LL << 20, 1LL << 40, NULL, "MAX_BUFFER_BYTES",
        "Memory all batches may hold at once: a partition holds at most "
        "two (one uploading, one collecting or waiting), so a batch also "
        "closes at this / (2 x assigned partitions) bytes of NDJSON and "
        "records. The uploader's memory bound is a formula of this "
        "(docs/operations.md#memory)."),
    ROW("uploader.max_age_ms", CFG_INT, uploader.max_age_ms, "60000", 10,
        86400000, NULL, "MAX_AGE_MS",
        "A batch closes this long after its first record, even if idle."),
    ROW("uploader.format", CFG_ENUM, uploader.format, "gzip", 0, 0,
        encode_format_names, NULL, "Object compression."),
    ROW("uploader.content_encoding", CFG_ENUM, uploader.content_encoding,
        "none", 0, 0, uploader_content_encoding_names, NULL,
        "none: an object is stored as the file its name says (.ndjson.gz "
        "with Content-Type application/gzip, no Content-Encoding), as "
        "Firehose and Kafka Connect's S3 sink store theirs, so that no HTTP "
        "client decompresses it on download; format: Content-Type "
        "application/x-ndjson with Content-Encoding gzip or zstd, as Vector "
        "and Fluent Bit do."),
    ROW("uploader.level", CFG_INT, uploader.level, "6", 1, 19, NULL, NULL,
        "Compression level (gzip 1-9, zstd 1-19)."),
    ROW("uploader.store", CFG_ENUM, uploader.store, "s3", 0, 0,
        uploader_store_names, "STORE",
        "Where objects go: S3, or a local directory (for trials)."),
    ROW("uploader.local_dir", CFG_STR, uploader.local_dir, "./data", 0, 0, NULL,
        NULL, "Root directory of the local store."),
    ROW("uploader.listen", CFG_STR, uploader.listen, "8081", 0, 0, NULL,
        "HEALTH_PORT", "Address of /healthz, /readyz and /metrics."),
    ROW("uploader.retry_base_ms", CFG_INT, uploader.retry_base_ms, "200", 1,
        60000, NULL, NULL, "First retry delay of a failed upload."),
    ROW("uploader.retry_max_ms", CFG_INT, uploader.retry_max_ms, "30000", 1,
        3600000, NULL, NULL, "Longest retry delay (backoff doubles to it)."),
    ROW("uploader.shutdown_timeout_ms", CFG_INT, uploader.shutdown_timeout_ms,
        "20000", 0, 600000, NULL, NULL,
        "On SIGTERM, how long in-flight uploads may finish before they are "
        "abandoned (their records are re-read by the next owner)."),
    ROW("uploader.revoke_timeout_ms", CFG_INT, uploader.revoke_timeout_ms,
        "30000", 0, 600000, NULL, NULL,
        "On a rebalance, how long a revoked partition's upload may finish."),
    ROW("uploader.assignment", CFG_ENUM, uploader.assignment,
        "cooperative-sticky", 0, 0, uploader_assignment_names, NULL,
        "Partition assignment: cooperative-sticky moves only the partitions "
        "that must move when replicas come and go."),
    ROW("uploader.time_field", CFG_STR, uploader.time_field, "", 0, 0, NULL,
        NULL,
        "Event field that places a record in an hour (epoch ms or s, or an "
        "RFC 3339 string); empty or absent: the Kafka timestamp."),
    ROW("uploader.line_metadata", CFG_BOOL, uploader.line_metadata, "false", 0,
        0, NULL, NULL,
        "Add \"_kafka\":{topic,partition,offset,timestamp} to each line."),
    ROW("uploader.max_record_bytes", CFG_SIZE, uploader.max_record_bytes, "16M",
        16, 1LL << 30, NULL, NULL,
        "Larger records go to the dead-letter topic."),
    ROW("uploader.max_json_depth", CFG_INT, uploader.max_json_depth, "1000", 1,
        100000, NULL, NULL,
        "Records nested deeper go to the dead-letter topic."),
    ROW("uploader.on_permanent_error", CFG_ENUM, uploader.on_permanent_error,
        "block", 0, 0, uploader_on_permanent_error_names, NULL,
        "block: an object the store refuses for good stops its partition "
        "until fixed; dlq: after permanent_retries its records go to the "
        "dead-letter topic and the partition moves on."),
    ROW("uploader.permanent_retries", CFG_INT, uploader.permanent_retries, "5",
        1, 1000000, NULL, NULL,
        "Attempts before on_permanent_error = dlq gives up on an object."),
    ROW("uploader.multipart_threshold", CFG_SIZE, uploader.multipart_threshold,
        "32M", 5LL << 20, 5LL << 30, NULL, NULL,
        "Objects larger than this go up as multipart uploads."),
    ROW("uploader.part_size", CFG_SIZE, uploader.part_size, "8M", 5LL << 20,
        5LL << 30, NULL, NULL,
        "Multipart part size; parts go up in parallel on the workers."),
    ROW("uploader.lag_interval_ms", CFG_INT, uploader.lag_interval_ms, "5000",
        100, 600000, NULL, NULL,
        "How often consumer lag per partition is measured for /metrics."),
    ROW("uploader.index", CFG_BOOL, uploader.index, "true", 0, 0, NULL, NULL,
        "Write an index entry per batch under {prefix}/_millrace/index/, "
        "so replay re-makes batches exactly."),
    ROW("uploader.hour_markers", CFG_BOOL, uploader.hour_markers, "true", 0, 0,
        NULL, "HOUR_MARKERS",
        "Write a _SUCCESS manifest into each hour's folder once the hour is "
        "complete (docs/querying.md); needs s3:GetObject, s3:PutObject and "
        "s3:DeleteObject on {prefix}/_millrace/hours/."),
    ROW("uploader.hour_lateness_ms", CFG_INT, uploader.hour_lateness_ms,
        "60000", 0, 7LL * 86400000, NULL, "HOUR_LATENESS_MS",
        "Allowed lateness: how far a record's hour time may lag behind the "
        "newest Kafka timestamp already in its partition. With Kafka "
        "timestamps, at least the ingest-api's delivery_timeout_ms plus "
        "clock skew; with time_field, how late events may come. An hour is "
        "marked this long after it ends, at the earliest."),
    ROW("uploader.hour_check_ms", CFG_INT, uploader.hour_check_ms, "30000", 100,
        3600000, NULL, NULL,
        "How often each replica looks for complete hours to mark."),
    ROW("s3.endpoint", CFG_STR, s3.endpoint, "", 0, 0, NULL, "S3_ENDPOINT",
        "S3 endpoint URL, e.g. http://127.0.0.1:7070 (empty: AWS, "
        "https://s3.REGION.amazonaws.com)."),
    ROW("s3.bucket", CFG_STR, s3.bucket, "", 0, 0, NULL, "S3_BUCKET",
        "Bucket objects are written to."),
    ROW("s3.region", CFG_STR, s3.region, "", 0, 0, NULL, "AWS_REGION",
        "Region used in signatures; empty: AWS_DEFAULT_REGION, then the "
        "shared profile's region, then us-east-1."),
    ROW("s3.prefix", CFG_STR, s3.prefix, "", 0, 0, NULL, "S3_PREFIX",
        "Key prefix before {topic}/dt=.../."),
    ROW("s3.access_key", CFG_STR, s3.access_key, "", 0, 0, NULL,
        "AWS_ACCESS_KEY_ID",
        "Access key id; empty: the AWS credential chain (web identity, "
        "shared profile, container, instance metadata)."),
    SECRET("s3.secret_key", s3.secret_key, "AWS_SECRET_ACCESS_KEY",
           "Secret access key, with s3.access_key."),
    SECRET("s3.session_token", s3.session_token, "AWS_SESSION_TOKEN",
           "Session token of temporary keys given in s3.access_key and "
           "s3.secret_key (they are not renewed)."),
    ROW("s3.path_style", CFG_AUTO_BOOL, s3.path_style, "auto", 0, 0, NULL,
        "S3_PATH_STYLE",
        "true: http://host/bucket/key; false: virtual-hosted "
        "http://bucket.host/key; auto: virtual-hosted on AWS (s3.endpoint "
        "empty) unless the bucket name cannot be a host name (dots, "
        "capitals, underscores), path style for any other endpoint."),
    ROW("s3.connect_timeout_ms", CFG_INT, s3.connect_timeout_ms, "5000", 100,
        600000, NULL, NULL, "TCP/TLS connect timeout."),
    ROW("s3.request_timeout_ms", CFG_INT, s3.request_timeout_ms, "120000", 1000,
        3600000, NULL, NULL, "Longest time for one PUT."),
    ROW("s3.sse", CFG_ENUM, s3.sse, "", 0, 0, uploader_sse_names, "S3_SSE",
        "Server-side encryption: empty (bucket default), AES256 or aws:kms."),
    ROW("s3.sse_kms_key_id", CFG_STR, s3.sse_kms_key_id, "", 0, 0, NULL,
        "S3_SSE_KMS_KEY_ID", "KMS key id with s3.sse = aws:kms."),
    ROW("s3.storage_class", CFG_STR, s3.storage_class, "", 0, 0, NULL,
        "S3_STORAGE_CLASS",
        "Storage class of new objects (e.g. STANDARD_IA); empty: the "
        "bucket's default."),
};

void uploader_config_table(cfg_table *t, uploader_config *c)
{
    memset(t, 0, sizeof(*t));
    t->rows = rows;
    t->n = sizeof(rows) / sizeof(rows[0]);
    t->base = c;
}

/* The exactly-once argument: offsets are committed by the uploader, only
 * past records stored in S3 (or in the dead-letter topic, whose producer
 * must persist them first). Properties that would commit or skip ahead on
 * their own are refused. */
static const char *const is_false[] = {"false", NULL};
static const char *const is_true[] = {"true", NULL};
static const char *const acks_all[] = {"all", "-1", NULL};
static const char *const from_start[] = {"earliest", "smallest", "beginning",
                                         NULL};
static const kafka_guard exactly_once[] = {
    {"enable.auto.commit", "false", is_false,
     "librdkafka would commit offsets of records not yet in S3"},
    {"auto.commit.enable", "false", is_false, /* the legacy topic-level name */
     "librdkafka would commit offsets of records not yet in S3"},
    {"enable.auto.offset.store", "false", is_false,
     "librdkafka would store offsets of records not yet in S3"},
    {"auto.offset.reset", "earliest", from_start,
     "a new group, or an offset past retention, would skip the records "
     "before the end of the partition"},
    {"acks", "all", acks_all,
     "a dead-lettered record could be lost after its offset is committed"},
    {"enable.idempotence", "true", is_true,
     "a retried dead-letter record could be stored twice"},
};

void uploader_config_validate(const uploader_config *c, cfg_errors *errs)
{
    if (c->kafka.brokers[0] == '\0')
        cfg_error_add(errs, "kafka.brokers is empty");
    if (c->kafka.topic[0] == '\0')
        cfg_error_add(errs, "kafka.topic is empty");
    kafkasec_validate(&c->kafka, errs);
    if (c->uploader.group[0] == '\0')
        cfg_error_add(errs, "uploader.group is empty");
    if (!objkey_safe(c->s3.prefix))
        cfg_error_add(errs,
                      "s3.prefix \"%s\": only 0-9 a-z A-Z ! - _ . * ' ( ) "
                      "/ and = (the characters safe in keys)",
                      c->s3.prefix);
    kafka_properties_guard(c->kafka.properties, exactly_once,
                           sizeof(exactly_once) / sizeof(exactly_once[0]),
                           errs);
    if (c->uploader.format == ENCODE_GZIP && c->uploader.level > 9)
        cfg_error_add(errs, "uploader.level %lld: gzip levels are 1-9",
                      c->uploader.level);
    if (c->uploader.part_size > c->uploader.multipart_threshold)
        cfg_error_add(errs, "uploader.part_size exceeds "
                            "uploader.multipart_threshold");
    if (c->s3.sse != UPLOADER_SSE_KMS && c->s3.sse_kms_key_id[0])
        cfg_error_add(errs, "s3.sse_kms_key_id is set but s3.sse is not "
                            "aws:kms");
    if (c->uploader.store == UPLOADER_STORE_S3) {
        if (c->s3.bucket[0] == '\0')
            cfg_error_add(errs, "s3.bucket is required when uploader.store "
                                "is s3");
        /* No keys is fine: the credential chain finds them at start. */
        if ((c->s3.access_key[0] == '\0') != (c->s3.secret_key[0] == '\0'))
            cfg_error_add(errs, "s3.access_key and s3.secret_key go together "
                                "(env AWS_ACCESS_KEY_ID, "
                                "AWS_SECRET_ACCESS_KEY); set both, or "
                                "neither to use the AWS credential chain");
        else if (c->s3.session_token[0] && c->s3.access_key[0] == '\0')
            cfg_error_add(errs, "s3.session_token is set without "
                                "s3.access_key and s3.secret_key");
    } else if (c->uploader.local_dir[0] == '\0') {
        cfg_error_add(errs, "uploader.local_dir is empty");
    }
}
