/* fuzz_ndjson.c -- NDJSON splitting: validate_body on an
 * application/x-ndjson body with small limits.
 * Input: one byte of options (fuzz_limits), then the body.
 * Properties: no crash, leak or UB; the body is split on '\n' and blank
 * lines are skipped; an accepted request holds one event per remaining
 * line, in order, each meaning what jansson decodes from its line; an
 * invalid_json or not_an_object error names (index) a line jansson
 * rejects or finds not an object, and no earlier line is one. */
#include "validate_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference split: jansson's value of every non-blank line. */
typedef struct lines {
    json_t *v[64];
    size_t n;       /* non-blank lines, at most 64 kept */
    long first_bad; /* index of the first line that is not an object */
} lines;

static void split(const char *body, size_t len, lines *l)
{
    const char *p = body;
    const char *end = body + len;

    memset(l, 0, sizeof(*l));
    l->first_bad = -1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

        if (!fuzz_blank(p, n)) {
            /* jansson drops a NUL after a number: never JSON here. */
            json_t *v = memchr(p, '\0', n)
                            ? NULL
                            : json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
            if (!json_is_object(v) && l->first_bad < 0)
                l->first_bad = (long)l->n;
            if (l->n < 64)
                l->v[l->n] = v;
            else
                json_decref(v);
            l->n++;
        }
        p += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    ingest_limits lim = fuzz_limits(fuzz_u8(&in));
    size_t len;
    char *body = fuzz_rest(&in, &len);
    event_batch out = {0};
    validate_error err;
    lines l;
    int rc;

    memset(&err, 0, sizeof(err));
    rc = validate_body(body, len, BODY_NDJSON, &lim, &out, &err);
    fuzz_check_answer(rc, &out, &err, &lim);
    split(body, len, &l);
    if (l.n == 0) {
        FUZZ_CHECK(rc == -1 && strcmp(err.code, "empty") == 0,
                   "no line, yet rc %d", rc);
    } else if (rc == 0) {
        FUZZ_CHECK(l.first_bad < 0, "accepted, but line %ld is bad",
                   l.first_bad);
        FUZZ_CHECK(out.n == l.n, "%zu events of %zu lines", out.n, l.n);
        for (size_t i = 0; i < out.n && i < 64; i++)
            fuzz_check_event(&out.ev[i], l.v[i], &lim, i);
    } else if (strcmp(err.code, "invalid_json") == 0 ||
               strcmp(err.code, "not_an_object") == 0) {
        FUZZ_CHECK(err.index == l.first_bad,
                   "%s at event %ld, but the first bad line is %ld", err.code,
                   err.index, l.first_bad);
    } else {
        FUZZ_CHECK(l.first_bad < 0 || err.index <= l.first_bad,
                   "%s at event %ld, after the bad line %ld", err.code,
                   err.index, l.first_bad);
    }
    for (size_t i = 0; i < l.n && i < 64; i++)
        json_decref(l.v[i]);
    event_batch_clear(&out);
    free(body);
    return 0;
}
