/* publish.c -- hands a request's events to Kafka and, in ack mode "kafka",
 * waits for every delivery report before the request may be answered.
 * Also knows whether Kafka can take events now: a probe thread asks the
 * cluster for the topic's metadata, and a fatal producer error stops
 * every later publish.
 *
 * Each request gets a tracker shared by its messages (their opaque). The
 * delivery report callback, run by the poll thread, counts the tracker down
 * and wakes the request thread. A request thread that gives up (timeout)
 * drops its reference; the last reference frees the tracker, so a late
 * delivery report never touches freed memory. */
#include "publish.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "log.h"
#include "now.h"

/* How long a request may wait for room in a full producer queue before it
 * gets 503 queue_full (as the Java producer's max.block.ms; publish_opts
 * may say otherwise): a burst waits a moment instead of failing. Waiters sleep
 * until delivery reports make room, in arrival order, so the wait is shared
 * fairly and costs no CPU the producer's threads need to drain the queue. */
#define QUEUE_FULL_WAIT_MS 50

typedef struct tracker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;      /* request thread + messages not yet reported */
    int remaining; /* messages not yet reported */
    int failed;
    rd_kafka_resp_err_t first_err;
    struct timespec deadline; /* of the request's wait for reports */
} tracker;

/* A request thread waiting for room in the full producer queue: on its
 * own stack, in the line of waiters (struct publisher's room_head). */
typedef struct room_waiter {
    pthread_cond_t cv;
    struct room_waiter *next;
    int woken;
} room_waiter;

/* A producer with its poll thread. Ack mode kafka may have two: the main
 * one lingers to batch records under load, the fast lane sends at once
 * (publish_opts.fast_conf). */
typedef struct lane {
    publisher *p;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    pthread_t poller;
    int poller_started;
} lane;

struct publisher {
    lane main, fast;          /* main: also the probes' and limits' client */
    int fast_max;             /* fast lane while fewer requests wait */
    atomic_int waiting;       /* ack mode kafka requests awaiting reports */
    atomic_ullong fast_sends; /* requests sent by the fast lane */
    char *topic;
    publish_ack ack;
    int wait_ms;
    int probe_ms;
    pthread_t prober, limiter;
    int prober_started, limiter_started;
    pthread_mutex_t mu; /* for cv: the prober's sleep */
    pthread_cond_t cv;
    atomic_int stopping;
    atomic_int up;     /* the cluster answered (probe, delivery report) */
    atomic_int probed; /* at least one probe has finished */
    atomic_int fatal;
    atomic_ullong delivered;
    atomic_ullong delivery_errors;
    atomic_llong record_limit; /* the topic's max.message.bytes; 0: unknown */
    /* Requests that found the producer queue full wait in arrival order:
     * the poll thread wakes the first after delivery reports made room,
     * and each one that got in wakes the next. While anyone waits, a new
     * request queues behind them instead of taking the room first. */
    pthread_mutex_t room_mu;
    room_waiter *room_head, *room_tail;
    atomic_int room_waiting;
    atomic_ullong room_waits;
    int room_wait_ms;
};

static void set_up(publisher *p, int up, const char *why)
{
    int was = atomic_exchange(&p->up, up);

    if (was == up)
        return;
    if (up)
        log_info("publish", "Kafka is reachable again");
    else
        log_warn("publish", "Kafka is unreachable (%s): answering 503", why);
}

static void tracker_free(tracker *t)
{
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}

static void tracker_unref(tracker *t)
{
    int refs;

    pthread_mutex_lock(&t->mu);
    refs = --t->refs;
    pthread_mutex_unlock(&t->mu);
    if (refs == 0)
        tracker_free(t);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    publisher *p = opaque;
    tracker *t = m->_private;
    int refs;

    (void)rk;
    if (m->err)
        atomic_fetch_add(&p->delivery_errors, 1);
    else
        atomic_fetch_add(&p->delivered, 1);
    if (t == NULL)
        return;
    /* One lock for the report and the message's reference; the request
     * thread is woken only when its wait is over. */
    pthread_mutex_lock(&t->mu);
    t->remaining--;
    if (m->err) {
        if (!t->failed)
            t->first_err = m->err;
        t->failed++;
    }
    if (t->remaining == 0 || m->err)
        pthread_cond_signal(&t->cv);
    refs = --t->refs;
    pthread_mutex_unlock(&t->mu);
    if (refs == 0)
        tracker_free(t);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    publisher *p = opaque;

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        atomic_store(&p->fatal, 1);
        log_error("publish",
                  "fatal producer error %s: %s; answering 503 from now on",
                  rd_kafka_err2name(orig), why);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        set_up(p, 0, reason);
        return;
    }
    /* librdkafka's own log already has every transport error. */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
        log_debug("publish", "kafka: %s", reason);
    else
        log_warn("publish", "kafka: %s: %s",
                 rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Wakes the first waiter in line for room (the caller holds room_mu). */
static void room_wake_first(publisher *p)
{
    if (p->room_head && !p->room_head->woken) {
        p->room_head->woken = 1;
        pthread_cond_signal(&p->room_head->cv);
    }
}

static void room_wake(publisher *p)
{
    if (atomic_load(&p->room_waiting) == 0)
        return;
    pthread_mutex_lock(&p->room_mu);
    room_wake_first(p);
    pthread_mutex_unlock(&p->room_mu);
}

/* Serves delivery reports; reports free their records' room in the
 * producer queue (after the callback), so a waiter may try again. */
static void *poll_main(void *arg)
{
    lane *l = arg;
    publisher *p = l->p;

    while (!atomic_load(&p->stopping)) {
        int n = rd_kafka_poll(l->rk, atomic_load(&p->room_waiting) ? 1 : 100);
        if (n > 0 || atomic_load(&p->room_waiting))
            room_wake(p);
    }
    room_wake(p);
    return NULL;
}

/* One metadata request for our topic: the cluster answers and the topic
 * has partitions. Its timeout is 2 s (or probe_ms if longer), doubled for
 * each failure before it up to 4 times that: a broker that only answers
 * slowly, such as one starved of CPU on a host it shares with a flood of
 * requests, is still heard, while one that does not answer at all is
 * found unreachable within about 7 s. */
static int probe(publisher *p, int failures, char *why, size_t whylen)
{
    const struct rd_kafka_metadata *md = NULL;
    int timeout = (p->probe_ms > 2000 ? p->probe_ms : 2000)
                  << (failures < 2 ? failures : 2);
    rd_kafka_resp_err_t err;
    int ok = 0;

    err = rd_kafka_metadata(p->main.rk, 0, p->main.rkt, &md, timeout);
    if (err) {
        snprintf(why, whylen, "metadata request: %s", rd_kafka_err2str(err));
    } else if (md->topic_cnt != 1 || md->topics[0].err ||
               md->topics[0].partition_cnt == 0) {
        snprintf(why, whylen, "topic %s: %s", p->topic,
                 md->topic_cnt == 1 && md->topics[0].err
                     ? rd_kafka_err2str(md->topics[0].err)
                     : "no partitions");
    } else {
        ok = 1;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    return ok;
}

/* Failed probes in a row, with nothing delivered, that make the cluster
 * unreachable for /readyz and for requests. */
#define PROBE_FAILURES_DOWN 2

/* Sleeps ms, or less when the publisher stops. */
static void wait_or_stop(publisher *p, int ms)
{
    struct timespec until;

    until = now_deadline(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&p->mu);
    while (!atomic_load(&p->stopping) &&
           pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&p->mu);
}

/* Learns the topic's record size limit (once the cluster answers, then now
 * and then, since an operator may change it). */
static void refresh_limit(publisher *p)
{
    char why[256];
    long long v = kafka_topic_max_message_bytes(p->main.rk, p->topic, 5000, why,
                                                sizeof(why));
    long long was;

    if (v < 0) {
        log_warn("publish", "topic %s: its record size limit is unknown: %s",
                 p->topic, why);
        return;
    }
    was = atomic_exchange(&p->record_limit, v);
    if (was != v)
        log_info("publish", "topic %s takes records of at most %lld bytes",
                 p->topic, v);
}

static void *probe_main(void *arg)
{
    publisher *p = arg;
    unsigned long long delivered = 0;
    int failures = 0;
    char why[256];

    while (!atomic_load(&p->stopping)) {
        int ok = probe(p, failures, why, sizeof(why));
        unsigned long long now_delivered = atomic_load(&p->delivered);

        /* Only a probe that succeeds makes the cluster reachable; one
         * that fails makes it unreachable only when the one before failed
         * too and nothing was acknowledged meanwhile. On a saturated host
         * a metadata request can wait behind produce requests for longer
         * than its timeout; answering every request 503 for that turned
         * a busy second into a storm of 503s. Records acknowledged since
         * the last probe prove the cluster reachable. A broker that is
         * down is seen at once anyway (error_cb: all brokers down), and
         * a failed probe must not undo that. */
        if (ok) {
            failures = 0;
            set_up(p, 1, why);
        } else if (now_delivered != delivered) {
            failures = 0;
        } else if (++failures >= PROBE_FAILURES_DOWN ||
                   !atomic_load(&p->probed)) {
            set_up(p, 0, why);
        }
        delivered = now_delivered;
        atomic_store(&p->probed, 1);
        wait_or_stop(p, p->probe_ms);
    }
    return NULL;
}

/* The limit thread: a cluster slow to answer DescribeConfigs (or one that
 * never does: an ACL, the mock cluster) delays neither readiness nor the
 * probes. Asked every LIMIT_CHECK_MS, and at every probe interval while it
 * is unknown. */
#define LIMIT_CHECK_MS 30000

static void *limit_main(void *arg)
{
    publisher *p = arg;

    while (!atomic_load(&p->stopping)) {
        if (atomic_load(&p->up) && atomic_load(&p->probed))
            refresh_limit(p);
        wait_or_stop(p, atomic_load(&p->record_limit) > 0 ? LIMIT_CHECK_MS
                                                          : p->probe_ms);
    }
    return NULL;
}

static int cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

/* Makes l's producer of conf (owned, even on failure) and starts its poll
 * thread. */
static int lane_start(publisher *p, lane *l, rd_kafka_conf_t *conf,
                      char *errbuf, size_t errlen)
{
    l->p = p;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, p);
    l->rk = kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, errlen);
    if (l->rk == NULL) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new took it only on success */
        return -1;
    }
    l->rkt = rd_kafka_topic_new(l->rk, p->topic, NULL);
    if (l->rkt == NULL) {
        snprintf(errbuf, errlen, "topic %s: %s", p->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    if (pthread_create(&l->poller, NULL, poll_main, l) != 0) {
        snprintf(errbuf, errlen, "cannot start the poll thread");
        return -1;
    }
    l->poller_started = 1;
    return 0;
}

publisher *publisher_new(rd_kafka_conf_t *conf, const publish_opts *o,
                         char *errbuf, size_t errlen)
{
    publisher *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *fast = o->fast_conf;
    int rc;

    if (fast && o->fast_max <= 0) {
        rd_kafka_conf_destroy(fast);
        fast = NULL;
    }
    if (p == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    p->ack = o->ack;
    p->wait_ms = o->wait_ms;
    p->probe_ms = o->probe_ms > 0 ? o->probe_ms : 1000;
    p->room_wait_ms =
        o->room_wait_ms > 0 ? o->room_wait_ms : QUEUE_FULL_WAIT_MS;
    atomic_init(&p->up, 1); /* unknown until the first probe: try */
    atomic_init(&p->record_limit, o->record_limit > 0 ? o->record_limit : 0);
    pthread_mutex_init(&p->mu, NULL);
    cond_init_monotonic(&p->cv);
    pthread_mutex_init(&p->room_mu, NULL);
    p->topic = strdup(o->topic);
    if (p->topic == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    /* lane_start owns its conf from the call on. */
    rc = lane_start(p, &p->main, conf, errbuf, errlen);
    conf = NULL;
    if (rc < 0)
        goto fail;
    if (fast) {
        p->fast_max = o->fast_max;
        rc = lane_start(p, &p->fast, fast, errbuf, errlen);
        fast = NULL;
        if (rc < 0)
            goto fail;
    }
    if (pthread_create(&p->prober, NULL, probe_main, p) != 0) {
        snprintf(errbuf, errlen, "cannot start the probe thread");
        goto fail;
    }
    p->prober_started = 1;
    if (pthread_create(&p->limiter, NULL, limit_main, p) != 0) {
        snprintf(errbuf, errlen, "cannot start the limit thread");
        goto fail;
    }
    p->limiter_started = 1;
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (fast)
        rd_kafka_conf_destroy(fast);
    publisher_destroy(p, 0);
    return NULL;
}

static tracker *tracker_new(int n)
{
    tracker *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    cond_init_monotonic(&t->cv);
    t->refs = 1;
    t->remaining = n;
    return t;
}

static publish_status produce_error(publisher *p, rd_kafka_resp_err_t err)
{
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return PUBLISH_QUEUE_FULL;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        atomic_store(&p->fatal, 1);
        return PUBLISH_FATAL;
    }
    return PUBLISH_FAILED;
}

static rd_kafka_resp_err_t produce_try(const lane *l, const event *e,
                                       long long now_ms, const char *ingest_ms,
                                       const char *request_id, tracker *t)
{
    return rd_kafka_producev(l->rk, RD_KAFKA_V_RKT(l->rkt),
                             RD_KAFKA_V_VALUE(e->value, e->len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(e->key, e->key ? e->key_len : 0),
                             RD_KAFKA_V_TIMESTAMP(now_ms),
                             RD_KAFKA_V_HEADER("ingest_ms", ingest_ms, -1),
                             RD_KAFKA_V_HEADER("request_id", request_id, -1),
                             RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
}

/* Takes w out of the line (the caller holds room_mu). */
static void room_leave(publisher *p, room_waiter *w)
{
    room_waiter **pp = &p->room_head, *prev = NULL;

    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = w->next;
    if (p->room_tail == w)
        p->room_tail = prev;
    atomic_fetch_sub(&p->room_waiting, 1);
}

static rd_kafka_resp_err_t produce_one(publisher *p, const lane *l,
                                       const event *e, long long now_ms,
                                       const char *ingest_ms,
                                       const char *request_id, tracker *t,
                                       const struct timespec *room_by)
{
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
    room_waiter w = {.next = NULL, .woken = 0};
    int rc = 0;

    if (atomic_load(&p->room_waiting) == 0) {
        err = produce_try(l, e, now_ms, ingest_ms, request_id, t);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err;
    }
    /* In line: the first waiter tries whenever it is woken, and the one
     * that gets in wakes the next, so all go while there is room. */
    atomic_fetch_add(&p->room_waits, 1);
    cond_init_monotonic(&w.cv);
    pthread_mutex_lock(&p->room_mu);
    if (p->room_tail)
        p->room_tail->next = &w;
    else
        p->room_head = &w;
    p->room_tail = &w;
    atomic_fetch_add(&p->room_waiting, 1);
    for (;;) {
        while (!w.woken && rc != ETIMEDOUT && !atomic_load(&p->stopping))
            rc = pthread_cond_timedwait(&w.cv, &p->room_mu, room_by);
        if (w.woken && p->room_head == &w) {
            pthread_mutex_unlock(&p->room_mu);
            err = produce_try(l, e, now_ms, ingest_ms, request_id, t);
            pthread_mutex_lock(&p->room_mu);
            w.woken = 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || rc == ETIMEDOUT ||
            atomic_load(&p->stopping))
            break;
    }
    room_leave(p, &w);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        room_wake_first(p);
    pthread_mutex_unlock(&p->room_mu);
    pthread_cond_destroy(&w.cv);
    return err;
}

/* room_by: until when the request may wait for room (one bound for all
 * of its events). */
static publish_status produce_all(publisher *p, const lane *l,
                                  const event_batch *b, const char *request_id,
                                  tracker *t, const struct timespec *room_by,
                                  char *detail, size_t dlen)
{
    char ingest_ms[24];
    struct timeval tv;
    long long now_ms;

    gettimeofday(&tv, NULL);
    now_ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    snprintf(ingest_ms, sizeof(ingest_ms), "%lld", now_ms);
    for (size_t i = 0; i < b->n; i++) {
        const event *e = &b->ev[i];
        rd_kafka_resp_err_t err;

        /* The message holds a reference until its delivery report. */
        if (t) {
            pthread_mutex_lock(&t->mu);
            t->refs++;
            pthread_mutex_unlock(&t->mu);
        }
        err = produce_one(p, l, e, now_ms, ingest_ms, request_id, t, room_by);
        if (err) {
            if (t) {
                /* This message and every later one will never report. */
                pthread_mutex_lock(&t->mu);
                t->refs--;
                t->remaining -= (int)(b->n - i);
                pthread_mutex_unlock(&t->mu);
            }
            snprintf(detail, dlen, "event %zu of %zu not queued: %s", i, b->n,
                     rd_kafka_err2str(err));
            return produce_error(p, err);
        }
    }
    return PUBLISH_OK;
}

static publish_status wait_reports(publisher *p, tracker *t, char *detail,
                                   size_t dlen)
{
    publish_status st = PUBLISH_OK;

    pthread_mutex_lock(&t->mu);
    while (t->remaining > 0 && !t->failed) {
        if (pthread_cond_timedwait(&t->cv, &t->mu, &t->deadline) == ETIMEDOUT)
            break;
    }
    if (t->failed) {
        st = atomic_load(&p->fatal) ? PUBLISH_FATAL : PUBLISH_FAILED;
        snprintf(detail, dlen, "%d event(s) not persisted: %s", t->failed,
                 rd_kafka_err2str(t->first_err));
    } else if (t->remaining > 0) {
        st = PUBLISH_TIMEOUT;
        snprintf(detail, dlen,
                 "%d event(s) not confirmed by Kafka within %d ms",
                 t->remaining, p->wait_ms);
    }
    pthread_mutex_unlock(&t->mu);
    return st;
}

publish_status publish_send(publisher *p, const event_batch *b,
                            const char *request_id,
                            const struct timespec *room_by, publish_wait **wait,
                            char *detail, size_t detail_len)
{
    const lane *l = &p->main;
    tracker *t = NULL;
    struct timespec by;
    publish_status st;

    *wait = NULL;
    if (atomic_load(&p->stopping)) {
        snprintf(detail, detail_len, "the server is shutting down");
        return PUBLISH_STOPPING;
    }
    if (atomic_load(&p->fatal)) {
        snprintf(detail, detail_len,
                 "the Kafka producer failed and must be restarted");
        return PUBLISH_FATAL;
    }
    if (!atomic_load(&p->up)) {
        snprintf(detail, detail_len, "Kafka is unreachable");
        return PUBLISH_UNREACHABLE;
    }
    if (p->ack == PUBLISH_ACK_KAFKA) {
        t = tracker_new((int)b->n);
        if (t == NULL) {
            snprintf(detail, detail_len, "out of memory");
            return PUBLISH_FAILED;
        }
        t->deadline = now_deadline(CLOCK_MONOTONIC, p->wait_ms);
        /* Few requests waiting: nothing to batch with, so no linger. */
        if (atomic_fetch_add(&p->waiting, 1) < p->fast_max && p->fast.rk) {
            l = &p->fast;
            atomic_fetch_add(&p->fast_sends, 1);
        }
    }
    by = room_by ? *room_by : now_deadline(CLOCK_MONOTONIC, p->room_wait_ms);
    st = produce_all(p, l, b, request_id, t, &by, detail, detail_len);
    if (st == PUBLISH_OK && t) {
        *wait = (publish_wait *)t;
    } else if (t) {
        atomic_fetch_sub(&p->waiting, 1);
        tracker_unref(t);
    }
    return st;
}

publish_status publish_wait_reports(publisher *p, publish_wait *wait,
                                    char *detail, size_t detail_len)
{
    tracker *t = (tracker *)wait;
    publish_status st;

    if (t == NULL)
        return PUBLISH_OK;
    st = wait_reports(p, t, detail, detail_len);
    atomic_fetch_sub(&p->waiting, 1);
    tracker_unref(t);
    return st;
}

publish_status publish_events(publisher *p, const event_batch *b,
                              const char *request_id, char *detail,
                              size_t detail_len)
{
    publish_wait *w;
    publish_status st =
        publish_send(p, b, request_id, NULL, &w, detail, detail_len);

    if (st == PUBLISH_OK)
        st = publish_wait_reports(p, w, detail, detail_len);
    return st;
}

int publisher_ready(publisher *p)
{
    return atomic_load(&p->probed) && atomic_load(&p->up) &&
           !atomic_load(&p->fatal);
}

int publisher_queue_full(publisher *p)
{
    return atomic_load(&p->room_waiting) > 0;
}

int publisher_room_wait_ms(publisher *p)
{
    return p->room_wait_ms;
}

long long publisher_record_limit(publisher *p)
{
    return atomic_load(&p->record_limit);
}

int publisher_fatal(publisher *p)
{
    return atomic_load(&p->fatal);
}

void publisher_stats(publisher *p, publish_stats *st)
{
    st->delivered = atomic_load(&p->delivered);
    st->delivery_errors = atomic_load(&p->delivery_errors);
    st->queue_messages = rd_kafka_outq_len(p->main.rk) +
                         (p->fast.rk ? rd_kafka_outq_len(p->fast.rk) : 0);
    st->fast_sends = atomic_load(&p->fast_sends);
    st->room_waits = atomic_load(&p->room_waits);
    st->up = atomic_load(&p->up) && atomic_load(&p->probed);
    st->fatal = atomic_load(&p->fatal);
}

rd_kafka_t *publisher_handle(publisher *p)
{
    return p->main.rk;
}

static void stop_thread(publisher *p, pthread_t th, int *started)
{
    if (!*started)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stopping, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(th, NULL);
    *started = 0;
}

/* Flushes l's producer within flush_ms and drops what is left. */
static void lane_flush(lane *l, int flush_ms)
{
    if (l->rk == NULL || flush_ms <= 0 ||
        rd_kafka_flush(l->rk, flush_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    log_warn("publish",
             "%d message(s) not delivered within %d ms at shutdown; "
             "dropping them (none was acknowledged in ack mode kafka)",
             rd_kafka_outq_len(l->rk), flush_ms);
    rd_kafka_purge(l->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(l->rk, 0);
}

static void lane_destroy(publisher *p, lane *l)
{
    stop_thread(p, l->poller, &l->poller_started);
    if (l->rkt)
        rd_kafka_topic_destroy(l->rkt);
    if (l->rk)
        rd_kafka_destroy(l->rk);
}

void publisher_destroy(publisher *p, int flush_ms)
{
    if (p == NULL)
        return;
    /* Everything is told to stop first. The pollers stop serving delivery
     * reports; flushing serves them. The prober and the limiter may be
     * waiting for an answer (up to 8 s): the flush overlaps with that, and
     * they are joined before the producer is torn down. */
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stopping, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    lane_flush(&p->fast, flush_ms);
    lane_flush(&p->main, flush_ms);
    stop_thread(p, p->prober, &p->prober_started);
    stop_thread(p, p->limiter, &p->limiter_started);
    lane_destroy(p, &p->fast);
    lane_destroy(p, &p->main);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->room_mu);
    free(p->topic);
    free(p);
}
