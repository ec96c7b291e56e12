/* encode.h -- turns a closed batch into objects: one per hour of its
 * records, NDJSON, compressed with gzip (libdeflate) or zstd (or not).
 * Pure. */
#ifndef MILLRACE_ENCODE_H
#define MILLRACE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"

typedef enum encode_format {
    ENCODE_GZIP = 0,
    ENCODE_ZSTD,
    ENCODE_NONE,
} encode_format;

typedef struct encoded_object {
    int64_t hour_ms;      /* start of the hour its records belong to */
    int64_t first_offset; /* of the hour's first record in the batch, kept
                             or skipped: names the object */
    int64_t last_offset;
    size_t records;
    char *data;
    size_t len;
} encoded_object;

/* Parses "gzip", "zstd", "none". Returns 0 or -1. */
int encode_format_parse(const char *name, encode_format *out);
/* "gzip", "zstd", "none", NULL: the names, in the enum's order. */
extern const char *const encode_format_names[];

/* ".ndjson.gz", ".ndjson.zst", ".ndjson". */
const char *encode_ext(encode_format f);

/* The Content-Encoding of an object, or NULL. */
const char *encode_content_encoding(encode_format f);

/* The Content-Type of an object: with as_encoding, the NDJSON inside (and
 * encode_content_encoding names the compression); else the file it is
 * (application/gzip, application/zstd, application/x-ndjson). */
const char *encode_content_type(encode_format f, int as_encoding);

typedef struct encode_opts {
    encode_format format;
    int level;
    /* Prefix each event with "_kafka":{"topic","partition","offset",
     * "timestamp"} as its first member (topic must not need escaping). */
    int line_metadata;
    const char *topic;
    /* Per record: nonzero leaves it out (it went to the dead-letter
     * topic). NULL: keep all. */
    const unsigned char *skip;
} encode_opts;

/* One object per hour present among the kept records of b, in order of
 * first appearance, each holding that hour's records in offset order, one
 * per line. Returns 0, or -1 with errbuf set. *n may be 0 when every
 * record is skipped. */
int encode_batch_opts(const batch *b, const encode_opts *o,
                      encoded_object **out, size_t *n, char *errbuf,
                      size_t errlen);

/* encode_batch_opts with no metadata and nothing skipped. */
int encode_batch(const batch *b, encode_format f, int level,
                 encoded_object **out, size_t *n, char *errbuf, size_t errlen);

/* Accepts NULL. */
void encoded_objects_free(encoded_object *objs, size_t n);

#endif
