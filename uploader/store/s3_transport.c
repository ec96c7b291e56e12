/* s3_transport.c -- sending built S3 requests with libcurl: the body
 * from memory, the answer into a bounded buffer, one header captured, and
 * a pool of idle handles that keeps connections open between requests. */
#include "s3_transport.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "s3_error.h"

#define DEFAULT_CONNECT_MS 10000L
#define DEFAULT_REQUEST_MS 300000L

/* The body is sent from memory; curl may rewind it (a reused connection
 * that turns out dead is retried on a new one), hence seek. */
typedef struct reader {
    const char *data;
    size_t len;
    size_t off;
} reader;

static size_t read_body(char *buf, size_t size, size_t nitems, void *ud)
{
    reader *rd = ud;
    size_t n = size * nitems;

    if (n > rd->len - rd->off)
        n = rd->len - rd->off;
    if (n > 0)
        memcpy(buf, rd->data + rd->off, n);
    rd->off += n;
    return n;
}

static int seek_body(void *ud, curl_off_t offset, int origin)
{
    reader *rd = ud;

    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > rd->len)
        return CURL_SEEKFUNC_FAIL;
    rd->off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

void s3_reply_init(s3_reply *r, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
}

void s3_reply_free(s3_reply *r)
{
    free(r->body);
    r->body = NULL;
}

/* Keeps up to max bytes, so a large body cannot grow memory. Returns -1
 * when out of memory. */
static int reply_add(s3_reply *r, const char *p, size_t n)
{
    size_t k = n < r->max - r->len ? n : r->max - r->len;
    size_t cap = r->cap ? r->cap : 1024;
    char *nb;

    r->cut |= k < n;
    if (k == 0)
        return 0;
    while (cap < r->len + k + 1)
        cap *= 2;
    if (cap > r->cap) {
        nb = realloc(r->body, cap);
        if (!nb)
            return -1;
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* S3 sends CompleteMultipartUpload's 200 at once, then blanks to keep
 * the connection open until the result: dropping blanks that follow a
 * tag (or nothing) keeps that result inside max. */
static int reply_add_squeezed(s3_reply *r, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (blank(p[i]) && (r->len == 0 || r->body[r->len - 1] == '>'))
            continue;
        if (reply_add(r, p + i, 1) != 0)
            return -1;
    }
    return 0;
}

static size_t write_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    s3_reply *r = ud;
    size_t n = size * nmemb;
    int rc = r->squeeze ? reply_add_squeezed(r, ptr, n) : reply_add(r, ptr, n);

    return rc == 0 ? n : 0; /* 0 makes curl fail the transfer */
}

/* Captures r->want, the value trimmed; each new status line (after a
 * "100 Continue") starts over. */
static size_t read_header(char *buf, size_t size, size_t nitems, void *ud)
{
    s3_reply *r = ud;
    size_t n = size * nitems;
    size_t wl = strlen(r->want);
    const char *v = buf + wl + 1;
    const char *e = buf + n;

    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        r->header_state = 0;
        r->header[0] = '\0';
        return n;
    }
    if (n <= wl || strncasecmp(buf, r->want, wl) != 0 || buf[wl] != ':')
        return n;
    while (v < e && blank(*v))
        v++;
    while (e > v && blank(e[-1]))
        e--;
    if ((size_t)(e - v) >= sizeof(r->header)) {
        r->header_state = -1;
        return n;
    }
    memcpy(r->header, v, (size_t)(e - v));
    r->header[e - v] = '\0';
    r->header_state = 1;
    return n;
}

/* curl gets exactly the headers that were signed, plus an empty Expect
 * that stops it from waiting up to a second for "100 Continue" before
 * every body over 1 MB. */
static struct curl_slist *header_list(const s3_request *req)
{
    struct curl_slist *list = NULL;
    struct curl_slist *next;

    for (size_t i = 0; i <= req->n_headers; i++) {
        next = curl_slist_append(list, i < req->n_headers ? req->headers[i]
                                                          : "Expect:");
        if (!next) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

typedef struct transfer {
    reader rd;
    s3_reply *rep;
    char curl_err[CURL_ERROR_SIZE];
} transfer;

#define SETOPT(o, v)                                                           \
    do {                                                                       \
        what = #o;                                                             \
        cc = curl_easy_setopt(h, o, v);                                        \
        if (cc != CURLE_OK)                                                    \
            goto fail;                                                         \
    } while (0)

/* PUT and POST send the body through the reader (POST is curl's upload
 * under another name, so both rewind alike); DELETE has none. */
static int setup_method(CURL *h, const s3_request *req, transfer *t,
                        char *errbuf, size_t errlen)
{
    CURLcode cc = CURLE_OK;
    const char *what = "";

    if (s3_has_body(req->method)) {
        SETOPT(CURLOPT_UPLOAD, 1L);
        SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->rd.len);
        SETOPT(CURLOPT_READFUNCTION, read_body);
        SETOPT(CURLOPT_READDATA, &t->rd);
        SETOPT(CURLOPT_SEEKFUNCTION, seek_body);
        SETOPT(CURLOPT_SEEKDATA, &t->rd);
    }
    if (strcmp(req->method, "PUT") != 0 && strcmp(req->method, "GET") != 0)
        SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
    if (t->rep->want) {
        SETOPT(CURLOPT_HEADERFUNCTION, read_header);
        SETOPT(CURLOPT_HEADERDATA, t->rep);
    }
    return 0;
fail:
    errbuf_set(errbuf, errlen, "s3: curl_easy_setopt(%s): %s", what,
               curl_easy_strerror(cc));
    return -1;
}

static int setup(CURL *h, const s3_options *opt, const s3_request *req,
                 struct curl_slist *headers, transfer *t, char *errbuf,
                 size_t errlen)
{
    CURLcode cc = CURLE_OK;
    const char *what = "";
    long connect_ms =
        opt->connect_timeout_ms ? opt->connect_timeout_ms : DEFAULT_CONNECT_MS;
    long request_ms =
        opt->request_timeout_ms ? opt->request_timeout_ms : DEFAULT_REQUEST_MS;

    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    /* Keys may hold "." and ".." segments: send the path as signed. */
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_WRITEFUNCTION, write_body);
    SETOPT(CURLOPT_WRITEDATA, t->rep);
    SETOPT(CURLOPT_ERRORBUFFER, t->curl_err);
    /* Worker threads: no signals for timeouts. */
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, request_ms);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    return setup_method(h, req, t, errbuf, errlen);
fail:
    errbuf_set(errbuf, errlen, "s3: curl_easy_setopt(%s): %s", what,
               curl_easy_strerror(cc));
    return -1;
}
#undef SETOPT

/* Transport failures are worth a retry, except a URL or build that can
 * never work. */
static store_result transport_result(CURLcode cc)
{
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return STORE_PERMANENT;
    default:
        return STORE_RETRY;
    }
}

static store_result perform(CURL *h, const s3_options *opt,
                            const s3_request *req, const void *body, size_t len,
                            s3_reply *rep, char *errbuf, size_t errlen)
{
    store_result res = STORE_PERMANENT;
    struct curl_slist *headers = header_list(req);
    transfer *t = calloc(1, sizeof(*t));
    CURLcode cc;

    if (!headers || !t) {
        errbuf_set(errbuf, errlen, "s3: out of memory");
        res = STORE_RETRY;
        goto fail;
    }
    t->rd = (reader){body, body ? len : 0, 0};
    t->rep = rep;
    if (setup(h, opt, req, headers, t, errbuf, errlen) != 0)
        goto fail;
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        errbuf_set(errbuf, errlen, "curl: %s: %s", curl_easy_strerror(cc),
                   t->curl_err[0] ? t->curl_err : "no detail");
        res = transport_result(cc);
        goto fail;
    }
    cc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rep->status);
    if (cc != CURLE_OK) {
        errbuf_set(errbuf, errlen, "curl: no response code: %s",
                   curl_easy_strerror(cc));
        res = STORE_RETRY;
        goto fail;
    }
    res = s3_classify(rep->status, rep->body, rep->len, errbuf, errlen);
fail:
    curl_slist_free_all(headers);
    free(t);
    return res;
}

static CURL *pool_get(s3_pool *s)
{
    CURL *h = NULL;

    pthread_mutex_lock(&s->lock);
    if (s->n_idle > 0)
        h = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->lock);
    return h ? h : curl_easy_init();
}

/* A handle returns reset (no pointers into a finished call's memory)
 * but keeps its open connection for the next request. */
static void pool_put(s3_pool *s, CURL *h)
{
    if (!h)
        return;
    curl_easy_reset(h);
    pthread_mutex_lock(&s->lock);
    if (s->n_idle < S3_POOL_MAX) {
        s->idle[s->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    curl_easy_cleanup(h);
}

int s3_pool_init(s3_pool *p)
{
    memset(p, 0, sizeof(*p));
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return -1;
    p->ready = 1;
    return 0;
}

void s3_pool_free(s3_pool *p)
{
    for (size_t i = 0; i < p->n_idle; i++)
        curl_easy_cleanup(p->idle[i]);
    p->n_idle = 0;
    if (p->ready)
        pthread_mutex_destroy(&p->lock);
    p->ready = 0;
}

store_result s3_exec(s3_pool *p, const s3_options *opt, const s3_request *req,
                     const void *body, size_t len, s3_reply *rep, char *why,
                     size_t whylen)
{
    store_result res;
    CURL *h = pool_get(p);

    if (!h) {
        errbuf_set(why, whylen, "s3: curl_easy_init failed");
        return STORE_RETRY;
    }
    res = perform(h, opt, req, body, len, rep, why, whylen);
    pool_put(p, h);
    return res;
}
