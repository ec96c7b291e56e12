/* request.h -- the HTTP request contract of POST /v1/events that is decided
 * from the request head alone (before any body byte is read), and the
 * bounded reading of the body. Pure: the reader and the clock are passed
 * in, so it runs without sockets. */
#ifndef MILLRACE_REQUEST_H
#define MILLRACE_REQUEST_H

#include <stddef.h>

#include "validate.h"

/* The headers that matter, as sent (NULL: not sent). */
typedef struct request_head {
    const char *content_type;
    const char *content_encoding;
    const char *transfer_encoding;
    const char *expect;
    long long content_length; /* -1: not sent */
} request_head;

/* What the head allows. */
typedef struct request_plan {
    body_kind kind;
    int gzip;          /* Content-Encoding: gzip */
    int chunked;       /* Transfer-Encoding: chunked */
    int send_continue; /* Expect: 100-continue */
} request_plan;

typedef struct request_error {
    int status;       /* 400, 408, 411, 413, 415, 417 */
    const char *code; /* machine-readable: "length_required", ... */
    char detail[200]; /* for a human */
} request_error;

/* Decides from the head whether the body may be read: 415 for a content
 * type or encoding we do not take, 417 for an expectation other than
 * 100-continue, 411 without a length, 413 when Content-Length exceeds
 * max_body. Returns 0 and fills plan, or -1 and fills err. */
int request_plan_of(const request_head *h, long long max_body,
                    request_plan *plan, request_error *err);

/* Reads up to len bytes of body: > 0 bytes read, 0 at the end (or after
 * the transport's own timeout), < 0 on an error. As civetweb's mg_read. */
/* One header field as civetweb parsed it. */
typedef struct request_field {
    const char *name;
    const char *value;
} request_field;

/* Framing that a proxy in front could read differently (request
 * smuggling), as a reason for a 400 that closes the connection, or NULL:
 * Content-Length that is not plain digits (RFC 9110 8.6: 1*DIGIT; here
 * also no leading zero), Content-Length or Transfer-Encoding given twice,
 * both given, a Transfer-Encoding other than chunked, a field name that
 * is not a token (a space before the colon, an obs-fold line), or a field
 * value with a bare CR or LF. */
const char *request_framing_error(const request_field *fields, int n);

/* What civetweb's own parse hides: civetweb 1.15 parses the head in place,
 * turning each line's CR and LF, and a field's colon, into NUL bytes, and
 * the fields point into that buffer. Read back around the fields, that
 * shows a bare LF line end, whitespace before a colon, and lines civetweb
 * stopped at and skipped (an obs-fold line, and every field after it). The
 * fields must be civetweb's, in order, at least one. NULL if none. */
const char *request_head_layout_error(const request_field *fields, int n);

typedef int (*request_read_fn)(void *ctx, void *buf, size_t len);

/* Milliseconds on a monotonic clock. */
typedef long long (*request_clock_fn)(void);

typedef struct request_reader {
    request_read_fn read;
    void *ctx;
    request_clock_fn now_ms;
} request_reader;

/* Reads the whole body into *out (heap, NUL-terminated, the caller frees)
 * and its length into *outlen. declared is Content-Length or -1 (chunked).
 * Never reads more than max + 1 bytes: a longer body is 413 by counting;
 * a body not complete at deadline_ms is 408; a body that ends before its
 * Content-Length, or a broken chunked encoding, is 400. Returns 0 or -1
 * (err filled, *out NULL). *nread is always the number of bytes read. */
int request_read_body(const request_reader *r, long long declared, size_t max,
                      long long deadline_ms, char **out, size_t *outlen,
                      size_t *nread, request_error *err);

#endif
