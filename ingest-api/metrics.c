/* metrics.c -- ingest-api's request counters and its request latency
 * histogram, rendered in Prometheus text format. Request threads only add
 * to atomics (no lock on the request path). Pure: no sockets. */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "prom.h"

static const int statuses[METRICS_N_STATUS] = METRICS_STATUSES;
static const double bounds[METRICS_N_BUCKET] = METRICS_BUCKETS;

void metrics_init(ingest_metrics *m)
{
    for (int i = 0; i <= METRICS_N_STATUS; i++)
        atomic_init(&m->by_status[i], 0);
    for (int i = 0; i <= METRICS_N_BUCKET; i++)
        atomic_init(&m->bucket[i], 0);
    for (int i = 0; i < METRICS_N_REASON; i++)
        atomic_init(&m->unavailable[i], 0);
    atomic_init(&m->events_accepted, 0);
    atomic_init(&m->body_bytes, 0);
    atomic_init(&m->latency_count, 0);
    atomic_init(&m->latency_sum_us, 0);
    atomic_init(&m->in_flight, 0);
}

static int slot_of(int status)
{
    for (int i = 0; i < METRICS_N_STATUS; i++)
        if (statuses[i] == status)
            return i;
    return METRICS_N_STATUS;
}

void metrics_count_status(ingest_metrics *m, int status)
{
    atomic_fetch_add_explicit(&m->by_status[slot_of(status)], 1,
                              memory_order_relaxed);
}

void metrics_count_unavailable(ingest_metrics *m, metrics_reason why)
{
    if ((int)why >= 0 && why < METRICS_N_REASON)
        atomic_fetch_add_explicit(&m->unavailable[why], 1,
                                  memory_order_relaxed);
}

unsigned long long metrics_status_count(const ingest_metrics *m, int status)
{
    return atomic_load(&m->by_status[slot_of(status)]);
}

void metrics_observe_us(ingest_metrics *m, long long us)
{
    int i = 0;

    if (us < 0)
        us = 0;
    /* bounds[i] is in seconds; a value on a bound belongs to its bucket */
    while (i < METRICS_N_BUCKET && (double)us > bounds[i] * 1e6 + 0.5)
        i++;
    atomic_fetch_add_explicit(&m->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_us, (unsigned long long)us,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
}

static void render_requests(prom_out *o, const ingest_metrics *m)
{
    const char *name = "millrace_ingest_requests_total";

    prom_family(o, name, "counter", "HTTP requests answered, by status code.");
    for (int i = 0; i < METRICS_N_STATUS; i++)
        prom_printf(o, "%s{code=\"%d\"} %llu\n", name, statuses[i],
                    (unsigned long long)atomic_load(&m->by_status[i]));
    prom_printf(
        o, "%s{code=\"other\"} %llu\n", name,
        (unsigned long long)atomic_load(&m->by_status[METRICS_N_STATUS]));
}

static void render_latency(prom_out *o, const ingest_metrics *m)
{
    unsigned long long cum[METRICS_N_BUCKET];
    unsigned long long total = 0;

    for (int i = 0; i < METRICS_N_BUCKET; i++) {
        total += atomic_load(&m->bucket[i]);
        cum[i] = total;
    }
    total += atomic_load(&m->bucket[METRICS_N_BUCKET]);
    /* _count equals the +Inf bucket: both are read from one snapshot. */
    prom_histogram(o, "millrace_ingest_request_duration_seconds",
                   "Time to answer POST /v1/events, from its headers to its "
                   "response.",
                   bounds, cum, METRICS_N_BUCKET, total,
                   (double)atomic_load(&m->latency_sum_us) / 1e6);
}

static void render_unavailable(prom_out *o, const ingest_metrics *m)
{
    static const char *const reasons[METRICS_N_REASON] = {
        [METRICS_QUEUE_FULL] = "queue_full",
        [METRICS_UNREACHABLE] = "kafka_unreachable",
        [METRICS_TIMEOUT] = "delivery_timeout",
        [METRICS_FAILED] = "delivery_failed",
        [METRICS_FATAL] = "producer_fatal",
        [METRICS_SHUTTING_DOWN] = "shutting_down",
        [METRICS_MEMORY_FULL] = "memory_full",
    };
    const char *name = "millrace_ingest_unavailable_total";

    prom_family(o, name, "counter", "Requests answered 503, by reason.");
    for (int i = 0; i < METRICS_N_REASON; i++)
        prom_printf(o, "%s{reason=\"%s\"} %llu\n", name, reasons[i],
                    (unsigned long long)atomic_load(&m->unavailable[i]));
}

size_t metrics_render(const ingest_metrics *m, const metrics_sample *s,
                      char *buf, size_t len)
{
    prom_out o;

    prom_init(&o, buf, len);
    prom_build_info(&o, "millrace_ingest", MILLRACE_VERSION);
    render_requests(&o, m);
    render_latency(&o, m);
    prom_counter(&o, "millrace_ingest_events_accepted_total",
                 "Events answered 202 (each one a Kafka record).",
                 atomic_load(&m->events_accepted));
    prom_counter(&o, "millrace_ingest_request_body_bytes_total",
                 "Request body bytes read from clients (before gunzip).",
                 atomic_load(&m->body_bytes));
    prom_gauge(&o, "millrace_ingest_in_flight_requests",
               "POST /v1/events requests being handled now.",
               atomic_load(&m->in_flight));
    prom_gauge(&o, "millrace_ingest_producer_queue_messages",
               "Records in the producer queue: not yet acknowledged by Kafka.",
               s->queue_messages);
    prom_counter(&o, "millrace_ingest_delivered_total",
                 "Records Kafka acknowledged (delivery reports without error).",
                 s->delivered);
    prom_counter(&o, "millrace_ingest_delivery_errors_total",
                 "Records whose delivery report was an error (not persisted).",
                 s->delivery_errors);
    prom_counter(&o, "millrace_ingest_queue_full_waits_total",
                 "Requests that found the producer queue full and waited "
                 "for room.",
                 s->room_waits);
    prom_counter(&o, "millrace_ingest_fast_lane_requests_total",
                 "Ack mode kafka requests sent at once by the fast lane "
                 "(ingest.fast_lane) rather than batched.",
                 s->fast_sends);
    render_unavailable(&o, m);
    prom_gauge(&o, "millrace_ingest_kafka_up",
               "1 unless the Kafka cluster is unreachable (as for /readyz).",
               s->kafka_up);
    prom_gauge(&o, "millrace_ingest_draining",
               "1 after SIGTERM: new requests are refused.", s->draining);
    if (s->have_process)
        prom_process_write(&o, &s->process);
    return o.need;
}
