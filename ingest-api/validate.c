/* validate.c -- turns a request body into the list of events to publish, or
 * into the one error that rejects the whole request. Pure: no sockets.
 *
 * Deliberate choices (documented in the README):
 *   - duplicate keys in an object are rejected (JSON_REJECT_DUPLICATES): a
 *     consumer could not know which value the client meant;
 *   - invalid UTF-8 and \u0000 are rejected (jansson's defaults);
 *   - integers must fit in 64 bits and reals in a double; anything larger
 *     is rejected rather than silently rounded. */
#include "validate.h"

#include "cfg.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECODE_FLAGS (JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK)

static int fail(validate_error *err, int status, const char *code, long index,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(validate_error *err, int status, const char *code, long index,
                const char *fmt, ...)
{
    va_list ap;

    err->status = status;
    err->code = code;
    err->index = index;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    return -1;
}

void event_batch_clear(event_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->ev[i].value);
        free(b->ev[i].key);
    }
    free(b->ev);
    memset(b, 0, sizeof(*b));
}

static int depth_of(const json_t *v)
{
    int max = 0;

    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach((json_t *)v, k, child)
        {
            int d = depth_of(child);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            int d = depth_of(child);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

/* The key is the field's text: a string as is, a number in decimal. */
static char *key_of(const json_t *obj, const char *field, size_t *len)
{
    json_t *v = json_object_get(obj, field);
    char buf[64];
    char *key;

    if (json_is_string(v)) {
        *len = json_string_length(v);
        key = malloc(*len + 1);
        if (key)
            memcpy(key, json_string_value(v), *len + 1);
        return key;
    }
    if (json_is_integer(v))
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
    else
        return NULL;
    *len = strlen(buf);
    return strdup(buf);
}

static int batch_push(event_batch *b, event e)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        event *ev = realloc(b->ev, cap * sizeof(*ev));
        if (ev == NULL)
            return -1;
        b->ev = ev;
        b->cap = cap;
    }
    b->ev[b->n++] = e;
    b->bytes += e.len;
    return 0;
}

/* Check one decoded element and append its compact form. */
static int add_event(const json_t *obj, long index, const ingest_limits *lim,
                     event_batch *out, validate_error *err)
{
    const char *cur = lim->required;
    char field[256];
    event e = {0};
    int depth;

    if (!json_is_object(obj))
        return fail(err, 400, "not_an_object", index,
                    "event %ld is not a JSON object", index);
    if (out->n >= lim->max_events)
        return fail(err, 413, "too_many_events", index,
                    "more than %zu events in one request", lim->max_events);
    depth = depth_of(obj);
    if (depth > lim->max_depth)
        return fail(err, 400, "too_deep", index,
                    "event %ld is nested %d deep; the limit is %d", index,
                    depth, lim->max_depth);
    while (cur && cfg_list_next(&cur, field, sizeof(field))) {
        if (json_object_get(obj, field) == NULL)
            return fail(err, 400, "missing_field", index,
                        "event %ld lacks required field \"%s\"", index, field);
    }
    e.value = json_dumps(obj, JSON_COMPACT);
    if (e.value == NULL)
        return fail(err, 400, "invalid_json", index,
                    "event %ld cannot be encoded", index);
    e.len = strlen(e.value);
    if (e.len > lim->max_event_bytes) {
        free(e.value);
        return fail(err, 413, "event_too_large", index,
                    "event %ld is %zu bytes; the limit is %zu", index, e.len,
                    lim->max_event_bytes);
    }
    if (lim->key_field && lim->key_field[0])
        e.key = key_of(obj, lim->key_field, &e.key_len);
    if (batch_push(out, e) < 0) {
        free(e.value);
        free(e.key);
        return fail(err, 503, "out_of_memory", index, "out of memory");
    }
    return 0;
}

static int parse_error(validate_error *err, const json_error_t *je, long index,
                       long line)
{
    if (index >= 0)
        return fail(err, 400, "invalid_json", index,
                    "event %ld (line %ld): %s (column %d)", index, line,
                    je->text, je->column);
    return fail(err, 400, "invalid_json", -1, "%s (line %d, column %d)",
                je->text, je->line, je->column);
}

static int only_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

static int validate_json(const char *body, size_t len,
                         const ingest_limits *lim, event_batch *out,
                         validate_error *err)
{
    json_error_t je;
    json_t *root;
    int rc = -1;

    root = json_loadb(body, len, DECODE_FLAGS, &je);
    if (root == NULL)
        return parse_error(err, &je, -1, 0);
    /* JSON_DISABLE_EOF_CHECK stops at the value's end; anything after it
     * other than whitespace (NDJSON sent as JSON, say) is an error. */
    if (!only_space(body + je.position, len - (size_t)je.position)) {
        fail(err, 400, "invalid_json", -1,
             "unexpected data after the JSON value at byte %d (NDJSON needs "
             "Content-Type: application/x-ndjson)",
             je.position);
        goto done;
    }
    if (json_is_array(root)) {
        size_t i;
        json_t *v;
        if (json_array_size(root) == 0) {
            fail(err, 400, "empty", -1, "the array holds no events");
            goto done;
        }
        if (json_array_size(root) > lim->max_events) {
            fail(err, 413, "too_many_events", -1,
                 "%zu events in one request; the limit is %zu",
                 json_array_size(root), lim->max_events);
            goto done;
        }
        json_array_foreach(root, i, v)
        {
            if (add_event(v, (long)i, lim, out, err) < 0)
                goto done;
        }
    } else if (add_event(root, 0, lim, out, err) < 0) {
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

static int validate_ndjson(const char *body, size_t len,
                           const ingest_limits *lim, event_batch *out,
                           validate_error *err)
{
    const char *p = body;
    const char *end = body + len;
    long index = 0;
    long line = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_error_t je;
        json_t *v;
        int rc;

        line++;
        if (!only_space(p, n)) {
            v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
            if (v == NULL)
                return parse_error(err, &je, index, line);
            rc = add_event(v, index, lim, out, err);
            json_decref(v);
            if (rc < 0)
                return -1;
            index++;
        }
        p += n + 1;
    }
    if (out->n == 0)
        return fail(err, 400, "empty", -1, "the body holds no events");
    return 0;
}

int validate_body(const char *body, size_t len, body_kind kind,
                  const ingest_limits *lim, event_batch *out,
                  validate_error *err)
{
    int rc;

    err->index = -1;
    if (len == 0 || only_space(body, len))
        return fail(err, 400, "empty", -1, "the body is empty");
    if (kind == BODY_NDJSON)
        rc = validate_ndjson(body, len, lim, out, err);
    else
        rc = validate_json(body, len, lim, out, err);
    if (rc < 0)
        event_batch_clear(out);
    return rc;
}
