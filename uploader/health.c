/* health.c -- the uploader's small HTTP surface: /healthz, /readyz and
 * /metrics, for orchestrators and Prometheus. */
#include "health.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct health {
    struct mg_context *ctx;
    consumer *c;
    upload_stats *stats;
};

static int send_text(struct mg_connection *conn, int status,
                     const char *ctype, const char *body, size_t len)
{
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
              "%zu\r\n\r\n",
              status, status == 200 ? "OK" : "Service Unavailable", ctype,
              len);
    mg_write(conn, body, len);
    return status;
}

static int on_healthz(struct mg_connection *conn, void *d)
{
    (void)d;
    return send_text(conn, 200, "application/json", "{\"status\":\"ok\"}\n",
                     16);
}

/* Not ready while uploads keep failing permanently: an operator must look. */
static int on_readyz(struct mg_connection *conn, void *d)
{
    health *h = d;
    const char *body;

    if (atomic_load(&h->stats->failing)) {
        body = "{\"status\":\"failing\",\"detail\":\"uploads are rejected "
               "by the store; see the log\"}\n";
        return send_text(conn, 503, "application/json", body, strlen(body));
    }
    body = "{\"status\":\"ready\"}\n";
    return send_text(conn, 200, "application/json", body, strlen(body));
}

static int on_metrics(struct mg_connection *conn, void *d)
{
    health *h = d;
    consumer_status s;
    char buf[4096];
    int n;

    consumer_get_status(h->c, &s);
    n = snprintf(
        buf, sizeof(buf),
        "# TYPE millrace_uploader_records_consumed_total counter\n"
        "millrace_uploader_records_consumed_total %llu\n"
        "# TYPE millrace_uploader_batches_closed_total counter\n"
        "millrace_uploader_batches_closed_total %llu\n"
        "# TYPE millrace_uploader_commits_total counter\n"
        "millrace_uploader_commits_total %llu\n"
        "# TYPE millrace_uploader_objects_written_total counter\n"
        "millrace_uploader_objects_written_total %llu\n"
        "# TYPE millrace_uploader_bytes_written_total counter\n"
        "millrace_uploader_bytes_written_total %llu\n"
        "# TYPE millrace_uploader_records_written_total counter\n"
        "millrace_uploader_records_written_total %llu\n"
        "# TYPE millrace_uploader_retries_total counter\n"
        "millrace_uploader_retries_total %llu\n"
        "# TYPE millrace_uploader_permanent_errors_total counter\n"
        "millrace_uploader_permanent_errors_total %llu\n"
        "# TYPE millrace_uploader_assigned_partitions gauge\n"
        "millrace_uploader_assigned_partitions %d\n"
        "# TYPE millrace_uploader_paused_partitions gauge\n"
        "millrace_uploader_paused_partitions %d\n"
        "# TYPE millrace_uploader_queue_depth gauge\n"
        "millrace_uploader_queue_depth %d\n"
        "# TYPE millrace_uploader_busy_workers gauge\n"
        "millrace_uploader_busy_workers %d\n",
        s.records_consumed, s.batches_closed, s.commits,
        (unsigned long long)atomic_load(&h->stats->objects),
        (unsigned long long)atomic_load(&h->stats->bytes),
        (unsigned long long)atomic_load(&h->stats->records),
        (unsigned long long)atomic_load(&h->stats->retries),
        (unsigned long long)atomic_load(&h->stats->permanent_errors),
        s.assigned, s.paused, s.queued, s.busy);
    return send_text(conn, 200, "text/plain; version=0.0.4", buf, (size_t)n);
}

health *health_start(const char *listen, consumer *c, upload_stats *stats,
                     char *errbuf, size_t errlen)
{
    health *h = calloc(1, sizeof(*h));
    struct mg_callbacks cb;
    const char *opts[] = {"listening_ports", listen, "num_threads", "4",
                          NULL};

    if (h == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    h->c = c;
    h->stats = stats;
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
