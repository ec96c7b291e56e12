/* consumer_plan.c -- the consumer's decisions about one partition, pure:
 * dispatch, finished uploads, planned batch ends, the age timer, lag, and
 * the plan in a commit's metadata. */
#include "consumer_plan.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_PREFIX "millrace:"
#define PLAN_PREFIX META_PREFIX "end="
#define TS_FIELD "ts="
#define PLAN_MAX 96

void consumer_part_init(consumer_part *p)
{
    memset(p, 0, sizeof(*p));
    p->plan_end = -1;
    p->committed = -1;
    p->newest_ts = -1;
}

consumer_step consumer_next_step(const consumer_part *p, int64_t now_ms)
{
    if (p->inflight || !p->assigned || now_ms < p->retry_at_ms)
        return CONSUMER_WAIT;
    if (p->retry)
        return CONSUMER_SUBMIT_RETRY;
    if (p->ready == NULL)
        return CONSUMER_WAIT;
    return p->ready_planned ? CONSUMER_SUBMIT_READY : CONSUMER_COMMIT_PLAN;
}

consumer_done consumer_after_upload(const consumer_part *p, upload_job *j)
{
    if (p == NULL)
        return CONSUMER_DONE_UNKNOWN;
    if (p->orphan == j)
        return CONSUMER_DONE_ORPHAN;
    if (p->inflight != j)
        return CONSUMER_DONE_UNKNOWN;
    if (!p->assigned)
        return CONSUMER_DONE_NOTHING;
    if (j->result != UPLOAD_STORED)
        return atomic_load(&j->abandon) ? CONSUMER_DONE_NOTHING
                                        : CONSUMER_DONE_RETRY;
    /* With a batch ready, its plan commit also moves the offset past
     * this one. */
    return p->ready == NULL ? CONSUMER_DONE_COMMIT : CONSUMER_DONE_NOTHING;
}

int consumer_plan_passed(const consumer_part *p, int64_t offset)
{
    return p->plan_end >= 0 && offset > p->plan_end;
}

int consumer_plan_ends_at(const consumer_part *p, int64_t offset)
{
    return p->plan_end >= 0 && offset == p->plan_end;
}

int consumer_age_may_close(const consumer_part *p)
{
    return p->assigned && p->open != NULL && p->ready == NULL &&
           p->plan_end < 0;
}

long long consumer_lag_of(int64_t fetch_lo, int64_t fetch_hi, int64_t wm_lo,
                          int64_t wm_hi, int64_t committed)
{
    int64_t lo = fetch_lo, hi = fetch_hi;
    long long lag;

    if (wm_hi > hi)
        hi = wm_hi;
    if (lo < 0 || (wm_lo >= 0 && wm_lo > lo))
        lo = wm_lo;
    if (hi < 0)
        return -1;
    lag = hi - (committed >= 0 ? committed : (lo > 0 ? lo : 0));
    return lag < 0 ? 0 : lag;
}

int consumer_plan_format(char *buf, size_t len, int64_t end, int64_t newest_ts)
{
    int n;

    if (end < 0 && newest_ts < 0)
        return 0;
    if (end >= 0)
        n = snprintf(buf, len, PLAN_PREFIX "%lld%s", (long long)end,
                     newest_ts >= 0 ? "," : "");
    else
        n = snprintf(buf, len, META_PREFIX);
    if (n >= 0 && (size_t)n < len && newest_ts >= 0)
        n +=
            snprintf(buf + n, len - (size_t)n, "ts=%lld", (long long)newest_ts);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

int64_t consumer_plan_parse(const void *meta, size_t n)
{
    char buf[PLAN_MAX];

    if (meta == NULL || n <= strlen(PLAN_PREFIX) || n >= sizeof(buf))
        return -1;
    memcpy(buf, meta, n);
    buf[n] = '\0';
    if (strncmp(buf, PLAN_PREFIX, strlen(PLAN_PREFIX)) != 0)
        return -1;
    return strtoll(buf + strlen(PLAN_PREFIX), NULL, 10);
}

int64_t consumer_plan_newest_ts(const void *meta, size_t n)
{
    char buf[PLAN_MAX];
    const char *p;
    char *end;
    long long v;

    if (meta == NULL || n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, meta, n);
    buf[n] = '\0';
    if (strncmp(buf, META_PREFIX, strlen(META_PREFIX)) != 0)
        return -1;
    for (p = buf + strlen(META_PREFIX); p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        if (strncmp(p, TS_FIELD, strlen(TS_FIELD)) == 0) {
            p += strlen(TS_FIELD);
            errno = 0;
            v = strtoll(p, &end, 10);
            if (end == p || (*end && *end != ',') || v < 0 || errno)
                return -1;
            return v;
        }
    }
    return -1;
}
