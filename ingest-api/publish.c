/* publish.c -- hands a request's events to Kafka and, in ack mode "kafka",
 * waits for every delivery report before the request may be answered.
 *
 * Each request gets a tracker shared by its messages (their opaque). The
 * delivery report callback, run by the poll thread, counts the tracker down
 * and wakes the request thread. A request thread that gives up (timeout)
 * drops its reference; the last reference frees the tracker, so a late
 * delivery report never touches freed memory. */
#include "publish.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

typedef struct tracker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;      /* request thread + messages not yet reported */
    int remaining; /* messages not yet reported */
    int failed;
    rd_kafka_resp_err_t first_err;
} tracker;

struct publisher {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char *topic;
    publish_ack ack;
    int wait_ms;
    pthread_t poller;
    int poller_started;
    volatile int stopping;
    volatile int broker_up; /* from the error callback and metadata */
};

static void tracker_unref(tracker *t)
{
    int refs;

    pthread_mutex_lock(&t->mu);
    refs = --t->refs;
    pthread_mutex_unlock(&t->mu);
    if (refs == 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
    }
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque)
{
    tracker *t = m->_private;

    (void)rk;
    (void)opaque;
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->remaining--;
    if (m->err) {
        if (!t->failed)
            t->first_err = m->err;
        t->failed++;
    }
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    tracker_unref(t);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque)
{
    publisher *p = opaque;

    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        p->broker_up = 0;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        log_error("publish", "fatal producer error: %s", why);
        return;
    }
    log_warn("publish", "kafka: %s: %s",
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void *poll_main(void *arg)
{
    publisher *p = arg;

    while (!p->stopping)
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

publisher *publisher_new(rd_kafka_conf_t *conf, const char *topic,
                         publish_ack ack, int wait_ms, char *errbuf,
                         size_t errlen)
{
    publisher *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    p->ack = ack;
    p->wait_ms = wait_ms;
    p->broker_up = 1;
    p->topic = strdup(topic);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, errlen);
    if (p->rk == NULL)
        goto fail;
    conf = NULL; /* now owned by p->rk */
    p->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    if (p->rkt == NULL) {
        snprintf(errbuf, errlen, "topic %s: %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    if (pthread_create(&p->poller, NULL, poll_main, p) != 0) {
        snprintf(errbuf, errlen, "cannot start the poll thread");
        goto fail;
    }
    p->poller_started = 1;
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    publisher_destroy(p, 0);
    return NULL;
}

static tracker *tracker_new(int n)
{
    tracker *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->refs = 1;
    t->remaining = n;
    return t;
}

static publish_status produce_all(publisher *p, const event_batch *b,
                                  const char *request_id, tracker *t,
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
        err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(p->rkt),
            RD_KAFKA_V_VALUE(e->value, e->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(e->key, e->key ? e->key_len : 0),
            RD_KAFKA_V_TIMESTAMP(now_ms),
            RD_KAFKA_V_HEADER("ingest_ms", ingest_ms, -1),
            RD_KAFKA_V_HEADER("request_id", request_id, -1),
            RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
        if (err) {
            if (t) {
                /* This message and every later one will never report. */
                pthread_mutex_lock(&t->mu);
                t->refs--;
                t->remaining -= (int)(b->n - i);
                pthread_mutex_unlock(&t->mu);
            }
            snprintf(detail, dlen, "event %zu of %zu not queued: %s", i,
                     b->n, rd_kafka_err2str(err));
            return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? PUBLISH_QUEUE_FULL
                                                        : PUBLISH_FAILED;
        }
    }
    return PUBLISH_OK;
}

static publish_status wait_reports(publisher *p, tracker *t, char *detail,
                                   size_t dlen)
{
    struct timespec deadline;
    publish_status st = PUBLISH_OK;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += p->wait_ms / 1000;
    deadline.tv_nsec += (long)(p->wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->mu);
    while (t->remaining > 0 && !t->failed) {
        if (pthread_cond_timedwait(&t->cv, &t->mu, &deadline) == ETIMEDOUT)
            break;
    }
    if (t->failed) {
        st = PUBLISH_FAILED;
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

publish_status publish_events(publisher *p, const event_batch *b,
                              const char *request_id, char *detail,
                              size_t detail_len)
{
    tracker *t = NULL;
    publish_status st;

    if (p->stopping) {
        snprintf(detail, detail_len, "the server is shutting down");
        return PUBLISH_STOPPING;
    }
    if (p->ack == PUBLISH_ACK_KAFKA) {
        t = tracker_new((int)b->n);
        if (t == NULL) {
            snprintf(detail, detail_len, "out of memory");
            return PUBLISH_FAILED;
        }
    }
    st = produce_all(p, b, request_id, t, detail, detail_len);
    if (st == PUBLISH_OK && t)
        st = wait_reports(p, t, detail, detail_len);
    if (t)
        tracker_unref(t);
    return st;
}

int publisher_ready(publisher *p)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;

    err = rd_kafka_metadata(p->rk, 0, p->rkt, &md, 2000);
    if (md)
        rd_kafka_metadata_destroy(md);
    p->broker_up = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    return p->broker_up;
}

int publisher_outq_len(publisher *p)
{
    return rd_kafka_outq_len(p->rk);
}

void publisher_destroy(publisher *p, int flush_ms)
{
    if (p == NULL)
        return;
    if (p->rk && flush_ms > 0) {
        rd_kafka_resp_err_t err = rd_kafka_flush(p->rk, flush_ms);
        if (err)
            log_warn("publish", "%d message(s) not delivered at shutdown",
                     rd_kafka_outq_len(p->rk));
    }
    p->stopping = 1;
    if (p->poller_started)
        pthread_join(p->poller, NULL);
    if (p->rkt)
        rd_kafka_topic_destroy(p->rkt);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    free(p->topic);
    free(p);
}
