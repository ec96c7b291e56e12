/* batch.c -- the records of one partition collected for one upload, and the
 * rules that close a batch. Pure: no Kafka, no clock of its own. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

batch *batch_new(int32_t partition)
{
    batch *b = calloc(1, sizeof(*b));

    if (b)
        b->partition = partition;
    return b;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 64;
    void *np;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    np = realloc(*p, c * elem);
    if (np == NULL)
        return -1;
    *p = np;
    *cap = c;
    return 0;
}

int batch_add(batch *b, int64_t offset, int64_t ts_ms, const void *value,
              size_t len, int64_t now_ms)
{
    batch_record *r;

    if (grow((void **)&b->recs, &b->cap, b->n + 1, sizeof(*b->recs)) < 0 ||
        grow((void **)&b->arena, &b->arena_cap, b->bytes + len + 1, 1) < 0)
        return -1;
    if (b->n == 0)
        b->opened_ms = now_ms;
    r = &b->recs[b->n++];
    r->offset = offset;
    r->ts_ms = ts_ms;
    r->kafka_ms = ts_ms;
    r->pos = b->bytes;
    r->len = len;
    if (len)
        memcpy(b->arena + b->bytes, value, len);
    b->arena[b->bytes + len] = '\n';
    b->bytes += len + 1;
    return 0;
}

batch_state batch_check(const batch *b, const batch_limits *l, int64_t now_ms)
{
    if (b == NULL || b->n == 0)
        return BATCH_OPEN;
    if (b->n >= l->max_records)
        return BATCH_CLOSE_RECORDS;
    if (b->bytes >= l->max_bytes ||
        (l->max_memory && batch_memory(b) >= l->max_memory))
        return BATCH_CLOSE_BYTES;
    if (now_ms - b->opened_ms >= l->max_age_ms)
        return BATCH_CLOSE_AGE;
    return BATCH_OPEN;
}

size_t batch_memory(const batch *b)
{
    return b->bytes + b->n * sizeof(*b->recs);
}

const char *batch_state_name(batch_state s)
{
    static const char *const names[] = {"open", "max_records", "max_bytes",
                                        "max_age"};
    return names[s];
}

void batch_free(batch *b)
{
    if (b == NULL)
        return;
    free(b->recs);
    free(b->arena);
    free(b);
}

int64_t batch_newest_ts(const batch *b)
{
    int64_t t = -1;

    for (size_t i = 0; i < b->n; i++)
        if (b->recs[i].kafka_ms > t)
            t = b->recs[i].kafka_ms;
    return t;
}
