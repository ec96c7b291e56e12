/* hours.c -- complete hours, marked: the entries of stored objects, the
 * partitions' marks, and the thread that writes each complete hour's
 * _SUCCESS manifest. hours.h states the rules. */
#include "hours.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consumer_plan.h"
#include "log.h"
#include "now.h"
#include "objkey.h"

#define ENTRY_SUFFIX ".entry"
#define MARKER_NAME "_SUCCESS"
#define ENTRIES_DIR "_millrace/hours/"
#define KEY_MAX 1024
/* A marker read back to check it (about 200 bytes per object). */
#define MANIFEST_MAX (64u << 20)
/* Entries one pass holds: an hour with more objects is never marked. */
#define PASS_ENTRIES_MAX 200000
#define KAFKA_TIMEOUT_MS 10000

/* "{topic}/dt=YYYY-MM-DD/hour=HH" of the hour that starts at hour_ms. */
static int hour_folder(char *out, size_t outlen, const char *topic,
                       int64_t hour_ms)
{
    time_t secs = (time_t)(objkey_hour_start(hour_ms) / 1000);
    struct tm tm;
    int n;

    gmtime_r(&secs, &tm);
    n = snprintf(out, outlen, "%s/dt=%04d-%02d-%02d/hour=%02d", topic,
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int hours_entry_key(char *out, size_t outlen, const char *prefix,
                    const char *topic, int32_t partition, int64_t first,
                    int64_t hour_ms, const char *ext,
                    unsigned long long records, unsigned long long bytes)
{
    char data[KEY_MAX], rest[KEY_MAX + 64];
    int n;

    if (objkey_format(data, sizeof(data), "", topic, partition, first, hour_ms,
                      ext) < 0)
        return -1;
    n = snprintf(rest, sizeof(rest), ENTRIES_DIR "%s.%llu.%llu" ENTRY_SUFFIX,
                 data, records, bytes);
    if (n < 0 || (size_t)n >= sizeof(rest))
        return -1;
    return objkey_join(out, outlen, prefix, rest);
}

int hours_entries_folder(char *out, size_t outlen, const char *prefix,
                         const char *topic)
{
    char rest[KEY_MAX];
    int n = snprintf(rest, sizeof(rest), ENTRIES_DIR "%s/", topic);

    if (n < 0 || (size_t)n >= sizeof(rest))
        return -1;
    return objkey_join(out, outlen, prefix, rest);
}

int hours_marker_key(char *out, size_t outlen, const char *prefix,
                     const char *topic, int64_t hour_ms)
{
    char rest[KEY_MAX];
    int n = hour_folder(rest, sizeof(rest), topic, hour_ms);

    if (n < 0 || (size_t)n + sizeof("/" MARKER_NAME) > sizeof(rest))
        return -1;
    memcpy(rest + n, "/" MARKER_NAME, sizeof("/" MARKER_NAME));
    return objkey_join(out, outlen, prefix, rest);
}

void hours_entry_clear(hours_entry *e)
{
    free(e->entry_key);
    free(e->data_key);
    memset(e, 0, sizeof(*e));
}

/* The digits ending at end (exclusive), going back no further than
 * start, as a number; *at is where they begin. -1: none or too many. */
static long long digits_before(const char *start, const char *end,
                               const char **at)
{
    const char *p = end;
    long long v = 0;

    while (p > start && p[-1] >= '0' && p[-1] <= '9')
        p--;
    if (p == end || end - p > 18)
        return -1;
    for (const char *q = p; q < end; q++)
        v = v * 10 + (*q - '0');
    *at = p;
    return v;
}

/* name is "{topic}-{partition}-{first:020}{ext}.{records}.{bytes}.entry" */
static int parse_name(const char *name, const char *topic, hours_entry *e,
                      const char **ext, size_t *extlen)
{
    size_t n = strlen(name), tl = strlen(topic);
    const char *end = name + n - strlen(ENTRY_SUFFIX), *at;
    long long v;

    if (n <= strlen(ENTRY_SUFFIX) + tl + 1 || strcmp(end, ENTRY_SUFFIX) != 0 ||
        strncmp(name, topic, tl) != 0 || name[tl] != '-')
        return -1;
    if ((v = digits_before(name, end, &at)) < 0 || at[-1] != '.')
        return -1;
    e->bytes = (unsigned long long)v;
    end = at - 1;
    if ((v = digits_before(name, end, &at)) < 0 || at[-1] != '.')
        return -1;
    e->records = (unsigned long long)v;
    end = at - 1; /* the data file name ends here */
    const char *p = name + tl + 1;
    char *q;
    errno = 0;
    v = strtoll(p, &q, 10);
    if (q == p || *q != '-' || v < 0 || v > INT32_MAX || errno)
        return -1;
    e->partition = (int32_t)v;
    p = q + 1;
    for (int i = 0; i < 20; i++)
        if (p + i >= end || p[i] < '0' || p[i] > '9')
            return -1;
    if (sscanf(p, "%20" SCNd64, &e->first) != 1 || e->first < 0)
        return -1;
    *ext = p + 20;
    *extlen = (size_t)(end - *ext);
    return 0;
}

int hours_parse_entry(const char *key, const char *prefix, const char *topic,
                      hours_entry *e)
{
    char folder[KEY_MAX], data[KEY_MAX], ext[64];
    int fl = hours_entries_folder(folder, sizeof(folder), prefix, topic);
    int y, mo, d, h, used = 0;
    const char *name, *x;
    size_t xl;
    struct tm tm;

    memset(e, 0, sizeof(*e));
    if (fl < 0 || strncmp(key, folder, (size_t)fl) != 0)
        return -1;
    if (sscanf(key + fl, "dt=%4d-%2d-%2d/hour=%2d/%n", &y, &mo, &d, &h,
               &used) != 4 ||
        used != 22 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23)
        return -1;
    name = key + fl + used;
    if (strchr(name, '/') || parse_name(name, topic, e, &x, &xl) != 0 ||
        xl >= sizeof(ext))
        return -1;
    memcpy(ext, x, xl);
    ext[xl] = '\0';
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    e->hour_ms = (int64_t)timegm(&tm) * 1000;
    /* The entry must be exactly the one its object would have. */
    if (hours_entry_key(folder, sizeof(folder), prefix, topic, e->partition,
                        e->first, e->hour_ms, ext, e->records, e->bytes) < 0 ||
        strcmp(folder, key) != 0 ||
        objkey_format(data, sizeof(data), prefix, topic, e->partition, e->first,
                      e->hour_ms, ext) < 0)
        return -1;
    e->entry_key = strdup(key);
    e->data_key = strdup(data);
    if (!e->entry_key || !e->data_key) {
        hours_entry_clear(e);
        return -1;
    }
    return 0;
}

int64_t hours_partition_mark(int64_t committed, int64_t low, int64_t high,
                             int64_t newest_ts, int64_t look_ms,
                             int64_t lateness_ms)
{
    int64_t known = newest_ts >= 0 && committed >= 0 ? newest_ts - lateness_ms
                                                     : HOURS_NO_MARK;
    int caught_up = high >= 0 && (committed >= 0 ? committed >= high
                                                 : low >= 0 && low >= high);

    if (caught_up && look_ms - lateness_ms > known)
        return look_ms - lateness_ms;
    return known;
}

static int by_data_key(const void *a, const void *b)
{
    return strcmp(((const hours_entry *)a)->data_key,
                  ((const hours_entry *)b)->data_key);
}

/* A growing text; grows by doubling, NULL data after a failure. */
typedef struct text {
    char *data;
    size_t len, cap;
} text;

static void text_add(text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->data == NULL)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            free(t->data);
            t->data = NULL;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        char *nd = realloc(t->data, t->cap * 2 + (size_t)n);
        if (nd == NULL) {
            free(t->data);
            t->data = NULL;
            return;
        }
        t->data = nd;
        t->cap = t->cap * 2 + (size_t)n;
    }
}

/* url_base + key as a JSON string body: keys are safe characters, but a
 * local directory may hold any. */
static void text_url(text *t, const char *base, const char *key)
{
    for (int part = 0; part < 2; part++)
        for (const unsigned char *s =
                 (const unsigned char *)(part ? key : base);
             *s; s++) {
            if (*s == '"' || *s == '\\')
                text_add(t, "\\%c", *s);
            else if (*s < 0x20)
                text_add(t, "\\u%04x", *s);
            else
                text_add(t, "%c", *s);
        }
}

char *hours_manifest(hours_entry *e, size_t n, const char *url_base,
                     size_t *len)
{
    text t = {malloc(4096), 0, 4096};
    unsigned long long records = 0, bytes = 0;

    if (n > 1)
        qsort(e, n, sizeof(*e), by_data_key);
    text_add(&t, "{\"entries\":[\n");
    for (size_t i = 0; i < n; i++) {
        text_add(&t, "{\"url\":\"");
        text_url(&t, url_base, e[i].data_key);
        text_add(&t,
                 "\",\"mandatory\":true,\"meta\":{\"content_length\":%llu,"
                 "\"record_count\":%llu}}%s\n",
                 e[i].bytes, e[i].records, i + 1 < n ? "," : "");
        records += e[i].records;
        bytes += e[i].bytes;
    }
    text_add(&t,
             "],\n\"meta\":{\"content_length\":%llu,\"record_count\":%llu}}\n",
             bytes, records);
    *len = t.len;
    return t.data;
}

int hours_manifest_lists(const char *manifest, size_t len, const char *url)
{
    text t = {malloc(256), 0, 256};
    int found;

    text_add(&t, "{\"url\":\"");
    text_url(&t, "", url);
    text_add(&t, "\"");
    found = t.data != NULL && memmem(manifest, len, t.data, t.len) != NULL;
    free(t.data);
    return found;
}

/* ---- the thread that marks ---- */

struct hours {
    hours_opts o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit; /* guarded by mu */
    rd_kafka_topic_t *rkt;
};

/* What one pass learns of the topic's partitions. */
typedef struct look {
    int n;
    int64_t *committed; /* by partition; -1: none */
    char *owned;        /* assigned to this replica */
    int64_t through;    /* hours that end at or before it are complete */
} look;

/* What one pass lists: the entries of hours that may be complete. */
typedef struct gathered {
    const hours *h;
    int64_t through;
    hours_entry *e;
    size_t n, cap;
    int cut; /* stopped at PASS_ENTRIES_MAX */
} gathered;

static void look_free(look *lk)
{
    free(lk->committed);
    free(lk->owned);
    memset(lk, 0, sizeof(*lk));
}

static int partition_count(hours *h, char *why, size_t whylen)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(h->o.rk, 0, h->rkt, &md, KAFKA_TIMEOUT_MS);
    int n = -1;

    if (err)
        snprintf(why, whylen, "metadata: %s", rd_kafka_err2str(err));
    else if (md->topic_cnt != 1 || md->topics[0].err)
        snprintf(why, whylen, "metadata of %s: %s", h->o.topic,
                 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                    : "no such topic");
    else
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    return n;
}

static void mark_owned(hours *h, look *lk)
{
    rd_kafka_topic_partition_list_t *a = NULL;

    if (rd_kafka_assignment(h->o.rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (int i = 0; i < a->cnt; i++)
        if (strcmp(a->elems[i].topic, h->o.topic) == 0 &&
            a->elems[i].partition >= 0 && a->elems[i].partition < lk->n)
            lk->owned[a->elems[i].partition] = 1;
    rd_kafka_topic_partition_list_destroy(a);
}

/* Every partition's committed offset and mark; lk->through from the
 * lowest mark (HOURS_NO_MARK when a partition holds every hour). */
static int look_at(hours *h, look *lk, char *why, size_t whylen)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_resp_err_t err;
    int64_t look_ms = now_ms(), lowest = INT64_MAX;
    int rc = -1;

    memset(lk, 0, sizeof(*lk));
    lk->n = partition_count(h, why, whylen);
    if (lk->n <= 0)
        return -1;
    lk->committed = calloc((size_t)lk->n, sizeof(*lk->committed));
    lk->owned = calloc((size_t)lk->n, 1);
    l = rd_kafka_topic_partition_list_new(lk->n);
    if (!lk->committed || !lk->owned || !l) {
        snprintf(why, whylen, "out of memory");
        goto done;
    }
    for (int p = 0; p < lk->n; p++)
        rd_kafka_topic_partition_list_add(l, h->o.topic, p);
    err = rd_kafka_committed(h->o.rk, l, KAFKA_TIMEOUT_MS);
    if (err) {
        snprintf(why, whylen, "committed offsets: %s", rd_kafka_err2str(err));
        goto done;
    }
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        int64_t lo, hi, c, mark;

        if (tp->err) {
            snprintf(why, whylen, "committed offset of partition %d: %s",
                     (int)tp->partition, rd_kafka_err2str(tp->err));
            goto done;
        }
        err = rd_kafka_query_watermark_offsets(
            h->o.rk, h->o.topic, tp->partition, &lo, &hi, KAFKA_TIMEOUT_MS);
        if (err) {
            snprintf(why, whylen, "end offsets of partition %d: %s",
                     (int)tp->partition, rd_kafka_err2str(err));
            goto done;
        }
        c = tp->offset >= 0 ? tp->offset : -1;
        lk->committed[tp->partition] = c;
        mark = hours_partition_mark(
            c, lo, hi, consumer_plan_newest_ts(tp->metadata, tp->metadata_size),
            look_ms, h->o.lateness_ms);
        if (mark < lowest)
            lowest = mark;
    }
    mark_owned(h, lk);
    lk->through =
        lowest == HOURS_NO_MARK ? HOURS_NO_MARK : objkey_hour_start(lowest);
    rc = 0;
done:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static int gather_one(const char *key, size_t size, void *arg)
{
    gathered *g = arg;
    hours_entry e;

    (void)size;
    if (hours_parse_entry(key, g->h->o.prefix, g->h->o.topic, &e) != 0)
        return 0; /* not an entry: passed over */
    /* Keys list in time order: from here on, no hour is complete. */
    if (e.hour_ms > g->through - HOUR_MS) {
        hours_entry_clear(&e);
        return 1;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        hours_entry *ne =
            g->n >= PASS_ENTRIES_MAX ? NULL : realloc(g->e, cap * sizeof(*ne));
        if (ne == NULL) {
            hours_entry_clear(&e);
            g->cut = 1;
            return 1;
        }
        g->e = ne;
        g->cap = cap;
    }
    g->e[g->n++] = e;
    return 0;
}

static void remove_entry(hours *h, const hours_entry *e)
{
    char why[512];

    if (store_del(h->o.st, e->entry_key, why, sizeof(why)) != STORE_OK)
        log_warn("hours", "removing %s: %s (tried again next pass)",
                 e->entry_key, why);
}

/* Writes the marker of a complete hour from its final entries. */
static int write_marker(hours *h, const char *key, hours_entry *fin, size_t n)
{
    unsigned long long records = 0;
    char why[512];
    size_t len;
    char *body = hours_manifest(fin, n, h->o.url_base, &len);
    store_object obj = {key, body, len, "application/json", NULL};
    store_result r;

    if (body == NULL) {
        log_warn("hours", "%s: out of memory", key);
        return -1;
    }
    r = store_put(h->o.st, &obj, why, sizeof(why));
    free(body);
    if (r != STORE_OK) {
        log_warn("hours", "writing %s: %s", key, why);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        records += fin[i].records;
    atomic_fetch_add(&h->o.stats->markers, 1);
    log_info("hours", "%s: hour complete, %zu objects, %llu records", key, n,
             records);
    for (size_t i = 0; i < n; i++)
        remove_entry(h, &fin[i]);
    return 0;
}

/* An hour already marked: its entries in the manifest are done with (a
 * pass that stopped before removing them); the others are late records,
 * counted by the replica that owns their partition. */
static void settle_marked(hours *h, const char *key, const char *manifest,
                          size_t mlen, hours_entry *fin, size_t n,
                          const look *lk)
{
    char url[KEY_MAX * 2];

    for (size_t i = 0; i < n; i++) {
        snprintf(url, sizeof(url), "%s%s", h->o.url_base, fin[i].data_key);
        if (!hours_manifest_lists(manifest, mlen, url)) {
            if (!lk->owned[fin[i].partition])
                continue;
            atomic_fetch_add(&h->o.stats->late_records, fin[i].records);
            atomic_fetch_add(&h->o.stats->late_objects, 1);
            log_warn("hours",
                     "late: %s holds %llu records stored after %s was "
                     "written; that manifest does not list it",
                     fin[i].data_key, fin[i].records, key);
        }
        remove_entry(h, &fin[i]);
    }
}

/* One complete hour, e[0..n): its marker written once, from the entries of
 * committed objects. Returns -1 when the store failed. */
static int settle_hour(hours *h, hours_entry *e, size_t n, const look *lk)
{
    char key[KEY_MAX], why[512];
    char *manifest = NULL;
    size_t mlen = 0, nfin = 0;
    int rc = 0;

    if (hours_marker_key(key, sizeof(key), h->o.prefix, h->o.topic,
                         e[0].hour_ms) < 0)
        return -1;
    /* Final: below the committed offset, so never rewritten otherwise. */
    for (size_t i = 0; i < n; i++)
        if (e[i].partition < lk->n &&
            e[i].first < lk->committed[e[i].partition]) {
            hours_entry t = e[nfin];
            e[nfin++] = e[i];
            e[i] = t;
        }
    if (nfin == 0)
        return 0;
    if (store_get(h->o.st, key, MANIFEST_MAX, &manifest, &mlen, why,
                  sizeof(why)) != STORE_OK) {
        log_warn("hours", "reading %s: %s", key, why);
        return -1;
    }
    if (manifest == NULL)
        rc = write_marker(h, key, e, nfin);
    else
        settle_marked(h, key, manifest, mlen, e, nfin, lk);
    free(manifest);
    return rc;
}

static int pass(hours *h)
{
    char folder[KEY_MAX], why[512] = "";
    gathered g = {h, 0, NULL, 0, 0, 0};
    look lk;
    int rc = -1;

    if (look_at(h, &lk, why, sizeof(why)) != 0)
        goto done;
    if (lk.through == HOURS_NO_MARK) {
        rc = 0; /* a partition with unstored records and no mark yet */
        goto done;
    }
    atomic_store(&h->o.stats->complete_through_ms, lk.through);
    g.through = lk.through;
    if (hours_entries_folder(folder, sizeof(folder), h->o.prefix, h->o.topic) <
            0 ||
        store_list(h->o.st, folder, NULL, gather_one, &g, why, sizeof(why)) !=
            STORE_OK)
        goto done;
    /* A cut listing may end inside an hour: that hour waits. */
    size_t end = g.n;
    if (g.cut) {
        while (end > 0 && g.e[end - 1].hour_ms == g.e[g.n - 1].hour_ms)
            end--;
        if (end == 0)
            log_error("hours",
                      "an hour holds more than %d objects; it is not marked",
                      PASS_ENTRIES_MAX);
    }
    rc = 0;
    for (size_t a = 0, b; a < end; a = b) {
        for (b = a + 1; b < end && g.e[b].hour_ms == g.e[a].hour_ms; b++)
            ;
        if (settle_hour(h, g.e + a, b - a, &lk) != 0)
            rc = -1;
    }
    if (rc != 0)
        snprintf(why, sizeof(why), "the store failed");
done:
    for (size_t i = 0; i < g.n; i++)
        hours_entry_clear(&g.e[i]);
    free(g.e);
    look_free(&lk);
    if (rc != 0) {
        atomic_fetch_add(&h->o.stats->failures, 1);
        log_warn("hours", "checking complete hours: %s", why);
    }
    return rc;
}

static void *hours_main(void *arg)
{
    hours *h = arg;
    struct timespec until;

    pthread_mutex_lock(&h->mu);
    while (!h->quit) {
        pthread_mutex_unlock(&h->mu);
        pass(h);
        pthread_mutex_lock(&h->mu);
        until = now_deadline(CLOCK_REALTIME, h->o.interval_ms);
        while (!h->quit &&
               pthread_cond_timedwait(&h->cv, &h->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

hours *hours_start(const hours_opts *o)
{
    hours *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->o = *o;
    h->rkt = rd_kafka_topic_new(o->rk, o->topic, NULL);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (h->rkt == NULL ||
        pthread_create(&h->thread, NULL, hours_main, h) != 0) {
        if (h->rkt)
            rd_kafka_topic_destroy(h->rkt);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h);
        return NULL;
    }
    return h;
}

void hours_stop(hours *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->quit = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    rd_kafka_topic_destroy(h->rkt);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
