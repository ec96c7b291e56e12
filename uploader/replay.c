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

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "daemon.h"
#include "log.h"
#include "now.h"
#include "replay_int.h"
#include "setup.h"
#include "store/s3.h"

/* Replay runs once, watched, with no later pass to catch up: an object
 * the store refuses this many times in a row is given up on (its records
 * are reported, the run ends REPLAY_PARTIAL)... */
#define REPLAY_PERMANENT_ATTEMPTS 3
/* ...and so is one that fails transiently this many times in a row (the
 * live uploader retries forever instead). */
#define REPLAY_TRANSIENT_ATTEMPTS 12

/* One run, from the arguments to the summary. */
typedef struct replay_state {
    const replay_opts *o;
    uploader_config *cfg;
    const char *topic;
    char *src_prefix; /* where the index is read: the configured prefix */
    rd_kafka_t *rk;
    int nparts;
    replay_part *parts; /* nparts of them */
    unsigned long long matched;
    creds_provider *cp;
    store *src, *dst;
    pool *pl;
    upload_stats stats;
    upload_ctx uctx;
    replay_totals t;
    char errbuf[512];
} replay_state;

/* Each phase returns 0, REPLAY_BAD_ARGS (the reason printed), or -1 with
 * the reason in s->errbuf. */

/* The reader, the topic's partitions and their watermarks. */
static int open_topic(replay_state *s)
{
    char group[64];

    snprintf(group, sizeof(group), "millrace-replay-%d", (int)getpid());
    s->rk = replay_reader_new(s->cfg, group, s->errbuf, sizeof(s->errbuf));
    if (s->rk == NULL)
        return -1;
    s->nparts =
        replay_partitions_of(s->rk, s->topic, s->errbuf, sizeof(s->errbuf));
    if (s->nparts < 0)
        return -1;
    if (s->nparts > REPLAY_MAX_PARTS) {
        snprintf(s->errbuf, sizeof(s->errbuf), "more than %d partitions",
                 REPLAY_MAX_PARTS);
        return -1;
    }
    s->parts = calloc((size_t)s->nparts + 1, sizeof(*s->parts));
    if (s->parts == NULL) {
        snprintf(s->errbuf, sizeof(s->errbuf), "out of memory");
        return -1;
    }
    return replay_watermarks(s->rk, s->topic, s->nparts, s->parts, s->errbuf,
                             sizeof(s->errbuf));
}

/* --partition: the range, which must lie within what the topic holds. */
static int partition_range(replay_state *s)
{
    const replay_opts *o = s->o;
    int p = o->partition;

    if (p >= s->nparts) {
        fprintf(stderr, "replay: %s has partitions 0..%d\n", s->topic,
                s->nparts - 1);
        return REPLAY_BAD_ARGS;
    }
    if (o->from_offset < s->parts[p].lo || o->to_offset >= s->parts[p].hi) {
        fprintf(stderr,
                "replay: partition %d of %s holds offsets %" PRId64 "..%" PRId64
                " (the rest expired or does not exist yet)\n",
                p, s->topic, s->parts[p].lo, s->parts[p].hi - 1);
        return REPLAY_BAD_ARGS;
    }
    return replay_ranges_add(&s->parts[p].want, o->from_offset, o->to_offset);
}

/* The offsets the mode asks for, and the live group's committed ones. */
static int plan_ranges(replay_state *s)
{
    int rc;

    if (s->o->partition >= 0) {
        rc = partition_range(s);
    } else if (s->o->since) {
        rc = replay_time_ranges(s->rk, s->topic, s->nparts, s->o, s->parts,
                                s->errbuf, sizeof(s->errbuf));
        if (rc == REPLAY_BAD_ARGS)
            fprintf(stderr, "replay: %s\n", s->errbuf);
    } else {
        rc = replay_dlq_ranges(s->cfg, s->topic, s->o, s->nparts, s->parts,
                               &s->matched, s->errbuf, sizeof(s->errbuf));
    }
    if (rc != 0)
        return rc;
    return replay_live_committed(s->cfg, s->topic, s->nparts, s->parts,
                                 s->errbuf, sizeof(s->errbuf));
}

/* The stores (the index is read where it was written, the objects go to
 * the target), the upload context and the workers. */
static int open_stores(replay_state *s)
{
    uploader_config *cfg = s->cfg;
    int cp_err = 0;

    if (s->o->prefix) {
        free(cfg->s3.prefix);
        cfg->s3.prefix = strdup(s->o->prefix);
    }
    s->cp = setup_creds(cfg, &cp_err, s->errbuf, sizeof(s->errbuf));
    if (cp_err ||
        (s->cp && setup_creds_start(s->cp, s->errbuf, sizeof(s->errbuf))))
        return -1;
    s->src = setup_store(cfg, s->cp, s->errbuf, sizeof(s->errbuf));
    if (s->src == NULL)
        return -1;
    s->dst = s->src;
    if (s->o->bucket) {
        free(cfg->s3.bucket);
        cfg->s3.bucket = strdup(s->o->bucket);
        s->dst = setup_store(cfg, s->cp, s->errbuf, sizeof(s->errbuf));
        if (s->dst == NULL)
            return -1;
    }
    setup_upload_ctx(cfg, s->dst, &s->stats, &s->uctx);
    s->uctx.topic = s->topic;
    s->uctx.check_records = 1;
    s->uctx.permanent_to_dlq_after = REPLAY_PERMANENT_ATTEMPTS;
    s->uctx.max_transient = REPLAY_TRANSIENT_ATTEMPTS;
    s->pl = pool_new((int)cfg->uploader.workers, (int)cfg->uploader.queue,
                     upload_run, &s->uctx);
    if (s->pl == NULL) {
        snprintf(s->errbuf, sizeof(s->errbuf), "cannot start workers");
        return -1;
    }
    s->uctx.pool = s->pl;
    return 0;
}

/* Partition p: its ranges cut at the live offset, planned against the
 * index, run span by span. */
static int replay_partition(replay_state *s, replay_runner *r, int p)
{
    replay_part *part = &s->parts[p];
    replay_span *idx = NULL, *spans;
    int nidx, ns, max;

    s->t.beyond_live += replay_clip_to_live(part);
    if (replay_index_read(s->src, s->src_prefix, s->topic, p, &idx, &nidx,
                          s->errbuf, sizeof(s->errbuf)) < 0)
        return -1;
    max = nidx + 2 * part->want.n + 1;
    spans = calloc((size_t)max, sizeof(*spans));
    if (spans == NULL) {
        free(idx);
        snprintf(s->errbuf, sizeof(s->errbuf), "out of memory");
        return -1;
    }
    ns = replay_plan(idx, nidx, part->want.from, part->want.to, part->want.n,
                     spans, max);
    for (int i = 0; i < ns; i++) {
        s->t.planned +=
            (unsigned long long)(spans[i].last - spans[i].first + 1);
        if (spans[i].exact)
            s->t.exact++;
        else
            s->t.cut++;
    }
    for (int i = 0; i < ns && !daemon_stop; i++) {
        if (replay_run_span(r, p, &spans[i]) < 0)
            s->t.failed++;
    }
    free(spans);
    free(idx);
    return 0;
}

static int replay_all(replay_state *s)
{
    replay_runner r = {s->cfg,   s->topic, s->rk,         s->pl,
                       &s->uctx, &s->t,    s->o->dry_run, 0};
    int rc = 0;

    s->t.tty = isatty(STDERR_FILENO);
    s->t.started_ms = now_ms();
    for (int p = 0; p < s->nparts && !daemon_stop && rc == 0; p++) {
        if (s->parts[p].want.n > 0)
            rc = replay_partition(s, &r, p);
    }
    replay_drain(&r);
    return rc;
}

static int report(replay_state *s)
{
    const uploader_config *cfg = s->cfg;
    char where[600];

    replay_progress(&s->t, 1);
    snprintf(where, sizeof(where), "%s%s%s/%s/", cfg->s3.bucket,
             cfg->s3.bucket[0] ? ":" : "", cfg->s3.prefix, s->topic);
    if (s->o->from_dlq)
        printf("dead-letter records matched: %llu\n", s->matched);
    replay_print_summary(&s->t, s->o, where);
    return s->t.failed || s->t.skipped_json || s->t.skipped_large
               ? REPLAY_PARTIAL
               : REPLAY_OK;
}

static void close_state(replay_state *s)
{
    pool_free(s->pl);
    if (s->rk) {
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
    }
    if (s->dst != s->src)
        store_destroy(s->dst);
    store_destroy(s->src);
    creds_provider_free(s->cp); /* after the stores that borrowed it */
    for (int p = 0; s->parts && p < s->nparts; p++)
        replay_ranges_free(&s->parts[p].want);
    free(s->parts);
    free(s->src_prefix);
    free(s);
}

/* Everything after the arguments, in phases: the topic, the plan, the
 * stores, the run, the report. */
static int run(const replay_opts *o, uploader_config *cfg)
{
    replay_state *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL) {
        fprintf(stderr, "replay: out of memory\n");
        return REPLAY_FATAL;
    }
    s->o = o;
    s->cfg = cfg;
    s->topic = o->topic ? o->topic : cfg->kafka.topic;
    s->src_prefix = strdup(cfg->s3.prefix);
    rc = s->src_prefix ? open_topic(s) : -1;
    if (rc == 0)
        rc = plan_ranges(s);
    if (rc == 0)
        rc = open_stores(s);
    if (rc == 0)
        rc = replay_all(s);
    if (rc == 0)
        rc = report(s);
    else if (rc < 0)
        fprintf(stderr, "replay: %s\n", s->errbuf);
    if (rc < 0)
        rc = REPLAY_FATAL;
    close_state(s);
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
    int rc = replay_parse_args(argc, argv, &o);

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
