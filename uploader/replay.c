/* replay.c -- `uploader replay`: re-reads a range of Kafka and writes it to
 * the store again, through the same batching, formats and keys as the live
 * uploader.
 *
 * Replaying what is already stored must rewrite the same objects, not add
 * new ones. The live uploader writes an index entry per batch (its exact
 * offset range); replay re-makes those batches exactly, so every object it
 * writes has the key and the bytes of the one it replaces. Offsets that no
 * index entry covers are cut by the batch limits. Replay never reads past
 * the live group's committed offset (those records are still the live
 * uploader's to write) and never commits: it uses a consumer of its own. */
#include "replay.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "daemon.h"
#include "kafka.h"
#include "log.h"
#include "now.h"
#include "objkey.h"
#include "pool.h"
#include "store/s3.h"
#include "setup.h"
#include "upload.h"

#define MAX_PARTS 4096
/* Replay runs once, watched, with no later pass to catch up: an object
 * the store refuses this many times in a row is given up on (its records
 * are reported, the run ends REPLAY_PARTIAL)... */
#define REPLAY_PERMANENT_ATTEMPTS 3
/* ...and so is one that fails transiently this many times in a row (the
 * live uploader retries forever instead). */
#define REPLAY_TRANSIENT_ATTEMPTS 12

typedef struct ranges {
    int64_t *from, *to;
    int n, cap;
} ranges;

typedef struct replay_opts {
    const char *config;
    const char *topic;
    int partition;
    int64_t from_offset, to_offset;
    const char *since, *until;
    int from_dlq;
    const char *reason;
    int source_partition;
    const char *prefix, *bucket;
    int dry_run;
} replay_opts;

typedef struct totals {
    unsigned long long planned; /* records in all spans */
    unsigned long long read;    /* records read from Kafka */
    unsigned long long objects; /* data objects written */
    unsigned long long skipped_json, skipped_large;
    unsigned long long beyond_live; /* offsets left to the live uploader */
    int batches, exact, cut, failed;
    int64_t started_ms;
    int64_t last_progress_ms;
    int tty;
} totals;

/* --- pure parts --------------------------------------------------------- */

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

static int span_cmp(const void *a, const void *b)
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
    qsort(out, (size_t)n, sizeof(*out), span_cmp);
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

/* --- arguments ---------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs(
        "usage: uploader replay [--config FILE] [--topic T] MODE [OPTIONS]\n"
        "\n"
        "Re-reads Kafka and writes the records to the store again, with the\n"
        "live uploader's batching, formats and keys: what is already stored\n"
        "is rewritten identically, what is missing appears.\n"
        "\n"
        "modes (one):\n"
        "  --partition P --from-offset A --to-offset B   one partition, A..B\n"
        "  --since TIME [--until TIME]   all partitions, by record time\n"
        "                                (RFC 3339 or ms since the epoch)\n"
        "  --from-dlq [--reason R] [--source-partition P]\n"
        "                                re-make the batches of the records\n"
        "                                in the dead-letter topic\n"
        "options:\n"
        "  --prefix X, --bucket B   write there instead (the index is read\n"
        "                           from the configured place)\n"
        "  --dry-run                count what would be written\n"
        "\n"
        "exit: 0 done, 3 some records not written, 2 bad arguments,\n"
        "      1 could not run\n",
        f);
}

static int parse_int64(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, replay_opts *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"topic", required_argument, NULL, 't'},
        {"partition", required_argument, NULL, 'p'},
        {"from-offset", required_argument, NULL, 'a'},
        {"to-offset", required_argument, NULL, 'b'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"from-dlq", no_argument, NULL, 'd'},
        {"reason", required_argument, NULL, 'r'},
        {"source-partition", required_argument, NULL, 'P'},
        {"prefix", required_argument, NULL, 'x'},
        {"bucket", required_argument, NULL, 'B'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int64_t v;
    int ch;
    int modes;

    memset(o, 0, sizeof(*o));
    o->partition = -1;
    o->source_partition = -1;
    o->from_offset = o->to_offset = -1;
    o->config = getenv("MILLRACE_CONFIG");
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case 'p':
        case 'P':
            if (parse_int64(optarg, &v) < 0 || v > 1000000) {
                fprintf(stderr, "replay: bad partition \"%s\"\n", optarg);
                return REPLAY_BAD_ARGS;
            }
            *(ch == 'p' ? &o->partition : &o->source_partition) = (int)v;
            break;
        case 'a':
        case 'b':
            if (parse_int64(optarg, &v) < 0) {
                fprintf(stderr, "replay: bad offset \"%s\"\n", optarg);
                return REPLAY_BAD_ARGS;
            }
            *(ch == 'a' ? &o->from_offset : &o->to_offset) = v;
            break;
        case 's':
            o->since = optarg;
            break;
        case 'u':
            o->until = optarg;
            break;
        case 'd':
            o->from_dlq = 1;
            break;
        case 'r':
            o->reason = optarg;
            break;
        case 'x':
            o->prefix = optarg;
            break;
        case 'B':
            o->bucket = optarg;
            break;
        case 'n':
            o->dry_run = 1;
            break;
        case 'h':
            usage(stdout);
            return REPLAY_OK;
        default:
            usage(stderr);
            return REPLAY_BAD_ARGS;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "replay: unexpected argument \"%s\"\n", argv[optind]);
        return REPLAY_BAD_ARGS;
    }
    modes = (o->partition >= 0 || o->from_offset >= 0 || o->to_offset >= 0) +
            (o->since != NULL || o->until != NULL) + o->from_dlq;
    if (modes != 1) {
        fprintf(stderr, "replay: choose one mode: --partition with "
                        "--from-offset/--to-offset, --since/--until, or "
                        "--from-dlq\n");
        return REPLAY_BAD_ARGS;
    }
    if ((o->partition >= 0 || o->from_offset >= 0 || o->to_offset >= 0) &&
        (o->partition < 0 || o->from_offset < 0 || o->to_offset < 0)) {
        fprintf(stderr, "replay: --partition, --from-offset and --to-offset "
                        "go together\n");
        return REPLAY_BAD_ARGS;
    }
    if (o->from_offset > o->to_offset) {
        fprintf(stderr,
                "replay: --from-offset %" PRId64 " is after "
                "--to-offset %" PRId64 "\n",
                o->from_offset, o->to_offset);
        return REPLAY_BAD_ARGS;
    }
    if ((o->since || o->until) && o->since == NULL) {
        fprintf(stderr, "replay: --until needs --since\n");
        return REPLAY_BAD_ARGS;
    }
    if (!o->from_dlq && (o->reason || o->source_partition >= 0)) {
        fprintf(stderr, "replay: --reason and --source-partition go with "
                        "--from-dlq\n");
        return REPLAY_BAD_ARGS;
    }
    return -1;
}

/* --- Kafka -------------------------------------------------------------- */

static rd_kafka_t *reader_new(const uploader_config *cfg, const char *group,
                              char *errbuf, size_t errlen)
{
    const kafka_prop props[] = {
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
    };
    rd_kafka_conf_t *conf =
        kafka_conf_build(&cfg->kafka, props, 4, errbuf, errlen);
    rd_kafka_t *rk;

    if (conf == NULL)
        return NULL;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errbuf, errlen);
    if (rk == NULL)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* The partition count of topic, or -1. */
static int partitions_of(rd_kafka_t *rk, const char *topic, char *errbuf,
                         size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err;
    int n = -1;

    err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (err)
        snprintf(errbuf, errlen, "metadata of %s: %s", topic,
                 rd_kafka_err2str(err));
    else if (md->topic_cnt != 1 || md->topics[0].err)
        snprintf(errbuf, errlen, "topic %s: %s", topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
                               : "not found");
    else
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* The live group's committed offsets (-1: none) into committed[0..n). */
static int live_committed(const uploader_config *cfg, const char *topic, int n,
                          int64_t *committed, char *errbuf, size_t errlen)
{
    rd_kafka_t *rk = reader_new(cfg, cfg->uploader.group, errbuf, errlen);
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t err;

    if (rk == NULL)
        return -1;
    /* Only OffsetFetch: this handle never subscribes, so it never joins
     * (or disturbs) the live group. */
    l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, i);
    err = rd_kafka_committed(rk, l, 30000);
    for (int i = 0; i < n && !err; i++)
        committed[l->elems[i].partition] =
            l->elems[i].offset >= 0 ? l->elems[i].offset : -1;
    if (err)
        snprintf(errbuf, errlen, "offsets of group %s: %s", cfg->uploader.group,
                 rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return err ? -1 : 0;
}

static int ranges_add(ranges *r, int64_t from, int64_t to)
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

/* --since/--until: the offsets of the first record at or after each time. */
static int time_ranges(rd_kafka_t *rk, const char *topic, int nparts,
                       const replay_opts *o, const int64_t *lo,
                       const int64_t *hi, ranges *per, char *errbuf,
                       size_t errlen)
{
    int64_t since, until = now_ms();
    rd_kafka_topic_partition_list_t *a, *b;
    rd_kafka_resp_err_t err;
    int rc = -1;

    if (replay_parse_time(o->since, &since) < 0 ||
        (o->until && replay_parse_time(o->until, &until) < 0)) {
        snprintf(errbuf, errlen,
                 "bad time in --since/--until (RFC 3339 "
                 "such as 2026-11-27T18:00:00Z, or ms)");
        return REPLAY_BAD_ARGS;
    }
    if (until < since) {
        snprintf(errbuf, errlen, "--until is before --since");
        return REPLAY_BAD_ARGS;
    }
    a = rd_kafka_topic_partition_list_new(nparts);
    b = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++) {
        rd_kafka_topic_partition_list_add(a, topic, i)->offset = since;
        rd_kafka_topic_partition_list_add(b, topic, i)->offset = until + 1;
    }
    err = rd_kafka_offsets_for_times(rk, a, 30000);
    if (!err)
        err = rd_kafka_offsets_for_times(rk, b, 30000);
    if (err) {
        snprintf(errbuf, errlen, "offsets for times: %s",
                 rd_kafka_err2str(err));
        goto done;
    }
    for (int i = 0; i < nparts; i++) {
        int p = a->elems[i].partition;
        int64_t f = a->elems[i].offset;
        int64_t t = b->elems[i].offset;
        /* -1: no record at or after the time, i.e. the end. */
        if (f < 0)
            f = hi[p];
        if (t < 0)
            t = hi[p];
        if (f < lo[p])
            f = lo[p];
        if (f < t && ranges_add(&per[p], f, t - 1) < 0)
            goto done;
    }
    rc = 0;
done:
    rd_kafka_topic_partition_list_destroy(a);
    rd_kafka_topic_partition_list_destroy(b);
    return rc;
}

static const char *header(const rd_kafka_message_t *m, const char *name,
                          char *buf, size_t len)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;

    if (rd_kafka_message_headers(m, &h) || h == NULL ||
        rd_kafka_header_get_last(h, name, &v, &n) || n >= len)
        return NULL;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

/* --from-dlq: every dead-letter record of topic (filtered) names a source
 * offset; its batch is re-made. */
static int dlq_ranges(const uploader_config *cfg, const char *topic,
                      const replay_opts *o, int nparts, ranges *per,
                      unsigned long long *matched, char *errbuf, size_t errlen)
{
    char dlq_name[300], group[64];
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *l;
    int n, eofs = 0, rc = -1;

    snprintf(dlq_name, sizeof(dlq_name), "%s.dlq", topic);
    snprintf(group, sizeof(group), "millrace-replay-%d", (int)getpid());
    rk = reader_new(cfg, group, errbuf, errlen);
    if (rk == NULL)
        return -1;
    n = partitions_of(rk, dlq_name, errbuf, errlen);
    if (n < 0)
        goto done;
    l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, dlq_name, i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    while (eofs < n) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        char st[300], sp[16], so[24], rs[64];
        int64_t p, off;
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err) {
            snprintf(errbuf, errlen, "reading %s: %s", dlq_name,
                     rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto done;
        } else if (header(m, "source_topic", st, sizeof(st)) &&
                   strcmp(st, topic) == 0 &&
                   header(m, "source_partition", sp, sizeof(sp)) &&
                   header(m, "source_offset", so, sizeof(so)) &&
                   parse_int64(sp, &p) == 0 && parse_int64(so, &off) == 0 &&
                   p < nparts &&
                   (o->source_partition < 0 || p == o->source_partition) &&
                   (o->reason == NULL || (header(m, "reason", rs, sizeof(rs)) &&
                                          strcmp(rs, o->reason) == 0))) {
            (*matched)++;
            if (ranges_add(&per[p], off, off) < 0) {
                rd_kafka_message_destroy(m);
                goto done;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rc = 0;
done:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* --- the index ---------------------------------------------------------- */

typedef struct index_list {
    replay_span *v;
    int n, cap;
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
        if (v == NULL)
            return 1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].first = f;
    l->v[l->n].last = t;
    l->v[l->n].exact = 1;
    l->n++;
    return 0;
}

/* --- running ------------------------------------------------------------ */

typedef struct runner {
    const uploader_config *cfg;
    const char *topic;
    rd_kafka_t *rk;
    pool *pool;
    upload_ctx *uctx;
    totals *t;
    int dry_run;
    int inflight;
} runner;

static void progress(totals *t, int final)
{
    int64_t now = now_ms();
    double secs = (double)(now - t->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)t->read / secs : 0;
    double left = rate > 0 && t->planned > t->read
                      ? (double)(t->planned - t->read) / rate
                      : 0;

    if (!final && now - t->last_progress_ms < (t->tty ? 500 : 10000))
        return;
    t->last_progress_ms = now;
    if (t->tty)
        fprintf(stderr,
                "\rreplay: %llu/%llu records (%.1f%%), %.0f/s, "
                "ETA %.0f s   %s",
                t->read, t->planned,
                t->planned ? 100.0 * (double)t->read / (double)t->planned
                           : 100.0,
                rate, left, final ? "\n" : "");
    else
        log_info("replay", "%llu/%llu records, %.0f/s, ETA %.0f s", t->read,
                 t->planned, rate, left);
}

static void finish_job(runner *r, upload_job *j)
{
    r->t->objects += j->objects_written;
    r->t->skipped_json += j->skipped_not_json;
    r->t->skipped_large += j->skipped_too_large;
    if (j->result != UPLOAD_STORED)
        r->t->failed++;
    upload_job_free(j);
    r->inflight--;
}

static void submit(runner *r, batch *b)
{
    upload_job *j = upload_job_new(b);

    r->t->batches++;
    if (j == NULL) {
        batch_free(b);
        r->t->failed++;
        return;
    }
    if (r->dry_run) {
        /* Count what would be written: encode, but store nothing. */
        encoded_object *objs = NULL;
        size_t n = 0;
        char err[128];
        encode_opts eo = {r->uctx->format, 1, 0, r->topic, NULL};
        if (encode_batch_opts(b, &eo, &objs, &n, err, sizeof(err)) == 0)
            r->t->objects += n;
        encoded_objects_free(objs, n);
        upload_job_free(j);
        return;
    }
    r->inflight++;
    while (pool_try_submit(r->pool, j) < 0) {
        upload_job *done = pool_take_done(r->pool, 100);
        if (done)
            finish_job(r, done);
    }
}

/* Reads [s->first, s->last] of partition p and hands it over as one batch
 * (exact spans) or as batches cut by the limits. Returns 0 or -1. */
static int run_span(runner *r, int p, const replay_span *s)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    batch_limits lim = {(size_t)r->cfg->uploader.max_records,
                        (size_t)r->cfg->uploader.max_bytes, INT64_MAX};
    batch *b = NULL;
    int rc = -1;

    rd_kafka_topic_partition_list_add(l, r->topic, p)->offset = s->first;
    rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 1000);
        upload_job *done;
        int end = 0;
        if (m == NULL) {
            if (daemon_stop)
                goto out;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            end = 1;
        } else if (m->err) {
            log_error("replay", "partition %d: %s", p,
                      rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto out;
        } else if (m->offset > s->last) {
            end = 1;
        } else {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            if (b == NULL && (b = batch_new(p)) == NULL) {
                rd_kafka_message_destroy(m);
                goto out;
            }
            if (batch_add(b, m->offset, ts >= 0 ? ts : now_ms(), m->payload,
                          m->len, 0) < 0) {
                rd_kafka_message_destroy(m);
                goto out;
            }
            r->t->read++;
            end = m->offset >= s->last;
            if (!s->exact && !end && batch_check(b, &lim, 0) != BATCH_OPEN) {
                submit(r, b);
                b = NULL;
            }
        }
        rd_kafka_message_destroy(m);
        while ((done = pool_take_done(r->pool, 0)) != NULL)
            finish_job(r, done);
        progress(r->t, 0);
        if (end)
            break;
    }
    if (b)
        submit(r, b);
    b = NULL;
    rc = 0;
out:
    batch_free(b);
    return rc;
}

static void print_summary(const totals *t, const replay_opts *o,
                          const char *where)
{
    printf("replay %s\n"
           "  records read:          %llu\n"
           "  batches:               %d (%d re-made from the index, %d "
           "new)\n"
           "  objects %s%llu (under %s)\n"
           "  records skipped:       %llu (not_json: %llu, too_large: %llu)\n"
           "  offsets not replayed:  %llu (not yet committed by the live "
           "uploader)\n"
           "  failed batches:        %d\n",
           o->dry_run ? "dry run" : "summary", t->read, t->batches, t->exact,
           t->cut,
           o->dry_run ? "to write:      " : "written:       ", t->objects,
           where, t->skipped_json + t->skipped_large, t->skipped_json,
           t->skipped_large, t->beyond_live, t->failed);
}

/* Everything after the arguments: the settings, the plan, the run. */
static int run(const replay_opts *o, uploader_config *cfg)
{
    char errbuf[512], group[64], where[600];
    const char *topic = o->topic ? o->topic : cfg->kafka.topic;
    char *src_prefix = strdup(cfg->s3.prefix);
    store *dst = NULL, *src = NULL;
    creds_provider *cp = NULL;
    int cp_err = 0;
    rd_kafka_t *rk = NULL;
    pool *pl = NULL;
    upload_stats stats;
    upload_ctx uctx;
    totals t;
    ranges per[MAX_PARTS];
    int64_t lo[MAX_PARTS], hi[MAX_PARTS], live[MAX_PARTS];
    unsigned long long matched = 0;
    int nparts, rc = REPLAY_FATAL;

    memset(per, 0, sizeof(per));
    memset(&t, 0, sizeof(t));
    memset(&stats, 0, sizeof(stats));
    memset(&uctx, 0, sizeof(uctx));
    snprintf(group, sizeof(group), "millrace-replay-%d", (int)getpid());
    rk = reader_new(cfg, group, errbuf, sizeof(errbuf));
    if (rk == NULL)
        goto fail;
    nparts = partitions_of(rk, topic, errbuf, sizeof(errbuf));
    if (nparts < 0)
        goto fail;
    if (nparts > MAX_PARTS) {
        snprintf(errbuf, sizeof(errbuf), "more than %d partitions", MAX_PARTS);
        goto fail;
    }
    for (int p = 0; p < nparts; p++) {
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, topic, p, &lo[p], &hi[p], 10000);
        if (err) {
            snprintf(errbuf, sizeof(errbuf), "watermarks of %s/%d: %s", topic,
                     p, rd_kafka_err2str(err));
            goto fail;
        }
        live[p] = -1;
    }
    if (o->partition >= 0) {
        int p = o->partition;
        if (p >= nparts || o->from_offset < lo[p] || o->to_offset >= hi[p]) {
            if (p >= nparts)
                fprintf(stderr, "replay: %s has partitions 0..%d\n", topic,
                        nparts - 1);
            else
                fprintf(stderr,
                        "replay: partition %d of %s holds offsets %" PRId64
                        "..%" PRId64 " (the rest expired or does not exist "
                        "yet)\n",
                        p, topic, lo[p], hi[p] - 1);
            rc = REPLAY_BAD_ARGS;
            goto out;
        }
        if (ranges_add(&per[p], o->from_offset, o->to_offset) < 0)
            goto fail;
    } else if (o->since) {
        int r = time_ranges(rk, topic, nparts, o, lo, hi, per, errbuf,
                            sizeof(errbuf));
        if (r == REPLAY_BAD_ARGS) {
            fprintf(stderr, "replay: %s\n", errbuf);
            rc = REPLAY_BAD_ARGS;
            goto out;
        }
        if (r < 0)
            goto fail;
    } else if (dlq_ranges(cfg, topic, o, nparts, per, &matched, errbuf,
                          sizeof(errbuf)) < 0) {
        goto fail;
    }
    if (live_committed(cfg, topic, nparts, live, errbuf, sizeof(errbuf)) < 0)
        goto fail;

    /* Settings of the target; the index is read where it was written. */
    if (o->prefix) {
        free(cfg->s3.prefix);
        cfg->s3.prefix = strdup(o->prefix);
    }
    cp = setup_creds(cfg, &cp_err, errbuf, sizeof(errbuf));
    if (cp_err)
        goto fail;
    if (cp && setup_creds_start(cp, errbuf, sizeof(errbuf)) != 0)
        goto fail;
    src = setup_store(cfg, cp, errbuf, sizeof(errbuf));
    if (src == NULL)
        goto fail;
    if (o->bucket) {
        free(cfg->s3.bucket);
        cfg->s3.bucket = strdup(o->bucket);
        dst = setup_store(cfg, cp, errbuf, sizeof(errbuf));
        if (dst == NULL)
            goto fail;
    } else {
        dst = src;
    }
    setup_upload_ctx(cfg, dst, &stats, &uctx);
    uctx.topic = topic;
    uctx.check_records = 1;
    uctx.permanent_to_dlq_after = REPLAY_PERMANENT_ATTEMPTS;
    uctx.max_transient = REPLAY_TRANSIENT_ATTEMPTS;
    pl = pool_new((int)cfg->uploader.workers, (int)cfg->uploader.queue,
                  upload_run, &uctx);
    if (pl == NULL) {
        snprintf(errbuf, sizeof(errbuf), "cannot start workers");
        goto fail;
    }
    uctx.pool = pl;
    t.tty = isatty(STDERR_FILENO);
    t.started_ms = now_ms();
    {
        runner r = {cfg, topic, rk, pl, &uctx, &t, o->dry_run, 0};
        upload_job *done;
        for (int p = 0; p < nparts && !daemon_stop; p++) {
            index_list idx = {NULL, 0, 0};
            replay_span *spans;
            char dir[1024];
            int ns;
            if (per[p].n == 0)
                continue;
            /* Offsets the live group has not committed are still the live
             * uploader's: writing them here could cut its batches. */
            for (int i = 0; i < per[p].n; i++) {
                int64_t cap = live[p] >= 0 ? live[p] - 1 : per[p].to[i];
                if (per[p].to[i] > cap) {
                    int64_t from =
                        per[p].from[i] > cap + 1 ? per[p].from[i] : cap + 1;
                    t.beyond_live +=
                        (unsigned long long)(per[p].to[i] - from + 1);
                    per[p].to[i] = cap;
                }
            }
            objkey_index(dir, sizeof(dir), src_prefix, topic, p, -1, -1);
            if (store_list(src, dir, NULL, collect_index, &idx, errbuf,
                           sizeof(errbuf)) != STORE_OK) {
                free(idx.v);
                goto fail;
            }
            spans = calloc((size_t)(idx.n + 2 * per[p].n + 1), sizeof(*spans));
            if (spans == NULL) {
                free(idx.v);
                goto fail;
            }
            {
                int k = 0;
                for (int i = 0; i < per[p].n; i++)
                    if (per[p].from[i] <= per[p].to[i]) {
                        per[p].from[k] = per[p].from[i];
                        per[p].to[k++] = per[p].to[i];
                    }
                per[p].n = k;
            }
            /* No index entries (nothing was ever written by a live
             * uploader): qsort must not see the NULL array. */
            if (idx.n > 0)
                qsort(idx.v, (size_t)idx.n, sizeof(*idx.v), span_cmp);
            ns = replay_plan(idx.v, idx.n, per[p].from, per[p].to, per[p].n,
                             spans, idx.n + 2 * per[p].n + 1);
            for (int i = 0; i < ns; i++) {
                t.planned +=
                    (unsigned long long)(spans[i].last - spans[i].first + 1);
                if (spans[i].exact)
                    t.exact++;
                else
                    t.cut++;
            }
            for (int i = 0; i < ns && !daemon_stop; i++)
                if (run_span(&r, p, &spans[i]) < 0)
                    t.failed++;
            free(spans);
            free(idx.v);
        }
        while (r.inflight > 0) {
            done = pool_take_done(pl, 100);
            if (done)
                finish_job(&r, done);
        }
    }
    progress(&t, 1);
    snprintf(where, sizeof(where), "%s%s%s/%s/", cfg->s3.bucket,
             cfg->s3.bucket[0] ? ":" : "", cfg->s3.prefix, topic);
    if (o->from_dlq)
        printf("dead-letter records matched: %llu\n", matched);
    print_summary(&t, o, where);
    rc = t.failed || t.skipped_json || t.skipped_large ? REPLAY_PARTIAL
                                                       : REPLAY_OK;
    goto out;
fail:
    fprintf(stderr, "replay: %s\n", errbuf);
out:
    pool_free(pl);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (dst != src)
        store_destroy(dst);
    store_destroy(src);
    creds_provider_free(cp); /* after the stores that borrowed it */
    for (int p = 0; p < MAX_PARTS; p++) {
        free(per[p].from);
        free(per[p].to);
    }
    free(src_prefix);
    return rc;
}

static void validate_cb(uploader_config *c, cfg_errors *errs)
{
    uploader_config_validate(c, errs);
}

int replay_main(int argc, char **argv)
{
    uploader_config cfg;
    replay_opts o;
    cfg_table table;
    cfg_errors errs = {0};
    int rc = parse_args(argc, argv, &o);

    if (rc >= 0)
        return rc;
    memset(&cfg, 0, sizeof(cfg));
    uploader_config_table(&table, &cfg);
    cfg_load(&table, o.config, NULL, &errs);
    validate_cb(&cfg, &errs);
    if (errs.n) {
        cfg_errors_print(&errs, stderr);
        cfg_errors_free(&errs);
        cfg_free(&table);
        return REPLAY_BAD_ARGS;
    }
    log_set_level((enum log_level)cfg.log.level);
    log_set_format((enum log_format)cfg.log.format);
    daemon_install_signals();
    if (s3_global_init() < 0) {
        cfg_free(&table);
        return REPLAY_FATAL;
    }
    rc = run(&o, &cfg);
    s3_global_cleanup();
    cfg_free(&table);
    return rc;
}
