/* hours.h -- complete hours, marked: a _SUCCESS manifest in an hour's
 * folder once no record of that hour can still arrive.
 *
 * How it is known (docs/guarantees.md has the argument in full):
 *   - every stored object leaves an entry, an empty object whose key names
 *     its data object, partition, first offset, records and bytes, under
 *     {prefix}/_millrace/hours/{topic}/dt=../hour=../, written before the
 *     batch's offsets are committed;
 *   - a partition's mark is how far its hours are done: when its committed
 *     offset has reached its end (caught up), the time of the look less the
 *     allowed lateness; otherwise the newest Kafka timestamp among its
 *     stored records (kept in the commit metadata) less the lateness. A
 *     record appended later carries a timestamp no older than that, as long
 *     as producers deliver within the lateness (the ingest-api's
 *     delivery_timeout_ms bounds it) and clocks agree;
 *   - hour H is complete when every partition's mark has passed its end.
 *     Its manifest lists the entries whose first offset is below their
 *     partition's committed offset: the objects of committed batches, which
 *     are never rewritten with other bytes. Every replica may write it: the
 *     bytes are the same. It is written once and never changed; its entries
 *     are then removed, so a pass lists only hours still open. */
#ifndef MILLRACE_HOURS_H
#define MILLRACE_HOURS_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* No mark: the partition holds every hour back. */
#define HOURS_NO_MARK INT64_MIN

/* One stored object of an hour, as its entry names it. */
typedef struct hours_entry {
    char *entry_key; /* the entry itself */
    char *data_key;  /* the object it stands for */
    int32_t partition;
    int64_t first; /* offset of the object's first record */
    int64_t hour_ms;
    unsigned long long records;
    unsigned long long bytes;
} hours_entry;

/* The entry key of a stored object (its data key from objkey_format with
 * the same arguments). Returns its length, or -1 when outlen is short. */
int hours_entry_key(char *out, size_t outlen, const char *prefix,
                    const char *topic, int32_t partition, int64_t first,
                    int64_t hour_ms, const char *ext,
                    unsigned long long records, unsigned long long bytes);

/* The folder of all entries of topic, with its trailing '/'. */
int hours_entries_folder(char *out, size_t outlen, const char *prefix,
                         const char *topic);

/* The marker key of the hour that starts at hour_ms. */
int hours_marker_key(char *out, size_t outlen, const char *prefix,
                     const char *topic, int64_t hour_ms);

/* Reads an entry key back (the data key is rebuilt under prefix). Returns
 * 0, or -1 when key is not an entry of topic; the caller frees with
 * hours_entry_clear. */
int hours_parse_entry(const char *key, const char *prefix, const char *topic,
                      hours_entry *e);
void hours_entry_clear(hours_entry *e);

/* A partition's mark (see above): committed offset (< 0: none), its low
 * and high watermarks, the newest stored timestamp (< 0: not known), the
 * time of the look (taken before the watermarks were asked for). */
int64_t hours_partition_mark(int64_t committed, int64_t low, int64_t high,
                             int64_t newest_ts, int64_t look_ms,
                             int64_t lateness_ms);

/* The manifest of entries e[0..n) (sorted here by data key): Redshift's
 * COPY manifest, as UNLOAD ... MANIFEST VERBOSE writes it, one entry per
 * line, url_base + data key as each url. Same entries, same bytes. NULL
 * when out of memory. */
char *hours_manifest(hours_entry *e, size_t n, const char *url_base,
                     size_t *len);

/* Whether a manifest lists url. */
int hours_manifest_lists(const char *manifest, size_t len, const char *url);

typedef struct hours_stats {
    atomic_llong complete_through_ms; /* end of the newest complete hour */
    atomic_ullong markers;            /* written by this replica */
    atomic_ullong late_records;       /* stored after their hour's marker */
    atomic_ullong late_objects;
    atomic_ullong failures; /* passes that could not finish */
} hours_stats;

typedef struct hours_opts {
    rd_kafka_t *rk; /* the uploader's consumer: borrowed, thread-safe */
    store *st;
    const char *topic;
    const char *prefix;
    const char *url_base; /* "s3://bucket/" */
    int64_t lateness_ms;
    int64_t interval_ms;
    hours_stats *stats;
} hours_opts;

typedef struct hours hours;

/* Starts the thread that looks every interval_ms; the strings in o are
 * borrowed. NULL when it cannot start. */
hours *hours_start(const hours_opts *o);

/* Stops and joins it; accepts NULL. */
void hours_stop(hours *h);

#endif
