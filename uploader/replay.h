/* replay.h -- `uploader replay`: re-reads a range of Kafka and writes it to
 * the store again, through the same batching, formats and keys as the live
 * uploader, for the day an object was deleted, a bucket was wrong, or
 * records went to the dead-letter topic. */
#ifndef MILLRACE_REPLAY_H
#define MILLRACE_REPLAY_H

#include <stdint.h>

/* Exit codes. */
enum {
    REPLAY_OK = 0,
    REPLAY_FATAL = 1,    /* could not run: Kafka or the store unreachable */
    REPLAY_BAD_ARGS = 2, /* bad arguments or settings */
    REPLAY_PARTIAL = 3,  /* ran, but some records were not written */
};

/* argv[0] is "replay". Returns one of the exit codes above. */
int replay_main(int argc, char **argv);

/* Parses an RFC 3339 time ("2026-11-27T18:00:00Z", with optional
 * fraction and offset) or a number of ms since the epoch. 0 or -1. */
int replay_parse_time(const char *s, int64_t *ms);

/* One batch to re-make: [first, last] of a partition, exactly (from the
 * index) or to be cut by the batch limits (planned == 0). */
typedef struct replay_span {
    int64_t first, last;
    int exact;
} replay_span;

/* Plans the spans that cover the offset ranges [from[i], to[i]] given the
 * index's exact batches (sorted by first): every index batch that overlaps
 * a range is taken whole; what no index batch covers becomes a span to cut
 * (exact == 0). Writes at most max spans, sorted, without duplicates;
 * returns the count, or -1 if max is too small. Pure. */
int replay_plan(const replay_span *index, int nindex, const int64_t *from,
                const int64_t *to, int nranges, replay_span *out, int max);

#endif
