/* validate_check.h -- the properties fuzz_validate and fuzz_ndjson hold
 * validate_body to, with jansson (the reference parser) as the judge of
 * what each event means. */
#ifndef MILLRACE_FUZZ_VALIDATE_CHECK_H
#define MILLRACE_FUZZ_VALIDATE_CHECK_H

#include "cfg.h"
#include "fuzz.h"
#include "json_depth.h"

#include "../../ingest-api/validate.h"

#include <jansson.h>

/* Small limits, so that the fuzzer reaches every limit; the first input
 * byte picks the optional ones. */
static inline ingest_limits fuzz_limits(uint8_t opt)
{
    ingest_limits lim = {0};

    lim.max_event_bytes = 32 + (size_t)(opt & 3) * 48;
    lim.max_events = 1 + (size_t)((opt >> 2) & 7);
    lim.max_depth = 1 + ((opt >> 5) & 3);
    lim.required = (opt & 0x80) ? "id\nts" : NULL;
    lim.key_field = (opt & 0x10) ? "k" : NULL;
    return lim;
}

static inline int fuzz_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

/* Compact: no blank outside strings. */
static inline int fuzz_compact(const char *s, size_t n)
{
    int in_str = 0;

    for (size_t i = 0; i < n; i++) {
        if (in_str && s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == '"')
            in_str = !in_str;
        else if (!in_str &&
                 (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            return 0;
    }
    return 1;
}

/* The key validate_body must have taken from an event. */
static inline void fuzz_check_key(const event *e, const json_t *ref,
                                  const char *field)
{
    json_t *v = field ? json_object_get(ref, field) : NULL;
    char num[64];

    if (json_is_string(v)) {
        FUZZ_CHECK(e->key != NULL, "string key field \"%s\" not taken", field);
        FUZZ_CHECK(e->key_len == json_string_length(v) &&
                       memcmp(e->key, json_string_value(v), e->key_len) == 0,
                   "key \"%s\" differs from the field", e->key);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        FUZZ_CHECK(e->key != NULL && strcmp(e->key, num) == 0,
                   "integer key: \"%s\" != \"%s\"", e->key ? e->key : "NULL",
                   num);
    } else if (json_is_real(v)) {
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        FUZZ_CHECK(e->key != NULL && strcmp(e->key, num) == 0,
                   "real key: \"%s\" != \"%s\"", e->key ? e->key : "NULL", num);
    } else {
        FUZZ_CHECK(e->key == NULL, "key \"%s\" without a key field", e->key);
    }
}

/* One accepted event against the element jansson decoded. */
static inline void fuzz_check_event(const event *e, const json_t *ref,
                                    const ingest_limits *lim, size_t i)
{
    json_error_t je;
    json_t *back;
    const char *cur = lim->required;
    char f[64];

    FUZZ_CHECK(json_is_object(ref), "event %zu accepted but not an object", i);
    FUZZ_CHECK(e->value != NULL && strlen(e->value) == e->len,
               "event %zu: length %zu", i, e->len);
    FUZZ_CHECK(e->len <= lim->max_event_bytes, "event %zu: %zu > limit %zu", i,
               e->len, lim->max_event_bytes);
    FUZZ_CHECK(fuzz_compact(e->value, e->len), "event %zu not compact: %s", i,
               e->value);
    back = json_loadb(e->value, e->len, JSON_REJECT_DUPLICATES, &je);
    FUZZ_CHECK(back != NULL, "event %zu does not parse back: %s (%s)", i,
               e->value, je.text);
    FUZZ_CHECK(json_equal(back, (json_t *)ref), "event %zu changed meaning: %s",
               i, e->value);
    json_decref(back);
    FUZZ_CHECK(fuzz_depth(ref) <= lim->max_depth, "event %zu too deep", i);
    while (cur && cfg_list_next(&cur, f, sizeof(f)))
        FUZZ_CHECK(json_object_get(ref, f) != NULL,
                   "event %zu lacks required \"%s\"", i, f);
    if (lim->key_field)
        fuzz_check_key(e, ref, lim->key_field);
    else
        FUZZ_CHECK(e->key == NULL, "a key without key_field");
}

/* What every answer must look like. */
static inline void fuzz_check_answer(int rc, const event_batch *out,
                                     const validate_error *err,
                                     const ingest_limits *lim)
{
    size_t bytes = 0;

    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        FUZZ_CHECK(out->n == 0 && out->ev == NULL && out->bytes == 0,
                   "a rejected request left %zu events", out->n);
        FUZZ_CHECK(err->status == 400 || err->status == 413, "status %d (%s)",
                   err->status, err->code);
        FUZZ_CHECK(err->code != NULL, "no error code");
        FUZZ_CHECK(memchr(err->detail, '\0', sizeof(err->detail)) != NULL,
                   "detail not terminated");
        return;
    }
    FUZZ_CHECK(out->n >= 1 && out->n <= lim->max_events, "%zu events", out->n);
    for (size_t i = 0; i < out->n; i++)
        bytes += out->ev[i].len;
    FUZZ_CHECK(bytes == out->bytes, "bytes %zu != sum %zu", out->bytes, bytes);
}

#endif
