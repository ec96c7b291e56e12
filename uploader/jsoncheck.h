/* jsoncheck.h -- a fast, allocation-free check that a record is one JSON
 * object, and a lookup of a top-level field in it. The uploader runs it on
 * every record before writing, at a rate where building a tree would cost
 * more than the compression. Pure. */
#ifndef MILLRACE_JSONCHECK_H
#define MILLRACE_JSONCHECK_H

#include <stddef.h>

/* Deepest nesting checked; a larger max_depth counts as this. */
#define JSONCHECK_MAX_DEPTH 131072

/* 0 when p[0..len) is exactly one JSON object (surrounding whitespace
 * allowed, nesting at most max_depth, strings valid UTF-8 without raw
 * control characters); otherwise -1 and *why names the first problem.
 * It accepts RFC 8259 text that jansson (the ingest side) refuses: the
 * escape \u0000, escaped lone surrogates ("\ud800"), and numbers beyond
 * int64 or double; tests/fuzz/fuzz_jsoncheck holds it to jansson. */
int jsoncheck_object(const char *p, size_t len, int max_depth,
                     const char **why);

/* In a valid object, finds the top-level member name and sets *val and
 * *vlen to its raw value text (strings keep their quotes). Only members
 * whose name the record writes without escapes are seen ({"\u0074s":1}
 * has no member "ts" here).
 * Returns 0, or -1 if absent. With duplicate names it finds the first
 * (jansson, and most readers downstream, keep the last). */
int jsoncheck_field(const char *p, size_t len, const char *name,
                    const char **val, size_t *vlen);

#endif
