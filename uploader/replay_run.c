/* replay_run.c -- replay's reading and writing: a span of a partition
 * read from Kafka, cut into batches (or kept whole, as the index says),
 * handed to the upload workers; progress and the summary. */
#include "replay_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "encode.h"
#include "log.h"
#include "now.h"

#define POLL_MS 1000
#define WAIT_DONE_MS 100    /* for a worker to finish, when the queue is full */
#define PROGRESS_TTY_MS 500 /* a progress line this often on a terminal */
#define PROGRESS_LOG_MS 10000 /* and this often into a log */

void replay_progress(replay_totals *t, int final)
{
    int64_t now = now_ms();
    double secs = (double)(now - t->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)t->read / secs : 0;
    double left = rate > 0 && t->planned > t->read
                      ? (double)(t->planned - t->read) / rate
                      : 0;

    if (!final && now - t->last_progress_ms <
                      (t->tty ? PROGRESS_TTY_MS : PROGRESS_LOG_MS))
        return;
    t->last_progress_ms = now;
    if (t->tty)
        fprintf(stderr,
                "\rreplay: %llu/%llu records (%.1f%%), %.0f/s, "
                "ETA %.0f s   %s",
                t->read, t->planned,
                t->planned ? 100.0 * (double)t->read / (double)t->planned
                           : 100.0,
                rate, left, final ? "\n" : "");
    else
        log_info("replay", "%llu/%llu records, %.0f/s, ETA %.0f s", t->read,
                 t->planned, rate, left);
}

static void finish_job(replay_runner *r, upload_job *j)
{
    r->t->objects += j->objects_written;
    r->t->skipped_json += j->skipped_not_json;
    r->t->skipped_large += j->skipped_too_large;
    if (j->result != UPLOAD_STORED)
        r->t->failed++;
    upload_job_free(j);
    r->inflight--;
}

static void submit(replay_runner *r, batch *b)
{
    upload_job *j = upload_job_new(b);

    r->t->batches++;
    if (j == NULL) {
        batch_free(b);
        r->t->failed++;
        return;
    }
    if (r->dry_run) {
        /* Count what would be written: encode, but store nothing. */
        encoded_object *objs = NULL;
        size_t n = 0;
        char err[128];
        encode_opts eo = {r->uctx->format, 1, 0, r->topic, NULL};
        if (encode_batch_opts(b, &eo, &objs, &n, err, sizeof(err)) == 0)
            r->t->objects += n;
        encoded_objects_free(objs, n);
        upload_job_free(j);
        return;
    }
    r->inflight++;
    while (pool_try_submit(r->pool, j) < 0) {
        upload_job *done = pool_take_done(r->pool, WAIT_DONE_MS);
        if (done)
            finish_job(r, done);
    }
}

int replay_run_span(replay_runner *r, int p, const replay_span *s)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    batch_limits lim = {(size_t)r->cfg->uploader.max_records,
                        (size_t)r->cfg->uploader.max_bytes, INT64_MAX};
    batch *b = NULL;
    int rc = -1;

    rd_kafka_topic_partition_list_add(l, r->topic, p)->offset = s->first;
    rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, POLL_MS);
        upload_job *done;
        int end = 0;
        if (m == NULL) {
            if (daemon_stop)
                goto out;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            end = 1;
        } else if (m->err) {
            log_error("replay", "partition %d: %s", p,
                      rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto out;
        } else if (m->offset > s->last) {
            end = 1;
        } else {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            if (b == NULL && (b = batch_new(p)) == NULL) {
                rd_kafka_message_destroy(m);
                goto out;
            }
            if (batch_add(b, m->offset, ts >= 0 ? ts : now_ms(), m->payload,
                          m->len, 0) < 0) {
                rd_kafka_message_destroy(m);
                goto out;
            }
            r->t->read++;
            end = m->offset >= s->last;
            if (!s->exact && !end && batch_check(b, &lim, 0) != BATCH_OPEN) {
                submit(r, b);
                b = NULL;
            }
        }
        rd_kafka_message_destroy(m);
        while ((done = pool_take_done(r->pool, 0)) != NULL)
            finish_job(r, done);
        replay_progress(r->t, 0);
        if (end)
            break;
    }
    if (b)
        submit(r, b);
    b = NULL;
    rc = 0;
out:
    batch_free(b);
    return rc;
}

void replay_print_summary(const replay_totals *t, const replay_opts *o,
                          const char *where)
{
    printf("replay %s\n"
           "  records read:          %llu\n"
           "  batches:               %d (%d re-made from the index, %d "
           "new)\n"
           "  objects %s%llu (under %s)\n"
           "  records skipped:       %llu (not_json: %llu, too_large: %llu)\n"
           "  offsets not replayed:  %llu (not yet committed by the live "
           "uploader)\n"
           "  failed batches:        %d\n",
           o->dry_run ? "dry run" : "summary", t->read, t->batches, t->exact,
           t->cut,
           o->dry_run ? "to write:      " : "written:       ", t->objects,
           where, t->skipped_json + t->skipped_large, t->skipped_json,
           t->skipped_large, t->beyond_live, t->failed);
}

void replay_drain(replay_runner *r)
{
    while (r->inflight > 0) {
        upload_job *done = pool_take_done(r->pool, WAIT_DONE_MS);
        if (done)
            finish_job(r, done);
    }
}
