/* s3.c -- the S3 object store: PutObject over libcurl, signed with SigV4,
 * for AWS and any S3-compatible server, path-style or virtual-hosted. */
#include "s3.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CONNECT_MS 10000L
#define DEFAULT_REQUEST_MS 300000L
#define MAX_KEY_BYTES 1024 /* S3's limit on a key */
#define POOL_MAX 16        /* idle curl handles kept for their connections */
#define RESPONSE_MAX 8192  /* error bodies are small; the rest is dropped */

typedef struct s3_store {
    store base;     /* first, so a store * is an s3_store * */
    s3_options opt; /* its strings point at the copies below */
    char *endpoint;
    char *bucket;
    char *region;
    char *access_key;
    char *secret_key;
    char *session_token;
    pthread_mutex_t lock; /* guards idle and n_idle */
    int lock_ready;
    CURL *idle[POOL_MAX];
    size_t n_idle;
} s3_store;

/* Scheme and authority of the endpoint, bucket prepended when virtual. */
typedef struct endpoint {
    char scheme[8];
    char host[512];
} endpoint;

__attribute__((format(printf, 3, 4))) static void
set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

static int empty(const char *s)
{
    return !s || !*s;
}

/* Only what S3 allows in any bucket name (legacy ones included): it
 * becomes part of the path or the host name unencoded. */
static int valid_bucket(const char *b)
{
    if (empty(b) || strlen(b) > 255)
        return 0;
    for (; *b; b++) {
        unsigned char c = (unsigned char)*b;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* An authority is host[:port] or [v6]:port: no user info, path, query,
 * fragment or blanks, which would change what curl connects to. */
static int valid_authority(const char *a, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)a[i];

        if (c <= ' ' || c >= 127 || strchr("@/?#\\", c))
            return 0;
    }
    return 1;
}

static int parse_endpoint(const s3_options *opt, endpoint *ep, char *errbuf,
                          size_t errlen)
{
    const char *e = opt->endpoint;
    const char *auth;
    size_t alen;
    int n;

    if (empty(e))
        goto bad;
    if (strncasecmp(e, "http://", 7) == 0)
        snprintf(ep->scheme, sizeof(ep->scheme), "http");
    else if (strncasecmp(e, "https://", 8) == 0)
        snprintf(ep->scheme, sizeof(ep->scheme), "https");
    else
        goto bad;
    auth = strstr(e, "://") + 3;
    alen = strcspn(auth, "/");
    if (!valid_authority(auth, alen) ||
        (auth[alen] && strcmp(auth + alen, "/")))
        goto bad;
    n = opt->path_style
            ? snprintf(ep->host, sizeof(ep->host), "%.*s", (int)alen, auth)
            : snprintf(ep->host, sizeof(ep->host), "%s.%.*s", opt->bucket,
                       (int)alen, auth);
    if (n < 0 || (size_t)n >= sizeof(ep->host))
        goto bad;
    return 0;
bad:
    set_err(errbuf, errlen, "s3: endpoint \"%s\" is not http(s)://host[:port]",
            e ? e : "(null)");
    return -1;
}

static int check_options(const s3_options *opt, endpoint *ep, char *errbuf,
                         size_t errlen)
{
    if (!opt) {
        set_err(errbuf, errlen, "s3: no options");
        return -1;
    }
    if (!valid_bucket(opt->bucket)) {
        set_err(errbuf, errlen, "s3: invalid bucket name \"%s\"",
                opt->bucket ? opt->bucket : "(null)");
        return -1;
    }
    if (empty(opt->region) || empty(opt->access_key) ||
        empty(opt->secret_key)) {
        set_err(errbuf, errlen, "s3: need region, access key and secret key");
        return -1;
    }
    if (opt->connect_timeout_ms < 0 || opt->request_timeout_ms < 0) {
        set_err(errbuf, errlen, "s3: timeouts must not be negative");
        return -1;
    }
    return parse_endpoint(opt, ep, errbuf, errlen);
}

static int check_object(const store_object *obj, char *errbuf, size_t errlen)
{
    if (!obj || empty(obj->key) || obj->key[0] == '/') {
        set_err(errbuf, errlen, "s3: object key empty or starting with '/'");
        return -1;
    }
    if (strlen(obj->key) > MAX_KEY_BYTES) {
        set_err(errbuf, errlen, "s3: key longer than %d bytes", MAX_KEY_BYTES);
        return -1;
    }
    if (!obj->data && obj->len > 0) {
        set_err(errbuf, errlen, "s3: object has a length but no data");
        return -1;
    }
    return 0;
}

/* Content-MD5 (base64) lets S3 catch a body corrupted in transit;
 * x-amz-content-sha256 (hex) signs the body itself. */
static int body_digests(const store_object *obj, char md5_b64[25],
                        char sha_hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const void *data = obj->len > 0 ? obj->data : "";

    if (!EVP_Digest(data, obj->len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
        return -1;
    if (EVP_EncodeBlock((unsigned char *)md5_b64, md, 16) != 24)
        return -1;
    return sigv4_sha256_hex(data, obj->len, sha_hex);
}

/* "/bucket/key" path-style, "/key" virtual-hosted; not yet encoded. */
static char *object_path(const s3_options *opt, const char *key)
{
    size_t n = strlen(opt->bucket) + strlen(key) + 3;
    char *p = malloc(n);

    if (!p)
        return NULL;
    if (opt->path_style)
        snprintf(p, n, "/%s/%s", opt->bucket, key);
    else
        snprintf(p, n, "/%s", key);
    return p;
}

/* The URL uses the very encoding the signature covers, so the path the
 * server decodes and re-encodes is the one that was signed. */
static char *object_url(const endpoint *ep, const char *path)
{
    char *enc = sigv4_uri_encode(path, strlen(path), 1);
    size_t n;
    char *url;

    if (!enc)
        return NULL;
    n = strlen(ep->scheme) + strlen(ep->host) + strlen(enc) + 4;
    url = malloc(n);
    if (url)
        snprintf(url, n, "%s://%s%s", ep->scheme, ep->host, enc);
    free(enc);
    return url;
}

static int add_line(s3_request *r, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line;

    if (r->n_headers >= S3_MAX_HEADERS)
        return -1;
    line = malloc(n);
    if (!line)
        return -1;
    snprintf(line, n, "%s: %s", name, value);
    r->headers[r->n_headers++] = line;
    return 0;
}

/* Every header sent: the signed ones, those the signer added, then
 * Authorization. */
static int add_lines(s3_request *r, const sigv4_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (add_line(r, h[i].name, h[i].value) != 0)
            return -1;
    }
    for (size_t i = 0; i < r->sig.n_added; i++) {
        if (add_line(r, r->sig.add[i].name, r->sig.add[i].value) != 0)
            return -1;
    }
    return add_line(r, "Authorization", r->sig.authorization);
}

/* S3 wants the payload hash signed and sent, and the token signed. */
static int sign_put(const s3_options *opt, const char *path,
                    const sigv4_header *h, size_t n, const char *sha,
                    time_t now, s3_request *out, char *errbuf, size_t errlen)
{
    sigv4_request req = {"PUT", path, NULL, h, n, sha, 1, 0};
    sigv4_creds creds = {opt->access_key, opt->secret_key, opt->session_token,
                         opt->region, "s3"};

    return sigv4_sign_header(&req, &creds, now, &out->sig, errbuf, errlen);
}

int s3_build_put(const s3_options *opt, const store_object *obj, time_t now,
                 s3_request *out, char *errbuf, size_t errlen)
{
    int rc = -1;
    endpoint ep;
    char md5[25];
    char sha[65];
    char len[24];
    char *path = NULL;
    sigv4_header h[5];
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    if (check_options(opt, &ep, errbuf, errlen) != 0 ||
        check_object(obj, errbuf, errlen) != 0)
        return -1;
    if (body_digests(obj, md5, sha) != 0) {
        set_err(errbuf, errlen, "s3: libcrypto failed to hash the body");
        return -1;
    }
    snprintf(len, sizeof(len), "%zu", obj->len);
    h[n++] = (sigv4_header){"Host", ep.host};
    h[n++] = (sigv4_header){"Content-Type", empty(obj->content_type)
                                                ? "application/octet-stream"
                                                : obj->content_type};
    if (!empty(obj->content_encoding))
        h[n++] = (sigv4_header){"Content-Encoding", obj->content_encoding};
    h[n++] = (sigv4_header){"Content-Length", len};
    h[n++] = (sigv4_header){"Content-MD5", md5};
    path = object_path(opt, obj->key);
    if (!path) {
        set_err(errbuf, errlen, "s3: out of memory");
        goto fail;
    }
    if (sign_put(opt, path, h, n, sha, now, out, errbuf, errlen) != 0)
        goto fail;
    out->url = object_url(&ep, path);
    if (!out->url || add_lines(out, h, n) != 0) {
        set_err(errbuf, errlen, "s3: out of memory");
        goto fail;
    }
    rc = 0;
fail:
    if (rc != 0)
        s3_request_free(out);
    free(path);
    return rc;
}

void s3_request_free(s3_request *r)
{
    if (!r)
        return;
    free(r->url);
    for (size_t i = 0; i < r->n_headers && i < S3_MAX_HEADERS; i++)
        free(r->headers[i]);
    sigv4_result_free(&r->sig);
    memset(r, 0, sizeof(*r));
}

/* Copies the text of the first <tag>...</tag> into out, entities decoded
 * and control characters blanked so errbuf stays one line. */
static void xml_field(const char *body, size_t len, const char *tag, char *out,
                      size_t outlen)
{
    static const char *const ents[][2] = {{"&amp;", "&"},
                                          {"&lt;", "<"},
                                          {"&gt;", ">"},
                                          {"&quot;", "\""},
                                          {"&apos;", "'"}};
    const size_t n_ents = sizeof(ents) / sizeof(ents[0]);
    char open[32];
    char close[32];
    const char *s;
    const char *e;
    size_t o = 0;

    out[0] = '\0';
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    s = body ? memmem(body, len, open, strlen(open)) : NULL;
    if (!s)
        return;
    s += strlen(open);
    e = memmem(s, len - (size_t)(s - body), close, strlen(close));
    if (!e)
        return;
    while (s < e && o + 1 < outlen) {
        size_t k = 0;

        while (k < n_ents && strncmp(s, ents[k][0], strlen(ents[k][0])))
            k++;
        out[o++] = k < n_ents ? ents[k][1][0] : (*s < ' ' ? ' ' : *s);
        s += k < n_ents ? strlen(ents[k][0]) : 1;
    }
    out[o] = '\0';
}

/* Error codes that can succeed when tried again: throttling, server
 * trouble, a body damaged or cut short in transit (the digests caught
 * it), and clock skew, which NTP fixes without a restart. */
static int retryable_code(const char *code)
{
    static const char *const codes[] = {
        "SlowDown",
        "RequestTimeout",
        "OperationAborted",
        "InternalError",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
        "BadDigest",
        "IncompleteBody",
        "XAmzContentSHA256Mismatch",
        "RequestTimeTooSkewed",
    };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(code, codes[i]) == 0)
            return 1;
    }
    return 0;
}

store_result s3_classify(long status, const char *body, size_t len,
                         char *errbuf, size_t errlen)
{
    char code[64];
    char msg[384];

    if (status >= 200 && status < 300)
        return STORE_OK;
    xml_field(body, len, "Code", code, sizeof(code));
    xml_field(body, len, "Message", msg, sizeof(msg));
    if (*code && *msg)
        set_err(errbuf, errlen, "HTTP %ld %s: %s", status, code, msg);
    else if (*code)
        set_err(errbuf, errlen, "HTTP %ld %s", status, code);
    else
        set_err(errbuf, errlen, "HTTP %ld", status);
    if (status >= 500 || status == 429 || status == 408 || retryable_code(code))
        return STORE_RETRY;
    return STORE_PERMANENT;
}

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

typedef struct response {
    char buf[RESPONSE_MAX];
    size_t len;
} response;

/* Keeps the start of the response body (where the error XML is) and
 * drops the rest, so a large body cannot grow memory. */
static size_t write_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    response *r = ud;
    size_t n = size * nmemb;
    size_t room = sizeof(r->buf) - r->len;
    size_t k = n < room ? n : room;

    memcpy(r->buf + r->len, ptr, k);
    r->len += k;
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
    response resp;
    char curl_err[CURL_ERROR_SIZE];
} transfer;

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

#define SETOPT(o, v)                                                           \
    do {                                                                       \
        what = #o;                                                             \
        cc = curl_easy_setopt(h, o, v);                                        \
        if (cc != CURLE_OK)                                                    \
            goto fail;                                                         \
    } while (0)
    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    /* Keys may hold "." and ".." segments: send the path as signed. */
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_UPLOAD, 1L);
    SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->rd.len);
    SETOPT(CURLOPT_READFUNCTION, read_body);
    SETOPT(CURLOPT_READDATA, &t->rd);
    SETOPT(CURLOPT_SEEKFUNCTION, seek_body);
    SETOPT(CURLOPT_SEEKDATA, &t->rd);
    SETOPT(CURLOPT_WRITEFUNCTION, write_body);
    SETOPT(CURLOPT_WRITEDATA, &t->resp);
    SETOPT(CURLOPT_ERRORBUFFER, t->curl_err);
    /* Worker threads: no signals for timeouts. */
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, request_ms);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
#undef SETOPT
    return 0;
fail:
    set_err(errbuf, errlen, "s3: curl_easy_setopt(%s): %s", what,
            curl_easy_strerror(cc));
    return -1;
}

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
                            const s3_request *req, const store_object *obj,
                            char *errbuf, size_t errlen)
{
    store_result res = STORE_PERMANENT;
    struct curl_slist *headers = header_list(req);
    transfer *t = calloc(1, sizeof(*t));
    CURLcode cc;
    long status = 0;

    if (!headers || !t) {
        set_err(errbuf, errlen, "s3: out of memory");
        res = STORE_RETRY;
        goto fail;
    }
    t->rd = (reader){obj->data, obj->len, 0};
    if (setup(h, opt, req, headers, t, errbuf, errlen) != 0)
        goto fail;
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        set_err(errbuf, errlen, "curl: %s: %s", curl_easy_strerror(cc),
                t->curl_err[0] ? t->curl_err : "no detail");
        res = transport_result(cc);
        goto fail;
    }
    cc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        set_err(errbuf, errlen, "curl: no response code: %s",
                curl_easy_strerror(cc));
        res = STORE_RETRY;
        goto fail;
    }
    res = s3_classify(status, t->resp.buf, t->resp.len, errbuf, errlen);
fail:
    curl_slist_free_all(headers);
    free(t);
    return res;
}

static CURL *pool_get(s3_store *s)
{
    CURL *h = NULL;

    pthread_mutex_lock(&s->lock);
    if (s->n_idle > 0)
        h = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->lock);
    return h ? h : curl_easy_init();
}

/* A handle returns reset (no pointers into a finished call's memory)
 * but keeps its open connection for the next put. */
static void pool_put(s3_store *s, CURL *h)
{
    if (!h)
        return;
    curl_easy_reset(h);
    pthread_mutex_lock(&s->lock);
    if (s->n_idle < POOL_MAX) {
        s->idle[s->n_idle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    curl_easy_cleanup(h);
}

static store_result s3_put(store *st, const store_object *obj, char *errbuf,
                           size_t errlen)
{
    s3_store *s = (s3_store *)st;
    store_result res = STORE_PERMANENT;
    time_t now = s->opt.clock ? s->opt.clock() : time(NULL);
    s3_request req;
    CURL *h = NULL;

    if (s3_build_put(&s->opt, obj, now, &req, errbuf, errlen) != 0)
        return STORE_PERMANENT;
    h = pool_get(s);
    if (!h) {
        set_err(errbuf, errlen, "s3: curl_easy_init failed");
        res = STORE_RETRY;
        goto fail;
    }
    res = perform(h, &s->opt, &req, obj, errbuf, errlen);
fail:
    pool_put(s, h);
    s3_request_free(&req);
    return res;
}

static void free_secret(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static void s3_destroy(store *st)
{
    s3_store *s = (s3_store *)st;

    if (!s)
        return;
    for (size_t i = 0; i < s->n_idle; i++)
        curl_easy_cleanup(s->idle[i]);
    if (s->lock_ready)
        pthread_mutex_destroy(&s->lock);
    free(s->endpoint);
    free(s->bucket);
    free(s->region);
    free(s->access_key);
    free_secret(s->secret_key);
    free_secret(s->session_token);
    free(s);
}

static int copy_str(char **dst, const char *src)
{
    *dst = strdup(src ? src : "");
    return *dst ? 0 : -1;
}

static int copy_options(s3_store *s, const s3_options *opt)
{
    if (copy_str(&s->endpoint, opt->endpoint) ||
        copy_str(&s->bucket, opt->bucket) ||
        copy_str(&s->region, opt->region) ||
        copy_str(&s->access_key, opt->access_key) ||
        copy_str(&s->secret_key, opt->secret_key) ||
        copy_str(&s->session_token, opt->session_token))
        return -1;
    s->opt = *opt;
    s->opt.endpoint = s->endpoint;
    s->opt.bucket = s->bucket;
    s->opt.region = s->region;
    s->opt.access_key = s->access_key;
    s->opt.secret_key = s->secret_key;
    s->opt.session_token = s->session_token;
    return 0;
}

store *s3_store_new(const s3_options *opt, char *errbuf, size_t errlen)
{
    s3_store *s = NULL;
    endpoint ep;

    if (check_options(opt, &ep, errbuf, errlen) != 0)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s || copy_options(s, opt) != 0) {
        set_err(errbuf, errlen, "s3: out of memory");
        goto fail;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        set_err(errbuf, errlen, "s3: cannot create a mutex");
        goto fail;
    }
    s->lock_ready = 1;
    s->base.put = s3_put;
    s->base.destroy = s3_destroy;
    s->base.name = "s3";
    return &s->base;
fail:
    s3_destroy(s ? &s->base : NULL);
    return NULL;
}

int s3_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void s3_global_cleanup(void)
{
    curl_global_cleanup();
}
