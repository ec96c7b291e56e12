/* awshttp.c -- the libcurl transport of the credential sources (STS, the
 * container endpoint, IMDS): one small request, one small answer. */
#include "awshttp.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct sink {
    char *buf;
    size_t len;
    int over; /* the answer passed AWSHTTP_MAX_BODY */
} sink;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    char *nb;

    if (s->len + n > AWSHTTP_MAX_BODY) {
        s->over = 1;
        return 0;
    }
    nb = realloc(s->buf, s->len + n + 1);
    if (!nb)
        return 0;
    s->buf = nb;
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

#define SETOPT(o, v)                                                           \
    do {                                                                       \
        what = #o;                                                             \
        cc = curl_easy_setopt(h, o, v);                                        \
        if (cc != CURLE_OK)                                                    \
            goto setopt_fail;                                                  \
    } while (0)

static int setup(CURL *h, const creds_http_request *req,
                 struct curl_slist *headers, sink *s, char *curl_err,
                 char *errbuf, size_t errlen)
{
    CURLcode cc = CURLE_OK;
    const char *what = "";

    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, req->timeout_ms);
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, s);
    SETOPT(CURLOPT_ERRORBUFFER, curl_err);
    /* The metadata addresses are link-local: never through a proxy. */
    SETOPT(CURLOPT_NOPROXY, "169.254.169.254,169.254.170.2,169.254.170.23,"
                            "fd00:ec2::254,fd00:ec2::23,127.0.0.1,localhost");
    if (strcmp(req->method, "GET") != 0) {
        SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
        SETOPT(CURLOPT_POSTFIELDS, req->body ? req->body : "");
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE,
               (curl_off_t)(req->body ? req->body_len : 0));
    }
    return 0;
setopt_fail:
    errbuf_set(errbuf, errlen, "curl_easy_setopt(%s): %s", what,
               curl_easy_strerror(cc));
    return -1;
}
#undef SETOPT

int awshttp_request(void *arg, const creds_http_request *req,
                    creds_http_response *resp, char *errbuf, size_t errlen)
{
    CURL *h = curl_easy_init();
    struct curl_slist *headers = NULL, *next;
    char curl_err[CURL_ERROR_SIZE] = "";
    sink s = {0};
    CURLcode cc;
    int rc = -1;

    (void)arg;
    memset(resp, 0, sizeof(*resp));
    if (!h) {
        errbuf_set(errbuf, errlen, "curl_easy_init failed");
        return -1;
    }
    /* No "Expect: 100-continue" wait on the POST to STS. */
    for (size_t i = 0; i <= req->n_headers; i++) {
        next = curl_slist_append(headers, i < req->n_headers ? req->headers[i]
                                                             : "Expect:");
        if (!next) {
            errbuf_set(errbuf, errlen, "out of memory");
            goto done;
        }
        headers = next;
    }
    if (setup(h, req, headers, &s, curl_err, errbuf, errlen) != 0)
        goto done;
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        errbuf_set(errbuf, errlen, "%s",
                   s.over        ? "answer too large"
                   : curl_err[0] ? curl_err
                                 : curl_easy_strerror(cc));
        goto done;
    }
    cc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc != CURLE_OK) {
        errbuf_set(errbuf, errlen, "no response code: %s",
                   curl_easy_strerror(cc));
        goto done;
    }
    resp->body = s.buf ? s.buf : strdup("");
    resp->len = s.len;
    s.buf = NULL;
    rc = resp->body ? 0 : -1;
    if (rc != 0)
        errbuf_set(errbuf, errlen, "out of memory");
done:
    free(s.buf);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return rc;
}
