/* objkey.c -- object keys: deterministic, ordered, Hive-style, so the same
 * records always land under the same key and query engines can prune.
 *
 * Keys use only the characters AWS lists as safe in keys (0-9 a-z A-Z
 * ! - _ . * ' ( ) and /), and the '=' of the Hive folders (dt=, hour=)
 * that every engine's partition discovery reads: readers disagree on '+'
 * (some decode it as a space). The file name is {topic}-{partition}-{first
 * offset}: Kafka topic names hold only [a-zA-Z0-9._-], and the last two fields
 * are digits (the offset 20 of them, so names sort by offset), so the name
 * reads back unambiguously from the right. */
#include "objkey.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Rounds down, except in int64's first partial hour, whose hour start
 * int64 cannot hold: those timestamps (any producer can set one) go to
 * the hour after, rather than overflowing. */
int64_t objkey_hour_start(int64_t ts_ms)
{
    int64_t r = ts_ms % HOUR_MS;

    if (r < 0 && ts_ms - r >= INT64_MIN + HOUR_MS)
        r += HOUR_MS;
    return ts_ms - r;
}

/* The prefix without slashes around it. */
static const char *trim_prefix(const char *prefix, size_t *plen)
{
    size_t n = prefix ? strlen(prefix) : 0;

    while (n && prefix[0] == '/') {
        prefix++;
        n--;
    }
    while (n && prefix[n - 1] == '/')
        n--;
    *plen = n;
    return n ? prefix : "";
}

int objkey_join(char *out, size_t outlen, const char *prefix, const char *rest)
{
    size_t plen;
    int n;

    prefix = trim_prefix(prefix, &plen);
    n = snprintf(out, outlen, "%.*s%s%s", (int)plen, prefix, plen ? "/" : "",
                 rest);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return n;
}

int objkey_index(char *out, size_t outlen, const char *prefix,
                 const char *topic, int32_t partition, int64_t first,
                 int64_t last)
{
    size_t plen;
    int n;

    prefix = trim_prefix(prefix, &plen);
    if (first < 0)
        n = snprintf(out, outlen, "%.*s%s_millrace/index/%s/%" PRId32 "/",
                     (int)plen, prefix, plen ? "/" : "", topic, partition);
    else
        n = snprintf(out, outlen,
                     "%.*s%s_millrace/index/%s/%" PRId32 "/%020" PRId64
                     "-%020" PRId64 ".json",
                     (int)plen, prefix, plen ? "/" : "", topic, partition,
                     first, last);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return n;
}

int objkey_parse_index(const char *key, int64_t *first, int64_t *last)
{
    const char *base = strrchr(key, '/');
    long long f, l;
    int used = 0;

    base = base ? base + 1 : key;
    if (strlen(base) != 20 + 1 + 20 + 5 ||
        sscanf(base, "%20lld-%20lld.json%n", &f, &l, &used) != 2 ||
        used != 46 || f < 0 || l < f)
        return -1;
    *first = f;
    *last = l;
    return 0;
}

int objkey_format(char *out, size_t outlen, const char *prefix,
                  const char *topic, int32_t partition, int64_t first_offset,
                  int64_t ts_ms, const char *ext)
{
    time_t secs = (time_t)(objkey_hour_start(ts_ms) / 1000);
    size_t plen;
    struct tm tm;
    int n;

    prefix = trim_prefix(prefix, &plen);
    gmtime_r(&secs, &tm);
    n = snprintf(out, outlen,
                 "%.*s%s%s/dt=%04d-%02d-%02d/hour=%02d/%s-%" PRId32
                 "-%020" PRId64 "%s",
                 (int)plen, prefix, plen ? "/" : "", topic, tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, topic, partition,
                 first_offset, ext);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return n;
}

int objkey_safe(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || strchr("!-_.*'()/=", c)))
            return 0;
    }
    return 1;
}
