/* consumer.c -- the uploader's Kafka side: consumes its partitions, closes
 * batches, feeds the worker pool, commits what is stored, and gives up
 * partitions cleanly on a rebalance.
 *
 * Exactly-once objects rest on rules kept here:
 *   1. a partition has at most one batch uploading at a time, and its
 *      offset is committed right after that batch is stored, before the
 *      next batch of the partition is handed to a worker;
 *   2. before a batch [F, X] is handed to a worker, the partition commits
 *      offset F with metadata "millrace:end=X" (the plan); whoever reads
 *      the partition next from F closes its first batch exactly at X, so a
 *      batch is always re-made with the same records and its objects are
 *      rewritten byte for byte, never cut differently;
 *   3. an object's key is a function of its first record (hour, offset);
 *   4. a revoked partition's upload is finished (and committed) or
 *      abandoned inside the rebalance callback.
 * docs/guarantees.md has the argument in full. */
#include "consumer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "daemon.h"
#include "hours.h"
#include "kafka.h"
#include "log.h"
#include "now.h"
#include "consumer_plan.h"
#include "consumer_wm.h"
#include "pool.h"
#include "setup.h"

/* Waits before a failed plan commit is tried again. */
#define PLAN_RETRY_MS 1000

typedef consumer_part part;

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
    int cooperative;
    int64_t next_lag_ms;
    pthread_mutex_t lag_mu; /* guards lag, read by the health thread */
    consumer_lag *lag;
    int nlag;
    consumer_wm wm;
    hours *hours; /* NULL: hour markers are off */
    hours_stats hstats;
    char url_base[1200];
};

static part *get_part(consumer *c, int32_t id)
{
    if (id < 0)
        return NULL;
    if (id >= c->nparts) {
        int n = id + 1;
        part *np = realloc(c->parts, (size_t)n * sizeof(*np));
        if (np == NULL)
            return NULL;
        for (int i = c->nparts; i < n; i++)
            consumer_part_init(&np[i]);
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
        log_warn("consumer", "%s partition %d: %s", pause ? "pause" : "resume",
                 (int)id, rd_kafka_err2str(err));
        return;
    }
    if (p->paused != pause)
        atomic_fetch_add(&c->paused, pause ? 1 : -1);
    p->paused = pause;
}

/* Commits offset next of partition id, with the plan of the batch that
 * ends at plan_end (or none, -1). Returns the error. */
static rd_kafka_resp_err_t commit(consumer *c, int32_t id, int64_t next,
                                  int64_t plan_end)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp;
    rd_kafka_resp_err_t err;
    char meta[96] = "";
    int n = consumer_plan_format(meta, sizeof(meta), plan_end,
                                 c->parts[id].newest_ts);

    tp = rd_kafka_topic_partition_list_add(l, c->cfg->kafka.topic, id);
    tp->offset = next;
    if (n > 0) {
        tp->metadata = malloc((size_t)n); /* freed with l */
        if (tp->metadata) {
            memcpy(tp->metadata, meta, (size_t)n);
            tp->metadata_size = (size_t)n;
        }
    }
    err = rd_kafka_commit(c->rk, l, 0);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].err)
        err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        log_warn("consumer", "commit partition %d offset %lld: %s", (int)id,
                 (long long)next, rd_kafka_err2str(err));
        return err;
    }
    c->parts[id].committed = next;
    atomic_fetch_add(&c->commits, 1);
    log_debug("consumer", "committed partition %d at %lld%s%s", (int)id,
              (long long)next, n > 0 ? ", " : "", n > 0 ? meta : "");
    return err;
}

/* Hands a batch of partition id to the pool when its turn has come (see
 * consumer_next_step): a batch to redo first, else the ready batch once
 * its plan is committed. */
static void try_dispatch(consumer *c, int32_t id)
{
    part *p = &c->parts[id];
    consumer_step step = consumer_next_step(p, now_ms());
    batch **b = step == CONSUMER_SUBMIT_RETRY ? &p->retry : &p->ready;
    upload_job *j;

    if (step == CONSUMER_WAIT)
        return;
    if (step == CONSUMER_COMMIT_PLAN) {
        if (commit(c, id, batch_first_offset(p->ready),
                   batch_last_offset(p->ready)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->retry_at_ms = now_ms() + PLAN_RETRY_MS;
            return;
        }
        p->ready_planned = 1;
    }
    j = upload_job_new(*b);
    if (j == NULL)
        return;
    if (pool_try_submit(c->pool, j) < 0) {
        j->b = NULL; /* the batch stays where it was; the job is discarded */
        upload_job_free(j);
        return;
    }
    *b = NULL;
    p->inflight = j;
    if (step == CONSUMER_SUBMIT_RETRY)
        return;
    p->ready_planned = 0;
    if (p->paused)
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

    /* Whichever commit moves past it carries its newest timestamp. */
    if (p && p->inflight == j && p->assigned && j->result == UPLOAD_STORED) {
        int64_t t = batch_newest_ts(j->b);
        if (t > p->newest_ts)
            p->newest_ts = t;
    }
    switch (consumer_after_upload(p, j)) {
    case CONSUMER_DONE_ORPHAN:
        p->orphan = NULL;
        break;
    case CONSUMER_DONE_NOTHING:
        p->inflight = NULL;
        break;
    case CONSUMER_DONE_COMMIT:
        p->inflight = NULL;
        commit(c, id, j->next_offset, -1);
        break;
    case CONSUMER_DONE_RETRY:
        p->inflight = NULL;
        log_warn("consumer",
                 "partition %d: batch [%lld, %lld] failed; "
                 "retrying it",
                 (int)id, (long long)batch_first_offset(j->b),
                 (long long)batch_last_offset(j->b));
        p->retry = j->b;
        j->b = NULL;
        p->retry_at_ms = now_ms() + c->cfg->uploader.retry_max_ms;
        break;
    case CONSUMER_DONE_UNKNOWN:
        break;
    }
    upload_job_free(j);
    if (p)
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

/* Whether partition i is in l (NULL: every partition). */
static int in_list(const rd_kafka_topic_partition_list_t *l, int i)
{
    if (l == NULL)
        return 1;
    for (int k = 0; k < l->cnt; k++)
        if (l->elems[k].partition == i)
            return 1;
    return 0;
}

static int inflight_count(consumer *c, const rd_kafka_topic_partition_list_t *l)
{
    int n = 0;

    for (int i = 0; i < c->nparts; i++)
        n += c->parts[i].inflight != NULL && in_list(l, i);
    return n;
}

/* Waits up to timeout_ms for the in-flight uploads of the partitions in l
 * (committing those that finish); then abandons the rest, which become
 * orphans: nothing of theirs is committed when they return. Returns the
 * number abandoned. */
static int finish_inflight(consumer *c,
                           const rd_kafka_topic_partition_list_t *l,
                           long long timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int abandoned = 0;

    while (inflight_count(c, l) > 0 && now_ms() < deadline)
        drain_done(c, 100);
    for (int i = 0; i < c->nparts; i++) {
        part *p = &c->parts[i];
        if (p->inflight && in_list(l, i)) {
            atomic_store(&p->inflight->abandon, 1);
            p->orphan = p->inflight;
            p->inflight = NULL;
            abandoned++;
        }
    }
    return abandoned;
}

static int orphan_count(consumer *c)
{
    int n = 0;

    for (int i = 0; i < c->nparts; i++)
        n += c->parts[i].orphan != NULL;
    return n;
}

static void drop_batches(part *p)
{
    batch_free(p->open);
    batch_free(p->ready);
    batch_free(p->retry);
    p->open = NULL;
    p->ready = NULL;
    p->retry = NULL;
    p->ready_planned = 0;
    p->plan_end = -1;
}

/* An assigned partition holds at most two batches: one uploading (or to
 * redo) and one collecting or waiting (a partition with a batch waiting is
 * paused). Its share of uploader.max_buffer_bytes bounds each, so the
 * batches of any number of partitions fit in it. A planned batch is re-made
 * as planned, whatever its size. */
static void share_memory(consumer *c)
{
    int n = atomic_load(&c->assigned);

    c->lim.max_memory = (size_t)c->cfg->uploader.max_buffer_bytes /
                        (2 * (size_t)(n > 0 ? n : 1));
}

static void on_revoke(consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    /* A lost assignment is already someone else's: commit nothing and do
     * not wait. The plan (rule 2) makes a late upload of ours harmless. */
    int lost = rd_kafka_assignment_lost(c->rk);
    int abandoned;

    for (int i = 0; i < parts->cnt; i++) {
        part *p = get_part(c, parts->elems[i].partition);
        if (p)
            drop_batches(p);
    }
    abandoned = finish_inflight(c, parts,
                                lost ? 0 : c->cfg->uploader.revoke_timeout_ms);
    if (abandoned)
        log_warn("consumer", "%d upload(s) abandoned on %s", abandoned,
                 lost ? "a lost assignment" : "revoke");
    for (int i = 0; i < parts->cnt; i++) {
        part *p = get_part(c, parts->elems[i].partition);
        if (p) {
            p->assigned = 0;
            if (p->paused)
                atomic_fetch_sub(&c->paused, 1);
            p->paused = 0;
        }
    }
    atomic_fetch_sub(&c->assigned, parts->cnt);
    share_memory(c);
}

/* Reads the committed offsets and plans of newly assigned partitions. */
static void on_assign(consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *got =
        rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, got, 30000);

    if (err)
        log_warn("consumer",
                 "reading committed offsets: %s (batches are "
                 "re-made without their plans)",
                 rd_kafka_err2str(err));
    for (int i = 0; i < got->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &got->elems[i];
        part *p = get_part(c, tp->partition);
        if (p == NULL)
            continue;
        drop_batches(p);
        if (p->inflight) { /* from an earlier ownership */
            atomic_store(&p->inflight->abandon, 1);
            p->orphan = p->inflight;
            p->inflight = NULL;
        }
        p->assigned = 1;
        p->paused = 0;
        p->committed = err ? -1 : tp->offset;
        p->plan_end =
            err || tp->offset < 0
                ? -1
                : consumer_plan_parse(tp->metadata, tp->metadata_size);
        p->newest_ts =
            err || tp->offset < 0
                ? -1
                : consumer_plan_newest_ts(tp->metadata, tp->metadata_size);
        if (p->plan_end >= 0)
            log_info("consumer",
                     "partition %d: re-making batch [%lld, %lld] "
                     "as planned",
                     (int)tp->partition, (long long)tp->offset,
                     (long long)p->plan_end);
    }
    rd_kafka_topic_partition_list_destroy(got);
    atomic_fetch_add(&c->assigned, parts->cnt);
    share_memory(c);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    consumer *c = opaque;
    rd_kafka_error_t *e = NULL;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info("consumer", "assigned %d partition(s)", parts->cnt);
        on_assign(c, parts);
        if (c->cooperative)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        /* A pause outlives a revoke in librdkafka; start every partition
         * we are given running. */
        rd_kafka_resume_partitions(rk, parts);
    } else {
        log_info("consumer", "revoking %d partition(s)", parts->cnt);
        on_revoke(c, parts);
        if (c->cooperative)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e) {
        log_error("consumer", "rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static rd_kafka_conf_t *consumer_conf(const uploader_config *cfg, void *opaque,
                                      char *errbuf, size_t errlen)
{
    /* Offsets move only when we commit what is stored. */
    const kafka_prop props[] = {
        {"group.id", cfg->uploader.group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "1000"},
        /* The prefetch is part of the memory bound (docs/operations.md). */
        {"queued.max.messages.kbytes", "32768"},
        {"partition.assignment.strategy",
         uploader_assignment_names[cfg->uploader.assignment]},
    };
    rd_kafka_conf_t *conf = kafka_conf_build(
        &cfg->kafka, props, sizeof(props) / sizeof(props[0]), errbuf, errlen);

    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    return conf;
}

/* Manifests name objects as s3://bucket/key (or file:///dir/key for the
 * local store), what loaders such as Redshift's COPY read. */
static int start_hours(consumer *c, store *st)
{
    const uploader_config *cfg = c->cfg;
    char *dir = NULL;
    hours_opts o;

    if (cfg->uploader.store == UPLOADER_STORE_S3) {
        snprintf(c->url_base, sizeof(c->url_base), "s3://%s/", cfg->s3.bucket);
    } else {
        dir = realpath(cfg->uploader.local_dir, NULL);
        snprintf(c->url_base, sizeof(c->url_base), "file://%s/",
                 dir ? dir : cfg->uploader.local_dir);
        free(dir);
    }
    o = (hours_opts){c->rk,
                     st,
                     cfg->kafka.topic,
                     cfg->s3.prefix,
                     c->url_base,
                     cfg->uploader.hour_lateness_ms,
                     cfg->uploader.hour_check_ms,
                     &c->hstats};
    c->hours = hours_start(&o);
    return c->hours ? 0 : -1;
}

consumer *consumer_new(const uploader_config *cfg, store *st, dlq *dq,
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
    pthread_mutex_init(&c->lag_mu, NULL);
    consumer_wm_init(&c->wm);
    c->cooperative =
        cfg->uploader.assignment == UPLOADER_ASSIGN_COOPERATIVE_STICKY;
    c->lim.max_records = (size_t)cfg->uploader.max_records;
    c->lim.max_bytes = (size_t)cfg->uploader.max_bytes;
    c->lim.max_age_ms = cfg->uploader.max_age_ms;
    share_memory(c);
    setup_upload_ctx(cfg, st, stats, &c->uctx);
    c->uctx.hour_entries = cfg->uploader.hour_markers;
    c->uctx.dlq = dq;
    c->uctx.check_records = dq != NULL;
    conf = consumer_conf(cfg, c, errbuf, errlen);
    if (conf == NULL)
        goto fail;
    c->rk = kafka_new(RD_KAFKA_CONSUMER, conf, errbuf, errlen);
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
    c->uctx.pool = c->pool;
    if (consumer_wm_start(&c->wm, c->rk, cfg->kafka.topic,
                          cfg->uploader.lag_interval_ms) != 0) {
        snprintf(errbuf, errlen, "cannot start the watermark thread");
        goto fail;
    }
    if (cfg->uploader.hour_markers && start_hours(c, st) != 0) {
        snprintf(errbuf, errlen, "cannot start the hour marker thread");
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

/* Closes the open batch of p if its plan says so: the planned batch ends
 * exactly at plan_end, or before the first record past it (records can be
 * missing: compaction, transaction markers). */
static void follow_plan(consumer *c, int32_t id, int64_t offset)
{
    part *p = &c->parts[id];

    if (!consumer_plan_passed(p, offset))
        return;
    p->plan_end = -1;
    if (p->open)
        close_open(c, id, BATCH_CLOSE_RECORDS);
}

static void on_message(consumer *c, const rd_kafka_message_t *m)
{
    int64_t now = now_ms();
    part *p = get_part(c, m->partition);
    batch_state st;

    if (p == NULL || !p->assigned)
        return;
    follow_plan(c, m->partition, m->offset);
    if (p->ready) {
        /* Only possible for a record fetched before the pause took hold:
         * librdkafka resumes at the next unseen offset, which would skip
         * it, so rewind to it instead. */
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, c->cfg->kafka.topic, m->partition)
            ->offset = m->offset;
        rd_kafka_seek_partitions(c->rk, l, 1000);
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    if (p->open == NULL)
        p->open = batch_new(m->partition);
    if (p->open == NULL || batch_add(p->open, m->offset, record_time(m, now),
                                     m->payload, m->len, now) < 0) {
        log_error("consumer", "out of memory at partition %d offset %lld",
                  (int)m->partition, (long long)m->offset);
        daemon_stop = 1;
        return;
    }
    atomic_fetch_add(&c->records_consumed, 1);
    if (p->plan_end >= 0) {
        /* A planned batch closes at its end and nowhere else. */
        if (consumer_plan_ends_at(p, m->offset)) {
            p->plan_end = -1;
            close_open(c, m->partition, BATCH_CLOSE_RECORDS);
        }
        return;
    }
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
        if (p->ready || p->retry)
            try_dispatch(c, i);
        if (!consumer_age_may_close(p))
            continue;
        st = batch_check(p->open, &c->lim, now);
        if (st != BATCH_OPEN)
            close_open(c, i, st);
    }
}

/* Hands the watermark thread the assigned partitions. */
static void wm_publish(consumer *c)
{
    int32_t *ids = malloc((size_t)(c->nparts ? c->nparts : 1) * sizeof(*ids));
    int n = 0;

    if (ids == NULL)
        return;
    for (int i = 0; i < c->nparts; i++)
        if (c->parts[i].assigned)
            ids[n++] = i;
    consumer_wm_publish(&c->wm, ids, n); /* ids is the thread's now */
}

/* Lag per assigned partition: its end offset minus the committed offset
 * (or the start of the partition, before any commit). The end offset is
 * the larger of the fetcher's cached one (fresh while fetching) and the
 * watermark thread's (fresh while paused). */
static void update_lag(consumer *c)
{
    consumer_lag *lag;
    int n = 0;

    if (now_ms() < c->next_lag_ms)
        return;
    c->next_lag_ms = now_ms() + c->cfg->uploader.lag_interval_ms;
    wm_publish(c);
    lag = calloc((size_t)(c->nparts ? c->nparts : 1), sizeof(*lag));
    if (lag == NULL)
        return;
    for (int i = 0; i < c->nparts; i++) {
        int64_t lo = -1, hi = -1, wm_lo, wm_hi;
        long long l;
        if (!c->parts[i].assigned)
            continue;
        rd_kafka_get_watermark_offsets(c->rk, c->cfg->kafka.topic, i, &lo, &hi);
        consumer_wm_get(&c->wm, i, &wm_lo, &wm_hi);
        l = consumer_lag_of(lo, hi, wm_lo, wm_hi, c->parts[i].committed);
        if (l < 0)
            continue;
        lag[n].partition = i;
        lag[n].lag = l;
        n++;
    }
    pthread_mutex_lock(&c->lag_mu);
    free(c->lag);
    c->lag = lag;
    c->nlag = n;
    pthread_mutex_unlock(&c->lag_mu);
}

int consumer_run(consumer *c)
{
    int rc = 0;
    int abandoned;
    int64_t deadline;

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
        update_lag(c);
    }
    log_info("consumer",
             "stopping: finishing in-flight uploads (up to %lld "
             "ms)",
             c->cfg->uploader.shutdown_timeout_ms);
    for (int i = 0; i < c->nparts; i++)
        drop_batches(&c->parts[i]);
    abandoned = finish_inflight(c, NULL, c->cfg->uploader.shutdown_timeout_ms);
    if (abandoned)
        log_warn("consumer",
                 "%d upload(s) abandoned; their records will be read again",
                 abandoned);
    consumer_wm_stop(&c->wm);
    hours_stop(c->hours);
    c->hours = NULL;
    rd_kafka_consumer_close(c->rk);
    /* Abandoned workers stop at their next retry; a PUT on the wire ends
     * within s3.request_timeout_ms. */
    deadline = now_ms() + c->cfg->s3.request_timeout_ms;
    while (orphan_count(c) > 0 && now_ms() < deadline)
        drain_done(c, 100);
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
    out->kafka_up = atomic_load(&c->wm.kafka_up);
    out->hours_on = c->cfg->uploader.hour_markers;
    out->complete_through_ms = atomic_load(&c->hstats.complete_through_ms);
    out->markers = atomic_load(&c->hstats.markers);
    out->late_records = atomic_load(&c->hstats.late_records);
    out->late_objects = atomic_load(&c->hstats.late_objects);
    out->hour_failures = atomic_load(&c->hstats.failures);
}

int consumer_get_lag(consumer *c, consumer_lag *out, int max)
{
    int n;

    pthread_mutex_lock(&c->lag_mu);
    n = c->nlag < max ? c->nlag : max;
    if (n > 0)
        memcpy(out, c->lag, (size_t)n * sizeof(*out));
    pthread_mutex_unlock(&c->lag_mu);
    return n;
}

void consumer_free(consumer *c)
{
    if (c == NULL)
        return;
    consumer_wm_stop(&c->wm);
    hours_stop(c->hours);
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
    pthread_mutex_destroy(&c->lag_mu);
    consumer_wm_destroy(&c->wm);
    free(c->lag);
    free(c->parts);
    free(c);
}
