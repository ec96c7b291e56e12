/* test_replay.c -- replay's pure parts: planning spans from the index and
 * the requested ranges, parsing times; and the index keys it reads. */
#include "test.h"

#include "../../uploader/objkey.h"
#include "../../uploader/replay.h"
#include "../../uploader/replay_int.h"

static const replay_span idx[] = {
    {0, 9, 1}, {10, 24, 1}, {25, 25, 1}, {40, 59, 1}};
#define NIDX ((int)(sizeof(idx) / sizeof(idx[0])))

static void replay_plan_takes_whole_index_batches(void)
{
    int64_t from[] = {12}, to[] = {30};
    replay_span out[16];
    int n = replay_plan(idx, NIDX, from, to, 1, out, 16);

    /* [10,24] and [25,25] whole; 26..30 is not indexed: cut anew. */
    ASSERT_EQ(n, 3);
    ASSERT_EQ(out[0].first, 10);
    ASSERT_EQ(out[0].last, 24);
    ASSERT_EQ(out[0].exact, 1);
    ASSERT_EQ(out[1].first, 25);
    ASSERT_EQ(out[1].last, 25);
    ASSERT_EQ(out[2].first, 26);
    ASSERT_EQ(out[2].last, 30);
    ASSERT_EQ(out[2].exact, 0);
}

static void replay_plan_fills_gaps_before_batches(void)
{
    int64_t from[] = {30}, to[] = {45};
    replay_span out[16];
    int n = replay_plan(idx, NIDX, from, to, 1, out, 16);

    ASSERT_EQ(n, 2);
    ASSERT_EQ(out[0].first, 30);
    ASSERT_EQ(out[0].last, 39);
    ASSERT_EQ(out[0].exact, 0);
    ASSERT_EQ(out[1].first, 40);
    ASSERT_EQ(out[1].last, 59);
    ASSERT_EQ(out[1].exact, 1);
}

static void replay_plan_single_offsets_share_a_batch(void)
{
    /* Dead letters at 3, 5 and 7 all belong to batch [0, 9]. */
    int64_t from[] = {3, 5, 7}, to[] = {3, 5, 7};
    replay_span out[16];
    int n = replay_plan(idx, NIDX, from, to, 3, out, 16);

    ASSERT_EQ(n, 1);
    ASSERT_EQ(out[0].first, 0);
    ASSERT_EQ(out[0].last, 9);
}

static void replay_plan_overlapping_ranges_cut_once(void)
{
    int64_t from[] = {60, 65}, to[] = {70, 80};
    replay_span out[16];
    int n = replay_plan(idx, NIDX, from, to, 2, out, 16);

    ASSERT_EQ(n, 2);
    ASSERT_EQ(out[0].first, 60);
    ASSERT_EQ(out[0].last, 70);
    ASSERT_EQ(out[1].first, 71);
    ASSERT_EQ(out[1].last, 80);
}

static void replay_plan_without_index_cuts_the_range(void)
{
    int64_t from[] = {5}, to[] = {9};
    replay_span out[4];
    int n = replay_plan(NULL, 0, from, to, 1, out, 4);

    ASSERT_EQ(n, 1);
    ASSERT_EQ(out[0].first, 5);
    ASSERT_EQ(out[0].last, 9);
    ASSERT_EQ(out[0].exact, 0);
}

static void replay_plan_reports_a_small_buffer(void)
{
    int64_t from[] = {0}, to[] = {80};
    replay_span out[2];

    ASSERT_EQ(replay_plan(idx, NIDX, from, to, 1, out, 2), -1);
}

static void replay_parse_time_forms(void)
{
    int64_t ms = 0;

    ASSERT_EQ(replay_parse_time("1795804200000", &ms), 0);
    ASSERT_EQ(ms, 1795804200000LL);
    ASSERT_EQ(replay_parse_time("2026-11-27T18:30:00Z", &ms), 0);
    ASSERT_EQ(ms, 1795804200000LL);
    ASSERT_EQ(replay_parse_time("2026-11-27T19:30:00.250+01:00", &ms), 0);
    ASSERT_EQ(ms, 1795804200250LL);
    ASSERT_EQ(replay_parse_time("yesterday", &ms), -1);
    ASSERT_EQ(replay_parse_time("2026-11-27T18:30:00", &ms), -1);
    ASSERT_EQ(replay_parse_time("", &ms), -1);
}

static void objkey_index_round_trips(void)
{
    char key[256];
    int64_t f = 0, l = 0;

    ASSERT(objkey_index(key, sizeof(key), "/p/", "events", 3, 42, 99) > 0);
    ASSERT_STR_EQ(key, "p/_millrace/index/events/3/"
                       "00000000000000000042-00000000000000000099.json");
    ASSERT_EQ(objkey_parse_index(key, &f, &l), 0);
    ASSERT_EQ(f, 42);
    ASSERT_EQ(l, 99);
    ASSERT(objkey_index(key, sizeof(key), "", "events", 3, -1, -1) > 0);
    ASSERT_STR_EQ(key, "_millrace/index/events/3/");
}

static void objkey_parse_index_rejects_others(void)
{
    int64_t f, l;

    ASSERT_EQ(
        objkey_parse_index("events+3+00000000000000000042.ndjson.gz", &f, &l),
        -1);
    ASSERT_EQ(objkey_parse_index("x/00000000000000000099-"
                                 "00000000000000000042.json",
                                 &f, &l),
              -1);
    ASSERT_EQ(objkey_parse_index("x/0000000000000000009-"
                                 "00000000000000000042.json",
                                 &f, &l),
              -1);
}

static void objkey_index_too_small_buffer(void)
{
    char key[16];

    ASSERT_EQ(objkey_index(key, sizeof(key), "p", "events", 3, 1, 2), -1);
}

/* What the live group has not committed stays the live uploader's: the
 * ranges are cut there, and ranges left empty dropped. */
static void replay_clip_to_live_cuts_at_the_committed_offset(void)
{
    replay_part p = {{NULL, NULL, 0, 0}, 0, 100, 50};

    ASSERT_EQ(replay_ranges_add(&p.want, 10, 20), 0);
    ASSERT_EQ(replay_ranges_add(&p.want, 45, 60), 0);
    ASSERT_EQ(replay_ranges_add(&p.want, 70, 80), 0);
    ASSERT_EQ(replay_clip_to_live(&p), 11 + 11);
    ASSERT_EQ(p.want.n, 2);
    ASSERT_EQ(p.want.from[0], 10);
    ASSERT_EQ(p.want.to[0], 20);
    ASSERT_EQ(p.want.from[1], 45);
    ASSERT_EQ(p.want.to[1], 49);
    replay_ranges_free(&p.want);
}

/* A group that never committed leaves everything to replay. */
static void replay_clip_to_live_keeps_all_without_a_commit(void)
{
    replay_part p = {{NULL, NULL, 0, 0}, 0, 100, -1};

    ASSERT_EQ(replay_ranges_add(&p.want, 0, 99), 0);
    ASSERT_EQ(replay_clip_to_live(&p), 0);
    ASSERT_EQ(p.want.n, 1);
    ASSERT_EQ(p.want.to[0], 99);
    replay_ranges_free(&p.want);
}

TEST_MAIN(T(replay_clip_to_live_cuts_at_the_committed_offset),
          T(replay_clip_to_live_keeps_all_without_a_commit),
          T(replay_plan_takes_whole_index_batches),
          T(replay_plan_fills_gaps_before_batches),
          T(replay_plan_single_offsets_share_a_batch),
          T(replay_plan_overlapping_ranges_cut_once),
          T(replay_plan_without_index_cuts_the_range),
          T(replay_plan_reports_a_small_buffer), T(replay_parse_time_forms),
          T(objkey_index_round_trips), T(objkey_parse_index_rejects_others),
          T(objkey_index_too_small_buffer))
