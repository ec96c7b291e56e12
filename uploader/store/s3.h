/* s3.h -- the S3 object store: PutObject, multipart uploads and listing over
 * libcurl, signed with SigV4, for AWS and any S3-compatible server,
 * path-style or virtual-hosted. The store's parts: s3_check (options and
 * arguments), s3_request (building signed requests), s3_parse (reading
 * answers), s3_error (classifying failures), s3_transport (curl and its
 * handle pool), s3_multipart and s3_list (the operations beyond put). */
#ifndef MILLRACE_S3_H
#define MILLRACE_S3_H

#include "creds.h"
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

#endif
