/* objkey.c -- object keys: deterministic, ordered, Hive-style, so the same
 * records always land under the same key and query engines can prune. */
#include "objkey.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define HOUR_MS 3600000LL

int64_t objkey_hour_start(int64_t ts_ms)
{
    int64_t h = ts_ms / HOUR_MS;

    if (ts_ms < 0 && ts_ms % HOUR_MS)
        h--;
    return h * HOUR_MS;
}

int objkey_format(char *out, size_t outlen, const char *prefix,
                  const char *topic, int32_t partition, int64_t first_offset,
                  int64_t ts_ms, const char *ext)
{
    time_t secs = (time_t)(objkey_hour_start(ts_ms) / 1000);
    size_t plen = prefix ? strlen(prefix) : 0;
    struct tm tm;
    int n;

    while (plen && prefix[0] == '/') {
        prefix++;
        plen--;
    }
    while (plen && prefix[plen - 1] == '/')
        plen--;
    gmtime_r(&secs, &tm);
    n = snprintf(out, outlen,
                 "%.*s%s%s/dt=%04d-%02d-%02d/hour=%02d/%s+%" PRId32
                 "+%020" PRId64 "%s",
                 (int)plen, plen ? prefix : "", plen ? "/" : "", topic,
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 topic, partition, first_offset, ext);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return n;
}
