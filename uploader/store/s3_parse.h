/* s3_parse.h -- reading S3's XML answers: the upload id of a new
 * multipart upload and the pages of the two listings. */
#ifndef MILLRACE_S3_PARSE_H
#define MILLRACE_S3_PARSE_H

#include "s3.h"

#include <stddef.h>

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
long s3_parse_uploads(const char *body, size_t len, store_upload_fn fn,
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
long s3_parse_list(const char *body, size_t len, store_object_fn fn, void *arg,
                   s3_object_page *page);

#endif
