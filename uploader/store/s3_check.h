/* s3_check.h -- checks of the S3 store's options and of each call's
 * arguments, before anything is built or sent. */
#ifndef MILLRACE_S3_CHECK_H
#define MILLRACE_S3_CHECK_H

#include "s3.h"

#include <stddef.h>

/* Scheme and authority of the endpoint, bucket prepended when virtual. */
typedef struct s3_endpoint {
    char scheme[8];
    char host[512];
} s3_endpoint;

/* 1 for NULL or "". */
int s3_empty(const char *s);

/* Each returns 0, or -1 with a reason in errbuf. */

/* The options whole: bucket, region and keys or a provider, timeouts,
 * encryption and storage class, and the endpoint, parsed into ep. */
int s3_check_options(const s3_options *opt, s3_endpoint *ep, char *errbuf,
                     size_t errlen);
/* Not empty, no leading '/', at most S3_MAX_KEY bytes. */
int s3_check_key(const char *key, char *errbuf, size_t errlen);
/* A valid key, and data wherever there is a length. */
int s3_check_object(const store_object *obj, char *errbuf, size_t errlen);
int s3_check_upload_id(const char *id, char *errbuf, size_t errlen);
/* 1..S3_MAX_PARTS ETags, none empty or with control characters. */
int s3_check_etags(const char *const *etags, int n, char *errbuf,
                   size_t errlen);

#endif
