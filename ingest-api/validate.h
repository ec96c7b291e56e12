/* validate.h -- turns a request body into the list of events to publish, or
 * into the one error that rejects the whole request. Pure: no sockets. */
#ifndef MILLRACE_VALIDATE_H
#define MILLRACE_VALIDATE_H

#include <stddef.h>

typedef enum body_kind {
    BODY_JSON,   /* one object, or an array of objects */
    BODY_NDJSON, /* one object per line; blank lines ignored */
} body_kind;

typedef struct ingest_limits {
    size_t max_event_bytes; /* compact JSON of one event */
    size_t max_events;      /* events per request */
    int max_depth;          /* nesting; the event object itself is depth 1 */
    const char *required;   /* field names, '\n'-separated, or NULL */
    const char *key_field;  /* event field used as the Kafka key, or NULL */
} ingest_limits;

/* One validated event: its compact JSON and the optional key. Both are
 * heap strings owned by the batch. */
typedef struct event {
    char *value;
    size_t len;
    char *key; /* NULL: no key */
    size_t key_len;
} event;

typedef struct event_batch {
    event *ev;
    size_t n, cap;
    size_t bytes; /* sum of value lengths */
} event_batch;

typedef struct validate_error {
    int status;       /* HTTP status: 400 or 413 */
    const char *code; /* machine-readable: "invalid_json", ... */
    char detail[256]; /* for a human */
    long index;       /* the event at fault, or -1 */
} validate_error;

/* Parse and check a whole body. On success fills out (which must be empty)
 * and returns 0. On failure returns -1, fills err, and leaves out empty:
 * a request is all or nothing. */
int validate_body(const char *body, size_t len, body_kind kind,
                  const ingest_limits *lim, event_batch *out,
                  validate_error *err);

/* The same contract, decided by jansson alone: validate_body's fast path
 * declines to this for every error and for what it does not decide
 * itself. Exposed so that tests can hold the two to the same answers. */
int validate_body_reference(const char *body, size_t len, body_kind kind,
                            const ingest_limits *lim, event_batch *out,
                            validate_error *err);

/* Frees the events; the batch can be reused. Accepts a zeroed batch. */
void event_batch_clear(event_batch *b);

#endif
