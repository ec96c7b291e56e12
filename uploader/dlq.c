/* dlq.c -- the dead-letter topic: records the uploader cannot write go to
 * "{topic}.dlq" with headers saying why and where they came from.
 *
 * Sends are rare and serialized: a send produces its records, flushes, and
 * does not return before every delivery report has arrived (purging what
 * is still queued at the deadline), so the per-send state can live on the
 * caller's stack. */
#include "dlq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "log.h"

struct dlq {
    rd_kafka_t *rk;
    char *source;
    char *topic;
    pthread_mutex_t mu;
    atomic_ullong count;
};

typedef struct send_state {
    size_t ok;
    size_t failed;
    rd_kafka_resp_err_t err;
} send_state;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    send_state *st = m->_private;

    (void)rk;
    (void)opaque;
    if (st == NULL)
        return;
    if (m->err) {
        st->failed++;
        st->err = m->err;
    } else {
        st->ok++;
    }
}

dlq *dlq_new(rd_kafka_conf_t *conf, const char *source_topic, char *errbuf,
             size_t errlen)
{
    dlq *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    d->source = strdup(source_topic);
    if (d->source)
        d->topic = malloc(strlen(source_topic) + 5);
    if (d->topic == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    sprintf(d->topic, "%s.dlq", source_topic);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    d->rk = kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, errlen);
    if (d->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    return d; /* conf is owned by d->rk */
fail:
    dlq_free(d);
    return NULL;
}

static rd_kafka_resp_err_t produce_one(dlq *d, const dlq_record *r,
                                       send_state *st)
{
    char part[16], off[24], ts[24];

    snprintf(part, sizeof(part), "%d", (int)r->partition);
    snprintf(off, sizeof(off), "%lld", (long long)r->offset);
    snprintf(ts, sizeof(ts), "%lld", (long long)r->timestamp_ms);
    return rd_kafka_producev(
        d->rk, RD_KAFKA_V_TOPIC(d->topic),
        RD_KAFKA_V_VALUE((void *)r->value, r->len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("reason", r->reason, -1),
        RD_KAFKA_V_HEADER("detail", r->detail ? r->detail : "", -1),
        RD_KAFKA_V_HEADER("source_topic", d->source, -1),
        RD_KAFKA_V_HEADER("source_partition", part, -1),
        RD_KAFKA_V_HEADER("source_offset", off, -1),
        RD_KAFKA_V_HEADER("source_timestamp", ts, -1), RD_KAFKA_V_OPAQUE(st),
        RD_KAFKA_V_END);
}

int dlq_send(dlq *d, const dlq_record *recs, size_t n, int timeout_ms,
             char *errbuf, size_t errlen)
{
    send_state st = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    size_t queued = 0;
    int rc = -1;

    pthread_mutex_lock(&d->mu);
    for (; queued < n; queued++) {
        rd_kafka_resp_err_t err = produce_one(d, &recs[queued], &st);
        if (err) {
            snprintf(errbuf, errlen, "dead-letter produce: %s",
                     rd_kafka_err2str(err));
            break;
        }
    }
    if (rd_kafka_flush(d->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Whatever is left must report before st goes out of scope. */
        rd_kafka_purge(d->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        while (st.ok + st.failed < queued)
            rd_kafka_poll(d->rk, 100);
    }
    if (queued == n && st.ok == n) {
        atomic_fetch_add(&d->count, n);
        rc = 0;
    } else if (queued == n) {
        snprintf(errbuf, errlen,
                 "%zu of %zu dead-letter record(s) not "
                 "persisted: %s",
                 n - st.ok, n, rd_kafka_err2str(st.err));
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

unsigned long long dlq_count(dlq *d)
{
    return d ? atomic_load(&d->count) : 0;
}

const char *dlq_topic(dlq *d)
{
    return d->topic;
}

void dlq_free(dlq *d)
{
    if (d == NULL)
        return;
    if (d->rk) {
        rd_kafka_flush(d->rk, 5000);
        rd_kafka_destroy(d->rk);
    }
    pthread_mutex_destroy(&d->mu);
    free(d->source);
    free(d->topic);
    free(d);
}
