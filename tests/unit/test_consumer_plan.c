/* test_consumer_plan.c -- the consumer's decisions about one partition
 * (uploader/consumer_plan.c): dispatch order, finished uploads, planned
 * batch ends, the age timer, lag and the plan metadata, without Kafka. */
#include "test.h"
#include "../../uploader/consumer_plan.h"

#include <stdlib.h>

/* Stand-ins: the decisions only look at whether these are set. */
static batch *const A_BATCH = (batch *)1;

static consumer_part assigned_part(void)
{
    consumer_part p;

    consumer_part_init(&p);
    p.assigned = 1;
    return p;
}

static void consumer_part_starts_without_plan_or_commit(void)
{
    consumer_part p;

    consumer_part_init(&p);
    ASSERT_EQ(p.plan_end, -1);
    ASSERT_EQ(p.committed, -1);
    ASSERT_EQ(consumer_next_step(&p, 0), CONSUMER_WAIT);
}

/* Rule 1: one upload of a partition at a time. */
static void consumer_step_waits_while_an_upload_is_in_flight(void)
{
    consumer_part p = assigned_part();
    upload_job j;

    p.ready = A_BATCH;
    p.inflight = &j;
    ASSERT_EQ(consumer_next_step(&p, 0), CONSUMER_WAIT);
    p.inflight = NULL;
    p.assigned = 0;
    ASSERT_EQ(consumer_next_step(&p, 0), CONSUMER_WAIT);
}

/* Rule 2: the ready batch's plan is committed before it is handed over. */
static void consumer_step_commits_the_plan_first(void)
{
    consumer_part p = assigned_part();

    p.ready = A_BATCH;
    ASSERT_EQ(consumer_next_step(&p, 0), CONSUMER_COMMIT_PLAN);
    p.ready_planned = 1;
    ASSERT_EQ(consumer_next_step(&p, 0), CONSUMER_SUBMIT_READY);
}

/* A failed batch is redone before anything else, after its backoff. */
static void consumer_step_retries_before_the_ready_batch(void)
{
    consumer_part p = assigned_part();

    p.ready = A_BATCH;
    p.retry = A_BATCH;
    p.retry_at_ms = 5000;
    ASSERT_EQ(consumer_next_step(&p, 4999), CONSUMER_WAIT);
    ASSERT_EQ(consumer_next_step(&p, 5000), CONSUMER_SUBMIT_RETRY);
}

static void consumer_done_decisions(void)
{
    static const struct {
        int assigned, ready, stored, abandon;
        consumer_done want;
    } cases[] = {
        {1, 0, 1, 0, CONSUMER_DONE_COMMIT},
        /* the ready batch's plan commit moves the offset past it */
        {1, 1, 1, 0, CONSUMER_DONE_NOTHING},
        {1, 0, 0, 0, CONSUMER_DONE_RETRY},
        /* abandoned on request: nothing to redo here */
        {1, 0, 0, 1, CONSUMER_DONE_NOTHING},
        /* revoked meanwhile: nothing is committed */
        {0, 0, 1, 0, CONSUMER_DONE_NOTHING},
        {0, 0, 0, 0, CONSUMER_DONE_NOTHING},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        consumer_part p = assigned_part();
        upload_job j;

        memset(&j, 0, sizeof(j));
        p.assigned = cases[i].assigned;
        p.ready = cases[i].ready ? A_BATCH : NULL;
        p.inflight = &j;
        j.result = cases[i].stored ? UPLOAD_STORED : UPLOAD_ABANDONED;
        atomic_store(&j.abandon, cases[i].abandon);
        if (consumer_after_upload(&p, &j) != cases[i].want)
            TEST_FAIL_("case %zu: %d, want %d", i,
                       (int)consumer_after_upload(&p, &j), (int)cases[i].want);
    }
}

/* An upload abandoned at a revoke commits nothing when it returns. */
static void consumer_done_orphan_and_stranger(void)
{
    consumer_part p = assigned_part();
    upload_job j, other;

    memset(&j, 0, sizeof(j));
    j.result = UPLOAD_STORED;
    p.orphan = &j;
    ASSERT_EQ(consumer_after_upload(&p, &j), CONSUMER_DONE_ORPHAN);
    ASSERT_EQ(consumer_after_upload(&p, &other), CONSUMER_DONE_UNKNOWN);
    ASSERT_EQ(consumer_after_upload(NULL, &j), CONSUMER_DONE_UNKNOWN);
}

/* A planned batch ends at its end, or before the first record past it
 * when records are missing. */
static void consumer_plan_closes_where_planned(void)
{
    consumer_part p = assigned_part();

    ASSERT(!consumer_plan_passed(&p, 100));
    ASSERT(!consumer_plan_ends_at(&p, 100));
    p.plan_end = 100;
    ASSERT(!consumer_plan_passed(&p, 99));
    ASSERT(!consumer_plan_ends_at(&p, 99));
    ASSERT(consumer_plan_ends_at(&p, 100));
    ASSERT(!consumer_plan_passed(&p, 100));
    ASSERT(consumer_plan_passed(&p, 101));
}

/* The age timer never cuts a planned batch, nor stacks a second closed
 * batch behind a waiting one. */
static void consumer_age_closes_only_free_batches(void)
{
    consumer_part p = assigned_part();

    ASSERT(!consumer_age_may_close(&p));
    p.open = A_BATCH;
    ASSERT(consumer_age_may_close(&p));
    p.plan_end = 7;
    ASSERT(!consumer_age_may_close(&p));
    p.plan_end = -1;
    p.ready = A_BATCH;
    ASSERT(!consumer_age_may_close(&p));
    p.ready = NULL;
    p.assigned = 0;
    ASSERT(!consumer_age_may_close(&p));
}

static void consumer_lag_from_watermarks(void)
{
    /* committed: end minus committed */
    ASSERT_EQ(consumer_lag_of(0, 100, -1, -1, 60), 40);
    /* paused: the watermark thread's end is fresher */
    ASSERT_EQ(consumer_lag_of(0, 100, 0, 150, 60), 90);
    /* nothing committed: from the start of the partition */
    ASSERT_EQ(consumer_lag_of(-1, 100, 20, -1, -1), 80);
    ASSERT_EQ(consumer_lag_of(10, 100, 30, 100, -1), 70);
    /* unknown end */
    ASSERT_EQ(consumer_lag_of(-1, -1, -1, -1, 5), -1);
    /* never negative */
    ASSERT_EQ(consumer_lag_of(0, 100, -1, -1, 120), 0);
}

static void consumer_plan_metadata_round_trip(void)
{
    char buf[96];
    int n = consumer_plan_format(buf, sizeof(buf), 1234567, -1);

    ASSERT_EQ(n, 20);
    ASSERT_STR_EQ(buf, "millrace:end=1234567");
    ASSERT_EQ(consumer_plan_parse(buf, (size_t)n), 1234567);
    /* With the newest stored timestamp (hours.h), and with it alone. */
    n = consumer_plan_format(buf, sizeof(buf), 42, 1733570000123LL);
    ASSERT_STR_EQ(buf, "millrace:end=42,ts=1733570000123");
    ASSERT_EQ(consumer_plan_parse(buf, (size_t)n), 42);
    n = consumer_plan_format(buf, sizeof(buf), -1, 7);
    ASSERT_STR_EQ(buf, "millrace:ts=7");
    ASSERT_EQ(consumer_plan_parse(buf, (size_t)n), -1);
    ASSERT_EQ(consumer_plan_format(buf, sizeof(buf), -1, -1), 0);
    ASSERT_EQ(consumer_plan_parse("other:end=5", 11), -1);
    ASSERT_EQ(consumer_plan_parse("millrace:end=", 13), -1);
    ASSERT_EQ(consumer_plan_parse(NULL, 0), -1);
    ASSERT_EQ(consumer_plan_format(buf, 8, 1234567, -1), -1);
    ASSERT_EQ(consumer_plan_format(buf, 24, 1234567, 1733570000123LL), -1);
}

TEST_MAIN(T(consumer_part_starts_without_plan_or_commit),
          T(consumer_step_waits_while_an_upload_is_in_flight),
          T(consumer_step_commits_the_plan_first),
          T(consumer_step_retries_before_the_ready_batch),
          T(consumer_done_decisions), T(consumer_done_orphan_and_stranger),
          T(consumer_plan_closes_where_planned),
          T(consumer_age_closes_only_free_batches),
          T(consumer_lag_from_watermarks), T(consumer_plan_metadata_round_trip))
