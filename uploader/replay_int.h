/* replay_int.h -- the parts of `uploader replay` and what they share:
 * replay_plan.c (pure), replay_args.c (the command line), replay_kafka.c
 * (offsets and the dead-letter topic), replay_index.c (the batches the
 * live uploader wrote), replay_run.c (reading, batching, uploading) and
 * replay.c (the run in phases). Not for other callers. */
#ifndef MILLRACE_REPLAY_INT_H
#define MILLRACE_REPLAY_INT_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "pool.h"
#include "replay.h"
#include "store/store.h"
#include "upload.h"

/* Partitions a topic may have for replay: the per-partition state is
 * on the heap, bounded by this. */
#define REPLAY_MAX_PARTS 4096

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

/* Offset ranges [from[i], to[i]] of one partition. */
typedef struct replay_ranges {
    int64_t *from, *to;
    int n, cap;
} replay_ranges;

/* What replay knows of one partition. */
typedef struct replay_part {
    replay_ranges want; /* the offsets asked for */
    int64_t lo, hi;     /* watermarks: the first offset held, the next */
    int64_t live;       /* the live group's committed offset, -1: none */
} replay_part;

typedef struct replay_totals {
    unsigned long long planned; /* records in all spans */
    unsigned long long read;    /* records read from Kafka */
    unsigned long long objects; /* data objects written */
    unsigned long long skipped_json, skipped_large;
    unsigned long long beyond_live; /* offsets left to the live uploader */
    int batches, exact, cut, failed;
    int64_t started_ms;
    int64_t last_progress_ms;
    int tty;
} replay_totals;

/* replay_plan.c */
int replay_span_cmp(const void *a, const void *b);
/* Appends [from, to]; 0, or -1 when out of memory. */
int replay_ranges_add(replay_ranges *r, int64_t from, int64_t to);
void replay_ranges_free(replay_ranges *r);
/* Cuts the ranges of p at the live group's committed offset (what it has
 * not committed is still the live uploader's: writing it here could cut
 * its batches), drops the ranges left empty, and returns how many offsets
 * were cut. */
unsigned long long replay_clip_to_live(replay_part *p);

/* replay_args.c: REPLAY_OK or REPLAY_BAD_ARGS when replay should exit
 * at once (help, a bad argument: the message printed), else -1. */
int replay_parse_args(int argc, char **argv, replay_opts *o);
/* A non-negative decimal number: 0, or -1. */
int replay_parse_int64(const char *s, int64_t *out);

/* replay_kafka.c. Each returns 0, or -1 with errbuf set. */
/* A consumer in group that never commits and sees partition ends. */
rd_kafka_t *replay_reader_new(const uploader_config *cfg, const char *group,
                              char *errbuf, size_t errlen);
/* The partition count of topic, or -1. */
int replay_partitions_of(rd_kafka_t *rk, const char *topic, char *errbuf,
                         size_t errlen);
/* Each partition's watermarks into parts[0..n). */
int replay_watermarks(rd_kafka_t *rk, const char *topic, int n,
                      replay_part *parts, char *errbuf, size_t errlen);
/* The live group's committed offsets into parts[0..n).live. */
int replay_live_committed(const uploader_config *cfg, const char *topic, int n,
                          replay_part *parts, char *errbuf, size_t errlen);
/* --since/--until: REPLAY_BAD_ARGS for bad times (errbuf says why). */
int replay_time_ranges(rd_kafka_t *rk, const char *topic, int nparts,
                       const replay_opts *o, replay_part *parts, char *errbuf,
                       size_t errlen);
/* --from-dlq: the source offsets of the matching dead-letter records. */
int replay_dlq_ranges(const uploader_config *cfg, const char *topic,
                      const replay_opts *o, int nparts, replay_part *parts,
                      unsigned long long *matched, char *errbuf, size_t errlen);

/* replay_index.c: the index entries of partition p of topic under prefix
 * in st, sorted, into *spans (heap, the caller frees; NULL when none). */
int replay_index_read(store *st, const char *prefix, const char *topic, int p,
                      replay_span **spans, int *n, char *errbuf, size_t errlen);

/* replay_run.c: reading spans and uploading their batches. */
typedef struct replay_runner {
    const uploader_config *cfg;
    const char *topic;
    rd_kafka_t *rk;
    pool *pool;
    upload_ctx *uctx;
    replay_totals *t;
    int dry_run;
    int inflight;
} replay_runner;

/* Reads [s->first, s->last] of partition p and hands it over as one batch
 * (exact spans) or as batches cut by the limits. Returns 0 or -1. */
int replay_run_span(replay_runner *r, int p, const replay_span *s);
/* Waits for every batch handed over. */
void replay_drain(replay_runner *r);
void replay_progress(replay_totals *t, int final);
void replay_print_summary(const replay_totals *t, const replay_opts *o,
                          const char *where);

#endif
