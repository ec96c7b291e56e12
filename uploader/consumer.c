/* consumer.c -- the uploader's Kafka side: consumes its partitions, closes
 * batches, feeds the worker pool, commits what is stored, and gives up
 * partitions cleanly on a rebalance.
 *
 * Exactly-once objects rest on three rules kept here:
 *   1. a partition has at most one batch uploading at a time, and its
 *      offset is committed right after that batch is stored, before the
 *      next batch of the partition is handed to a worker;
 *   2. an object's key is a function of its first record (hour and
 *      offset), so a batch re-read after a crash overwrites the objects of
 *      the attempt that did not commit instead of adding new ones;
 *   3. a revoked partition's upload is finished (and committed) or
 *      abandoned inside the rebalance callback, before the partition is
 *      given up.
 * The README has the argument in full. */
#include "consumer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "daemon.h"
#include "kafka.h"
#include "log.h"
#include "pool.h"

typedef struct part {
    int assigned;
    int paused;
    batch *open;          /* collecting records */
    batch *ready;         /* closed, waiting for the partition's turn */
    upload_job *inflight; /* queued or uploading */
} part;

struct consumer {
    const uploader_config *cfg;
    rd_kafka_t *rk;
    pool *pool;
    upload_ctx uctx;
    batch_limits lim;
    part *parts;
    int nparts;
    atomic_ullong records_consumed;
    atomic_ullong batches_closed;
    atomic_ullong commits;
    atomic_int assigned;
    atomic_int paused;
};

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static part *get_part(consumer *c, int32_t id)
{
    if (id < 0)
        return NULL;
    if (id >= c->nparts) {
        int n = id + 1;
        part *np = realloc(c->parts, (size_t)n * sizeof(*np));
        if (np == NULL)
            return NULL;
        memset(np + c->nparts, 0, (size_t)(n - c->nparts) * sizeof(*np));
        c->parts = np;
        c->nparts = n;
    }
    return &c->parts[id];
}

static void set_paused(consumer *c, int32_t id, int pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    part *p = &c->parts[id];
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(l, c->cfg->kafka.topic, id);
    err = pause ? rd_kafka_pause_partitions(c->rk, l)
                : rd_kafka_resume_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        log_warn("consumer", "%s partition %d: %s",
                 pause ? "pause" : "resume", (int)id, rd_kafka_err2str(err));
        return;
    }
    if (p->paused != pause)
        atomic_fetch_add(&c->paused, pause ? 1 : -1);
    p->paused = pause;
}

static void commit(consumer *c, int32_t id, int64_t next)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(l, c->cfg->kafka.topic, id)->offset =
        next;
    err = rd_kafka_commit(c->rk, l, 0);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].err)
        err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        /* Safe: the next owner re-reads from the last commit and
         * overwrites the same keys (rule 2). */
        log_warn("consumer", "commit partition %d offset %lld: %s", (int)id,
                 (long long)next, rd_kafka_err2str(err));
        return;
    }
    atomic_fetch_add(&c->commits, 1);
    log_debug("consumer", "committed partition %d at %lld", (int)id,
              (long long)next);
}

/* Hands p's ready batch to the pool if the partition's turn has come. */
static void try_dispatch(consumer *c, int32_t id)
{
    part *p = &c->parts[id];
    upload_job *j;

    if (p->inflight || p->ready == NULL)
        return;
    j = upload_job_new(p->ready);
    if (j == NULL)
        return;
    if (pool_try_submit(c->pool, j) < 0) {
        j->b = NULL; /* the batch stays ready; the job is discarded */
        upload_job_free(j);
        return;
    }
    p->ready = NULL;
    p->inflight = j;
    if (p->paused && p->assigned)
        set_paused(c, id, 0);
}

/* Closes p's open batch. A partition holds at most one closed batch
 * waiting; while it does, the partition is paused so memory stays
 * bounded (librdkafka drops prefetched records and resumes at the next
 * offset we have not seen). */
static void close_open(consumer *c, int32_t id, batch_state why)
{
    part *p = &c->parts[id];

    log_debug("consumer", "partition %d: batch of %zu records closed (%s)",
              (int)id, p->open->n, batch_state_name(why));
    atomic_fetch_add(&c->batches_closed, 1);
    p->ready = p->open;
    p->open = NULL;
    try_dispatch(c, id);
    if (p->ready && !p->paused)
        set_paused(c, id, 1);
}

static void on_done(consumer *c, upload_job *j)
{
    int32_t id = j->b->partition;
    part *p = id < c->nparts ? &c->parts[id] : NULL;

    if (p && p->inflight == j) {
        p->inflight = NULL;
        if (j->result == UPLOAD_STORED && p->assigned)
            commit(c, id, j->next_offset);
    }
    upload_job_free(j);
    if (p && p->assigned)
        try_dispatch(c, id);
}

static void drain_done(consumer *c, int timeout_ms)
{
    upload_job *j;

    while ((j = pool_take_done(c->pool, timeout_ms)) != NULL) {
        on_done(c, j);
        timeout_ms = 0;
    }
}

static int inflight_count(consumer *c)
{
    int n = 0;

    for (int i = 0; i < c->nparts; i++)
        n += c->parts[i].inflight != NULL;
    return n;
}

/* Waits up to timeout_ms for every in-flight upload; then abandons the
 * rest. Uploads that finish are committed. Returns the number abandoned. */
static int finish_inflight(consumer *c, long long timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int abandoned = 0;

    while (inflight_count(c) > 0 && now_ms() < deadline)
        drain_done(c, 100);
    for (int i = 0; i < c->nparts; i++) {
        part *p = &c->parts[i];
        if (p->inflight) {
            atomic_store(&p->inflight->abandon, 1);
            abandoned++;
        }
    }
    /* An abandoned worker stops at its next retry; wait for that so no
     * upload of a partition outlives our ownership of it (short of a PUT
     * already on the wire, bounded by s3.request_timeout_ms). */
    while (inflight_count(c) > 0)
        drain_done(c, 100);
    return abandoned;
}

static void drop_batches(part *p)
{
    batch_free(p->open);
    batch_free(p->ready);
    p->open = NULL;
    p->ready = NULL;
}

static void on_revoke(consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    int abandoned;

    for (int i = 0; i < parts->cnt; i++) {
        part *p = get_part(c, parts->elems[i].partition);
        if (p)
            drop_batches(p);
    }
    abandoned = finish_inflight(c, c->cfg->uploader.revoke_timeout_ms);
    if (abandoned)
        log_warn("consumer", "%d upload(s) abandoned on revoke", abandoned);
    for (int i = 0; i < parts->cnt; i++) {
        part *p = get_part(c, parts->elems[i].partition);
        if (p) {
            p->assigned = 0;
            if (p->paused)
                atomic_fetch_sub(&c->paused, 1);
            p->paused = 0;
        }
    }
    atomic_store(&c->assigned, 0);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    consumer *c = opaque;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            part *p = get_part(c, parts->elems[i].partition);
            if (p) {
                drop_batches(p);
                p->assigned = 1;
                p->paused = 0;
            }
        }
        log_info("consumer", "assigned %d partition(s)", parts->cnt);
        rd_kafka_assign(rk, parts);
        /* A pause can outlive a revoke; start every partition running. */
        rd_kafka_resume_partitions(rk, parts);
        atomic_store(&c->assigned, parts->cnt);
    } else {
        log_info("consumer", "revoking %d partition(s)", parts->cnt);
        on_revoke(c, parts);
        rd_kafka_assign(rk, NULL);
    }
}

static rd_kafka_conf_t *consumer_conf(const uploader_config *cfg, void *opaque,
                                      char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf_new(&cfg->kafka, errbuf, errlen);

    if (conf == NULL)
        return NULL;
    /* Offsets move only when we commit what is stored. */
    if (kafka_conf_set(conf, "group.id", cfg->uploader.group, errbuf,
                       errlen) ||
        kafka_conf_set(conf, "enable.auto.commit", "false", errbuf, errlen) ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", errbuf,
                       errlen) ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", errbuf,
                       errlen) ||
        kafka_conf_set(conf, "session.timeout.ms", "10000", errbuf, errlen) ||
        kafka_conf_set(conf, "heartbeat.interval.ms", "1000", errbuf,
                       errlen) ||
        kafka_conf_apply_properties(conf, cfg->kafka.properties, errbuf,
                                    errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    return conf;
}

consumer *consumer_new(const uploader_config *cfg, store *st,
                       upload_stats *stats, char *errbuf, size_t errlen)
{
    consumer *c = calloc(1, sizeof(*c));
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t err;

    if (c == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->lim.max_records = (size_t)cfg->uploader.max_records;
    c->lim.max_bytes = (size_t)cfg->uploader.max_bytes;
    c->lim.max_age_ms = cfg->uploader.max_age_ms;
    c->uctx.st = st;
    c->uctx.topic = cfg->kafka.topic;
    c->uctx.prefix = cfg->s3.prefix;
    c->uctx.level = (int)cfg->uploader.level;
    c->uctx.retry_base_ms = cfg->uploader.retry_base_ms;
    c->uctx.retry_max_ms = cfg->uploader.retry_max_ms;
    c->uctx.stats = stats;
    if (encode_format_parse(cfg->uploader.format, &c->uctx.format) < 0) {
        snprintf(errbuf, errlen, "unknown format %s", cfg->uploader.format);
        goto fail;
    }
    conf = consumer_conf(cfg, c, errbuf, errlen);
    if (conf == NULL)
        goto fail;
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errbuf, errlen);
    if (c->rk == NULL)
        goto fail;
    conf = NULL; /* owned by c->rk */
    rd_kafka_poll_set_consumer(c->rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->kafka.topic,
                                      RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        snprintf(errbuf, errlen, "subscribe %s: %s", cfg->kafka.topic,
                 rd_kafka_err2str(err));
        goto fail;
    }
    c->pool = pool_new((int)cfg->uploader.workers, (int)cfg->uploader.queue,
                       upload_run, &c->uctx);
    if (c->pool == NULL) {
        snprintf(errbuf, errlen, "cannot start %lld workers",
                 cfg->uploader.workers);
        goto fail;
    }
    return c;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    consumer_free(c);
    return NULL;
}

static int64_t record_time(const rd_kafka_message_t *m, int64_t now)
{
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);

    return ts >= 0 ? ts : now;
}

static void on_message(consumer *c, const rd_kafka_message_t *m)
{
    int64_t now = now_ms();
    part *p = get_part(c, m->partition);
    batch_state st;

    if (p == NULL || !p->assigned)
        return;
    if (p->ready) {
        /* Only possible for a record fetched before the pause took hold:
         * librdkafka resumes at the next unseen offset, which would skip
         * it, so rewind to it instead. */
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, c->cfg->kafka.topic,
                                          m->partition)
            ->offset = m->offset;
        rd_kafka_seek_partitions(c->rk, l, 1000);
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    if (p->open == NULL)
        p->open = batch_new(m->partition);
    if (p->open == NULL ||
        batch_add(p->open, m->offset, record_time(m, now), m->payload, m->len,
                  now) < 0) {
        log_error("consumer", "out of memory at partition %d offset %lld",
                  (int)m->partition, (long long)m->offset);
        daemon_stop = 1;
        return;
    }
    atomic_fetch_add(&c->records_consumed, 1);
    st = batch_check(p->open, &c->lim, now);
    if (st != BATCH_OPEN)
        close_open(c, m->partition, st);
}

/* The max_age timer: idle partitions flush too. */
static void check_ages(consumer *c)
{
    int64_t now = now_ms();

    for (int i = 0; i < c->nparts; i++) {
        part *p = &c->parts[i];
        batch_state st;
        if (!p->assigned)
            continue;
        if (p->ready)
            try_dispatch(c, i);
        if (p->open == NULL || p->ready)
            continue;
        st = batch_check(p->open, &c->lim, now);
        if (st != BATCH_OPEN)
            close_open(c, i, st);
    }
}

int consumer_run(consumer *c)
{
    int rc = 0;
    int abandoned;

    while (!daemon_stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        if (m) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                on_message(c, m);
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                log_warn("consumer", "%s", rd_kafka_message_errstr(m));
                if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
                    rc = -1;
                    daemon_stop = 1;
                }
            }
            rd_kafka_message_destroy(m);
        }
        drain_done(c, 0);
        check_ages(c);
    }
    log_info("consumer", "stopping: finishing in-flight uploads (up to %lld "
                         "ms)",
             c->cfg->uploader.shutdown_timeout_ms);
    for (int i = 0; i < c->nparts; i++)
        drop_batches(&c->parts[i]);
    abandoned = finish_inflight(c, c->cfg->uploader.shutdown_timeout_ms);
    if (abandoned)
        log_warn("consumer",
                 "%d upload(s) abandoned; their records will be read again",
                 abandoned);
    rd_kafka_consumer_close(c->rk);
    return rc;
}

void consumer_get_status(consumer *c, consumer_status *out)
{
    out->records_consumed = atomic_load(&c->records_consumed);
    out->batches_closed = atomic_load(&c->batches_closed);
    out->commits = atomic_load(&c->commits);
    out->assigned = atomic_load(&c->assigned);
    out->paused = atomic_load(&c->paused);
    out->queued = c->pool ? pool_queued(c->pool) : 0;
    out->busy = c->pool ? pool_busy(c->pool) : 0;
}

void consumer_free(consumer *c)
{
    if (c == NULL)
        return;
    if (c->pool) {
        upload_job *j;
        pool_stop(c->pool);
        while ((j = pool_take_done(c->pool, 0)) != NULL)
            upload_job_free(j);
        pool_free(c->pool);
    }
    if (c->rk)
        rd_kafka_destroy(c->rk);
    for (int i = 0; i < c->nparts; i++)
        drop_batches(&c->parts[i]);
    free(c->parts);
    free(c);
}
