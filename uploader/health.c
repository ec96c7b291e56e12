/* health.c -- the uploader's small HTTP surface: /healthz, /readyz and
 * /metrics, for orchestrators and Prometheus. */
#include "health.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "prom.h"

/* Partitions whose lag /metrics lists at most. */
#define HEALTH_MAX_LAG 65536

struct health {
    struct mg_context *ctx;
    consumer *c;
    dlq *dq;
    upload_stats *stats;
    creds_provider *creds; /* NULL: the local store */
};

static int send_text(struct mg_connection *conn, int status, const char *ctype,
                     const char *body, size_t len)
{
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
              "%zu\r\n\r\n",
              status, status == 200 ? "OK" : "Service Unavailable", ctype, len);
    mg_write(conn, body, len);
    return status;
}

static int on_healthz(struct mg_connection *conn, void *d)
{
    (void)d;
    return send_text(conn, 200, "application/json", "{\"status\":\"ok\"}\n",
                     16);
}

static int creds_ok(creds_provider *cp)
{
    creds_status s;

    creds_provider_status(cp, &s);
    return s.ok;
}

/* Not ready without usable credentials, while Kafka does not answer (or
 * refuses our TLS or SASL credentials), or while uploads keep failing
 * permanently: an operator must look. */
static int on_readyz(struct mg_connection *conn, void *d)
{
    health *h = d;
    consumer_status s;
    const char *body;

    if (h->creds && !creds_ok(h->creds)) {
        body = "{\"status\":\"no_credentials\",\"detail\":\"no usable AWS "
               "credentials; see the log\"}\n";
        return send_text(conn, 503, "application/json", body, strlen(body));
    }
    consumer_get_status(h->c, &s);
    if (!s.kafka_up) {
        body = "{\"status\":\"kafka_unreachable\",\"detail\":\"Kafka does "
               "not answer or refuses the connection; see the log\"}\n";
        return send_text(conn, 503, "application/json", body, strlen(body));
    }
    if (atomic_load(&h->stats->failing)) {
        body = "{\"status\":\"failing\",\"detail\":\"uploads are rejected "
               "by the store; see the log\"}\n";
        return send_text(conn, 503, "application/json", body, strlen(body));
    }
    body = "{\"status\":\"ready\"}\n";
    return send_text(conn, 200, "application/json", body, strlen(body));
}

/* One family per line of the table below: a counter or a gauge read from
 * the status snapshot or the upload statistics. */
typedef struct family {
    const char *name;
    const char *type;
    const char *help;
} family;

static const family families[] = {
    {"millrace_uploader_records_consumed_total", "counter",
     "Records read from Kafka into batches."},
    {"millrace_uploader_batches_closed_total", "counter",
     "Batches closed (by records, bytes or age) and queued for upload."},
    {"millrace_uploader_commits_total", "counter",
     "Offset commits to the consumer group (stored batches and plans)."},
    {"millrace_uploader_objects_written_total", "counter",
     "Objects the store confirmed."},
    {"millrace_uploader_bytes_written_total", "counter",
     "Bytes of objects the store confirmed (compressed)."},
    {"millrace_uploader_records_written_total", "counter",
     "Records in objects the store confirmed."},
    {"millrace_uploader_retries_total", "counter",
     "Failed store requests that were retried (any error)."},
    {"millrace_uploader_throttled_total", "counter",
     "Store answers asking to slow down (503 SlowDown and the like)."},
    {"millrace_uploader_permanent_errors_total", "counter",
     "Store answers that cannot succeed on retry (AccessDenied, "
     "NoSuchBucket, ...)."},
    {"millrace_uploader_multipart_uploads_total", "counter",
     "Objects uploaded as multipart uploads."},
    {"millrace_uploader_dlq_records_total", "counter",
     "Records written to the dead-letter topic."},
    {"millrace_uploader_failing_uploads", "gauge",
     "Uploads failing permanently right now; /readyz is 503 while above 0."},
    {"millrace_uploader_assigned_partitions", "gauge",
     "Partitions of the topic assigned to this replica."},
    {"millrace_uploader_paused_partitions", "gauge",
     "Assigned partitions paused because a closed batch waits for a "
     "worker."},
    {"millrace_uploader_queue_depth", "gauge",
     "Closed batches waiting for a worker."},
    {"millrace_uploader_busy_workers", "gauge", "Workers uploading now."},
};

/* Whether uploads can be signed, and with what, for alerts. */
static void credentials(prom_out *o, creds_provider *cp)
{
    const char *info = "millrace_uploader_credentials_info";
    creds_status s;

    if (cp == NULL)
        return;
    creds_provider_status(cp, &s);
    prom_gauge(o, "millrace_uploader_credentials_ok",
               "1 while the uploader holds credentials it may sign with; 0: "
               "uploads wait and /readyz is 503.",
               s.ok);
    prom_family(o, info, "gauge",
                "The source of the credentials in use (the AWS chain's "
                "order: settings, web identity, profile, container, IMDS).");
    prom_printf(o, "%s{source=\"%s\"} 1\n", info, creds_source_name(s.source));
    prom_gauge(o, "millrace_uploader_credentials_expiry_timestamp_seconds",
               "When the credentials in use expire (0: they do not).",
               (long long)s.expiration);
    prom_counter(o, "millrace_uploader_credentials_refreshes_total",
                 "Credentials obtained again from their source.", s.refreshes);
    prom_counter(o, "millrace_uploader_credentials_failures_total",
                 "Attempts to obtain credentials that failed.", s.failures);
}

static void hour_markers(prom_out *o, const consumer_status *s)
{
    prom_gauge(o, "millrace_uploader_complete_through_timestamp_seconds",
               "End of the newest hour of the topic that no record can "
               "still reach (its _SUCCESS is written once it has objects); "
               "0 until known.",
               s->complete_through_ms / 1000);
    prom_counter(o, "millrace_uploader_hour_markers_total",
                 "_SUCCESS manifests this replica wrote.", s->markers);
    prom_counter(o, "millrace_uploader_late_records_total",
                 "Records stored after their hour's _SUCCESS was written: "
                 "in the hour's folder, not in its manifest.",
                 s->late_records);
    prom_counter(o, "millrace_uploader_late_objects_total",
                 "Objects holding late records.", s->late_objects);
    prom_counter(o, "millrace_uploader_hour_check_failures_total",
                 "Looks for complete hours that could not finish (Kafka or "
                 "the store failed); the next one tries again.",
                 s->hour_failures);
}

static void render(prom_out *o, health *h, const consumer_status *s,
                   const consumer_lag *lag, int nlag, const prom_process *proc)
{
    upload_stats *st = h->stats;
    const unsigned long long v[] = {
        s->records_consumed,
        s->batches_closed,
        s->commits,
        atomic_load(&st->objects),
        atomic_load(&st->bytes),
        atomic_load(&st->records),
        atomic_load(&st->retries),
        atomic_load(&st->throttled),
        atomic_load(&st->permanent_errors),
        atomic_load(&st->multipart_uploads),
        dlq_count(h->dq),
        (unsigned long long)atomic_load(&st->failing),
        (unsigned long long)s->assigned,
        (unsigned long long)s->paused,
        (unsigned long long)s->queued,
        (unsigned long long)s->busy,
    };
    unsigned long long cum[UPLOAD_LATENCY_BUCKETS];
    const char *lag_name = "millrace_uploader_consumer_lag";

    _Static_assert(sizeof(v) / sizeof(v[0]) ==
                       sizeof(families) / sizeof(families[0]),
                   "one value per family");
    prom_build_info(o, "millrace_uploader", MILLRACE_VERSION);
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        prom_family(o, families[i].name, families[i].type, families[i].help);
        prom_printf(o, "%s %llu\n", families[i].name, v[i]);
    }
    for (int i = 0; i < UPLOAD_LATENCY_BUCKETS; i++)
        cum[i] = atomic_load(&st->latency_le[i]);
    prom_histogram(o, "millrace_uploader_upload_duration_seconds",
                   "Time to store one object, retries included.",
                   upload_latency_bounds, cum, UPLOAD_LATENCY_BUCKETS,
                   atomic_load(&st->latency_count),
                   (double)atomic_load(&st->latency_sum_us) / 1e6);
    credentials(o, h->creds);
    if (s->hours_on)
        hour_markers(o, s);
    prom_family(o, lag_name, "gauge",
                "Records of an assigned partition not yet committed: its "
                "end offset (asked of the broker, paused partitions too) "
                "minus the committed offset.");
    for (int i = 0; i < nlag; i++)
        prom_printf(o, "%s{partition=\"%d\"} %lld\n", lag_name,
                    lag[i].partition, lag[i].lag);
    if (proc)
        prom_process_write(o, proc);
}

static int on_metrics(struct mg_connection *conn, void *d)
{
    health *h = d;
    consumer_status s;
    consumer_lag *lag = calloc(HEALTH_MAX_LAG, sizeof(*lag));
    prom_process proc;
    int have_proc = prom_process_read(&proc) == 0;
    char *buf = NULL;
    prom_out o;
    int nlag;
    int rc;

    if (lag == NULL)
        return send_text(conn, 503, "text/plain", "out of memory\n", 14);
    consumer_get_status(h->c, &s);
    nlag = consumer_get_lag(h->c, lag, HEALTH_MAX_LAG);
    /* Counters move between passes: render until one fits whole. */
    for (size_t size = 16384;; size = o.need + 4096) {
        char *grown = realloc(buf, size);
        if (grown == NULL) {
            free(buf);
            free(lag);
            return send_text(conn, 503, "text/plain", "out of memory\n", 14);
        }
        buf = grown;
        prom_init(&o, buf, size);
        render(&o, h, &s, lag, nlag, have_proc ? &proc : NULL);
        if (o.need < size)
            break;
    }
    rc = send_text(conn, 200, "text/plain; version=0.0.4", buf, o.need);
    free(buf);
    free(lag);
    return rc;
}

health *health_start(const char *listen, consumer *c, dlq *dq,
                     upload_stats *stats, creds_provider *cp, char *errbuf,
                     size_t errlen)
{
    health *h = calloc(1, sizeof(*h));
    struct mg_callbacks cb;
    const char *opts[] = {"listening_ports", listen, "num_threads", "4", NULL};

    if (h == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    h->c = c;
    h->dq = dq;
    h->stats = stats;
    h->creds = cp;
    memset(&cb, 0, sizeof(cb));
    h->ctx = mg_start(&cb, h, opts);
    if (h->ctx == NULL) {
        snprintf(errbuf, errlen, "cannot listen on %s (in use?)", listen);
        free(h);
        return NULL;
    }
    mg_set_request_handler(h->ctx, "/healthz$", on_healthz, h);
    mg_set_request_handler(h->ctx, "/readyz$", on_readyz, h);
    mg_set_request_handler(h->ctx, "/metrics$", on_metrics, h);
    return h;
}

void health_stop(health *h)
{
    if (h == NULL)
        return;
    if (h->ctx)
        mg_stop(h->ctx);
    free(h);
}
