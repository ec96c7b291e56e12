/* replay_index.c -- the index the live uploader writes, one entry per
 * batch under {prefix}/_millrace/index/: read back so that replay re-makes
 * exactly those batches. */
#include "replay_int.h"

#include <stdlib.h>

#include "log.h"
#include "objkey.h"

typedef struct index_list {
    replay_span *v;
    int n, cap;
    int oom;
} index_list;

static int collect_index(const char *key, size_t size, void *arg)
{
    index_list *l = arg;
    int64_t f, t;

    (void)size;
    if (objkey_parse_index(key, &f, &t) < 0)
        return 0;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        replay_span *v = realloc(l->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            l->oom = 1;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].first = f;
    l->v[l->n].last = t;
    l->v[l->n].exact = 1;
    l->n++;
    return 0;
}

int replay_index_read(store *st, const char *prefix, const char *topic, int p,
                      replay_span **spans, int *n, char *errbuf, size_t errlen)
{
    index_list idx = {NULL, 0, 0, 0};
    char dir[1024];

    *spans = NULL;
    *n = 0;
    objkey_index(dir, sizeof(dir), prefix, topic, p, -1, -1);
    if (store_list(st, dir, NULL, collect_index, &idx, errbuf, errlen) !=
        STORE_OK) {
        free(idx.v);
        return -1;
    }
    if (idx.oom) {
        errbuf_set(errbuf, errlen, "index of partition %d: out of memory", p);
        free(idx.v);
        return -1;
    }
    /* No entries (nothing was ever written by a live uploader): qsort
     * must not see the NULL array. */
    if (idx.n > 0)
        qsort(idx.v, (size_t)idx.n, sizeof(*idx.v), replay_span_cmp);
    *spans = idx.v;
    *n = idx.n;
    return 0;
}
