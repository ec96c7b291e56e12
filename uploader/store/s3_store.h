/* s3_store.h -- the S3 store's own state and the helpers its operations
 * share (s3.c, s3_multipart.c, s3_list.c); not for other callers. */
#ifndef MILLRACE_S3_STORE_H
#define MILLRACE_S3_STORE_H

#include "s3.h"
#include "s3_request.h"
#include "s3_transport.h"

#include <time.h>

#define S3_WHY_MAX 512

typedef struct s3_store {
    store base;     /* first, so a store * is an s3_store * */
    s3_options opt; /* its strings point at the copies below */
    char *endpoint;
    char *bucket;
    char *region;
    char *access_key;
    char *secret_key;
    char *session_token;
    char *sse;
    char *sse_kms_key_id;
    char *storage_class;
    s3_pool pool;
} s3_store;

/* The time requests are signed for: opt.clock, or time(). */
time_t s3_store_now(const s3_store *s);

/* Sends req, the result of a builder that returned built (0 or -1): a
 * request that could not be built cannot succeed as configured, unless
 * only usable credentials were missing (those come back by themselves:
 * STORE_RETRY). Frees req either way. */
store_result s3_send(s3_store *s, int built, s3_request *req, const void *body,
                     size_t len, s3_reply *rep, char *why, size_t whylen);

/* The store operations of s3_multipart.c and s3_list.c (see store.h). */
store_result s3_mpu_begin(store *st, const store_object *obj, char *upload_id,
                          size_t idlen, char *errbuf, size_t errlen);
store_result s3_mpu_part(store *st, const char *key, const char *upload_id,
                         int part_no, const void *data, size_t len, char *etag,
                         size_t etaglen, char *errbuf, size_t errlen);
store_result s3_mpu_complete(store *st, const char *key, const char *upload_id,
                             const char *const *etags, int n_parts,
                             char *errbuf, size_t errlen);
store_result s3_mpu_abort(store *st, const char *key, const char *upload_id,
                          char *errbuf, size_t errlen);
store_result s3_mpu_list(store *st, const char *prefix, store_upload_fn fn,
                         void *arg, char *errbuf, size_t errlen);
store_result s3_list(store *st, const char *prefix, const char *start_after,
                     store_object_fn fn, void *arg, char *errbuf,
                     size_t errlen);

#endif
