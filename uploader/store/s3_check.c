/* s3_check.c -- checks of the S3 store's options and of each call's
 * arguments: what S3 allows, and what would change where a request goes. */
#include "s3_check.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define ETAG_MAX 1024
#define KMS_KEY_ID_MAX 2048
#define STORAGE_CLASS_MAX 64

int s3_empty(const char *s)
{
    return !s || !*s;
}

/* Only what S3 allows in any bucket name (legacy ones included): it
 * becomes part of the path or the host name unencoded. */
static int valid_bucket(const char *b)
{
    if (s3_empty(b) || strlen(b) > 255)
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

static int parse_endpoint(const s3_options *opt, s3_endpoint *ep, char *errbuf,
                          size_t errlen)
{
    const char *e = opt->endpoint;
    const char *auth;
    size_t alen;
    int n;

    if (s3_empty(e))
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
    int kms = !s3_empty(opt->sse) && strcmp(opt->sse, "aws:kms") == 0;

    if (!s3_empty(opt->sse) && !kms && strcmp(opt->sse, "AES256") != 0) {
        errbuf_set(errbuf, errlen, "s3: sse \"%s\" is not AES256 or aws:kms",
                   opt->sse);
        return -1;
    }
    if (!s3_empty(opt->sse_kms_key_id) && !kms) {
        errbuf_set(errbuf, errlen, "s3: sse_kms_key_id needs sse aws:kms");
        return -1;
    }
    if (!s3_empty(opt->sse_kms_key_id) &&
        !valid_token(opt->sse_kms_key_id, KMS_KEY_ID_MAX)) {
        errbuf_set(errbuf, errlen, "s3: invalid sse_kms_key_id");
        return -1;
    }
    if (!s3_empty(opt->storage_class) &&
        !valid_storage_class(opt->storage_class)) {
        errbuf_set(errbuf, errlen, "s3: invalid storage class \"%s\"",
                   opt->storage_class);
        return -1;
    }
    return 0;
}

int s3_check_options(const s3_options *opt, s3_endpoint *ep, char *errbuf,
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
    if (s3_empty(opt->region) || (!opt->creds && (s3_empty(opt->access_key) ||
                                                  s3_empty(opt->secret_key)))) {
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

int s3_check_key(const char *key, char *errbuf, size_t errlen)
{
    if (s3_empty(key) || key[0] == '/') {
        errbuf_set(errbuf, errlen, "s3: object key empty or starting with '/'");
        return -1;
    }
    if (strlen(key) > S3_MAX_KEY) {
        errbuf_set(errbuf, errlen, "s3: key longer than %d bytes", S3_MAX_KEY);
        return -1;
    }
    return 0;
}

int s3_check_object(const store_object *obj, char *errbuf, size_t errlen)
{
    if (!obj) {
        errbuf_set(errbuf, errlen, "s3: no object");
        return -1;
    }
    if (s3_check_key(obj->key, errbuf, errlen) != 0)
        return -1;
    if (!obj->data && obj->len > 0) {
        errbuf_set(errbuf, errlen, "s3: object has a length but no data");
        return -1;
    }
    return 0;
}

int s3_check_upload_id(const char *id, char *errbuf, size_t errlen)
{
    if (s3_empty(id) || strlen(id) > S3_MAX_UPLOAD_ID) {
        errbuf_set(errbuf, errlen, "s3: upload id empty or over %d bytes",
                   S3_MAX_UPLOAD_ID);
        return -1;
    }
    return 0;
}

/* ETags go into the XML body: no control characters, which XML 1.0
 * cannot carry. */
int s3_check_etags(const char *const *etags, int n, char *errbuf, size_t errlen)
{
    if (!etags || n < 1 || n > S3_MAX_PARTS) {
        errbuf_set(errbuf, errlen, "s3: %d parts, not 1..%d", n, S3_MAX_PARTS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *e = etags[i];
        int ok = !s3_empty(e) && strlen(e) <= ETAG_MAX;

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
