/* test_batch.c -- one partition's batch: the three closing rules (records,
 * bytes, age on an injected clock), copies of values, offsets, growth. */
#include "test.h"

#include "../../uploader/batch.h"

#include <stdlib.h>

static const batch_limits roomy = {
    .max_records = 1000000,
    .max_bytes = 1 << 30,
    .max_age_ms = 1000000,
};

/* The value of record i as a string (values are not NUL-terminated). */
static void value_of(const batch *b, size_t i, char *out, size_t outlen)
{
    size_t n = b->recs[i].len < outlen - 1 ? b->recs[i].len : outlen - 1;

    memcpy(out, b->arena + b->recs[i].pos, n);
    out[n] = '\0';
}

static void batch_new_is_empty(void)
{
    batch *b = batch_new(7);

    ASSERT(b != NULL);
    ASSERT_EQ(b->partition, 7);
    ASSERT_EQ(b->n, 0);
    ASSERT_EQ(b->bytes, 0);
    batch_free(b);
    batch_free(NULL);
}

/* Even with limits that any record would reach, and a clock far ahead. */
static void batch_empty_never_closes(void)
{
    static const batch_limits zero = {0, 0, 0};
    batch *b = batch_new(0);

    ASSERT_EQ(batch_check(b, &zero, 0), BATCH_OPEN);
    ASSERT_EQ(batch_check(b, &zero, INT64_MAX / 2), BATCH_OPEN);
    ASSERT_EQ(batch_check(b, &roomy, INT64_MAX / 2), BATCH_OPEN);
    batch_free(b);
}

static void batch_closes_on_max_records(void)
{
    batch_limits l = roomy;
    batch *b = batch_new(0);

    l.max_records = 3;
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(batch_check(b, &l, 100), BATCH_OPEN);
        ASSERT_EQ(batch_add(b, i, 0, "x", 1, 100), 0);
    }
    ASSERT_EQ(batch_check(b, &l, 100), BATCH_CLOSE_RECORDS);
    batch_free(b);
}

static void batch_closes_on_max_bytes(void)
{
    /* Adds of 4 bytes, 5 with their newline, against a 12-byte limit: 5,
     * 10 stay open, 15 closes; reaching the limit exactly closes too. */
    static const struct {
        size_t max_bytes;
        int adds_to_close;
    } cases[] = {{12, 3}, {10, 2}, {5, 1}, {6, 2}};

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        batch_limits l = roomy;
        batch *b = batch_new(0);
        l.max_bytes = cases[c].max_bytes;
        for (int i = 1; i <= cases[c].adds_to_close; i++) {
            batch_state want =
                i == cases[c].adds_to_close ? BATCH_CLOSE_BYTES : BATCH_OPEN;
            ASSERT_EQ(batch_add(b, i, 0, "abcd", 4, 0), 0);
            if (batch_check(b, &l, 0) != want)
                TEST_FAIL_("max_bytes %zu after %d adds: %s", l.max_bytes, i,
                           batch_state_name(batch_check(b, &l, 0)));
        }
        batch_free(b);
    }
}

static void batch_closes_on_max_memory(void)
{
    /* One record of 4 bytes holds 5 of NDJSON and its batch_record. */
    batch_limits l = roomy;
    batch *b = batch_new(0);
    size_t one = 5 + sizeof(batch_record);

    l.max_memory = 2 * one + 1;
    ASSERT_EQ(batch_add(b, 0, 0, "abcd", 4, 0), 0);
    ASSERT_EQ(batch_memory(b), one);
    ASSERT_EQ(batch_add(b, 1, 0, "abcd", 4, 0), 0);
    ASSERT_EQ(batch_check(b, &l, 0), BATCH_OPEN);
    ASSERT_EQ(batch_add(b, 2, 0, "abcd", 4, 0), 0);
    ASSERT_EQ(batch_check(b, &l, 0), BATCH_CLOSE_BYTES);
    batch_free(b);
}

static void batch_closes_on_max_age(void)
{
    batch_limits l = roomy;
    batch *b = batch_new(0);

    l.max_age_ms = 500;
    ASSERT_EQ(batch_add(b, 0, 0, "x", 1, 1000), 0);
    ASSERT_EQ(batch_check(b, &l, 1000), BATCH_OPEN);
    ASSERT_EQ(batch_check(b, &l, 1499), BATCH_OPEN);
    ASSERT_EQ(batch_check(b, &l, 1500), BATCH_CLOSE_AGE);
    ASSERT_EQ(batch_check(b, &l, 99999), BATCH_CLOSE_AGE);
    batch_free(b);
}

/* Age runs from the first record: later records do not extend it. */
static void batch_age_counts_from_first_record(void)
{
    batch_limits l = roomy;
    batch *b = batch_new(0);

    l.max_age_ms = 500;
    ASSERT_EQ(batch_add(b, 0, 0, "x", 1, 1000), 0);
    ASSERT_EQ(batch_add(b, 1, 0, "y", 1, 1400), 0);
    ASSERT_EQ(batch_add(b, 2, 0, "z", 1, 1499), 0);
    ASSERT_EQ(b->opened_ms, 1000);
    ASSERT_EQ(batch_check(b, &l, 1500), BATCH_CLOSE_AGE);
    batch_free(b);
}

/* One record and then silence: the clock alone closes it. */
static void batch_idle_closes_by_age_alone(void)
{
    batch_limits l = roomy;
    batch *b = batch_new(0);

    l.max_age_ms = 60000;
    ASSERT_EQ(batch_add(b, 42, 0, "only", 4, 5000), 0);
    ASSERT_EQ(batch_check(b, &l, 5000 + 59999), BATCH_OPEN);
    ASSERT_EQ(batch_check(b, &l, 5000 + 60000), BATCH_CLOSE_AGE);
    batch_free(b);
}

static void batch_state_names(void)
{
    ASSERT_STR_EQ(batch_state_name(BATCH_OPEN), "open");
    ASSERT_STR_EQ(batch_state_name(BATCH_CLOSE_RECORDS), "max_records");
    ASSERT_STR_EQ(batch_state_name(BATCH_CLOSE_BYTES), "max_bytes");
    ASSERT_STR_EQ(batch_state_name(BATCH_CLOSE_AGE), "max_age");
}

static void batch_copies_values(void)
{
    char src[] = "hello";
    char got[16];
    batch *b = batch_new(0);

    ASSERT_EQ(batch_add(b, 0, 0, src, 5, 0), 0);
    src[0] = 'J';
    memset(src + 1, '#', 4);
    value_of(b, 0, got, sizeof(got));
    ASSERT_STR_EQ(got, "hello");
    ASSERT_EQ(b->recs[0].len, 5);
    ASSERT_EQ(b->bytes, 6);
    batch_free(b);
}

static void batch_records_offsets_and_times(void)
{
    static const int64_t offsets[] = {10, 11, 15, 1LL << 40};
    static const int64_t ts[] = {1000, -5, 0, 1795804200000LL};
    batch *b = batch_new(3);

    for (size_t i = 0; i < 4; i++)
        ASSERT_EQ(batch_add(b, offsets[i], ts[i], "v", 1, 0), 0);
    ASSERT_EQ(b->n, 4);
    ASSERT_EQ(batch_first_offset(b), 10);
    ASSERT_EQ(batch_last_offset(b), 1LL << 40);
    for (size_t i = 0; i < 4; i++) {
        ASSERT_EQ(b->recs[i].offset, offsets[i]);
        ASSERT_EQ(b->recs[i].ts_ms, ts[i]);
    }
    batch_free(b);
}

static void batch_one_record_is_first_and_last(void)
{
    batch *b = batch_new(0);

    ASSERT_EQ(batch_add(b, 99, 0, "v", 1, 0), 0);
    ASSERT_EQ(batch_first_offset(b), 99);
    ASSERT_EQ(batch_last_offset(b), 99);
    batch_free(b);
}

static void batch_empty_values(void)
{
    batch *b = batch_new(0);

    ASSERT_EQ(batch_add(b, 0, 0, NULL, 0, 0), 0);
    ASSERT_EQ(batch_add(b, 1, 0, "ab", 2, 0), 0);
    ASSERT_EQ(batch_add(b, 2, 0, "", 0, 0), 0);
    ASSERT_EQ(b->n, 3);
    ASSERT_EQ(b->bytes, 5);
    ASSERT_EQ(b->recs[0].len, 0);
    ASSERT_EQ(b->recs[1].pos, 1);
    ASSERT_EQ(b->recs[2].pos, 4);
    ASSERT_MEM_EQ(b->arena, "\nab\n\n", 5);
    ASSERT_MEM_EQ(b->arena + b->recs[1].pos, "ab", 2);
    batch_free(b);
}

/* Many adds of varying sizes: every value intact and back to back, one a
 * line, after the arrays and the arena have grown many times. */
static void batch_many_adds_grow(void)
{
    const size_t n = 100000;
    batch *b = batch_new(0);
    size_t bytes = 0;
    char v[64], got[64];

    for (size_t i = 0; i < n; i++) {
        int len = snprintf(v, sizeof(v), "{\"i\":%zu,\"pad\":\"%.*s\"}", i,
                           (int)(i % 17), "xxxxxxxxxxxxxxxxx");
        ASSERT_EQ(batch_add(b, (int64_t)i, 0, v, (size_t)len, 0), 0);
        bytes += (size_t)len + 1;
    }
    ASSERT_EQ(b->n, n);
    ASSERT_EQ(b->bytes, bytes);
    for (size_t i = 0; i < n; i++) {
        size_t want_pos = i ? b->recs[i - 1].pos + b->recs[i - 1].len + 1 : 0;
        snprintf(v, sizeof(v), "{\"i\":%zu,\"pad\":\"%.*s\"}", i, (int)(i % 17),
                 "xxxxxxxxxxxxxxxxx");
        value_of(b, i, got, sizeof(got));
        if (strcmp(got, v) != 0 || b->recs[i].pos != want_pos ||
            b->recs[i].offset != (int64_t)i)
            TEST_FAIL_("record %zu: \"%s\" at %zu, want \"%s\" at %zu", i, got,
                       b->recs[i].pos, v, want_pos);
    }
    batch_free(b);
}

/* One value bigger than the arena's first allocation. */
static void batch_large_value(void)
{
    const size_t n = 1 << 20;
    char *v = malloc(n);
    batch *b = batch_new(0);

    for (size_t i = 0; i < n; i++)
        v[i] = (char)('a' + i % 26);
    ASSERT_EQ(batch_add(b, 0, 0, "x", 1, 0), 0);
    ASSERT_EQ(batch_add(b, 1, 0, v, n, 0), 0);
    ASSERT_EQ(b->recs[1].pos, 2);
    ASSERT_EQ(b->bytes, n + 3);
    ASSERT_MEM_EQ(b->arena + 2, v, n);
    free(v);
    batch_free(b);
}

TEST_MAIN(T(batch_new_is_empty), T(batch_empty_never_closes),
          T(batch_closes_on_max_records), T(batch_closes_on_max_bytes),
          T(batch_closes_on_max_memory), T(batch_closes_on_max_age),
          T(batch_age_counts_from_first_record),
          T(batch_idle_closes_by_age_alone), T(batch_state_names),
          T(batch_copies_values), T(batch_records_offsets_and_times),
          T(batch_one_record_is_first_and_last), T(batch_empty_values),
          T(batch_many_adds_grow), T(batch_large_value))
