/* s3.h -- the S3 object store: PutObject, multipart uploads and listing over
 * libcurl, signed with SigV4, for AWS and any S3-compatible server,
 * path-style or virtual-hosted. */
#ifndef MILLRACE_S3_H
#define MILLRACE_S3_H

#include "creds.h"
#include "sigv4.h"
#include "store.h"

#include <stddef.h>
#include <time.h>

#define S3_MAX_HEADERS 16
#define S3_MAX_KEY 1024       /* S3's limit on a key, in bytes */
#define S3_MAX_UPLOAD_ID 1024 /* longer upload ids are refused */
#define S3_MAX_PARTS 10000    /* part numbers are 1..S3_MAX_PARTS */
#define S3_MAX_TOKEN 4096     /* longer continuation tokens are refused */
#define S3_LIST_PAGE 1000     /* keys or uploads asked for per listing page */

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
    /* Server-side encryption of the objects written: NULL or "" none,
     * "AES256" (S3-managed keys) or "aws:kms". Sent on PutObject and
     * CreateMultipartUpload only; the parts inherit it. */
    const char *sse;
    /* With "aws:kms": the key id or ARN; NULL or "" = the account's
     * default key. Refused without "aws:kms". */
    const char *sse_kms_key_id;
    /* NULL or "" = the server's default; "STANDARD_IA", "GLACIER_IR", ...
     * (letters, digits, '_' and '-'). Same operations as sse. */
    const char *storage_class;
    /* NULL: sign with access_key, secret_key and session_token. Else each
     * request is signed with a snapshot of the provider's credentials (the
     * three keys above are ignored); without usable ones a build fails
     * with no_credentials set and the store answers STORE_RETRY. Borrowed:
     * it must outlive the store. */
    creds_provider *creds;
} s3_options;

/* Calls curl_global_init. main calls it once before starting threads,
 * and s3_global_cleanup once at exit. Returns 0 or -1. */
int s3_global_init(void);
void s3_global_cleanup(void);

/* Checks and copies the options (the caller keeps its own). No network
 * I/O happens until the first request. Returns NULL with a reason in
 * errbuf. The store has put, list and all five mpu_* operations of
 * store.h; any of them may be called from many threads at once,
 * store_destroy only after every call has returned. A failed call writes
 * "<Operation>: " and the reason into errbuf ("UploadPart 3: HTTP 503
 * SlowDown: ...").
 *
 * list follows the pages of ListObjectsV2: start-after on the first
 * request only, continuation-token alone on the others (versitygw lets a
 * start-after override the token, which would repeat the first page). fn
 * sees each key, valid during the call only, page by page; on an error
 * list returns with fn called for the pages before.
 *
 * mpu_complete fails on a 200 answer that carries an <Error> (S3 reports
 * late failures that way) or no result at all. mpu_abort counts an upload
 * that no longer exists (404 NoSuchUpload) as aborted. mpu_list follows
 * the pages of ListMultipartUploads and calls fn once per upload, page by
 * page; on an error it returns with fn called for the pages before. */
store *s3_store_new(const s3_options *opt, char *errbuf, size_t errlen);

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
int s3_build_list(const s3_options *opt, const char *prefix,
                  const char *start_after, const char *continuation_token,
                  time_t now, s3_request *out, char *errbuf, size_t errlen);

/* Accepts a zeroed or half-filled request. */
/* GetObject and DeleteObject of key. */
int s3_build_get(const s3_options *opt, const char *key, time_t now,
                 s3_request *out, char *errbuf, size_t errlen);
int s3_build_delete(const s3_options *opt, const char *key, time_t now,
                    s3_request *out, char *errbuf, size_t errlen);

void s3_request_free(s3_request *r);

/* Maps an HTTP response to a store result and, unless 2xx, writes
 * "HTTP 403 SignatureDoesNotMatch: <Message>" into errbuf from the XML
 * error body (body need not be NUL-terminated). */
store_result s3_classify(long status, const char *body, size_t len,
                         char *errbuf, size_t errlen);

/* The body of a 200 answer to CompleteMultipartUpload: STORE_OK when it
 * holds the result; an <Error> is classified by its code as s3_classify
 * does (InternalError: retry, SlowDown: throttled, InvalidPart:
 * permanent); no result at all is a retry. */
store_result s3_check_complete(const char *body, size_t len, char *errbuf,
                               size_t errlen);

/* The <UploadId> of a CreateMultipartUpload answer, XML-unescaped, into
 * id. Returns 0; -1 when absent, empty or malformed; -2 when longer than
 * idlen - 1. */
int s3_parse_upload_id(const char *body, size_t len, char *id, size_t idlen);

/* Where the next page of ListMultipartUploads starts. */
typedef struct s3_upload_page {
    int truncated; /* IsTruncated: another page follows */
    char next_key_marker[S3_MAX_KEY + 1];
    char next_upload_id_marker[S3_MAX_UPLOAD_ID + 1];
} s3_upload_page;

/* One page of ListMultipartUploads: calls fn with the unescaped Key and
 * UploadId of each <Upload>, in order, and fills page. The page is checked
 * whole first, so fn is called for all of it or none. Returns the number
 * of uploads, or -1 when the body is not such a page. */
long s3_parse_uploads(const char *body, size_t len,
                      void (*fn)(const char *key, const char *upload_id,
                                 void *arg),
                      void *arg, s3_upload_page *page);

/* Where the next page of ListObjectsV2 starts, and whether fn asked to
 * stop. */
typedef struct s3_object_page {
    int truncated; /* IsTruncated: another page follows */
    int stopped;   /* fn returned nonzero: the rest of the page was skipped */
    char next_token[S3_MAX_TOKEN + 1]; /* NextContinuationToken */
} s3_object_page;

/* One page of ListObjectsV2: calls fn with the unescaped Key and the Size
 * of each <Contents>, in order, until fn returns nonzero, and fills page.
 * The page is checked whole first, so fn sees none of a bad one. Returns
 * the number of objects on the page, or -1 when the body is not such a
 * page (a Key empty, malformed or over S3_MAX_KEY bytes, a Size that is
 * not a number, a token over S3_MAX_TOKEN bytes, a body cut short). */
long s3_parse_list(const char *body, size_t len,
                   int (*fn)(const char *key, size_t size, void *arg),
                   void *arg, s3_object_page *page);

#endif
