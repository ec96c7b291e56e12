/* s3_request.c -- building S3 requests: path and query, the headers of
 * each operation, the body's digests, the SigV4 signature; pure. */
#include "s3_request.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "s3_check.h"

#define OBJECT_HEADERS 5 /* see object_headers */
/* Headers a call may have before the signer adds its own and
 * Authorization. */
#define CALL_HEADERS (S3_MAX_HEADERS - SIGV4_MAX_ADDED - 1)

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
static char *request_url(const s3_endpoint *ep, const char *path,
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
                 s3_empty(query) ? "" : "?", query ? query : "");
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

int s3_has_body(const char *method)
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
static size_t call_headers(const call *c, const s3_endpoint *ep, char *len,
                           size_t lensize, const char *md5, sigv4_header *h)
{
    size_t n = 0;

    h[n++] = (sigv4_header){"Host", ep->host};
    for (size_t i = 0; i < c->n_extra; i++)
        h[n++] = c->extra[i];
    if (s3_has_body(c->method)) {
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
    s3_endpoint ep;
    char md5[25] = "";
    char sha[65];
    char len[24];
    char *path = NULL;
    sigv4_header h[CALL_HEADERS];
    size_t n;
    int no_credentials = 0;

    memset(out, 0, sizeof(*out));
    if (s3_check_options(opt, &ep, errbuf, errlen) != 0)
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

    h[n++] = (sigv4_header){"Content-Type", s3_empty(obj->content_type)
                                                ? "application/octet-stream"
                                                : obj->content_type};
    if (!s3_empty(obj->content_encoding))
        h[n++] = (sigv4_header){"Content-Encoding", obj->content_encoding};
    if (!s3_empty(opt->sse))
        h[n++] = (sigv4_header){"x-amz-server-side-encryption", opt->sse};
    if (!s3_empty(opt->sse_kms_key_id))
        h[n++] = (sigv4_header){"x-amz-server-side-encryption-aws-kms-key-id",
                                opt->sse_kms_key_id};
    if (!s3_empty(opt->storage_class))
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
    if (s3_check_object(obj, errbuf, errlen) != 0)
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
    if (s3_check_key(obj->key, errbuf, errlen) != 0)
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
    if (s3_check_key(key, errbuf, errlen) != 0 ||
        s3_check_upload_id(upload_id, errbuf, errlen) != 0)
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
    if (s3_check_key(key, errbuf, errlen) != 0 ||
        s3_check_upload_id(upload_id, errbuf, errlen) != 0 ||
        s3_check_etags(etags, n_parts, errbuf, errlen) != 0)
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
    if (s3_check_key(key, errbuf, errlen) != 0 ||
        s3_check_upload_id(upload_id, errbuf, errlen) != 0)
        return -1;
    return build_with_query(opt, &c, q, 1, now, out, errbuf, errlen);
}

/* A bodiless request on one object: GET or DELETE. */
static int build_on_key(const s3_options *opt, const char *method,
                        const char *key, time_t now, s3_request *out,
                        char *errbuf, size_t errlen)
{
    call c = {method, key, NULL, NULL, 0, 0, NULL, 0};

    memset(out, 0, sizeof(*out));
    if (s3_check_key(key, errbuf, errlen) != 0)
        return -1;
    return build(opt, &c, now, out, errbuf, errlen);
}

int s3_build_get(const s3_options *opt, const char *key, time_t now,
                 s3_request *out, char *errbuf, size_t errlen)
{
    return build_on_key(opt, "GET", key, now, out, errbuf, errlen);
}

int s3_build_delete(const s3_options *opt, const char *key, time_t now,
                    s3_request *out, char *errbuf, size_t errlen)
{
    return build_on_key(opt, "DELETE", key, now, out, errbuf, errlen);
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* A query parameter of a listing: left out when empty, refused when
 * longer than max. */
typedef struct list_param {
    const char *name;
    const char *value;
    size_t max;
} list_param;

/* A listing of the bucket: GET with first, then the parameters that are
 * set (in order), then the page size as page_param. too_long names them
 * in the error. */
static int build_listing(const s3_options *opt, qparam first,
                         const list_param *p, size_t n, const char *page_param,
                         const char *too_long, time_t now, s3_request *out,
                         char *errbuf, size_t errlen)
{
    qparam q[8];
    size_t k = 0;
    call c = {"GET", NULL, NULL, NULL, 0, 0, NULL, 0};

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        if (p[i].value && strlen(p[i].value) > p[i].max) {
            errbuf_set(errbuf, errlen, "s3: %s too long", too_long);
            return -1;
        }
    }
    q[k++] = first;
    for (size_t i = 0; i < n && k < 7; i++) {
        if (!s3_empty(p[i].value))
            q[k++] = (qparam){p[i].name, p[i].value};
    }
    q[k++] = (qparam){page_param, STR(S3_LIST_PAGE)};
    return build_with_query(opt, &c, q, k, now, out, errbuf, errlen);
}

int s3_build_mpu_list(const s3_options *opt, const char *prefix,
                      const char *key_marker, const char *upload_id_marker,
                      time_t now, s3_request *out, char *errbuf, size_t errlen)
{
    const list_param p[] = {
        {"prefix", prefix, S3_MAX_KEY},
        {"key-marker", key_marker, S3_MAX_KEY},
        {"upload-id-marker", upload_id_marker, S3_MAX_UPLOAD_ID},
    };

    return build_listing(opt, (qparam){"uploads", NULL}, p, 3, "max-uploads",
                         "prefix or marker", now, out, errbuf, errlen);
}

int s3_build_list(const s3_options *opt, const char *prefix,
                  const char *start_after, const char *continuation_token,
                  time_t now, s3_request *out, char *errbuf, size_t errlen)
{
    const list_param p[] = {
        {"prefix", prefix, S3_MAX_KEY},
        {"start-after", start_after, S3_MAX_KEY},
        {"continuation-token", continuation_token, S3_MAX_TOKEN},
    };

    return build_listing(opt, (qparam){"list-type", "2"}, p, 3, "max-keys",
                         "prefix, start-after or token", now, out, errbuf,
                         errlen);
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
