/* replay_plan.c -- replay's pure parts: times, offset ranges, and the
 * plan of spans that re-makes the live uploader's batches exactly. */
#include "replay_int.h"

#include <stdlib.h>
#include <string.h>

int replay_parse_time(const char *s, int64_t *ms)
{
    char quoted[80];
    char *end;
    long long v;

    if (s == NULL || *s == '\0')
        return -1;
    v = strtoll(s, &end, 10);
    if (*end == '\0' && v >= 0) {
        *ms = v;
        return 0;
    }
    if (strlen(s) + 3 > sizeof(quoted))
        return -1;
    snprintf(quoted, sizeof(quoted), "\"%s\"", s);
    return upload_parse_time(quoted, strlen(quoted), ms);
}

int replay_span_cmp(const void *a, const void *b)
{
    const replay_span *x = a, *y = b;

    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    return x->exact - y->exact;
}

static int push(replay_span *out, int *n, int max, int64_t f, int64_t l,
                int exact)
{
    if (*n >= max)
        return -1;
    out[*n].first = f;
    out[*n].last = l;
    out[*n].exact = exact;
    (*n)++;
    return 0;
}

int replay_plan(const replay_span *index, int nindex, const int64_t *from,
                const int64_t *to, int nranges, replay_span *out, int max)
{
    int n = 0;
    int k = 0;

    for (int r = 0; r < nranges; r++) {
        int64_t cur = from[r];
        for (int i = 0; i < nindex && cur <= to[r]; i++) {
            const replay_span *b = &index[i];
            if (b->last < cur || b->first > to[r])
                continue;
            if (b->first > cur && push(out, &n, max, cur, b->first - 1, 0) < 0)
                return -1;
            if (push(out, &n, max, b->first, b->last, 1) < 0)
                return -1;
            cur = b->last + 1;
        }
        if (cur <= to[r] && push(out, &n, max, cur, to[r], 0) < 0)
            return -1;
    }
    qsort(out, (size_t)n, sizeof(*out), replay_span_cmp);
    /* Ranges may overlap: keep each span once, and never cut a span that
     * an earlier one already covers. */
    for (int i = 0; i < n; i++) {
        if (k > 0 && out[i].first <= out[k - 1].last) {
            if (out[i].exact || out[i].last <= out[k - 1].last)
                continue;
            out[i].first = out[k - 1].last + 1;
        }
        out[k++] = out[i];
    }
    return k;
}

int replay_ranges_add(replay_ranges *r, int64_t from, int64_t to)
{
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        int64_t *f = realloc(r->from, (size_t)cap * sizeof(*f));
        int64_t *t;
        if (f == NULL)
            return -1;
        r->from = f;
        t = realloc(r->to, (size_t)cap * sizeof(*t));
        if (t == NULL)
            return -1;
        r->to = t;
        r->cap = cap;
    }
    r->from[r->n] = from;
    r->to[r->n] = to;
    r->n++;
    return 0;
}

void replay_ranges_free(replay_ranges *r)
{
    free(r->from);
    free(r->to);
    memset(r, 0, sizeof(*r));
}

unsigned long long replay_clip_to_live(replay_part *p)
{
    replay_ranges *w = &p->want;
    unsigned long long cut = 0;
    int k = 0;

    for (int i = 0; i < w->n; i++) {
        int64_t cap = p->live >= 0 ? p->live - 1 : w->to[i];
        if (w->to[i] > cap) {
            int64_t from = w->from[i] > cap + 1 ? w->from[i] : cap + 1;
            cut += (unsigned long long)(w->to[i] - from + 1);
            w->to[i] = cap;
        }
    }
    for (int i = 0; i < w->n; i++) {
        if (w->from[i] <= w->to[i]) {
            w->from[k] = w->from[i];
            w->to[k++] = w->to[i];
        }
    }
    w->n = k;
    return cut;
}
