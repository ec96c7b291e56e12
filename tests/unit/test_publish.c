/* test_publish.c -- the publisher against librdkafka's in-process mock
 * cluster: delivery-report acks, the wait bound, failing fast while the
 * cluster is down and recovering when it returns, and a fatal producer
 * error refusing everything after it. Waits poll a condition with a
 * deadline; none sleeps a fixed time. */
#include "test.h"

#include "../../ingest-api/publish.h"
#include "../../common/log.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Kafka protocol ApiKey of Produce requests (librdkafka keeps its enum
 * private). */
#define PRODUCE_API_KEY 0

typedef struct mock {
    rd_kafka_t *host; /* the client the mock cluster lives in */
    rd_kafka_mock_cluster_t *mc;
} mock;

static int mock_start(mock *m)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    /* The cluster going down is expected here: keep the log quiet. */
    log_set_level((enum log_level)(LOG_ERROR + 1));
    rd_kafka_conf_set_log_cb(conf, NULL);
    memset(m, 0, sizeof(*m));
    m->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (m->host == NULL) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    m->mc = rd_kafka_mock_cluster_new(m->host, 1);
    if (m->mc == NULL || rd_kafka_mock_topic_create(m->mc, "t", 2, 1))
        return -1;
    return 0;
}

static void mock_stop(mock *m)
{
    if (m->mc)
        rd_kafka_mock_cluster_destroy(m->mc);
    if (m->host)
        rd_kafka_destroy(m->host);
}

/* A producer configuration for the mock cluster (NULL on failure).
 * linger: its linger.ms; wait_ms: message.timeout.ms; queue_max: the
 * producer queue's limit in records (0: librdkafka's). */
static rd_kafka_conf_t *mock_conf(mock *m, const char *linger, int wait_ms,
                                  int queue_max)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    char num[16];
    char qmax[16];

    rd_kafka_conf_set_log_cb(conf, NULL);
    snprintf(num, sizeof(num), "%d", wait_ms);
    snprintf(qmax, sizeof(qmax), "%d", queue_max);
    if (rd_kafka_conf_set(conf, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(m->mc), err,
                          sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err,
                          sizeof(err)) ||
        rd_kafka_conf_set(conf, "message.timeout.ms", num, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", linger, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "200", err,
                          sizeof(err)) ||
        (queue_max > 0 &&
         rd_kafka_conf_set(conf, "queue.buffering.max.messages", qmax, err,
                           sizeof(err)))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* room_wait_ms: a full queue's wait (0: the default). */
static publisher *new_publisher_q(mock *m, publish_ack ack, int wait_ms,
                                  int queue_max, int room_wait_ms)
{
    rd_kafka_conf_t *conf = mock_conf(m, "1", wait_ms, queue_max);
    publish_opts o = {"t", ack, wait_ms, 100, 0, room_wait_ms};
    char err[256];

    return conf ? publisher_new(conf, &o, err, sizeof(err)) : NULL;
}

static publisher *new_publisher(mock *m, publish_ack ack, int wait_ms)
{
    return new_publisher_q(m, ack, wait_ms, 0, 0);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls fn(p) == want for at most ms; returns 1 when it became true. */
static int wait_for(int (*fn)(publisher *), publisher *p, int want, int ms)
{
    long long end = mono_ms() + ms;

    while (mono_ms() < end) {
        if (fn(p) == want)
            return 1;
        usleep(10 * 1000); /* poll interval */
    }
    return fn(p) == want;
}

static event_batch three_events(void)
{
    static char v[3][24];
    static event ev[3];
    event_batch b = {ev, 3, 3, 0};

    for (int i = 0; i < 3; i++) {
        snprintf(v[i], sizeof(v[i]), "{\"i\":%d}", i);
        ev[i].value = v[i];
        ev[i].len = strlen(v[i]);
        ev[i].key = NULL;
        b.bytes += ev[i].len;
    }
    return b;
}

static void publish_kafka_ack_waits_for_every_report(void)
{
    mock m;
    publisher *p;
    event_batch b = three_events();
    publish_stats st;
    char detail[256];

    ASSERT_EQ(mock_start(&m), 0);
    p = new_publisher(&m, PUBLISH_ACK_KAFKA, 5000);
    ASSERT(p != NULL);
    ASSERT_EQ(publish_events(p, &b, "r-1", detail, sizeof(detail)), PUBLISH_OK);
    /* Every report arrived before publish_events returned. */
    publisher_stats(p, &st);
    ASSERT_EQ(st.delivered, 3);
    ASSERT_EQ(st.delivery_errors, 0);
    ASSERT_EQ(wait_for(publisher_ready, p, 1, 5000), 1);
    publisher_destroy(p, 1000);
    mock_stop(&m);
}

static void publish_queued_ack_returns_and_flush_delivers(void)
{
    mock m;
    publisher *p;
    event_batch b = three_events();
    char detail[256];

    ASSERT_EQ(mock_start(&m), 0);
    p = new_publisher(&m, PUBLISH_ACK_QUEUED, 5000);
    ASSERT(p != NULL);
    ASSERT_EQ(publish_events(p, &b, "r-2", detail, sizeof(detail)), PUBLISH_OK);
    ASSERT_EQ(rd_kafka_flush(publisher_handle(p), 5000), 0);
    publisher_destroy(p, 1000);
    mock_stop(&m);
}

static int not_ready(publisher *p)
{
    return !publisher_ready(p);
}

static void publish_down_cluster_fails_fast_then_recovers(void)
{
    mock m;
    publisher *p;
    event_batch b = three_events();
    char detail[256];
    long long t0;
    publish_status st;

    ASSERT_EQ(mock_start(&m), 0);
    p = new_publisher(&m, PUBLISH_ACK_KAFKA, 2000);
    ASSERT(p != NULL);
    ASSERT_EQ(wait_for(publisher_ready, p, 1, 5000), 1);
    ASSERT_EQ(publish_events(p, &b, "r-3", detail, sizeof(detail)), PUBLISH_OK);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    ASSERT_EQ(wait_for(not_ready, p, 1, 10000), 1);
    t0 = mono_ms();
    st = publish_events(p, &b, "r-4", detail, sizeof(detail));
    ASSERT_EQ(st, PUBLISH_UNREACHABLE);
    ASSERT(mono_ms() - t0 < 100);
    rd_kafka_mock_broker_set_up(m.mc, 1);
    ASSERT_EQ(wait_for(publisher_ready, p, 1, 10000), 1);
    ASSERT_EQ(publish_events(p, &b, "r-5", detail, sizeof(detail)), PUBLISH_OK);
    publisher_destroy(p, 1000);
    mock_stop(&m);
}

static void publish_wait_is_bounded_when_reports_do_not_come(void)
{
    mock m;
    publisher *p;
    event_batch b = three_events();
    char detail[256];
    long long t0, took;
    publish_status st;

    ASSERT_EQ(mock_start(&m), 0);
    p = new_publisher(&m, PUBLISH_ACK_KAFKA, 300);
    ASSERT(p != NULL);
    ASSERT_EQ(wait_for(publisher_ready, p, 1, 5000), 1);
    /* The broker answers produce requests only after 2 s: longer than the
     * 300 ms a request may wait. */
    rd_kafka_mock_broker_push_request_error_rtts(
        m.mc, 1, PRODUCE_API_KEY, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 2000);
    t0 = mono_ms();
    st = publish_events(p, &b, "r-6", detail, sizeof(detail));
    took = mono_ms() - t0;
    if (st != PUBLISH_TIMEOUT && st != PUBLISH_FAILED)
        TEST_FAIL_("status %d (%s), want a timeout or failure", st, detail);
    if (took > 300 + 150)
        TEST_FAIL_("waited %lld ms; the bound is 300", took);
    publisher_destroy(p, 3000);
    mock_stop(&m);
}

/* Was ready throughout ms (sampled every 10 ms)? */
static int ready_throughout(publisher *p, int ms)
{
    long long end = mono_ms() + ms;

    while (mono_ms() < end) {
        if (!publisher_ready(p))
            return 0;
        usleep(10 * 1000); /* poll interval */
    }
    return 1;
}

/* A broker that answers every request, but only after 3 s (starved of
 * CPU by the requests it is sent, on a host it shares), is slow, not
 * unreachable: a probe that timed out waits twice as long next time, so
 * the one after each failure is answered. Nor is one metadata answer
 * slower than the probe's 2 s timeout an outage (requests were answered
 * 503 for it). Two unanswered probes in a row are. */
static void publish_slow_probes_are_not_an_outage(void)
{
    mock m;
    publisher *p;

    ASSERT_EQ(mock_start(&m), 0);
    p = new_publisher(&m, PUBLISH_ACK_QUEUED, 2000);
    ASSERT(p != NULL);
    ASSERT_EQ(wait_for(publisher_ready, p, 1, 5000), 1);
    rd_kafka_mock_broker_set_rtt(m.mc, 1, 3000);
    ASSERT_EQ(ready_throughout(p, 12000), 1);
    /* The mock holds its answers while the delay is on and sends them
     * when it goes off: on for 2.3 s, one probe (a 2 s timeout) fails and
     * the next is answered within 0.3 s. */
    rd_kafka_mock_broker_set_rtt(m.mc, 1, 10000);
    usleep(2300 * 1000);
    rd_kafka_mock_broker_set_rtt(m.mc, 1, 0);
    ASSERT_EQ(ready_throughout(p, 1500), 1);
    /* On for good: two probes in a row fail (the second waits 4 s). */
    rd_kafka_mock_broker_set_rtt(m.mc, 1, 10000);
    ASSERT_EQ(wait_for(not_ready, p, 1, 10000), 1);
    rd_kafka_mock_broker_set_rtt(m.mc, 1, 0);
    ASSERT_EQ(wait_for(publisher_ready, p, 1, 5000), 1);
    publisher_destroy(p, 1000);
    mock_stop(&m);
}

static void publish_fatal_error_refuses_everything_after(void)
{
    mock m;
    publisher *p;
    event_batch b = three_events();
    publish_stats st;
    char detail[256];

    ASSERT_EQ(mock_start(&m), 0);
    p = new_publisher(&m, PUBLISH_ACK_KAFKA, 5000);
    ASSERT(p != NULL);
    ASSERT_EQ(publish_events(p, &b, "r-7", detail, sizeof(detail)), PUBLISH_OK);
    ASSERT_EQ(rd_kafka_test_fatal_error(
                  publisher_handle(p),
                  RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test"),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(wait_for(publisher_fatal, p, 1, 5000), 1);
    ASSERT_EQ(publish_events(p, &b, "r-8", detail, sizeof(detail)),
              PUBLISH_FATAL);
    ASSERT_EQ(publisher_ready(p), 0);
    publisher_stats(p, &st);
    ASSERT_EQ(st.fatal, 1);
    ASSERT_EQ(st.delivered, 3);
    publisher_destroy(p, 1000);
    mock_stop(&m);
}

static int queue_empty(publisher *p)
{
    publish_stats st;

    publisher_stats(p, &st);
    return st.queue_messages == 0;
}

/* A queued-mode publisher on a fresh mock cluster whose queue (3 records)
 * is full: the first `slow` produce requests are answered after rtt_ms,
 * and three events are queued. 0 on success. */
static int fill_queue(mock *m, publisher **pp, int room_wait_ms, int slow,
                      int rtt_ms)
{
    event_batch b = three_events();
    char detail[256];

    *pp = NULL;
    if (mock_start(m) != 0)
        return -1;
    *pp = new_publisher_q(m, PUBLISH_ACK_QUEUED, 5000, 3, room_wait_ms);
    if (*pp == NULL || !wait_for(publisher_ready, *pp, 1, 5000))
        return -1;
    for (int i = 0; i < slow; i++)
        rd_kafka_mock_broker_push_request_error_rtts(
            m->mc, 1, PRODUCE_API_KEY, 1, RD_KAFKA_RESP_ERR_NO_ERROR, rtt_ms);
    return publish_events(*pp, &b, "r-9", detail, sizeof(detail)) == PUBLISH_OK
               ? 0
               : -1;
}

/* A request that finds the queue full sleeps in line and gets in when a
 * delivery report makes room (here: produce answers held 300 ms, a 5 s
 * wait). */
static void publish_full_queue_waits_in_line_for_room(void)
{
    mock m;
    publisher *p;
    event_batch b = three_events();
    event_batch one = b;
    publish_stats st;
    char detail[256];

    one.n = 1;
    ASSERT_EQ(fill_queue(&m, &p, 5000, 4, 300), 0);
    publisher_stats(p, &st);
    ASSERT_EQ(st.room_waits, 0);
    ASSERT_EQ(publish_events(p, &one, "r-10", detail, sizeof(detail)),
              PUBLISH_OK);
    publisher_stats(p, &st);
    ASSERT_EQ(st.room_waits, 1);
    ASSERT_EQ(wait_for(queue_empty, p, 1, 5000), 1);
    publisher_stats(p, &st);
    ASSERT_EQ(st.delivered, 4);
    publisher_destroy(p, 1000);
    mock_stop(&m);
}

/* A wait that runs out answers 503 queue_full, with nothing of the
 * request queued; once there is room, requests get in again. */
static void publish_full_queue_wait_is_bounded(void)
{
    mock m;
    publisher *p;
    event_batch b = three_events();
    event_batch one = b;
    publish_stats st;
    char detail[256];

    one.n = 1;
    ASSERT_EQ(fill_queue(&m, &p, 50, 2, 1500), 0);
    ASSERT_EQ(publish_events(p, &one, "r-12", detail, sizeof(detail)),
              PUBLISH_QUEUE_FULL);
    ASSERT(strstr(detail, "not queued") != NULL);
    publisher_stats(p, &st);
    ASSERT_EQ(st.room_waits, 1);
    ASSERT_EQ(st.queue_messages, 3);
    ASSERT_EQ(wait_for(queue_empty, p, 1, 10000), 1);
    ASSERT_EQ(publish_events(p, &one, "r-14", detail, sizeof(detail)),
              PUBLISH_OK);
    ASSERT_EQ(wait_for(queue_empty, p, 1, 5000), 1);
    publisher_stats(p, &st);
    ASSERT_EQ(st.delivered, 4);
    ASSERT_EQ(st.room_waits, 1);
    publisher_destroy(p, 1000);
    mock_stop(&m);
}

/* Ack mode kafka with a fast lane for one waiting request: the first
 * request takes it; a second sent while the first still waits batches on
 * the main producer; both are delivered. */
static void publish_fast_lane_only_while_few_wait(void)
{
    mock m;
    publisher *p;
    rd_kafka_conf_t *conf, *fast;
    publish_opts o = {"t", PUBLISH_ACK_KAFKA, 5000, 100, 0, 0, NULL, 1};
    event_batch b = three_events();
    publish_wait *w1, *w2;
    publish_stats st;
    char err[256], detail[256];

    ASSERT_EQ(mock_start(&m), 0);
    conf = mock_conf(&m, "5", 5000, 0);
    fast = mock_conf(&m, "0", 5000, 0);
    ASSERT(conf != NULL && fast != NULL);
    o.fast_conf = fast;
    p = publisher_new(conf, &o, err, sizeof(err));
    ASSERT(p != NULL);
    ASSERT_EQ(wait_for(publisher_ready, p, 1, 5000), 1);
    ASSERT_EQ(publish_send(p, &b, "r-15", NULL, &w1, detail, sizeof(detail)),
              PUBLISH_OK);
    ASSERT_EQ(publish_send(p, &b, "r-16", NULL, &w2, detail, sizeof(detail)),
              PUBLISH_OK);
    publisher_stats(p, &st);
    ASSERT_EQ(st.fast_sends, 1);
    ASSERT_EQ(publish_wait_reports(p, w1, detail, sizeof(detail)), PUBLISH_OK);
    ASSERT_EQ(publish_wait_reports(p, w2, detail, sizeof(detail)), PUBLISH_OK);
    /* Nobody waits now: the next one takes the fast lane again. */
    ASSERT_EQ(publish_events(p, &b, "r-17", detail, sizeof(detail)),
              PUBLISH_OK);
    publisher_stats(p, &st);
    ASSERT_EQ(st.fast_sends, 2);
    ASSERT_EQ(st.delivered, 9);
    publisher_destroy(p, 1000);
    mock_stop(&m);
}

static void publish_destroy_accepts_null(void)
{
    publisher_destroy(NULL, 100);
}

TEST_MAIN(T(publish_kafka_ack_waits_for_every_report),
          T(publish_full_queue_waits_in_line_for_room),
          T(publish_full_queue_wait_is_bounded),
          T(publish_fast_lane_only_while_few_wait),
          T(publish_queued_ack_returns_and_flush_delivers),
          T(publish_down_cluster_fails_fast_then_recovers),
          T(publish_wait_is_bounded_when_reports_do_not_come),
          T(publish_slow_probes_are_not_an_outage),
          T(publish_fatal_error_refuses_everything_after),
          T(publish_destroy_accepts_null))
