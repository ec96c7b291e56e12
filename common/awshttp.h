/* awshttp.h -- the libcurl transport of the credential sources (STS, the
 * container endpoint, IMDS): one small request, one small answer. */
#ifndef MILLRACE_AWSHTTP_H
#define MILLRACE_AWSHTTP_H

#include <stddef.h>

#include "creds.h"

/* Answers larger than this are refused. */
#define AWSHTTP_MAX_BODY (256 * 1024)

/* A creds_http_fn (arg unused): no redirects, http and https only, no
 * proxy from the environment for the link-local addresses. Needs
 * curl_global_init (s3_global_init) before the first call. */
int awshttp_request(void *arg, const creds_http_request *req,
                    creds_http_response *resp, char *errbuf, size_t errlen);

#endif
