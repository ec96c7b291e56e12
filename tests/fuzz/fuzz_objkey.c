/* fuzz_objkey.c -- the object key formatter: objkey_hour_start,
 * objkey_format into buffers of every size, and the batch index keys
 * (objkey_index, objkey_parse_index).
 * Input: partition (4 bytes), first offset and timestamp (8 bytes each),
 * the output buffer's size (2 bytes), then '\n'-separated prefix, topic
 * and extension; the same bytes also go to objkey_parse_index.
 * Properties: no crash, overflow or UB for any int64 timestamp; the hour
 * start is a multiple of an hour at or below the timestamp and within an
 * hour of it (where int64 can hold it); the key is exactly the one built
 * independently here (date from days since the epoch by Howard Hinnant's
 * civil_from_days), or -1 when the buffer is too small, which never
 * writes past it; index keys parse back to their offsets. */
#include "fuzz.h"

#include "../../uploader/objkey.h"

#include <inttypes.h>

#define HOUR_MS 3600000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Days since 1970-01-01 to a proleptic Gregorian date. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    yoe = z - era * 146097;
    yoe = (yoe - yoe / 1460 + yoe / 36524 - yoe / 146096) / 365;
    doy = (z - era * 146097) - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void check_hour(int64_t ts, int64_t h)
{
    FUZZ_CHECK(h % HOUR_MS == 0, "hour start %" PRId64 " of %" PRId64, h, ts);
    FUZZ_CHECK(h <= ts || ts < INT64_MIN + HOUR_MS,
               "hour start %" PRId64 " after %" PRId64, h, ts);
    FUZZ_CHECK(ts - h < HOUR_MS || ts < INT64_MIN + HOUR_MS,
               "hour start %" PRId64 " too early for %" PRId64, h, ts);
}

/* The key objkey_format must write, built another way. */
static int expected_key(char *out, size_t outlen, const char *prefix,
                        const char *topic, int32_t part, int64_t off, int64_t h,
                        const char *ext)
{
    size_t pl = strlen(prefix);
    int64_t days = h / 86400000 - (h % 86400000 < 0);
    int64_t y;
    int m, d;

    while (pl && prefix[0] == '/') {
        prefix++;
        pl--;
    }
    while (pl && prefix[pl - 1] == '/')
        pl--;
    civil_from_days(days, &y, &m, &d);
    return snprintf(out, outlen,
                    "%.*s%s%s/dt=%04" PRId64 "-%02d-%02d/hour=%02d/%s-%" PRId32
                    "-%020" PRId64 "%s",
                    (int)pl, prefix, pl ? "/" : "", topic, y, m, d,
                    (int)((h / HOUR_MS % 24 + 24) % 24), topic, part, off, ext);
}

static void check_index(const char *prefix, const char *topic, int32_t part,
                        int64_t first, int64_t last)
{
    char key[8192];
    int64_t f, l;
    int n = objkey_index(key, sizeof(key), prefix, topic, part, first, last);

    FUZZ_CHECK(n >= 0 && (size_t)n == strlen(key), "index key length %d", n);
    if (first < 0) {
        FUZZ_CHECK(key[n - 1] == '/', "index directory %s", key);
        return;
    }
    if (last < first)
        return;
    FUZZ_CHECK(objkey_parse_index(key, &f, &l) == 0 && f == first && l == last,
               "index key %s does not parse back", key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    int32_t part = (int32_t)(uint32_t)fuzz_u64(&in);
    int64_t off = (int64_t)fuzz_u64(&in);
    int64_t ts = (int64_t)fuzz_u64(&in);
    size_t outlen = fuzz_u8(&in) | (size_t)fuzz_u8(&in) << 8;
    const uint8_t *rest = in.p;
    size_t restlen = in.n;
    char *prefix = fuzz_field(&in, '\n', NULL);
    char *topic = fuzz_field(&in, '\n', NULL);
    char *ext = fuzz_field(&in, '\n', NULL);
    char *out = malloc(outlen ? outlen : 1);
    char want[16384];
    int64_t h = objkey_hour_start(ts);
    int64_t f, l;
    char *text;
    int n, wn;

    check_hour(ts, h);
    FUZZ_CHECK(objkey_hour_start(h) == h, "hour start not a fixed point");
    wn = expected_key(want, sizeof(want), prefix, topic, part, off, h, ext);
    n = objkey_format(out, outlen, prefix, topic, part, off, ts, ext);
    if ((size_t)wn >= outlen) {
        FUZZ_CHECK(n == -1, "%d into %zu bytes", n, outlen);
    } else {
        FUZZ_CHECK(n == wn && strcmp(out, want) == 0, "key\n  %s\nnot\n  %s",
                   n >= 0 ? out : "(-1)", want);
    }
    check_index(prefix, topic, part, off, ts);
    text = fuzz_field(&(fuzz_in){rest, restlen}, '\0', NULL);
    if (objkey_parse_index(text, &f, &l) == 0)
        FUZZ_CHECK(f >= 0 && l >= f, "parsed %" PRId64 "-%" PRId64, f, l);
    free(text);
    free(out);
    free(prefix);
    free(topic);
    free(ext);
    return 0;
}
