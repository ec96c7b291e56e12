/* s3_error.h -- what an S3 answer means for the caller: done, retry,
 * slow down, or give up (store_result), with a one-line reason. */
#ifndef MILLRACE_S3_ERROR_H
#define MILLRACE_S3_ERROR_H

#include "store.h"

#include <stddef.h>

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

#endif
