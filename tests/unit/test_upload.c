/* test_upload.c -- one worker's job against a fake store: an object per
 * hour under objkey_format's key with the right body, retries until stored,
 * permanent failures until abandoned, and the backoff's shape. */
#include "test.h"

#include "../../uploader/objkey.h"
#include "../../uploader/pool.h"
#include "../../uploader/upload.h"
#include "log.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

#define HOUR_MS 3600000LL
#define MAX_PUTS 16

/* ---- a fake store ---- */

typedef struct put_rec {
    char key[1100];
    char *data;
    size_t len;
    const char *content_type;     /* static strings from upload.c */
    const char *content_encoding; /* or NULL */
} put_rec;

typedef struct fake_store {
    store st; /* first: the uploader sees only this */
    pthread_mutex_t mu;
    int ok_first;           /* the first puts that succeed come what may */
    int fail_n;             /* then fail this many (-1: every one) */
    store_result fail_with; /* STORE_RETRY or STORE_PERMANENT */
    int abandon_at;         /* on this call, abandon job (0: never) */
    upload_job *job;
    int calls;
    put_rec puts[MAX_PUTS];
    int nputs;
} fake_store;

static store_result fake_put(store *st, const store_object *obj, char *errbuf,
                             size_t errlen)
{
    fake_store *f = (fake_store *)st;
    store_result r = STORE_OK;

    pthread_mutex_lock(&f->mu);
    f->calls++;
    if (f->abandon_at && f->calls == f->abandon_at)
        atomic_store(&f->job->abandon, 1);
    if (f->calls > f->ok_first && f->fail_n != 0) {
        if (f->fail_n > 0)
            f->fail_n--;
        snprintf(errbuf, errlen, "fake failure on call %d", f->calls);
        r = f->fail_with;
    } else if (f->nputs < MAX_PUTS) {
        put_rec *p = &f->puts[f->nputs++];
        snprintf(p->key, sizeof(p->key), "%s", obj->key);
        p->data = malloc(obj->len + 1);
        memcpy(p->data, obj->data, obj->len);
        p->data[obj->len] = '\0';
        p->len = obj->len;
        p->content_type = obj->content_type;
        p->content_encoding = obj->content_encoding;
    }
    pthread_mutex_unlock(&f->mu);
    return r;
}

static void fake_destroy(store *st)
{
    fake_store *f = (fake_store *)st;

    for (int i = 0; i < f->nputs; i++)
        free(f->puts[i].data);
    pthread_mutex_destroy(&f->mu);
}

static const store_ops fake_ops = {
    .name = "fake",
    .put = fake_put,
    .destroy = fake_destroy,
};

static void fake_init(fake_store *f)
{
    memset(f, 0, sizeof(*f));
    f->st.ops = &fake_ops;
    f->fail_with = STORE_RETRY;
    pthread_mutex_init(&f->mu, NULL);
}

/* ---- fixtures ---- */

/* 2026-11-27T18:00:00Z plus k hours. */
static int64_t hour(int k)
{
    struct tm tm = {0};

    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 10;
    tm.tm_mday = 27;
    tm.tm_hour = 18;
    return (int64_t)timegm(&tm) * 1000 + k * HOUR_MS;
}

typedef struct rec {
    int64_t offset;
    int64_t ts_ms;
    const char *value;
} rec;

static upload_job *job_of(int32_t partition, const rec *r, size_t n)
{
    batch *b = batch_new(partition);

    for (size_t i = 0; i < n; i++)
        batch_add(b, r[i].offset, r[i].ts_ms, r[i].value, strlen(r[i].value),
                  0);
    return upload_job_new(b);
}

static upload_ctx ctx_of(fake_store *f, upload_stats *stats, encode_format fmt)
{
    upload_ctx c = {
        .st = &f->st,
        .topic = "events",
        .prefix = "raw",
        .format = fmt,
        .level = 6,
        .retry_base_ms = 1,
        .retry_max_ms = 2,
        .stats = stats,
    };

    memset(stats, 0, sizeof(*stats));
    return c;
}

/* Failures below are on purpose; keep their log lines out of the output. */
static void quiet(void)
{
    log_set_level((enum log_level)(LOG_ERROR + 1));
}

static char *gunzip_all(const char *p, size_t len)
{
    z_stream zs;
    size_t cap = 1 << 16;
    char *out = malloc(cap);
    int zrc;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        return NULL;
    }
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)(cap - 1);
    zrc = inflate(&zs, Z_FINISH);
    out[zs.total_out] = '\0';
    inflateEnd(&zs);
    if (zrc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- backoff ---- */

/* With r = 0 the delay is the lower end, d/2; with r = d/2 the top, d. */
static void upload_backoff_grows_exponentially(void)
{
    static const struct {
        int attempt;
        long long d;
    } cases[] = {
        {0, 100},   {1, 200},    {2, 400},      {3, 800},
        {4, 1600},  {5, 3200},   {6, 6400},     {7, 10000},
        {8, 10000}, {30, 10000}, {1000, 10000},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long d = cases[i].d;
        ASSERT_EQ(upload_backoff_ms(100, 10000, cases[i].attempt, 0), d / 2);
        ASSERT_EQ(
            upload_backoff_ms(100, 10000, cases[i].attempt, (unsigned)(d / 2)),
            d);
    }
}

static void upload_backoff_jitter_in_range(void)
{
    unsigned seed = 12345;

    for (int attempt = 0; attempt < 12; attempt++) {
        long long d = 100LL << attempt;
        long long lo = 1LL << 62, hi = 0;
        if (d > 30000)
            d = 30000;
        for (int k = 0; k < 1000; k++) {
            long long v =
                upload_backoff_ms(100, 30000, attempt, (unsigned)rand_r(&seed));
            if (v < d / 2 || v > d)
                TEST_FAIL_("attempt %d: %lld outside [%lld, %lld]", attempt, v,
                           d / 2, d);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        /* Jitter really spreads the retries over the range. */
        if (hi - lo < d / 4)
            TEST_FAIL_("attempt %d: values only in [%lld, %lld]", attempt, lo,
                       hi);
    }
}

static void upload_backoff_edges(void)
{
    ASSERT_EQ(upload_backoff_ms(5000, 1000, 0, 0), 500);
    ASSERT_EQ(upload_backoff_ms(5000, 1000, 3, 500), 1000);
    ASSERT(upload_backoff_ms(1, 2, 0, 0xffffffffu) <= 1);
    ASSERT(upload_backoff_ms(1, 2, 5, 0xffffffffu) <= 2);
    ASSERT(upload_backoff_ms(1, 2, 5, 0xffffffffu) >= 1);
    ASSERT(upload_backoff_ms(200, 3600000, 1 << 30, 7) <= 3600000);
}

/* ---- jobs ---- */

static void upload_job_new_commits_after_last(void)
{
    const rec r[] = {{40, 0, "a"}, {41, 0, "b"}};
    upload_job *j = job_of(0, r, 2);

    ASSERT(j != NULL);
    ASSERT_EQ(j->next_offset, 42);
    ASSERT_EQ(atomic_load(&j->abandon), 0);
    ASSERT_EQ(j->result, UPLOAD_PENDING);
    upload_job_free(j);
    upload_job_free(NULL);
}

static void upload_run_stores_one_object_per_hour(void)
{
    const rec r[] = {{100, hour(0) + 1, "a"},
                     {101, hour(1), "bb"},
                     {102, hour(0) + HOUR_MS - 1, "c"}};
    upload_job *j = job_of(2, r, 3);
    upload_stats stats;
    fake_store f;
    upload_ctx c;
    char want0[256], want1[256];

    fake_init(&f);
    c = ctx_of(&f, &stats, ENCODE_NONE);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_STORED);
    ASSERT_EQ(f.nputs, 2);
    objkey_format(want0, sizeof(want0), "raw", "events", 2, 100, hour(0),
                  ".ndjson");
    objkey_format(want1, sizeof(want1), "raw", "events", 2, 101, hour(1),
                  ".ndjson");
    ASSERT_STR_EQ(f.puts[0].key, want0);
    ASSERT_STR_EQ(f.puts[1].key, want1);
    ASSERT_STR_EQ(f.puts[0].data, "a\nc\n");
    ASSERT_STR_EQ(f.puts[1].data, "bb\n");
    ASSERT_STR_EQ(f.puts[0].content_type, "application/x-ndjson");
    ASSERT(f.puts[0].content_encoding == NULL);
    ASSERT_EQ(atomic_load(&stats.objects), 2);
    ASSERT_EQ(atomic_load(&stats.records), 3);
    ASSERT_EQ(atomic_load(&stats.bytes), 4 + 3);
    ASSERT_EQ(atomic_load(&stats.retries), 0);
    upload_job_free(j);
    store_destroy(&f.st);
}

static void upload_run_gzip_object(void)
{
    const rec r[] = {{7, hour(0), "{\"a\":1}"}, {8, hour(0), "{\"b\":2}"}};
    upload_job *j = job_of(0, r, 2);
    upload_stats stats;
    fake_store f;
    upload_ctx c;
    char want[256];
    char *body;

    fake_init(&f);
    c = ctx_of(&f, &stats, ENCODE_GZIP);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_STORED);
    ASSERT_EQ(f.nputs, 1);
    objkey_format(want, sizeof(want), "raw", "events", 0, 7, hour(0),
                  ".ndjson.gz");
    ASSERT_STR_EQ(f.puts[0].key, want);
    /* the default: the file its name says, no Content-Encoding */
    ASSERT(f.puts[0].content_encoding == NULL);
    ASSERT_EQ(atomic_load(&stats.bytes), f.puts[0].len);
    body = gunzip_all(f.puts[0].data, f.puts[0].len);
    ASSERT(body != NULL);
    ASSERT_STR_EQ(body, "{\"a\":1}\n{\"b\":2}\n");
    free(body);
    upload_job_free(j);
    store_destroy(&f.st);
}

static void upload_run_retries_until_success(void)
{
    const rec r[] = {{1, hour(0), "x"}};
    upload_job *j = job_of(0, r, 1);
    upload_stats stats;
    fake_store f;
    upload_ctx c;

    quiet();
    fake_init(&f);
    f.fail_n = 3;
    c = ctx_of(&f, &stats, ENCODE_NONE);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_STORED);
    ASSERT_EQ(f.calls, 4);
    ASSERT_EQ(f.nputs, 1);
    ASSERT_STR_EQ(f.puts[0].data, "x\n");
    ASSERT_EQ(atomic_load(&stats.retries), 3);
    ASSERT_EQ(atomic_load(&stats.permanent_errors), 0);
    ASSERT_EQ(atomic_load(&stats.failing), 0);
    ASSERT_EQ(atomic_load(&stats.objects), 1);
    upload_job_free(j);
    store_destroy(&f.st);
}

/* A permanent error never skips records: it retries until abandoned. */
static void upload_run_permanent_failure_until_abandoned(void)
{
    const rec r[] = {{1, hour(0), "x"}};
    upload_job *j = job_of(0, r, 1);
    upload_stats stats;
    fake_store f;
    upload_ctx c;

    quiet();
    fake_init(&f);
    f.fail_n = -1;
    f.fail_with = STORE_PERMANENT;
    f.abandon_at = 5;
    f.job = j;
    c = ctx_of(&f, &stats, ENCODE_NONE);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_ABANDONED);
    ASSERT_EQ(f.calls, 5);
    ASSERT_EQ(f.nputs, 0);
    ASSERT_EQ(atomic_load(&stats.permanent_errors), 5);
    ASSERT_EQ(atomic_load(&stats.retries), 5);
    /* failing counts jobs failing now; this one has ended. */
    ASSERT_EQ(atomic_load(&stats.failing), 0);
    ASSERT_EQ(atomic_load(&stats.objects), 0);
    upload_job_free(j);
    store_destroy(&f.st);
}

static void upload_run_permanent_failure_then_recovers(void)
{
    const rec r[] = {{1, hour(0), "x"}};
    upload_job *j = job_of(0, r, 1);
    upload_stats stats;
    fake_store f;
    upload_ctx c;

    quiet();
    fake_init(&f);
    f.fail_n = 2;
    f.fail_with = STORE_PERMANENT;
    c = ctx_of(&f, &stats, ENCODE_NONE);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_STORED);
    ASSERT_EQ(f.calls, 3);
    ASSERT_EQ(atomic_load(&stats.permanent_errors), 2);
    ASSERT_EQ(atomic_load(&stats.failing), 0);
    upload_job_free(j);
    store_destroy(&f.st);
}

/* Abandoned after the first hour's object: the second is never stored and
 * the job as a whole is abandoned (nothing may be committed). */
static void upload_run_abandon_between_objects(void)
{
    const rec r[] = {{1, hour(0), "x"}, {2, hour(1), "y"}};
    upload_job *j = job_of(0, r, 2);
    upload_stats stats;
    fake_store f;
    upload_ctx c;

    quiet();
    fake_init(&f);
    f.ok_first = 1;
    f.fail_n = -1;
    f.abandon_at = 3;
    f.job = j;
    c = ctx_of(&f, &stats, ENCODE_NONE);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_ABANDONED);
    ASSERT_EQ(f.calls, 3);
    ASSERT_EQ(f.nputs, 1);
    ASSERT_STR_EQ(f.puts[0].data, "x\n");
    ASSERT_EQ(atomic_load(&stats.objects), 1);
    ASSERT_EQ(atomic_load(&stats.retries), 2);
    upload_job_free(j);
    store_destroy(&f.st);
}

static void upload_run_abandoned_before_start(void)
{
    const rec r[] = {{1, hour(0), "x"}};
    upload_job *j = job_of(0, r, 1);
    upload_stats stats;
    fake_store f;
    upload_ctx c;

    fake_init(&f);
    c = ctx_of(&f, &stats, ENCODE_NONE);
    atomic_store(&j->abandon, 1);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_ABANDONED);
    ASSERT_EQ(f.calls, 0);
    upload_job_free(j);
    store_destroy(&f.st);
}

/* Errors before any put (an unencodable batch, a key that cannot be
 * formed) end the job as abandoned without touching the store. */
static void upload_run_local_errors_abandon(void)
{
    static char long_prefix[2000];
    const rec r[] = {{1, hour(0), "x"}};
    upload_stats stats;
    fake_store f;
    upload_ctx c;
    upload_job *j;

    quiet();
    memset(long_prefix, 'p', sizeof(long_prefix) - 1);
    fake_init(&f);
    c = ctx_of(&f, &stats, ENCODE_GZIP);
    c.level = 42;
    j = job_of(0, r, 1);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_ABANDONED);
    upload_job_free(j);
    c.level = 6;
    c.prefix = long_prefix;
    j = job_of(0, r, 1);
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_ABANDONED);
    upload_job_free(j);
    ASSERT_EQ(f.calls, 0);
    store_destroy(&f.st);
}

/* Several jobs on a pool share one store; every one is stored once. */
static void upload_run_on_pool_workers(void)
{
    enum { N = 8 };
    upload_job *jobs[N];
    upload_stats stats;
    fake_store f;
    upload_ctx c;
    pool *p;
    int back = 0;

    fake_init(&f);
    c = ctx_of(&f, &stats, ENCODE_ZSTD);
    p = pool_new(4, N, upload_run, &c);
    ASSERT(p != NULL);
    for (int i = 0; i < N; i++) {
        const rec r[] = {{i * 10, hour(i % 2), "v"}};
        jobs[i] = job_of(i, r, 1);
        ASSERT_EQ(pool_try_submit(p, jobs[i]), 0);
    }
    while (back < N) {
        upload_job *d = pool_take_done(p, 10000);
        ASSERT(d != NULL);
        ASSERT_EQ(d->result, UPLOAD_STORED);
        back++;
    }
    pool_free(p);
    ASSERT_EQ(f.nputs, N);
    ASSERT_EQ(atomic_load(&stats.objects), N);
    for (int i = 0; i < N; i++)
        upload_job_free(jobs[i]);
    store_destroy(&f.st);
}

/* ---- checks, index, time field ---- */

static void upload_run_leaves_out_bad_records_without_dlq(void)
{
    const rec r[] = {
        {1, hour(0), "{\"ok\":1}"},
        {2, hour(0), "not json"},
        {3, hour(0), "{\"big\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"},
        {4, hour(0), "{\"ok\":2}"}};
    upload_job *j = job_of(0, r, 4);
    upload_stats stats;
    fake_store f;
    upload_ctx c;

    quiet();
    fake_init(&f);
    c = ctx_of(&f, &stats, ENCODE_NONE);
    c.check_records = 1;
    c.max_record_bytes = 32;
    c.max_depth = 10;
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_STORED);
    ASSERT_EQ(j->skipped_not_json, 1);
    ASSERT_EQ(j->skipped_too_large, 1);
    ASSERT_EQ(f.nputs, 1);
    ASSERT_STR_EQ(f.puts[0].data, "{\"ok\":1}\n{\"ok\":2}\n");
    /* The key still names offset 1, the hour's first record. */
    ASSERT(strstr(f.puts[0].key, "events-0-00000000000000000001") != NULL);
    upload_job_free(j);
    store_destroy(&f.st);
}

static void upload_run_writes_the_index_last(void)
{
    const rec r[] = {{5, hour(0), "{\"a\":1}"}, {6, hour(1), "{\"a\":2}"}};
    upload_job *j = job_of(2, r, 2);
    upload_stats stats;
    fake_store f;
    upload_ctx c;

    fake_init(&f);
    c = ctx_of(&f, &stats, ENCODE_NONE);
    c.write_index = 1;
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_STORED);
    ASSERT_EQ(f.nputs, 3);
    ASSERT_STR_EQ(f.puts[2].key, "raw/_millrace/index/events/2/"
                                 "00000000000000000005-"
                                 "00000000000000000006.json");
    ASSERT(strstr(f.puts[2].data, "\"first\":5,\"last\":6") != NULL);
    ASSERT(strstr(f.puts[2].data, f.puts[0].key) != NULL);
    ASSERT(strstr(f.puts[2].data, f.puts[1].key) != NULL);
    ASSERT_STR_EQ(f.puts[2].content_type, "application/json");
    upload_job_free(j);
    store_destroy(&f.st);
}

static void upload_run_time_field_places_records(void)
{
    const rec r[] = {{1, hour(0), "{\"t\":\"2026-11-27T21:15:00Z\"}"},
                     {2, hour(0), "{\"t\":1795802400}"},
                     {3, hour(0), "{\"no_time\":1}"}};
    upload_job *j = job_of(0, r, 3);
    upload_stats stats;
    fake_store f;
    upload_ctx c;

    fake_init(&f);
    c = ctx_of(&f, &stats, ENCODE_NONE);
    c.check_records = 1;
    c.max_record_bytes = 1024;
    c.max_depth = 10;
    c.time_field = "t";
    upload_run(j, &c);
    ASSERT_EQ(j->result, UPLOAD_STORED);
    ASSERT_EQ(f.nputs, 2);
    /* Offset 1 in hour 21 by its field; 2 (seconds) and 3 (Kafka time)
     * in hour 18; objects in order of their hour's first appearance. */
    ASSERT(strstr(f.puts[0].key, "hour=21/events-0-00000000000000000001") !=
           NULL);
    ASSERT(strstr(f.puts[1].key, "hour=18/events-0-00000000000000000002") !=
           NULL);
    upload_job_free(j);
    store_destroy(&f.st);
}

static void upload_parse_time_forms(void)
{
    int64_t ms = 0;

    ASSERT_EQ(upload_parse_time("1795802400123", 13, &ms), 0);
    ASSERT_EQ(ms, 1795802400123LL);
    ASSERT_EQ(upload_parse_time("1795802400", 10, &ms), 0);
    ASSERT_EQ(ms, 1795802400000LL);
    ASSERT_EQ(upload_parse_time("\"2026-11-27T18:00:00.5Z\"", 24, &ms), 0);
    ASSERT_EQ(ms, 1795802400500LL);
    ASSERT_EQ(upload_parse_time("\"2026-11-27T18:00:00-02:30\"", 27, &ms), 0);
    ASSERT_EQ(ms, 1795802400000LL + 9000000LL);
    ASSERT_EQ(upload_parse_time("\"soon\"", 6, &ms), -1);
    ASSERT_EQ(upload_parse_time("-5", 2, &ms), -1);
    ASSERT_EQ(upload_parse_time("true", 4, &ms), -1);
}

/* strtod takes more than JSON numbers: "nAn" became NaN, which passed the
 * range check and was converted to an integer (undefined; UBSan). Found
 * with tests/fuzz/fuzz_timefield (regress-nan). */
static void upload_parse_time_only_json_numbers(void)
{
    static const char *const bad[] = {"nAn",  "nan", "inf",   "-inf",
                                      "0x10", " 5",  "1e400", "5 "};
    int64_t ms = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (upload_parse_time(bad[i], strlen(bad[i]), &ms) != -1)
            TEST_FAIL_("accepted %s", bad[i]);
    ASSERT_EQ(upload_parse_time("1.7958024e12", 12, &ms), 0);
    ASSERT_EQ(ms, 1795802400000LL);
}

/* "+1:2" passed sscanf's %2d:%2d, then the parser stepped 6 bytes: past
 * the end of its copy (ASan: stack-buffer-overflow for a 63-byte value).
 * Found with tests/fuzz/fuzz_timefield (regress-offset-past-the-end). */
static void upload_parse_time_offset_exactly_hh_mm(void)
{
    static const char *const bad[] = {
        "\"2026-11-27T18:00:00+1:2\"",
        "\"2026-11-27T18:00:00+01:2\"",
        "\"2026-11-27T18:00:00+ 1:02\"",
        "\"2026-11-27T18:00:00+01:-2\"",
        "\"2026-11-27T18:00:00+0130\"",
        "\"2026-11-27T18:00:00+01\"",
        "\"2026-11-27T18:00:00.000000000000000000000000000000000000+1:2\"",
    };
    int64_t ms = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (upload_parse_time(bad[i], strlen(bad[i]), &ms) != -1)
            TEST_FAIL_("accepted %s", bad[i]);
    ASSERT_EQ(upload_parse_time("\"2026-11-27T18:00:00+01:30\"", 27, &ms), 0);
    ASSERT_EQ(ms, 1795802400000LL - 5400000LL);
}

TEST_MAIN(T(upload_backoff_grows_exponentially),
          T(upload_backoff_jitter_in_range), T(upload_backoff_edges),
          T(upload_parse_time_only_json_numbers),
          T(upload_job_new_commits_after_last),
          T(upload_run_stores_one_object_per_hour), T(upload_run_gzip_object),
          T(upload_run_retries_until_success),
          T(upload_run_permanent_failure_until_abandoned),
          T(upload_run_permanent_failure_then_recovers),
          T(upload_run_abandon_between_objects),
          T(upload_run_abandoned_before_start),
          T(upload_run_local_errors_abandon), T(upload_run_on_pool_workers),
          T(upload_run_leaves_out_bad_records_without_dlq),
          T(upload_run_writes_the_index_last),
          T(upload_run_time_field_places_records), T(upload_parse_time_forms),
          T(upload_parse_time_offset_exactly_hh_mm))
