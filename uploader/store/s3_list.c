/* s3_list.c -- the S3 store's two listings, ListObjectsV2 and
 * ListMultipartUploads, through one paging loop: each listing says how to
 * ask for a page and where the next one starts. */
#include "s3_parse.h"
#include "s3_store.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct pager pager;

/* One listing: its operation's name and how it pages. */
typedef struct pager_ops {
    const char *op;     /* "ListObjectsV2", for errbuf */
    const char *what;   /* "objects": "not a page of objects" */
    const char *cursor; /* "token": "truncated page, no new token" */
    /* Builds the request of the next page (first: of the first). */
    int (*build)(pager *p, const s3_options *opt, int first, time_t now,
                 s3_request *out, char *errbuf, size_t errlen);
    /* Reads a page, calling the caller's fn; -1 when it is not one. */
    long (*parse)(pager *p, const char *body, size_t len);
    /* After a page: 0 when the listing is done, 1 when another page
     * follows, -1 when a truncated page names no new place to go on
     * from (it would be asked for forever). */
    int (*advance)(pager *p);
} pager_ops;

struct pager {
    const pager_ops *ops;
    const char *prefix;
    void *arg;
};

/* One page: build, send, parse. */
static store_result fetch_page(s3_store *s, pager *p, int first, char *why,
                               size_t whylen)
{
    s3_request req;
    s3_reply rep;
    store_result res;
    int built =
        p->ops->build(p, &s->opt, first, s3_store_now(s), &req, why, whylen);

    s3_reply_init(&rep, S3_LIST_RESPONSE_MAX);
    res = s3_send(s, built, &req, NULL, 0, &rep, why, whylen);
    if (res == STORE_OK &&
        (rep.cut || p->ops->parse(p, rep.body, rep.len) < 0)) {
        if (rep.cut)
            errbuf_set(why, whylen, "s3: page too large");
        else
            errbuf_set(why, whylen, "s3: not a page of %s", p->ops->what);
        res = STORE_PERMANENT;
    }
    s3_reply_free(&rep);
    return res;
}

/* The one paging loop: pages until the listing ends, fails, or stops
 * moving on. */
static store_result list_pages(s3_store *s, pager *p, char *errbuf,
                               size_t errlen)
{
    store_result res;
    char why[S3_WHY_MAX] = "";
    int more;

    for (int first = 1;; first = 0) {
        res = fetch_page(s, p, first, why, sizeof(why));
        if (res != STORE_OK)
            break;
        more = p->ops->advance(p);
        if (more == 0)
            break;
        if (more < 0) {
            errbuf_set(why, sizeof(why), "s3: truncated page, no new %s",
                       p->ops->cursor);
            res = STORE_PERMANENT;
            break;
        }
    }
    if (res != STORE_OK)
        errbuf_set(errbuf, errlen, "%s: %s", p->ops->op, why);
    return res;
}

/* ListObjectsV2. versitygw v1.8.0 (posix backend) pages correctly past
 * S3_LIST_PAGE keys; its tokens are simply the last key of the page, and a
 * listing of exactly S3_LIST_PAGE keys ends with one more, empty page. It
 * does let a start-after override a continuation token, hence start-after
 * on the first request only. */
typedef struct object_pager {
    pager base;
    const char *start_after;
    store_object_fn fn;
    s3_object_page page; /* the last page read */
    s3_object_page prev; /* the one before */
} object_pager;

static int objects_build(pager *p, const s3_options *opt, int first, time_t now,
                         s3_request *out, char *errbuf, size_t errlen)
{
    object_pager *o = (object_pager *)p;

    return s3_build_list(opt, p->prefix, first ? o->start_after : NULL,
                         o->prev.next_token, now, out, errbuf, errlen);
}

static long objects_parse(pager *p, const char *body, size_t len)
{
    object_pager *o = (object_pager *)p;

    return s3_parse_list(body, len, o->fn, p->arg, &o->page);
}

static int objects_advance(pager *p)
{
    object_pager *o = (object_pager *)p;

    if (o->page.stopped || !o->page.truncated)
        return 0;
    if (!o->page.next_token[0] ||
        strcmp(o->page.next_token, o->prev.next_token) == 0)
        return -1;
    o->prev = o->page;
    return 1;
}

static const pager_ops objects_ops = {
    "ListObjectsV2", "objects",     "token",
    objects_build,   objects_parse, objects_advance,
};

/* ListMultipartUploads: key-marker and upload-id-marker from the page
 * before (both "" for the first). */
typedef struct upload_pager {
    pager base;
    store_upload_fn fn;
    s3_upload_page page; /* the last page read */
    s3_upload_page prev; /* the one before */
} upload_pager;

static int uploads_build(pager *p, const s3_options *opt, int first, time_t now,
                         s3_request *out, char *errbuf, size_t errlen)
{
    upload_pager *u = (upload_pager *)p;

    (void)first;
    return s3_build_mpu_list(opt, p->prefix, u->prev.next_key_marker,
                             u->prev.next_upload_id_marker, now, out, errbuf,
                             errlen);
}

static long uploads_parse(pager *p, const char *body, size_t len)
{
    upload_pager *u = (upload_pager *)p;

    return s3_parse_uploads(body, len, u->fn, p->arg, &u->page);
}

static int uploads_advance(pager *p)
{
    upload_pager *u = (upload_pager *)p;

    if (!u->page.truncated)
        return 0;
    if (!u->page.next_key_marker[0] ||
        (strcmp(u->page.next_key_marker, u->prev.next_key_marker) == 0 &&
         strcmp(u->page.next_upload_id_marker, u->prev.next_upload_id_marker) ==
             0))
        return -1;
    u->prev = u->page;
    return 1;
}

static const pager_ops uploads_ops = {
    "ListMultipartUploads", "uploads",     "marker",
    uploads_build,          uploads_parse, uploads_advance,
};

/* The pagers hold two pages of markers or tokens: on the heap. */
store_result s3_list(store *st, const char *prefix, const char *start_after,
                     store_object_fn fn, void *arg, char *errbuf, size_t errlen)
{
    object_pager *o = calloc(1, sizeof(*o));
    store_result res;

    if (!o) {
        errbuf_set(errbuf, errlen, "ListObjectsV2: out of memory");
        return STORE_RETRY;
    }
    o->base = (pager){&objects_ops, prefix, arg};
    o->start_after = start_after;
    o->fn = fn;
    res = list_pages((s3_store *)st, &o->base, errbuf, errlen);
    free(o);
    return res;
}

store_result s3_mpu_list(store *st, const char *prefix, store_upload_fn fn,
                         void *arg, char *errbuf, size_t errlen)
{
    upload_pager *u = calloc(1, sizeof(*u));
    store_result res;

    if (!u) {
        errbuf_set(errbuf, errlen, "ListMultipartUploads: out of memory");
        return STORE_RETRY;
    }
    u->base = (pager){&uploads_ops, prefix, arg};
    u->fn = fn;
    res = list_pages((s3_store *)st, &u->base, errbuf, errlen);
    free(u);
    return res;
}
