/* s3_error.c -- what an S3 answer means for the caller: the status and
 * the error code of the XML body decide between done, retry, slow down and
 * give up. */
#include "s3_error.h"

#include <string.h>

#include "log.h"
#include "xml.h"

static int one_of(const char *code, const char *const *codes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(code, codes[i]) == 0)
            return 1;
    }
    return 0;
}

/* The server asks every client to slow down (S3 answers 503 SlowDown;
 * other servers 429, or these codes with other statuses). */
static int throttle_code(const char *code)
{
    static const char *const codes[] = {
        "SlowDown",           "TooManyRequests", "RequestLimitExceeded",
        "ServiceUnavailable", "Throttling",      "ThrottlingException",
    };

    return one_of(code, codes, sizeof(codes) / sizeof(codes[0]));
}

/* Error codes that can succeed when tried again: server trouble, a body
 * damaged or cut short in transit (the digests caught it), and clock
 * skew, which NTP fixes without a restart. */
static int retryable_code(const char *code)
{
    static const char *const codes[] = {
        "RequestTimeout",       "OperationAborted",
        "InternalError",        "BadDigest",
        "IncompleteBody",       "XAmzContentSHA256Mismatch",
        "RequestTimeTooSkewed",
    };

    return one_of(code, codes, sizeof(codes) / sizeof(codes[0]));
}

/* status 0: an error inside a 200 answer, judged by its code alone. 501
 * is the one 5xx that no retry fixes: the server lacks the operation. */
static store_result code_result(long status, const char *code)
{
    if (status == 503 || status == 429 || throttle_code(code))
        return STORE_THROTTLED;
    if (status == 501 || strcmp(code, "NotImplemented") == 0)
        return STORE_PERMANENT;
    if (status >= 500 || status == 408 || retryable_code(code))
        return STORE_RETRY;
    return STORE_PERMANENT;
}

/* "HTTP 403 SignatureDoesNotMatch: <Message>" into errbuf, the code into
 * code. */
static void describe(long status, const char *body, size_t len, char *code,
                     size_t codelen, char *errbuf, size_t errlen)
{
    char msg[384];

    xml_field(body, len, "Code", code, codelen);
    xml_field(body, len, "Message", msg, sizeof(msg));
    if (*code && *msg)
        errbuf_set(errbuf, errlen, "HTTP %ld %s: %s", status, code, msg);
    else if (*code)
        errbuf_set(errbuf, errlen, "HTTP %ld %s", status, code);
    else
        errbuf_set(errbuf, errlen, "HTTP %ld", status);
}

store_result s3_classify(long status, const char *body, size_t len,
                         char *errbuf, size_t errlen)
{
    char code[64];

    if (status >= 200 && status < 300)
        return STORE_OK;
    describe(status, body, len, code, sizeof(code), errbuf, errlen);
    return code_result(status, code);
}

/* S3 answers 200 at once and reports a failure found while assembling
 * the parts in the body; a body cut short holds neither. */
store_result s3_check_complete(const char *body, size_t len, char *errbuf,
                               size_t errlen)
{
    char code[64];

    if (body && memmem(body, len, "<Error>", 7)) {
        describe(200, body, len, code, sizeof(code), errbuf, errlen);
        return *code ? code_result(0, code) : STORE_RETRY;
    }
    if (!body || !memmem(body, len, "<CompleteMultipartUploadResult", 30)) {
        errbuf_set(errbuf, errlen,
                   "HTTP 200 without a CompleteMultipartUploadResult");
        return STORE_RETRY;
    }
    return STORE_OK;
}
