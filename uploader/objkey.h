/* objkey.h -- object keys: deterministic, ordered, Hive-style, so the same
 * records always land under the same key and query engines can prune. */
#ifndef MILLRACE_OBJKEY_H
#define MILLRACE_OBJKEY_H

#include <stddef.h>
#include <stdint.h>

#define HOUR_MS 3600000LL

/* {prefix/}{topic}/dt=YYYY-MM-DD/hour=HH/{topic}-{partition}-{offset:020}{ext}
 * with the date and hour of ts_ms in UTC. An empty prefix adds nothing;
 * slashes around the prefix are not doubled. Returns the length, or -1 if
 * out is too small. */
int objkey_format(char *out, size_t outlen, const char *prefix,
                  const char *topic, int32_t partition, int64_t first_offset,
                  int64_t ts_ms, const char *ext);

/* The index entry of a batch [first, last] of a partition, written once
 * all its objects are stored, so replay can re-make exactly that batch:
 * {prefix/}_millrace/index/{topic}/{partition}/{first:020}-{last:020}.json
 * With first < 0, only the directory part (ending in '/') is written.
 * Returns the length, or -1 if out is too small. */
int objkey_index(char *out, size_t outlen, const char *prefix,
                 const char *topic, int32_t partition, int64_t first,
                 int64_t last);

/* {prefix/}{rest}: rest under the prefix, slashes not doubled. Returns the
 * length, or -1 if out is too small. */
int objkey_join(char *out, size_t outlen, const char *prefix, const char *rest);

/* Parses an index key (or its last component) back into first and last.
 * Returns 0, or -1 if it is not an index entry. */
int objkey_parse_index(const char *key, int64_t *first, int64_t *last);

/* The hour a timestamp belongs to, as ms since the epoch at the hour's
 * start (negative timestamps round down). */
int64_t objkey_hour_start(int64_t ts_ms);

/* 1 if every character of s is one AWS lists as safe in keys
 * (0-9 a-z A-Z ! - _ . * ' ( ) and /), or the '=' of Hive's name=value
 * folders, which the query engines' partition discovery needs. */
int objkey_safe(const char *s);

#endif
