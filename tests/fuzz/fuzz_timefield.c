/* fuzz_timefield.c -- the event time field (uploader.time_field) that
 * places a record in an hour, and so names its object: upload_parse_time
 * on the raw value text jsoncheck_field returns, then objkey_hour_start.
 * Input: one byte of mode. Mode odd: 8 bytes of a time, 1 byte of offset,
 * 1 byte of fraction digits, written here as an RFC 3339 string that must
 * parse back. Mode 2: 8 bytes of a time written as a date and time, then
 * the rest of the input after it. Mode 0: the rest is the value as is.
 * Properties: no crash, overflow or UB (every read stays in the value);
 * a number parses only within [0, 1e15] ms; an RFC 3339 string built from
 * a time parses to that time (days from the civil date by Howard
 * Hinnant's days_from_civil). */
#include "fuzz.h"

#include "../../uploader/objkey.h"
#include "../../uploader/upload.h"

#include <inttypes.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

static void civil(int64_t days, int *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* ms as "YYYY-MM-DDTHH:MM:SS[.f...]{Z|+hh:mm|-hh:mm}", in quotes. */
static size_t rfc3339(char *out, size_t outlen, int64_t ms, int off_min,
                      int digits)
{
    int64_t local = ms + (int64_t)off_min * 60000;
    int64_t days = local / 86400000;
    int64_t in_day = local % 86400000;
    int y, m, d;
    int n;
    char frac[16] = "";
    char zone[8] = "Z";

    civil(days, &y, &m, &d);
    if (digits > 0) {
        /* digits beyond the third are zeros: ms is what is kept */
        snprintf(frac, sizeof(frac), ".%03d%.*s", (int)(ms % 1000),
                 digits > 3 ? digits - 3 : 0, "000000000");
        frac[digits + 1] = '\0';
    }
    if (off_min)
        snprintf(zone, sizeof(zone), "%c%02d:%02d", off_min < 0 ? '-' : '+',
                 abs(off_min) / 60, abs(off_min) % 60);
    n = snprintf(out, outlen, "\"%04d-%02d-%02dT%02d:%02d:%02d%s%s\"", y, m, d,
                 (int)(in_day / 3600000), (int)(in_day / 60000 % 60),
                 (int)(in_day / 1000 % 60), frac, zone);
    return (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t mode = fuzz_u8(&in);
    int64_t ms = -1;

    if (mode & 1) {
        int64_t t =
            (int64_t)(fuzz_u64(&in) % (uint64_t)(MAX_MS - 2 * 86400000));
        int off = (int)(fuzz_u8(&in) % 49) * 30 - 720; /* -12:00..+12:00 */
        int digits = fuzz_u8(&in) % 10;
        char text[64];
        size_t n;
        char *v;
        int64_t want;

        t += 86400000; /* the local date stays within years 0001-9999 */
        want = digits == 0 ? t - t % 1000 : digits < 3 ? -1 : t;
        n = rfc3339(text, sizeof(text), t, off, digits);
        v = malloc(n);
        memcpy(v, text, n);
        FUZZ_CHECK(upload_parse_time(v, n, &ms) == 0, "%.*s refused", (int)n,
                   text);
        if (want >= 0)
            FUZZ_CHECK(ms == want, "%.*s -> %" PRId64 ", not %" PRId64, (int)n,
                       text, ms, want);
        free(v);
    } else if (mode & 2) {
        /* A valid date and time, then whatever follows in the input. */
        int64_t t = (int64_t)(fuzz_u64(&in) % (uint64_t)MAX_MS);
        char text[64];
        size_t n = rfc3339(text, sizeof(text), t, 0, 0) - 2; /* no "Z\"" */
        size_t tail = in.n;
        char *v = malloc(n + tail + 1);

        memcpy(v, text, n);
        memcpy(v + n, in.p, tail);
        upload_parse_time(v, n + tail, &ms);
        free(v);
    } else {
        size_t n;
        char *v = fuzz_rest(&in, &n);
        if (upload_parse_time(v, n, &ms) == 0 && n && v[0] != '"')
            FUZZ_CHECK(ms >= 0 && ms <= 1000000000000000LL,
                       "number -> %" PRId64, ms);
        free(v);
    }
    if (ms != -1)
        objkey_hour_start(ms);
    return 0;
}
