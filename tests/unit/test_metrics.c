/* test_metrics.c -- the Prometheus exposition: status counts, the latency
 * histogram's buckets (cumulative, bounds inclusive), 503 reasons, gauges,
 * and rendering into a buffer too small. */
#include "test.h"

#include "../../ingest-api/metrics.h"

#include <stdlib.h>

static char text[16384];

static const char *render(ingest_metrics *m, const metrics_sample *s)
{
    size_t need = metrics_render(m, s, text, sizeof(text));
    if (need >= sizeof(text))
        return NULL;
    return text;
}

/* The value of the series whose line starts with prefix (then a space). */
static double value_of(const char *t, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = t; p && *p;
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return atof(p + n + 1);
    }
    return -1;
}

static void metrics_statuses_counted_by_code(void)
{
    static ingest_metrics m;
    metrics_sample s = {0};
    const char *t;

    metrics_init(&m);
    metrics_count_status(&m, 202);
    metrics_count_status(&m, 202);
    metrics_count_status(&m, 401);
    metrics_count_status(&m, 503);
    metrics_count_status(&m, 299);
    t = render(&m, &s);
    ASSERT(t != NULL);
    ASSERT_EQ(value_of(t, "millrace_ingest_requests_total{code=\"202\"}"), 2);
    ASSERT_EQ(value_of(t, "millrace_ingest_requests_total{code=\"401\"}"), 1);
    ASSERT_EQ(value_of(t, "millrace_ingest_requests_total{code=\"503\"}"), 1);
    ASSERT_EQ(value_of(t, "millrace_ingest_requests_total{code=\"400\"}"), 0);
    ASSERT_EQ(value_of(t, "millrace_ingest_requests_total{code=\"other\"}"), 1);
    ASSERT_EQ(metrics_status_count(&m, 202), 2);
    ASSERT(strstr(t, "# TYPE millrace_ingest_requests_total counter\n"));
}

static void metrics_histogram_buckets_are_cumulative(void)
{
    static ingest_metrics m;
    metrics_sample s = {0};
    const char *t;
    const char *h = "millrace_ingest_request_duration_seconds";
    char series[128];

    metrics_init(&m);
    metrics_observe_us(&m, 300);      /* <= 0.0005 */
    metrics_observe_us(&m, 500);      /* on the bound: still 0.0005 */
    metrics_observe_us(&m, 501);      /* 0.001 */
    metrics_observe_us(&m, 20000);    /* 0.025 */
    metrics_observe_us(&m, 60000000); /* +Inf */
    t = render(&m, &s);
    ASSERT(t != NULL);
    ASSERT(strstr(t, "# TYPE millrace_ingest_request_duration_seconds "
                     "histogram\n"));
    snprintf(series, sizeof(series), "%s_bucket{le=\"0.0005\"}", h);
    ASSERT_EQ(value_of(t, series), 2);
    snprintf(series, sizeof(series), "%s_bucket{le=\"0.001\"}", h);
    ASSERT_EQ(value_of(t, series), 3);
    snprintf(series, sizeof(series), "%s_bucket{le=\"0.01\"}", h);
    ASSERT_EQ(value_of(t, series), 3);
    snprintf(series, sizeof(series), "%s_bucket{le=\"0.025\"}", h);
    ASSERT_EQ(value_of(t, series), 4);
    snprintf(series, sizeof(series), "%s_bucket{le=\"30\"}", h);
    ASSERT_EQ(value_of(t, series), 4);
    snprintf(series, sizeof(series), "%s_bucket{le=\"+Inf\"}", h);
    ASSERT_EQ(value_of(t, series), 5);
    snprintf(series, sizeof(series), "%s_count", h);
    ASSERT_EQ(value_of(t, series), 5);
    snprintf(series, sizeof(series), "%s_sum", h);
    ASSERT_EQ((long long)(value_of(t, series) * 1e6 + 0.5),
              300 + 500 + 501 + 20000 + 60000000);
}

static void metrics_unavailable_reasons_and_gauges(void)
{
    static ingest_metrics m;
    metrics_sample s = {0};
    const char *t;

    metrics_init(&m);
    metrics_count_unavailable(&m, METRICS_QUEUE_FULL);
    metrics_count_unavailable(&m, METRICS_UNREACHABLE);
    metrics_count_unavailable(&m, METRICS_UNREACHABLE);
    atomic_store(&m.in_flight, 3);
    atomic_store(&m.events_accepted, 42);
    s.queue_messages = 17;
    s.delivery_errors = 5;
    s.delivered = 99;
    s.room_waits = 7;
    s.fast_sends = 11;
    s.kafka_up = 1;
    t = render(&m, &s);
    ASSERT(t != NULL);
    ASSERT_EQ(value_of(t, "millrace_ingest_unavailable_total{reason="
                          "\"queue_full\"}"),
              1);
    ASSERT_EQ(value_of(t, "millrace_ingest_unavailable_total{reason="
                          "\"kafka_unreachable\"}"),
              2);
    ASSERT_EQ(value_of(t, "millrace_ingest_unavailable_total{reason="
                          "\"delivery_timeout\"}"),
              0);
    ASSERT_EQ(value_of(t, "millrace_ingest_in_flight_requests"), 3);
    ASSERT_EQ(value_of(t, "millrace_ingest_events_accepted_total"), 42);
    ASSERT_EQ(value_of(t, "millrace_ingest_producer_queue_messages"), 17);
    ASSERT_EQ(value_of(t, "millrace_ingest_delivery_errors_total"), 5);
    ASSERT_EQ(value_of(t, "millrace_ingest_delivered_total"), 99);
    ASSERT_EQ(value_of(t, "millrace_ingest_queue_full_waits_total"), 7);
    ASSERT_EQ(value_of(t, "millrace_ingest_fast_lane_requests_total"), 11);
    ASSERT_EQ(value_of(t, "millrace_ingest_kafka_up"), 1);
    ASSERT_EQ(value_of(t, "millrace_ingest_draining"), 0);
}

static void metrics_render_reports_length_when_truncated(void)
{
    static ingest_metrics m;
    metrics_sample s = {0};
    char small[64];
    size_t need, again;

    metrics_init(&m);
    need = metrics_render(&m, &s, small, sizeof(small));
    ASSERT(need > sizeof(small));
    ASSERT_EQ(strlen(small), sizeof(small) - 1);
    again = metrics_render(&m, &s, text, sizeof(text));
    ASSERT_EQ(again, need);
    ASSERT_EQ(strlen(text), need);
}

static void metrics_every_line_is_comment_or_sample(void)
{
    static ingest_metrics m;
    metrics_sample s = {0};
    const char *t;

    metrics_init(&m);
    t = render(&m, &s);
    ASSERT(t != NULL);
    ASSERT(t[strlen(t) - 1] == '\n');
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        const char *sp = memchr(p, ' ', (size_t)(nl - p));
        ASSERT(nl != NULL);
        if (p[0] != '#') {
            ASSERT(sp != NULL);
            ASSERT(strncmp(p, "millrace_ingest_", 16) == 0 ||
                   strncmp(p, "process_", 8) == 0);
        }
        p = nl + 1;
    }
}

/* promtool's rule: every family has HELP then TYPE before its samples;
 * build_info carries the version; process_* come when sampled. */
static void metrics_every_family_has_help_build_info_and_process(void)
{
    static ingest_metrics m;
    metrics_sample s = {0};
    const char *t;
    int families = 0;

    metrics_init(&m);
    s.have_process = prom_process_read(&s.process) == 0;
    ASSERT_EQ(s.have_process, 1);
    t = render(&m, &s);
    ASSERT(t != NULL);
    for (const char *p = strstr(t, "# TYPE "); p;
         p = strstr(p + 1, "# TYPE ")) {
        char name[128];
        char help[160];
        size_t n = strcspn(p + 7, " ");
        snprintf(name, sizeof(name), "%.*s", (int)n, p + 7);
        snprintf(help, sizeof(help), "# HELP %s ", name);
        if (strstr(t, help) == NULL || strstr(t, help) > p)
            TEST_FAIL_("%s: no # HELP before its # TYPE", name);
        families++;
    }
    ASSERT_EQ(families, 14 + 6); /* millrace_ingest_*, process_* */
    ASSERT(strstr(t, "\nmillrace_ingest_build_info{version=\"") != NULL);
    ASSERT(value_of(t, "process_open_fds") >= 3);
    ASSERT(value_of(t, "process_resident_memory_bytes") > 0);
    ASSERT(value_of(t, "process_start_time_seconds") > 1.7e9);
}

TEST_MAIN(T(metrics_statuses_counted_by_code),
          T(metrics_histogram_buckets_are_cumulative),
          T(metrics_unavailable_reasons_and_gauges),
          T(metrics_render_reports_length_when_truncated),
          T(metrics_every_line_is_comment_or_sample),
          T(metrics_every_family_has_help_build_info_and_process))
