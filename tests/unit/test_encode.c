/* test_encode.c -- batches into objects: one per hour in order of first
 * appearance, each exactly its records as NDJSON, checked after
 * decompressing with zlib and zstd themselves; names and format parsing. */
#include "test.h"

#include "../../uploader/encode.h"
#include "../../uploader/objkey.h"

#include <stdlib.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#define HOUR_MS 3600000LL

/* 2026-11-27T18:00:00Z and the hours after it. */
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

static batch *batch_of(const rec *r, size_t n)
{
    batch *b = batch_new(4);

    for (size_t i = 0; b && i < n; i++)
        if (batch_add(b, r[i].offset, r[i].ts_ms, r[i].value,
                      strlen(r[i].value), 0) < 0) {
            batch_free(b);
            return NULL;
        }
    return b;
}

/* Decompresses gzip (or copies, for "none"; or zstd) into a NUL-terminated
 * heap string; NULL on any error. */
static char *gunzip_all(const char *p, size_t len, size_t *outlen)
{
    z_stream zs;
    size_t cap = 4096;
    char *out = malloc(cap + 1);
    int zrc = Z_OK;

    memset(&zs, 0, sizeof(zs));
    if (out == NULL || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        return NULL;
    }
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)len;
    while (zrc == Z_OK) {
        if (zs.total_out == cap) {
            char *grown = realloc(out, cap * 2 + 1);
            if (grown == NULL)
                break;
            out = grown;
            cap *= 2;
        }
        zs.next_out = (Bytef *)out + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        zrc = inflate(&zs, Z_NO_FLUSH);
    }
    *outlen = zs.total_out;
    inflateEnd(&zs);
    if (zrc != Z_STREAM_END || zs.avail_in != 0) {
        free(out);
        return NULL;
    }
    out[*outlen] = '\0';
    return out;
}

static char *unzstd_all(const char *p, size_t len, size_t *outlen)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer in = {p, len, 0};
    size_t cap = 4096, left = 1;
    char *out = malloc(cap + 1);

    *outlen = 0;
    while (dc && out && (in.pos < in.size || left != 0)) {
        ZSTD_outBuffer ob;
        if (*outlen == cap) {
            char *grown = realloc(out, cap * 2 + 1);
            if (grown == NULL)
                break;
            out = grown;
            cap *= 2;
        }
        ob.dst = out + *outlen;
        ob.size = cap - *outlen;
        ob.pos = 0;
        left = ZSTD_decompressStream(dc, &ob, &in);
        if (ZSTD_isError(left))
            break;
        *outlen += ob.pos;
        if (ob.pos == 0 && in.pos == in.size && left != 0)
            break; /* truncated */
    }
    ZSTD_freeDCtx(dc);
    if (out == NULL || left != 0 || in.pos != in.size) {
        free(out);
        return NULL;
    }
    out[*outlen] = '\0';
    return out;
}

static char *decode(encode_format f, const encoded_object *o, size_t *outlen)
{
    char *out;

    if (f == ENCODE_GZIP)
        return gunzip_all(o->data, o->len, outlen);
    if (f == ENCODE_ZSTD)
        return unzstd_all(o->data, o->len, outlen);
    out = malloc(o->len + 1);
    if (out) {
        memcpy(out, o->data, o->len);
        out[o->len] = '\0';
    }
    *outlen = o->len;
    return out;
}

/* Asserts that object o holds exactly want after decoding. */
#define ASSERT_CONTENT(f, o, want)                                             \
    do {                                                                       \
        size_t len_;                                                           \
        char *got_ = decode((f), (o), &len_);                                  \
        if (got_ == NULL)                                                      \
            TEST_FAIL_("object does not decode");                              \
        if (len_ != strlen(want) || strcmp(got_, (want)) != 0) {               \
            fprintf(stderr, "  got:  \"%s\"\n  want: \"%s\"\n", got_, (want)); \
            free(got_);                                                        \
            TEST_FAIL_("content differs");                                     \
        }                                                                      \
        free(got_);                                                            \
    } while (0)

static const rec one_hour[] = {
    {100, 0, "{\"i\":0}"},
    {101, 0, "{\"i\":1}"},
    {102, 0, "{\"i\":2,\"s\":\"x y\"}"},
    {103, 0, "{}"},
};
#define ONE_HOUR_TEXT "{\"i\":0}\n{\"i\":1}\n{\"i\":2,\"s\":\"x y\"}\n{}\n"

/* One hour's batch in each format: one object, the joined records. */
static void encode_one_hour_each_format(void)
{
    static const encode_format fmts[] = {ENCODE_GZIP, ENCODE_ZSTD, ENCODE_NONE};
    rec r[4];

    memcpy(r, one_hour, sizeof(r));
    for (size_t i = 0; i < 4; i++)
        r[i].ts_ms = hour(0) + 60000 * (int64_t)i;
    for (size_t k = 0; k < 3; k++) {
        batch *b = batch_of(r, 4);
        encoded_object *objs = NULL;
        size_t n = 0;
        char err[128];
        ASSERT(b != NULL);
        ASSERT_EQ(encode_batch(b, fmts[k], 3, &objs, &n, err, sizeof(err)), 0);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(objs[0].hour_ms, hour(0));
        ASSERT_EQ(objs[0].first_offset, 100);
        ASSERT_EQ(objs[0].last_offset, 103);
        ASSERT_EQ(objs[0].records, 4);
        ASSERT_CONTENT(fmts[k], &objs[0], ONE_HOUR_TEXT);
        encoded_objects_free(objs, n);
        batch_free(b);
    }
}

static void encode_gzip_and_zstd_have_magic(void)
{
    rec r[1] = {{7, 0, "{\"a\":1}"}};
    batch *b = batch_of(r, 1);
    encoded_object *gz = NULL, *zs = NULL;
    size_t ngz = 0, nzs = 0;
    char err[128];

    ASSERT_EQ(encode_batch(b, ENCODE_GZIP, 6, &gz, &ngz, err, sizeof(err)), 0);
    ASSERT_EQ(encode_batch(b, ENCODE_ZSTD, 3, &zs, &nzs, err, sizeof(err)), 0);
    ASSERT(gz[0].len > 2);
    ASSERT_MEM_EQ(gz[0].data, "\x1f\x8b", 2);
    ASSERT(zs[0].len > 4);
    ASSERT_MEM_EQ(zs[0].data, "\x28\xb5\x2f\xfd", 4);
    encoded_objects_free(gz, ngz);
    encoded_objects_free(zs, nzs);
    batch_free(b);
}

/* Hours h1, h2, h1, h3, h2 interleaved: three objects in order of first
 * appearance, each with only its own records, offsets and count. */
static void encode_three_hours_interleaved(void)
{
    static const encode_format fmts[] = {ENCODE_GZIP, ENCODE_ZSTD, ENCODE_NONE};
    const rec r[] = {
        {10, hour(1) + 5, "a"},           {11, hour(2), "b"},
        {12, hour(1) + HOUR_MS - 1, "c"}, {13, hour(3) + 1000, "d"},
        {14, hour(2) + 59 * 60000, "e"},
    };

    for (size_t k = 0; k < 3; k++) {
        batch *b = batch_of(r, 5);
        encoded_object *o = NULL;
        size_t n = 0;
        char err[128];
        ASSERT_EQ(encode_batch(b, fmts[k], 1, &o, &n, err, sizeof(err)), 0);
        ASSERT_EQ(n, 3);
        ASSERT_EQ(o[0].hour_ms, hour(1));
        ASSERT_EQ(o[1].hour_ms, hour(2));
        ASSERT_EQ(o[2].hour_ms, hour(3));
        ASSERT_EQ(o[0].first_offset, 10);
        ASSERT_EQ(o[0].last_offset, 12);
        ASSERT_EQ(o[0].records, 2);
        ASSERT_EQ(o[1].first_offset, 11);
        ASSERT_EQ(o[1].last_offset, 14);
        ASSERT_EQ(o[1].records, 2);
        ASSERT_EQ(o[2].first_offset, 13);
        ASSERT_EQ(o[2].last_offset, 13);
        ASSERT_EQ(o[2].records, 1);
        ASSERT_CONTENT(fmts[k], &o[0], "a\nc\n");
        ASSERT_CONTENT(fmts[k], &o[1], "b\ne\n");
        ASSERT_CONTENT(fmts[k], &o[2], "d\n");
        encoded_objects_free(o, n);
        batch_free(b);
    }
}

/* Records just before 1970 belong to the hour 23:00 of 1969-12-31. */
static void encode_negative_timestamps_grouped(void)
{
    const rec r[] = {{0, -1, "x"}, {1, -HOUR_MS, "y"}, {2, 0, "z"}};
    batch *b = batch_of(r, 3);
    encoded_object *o = NULL;
    size_t n = 0;
    char err[128];

    ASSERT_EQ(encode_batch(b, ENCODE_NONE, 1, &o, &n, err, sizeof(err)), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(o[0].hour_ms, -HOUR_MS);
    ASSERT_EQ(o[1].hour_ms, 0);
    ASSERT_CONTENT(ENCODE_NONE, &o[0], "x\ny\n");
    ASSERT_CONTENT(ENCODE_NONE, &o[1], "z\n");
    encoded_objects_free(o, n);
    batch_free(b);
}

static void encode_empty_values_are_empty_lines(void)
{
    const rec r[] = {{1, 0, ""}, {2, 0, "v"}, {3, 0, ""}};
    batch *b = batch_of(r, 3);
    encoded_object *o = NULL;
    size_t n = 0;
    char err[128];

    ASSERT_EQ(encode_batch(b, ENCODE_GZIP, 6, &o, &n, err, sizeof(err)), 0);
    ASSERT_EQ(n, 1);
    ASSERT_CONTENT(ENCODE_GZIP, &o[0], "\nv\n\n");
    encoded_objects_free(o, n);
    batch_free(b);
}

static void encode_empty_batch_gives_no_objects(void)
{
    batch *b = batch_new(0);
    encoded_object *o = (encoded_object *)1;
    size_t n = 99;
    char err[128];

    ASSERT_EQ(encode_batch(b, ENCODE_GZIP, 6, &o, &n, err, sizeof(err)), 0);
    ASSERT_EQ(n, 0);
    encoded_objects_free(o, n);
    batch_free(b);
    encoded_objects_free(NULL, 0);
}

/* Several MB of values that do not compress well: the output buffers and
 * the compressors' loops go round many times. */
static void encode_large_batch_round_trips(void)
{
    static const encode_format fmts[] = {ENCODE_GZIP, ENCODE_ZSTD, ENCODE_NONE};
    const size_t nrec = 40000;
    batch *b = batch_new(0);
    char *want = malloc(nrec * 80);
    size_t wlen = 0;
    unsigned seed = 1;

    for (size_t i = 0; i < nrec; i++) {
        char v[80];
        int len = snprintf(v, sizeof(v), "{\"i\":%zu,\"r\":\"", i);
        for (int j = 0; j < 40; j++) {
            seed = seed * 1103515245u + 12345u;
            v[len++] = "0123456789abcdef"[(seed >> 16) & 15];
        }
        len += snprintf(v + len, sizeof(v) - (size_t)len, "\"}");
        ASSERT_EQ(batch_add(b, (int64_t)i, hour(0), v, (size_t)len, 0), 0);
        memcpy(want + wlen, v, (size_t)len);
        wlen += (size_t)len;
        want[wlen++] = '\n';
    }
    want[wlen] = '\0';
    for (size_t k = 0; k < 3; k++) {
        encoded_object *o = NULL;
        size_t n = 0;
        char err[128];
        ASSERT_EQ(encode_batch(b, fmts[k], 1, &o, &n, err, sizeof(err)), 0);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(o[0].records, nrec);
        ASSERT_CONTENT(fmts[k], &o[0], want);
        encoded_objects_free(o, n);
    }
    free(want);
    batch_free(b);
}

/* A level zlib refuses: an error with a message, nothing returned. */
static void encode_bad_gzip_level_fails(void)
{
    const rec r[] = {{5, hour(0), "x"}};
    batch *b = batch_of(r, 1);
    encoded_object *o = (encoded_object *)1;
    size_t n = 99;
    char err[128] = "";

    ASSERT_EQ(encode_batch(b, ENCODE_GZIP, 42, &o, &n, err, sizeof(err)), -1);
    ASSERT(o == NULL);
    ASSERT_EQ(n, 0);
    if (strstr(err, "partition 4") == NULL || strstr(err, "offset 5") == NULL)
        TEST_FAIL_("errbuf: \"%s\"", err);
    batch_free(b);
}

static void encode_names(void)
{
    ASSERT_STR_EQ(encode_ext(ENCODE_GZIP), ".ndjson.gz");
    ASSERT_STR_EQ(encode_ext(ENCODE_ZSTD), ".ndjson.zst");
    ASSERT_STR_EQ(encode_ext(ENCODE_NONE), ".ndjson");
    ASSERT_STR_EQ(encode_content_encoding(ENCODE_GZIP), "gzip");
    ASSERT_STR_EQ(encode_content_encoding(ENCODE_ZSTD), "zstd");
    ASSERT(encode_content_encoding(ENCODE_NONE) == NULL);
    ASSERT_STR_EQ(encode_content_type(ENCODE_GZIP, 0), "application/gzip");
    ASSERT_STR_EQ(encode_content_type(ENCODE_ZSTD, 0), "application/zstd");
    ASSERT_STR_EQ(encode_content_type(ENCODE_NONE, 0), "application/x-ndjson");
    ASSERT_STR_EQ(encode_content_type(ENCODE_GZIP, 1), "application/x-ndjson");
}

static void encode_format_parse_names(void)
{
    static const struct {
        const char *name;
        int rc;
        encode_format f;
    } cases[] = {
        {"gzip", 0, ENCODE_GZIP},
        {"zstd", 0, ENCODE_ZSTD},
        {"none", 0, ENCODE_NONE},
        {"GZIP", -1, 0},
        {"gz", -1, 0},
        {"gzip ", -1, 0},
        {"", -1, 0},
        {"zst", -1, 0},
        {"lz4", -1, 0},
        {"nonee", -1, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        encode_format f = (encode_format)-1;
        int rc = encode_format_parse(cases[i].name, &f);
        if (rc != cases[i].rc)
            TEST_FAIL_("\"%s\": rc %d, want %d", cases[i].name, rc,
                       cases[i].rc);
        if (rc == 0)
            ASSERT_EQ(f, cases[i].f);
    }
}

static void encode_line_metadata_prefixes_each_event(void)
{
    const rec r[] = {{7, hour(0), "{\"a\":1}"}, {8, hour(0), "{ }"}};
    batch *b = batch_of(r, 2);
    unsigned char skip[2] = {0, 0};
    encode_opts eo = {ENCODE_NONE, 1, 1, "events", skip};
    encoded_object *o = NULL;
    size_t n = 0;
    char err[128];
    char *text;

    ASSERT(b != NULL);
    ASSERT_EQ(encode_batch_opts(b, &eo, &o, &n, err, sizeof(err)), 0);
    ASSERT_EQ(n, 1);
    text = strndup(o[0].data, o[0].len);
    ASSERT_STR_EQ(text, "{\"_kafka\":{\"topic\":\"events\",\"partition\":4,"
                        "\"offset\":7,\"timestamp\":1795802400000},\"a\":1}\n"
                        "{\"_kafka\":{\"topic\":\"events\",\"partition\":4,"
                        "\"offset\":8,\"timestamp\":1795802400000} }\n");
    free(text);
    encoded_objects_free(o, n);
    batch_free(b);
}

static void encode_skipped_records_keep_the_key(void)
{
    /* The hour's first record went to the DLQ: the object still names it,
     * so writing it later rewrites this object. */
    const rec r[] = {
        {10, hour(0), "bad"}, {11, hour(0), "{\"b\":2}"}, {12, hour(1), "bad"}};
    batch *b = batch_of(r, 3);
    unsigned char skip[3] = {1, 0, 1};
    encode_opts eo = {ENCODE_NONE, 1, 0, "events", skip};
    encoded_object *o = NULL;
    size_t n = 0;
    char err[128];

    ASSERT(b != NULL);
    ASSERT_EQ(encode_batch_opts(b, &eo, &o, &n, err, sizeof(err)), 0);
    ASSERT_EQ(n, 1); /* hour 1 holds only a skipped record: no object */
    ASSERT_EQ(o[0].first_offset, 10);
    ASSERT_EQ(o[0].records, 1);
    ASSERT_EQ(o[0].len, 8);
    ASSERT_MEM_EQ(o[0].data, "{\"b\":2}\n", 8);
    encoded_objects_free(o, n);
    batch_free(b);
}

/* The exactly-once argument: the same batch, encoded twice (as after a
 * crash and a re-read), gives the same bytes, in every format and both
 * ways an hour is read (in place, and copied when hours interleave). */
static void encode_same_batch_same_bytes(void)
{
    static const encode_format fmts[] = {ENCODE_GZIP, ENCODE_ZSTD, ENCODE_NONE};
    rec r[4];

    memcpy(r, one_hour, sizeof(r));
    for (size_t i = 0; i < 4; i++)
        r[i].ts_ms = hour((int)(i % 2));
    for (size_t k = 0; k < 3; k++) {
        batch *b1 = batch_of(r, 4), *b2 = batch_of(r, 4);
        encoded_object *o1 = NULL, *o2 = NULL;
        size_t n1 = 0, n2 = 0;
        char err[128];
        ASSERT_EQ(encode_batch(b1, fmts[k], 6, &o1, &n1, err, sizeof(err)), 0);
        ASSERT_EQ(encode_batch(b2, fmts[k], 6, &o2, &n2, err, sizeof(err)), 0);
        ASSERT_EQ(n1, 2);
        ASSERT_EQ(n2, 2);
        for (size_t i = 0; i < 2; i++) {
            ASSERT_EQ(o1[i].len, o2[i].len);
            ASSERT_MEM_EQ(o1[i].data, o2[i].data, o1[i].len);
        }
        encoded_objects_free(o1, n1);
        encoded_objects_free(o2, n2);
        batch_free(b1);
        batch_free(b2);
    }
}

TEST_MAIN(T(encode_one_hour_each_format), T(encode_same_batch_same_bytes),
          T(encode_gzip_and_zstd_have_magic), T(encode_three_hours_interleaved),
          T(encode_negative_timestamps_grouped),
          T(encode_empty_values_are_empty_lines),
          T(encode_empty_batch_gives_no_objects),
          T(encode_large_batch_round_trips), T(encode_bad_gzip_level_fails),
          T(encode_names), T(encode_format_parse_names),
          T(encode_line_metadata_prefixes_each_event),
          T(encode_skipped_records_keep_the_key))
