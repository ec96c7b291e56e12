/* health.c -- the uploader's small HTTP surface: /healthz, /readyz and
 * /metrics, for orchestrators and Prometheus. */
#include "health.h"

#include <civetweb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

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

/* Not ready without usable credentials, or while uploads keep failing
 * permanently: an operator must look. */
static int on_readyz(struct mg_connection *conn, void *d)
{
    health *h = d;
    const char *body;

    if (h->creds && !creds_ok(h->creds)) {
        body = "{\"status\":\"no_credentials\",\"detail\":\"no usable AWS "
               "credentials; see the log\"}\n";
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

/* Appends to a fixed buffer; output past its end is dropped. */
typedef struct text {
    char buf[16384];
    size_t n;
} text;

static void put(text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (t->n >= sizeof(t->buf))
        return;
    va_start(ap, fmt);
    r = vsnprintf(t->buf + t->n, sizeof(t->buf) - t->n, fmt, ap);
    va_end(ap);
    if (r > 0)
        t->n = t->n + (size_t)r < sizeof(t->buf) ? t->n + (size_t)r
                                                 : sizeof(t->buf) - 1;
}

static void counter(text *t, const char *name, unsigned long long v)
{
    put(t, "# TYPE %s counter\n%s %llu\n", name, name, v);
}

static void gauge(text *t, const char *name, long long v)
{
    put(t, "# TYPE %s gauge\n%s %lld\n", name, name, v);
}

static void latency(text *t, upload_stats *s)
{
    const char *name = "millrace_uploader_upload_duration_seconds";

    put(t, "# TYPE %s histogram\n", name);
    for (int i = 0; i < UPLOAD_LATENCY_BUCKETS; i++)
        put(t, "%s_bucket{le=\"%g\"} %llu\n", name, upload_latency_bounds[i],
            (unsigned long long)atomic_load(&s->latency_le[i]));
    put(t, "%s_bucket{le=\"+Inf\"} %llu\n", name,
        (unsigned long long)atomic_load(&s->latency_count));
    put(t, "%s_sum %.6f\n%s_count %llu\n", name,
        (double)atomic_load(&s->latency_sum_us) / 1e6, name,
        (unsigned long long)atomic_load(&s->latency_count));
}

/* Whether uploads can be signed, and with what, for alerts. */
static void credentials(text *t, creds_provider *cp)
{
    creds_status s;

    if (cp == NULL)
        return;
    creds_provider_status(cp, &s);
    gauge(t, "millrace_uploader_credentials_ok", s.ok);
    put(t,
        "# TYPE millrace_uploader_credentials_info gauge\n"
        "millrace_uploader_credentials_info{source=\"%s\"} 1\n",
        creds_source_name(s.source));
    gauge(t, "millrace_uploader_credentials_expiry_timestamp_seconds",
          (long long)s.expiration);
    counter(t, "millrace_uploader_credentials_refreshes_total", s.refreshes);
    counter(t, "millrace_uploader_credentials_failures_total", s.failures);
}

static int on_metrics(struct mg_connection *conn, void *d)
{
    health *h = d;
    upload_stats *st = h->stats;
    consumer_status s;
    consumer_lag lag[1024];
    int nlag;
    text *t = calloc(1, sizeof(*t));
    int rc;

    if (t == NULL)
        return send_text(conn, 503, "text/plain", "out of memory\n", 14);
    consumer_get_status(h->c, &s);
    counter(t, "millrace_uploader_records_consumed_total", s.records_consumed);
    counter(t, "millrace_uploader_batches_closed_total", s.batches_closed);
    counter(t, "millrace_uploader_commits_total", s.commits);
    counter(t, "millrace_uploader_objects_written_total",
            atomic_load(&st->objects));
    counter(t, "millrace_uploader_bytes_written_total",
            atomic_load(&st->bytes));
    counter(t, "millrace_uploader_records_written_total",
            atomic_load(&st->records));
    counter(t, "millrace_uploader_retries_total", atomic_load(&st->retries));
    counter(t, "millrace_uploader_throttled_total",
            atomic_load(&st->throttled));
    counter(t, "millrace_uploader_permanent_errors_total",
            atomic_load(&st->permanent_errors));
    counter(t, "millrace_uploader_multipart_uploads_total",
            atomic_load(&st->multipart_uploads));
    counter(t, "millrace_uploader_dlq_records_total", dlq_count(h->dq));
    gauge(t, "millrace_uploader_failing_uploads", atomic_load(&st->failing));
    gauge(t, "millrace_uploader_assigned_partitions", s.assigned);
    gauge(t, "millrace_uploader_paused_partitions", s.paused);
    gauge(t, "millrace_uploader_queue_depth", s.queued);
    gauge(t, "millrace_uploader_busy_workers", s.busy);
    credentials(t, h->creds);
    latency(t, st);
    nlag = consumer_get_lag(h->c, lag, 1024);
    put(t, "# TYPE millrace_uploader_consumer_lag gauge\n");
    for (int i = 0; i < nlag; i++)
        put(t, "millrace_uploader_consumer_lag{partition=\"%d\"} %lld\n",
            lag[i].partition, lag[i].lag);
    rc = send_text(conn, 200, "text/plain; version=0.0.4", t->buf, t->n);
    free(t);
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
