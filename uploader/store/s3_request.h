/* s3_request.h -- building S3 requests: the URL, the headers and the
 * SigV4 signature of each operation, pure (no network). */
#ifndef MILLRACE_S3_REQUEST_H
#define MILLRACE_S3_REQUEST_H

#include "s3.h"
#include "sigv4.h"

#include <stddef.h>
#include <time.h>

/* One signed request, ready for curl. */
typedef struct s3_request {
    const char *method;            /* "PUT", "POST", "GET", "DELETE" */
    char *url;                     /* query included */
    char *headers[S3_MAX_HEADERS]; /* "Name: value" */
    size_t n_headers;
    /* The body when the builder made it (CompleteMultipartUpload's XML);
     * NULL when the caller's data is the body, or there is none. */
    char *body;
    size_t body_len;
    sigv4_result sig;   /* the signing steps, for tests and debugging */
    int no_credentials; /* set by a failed build: the provider had none */
} s3_request;

/* The builders below are pure (no network) and sign for time now. Every
 * request carries Host, x-amz-content-sha256 (SHA-256 of the body: a
 * signed payload), X-Amz-Date, X-Amz-Security-Token when there is a
 * session token, and Authorization; the key is percent-encoded in the URL
 * exactly as in the canonical URI, and query values once. Each returns 0,
 * or -1 with a reason in errbuf and *out zeroed. */

/* PutObject of obj: PUT /key with Content-Type, Content-Encoding,
 * Content-Length, Content-MD5, and the SSE and storage class headers. */
int s3_build_put(const s3_options *opt, const store_object *obj, time_t now,
                 s3_request *out, char *errbuf, size_t errlen);

/* CreateMultipartUpload: POST /key?uploads, empty body, with the headers
 * of s3_build_put that describe the finished object (obj->data and
 * obj->len are ignored). */
int s3_build_mpu_begin(const s3_options *opt, const store_object *obj,
                       time_t now, s3_request *out, char *errbuf,
                       size_t errlen);

/* UploadPart: PUT /key?partNumber=N&uploadId=ID with Content-Length and
 * Content-MD5 of the part (data may be NULL when len is 0). */
int s3_build_mpu_part(const s3_options *opt, const char *key,
                      const char *upload_id, int part_no, const void *data,
                      size_t len, time_t now, s3_request *out, char *errbuf,
                      size_t errlen);

/* CompleteMultipartUpload: POST /key?uploadId=ID whose body (out->body)
 * lists parts 1..n_parts with their ETags, XML-escaped. */
int s3_build_mpu_complete(const s3_options *opt, const char *key,
                          const char *upload_id, const char *const *etags,
                          int n_parts, time_t now, s3_request *out,
                          char *errbuf, size_t errlen);

/* AbortMultipartUpload: DELETE /key?uploadId=ID. */
int s3_build_mpu_abort(const s3_options *opt, const char *key,
                       const char *upload_id, time_t now, s3_request *out,
                       char *errbuf, size_t errlen);

/* ListMultipartUploads: GET /?uploads&prefix=P&max-uploads=S3_LIST_PAGE,
 * plus key-marker and upload-id-marker when continuing a page. NULL or ""
 * leaves a parameter out. */
int s3_build_mpu_list(const s3_options *opt, const char *prefix,
                      const char *key_marker, const char *upload_id_marker,
                      time_t now, s3_request *out, char *errbuf, size_t errlen);

/* ListObjectsV2: GET /?list-type=2&prefix=P&start-after=S
 * &continuation-token=T&max-keys=S3_LIST_PAGE. NULL or "" leaves a
 * parameter out. The store gives start-after or a token, never both. */
/* GetObject and DeleteObject of key. */
int s3_build_get(const s3_options *opt, const char *key, time_t now,
                 s3_request *out, char *errbuf, size_t errlen);
int s3_build_delete(const s3_options *opt, const char *key, time_t now,
                    s3_request *out, char *errbuf, size_t errlen);

int s3_build_list(const s3_options *opt, const char *prefix,
                  const char *start_after, const char *continuation_token,
                  time_t now, s3_request *out, char *errbuf, size_t errlen);

/* 1 for the methods that send a body: PUT and POST. */
int s3_has_body(const char *method);

/* Accepts a zeroed or half-filled request. */
void s3_request_free(s3_request *r);

#endif
