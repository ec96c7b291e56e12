/* consumer_plan.h -- the consumer's decisions about one partition, pure:
 * when its next batch may go to a worker, what a finished upload means for
 * it, where a planned batch closes, what the max_age timer may close, its
 * lag, and the plan a commit carries. consumer.c does what they say. */
#ifndef MILLRACE_CONSUMER_PLAN_H
#define MILLRACE_CONSUMER_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "upload.h"

/* A partition as the consumer holds it. */
typedef struct consumer_part {
    int assigned;
    int paused;
    batch *open;          /* collecting records */
    batch *ready;         /* closed, waiting for the partition's turn */
    int ready_planned;    /* its plan is committed */
    upload_job *inflight; /* queued or uploading */
    batch *retry;         /* a planned batch whose upload failed: redone
                             before anything else of the partition */
    upload_job *orphan;   /* abandoned at a revoke, not yet returned */
    int64_t plan_end;     /* the first batch must end here; -1: no plan */
    int64_t committed;    /* last committed offset; < 0: none */
    int64_t retry_at_ms;  /* a failed plan commit is retried then */
    int64_t newest_ts;    /* newest Kafka timestamp stored; -1: not known */
} consumer_part;

/* A partition never seen: no plan, nothing committed. */
void consumer_part_init(consumer_part *p);

/* What may go to a worker now (rule 1 of consumer.c: one upload of a
 * partition at a time; rule 2: a batch's plan is committed first). */
typedef enum consumer_step {
    CONSUMER_WAIT = 0,     /* nothing: an upload in flight, not assigned,
                              backing off, or nothing closed */
    CONSUMER_SUBMIT_RETRY, /* the batch to redo, before anything else */
    CONSUMER_COMMIT_PLAN,  /* commit the ready batch's plan, then submit */
    CONSUMER_SUBMIT_READY, /* the ready batch, its plan committed */
} consumer_step;

consumer_step consumer_next_step(const consumer_part *p, int64_t now_ms);

/* What a job the pool returned means for its partition. */
typedef enum consumer_done {
    CONSUMER_DONE_NOTHING = 0, /* no longer in flight, nothing to commit:
                                  a ready batch's plan commit will move the
                                  offset past it, the partition was
                                  revoked, or the job was abandoned */
    CONSUMER_DONE_ORPHAN,      /* abandoned at a revoke: commit nothing */
    CONSUMER_DONE_COMMIT,      /* stored: commit its next offset */
    CONSUMER_DONE_RETRY,       /* the worker gave up (not asked to): the
                                  same batch is done again, first */
    CONSUMER_DONE_UNKNOWN,     /* not the partition's job (or no partition) */
} consumer_done;

consumer_done consumer_after_upload(const consumer_part *p, upload_job *j);

/* Whether the record at offset passes the planned end without reaching
 * it (records can be missing: compaction, transaction markers): the open
 * batch closes before it, and the plan is done. */
int consumer_plan_passed(const consumer_part *p, int64_t offset);

/* Whether the record at offset, just added, ends the planned batch. */
int consumer_plan_ends_at(const consumer_part *p, int64_t offset);

/* Whether the max_age timer may close p's open batch: not while a batch
 * waits for its turn, nor while a plan says where it ends. */
int consumer_age_may_close(const consumer_part *p);

/* The lag of a partition from its end offset (the larger of the
 * fetcher's fetch_hi and the watermark thread's wm_hi), its start (the
 * watermark thread's wm_lo when known and later, else fetch_lo) and the
 * committed offset (< 0: none, counted from the start). -1 when the end
 * is not known. Never negative otherwise. */
long long consumer_lag_of(int64_t fetch_lo, int64_t fetch_hi, int64_t wm_lo,
                          int64_t wm_hi, int64_t committed);

/* The metadata a commit carries: "millrace:end=X" (the plan of the batch
 * that ends at X; none when end < 0), then ",ts=T" (the newest Kafka
 * timestamp stored, for hours.h; none when newest_ts < 0). Returns its
 * length, 0 when it holds neither, or -1 when buf is too small. */
int consumer_plan_format(char *buf, size_t len, int64_t end, int64_t newest_ts);

/* The end offset in a committed plan's metadata, or -1. */
int64_t consumer_plan_parse(const void *meta, size_t n);

/* The newest stored timestamp in commit metadata ("...,ts=T"), or -1. */
int64_t consumer_plan_newest_ts(const void *meta, size_t n);

#endif
