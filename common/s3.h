/* s3.h -- the S3 object store: PutObject over libcurl, signed with SigV4,
 * for AWS and any S3-compatible server, path-style or virtual-hosted. */
#ifndef MILLRACE_S3_H
#define MILLRACE_S3_H

#include "sigv4.h"
#include "store.h"

#include <stddef.h>
#include <time.h>

#define S3_MAX_HEADERS 12

typedef struct s3_options {
    /* "http://127.0.0.1:17070" or "https://s3.us-east-1.amazonaws.com":
     * scheme, host and optional port, nothing after but an optional '/'. */
    const char *endpoint;
    const char *bucket;
    const char *region;
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" when there is none */
    /* 1: http://host/bucket/key (MinIO, versitygw, most self-hosted
     * servers); 0: virtual-hosted http://bucket.host/key (AWS). */
    int path_style;
    long connect_timeout_ms; /* 0 = 10 s */
    long request_timeout_ms; /* whole request, body included; 0 = 300 s */
    time_t (*clock)(void);   /* NULL = time() */
} s3_options;

/* Calls curl_global_init. main calls it once before starting threads,
 * and s3_global_cleanup once at exit. Returns 0 or -1. */
int s3_global_init(void);
void s3_global_cleanup(void);

/* Checks and copies the options (the caller keeps its own). No network
 * I/O happens until the first put. Returns NULL with a reason in errbuf.
 * store_put may be called from many threads at once; store_destroy only
 * after every put has returned. */
store *s3_store_new(const s3_options *opt, char *errbuf, size_t errlen);

/* One signed request, ready for curl. */
typedef struct s3_request {
    char *url;
    char *headers[S3_MAX_HEADERS]; /* "Name: value" */
    size_t n_headers;
    sigv4_result sig; /* the signing steps, for tests and debugging */
} s3_request;

/* Builds a PutObject of obj for time now: URL (key percent-encoded like
 * the canonical URI), Host, Content-Type, Content-Encoding, Content-Length,
 * Content-MD5, x-amz-content-sha256 (SHA-256 of the body: a signed
 * payload), X-Amz-Date, X-Amz-Security-Token and Authorization. Pure: no
 * network. Returns 0, or -1 with a reason in errbuf. */
int s3_build_put(const s3_options *opt, const store_object *obj, time_t now,
                 s3_request *out, char *errbuf, size_t errlen);

/* Accepts a zeroed or half-filled request. */
void s3_request_free(s3_request *r);

/* Maps an HTTP response to a store result and, unless 2xx, writes
 * "HTTP 403 SignatureDoesNotMatch: <Message>" into errbuf from the XML
 * error body (body need not be NUL-terminated). */
store_result s3_classify(long status, const char *body, size_t len,
                         char *errbuf, size_t errlen);

#endif
