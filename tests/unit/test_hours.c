/* test_hours.c -- complete hours: entry keys written and read back (and
 * foreign keys refused), marker keys, a partition's mark in each of its
 * cases, the timestamp in commit metadata, and the manifest: its exact
 * bytes, the same bytes whatever the order of the entries, valid JSON. */
#include "test.h"

#include "../../uploader/consumer_plan.h"
#include "../../uploader/hours.h"
#include "../../uploader/objkey.h"

#include <jansson.h>
#include <time.h>

static int64_t utc_ms(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};

    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm) * 1000;
}

static void hours_entry_key_exact_and_back(void)
{
    static const char want[] =
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/"
        "ev.x-3-00000000000000000042.ndjson.gz.1000.52311.entry";
    int64_t t = utc_ms(2026, 11, 27, 18, 30);
    char key[512], data[512];
    hours_entry e;

    ASSERT_EQ(hours_entry_key(key, sizeof(key), "/raw/", "ev.x", 3, 42, t,
                              ".ndjson.gz", 1000, 52311),
              strlen(want));
    ASSERT_STR_EQ(key, want);
    ASSERT_EQ(hours_parse_entry(key, "raw", "ev.x", &e), 0);
    ASSERT_EQ(e.partition, 3);
    ASSERT_EQ(e.first, 42);
    ASSERT_EQ(e.records, 1000);
    ASSERT_EQ(e.bytes, 52311);
    ASSERT_EQ(e.hour_ms, utc_ms(2026, 11, 27, 18, 0));
    objkey_format(data, sizeof(data), "raw", "ev.x", 3, 42, t, ".ndjson.gz");
    ASSERT_STR_EQ(e.data_key, data);
    ASSERT_STR_EQ(e.entry_key, want);
    ASSERT(objkey_safe(key));
    hours_entry_clear(&e);

    /* No prefix, no compression, the largest numbers. */
    ASSERT(hours_entry_key(key, sizeof(key), "", "t", 2147483647, INT64_MAX, t,
                           ".ndjson", 999999999999ULL, 0) > 0);
    ASSERT_EQ(hours_parse_entry(key, "", "t", &e), 0);
    ASSERT_EQ(e.partition, 2147483647);
    ASSERT_EQ(e.first, INT64_MAX);
    ASSERT_EQ(e.records, 999999999999ULL);
    ASSERT_EQ(e.bytes, 0);
    ASSERT_STR_EQ(e.data_key, "t/dt=2026-11-27/hour=18/"
                              "t-2147483647-09223372036854775807.ndjson");
    hours_entry_clear(&e);
    ASSERT_EQ(hours_entry_key(key, 40, "", "t", 1, 1, t, ".ndjson", 1, 1), -1);
}

static void hours_foreign_keys_refused(void)
{
    static const char *const bad[] = {
        /* another topic, another prefix, another folder */
        "raw/_millrace/hours/ev/dt=2026-11-27/hour=18/"
        "ev-3-00000000000000000042.ndjson.gz.1.2.entry",
        "other/_millrace/hours/ev.x/dt=2026-11-27/hour=18/"
        "ev.x-3-00000000000000000042.ndjson.gz.1.2.entry",
        "raw/ev.x/dt=2026-11-27/hour=18/ev.x-3-00000000000000000042.ndjson.gz",
        /* a marker, a stray file, a temp file */
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/_SUCCESS",
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/notes.txt",
        /* missing or bad fields */
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/"
        "ev.x-3-00000000000000000042.ndjson.gz.1.entry",
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/"
        "ev.x-3-0000000000000000042.ndjson.gz.1.2.entry",
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/"
        "ev.x--3-00000000000000000042.ndjson.gz.1.2.entry",
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/"
        "ev.x-3-00000000000000000042.ndjson.gz.1.2.entry.tmp",
        /* a date that is not one, an hour of another folder */
        "raw/_millrace/hours/ev.x/dt=2026-13-27/hour=18/"
        "ev.x-3-00000000000000000042.ndjson.gz.1.2.entry",
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=24/"
        "ev.x-3-00000000000000000042.ndjson.gz.1.2.entry",
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/x/"
        "ev.x-3-00000000000000000042.ndjson.gz.1.2.entry",
        /* not in canonical form: leading zeros in a count */
        "raw/_millrace/hours/ev.x/dt=2026-11-27/hour=18/"
        "ev.x-3-00000000000000000042.ndjson.gz.01.2.entry",
    };
    hours_entry e;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (hours_parse_entry(bad[i], "raw", "ev.x", &e) == 0)
            TEST_FAIL_("accepted %s", bad[i]);
}

static void hours_marker_and_folder(void)
{
    char key[256];

    ASSERT(hours_marker_key(key, sizeof(key), "raw", "events",
                            utc_ms(2026, 1, 2, 3, 59)) > 0);
    ASSERT_STR_EQ(key, "raw/events/dt=2026-01-02/hour=03/_SUCCESS");
    ASSERT(hours_marker_key(key, sizeof(key), "", "events",
                            utc_ms(2026, 12, 31, 23, 0)) > 0);
    ASSERT_STR_EQ(key, "events/dt=2026-12-31/hour=23/_SUCCESS");
    ASSERT(hours_entries_folder(key, sizeof(key), "a/b/", "events") > 0);
    ASSERT_STR_EQ(key, "a/b/_millrace/hours/events/");
}

static void hours_partition_marks(void)
{
    const int64_t look = utc_ms(2026, 5, 5, 12, 0), L = 60000;

    /* Caught up: the look, less the lateness. */
    ASSERT_EQ(hours_partition_mark(500, 0, 500, look - 3600000, look, L),
              look - L);
    /* Caught up with no timestamp kept yet. */
    ASSERT_EQ(hours_partition_mark(500, 0, 500, -1, look, L), look - L);
    /* Behind: the newest stored timestamp, less the lateness. */
    ASSERT_EQ(hours_partition_mark(400, 0, 500, look - 7200000, look, L),
              look - 7200000 - L);
    /* Behind, nothing known: every hour held. */
    ASSERT_EQ(hours_partition_mark(400, 0, 500, -1, look, L), HOURS_NO_MARK);
    /* Never committed: empty (or emptied by retention) counts as caught
     * up; with records, it holds. */
    ASSERT_EQ(hours_partition_mark(-1, 0, 0, -1, look, L), look - L);
    ASSERT_EQ(hours_partition_mark(-1, 70, 70, -1, look, L), look - L);
    ASSERT_EQ(hours_partition_mark(-1, 0, 10, -1, look, L), HOURS_NO_MARK);
    ASSERT_EQ(hours_partition_mark(-1, 0, 10, look, look, L), HOURS_NO_MARK);
    /* End offsets not known: only what is stored counts. */
    ASSERT_EQ(hours_partition_mark(400, -1, -1, look - 10, look, L),
              look - 10 - L);
}

static void hours_commit_metadata(void)
{
    static const struct {
        const char *meta;
        int64_t ts;
    } cases[] = {
        {"millrace:end=5,ts=1733570000123", 1733570000123LL},
        {"millrace:ts=9", 9},
        {"millrace:end=5", -1},
        {"millrace:end=5,ts=12x", -1},
        {"millrace:end=5,ts=", -1},
        {"millrace:end=5,ts=-4", -1},
        {"other:ts=9", -1},
        {"", -1},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT_EQ(consumer_plan_newest_ts(cases[i].meta, strlen(cases[i].meta)),
                  cases[i].ts);
    ASSERT_EQ(consumer_plan_newest_ts(NULL, 0), -1);
}

static void set(hours_entry *e, const char *key, unsigned long long r,
                unsigned long long b)
{
    memset(e, 0, sizeof(*e));
    e->data_key = (char *)key;
    e->records = r;
    e->bytes = b;
}

static void hours_manifest_bytes(void)
{
    static const char want[] =
        "{\"entries\":[\n"
        "{\"url\":\"s3://bkt/t/dt=2026-01-01/hour=00/t-0-1.ndjson.gz\","
        "\"mandatory\":true,\"meta\":{\"content_length\":10,"
        "\"record_count\":2}},\n"
        "{\"url\":\"s3://bkt/t/dt=2026-01-01/hour=00/t-1-5.ndjson.gz\","
        "\"mandatory\":true,\"meta\":{\"content_length\":30,"
        "\"record_count\":4}}\n"
        "],\n"
        "\"meta\":{\"content_length\":40,\"record_count\":6}}\n";
    hours_entry a[2], b[2];
    size_t la, lb;
    char *ma, *mb;
    json_t *j;

    set(&a[0], "t/dt=2026-01-01/hour=00/t-1-5.ndjson.gz", 4, 30);
    set(&a[1], "t/dt=2026-01-01/hour=00/t-0-1.ndjson.gz", 2, 10);
    b[0] = a[1];
    b[1] = a[0];
    ma = hours_manifest(a, 2, "s3://bkt/", &la);
    mb = hours_manifest(b, 2, "s3://bkt/", &lb);
    ASSERT(ma && mb);
    ASSERT_STR_EQ(ma, want);
    ASSERT_EQ(la, strlen(want));
    ASSERT_EQ(la, lb);
    ASSERT(memcmp(ma, mb, la) == 0);
    j = json_loadb(ma, la, 0, NULL);
    ASSERT(j != NULL);
    ASSERT_EQ(json_array_size(json_object_get(j, "entries")), 2);
    json_decref(j);
    ASSERT(hours_manifest_lists(
        ma, la, "s3://bkt/t/dt=2026-01-01/hour=00/t-1-5.ndjson.gz"));
    ASSERT(!hours_manifest_lists(
        ma, la, "s3://bkt/t/dt=2026-01-01/hour=00/t-1-50.ndjson.gz"));
    ASSERT(!hours_manifest_lists(
        ma, la, "s3://bkt/t/dt=2026-01-01/hour=00/t-1-5.ndjson"));
    free(ma);
    free(mb);

    /* A local directory with characters JSON must escape. */
    set(&a[0], "k", 1, 1);
    ma = hours_manifest(a, 1, "file:///tmp/a\"b\\c/", &la);
    ASSERT(ma != NULL);
    j = json_loadb(ma, la, 0, NULL);
    ASSERT(j != NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(
                      json_array_get(json_object_get(j, "entries"), 0), "url")),
                  "file:///tmp/a\"b\\c/k");
    json_decref(j);
    ASSERT(hours_manifest_lists(ma, la, "file:///tmp/a\"b\\c/k"));
    free(ma);
}

TEST_MAIN(T(hours_entry_key_exact_and_back), T(hours_foreign_keys_refused),
          T(hours_marker_and_folder), T(hours_partition_marks),
          T(hours_commit_metadata), T(hours_manifest_bytes))
