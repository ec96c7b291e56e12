/* test_objkey.c -- object keys: the exact Hive-style layout, zero-padded
 * offsets, prefixes with and without slashes, hour/day/month/year edges,
 * negative timestamps, and a buffer too small. Expected times come from
 * timegm, not from hand-computed constants. */
#include "test.h"

#include "../../uploader/objkey.h"

#include <time.h>

#define HOUR_MS 3600000LL

/* Milliseconds since the epoch of a UTC calendar time. */
static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s, int ms)
{
    struct tm tm = {0};

    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static void objkey_exact_key(void)
{
    static const char want[] = "raw/events/dt=2026-11-27/hour=18/"
                               "events-3-00000000000000000042.ndjson.gz";
    char key[256];
    int n;

    n = objkey_format(key, sizeof(key), "raw", "events", 3, 42,
                      utc_ms(2026, 11, 27, 18, 30, 0, 0), ".ndjson.gz");
    ASSERT_STR_EQ(key, want);
    ASSERT_EQ(n, strlen(want));
}

/* Every timestamp in the hour gives the same key. */
static void objkey_same_hour_same_key(void)
{
    int64_t start = utc_ms(2026, 11, 27, 18, 0, 0, 0);
    const int64_t in_hour[] = {0, 1, 59 * 60000, HOUR_MS - 1};
    char first[256], key[256];

    objkey_format(first, sizeof(first), "", "t", 0, 5, start, ".ndjson");
    for (size_t i = 0; i < sizeof(in_hour) / sizeof(in_hour[0]); i++) {
        objkey_format(key, sizeof(key), "", "t", 0, 5, start + in_hour[i],
                      ".ndjson");
        ASSERT_STR_EQ(key, first);
    }
}

static void objkey_offsets_zero_padded(void)
{
    static const struct {
        int64_t offset;
        const char *want;
    } cases[] = {
        {0, "00000000000000000000"},
        {1, "00000000000000000001"},
        {1234567890, "00000000001234567890"},
        {INT64_MAX, "09223372036854775807"},
    };
    int64_t ts = utc_ms(2026, 1, 2, 3, 0, 0, 0);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char key[256], want[256];
        snprintf(want, sizeof(want), "t/dt=2026-01-02/hour=03/t-0-%s.ndjson",
                 cases[i].want);
        objkey_format(key, sizeof(key), NULL, "t", 0, cases[i].offset, ts,
                      ".ndjson");
        ASSERT_STR_EQ(key, want);
    }
}

static void objkey_partition_numbers(void)
{
    int64_t ts = utc_ms(2026, 1, 2, 3, 0, 0, 0);
    char key[256];

    objkey_format(key, sizeof(key), "", "t", 2147483647, 1, ts, "");
    ASSERT_STR_EQ(key, "t/dt=2026-01-02/hour=03/"
                       "t-2147483647-00000000000000000001");
}

static void objkey_prefix_forms(void)
{
    static const struct {
        const char *prefix;
        const char *want_start;
    } cases[] = {
        {NULL, "ev/dt="},      {"", "ev/dt="},         {"/", "ev/dt="},
        {"//", "ev/dt="},      {"p", "p/ev/dt="},      {"p/", "p/ev/dt="},
        {"/p", "p/ev/dt="},    {"/p/", "p/ev/dt="},    {"//p//", "p/ev/dt="},
        {"a/b", "a/b/ev/dt="}, {"a/b/", "a/b/ev/dt="}, {"/a/b/", "a/b/ev/dt="},
    };
    int64_t ts = utc_ms(2026, 11, 27, 18, 0, 0, 0);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char key[256], want[256];
        snprintf(want, sizeof(want),
                 "%s2026-11-27/hour=18/ev-1-00000000000000000007.ndjson.zst",
                 cases[i].want_start);
        objkey_format(key, sizeof(key), cases[i].prefix, "ev", 1, 7, ts,
                      ".ndjson.zst");
        if (strcmp(key, want) != 0)
            TEST_FAIL_("prefix \"%s\":\n    \"%s\"\n != \"%s\"",
                       cases[i].prefix ? cases[i].prefix : "(null)", key, want);
    }
}

/* The date-and-hour part of a key, "dt=.../hour=HH". */
static void dt_hour(int64_t ts, char *out, size_t outlen)
{
    char key[256];
    const char *dt, *end;

    objkey_format(key, sizeof(key), "", "t", 0, 0, ts, "");
    dt = strstr(key, "dt=");
    end = dt ? strstr(dt, "/t-") : NULL;
    if (dt == NULL || end == NULL) {
        dt = key;
        end = key + strlen(key);
    }
    snprintf(out, outlen, "%.*s", (int)(end - dt), dt);
}

/* Each pair: the last millisecond of an hour and the first of the next. */
static void objkey_hour_day_month_year_edges(void)
{
    static const struct {
        int y, mo, d, h;
        const char *before, *after;
    } cases[] = {
        {2026, 11, 27, 18, "dt=2026-11-27/hour=18", "dt=2026-11-27/hour=19"},
        {2026, 11, 27, 23, "dt=2026-11-27/hour=23", "dt=2026-11-28/hour=00"},
        {2026, 11, 30, 23, "dt=2026-11-30/hour=23", "dt=2026-12-01/hour=00"},
        {2026, 12, 31, 23, "dt=2026-12-31/hour=23", "dt=2027-01-01/hour=00"},
        {2028, 2, 28, 23, "dt=2028-02-28/hour=23", "dt=2028-02-29/hour=00"},
        {2027, 2, 28, 23, "dt=2027-02-28/hour=23", "dt=2027-03-01/hour=00"},
        {2026, 1, 1, 9, "dt=2026-01-01/hour=09", "dt=2026-01-01/hour=10"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t last = utc_ms(cases[i].y, cases[i].mo, cases[i].d, cases[i].h,
                              59, 59, 999);
        char got[64];
        dt_hour(last, got, sizeof(got));
        ASSERT_STR_EQ(got, cases[i].before);
        dt_hour(last + 1, got, sizeof(got));
        ASSERT_STR_EQ(got, cases[i].after);
    }
}

static void objkey_negative_timestamps(void)
{
    char got[64];

    dt_hour(-1, got, sizeof(got));
    ASSERT_STR_EQ(got, "dt=1969-12-31/hour=23");
    dt_hour(-HOUR_MS, got, sizeof(got));
    ASSERT_STR_EQ(got, "dt=1969-12-31/hour=23");
    dt_hour(-HOUR_MS - 1, got, sizeof(got));
    ASSERT_STR_EQ(got, "dt=1969-12-31/hour=22");
    dt_hour(0, got, sizeof(got));
    ASSERT_STR_EQ(got, "dt=1970-01-01/hour=00");
}

static void objkey_hour_start_values(void)
{
    static const struct {
        int64_t ts, want;
    } cases[] = {
        {0, 0},
        {1, 0},
        {HOUR_MS - 1, 0},
        {HOUR_MS, HOUR_MS},
        {HOUR_MS + 1, HOUR_MS},
        {-1, -HOUR_MS},
        {-HOUR_MS + 1, -HOUR_MS},
        {-HOUR_MS, -HOUR_MS},
        {-HOUR_MS - 1, -2 * HOUR_MS},
        {-2 * HOUR_MS, -2 * HOUR_MS},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT_EQ(objkey_hour_start(cases[i].ts), cases[i].want);
}

static void objkey_hour_start_real_time(void)
{
    int64_t start = utc_ms(2026, 11, 27, 18, 0, 0, 0);

    ASSERT_EQ(objkey_hour_start(utc_ms(2026, 11, 27, 18, 30, 15, 123)), start);
    ASSERT_EQ(objkey_hour_start(start), start);
    ASSERT_EQ(objkey_hour_start(start - 1), start - HOUR_MS);
    ASSERT_EQ(start % HOUR_MS, 0);
}

/* INT64_MIN overflowed (h * HOUR_MS; UBSan aborted). Found by
 * tests/fuzz/fuzz_objkey (corpus: int64-min-ts). */
static void objkey_hour_start_int64_extremes(void)
{
    int64_t first = INT64_MIN - INT64_MIN % HOUR_MS; /* first whole hour */
    char key[256];

    ASSERT_EQ(objkey_hour_start(INT64_MIN), first);
    ASSERT_EQ(objkey_hour_start(first - 1), first);
    ASSERT_EQ(objkey_hour_start(first), first);
    ASSERT_EQ(objkey_hour_start(first + HOUR_MS - 1), first);
    ASSERT_EQ(objkey_hour_start(first + HOUR_MS), first + HOUR_MS);
    ASSERT_EQ(objkey_hour_start(INT64_MAX), INT64_MAX - INT64_MAX % HOUR_MS);
    ASSERT(objkey_format(key, sizeof(key), "p", "t", 0, 0, INT64_MIN, "") > 0);
    ASSERT(objkey_format(key, sizeof(key), "p", "t", 0, 0, INT64_MAX, "") > 0);
}

/* The length returned needs length + 1 bytes (the NUL). */
static void objkey_buffer_too_small(void)
{
    int64_t ts = utc_ms(2026, 11, 27, 18, 0, 0, 0);
    char big[256], small[256];
    int n = objkey_format(big, sizeof(big), "p", "events", 0, 1, ts, ".x");

    ASSERT(n > 0);
    ASSERT_EQ(
        objkey_format(small, (size_t)n + 1, "p", "events", 0, 1, ts, ".x"), n);
    ASSERT_STR_EQ(small, big);
    ASSERT_EQ(objkey_format(small, (size_t)n, "p", "events", 0, 1, ts, ".x"),
              -1);
    ASSERT_EQ(objkey_format(small, 1, "p", "events", 0, 1, ts, ".x"), -1);
    ASSERT_EQ(objkey_format(small, 0, "p", "events", 0, 1, ts, ".x"), -1);
}

/* Every key, data or index, holds only the characters AWS lists as safe,
 * whatever the topic (Kafka allows [a-zA-Z0-9._-]) and the numbers. */
static void objkey_keys_hold_only_safe_characters(void)
{
    static const char *const topics[] = {"events", "a.b_c-D9", "x", "-_."};
    static const int32_t parts[] = {0, 7, 2147483647};
    char key[512];

    for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++)
        for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
            ASSERT(objkey_format(key, sizeof(key), "pre/fix", topics[t],
                                 parts[p], INT64_MAX, -1, ".ndjson.gz") > 0);
            if (!objkey_safe(key))
                TEST_FAIL_("unsafe key %s", key);
            ASSERT(objkey_index(key, sizeof(key), "pre", topics[t], parts[p], 0,
                                INT64_MAX) > 0);
            if (!objkey_safe(key))
                TEST_FAIL_("unsafe index key %s", key);
        }
    ASSERT(objkey_safe("a/b-c_d.e!f*g'h(i)j"));
    ASSERT(!objkey_safe("a+b"));
    ASSERT(!objkey_safe("a b"));
    ASSERT(objkey_safe("dt=2026-01-01/hour=00"));
    ASSERT(!objkey_safe("a&b"));
}

TEST_MAIN(T(objkey_exact_key), T(objkey_keys_hold_only_safe_characters),
          T(objkey_same_hour_same_key), T(objkey_offsets_zero_padded),
          T(objkey_partition_numbers), T(objkey_prefix_forms),
          T(objkey_hour_day_month_year_edges), T(objkey_negative_timestamps),
          T(objkey_hour_start_values), T(objkey_hour_start_real_time),
          T(objkey_hour_start_int64_extremes), T(objkey_buffer_too_small))
