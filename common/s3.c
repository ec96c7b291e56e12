/* s3.c -- the S3 object store: PutObject, multipart uploads and listing over
 * libcurl, signed with SigV4, for AWS and any S3-compatible server,
 * path-style or virtual-hosted. */
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

#include "log.h"
#include "xml.h"

#define DEFAULT_CONNECT_MS 10000L
#define DEFAULT_REQUEST_MS 300000L
#define POOL_MAX 16 /* idle curl handles kept for their connections */
/* Error and result bodies are small; the rest is dropped. */
#define RESPONSE_MAX (64 * 1024)
/* A page of S3_LIST_PAGE keys or uploads, long and escaped at worst. */
#define LIST_RESPONSE_MAX (16 * 1024 * 1024)
#define HEADER_MAX 256 /* a captured response header: an ETag */
#define ETAG_MAX 1024
#define KMS_KEY_ID_MAX 2048
#define STORAGE_CLASS_MAX 64
#define OBJECT_HEADERS 5 /* see object_headers */
/* Headers a call may have before the signer adds its own and
 * Authorization. */
#define CALL_HEADERS (S3_MAX_HEADERS - SIGV4_MAX_ADDED - 1)
#define WHY_MAX 512

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
    errbuf_set(errbuf, errlen,
               "s3: endpoint \"%s\" is not http(s)://host[:port]",
               e ? e : "(null)");
    return -1;
}

/* Printable ASCII without blanks, at most max bytes: a header value that
 * needs no quoting. */
static int valid_token(const char *s, size_t max)
{
    if (strlen(s) > max)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= ' ' || c >= 127)
            return 0;
    }
    return 1;
}

/* AWS's classes are upper case with '_'; other servers name their own. */
static int valid_storage_class(const char *s)
{
    if (strlen(s) > STORAGE_CLASS_MAX)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int check_encryption(const s3_options *opt, char *errbuf, size_t errlen)
{
    int kms = !empty(opt->sse) && strcmp(opt->sse, "aws:kms") == 0;

    if (!empty(opt->sse) && !kms && strcmp(opt->sse, "AES256") != 0) {
        errbuf_set(errbuf, errlen, "s3: sse \"%s\" is not AES256 or aws:kms",
                   opt->sse);
        return -1;
    }
    if (!empty(opt->sse_kms_key_id) && !kms) {
        errbuf_set(errbuf, errlen, "s3: sse_kms_key_id needs sse aws:kms");
        return -1;
    }
    if (!empty(opt->sse_kms_key_id) &&
        !valid_token(opt->sse_kms_key_id, KMS_KEY_ID_MAX)) {
        errbuf_set(errbuf, errlen, "s3: invalid sse_kms_key_id");
        return -1;
    }
    if (!empty(opt->storage_class) &&
        !valid_storage_class(opt->storage_class)) {
        errbuf_set(errbuf, errlen, "s3: invalid storage class \"%s\"",
                   opt->storage_class);
        return -1;
    }
    return 0;
}

static int check_options(const s3_options *opt, endpoint *ep, char *errbuf,
                         size_t errlen)
{
    if (!opt) {
        errbuf_set(errbuf, errlen, "s3: no options");
        return -1;
    }
    if (!valid_bucket(opt->bucket)) {
        errbuf_set(errbuf, errlen, "s3: invalid bucket name \"%s\"",
                   opt->bucket ? opt->bucket : "(null)");
        return -1;
    }
    if (empty(opt->region) ||
        (!opt->creds && (empty(opt->access_key) || empty(opt->secret_key)))) {
        errbuf_set(errbuf, errlen,
                   "s3: need region, and access key and secret key or a "
                   "credentials provider");
        return -1;
    }
    if (opt->connect_timeout_ms < 0 || opt->request_timeout_ms < 0) {
        errbuf_set(errbuf, errlen, "s3: timeouts must not be negative");
        return -1;
    }
    if (check_encryption(opt, errbuf, errlen) != 0)
        return -1;
    return parse_endpoint(opt, ep, errbuf, errlen);
}

static int check_key(const char *key, char *errbuf, size_t errlen)
{
    if (empty(key) || key[0] == '/') {
        errbuf_set(errbuf, errlen, "s3: object key empty or starting with '/'");
        return -1;
    }
    if (strlen(key) > S3_MAX_KEY) {
        errbuf_set(errbuf, errlen, "s3: key longer than %d bytes", S3_MAX_KEY);
        return -1;
    }
    return 0;
}

static int check_object(const store_object *obj, char *errbuf, size_t errlen)
{
    if (!obj) {
        errbuf_set(errbuf, errlen, "s3: no object");
        return -1;
    }
    if (check_key(obj->key, errbuf, errlen) != 0)
        return -1;
    if (!obj->data && obj->len > 0) {
        errbuf_set(errbuf, errlen, "s3: object has a length but no data");
        return -1;
    }
    return 0;
}

static int check_upload_id(const char *id, char *errbuf, size_t errlen)
{
    if (empty(id) || strlen(id) > S3_MAX_UPLOAD_ID) {
        errbuf_set(errbuf, errlen, "s3: upload id empty or over %d bytes",
                   S3_MAX_UPLOAD_ID);
        return -1;
    }
    return 0;
}

/* ETags go into the XML body: no control characters, which XML 1.0
 * cannot carry. */
static int check_etags(const char *const *etags, int n, char *errbuf,
                       size_t errlen)
{
    if (!etags || n < 1 || n > S3_MAX_PARTS) {
        errbuf_set(errbuf, errlen, "s3: %d parts, not 1..%d", n, S3_MAX_PARTS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *e = etags[i];
        int ok = !empty(e) && strlen(e) <= ETAG_MAX;

        for (; ok && *e; e++)
            ok = (unsigned char)*e >= ' ' && *e != 127;
        if (!ok) {
            errbuf_set(errbuf, errlen, "s3: ETag of part %d empty or invalid",
                       i + 1);
            return -1;
        }
    }
    return 0;
}

/* Content-MD5 (base64) lets S3 catch a body corrupted in transit;
 * x-amz-content-sha256 (hex) signs the body itself. */
static int body_digests(const void *data, size_t len, int want_md5,
                        char md5_b64[25], char sha_hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (len == 0 || !data)
        data = "";
    if (want_md5) {
        if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
            return -1;
        if (EVP_EncodeBlock((unsigned char *)md5_b64, md, 16) != 24)
            return -1;
    }
    return sigv4_sha256_hex(data, len, sha_hex);
}

/* "/bucket/key" path-style, "/key" virtual-hosted, and for the bucket
 * itself (key NULL) "/bucket" or "/"; not yet encoded. */
static char *object_path(const s3_options *opt, const char *key)
{
    size_t n = strlen(opt->bucket) + (key ? strlen(key) : 0) + 3;
    char *p = malloc(n);

    if (!p)
        return NULL;
    if (opt->path_style && key)
        snprintf(p, n, "/%s/%s", opt->bucket, key);
    else if (opt->path_style)
        snprintf(p, n, "/%s", opt->bucket);
    else
        snprintf(p, n, "/%s", key ? key : "");
    return p;
}

/* The URL uses the very encoding the signature covers, so the path the
 * server decodes and re-encodes is the one that was signed. */
static char *request_url(const endpoint *ep, const char *path,
                         const char *query)
{
    char *enc = sigv4_uri_encode(path, strlen(path), 1);
    size_t n;
    char *url;

    if (!enc)
        return NULL;
    n = strlen(ep->scheme) + strlen(ep->host) + strlen(enc) +
        (query ? strlen(query) : 0) + 5;
    url = malloc(n);
    if (url)
        snprintf(url, n, "%s://%s%s%s%s", ep->scheme, ep->host, enc,
                 empty(query) ? "" : "?", query ? query : "");
    free(enc);
    return url;
}

/* One query parameter; a NULL value is a bare name ("uploads"). */
typedef struct qparam {
    const char *name;
    const char *value;
} qparam;

/* "name&name=value...", each value percent-encoded once, in the order
 * given (the signer sorts its canonical copy). Heap string or NULL. */
static char *make_query(const qparam *p, size_t n)
{
    size_t cap = 1;
    size_t o = 0;
    char *q;

    for (size_t i = 0; i < n; i++)
        cap +=
            strlen(p[i].name) + 2 + (p[i].value ? 3 * strlen(p[i].value) : 0);
    q = malloc(cap);
    if (!q)
        return NULL;
    q[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *v = p[i].value;
        char *enc = v ? sigv4_uri_encode(v, strlen(v), 0) : NULL;

        if (v && !enc) {
            free(q);
            return NULL;
        }
        o += (size_t)snprintf(q + o, cap - o, "%s%s%s%s", i ? "&" : "",
                              p[i].name, v ? "=" : "", enc ? enc : "");
        free(enc);
    }
    return q;
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

/* One S3 operation before signing; each builder fills one in. */
typedef struct call {
    const char *method;
    const char *key;   /* NULL: the bucket itself */
    const char *query; /* raw, values encoded; NULL: none */
    const void *body;  /* PUT and POST only */
    size_t len;
    int md5;                   /* also send Content-MD5 of the body */
    const sigv4_header *extra; /* more headers to send and sign */
    size_t n_extra;
} call;

static int has_body(const char *method)
{
    return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0;
}

/* S3 wants the payload hash signed and sent, and the token signed. */
static int sign(const s3_options *opt, const call *c, const char *path,
                const sigv4_header *h, size_t n, const char *sha, time_t now,
                sigv4_result *out, int *no_credentials, char *errbuf,
                size_t errlen)
{
    sigv4_request req = {c->method, path, c->query, h, n, sha, 1, 0};
    sigv4_creds sc = {opt->access_key, opt->secret_key, opt->session_token,
                      opt->region, "s3"};
    creds *snap = NULL;
    int rc;

    /* With a provider, sign with a snapshot of its credentials: a refresh
     * meanwhile swaps in new ones without touching these. */
    if (opt->creds) {
        snap = creds_acquire(opt->creds);
        if (!snap) {
            creds_provider_why(opt->creds, errbuf, errlen);
            *no_credentials = 1;
            return -1;
        }
        sc.access_key = snap->access_key;
        sc.secret_key = snap->secret_key;
        sc.session_token = snap->session_token;
    }
    rc = sigv4_sign_header(&req, &sc, now, out, errbuf, errlen);
    creds_release(snap);
    return rc;
}

/* The headers every call has: Host, the call's own, and the body's
 * length and digest where there is a body. */
static size_t call_headers(const call *c, const endpoint *ep, char *len,
                           size_t lensize, const char *md5, sigv4_header *h)
{
    size_t n = 0;

    h[n++] = (sigv4_header){"Host", ep->host};
    for (size_t i = 0; i < c->n_extra; i++)
        h[n++] = c->extra[i];
    if (has_body(c->method)) {
        snprintf(len, lensize, "%zu", c->len);
        h[n++] = (sigv4_header){"Content-Length", len};
    }
    if (c->md5)
        h[n++] = (sigv4_header){"Content-MD5", md5};
    return n;
}

/* Signs c for time now into out; the one place every builder ends. */
static int build(const s3_options *opt, const call *c, time_t now,
                 s3_request *out, char *errbuf, size_t errlen)
{
    int rc = -1;
    endpoint ep;
    char md5[25] = "";
    char sha[65];
    char len[24];
    char *path = NULL;
    sigv4_header h[CALL_HEADERS];
    size_t n;
    int no_credentials = 0;

    memset(out, 0, sizeof(*out));
    if (check_options(opt, &ep, errbuf, errlen) != 0)
        return -1;
    if (c->n_extra + 3 > CALL_HEADERS) {
        errbuf_set(errbuf, errlen, "s3: too many headers");
        return -1;
    }
    if (body_digests(c->body, c->len, c->md5, md5, sha) != 0) {
        errbuf_set(errbuf, errlen, "s3: libcrypto failed to hash the body");
        return -1;
    }
    n = call_headers(c, &ep, len, sizeof(len), md5, h);
    path = object_path(opt, c->key);
    if (!path) {
        errbuf_set(errbuf, errlen, "s3: out of memory");
        goto fail;
    }
    if (sign(opt, c, path, h, n, sha, now, &out->sig, &no_credentials, errbuf,
             errlen) != 0)
        goto fail;
    out->method = c->method;
    out->url = request_url(&ep, path, c->query);
    if (!out->url || add_lines(out, h, n) != 0) {
        errbuf_set(errbuf, errlen, "s3: out of memory");
        goto fail;
    }
    rc = 0;
fail:
    if (rc != 0) {
        s3_request_free(out);
        out->no_credentials = no_credentials;
    }
    free(path);
    return rc;
}

/* The headers that describe the finished object, sent where it is
 * created (PutObject, CreateMultipartUpload) and nowhere else: S3 refuses
 * the encryption headers on UploadPart. Returns how many, up to
 * OBJECT_HEADERS. */
static size_t object_headers(const s3_options *opt, const store_object *obj,
                             sigv4_header *h)
{
    size_t n = 0;

    h[n++] = (sigv4_header){"Content-Type", empty(obj->content_type)
                                                ? "application/octet-stream"
                                                : obj->content_type};
    if (!empty(obj->content_encoding))
        h[n++] = (sigv4_header){"Content-Encoding", obj->content_encoding};
    if (!empty(opt->sse))
        h[n++] = (sigv4_header){"x-amz-server-side-encryption", opt->sse};
    if (!empty(opt->sse_kms_key_id))
        h[n++] = (sigv4_header){"x-amz-server-side-encryption-aws-kms-key-id",
                                opt->sse_kms_key_id};
    if (!empty(opt->storage_class))
        h[n++] = (sigv4_header){"x-amz-storage-class", opt->storage_class};
    return n;
}

int s3_build_put(const s3_options *opt, const store_object *obj, time_t now,
                 s3_request *out, char *errbuf, size_t errlen)
{
    sigv4_header h[OBJECT_HEADERS];
    call c = {"PUT", NULL, NULL, NULL, 0, 1, h, 0};

    memset(out, 0, sizeof(*out));
    if (!opt) {
        errbuf_set(errbuf, errlen, "s3: no options");
        return -1;
    }
    if (check_object(obj, errbuf, errlen) != 0)
        return -1;
    c.key = obj->key;
    c.body = obj->data;
    c.len = obj->len;
    c.n_extra = object_headers(opt, obj, h);
    return build(opt, &c, now, out, errbuf, errlen);
}

int s3_build_mpu_begin(const s3_options *opt, const store_object *obj,
                       time_t now, s3_request *out, char *errbuf, size_t errlen)
{
    sigv4_header h[OBJECT_HEADERS];
    call c = {"POST", NULL, "uploads", NULL, 0, 0, h, 0};

    memset(out, 0, sizeof(*out));
    if (!opt || !obj) {
        errbuf_set(errbuf, errlen, "s3: no options or no object");
        return -1;
    }
    if (check_key(obj->key, errbuf, errlen) != 0)
        return -1;
    c.key = obj->key;
    c.n_extra = object_headers(opt, obj, h);
    return build(opt, &c, now, out, errbuf, errlen);
}

/* Builds c with the query made of p. */
static int build_with_query(const s3_options *opt, call *c, const qparam *p,
                            size_t n, time_t now, s3_request *out, char *errbuf,
                            size_t errlen)
{
    char *query = make_query(p, n);
    int rc;

    if (!query) {
        errbuf_set(errbuf, errlen, "s3: out of memory");
        return -1;
    }
    c->query = query;
    rc = build(opt, c, now, out, errbuf, errlen);
    c->query = NULL;
    free(query);
    return rc;
}

int s3_build_mpu_part(const s3_options *opt, const char *key,
                      const char *upload_id, int part_no, const void *data,
                      size_t len, time_t now, s3_request *out, char *errbuf,
                      size_t errlen)
{
    char num[16];
    qparam q[] = {{"partNumber", num}, {"uploadId", upload_id}};
    call c = {"PUT", key, NULL, data, len, 1, NULL, 0};

    memset(out, 0, sizeof(*out));
    if (check_key(key, errbuf, errlen) != 0 ||
        check_upload_id(upload_id, errbuf, errlen) != 0)
        return -1;
    if (part_no < 1 || part_no > S3_MAX_PARTS) {
        errbuf_set(errbuf, errlen, "s3: part number %d not in 1..%d", part_no,
                   S3_MAX_PARTS);
        return -1;
    }
    if (!data && len > 0) {
        errbuf_set(errbuf, errlen, "s3: part has a length but no data");
        return -1;
    }
    snprintf(num, sizeof(num), "%d", part_no);
    return build_with_query(opt, &c, q, 2, now, out, errbuf, errlen);
}

/* Text content escaped for XML; with out NULL it only measures. */
static size_t xml_escape(const char *s, char *out)
{
    size_t o = 0;

    for (; *s; s++) {
        const char *rep = *s == '&'   ? "&amp;"
                          : *s == '<' ? "&lt;"
                          : *s == '>' ? "&gt;"
                                      : NULL;
        size_t k = rep ? strlen(rep) : 1;

        if (out)
            memcpy(out + o, rep ? rep : s, k);
        o += k;
    }
    return o;
}

#define COMPLETE_OPEN                                                          \
    "<CompleteMultipartUpload "                                                \
    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
#define COMPLETE_CLOSE "</CompleteMultipartUpload>"
#define PART_OPEN "<Part><PartNumber>%d</PartNumber><ETag>"
#define PART_CLOSE "</ETag></Part>"

/* The body of CompleteMultipartUpload: parts 1..n in order. */
static char *complete_body(const char *const *etags, int n, size_t *len)
{
    size_t cap = sizeof(COMPLETE_OPEN COMPLETE_CLOSE);
    size_t o = 0;
    char *x;

    for (int i = 0; i < n; i++)
        cap += sizeof(PART_OPEN PART_CLOSE) + 8 + xml_escape(etags[i], NULL);
    x = malloc(cap);
    if (!x)
        return NULL;
    o += (size_t)snprintf(x + o, cap - o, "%s", COMPLETE_OPEN);
    for (int i = 0; i < n; i++) {
        o += (size_t)snprintf(x + o, cap - o, PART_OPEN, i + 1);
        o += xml_escape(etags[i], x + o);
        o += (size_t)snprintf(x + o, cap - o, "%s", PART_CLOSE);
    }
    o += (size_t)snprintf(x + o, cap - o, "%s", COMPLETE_CLOSE);
    *len = o;
    return x;
}

int s3_build_mpu_complete(const s3_options *opt, const char *key,
                          const char *upload_id, const char *const *etags,
                          int n_parts, time_t now, s3_request *out,
                          char *errbuf, size_t errlen)
{
    sigv4_header h[] = {{"Content-Type", "application/xml"}};
    qparam q[] = {{"uploadId", upload_id}};
    call c = {"POST", key, NULL, NULL, 0, 0, h, 1};
    char *xml;
    int rc;

    memset(out, 0, sizeof(*out));
    if (check_key(key, errbuf, errlen) != 0 ||
        check_upload_id(upload_id, errbuf, errlen) != 0 ||
        check_etags(etags, n_parts, errbuf, errlen) != 0)
        return -1;
    xml = complete_body(etags, n_parts, &c.len);
    if (!xml) {
        errbuf_set(errbuf, errlen, "s3: out of memory");
        return -1;
    }
    c.body = xml;
    rc = build_with_query(opt, &c, q, 1, now, out, errbuf, errlen);
    if (rc == 0) {
        out->body = xml; /* out owns it now */
        out->body_len = c.len;
        xml = NULL;
    }
    free(xml);
    return rc;
}

int s3_build_mpu_abort(const s3_options *opt, const char *key,
                       const char *upload_id, time_t now, s3_request *out,
                       char *errbuf, size_t errlen)
{
    qparam q[] = {{"uploadId", upload_id}};
    call c = {"DELETE", key, NULL, NULL, 0, 0, NULL, 0};

    memset(out, 0, sizeof(*out));
    if (check_key(key, errbuf, errlen) != 0 ||
        check_upload_id(upload_id, errbuf, errlen) != 0)
        return -1;
    return build_with_query(opt, &c, q, 1, now, out, errbuf, errlen);
}

#define STR_(x) #x
#define STR(x) STR_(x)

int s3_build_mpu_list(const s3_options *opt, const char *prefix,
                      const char *key_marker, const char *upload_id_marker,
                      time_t now, s3_request *out, char *errbuf, size_t errlen)
{
    qparam q[5];
    size_t n = 0;
    call c = {"GET", NULL, NULL, NULL, 0, 0, NULL, 0};

    memset(out, 0, sizeof(*out));
    if ((prefix && strlen(prefix) > S3_MAX_KEY) ||
        (key_marker && strlen(key_marker) > S3_MAX_KEY) ||
        (upload_id_marker && strlen(upload_id_marker) > S3_MAX_UPLOAD_ID)) {
        errbuf_set(errbuf, errlen, "s3: prefix or marker too long");
        return -1;
    }
    q[n++] = (qparam){"uploads", NULL};
    if (!empty(prefix))
        q[n++] = (qparam){"prefix", prefix};
    if (!empty(key_marker))
        q[n++] = (qparam){"key-marker", key_marker};
    if (!empty(upload_id_marker))
        q[n++] = (qparam){"upload-id-marker", upload_id_marker};
    q[n++] = (qparam){"max-uploads", STR(S3_LIST_PAGE)};
    return build_with_query(opt, &c, q, n, now, out, errbuf, errlen);
}

int s3_build_list(const s3_options *opt, const char *prefix,
                  const char *start_after, const char *continuation_token,
                  time_t now, s3_request *out, char *errbuf, size_t errlen)
{
    qparam q[5];
    size_t n = 0;
    call c = {"GET", NULL, NULL, NULL, 0, 0, NULL, 0};

    memset(out, 0, sizeof(*out));
    if ((prefix && strlen(prefix) > S3_MAX_KEY) ||
        (start_after && strlen(start_after) > S3_MAX_KEY) ||
        (continuation_token && strlen(continuation_token) > S3_MAX_TOKEN)) {
        errbuf_set(errbuf, errlen, "s3: prefix, start-after or token too long");
        return -1;
    }
    q[n++] = (qparam){"list-type", "2"};
    if (!empty(prefix))
        q[n++] = (qparam){"prefix", prefix};
    if (!empty(start_after))
        q[n++] = (qparam){"start-after", start_after};
    if (!empty(continuation_token))
        q[n++] = (qparam){"continuation-token", continuation_token};
    q[n++] = (qparam){"max-keys", STR(S3_LIST_PAGE)};
    return build_with_query(opt, &c, q, n, now, out, errbuf, errlen);
}

int s3_build_get(const s3_options *opt, const char *key, time_t now,
                 s3_request *out, char *errbuf, size_t errlen)
{
    call c = {"GET", key, NULL, NULL, 0, 0, NULL, 0};

    memset(out, 0, sizeof(*out));
    if (check_key(key, errbuf, errlen) != 0)
        return -1;
    return build(opt, &c, now, out, errbuf, errlen);
}

int s3_build_delete(const s3_options *opt, const char *key, time_t now,
                    s3_request *out, char *errbuf, size_t errlen)
{
    call c = {"DELETE", key, NULL, NULL, 0, 0, NULL, 0};

    memset(out, 0, sizeof(*out));
    if (check_key(key, errbuf, errlen) != 0)
        return -1;
    return build(opt, &c, now, out, errbuf, errlen);
}

void s3_request_free(s3_request *r)
{
    if (!r)
        return;
    free(r->url);
    for (size_t i = 0; i < r->n_headers && i < S3_MAX_HEADERS; i++)
        free(r->headers[i]);
    free(r->body);
    sigv4_result_free(&r->sig);
    memset(r, 0, sizeof(*r));
}

/* Reading S3's answers: flat, machine-written XML (see xml.h). */

int s3_parse_upload_id(const char *body, size_t len, char *id, size_t idlen)
{
    int rc;

    if (!id || idlen == 0)
        return -2;
    rc = xml_value(body, len, "UploadId", id, idlen);
    if (rc == 1 || (rc == 0 && id[0] == '\0'))
        return -1;
    return rc;
}

typedef void (*upload_fn)(const char *key, const char *upload_id, void *arg);

/* Calls fn (when given) for every <Upload> of a page. Returns the count,
 * or -1 when one lacks a Key or an UploadId. */
static long walk_uploads(const char *body, size_t len, upload_fn fn, void *arg)
{
    const char *p = body;
    const char *end = body + len;
    char key[S3_MAX_KEY + 1];
    char id[S3_MAX_UPLOAD_ID + 1];
    long n = 0;

    for (;;) {
        const char *u = memmem(p, (size_t)(end - p), "<Upload>", 8);
        const char *e = u ? memmem(u, (size_t)(end - u), "</Upload>", 9) : NULL;
        size_t ulen = e ? (size_t)(e - u) : 0;

        if (!u)
            return n;
        if (!e || xml_value(u, ulen, "Key", key, sizeof(key)) != 0 ||
            xml_value(u, ulen, "UploadId", id, sizeof(id)) != 0 || !*key ||
            !*id)
            return -1;
        if (fn)
            fn(key, id, arg);
        n++;
        p = e + 9;
    }
}

long s3_parse_uploads(const char *body, size_t len, upload_fn fn, void *arg,
                      s3_upload_page *page)
{
    char flag[8];
    long n;

    memset(page, 0, sizeof(*page));
    /* The closing tag proves the page arrived whole. */
    if (!body || !memmem(body, len, "<ListMultipartUploadsResult", 27) ||
        !memmem(body, len, "</ListMultipartUploadsResult>", 29))
        return -1;
    if (xml_value(body, len, "IsTruncated", flag, sizeof(flag)) < 0 ||
        xml_value(body, len, "NextKeyMarker", page->next_key_marker,
                  sizeof(page->next_key_marker)) < 0 ||
        xml_value(body, len, "NextUploadIdMarker", page->next_upload_id_marker,
                  sizeof(page->next_upload_id_marker)) < 0)
        goto bad;
    page->truncated = strcmp(flag, "true") == 0;
    n = walk_uploads(body, len, NULL, NULL);
    if (n < 0)
        goto bad;
    if (fn && n > 0)
        walk_uploads(body, len, fn, arg);
    return n;
bad:
    memset(page, 0, sizeof(*page));
    return -1;
}

typedef int (*object_fn)(const char *key, size_t size, void *arg);

/* A <Size>: decimal digits only, no overflow. */
static int parse_size(const char *s, size_t *out)
{
    size_t v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        int d = *s - '0';

        if (d < 0 || d > 9 || v > (SIZE_MAX - (size_t)d) / 10)
            return -1;
        v = v * 10 + (size_t)d;
    }
    *out = v;
    return 0;
}

/* Calls fn (when given) for every <Contents> of a page until it returns
 * nonzero, which sets *stopped. Returns the objects seen, or -1 when one
 * lacks a Key or a Size. */
static long walk_objects(const char *body, size_t len, object_fn fn, void *arg,
                         int *stopped)
{
    const char *p = body;
    const char *end = body + len;
    char key[S3_MAX_KEY + 1];
    char num[24];
    size_t size;
    long n = 0;

    for (;;) {
        const char *c = memmem(p, (size_t)(end - p), "<Contents>", 10);
        const char *e =
            c ? memmem(c, (size_t)(end - c), "</Contents>", 11) : NULL;
        size_t clen = e ? (size_t)(e - c) : 0;

        if (!c)
            return n;
        if (!e || xml_value(c, clen, "Key", key, sizeof(key)) != 0 || !*key ||
            xml_value(c, clen, "Size", num, sizeof(num)) != 0 ||
            parse_size(num, &size) != 0)
            return -1;
        n++;
        if (fn && fn(key, size, arg) != 0) {
            *stopped = 1;
            return n;
        }
        p = e + 11;
    }
}

long s3_parse_list(const char *body, size_t len, object_fn fn, void *arg,
                   s3_object_page *page)
{
    char flag[8];
    long n;

    memset(page, 0, sizeof(*page));
    /* The closing tag proves the page arrived whole. */
    if (!body || !memmem(body, len, "<ListBucketResult", 17) ||
        !memmem(body, len, "</ListBucketResult>", 19))
        return -1;
    if (xml_value(body, len, "IsTruncated", flag, sizeof(flag)) < 0 ||
        xml_value(body, len, "NextContinuationToken", page->next_token,
                  sizeof(page->next_token)) < 0)
        goto bad;
    page->truncated = strcmp(flag, "true") == 0;
    n = walk_objects(body, len, NULL, NULL, &page->stopped);
    if (n < 0)
        goto bad;
    if (fn && n > 0)
        walk_objects(body, len, fn, arg, &page->stopped);
    return n;
bad:
    memset(page, 0, sizeof(*page));
    return -1;
}

/* The server asks every client to slow down (S3 answers 503 SlowDown;
 * other servers 429, or these codes with other statuses). */
static int throttle_code(const char *code)
{
    static const char *const codes[] = {
        "SlowDown",           "TooManyRequests", "RequestLimitExceeded",
        "ServiceUnavailable", "Throttling",      "ThrottlingException",
    };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(code, codes[i]) == 0)
            return 1;
    }
    return 0;
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

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(code, codes[i]) == 0)
            return 1;
    }
    return 0;
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

/* What comes back: the status, the start of the body, one header. */
typedef struct reply {
    long status;
    char *body; /* NUL-terminated once a byte arrived; NULL before */
    size_t len;
    size_t cap;
    size_t max;       /* bytes kept; the rest is dropped */
    int cut;          /* the body was longer than max */
    int squeeze;      /* drop blanks after '>': S3's keep-alive spaces */
    const char *want; /* the header to capture ("ETag"), or NULL */
    char header[HEADER_MAX];
    int header_state; /* 0 absent, 1 captured, -1 too long */
} reply;

static void reply_init(reply *r, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
}

static void reply_free(reply *r)
{
    free(r->body);
    r->body = NULL;
}

/* Keeps up to max bytes, so a large body cannot grow memory. Returns -1
 * when out of memory. */
static int reply_add(reply *r, const char *p, size_t n)
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
static int reply_add_squeezed(reply *r, const char *p, size_t n)
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
    reply *r = ud;
    size_t n = size * nmemb;
    int rc = r->squeeze ? reply_add_squeezed(r, ptr, n) : reply_add(r, ptr, n);

    return rc == 0 ? n : 0; /* 0 makes curl fail the transfer */
}

/* Captures r->want, the value trimmed; each new status line (after a
 * "100 Continue") starts over. */
static size_t read_header(char *buf, size_t size, size_t nitems, void *ud)
{
    reply *r = ud;
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
    reply *rep;
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

    if (has_body(req->method)) {
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
                            reply *rep, char *errbuf, size_t errlen)
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
 * but keeps its open connection for the next request. */
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

/* A request that could not be built cannot succeed as configured, unless
 * only usable credentials were missing: those come back by themselves. */
static store_result unbuilt(const s3_request *req)
{
    return req->no_credentials ? STORE_RETRY : STORE_PERMANENT;
}

/* Sends one built request on a pooled handle: the one way every
 * operation reaches the network. The answer is classified; on STORE_OK
 * rep holds the body and the wanted header. */
static store_result exec(s3_store *s, const s3_request *req, const void *body,
                         size_t len, reply *rep, char *why, size_t whylen)
{
    store_result res;
    CURL *h = pool_get(s);

    if (!h) {
        errbuf_set(why, whylen, "s3: curl_easy_init failed");
        return STORE_RETRY;
    }
    res = perform(h, &s->opt, req, body, len, rep, why, whylen);
    pool_put(s, h);
    return res;
}

static time_t store_now(const s3_store *s)
{
    return s->opt.clock ? s->opt.clock() : time(NULL);
}

/* The store's operations: build, exec, read the answer. Each one writes
 * "<Operation>: <why>" into errbuf when it fails. */

static store_result s3_put(store *st, const store_object *obj, char *errbuf,
                           size_t errlen)
{
    s3_store *s = (s3_store *)st;
    store_result res = STORE_PERMANENT;
    char why[WHY_MAX] = "";
    s3_request req;
    reply rep;

    reply_init(&rep, RESPONSE_MAX);
    if (s3_build_put(&s->opt, obj, store_now(s), &req, why, sizeof(why)) == 0)
        res = exec(s, &req, obj->data, obj->len, &rep, why, sizeof(why));
    else
        res = unbuilt(&req);
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "PutObject: %s", why);
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

/* GetObject, whole. 404 is an answer (no such object), not a failure. */
static store_result s3_get(store *st, const char *key, size_t max, char **data,
                           size_t *len, char *errbuf, size_t errlen)
{
    s3_store *s = (s3_store *)st;
    store_result res = STORE_PERMANENT;
    char why[WHY_MAX] = "";
    s3_request req;
    reply rep;

    *data = NULL;
    *len = 0;
    reply_init(&rep, max + 1); /* one more: a cut shows it is too long */
    if (s3_build_get(&s->opt, key, store_now(s), &req, why, sizeof(why)) == 0)
        res = exec(s, &req, NULL, 0, &rep, why, sizeof(why));
    else
        res = unbuilt(&req);
    if (res != STORE_OK && rep.status == 404) {
        res = STORE_OK;
    } else if (res == STORE_OK && (rep.cut || rep.len > max)) {
        errbuf_set(why, sizeof(why), "s3: %s is larger than %zu bytes", key,
                   max);
        res = STORE_PERMANENT;
    } else if (res == STORE_OK) {
        *data = rep.body ? rep.body : strdup("");
        *len = rep.len;
        rep.body = NULL;
        if (!*data) {
            errbuf_set(why, sizeof(why), "s3: out of memory");
            res = STORE_RETRY;
        }
    }
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "GetObject: %s", why);
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

/* DeleteObject; S3 answers 204 whether or not the key existed. */
static store_result s3_del(store *st, const char *key, char *errbuf,
                           size_t errlen)
{
    s3_store *s = (s3_store *)st;
    store_result res = STORE_PERMANENT;
    char why[WHY_MAX] = "";
    s3_request req;
    reply rep;

    reply_init(&rep, RESPONSE_MAX);
    if (s3_build_delete(&s->opt, key, store_now(s), &req, why, sizeof(why)) ==
        0)
        res = exec(s, &req, NULL, 0, &rep, why, sizeof(why));
    else
        res = unbuilt(&req);
    if (res != STORE_OK && rep.status == 404)
        res = STORE_OK;
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "DeleteObject: %s", why);
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

/* 404 NoSuchUpload is success: the upload is gone, which is the point
 * (aborted before, or completed by a request whose answer was lost). */
static store_result abort_upload(s3_store *s, const char *key,
                                 const char *upload_id, char *why,
                                 size_t whylen)
{
    store_result res = STORE_PERMANENT;
    char code[64];
    s3_request req;
    reply rep;

    reply_init(&rep, RESPONSE_MAX);
    if (s3_build_mpu_abort(&s->opt, key, upload_id, store_now(s), &req, why,
                           whylen) == 0)
        res = exec(s, &req, NULL, 0, &rep, why, whylen);
    else
        res = unbuilt(&req);
    if (res == STORE_PERMANENT && rep.status == 404) {
        xml_field(rep.body, rep.len, "Code", code, sizeof(code));
        if (strcmp(code, "NoSuchUpload") == 0)
            res = STORE_OK;
    }
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

/* The upload id of a begin's answer into upload_id. An id the caller has
 * no room for is aborted at once, so that it is not left behind. */
static store_result take_upload_id(s3_store *s, const char *key,
                                   const reply *rep, char *upload_id,
                                   size_t idlen, char *why, size_t whylen)
{
    char id[S3_MAX_UPLOAD_ID + 1];
    char ignored[WHY_MAX];
    int rc = s3_parse_upload_id(rep->body, rep->len, id, sizeof(id));

    if (rc != 0) {
        errbuf_set(why, whylen, "s3: %s UploadId in the answer",
                   rc == -2 ? "too long an" : "no valid");
        return STORE_PERMANENT;
    }
    if (!upload_id || strlen(id) >= idlen) {
        abort_upload(s, key, id, ignored, sizeof(ignored));
        errbuf_set(why, whylen,
                   "s3: upload id of %zu bytes does not fit in %zu", strlen(id),
                   idlen);
        return STORE_PERMANENT;
    }
    memcpy(upload_id, id, strlen(id) + 1);
    return STORE_OK;
}

static store_result s3_mpu_begin(store *st, const store_object *obj,
                                 char *upload_id, size_t idlen, char *errbuf,
                                 size_t errlen)
{
    s3_store *s = (s3_store *)st;
    store_result res = STORE_PERMANENT;
    char why[WHY_MAX] = "";
    s3_request req;
    reply rep;

    reply_init(&rep, RESPONSE_MAX);
    if (s3_build_mpu_begin(&s->opt, obj, store_now(s), &req, why,
                           sizeof(why)) == 0)
        res = exec(s, &req, NULL, 0, &rep, why, sizeof(why));
    else
        res = unbuilt(&req);
    if (res == STORE_OK)
        res = take_upload_id(s, obj->key, &rep, upload_id, idlen, why,
                             sizeof(why));
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "CreateMultipartUpload: %s", why);
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

static store_result s3_mpu_part(store *st, const char *key,
                                const char *upload_id, int part_no,
                                const void *data, size_t len, char *etag,
                                size_t etaglen, char *errbuf, size_t errlen)
{
    s3_store *s = (s3_store *)st;
    store_result res = STORE_PERMANENT;
    char why[WHY_MAX] = "";
    s3_request req;
    reply rep;

    reply_init(&rep, RESPONSE_MAX);
    rep.want = "ETag";
    if (s3_build_mpu_part(&s->opt, key, upload_id, part_no, data, len,
                          store_now(s), &req, why, sizeof(why)) == 0)
        res = exec(s, &req, data, len, &rep, why, sizeof(why));
    else
        res = unbuilt(&req);
    if (res == STORE_OK &&
        (rep.header_state != 1 || !etag || strlen(rep.header) >= etaglen)) {
        errbuf_set(why, sizeof(why), "s3: %s ETag in the answer",
                   rep.header_state == 1 ? "no room for the" : "no valid");
        res = STORE_PERMANENT;
    }
    if (res == STORE_OK)
        memcpy(etag, rep.header, strlen(rep.header) + 1);
    else
        errbuf_set(errbuf, errlen, "UploadPart %d: %s", part_no, why);
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

static store_result s3_mpu_complete(store *st, const char *key,
                                    const char *upload_id,
                                    const char *const *etags, int n_parts,
                                    char *errbuf, size_t errlen)
{
    s3_store *s = (s3_store *)st;
    store_result res = STORE_PERMANENT;
    char why[WHY_MAX] = "";
    s3_request req;
    reply rep;

    reply_init(&rep, RESPONSE_MAX);
    rep.squeeze = 1;
    if (s3_build_mpu_complete(&s->opt, key, upload_id, etags, n_parts,
                              store_now(s), &req, why, sizeof(why)) == 0)
        res = exec(s, &req, req.body, req.body_len, &rep, why, sizeof(why));
    else
        res = unbuilt(&req);
    if (res == STORE_OK)
        res = s3_check_complete(rep.body, rep.len, why, sizeof(why));
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "CompleteMultipartUpload: %s", why);
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

static store_result s3_mpu_abort(store *st, const char *key,
                                 const char *upload_id, char *errbuf,
                                 size_t errlen)
{
    char why[WHY_MAX] = "";
    store_result res =
        abort_upload((s3_store *)st, key, upload_id, why, sizeof(why));

    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "AbortMultipartUpload: %s", why);
    return res;
}

/* One page of ListMultipartUploads from the markers in page (both ""
 * for the first); fn is called for its uploads, page then holds where the
 * next one starts. */
static store_result list_page(s3_store *s, const char *prefix,
                              s3_upload_page *page, upload_fn fn, void *arg,
                              char *why, size_t whylen)
{
    store_result res = STORE_PERMANENT;
    s3_request req;
    reply rep;

    reply_init(&rep, LIST_RESPONSE_MAX);
    if (s3_build_mpu_list(&s->opt, prefix, page->next_key_marker,
                          page->next_upload_id_marker, store_now(s), &req, why,
                          whylen) == 0)
        res = exec(s, &req, NULL, 0, &rep, why, whylen);
    else
        res = unbuilt(&req);
    if (res == STORE_OK &&
        (rep.cut || s3_parse_uploads(rep.body, rep.len, fn, arg, page) < 0)) {
        errbuf_set(why, whylen, "s3: %s",
                   rep.cut ? "page too large" : "not a page of uploads");
        res = STORE_PERMANENT;
    }
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

static store_result s3_mpu_list(store *st, const char *prefix, upload_fn fn,
                                void *arg, char *errbuf, size_t errlen)
{
    store_result res;
    char why[WHY_MAX] = "";
    s3_upload_page *page = calloc(2, sizeof(*page)); /* this one, the last */

    if (!page) {
        errbuf_set(errbuf, errlen, "ListMultipartUploads: out of memory");
        return STORE_RETRY;
    }
    for (;;) {
        res = list_page((s3_store *)st, prefix, &page[0], fn, arg, why,
                        sizeof(why));
        if (res != STORE_OK || !page[0].truncated)
            break;
        /* A page that does not move on would be asked for forever. */
        if (!page[0].next_key_marker[0] ||
            (strcmp(page[0].next_key_marker, page[1].next_key_marker) == 0 &&
             strcmp(page[0].next_upload_id_marker,
                    page[1].next_upload_id_marker) == 0)) {
            errbuf_set(why, sizeof(why), "s3: truncated page, no new marker");
            res = STORE_PERMANENT;
            break;
        }
        page[1] = page[0];
    }
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "ListMultipartUploads: %s", why);
    free(page);
    return res;
}

/* One page of ListObjectsV2; page then holds where the next one starts
 * and whether fn stopped. */
static store_result objects_page(s3_store *s, const char *prefix,
                                 const char *start_after, const char *token,
                                 s3_object_page *page, object_fn fn, void *arg,
                                 char *why, size_t whylen)
{
    store_result res = STORE_PERMANENT;
    s3_request req;
    reply rep;

    reply_init(&rep, LIST_RESPONSE_MAX);
    if (s3_build_list(&s->opt, prefix, start_after, token, store_now(s), &req,
                      why, whylen) == 0)
        res = exec(s, &req, NULL, 0, &rep, why, whylen);
    else
        res = unbuilt(&req);
    if (res == STORE_OK &&
        (rep.cut || s3_parse_list(rep.body, rep.len, fn, arg, page) < 0)) {
        errbuf_set(why, whylen, "s3: %s",
                   rep.cut ? "page too large" : "not a page of objects");
        res = STORE_PERMANENT;
    }
    s3_request_free(&req);
    reply_free(&rep);
    return res;
}

/* versitygw v1.8.0 (posix backend) pages correctly past S3_LIST_PAGE
 * keys; its tokens are simply the last key of the page, and a listing of
 * exactly S3_LIST_PAGE keys ends with one more, empty page. It does let a
 * start-after override a continuation token, hence start-after on the
 * first request only. */
static store_result s3_list(store *st, const char *prefix,
                            const char *start_after, object_fn fn, void *arg,
                            char *errbuf, size_t errlen)
{
    store_result res;
    char why[WHY_MAX] = "";
    s3_object_page *page = calloc(2, sizeof(*page)); /* this one, the last */

    if (!page) {
        errbuf_set(errbuf, errlen, "ListObjectsV2: out of memory");
        return STORE_RETRY;
    }
    for (int first = 1;; first = 0) {
        res = objects_page((s3_store *)st, prefix, first ? start_after : NULL,
                           page[1].next_token, &page[0], fn, arg, why,
                           sizeof(why));
        if (res != STORE_OK || page[0].stopped || !page[0].truncated)
            break;
        /* A page that does not move on would be asked for forever. */
        if (!page[0].next_token[0] ||
            strcmp(page[0].next_token, page[1].next_token) == 0) {
            errbuf_set(why, sizeof(why), "s3: truncated page, no new token");
            res = STORE_PERMANENT;
            break;
        }
        page[1] = page[0];
    }
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "ListObjectsV2: %s", why);
    free(page);
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
    free(s->sse);
    free(s->sse_kms_key_id);
    free(s->storage_class);
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
        copy_str(&s->session_token, opt->session_token) ||
        copy_str(&s->sse, opt->sse) ||
        copy_str(&s->sse_kms_key_id, opt->sse_kms_key_id) ||
        copy_str(&s->storage_class, opt->storage_class))
        return -1;
    s->opt = *opt;
    s->opt.endpoint = s->endpoint;
    s->opt.bucket = s->bucket;
    s->opt.region = s->region;
    s->opt.access_key = s->access_key;
    s->opt.secret_key = s->secret_key;
    s->opt.session_token = s->session_token;
    s->opt.sse = s->sse;
    s->opt.sse_kms_key_id = s->sse_kms_key_id;
    s->opt.storage_class = s->storage_class;
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
        errbuf_set(errbuf, errlen, "s3: out of memory");
        goto fail;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        errbuf_set(errbuf, errlen, "s3: cannot create a mutex");
        goto fail;
    }
    s->lock_ready = 1;
    s->base.put = s3_put;
    s->base.destroy = s3_destroy;
    s->base.name = "s3";
    s->base.mpu_begin = s3_mpu_begin;
    s->base.mpu_part = s3_mpu_part;
    s->base.mpu_complete = s3_mpu_complete;
    s->base.mpu_abort = s3_mpu_abort;
    s->base.mpu_list = s3_mpu_list;
    s->base.list = s3_list;
    s->base.get = s3_get;
    s->base.del = s3_del;
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
