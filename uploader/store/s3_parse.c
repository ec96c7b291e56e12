/* s3_parse.c -- reading S3's answers: flat, machine-written XML (see
 * xml.h): the upload id of a new multipart upload, and the pages of
 * ListObjectsV2 and ListMultipartUploads. */
#include "s3_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "xml.h"

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

/* Who hears of a page's elements; all NULL while the page is checked. */
typedef struct visit {
    store_upload_fn upload;
    store_object_fn object;
    void *arg;
} visit;

/* One element of a page, between its tags. Returns 0 to go on, 1 when
 * the visitor asked to stop, -1 when the element is malformed. */
typedef int (*element_fn)(const char *el, size_t len, const visit *v);

/* An <Upload>: a Key and an UploadId, neither empty. */
static int upload_element(const char *el, size_t len, const visit *v)
{
    char key[S3_MAX_KEY + 1];
    char id[S3_MAX_UPLOAD_ID + 1];

    if (xml_value(el, len, "Key", key, sizeof(key)) != 0 ||
        xml_value(el, len, "UploadId", id, sizeof(id)) != 0 || !*key || !*id)
        return -1;
    if (v->upload)
        v->upload(key, id, v->arg);
    return 0;
}

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

/* A <Contents>: a Key, not empty, and a Size. */
static int object_element(const char *el, size_t len, const visit *v)
{
    char key[S3_MAX_KEY + 1];
    char num[24];
    size_t size;

    if (xml_value(el, len, "Key", key, sizeof(key)) != 0 || !*key ||
        xml_value(el, len, "Size", num, sizeof(num)) != 0 ||
        parse_size(num, &size) != 0)
        return -1;
    return v->object && v->object(key, size, v->arg) != 0;
}

/* Calls each for every <tag>...</tag> of body in order until it asks to
 * stop, which sets *stopped. Returns the elements seen, or -1 at a
 * malformed one. */
static long each_element(const char *body, size_t len, const char *tag,
                         element_fn each, const visit *v, int *stopped)
{
    const char *p = body;
    const char *end = body + len;
    char open[32];
    char close[32];
    size_t olen = (size_t)snprintf(open, sizeof(open), "<%s>", tag);
    size_t clen = (size_t)snprintf(close, sizeof(close), "</%s>", tag);
    long n = 0;

    for (;;) {
        const char *s = memmem(p, (size_t)(end - p), open, olen);
        const char *e = s ? memmem(s, (size_t)(end - s), close, clen) : NULL;
        int rc;

        if (!s)
            return n;
        if (!e)
            return -1;
        rc = each(s, (size_t)(e - s), v);
        if (rc < 0)
            return -1;
        n++;
        if (rc > 0) {
            *stopped = 1;
            return n;
        }
        p = e + clen;
    }
}

/* A value of the page itself (not of an element), read into buf. */
typedef struct page_field {
    const char *name;
    char *buf;
    size_t size;
} page_field;

/* One kind of page: its root element, its fields, its elements. */
typedef struct page_kind {
    const char *root;
    const page_field *fields;
    size_t n_fields;
    const char *tag;
    element_fn each;
} page_kind;

/* The part both listings share: the root element whole (its closing tag
 * proves the page arrived whole), IsTruncated and the fields, and the
 * elements, all checked before v hears of any. Returns the number of
 * elements, or -1. */
static long parse_page(const char *body, size_t len, const page_kind *k,
                       const visit *v, int *truncated, int *stopped)
{
    static const visit check = {NULL, NULL, NULL};
    char open[48];
    char close[48];
    char flag[8];
    size_t olen = (size_t)snprintf(open, sizeof(open), "<%s", k->root);
    size_t clen = (size_t)snprintf(close, sizeof(close), "</%s>", k->root);
    long n;

    if (!body || !memmem(body, len, open, olen) ||
        !memmem(body, len, close, clen) ||
        xml_value(body, len, "IsTruncated", flag, sizeof(flag)) < 0)
        return -1;
    for (size_t i = 0; i < k->n_fields; i++) {
        const page_field *f = &k->fields[i];

        if (xml_value(body, len, f->name, f->buf, f->size) < 0)
            return -1;
    }
    n = each_element(body, len, k->tag, k->each, &check, stopped);
    if (n > 0 && (v->upload || v->object))
        each_element(body, len, k->tag, k->each, v, stopped);
    *truncated = n >= 0 && strcmp(flag, "true") == 0;
    return n;
}

long s3_parse_uploads(const char *body, size_t len, store_upload_fn fn,
                      void *arg, s3_upload_page *page)
{
    const page_field f[] = {
        {"NextKeyMarker", page->next_key_marker, sizeof(page->next_key_marker)},
        {"NextUploadIdMarker", page->next_upload_id_marker,
         sizeof(page->next_upload_id_marker)},
    };
    const page_kind k = {"ListMultipartUploadsResult", f, 2, "Upload",
                         upload_element};
    visit v = {fn, NULL, arg};
    int stopped = 0;
    long n;

    memset(page, 0, sizeof(*page));
    n = parse_page(body, len, &k, &v, &page->truncated, &stopped);
    if (n < 0)
        memset(page, 0, sizeof(*page));
    return n;
}

long s3_parse_list(const char *body, size_t len, store_object_fn fn, void *arg,
                   s3_object_page *page)
{
    const page_field f[] = {
        {"NextContinuationToken", page->next_token, sizeof(page->next_token)},
    };
    const page_kind k = {"ListBucketResult", f, 1, "Contents", object_element};
    visit v = {NULL, fn, arg};
    long n;

    memset(page, 0, sizeof(*page));
    n = parse_page(body, len, &k, &v, &page->truncated, &page->stopped);
    if (n < 0)
        memset(page, 0, sizeof(*page));
    return n;
}
