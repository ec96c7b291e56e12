/* validate.c -- turns a request body into the list of events to publish, or
 * into the one error that rejects the whole request. Pure: no sockets.
 *
 * Deliberate choices (documented in docs/http-api.md, "JSON rules"):
 *   - duplicate keys in an object are rejected (JSON_REJECT_DUPLICATES): a
 *     consumer could not know which value the client meant;
 *   - invalid UTF-8 and \u0000 are rejected (jansson's defaults);
 *   - integers must fit in 64 bits and reals in a double; anything larger
 *     is rejected rather than silently rounded. */
#include "validate.h"

#include "cfg.h"
#include "jsonlex.h"

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
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

/* jansson's parser recurses once per level of nesting (up to its cap of
 * 2048), and so do depth_of and json_dumps; civetweb's worker threads have
 * small stacks (100 KiB with Debian's civetweb), on which a body nested
 * ~750 deep crashed the process. So nesting is measured here first,
 * without recursion, and an event nested deeper than max_depth never
 * reaches jansson. With unwrap, the elements of a top-level array are the
 * events. Returns the index of the first event too deep, or -1. */
static long too_deep_at(const char *p, size_t len, int max_depth, int unwrap)
{
    int depth = 0;
    int array = 0;
    long index = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"') {
            for (i++; i < len && p[i] != '"'; i++)
                if (p[i] == '\\')
                    i++;
        } else if (p[i] == '[' || p[i] == '{') {
            if (depth == 0 && p[i] == '[' && unwrap)
                array = 1;
            depth++;
            if (depth - array > max_depth)
                return index;
        } else if (p[i] == ']' || p[i] == '}') {
            depth--;
        } else if (p[i] == ',' && array && depth == 1) {
            index++;
        }
    }
    return -1;
}

static int fail_too_deep(validate_error *err, long index, int max_depth)
{
    return fail(err, 400, "too_deep", index,
                "event %ld is nested deeper than the limit of %d", index,
                max_depth);
}

static int validate_json(const char *body, size_t len, const ingest_limits *lim,
                         event_batch *out, validate_error *err)
{
    json_error_t je;
    json_t *root;
    long deep;
    int rc = -1;

    /* jansson drops a NUL byte that follows a number or a literal
     * ({"a":1<NUL>} parses), so raw NULs are refused before it sees them. */
    if (memchr(body, '\0', len) != NULL)
        return fail(err, 400, "invalid_json", -1, "NUL byte at byte %zu",
                    (size_t)((const char *)memchr(body, '\0', len) - body));
    deep = too_deep_at(body, len, lim->max_depth, 1);
    if (deep >= 0)
        return fail_too_deep(err, deep, lim->max_depth);
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
            if (memchr(p, '\0', n) != NULL)
                return fail(err, 400, "invalid_json", index,
                            "event %ld (line %ld): NUL byte", index, line);
            if (too_deep_at(p, n, lim->max_depth, 0) >= 0)
                return fail_too_deep(err, index, lim->max_depth);
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

int validate_body_reference(const char *body, size_t len, body_kind kind,
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

/* ---- the fast path ----
 *
 * One pass over the text, no tree, no allocation but the events' own: it
 * checks the grammar, UTF-8, escapes, numbers, duplicate keys, depth,
 * required fields and limits, and copies each event without its blanks.
 * It accepts only what the jansson path above accepts, with the same
 * meaning; for anything else (an error, or what it does not decide
 * itself: escaped keys, objects of more than SCAN_MAX_KEYS keys, numbers
 * near the limits, a real number as the message key) it declines, and the
 * jansson path decides and words the error. Text is copied as sent:
 * escapes and number spellings are kept, not re-encoded. */

#define SCAN_MAX_KEYS 64

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct scan {
    const char *p, *end;
    char *out; /* compact copy, written as the text is read */
    int max_depth;
    span keys[SCAN_MAX_KEYS * 4]; /* keys of the objects being read */
    int nkeys;
    /* the event's top level: its keys and the key field's value */
    span top[SCAN_MAX_KEYS];
    int ntop;
    const char *key_field;
    const char *kv; /* the key field's value in out, or NULL */
    size_t kv_len;
    char kv_type; /* 's' string, 'x' escaped string, 'i' integer,
                     'r' real (or -0), 'o' anything else */
} scan;

static int scan_value(scan *s, int depth, int is_key_value);

static void scan_ws(scan *s)
{
    s->p = jsonlex_ws(s->p, s->end);
}

/* The token from s->p to q, copied as sent. */
static void scan_copy(scan *s, const char *q)
{
    memcpy(s->out, s->p, (size_t)(q - s->p));
    s->out += q - s->p;
    s->p = q;
}

/* A string, copied with its quotes. *escaped: it held a backslash. */
static int scan_string(scan *s, int *escaped)
{
    const char *why;
    const char *q =
        jsonlex_string(s->p, s->end, JSONLEX_STRICT_ESCAPES, escaped, &why);

    if (q == NULL)
        return -1;
    scan_copy(s, q);
    return 0;
}

/* Beyond these, a number may overflow a double or take long to convert:
 * jansson decides. */
#define NUMBER_MAX_DIGITS 300
#define NUMBER_MAX_EXP_DIGITS 7

/* A number, copied; declines near the limits of int64 and double. */
static int scan_number(scan *s, char *type)
{
    jsonlex_number_info n;
    const char *why;
    const char *q = jsonlex_number(s->p, s->end, &n, &why);

    if (q == NULL || n.frac_digits > NUMBER_MAX_DIGITS ||
        n.exp_digits > NUMBER_MAX_EXP_DIGITS)
        return -1;
    if (n.real && (n.int_digits > NUMBER_MAX_DIGITS ||
                   n.int_digits + n.exp > NUMBER_MAX_DIGITS))
        return -1;
    if (!n.real) {
        const char *lim = n.neg ? "9223372036854775808" : "9223372036854775807";
        if (n.int_digits > 19 ||
            (n.int_digits == 19 && memcmp(n.digits, lim, 19) > 0))
            return -1;
    }
    /* -0 is the integer 0 to jansson: as a key it would read "0". */
    *type = n.real || (n.neg && n.digits[0] == '0') ? 'r' : 'i';
    scan_copy(s, q);
    return 0;
}

static int scan_literal(scan *s, const char *word)
{
    const char *q = jsonlex_literal(s->p, s->end, word);

    if (q == NULL)
        return -1;
    scan_copy(s, q);
    return 0;
}

static int scan_object(scan *s, int depth)
{
    int base = s->nkeys;
    int top = depth == 1;
    int rc = -1;

    *s->out++ = '{';
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == '}')
        goto close;
    for (;;) {
        span k;
        int escaped;
        if (s->p >= s->end || *s->p != '"')
            goto done;
        k.p = s->out + 1;
        if (scan_string(s, &escaped) < 0 || escaped)
            goto done;
        k.n = (size_t)(s->out - k.p - 1);
        for (int i = base; i < s->nkeys; i++)
            if (s->keys[i].n == k.n && memcmp(s->keys[i].p, k.p, k.n) == 0)
                goto done; /* a duplicate key */
        if (s->nkeys - base >= SCAN_MAX_KEYS ||
            s->nkeys >= (int)(sizeof(s->keys) / sizeof(s->keys[0])))
            goto done;
        s->keys[s->nkeys++] = k;
        if (top)
            s->top[s->ntop++] = k;
        scan_ws(s);
        if (s->p >= s->end || *s->p != ':')
            goto done;
        *s->out++ = ':';
        s->p++;
        scan_ws(s);
        if (scan_value(s, depth + 1,
                       top && s->key_field && k.n == strlen(s->key_field) &&
                           memcmp(k.p, s->key_field, k.n) == 0) < 0)
            goto done;
        scan_ws(s);
        if (s->p < s->end && *s->p == ',') {
            *s->out++ = ',';
            s->p++;
            scan_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == '}')
            break;
        goto done;
    }
close:
    *s->out++ = '}';
    s->p++;
    rc = 0;
done:
    s->nkeys = base;
    return rc;
}

static int scan_array(scan *s, int depth)
{
    *s->out++ = '[';
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == ']')
        goto close;
    for (;;) {
        if (scan_value(s, depth + 1, 0) < 0)
            return -1;
        scan_ws(s);
        if (s->p < s->end && *s->p == ',') {
            *s->out++ = ',';
            s->p++;
            scan_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == ']')
            break;
        return -1;
    }
close:
    *s->out++ = ']';
    s->p++;
    return 0;
}

/* is_key_value: this is the key field's value; remember where it went. */
static int scan_value(scan *s, int depth, int is_key_value)
{
    char *start = s->out;
    char type = 'o';
    int escaped = 0;
    int rc;

    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{':
    case '[':
        /* Containers nest: depth counts them, the event object being 1. */
        if (depth > s->max_depth)
            return -1;
        rc = *s->p == '{' ? scan_object(s, depth) : scan_array(s, depth);
        break;
    case '"':
        rc = scan_string(s, &escaped);
        type = escaped ? 'x' : 's';
        break;
    case 't':
        rc = scan_literal(s, "true");
        break;
    case 'f':
        rc = scan_literal(s, "false");
        break;
    case 'n':
        rc = scan_literal(s, "null");
        break;
    default:
        rc = scan_number(s, &type);
        break;
    }
    if (rc == 0 && is_key_value) {
        s->kv = start;
        s->kv_len = (size_t)(s->out - start);
        s->kv_type = type;
    }
    return rc;
}

/* The key of the event just read, as the jansson path would make it. */
static int fast_key(const scan *s, event *e)
{
    const char *v = s->kv;
    size_t n = s->kv_len;

    if (v == NULL || s->kv_type == 'o')
        return 0; /* absent, or not a string or number: no key */
    if (s->kv_type == 'x' || s->kv_type == 'r')
        return -1; /* jansson decodes or reformats these: let it */
    if (s->kv_type == 's') {
        v++;
        n -= 2;
    }
    e->key = malloc(n + 1);
    if (e->key == NULL)
        return -1;
    memcpy(e->key, v, n);
    e->key[n] = '\0';
    e->key_len = n;
    return 0;
}

/* One event object at s->p, into out. */
static int fast_event(scan *s, const ingest_limits *lim, char *buf,
                      event_batch *out)
{
    const char *cur = lim->required;
    char field[256];
    event e = {0};

    if (s->p >= s->end || *s->p != '{' || out->n >= lim->max_events)
        return -1;
    s->out = buf;
    s->ntop = 0;
    s->kv = NULL;
    if (scan_object(s, 1) < 0)
        return -1;
    e.len = (size_t)(s->out - buf);
    if (e.len > lim->max_event_bytes)
        return -1;
    while (cur && cfg_list_next(&cur, field, sizeof(field))) {
        size_t n = strlen(field);
        int found = 0;
        for (int i = 0; i < s->ntop && !found; i++)
            found = s->top[i].n == n && memcmp(s->top[i].p, field, n) == 0;
        if (!found)
            return -1;
    }
    e.value = malloc(e.len + 1);
    if (e.value == NULL)
        return -1;
    memcpy(e.value, buf, e.len);
    e.value[e.len] = '\0';
    if (fast_key(s, &e) < 0 || batch_push(out, e) < 0) {
        free(e.value);
        free(e.key);
        return -1;
    }
    return 0;
}

static int fast_json(scan *s, const ingest_limits *lim, char *buf,
                     event_batch *out)
{
    scan_ws(s);
    if (s->p < s->end && *s->p == '[') {
        s->p++;
        scan_ws(s);
        if (s->p < s->end && *s->p == ']')
            return -1; /* empty: the jansson path words it */
        for (;;) {
            if (fast_event(s, lim, buf, out) < 0)
                return -1;
            scan_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                scan_ws(s);
                continue;
            }
            if (s->p < s->end && *s->p == ']') {
                s->p++;
                break;
            }
            return -1;
        }
    } else if (fast_event(s, lim, buf, out) < 0) {
        return -1;
    }
    scan_ws(s);
    return s->p == s->end ? 0 : -1;
}

static int fast_ndjson(scan *s, const char *body, size_t len,
                       const ingest_limits *lim, char *buf, event_batch *out)
{
    const char *p = body;
    const char *end = body + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        s->p = p;
        s->end = eol;
        scan_ws(s);
        if (s->p < eol) {
            if (fast_event(s, lim, buf, out) < 0)
                return -1;
            scan_ws(s);
            if (s->p != eol)
                return -1;
        }
        p = eol + 1;
    }
    return out->n > 0 ? 0 : -1;
}

int validate_body(const char *body, size_t len, body_kind kind,
                  const ingest_limits *lim, event_batch *out,
                  validate_error *err)
{
    char stackbuf[4096];
    char *buf = len < sizeof(stackbuf) ? stackbuf : malloc(len + 1);
    scan *s = malloc(sizeof(*s));
    int rc = -1;

    if (buf && s && len > 0) {
        memset(s, 0, offsetof(scan, keys));
        s->nkeys = 0;
        s->ntop = 0;
        s->kv = NULL;
        s->p = body;
        s->end = body + len;
        s->max_depth = lim->max_depth;
        s->key_field =
            lim->key_field && lim->key_field[0] ? lim->key_field : NULL;
        rc = kind == BODY_NDJSON ? fast_ndjson(s, body, len, lim, buf, out)
                                 : fast_json(s, lim, buf, out);
    }
    free(s);
    if (buf != stackbuf)
        free(buf);
    if (rc == 0) {
        err->index = -1;
        return 0;
    }
    event_batch_clear(out);
    return validate_body_reference(body, len, kind, lim, out, err);
}
